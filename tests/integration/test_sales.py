"""Sales: the admin API that creates them, their public view, stats and sale windows."""

import pytest

from flashgate_harness import (
    assert_error,
    assert_json,
    from_now,
    is_int,
    parse_rfc3339,
    unique_id,
    wait_until,
)

SALE_FIELDS = {"sale_id", "item", "stock", "remaining", "state", "starts_at", "ends_at"}
COUNT_KEYS = {"QUEUED", "PROCESSING", "CONFIRMED", "PAID", "FAILED", "CANCELLED"}


def sale_body(sale_id=None, **fields):
    return {"sale_id": sale_id or unique_id("sale"), "item": "flash widget", "stock": 5, **fields}


# --------------------------------------------------------------------------- creating a sale


def test_create_sale_returns_201_with_the_sale_object(server):
    body = sale_body(stock=7)
    sale = assert_json(server.create_sale(body), 201)
    assert SALE_FIELDS <= sale.keys(), sale
    assert sale["sale_id"] == body["sale_id"]
    assert sale["item"] == "flash widget"
    assert sale["stock"] == 7
    assert sale["remaining"] == 7
    assert sale["state"] == "open"


def test_create_sale_keeps_the_given_window(server):
    starts, ends = from_now(3600), from_now(7200)
    sale = assert_json(server.create_sale(sale_body(starts_at=starts, ends_at=ends)), 201)
    assert parse_rfc3339(sale["starts_at"]) == parse_rfc3339(starts)
    assert parse_rfc3339(sale["ends_at"]) == parse_rfc3339(ends)


def test_get_sale_returns_what_was_created(server):
    created = assert_json(server.create_sale(sale_body(stock=3)), 201)
    fetched = server.sale(created["sale_id"])
    assert SALE_FIELDS <= fetched.keys(), fetched
    for key in ("sale_id", "item", "stock", "remaining", "state"):
        assert fetched[key] == created[key], key


def test_a_percent_encoded_path_names_the_same_sale(server):
    # RFC 3986: an encoded unreserved character is the character itself.
    created = assert_json(server.create_sale(sale_body(sale_id=unique_id("enc"))), 201)
    sale_id = created["sale_id"]
    encoded = "".join(f"%{ord(c):02X}" for c in sale_id[:3]) + sale_id[3:]
    fetched = assert_json(server.get(f"/api/sales/{encoded}"), 200)
    assert fetched["sale_id"] == sale_id
    # An encoded slash stays inside the id (it does not open another path), and no id may hold one.
    assert_error(server.get(f"/api/sales/{sale_id}%2Fx"), 400, "invalid_request")


def test_create_sale_with_an_existing_id_is_409_sale_exists(server):
    body = sale_body(stock=4)
    assert_json(server.create_sale(body), 201)
    assert_error(server.create_sale({**body, "stock": 99}), 409, "sale_exists")


def test_refused_duplicate_create_leaves_the_first_sale_unchanged(server):
    body = sale_body(stock=4)
    assert_json(server.create_sale(body), 201)
    server.create_sale({**body, "stock": 99, "item": "other"})
    sale = server.sale(body["sale_id"])
    assert (sale["stock"], sale["remaining"], sale["item"]) == (4, 4, "flash widget")


# --------------------------------------------------------------------------- admin authorization

BAD_AUTH = {
    "no header": lambda token: {},
    "wrong token": lambda token: {"Authorization": "Bearer not-the-admin-token"},
    "empty bearer": lambda token: {"Authorization": "Bearer "},
    "token without scheme": lambda token: {"Authorization": token},
    "basic scheme": lambda token: {"Authorization": "Basic YWRtaW46YWRtaW4="},
    "token with a suffix": lambda token: {"Authorization": f"Bearer {token}x"},
}


def bad_auth_headers(server, case):
    return BAD_AUTH[case](server.admin_token)


