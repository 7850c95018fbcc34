"""examples/shop/shop.py, the example shop, as a real process in front of flashgate (--order-sink).

flashgate's signed calls are accepted, a refused buyer ends FAILED with the
shop's message, a wrong secret is refused by the shop (a 401 is a 4xx, so
flashgate's orders end FAILED with the shop's words), and a repeated
Idempotency-Key creates nothing new. The event endpoint (--event-sink) is
driven directly with calls signed as flashgate signs them. Runs in both
deployments (distributed: each `--role all` process gets the sink settings).
"""

import hashlib
import hmac
import json
import subprocess
import sys
import time

import pytest
import requests

from flashgate_harness import REPO, free_port, wait_until

SHOP = REPO / "examples" / "shop" / "shop.py"
SECRET = "example-shop-secret"
FINAL = ("CONFIRMED", "FAILED")


class ExampleShop:
    def __init__(self, tmp_path, *args):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / f"shop-{self.port}.log"
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(SHOP), "--port", str(self.port), *args], stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env={"FLASHGATE_SINK_SECRET": SECRET, "PATH": "/usr/bin:/bin"},
            )

        def ready():
            assert self.proc.poll() is None, self.log.read_text()
            try:
                return requests.get(self.url + "/orders", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        try:
            wait_until(ready, timeout=15, message="the example shop to listen")
        except BaseException:
            self.stop()
            raise

    def orders(self):
        return requests.get(self.url + "/orders", timeout=5).json()["orders"]

    def events(self):
        return requests.get(self.url + "/events", timeout=5).json()["events"]

    def signed_post(self, path, document, headers=(), secret=SECRET, t=None):
        """A call signed as flashgate signs it."""
        body = json.dumps(document).encode()
        t = int(time.time()) if t is None else t
        mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
        sent = {"Content-Type": "application/json", "Flashgate-Signature": f"t={t},v1={mac}", **dict(headers)}
        return requests.post(self.url + path, data=body, headers=sent, timeout=5)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def shop(tmp_path):
    started = ExampleShop(tmp_path, "--refuse-users", "mallory,trudy")
    yield started
    started.stop()


def shop_server(start_server, shop, secret=SECRET):
    return start_server(env={
        "FLASHGATE_ORDER_SINK": shop.url + "/orders",
        "FLASHGATE_SINK_SECRET": secret,
        "FLASHGATE_SINK_TIMEOUT": "5s",  # a loaded test machine's slowest answer
        "FLASHGATE_WINDOWS": "4",
    })


def buy_and_settle(srv, sale_id, users):
    """{user: final status object}."""
    tickets = {}
    for user in users:
        answer = srv.buy(sale_id, user)
        assert answer.status_code == 202, answer.text
        tickets[user] = answer.json()["ticket"]
    return {user: srv.wait_for_status(ticket, FINAL, timeout=40) for user, ticket in tickets.items()}


def test_flashgate_creates_orders_in_the_example_shop_and_refused_buyers_fail_with_its_message(start_server, shop):
    srv = shop_server(start_server, shop)
    sale_id = srv.new_sale(stock=5, item="Example phone")
    finals = buy_and_settle(srv, sale_id, ["alice", "mallory", "bob", "blocked-bot"])
    assert finals["mallory"]["status"] == "FAILED"
    assert finals["mallory"]["reason"] == "buyer mallory may not buy here"
    assert finals["blocked-bot"]["status"] == "FAILED"
    assert finals["blocked-bot"]["reason"] == "buyer blocked-bot may not buy here"
    confirmed = {user: s for user, s in finals.items() if s["status"] == "CONFIRMED"}
    assert set(confirmed) == {"alice", "bob"}
    # One order in the shop per confirmed order, each with its own external id.
    orders = shop.orders()
    assert sorted(o["order_id"] for o in orders) == sorted(s["order_id"] for s in confirmed.values())
    assert len({o["external_id"] for o in orders}) == len(orders)
    assert all(o["quantity"] == 1 for o in orders), orders  # the body flashgate sent says how many units
    for order in orders:
        assert order["sale_id"] == sale_id and order["item"] == "Example phone"
        assert order["external_id"].startswith("SHOP-")
    # The refused units went back on sale.
    assert srv.stats(sale_id)["remaining"] == 5 - 2
    assert "bad or stale signature" not in shop.log.read_text()


def test_a_wrong_secret_is_refused_by_the_shop_and_the_orders_fail(start_server, shop):
    srv = shop_server(start_server, shop, secret="not-the-shops-secret")
    sale_id = srv.new_sale(stock=2)
    finals = buy_and_settle(srv, sale_id, ["alice", "bob"])
    for final in finals.values():
        # 401 is a 4xx: final at once (no retries until the deadline), with the shop's words.
        assert (final["status"], final["reason"]) == ("FAILED", "Flashgate-Signature does not verify")
    assert shop.orders() == []
    assert srv.stats(sale_id)["remaining"] == 2
    assert shop.log.read_text().count("bad or stale signature") >= 2


def test_a_repeated_idempotency_key_creates_nothing_new(start_server, shop):
    srv = shop_server(start_server, shop)
    sale_id = srv.new_sale(stock=2)
    finals = buy_and_settle(srv, sale_id, ["carol", "trudy"])
    carol, trudy = finals["carol"], finals["trudy"]
    assert (carol["status"], trudy["status"]) == ("CONFIRMED", "FAILED")
    before = shop.orders()
    assert [o["order_id"] for o in before] == [carol["order_id"]]
    # flashgate asking again (a timeout, a restart, a reclaim): the same key, the first answer.
    for final, user in ((carol, "carol"), (trudy, "trudy")):
        body = {"order_id": final["order_id"], "sale_id": sale_id, "user_id": user, "item": "x",
                "accepted_at": "2026-12-06T12:00:00.000Z"}
        again = shop.signed_post("/orders", body, {"Idempotency-Key": final["order_id"]})
        if user == "carol":
            assert (again.status_code, again.json()) == (201, {"external_id": before[0]["external_id"]})
        else:
            assert again.status_code == 409 and again.json()["message"] == trudy["reason"]
    assert shop.orders() == before


@pytest.mark.embedded_only(reason="drives the example shop alone; flashgate's deployment does not matter")
def test_the_shop_refuses_unsigned_forged_and_replayed_calls(shop, tmp_path):
    order = {"order_id": "o-1", "sale_id": "s", "user_id": "u", "item": "x", "accepted_at": "2026-12-06T12:00:00.000Z"}
    key = {"Idempotency-Key": "o-1"}
    unsigned = requests.post(shop.url + "/orders", json=order, headers=key, timeout=5)
    forged = shop.signed_post("/orders", order, key, secret="guess")
    replayed = shop.signed_post("/orders", order, key, t=int(time.time()) - 301)
    for answer in (unsigned, forged, replayed):
        assert answer.status_code == 401 and answer.json()["error"] == "bad_signature", answer.text
    assert shop.orders() == []
    assert shop.signed_post("/orders", order, key).status_code == 201
    no_key = shop.signed_post("/orders", {**order, "order_id": "o-2"})
    assert no_key.status_code == 400
    assert [o["order_id"] for o in shop.orders()] == ["o-1"]


@pytest.mark.embedded_only(reason="drives the example shop alone; flashgate's deployment does not matter")
def test_the_shops_event_endpoint_verifies_dedupes_and_keeps_the_newest_status(shop):
    order = {"order_id": "o-9", "sale_id": "s", "user_id": "u", "item": "x", "accepted_at": "2026-12-06T12:00:00.000Z"}
    assert shop.signed_post("/orders", order, {"Idempotency-Key": "o-9"}).status_code == 201

    def event(status, version):
        return {"order_id": "o-9", "sale_id": "s", "user_id": "u", "status": status, "version": version,
                "reason": None, "external_id": "SHOP-000001", "at": "2026-12-06T12:00:01.000Z"}

    def send(document, **kw):
        headers = {"Flashgate-Event-Id": f"o-9.{document['version']}"}
        return shop.signed_post("/events", document, headers, **kw)

    assert send(event("PAID", 4)).status_code == 200
    assert send(event("PAID", 4)).status_code == 200  # delivered again: acknowledged, kept once
    assert send(event("CONFIRMED", 3)).status_code == 200  # late: kept, but the order stays PAID
    assert send(event("CANCELLED", 5), secret="guess").status_code == 401
    assert [(e["status"], e["version"]) for e in shop.events()] == [("PAID", 4), ("CONFIRMED", 3)]
    assert [(o["status"], o["version"]) for o in shop.orders()] == [("PAID", 4)]
