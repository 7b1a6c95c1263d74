"""Policies from TOML: reading, converting, and refusing the ones that cannot work.

A policy is a table ``[policy.NAME]`` of the configuration file, or a whole file of its own
(``policies/NAME.toml`` with the keys at the top level). Every policy starts from the shipped
``default`` (:mod:`signwire.policy.default`), or from the policy named by ``based-on``, and
overrides the keys it names. Durations are seconds (an integer) or text: ``90m``, ``1h30m``,
``14d``, ``2w``, ISO 8601 ``P14D``; lifetimes may also be ``"unlimited"``.

Nothing half-checked comes out: unknown keys (with a "did you mean"), wrong types, unknown or
deprecated algorithms and digest types (RFC 8624), NSEC3 parameters RFC 9276 advises against,
and policies whose values contradict each other (:func:`feasibility_problems`) all raise one
:class:`~signwire.policy.model.PolicyError` naming the file, the policy and each key at fault.
Reading the file is the only I/O in :mod:`signwire.policy`.
"""

from __future__ import annotations

import difflib
import shlex
import tomllib
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, TypeVar

from signwire.durations import format_duration, parse_duration
from signwire.policy import algorithms, intervals
from signwire.policy.agents import parse_agents
from signwire.policy.default import (
    DEFAULT_POLICY_NAME,
    DEFAULT_POLICY_TOML,
    INSECURE_POLICY_TOML,
)
from signwire.policy.model import (
    Denial,
    DenialKind,
    KeyLayout,
    KeyRole,
    KeySpec,
    KskRollover,
    ParentSync,
    Policy,
    PolicyError,
    SignatureTiming,
    SoaValues,
    Timing,
)
from signwire.zones.serial import SerialRule

BUILTIN_SOURCE = "<built-in>"
MAX_TTL = 2**31 - 1  # RFC 2181 §8
# RRSIG times and SOA timers are 32-bit numbers compared by serial arithmetic: a span of 2^31 s
# or more wraps (a signature would expire "before" its inception).
MAX_DURATION = 2**31 - 1
MAX_NSEC3_ITERATIONS = 100  # RFC 9276 §3.2: validators may treat more as insecure (or bogus)
MIN_RSA_BITS = 2048

_LIFETIME_KEY = {
    KeyRole.KSK: "ksk-lifetime",
    KeyRole.ZSK: "zsk-lifetime",
    KeyRole.CSK: "csk-lifetime",
}
_DIGESTS = {"SHA-256": 2, "SHA256": 2, "2": 2, "SHA-384": 4, "SHA384": 4, "4": 4}
_REFUSED_DIGESTS = {"SHA-1": 1, "SHA1": 1, "1": 1, "GOST": 3, "GOST R 34.11-94": 3, "3": 3}

KNOWN_KEYS: frozenset[str] = frozenset(
    {
        "based-on",
        "algorithm",
        "key-size",
        "keys",
        "ksk-lifetime",
        "zsk-lifetime",
        "csk-lifetime",
        "ksk-rollover",
        "dnskey-ttl",
        "max-zone-ttl",
        "parent-ds-ttl",
        "zone-propagation-delay",
        "parent-propagation-delay",
        "publish-safety",
        "retire-safety",
        "soa-expire",
        "soa-negative-ttl",
        "serial",
        "signature-validity",
        "signature-refresh",
        "signature-jitter",
        "signature-inception-offset",
        "dnskey-signature-validity",
        "denial",
        "nsec3-iterations",
        "nsec3-salt",
        "nsec3-salt-length",
        "nsec3-resalt",
        "nsec3-opt-out",
        "cds",
        "cdnskey",
        "cds-digest-types",
        "parental-agents",
        "ds-submit-command",
    }
)

E = TypeVar("E", KeyLayout, KskRollover, DenialKind, SerialRule)


# --- entry points -------------------------------------------------------------------------------


