"""Throwaway SoftHSM2 tokens for tests: one configuration and token folder per test.

``make_token(directory)`` writes a ``softhsm2.conf`` whose token folder lies in ``directory``,
points ``SOFTHSM2_CONF`` at it and runs ``softhsm2-util --init-token --free``. SoftHSM reads its
configuration and scans its tokens only in ``C_Initialize``, so the helper also makes this
process finalise every PKCS#11 module it opened (:func:`signwire.keystore.pkcs11_token.close_all`):
the next use initialises SoftHSM again and sees the new token.

``missing()`` says why SoftHSM cannot be used here (package or python-pkcs11 absent), or None.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

MODULE = "/usr/lib/softhsm/libsofthsm2.so"  # Debian's softhsm2 package
UTIL = "softhsm2-util"


@dataclass(frozen=True)
class SoftHsmToken:
    module: str
    label: str
    pin: str
    so_pin: str
    conf: Path


def missing() -> str | None:
    """Why the SoftHSM tests cannot run here, or None when they can."""
    if importlib.util.find_spec("pkcs11") is None:
        return "python-pkcs11 is not installed (pip install 'signwire[hsm]')"
    if shutil.which(UTIL) is None or not Path(MODULE).exists():
        return f"SoftHSM2 is not installed ({UTIL} or {MODULE} missing; apt install softhsm2)"
    return None


def write_conf(directory: Path) -> Path:
    tokens = directory / "tokens"
    tokens.mkdir(parents=True, exist_ok=True)
    conf = directory / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n"
        "slots.removable = false\n"
    )
    return conf


def make_token(
    directory: Path, label: str = "signwire", pin: str = "1234", so_pin: str = "5678"
) -> SoftHsmToken:
    """A fresh token in ``directory``; sets ``SOFTHSM2_CONF`` for this process and children.

    Callers that must restore the environment set ``SOFTHSM2_CONF`` themselves (for example
    with ``monkeypatch.setenv``) before calling; this function only overwrites it.
    """
    from signwire.keystore import pkcs11_token

    conf = directory / "softhsm2.conf"
    if not conf.exists():
        conf = write_conf(directory)
    os.environ["SOFTHSM2_CONF"] = str(conf)
    result = subprocess.run(
        [UTIL, "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", so_pin],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=dict(os.environ),
    )
    if result.returncode != 0:
        raise RuntimeError(f"softhsm2-util failed: {result.stdout}{result.stderr}")
    pkcs11_token.close_all()
    return SoftHsmToken(MODULE, label, pin, so_pin, conf)
