"""The scoring server's /metrics as Prometheus itself reads it: lint-clean, and scraped by
a real Prometheus server (the Debian package; these tests skip where it is missing)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import httpx2
import pytest

from ..helpers import free_port
from .support import FEATURES, ROW

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
needs_prometheus = pytest.mark.skipif(
    PROMETHEUS is None or PROMTOOL is None,
    reason="Prometheus is not installed (apt-get install --no-install-recommends prometheus; "
    ".ci/run installs it)",
)


def _score(url: str, count: int) -> None:
    body = {"dataframe_split": {"columns": FEATURES, "data": [ROW]}}
    with httpx2.Client(base_url=url, timeout=10) as client:
        for _ in range(count):
            assert client.post("/invocations", json=body).status_code == 200
        assert client.post("/invocations", json={"inputs": [["x", 1, 2]]}).status_code == 400


@needs_prometheus
def test_metrics_pass_promtool_lint(server) -> None:
    _score(server.url, 5)
    text = httpx2.get(server.url + "/metrics", timeout=10).text
    done = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert 'loopml_requests_total{deployment="churn-prod"' in text
    assert "loopml_request_duration_seconds_bucket" in text
    assert 'loopml_request_errors_total{code="invalid_input"' in text


@pytest.mark.slow
@needs_prometheus
def test_a_real_prometheus_scrapes_requests_by_variant_and_version(server, tmp_path: Path) -> None:
    _score(server.url, 7)
    port = free_port()
    config = tmp_path / "prometheus.yml"
    target = server.url.removeprefix("http://")
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: loopml\n    static_configs: [{{targets: ['{target}']}}]\n"
    )
    process = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        query = 'sum by (variant, model_version) (loopml_requests_total{status="200"})'
        url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": query})
        deadline = time.monotonic() + 60
        result: list = []
        while time.monotonic() < deadline and not result:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    result = json.load(response)["data"]["result"]
            except OSError:
                pass
            if not result:
                time.sleep(0.5)
        assert result, "Prometheus never scraped a sample from the scoring server"
        (series,) = result
        assert series["metric"] == {"variant": "main", "model_version": "1"}
        assert float(series["value"][1]) == 7
    finally:
        process.terminate()
        process.wait(timeout=30)
