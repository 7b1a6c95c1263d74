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

from pathlib import Path

from signwire.policy.parse import load_policy

from .published import ZONE, fast_policy, read_published
from .resolver_model import History
from .world import cache_times

HOUR = 3600
START = 1_790_000_000
SWITCH = START + 30 * HOUR
END = START + 100 * HOUR
POLICY = fast_policy(zsk_lifetime="unlimited")


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
        found = read_published(out)
        dnskey, key_signers, zone_signers = found.dnskey, found.key_signers, found.zone_signers
        delete, dnssec = found.delete_cds, found.dnssec
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
