"""The DS at the parent: reading parental agents' replies (pure), and the submission command.

Replies are built by hand with dnspython, one per situation an agent can be in: DS there, not
there (NODATA, NXDOMAIN), timed out, SERVFAIL/REFUSED, not authoritative, answering from the
child zone instead of the parent, disagreeing with another agent, serving a longer DS TTL than
the policy assumes. The submission command is a tiny Python script run for real.
"""

from __future__ import annotations

import hashlib
import sys
import textwrap
from pathlib import Path

import dns.dnssec
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest

from signwire.keys.plan import DsGone, DsSeen
from signwire.parent.agents import (
    Answer,
    QueryError,
    agent_label,
    ds_query,
    ds_text,
    expected_ds,
    observe,
    read_answer,
)
from signwire.parent.submit import (
    DsSubmitError,
    command_argv,
    ds_rrset_text,
    stderr_tail,
    submit_ds,
)
from signwire.policy.model import ParentalAgent
from signwire.signing.apex import ds_rdata
from signwire.zones import names

ZONE = "example.test."
A1 = ParentalAgent("127.0.0.1", 5301)
A2 = ParentalAgent("127.0.0.2", 5301)
A3 = ParentalAgent("127.0.0.3", 53)


def dnskey(seed: int, flags: int = 257, algorithm: int = 13) -> bytes:
    public = hashlib.sha512(bytes([seed])).digest()  # 64 octets, as for ECDSA P-256
    return flags.to_bytes(2, "big") + bytes((3, algorithm)) + public


OLD = expected_ds(ZONE, dnskey(1), [2])
NEW = expected_ds(ZONE, dnskey(2), [2])
EXPECTED = {"old": OLD, "new": NEW}


def reply(
    *ds: bytes,
    zone: str = ZONE,
    ttl: int = 3600,
    rcode: dns.rcode.Rcode = dns.rcode.NOERROR,
    aa: bool = True,
    soa_owner: str | None = "test.",
) -> Answer:
    """An agent's reply to the DS query; without ``ds``, a negative answer with an SOA."""
    response = dns.message.make_response(ds_query(zone))
    response.set_rcode(rcode)
    if aa:
        response.flags |= dns.flags.AA
    if ds:
        rrset = dns.rrset.RRset(dns.name.from_text(zone), dns.rdataclass.IN, dns.rdatatype.DS)
        for rd in ds:
            rrset.add(dns.rdata.from_wire(dns.rdataclass.IN, dns.rdatatype.DS, rd, 0, len(rd)), ttl)
        response.answer.append(rrset)
    elif soa_owner is not None:
        response.authority.append(
            dns.rrset.from_text(
                soa_owner, 300, "IN", "SOA", f"ns.{soa_owner} host.{soa_owner} 1 3600 600 86400 60"
            )
        )
    return Answer(response)


# --- the question ------------------------------------------------------------------------------


def test_ds_query_asks_for_ds_without_recursion_with_edns():
    q = ds_query(names.from_text(ZONE, None), query_id=4242)
    assert q.id == 4242
    assert q.question[0].name == dns.name.from_text(ZONE)
    assert q.question[0].rdtype == dns.rdatatype.DS
    assert not q.flags & dns.flags.RD
    assert q.edns == 0 and q.payload == 1232


def test_expected_ds_matches_dnspython_and_the_signer():
    key = dnskey(7)
    sha256, sha384 = expected_ds(ZONE, key, [2, 4])
    rd = dns.rdata.from_wire(dns.rdataclass.IN, dns.rdatatype.DNSKEY, key, 0, len(key))
    assert sha256 == dns.dnssec.make_ds(ZONE, rd, "SHA256").to_digestable()
    assert sha384 == dns.dnssec.make_ds(ZONE, rd, "SHA384").to_digestable()
    tag = dns.dnssec.key_id(rd)  # type: ignore[arg-type]
    assert sha256 == ds_rdata(names.from_text(ZONE, None), key, tag, 13)
    assert ds_text(sha384).startswith(f"{tag} 13 4 ")


