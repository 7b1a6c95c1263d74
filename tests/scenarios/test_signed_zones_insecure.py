"""The zone files ``signwire sign --policy insecure`` writes, step by step, checked by the
resolver model: a zone signed under a fast policy, secured at the parent, then switched to the
built-in ``insecure`` policy and signed every hour, as from cron.

The parent is a CDS-scanning one (RFC 8078 §4): an hour after a served file carries the delete
form of CDS/CDNSKEY, it removes the DS RRset, and a checker reports that with ``key ds-gone``.
Every file becomes a version in the model (its DNSKEY RRset, the signers of the DNSKEY RRset
and of the data, nothing at all once unsigned) and every DS RRset of the parent a parent
version; at every instant every cached mix must validate or be insecure by the zone's choice.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import dns.dnssec
import dns.rdatatype
import dns.zone

from signwire.policy.parse import load_policy

from .resolver_model import History
from .world import cache_times

HOUR = 3600
START = 1_790_000_000
SWITCH = START + 30 * HOUR
END = START + 100 * HOUR
POLICY = textwrap.dedent(
    """\
    [policy.fast]
    algorithm = "ECDSAP256SHA256"
    denial = "nsec"
    dnskey-ttl = "1h"
    max-zone-ttl = "2h"
    soa-negative-ttl = "30m"
    parent-ds-ttl = "3h"
    zone-propagation-delay = "10m"
    parent-propagation-delay = "30m"
    publish-safety = "10m"
    retire-safety = "10m"
    zsk-lifetime = "unlimited"
    ksk-lifetime = "unlimited"
    """
)
ZONE = textwrap.dedent(
    """\
    $ORIGIN example.test.
    $TTL 3600
    @    SOA ns1 hostmaster 1 3600 900 604800 1800
    @    NS  ns1
    ns1  A   192.0.2.1
    www  A   192.0.2.80
    *.w  TXT "wild"
    """
)
DNSSEC_TYPES = {
    dns.rdatatype.DNSKEY, dns.rdatatype.RRSIG, dns.rdatatype.NSEC, dns.rdatatype.NSEC3,
    dns.rdatatype.NSEC3PARAM, dns.rdatatype.CDS, dns.rdatatype.CDNSKEY,
}


def read_version(path: Path) -> tuple[set[str], set[str], set[str], bool, bool]:
    """(DNSKEY tags, DNSKEY RRset signers, data signers, delete-form CDS present, any DNSSEC
    record at all) of a file the signer wrote."""
    zone = dns.zone.from_file(str(path), origin="example.test.", relativize=False)
    dnskey: set[str] = set()
    key_signers: set[str] = set()
    data_sets: list[set[str]] = []
    delete = False
    dnssec = False
    for _name, node in zone.nodes.items():
        for rds in node.rdatasets:
            dnssec |= rds.rdtype in DNSSEC_TYPES
            if rds.rdtype == dns.rdatatype.DNSKEY:
                dnskey |= {str(dns.dnssec.key_id(r)) for r in rds}
            if rds.rdtype == dns.rdatatype.CDS:
                delete |= any(r.algorithm == 0 and r.digest_type == 0 for r in rds)
            if rds.rdtype != dns.rdatatype.RRSIG:
                continue
            by_type: dict[int, set[str]] = {}
            for sig in rds:
                by_type.setdefault(sig.type_covered, set()).add(str(sig.key_tag))
            for covered, tags in by_type.items():
                if covered in (dns.rdatatype.DNSKEY, dns.rdatatype.CDS, dns.rdatatype.CDNSKEY):
                    key_signers |= tags
                else:
                    data_sets.append(tags)
    # Every RRset is signed by the same keys (or, unsigned, by none).
    assert all(s == data_sets[0] for s in data_sets), data_sets
    return dnskey, key_signers, data_sets[0] if data_sets else set(), delete, dnssec


def test_every_version_on_the_way_to_unsigned_validates(tmp_path: Path, signwire) -> None:
    (tmp_path / "p.toml").write_text(POLICY)
    (tmp_path / "z.zone").write_text(ZONE)
    # The parent really serves the DS with the fast policy's TTL; `insecure` assumes more.
    history = History(cache_times(load_policy("fast", tmp_path / "p.toml")))
    state, out = tmp_path / "state", tmp_path / "z.signed"

    def cli(*args: object, now: int) -> str:
        done = signwire(*args, "--state", state, "--now", str(now))
        assert done.code == 0, done.err
        return done.out + done.err

    parent_ds: set[str] = set()
    delete_seen_at: int | None = None
    versions: list[tuple[int, bool, bool]] = []  # (time, delete CDS, any DNSSEC)
    now = START
    while now < END:
        policy = "fast" if now < SWITCH else "insecure"
        said = cli(
            "sign", tmp_path / "z.zone", "--origin", "example.test.", "--policy", policy,
            "--policy-file", tmp_path / "p.toml", "-o", out, "-j", "1", now=now,
        )
        dnskey, key_signers, zone_signers, delete, dnssec = read_version(out)
        for tag in dnskey | key_signers | zone_signers:
            history.algorithms[tag] = 13
        history.publish_zone(now, dnskey, key_signers, zone_signers)
        versions.append((now, delete, dnssec))

        if policy == "fast":
            # Before the switch the operator hands the parent the DS the signer prints.
            wanted = {
                line.split()[-4] for line in said.splitlines()
                if line.startswith("DS for the parent:")
            }
            for tag in wanted - parent_ds:
                cli("key", "ds-seen", "example.test.", tag, now=now)
            if wanted != parent_ds:
                history.publish_ds(now, wanted)
                parent_ds = wanted
        elif delete and parent_ds:
            # The scanner finds the delete form and acts an hour later.
            if delete_seen_at is None:
                delete_seen_at = now
            elif now >= delete_seen_at + HOUR:
                history.publish_ds(now, set(), by_design=True)
                for tag in sorted(parent_ds):
                    cli("key", "ds-gone", "example.test.", tag, now=now)
                parent_ds = set()
        now += HOUR

    failures = history.failures(START, END + 2 * 24 * HOUR)
    assert not failures, "\n".join(map(str, failures[:5]))

    secured = [t for t, _, dnssec in versions if dnssec]
    assert history.parent[1].ds and history.parent[1].start < SWITCH  # it was secure
    dropped = history.parent[-1]
    assert dropped.ds == frozenset() and dropped.by_design
    # The delete form from the switch until the zone went unsigned, then nothing at all.
    unsigned_from = min(t for t, _, dnssec in versions if t > SWITCH and not dnssec)
    assert all(delete == (SWITCH <= t < unsigned_from) for t, delete, _ in versions)
    assert all(not dnssec for t, _, dnssec in versions if t >= unsigned_from)
    assert max(secured) < unsigned_from
    # The built-in policy waits its own parent-ds-ttl (1d) + 1h + 1h after the DS is gone.
    assert unsigned_from - dropped.start >= 26 * HOUR
    listed = cli("key", "list", "example.test.", now=END)
    assert "insecure: no keys left; the zone is published unsigned" in listed
    retired = list((state / "keys" / "example.test" / "retired").glob("K*.private"))
    assert len(retired) == 2
