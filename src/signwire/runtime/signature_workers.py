"""Long-lived worker processes that make signatures for the daemon.

A first signing (or a new ZSK) of a big zone is mostly signatures: about 40 µs each with P-256,
against 10–15 µs of the rest of the work per RRset. The daemon prepares the data to sign in
its own process and hands batches to these workers
(:func:`signwire.signing.versioned.sign_units_elsewhere`), so every core signs while the
daemon prepares the next batch.

The workers start once, from a clean forkserver (the daemon has threads by then, and a forked
copy of a threaded process may inherit a lock held by another thread), and keep each key's
signing function loaded for their whole life: a PKCS#11 key opens its token session once per
worker, not once per zone change. Small steps (a changed record, a due refresh) sign in the
daemon's own thread, where a round trip to a worker would cost more than the signature.
"""

from __future__ import annotations

import concurrent.futures
import functools
import multiprocessing
import os
from collections.abc import Callable, Sequence

from signwire.keystore.crypto import Signer
from signwire.keystore.model import SignerSpec
from signwire.keystore.signers import load_signer


@functools.lru_cache(maxsize=64)
def _signer(spec: SignerSpec) -> Signer:
    # One per key and worker process, loaded at its first batch and kept (SignerSpec is a
    # frozen value, so it keys the cache; old keys drop out as rollovers bring new ones).
    return load_signer(spec)


def _sign_batch(work: list[tuple[SignerSpec, bytes]]) -> list[bytes]:
    return [_signer(spec)(data) for spec, data in work]


class SignatureWorkers:
    """A pool of worker processes; ``submit`` is :class:`SignatureService`'s."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._pool = concurrent.futures.ProcessPoolExecutor(
            processes, mp_context=multiprocessing.get_context("forkserver")
        )

    @staticmethod
    def wanted() -> int:
        """One worker per CPU this process may use; none on a single CPU (no gain)."""
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
        return cpus if cpus > 1 else 0

    def submit(self, work: list[tuple[SignerSpec, bytes]]) -> Callable[[], Sequence[bytes]]:
        return self._pool.submit(_sign_batch, work).result

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
