"""Buckets (issue #25 item 3): a sale created with `"buckets": N`.

In the distributed deployment its stock is kept in N buckets of their own Redis
hash tags; a buyer's home bucket is a hash of the buyer, and when it runs short
units are moved from the other buckets (the workers' rebalancer, and a final
phase at intake), so that no buyer is told sold_out while a unit remains
anywhere. The embedded store keeps one stock whatever `buckets` says: the same
tests hold there.

Stock invariant, checked once the sale is quiet: remaining + held units +
in_transit == stock.
"""

import hashlib
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from flashgate_harness import assert_error, assert_json, distributed, key_slot, unique_id, wait_until

HELD = ("QUEUED", "PROCESSING", "CONFIRMED", "PAID")
BUCKETS = 3
STOCK = 500
CROWD = 2000
THREADS = 64
RETRY_FOR = 60.0


def sale_tag(name):
    """domain::sale_tag: the first 4 bytes of a 16-byte BLAKE2b, in hex."""
    return hashlib.blake2b(name.encode(), digest_size=16).hexdigest()[:8]


def bucket_tags(sale_id, buckets):
    """store/redis/bucket_tags: bucket 0 the sale's tag; bucket b the first candidate "<sale>#k" whose
    Cluster slot lies in the b-th N-th of the slot space after bucket 0's."""
    tags = [sale_tag(sale_id)] + [None] * (buckets - 1)
    arc = lambda tag: key_slot("{" + tag + "}") * buckets // 16384  # noqa: E731
    candidate = 0
    while None in tags:
        candidate += 1
        tag = sale_tag(f"{sale_id}#{candidate}")
        bucket = (arc(tag) - arc(tags[0])) % buckets
        if bucket and tags[bucket] is None and tag not in tags:
            tags[bucket] = tag
    return tags


def bucket_tag(sale_id, bucket):
    return bucket_tags(sale_id, BUCKETS)[bucket]


def home_bucket(user_id, buckets):
    """domain::home_bucket: the first 8 bytes of a 16-byte BLAKE2b, big-endian, mod buckets."""
    digest = hashlib.blake2b(user_id.encode(), digest_size=16).digest()
    return int.from_bytes(digest[:8], "big") % buckets


def new_sale(server, stock, buckets):
    body = {"sale_id": unique_id("bsale"), "item": "hot widget", "stock": stock, "buckets": buckets}
    created = assert_json(server.create_sale(body), 201)
    assert created["buckets"] == buckets
    assert created["remaining"] == stock
    return body["sale_id"]


def assert_invariant(stats):
    held = sum(stats["units"][s] for s in HELD)
    assert stats["remaining"] + held + stats["in_transit"] == stats["stock"], stats
    if "bucket_detail" in stats:
        assert sum(b["remaining"] for b in stats["bucket_detail"]) == stats["remaining"], stats
        assert sum(b["in_transit"] for b in stats["bucket_detail"]) == stats["in_transit"], stats


