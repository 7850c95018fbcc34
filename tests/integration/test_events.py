"""Server-sent events: GET /api/orders/events?ticket=T.

At once one `event: status` (id = version, data = status object) with the current
status, then one per change; `event: position` (no id) may come while QUEUED;
the server closes the stream after a final status; Last-Event-ID resumes.
"""

import socket

import pytest

from flashgate_harness import SSEStream, is_int, unique_id, wait_until

LIFE_CYCLE = ["QUEUED", "PROCESSING", "CONFIRMED", "PAID"]
STATUS_KEYS = ("order_id", "sale_id", "status", "version", "reason", "updated_at")
EVENT_TIMEOUT = 10.0  # upper bound for one event to arrive (never a speed claim)


def status_events(events):
    return [ev for ev in events if ev.event == "status"]


def confirmed_order(srv):
    answer = srv.accepted(srv.new_sale(), unique_id("user"))
    srv.wait_for_status(answer["ticket"], "CONFIRMED")
    return answer


def assert_no_event_for(stream, seconds):
    """Nothing but comments arrives for `seconds` (the stream stays open)."""
    try:
        event = stream.next_event(seconds)
    except (socket.timeout, TimeoutError):
        return
    raise AssertionError(f"expected no event for {seconds}s, got {event!r}")


# --------------------------------------------------------------------------- one order's whole stream


@pytest.fixture(scope="module")
def line(server_pool):
    """One window taking 300 ms per order: an order behind three others is QUEUED for about a second."""
    srv = server_pool.start(env={"FLASHGATE_WINDOWS": "1", "FLASHGATE_SERVICE_TIME": "300ms"})
    yield srv
    server_pool.stop(srv)


class Recorded:
    """Everything one client saw on the stream of a fresh order, from QUEUED to PAID and EOF."""


@pytest.fixture(scope="module")
def lifecycle(line):
    rec = Recorded()
    sale_id = line.new_sale(stock=10)
    ahead = [line.accepted(sale_id, unique_id("ahead")) for _ in range(3)]
    ours = line.accepted(sale_id, unique_id("user"))
    rec.order_id, rec.sale_id = ours["order_id"], sale_id
    with line.events(ours["ticket"]) as stream:
        rec.status, rec.content_type, rec.headers = stream.status, stream.content_type, stream.headers
        assert stream.status == 200, f"events: {stream.status} {stream.body!r}"
        rec.events = []
        while True:  # until CONFIRMED
            event = stream.next_event(EVENT_TIMEOUT)
            assert event is not None, f"stream closed before CONFIRMED: {rec.events}"
            rec.events.append(event)
            if event.event == "status" and event.json()["status"] in ("CONFIRMED", "FAILED", "CANCELLED"):
                break
        rec.before_payment = len(rec.events)
        line.pay(ours["order_id"])
        rec.events += stream.events_until_eof(EVENT_TIMEOUT)
        rec.eof = stream.eof
    for answer in ahead:
        line.wait_for_status(answer["ticket"], "CONFIRMED")
    return rec


def test_events_answer_200_text_event_stream(lifecycle):
    assert lifecycle.status == 200
    assert lifecycle.content_type == "text/event-stream", lifecycle.headers.get("Content-Type")


def test_first_event_is_the_status_at_connect(lifecycle):
    first = lifecycle.events[0]
    assert first.event == "status", first
    assert first.json()["status"] in ("QUEUED", "PROCESSING"), first


def test_status_events_follow_the_life_cycle_one_per_change(lifecycle):
    seen = [ev.json()["status"] for ev in status_events(lifecycle.events)]
    assert seen and seen[0] in LIFE_CYCLE, seen
    assert seen == LIFE_CYCLE[LIFE_CYCLE.index(seen[0]) :], seen


def test_status_event_ids_rise_strictly(lifecycle):
    ids = [ev.id for ev in status_events(lifecycle.events)]
    assert all(i is not None and i.isdigit() for i in ids), ids
    numbers = [int(i) for i in ids]
    assert all(b > a for a, b in zip(numbers, numbers[1:])), numbers


def test_status_event_data_is_the_status_object_of_the_event(lifecycle):
    for ev in status_events(lifecycle.events):
        data = ev.json()
        assert data["order_id"] == lifecycle.order_id, ev
        assert data["sale_id"] == lifecycle.sale_id, ev
        assert is_int(data["version"]) and str(data["version"]) == ev.id, ev
        assert data["status"] in LIFE_CYCLE, ev
        assert data["version"] == LIFE_CYCLE.index(data["status"]) + 1, ev


