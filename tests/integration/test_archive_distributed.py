"""Archiving in the distributed deployment (issue #23): Redis, PostgreSQL, two workers, one gateway.

This module starts everything itself, whatever FLASHGATE_TEST_DEPLOYMENT says
(like test_distributed.py), and is marked embedded_only so that it runs once.

What it checks:

- a sale run to the end (every order PAID, FAILED or CANCELLED) is refused
  archiving while an order is not final (409 sale_active), then archived by
  the admin call: `redis-cli --scan` shows no key of it and every key of a
  live sale unchanged, its ticket is refused with 410, GET /api/sales/{id}
  is 410 sale_archived with the final numbers, and PostgreSQL still has every
  order in the status the buyer last saw;
- with workers whose retention is short, a sale of 100,000 orders is
  archived by time, one worker is SIGKILLed while it removes the sale's keys,
  the other finishes the archive; Redis's used_memory is back within 10% of
  what it was before the sale, and PostgreSQL has every order.

Timeouts are upper bounds for waiting, never performance claims.
"""

import json
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cluster_harness import Deployment, run, sale_tag
from flashgate_harness import (
    assert_error,
    assert_json,
    from_now,
    unique_id,
    wait_until,
)

pytestmark = pytest.mark.embedded_only(
    reason="starts its own Redis, PostgreSQL, gateway and workers; it runs once, in the embedded pass"
)

REPO = Path(__file__).resolve().parents[2]
TICKET_TTL = "2s"
PAYMENT_TIMEOUT = "1s"
SHORT_RETENTION = "3s"  # the least allowed: ticket TTL + payment timeout
BIG_SALE = 100_000
FINAL = ("PAID", "FAILED", "CANCELLED")


class Cluster(Deployment):
    """Two workers and a gateway."""

    def __init__(self, tmp_path_factory):
        super().__init__(tmp_path_factory, "archive-redis", {
            "FLASHGATE_SERVICE_TIME": "1ms",
            "FLASHGATE_RECLAIM_AFTER": "2s",
            "FLASHGATE_WINDOWS": "4",
            "FLASHGATE_STOCK_FLUSH": "200ms",
            "FLASHGATE_FAILURE_RATE": "0.2",
            "FLASHGATE_INTAKE_RATE": "0",
            "FLASHGATE_BUYER_INTAKE_RATE": "0",
            "FLASHGATE_POLL_RATE": "0",
        })
        self.gateway = None

    def start(self):
        self.redis.start()
        self.postgres.start()
        # 100,000 outcomes reach PostgreSQL through the outcome mirror (in
        # batches of up to 100, a commit each): a shared machine's fsync
        # still makes that slower than this test should be, and what is
        # tested here does not depend on it.
        self.postgres.query("ALTER SYSTEM SET synchronous_commit = off")
        self.postgres.query("SELECT pg_reload_conf()")
        self.start_workers({"FLASHGATE_PAYMENT_TIMEOUT": "3s"})  # time to pay in the admin call's test
        self.gateway = self.launch("gateway", {})
        return self

    def start_workers(self, overrides):
        self.workers = [self.launch("worker", overrides) for _ in range(2)]

    def stop_workers(self):
        for worker in self.workers:
            if worker.is_running():
                assert worker.stop() == 0
        self.workers = []

    # -- looking inside

    def scan(self):
        """Every key in Redis (redis-cli --scan)."""
        out = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(self.redis.port), "--scan"],
                             capture_output=True, text=True, timeout=120, check=True).stdout
        return set(out.split())

    def dump(self, keys):
        """Each key's serialized value (DUMP, hex): equal means untouched."""
        values = {}
        for key in keys:
            out = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(self.redis.port), "--no-raw", "DUMP", key],
                                 capture_output=True, text=True, timeout=10, check=True).stdout
            values[key] = out
        return values

    def used_memory(self):
        for line in self.redis.cli("INFO", "memory").splitlines():
            if line.startswith("used_memory:"):
                return int(line.split(":")[1])
        raise AssertionError("no used_memory in INFO memory")

    def orders_in_postgres(self, sale_id):
        """{order_id: status} of the sale's rows."""
        rows = self.postgres.query(f"SELECT order_id, status FROM orders WHERE sale_id = '{sale_id}'")
        return {r[0]: r[1] for r in rows}

    def archived_at(self, sale_id):
        rows = self.postgres.query(f"SELECT archived_at FROM sales WHERE sale_id = '{sale_id}'")
        return rows[0][0] if rows and rows[0][0] else None


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    codes = yield from run(Cluster(tmp_path_factory))
    assert all(code == 0 for code in codes.values() if code is not None), f"not every process exited 0: {codes}"


def archive(gateway, sale_id):
    return gateway.post(f"/api/admin/sales/{sale_id}/archive", headers=gateway.admin_headers())


