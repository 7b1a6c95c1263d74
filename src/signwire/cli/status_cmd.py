"""``signwire status``: what the running daemon says about each zone."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from signwire.control.socket import ControlError, request
from signwire.control.status import format_status
from signwire.errors import SignwireError

EXIT_OK, EXIT_USAGE, EXIT_FAILURE = 0, 2, 3


def add_control_options(p: argparse.ArgumentParser) -> None:
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--config", metavar="FILE", help="the daemon's configuration (its "
                       "[server] control names the socket)")
    where.add_argument("--control", metavar="PATH", help="the daemon's control socket")


def control_path(args: argparse.Namespace) -> str:
    if args.control:
        return str(args.control)
    from signwire.config.parse import load_config

    return str(load_config(args.config).server.control)


def ask(args: argparse.Namespace, message: dict[str, Any], prog: str) -> dict[str, Any] | None:
    try:
        answer = request(control_path(args), message)
    except (ControlError, SignwireError) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return None
    if not answer.get("ok"):
        print(f"{prog}: error: {answer.get('error', 'the daemon refused')}", file=sys.stderr)
        return None
    return answer


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "status", help="show the running daemon's zones",
        description="Per zone: state (fresh, stale, no copy), serials, upstream refresh and "
        "expiry, earliest signature expiry, next event, secondaries.")
    add_control_options(p)
    p.add_argument("--json", action="store_true", help="print the daemon's answer as JSON")


def run(args: argparse.Namespace, now: int) -> int:
    answer = ask(args, {"command": "status"}, "signwire status")
    if answer is None:
        return EXIT_FAILURE
    if args.json:
        print(json.dumps(answer, indent=2, sort_keys=True))
    else:
        sys.stdout.write(format_status(answer))
    return EXIT_OK
