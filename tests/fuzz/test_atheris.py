"""The atheris targets of ``atheris_targets.py``, each run for a bounded number of inputs.

Each target runs in its own process (libFuzzer owns the process and exits on the first crash)
with a fixed ``-seed``, from the seeds the targets build (real queries, NOTIFYs, transfer
streams and control requests). A run passes when libFuzzer exits 0; otherwise the test fails
with the traceback and the hex of every crashing input, ready to be pasted into a regression
test. The default budget keeps all targets together under about a minute on two cores.

Fuzzing longer, by hand:

    SIGNWIRE_FUZZ_RUNS=500000 .venv/bin/python -m pytest tests/fuzz/test_atheris.py
    SIGNWIRE_FUZZ_SECONDS=300 .venv/bin/python -m pytest tests/fuzz/test_atheris.py -k xfr

``SIGNWIRE_FUZZ_RUNS`` sets the runs per target, ``SIGNWIRE_FUZZ_SECONDS`` a time limit per
target instead (libFuzzer's ``-max_total_time``), ``SIGNWIRE_FUZZ_SEED`` another seed. Or run
a target directly, with any libFuzzer option and a corpus folder that grows as it goes:

    .venv/bin/python tests/fuzz/atheris_targets.py responder -max_total_time=300 corpus/

The regression tests below keep the inputs the fuzzer found crashing, as bytes.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "atheris_targets.py"

# Runs per target in CI: all four together take about 30 s of CPU (a third of it start-up and
# instrumentation), under a minute of wall time on two busy cores.
RUNS = {"responder": 2500, "notify_in": 4000, "xfr_in": 4000, "control": 3000}
MAX_LEN = {"responder": 1024, "notify_in": 1024, "xfr_in": 4096, "control": 4096}

MISSING = (
    None
    if importlib.util.find_spec("atheris")
    else ("atheris is not installed (it is in the dev extra: scripts/setup-tests.sh)")
)


def run_target(
    target: str, tmp_path: Path, *args: str, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    # TMPDIR: the folders a target makes (seeds, the control target's daemon state) go with
    # the test's own; libFuzzer exits without running atexit handlers that could remove them.
    env = dict(os.environ, PYTHONHASHSEED="0", TMPDIR=str(tmp_path))
    return subprocess.run(
        [sys.executable, str(SCRIPT), target, f"-artifact_prefix={tmp_path}/", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def report(result: subprocess.CompletedProcess[str], tmp_path: Path) -> str:
    crashes = sorted(
        p for p in tmp_path.iterdir() if p.name.startswith(("crash-", "timeout-", "oom-", "leak-"))
    )
    inputs = "\n".join(f"{p.name}: {p.read_bytes().hex()}" for p in crashes) or "(none written)"
    tail = "\n".join(result.stderr.splitlines()[-60:])
    return f"exit code {result.returncode}\n{tail}\ncrashing inputs (hex):\n{inputs}"


@pytest.mark.requires(MISSING)
@pytest.mark.parametrize("target", sorted(RUNS))
def test_fuzz_target(target: str, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    seconds = os.environ.get("SIGNWIRE_FUZZ_SECONDS")
    budget = (
        [f"-max_total_time={int(seconds)}"]
        if seconds
        else [f"-runs={int(os.environ.get('SIGNWIRE_FUZZ_RUNS', RUNS[target]))}"]
    )
    result = run_target(
        target,
        tmp_path,
        *budget,
        f"-seed={int(os.environ.get('SIGNWIRE_FUZZ_SEED', 1))}",
        f"-max_len={MAX_LEN[target]}",
        "-print_final_stats=1",
        str(corpus),
        timeout=float(seconds) * 2 + 120 if seconds else 600,
    )
    crashed = "Uncaught Python exception" in result.stderr or any(
        p.name.startswith("crash-") for p in tmp_path.iterdir()
    )
    assert result.returncode == 0 and not crashed, report(result, tmp_path)
    assert "Done " in result.stderr, report(result, tmp_path)


# --- regression tests: inputs that broke a handler's contract ---------------------------------

ORIGIN = b"\x07example\x04test\x00"


def pointer_chain_answer(links: int) -> bytes:
    """An AXFR answer to message ID 4711 whose second record's owner is the end of a chain of
    ``links`` compression pointers, each to the one before it, the first to a root label; the
    chain sits in the first record's RDATA (an unknown type, so it is not read as names).
    1200 links: about 2.4 KB; the transfer client used to follow it by recursion."""
    header = b"\x12\x67\x84\x00\x00\x01\x00\x02\x00\x00\x00\x00"  # ID 4711, QR AA, 1 Q, 2 AN
    question = ORIGIN + b"\x00\xfc\x00\x01"  # example.test. AXFR IN
    rdata_at = len(header) + len(question) + 2 + 10
    chain = b"\x00" + b"".join(
        (0xC000 | (rdata_at if i == 0 else rdata_at + 2 * i - 1)).to_bytes(2, "big")
        for i in range(links)
    )
    first = b"\xc0\x0c" + b"\xff\x00\x00\x01\x00\x00\x00\x00" + len(chain).to_bytes(2, "big")
    last = (0xC000 | (rdata_at + 2 * links - 1)).to_bytes(2, "big")
    second = last + b"\xff\x00\x00\x01\x00\x00\x00\x00\x00\x00"
    return header + question + first + chain + second


def test_transfer_client_refuses_a_deep_chain_of_compression_pointers() -> None:
    from signwire.loading.xfr_in import TransferError, XfrClient, make_query

    query = make_query(ORIGIN, serial=None, msg_id=4711, now=0)
    client = XfrClient(ORIGIN, query, peer="192.0.2.1")
    # Raised RecursionError, which no caller expects from a transfer (the daemon logged a
    # traceback as for a bug).
    with pytest.raises(TransferError, match="compression pointers chained too deep"):
        client.feed(pointer_chain_answer(1200), 0)
    # A short chain is read (and its root owner is refused as outside the zone).
    client = XfrClient(ORIGIN, query, peer="192.0.2.1")
    with pytest.raises(TransferError, match="outside the zone"):
        client.feed(pointer_chain_answer(5), 0)


def control_exchange(data: bytes) -> tuple[list[dict[str, object]], list[str]]:
    """The control server's answers to ``data`` (request lines), with an echoing handler,
    and what it logged with a traceback."""
    import asyncio
    import json
    import logging

    from signwire.control.protocol import MAX_LINE
    from signwire.runtime.control_server import ControlServer

    out = bytearray()

    class Writer:
        def write(self, chunk: bytes) -> None:
            out.extend(chunk)

        async def drain(self) -> None:
            return None

        def close(self) -> None:
            return None

    failed: list[str] = []

    class Failures(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.exc_info:
                failed.append(record.getMessage())

    server = ControlServer(
        Path("/nonexistent/control.sock"), lambda request: {"ok": True, "echo": request}
    )

    async def talk() -> None:
        reader = asyncio.StreamReader(limit=MAX_LINE)
        reader.feed_data(data)
        reader.feed_eof()
        await server._client(reader, Writer())  # type: ignore[arg-type]

    handler = Failures()
    log = logging.getLogger("signwire")
    log.addHandler(handler)
    try:
        asyncio.run(talk())
    finally:
        log.removeHandler(handler)
    return [json.loads(line) for line in bytes(out).splitlines()], failed


def test_control_request_nested_too_deep_is_a_bad_request() -> None:
    # json.loads raised RecursionError: answered "failed: maximum recursion depth exceeded"
    # and logged with a traceback as a handler bug, instead of a bad request.
    answers, failed = control_exchange(b"[" * 5000 + b"\n" + b'{"command": "status"}\n')
    assert answers == [
        {"ok": False, "error": "bad request: nested too deeply"},
        {"ok": True, "echo": {"command": "status"}},
    ]
    assert failed == []
