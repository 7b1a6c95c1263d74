"""Writing a signed zone file so that a reader never sees half of one.

The text goes to a temporary file beside the target (through a symlink, to the file it names),
is flushed to disk, and only then renamed over the target: a crash or an error leaves the
previous file (or no file) in place, never a truncated zone that a secondary or a loader could
pick up. :mod:`signwire.storage.files` does the writing. The text itself comes from
:mod:`signwire.publication.zonetext`. ``signwire sign`` (:mod:`signwire.pipeline.offline`) uses
the two phases of :class:`~signwire.storage.files.PendingFile` directly, so that it can verify
the finished file and save the state between them.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TextIO

from signwire.storage.files import atomic_text


@contextlib.contextmanager
def atomic_output(path: str) -> Iterator[TextIO]:
    """Open ``path`` for writing text atomically; ``-`` means standard output."""
    if path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    with atomic_text(path) as f:
        yield f
