"""The PKCS#11 key store: zone keys generated and kept inside an HSM (SoftHSM2 in tests).

``Pkcs11KeyStore(module_path, token_label, pin)`` mirrors the file store: :meth:`keys_for`
finds a zone's keys on the token, :meth:`create` generates a new one. Private keys never leave
the token: they are generated there as token objects with ``CKA_SENSITIVE`` true and
``CKA_EXTRACTABLE`` false, and a :class:`~signwire.keystore.model.ZoneKey` from this store carries a
``SignerSpec(kind="pkcs11")`` whose material is only a locator (:class:`Pkcs11Locator`).

Naming convention on the token (both halves of a pair carry the same two attributes):

* ``CKA_LABEL`` = ``<zone>/<role>/<algorithm>/<key tag>``, e.g. ``example.com./zsk/13/40127``:
  the zone in lower-case presentation form, the role (``ksk``, ``zsk``, ``csk``), the DNSSEC
  algorithm number (an RSA key could serve RSASHA256 or RSASHA512, so the token cannot tell)
  and the RFC 4034 appendix B key tag. Zone names may contain ``/``; the last three fields never
  do, so a label is split from the right. Objects with other labels are not ours and are
  ignored.
* ``CKA_ID`` = 16 random octets, the key's identity: the locator finds the private key by it,
  and the label is checked against it for messages.

Public keys are read from the public key object: ``CKA_EC_POINT`` (a DER OCTET STRING around
the point; some modules return the raw point, both are accepted) for ECDSA (RFC 6605 §4: the
DNSKEY holds ``x || y`` without the 0x04 prefix) and EdDSA (RFC 8080 §3), ``CKA_MODULUS`` and
``CKA_PUBLIC_EXPONENT`` for RSA (RFC 3110 §2).

The worker side (the locator, PINs, one PKCS#11 context per process, ``load_pkcs11_signer``)
lives in :mod:`signwire.keystore.pkcs11_token`; this module re-exports what callers need. The PIN
comes from the caller (:func:`pin_from` reads it from a file or an environment variable, never
a command-line argument) and is never put in a locator.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any, Final

from signwire.errors import KeyStoreError
from signwire.keystore import crypto
from signwire.keystore import pkcs11_token as tokens
from signwire.keystore.file_store import KeyScan
from signwire.keystore.model import SignerSpec, ZoneKey

# Through pkcs11_token, which turns a missing python-pkcs11 into a clear KeyStoreError.
from signwire.keystore.pkcs11_token import (
    Attribute,
    KeyType,
    Mechanism,
    MechanismFlag,
    ObjectClass,
    Pkcs11Locator,
    PrivateKey,
    PublicKey,
    Session,
    key_type_for,
    load_pkcs11_signer,
    locator_of,
    p11e,
    pin_from,
    sign_mechanism,
)
from signwire.policy import algorithms
from signwire.policy.model import KeyRole
from signwire.zones import names

__all__ = [
    "Pkcs11KeyStore",
    "Pkcs11Locator",
    "ec_public_field",
    "key_label",
    "load_pkcs11_signer",
    "parse_label",
    "pin_from",
    "rsa_public_field",
]

log = logging.getLogger(__name__)

_MAX_ATTEMPTS = 64  # key tag collisions, as in the file store
_PENDING = "pending"  # tag field of a key whose generation has not finished

# DER of the named curves' OBJECT IDENTIFIERs (CKA_EC_PARAMS); PKCS#11 3.0 also allows the
# Edwards curves as a PrintableString of their name.
_EC_PARAMS: Final[dict[int, bytes]] = {
    algorithms.ECDSAP256SHA256: bytes.fromhex("06082a8648ce3d030107"),  # 1.2.840.10045.3.1.7
    algorithms.ECDSAP384SHA384: bytes.fromhex("06052b81040022"),  # 1.3.132.0.34
    algorithms.ED25519: bytes.fromhex("06032b6570"),  # 1.3.101.112
    algorithms.ED448: bytes.fromhex("06032b6571"),  # 1.3.101.113
}
_EC_PARAMS_ALIASES: Final[dict[bytes, int]] = {
    **{der: number for number, der in _EC_PARAMS.items()},
    b"\x13\x0cedwards25519": algorithms.ED25519,
    b"\x13\x0aedwards448": algorithms.ED448,
}
# Length of the point inside CKA_EC_POINT: 0x04 || x || y for ECDSA, the raw key for EdDSA.
_POINT_SIZE: Final[dict[int, int]] = {
    algorithms.ECDSAP256SHA256: 65,
    algorithms.ECDSAP384SHA384: 97,
    algorithms.ED25519: 32,
    algorithms.ED448: 57,
}
_GENERATE: Final[dict[KeyType, Mechanism]] = {
    KeyType.RSA: Mechanism.RSA_PKCS_KEY_PAIR_GEN,
    KeyType.EC: Mechanism.EC_KEY_PAIR_GEN,
    KeyType.EC_EDWARDS: Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
}


# --- labels and public keys -------------------------------------------------------------------


def key_label(origin: bytes, role: KeyRole, algorithm: int, tag: int | str) -> str:
    """``CKA_LABEL`` of a zone key, ``<zone>/<role>/<algorithm>/<tag>``."""
    return f"{names.to_text(names.lower(origin))}/{role.value}/{algorithm}/{tag}"


def parse_label(label: str, origin: bytes) -> tuple[KeyRole, int, str] | None:
    """(role, algorithm, tag field) if ``label`` names a key of ``origin``; else None."""
    prefix = names.to_text(names.lower(origin)) + "/"
    if not label.startswith(prefix):
        return None
    parts = label[len(prefix) :].split("/")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    try:
        role = KeyRole(parts[0])
    except ValueError:
        return None
    return role, int(parts[1]), parts[2]


def ec_public_field(algorithm: int, ec_point: bytes) -> bytes:
    """The DNSKEY public key field from ``CKA_EC_POINT`` (DER-wrapped or raw); ValueError."""
    size = _POINT_SIZE[algorithm]
    if len(ec_point) == size + 2 and ec_point[0] == 0x04 and ec_point[1] == size:
        point = ec_point[2:]  # DER OCTET STRING, short form: every size here is < 128
    elif len(ec_point) == size:
        point = ec_point
    else:
        raise ValueError(f"CKA_EC_POINT of {len(ec_point)} octets, expected {size} (+2 for DER)")
    if algorithms.info(algorithm).family == "ecdsa":
        if point[0] != 0x04:
            raise ValueError("ECDSA public point is not in uncompressed form")
        return point[1:]
    return point


def rsa_public_field(exponent: bytes, modulus: bytes) -> bytes:
    """RFC 3110 §2: exponent length (1 octet, or 0 and 2 octets), exponent, modulus."""
    exponent = exponent.lstrip(b"\x00")
    modulus = modulus.lstrip(b"\x00")
    if len(exponent) <= 255:
        head = bytes((len(exponent),))
    else:
        head = b"\x00" + len(exponent).to_bytes(2, "big")
    return head + exponent + modulus


def _flags(role: KeyRole) -> int:
    return 257 if role in (KeyRole.KSK, KeyRole.CSK) else 256


def _tag_forms(flags: int, algorithm: int, public: bytes) -> set[int]:
    """The key's tag with and without the REVOKE bit (RFC 5011): both must stay unique."""
    tail = bytes((3, algorithm)) + public
    return {algorithms.key_tag(f.to_bytes(2, "big") + tail) for f in (flags, flags | 0x80)}


