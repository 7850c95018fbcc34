"""Long poll: GET /api/orders/status?ticket=T&wait=S&since=V.

Answers at once when version > V, else as soon as the order changes, else after
S seconds (S whole seconds, clamped to 30) with the current status. Elapsed-time
bounds here are only about correctness (did it wake on the change, did it hold
the wait), never about speed: "returned long before its 20 s wait" is < 10 s.
"""

import socket
import threading
import time

import pytest

from flashgate_harness import assert_error, assert_json, is_int, unique_id, wait_until

LIFE_CYCLE_VERSION = {"QUEUED": 1, "PROCESSING": 2, "CONFIRMED": 3, "PAID": 4}
LONG_WAIT = 20  # a wait that a correct answer never runs into
WOKE_EARLY = 10.0  # "long before LONG_WAIT"


def timed(fn, *args, **kwargs):
    started = time.monotonic()
    result = fn(*args, **kwargs)
    return result, time.monotonic() - started


def long_poll(srv, ticket, wait, since=None, timeout=45):
    params = {"ticket": ticket, "wait": wait}
    if since is not None:
        params["since"] = since
    return srv.get("/api/orders/status", params=params, timeout=timeout)


def assert_consistent(status, order_id):
    """A status object of our order whose version matches its place in the life cycle."""
    assert status["order_id"] == order_id, status
    assert is_int(status["version"]), status
    if status["status"] in LIFE_CYCLE_VERSION:
        assert status["version"] == LIFE_CYCLE_VERSION[status["status"]], status


# --------------------------------------------------------------------------- servers and orders


@pytest.fixture(scope="module")
def line(server_pool):
    """One window that takes 500 ms per order: an order behind another stays QUEUED for a while."""
    srv = server_pool.start(env={"FLASHGATE_WINDOWS": "1", "FLASHGATE_SERVICE_TIME": "500ms"})
    yield srv
    server_pool.stop(srv)


def queued_behind_another(srv):
    """A sale with one order PROCESSING and ours behind it; returns our intake answer."""
    sale_id = srv.new_sale(stock=5)
    blocker = srv.accepted(sale_id, unique_id("blocker"))
    ours = srv.accepted(sale_id, unique_id("user"))
    srv.wait_for_status(blocker["ticket"], ("PROCESSING", "CONFIRMED"))
    return ours


@pytest.fixture
def confirmed(server):
    """A CONFIRMED order of the shared server (payment timeout 15 min: it stays CONFIRMED)."""
    answer = server.accepted(server.new_sale(), unique_id("user"))
    server.wait_for_status(answer["ticket"], "CONFIRMED")
    return answer


# --------------------------------------------------------------------------- waking on a change


def test_long_poll_returns_on_the_change_long_before_its_wait(line):
    ours = queued_behind_another(line)
    before = line.current(ours["ticket"])
    assert before["status"] in ("QUEUED", "PROCESSING"), before

    response, elapsed = timed(long_poll, line, ours["ticket"], LONG_WAIT, since=before["version"])
    status = assert_json(response, 200)
    assert status["version"] > before["version"], (before, status)
    assert status["status"] in ("PROCESSING", "CONFIRMED"), status
    assert_consistent(status, ours["order_id"])
    assert elapsed < WOKE_EARLY, f"the change came within the wait, yet the long poll took {elapsed:.1f}s"


def test_long_poll_without_since_waits_for_a_change_after_the_current_version(line):
    ours = queued_behind_another(line)
    before = line.current(ours["ticket"])
    assert before["status"] in ("QUEUED", "PROCESSING"), before

    response, elapsed = timed(long_poll, line, ours["ticket"], LONG_WAIT)
    status = assert_json(response, 200)
    assert status["version"] > before["version"], (before, status)
    assert_consistent(status, ours["order_id"])
    assert elapsed < WOKE_EARLY, f"took {elapsed:.1f}s"


