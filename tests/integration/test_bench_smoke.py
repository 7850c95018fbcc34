"""The benchmark suite still runs: scripts/bench.sh --smoke over the embedded scenarios.

A second or so per scenario, so the numbers mean nothing; what is checked is
that every scenario ran and that the report was written with its parts. The
full run (scripts/bench.sh, docs/benchmarks.md) is not part of the suite.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from flashgate_harness import flashgate_bin

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = ("soldout", "accepted", "poll")


def have(tool):
    return shutil.which(tool) or Path("/usr/sbin", tool).exists()


@pytest.mark.embedded_only(reason="scripts/bench.sh starts its own servers; the same run in both passes")
@pytest.mark.skipif(not have("wrk"), reason="wrk is not installed (scripts/setup installs it)")
@pytest.mark.skipif(not have("nginx"), reason="nginx is not installed (scripts/setup installs it)")
def test_bench_smoke_run_writes_the_report(tmp_path):
    out = tmp_path / "benchmarks.md"
    env = dict(os.environ, FLASHGATE_BIN=str(flashgate_bin()))
    run = subprocess.run(
        [str(REPO / "scripts" / "bench.sh"), "--smoke", "--only", "embedded", "--out", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
    )
    tail = (run.stdout + run.stderr)[-4000:]
    assert run.returncode == 0, f"scripts/bench.sh --smoke failed ({run.returncode}):\n{tail}"
    assert out.exists(), f"no report at {out}:\n{tail}"
    report = out.read_text()

    assert "## Scenarios that failed" not in report, report
    assert "- command: `scripts/bench.sh --smoke --only embedded --out" in report
    assert re.search(r"- date: \d{4}-\d{2}-\d{2} ", report)
    assert re.search(r"- machine: .+, \d+ CPUs", report)
    for name in SCENARIOS:
        row = re.search(rf"^\| `{name}`: [^|]+\| ([\d,]+) \|", report, re.M)
        assert row, f"no row for {name}:\n{report}"
        assert int(row.group(1).replace(",", "")) > 0, f"{name}: no requests/s"
    assert "## Targets" in report and "nginx" in report
    assert "## Wake-up latency" in report
    assert "## Many open event streams" in report
    assert "## Micro-benchmarks (Google Benchmark)" in report
    for bench in ("BM_TicketSeal", "BM_TicketOpen", "BM_IntakeSoldOut", "BM_IntakeDurable", "BM_RenderStatus"):
        assert bench in report, f"{bench} missing from the micro-benchmarks"
    assert "## Instructions per request (callgrind)" in report
    for name in ("nginx", "soldout", "accepted", "poll"):
        row = re.search(rf"^\| {name} \| ([\d,]+) \| ([\d,]+) \|", report, re.M)
        assert row, f"no instructions row for {name}:\n{report}"
        assert int(row.group(2).replace(",", "")) > 1000, f"{name}: implausibly few instructions per request"
    # The run cleans up after itself: its temp dir (data dirs, nginx, logs) is gone.
    temp = re.search(r"temp dir (\S+);", run.stdout)
    assert temp, tail
    assert not Path(temp.group(1)).exists(), f"{temp.group(1)} was left behind"
