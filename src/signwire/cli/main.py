"""The ``signwire`` command line.

Exit codes scripts can rely on (also in ``--help``):

* 0 — done; for ``verify``, the zone is valid
* 1 — the zone is not valid: input errors for ``sign``, validation failures for ``verify``
* 2 — usage: bad options, a missing or unreadable input file
* 3 — anything else that stopped the work: a key problem, an output that could not be written
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Any

from signwire import __version__
from signwire.cli.now_option import add_now_option
from signwire.errors import SignwireError
from signwire.runtime import signals
from signwire.runtime.clock import SystemClock

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_FAILURE = 0, 1, 2, 3

COMMANDS = ("sign", "verify", "key", "policy", "state", "serve", "zone", "status")

EPILOG = """exit codes: 0 done (zone valid), 1 zone not valid, 2 usage error or unreadable input,
3 other failure (keys, output)"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="signwire",
        description="DNSSEC signing: sign and verify zone files.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"signwire {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in _command_modules():
        module.add_parser(sub)
    for command in sub.choices.values():
        # a command with actions of its own (``key list``) puts --now on each action
        nested = any(isinstance(a, argparse._SubParsersAction) for a in command._actions)
        if not nested and not any("--now" in a.option_strings for a in command._actions):
            add_now_option(command)
    return parser


def _command_modules() -> list[Any]:
    modules: list[Any] = []
    for name in COMMANDS:
        try:
            modules.append(importlib.import_module(f"signwire.cli.{name}_cmd"))
        except ModuleNotFoundError as e:  # a command whose module is not installed
            if e.name != f"signwire.cli.{name}_cmd":
                raise
    return modules


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse exits 2 on usage errors and 0 for --help
        return int(e.code or 0)
    now = args.now if getattr(args, "now", None) is not None else SystemClock().now()
    previous = signals.install()
    try:
        handler = {m.__name__.rsplit(".", 1)[1].removesuffix("_cmd"): m for m in _command_modules()}
        return int(handler[args.command].run(args, now=now))
    except SignwireError as e:
        print(f"signwire: error: {e}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        # Commands that write say themselves what an interruption left; this is the rest.
        print("signwire: interrupted", file=sys.stderr)
        return 130
    finally:
        signals.restore(previous)


def entry() -> None:
    """The console script: :func:`main`, then exit without tearing the heap down.

    A big zone leaves millions of small objects behind; freeing them one by one at interpreter
    exit took 2 s of a 50 s run on a million delegations, and the OS reclaims the memory at
    once anyway. Everything that matters is done by then: output files were renamed into
    place and database transactions committed inside ``main``; only the standard streams are
    still buffered, so they are flushed first.
    """
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: nothing more can be said anyway
        code = code or EXIT_FAILURE
    os._exit(code)
