"""HTTP-layer faults of issue #20, against the real binary.

- An early error answer (413 for a body over the limit) reaches a client that
  sends its whole body before it reads, as http.client and requests do: the
  server closes like nginx's lingering close (answer, shut down its sending
  side, read and discard for a bounded time) instead of resetting the
  connection under the unread body, which destroyed the answer.
"""

import socket
import time

import pytest
import requests

BIG_BODY = 10 * 1024 * 1024  # far over the 16 KiB default --body-limit
IO_TIMEOUT = 30  # an upper bound for "eventually", never a performance claim


def read_until_eof(sock):
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def test_a_413_reaches_a_raw_client_that_sends_the_whole_body_first(server):
    sale_id = server.new_sale(stock=1)
    head = (f"POST /api/sales/{sale_id}/orders HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {BIG_BODY}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=IO_TIMEOUT) as sock:
        try:
            sock.sendall(head + b"x" * BIG_BODY)  # no Expect: 100-continue, the whole body at once
            answer = read_until_eof(sock)
        except (ConnectionResetError, BrokenPipeError) as e:
            pytest.fail(f"the server reset the connection instead of answering 413: {e!r}")
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:300]
    assert b"payload_too_large" in answer or b"413" in answer
    assert server.sale(sale_id)["remaining"] == 1


def test_a_413_reaches_requests_that_sends_the_whole_body_first(server):
    sale_id = server.new_sale(stock=1)
    try:
        response = requests.post(server.url(f"/api/sales/{sale_id}/orders"), data=b"x" * BIG_BODY,
                                 headers={"Content-Type": "application/json"}, timeout=IO_TIMEOUT)
    except requests.ConnectionError as e:
        pytest.fail(f"the server reset the connection instead of answering 413: {e!r}")
    assert response.status_code == 413, response.text[:300]


def test_the_server_still_serves_after_lingering_closes(server):
    for _ in range(3):
        test_a_413_reaches_a_raw_client_that_sends_the_whole_body_first(server)
    assert server.get("/healthz").status_code == 200


def test_lingering_is_bounded_for_a_client_that_keeps_sending(server):
    head = (f"POST /api/sales/nope/orders HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"Content-Length: {BIG_BODY}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=IO_TIMEOUT) as sock:
        sock.sendall(head + b"x" * 1000)
        assert read_until_eof(sock).startswith(b"HTTP/1.1 413 ")
        # A byte every 0.2 s never leaves 2 s of silence: only the total bound ends it.
        deadline = time.monotonic() + IO_TIMEOUT
        with pytest.raises((ConnectionResetError, BrokenPipeError)):
            while time.monotonic() < deadline:
                sock.sendall(b"x")
                time.sleep(0.2)