def test_long_poll_wakes_on_the_payment(server, confirmed):
    results = []
    poller = threading.Thread(
        target=lambda: results.append(timed(long_poll, server, confirmed["ticket"], LONG_WAIT, since=3))
    )
    poller.start()
    time.sleep(0.3)  # let the long poll be held (if it is not yet, it answers at once: same outcome)
    server.pay(confirmed["order_id"])
    poller.join(timeout=LONG_WAIT + 15)
    assert results, "the long poll never returned"
    response, elapsed = results[0]
    status = assert_json(response, 200)
    assert (status["status"], status["version"]) == ("PAID", 4), status
    assert elapsed < WOKE_EARLY, f"took {elapsed:.1f}s"


def test_every_long_poll_on_the_order_is_woken(server, confirmed):
    results = []
    lock = threading.Lock()

    def one():
        answer = long_poll(server, confirmed["ticket"], LONG_WAIT, since=3)
        with lock:
            results.append(answer)

    pollers = [threading.Thread(target=one) for _ in range(3)]
    for poller in pollers:
        poller.start()
    time.sleep(0.3)
    started = time.monotonic()
    server.pay(confirmed["order_id"])
    for poller in pollers:
        poller.join(timeout=LONG_WAIT + 15)
    assert len(results) == 3, f"{3 - len(results)} long polls never returned"
    for response in results:
        status = assert_json(response, 200)
        assert (status["status"], status["version"]) == ("PAID", 4), status
    assert time.monotonic() - started < WOKE_EARLY


# --------------------------------------------------------------------------- answering at once / after the wait


@pytest.mark.parametrize("since", [0, 1, 2])
def test_long_poll_answers_at_once_when_the_version_is_already_newer(server, confirmed, since):
    response, elapsed = timed(long_poll, server, confirmed["ticket"], LONG_WAIT, since=since)
    status = assert_json(response, 200)
    assert (status["status"], status["version"]) == ("CONFIRMED", 3), status
    assert elapsed < WOKE_EARLY, f"version 3 > since {since}, yet the long poll took {elapsed:.1f}s"


def test_long_poll_returns_the_current_status_when_the_wait_expires(server, confirmed):
    response, elapsed = timed(long_poll, server, confirmed["ticket"], 1, since=3)
    status = assert_json(response, 200)
    assert (status["status"], status["version"]) == ("CONFIRMED", 3), status
    assert status == {**server.current(confirmed["ticket"]), "poll_after_ms": status["poll_after_ms"]}
    assert elapsed >= 0.8, f"nothing changed, yet the 1 s long poll returned after {elapsed:.2f}s"


def test_long_poll_with_since_beyond_the_version_waits_and_returns_the_current_status(server, confirmed):
    response, elapsed = timed(long_poll, server, confirmed["ticket"], 1, since=99)
    status = assert_json(response, 200)
    assert (status["status"], status["version"]) == ("CONFIRMED", 3), status
    assert elapsed >= 0.8, f"returned after {elapsed:.2f}s"


def test_long_poll_on_a_final_order_returns_its_status(server, confirmed):
    server.pay(confirmed["order_id"])
    response, elapsed = timed(long_poll, server, confirmed["ticket"], 1, since=4)
    status = assert_json(response, 200)
    assert (status["status"], status["version"]) == ("PAID", 4), status
    assert elapsed < WOKE_EARLY


def test_wait_zero_answers_at_once_with_the_current_status(server, confirmed):
    response, elapsed = timed(long_poll, server, confirmed["ticket"], 0, since=3)
    status = assert_json(response, 200)
    assert (status["status"], status["version"]) == ("CONFIRMED", 3), status
    assert elapsed < WOKE_EARLY


# --------------------------------------------------------------------------- bad wait / since


@pytest.mark.parametrize("wait", ["abc", "-1", "1.5", "", "1e3", "0x10", "5s", "NaN"])
def test_bad_wait_is_400_invalid_request(server, confirmed, wait):
    response, elapsed = timed(server.poll, confirmed["ticket"], wait=wait, since=3)
    assert_error(response, 400, "invalid_request")
    assert elapsed < WOKE_EARLY


