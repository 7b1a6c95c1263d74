"""Independent verification of a signed zone (the review before a version is published).

Built on dnspython, sharing nothing with the signer's fast path. Entry points:
:func:`verify_zone` (a file), :func:`verify_contents` (already read) and :func:`load_anchors`.
"""

from signwire.verify.anchors import TrustAnchor, load_anchors
from signwire.verify.report import Counts, Problem, Severity, VerifyReport
from signwire.verify.zone_verifier import verify_contents, verify_zone

__all__ = [
    "Counts",
    "Problem",
    "Severity",
    "TrustAnchor",
    "VerifyReport",
    "load_anchors",
    "verify_contents",
    "verify_zone",
]
