"""The shipped policies: ``default``, the values every policy starts from, and ``insecure``.

Why these choices:

* ECDSAP256SHA256 (13): a MUST for validators and the recommended signing algorithm of RFC 8624
  §3.1; small keys and signatures keep DNSKEY answers far below fragmentation sizes.
* KSK+ZSK rather than one CSK: the ZSK rolls every 90 days fully automatically, because a ZSK
  rollover never involves the parent; only the KSK has a DS. A CSK would put the parent (and an
  operator or a CDS-scanning registry) in every rollover, so it could not roll routinely without
  that dependency. The KSK's lifetime is unlimited, as in BIND's default policy: it rolls when
  the operator says so (``signwire key roll``), or by itself after a policy change.
* KSK rollovers use double-KSK, the method CDS-scanning parents can follow (RFC 7344 §4.1: the
  new DS is only requested for a key the zone already publishes).
* NSEC3 with no extra iterations and no salt (RFC 9276 §3.1): names are not listed in the clear
  for anyone walking the chain, at no extra hashing cost for validators; no opt-out.
* TTLs and delays: DNSKEY TTL 1h, largest zone TTL 1d (the signer caps TTLs to it), parent DS
  TTL 1d (most TLDs publish 1h-2d; set yours), 5 minutes for secondaries to follow, an hour for
  the parent, an hour of margin either side.
* SOA expire 14 days, negative TTL 1 hour. Signatures live 30 days (less up to 2 days of jitter
  so they do not all expire together) and are refreshed when 16 days remain: a secondary cut off
  from signwire serves its last copy for up to 14 days, resolvers keep those answers up to a
  day longer, and every signature it served must still be valid then (see
  :func:`signwire.policy.parse.feasibility_problems`).
* CDS and CDNSKEY (SHA-256) are published, so parents that scan for them (RFC 7344, RFC 8078)
  follow KSK rollovers by themselves. Outgoing serials increment.

``insecure`` is ``default`` without keys, like BIND's built-in policy of that name: a zone
signed under it is taken back to unsigned over several runs, the DS at the parent first (with
the RFC 8078 delete form of CDS/CDNSKEY), then, once no DS can be cached, everything else. Its
waits are the default's: a zone whose own policy assumed a longer parent DS TTL should go
insecure under a policy ``based-on`` its own with ``keys = "none"`` instead (which also keeps
its parental agents and submission command); ``signwire sign`` refuses the switch otherwise.
"""

from __future__ import annotations

DEFAULT_POLICY_NAME = "default"
INSECURE_POLICY_NAME = "insecure"

DEFAULT_POLICY_TOML = """\
[policy.default]
algorithm = "ECDSAP256SHA256"
keys = "ksk+zsk"              # or "csk"
ksk-lifetime = "unlimited"
zsk-lifetime = "90d"
csk-lifetime = "unlimited"
ksk-rollover = "double-ksk"   # or "double-ds"
# key-size = 2048             # RSA only

dnskey-ttl = "1h"
max-zone-ttl = "1d"
parent-ds-ttl = "1d"
zone-propagation-delay = "5m"
parent-propagation-delay = "1h"
publish-safety = "1h"
retire-safety = "1h"

soa-expire = "14d"
soa-negative-ttl = "1h"
serial = "increment"          # keep | increment | unixtime | datecounter

signature-validity = "30d"
signature-refresh = "16d"
signature-jitter = "2d"
signature-inception-offset = "1h"
dnskey-signature-validity = "30d"

denial = "nsec3"              # or "nsec"
nsec3-iterations = 0
nsec3-salt = ""               # hex; or nsec3-salt-length = 8 with nsec3-resalt = "90d"
nsec3-opt-out = false

cds = true
cdnskey = true
cds-digest-types = ["SHA-256"]
parental-agents = []          # e.g. ["192.0.2.53", "[2001:db8::53]:53"]
# ds-submit-command = ["/usr/local/bin/submit-ds", "example.com."]
"""

INSECURE_POLICY_TOML = """\
[policy.insecure]
keys = "none"                 # every key goes: the DS first, then DNSKEY and signatures
"""
