"""Rate limits per client address: token buckets for intake and for polls, Retry-After, X-Forwarded-For.

A refused request (429 too_many_requests) changes nothing; once the Retry-After
has passed the client is served again. X-Forwarded-For is believed only from the
configured proxies, and then the rightmost address that is not a proxy is the client.
"""

import time

import pytest

from flashgate_harness import assert_error, assert_json

STATUS_KEYS = ("QUEUED", "PROCESSING", "CONFIRMED", "PAID", "FAILED", "CANCELLED")


def retry_after(response):
    value = response.headers.get("Retry-After")
    assert value is not None, f"429 without Retry-After: {response.headers}"
    assert value.isdigit() and int(value) >= 1, f"Retry-After is not whole seconds >= 1: {value!r}"
    return int(value)


def orders_counted(srv, sale_id):
    counts = srv.stats(sale_id)["counts"]
    return sum(counts.get(k, 0) for k in STATUS_KEYS)


def buy_as(srv, sale_id, user, forwarded_for=None, session=None):
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for is not None else {}
    return (session or srv.http).post(srv.url(f"/api/sales/{sale_id}/orders"), json={"user_id": user},
                                      headers=headers, timeout=10)


def test_intake_burst_over_the_rate_gets_429_with_retry_after_and_creates_nothing(start_server):
    srv = start_server(env={"FLASHGATE_INTAKE_RATE": "5", "FLASHGATE_INTAKE_BURST": "5"})
    sale_id = srv.new_sale(stock=100)
    answers = [(f"burst-{i:02d}", srv.buy(sale_id, f"burst-{i:02d}")) for i in range(20)]
    accepted = [user for user, r in answers if r.status_code == 202]
    refused = [(user, r) for user, r in answers if r.status_code == 429]
    assert len(accepted) + len(refused) == 20, [(u, r.status_code, r.text[:200]) for u, r in answers]
    assert len(accepted) >= 5, "the burst of 5 was not honoured"
    assert refused, "20 intakes at once with rate 5/s and burst 5: none refused"
    waits = []
    for _user, response in refused:
        assert_error(response, 429, "too_many_requests")
        waits.append(retry_after(response))
    # the refused ones created nothing: the counts are exactly the accepted ones
    assert orders_counted(srv, sale_id) == len(accepted)
    assert srv.sale(sale_id)["remaining"] == 100 - len(accepted)
    # after Retry-After, a refused user is served, and gets a new order (202, not 200)
    time.sleep(max(waits) + 0.2)
    user = refused[0][0]
    assert_json(srv.buy(sale_id, user), 202)
    assert orders_counted(srv, sale_id) == len(accepted) + 1


def test_poll_burst_over_the_rate_gets_429_with_retry_after(start_server):
    srv = start_server(env={"FLASHGATE_POLL_RATE": "5", "FLASHGATE_POLL_BURST": "5"})
    sale_id = srv.new_sale(stock=25)
    # one poll per order: a second poll of the same order could be held back by the pacing of
    # polls (poll_after_ms), and the bucket would refill meanwhile
    orders = [srv.accepted(sale_id, f"poller-{i:02d}") for i in range(21)]
    order = orders.pop()
    responses = [srv.poll(o["ticket"]) for o in orders]
    codes = [r.status_code for r in responses]
    assert set(codes) <= {200, 429}, codes
    assert codes.count(200) >= 5, codes
    refused = [r for r in responses if r.status_code == 429]
    assert refused, f"20 polls at once with rate 5/s and burst 5: none refused: {codes}"
    waits = []
    for response in refused:
        assert_error(response, 429, "too_many_requests")
        waits.append(retry_after(response))
    time.sleep(max(waits) + 0.2)
    again = next(o for o, r in zip(orders, responses) if r.status_code == 429)  # a refused one, now served
    assert assert_json(srv.poll(again["ticket"]), 200)["order_id"] == again["order_id"]
    assert assert_json(srv.poll(order["ticket"]), 200)["order_id"] == order["order_id"]
    assert srv.sale(sale_id)["remaining"] == 4  # polling changed nothing


