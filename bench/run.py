"""Sign one zone with signwire, ldns-signzone, dnssec-signzone and kzonesign; compare them.

One run: one zone file, one KSK and one ZSK (ECDSA P-256, made once here by dnssec-keygen and
shared by every tool), one denial mode (NSEC, or NSEC3 with 0 iterations and no salt, RFC 9276,
optionally with opt-out, RFC 5155 section 6). For each tool it measures wall time, CPU time,
memory (see bench/measure.py) and the RRSIGs written, and sets the speed against the OpenSSL
ceiling: ``openssl speed ecdsap256`` signatures per second per core, times the cores.

    python bench/run.py --zone tld.zone --origin tld. [--nsec3 [--opt-out]]
        [--tools signwire,ldns,bind,knot] [--repeat 1] [--verify] [--keep]

The ``signwire`` row signs with ``--no-verify`` (what its figures always measured);
``signwire-verify`` is the default ``signwire sign``, which verifies its output before renaming
it into place, as ``bind`` is dnssec-signzone with its verification and ``bind-noverify``
without.

A tool that is missing or fails is reported as such; the others still run.
See bench/README.md for what each column means and the exact command lines.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from measure import Measurement, count_types, run_measured
from tools import PREPARE, Prepared, Setup, ToolMissing, make_keys, shell_line

DEFAULT_TOOLS = "signwire,ldns,bind,knot"


@dataclass
class ToolRun:
    """One attempt of one tool."""

    tool: str
    status: str  # ok | failed | missing
    message: str = ""
    argv: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    measurement: Measurement | None = None
    counts: dict[str, int] = field(default_factory=dict)
    verified: str = ""


def openssl_rate(seconds: int) -> float | None:
    """ECDSA P-256 signatures per second on one core, as ``openssl speed`` reports them."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    done = subprocess.run([openssl, "speed", "-seconds", str(seconds), "ecdsap256"],
                          capture_output=True, text=True, check=False)
    for line in done.stdout.splitlines():
        m = re.search(r"ecdsa \(nistp256\)\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)", line)
        if m:
            return float(m.group(1))
    return None


def _tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def verify_output(path: Path) -> str:
    """ldns-verify-zone's verdict on a signed zone (not timed)."""
    ldns_verify = shutil.which("ldns-verify-zone")
    if ldns_verify is None:
        return "no ldns-verify-zone"
    done = subprocess.run([ldns_verify, str(path)], capture_output=True, text=True, check=False)
    # ldns-verify-zone's exit code is not trusted alone; its verdict line is.
    if done.returncode == 0 and "Zone is verified and complete" in done.stdout:
        return "valid"
    detail = (done.stdout + done.stderr).strip().splitlines()
    return "INVALID: " + (detail[-1] if detail else f"exit {done.returncode}")


def run_tool(tool: str, setup: Setup, work: Path, extra: list[str], *,
             verify: bool, keep: bool) -> ToolRun:
    tooldir = work / tool
    tooldir.mkdir(parents=True, exist_ok=True)
    try:
        prepared: Prepared = PREPARE[tool](setup, tooldir, extra)
    except ToolMissing as exc:
        return ToolRun(tool, "missing", str(exc))
    except subprocess.CalledProcessError as exc:
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
        return ToolRun(tool, "failed", f"set-up failed: {shell_line(exc.cmd)}: {err.strip()}")
    result = ToolRun(tool, "failed", argv=prepared.argv, notes=prepared.notes)
    prepared.output.unlink(missing_ok=True)
    stdout, stderr = tooldir / "stdout.txt", tooldir / "stderr.txt"
    try:
        m = run_measured(prepared.argv, stdout=stdout, stderr=stderr, cwd=prepared.cwd)
    except OSError as exc:
        result.message = f"cannot start: {exc}"
        return result
    result.measurement = m
    if m.returncode != 0:
        result.message = f"exit {m.returncode}: {_tail(stderr) or _tail(stdout)}"
        return result
    if not prepared.output.exists():
        result.message = f"no output file {prepared.output}: {_tail(stderr) or _tail(stdout)}"
        return result
    counts: Counter[str] = count_types(prepared.output)
    result.counts = dict(counts)
    if counts["RRSIG"] == 0:
        result.message = "output holds no RRSIG"
        return result
    result.status = "ok"
    if verify:
        result.verified = verify_output(prepared.output)
    if not keep:
        prepared.output.unlink()
    return result


