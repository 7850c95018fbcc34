"""Durability: crashes, graceful shutdown, stock flush, restarts, a full disk, a locked database.

Every test starts its own servers on its own data dir (the embedded default:
SQLite at <data dir>/flashgate.db) and looks into the SQLite file read-only to
check what survived:

- orders(order_id, sale_id, user_id, status, ...): the system of record, one row
  per order a window created;
- intakes(order_id, sale_id, user_id, seq, status, version, ...): the journal of
  accepted orders;
- sales(sale_id, ..., remaining_db): the flushed stock.
"""

import random
import resource
import signal
import sqlite3
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from flashgate_harness import assert_error, assert_json, unique_id, wait_until

# SQLite in the data dir, read directly, and the one process that owns it (crashed,
# restarted, starved of disk): the distributed deployment's counterparts (a worker
# killed, Redis and PostgreSQL restarted) are in test_distributed.py.
pytestmark = pytest.mark.embedded_only(reason="reads <data dir>/flashgate.db and crashes the one process that owns it")

HELD = ("QUEUED", "PROCESSING", "CONFIRMED", "PAID")  # statuses that hold a unit of stock
CLIENT_TIMEOUT = 5.0


# --------------------------------------------------------------------------- helpers


def db_path(data_dir):
    return Path(data_dir) / "flashgate.db"


def read_db(data_dir, sql, params=()):
    """Rows of a query on the server's SQLite file, opened read-only (works while it runs: WAL)."""
    uri = f"file:{quote(str(db_path(data_dir)))}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, timeout=10.0)) as conn:
        return conn.execute(sql, params).fetchall()


def kill(server):
    """SIGKILL: a crash, nothing flushed, nothing answered."""
    server.close_sessions()
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(timeout=10)
    server.killed = True
    server.stopped_at = time.time()


def terminate(server, timeout=15.0):
    """SIGTERM and the exit code; fails if the process is still running after timeout seconds."""
    server.close_sessions()
    server.proc.send_signal(signal.SIGTERM)
    try:
        code = server.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"flashgate :{server.port} still running {timeout}s after SIGTERM")
    server.stopped_at = time.time()
    return code


def held(stats):
    return sum(stats["counts"][s] for s in HELD)


def in_flight(stats):
    return stats["counts"]["QUEUED"] + stats["counts"]["PROCESSING"]


def fresh_buy(base_url, sale_id, user_id, timeout=CLIENT_TIMEOUT):
    """One purchase on a fresh connection (no keep-alive): survives the server being replaced."""
    return requests.post(
        f"{base_url}/api/sales/{quote(sale_id, safe='')}/orders",
        json={"user_id": user_id},
        headers={"Connection": "close"},
        timeout=timeout,
    )


def retry_after(response, default=0.1):
    try:
        return min(max(float(response.headers.get("Retry-After", default)), 0.01), 1.0)
    except ValueError:
        return default


def wait_all_status(server, tickets, wanted, timeout=30.0):
    """Poll every ticket (order_id -> ticket) until its order reaches `wanted`; returns the statuses."""
    pending = dict(tickets)
    seen = {}

    def done():
        for order_id, ticket in list(pending.items()):
            status = server.status(ticket)
            assert status["order_id"] == order_id, (order_id, status)
            assert status["status"] not in ("FAILED", "CANCELLED"), status
            seen[order_id] = status
            if status["status"] == wanted:
                del pending[order_id]
        return not pending

    wait_until(done, timeout=timeout, interval=0.1, message=f"every order {wanted} (left: {len(pending)})")
    return seen


def drained(server, sale_id, timeout=30.0):
    def ok():
        stats = server.stats(sale_id)
        return stats if in_flight(stats) == 0 else None

    return wait_until(ok, timeout=timeout, interval=0.1, message="QUEUED + PROCESSING == 0")


