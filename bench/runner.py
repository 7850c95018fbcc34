#!/usr/bin/env python3
"""The benchmark runner behind scripts/bench.sh: starts what each scenario
needs on loopback (nginx, flashgate, redis-server, PostgreSQL), drives it
(wrk with the Lua scripts of bench/, redis-benchmark, the stream holder, the
wake-up probe, the Google Benchmark binary) and writes docs/benchmarks.md.

Every HTTP scenario is paired with a run of the nginx reference just before
it (same wrk settings), so that each ratio compares two numbers taken a few
seconds apart on the same, possibly busy, machine. The distributed accepted
intake is paired the same way with redis-benchmark running the same Lua
intake script on the same Redis.

This file is the command line; the runner itself is bench/flashgate_bench/
(one module per scenario in scenarios/, the nginx reference in reference.py,
the report in report.py).

Standard library only; run with Debian's /usr/bin/python3.
"""

import argparse
import json
import shlex
import shutil
import signal
import sys
from pathlib import Path

from flashgate_bench import REPO
from flashgate_bench.processes import log
from flashgate_bench.report import Report
from flashgate_bench.run import Run
from flashgate_bench.scenarios import ALL, GROUPS, PAIRED_WITH_NGINX


def main():
    parser = argparse.ArgumentParser(description="flashgate benchmark runner (use scripts/bench.sh)")
    parser.add_argument("--smoke", action="store_true", help="a second or so per scenario (the test suite's run)")
    parser.add_argument("--only", default="all",
                        help="comma-separated scenarios or groups (all, embedded, distributed): " + ", ".join(ALL))
    parser.add_argument("--out", default=str(REPO / "docs" / "benchmarks.md"))
    parser.add_argument("--json", help="also write the raw results here")
    parser.add_argument("--bin", default=str(REPO / "build" / "release" / "flashgate"))
    parser.add_argument("--bench-build", default=str(REPO / "build" / "release" / "bench"))
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured wrk run (full runs)")
    parser.add_argument("--connections", type=int, default=0, help="wrk connections (default 1000; smoke 200)")
    parser.add_argument("--threads", type=int, default=0, help="wrk threads (default: cores)")
    parser.add_argument("--streams", type=int, default=20000, help="event streams to hold open (full runs)")
    parser.add_argument("--command", default="", help="the command line to print in the report")
    parser.add_argument("--profile", action="store_true",
                        help="also profile the server with perf during an extra run of each HTTP load")
    parser.add_argument("--keep-temp", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()

    names = []
    for item in args.only.split(","):
        item = item.strip()
        if item in GROUPS:
            names += GROUPS[item]
        elif item in ALL:
            names.append(item)
        else:
            parser.error(f"unknown scenario {item!r}; known: {', '.join(list(GROUPS) + ALL)}")
    names = [n for n in ALL if n in names]

    if not Path(args.bin).exists():
        parser.error(f"{args.bin} is missing; build it (cmake --preset release && cmake --build --preset release)")
    for tool in ["wrk"] + (["nginx"] if any(n in PAIRED_WITH_NGINX or n == "nginx" for n in names) else []):
        if not shutil.which(tool) and not Path("/usr/sbin/" + tool).exists():
            parser.error(f"{tool} is not installed (scripts/setup installs it)")

    run = Run(args)

    def interrupted(signum, frame):
        raise KeyboardInterrupt()

    signal.signal(signal.SIGTERM, interrupted)
    log(f"temp dir {run.tmp}; scenarios: {', '.join(names)}")
    try:
        run.run(names)
    except KeyboardInterrupt:
        log("interrupted; everything started was stopped")
        return 130
    finally:
        if not args.keep_temp:
            shutil.rmtree(run.tmp, ignore_errors=True)
    command = args.command or "scripts/bench.sh " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    Report(run, command).write(args.out)
    if args.json:
        Path(args.json).write_text(json.dumps({"results": run.results, "errors": run.errors}, indent=1))
    log(f"wrote {args.out}")
    if run.errors:
        log("failed scenarios: " + ", ".join(run.errors))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
