"""The distributed deployment: two gateways and two workers on one Redis and one PostgreSQL.

This module starts everything itself, whatever FLASHGATE_TEST_DEPLOYMENT says: a
Redis (scripts/testenv/redis: AOF, appendfsync always), a PostgreSQL cluster
(scripts/testenv/postgres), `flashgate serve --role worker` twice and
`--role gateway` twice, all given the same ticket keys, admin token and payment
secret. It is marked embedded_only so that it runs once per `scripts/test`
(in the embedded pass), not a second time in the distributed pass.

What it checks, in this order (the module's processes are shared):

- a crowd spread over both gateways buys exactly the stock, everyone else is
  told sold_out; a worker SIGKILLed while it holds orders loses none of them
  (the other worker takes them back after FLASHGATE_RECLAIM_AFTER and finishes
  them): every accepted order ends CONFIRMED and is in PostgreSQL exactly once;
- a ticket of one gateway is answered by the other; a payment made on one
  gateway is seen as PAID on the other by poll, long poll and event stream;
  stats count each order once and reserved + remaining == stock;
- Redis stopped (and, separately, SIGKILLed) and started again on the same dir
  and port mid-sale: intakes meanwhile get 503 and nothing but 503, no 202 is
  lost, no order is created twice, the stock invariant holds throughout;
- PostgreSQL stopped and started again mid-sale: intake goes on, the windows
  wait it out, every accepted order ends CONFIRMED exactly once in PostgreSQL,
  and a payment made during the outage reaches PostgreSQL afterwards;
- a gateway paused while its sale's change stream was trimmed past what it had
  read answers the changes it missed from Redis, not from its near-cache;
- a payment taken by a worker that died before writing it, and one made while
  no worker runs, reach PostgreSQL once a worker runs again.

Timeouts are upper bounds for waiting, never performance claims.
"""

import http.client
import signal
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from cluster_harness import Deployment, run, sale_tag
from flashgate_harness import assert_json, unique_id, wait_until

pytestmark = pytest.mark.embedded_only(
    reason="starts its own Redis, PostgreSQL, gateways and workers; it runs once, in the embedded pass"
)

SERVICE_TIME = "20ms"
RECLAIM_AFTER = "2s"
WINDOWS_PER_WORKER = 2  # 2 workers x 2 windows x 50 orders/s: slow enough to kill a worker mid-sale

CROWD = 1500
STOCK = 300
CROWD_THREADS = 48
KILL_AT_CONFIRMED = 40  # the victim worker dies once this many crowd orders are CONFIRMED

HELD = ("QUEUED", "PROCESSING", "CONFIRMED", "PAID")  # statuses that hold a unit


# --------------------------------------------------------------------------- the cluster


class Cluster(Deployment):
    """Two workers and two gateways."""

    def __init__(self, tmp_path_factory):
        super().__init__(tmp_path_factory, "cluster-redis", {
            "FLASHGATE_SERVICE_TIME": SERVICE_TIME,
            "FLASHGATE_RECLAIM_AFTER": RECLAIM_AFTER,
            "FLASHGATE_WINDOWS": str(WINDOWS_PER_WORKER),
            "FLASHGATE_STOCK_FLUSH": "200ms",
        })

    def start(self):
        return self.start_processes(workers=2, gateways=2)

    # -- looking inside

    def orders_in_postgres(self, sale_id):
        """{order_id: (user_id, status, payment_id)} of the sale's rows, and the number of rows."""
        rows = self.postgres.query(
            f"SELECT order_id, user_id, status, payment_id FROM orders WHERE sale_id = '{sale_id}'"
        )
        return {r[0]: (r[1], r[2], r[3]) for r in rows}, len(rows)

    def pending_of(self, sale_id, pid):
        """Queue entries of the sale that consumers of process `pid` have read and not acknowledged."""
        lines = self.redis.cli("XPENDING", f"fg:{{{sale_tag(sale_id)}}}:queue", "windows").split()
        consumers = lines[3:]
        held = 0
        for name, count in zip(consumers[0::2], consumers[1::2]):
            if f"-{pid}-w" in name:
                held += int(count)
        return held


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    codes = yield from run(Cluster(tmp_path_factory))
    assert all(code == 0 for code in codes.values()), f"not every process exited 0 on SIGTERM: {codes}"


