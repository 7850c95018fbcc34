"""A fair start (issue #26 item 4): a sale with "admission": "draw".

Intakes during the prequeue and the draw window are ENTERED (no unit held, the
time of the draw in the status); at the end of the window the server draws
with a seed it stores first, the first `stock` become QUEUED with positions,
the rest NOT_DRAWN; later intakes are first-come. The tests check the result
against the audit recipe of docs/architecture.md ("The draw") computed here
from the database (the seed in `draws`, the entrants in `draw_entrants`: the
SQLite file, or PostgreSQL in the distributed deployments),
that every waiter (long polls, event streams, plain polls) hears it, the stock
invariant, and that a crash around the draw redoes nothing. Delivery delays
are measured and printed, never asserted (no wall-clock thresholds).

Every test runs in every deployment (embedded, distributed on Redis, and on
a Redis Cluster); the crash tests SIGKILL the process that draws (the one
process of role all).
"""

import asyncio
import hashlib
import json
import signal
import sqlite3
import statistics
import subprocess
import time
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

import pytest

from flashgate_harness import PG_BIN, assert_error, assert_json, distributed, parse_rfc3339, unique_id, wait_until

HELD = ("QUEUED", "PROCESSING", "CONFIRMED", "PAID")
FAST_CLIENTS = {"FLASHGATE_INTAKE_RATE": "0", "FLASHGATE_POLL_RATE": "0", "FLASHGATE_MAX_WAITERS": "20000",
                "FLASHGATE_MAX_CONNECTIONS_PER_CLIENT": "5000"}


# --------------------------------------------------------------------------- helpers


def stamp(seconds_from_now):
    when = datetime.now(timezone.utc) + timedelta(seconds=seconds_from_now)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def draw_sale_body(stock, starts_in, window="10s", prequeue="5m", **extra):
    return {"sale_id": unique_id("draw"), "item": "fair widget", "stock": stock, "starts_at": stamp(starts_in),
            "admission": "draw", "draw_window": window, "prequeue": prequeue, **extra}


def epoch(text):
    return parse_rfc3339(text).timestamp()


def read_db(server, sql, params=()):
    """Rows of the server's database: its SQLite file, or (distributed) PostgreSQL through psql."""
    if distributed():
        return read_postgres(server, sql, params)
    uri = f"file:{quote(str(Path(server.data_dir) / 'flashgate.db'))}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, timeout=10.0)) as conn:
        return conn.execute(sql, params).fetchall()


