"""``signwire key …``: the operator's view of a zone's keys, and reports about the parent.

Reports (``ds-seen``, ``ds-gone``, ``roll``, ``compromised``) are recorded in the state and
applied by the next ``signwire sign --policy`` run: applying them alone could move a key's
records in the state while no signed version of the zone shows the move yet.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from signwire.cli.now_option import add_now_option
from signwire.durations import format_instant
from signwire.errors import SignwireError
from signwire.keys import enforcer
from signwire.keys.keystate import RECORD_TYPES, KeyState
from signwire.keys.plan import insecure_status
from signwire.keystore.store import open_store
from signwire.policy import algorithms
from signwire.policy.model import KeyRole
from signwire.policy.parse import load_policy
from signwire.signing.apex import ds_rdata
from signwire.storage.lock import DEFAULT_WAIT, StateLock, StateLockedError
from signwire.storage.state import StateStore
from signwire.zones import names, rdata
from signwire.zones.rrtypes import DS

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_FAILURE = 0, 1, 2, 3


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "key",
        help="list a zone's keys; report the DS at the parent; start rollovers",
        description="Keys of zones signed with --policy, as kept in the state directory.",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(name: str, help_text: str, *, zone: bool = True, tag: bool = False) -> Any:
        a = actions.add_parser(name, help=help_text, description=help_text)
        if zone:
            a.add_argument("zone", metavar="ZONE", nargs="?" if name == "list" else None)
        if tag:
            a.add_argument("tag", metavar="KEYTAG", type=int)
        a.add_argument("--state", required=True, metavar="DIR", help="the state directory")
        a.add_argument(
            "--lock-wait",
            type=float,
            default=DEFAULT_WAIT,
            metavar="SECONDS",
            help="how long to wait for another signwire using the state directory",
        )
        add_now_option(a)
        return a

    lst = action("list", "show every key: role, algorithm, tag, record states, what it waits for")
    lst.add_argument("--policy-file", metavar="FILE", help="where the zone's policy is defined")
    action("ds-seen", "the parent now publishes this key's DS", tag=True)
    action("ds-gone", "the parent no longer publishes this key's DS", tag=True)
    roll = action("roll", "start a rollover of the key with this role now")
    roll.add_argument("role", choices=[r.value for r in KeyRole])
    action("compromised", "emergency: replace this key as fast as the rules allow", tag=True)
    action("ds", "print the DS records the parent should publish now")
    check = action("check-ds", "ask the policy's parental agents whether the DS is there")
    check.add_argument("--policy-file", metavar="FILE", help="where the zone's policy is defined")


def _zone(text: str) -> str:
    wire = names.from_text(text if text.endswith(".") else text + ".", None)
    return names.to_text(names.lower(wire))


def _stamp(at: int | None) -> str:
    return "-" if at is None else format_instant(at)


def _key_by_tag(state: StateStore, zone: str, tag: int) -> KeyState:
    keys = [k for k in state.key_states(zone) if k.tag == tag]
    if not keys:
        known = ", ".join(str(k.tag) for k in state.key_states(zone)) or "none"
        raise SignwireError(f"{zone} has no key with tag {tag} (its keys: {known})")
    return keys[0]


# Reports change the state: they take the state directory's lock like a signing run does.
_WRITERS = ("ds-seen", "ds-gone", "roll", "compromised", "check-ds")


# Reports a running daemon takes over its control socket (it holds the state's lock).
_REPORTS = ("ds-seen", "ds-gone", "roll", "compromised")


def run(args: argparse.Namespace, now: int) -> int:
    try:
        with contextlib.ExitStack() as stack:
            if args.action in _WRITERS:
                lock = StateLock(args.state, wait=0)
                try:
                    lock.acquire()
                except StateLockedError:
                    daemon = Path(args.state) / "control.sock"
                    if args.action in _REPORTS and daemon.exists():
                        return _tell_daemon(args, daemon)
                    lock = StateLock(args.state, wait=args.lock_wait)
                    lock.acquire()
                stack.callback(lock.release)
            state = stack.enter_context(StateStore(args.state, create=False))
            return _run(args, state, now)
    except SignwireError as e:
        print(f"signwire key: error: {e}", file=sys.stderr)
        return EXIT_FAILURE


def _tell_daemon(args: argparse.Namespace, socket_path: Path) -> int:
    """The daemon holds the state: hand it the report, which its next key step applies."""
    from signwire.control.protocol import ControlError, request

    message: dict[str, object] = {
        "command": "key-report",
        "zone": _zone(args.zone),
        "kind": args.action,
    }
    if args.action == "roll":
        message["role"] = args.role
    else:
        message["tag"] = args.tag
    try:
        answer = request(socket_path, message)
    except ControlError as e:
        raise SignwireError(f"the state is held by a daemon, which did not answer: {e}") from None
    if not answer.get("ok"):
        raise SignwireError(f"the daemon refused the report: {answer.get('error')}")
    what = f"key {args.tag}: {args.action}" if args.action != "roll" else f"{args.role} roll"
    print(f"{answer.get('zone')} {what} handed to the running daemon, which applies it now")
    return EXIT_OK


def _run(args: argparse.Namespace, state: StateStore, now: int) -> int:
    try:
        if args.action == "list":
            return _list(args, state, now)
        zone = _zone(args.zone)
        if state.zone(zone) is None:
            raise SignwireError(
                f"{zone} is not in {args.state}; sign it once with --policy --state first"
            )
        if args.action in ("ds-seen", "ds-gone", "compromised"):
            key = _key_by_tag(state, zone, args.tag)
            state.add_pending(zone, args.action, key.key_id, now)
            print(f"{zone} key {args.tag}: {args.action} recorded; the next signing applies it")
        elif args.action == "roll":
            state.add_pending(zone, "roll", args.role, now)
            print(f"{zone}: {args.role} rollover requested; the next signing starts it")
        elif args.action == "ds":
            _print_ds(state, zone)
        elif args.action == "check-ds":
            return _check_ds(args, state, zone, now)
        return EXIT_OK
    except SignwireError as e:
        print(f"signwire key: error: {e}", file=sys.stderr)
        return EXIT_FAILURE


def _print_ds(state: StateStore, zone: str) -> None:
    origin = names.from_text(zone, None)
    dnskey_of = _dnskeys(state, zone)
    for key in state.key_states(zone):
        if key.ds.state.published and key.tag is not None:
            dnskey = dnskey_of(key)
            text = rdata.to_text(DS, ds_rdata(origin, dnskey, key.tag, key.algorithm))
            print(f"{zone} IN DS {text}")


def _check_ds(args: argparse.Namespace, state: StateStore, zone: str, now: int) -> int:
    from signwire.parent.agents import expected_ds
    from signwire.parent.query import check_parent

    row = state.zone(zone)
    assert row is not None and row.policy is not None
    policy = load_policy(row.policy, args.policy_file or row.policy_file)
    agents = policy.parent.parental_agents
    if not agents:
        raise SignwireError(f"policy {policy.name!r} names no parental agents")
    origin = names.from_text(zone, None)
    # Every key whose DS may be at the parent, the ones being withdrawn included: a DS seen
    # there is evidence the parent acted, which the enforcer needs before it trusts a "gone".
    keys = [k for k in state.key_states(zone) if k.ds.state.value != "hidden" and k.tag]
    dnskey_of = _dnskeys(state, zone)
    expected = {
        k.key_id: expected_ds(origin, dnskey_of(k), policy.parent.digest_types) for k in keys
    }
    seen = check_parent(origin, expected, agents, parent_ds_ttl=policy.timing.parent_ds_ttl)
    tags = {k.key_id: k.tag for k in keys}
    for problem in seen.problems:
        print(f"{zone} {problem}")
    for key_id in sorted(seen.seen):
        state.add_pending(zone, "ds-seen", key_id, now)
        print(f"{zone} key {tags[key_id]}: DS seen at every parental agent")
    for key_id in sorted(seen.gone):
        state.add_pending(zone, "ds-gone-checked", key_id, now)
        print(f"{zone} key {tags[key_id]}: DS gone from every parental agent")
    undecided = set(expected) - seen.seen - seen.gone
    for key_id in sorted(undecided):
        print(f"{zone} key {tags[key_id]}: undecided (the agents did not all answer alike)")
    return EXIT_OK


def _dnskeys(state: StateStore, zone: str) -> Callable[[KeyState], bytes]:
    """DNSKEY RDATA by key state, from one scan of the zone's key store (a token or folder
    scan costs far more than the lookups)."""
    origin = names.from_text(zone, None)
    found = {
        (zk.algorithm, zk.key_tag): zk.dnskey_rdata
        for zk in open_store(state.key_store(zone)).keys_for(origin)
    }

    def dnskey_of(key: KeyState) -> bytes:
        rdata_ = found.get((key.algorithm, key.tag or -1))
        if rdata_ is None:
            raise SignwireError(f"key {key.tag} of {zone} is missing from its key store")
        return rdata_

    return dnskey_of


def _list(args: argparse.Namespace, state: StateStore, now: int) -> int:
    zones = [_zone(args.zone)] if args.zone else [z.name for z in state.zones()]
    if not zones:
        print(f"no zones in {args.state}")
        return EXIT_OK
    for zone in zones:
        row = state.zone(zone)
        if row is None:
            print(f"signwire key: error: {zone} is not in {args.state}", file=sys.stderr)
            return EXIT_FAILURE
        keys = state.key_states(zone)
        print(
            f"{zone}  policy {row.policy}  serial {row.last_serial}  "
            f"next event {_stamp(row.next_event_at)}"
        )
        waiting: dict[str, list[str]] = {}
        if row.policy:
            try:
                policy = load_policy(row.policy, args.policy_file or row.policy_file)
                plan = enforcer.advance(policy, keys, now)
                status = insecure_status(policy, keys)
                if status is not None:
                    print(f"  {status}")
                for w in plan.waits:
                    until = f" until {_stamp(w.until)}" if w.until else ""
                    waiting.setdefault(w.key_id, []).append(
                        f"{w.record.value} -> {w.target.value}: {w.reason}{until}"
                    )
            except SignwireError as e:
                print(f"  (cannot show what keys wait for: {e})")
        for k in keys:
            states = " ".join(f"{r.value}={k.state(r).value}" for r in RECORD_TYPES)
            print(
                f"  {k.role.value.upper():3} {k.tag!s:>5} {algorithms.mnemonic(k.algorithm):16}"
                f" {k.goal.value:7} {states}"
            )
            print(
                f"      id {k.key_id}, created {_stamp(k.created_at)},"
                f" active {_stamp(k.active_at)}, DS seen {_stamp(k.ds_seen_at)}"
            )
            for line in waiting.get(k.key_id, []):
                print(f"      waiting: {line}")
        for kind, arg, at in [(k, a, t) for _, k, a, t in state.pending(zone)]:
            print(f"  pending report: {kind} {arg} (since {_stamp(at)})")
    return EXIT_OK