# --------------------------------------------------------------------------- helpers


def answer_of(response):
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, response.text[:300]


def buy_until_answered(gateway, sale_id, user_id, deadline):
    """One user's purchase, asked again after 503 or 429 (as a client would) until a final answer.

    Returns every (code, body) the user got; a transport error is recorded as ("error", text).
    """
    answers = []
    while True:
        try:
            code, body = answer_of(gateway.buy(sale_id, user_id))
        except requests.RequestException as e:
            code, body = "error", repr(e)
        answers.append((code, body))
        if code not in (503, 429, "error") or time.monotonic() > deadline:
            return answers
        time.sleep(0.1)


def final_orders(results):
    """{user_id: order answer} of the users whose last answer is 202 or 200 (an order they hold)."""
    return {user: answers[-1][1] for user, answers in results.items() if answers[-1][0] in (200, 202)}


def held(stats):
    return sum(stats["counts"][s] for s in HELD)


def assert_stock_invariant(stats, stock):
    assert held(stats) + stats["remaining"] == stock, f"reserved + remaining != stock {stock}: {stats}"


def wait_settled(gateway, sale_id, expected, timeout=60):
    """Stats once no order of the sale is QUEUED or PROCESSING and `expected` are CONFIRMED or beyond."""

    def settled():
        stats = gateway.stats(sale_id)
        c = stats["counts"]
        done = c["QUEUED"] == 0 and c["PROCESSING"] == 0 and c["CONFIRMED"] + c["PAID"] == expected
        return stats if done else None

    return wait_until(settled, timeout=timeout, interval=0.1, message=f"{expected} orders of {sale_id} settled")


def metric(server, name):
    """The sum of a metric's samples on one process (0 when absent)."""
    total = 0.0
    for line in server.get("/metrics").text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def window_retries(cluster):
    return sum(metric(w, "flashgate_window_retries_total") for w in cluster.workers)


def other(gateways, gateway):
    return gateways[1] if gateway is gateways[0] else gateways[0]


# --------------------------------------------------------------------------- a crowd, a worker killed


@pytest.fixture(scope="module")
def crowd(cluster):
    """CROWD users over both gateways for STOCK units; a worker is SIGKILLed mid-sale.

    Returns a dict: sale_id, results {user: [(code, body), ...]}, issuer {user: gateway},
    victim (the killed worker), victim_held (queue entries it held when it died),
    confirmed_at_kill.
    """
    gw = cluster.gateways
    sale_id = gw[0].new_sale(stock=STOCK, item="distributed crowd widget")
    assert_json(gw[1].get_sale(sale_id), 200)  # the other gateway knows it at once
    victim = cluster.workers[0]
    gate = threading.Event()
    killed = {}

    def kill_mid_sale():
        gate.wait()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            confirmed = gw[1].stats(sale_id)["counts"]["CONFIRMED"]
            if confirmed >= KILL_AT_CONFIRMED:
                # Frozen, the victim can acknowledge nothing more: what it holds now is what it dies
                # holding. Between two orders it may hold none, so it is let go and caught again.
                victim.proc.send_signal(signal.SIGSTOP)
                holding = cluster.pending_of(sale_id, victim.proc.pid)
                if holding > 0:
                    cluster.kill(victim)
                    killed["confirmed_at_kill"] = confirmed
                    killed["victim_held"] = holding
                    return
                victim.proc.send_signal(signal.SIGCONT)
            time.sleep(0.01)

    users = [f"crowd{i}-{uuid.uuid4().hex[:12]}" for i in range(CROWD)]
    issuer = {user: gw[i % 2] for i, user in enumerate(users)}
    deadline = time.monotonic() + 90

    def one_user(user):
        gate.wait()
        return buy_until_answered(issuer[user], sale_id, user, deadline)

    killer = threading.Thread(target=kill_mid_sale, daemon=True)
    killer.start()
    with ThreadPoolExecutor(max_workers=CROWD_THREADS) as pool:
        futures = {user: pool.submit(one_user, user) for user in users}
        gate.set()
        results = {user: future.result() for user, future in futures.items()}
    killer.join(timeout=70)
    for g in gw:
        g.close_sessions()
    assert killed, "the victim worker was never killed (the sale did not get going?)"

    stats = wait_settled(gw[0], sale_id, len(final_orders(results)))
    # The killed worker is replaced only now: the survivor alone finished the sale.
    cluster.workers[0] = cluster.launch("worker")
    return {"sale_id": sale_id, "results": results, "issuer": issuer, "victim": victim, "stats": stats, **killed}


