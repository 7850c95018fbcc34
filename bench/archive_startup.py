#!/usr/bin/env python3
"""Start-up time of the embedded deployment with archived sales (issue #23).

A data dir holding many archived sales (default 100 sales of 100,000 orders
each, every order PAID, as the archiver leaves them) must start as fast as an
empty one: the journal load reads only live sales and their intakes.

The data dir is made the way the server makes it: the binary creates the
schema (one start and stop), then the rows an archive leaves behind are
written straight into the SQLite file (sales with archived_at and their final
numbers, every order in `intakes` and `orders`) - taking 10 million real
intakes over HTTP would take hours and measure nothing more.

Measured: from spawning `flashgate serve` to its first 200 on /healthz,
the median of --runs starts, for
  - an empty data dir,
  - the archived data dir,
  - a control: one live sale of --control-orders orders (what loading costs
    when it is not skipped).

    python3 bench/archive_startup.py [--binary build/release/flashgate] [--sales 100] [--orders 100000]
"""

import argparse
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_and_time(binary, data_dir, timeout=600.0):
    """Seconds from spawn to the first 200 of /healthz; the process is stopped after."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASHGATE_")}
    env.update(FLASHGATE_ADMIN_TOKEN="bench-admin", FLASHGATE_PAYMENT_SECRET="bench-secret")
    log = open(Path(data_dir) / "bench.log", "ab")
    started = time.monotonic()
    proc = subprocess.Popen([str(binary), "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data_dir)],
                            env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"flashgate exited ({proc.returncode}); see {data_dir}/bench.log")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return time.monotonic() - started, port, proc
            except OSError:
                pass
            if time.monotonic() - started > timeout:
                raise RuntimeError("not ready in time")
            time.sleep(0.002)
    except BaseException:
        proc.kill()
        proc.wait()
        raise


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def measure(binary, data_dir, runs):
    times = []
    for _ in range(runs):
        seconds, _port, proc = start_and_time(binary, data_dir)
        stop(proc)
        times.append(seconds)
    return statistics.median(times), times


def make_schema(binary, data_dir):
    _seconds, _port, proc = start_and_time(binary, data_dir)
    stop(proc)


def fill(data_dir, sales, orders, archived, prefix):
    """Writes `sales` sales of `orders` PAID orders each, as an archive leaves them (or live)."""
    db = sqlite3.connect(str(Path(data_dir) / "flashgate.db"))
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = OFF")  # only the filling: the server syncs its own writes
    now = int(time.time() * 1000)
    for s in range(sales):
        sale_id = f"{prefix}{s:04d}"
        created = now - 86_400_000 * (sales - s + 1)
        db.execute(
            "INSERT INTO sales (sale_id, item, stock, starts_at, ends_at, created_at, remaining_db, settled_since, "
            "archived_at, final_remaining, count_paid) VALUES (?, ?, ?, NULL, ?, ?, 0, ?, ?, ?, ?)",
            (sale_id, "bench item", orders, created + 3_600_000, created, created + 3_600_000 if archived else None,
             created + 90_000_000 if archived else None, 0 if archived else None, orders if archived else 0),
        )
        intakes = ((f"{sale_id}-{i:08d}", sale_id, f"user-{i}", i + 1, "PAID", 4, "", f"pay-{i}",
                    created + i, created + i + 1000, "") for i in range(orders))
        db.executemany("INSERT INTO intakes (order_id, sale_id, user_id, seq, status, version, reason, payment_id, "
                       "created_at, updated_at, external_id) VALUES (?,?,?,?,?,?,?,?,?,?,?)", intakes)
        rows = ((f"{sale_id}-{i:08d}", sale_id, f"user-{i}", "PAID", f"pay-{i}", created + i, created + i + 1000)
                for i in range(orders))
        db.executemany("INSERT INTO orders (order_id, sale_id, user_id, status, payment_id, created_at, updated_at) "
                       "VALUES (?,?,?,?,?,?,?)", rows)
        db.commit()
        if (s + 1) % 10 == 0 or s + 1 == sales:
            print(f"  {s + 1}/{sales} sales written", file=sys.stderr, flush=True)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default=str(ROOT / "build/release/flashgate"))
    parser.add_argument("--sales", type=int, default=100)
    parser.add_argument("--orders", type=int, default=100_000, help="orders per archived sale")
    parser.add_argument("--control-orders", type=int, default=100_000, help="orders of the one live sale of the control")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the data dirs (printed)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="flashgate-archive-startup-"))
    try:
        empty, archived, control = work / "empty", work / "archived", work / "control"
        for d in (empty, archived, control):
            d.mkdir()
            make_schema(args.binary, d)
        print(f"filling {args.sales} archived sales of {args.orders} orders ...", file=sys.stderr, flush=True)
        filled = time.monotonic()
        fill(archived, args.sales, args.orders, archived=True, prefix="archived-")
        fill_seconds = time.monotonic() - filled
        fill(control, 1, args.control_orders, archived=False, prefix="live-")

        # Interleaved, so that whatever else the machine does weighs on each alike.
        dirs = (("empty", empty), ("archived", archived), ("control_live", control))
        times = {name: [] for name, _ in dirs}
        for _ in range(args.runs):
            for name, d in dirs:
                times[name] += measure(args.binary, d, 1)[1]
        results = {}
        for name, _ in dirs:
            median = statistics.median(times[name])
            results[name] = {"median_ms": round(median * 1000, 1), "runs_ms": [round(t * 1000, 1) for t in times[name]]}
            print(f"{name:>13}: start to ready {median * 1000:8.1f} ms (median of {args.runs})", file=sys.stderr)
        size = (archived / "flashgate.db").stat().st_size
        report = {
            "sales": args.sales, "orders_per_sale": args.orders, "control_orders": args.control_orders,
            "archived_db_bytes": size, "fill_seconds": round(fill_seconds, 1), **results,
            "archived_over_empty": round(results["archived"]["median_ms"] / results["empty"]["median_ms"], 2),
        }
        print(json.dumps(report, indent=2))
        if args.keep:
            print(f"data dirs kept in {work}", file=sys.stderr)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
