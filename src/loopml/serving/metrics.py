"""What a scoring server tells Prometheus, and what its canary controller judges by.

Series carry ``deployment``, ``variant`` and ``model_version`` labels, so a dashboard can
set a canary beside its stable variant. Label children are looked up once per variant,
not per request. Beside the Prometheus series, each variant keeps a window of its own
latencies and errors since the canary's current step began (:class:`VariantWindow`).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.exposition import generate_latest

# The ``_created`` series double the exposition for no use on a scoring server.
disable_created_metrics()

LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)
# No negative bounds: prometheus_client drops a histogram's _sum when a bucket is negative.
PREDICTION_BUCKETS = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0, 2.0, 5.0, 10.0, 100.0, 1000.0)


@dataclass
class VariantWindow:
    """Requests, errors and recent latencies of one variant since ``reset``."""

    requests: int = 0
    errors: int = 0
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=20_000))

    def p99_ms(self) -> float | None:
        if not self.latencies:
            return None
        return float(np.percentile(np.fromiter(self.latencies, float), 99)) * 1000

    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": self.error_rate(),
            "p99_ms": self.p99_ms(),
        }


class ServingMetrics:
    """The Prometheus series of one server process, in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ("deployment", "variant", "model_version")
        self.requests = Counter(
            "loopml_requests",
            "Scoring requests answered, by protocol and HTTP status.",
            (*labels, "protocol", "status"),
            registry=self.registry,
        )
        self.errors = Counter(
            "loopml_request_errors",
            "Scoring requests that failed, by error code.",
            ("deployment", "variant", "model_version", "code"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "loopml_request_duration_seconds",
            "Time from the request's arrival to its answer, scoring included.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rows = Counter(
            "loopml_predictions",
            "Rows predicted (a request may hold many).",
            (*labels, "shadow"),
            registry=self.registry,
        )
        self.values = Histogram(
            "loopml_prediction_value",
            "Distribution of numeric predicted values (classes 0/1 land in their buckets).",
            labels,
            buckets=PREDICTION_BUCKETS,
            registry=self.registry,
        )
        self.classes = Counter(
            "loopml_predicted_class",
            "Predicted labels of models whose outputs are not numbers.",
            (*labels, "label"),
            registry=self.registry,
        )
        self.weight = Gauge(
            "loopml_variant_weight_percent",
            "Share of live traffic routed to each variant.",
            labels,
            registry=self.registry,
        )
        self.ready = Gauge(
            "loopml_ready", "1 when every variant's model is loaded.", registry=self.registry
        )
        self.revision = Gauge(
            "loopml_deployment_revision",
            "The deployment revision this process serves.",
            ("deployment",),
            registry=self.registry,
        )
        self.logged = Gauge(
            "loopml_prediction_log_rows",
            "Rows this process wrote to the prediction log.",
            ("deployment",),
            registry=self.registry,
        )
        self.windows: dict[str, VariantWindow] = {}
        self._lock = threading.Lock()
        self._children: dict[tuple[str, ...], Any] = {}

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def window(self, variant: str) -> VariantWindow:
        window = self.windows.get(variant)
        if window is None:
            with self._lock:
                window = self.windows.setdefault(variant, VariantWindow())
        return window

    def reset_windows(self) -> None:
        with self._lock:
            self.windows = {}

    def observe(
        self,
        deployment: str,
        variant: str,
        version: str,
        protocol: str,
        status: int,
        seconds: float,
        outputs: np.ndarray | None,
        code: str | None = None,
    ) -> None:
        """Count one answered request (``outputs`` None when it failed)."""
        key = (deployment, variant, version, protocol, str(status))
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(*key),
                self.latency.labels(deployment, variant, version),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)
        window = self.window(variant)
        window.requests += 1
        window.latencies.append(seconds)
        if outputs is None:
            window.errors += 1
            self.errors.labels(deployment, variant, version, code or "error").inc()
            return
        self.observe_outputs(deployment, variant, version, outputs, shadow=False)

    def observe_outputs(
        self, deployment: str, variant: str, version: str, outputs: np.ndarray, *, shadow: bool
    ) -> None:
        self.rows.labels(deployment, variant, version, str(shadow).lower()).inc(len(outputs))
        if shadow:
            return
        values = self.values.labels(deployment, variant, version)
        if outputs.dtype.kind in "biuf" and outputs.ndim == 1:
            for value in outputs[:1000].tolist():  # a huge batch need not be counted twice
                values.observe(float(value))
        elif outputs.ndim == 1:
            for value in outputs[:1000].tolist():
                self.classes.labels(deployment, variant, version, str(value)[:64]).inc()