@pytest.mark.parametrize("since", ["abc", "-1", "1.5", "", "v3"])
def test_bad_since_is_400_invalid_request(server, confirmed, since):
    response, elapsed = timed(server.poll, confirmed["ticket"], wait=5, since=since)
    assert_error(response, 400, "invalid_request")
    assert elapsed < WOKE_EARLY


@pytest.mark.parametrize("wait", [31, 999])
def test_wait_above_30_is_clamped_not_refused(line, wait):
    ours = queued_behind_another(line)
    before = line.current(ours["ticket"])
    response, elapsed = timed(long_poll, line, ours["ticket"], wait, since=before["version"])
    status = assert_json(response, 200)
    assert status["version"] > before["version"], (before, status)
    assert elapsed < WOKE_EARLY


def test_wait_too_large_for_any_integer_is_clamped_not_refused(server, confirmed):
    # A whole number of seconds above 30 is clamped, however many digits it has.
    response = long_poll(server, confirmed["ticket"], "99999999999999999999", since=0)
    status = assert_json(response, 200)
    assert (status["status"], status["version"]) == ("CONFIRMED", 3), status


# --------------------------------------------------------------------------- tickets


def forged(ticket):
    middle = len(ticket) // 2
    c = ticket[middle]
    return ticket[:middle] + ("B" if c == "A" else "A") + ticket[middle + 1 :]


def test_long_poll_without_a_ticket_is_400_at_once(server):
    response, elapsed = timed(server.get, "/api/orders/status", params={"wait": LONG_WAIT, "since": 0})
    assert_error(response, 400, "invalid_request")
    assert elapsed < WOKE_EARLY


@pytest.mark.parametrize("kind", ["garbage", "forged"])
def test_long_poll_with_an_invalid_ticket_is_401_at_once(server, confirmed, kind):
    ticket = "garbage" if kind == "garbage" else forged(confirmed["ticket"])
    response, elapsed = timed(long_poll, server, ticket, LONG_WAIT, since=3)
    assert_error(response, 401, "invalid_ticket")
    assert elapsed < WOKE_EARLY


def test_long_poll_with_an_expired_ticket_is_410_at_once(server_pool):
    srv = server_pool.start(env={"FLASHGATE_TICKET_TTL": "1s"})
    try:
        answer = srv.accepted(srv.new_sale(), unique_id("user"))
        wait_until(lambda: srv.poll(answer["ticket"]).status_code == 410, timeout=15, interval=0.2, message="expiry")
        response, elapsed = timed(long_poll, srv, answer["ticket"], LONG_WAIT, since=3)
        assert_error(response, 410, "ticket_expired")
        assert elapsed < WOKE_EARLY
    finally:
        server_pool.stop(srv)


# --------------------------------------------------------------------------- the bound on held long polls

MAX_WAITERS = 3
HELD_WAIT = 2


@pytest.fixture(scope="module")
def bounded(server_pool):
    """A server that holds at most 3 long polls, and a CONFIRMED order on it (which does not change)."""
    srv = server_pool.start(env={"FLASHGATE_MAX_WAITERS": str(MAX_WAITERS)})
    answer = srv.accepted(srv.new_sale(), unique_id("user"))
    srv.wait_for_status(answer["ticket"], "CONFIRMED")
    yield srv, answer
    server_pool.stop(srv)


def held_gauge(srv):
    """The server's count of held long polls from /metrics (an extension), or None if not exposed."""
    for line in srv.get("/metrics").text.splitlines():
        if line.startswith("flashgate_long_poll_waiters") and not line.startswith("#"):
            try:
                return int(float(line.split()[-1]))
            except ValueError:
                return None
    return None


def wait_for_held(srv, n):
    """Until the server holds n long polls: by its gauge if it has one, else a generous pause."""
    if held_gauge(srv) is None:
        time.sleep(0.5)
        return
    wait_until(lambda: held_gauge(srv) >= n, timeout=10, interval=0.02, message=f"{n} long polls to be held")


