"""The result of verifying a signed zone: a list of problems and a few counts.

A :class:`Problem` names where (owner name and type) and what is wrong, with a severity: an
*error* makes the zone unfit to publish, a *warning* is something an operator should look at
(a signature close to expiry, RFC 9276 NSEC3 parameters, an RFC 9077 TTL) but that validators
accept. The report is plain data; printing it is the command line's business.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import dns.name
import dns.rdatatype


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    severity: Severity
    owner: str
    """Owner name in presentation format, absolute (``www.example.com.``)."""
    rdtype: str
    """The record type concerned (``A``, ``NSEC3``, ``RRSIG`` …), or ``-`` for a whole name."""
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.owner} {self.rdtype}: {self.message}"


@dataclass(slots=True)
class Counts:
    rrsets_checked: int = 0
    """Authoritative RRsets whose signatures were checked."""
    signatures_checked: int = 0
    """RRSIG records examined (fields, validity period and cryptography)."""
    nsec_records: int = 0
    nsec3_records: int = 0


@dataclass(slots=True)
class VerifyReport:
    origin: str
    problems: list[Problem] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)
    denial: str = "none"
    """The denial-of-existence method the zone uses: ``NSEC``, ``NSEC3`` or ``none``."""

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.WARNING]

    @property
    def ok(self) -> bool:
        """True when the zone has no errors (warnings do not make it invalid)."""
        return not any(p.severity is Severity.ERROR for p in self.problems)


class ProblemLog:
    """Collects problems while the checks run; one per module would only repeat this."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def error(self, owner: dns.name.Name | str, rdtype: str, message: str) -> None:
        self.problems.append(Problem(Severity.ERROR, _owner_text(owner), rdtype, message))

    def warning(self, owner: dns.name.Name | str, rdtype: str, message: str) -> None:
        self.problems.append(Problem(Severity.WARNING, _owner_text(owner), rdtype, message))


def type_text(rdtype: int) -> str:
    """Mnemonic of a type number (``TYPE65534`` for unknown ones)."""
    return dns.rdatatype.to_text(dns.rdatatype.RdataType.make(rdtype))


def _owner_text(owner: dns.name.Name | str) -> str:
    return owner if isinstance(owner, str) else owner.to_text()
