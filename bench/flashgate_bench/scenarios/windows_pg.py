"""windows-pg: orders queued through a gateway on Redis, then one `--role worker` process confirms
them all into PostgreSQL; orders/s from the worker's start-up to the last final status."""

import time

from .. import distributed
from ..processes import free_port, log, proc_cpu_seconds, wait_for
from ..servers import Flashgate, metric_sum


def windows_pg(run):
    # A Redis of its own: the worker must find only this scenario's orders in line.
    redis_dir, redis_port = run.tmp / "redis-windows", free_port()
    distributed.redis_start(run, redis_dir, redis_port)
    url = distributed.postgres_url(run)
    store = {"FLASHGATE_STORE": f"redis://127.0.0.1:{redis_port}"}
    gateway = Flashgate(run, "windows-gateway", store, ["--role", "gateway", "--database", url])
    worker = None
    try:
        sale_id = f"windows-{run.tag}"
        count = run.window_orders
        log(f"  windows-pg: {count} orders in line, then one worker")
        run.prebuy(gateway, sale_id, count, run.tmp / "windows-tickets.txt")
        queued = gateway.stats(sale_id)["counts"]["QUEUED"]
        began = time.monotonic()
        worker = Flashgate(run, "windows-worker", store, ["--role", "worker", "--database", url])
        ready = time.monotonic()
        cpu0 = proc_cpu_seconds([worker.proc.pid])

        def done():
            counts = gateway.stats(sale_id)["counts"]
            return counts["CONFIRMED"] + counts["FAILED"] >= queued and counts

        counts = wait_for(done, 300, "the windows to finish", interval=0.05)
        finished = time.monotonic()
        windows = metric_sum(worker.metrics(), "flashgate_windows")
        run.results["windows-pg"] = {
            "orders": queued, "confirmed": counts["CONFIRMED"], "failed": counts["FAILED"],
            "seconds": round(finished - ready, 3), "orders_per_second": round(queued / (finished - ready), 1),
            "start_seconds": round(ready - began, 3), "windows": int(windows),
            "worker_cpu_cores": round((proc_cpu_seconds([worker.proc.pid]) - cpu0) / (finished - ready), 2),
        }
    finally:
        if worker:
            worker.stop()
        gateway.stop()


def report_lines(w):
    return [
        "## Windows throughput (Redis + PostgreSQL)",
        "",
        f"{w['orders']:,} orders queued through a gateway on Redis, then one `--role worker` process "
        f"({w['windows']} windows, service time 0) started: all of them were CONFIRMED in {w['seconds']} s, "
        f"**{w['orders_per_second']:,.0f} orders/s** (CONFIRMED {w['confirmed']:,}, FAILED {w['failed']}); "
        f"the worker used {w['worker_cpu_cores']:.2f} cores; start-up to /healthz {w['start_seconds']} s "
        "(not counted). Each order: claim (Redis script), INSERT into PostgreSQL (fsync on), finish (Redis script).",
        "",
    ]
