"""``signwire verify SIGNEDZONE --origin NAME``: check a signed zone file offline.

Exit codes: 0 when the zone is valid (warnings are printed but do not fail it), 1 when it has
errors (each printed with owner, type and reason), 2 when the input cannot be used at all (a
missing or unreadable file, text that is not a zone file, a bad origin or anchor file).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

import dns.exception
import dns.name

from signwire.errors import SignwireError
from signwire.verify.anchors import TrustAnchor, load_anchors
from signwire.verify.report import VerifyReport
from signwire.verify.zone_verifier import verify_zone

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_USAGE = 2


def add_parser(subparsers: Any) -> None:
    """Register ``verify`` on an ``argparse`` sub-parser collection."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "verify",
        help="verify a signed zone file",
        description="Check every signature, the NSEC or NSEC3 chain and the zone cuts of a "
        "signed zone file. Exit 0 if valid, 1 if not, 2 if the input cannot be read.",
    )
    p.add_argument("zonefile", metavar="SIGNEDZONE", help="the signed zone file")
    p.add_argument("--origin", required=True, metavar="NAME", help="the zone's apex name")
    p.add_argument(
        "--anchor",
        action="append",
        metavar="FILE",
        help="DS or DNSKEY records the DNSKEY RRset must be signed by (K*.ds, K*.key, dig "
        "output); may be repeated",
    )
    p.add_argument(
        "--warn-days",
        type=int,
        default=7,
        metavar="N",
        help="warn about signatures that expire within N days (default 7)",
    )
    p.add_argument("--quiet", action="store_true", help="print only errors, no warnings or summary")


def run(
    args: argparse.Namespace,
    now: int,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Verify as ``args`` say; ``now`` is the caller's clock (the CLI passes system time)."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    try:
        origin = dns.name.from_text(args.origin)
    except dns.exception.DNSException as e:
        print(f"signwire verify: bad --origin {args.origin!r}: {e}", file=err)
        return EXIT_USAGE
    if args.warn_days < 0:
        print("signwire verify: --warn-days must not be negative", file=err)
        return EXIT_USAGE
    try:
        anchors: list[TrustAnchor] | None = None
        if args.anchor:
            anchors = []
            for path in args.anchor:
                anchors.extend(load_anchors(path))
        report = verify_zone(
            args.zonefile, origin, now=now, anchors=anchors, warn_horizon=args.warn_days * 86400
        )
    except SignwireError as e:
        print(f"signwire verify: {e}", file=err)
        return EXIT_USAGE
    print_report(report, out, quiet=args.quiet)
    return EXIT_VALID if report.ok else EXIT_INVALID


def print_report(report: VerifyReport, out: TextIO, *, quiet: bool) -> None:
    for problem in report.problems:
        if quiet and problem.severity != "error":
            continue
        print(problem, file=out)
    if quiet:
        return
    c = report.counts
    denial = f"{c.nsec3_records} NSEC3" if report.denial == "NSEC3" else f"{c.nsec_records} NSEC"
    verdict = "valid" if report.ok else "INVALID"
    print(
        f"{report.origin} {verdict}: {c.rrsets_checked} RRsets, {c.signatures_checked} "
        f"signatures, {denial} records checked; {len(report.errors)} errors, "
        f"{len(report.warnings)} warnings",
        file=out,
    )