def _median_run(runs: list[ToolRun]) -> ToolRun:
    ok = [r for r in runs if r.status == "ok" and r.measurement is not None]
    if not ok:
        return runs[-1]
    ok.sort(key=lambda r: r.measurement.wall_s if r.measurement else 0.0)
    return ok[(len(ok) - 1) // 2]


def _mib(kib: int) -> str:
    return f"{kib / 1024:.0f}"


def render(results: dict[str, list[ToolRun]], *, rate: float | None, cores: int,
           verify: bool) -> str:
    rows = {tool: _median_run(runs) for tool, runs in results.items()}
    base = rows.get("signwire")
    base_m = base.measurement if base is not None and base.status == "ok" else None
    head = ["tool", "status", "wall s", "CPU s", "CPU/wall", "tree RSS MiB", "tree PSS MiB",
            "max proc RSS MiB", "procs", "RRSIGs", "NSEC(3)", "RRSIG/s", "% OpenSSL limit",
            "RRSIG/CPU-s", "% 1-core rate", "time ×sw", "mem ×sw"]
    if verify:
        head.append("ldns-verify-zone")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for tool, r in rows.items():
        m = r.measurement
        if r.status != "ok" or m is None:
            cells = [tool, r.status.upper()] + ["–"] * (len(head) - 2)
            lines.append("| " + " | ".join(cells) + " |")
            continue
        rrsigs = r.counts.get("RRSIG", 0)
        denial = r.counts.get("NSEC", 0) + r.counts.get("NSEC3", 0)
        per_s = rrsigs / m.wall_s if m.wall_s else 0.0
        per_cpu = rrsigs / m.cpu_s if m.cpu_s else 0.0
        share = f"{100 * per_s / (cores * rate):.1f}" if rate else "–"
        cpu_share = f"{100 * per_cpu / rate:.1f}" if rate else "–"
        walls = [x.measurement.wall_s for x in results[tool]
                 if x.status == "ok" and x.measurement is not None]
        wall = f"{m.wall_s:.2f}" + (f" (min {min(walls):.2f})" if len(walls) > 1 else "")
        t_ratio = f"{m.wall_s / base_m.wall_s:.2f}" if base_m else "–"
        m_ratio = f"{m.memory_kib / base_m.memory_kib:.2f}" if base_m else "–"
        n_ok = sum(1 for x in results[tool] if x.status == "ok")
        status = "ok" if n_ok == len(results[tool]) else f"ok {n_ok}/{len(results[tool])}"
        cells = [tool, status, wall, f"{m.cpu_s:.2f}", f"{m.cpu_s / m.wall_s:.2f}",
                 _mib(m.memory_kib), _mib(m.tree_pss_peak_kib), _mib(m.child_maxrss_kib),
                 str(m.max_processes), str(rrsigs), str(denial), f"{per_s:,.0f}", share,
                 f"{per_cpu:,.0f}", cpu_share, t_ratio, m_ratio]
        if verify:
            cells.append(r.verified)
        lines.append("| " + " | ".join(cells) + " |")
    out = ["\n".join(lines), ""]
    if rate:
        out.append(f"OpenSSL limit: {rate:,.0f} ECDSA P-256 signatures/s per core "
                   f"(openssl speed) × {cores} cores = {rate * cores:,.0f}/s.")
    out.append("\n### Command lines\n")
    for tool, r in rows.items():
        if r.argv:
            out.append(f"- **{tool}**: `{shell_line(r.argv)}`")
            out.extend(f"  - {note}" for note in r.notes)
    problems = [(tool, x) for tool, runs in results.items() for x in runs if x.status != "ok"]
    if problems:
        out.append("\n### Failures\n")
        for tool, x in problems:
            out.append(f"- **{tool}** ({x.status}): " + x.message.replace("\n", "\n    "))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Compare DNSSEC signers on one zone.")
    p.add_argument("--zone", required=True, type=Path, help="unsigned zone file")
    p.add_argument("--origin", required=True, help="zone origin, e.g. tld.")
    p.add_argument("--nsec3", action="store_true", help="NSEC3, 0 iterations, no salt")
    p.add_argument("--opt-out", action="store_true", help="NSEC3 opt-out (implies --nsec3)")
    p.add_argument("--tools", default=DEFAULT_TOOLS,
                   help=f"comma-separated, from {','.join(PREPARE)} (default {DEFAULT_TOOLS})")
    p.add_argument("--repeat", type=int, default=1, help="runs per tool; the median is shown")
    p.add_argument("--threads", type=int, default=2, help="worker threads for bind and knot")
    p.add_argument("--cores", type=int, default=2, help="cores for the OpenSSL limit")
    p.add_argument("--openssl-seconds", type=int, default=3)
    p.add_argument("--openssl-rate", type=float, help="skip openssl speed; use this sign/s")
    p.add_argument("--tool-args", action="append", default=[], metavar="TOOL=ARGS",
                   help="extra arguments for one tool, e.g. signwire='--jobs 2'")
    p.add_argument("--workdir", type=Path, help="scratch folder (default: a new one in /tmp)")
    p.add_argument("--keep", action="store_true", help="keep signed outputs and the scratch")
    p.add_argument("--verify", action="store_true", help="ldns-verify-zone each output")
    p.add_argument("--json", type=Path, help="also write the raw results here")
    args = p.parse_args(argv)

    origin = args.origin if args.origin.endswith(".") else args.origin + "."
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = [t for t in tools if t not in PREPARE]
    if unknown:
        p.error(f"unknown tool(s) {', '.join(unknown)}; known: {', '.join(PREPARE)}")
    extra: dict[str, list[str]] = {t: [] for t in tools}
    for item in args.tool_args:
        name, _, rest = item.partition("=")
        if name not in extra:
            p.error(f"--tool-args for a tool not in --tools: {name}")
        extra[name] += rest.split()
    zone = args.zone.resolve()
    if not zone.is_file():
        p.error(f"no zone file {zone}")

    work = args.workdir or Path(tempfile.mkdtemp(prefix="signwire-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    log = sys.stderr
    try:
        # Reading the zone once also puts it in the page cache, so the first tool is not
        # charged for the disk.
        records_in = sum(count_types(zone).values())
        try:
            ksk, zsk = make_keys(work / "keys", origin)
        except (ToolMissing, subprocess.CalledProcessError) as exc:
            print(f"cannot make the keys: {exc}", file=log)
            return 2
        setup = Setup(zone=zone, origin=origin, keydir=work / "keys", ksk=ksk, zsk=zsk,
                      nsec3=args.nsec3 or args.opt_out, opt_out=args.opt_out,
                      threads=args.threads, now=int(time.time()))
        rate = args.openssl_rate
        if rate is None:
            print(f"openssl speed ecdsap256 ({2 * args.openssl_seconds} s)...", file=log)
            rate = openssl_rate(args.openssl_seconds)
        load = os.getloadavg()[0]
        results: dict[str, list[ToolRun]] = {t: [] for t in tools}
        for i in range(args.repeat):
            for tool in tools:
                print(f"[{i + 1}/{args.repeat}] {tool} ...", end=" ", flush=True, file=log)
                r = run_tool(tool, setup, work, extra[tool], verify=args.verify, keep=args.keep)
                results[tool].append(r)
                m = r.measurement
                print(f"{r.status} {m.wall_s:.2f} s" if m else r.status, file=log)
        denial = "NSEC3 opt-out" if args.opt_out else "NSEC3" if setup.nsec3 else "NSEC"
        print(f"## {origin} — {zone.name}, {records_in:,} records in, {denial}, "
              f"{args.repeat} run(s), median shown\n")
        print(f"Keys: {ksk} (KSK), {zsk} (ZSK), ECDSAP256SHA256. Machine: "
              f"{os.cpu_count()} CPUs, load average {load:.2f} at start. Scratch: {work}\n")
        print(render(results, rate=rate, cores=args.cores, verify=args.verify))
        if args.json:
            args.json.write_text(json.dumps(
                {"zone": str(zone), "origin": origin, "denial": denial, "records_in": records_in,
                 "openssl_sign_per_s": rate, "cores": args.cores, "load_at_start": load,
                 "runs": {t: [asdict(r) for r in rs] for t, rs in results.items()}},
                indent=2))
        failed = all(r.status != "ok" for rs in results.values() for r in rs)
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
