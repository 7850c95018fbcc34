"""Several items in one sale (issue #26): a sale lists `items`, each with its own
stock and per-buyer limit, sharing the sale's window and queue.

An intake names one item (`item_id`, or `item`); none named is 400, an item
the sale has not is 404 item_not_found. sold_out, not_enough_stock's
`remaining` and max_per_buyer are the item's; repeats are per item. Every
status object of such an order carries its `item_id`, so do the shop's order
service call and the event sink's events. The sale's stock and remaining are
the sums of its items', and per item remaining + units held == stock.
A sale without `items` is exactly what it was.
"""

import signal
from concurrent.futures import ThreadPoolExecutor

import pytest

from flashgate_harness import assert_error, assert_json, free_port, from_now, unique_id, wait_until
from test_durability import kill, terminate
from test_archive import FINAL, SHORT_PAYMENT, archive_when_recorded, list_sales, read_sqlite
from test_order_sink import Shop, settle, sink_env

HOLDING = ("QUEUED", "PROCESSING", "CONFIRMED", "PAID")
PHONE = {"item_id": "phone", "name": "Phone X", "stock": 3}
BUDS = {"item_id": "buds", "name": "Buds", "stock": 5, "max_per_buyer": 3}


def items_sale(server, items, **fields):
    """Create a sale of these items (asserting 201); returns (sale_id, the 201's sale object)."""
    body = {"sale_id": unique_id("isale"), "items": items, **fields}
    created = assert_json(server.create_sale(body), 201)
    return body["sale_id"], created


def buy(server, sale_id, user, item=None, quantity=None, request_id=None, field="item_id"):
    body = {"user_id": user}
    if item is not None:
        body[field] = item
    if quantity is not None:
        body["quantity"] = quantity
    if request_id is not None:
        body["request_id"] = request_id
    return server.buy(sale_id, user, body=body)


def by_id(members):
    return {m["item_id"]: m for m in members}


def assert_items_add_up(server, sale_id):
    """Per item: remaining + the units of its holding orders == stock; the sale's numbers are the items' sums."""
    stats = server.stats(sale_id)
    items = stats["items"]
    for item in items:
        assert item["remaining"] + sum(item["units"][s] for s in HOLDING) == item["stock"], item
        for status, orders in item["counts"].items():
            assert item["units"][status] >= orders, item
    assert stats["stock"] == sum(i["stock"] for i in items), stats
    assert stats["remaining"] == sum(i["remaining"] for i in items), stats
    for status in stats["counts"]:
        assert stats["counts"][status] == sum(i["counts"][status] for i in items), stats
        assert stats["units"][status] == sum(i["units"][status] for i in items), stats
    return stats


# --------------------------------------------------------------------------- creation


def test_a_sale_of_several_items_shows_each_item(server):
    sale_id, created = items_sale(server, [PHONE, BUDS], max_per_buyer=2)
    assert created["stock"] == 8 and created["remaining"] == 8 and created["state"] == "open"
    assert created["item"] == sale_id  # a name for people: the sale id unless given
    assert created["items"] == [
        {"item_id": "phone", "name": "Phone X", "stock": 3, "remaining": 3, "max_per_buyer": 2, "state": "open"},
        {"item_id": "buds", "name": "Buds", "stock": 5, "remaining": 5, "max_per_buyer": 3, "state": "open"},
    ]
    assert server.sale(sale_id) == created
    stats = assert_items_add_up(server, sale_id)
    assert [i["item_id"] for i in stats["items"]] == ["phone", "buds"]
    assert all(sum(i["counts"].values()) == 0 for i in stats["items"]), stats


def test_id_is_a_synonym_of_item_id_and_a_given_stock_and_item_are_kept(server):
    items = [{"id": "a", "name": "A", "stock": 2}, {"id": "b", "name": "B", "stock": 1}]
    sale_id, created = items_sale(server, items, stock=3, item="bundle day")
    assert created["item"] == "bundle day" and created["stock"] == 3
    assert [i["item_id"] for i in created["items"]] == ["a", "b"]
    assert [i["max_per_buyer"] for i in created["items"]] == [1, 1]