class Target:
    """The current base URL of a server that is being killed and restarted."""

    def __init__(self, server):
        self._lock = threading.Lock()
        self._url = server.base_url
        self._epoch = 0

    def set(self, server):
        with self._lock:
            self._url = server.base_url
            self._epoch += 1

    def get(self):
        with self._lock:
            return self._url, self._epoch


# --------------------------------------------------------------------------- 1. crash loop


CRASH_STOCK = 150
CRASH_CROWD = 600
CRASH_WORKERS = 48
CRASH_SPACING = 0.008  # seconds between two users' first attempts (the crowd arrives over ~5 s)
CRASH_KILLS = 3
CRASH_RETRY_FOR = 25.0  # a user keeps retrying connection errors for at most this long


def test_crash_loop_loses_no_accepted_order_and_creates_none_twice(start_server):
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    print(f"crash loop seed {seed}")
    env = {"FLASHGATE_SERVICE_TIME": "10ms", "FLASHGATE_WINDOWS": "2"}
    first = start_server(env=env)
    data_dir = first.data_dir
    sale_id = first.new_sale(stock=CRASH_STOCK, item="crash widget")
    target = Target(first)
    users = [unique_id(f"crash{i}") for i in range(CRASH_CROWD)]
    abort = threading.Event()  # set when the test fails early: the crowd goes home
    t0 = time.monotonic() + 0.1

    def one_user(index):
        """Every attempt of one user: ("error", exception name, epoch) or ("answer", code, body, epoch)."""
        user = users[index]
        delay = t0 + index * CRASH_SPACING - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        attempts = []
        deadline = time.monotonic() + CRASH_RETRY_FOR
        while True:
            if abort.is_set():
                return attempts + [("error", "aborted", -1)]
            base, epoch = target.get()
            try:
                response = fresh_buy(base, sale_id, user)
            except requests.RequestException as exc:
                attempts.append(("error", type(exc).__name__, epoch))
                if time.monotonic() > deadline:
                    return attempts
                time.sleep(0.05 + rng.random() * 0.1)
                continue
            try:
                body = response.json()
            except ValueError:
                body = {"raw": response.text[:300]}
            attempts.append(("answer", response.status_code, body, epoch))
            if response.status_code in (429, 503) and time.monotonic() < deadline:
                time.sleep(retry_after(response))
                continue
            return attempts

    current = first
    with ThreadPoolExecutor(max_workers=CRASH_WORKERS) as pool:
        futures = [pool.submit(one_user, i) for i in range(CRASH_CROWD)]
        try:
            time.sleep(max(0.0, t0 - time.monotonic()))
            for _ in range(CRASH_KILLS):
                time.sleep(rng.uniform(0.2, 1.0))
                kill(current)
                current = start_server(env=env, data_dir=data_dir)
                target.set(current)
        except BaseException:
            abort.set()
            raise
        history = {users[i]: f.result() for i, f in enumerate(futures)}

    # What the clients were told.
    answered = {}  # order_id -> (user, ticket, epoch)
    user_order = {}  # user -> order_id of its 202/200 answers
    sold_out_users, errored_users, odd = set(), set(), []
    for user, attempts in history.items():
        if any(a[0] == "error" for a in attempts):
            errored_users.add(user)
        for attempt in attempts:
            if attempt[0] != "answer":
                continue
            _, code, body, epoch = attempt
            if code in (200, 202):
                order_id = body["order_id"]
                assert body["sale_id"] == sale_id, body
                if code == 200:
                    # only a user whose earlier attempt may have been cut by a kill can already hold an order
                    assert user in errored_users or user in user_order, (user, attempts)
                if user in user_order:
                    assert user_order[user] == order_id, f"user {user} was given two orders: {attempts}"
                user_order[user] = order_id
                if order_id in answered:
                    assert answered[order_id][0] == user, f"order {order_id} given to two users"
                else:
                    answered[order_id] = (user, body["ticket"], epoch)
            elif code == 409:
                assert body.get("error") == "sold_out", (user, attempts)
                sold_out_users.add(user)
            elif code not in (429, 503):
                odd.append((user, attempt))
    assert not odd, f"unexpected answers: {odd[:5]}"
    assert len(set(user_order.values())) == len(user_order), "two users share an order"
    gave_up = [u for u, a in history.items() if a[-1][0] == "error"]
    assert not gave_up, f"{len(gave_up)} users never reached a server within {CRASH_RETRY_FOR}s"
    assert answered, "no order was accepted"
    assert {e for _, _, e in answered.values()} & {0}, "no order was accepted before the first kill"
    per_epoch = {}
    for _, _, epoch in answered.values():
        per_epoch[epoch] = per_epoch.get(epoch, 0) + 1
    repeats = sum(1 for a in history.values() for x in a if x[0] == "answer" and x[1] == 200)
    print(
        f"answered {len(answered)} orders (per server {dict(sorted(per_epoch.items()))}), {repeats} answered 200 "
        f"after a cut attempt, {len(sold_out_users)} sold out, {len(errored_users)} users saw a connection error"
    )

    # The last server drains the queue and every answered order is CONFIRMED, old tickets included.
    stats = drained(current, sale_id)
    wait_all_status(current, {o: t for o, (_, t, _) in answered.items()}, "CONFIRMED")
    stats = current.stats(sale_id)
    assert stats["remaining"] + held(stats) == CRASH_STOCK, stats
    assert stats["counts"]["FAILED"] == 0 and stats["counts"]["CANCELLED"] == 0, stats
    assert stats["remaining"] == 0, f"{CRASH_CROWD} users for {CRASH_STOCK} units, yet stock is left: {stats}"
    wait_until(lambda: current.stats(sale_id)["remaining_db"] == 0, timeout=5.0, message="remaining_db == remaining")

    assert terminate(current) == 0
    assert read_db(data_dir, "SELECT remaining_db FROM sales WHERE sale_id = ?", (sale_id,)) == [(0,)]

    rows = read_db(data_dir, "SELECT order_id, user_id, status FROM orders WHERE sale_id = ?", (sale_id,))
    duplicates = read_db(data_dir, "SELECT order_id, COUNT(*) FROM orders GROUP BY order_id HAVING COUNT(*) > 1")
    assert duplicates == [], f"orders created twice: {duplicates[:5]}"
    per_order = {}
    for order_id, user, status in rows:
        per_order.setdefault(order_id, []).append((user, status))
    missing = [o for o in answered if o not in per_order]
    assert not missing, f"{len(missing)} orders answered 202/200 are not in the orders table: {missing[:5]}"
    for order_id, (user, _, _) in answered.items():
        assert per_order[order_id] == [(user, "CONFIRMED")], (order_id, per_order[order_id])
    per_user = {}
    for order_id, user, _ in rows:
        per_user.setdefault(user, []).append(order_id)
    two = {u: o for u, o in per_user.items() if len(o) > 1}
    assert not two, f"users with two orders: {list(two.items())[:5]}"
    assert len(rows) <= CRASH_STOCK
    assert len(rows) == stats["counts"]["CONFIRMED"], (len(rows), stats)
    for order_id, user, _ in rows:
        if order_id in answered:
            continue
        # committed while its answer was lost in a kill: only a user who saw a connection error,
        # and that user must not have been told anything else afterwards
        assert user in errored_users, f"order {order_id} of user {user} was never answered and its client saw no error"
        assert user not in user_order, f"user {user} holds {order_id} but was answered {user_order[user]}"
        assert user not in sold_out_users, f"user {user} holds {order_id} but was told sold_out"
    told_sold_out_but_hold = sold_out_users & {u for _, u, _ in rows}
    assert not told_sold_out_but_hold, f"users told sold_out hold an order: {sorted(told_sold_out_but_hold)[:5]}"
    journal = dict(read_db(data_dir, "SELECT order_id, user_id FROM intakes WHERE sale_id = ?", (sale_id,)))
    assert all(journal.get(o) == u for o, (u, _, _) in answered.items())


