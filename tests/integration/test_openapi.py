"""docs/openapi.yaml: a valid OpenAPI 3.1 document of every route, served as is, and the check that keeps it honest.

Every answer the other tests receive is checked against the document by
openapi_check.py (wired in by flashgate_harness.py and conftest.py); the tests
here check the document itself, that the server and the document list the same
routes, and that the check really sees the suite's traffic and really catches
mismatches.
"""

import re

import pytest
import requests
import yaml

from flashgate_harness import REPO, SSEStream, assert_error, assert_json, unique_id
from openapi_check import METHODS, RECORDER, SPEC_PATH, Record, Spec, check_records, report_text, spec

# An entry of the route table in src/gateway/routes.cpp: {"GET", "/api/...", handler}.
ROUTE_ENTRY = re.compile(r'\{\s*"(GET|POST|PUT|PATCH|DELETE|HEAD)"\s*,\s*"(/[^"]*)"')


def server_routes():
    """(METHOD, pattern) of every route the gateway registers, read from its sources."""
    routes = set()
    routes.update(ROUTE_ENTRY.findall((REPO / "src" / "gateway" / "routes.cpp").read_text()))
    return routes


def spec_operations():
    document = yaml.safe_load(SPEC_PATH.read_text())
    return {(m.upper(), path) for path, item in document["paths"].items() for m in METHODS if m in item}


# --------------------------------------------------------------------------- the document


def test_spec_is_an_openapi_3_1_document():
    document = yaml.safe_load(SPEC_PATH.read_text())
    assert re.fullmatch(r"3\.1\.\d+", str(document.get("openapi"))), document.get("openapi")
    assert document["paths"], "no paths"
    problems = Spec(SPEC_PATH).lint()
    assert not problems, "docs/openapi.yaml:\n" + "\n".join(problems)


def test_every_operation_has_responses_and_every_ref_resolves():
    current = Spec(SPEC_PATH)
    for path, item in current.doc["paths"].items():
        for method in METHODS:
            if method in item:
                assert item[method].get("responses"), f"{method.upper()} {path} has no responses"
    refs = []

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(current.doc)
    assert refs, "no $ref at all?"
    unresolved = []
    for ref in sorted(set(refs)):
        try:
            current.pointer(ref)
        except KeyError:
            unresolved.append(ref)
    assert not unresolved, f"$ref that resolve to nothing: {unresolved}"


def test_spec_and_server_have_the_same_routes():
    routes = server_routes()
    assert routes, "no route found in the table of src/gateway/routes.cpp"
    operations = spec_operations()
    assert routes - operations == set(), f"routes of the server missing from docs/openapi.yaml: {sorted(routes - operations)}"
    assert operations - routes == set(), f"operations of docs/openapi.yaml the server does not have: {sorted(operations - routes)}"


def test_every_error_response_is_the_error_object_with_its_codes():
    """Each 4xx/5xx of every operation is application/json whose `error` is an enum of codes."""
    current = Spec(SPEC_PATH)
    for path, item in current.doc["paths"].items():
        for method in METHODS:
            for code, response in (item.get(method) or {}).get("responses", {}).items():
                if not str(code).startswith(("4", "5")):
                    continue
                response = current.deref(response)
                where = f"{method.upper()} {path} {code}"
                schema = current.deref(response["content"]["application/json"]["schema"])
                error = current.deref(schema.get("properties", {}).get("error", {}))
                assert error.get("enum"), f"{where}: no enum of error codes"
                assert "X-Request-Id" in response.get("headers", {}), f"{where}: X-Request-Id not declared"
                if str(code) in ("429", "503"):
                    assert "Retry-After" in response.get("headers", {}), f"{where}: Retry-After not declared"


# --------------------------------------------------------------------------- served by the server


