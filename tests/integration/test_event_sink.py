"""The event sink: every outcome (CONFIRMED, FAILED, PAID, CANCELLED) is POSTed,
signed, to --event-sink (the shop of shop_server.py here), at least once, in
version order per order, with the version the status object showed, through
an outbox that survives a crash.

The shop records every event in arrival order; repeats (the same
Flashgate-Event-Id) are allowed and dropped, as the README tells a shop to.
"""

import re
import signal
import time

import pytest
import requests

from flashgate_harness import (RedisServer, Server, assert_json, child_env, distributed, free_port, new_ticket_key,
                               parse_rfc3339, unique_id, wait_until)
from test_order_sink import SINK_SECRET, Shop

SETTLED = ("CONFIRMED", "FAILED")


def event_env(shop_url, events_url, **extra):
    env = {
        "FLASHGATE_EVENT_SINK": events_url,
        "FLASHGATE_SINK_SECRET": SINK_SECRET,
        "FLASHGATE_SINK_TIMEOUT": "5s",
        "FLASHGATE_WINDOWS": "4",
        "FLASHGATE_PAYMENT_TIMEOUT": "6s",
    }
    if shop_url:
        env["FLASHGATE_ORDER_SINK"] = shop_url + "/orders"
        env["FLASHGATE_SINK_DEADLINE"] = "30s"
    env.update(extra)
    return env


def misbehave_events(shop, first):
    body = {"events_mode": "fail", "events_first": first}
    assert requests.post(shop.url + "/control", json=body, timeout=5).status_code == 200


def ms(text):
    return round(parse_rfc3339(text).timestamp() * 1000)


def events_by_order(shop, sale_id):
    """{order_id: [event bodies]} of one sale, repeats dropped, in arrival order."""
    seen, by_order = set(), {}
    for event in shop.stats()["events"]:
        body = event["body"]
        if body["sale_id"] != sale_id or event["id"] in seen:
            continue
        assert event["id"] == f'{body["order_id"]}.{body["version"]}', event
        seen.add(event["id"])
        by_order.setdefault(body["order_id"], []).append(body)
    return by_order


def wait_for_events(shop, sale_id, expected_count, timeout=40):
    def arrived():
        by_order = events_by_order(shop, sale_id)
        return by_order if sum(len(v) for v in by_order.values()) >= expected_count else None

    return wait_until(arrived, timeout=timeout, message=f"{expected_count} events at the shop")


def run_sale(srv, sale_id, users, payers):
    """Buys for every user; pays for `payers` once CONFIRMED. {user: [status objects seen, in order]}."""
    tickets = {}
    for user in users:
        answer = srv.accepted(sale_id, user)
        tickets[user] = answer
    seen = {}
    for user, answer in tickets.items():
        settled = srv.wait_for_status(answer["ticket"], SETTLED, timeout=40)
        seen[user] = [settled]
        if settled["status"] == "CONFIRMED" and user in payers:
            srv.pay(answer["order_id"])
    for user, answer in tickets.items():
        if seen[user][0]["status"] == "CONFIRMED":
            wanted = "PAID" if user in payers else "CANCELLED"
            seen[user].append(srv.wait_for_status(answer["ticket"], wanted, timeout=40))
    return tickets, seen


def assert_events_match(by_order, tickets, seen):
    """Each order's events are its outcomes, in version order, each with the status object's version and time."""
    for user, answer in tickets.items():
        events = by_order.get(answer["order_id"], [])
        statuses = seen[user]
        assert [(e["status"], e["version"]) for e in events] == [(s["status"], s["version"]) for s in statuses], (
            user, events, statuses)
        for event, status in zip(events, statuses):
            assert event["user_id"] == user and event["reason"] == (status["reason"] or ""), (event, status)
            assert isinstance(event["external_id"], str)
            if status["status"] == "CONFIRMED":
                # Distributed: the time the order row was written, just before the status.
                assert abs(event["at"] - ms(status["updated_at"])) < 5000, (event, status)
            else:
                assert event["at"] == ms(status["updated_at"]), (event, status)


