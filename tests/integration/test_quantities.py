"""Quantities and per-buyer limits (issue #26): an intake may ask for
`quantity` units of a sale whose buyers may hold up to `max_per_buyer`.

A repeat of a request (the same buyer and `request_id`, or the same buyer
without one) returns the order it made; another `request_id` of the same buyer
is another order, as long as the buyer's units stay within the limit. In a sale
with max_per_buyer 1 (the default) a buyer holds one order, whatever the
request id, exactly as before quantities existed.
"""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from flashgate_harness import assert_error, assert_json, unique_id, wait_until

HOLDING = ("QUEUED", "PROCESSING", "CONFIRMED", "PAID")


def new_sale(server, stock, max_per_buyer=None):
    body = {"sale_id": unique_id("qsale"), "item": "boxed widget", "stock": stock}
    if max_per_buyer is not None:
        body["max_per_buyer"] = max_per_buyer
    created = assert_json(server.create_sale(body), 201)
    assert created["max_per_buyer"] == (max_per_buyer or 1)
    return body["sale_id"]


ABSENT = object()


def buy(server, sale_id, user, quantity=ABSENT, request_id=ABSENT):
    """An intake whose body has the fields given (None is sent as JSON null)."""
    body = {"user_id": user}
    if quantity is not ABSENT:
        body["quantity"] = quantity
    if request_id is not ABSENT:
        body["request_id"] = request_id
    return server.buy(sale_id, user, body=body)


def assert_units_add_up(server, sale_id, stock):
    """remaining + the units of every order holding them == stock; units >= orders."""
    stats = server.stats(sale_id)
    assert stats["remaining"] + sum(stats["units"][s] for s in HOLDING) == stock, stats
    for status, orders in stats["counts"].items():
        assert stats["units"][status] >= orders, stats
    return stats


def test_a_sale_says_its_max_per_buyer(server):
    sale_id = new_sale(server, 10, max_per_buyer=3)
    assert server.sale(sale_id)["max_per_buyer"] == 3
    assert server.sale(new_sale(server, 10))["max_per_buyer"] == 1


@pytest.mark.parametrize("bad", [0, -1, 1_000_001, "2", 1.5, None, True])
def test_a_bad_max_per_buyer_is_refused(server, bad):
    sale_id = unique_id("qsale")
    response = server.create_sale({"sale_id": sale_id, "item": "w", "stock": 5, "max_per_buyer": bad})
    body = assert_error(response, 400, "invalid_request")
    assert "max_per_buyer" in body["message"]
    assert server.get_sale(sale_id).status_code == 404


def test_an_intake_reserves_its_quantity(server):
    sale_id = new_sale(server, 10, max_per_buyer=3)
    answer = assert_json(buy(server, sale_id, unique_id("u"), quantity=3), 202)
    assert answer["quantity"] == 3
    assert server.status(answer["ticket"])["quantity"] == 3
    assert server.sale(sale_id)["remaining"] == 7
    stats = assert_units_add_up(server, sale_id, 10)
    assert sum(stats["counts"].values()) == 1 and sum(stats["units"].values()) == 3, stats


def test_the_same_request_again_is_the_same_order(server):
    sale_id = new_sale(server, 10, max_per_buyer=3)
    user = unique_id("u")
    first = assert_json(buy(server, sale_id, user, quantity=2, request_id="cart-1"), 202)
    again = assert_json(buy(server, sale_id, user, quantity=2, request_id="cart-1"), 200)
    assert again["order_id"] == first["order_id"] and again["quantity"] == 2
    assert server.sale(sale_id)["remaining"] == 8


def test_another_request_is_another_order_within_the_buyers_limit(server):
    sale_id = new_sale(server, 10, max_per_buyer=3)
    user = unique_id("u")
    first = assert_json(buy(server, sale_id, user, quantity=2, request_id="a"), 202)
    second = assert_json(buy(server, sale_id, user, quantity=1, request_id="b"), 202)
    assert second["order_id"] != first["order_id"]
    body = assert_error(buy(server, sale_id, user, quantity=1, request_id="c"), 409, "buyer_limit_reached")
    assert "max_per_buyer" in body["message"]
    assert_error(buy(server, sale_id, user), 409, "buyer_limit_reached")
    assert server.sale(sale_id)["remaining"] == 7
    assert_units_add_up(server, sale_id, 10)


