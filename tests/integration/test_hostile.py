"""Hostile clients: malformed HTTP, split requests, size limits, slow clients, connection bounds, secrets.

Everything here talks to the real binary, mostly over raw sockets, and checks what
the contract promises for bad input: an answer of 4xx (505 for an unknown HTTP
version) or a closed connection, never a 5xx, never a change of state, never a
leak of internals; and that legitimate clients are still served while it happens.
No assertion is a performance threshold: timeouts are generous upper bounds.
"""

import json
import os
import random
import re
import resource
import selectors
import socket
import stat
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest
import requests

from flashgate_harness import assert_error, assert_json, unique_id, wait_until

# Words that must never show up in an error message meant for a client.
INTERNALS = (
    "sqlite", "select ", "insert ", "update ", "std::", "boost", "what()", "exception", "traceback",
    "terminate", "segmentation", ".cpp", ".hpp", "/work/", "/tmp/", "/home/", "/usr/",
)


# --------------------------------------------------------------------------- raw HTTP


class Reply:
    """What came back on a raw connection: one parsed response (or none) and how it ended."""

    def __init__(self):
        self.raw = b""
        self.status = None  # int once a status line was read
        self.headers = {}  # lower-case name -> value
        self.body = b""
        self.complete = False  # a whole response (head + Content-Length body) was read
        self.eof = False  # the server closed (FIN or RST)
        self.timed_out = False  # nothing more came within the timeout

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"Reply(status={self.status}, eof={self.eof}, timed_out={self.timed_out}, raw={self.raw[:400]!r})"


def _parse_head(reply):
    head, _, rest = reply.raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit():
        reply.status = int(parts[1])
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        reply.headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return rest


def read_reply(sock, timeout):
    """Read one response from sock: until its Content-Length body is in, EOF/reset, or timeout."""
    reply = Reply()
    deadline = time.monotonic() + timeout
    while True:
        if b"\r\n\r\n" in reply.raw:
            rest = _parse_head(reply)
            length = reply.headers.get("content-length")
            if length is not None and length.isdigit() and len(rest) >= int(length):
                reply.body = rest[: int(length)]
                reply.complete = True
                return reply
            reply.body = rest
        left = deadline - time.monotonic()
        if left <= 0:
            reply.timed_out = True
            return reply
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            reply.timed_out = True
            return reply
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError):
            reply.eof = True
            return reply
        if not chunk:
            reply.eof = True
            if b"\r\n\r\n" in reply.raw:
                reply.body = _parse_head(reply)
                reply.complete = "content-length" not in reply.headers
            return reply
        reply.raw += chunk


def closed_within(sock, timeout):
    """True if the server closes the connection (EOF or reset) within timeout; extra bytes are drained."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        sock.settimeout(left)
        try:
            if not sock.recv(65536):
                return True
        except socket.timeout:
            return False
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError):
            return True


def closed_within_collecting(sock, timeout, into):
    """Like closed_within, but keeps what arrives (appended to the list `into`)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return False
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError):
            return True
        if not chunk:
            return True
        into.append(chunk)


def split_replies(raw, count):
    """Parse `count` responses with Content-Length bodies that arrived back to back."""
    replies = []
    for _ in range(count):
        reply = Reply()
        reply.raw = raw
        rest = _parse_head(reply)
        length = int(reply.headers.get("content-length", "0"))
        reply.body, raw = rest[:length], rest[length:]
        reply.raw = reply.raw[: len(reply.raw) - len(raw)]
        reply.complete = True
        replies.append(reply)
    return replies


def connect(port, source=None, timeout=5.0):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0) if source else None)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def send_quietly(sock, data):
    """sendall that tolerates the server having closed already (an early answer to a bad request)."""
    try:
        sock.sendall(data)
        return True
    except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
        return False


def exchange(port, payload, timeout=5.0, close_timeout=None):
    """One payload on a fresh connection -> (Reply, closed_after) where closed_after tells
    whether the server closed the connection after its answer (checked only if close_timeout)."""
    with connect(port, timeout=timeout) as sock:
        send_quietly(sock, payload)
        reply = read_reply(sock, timeout)
        closed = reply.eof
        if not closed and close_timeout is not None and not reply.timed_out:
            closed = closed_within(sock, close_timeout)
        return reply, closed


def http_request(method, target, headers=(), body=b"", version=b"HTTP/1.1", connection=b"close"):
    """Bytes of one request; Host and Content-Length (if there is a body) are added."""
    if isinstance(target, str):
        target = target.encode()
    lines = [method + b" " + target + b" " + version, b"Host: 127.0.0.1"]
    if connection:
        lines.append(b"Connection: " + connection)
    lines += list(headers)
    if body:
        lines.append(b"Content-Type: application/json")
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def intake_body(user):
    return json.dumps({"user_id": user}).encode()


def chunked(body, sizes=None):
    """body in chunked transfer coding (chunks of the given sizes, else one chunk)."""
    out, pos = b"", 0
    for size in sizes or [len(body)]:
        piece = body[pos : pos + size]
        pos += size
        if piece:
            out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    if pos < len(body):
        out += f"{len(body) - pos:x}\r\n".encode() + body[pos:] + b"\r\n"
    return out + b"0\r\n\r\n"


def assert_error_shape(reply, where):
    """An error reply must be a JSON {"error","message"} that reveals nothing internal."""
    ctype = reply.headers.get("content-type", "").split(";")[0].strip().lower()
    assert ctype == "application/json", f"{where}: error Content-Type {ctype!r}: {reply.raw[:300]!r}"
    try:
        body = reply.json()
    except ValueError:
        raise AssertionError(f"{where}: error body not JSON: {reply.raw[:300]!r}") from None
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], f"{where}: {body!r}"
    assert isinstance(body.get("message"), str) and body["message"].strip(), f"{where}: {body!r}"
    for word in INTERNALS:
        assert word not in body["message"].lower(), f"{where}: message leaks {word!r}: {body!r}"


def metric(port, name, source=None):
    """The value of an unlabelled metric, read on a fresh connection (that is counted too)."""
    with connect(port, source=source) as sock:
        sock.sendall(http_request(b"GET", "/metrics"))
        reply = read_reply(sock, 5.0)
    for line in reply.body.decode(errors="replace").splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def wait_for_quiet_connections(srv, source="127.0.0.2"):
    """Wait until the server holds no connection but the one asking (of the health checks before)."""
    if metric(srv.port, "flashgate_connections_open", source) is None:
        time.sleep(0.5)  # no gauge: give the closes a moment
        return
    wait_until(lambda: metric(srv.port, "flashgate_connections_open", source) == 1, timeout=10,
               message="only our own connection to be open")


# --------------------------------------------------------------------------- malformed requests


