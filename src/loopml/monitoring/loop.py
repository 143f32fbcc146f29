"""The closed loop: an alert or the schedule retrains, the result goes out as a canary.

    retrain(store, "churn-prod", trigger="alert #12")

1. The policy's pipeline runs (on the newest data version: pipelines read datasets by
   name) with ``alias=<policy alias>`` among its parameters.
2. The candidate is the model version that pipeline run registered. It passed its gates
   against the champion on the run's fresh holdout exactly when the run moved the
   policy's alias (``churn@challenger``) to it; otherwise it is rejected and nothing
   changes.
3. A passing candidate starts a canary on the deployment with the policy's steps. The
   serving process judges each step against the stable variant; on completion it moves
   the stable variant's alias (``churn@champion``) to the candidate, or rolls it back.
4. :func:`settle` reads the canary's outcome into the retrain record.

Each transition is one audit event on ``monitor_retrain:<id>``; the retrain names its
pipeline run and candidate, so ``loopml lineage retrain:<id>`` links the alert, the
data, the run and the model.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import insert, select, update

from ..clock import now_ms
from ..errors import Conflict, InvalidInput, LoopmlError, NotFound
from ..governance import audit
from ..ops import operation
from ..store import Store
from ..store.schema import model_aliases, model_promotions, model_versions, monitor_policies
from ..store.schema import monitor_retrains as retrains
from .policy import Policy, find_policy, get_policy, list_policies

if TYPE_CHECKING:
    from .monitor import MonitorRun

ACTIVE = ("running", "canary")


@dataclass(frozen=True)
class Retrain:
    id: int
    deployment: str
    trigger: str
    status: str  # running | canary | promoted | rejected | failed
    started_at: int
    finished_at: int | None
    pipeline_run: str | None
    candidate: str | None
    detail: str | None
    owner: str | None = None  # host:pid of the process that runs it

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def retrain(
    store: Store,
    deployment: str,
    *,
    trigger: str = "manual",
    progress: bool = False,
    force: bool = False,
) -> Retrain:
    """Run the policy's pipeline and roll a passing candidate out as a canary.

    Another retrain still active refuses this one (Conflict), unless ``force``: then it
    is abandoned first (its canary, if running, is aborted).
    """
    policy = get_policy(store, deployment)
    if policy.pipeline is None:
        raise InvalidInput(
            f"the policy of '{deployment}' names no pipeline to retrain with",
            hint=f"loopml monitor policy {deployment} --pipeline pipeline.py",
        )
    active = active_retrain(store, deployment)
    if active is not None and force:
        _abandon(store, active)
    elif active is not None:
        raise Conflict(
            f"retrain #{active.id} of '{deployment}' is still {active.status}"
            + (f" (in {active.owner})" if active.status == "running" and active.owner else ""),
            hint=f"wait for it to end, or abandon it: loopml monitor retrain {deployment} --force",
        )
    retrain_id = start_retrain(store, deployment, trigger, _owner())
    try:
        pipeline_run = _run_pipeline(store, policy, progress)
    except LoopmlError as error:  # a failed step names its run: to trace it, or resume it
        ran = error.details.get("pipeline_run_id")
        return _finish(store, retrain_id, "failed", detail=error.message, pipeline_run=ran)
    except BaseException as error:  # Ctrl-C or a bug: a retrain left "running" blocks all
        _finish(store, retrain_id, "failed", detail=f"interrupted: {error!r}")
        raise
    update_retrain(store, retrain_id, pipeline_run=pipeline_run)
    candidate = pipeline_candidate(store, pipeline_run)
    if candidate is None:
        return _finish(
            store, retrain_id, "rejected", detail="the pipeline run registered no model version"
        )
    name, version = candidate
    update_retrain(store, retrain_id, candidate=f"{name}/{version}")
    refused = promotion_refusal(store, name, version, policy.alias)
    if refused is not None:
        return _finish(store, retrain_id, "rejected", detail=refused)
    return _start_canary(store, retrain_id, policy, name, version)


def act(store: Store, run: MonitorRun, *, progress: bool = False) -> Retrain | None:
    """Retrain when ``run`` raised alerts and the policy has a pipeline and none is active."""
    policy = find_policy(store, run.deployment)
    if not run.alerts or policy is None or policy.pipeline is None:
        return None
    if active_retrain(store, run.deployment) is not None:
        return None
    trigger = "alert " + ", ".join(f"#{alert.id} {alert.rule}" for alert in run.alerts)
    return retrain(store, run.deployment, trigger=trigger[:250], progress=progress)


def settle(store: Store, deployment: str | None = None) -> list[Retrain]:
    """Record the outcome of retrains whose canary has ended; returns those settled."""
    from ..serving import deployments

    settled = []
    for record in list_retrains(store, deployment, statuses=("canary",)):
        try:
            spec = deployments.get(store, record.deployment).spec
        except NotFound:
            settled.append(_finish(store, record.id, "failed", detail="deployment deleted"))
            continue
        canary = spec.canary
        if canary is None or canary.status == "running":
            continue
        if canary.status == "promoted":
            moved = canary.moved
            detail = (
                f"canary completed; {moved[0]}@{moved[1]} moved from version {moved[2]} "
                f"to {moved[3]}"
                if moved
                else "canary completed; the stable variant now serves " + str(record.candidate)
            )
            settled.append(_finish(store, record.id, "promoted", detail=detail))
        else:
            reason = canary.reason or canary.status
            settled.append(_finish(store, record.id, "rejected", detail=f"canary {reason}"))
    return settled


@operation("monitor.take_schedules", role="writer")
def due_schedules(store: Store, now: int | None = None) -> list[Policy]:
    """Policies whose cron schedule has a slot since it last acted; marks the slot taken."""
    from datetime import UTC, datetime

    from croniter import croniter

    now = now or now_ms()
    due = []
    for policy in list_policies(store):
        if policy.schedule is None:
            continue
        with store.write() as connection:
            last = connection.execute(  # locked: two services take a slot once
                select(monitor_policies.c.last_scheduled)
                .where(monitor_policies.c.deployment == policy.deployment)
                .with_for_update()
            ).scalar()
            start = datetime.fromtimestamp((last or now) / 1000, tz=UTC)
            slot = croniter(policy.schedule, start).get_next(datetime)
            if slot.timestamp() * 1000 <= now:
                connection.execute(
                    update(monitor_policies)
                    .where(monitor_policies.c.deployment == policy.deployment)
                    .values(last_scheduled=now)
                )
                due.append(policy)
    return due


def active_retrain(store: Store, deployment: str) -> Retrain | None:
    """The deployment's retrain still running or in its canary, if any.

    A retrain whose process ended without finishing it (kill -9, a power cut) would
    block every later one; when that process was on this machine and is gone, the
    retrain is marked failed here instead.
    """
    found = list_retrains(store, deployment, statuses=ACTIVE, limit=1)
    if not found:
        return None
    active = found[0]
    if active.status == "running" and _owner_gone(active.owner):
        _finish(store, active.id, "failed", detail=f"interrupted: {active.owner} ended")
        return None
    return active


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _owner_gone(owner: str | None) -> bool:
    from ..processes import pid_alive

    host, _, pid = (owner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    return not pid_alive(int(pid))


def _abandon(store: Store, active: Retrain) -> None:
    from ..serving import deployments

    if active.status == "canary":
        spec = deployments.get(store, active.deployment).spec
        if spec.canary is not None and spec.canary.status == "running":
            deployments.abort_canary(
                store, active.deployment, reason=f"retrain #{active.id} abandoned"
            )
    _finish(store, active.id, "failed", detail=f"abandoned by {store.actor}")


@operation("monitor.retrains", role="reader")
def list_retrains(
    store: Store,
    deployment: str | None = None,
    *,
    statuses: tuple[str, ...] | None = None,
    limit: int = 50,
) -> list[Retrain]:
    """Retrains, newest first."""
    query = select(retrains).order_by(retrains.c.id.desc()).limit(limit)
    if deployment is not None:
        query = query.where(retrains.c.deployment == deployment)
    if statuses is not None:
        query = query.where(retrains.c.status.in_(statuses))
    with store.read() as connection:
        return [Retrain(**row._mapping) for row in connection.execute(query).all()]


@operation("monitor.get_retrain", role="reader")
def get_retrain(store: Store, retrain_id: int) -> Retrain:
    """Retrain ``retrain_id``."""
    with store.read() as connection:
        row = connection.execute(select(retrains).where(retrains.c.id == retrain_id)).first()
    if row is None:
        raise NotFound(f"no retrain #{retrain_id}", hint="list them: loopml monitor retrains")
    return Retrain(**row._mapping)


# --- steps ---------------------------------------------------------------------------


def _run_pipeline(store: Store, policy: Policy, progress: bool) -> str:
    from ..pipelines.loading import load_pipeline
    from ..pipelines.runner import run_pipeline

    assert policy.pipeline is not None
    pipeline = load_pipeline(policy.pipeline)
    result = run_pipeline(
        pipeline,
        {**policy.params, "alias": policy.alias},
        store=store,
        progress=progress,
    )
    return result.id


@operation("monitor.candidate", role="reader")
def pipeline_candidate(store: Store, pipeline_run: str) -> tuple[str, int] | None:
    """The model version pipeline run ``pipeline_run`` registered last, if any."""
    with store.read() as connection:
        row = connection.execute(
            select(model_versions.c.name, model_versions.c.version)
            .where(model_versions.c.pipeline_run_id == pipeline_run)
            .order_by(model_versions.c.created_at.desc())
            .limit(1)
        ).first()
    return (row.name, int(row.version)) if row else None


@operation("monitor.refusal", role="reader")
def promotion_refusal(store: Store, name: str, version: int, alias: str) -> str | None:
    """Why ``name/version`` does not hold ``alias`` (None when it does)."""
    with store.read() as connection:
        holder = connection.execute(
            select(model_aliases.c.version).where(
                model_aliases.c.name == name, model_aliases.c.alias == alias
            )
        ).scalar()
        if holder == version:
            return None
        promotion = connection.execute(
            select(model_promotions.c.id, model_promotions.c.report)
            .where(
                model_promotions.c.name == name,
                model_promotions.c.version == version,
                model_promotions.c.alias == alias,
            )
            .order_by(model_promotions.c.id.desc())
            .limit(1)
        ).first()
    if promotion is None:
        return f"{name}/{version} was not promoted to '{alias}' by the pipeline"
    import json

    report = json.loads(promotion.report)
    failed = [gate["gate"] for gate in report.get("gates", []) if not gate.get("passed")]
    return (
        f"{name}/{version} failed its gates to '{alias}' (promotion #{promotion.id}): "
        + "; ".join(failed or ["refused"])
    )


def _start_canary(
    store: Store, retrain_id: int, policy: Policy, name: str, version: int
) -> Retrain:
    from ..serving import deployments
    from ..serving.predictions import parse_duration_ms

    try:
        deployments.canary(
            store,
            policy.deployment,
            f"models:/{name}/{version}",
            steps=list(policy.canary),
            interval_s=parse_duration_ms(policy.canary_interval) / 1000,
            max_error_rate=policy.max_error_rate,
            max_p99_ms=policy.max_p99_ms,
            reason=f"retrain #{retrain_id}",
        )
    except LoopmlError as error:
        return _finish(store, retrain_id, "failed", detail=error.message)
    return update_retrain(
        store,
        retrain_id,
        status="canary",
        detail=f"canary of {name}/{version} at steps {','.join(map(str, policy.canary))}",
        action="canary",
    )


@operation("monitor.start_retrain", role="writer")
def start_retrain(store: Store, deployment: str, trigger: str, owner: str) -> int:
    """Record a retrain of ``deployment`` that ``owner`` (host:pid) runs; returns its id."""
    with store.write() as connection:
        retrain_id = int(
            connection.execute(
                insert(retrains).values(
                    deployment=deployment,
                    trigger=trigger,
                    status="running",
                    started_at=now_ms(),
                    owner=owner,
                )
            ).inserted_primary_key[0]
        )
        audit.record(
            connection,
            actor=store.actor,
            action="monitor.retrain.start",
            object_type="monitor_retrain",
            object_id=str(retrain_id),
            after={"deployment": deployment, "trigger": trigger},
        )
    return retrain_id


@operation("monitor.update_retrain", role="writer")
def update_retrain(
    store: Store,
    retrain_id: int,
    *,
    status: Literal["running", "canary", "promoted", "rejected", "failed"] | None = None,
    detail: str | None = None,
    finished_at: int | None = None,
    pipeline_run: str | None = None,
    candidate: str | None = None,
    action: str | None = None,
) -> Retrain:
    """Set fields of retrain ``retrain_id``; with ``action``, audited as that step."""
    values = {
        key: value
        for key, value in {
            "status": status,
            "detail": detail,
            "finished_at": finished_at,
            "pipeline_run": pipeline_run,
            "candidate": candidate,
        }.items()
        if value is not None
    }
    get_retrain(store, retrain_id)  # NotFound names it
    with store.write() as connection:
        if values:
            connection.execute(update(retrains).where(retrains.c.id == retrain_id).values(**values))
        if action is not None:
            audit.record(
                connection,
                actor=store.actor,
                action=f"monitor.retrain.{action}",
                object_type="monitor_retrain",
                object_id=str(retrain_id),
                after=values,
            )
    return get_retrain(store, retrain_id)


def _finish(store: Store, retrain_id: int, status: str, *, detail: str, **values: Any) -> Retrain:
    return update_retrain(
        store,
        retrain_id,
        status=status,
        detail=detail,
        finished_at=now_ms(),
        action=status,
        **values,
    )
