"""``signwire zone list|reload|retransfer|notify|resign``: ask the running daemon."""

from __future__ import annotations

import argparse
import json
from typing import Any

from signwire.cli.now_option import add_now_option
from signwire.cli.status_cmd import add_control_options, ask

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


def run(args: argparse.Namespace, now: int) -> int:
    prog = f"signwire zone {args.action}"
    if args.action == "list":
        answer = ask(args, {"command": "zone-list"}, prog)
        if answer is None:
            return EXIT_FAILURE
        if args.json:
            print(json.dumps(answer["zones"], indent=2))
        else:
            for z in answer["zones"]:
                print(f"{z['zone']}\tserial {z['served_serial']}\t{z['source']}")
        return EXIT_OK
    answer = ask(args, {"command": f"zone-{args.action}", "zone": args.zone}, prog)
    if answer is None:
        return EXIT_FAILURE
    print(f"{answer['zone']}: {args.action} requested")
    return EXIT_OK
