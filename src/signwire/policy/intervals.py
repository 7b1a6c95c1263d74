"""The waiting times of RFC 7583, computed from a policy.

A record that starts to be published is in every cache that holds its RRset after the RRset's
TTL plus the propagation delay to every server (RFC 7583 §3.1, "Ipub"); a withdrawn record is
gone from every cache after the same time ("Iret"). The policy's safety margins are added on
top: ``publish_safety`` before a new record counts as everywhere, ``retire_safety`` before a
withdrawn one counts as gone. Both the key enforcer (when may a record change state) and the
policy checks (is a lifetime long enough for a rollover) use these numbers, so they live here.
"""

from __future__ import annotations

from signwire.policy.model import KeyRole, KskRollover, Policy


def dnskey_publish(policy: Policy) -> int:
    """A new DNSKEY (or RRSIG over DNSKEY) is in every cache after this."""
    t = policy.timing
    return t.dnskey_ttl + t.zone_propagation_delay + t.publish_safety


def dnskey_retire(policy: Policy) -> int:
    """A withdrawn DNSKEY (or RRSIG over DNSKEY) is gone from every cache after this."""
    t = policy.timing
    return t.dnskey_ttl + t.zone_propagation_delay + t.retire_safety


def signatures_publish(policy: Policy) -> int:
    """New signatures over zone data are in every cache after this.

    The signer adds them to every RRset in the first version it publishes after a key starts
    signing (no gradual re-signing), so no signing delay ("Dsgn") is added.
    """
    t = policy.timing
    return policy.signature_ttl + t.zone_propagation_delay + t.publish_safety


def signatures_retire(policy: Policy) -> int:
    t = policy.timing
    return policy.signature_ttl + t.zone_propagation_delay + t.retire_safety


def ds_publish(policy: Policy) -> int:
    """After the DS is seen at the parent, it is in every cache after this."""
    t = policy.timing
    return t.parent_ds_ttl + t.parent_propagation_delay + t.publish_safety


def ds_retire(policy: Policy) -> int:
    """After the DS is seen gone from the parent, it is gone from every cache after this."""
    t = policy.timing
    return t.parent_ds_ttl + t.parent_propagation_delay + t.retire_safety


def takeover_lead(policy: Policy, role: KeyRole) -> int:
    """How long before a key's lifetime ends its successor must be created.

    The successor is then ready to take over (its signatures or its DS go out) when the
    lifetime ends, so every key is in charge for about its lifetime and rollovers do not drift.
    A parent that takes longer than its propagation delay to publish a DS delays a KSK or CSK
    takeover by that much.
    """
    if role is KeyRole.KSK and policy.ksk_rollover is KskRollover.DOUBLE_DS:
        return ds_publish(policy)
    return dnskey_publish(policy)


def rollover_steps(policy: Policy, role: KeyRole) -> list[tuple[str, int]]:
    """The waits of one rollover of ``role``, from creating the successor to removing the
    predecessor, each named after the policy values it is made of (for messages)."""
    dk_pub = ("dnskey-ttl + zone-propagation-delay + publish-safety", dnskey_publish(policy))
    dk_ret = ("dnskey-ttl + zone-propagation-delay + retire-safety", dnskey_retire(policy))
    sig_ret = ("max-zone-ttl + zone-propagation-delay + retire-safety", signatures_retire(policy))
    ds_pub = ("parent-ds-ttl + parent-propagation-delay + publish-safety", ds_publish(policy))
    ds_ret = ("parent-ds-ttl + parent-propagation-delay + retire-safety", ds_retire(policy))
    if role is KeyRole.ZSK:
        return [dk_pub, sig_ret, dk_ret]
    if role is KeyRole.KSK and policy.ksk_rollover is KskRollover.DOUBLE_DS:
        return [ds_pub, max(dk_pub, dk_ret, key=lambda s: s[1]), ds_ret]
    if role is KeyRole.KSK:
        return [dk_pub, max(ds_pub, ds_ret, key=lambda s: s[1]), dk_ret]
    return [dk_pub, max(sig_ret, ds_pub, ds_ret, key=lambda s: s[1]), dk_ret]


def rollover_duration(policy: Policy, role: KeyRole) -> int:
    """The shortest time a rollover of ``role`` takes (a prompt parent assumed)."""
    return sum(seconds for _, seconds in rollover_steps(policy, role))
