"""The worker side of PKCS#11 keys: one context per process, PINs, locators, signing.

This module owns everything a signing process needs to use a token key: loading the module,
logging in, the key locator a ``SignerSpec(kind="pkcs11")`` carries (:class:`Pkcs11Locator`),
and :func:`load_pkcs11_signer`. Key management (finding and generating zone keys) is
:mod:`signwire.keystore.pkcs11_store`'s.

A PKCS#11 module keeps its state (sessions, login) in the memory of the process that called
``C_Initialize``. Two rules follow, both measured with SoftHSM 2.6.1 and python-pkcs11:

* **One context per process.** A forked child inherits the parent's initialised module and
  logged-in sessions; using them fails (``CKR_USER_ALREADY_LOGGED_IN``, ``CKR_GENERAL_ERROR``)
  and sharing them crashes SoftHSM. :func:`open_token` therefore remembers which process
  initialised each module and, in any other process, finalises and initialises it again
  before use (the PKCS#11 base specification asks a forked child that uses the module to call
  ``C_Initialize`` itself). Contexts are cached per (module, token label) *within* a process,
  so a worker's KSK and ZSK share one login.
* **No concurrent calls into a module.** python-pkcs11 releases the GIL during ``C_Sign`` and
  initialises modules without ``CKF_OS_LOCKING_OK``, so SoftHSM runs unlocked and two threads
  crash it. Every call made through a :class:`TokenContext` holds its lock, one lock per
  module and process: threads are serialised, processes give the parallelism.

SoftHSM's file-backed tokens add one more: while another process logs in (which rewrites the
token file under the reader), ``C_GetTokenInfo`` may fail with ``CKR_GENERAL_ERROR`` and
``C_Initialize`` may miss the token. Opening is retried a few times, re-initialising the module
in between, with short sleeps; signing itself is not affected.

PINs are kept in process memory only (:func:`remember_pin`), after a successful login, so that
workers forked from the process that opened the key store can log in without the PIN ever
travelling in a :class:`~signwire.keystore.model.SignerSpec`; other workers read the PIN file or
environment variable the locator names (:func:`pin_from`). Error messages name the module, the
token and the key, never the PIN.

Signing (each call is one ``C_Sign``):

* ECDSA: SHA-256/384 computed here, the digest signed with ``CKM_ECDSA`` (SoftHSM 2.6 lacks
  ``CKM_ECDSA_SHA256``; every HSM has ``CKM_ECDSA``). The result is raw ``r || s``, already the
  RFC 6605 §4 signature format.
* EdDSA: ``CKM_EDDSA`` over the data (PureEdDSA, RFC 8080 §4).
* RSA: ``CKM_SHA256_RSA_PKCS``/``CKM_SHA512_RSA_PKCS`` when the token has them, otherwise the
  hash and its DigestInfo (RFC 8017 §9.2) here and ``CKM_RSA_PKCS`` on the token (RFC 5702 §3).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from signwire.errors import KeyStoreError
from signwire.keystore.model import SignerSpec
from signwire.policy import algorithms

if TYPE_CHECKING:
    from pkcs11._pkcs11 import lib as Pkcs11Lib

try:
    import pkcs11
    from pkcs11 import (
        Attribute,
        KeyType,
        Mechanism,
        MechanismFlag,
        ObjectClass,
        PrivateKey,
        PublicKey,
        Session,
        SignMixin,
    )
    from pkcs11 import exceptions as p11e
except ModuleNotFoundError as exc:  # the optional extra is not installed
    raise KeyStoreError(
        "PKCS#11 key stores need the python-pkcs11 package (pip install 'signwire[hsm]')"
    ) from exc

__all__ = [
    "STALE_SESSION_ERRORS",
    "Attribute",
    "KeyType",
    "Mechanism",
    "MechanismFlag",
    "ObjectClass",
    "Pkcs11Locator",
    "PrivateKey",
    "PublicKey",
    "Session",
    "SignFunction",
    "SignMixin",
    "TokenContext",
    "close_all",
    "discard",
    "explain",
    "key_type_for",
    "load_pkcs11_signer",
    "locator_of",
    "open_token",
    "p11e",
    "pin_from",
    "remember_pin",
    "remembered_pin",
    "sign_mechanism",
    "where",
]

log = logging.getLogger(__name__)

SignFunction = Callable[[bytes], bytes]

_OPEN_ATTEMPTS = 8
_OPEN_BACKOFF = 0.01  # seconds; attempt n sleeps n times this (at most 0.28 s in all)

# Errors after which a fresh session may work: the module or token was reset under us.
STALE_SESSION_ERRORS: tuple[type[Exception], ...] = (
    p11e.SessionHandleInvalid,
    p11e.SessionClosed,
    p11e.UserNotLoggedIn,
    p11e.KeyHandleInvalid,
    p11e.ObjectHandleInvalid,
    p11e.DeviceRemoved,
    p11e.TokenNotPresent,
)

_PIN_MESSAGES: dict[type[Exception], str] = {
    p11e.PinIncorrect: "PIN incorrect",
    p11e.PinLocked: "PIN locked after too many wrong PINs (the security officer must reset it)",
    p11e.PinExpired: "PIN expired (set a new one with the HSM's tools)",
    p11e.PinInvalid: "PIN contains characters the token does not accept",
    p11e.PinLenRange: "PIN length is outside the token's range",
    p11e.UserPinNotInitialized: "the token's user PIN was never set",
}


def where(module: str, token_label: str) -> str:
    """How messages name a token: ``PKCS#11 token 'signer' (module /usr/lib/...)``."""
    return f"PKCS#11 token {token_label!r} (module {module})"


