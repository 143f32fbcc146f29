"""Prometheus gauges of the newest monitor run of each deployment.

The same collector serves the scoring server's ``/metrics`` (for its own deployment)
and ``loopml monitor serve`` (for every deployment). It reads the store when scraped,
at most once per ``ttl_s``, so a scrape costs one small query, not a monitor run:

- ``loopml_monitor_dataset_drift``, ``loopml_monitor_drift_share``
- ``loopml_monitor_feature_drift{feature}``: each input column's drift statistic
- ``loopml_monitor_metric{metric}``: every figure the run computed (f1,
  estimated_f1, prediction_drift...)
- ``loopml_monitor_window_rows``, ``loopml_monitor_report_timestamp_seconds``
- ``loopml_monitor_alerts``: alerts recorded; ``loopml_monitor_retrains{status}``
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ..store import Store
from .records import latest_reports, monitor_counts


class MonitorCollector(Collector):
    """Gauges of the newest stored monitor run per deployment (of ``deployments``, or all)."""

    def __init__(
        self, store: Store, deployments: list[str] | None = None, ttl_s: float = 5.0
    ) -> None:
        self.store = store
        self.deployments = set(deployments) if deployments is not None else None
        self.ttl_s = ttl_s
        self._cached: list[GaugeMetricFamily] = []
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:
            if time.monotonic() - self._read_at >= self.ttl_s:
                self._cached = self._families()
                self._read_at = time.monotonic()
            yield from self._cached

    def _families(self) -> list[GaugeMetricFamily]:
        drift = _gauge("dataset_drift", "1 when the newest run found dataset drift.")
        share = _gauge("drift_share", "Share of input columns drifting in the newest run.")
        feature = _gauge(
            "feature_drift", "Each input column's drift statistic (newest run).", ("feature",)
        )
        metric = _gauge("metric", "Figures of the newest monitor run.", ("metric",))
        rows = _gauge("window_rows", "Predictions in the newest run's window.")
        stamp = _gauge("report_timestamp_seconds", "When the newest run was made.")
        alerts = _gauge("alerts", "Alerts recorded for the deployment.")
        retrains = _gauge("retrains", "Retrains the policy started, by status.", ("status",))
        for report in latest_reports(self.store):
            name = report.deployment
            if not self._wanted(name):
                continue
            drift.add_metric([name], float(report.dataset_drift))
            share.add_metric([name], report.drift_share)
            rows.add_metric([name], report.rows)
            stamp.add_metric([name], report.created_at / 1000)
            statistics = report.summary.get("feature_statistics") or {}
            for column, value in sorted(statistics.items()):
                if value is not None:
                    feature.add_metric([name, column], float(value))
            for key, value in sorted(report.metrics.items()):
                if value is not None:
                    metric.add_metric([name, key], float(value))
        alert_counts, retrain_counts = monitor_counts(self.store)
        for name, count in sorted(alert_counts.items()):
            if self._wanted(name):
                alerts.add_metric([name], count)
        for name, status, count in retrain_counts:
            if self._wanted(name):
                retrains.add_metric([name, status], count)
        return [drift, share, feature, metric, rows, stamp, alerts, retrains]

    def _wanted(self, deployment: str) -> bool:
        return self.deployments is None or deployment in self.deployments


def _gauge(name: str, documentation: str, labels: tuple[str, ...] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(
        f"loopml_monitor_{name}", documentation, labels=["deployment", *labels]
    )