def read_postgres(server, sql, params):
    """As sqlite3 answers: ? placeholders, integers as int, NULL as None (the values here are ids and numbers)."""
    for value in params:
        sql = sql.replace("?", "'" + str(value).replace("'", "''") + "'", 1)
    url = server.args[server.args.index("--database") + 1] if "--database" in server.args else server.env["FLASHGATE_DATABASE"]
    result = subprocess.run([str(PG_BIN / "psql"), url, "-XAtq", "-v", "ON_ERROR_STOP=1", "-F", "\x1f",
                             "-c", sql], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr

    def value(text):
        if text == "":  # psql's NULL (no column read here holds an empty text)
            return None
        return int(text) if text.lstrip("-").isdigit() and len(text) < 19 else text

    return [tuple(value(v) for v in line.split("\x1f")) for line in result.stdout.splitlines() if line]


def audit(seed_hex, entrants, stock):
    """docs/architecture.md "The draw": the audit recipe, as written there."""
    seed = bytes.fromhex(seed_hex)
    rank = lambda e: (hashlib.blake2b(e[1].encode(), key=seed, digest_size=16).digest(), e[1].encode(), e[0].encode())
    left, queue = stock, []
    for order_id, buyer, quantity in sorted(entrants, key=rank):
        if quantity <= left:
            queue.append(order_id)
            left -= quantity
    return queue


def audited_draw(server, sale_id, stock):
    """The stored draw (seed, positions by order id) after checking it against the recipe."""
    rows = read_db(server, "SELECT seed, entrants, admitted, drawn_at FROM draws WHERE sale_id = ?", (sale_id,))
    assert len(rows) == 1, rows
    seed, count, admitted, drawn_at = rows[0]
    assert drawn_at is not None, "the draw is applied"
    entrants = read_db(server, "SELECT order_id, user_id, quantity, position FROM draw_entrants WHERE sale_id = ?", (sale_id,))
    assert len(entrants) == count
    queue = audit(seed, [(o, u, q) for o, u, q, _ in entrants], stock)
    positions = {o: p for o, _, _, p in entrants}
    assert {o: i + 1 for i, o in enumerate(queue)} == {o: p for o, p in positions.items() if p is not None}
    assert admitted == len(queue)
    return seed, positions


def assert_stock_invariant(server, sale_id):
    stats = server.stats(sale_id)
    assert stats["remaining"] >= 0
    assert stats["remaining"] + sum(stats["units"][s] for s in HELD) == stats["stock"], stats
    return stats


async def http(reader, writer, method, path, body=None):
    """One request on a kept-alive connection: (status, parsed JSON body)."""
    data = b"" if body is None else json.dumps(body).encode()
    head = f"{method} {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {len(data)}\r\n"
    if body is not None:
        head += "Content-Type: application/json\r\n"
    writer.write(head.encode() + b"\r\n" + data)
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    return status, json.loads(await reader.readexactly(length)) if length else None


async def enter_crowd(server, sale_id, users, connections=48):
    """Intakes of every user over `connections` kept-alive connections: {user: intake answer}."""
    answers = {}
    todo = list(users)

    async def worker():
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            while todo:
                user = todo.pop()
                status, body = await http(reader, writer, "POST", f"/api/sales/{sale_id}/orders", {"user_id": user})
                assert status == 202, (status, body)
                answers[user] = body
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return answers


async def long_poll_until_drawn(server, ticket, seen):
    """Long polls (wait 30 s, since the version known) until the status is not ENTERED."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        version = 1
        while True:
            status, body = await http(reader, writer, "GET", f"/api/orders/status?ticket={ticket}&wait=30&since={version}")
            assert status == 200, (status, body)
            if body["status"] != "ENTERED":
                seen[body["order_id"]] = (time.time(), body)
                return
            version = body["version"]
    finally:
        writer.close()


async def stream_until_drawn(server, ticket, seen):
    """An event stream, read until a status event that is not ENTERED."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(f"GET /api/orders/events?ticket={ticket} HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n\r\n".encode())
        status_line = await reader.readline()
        assert b" 200 " in status_line, status_line
        while (line := await reader.readline()) != b"":
            if line.startswith(b"data:"):
                body = json.loads(line[5:])
                if body.get("status") not in (None, "ENTERED"):
                    seen[body["order_id"]] = (time.time(), body)
                    return
        raise AssertionError("the stream ended before the draw's result")
    finally:
        writer.close()


async def poll_until_drawn(server, tickets, seen, connections=16):
    """Plain polls of every ticket, each asked again after its poll_after_ms until drawn."""
    todo = list(tickets)

    async def worker():
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            while todo:
                ticket = todo.pop()
                while True:
                    status, body = await http(reader, writer, "GET", f"/api/orders/status?ticket={ticket}")
                    assert status == 200, (status, body)
                    if body["status"] != "ENTERED":
                        seen[body["order_id"]] = (time.time(), body)
                        break
                    await asyncio.sleep(min(body["poll_after_ms"], 1000) / 1000)
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))


def summary(delays):
    delays = sorted(delays)
    pick = lambda q: delays[min(len(delays) - 1, int(q * len(delays)))]
    return f"n={len(delays)} p50={pick(0.5) * 1000:.0f} ms p99={pick(0.99) * 1000:.0f} ms max={delays[-1] * 1000:.0f} ms"


# --------------------------------------------------------------------------- sale creation