def explain(exc: Exception) -> str:
    """A short reason for a python-pkcs11 error (its class name is the CKR_ code)."""
    message = _PIN_MESSAGES.get(type(exc))
    if message is not None:
        return message
    if isinstance(exc, p11e.MechanismInvalid):
        return "mechanism not supported by the token"
    name = type(exc).__name__
    detail = str(exc)
    return f"{name}: {detail}" if detail and detail != name else name


@dataclass(eq=False)
class TokenContext:
    """A logged-in session on one token, owned by one process; use it under :attr:`lock`."""

    module: str
    token_label: str
    pid: int
    token: pkcs11.Token
    session: pkcs11.Session
    mechanisms: frozenset[int]
    lock: threading.RLock = field(init=False)

    def __post_init__(self) -> None:
        self.lock = _module_lock(self.module)

    @property
    def where(self) -> str:
        return where(self.module, self.token_label)

    @contextlib.contextmanager
    def write_session(self) -> Iterator[pkcs11.Session]:
        """A read/write session for creating or destroying objects, closed afterwards.

        In PKCS#11 a login holds for all of an application's sessions with the token, so this
        session is already authenticated; opening it without a PIN also keeps its close from
        logging the context's session out.
        """
        with self.lock:
            try:
                session = self.token.open(rw=True)
            except p11e.PKCS11Error as exc:
                raise KeyStoreError(
                    f"{self.where}: cannot open a read/write session: {explain(exc)}"
                ) from None
            try:
                yield session
            finally:
                with contextlib.suppress(p11e.PKCS11Error):
                    session.close()

    def supports(self, mechanism: int) -> bool:
        return mechanism in self.mechanisms


# Process-local state. ``_initialised_by`` maps a module path to the pid that initialised it:
# a different pid means we are a forked child holding a copy of the parent's context.
_initialised_by: dict[str, int] = {}
_contexts: dict[tuple[str, str], TokenContext] = {}
_pins: dict[tuple[str, str], str] = {}
_state_lock = threading.Lock()
_module_locks: dict[tuple[int, str], threading.RLock] = {}  # by (pid, module): fresh after fork


