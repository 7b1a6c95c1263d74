"""Signature refresh: which RRsets need new RRSIGs now, and re-signing them as a new version.

An RRSIG is due for replacement at ``expiration - refresh`` (a policy's
``signatures.refresh``; :func:`~signwire.signing.versioned.default_refresh` without one). Due
times come spread: every signing run gives each RRset an expiration jittered by a hash of its
owner and type (:class:`~signwire.signing.rrsig.SigTiming`), so the RRsets of a zone signed in
one go fall due over the jitter window rather than in one second, and re-signing an RRset when
it falls due puts its next due time at the same place in the next window. A signer that calls
:func:`refresh` at each :attr:`Signed.next_resign_at` (or every so often, with ``ahead`` to
batch what falls due soon) therefore never re-signs the whole zone at one moment.

Each refresh is a new version (new SOA serial, SOA signed again) and a signed diff, like any
other change, so secondaries pick it up by IXFR.
"""

from __future__ import annotations

from signwire.policy.model import Policy
from signwire.signing.context import SignFns
from signwire.signing.incremental import RRsetKey, resign
from signwire.signing.keyset import SigningKeys
from signwire.signing.options import SigningOptions
from signwire.signing.schedule import covered, expiration
from signwire.signing.versioned import Signed
from signwire.zones.diff import Diff
from signwire.zones.rrtypes import RRSIG


def policy_refresh(policy: Policy) -> int:
    """The refresh period a policy sets (``signature-refresh``), for ``sign_full(refresh=...)``."""
    return policy.signatures.refresh


def due(signed: Signed, now: int) -> list[RRsetKey]:
    """The RRsets (owner's canonical key, type) with an RRSIG whose refresh point
    (expiration - refresh) is ``now`` or earlier, earliest names first."""
    refresh = signed.schedule.refresh
    version = signed.version
    out: list[RRsetKey] = []
    for key in signed.schedule.due_keys(now):
        i = version.index(key)
        if i is None:  # cannot happen for a schedule kept with its version; be safe
            continue
        types = sorted(
            {
                covered(rd)
                for t, _, rd in version.node_at(i)[1]
                if t == RRSIG and expiration(rd) - refresh <= now
            }
        )
        out.extend((key, t) for t in types)
    return out


def refresh(
    signed: Signed,
    keys: SigningKeys,
    options: SigningOptions,
    now: int,
    *,
    ahead: int = 0,
    previous_serial: int | None = None,
    signers: SignFns | None = None,
) -> tuple[Signed, Diff | None]:
    """Re-sign what is due at ``now + ahead``; the new version and its diff, or ``signed``
    itself and None when nothing is due. Keys or options that changed since ``signed`` are
    taken into account as :func:`~signwire.signing.incremental.incremental` does."""
    rrsets = due(signed, now + ahead)
    if not rrsets and keys == signed.keys and options == signed.options:
        return signed, None
    return resign(signed, rrsets, keys, options, now, previous_serial, signers=signers)


def next_due(signed: Signed) -> int | None:
    """When :func:`refresh` next has work to do."""
    return signed.next_resign_at
