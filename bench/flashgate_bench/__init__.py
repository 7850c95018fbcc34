"""The benchmark runner's parts; bench/runner.py is its entry point and command line.

- processes.py: every process a run starts, and what /proc says about them
- servers.py: flashgate as the scenarios start it, its admin API and /metrics
- distributed.py: Redis and PostgreSQL of the distributed scenarios, and the gateway on them
- run.py: one run (its settings, wrk, the results) and the loop over the scenarios
- reference.py: nginx, the reference each HTTP scenario is paired with
- profile.py: perf profiles of the servers (--profile)
- report.py: docs/benchmarks.md
- scenarios/: one module per scenario, with the section of the report that is its alone

The programs the scenarios start (wakeup.py, sse_hold.py, windows_sink.py, the Lua
scripts of wrk) and instructions.py (callgrind's counts) stay in bench/ itself.

Standard library only; run with Debian's /usr/bin/python3.
"""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"
PYTHON = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
