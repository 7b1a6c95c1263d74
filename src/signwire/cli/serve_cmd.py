"""``signwire serve --config FILE``: run the daemon in the foreground (logs to stderr)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from signwire.errors import SignwireError

EXIT_OK, EXIT_USAGE, EXIT_FAILURE = 0, 2, 3


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "serve",
        help="run the signer daemon: transfer or read zones, sign, serve them",
        description="Run in the foreground: read the zones (files or primaries), sign them "
        "under their policies, verify and serve them (SOA, AXFR/IXFR, queries) and notify the "
        "secondaries. SIGTERM stops it cleanly, SIGHUP reloads the zones. Logs go to stderr.",
        epilog="example: signwire serve --config examples/signwire.toml",
    )
    p.add_argument("--config", required=True, metavar="FILE",
                   help="the daemon's TOML configuration")
    p.add_argument("--log-format", choices=("text", "json"), default=None,
                   help="text lines (the default) or one JSON object per line on stderr; "
                   "overrides [server] log-format")
    p.add_argument("--check", action="store_true",
                   help="only read and check the configuration and the zones' policies, "
                   "then exit (0: usable)")


def run(args: argparse.Namespace, now: int) -> int:
    from signwire.config.model import ConfigError
    from signwire.policy.model import PolicyError
    from signwire.runtime.daemon import serve

    try:
        if args.check:
            return _check(args.config)
        return serve(args.config, args.log_format)
    except (ConfigError, PolicyError) as e:
        print(f"signwire serve: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except SignwireError as e:
        print(f"signwire serve: error: {e}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as e:
        print(f"signwire serve: error: {e.strerror or e}"
              + (f": {e.filename}" if e.filename else ""), file=sys.stderr)
        return EXIT_FAILURE


def _check(path: str) -> int:
    from signwire.config.parse import load_config
    from signwire.policy.parse import load_policy
    from signwire.signing.options import from_policy

    config = load_config(path)
    for zone in config.zones:
        from_policy(load_policy(zone.policy, zone.policy_file))
        if zone.file is not None and not zone.file.is_file():
            print(f"signwire serve: warning: {zone.name}: {zone.file} does not exist (yet)",
                  file=sys.stderr)
    print(f"{path}: {len(config.zones)} zone(s), listening on "
          + ", ".join(str(e) for e in config.server.listen))
    return EXIT_OK
