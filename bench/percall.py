"""Per-call costs: one ECDSA P-256 signature, and signwire's work per name besides signing.

docs/benchmarks.md explains where signwire's time goes with a few per-call figures; this script
is where they come from. In one process (no workers), with the garbage collector off as
``signwire sign`` runs:

* ``openssl speed -seconds S ecdsap256``: OpenSSL's raw signing rate, as µs per signature;
* N signatures of a 200-octet message through ``cryptography`` directly (``key.sign``), and
  through signwire's own signer (``keys.algorithms.load_signer``: the same call plus the
  DER-to-RRSIG conversion), as µs per signature;
* the phases of ``signwire sign`` on a zone file, as µs per owner name of the plan: read the
  file, build the snapshot (group, sort, classify, check), plan (apex records, NSEC or NSEC3
  chain), and render the plan's text twice: once with a signer that returns a constant (the
  work per name besides signing: wire forms, text, bookkeeping) and once with the real ZSK and
  KSK (the difference, per RRSIG, is what a signature costs inside the render loop).

    python bench/percall.py --zone tld100k.zone --origin tld. [--nsec3 [--opt-out]]
        [--signatures 20000] [--openssl-seconds 1]

Times are wall-clock seconds of this one process; on a shared machine run it when it is quiet,
or look at the CPU column, which other load disturbs less. It prints one Markdown table.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from signwire.keystore import crypto, signers
from signwire.keystore.file_store import FileKeyStore
from signwire.loading.zonefile import read_zonefile
from signwire.policy import algorithms
from signwire.policy.model import KeyRole
from signwire.publication.zonetext import TextCache, render
from signwire.signing import full
from signwire.signing.context import SignFns, Unit, load_signers
from signwire.signing.keyset import SigningKeys
from signwire.signing.options import DAY, Nsec3Params, SigningOptions
from signwire.zones import names
from signwire.zones.snapshot import build

T = TypeVar("T")
MESSAGE = bytes(range(200))  # about the signed data of a delegation's NS or DS RRset
CHUNK = 2000  # names per render call, as the signing pool hands them out


class Timed:
    """Wall and CPU seconds of each step, in order."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float, int, str]] = []

    def run(self, label: str, count: int, unit: str, fn: Callable[[], T]) -> T:
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        self.add(label, time.perf_counter() - wall, time.process_time() - cpu, count, unit)
        return result

    def add(self, label: str, wall: float, cpu: float, count: int, unit: str) -> None:
        self.rows.append((label, wall, cpu, count, unit))

    def table(self) -> str:
        lines = [
            "| step | count | wall s | CPU s | µs per unit (wall) | µs per unit (CPU) |",
            "|---|---|---|---|---|---|",
        ]
        for label, wall, cpu, count, unit in self.rows:
            per_wall = 1e6 * wall / count if count else 0.0
            per_cpu = 1e6 * cpu / count if count else 0.0
            lines.append(
                f"| {label} | {count:,} {unit} | {wall:.2f} | {cpu:.2f} | "
                f"{per_wall:.1f} | {per_cpu:.1f} |"
            )
        return "\n".join(lines)


