"""``signwire serve`` with a primary as the zone's source: transfer in, NOTIFY in (TSIG and
address checked), incremental signing of the change, and the change served."""

from __future__ import annotations

import functools
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.tsigkeyring
import pytest
from tests.fake_primary import FakePrimary
from tests.runtime.test_serve import free_port

SECRET = "RFTvNORtEQ8EHFDVhcqh48B1uqKCQqPqE1NBIeCf0dE="
KEYRING = dns.tsigkeyring.from_text({"xfr-key.": ("hmac-sha256", SECRET)})
ZONE = "example.net."
TEXT = """\
$TTL 300
@    IN SOA ns1.example.net. hostmaster.example.net. {serial} 300 60 3600 60
@    IN NS  ns1.example.net.
ns1  IN A   192.0.2.1
www  IN A   192.0.2.80
{extra}
"""


def ask(port: int, name: str, rdtype: str, where: str = "127.0.0.1") -> dns.message.Message:
    q = dns.message.make_query(name, rdtype, want_dnssec=True)
    q.flags &= ~dns.flags.RD
    return dns.query.udp(q, where, port=port, timeout=3)


def wait_until(check: object, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return True
        except (dns.exception.Timeout, OSError, IndexError):
            pass
        time.sleep(0.1)
    return False


Running = tuple[int, FakePrimary, subprocess.Popen[bytes], Path]


@pytest.fixture
def signer(tmp_path: Path) -> Iterator[Running]:
    yield from run_signer(tmp_path, TEXT.format(serial=10, extra=""), "")


@pytest.fixture
def short_timers(tmp_path: Path) -> Iterator[Running]:
    # The primary's SOA says refresh 1 s, retry 1 s, expire 4 s; the bounds let it.
    text = TEXT.format(serial=10, extra="").replace("300 60 3600 60", "1 1 4 60")
    yield from run_signer(tmp_path, text, "min-refresh = 1\nmin-retry = 1\nmin-expire = 1\n")


def run_signer(tmp_path: Path, text: str, zone_extra: str,
               listen: str = "127.0.0.1") -> Iterator[Running]:
    primary = FakePrimary("127.0.0.1", ZONE, KEYRING, "xfr-key.", text)
    port = free_port(listen)
    (tmp_path / "signwire.toml").write_text(f"""
[server]
listen = ["{listen}:{port}"]
state = "state"

[tsig.xfr-key]
secret = "{SECRET}"

[remote.primary]
addresses = ["127.0.0.1:{primary.port}"]
key = "xfr-key"

[acl.any-loopback]
networks = ["127.0.0.0/8"]
key = "xfr-key"

[[zone]]
name = "{ZONE}"
primaries = ["primary"]
allow-transfer = ["any-loopback"]
{zone_extra}""")
    log = tmp_path / "daemon.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "signwire", "serve", "--config", "signwire.toml"],
            stdout=out, stderr=out, cwd=tmp_path)
    try:
        yield port, primary, proc, log
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        primary.close()


def test_queries_and_transfers_leave_from_the_listen_address(tmp_path: Path) -> None:
    """A primary's ACL knows the signer by the address it listens on; the kernel would pick
    127.0.0.1 to reach a primary on 127.0.0.1, whatever signwire listens on."""
    for port, primary, _proc, log in run_signer(
            tmp_path, TEXT.format(serial=10, extra=""), "", listen="127.0.0.9"):
        answered = functools.partial(lambda p: ask(p, ZONE, "SOA", "127.0.0.9").answer, port)
        assert wait_until(answered), log.read_text()
        assert "AXFR" in primary.queries
        assert primary.peers and set(primary.peers) == {"127.0.0.9"}, primary.peers