def keys_of(keys, sale_id):
    prefix = f"fg:{{{sale_tag(sale_id)}}}:"
    return {k for k in keys if k.startswith(prefix)}


def settled(gateway, sale_id):
    counts = gateway.stats(sale_id)["counts"]
    return all(counts[s] == 0 for s in ("QUEUED", "PROCESSING", "CONFIRMED"))


def buy_all(gateway, sale_id, users):
    """Tickets and order ids of the users whose intake was accepted."""
    accepted = {}
    with ThreadPoolExecutor(8) as pool:
        for user, response in zip(users, pool.map(lambda u: gateway.buy(sale_id, u), users)):
            if response.status_code == 202:
                accepted[user] = response.json()
    return accepted


# --------------------------------------------------------------------------- the admin call


@pytest.fixture(scope="module")
def live_sale(cluster):
    """A sale that stays live: its orders are final but it is open with stock left."""
    gateway = cluster.gateway
    sale_id = gateway.new_sale(stock=50)
    accepted = buy_all(gateway, sale_id, [f"live-{i}" for i in range(5)])
    assert accepted
    wait_until(lambda: settled(gateway, sale_id), timeout=60, message="the live sale's orders final")
    return sale_id


def wait_ended(ends_at):
    wait_until(lambda: time.time() > ends_at + 0.2, timeout=ends_at - time.time() + 5, message="the sale's end")


def test_a_sale_run_to_the_end_is_archived_by_the_admin_call(cluster, live_sale):
    gateway = cluster.gateway
    ends_at = time.time() + 8
    sale_id = gateway.new_sale(stock=20, ends_at=from_now(8))
    accepted = buy_all(gateway, sale_id, [f"buyer-{i}" for i in range(30)])
    assert 0 < len(accepted) <= 20
    tickets = [answer["ticket"] for answer in accepted.values()]

    # Not over yet: orders are not final, and the sale is open.
    assert_error(archive(gateway, sale_id), 409, "sale_active")

    # Some are paid; the rest fail in their window or time out unpaid.
    paid = 0
    for ticket in tickets:
        status = gateway.wait_for_status(ticket, ("CONFIRMED",) + FINAL, timeout=60)
        if status["status"] == "CONFIRMED" and paid < 5:
            paid += gateway.notify(status["order_id"], unique_id("pay")).status_code == 200
    wait_until(lambda: settled(gateway, sale_id), timeout=60, message="every order of the sale final")
    last_seen = {}
    for ticket in tickets:
        status = gateway.current(ticket)
        last_seen[status["order_id"]] = status["status"]
    assert set(last_seen.values()) <= set(FINAL), last_seen
    if time.time() < ends_at:
        assert_error(archive(gateway, sale_id), 409, "sale_active")  # final, but open with stock
    wait_ended(ends_at)
    stats = gateway.stats(sale_id)

    before = cluster.scan()
    assert keys_of(before, sale_id)
    live_keys = keys_of(before, live_sale)
    assert live_keys
    live_values = cluster.dump(live_keys)

    done = assert_json(archive(gateway, sale_id), 200)
    assert done["sale_id"] == sale_id and done["archived_at"] is not None
    assert done["counts"] == stats["counts"]
    assert assert_json(archive(gateway, sale_id), 200) == done  # idempotent

    after = cluster.scan()
    assert keys_of(after, sale_id) == set(), f"keys of the archived sale left: {sorted(keys_of(after, sale_id))[:10]}"
    assert keys_of(after, live_sale) == live_keys
    assert cluster.dump(live_keys) == live_values, "a key of the live sale changed"

    gone = assert_error(gateway.get_sale(sale_id), 410, "sale_archived")
    assert gone["sale"]["counts"] == stats["counts"]
    for ticket in tickets:
        assert gateway.poll(ticket).status_code == 410
    assert_error(gateway.buy(sale_id, "latecomer"), 410, "sale_archived")
    assert cluster.orders_in_postgres(sale_id) == last_seen, "PostgreSQL lost or changed an order"
    assert cluster.archived_at(sale_id) is not None
    archived_stats = assert_json(gateway.get_stats(sale_id), 200)
    assert archived_stats["counts"] == stats["counts"]
    # The live sale goes on.
    gateway.accepted(live_sale, "after-the-archive")


# --------------------------------------------------------------------------- by time, 100,000 orders, a worker killed


def run_wrk(url, sale_id, seconds):
    """Intakes of new buyers for `seconds`; returns how many requests wrk made."""
    script = REPO / "bench" / "intake.lua"
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", "-s", str(script), url, "--", sale_id, unique_id("w")],
                         capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    for line in out.splitlines():
        if line.startswith("BENCH_RESULT "):
            return json.loads(line.split(" ", 1)[1])["requests"]
    raise AssertionError(f"no BENCH_RESULT from wrk:\n{out}")


