"""``signwire zone list|add|remove|reload|retransfer|notify|resign``: ask the running daemon.

``add`` and ``remove`` also work with no daemon running (given ``--config``): they edit the
state directory under its lock, and the next start picks the change up. ``list`` then shows
the configuration's zones and the added ones from the state.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from signwire.cli.now_option import add_now_option
from signwire.cli.status_cmd import add_control_options, ask, control_path
from signwire.control.protocol import ControlError, request
from signwire.errors import SignwireError

EXIT_OK, EXIT_FAILURE = 0, 3

_ACTIONS = {
    "reload": "re-read the zone file, or check the primaries now",
    "retransfer": "transfer the whole zone again from the primaries (AXFR)",
    "notify": "send NOTIFY for the served serial to the zone's secondaries again",
    "resign": "sign the zone again in full now (new signatures everywhere)",
}


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "zone", help="list the daemon's zones, reload, retransfer or notify one",
        description="Talk to the running daemon over its control socket.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = actions.add_parser("list", help="the zones served, their serials and sources")
    add_control_options(a)
    a.add_argument("--json", action="store_true")
    add_now_option(a)
    for name, text in _ACTIONS.items():
        a = actions.add_parser(name, help=text, description=text)
        a.add_argument("zone", metavar="ZONE")
        add_control_options(a)
        add_now_option(a)
    text = ("serve a new zone at once and keep it in the state (it comes back after a "
            "restart); with no daemon running, the next start serves it")
    a = actions.add_parser("add", help="add a zone at run time", description=text)
    a.add_argument("zone", metavar="ZONE")
    source = a.add_mutually_exclusive_group(required=True)
    source.add_argument("--file", metavar="PATH", help="the zone file (its source)")
    source.add_argument("--primary", "--primaries", dest="primaries", metavar="REMOTE",
                        nargs="+", help="remotes of the configuration to transfer it from")
    a.add_argument("--policy", metavar="NAME", help="a built-in policy or one of --policy-file")
    a.add_argument("--policy-file", metavar="PATH")
    a.add_argument("--notify", metavar="REMOTE", nargs="+", default=[],
                   help="remotes told of each new signed version")
    a.add_argument("--allow-transfer", metavar="ACL", nargs="+", default=[],
                   help="ACLs of the configuration allowed to transfer it")
    a.add_argument("--output", metavar="PATH", help="also write each signed version here")
    add_control_options(a)
    add_now_option(a)
    text = ("stop serving a zone added at run time and drop it from the state; its keys stay "
            "in the key store unless --forget-keys")
    a = actions.add_parser("remove", help="remove a zone added at run time", description=text)
    a.add_argument("zone", metavar="ZONE")
    a.add_argument("--forget-keys", action="store_true",
                   help="retire its keys too (moved to the key store's retired/ folder)")
    add_control_options(a)
    add_now_option(a)


def run(args: argparse.Namespace, now: int) -> int:
    prog = f"signwire zone {args.action}"
    if args.action in ("add", "remove", "list"):
        message = _message(args)
        try:
            answer: dict[str, Any] | None = request(control_path(args), message)
        except ControlError as e:
            if not args.config:
                print(f"{prog}: error: {e}", file=sys.stderr)
                return EXIT_FAILURE
            answer = _offline(args, message, now, prog)
        except SignwireError as e:
            print(f"{prog}: error: {e}", file=sys.stderr)
            return EXIT_FAILURE
        if answer is None or not answer.get("ok"):
            if answer is not None:
                print(f"{prog}: error: {answer.get('error', 'refused')}", file=sys.stderr)
            return EXIT_FAILURE
        if args.action == "list":
            if args.json:
                print(json.dumps(answer["zones"], indent=2))
            else:
                for z in answer["zones"]:
                    print(f"{z['zone']}\tserial {z['served_serial']}\t{z['source']}"
                          f"\t{z.get('origin', 'config')}")
            return EXIT_OK
        for line in answer.get("retired", []):
            print(line)
        where = " (in the state: the daemon serves it at its next start)" if answer.get(
            "offline") else ""
        if answer.get("kept") == "config":
            print(f"{answer['zone']}: the copy added at run time is removed; the zone of the "
                  "configuration file stays served")
            return EXIT_OK
        print(f"{answer['zone']}: {'added' if args.action == 'add' else 'removed'}{where}")
        return EXIT_OK
    answer = ask(args, {"command": f"zone-{args.action}", "zone": args.zone}, prog)
    if answer is None:
        return EXIT_FAILURE
    print(f"{answer['zone']}: {args.action} requested")
    return EXIT_OK


def _message(args: argparse.Namespace) -> dict[str, Any]:
    from signwire.control.zones import zone_table

    if args.action == "list":
        return {"command": "zone-list"}
    if args.action == "remove":
        return {"command": "zone-remove", "zone": args.zone, "forget_keys": args.forget_keys}
    table = zone_table(
        args.zone,
        file=args.file,
        primaries=args.primaries or (),
        policy=args.policy,
        policy_file=args.policy_file,
        notify=args.notify,
        allow_transfer=args.allow_transfer,
        output=args.output,
    )
    return {"command": "zone-add", "table": table}


def _offline(
    args: argparse.Namespace, message: dict[str, Any], now: int, prog: str
) -> dict[str, Any] | None:
    """No daemon answers: edit (or read) the state directory itself."""
    from signwire.config.parse import load_config
    from signwire.control import zones
    from signwire.storage.state import StateStore

    try:
        config = load_config(args.config)
        if args.action == "add":
            zone = zones.add_offline(config, message["table"], now)
            return {"ok": True, "zone": zone.name, "offline": True}
        if args.action == "remove":
            done = zones.remove_offline(config, args.zone, now, forget=args.forget_keys)
            name = zones.zone_name(args.zone)
            return {"ok": True, "zone": name, "retired": done, "offline": True,
                    "kept": "config" if config.zone(name) else None}
        print(f"{prog}: no daemon answers; showing the configuration and the state",
              file=sys.stderr)
        listed = [
            {"zone": z.name, "served_serial": None, "origin": "config",
             "source": str(z.file) if z.file else ",".join(z.primaries)}
            for z in config.zones
        ]
        if (config.server.state / "state.sqlite").is_file():
            with StateStore(config.server.state, create=False) as state:
                for name, table, _at in state.added_zones():
                    source = table.get("file") or ",".join(table.get("primaries") or [])
                    shadowed = " (the configuration file wins)" if config.zone(name) else ""
                    listed.append({"zone": name, "served_serial": None, "origin": "added"
                                   + shadowed, "source": str(source)})
        return {"ok": True, "zones": listed, "offline": True}
    except SignwireError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return None