def test_get_openapi_yaml_serves_docs_openapi_yaml(server):
    response = server.get("/openapi.yaml")
    assert response.status_code == 200, f"{response.status_code}: {response.text[:300]}"
    assert response.headers.get("Content-Type", "").split(";")[0].strip() == "application/yaml", response.headers
    served, on_disk = response.content, SPEC_PATH.read_bytes()
    if served != on_disk:
        at = next((i for i, (a, b) in enumerate(zip(served, on_disk)) if a != b), min(len(served), len(on_disk)))
        pytest.fail(
            f"GET /openapi.yaml ({len(served)} bytes) is not docs/openapi.yaml ({len(on_disk)} bytes); first "
            f"difference at byte {at}: served {served[at:at + 60]!r}, file {on_disk[at:at + 60]!r} "
            "(the binary embeds the file at build time: rebuild after editing it)"
        )


def test_request_id_is_echoed(server):
    rid = unique_id("rid")
    for response in (server.get("/healthz", headers={"X-Request-Id": rid}),
                     server.get("/no/such/path", headers={"X-Request-Id": rid})):
        assert response.headers.get("X-Request-Id") == rid, response.headers


# --------------------------------------------------------------------------- the check itself


def test_recorder_sees_every_way_the_suite_talks_to_the_server(server, request):
    """Helpers, the thread's session, plain requests, and SSEStream answers and events are all recorded."""
    sale_id = server.new_sale(stock=1)
    answer = server.accepted(sale_id, unique_id("u"))
    server.http.get(server.url("/healthz"), timeout=10)
    requests.get(server.url("/metrics"), timeout=10)
    with SSEStream(server, "/api/orders/events?ticket=forged") as refused:
        assert refused.status == 401
    with server.events(answer["ticket"]) as stream:
        assert stream.next_status_event() is not None
    seen = {(r.kind, r.method, r.path, r.status) for r in RECORDER.peek(request.node.nodeid)}
    for wanted in [
        ("response", "POST", "/api/admin/sales", 201),
        ("response", "POST", f"/api/sales/{sale_id}/orders", 202),
        ("response", "GET", "/healthz", 200),
        ("response", "GET", "/metrics", 200),
        ("response", "GET", "/api/orders/events", 401),
        ("response", "GET", "/api/orders/events", 200),
        ("event", "GET", "/api/orders/events", None),
    ]:
        assert wanted in seen, f"not recorded: {wanted}; recorded: {sorted(seen, key=str)}"


def record(method, target, status, body=None, ctype="application/json", headers=None):
    sent = {"content-type": ctype, "x-request-id": "r-1", **(headers or {})}
    return Record("response", method, target, status, sent, body.encode() if isinstance(body, str) else body)


STATUS = (
    '{"order_id":"0123456789abcdef0123","sale_id":"s-1","status":"QUEUED","version":1,"position":2,'
    '"poll_after_ms":400,"reason":null,"updated_at":"2026-11-24T12:00:00.123Z"}'
)


@pytest.mark.parametrize(
    "bad",
    [
        record("GET", "/api/orders/status?ticket=x", 418, '{"error":"teapot","message":"no"}'),
        record("GET", "/api/orders/status?ticket=x", 200, STATUS.replace('"version":1', '"version":"1"')),
        record("GET", "/api/orders/status?ticket=x", 200, STATUS.replace('"position":2', '"position":null')),
        record("GET", "/api/orders/status?ticket=x", 200, STATUS.replace(',"reason":null', "")),
        record("GET", "/api/orders/status?ticket=x", 200, STATUS[:-1] + ',"extra":1}'),
        record("GET", "/api/orders/status?ticket=x", 200, STATUS.replace(".123Z", "")),
        record("GET", "/api/orders/status?ticket=x", 200, STATUS, ctype="text/plain"),
        record("GET", "/api/orders/status?ticket=x", 200, STATUS, headers={"x-request-id": None}),
        record("GET", "/api/orders/status?ticket=x", 401, '{"error":"unauthorized","message":"m"}'),
        record("GET", "/api/orders/status?ticket=x", 401, '{"error":"invalid_ticket"}'),
        record("GET", "/api/orders/status?ticket=x", 429, '{"error":"too_many_requests","message":"m"}'),
        record("GET", "/api/sales/s-1", 200, '{"sale_id":"s-1","item":"x","stock":1,"remaining":1,"state":"open"}'),
        record("DELETE", "/api/sales/s-1", 405, '{"error":"method_not_allowed","message":"m"}', headers={"allow": "GET, POST"}),
        record("GET", "/no/such/path", 200, '{"status":"ok"}'),
        record("GET", "/healthz", 200, "not json"),
    ],
    ids=[
        "undeclared status",
        "wrong type",
        "position null while QUEUED",
        "missing field",
        "undocumented field",
        "bad date-time",
        "undeclared content type",
        "no X-Request-Id",
        "error code of another response",
        "error without message",
        "429 without Retry-After",
        "sale without its times",
        "Allow that is not the path's methods",
        "unknown path answered 200",
        "JSON that is not JSON",
    ],
)
def test_checker_catches_mismatches(bad):
    bad.headers = {k: v for k, v in bad.headers.items() if v is not None}
    assert spec().check(bad), f"no mismatch found in {bad.describe()} {bad.body!r}"


