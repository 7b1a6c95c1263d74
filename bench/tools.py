"""The signers under test and the exact command line each one is timed with.

Every tool signs the same zone file with the same two keys (one KSK, one ZSK, made once per
benchmark run by ``dnssec-keygen``), with the same denial of existence (NSEC, or NSEC3 per
RFC 5155 with 0 extra iterations, no salt, and opt-out when asked, as RFC 9276 advises) and
the same signature validity: every signature expires 30 days after the run starts. signwire
gets ``--validity 30d --jitter 0`` for that: its defaults (14 days, expirations spread over the
last 12 hours) would give it shorter signatures than the others. Inception stays each tool's
own rule. Work that is set-up rather than signing (writing Knot's configuration, importing the
keys into its KASP database) happens in ``prepare`` and is not timed.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

VALIDITY_S = 30 * 86400
VALIDITY_DAYS = VALIDITY_S // 86400  # Knot's and signwire's options take days


@dataclass(frozen=True)
class Setup:
    """What every tool of one benchmark run shares."""

    zone: Path
    origin: str  # absolute, with the trailing dot
    keydir: Path
    ksk: str  # key base names in keydir, e.g. "Ktld.+013+06844"
    zsk: str
    nsec3: bool
    opt_out: bool
    threads: int  # worker threads for tools that take a number
    now: int  # epoch seconds at the start of the run; expiry is now + 30 days


@dataclass
class Prepared:
    """A command ready to be timed and the file it will write."""

    argv: list[str]
    output: Path
    cwd: Path | None = None
    notes: list[str] = field(default_factory=list)


class ToolMissing(Exception):
    """The tool's program is not installed."""