def orders_of(gateway, sale_id):
    return sum(gateway.stats(sale_id)["counts"].values())


def archiving_worker(cluster, sale_id):
    """The worker whose log says it is removing the sale's keys, if one does."""
    for worker in cluster.workers:
        if worker.is_running() and f"removing the keys of archived sale {sale_id}" in worker.logs():
            return worker
    return None


TIMED_WORKERS = {
    "FLASHGATE_TICKET_TTL": TICKET_TTL,
    "FLASHGATE_PAYMENT_TIMEOUT": PAYMENT_TIMEOUT,
    "FLASHGATE_ARCHIVE_AFTER": SHORT_RETENTION,
    # Every order fails in its window: a final status at once, its unit back
    # on sale, so a sale takes new buyers until it ends.
    "FLASHGATE_FAILURE_RATE": "1",
    # Many windows: each waits for Redis's fsync (appendfsync always) several times per order.
    "FLASHGATE_WINDOWS": "32",
}


@pytest.mark.slow  # minutes: the sanitizer pass of scripts/test leaves it out
@pytest.mark.skipif(not shutil.which("wrk"), reason="wrk is not installed (scripts/setup installs it)")
def test_a_big_sale_is_archived_by_time_across_a_worker_killed_mid_archive(cluster, live_sale):
    gateway = cluster.gateway
    wait_until(lambda: settled(gateway, live_sale), timeout=60, message="the live sale's orders final")
    # No worker while buyers come: intake has the machine to itself.
    cluster.stop_workers()

    # How long a sale must stay open for BIG_SALE intakes here: measured on a
    # sale of its own, archived by time before the measurement starts.
    trial = gateway.new_sale(stock=BIG_SALE, ends_at=from_now(4))
    rate = run_wrk(gateway.base_url, trial, 1)  # one second: every order of it is then processed and archived
    cluster.start_workers(TIMED_WORKERS)
    wait_until(lambda: cluster.archived_at(trial) and not keys_of(cluster.scan(), trial), timeout=600,
               message="the trial sale archived by time")
    # Measured with the workers connected (each window has a connection of
    # its own, which Redis counts in used_memory), as they are at the end.
    memory_before = cluster.used_memory()
    keys_before = cluster.scan()
    live_keys = keys_of(keys_before, live_sale)
    live_values = cluster.dump(live_keys)
    cluster.stop_workers()

    # Room for a neighbour of the suite (pytest -n 2) taking the machine for a while.
    open_for = BIG_SALE / max(rate, 1) * 3 + 10
    ends_at = time.time() + open_for
    sale_id = gateway.new_sale(stock=BIG_SALE, ends_at=from_now(open_for))
    while orders_of(gateway, sale_id) < BIG_SALE and time.time() < ends_at - 1:
        run_wrk(gateway.base_url, sale_id, max(1, min(10, int(ends_at - time.time() - 1))))
    assert orders_of(gateway, sale_id) >= BIG_SALE, "intake slower than measured: the sale ended first"
    wait_ended(ends_at)
    total = orders_of(gateway, sale_id)
    assert cluster.used_memory() > memory_before * 2

    # The windows fail every order, the mirror writes them to PostgreSQL, and
    # once the retention has passed one worker starts removing the sale's
    # keys; it is killed in the middle.
    cluster.start_workers(TIMED_WORKERS)
    wait_until(lambda: sale_id in cluster.redis.cli("SMEMBERS", "fg:dropping").split(), timeout=1200,
               interval=0.01, message="the archive started")
    victim = wait_until(lambda: archiving_worker(cluster, sale_id), timeout=10, interval=0.01,
                        message="the worker that archives")
    cluster.kill(victim)
    assert keys_of(cluster.scan(), sale_id), "the archive finished before the worker was killed"
    survivor = next(w for w in cluster.workers if w is not victim)

    wait_until(lambda: not keys_of(cluster.scan(), sale_id), timeout=300, message="the archive finished")
    assert archiving_worker(cluster, sale_id) is survivor
    assert keys_of(cluster.scan(), live_sale) == live_keys
    assert cluster.dump(live_keys) == live_values, "a key of the live sale changed"
    # The victim replaced, so that as many processes are connected as when the baseline was measured.
    cluster.workers = [survivor, cluster.launch("worker", TIMED_WORKERS)]
    wait_until(lambda: cluster.used_memory() <= memory_before * 1.1, timeout=120,
               message=f"used_memory back within 10% of {memory_before}")

    orders = cluster.orders_in_postgres(sale_id)
    assert len(orders) == total
    assert set(orders.values()) == {"FAILED"}
    assert_error(gateway.get_sale(sale_id), 410, "sale_archived")
