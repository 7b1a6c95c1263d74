"""``signwire policy``: check key-and-signing policies and simulate what they would do.

* ``signwire policy check [--policy-file F] [POLICY ...]``: read the policies (all of the file's,
  or the ones named; ``default`` is built in) and say for each whether it can work and how long
  its rollovers take. Exit 1 if one is refused, with the reason.
* ``signwire policy simulate POLICY [--policy-file F] --days N [--start TIME]``: the timeline of
  every key event the enforcer would cause for a fresh zone, with dates (from ``--start`` or
  ``--now``, else the current time).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from signwire.durations import format_duration
from signwire.keys.simulate import format_timeline, simulate
from signwire.policy import algorithms, intervals
from signwire.policy.model import Policy, PolicyError
from signwire.policy.parse import builtin_policies, load_policies, load_policy

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
MAX_DAYS = 36500


def _time(text: str) -> int:
    from signwire.cli.now_option import epoch_or_timestamp

    return epoch_or_timestamp(text)


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days") from None
    if not 0 < days <= MAX_DAYS:
        raise argparse.ArgumentTypeError(f"days must be from 1 to {MAX_DAYS}")
    return days


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "policy",
        help="check key-and-signing policies, simulate their rollovers",
        description="Key-and-signing policies: check them, or print the key events one would "
        "cause for a fresh zone.",
        epilog="exit codes: 0 done, 1 a policy was refused (the message says why), "
        "2 usage error or unreadable file",
    )
    p.add_argument("--now", type=_time, metavar="TIME", default=None, help=argparse.SUPPRESS)
    actions = p.add_subparsers(dest="policy_command", metavar="ACTION", required=True)

    check = actions.add_parser(
        "check",
        help="say whether policies can work",
        description="Read policies and refuse the ones that cannot work, saying why.",
    )
    check.add_argument(
        "names",
        nargs="*",
        metavar="POLICY",
        help="policies to check (default: every policy of the file, or 'default')",
    )
    check.add_argument(
        "--policy-file",
        type=Path,
        metavar="FILE",
        help="TOML file with [policy.NAME] tables, or one policy's keys",
    )
    _add_now(check)

    sim = actions.add_parser(
        "simulate",
        help="print the key events a policy causes",
        description="Run the key enforcer for a fresh zone on a simulated clock and print "
        "every key event with its date. The parent is simulated: a DS counts as seen (or gone) "
        "parent-propagation-delay + parent-ds-ttl after it is requested (or withdrawn).",
    )
    sim.add_argument("policy", metavar="POLICY", help="policy name ('default' is built in)")
    sim.add_argument(
        "--policy-file",
        type=Path,
        metavar="FILE",
        help="TOML file with [policy.NAME] tables, or one policy's keys",
    )
    sim.add_argument(
        "--days", type=_days, required=True, metavar="N", help="how many days to simulate"
    )
    sim.add_argument(
        "--start",
        type=_time,
        metavar="TIME",
        help="simulated start (epoch seconds or YYYYMMDDHHMMSS, UTC; "
        "default: --now, else the current time)",
    )
    _add_now(sim)


def _add_now(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: the value given before the action ("policy --now T simulate") is kept.
    parser.add_argument(
        "--now",
        type=_time,
        metavar="TIME",
        default=argparse.SUPPRESS,
        help="act as if the time were TIME (epoch seconds or YYYYMMDDHHMMSS, UTC)",
    )


def run(args: argparse.Namespace, now: int) -> int:
    policy_file: Path | None = args.policy_file
    if policy_file is not None and not policy_file.is_file():
        print(f"signwire: error: {policy_file}: no such file", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.policy_command == "check":
            return _check(args.names, policy_file)
        policy = load_policy(args.policy, policy_file)
    except PolicyError as e:
        print(f"signwire: error: {e}", file=sys.stderr)
        return EXIT_INVALID
    start = args.start if args.start is not None else now
    print(f"# policy {policy.name!r} ({policy.source}): {_summary(policy)}")
    print(f"# {args.days} days from a fresh zone; the parent is simulated")
    sys.stdout.write(format_timeline(simulate(policy, start, args.days), start))
    return EXIT_OK


def _check(names: list[str], policy_file: Path | None) -> int:
    if names:
        policies = [load_policy(name, policy_file) for name in names]
    elif policy_file is not None:
        policies = list(load_policies(policy_file).values())
        if not policies:
            print(f"signwire: error: {policy_file}: no [policy.NAME] table", file=sys.stderr)
            return EXIT_INVALID
    else:
        policies = list(builtin_policies().values())
    for policy in policies:
        print(f"policy {policy.name!r} ({policy.source}): ok: {_summary(policy)}")
        for spec in policy.keys:
            took = format_duration(intervals.rollover_duration(policy, spec.role))
            print(f"  a {spec.role.value.upper()} rollover takes at least {took}")
    return EXIT_OK


def _span(seconds: int) -> str:
    """Lifetimes read best in days ("90d", not "12w6d")."""
    return f"{seconds // 86400}d" if seconds % 86400 == 0 else format_duration(seconds)


def _summary(policy: Policy) -> str:
    if policy.algorithm is None:
        return (
            "no keys: takes a signed zone insecure (the DS withdrawn first, with the CDS/CDNSKEY "
            "delete form), then publishes it unsigned"
        )
    parts = [f"{policy.layout.value.upper()} {algorithms.mnemonic(policy.algorithm)}"]
    for spec in policy.keys:
        life = "unlimited" if spec.lifetime is None else _span(spec.lifetime)
        parts.append(f"{spec.role.value.upper()} lifetime {life}")
    denial = policy.denial
    if denial.kind.value == "nsec3":
        parts.append(
            f"NSEC3 {denial.iterations} iterations" + (", opt-out" if denial.opt_out else "")
        )
    else:
        parts.append("NSEC")
    return ", ".join(parts)
