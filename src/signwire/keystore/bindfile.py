"""The BIND key file pair, as written by ``dnssec-keygen`` and ``ldns-keygen``.

A key lives in two files named ``K<zone>+<alg:03d>+<tag:05d>``:

* ``.key``: the DNSKEY record in presentation format (RFC 4034 §2.2), possibly after ``;``
  comment lines (BIND) or followed by a ``;{id = ...}`` comment (ldns).
* ``.private``: ``Name: value`` lines. ``Private-key-format: v1.2`` (ldns) or ``v1.3`` (BIND),
  ``Algorithm: 13 (ECDSAP256SHA256)``, then the key material: ``PrivateKey`` (the big-endian
  scalar for ECDSA, RFC 6605 §6; the raw secret for EdDSA, RFC 8080 §6) or the eight RSA fields
  ``Modulus`` … ``Coefficient``. BIND adds timing fields (``Created``, ``Publish``,
  ``Activate`` …, as ``YYYYMMDDHHMMSS``); they are kept as metadata, in order, and not acted on.

Parsing and formatting are pure (text in, values out); :func:`read_key` and :func:`read_pair`
are the only functions here that touch the file system. Writing files atomically is the key
store's job (:mod:`signwire.keystore.file_store`). Every error is a :class:`KeyStoreError` naming
the file.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from signwire.errors import KeyStoreError
from signwire.keystore import crypto
from signwire.keystore.crypto import PrivateKey
from signwire.policy import algorithms
from signwire.zones import names

FLAG_ZONE = 0x0100  # RFC 4034 §2.1.1: bit 7, a zone key
FLAG_REVOKE = 0x0080  # RFC 5011 §3: bit 8, revoked
FLAG_SEP = 0x0001  # RFC 4034 §2.1.1: bit 15, secure entry point (KSK or CSK)

TIMING_FIELDS = (
    "Created",
    "Publish",
    "Activate",
    "Revoke",
    "Inactive",
    "Delete",
    "SyncPublish",
    "SyncDelete",
    "DSPublish",
    "DSRemoved",
)

_RSA_FIELDS = (
    "Modulus",
    "PublicExponent",
    "PrivateExponent",
    "Prime1",
    "Prime2",
    "Exponent1",
    "Exponent2",
    "Coefficient",
)
_MATERIAL_FIELDS = frozenset(("PrivateKey", *_RSA_FIELDS))
# Keys kept inside an HSM or an OpenSSL engine: the file only names them.
_REFERENCE_FIELDS = ("Engine", "Label")

_STEM = re.compile(r"K(?P<zone>.+)\+(?P<alg>\d{3})\+(?P<tag>\d{5})")


@dataclass(frozen=True, slots=True)
class DnskeyLine:
    """The record in a ``.key`` file."""

    owner: bytes  # wire name, case as written
    ttl: int | None
    flags: int
    protocol: int
    algorithm: int
    public_key: bytes

    @property
    def rdata(self) -> bytes:
        return (
            self.flags.to_bytes(2, "big") + bytes((self.protocol, self.algorithm)) + self.public_key
        )

    @property
    def key_tag(self) -> int:
        return algorithms.key_tag(self.rdata)


@dataclass(frozen=True, slots=True)
class PrivateFile:
    """The content of a ``.private`` file."""

    version: str  # "v1.2", "v1.3"
    algorithm: int
    private_key: PrivateKey
    metadata: tuple[tuple[str, str], ...] = ()  # every other field, in file order

    def field(self, name: str) -> str | None:
        for key, value in self.metadata:
            if key == name:
                return value
        return None

    def timing(self, name: str) -> int | None:
        """A timing field (``Created``, ``Activate`` …) as epoch seconds, if present."""
        value = self.field(name)
        return None if value is None else parse_timestamp(value)


@dataclass(frozen=True, slots=True)
class KeyPair:
    key_path: Path
    private_path: Path
    dnskey: DnskeyLine
    private: PrivateFile


# --- names of files ---------------------------------------------------------------------------


def file_stem(origin: bytes, algorithm: int, tag: int) -> str:
    """``K<zone>+<alg>+<tag>`` as BIND names the pair (zone in lower case, with final dot)."""
    zone = names.to_text(names.lower(origin))
    # A "/" inside a label would make a path; BIND escapes it the same way.
    zone = zone.replace("/", "\\047")
    return f"K{zone}+{algorithm:03d}+{tag:05d}"


def parse_file_stem(filename: str) -> tuple[str, int, int] | None:
    """``(zone text, algorithm, tag)`` from ``K<zone>+<alg>+<tag>.key``/``.private``, or None."""
    for suffix in (".key", ".private"):
        if filename.endswith(suffix):
            filename = filename[: -len(suffix)]
            break
    match = _STEM.fullmatch(filename)
    if match is None:
        return None
    return match["zone"], int(match["alg"]), int(match["tag"])


# --- timestamps -------------------------------------------------------------------------------


def format_timestamp(epoch: int) -> str:
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(epoch))


def parse_timestamp(text: str) -> int:
    """Epoch seconds from ``YYYYMMDDHHMMSS`` (UTC); ValueError if malformed."""
    if len(text) != 14 or not text.isdigit():
        raise ValueError(f"bad timestamp {text!r}")
    return calendar.timegm(time.strptime(text, "%Y%m%d%H%M%S"))


# --- .key -------------------------------------------------------------------------------------


def parse_key_text(text: str, source: str) -> DnskeyLine:
    """The DNSKEY record of a ``.key`` file's text; ``source`` names the file in errors."""
    records = _records(text)
    if not records:
        raise KeyStoreError(f"{source}: no DNSKEY record found")
    if len(records) > 1:
        raise KeyStoreError(f"{source}: {len(records)} records; expected a single DNSKEY")
    tokens = records[0]
    if tokens[0].upper() in ("DNSKEY", "KEY", "IN"):
        raise KeyStoreError(f"{source}: the record has no owner name")
    try:
        owner = names.from_text(tokens[0], None)
    except ValueError as exc:
        raise KeyStoreError(f"{source}: bad owner name: {exc}") from None
    ttl: int | None = None
    at = 1
    # [TTL] [class] in either order (RFC 1035 §5.1), then the type.
    while at < len(tokens) and (tokens[at].isdigit() or tokens[at].upper() == "IN"):
        if tokens[at].isdigit():
            ttl = int(tokens[at])
        at += 1
    rrtype = tokens[at].upper() if at < len(tokens) else ""
    if rrtype == "KEY":
        raise KeyStoreError(f"{source}: holds a KEY record, not a DNSSEC zone key (DNSKEY)")
    if rrtype != "DNSKEY":
        found = tokens[at] if at < len(tokens) else "nothing"
        raise KeyStoreError(f"{source}: expected a DNSKEY record, found {found!r}")
    fields = tokens[at + 1 :]
    if len(fields) < 4:
        raise KeyStoreError(f"{source}: DNSKEY record is incomplete")
    try:
        flags, protocol = int(fields[0]), int(fields[1])
    except ValueError:
        raise KeyStoreError(f"{source}: DNSKEY flags and protocol must be numbers") from None
    if not 0 <= flags <= 0xFFFF:
        raise KeyStoreError(f"{source}: DNSKEY flags {flags} out of range")
    if protocol != 3:
        raise KeyStoreError(f"{source}: DNSKEY protocol is {protocol}, must be 3 (RFC 4034)")
    try:
        algorithm = algorithms.parse_algorithm(fields[2])
    except ValueError as exc:
        raise KeyStoreError(f"{source}: {exc}") from None
    public_key = _b64(fields[3:], source, "DNSKEY public key")
    try:
        crypto.load_public_key(algorithm, public_key)
    except ValueError as exc:
        raise KeyStoreError(f"{source}: bad {algorithms.mnemonic(algorithm)} key: {exc}") from None
    return DnskeyLine(owner, ttl, flags, protocol, algorithm, public_key)


