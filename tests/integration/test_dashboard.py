"""The Grafana dashboard in docs/ only uses metrics the server really exports."""

import json
import re
from pathlib import Path

from flashgate_harness import distributed, wait_until

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json"
# Exported only by the distributed (Redis) store.
DISTRIBUTED_ONLY = {"flashgate_near_cache_hits", "flashgate_near_cache_misses", "flashgate_outcomes_unwritten"}
# Exported only by the embedded deployment (SQLite's group commit).
EMBEDDED_ONLY = {"flashgate_db_commit_jobs", "flashgate_db_commit_seconds"}
# What the deployment under test (FLASHGATE_TEST_DEPLOYMENT) cannot export.
NOT_HERE = EMBEDDED_ONLY if distributed() else DISTRIBUTED_ONLY


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
