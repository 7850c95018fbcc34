"""Intake: POST /api/sales/{id}/orders, the answers it gives and the status it leads to."""

import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urljoin, urlparse

import pytest

from flashgate_harness import (
    RFC3339,
    STATUSES,
    assert_error,
    assert_json,
    distributed,
    is_int,
    parse_rfc3339,
    unique_id,
    wait_until,
)

INTAKE_FIELDS = {"order_id", "sale_id", "ticket", "status", "position", "poll_after_ms", "status_url", "events_url"}
STATUS_FIELDS = {"order_id", "sale_id", "status", "version", "poll_after_ms", "reason", "updated_at"}
LIFE_CYCLE_VERSION = {"QUEUED": 1, "PROCESSING": 2, "CONFIRMED": 3}


# --------------------------------------------------------------------------- the 202 answer


def test_accepted_order_is_202_with_the_intake_answer(server):
    sale_id = server.new_sale(stock=5)
    answer = assert_json(server.buy(sale_id, unique_id("user")), 202)
    assert INTAKE_FIELDS <= answer.keys(), answer
    assert answer["sale_id"] == sale_id
    assert answer["status"] == "QUEUED"
    assert isinstance(answer["order_id"], str) and answer["order_id"]
    assert isinstance(answer["ticket"], str) and answer["ticket"]
    assert is_int(answer["position"]) and answer["position"] >= 1, answer
    assert is_int(answer["poll_after_ms"]) and answer["poll_after_ms"] >= 0, answer