def test_crowd_over_two_gateways_gets_exactly_the_stock(crowd):
    finals = Counter(answers[-1][0] for answers in crowd["results"].values())
    assert finals[202] == STOCK, finals
    refused = [answers[-1] for answers in crowd["results"].values() if answers[-1][0] != 202]
    assert len(refused) == CROWD - STOCK
    wrong = [a for a in refused if a[0] != 409 or a[1].get("error") != "sold_out"]
    assert not wrong, wrong[:5]


def test_both_gateways_took_orders_and_nothing_was_refused_otherwise(crowd):
    every = Counter(code for answers in crowd["results"].values() for code, _ in answers)
    assert set(every) <= {202, 409}, f"answers other than 202 and 409 in the crowd: {every}"
    by_gateway = Counter(crowd["issuer"][u].port for u, a in crowd["results"].items() if a[-1][0] == 202)
    assert len(by_gateway) == 2 and min(by_gateway.values()) > 0, by_gateway


def test_a_worker_killed_mid_sale_loses_no_order(cluster, crowd):
    assert crowd["confirmed_at_kill"] < STOCK, crowd["confirmed_at_kill"]
    assert crowd["victim_held"] > 0, "the victim held no order when it died: the test proves nothing"
    orders = final_orders(crowd["results"])
    gw = cluster.gateways
    not_confirmed = []
    for user, answer in orders.items():
        status = other(gw, crowd["issuer"][user]).current(answer["ticket"])
        assert status["order_id"] == answer["order_id"]
        if status["status"] != "CONFIRMED":
            not_confirmed.append(status)
    assert not not_confirmed, f"{len(not_confirmed)} accepted orders not CONFIRMED, e.g. {not_confirmed[:3]}"
    assert "reclaimed" in "".join(w.logs() for w in cluster.workers[1:]), "no worker logged a reclaim"


def test_every_accepted_order_is_in_postgres_exactly_once(cluster, crowd):
    orders = final_orders(crowd["results"])
    expected = {a["order_id"]: user for user, a in orders.items()}
    rows, count = cluster.orders_in_postgres(crowd["sale_id"])
    assert count == len(expected) == STOCK, (count, len(expected))
    assert set(rows) == set(expected)
    assert {oid: row[0] for oid, row in rows.items()} == expected  # each order belongs to its buyer
    assert {row[1] for row in rows.values()} == {"CONFIRMED"}


def test_the_queue_keeps_no_entry_of_a_finished_order(cluster, crowd):
    # Acknowledged entries are deleted, or the stream would hold every order ever taken.
    queue = f"fg:{{{sale_tag(crowd['sale_id'])}}}:queue"
    assert cluster.redis.cli("XLEN", queue).strip() == "0"
    assert cluster.redis.cli("XPENDING", queue, "windows").split()[0] == "0"


def test_tickets_of_one_gateway_are_answered_by_the_other(cluster, crowd):
    gw = cluster.gateways
    for user, answer in final_orders(crowd["results"]).items():
        issued_by = crowd["issuer"][user]
        for gateway in (issued_by, other(gw, issued_by)):
            status = gateway.current(answer["ticket"])
            assert (status["order_id"], status["sale_id"]) == (answer["order_id"], crowd["sale_id"])