def outbox_depth(srv):
    found = re.search(r"^flashgate_event_outbox_depth (\S+)", srv.get("/metrics").text, re.M)
    return float(found.group(1)) if found else None


def event_calls(srv, result):
    found = re.search(rf'^flashgate_sink_calls_total\{{sink="event",result="{result}"\}} (\d+)', srv.get("/metrics").text,
                      re.M)
    return int(found.group(1)) if found else 0


@pytest.fixture
def shop():
    started = Shop(free_port())
    yield started
    started.stop()


def test_every_outcome_reaches_the_event_sink_in_version_order(start_server, shop):
    srv = start_server(env=event_env(shop.url, shop.url + "/events"))
    sale_id = srv.new_sale(stock=6)
    users = ["refused-ann", "refused-bo", "payer-1", "payer-2", "late-1", "late-2"]
    tickets, seen = run_sale(srv, sale_id, users, payers={"payer-1", "payer-2"})
    assert [seen[u][-1]["status"] for u in users] == ["FAILED", "FAILED", "PAID", "PAID", "CANCELLED", "CANCELLED"]
    by_order = wait_for_events(shop, sale_id, expected_count=2 + 2 * 4)
    assert_events_match(by_order, tickets, seen)
    assert by_order[tickets["refused-ann"]["order_id"]][0]["reason"] == "buyer refused: refused-ann"
    assert by_order[tickets["late-1"]["order_id"]][1]["reason"] == "payment_timeout"
    assert shop.stats()["bad_signatures"] == 0
    # (d) the calls are counted and the outbox empties.
    wait_until(lambda: outbox_depth(srv) == 0, timeout=10, message="the outbox to empty")
    assert event_calls(srv, "delivered") >= 10
    assert "flashgate_sink_call_seconds_bucket{sink=\"event\"" in srv.get("/metrics").text


def test_an_event_sink_failing_its_first_calls_still_gets_everything_in_order(start_server, shop):
    misbehave_events(shop, first=6)
    srv = start_server(env=event_env(None, shop.url + "/events"))
    sale_id = srv.new_sale(stock=4)
    tickets, seen = run_sale(srv, sale_id, ["p1", "p2", "c1", "c2"], payers={"p1", "p2"})
    by_order = wait_for_events(shop, sale_id, expected_count=8)
    assert_events_match(by_order, tickets, seen)
    assert event_calls(srv, "unavailable") >= 6
    retries = re.search(r'^flashgate_sink_retries_total\{sink="event"\} (\d+)', srv.get("/metrics").text, re.M)
    assert retries and int(retries.group(1)) >= 1
    wait_until(lambda: outbox_depth(srv) == 0, timeout=10, message="the outbox to empty")
    # One outage, one warning, however many events waited.
    assert srv.logs().count("event sink unavailable") == 1, srv.logs()


def test_outcomes_wait_in_the_outbox_through_a_crash_until_the_sink_comes_up(start_server):
    """Without a durable outbox this fails: the outcomes happen while the sink is down, the
    process that saw them is killed -9, and the restarted one never saw them happen."""
    port = free_port()
    events_url = f"http://127.0.0.1:{port}/events"
    env = event_env(None, events_url, FLASHGATE_RECLAIM_AFTER="2s")
    srv = start_server(env=env)
    data_dir = srv.data_dir
    sale_id = srv.new_sale(stock=4)
    tickets, seen = run_sale(srv, sale_id, ["p1", "p2", "c1", "c2"], payers={"p1", "p2"})
    # Every outcome is waiting: nobody has received one.
    wait_until(lambda: outbox_depth(srv) == 8, timeout=30, message="8 events in the outbox")
    assert event_calls(srv, "delivered") == 0
    srv.close_sessions()
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait(timeout=10)
    srv.killed = True

    again = start_server(env=env, data_dir=data_dir)
    time.sleep(0.5)  # the restarted process meets a sink that is still down
    shop = Shop(port)
    try:
        by_order = wait_for_events(shop, sale_id, expected_count=8, timeout=40)
        assert_events_match(by_order, tickets, seen)
        wait_until(lambda: outbox_depth(again) == 0, timeout=15, message="the outbox to empty")
        assert shop.stats()["bad_signatures"] == 0
    finally:
        shop.stop()