def users_homed(count, weights):
    """`count` fresh buyer ids whose homes among len(weights) buckets follow the weights (a hot bucket)."""
    wanted = [count * w // sum(weights) for w in weights]
    wanted[0] += count - sum(wanted)
    users, n = [], 0
    while any(wanted):
        user = unique_id(f"b{n}")
        n += 1
        home = home_bucket(user, len(weights))
        if wanted[home]:
            wanted[home] -= 1
            users.append(user)
    return users


def buy_retrying_429(server, sale_id, user_id):
    deadline = time.monotonic() + RETRY_FOR
    while True:
        started = time.monotonic()
        response = server.buy(sale_id, user_id)
        if response.status_code != 429 or time.monotonic() > deadline:
            return started, time.monotonic(), response.status_code, response.json()
        time.sleep(0.05)


@pytest.mark.parametrize("bad", [0, -1, 65, "3", 2.5, None, True])
def test_a_bad_number_of_buckets_is_refused(server, bad):
    sale_id = unique_id("bsale")
    response = server.create_sale({"sale_id": sale_id, "item": "w", "stock": 5, "buckets": bad})
    body = assert_error(response, 400, "invalid_request")
    assert "buckets" in body["message"]
    assert server.get_sale(sale_id).status_code == 404


def test_a_sale_says_its_buckets_and_one_by_default(server):
    assert server.sale(new_sale(server, 10, 64))["buckets"] == 64
    plain = server.new_sale(stock=3)
    assert server.sale(plain)["buckets"] == 1
    stats = server.stats(plain)
    assert stats["buckets"] == 1 and stats["in_transit"] == 0 and "bucket_detail" not in stats


def test_a_bucketed_sale_sells_every_unit_to_one_buyer_each(server):
    sale_id = new_sale(server, 7, BUCKETS)
    stats = server.stats(sale_id)
    assert stats["remaining"] == 7
    if distributed():
        assert [b["remaining"] for b in stats["bucket_detail"]] == [3, 2, 2]
    # Every buyer's home is bucket 0: all but its first 3 units come from the other buckets.
    users = users_homed(8, [1, 0, 0])
    for user in users[:7]:
        order = assert_json(server.buy(sale_id, user), 202)
        if distributed():
            assert order["order_id"].startswith(bucket_tag(sale_id, 0) + "-"), order
        again = assert_json(server.buy(sale_id, user), 200)
        assert again["order_id"] == order["order_id"]
    assert_error(server.buy(sale_id, users[7]), 409, "sold_out")
    stats = server.stats(sale_id)
    assert stats["remaining"] == 0 and stats["in_transit"] == 0, stats
    assert_invariant(stats)
    assert server.sale(sale_id)["state"] == "sold_out"


def test_not_enough_stock_tells_the_remaining_over_every_bucket(server):
    body = {"sale_id": unique_id("bsale"), "item": "w", "stock": 6, "buckets": BUCKETS, "max_per_buyer": 5}
    assert_json(server.create_sale(body), 201)
    sale_id = body["sale_id"]
    first, second = users_homed(2, [0, 1, 0])
    assert_json(server.buy(sale_id, first, body={"user_id": first, "quantity": 5}), 202)
    refused = assert_error(server.buy(sale_id, second, body={"user_id": second, "quantity": 2}), 409, "not_enough_stock")
    assert refused["remaining"] == 1
    assert_invariant(server.stats(sale_id))


@pytest.fixture(scope="module")
def crowd(server):
    """CROWD buyers race for STOCK units of a sale of BUCKETS buckets; bucket 0 is the home of 60% of them."""
    sale_id = new_sale(server, STOCK, BUCKETS)
    users = users_homed(CROWD, [6, 2, 2])
    gate = threading.Event()

    def one(user):
        gate.wait()
        return user, *buy_retrying_429(server, sale_id, user)

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = [pool.submit(one, user) for user in users]
        gate.set()
        results = [f.result() for f in futures]
    server.close_sessions()
    return sale_id, results


def test_the_crowd_buys_exactly_the_stock_one_unit_per_buyer(crowd):
    _sale_id, results = crowd
    statuses = [status for _u, _s, _e, status, _b in results]
    assert statuses.count(202) == STOCK, {s: statuses.count(s) for s in set(statuses)}
    assert statuses.count(409) == CROWD - STOCK
    orders = [body["order_id"] for _u, _s, _e, status, body in results if status == 202]
    assert len(set(orders)) == STOCK
    assert all(body["error"] == "sold_out" for _u, _s, _e, status, body in results if status == 409)


def test_no_buyer_is_told_sold_out_while_a_unit_remains(crowd):
    # Units only leave during the crowd (nothing fails or is cancelled): once one buyer was told sold
    # out, a buyer who asked after that answer must be told so too. A sold_out said while a unit was
    # still in another bucket would be followed by a 202.
    _sale_id, results = crowd
    first_sold_out = min(end for _u, _s, end, status, _b in results if status == 409)
    late_accepted = [(user, started - first_sold_out) for user, started, _e, status, _b in results
                     if status == 202 and started > first_sold_out]
    assert not late_accepted, f"accepted after a sold_out answer: {late_accepted[:5]}"


def test_the_crowd_leaves_the_stock_invariant_and_every_order_in_its_home_bucket(server, crowd):
    sale_id, results = crowd
    stats = wait_until(lambda: (s := server.stats(sale_id))["counts"]["QUEUED"] == 0 and s["counts"]["PROCESSING"] == 0
                       and s, timeout=60, message="the crowd's orders processed")
    assert stats["remaining"] == 0 and stats["in_transit"] == 0, stats
    assert sum(stats["units"][s] for s in HELD) == STOCK, stats
    assert_invariant(stats)
    if distributed():
        for user, _s, _e, status, body in results:
            if status == 202:
                assert body["order_id"].startswith(bucket_tag(sale_id, home_bucket(user, BUCKETS)) + "-"), (user, body)


@pytest.mark.skipif(not distributed(), reason="a move between buckets exists only in Redis")
def test_a_move_left_half_done_is_never_sold_and_recovery_restores_it(server):
    """What a mover SIGKILLed between take and give leaves: units out of a bucket, in its transit hash."""
    sale_id = new_sale(server, 9, BUCKETS)
    redis = server.backend.redis
    tag = bucket_tag(sale_id, 1)
    # take_stock's effect, as the killed mover left it (3 units of bucket 1 on their way to bucket 0).
    redis.cli("HINCRBY", f"fg:{{{tag}}}:sale:{sale_id}", "remaining", -3)
    redis.cli("HSET", f"fg:{{{tag}}}:transit:{sale_id}", "killed-mover-1", "0:3")
    # The workers' rebalancer finds it and completes it: every unit back in a bucket, none twice.
    stats = wait_until(lambda: (s := server.stats(sale_id))["in_transit"] == 0 and s["remaining"] == 9 and s,
                       timeout=30, message="the half-done move recovered")
    assert_invariant(stats)
    assert redis.cli("HLEN", f"fg:{{{tag}}}:transit:{sale_id}").strip() == "0"
    # And the 9 units, no more, are sold.
    statuses = [server.buy(sale_id, unique_id("u")).status_code for _ in range(12)]
    assert statuses.count(202) == 9 and statuses.count(409) == 3, statuses
    assert_invariant(server.stats(sale_id))


@pytest.mark.skipif(not distributed(), reason="a move between buckets exists only in Redis")
@pytest.mark.slow
def test_a_server_sigkilled_while_moving_stock_never_oversells(start_server):
    """The whole process (gateway, final phase, rebalancer) killed mid-crowd, then started again."""
    first = start_server()
    sale_id = new_sale(first, 300, BUCKETS)
    users = users_homed(900, [8, 1, 1])
    accepted, lock = [], threading.Lock()
    stop = threading.Event()

    def one(user):
        if stop.is_set():
            return
        try:
            response = first.buy(sale_id, user)
        except Exception:  # the process died under it
            return
        if response.status_code == 202:
            with lock:
                accepted.append(user)
                if len(accepted) == 120:
                    os.kill(first.proc.pid, signal.SIGKILL)
                    stop.set()

    with ThreadPoolExecutor(max_workers=32) as pool:
        list(pool.map(one, users))
    first.proc.wait()
    first.close_sessions()
    second = start_server(data_dir=first.data_dir)
    stats = wait_until(lambda: (s := second.stats(sale_id))["in_transit"] == 0 and s["counts"]["QUEUED"] == 0
                       and s["counts"]["PROCESSING"] == 0 and s, timeout=60, message="moves recovered, queue drained")
    assert_invariant(stats)
    sold = sum(stats["units"][s] for s in HELD)
    assert sold >= len(accepted), (sold, len(accepted))
    rest = [second.buy(sale_id, user).status_code for user in users_homed(400, [8, 1, 1])]
    final = wait_until(lambda: (s := second.stats(sale_id))["counts"]["QUEUED"] == 0 and s, timeout=60,
                       message="the rest processed")
    assert_invariant(final)
    assert final["remaining"] == 0 and final["in_transit"] == 0, final
    assert sum(final["units"][s] for s in HELD) == 300, final
    assert rest.count(202) == 300 - sold, (rest.count(202), sold)
