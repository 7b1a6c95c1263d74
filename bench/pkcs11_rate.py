"""Signatures per second through PKCS#11 (SoftHSM2) against the file store's software keys.

For each algorithm (ECDSA P-256 and Ed25519 by default) the script makes one key in a
throwaway SoftHSM token (``Pkcs11KeyStore.create``) and one in a file store
(``FileKeyStore.create``), then signs 200-octet messages for a fixed time:

* in this process (1 process), with the function ``load_pkcs11_signer`` or
  ``signers.load_signer`` returns;
* in N forked processes at once (default 2), each loading its signer after the fork, as the
  signing pool's workers do (each PKCS#11 worker opens its own context and logs in).

It prints one table row per (store, algorithm, processes) with the total rate, plus the load
average, because on a shared machine the figures move with it. Example:

    .venv/bin/python bench/pkcs11_rate.py --seconds 3 --processes 1 2
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from signwire.keystore import signers
from signwire.keystore.file_store import FileKeyStore
from signwire.keystore.model import SignerSpec
from signwire.policy import algorithms
from signwire.policy.model import KeyRole
from signwire.zones import names

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
TOKEN, PIN, SO_PIN = "bench", "1234", "5678"
MESSAGE = bytes(range(200))
NOW = 1_767_225_600


def make_token(directory: Path) -> None:
    """A SoftHSM token in ``directory``; SOFTHSM2_CONF points there for us and our children."""
    tokens = directory / "tokens"
    tokens.mkdir(parents=True)
    conf = directory / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
        "slots.removable = false\n"
    )
    os.environ["SOFTHSM2_CONF"] = str(conf)
    init = ["softhsm2-util", "--init-token", "--free", "--label", TOKEN]
    subprocess.run(
        [*init, "--pin", PIN, "--so-pin", SO_PIN],
        check=True,
        capture_output=True,
    )


def load(spec: SignerSpec) -> Callable[[bytes], bytes]:
    if spec.kind == "pkcs11":
        from signwire.keystore.pkcs11_store import load_pkcs11_signer

        return load_pkcs11_signer(spec)
    return signers.load_signer(spec)


def sign_for(sign: Callable[[bytes], bytes], seconds: float) -> tuple[int, float]:
    """(signatures, elapsed seconds): sign in batches until ``seconds`` have passed."""
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(100):
            sign(MESSAGE)
        count += 100
        now = time.perf_counter()
        if now >= deadline:
            return count, now - start


def _worker(spec: SignerSpec, seconds: float, barrier: object, results: object) -> None:
    sign = load(spec)  # after the fork: this process's own PKCS#11 context
    sign(MESSAGE)
    barrier.wait()  # type: ignore[attr-defined]
    results.put(sign_for(sign, seconds))  # type: ignore[attr-defined]


def rate(spec: SignerSpec, processes: int, seconds: float) -> float:
    """Total signatures per second with ``processes`` signers running at once."""
    if processes == 1:
        sign = load(spec)
        sign(MESSAGE)
        count, elapsed = sign_for(sign, seconds)
        return count / elapsed
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(processes)
    results = ctx.Queue()
    workers = [
        ctx.Process(target=_worker, args=(spec, seconds, barrier, results))
        for _ in range(processes)
    ]
    for w in workers:
        w.start()
    total = 0.0
    for _ in workers:
        count, elapsed = results.get(timeout=seconds + 60)
        total += count / elapsed
    for w in workers:
        w.join()
        if w.exitcode != 0:
            raise RuntimeError(f"worker exited with {w.exitcode}")
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement (3)")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--algorithms", nargs="+", default=["ECDSAP256SHA256", "ED25519"], metavar="NAME"
    )
    args = parser.parse_args(argv)
    if shutil.which("softhsm2-util") is None or not Path(MODULE).exists():
        print("SoftHSM2 is not installed (apt install softhsm2)", file=sys.stderr)
        return 1
    from signwire.keystore.pkcs11_store import Pkcs11KeyStore

    origin = names.from_text("bench.example.", None)
    with tempfile.TemporaryDirectory(prefix="pkcs11-rate-") as tmp:
        make_token(Path(tmp) / "hsm")
        hsm = Pkcs11KeyStore(MODULE, TOKEN, PIN)
        files = FileKeyStore(Path(tmp) / "keys")
        print(f"# {os.cpu_count()} CPUs, load average before: {os.getloadavg()[0]:.2f}")
        print(f"{'store':<8} {'algorithm':<16} {'procs':>5} {'sig/s':>10}")
        for name in args.algorithms:
            algorithm = algorithms.parse_algorithm(name)
            for label, store in (("pkcs11", hsm), ("file", files)):
                key = store.create(origin, algorithm, KeyRole.ZSK, NOW)
                for procs in args.processes:
                    value = rate(key.signer, procs, args.seconds)
                    print(f"{label:<8} {name:<16} {procs:>5} {value:>10,.0f}", flush=True)
        print(f"# load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