# --------------------------------------------------------------------------- 2. SIGTERM under load


TERM_STOCK = 5000
TERM_CROWD = 400
TERM_WORKERS = 32
TERM_SPACING = 0.004


def test_sigterm_under_load_exits_cleanly_and_keeps_every_accepted_order(start_server):
    env = {"FLASHGATE_SERVICE_TIME": "20ms", "FLASHGATE_WINDOWS": "2"}
    srv = start_server(env=env)
    data_dir = srv.data_dir
    sale_id = srv.new_sale(stock=TERM_STOCK, item="term widget")
    base = srv.base_url

    # an order whose status will not change any more, watched by a long poll and an event stream
    watched_sale = srv.new_sale(stock=1, item="watched widget")
    watched = srv.accepted(watched_sale, unique_id("watched"))
    version = srv.wait_for_status(watched["ticket"], "CONFIRMED")["version"]
    long_poll = {}

    def wait_long():
        try:
            response = requests.get(
                f"{base}/api/orders/status",
                params={"ticket": watched["ticket"], "wait": 25, "since": version},
                timeout=20.0,
            )
            long_poll["answer"] = (response.status_code, response.text, time.monotonic())
        except requests.RequestException as exc:
            long_poll["answer"] = ("error", repr(exc), time.monotonic())

    poller = threading.Thread(target=wait_long, daemon=True)
    poller.start()
    stream = srv.events(watched["ticket"], timeout=20.0)
    assert stream.status == 200
    first = stream.next_status_event(timeout=5.0)
    assert first is not None and first.json()["status"] == "CONFIRMED", first
    signalled = threading.Event()
    signal_at = [None]
    users = [unique_id(f"term{i}") for i in range(TERM_CROWD)]
    t0 = time.monotonic() + 0.1

    def one_user(index):
        delay = t0 + index * TERM_SPACING - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        sent_after = signalled.is_set()
        try:
            response = fresh_buy(base, sale_id, users[index])
        except requests.RequestException as exc:
            return ("error", type(exc).__name__, sent_after, time.monotonic())
        try:
            body = response.json()
        except ValueError:
            body = {"raw": response.text[:300]}
        return ("answer", response.status_code, body, time.monotonic(), dict(response.headers))

    with ThreadPoolExecutor(max_workers=TERM_WORKERS) as pool:
        futures = [pool.submit(one_user, i) for i in range(TERM_CROWD)]
        time.sleep(max(0.0, t0 - time.monotonic()) + 0.6)
        signal_at[0] = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        signalled.set()
        try:
            code = srv.proc.wait(timeout=15.0)
        except subprocess.TimeoutExpired:
            pytest.fail("flashgate still running 15 s after SIGTERM under load")
        exited_at = time.monotonic()
        results = dict(zip(users, (f.result() for f in futures)))
    srv.stopped_at = time.time()
    assert code == 0, f"exit code {code} after SIGTERM"
    print(f"exit {exited_at - signal_at[0]:.2f}s after SIGTERM")

    poller.join(timeout=10.0)
    assert "answer" in long_poll, "the long poll was not answered"
    status_code, text, _ = long_poll["answer"]
    assert status_code == 200, f"long poll open at SIGTERM: {status_code} {text[:300]}"
    try:
        rest = stream.events_until_eof(timeout=5.0)
    except OSError as exc:
        pytest.fail(f"event stream open at SIGTERM was not closed cleanly: {exc!r}")
    finally:
        stream.close()
    assert all(ev.event != "status" or ev.json()["status"] == "CONFIRMED" for ev in rest), rest

    accepted, refused, odd = {}, set(), []
    for user, result in results.items():
        if result[0] == "error":
            # refused connection after the signal (or cut at the exit): never before the signal
            assert result[3] >= signal_at[0], f"{user}: {result[1]} before SIGTERM"
            continue
        _, status, body, at, headers = result
        if status == 202:
            accepted[body["order_id"]] = (user, body["ticket"])
        elif status == 503 and body.get("error") == "shutting_down" and at >= signal_at[0]:
            assert isinstance(body.get("message"), str) and body["message"], body
            refused.add(user)
        else:
            odd.append((user, status, body, at - signal_at[0]))
    assert not odd, f"answers other than 202 / 503 shutting_down after SIGTERM: {odd[:5]}"
    assert accepted, "nothing was accepted before SIGTERM"
    print(f"{len(accepted)} accepted, {len(refused)} refused shutting_down")

    journal = dict(read_db(data_dir, "SELECT order_id, user_id FROM intakes WHERE sale_id = ?", (sale_id,)))
    lost = [o for o in accepted if o not in journal]
    assert not lost, f"{len(lost)} orders answered 202 are not in the journal after SIGTERM: {lost[:5]}"
    assert all(journal[o] == u for o, (u, _) in accepted.items())
    created_for_refused = refused & set(journal.values())
    assert not created_for_refused, f"users answered 503 hold an order: {sorted(created_for_refused)[:5]}"

    again = start_server(env=env, data_dir=data_dir)
    wait_all_status(again, {o: t for o, (_, t) in accepted.items()}, "CONFIRMED", timeout=40.0)
    stats = drained(again, sale_id)
    assert sum(stats["counts"].values()) == len(journal), (stats, len(journal))
    assert stats["remaining"] + held(stats) == TERM_STOCK, stats
    for user in list(refused)[:5]:
        assert fresh_buy(again.base_url, sale_id, user).status_code == 202, "a user refused at shutdown can buy again"


