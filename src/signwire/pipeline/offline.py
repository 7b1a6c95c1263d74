"""One offline run for one zone: what ``signwire sign`` does between parsing and printing.

    read → check → keys (the enforcer's step, or the given keys) → plan → sign into a
    temporary file → verify it → [with a state: save the state naming that file] → rename it
    into place → retire deleted keys → hand the DS to the submission command

:func:`sign_zone` runs it and returns a :class:`Signed` the command line reports; a run that
stops raises :class:`Stopped`, which says why (:class:`Why`) in words the operator reads, after
undoing what must not outlive it (the temporary file; keys made by this run and never
recorded). Nothing is visible to a reader of the output until the file verified, and with a
policy the state is saved only after that and before the rename, so the published file and the
state agree at every instant (``docs/architecture.md``, "State that survives crashes").

Why not the daemon's event machine (:mod:`signwire.pipeline.zone`): that machine decides *when*
to load, sign, verify and publish across many events (transfers, timers, NOTIFY, a reload that
arrives while a step runs) and keeps signed versions in memory for a server. An offline run is
one pass from start to end with no timer and nothing served; it streams the signed text from
the plan to a file (a million names never become records in memory), and its crash-safety
contract is an order of effects within the pass. Driving it through ``handle()`` would need an
event per step and a runtime loop around it, and would gain no decision. What the two share is
what they must agree on: the key step (:mod:`signwire.pipeline.key_step`: evidence that a zone
the state does not know was signed before, tidying the key store, the enforcer's step, saving
it, retiring deleted keys, setting aside the keys of a failed step, the DS submission) and the
order: verify before publishing, save the key states with the version they were published
with, retire and submit after.

Effects that belong to ``runtime/`` (the worker processes that sign, holding SIGINT/SIGTERM
while the state is saved and the file renamed, a stop asked for by a signal) are passed in as
an :class:`Effects`, so that this package keeps its one-way imports (runtime drives pipeline,
never the reverse). File and state I/O stay where they live: :mod:`signwire.storage` (the
two-phase :class:`~signwire.storage.files.PendingFile`, the state, finishing a killed run's
publication) and :mod:`signwire.keystore`. ``now`` is an argument; nothing here reads a clock.
"""

from __future__ import annotations

import contextlib
import enum
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TextIO

from signwire.errors import KeyStoreError, SigningError, ZoneDataError
from signwire.keystore.model import ZoneKey
from signwire.keystore.store import open_store
from signwire.loading.zonefile import read_zonefile
from signwire.parent.submit import DsSubmitError
from signwire.pipeline import key_step as key_steps
from signwire.policy import algorithms
from signwire.policy.model import KeyRole, Policy
from signwire.signing import full
from signwire.signing.keyset import SigningKeys
from signwire.signing.options import SigningOptions
from signwire.storage.files import PendingFile, remove_stale_temps
from signwire.storage.recovery import finish_publications
from signwire.storage.state import Publication, StateError, StateStore, StoreConfig
from signwire.verify import VerifyReport, verify_zone
from signwire.zones import names
from signwire.zones.snapshot import ZoneSnapshot, build

SHOW_WARNINGS = 10
SHOW_VERIFY_ERRORS = 5

WritePlan = Callable[
    [full.SigningPlan, TextIO, int | None, Callable[[int, int], None] | None, str | None], int
]


class Why(enum.Enum):
    """Why a run stopped; the command line turns it into an exit code."""

    UNREADABLE = "unreadable"  # the zone file cannot be read (nothing done)
    INVALID = "invalid"  # the zone is not a valid zone
    NOT_VERIFIED = "not verified"  # the signed output failed the independent verifier
    FAILED = "failed"  # keys, state, signing, output
    INTERRUPTED = "interrupted"  # SIGINT or SIGTERM


class Stopped(Exception):
    """The run stopped; ``message`` says what happened (and what was, or was not, published)."""

    def __init__(self, why: Why, message: str) -> None:
        super().__init__(message)
        self.why = why
        self.message = message


@dataclass(frozen=True, slots=True)
class Job:
    """What to sign, with what, and where to; everything already parsed and checked."""

    zonefile: str
    origin: bytes
    output: str  # "-": standard output
    options: SigningOptions
    now: int
    strip_dnssec: bool = False
    verify: bool = True
    jobs: int | None = None  # signing worker processes (None: one per CPU)
    # Without a policy: the key store, and how to make keys when it has none for the zone.
    store: StoreConfig | None = None
    algorithm: int | None = None
    csk: bool = False
    cds: bool = False
    cds_delete: bool = False
    # With a policy: the state (open and locked by the caller) and the store it names.
    policy: Policy | None = None
    state: StateStore | None = None
    state_dir: str = ""  # for messages
    start_afresh: bool = False


