"""The daemon's review of an incremental step (:func:`signwire.verify.review.review_change`,
used for every incremental step whatever the zone's size): it passes a good step and catches a
bad signature or a missing one; glue stays unsigned. The daemon keeps only the calls."""

from __future__ import annotations

from signwire.keystore import crypto
from signwire.keystore.model import ZoneKey
from signwire.policy import algorithms
from signwire.policy.model import KeyRole
from signwire.runtime import daemon
from signwire.signing.incremental import incremental
from signwire.signing.keyset import SigningKeys
from signwire.signing.options import SigningOptions
from signwire.signing.versioned import sign_full
from signwire.verify.review import review_change, verify_version
from signwire.zones import names
from signwire.zones.diff import Diff, apply, diff
from signwire.zones.version import ZoneVersion

NOW = 1_800_000_000
ORIGIN = names.from_text("example.test.", None)
A, NS, SOA, RRSIG = 1, 2, 6, 46


def key(role: KeyRole) -> ZoneKey:
    private = crypto.generate(algorithms.ED25519)
    public = crypto.public_key_field(algorithms.ED25519, private)
    flags = 256 if role is KeyRole.ZSK else 257
    rdata = flags.to_bytes(2, "big") + bytes((3, algorithms.ED25519)) + public
    return ZoneKey(
        ORIGIN,
        algorithms.ED25519,
        flags,
        public,
        algorithms.key_tag(rdata),
        role,
        crypto.signer_spec(algorithms.ED25519, private),
        "test",
    )


def w(text: str) -> bytes:
    return names.from_text(text, ORIGIN)


def zone(serial: int, extra: list[tuple[bytes, int, int, bytes]]) -> ZoneVersion:
    soa = (
        w("ns1")
        + w("hostmaster")
        + serial.to_bytes(4, "big")
        + b"".join(n.to_bytes(4, "big") for n in (3600, 600, 86400, 300))
    )
    return ZoneVersion.from_records(
        ORIGIN,
        [
            (ORIGIN, SOA, 3600, soa),
            (ORIGIN, NS, 3600, w("ns1")),
            (w("ns1"), A, 3600, bytes((192, 0, 2, 1))),
            (w("sub"), NS, 3600, w("ns.sub")),
            (w("ns.sub"), A, 3600, bytes((192, 0, 2, 9))),
            *extra,
        ],
    )


def test_change_check_passes_good_steps_and_catches_bad_ones() -> None:
    ksk, zsk = key(KeyRole.KSK), key(KeyRole.ZSK)
    keys = SigningKeys((ksk, zsk), (ksk,), (zsk,))
    options = SigningOptions()
    first = sign_full(zone(1, []), keys, options, NOW)
    assert verify_version(first.version, NOW) is None
    new = zone(2, [(w("www"), A, 3600, bytes((192, 0, 2, 80)))])
    nxt, change = incremental(first, diff(first.unsigned, new), keys, options, NOW + 10)
    assert review_change(nxt.version, change, NOW + 10) is None

    # A signature over the new record that does not verify.
    bad_sig = next(
        r
        for r in change.added
        if r[1] == RRSIG and r[0] == w("www") and r[3][:2] == A.to_bytes(2, "big")
    )
    broken = bad_sig[3][:-1] + bytes((bad_sig[3][-1] ^ 1,))
    edited = Diff(
        nxt.version.soa, nxt.version.soa, (bad_sig[:4],), ((bad_sig[0], RRSIG, bad_sig[2], broken),)
    )
    tampered = apply(nxt.version, edited)
    problem = review_change(tampered, change, NOW + 10)
    assert problem is not None and "www.example.test. A" in problem

    # A new record with no signature at all.
    unsigned_rec = (w("www"), A, 3600, bytes((192, 0, 2, 81)))
    bare = Diff(nxt.version.soa, nxt.version.soa, (), (unsigned_rec,))
    no_sig = apply(nxt.version, bare)
    assert review_change(no_sig, bare, NOW + 10) is not None
    # Glue below a delegation is not signed, and that is right.
    glue = (w("ns.sub"), A, 3600, bytes((192, 0, 2, 10)))
    glue_diff = Diff(nxt.version.soa, nxt.version.soa, (), (glue,))
    assert review_change(apply(nxt.version, glue_diff), glue_diff, NOW + 10) is None


def test_the_daemon_keeps_only_the_calls() -> None:
    assert daemon.review_change is review_change
    assert daemon.verify_version is verify_version
    assert not hasattr(daemon, "FULL_VERIFY_MAX_RECORDS")
