"""``signwire status``: what the running daemon says about each zone."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from signwire.control.protocol import ControlError, request
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


def offline_status(config_path: str, now: int) -> dict[str, Any]:
    """What the state directory says when no daemon runs: each zone's last saved serial and
    its upstream refresh state."""
    from signwire.config.parse import load_config
    from signwire.storage import versions

    config = load_config(config_path)
    zones = []
    names = [zc.name for zc in config.zones]
    if (config.server.state / "state.sqlite").is_file():
        from signwire.storage.state import StateStore

        # The zones added at run time, served again at the next start.
        with StateStore(config.server.state, create=False) as state:
            names += [n for n, _t, _a in state.added_zones() if config.zone(n) is None]
    for name in names:
        meta = versions.read_meta(config.server.state, name) or {}
        refresh = versions.load_refresh(config.server.state, name) or {}
        expires = None
        if refresh.get("last_success") is not None and refresh.get("expire") is not None:
            expires = refresh["last_success"] + refresh["expire"]
        zones.append({
            "zone": name, "state": "daemon not running", "serving": False,
            "served_serial": meta.get("serial"), "input_serial": refresh.get("serial"),
            "input_from": meta.get("input_from"),
            "upstream": {"last_success": refresh.get("last_success"), "expires_at": expires,
                         "next_check": refresh.get("next_check"),
                         "failures": refresh.get("failures"),
                         "last_error": refresh.get("last_error")} if refresh else None,
        })
    return {"ok": True, "now": now, "zones": zones, "offline": True}


def run(args: argparse.Namespace, now: int) -> int:
    try:
        answer: dict[str, Any] | None = request(control_path(args), {"command": "status"})
    except ControlError as e:
        if not args.config:
            print(f"signwire status: error: {e}", file=sys.stderr)
            return EXIT_FAILURE
        print(f"signwire status: {e}; showing the state directory", file=sys.stderr)
        answer = offline_status(args.config, now)
    except SignwireError as e:
        print(f"signwire status: error: {e}", file=sys.stderr)
        return EXIT_FAILURE
    if answer is None or not answer.get("ok"):
        print(f"signwire status: error: {(answer or {}).get('error', 'refused')}",
              file=sys.stderr)
        return EXIT_FAILURE
    if args.json:
        print(json.dumps(answer, indent=2, sort_keys=True))
    else:
        sys.stdout.write(format_status(answer))
    return EXIT_OK