# --------------------------------------------------------------------------- 3. stock flush


def test_stock_flush_brings_remaining_db_to_remaining(start_server):
    srv = start_server(env={"FLASHGATE_STOCK_FLUSH": "200ms", "FLASHGATE_PAYMENT_TIMEOUT": "3s"})
    stock = 20
    sale_id = srv.new_sale(stock=stock, item="flush widget")

    def flushed(expected):
        stats = srv.stats(sale_id)
        return stats if stats["remaining"] == expected and stats["remaining_db"] == expected else None

    def check(expected, message):
        stats = wait_until(lambda: flushed(expected), timeout=5.0, message=f"{message}: remaining_db == remaining == {expected}")
        assert stats["remaining"] + held(stats) == stock, stats
        rows = read_db(srv.data_dir, "SELECT remaining_db FROM sales WHERE sale_id = ?", (sale_id,))
        assert rows == [(expected,)], f"{message}: sales.remaining_db in SQLite is {rows}, expected {expected}"

    check(stock, "a new sale")
    tickets = [srv.accepted(sale_id, unique_id("flush"))["ticket"] for _ in range(5)]
    check(stock - 5, "after 5 orders")
    # the units come back when the orders are not paid in time, and the flush follows
    for ticket in tickets:
        srv.wait_for_status(ticket, "CANCELLED", timeout=15.0)
    check(stock, "after 5 cancellations")
    srv.accepted(sale_id, unique_id("flush"))
    check(stock - 1, "after one more order")


