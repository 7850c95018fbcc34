"""poll, dist-poll: GET /api/orders/status?ticket=T&wait=0 under wrk (bench/poll.lua) over tickets
bought first (bench/prebuy.lua), each paired with nginx. Their rows are in the report's HTTP
table (report.py)."""

from .. import distributed, reference
from ..processes import ScenarioError, log
from ..servers import metric_sum
from .intake import embedded_server


def poll(run):
    measure(run, "poll", embedded_server(run))


def dist_poll(run):
    d = distributed.shared(run)
    before = d["gateway"].metrics()
    measure(run, "dist-poll", d["gateway"], pids=distributed.gateway_pids(run))
    after = d["gateway"].metrics(settle=1.0)
    hits = metric_sum(after, "flashgate_near_cache_hits") - metric_sum(before, "flashgate_near_cache_hits")
    misses = metric_sum(after, "flashgate_near_cache_misses") - metric_sum(before, "flashgate_near_cache_misses")
    run.results["dist-poll"]["near_cache"] = {"hits": int(hits), "misses": int(misses)}


def measure(run, name, server, pids=None):
    sale_id = f"{name}-{run.tag}"
    tickets_file = run.tmp / f"{name}-tickets.txt"
    log(f"  {name}: pre-buying {run.tickets} tickets")
    tickets = run.prebuy(server, sale_id, run.tickets, tickets_file)
    pair = reference.nginx_pair(run, name, "poll.lua", lambda phase: (str(tickets_file), "wait0"))
    before = server.metrics()
    log(f"  {name}: wrk {run.connections} connections, {run.duration} s, {len(tickets)} tickets round-robin, wait=0")
    r = run.measured_wrk(
        pids or [server.proc.pid], f"http://127.0.0.1:{server.port}", "poll.lua",
        lambda phase: (str(tickets_file), "wait0"), name, settle=distributed.settle_for(run, name),
    )
    distributed.note_rewrites(run, name, r)
    after = server.metrics(settle=1.0)
    ok = metric_sum(after, "flashgate_http_requests_total", code="200") - metric_sum(
        before, "flashgate_http_requests_total", code="200"
    )
    r["tickets"] = len(tickets)
    r["reference"] = pair
    r["answers"] = {"200": int(ok)}
    if r["errors_status"]:
        raise ScenarioError(f"{name}: {r['errors_status']} polls were not answered 200")
    r["paced"] = reference.paced_pair(run, name, f"http://127.0.0.1:{server.port}", "poll.lua",
                                      (str(tickets_file), "wait0"), r["rps"])
    run.results[name] = r
