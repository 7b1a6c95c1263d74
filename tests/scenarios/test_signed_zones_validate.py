"""The zone files ``signwire sign --policy`` writes, step by step, checked by the resolver model.

The other scenarios check the enforcer's key states. This one checks what reaches the wire:
every signed file is read back with dnspython, its DNSKEY RRset and the signers of its RRSIGs
become a version in the model's history, and the DS records the signer asks for become the
parent's versions. At every instant, every mix of cached records must validate, across ZSK
rollovers by lifetime and a KSK rollover started by the operator.
"""

from __future__ import annotations

from signwire.policy.parse import load_policy

from .published import ZONE, fast_policy, read_published
from .resolver_model import History
from .world import cache_times

HOUR = 3600
START = 1_790_000_000
POLICY = fast_policy(zsk_lifetime="2d")


def test_every_published_version_validates(tmp_path, signwire):
    (tmp_path / "p.toml").write_text(POLICY)
    (tmp_path / "z.zone").write_text(ZONE)
    policy = load_policy("fast", tmp_path / "p.toml")
    history = History(cache_times(policy))
    state, out = tmp_path / "state", tmp_path / "z.signed"
    parent_ds: set[str] = set()
    seen_zsks: set[str] = set()
    ksk_tags: set[str] = set()
    now = START
    end = START + 9 * 24 * HOUR
    while now < end:
        if now == START + 3 * 24 * HOUR:
            code, _, err = signwire(
                *["key", "roll", "example.test.", "ksk", "--state", str(state), "--now", str(now)]
            )
            assert code == 0, err
        code, _, err = signwire(
            *[
                "sign",
                str(tmp_path / "z.zone"),
                "--origin",
                "example.test.",
                "--policy",
                "fast",
                "--policy-file",
                str(tmp_path / "p.toml"),
                "--state",
                str(state),
                "-o",
                str(out),
                "--now",
                str(now),
                "-j",
                "1",
            ]
        )
        assert code == 0, err
        found = read_published(out)
        dnskey, key_signers, zone_signers = found.dnskey, found.key_signers, found.zone_signers
        for tag in dnskey | zone_signers:
            history.algorithms[tag] = 13
        history.publish_zone(now, dnskey, key_signers, zone_signers)
        seen_zsks |= zone_signers
        ksk_tags |= key_signers

        # The parent follows the DS records the signer asks for, and the operator confirms.
        wanted = {
            line.split()[-4] for line in err.splitlines() if line.startswith("DS for the parent:")
        }
        for tag in wanted - parent_ds:
            signwire(
                *["key", "ds-seen", "example.test.", tag, "--state", str(state), "--now", str(now)]
            )
        for tag in parent_ds - wanted:
            signwire(
                *["key", "ds-gone", "example.test.", tag, "--state", str(state), "--now", str(now)]
            )
        if wanted != parent_ds:
            history.publish_ds(now, wanted)
            parent_ds = wanted
        now += HOUR

    failures = history.failures(START, end + 2 * 24 * HOUR)
    assert not failures, "\n".join(map(str, failures[:5]))
    assert len(seen_zsks) >= 4, f"expected several ZSK rollovers, saw ZSKs {seen_zsks}"
    assert len(ksk_tags) == 2, f"expected one KSK rollover, saw KSKs {ksk_tags}"
    assert len(parent_ds) == 1 and parent_ds <= ksk_tags