def _no_progress(done: int, total: int) -> None:
    return None


def _nothing(name: str) -> None:
    return None


@dataclass(slots=True)
class Effects:
    """What the run needs from the process around it (``runtime/`` and the terminal)."""

    write_plan: WritePlan  # sign the plan's names in workers, write them in order; RRSIGs made
    hold_signals: Callable[[], AbstractContextManager[None]]  # SIGINT/SIGTERM wait meanwhile
    raise_if_stopped: Callable[[], None]  # KeyboardInterrupt if a stop was asked for
    say: Callable[[str], None]  # a message for the operator
    begin: Callable[[str], None] = _nothing  # a stage starts ("reading", "signing", …)
    done: Callable[[str], None] = _nothing  # a timed phase ended ("read", "check", …)
    progress: Callable[[int, int], None] = _no_progress
    stdout: TextIO = field(default_factory=lambda: sys.stdout)


@dataclass(frozen=True, slots=True)
class Signed:
    """What a finished run did, for the report."""

    serial: int
    names: int  # authoritative names
    signatures: int  # RRSIGs made
    unsigned: bool  # written without DNSSEC records (a policy took the zone insecure)
    keys: SigningKeys
    key_step: key_steps.KeyStep | None
    verified: VerifyReport | None  # None: not verified (--no-verify, or written unsigned)


def sign_zone(job: Job, fx: Effects) -> Signed:
    """Run the whole sequence for ``job``; :class:`Stopped` when it cannot finish."""
    problem = _unreadable(job.zonefile)
    if problem is not None:
        raise Stopped(Why.UNREADABLE, f"{job.zonefile}: {problem}")
    if job.state is not None:
        try:
            for message in finish_publications(job.state, job.now):
                fx.say(f"signwire sign: {message}")
        except StateError as e:
            raise Stopped(Why.FAILED, str(e)) from None
    snapshot = _read(job, fx)
    return _Run(job, fx).sign(snapshot)


def _unreadable(path: str) -> str | None:
    """Why the zone file cannot be read, or None."""
    if os.path.isdir(path):
        return "is a directory, not a zone file"
    try:
        with open(path, "rb"):
            return None
    except FileNotFoundError:
        return "no such file"
    except OSError as e:
        return f"cannot be read: {e.strerror or e}"


def _read(job: Job, fx: Effects) -> ZoneSnapshot:
    try:
        fx.begin("reading")
        parsed = read_zonefile(job.zonefile, job.origin)
        fx.done("read")
        fx.begin("checking")
        snapshot = build(parsed, strip_dnssec=job.strip_dnssec)
        del parsed
        fx.done("check")
    except ZoneDataError as e:
        raise Stopped(Why.INVALID, str(e)) from None
    except OSError as e:
        raise Stopped(Why.UNREADABLE, f"{job.zonefile}: {e.strerror or e}") from None
    for w in snapshot.warnings[:SHOW_WARNINGS]:
        fx.say(f"signwire sign: warning: {w}")
    if len(snapshot.warnings) > SHOW_WARNINGS:
        fx.say(f"signwire sign: warning: … and {len(snapshot.warnings) - SHOW_WARNINGS} more")
    return snapshot