def builtin_policies() -> dict[str, Policy]:
    """The policies signwire ships: ``default`` and ``insecure`` (no keys)."""
    document = tomllib.loads(DEFAULT_POLICY_TOML + INSECURE_POLICY_TOML)
    return parse_document(document, source=BUILTIN_SOURCE)


def default_policy() -> Policy:
    return builtin_policies()[DEFAULT_POLICY_NAME]


def load_policies(path: str | Path) -> dict[str, Policy]:
    """Every policy in a configuration file (``[policy.NAME]``), a one-policy file (named after
    the file), or a policy directory: every ``*.toml`` file in it, each read that way."""
    if Path(path).is_dir():
        found: dict[str, Policy] = {}
        for file in sorted(Path(path).glob("*.toml")):
            for name, policy in load_policies(file).items():
                if name in found:
                    raise PolicyError(
                        f"defined twice, here and in {found[name].source}",
                        path=str(file),
                        policy=name,
                    )
                found[name] = policy
        return found
    source = str(path)
    try:
        with open(path, "rb") as f:
            document = tomllib.load(f)
    except OSError as e:
        raise PolicyError(f"cannot read: {e.strerror or e}", path=source) from e
    except tomllib.TOMLDecodeError as e:
        raise PolicyError(f"not valid TOML: {e}", path=source) from e
    if "policy" not in document and KNOWN_KEYS.intersection(document):
        document = {"policy": {Path(path).stem: document}}
    return parse_document(document, source=source)


def load_policy(name: str, path: str | Path | None = None) -> Policy:
    """The policy ``name`` from ``path``, or a built-in one (``default``, ``insecure``) when the
    file does not define it or no file is given."""
    found = load_policies(path) if path is not None else {}
    if name in found:
        return found[name]
    builtin = builtin_policies()
    if name in builtin:
        return builtin[name]
    known = sorted({*found, *builtin})
    raise PolicyError(
        f"no such policy; known: {', '.join(known)}",
        path=str(path) if path is not None else None,
        policy=name,
    )


def parse_document(document: Mapping[str, Any], *, source: str) -> dict[str, Policy]:
    """All ``[policy.NAME]`` tables of a parsed TOML document."""
    tables = document.get("policy", {})
    if not isinstance(tables, Mapping) or not all(isinstance(t, Mapping) for t in tables.values()):
        raise PolicyError("'policy' must hold tables: [policy.NAME]", path=source)
    return {name: _build(name, tables, source) for name in tables}


def parse_policy(name: str, table: Mapping[str, Any], *, source: str = BUILTIN_SOURCE) -> Policy:
    """One policy from its table (keys as in the file), on top of ``default`` or ``based-on``."""
    return _build(name, {name: table}, source)


def check_algorithms(policy: Policy, supported: Collection[int], store: str) -> None:
    """Refuse a policy whose keys ``store`` (a key store's description) cannot make."""
    for spec in policy.keys:
        if spec.algorithm not in supported:
            raise PolicyError(
                f"key store {store} cannot make {algorithms.mnemonic(spec.algorithm)} keys "
                f"(it offers: {', '.join(_algorithm_names(supported)) or 'nothing'})",
                path=policy.source,
                policy=policy.name,
                key="algorithm",
            )


# --- feasibility ----------------------------------------------------------------------------------


