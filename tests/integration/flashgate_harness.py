"""The harness of the black-box tests: start the real flashgate binary, talk HTTP to it.

The binary comes from $FLASHGATE_BIN (default <repo>/build/release/flashgate).
Each server gets a free port on 127.0.0.1 and its own data dir, where its
stdout and stderr are written (conftest.py attaches them to failing reports).

Two deployments, chosen by $FLASHGATE_TEST_DEPLOYMENT:

- embedded (the default): `flashgate serve` on the memory store and SQLite in
  the data dir, exactly as a user runs it with no flags.
- distributed: every server is `--store redis://... --database postgresql://...
  --role all`. Each data dir gets its own redis-server (scripts/testenv/redis,
  AOF appendfsync always, under <data dir>/redis, on a free port), so no two
  test servers ever share a queue; all of them share the session's PostgreSQL
  cluster (conftest.py starts it once, scripts/testenv/postgres). The ticket
  keys are generated per data dir and passed as FLASHGATE_TICKET_KEYS (unless
  the test sets them), so a restart on the same data dir keeps them, as the
  key file does in the embedded deployment. Tests marked `embedded_only` are
  skipped in this mode.
- cluster: as distributed, but `--store redis-cluster://...`: each data dir
  leases a Redis Cluster of 3 masters (scripts/testenv/redis-cluster with
  CLUSTER_REPLICAS=0). A cluster takes seconds to form, so a test's clusters
  are emptied (FLUSHALL on every master) when its servers have stopped and
  lent to the next test; every test still starts on an empty store.
  `distributed()` is true here too; `redis_cluster()` tells the two apart.
"""

import atexit
import datetime as dt
import hashlib
import hmac
import http.client
import io
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
import weakref
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from openapi_check import RECORDER

# Every response the suite gets through requests (Server helpers, server.http, plain
# requests.get/post) and every SSEStream answer and event is checked against
# docs/openapi.yaml at the end of the test that got it (openapi_check.py, conftest.py).
RECORDER.install_requests_hook()

REPO = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO / "build" / "release" / "flashgate"

ADMIN_TOKEN = "it-admin-token-7f3c9a1e5b2d4c6e8a0f"
PAYMENT_SECRET = "it-payment-secret-4e6a8c0b2d4f6a8c"

READY_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
REQUEST_TIMEOUT = 10.0

STATUSES = ("QUEUED", "PROCESSING", "CONFIRMED", "PAID", "FAILED", "CANCELLED")
FINAL_STATUSES = ("PAID", "FAILED", "CANCELLED")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")

STARTED_SERVERS = []  # every Server of the session, for the failure report

DEPLOYMENTS = ("embedded", "distributed", "cluster")
DEPLOYMENT = (os.environ.get("FLASHGATE_TEST_DEPLOYMENT") or "embedded").strip().lower()
if DEPLOYMENT not in DEPLOYMENTS:
    raise RuntimeError(f"FLASHGATE_TEST_DEPLOYMENT must be one of {DEPLOYMENTS}, not {DEPLOYMENT!r}")

REDIS_SCRIPT = REPO / "scripts" / "testenv" / "redis"
REDIS_CLUSTER_SCRIPT = REPO / "scripts" / "testenv" / "redis-cluster"
POSTGRES_SCRIPT = REPO / "scripts" / "testenv" / "postgres"
PG_BIN = Path(os.environ.get("FLASHGATE_PG_BIN", "/usr/lib/postgresql/15/bin"))


# --------------------------------------------------------------------------- helpers


def flashgate_bin():
    return Path(os.environ.get("FLASHGATE_BIN", str(DEFAULT_BIN)))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def distributed():
    """True when the suite runs against a distributed deployment (Redis or Redis Cluster, and PostgreSQL)."""
    return DEPLOYMENT in ("distributed", "cluster")


def redis_cluster():
    """True when the distributed deployment under test stores in a Redis Cluster."""
    return DEPLOYMENT == "cluster"


def new_ticket_key():
    return os.urandom(32).hex()


def unique_id(prefix="s"):
    return f"{prefix}-{uuid.uuid4().hex[:20]}"


def rfc3339(when):
    """A UTC datetime as RFC 3339 with milliseconds, e.g. 2026-11-24T12:00:00.000Z."""
    when = when.astimezone(dt.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def from_now(seconds):
    return rfc3339(dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds))


def parse_rfc3339(text):
    assert isinstance(text, str) and RFC3339.match(text), f"not RFC 3339: {text!r}"
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def wait_until(predicate, timeout=15.0, interval=0.05, message="condition"):
    """Poll predicate until it returns something truthy and return that.

    timeout is only an upper bound for waiting, never a performance claim.
    """
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}; last value: {last!r}")
        time.sleep(interval)