# --- the store --------------------------------------------------------------------------------


class Pkcs11KeyStore:
    """Zone keys on one token of one PKCS#11 module.

    ``pin_env``/``pin_file`` say where workers that were not forked from this process find the
    PIN; they go into each key's locator. :meth:`from_pin_source` reads the PIN from them.
    Nothing touches the token until the first call.
    """

    def __init__(
        self,
        module_path: str,
        token_label: str,
        pin: str,
        *,
        pin_env: str | None = None,
        pin_file: str | None = None,
    ) -> None:
        if not pin:
            raise KeyStoreError(f"{tokens.where(module_path, token_label)}: empty PIN")
        self.module_path = module_path
        self.token_label = token_label
        self._pin = pin
        self.pin_env = pin_env
        self.pin_file = pin_file

    @classmethod
    def from_pin_source(
        cls,
        module_path: str,
        token_label: str,
        *,
        pin_file: str | None = None,
        pin_env: str | None = None,
    ) -> Pkcs11KeyStore:
        pin = pin_from(pin_file, pin_env)
        return cls(module_path, token_label, pin, pin_env=pin_env, pin_file=pin_file)

    def __repr__(self) -> str:  # never the PIN
        return f"Pkcs11KeyStore({self.module_path!r}, {self.token_label!r})"

    @property
    def where(self) -> str:
        return tokens.where(self.module_path, self.token_label)

    def _context(self) -> tokens.TokenContext:
        return tokens.open_token(self.module_path, self.token_label, self._pin)

    # --- reading ------------------------------------------------------------------------------

    def keys_for(self, origin: bytes) -> list[ZoneKey]:
        """The zone's keys on the token, sorted by (algorithm, role, key tag); notes are logged."""
        return self.scan(origin).logged_keys()

    def scan(self, origin: bytes) -> KeyScan:
        """The zone's keys plus notes about objects of the zone that could not be used."""
        ctx = self._context()
        try:
            return self._scan(ctx, origin)
        except tokens.STALE_SESSION_ERRORS:
            tokens.discard(ctx)  # the module or token was reset under us: log in again, once
        try:
            return self._scan(self._context(), origin)
        except p11e.PKCS11Error as exc:
            raise KeyStoreError(f"{self.where}: cannot list keys: {tokens.explain(exc)}") from None

    def _scan(self, ctx: tokens.TokenContext, origin: bytes) -> KeyScan:
        keys: list[ZoneKey] = []
        notes: list[str] = []
        tags: set[int] = set()
        with ctx.lock:
            try:
                private = list(ctx.session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY}))
                for obj in private:
                    label = obj[Attribute.LABEL]
                    parsed = parse_label(label, origin) if isinstance(label, str) else None
                    if parsed is None:
                        continue
                    key, note = self._read_key(ctx, origin, obj, label, parsed, tags)
                    if note:
                        notes.append(f"{self.where}: {label}: {note}")
                    if key is not None:
                        keys.append(key)
            except tokens.STALE_SESSION_ERRORS:
                raise
            except p11e.PKCS11Error as exc:
                raise KeyStoreError(
                    f"{self.where}: cannot list keys: {tokens.explain(exc)}"
                ) from None
        keys.sort(key=lambda k: (k.algorithm, k.role, k.key_tag))
        return KeyScan(keys, notes, frozenset(tags))

    def _read_key(
        self,
        ctx: tokens.TokenContext,
        origin: bytes,
        private: Any,
        label: str,
        parsed: tuple[KeyRole, int, str],
        tags: set[int],
    ) -> tuple[ZoneKey | None, str | None]:
        role, algorithm, tag_field = parsed
        if tag_field == _PENDING:
            return None, "skipped, its generation did not finish (destroy it)"
        if algorithm not in algorithms.ALGORITHMS:
            return None, f"skipped, algorithm {algorithm} is not supported"
        key_id = private[Attribute.ID]
        publics = list(
            ctx.session.get_objects({Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.ID: key_id})
        )
        if len(publics) != 1:
            return None, f"skipped, {len(publics)} public keys carry its CKA_ID"
        try:
            public = self._public_field(algorithm, publics[0])
            crypto.load_public_key(algorithm, public)
        except ValueError as exc:
            return None, f"skipped, unusable public key: {exc}"
        flags = _flags(role)
        tags.update(_tag_forms(flags, algorithm, public))
        rdata = flags.to_bytes(2, "big") + bytes((3, algorithm)) + public
        tag = algorithms.key_tag(rdata)
        notes = []
        if tag_field != str(tag):
            notes.append(f"label says key tag {tag_field} but the key's tag is {tag}")
        if private[Attribute.EXTRACTABLE] or not private[Attribute.SENSITIVE]:
            notes.append("private key is extractable or not sensitive")
        locator = Pkcs11Locator(
            self.module_path, self.token_label, label, key_id, self.pin_env, self.pin_file
        )
        key = ZoneKey(
            origin=origin,
            algorithm=algorithm,
            flags=flags,
            public_key=public,
            key_tag=tag,
            role=role,
            signer=SignerSpec(algorithm=algorithm, kind="pkcs11", material=locator.encode()),
            source=f"pkcs11:{self.token_label}/{label}",
        )
        return key, "; ".join(notes) or None

    @staticmethod
    def _public_field(algorithm: int, public: Any) -> bytes:
        expected = key_type_for(algorithm)
        if public[Attribute.KEY_TYPE] != expected:
            found = public[Attribute.KEY_TYPE]
            raise ValueError(f"a {getattr(found, 'name', found)} key, not {expected.name}")
        if expected == KeyType.RSA:
            return rsa_public_field(public[Attribute.PUBLIC_EXPONENT], public[Attribute.MODULUS])
        params = public[Attribute.EC_PARAMS]
        if _EC_PARAMS_ALIASES.get(bytes(params)) != algorithm:
            raise ValueError(
                f"curve parameters {bytes(params).hex()} are not those of the algorithm"
            )
        return ec_public_field(algorithm, bytes(public[Attribute.EC_POINT]))

    # --- writing ------------------------------------------------------------------------------

    def create(
        self,
        origin: bytes,
        algorithm: int,
        role: KeyRole,
        now: int,
        bits: int | None = None,
    ) -> ZoneKey:
        """Generate a key pair on the token for the zone and return it.

        The private key is a sensitive, non-extractable token object. A key whose tag (or
        revoked tag) collides with one of the zone's keys is destroyed and generated again.
        ``now`` is accepted to mirror the file store but not recorded: key times belong to the
        enforcer's state, and ``CKA_START_DATE`` cannot be trusted (SoftHSM 2.6.1 accepts it
        and then fails to read it back with ``CKR_GENERAL_ERROR``).
        """
        try:
            bits = algorithms.check_bits(algorithm, bits)
        except ValueError as exc:
            raise KeyStoreError(str(exc)) from None
        key_type = key_type_for(algorithm)
        ctx = self._context()
        for mechanism in (_GENERATE[key_type], sign_mechanism(ctx, algorithm)):
            if not ctx.supports(mechanism):
                raise KeyStoreError(
                    f"{self.where}: cannot make {algorithms.mnemonic(algorithm)} keys:"
                    f" mechanism {mechanism.name} not supported"
                )
        taken = set(self.scan(origin).tags)
        flags = _flags(role)
        pending = key_label(origin, role, algorithm, _PENDING)
        with ctx.write_session() as session:
            for _ in range(_MAX_ATTEMPTS):
                key_id = secrets.token_bytes(16)
                try:
                    pub, priv = self._generate(session, key_type, algorithm, bits, key_id, pending)
                except p11e.PKCS11Error as exc:
                    raise KeyStoreError(
                        f"{self.where}: cannot generate a {algorithms.mnemonic(algorithm)} key:"
                        f" {tokens.explain(exc)}"
                    ) from None
                try:
                    public = self._public_field(algorithm, pub)
                    forms = _tag_forms(flags, algorithm, public)
                    if forms & taken:
                        pub.destroy()
                        priv.destroy()
                        continue
                    tag = algorithms.key_tag(
                        flags.to_bytes(2, "big") + bytes((3, algorithm)) + public
                    )
                    label = key_label(origin, role, algorithm, tag)
                    pub[Attribute.LABEL] = label
                    priv[Attribute.LABEL] = label
                except (p11e.PKCS11Error, ValueError) as exc:
                    for obj in (pub, priv):
                        try:
                            obj.destroy()
                        except p11e.PKCS11Error:
                            log.warning(
                                "%s: could not destroy unfinished key %s", self.where, pending
                            )
                    reason = tokens.explain(exc) if isinstance(exc, p11e.PKCS11Error) else str(exc)
                    raise KeyStoreError(f"{self.where}: cannot finish new key: {reason}") from None
                locator = Pkcs11Locator(
                    self.module_path, self.token_label, label, key_id, self.pin_env, self.pin_file
                )
                return ZoneKey(
                    origin=origin,
                    algorithm=algorithm,
                    flags=flags,
                    public_key=public,
                    key_tag=tag,
                    role=role,
                    signer=SignerSpec(
                        algorithm=algorithm, kind="pkcs11", material=locator.encode()
                    ),
                    source=f"pkcs11:{self.token_label}/{label}",
                )
        raise KeyStoreError(
            f"{self.where}: could not find a free key tag for {names.to_text(origin)}"
            f" after {_MAX_ATTEMPTS} keys"
        )

    @staticmethod
    def _generate(
        session: Session,
        key_type: KeyType,
        algorithm: int,
        bits: int,
        key_id: bytes,
        label: str,
    ) -> tuple[PublicKey, PrivateKey]:
        public_template: dict[Attribute, Any] = {Attribute.PRIVATE: False}
        private_template: dict[Attribute, Any] = {
            Attribute.PRIVATE: True,
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False,
        }
        if key_type != KeyType.RSA:
            public_template[Attribute.EC_PARAMS] = _EC_PARAMS[algorithm]
        return session.generate_keypair(
            key_type,
            bits if key_type == KeyType.RSA else None,
            id=key_id,
            label=label,
            store=True,
            capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
            public_template=public_template,
            private_template=private_template,
        )

    def retire(self, key: ZoneKey) -> None:
        """A key no record of which can be cached any more leaves the token."""
        self.destroy(key)

    def set_aside_incomplete(self, origin: bytes) -> list[str]:
        """Nothing to do: the token makes a key pair in one call (C_GenerateKeyPair)."""
        return []

    def set_aside(self, key: ZoneKey) -> str:
        """Keys on a token are not moved or destroyed behind the operator's back: an
        unrecorded one stays where it is (unused; every run reports it)."""
        return f"{self.where} (left in place, unused)"

    def destroy(self, key: ZoneKey) -> None:
        """Remove both halves of ``key`` from the token (the enforcer decides when it is safe)."""
        locator = locator_of(key.signer)
        ctx = self._context()
        with ctx.write_session() as session:
            try:
                objects = list(session.get_objects({Attribute.ID: locator.key_id}))
                if not objects:
                    raise KeyStoreError(f"{locator.where}: no such key on the token")
                for obj in objects:
                    obj.destroy()
            except p11e.PKCS11Error as exc:
                raise KeyStoreError(
                    f"{locator.where}: cannot destroy: {tokens.explain(exc)}"
                ) from None
