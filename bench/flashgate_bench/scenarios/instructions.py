"""instructions: user-space instructions per request of nginx and of flashgate's soldout, accepted
and poll, each server under callgrind (the counting is bench/instructions.py)."""

import shutil

import instructions as callgrind  # bench/instructions.py

from ..processes import ScenarioError, log
from ..reference import Nginx
from ..servers import Flashgate


def instructions(run):
    if not shutil.which("valgrind"):
        raise ScenarioError("valgrind is not installed (scripts/setup installs it)")
    seconds = 1 if run.smoke else 5
    results = {}
    out_dir = run.tmp / "callgrind-nginx"
    out_dir.mkdir()
    log("  instructions: nginx under callgrind")
    n = Nginx(run, "nginx-callgrind", prefix=callgrind.callgrind_argv(out_dir), single=True)
    try:
        results["nginx"] = measure(run, n.proc.pid, out_dir, n.port, "fixed.lua", lambda phase: (), seconds)
    finally:
        n.stop()
    for name, stock in (("soldout", 0), ("accepted", 1_000_000_000), ("poll", None)):
        log(f"  instructions: flashgate under callgrind, {name}")
        out_dir = run.tmp / f"callgrind-out-{name}"
        out_dir.mkdir()
        server = Flashgate(run, f"callgrind-{name}", {"FLASHGATE_SERVICE_TIME": "10m", "FLASHGATE_THREADS": "2"},
                           prefix=callgrind.callgrind_argv(out_dir))
        try:
            sale_id = f"callgrind-{name}-{run.tag}"
            if stock is None:
                tickets = run.tmp / f"callgrind-{name}-tickets.txt"
                run.prebuy(server, sale_id, 300 if run.smoke else 2000, tickets, connections=20)
                script, args_for = "poll.lua", lambda phase: (str(tickets), "wait0")
            else:
                server.create_sale(sale_id, stock)
                script, args_for = "intake.lua", lambda phase: (sale_id, f"{run.tag}cg{phase}")
            results[name] = measure(run, server.proc.pid, out_dir, server.port, script, args_for, seconds)
        finally:
            server.stop()
    run.results["instructions"] = results


def measure(run, pid, out_dir, port, script, args_for, seconds):
    url = f"http://127.0.0.1:{port}"
    run.wrk(url, script, args_for("w"), connections=50, duration=1 if run.smoke else 2, label="callgrind warm-up")
    r, ir, top = callgrind.measure(
        pid, out_dir, lambda: run.wrk(url, script, args_for("m"), connections=50, duration=seconds, label="callgrind"))
    if not r["requests"]:
        raise ScenarioError(f"{script} under callgrind: no request was answered")
    return {"requests": r["requests"], "ir": ir, "ir_per_request": ir / max(1, r["requests"]), "top": top}


def report_lines(ins):
    lines = [
        "## Instructions per request (callgrind)",
        "",
        "User-space instructions per request, counted by `valgrind --tool=callgrind` (bench/instructions.py): "
        "each server under callgrind, 50 connections, counters zeroed after a warm-up. Unlike time, the "
        "count does not move with the other jobs on the machine, so a change's effect reads from one run. "
        "The kernel's work (the TCP path, about half of a poll's CPU) is not in it. nginx: one process "
        "(`master_process off`) answering `bench/fixed.lua`.",
        "",
        "| server, scenario | requests | instructions/request | over nginx's | where most of them go (self) |",
        "|---|---:|---:|---:|---|",
    ]
    ref = ins.get("nginx", {}).get("ir_per_request")
    for name in ("nginx", "soldout", "accepted", "poll"):
        r = ins.get(name)
        if not r:
            continue
        over = f"{r['ir_per_request'] / ref:.1f}x" if ref and name != "nginx" else ""
        top = ", ".join(f"`{t['function']}` {t['ir'] / max(1, r['requests']):,.0f}" for t in r["top"][:4])
        lines.append(f"| {name} | {r['requests']:,} | {r['ir_per_request']:,.0f} | {over} | {top} |")
    lines.append("")
    return lines