# --------------------------------------------------------------------------- 4. restart


def snapshot(server, sale_ids, tickets):
    sales = {s: server.sale(s) for s in sale_ids}
    stats = {s: {k: v for k, v in server.stats(s).items() if k != "remaining_db"} for s in sale_ids}
    statuses = {}
    for order_id, ticket in tickets.items():
        status = server.status(ticket)
        statuses[order_id] = {k: status.get(k) for k in ("order_id", "sale_id", "status", "version", "reason")}
    return sales, stats, statuses


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_restart_keeps_sales_orders_tickets_and_the_one_order_rule(start_server, how):
    srv = start_server()
    data_dir = srv.data_dir
    open_sale = srv.new_sale(stock=10, item="restart widget")
    later = srv.new_sale(stock=3, item="upcoming widget", starts_at="2099-01-01T00:00:00.000Z",
                         ends_at="2099-01-02T00:00:00.000Z")
    sold_out = srv.new_sale(stock=1, item="single widget")
    buyers = {unique_id("rs"): None for _ in range(4)}
    tickets = {}
    for user in buyers:
        answer = srv.accepted(open_sale, user)
        buyers[user] = answer["order_id"]
        tickets[answer["order_id"]] = answer["ticket"]
    lone = srv.accepted(sold_out, unique_id("lone"))
    tickets[lone["order_id"]] = lone["ticket"]
    assert_error(srv.buy(sold_out, unique_id("late")), 409, "sold_out")
    wait_all_status(srv, tickets, "CONFIRMED")
    paid_order = buyers[next(iter(buyers))]
    payment_id = srv.pay(paid_order)
    srv.wait_for_status(tickets[paid_order], "PAID")
    before = snapshot(srv, (open_sale, later, sold_out), tickets)

    if how == "sigterm":
        assert terminate(srv) == 0
    else:
        time.sleep(0.3)  # nothing is promised about what is not yet answered; everything above was
        kill(srv)
    again = start_server(data_dir=data_dir)
    after = snapshot(again, (open_sale, later, sold_out), tickets)
    assert after[0] == before[0], "sales changed across the restart"
    assert after[1] == before[1], "stats changed across the restart"
    assert after[2] == before[2], "orders (status, version) changed across the restart"
    assert after[2][paid_order]["status"] == "PAID"

    for user, order_id in buyers.items():
        answer = assert_json(again.buy(open_sale, user), 200)
        assert answer["order_id"] == order_id, "the same user after a restart gets the same order"
        assert again.status(answer["ticket"])["order_id"] == order_id
    assert_error(again.buy(sold_out, unique_id("late")), 409, "sold_out")
    assert_error(again.buy(later, unique_id("early")), 403, "sale_not_open")
    fresh = again.accepted(open_sale, unique_id("new"))
    again.wait_for_status(fresh["ticket"], "CONFIRMED")
    stats = again.stats(open_sale)
    assert stats["remaining"] == 10 - len(buyers) - 1
    assert_error(again.create_sale({"sale_id": open_sale, "item": "again", "stock": 1}), 409, "sale_exists")
    # a repeated payment notification is accepted again and changes nothing, across the restart too
    assert assert_json(again.notify(paid_order, payment_id), 200) == {"ok": True}
    assert again.status(tickets[paid_order])["version"] == after[2][paid_order]["version"]
    rows = read_db(data_dir, "SELECT order_id, status FROM orders WHERE sale_id IN (?, ?)", (open_sale, sold_out))
    assert sorted(rows) == sorted([(o, s["status"]) for o, s in after[2].items()] + [(fresh["order_id"], "CONFIRMED")])
    journal = read_db(data_dir, "SELECT order_id, status, version FROM intakes WHERE sale_id IN (?, ?)", (open_sale, sold_out))
    journal = {o: (s, v) for o, s, v in journal}
    for order_id, status in after[2].items():
        assert journal[order_id] == (status["status"], status["version"]), (order_id, journal[order_id], status)