def test_agent_labels_read_like_the_policy():
    assert agent_label(ParentalAgent("192.0.2.1")) == "192.0.2.1"
    assert agent_label(ParentalAgent("192.0.2.1", 5353)) == "192.0.2.1:5353"
    assert agent_label(ParentalAgent("2001:db8::1", 5353)) == "[2001:db8::1]:5353"


# --- seen, gone, undecided --------------------------------------------------------------------


def test_seen_only_when_every_agent_serves_the_ds():
    obs = observe(ZONE, EXPECTED, {A1: reply(*OLD), A2: reply(*OLD)})
    assert obs.seen == {"old"}
    assert obs.gone == {"new"}
    assert obs.unanimous
    assert obs.problems == ()
    assert obs.events() == [DsSeen("old"), DsGone("new")]
    assert obs.ds_ttl == 3600


def test_rollover_with_both_ds_at_the_parent():
    both = (*OLD, *NEW)
    obs = observe(ZONE, EXPECTED, {A1: reply(*both), A2: reply(*both), A3: reply(*both)})
    assert obs.seen == {"old", "new"} and obs.gone == set()
    assert obs.unanimous


@pytest.mark.parametrize("rcode", [dns.rcode.NOERROR, dns.rcode.NXDOMAIN])
def test_gone_when_no_agent_has_it_nodata_or_nxdomain(rcode):
    obs = observe(ZONE, EXPECTED, {A1: reply(rcode=rcode), A2: reply()})
    assert obs.seen == set()
    assert obs.gone == {"old", "new"}
    assert obs.unanimous
    assert obs.ds_ttl is None
    assert obs.problems == ()


def test_disagreement_leaves_the_key_undecided_and_names_the_agents():
    obs = observe(ZONE, EXPECTED, {A1: reply(*OLD, *NEW), A2: reply(*OLD)})
    assert obs.seen == {"old"}
    assert "new" not in obs.gone
    assert not obs.unanimous
    (line,) = obs.problems
    assert "key new" in line and "disagree" in line
    assert "DS at 127.0.0.1:5301, not at 127.0.0.2:5301" in line


def test_an_agent_that_timed_out_blocks_every_decision():
    obs = observe(ZONE, EXPECTED, {A1: reply(*OLD), A2: QueryError("no answer within 3 s")})
    assert obs.seen == set() and obs.gone == set()
    assert not obs.unanimous
    assert obs.problems == (
        "parental agent 127.0.0.2:5301: no usable answer (no answer within 3 s)",
    )
    assert obs.events() == []


@pytest.mark.parametrize(
    ("rcode", "said"),
    [(dns.rcode.SERVFAIL, "answered SERVFAIL"), (dns.rcode.REFUSED, "answered REFUSED (is it")],
)
def test_servfail_or_refused_leaves_keys_undecided(rcode, said):
    obs = observe(ZONE, EXPECTED, {A1: reply(), A2: reply(rcode=rcode, soa_owner=None)})
    assert obs.seen == set() and obs.gone == set()
    (line,) = obs.problems
    assert line.startswith("parental agent 127.0.0.2:5301: ")
    assert said in line


def test_a_reply_without_aa_does_not_count():
    obs = observe(ZONE, EXPECTED, {A1: reply(*OLD, aa=False), A2: reply(*OLD)})
    assert obs.seen == set()
    (line,) = obs.problems
    assert "127.0.0.1:5301" in line and "without the AA flag" in line


def test_an_agent_serving_the_child_zone_is_not_believed():
    # NODATA with the child's own SOA: the server is authoritative for example.test., not test.
    obs = observe(ZONE, EXPECTED, {A1: reply(soa_owner=ZONE), A2: reply()})
    assert obs.gone == set()
    (line,) = obs.problems
    assert "127.0.0.1:5301" in line
    assert "from zone example.test., not from a parent" in line


