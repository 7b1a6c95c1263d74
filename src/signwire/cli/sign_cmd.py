"""``signwire sign``: sign a zone file offline.

Read → check → plan → sign in worker processes → write atomically. Nothing is written unless
every step succeeded, so a failed run leaves an existing output file exactly as it was.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signwire.durations import format_duration, parse_duration
from signwire.errors import KeyStoreError, SigningError, SignwireError, ZoneDataError
from signwire.keystore.model import ZoneKey
from signwire.keystore.store import open_store
from signwire.loading.zonefile import read_zonefile
from signwire.parent.submit import DsSubmitError
from signwire.pipeline import key_step as key_steps
from signwire.policy import algorithms
from signwire.policy.model import KeyRole, Policy, PolicyError
from signwire.policy.parse import load_policy
from signwire.runtime import signals
from signwire.runtime.signing_pool import write_plan
from signwire.signing import full
from signwire.signing.apex import ds_rdata
from signwire.signing.keyset import SigningKeys
from signwire.signing.options import (
    DAY,
    Nsec3Params,
    SigningOptions,
    from_policy,
    nsec3_origin_problem,
)
from signwire.storage.files import (
    PendingFile,
    UnsafeDirectoryError,
    check_private_directory,
    remove_stale_temps,
)
from signwire.storage.lock import DEFAULT_WAIT, StateLock, StateLockedError
from signwire.storage.recovery import finish_publications
from signwire.storage.state import Publication, StateError, StateStore, StoreConfig
from signwire.zones import names, rdata
from signwire.zones.rrtypes import DS
from signwire.zones.serial import SerialRule
from signwire.zones.snapshot import build

from .progress import Progress

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_FAILURE = 0, 1, 2, 3
SHOW_WARNINGS = 10


def _duration(text: str) -> int:
    try:
        return parse_duration(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _algorithm(text: str) -> int:
    try:
        return algorithms.parse_algorithm(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _salt(text: str) -> bytes:
    if text in ("-", ""):
        return b""
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"salt {text!r} is not hex (use - for no salt)") from None


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "sign",
        help="sign a zone file",
        description="Sign ZONEFILE with the zone's keys from DIR (created there if it has none) "
        "and write the signed zone in canonical order.",
        epilog="exit codes: 0 signed, 1 the zone file is not a valid zone (nothing written), "
        "2 usage error or unreadable file, 3 key or output problem",
    )
    p.add_argument("zonefile", metavar="ZONEFILE")
    p.add_argument("--origin", required=True, metavar="NAME", help="the zone's name")
    p.add_argument(
        "--keys",
        metavar="DIR",
        type=Path,
        help="folder of the zone's keys (K*.key/K*.private, BIND and ldns format)",
    )
    p.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="signed zone file (default: ZONEFILE.signed; - for standard output)",
    )
    p.add_argument(
        "--algorithm",
        type=_algorithm,
        metavar="NAME",
        help="algorithm for new keys: ECDSAP256SHA256 (default), ECDSAP384SHA384, "
        "ED25519, ED448, RSASHA256, RSASHA512, or its number",
    )
    p.add_argument(
        "--csk",
        action="store_true",
        help="when creating keys, make one combined signing key instead of KSK+ZSK",
    )
    denial = p.add_mutually_exclusive_group()
    denial.add_argument(
        "--nsec", action="store_true", help="authenticated denial with NSEC (default)"
    )
    denial.add_argument("--nsec3", action="store_true", help="authenticated denial with NSEC3")
    p.add_argument(
        "--iterations",
        type=int,
        metavar="N",
        help="NSEC3 extra iterations (default 0, as RFC 9276 advises)",
    )
    p.add_argument("--salt", type=_salt, metavar="HEX|-", help="NSEC3 salt (default: none)")
    p.add_argument(
        "--opt-out",
        action="store_true",
        help="NSEC3 opt-out: leave insecure delegations out of the chain",
    )
    p.add_argument(
        "--validity",
        type=_duration,
        default=None,
        metavar="DURATION",
        help="signature validity (default 14d)",
    )
    p.add_argument(
        "--inception-offset",
        type=_duration,
        default=None,
        metavar="DURATION",
        help="back-date signature inception by this much (default 1h)",
    )
    p.add_argument(
        "--jitter",
        type=_duration,
        metavar="DURATION",
        help="spread expirations over this span (default: min(12h, validity/4))",
    )
    p.add_argument(
        "--serial",
        type=SerialRule,
        choices=list(SerialRule),
        default=None,
        help="outgoing SOA serial: keep (default), increment, unixtime, datecounter",
    )
    p.add_argument(
        "--dnskey-ttl",
        type=_duration,
        metavar="TTL",
        help="TTL of the DNSKEY RRset (default: the input's, else 3600)",
    )
    cds = p.add_mutually_exclusive_group()
    cds.add_argument(
        "--cds",
        action="store_true",
        help="publish CDS (SHA-256) and CDNSKEY for the key-signing keys (RFC 7344)",
    )
    cds.add_argument(
        "--cds-delete",
        action="store_true",
        help="publish the RFC 8078 delete form of CDS and CDNSKEY: ask the parent to remove "
        "the DS (before taking the zone insecure)",
    )
    p.add_argument(
        "--strip-dnssec",
        action="store_true",
        help="drop the DNSSEC records of the input (RRSIG, NSEC, NSEC3, NSEC3PARAM, and the "
        "apex's DNSKEY, CDS, CDNSKEY) and sign afresh: to re-sign a signed zone, or move it "
        "to other keys or another algorithm",
    )
    p.add_argument(
        "-j", "--jobs", type=int, metavar="N", help="worker processes (default: one per CPU)"
    )
    p.add_argument(
        "--policy",
        metavar="NAME",
        help="sign under this key-and-signing policy (keys, rollovers and timing follow it; "
        "'default' is built in); needs --state",
    )
    p.add_argument("--policy-file", metavar="FILE", help="TOML file with [policy.NAME] tables")
    p.add_argument(
        "--state",
        metavar="DIR",
        help="with --policy: where the zone's keys and their states are kept",
    )
    p.add_argument(
        "--lock-wait",
        type=float,
        default=DEFAULT_WAIT,
        metavar="SECONDS",
        help=f"with --state: how long to wait for another signwire using the same state "
        f"directory (default {DEFAULT_WAIT:g})",
    )
    p.add_argument(
        "--start-afresh",
        action="store_true",
        help="with --policy: start a zone the state does not know with new keys even though "
        "it was signed before (its old keys are set aside; the DS at the parent must then be "
        "replaced, and until it is validators fail the zone)",
    )
    hsm = p.add_argument_group(
        "keys in an HSM (PKCS#11) instead of files; the PIN is read from a file or an "
        "environment variable, never given on the command line"
    )
    hsm.add_argument("--hsm-module", metavar="PATH", help="the PKCS#11 module (a .so file)")
    hsm.add_argument("--hsm-token", metavar="LABEL", help="the token's label")
    hsm.add_argument("--hsm-pin-file", metavar="FILE", help="file whose first line is the PIN")
    hsm.add_argument("--hsm-pin-env", metavar="VAR", help="environment variable holding the PIN")
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    p.add_argument("-v", "--verbose", action="store_true", help="also print time spent per phase")


def options_from(args: argparse.Namespace) -> SigningOptions:
    """The signing options the command line asks for; :class:`_Usage` for what cannot be
    signed. Every value is taken as given, 0 included (a DNSKEY TTL of 0 is legal): only an
    option left out gets its default."""
    nsec3_only = [
        flag
        for flag, value in (("--iterations", args.iterations), ("--salt", args.salt))
        if value is not None
    ] + (["--opt-out"] if args.opt_out else [])
    if nsec3_only and not args.nsec3:
        raise _Usage(f"{', '.join(nsec3_only)} only make sense with --nsec3")
    if args.jobs is not None and args.jobs < 1:
        raise _Usage(f"--jobs {args.jobs}: give at least 1 (or leave it out: one per CPU)")
    try:
        nsec3 = None
        if args.nsec3:
            # Decided by --origin alone, so said before any key is made for the zone.
            origin = names.from_text(
                args.origin if args.origin.endswith(".") else args.origin + ".", None
            )
            problem = nsec3_origin_problem(origin)
            if problem is not None:
                raise _Usage(problem)
            nsec3 = Nsec3Params(
                0 if args.iterations is None else args.iterations,
                b"" if args.salt is None else args.salt,
                args.opt_out,
            )
        options = SigningOptions(
            nsec3=nsec3,
            validity=14 * DAY if args.validity is None else args.validity,
            inception_offset=3600 if args.inception_offset is None else args.inception_offset,
            jitter=args.jitter,
            dnskey_ttl=args.dnskey_ttl,
            serial=SerialRule.KEEP if args.serial is None else args.serial,
            cds=args.cds,
        )
    except ValueError as e:
        raise _Usage(str(e)) from None
    # Without --now the clock is read later; up to 2038 no span allowed above can wrap then,
    # and the plan checks the real time again.
    now = getattr(args, "now", None)
    problem = None if now is None else options.time_problem(now)
    if problem is not None:
        raise _Usage(problem)
    return options


class _Usage(Exception):
    pass


class _Phases:
    """Wall and CPU time per phase, for --verbose and for finding where time goes."""

    def __init__(self) -> None:
        self.items: list[tuple[str, float, float]] = []
        self.wall = time.monotonic()
        self.cpu = time.process_time()

    def done(self, name: str) -> None:
        wall, cpu = time.monotonic(), time.process_time()
        self.items.append((name, wall - self.wall, cpu - self.cpu))
        self.wall, self.cpu = wall, cpu

    def summary(self) -> str:
        return ", ".join(f"{n} {w:.1f}s (cpu {c:.1f}s)" for n, w, c in self.items)


def _say(args: argparse.Namespace, message: str) -> None:
    if not args.quiet:
        print(message, file=sys.stderr)


def _hsm_config(args: argparse.Namespace) -> StoreConfig | None:
    if not (args.hsm_module or args.hsm_token or args.hsm_pin_file or args.hsm_pin_env):
        return None
    if not (args.hsm_module and args.hsm_token):
        raise _Usage("--hsm-module and --hsm-token go together")
    if bool(args.hsm_pin_file) == bool(args.hsm_pin_env):
        raise _Usage("give the PIN with exactly one of --hsm-pin-file, --hsm-pin-env")
    if args.keys is not None:
        raise _Usage("--keys and --hsm-module are two places for the same keys: choose one")
    return StoreConfig(
        "pkcs11",
        module=args.hsm_module,
        token=args.hsm_token,
        pin_file=args.hsm_pin_file and str(Path(args.hsm_pin_file).resolve()),
        pin_env=args.hsm_pin_env,
    )


def load_or_create_keys(
    args: argparse.Namespace, origin: bytes, now: int, config: StoreConfig
) -> list[ZoneKey]:
    store = open_store(config)
    keys = store.keys_for(origin)
    if keys:
        if args.algorithm is not None and args.algorithm not in {k.algorithm for k in keys}:
            raise KeyStoreError(
                f"{store.where} holds keys of algorithm "
                f"{', '.join(sorted({algorithms.mnemonic(k.algorithm) for k in keys}))} for "
                f"{names.to_text(origin)}, not {algorithms.mnemonic(args.algorithm)}; "
                "drop --algorithm to use them, or use another key store"
            )
        return keys
    algorithm = args.algorithm or algorithms.DEFAULT_ALGORITHM
    roles = [KeyRole.CSK] if args.csk else [KeyRole.KSK, KeyRole.ZSK]
    keys = [store.create(origin, algorithm, role, now) for role in roles]
    for k in keys:
        _say(
            args,
            f"created {k.role.value.upper()} {k.key_tag} ({algorithms.mnemonic(k.algorithm)})"
            f" in {store.where}",
        )
    return keys


@dataclass(slots=True)
class _Setup:
    options: SigningOptions
    store: StoreConfig | None = None  # None with a policy: the zone's remembered store
    policy: Policy | None = None
    state: StateStore | None = None
    lock: StateLock | None = None

    def close(self) -> None:
        if self.state is not None:
            self.state.close()
        if self.lock is not None:
            self.lock.release()


_OFFLINE_ONLY = (
    ("--keys", "keys"),
    ("--algorithm", "algorithm"),
    ("--csk", "csk"),
    ("--nsec", "nsec"),
    ("--nsec3", "nsec3"),
    ("--iterations", "iterations"),
    ("--salt", "salt"),
    ("--opt-out", "opt_out"),
    ("--validity", "validity"),
    ("--inception-offset", "inception_offset"),
    ("--jitter", "jitter"),
    ("--serial", "serial"),
    ("--dnskey-ttl", "dnskey_ttl"),
    ("--cds-delete", "cds_delete"),
    ("--cds", "cds"),
)


def _setup(args: argparse.Namespace) -> _Setup:
    hsm = _hsm_config(args)
    if args.policy is None:
        if args.state is not None:
            raise _Usage("--state goes with --policy")
        if hsm is None and args.keys is None:
            raise _Usage(
                "say where the keys are: --keys DIR, --hsm-module/--hsm-token, or --policy"
            )
        return _Setup(options_from(args), hsm or StoreConfig.files(args.keys))
    if args.state is None:
        raise _Usage("--policy needs --state DIR (where keys and their states are kept)")
    clash = [flag for flag, attr in _OFFLINE_ONLY if getattr(args, attr) not in (None, False)]
    if clash:
        raise _Usage(f"{', '.join(clash)}: the policy decides these; drop them or drop --policy")
    policy = load_policy(args.policy, args.policy_file)
    try:
        options = from_policy(policy)
    except ValueError as e:
        raise _Usage(str(e)) from None
    # The lock before the database: a second run must not even read a state that the first
    # one is about to change.
    check_private_directory(args.state, "state directory")
    Path(args.state).mkdir(mode=0o700, parents=True, exist_ok=True)
    lock = StateLock(args.state, wait=args.lock_wait)
    lock.acquire()
    try:
        state = StateStore(args.state)
    except BaseException:
        lock.release()
        raise
    setup = _Setup(options, hsm, policy, state, lock)
    try:
        if policy.insecure:
            _check_insecure_switch(args, policy, state)
    except BaseException:
        setup.close()
        raise
    return setup


def _check_insecure_switch(args: argparse.Namespace, policy: Policy, state: StateStore) -> None:
    """Refuse a switch to a keyless policy that would wait less for the DS than the zone's
    own policy said the parent needs (see key_steps.insecure_switch_problem)."""
    zone = key_steps.zone_name(
        names.from_text(args.origin if args.origin.endswith(".") else args.origin + ".", None)
    )
    row = state.zone(zone)
    if row is None or row.policy is None or row.policy == policy.name:
        return
    try:
        previous = load_policy(row.policy, row.policy_file)
    except PolicyError as e:
        _say(args, f"signwire sign: warning: cannot compare with the zone's policy: {e}")
        return
    problem = key_steps.insecure_switch_problem(previous, policy, state.key_states(zone))
    if problem is not None:
        raise _Usage(problem)


def run(args: argparse.Namespace, now: int) -> int:
    # The zone becomes millions of small tuples and lists with no reference cycles. Left on,
    # the cyclic collector would walk them again and again while they are built, and a
    # collection switched back on between phases would sweep all of them at once.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _run(args, now)
    finally:
        if was_enabled:
            gc.enable()


def _run(args: argparse.Namespace, now: int) -> int:
    started = time.monotonic()
    try:
        origin = names.from_text(
            args.origin if args.origin.endswith(".") else args.origin + ".", None
        )
        setup = _setup(args)
    except (_Usage, ValueError, PolicyError, StateError) as e:
        print(f"signwire sign: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except (StateLockedError, UnsafeDirectoryError, SignwireError) as e:
        print(f"signwire sign: error: {e}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as e:
        print(f"signwire sign: error: {args.state}: {e.strerror or e}", file=sys.stderr)
        return EXIT_FAILURE
    try:
        return _sign(args, now, origin, setup, started)
    finally:
        setup.close()


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


def _sign(args: argparse.Namespace, now: int, origin: bytes, setup: _Setup, started: float) -> int:
    problem = _unreadable(args.zonefile)
    if problem is not None:
        print(f"signwire sign: error: {args.zonefile}: {problem}", file=sys.stderr)
        return EXIT_USAGE
    options = setup.options
    if setup.state is not None:
        try:
            for message in finish_publications(setup.state, now):
                _say(args, f"signwire sign: {message}")
        except StateError as e:
            print(f"signwire sign: error: {e}", file=sys.stderr)
            return EXIT_FAILURE

    progress = Progress(enabled=None if not args.quiet else False)
    phases = _Phases()
    try:
        progress.start("reading")
        parsed = read_zonefile(args.zonefile, origin)
        phases.done("read")
        progress.start("checking")
        snapshot = build(parsed, strip_dnssec=args.strip_dnssec)
        del parsed
        phases.done("check")
    except ZoneDataError as e:
        progress.finish()
        print(f"signwire sign: error: {e}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as e:
        progress.finish()
        print(f"signwire sign: error: {args.zonefile}: {e.strerror or e}", file=sys.stderr)
        return EXIT_USAGE
    for w in snapshot.warnings[:SHOW_WARNINGS]:
        _say(args, f"signwire sign: warning: {w}")
    if len(snapshot.warnings) > SHOW_WARNINGS:
        _say(args, f"signwire sign: warning: … and {len(snapshot.warnings) - SHOW_WARNINGS} more")

    key_step: key_steps.KeyStep | None = None
    output = args.output or args.zonefile + ".signed"
    pending: PendingFile | None = None
    saved = False  # the state holds this run's result (and the file is, or will be, in place)
    try:
        previous_serial = None
        if setup.policy is not None and setup.state is not None:
            key_step = _key_step(args, origin, setup, now, output)
            signing_keys = key_step.keys
            zone_row = setup.state.zone(key_step.zone)
            previous_serial = zone_row.last_serial if zone_row else None
        else:
            assert setup.store is not None
            keys = load_or_create_keys(args, origin, now, setup.store)
            signing_keys = SigningKeys.by_role(keys, cds=args.cds, cds_delete=args.cds_delete)
        progress.start("planning")
        unsigned = key_step is not None and signing_keys.unsigned
        if unsigned:
            plan = full.plan_unsigned(snapshot, options, now, previous_serial)
        else:
            plan = full.plan(snapshot, signing_keys, options, now, previous_serial=previous_serial)
        # The plan holds every record it needs; the snapshot's own per-name lists would only
        # double the memory the forked workers inherit.
        del snapshot
        phases.done("plan")
        progress.start("signing")
        header = (
            f"; {names.to_text(origin)} {'written unsigned' if unsigned else 'signed'}"
            " by signwire at "
            f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(now))}\n"
        )
        if output == "-":
            sys.stdout.write(header)
            made = write_plan(plan, sys.stdout, args.jobs, progress.update, None)
            sys.stdout.flush()
        else:
            for leftover in remove_stale_temps(output):
                _say(args, f"signwire sign: removed {leftover}, left by a run that was killed")
            pending = PendingFile(output)
            pending.file.write(header)
            scratch = str(pending.temp.parent)
            made = write_plan(plan, pending.file, args.jobs, progress.update, scratch)
            pending.finish()
        phases.done("sign+write")
        signals.raise_if_stopped()
        if key_step is not None and setup.state is not None:
            with _signals_held():
                publication = _publication(key_step, pending, plan.serial, now)
                key_step.commit(setup.state, now, plan.serial, publication)
                saved = True
                if pending is not None:
                    pending.publish()
                    setup.state.publication_done(key_step.zone)
            key_step.retire_deleted()
        elif pending is not None:
            pending.publish()
        pending = None
        if key_step is not None:
            submitted = key_step.submit_ds()
            if submitted:
                key_step.messages.append(submitted)
    except DsSubmitError as e:
        progress.finish()
        print(
            f"signwire sign: error: the zone is signed, but {e}; retry with "
            f"'signwire key ds {names.to_text(origin)} --state {args.state}'"
            " piped to the command",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    except ZoneDataError as e:  # found while planning: a DNSKEY no key signs for, say
        progress.finish()
        _undo(args, pending, key_step, saved)
        print(f"signwire sign: error: {e}", file=sys.stderr)
        return EXIT_INVALID
    except (KeyStoreError, SigningError, StateError) as e:
        progress.finish()
        _undo(args, pending, key_step, saved)
        print(f"signwire sign: error: {e}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as e:
        progress.finish()
        _undo(args, pending, key_step, saved)
        print(
            f"signwire sign: error: cannot write {e.filename or output}: {e.strerror}",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    except KeyboardInterrupt:
        progress.finish()
        _undo(args, pending, key_step, saved)
        if saved:
            told = f"serial {plan.serial} was published to {output} and the state saved"
        else:
            told = "nothing was published" + (", the state is unchanged" if key_step else "")
        print(f"signwire sign: interrupted; {told}", file=sys.stderr)
        return 130
    progress.finish()
    _report(args, origin, options, plan, made, output, started, phases, signing_keys, key_step)
    return EXIT_OK


def _key_step(
    args: argparse.Namespace, origin: bytes, setup: _Setup, now: int, output: str
) -> key_steps.KeyStep:
    """The enforcer's step for the zone, after making sure the state and the key store agree
    (and that a zone the state does not know is really new)."""
    assert setup.policy is not None and setup.state is not None
    state = setup.state
    zone = key_steps.zone_name(origin)
    # The token given now, else the store the zone was set up with (state default).
    config = setup.store or state.key_store(zone)
    store = open_store(config)
    if state.zone(zone) is None:
        evidence = key_steps.signed_before(setup.policy, origin, store, output)
        if evidence and not args.start_afresh:
            raise StateError(
                f"{zone} is not in the state {args.state}, but it was signed before: "
                + "; ".join(evidence)
                + ". Starting it afresh would make new keys and break the chain of trust. "
                "Restore the state ('signwire state restore'), check --state, or, if the zone "
                "must really start over with new keys, give --start-afresh"
            )
        if evidence:
            for key in store.keys_for(origin):
                where = store.set_aside(key)
                _say(args, f"{zone} --start-afresh: key {key.key_tag} set aside in {where}")
    else:
        for message in key_steps.tidy_key_store(state, origin, store):
            _say(args, f"{zone} {message}")
            state.add_log(zone, now, message)
    return key_steps.step(setup.policy, origin, state, now, config)


def _publication(
    key_step: key_steps.KeyStep, pending: PendingFile | None, serial: int, now: int
) -> Publication | None:
    if pending is None:
        return None
    return Publication(
        key_step.zone, serial, str(pending.target), str(pending.temp), pending.inode, now
    )


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block is done: saving the state and renaming the
    file go together. (A SIGKILL can fall between them; the next run finishes the rename.)"""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _undo(
    args: argparse.Namespace,
    pending: PendingFile | None,
    key_step: key_steps.KeyStep | None,
    saved: bool,
) -> None:
    """After a failure: drop the unpublished file, and the keys no saved state records.
    (Once the state is saved, its file stays for the next run to put in place.)"""
    if pending is not None and not saved:
        pending.discard()
    if key_step is not None and not saved:
        try:
            for message in key_step.set_aside_new_keys():
                _say(args, f"{key_step.zone} {message}")
        except KeyStoreError as e:
            _say(args, f"{key_step.zone} warning: {e} (the next run sets it aside)")


