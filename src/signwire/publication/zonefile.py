"""Writing a signed zone file so that a reader never sees half of one.

The text goes to a temporary file beside the target, is flushed to disk, and only then renamed
over the target: a crash or an error leaves the previous file (or no file) in place, never a
truncated zone that a secondary or a loader could pick up.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import TextIO


@contextlib.contextmanager
def atomic_output(path: str) -> Iterator[TextIO]:
    """Open ``path`` for writing text atomically; ``-`` means standard output."""
    if path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="latin-1", newline="\n", buffering=1 << 20) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