BAD_ITEMS = [
    ("empty", {"items": []}),
    ("not an array", {"items": {"item_id": "a", "name": "A", "stock": 1}}),
    ("not an object", {"items": ["a"]}),
    ("no id", {"items": [{"name": "A", "stock": 1}]}),
    ("bad id", {"items": [{"item_id": "a b", "name": "A", "stock": 1}]}),
    ("id and item_id", {"items": [{"item_id": "a", "id": "a", "name": "A", "stock": 1}]}),
    ("twice", {"items": [{"item_id": "a", "name": "A", "stock": 1}, {"item_id": "a", "name": "B", "stock": 1}]}),
    ("no name", {"items": [{"item_id": "a", "stock": 1}]}),
    ("empty name", {"items": [{"item_id": "a", "name": "", "stock": 1}]}),
    ("long name", {"items": [{"item_id": "a", "name": "n" * 257, "stock": 1}]}),
    ("no stock", {"items": [{"item_id": "a", "name": "A"}]}),
    ("negative stock", {"items": [{"item_id": "a", "name": "A", "stock": -1}]}),
    ("huge stock", {"items": [{"item_id": "a", "name": "A", "stock": 1_000_000_001}]}),
    ("string stock", {"items": [{"item_id": "a", "name": "A", "stock": "1"}]}),
    ("zero limit", {"items": [{"item_id": "a", "name": "A", "stock": 1, "max_per_buyer": 0}]}),
    ("unknown field", {"items": [{"item_id": "a", "name": "A", "stock": 1, "price": 5}]}),
    ("stock not the sum", {"items": [{"item_id": "a", "name": "A", "stock": 1}], "stock": 2}),
    ("buckets", {"items": [{"item_id": "a", "name": "A", "stock": 1}], "buckets": 2}),
    ("draw", {"items": [{"item_id": "a", "name": "A", "stock": 1}], "admission": "draw",
              "starts_at": from_now(60), "draw_window": 10}),
    ("101 items", {"items": [{"item_id": f"i{n}", "name": "I", "stock": 1} for n in range(101)]}),
]


@pytest.mark.parametrize("case", BAD_ITEMS, ids=[name for name, _ in BAD_ITEMS])
def test_bad_items_are_refused_and_create_nothing(server, case):
    _, fields = case
    sale_id = unique_id("isale")
    assert_error(server.create_sale({"sale_id": sale_id, **fields}), 400, "invalid_request")
    assert_error(server.get_sale(sale_id), 404, "sale_not_found")
    # The id is still free: the refused sale left nothing behind.
    assert server.create_sale({"sale_id": sale_id, "items": [PHONE]}).status_code == 201


# --------------------------------------------------------------------------- intake


def test_an_intake_takes_from_the_item_it_names(server):
    sale_id, _ = items_sale(server, [PHONE, BUDS])
    phone = assert_json(buy(server, sale_id, unique_id("u"), "phone"), 202)
    assert phone["item_id"] == "phone" and phone["quantity"] == 1
    buds = assert_json(buy(server, sale_id, unique_id("u"), "buds", quantity=2, field="item"), 202)
    assert buds["item_id"] == "buds" and buds["quantity"] == 2
    sale = server.sale(sale_id)
    assert sale["remaining"] == 5
    assert {k: v["remaining"] for k, v in by_id(sale["items"]).items()} == {"phone": 2, "buds": 3}
    buds_units = by_id(assert_items_add_up(server, sale_id)["items"])["buds"]["units"]
    assert sum(buds_units[s] for s in HOLDING) == 2, buds_units


def test_an_intake_must_name_an_item_of_the_sale(server):
    sale_id, _ = items_sale(server, [PHONE, BUDS])
    body = assert_error(buy(server, sale_id, unique_id("u")), 400, "invalid_request")
    assert "item_id" in body["message"]
    assert_error(buy(server, sale_id, unique_id("u"), "tablet"), 404, "item_not_found")
    assert_error(buy(server, sale_id, unique_id("u"), "a b"), 400, "invalid_request")
    both = {"user_id": unique_id("u"), "item_id": "phone", "item": "phone"}
    assert_error(server.buy(sale_id, both["user_id"], body=both), 400, "invalid_request")
    stats = server.stats(sale_id)
    assert stats["remaining"] == 8 and sum(stats["counts"].values()) == 0, stats


