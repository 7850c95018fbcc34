"""windows-sink (issue #22, item 8): windows throughput against an order sink that answers every
call after 20 ms, with 64 windows.

The ideal is windows / service time = 64 / 0.020 s = 3,200 orders/s; the goal is >= 0.9x of it.
The sink is bench/windows_sink.py, its own process; its capacity is measured first with wrk
(bench/sink_post.lua), as the reference: with 64 connections it is the best 64 sequential callers
can do against it, with 512 it shows how far above 3,200/s it goes. Then one embedded flashgate with
`--windows 64 --order-sink` and a sale bought by wrk as fast as it can; orders/s from the first to
the last final status, sampled every 20 ms.
"""

import json
import socket
import threading
import time

from .. import BENCH, PYTHON
from ..processes import ScenarioError, free_port, proc_cpu_seconds, wait_for
from ..servers import Flashgate, metric_sum

WINDOWS = 64
DELAY_MS = 20
SINK_SECRET = "bench-sink-secret-3f9a1c"


def windows_sink(run):
    run.results["windows-sink"] = measure(run)


def measure(run):
    port = free_port()
    sink = run.procs.start([PYTHON, BENCH / "windows_sink.py", "sink", port, DELAY_MS], run.tmp / "sink.log")

    def sink_up():
        if sink.poll() is not None:
            raise ScenarioError(f"the sink exited: {(run.tmp / 'sink.log').read_text()[-500:]}")
        return sink_requests(port) is not None

    wait_for(sink_up, 15, "the sink to listen")
    url = f"http://127.0.0.1:{port}/orders"
    duration = 1 if run.smoke else 5
    reference = {}
    for connections in (WINDOWS, 512):
        cpu0 = proc_cpu_seconds([sink.pid])
        r = run.wrk(url, "sink_post.lua", connections=connections, duration=duration, label=f"sink {connections}")
        r["sink_cpu_cores"] = round((proc_cpu_seconds([sink.pid]) - cpu0) / duration, 2)
        r["ideal"] = connections * 1000 / DELAY_MS
        reference[connections] = r

    count = 300 if run.smoke else 20_000
    server = Flashgate(run, "windows-sink", {"FLASHGATE_ORDER_SINK": url, "FLASHGATE_SINK_SECRET": SINK_SECRET},
                       ["--windows", str(WINDOWS)])
    try:
        sale_id = f"windows-sink-{run.tag}"
        calls0 = sink_requests(port)
        sampler = Sampler(server, sale_id)
        sampler.start()
        cpu0 = proc_cpu_seconds([server.proc.pid]), proc_cpu_seconds([sink.pid])
        intake_began = time.monotonic()
        run.prebuy(server, sale_id, count, run.tmp / "windows-sink-tickets.txt")
        intake_seconds = time.monotonic() - intake_began
        after_intake = server.metrics(), time.monotonic(), sampler.samples[-1][1] if sampler.samples else 0
        accepted = sum(server.stats(sale_id)["counts"].values())
        wait_for(lambda: sampler.samples and sampler.samples[-1][1] >= accepted, 300, "every order to be final")
        sampler.stopping.set()
        sampler.join()
        samples = sampler.samples
        first = crossing(samples, 1)
        last = crossing(samples, accepted)
        ten, ninety = crossing(samples, accepted * 0.1), crossing(samples, accepted * 0.9)
        elapsed = last - first
        cpu = proc_cpu_seconds([server.proc.pid]) - cpu0[0], proc_cpu_seconds([sink.pid]) - cpu0[1]
        metrics = server.metrics(settle=0.2)
        counts = server.stats(sale_id)["counts"]
        service_sum = metric_sum(metrics, "flashgate_window_service_seconds_sum")
        service_count = metric_sum(metrics, "flashgate_window_service_seconds_count")
        call_sum = metric_sum(metrics, "flashgate_sink_call_seconds_sum")
        call_count = metric_sum(metrics, "flashgate_sink_call_seconds_count")
        ideal = WINDOWS * 1000 / DELAY_MS

        def since_intake(name):
            return metric_sum(metrics, name) - metric_sum(after_intake[0], name)

        # The database's group commits after the intake was over: only the windows' writes
        # (each order: its row, then its final status, each waited for until durable).
        commits = since_intake("flashgate_db_commit_seconds_count")
        commit_seconds = since_intake("flashgate_db_commit_seconds_sum")
        commit_jobs = since_intake("flashgate_db_commit_jobs_sum")
        orders_after_intake = accepted - after_intake[2]
        rate = (accepted - 1) / elapsed if elapsed > 0 else 0.0
        steady = accepted * 0.8 / (ninety - ten) if ninety > ten else 0.0
        return {
            "windows": WINDOWS, "delay_ms": DELAY_MS, "orders": accepted, "ideal": ideal,
            "confirmed": counts["CONFIRMED"], "failed": counts["FAILED"],
            "seconds": round(elapsed, 3), "orders_per_second": round(rate, 1), "ratio": round(rate / ideal, 3),
            "steady_orders_per_second": round(steady, 1), "steady_ratio": round(steady / ideal, 3),
            "intake_seconds": round(intake_seconds, 3),
            "sink_calls": sink_requests(port) - calls0,
            "calls_by_result": {k.split('result="')[1].split('"')[0]: int(v) for k, v in metrics.items()
                                if k.startswith("flashgate_sink_calls_total{")},
            "mean_call_ms": round(call_sum * 1000 / call_count, 2) if call_count else None,
            "mean_service_ms": round(service_sum * 1000 / service_count, 2) if service_count else None,
            "db_commits_per_order": round(commits / orders_after_intake, 3) if orders_after_intake else None,
            "db_commit_ms": round(commit_seconds * 1000 / commits, 3) if commits else None,
            "db_jobs_per_commit": round(commit_jobs / commits, 1) if commits else None,
            "flashgate_cpu_cores": round(cpu[0] / (last - intake_began), 2),
            "sink_cpu_cores": round(cpu[1] / (last - intake_began), 2),
            "reference": {str(c): {k: r[k] for k in ("rps", "p50_us", "p99_us", "sink_cpu_cores", "ideal")}
                          for c, r in reference.items()},
        }
    finally:
        server.stop()
        run.procs.stop(sink)


