"""signwire.keystore.bindfile: the K*.key / K*.private pair of BIND and ldns."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from signwire.errors import KeyStoreError
from signwire.keystore import bindfile as B
from signwire.keystore import crypto as A_crypto
from signwire.policy import algorithms as A
from signwire.zones import names

ORIGIN = names.from_text("example.com.", None)
SMALL_BITS = {A.RSASHA256: 1024, A.RSASHA512: 1024}

# RFC 8080 §6.1, first key, as BIND and ldns would store it.
ED_PRIVATE = """Private-key-format: v1.2
Algorithm: 15 (ED25519)
PrivateKey: ODIyNjAzODQ2MjgwODAxMjI2NDUxOTAyMDQxNDIyNjI=
"""
ED_PUBLIC = "l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4="

BIND_KEY = f"""; This is a key-signing key, keyid 3613, for example.com.
; Created: 20261128183724 (Sat Nov 28 18:37:24 2026)
; Publish: 20261128183724 (Sat Nov 28 18:37:24 2026)
; Activate: 20261128183724 (Sat Nov 28 18:37:24 2026)
example.com. IN DNSKEY 257 3 15 {ED_PUBLIC}
"""
LDNS_KEY = f"example.com.\tIN\tDNSKEY\t257 3 15 {ED_PUBLIC} ;{{id = 3613 (ksk), size = 256b}}\n"


def write_pair(
    folder: Path, key_text: str, private_text: str | None, stem: str = "Kexample.com.+015+03613"
) -> Path:
    key_path = folder / f"{stem}.key"
    key_path.write_text(key_text)
    if private_text is not None:
        (folder / f"{stem}.private").write_text(private_text)
    return key_path


# --- .key ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        BIND_KEY,
        LDNS_KEY,
        f"example.com. 3600 IN DNSKEY 257 3 15 {ED_PUBLIC}\n",
        f"example.com. IN DNSKEY 257 3 ED25519 {ED_PUBLIC[:20]} {ED_PUBLIC[20:]}\n",
        f"; comment\n\nexample.com. IN DNSKEY ( 257 3 15\n   {ED_PUBLIC} ) ; trailing\n",
        f"EXAMPLE.COM. in dnskey 257 3 15 {ED_PUBLIC}\n",
    ],
    ids=["bind", "ldns", "ttl", "mnemonic-split", "parentheses", "upper-case"],
)
def test_parse_key_text_layouts(text: str) -> None:
    line = B.parse_key_text(text, "Kexample.com.+015+03613.key")
    assert names.lower(line.owner) == ORIGIN
    assert (line.flags, line.protocol, line.algorithm) == (257, 3, 15)
    assert line.public_key == base64.b64decode(ED_PUBLIC)
    assert line.key_tag == 3613
    assert line.ttl == (3600 if "3600" in text else None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("; nothing here\n", "no DNSKEY record"),
        (f"example.com. IN KEY 512 3 15 {ED_PUBLIC}\n", "KEY record"),
        (f"IN DNSKEY 257 3 15 {ED_PUBLIC}\n", "has no owner name"),
        (f"DNSKEY 257 3 15 {ED_PUBLIC}\n", "no owner"),
        (f"example.com IN DNSKEY 257 3 15 {ED_PUBLIC}\n", "relative"),
        (f"example.com. IN DNSKEY 257 2 15 {ED_PUBLIC}\n", "protocol is 2"),
        (f"example.com. IN DNSKEY 257 3 5 {ED_PUBLIC}\n", "unsupported DNSSEC algorithm '5'"),
        ("example.com. IN DNSKEY 257 3 15 not*base64\n", "not valid base64"),
        ("example.com. IN DNSKEY 257 3 15 AAAA\n", "bad ED25519 key"),
        ("example.com. IN DNSKEY 257 3\n", "incomplete"),
        (f"example.com. IN DNSKEY x 3 15 {ED_PUBLIC}\n", "must be numbers"),
        (f"example.com. IN DNSKEY 70000 3 15 {ED_PUBLIC}\n", "out of range"),
        (f"example.com. CH DNSKEY 257 3 15 {ED_PUBLIC}\n", "found 'CH'"),
        (
            f"a. IN DNSKEY 257 3 15 {ED_PUBLIC}\nb. IN DNSKEY 257 3 15 {ED_PUBLIC}\n",
            "2 records; expected a single DNSKEY",
        ),
    ],
)
def test_parse_key_text_errors_name_the_file(text: str, message: str) -> None:
    with pytest.raises(KeyStoreError) as info:
        B.parse_key_text(text, "/keys/Kx.key")
    assert str(info.value).startswith("/keys/Kx.key: ")
    assert message in str(info.value)


def test_format_key_text_round_trip_and_layout() -> None:
    line = B.DnskeyLine(
        names.from_text("Example.com.", None), None, 257, 3, 15, base64.b64decode(ED_PUBLIC)
    )
    text = B.format_key_text(line, [("Created", 1_700_000_000), ("Activate", 1_700_000_060)])
    lines = text.splitlines()
    assert lines[0] == "; This is a key-signing key, keyid 3613, for Example.com."
    assert lines[1].startswith("; Created: 20231114221320 (Tue Nov 14 22:13:20 2023")
    assert lines[2].startswith("; Activate: 20231114221420 ")
    assert lines[3] == f"Example.com. IN DNSKEY 257 3 15 {ED_PUBLIC}"
    assert B.parse_key_text(text, "x") == line
    zsk = B.DnskeyLine(ORIGIN, 300, 256, 3, 15, base64.b64decode(ED_PUBLIC))
    text = B.format_key_text(zsk)
    assert text.startswith("; This is a zone-signing key")
    assert B.parse_key_text(text, "x") == zsk


# --- .private --------------------------------------------------------------------------------


def test_parse_rfc8080_private() -> None:
    private = B.parse_private_text(ED_PRIVATE, "x.private")
    assert (private.version, private.algorithm, private.metadata) == ("v1.2", 15, ())
    assert A_crypto.public_key_field(15, private.private_key) == base64.b64decode(ED_PUBLIC)


def test_parse_rfc6605_p384_private() -> None:
    text = (
        "Private-key-format: v1.2\nAlgorithm: 14 (ECDSAP384SHA384)\n"
        "PrivateKey: WURgWHCcYIYUPWgeLmiPY2DJJk02vgrmTfitxgqcL4vwW7BOrbawVmVe0d9V94SR\n"
    )
    private = B.parse_private_text(text, "x")
    assert base64.b64encode(A_crypto.public_key_field(14, private.private_key)).decode() == (
        "xKYaNhWdGOfJ+nPrL8/arkwf2EY3MDJ+SErKivBVSum1w/egsXvSADtNJhyem5RCOpgQ6K8X1DRSEkrbYQ+OB+v8"
        "/uX45NBwY8rp65F6Glur8I/mlVNgF6W/qTI37m40"
    )


def test_bind_timing_fields_are_kept_in_order() -> None:
    text = ED_PRIVATE.replace("v1.2", "v1.3") + (
        "Created: 20261128183724\nPublish: 20261128183724\nActivate: 20261129000000\n"
        "SyncPublish: 20270101000000\nSuccessor: 1234\n"
    )
    private = B.parse_private_text(text, "x")
    assert private.version == "v1.3"
    assert [name for name, _ in private.metadata] == [
        "Created",
        "Publish",
        "Activate",
        "SyncPublish",
        "Successor",
    ]
    assert private.timing("Activate") == 1_795_910_400
    assert private.timing("Inactive") is None
    assert private.field("Successor") == "1234"


@pytest.fixture(params=sorted(A.ALGORITHMS), ids=[A.mnemonic(a) for a in sorted(A.ALGORITHMS)])
def generated(request: pytest.FixtureRequest) -> tuple[int, A_crypto.PrivateKey]:
    alg: int = request.param
    return alg, A_crypto.generate(alg, SMALL_BITS.get(alg))


def test_private_round_trip(generated: tuple[int, A_crypto.PrivateKey]) -> None:
    alg, key = generated
    metadata = [("Created", "20240102030405"), ("Publish", "20240102030405")]
    text = B.format_private_text(alg, key, metadata)
    lines = text.splitlines()
    assert lines[0] == "Private-key-format: v1.3"
    assert lines[1] == f"Algorithm: {alg} ({A.mnemonic(alg)})"
    assert lines[-2:] == ["Created: 20240102030405", "Publish: 20240102030405"]
    names_written = [line.split(":")[0] for line in lines[2:-2]]
    if alg in (8, 10):
        assert names_written == [
            "Modulus",
            "PublicExponent",
            "PrivateExponent",
            "Prime1",
            "Prime2",
            "Exponent1",
            "Exponent2",
            "Coefficient",
        ]
    else:
        assert names_written == ["PrivateKey"]
    private = B.parse_private_text(text, "x")
    assert private.algorithm == alg
    assert list(private.metadata) == metadata
    assert A_crypto.public_key_field(alg, private.private_key) == A_crypto.public_key_field(
        alg, key
    )
    der = (
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    assert private.private_key.private_bytes(*der) == key.private_bytes(*der)


def test_ec_private_key_is_fixed_width() -> None:
    # A scalar with leading zero octets is still written as 32 octets, as BIND does.
    key = ec.derive_private_key(5, ec.SECP256R1())
    ((name, value),) = B.private_fields(13, key)
    assert name == "PrivateKey"
    assert base64.b64decode(value) == (5).to_bytes(32, "big")
    short = "Private-key-format: v1.2\nAlgorithm: 13\nPrivateKey: BQ==\n"  # the octet 0x05
    assert A_crypto.public_key_field(
        13, B.parse_private_text(short, "x").private_key
    ) == A_crypto.public_key_field(13, key)


def test_eddsa_private_key_as_pkcs8_is_accepted() -> None:
    # Some ldns releases stored the Ed25519 secret wrapped in PKCS#8 DER.
    key = ed25519.Ed25519PrivateKey.generate()
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    encoded = base64.b64encode(der).decode()
    text = f"Private-key-format: v1.2\nAlgorithm: 15 (ED25519)\nPrivateKey: {encoded}\n"
    private = B.parse_private_text(text, "x")
    assert A_crypto.public_key_field(15, private.private_key) == A_crypto.public_key_field(15, key)


def _rsa_text(drop: str | None = None, change: tuple[str, str] | None = None) -> str:
    key = A_crypto.generate(8, 1024)
    fields = B.private_fields(8, key)
    lines = ["Private-key-format: v1.3", "Algorithm: 8 (RSASHA256)"]
    for name, value in fields:
        if name == drop:
            continue
        if change and name == change[0]:
            value = change[1]
        lines.append(f"{name}: {value}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Algorithm: 15\nPrivateKey: AAAA\n", "no Private-key-format"),
        ("Private-key-format: v2.0\nAlgorithm: 15\n", "unsupported Private-key-format 'v2.0'"),
        ("Private-key-format: v1.2\nPrivateKey: AAAA\n", "no Algorithm"),
        ("Private-key-format: v1.2\nAlgorithm: 5 (RSASHA1)\n", "unsupported DNSSEC algorithm '5'"),
        ("Private-key-format: v1.2\nAlgorithm: 15 (ED25519)\n", "missing PrivateKey"),
        ("Private-key-format: v1.2\nAlgorithm: 15\nPrivateKey: ***\n", "not valid base64"),
        ("Private-key-format: v1.2\nAlgorithm: 15\nPrivateKey: AAAA\n", "invalid ED25519"),
        ("Private-key-format: v1.2\nAlgorithm: 13\nPrivateKey: " + "A" * 64 + "\n", "at most 32"),
        ("Private-key-format: v1.2\nAlgorithm: 13\nAlgorithm: 13\n", ":3: Algorithm given twice"),
        ("Private-key-format: v1.2\njunk\n", ":2: expected 'Name: value'"),
        (ED_PRIVATE + "Created: yesterday\n", "Created is not a YYYYMMDDHHMMSS time"),
        (
            "Private-key-format: v1.3\nAlgorithm: 13 (ECDSAP256SHA256)\n"
            "Engine: pkcs11\nLabel: pkcs11:token=a;object=b\n",
            "held by an engine or HSM",
        ),
    ],
)
def test_parse_private_errors_name_the_file(text: str, message: str) -> None:
    with pytest.raises(KeyStoreError) as info:
        B.parse_private_text(text, "/keys/Kx.private")
    assert str(info.value).startswith("/keys/Kx.private")
    assert message in str(info.value)


def test_rsa_private_errors() -> None:
    with pytest.raises(KeyStoreError, match=r"missing RSA field.*Coefficient"):
        B.parse_private_text(_rsa_text(drop="Coefficient"), "k.private")
    with pytest.raises(KeyStoreError, match="invalid RSASHA256 private key"):
        B.parse_private_text(_rsa_text(change=("Prime1", "AQ==")), "k.private")
    private = B.parse_private_text(_rsa_text(), "k.private")
    assert isinstance(private.private_key, rsa.RSAPrivateKey)


# --- names and times ------------------------------------------------------------------------


def test_file_stem() -> None:
    assert B.file_stem(names.from_text("Example.COM.", None), 13, 812) == "Kexample.com.+013+00812"
    assert B.file_stem(names.ROOT, 8, 65535) == "K.+008+65535"
    assert B.file_stem(b"\x03a/b\x00", 15, 1) == "Ka\\047b.+015+00001"
    assert B.parse_file_stem("Kexample.com.+013+00812.key") == ("example.com.", 13, 812)
    assert B.parse_file_stem("K.+008+65535.private") == (".", 8, 65535)
    assert B.parse_file_stem("Kexample.com.+13+812.key") is None
    assert B.parse_file_stem("example.com.key") is None


def test_timestamps() -> None:
    assert B.format_timestamp(0) == "19700101000000"
    assert B.parse_timestamp("20261128183724") == 1_795_891_044
    assert B.format_timestamp(B.parse_timestamp("20380119031408")) == "20380119031408"
    for bad in ("2026112818372", "2026-11-28T18", "20261328000000"):
        with pytest.raises(ValueError):
            B.parse_timestamp(bad)


# --- reading a pair --------------------------------------------------------------------------


def test_read_pair(tmp_path: Path) -> None:
    pair = B.read_pair(write_pair(tmp_path, BIND_KEY, ED_PRIVATE))
    assert pair.dnskey.key_tag == 3613
    assert pair.private_path == tmp_path / "Kexample.com.+015+03613.private"
    assert pair.private.algorithm == 15


def test_read_pair_without_private(tmp_path: Path) -> None:
    key_path = write_pair(tmp_path, BIND_KEY, None)
    with pytest.raises(KeyStoreError) as info:
        B.read_pair(key_path)
    assert str(key_path) in str(info.value)
    assert "no matching private key file Kexample.com.+015+03613.private" in str(info.value)


def test_read_pair_mismatch(tmp_path: Path) -> None:
    other = B.format_private_text(15, ed25519.Ed25519PrivateKey.generate())
    with pytest.raises(KeyStoreError, match="private key does not match the DNSKEY"):
        B.read_pair(write_pair(tmp_path, BIND_KEY, other))
    p256 = B.format_private_text(13, A_crypto.generate(13))
    with pytest.raises(KeyStoreError, match="algorithm 13 does not match"):
        B.read_pair(write_pair(tmp_path, BIND_KEY, p256))


def test_read_missing_key_file(tmp_path: Path) -> None:
    with pytest.raises(KeyStoreError, match="cannot read"):
        B.read_key(tmp_path / "Kexample.com.+015+00001.key")