def _module_lock(module: str) -> threading.RLock:
    return _module_locks.setdefault((os.getpid(), module), threading.RLock())


def remember_pin(module: str, token_label: str, pin: str) -> None:
    """Keep a PIN that worked, for workers forked from this process."""
    _pins[(module, token_label)] = pin


def remembered_pin(module: str, token_label: str) -> str | None:
    return _pins.get((module, token_label))


def _library(module: str) -> Pkcs11Lib:
    """The module, initialised by this process (re-initialised in a forked child)."""
    pid = os.getpid()
    try:
        lib = pkcs11.lib(module)
    except p11e.PKCS11Error as exc:
        raise KeyStoreError(f"PKCS#11 module {module}: cannot load: {explain(exc)}") from None
    owner = _initialised_by.get(module)
    if owner is not None and owner != pid:
        # Inherited through fork: drop the parent's sessions and login, start our own.
        # C_Finalize may refuse when the module already noticed the fork; that is fine.
        with contextlib.suppress(p11e.PKCS11Error):
            lib.finalize()
        try:
            lib.initialize()
        except p11e.PKCS11Error as exc:
            raise KeyStoreError(
                f"PKCS#11 module {module}: cannot initialise after fork: {explain(exc)}"
            ) from None
    _initialised_by[module] = pid
    return lib


def _reinitialise(module: str) -> None:
    """Finalise and initialise ``module`` again in this process, dropping its contexts.

    Their sessions die with the module; signers holding one log in again on their next call.
    The module's lock is taken first so that no call is inside the module meanwhile.
    """
    with _module_lock(module):
        for key in [key for key, ctx in _contexts.items() if ctx.module == module]:
            del _contexts[key]
        lib = _library(module)
        with contextlib.suppress(p11e.PKCS11Error):
            lib.finalize()
        try:
            lib.initialize()
        except p11e.PKCS11Error as exc:
            raise KeyStoreError(
                f"PKCS#11 module {module}: cannot initialise: {explain(exc)}"
            ) from None


def _no_such_token(lib: Pkcs11Lib, module: str, token_label: str) -> KeyStoreError:
    try:
        present = sorted({t.label for t in lib.get_tokens() if t.label})
    except p11e.PKCS11Error:
        present = []
    listing = ", ".join(repr(label) for label in present) or "none"
    return KeyStoreError(f"{where(module, token_label)}: no such token (tokens: {listing})")


def _login(module: str, token_label: str, pin: str) -> TokenContext:
    """Find the token by label, open a session and log in.

    SoftHSM's file-backed tokens race with other processes' logins: ``C_GetTokenInfo`` fails
    with ``CKR_GENERAL_ERROR``, or ``C_Initialize`` misses the token altogether (measured: a
    quarter of initialisations while another process logs in in a loop). Both are retried
    after initialising the module again, a few times with short sleeps.
    """
    transient: Exception | None = None
    for attempt in range(_OPEN_ATTEMPTS):
        if attempt:
            time.sleep(_OPEN_BACKOFF * attempt)
            _reinitialise(module)
        lib = _library(module)
        try:
            found = list(lib.get_tokens(token_label=token_label))
            if len(found) > 1:
                raise KeyStoreError(
                    f"{where(module, token_label)}: {len(found)} tokens carry this label;"
                    " relabel them"
                )
            if not found:
                transient = None
                continue
            token = found[0]
            try:
                session = token.open(user_pin=pin)
            except p11e.UserAlreadyLoggedIn:
                # Logged in by someone else in this process: the login is per application.
                session = token.open()
            mechanisms = frozenset(int(m) for m in token.slot.get_mechanisms())
        except (p11e.GeneralError, p11e.TokenNotPresent, p11e.TokenNotRecognised) as exc:
            transient = exc
            continue
        except p11e.PKCS11Error as exc:
            raise KeyStoreError(f"{where(module, token_label)}: {explain(exc)}") from None
        return TokenContext(module, token_label, os.getpid(), token, session, mechanisms)
    if transient is None:
        raise _no_such_token(_library(module), module, token_label)
    raise KeyStoreError(
        f"{where(module, token_label)}: cannot open a session after {_OPEN_ATTEMPTS} attempts:"
        f" {explain(transient)}"
    )


