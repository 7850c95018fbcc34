"""The Grafana dashboard in docs/ only uses metrics the server really exports, and its panels are well formed."""

import json
import re
from pathlib import Path

from flashgate_harness import distributed, free_port, wait_until
from test_order_sink import Shop, sink_env

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json"
# Exported only by the distributed (Redis) store.
DISTRIBUTED_ONLY = {"flashgate_near_cache_hits", "flashgate_near_cache_misses", "flashgate_outcomes_unwritten"}
# Exported only by the embedded deployment (SQLite's group commit).
EMBEDDED_ONLY = {"flashgate_db_commit_jobs", "flashgate_db_commit_seconds"}
# Exported only by a server that tells the shop's event sink (--event-sink).
EVENT_SINK_ONLY = {"flashgate_event_outbox_depth"}
# What the deployment under test (FLASHGATE_TEST_DEPLOYMENT) without sinks cannot export.
NOT_HERE = (EMBEDDED_ONLY if distributed() else DISTRIBUTED_ONLY) | EVENT_SINK_ONLY
SINK_PANEL_METRICS = {"flashgate_sink_calls_total", "flashgate_sink_call_seconds", "flashgate_sink_retries_total",
                      "flashgate_sink_breaker_open", "flashgate_event_outbox_depth"}


def metric_names_in_dashboard():
    names = set()
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel["targets"]:
            for name in re.findall(r"flashgate_[a-z_]+", target["expr"]):
                names.add(re.sub(r"_(bucket|count|sum)$", "", name))
    return names


def exported_metric_names(text):
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}


def test_every_metric_of_the_dashboard_is_exported(server):
    # Traffic first, so that per-route and per-outcome families exist.
    sale = server.new_sale(stock=1)
    ticket = server.accepted(sale, "dashboard-user")["ticket"]
    server.buy(sale, "dashboard-other")
    assert wait_until(lambda: server.get(f"/api/orders/status?ticket={ticket}&wait=0").json()["status"] == "CONFIRMED")
    exported = exported_metric_names(server.get("/metrics").text)
    missing = metric_names_in_dashboard() - exported - NOT_HERE
    assert not missing, f"the dashboard uses metrics the server does not export: {sorted(missing)}"


def test_the_shop_panels_metrics_are_exported_by_a_server_with_both_sinks(start_server):
    assert SINK_PANEL_METRICS <= metric_names_in_dashboard()
    shop = Shop(free_port())
    try:
        srv = start_server(env=sink_env(shop.url + "/orders", FLASHGATE_EVENT_SINK=shop.url + "/events"))
        sale = srv.new_sale(stock=1)
        ticket = srv.accepted(sale, "dashboard-buyer")["ticket"]
        assert srv.wait_for_status(ticket, "CONFIRMED", timeout=30)
        exported = exported_metric_names(srv.get("/metrics").text)
    finally:
        shop.stop()
    missing = SINK_PANEL_METRICS - exported
    assert not missing, f"the shop panels use metrics a server with both sinks does not export: {sorted(missing)}"


def test_panels_have_distinct_ids_do_not_overlap_and_name_their_queries():
    panels = json.loads(DASHBOARD.read_text())["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    cells = {}
    for panel in panels:
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']!r} overlaps {cells[(x, y)]!r}"
                cells[(x, y)] = panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(set(refs)) == len(refs), panel["title"]
        for target in panel["targets"]:
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]
