"""Benchmark (not a test): each step of the daemon's path for one one-record change, on a big
zone, the way the daemon ran it before (whole-zone work) and the way it runs it now.

A zone of ``--names`` names (one A record each, two NS at the apex) is built as a version and
signed in full (ECDSA P-256 KSK + ZSK, NSEC, file keys in a scratch folder). Then ``--changes``
times a new name with an A record comes in as an IXFR step, and each step of the path is
timed (wall and CPU of this process, median over the changes):

transfer apply
    the IXFR step applied to the unsigned version (``zones.diff.apply``);
input check
    before: the whole zone checked again (``signing.versioned.snapshot_of``); now: the names
    the diff touched (``signing.incremental.check_input``);
record count (the daemon's log line, on the event loop)
    before: every node decoded; now: ``ZoneVersion.record_count`` (kept in the version);
unsigned diff
    ``diff(previous.unsigned, unsigned)``, which the daemon hands to incremental signing;
incremental sign, review
    ``signing.incremental.incremental`` and ``verify.review.review_change``;
save
    before: ``storage.versions.save`` (the whole signed and unsigned zone, fsynced); now:
    ``storage.versions.Saver.save`` (a journal entry, fsynced), with the octets written;
IXFR answer
    the responder's answer to an IXFR from the previous serial (``publication.responder``).

The save goes to ``--dir`` (default: a scratch folder under /var/tmp, on disk), removed at
the end.

    .venv/bin/python bench/change_path.py --names 100000 --changes 5
"""

from __future__ import annotations

import argparse
import ipaddress
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dns.message
import dns.rdatatype
import dns.rrset

from signwire.keystore.file_store import FileKeyStore
from signwire.loading.xfr_in import IxfrStep
from signwire.policy.model import KeyRole
from signwire.publication.journal import Journal
from signwire.publication.responder import ServedZone, respond
from signwire.signing import incremental as incr
from signwire.signing.keyset import SigningKeys
from signwire.signing.options import SigningOptions
from signwire.signing.versioned import sign_full, snapshot_of
from signwire.storage import versions
from signwire.verify.review import review_change
from signwire.zones import names
from signwire.zones.diff import apply, diff
from signwire.zones.version import ZoneVersion, decode_node

NOW = 1_800_000_000
A, NS, SOA = 1, 2, 6
ORIGIN_TEXT = "bench.test."


def soa(origin: bytes, serial: int) -> bytes:
    return (names.from_text("ns1", origin) + names.from_text("hostmaster", origin)
            + b"".join(n.to_bytes(4, "big") for n in (serial, 3600, 600, 604800, 300)))


def zone(origin: bytes, count: int) -> ZoneVersion:
    def gen() -> Any:
        yield (origin, SOA, 3600, soa(origin, 1))
        yield (origin, NS, 3600, names.from_text("ns1", origin))
        yield (origin, NS, 3600, names.from_text("ns2", origin))
        for i in range(count):
            yield (names.from_text(f"host{i}", origin), A, 300,
                   bytes((10, i >> 16 & 255, i >> 8 & 255, i & 255)))
    return ZoneVersion.from_records(origin, gen())


