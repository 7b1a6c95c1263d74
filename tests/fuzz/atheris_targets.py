"""Coverage-guided fuzzing (atheris, libFuzzer) of what the daemon does with bytes from outside.

    python tests/fuzz/atheris_targets.py TARGET [libFuzzer options] [CORPUS_DIR ...]
    python tests/fuzz/atheris_targets.py TARGET CRASH_FILE ...      # replay inputs, no fuzzing

Targets, each a contract that a crash report breaks:

``responder``
    Any bytes as a query to :func:`signwire.publication.responder.respond`, over UDP and over
    TCP, with no TSIG key configured and with one (the zones then demand it for transfers), and
    once more re-signed with that key (so the fuzzer gets past the MAC check). The responder
    never raises: it answers (FORMERR, REFUSED, ...) or drops. Every answer is a response to
    the query (same ID, QR set), one datagram at most over UDP within our UDP size, every
    message within 64 KiB, and dnspython can read it.
``notify_in``
    Any bytes to :func:`signwire.loading.notify_in.read_notify` (keys configured or not): a
    :class:`Notify` or :class:`NotifyError`; a Notify must then give its event and be answered
    (accepted and refused) by :func:`notify_answer` with a response to it.
``xfr_in``
    The transfer client (:class:`signwire.loading.xfr_in.XfrClient`) after a real AXFR or IXFR
    query (the first input octet picks which, from which serial, with a TSIG key or not), fed
    the rest of the input as a TCP stream of length-prefixed answer messages. Each message is
    taken or refused with :class:`TransferError`; a finished transfer's steps must turn into
    diffs.
``control``
    Any bytes as request lines on the control socket (:class:`ControlServer` with the daemon's
    own command handler, a daemon with two zones and its state): one JSON object answer with
    ``ok`` per line, and no request that makes the handler fail with an unexpected exception
    (logged as "control request failed").

Anything else that is raised is a crash: atheris prints "Uncaught Python exception", writes the
input to a ``crash-*`` file (``-artifact_prefix``) and exits non-zero. Seeds (real messages and
requests, built here) are written to the first corpus folder given, or a temporary one
(``TMPDIR``; it stays, as does the control target's daemon folder: libFuzzer ends the
process without cleaning up).
``tests/fuzz/test_atheris.py`` runs each target for a bounded number of runs.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import struct
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import atheris

with atheris.instrument_imports(include=["signwire", "dns"]):
    import dns.edns
    import dns.flags
    import dns.message
    import dns.name
    import dns.opcode
    import dns.rdataclass
    import dns.rdatatype
    import dns.rrset
    import dns.tsig
    import dns.zone

    from signwire.control.protocol import MAX_LINE
    from signwire.loading.notify_in import NotifyError, notify_answer, read_notify
    from signwire.loading.xfr_in import (
        Diffs,
        FullZone,
        TcpFramer,
        TransferError,
        UpToDate,
        XfrClient,
        make_query,
        sign_message,
    )
    from signwire.publication.journal import Journal
    from signwire.publication.responder import Limits, ServedZone, respond, zone_map
    from signwire.runtime.control_server import ControlServer
    from signwire.zones.diff import diff
    from signwire.zones.version import ZoneVersion

HERE = Path(__file__).resolve().parent
NOW = 1_767_225_600 + 3600  # inside the signatures' validity; the seeds are signed at NOW
PEER = "127.0.0.2"
ACL = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
KEY_NAME = "xfr-key."
KEY = dns.tsig.Key(KEY_NAME, "c2lnbndpcmUgdGVzdCBrZXkgZm9yIHRyYW5zZmVycyE=", "hmac-sha256")
WRONG = dns.tsig.Key(KEY_NAME, "b3RoZXIgc2VjcmV0IG9mIHRoZSBzYW1lIGtleSBuYW1l", "hmac-sha256")
UNKNOWN = dns.tsig.Key("nobody.", "c2lnbndpcmUgdGVzdCBrZXkgZm9yIHRyYW5zZmVycyE=", "hmac-sha256")
KEYS = {KEY_NAME: KEY}
UDP_SIZE = Limits().udp_payload
XFR_ID = 4711


# --- the zones served ----------------------------------------------------------------------


def _wire(name: dns.name.Name) -> bytes:
    wire = name.to_wire()
    assert wire is not None
    return wire


def load_version(origin: str) -> ZoneVersion:
    """A zone signed by ldns-signzone (NSEC for example.test., NSEC3 opt-out with salt and
    iterations for nsec3.test.), read with dnspython as the responder's tests do."""
    name = dns.name.from_text(origin)
    z = dns.zone.from_file(str(HERE / "zones" / f"{origin}signed"), name, relativize=False)
    recs = []
    for owner, node in z.nodes.items():
        for rds in node.rdatasets:
            for rd in rds:
                recs.append((_wire(owner), int(rds.rdtype), rds.ttl, rd.to_wire()))
    return ZoneVersion.from_records(_wire(name), recs)