def test_stats_count_each_order_once_on_both_gateways(cluster, crowd):
    sale_id = crowd["sale_id"]
    views = [g.stats(sale_id) for g in cluster.gateways]
    for stats in views:
        assert sum(stats["counts"].values()) == STOCK, stats
        assert stats["counts"]["CONFIRMED"] == STOCK, stats
        assert stats["remaining"] == 0 and stats["queue_depth"] == 0, stats
        assert_stock_invariant(stats, STOCK)
    assert (views[0]["counts"], views[0]["remaining"]) == (views[1]["counts"], views[1]["remaining"]), views
    for g in cluster.gateways:
        assert g.sale(sale_id)["state"] == "sold_out"
    wait_until(lambda: cluster.gateways[1].stats(sale_id)["remaining_db"] == 0, timeout=15,
               message="remaining_db flushed by the workers")


def test_workers_serve_health_and_metrics_only(cluster, crowd):
    for worker in cluster.workers:
        assert assert_json(worker.get("/healthz"), 200) == {"status": "ok"}
        metrics = worker.get("/metrics")
        assert metrics.status_code == 200 and "flashgate_windows" in metrics.text
        # The API is the gateways' (a raw request: the OpenAPI check covers what gateways answer).
        conn = http.client.HTTPConnection("127.0.0.1", worker.port, timeout=5)
        try:
            conn.request("POST", "/api/sales/x/orders", body=b'{"user_id":"u"}',
                         headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            assert response.status == 404, (response.status, response.read()[:200])
        finally:
            conn.close()


# --------------------------------------------------------------------------- payments across gateways


def test_payment_on_one_gateway_is_seen_on_the_other_by_poll_long_poll_and_events(cluster):
    pay_gw, watch_gw = cluster.gateways
    sale_id = pay_gw.new_sale(stock=2)
    answer = pay_gw.accepted(sale_id, unique_id("payer"))
    confirmed = watch_gw.wait_for_status(answer["ticket"], "CONFIRMED")

    long_poll = {}

    def wait_for_payment():
        response = watch_gw.poll(answer["ticket"], wait=20, since=confirmed["version"])
        long_poll["answer"] = assert_json(response, 200)

    with watch_gw.events(answer["ticket"]) as stream:
        first = stream.next_status_event()
        assert first.json()["status"] == "CONFIRMED", first
        poller = threading.Thread(target=wait_for_payment)
        poller.start()
        time.sleep(0.3)  # the long poll is waiting on the other gateway
        payment_id = pay_gw.pay(answer["order_id"])
        paid = stream.next_status_event(timeout=10)
        assert paid is not None and paid.json()["status"] == "PAID", paid
        assert int(paid.id) == confirmed["version"] + 1
        rest = stream.events_until_eof(timeout=10)  # the server closes the stream after the final status
        assert all(e.event != "status" for e in rest), rest
    poller.join(timeout=25)
    assert long_poll["answer"]["status"] == "PAID", long_poll
    assert watch_gw.current(answer["ticket"])["status"] == "PAID"

    # Repeated on the other gateway: accepted again, nothing changes.
    assert assert_json(watch_gw.notify(answer["order_id"], payment_id), 200) == {"ok": True}
    assert watch_gw.current(answer["ticket"])["version"] == confirmed["version"] + 1

    def mirrored():
        rows, _ = cluster.orders_in_postgres(sale_id)
        return rows.get(answer["order_id"], (None, None, None))[1:] == ("PAID", payment_id)

    wait_until(mirrored, timeout=15, message="PAID mirrored into PostgreSQL")


# --------------------------------------------------------------------------- Redis restarted mid-sale


def run_sale_with_outage(cluster, stock, users, outage, accepted_before_outage, pace=0.03, threads=4):
    """Users buy over both gateways (paced) while `outage()` runs once `accepted_before_outage` got 202.

    Returns (sale_id, results {user: answers}, issuer, samples of stats taken meanwhile, outage window).
    """
    gw = cluster.gateways
    sale_id = gw[0].new_sale(stock=stock)
    issuer = {user: gw[i % 2] for i, user in enumerate(users)}
    results = {}
    lock = threading.Lock()
    accepted = [0]
    done = threading.Event()
    samples = []
    deadline = time.monotonic() + 90

    def buyer(mine):
        for user in mine:
            answers = buy_until_answered(issuer[user], sale_id, user, deadline)
            with lock:
                results[user] = answers
                accepted[0] += answers[-1][0] in (200, 202)
            time.sleep(pace)

    def sampler():
        while not done.is_set():
            try:
                response = gw[1].get(f"/api/admin/sales/{sale_id}/stats", headers=gw[1].admin_headers(), timeout=2)
                if response.status_code == 200:
                    samples.append(response.json())
                else:
                    samples.append(("code", response.status_code))
            except requests.RequestException as e:
                samples.append(("error", repr(e)))
            time.sleep(0.05)

    shares = [users[i::threads] for i in range(threads)]
    watcher = threading.Thread(target=sampler, daemon=True)
    watcher.start()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(buyer, share) for share in shares]
        wait_until(lambda: accepted[0] >= accepted_before_outage, timeout=30, interval=0.01, message="sale under way")
        began = time.monotonic()
        outage()
        ended = time.monotonic()
        for future in futures:
            future.result()
    done.set()
    watcher.join(timeout=10)
    for g in gw:
        g.close_sessions()
    return sale_id, results, issuer, samples, (began, ended)