def test_transfer_in_notify_and_incremental_change(
    signer: tuple[int, FakePrimary, subprocess.Popen[bytes], Path],
) -> None:
    port, primary, proc, log = signer
    assert wait_until(lambda: ask(port, ZONE, "SOA").answer), log.read_text()
    first = ask(port, "www." + ZONE, "A")
    assert first.answer[0][0].address == "192.0.2.80"
    assert "AXFR" in primary.queries
    served = ask(port, ZONE, "SOA").answer[0][0].serial

    # A NOTIFY without the key, and one from an address that is no primary: refused.
    assert primary.notify(port, signed=False) == dns.rcode.REFUSED
    stranger = FakePrimary("127.0.0.2", ZONE, KEYRING, "xfr-key.",
                           TEXT.format(serial=99, extra=""))
    try:
        assert stranger.notify(port) == dns.rcode.REFUSED
    finally:
        stranger.close()

    primary.set_zone(TEXT.format(serial=11, extra="new  IN A 192.0.2.11"))
    started = time.monotonic()
    assert primary.notify(port) == dns.rcode.NOERROR
    assert wait_until(lambda: ask(port, "new." + ZONE, "A").answer[0][0].address
                      == "192.0.2.11"), log.read_text()
    print(f"NOTIFY to the change served signed: {time.monotonic() - started:.3f} s")
    after = ask(port, ZONE, "SOA").answer[0][0].serial
    assert after != served
    text = log.read_text()
    assert "(incremental," in text
    assert "refused: not a configured primary" in text
    assert "refused: not signed" in text
    assert "IXFR" in primary.queries  # IXFR first; the whole zone back was taken as it came
    axfrs = primary.queries.count("AXFR")
    done = subprocess.run(
        [sys.executable, "-m", "signwire", "zone", "retransfer", ZONE, "--config",
         str(log.parent / "signwire.toml")], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert wait_until(lambda: primary.queries.count("AXFR") > axfrs), primary.queries
    assert proc.poll() is None


def test_primary_gone_past_expire_zone_stays_served_and_stale(
    short_timers: Running,
) -> None:
    port, primary, proc, log = short_timers
    assert wait_until(lambda: ask(port, ZONE, "SOA").answer), log.read_text()
    serial = ask(port, ZONE, "SOA").answer[0][0].serial
    primary.close()  # the hidden primary goes away for good
    assert wait_until(lambda: "STALE" in log.read_text(), timeout=20), log.read_text()
    time.sleep(2)  # a few more failed retries
    answer = ask(port, ZONE, "SOA")
    assert answer.rcode() == dns.rcode.NOERROR and answer.answer[0][0].serial == serial
    assert any(r.rdtype == dns.rdatatype.RRSIG for r in answer.answer)
    assert log.read_text().count("STALE") >= 2, "an error at every retry"
    # EDNS EXPIRE (RFC 7314) carries the served SOA's expire (the policy's), never what is
    # left of ours (nothing now): secondaries must not expire with the signer.
    q = dns.message.make_query(ZONE, "SOA", use_edns=0,
                               options=[dns.edns.GenericOption(dns.edns.EXPIRE, b"")])
    answer = dns.query.udp(q, "127.0.0.1", port=port, timeout=3)
    (expire,) = [o for o in answer.options if o.otype == dns.edns.EXPIRE]
    served_soa = next(r for r in answer.answer if r.rdtype == dns.rdatatype.SOA)[0]
    assert int.from_bytes(expire.to_wire(), "big") == served_soa.expire > 4
    status = subprocess.run(
        [sys.executable, "-m", "signwire", "status", "--config", str(log.parent /
                                                                     "signwire.toml")],
        capture_output=True, text=True, timeout=30)
    assert "STALE" in status.stdout and "serving: yes" in status.stdout, status.stdout
    assert proc.poll() is None

    # SIGKILL and restart with the primary still gone: the expiry clock was saved, so the
    # zone is stale at once (a restart does not make it fresh) and served at once.
    proc.kill()
    proc.wait()
    second = log.parent / "daemon2.log"
    with open(second, "wb") as out:
        again = subprocess.Popen(
            [sys.executable, "-m", "signwire", "serve", "--config", "signwire.toml"],
            stdout=out, stderr=out, cwd=log.parent)
    try:
        assert wait_until(lambda: ask(port, ZONE, "SOA").answer[0][0].serial == serial)
        assert wait_until(lambda: "STALE" in second.read_text(), timeout=10), second.read_text()
    finally:
        again.send_signal(signal.SIGTERM)
        assert again.wait(timeout=20) == 0


def test_broken_transfer_rejected_old_version_still_served(signer: Running) -> None:
    port, primary, proc, log = signer
    assert wait_until(lambda: ask(port, ZONE, "SOA").answer), log.read_text()
    served = ask(port, ZONE, "SOA").answer[0][0].serial
    # A record outside the zone in the transfer: refused, whatever the primary says.
    primary.set_zone(TEXT.format(serial=12, extra="new IN A 192.0.2.12"))
    primary.inject = [dns.rrset.from_text("evil.example.org.", 300, "IN", "A", "192.0.2.66")]
    assert primary.notify(port) == dns.rcode.NOERROR
    assert wait_until(lambda: "rejected (ours" in log.read_text()), log.read_text()
    rejected = next(line for line in log.read_text().splitlines() if "rejected (ours" in line)
    assert "127.0.0.1" in rejected and "evil.example.org" in rejected and "12" in rejected
    assert ask(port, ZONE, "SOA").answer[0][0].serial == served
    assert ask(port, "www." + ZONE, "A").answer[0][0].address == "192.0.2.80"
    assert proc.poll() is None