def feasibility_problems(policy: Policy) -> list[tuple[str, str]]:
    """``(keys, why)`` for every combination of values that cannot work together."""
    problems: list[tuple[str, str]] = []
    sig, soa, t = policy.signatures, policy.soa, policy.timing
    d = format_duration

    # A secondary that loses its primary keeps serving its last copy until SOA expire after its
    # last successful refresh; when that copy left the signer, every signature in it had at
    # least `refresh` left. Resolvers then cache what it served for up to the largest TTL (of
    # data, negative answers or DNSKEY), and RFC 4035 §5.3.3 clamps a cached RRset to its
    # signature's expiration. So: refresh >= expire + largest TTL.
    longest_ttl = max(policy.signature_ttl, t.dnskey_ttl)
    ttl_names = "max-zone-ttl" if policy.signature_ttl == t.max_zone_ttl else "soa-negative-ttl"
    if t.dnskey_ttl > policy.signature_ttl:
        ttl_names = "dnskey-ttl"
    if sig.refresh < soa.expire + longest_ttl:
        problems.append(
            (
                f"signature-refresh, soa-expire, {ttl_names}",
                f"signature-refresh ({d(sig.refresh)}) must be at least soa-expire "
                f"({d(soa.expire)}) + {ttl_names} ({d(longest_ttl)}) = "
                f"{d(soa.expire + longest_ttl)}: a secondary cut off from signwire serves its "
                f"last copy until soa-expire, resolvers keep its answers for up to {ttl_names}, "
                f"and signatures are only sure to have signature-refresh left when the copy "
                f"leaves the signer",
            )
        )
    # A signature is made with at least validity - jitter to live and is replaced when refresh
    # is left: it must be useful for some time in between, or the signer re-signs forever.
    for key, validity in (
        ("signature-validity", sig.validity),
        ("dnskey-signature-validity", sig.dnskey_validity),
    ):
        if validity - sig.jitter <= sig.refresh:
            problems.append(
                (
                    f"{key}, signature-jitter, signature-refresh",
                    f"{key} ({d(validity)}) minus signature-jitter ({d(sig.jitter)}) must be "
                    f"longer than signature-refresh ({d(sig.refresh)}): otherwise a new "
                    f"signature is already due for refresh when it is made",
                )
            )
    for key, validity in (
        ("signature-validity", sig.validity),
        ("dnskey-signature-validity", sig.dnskey_validity),
    ):
        if validity + sig.inception_offset > MAX_DURATION:
            problems.append(
                (
                    f"{key}, signature-inception-offset",
                    f"{key} ({d(validity)}) + signature-inception-offset "
                    f"({d(sig.inception_offset)}) must stay below 2^31 seconds (about 68 "
                    f"years): RRSIG inception and expiration are 32-bit serial numbers, and a "
                    f"longer span wraps, so validators see a signature that expired before it "
                    f"was made (RFC 4034 §3.1.5)",
                )
            )
    if sig.inception_offset >= sig.validity:
        problems.append(
            (
                "signature-inception-offset, signature-validity",
                f"signature-inception-offset ({d(sig.inception_offset)}) must be shorter than "
                f"signature-validity ({d(sig.validity)})",
            )
        )
    for spec in policy.keys:
        if spec.lifetime is None:
            continue
        steps = intervals.rollover_steps(policy, spec.role)
        needed = sum(s for _, s in steps)
        if spec.lifetime < needed:
            how = " then ".join(f"{name} ({d(s)})" for name, s in steps)
            problems.append(
                (
                    _LIFETIME_KEY[spec.role],
                    f"{_LIFETIME_KEY[spec.role]} ({d(spec.lifetime)}) is shorter than a "
                    f"{spec.role.value.upper()} rollover takes ({d(needed)}: {how}); keys "
                    f"would pile up, each rollover starting before the last one ended",
                )
            )
    return problems


# --- building -------------------------------------------------------------------------------------


def _build(name: str, tables: Mapping[str, Mapping[str, Any]], source: str) -> Policy:
    merged = _merged(name, tables, source)
    f = _Fields(merged, source, name)
    policy = _convert(name, f, source)
    if f.problems:
        _raise(f.problems, source, name)
    assert policy is not None
    problems = feasibility_problems(policy)
    if problems:
        _raise(problems, source, name)
    return policy


def _raise(problems: list[tuple[str, str]], source: str, name: str) -> None:
    if len(problems) == 1:
        key, why = problems[0]
        raise PolicyError(why, path=source, policy=name, key=key)
    err = PolicyError("; ".join(f"{k}: {w}" for k, w in problems), path=source, policy=name)
    err.key = problems[0][0]
    raise err


