"""The flash-sale crowd: thousands of distinct users at once for a small stock."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from flashgate_harness import assert_json, unique_id, wait_until

STOCK = 200
CROWD = 2000
WORKERS = 96
RETRY_FOR = 60.0  # upper bound for a user's retries after 429 too_many_requests


def buy_retrying_429(server, sale_id, user_id):
    """One user's purchase; a 429 is honoured (Retry-After) and retried, as a client would."""
    deadline = time.monotonic() + RETRY_FOR
    while True:
        response = server.buy(sale_id, user_id)
        if response.status_code != 429 or time.monotonic() > deadline:
            return response.status_code, response.json()
        try:
            delay = float(response.headers.get("Retry-After", "0.1"))
        except ValueError:
            delay = 0.1
        time.sleep(min(max(delay, 0.01), 1.0))


@pytest.fixture(scope="module")
def crowd(server):
    """Run the crowd once: CROWD users race for STOCK units; returns (sale_id, results)."""
    sale_id = server.new_sale(stock=STOCK, item="crowd widget")
    users = [unique_id(f"crowd{i}") for i in range(CROWD)]
    gate = threading.Event()

    def one_user(user_id):
        gate.wait()
        return buy_retrying_429(server, sale_id, user_id)

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        futures = [pool.submit(one_user, user) for user in users]
        gate.set()
        results = [future.result() for future in futures]
    server.close_sessions()  # drop the pool's idle keep-alive connections
    return sale_id, results


def accepted(results):
    return [body for code, body in results if code == 202]


def test_exactly_the_stock_is_accepted(crowd):
    _, results = crowd
    codes = {}
    for code, _ in results:
        codes[code] = codes.get(code, 0) + 1
    assert codes.get(202, 0) == STOCK, codes


def test_everyone_else_is_told_sold_out(crowd):
    _, results = crowd
    refused = [(code, body) for code, body in results if code != 202]
    assert len(refused) == CROWD - STOCK
    wrong = [(code, body) for code, body in refused if code != 409 or body.get("error") != "sold_out"]
    assert not wrong, wrong[:5]


def test_every_accepted_order_has_its_own_order_id_and_ticket(crowd):
    _, results = crowd
    answers = accepted(results)
    assert len({a["order_id"] for a in answers}) == len(answers)
    assert len({a["ticket"] for a in answers}) == len(answers)


def test_every_accepted_order_is_confirmed(server, crowd):
    _, results = crowd
    pending = {a["order_id"]: a["ticket"] for a in accepted(results)}
    assert len(pending) == STOCK

    def all_confirmed():
        for order_id, ticket in list(pending.items()):
            status = server.status(ticket)
            assert status["order_id"] == order_id
            assert status["status"] not in ("FAILED", "CANCELLED"), status
            if status["status"] == "CONFIRMED":
                del pending[order_id]
        return not pending

    wait_until(all_confirmed, timeout=60, interval=0.1, message="every crowd order CONFIRMED")


def test_sale_is_sold_out_after_the_crowd(server, crowd):
    sale_id, _ = crowd
    sale = server.sale(sale_id)
    assert (sale["remaining"], sale["state"]) == (0, "sold_out"), sale


def test_stats_count_every_order_confirmed_and_the_queue_drains(server, crowd):
    sale_id, _ = crowd

    def settled():
        stats = server.stats(sale_id)
        return stats if stats["counts"]["CONFIRMED"] == STOCK and stats["queue_depth"] == 0 else None

    stats = wait_until(settled, timeout=60, interval=0.1, message="CONFIRMED == stock and empty queue")
    assert stats["remaining"] == 0
    assert sum(stats["counts"].values()) == STOCK, stats


def test_stock_is_never_oversold(server, crowd):
    sale_id, _ = crowd
    stats = server.stats(sale_id)
    reserved = sum(n for status, n in stats["counts"].items() if status not in ("FAILED", "CANCELLED"))
    assert reserved + stats["remaining"] == STOCK, stats
    assert assert_json(server.get_sale(sale_id), 200)["stock"] == STOCK
