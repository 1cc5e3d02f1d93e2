"""The Grafana dashboard in deploy/grafana/ and the metrics documentation follow the metrics the code exports:
no panel on a metric that does not exist, no metric nobody can see or read about."""

from __future__ import annotations

import json
import re

from prometheus_client import REGISTRY

import actions.metrics  # registers the action server's metrics (also binds `actions`)
import actions.status  # noqa: F401
import core.metrics  # noqa: F401
from core.settings import PROJECT_ROOT

DASHBOARD = PROJECT_ROOT / "deploy" / "grafana" / "assistant.json"
SUFFIXES = re.compile(r"_(bucket|sum|count|created)$")


def ours() -> set[str]:
    """Every metric family our code registers (a counter's family name without _total, as Prometheus reads it)."""
    names = set()
    for collector in list(REGISTRY._collector_to_names):
        for metric in collector.collect():
            if metric.name.startswith("assistant_"):
                names.add(metric.name + ("_total" if metric.type == "counter" else ""))
    return names


def test_every_panel_queries_a_metric_we_export_and_every_metric_has_a_panel_and_a_line_in_the_docs():
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    queried = {
        SUFFIXES.sub("", name)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bassistant_[a-z_]+", target["expr"])
    }
    exported = ours()
    assert queried <= exported, queried - exported
    assert exported <= queried, f"no panel for {exported - queried}"
    documented = (PROJECT_ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    assert not [name for name in exported if name not in documented], "add them to docs/deployment.md"
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
    assert all(panel["datasource"]["uid"] == "${datasource}" for panel in dashboard["panels"])
