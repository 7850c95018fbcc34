"""/metrics of a Redis gateway never waits on Redis on an I/O thread (issue #20, item 9).

The store's gauges (queue depth, per-sale orders, remaining, queue tail, outcomes
unwritten) used to make synchronous Redis round trips per sale while the scrape
held its HTTP thread: with Redis hanging, that thread answered nothing else for
seconds. They are now gathered by a timer thread, and a scrape answers the last
values gathered.
"""

import os
import signal
import threading
import time

import pytest
import requests

from flashgate_harness import RedisServer, Server, child_env, free_port, wait_until

pytestmark = pytest.mark.embedded_only(reason="starts its own Redis")


def test_a_hanging_redis_holds_up_neither_metrics_nor_other_requests(tmp_path):
    redis = RedisServer(tmp_path / "redis").start()
    # One HTTP thread: whatever blocks it blocks every request of the process.
    env = child_env({"FLASHGATE_THREADS": "1"})
    args = ["--store", redis.url, "--database", "postgresql://127.0.0.1:1/unused", "--role", "gateway"]
    gateway = Server(tmp_path / "gateway", env, free_port(), args=args)
    paused = False
    try:
        gateway.start()
        assert gateway.wait_ready(), gateway.describe_logs()
        sales = [gateway.new_sale(stock=5) for _ in range(3)]
        for sale_id in sales:
            gateway.accepted(sale_id, "buyer")
        wait_until(lambda: all(f'flashgate_sale_remaining{{sale="{s}"}} 4' in gateway.get("/metrics").text
                               for s in sales), timeout=15, message="the sales in /metrics")

        os.kill(redis.pid(), signal.SIGSTOP)
        paused = True
        scrape = {}

        def scrape_metrics():
            try:
                scrape["response"] = requests.get(gateway.url("/metrics"), timeout=60)
            except requests.RequestException as e:
                scrape["error"] = e

        scraper = threading.Thread(target=scrape_metrics)
        scraper.start()
        time.sleep(0.5)  # the scrape is in the gateway's only HTTP thread first
        # Upper bounds for an answer from memory, far below the seconds a Redis round trip waits.
        health = requests.get(gateway.url("/healthz"), timeout=3)
        assert health.status_code == 200
        scraper.join(timeout=60)
        assert "response" in scrape, scrape
        assert scrape["response"].status_code == 200
        # The last values gathered, not an empty page.
        for sale_id in sales:
            assert f'flashgate_sale_remaining{{sale="{sale_id}"}} 4' in scrape["response"].text
    finally:
        if paused:
            os.kill(redis.pid(), signal.SIGCONT)
        gateway.stop()
        redis.stop()
