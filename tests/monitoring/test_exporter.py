"""The monitoring gauges as Prometheus reads them: from the collector, on the scoring
server's /metrics, linted by promtool, and scraped from ``loopml monitor serve`` by a real
Prometheus (the Debian package; those tests skip where it is missing)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import httpx2
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from loopml.monitoring.exporter import MonitorCollector
from loopml.monitoring.monitor import monitor
from loopml.monitoring.policy import Policy, set_policy
from loopml.serving.app import ServerSettings
from loopml.serving.server import make_app
from loopml.store import Store

from ..helpers import free_port
from .support import DEPLOYMENT, Production, customers, wait_until

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
_MISSING = "(apt-get install --no-install-recommends prometheus; .ci/run installs it)"


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``{(name, sorted labels): value}`` of an exposition."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _exposition(store: Store, deployments: list[str] | None = None) -> str:
    registry = CollectorRegistry()
    registry.register(MonitorCollector(store, deployments, ttl_s=0))
    return generate_latest(registry).decode()


def _key(name: str, **labels: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return (f"loopml_monitor_{name}", tuple(sorted({"deployment": DEPLOYMENT, **labels}.items())))


def test_the_gauges_show_the_newest_run(production: Production) -> None:
    store = production.store
    since, until = production.window(customers(600, seed=1), labelled=300)
    steady = monitor(store, DEPLOYMENT, since=since, until=until)

    samples = _samples(_exposition(store))

    assert samples[_key("dataset_drift")] == 0.0
    assert samples[_key("drift_share")] == steady.data.drift_share
    assert samples[_key("window_rows")] == 600
    assert samples[_key("report_timestamp_seconds")] == steady.created_at / 1000
    for column, result in steady.data.features.items():
        assert samples[_key("feature_drift", feature=column)] == pytest.approx(result.statistic)
    for name in ("f1", "accuracy", "roc_auc", "estimated_f1", "prediction_drift"):
        assert samples[_key("metric", metric=name)] == pytest.approx(steady.metrics[name])
    assert _key("metric", metric="mae") not in samples  # a regressor's figure: none here
    assert _key("alerts") not in samples

    since, until = production.window(customers(600, seed=2, drift=True))
    drifted = monitor(store, DEPLOYMENT, since=since, until=until, rules=["drift"])

    samples = _samples(_exposition(store))

    assert samples[_key("dataset_drift")] == 1.0
    assert samples[_key("drift_share")] == drifted.data.drift_share > steady.data.drift_share
    assert samples[_key("feature_drift", feature="monthly")] == pytest.approx(
        drifted.data.features["monthly"].statistic
    )
    assert _key("metric", metric="f1") not in samples  # no labels in the newer window
    assert samples[_key("alerts")] == 1


def test_the_gauges_of_other_deployments_are_left_out(steady: Production) -> None:
    monitor(steady.store, DEPLOYMENT, window="1h")
    assert "churn-prod" in _exposition(steady.store, [DEPLOYMENT])
    samples = _samples(_exposition(steady.store, ["another"]))
    assert not any(dict(labels).get("deployment") == DEPLOYMENT for _, labels in samples)


def test_no_report_no_gauge(deployed: Store) -> None:
    samples = _samples(_exposition(deployed))
    assert not any(name.startswith("loopml_monitor_") for name, _ in samples)


def test_the_scoring_server_shows_its_deployments_gauges(steady: Production) -> None:
    run = monitor(steady.store, DEPLOYMENT, window="1h")
    app = make_app(steady.store, DEPLOYMENT, settings=ServerSettings(reload_interval=0.1))
    with TestClient(app) as client:
        wait_until(lambda: client.get("/v2/health/ready").status_code == 200, what="ready")
        text = client.get("/metrics").text

    samples = _samples(text)
    assert samples[_key("drift_share")] == run.data.drift_share
    assert samples[_key("metric", metric="f1")] == pytest.approx(run.metrics["f1"])
    assert samples[_key("window_rows")] == 800


@pytest.mark.skipif(PROMTOOL is None, reason=f"promtool is not installed {_MISSING}")
def test_the_exposition_passes_promtool_lint(drifted: Production) -> None:
    monitor(drifted.store, DEPLOYMENT, window="1h")
    text = _exposition(drifted.store)
    done = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert 'loopml_monitor_feature_drift{deployment="churn-prod",feature="plan"}' in text


def _query(url: str, query: str, timeout: float = 60) -> list:
    address = f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(address, timeout=2) as response:
                result = json.load(response)["data"]["result"]
            if result:
                return result
        except OSError:
            pass
        time.sleep(0.5)
    return []


@pytest.mark.slow
@pytest.mark.skipif(PROMETHEUS is None, reason=f"Prometheus is not installed {_MISSING}")
def test_a_real_prometheus_scrapes_loopml_monitor_serve(
    drifted: Production, tmp_path: Path
) -> None:
    run = monitor(drifted.store, DEPLOYMENT, window="1h")
    set_policy(drifted.store, Policy(DEPLOYMENT))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    logs = tmp_path / "monitor-serve.log"
    loopml = Path(sys.executable).with_name("loopml")
    command = [str(loopml), "monitor", "serve", "--every", "0", "--port", str(port)]
    with open(logs, "wb") as output:
        service = subprocess.Popen(
            command, cwd=drifted.root, env=dict(os.environ), stdout=output, stderr=output
        )
    prometheus = None
    try:

        def up() -> bool:
            assert service.poll() is None, logs.read_text()
            try:
                return httpx2.get(url + "/health", timeout=2).json() == {"status": "ok"}
            except httpx2.TransportError:
                return False

        wait_until(up, what="loopml monitor serve", timeout=60)
        (listed,) = httpx2.get(url + "/reports", timeout=5).json()
        assert (listed["id"], listed["dataset_drift"]) == (run.id, True)

        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            f"  - job_name: monitor\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
        )
        prom_port = free_port()
        prometheus = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        result = _query(f"http://127.0.0.1:{prom_port}", "loopml_monitor_drift_share")
        assert result, "Prometheus never scraped loopml_monitor_drift_share"
        (series,) = result
        assert series["metric"]["deployment"] == DEPLOYMENT
        assert series["metric"]["job"] == "monitor"
        assert float(series["value"][1]) == pytest.approx(run.data.drift_share)
        assert run.data.drift_share >= 0.5
    finally:
        for process in (prometheus, service):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
