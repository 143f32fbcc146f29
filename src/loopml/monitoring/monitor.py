"""One monitor run: a window of a deployment's logged predictions against its reference.

    run = loopml.monitoring.monitor(store, "churn-prod", window="1h")
    run.metrics["f1"], run.data.drifted, run.breaches

The window's rows are the answers the deployment returned (shadows left out). The model
is the one the stable variant served most in the window, and the reference is that
model's training data (:mod:`.reference`). A run computes:

- data drift and quality of every input column (:func:`.drift_report.report`), ranked by the
  model's feature importance;
- prediction drift (the model's answers now against its answers on the reference) and
  label drift (the ground truth that has arrived against the training target);
- performance on the labelled rows over time, with change detectors on the error stream,
  and, for binary classifiers, performance estimated from probabilities where labels
  have not arrived (CBPE);
- the policy's rules over those figures: breaches become alerts.

Every run is stored (:mod:`.records`) with its JSON and HTML, unless ``save=False``.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..clock import now_ms
from ..errors import InvalidInput
from ..store import Store
from .drift import FeatureDrift, feature_drift
from .drift_report import MonitorReport, report
from .policy import Policy, evaluate_rules, find_policy, parse_rule

if TYPE_CHECKING:
    import pandas as pd

    from .alerts import Alert
    from .reference import Reference

TIME_BUCKETS = 10
_REALISED = ("accuracy", "precision", "recall", "f1", "roc_auc", "mae", "rmse", "r2")


@dataclass
class MonitorRun:
    """Everything one monitor run found, and what the policy made of it."""

    deployment: str
    window_start: int
    window_end: int
    rows: int
    labelled: int
    model: str
    reference: str
    task: str
    data: MonitorReport
    prediction_drift: FeatureDrift | None
    label_drift: FeatureDrift | None
    performance: list[dict[str, Any]]
    estimated: list[dict[str, Any]]
    changes: list[dict[str, Any]]
    metrics: dict[str, float | None]
    breaches: list[dict[str, Any]] = field(default_factory=list)
    not_evaluated: list[str] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    id: int | None = None
    created_at: int = 0

    @property
    def breached(self) -> bool:
        return bool(self.breaches)

    def summary(self) -> dict[str, Any]:
        """The headline figures: what a list, a gauge or an alert needs."""
        return {
            "metrics": self.metrics,
            "drifted": list(self.data.drifted),
            "feature_statistics": {
                name: result.statistic for name, result in self.data.features.items()
            },
            "breaches": self.breaches,
            "not_evaluated": self.not_evaluated,
            "task": self.task,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "deployment": self.deployment,
            "created_at": self.created_at,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "rows": self.rows,
            "labelled": self.labelled,
            "model": self.model,
            "reference": self.reference,
            "task": self.task,
            "metrics": self.metrics,
            "breaches": self.breaches,
            "not_evaluated": self.not_evaluated,
            "alerts": [alert.to_dict() for alert in self.alerts],
            "prediction_drift": _drift_dict(self.prediction_drift),
            "label_drift": _drift_dict(self.label_drift),
            "performance": self.performance,
            "estimated": self.estimated,
            "changes": self.changes,
            "data": self.data.to_dict(),
        }

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **{"indent": 2, "default": str, **kwargs})

    def to_html(self, *, inline_plotly: bool = True) -> str:
        """One self-contained page (plotly.js inlined; aggregated data only)."""
        from .monitor_html import monitor_html

        return monitor_html(self, inline_plotly=inline_plotly)

    def save_html(self, path: str | os.PathLike[str]) -> Path:
        target = Path(path)
        target.write_text(self.to_html(), encoding="utf-8")
        return target


def monitor(
    store: Store,
    deployment: str,
    *,
    window: str | None = None,
    since: Any = None,
    until: Any = None,
    rules: list[str] | None = None,
    reference: str | None = None,
    save: bool = True,
    alert: bool | None = None,
) -> MonitorRun:
    """Monitor ``deployment`` over the last ``window`` (or ``since``..``until``).

    ``rules`` replace the policy's rules for this run; ``reference`` (``DATASET@V``)
    replaces the model's training dataset. Raises InvalidInput when the window holds no
    predictions: there is nothing to report on, and no report is stored. Breaches
    become alerts when ``alert`` is true (by default: when the run is saved).
    """
    from ..serving import deployments
    from ..serving.predictions import parse_duration_ms, predictions, to_ms

    found = deployments.get(store, deployment)
    policy = find_policy(store, deployment) or Policy(deployment)
    parsed = [parse_rule(text) for text in (rules if rules is not None else policy.rules)]
    now = now_ms()
    end = to_ms(until, now=now) if until is not None else now
    start = (
        to_ms(since, now=now)
        if since is not None
        else end - parse_duration_ms(window or policy.window)
    )
    frame = predictions(store, deployment, since=start, until=end)
    if frame.empty:
        raise InvalidInput(
            f"deployment '{deployment}' logged no predictions in the window "
            f"{_iso(start)} .. {_iso(end)}: no report",
            hint="widen --window, or check that the server logs to this store",
        )
    model = _window_model(frame, _stable_variant(found.spec))
    from .reference import load_version_model, positive_proba, reference_for

    loaded = load_version_model(store, f"models:/{model}")
    ref = reference_for(store, model, dataset=reference or policy.reference, loaded=loaded)
    columns = list(ref.inputs.columns)
    current = frame[[c for c in columns if c in frame.columns]]
    data = report(ref.inputs, current, columns=columns, **_importance(loaded, columns))
    task = _task(ref, frame)
    proba = None
    if task == "binary" and ref.proba is not None and len(current.columns) == len(columns):
        proba = positive_proba(loaded, current)
    labelled = frame[frame["label"].notna()]
    run = MonitorRun(
        deployment=deployment,
        window_start=start,
        window_end=end,
        rows=len(frame),
        labelled=len(labelled),
        model=model,
        reference=ref.dataset,
        task=task,
        data=data,
        prediction_drift=_prediction_drift(ref, frame, task),
        label_drift=_label_drift(ref, labelled, task),
        performance=[],
        estimated=[],
        changes=[],
        metrics={},
        created_at=now,
    )
    _performance(run, frame, proba, ref, policy.min_labelled)
    run.breaches, run.not_evaluated = evaluate_rules(parsed, run.metrics)
    if save:
        from .records import save_run

        save_run(store, run)
    if (save if alert is None else alert) and run.breaches:
        from .alerts import raise_alerts

        run.alerts = raise_alerts(
            store, deployment, run.breaches, report_id=run.id, webhook=policy.webhook
        )
    return run


def _stable_variant(spec: Any) -> str:
    if spec.canary is not None and spec.canary.status == "running":
        return spec.canary.stable
    live = sorted(spec.live, key=lambda variant: -variant.weight)
    return live[0].name


def _window_model(frame: pd.DataFrame, stable: str) -> str:
    """The model version the stable variant served most in the window."""
    rows = frame[frame["variant"] == stable]
    if rows.empty:
        rows = frame
    counts = Counter(zip(rows["model"], rows["version"], strict=True))
    (name, version), _ = counts.most_common(1)[0]
    return f"{name}/{int(version)}"


def _importance(loaded: Any, columns: list[str]) -> dict[str, Any]:
    """The ``importance`` argument of :func:`report`, where the model offers one."""
    try:
        from .importance import model_importance
    except ImportError:  # pragma: no cover - the module ships with the package
        return {}
    found = model_importance(loaded.raw, columns)
    return {"importance": found} if found else {}


def _task(ref: Reference, frame: pd.DataFrame) -> str:
    from .performance import infer_task

    labels = ref.target if ref.target is not None else frame["label"].dropna()
    if labels is None or len(labels) == 0:
        labels = frame["prediction"]
    return infer_task(labels, frame["prediction"])


def _as_kind(values: Any, task: str) -> pd.Series:
    import pandas as pd

    series = pd.Series(values).reset_index(drop=True)
    return series.astype(str) if task != "regression" else series.astype(float)


def _prediction_drift(ref: Reference, frame: pd.DataFrame, task: str) -> FeatureDrift | None:
    kind = "numeric" if task == "regression" else "categorical"
    return feature_drift(
        "prediction",
        _as_kind(ref.predictions, task),
        _as_kind(frame["prediction"], task),
        kind=kind,
    )


def _label_drift(ref: Reference, labelled: pd.DataFrame, task: str) -> FeatureDrift | None:
    if ref.target is None or labelled.empty:
        return None
    kind = "numeric" if task == "regression" else "categorical"
    return feature_drift(
        "label", _as_kind(ref.target, task), _as_kind(labelled["label"], task), kind=kind
    )


def _performance(
    run: MonitorRun, frame: pd.DataFrame, proba: Any, ref: Reference, min_labelled: int
) -> None:
    """Realised performance over time, change points, and the CBPE estimate, into ``run``."""
    from .changes import detect_changes
    from .performance import performance_over_time

    frame = frame.copy()
    if proba is not None:
        frame["proba"] = proba
    positive = _positive(ref)
    if run.labelled:
        frame["label"] = _align_labels(frame["label"], frame["prediction"])
    points = performance_over_time(frame, task=run.task, buckets=TIME_BUCKETS, positive=positive)
    run.performance = [point.to_dict() for point in points]
    metrics: dict[str, float | None] = dict.fromkeys(_REALISED)
    if run.labelled >= min_labelled:
        whole = performance_over_time(frame, task=run.task, buckets=1, positive=positive)[0]
        metrics.update(whole.metrics)
        run.changes = [c.to_dict() for c in detect_changes(frame, task=run.task)]
    if proba is not None and ref.target is not None and ref.proba is not None:
        from .cbpe import CBPE

        if ref.target.nunique() == 2:
            estimator = CBPE().fit(ref.proba, ref.target.to_numpy(), positive=positive)
            for name, estimate in estimator.estimate(proba).metrics.items():
                metrics[f"estimated_{name}"] = estimate.value
            run.estimated = [
                _estimate_point(point.to_dict())
                for point in estimator.estimate_over_time(frame, buckets=TIME_BUCKETS)
            ]
    data = run.data
    metrics.update(
        dataset_drift=float(data.dataset_drift),
        drift_share=data.drift_share,
        drifted_features=float(len(data.drifted)),
        prediction_drift=run.prediction_drift.statistic if run.prediction_drift else None,
        label_drift=run.label_drift.statistic if run.label_drift else None,
        error_changes=float(len(run.changes)) if run.labelled >= min_labelled else None,
        rows=float(run.rows),
        labelled=float(run.labelled),
        missing_share=max(
            (quality.missing_current for quality in data.quality.values()), default=None
        ),
    )
    run.metrics = metrics


def _estimate_point(point: dict[str, Any]) -> dict[str, Any]:
    """A CBPE period as the page charts it: each metric's value and its 3-sigma band."""
    estimate = point.pop("estimate") or {"metrics": {}}
    point["metrics"] = {name: m["value"] for name, m in estimate["metrics"].items()}
    point["bands"] = {name: [m["lower"], m["upper"]] for name, m in estimate["metrics"].items()}
    return point


def _positive(ref: Reference) -> Any:
    """The positive class of a binary task: the larger of the two training classes
    (1 over 0, True over False), the convention scikit-learn's ``classes_[1]`` follows."""
    if ref.target is None:
        return None
    classes = sorted(ref.target.dropna().unique().tolist())
    return classes[-1] if len(classes) == 2 else None


def _align_labels(labels: pd.Series, predictions: pd.Series) -> pd.Series:
    """Labels arrive as JSON values; give them the predictions' type where they fit."""
    import pandas as pd

    kind = predictions.dtype
    try:
        present = labels.dropna()
        converted = present.astype(kind)
    except (TypeError, ValueError):
        return labels
    out = pd.Series([None] * len(labels), dtype=object, index=labels.index)
    out[present.index] = converted
    return out


def _drift_dict(result: FeatureDrift | None) -> dict[str, Any] | None:
    return None if result is None else result.to_dict()


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
