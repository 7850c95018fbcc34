"""scripts/run-local-cluster and deploy/: the local cluster starts, serves through nginx, and stops.

`scripts/run-local-cluster --check` starts Redis, PostgreSQL, the example shop
(examples/shop/shop.py, the workers' --order-sink), two workers, two gateways
and nginx (deploy/nginx/flashgate.conf) on free ports, creates a sale, buys,
polls, streams, pays and long-polls through nginx, has the shop refuse a buyer
(FAILED with its message, the others CONFIRMED, one shop order per confirmed
order), and stops everything.
The systemd unit in deploy/systemd is checked with `systemd-analyze verify`
where that tool exists. Runs in the embedded pass only (it starts its own
deployment; the distributed pass would repeat it).
"""

import os
import re
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest
import requests

from flashgate_harness import REPO, flashgate_bin, free_port, port_is_free

pytestmark = pytest.mark.embedded_only(reason="starts its own cluster; it runs once, in the embedded pass")

SCRIPT = REPO / "scripts" / "run-local-cluster"
UNIT = REPO / "deploy" / "systemd" / "flashgate.service"
ENV_EXAMPLE = REPO / "deploy" / "systemd" / "flashgate.env.example"
NGINX_CONF = REPO / "deploy" / "nginx" / "flashgate.conf"
CHECK_TIMEOUT = 240  # an upper bound, never a performance claim: setup, initdb, five processes
STREAMS = 1_500  # issue #20: more than a gateway's default 1,000 connections per client
STREAMS_TIMEOUT = 120  # an upper bound for every stream's head, never a performance claim


def run(cmd, timeout, env=None):
    return subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL
    )


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed (scripts/setup installs nginx-light)")
@pytest.mark.parametrize("redis", ["one Redis", "--redis-cluster"])
def test_run_local_cluster_check_serves_through_nginx_and_stops_everything(redis):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASHGATE_")}
    env["FLASHGATE_BIN"] = str(flashgate_bin())
    before = set((REPO / "data").glob("cluster-check.*"))
    flags = ["--check"] + (["--redis-cluster"] if redis == "--redis-cluster" else [])
    try:
        result = run([SCRIPT, *flags], CHECK_TIMEOUT, env=env)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"run-local-cluster --check still running after {CHECK_TIMEOUT}s\n{e.stdout}\n{e.stderr}")
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"exit {result.returncode}\n{output[-6000:]}"
    assert "check passed" in output, output[-3000:]
    for step in ("created through nginx", "polled through nginx: CONFIRMED", "event stream through nginx",
                 "long poll through nginx: PAID",
                 "the shop refused blocked-check: FAILED with its message, the others CONFIRMED",
                 "the shop's GET /orders holds one order per confirmed order (2)"):
        assert step in output, f"missing step {step!r}\n{output[-3000:]}"
    # Its own data dir is gone, and every process it started with it.
    after = set((REPO / "data").glob("cluster-check.*"))
    assert after <= before, f"left behind: {sorted(after - before)}"
    ports = re.findall(r"on 127\.0\.0\.1:(\d+), pid (\d+)", output)
    assert len(ports) == 4, output[-3000:]
    shop = re.findall(r"example shop http://127\.0\.0\.1:\d+ \(pid (\d+)\)", output)
    assert len(shop) == 1, output[-3000:]
    for _port, pid in ports + [(None, shop[0])]:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower(), (
            f"pid {pid} still running after the check"
        )
    store = re.search(r"run-local-cluster: redis (\S+)", output).group(1)
    if redis == "--redis-cluster":
        nodes = store.removeprefix("redis-cluster://").split(",")
        assert store.startswith("redis-cluster://") and len(nodes) == 6, store
        for node in nodes:  # every node stopped with the rest
            assert port_is_free(int(node.rsplit(":", 1)[1])), f"a Redis Cluster node still listens on {node}"
    else:
        assert store.startswith("redis://"), store


