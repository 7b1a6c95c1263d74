"""Policies from TOML: the shipped default, value forms, and every refusal naming its keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from signwire.policy.model import (
    DenialKind,
    KeyLayout,
    KeyRole,
    KskRollover,
    ParentalAgent,
    PolicyError,
    TsigKey,
)
from signwire.policy.parse import (
    builtin_policies,
    check_algorithms,
    default_policy,
    load_policies,
    load_policy,
    parse_policy,
)
from signwire.zones.serial import SerialRule

DAY = 86400


def refused(table: dict[str, Any], name: str = "p") -> PolicyError:
    with pytest.raises(PolicyError) as info:
        parse_policy(name, table, source="conf.toml")
    return info.value


# --- the shipped default -----------------------------------------------------------------------


def test_default_policy_values() -> None:
    p = default_policy()
    assert p.name == "default"
    assert p.layout is KeyLayout.KSK_ZSK
    assert [(k.role, k.algorithm, k.size, k.lifetime) for k in p.keys] == [
        (KeyRole.KSK, 13, 256, None),
        (KeyRole.ZSK, 13, 256, 90 * DAY),
    ]
    assert p.ksk_rollover is KskRollover.DOUBLE_KSK
    assert p.denial.kind is DenialKind.NSEC3
    assert (p.denial.iterations, p.denial.salt, p.denial.opt_out) == (0, b"", False)
    assert p.parent.cds and p.parent.cdnskey and p.parent.digest_types == (2,)
    assert p.soa.serial is SerialRule.INCREMENT
    assert p.signatures.refresh >= p.soa.expire + p.timing.max_zone_ttl
    assert p.source == "<built-in>"


def test_builtin_policies_are_default_and_insecure() -> None:
    assert list(builtin_policies()) == ["default", "insecure"]


def test_a_policy_starts_from_default() -> None:
    p = parse_policy("short", {"zsk-lifetime": "30d"})
    assert p.spec(KeyRole.ZSK) is not None
    assert p.spec(KeyRole.ZSK).lifetime == 30 * DAY  # type: ignore[union-attr]
    assert p.timing == default_policy().timing


# --- value forms -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(7200, 7200), ("2h", 7200), ("120m", 7200), ("PT2H", 7200), ("1h60m", 7200), ("7200", 7200)],
)
def test_duration_forms(value: Any, seconds: int) -> None:
    assert parse_policy("p", {"dnskey-ttl": value}).timing.dnskey_ttl == seconds


def test_iso_days_and_unlimited_lifetime() -> None:
    p = parse_policy("p", {"zsk-lifetime": "P60D", "ksk-lifetime": "365d"})
    assert [k.lifetime for k in p.keys] == [365 * DAY, 60 * DAY]
    p = parse_policy("p", {"keys": "csk", "csk-lifetime": "unlimited"})
    assert [(k.role, k.lifetime) for k in p.keys] == [(KeyRole.CSK, None)]


def test_algorithm_by_name_or_number_and_rsa_size() -> None:
    assert parse_policy("p", {"algorithm": "ed25519"}).algorithm == 15
    p = parse_policy("p", {"algorithm": 8, "key-size": 3072})
    assert [(k.algorithm, k.size) for k in p.keys] == [(8, 3072), (8, 3072)]
    assert parse_policy("p", {"algorithm": "RSASHA256"}).keys[0].size == 2048


def test_nsec_and_nsec3_options() -> None:
    assert parse_policy("p", {"denial": "nsec"}).denial.kind is DenialKind.NSEC
    d = parse_policy(
        "p", {"nsec3-salt-length": 8, "nsec3-resalt": "30d", "nsec3-opt-out": True}
    ).denial
    assert (d.salt_length, d.resalt, d.opt_out) == (8, 30 * DAY, True)
    assert parse_policy("p", {"nsec3-salt": "AABB"}).denial.salt == b"\xaa\xbb"


def test_parent_options() -> None:
    p = parse_policy(
        "p",
        {
            "parental-agents": ["192.0.2.1", "192.0.2.2:5353", "2001:db8::1", "[2001:db8::2]:54"],
            "cds-digest-types": ["SHA-384", "sha256", 2],
            "ds-submit-command": "/usr/bin/submit --zone 'example com'",
        },
    )
    assert p.parent.parental_agents == (
        ParentalAgent("192.0.2.1", 53),
        ParentalAgent("192.0.2.2", 5353),
        ParentalAgent("2001:db8::1", 53),
        ParentalAgent("2001:db8::2", 54),
    )
    assert p.parent.digest_types == (4, 2)
    assert p.parent.ds_submit_command == ("/usr/bin/submit", "--zone", "example com")


# --- refusals ----------------------------------------------------------------------------------


def test_signature_refresh_must_outlive_soa_expire_plus_ttl() -> None:
    err = refused({"signature-refresh": "10d", "soa-expire": "14d", "max-zone-ttl": "1d"})
    text = str(err)
    assert text.startswith("conf.toml: policy 'p': signature-refresh, soa-expire, max-zone-ttl: ")
    assert "signature-refresh (1w3d) must be at least soa-expire (2w) + max-zone-ttl (1d)" in text
    assert err.path == "conf.toml" and err.policy == "p"
    assert err.key == "signature-refresh, soa-expire, max-zone-ttl"


def test_refresh_bound_counts_the_negative_ttl_and_dnskey_ttl() -> None:
    err = refused({"signature-refresh": "15d", "soa-negative-ttl": "2d", "max-zone-ttl": "1d"})
    assert "soa-negative-ttl (2d)" in str(err)
    err = refused({"signature-refresh": "15d", "dnskey-ttl": "2d"})
    assert "dnskey-ttl (2d)" in str(err)


def test_validity_minus_jitter_must_exceed_refresh() -> None:
    err = refused({"signature-validity": "17d", "signature-jitter": "2d"})
    assert "signature-validity (2w3d) minus signature-jitter (2d)" in str(err)
    err = refused({"dnskey-signature-validity": "16d"})
    assert err.key == "dnskey-signature-validity, signature-jitter, signature-refresh"


def test_lifetime_shorter_than_a_rollover_is_refused() -> None:
    err = refused({"zsk-lifetime": "1d"})
    assert err.key == "zsk-lifetime"
    assert "shorter than a ZSK rollover takes (1d5h15m" in str(err)
    assert "dnskey-ttl + zone-propagation-delay + publish-safety (2h5m)" in str(err)
    err = refused({"keys": "csk", "csk-lifetime": "1d"})
    assert err.key == "csk-lifetime"


def test_unknown_key_gets_a_suggestion() -> None:
    err = refused({"dnskey_ttl": "1h"})
    assert "unknown key 'dnskey_ttl' (did you mean 'dnskey-ttl'?)" in str(err)
    assert err.key == "dnskey_ttl"


@pytest.mark.parametrize(
    ("table", "key", "words"),
    [
        ({"algorithm": "RSASHA1"}, "algorithm", "unsupported DNSSEC algorithm 'RSASHA1'"),
        ({"algorithm": "DSA"}, "algorithm", "RFC 8624"),
        ({"algorithm": "RSASHA256", "key-size": 1024}, "key-size", "too weak"),
        ({"algorithm": "ECDSAP256SHA256", "key-size": 384}, "key-size", "always 256 bits"),
        ({"nsec3-iterations": 150}, "nsec3-iterations", "RFC 9276"),
        ({"nsec3-salt": "xyz"}, "nsec3-salt", "not hex"),
        (
            {"nsec3-salt": "AA", "nsec3-salt-length": 4, "nsec3-resalt": "1d"},
            "nsec3-salt, nsec3-salt-length",
            "not both",
        ),
        ({"nsec3-salt-length": 4}, "nsec3-resalt", "needs nsec3-resalt"),
        ({"nsec3-resalt": "10d"}, "nsec3-resalt", "nsec3-salt-length > 0"),
        ({"cds-digest-types": ["SHA-1"]}, "cds-digest-types", "RFC 8624"),
        ({"cds-digest-types": []}, "cds-digest-types", "must be a list"),
        ({"parental-agents": ["ns1.example."]}, "parental-agents", "not an IP address"),
        ({"parental-agents": ["192.0.2.1:99999"]}, "parental-agents", "not an IP address"),
        ({"keys": "csk", "ksk-rollover": "double-ds"}, "ksk-rollover", "ksk+zsk"),
        ({"keys": "ksk"}, "keys", "must be one of 'ksk+zsk', 'csk'"),
        ({"serial": "date"}, "serial", "'datecounter'"),
        ({"dnskey-ttl": -5}, "dnskey-ttl", "negative"),
        ({"dnskey-ttl": 0}, "dnskey-ttl", "at least 1s"),
        ({"dnskey-ttl": 2**31}, "dnskey-ttl", "RFC 2181"),
        ({"dnskey-ttl": "soon"}, "dnskey-ttl", "not a duration"),
        ({"zsk-lifetime": 0}, "zsk-lifetime", "unlimited"),
        ({"cds": "yes"}, "cds", "true or false"),
        ({"ds-submit-command": []}, "ds-submit-command", "non-empty"),
    ],
)
def test_refusals_name_the_key(table: dict[str, Any], key: str, words: str) -> None:
    err = refused(table)
    assert err.key == key
    assert words in str(err)
    assert str(err).startswith(f"conf.toml: policy 'p': {key}")


def test_several_problems_are_reported_together() -> None:
    err = refused({"nsec3-iterations": 500, "cds": 1})
    assert "nsec3-iterations:" in str(err) and "cds:" in str(err)


def test_check_algorithms_against_a_key_store() -> None:
    p = parse_policy("p", {"algorithm": "ED448"})
    check_algorithms(p, {13, 16}, "softhsm")
    with pytest.raises(PolicyError) as info:
        check_algorithms(p, {8, 13}, "softhsm")
    offers = "(it offers: RSASHA256, ECDSAP256SHA256)"
    assert f"key store softhsm cannot make ED448 keys {offers}" in str(info.value)
    assert info.value.key == "algorithm"


# --- files -------------------------------------------------------------------------------------


def test_load_policies_from_a_config_file(tmp_path: Path) -> None:
    conf = tmp_path / "signwire.toml"
    conf.write_text(
        '[policy.fast]\nzsk-lifetime = "30d"\n\n'
        '[policy.rsa]\nbased-on = "fast"\nalgorithm = "RSASHA256"\n\n'
        '[policy.default]\ndnskey-ttl = "2h"\n'
    )
    policies = load_policies(conf)
    assert set(policies) == {"fast", "rsa", "default"}
    assert policies["rsa"].algorithm == 8
    assert policies["rsa"].keys[1].lifetime == 30 * DAY  # inherited from "fast"
    assert policies["rsa"].timing.dnskey_ttl == 2 * 3600  # "fast" is based on this file's default
    assert policies["fast"].source == str(conf)
    assert load_policy("default", conf).timing.dnskey_ttl == 2 * 3600


def test_a_one_policy_file_is_named_after_the_file(tmp_path: Path) -> None:
    f = tmp_path / "ed.toml"
    f.write_text('algorithm = "ED25519"\nkeys = "csk"\n')
    p = load_policy("ed", f)
    assert (p.name, p.algorithm, p.layout) == ("ed", 15, KeyLayout.CSK)


def test_builtin_default_when_the_file_lacks_it(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('[policy.other]\nalgorithm = "ED25519"\n')
    assert load_policy("default", f) == default_policy()
    with pytest.raises(
        PolicyError, match=r"policy 'nope': no such policy; known: default, insecure, other"
    ):
        load_policy("nope", f)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[policy.x\n")
    with pytest.raises(PolicyError, match=r"bad\.toml: not valid TOML"):
        load_policies(bad)
    with pytest.raises(PolicyError, match=r"missing\.toml: cannot read"):
        load_policies(tmp_path / "missing.toml")
    loop = tmp_path / "loop.toml"
    loop.write_text('[policy.a]\nbased-on = "b"\n[policy.b]\nbased-on = "a"\n')
    with pytest.raises(PolicyError, match=r"based-on loops: a -> b -> a"):
        load_policies(loop)
    orphan = tmp_path / "orphan.toml"
    orphan.write_text('[policy.a]\nbased-on = "zzz"\n')
    with pytest.raises(PolicyError, match=r"orphan\.toml: policy 'a': based-on: .*'zzz'"):
        load_policies(orphan)


def test_a_policy_directory_holds_one_policy_per_file(tmp_path):
    from signwire.policy.parse import load_policies, load_policy

    (tmp_path / "slow.toml").write_text('algorithm = "ED25519"\nzsk-lifetime = "180d"\n')
    (tmp_path / "more.toml").write_text('[policy.csk]\nkeys = "csk"\n')
    (tmp_path / "notes.txt").write_text("not a policy")
    policies = load_policies(tmp_path)
    assert set(policies) == {"slow", "csk"}
    assert load_policy("slow", tmp_path).algorithm == 15
    (tmp_path / "again.toml").write_text('[policy.slow]\nalgorithm = "ED448"\n')
    with pytest.raises(PolicyError, match="defined twice"):
        load_policies(tmp_path)


# --- going insecure: a policy without keys ------------------------------------------------------


def test_the_builtin_insecure_policy_has_no_keys() -> None:
    p = load_policy("insecure")
    assert (p.name, p.layout, p.keys, p.algorithm, p.insecure) == (
        "insecure",
        KeyLayout.NONE,
        (),
        None,
        True,
    )
    # Everything else is the default's: the zone stays signed (and its signatures fresh)
    # under it until the DS is gone.
    d = default_policy()
    assert (p.timing, p.signatures, p.denial, p.parent) == (
        d.timing,
        d.signatures,
        d.denial,
        d.parent,
    )
    assert not d.insecure and p.source == "<built-in>"


def test_keys_none_on_top_of_ones_own_policy(tmp_path: Path) -> None:
    conf = tmp_path / "signwire.toml"
    conf.write_text(
        '[policy.mine]\nparent-ds-ttl = "2d"\nparental-agents = ["192.0.2.1"]\n'
        'ds-submit-command = ["/bin/true"]\n\n'
        '[policy.bye]\nbased-on = "mine"\nkeys = "none"\n'
    )
    bye = load_policy("bye", conf)
    assert bye.insecure and bye.keys == ()
    assert bye.timing.parent_ds_ttl == 2 * DAY
    assert bye.parent.parental_agents == (ParentalAgent("192.0.2.1"),)
    assert bye.parent.ds_submit_command == ("/bin/true",)
    # A keyless policy ignores key settings, but still refuses impossible signing values.
    assert parse_policy("x", {"keys": "none", "zsk-lifetime": "1h"}).keys == ()
    err = refused({"keys": "none", "signature-refresh": "1d"})
    assert err.key.startswith("signature-refresh")


def test_a_policy_file_may_define_its_own_insecure(tmp_path: Path) -> None:
    conf = tmp_path / "p.toml"
    conf.write_text('[policy.insecure]\nkeys = "none"\nparent-ds-ttl = "3d"\n')
    assert load_policy("insecure", conf).timing.parent_ds_ttl == 3 * DAY
    assert load_policy("insecure").timing.parent_ds_ttl == DAY


# --- TSIG for the parental agents ---------------------------------------------------------------

SECRET = "c2lnbndpcmUtdGVzdC1zZWNyZXQtMzItb2N0ZXRzISE="  # 32 octets


def test_agents_as_tables_with_tsig(tmp_path: Path) -> None:
    conf = tmp_path / "conf" / "p.toml"
    conf.parent.mkdir()
    conf.write_text(
        "[policy.p]\nparental-agents = [\n"
        '  "192.0.2.1",\n'
        '  { address = "192.0.2.2", port = 5353, tsig = { name = "Parent-Key", '
        f'secret = "{SECRET}" }} }},\n'
        '  { address = "2001:db8::3", tsig = { name = "k2.", algorithm = "HMAC-SHA512", '
        'secret-file = "keys/k2.key" } },\n'
        '  { address = "192.0.2.4" },\n'
        "]\n"
    )
    agents = load_policy("p", conf).parent.parental_agents
    assert agents[0] == ParentalAgent("192.0.2.1", 53, None)
    assert agents[1].port == 5353 and agents[1].tsig is not None
    assert (agents[1].tsig.name, agents[1].tsig.algorithm) == ("parent-key.", "hmac-sha256")
    assert agents[1].tsig.secret is not None and len(agents[1].tsig.secret) == 32
    assert agents[2].tsig == TsigKey("k2.", "hmac-sha512", None, str(conf.parent / "keys/k2.key"))
    assert agents[3] == ParentalAgent("192.0.2.4", 53)


def test_a_tsig_secret_never_shows() -> None:
    p = parse_policy(
        "p",
        {"parental-agents": [{"address": "192.0.2.2", "tsig": {"name": "k", "secret": SECRET}}]},
    )
    assert SECRET not in repr(p) and "secret=" not in repr(p.parent.parental_agents[0])
    for bad in ("not base64 at all!", "c2hvcnQ="):  # junk, and a 5-octet secret
        err = refused(
            {"parental-agents": [{"address": "192.0.2.2", "tsig": {"name": "k", "secret": bad}}]}
        )
        assert bad not in str(err)
        assert err.key == "parental-agents"


@pytest.mark.parametrize(
    ("agent", "words"),
    [
        ({"address": "ns1.example."}, "not an IP address"),
        ({"address": "192.0.2.1", "port": 0}, "port must be a number from 1 to 65535"),
        ({"port": 53}, "needs address"),
        ({"address": "192.0.2.1", "key": "x"}, "unknown field(s) 'key'"),
        ({"address": "192.0.2.1", "tsig": "k"}, "tsig must be a table"),
        ({"address": "192.0.2.1", "tsig": {"secret": SECRET}}, "tsig needs the key's name"),
        ({"address": "192.0.2.1", "tsig": {"name": "k"}}, "exactly one of secret"),
        (
            {"address": "192.0.2.1", "tsig": {"name": "k", "secret": SECRET, "secret-file": "f"}},
            "exactly one of secret",
        ),
        (
            {
                "address": "192.0.2.1",
                "tsig": {"name": "k", "algorithm": "hmac-md5", "secret": SECRET},
            },
            "RFC 8945",
        ),
        (
            {
                "address": "192.0.2.1",
                "tsig": {"name": "k", "algorithm": "hmac-sha1", "secret": SECRET},
            },
            "must not be used any more",
        ),
        (
            {
                "address": "192.0.2.1",
                "tsig": {"name": "k", "algorithm": "gss-tsig", "secret": SECRET},
            },
            "must be one of hmac-sha256",
        ),
        (
            {"address": "192.0.2.1", "tsig": {"name": "k", "secret": "c2hvcnQ="}},
            "is 5 octets; use at least 16",
        ),
        ({"address": "192.0.2.1", "tsig": {"name": "k", "secret": "%%%"}}, "not valid base64"),
        ({"address": "192.0.2.1", "tsig": {"name": "a..b", "secret": SECRET}}, "empty label"),
        (
            {"address": "192.0.2.1", "tsig": {"name": "k", "secret": SECRET, "fudge": 5}},
            "unknown field(s) 'fudge'",
        ),
    ],
)
def test_agent_tables_refused(agent: dict[str, Any], words: str) -> None:
    err = refused({"parental-agents": ["192.0.2.9", agent]})
    assert err.key == "parental-agents"
    assert words in str(err)
    assert "agent 2" in str(err)
