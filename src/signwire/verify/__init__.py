"""Independent verification of a signed zone (the review before a version is published).

Built on its own lean reader, ``cryptography`` and dnspython, sharing nothing with the signer's
fast path. Entry points: :func:`verify_zone` (a file), :func:`verify_text`, :func:`verify_contents`
(read by the full reader), :func:`verify_change` (what differs between two versions) and
:func:`load_anchors`.
"""

from signwire.verify.anchors import TrustAnchor, load_anchors
from signwire.verify.change import ChangeReport, verify_change
from signwire.verify.report import Counts, Problem, Severity, VerifyReport
from signwire.verify.zone_verifier import verify_contents, verify_text, verify_zone

__all__ = [
    "ChangeReport",
    "Counts",
    "Problem",
    "Severity",
    "TrustAnchor",
    "VerifyReport",
    "load_anchors",
    "verify_change",
    "verify_contents",
    "verify_text",
    "verify_zone",
]