def bump(
    version: ZoneVersion,
    serial: int,
    extra: list[tuple[bytes, int, int, bytes]],
    drop: Callable[[tuple[bytes, int, int, bytes]], bool] = lambda r: False,
) -> ZoneVersion:
    recs = []
    for rr in version.records():
        if rr[1] == 6:
            rr = (rr[0], 6, rr[2], rr[3][:-20] + struct.pack("!I", serial) + rr[3][-16:])
        if not drop(rr):
            recs.append(rr)
    return ZoneVersion.from_records(version.origin, recs + extra)


def _history() -> tuple[list[ZoneVersion], Journal]:
    v1 = load_version("example.test.")
    new = _wire(dns.name.from_text("new.example.test."))
    newer = _wire(dns.name.from_text("newer.example.test."))
    mail = _wire(dns.name.from_text("mail.example.test."))
    v2 = bump(v1, 2026010102, [(new, 1, 300, bytes((192, 0, 2, 77)))])
    v3 = bump(
        v2, 2026010103, [(newer, 16, 300, b"\x03abc")], drop=lambda r: r[0] == mail and r[1] == 1
    )
    journal = Journal()
    journal.append(diff(v1, v2))
    journal.append(diff(v2, v3))
    return [v1, v2, v3], journal


VERSIONS, JOURNAL = _history()
NSEC3 = load_version("nsec3.test.")
SERIALS = [v.serial for v in VERSIONS]
ORIGIN_WIRE = VERSIONS[0].origin

# Two daemons' worth of zones: everything open and no key, or transfers of example.test.
# only signed with KEY and nsec3.test. as a hidden signer (SOA and transfers only).
OPEN = zone_map([ServedZone(VERSIONS[-1], JOURNAL, ACL), ServedZone(NSEC3, None, ACL)])
KEYED = zone_map(
    [
        ServedZone(VERSIONS[-1], JOURNAL, ACL, KEY_NAME),
        ServedZone(NSEC3, None, ACL, None, answer_queries=False),
    ]
)
# Small TCP messages, so that a transfer takes several (and the TSIG chain runs over them).
SMALL = Limits(tcp_message=1200)


# --- contracts -------------------------------------------------------------------------------


class ContractError(AssertionError):
    """A handler returned something it must not: reported as a crash with this message."""


def check_answers(query: bytes, answers: object, tcp: bool) -> None:
    if not isinstance(answers, list):
        raise ContractError(f"respond returned {type(answers).__name__}, not a list")
    if not tcp and len(answers) > 1:
        raise ContractError(f"{len(answers)} UDP answers to one datagram")
    for answer in answers:
        if not isinstance(answer, bytes) or len(answer) < 12:
            raise ContractError(f"answer is not a DNS message: {answer!r}")
        if answer[:2] != query[:2] or not answer[2] & 0x80:
            raise ContractError("answer does not carry the query's ID and QR")
        if len(answer) > (65535 if tcp else UDP_SIZE):
            raise ContractError(f"answer of {len(answer)} octets (tcp={tcp})")
        try:
            dns.message.from_wire(
                answer, keyring=False, one_rr_per_rrset=True, continue_on_error=False
            )
        except dns.message.Truncated:
            pass  # TC set: dnspython raises, after reading what there is
        except Exception as e:
            raise ContractError(f"our answer does not parse: {e!r}: {answer.hex()}") from e


