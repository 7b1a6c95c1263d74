"""Benchmark (not a test): the daemon's review of a one-record change, by zone size.

For each size, a zone of N names (an A record each, under ``example.test.``) is signed in full
(Ed25519 KSK + ZSK, NSEC, or NSEC3 with ``--nsec3``), then one name with an A record is added
and signed incrementally, as the daemon does for a NOTIFY with a one-record IXFR. Printed per
size:

* **review**: :func:`signwire.verify.review.review_change` on that step (what the daemon runs
  for every incremental step now), median of ``--repeat`` runs, with the RRsets it validated;
* **whole zone**: :func:`signwire.verify.review.verify_version` on the same version (what the
  daemon ran before for zones under 20,000 records, and still runs after a full signing);
* **old change check** (``--before REV``): the daemon's signature-only check of the changed
  RRsets as it was at git revision REV (``runtime/daemon.py:verify_change``, used before for
  zones over 20,000 records; it did not look at the NSEC/NSEC3 records), loaded from git.

    .venv/bin/python bench/review.py                                  # 10k and 100k names
    .venv/bin/python bench/review.py --names 10000 100000 --nsec3 --before e560ba5
"""

from __future__ import annotations

import argparse
import statistics
import struct
import subprocess
import sys
import time
import types
from collections.abc import Callable
from functools import partial
from pathlib import Path

from signwire.keystore import crypto
from signwire.keystore.model import ZoneKey
from signwire.policy import algorithms
from signwire.policy.model import KeyRole
from signwire.signing.incremental import incremental
from signwire.signing.keyset import SigningKeys
from signwire.signing.options import Nsec3Params, SigningOptions
from signwire.signing.versioned import sign_full
from signwire.verify.report import Counts
from signwire.verify.review import review_change, verify_version
from signwire.zones import names
from signwire.zones.diff import Diff, apply, diff
from signwire.zones.version import RR, ZoneVersion

NOW = 1_767_225_600
ORIGIN = names.from_text("example.test.", None)
A, NS, SOA = 1, 2, 6


def key(role: KeyRole) -> ZoneKey:
    private = crypto.generate(algorithms.ED25519)
    public = crypto.public_key_field(algorithms.ED25519, private)
    flags = 256 if role is KeyRole.ZSK else 257
    rdata = flags.to_bytes(2, "big") + bytes((3, algorithms.ED25519)) + public
    return ZoneKey(ORIGIN, algorithms.ED25519, flags, public, algorithms.key_tag(rdata), role,
                   crypto.signer_spec(algorithms.ED25519, private), "bench")


def w(text: str) -> bytes:
    return names.from_text(text, ORIGIN)


def soa(serial: int) -> RR:
    rdata = w("ns1") + w("hostmaster") + struct.pack("!IIIII", serial, 7200, 900, 1209600, 300)
    return (ORIGIN, SOA, 3600, rdata)


def zone(count: int) -> ZoneVersion:
    recs: list[RR] = [soa(1), (ORIGIN, NS, 3600, w("ns1")), (w("ns1"), A, 3600, bytes(4))]
    recs += [(w(f"h{i:07d}"), A, 300, bytes((10, i >> 16 & 255, i >> 8 & 255, i & 255)))
             for i in range(count)]
    return ZoneVersion.from_records(ORIGIN, recs)


def old_verify_change(rev: str) -> Callable[[ZoneVersion, Diff, int], str | None]:
    """``verify_change`` (and its helper) from runtime/daemon.py at ``rev``, loaded alone."""
    source = subprocess.run(
        ["git", "show", f"{rev}:src/signwire/runtime/daemon.py"],
        check=True, capture_output=True, text=True, cwd=Path(__file__).resolve().parent,
    ).stdout
    start = source.index("def verify_change(")
    end = source.index("def keys_fingerprint(")
    module = types.ModuleType("old_daemon_verify")
    exec(  # the two functions only, with what they import
        "import dns.dnssec, dns.exception, dns.name, dns.rdata, dns.rdataclass, dns.rdataset\n"
        "import dns.rdatatype, dns.rrset\n"
        "from signwire.signing.schedule import covered\n"
        "from signwire.zones import names, rdata\n"
        "from signwire.zones.diff import Diff\n"
        "from signwire.zones.rrtypes import DNSKEY, NS, RRSIG, SOA\n"
        "from signwire.zones.version import ZoneVersion\n" + source[start:end],
        module.__dict__,
    )
    return module.verify_change  # type: ignore[no-any-return]


def timed(fn: Callable[[], object], repeat: int) -> tuple[str, object]:
    """Median and fastest of ``repeat`` runs, as text, and the result."""
    times = []
    result: object = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    median, least = statistics.median(times), min(times)
    if repeat == 1:
        return f"{median:.3f} s", result
    return f"{median * 1000:.1f} ms (min {least * 1000:.1f})", result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--names", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--nsec3", action="store_true", help="NSEC3 (no salt, 0 iterations)")
    parser.add_argument("--repeat", type=int, default=20, help="runs of the change review")
    parser.add_argument("--before", metavar="REV", help="also time the old check at REV")
    parser.add_argument("--no-whole", action="store_true", help="skip the whole-zone check")
    args = parser.parse_args()

    ksk, zsk = key(KeyRole.KSK), key(KeyRole.ZSK)
    keys = SigningKeys.by_role([ksk, zsk])
    options = SigningOptions(nsec3=Nsec3Params()) if args.nsec3 else SigningOptions()
    old = old_verify_change(args.before) if args.before else None
    print(f"denial: {'NSEC3' if args.nsec3 else 'NSEC'}; python {sys.version.split()[0]}")
    print("| names | records | review (now) | RRsets validated | whole zone (before: up to 20k "
          "records) | old change check (before: over 20k records) |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for count in args.names:
        before = zone(count)
        started = time.perf_counter()
        first = sign_full(before, keys, options, NOW)
        signing = time.perf_counter() - started
        after = apply(before, Diff(before.soa, soa(2), (), ((w("new"), A, 300, bytes(4)),)))
        stepped, change = incremental(first, diff(before, after), keys, options, NOW)
        version = stepped.version
        counts = Counts()
        assert review_change(version, change, NOW, counts=counts) is None
        review, problem = timed(partial(review_change, version, change, NOW), args.repeat)
        assert problem is None, problem
        whole = "-"
        if not args.no_whole:
            whole, problem = timed(partial(verify_version, version, NOW), 1)
            assert problem is None, problem
        old_text = "-"
        if old is not None:
            old_text, problem = timed(partial(old, version, change, NOW), args.repeat)
            assert problem is None, problem
        print(f"| {count:,} | {version.record_count():,} | {review} | {counts.rrsets_checked} "
              f"| {whole} | {old_text} |", flush=True)
        print(f"  (signing {count:,} names in full took {signing:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