def json_body(response):
    try:
        return response.json()
    except ValueError:
        raise AssertionError(
            f"{response.request.method} {response.request.path_url} -> {response.status_code}: "
            f"body is not JSON: {response.text[:500]!r}"
        ) from None


def content_type(response):
    return response.headers.get("Content-Type", "").split(";")[0].strip().lower()


def assert_error(response, status, code=None):
    """The response is an error of the contract's shape: {"error": code, "message": text}."""
    where = f"{response.request.method} {response.request.path_url}"
    assert response.status_code == status, f"{where}: expected {status}, got {response.status_code}: {response.text[:500]}"
    assert content_type(response) == "application/json", f"{where}: Content-Type {response.headers.get('Content-Type')!r}"
    body = json_body(response)
    assert isinstance(body, dict), f"{where}: error body is not an object: {body!r}"
    assert isinstance(body.get("error"), str) and body["error"], f"{where}: no error code: {body!r}"
    assert isinstance(body.get("message"), str) and body["message"].strip(), f"{where}: no message: {body!r}"
    if code is not None:
        assert body["error"] == code, f"{where}: expected error {code!r}, got {body!r}"
    return body


def assert_json(response, status):
    where = f"{response.request.method} {response.request.path_url}"
    assert response.status_code == status, f"{where}: expected {status}, got {response.status_code}: {response.text[:500]}"
    assert content_type(response) == "application/json", f"{where}: Content-Type {response.headers.get('Content-Type')!r}"
    return json_body(response)


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def sign(body, secret=PAYMENT_SECRET):
    """X-Signature of a raw body: lowercase hex HMAC-SHA256 with the payment secret."""
    if isinstance(body, str):
        body = body.encode()
    if isinstance(secret, str):
        secret = secret.encode()
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


# --------------------------------------------------------------------------- server-sent events


class SSEEvent:
    """One dispatched server-sent event (fields as sent; data lines joined by newlines)."""

    def __init__(self, event, id, data, comments):
        self.event = event  # None when the event had no "event:" field (type "message")
        self.id = id  # None when the event had no "id:" field
        self.data = data
        self.comments = comments  # comment lines (":...") seen since the previous event

    def json(self):
        try:
            return json.loads(self.data)
        except ValueError:
            raise AssertionError(f"event data is not JSON: {self.data[:500]!r}") from None

    def __repr__(self):
        return f"SSEEvent(event={self.event!r}, id={self.id!r}, data={self.data[:300]!r})"