def _records(text: str) -> list[list[str]]:
    """The records of a small presentation-format text, as token lists.

    Comments (``;`` to the end of the line) go; parentheses join lines (RFC 1035 §5.1). No
    token of a .key file (names without escapes, numbers, base64) contains ``;`` or quotes.
    """
    records: list[list[str]] = []
    current: list[str] = []
    depth = 0
    for raw in text.splitlines():
        line = raw.split(";", 1)[0]
        depth += line.count("(") - line.count(")")
        current.extend(line.replace("(", " ").replace(")", " ").split())
        if depth <= 0 and current:
            records.append(current)
            current, depth = [], 0
    if current:
        records.append(current)
    return records


def format_key_text(dnskey: DnskeyLine, timing: Sequence[tuple[str, int]] = ()) -> str:
    """A ``.key`` file in BIND's layout: comment lines, then the record on one line."""
    kind = "key-signing" if dnskey.flags & FLAG_SEP else "zone-signing"
    zone = names.to_text(dnskey.owner)
    lines = [f"; This is a {kind} key, keyid {dnskey.key_tag}, for {zone}"]
    for name, epoch in timing:
        human = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime(epoch))
        lines.append(f"; {name}: {format_timestamp(epoch)} ({human} UTC)")
    ttl = "" if dnskey.ttl is None else f" {dnskey.ttl}"
    key = base64.b64encode(dnskey.public_key).decode("ascii")
    lines.append(f"{zone}{ttl} IN DNSKEY {dnskey.flags} {dnskey.protocol} {dnskey.algorithm} {key}")
    return "\n".join(lines) + "\n"


