"""Health, metrics, the secrets printed at start and a clean shutdown."""

import hashlib
import hmac
import json
import os
import re

import pytest

from flashgate_harness import (
    ADMIN_TOKEN,
    PAYMENT_SECRET,
    assert_error,
    assert_json,
    content_type,
    distributed,
    unique_id,
    wait_until,
)

SAMPLE = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?P<labels>\{.*\})?\s+(?P<value>\S+)(\s+-?\d+)?$"
)


def metrics_text(server):
    response = server.get("/metrics")
    assert response.status_code == 200, response.text[:300]
    return response.text


def samples(text):
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


# --------------------------------------------------------------------------- health


def test_healthz_is_200_status_ok(server):
    assert assert_json(server.get("/healthz"), 200) == {"status": "ok"}


# --------------------------------------------------------------------------- threads


def test_threads_are_named_for_what_they_do(server):
    # top -H, ps -L and perf tell the I/O threads from the writer and the windows.
    tasks = f"/proc/{server.proc.pid}/task"
    names = set()
    for tid in os.listdir(tasks):
        with open(f"{tasks}/{tid}/comm") as comm:
            names.add(comm.read().strip())
    expected = {"fg-http-0", "fg-watch-timer", "fg-window-0", "fg-pay-timeouts", "fg-stock-flush"}
    expected |= {"fg-redis-io", "fg-redis-feed"} if distributed() else {"fg-sqlite-write", "fg-sqlite-ckpt"}
    assert expected <= names, f"missing {sorted(expected - names)} among {sorted(names)}"


# --------------------------------------------------------------------------- metrics


def test_metrics_is_prometheus_text(server):
    response = server.get("/metrics")
    assert response.status_code == 200
    assert content_type(response) == "text/plain", response.headers.get("Content-Type")
    for line in samples(response.text):
        match = SAMPLE.match(line)
        assert match, f"not a Prometheus sample line: {line!r}"
        float(match["value"])  # NaN, +Inf and -Inf parse too


def test_metrics_are_named_flashgate(server):
    assert any(line.startswith("flashgate_") for line in samples(metrics_text(server)))


def test_metrics_count_http_requests_by_route_and_code(server):
    server.get_sale(unique_id("nosuch"))  # at least one 404
    lines = [l for l in samples(metrics_text(server)) if l.startswith("flashgate_http_requests_total{")]
    assert lines, "no flashgate_http_requests_total{...} samples"
    assert any('route="' in l and 'code="404"' in l for l in lines), lines[:20]
    assert all('route="' in l and 'code="' in l for l in lines), lines[:20]


def test_metrics_routes_are_templates_not_raw_paths(server):
    sale_id = server.new_sale(stock=1)
    server.accepted(sale_id, unique_id("user"))
    server.get_sale(sale_id)
    # Per-sale gauges name their sale on purpose; a route label must never hold a raw path.
    route_lines = [l for l in samples(metrics_text(server)) if "route=" in l]
    assert route_lines
    assert not [l for l in route_lines if sale_id in l]
    assert any('route="/api/sales/{sale_id}"' in l for l in route_lines)


def test_metrics_show_each_sale(server):
    """The embedded store is read at the scrape; a Redis store's values are at most about a second old."""
    sale_id = server.new_sale(stock=3)
    server.accepted(sale_id, unique_id("user"))
    remaining = f'flashgate_sale_remaining{{sale="{sale_id}"}} 2'
    if distributed():
        wait_until(lambda: remaining in metrics_text(server), timeout=15, message="the sale in /metrics")
    text = metrics_text(server)
    assert remaining in text
    assert f'flashgate_sale_queue_tail{{sale="{sale_id}"}}' in text


def test_metrics_count_intake_outcomes(server):
    sale_id = server.new_sale(stock=1)
    server.accepted(sale_id, unique_id("user"))
    server.buy(sale_id, unique_id("late"))  # sold out
    assert any(l.startswith("flashgate_intake_total{") for l in samples(metrics_text(server)))


@pytest.mark.parametrize("name", ["flashgate_queue_depth", "flashgate_windows_busy"])
def test_metrics_show_the_queue_and_the_windows(server, name):
    lines = samples(metrics_text(server))
    assert any(l == name or l.startswith((name + " ", name + "{")) for l in lines), name


# --------------------------------------------------------------------------- secrets printed at start


def candidates_after(logs, phrase):
    """Words that follow `phrase` (case-insensitive) on the lines that mention it."""
    found = []
    for line in logs.splitlines():
        index = line.lower().find(phrase)
        if index >= 0:
            found += re.findall(r"[A-Za-z0-9._~+/=-]{8,}", line[index + len(phrase) :])
    return found


@pytest.fixture(scope="module")
def generated(server_pool):
    """A server given neither admin token nor payment secret."""
    srv = server_pool.start(env={"FLASHGATE_ADMIN_TOKEN": None, "FLASHGATE_PAYMENT_SECRET": None})
    yield srv
    server_pool.stop(srv)


def generated_admin_token(srv):
    words = wait_until(
        lambda: candidates_after(srv.logs(), "admin token"), timeout=5, message="an 'admin token' line in the logs"
    )
    for word in words:
        body = {"sale_id": unique_id("gen"), "item": "x", "stock": 1}
        if srv.create_sale(body, token=word).status_code == 201:
            return word
    raise AssertionError(f"none of {words} works as the admin token")


def sign(secret, body):
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_generated_admin_token_is_printed_and_works(generated):
    token = generated_admin_token(generated)
    assert_error(generated.create_sale({"sale_id": unique_id(), "item": "x", "stock": 1}, token="wrong"), 401)
    assert_error(generated.get_stats(unique_id("nosuch"), token=token), 404)


def test_generated_admin_token_is_printed_once(generated):
    generated_admin_token(generated)
    generated.get("/healthz")
    lines = [l for l in generated.logs().splitlines() if "admin token" in l.lower()]
    assert len(lines) == 1, lines


def test_generated_payment_secret_is_printed_and_works(generated):
    token = generated_admin_token(generated)
    sale_id = unique_id("pay")
    assert_json(generated.create_sale({"sale_id": sale_id, "item": "x", "stock": 1}, token=token), 201)
    answer = generated.accepted(sale_id, unique_id("payer"))
    generated.wait_for_status(answer["ticket"], "CONFIRMED")

    words = wait_until(
        lambda: candidates_after(generated.logs(), "payment secret"),
        timeout=5,
        message="a 'payment secret' line in the logs",
    )
    body = json.dumps({"order_id": answer["order_id"], "payment_id": unique_id("pay")}).encode()
    answers = []
    for word in words:
        response = generated.post(
            "/api/payments/notify",
            data=body,
            headers={"Content-Type": "application/json", "X-Signature": sign(word, body)},
        )
        if response.status_code == 200:
            assert response.json() == {"ok": True}
            break
        answers.append((word, response.status_code, response.text[:200]))
    else:
        raise AssertionError(f"no printed word signs a notification that is accepted: {answers}")
    assert generated.wait_for_status(answer["ticket"], "PAID")["order_id"] == answer["order_id"]


def test_configured_secrets_are_not_printed(server):
    server.get("/healthz")
    logs = server.logs()
    assert ADMIN_TOKEN not in logs
    assert PAYMENT_SECRET not in logs


# --------------------------------------------------------------------------- shutdown


def test_sigterm_shuts_down_cleanly(start_server):
    srv = start_server()
    srv.accepted(srv.new_sale(), unique_id("user"))
    assert srv.stop() == 0
    assert not srv.killed, "did not exit within 10 s of SIGTERM"
