"""Tickets: malformed, tampered, truncated, expired, foreign and rotated-key tickets."""

import secrets

import pytest

from flashgate_harness import assert_error, assert_json, unique_id, wait_until

B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@pytest.fixture
def ticket(server):
    """A fresh valid ticket of the shared server, with its order id."""
    answer = server.accepted(server.new_sale(), unique_id("user"))
    return answer["ticket"], answer["order_id"]


def changed_char(c, variant):
    """A different base64url character: the next one, or one with the top bit of its 6 flipped."""
    if c not in B64URL:
        return "A"
    i = B64URL.index(c)
    return B64URL[(i + 1) % 64] if variant == "next" else B64URL[i ^ 32]


# --------------------------------------------------------------------------- malformed


def test_status_without_a_ticket_is_400_invalid_request(server):
    assert_error(server.get("/api/orders/status"), 400, "invalid_request")


@pytest.mark.parametrize(
    "garbage",
    ["garbage", "A", "AAAA", "x" * 400, "!!!not-base64!!!", "%00%01", "eyJvcmRlcl9pZCI6IjEifQ", "A" * 64],
)
def test_garbage_ticket_is_401_invalid_ticket(server, garbage):
    assert_error(server.poll(garbage), 401, "invalid_ticket")


def test_valid_ticket_is_answered_200(server, ticket):
    value, order_id = ticket
    assert server.status(value)["order_id"] == order_id


@pytest.mark.parametrize("variant", ["next", "top-bit"])
def test_changing_any_single_character_makes_the_ticket_invalid(server, ticket, variant):
    value, _ = ticket
    wrong = []
    for i, c in enumerate(value):
        forged = value[:i] + changed_char(c, variant) + value[i + 1 :]
        response = server.poll(forged)
        if response.status_code != 401 or response.json().get("error") != "invalid_ticket":
            wrong.append((i, forged, response.status_code, response.text[:200]))
    assert not wrong, f"{len(wrong)} of {len(value)} forged tickets not refused, e.g. {wrong[:3]}"


def test_truncated_ticket_is_401_invalid_ticket(server, ticket):
    value, _ = ticket
    for cut in sorted({1, 2, 3, 4, len(value) // 2, len(value) - 16}):
        if 0 < cut < len(value):
            assert_error(server.poll(value[:-cut]), 401, "invalid_ticket")


def test_ticket_with_extra_characters_is_401_invalid_ticket(server, ticket):
    value, _ = ticket
    for suffix in ("A", "AA", "AAAA"):
        assert_error(server.poll(value + suffix), 401, "invalid_ticket")


def test_ticket_from_another_deployment_is_401_invalid_ticket(ticket, start_server):
    value, _ = ticket
    other = start_server()  # its own data dir, hence its own generated keys
    assert_error(other.poll(value), 401, "invalid_ticket")


def test_ticket_keys_survive_a_restart_on_the_same_data_dir(start_server):
    first = start_server()
    answer = first.accepted(first.new_sale(), unique_id("user"))
    first.wait_for_status(answer["ticket"], "CONFIRMED")
    data_dir = first.data_dir
    first.stop()

    again = start_server(data_dir=data_dir)
    response = again.poll(answer["ticket"])
    assert response.status_code != 401, f"ticket refused after a restart: {response.text}"
    assert assert_json(response, 200)["order_id"] == answer["order_id"]


# --------------------------------------------------------------------------- expiry


@pytest.fixture(scope="module")
def short_ttl(server_pool):
    """A server whose tickets live 2 s, and two orders whose first tickets have already expired."""
    srv = server_pool.start(env={"FLASHGATE_TICKET_TTL": "2s"})
    sale_id = srv.new_sale()
    users = [unique_id("user"), unique_id("user")]
    answers = [srv.accepted(sale_id, user) for user in users]
    assert_json(srv.poll(answers[0]["ticket"]), 200)
    for answer in answers:
        wait_until(
            lambda: srv.poll(answer["ticket"]).status_code != 200, timeout=15, interval=0.25, message="ticket to expire"
        )
    yield srv, sale_id, users, answers
    server_pool.stop(srv)


def test_expired_ticket_is_410_ticket_expired(short_ttl):
    srv, _, _, answers = short_ttl
    assert_error(srv.poll(answers[0]["ticket"]), 410, "ticket_expired")


def test_tampered_expired_ticket_is_401_not_410(short_ttl):
    srv, _, _, answers = short_ttl
    value = answers[0]["ticket"]
    middle = len(value) // 2
    forged = value[:middle] + changed_char(value[middle], "next") + value[middle + 1 :]
    assert_error(srv.poll(forged), 401, "invalid_ticket")


def test_repeating_the_order_gives_a_fresh_ticket_after_expiry(short_ttl):
    srv, sale_id, users, answers = short_ttl
    again = assert_json(srv.buy(sale_id, users[1]), 200)
    assert srv.status(again["ticket"])["order_id"] == answers[1]["order_id"]


# --------------------------------------------------------------------------- key rotation


class Rotation:
    """Three deployments: A knows k1; B knows k2 (newest) and k1; C knows only k2."""

    def __init__(self, pool):
        k1, k2 = secrets.token_hex(32), secrets.token_hex(32)
        self.a = pool.start(env={"FLASHGATE_TICKET_KEYS": k1})
        self.b = pool.start(env={"FLASHGATE_TICKET_KEYS": f"{k2},{k1}"})
        self.c = pool.start(env={"FLASHGATE_TICKET_KEYS": k2})
        self.ticket_k1 = self.a.accepted(self.a.new_sale(), unique_id("user"))["ticket"]
        self.ticket_b = self.b.accepted(self.b.new_sale(), unique_id("user"))["ticket"]
        self.servers = (self.a, self.b, self.c)


@pytest.fixture(scope="module")
def rotation(server_pool):
    setup = Rotation(server_pool)
    yield setup
    for srv in setup.servers:
        server_pool.stop(srv)


def assert_ticket_accepted(response):
    """Authenticated: the order may be unknown to this deployment (404), but the ticket is not refused."""
    assert response.status_code in (200, 404), f"{response.status_code}: {response.text[:300]}"
    if response.status_code == 404:
        assert_error(response, 404)


def test_ticket_of_an_older_configured_key_is_accepted(rotation):
    assert_ticket_accepted(rotation.b.poll(rotation.ticket_k1))


def test_ticket_of_a_key_no_longer_configured_is_401(rotation):
    assert_error(rotation.c.poll(rotation.ticket_k1), 401, "invalid_ticket")


def test_tickets_are_issued_with_the_newest_key(rotation):
    assert_json(rotation.b.poll(rotation.ticket_b), 200)
    assert_ticket_accepted(rotation.c.poll(rotation.ticket_b))
    assert_error(rotation.a.poll(rotation.ticket_b), 401, "invalid_ticket")
