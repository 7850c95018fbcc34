"""micro: the Google Benchmark binary of bench/micro/ (build/release/bench/flashgate_micro)."""

import json
import os
import subprocess

from ..processes import ScenarioError, log


def micro(run):
    binary = run.bench_build / "flashgate_micro"
    if not binary.exists():
        raise ScenarioError(f"{binary} is missing (scripts/bench.sh builds it)")
    log(f"  micro: Google Benchmark, min time {run.micro_min_time} s each")
    out_file = run.tmp / "micro.json"
    out = subprocess.run(
        [str(binary), f"--benchmark_min_time={run.micro_min_time}", "--benchmark_format=console",
         f"--benchmark_out={out_file}", "--benchmark_out_format=json"],
        capture_output=True, text=True, timeout=600, env=dict(os.environ, TMPDIR=str(run.tmp)),
    )
    if out.returncode != 0:
        raise ScenarioError(f"flashgate_micro failed: {out.stdout[-500:]} {out.stderr[-500:]}")
    data = json.loads(out_file.read_text())
    rows = []
    for b in data["benchmarks"]:
        if b.get("error_occurred"):
            raise ScenarioError(f"{b['name']}: {b.get('error_message')}")
        rows.append({
            "name": b["name"], "real_time": b["real_time"], "cpu_time": b["cpu_time"], "unit": b["time_unit"],
            "items_per_second": b.get("items_per_second"), "iterations": b["iterations"],
        })
    run.results["micro"] = {"benchmarks": rows, "library_build": data["context"].get("library_build_type")}


def report_lines(mi):
    lines = [
        "## Micro-benchmarks (Google Benchmark)",
        "",
        "`build/release/bench/flashgate_micro` (bench/micro/). The intake rows run MemoryStore over a real "
        "SqliteDatabase in a temporary directory: `IntakeSoldOut` and `IntakeRepeatedUser` are the in-memory "
        "part alone; `IntakeDurable/N` is the full path with N intakes in flight (N share a group commit).",
        "",
        "| benchmark | time | CPU | items/s |",
        "|---|---:|---:|---:|",
    ]
    for b in mi["benchmarks"]:
        ips = f"{b['items_per_second']:,.0f}" if b.get("items_per_second") else ""
        lines.append(f"| `{b['name']}` | {b['real_time']:,.2f} {b['unit']} | {b['cpu_time']:,.2f} {b['unit']} | {ips} |")
    lines.append("")
    if mi.get("library_build") == "debug":
        lines += ["(Debian's libbenchmark reports itself as a debug build; that affects its own bookkeeping, "
                  "not the code measured, which is compiled -O3.)", ""]
    return lines