class SSEStream:
    """A raw HTTP/1.1 GET of an event stream over a plain socket, read event by event.

    After construction: status, headers, content_type; for a non-200 answer, body
    (bytes) holds the whole response. For 200, next_event()/events_until_eof() read
    the stream; comments (lines starting with ":") are collected in self.comments.
    A read that times out raises socket.timeout and leaves the stream usable (so a
    test can check that nothing arrives for a while and then read on).
    """

    def __init__(self, server, path, headers=None, timeout=REQUEST_TIMEOUT):
        self._port, self._path = server.port, path  # for RECORDER.record_sse_event
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
        sent = {"Host": f"127.0.0.1:{server.port}", "Accept": "text/event-stream", **(headers or {})}
        request = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in sent.items()) + "\r\n"
        self.sock.sendall(request.encode("latin-1"))
        self._raw = b""  # bytes received and not yet decoded
        self._buf = b""  # decoded body bytes not yet consumed
        self._raw_eof = False
        self._chunked = False
        self._chunk_left = 0
        self._body_done = False
        self.comments = []
        self.eof = False
        self.body = None

        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self._raw:
            if not self._recv(deadline - time.monotonic()):
                raise ConnectionError(f"connection closed before the response head: {self._raw[:300]!r}")
        head, self._raw = self._raw.split(b"\r\n\r\n", 1)
        status_line, _, header_block = head.decode("latin-1").partition("\r\n")
        parts = status_line.split(" ", 2)
        self.status = int(parts[1])
        self.reason = parts[2] if len(parts) > 2 else ""
        self.headers = http.client.parse_headers(io.BytesIO(header_block.encode("latin-1") + b"\r\n\r\n"))
        self.content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        self._chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        length = self.headers.get("Content-Length")
        self._length_left = int(length) if length is not None and not self._chunked else None
        if self.status != 200:
            chunks = []
            while True:
                data = self._read_body(deadline - time.monotonic())
                if not data:
                    break
                chunks.append(data)
            self.body = b"".join(chunks)
            self.close()
        RECORDER.record_sse_response(server.port, path, self.status, self.headers, self.body)

    # -- bytes

    def _recv(self, timeout):
        """One recv into _raw; False at EOF; socket.timeout if nothing within timeout."""
        if self._raw_eof:
            return False
        if timeout is not None and timeout <= 0:
            raise socket.timeout("timed out")
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            raise socket.timeout("timed out")
        data = self.sock.recv(65536)
        if not data:
            self._raw_eof = True
            return False
        self._raw += data
        return True

    def _read_body(self, timeout):
        """Some decoded body bytes (b"" at the end of the body); socket.timeout if none in time."""
        deadline = time.monotonic() + (timeout if timeout is not None else 1e9)
        while True:
            if self._body_done:
                return b""
            if not self._chunked:
                if self._length_left == 0:
                    self._body_done = True
                    return b""
                if self._raw:
                    data = self._raw if self._length_left is None else self._raw[: self._length_left]
                    self._raw = self._raw[len(data) :]
                    if self._length_left is not None:
                        self._length_left -= len(data)
                    return data
            else:
                if self._chunk_left > 0 and self._raw:
                    data = self._raw[: self._chunk_left]
                    self._raw = self._raw[len(data) :]
                    self._chunk_left -= len(data)
                    return data
                if self._chunk_left == 0 and b"\r\n" in self._raw:
                    line, rest = self._raw.split(b"\r\n", 1)
                    if line == b"":  # the CRLF after a chunk's data
                        self._raw = rest
                        continue
                    size = int(line.split(b";")[0].strip(), 16)
                    self._raw = rest
                    if size == 0:
                        self._body_done = True
                        return b""
                    self._chunk_left = size
                    continue
            if not self._recv(deadline - time.monotonic()):
                self._body_done = True
                return b""

    def _readline(self, deadline):
        """One line of the body (with its end), or b"" at the end of the stream."""
        while True:
            for sep in (b"\n", b"\r"):
                i = self._buf.find(sep)
                if i >= 0:
                    end = i + 1
                    if sep == b"\r":
                        if end == len(self._buf) and not self._body_done:
                            break  # a lone CR at the end: wait to see whether LF follows
                        if self._buf[end : end + 1] == b"\n":
                            end += 1
                    elif b"\r" in self._buf[:i]:
                        continue  # a CR line ends first
                    line, self._buf = self._buf[:end], self._buf[end:]
                    return line
            data = self._read_body(deadline - time.monotonic())
            if not data:
                line, self._buf = self._buf, b""
                return line
            self._buf += data

    # -- the stream

    def json_error(self):
        """The JSON error body of a refused stream: {"error", "message"}."""
        assert self.body is not None, f"stream was accepted ({self.status}), no error body"
        assert self.content_type == "application/json", f"error Content-Type {self.headers.get('Content-Type')!r}"
        try:
            body = json.loads(self.body)
        except ValueError:
            raise AssertionError(f"error body is not JSON: {self.body[:500]!r}") from None
        assert isinstance(body, dict) and isinstance(body.get("error"), str), body
        assert isinstance(body.get("message"), str) and body["message"].strip(), body
        return body

    def settimeout(self, timeout):
        """Kept for compatibility: every read takes its own timeout."""

    def next_event(self, timeout=REQUEST_TIMEOUT):
        """The next dispatched event; None at end of stream; socket.timeout if none in time.

        A timeout keeps what was read so far of a partial event for the next call.
        """
        deadline = time.monotonic() + timeout
        pending = getattr(self, "_pending", None) or (None, None, [], [], False)
        event, ident, data, comments, seen_field = pending
        self._pending = None
        while True:
            try:
                raw = self._readline(deadline)
            except socket.timeout:
                self._pending = (event, ident, data, comments, seen_field)
                raise
            if not raw:
                self.eof = True
                return None
            line = raw.decode("utf-8").rstrip("\r\n")
            if line == "":
                if seen_field:
                    RECORDER.record_sse_event(self._port, self._path, event, ident, "\n".join(data))
                    return SSEEvent(event, ident, "\n".join(data), comments)
                continue
            if line.startswith(":"):
                comments.append(line)
                self.comments.append(line)
                continue
            name, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            seen_field = True
            if name == "event":
                event = value
            elif name == "id":
                ident = value
            elif name == "data":
                data.append(value)

    def next_status_event(self, timeout=REQUEST_TIMEOUT, others=None):
        """The next event of type "status" (other events are appended to `others`)."""
        deadline = time.monotonic() + timeout
        while True:
            ev = self.next_event(max(deadline - time.monotonic(), 0.001))
            if ev is None or ev.event == "status":
                return ev
            if others is not None:
                others.append(ev)

    def events_until_eof(self, timeout=REQUEST_TIMEOUT):
        """Every event until the server closes the stream; socket.timeout if it stays open."""
        deadline = time.monotonic() + timeout
        events = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout(f"stream still open after {timeout}s; events so far: {events}")
            try:
                ev = self.next_event(left)
            except socket.timeout:
                raise socket.timeout(f"stream still open after {timeout}s; events so far: {events}") from None
            if ev is None:
                return events
            events.append(ev)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --------------------------------------------------------------------------- the server