def _report(
    args: argparse.Namespace,
    origin: bytes,
    options: SigningOptions,
    plan: full.SigningPlan,
    made: int,
    output: str,
    started: float,
    phases: _Phases,
    signing_keys: SigningKeys,
    key_step: key_steps.KeyStep | None,
) -> None:
    if key_step is not None:
        for message in key_step.messages:
            _say(args, f"{key_step.zone} {message}")
    if key_step is not None and signing_keys.unsigned:
        _say(
            args,
            f"wrote {names.to_text(origin)} UNSIGNED serial {plan.serial}: "
            f"{plan.authoritative_names} names, no keys left (policy {key_step.policy.name!r}), "
            f"{time.monotonic() - started:.1f}s" + ("" if output == "-" else f" -> {output}"),
        )
        _say(args, f"next key event: {key_step.next_event_text()}")
        return
    denial = "NSEC"
    if options.nsec3 is not None:
        p = options.nsec3
        denial = f"NSEC3 ({p.iterations} iterations, salt {p.salt.hex() or '-'}" + (
            ", opt-out)" if p.opt_out else ")"
        )
    _say(
        args,
        f"signed {names.to_text(origin)} serial {plan.serial}: "
        f"{plan.authoritative_names} names, {made} RRSIGs, {denial}, validity "
        f"{format_duration(options.validity)}, {time.monotonic() - started:.1f}s"
        + ("" if output == "-" else f" -> {output}"),
    )
    if args.verbose:
        _say(args, "time: " + phases.summary())
    ds_keys = key_step.ds_keys if key_step is not None else signing_keys.key_signers
    for k in ds_keys:
        ds = rdata.to_text(DS, ds_rdata(origin, k.dnskey_rdata, k.key_tag, k.algorithm))
        _say(args, f"DS for the parent: {names.to_text(origin)} IN DS {ds}")
    if key_step is not None:
        _say(args, f"next key event: {key_step.next_event_text()}")