@pytest.mark.parametrize("how", ["stop", "crash"])
def test_redis_restart_mid_sale_loses_nothing_and_creates_nothing_twice(cluster, how):
    stock, crowd_size = 150, 400
    users = [f"r{how}{i}-{uuid.uuid4().hex[:10]}" for i in range(crowd_size)]
    redis = cluster.redis
    port_before = redis.port

    def outage():
        if how == "stop":
            redis.stop()
        else:
            redis.crash()
        time.sleep(1.5)  # buyers meet the outage
        redis.start()
        assert redis.port == port_before

    sale_id, results, issuer, samples, _ = run_sale_with_outage(cluster, stock, users, outage, 40)
    every = Counter(code for answers in results.values() for code, _ in answers)
    assert every[503] > 0, f"no intake met the outage: {every}"
    assert set(every) <= {200, 202, 409, 503}, f"answers other than 200/202/409/503: {every}"
    unanswered = {u: a for u, a in results.items() if a[-1][0] not in (200, 202, 409)}
    assert not unanswered, f"{len(unanswered)} users never got a final answer, e.g. {list(unanswered.items())[:2]}"
    for answers in results.values():
        for code, body in answers:
            if code == 503:
                assert body.get("error") and body.get("message"), body

    orders = final_orders(results)
    hidden = [u for u, answers in results.items() if answers[-1][0] == 200]  # taken while the answer was lost
    print(f"redis {how}: answers {dict(every)}, orders found again by a retry after 503: {len(hidden)}")
    accepted_202 = {a["order_id"] for answers in results.values() for code, a in answers if code == 202}
    holders = {a["order_id"] for a in orders.values()}
    assert accepted_202 <= holders, f"202 answers whose order nobody holds: {accepted_202 - holders}"
    assert len(holders) == len(orders) == stock, (len(holders), len(orders))

    stats = wait_settled(cluster.gateways[0], sale_id, stock)
    assert sum(stats["counts"].values()) == stock and stats["remaining"] == 0, stats
    good = [s for s in samples if isinstance(s, dict)]
    assert good, samples[:5]
    for s in good + [stats]:
        assert_stock_invariant(s, stock)
    assert all(s[1] in (503,) for s in samples if isinstance(s, tuple) and s[0] == "code"), samples

    rows, count = cluster.orders_in_postgres(sale_id)
    assert count == stock and set(rows) == holders
    assert {row[1] for row in rows.values()} == {"CONFIRMED"}
    gw = cluster.gateways
    for user, answer in orders.items():
        status = other(gw, issuer[user]).current(answer["ticket"])
        assert (status["order_id"], status["status"]) == (answer["order_id"], "CONFIRMED"), status