def test_checker_accepts_what_the_spec_says():
    current = spec()
    good = [
        record("GET", "/api/orders/status?ticket=x", 200, STATUS),
        record("HEAD", "/api/orders/status?ticket=x", 200, None),
        record("GET", "/api/orders/status?ticket=x", 429, '{"error":"too_many_requests","message":"m"}',
               headers={"retry-after": "1"}),
        record("DELETE", "/api/sales/s-1", 405, '{"error":"method_not_allowed","message":"m"}', headers={"allow": "GET"}),
        record("GET", "/api/sales/a%2Fb", 400, '{"error":"invalid_request","message":"m"}'),
        record("GET", "/no/such/path", 404, '{"error":"not_found","message":"m"}'),
        record("GET", "/metrics", 200, None, ctype="text/plain; version=0.0.4; charset=utf-8"),
    ]
    for one in good:
        assert current.check(one) == [], one.describe()


def test_checker_checks_events():
    current = spec()

    def event(name, ident, data):
        one = Record("event", "GET", "/api/orders/events?ticket=x")
        one.event, one.event_id, one.body = name, ident, data.encode()
        return one

    assert current.check(event("status", "1", STATUS)) == []
    assert current.check(event("position", None, STATUS)) == []
    assert current.check(event("status", "2", STATUS)), "status id must be the version"
    assert current.check(event("position", "1", STATUS)), "position events have no id"
    assert current.check(event("other", None, STATUS)), "undeclared event"
    assert current.check(event("status", "1", STATUS.replace('"QUEUED"', '"LOST"'))), "bad status"


# --------------------------------------------------------------------------- answers few other tests ask for


def checked_now(request):
    """This test's recorded answers checked now (and taken, so teardown does not report them twice)."""
    records = RECORDER.take(request.node.nodeid)
    return records, check_records(records)