def test_payment_is_pushed_as_a_paid_event(lifecycle):
    after = status_events(lifecycle.events[lifecycle.before_payment :])
    assert [ev.json()["status"] for ev in after] == ["PAID"], after
    assert after[0].id == "4", after


def test_server_closes_the_stream_after_the_final_status(lifecycle):
    assert lifecycle.eof
    last = lifecycle.events[-1]
    assert last.event == "status" and last.json()["status"] == "PAID", last


def test_position_events_are_well_formed(lifecycle):
    others = [ev for ev in lifecycle.events if ev.event != "status"]
    positions = []
    for ev in others:
        assert ev.event == "position", ev
        assert ev.id is None, f"a position event carries no id: {ev!r}"
        data = ev.json()
        assert data["order_id"] == lifecycle.order_id, ev
        assert data["status"] == "QUEUED", ev
        assert is_int(data["position"]) and data["position"] >= 1, ev
        positions.append(data["position"])
    assert all(b <= a for a, b in zip(positions, positions[1:])), positions


# --------------------------------------------------------------------------- connecting to a settled order


def test_first_event_carries_the_current_status_object(server):
    answer = confirmed_order(server)
    current = server.current(answer["ticket"])
    with server.events(answer["ticket"]) as stream:
        assert stream.status == 200
        event = stream.next_event(EVENT_TIMEOUT)
    assert event is not None and event.event == "status", event
    assert event.id == str(current["version"]), (event, current)
    data = event.json()
    assert {k: data[k] for k in STATUS_KEYS} == {k: current[k] for k in STATUS_KEYS}, (data, current)


def test_stream_of_a_paid_order_is_one_event_then_closed(server):
    answer = confirmed_order(server)
    server.pay(answer["order_id"])
    with server.events(answer["ticket"]) as stream:
        assert stream.status == 200
        events = stream.events_until_eof(EVENT_TIMEOUT)
    assert [(ev.event, ev.id, ev.json()["status"]) for ev in status_events(events)] == [("status", "4", "PAID")]


def test_two_streams_of_one_order_both_get_the_payment(server):
    answer = confirmed_order(server)
    with server.events(answer["ticket"]) as first, server.events(answer["ticket"]) as second:
        for stream in (first, second):
            assert stream.status == 200
            assert stream.next_status_event(EVENT_TIMEOUT).id == "3"
        server.pay(answer["order_id"])
        for stream in (first, second):
            events = status_events(stream.events_until_eof(EVENT_TIMEOUT))
            assert [(ev.id, ev.json()["status"]) for ev in events] == [("4", "PAID")], events


# --------------------------------------------------------------------------- Last-Event-ID


def test_last_event_id_resumes_after_that_version(server):
    answer = confirmed_order(server)
    with server.events(answer["ticket"], last_event_id=2) as stream:
        assert stream.status == 200
        event = stream.next_status_event(EVENT_TIMEOUT)
    assert event is not None and event.id == "3", event
    assert event.json()["status"] == "CONFIRMED", event


def test_last_event_id_of_the_current_version_sends_only_later_changes(server):
    answer = confirmed_order(server)
    with server.events(answer["ticket"], last_event_id=3) as stream:
        assert stream.status == 200
        assert_no_event_for(stream, 1.0)
        server.pay(answer["order_id"])
        events = stream.events_until_eof(EVENT_TIMEOUT)
    assert [(ev.id, ev.json()["status"]) for ev in status_events(events)] == [("4", "PAID")], events


def test_last_event_id_before_the_final_version_gets_the_final_event(server):
    answer = confirmed_order(server)
    server.pay(answer["order_id"])
    with server.events(answer["ticket"], last_event_id=3) as stream:
        assert stream.status == 200
        events = stream.events_until_eof(EVENT_TIMEOUT)
    assert [(ev.id, ev.json()["status"]) for ev in status_events(events)] == [("4", "PAID")], events


@pytest.mark.parametrize("last_event_id", [4, 9])
def test_last_event_id_at_or_past_the_final_version_closes_with_no_event(server, last_event_id):
    answer = confirmed_order(server)
    server.pay(answer["order_id"])
    with server.events(answer["ticket"], last_event_id=last_event_id) as stream:
        assert stream.status == 200
        assert stream.content_type == "text/event-stream"
        events = stream.events_until_eof(EVENT_TIMEOUT)
    assert status_events(events) == [], events


