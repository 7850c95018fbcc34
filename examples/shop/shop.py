#!/usr/bin/env python3
"""An example shop for flashgate: the two endpoints a shop gives flashgate.

    POST /orders   flashgate's windows create each order here (--order-sink).
    POST /events   flashgate tells every outcome here (--event-sink).
    GET  /orders   what the shop holds, as JSON, for you to look at.
    GET  /events

Python 3 standard library only. Run it:

    FLASHGATE_SINK_SECRET=s3cret python3 examples/shop/shop.py --port 9000 --refuse-users mallory

and start flashgate with the same secret:

    flashgate serve --order-sink http://127.0.0.1:9000/orders --sink-secret s3cret

See README.md next to this file.
"""

import argparse
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPLAY_WINDOW_SECONDS = 300  # a signed call older (or newer) than this is refused: a replay


def signature_ok(secret, header, body, now=None):
    """Flashgate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">."""
    try:
        fields = dict(part.strip().split("=", 1) for part in header.split(","))
        t = int(fields["t"])
        expected = hmac.new(secret, str(t).encode() + b"." + body, hashlib.sha256).hexdigest()
    except (KeyError, ValueError):
        return False
    fresh = abs((now or time.time()) - t) <= REPLAY_WINDOW_SECONDS
    return fresh and hmac.compare_digest(expected, fields["v1"])


class ShopState:
    """Orders, outcomes and remembered answers. One lock: this is an example, not a database."""

    def __init__(self, refused_users, refused_prefix):
        self.lock = threading.Lock()
        self.refused_users = refused_users
        self.refused_prefix = refused_prefix
        self.orders = []  # created orders, in creation order
        self.answers = {}  # Idempotency-Key -> (status, reply): a repeated call gets the first answer
        self.events = []  # outcomes flashgate told, in arrival order
        self.event_ids = set()  # Flashgate-Event-Id seen: a redelivery is acknowledged, not kept twice

    def refuses(self, user_id):
        return user_id in self.refused_users or bool(self.refused_prefix and user_id.startswith(self.refused_prefix))

    def create_order(self, key, order):
        """(status, reply, created_now) for an order call with Idempotency-Key `key`."""
        with self.lock:
            if key in self.answers:
                status, reply = self.answers[key]
                return status, reply, False
            if self.refuses(order.get("user_id", "")):
                status, reply = 409, {"error": "buyer_refused", "message": f"buyer {order['user_id']} may not buy here"}
            else:
                external_id = f"SHOP-{len(self.orders) + 1:06d}"
                self.orders.append({"external_id": external_id, "order_id": order.get("order_id"),
                                    "sale_id": order.get("sale_id"), "user_id": order.get("user_id"),
                                    "item": order.get("item"), "quantity": order.get("quantity", 1),
                                    # a sale of several items names which one; None for a sale of one
                                    "item_id": order.get("item_id"),
                                    "accepted_at": order.get("accepted_at"),
                                    "status": "CONFIRMED", "version": 0})
                status, reply = 201, {"external_id": external_id}
            self.answers[key] = (status, reply)
            return status, reply, True

    def record_event(self, event_id, event):
        """True if it is new; the order it names takes its status unless it already has a newer one
        (events may arrive out of order: each order's version only grows)."""
        with self.lock:
            if event_id in self.event_ids:
                return False
            self.event_ids.add(event_id)
            self.events.append(event)
            for order in self.orders:
                newer = isinstance(event.get("version"), int) and event["version"] > order["version"]
                if order["order_id"] == event.get("order_id") and event.get("status") and newer:
                    order["status"], order["version"] = event["status"], event["version"]
            return True

    def snapshot(self, what):
        with self.lock:
            return json.loads(json.dumps(getattr(self, what)))


class ShopHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: flashgate reuses its connections

    def log_message(self, *args):
        pass  # one line per order and per event instead (log below)

    def log(self, text):
        print(f"shop: {text}", flush=True)

    def reply(self, status, document):
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path in ("/orders", "/events"):
            return self.reply(200, {self.path[1:]: self.server.state.snapshot(self.path[1:])})
        if self.path == "/healthz":
            return self.reply(200, {"status": "ok"})
        self.reply(404, {"error": "not_found", "message": "GET /orders or /events"})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path not in ("/orders", "/events"):
            return self.reply(404, {"error": "not_found", "message": "POST /orders or /events"})
        # Always before the body is believed: only flashgate knows the secret.
        if not signature_ok(self.server.secret, self.headers.get("Flashgate-Signature", ""), body):
            self.log(f"{self.path}: bad or stale signature, refused")
            return self.reply(401, {"error": "bad_signature", "message": "Flashgate-Signature does not verify"})
        try:
            document = json.loads(body)
            if not isinstance(document, dict):
                raise ValueError("not an object")
        except ValueError:
            return self.reply(400, {"error": "invalid_json", "message": "the body is not a JSON object"})
        if self.path == "/orders":
            self.post_order(document)
        else:
            self.post_event(document)

    def post_order(self, order):
        key = self.headers.get("Idempotency-Key", "")
        if not key:
            return self.reply(400, {"error": "no_idempotency_key", "message": "Idempotency-Key is required"})
        status, reply, created_now = self.server.state.create_order(key, order)
        what = ("created " + reply["external_id"]) if status == 201 else ("refused: " + reply["message"])
        self.log(f"order {key} of {order.get('user_id')}: {what}" + ("" if created_now else " (repeated key, same answer)"))
        self.reply(status, reply)

    def post_event(self, event):
        event_id = self.headers.get("Flashgate-Event-Id", "")
        if not event_id:
            return self.reply(400, {"error": "no_event_id", "message": "Flashgate-Event-Id is required"})
        new = self.server.state.record_event(event_id, event)
        reason = f" ({event['reason']})" if event.get("reason") else ""
        self.log(f"event {event_id}: order {event.get('order_id')} is {event.get('status')}{reason}"
                 + ("" if new else " (seen before)"))
        self.reply(200, {"ok": True})


class ShopServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main(argv=None):
    parser = argparse.ArgumentParser(description="An example shop behind flashgate's --order-sink and --event-sink.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--secret", default=os.environ.get("FLASHGATE_SINK_SECRET"),
                        help="the key of Flashgate-Signature (default: $FLASHGATE_SINK_SECRET)")
    parser.add_argument("--refuse-users", default="", help="comma-separated buyers the shop refuses (409)")
    parser.add_argument("--refuse-prefix", default="blocked", help="buyers whose id starts with this are refused too")
    args = parser.parse_args(argv)
    if not args.secret:
        parser.error("no secret: set FLASHGATE_SINK_SECRET or pass --secret (the same as flashgate's --sink-secret)")
    refused = {u.strip() for u in args.refuse_users.split(",") if u.strip()}
    server = ShopServer((args.host, args.port), ShopHandler)
    server.secret = args.secret.encode()
    server.state = ShopState(refused, args.refuse_prefix)
    print(f"shop: listening on http://{args.host}:{server.server_port} (POST /orders, POST /events, GET /orders, "
          f"GET /events)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