def test_an_event_sink_without_the_secret_refuses_to_start(start_server):
    with pytest.raises(Exception) as refused:
        start_server(env={"FLASHGATE_EVENT_SINK": "http://127.0.0.1:9/events"})
    assert "event_sink needs sink_secret" in str(refused.value)


@pytest.mark.skipif(not distributed(), reason="two workers on one Redis and PostgreSQL: the distributed pass")
def test_when_the_delivering_worker_dies_another_delivers_what_it_left(tmp_path_factory, session_database):
    """Two workers, one gateway. The worker holding the delivery lock is killed -9 while the
    sink is down and outcomes wait; the other takes the lock and delivers them all."""
    port = free_port()
    redis = RedisServer(tmp_path_factory.mktemp("events-redis"))
    redis.start()
    env = child_env(event_env(None, f"http://127.0.0.1:{port}/events", FLASHGATE_TICKET_KEYS=new_ticket_key(),
                              FLASHGATE_RECLAIM_AFTER="2s"))
    started = []

    def launch(role):
        args = ["--store", redis.url, "--database", session_database, "--role", role]
        server = Server(tmp_path_factory.mktemp(role), env, free_port(), args=args)
        started.append(server)
        server.start()
        assert server.wait_ready(), server.describe_logs()
        return server

    shop = None
    try:
        workers = [launch("worker"), launch("worker")]
        gateway = launch("gateway")
        wait_until(lambda: any("this worker delivers the outbox" in w.logs() for w in workers), timeout=15,
                   message="one worker to take the delivery lock")
        leader = next(w for w in workers if "this worker delivers the outbox" in w.logs())
        other = next(w for w in workers if w is not leader)
        sale_id = gateway.new_sale(stock=4)
        tickets, seen = run_sale(gateway, sale_id, ["p1", "p2", "c1", "c2"], payers={"p1", "p2"})
        wait_until(lambda: outbox_depth(leader) >= 8, timeout=30, message="8 events waiting")
        leader.close_sessions()
        leader.proc.send_signal(signal.SIGKILL)
        leader.proc.wait(timeout=10)
        leader.killed = True
        shop = Shop(port)
        by_order = wait_for_events(shop, sale_id, expected_count=8, timeout=40)
        assert_events_match(by_order, tickets, seen)
        assert "this worker delivers the outbox" in other.logs()
        wait_until(lambda: outbox_depth(other) == 0, timeout=15, message="the outbox to empty")
    finally:
        if shop:
            shop.stop()
        for server in reversed(started):
            if server.is_running():
                server.stop()
        redis.stop()


def test_each_event_carries_the_quantity_of_its_order(start_server, shop):
    srv = start_server(env=event_env(None, shop.url + "/events"))
    sale_id = unique_id("sale")
    assert srv.create_sale({"sale_id": sale_id, "item": "pairs", "stock": 10, "max_per_buyer": 3}).status_code == 201
    wanted = {"pair-buyer": 2, "single-buyer": 1, "triple-buyer": 3}
    orders = {}
    for user, quantity in wanted.items():
        answer = assert_json(srv.buy(sale_id, user, body={"user_id": user, "quantity": quantity}), 202)
        orders[answer["order_id"]] = (answer, quantity)
    for answer, _ in orders.values():
        srv.wait_for_status(answer["ticket"], "CONFIRMED", timeout=40)
    paid = next(answer for answer, quantity in orders.values() if quantity == 2)
    srv.pay(paid["order_id"])
    by_order = wait_for_events(shop, sale_id, expected_count=len(wanted) + 1)
    for order_id, events in by_order.items():
        assert [e["quantity"] for e in events] == [orders[order_id][1]] * len(events), events
    assert [e["status"] for e in by_order[paid["order_id"]]] == ["CONFIRMED", "PAID"]