def fuzz_responder(data: bytes) -> None:
    for zones, keys in ((OPEN, {}), (KEYED, KEYS)):
        for tcp in (False, True):
            check_answers(data, respond(data, PEER, zones, keys, NOW, tcp=tcp, limits=SMALL), tcp)
    # The same bytes signed with the configured key: past the MAC check, into what a key
    # holder can make the responder do.
    if len(data) >= 12 and data[10:12] != b"\xff\xff":
        signed, _ = sign_message(data, KEY, NOW, int.from_bytes(data[:2], "big"))
        for tcp in (False, True):
            check_answers(signed, respond(signed, PEER, KEYED, KEYS, NOW, tcp=tcp), tcp)


def fuzz_notify_in(data: bytes) -> None:
    for keys in ({}, KEYS):
        try:
            notify = read_notify(data, keys, NOW)
        except NotifyError:
            continue
        notify.event(PEER)
        for refused in (False, True):
            answer = notify_answer(notify, refused=refused, now=NOW)
            if not isinstance(answer, bytes) or len(answer) < 12:
                raise ContractError(f"NOTIFY answer is not a DNS message: {answer!r}")
            if answer[:2] != data[:2] or not answer[2] & 0x80:
                raise ContractError("NOTIFY answer does not carry the query's ID and QR")


def xfr_mode(first: int) -> tuple[int | None, dns.tsig.Key | None]:
    """The query of a run, from the input's first octet: bit 0 a TSIG key; bits 1-3: AXFR
    (0, 1, 2, 3) or IXFR from the oldest, middle or newest serial, or one the journal does
    not have."""
    key = KEY if first & 1 else None
    which = (first >> 1) & 7
    serial = None if which < 4 else [*SERIALS, 2026010001][which - 4]
    return serial, key


def fuzz_xfr_in(data: bytes) -> None:
    if not data:
        return
    serial, key = xfr_mode(data[0])
    query = make_query(ORIGIN_WIRE, serial=serial, msg_id=XFR_ID, now=NOW, key=key)
    client = XfrClient(ORIGIN_WIRE, query, peer=PEER, key=key)
    framer = TcpFramer()
    result = None
    try:
        for wire in framer.feed(data[1:]):
            result = client.feed(wire, NOW)
            if result is not None:
                break
        end = client.end_of_stream()
    except TransferError:
        return
    if result is not None and end is not result:
        raise ContractError("end_of_stream gives another result than feed")
    if isinstance(end, Diffs):
        for step in end.steps:
            step.to_diff()
    elif isinstance(end, FullZone):
        if not end.records or end.records[0][1] != 6:
            raise ContractError("a full zone that does not start with its SOA")
    elif not isinstance(end, UpToDate):
        raise ContractError(f"transfer result {end!r}")


# --- the control socket ----------------------------------------------------------------------


class _Writer:
    def __init__(self) -> None:
        self.out = bytearray()

    def write(self, data: bytes) -> None:
        self.out += data

    async def drain(self) -> None:
        return None

    def close(self) -> None:
        return None


class _Failures(logging.Handler):
    """Collects what the control server logs with a traceback: a handler that failed."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.records.append(record)


_control: dict[str, Any] = {}


def _control_setup() -> None:
    """A daemon (its state in a temporary folder, nothing started) whose command handler
    answers behind a ControlServer that is never bound to a socket."""
    # Imported here, instrumented too: only this target needs the daemon.
    with atheris.instrument_imports(include=["signwire"]):
        from signwire.runtime.daemon import Daemon

    folder = Path(tempfile.mkdtemp(prefix="signwire-fuzz-control-"))
    (folder / "example.test.zone").write_text(
        "$ORIGIN example.test.\n@ 3600 SOA ns hm 1 7200 3600 1209600 600\n@ NS ns\nns A 192.0.2.1\n"
    )
    (folder / "c.toml").write_text(f"""
