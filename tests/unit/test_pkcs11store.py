"""The PKCS#11 key store's pure parts: PIN sources, locators, labels, public key encodings.

The token itself is exercised against SoftHSM2 in tests/interop/test_pkcs11.py.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from signwire.errors import KeyStoreError
from signwire.keystore import crypto as A_crypto
from signwire.keystore.model import SignerSpec
from signwire.keystore.pkcs11_store import (
    Pkcs11KeyStore,
    Pkcs11Locator,
    ec_public_field,
    key_label,
    load_pkcs11_signer,
    parse_label,
    pin_from,
    rsa_public_field,
)
from signwire.policy import algorithms as A
from signwire.policy.model import KeyRole
from signwire.zones import names

pytestmark = pytest.mark.requires(
    None if importlib.util.find_spec("pkcs11") else "python-pkcs11 is not installed (extra 'hsm')"
)

ORIGIN = names.from_text("Example.COM.", None)

# --- PIN sources ---------------------------------------------------------------------------------


def test_pin_from_file_takes_the_first_line(tmp_path: Path) -> None:
    path = tmp_path / "pin"
    path.write_text("12 34\nignored\n")
    path.chmod(0o600)
    assert pin_from(str(path), None) == "12 34"


def test_pin_file_readable_by_others_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "pin"
    path.write_text("1234\n")
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="signwire.keystore.pkcs11_token"):
        assert pin_from(str(path), None) == "1234"
    assert "readable by others (mode 0644)" in caplog.text
    assert "1234" not in caplog.text


def test_pin_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SW_PIN", "s3cret")
    assert pin_from(None, "SW_PIN") == "s3cret"


@pytest.mark.parametrize(
    ("setup", "pin_file", "pin_env", "message"),
    [
        (None, None, None, "no PKCS#11 PIN: give a PIN file or the name of an environment"),
        (None, "pin", "SW_PIN", "either in a file or in an environment variable"),
        (None, None, "SW_UNSET_PIN", "environment variable SW_UNSET_PIN .* is not set"),
        ("env-empty", None, "SW_PIN", "environment variable SW_PIN .* is empty"),
        (None, "absent", None, "absent: cannot read the PKCS#11 PIN: No such file"),
        ("file-empty", "pin", None, "pin: the PKCS#11 PIN file is empty"),
        ("file-binary", "pin", None, "not UTF-8 text"),
    ],
)
def test_pin_errors(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    setup: str | None,
    pin_file: str | None,
    pin_env: str | None,
    message: str,
) -> None:
    monkeypatch.delenv("SW_UNSET_PIN", raising=False)
    if setup == "env-empty":
        monkeypatch.setenv("SW_PIN", "")
    if setup == "file-empty":
        (tmp_path / "pin").write_text("\n")
    if setup == "file-binary":
        (tmp_path / "pin").write_bytes(b"\xff\xfe\n")
    path = str(tmp_path / pin_file) if pin_file else None
    with pytest.raises(KeyStoreError, match=message):
        pin_from(path, pin_env)


def test_store_refuses_an_empty_pin() -> None:
    with pytest.raises(KeyStoreError, match="empty PIN"):
        Pkcs11KeyStore("/lib/x.so", "tok", "")


# --- locators ----------------------------------------------------------------------------------


def test_locator_round_trip_holds_no_pin() -> None:
    loc = Pkcs11Locator("/usr/lib/m.so", "tok", "example.com./zsk/13/1", b"\x00" * 16, "SW_PIN")
    material = loc.encode()
    assert Pkcs11Locator.decode(material) == loc
    assert b"pin_env" in material and b"SW_PIN" in material
    assert loc.where == "PKCS#11 token 'tok' (module /usr/lib/m.so), key 'example.com./zsk/13/1'"


@pytest.mark.parametrize(
    "material",
    [b"", b"{", b"[]", b'{"module": "m"}', b'{"module":1,"token":"t","label":"l","id":""}'],
)
def test_malformed_locator(material: bytes) -> None:
    with pytest.raises(KeyStoreError, match="malformed PKCS#11 key locator"):
        Pkcs11Locator.decode(material)


def test_load_signer_refuses_other_kinds() -> None:
    with pytest.raises(KeyStoreError, match="not a PKCS#11 key"):
        load_pkcs11_signer(SignerSpec(A.ED25519, "pkcs8", b""))
    with pytest.raises(KeyStoreError, match="unsupported DNSSEC algorithm 5"):
        load_pkcs11_signer(SignerSpec(5, "pkcs11", b"{}"))


# --- labels --------------------------------------------------------------------------------------


def test_label_round_trip() -> None:
    label = key_label(ORIGIN, KeyRole.KSK, 13, 12345)
    assert label == "example.com./ksk/13/12345"
    assert parse_label(label, ORIGIN) == (KeyRole.KSK, 13, "12345")


def test_label_of_a_zone_with_a_slash() -> None:
    origin = names.from_text("0/25.2.0.192.in-addr.arpa.", None)
    label = key_label(origin, KeyRole.ZSK, 8, 7)
    assert parse_label(label, origin) == (KeyRole.ZSK, 8, "7")
    assert parse_label(label, names.from_text("25.2.0.192.in-addr.arpa.", None)) is None


@pytest.mark.parametrize(
    "label",
    [
        "example.com./zsk/13",  # too few fields
        "example.com./boss/13/1",  # unknown role
        "example.com./zsk/ECDSA/1",  # algorithm not a number
        "www.example.com./zsk/13/1",  # another zone
        "example.com/zsk/13/1",  # not the absolute name
        "my-ssh-key",
    ],
)
def test_foreign_labels_are_not_ours(label: str) -> None:
    assert parse_label(label, ORIGIN) is None


# --- public keys ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "curve"),
    [(A.ECDSAP256SHA256, ec.SECP256R1()), (A.ECDSAP384SHA384, ec.SECP384R1())],
)
def test_ec_point_to_dnskey(algorithm: int, curve: ec.EllipticCurve) -> None:
    key = ec.generate_private_key(curve)
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    expected = A_crypto.public_key_field(algorithm, key)
    der = bytes((0x04, len(point))) + point
    assert ec_public_field(algorithm, der) == expected
    assert ec_public_field(algorithm, point) == expected  # modules that return it raw
    compressed = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    with pytest.raises(ValueError, match="CKA_EC_POINT of"):
        ec_public_field(algorithm, compressed)
    with pytest.raises(ValueError, match="uncompressed"):
        ec_public_field(algorithm, b"\x02" + point[1:])


def test_eddsa_point_to_dnskey() -> None:
    for algorithm, key in (
        (A.ED25519, ed25519.Ed25519PrivateKey.generate()),
        (A.ED448, ed448.Ed448PrivateKey.generate()),
    ):
        raw = key.public_key().public_bytes_raw()
        assert ec_public_field(algorithm, bytes((0x04, len(raw))) + raw) == raw
        assert ec_public_field(algorithm, raw) == raw


@pytest.mark.parametrize("exponent", [3, 65537, 2**2100 + 1])
def test_rsa_public_field_matches_rfc3110(exponent: int) -> None:
    if exponent > 2**64:
        # cryptography cannot make such a key; compare with the RFC 3110 layout by hand.
        e = exponent.to_bytes((exponent.bit_length() + 7) // 8, "big")
        n = os.urandom(256)
        field = rsa_public_field(b"\x00" + e, n)
        assert field[:3] == b"\x00" + len(e).to_bytes(2, "big")
        assert field[3:] == e + n.lstrip(b"\x00")
        return
    key = rsa.generate_private_key(public_exponent=exponent, key_size=1024)
    numbers = key.public_key().public_numbers()
    e = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
    n = numbers.n.to_bytes(128, "big")
    assert rsa_public_field(b"\x00" + e, n) == A_crypto.public_key_field(A.RSASHA256, key)


def test_deterministic_ecdsa_is_refused() -> None:
    loc = Pkcs11Locator("/usr/lib/m.so", "tok", "example.com./zsk/13/1", b"\x01" * 16)
    spec = SignerSpec(A.ECDSAP256SHA256, "pkcs11", loc.encode())
    with pytest.raises(KeyStoreError, match="deterministic ECDSA is not available"):
        load_pkcs11_signer(spec, deterministic=True)
