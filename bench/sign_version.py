"""The daemon's full signing of a zone into a version: in its own process, and with its
signature workers (long-lived worker processes that make the signatures while the daemon
prepares the next batch).

    python bench/sign_version.py --zone tld100k.zone --origin tld. [--nsec3] [--workers 2]
        [--repeat 3]

Each round signs the same unsigned version both ways with the same ECDSA P-256 KSK and ZSK (file
keys made in a scratch folder), alternating, and prints one Markdown table of the median wall
time, the CPU time of this process, and the ratio. The workers are started (and their keys
loaded) before the first timed run, as the daemon keeps them between zones.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from signwire.keystore.file_store import FileKeyStore
from signwire.loading.zonefile import read_zonefile
from signwire.policy.model import KeyRole
from signwire.runtime.signature_workers import SignatureWorkers
from signwire.signing.keyset import SigningKeys
from signwire.signing.options import Nsec3Params, SigningOptions
from signwire.signing.versioned import sign_full
from signwire.zones import names
from signwire.zones.version import ZoneVersion

NOW = 1_800_000_000


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--zone", type=Path, required=True)
    p.add_argument("--origin", required=True)
    p.add_argument("--nsec3", action="store_true", help="NSEC3, 0 extra iterations, no salt")
    p.add_argument("--workers", type=int, default=SignatureWorkers.wanted() or 2)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    origin = names.from_text(args.origin, None)
    parsed = read_zonefile(str(args.zone), origin)
    unsigned = ZoneVersion.from_records(origin, ((r[0], r[1], r[2], r[3]) for r in parsed.records))
    options = SigningOptions(nsec3=Nsec3Params() if args.nsec3 else None)
    with tempfile.TemporaryDirectory() as scratch:
        store = FileKeyStore(Path(scratch))
        keys = SigningKeys.by_role(
            [store.create(origin, 13, KeyRole.KSK, NOW), store.create(origin, 13, KeyRole.ZSK, NOW)]
        )
        pool = SignatureWorkers(args.workers)
        try:
            sign_full(unsigned, keys, options, NOW, service=pool)  # start, load the keys
            times: dict[str, list[tuple[float, float]]] = {"in process": [], "workers": []}
            made = 0
            for i in range(args.repeat):
                for how in times:
                    wall, cpu = time.perf_counter(), time.process_time()
                    signed = sign_full(
                        unsigned, keys, options, NOW, service=pool if how == "workers" else None
                    )
                    times[how].append((time.perf_counter() - wall, time.process_time() - cpu))
                    made = signed.signatures_made
                    print(f"[{i + 1}/{args.repeat}] {how}: {times[how][-1][0]:.1f} s",
                          file=sys.stderr)
        finally:
            pool.close()
    base = statistics.median(w for w, _ in times["in process"])
    print(f"{unsigned.record_count()} records, {made} signatures, "
          f"{'NSEC3' if args.nsec3 else 'NSEC'}, {args.workers} workers, median of {args.repeat}")
    print("\n| signing | wall s | CPU s (this process) | wall ÷ in process |\n|---|---|---|---|")
    for how, runs in times.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"| {how} | {wall:.1f} | {cpu:.1f} | {wall / base:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
