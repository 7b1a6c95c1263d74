"""The ``--now`` option every command takes: act as if it were that time.

Operators use it to rehearse ("what would the enforcer do next week?"), tests to make output
reproducible. Pure code never reads the clock, so this is the only place a run's time is set.
"""

from __future__ import annotations

import argparse
import calendar
import time


def epoch_or_timestamp(text: str) -> int:
    """``--now`` takes seconds since the epoch or YYYYMMDDHHMMSS (UTC)."""

    if len(text) == 14 and text.isdigit():
        return calendar.timegm(time.strptime(text, "%Y%m%d%H%M%S"))
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not epoch seconds or YYYYMMDDHHMMSS"
        ) from None


def add_now_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--now",
        type=epoch_or_timestamp,
        metavar="TIME",
        help="act as if the time were TIME (epoch seconds or YYYYMMDDHHMMSS, UTC); "
        "for reproducible output and tests",
    )
