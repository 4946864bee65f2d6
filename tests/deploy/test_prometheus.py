"""Prometheus: pods announce their metrics port, the scrape policy lets it through, and every
alert rule speaks of metrics and labels the services really export."""

from __future__ import annotations

import re
from typing import Any

import pytest
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

import eventkit.ops.metrics as metrics
from contracts.routing import RUN_PARTITIONS
from tests.deploy.test_deploy_manifests import BASE_DOCS, ROOT, by_kind, find, load_yaml

RULES: dict[str, Any] = load_yaml(ROOT / "deploy" / "prometheus" / "alerts.yml")
ALERTS = [rule for group in RULES["groups"] for rule in group["rules"]]
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")


def exported() -> dict[str, tuple[str, ...]]:
    """Every series name the services export -> its label names."""
    names: dict[str, tuple[str, ...]] = {}
    for value in vars(metrics).values():
        if not isinstance(value, MetricWrapperBase):
            continue
        (family,) = [f for f in REGISTRY.collect() if f.name == value._name]
        labels = tuple(value._labelnames)
        if family.type == "histogram":
            names.update({family.name + suffix: (*labels, "le") for suffix in HISTOGRAM_SUFFIXES})
        elif family.type == "counter":
            names[family.name + "_total"] = labels
        else:
            names[family.name] = labels
    return names


def test_every_alert_is_complete() -> None:
    assert len({rule["alert"] for rule in ALERTS}) == len(ALERTS) >= 5
    for rule in ALERTS:
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert rule["expr"].strip(), rule["alert"]


@pytest.mark.parametrize("rule", ALERTS, ids=lambda rule: rule["alert"])
def test_alerts_use_exported_metrics_and_their_labels(rule: dict[str, Any]) -> None:
    series = exported()
    expr = rule["expr"]
    used = set(re.findall(r"\bcie_[a-z_]+", expr))
    assert used, expr
    assert used <= set(series), used - set(series)
    for name, matchers in re.findall(r"\b(cie_[a-z_]+)\{([^}]*)\}", expr):
        for label in re.findall(r"(\w+)\s*=~?", matchers):
            assert label in series[name], (name, label)
    for grouping in re.findall(r"by \(([^)]*)\)", expr):
        for label in (word.strip() for word in grouping.split(",")):
            assert any(label in labels for name, labels in series.items() if name in used)


def test_the_partition_alert_counts_every_run_partition() -> None:
    (rule,) = [r for r in ALERTS if "cie_run_partitions_held" in r["expr"]]
    assert re.search(rf"<\s*{RUN_PARTITIONS}\b", rule["expr"])


@pytest.mark.parametrize(
    "deployment", by_kind(BASE_DOCS, "Deployment"), ids=lambda d: d["metadata"]["name"]
)
def test_pods_announce_a_metrics_port_the_scrape_policy_allows(deployment: dict[str, Any]) -> None:
    pod = deployment["spec"]["template"]
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    port = int(annotations["prometheus.io/port"])
    container_ports = {
        p["containerPort"] for c in pod["spec"]["containers"] for p in c.get("ports", [])
    }
    assert port in container_ports
    scrape = find(BASE_DOCS, "NetworkPolicy", "cie-allow-metrics-scrape")
    allowed = {p["port"] for rule in scrape["spec"]["ingress"] for p in rule["ports"]}
    assert port in allowed