def test_an_item_sells_out_alone(server):
    sale_id, _ = items_sale(server, [{**PHONE, "stock": 1}, BUDS])
    assert_json(buy(server, sale_id, unique_id("u"), "phone"), 202)
    assert_error(buy(server, sale_id, unique_id("u"), "phone"), 409, "sold_out")
    sale = server.sale(sale_id)
    assert sale["state"] == "open"
    assert by_id(sale["items"])["phone"]["state"] == "sold_out"
    assert by_id(sale["items"])["buds"]["state"] == "open"
    # The other item is still for sale, until it too is gone; then the sale is sold out.
    assert_json(buy(server, sale_id, unique_id("u"), "buds", quantity=3), 202)
    short = assert_error(buy(server, sale_id, unique_id("u"), "buds", quantity=3), 409, "not_enough_stock")
    assert short["remaining"] == 2  # the item's, not the sale's
    assert_json(buy(server, sale_id, unique_id("u"), "buds", quantity=2), 202)
    assert_error(buy(server, sale_id, unique_id("u"), "buds"), 409, "sold_out")
    assert server.sale(sale_id)["state"] == "sold_out"
    assert_items_add_up(server, sale_id)


def test_the_buyers_limit_and_repeats_are_per_item(server):
    sale_id, _ = items_sale(server, [PHONE, BUDS])
    user = unique_id("u")
    phone = assert_json(buy(server, sale_id, user, "phone"), 202)
    # A phone again is the same order (its limit is 1), by either name of the field.
    for again in (buy(server, sale_id, user, "phone"), buy(server, sale_id, user, "phone", field="item")):
        assert assert_json(again, 200)["order_id"] == phone["order_id"]
    # Buds are another item: another order, under their own limit of 3.
    buds = assert_json(buy(server, sale_id, user, "buds", quantity=2, request_id="a"), 202)
    assert buds["order_id"] != phone["order_id"]
    repeat = assert_json(buy(server, sale_id, user, "buds", quantity=2, request_id="a"), 200)
    assert repeat["order_id"] == buds["order_id"] and repeat["item_id"] == "buds"
    assert_error(buy(server, sale_id, user, "buds", quantity=2, request_id="b"), 409, "buyer_limit_reached")
    assert_json(buy(server, sale_id, user, "buds", quantity=1, request_id="b"), 202)
    assert_error(buy(server, sale_id, unique_id("u"), "phone", quantity=2), 400, "invalid_request")  # above its limit
    sale = server.sale(sale_id)
    assert {k: v["remaining"] for k, v in by_id(sale["items"]).items()} == {"phone": 2, "buds": 2}
    assert_items_add_up(server, sale_id)


def test_status_objects_carry_the_item(server):
    sale_id, _ = items_sale(server, [PHONE, BUDS])
    answer = assert_json(buy(server, sale_id, unique_id("u"), "buds"), 202)
    assert server.status(answer["ticket"])["item_id"] == "buds"
    assert server.current(answer["ticket"])["item_id"] == "buds"  # a long poll
    confirmed = server.wait_for_status(answer["ticket"], "CONFIRMED")
    assert confirmed["item_id"] == "buds"
    with server.events(answer["ticket"]) as stream:
        assert stream.status == 200
        event = stream.next_status_event()
        assert event.json()["item_id"] == "buds" and event.json()["status"] == "CONFIRMED"
    server.pay(answer["order_id"])
    assert server.wait_for_status(answer["ticket"], "PAID")["item_id"] == "buds"
    stats = assert_items_add_up(server, sale_id)
    buds = by_id(stats["items"])["buds"]
    assert buds["counts"]["PAID"] == 1 and buds["units"]["PAID"] == 1, buds
    assert sum(by_id(stats["items"])["phone"]["counts"].values()) == 0, stats


