"""wakeup: from the signed payment notification to the waiting client's PAID answer, as long poll
and as event stream, one order at a time (the probe is bench/wakeup.py)."""

import json
import re
import subprocess
from pathlib import Path

from .. import BENCH, PYTHON
from ..processes import ScenarioError, log, wait_for
from ..servers import PAYMENT_SECRET, Flashgate


def wakeup(run):
    server = Flashgate(run, "embedded-wakeup", {"FLASHGATE_SERVICE_TIME": "0ms"})
    try:
        sale_id = f"wakeup-{run.tag}"
        tickets_file = run.tmp / "wakeup-tickets.txt"
        count = 2 * run.samples
        run.prebuy(server, sale_id, count, tickets_file, connections=20)
        bought = len(Path(tickets_file).read_text().split())
        wait_for(lambda: server.stats(sale_id)["counts"]["CONFIRMED"] >= bought, 60, "the windows to confirm")
        samples = min(run.samples, len(Path(tickets_file).read_text().split()) // 2)
        log(f"  wakeup: {samples} long polls, then {samples} streams, one at a time")
        out = subprocess.run(
            [PYTHON, BENCH / "wakeup.py", "--port", str(server.port), "--secret", PAYMENT_SECRET,
             "--tickets", str(tickets_file), "--samples", str(samples)],
            capture_output=True, text=True, timeout=300,
        )
        match = re.search(r"^RESULT (\{.*\})$", out.stdout, re.M)
        if out.returncode != 0 or not match:
            raise ScenarioError(f"wakeup.py failed: {out.stdout[-500:]} {out.stderr[-1500:]}")
        run.results["wakeup"] = json.loads(match.group(1))
    finally:
        server.stop()


def report_lines(w):
    lines = [
        "## Wake-up latency",
        "",
        "From just before the signed payment notification is written to the moment the waiting client has "
        "the PAID status (one order at a time, on an otherwise idle embedded server; PAID is durable, i.e. "
        "group-committed to SQLite, before it is published, so this includes one fsync).",
        "",
        "| waiting client | samples | p50 ms | p90 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key, title in (("longpoll", "long poll (`wait=30&since=V`)"), ("sse", "event stream"),
                       ("notify", "the notification's own 200")):
        s = w[key]
        lines.append(f"| {title} | {s['samples']} | {s['p50_ms']:.2f} | {s['p90_ms']:.2f} | {s['p99_ms']:.2f} | {s['max_ms']:.2f} |")
    lines.append("")
    return lines
