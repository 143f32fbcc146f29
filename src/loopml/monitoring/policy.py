"""A deployment's monitoring policy: the rules that raise alerts, and what retrains.

    loopml monitor policy churn-prod --on drift --on "f1 < 0.75" \\
        --schedule "0 3 * * 0" --pipeline pipeline.py --canary 10,50,100

A rule is ``drift`` (the dataset-drift verdict) or ``METRIC OP NUMBER`` over the figures
a monitor run produces (:data:`METRICS`). A rule on a figure the run could not compute
(no labels yet for ``f1``) is not breached: it is reported as not evaluated, since an
alert on missing data would retrain on nothing.

The retraining contract: the policy runs the pipeline with ``alias=<policy alias>``
(``challenger``) among its parameters; the pipeline registers a candidate and moves that
alias to it only if it passes its promotion gates against the champion on the same
fresh holdout. The policy then rolls the candidate out as a canary.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select, update

from ..clock import now_ms
from ..errors import InvalidInput, NotFound
from ..governance import audit
from ..ops import operation
from ..store import Store
from ..store.schema import monitor_policies

METRICS: dict[str, str] = {
    "dataset_drift": "1 when at least the dataset share of columns drifted, else 0",
    "drift_share": "the share of input columns whose drift test fired",
    "drifted_features": "how many input columns drifted",
    "prediction_drift": "the prediction distribution's drift statistic (normed Wasserstein "
    "or Jensen-Shannon)",
    "label_drift": "the ground truth's drift statistic against the training target",
    "accuracy": "accuracy on the window's labelled predictions",
    "precision": "precision (binary: of the positive class; else macro)",
    "recall": "recall (binary: of the positive class; else macro)",
    "f1": "F1 (binary: of the positive class; else macro)",
    "roc_auc": "ROC AUC (binary classifiers with probabilities)",
    "mae": "mean absolute error (regressors)",
    "rmse": "root mean squared error (regressors)",
    "r2": "R² (regressors)",
    "estimated_accuracy": "accuracy estimated without labels (CBPE)",
    "estimated_precision": "precision estimated without labels (CBPE)",
    "estimated_recall": "recall estimated without labels (CBPE)",
    "estimated_f1": "F1 estimated without labels (CBPE)",
    "estimated_roc_auc": "ROC AUC estimated without labels (CBPE)",
    "error_changes": "change points the detectors (ADWIN, DDM, Page-Hinkley) found in "
    "the error stream",
    "rows": "predictions in the window",
    "labelled": "predictions in the window whose ground truth has arrived",
    "missing_share": "the largest missing-value share of any input column",
}
_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_RULE = re.compile(
    r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|==|!=|<|>)\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*$"
)
DEFAULT_RULES = ("drift",)


@dataclass(frozen=True)
class Rule:
    text: str
    metric: str
    op: str
    threshold: float

    def breached(self, metrics: Mapping[str, Any]) -> bool | None:
        """True when breached, False when not, None when the run lacks the figure."""
        value = metrics.get(self.metric)
        if value is None:
            return None
        return _OPERATORS[self.op](float(value), self.threshold)


def parse_rule(text: str) -> Rule:
    """``drift`` or ``METRIC OP NUMBER``; an unknown metric names the known ones."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("an empty policy rule", hint='e.g. --on drift or --on "f1 < 0.75"')
    if text.strip() == "drift":
        return Rule("drift", "dataset_drift", "==", 1.0)
    match = _RULE.match(text)
    if match is None:
        raise InvalidInput(
            f"cannot read the policy rule {text!r}",
            hint='write drift or METRIC OP NUMBER, e.g. "f1 < 0.75" (ops: < <= > >= == !=)',
        )
    metric, op, number = match.groups()
    if metric not in METRICS:
        raise InvalidInput(
            f"the policy rule {text!r} names an unknown metric '{metric}'",
            hint="known metrics: " + ", ".join(METRICS),
        )
    return Rule(text.strip(), metric, op, float(number))