def test_a_draw_sale_shows_its_admission_and_bad_settings_are_refused(server):
    body = draw_sale_body(5, 120, window=10, prequeue="5m")
    sale = assert_json(server.create_sale(body), 201)
    assert sale["admission"] == "draw"
    assert sale["draw_window_ms"] == 10_000
    assert sale["prequeue_ms"] == 300_000
    starts = epoch(sale["starts_at"])
    assert epoch(sale["draw_at"]) == pytest.approx(starts + 10, abs=0.002)
    assert epoch(sale["entry_opens_at"]) == pytest.approx(starts - 300, abs=0.002)
    assert server.sale(body["sale_id"]) == sale
    # A first-come sale's object is as it was.
    plain = server.sale(server.new_sale(stock=1))
    assert "admission" not in plain and "draw_at" not in plain

    bad = [
        {"admission": "lottery"},
        {"draw_window": 0},
        {"draw_window": "2h"},
        {"draw_window": "ten seconds"},
        {"draw_window": -5},
        {"draw_window": 1.5},
        {"prequeue": "25h"},
        {"starts_at": None},
        {"ends_at": stamp(125)},  # before the draw at starts_at + 10 s
        {"admission": "first_come"},  # a window and a prequeue on a first-come sale
    ]
    for change in bad:
        refused = {**draw_sale_body(5, 120), **change}
        if refused.get("starts_at") is None:
            refused.pop("starts_at")
        if "ends_at" in change:
            refused["starts_at"] = stamp(120)
        assert_error(server.create_sale(refused), 400, "invalid_request")
        assert_error(server.get_sale(refused["sale_id"]), 404, "sale_not_found")


def test_a_draw_sale_with_more_than_one_bucket_is_refused(server):
    # The draw ranks all of a sale's entrants in one set: buckets would split them.
    for buckets in (2, 64):
        refused = draw_sale_body(5, 120, buckets=buckets)
        body = assert_error(server.create_sale(refused), 400, "invalid_request")
        assert "buckets" in body["message"] and "draw" in body["message"], body
        assert_error(server.get_sale(refused["sale_id"]), 404, "sale_not_found")
    one = assert_json(server.create_sale(draw_sale_body(5, 120, buckets=1)), 201)
    assert one["admission"] == "draw"


def test_before_the_prequeue_the_sale_is_not_open_and_during_it_buyers_enter(server):
    early = draw_sale_body(5, 3600, prequeue="5m")
    assert_json(server.create_sale(early), 201)
    assert_error(server.buy(early["sale_id"], "too-early"), 403, "sale_not_open")

    body = draw_sale_body(5, 120, prequeue="5m")
    sale = assert_json(server.create_sale(body), 201)
    entered = assert_json(server.buy(body["sale_id"], "alice"), 202)
    assert entered["status"] == "ENTERED"
    assert entered["position"] is None
    assert entered["draw_at"] == sale["draw_at"]
    assert entered["poll_after_ms"] > 100_000  # asked back at the draw, two minutes away
    again = assert_json(server.buy(body["sale_id"], "alice"), 200)
    assert again["order_id"] == entered["order_id"]
    status = server.status(entered["ticket"])
    assert status["status"] == "ENTERED" and status["draw_at"] == sale["draw_at"]
    stats = assert_stock_invariant(server, body["sale_id"])
    assert stats["remaining"] == 5
    assert stats["counts"]["ENTERED"] == 1 and stats["units"]["ENTERED"] == 1


# --------------------------------------------------------------------------- the draw