def test_poll_limit_does_not_touch_intake_and_intake_limit_does_not_touch_polls(start_server):
    srv = start_server(env={"FLASHGATE_INTAKE_RATE": "0.1", "FLASHGATE_INTAKE_BURST": "1",
                            "FLASHGATE_POLL_RATE": "0.1", "FLASHGATE_POLL_BURST": "1"})
    sale_id = srv.new_sale(stock=5)
    order = srv.accepted(sale_id, "first")
    assert_error(srv.buy(sale_id, "second"), 429, "too_many_requests")
    assert_json(srv.poll(order["ticket"]), 200)  # the poll bucket is its own
    assert_error(srv.poll(order["ticket"]), 429, "too_many_requests")
    assert_json(srv.get_sale(sale_id), 200)  # reading a sale is neither


@pytest.fixture
def trusting(start_server):
    return start_server(env={"FLASHGATE_TRUST_PROXY": "127.0.0.1", "FLASHGATE_INTAKE_RATE": "0.1",
                             "FLASHGATE_INTAKE_BURST": "2"})


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket(trusting):
    sale_id = trusting.new_sale(stock=50)
    for i in range(2):
        assert_json(buy_as(trusting, sale_id, f"a-{i}", "198.51.100.1"), 202)
    assert_error(buy_as(trusting, sale_id, "a-2", "198.51.100.1"), 429, "too_many_requests")
    # other forwarded clients are not held back by 198.51.100.1
    for i in range(2):
        assert_json(buy_as(trusting, sale_id, f"b-{i}", "198.51.100.2"), 202)
    # the proxy itself (no header) has its own bucket too
    assert_json(buy_as(trusting, sale_id, "proxy-0", None), 202)
    assert orders_counted(trusting, sale_id) == 5


def test_a_client_cannot_escape_its_bucket_by_prepending_addresses(trusting):
    """The rightmost address that is not a trusted proxy is the client: what the client wrote
    before it (left of it) is not believed."""
    sale_id = trusting.new_sale(stock=50)
    for i in range(2):
        assert_json(buy_as(trusting, sale_id, f"c-{i}", "198.51.100.7"), 202)
    for i, forged in enumerate(("203.0.113.1, 198.51.100.7", "10.0.0.1,198.51.100.7", "1.1.1.1, 2.2.2.2, 198.51.100.7")):
        assert_error(buy_as(trusting, sale_id, f"forged-{i}", forged), 429, "too_many_requests")
    # a chain through the proxy itself: the proxy hop is skipped, the client behind it counts
    assert_error(buy_as(trusting, sale_id, "chain-0", "198.51.100.7, 127.0.0.1"), 429, "too_many_requests")
    assert_json(buy_as(trusting, sale_id, "chain-1", "198.51.100.8, 127.0.0.1"), 202)
    assert orders_counted(trusting, sale_id) == 3


def test_without_trust_x_forwarded_for_is_ignored(start_server):
    srv = start_server(env={"FLASHGATE_INTAKE_RATE": "0.1", "FLASHGATE_INTAKE_BURST": "2"})
    sale_id = srv.new_sale(stock=50)
    assert_json(buy_as(srv, sale_id, "x-0", "198.51.100.1"), 202)
    assert_json(buy_as(srv, sale_id, "x-1", "198.51.100.2"), 202)
    for i, forwarded in enumerate(("198.51.100.3", "198.51.100.4, 198.51.100.5", "", "garbage")):
        assert_error(buy_as(srv, sale_id, f"x-{i + 2}", forwarded), 429, "too_many_requests")
    assert orders_counted(srv, sale_id) == 2


def test_a_trusted_proxy_forwarding_garbage_is_not_a_new_client_each_time(start_server):
    """Behind a trusted proxy, junk in X-Forwarded-For must not mint fresh buckets for one client:
    at worst the junk is one client (or the proxy); never unlimited intake."""
    srv = start_server(env={"FLASHGATE_TRUST_PROXY": "127.0.0.1", "FLASHGATE_INTAKE_RATE": "0.1",
                            "FLASHGATE_INTAKE_BURST": "2"})
    sale_id = srv.new_sale(stock=50)
    codes = [buy_as(srv, sale_id, f"junk-{i}", value).status_code
             for i, value in enumerate(["", ",", ", ,", "unknown", "unknown", "999.1.1.1", "999.1.1.1"])]
    assert set(codes) <= {202, 429}, codes
    assert codes.count(429) >= 1, f"junk X-Forwarded-For values were each given a full bucket: {codes}"