def openssl_rate(seconds: int) -> float | None:
    """ECDSA P-256 signatures per second on one core, from ``openssl speed``."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    done = subprocess.run(
        [openssl, "speed", "-seconds", str(seconds), "ecdsap256"],
        capture_output=True,
        text=True,
        check=False,
    )
    for line in done.stdout.splitlines():
        m = re.search(r"ecdsa \(nistp256\)\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)", line)
        if m:
            return float(m.group(1))
    return None


def sign_loop(sign: Callable[[bytes], bytes], n: int) -> None:
    for _ in range(n):
        sign(MESSAGE)


def render_all(units: list[Unit], plan: full.SigningPlan, fns: SignFns) -> int:
    """Render every name in CHUNK-sized calls with one text cache, as one worker does."""
    cache = TextCache()
    made = 0
    for lo in range(0, len(units), CHUNK):
        _text, count = render(units[lo : lo + CHUNK], plan.context, fns, cache)
        made += count
    return made


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Per-call costs of signing and of signwire's phases.")
    p.add_argument("--zone", required=True, type=Path, help="unsigned zone file")
    p.add_argument("--origin", required=True, help="zone origin, e.g. tld.")
    p.add_argument("--nsec3", action="store_true", help="NSEC3, 0 iterations, no salt")
    p.add_argument("--opt-out", action="store_true", help="NSEC3 opt-out (implies --nsec3)")
    p.add_argument("--signatures", type=int, default=20000, help="signatures per sign loop")
    p.add_argument("--openssl-seconds", type=int, default=1, help="0: skip openssl speed")
    args = p.parse_args(argv)

    timed = Timed()
    print(f"percall: {args.zone}, {args.origin}, pid {os.getpid()}", file=sys.stderr)
    rate = openssl_rate(args.openssl_seconds) if args.openssl_seconds > 0 else None

    key = ec.generate_private_key(ec.SECP256R1())
    algo = ec.ECDSA(hashes.SHA256())
    spec = crypto.signer_spec(algorithms.ECDSAP256SHA256, key)
    signer = signers.load_signer(spec)
    timed.run(
        "ECDSA P-256 sign, cryptography's key.sign",
        args.signatures,
        "signatures",
        lambda: sign_loop(lambda m: key.sign(m, algo), args.signatures),
    )
    timed.run(
        "ECDSA P-256 sign, signwire's signer (+ DER to RRSIG form)",
        args.signatures,
        "signatures",
        lambda: sign_loop(signer, args.signatures),
    )

    origin_text = args.origin if args.origin.endswith(".") else args.origin + "."
    origin = names.from_text(origin_text, None)
    nsec3 = Nsec3Params(opt_out=args.opt_out) if args.nsec3 or args.opt_out else None
    # The benchmark's signing options (bench/tools.py): 30 days, one expiry for every RRSIG.
    options = SigningOptions(nsec3=nsec3, validity=30 * DAY, jitter=0)
    now = int(time.time())
    gc.disable()  # as signwire sign runs: the zone's tuples hold no reference cycles
    with tempfile.TemporaryDirectory(prefix="signwire-percall-") as keydir:
        store = FileKeyStore(Path(keydir))
        keys = [
            store.create(origin, algorithms.ECDSAP256SHA256, role, now)
            for role in (KeyRole.KSK, KeyRole.ZSK)
        ]
        size = args.zone.stat().st_size
        parsed = timed.run(
            "read the zone file", 1, "names", partial(read_zonefile, str(args.zone), origin)
        )
        snapshot = timed.run(
            "snapshot: group, sort, classify, check", 1, "names", partial(build, parsed)
        )
        del parsed
        zone_names = len(snapshot.names)
        plan = timed.run(
            "plan: apex records, NSEC/NSEC3 chain",
            1,
            "names",
            partial(full.plan, snapshot, SigningKeys.by_role(keys), options, now),
        )
        del snapshot
        units = list(plan.units)
        real = load_signers(plan.context)
        constant: SignFns = {spec_: (lambda data: bytes(64)) for spec_ in real}
        wall, cpu = time.perf_counter(), time.process_time()
        made = render_all(units, plan, constant)
        noop_wall, noop_cpu = time.perf_counter() - wall, time.process_time() - cpu
        wall, cpu = time.perf_counter(), time.process_time()
        made_real = render_all(units, plan, real)
        real_wall, real_cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert made == made_real, (made, made_real)
    gc.enable()

    # Reading and the snapshot are per name of the zone; the plan and rendering per name of
    # the plan, which with NSEC3 also holds the hashed owners.
    n = len(units)
    for i, count in ((2, zone_names), (3, zone_names), (4, n)):
        label, w, c, _count, unit = timed.rows[i]
        timed.rows[i] = (label, w, c, count, unit)
    timed.add("render without signing (constant signature)", noop_wall, noop_cpu, n, "names")
    timed.add("render with signing", real_wall, real_cpu, n, "names")
    timed.add(
        "render with signing minus without, per RRSIG",
        real_wall - noop_wall,
        real_cpu - noop_cpu,
        made,
        "RRSIGs",
    )

    denial = "NSEC3 opt-out" if args.opt_out else "NSEC3" if nsec3 else "NSEC"
    print(f"## Per-call costs — {args.zone.name} ({size / 1e6:.0f} MB), {origin_text}, {denial}\n")
    print(
        f"One process, garbage collector off during the zone steps; {zone_names:,} names in "
        f"the zone, {n:,} in the plan, {made:,} RRSIGs. Load average "
        f"{os.getloadavg()[0]:.2f} at the end, {os.cpu_count()} CPUs.\n"
    )
    print(timed.table())
    if rate:
        print(
            f"\nopenssl speed -seconds {args.openssl_seconds} ecdsap256: {rate:,.0f} signs/s "
            f"on one core = {1e6 / rate:.1f} µs per signature."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