# --------------------------------------------------------------------------- 5. full disk


# A process file-size limit (RLIMIT_FSIZE) is a full disk for the server: it ignores SIGXFSZ,
# so a write past the limit fails with EFBIG. The limit is set on the running process with
# prlimit once the database exists, and only the soft limit: raising a lowered hard limit
# again needs CAP_SYS_RESOURCE, which a container's root may lack.


def data_files_size(data_dir):
    return {p.name: p.stat().st_size for p in Path(data_dir).iterdir() if p.name.startswith("flashgate.db")}


def set_fsize(pid, limit):
    """The soft file-size limit of a process (the hard limit stays: raising it back needs no privilege)."""
    _, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (limit, hard))


def clear_fsize(pid):
    _, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (hard, hard))


def test_full_disk_refuses_intake_with_503_keeps_what_it_accepted_and_recovers(start_server):
    stock = 200
    srv = start_server(env={"FLASHGATE_STOCK_FLUSH": "200ms"})
    data_dir = srv.data_dir
    sale_id = srv.new_sale(stock=stock, item="disk widget")
    wait_until(lambda: srv.stats(sale_id)["remaining_db"] == stock, timeout=5.0, message="first flush")
    time.sleep(0.3)
    sizes = data_files_size(data_dir)
    limit = sizes.get("flashgate.db", 0) + sizes.get("flashgate.db-wal", 0) + 16 * 1024
    pid = srv.proc.pid
    set_fsize(pid, limit)
    accepted = {}  # order_id -> (user, ticket): every 202, before and after the disk filled up
    refused = []  # users answered 503
    refusal = None

    def buy_on_full_disk(user):
        """One intake while the limit holds: a 202 (SQLite may reuse WAL space below the limit) or a
        503 unavailable that created nothing, checked at once from the stats."""
        nonlocal refusal
        response = srv.buy(sale_id, user)
        if response.status_code == 202:
            body = response.json()
            accepted[body["order_id"]] = (user, body["ticket"])
            return 202
        refusal = assert_error(response, 503, "unavailable")
        assert response.headers.get("Retry-After"), "503 unavailable without Retry-After"
        refused.append(user)
        stats = srv.stats(sale_id)
        assert sum(stats["counts"].values()) == len(accepted), f"a 503 created an order: {stats}, {len(accepted)} accepted"
        assert stats["remaining"] == stock - len(accepted), stats
        return 503

    try:
        for i in range(300):
            if buy_on_full_disk(unique_id(f"disk{i}")) == 503:
                break
        assert refused, f"no 503 with RLIMIT_FSIZE {limit} (files {sizes}) after {len(accepted)} orders"
        print(f"limit {limit}, files {sizes}, {len(accepted)} accepted before 503: {refusal}")
        for i in range(4):
            buy_on_full_disk(unique_id(f"full{i}"))
        print(f"then {len(accepted)} accepted and {len(refused)} refused in all while the limit held")
        assert srv.get("/healthz").status_code == 200
        # polls are answered from memory while the disk is full
        for order_id, (_, ticket) in list(accepted.items())[:3]:
            assert srv.status(ticket)["order_id"] == order_id
    finally:
        clear_fsize(pid)

    # recovers without a restart: a refused user is accepted with a new order (not 200: it holds none)
    for user in refused:
        response = wait_until(
            lambda: (lambda r: None if r.status_code == 503 else r)(srv.buy(sale_id, user)),
            timeout=15.0,
            interval=0.2,
            message="intake to work again after the disk has room",
        )
        body = assert_json(response, 202)
        accepted[body["order_id"]] = (user, body["ticket"])
    for i in range(3):
        user = unique_id(f"after{i}")
        body = srv.accepted(sale_id, user)
        accepted[body["order_id"]] = (user, body["ticket"])
    wait_all_status(srv, {o: t for o, (_, t) in accepted.items()}, "CONFIRMED")
    stats = drained(srv, sale_id)
    assert sum(stats["counts"].values()) == len(accepted), stats
    assert stats["remaining"] == stock - len(accepted), stats
    wait_until(lambda: srv.stats(sale_id)["remaining_db"] == stock - len(accepted), timeout=5.0, message="flush after recovery")

    # every 202 is durable, and nothing else is
    assert terminate(srv) == 0
    journal = dict(read_db(data_dir, "SELECT order_id, user_id FROM intakes WHERE sale_id = ?", (sale_id,)))
    orders = dict(read_db(data_dir, "SELECT order_id, status FROM orders WHERE sale_id = ?", (sale_id,)))
    assert journal == {o: u for o, (u, _) in accepted.items()}
    assert orders == {o: "CONFIRMED" for o in accepted}
    again = start_server(data_dir=data_dir)
    wait_all_status(again, {o: t for o, (_, t) in accepted.items()}, "CONFIRMED", timeout=10.0)
    stats = again.stats(sale_id)
    assert stats["remaining"] == stock - len(accepted) and stats["counts"]["CONFIRMED"] == len(accepted), stats


