"""soldout, accepted, dist-soldout, dist-accepted: POST /api/sales/{id}/orders under wrk
(bench/intake.lua, a distinct user per request), each paired with nginx. Their rows are in the
report's HTTP table (report.py)."""

from .. import distributed, reference
from ..processes import ScenarioError, log
from ..servers import Flashgate, metric_sum


def embedded_server(run):
    """The embedded server of soldout, accepted and poll (scenarios/poll.py), started once."""
    if run.intake_server is None:
        # Windows held (a long service time): these scenarios measure the
        # intake path; windows are measured on their own (windows-pg).
        run.intake_server = Flashgate(run, "embedded", {"FLASHGATE_SERVICE_TIME": "10m"})
    return run.intake_server


def soldout(run):
    measure(run, "soldout", embedded_server(run), 0, "sold_out")


def accepted(run):
    measure(run, "accepted", embedded_server(run), 1_000_000_000, "accepted")


def dist_accepted(run):
    d = distributed.shared(run)
    if "redis-ref" not in run.results and "redis-ref" not in run.errors:
        run.run_scenario("redis-ref")  # its reference, measured just before on the same Redis
    measure(run, "dist-accepted", d["gateway"], 1_000_000_000, "accepted", pids=distributed.gateway_pids(run))
    run.results["dist-accepted"]["redis_reference"] = run.results.get("redis-ref")


def dist_soldout(run):
    d = distributed.shared(run)
    measure(run, "dist-soldout", d["gateway"], 0, "sold_out", pids=distributed.gateway_pids(run))


def measure(run, name, server, stock, outcome, pids=None):
    """A sale of `stock`, nginx's run of the same requests, the measured run, the server's own count
    of its answers (every one must be `outcome`), then both at the same offered load."""
    sale_id = f"{name}-{run.tag}"
    server.create_sale(sale_id, stock)
    pair = reference.nginx_pair(run, name, "intake.lua", lambda phase: (sale_id, f"{run.tag}nginx{phase}"))
    before = server.metrics()
    log(f"  {name}: wrk {run.connections} connections, {run.duration} s")
    r = run.measured_wrk(
        pids or [server.proc.pid], f"http://127.0.0.1:{server.port}", "intake.lua",
        lambda phase: (sale_id, f"{run.tag}{phase}"), name, settle=distributed.settle_for(run, name),
    )
    distributed.note_rewrites(run, name, r)
    after = server.metrics(settle=1.0)
    answers = {}
    for o in ("accepted", "repeat", "sold_out", "too_many_requests", "unavailable", "invalid_request"):
        delta = metric_sum(after, "flashgate_intake_total", outcome=o) - metric_sum(before, "flashgate_intake_total", outcome=o)
        if delta:
            answers[o] = int(delta)
    r["answers"] = answers
    r["expected"] = outcome
    r["reference"] = pair
    check_answers(run, name, r, outcome)
    r["paced"] = reference.paced_pair(run, name, f"http://127.0.0.1:{server.port}", "intake.lua",
                                      (sale_id, f"{run.tag}paced"), r["rps"])
    run.results[name] = r


def check_answers(run, name, r, outcome):
    total = sum(r["answers"].values())
    if total == 0:
        run.notes.append(f"{name}: the server's intake counts could not be read; answers not checked.")
        return
    share = r["answers"].get(outcome, 0) / total
    if share < 0.99:
        raise ScenarioError(f"{name}: only {share:.1%} answered {outcome}: {r['answers']}")