@dataclass(frozen=True)
class Policy:
    deployment: str
    rules: tuple[str, ...] = DEFAULT_RULES
    window: str = "1h"
    schedule: str | None = None  # cron: retrain on it whatever the rules say
    pipeline: str | None = None  # FILE or FILE:NAME, run on an alert or the schedule
    params: dict[str, Any] = field(default_factory=dict)
    alias: str = "challenger"
    canary: tuple[int, ...] = (10, 50, 100)
    canary_interval: str = "1m"
    max_error_rate: float | None = None  # the canary rolls back above the stable's + this
    max_p99_ms: float | None = None  # ... or with a p99 latency above this
    webhook: str | None = None
    reference: str | None = None  # DATASET@VERSION instead of the training dataset
    min_labelled: int = 50  # labelled rows below which realised metrics are not computed

    @property
    def parsed_rules(self) -> list[Rule]:
        return [parse_rule(text) for text in self.rules]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_policy(policy: Policy) -> Policy:
    """Every field checked, so a bad policy is refused when set, not at 3 a.m."""
    check_fields(policy)
    if policy.pipeline is not None:
        _check_pipeline(policy)
    return policy


def check_fields(policy: Policy) -> Policy:
    """Every field but the pipeline's code (that is imported where it will run)."""
    from ..registry.refs import check_alias
    from ..serving.predictions import parse_duration_ms

    for rule in policy.rules:
        parse_rule(rule)
    parse_duration_ms(policy.window)
    parse_duration_ms(policy.canary_interval)
    check_alias(policy.alias)
    if policy.schedule is not None:
        from croniter import croniter

        if not croniter.is_valid(policy.schedule):
            raise InvalidInput(
                f"invalid --schedule {policy.schedule!r}",
                hint='a cron expression, e.g. "0 3 * * 0" (Sundays at 03:00)',
            )
    steps = list(policy.canary)
    if not steps or steps != sorted(set(steps)) or steps[0] <= 0 or steps[-1] != 100:
        raise InvalidInput(
            f"invalid canary steps {','.join(map(str, steps))}",
            hint="increasing percents ending at 100, e.g. 10,50,100",
        )
    for name in ("max_error_rate", "max_p99_ms"):
        value = getattr(policy, name)
        if value is not None and (isinstance(value, bool) or not value > 0):
            raise InvalidInput(f"{name} must be a positive number, not {value!r}")
    if policy.min_labelled < 1:
        raise InvalidInput("min_labelled must be at least 1")
    if policy.webhook is not None and not re.match(r"^https?://", policy.webhook):
        raise InvalidInput(
            f"the webhook {policy.webhook!r} is not an http(s) URL",
            hint="e.g. --webhook https://hooks.example.com/loopml",
        )
    if policy.pipeline is None and policy.schedule is not None:
        raise InvalidInput("a schedule retrains, so it needs --pipeline FILE")
    return policy


def _check_pipeline(policy: Policy) -> None:
    from ..pipelines.loading import load_pipeline

    path = Path(policy.pipeline.partition(":")[0])
    if not path.is_file():
        raise InvalidInput(
            f"no pipeline file at {policy.pipeline!r}",
            hint="give the training pipeline's file, e.g. --pipeline pipeline.py",
        )
    pipeline = load_pipeline(policy.pipeline)
    if "alias" not in pipeline.signature.parameters:
        raise InvalidInput(
            f"pipeline '{pipeline.name}' takes no 'alias' parameter",
            hint="the policy passes the alias a retrained model must win (e.g. challenger): "
            'add `alias: str = "champion"` to the pipeline and give it to the step that '
            "promotes",
        )
    pipeline.compile({**policy.params, "alias": policy.alias})