# --------------------------------------------------------------------------- PostgreSQL restarted mid-sale


def test_postgres_restart_mid_sale_every_order_confirmed_exactly_once(cluster):
    stock, crowd_size = 150, 200
    users = [f"pg{i}-{uuid.uuid4().hex[:10]}" for i in range(crowd_size)]
    gw = cluster.gateways
    paid = {}

    def outage():
        cluster.postgres.stop()
        try:
            # An order CONFIRMED before the outage is paid during it (a Redis-only step).
            paid["payment_id"] = gw[1].pay(paid["target"]["order_id"])
            time.sleep(3.0)  # longer than RECLAIM_AFTER: stuck windows' orders are taken back meanwhile
        finally:
            cluster.postgres.start()

    # The payment target: an order bought and CONFIRMED before the sale under test starts.
    pre_sale = gw[0].new_sale(stock=1)
    target = gw[0].accepted(pre_sale, unique_id("pg-payer"))
    gw[1].wait_for_status(target["ticket"], "CONFIRMED")
    paid["target"] = target

    retries_before = window_retries(cluster)
    sale_id, results, issuer, samples, _ = run_sale_with_outage(cluster, stock, users, outage, 30, pace=0.02)
    assert window_retries(cluster) > retries_before, "no window met the outage: the test proves nothing"
    every = Counter(code for answers in results.values() for code, _ in answers)
    assert set(every) <= {202, 409}, f"intake depends on PostgreSQL? answers: {every}"
    orders = final_orders(results)
    assert len(orders) == stock

    stats = wait_settled(gw[0], sale_id, stock, timeout=90)
    assert sum(stats["counts"].values()) == stock, stats
    for s in [s for s in samples if isinstance(s, dict)] + [stats]:
        assert_stock_invariant(s, stock)

    expected = {a["order_id"]: user for user, a in orders.items()}

    def all_rows():
        rows, count = cluster.orders_in_postgres(sale_id)
        return (rows, count) if count >= len(expected) else None

    rows, count = wait_until(all_rows, timeout=30, message="every order row in PostgreSQL")
    assert count == len(expected) and set(rows) == set(expected)
    assert {row[1] for row in rows.values()} == {"CONFIRMED"}
    for user, answer in orders.items():
        assert other(gw, issuer[user]).current(answer["ticket"])["status"] == "CONFIRMED"

    assert gw[0].current(target["ticket"])["status"] == "PAID"

    def payment_mirrored():
        rows, _ = cluster.orders_in_postgres(pre_sale)
        return rows.get(target["order_id"], (None, None, None))[1:] == ("PAID", paid["payment_id"])

    wait_until(payment_mirrored, timeout=30, message="the payment made during the outage in PostgreSQL")
    wait_until(lambda: gw[1].stats(sale_id)["remaining_db"] == 0, timeout=30, message="stock flushed again")


# --------------------------------------------------------------------------- a gateway behind the trimmed feed


NOISE = "for i = 1, tonumber(ARGV[1]) do redis.call('XADD', KEYS[1], 'MAXLEN', '~', '100000', '*', 'noise', i) end"