def test_a_reply_to_another_question_does_not_count():
    other = reply(*OLD, zone="other.test.")
    view = read_answer(dns.name.from_text(ZONE), A1, other)
    assert view.ds is None
    assert view.problem is not None and "not example.test. DS" in view.problem


def test_a_cname_instead_of_ds_does_not_count():
    answer = reply()
    answer.response.answer.append(dns.rrset.from_text(ZONE, 60, "IN", "CNAME", "elsewhere."))
    obs = observe(ZONE, EXPECTED, {A1: answer})
    assert obs.gone == set()
    assert "answered with example.test. CNAME instead of DS" in obs.problems[0]


def test_no_agents_means_no_decision():
    obs = observe(ZONE, EXPECTED, {})
    assert obs.seen == set() and obs.gone == set() and not obs.unanimous
    assert obs.problems == ("no parental agents configured for example.test.: cannot check the DS",)


def test_names_compare_without_case_and_zone_may_be_wire():
    wire = names.from_text("EXAMPLE.Test.", None)
    obs = observe(wire, EXPECTED, {A1: reply(*OLD, zone="example.TEST.")})
    assert obs.seen == {"old"}


def test_expected_records_may_be_dnspython_rdata():
    def parsed(rd: bytes) -> dns.rdata.Rdata:
        return dns.rdata.from_wire(dns.rdataclass.IN, dns.rdatatype.DS, rd, 0, len(rd))

    as_rdata = {key: [parsed(rd) for rd in rds] for key, rds in EXPECTED.items()}
    assert observe(ZONE, as_rdata, {A1: reply(*NEW)}).seen == {"new"}


# --- digests, unknown DS, TTL -----------------------------------------------------------------


def test_any_listed_digest_type_counts():
    sha256, sha384 = expected_ds(ZONE, dnskey(1), [2, 4])
    obs = observe(ZONE, {"old": [sha256, sha384]}, {A1: reply(sha384), A2: reply(sha256)})
    assert obs.seen == {"old"}
    assert not obs.unanimous  # the agents serve different RRsets, though both have the key


def test_a_ds_of_our_key_with_an_unlisted_digest_is_explained():
    (sha384,) = expected_ds(ZONE, dnskey(1), [4])
    obs = observe(ZONE, {"old": OLD}, {A1: reply(sha384), A2: reply(sha384)})
    assert obs.seen == set()
    assert obs.gone == {"old"}
    assert obs.unknown_ds == (ds_text(sha384),)
    (line,) = obs.problems
    assert line.startswith("key old: the parent has DS ") and "digest the policy expects" in line


def test_unknown_ds_on_one_agent_only_is_a_disagreement():
    stranger = expected_ds(ZONE, dnskey(9), [2])
    obs = observe(ZONE, EXPECTED, {A1: reply(*OLD, *stranger), A2: reply(*OLD)})
    assert obs.seen == {"old"} and obs.gone == {"new"}
    assert not obs.unanimous
    assert obs.unknown_ds == (ds_text(stranger[0]),)
    (line,) = obs.problems
    assert "no known key" in line and "at 127.0.0.1:5301" in line


def test_a_longer_ds_ttl_than_the_policy_assumes_is_a_problem():
    obs = observe(
        ZONE, EXPECTED, {A1: reply(*OLD, ttl=7200), A2: reply(*OLD, ttl=3600)}, parent_ds_ttl=3600
    )
    assert obs.seen == {"old"}
    assert obs.ds_ttl == 7200
    (line,) = obs.problems
    assert line.startswith("parent serves DS TTL 7200, policy assumes 3600")
    assert "127.0.0.1:5301" in line


def test_a_shorter_ds_ttl_is_fine():
    obs = observe(ZONE, EXPECTED, {A1: reply(*OLD, ttl=600)}, parent_ds_ttl=3600)
    assert obs.ds_ttl == 600
    assert obs.problems == ()


# --- the submission command -------------------------------------------------------------------