def test_a_single_unit_sale_behaves_as_before(server):
    sale_id = new_sale(server, 5)
    user = unique_id("u")
    first = assert_json(buy(server, sale_id, user, quantity=1, request_id="a"), 202)
    assert first["quantity"] == 1
    for again in (buy(server, sale_id, user, request_id="b"), server.buy(sale_id, user)):
        assert assert_json(again, 200)["order_id"] == first["order_id"]
    assert_error(buy(server, sale_id, unique_id("u"), quantity=2), 400, "invalid_request")
    assert server.sale(sale_id)["remaining"] == 4


@pytest.mark.parametrize("quantity", [0, -2, 4, 1_000_001, 2**63, "2", 1.5, None, True, [1]])
def test_a_bad_quantity_is_refused_and_changes_nothing(server, quantity):
    sale_id = new_sale(server, 10, max_per_buyer=3)
    body = assert_error(buy(server, sale_id, unique_id("u"), quantity=quantity), 400, "invalid_request")
    assert "quantity" in body["message"]
    assert server.sale(sale_id)["remaining"] == 10
    assert sum(server.stats(sale_id)["counts"].values()) == 0


@pytest.mark.parametrize("request_id", ["", "x" * 65, "has space", 7, None])
def test_a_bad_request_id_is_refused(server, request_id):
    sale_id = new_sale(server, 10, max_per_buyer=3)
    body = assert_error(buy(server, sale_id, unique_id("u"), request_id=request_id), 400, "invalid_request")
    assert "request_id" in body["message"]
    assert server.sale(sale_id)["remaining"] == 10


def test_more_than_remains_is_not_enough_stock_and_none_left_is_sold_out(server):
    sale_id = new_sale(server, 3, max_per_buyer=5)
    assert_json(buy(server, sale_id, unique_id("u"), quantity=2), 202)
    short = assert_error(buy(server, sale_id, unique_id("u"), quantity=2), 409, "not_enough_stock")
    assert short["remaining"] == 1
    assert_json(buy(server, sale_id, unique_id("u"), quantity=1), 202)
    assert_error(buy(server, sale_id, unique_id("u"), quantity=1), 409, "sold_out")
    assert_error(buy(server, sale_id, unique_id("u"), quantity=4), 409, "sold_out")
    assert server.sale(sale_id)["state"] == "sold_out"
    # Still a bad quantity, not sold out, once a gateway answers sold out from memory (distributed:
    # its sold-out book follows the sale a moment after the first sold_out).
    for _ in range(5):
        assert_error(buy(server, sale_id, unique_id("u"), quantity=6), 400, "invalid_request")
        time.sleep(0.1)
    assert_units_add_up(server, sale_id, 3)


def test_a_crowd_asking_for_several_units_never_oversells(server):
    stock, limit = 60, 4
    sale_id = new_sale(server, stock, max_per_buyer=limit)

    def attempt(i):
        quantity = 1 + i % limit
        response = buy(server, sale_id, f"crowd-{i}", quantity=quantity)
        return quantity, response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attempt, range(80)))
    taken = sum(q for q, status, _ in results if status == 202)
    for quantity, status, body in results:
        assert status in (202, 409), body
        if status == 409:
            assert body["error"] in ("sold_out", "not_enough_stock"), body
            if body["error"] == "not_enough_stock":
                assert body["remaining"] < quantity
    assert taken <= stock
    assert server.sale(sale_id)["remaining"] == stock - taken
    assert_units_add_up(server, sale_id, stock)


def test_payment_timeout_gives_every_unit_and_the_allowance_back(start_server):
    srv = start_server(env={"FLASHGATE_PAYMENT_TIMEOUT": "1s"})
    sale_id = new_sale(srv, 4, max_per_buyer=4)
    user = unique_id("u")
    answer = assert_json(buy(srv, sale_id, user, quantity=4, request_id="a"), 202)
    assert_error(buy(srv, sale_id, unique_id("u")), 409, "sold_out")
    cancelled = srv.wait_for_status(answer["ticket"], ("CANCELLED",), timeout=30)
    assert cancelled["quantity"] == 4
    assert wait_until(lambda: srv.sale(sale_id)["remaining"] == 4, timeout=10)
    stats = assert_units_add_up(srv, sale_id, 4)
    assert stats["units"]["CANCELLED"] == 4 and stats["counts"]["CANCELLED"] == 1, stats
    # The buyer's allowance is whole again.
    assert_json(buy(srv, sale_id, user, quantity=4, request_id="b"), 202)
    assert srv.sale(sale_id)["remaining"] == 0