def test_a_gateway_behind_the_trimmed_change_feed_does_not_answer_what_it_missed(cluster):
    """Change streams keep about 100,000 entries: a gateway that was away while more were
    written (paused here) forgets its cached orders of that sale instead of answering them."""
    gw = cluster.gateways
    sale_id = gw[0].new_sale(stock=1)
    changes = f"fg:{{{sale_tag(sale_id)}}}:changes"
    answer = gw[0].accepted(sale_id, unique_id("behind"))
    gw[0].wait_for_status(answer["ticket"], "CONFIRMED")  # in gw0's near-cache as CONFIRMED
    with gw[0].events(answer["ticket"]) as stream:
        assert stream.next_status_event().json()["status"] == "CONFIRMED"
        gw[0].proc.send_signal(signal.SIGSTOP)
        try:
            # First a change that answers gw0's waiting read of the feed (if one waits), so that
            # the payment's change stays in Redis, unread by gw0, until it is trimmed.
            cluster.redis.cli("XADD", changes, "*", "noise", "0")
            time.sleep(0.2)
            payment_id = gw[1].pay(answer["order_id"])
            paid_entry = cluster.redis.cli("XREVRANGE", changes, "+", "-", "COUNT", "1").split()[0]
            cluster.redis.cli("EVAL", NOISE, "1", changes, "101000", timeout=60)
            oldest = cluster.redis.cli("XRANGE", changes, "-", "+", "COUNT", "1").split()[0]
            assert tuple(map(int, oldest.split("-"))) > tuple(map(int, paid_entry.split("-"))), \
                "the payment's change was not trimmed: the test proves nothing"
            time.sleep(1.2)  # away for longer than a second, as such a backlog takes Redis to write
        finally:
            gw[0].proc.send_signal(signal.SIGCONT)
        # The event stream it held learns it too, at the latest with its next keep-alive (15 s).
        paid = stream.next_status_event(timeout=40)
        assert paid is not None and paid.json()["status"] == "PAID", paid

    def paid_on_gw0():
        status = gw[0].current(answer["ticket"])
        return status["status"] == "PAID" and status

    status = wait_until(paid_on_gw0, timeout=20, message="the paused gateway answering PAID")
    assert status["version"] == gw[1].current(answer["ticket"])["version"]
    assert cluster.redis.cli("HGET", f"fg:{{{sale_tag(sale_id)}}}:order:{answer['order_id']}", "payment_id").strip() == payment_id
    assert "trimmed before this process read them" in gw[0].logs(), gw[0].logs()[-3000:]


# --------------------------------------------------------------------------- outcomes no worker wrote


def test_payments_no_worker_wrote_reach_postgres_once_a_worker_runs(cluster):
    """PostgreSQL is the system of record: a payment a worker took and died before writing, and
    one made while no worker ran, are both written once a worker runs again."""
    gw = cluster.gateways
    sale_id = gw[0].new_sale(stock=2)
    outcomes = f"fg:{{{sale_tag(sale_id)}}}:outcomes"
    first = gw[0].accepted(sale_id, unique_id("mirror-a"))
    second = gw[1].accepted(sale_id, unique_id("mirror-b"))
    for answer in (first, second):
        gw[0].wait_for_status(answer["ticket"], "CONFIRMED")
    running = [w for w in cluster.workers if w.is_running()]
    assert running, "no worker to kill"

    def pending():
        summary = cluster.redis.cli("XPENDING", outcomes, "mirror").split()
        return int(summary[0]) if summary and summary[0].isdigit() else 0

    cluster.postgres.stop()
    try:
        paid_first = gw[0].pay(first["order_id"])
        # A worker has taken it and cannot write it: the database is down.
        wait_until(lambda: pending() == 1, timeout=10, message="the payment taken by a worker")
        for worker in running:
            cluster.kill(worker)
        paid_second = gw[1].pay(second["order_id"])  # no worker runs
    finally:
        cluster.postgres.start()

    rows, _ = cluster.orders_in_postgres(sale_id)
    assert [rows[a["order_id"]][1] for a in (first, second)] == ["CONFIRMED", "CONFIRMED"], rows
    # An operator sees them waiting (the store's gauges are gathered once a second).
    wait_until(lambda: metric(gw[0], "flashgate_outcomes_unwritten") == 2, timeout=15, message="the gauge at 2")

    cluster.workers.append(cluster.launch("worker"))

    def mirrored():
        rows, _ = cluster.orders_in_postgres(sale_id)
        return [rows[a["order_id"]][1:] for a in (first, second)] == [("PAID", paid_first), ("PAID", paid_second)]

    wait_until(mirrored, timeout=30, message="both payments in PostgreSQL")
    # Written, they leave Redis.
    wait_until(lambda: cluster.redis.cli("XLEN", outcomes).strip() == "0", timeout=15,
               message="the outcome stream emptied")
    assert pending() == 0
    wait_until(lambda: metric(cluster.workers[-1], "flashgate_outcomes_unwritten") == 0, timeout=15,
               message="the gauge back at 0")
