"""``signwire sign``: sign a zone file offline.

This module parses and checks the command line, prints messages and picks the exit code; the
run itself (read → check → keys → plan → sign in worker processes → verify → save the state →
rename into place → retire keys → DS submission) is :mod:`signwire.pipeline.offline`, given
the worker pool and signal handling of :mod:`signwire.runtime` as effects. Nothing is written
unless every step succeeded, the verification of the signed file included, so a failed run
leaves an existing output file (and the state) exactly as it was.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signwire.durations import format_duration, parse_duration
from signwire.errors import SignwireError
from signwire.pipeline import key_step as key_steps
from signwire.pipeline import offline
from signwire.policy import algorithms
from signwire.policy.model import Policy, PolicyError
from signwire.policy.parse import load_policy
from signwire.runtime import signals
from signwire.runtime.signing_pool import write_plan
from signwire.signing.apex import ds_rdata
from signwire.signing.options import (
    DAY,
    Nsec3Params,
    SigningOptions,
    from_policy,
    nsec3_origin_problem,
)
from signwire.storage.files import (
    UnsafeDirectoryError,
    check_private_directory,
)
from signwire.storage.lock import DEFAULT_WAIT, StateLock, StateLockedError
from signwire.storage.state import StateError, StateStore, StoreConfig
from signwire.zones import names, rdata
from signwire.zones.rrtypes import DS
from signwire.zones.serial import SerialRule

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
        epilog="The signed zone is checked by signwire's independent verifier (every signature, "
        "the NSEC/NSEC3 chain, the zone cuts) before it replaces OUT. That check costs about "
        "twice the CPU time of the signing itself (docs/benchmarks.md); --no-verify skips "
        "it. "
        "Exit codes: 0 signed, 1 the zone file is not a valid zone, or the signed zone failed "
        "verification (nothing written either way), 2 usage error or unreadable file, "
        "3 key or output problem",
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
        "--no-verify",
        action="store_true",
        help="do not verify the signed zone before it replaces OUT (as dnssec-signzone -P): "
        "saves the verifier's time, about two thirds of a run's CPU time",
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


def _sign(args: argparse.Namespace, now: int, origin: bytes, setup: _Setup, started: float) -> int:
    output = args.output or args.zonefile + ".signed"
    job = offline.Job(
        zonefile=args.zonefile,
        origin=origin,
        output=output,
        options=setup.options,
        now=now,
        strip_dnssec=args.strip_dnssec,
        verify=not args.no_verify,
        jobs=args.jobs,
        store=setup.store,
        algorithm=args.algorithm,
        csk=args.csk,
        cds=args.cds,
        cds_delete=args.cds_delete,
        policy=setup.policy,
        state=setup.state,
        state_dir=str(args.state),
        start_afresh=args.start_afresh,
    )
    progress = Progress(enabled=None if not args.quiet else False)
    phases = _Phases()
    effects = offline.Effects(
        write_plan=write_plan,
        hold_signals=_signals_held,
        raise_if_stopped=signals.raise_if_stopped,
        say=lambda message: _say(args, message),
        begin=progress.start,
        done=phases.done,
        progress=progress.update,
    )
    try:
        signed = offline.sign_zone(job, effects)
    except offline.Stopped as e:
        progress.finish()
        if e.why is offline.Why.INTERRUPTED:
            print(f"signwire sign: interrupted; {e.message}", file=sys.stderr)
        else:
            print(f"signwire sign: error: {e.message}", file=sys.stderr)
        return _EXIT[e.why]
    progress.finish()
    _report(args, origin, setup.options, signed, output, started, phases)
    return EXIT_OK


_EXIT = {
    offline.Why.UNREADABLE: EXIT_USAGE,
    offline.Why.INVALID: EXIT_INVALID,
    offline.Why.NOT_VERIFIED: EXIT_INVALID,
    offline.Why.FAILED: EXIT_FAILURE,
    offline.Why.INTERRUPTED: 130,
}


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block is done: saving the state and renaming the
    file go together. (A SIGKILL can fall between them; the next run finishes the rename.)"""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _report(
    args: argparse.Namespace,
    origin: bytes,
    options: SigningOptions,
    signed: offline.Signed,
    output: str,
    started: float,
    phases: _Phases,
) -> None:
    key_step = signed.key_step
    if key_step is not None:
        for message in key_step.messages:
            _say(args, f"{key_step.zone} {message}")
    if key_step is not None and signed.unsigned:
        _say(
            args,
            f"wrote {names.to_text(origin)} UNSIGNED serial {signed.serial}: "
            f"{signed.names} names, no keys left (policy {key_step.policy.name!r}), "
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
        f"signed {names.to_text(origin)} serial {signed.serial}: "
        f"{signed.names} names, {signed.signatures} RRSIGs, {denial}, validity "
        f"{format_duration(options.validity)}, "
        f"{'verified' if signed.verified is not None else 'not verified'}, "
        f"{time.monotonic() - started:.1f}s" + ("" if output == "-" else f" -> {output}"),
    )
    if args.verbose:
        _say(args, "time: " + phases.summary())
    ds_keys = key_step.ds_keys if key_step is not None else signed.keys.key_signers
    for k in ds_keys:
        ds = rdata.to_text(DS, ds_rdata(origin, k.dnskey_rdata, k.key_tag, k.algorithm))
        _say(args, f"DS for the parent: {names.to_text(origin)} IN DS {ds}")
    if key_step is not None:
        _say(args, f"next key event: {key_step.next_event_text()}")