@pytest.mark.parametrize("case", list(BAD_AUTH))
def test_create_sale_without_the_admin_token_is_401_unauthorized(server, case):
    body = sale_body()
    assert_error(server.create_sale(body, headers=bad_auth_headers(server, case)), 401, "unauthorized")
    assert_error(server.get_sale(body["sale_id"]), 404, "sale_not_found")


@pytest.mark.parametrize("case", list(BAD_AUTH))
def test_stats_without_the_admin_token_is_401_unauthorized(server, case):
    sale_id = server.new_sale()
    assert_error(server.get_stats(sale_id, headers=bad_auth_headers(server, case)), 401, "unauthorized")


# --------------------------------------------------------------------------- invalid sale bodies


def _without(key):
    return lambda sid: {k: v for k, v in sale_body(sid).items() if k != key}


BAD_BODIES = {
    "not json": lambda sid: "this is not json",
    "truncated json": lambda sid: '{"sale_id": "%s", "item": "x", "stock": ' % sid,
    "trailing garbage": lambda sid: '{"sale_id": "%s", "item": "x", "stock": 1} extra' % sid,
    "json array": lambda sid: [sale_body(sid)],
    "json string": lambda sid: '"just a string"',
    "missing sale_id": _without("sale_id"),
    "missing item": _without("item"),
    "missing stock": _without("stock"),
    "stock as string": lambda sid: sale_body(sid, stock="10"),
    "negative stock": lambda sid: sale_body(sid, stock=-1),
    "stock as float": lambda sid: sale_body(sid, stock=10.5),
    "stock as bool": lambda sid: sale_body(sid, stock=True),
    "stock null": lambda sid: sale_body(sid, stock=None),
    "item as number": lambda sid: sale_body(sid, item=42),
    "sale_id as number": lambda sid: {**sale_body(sid), "sale_id": 42},
    "sale_id empty": lambda sid: {**sale_body(sid), "sale_id": ""},
    "sale_id 65 chars": lambda sid: {**sale_body(sid), "sale_id": "s" * 65},
    "sale_id with slash": lambda sid: {**sale_body(sid), "sale_id": sid + "/x"},
    "sale_id with space": lambda sid: {**sale_body(sid), "sale_id": sid + " x"},
    "sale_id with unicode": lambda sid: {**sale_body(sid), "sale_id": sid + "-\u00fc\u6b21"},
    "starts_at not rfc3339": lambda sid: sale_body(sid, starts_at="tomorrow at noon"),
    "starts_at without zone": lambda sid: sale_body(sid, starts_at="2026-11-24 12:00:00"),
    "ends_at not rfc3339": lambda sid: sale_body(sid, ends_at="2026-13-45T99:00:00Z"),
    "ends_at before starts_at": lambda sid: sale_body(
        sid, starts_at="2026-11-24T12:00:00.000Z", ends_at="2026-11-24T11:00:00.000Z"
    ),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_invalid_sale_body_is_400_invalid_request(server, case):
    sale_id = unique_id("bad")
    body = BAD_BODIES[case](sale_id)
    if isinstance(body, list):  # a JSON array as the whole body
        response = server.post("/api/admin/sales", json=body, headers=server.admin_headers())
    else:
        response = server.create_sale(body)
    assert_error(response, 400, "invalid_request")


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_refused_sale_body_creates_nothing(server, case):
    sale_id = unique_id("bad")
    body = BAD_BODIES[case](sale_id)
    if isinstance(body, list):
        server.post("/api/admin/sales", json=body, headers=server.admin_headers())
    else:
        server.create_sale(body)
    assert_error(server.get_sale(sale_id), 404, "sale_not_found")
    if isinstance(body, dict) and isinstance(body.get("sale_id"), str) and body["sale_id"]:
        # the id itself may be malformed, which GET may refuse with 400 rather than 404
        assert server.get_sale(body["sale_id"]).status_code in (400, 404), body["sale_id"]


def test_sale_id_of_64_chars_is_accepted(server):
    sale_id = (unique_id("max") + "x" * 64)[:64]
    assert_json(server.create_sale(sale_body(sale_id)), 201)
    assert server.sale(sale_id)["sale_id"] == sale_id


# --------------------------------------------------------------------------- stats


def test_stats_of_a_new_sale_show_full_stock_and_no_orders(server):
    sale_id = server.new_sale(stock=6)
    stats = server.stats(sale_id)
    assert stats["sale_id"] == sale_id
    assert stats["remaining"] == 6
    assert stats["remaining_db"] is None or is_int(stats["remaining_db"]), stats  # None: not flushed yet
    assert stats["queue_depth"] == 0
    assert COUNT_KEYS <= stats["counts"].keys(), stats
    assert all(stats["counts"][k] == 0 for k in COUNT_KEYS), stats


def test_stats_of_an_unknown_sale_is_404(server):
    assert_error(server.get_stats(unique_id("nosuch")), 404, "sale_not_found")


def test_stats_count_an_accepted_order(server):
    sale_id = server.new_sale(stock=3)
    server.accepted(sale_id, unique_id("user"))
    wait_until(lambda: server.stats(sale_id)["counts"]["CONFIRMED"] == 1, message="CONFIRMED == 1")
    stats = server.stats(sale_id)
    assert stats["remaining"] == 2
    assert sum(stats["counts"].values()) == 1, stats


def test_stats_remaining_db_catches_up_with_remaining(server):
    sale_id = server.new_sale(stock=3)
    server.accepted(sale_id, unique_id("user"))
    wait_until(lambda: server.stats(sale_id)["remaining_db"] == 2, message="remaining_db == 2")


# --------------------------------------------------------------------------- sale windows


def test_unknown_sale_is_404_sale_not_found(server):
    assert_error(server.get_sale(unique_id("nosuch")), 404, "sale_not_found")


def test_buying_from_an_unknown_sale_is_404_sale_not_found(server):
    assert_error(server.buy(unique_id("nosuch"), unique_id("user")), 404, "sale_not_found")


def test_sale_before_starts_at_is_upcoming(server):
    sale_id = server.new_sale(starts_at=from_now(3600))
    assert server.sale(sale_id)["state"] == "upcoming"


def test_buying_before_starts_at_is_403_sale_not_open(server):
    sale_id = server.new_sale(stock=5, starts_at=from_now(3600))
    assert_error(server.buy(sale_id, unique_id("user")), 403, "sale_not_open")
    assert server.sale(sale_id)["remaining"] == 5


def test_sale_after_ends_at_is_ended(server):
    sale_id = server.new_sale(starts_at=from_now(-7200), ends_at=from_now(-3600))
    assert server.sale(sale_id)["state"] == "ended"


def test_buying_after_ends_at_is_410_sale_ended(server):
    sale_id = server.new_sale(stock=5, starts_at=from_now(-7200), ends_at=from_now(-3600))
    assert_error(server.buy(sale_id, unique_id("user")), 410, "sale_ended")
    assert server.sale(sale_id)["remaining"] == 5


def test_sale_between_starts_at_and_ends_at_is_open(server):
    sale_id = server.new_sale(starts_at=from_now(-60), ends_at=from_now(3600))
    assert server.sale(sale_id)["state"] == "open"
    assert_json(server.buy(sale_id, unique_id("user")), 202)


def test_upcoming_sale_opens_at_starts_at(server):
    sale_id = server.new_sale(stock=5, starts_at=from_now(1.5))
    assert_error(server.buy(sale_id, unique_id("early")), 403, "sale_not_open")
    wait_until(lambda: server.sale(sale_id)["state"] == "open", timeout=10, message="state open")
    assert_json(server.buy(sale_id, unique_id("user")), 202)


def test_sale_with_no_stock_left_is_sold_out(server):
    sale_id = server.new_sale(stock=1)
    server.accepted(sale_id, unique_id("user"))
    sale = server.sale(sale_id)
    assert (sale["remaining"], sale["state"]) == (0, "sold_out")