def _merged(name: str, tables: Mapping[str, Mapping[str, Any]], source: str) -> dict[str, Any]:
    """The policy's table on top of its bases, down to the shipped default."""
    default_table = tomllib.loads(DEFAULT_POLICY_TOML)["policy"][DEFAULT_POLICY_NAME]
    chain: list[Mapping[str, Any]] = []
    seen: list[str] = []
    current: str | None = name
    while current is not None:
        if current in seen:
            raise PolicyError(
                f"based-on loops: {' -> '.join([*seen, current])}",
                path=source,
                policy=name,
                key="based-on",
            )
        seen.append(current)
        if current in tables:
            table = tables[current]
        elif current == DEFAULT_POLICY_NAME:
            table = default_table
        else:
            raise PolicyError(
                f"based-on names {current!r}, which is neither in this file nor built in",
                path=source,
                policy=name,
                key="based-on",
            )
        unknown = sorted(set(table) - KNOWN_KEYS)
        if unknown:
            hints = []
            for key in unknown:
                close = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
                hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise PolicyError(
                f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(hints)}",
                path=source,
                policy=current,
                key=unknown[0],
            )
        chain.append(table)
        base = table.get("based-on")
        if base is not None and not isinstance(base, str):
            raise PolicyError("must be a policy name", path=source, policy=current, key="based-on")
        if base is None and current != DEFAULT_POLICY_NAME:
            base = DEFAULT_POLICY_NAME
        current = base
    # The shipped default is always underneath, so a file's own [policy.default] only needs
    # the values it changes.
    merged: dict[str, Any] = dict(default_table)
    for table in reversed(chain):
        merged.update(table)
    return merged


def _convert(name: str, f: _Fields, source: str) -> Policy | None:
    algorithm = f.algorithm("algorithm")
    size = f.key_size("key-size", algorithm)
    layout = f.choice("keys", KeyLayout)
    ksk_rollover = f.choice("ksk-rollover", KskRollover)
    roles = {
        KeyLayout.KSK_ZSK: (KeyRole.KSK, KeyRole.ZSK),
        KeyLayout.CSK: (KeyRole.CSK,),
        KeyLayout.NONE: (),
    }.get(layout or KeyLayout.NONE, ())
    lifetimes = {role: f.lifetime(_LIFETIME_KEY[role]) for role in KeyRole}
    double_ds = ksk_rollover is KskRollover.DOUBLE_DS
    if layout is KeyLayout.CSK and double_ds and f.given("ksk-rollover"):
        f.fail("ksk-rollover", 'double-ds needs keys = "ksk+zsk" (a CSK always rolls double-KSK)')

    timing = Timing(
        dnskey_ttl=f.ttl("dnskey-ttl"),
        max_zone_ttl=f.ttl("max-zone-ttl"),
        parent_ds_ttl=f.ttl("parent-ds-ttl"),
        zone_propagation_delay=f.duration("zone-propagation-delay"),
        parent_propagation_delay=f.duration("parent-propagation-delay"),
        publish_safety=f.duration("publish-safety"),
        retire_safety=f.duration("retire-safety"),
    )
    soa = SoaValues(
        expire=f.duration("soa-expire", minimum=1),
        negative_ttl=f.ttl("soa-negative-ttl", minimum=0),
        serial=f.choice("serial", SerialRule) or SerialRule.INCREMENT,
    )
    signatures = SignatureTiming(
        validity=f.duration("signature-validity", minimum=1),
        refresh=f.duration("signature-refresh", minimum=1),
        jitter=f.duration("signature-jitter"),
        inception_offset=f.duration("signature-inception-offset"),
        dnskey_validity=f.duration("dnskey-signature-validity", minimum=1),
    )
    denial = _denial(f)
    parent = ParentSync(
        cds=f.boolean("cds"),
        cdnskey=f.boolean("cdnskey"),
        digest_types=f.digest_types("cds-digest-types"),
        parental_agents=parse_agents(f.raw.get("parental-agents", []), f.fail, source=source),
        ds_submit_command=f.command("ds-submit-command"),
    )
    if f.problems or algorithm is None or layout is None or ksk_rollover is None:
        return None
    keys = tuple(KeySpec(role, algorithm, size, lifetimes[role]) for role in roles)
    return Policy(
        name=name,
        layout=layout,
        keys=keys,
        ksk_rollover=ksk_rollover,
        timing=timing,
        soa=soa,
        signatures=signatures,
        denial=denial,
        parent=parent,
        source=source,
    )


