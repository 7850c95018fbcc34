"""Shutdown under a stream of changes: a Redis gateway SIGTERMed while another
process writes changes as fast as it can exits 0, every time, with nothing
reported by the sanitizers (issue #20, item 4).

The gateway's change-feed thread calls the store's listeners (event streams,
long polls), which capture objects of `app::serve`; the Redis client's thread
runs callbacks into the near-cache. Both must be joined before what they touch
is destroyed. In the asan pass of scripts/test this runs against the
sanitized binary, where a use after free is an error report and exit code 1;
the release pass checks the same exit codes.

And no intake is cut by the stop: those whose Redis replies come back after
the SIGTERM (Redis paused across it) are answered, the server's stop waits
for them.

The first runs in both passes' embedded run only: it starts its own Redis.
The second runs in both deployments: a gateway of its own Redis when
embedded, a gateway of the deployment's Redis and PostgreSQL when distributed.
"""

import http.client
import json
import os
import signal
import socket
import threading
import time

import pytest

from flashgate_harness import RedisServer, Server, child_env, distributed, free_port, unique_id, wait_until

ROUNDS = 20
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "heap-use-after-free")


class ChangeWriter:
    """Threads that buy with fresh users through one gateway, as fast as it answers: every intake is a change."""

    def __init__(self, gateway, sale_id, threads=4):
        self.gateway, self.sale_id = gateway, sale_id
        self.stop_flag = threading.Event()
        self.accepted = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        for t in self.threads:
            t.join(timeout=10)

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.gateway.port, timeout=5)
        path = f"/api/sales/{self.sale_id}/orders"
        while not self.stop_flag.is_set():
            body = json.dumps({"user_id": unique_id("u")})
            try:
                conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.gateway.port, timeout=5)
                continue
            if response.status == 202:
                with self.lock:
                    self.accepted += 1


def launch_gateway(tmp_path, redis, name, settings=None):
    args = ["--store", redis.url, "--database", "postgresql://127.0.0.1:1/unused", "--role", "gateway"]
    env = child_env({"FLASHGATE_INTAKE_RATE": "0", "FLASHGATE_POLL_RATE": "0", "FLASHGATE_THREADS": "2", **(settings or {})})
    server = Server(tmp_path / name, env, free_port(), args=args)
    server.start()
    assert server.wait_ready(), server.describe_logs()
    return server


@pytest.mark.embedded_only(reason="starts its own Redis and gateways")
def test_redis_gateway_stops_cleanly_while_changes_stream_in(tmp_path):
    redis = RedisServer(tmp_path / "redis").start()
    writer_gateway = None
    try:
        writer_gateway = launch_gateway(tmp_path, redis, "writer")
        sale_id = writer_gateway.new_sale(stock=10_000_000)
        with ChangeWriter(writer_gateway, sale_id) as writer:
            wait_until(lambda: writer.accepted > 50, timeout=30, message="changes flowing")
            for round_ in range(ROUNDS):
                gateway = launch_gateway(tmp_path, redis, f"gateway-{round_}")
                seen = writer.accepted
                # The gateway under test is following the feed (it holds the sale's orders)
                # before it is stopped: changes are arriving as the signal lands.
                wait_until(lambda: writer.accepted > seen + 20, timeout=30, message="more changes")
                time.sleep(0.2)
                code = gateway.stop(timeout=30)
                logs = gateway.logs()
                assert code == 0, f"round {round_}: exit code {code}\n{gateway.describe_logs()}"
                assert not any(mark in logs for mark in SANITIZER_MARKS), f"round {round_}:\n{logs[-6000:]}"
                assert "stopped cleanly" in logs, f"round {round_}:\n{logs[-3000:]}"
    finally:
        if writer_gateway is not None:
            writer_gateway.stop()
        redis.stop()


def refuses_connections(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except OSError:
        return True


def intake(port, sale_id, answers, index):
    """One intake on its own connection: its status, or what cut it."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("POST", f"/api/sales/{sale_id}/orders", body=json.dumps({"user_id": unique_id("u")}),
                     headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        answers[index] = response.status
    except (OSError, http.client.HTTPException) as e:
        answers[index] = repr(e)
    finally:
        conn.close()


@pytest.fixture
def redis_gateway(tmp_path, start_server):
    """A gateway-role process and its Redis: the deployment's, or one of its own when embedded."""
    # The drain's bound (half the shutdown's) is far beyond the pause: the test, not a deadline, ends the wait.
    settings = {"FLASHGATE_SHUTDOWN_TIMEOUT": "300s"}
    if distributed():
        gateway = start_server({"FLASHGATE_ROLE": "gateway", "FLASHGATE_INTAKE_RATE": "0", **settings})
        yield gateway, gateway.backend.redis
        return
    redis = RedisServer(tmp_path / "redis").start()
    gateway = None
    try:
        gateway = launch_gateway(tmp_path, redis, "gateway", settings)
        yield gateway, redis
    finally:
        if gateway is not None:
            gateway.stop()
        redis.stop()


def test_intakes_waiting_for_redis_at_sigterm_are_answered(redis_gateway):
    """Intakes sent to a Redis gateway whose Redis replies have not come back
    when SIGTERM lands (Redis paused) are answered once Redis resumes, not cut:
    the server's stop waits for the answers handlers owe (api.md: on SIGTERM
    in-flight requests are answered)."""
    gateway, redis = redis_gateway
    paused = False
    try:
        sale_id = gateway.new_sale(stock=1000)
        os.kill(redis.pid(), signal.SIGSTOP)
        paused = True
        answers = [None] * 20
        senders = [threading.Thread(target=intake, args=(gateway.port, sale_id, answers, i)) for i in range(len(answers))]
        for sender in senders:
            sender.start()
        time.sleep(0.5)  # the gateway reads them and sends their commands to the paused Redis
        gateway.proc.send_signal(signal.SIGTERM)
        wait_until(lambda: refuses_connections(gateway.port), timeout=30, message="the gateway's stop to begin")
        time.sleep(0.5)  # a stop that does not wait for the answers has closed their connections by now
        os.kill(redis.pid(), signal.SIGCONT)
        paused = False
        for sender in senders:
            sender.join(timeout=120)
        assert all(answer in (200, 202, 503) for answer in answers), f"{answers}\n{gateway.describe_logs()}"
        assert gateway.proc.wait(timeout=120) == 0, gateway.describe_logs()
        assert "stopped cleanly" in gateway.logs()
    finally:
        if paused:
            os.kill(redis.pid(), signal.SIGCONT)