# --- .private ---------------------------------------------------------------------------------


def parse_private_text(text: str, source: str) -> PrivateFile:
    """The key and metadata of a ``.private`` file's text; ``source`` names the file."""
    fields: dict[str, str] = {}
    order: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(";"):
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise KeyStoreError(f"{source}:{number}: expected 'Name: value'")
        name, value = name.strip(), value.strip()
        if name in fields:
            raise KeyStoreError(f"{source}:{number}: {name} given twice")
        fields[name] = value
        order.append(name)
    version = fields.get("Private-key-format")
    if version is None:
        raise KeyStoreError(f"{source}: no Private-key-format line; not a BIND private key")
    if not re.fullmatch(r"v1\.\d+", version):
        raise KeyStoreError(f"{source}: unsupported Private-key-format {version!r} (want v1.x)")
    if "Algorithm" not in fields:
        raise KeyStoreError(f"{source}: no Algorithm line")
    try:
        algorithm = algorithms.parse_algorithm(fields["Algorithm"].split()[0])
    except (ValueError, IndexError) as exc:
        raise KeyStoreError(f"{source}: {exc}") from None
    for ref in _REFERENCE_FIELDS:
        if ref in fields and "PrivateKey" not in fields and "PrivateExponent" not in fields:
            raise KeyStoreError(
                f"{source}: the key is held by an engine or HSM ({ref}: {fields[ref]}),"
                " not in the file; the file key store cannot use it"
            )
    key = _private_key(algorithm, fields, source)
    for name, value in fields.items():
        if name in TIMING_FIELDS:
            try:
                parse_timestamp(value)
            except ValueError:
                raise KeyStoreError(f"{source}: {name} is not a YYYYMMDDHHMMSS time") from None
    metadata = tuple(
        (name, fields[name])
        for name in order
        if name not in _MATERIAL_FIELDS and name not in ("Private-key-format", "Algorithm")
    )
    return PrivateFile(version, algorithm, key, metadata)


def _private_key(algorithm: int, fields: dict[str, str], source: str) -> PrivateKey:
    info = algorithms.info(algorithm)
    try:
        if info.family == "rsa":
            missing = [f for f in _RSA_FIELDS if f not in fields]
            if missing:
                raise KeyStoreError(f"{source}: missing RSA field(s) {', '.join(missing)}")
            n, e, d, p, q, dmp1, dmq1, iqmp = (
                int.from_bytes(_b64([fields[f]], source, f), "big") for f in _RSA_FIELDS
            )
            key: PrivateKey = rsa.RSAPrivateNumbers(
                p, q, d, dmp1, dmq1, iqmp, rsa.RSAPublicNumbers(e, n)
            ).private_key()
        else:
            if "PrivateKey" not in fields:
                raise KeyStoreError(f"{source}: missing PrivateKey field")
            raw = _b64([fields["PrivateKey"]], source, "PrivateKey")
            key = _raw_private_key(algorithm, raw)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyStoreError(f"{source}: invalid {info.mnemonic} private key: {exc}") from None
    try:
        crypto.check_key_type(algorithm, key)
    except ValueError as exc:
        raise KeyStoreError(f"{source}: {exc}") from None
    return key