def set_policy(store: Store, policy: Policy) -> Policy:
    """Create or replace ``policy.deployment``'s policy (audited)."""
    from ..serving import deployments

    deployments.get(store, policy.deployment)  # NotFound names the deployment
    if policy.pipeline is not None:
        file, colon, name = policy.pipeline.partition(":")
        policy = Policy(**{**asdict(policy), "pipeline": str(Path(file).resolve()) + colon + name})
    check_policy(policy)
    return save_policy(store, policy)


@operation("monitor.save_policy", role="writer")
def save_policy(store: Store, policy: Policy) -> Policy:
    """Store ``policy`` as its deployment's policy, replacing the one before (audited)."""
    from ..serving import deployments

    deployments.get(store, policy.deployment)
    check_fields(policy)
    spec = json.dumps(policy.to_dict(), sort_keys=True)
    now = now_ms()
    with store.write() as connection:
        before = connection.execute(
            select(monitor_policies.c.spec).where(
                monitor_policies.c.deployment == policy.deployment
            )
        ).scalar()
        if before is None:
            connection.execute(
                insert(monitor_policies).values(
                    deployment=policy.deployment,
                    spec=spec,
                    created_by=store.actor,
                    created_at=now,
                    updated_at=now,
                    last_scheduled=now,
                )
            )
        else:
            connection.execute(
                update(monitor_policies)
                .where(monitor_policies.c.deployment == policy.deployment)
                .values(spec=spec, updated_at=now)
            )
        audit.record(
            connection,
            actor=store.actor,
            action="monitor.policy.set",
            object_type="deployment",
            object_id=policy.deployment,
            before=json.loads(before) if before else None,
            after=policy.to_dict(),
        )
    return policy


def get_policy(store: Store, deployment: str) -> Policy:
    found = find_policy(store, deployment)
    if found is None:
        raise NotFound(
            f"deployment '{deployment}' has no monitoring policy",
            hint=f"set one: loopml monitor policy {deployment} --on drift",
        )
    return found


@operation("monitor.find_policy", role="reader")
def find_policy(store: Store, deployment: str) -> Policy | None:
    """Deployment ``deployment``'s policy, or None."""
    with store.read() as connection:
        spec = connection.execute(
            select(monitor_policies.c.spec).where(monitor_policies.c.deployment == deployment)
        ).scalar()
    return _from_json(spec) if spec else None


@operation("monitor.policies", role="reader")
def list_policies(store: Store) -> list[Policy]:
    """Every policy, by deployment."""
    with store.read() as connection:
        specs = connection.execute(
            select(monitor_policies.c.spec).order_by(monitor_policies.c.deployment)
        ).scalars()
        return [_from_json(spec) for spec in specs]


@operation("monitor.delete_policy", role="writer")
def delete_policy(store: Store, deployment: str) -> None:
    """Remove deployment ``deployment``'s policy (audited)."""
    policy = get_policy(store, deployment)
    with store.write() as connection:
        connection.execute(
            delete(monitor_policies).where(monitor_policies.c.deployment == deployment)
        )
        audit.record(
            connection,
            actor=store.actor,
            action="monitor.policy.delete",
            object_type="deployment",
            object_id=deployment,
            before=policy.to_dict(),
        )


def _from_json(text: str) -> Policy:
    data = json.loads(text)
    data["rules"] = tuple(data.get("rules") or ())
    data["canary"] = tuple(data.get("canary") or ())
    return Policy(**data)


def evaluate_rules(
    rules: list[Rule], metrics: Mapping[str, Any]
) -> tuple[list[dict[str, Any]], list[str]]:
    """(breaches with their values, rules the run could not evaluate)."""
    breaches, unknown = [], []
    for rule in rules:
        verdict = rule.breached(metrics)
        if verdict is None:
            unknown.append(rule.text)
        elif verdict:
            breaches.append(
                {"rule": rule.text, "metric": rule.metric, "value": metrics[rule.metric]}
            )
    return breaches, unknown
