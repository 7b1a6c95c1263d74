"""The PKCS#11 key store against a real SoftHSM2 token (a fresh one per test, in tmp_path).

No mocks: keys are generated on the token, found again by a new store after the module was
finalised, used to sign RRsets that dnspython's validator must accept, and used from forked
worker processes that each open their own PKCS#11 context.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from dns.dnssecalgs.base import GenericPrivateKey, GenericPublicKey

import softhsm
from signwire.errors import KeyStoreError
from signwire.keystore import crypto as A_crypto
from signwire.keystore.model import ZoneKey
from signwire.policy import algorithms as A
from signwire.policy.model import KeyRole
from signwire.zones import names

_MISSING = softhsm.missing()
pytestmark = [
    pytest.mark.interop,
    pytest.mark.requires(_MISSING),
]

if _MISSING is None:
    from signwire.keystore import pkcs11_token
    from signwire.keystore.pkcs11_store import Pkcs11KeyStore, Pkcs11Locator, load_pkcs11_signer

ORIGIN = names.from_text("example.com.", None)
ZONE = dns.name.from_text("example.com.")
NOW = 1_767_225_600  # 2026-01-01
ALGORITHMS = [
    pytest.param(A.ECDSAP256SHA256, None, id="ECDSAP256SHA256"),
    pytest.param(A.ECDSAP384SHA384, None, id="ECDSAP384SHA384"),
    pytest.param(A.ED25519, None, id="ED25519"),
    pytest.param(A.ED448, None, id="ED448"),
    pytest.param(A.RSASHA256, 2048, id="RSASHA256"),
    pytest.param(A.RSASHA512, 1024, id="RSASHA512-1024"),  # small: keygen speed only
]


@pytest.fixture
def token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[softhsm.SoftHsmToken]:
    monkeypatch.setenv("SOFTHSM2_CONF", str(tmp_path / "softhsm2.conf"))  # restored afterwards
    made = softhsm.make_token(tmp_path / "hsm")
    yield made
    pkcs11_token.close_all()


@pytest.fixture
def store(token: softhsm.SoftHsmToken) -> Pkcs11KeyStore:
    return Pkcs11KeyStore(token.module, token.label, token.pin)


class _Adapter(GenericPrivateKey):
    """Lets dnspython build the signed data (independently of signwire) and call our signer."""

    def __init__(self, key: object) -> None:
        self.sign_fn = key

    def sign(self, data: bytes, verify: bool = False, deterministic: bool = True) -> bytes:
        assert callable(self.sign_fn)
        result: bytes = self.sign_fn(data)
        return result

    def public_key(self) -> GenericPublicKey:
        raise NotImplementedError

    @classmethod
    def from_pem(cls, private_pem: bytes, password: bytes | None = None) -> GenericPrivateKey:
        raise NotImplementedError

    def to_pem(self, password: bytes | None = None) -> bytes:
        raise NotImplementedError


def _dnskey(key: ZoneKey) -> dns.rdata.Rdata:
    wire = key.dnskey_rdata
    return dns.rdata.from_wire(dns.rdataclass.IN, dns.rdatatype.DNSKEY, wire, 0, len(wire))


def _sign_and_validate(keys: list[ZoneKey], signing: ZoneKey) -> None:
    dnskeys = dns.rrset.from_rdata_list(ZONE, 3600, [_dnskey(k) for k in keys])
    data = dns.rrset.from_text("www.example.com.", 300, "IN", "A", "192.0.2.1", "192.0.2.2")
    signer = load_pkcs11_signer(signing.signer)
    for rrset in (data, dnskeys):
        rrsig = dns.dnssec.sign(
            rrset,
            _Adapter(signer),
            ZONE,
            _dnskey(signing),
            inception=NOW - 3600,
            expiration=NOW + 86400,
        )
        sigs = dns.rrset.from_rdata_list(rrset.name, rrset.ttl, [rrsig])
        dns.dnssec.validate(rrset, sigs, {ZONE: dnskeys}, now=NOW)
        assert rrsig.key_tag == signing.key_tag
        bad = dns.rrset.from_text("www.example.com.", 300, "IN", "A", "192.0.2.99")
        if rrset is data:
            with pytest.raises(dns.dnssec.ValidationFailure):
                dns.dnssec.validate(bad, sigs, {ZONE: dnskeys}, now=NOW)


@pytest.mark.parametrize(("algorithm", "bits"), ALGORITHMS)
def test_create_find_sign_validate(
    token: softhsm.SoftHsmToken, algorithm: int, bits: int | None
) -> None:
    store = Pkcs11KeyStore(token.module, token.label, token.pin)
    ksk = store.create(ORIGIN, algorithm, KeyRole.KSK, NOW, bits)
    zsk = store.create(ORIGIN, algorithm, KeyRole.ZSK, NOW, bits)
    assert (ksk.flags, zsk.flags) == (257, 256)
    assert ksk.signer.kind == "pkcs11"
    A_crypto.load_public_key(algorithm, ksk.public_key)  # a well-formed DNSKEY key field
    assert ksk.key_tag == A.key_tag(ksk.dnskey_rdata)

    pkcs11_token.close_all()  # as after a restart: the new store logs in again
    found = Pkcs11KeyStore(token.module, token.label, token.pin).keys_for(ORIGIN)
    assert sorted(found, key=lambda k: k.key_tag) == sorted([ksk, zsk], key=lambda k: k.key_tag)

    _sign_and_validate(found, next(k for k in found if k.role == KeyRole.ZSK))
    _sign_and_validate(found, next(k for k in found if k.role == KeyRole.KSK))
    if algorithm == A.ECDSAP256SHA256:
        # The signature is raw r || s and our own verifier agrees with dnspython's.
        sig = load_pkcs11_signer(zsk.signer)(b"payload")
        assert len(sig) == 64
        assert A_crypto.verify(algorithm, zsk.public_key, b"payload", sig)


def test_private_keys_are_sensitive_token_objects(
    token: softhsm.SoftHsmToken, store: Pkcs11KeyStore
) -> None:
    key = store.create(ORIGIN, A.ED25519, KeyRole.CSK, NOW)
    locator = Pkcs11Locator.decode(key.signer.material)
    assert locator.key_label == f"example.com./csk/15/{key.key_tag}"
    assert len(locator.key_id) == 16
    ctx = pkcs11_token.open_token(token.module, token.label, token.pin)
    Attribute, ObjectClass = pkcs11_token.Attribute, pkcs11_token.ObjectClass
    with ctx.lock:
        private = ctx.session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=locator.key_id)
        assert private[Attribute.TOKEN] is True
        assert private[Attribute.SENSITIVE] is True
        assert private[Attribute.EXTRACTABLE] is False
        assert private[Attribute.NEVER_EXTRACTABLE] is True
        assert private[Attribute.LABEL] == locator.key_label
        with pytest.raises(pkcs11_token.p11e.AttributeSensitive):
            private[Attribute.VALUE]  # reading it is the test


def test_keys_belong_to_their_zone_only(store: Pkcs11KeyStore) -> None:
    other = names.from_text("Example.NET.", None)
    mine = store.create(ORIGIN, A.ECDSAP256SHA256, KeyRole.CSK, NOW)
    theirs = store.create(other, A.ECDSAP256SHA256, KeyRole.ZSK, NOW)
    assert store.keys_for(ORIGIN) == [mine]
    assert store.keys_for(other) == [theirs]
    assert store.keys_for(names.from_text("sub.example.com.", None)) == []
    assert Pkcs11Locator.decode(theirs.signer.material).key_label.startswith("example.net./zsk/")


def test_unfinished_key_is_reported_not_used(
    token: softhsm.SoftHsmToken, store: Pkcs11KeyStore
) -> None:
    good = store.create(ORIGIN, A.ECDSAP256SHA256, KeyRole.ZSK, NOW)
    ctx = pkcs11_token.open_token(token.module, token.label, token.pin)
    with ctx.write_session() as session:
        session.generate_keypair(
            pkcs11_token.KeyType.EC,
            id=b"\x01" * 16,
            label="example.com./ksk/13/pending",
            store=True,
            public_template={
                pkcs11_token.Attribute.EC_PARAMS: bytes.fromhex("06082a8648ce3d030107")
            },
        )
    scan = store.scan(ORIGIN)
    assert scan.keys == [good]
    assert len(scan.notes) == 1
    assert "example.com./ksk/13/pending" in scan.notes[0]
    assert "did not finish" in scan.notes[0]


def test_destroy_removes_the_pair(store: Pkcs11KeyStore) -> None:
    a = store.create(ORIGIN, A.ECDSAP256SHA256, KeyRole.ZSK, NOW)
    b = store.create(ORIGIN, A.ECDSAP256SHA256, KeyRole.KSK, NOW)
    store.destroy(a)
    assert store.keys_for(ORIGIN) == [b]
    with pytest.raises(KeyStoreError, match="no such private key"):
        load_pkcs11_signer(a.signer)
    with pytest.raises(KeyStoreError, match="no such key"):
        store.destroy(a)


def test_pin_never_in_material_or_repr(store: Pkcs11KeyStore, token: softhsm.SoftHsmToken) -> None:
    key = store.create(ORIGIN, A.ECDSAP256SHA256, KeyRole.ZSK, NOW)
    assert token.pin.encode() not in key.signer.material
    assert token.pin not in repr(store)
    assert token.pin not in repr(key)


def test_wrong_pin_is_a_clear_error(token: softhsm.SoftHsmToken) -> None:
    wrong = "98765"
    store = Pkcs11KeyStore(token.module, token.label, wrong)
    with pytest.raises(KeyStoreError) as info:
        store.keys_for(ORIGIN)
    message = str(info.value)
    assert "PIN incorrect" in message
    assert repr(token.label) in message
    assert token.module in message
    assert wrong not in message
    # The right PIN still works afterwards.
    assert Pkcs11KeyStore(token.module, token.label, token.pin).keys_for(ORIGIN) == []


def test_unknown_token_lists_the_tokens(token: softhsm.SoftHsmToken) -> None:
    store = Pkcs11KeyStore(token.module, "no-such-token", token.pin)
    with pytest.raises(
        KeyStoreError, match=r"'no-such-token'.*no such token \(tokens: 'signwire'\)"
    ):
        store.create(ORIGIN, A.ED25519, KeyRole.CSK, NOW)


def test_missing_module_is_named(tmp_path: Path) -> None:
    module = str(tmp_path / "libnothere.so")
    store = Pkcs11KeyStore(module, "signwire", "1234")
    with pytest.raises(KeyStoreError, match=rf"PKCS#11 module {module}: cannot load"):
        store.keys_for(ORIGIN)


def test_bad_key_size_is_refused_before_the_token(store: Pkcs11KeyStore) -> None:
    with pytest.raises(KeyStoreError, match="always 256 bits"):
        store.create(ORIGIN, A.ED25519, KeyRole.CSK, NOW, bits=2048)


def test_worker_reads_pin_from_environment(
    token: softhsm.SoftHsmToken, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIGNWIRE_TEST_PIN", token.pin)
    store = Pkcs11KeyStore.from_pin_source(token.module, token.label, pin_env="SIGNWIRE_TEST_PIN")
    key = store.create(ORIGIN, A.ECDSAP256SHA256, KeyRole.ZSK, NOW)
    assert Pkcs11Locator.decode(key.signer.material).pin_env == "SIGNWIRE_TEST_PIN"
    # A worker that did not inherit the PIN (not forked from this process) reads the variable.
    pkcs11_token.close_all()
    monkeypatch.setattr(pkcs11_token, "_pins", {})
    assert A_crypto.verify(
        key.algorithm, key.public_key, b"x", load_pkcs11_signer(key.signer)(b"x")
    )
    pkcs11_token.close_all()
    monkeypatch.setattr(pkcs11_token, "_pins", {})
    monkeypatch.delenv("SIGNWIRE_TEST_PIN")
    with pytest.raises(KeyStoreError, match=r"SIGNWIRE_TEST_PIN.*not set"):
        load_pkcs11_signer(key.signer)


# python-pkcs11's search iterator, finalised on a dead session, reports the error from __del__.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_signer_logs_in_again_after_losing_its_session(
    token: softhsm.SoftHsmToken, store: Pkcs11KeyStore
) -> None:
    key = store.create(ORIGIN, A.ECDSAP256SHA256, KeyRole.ZSK, NOW)
    sign = load_pkcs11_signer(key.signer)
    assert A_crypto.verify(key.algorithm, key.public_key, b"one", sign(b"one"))
    ctx = pkcs11_token.open_token(token.module, token.label, token.pin)
    ctx.session.close()  # as if the HSM had dropped it
    assert A_crypto.verify(key.algorithm, key.public_key, b"two", sign(b"two"))
    pkcs11_token.open_token(token.module, token.label, token.pin).session.close()
    assert store.keys_for(ORIGIN) == [key]  # the store logs in again too


def test_threads_sharing_a_signer_are_serialised(store: Pkcs11KeyStore) -> None:
    # Unserialised, two threads in C_Sign crash SoftHSM (python-pkcs11 releases the GIL).
    key = store.create(ORIGIN, A.ECDSAP256SHA256, KeyRole.ZSK, NOW)
    sign = load_pkcs11_signer(key.signer)
    results: list[bool] = []

    def work() -> None:
        results.extend(
            A_crypto.verify(key.algorithm, key.public_key, bytes([i]), sign(bytes([i])))
            for i in range(200)
        )

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == 400 and all(results)


# --- two processes ------------------------------------------------------------------------------

_worker_keys: list[ZoneKey] = []
_inherited: list[Callable[[bytes], bytes]] = []


def _worker_sign(index: int) -> list[tuple[int, bytes, bytes]]:
    """In a forked worker: load every key's signer (own context), sign a few messages."""
    out = []
    for n, key in enumerate(_worker_keys):
        sign = load_pkcs11_signer(key.signer)
        for i in range(50):
            data = f"worker {index} message {i}".encode()
            out.append((n, data, sign(data)))
    # A signer made by the parent before the fork reconnects in this process by itself.
    data = f"worker {index} inherited".encode()
    out.append((0, data, _inherited[0](data)))
    return out


def test_forked_workers_sign_with_their_own_contexts(store: Pkcs11KeyStore) -> None:
    keys = [
        store.create(ORIGIN, A.ECDSAP256SHA256, KeyRole.ZSK, NOW),
        store.create(ORIGIN, A.ED25519, KeyRole.KSK, NOW),
    ]
    # The parent signs first, so every worker inherits an initialised module and a logged-in
    # session it must not use.
    parent_sign = load_pkcs11_signer(keys[0].signer)
    assert A_crypto.verify(keys[0].algorithm, keys[0].public_key, b"p", parent_sign(b"p"))
    _worker_keys[:] = keys
    _inherited[:] = [parent_sign]
    try:
        with multiprocessing.get_context("fork").Pool(2) as pool:
            batches = pool.map(_worker_sign, range(4))
    finally:
        _worker_keys.clear()
        _inherited.clear()
    signed = [item for batch in batches for item in batch]
    assert len(signed) == 4 * (2 * 50 + 1)
    for n, data, sig in signed:
        assert A_crypto.verify(keys[n].algorithm, keys[n].public_key, data, sig)
    # The parent's own session survived its children.
    assert A_crypto.verify(keys[0].algorithm, keys[0].public_key, b"q", parent_sign(b"q"))