[server]
listen = ["127.0.0.1:5399"]
state = "{folder / "state"}"
[tsig.k]
secret = "c2lnbndpcmUgdGVzdCBrZXkgZm9yIHRyYW5zZmVycyE="
[remote.p]
addresses = ["127.0.0.1:5398"]
key = "k"
[[zone]]
name = "example.net."
primaries = ["p"]
[[zone]]
name = "example.test."
file = "{folder / "example.test.zone"}"
""")
    daemon = Daemon(str(folder / "c.toml"), clock=lambda: NOW)
    daemon._open_state()
    daemon._build_keyring()
    for zc in daemon.config.zones:
        zr = daemon._make_zone(zc, NOW)
        daemon.zones[zr.config.name] = zr
    daemon._spawn = lambda coro: coro.close()  # type: ignore[method-assign]
    failures = _Failures()
    log = logging.getLogger("signwire")
    log.addHandler(failures)
    log.setLevel(logging.ERROR)
    log.propagate = False
    _control.update(
        daemon=daemon,
        failures=failures,
        loop=asyncio.new_event_loop(),
        server=ControlServer(folder / "control.sock", daemon.command),
    )


def fuzz_control(data: bytes) -> None:
    if not _control:
        _control_setup()
    server: ControlServer = _control["server"]
    failures: _Failures = _control["failures"]
    writer = _Writer()

    async def talk() -> None:
        reader = asyncio.StreamReader(limit=MAX_LINE)
        reader.feed_data(data)
        reader.feed_eof()
        await server._client(reader, writer)  # type: ignore[arg-type]

    _control["loop"].run_until_complete(talk())
    if failures.records:
        record = failures.records[0]
        failures.records.clear()
        assert record.exc_info is not None and record.exc_info[1] is not None
        raise record.exc_info[1]
    lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    answers = bytes(writer.out).split(b"\n")
    if answers[-1] != b"" or len(answers) - 1 != lines:
        raise ContractError(f"{lines} request lines, answers {bytes(writer.out)!r}")
    for line in answers[:-1]:
        answer = json.loads(line)
        if not isinstance(answer, dict) or not isinstance(answer.get("ok"), bool):
            raise ContractError(f"control answer {line!r}")


# --- seeds -----------------------------------------------------------------------------------


def _query(name: str, rdtype: str, **kw: Any) -> dns.message.Message:
    return dns.message.make_query(name, rdtype, **kw)


def _signed(msg: dns.message.Message, key: dns.tsig.Key = KEY, at: int = NOW) -> bytes:
    return sign_message(msg.to_wire(), key, at, msg.id)[0]


def _ixfr_query(name: str, serial: int) -> dns.message.Message:
    q = _query(name, "IXFR")
    soa = dns.rrset.from_text(name, 0, "IN", "SOA", f". . {serial} 0 0 0 0")
    q.authority.append(soa)
    return q


def seeds_responder() -> list[bytes]:
    out = []
    for name, rdtype in (
        ("example.test.", "SOA"),
        ("www.example.test.", "A"),
        ("nothere.example.test.", "A"),
        ("x.wild.example.test.", "TXT"),
        ("a.b.example.test.", "A"),
        ("www.sub.example.test.", "A"),
        ("sub.example.test.", "DS"),
        ("alias.example.test.", "A"),
        ("x.old.example.test.", "A"),
        ("example.test.", "ANY"),
        ("big.example.test.", "TXT"),
        ("nope.nsec3.test.", "A"),
        ("www.nsec3.test.", "MX"),
        ("insecure.nsec3.test.", "DS"),
        ("example.org.", "A"),
        ("b.c.example.test.", "A"),  # empty non-terminals
        ("c.nsec3.test.", "SOA"),
        ("x.wild.example.test.", "MX"),  # wildcard NODATA
        ("x.wild.nsec3.test.", "MX"),
        ("x.wild.nsec3.test.", "TXT"),
        ("sub.nsec3.test.", "DS"),
        ("alias.nsec3.test.", "AAAA"),
        ("x.y.old.nsec3.test.", "A"),
        ("nsec3.test.", "DNSKEY"),
    ):
        out.append(_query(name, rdtype, want_dnssec=True, payload=1232).to_wire())
    out.append(_query("www.example.test.", "A", use_edns=False).to_wire())
    q = _query("example.test.", "SOA", use_edns=0, options=[dns.edns.GenericOption(9, b"")])
    out.append(q.to_wire())
    out.append(_query("example.test.", "SOA", use_edns=1).to_wire())
    for name in ("example.test.", "nsec3.test."):
        axfr = _query(name, "AXFR")
        out.append(axfr.to_wire())
        out.append(_signed(axfr))
        out.append(_signed(axfr, WRONG))
        out.append(_signed(axfr, UNKNOWN))
        out.append(_signed(axfr, KEY, NOW - 3600))
    for serial in (*SERIALS, 2026010001):
        ixfr = _ixfr_query("example.test.", serial)
        out.append(ixfr.to_wire())
        out.append(_signed(ixfr))
    notify = _query("example.test.", "SOA")
    notify.set_opcode(dns.opcode.NOTIFY)
    out.append(notify.to_wire())
    return out


def seeds_notify_in() -> list[bytes]:
    out = []
    for name in ("example.test.", "other.test."):
        n = _query(name, "SOA")
        n.set_opcode(dns.opcode.NOTIFY)
        n.flags = dns.flags.Flag.AA
        n.answer.append(
            dns.rrset.from_text(
                name, 3600, "IN", "SOA", f"ns1.{name} hm.{name} 2026010102 7200 3600 1209600 600"
            )
        )
        out.append(n.to_wire())
        out.append(_signed(n))
        out.append(_signed(n, WRONG))
        out.append(_signed(n, UNKNOWN))
        out.append(_signed(n, KEY, NOW + 3600))
    bare = _query("example.test.", "SOA")
    bare.set_opcode(dns.opcode.NOTIFY)
    out.append(bare.to_wire())
    return out


def seeds_xfr_in() -> list[bytes]:
    """Real answer streams: the responder's own, framed as on TCP, after the query the first
    octet picks."""
    out = []
    for first in range(16):
        serial, key = xfr_mode(first)
        query = make_query(ORIGIN_WIRE, serial=serial, msg_id=XFR_ID, now=NOW, key=key)
        zones, keys = (KEYED, KEYS) if key is not None else (OPEN, {})
        answers = respond(query.wire, PEER, zones, keys, NOW, tcp=True, limits=SMALL)
        out.append(bytes((first,)) + b"".join(struct.pack("!H", len(a)) + a for a in answers))
    return out


def seeds_control() -> list[bytes]:
    requests: list[dict[str, Any]] = [
        {"command": "status"},
        {"command": "zone-list"},
        {"command": "zone-reload", "zone": "example.test."},
        {"command": "zone-retransfer", "zone": "example.net"},
        {"command": "zone-notify", "zone": "example.test."},
        {"command": "zone-resign", "zone": "example.test."},
        {"command": "key-report", "zone": "example.test.", "kind": "ds-seen", "tag": 12345},
        {"command": "key-report", "zone": "example.test.", "kind": "roll", "role": "ksk"},
        {"command": "nothing"},
    ]
    out = [json.dumps(r).encode() + b"\n" for r in requests]
    out.append(b"".join(out))
    out.append(b"not json\n[1, 2]\n")
    return out


TARGETS: dict[str, tuple[Callable[[bytes], None], Callable[[], list[bytes]]]] = {
    "responder": (fuzz_responder, seeds_responder),
    "notify_in": (fuzz_notify_in, seeds_notify_in),
    "xfr_in": (fuzz_xfr_in, seeds_xfr_in),
    "control": (fuzz_control, seeds_control),
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(TARGETS)}}} [libFuzzer options] [corpus]")
    target, seeds = TARGETS[sys.argv[1]]
    args = sys.argv[2:]
    paths = [a for a in args if not a.startswith("-")]
    if not paths:
        paths = [tempfile.mkdtemp(prefix=f"signwire-fuzz-{sys.argv[1]}-")]
        args.append(paths[0])
    if os.path.isdir(paths[0]):  # fuzzing (files alone: replay them)
        for i, seed in enumerate(seeds()):
            (Path(paths[0]) / f"seed-{i:03d}").write_bytes(seed)
    atheris.Setup([sys.argv[0], *args], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
