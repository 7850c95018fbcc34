#!/usr/bin/env python3
"""Wake-up latency: from a status change to the client that waits for it.

    wakeup.py --port PORT --secret PAYMENT_SECRET --tickets FILE --samples N

The tickets must belong to CONFIRMED orders (the runner waits for the
windows). For each sample, one after the other, a client waits for news of
one order, either as a long poll (GET /api/orders/status?ticket=T&wait=30&since=V)
or on an event stream (GET /api/orders/events?ticket=T, after its first event);
then the probe sends the payment provider's signed notification
(POST /api/payments/notify) for that order on a keep-alive connection and
measures, from just before the notification is written:

- wake: until the waiting client has the answer with status PAID (the long
  poll's whole response, or the stream's `event: status` block);
- notify: until the notification's own 200 arrives.

PAID is durable before it is published (a group commit), so `wake` includes
that commit. Prints one line: RESULT {"longpoll": {...}, "sse": {...}, "notify": {...}}
with samples, p50/p90/p99/max in milliseconds. The first N tickets serve the
long polls, the next N the streams.
"""

import argparse
import hashlib
import hmac
import json
import math
import select
import socket
import time

TIMEOUT = 10.0


class Conn:
    """A plain HTTP/1.1 connection to 127.0.0.1 with an incremental reader."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, method, path, body=b"", headers=None):
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    def feed(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("closed by the server")
        self.buf += data

    def take_response(self):
        """A complete Content-Length response from the buffer, or None."""
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = self.buf[:end].decode("latin-1")
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        if len(self.buf) < end + 4 + length:
            return None
        status = int(head.split(" ", 2)[1])
        body = self.buf[end + 4 : end + 4 + length]
        self.buf = self.buf[end + 4 + length :]
        return status, body

    def read_response(self):
        while True:
            r = self.take_response()
            if r:
                return r
            self.feed()

    def close(self):
        self.sock.close()


def take_event(conn, after):
    """The data of the first `event: status` block that starts at or after `after` in the buffer."""
    at = conn.buf.find(b"event: status", after)
    if at < 0:
        return None
    end = conn.buf.find(b"\n\n", at)
    if end < 0:
        return None
    block = conn.buf[at:end].decode()
    for line in block.split("\n"):
        if line.startswith("data: "):
            return json.loads(line[6:]), end + 2
    return None


def notify(conn, secret, order_id, payment_id):
    body = json.dumps({"order_id": order_id, "payment_id": payment_id}, separators=(",", ":")).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    conn.send("POST", "/api/payments/notify", body, {"Content-Type": "application/json", "X-Signature": signature})


def wait_both(waiter, notifier, waiter_done):
    """Reads both connections until each is complete; returns (t_waiter, t_notify) as perf_counter times."""
    t_wait = t_notify = None
    deadline = time.monotonic() + TIMEOUT
    while t_wait is None or t_notify is None:
        if time.monotonic() > deadline:
            raise TimeoutError("no answer within %.0f s" % TIMEOUT)
        pending = [c for c, t in ((waiter, t_wait), (notifier, t_notify)) if t is None]
        ready, _, _ = select.select([c.sock for c in pending], [], [], 1.0)
        now = time.perf_counter()
        for c in pending:
            if c.sock not in ready:
                continue
            c.feed()
            if c is waiter and waiter_done():
                t_wait = now
            if c is notifier:
                r = c.take_response()
                if r:
                    if r[0] != 200:
                        raise RuntimeError(f"notify answered {r[0]}: {r[1][:200]!r}")
                    t_notify = now
    return t_wait, t_notify


def current_status(conn, ticket):
    conn.send("GET", f"/api/orders/status?ticket={ticket}&wait=0")
    status, body = conn.read_response()
    if status != 200:
        raise RuntimeError(f"status answered {status}: {body[:200]!r}")
    return json.loads(body)


def long_poll_sample(port, control, notifier, secret, ticket, n):
    view = current_status(control, ticket)
    waiter = Conn(port)
    try:
        waiter.send("GET", f"/api/orders/status?ticket={ticket}&wait=30&since={view['version']}")
        time.sleep(0.01)  # the waiter is registered (were it not, the answer would still come)
        got = {}

        def done():
            r = waiter.take_response()
            if r:
                got["r"] = r
            return bool(r)

        t0 = time.perf_counter()
        notify(notifier, secret, view["order_id"], f"pay-lp-{n}")
        t_wait, t_notify = wait_both(waiter, notifier, done)
        status, body = got["r"]
        answer = json.loads(body)
        if status != 200 or answer["status"] != "PAID":
            raise RuntimeError(f"the long poll answered {status} {answer}")
        return t_wait - t0, t_notify - t0
    finally:
        waiter.close()


def sse_sample(port, control, notifier, secret, ticket, n):
    view = current_status(control, ticket)
    waiter = Conn(port)
    try:
        waiter.send("GET", f"/api/orders/events?ticket={ticket}", headers={"Accept": "text/event-stream"})
        while True:  # the head and the first event (the current status)
            first = take_event(waiter, 0)
            if first:
                break
            waiter.feed()
        if not waiter.buf.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(waiter.buf[:200])
        offset = first[1]
        got = {}

        def done():
            e = take_event(waiter, offset)
            if e:
                got["e"] = e[0]
            return bool(e)

        t0 = time.perf_counter()
        notify(notifier, secret, view["order_id"], f"pay-sse-{n}")
        t_wait, t_notify = wait_both(waiter, notifier, done)
        if got["e"]["status"] != "PAID":
            raise RuntimeError(f"the stream sent {got['e']}")
        return t_wait - t0, t_notify - t0
    finally:
        waiter.close()


def summary(samples):
    ms = sorted(s * 1000.0 for s in samples)
    if not ms:
        return {"samples": 0}

    def pct(p):  # nearest rank
        return round(ms[max(0, min(len(ms), math.ceil(p / 100.0 * len(ms))) - 1)], 3)

    return {"samples": len(ms), "p50_ms": pct(50), "p90_ms": pct(90), "p99_ms": pct(99), "max_ms": round(ms[-1], 3)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--tickets", required=True)
    parser.add_argument("--samples", type=int, default=100)
    args = parser.parse_args()

    with open(args.tickets) as f:
        tickets = [line.strip() for line in f if line.strip()]
    if len(tickets) < 2 * args.samples:
        raise SystemExit(f"need {2 * args.samples} tickets, have {len(tickets)}")
    control, notifier = Conn(args.port), Conn(args.port)
    lp_wake, sse_wake, notify_times = [], [], []
    for i in range(args.samples):
        wake, told = long_poll_sample(args.port, control, notifier, args.secret, tickets[i], i)
        lp_wake.append(wake)
        notify_times.append(told)
    for i in range(args.samples):
        wake, told = sse_sample(args.port, control, notifier, args.secret, tickets[args.samples + i], i)
        sse_wake.append(wake)
        notify_times.append(told)
    result = {"longpoll": summary(lp_wake), "sse": summary(sse_wake), "notify": summary(notify_times)}
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
