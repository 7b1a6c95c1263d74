"""The worker pool: segments come back in canonical order, and a failing worker stops the run."""

from __future__ import annotations

import io

import pytest

from signwire.errors import SigningError
from signwire.keystore import crypto
from signwire.keystore.model import ZoneKey
from signwire.loading.zonefile import read_zonefile
from signwire.policy import algorithms
from signwire.policy.model import KeyRole
from signwire.runtime import signing_pool
from signwire.signing import full
from signwire.signing.keyset import SigningKeys
from signwire.signing.options import SigningOptions
from signwire.zones import names
from signwire.zones.snapshot import build

ORIGIN = names.from_text("pool.test.", None)


def _key(role: KeyRole) -> ZoneKey:
    private = crypto.generate(algorithms.ED25519)
    public = crypto.public_key_field(algorithms.ED25519, private)
    flags = 256 if role is KeyRole.ZSK else 257
    rdata = flags.to_bytes(2, "big") + bytes((3, algorithms.ED25519)) + public
    return ZoneKey(
        ORIGIN,
        15,
        flags,
        public,
        algorithms.key_tag(rdata),
        role,
        crypto.signer_spec(15, private),
        "test",
    )


@pytest.fixture
def plan(tmp_path):
    lines = ["$ORIGIN pool.test.", "$TTL 300", "@ SOA ns h 1 2 3 4 5", "@ NS ns", "ns A 192.0.2.1"]
    lines += [f'n{i:05d} TXT "{i}"' for i in range(9000)]  # above the in-process limit
    (tmp_path / "z").write_text("\n".join(lines) + "\n")
    snapshot = build(read_zonefile(str(tmp_path / "z"), ORIGIN))
    keys = SigningKeys.by_role([_key(KeyRole.KSK), _key(KeyRole.ZSK)])
    return full.plan(snapshot, keys, SigningOptions(), 1_790_000_000)


def test_workers_write_the_same_text_as_one_process(plan, tmp_path):
    one, many = io.StringIO(), io.StringIO()
    seen: list[tuple[int, int]] = []
    made_one = signing_pool.write_plan(plan, one, processes=1)
    made_many = signing_pool.write_plan(
        plan, many, processes=2, progress=lambda d, t: seen.append((d, t)), scratch=str(tmp_path)
    )

    def unsigned(text: str) -> list[str]:  # signatures differ: ECDSA/EdDSA aside, order must not
        return [line for line in text.splitlines() if "\tRRSIG\t" not in line]

    assert made_one == made_many == 2 * 9002 + 2  # every RRset + its NSEC, DNSKEY by the KSK
    assert unsigned(one.getvalue()) == unsigned(many.getvalue())
    assert seen[-1] == (len(plan.units), len(plan.units))
    assert [p.name for p in tmp_path.iterdir()] == ["z"]  # segment files are gone


def test_a_failing_worker_fails_the_run(plan, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom in the worker")

    monkeypatch.setattr(signing_pool, "render", broken)
    with pytest.raises(SigningError, match="boom in the worker"):
        signing_pool.write_plan(plan, io.StringIO(), processes=2)