def _denial(f: _Fields) -> Denial:
    kind = f.choice("denial", DenialKind) or DenialKind.NSEC3
    if kind is DenialKind.NSEC:
        return Denial(DenialKind.NSEC)
    iterations = f.integer("nsec3-iterations", 0, 65535)
    if iterations > MAX_NSEC3_ITERATIONS:
        f.fail(
            "nsec3-iterations",
            f"{iterations} is more than {MAX_NSEC3_ITERATIONS}: validators treat such zones as "
            f"insecure or bogus (RFC 9276 §3.2); use 0",
        )
    salt = f.hex_salt("nsec3-salt")
    salt_length = f.integer("nsec3-salt-length", 0, 255)
    resalt = f.optional_duration("nsec3-resalt")
    if salt and salt_length:
        f.fail("nsec3-salt, nsec3-salt-length", "give a fixed salt or a salt length, not both")
    if salt_length and resalt is None:
        f.fail("nsec3-resalt", "a random salt (nsec3-salt-length) needs nsec3-resalt")
    if resalt is not None and not salt_length:
        f.fail("nsec3-resalt", "re-salting needs nsec3-salt-length > 0 (RFC 9276 advises no salt)")
    return Denial(
        DenialKind.NSEC3,
        iterations=iterations,
        salt=salt,
        salt_length=salt_length,
        resalt=resalt,
        opt_out=f.boolean("nsec3-opt-out"),
    )


def _algorithm_names(numbers: Collection[int]) -> list[str]:
    names = []
    for n in sorted(numbers):
        try:
            names.append(algorithms.mnemonic(n))
        except ValueError:
            names.append(str(n))
    return names


