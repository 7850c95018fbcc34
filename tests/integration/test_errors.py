"""Errors: every error is a JSON {"error","message"} with its status; bad input never hurts the server."""

import socket

import pytest
import requests

from flashgate_harness import assert_error, assert_json, unique_id

INTERNALS = ("std::", "boost", "sqlite", "exception", "what()", "Traceback", "0x")


def test_unknown_path_is_404_json_error(server):
    assert_error(server.get("/no/such/path"), 404)


def test_unknown_api_path_is_404_json_error(server):
    assert_error(server.get("/api/no-such-thing"), 404)


@pytest.mark.parametrize(
    "method, path",
    [
        ("POST", "/healthz"),
        ("DELETE", "/api/orders/status?ticket=x"),
        ("PUT", "/api/sales/some-sale/orders"),
        ("DELETE", "/api/sales/some-sale"),
        ("POST", "/metrics"),
    ],
)
def test_wrong_method_on_a_known_path_is_405_json_error(server, method, path):
    assert_error(server.request(method, path), 405)


def test_error_codes_come_with_their_status(server):
    """One of each: the status code and the error code travel together."""
    sale_id = server.new_sale(stock=1)
    server.accepted(sale_id, unique_id("winner"))
    assert_error(server.get_sale(unique_id("nosuch")), 404, "sale_not_found")
    assert_error(server.buy(sale_id, unique_id("late")), 409, "sold_out")
    assert_error(server.buy(sale_id, None, body={}), 400, "invalid_request")
    assert_error(server.create_sale({"sale_id": sale_id, "item": "x", "stock": 1}), 409, "sale_exists")
    assert_error(server.create_sale({"sale_id": unique_id(), "item": "x", "stock": 1}, token="nope"), 401, "unauthorized")
    assert_error(server.poll("garbage"), 401, "invalid_ticket")


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe\xfd not utf-8",
        b'{"user_id": "\xc3\x28"}',  # invalid UTF-8 inside a JSON string
        b'{"user_id": "a", "user_id": "b"',
        b"null",
        b"0",
    ],
    ids=["binary", "bad utf-8 in string", "unterminated", "null", "number"],
)
def test_malformed_intake_is_400_and_reveals_no_internals(server, body):
    sale_id = server.new_sale(stock=2)
    error = assert_error(server.buy(sale_id, None, body=body), 400, "invalid_request")
    for word in INTERNALS:
        assert word.lower() not in error["message"].lower(), error
    assert server.sale(sale_id)["remaining"] == 2


@pytest.mark.parametrize(
    "body",
    [b"{" * 3000, b'{"user_id": ' + b"[" * 3000 + b"]" * 3000 + b"}"],
    ids=["deep braces", "deep arrays"],
)
def test_deeply_nested_intake_is_refused_and_changes_nothing(server, body):
    sale_id = server.new_sale(stock=2)
    response = server.buy(sale_id, None, body=body)
    assert response.status_code in (400, 413), response.status_code  # a body limit may come first
    assert_error(response, response.status_code)
    assert server.sale(sale_id)["remaining"] == 2


def test_oversized_body_is_refused_and_changes_nothing(server):
    sale_id = server.new_sale(stock=2)
    big = b'{"user_id": "' + b"a" * (4 * 1024 * 1024) + b'"}'
    try:
        response = server.buy(sale_id, None, body=big)
    except requests.ConnectionError:
        response = None  # the server may answer early and close while we still send
    if response is not None:
        assert response.status_code in (400, 413), response.status_code
        assert_error(response, response.status_code)
    server.close_sessions()
    assert server.sale(sale_id)["remaining"] == 2


def raw_exchange(server, payload, read_timeout=5.0):
    """Send raw bytes on a fresh connection; return whatever comes back before close/timeout."""
    chunks = []
    with socket.create_connection(("127.0.0.1", server.port), timeout=read_timeout) as sock:
        try:
            sock.sendall(payload)
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except (socket.timeout, ConnectionError):
            pass  # closing on garbage, or saying nothing, is fine
    return b"".join(chunks)


@pytest.mark.parametrize(
    "payload",
    [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        b"POST /api/sales/x/orders HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"user",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 64,  # a TLS ClientHello start
    ],
    ids=["garbage line", "bad version", "negative length", "short body", "huge header", "tls hello"],
)
def test_malformed_http_does_not_take_the_server_down(server, payload):
    answer = raw_exchange(server, payload, read_timeout=1.0)
    status_line = answer.split(b"\r\n", 1)[0].split()
    assert status_line[1:2] != [b"500"], status_line
    assert server.is_running()
    assert assert_json(server.get("/healthz"), 200) == {"status": "ok"}


def test_server_still_answers_after_bad_input(server):
    for body in (b"", b"{", b"[]", b'{"user_id": 1}'):
        server.buy("no-such-sale", None, body=body)
        server.create_sale(body)
    assert server.is_running()
    assert assert_json(server.get("/healthz"), 200) == {"status": "ok"}
