"""Promotion: point an alias at a version only when it passes its gates.

The candidate and the alias's current holder (the "champion" in gate expressions) are
evaluated on the same data in the same call, so the comparison is never between numbers
measured on different datasets. Both evaluations are recorded on their versions. A
refused promotion is recorded too, with every gate's values, and raises
:class:`~loopml.errors.GateFailed`; that makes the same call usable as a pipeline step,
where a failed gate stops the pipeline.

With ``require_approval`` a passing promotion is held as pending until another user
approves it; approval is refused if the alias moved in the meantime, because the gates
were checked against a champion that is no longer there.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import insert, select, update

from ..clock import now_ms
from ..errors import Conflict, GateFailed, InvalidInput, NotFound
from ..governance import audit
from ..ops import operation
from ..store import Store
from ..store.schema import model_aliases, model_promotions
from .aliases import move_alias
from .entities import Promotion
from .evaluations import EvaluationData, record_evaluation, resolve_data
from .gates import check_gates, parse_gate
from .refs import ModelRef, check_alias, check_model_name
from .versions import resolve_version

PENDING, PROMOTED, REFUSED, REJECTED = "pending", "promoted", "refused", "rejected"


_NUMBER = re.compile(r"[0-9]{1,9}")


@operation("models.promote", role="writer")
def promote(
    store: Store,
    name: str,
    version: int | str,
    *,
    to: str,
    gates: list[str] | tuple[str, ...] = (),
    data: Any = None,
    target: str | None = None,
    task: str | None = None,
    sensitive: list[str] | tuple[str, ...] = (),
    require_approval: bool = False,
    reason: str | None = None,
    against: str | None = None,
) -> Promotion:
    """Move ``name@to`` to ``version`` if every gate passes on ``data``.

    ``gates`` are expressions such as ``"auc >= 0.80"`` or ``"auc >= champion.auc - 0.005"``;
    ``data`` is a dataset reference (``customers@3``) or a DataFrame holding ``target``
    and any ``sensitive`` columns. A gate's ``champion.`` side is the version holding
    ``against`` (default: ``to``, the alias being moved), so a challenger can be held
    to the champion: ``to="challenger", against="champion"``. Raises
    :class:`GateFailed` when a gate fails.
    """
    check_model_name(name)
    check_alias(to)
    check_alias(against or to)
    parsed = [parse_gate(text) for text in gates]
    with store.read() as connection:
        number = _candidate_number(connection, name, version)
        holder = connection.execute(
            select(model_aliases.c.version).where(
                model_aliases.c.name == name, model_aliases.c.alias == to
            )
        ).scalar()
        compared = holder
        if against is not None and against != to:
            compared = connection.execute(
                select(model_aliases.c.version).where(
                    model_aliases.c.name == name, model_aliases.c.alias == against
                )
            ).scalar()
    if holder == number:
        raise Conflict(
            f"{name}@{to} already points at version {number}",
            hint=f"see the model: loopml models show {name}",
        )
    report: dict[str, Any] = {"passed": True, "gates": [], "candidate": {"version": number}}
    data_ref = None
    if parsed:
        if data is None or target is None:
            raise InvalidInput(
                "gates need data to evaluate on and its target column",
                hint="pass --data DATASET@VERSION --target COLUMN (or data=, target=)",
            )
        resolved = resolve_data(store, data)
        data_ref = resolved.ref or f"frame:{resolved.hash[:16]}"
        candidate = _evaluate(store, name, number, resolved, target, task, sensitive)
        champion = None
        if compared is not None and any(g.needs_champion for g in parsed):
            champion = _evaluate(store, name, compared, resolved, target, task, sensitive)
        results = check_gates(parsed, candidate, champion)
        report = {
            "passed": all(r.passed for r in results),
            "gates": [r.to_dict() for r in results],
            "candidate": {"version": number, "metrics": candidate},
            "champion": {"version": compared, "alias": against or to, "metrics": champion}
            if champion is not None
            else None,
            "data": data_ref,
        }
    status = REFUSED if not report["passed"] else PENDING if require_approval else PROMOTED
    now = now_ms()
    with store.write() as connection:
        row = {
            "name": name,
            "version": number,
            "alias": to,
            "status": status,
            "gates": json.dumps([g.text for g in parsed]),
            "report": json.dumps(report),
            "data_ref": data_ref,
            "reason": reason,
            "requested_by": store.actor,
            "requested_at": now,
            "decided_by": None if status == PENDING else store.actor,
            "decided_at": None if status == PENDING else now,
        }
        promotion_id = int(
            connection.execute(insert(model_promotions).values(**row)).inserted_primary_key[0]
        )
        if status == PROMOTED:
            move_alias(
                connection,
                store.actor,
                name,
                to,
                number,
                action="set",
                reason=reason or f"promotion #{promotion_id}",
            )
        audit.record(
            connection,
            actor=store.actor,
            action=f"model.promote.{status}",
            object_type="model_promotion",
            object_id=str(promotion_id),
            after={
                "model": f"{name}/{number}",
                "alias": to,
                "gates": row["gates"],
                "passed": report["passed"],
            },
        )
    promotion = get_promotion(store, promotion_id)
    if status == REFUSED:
        failed = [g["gate"] for g in report["gates"] if not g["passed"]]
        raise GateFailed(
            f"promotion of {name}/{number} to '{to}' refused: {len(failed)} gate(s) failed: "
            + "; ".join(failed),
            hint=f"see every gate's values: loopml models promotions {name}",
            promotion=promotion.to_dict(),
        )
    return promotion


@operation("models.approve", role="admin")
def approve(store: Store, promotion_id: int, *, reason: str | None = None) -> Promotion:
    """Carry out a pending promotion; the approver must not be the requester."""
    now = now_ms()
    with store.write() as connection:
        row = _pending(connection, promotion_id)
        if row.requested_by == store.actor:
            raise Conflict(
                f"promotion #{promotion_id} was requested by {row.requested_by}, who cannot "
                "also approve it",
                hint="another user approves it (LOOPML_USER names the acting user)",
            )
        holder = connection.execute(
            select(model_aliases.c.version).where(
                model_aliases.c.name == row.name, model_aliases.c.alias == row.alias
            )
        ).scalar()
        report = json.loads(row.report or "{}")
        checked_against = (report.get("champion") or {}).get("version")
        if checked_against is not None and holder != checked_against:
            raise Conflict(
                f"{row.name}@{row.alias} moved to version {holder} after promotion "
                f"#{promotion_id} was checked against version {checked_against}",
                hint="request the promotion again so the gates compare with the new holder",
            )
        connection.execute(
            update(model_promotions)
            .where(model_promotions.c.id == promotion_id)
            .values(status=PROMOTED, decided_by=store.actor, decided_at=now)
        )
        move_alias(
            connection,
            store.actor,
            row.name,
            row.alias,
            row.version,
            action="set",
            reason=reason or f"promotion #{promotion_id} approved",
        )
        audit.record(
            connection,
            actor=store.actor,
            action="model.promote.approved",
            object_type="model_promotion",
            object_id=str(promotion_id),
            before={"status": PENDING},
            after={"status": PROMOTED, "reason": reason},
        )
    return get_promotion(store, promotion_id)


@operation("models.reject", role="admin")
def reject(store: Store, promotion_id: int, *, reason: str | None = None) -> Promotion:
    """Close a pending promotion without moving the alias."""
    now = now_ms()
    with store.write() as connection:
        _pending(connection, promotion_id)
        connection.execute(
            update(model_promotions)
            .where(model_promotions.c.id == promotion_id)
            .values(status=REJECTED, decided_by=store.actor, decided_at=now, reason=reason)
        )
        audit.record(
            connection,
            actor=store.actor,
            action="model.promote.rejected",
            object_type="model_promotion",
            object_id=str(promotion_id),
            before={"status": PENDING},
            after={"status": REJECTED, "reason": reason},
        )
    return get_promotion(store, promotion_id)


@operation("models.get_promotion", role="reader")
def get_promotion(store: Store, promotion_id: int) -> Promotion:
    with store.read() as connection:
        row = connection.execute(
            select(model_promotions).where(model_promotions.c.id == promotion_id)
        ).first()
    if row is None:
        raise NotFound(f"no promotion #{promotion_id}", hint="list them: loopml models promotions")
    return _to_promotion(row)


@operation("models.list_promotions", role="reader")
def list_promotions(
    store: Store, name: str | None = None, *, status: str | None = None
) -> list[Promotion]:
    """Promotions, newest first, optionally of one model and in one status."""
    query = select(model_promotions)
    if name:
        query = query.where(model_promotions.c.name == check_model_name(name))
    if status:
        query = query.where(model_promotions.c.status == status)
    with store.read() as connection:
        rows = connection.execute(query.order_by(model_promotions.c.id.desc())).all()
    return [_to_promotion(row) for row in rows]


def _candidate_number(connection: Any, name: str, version: int | str) -> int:
    if isinstance(version, int) or (isinstance(version, str) and _NUMBER.fullmatch(version)):
        return resolve_version(connection, ModelRef(name, version=int(version)))
    return resolve_version(connection, ModelRef(name, alias=check_alias(version)))


def _evaluate(
    store: Store,
    name: str,
    number: int,
    data: EvaluationData,
    target: str,
    task: str | None,
    sensitive: list[str] | tuple[str, ...],
) -> dict[str, float | None]:
    from ..models.evaluation import evaluate
    from ..models.loaded import load_folder
    from .cache import fetch

    folder, uri = fetch(store, f"models:/{name}/{number}")
    evaluation = evaluate(
        load_folder(folder, uri=uri),
        data.frame,
        target=target,
        task=task,
        sensitive=list(sensitive),
    )
    record_evaluation(store, name, number, evaluation, data)
    return dict(evaluation.metrics)


def _pending(connection: Any, promotion_id: int) -> Any:
    row = connection.execute(
        select(model_promotions).where(model_promotions.c.id == promotion_id).with_for_update()
    ).first()
    if row is None:
        raise NotFound(f"no promotion #{promotion_id}", hint="list them: loopml models promotions")
    if row.status != PENDING:
        raise Conflict(
            f"promotion #{promotion_id} is {row.status}, not pending",
            hint="only a pending promotion can be approved or rejected",
        )
    return row


def _to_promotion(row: Any) -> Promotion:
    return Promotion(
        id=row.id,
        name=row.name,
        version=row.version,
        alias=row.alias,
        status=row.status,
        gates=json.loads(row.gates),
        report=json.loads(row.report) if row.report else None,
        data_ref=row.data_ref,
        reason=row.reason,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
    )
