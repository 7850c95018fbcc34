#!/usr/bin/env python3
"""A shop's order service for the order sink tests: a real HTTP server process.

POST /orders       creates an order (verifies Flashgate-Signature, honours
                   Idempotency-Key: a repeated key answers the same order);
                   buyers whose user_id starts with "refused" get 409.
POST /control      JSON {"mode": M, "first": N, "slow_seconds": S}: the next N
                   order calls misbehave as M, then the shop is normal again.
                   Modes: fail (503), slow (answers after S seconds, the order
                   is created), not_http, redirect, close_mid_reply, non_json
                   (200, the order is created), huge (200 with a 50 MiB body,
                   the order is created), no_external_id (201 {}, the order
                   is created), bad_external_id (201 with an external_id of
                   200 bytes, the order is created).
                   Otherwise a created order is answered 201
                   {"external_id": "SHOP-<n>"}, the same for the same key.
POST /events       the event sink: verifies Flashgate-Signature, records each
                   event in arrival order with its Flashgate-Event-Id, 204.
                   With /control {"events_mode": "fail", "events_first": N}
                   the next N event calls get 503 and are not recorded.
GET /stats         {"calls", "created": {key: external_id}, "calls_by_key",
                   "bad_signatures", "bodies": {key: body}, "event_calls",
                   "events": [{"id": Flashgate-Event-Id, "body": event}]}

Usage: shop_server.py PORT SECRET [CERT KEY]   (with CERT and KEY: https)
"""

import hashlib
import hmac
import json
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = b""
LOCK = threading.Lock()
STATE = {"calls": 0, "created": {}, "calls_by_key": {}, "bad_signatures": 0, "bodies": {}, "event_calls": 0,
         "events": []}
EVENT_FAULTS = {"mode": None, "left": 0}
MISBEHAVIOUR = {"mode": None, "left": 0, "slow_seconds": 0.0}


def signature_ok(header, body):
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        t = fields["t"]
        expected = hmac.new(SECRET, t.encode() + b"." + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, fields["v1"]) and abs(time.time() - int(t)) < 300
    except (KeyError, ValueError):
        return False


class Shop(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as flashgate expects

    def log_message(self, *args):
        pass

    def reply(self, status, document, extra_headers=()):
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra_headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path != "/stats":
            return self.reply(404, {"error": "not_found"})
        with LOCK:
            snapshot = json.loads(json.dumps(STATE))
        self.reply(200, snapshot)

    def read_body(self):
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def do_POST(self):
        body = self.read_body()
        if self.path == "/control":
            control = json.loads(body)
            with LOCK:
                if "events_mode" in control:
                    EVENT_FAULTS.update(mode=control["events_mode"], left=int(control.get("events_first", 0)))
                else:
                    MISBEHAVIOUR.update(mode=control.get("mode"), left=int(control.get("first", 0)),
                                        slow_seconds=float(control.get("slow_seconds", 0)))
            return self.reply(200, {"ok": True})
        if self.path == "/events":
            return self.event(body)
        if self.path != "/orders":
            return self.reply(404, {"error": "not_found"})
        if self.headers.get("Host") != f"{self.server.host_name}:{self.server.server_port}":
            return self.reply(400, {"error": "bad_host", "message": f"Host is {self.headers.get('Host')}"})
        key = self.headers.get("Idempotency-Key", "")
        with LOCK:
            STATE["calls"] += 1
            STATE["calls_by_key"][key] = STATE["calls_by_key"].get(key, 0) + 1
            mode = None
            if MISBEHAVIOUR["left"] > 0:
                MISBEHAVIOUR["left"] -= 1
                mode = MISBEHAVIOUR["mode"]
            slow_seconds = MISBEHAVIOUR["slow_seconds"]
        if not signature_ok(self.headers.get("Flashgate-Signature", ""), body):
            with LOCK:
                STATE["bad_signatures"] += 1
            return self.reply(401, {"error": "bad_signature", "message": "signature does not match"})
        order = json.loads(body)
        if order.get("order_id") != key:
            return self.reply(400, {"error": "key_mismatch", "message": "Idempotency-Key is not the order_id"})
        if mode == "fail":
            return self.reply(503, {"error": "busy", "message": "try later"})
        if mode == "not_http":
            self.wfile.write(b"this is not HTTP at all\r\n\r\n")
            self.close_connection = True
            return
        if mode == "redirect":
            return self.reply(302, {"error": "moved"}, [("Location", "/elsewhere")])
        if mode == "close_mid_reply":
            self.wfile.write(b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"ext")
            self.wfile.flush()
            self.close_connection = True
            return
        if order.get("user_id", "").startswith("refused"):
            return self.reply(409, {"error": "buyer_refused", "message": f"buyer refused: {order['user_id']}"})
        if mode == "slow":
            time.sleep(slow_seconds)
        with LOCK:
            created = STATE["created"].setdefault(key, f"SHOP-{len(STATE['created']) + 1}")
            STATE["bodies"][key] = order
        if mode == "non_json":
            page = b"<html>order created</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            return
        if mode == "no_external_id":
            return self.reply(201, {})
        if mode == "bad_external_id":
            return self.reply(201, {"external_id": "X" * 200})
        if mode == "huge":
            size = 50 * 1024 * 1024
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            chunk = b" " * 65536
            try:
                for _ in range(size // len(chunk)):
                    self.wfile.write(chunk)
            except OSError:
                pass  # flashgate stopped reading, as it should
            self.close_connection = True
            return
        self.reply(201, {"external_id": created})

    def event(self, body):
        with LOCK:
            STATE["event_calls"] += 1
            failing = EVENT_FAULTS["left"] > 0 and EVENT_FAULTS["mode"] == "fail"
            if failing:
                EVENT_FAULTS["left"] -= 1
        if not signature_ok(self.headers.get("Flashgate-Signature", ""), body):
            with LOCK:
                STATE["bad_signatures"] += 1
            return self.reply(401, {"error": "bad_signature", "message": "signature does not match"})
        if failing:
            return self.reply(503, {"error": "busy", "message": "try later"})
        with LOCK:
            STATE["events"].append({"id": self.headers.get("Flashgate-Event-Id", ""), "body": json.loads(body)})
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global SECRET
    port, SECRET = int(sys.argv[1]), sys.argv[2].encode()
    server = Server(("127.0.0.1", port), Shop)
    server.host_name = "127.0.0.1"
    if len(sys.argv) == 5:
        server.host_name = "localhost"  # the name its certificate has
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[3], sys.argv[4])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print("shop ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