# --------------------------------------------------------------------------- ticket errors come as JSON before any stream


def forged(ticket):
    middle = len(ticket) // 2
    c = ticket[middle]
    return ticket[:middle] + ("B" if c == "A" else "A") + ticket[middle + 1 :]


def assert_stream_refused(stream, status, code):
    assert stream.status == status, f"expected {status}, got {stream.status}: {stream.body!r}"
    assert stream.content_type == "application/json", stream.headers.get("Content-Type")
    body = stream.json_error()
    assert body["error"] == code, body
    return body


def test_events_without_a_ticket_is_400_json(server):
    with SSEStream(server, "/api/orders/events") as stream:
        assert_stream_refused(stream, 400, "invalid_request")


@pytest.mark.parametrize("kind", ["garbage", "forged"])
def test_events_with_an_invalid_ticket_is_401_json(server, kind):
    ticket = "garbage" if kind == "garbage" else forged(server.accepted(server.new_sale(), unique_id("u"))["ticket"])
    with server.events(ticket) as stream:
        assert_stream_refused(stream, 401, "invalid_ticket")


def test_events_with_an_expired_ticket_is_410_json(start_server):
    srv = start_server(env={"FLASHGATE_TICKET_TTL": "1s"})
    answer = srv.accepted(srv.new_sale(), unique_id("user"))
    wait_until(lambda: srv.poll(answer["ticket"]).status_code == 410, timeout=15, interval=0.2, message="expiry")
    with srv.events(answer["ticket"]) as stream:
        assert_stream_refused(stream, 410, "ticket_expired")


# --------------------------------------------------------------------------- the bound on open streams

MAX_STREAMS = 2


@pytest.fixture(scope="module")
def bounded(server_pool):
    srv = server_pool.start(env={"FLASHGATE_MAX_STREAMS": str(MAX_STREAMS)})
    yield srv
    server_pool.stop(srv)


def open_streams(srv, n):
    """n streams on n CONFIRMED orders, each with its first event read; returns [(answer, stream)]."""
    opened = []
    for _ in range(n):
        answer = confirmed_order(srv)
        stream = srv.events(answer["ticket"])
        opened.append((answer, stream))
        assert stream.status == 200, f"stream {len(opened)} of {n}: {stream.status} {stream.body!r}"
        assert stream.next_status_event(EVENT_TIMEOUT).id == "3"
    return opened


def end_streams(srv, opened):
    """Pay every order so that the server itself closes the streams (and frees their places)."""
    for answer, stream in opened:
        if stream.status == 200 and not stream.eof:
            srv.pay(answer["order_id"])
            stream.events_until_eof(EVENT_TIMEOUT)
        stream.close()


def test_stream_past_the_bound_is_429_json(bounded):
    srv = bounded
    opened = open_streams(srv, MAX_STREAMS)
    try:
        extra = confirmed_order(srv)
        with srv.events(extra["ticket"]) as stream:
            assert_stream_refused(stream, 429, "too_many_requests")
            retry_after = stream.headers.get("Retry-After")
            assert retry_after is not None and retry_after.strip().isdigit(), dict(stream.headers)
    finally:
        end_streams(srv, opened)


def test_stream_is_accepted_again_after_the_server_closed_one(bounded):
    srv = bounded
    opened = open_streams(srv, MAX_STREAMS)
    try:
        extra = confirmed_order(srv)
        with srv.events(extra["ticket"]) as refused:
            assert refused.status == 429
        end_streams(srv, opened[:1])  # PAID: the server closes that stream
        with srv.events(extra["ticket"]) as accepted:
            assert accepted.status == 200, f"{accepted.status} {accepted.body!r}"
            assert accepted.next_status_event(EVENT_TIMEOUT).id == "3"
            opened.append((extra, accepted))
            end_streams(srv, opened)
    finally:
        end_streams(srv, opened)


def test_abandoned_streams_give_their_place_back(start_server):
    """A client that hangs up does not keep its place until the next keepalive finds it gone."""
    srv = start_server(env={"FLASHGATE_MAX_STREAMS": str(MAX_STREAMS)})
    opened = open_streams(srv, MAX_STREAMS)
    extra = confirmed_order(srv)
    with srv.events(extra["ticket"]) as refused:
        assert refused.status == 429
    for _, stream in opened:
        stream.close()

    def accepted():
        stream = srv.events(extra["ticket"])
        stream.close()
        return stream.status == 200

    wait_until(accepted, timeout=3, interval=0.2, message="a stream to be accepted after both clients hung up")