def _malformed_cases(sale_id, baseline_ticket, probe_sale_ids):
    """(name, payload, expectation) triples. Expectations:
    reject: 4xx or no answer, and the connection is closed afterwards;
    refuse: 4xx or no answer (a well-formed but hostile request; keep-alive is fine);
    version: 505 or 400, and the connection is closed (505 itself is asked for by its own test);
    tolerate: anything but 5xx (odd yet arguably valid HTTP)."""
    sale = sale_id.encode()
    intake = b"/api/sales/" + sale + b"/orders"
    n = iter(range(10**6))

    def body():
        return intake_body(f"atk-{next(n)}-{uuid.uuid4().hex[:8]}")

    def post(headers, payload, target=intake, version=b"HTTP/1.1"):
        return b"POST " + target + b" " + version + b"\r\nHost: x\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + payload

    cases = []
    add = lambda name, payload, expect: cases.append((name, payload, expect))

    # request lines
    add("garbage line", b"GARBAGE\r\n\r\n", "reject")
    add("method only", b"POST\r\n\r\n", "reject")
    add("no version", b"POST " + intake + b"\r\n\r\n", "reject")
    add("http/0.9 style", b"GET /healthz\r\n", "reject")
    add("http/0.9 style twice", b"GET /healthz\r\n\r\n", "reject")
    add("extra token", b"GET /healthz HTTP/1.1 extra\r\nHost: x\r\n\r\n", "reject")
    add("lowercase protocol", b"GET /healthz http/1.1\r\nHost: x\r\n\r\n", "reject")
    add("tab separated", b"GET\t/healthz\tHTTP/1.1\r\nHost: x\r\n\r\n", "reject")
    add("double space", b"GET  /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "tolerate")
    add("nul in target", b"GET /heal\x00thz HTTP/1.1\r\nHost: x\r\n\r\n", "reject")
    add("space in target", b"GET /api/sales/a b HTTP/1.1\r\nHost: x\r\n\r\n", "reject")
    add("control char in target", b"GET /api/sales/\x01\x7f HTTP/1.1\r\nHost: x\r\n\r\n", "reject")
    add("empty target", b"GET  HTTP/1.1\r\nHost: x\r\n\r\n", "reject")
    add("huge method", b"A" * 5000 + b" / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "refuse")
    add("version 1.10", b"GET /healthz HTTP/1.10\r\nHost: x\r\n\r\n", "reject")
    add("version 01.1", b"GET /healthz HTTP/01.1\r\nHost: x\r\n\r\n", "reject")
    add("version HTTP/1", b"GET /healthz HTTP/1\r\nHost: x\r\n\r\n", "reject")
    add("version a.b", b"GET /healthz HTTP/a.b\r\nHost: x\r\n\r\n", "reject")
    add("version 1.1.1", b"GET /healthz HTTP/1.1.1\r\nHost: x\r\n\r\n", "reject")
    for version in (b"HTTP/2.0", b"HTTP/1.2", b"HTTP/3.0", b"HTTP/9.9"):
        add(f"{version.decode()} GET", b"GET /healthz " + version + b"\r\nHost: x\r\n\r\n", "version")
    add("HTTP/2.0 intake", post([b"Content-Type: application/json", b"Content-Length: %d" % len(b0 := body())], b0,
                                version=b"HTTP/2.0"), "version")
    add("HTTP/1.2 intake", post([b"Content-Type: application/json", b"Content-Length: %d" % len(b1 := body())], b1,
                                version=b"HTTP/1.2"), "version")
    add("h2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "tolerate")

    # headers
    add("header without colon", post([b"Content-Type application/json", b"Content-Length: %d" % len(b2 := body())], b2), "reject")
    add("space before colon", post([b"Content-Length : %d" % len(b3 := body())], b3), "reject")
    add("space in header name", post([b"Bad Header: 1", b"Content-Length: %d" % len(b4 := body())], b4), "reject")
    add("empty header name", post([b": nothing", b"Content-Length: %d" % len(b5 := body())], b5), "reject")
    add("nul in header value", post([b"X-Evil: a\x00b", b"Content-Length: %d" % len(b6 := body())], b6), "reject")
    add("nul in header name", post([b"X-E\x00vil: a", b"Content-Length: %d" % len(b7 := body())], b7), "reject")
    add("bare cr in header value", post([b"X-Evil: a\rb", b"Content-Length: %d" % len(b8 := body())], b8), "reject")
    add("very long header name", b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"N" * 20000 + b": v\r\n\r\n", "reject")
    add("very long header value", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * 20000 + b"\r\n\r\n", "reject")
    add("thousands of headers", b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 3000 + b"\r\n", "reject")
    add("obs-fold", b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-A: a\r\n b\r\n\r\n", "tolerate")
    add("bare LF", b"GET /healthz HTTP/1.1\nHost: x\nConnection: close\n\n", "tolerate")
    add("leading empty lines", b"\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "tolerate")

    # Content-Length
    add("conflicting content-length", post([b"Content-Length: %d" % len(b9 := body()), b"Content-Length: %d" % (len(b9) + 1)], b9 + b" "), "reject")
    add("content-length list", post([b"Content-Length: %d, %d" % (len(b10 := body()), len(b10) + 3)], b10 + b"   "), "reject")
    add("negative content-length", post([b"Content-Length: -1"], body()), "reject")
    add("plus content-length", post([b"Content-Length: +%d" % len(b11 := body())], b11), "reject")
    add("hex content-length", post([b"Content-Length: 0x%x" % len(b12 := body())], b12), "reject")
    add("spaced digits content-length", post([b"Content-Length: 1 2"], body()), "reject")
    add("underscore content-length", post([b"Content-Length: 1_2"], body()), "reject")
    add("empty content-length", post([b"Content-Length: "], body()), "reject")
    add("letters content-length", post([b"Content-Length: abc"], body()), "reject")
    add("arabic digits content-length", post(["Content-Length: \u0663\u0660".encode()], body()), "reject")
    add("huge content-length", post([b"Content-Length: 99999999999999999999999999999"], body()), "reject")
    add("2**64+20 content-length", post([b"Content-Length: %d" % (2**64 + 20)], body()), "reject")
    add("content-length longer than body", post([b"Content-Length: %d" % (len(b13 := body()) + 50)], b13), "reject")

    # Transfer-Encoding
    b14 = body()
    add("chunked and content-length", post([b"Content-Length: %d" % len(chunked(b14)), b"Transfer-Encoding: chunked"], chunked(b14)), "reject")
    b15 = body()
    add("content-length and chunked", post([b"Transfer-Encoding: chunked", b"Content-Length: %d" % len(b15)], b15), "reject")
    b16 = body()
    add("chunked twice plus cl", post([b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked", b"Content-Length: 5"], chunked(b16)), "reject")
    add("chunked then gzip", post([b"Transfer-Encoding: chunked, gzip"], chunked(body())), "reject")
    add("gzip only", post([b"Transfer-Encoding: gzip"], body()), "reject")
    add("bad chunk size letters", post([b"Transfer-Encoding: chunked"], b"zz\r\n" + body() + b"\r\n0\r\n\r\n"), "reject")
    add("negative chunk size", post([b"Transfer-Encoding: chunked"], b"-5\r\n" + body() + b"\r\n0\r\n\r\n"), "reject")
    add("overflowing chunk size", post([b"Transfer-Encoding: chunked"], b"1" + b"0" * 17 + b"14\r\n" + body() + b"\r\n0\r\n\r\n"), "reject")
    add("0x chunk size", post([b"Transfer-Encoding: chunked"], b"0x14\r\n" + body() + b"\r\n0\r\n\r\n"), "reject")
    add("chunk shorter than size", post([b"Transfer-Encoding: chunked"], b"3\r\nabcdef\r\n0\r\n\r\n"), "reject")
    add("chunk without crlf", post([b"Transfer-Encoding: chunked"], b"5\r\nabcdeXX0\r\n\r\n"), "reject")
    add("truncated chunk", post([b"Transfer-Encoding: chunked"], b"40\r\n{\"user_id\":"), "reject")
    add("missing last chunk", post([b"Transfer-Encoding: chunked"], b"3\r\nabc\r\n"), "reject")
    add("huge chunk size", post([b"Transfer-Encoding: chunked"], b"ffffffff\r\n" + b"a" * 100), "reject")

    # methods and targets (well-formed HTTP, hostile meaning)
    def hostile(name, method, target, headers=(), payload=b""):
        add(name, http_request(method, target, headers, payload), "refuse")

    hostile("lowercase get", b"get", "/healthz")
    hostile("lowercase post intake", b"post", intake, payload=body())
    hostile("unknown method", b"FOO", "/healthz")
    hostile("unknown method on intake", b"BREW", intake, payload=body())
    hostile("propfind", b"PROPFIND", "/api/sales/" + sale_id)
    hostile("trace", b"TRACE", "/healthz", [b"X-Secret: trace-me"])
    hostile("connect", b"CONNECT", "127.0.0.1:22")
    hostile("asterisk get", b"GET", "*")
    hostile("asterisk post", b"POST", "*", payload=body())
    add("options asterisk", http_request(b"OPTIONS", "*"), "tolerate")
    add("absolute-form healthz", http_request(b"GET", "http://127.0.0.1/healthz"), "tolerate")
    hostile("absolute-form stats", b"GET", f"http://127.0.0.1/api/admin/sales/{sale_id}/stats")
    hostile("absolute-form admin create", b"POST", "http://evil.example/api/admin/sales",
            payload=json.dumps({"sale_id": probe_sale_ids[0], "item": "x", "stock": 5}).encode())
    # path traversal towards the admin API (no token) and towards files
    for target in (
        f"/api/sales/../admin/sales/{sale_id}/stats",
        f"/api/sales/%2e%2e/admin/sales/{sale_id}/stats",
        f"/api/sales/%2E%2E/admin/sales/{sale_id}/stats",
        f"/api/sales/{sale_id}/%2e%2e/%2e%2e/admin/sales/{sale_id}/stats",
        f"/api/sales/..%2fadmin%2fsales%2f{sale_id}/stats",
        f"/api/sales/x/../../api/admin/sales/{sale_id}/stats",
        f"/api/./admin/sales/{sale_id}/stats",
        f"/api/admin/sales/{sale_id}/stats/..",
        f"//api/admin/sales/{sale_id}/stats",
    ):
        hostile(f"traversal GET {target}", b"GET", target)
    for i, target in enumerate((
        "/api/sales/../admin/sales",
        "/api/sales/%2e%2e/admin/sales",
        "/api/sales/x/../../api/admin/sales",
    )):
        hostile(f"traversal POST {target}", b"POST", target,
                payload=json.dumps({"sale_id": probe_sale_ids[1 + i], "item": "x", "stock": 5}).encode())
    for target in (
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/%252e%252e/%252e%252e/etc/passwd",
        "/flashgate-client.js/../../../../etc/passwd",
        "/flashgate-client.js%2f..%2f..%2f..%2fetc%2fpasswd",
        "/%c0%ae%c0%ae/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
        "/..%5c..%5c..%5cetc%5cpasswd",
        "/web/../../../../etc/passwd",
        "/../flashgate.db",
        "/ticket_keys",
        "/%2e%2e/data/ticket_keys",
    ):
        hostile(f"file traversal {target}", b"GET", target)
    # ids: double encoding, encoded slashes, NUL, bad escapes, overlong UTF-8
    double = "".join(f"%25{ord(c):02x}" for c in sale_id[:3]) + sale_id[3:]
    for target in (
        f"/api/sales/{double}/orders",
        f"/api/sales/{quote(quote(sale_id, safe=''), safe='')}%252forders/orders",
        f"/api/sales/{sale_id}%2forders",
        f"/api/sales/{sale_id}%00/orders",
        f"/api/sales/{sale_id}/orders%00",
        "/api/sales/%/orders",
        "/api/sales/%zz/orders",
        "/api/sales/%c0%af/orders",
        "/api/sales/%ed%a0%80/orders",
        "/api/sales/" + "%ff" * 40 + "/orders",
    ):
        hostile(f"id POST {target}", b"POST", target, payload=body())
    hostile("double-encoded ticket", b"GET", "/api/orders/status?ticket=" + "".join(f"%25{ord(c):02X}" for c in baseline_ticket))
    hostile("ticket with nul", b"GET", "/api/orders/status?ticket=" + baseline_ticket[:10] + "%00" + baseline_ticket[10:])
    hostile("two tickets", b"GET", "/api/orders/status?ticket=garbage&ticket=" + baseline_ticket[:-1] + "A")
    hostile("stats with bearer in query", b"GET", f"/api/admin/sales/{sale_id}/stats?token=x&Authorization=Bearer%20x")
    # JSON bodies that are not valid UTF-8 (overlong forms, surrogates, out of range) or not JSON
    for raw_id in (b"\xc0\xaf", b"\xc1\xbf", b"\xe0\x80\xaf", b"\xf0\x80\x80\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
                   b"\xf8\x88\x80\x80\x80", b"\xff", b"\x80", b"\xe2\x82", b"ok\xc0\x80ok"):
        hostile(f"overlong utf-8 {raw_id!r}", b"POST", intake, payload=b'{"user_id":"' + raw_id + b'"}')
    for junk in (b'{"user_id":"x"}garbage', b'{"user_id":"x"', b'{"user_id":x}', b"\x00" * 20, b'{"user_id":"a\x00b"}',
                 b'["user_id","x"]', b'{"user_id":["x"]}', b'{"user_id":{"$ne":null}}', b'{"user_id":"' + b"u" * 65 + b'"}',
                 b'{"user_id":""}', b'{"user_id":null}', b"{}", b"user_id=x", b'{"user_id":"x",}', b"\xef\xbb\xbf\xef\xbb\xbf{}"):
        hostile(f"bad json {junk[:30]!r}", b"POST", intake, payload=junk)
    # the admin API without (valid) credentials
    create = json.dumps({"sale_id": probe_sale_ids[4], "item": "x", "stock": 5}).encode()
    for auth in ([], [b"Authorization: Bearer"], [b"Authorization: Bearer "], [b"Authorization: bearer wrong"],
                 [b"Authorization: Basic YWRtaW46YWRtaW4="], [b"Authorization: Bearer " + b"A" * 4000],
                 [b"Authorization: Bearer x", b"Authorization: Bearer y"]):
        hostile(f"admin create auth {auth!r:.40}", b"POST", "/api/admin/sales", auth, create)
    hostile("stats no auth", b"GET", f"/api/admin/sales/{sale_id}/stats")
    # other protocols
    add("tls client hello", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(range(64)), "reject")
    add("ssh banner", b"SSH-2.0-OpenSSH_9.0\r\n", "reject")
    add("smtp", b"HELO evil.example\r\nMAIL FROM:<a@b>\r\n\r\n", "reject")
    add("nul bytes", b"\x00" * 2000, "reject")
    add("redis", b"*1\r\n$8\r\nFLUSHALL\r\n\r\n", "reject")
    return cases


def _fuzz_cases(seed=20261124):
    """Random garbage and random mutations of valid requests aimed at things that do not exist
    (an unknown sale, a forged ticket, a wrong signature, no admin token): whatever a mutation
    turns them into, nothing may be created."""
    rng = random.Random(seed)
    templates = [
        http_request(b"POST", "/api/sales/no-such-sale-zz/orders", body=intake_body("fuzz-user")),
        http_request(b"GET", "/api/orders/status?ticket=AAAAforgedticketAAAA"),
        http_request(b"POST", "/api/payments/notify", [b"X-Signature: " + b"0" * 64],
                     json.dumps({"order_id": "no-such-order", "payment_id": "p"}).encode()),
        http_request(b"POST", "/api/admin/sales", body=json.dumps({"sale_id": "fuzz-sale", "item": "x", "stock": 1}).encode()),
        http_request(b"GET", "/api/sales/no-such-sale-zz"),
    ]
    cases = []
    for i in range(60):
        size = rng.choice([1, 2, 10, 100, 1000, 3000])
        prefix = rng.choice([b"", b"GET ", b"POST /api/sales/x/orders HTTP/1.1\r\n", b"GET / HTTP/1.1\r\nHost: x\r\n"])
        cases.append((f"garbage {i}", prefix + bytes(rng.randrange(256) for _ in range(size)), "refuse"))
    for i in range(160):
        data = bytearray(rng.choice(templates))
        for _ in range(rng.randint(1, 4)):
            op = rng.randrange(5)
            pos = rng.randrange(len(data))
            if op == 0:
                data[pos] = rng.randrange(256)
            elif op == 1:
                data.insert(pos, rng.choice(b"\r\n\x00 :%/.\t\"{}\xff"))
            elif op == 2:
                del data[pos]
            elif op == 3:
                end = min(len(data), pos + rng.randint(1, 40))
                data[pos:pos] = data[pos:end] * rng.randint(1, 50)
            else:
                data = data[:pos]
        cases.append((f"mutation {i}", bytes(data), "refuse"))
    return cases


VERSIONISH = re.compile(rb"HTTP/\d+(\.\d+)?")


def _unknown_version(payload):
    """True if the request line ends in a well-formed HTTP version other than 1.0 and 1.1:
    the one case where 505 (not 400) is the right refusal."""
    line = re.split(rb"\r|\n", payload, maxsplit=1)[0]
    parts = line.split(b" ")
    if len(parts) != 3:
        return False
    return bool(VERSIONISH.fullmatch(parts[2])) and parts[2] not in (b"HTTP/1.0", b"HTTP/1.1")


def _judge(case, reply, closed):
    """A problem description, or None if the reply to this case is fine."""
    name, payload, expect = case
    if reply.timed_out and not reply.raw:
        return "no answer and the connection stayed open past the request timeout"
    if reply.status is None and reply.raw:
        return "answer is not HTTP"
    if reply.status is not None:
        if expect == "version" and reply.status not in (400, 505):
            return f"expected 505 (or 400), got {reply.status}"
        if reply.status == 505 and not _unknown_version(payload):
            return "505 for a request that is malformed, not of an unknown HTTP version (expected 400)"
        if reply.status >= 500 and reply.status != 505:
            return f"5xx for bad input: {reply.status}"
        if expect in ("reject", "refuse") and not 400 <= reply.status < 500 and reply.status != 505:
            return f"expected a 4xx, got {reply.status}"
        if reply.status >= 400:
            try:
                assert_error_shape(reply, name)
            except AssertionError as e:
                return str(e)
        if reply.status == 405 and "allow" not in reply.headers:
            return "405 without Allow"
        if b"root:" in reply.body or b"SQLite format" in reply.body:
            return "leaked a file"
        if b"trace-me" in reply.raw:
            return "TRACE echoed the request"
    elif not reply.eof:
        return "no answer, connection neither answered nor closed"
    if expect in ("reject", "version") and not closed:
        return "connection left open after a malformed request"
    return None


def test_malformed_requests_get_4xx_or_close_and_change_nothing(start_server):
    srv = start_server(env={"FLASHGATE_REQUEST_TIMEOUT": "1s", "FLASHGATE_IDLE_TIMEOUT": "30s"})
    sale_id = srv.new_sale(stock=50)
    baseline = srv.accepted(sale_id, unique_id("baseline"))
    srv.wait_for_status(baseline["ticket"], "CONFIRMED")
    probe_sale_ids = [unique_id("probe") for _ in range(6)]
    sale_before = srv.sale(sale_id)
    stats_before = srv.stats(sale_id)
    status_before = srv.status(baseline["ticket"])

    cases = _malformed_cases(sale_id, baseline["ticket"], probe_sale_ids) + _fuzz_cases()
    assert len(cases) >= 300, len(cases)

    def run(case):
        try:
            reply, closed = exchange(srv.port, case[1], timeout=6.0,
                                     close_timeout=3.0 if case[2] in ("reject", "version") else None)
        except OSError as e:
            return case, None, f"could not talk to the server: {e!r}"
        return case, reply, _judge(case, reply, closed)

    with ThreadPoolExecutor(max_workers=48) as pool:
        results = list(pool.map(run, cases))

    assert srv.is_running(), srv.describe_logs()
    assert assert_json(srv.get("/healthz"), 200) == {"status": "ok"}
    problems = [f"{c[0]} ({c[2]}): {why}\n    sent {c[1][:300]!r}\n    got  {r.raw[:300] if r else None!r}"
                for c, r, why in results if why]

    # nothing refused changed any state
    sale_after, stats_after = srv.sale(sale_id), srv.stats(sale_id)
    if sale_after != sale_before:
        problems.append(f"the sale changed: {sale_before} -> {sale_after}")
    if (stats_after["counts"], stats_after["remaining"]) != (stats_before["counts"], stats_before["remaining"]):
        problems.append(f"the stats changed: {stats_before} -> {stats_after}")
    if srv.status(baseline["ticket"]) != status_before:
        problems.append("the baseline order changed")
    for probe in probe_sale_ids + ["fuzz-sale"]:
        if srv.get_sale(probe).status_code != 404:
            problems.append(f"sale {probe} was created")
    assert not problems, f"{len(problems)} problems with {len(cases)} bad requests:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "payload",
    [b"GET /api/sales/a b HTTP/1.1\r\nHost: x\r\n\r\n",
     b"GET /healthz HTTP/1.1 extra\r\nHost: x\r\n\r\n",
     b"GET /healthz HTTP/1.1\x00\r\nHost: x\r\n\r\n",
     b"GET /healthz http/1.1\r\nHost: x\r\n\r\n",
     b"GET /healthz HTTP/a.b\r\nHost: x\r\n\r\n",
     b"GET /healthz HTTP/1.1\nHost: x\nConnection: close\n\n"],
    ids=["space in target", "extra token", "nul after version", "lowercase protocol", "letters version", "bare LF"],
)
def test_malformed_request_line_is_not_answered_505(plain, payload):
    """505 means "your HTTP version is not served"; a broken request line is a 400 (or, for bare LF
    line ends, which RFC 9112 lets a server accept, an ordinary answer)."""
    reply, _ = exchange(plain.port, payload, close_timeout=3.0)
    assert reply.status is None or reply.status < 500, f"sent {payload!r}\n got {reply.raw!r}"


@pytest.fixture(scope="module")
def plain(server_pool):
    """A server of this module's own, so that what the tests here send cannot disturb others."""
    return server_pool.start()


@pytest.mark.parametrize("version", ["HTTP/2.0", "HTTP/1.2", "HTTP/3.0", "HTTP/0.9"])
def test_unknown_http_version_is_505(plain, version):
    sale_id = plain.new_sale(stock=2)
    for payload in (f"GET /healthz {version}\r\nHost: x\r\n\r\n".encode(),
                    f"POST /api/sales/{sale_id}/orders {version}\r\nHost: x\r\nContent-Type: application/json\r\n"
                    f"Content-Length: 22\r\n\r\n{{\"user_id\":\"ver-user\"}}".encode()):
        reply, closed = exchange(plain.port, payload, close_timeout=3.0)
        assert reply.status == 505, f"sent {payload!r}\n got {reply.raw!r}"
        assert_error_shape(reply, version)
        assert closed, f"connection left open after {version}"
    assert plain.sale(sale_id)["remaining"] == 2


@pytest.mark.parametrize(
    "coding",
    ["xchunked", "identity", "gzip", "chunked, gzip", "chunked;q=1", "chunkedx", " chunked-false"],
)
def test_unsupported_transfer_coding_is_refused_and_creates_nothing(plain, coding):
    """A Transfer-Encoding the server cannot decode (or whose last coding is not chunked) must not be
    ignored in favour of Content-Length: that is how requests are smuggled past a proxy (RFC 9112 6.3:
    answer 400 and close). Here the body is a valid intake, framed by Content-Length."""
    sale_id = plain.new_sale(stock=2)
    body = intake_body("te-user")
    payload = (f"POST /api/sales/{sale_id}/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               f"Transfer-Encoding: {coding}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    reply, closed = exchange(plain.port, payload, close_timeout=3.0)
    assert reply.status is None or 400 <= reply.status < 500, f"sent {payload!r}\n got {reply.raw!r}"
    if reply.status is not None:
        assert_error_shape(reply, coding)
    assert closed, "connection left open after an ambiguous framing"
    assert plain.sale(sale_id)["remaining"] == 2, f"an order was created from {payload!r}"


# --------------------------------------------------------------------------- requests in pieces


def test_intake_split_in_two_at_every_position_is_parsed_right(start_server):
    srv = start_server()
    sale_id = srv.new_sale(stock=1000)
    target = f"/api/sales/{sale_id}/orders"
    size = len(http_request(b"POST", target, body=intake_body("split-0000")))
    answers = []
    for cut in range(1, size):
        user = f"split-{cut:04d}"
        payload = http_request(b"POST", target, body=intake_body(user))
        with connect(srv.port) as sock:
            sock.sendall(payload[:cut])
            time.sleep(0.003)
            sock.sendall(payload[cut:])
            reply = read_reply(sock, 5.0)
        assert reply.status == 202, f"cut at {cut} ({payload[:cut]!r} | {payload[cut:]!r}): {reply!r}"
        answer = reply.json()
        assert answer["sale_id"] == sale_id and answer["status"] == "QUEUED", answer
        answers.append(answer["order_id"])
    assert len(set(answers)) == size - 1
    assert srv.sale(sale_id)["remaining"] == 1000 - (size - 1)


def test_requests_sent_one_byte_at_a_time_are_parsed_right(start_server):
    srv = start_server()
    sale_id = srv.new_sale(stock=10)
    target = f"/api/sales/{sale_id}/orders"
    plain = http_request(b"POST", target, body=intake_body("trickle-a"), connection=b"keep-alive")
    body_b = intake_body("trickle-b")
    chunked_req = (f"POST {target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   f"Transfer-Encoding: chunked\r\n\r\n").encode() + chunked(body_b, [1, 2, 3, 5, 8])
    with connect(srv.port) as sock:
        for payload, user in ((plain, "trickle-a"), (chunked_req, "trickle-b")):
            for i in range(len(payload)):
                sock.sendall(payload[i : i + 1])
                time.sleep(0.001)
            reply = read_reply(sock, 5.0)
            assert reply.status == 202, f"{user}: {reply!r}"
            assert reply.json()["status"] == "QUEUED"
        # the same connection is still in step: a pipelined pair answers in order
        sock.sendall(http_request(b"GET", "/healthz", connection=b"keep-alive") +
                     http_request(b"POST", target, body=intake_body("trickle-a"), connection=b"close"))
        assert closed_within_collecting(sock, 5.0, into := []), "no close after Connection: close"
        raw = b"".join(into)
    first, second = split_replies(raw, 2)
    assert first.status == 200 and first.json() == {"status": "ok"}, raw
    assert second.status == 200, raw  # the same user again: 200 with the same order
    assert srv.stats(sale_id)["remaining"] == 8


# --------------------------------------------------------------------------- size limits


@pytest.fixture(scope="module")
def limited(server_pool):
    return server_pool.start(env={"FLASHGATE_BODY_LIMIT": "1024", "FLASHGATE_HEADER_LIMIT": "2048",
                                  "FLASHGATE_MAX_URL": "512"})


def _padded_intake(user, size):
    head = b'{"user_id":"' + user.encode() + b'"'
    body = head + b" " * (size - len(head) - 1) + b"}"
    assert len(body) == size
    return body


def test_body_over_the_limit_is_413_and_creates_nothing(limited):
    sale_id = limited.new_sale(stock=5)
    reply, closed = exchange(limited.port, http_request(b"POST", f"/api/sales/{sale_id}/orders",
                                                        body=_padded_intake("big-body", 1025)), close_timeout=3)
    assert reply.status == 413, reply
    assert_error_shape(reply, "413")
    assert reply.json()["error"] == "payload_too_large", reply
    assert limited.sale(sale_id)["remaining"] == 5
    assert assert_json(limited.buy(sale_id, "big-body"), 202)  # no order had been made for this user


def test_body_at_the_limit_is_accepted(limited):
    sale_id = limited.new_sale(stock=5)
    reply, _ = exchange(limited.port, http_request(b"POST", f"/api/sales/{sale_id}/orders",
                                                   body=_padded_intake("exact-body", 1024)))
    assert reply.status == 202, reply


def test_chunked_body_over_the_limit_is_413(limited):
    sale_id = limited.new_sale(stock=5)
    payload = (f"POST /api/sales/{sale_id}/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               f"Transfer-Encoding: chunked\r\n\r\n").encode() + chunked(_padded_intake("big-chunks", 1500), [600, 600])
    reply, _ = exchange(limited.port, payload)
    assert reply.status == 413, reply
    assert_error_shape(reply, "413 chunked")
    assert limited.sale(sale_id)["remaining"] == 5


def test_announced_body_over_the_limit_is_413_without_sending_it(limited):
    """A Content-Length of 10 MB is refused from the headers alone: the server does not wait for the body."""
    payload = b"POST /api/sales/x/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n"
    reply, _ = exchange(limited.port, payload, timeout=5.0)
    assert reply.status == 413, reply


def test_header_block_over_the_limit_is_431(limited):
    reply, closed = exchange(limited.port, http_request(b"GET", "/healthz", [b"X-Pad: " + b"p" * 3000]), close_timeout=3)
    assert reply.status == 431, reply
    assert_error_shape(reply, "431")
    many, _ = exchange(limited.port, http_request(b"GET", "/healthz", [b"X-P%d: v" % i for i in range(300)]))
    assert many.status == 431, many
    ok, _ = exchange(limited.port, http_request(b"GET", "/healthz", [b"X-Pad: " + b"p" * 1000]))
    assert ok.status == 200, ok


def test_url_over_the_limit_is_414(limited):
    reply, _ = exchange(limited.port, http_request(b"GET", "/api/sales/" + "a" * 600))
    assert reply.status == 414, reply
    assert_error_shape(reply, "414")
    query, _ = exchange(limited.port, http_request(b"GET", "/api/orders/status?ticket=" + "t" * 600))
    assert query.status == 414, query
    short, _ = exchange(limited.port, http_request(b"GET", "/api/sales/" + "a" * 400))
    assert short.status in (400, 404), short  # not too long: an ordinary refusal of the id


def test_default_limits_are_413_431_414(server):
    sale_id = server.new_sale(stock=3)
    body, _ = exchange(server.port, http_request(b"POST", f"/api/sales/{sale_id}/orders",
                                                 body=_padded_intake("default-big", 16385)))
    assert body.status == 413, body
    header, _ = exchange(server.port, http_request(b"GET", "/healthz", [b"X-Pad: " + b"p" * 9000]))
    assert header.status == 431, header
    url, _ = exchange(server.port, http_request(b"GET", "/api/sales/" + "a" * 5000))
    assert url.status == 414, url
    assert server.sale(sale_id)["remaining"] == 3


# --------------------------------------------------------------------------- slow clients


class Drip:
    """Many connections, each sent one more byte of `payload` every `interval` seconds, in a thread;
    records when the server closes each one."""

    def __init__(self, socks, payload, interval=1.0):
        self.socks = list(socks)
        self.payload = payload
        self.interval = interval
        self.closed_at = {}
        self.received = {}
        self.started = time.monotonic()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _close(self, sock, sel):
        if sock not in self.closed_at:
            self.closed_at[sock] = time.monotonic() - self.started
            sel.unregister(sock)

    def _run(self):
        sel = selectors.DefaultSelector()
        for sock in self.socks:
            sock.setblocking(False)
            sel.register(sock, selectors.EVENT_READ)
        index, next_drip = 0, time.monotonic()
        while not self.stop.is_set() and len(self.closed_at) < len(self.socks):
            now = time.monotonic()
            if now >= next_drip:
                byte = self.payload[index % len(self.payload) : index % len(self.payload) + 1]
                index += 1
                for sock in self.socks:
                    if sock in self.closed_at:
                        continue
                    try:
                        sock.send(byte)
                    except (BlockingIOError, InterruptedError):
                        pass
                    except OSError:
                        self._close(sock, sel)
                next_drip += self.interval
            for key, _ in sel.select(timeout=max(0.0, min(0.1, next_drip - time.monotonic()))):
                sock = key.fileobj
                try:
                    data = sock.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    self._close(sock, sel)
                    continue
                if data:
                    self.received[sock] = self.received.get(sock, b"") + data
                else:
                    self._close(sock, sel)

    def start(self):
        self.started = time.monotonic()
        self.thread.start()
        return self

    def wait_all_closed(self, timeout):
        deadline = self.started + timeout
        while len(self.closed_at) < len(self.socks) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.stop.set()
        self.thread.join(5)
        return [s for s in self.socks if s not in self.closed_at]

    def close(self):
        self.stop.set()
        for sock in self.socks:
            sock.close()


def _normal_client_is_served(srv, sale_id, user):
    """An intake and a poll from a fresh client, each within 5 s."""
    session = requests.Session()
    try:
        answer = session.post(srv.url(f"/api/sales/{sale_id}/orders"), json={"user_id": user}, timeout=5)
        assert answer.status_code == 202, answer.text
        poll = session.get(srv.url("/api/orders/status"), params={"ticket": answer.json()["ticket"]}, timeout=5)
        assert poll.status_code == 200, poll.text
        assert session.get(srv.url(f"/api/sales/{sale_id}"), timeout=5).status_code == 200
    finally:
        session.close()


SLOW_HEAD = b"POST /api/sales/slow/orders HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Slow: " + b"s" * 200


@pytest.mark.slow  # seconds of waiting on HTTP timeouts; the store plays no part
def test_slowloris_headers_are_cut_off_and_others_are_served(start_server):
    srv = start_server(env={"FLASHGATE_REQUEST_TIMEOUT": "3s"})
    sale_id = srv.new_sale(stock=10)
    socks = [connect(srv.port) for _ in range(300)]
    drip = Drip(socks, SLOW_HEAD).start()
    try:
        time.sleep(1.2)
        assert len(drip.closed_at) < len(socks), "the slow connections were closed before they could be slow"
        _normal_client_is_served(srv, sale_id, "while-slowloris-1")
        time.sleep(0.8)
        _normal_client_is_served(srv, sale_id, "while-slowloris-2")
        still_open = drip.wait_all_closed(timeout=10.0)
        assert not still_open, f"{len(still_open)} of {len(socks)} slow connections still open 10 s after they began"
    finally:
        drip.close()
    for sock, data in drip.received.items():
        status = data.split(b" ", 2)[1:2]
        assert status in ([b"408"], [b"400"]), f"slow client was answered {data[:200]!r}"
    assert srv.is_running()


@pytest.mark.slow  # seconds of waiting on HTTP timeouts; the store plays no part
def test_slow_body_is_cut_off_and_others_are_served(start_server):
    srv = start_server(env={"FLASHGATE_REQUEST_TIMEOUT": "3s"})
    sale_id = srv.new_sale(stock=10)
    head = (f"POST /api/sales/{sale_id}/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: 200\r\n\r\n").encode()
    socks = [connect(srv.port) for _ in range(100)]
    for sock in socks:
        sock.sendall(head)
    drip = Drip(socks, b'{"user_id":"' + b"w" * 300).start()
    try:
        time.sleep(1.2)
        _normal_client_is_served(srv, sale_id, "while-slow-body")
        still_open = drip.wait_all_closed(timeout=10.0)
        assert not still_open, f"{len(still_open)} of {len(socks)} slow bodies still open 10 s after they began"
    finally:
        drip.close()
    assert srv.sale(sale_id)["remaining"] == 9  # only the normal client's order


@pytest.mark.slow  # seconds of waiting on HTTP timeouts; the store plays no part
def test_slowloris_after_a_first_request_on_keep_alive_is_cut_off_by_the_request_timeout(start_server):
    """The request timeout bounds every request on a connection, not only the first: a client that
    sends one quick request and then trickles the next one's headers is not given the idle timeout."""
    srv = start_server(env={"FLASHGATE_REQUEST_TIMEOUT": "3s", "FLASHGATE_IDLE_TIMEOUT": "60s"})
    socks = []
    for _ in range(20):
        sock = connect(srv.port)
        sock.sendall(http_request(b"GET", "/healthz", connection=b"keep-alive"))
        reply = read_reply(sock, 5.0)
        assert reply.status == 200, reply
        socks.append(sock)
    drip = Drip(socks, SLOW_HEAD).start()
    try:
        still_open = drip.wait_all_closed(timeout=10.0)
        assert not still_open, (f"{len(still_open)} of {len(socks)} keep-alive connections trickling a second "
                                f"request are still open 10 s later (request timeout 3 s)")
    finally:
        drip.close()


@pytest.mark.slow  # seconds of waiting on HTTP timeouts; the store plays no part
def test_idle_keep_alive_connection_is_closed(start_server):
    srv = start_server(env={"FLASHGATE_IDLE_TIMEOUT": "2s"})
    with connect(srv.port) as sock:
        for _ in range(2):
            sock.sendall(http_request(b"GET", "/healthz", connection=b"keep-alive"))
            reply = read_reply(sock, 5.0)
            assert reply.status == 200 and not reply.eof, reply
            time.sleep(0.3)
        started = time.monotonic()
        assert closed_within(sock, 10.0), "idle keep-alive connection still open 10 s later (idle timeout 2 s)"
        assert time.monotonic() - started < 10.0


@pytest.mark.slow  # seconds of waiting on HTTP timeouts; the store plays no part
def test_timeouts_do_not_cut_a_long_poll_or_an_event_stream(start_server):
    srv = start_server(env={"FLASHGATE_IDLE_TIMEOUT": "1s", "FLASHGATE_REQUEST_TIMEOUT": "1s"})
    sale_id = srv.new_sale(stock=3)
    answer = srv.accepted(sale_id, "long-waiter")
    current = srv.wait_for_status(answer["ticket"], "CONFIRMED")
    with srv.events(answer["ticket"]) as stream:
        assert stream.status == 200
        assert stream.next_status_event(timeout=5) is not None
        poll = srv.poll(answer["ticket"], wait=3, since=current["version"])
        assert poll.status_code == 200, poll.text
        with pytest.raises(socket.timeout):
            stream.next_event(timeout=0.5)  # still open (no event due), not cut by the timeouts


# --------------------------------------------------------------------------- connection bounds


def _working(sock):
    sock.sendall(http_request(b"GET", "/healthz", connection=b"keep-alive"))
    reply = read_reply(sock, 5.0)
    return reply.status == 200


def _refused(port, source=None):
    """A new connection is closed by the server at once, without an answer to a request."""
    sock = connect(port, source=source)
    try:
        send_quietly(sock, http_request(b"GET", "/healthz", connection=b"keep-alive"))
        reply = read_reply(sock, 5.0)
        return reply.status is None and reply.eof, reply
    finally:
        sock.close()


def test_a_crowd_that_connects_at_once_is_served_whole(server):
    # The acceptor takes every waiting connection in one completion (a
    # non-blocking accept loop): none may be lost or left unanswered, each
    # I/O thread gets its share, and accepting goes on once the backlog is empty.
    crowd = 400
    socks = [connect(server.port) for _ in range(crowd)]  # all queued in the backlog before any request
    try:
        for sock in socks:
            sock.sendall(http_request(b"GET", "/healthz", connection=b"keep-alive"))
        for i, sock in enumerate(socks):
            reply = read_reply(sock, 10.0)
            assert reply.status == 200, f"connection {i + 1} of {crowd}: {reply!r}"
        for i, sock in enumerate(socks):  # still served, on whichever thread took them
            assert _working(sock), f"connection {i + 1} of {crowd} stopped working"
        late = connect(server.port)
        try:
            assert _working(late), "a connection made after the crowd was not served"
        finally:
            late.close()
    finally:
        for sock in socks:
            sock.close()


def _lowest_free_descriptor(pid):
    used = {int(name) for name in os.listdir(f"/proc/{pid}/fd")}
    return next(n for n in range(len(used) + 1) if n not in used)


def _metric_over(sock, name):
    sock.sendall(http_request(b"GET", "/metrics", connection=b"keep-alive"))
    reply = read_reply(sock, 5.0)
    assert reply.status == 200, reply
    for line in reply.body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def test_out_of_descriptors_accepting_pauses_and_resumes(start_server):
    # Out of descriptors, accept fails at once: the server must wait between
    # attempts (not retry at full speed), keep serving the connections it
    # has, and take the waiting ones once descriptors are there again.
    srv = start_server()
    pid = srv.proc.pid
    with open(f"/proc/{pid}/maps") as maps:
        if any("libubsan" in line or "libasan" in line for line in maps):
            # UBSan checks a vptr by reading memory through a pipe it opens:
            # out of descriptors, it reports every virtual call as invalid.
            pytest.skip("the sanitizers need descriptors of their own")
    srv.close_sessions()
    keeper = connect(srv.port)
    assert _working(keeper)
    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    waiting = []
    try:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (_lowest_free_descriptor(pid), hard))  # not one more
        before = _metric_over(keeper, "flashgate_accept_failures_total")
        waiting = [connect(srv.port) for _ in range(5)]  # complete in the kernel, wait in the backlog
        for sock in waiting:
            sock.sendall(http_request(b"GET", "/healthz", connection=b"keep-alive"))
        time.sleep(1.0)
        failures = _metric_over(keeper, "flashgate_accept_failures_total") - before
        # 100 ms between attempts: about ten in that second; retrying at once made it tens of thousands.
        assert 1 <= failures <= 50, failures
        assert _working(keeper), "the connection already in stopped being served"
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
    try:
        for i, sock in enumerate(waiting):
            reply = read_reply(sock, 10.0)
            assert reply.status == 200, f"waiting connection {i + 1}: {reply!r}"
    finally:
        for sock in waiting + [keeper]:
            sock.close()


def test_connections_over_the_per_client_bound_are_closed_at_once(start_server):
    srv = start_server(env={"FLASHGATE_MAX_CONNECTIONS_PER_CLIENT": "20"})
    srv.close_sessions()
    wait_for_quiet_connections(srv)
    socks = []
    try:
        for i in range(20):
            socks.append(connect(srv.port))
            assert _working(socks[-1]), f"connection {i + 1} of 20 not served"
        refused, reply = _refused(srv.port)
        assert refused, f"the 21st connection was not closed at once: {reply!r}"
        other = connect(srv.port, source="127.0.0.2")  # another client address is not affected
        assert _working(other), "a connection from another address was refused"
        other.close()
        for i, sock in enumerate(socks):
            assert _working(sock), f"connection {i + 1} stopped working after the 21st was refused"
        for sock in socks[:5]:
            sock.close()
        del socks[:5]

        def reopened():
            sock = connect(srv.port)
            if _working(sock):
                return sock
            sock.close()
            return None

        for _ in range(5):
            socks.append(wait_until(reopened, timeout=10, interval=0.1, message="a slot to be freed"))
        refused, reply = _refused(srv.port)
        assert refused, f"back at 20 connections, another one was not closed: {reply!r}"
    finally:
        for sock in socks:
            sock.close()


def test_connections_over_the_process_bound_are_closed_at_once(start_server):
    srv = start_server(env={"FLASHGATE_MAX_CONNECTIONS": "10"})
    srv.close_sessions()
    wait_for_quiet_connections(srv, source="127.0.0.3")
    socks = []
    try:
        for i in range(10):
            socks.append(connect(srv.port, source="127.0.0.%d" % (2 + i % 3)))
            assert _working(socks[-1]), f"connection {i + 1} of 10 not served"
        refused, reply = _refused(srv.port, source="127.0.0.9")
        assert refused, f"the 11th connection (a new address) was not closed at once: {reply!r}"
        socks.pop().close()

        def reopened():
            sock = connect(srv.port, source="127.0.0.9")
            if _working(sock):
                return sock
            sock.close()
            return None

        socks.append(wait_until(reopened, timeout=10, interval=0.1, message="a slot to be freed"))
    finally:
        for sock in socks:
            sock.close()


# --------------------------------------------------------------------------- secrets and leaks


def test_secrets_never_appear_in_logs_or_answers(start_server):
    token = "adm-" + uuid.uuid4().hex
    secret = "pay-" + uuid.uuid4().hex
    srv = start_server(env={"FLASHGATE_ADMIN_TOKEN": token, "FLASHGATE_PAYMENT_SECRET": secret,
                            "FLASHGATE_LOG_LEVEL": "trace"})
    answers = []
    # failed admin attempts: wrong, near-miss, other schemes, the token in the wrong place
    for headers in ({"Authorization": "Bearer wrong"}, {"Authorization": "Bearer " + token[:-1]},
                    {"Authorization": "Basic " + token}, {"Authorization": token}, {"X-Admin-Token": token}, {}):
        r = srv.create_sale({"sale_id": unique_id(), "item": "x", "stock": 1}, headers=headers)
        assert r.status_code == 401, (headers, r.status_code, r.text)
        answers.append(r.text)
        answers.append(srv.get_stats("nope", headers=headers).text)
    sale_id = srv.new_sale(stock=2)
    order = srv.accepted(sale_id, "secret-buyer")
    srv.wait_for_status(order["ticket"], "CONFIRMED")
    # failed payment notifications: no signature, wrong key, near-miss key, the secret as the signature
    for kwargs in ({"signature": False}, {"secret": "wrong"}, {"secret": secret[:-1]}, {"signature": secret}):
        r = srv.notify(order["order_id"], "pay-1", **kwargs)
        assert r.status_code == 401, (kwargs, r.status_code, r.text)
        answers.append(r.text)
    srv.pay(order["order_id"])
    answers.append(srv.get("/metrics").text)
    answers.append(srv.poll("forged").text)
    srv.stop()
    logs = srv.logs()
    assert "ready" in logs.lower() or logs, "no logs to check"
    for name, value in (("admin token", token), ("payment secret", secret)):
        assert value not in logs, f"the {name} appears in the server's logs"
        for text in answers:
            assert value not in text, f"the {name} appears in an answer: {text[:300]!r}"


@pytest.mark.embedded_only(reason="the key file is generated in the data dir; distributed processes are given FLASHGATE_TICKET_KEYS")
def test_ticket_key_file_is_private_and_not_logged(start_server):
    srv = start_server(env={"FLASHGATE_LOG_LEVEL": "trace"})
    srv.accepted(srv.new_sale(stock=1), "key-user")
    srv.stop()
    key_files = [p for p in srv.data_dir.iterdir() if "key" in p.name.lower() and p.is_file()]
    assert key_files, f"no key file in the data dir: {sorted(p.name for p in srv.data_dir.iterdir())}"
    logs = srv.logs()
    for path in key_files:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        assert mode & 0o077 == 0, f"{path.name} has mode {oct(mode)}, expected 0600"
        for key in path.read_text(errors="replace").replace(",", "\n").split():
            if len(key) >= 32:
                assert key not in logs, f"a ticket key from {path.name} appears in the logs"


def test_error_messages_reveal_no_internals(start_server):
    srv = start_server()
    sale_id = srv.new_sale(stock=2)
    order = srv.accepted(sale_id, "internals-user")
    responses = [
        srv.buy(sale_id, None, body=b"\xff\xfe"),
        srv.buy(sale_id, None, body=b'{"user_id":' + b"[" * 5000),
        srv.buy(sale_id, None, body=b'{"user_id":"x"}' * 500),
        srv.buy(sale_id, None, body={"user_id": 1e308}),
        srv.buy("x' OR '1'='1", "u"),
        srv.buy("'; DROP TABLE orders; --", "u"),
        srv.get_sale("\" UNION SELECT * FROM sales --"),
        srv.get_sale("../../../../etc/passwd"),
        srv.create_sale(b'{"sale_id":"' + b"s" * 5000 + b'","item":"x","stock":1}'),
        srv.create_sale({"sale_id": unique_id(), "item": "x", "stock": -1}),
        srv.create_sale({"sale_id": unique_id(), "item": "x", "stock": 2**70}),
        srv.create_sale({"sale_id": unique_id(), "item": "x", "stock": 1, "starts_at": "2026-13-45T99:99:99Z"}),
        srv.create_sale({"sale_id": unique_id(), "item": "x", "stock": 1, "ends_at": "yesterday"}),
        srv.create_sale({"sale_id": "", "item": "x", "stock": 1}),
        srv.create_sale({"sale_id": sale_id, "item": "x", "stock": 1}),
        srv.create_sale(b"[]"),
        srv.poll(order["ticket"][:-2]),
        srv.poll(order["ticket"] + "A"),
        srv.poll("x" * 3000),
        srv.poll(order["ticket"], wait="abc"),
        srv.poll(order["ticket"], wait="-1", since="zz"),
        srv.get("/api/orders/status"),
        srv.get("/api/orders/events?ticket=%00%01"),
        srv.notify(body=b"{not json", signature="00"),
        srv.notify(body={"order_id": "' OR 1=1 --", "payment_id": "p"}),
        srv.notify(body={"order_id": ["x"], "payment_id": {"a": 1}}),
        srv.get_stats("no-such-sale"),
        srv.get("/api/admin/sales/x/stats"),
        srv.get("/api/sales/%00"),
        srv.get("/%ff%fe"),
    ]
    data_dir = str(srv.data_dir)
    for response in responses:
        where = f"{response.request.method} {response.request.path_url[:80]}"
        assert 400 <= response.status_code < 500, f"{where}: {response.status_code} {response.text[:300]}"
        body = assert_error(response, response.status_code)
        text = response.text.lower()
        assert data_dir.lower() not in text, f"{where}: leaks the data dir: {response.text[:300]}"
        for word in INTERNALS:
            assert word not in body["message"].lower(), f"{where}: message leaks {word!r}: {body!r}"
    assert srv.sale(sale_id)["remaining"] == 1
    assert assert_json(srv.get("/healthz"), 200) == {"status": "ok"}


@pytest.mark.parametrize(
    "user_id",
    ["'; DROP TABLE orders; --", "Robert'); DELETE FROM orders;--", '" OR ""="', "%s%s%s%n%x", "${jndi:ldap://x/a}",
     "../../etc/passwd", "<script>alert(1)</script>", "\r\nX-Injected: 1", "\u0000", "🙂" * 16, "x" * 64],
    ids=["sql1", "sql2", "sql3", "format", "jndi", "path", "html", "crlf", "nul", "emoji-64-bytes", "64-bytes"],
)
def test_hostile_but_valid_user_ids_are_kept_verbatim(server, user_id):
    """An odd user id is either refused (400) or taken as it is: the order is created, it belongs to
    exactly that user, and nothing about it leaks into headers."""
    sale_id = server.new_sale(stock=2)
    first = server.buy(sale_id, user_id)
    assert first.status_code in (202, 400), (first.status_code, first.text)
    if first.status_code == 400:
        assert_error(first, 400, "invalid_request")
        assert server.sale(sale_id)["remaining"] == 2
        return
    assert "X-Injected" not in first.headers
    order = first.json()
    assert server.wait_for_status(order["ticket"], ("CONFIRMED",))["order_id"] == order["order_id"]
    again = assert_json(server.buy(sale_id, user_id), 200)
    assert again["order_id"] == order["order_id"]
    other = assert_json(server.buy(sale_id, user_id[:-1] + ("A" if user_id[-1] != "A" else "B")), 202)  # a different user is a different order
    assert other["order_id"] != order["order_id"]


def test_user_ids_differing_after_a_nul_are_different_users(server):
    sale_id = server.new_sale(stock=3)
    a = server.buy(sale_id, "nul\u0000one")
    b = server.buy(sale_id, "nul\u0000two")
    assert a.status_code in (202, 400) and b.status_code == a.status_code, (a.text, b.text)
    if a.status_code == 202:
        assert a.json()["order_id"] != b.json()["order_id"], "two users collapsed into one at the NUL"
        assert server.sale(sale_id)["remaining"] == 1


@pytest.mark.parametrize("user_id", ["x" * 65, "", "🙂" * 16 + "x"], ids=["65-bytes", "empty", "65-bytes-emoji"])
def test_user_ids_outside_1_to_64_bytes_are_400(server, user_id):
    sale_id = server.new_sale(stock=2)
    assert_error(server.buy(sale_id, user_id), 400, "invalid_request")
    assert server.sale(sale_id)["remaining"] == 2