def test_a_tour_of_every_operation_matches_the_spec(server, request):
    """Every operation once, with answers no other test needs; each answer is checked against the spec."""
    sale_id = server.new_sale(stock=1)
    answer = server.accepted(sale_id, unique_id("u"))
    server.wait_for_status(answer["ticket"], "CONFIRMED")
    admin = server.admin_headers()
    calls = [
        ("GET", "/", {}, 200),
        ("GET", "/flashgate-client.js", {}, 200),
        ("GET", "/openapi.yaml", {}, 200),
        ("GET", "/metrics", {}, 200),
        ("HEAD", "/healthz", {}, 200),
        ("HEAD", f"/api/sales/{sale_id}", {}, 200),
        ("GET", f"/api/sales/{sale_id}", {}, 200),
        ("GET", "/api/sales/bad%20id", {}, 400),
        ("GET", f"/api/admin/sales/{sale_id}/stats", {"headers": admin}, 200),
        ("GET", "/api/admin/sales/bad%20id/stats", {"headers": admin}, 400),
        ("GET", f"/api/admin/sales/{unique_id()}/stats", {"headers": admin}, 404),
        ("GET", f"/api/admin/sales/{sale_id}/stats", {"headers": {"Authorization": "Bearer wrong"}}, 401),
        ("POST", f"/api/sales/{unique_id()}/orders", {"json": {"user_id": "u"}}, 404),
        ("POST", f"/api/sales/{sale_id}/orders", {"json": {"user_id": "late"}}, 409),
        ("POST", f"/api/sales/{sale_id}/orders", {"json": {"user_id": "u", "x": 1}}, 400),
        ("GET", "/api/orders/status", {}, 400),
        ("GET", "/api/orders/status", {"params": {"ticket": answer["ticket"], "wait": "0"}}, 200),
        ("GET", "/api/orders/status", {"params": {"ticket": answer["ticket"], "wait": "1", "since": "0"}}, 200),
        ("GET", "/api/orders/status", {"params": {"ticket": answer["ticket"], "wait": "x"}}, 400),
        ("GET", "/api/orders/status", {"params": {"ticket": answer["ticket"][:-2] + "AA"}}, 401),
        ("OPTIONS", "/api/orders/status", {}, 405),
        ("PUT", "/", {}, 405),
        ("GET", "/api/sales/%zz", {}, 400),
        ("GET", "/api/sales/", {}, 404),
        ("GET", "/healthz/", {}, 404),
    ]
    wrong = []
    for method, path, kwargs, status in calls:
        response = server.request(method, path, **kwargs)
        if response.status_code != status:
            wrong.append(f"{method} {path}: {response.status_code}, expected {status}: {response.text[:200]}")
    order_id = answer["order_id"]
    assert_json(server.notify(order_id, "pay-1"), 200)
    assert_json(server.notify(order_id, "pay-1"), 200)
    assert_error(server.notify(order_id, "pay-2"), 409, "order_not_payable")
    assert_error(server.notify("no-such-order", "pay-1"), 404, "order_not_found")
    assert_error(server.notify(order_id, "pay-1", signature="00" * 32), 401, "bad_signature")
    assert_error(server.notify(body=b"[]"), 400, "invalid_request")
    with server.events(answer["ticket"]) as stream:
        events = stream.events_until_eof()
    assert [e.event for e in events] == ["status"], events
    with server.events(answer["ticket"], last_event_id="x") as refused:
        assert refused.status == 400
    records, lines = checked_now(request)
    assert not wrong, "\n".join(wrong)
    assert not lines, report_text(lines)
    assert len(records) >= len(calls) + 8


def test_a_ticket_of_an_order_this_server_does_not_have_is_404(start_server, request):
    """Extension: a genuine ticket (same keys) whose order is unknown here is 404 order_not_found."""
    keys = {"FLASHGATE_TICKET_KEYS": "ab" * 32}
    first = start_server(env=keys)
    ticket = first.accepted(first.new_sale(stock=1), unique_id("u"))["ticket"]
    other = start_server(env=keys)
    assert_error(other.poll(ticket), 404, "order_not_found")
    with other.events(ticket) as stream:
        assert stream.status == 404, stream.status
    _, lines = checked_now(request)
    assert not lines, report_text(lines)


def test_protocol_limit_answers_match_the_spec(server, request):
    """413, 414 and 431 as a client library sees them: JSON errors with an X-Request-Id of their own.

    Each comes right after a good request on the same keep-alive connection, whose
    X-Request-Id must not be repeated on the refusal.
    """
    sale_id = server.new_sale(stock=1)
    refusals = [
        ("POST", f"/api/sales/{sale_id}/orders", {"data": b'{"user_id": "' + b"a" * 20000 + b'"}'}, 413),
        ("GET", "/api/sales/" + "a" * 5000, {}, 414),
        ("GET", "/healthz", {"headers": {"X-Big": "a" * 9000}}, 431),
    ]
    wrong = []
    for method, path, kwargs, status in refusals:
        before = unique_id("before")
        assert_json(server.get("/healthz", headers={"X-Request-Id": before}), 200)
        response = server.request(method, path, **kwargs)
        where = f"{method} {path[:40]}"
        if response.status_code != status:
            wrong.append(f"{where}: {response.status_code}, expected {status}")
        elif response.headers.get("X-Request-Id") in (None, before):
            wrong.append(f"{where} {status}: X-Request-Id {response.headers.get('X-Request-Id')!r} (the request before had {before!r})")
    server.close_sessions()
    _, lines = checked_now(request)
    assert not wrong and not lines, "\n".join(wrong) + "\n" + (report_text(lines) if lines else "")
