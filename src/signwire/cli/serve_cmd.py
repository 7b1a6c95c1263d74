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


def run(args: argparse.Namespace, now: int) -> int:
    from signwire.config.model import ConfigError
    from signwire.runtime.daemon import serve

    try:
        return serve(args.config)
    except ConfigError as e:
        print(f"signwire serve: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except SignwireError as e:
        print(f"signwire serve: error: {e}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as e:
        print(f"signwire serve: error: {e.strerror or e}"
              + (f": {e.filename}" if e.filename else ""), file=sys.stderr)
        return EXIT_FAILURE
