"""Verifiers side by side: ``signwire verify``, Knot's ``kzonecheck`` and ``ldns-verify-zone``.

One command signs an unsigned zone once with ``signwire sign`` (the keys are one KSK and one
ZSK, ECDSAP256SHA256, made by ``dnssec-keygen``; signatures valid 30 days), then times each
verifier on that same signed file, ``--repeat`` times in turn (so a busy machine slows them
alike), and prints wall time, CPU time and peak memory with the median run of each, and the
ratio of each tool's wall time to signwire's. ``--signed FILE`` skips the signing and checks an
existing file. Every verifier must accept the zone, or the run fails.

    bench/verify.py --zone tld100k.zone --origin tld. [--nsec3 [--opt-out]] --repeat 3

``--baseline SRC`` also times ``signwire verify`` from another source tree (``git archive`` of
an older commit, its ``src``), in the same rounds, so a change is measured before and after
side by side; ``--signer ZONE KEYDIR`` also times ``signwire sign`` of the unsigned zone with
those keys (NSEC3 opt-out with ``--opt-out``), the reference for the verifier's memory.

The verifiers run with what they check by default: ``kzonecheck -d on`` (DNSSEC checks on; it
checks signatures on more than one thread), ``ldns-verify-zone`` with no options (one thread),
``signwire verify`` on every CPU.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from measure import Measurement, run_measured
from tools import Setup, ToolMissing, make_keys, prep_signwire, shell_line, signwire_command

VALIDITY = "30d"


@dataclass
class Verifier:
    name: str
    argv: list[str]
    runs: list[Measurement] = field(default_factory=list)
    failure: str = ""

    def median(self) -> Measurement | None:
        if not self.runs:
            return None
        ordered = sorted(self.runs, key=lambda m: m.wall_s)
        return ordered[(len(ordered) - 1) // 2]


def verifiers(
    signed: Path, origin: str, wanted: list[str], baseline: Path | None = None
) -> list[Verifier]:
    commands = {
        "signwire": [*signwire_command(), "verify", str(signed), "--origin", origin, "--quiet"],
        "kzonecheck": ["kzonecheck", "-o", origin, "-d", "on", str(signed)],
        "ldns-verify-zone": ["ldns-verify-zone", str(signed)],
    }
    out = []
    for name in wanted:
        argv = commands[name]
        if name != "signwire" and shutil.which(argv[0]) is None:
            raise ToolMissing(f"{argv[0]} not found on PATH")
        out.append(Verifier(name, argv))
    if baseline is not None:
        # Another source tree of signwire (e.g. `git archive` of an older commit), run by this
        # Python with that tree first on its path: before and after, side by side.
        argv = [
            "env",
            f"PYTHONPATH={baseline}",
            sys.executable,
            "-m",
            "signwire",
            "verify",
            str(signed),
            "--origin",
            origin,
            "--quiet",
        ]
        out.insert(1, Verifier("signwire (baseline)", argv))
    return out


def signer_runs(
    zone: Path, origin: str, keydir: Path, signed: Path, opt_out: bool, work: Path
) -> Verifier:
    """``signwire sign`` of the unsigned zone, the same way it was signed, as a reference for
    time and memory (the verifier is to take at most the signer's memory)."""
    argv = [
        *signwire_command(),
        "sign",
        str(zone),
        "--origin",
        origin,
        "--keys",
        str(keydir),
        "-o",
        str(work / "resigned.signed"),
        "--validity",
        VALIDITY,
    ]
    if opt_out:
        argv += ["--nsec3", "--opt-out"]
    elif signed.read_text(errors="replace").find(" NSEC3PARAM ") >= 0:
        argv += ["--nsec3"]
    return Verifier("signwire sign (reference)", argv)


def sign(zone: Path, origin: str, work: Path, nsec3: bool, opt_out: bool) -> tuple[Path, float]:
    ksk, zsk = make_keys(work / "keys", origin)
    setup = Setup(
        zone=zone,
        origin=origin,
        keydir=work / "keys",
        ksk=ksk,
        zsk=zsk,
        nsec3=nsec3,
        opt_out=opt_out,
        threads=2,
        now=int(time.time()),
    )
    prepared = prep_signwire(setup, work, ["--validity", VALIDITY])
    print(f"signing: {shell_line(prepared.argv)}", file=sys.stderr)
    started = time.perf_counter()
    subprocess.run(prepared.argv, check=True, capture_output=True)
    return prepared.output, time.perf_counter() - started


def render(tools: list[Verifier], signed: Path, repeat: int) -> str:
    base = tools[0].median()
    lines = [
        f"Signed zone: {signed} ({signed.stat().st_size / 2**20:.0f} MiB); {repeat} run(s) of "
        f"each verifier, in turn; median by wall time.",
        "",
        "| verifier | wall s (median) | wall s (all runs) | CPU s | peak RSS MiB "
        "| tree PSS MiB | wall ×signwire |",
        "|---|---|---|---|---|---|---|",
    ]
    for tool in tools:
        m = tool.median()
        if m is None:
            lines.append(f"| {tool.name} | failed: {tool.failure} | | | | | |")
            continue
        ratio = m.wall_s / base.wall_s if base else float("nan")
        runs = ", ".join(f"{r.wall_s:.1f}" for r in tool.runs)
        lines.append(
            f"| {tool.name} | {m.wall_s:.1f} | {runs} | {m.cpu_s:.1f} | "
            f"{m.memory_kib / 1024:.0f} | {m.tree_pss_peak_kib / 1024:.0f} | {ratio:.2f} |"
        )
    lines.append("")
    lines.extend(f"- {t.name}: `{shell_line(t.argv)}`" for t in tools)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Compare DNSSEC zone verifiers on one signed zone.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--zone", type=Path, help="unsigned zone file, signed here by signwire")
    src.add_argument("--signed", type=Path, help="an already signed zone file")
    p.add_argument("--origin", required=True, help="zone origin, e.g. tld.")
    p.add_argument("--nsec3", action="store_true", help="sign with NSEC3, 0 iterations, no salt")
    p.add_argument("--opt-out", action="store_true", help="NSEC3 opt-out (implies --nsec3)")
    p.add_argument(
        "--tools",
        default="signwire,kzonecheck,ldns-verify-zone",
        help="comma-separated, signwire first (default: all three)",
    )
    p.add_argument("--repeat", type=int, default=3, help="runs per verifier (default 3)")
    p.add_argument("--workdir", type=Path, help="scratch folder (default: a new one in /tmp)")
    p.add_argument(
        "--baseline",
        type=Path,
        metavar="SRC",
        help="also time `signwire verify` from this source tree (its src/ folder)",
    )
    p.add_argument(
        "--signer",
        nargs=2,
        type=Path,
        metavar=("ZONE", "KEYDIR"),
        help="also time `signwire sign ZONE --keys KEYDIR` (NSEC3 and opt-out as "
        "--opt-out and the signed file say), for its memory",
    )
    args = p.parse_args(argv)

    origin = args.origin if args.origin.endswith(".") else args.origin + "."
    wanted = [t.strip() for t in args.tools.split(",") if t.strip()]
    if not wanted or wanted[0] != "signwire":
        p.error("--tools must start with signwire (the ratios are to it)")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="signwire-verify-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        if args.signed is not None:
            signed = args.signed.resolve()
        else:
            signed, took = sign(
                args.zone.resolve(), origin, work, args.nsec3 or args.opt_out, args.opt_out
            )
            print(f"signed in {took:.1f} s", file=sys.stderr)
        try:
            tools = verifiers(
                signed, origin, wanted, args.baseline.resolve() if args.baseline else None
            )
        except ToolMissing as exc:
            print(exc, file=sys.stderr)
            return 2
        if args.signer is not None:
            tools.append(
                signer_runs(
                    args.signer[0].resolve(),
                    origin,
                    args.signer[1].resolve(),
                    signed,
                    args.opt_out,
                    work,
                )
            )
        load = os.getloadavg()[0]
        for i in range(args.repeat):
            for tool in tools:
                print(
                    f"[{i + 1}/{args.repeat}] {tool.name} ...", end=" ", flush=True, file=sys.stderr
                )
                slug = tool.name.split()[0] + str(tools.index(tool))
                m = run_measured(
                    tool.argv, stdout=work / f"{slug}.out", stderr=work / f"{slug}.err"
                )
                if m.returncode != 0:
                    out = (work / f"{slug}.out").read_text(errors="replace")[-2000:]
                    err = (work / f"{slug}.err").read_text(errors="replace")[-2000:]
                    tool.failure = f"exit {m.returncode}: {out}{err}".strip()
                    print(f"FAILED {tool.failure}", file=sys.stderr)
                    continue
                tool.runs.append(m)
                print(f"{m.wall_s:.2f} s", file=sys.stderr)
        print(f"Machine: {os.cpu_count()} CPUs, load average {load:.2f} at the start.\n")
        print(render(tools, signed, args.repeat))
        walls = {t.name: statistics.median(r.wall_s for r in t.runs) for t in tools if t.runs}
        if "signwire" in walls and "kzonecheck" in walls:
            ratio = walls["kzonecheck"] / walls["signwire"]
            print(f"\nkzonecheck / signwire wall time: {ratio:.2f}")
        return 1 if any(t.failure for t in tools) else 0
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