def test_ticket_is_url_safe(server):
    answer = server.accepted(server.new_sale(), unique_id("user"))
    assert set(answer["ticket"]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"), answer


def test_status_url_answers_the_status_of_the_order(server):
    answer = server.accepted(server.new_sale(), unique_id("user"))
    url = urljoin(server.base_url + "/", answer["status_url"])
    assert urlparse(url).path == "/api/orders/status"
    status = assert_json(server.http.get(url, timeout=10), 200)
    assert status["order_id"] == answer["order_id"]


def test_events_url_points_at_the_event_stream_of_the_order(server):
    answer = server.accepted(server.new_sale(), unique_id("user"))
    url = urljoin(server.base_url + "/", answer["events_url"])
    assert urlparse(url).path == "/api/orders/events"
    assert answer["ticket"] in url or "ticket=" in urlparse(url).query


def test_accepting_an_order_takes_one_unit_of_stock(server):
    sale_id = server.new_sale(stock=5)
    server.accepted(sale_id, unique_id("user"))
    assert server.sale(sale_id)["remaining"] == 4


# --------------------------------------------------------------------------- the status object


def test_polling_a_ticket_returns_the_status_object(server):
    sale_id = server.new_sale()
    answer = server.accepted(sale_id, unique_id("user"))
    status = server.status(answer["ticket"])
    assert STATUS_FIELDS <= status.keys(), status
    assert status["order_id"] == answer["order_id"]
    assert status["sale_id"] == sale_id
    assert status["status"] in STATUSES
    assert is_int(status["version"]) and status["version"] >= 1
    assert is_int(status["poll_after_ms"]) and status["poll_after_ms"] >= 0
    assert status["reason"] is None
    assert RFC3339.match(status["updated_at"]), status["updated_at"]
    if status["status"] == "QUEUED":
        assert is_int(status["position"]) and status["position"] >= 1, status


def test_accepted_order_is_confirmed(server):
    answer = server.accepted(server.new_sale(), unique_id("user"))
    confirmed = server.wait_for_status(answer["ticket"], "CONFIRMED")
    assert confirmed["order_id"] == answer["order_id"]
    assert confirmed["reason"] is None


def test_confirmed_order_has_version_3(server):
    answer = server.accepted(server.new_sale(), unique_id("user"))
    assert server.wait_for_status(answer["ticket"], "CONFIRMED")["version"] == 3


# --------------------------------------------------------------------------- one order per user


def test_same_user_again_gets_200_with_the_same_order(server):
    sale_id = server.new_sale(stock=5)
    user = unique_id("user")
    first = assert_json(server.buy(sale_id, user), 202)
    again = assert_json(server.buy(sale_id, user), 200)
    assert again["order_id"] == first["order_id"]
    assert again["sale_id"] == sale_id
    assert again["status"] in STATUSES


def test_repeat_answer_carries_a_valid_ticket_for_the_order(server):
    sale_id = server.new_sale(stock=5)
    user = unique_id("user")
    first = server.accepted(sale_id, user)
    again = assert_json(server.buy(sale_id, user), 200)
    assert isinstance(again["ticket"], str) and again["ticket"]
    assert server.status(again["ticket"])["order_id"] == first["order_id"]


def test_repeat_order_takes_no_more_stock(server):
    sale_id = server.new_sale(stock=5)
    user = unique_id("user")
    server.accepted(sale_id, user)
    for _ in range(3):
        assert_json(server.buy(sale_id, user), 200)
    assert server.sale(sale_id)["remaining"] == 4


def test_different_user_gets_a_different_order(server):
    sale_id = server.new_sale(stock=5)
    first = server.accepted(sale_id, unique_id("alice"))
    second = server.accepted(sale_id, unique_id("bob"))
    assert first["order_id"] != second["order_id"]


def test_same_user_in_another_sale_gets_another_order(server):
    user = unique_id("user")
    first = server.accepted(server.new_sale(), user)
    second = server.accepted(server.new_sale(), user)
    assert first["order_id"] != second["order_id"]


def test_buying_a_sold_out_sale_is_409_sold_out(server):
    sale_id = server.new_sale(stock=1)
    server.accepted(sale_id, unique_id("winner"))
    assert_error(server.buy(sale_id, unique_id("late")), 409, "sold_out")


def test_holder_repeating_on_a_sold_out_sale_gets_200(server):
    sale_id = server.new_sale(stock=1)
    holder = unique_id("holder")
    first = server.accepted(sale_id, holder)
    assert_error(server.buy(sale_id, unique_id("late")), 409, "sold_out")
    again = assert_json(server.buy(sale_id, holder), 200)
    assert again["order_id"] == first["order_id"]


def sold_out_from_memory(server):
    """The distributed gateway's count of buyers told sold out without asking Redis."""
    for line in server.get("/metrics").text.splitlines():
        if line.startswith("flashgate_intake_sold_out_from_memory "):
            return float(line.split()[1])
    return None


def test_a_sold_out_sale_keeps_answering_the_crowd_and_its_holders(server):
    """After the last unit the late crowd is refused (on Redis: from the gateway's memory once it follows
    the sale), and the holders still get 200 with their own order, however often they ask."""
    sale_id = server.new_sale(stock=2)
    holders = {user: server.accepted(sale_id, user)["order_id"] for user in (unique_id("h1"), unique_id("h2"))}
    late = 0

    def memory_answers():
        nonlocal late
        for _ in range(20):
            late += 1
            assert_error(server.buy(sale_id, unique_id(f"late{late}")), 409, "sold_out")
        for user, order_id in holders.items():
            again = assert_json(server.buy(sale_id, user), 200)
            assert again["order_id"] == order_id, again
        return sold_out_from_memory(server) or 0

    if distributed():
        wait_until(lambda: memory_answers() > 0, timeout=10, message="sold out answered from the gateway's memory")
    else:
        memory_answers()
        assert sold_out_from_memory(server) is None  # the embedded store has nothing to ask
    assert server.sale(sale_id)["remaining"] == 0


def test_concurrent_repeats_by_one_user_create_one_order(server):
    sale_id = server.new_sale(stock=10)
    user = unique_id("eager")
    gate = threading.Event()

    def attempt(_):
        gate.wait()
        response = server.buy(sale_id, user)
        return response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=16) as pool:
        futures = [pool.submit(attempt, i) for i in range(32)]
        gate.set()
        results = [f.result() for f in futures]

    codes = [code for code, _ in results]
    assert codes.count(202) == 1, codes
    assert set(codes) <= {200, 202, 429}, codes
    order_ids = {body["order_id"] for code, body in results if code in (200, 202)}
    assert len(order_ids) == 1, order_ids
    assert server.sale(sale_id)["remaining"] == 9


# --------------------------------------------------------------------------- bad intake input

BAD_INTAKE = {
    "not json": "user_id=alice",
    "truncated json": '{"user_id": "alice"',
    "json array": '[{"user_id": "alice"}]',
    "empty body": "",
    "missing user_id": {},
    "user_id as number": {"user_id": 12345},
    "user_id null": {"user_id": None},
    "user_id as object": {"user_id": {"id": "alice"}},
    "user_id empty": {"user_id": ""},
    "user_id 65 bytes": {"user_id": "u" * 65},
    "user_id 66 bytes in 33 chars": {"user_id": "\u00e9" * 33},
    "user_id with newline": {"user_id": "alice\nbob"},
    "user_id with NUL": {"user_id": "alice\u0000"},
    "user_id with DEL": {"user_id": "alice\u007f"},
}


