"""``signwire state backup|restore``: backups of a state directory that restore whole.

``backup`` takes the state directory's lock (no signing run changes keys halfway through the
copy) and writes one tar file with the database and every key file
(:mod:`signwire.storage.backup`). ``restore`` checks the archive, refuses to replace a state
that has zones unless told to, adds the key files and puts the database in place; it never
deletes a key.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from signwire.cli.now_option import add_now_option
from signwire.errors import SignwireError
from signwire.storage import backup as backups
from signwire.storage.files import check_private_directory
from signwire.storage.lock import DEFAULT_WAIT, StateLock
from signwire.storage.state import StateStore

EXIT_OK, EXIT_FAILURE = 0, 3


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "state",
        help="back up or restore a state directory (keys included)",
        description="Back up a state directory (database and key files, one tar file) or "
        "restore one.",
        epilog="exit codes: 0 done, 2 usage error, 3 the backup or restore failed (nothing "
        "was changed by a failed restore)",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    b = actions.add_parser(
        "backup",
        help="write the state and its key files to one tar file (mode 0600)",
        description="Write the state database (a consistent copy) and every key file to "
        "FILE. Keys on an HSM are not in it: back the token up with its own tools.",
    )
    b.add_argument("file", metavar="FILE")
    r = actions.add_parser(
        "restore",
        help="restore a state directory from a backup",
        description="Restore FILE into the state directory: key files are added (never "
        "removed), and the state database is put in place; the one it replaces is kept as "
        "state.sqlite.before-restore.",
    )
    r.add_argument("file", metavar="FILE")
    r.add_argument(
        "--force", action="store_true", help="replace a state that already has zones"
    )
    for a in (b, r):
        a.add_argument("--state", required=True, metavar="DIR", help="the state directory")
        a.add_argument(
            "--lock-wait",
            type=float,
            default=DEFAULT_WAIT,
            metavar="SECONDS",
            help="how long to wait for another signwire using the state directory",
        )
        add_now_option(a)


def run(args: argparse.Namespace, now: int) -> int:
    try:
        if args.action == "backup":
            with (
                StateLock(args.state, wait=args.lock_wait),
                StateStore(args.state, create=False) as state,
            ):
                summary = backups.backup(state, args.file, now)
            print(
                f"backed up {len(summary.zones)} zone(s) and {summary.key_files} key file(s) "
                f"to {args.file}"
            )
        else:
            check_private_directory(args.state, "state directory")
            Path(args.state).mkdir(mode=0o700, parents=True, exist_ok=True)
            with StateLock(args.state, wait=args.lock_wait):
                summary = backups.restore(args.file, args.state, force=args.force)
            for zone in summary.zones:
                print(
                    f"restored {zone['name']}: policy {zone['policy']}, serial {zone['serial']}, "
                    f"{zone['keys']} key(s)"
                )
            print(f"{summary.key_files} key file(s) added to {args.state}")
        for zone_name in summary.hsm_zones:
            print(f"note: the keys of {zone_name} are on an HSM; back up or restore the token "
                  "with its own tools")
        return EXIT_OK
    except (SignwireError, OSError) as e:
        print(f"signwire state: error: {e}", file=sys.stderr)
        return EXIT_FAILURE