class _Fields:
    """Typed reads of one merged policy table; problems are collected, not raised one by one."""

    def __init__(self, raw: Mapping[str, Any], source: str, name: str) -> None:
        self.raw = raw
        self.source = source
        self.name = name
        self.problems: list[tuple[str, str]] = []

    def fail(self, key: str, why: str) -> None:
        self.problems.append((key, why))

    def given(self, key: str) -> bool:
        return key in self.raw

    def duration(self, key: str, *, minimum: int = 0, capped: bool = True) -> int:
        value = self.raw.get(key)
        seconds = self._seconds(key, value, capped=capped)
        if seconds is None:
            return max(minimum, 0)
        if seconds < minimum:
            self.fail(key, f"must be at least {format_duration(minimum)}")
        return seconds

    def optional_duration(self, key: str) -> int | None:
        if key not in self.raw:
            return None
        return self.duration(key, minimum=1)

    def ttl(self, key: str, *, minimum: int = 1) -> int:
        seconds = self.duration(key, minimum=minimum, capped=False)
        if seconds > MAX_TTL:
            self.fail(key, f"a TTL is at most {MAX_TTL} seconds (RFC 2181 §8)")
        return seconds

    def lifetime(self, key: str) -> int | None:
        value = self.raw.get(key)
        if isinstance(value, str) and value.strip().lower() in ("unlimited", "infinite"):
            return None
        seconds = self._seconds(key, value, unlimited_ok=True)
        if seconds is not None and seconds <= 0:
            self.fail(key, 'must be positive; write "unlimited" for a key that never rolls')
        return seconds

    def _seconds(
        self, key: str, value: Any, *, unlimited_ok: bool = False, capped: bool = True
    ) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int | str):
            forms = '3600, "90m", "14d", "P14D"' + (', "unlimited"' if unlimited_ok else "")
            self.fail(key, f"must be a duration ({forms}), not {value!r}")
            return None
        if isinstance(value, int):
            if value < 0:
                self.fail(key, "must not be negative")
                return None
            seconds = value
        else:
            try:
                seconds = parse_duration(value)
            except ValueError as e:
                extra = ' or "unlimited"' if unlimited_ok else ""
                self.fail(key, f"{e}{extra}")
                return None
        if capped and seconds > MAX_DURATION:
            extra = ' (write "unlimited" for a key that never rolls)' if unlimited_ok else ""
            self.fail(
                key,
                f"{value!r} ({seconds} s) is too long: DNS times are 32-bit serial numbers, "
                f"so no span may reach 2^31 seconds (about 68 years; RFC 1982, RFC 4034 "
                f"§3.1.5){extra}",
            )
            return None
        return seconds

    def choice(self, key: str, kind: type[E]) -> E | None:
        value = self.raw.get(key)
        if isinstance(value, str):
            for member in kind:
                if member.value == value.strip().lower():
                    return member
        self.fail(key, f"must be one of {', '.join(repr(m.value) for m in kind)}, not {value!r}")
        return None

    def boolean(self, key: str) -> bool:
        value = self.raw.get(key)
        if not isinstance(value, bool):
            self.fail(key, f"must be true or false, not {value!r}")
            return False
        return value

    def integer(self, key: str, low: int, high: int) -> int:
        value = self.raw.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.fail(key, f"must be an integer from {low} to {high}, not {value!r}")
            return low
        return value

    def algorithm(self, key: str) -> int | None:
        value = self.raw.get(key)
        if isinstance(value, bool) or not isinstance(value, int | str):
            self.fail(key, f"must be an algorithm name or number, not {value!r}")
            return None
        try:
            return algorithms.parse_algorithm(str(value))
        except ValueError as e:
            self.fail(key, f"{e} (RFC 8624 §3.1 lists what may sign)")
            return None

    def key_size(self, key: str, algorithm: int | None) -> int:
        if algorithm is None:
            return 0
        value = self.raw.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            self.fail(key, f"must be a number of bits, not {value!r}")
            return 0
        try:
            bits = algorithms.check_bits(algorithm, value)
        except ValueError as e:
            self.fail(key, str(e))
            return 0
        if algorithms.info(algorithm).family == "rsa" and bits < MIN_RSA_BITS:
            self.fail(key, f"RSA keys of {bits} bits are too weak; use at least {MIN_RSA_BITS}")
        return bits

    def hex_salt(self, key: str) -> bytes:
        value = self.raw.get(key, "")
        if not isinstance(value, str):
            self.fail(key, f'must be hex text ("" for no salt), not {value!r}')
            return b""
        text = value.strip()
        if text in ("", "-"):
            return b""
        try:
            salt = bytes.fromhex(text)
        except ValueError:
            self.fail(key, f"{value!r} is not hex")
            return b""
        if len(salt) > 255:
            self.fail(key, "an NSEC3 salt is at most 255 octets (RFC 5155 §3.1.5)")
        return salt

    def digest_types(self, key: str) -> tuple[int, ...]:
        value = self.raw.get(key)
        if not isinstance(value, list) or not value:
            self.fail(key, 'must be a list such as ["SHA-256"]')
            return ()
        found: list[int] = []
        for item in value:
            word = str(item).strip().upper()
            if word in _DIGESTS:
                if _DIGESTS[word] not in found:
                    found.append(_DIGESTS[word])
            elif word in _REFUSED_DIGESTS:
                self.fail(key, f"{item!r} must not be used for DS records (RFC 8624 §3.3)")
            else:
                self.fail(key, f'unknown digest type {item!r}; use "SHA-256" or "SHA-384"')
        return tuple(found)

    def command(self, key: str) -> tuple[str, ...] | None:
        if key not in self.raw:
            return None
        value = self.raw[key]
        if isinstance(value, str):
            try:
                value = shlex.split(value)
            except ValueError as e:
                self.fail(key, f"cannot split into words: {e}")
                return None
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str) and v for v in value)
        ):
            self.fail(key, "must be a non-empty list of words (program and arguments)")
            return None
        return tuple(value)