class Server:
    """One running flashgate process and a small client for its API."""

    def __init__(self, data_dir, env, port, args=(), backend=None):
        self.data_dir = Path(data_dir)
        self.env = env
        self.port = port
        self.args = list(args)  # extra flags of `flashgate serve` (--store, --role, ...)
        self.backend = backend  # distributed: the DistributedBackend of the data dir
        RECORDER.add_port(port)  # its answers are checked against docs/openapi.yaml
        self.base_url = f"http://127.0.0.1:{port}"
        self.admin_token = env.get("FLASHGATE_ADMIN_TOKEN")
        self.payment_secret = env.get("FLASHGATE_PAYMENT_SECRET")
        self.stdout_path = self.data_dir / "flashgate.stdout.log"
        self.stderr_path = self.data_dir / "flashgate.stderr.log"
        self.proc = None
        self.started_at = None
        self.stopped_at = None
        self.killed = False
        self.shared = False  # True for the session's default server
        self._local = threading.local()
        self._sessions = weakref.WeakSet()
        self._sessions_lock = threading.Lock()

    # -- process

    def start(self):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [str(flashgate_bin()), "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.data_dir)]
        cmd += self.args
        with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen(cmd, env=self.env, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=self.data_dir)
        self.started_at = time.time()
        STARTED_SERVERS.append(self)

    def wait_ready(self, timeout=READY_TIMEOUT):
        """True once GET /healthz answers 200; False if the process exits first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if requests.get(self.url("/healthz"), timeout=1.0).status_code == 200:
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"flashgate on port {self.port} not ready within {timeout}s\n{self.describe_logs()}")

    def is_running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, then SIGKILL after timeout seconds; returns the exit code."""
        self.close_sessions()
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.killed = True
                self.proc.kill()
                self.proc.wait()
        if self.stopped_at is None:
            self.stopped_at = time.time()
        return self.proc.returncode

    def logs(self):
        parts = []
        for path in (self.stdout_path, self.stderr_path):
            try:
                parts.append(path.read_text(errors="replace"))
            except FileNotFoundError:
                pass
        return "\n".join(parts)

    def log_tail(self, path, lines=150):
        try:
            text = path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no file)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty)"

    def describe_logs(self):
        code = self.proc.poll() if self.proc else None
        text = (
            f"--- flashgate :{self.port} exit code {code}, data dir {self.data_dir}\n"
            f"--- stdout\n{self.log_tail(self.stdout_path)}\n--- stderr\n{self.log_tail(self.stderr_path)}"
        )
        if self.backend is not None and self.backend.redis is not None:
            text += f"\n--- redis :{self.backend.redis.port}\n{self.backend.redis.log_tail(30)}"
        return text

    # -- HTTP

    @property
    def http(self):
        """A requests.Session of the calling thread (keep-alive, thread-safe use)."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            self._local.session = session
            with self._sessions_lock:
                self._sessions.add(session)
        return session

    def close_sessions(self):
        with self._sessions_lock:
            sessions = list(self._sessions)
        for session in sessions:
            session.close()

    def url(self, path):
        return self.base_url + path

    def request(self, method, path, **kwargs):
        kwargs.setdefault("timeout", REQUEST_TIMEOUT)
        return self.http.request(method, self.url(path), **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def admin_headers(self, token=None):
        return {"Authorization": f"Bearer {token or self.admin_token}"}

    # -- API helpers (each returns the raw response unless said otherwise)

    def create_sale(self, body, token=None, headers=None):
        """POST /api/admin/sales; body is a dict (sent as JSON) or raw str/bytes."""
        if headers is None:
            headers = self.admin_headers(token)
        if isinstance(body, (str, bytes)):
            headers = {**headers, "Content-Type": "application/json"}
            return self.post("/api/admin/sales", data=body, headers=headers)
        return self.post("/api/admin/sales", json=body, headers=headers)

    def new_sale(self, stock=10, item="flash widget", sale_id=None, starts_at=None, ends_at=None):
        """Create a sale (asserting 201) and return its id."""
        body = {"sale_id": sale_id or unique_id("sale"), "item": item, "stock": stock}
        if starts_at is not None:
            body["starts_at"] = starts_at
        if ends_at is not None:
            body["ends_at"] = ends_at
        response = self.create_sale(body)
        assert response.status_code == 201, f"create sale: {response.status_code} {response.text[:500]}"
        return body["sale_id"]

    def get_sale(self, sale_id):
        return self.get(f"/api/sales/{quote(sale_id, safe='')}")

    def sale(self, sale_id):
        """The sale object (asserting 200)."""
        return assert_json(self.get_sale(sale_id), 200)

    def get_stats(self, sale_id, token=None, headers=None):
        if headers is None:
            headers = self.admin_headers(token)
        return self.get(f"/api/admin/sales/{quote(sale_id, safe='')}/stats", headers=headers)

    def stats(self, sale_id):
        return assert_json(self.get_stats(sale_id), 200)

    def buy(self, sale_id, user_id, body=None):
        """POST /api/sales/{id}/orders; body overrides {"user_id"} (dict or raw str/bytes)."""
        path = f"/api/sales/{quote(sale_id, safe='')}/orders"
        if body is None:
            return self.post(path, json={"user_id": user_id})
        if isinstance(body, (str, bytes)):
            return self.post(path, data=body, headers={"Content-Type": "application/json"})
        return self.post(path, json=body)

    def accepted(self, sale_id, user_id):
        """Buy and assert 202; returns the intake answer."""
        return assert_json(self.buy(sale_id, user_id), 202)

    def poll(self, ticket, **params):
        """GET /api/orders/status?ticket=..."""
        return self.get("/api/orders/status", params={"ticket": ticket, **params})

    def status(self, ticket):
        """The status object of a ticket (asserting 200)."""
        return assert_json(self.poll(ticket), 200)

    def notify(self, order_id=None, payment_id=None, amount=None, body=None, signature=None, secret=None, headers=None):
        """POST /api/payments/notify, signed with the payment secret unless `signature` is given.

        body overrides the JSON built from order_id/payment_id/amount (dict, str or bytes,
        sent as is); signature=False sends no X-Signature header.
        """
        if body is None:
            body = {"order_id": order_id, "payment_id": payment_id}
            if amount is not None:
                body["amount"] = amount
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        sent = {"Content-Type": "application/json", **(headers or {})}
        if signature is None:
            sent["X-Signature"] = sign(body, secret or self.payment_secret)
        elif signature is not False:
            sent["X-Signature"] = signature
        return self.post("/api/payments/notify", data=body, headers=sent)

    def pay(self, order_id, payment_id=None):
        """Notify a payment and assert 200 {"ok": true}; returns the payment id."""
        payment_id = payment_id or unique_id("pay")
        response = self.notify(order_id, payment_id)
        assert assert_json(response, 200) == {"ok": True}, response.text
        return payment_id

    def events(self, ticket, last_event_id=None, headers=None, timeout=REQUEST_TIMEOUT):
        """Open GET /api/orders/events?ticket=... as an SSEStream."""
        sent = dict(headers or {})
        if last_event_id is not None:
            sent["Last-Event-ID"] = str(last_event_id)
        return SSEStream(self, f"/api/orders/events?ticket={quote(ticket, safe='')}", headers=sent, timeout=timeout)

    def current(self, ticket):
        """The status object of a ticket right now (asserting 200): a long poll with wait=0,
        which is answered at once, where a plain poll made soon after another may be paced."""
        return assert_json(self.poll(ticket, wait=0), 200)

    def wait_for_status(self, ticket, wanted, timeout=20.0):
        wanted = (wanted,) if isinstance(wanted, str) else tuple(wanted)

        def reached():
            current = self.status(ticket)
            return current if current["status"] in wanted else None

        return wait_until(reached, timeout=timeout, message=f"ticket to reach {wanted}")


def child_env(overrides):
    """The environment of a child: ours without FLASHGATE_*, the test defaults, then overrides.

    An override of None removes the variable (e.g. to let the server generate a token).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASHGATE_")}
    env.update(
        FLASHGATE_ADMIN_TOKEN=ADMIN_TOKEN,
        FLASHGATE_PAYMENT_SECRET=PAYMENT_SECRET,
        FLASHGATE_SERVICE_TIME="0ms",
    )
    for key, value in (overrides or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = str(value)
    return env


# --------------------------------------------------------------------------- distributed backends


def port_is_free(port):
    """True if nothing listens on the port (connections in TIME_WAIT do not count, as for a server)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def pid_alive(pid):
    """True for a live process (a zombie counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def run_script(cmd, timeout=90, env=None):
    """Run a helper script; returns its stdout (raises with its stderr when it fails)."""
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout,
                            stdin=subprocess.DEVNULL, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {result.returncode}\n{result.stderr[-3000:]}")
    return result.stdout


class RedisServer:
    """A throw-away redis-server of scripts/testenv/redis (AOF, appendfsync always) in its own dir.

    The port is kept across stop()/start() (the AOF in the dir keeps the data), unless
    something else took it meanwhile.
    """

    def __init__(self, directory, port=None):
        self.dir = Path(directory)
        self.port = port

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}"

    @property
    def log_path(self):
        return self.dir / "redis.log"

    def pid(self):
        try:
            pid = int((self.dir / "redis.pid").read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def is_running(self):
        return self.pid() is not None

    def start(self):
        for _attempt in range(3):
            if self.port is None or (not self.is_running() and not port_is_free(self.port)):
                self.port = free_port()
            try:
                run_script([REDIS_SCRIPT, "start", self.dir, self.port], timeout=30)
            except RuntimeError:
                if "in use" in self.log_tail(5).lower():
                    self.port = None  # lost a race for the port: another one
                    continue
                raise
            # Whoever answers PING on the port must be ours (a lost race would answer too).
            answer = self.cli("CONFIG", "GET", "dir").split()
            if answer[-1:] != [str(self.dir.resolve())]:
                raise RuntimeError(f"the redis on port {self.port} is not the one in {self.dir}: {answer}")
            return self
        raise RuntimeError(f"redis in {self.dir} could not get a port\n{self.log_tail(20)}")

    def stop(self):
        """A clean shutdown (SIGTERM; scripts/testenv/redis stop)."""
        if self.dir.exists():
            run_script([REDIS_SCRIPT, "stop", self.dir], timeout=30)

    def crash(self):
        """SIGKILL: the server dies without any shutdown; only what the AOF holds survives."""
        pid = self.pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not pid_alive(pid), timeout=10, interval=0.02, message=f"redis pid {pid} to die")

    def cli(self, *args, timeout=10):
        result = subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "-p", str(self.port), *map(str, args)],
            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        )
        return result.stdout

    def log_tail(self, lines=30):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no redis.log)"

    def used_memory(self):
        """INFO memory's used_memory, in bytes."""
        return info_field(self.cli("INFO", "memory"), "used_memory")