def test_a_crowd_never_oversells_an_item(server):
    stock = {"phone": 7, "buds": 11}
    sale_id, _ = items_sale(server, [{"item_id": k, "name": k, "stock": v, "max_per_buyer": 3}
                                     for k, v in stock.items()])

    def attempt(i):
        item, quantity = ("phone", "buds")[i % 2], 1 + i % 3
        response = buy(server, sale_id, f"crowd-{i}", item, quantity=quantity)
        return item, quantity, response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attempt, range(60)))
    for item, quantity, status, body in results:
        assert status in (202, 409), body
        if status == 202:
            assert body["item_id"] == item
        elif body["error"] == "not_enough_stock":
            assert body["remaining"] < quantity, body
        else:
            assert body["error"] == "sold_out", body
    stats = assert_items_add_up(server, sale_id)
    for item, total in stock.items():
        taken = sum(q for i, q, status, _ in results if status == 202 and i == item)
        assert taken <= total
        assert by_id(stats["items"])[item]["remaining"] == total - taken, stats


def test_a_single_item_sale_is_unchanged(server):
    sale_id = server.new_sale(stock=2, item="plain widget")
    sale = server.sale(sale_id)
    assert "items" not in sale
    # A sale of one item ignores an item named.
    answer = assert_json(buy(server, sale_id, unique_id("u"), "anything"), 202)
    assert "item_id" not in answer
    assert "item_id" not in server.status(answer["ticket"])
    assert "items" not in server.stats(sale_id)
    assert server.sale(sale_id)["remaining"] == 1


def test_the_admin_list_shows_the_items(server):
    sale_id, _ = items_sale(server, [PHONE, BUDS])
    assert_json(buy(server, sale_id, unique_id("u"), "phone"), 202)
    listed = assert_json(list_sales(server, after=sale_id[:-1], limit=100), 200)
    (ours,) = [s for s in listed["sales"] if s["sale_id"] == sale_id]
    assert {k: v["remaining"] for k, v in by_id(ours["items"]).items()} == {"phone": 2, "buds": 5}


# --------------------------------------------------------------------------- the shop


def test_the_shop_hears_the_item_of_each_order(start_server):
    shop = Shop(free_port())
    try:
        srv = start_server(env=sink_env(shop.url + "/orders"))
        sale_id, _ = items_sale(srv, [PHONE, BUDS])
        intakes = [assert_json(buy(srv, sale_id, f"shop-{item}", item), 202) for item in ("phone", "buds")]
        plain = srv.accepted(srv.new_sale(stock=1, item="plain"), "shop-plain")
        finals = settle(srv, [i["ticket"] for i in intakes + [plain]])
        assert {f["status"] for f in finals.values()} == {"CONFIRMED"}, finals
        bodies = shop.stats()["bodies"]
        for intake in intakes:
            assert bodies[intake["order_id"]]["item_id"] == intake["item_id"], bodies
            assert bodies[intake["order_id"]]["sale_id"] == sale_id
        assert "item_id" not in bodies[plain["order_id"]]  # a single-item sale's call is as it was

        def told():
            return {(e["body"]["order_id"], e["body"].get("item_id")) for e in shop.stats()["events"]}
        expected = {(i["order_id"], i["item_id"]) for i in intakes} | {(plain["order_id"], None)}
        wait_until(lambda: expected <= told(), timeout=30, message="the events with their items")
    finally:
        shop.stop()


# --------------------------------------------------------------------------- archive and restart


