"""Faults of the distributed deployment's queue (issue #20): who owns a queue entry.

Its own Redis, PostgreSQL, two workers and a gateway (the Cluster of
test_distributed.py, with a short FLASHGATE_RECLAIM_AFTER). Marked
embedded_only like test_distributed.py: it starts everything itself and runs
once per `scripts/test`.

PostgreSQL stopped for longer than reclaim_after while the windows hold
entries of several sales (in hand and in their backlogs), then started, and
the first worker SIGKILLed a little later: every 202 ends CONFIRMED, once in
PostgreSQL, nothing left QUEUED or PROCESSING. Before the fix the workers
took each other's entries back while they waited, a window then claimed an
order from an entry that was no longer its own, and an order its worker held
so when it was killed stayed PROCESSING for good.

Timeouts are upper bounds for waiting, never performance claims.
"""

import signal
import time

import pytest

from cluster_harness import run
from flashgate_harness import unique_id, wait_until
from test_distributed import Cluster, metric, wait_settled

pytestmark = pytest.mark.embedded_only(
    reason="starts its own Redis, PostgreSQL, gateway and workers; it runs once, in the embedded pass"
)

SALES = 4  # one read of the queues hands a window an entry of each
ORDERS_PER_SALE = 6
RECLAIM_AFTER_S = 1.0


class QueueFaultCluster(Cluster):
    """Two workers of two windows each and one gateway."""

    def __init__(self, tmp_path_factory):
        super().__init__(tmp_path_factory)
        self.env.update({
            "FLASHGATE_RECLAIM_AFTER": f"{int(RECLAIM_AFTER_S * 1000)}ms",
            "FLASHGATE_SERVICE_TIME": "300ms",  # a window is busy with an order long enough to die holding it
            "FLASHGATE_WINDOWS": "2",
        })

    def start(self):
        return self.start_processes(workers=2, gateways=1)


@pytest.fixture
def cluster(tmp_path_factory):
    codes = yield from run(QueueFaultCluster(tmp_path_factory))
    assert all(code == 0 for code in codes.values()), f"not every process exited 0 on SIGTERM: {codes}"


def test_windows_waiting_out_postgres_past_reclaim_after_then_a_worker_killed_confirm_every_order_once(cluster):
    gw = cluster.gateways[0]
    first = cluster.workers[0]
    # The workers are paused while the orders come in, so that each window's
    # first read finds every sale's queue filled and takes an entry of each.
    for worker in cluster.workers:
        worker.proc.send_signal(signal.SIGSTOP)
    try:
        cluster.postgres.stop()
        sales = [gw.new_sale(stock=ORDERS_PER_SALE) for _ in range(SALES)]
        accepted = {}  # order id -> intake answer
        for sale_id in sales:
            for _ in range(ORDERS_PER_SALE):
                answer = gw.accepted(sale_id, unique_id("faults"))
                accepted[answer["order_id"]] = answer
    finally:
        for worker in cluster.workers:
            worker.proc.send_signal(signal.SIGCONT)

    def retries():
        return sum(metric(w, "flashgate_window_retries_total") for w in cluster.workers)

    wait_until(lambda: retries() > 0, timeout=15, message="windows waiting for PostgreSQL")
    time.sleep(3 * RECLAIM_AFTER_S)  # the windows wait on, holding their entries
    cluster.postgres.start()
    # The first worker dies once one of its windows is through with the order
    # it held during the outage and has gone on to the next of its backlog.
    wait_until(lambda: metric(first, "flashgate_window_orders_total") > 0, timeout=30, interval=0.02,
               message="the first worker going on after the outage")
    time.sleep(0.1)
    cluster.kill(first)

    for sale_id in sales:
        try:
            stats = wait_settled(gw, sale_id, ORDERS_PER_SALE, timeout=60)
        except AssertionError:
            pytest.fail(f"orders of {sale_id} never settled (orphaned?): {gw.stats(sale_id)['counts']}")
        assert stats["counts"]["CONFIRMED"] == ORDERS_PER_SALE and stats["remaining"] == 0, stats
    for answer in accepted.values():
        assert gw.current(answer["ticket"])["status"] == "CONFIRMED", answer

    def all_rows():
        rows = {}
        count = 0
        for sale_id in sales:
            sale_rows, sale_count = cluster.orders_in_postgres(sale_id)
            rows.update(sale_rows)
            count += sale_count
        return (rows, count) if count >= len(accepted) else None

    rows, count = wait_until(all_rows, timeout=30, message="every order row in PostgreSQL")
    assert count == len(accepted) and set(rows) == set(accepted), "an order row missing or twice"
    assert {row[1] for row in rows.values()} == {"CONFIRMED"}