def open_token(module: str, token_label: str, pin: str) -> TokenContext:
    """This process's logged-in context for the token, opened on first use."""
    with _state_lock:
        key = (module, token_label)
        pid = os.getpid()
        ctx = _contexts.get(key)
        if ctx is not None and ctx.pid == pid:
            return ctx
        if any(c.pid != pid for c in _contexts.values()):
            # A forked child: the parent's sessions are not ours. Forget them without closing
            # (closing would log the parent's copy out through handles that mean nothing here).
            _contexts.clear()
        ctx = _login(module, token_label, pin)
        _contexts[key] = ctx
        remember_pin(module, token_label, pin)
        return ctx


def discard(ctx: TokenContext) -> None:
    """Drop a context whose session went stale; the next :func:`open_token` logs in again."""
    with _state_lock:
        key = (ctx.module, ctx.token_label)
        if _contexts.get(key) is ctx:
            del _contexts[key]
        if ctx.pid == os.getpid():
            with contextlib.suppress(p11e.PKCS11Error):
                ctx.session.close()


def close_all() -> None:
    """Log out, close every session and finalise every module this process opened.

    After this, the next :func:`open_token` initialises the module again, which also makes it
    read its configuration again (SoftHSM reads ``SOFTHSM2_CONF`` and scans its token folder
    only in ``C_Initialize``). Remembered PINs are kept.
    """
    with _state_lock:
        pid = os.getpid()
        for ctx in _contexts.values():
            if ctx.pid == pid:
                with contextlib.suppress(p11e.PKCS11Error):
                    ctx.session.close()
        _contexts.clear()
        for module in list(_initialised_by):
            # In a forked child this finalises the inherited copy, which is just as needed.
            with contextlib.suppress(p11e.PKCS11Error):
                pkcs11.lib(module).finalize()
            del _initialised_by[module]


_HASH: Final[dict[int, Callable[[bytes], Any]]] = {
    algorithms.RSASHA256: hashlib.sha256,
    algorithms.RSASHA512: hashlib.sha512,
    algorithms.ECDSAP256SHA256: hashlib.sha256,
    algorithms.ECDSAP384SHA384: hashlib.sha384,
}
# RFC 8017 §9.2 note 1: the DER DigestInfo header before the hash value.
_DIGEST_INFO: Final[dict[int, bytes]] = {
    algorithms.RSASHA256: bytes.fromhex("3031300d060960864801650304020105000420"),
    algorithms.RSASHA512: bytes.fromhex("3051300d060960864801650304020305000440"),
}
_RSA_HASHED: Final[dict[int, Mechanism]] = {
    algorithms.RSASHA256: Mechanism.SHA256_RSA_PKCS,
    algorithms.RSASHA512: Mechanism.SHA512_RSA_PKCS,
}


def key_type_for(algorithm: int) -> KeyType:
    """The PKCS#11 key type of a DNSSEC algorithm's keys."""
    family = algorithms.info(algorithm).family
    if family == "rsa":
        return KeyType.RSA
    return KeyType.EC if family == "ecdsa" else KeyType.EC_EDWARDS


# --- PIN --------------------------------------------------------------------------------------