def _need(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise ToolMissing(f"{program} not found on PATH")
    return path


def signwire_command() -> list[str]:
    """The signwire CLI: beside this Python (a venv), then on PATH, else ``python -m``."""
    beside = Path(sys.executable).parent / "signwire"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("signwire")
    if found:
        return [found]
    return [sys.executable, "-m", "signwire"]


def _signwire(s: Setup, work: Path, extra: list[str], verify: bool) -> Prepared:
    out = work / ("signwire-verify.signed" if verify else "signwire.signed")
    # signwire counts validity from its own `now`, a few milliseconds after s.now, as the
    # other tools count from theirs; --jitter 0 makes it one expiry, as ldns, BIND and Knot do.
    argv = [*signwire_command(), "sign", str(s.zone), "--origin", s.origin,
            "--keys", str(s.keydir), "-o", str(out),
            "--validity", f"{VALIDITY_DAYS}d", "--jitter", "0"]
    if s.nsec3:
        argv += ["--nsec3", "--iterations", "0", "--salt", "-"]
        if s.opt_out:
            argv.append("--opt-out")
    # signwire verifies its output before renaming it into place by default (since the
    # offline pipeline moved to pipeline/); the `signwire` row keeps measuring signing alone,
    # as its earlier figures did, and `signwire-verify` prices the verification.
    notes = ["post-sign verification on (default)" if verify else "--no-verify: verification off"]
    if not verify:
        argv.append("--no-verify")
    return Prepared([*argv, *extra], out, notes=notes)


def prep_signwire(s: Setup, work: Path, extra: list[str]) -> Prepared:
    return _signwire(s, work, extra, verify=False)


def prep_signwire_verify(s: Setup, work: Path, extra: list[str]) -> Prepared:
    return _signwire(s, work, extra, verify=True)


def prep_ldns(s: Setup, work: Path, extra: list[str]) -> Prepared:
    out = work / "ldns.signed"
    argv = [_need("ldns-signzone"), "-o", s.origin, "-f", str(out),
            "-e", str(s.now + VALIDITY_S)]
    if s.nsec3:
        # No -s: ldns takes no "-" for an empty salt; leaving it out means no salt.
        argv += ["-n", "-t", "0"]
        if s.opt_out:
            argv.append("-p")
    argv += [*extra, str(s.zone), str(s.keydir / s.ksk), str(s.keydir / s.zsk)]
    notes = ["single-threaded; inception = now"]
    if s.opt_out:
        notes.append("-p sets the opt-out flag but still makes NSEC3 for every delegation")
    return Prepared(argv, out, notes=notes)


def _bind(s: Setup, work: Path, extra: list[str], verify: bool) -> Prepared:
    out = work / ("bind.signed" if verify else "bind-noverify.signed")
    argv = [_need("dnssec-signzone"), "-K", str(s.keydir), "-S", "-x",
            "-n", str(s.threads), "-N", "keep", "-o", s.origin,
            "-e", f"now+{VALIDITY_S}", "-f", str(out)]
    if s.nsec3:
        argv += ["-3", "-", "-H", "0"]
        if s.opt_out:
            argv.append("-A")
    if not verify:
        argv.append("-P")
    argv += [*extra, str(s.zone)]
    notes = ["inception = now - 1 h", "DNSKEY signed by the KSK only (-x), as the others do"]
    notes.append("post-sign verification on (default)" if verify else "-P: verification off")
    return Prepared(argv, out, notes=notes)


def prep_bind(s: Setup, work: Path, extra: list[str]) -> Prepared:
    return _bind(s, work, extra, verify=True)


def prep_bind_noverify(s: Setup, work: Path, extra: list[str]) -> Prepared:
    return _bind(s, work, extra, verify=False)


def knot_config(s: Setup, base: Path) -> str:
    """A minimal knot.conf for one offline signing of ``s.zone`` by kzonesign."""
    nsec3 = "    nsec3: off\n"
    if s.nsec3:
        nsec3 = (
            "    nsec3: on\n"
            "    nsec3-iterations: 0\n"
            "    nsec3-salt-length: 0\n"
            f"    nsec3-opt-out: {'on' if s.opt_out else 'off'}\n"
        )
    return (
        "server:\n"
        f'    rundir: "{base}"\n'
        "database:\n"
        f'    storage: "{base}"\n'
        f'    kasp-db: "{base / "kasp"}"\n'
        "policy:\n"
        "  - id: bench\n"
        "    manual: on\n"  # keys come from keymgr import-bind, never generated or rolled
        "    algorithm: ecdsap256sha256\n"
        f"    rrsig-lifetime: {VALIDITY_DAYS}d\n"
        "    rrsig-refresh: 7d\n"
        f"{nsec3}"
        f"    signing-threads: {s.threads}\n"
        "template:\n"
        "  - id: default\n"
        f'    storage: "{base / "zones"}"\n'
        '    file: "%s.zone"\n'
        "    journal-content: none\n"
        "    zonefile-load: whole\n"
        f"    adjust-threads: {s.threads}\n"
        "zone:\n"
        f"  - domain: {s.origin}\n"
        "    dnssec-signing: on\n"
        "    dnssec-policy: bench\n"
    )


def prep_knot(s: Setup, work: Path, extra: list[str]) -> Prepared:
    kzonesign = _need("kzonesign")
    keymgr = _need("keymgr")
    base = work
    for sub in ("kasp", "zones", "out"):
        # A fresh KASP database every run: kzonesign records signing state in it.
        shutil.rmtree(base / sub, ignore_errors=True)
        (base / sub).mkdir(parents=True)
    name = s.origin.rstrip(".") or "root"
    (base / "zones" / f"{name}.zone").symlink_to(s.zone.resolve())
    conf = base / "knot.conf"
    conf.write_text(knot_config(s, base))
    for key in (s.ksk, s.zsk):
        subprocess.run(
            [keymgr, "-c", str(conf), s.origin, "import-bind", str(s.keydir / f"{key}.private")],
            check=True, capture_output=True,
        )
    argv = [kzonesign, "-c", str(conf), "-o", str(base / "out"), *extra, s.origin]
    notes = [f"config: {conf} (policy manual, signing-threads {s.threads},"
             f" adjust-threads {s.threads})", "inception = now - 90 min",
             "SOA serial kept as in the input (kzonesign does not bump it here)"]
    return Prepared(argv, base / "out" / f"{name}.zone", notes=notes)


PREPARE: dict[str, Callable[[Setup, Path, list[str]], Prepared]] = {
    "signwire": prep_signwire,
    "signwire-verify": prep_signwire_verify,
    "ldns": prep_ldns,
    "bind": prep_bind,
    "bind-noverify": prep_bind_noverify,
    "knot": prep_knot,
}


def make_keys(keydir: Path, origin: str) -> tuple[str, str]:
    """One KSK and one ZSK, ECDSA P-256 (algorithm 13), in BIND's key file format."""
    keygen = _need("dnssec-keygen")
    keydir.mkdir(parents=True, exist_ok=True)
    names = []
    for flags in (["-f", "KSK"], []):
        done = subprocess.run(
            [keygen, "-q", "-K", str(keydir), "-a", "ECDSAP256SHA256", *flags, origin],
            check=True, capture_output=True, text=True,
        )
        names.append(done.stdout.strip())
    return names[0], names[1]


def shell_line(argv: list[str]) -> str:
    return shlex.join(argv)