def test_an_archived_sale_keeps_its_items(start_server):
    srv = start_server(SHORT_PAYMENT)
    sale_id, _ = items_sale(srv, [PHONE, BUDS], ends_at=from_now(3))
    paid = assert_json(buy(srv, sale_id, unique_id("u"), "phone"), 202)
    lapsed = assert_json(buy(srv, sale_id, unique_id("u"), "buds", quantity=2), 202)
    srv.wait_for_status(paid["ticket"], "CONFIRMED")
    srv.pay(paid["order_id"])
    for intake in (paid, lapsed):
        srv.wait_for_status(intake["ticket"], FINAL)
    wait_until(lambda: srv.sale(sale_id)["state"] == "ended", timeout=10, message="the sale to end")
    live = assert_items_add_up(srv, sale_id)

    archived = archive_when_recorded(srv, sale_id)
    assert {k: v["remaining"] for k, v in by_id(archived["items"]).items()} == {"phone": 2, "buds": 5}
    gone = assert_error(srv.get_sale(sale_id), 410, "sale_archived")
    assert [i["item_id"] for i in gone["sale"]["items"]] == ["phone", "buds"]
    stats = assert_json(srv.get_stats(sale_id), 200)
    assert [(i["item_id"], i["stock"], i["remaining"]) for i in stats["items"]] == \
        [(i["item_id"], i["stock"], i["remaining"]) for i in live["items"]]
    assert by_id(stats["items"])["phone"]["counts"]["PAID"] == 1, stats
    assert by_id(stats["items"])["buds"]["units"]["CANCELLED"] == 2, stats


def stats_without_flush(server, sale_id):
    stats = server.stats(sale_id)
    stats.pop("remaining_db")
    for item in stats["items"]:
        item.pop("remaining_db")
    return stats


@pytest.mark.embedded_only(reason="a restart of the one process that owns the store and its SQLite journal")
@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_a_restart_rebuilds_each_items_remaining(start_server, how):
    srv = start_server()
    data_dir = srv.data_dir
    sale_id, _ = items_sale(srv, [PHONE, BUDS])
    ann_phone = assert_json(buy(srv, sale_id, "ann", "phone"), 202)
    ann_buds = assert_json(buy(srv, sale_id, "ann", "buds", quantity=2, request_id="a"), 202)
    bob_buds = assert_json(buy(srv, sale_id, "bob", "buds", quantity=1), 202)
    for answer in (ann_phone, ann_buds, bob_buds):  # settled: the numbers before and after are the same
        srv.wait_for_status(answer["ticket"], "CONFIRMED")
    before_sale, before_stats = srv.sale(sale_id), stats_without_flush(srv, sale_id)
    if how == "sigterm":
        assert terminate(srv) == 0
    else:
        kill(srv)
    again = start_server(data_dir=data_dir)
    assert again.sale(sale_id) == before_sale
    assert stats_without_flush(again, sale_id) == before_stats
    assert {k: v["remaining"] for k, v in by_id(again.sale(sale_id)["items"]).items()} == {"phone": 2, "buds": 2}
    # Repeats and limits per item hold across the restart.
    repeat = assert_json(buy(again, sale_id, "ann", "phone"), 200)
    assert repeat["order_id"] == ann_phone["order_id"] and repeat["item_id"] == "phone"
    assert again.status(ann_buds["ticket"])["item_id"] == "buds"
    assert_error(buy(again, sale_id, "ann", "buds", quantity=2, request_id="b"), 409, "buyer_limit_reached")
    assert_json(buy(again, sale_id, "ann", "buds", quantity=1, request_id="b"), 202)
    assert assert_error(buy(again, sale_id, "cat", "buds", quantity=2), 409, "not_enough_stock")["remaining"] == 1
    assert_items_add_up(again, sale_id)


@pytest.mark.embedded_only(reason="reads the stock flush's rows in the SQLite data dir")
def test_the_stock_flush_writes_each_items_remaining(start_server):
    srv = start_server(env={"FLASHGATE_STOCK_FLUSH": "200ms"})
    sale_id, _ = items_sale(srv, [PHONE, BUDS])
    assert_json(buy(srv, sale_id, unique_id("u"), "buds", quantity=1), 202)

    def flushed():
        items = by_id(srv.stats(sale_id)["items"])
        return items["phone"]["remaining_db"] == 3 and items["buds"]["remaining_db"] == 4

    wait_until(flushed, timeout=20, message="each item's remaining in the database")
    assert srv.stats(sale_id)["remaining_db"] == 7
    rows = read_sqlite(srv, "SELECT item_id, remaining_db FROM sale_items WHERE sale_id = ? ORDER BY position",
                       (sale_id,))
    assert rows == [("phone", 3), ("buds", 4)]
