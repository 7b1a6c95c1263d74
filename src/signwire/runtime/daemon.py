"""``signwire serve``: the daemon between a hidden primary (or a zone file) and the secondaries.

One asyncio loop owns everything: the DNS sockets (:mod:`.dns_server`), transfers in
(:mod:`.transfer`), NOTIFY out (:mod:`.notify`), the control socket, and one timer schedule
for all zones (a heap of wake-up times, not a task per zone). Each zone's decisions are the
pure pipeline's (:mod:`signwire.pipeline.zone`); this module does what its commands say and
feeds the results back as events. CPU work (reading a zone, signing, verifying) runs in a
worker thread so that queries keep being answered meanwhile; key steps and the state
database stay on the loop's thread.

The state directory's lock is held for the daemon's whole life. Each new signed version is
saved (:mod:`signwire.storage.versions`, with the IXFR journal) before it is served, so a
restart serves the last one at once, without signing. Key steps run whenever the zone is
signed and at the enforcer's own next event; while a DS is on its way in or out, the
policy's parental agents are asked on the same timer. Verification, by the independent
verifier before a version is served: a full signing is verified whole
(:func:`signwire.verify.review.verify_version`), an incremental step by what it changed
(:func:`signwire.verify.review.review_change`), whatever the zone's size.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import hashlib
import heapq
import ipaddress
import logging
import os
import secrets
import signal
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dns.exception
import dns.name
import dns.tsig

from signwire.config.model import Config, ZoneConfig
from signwire.config.parse import load_config
from signwire.control.metrics import ZoneCounters
from signwire.control.zones import ZoneRequestError, check_zone, forget_keys, zone_name
from signwire.errors import SignwireError, ZoneDataError
from signwire.keystore.store import open_store
from signwire.loading import refresh
from signwire.loading.notify_in import NotifyError, notify_answer, read_notify
from signwire.loading.xfr_in import Diffs, FullZone, TransferError, UpToDate
from signwire.loading.zonefile import read_zonefile
from signwire.parent.submit import DsSubmitError, run_command
from signwire.pipeline import key_step as key_steps
from signwire.pipeline import zone as pz
from signwire.policy.model import Policy
from signwire.policy.parse import load_policy
from signwire.publication.journal import Journal
from signwire.publication.notify_out import Answered, GaveUp, Ignored, NotifyOut, Secondary
from signwire.publication.responder import ServedZone, respond, respond_stream
from signwire.publication.zonetext import version_text
from signwire.runtime.clock import SystemClock
from signwire.runtime.dns_server import DnsServer
from signwire.runtime.hooks import run_detached
from signwire.runtime.notify import NotifySender
from signwire.runtime.signature_workers import SignatureWorkers
from signwire.runtime.transfer import QueryError, soa_query, transfer
from signwire.signing import incremental as incr
from signwire.signing import refresh as sigrefresh
from signwire.signing.apex import ds_rdata
from signwire.signing.keyset import SigningKeys
from signwire.signing.options import SigningOptions, from_policy
from signwire.signing.schedule import Schedule, earliest_expiration
from signwire.signing.versioned import Signed, sign_full, snapshot_of
from signwire.storage import versions
from signwire.storage.files import atomic_text, check_private_directory
from signwire.storage.lock import StateLock
from signwire.storage.state import StateStore
from signwire.verify.review import review_change, verify_unsigned, verify_version
from signwire.zones import names, rdata
from signwire.zones.diff import Diff, DiffError, apply, diff
from signwire.zones.rrtypes import DS
from signwire.zones.version import ZoneVersion, decode_node

log = logging.getLogger("signwire")

# A full signing of a zone this big makes its signatures in the worker processes (below,
# starting them and shipping the data costs more than it saves).
WORKERS_FROM_RECORDS = 5000
_NO_KEYS = SigningKeys((), (), ())  # a restored version's keys until a key step confirms them
_OPCODE_NOTIFY = 4


def keys_fingerprint(keys: SigningKeys) -> list[Any]:
    def ids(group: tuple[Any, ...]) -> list[list[Any]]:
        return [
            [k.algorithm, k.key_tag, k.flags, hashlib.sha256(k.public_key).hexdigest()]
            for k in group
        ]

    return [
        ids(keys.published),
        ids(keys.key_signers),
        ids(keys.zone_signers),
        ids(keys.cds),
        ids(keys.cdnskey),
        list(keys.cds_digests),
        keys.cds_delete,
    ]


def rebuild_schedule(version: ZoneVersion, refresh_period: int) -> Schedule:
    earliest = {}
    for key, node in version.names_map.items():
        at = earliest_expiration(decode_node(node)[1])
        if at is not None:
            earliest[key] = at
    return Schedule.build(refresh_period, earliest)


def soa_timers(version: ZoneVersion) -> refresh.SoaTimers:
    _serial, ref, retry, expire, _minimum = struct.unpack("!IIIII", version.soa[3][-20:])
    return refresh.SoaTimers(ref, retry, expire)


@dataclass(slots=True)
class Candidate:
    signed: Signed
    diff: Diff | None
    key_step: key_steps.KeyStep
    full: bool  # signed in full: verified in full


@dataclass(slots=True)
class ZoneRuntime:
    config: ZoneConfig
    origin: bytes
    settings: pz.ZoneSettings
    policy: Policy
    options: SigningOptions
    state: pz.ZoneState
    primary_key: dns.tsig.Key | None = None
    signed: Signed | None = None  # what is served, as the next signing step starts from it
    served: ZoneVersion | None = None
    input: ZoneVersion | None = None  # the newest unsigned input
    candidate: Candidate | None = None
    journal: Journal = field(default_factory=Journal)
    notify_out: NotifyOut | None = None
    serving: bool = True
    restored_keys: list[Any] | None = None
    restored_options: str | None = None
    checked_store: bool = False
    wake: int | None = None  # the zone's entry in the timer heap
    pipeline_wake: int | None = None  # what the pipeline last asked for
    notify_answer: bool | None = None
    secondaries: dict[str, dict[str, Any]] = field(default_factory=dict)
    write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    saver: versions.Saver | None = None  # the zone's saved version: full or journal entry
    notify_on_serve: bool = False
    ds_check_at: int | None = None  # the next question to the parental agents
    added: bool = False  # added at run time (signwire zone add), not from the file
    removed: bool = False  # removed at run time: what is still in flight is dropped
    counters: ZoneCounters = field(default_factory=ZoneCounters)  # for the metrics
    hook_lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # on-publish, in order


class Daemon:
    def __init__(self, config_path: str, clock: Callable[[], int] | None = None) -> None:
        self.config_path = config_path
        self.clock = clock or SystemClock().now
        self.config: Config = load_config(config_path)
        self.keyring: dict[str, dns.tsig.Key] = {}
        self.zones: dict[str, ZoneRuntime] = {}
        self.served: dict[bytes, ServedZone] = {}
        self.heap: list[tuple[int, int, str]] = []
        self._seq = 0
        self._timer_changed = asyncio.Event()
        self._stop = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.lock: StateLock | None = None
        self.state: StateStore | None = None
        self.server: DnsServer | None = None
        self.notifier: NotifySender | None = None
        self.control: Any = None
        self.metrics: Any = None
        self._hook_slots = asyncio.Semaphore(4)  # on-publish commands running at once
        self._signature_workers: SignatureWorkers | None = None
        self.started_at = self.clock()

    # --- set-up ------------------------------------------------------------------------

    def _open_state(self) -> None:
        folder = self.config.server.state
        check_private_directory(folder, "state directory")
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.lock = StateLock(folder, wait=0)
        self.lock.acquire()
        self.state = StateStore(folder)

    def _build_keyring(self) -> None:
        self.keyring = {
            name: dns.tsig.Key(dns.name.from_text(name), t.secret, t.algorithm)
            for name, t in self.config.tsig.items()
        }

    def _make_zone(self, zc: ZoneConfig, now: int) -> ZoneRuntime:
        cfg = self.config
        origin = names.from_text(zc.name, None)
        policy = load_policy(zc.policy, zc.policy_file)
        options = from_policy(policy)
        refresh_config = None
        primary_key = None
        if zc.primaries:
            endpoints = [ep for p in zc.primaries for ep in cfg.remotes[p].addresses]
            key_name = cfg.remotes[zc.primaries[0]].key
            primary_key = self.keyring.get(key_name) if key_name else None
            lax = any(cfg.remotes[p].notify_unsigned for p in zc.primaries)
            refresh_config = refresh.RefreshConfig(
                zc.name,
                tuple(refresh.Primary(e.address, e.port) for e in endpoints),
                tsig_key=None if lax else key_name,
                expire_stops_serving=zc.expire_stops_serving,
                min_refresh=zc.min_refresh,
                min_retry=zc.min_retry,
                min_expire=zc.min_expire,
                initial_retry=min(60, zc.min_retry * 6),
            )
        settings = pz.ZoneSettings(
            zc.name, refresh_config, source_text=str(zc.file) if zc.file else ""
        )
        zr = ZoneRuntime(
            zc,
            origin,
            settings,
            policy,
            options,
            pz.initial_state(settings, now),
            primary_key=primary_key,
        )
        if zc.notify:
            secondaries = [
                Secondary(ep.address, ep.port) for r in zc.notify for ep in cfg.remotes[r].addresses
            ]
            key_name = cfg.remotes[zc.notify[0]].key
            zr.notify_out = NotifyOut(
                origin,
                secondaries,
                ids=lambda: secrets.randbelow(65536),
                key=self.keyring.get(key_name) if key_name else None,
            )
        return zr

    def _restore(self, zr: ZoneRuntime) -> bool:
        state_dir = self.config.server.state
        saved_refresh = versions.load_refresh(state_dir, zr.config.name)
        if saved_refresh is not None and zr.settings.refresh is not None:
            zr.state = dataclasses.replace(
                zr.state, refresh=refresh.RefreshState.from_dict(saved_refresh)
            )
        try:
            saved = versions.load(state_dir, zr.config.name, zr.origin)
        except versions.VersionFileError as e:
            log.error("%s: %s", zr.config.name, e)
            saved = None
        zr.saver = versions.Saver(state_dir, zr.config.name)
        zr.saver.adopt(saved)  # the next change is appended to what is on disk
        rs = zr.state.refresh
        if rs is not None and (saved is None or rs.serial != saved.unsigned.serial):
            # No copy of what the refresh state says we hold (killed before it was saved):
            # fetch the whole zone again. The expiry clock stays.
            zr.state = dataclasses.replace(
                zr.state,
                refresh=dataclasses.replace(
                    rs, serial=None if saved is None else saved.unsigned.serial
                ),
            )
        if saved is None:
            return False
        refresh_period = zr.policy.signatures.refresh
        zr.signed = Signed(
            saved.signed,
            saved.unsigned,
            _NO_KEYS,
            zr.options,
            rebuild_schedule(saved.signed, refresh_period),
        )
        zr.served = saved.signed
        zr.input = saved.unsigned
        for step in saved.journal:
            try:
                zr.journal.append(step)
            except ValueError:
                zr.journal.clear()
        if zr.journal.serial not in (None, saved.signed.serial):
            zr.journal.clear()
        zr.restored_keys = saved.meta.get("keys")
        zr.restored_options = saved.meta.get("options")
        zr.state = dataclasses.replace(
            zr.state,
            signed_serial=saved.signed.serial,
            input_serial=saved.unsigned.serial,
            input_from=str(saved.meta.get("input_from", "")),
        )
        self._serve(zr)
        log.info(
            "%s: restored signed serial %d from the state; serving it",
            zr.config.name,
            saved.signed.serial,
        )
        return True

    def _serve(self, zr: ZoneRuntime) -> None:
        if zr.removed:
            return  # late work of a removed zone touches nothing: the name may be served anew
        key = names.lower(zr.origin)
        if zr.served is None or not zr.serving:
            self.served.pop(key, None)
            return
        # An added zone's ACL may be gone from a reloaded file: then nobody may transfer.
        acls = [self.config.acls[a] for a in zr.config.allow_transfer if a in self.config.acls]
        networks = tuple(n for a in acls for n in a.networks)
        transfer_key = next((a.key for a in acls if a.key), None)
        self.served[key] = ServedZone(
            zr.served, zr.journal, networks, transfer_key, zr.config.answer_queries
        )

    # --- the timer schedule --------------------------------------------------------------

    def _schedule(self, zr: ZoneRuntime) -> None:
        if zr.removed:
            return
        notify_at = zr.notify_out.wake_at() if zr.notify_out is not None else None
        times = [t for t in (zr.pipeline_wake, notify_at, zr.ds_check_at) if t is not None]
        at = min(times) if times else None
        if at == zr.wake:
            return
        zr.wake = at
        if at is not None:
            self._seq += 1
            heapq.heappush(self.heap, (at, self._seq, zr.config.name))
            self._timer_changed.set()

    async def _timer_loop(self) -> None:
        while not self._stop.is_set():
            now = self.clock()
            while self.heap and self.heap[0][0] <= now:
                at, _, name = heapq.heappop(self.heap)
                zr = self.zones.get(name)
                if zr is None or zr.wake != at:
                    continue  # superseded by a later schedule
                zr.wake = None
                self._tick(zr, now)
            delay = max(0.05, self.heap[0][0] - self.clock()) if self.heap else 3600.0
            self._timer_changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._timer_changed.wait(), min(delay, 3600.0))

    def _tick(self, zr: ZoneRuntime, now: int) -> None:
        if zr.notify_out is not None:
            self._notify_actions(zr, zr.notify_out.tick(now))
        if zr.ds_check_at is not None and zr.ds_check_at <= now:
            zr.ds_check_at = None
            self._spawn(self._check_ds(zr))
        self.dispatch(zr, pz.TimerFired())

    # --- the DS at the parent -------------------------------------------------------------

    def _plan_ds_check(self, zr: ZoneRuntime, now: int) -> None:
        """Ask the parental agents again while a key's DS is on its way in or out."""
        assert self.state is not None
        if not zr.policy.parent.parental_agents:
            return
        waiting = [
            k
            for k in self.state.key_states(key_steps.zone_name(zr.origin))
            if k.ds.state.value in ("rumoured", "unretentive") and k.tag
        ]
        if not waiting:
            zr.ds_check_at = None
            return
        interval = max(2, min(3600, zr.policy.timing.parent_ds_ttl // 2))
        if zr.ds_check_at is None or zr.ds_check_at > now + interval:
            zr.ds_check_at = now + interval
        self._schedule(zr)

    async def _check_ds(self, zr: ZoneRuntime) -> None:
        from signwire.parent.agents import expected_ds, observe
        from signwire.parent.query import ask_agents

        assert self.state is not None
        zone = key_steps.zone_name(zr.origin)
        policy = zr.policy
        try:
            dnskeys = {
                (k.algorithm, k.key_tag): k.dnskey_rdata
                for k in open_store(self.state.key_store(zone)).keys_for(zr.origin)
            }
            keys = [
                k
                for k in self.state.key_states(zone)
                if k.ds.state.value != "hidden" and k.tag and (k.algorithm, k.tag) in dnskeys
            ]
            expected = {
                k.key_id: expected_ds(
                    zr.origin, dnskeys[(k.algorithm, k.tag or 0)], policy.parent.digest_types
                )
                for k in keys
            }
            answers = await ask_agents(zr.origin, policy.parent.parental_agents)
            seen = observe(zr.origin, expected, answers, parent_ds_ttl=policy.timing.parent_ds_ttl)
        except Exception as e:
            log.error("%s: DS check at the parental agents failed: %s", zone, e)
            self._plan_ds_check(zr, self.clock())
            return
        now = self.clock()
        for problem in seen.problems:
            log.warning("%s: %s", zone, problem)
        pending = {(kind, arg) for _, kind, arg, _ in self.state.pending(zone)}
        tags = {k.key_id: k.tag for k in keys}
        news = False
        for kind, ids, what in (
            ("ds-seen", seen.seen, "seen at"),
            ("ds-gone-checked", seen.gone, "gone from"),
        ):
            for key_id in sorted(ids):
                state = next(k for k in keys if k.key_id == key_id).ds.state.value
                wanted = "rumoured" if kind == "ds-seen" else "unretentive"
                if state != wanted or (kind, key_id) in pending:
                    continue
                self.state.add_pending(zone, kind, key_id, now)
                log.info("%s: key %s: DS %s every parental agent", zone, tags[key_id], what)
                news = True
        if news:
            self.dispatch(zr, pz.KeysChanged())
        self._plan_ds_check(zr, now)

    # --- events and commands ------------------------------------------------------------

    def dispatch(self, zr: ZoneRuntime, event: pz.Event) -> None:
        if zr.removed:
            return  # what a removed zone had in flight ends here
        now = self.clock()
        out = pz.handle(zr.settings, zr.state, event, now)
        zr.state = out.state
        followups: list[pz.Event] = []
        for command in out.commands:
            try:
                self._run(zr, command, now)
            except Exception as e:  # one zone's failure must not stop the others
                if isinstance(e, SignwireError):
                    log.error("%s: %s", zr.config.name, e)
                else:
                    log.exception("%s: %s failed", zr.config.name, type(command).__name__)
                if isinstance(command, pz.Sign):
                    followups.append(pz.SignFailed(str(e)))
        zr.pipeline_wake = out.wake_at
        self._schedule(zr)
        # After this outcome's wake-up is set, so the follow-up's own wake-up wins.
        for event in followups:
            self.dispatch(zr, event)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _run(self, zr: ZoneRuntime, c: pz.Command, now: int) -> None:
        name = zr.config.name
        if isinstance(c, pz.Log):
            level = {"info": logging.INFO, "warning": logging.WARNING}.get(c.level, logging.ERROR)
            log.log(level, "%s", c.message)
        elif isinstance(c, pz.QuerySoa):
            self._spawn(self._query_soa(zr, c.primary))
        elif isinstance(c, pz.Transfer):
            self._spawn(self._transfer(zr, c.primary, c.from_serial))
        elif isinstance(c, pz.AnswerNotify):
            zr.notify_answer = c.accept
        elif isinstance(c, pz.LoadFile):
            self._spawn(self._load_file(zr))
        elif isinstance(c, pz.Sign):
            self._sign(zr, c.mode, now)
        elif isinstance(c, pz.Verify):
            self._spawn(self._verify(zr))
        elif isinstance(c, pz.Publish):
            self._publish(zr, now)
        elif isinstance(c, pz.Discard):
            self._discard(zr)
        elif isinstance(c, pz.SendNotify):
            zr.notify_on_serve = True  # sent once the new version is on disk and served
        elif isinstance(c, pz.Persist):
            self._persist(zr, c.version)
        elif isinstance(c, pz.StopServing):
            log.error("%s: no longer served: %s", name, c.reason)
            zr.serving = False
            self._serve(zr)
        elif isinstance(c, pz.ResumeServing):
            log.info("%s: served again", name)
            zr.serving = True
            self._serve(zr)

    def _source(self, peer: str) -> str | None:
        """The address to reach ``peer`` from: our first listen address of its family, unless
        that is a wildcard (then the kernel chooses). Primaries allow the signer by the address
        they know it by, which is the one it listens on."""
        v6 = ":" in peer
        for e in self.config.server.listen:
            if (":" in e.address) == v6:
                return None if ipaddress.ip_address(e.address).is_unspecified else e.address
        return None

    async def _query_soa(self, zr: ZoneRuntime, primary: refresh.Primary) -> None:
        event: refresh.SoaAnswer | refresh.SoaFailed
        try:
            serial, timers = await soa_query(
                primary, zr.origin, zr.primary_key, 5.0, self.clock, self._source(primary.address)
            )
            event = refresh.SoaAnswer(primary, serial, timers)
        except QueryError as e:
            event = refresh.SoaFailed(primary, str(e))
        except Exception as e:  # a bug here must not leave the zone waiting for ever
            log.exception("%s: SOA query to %s failed", zr.config.name, primary)
            event = refresh.SoaFailed(primary, f"internal error: {e}")
        self.dispatch(zr, pz.SoaResult(event))

    async def _transfer(
        self, zr: ZoneRuntime, primary: refresh.Primary, from_serial: int | None
    ) -> None:
        kind = "AXFR" if from_serial is None else f"IXFR from {from_serial}"
        try:
            result = await transfer(
                primary, zr.origin, from_serial, zr.primary_key, 600.0, self.clock,
                self._source(primary.address),
            )
            if isinstance(result, UpToDate):
                timers = (
                    soa_timers(zr.input)
                    if zr.input is not None
                    else refresh.SoaTimers(3600, 600, 604800)
                )
                self.dispatch(
                    zr,
                    pz.TransferResult(
                        refresh.TransferDone(primary, result.serial, timers), new_input=False
                    ),
                )
                return
            base = zr.input
            version = await asyncio.to_thread(_transferred_version, zr.origin, result, base)
        except (TransferError, QueryError, ZoneDataError, DiffError) as e:
            zr.counters.transfer_in_failures += 1
            log.error(
                "%s: %s from %s rejected (ours %s): %s",
                zr.config.name,
                kind,
                primary,
                zr.input.serial if zr.input else None,
                e,
            )
            self.dispatch(zr, pz.TransferResult(refresh.TransferFailed(primary, str(e))))
            return
        except Exception as e:
            zr.counters.transfer_in_failures += 1
            log.exception("%s: %s from %s failed", zr.config.name, kind, primary)
            self.dispatch(
                zr, pz.TransferResult(refresh.TransferFailed(primary, f"internal error: {e}"))
            )
            return
        zr.input = version
        zr.counters.transfer_in("AXFR" if isinstance(result, FullZone) else "IXFR")
        log.info(
            "%s: %s from %s: serial %d, %d records",
            zr.config.name,
            kind,
            primary,
            version.serial,
            version.record_count(),
        )
        self.dispatch(
            zr,
            pz.TransferResult(refresh.TransferDone(primary, version.serial, soa_timers(version))),
        )

    async def _load_file(self, zr: ZoneRuntime) -> None:
        path = zr.config.file
        assert path is not None
        try:
            version = await asyncio.to_thread(_read_version, path, zr.origin)
        except (ZoneDataError, OSError) as e:
            reason = str(e) if isinstance(e, ZoneDataError) else (e.strerror or str(e))
            self.dispatch(zr, pz.LoadFailed(reason))
            return
        except Exception as e:
            log.exception("%s: reading %s failed", zr.config.name, path)
            self.dispatch(zr, pz.LoadFailed(f"internal error: {e}"))
            return
        changed = zr.input is None or version != zr.input or zr.signed is None
        zr.input = version
        self.dispatch(zr, pz.FileLoaded(version.serial, changed))

    async def _check_store(self, zr: ZoneRuntime) -> None:
        """Once per zone and start: a zone the state does not know must show no sign of having
        been signed before (keys in the store, a signed output, a DS at the parental agents);
        a known one gets its key store tidied (keys a killed run made but never recorded)."""
        assert self.state is not None
        if zr.checked_store:
            return
        zone = key_steps.zone_name(zr.origin)
        store = open_store(self.state.key_store(zone))
        if self.state.zone(zone) is None:
            output = str(zr.config.output) if zr.config.output else None
            # In a thread: asking the parental agents runs an event loop of its own.
            evidence = await asyncio.to_thread(
                key_steps.signed_before, zr.policy, zr.origin, store, output
            )
            if evidence:
                raise SignwireError(
                    f"{zone} is not in the state {self.config.server.state}, but it was "
                    "signed before: " + "; ".join(evidence) + ". Restore the state, or "
                    "sign it once with 'signwire sign --policy ... --start-afresh'"
                )
        else:
            for message in key_steps.tidy_key_store(self.state, zr.origin, store):
                log.info("%s %s", zone, message)
        zr.checked_store = True

    def _key_step(self, zr: ZoneRuntime, now: int) -> key_steps.KeyStep:
        assert self.state is not None
        zone = key_steps.zone_name(zr.origin)
        return key_steps.step(zr.policy, zr.origin, self.state, now, self.state.key_store(zone))

    def _sign(self, zr: ZoneRuntime, mode: pz.SignMode, now: int) -> None:
        self._spawn(self._sign_task(zr, mode))

    async def _sign_task(self, zr: ZoneRuntime, mode: pz.SignMode) -> None:
        try:
            await self._check_store(zr)
            work, key_step, mode = self._prepare_sign(zr, mode, self.clock())
        except Exception as e:
            if isinstance(e, SignwireError):
                log.error("%s: %s", zr.config.name, e)
            else:
                log.exception("%s: signing could not start", zr.config.name)
            self.dispatch(zr, pz.SignFailed(str(e)))
            return
        await self._sign_work(zr, work, key_step, mode)

    def _prepare_sign(
        self, zr: ZoneRuntime, mode: pz.SignMode, now: int
    ) -> tuple[Callable[[], tuple[Signed, Diff | None]], key_steps.KeyStep, pz.SignMode]:
        assert self.state is not None
        key_step = self._key_step(zr, now)
        for message in key_step.messages:
            log.info("%s %s", key_step.zone, message)
        keys = key_step.keys
        if zr.signed is not None and zr.restored_keys is not None:
            # A restored version keeps its keys only when the key step confirms them.
            if zr.restored_keys == keys_fingerprint(keys) and zr.restored_options == repr(
                zr.options
            ):
                zr.signed = dataclasses.replace(zr.signed, keys=keys)
            zr.restored_keys = None
        row = self.state.zone(key_step.zone)
        previous_serial = row.last_serial if row is not None else None
        if zr.served is not None and previous_serial is None:
            previous_serial = zr.served.serial
        previous, unsigned = zr.signed, zr.input
        assert unsigned is not None
        options, refresh_period = zr.options, zr.policy.signatures.refresh
        if previous is None:
            mode = pz.SignMode.FULL

        full = mode is pz.SignMode.FULL or previous is None
        service = self._workers_for(unsigned) if full and not keys.unsigned else None

        def work() -> tuple[Signed, Diff | None]:
            if full or previous is None:
                made = sign_full(
                    unsigned, keys, options, now, previous_serial, refresh=refresh_period,
                    service=service,
                )
                return made, (diff(previous.version, made.version) if previous else None)
            if mode is pz.SignMode.INCREMENTAL:
                return incr.incremental(
                    previous, diff(previous.unsigned, unsigned), keys, options, now, previous_serial
                )
            ahead = min(3600, previous.schedule.refresh // 8)
            return sigrefresh.refresh(
                previous, keys, options, now, ahead=ahead, previous_serial=previous_serial
            )

        return work, key_step, mode

    def _workers_for(self, unsigned: ZoneVersion) -> SignatureWorkers | None:
        """The signature workers, for a zone big enough to gain from them (started at the
        first such zone and kept: they keep each key loaded)."""
        if unsigned.record_count() < WORKERS_FROM_RECORDS:
            return None
        if self._signature_workers is None:
            wanted = SignatureWorkers.wanted()
            if not wanted:
                return None
            self._signature_workers = SignatureWorkers(wanted)
            log.info("signature workers started: %d processes", wanted)
        return self._signature_workers

    async def _sign_work(
        self,
        zr: ZoneRuntime,
        work: Callable[[], tuple[Signed, Diff | None]],
        key_step: key_steps.KeyStep,
        mode: pz.SignMode,
    ) -> None:
        started = asyncio.get_running_loop().time()
        try:
            made, change = await asyncio.to_thread(work)
            if zr.removed:
                return  # removed while signing: no key states saved for it
        except Exception as e:
            if not isinstance(e, (SignwireError, DiffError, ValueError)):
                log.exception("%s: signing failed", zr.config.name)
            self._set_aside(key_step)
            self.dispatch(zr, pz.SignFailed(str(e)))
            return
        if zr.signed is not None and made is zr.signed:
            # Nothing was due: keep the key states the step advanced, no new version.
            assert self.state is not None
            key_step.commit(self.state, self.clock(), zr.signed.version.serial)
            key_step.retire_deleted()
            self._submit_ds(key_step)
            self._plan_ds_check(zr, self.clock())
            self.dispatch(zr, pz.SignDone(None, made.next_resign_at, key_step.plan.next_event_at))
            return
        zr.candidate = Candidate(made, change, key_step, mode is pz.SignMode.FULL)
        zr.counters.signed(asyncio.get_running_loop().time() - started)
        log.info(
            "%s: signed serial %d (%s, %d signatures made) in %.3f s",
            zr.config.name,
            made.version.serial,
            mode.value,
            made.signatures_made,
            asyncio.get_running_loop().time() - started,
        )
        self.dispatch(
            zr, pz.SignDone(made.version.serial, made.next_resign_at, key_step.plan.next_event_at)
        )

    async def _verify(self, zr: ZoneRuntime) -> None:
        candidate = zr.candidate
        assert candidate is not None
        now = self.clock()
        started = asyncio.get_running_loop().time()
        version, change = candidate.signed.version, candidate.diff
        full = change is None or candidate.full
        try:
            if candidate.signed.keys.unsigned:  # the policy took the zone insecure
                problem = await asyncio.to_thread(verify_unsigned, version)
            elif full:
                # Every CPU: a full signing's verification is the longest step of a first
                # signing (the verifier forks its workers from this thread and they only read).
                problem = await asyncio.to_thread(
                    functools.partial(verify_version, workers=SignatureWorkers.wanted() or 1),
                    version,
                    now,
                )
            else:
                assert change is not None
                problem = await asyncio.to_thread(review_change, version, change, now)
        except Exception as e:  # whatever stops the verifier, the version is not served
            if not isinstance(e, (SignwireError, dns.exception.DNSException, ValueError)):
                log.exception("%s: verification failed", zr.config.name)
            problem = f"the verifier stopped: {e}"
        log.info(
            "%s: verified serial %d (%s) in %.3f s: %s",
            zr.config.name,
            candidate.signed.version.serial,
            "whole zone" if full else "the change",
            asyncio.get_running_loop().time() - started,
            problem or "valid",
        )
        if problem is not None:
            zr.counters.verification_failures += 1
        self.dispatch(zr, pz.Verified(problem is None, problem or ""))

    def _publish(self, zr: ZoneRuntime, now: int) -> None:
        """The state first (keys published with this serial), then the version saved to the
        state directory, and only then served and announced: a secondary never holds a serial
        that a restart would not serve again."""
        candidate = zr.candidate
        assert candidate is not None and self.state is not None
        signed = candidate.signed
        candidate.key_step.commit(self.state, now, signed.version.serial)
        candidate.key_step.retire_deleted()
        self._submit_ds(candidate.key_step)
        self._plan_ds_check(zr, now)
        if zr.signed is None or zr.signed.keys.key_signers != signed.keys.key_signers:
            for k in signed.keys.key_signers:
                ds = rdata.to_text(DS, ds_rdata(zr.origin, k.dnskey_rdata, k.key_tag, k.algorithm))
                log.info(
                    "%s: DS of key-signing key %d: %s IN DS %s",
                    zr.config.name,
                    k.key_tag,
                    zr.config.name,
                    ds,
                )
        # The next signing step starts from this version at once; serving waits for the disk.
        zr.signed, zr.candidate = signed, None
        meta = {
            "serial": signed.version.serial,
            "keys": keys_fingerprint(signed.keys),
            "options": repr(signed.options),
            "input_from": zr.state.input_from,
        }
        saved = versions.SavedZone(
            signed.version, signed.unsigned, meta, _journal_after(zr.journal, candidate.diff)
        )
        if zr.saver is None:
            zr.saver = versions.Saver(self.config.server.state, zr.config.name)
        saver, change = zr.saver, candidate.diff
        # In proportion to the change (a journal entry) when it follows what is on disk.
        self._spawn(self._serve_when_saved(zr, signed, change, lambda: saver.save(saved, change),
                                           lambda: saver.compact(saved)))

    async def _serve_when_saved(
        self, zr: ZoneRuntime, signed: Signed, change: Diff | None, save: Callable[[], object],
        compact: Callable[[], object] | None = None,
    ) -> None:
        if zr.removed:
            return
        await self._write(zr, save)
        if zr.removed:
            return
        version = signed.version
        if change is not None and zr.journal.serial in (None, change.from_serial):
            try:
                zr.journal.append(change)
            except ValueError:
                zr.journal.clear()
        else:
            zr.journal.clear()
        zr.served = version
        self._serve(zr)
        if zr.notify_on_serve and zr.notify_out is not None:
            # A newer version still on its way to the disk is announced when it is served.
            zr.notify_on_serve = zr.signed is not None and zr.signed.version is not version
            self._notify_actions(zr, zr.notify_out.new_serial(version.soa, self.clock()))
        if compact is not None and zr.saver is not None and zr.saver.compaction_due:
            # Served and announced: the full save that bounds the journal holds up no
            # change (the next one's save waits for it, in order; it is skipped when a newer
            # version got to the disk first).
            self._spawn(self._write(zr, compact))
        output = zr.config.output
        if output is not None:

            def write_output() -> None:
                with atomic_text(output) as f:
                    f.write(version_text(version))

            if not await self._write(zr, write_output):
                if zr.config.on_publish:
                    log.error("%s: on-publish not run for serial %d: %s was not written",
                              zr.config.name, version.serial, output)
                return
        if zr.config.on_publish and not zr.removed:
            self._spawn(self._on_publish(zr, version.serial, output))

    async def _on_publish(self, zr: ZoneRuntime, serial: int, output: Path | None) -> None:
        """The zone's on-publish command, after a new version is served (and written): in the
        background, one at a time per zone, its exit status logged; it never holds up
        serving, and its failure changes nothing but the log."""
        argv = zr.config.on_publish
        env = {"SIGNWIRE_ZONE": zr.config.name, "SIGNWIRE_SERIAL": str(serial)}
        if output is not None:
            env["SIGNWIRE_OUTPUT"] = str(output)
        fields: dict[str, Any] = {"hook": "on-publish", "serial": serial, "argv": list(argv)}
        async with zr.hook_lock:
            loop = asyncio.get_running_loop()
            started = loop.time()
            run = functools.partial(
                run_command, argv, "", timeout=zr.config.on_publish_timeout, env=env,
                what="on-publish",
            )
            try:
                async with self._hook_slots:
                    await run_detached(run, "on-publish")
            except DsSubmitError as e:
                fields["exit_status"] = e.returncode
                log.error("%s: serial %d: %s", zr.config.name, serial, e,
                          extra={"zone": zr.config.name, "fields": fields})
                return
            fields["exit_status"] = 0
            log.info("%s: serial %d: on-publish %s exited 0 in %.2f s", zr.config.name, serial,
                     argv[0], loop.time() - started,
                     extra={"zone": zr.config.name, "fields": fields})

    def _submit_ds(self, key_step: key_steps.KeyStep) -> None:
        try:
            submitted = key_step.submit_ds()
        except SignwireError as e:
            log.error(
                "%s: the zone is published, but %s; retry with 'signwire key ds %s' "
                "piped to the command",
                key_step.zone,
                e,
                key_step.zone,
            )
            return
        if submitted:
            log.info("%s %s", key_step.zone, submitted)

    def _set_aside(self, key_step: key_steps.KeyStep) -> None:
        try:
            for message in key_step.set_aside_new_keys():
                log.warning("%s %s", key_step.zone, message)
        except SignwireError as e:
            log.warning("%s: %s (the next start sets it aside)", key_step.zone, e)

    def _discard(self, zr: ZoneRuntime) -> None:
        if zr.candidate is not None:
            self._set_aside(zr.candidate.key_step)
        # The input stays: the retry signs it again, in full.
        zr.candidate = None

    def _persist(self, zr: ZoneRuntime, version: bool) -> None:
        # A new version is saved by its publication (before it is served); here only the
        # refresh state, which is small.
        if zr.state.refresh is not None:
            versions.save_refresh(
                self.config.server.state, zr.config.name, zr.state.refresh.to_dict()
            )

    async def _write(self, zr: ZoneRuntime, write: Callable[[], object]) -> bool:
        """Files of a zone (its saved version, its output) are written off the loop's thread,
        one at a time and in order, so an older version never lands over a newer one."""
        async with zr.write_lock:
            try:
                await asyncio.to_thread(write)
            except OSError as e:
                log.error(
                    "%s: cannot write %s: %s",
                    zr.config.name,
                    e.filename or "a file",
                    e.strerror or e,
                )
                return False
            return True

    # --- NOTIFY ------------------------------------------------------------------------

    def _notify_actions(self, zr: ZoneRuntime, actions: Any) -> None:
        assert self.notifier is not None
        for send in actions.sends:
            self._spawn(self.notifier.send(send.secondary, send.wire))
        for report in actions.reports:
            if isinstance(report, Answered):
                zr.secondaries.setdefault(report.secondary.address, {}).update(
                    notified_serial=report.serial,
                    notify_rcode=report.rcode,
                    notify_sends=report.attempts,
                    notify_gave_up=False,
                )
                level = logging.INFO if report.rcode == 0 else logging.WARNING
                log.log(
                    level,
                    "%s: NOTIFY serial %d answered by %s (rcode %d, %d sends)",
                    zr.config.name,
                    report.serial,
                    report.secondary,
                    report.rcode,
                    report.attempts,
                )
            elif isinstance(report, GaveUp):
                zr.secondaries.setdefault(report.secondary.address, {}).update(
                    notified_serial=report.serial, notify_gave_up=True
                )
                log.error(
                    "%s: NOTIFY serial %d: no answer from %s after %d sends",
                    zr.config.name,
                    report.serial,
                    report.secondary,
                    report.attempts,
                )
            elif isinstance(report, Ignored):
                log.debug("NOTIFY answer ignored from %s: %s", report.peer, report.reason)
        self._schedule(zr)

    def _notify_answer(self, wire: bytes, peer: Secondary) -> None:
        now = self.clock()
        for zr in self.zones.values():
            if zr.notify_out is not None and peer in zr.notify_out.pending:
                actions = zr.notify_out.response(wire, peer, now)
                if not any(isinstance(r, Ignored) for r in actions.reports):
                    self._notify_actions(zr, actions)
                    return

    def _notify_in(self, wire: bytes, peer: str) -> list[bytes]:
        now = self.clock()
        try:
            notify = read_notify(wire, self.keyring, now)
        except NotifyError as e:
            # Debug only: junk must not be able to flood the log.
            log.debug("NOTIFY from %s dropped: %s", peer, e)
            return []
        zr = self.zones.get(notify.zone)
        if zr is None:
            log.warning("NOTIFY from %s for %s refused: not a zone of ours", peer, notify.zone)
            return [notify_answer(notify, refused=True, now=now)]
        zr.notify_answer = None
        self.dispatch(zr, pz.Notify(notify.event(peer)))
        accepted = bool(zr.notify_answer)
        return [notify_answer(notify, refused=not accepted, now=now)]

    # --- the DNS server's handler -------------------------------------------------------

    def handle_message(self, wire: bytes, peer: str, tcp: bool) -> list[bytes]:
        if len(wire) >= 4 and (wire[2] >> 3) & 0xF == _OPCODE_NOTIFY and not wire[2] & 0x80:
            return self._notify_in(wire, peer)
        now = self.clock()
        answers = respond(wire, peer, self.served, self.keyring, now, tcp=tcp)
        if tcp and answers:
            self._note_transfer(wire, peer, answers[0], len(answers),
                                sum(len(a) for a in answers), now)
        return answers

    def stream_transfer(self, wire: bytes, peer: str, tcp: bool) -> Iterator[bytes]:
        """:meth:`handle_message` for AXFR/IXFR over TCP: the messages made one at a time as
        the server takes them; the transfer is noted once the last one is made (not when the
        client went away before)."""
        now = self.clock()
        first, count, octets = b"", 0, 0
        for answer in respond_stream(wire, peer, self.served, self.keyring, now, tcp=tcp):
            first = first or answer
            count += 1
            octets += len(answer)
            yield answer
        if tcp and count:
            self._note_transfer(wire, peer, first, count, octets, now)

    def _note_transfer(self, wire: bytes, peer: str, first: bytes, messages: int, octets: int,
                       now: int) -> None:
        """Remember each secondary's last transfer for the status (TCP only: transfers are
        rare there, so reading the question again costs nothing that matters). ``first`` is
        the answer's first message; ``messages`` and ``octets`` count them all."""
        try:
            end = rdata.name_end(wire, 12)
            qname, qtype = wire[12:end], int.from_bytes(wire[end : end + 2], "big")
            zone_name = names.to_text(names.lower(qname))
        except (IndexError, ValueError):
            return
        if qtype not in (251, 252) or len(first) < 4 or first[3] & 0x0F:
            return  # not a transfer, or refused (REFUSED, NOTAUTH)
        zr = self.zones.get(zone_name)
        if zr is None or zr.served is None:
            return
        kind = "AXFR" if qtype == 252 else "IXFR"
        zr.counters.transfer_out(kind)
        info = zr.secondaries.setdefault(peer, {})
        info.update(
            last_transfer=kind,
            at=now,
            serial=zr.served.serial,
            messages=messages,
            octets=octets,
        )
        log.info(
            "%s: %s of serial %d to %s: %d messages, %d octets",
            zr.config.name,
            kind,
            zr.served.serial,
            peer,
            messages,
            octets,
        )

    # --- control -----------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        now = self.clock()
        return {
            "now": now,
            "started_at": self.started_at,
            "zones": [self.zone_status(zr, now) for zr in self.zones.values()],
        }

    def zone_status(self, zr: ZoneRuntime, now: int) -> dict[str, Any]:
        out = pz.status(zr.settings, zr.state, now)
        out["serving"] = zr.serving and zr.served is not None
        out["served_serial"] = zr.served.serial if zr.served is not None else None
        out["next_event"] = zr.wake
        out["next_ds_check"] = zr.ds_check_at
        if zr.signed is not None:
            due = zr.signed.schedule.next_due
            out["earliest_signature_expiry"] = (
                due + zr.signed.schedule.refresh if due is not None else None
            )
        out["journal"] = {"diffs": len(zr.journal), "oldest": zr.journal.oldest}
        if zr.signed is not None:
            # The DS of each key signing the DNSKEY RRset (what a trust anchor or the parent
            # needs); the enforcer's own view of when the parent should have it is in
            # `signwire key list`.
            out["ds"] = [
                f"{zr.config.name} IN DS "
                + rdata.to_text(DS, ds_rdata(zr.origin, k.dnskey_rdata, k.key_tag, k.algorithm))
                for k in zr.signed.keys.key_signers
            ]
        out["secondaries"] = dict(zr.secondaries)
        if zr.notify_out is not None:
            out["notify_pending"] = {str(s): n for s, n in zr.notify_out.pending.items()}
        return out

    def command(self, request: dict[str, Any]) -> dict[str, Any]:
        what = request.get("command")
        if what == "status":
            return {"ok": True, **self.status()}
        if what == "zone-list":
            return {
                "ok": True,
                "zones": [
                    {
                        "zone": zr.config.name,
                        "served_serial": zr.served.serial if zr.served else None,
                        "source": str(zr.config.file)
                        if zr.config.file
                        else ",".join(zr.config.primaries),
                        "origin": "added" if zr.added else "config",
                    }
                    for zr in self.zones.values()
                ],
            }
        if what in ("zone-reload", "zone-retransfer", "zone-notify", "zone-resign"):
            zone = str(request.get("zone", "")).lower()
            zone = zone if zone.endswith(".") else zone + "."
            zr = self.zones.get(zone)
            if zr is None:
                return {"ok": False, "error": f"no zone {zone} here"}
            if what == "zone-reload":
                self.dispatch(zr, pz.Reload())
            elif what == "zone-retransfer":
                self.dispatch(zr, pz.Retransfer())
            elif what == "zone-resign":
                self.dispatch(zr, pz.Resign())
            else:
                if zr.notify_out is None or zr.served is None:
                    return {
                        "ok": False,
                        "error": f"{zone}: no secondaries to notify, or nothing served yet",
                    }
                self._notify_actions(zr, zr.notify_out.new_serial(zr.served.soa, self.clock()))
            return {"ok": True, "zone": zone}
        if what == "key-report":
            return self._key_report(request)
        if what == "zone-add":
            return self._add_zone(request)
        if what == "zone-remove":
            return self._remove_zone(request)
        return {"ok": False, "error": f"unknown command {what!r}"}

    def _start_zone(self, zc: ZoneConfig, *, added: bool) -> None:
        """Make a zone, serve what the state holds of it at once, and start its pipeline."""
        zr = self._make_zone(zc, self.clock())
        zr.added = added
        self.zones[zc.name] = zr
        restored = self._restore(zr)
        self.dispatch(zr, pz.Start(restored=restored))

    def _add_zone(self, request: dict[str, Any]) -> dict[str, Any]:
        """``zone-add`` with ``table``: the zone's [[zone]] table (absolute paths), checked as
        the file's zones are; kept in the state and served at once."""
        assert self.state is not None
        table = request.get("table")
        if not isinstance(table, dict):
            return {"ok": False, "error": "zone-add needs table: the zone's [[zone]] table"}
        try:
            zc = check_zone(self.config, table)
        except ZoneRequestError as e:
            return {"ok": False, "error": str(e)}
        if zc.name in self.zones:
            where = "added at run time" if self.zones[zc.name].added else (
                f"in the configuration file {self.config.source}")
            return {"ok": False, "error": f"{zc.name} is served already ({where})"}
        self.state.add_zone(zc.name, table, self.clock())
        log.info("%s: added at run time (source %s)", zc.name,
                 zc.file or ",".join(zc.primaries), extra={"fields": {"table": table}})
        self._start_zone(zc, added=True)
        return {"ok": True, "zone": zc.name}

    def _remove_zone(self, request: dict[str, Any]) -> dict[str, Any]:
        """``zone-remove``: stop serving an added zone at once, stop its timers, drop it from
        the state; ``forget_keys`` retires its keys (moved aside in the key store)."""
        assert self.state is not None
        zone = zone_name(str(request.get("zone", "")))
        zr = self.zones.get(zone)
        if zr is None:
            return {"ok": False, "error": f"no zone {zone} here"}
        if not zr.added:
            if self.state.remove_added_zone(zone, self.clock()):
                # Also added at run time once: that copy goes, the file's zone stays served.
                log.info("%s: the copy added at run time is dropped from the state; the "
                         "configuration file's zone stays served", zone)
                return {"ok": True, "zone": zone, "retired": [], "kept": "config"}
            return {
                "ok": False,
                "error": f"{zone} is in the configuration file {self.config.source}: remove it "
                "there and restart the daemon",
            }
        forget = bool(request.get("forget_keys"))
        zr.removed = True
        del self.zones[zone]
        self.served.pop(names.lower(zr.origin), None)  # no longer answered
        zr.wake = None  # its entries in the timer heap are skipped from now on
        done = forget_keys(self.state, zone) if forget else []
        self.state.remove_added_zone(zone, self.clock(), forget=forget)
        for message in done:
            log.info("%s", message)
        log.info("%s: removed at run time%s", zone,
                 "; its keys are retired" if forget else "; its keys stay in the key store")
        return {"ok": True, "zone": zone, "retired": done}

    def _key_report(self, request: dict[str, Any]) -> dict[str, Any]:
        """An operator's report for the enforcer while the daemon holds the state: ``kind``
        ds-seen, ds-gone or compromised with a key ``tag``, or roll with a ``role``; applied
        by a key step at once."""
        assert self.state is not None
        zone = str(request.get("zone", "")).lower()
        zone = zone if zone.endswith(".") else zone + "."
        zr = self.zones.get(zone)
        kind = request.get("kind")
        if zr is None or self.state.zone(zone) is None:
            return {"ok": False, "error": f"no signed zone {zone} here"}
        if kind == "roll":
            role = str(request.get("role", ""))
            if role not in ("ksk", "zsk", "csk"):
                return {"ok": False, "error": "roll needs role ksk, zsk or csk"}
            arg = role
        elif kind in ("ds-seen", "ds-gone", "compromised"):
            tag = request.get("tag")
            keys = [k for k in self.state.key_states(zone) if k.tag == tag]
            if not keys:
                known = ", ".join(str(k.tag) for k in self.state.key_states(zone)) or "none"
                return {
                    "ok": False,
                    "error": f"{zone} has no key with tag {tag} (its keys: {known})",
                }
            arg = keys[0].key_id
        else:
            return {"ok": False, "error": "kind must be ds-seen, ds-gone, compromised or roll"}
        self.state.add_pending(zone, str(kind), arg, self.clock())
        log.info("%s: %s %s reported by the operator", zone, kind, arg)
        self.dispatch(zr, pz.KeysChanged())
        return {"ok": True, "zone": zone, "kind": kind, "key": arg}

    # --- life ----------------------------------------------------------------------------

    async def run(self) -> int:
        from signwire.control.zones import added_zones
        from signwire.runtime.control_server import ControlServer

        loop = asyncio.get_running_loop()
        self._open_state()
        try:
            self._build_keyring()
            now = self.clock()
            restored = {}
            for zc in self.config.zones:
                zr = self._make_zone(zc, now)
                self.zones[zc.name] = zr
                restored[zc.name] = self._restore(zr)
            assert self.state is not None
            added, messages = added_zones(self.config, self.state)
            for message in messages:
                log.warning("%s", message)
            for zc, _table in added:
                zr = self._make_zone(zc, now)
                zr.added = True
                self.zones[zc.name] = zr
                restored[zc.name] = self._restore(zr)
            self.server = DnsServer(self.config.server.listen, self.handle_message,
                                    self.stream_transfer)
            await self.server.start()
            await self._start_metrics()
            self.notifier = NotifySender(
                self._notify_answer,
                source4=self._source("0.0.0.0") or "0.0.0.0",
                source6=self._source("::") or "::",
            )
            self.control = ControlServer(self.config.server.control, self.command)
            await self.control.start()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self._stop.set)
            loop.add_signal_handler(signal.SIGHUP, self._reload_config)
            log.info(
                "serving %d zone(s) on %s; control socket %s; pid %d",
                len(self.zones),
                ", ".join(str(e) for e in self.config.server.listen),
                self.config.server.control,
                os.getpid(),
            )
            for name, zr in self.zones.items():
                self.dispatch(zr, pz.Start(restored=restored[name]))
                if restored[name] and zr.notify_out is not None and zr.served is not None:
                    # A stop may have cut the secondaries' transfer short after they had
                    # answered our NOTIFY: they would wait for their SOA retry timer. Tell them
                    # again, as BIND and Knot do when they load a zone.
                    self._notify_actions(
                        zr, zr.notify_out.new_serial(zr.served.soa, self.clock())
                    )
            timer = asyncio.ensure_future(self._timer_loop())
            await self._stop.wait()
            log.info("stopping")
            timer.cancel()
            return 0
        finally:
            await self._shutdown()

    def _reload_config(self) -> None:
        try:
            new = load_config(self.config_path)
        except SignwireError as e:
            log.error("SIGHUP: configuration not reloaded: %s", e)
            return
        from_file = {name for name, zr in self.zones.items() if not zr.added}
        if new.server != self.config.server or {z.name for z in new.zones} != from_file:
            log.error(
                "SIGHUP: changes of [server] or of the zone list need a restart; "
                "reloading the zone sources only"
            )
        else:
            self.config = new
            self._build_keyring()
            for zc in new.zones:
                zr = self.zones[zc.name]  # (a zone also added at run time: the file wins)
                if (zc.primaries, zc.notify, zc.policy, zc.policy_file) != (
                    zr.config.primaries,
                    zr.config.notify,
                    zr.config.policy,
                    zr.config.policy_file,
                ):
                    log.error(
                        "SIGHUP: %s: changes of primaries, notify or policy need a "
                        "restart; keeping the running ones",
                        zc.name,
                    )
                    continue
                # Who may transfer, the output file and the other plain settings apply now.
                zr.config = zc
                self._serve(zr)
        for zr in self.zones.values():
            self.dispatch(zr, pz.Reload())
        log.info("SIGHUP: configuration read, zones reloaded")

    async def _start_metrics(self) -> None:
        endpoint = self.config.server.metrics
        if endpoint is None:
            return
        from prometheus_client import CollectorRegistry

        from signwire.control.metrics import ZoneCollector
        from signwire.runtime.metrics import MetricsServer

        registry = CollectorRegistry(auto_describe=False)
        registry.register(ZoneCollector(self._metrics_source))
        self.metrics = MetricsServer(endpoint, registry)
        await self.metrics.start()
        log.info("metrics on http://%s/metrics", endpoint)

    def _metrics_source(self) -> list[tuple[dict[str, Any], ZoneCounters]]:
        now = self.clock()
        return [(self.zone_status(zr, now), zr.counters) for zr in self.zones.values()]

    async def _shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self.metrics is not None:
            await self.metrics.close()
        if self._signature_workers is not None:
            self._signature_workers.close()
        if self.control is not None:
            await self.control.close()
        if self.server is not None:
            await self.server.close()
        if self.notifier is not None:
            self.notifier.close()
        if self.state is not None:
            self.state.close()
        if self.lock is not None:
            self.lock.release()


def _journal_after(journal: Journal, change: Diff | None) -> list[Diff]:
    """The journal's diffs as they will be once ``change`` is appended (for saving)."""
    if change is None:
        return []
    copy = Journal(journal.max_diffs, journal.max_bytes)
    if journal.oldest is not None and journal.serial is not None:
        for d in journal.chain(journal.oldest, journal.serial) or []:
            copy.append(d)
    try:
        copy.append(change)
    except ValueError:
        return []
    oldest, newest = copy.oldest, copy.serial
    assert oldest is not None and newest is not None
    return copy.chain(oldest, newest) or []


def _read_version(path: Path, origin: bytes) -> ZoneVersion:
    parsed = read_zonefile(path, origin)
    version = ZoneVersion.from_records(origin, parsed.records)
    snapshot_of(version)  # the input checks; ZoneDataError when the zone cannot be signed
    return version


def _transferred_version(
    origin: bytes, result: FullZone | Diffs, base: ZoneVersion | None
) -> ZoneVersion:
    """The version a transfer leads to, with the input checks of full signing: on the whole
    zone for an AXFR, on what the diffs touched for an IXFR (the rest of the zone passed them
    when it came in; checking it all again cost 0.6 s per change at 100k names).
    :class:`ZoneDataError` or :class:`DiffError` for a transfer that cannot be taken."""
    if isinstance(result, FullZone):
        version = ZoneVersion.from_records(origin, result.records)
        snapshot_of(version)
        return version
    if base is None:
        raise DiffError("an IXFR answer, but there is no copy to apply it to")
    version = base
    touched: set[bytes] = set()
    for step in result.steps:
        change = step.to_diff()
        keys = {names.canonical_key(r[0]) for r in (*change.deleted, *change.added)}
        incr.check_owners(origin, keys)
        touched |= keys
        version = apply(version, change)
    incr.check_input(base, version, touched)
    return version


def serve(config_path: str, log_format: str | None = None) -> int:
    """Run the daemon; ``log_format`` ("text" or "json") overrides ``[server] log-format``."""
    from signwire.runtime import logformat

    logformat.setup(log_format or "text")
    daemon = Daemon(config_path)
    logformat.setup(
        log_format or daemon.config.server.log_format,
        secrets=[t.secret for t in daemon.config.tsig.values()],
    )
    return asyncio.run(daemon.run())