def timed(fn: Callable[..., Any], *args: Any, **kw: Any) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kw)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def count_by_decoding(version: ZoneVersion) -> int:
    """What ZoneVersion.record_count did before it kept the count."""
    return sum(len(decode_node(n)[1]) for _, n in version.names_map.items())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--names", type=int, default=100_000)
    p.add_argument("--changes", type=int, default=5)
    p.add_argument("--dir", type=Path, default=Path("/var/tmp"))
    args = p.parse_args(argv)
    origin = names.from_text(ORIGIN_TEXT, None)
    unsigned = zone(origin, args.names)
    options = SigningOptions()
    rows: dict[str, list[tuple[float, float]]] = {}
    written: dict[str, list[int]] = {"save (before: whole zone)": [], "save (now: journal)": []}

    def note(step: str, wall: float, cpu: float) -> None:
        rows.setdefault(step, []).append((wall, cpu))

    with tempfile.TemporaryDirectory(dir=args.dir, prefix="signwire-change-") as scratch:
        store = FileKeyStore(Path(scratch) / "keys")
        keys = SigningKeys.by_role([store.create(origin, 13, KeyRole.KSK, NOW),
                                    store.create(origin, 13, KeyRole.ZSK, NOW)])
        started = time.perf_counter()
        signed = sign_full(unsigned, keys, options, NOW)
        print(f"{args.names} names, {signed.version.record_count()} signed records; full "
              f"signing {time.perf_counter() - started:.1f} s", file=sys.stderr)
        state = Path(scratch) / "state"
        saver = versions.Saver(state, ORIGIN_TEXT)
        saver.save(versions.SavedZone(signed.version, signed.unsigned, {}), None)
        journal = Journal()
        acl = (ipaddress.ip_network("127.0.0.0/8"),)
        for k in range(args.changes):
            previous = signed
            base = previous.unsigned
            owner = names.from_text(f"new{k}", origin)
            new_serial = base.serial + 1
            ixfr_step = IxfrStep(base.serial, new_serial,
                            [(origin, SOA, 3600, soa(origin, base.serial), 0)],
                            [(origin, SOA, 3600, soa(origin, new_serial), 0),
                             (owner, A, 300, bytes((192, 0, 2, k % 250)), 0)])
            change = ixfr_step.to_diff()
            after, w, c = timed(apply, base, change)
            note("transfer apply", w, c)
            _, w, c = timed(snapshot_of, after)
            note("input check (before: whole zone)", w, c)
            keys_touched = {names.canonical_key(r[0]) for r in (*change.deleted, *change.added)}
            _, w, c = timed(incr.check_input, base, after, keys_touched)
            note("input check (now: what the diff touched)", w, c)
            _, w, c = timed(count_by_decoding, after)
            note("record count (before: decode every node)", w, c)
            _, w, c = timed(after.record_count)
            note("record count (now: kept)", w, c)
            unsigned_diff, w, c = timed(diff, base, after)
            note("unsigned diff (diff of versions)", w, c)
            made, w, c = timed(incr.incremental, previous, unsigned_diff, keys, options,
                               NOW + 60 * (k + 1))
            note("incremental sign", w, c)
            signed, signed_diff = made
            problem, w, c = timed(review_change, signed.version, signed_diff,
                                  NOW + 60 * (k + 1))
            assert problem is None, problem
            note("review", w, c)
            whole = versions.SavedZone(signed.version, signed.unsigned, {"serial": k})
            old_state = Path(scratch) / "old-state"
            path, w, c = timed(versions.save, old_state, ORIGIN_TEXT, whole)
            note("save (before: whole zone)", w, c)
            written["save (before: whole zone)"].append(path.stat().st_size)
            _, w, c = timed(saver.save, whole, signed_diff)
            note("save (now: journal)", w, c)
            written["save (now: journal)"].append(saver.written)
            journal.append(signed_diff)
            served = {names.lower(origin): ServedZone(signed.version, journal, acl)}
            query = dns.message.make_query(ORIGIN_TEXT, dns.rdatatype.IXFR)
            query.authority.append(dns.rrset.from_text(
                ORIGIN_TEXT, 0, "IN", "SOA",
                f"ns1.{ORIGIN_TEXT} h.{ORIGIN_TEXT} {signed_diff.from_serial} 3600 600 604800 300",
            ))
            wire = query.to_wire()
            answers, w, c = timed(respond, wire, "127.0.0.1", served, {}, NOW, tcp=True)
            assert answers and not answers[0][3] & 0x0F, "the IXFR was refused"
            note("IXFR answer", w, c)
            written.setdefault("IXFR answer", []).append(sum(map(len, answers)))
    print(f"\n{args.names:,} names, one new name with an A record per change, median of "
          f"{args.changes} changes\n")
    print("| step | wall ms | CPU ms | octets written / sent |\n|---|---|---|---|")
    for step, runs in rows.items():
        wall = statistics.median(r[0] for r in runs) * 1000
        cpu = statistics.median(r[1] for r in runs) * 1000
        octets = f"{statistics.median(written[step]):,.0f}" if step in written else ""
        print(f"| {step} | {wall:.1f} | {cpu:.1f} | {octets} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