def raise_descriptor_limit(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need if hard == resource.RLIM_INFINITY else min(need, hard), hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < need:
        pytest.skip(f"cannot open {need} descriptors here (hard limit {hard})")


class LocalCluster:
    """scripts/run-local-cluster left running (no --check) on free ports, with one gateway behind nginx."""

    def __init__(self, gateways=1):
        (REPO / "data").mkdir(exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix="cluster-test.", dir=REPO / "data"))
        self.port = free_port()
        self.admin_token = os.urandom(16).hex()
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLASHGATE_")}
        env.update(
            FLASHGATE_BIN=str(flashgate_bin()), FLASHGATE_CLUSTER_DIR=str(self.dir),
            FLASHGATE_CLUSTER_GATEWAYS=str(gateways), FLASHGATE_CLUSTER_PORT=str(self.port),
            FLASHGATE_GATEWAY_PORTS=f"{free_port()},{free_port()}", FLASHGATE_WORKER_PORTS=f"{free_port()},{free_port()}",
            FLASHGATE_REDIS_PORT=str(free_port()), FLASHGATE_PG_PORT=str(free_port()),
            FLASHGATE_SHOP_PORT=str(free_port()), FLASHGATE_ADMIN_TOKEN=self.admin_token, FLASHGATE_PAYMENT_SECRET=os.urandom(16).hex(),
            FLASHGATE_TICKET_KEYS=os.urandom(32).hex(),
        )
        self.log = self.dir / "run-local-cluster.log"
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen([SCRIPT], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=env, start_new_session=True)

    def output(self):
        return self.log.read_text(errors="replace")

    def wait_serving(self):
        deadline = time.monotonic() + CHECK_TIMEOUT
        while "serving on" not in self.output():
            if self.proc.poll() is not None:
                pytest.fail(f"run-local-cluster exited ({self.proc.returncode})\n{self.output()[-4000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"run-local-cluster not serving after {CHECK_TIMEOUT}s\n{self.output()[-4000:]}")
            time.sleep(0.2)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the script stops nginx, the gateway, workers, Redis, PostgreSQL
            try:
                self.proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def open_event_streams(port, ticket, count):
    """`count` event streams through nginx, each from its own buyer (X-Forwarded-For, so that the
    gateway's per-client rate limits see `count` buyers); returns their sockets and each one's status
    (None if the connection closed before a head)."""
    socks, heads = [], {}
    selector = selectors.DefaultSelector()
    for i in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.sendall((f"GET /api/orders/events?ticket={ticket} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      f"X-Forwarded-For: 10.20.{i >> 8}.{i & 255}\r\nAccept: text/event-stream\r\n\r\n").encode())
        sock.setblocking(False)
        socks.append(sock)
        heads[sock] = b""
        selector.register(sock, selectors.EVENT_READ)
    statuses = {}
    deadline = time.monotonic() + STREAMS_TIMEOUT
    while len(statuses) < count and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=1):
            sock = key.fileobj
            try:
                chunk = sock.recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                chunk = b""
            heads[sock] += chunk
            if not chunk or b"\r\n" in heads[sock]:
                first = heads[sock].split(b"\r\n", 1)[0].split()
                statuses[sock] = int(first[1]) if len(first) > 1 and first[1].isdigit() else None
                selector.unregister(sock)
    selector.close()
    return socks, [statuses.get(sock, "no head") for sock in socks]


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed (scripts/setup installs nginx-light)")
def test_1500_event_streams_through_nginx_to_one_gateway_leave_room_for_an_intake():
    """Behind nginx every connection comes from nginx's address: the per-client connection bound
    (1,000) must not apply to a trusted proxy, or buyer 1,001 gets 502 on everything."""
    raise_descriptor_limit(STREAMS + 1_000)
    cluster = LocalCluster(gateways=1)
    socks = []
    try:
        cluster.wait_serving()
        admin = {"Authorization": f"Bearer {cluster.admin_token}"}
        sale_id = f"streams-{os.getpid()}"
        created = requests.post(cluster.url("/api/admin/sales"), headers=admin, timeout=30,
                                json={"sale_id": sale_id, "item": "streams", "stock": 10})
        assert created.status_code == 201, created.text
        bought = requests.post(cluster.url(f"/api/sales/{sale_id}/orders"), json={"user_id": "streamer"},
                               headers={"X-Forwarded-For": "10.30.0.1"}, timeout=30)
        assert bought.status_code == 202, bought.text
        socks, statuses = open_event_streams(cluster.port, bought.json()["ticket"], STREAMS)
        late = requests.post(cluster.url(f"/api/sales/{sale_id}/orders"), json={"user_id": "buyer-1501"},
                             headers={"X-Forwarded-For": "10.30.0.2"}, timeout=30)
        counts = Counter(statuses)
        seen = f"streams through nginx: {dict(counts)}; an intake behind them: {late.status_code} {late.text[:200]}"
        assert counts == {200: STREAMS}, seen
        assert late.status_code == 202, seen
    finally:
        for sock in socks:
            sock.close()
        cluster.stop()


def test_nginx_conf_is_valid_and_stream_and_long_poll_friendly(tmp_path):
    text = NGINX_CONF.read_text()
    events = re.search(r"location = /api/orders/events \{(.*?)\}", text, re.S).group(1)
    assert "proxy_buffering off;" in events
    status = re.search(r"location = /api/orders/status \{(.*?)\}", text, re.S).group(1)
    timeout = re.search(r"proxy_read_timeout (\d+)s;", status)
    assert timeout and int(timeout.group(1)) > 30, status
    for directive in ("proxy_http_version 1.1;", 'proxy_set_header Connection "";', "keepalive ",
                      "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;"):
        assert directive in text, directive
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed")
    (tmp_path / "temp").mkdir()
    conf = tmp_path / "nginx.conf"
    user = "user root root;\n" if os.geteuid() == 0 else ""
    conf.write_text(
        f"{user}pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n  client_body_temp_path {tmp_path}/temp/c;\n  proxy_temp_path {tmp_path}/temp/p;\n"
        f"  fastcgi_temp_path {tmp_path}/temp/f;\n  uwsgi_temp_path {tmp_path}/temp/u;\n"
        f"  scgi_temp_path {tmp_path}/temp/s;\n  access_log off;\n  include {NGINX_CONF};\n}}\n"
    )
    result = run(["nginx", "-t", "-p", tmp_path, "-c", conf, "-e", tmp_path / "error.log"], 30)
    assert result.returncode == 0, result.stderr


def test_systemd_unit_verifies(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    # The unit names /usr/local/bin/flashgate; verify a copy that names the binary we have.
    unit = tmp_path / "flashgate.service"
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/flashgate", str(flashgate_bin())))
    result = run(["systemd-analyze", "verify", "--man=no", unit], 60)
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0 and re.search(r"(?i)failed to (connect|initialize|set up)|not been booted|System has not", output):
        pytest.skip(f"systemd-analyze cannot run here: {output[:300]}")
    assert result.returncode == 0, output
    # Messages about the unit itself (other units' noise in a container is not ours).
    ours = [line for line in output.splitlines() if "flashgate.service" in line]
    assert not ours, "\n".join(ours)


def test_systemd_environment_example_names_only_real_settings():
    help_text = run([flashgate_bin(), "serve", "--help"], 30).stdout
    known = set(re.findall(r"\[(FLASHGATE_[A-Z_]+)\]", help_text))
    assert known, help_text[:500]
    named = set(re.findall(r"^#?\s*(FLASHGATE_[A-Z_]+)=", ENV_EXAMPLE.read_text(), re.M))
    assert named, "the example sets nothing"
    assert named <= known, f"settings the binary does not know: {sorted(named - known)}"
    assert "EnvironmentFile=" in UNIT.read_text()