@pytest.mark.parametrize("case", list(BAD_INTAKE))
def test_invalid_intake_body_is_400_invalid_request(server, case):
    sale_id = server.new_sale(stock=3)
    assert_error(server.buy(sale_id, None, body=BAD_INTAKE[case]), 400, "invalid_request")


@pytest.mark.parametrize("case", list(BAD_INTAKE))
def test_invalid_intake_body_leaves_the_sale_unchanged(server, case):
    sale_id = server.new_sale(stock=3)
    server.buy(sale_id, None, body=BAD_INTAKE[case])
    assert server.sale(sale_id)["remaining"] == 3
    stats = server.stats(sale_id)
    assert stats["queue_depth"] == 0 and sum(stats["counts"].values()) == 0, stats


def test_user_id_of_64_bytes_is_accepted(server):
    sale_id = server.new_sale()
    user = (unique_id("u") + "x" * 64)[:64]
    assert_json(server.buy(sale_id, user), 202)


# --------------------------------------------------------------------------- the line (one slow window)

SLOW_SERVICE = "600ms"


@pytest.fixture(scope="module")
def one_window(server_pool):
    """A server with a single window that takes SLOW_SERVICE per order."""
    srv = server_pool.start(env={"FLASHGATE_WINDOWS": "1", "FLASHGATE_SERVICE_TIME": SLOW_SERVICE})
    yield srv
    server_pool.stop(srv)


def watch(server, ticket, until=("CONFIRMED",), timeout=30.0):
    """Poll a ticket until it reaches one of `until`; return every status object seen."""
    seen = []

    def done():
        seen.append(server.status(ticket))
        return seen[-1]["status"] in until or seen[-1]["status"] in ("FAILED", "CANCELLED")

    wait_until(done, timeout=timeout, interval=0.02, message=f"status in {until}")
    return seen


def test_positions_increase_in_order_of_intake(one_window):
    srv = one_window
    sale_id = srv.new_sale(stock=10)
    blocker = srv.accepted(sale_id, unique_id("first"))
    srv.wait_for_status(blocker["ticket"], ("PROCESSING", "CONFIRMED"))

    answers = [srv.accepted(sale_id, unique_id(f"user{i}")) for i in range(5)]
    positions = [a["position"] for a in answers]
    assert positions[0] == 1, positions
    assert all(b > a for a, b in zip(positions, positions[1:])), positions

    for answer in answers:
        srv.wait_for_status(answer["ticket"], "CONFIRMED", timeout=30)


def test_position_falls_as_the_line_moves(one_window):
    srv = one_window
    sale_id = srv.new_sale(stock=10)
    answers = [srv.accepted(sale_id, unique_id(f"user{i}")) for i in range(5)]
    last = answers[-1]

    seen = watch(srv, last["ticket"], until=("PROCESSING", "CONFIRMED"))
    queued_positions = [s["position"] for s in seen if s["status"] == "QUEUED"]
    assert queued_positions, "never saw the last order QUEUED"
    assert all(b <= a for a, b in zip(queued_positions, queued_positions[1:])), queued_positions
    assert queued_positions[0] <= last["position"], (last["position"], queued_positions)
    assert min(queued_positions) < last["position"], (last["position"], queued_positions)

    for answer in answers:
        srv.wait_for_status(answer["ticket"], "CONFIRMED", timeout=30)


def test_version_rises_by_one_with_each_change(one_window):
    srv = one_window
    sale_id = srv.new_sale(stock=10)
    ahead = srv.accepted(sale_id, unique_id("ahead"))
    answer = srv.accepted(sale_id, unique_id("user"))

    seen = watch(srv, answer["ticket"])
    order = list(LIFE_CYCLE_VERSION)
    for status in seen:
        assert status["status"] in LIFE_CYCLE_VERSION, status
        assert status["version"] == LIFE_CYCLE_VERSION[status["status"]], status
    indexes = [order.index(s["status"]) for s in seen]
    assert indexes == sorted(indexes), [s["status"] for s in seen]
    assert seen[-1]["status"] == "CONFIRMED"
    srv.wait_for_status(ahead["ticket"], "CONFIRMED")


def test_updated_at_moves_forward_with_each_change(one_window):
    srv = one_window
    sale_id = srv.new_sale(stock=10)
    answer = srv.accepted(sale_id, unique_id("user"))
    first = srv.status(answer["ticket"])
    final = srv.wait_for_status(answer["ticket"], "CONFIRMED", timeout=30)
    if first["version"] < final["version"]:
        assert parse_rfc3339(final["updated_at"]) >= parse_rfc3339(first["updated_at"])