class _Run:
    """The steps after the zone is read, and what to undo when one fails."""

    def __init__(self, job: Job, fx: Effects) -> None:
        self.job = job
        self.fx = fx
        self.output = job.output
        self.key_step: key_steps.KeyStep | None = None
        self.pending: PendingFile | None = None
        self.saved = False  # the state holds this run's result (the file is, or will be, in place)
        self.serial: int | None = None

    def sign(self, snapshot: ZoneSnapshot) -> Signed:
        job = self.job
        try:
            return self._sign(snapshot)
        except DsSubmitError as e:
            raise Stopped(
                Why.FAILED,
                f"the zone is signed, but {e}; retry with "
                f"'signwire key ds {names.to_text(job.origin)} --state {job.state_dir}'"
                " piped to the command",
            ) from None
        except Stopped:
            self.undo()
            raise
        except ZoneDataError as e:  # found while planning: a DNSKEY no key signs for, say
            self.undo()
            raise Stopped(Why.INVALID, str(e)) from None
        except (KeyStoreError, SigningError, StateError) as e:
            self.undo()
            raise Stopped(Why.FAILED, str(e)) from None
        except OSError as e:
            self.undo()
            raise Stopped(
                Why.FAILED, f"cannot write {e.filename or self.output}: {e.strerror}"
            ) from None
        except KeyboardInterrupt:
            self.undo()
            if self.saved:
                told = f"serial {self.serial} was published to {self.output} and the state saved"
            else:
                told = "nothing was published" + (
                    ", the state is unchanged" if self.key_step else ""
                )
            raise Stopped(Why.INTERRUPTED, told) from None

    def _sign(self, snapshot: ZoneSnapshot) -> Signed:
        job, fx = self.job, self.fx
        previous_serial = None
        if job.policy is not None and job.state is not None:
            self.key_step = self._key_step()
            signing_keys = self.key_step.keys
            zone_row = job.state.zone(self.key_step.zone)
            previous_serial = zone_row.last_serial if zone_row else None
        else:
            assert job.store is not None
            keys = self._explicit_keys(job.store)
            signing_keys = SigningKeys.by_role(keys, cds=job.cds, cds_delete=job.cds_delete)
        fx.begin("planning")
        unsigned = self.key_step is not None and signing_keys.unsigned
        if unsigned:
            plan = full.plan_unsigned(snapshot, job.options, job.now, previous_serial)
        else:
            plan = full.plan(
                snapshot, signing_keys, job.options, job.now, previous_serial=previous_serial
            )
        # The plan holds every record it needs; the snapshot's own per-name lists would only
        # double the memory the forked workers inherit.
        del snapshot
        fx.done("plan")
        self.serial = serial = plan.serial
        count = plan.authoritative_names
        header = (
            f"; {names.to_text(job.origin)} {'written unsigned' if unsigned else 'signed'}"
            " by signwire at "
            f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(job.now))}\n"
        )
        check = job.verify and not unsigned
        fx.begin("signing")
        report = None
        with contextlib.ExitStack() as scratch:
            if self.output != "-":
                made = self._to_pending(plan, header)
                assert self.pending is not None
                written = str(self.pending.temp)
            elif check:
                # Standard output cannot be renamed into place: the text waits in a file of
                # its own until it has been verified.
                written, f = scratch.enter_context(_scratch_file())
                f.write(header)
                made = fx.write_plan(plan, f, job.jobs, fx.progress, None)
                f.close()
            else:
                fx.stdout.write(header)
                made = fx.write_plan(plan, fx.stdout, job.jobs, fx.progress, None)
                fx.stdout.flush()
            # The plan (the whole zone, in memory) is done with: the verifier reads the file.
            del plan
            fx.done("sign+write")
            if check:
                fx.begin("verifying")
                report = self._verify(written)
                fx.done("verify")
                if self.output == "-":
                    with open(written, encoding="latin-1", newline="") as signed:
                        shutil.copyfileobj(signed, fx.stdout, 1 << 20)
                    fx.stdout.flush()
        fx.raise_if_stopped()
        self._publish(serial)
        if self.key_step is not None:
            submitted = self.key_step.submit_ds()
            if submitted:
                self.key_step.messages.append(submitted)
        return Signed(serial, count, made, unsigned, signing_keys, self.key_step, report)

    # --- keys ----------------------------------------------------------------------------

    def _key_step(self) -> key_steps.KeyStep:
        """The enforcer's step for the zone, after making sure the state and the key store
        agree (and that a zone the state does not know is really new)."""
        job = self.job
        assert job.policy is not None and job.state is not None
        state = job.state
        zone = key_steps.zone_name(job.origin)
        # The token given now, else the store the zone was set up with (state default).
        config = job.store or state.key_store(zone)
        store = open_store(config)
        if state.zone(zone) is None:
            evidence = key_steps.signed_before(job.policy, job.origin, store, self.output)
            if evidence and not job.start_afresh:
                raise StateError(
                    f"{zone} is not in the state {job.state_dir}, but it was signed before: "
                    + "; ".join(evidence)
                    + ". Starting it afresh would make new keys and break the chain of trust. "
                    "Restore the state ('signwire state restore'), check --state, or, if the "
                    "zone must really start over with new keys, give --start-afresh"
                )
            if evidence:
                for key in store.keys_for(job.origin):
                    where = store.set_aside(key)
                    self.fx.say(f"{zone} --start-afresh: key {key.key_tag} set aside in {where}")
        else:
            for message in key_steps.tidy_key_store(state, job.origin, store):
                self.fx.say(f"{zone} {message}")
                state.add_log(zone, job.now, message)
        return key_steps.step(job.policy, job.origin, state, job.now, config)

    def _explicit_keys(self, config: StoreConfig) -> list[ZoneKey]:
        """The zone's keys in the store given, made there (KSK+ZSK, or a CSK) if it has none."""
        job = self.job
        store = open_store(config)
        keys = store.keys_for(job.origin)
        if keys:
            if job.algorithm is not None and job.algorithm not in {k.algorithm for k in keys}:
                raise KeyStoreError(
                    f"{store.where} holds keys of algorithm "
                    f"{', '.join(sorted({algorithms.mnemonic(k.algorithm) for k in keys}))} for "
                    f"{names.to_text(job.origin)}, not {algorithms.mnemonic(job.algorithm)}; "
                    "drop --algorithm to use them, or use another key store"
                )
            return keys
        algorithm = job.algorithm or algorithms.DEFAULT_ALGORITHM
        roles = [KeyRole.CSK] if job.csk else [KeyRole.KSK, KeyRole.ZSK]
        keys = [store.create(job.origin, algorithm, role, job.now) for role in roles]
        for k in keys:
            self.fx.say(
                f"created {k.role.value.upper()} {k.key_tag} ({algorithms.mnemonic(k.algorithm)})"
                f" in {store.where}"
            )
        return keys

    # --- sign, write, verify -------------------------------------------------------------

    def _to_pending(self, plan: full.SigningPlan, header: str) -> int:
        for leftover in remove_stale_temps(self.output):
            self.fx.say(f"signwire sign: removed {leftover}, left by a run that was killed")
        self.pending = pending = PendingFile(self.output)
        pending.file.write(header)
        scratch = str(pending.temp.parent)
        made = self.fx.write_plan(plan, pending.file, self.job.jobs, self.fx.progress, scratch)
        pending.finish()
        return made

    def _verify(self, path: str) -> VerifyReport:
        """The independent verifier's verdict on the written file (its lean path first, with
        worker processes, as ``signwire verify`` runs it); :class:`Stopped` if it fails."""
        job = self.job
        what = "standard output" if self.output == "-" else self.output
        try:
            report = verify_zone(path, names.to_text(job.origin), now=job.now)
        except ZoneDataError as e:
            raise Stopped(
                Why.NOT_VERIFIED,
                f"the signed zone failed verification, so nothing was written to {what}: {e}",
            ) from None
        if report.ok:
            return report
        errors = report.errors
        shown = "; ".join(str(p) for p in errors[:SHOW_VERIFY_ERRORS])
        more = ""
        if len(errors) > SHOW_VERIFY_ERRORS:
            more = f" (and {len(errors) - SHOW_VERIFY_ERRORS} more)"
        unchanged = ", the state is unchanged" if self.key_step is not None else ""
        raise Stopped(
            Why.NOT_VERIFIED,
            f"the signed zone failed verification ({len(errors)} errors), so nothing was "
            f"written to {what}{unchanged}: {shown}{more}",
        )

    # --- publish -------------------------------------------------------------------------

    def _publish(self, serial: int) -> None:
        job, pending, step = self.job, self.pending, self.key_step
        if step is not None and job.state is not None:
            with self.fx.hold_signals():
                publication = None
                if pending is not None:
                    publication = Publication(
                        step.zone, serial, str(pending.target), str(pending.temp),
                        pending.inode, job.now,
                    )  # fmt: skip
                step.commit(job.state, job.now, serial, publication)
                self.saved = True
                if pending is not None:
                    pending.publish()
                    job.state.publication_done(step.zone)
            step.retire_deleted()
        elif pending is not None:
            pending.publish()
        self.pending = None

    def undo(self) -> None:
        """After a failure: drop the unpublished file, and the keys no saved state records.
        (Once the state is saved, its file stays for the next run to put in place.)"""
        if self.pending is not None and not self.saved:
            self.pending.discard()
        step = self.key_step
        if step is not None and not self.saved:
            try:
                for message in step.set_aside_new_keys():
                    self.fx.say(f"{step.zone} {message}")
            except KeyStoreError as e:
                self.fx.say(f"{step.zone} warning: {e} (the next run sets it aside)")


@contextlib.contextmanager
def _scratch_file() -> Iterator[tuple[str, TextIO]]:
    """A temporary file of this run's own (removed at the end), by name and open for text."""
    fd, path = tempfile.mkstemp(prefix="signwire-", suffix=".signed")
    try:
        with os.fdopen(fd, "w", encoding="latin-1", newline="\n", buffering=1 << 20) as f:
            yield path, f
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
