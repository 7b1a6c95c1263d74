"""What a run does first on a state directory it has just locked: finish what a killed run left.

A SIGKILL between "state saved" and "signed file renamed into place" leaves a row in the
``publications`` table and the finished temporary file beside the target. Finishing the rename
makes the published file the one the state describes (same serial, same keys), instead of
signing again and publishing the same serial with other content.
"""

from __future__ import annotations

from pathlib import Path

from signwire.storage.files import finish_interrupted_rename
from signwire.storage.state import StateStore


def finish_publications(state: StateStore, now: int) -> list[str]:
    """Complete every interrupted publication; returns one message for each that needed it."""
    messages = []
    for pub in state.publications():
        outcome = finish_interrupted_rename(Path(pub.temp), Path(pub.target), pub.inode)
        message = None
        if outcome == "renamed":
            message = (
                f"published serial {pub.serial} to {pub.target}: a run saved it and was "
                "stopped before the rename"
            )
        elif outcome == "lost":
            message = (
                f"warning: serial {pub.serial} was saved for {pub.target}, but the file "
                "written then is no longer there; the next signing publishes a newer serial"
            )
        state.publication_done(pub.zone, message=message, at=now)
        if message is not None:
            messages.append(f"{pub.zone} {message}")
    return messages