def pin_from(pin_file: str | None, pin_env: str | None) -> str:
    """The token PIN from a file (first line) or an environment variable; exactly one source.

    A PIN file readable by group or others is accepted with a warning in the log.
    """
    if pin_file is not None and pin_env is not None:
        raise KeyStoreError("give the PKCS#11 PIN either in a file or in an environment variable")
    if pin_env is not None:
        value = os.environ.get(pin_env)
        if value is None:
            raise KeyStoreError(f"environment variable {pin_env} (the PKCS#11 PIN) is not set")
        if not value:
            raise KeyStoreError(f"environment variable {pin_env} (the PKCS#11 PIN) is empty")
        return value
    if pin_file is None:
        raise KeyStoreError(
            "no PKCS#11 PIN: give a PIN file or the name of an environment variable holding it"
        )
    try:
        with open(pin_file, encoding="utf-8") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            text = handle.read()
    except OSError as exc:
        raise KeyStoreError(f"{pin_file}: cannot read the PKCS#11 PIN: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise KeyStoreError(f"{pin_file}: the PKCS#11 PIN file is not UTF-8 text") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s: PIN file readable by others (mode %04o)", pin_file, stat.S_IMODE(mode))
    lines = text.splitlines()
    pin = lines[0] if lines else ""
    if not pin:
        raise KeyStoreError(f"{pin_file}: the PKCS#11 PIN file is empty")
    return pin


# --- locator ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pkcs11Locator:
    """Where a worker finds a key and its PIN: the ``material`` of a ``pkcs11`` SignerSpec."""

    module: str
    token: str
    key_label: str
    key_id: bytes
    pin_env: str | None = None
    pin_file: str | None = None

    def encode(self) -> bytes:
        data = {
            "module": self.module,
            "token": self.token,
            "label": self.key_label,
            "id": self.key_id.hex(),
            "pin_env": self.pin_env,
            "pin_file": self.pin_file,
        }
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode("utf-8")

    @classmethod
    def decode(cls, material: bytes) -> Pkcs11Locator:
        try:
            data = json.loads(material.decode("utf-8"))
            locator = cls(
                module=data["module"],
                token=data["token"],
                key_label=data["label"],
                key_id=bytes.fromhex(data["id"]),
                pin_env=data.get("pin_env"),
                pin_file=data.get("pin_file"),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise KeyStoreError("malformed PKCS#11 key locator") from None
        fields = (locator.module, locator.token, locator.key_label)
        optional = (locator.pin_env, locator.pin_file)
        if not all(isinstance(f, str) for f in fields) or not all(
            f is None or isinstance(f, str) for f in optional
        ):
            raise KeyStoreError("malformed PKCS#11 key locator")
        return locator

    @property
    def where(self) -> str:
        return f"{where(self.module, self.token)}, key {self.key_label!r}"

    def pin(self) -> str:
        """The PIN for a worker: kept from this process's login, else from the locator's source."""
        known = remembered_pin(self.module, self.token)
        if known is not None:
            return known
        if self.pin_env is None and self.pin_file is None:
            raise KeyStoreError(
                f"{where(self.module, self.token)}: no PIN in this process; give the key"
                " store a PIN file or environment variable, or fork workers from the process"
                " that opened it"
            )
        return pin_from(self.pin_file, self.pin_env)


# --- signing ----------------------------------------------------------------------------------


def locator_of(spec: SignerSpec) -> Pkcs11Locator:
    if spec.kind != "pkcs11":
        raise KeyStoreError(f"not a PKCS#11 key: a {spec.kind!r} signer")
    return Pkcs11Locator.decode(spec.material)


def sign_mechanism(ctx: TokenContext, algorithm: int) -> Mechanism:
    family = algorithms.info(algorithm).family
    if family == "ecdsa":
        return Mechanism.ECDSA
    if family == "eddsa":
        return Mechanism.EDDSA
    hashed = _RSA_HASHED[algorithm]
    return hashed if ctx.supports(hashed) else Mechanism.RSA_PKCS


class _TokenSigner:
    """Signs with one token key; reconnects once if the session went stale.

    Safe to inherit through ``fork``: a signer used in another process than the one that
    connected it connects again there, with that process's own context.
    """

    def __init__(self, locator: Pkcs11Locator, algorithm: int) -> None:
        self.locator = locator
        self.algorithm = algorithm
        self._lock: threading.RLock
        self._sign: Callable[..., bytes]
        self._mechanism: Mechanism
        self._prepare: Callable[[bytes], bytes] | None
        self._connect()

    def _connect(self) -> None:
        locator, algorithm = self.locator, self.algorithm
        ctx = open_token(locator.module, locator.token, locator.pin())
        mechanism = sign_mechanism(ctx, algorithm)
        if not ctx.supports(mechanism):
            raise KeyStoreError(f"{locator.where}: mechanism {mechanism.name} not supported")
        with ctx.lock:
            try:
                key = ctx.session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=locator.key_id)
                if not isinstance(key, SignMixin):
                    raise p11e.NoSuchKey()
                label = key[Attribute.LABEL]
                key_type = key[Attribute.KEY_TYPE]
            except p11e.NoSuchKey:
                raise KeyStoreError(f"{locator.where}: no such private key on the token") from None
            except p11e.MultipleObjectsReturned:
                raise KeyStoreError(
                    f"{locator.where}: several private keys have its CKA_ID"
                ) from None
            except p11e.PKCS11Error as exc:
                raise KeyStoreError(f"{locator.where}: {explain(exc)}") from None
        if label != locator.key_label:
            log.warning("%s: the key is now labelled %r", locator.where, label)
        if key_type != key_type_for(algorithm):
            raise KeyStoreError(
                f"{locator.where}: a {getattr(key_type, 'name', key_type)} key cannot sign"
                f" {algorithms.mnemonic(algorithm)}"
            )
        self._ctx = ctx
        self._pid = ctx.pid
        self._lock = ctx.lock
        self._sign = key.sign
        self._mechanism = mechanism
        if mechanism == Mechanism.ECDSA or mechanism == Mechanism.RSA_PKCS:
            digest = _HASH[algorithm]
            prefix = _DIGEST_INFO.get(algorithm, b"") if mechanism == Mechanism.RSA_PKCS else b""
            self._prepare = lambda data: prefix + digest(data).digest()
        else:
            self._prepare = None  # the token hashes (RSA) or EdDSA signs the message itself

    def __call__(self, data: bytes) -> bytes:
        tbs = data if self._prepare is None else self._prepare(data)
        if self._pid != os.getpid():
            self._connect()  # inherited from the parent: its session is not ours
        try:
            with self._lock:
                return self._sign(tbs, mechanism=self._mechanism)
        except STALE_SESSION_ERRORS:
            pass
        except p11e.PKCS11Error as exc:
            raise KeyStoreError(f"{self.locator.where}: signing failed: {explain(exc)}") from None
        # The HSM dropped our session (restart, timeout): log in again, once.
        discard(self._ctx)
        self._connect()
        try:
            with self._lock:
                return self._sign(tbs, mechanism=self._mechanism)
        except p11e.PKCS11Error as exc:
            raise KeyStoreError(f"{self.locator.where}: signing failed: {explain(exc)}") from None


def load_pkcs11_signer(spec: SignerSpec, *, deterministic: bool = False) -> SignFunction:
    """A function returning the RRSIG signature field for data, signed by the token's key.

    Call it in the process that will sign (after ``fork``): it opens that process's own module
    context and session, logs in, and finds the key; each call then costs one ``C_Sign``.
    ``deterministic`` is refused for ECDSA: the token draws its own nonces (EdDSA and RSA
    PKCS#1 v1.5 signatures are deterministic anyway).
    """
    if spec.algorithm not in algorithms.ALGORITHMS:
        raise KeyStoreError(f"unsupported DNSSEC algorithm {spec.algorithm}")
    locator = locator_of(spec)
    if deterministic and algorithms.info(spec.algorithm).family == "ecdsa":
        raise KeyStoreError(
            f"{locator.where}: deterministic ECDSA is not available, the token picks the nonces"
        )
    return _TokenSigner(locator, spec.algorithm)