def info_field(info, name):
    for line in info.splitlines():
        if line.startswith(name + ":"):
            return int(line.split(":", 1)[1])
    raise AssertionError(f"no {name} in INFO: {info[:200]!r}")


def key_slot(key):
    """Redis Cluster's slot of a key: CRC16/XMODEM of its hash tag (or of the whole key) modulo 16384."""
    opening = key.find("{")
    if opening >= 0:
        closing = key.find("}", opening + 1)
        if closing > opening + 1:
            key = key[opening + 1 : closing]
    crc = 0
    for byte in key.encode():
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc % 16384


class RedisCluster:
    """A throw-away Redis Cluster on loopback (scripts/testenv/redis-cluster): `masters` masters,
    each with `replicas` (0 or 1) replicas; every node AOF with an fsync per write."""

    def __init__(self, masters=3, replicas=0, node_timeout_ms=None, directory=None):
        self.masters_wanted = masters
        self.replicas = replicas
        self.node_timeout_ms = node_timeout_ms
        self.dir = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="flashgate-rc-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ports = []  # every node's, masters and replicas

    @property
    def url(self):
        return "redis-cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports)

    @property
    def log_path(self):
        return self.dir / str(self.ports[0]) / "redis.log"

    @property
    def port(self):
        """The first node's, for reports (the url names them all)."""
        return self.ports[0] if self.ports else None

    def log_tail(self, lines=30):
        tails = []
        for port in self.ports:
            try:
                text = (self.dir / str(port) / "redis.log").read_text(errors="replace")
            except OSError:
                text = "(no redis.log)"
            tails.append(f"[node :{port}]\n" + "\n".join(text.splitlines()[-max(3, lines // len(self.ports)):]))
        return "\n".join(tails)

    def _script_env(self):
        env = {**os.environ, "CLUSTER_REPLICAS": str(self.replicas)}
        if self.node_timeout_ms:
            env["CLUSTER_NODE_TIMEOUT"] = str(self.node_timeout_ms)
        return env

    def start(self):
        count = self.masters_wanted * (1 + self.replicas)
        for _attempt in range(3):
            ports = set()
            while len(ports) < 2 * count:
                ports.add(free_port())
            ports = sorted(ports)
            self.ports = ports[:count]
            nodes = [f"{port}:{bus}" for port, bus in zip(ports[:count], ports[count:])]
            result = subprocess.run([str(REDIS_CLUSTER_SCRIPT), "start", str(self.dir), *nodes],
                                    env=self._script_env(), capture_output=True, text=True, timeout=90,
                                    stdin=subprocess.DEVNULL)
            if result.returncode == 0:
                return self
            self.stop()
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir.mkdir(parents=True)
        raise RuntimeError(f"the Redis Cluster did not start\n{result.stderr[-3000:]}")

    def stop(self):
        run_script([REDIS_CLUSTER_SCRIPT, "stop", self.dir], timeout=60)

    def remove(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def kill_node(self, port):
        """SIGKILL one node, as a crash would."""
        run_script([REDIS_CLUSTER_SCRIPT, "kill", self.dir, port], timeout=30)

    def revive_node(self, port):
        run_script([REDIS_CLUSTER_SCRIPT, "revive", self.dir, port], env=self._script_env(), timeout=30)

    def node_cli(self, port, *args, timeout=10):
        result = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), *map(str, args)],
                                capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        return result.stdout

    def live_port(self):
        for port in self.ports:
            if self.node_cli(port, "PING").strip() == "PONG":
                return port
        raise RuntimeError("no node of the cluster answers")

    def cli(self, *args, timeout=10):
        """A command sent to the master of its key (redis-cli -c follows MOVED)."""
        result = subprocess.run(["redis-cli", "-c", "-h", "127.0.0.1", "-p", str(self.live_port()), *map(str, args)],
                                capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        return result.stdout

    def nodes(self):
        """CLUSTER NODES as dicts: id, port, flags (a set), master (id or '-'), slots [(first, last)]."""
        nodes = []
        for line in self.node_cli(self.live_port(), "CLUSTER", "NODES").splitlines():
            fields = line.split()
            if len(fields) < 8:
                continue
            slots = []
            for item in fields[8:]:
                if item.startswith("["):
                    continue  # a slot being migrated
                first, _, last = item.partition("-")
                slots.append((int(first), int(last or first)))
            nodes.append({"id": fields[0], "port": int(fields[1].split(":")[1].split("@")[0]),
                          "flags": set(fields[2].split(",")), "master": fields[3], "slots": slots})
        return nodes

    def master_ports(self):
        """The ports of the masters that serve slots and are not failed."""
        return [n["port"] for n in self.nodes() if "master" in n["flags"] and "fail" not in n["flags"] and n["slots"]]

    def master_of_slot(self, slot):
        for n in self.nodes():
            if "master" in n["flags"] and "fail" not in n["flags"]:
                if any(first <= slot <= last for first, last in n["slots"]):
                    return n
        return None

    def is_ok(self):
        return all("cluster_state:ok" in self.node_cli(p, "CLUSTER", "INFO") for p in self.master_ports())

    def flush(self):
        for port in self.master_ports():
            if self.node_cli(port, "FLUSHALL").strip() != "OK":
                raise RuntimeError(f"FLUSHALL on the cluster node {port} failed")

    def used_memory(self):
        """used_memory summed over the masters, in bytes."""
        return sum(info_field(self.node_cli(port, "INFO", "memory"), "used_memory") for port in self.master_ports())

    def commandstats(self, command):
        """{master port: calls} of a command (INFO commandstats, e.g. 'evalsha')."""
        calls = {}
        for port in self.master_ports():
            calls[port] = 0
            for line in self.node_cli(port, "INFO", "commandstats").splitlines():
                if line.startswith(f"cmdstat_{command}:"):
                    calls[port] = int(line.split("calls=")[1].split(",")[0])
        return calls

    def is_running(self):
        return all((self.dir / str(port) / "redis.pid").exists() for port in self.ports)

    def pid(self):
        pytest.skip("pauses or kills a single Redis; the cluster's failovers are tested on their own")

    def crash(self):
        pytest.skip("pauses or kills a single Redis; the cluster's failovers are tested on their own")


_IDLE_CLUSTERS = []  # emptied clusters waiting for the next test
_ALL_CLUSTERS = []


def lease_cluster():
    if _IDLE_CLUSTERS:
        return _IDLE_CLUSTERS.pop()
    cluster = RedisCluster().start()
    _ALL_CLUSTERS.append(cluster)
    return cluster


def give_back_cluster(cluster):
    try:
        cluster.flush()
    except (RuntimeError, subprocess.SubprocessError):
        cluster.remove()  # something broke it: the next test gets a new one
        _ALL_CLUSTERS.remove(cluster)
        return
    _IDLE_CLUSTERS.append(cluster)


@atexit.register
def _remove_clusters():
    for cluster in _ALL_CLUSTERS:
        cluster.remove()


def postgres_home():
    """A fresh dir for a PostgreSQL cluster, reachable by the postgres user (the server refuses root)."""
    base = Path(tempfile.mkdtemp(prefix="flashgate-pg-"))
    os.chmod(base, 0o755)
    return base


class PostgresCluster:
    """A throw-away PostgreSQL cluster of scripts/testenv/postgres, database `flashgate`."""

    def __init__(self, directory, port=None):
        self.dir = Path(directory)
        self.port = port
        self.url = None

    def start(self):
        for _attempt in range(3):
            if self.port is None or (not self.is_running() and not port_is_free(self.port)):
                self.port = free_port()
            try:
                out = run_script([POSTGRES_SCRIPT, "start", self.dir, self.port], timeout=120)
            except RuntimeError as e:
                if "could not bind" in self.log_tail(10).lower() or "in use" in str(e).lower():
                    self.port = None
                    continue
                raise
            self.url = out.strip().splitlines()[-1]
            return self
        raise RuntimeError(f"postgres in {self.dir} could not get a port\n{self.log_tail(20)}")

    def stop(self):
        run_script([POSTGRES_SCRIPT, "stop", self.dir], timeout=120)

    def is_running(self):
        return (self.dir / "postmaster.pid").exists()

    def query(self, sql, timeout=30):
        """Rows of a query on the flashgate database, as tuples of strings."""
        result = subprocess.run(
            [str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "flashgate",
             "-XAtq", "-v", "ON_ERROR_STOP=1", "-F", "\x1f", "-c", sql],
            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql: {sql}: {result.stderr.strip()}")
        return [tuple(line.split("\x1f")) for line in result.stdout.splitlines() if line]

    def log_tail(self, lines=30):
        try:
            return "\n".join((self.dir / "server.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server.log)"


class DistributedBackend:
    """What the distributed servers of one data dir share across restarts: a Redis and the ticket keys."""

    def __init__(self, data_dir):
        self.data_dir = Path(data_dir)
        # A Redis Cluster is leased on the first start (ServerPool._make) and given back at the pool's end.
        self.redis = None if redis_cluster() else RedisServer(self.data_dir / "redis")
        self.ticket_keys = new_ticket_key()


_BACKENDS = {}  # resolved data dir -> DistributedBackend


def backend_for(data_dir):
    key = str(Path(data_dir).resolve())
    if key not in _BACKENDS:
        _BACKENDS[key] = DistributedBackend(data_dir)
    return _BACKENDS[key]


def distributed_args(env, redis_url, database_url, role="all"):
    """The flags that make a server distributed, leaving out what the test's environment already chose."""
    args = []
    for flag, variable, value in (
        ("--store", "FLASHGATE_STORE", redis_url),
        ("--database", "FLASHGATE_DATABASE", database_url),
        ("--role", "FLASHGATE_ROLE", role),
    ):
        if variable not in env:
            args += [flag, value]
    return args


class ServerPool:
    """Starts servers and remembers them so that they can all be stopped."""

    def __init__(self, tmp_path_factory, database_url=None):
        self._tmp = tmp_path_factory
        self.servers = []
        self.database_url = database_url  # distributed: the session's PostgreSQL
        self.backends = []  # distributed: the Redis servers this pool started

    def start(self, env=None, data_dir=None):
        binary = flashgate_bin()
        if not binary.is_file() or not os.access(binary, os.X_OK):
            pytest.fail(f"flashgate binary not found or not executable: {binary} (set FLASHGATE_BIN)", pytrace=False)
        data_dir = Path(data_dir) if data_dir else self._tmp.mktemp("flashgate")
        for _attempt in range(3):
            server = self._make(data_dir, env)
            self.servers.append(server)
            server.start()
            if server.wait_ready():
                return server
            server.stop()
            if "in use" not in server.logs().lower():  # anything but a lost race for the port
                break
        raise RuntimeError(f"flashgate exited before it was ready\n{server.describe_logs()}")

    def _make(self, data_dir, overrides):
        env = child_env(overrides)
        if not distributed():
            return Server(data_dir, env, free_port())
        if not self.database_url:
            pytest.fail("the distributed deployment needs the session's PostgreSQL (conftest.py)", pytrace=False)
        data_dir.mkdir(parents=True, exist_ok=True)
        backend = backend_for(data_dir)
        if backend.redis is None:
            backend.redis = lease_cluster()
        elif not backend.redis.is_running():
            backend.redis.start()
        if backend not in self.backends:
            self.backends.append(backend)
        # Same keys for every start on this data dir, as the embedded key file gives.
        if "FLASHGATE_TICKET_KEYS" not in env:
            env["FLASHGATE_TICKET_KEYS"] = backend.ticket_keys
        args = distributed_args(env, backend.redis.url, self.database_url)
        return Server(data_dir, env, free_port(), args=args, backend=backend)

    def stop(self, server):
        code = server.stop()
        if server in self.servers:
            self.servers.remove(server)
        backend = server.backend
        if redis_cluster():
            return code  # the cluster stays up for a restart on this data dir, until stop_all
        if backend is not None and not any(s.backend is backend and s.is_running() for s in self.servers):
            backend.redis.stop()  # a later start on this data dir starts it again, data kept (AOF)
        return code

    def stop_all(self):
        while self.servers:
            self.stop(self.servers[-1])
        for backend in self.backends:
            if redis_cluster():
                give_back_cluster(backend.redis)
                backend.redis = None
            else:
                backend.redis.stop()
        self.backends.clear()
