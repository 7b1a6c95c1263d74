"""What the signer publishes, read from the key states: the enforcer-to-signer contract.

The signer takes a :class:`SigningInstructions` and must publish exactly this in its next
signed version (and keep it until the instructions change):

* a DNSKEY record for each key in ``dnskey``;
* over the DNSKEY RRset, and over CDS and CDNSKEY, one RRSIG by each key in ``dnskey_signers``;
* over every other authoritative RRset (NSEC/NSEC3 included), one RRSIG by each key in
  ``zone_signers``, on *every* RRset of the first version after the set changes (the enforcer
  counts the signature TTL from that moment: no gradual re-signing);
* CDS records (one per digest type) for the keys in ``cds`` and CDNSKEY records for those in
  ``cdnskey`` (RFC 7344); nothing when empty;
* with ``cds_delete``, instead, the RFC 8078 §4 delete form of both ("CDS 0 0 0 00" and
  "CDNSKEY 0 3 0 AA=="), signed like the DNSKEY RRset: the zone is going insecure and asks the
  parent to remove every DS. It is published while any DS of the zone is being withdrawn
  (UNRETENTIVE), and goes, with the DNSKEYs it is signed by, once none can be cached.

When every tuple is empty and ``cds_delete`` is off, no key is left: the zone is published
unsigned (no DNSKEY, RRSIG, NSEC, NSEC3, NSEC3PARAM, CDS or CDNSKEY; see :attr:`unsigned`).

A signer key may appear in a ``*_signers`` list while its DNSKEY is not in ``dnskey``: a new
algorithm signs before its DNSKEY appears (RFC 6781 §4.1.4), and a retiring key's signatures
may outlive its DNSKEY for a TTL. Those signatures are harmless to validators and required for
safety; they must not be dropped.

``ds`` is the DS RRset the parent should publish, for a submission command or an operator.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from signwire.keys.keystate import KeyState, RecordState, RecordType
from signwire.policy.model import Policy


@dataclass(frozen=True, slots=True)
class SigningInstructions:
    dnskey: tuple[str, ...]
    dnskey_signers: tuple[str, ...]
    zone_signers: tuple[str, ...]
    ds: tuple[str, ...]
    cds: tuple[str, ...]
    cdnskey: tuple[str, ...]
    cds_digest_types: tuple[int, ...]
    cds_delete: bool = False

    @property
    def unsigned(self) -> bool:
        """Nothing to publish or sign with: the zone goes out unsigned."""
        return not (self.key_ids or self.cds_delete)

    @property
    def key_ids(self) -> frozenset[str]:
        """Every key whose material the signer needs (public part or private part)."""
        return frozenset(
            (*self.dnskey, *self.dnskey_signers, *self.zone_signers, *self.cds, *self.cdnskey)
        )


def signing_view(keys: Iterable[KeyState], policy: Policy | None = None) -> SigningInstructions:
    """The records the key states say are published now (RUMOURED or OMNIPRESENT).

    With a ``policy``, CDS and CDNSKEY follow its ``cds``/``cdnskey`` switches and digest types;
    without one, both are published with SHA-256. A policy without keys publishes the delete
    form instead, while a DS of the zone is on its way out (either switch on is enough: the
    two delete records only ever go together).
    """
    ordered = sorted(keys, key=lambda k: (k.created_at, k.key_id))

    def published(kind: RecordType) -> tuple[str, ...]:
        return tuple(k.key_id for k in ordered if k.state(kind).published)

    ds = published(RecordType.DS)
    cds_on = policy.parent.cds if policy is not None else True
    cdnskey_on = policy.parent.cdnskey if policy is not None else True
    delete = (
        policy is not None
        and policy.insecure
        and (cds_on or cdnskey_on)
        and any(k.state(RecordType.DS) is not RecordState.HIDDEN for k in ordered)
    )
    if delete:
        # RFC 8078 §4: the delete form stands alone, never beside CDS for a key.
        cds_on = cdnskey_on = False
    return SigningInstructions(
        dnskey=published(RecordType.DNSKEY),
        dnskey_signers=published(RecordType.KRRSIG),
        zone_signers=published(RecordType.ZRRSIG),
        ds=ds,
        cds=ds if cds_on else (),
        cdnskey=ds if cdnskey_on else (),
        cds_digest_types=policy.parent.digest_types if policy is not None else (2,),
        cds_delete=delete,
    )