def report_lines(w):
    """The docs/benchmarks.md section of a result of measure()."""
    ref64, ref512 = w["reference"][str(WINDOWS)], w["reference"]["512"]
    commits = (f": {w['db_commits_per_order']} group commits per order after the intake, {w['db_commit_ms']} ms "
               f"each, {w['db_jobs_per_commit']} writes each" if w["db_commits_per_order"] is not None else "")
    calls = ", ".join(f"{k} {v:,}" for k, v in sorted(w["calls_by_result"].items()))
    return [
        "## Windows throughput against a slow order sink (embedded)",
        "",
        f"{w['orders']:,} orders bought as fast as wrk could (intake over in {w['intake_seconds']} s) from one "
        f"embedded flashgate with `--windows {w['windows']} --order-sink` pointing at a sink that answers every "
        f"call after {w['delay_ms']} ms (`bench/windows_sink.py`). From the first to the last final status: "
        f"{w['seconds']} s, **{w['orders_per_second']:,.0f} orders/s = {w['ratio']:.2f}x the ideal** "
        f"({w['windows']} windows / {w['delay_ms']} ms = {w['ideal']:,.0f}/s); between 10 % and 90 % done "
        f"{w['steady_orders_per_second']:,.0f}/s = {w['steady_ratio']:.2f}x. CONFIRMED {w['confirmed']:,}, "
        f"FAILED {w['failed']}; the sink answered {w['sink_calls']:,} calls (flashgate counted {calls}); "
        f"mean call {w['mean_call_ms']} ms, mean window service {w['mean_service_ms']} ms (the call, then the order "
        f"row and the final status, each waited for until durable{commits}); "
        f"flashgate used {w['flashgate_cpu_cores']:.2f} cores, the sink {w['sink_cpu_cores']:.2f}.",
        "",
        f"The sink alone under wrk (`bench/sink_post.lua`, the same body size): with {WINDOWS} connections "
        f"{ref64['rps']:,.0f} requests/s = {ref64['rps'] / ref64['ideal']:.2f}x its ideal {ref64['ideal']:,.0f} "
        f"(p50 {ref64['p50_us'] / 1000:.1f} ms, p99 {ref64['p99_us'] / 1000:.1f} ms), the best {WINDOWS} "
        f"sequential callers can get from it; with 512 connections {ref512['rps']:,.0f}/s (p99 "
        f"{ref512['p99_us'] / 1000:.1f} ms, {ref512['sink_cpu_cores']:.2f} cores): far above "
        f"{w['ideal']:,.0f}/s, so the sink is not what limits the windows.",
        "",
        f"Against what this sink really gave 64 sequential callers (the line above), the windows reach "
        f"**{w['orders_per_second'] / ref64['rps']:.2f}x**; against windows / the mean call they measured "
        f"({w['windows']} / {w['mean_call_ms']} ms = {w['windows'] * 1000 / w['mean_call_ms']:,.0f}/s), "
        f"{w['orders_per_second'] * w['mean_call_ms'] / (w['windows'] * 1000):.2f}x. What is left is flashgate's "
        f"own time per order (mean window service minus mean call: "
        f"{w['mean_service_ms'] - w['mean_call_ms']:.2f} ms): the claim and the durable final status.",
        "",
    ]


def sink_requests(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /count HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while b"}" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return json.loads(data.split(b"\r\n\r\n", 1)[1])["requests"]


class Sampler(threading.Thread):
    """(monotonic time, orders final) of the sale every 20 ms, until stopped."""

    def __init__(self, server, sale_id):
        super().__init__(daemon=True)
        self.server, self.sale_id = server, sale_id
        self.samples = []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            try:
                counts = self.server.stats(self.sale_id)["counts"]
                self.samples.append((time.monotonic(), counts["CONFIRMED"] + counts["FAILED"]))
            except Exception:  # the sale may not exist yet
                pass
            time.sleep(0.02)


def crossing(samples, level):
    """The time the count reached `level`, interpolated between two samples."""
    previous = samples[0]
    for sample in samples:
        if sample[1] >= level:
            (t0, n0), (t1, n1) = previous, sample
            return t1 if n1 == n0 else t0 + (t1 - t0) * (level - n0) / (n1 - n0)
        previous = sample
    return samples[-1][0]