class HeldLongPolls:
    """n long polls with since=3 on a CONFIRMED order, each held for `wait` seconds, in threads."""

    def __init__(self, srv, ticket, n, wait):
        self._srv = srv
        self.responses = []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._one, args=(srv, ticket, wait)) for _ in range(n)]

    def _one(self, srv, ticket, wait):
        try:
            response = long_poll(srv, ticket, wait, since=3)
        except Exception as exc:  # recorded, asserted by the test
            response = exc
        with self._lock:
            self.responses.append(response)

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        wait_for_held(self._srv, len(self._threads))
        return self

    def join(self):
        for thread in self._threads:
            thread.join(timeout=HELD_WAIT + 20)
        return self.responses

    def __exit__(self, *exc):
        self.join()


def assert_retry_after(response):
    value = response.headers.get("Retry-After")
    assert value is not None, f"429 without Retry-After: {dict(response.headers)}"
    assert value.strip().isdigit() and int(value) >= 1, f"Retry-After {value!r}"


def test_long_poll_past_the_bound_is_429_with_retry_after(bounded):
    srv, answer = bounded
    with HeldLongPolls(srv, answer["ticket"], MAX_WAITERS, HELD_WAIT) as held:
        response = long_poll(srv, answer["ticket"], HELD_WAIT, since=3)
        assert_error(response, 429, "too_many_requests")
        assert_retry_after(response)
    for held_response in held.responses:
        assert not isinstance(held_response, Exception), held_response
        status = assert_json(held_response, 200)
        assert (status["status"], status["version"]) == ("CONFIRMED", 3), status


def test_long_poll_is_accepted_again_once_the_held_ones_finish(bounded):
    srv, answer = bounded
    with HeldLongPolls(srv, answer["ticket"], MAX_WAITERS, HELD_WAIT) as held:
        assert long_poll(srv, answer["ticket"], HELD_WAIT, since=3).status_code == 429
    assert len(held.responses) == MAX_WAITERS
    status = assert_json(long_poll(srv, answer["ticket"], 1, since=3), 200)
    assert status["version"] == 3, status


def test_plain_poll_is_answered_while_the_long_polls_are_full(bounded):
    """The bound is on long polls: a plain poll (no wait) is still answered 200, even one made
    again soon after the previous answer (which the server may pace by holding it briefly)."""
    srv, answer = bounded
    srv.status(answer["ticket"])
    with HeldLongPolls(srv, answer["ticket"], MAX_WAITERS, HELD_WAIT):
        assert long_poll(srv, answer["ticket"], HELD_WAIT, since=3).status_code == 429
        status = assert_json(srv.poll(answer["ticket"]), 200)
        assert status["version"] == 3, status


def test_refused_long_polls_do_not_take_a_place(bounded):
    srv, answer = bounded
    with HeldLongPolls(srv, answer["ticket"], MAX_WAITERS, HELD_WAIT):
        for _ in range(10):
            assert long_poll(srv, answer["ticket"], HELD_WAIT, since=3).status_code == 429
    with HeldLongPolls(srv, answer["ticket"], MAX_WAITERS - 1, HELD_WAIT) as held:
        assert_json(long_poll(srv, answer["ticket"], 1, since=3), 200)
    assert all(not isinstance(r, Exception) and r.status_code == 200 for r in held.responses), held.responses


def test_abandoned_long_polls_give_their_place_back(start_server):
    """A client that hangs up does not keep its place until its wait runs out."""
    srv = start_server(env={"FLASHGATE_MAX_WAITERS": str(MAX_WAITERS)})
    answer = srv.accepted(srv.new_sale(), unique_id("user"))
    srv.wait_for_status(answer["ticket"], "CONFIRMED")
    path = f"/api/orders/status?ticket={answer['ticket']}&wait=30&since=3"
    socks = []
    for _ in range(MAX_WAITERS):
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        socks.append(sock)
    wait_for_held(srv, MAX_WAITERS)
    assert long_poll(srv, answer["ticket"], 1, since=3).status_code == 429
    for sock in socks:
        sock.close()
    wait_until(
        lambda: long_poll(srv, answer["ticket"], 1, since=3).status_code == 200,
        timeout=5,
        interval=0.2,
        message="a long poll to be accepted after the 3 held ones hung up (their wait was 30 s)",
    )
