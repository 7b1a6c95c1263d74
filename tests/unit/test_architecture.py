"""Rules the folder layout promises, checked on the source.

* The verifier shares nothing with the signer's fast path, so a bug cannot hide in both.
* Pure stages never read the clock or touch sockets, processes or asyncio: time is injected.
* The folders import one way: no two folders import each other, directly or round a loop.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "signwire"

PURE = ["zones", "signing", "policy", "keys", "parent/agents.py", "loading/refresh.py",
        "loading/xfr_in.py",
        "loading/notify_in.py", "publication/responder.py", "publication/journal.py",
        "publication/notify_out.py", "pipeline", "config"]
IO_MODULES = {"asyncio", "socket", "subprocess", "multiprocessing", "threading", "selectors"}
CLOCK_CALLS = {("time", "time"), ("time", "monotonic"), ("datetime", "now"),
               ("datetime", "utcnow"), ("date", "today"), ("time", "localtime")}
ADDRESS_HELPERS = {"inet_pton", "inet_ntop", "inet_aton", "inet_ntoa", "AF_INET", "AF_INET6"}
VERIFY_MAY_NOT_IMPORT = ("signwire.signing", "signwire.zones.rdata", "signwire.loading",
                         "signwire.keys", "signwire.keystore", "signwire.parent",
                         "signwire.pipeline")


def _files(*parts: str) -> list[Path]:
    out: list[Path] = []
    for part in parts:
        p = SRC / part
        if p.is_dir():
            out.extend(sorted(p.rglob("*.py")))
        elif p.exists():
            out.append(p)
    return out


def _socket_uses(tree: ast.AST) -> set[str]:
    return {
        n.attr for n in ast.walk(tree)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "socket"
    }


def _imports(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


@pytest.mark.parametrize("path", _files("verify"), ids=lambda p: p.name)
def test_verifier_is_independent_of_the_signer(path):
    imported = _imports(ast.parse(path.read_text()))
    bad = sorted(i for i in imported if i.startswith(VERIFY_MAY_NOT_IMPORT))
    assert not bad, f"{path.name} imports {bad}"


@pytest.mark.parametrize("path", _files(*PURE), ids=lambda p: str(p.relative_to(SRC)))
def test_pure_code_has_no_io_and_no_clock(path):
    tree = ast.parse(path.read_text())
    io = sorted(i for i in _imports(tree) if i.split(".")[0] in IO_MODULES)
    if io == ["socket"] and _socket_uses(tree) <= ADDRESS_HELPERS:
        io = []  # address conversion only: no socket is ever opened
    assert not io, f"{path.name} imports {io}"
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and (node.func.value.id, node.func.attr) in CLOCK_CALLS
        ):
            pytest.fail(f"{path.name}:{node.lineno} reads the clock; take `now` as an argument")


def _folder(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "signwire" or len(parts) < 2:
        return None
    return parts[1] if (SRC / parts[1]).is_dir() else None


def test_folders_import_one_way():
    """An import loop between folders means neither can be understood (or tested) alone."""
    arrows: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).parts
        if len(rel) < 2:
            continue
        here = rel[0]
        for module in _imports(ast.parse(path.read_text())):
            there = _folder(module)
            if there and there != here:
                arrows.setdefault(here, set()).add(there)

    def reaches(start: str, goal: str) -> list[str] | None:
        stack, seen = [(start, [start])], {start}
        while stack:
            node, trail = stack.pop()
            for nxt in sorted(arrows.get(node, ())):
                if nxt == goal:
                    return [*trail, nxt]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*trail, nxt]))
        return None

    loops = [loop for a in sorted(arrows) if (loop := reaches(a, a))]
    assert not loops, "folders import each other: " + "; ".join(" -> ".join(loop) for loop in loops)