def script(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "submit.py"
    path.write_text(textwrap.dedent(body))
    return [sys.executable, str(path)]


def test_ds_rrset_text_is_zone_file_lines_in_a_stable_order():
    text = ds_rrset_text(names.from_text(ZONE, None), [*NEW, *OLD, *NEW], ttl=3600)
    lines = text.splitlines()
    assert len(lines) == 2
    assert lines == sorted(lines, key=lambda line: line.split()[4])  # ordered by RDATA
    assert all(line.startswith("example.test. 3600 IN DS ") for line in lines)
    assert {line.split(" ", 4)[4] for line in lines} == {ds_text(OLD[0]), ds_text(NEW[0])}
    assert ds_rrset_text(ZONE, [], ttl=60) == ""


def test_submit_passes_the_ds_rrset_on_stdin(tmp_path):
    record = tmp_path / "got.txt"
    argv = script(
        tmp_path,
        f"""
        import os, sys
        data = sys.stdin.read()
        args = " ".join(sys.argv[1:])
        open({str(record)!r}, "w").write(os.environ["SIGNWIRE_ZONE"] + "|" + args + "|" + data)
        print("accepted")
        """,
    )
    result = submit_ds([*argv, "--zone", "example.test.;rm -rf /"], ZONE, [*OLD, *NEW], ttl=3600)
    assert result.returncode == 0
    assert result.stdout == "accepted\n"
    zone, args, data = record.read_text().split("|")
    assert zone == "example.test."
    assert args == "--zone example.test.;rm -rf /"  # one word, never seen by a shell
    assert data == ds_rrset_text(ZONE, [*OLD, *NEW], ttl=3600)


def test_a_command_string_is_split_into_words_without_a_shell(tmp_path):
    record = tmp_path / "args.txt"
    argv = script(
        tmp_path,
        f"""
        import sys
        open({str(record)!r}, "w").write("\\n".join(sys.argv[1:]))
        """,
    )
    command = " ".join(argv) + " 'two words' $HOME"
    assert command_argv(command) == (*argv, "two words", "$HOME")
    submit_ds(command, ZONE, OLD, ttl=60)
    assert record.read_text().splitlines() == ["two words", "$HOME"]


def test_a_failing_command_reports_exit_status_and_stderr(tmp_path):
    argv = script(
        tmp_path,
        """
        import sys
        sys.stdin.read()
        print("noise " * 3, file=sys.stderr)
        print("registrar said: DS digest rejected", file=sys.stderr)
        sys.exit(3)
        """,
    )
    with pytest.raises(DsSubmitError) as info:
        submit_ds(argv, ZONE, OLD, ttl=3600)
    err = info.value
    assert err.returncode == 3
    assert "failed with exit status 3" in str(err)
    assert str(err).endswith("registrar said: DS digest rejected")
    assert "ds-submit-command " + argv[0] in str(err)


def test_a_missing_program_is_a_clear_error(tmp_path):
    with pytest.raises(DsSubmitError, match=r"cannot run ds-submit-command .*nope"):
        submit_ds([str(tmp_path / "nope")], ZONE, OLD, ttl=3600)


def test_a_command_that_hangs_is_killed_at_the_time_limit(tmp_path):
    argv = script(
        tmp_path,
        """
        import sys, time
        print("working", file=sys.stderr, flush=True)
        time.sleep(30)
        """,
    )
    with pytest.raises(DsSubmitError, match=r"did not finish within 0.5 s.*working"):
        submit_ds(argv, ZONE, OLD, ttl=3600, timeout=0.5)


def test_empty_commands_are_refused():
    with pytest.raises(DsSubmitError, match="empty"):
        command_argv("   ")
    with pytest.raises(DsSubmitError, match="closing quotation"):
        command_argv("submit 'unbalanced")


def test_stderr_tail_keeps_the_last_lines():
    text = "".join(f"line {i}\n" for i in range(50))
    tail = stderr_tail(text)
    assert tail.splitlines() == [f"line {i}" for i in range(40, 50)]