# --------------------------------------------------------------------------- 6. locked database


def test_locked_database_refuses_intake_with_503_and_recovers_when_released(start_server):
    srv = start_server()
    sale_id = srv.new_sale(stock=10, item="lock widget")
    srv.accepted(sale_id, unique_id("before"))
    drained(srv, sale_id)
    user = unique_id("locked")
    locker = sqlite3.connect(str(db_path(srv.data_dir)), timeout=10.0, isolation_level=None)
    try:
        locker.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        response = srv.post(f"/api/sales/{quote(sale_id, safe='')}/orders", json={"user_id": user}, timeout=15.0)
        took = time.monotonic() - started
        assert_error(response, 503, "unavailable")
        assert response.headers.get("Retry-After"), "503 unavailable without Retry-After"
        assert took < 10.0, f"503 after {took:.1f}s"
        stats = srv.stats(sale_id)
        assert sum(stats["counts"].values()) == 1 and stats["remaining"] == 9, stats
    finally:
        locker.execute("ROLLBACK")
        locker.close()

    def buy_again():
        response = srv.buy(sale_id, user)
        return None if response.status_code == 503 else response

    response = wait_until(buy_again, timeout=15.0, interval=0.2, message="intake to work after the lock is released")
    answer = assert_json(response, 202)
    srv.wait_for_status(answer["ticket"], "CONFIRMED")
    stats = srv.stats(sale_id)
    assert sum(stats["counts"].values()) == 2 and stats["remaining"] == 8, stats


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_restart_keeps_quantities_limits_and_each_buyers_units(start_server, how):
    srv = start_server()
    data_dir = srv.data_dir
    sale_id = unique_id("qsale")
    assert srv.create_sale({"sale_id": sale_id, "item": "crate", "stock": 10, "max_per_buyer": 3}).status_code == 201
    first = assert_json(srv.buy(sale_id, "ann", body={"user_id": "ann", "quantity": 2, "request_id": "a"}), 202)
    bob = assert_json(srv.buy(sale_id, "bob", body={"user_id": "bob", "quantity": 3}), 202)
    for answer in (first, bob):  # settled, so that the numbers before and after are the same
        srv.wait_for_status(answer["ticket"], "CONFIRMED")
    stats = {k: v for k, v in srv.stats(sale_id).items() if k != "remaining_db"}
    if how == "sigterm":
        assert terminate(srv) == 0
    else:
        kill(srv)
    again = start_server(data_dir=data_dir)
    assert again.sale(sale_id)["max_per_buyer"] == 3
    assert again.sale(sale_id)["remaining"] == 5
    assert {k: v for k, v in again.stats(sale_id).items() if k != "remaining_db"} == stats
    repeat = assert_json(again.buy(sale_id, "ann", body={"user_id": "ann", "quantity": 2, "request_id": "a"}), 200)
    assert repeat["order_id"] == first["order_id"] and repeat["quantity"] == 2
    assert again.status(first["ticket"])["quantity"] == 2
    assert_error(again.buy(sale_id, "ann", body={"user_id": "ann", "quantity": 2, "request_id": "b"}), 409,
                 "buyer_limit_reached")
    assert_json(again.buy(sale_id, "ann", body={"user_id": "ann", "quantity": 1, "request_id": "b"}), 202)
    assert_error(again.buy(sale_id, "bob", body={"user_id": "bob", "quantity": 1, "request_id": "more"}), 409,
                 "buyer_limit_reached")
    assert again.sale(sale_id)["remaining"] == 4