def _raw_private_key(algorithm: int, raw: bytes) -> PrivateKey:
    if algorithm in (algorithms.ECDSAP256SHA256, algorithms.ECDSAP384SHA384):
        width = 32 if algorithm == algorithms.ECDSAP256SHA256 else 48
        if len(raw) > width:
            raise ValueError(f"PrivateKey is {len(raw)} octets, at most {width} expected")
        curve: ec.EllipticCurve = (
            ec.SECP256R1() if algorithm == algorithms.ECDSAP256SHA256 else ec.SECP384R1()
        )
        return ec.derive_private_key(int.from_bytes(raw, "big"), curve)
    size = 32 if algorithm == algorithms.ED25519 else 57
    if len(raw) != size:
        # Some ldns releases wrote the EdDSA key as PKCS#8 DER instead of the raw secret.
        loaded = serialization.load_der_private_key(raw, password=None)
        if not isinstance(loaded, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
            raise ValueError(f"PrivateKey must be {size} octets")
        return loaded
    if algorithm == algorithms.ED25519:
        return ed25519.Ed25519PrivateKey.from_private_bytes(raw)
    return ed448.Ed448PrivateKey.from_private_bytes(raw)


def private_fields(algorithm: int, key: PrivateKey) -> list[tuple[str, str]]:
    """The key-material fields of a ``.private`` file for ``key``, in BIND's order."""
    crypto.check_key_type(algorithm, key)
    if isinstance(key, rsa.RSAPrivateKey):
        priv = key.private_numbers()
        pub = priv.public_numbers
        values = (pub.n, pub.e, priv.d, priv.p, priv.q, priv.dmp1, priv.dmq1, priv.iqmp)
        return [(name, _b64int(v)) for name, v in zip(_RSA_FIELDS, values, strict=True)]
    if isinstance(key, ec.EllipticCurvePrivateKey):
        width = (key.curve.key_size + 7) // 8
        raw = key.private_numbers().private_value.to_bytes(width, "big")
    else:
        raw = key.private_bytes_raw()
    return [("PrivateKey", base64.b64encode(raw).decode("ascii"))]


def format_private_text(
    algorithm: int, key: PrivateKey, metadata: Sequence[tuple[str, str]] = ()
) -> str:
    """A ``.private`` file in format v1.3 (what BIND 9.18 writes; ldns reads v1.x)."""
    lines = [
        "Private-key-format: v1.3",
        f"Algorithm: {algorithm} ({algorithms.mnemonic(algorithm)})",
    ]
    lines.extend(f"{name}: {value}" for name, value in private_fields(algorithm, key))
    lines.extend(f"{name}: {value}" for name, value in metadata)
    return "\n".join(lines) + "\n"


def _b64int(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")
    return base64.b64encode(raw).decode("ascii")


def _b64(parts: Sequence[str], source: str, what: str) -> bytes:
    try:
        return base64.b64decode("".join(parts), validate=True)
    except (binascii.Error, ValueError):
        raise KeyStoreError(f"{source}: {what} is not valid base64") from None


# --- the pair ---------------------------------------------------------------------------------


def check_pair(
    dnskey: DnskeyLine, private: PrivateFile, key_source: str, private_source: str
) -> None:
    """Raise KeyStoreError unless the private key belongs to the DNSKEY."""
    if dnskey.algorithm != private.algorithm:
        raise KeyStoreError(
            f"{private_source}: algorithm {private.algorithm} does not match"
            f" {key_source} (algorithm {dnskey.algorithm})"
        )
    if crypto.public_key_field(private.algorithm, private.private_key) != dnskey.public_key:
        raise KeyStoreError(
            f"{private_source}: private key does not match the DNSKEY in {key_source}"
        )


def read_pair(key_path: Path, dnskey: DnskeyLine | None = None) -> KeyPair:
    """Read ``K….key`` and its ``K….private`` and check that they belong together.

    ``dnskey`` is the already parsed ``.key``, to avoid reading it twice.
    """
    if dnskey is None:
        dnskey = read_key(key_path)
    private_path = key_path.with_suffix(".private")
    try:
        text = private_path.read_text(encoding="latin-1")
    except FileNotFoundError:
        raise KeyStoreError(
            f"{key_path}: no matching private key file {private_path.name}"
        ) from None
    except OSError as exc:
        raise KeyStoreError(f"{private_path}: cannot read: {exc.strerror}") from None
    private = parse_private_text(text, str(private_path))
    check_pair(dnskey, private, str(key_path), str(private_path))
    return KeyPair(key_path, private_path, dnskey, private)


def read_key(key_path: Path) -> DnskeyLine:
    try:
        text = key_path.read_text(encoding="latin-1")
    except OSError as exc:
        raise KeyStoreError(f"{key_path}: cannot read: {exc.strerror}") from None
    return parse_key_text(text, str(key_path))
