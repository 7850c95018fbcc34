"""sse: as many event streams as the descriptors allow, held open against one embedded gateway by
bench/sse_hold.py processes; the server's memory per stream and its CPU while they sit idle."""

import json
import math
import os
import resource
import subprocess
import time

from .. import BENCH, PYTHON
from ..processes import ScenarioError, log, nofile_limit, proc_cpu_seconds, proc_status_kib, read_line
from ..servers import Flashgate, metric_sum


def sse(run):
    server = Flashgate(run, "embedded-streams", {"FLASHGATE_SERVICE_TIME": "10m", "FLASHGATE_MAX_STREAMS": "1000000"})
    holders = []
    try:
        limit = nofile_limit(server.proc.pid)
        wanted = run.streams
        count = min(wanted, limit - 200)
        if count < wanted:
            run.notes.append(
                f"Event streams: {count} instead of {wanted}: the gateway may hold only {limit} descriptors "
                f"(the hard RLIMIT_NOFILE of this container, which its root cannot raise)."
            )
        tickets_file = run.tmp / "sse-tickets.txt"
        log(f"  sse: pre-buying {count} tickets")
        run.prebuy(server, f"sse-{run.tag}", count, tickets_file)
        time.sleep(0.2 if run.smoke else 1.0)
        rss_before = proc_status_kib(server.proc.pid, "VmRSS")
        per_holder = max(1, min(10000, resource.getrlimit(resource.RLIMIT_NOFILE)[1] - 100))
        log(f"  sse: opening {count} streams ({math.ceil(count / per_holder)} holder processes)")
        began = time.monotonic()
        for start in range(0, count, per_holder):
            n = min(per_holder, count - start)
            p = run.procs.start(
                [PYTHON, BENCH / "sse_hold.py", "--port", server.port, "--tickets", tickets_file,
                 "--start", start, "--count", n],
                run.tmp / f"sse-holder-{start}.log", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            )
            holders.append(p)
        opened, failed, first_failure = 0, 0, None
        for p in holders:
            line = read_line(p, "OPENED", 300)
            report = json.loads(line.split(" ", 1)[1])
            opened += report["opened"]
            failed += report["failed"]
            first_failure = first_failure or report.get("first_failure")
        open_seconds = time.monotonic() - began
        gauge = metric_sum(server.metrics(settle=0.5), "flashgate_sse_streams")
        time.sleep(0.5 if run.smoke else 2.0)  # a position tick or two
        rss_after = proc_status_kib(server.proc.pid, "VmRSS")
        fds = len(os.listdir(f"/proc/{server.proc.pid}/fd"))
        cpu0 = proc_cpu_seconds([server.proc.pid])
        hold = 1.0 if run.smoke else 5.0
        time.sleep(hold)
        idle_cpu = (proc_cpu_seconds([server.proc.pid]) - cpu0) / hold
        held, lost = 0, 0
        for p in holders:
            p.stdin.write(b"close\n")
            p.stdin.flush()
            report = json.loads(read_line(p, "CLOSED", 60).split(" ", 1)[1])
            held += report["held"]
            lost += report["lost"]
        if opened < count * 0.99:
            raise ScenarioError(f"sse: only {opened} of {count} streams opened (first failure: {first_failure})")
        run.results["sse"] = {
            "wanted": wanted, "streams": opened, "failed": failed, "held": held, "lost": lost,
            "server_gauge": int(gauge), "server_fds": fds, "open_seconds": round(open_seconds, 2),
            "rss_before_kib": rss_before, "rss_after_kib": rss_after,
            "kib_per_stream": round((rss_after - rss_before) / max(1, opened), 2),
            "idle_cpu_cores": round(idle_cpu, 3), "orders_queued": count,
        }
    finally:
        for p in holders:
            run.procs.stop(p)
        server.stop()


def report_lines(s):
    return [
        "## Many open event streams",
        "",
        f"- streams held open by one embedded gateway: **{s['streams']:,}** (asked for {s['wanted']:,}; "
        f"failed to open {s['failed']}; closed by the server while held {s['lost']}); the server's "
        f"`flashgate_sse_streams` gauge said {s['server_gauge']:,}; its descriptors: {s['server_fds']:,}",
        f"- opened in {s['open_seconds']} s (each stream counted once its first `event: status` arrived)",
        f"- server VmRSS: {s['rss_before_kib'] / 1024:.1f} MiB before, {s['rss_after_kib'] / 1024:.1f} MiB with "
        f"the streams open: **{s['kib_per_stream']:.2f} KiB per stream** (kernel socket buffers are not in RSS)",
        f"- server CPU while the streams sit idle: {s['idle_cpu_cores']:.3f} cores (the orders are QUEUED, "
        "so every stream gets a position look-up every second)",
        "",
    ]