@pytest.mark.slow
def test_ten_thousand_entrants_all_hear_the_draw_and_the_stock_holds(start_server):
    srv = start_server(env={**FAST_CLIENTS, "FLASHGATE_SERVICE_TIME": "50ms"})
    entrants, stock, waiting = 10_000, 2_000, 1_000
    users = [f"u{i:05d}" for i in range(entrants)]
    # Entry opens now; the draw is a little after every entrant is in (measured on this machine first).
    started = time.monotonic()
    probe = draw_sale_body(1, 3600, prequeue="2h")
    assert_json(srv.create_sale(probe), 201)
    asyncio.run(enter_crowd(srv, probe["sale_id"], [f"p{i}" for i in range(500)]))
    per_entrant = (time.monotonic() - started) / 500
    lead = 4 + per_entrant * entrants * 3
    body = draw_sale_body(stock, lead - 1, window="1s", prequeue="1h")
    sale = assert_json(srv.create_sale(body), 201)
    sale_id, draw_at = body["sale_id"], epoch(sale["draw_at"])

    entered_at = time.monotonic()
    answers = asyncio.run(enter_crowd(srv, sale_id, users))
    print(f"\n{entrants} entrants in {time.monotonic() - entered_at:.1f} s; the draw in {draw_at - time.time():.1f} s")
    assert time.time() < draw_at, "the crowd took longer than planned: no entrant may come after the draw"
    assert all(a["status"] == "ENTERED" for a in answers.values())
    stats = assert_stock_invariant(srv, sale_id)
    assert stats["counts"]["ENTERED"] == entrants and stats["remaining"] == stock

    tickets = [answers[u]["ticket"] for u in users]
    seen = {}

    async def everyone():
        # Long polls and streams open before the draw (at most 30 s of wait each, asked again if it runs out).
        waiters = [long_poll_until_drawn(srv, t, seen) for t in tickets[: waiting // 2]]
        waiters += [stream_until_drawn(srv, t, seen) for t in tickets[waiting // 2 : waiting]]
        tasks = [asyncio.ensure_future(w) for w in waiters]
        await asyncio.sleep(max(0.0, draw_at - time.time()))
        await poll_until_drawn(srv, tickets[waiting:], seen)
        await asyncio.gather(*tasks)

    asyncio.run(everyone())
    assert len(seen) == entrants

    seed, positions = audited_draw(srv, sale_id, stock)
    drawn_at = read_db(srv, "SELECT drawn_at FROM draws WHERE sale_id = ?", (sale_id,))[0][0] / 1000
    waiters = [seen[answers[u]["order_id"]][0] for u in users[:waiting]]
    print(f"long polls and streams heard the draw after its window: {summary([t - draw_at for t in waiters])}; "
          f"after the result was computed (drawn_at; its commit and publication follow): {summary([max(0.0, t - drawn_at) for t in waiters])}")
    not_drawn = 0
    for user in users:
        order_id = answers[user]["order_id"]
        _, status = seen[order_id]
        if positions[order_id] is None:
            assert status["status"] == "NOT_DRAWN", status
            not_drawn += 1
        else:
            assert status["status"] in HELD, status  # QUEUED, or already on its way through the windows
            if status["status"] == "QUEUED":
                assert status["position"] <= positions[order_id]
    assert not_drawn == entrants - stock

    stats = assert_stock_invariant(srv, sale_id)
    assert stats["counts"]["NOT_DRAWN"] == entrants - stock and stats["counts"]["ENTERED"] == 0
    # A latecomer is first-come, behind the drawn; sold out here.
    assert_error(srv.buy(sale_id, "latecomer"), 409, "sold_out")
    # A NOT_DRAWN buyer's hold is gone: they may try again first-come (sold out too).
    loser = next(u for u in users if positions[answers[u]["order_id"]] is None)
    assert_error(srv.buy(sale_id, loser), 409, "sold_out")


def kill(server):
    server.close_sessions()
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(timeout=10)
    server.killed = True
    server.stopped_at = time.time()


@pytest.mark.parametrize("moment", ["just after the result", "at the end of the window"])
def test_a_crash_around_the_draw_redoes_nothing(start_server, moment):
    srv = start_server(env={**FAST_CLIENTS, "FLASHGATE_SERVICE_TIME": "200ms"})
    entrants, stock = 400, 60
    body = draw_sale_body(stock, 4, window="1s", prequeue="1h")
    sale = assert_json(srv.create_sale(body), 201)
    sale_id, draw_at = body["sale_id"], epoch(sale["draw_at"])
    users = [f"k{i:04d}" for i in range(entrants)]
    answers = asyncio.run(enter_crowd(srv, sale_id, users, connections=16))
    assert time.time() < draw_at
    first = answers[users[0]]

    told = None
    if moment == "just after the result":
        status = assert_json(srv.poll(first["ticket"], wait=30, since=1), 200)
        assert status["status"] != "ENTERED"
        told = status["status"]
        seed_before, positions_before = audited_draw(srv, sale_id, stock)
    else:
        time.sleep(max(0.0, draw_at - time.time()))
    kill(srv)
    srv.start()
    assert srv.wait_ready()

    def drawn():
        return read_db(srv, "SELECT drawn_at FROM draws WHERE sale_id = ? AND drawn_at IS NOT NULL", (sale_id,))

    wait_until(drawn, message="the draw applied after the restart")
    seed, positions = audited_draw(srv, sale_id, stock)
    if told is not None:
        assert seed == seed_before and positions == positions_before, "the same seed, the same result"
        again = srv.status(first["ticket"])
        assert (again["status"] == "NOT_DRAWN") == (told == "NOT_DRAWN")
    assert len(read_db(srv, "SELECT 1 FROM draw_entrants WHERE sale_id = ?", (sale_id,))) == entrants
    if distributed():
        # NOT_DRAWN is final: each reaches PostgreSQL's orders through the outcome stream, once.
        def not_drawn_rows():
            rows = read_db(srv, "SELECT order_id FROM orders WHERE sale_id = ? AND status = 'NOT_DRAWN'", (sale_id,))
            return {r[0] for r in rows} if len(rows) == entrants - stock else None

        mirrored = wait_until(not_drawn_rows, timeout=60, message="every NOT_DRAWN order in PostgreSQL")
        assert mirrored == {o for o, p in positions.items() if p is None}
    else:
        # Every entrant's journal row agrees with the draw: drawn ones hold units, the rest NOT_DRAWN.
        rows = dict(read_db(srv, "SELECT order_id, status FROM intakes WHERE sale_id = ?", (sale_id,)))
        for order_id, position in positions.items():
            assert (rows[order_id] == "NOT_DRAWN") == (position is None), (order_id, rows[order_id], position)
    # Every entrant's status agrees with the draw.
    for user in users:
        status = srv.status(answers[user]["ticket"])["status"]
        assert (status == "NOT_DRAWN") == (positions[answers[user]["order_id"]] is None), (user, status)
    stats = assert_stock_invariant(srv, sale_id)
    assert stats["counts"]["NOT_DRAWN"] == entrants - stock


def archive_when_recorded(srv, sale_id):
    """The admin archive of a settled sale; distributed, the outcome mirror may still be writing the
    last payments to PostgreSQL, and the call answers 503 unavailable (changing nothing) until it has."""
    def attempt():
        response = srv.post(f"/api/admin/sales/{sale_id}/archive", headers=srv.admin_headers())
        if response.status_code == 503:
            assert_error(response, 503, "unavailable")
            return None
        return assert_json(response, 200)
    return wait_until(attempt, timeout=60, interval=0.2, message="the archive (every outcome in the database)")


def test_a_drawn_sale_settles_and_its_archive_keeps_the_draws_counts(start_server):
    srv = start_server(env=FAST_CLIENTS)
    entrants, stock = 20, 5
    body = draw_sale_body(stock, 2, window="1s", prequeue="1h")
    sale = assert_json(srv.create_sale(body), 201)
    sale_id = body["sale_id"]
    answers = asyncio.run(enter_crowd(srv, sale_id, [f"a{i:02d}" for i in range(entrants)], connections=4))
    assert time.time() < epoch(sale["draw_at"])
    # An ENTERED order keeps the sale from being archived.
    assert_error(srv.post(f"/api/admin/sales/{sale_id}/archive", headers=srv.admin_headers()), 409, "sale_active")
    finals = {}
    for answer in answers.values():
        status = srv.wait_for_status(answer["ticket"], ("CONFIRMED", "NOT_DRAWN"))
        finals[answer["order_id"]] = status["status"]
    assert list(finals.values()).count("CONFIRMED") == stock
    for order_id, status in finals.items():
        if status == "CONFIRMED":
            srv.pay(order_id)
    archived = archive_when_recorded(srv, sale_id)
    assert archived["counts"]["NOT_DRAWN"] == entrants - stock and archived["counts"]["PAID"] == stock
    stats = srv.stats(sale_id)
    assert stats["counts"]["NOT_DRAWN"] == entrants - stock and stats["units"]["NOT_DRAWN"] == entrants - stock
    assert stats["counts"]["ENTERED"] == 0 and stats["remaining"] == 0
    audited_draw(srv, sale_id, stock)  # the draw's record outlives the sale's orders in memory


@pytest.mark.skipif(not distributed(), reason="PostgreSQL keeps the distributed deployment's draws")
def test_no_result_before_the_seed_is_in_postgresql_and_newcomers_wait_meanwhile(start_server):
    srv = start_server(env=FAST_CLIENTS)
    body = draw_sale_body(2, 1, window="1s", prequeue="1h")
    sale = assert_json(srv.create_sale(body), 201)
    sale_id, draw_at = body["sale_id"], epoch(sale["draw_at"])
    entrants = {u: assert_json(srv.buy(sale_id, u), 202) for u in ("e1", "e2", "e3")}
    assert time.time() < draw_at
    url = srv.args[srv.args.index("--database") + 1] if "--database" in srv.args else srv.env["FLASHGATE_DATABASE"]
    # A session that holds `draws` locked: the drawer's seed cannot be written, so no result may exist.
    locker = subprocess.Popen([str(PG_BIN / "psql"), url, "-X", "-v", "ON_ERROR_STOP=1"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        locker.stdin.write("BEGIN;\nLOCK TABLE draws IN ACCESS EXCLUSIVE MODE;\n\\echo locked\n")
        locker.stdin.flush()
        while (line := locker.stdout.readline()) and line.strip() != "locked":
            pass
        assert line.strip() == "locked", "psql did not take the lock"
        time.sleep(max(0.0, draw_at - time.time()))
        # After the window, until the result is applied: a newcomer waits (503, Retry-After), an entrant gets its order.
        refused = srv.buy(sale_id, "newcomer")
        assert_error(refused, 503, "unavailable")
        assert refused.headers["Retry-After"] == "1"
        again = assert_json(srv.buy(sale_id, "e1"), 200)
        assert again["order_id"] == entrants["e1"]["order_id"] and again["status"] == "ENTERED"
        assert all(srv.status(a["ticket"])["status"] == "ENTERED" for a in entrants.values())
    finally:
        locker.stdin.write("COMMIT;\n\\q\n")
        locker.stdin.close()
        locker.wait(timeout=30)
    results = [srv.wait_for_status(a["ticket"], ("QUEUED", "PROCESSING", "CONFIRMED", "NOT_DRAWN")) for a in entrants.values()]
    assert sorted(r["status"] == "NOT_DRAWN" for r in results) == [False, False, True]
    audited_draw(srv, sale_id, 2)


@pytest.mark.skipif(not distributed(), reason="several workers share one store only in the distributed deployment")
def test_two_workers_make_one_draw_between_them(start_server):
    first = start_server(env={**FAST_CLIENTS, "FLASHGATE_SERVICE_TIME": "100ms"})
    second = start_server(env={**FAST_CLIENTS, "FLASHGATE_SERVICE_TIME": "100ms"}, data_dir=first.data_dir)
    entrants, stock = 300, 40
    body = draw_sale_body(stock, 3, window="1s", prequeue="1h")
    sale = assert_json(first.create_sale(body), 201)
    sale_id, draw_at = body["sale_id"], epoch(sale["draw_at"])
    users = [f"w{i:03d}" for i in range(entrants)]
    # Half the crowd through each process: one sale, one entrant set.
    answers = asyncio.run(enter_crowd(first, sale_id, users[::2], connections=8))
    answers.update(asyncio.run(enter_crowd(second, sale_id, users[1::2], connections=8)))
    assert time.time() < draw_at
    results = {u: second.wait_for_status(answers[u]["ticket"], ("QUEUED", "PROCESSING", "CONFIRMED", "NOT_DRAWN"))
               for u in users}
    seed, positions = audited_draw(first, sale_id, stock)
    for user in users:
        assert (results[user]["status"] == "NOT_DRAWN") == (positions[answers[user]["order_id"]] is None), user
    stats = assert_stock_invariant(first, sale_id)
    assert stats["counts"]["NOT_DRAWN"] == entrants - stock and stats["counts"]["ENTERED"] == 0
    # Each process may have drawn; every change was made once (the versions count them).
    assert all(r["version"] == 2 for r in results.values() if r["status"] in ("QUEUED", "NOT_DRAWN"))
    print(f"\ndraws completed over both processes (one log file): {first.logs().count(f'draw of sale {sale_id}:')}")
