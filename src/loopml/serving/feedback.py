"""Ground truth for logged predictions: ``{"id": ..., "label": ...}``, one or a batch.

Labels usually arrive long after the prediction (a customer churns a month later). Each
id must name a logged prediction of the deployment; a batch naming any unknown id is
refused whole, so a typo never half-applies. Sending a label again replaces it.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..clock import now_ms
from ..errors import InvalidInput, NotFound
from ..governance import audit
from ..ops import operation
from ..store import Store
from ..store.schema import prediction_feedback
from ..store.upsert import conflict_insert
from .predictions import find_times

MAX_ITEMS = 10_000


def parse_items(payload: Any) -> list[tuple[str, Any]]:
    """(id, label) pairs from one ``{"id", "label"}`` object or a list of them."""
    items = payload if isinstance(payload, list) else [payload]
    if not items:
        raise InvalidInput("the feedback batch is empty", hint='send {"id": ..., "label": ...}')
    if len(items) > MAX_ITEMS:
        raise InvalidInput(
            f"{len(items)} feedback items in one request; at most {MAX_ITEMS}",
            hint="send them in several batches",
        )
    pairs = []
    for index, item in enumerate(items):
        where = f"feedback item {index}" if isinstance(payload, list) else "feedback"
        if not isinstance(item, dict) or "id" not in item or "label" not in item:
            raise InvalidInput(
                f"{where} must be an object with 'id' and 'label'",
                hint='e.g. {"id": "0193a…", "label": 1}',
            )
        extra = set(item) - {"id", "label"}
        if extra:
            raise InvalidInput(f"{where} has unknown field(s): {', '.join(sorted(extra))}")
        prediction_id, label = item["id"], item["label"]
        if not isinstance(prediction_id, str) or not 0 < len(prediction_id) <= 64:
            raise InvalidInput(f"{where}: 'id' must be a prediction id (a string)")
        if label is None or isinstance(label, dict | list):
            raise InvalidInput(
                f"{where}: 'label' must be a number, a string or a boolean",
                hint="send the true value the model should have predicted",
            )
        pairs.append((prediction_id, label))
    return pairs


def record_feedback(store: Store, deployment: str, payload: Any) -> dict[str, Any]:
    """Join labels to logged predictions of ``deployment``; returns how many were stored."""
    pairs = parse_items(payload)
    ids = [prediction_id for prediction_id, _ in pairs]
    times = find_times(store, deployment, ids)
    unknown = [i for i in ids if i not in times]
    if unknown:
        shown = ", ".join(repr(i) for i in unknown[:5]) + (" …" if len(unknown) > 5 else "")
        raise NotFound(
            f"deployment '{deployment}' logged no prediction with id {shown}",
            hint="use the id the server returned (X-Prediction-Id header, or the OIP 'id')",
            unknown=unknown[:100],
        )
    stored = store_labels(store, deployment, dict(pairs), {i: times[i] for i in dict(pairs)})
    return {"deployment": deployment, "stored": stored}


@operation("predictions.store_labels", role="writer")
def store_labels(
    store: Store, deployment: str, labels: dict[str, Any], times: dict[str, int]
) -> int:
    """Store ``labels`` (prediction id -> label) of ``deployment``'s predictions, logged at
    ``times``; a label sent again replaces the earlier one. Returns how many were stored."""
    missing = sorted(set(labels) - set(times))
    if missing:
        raise InvalidInput(
            f"no logged time for prediction ids {missing[:5]}",
            hint="give times with the ids as find_times() returns them",
        )
    now = now_ms()
    rows = [
        {
            "deployment": deployment,
            "prediction_id": prediction_id,
            "label": orjson.dumps(label).decode(),
            "prediction_time": times[prediction_id],
            "time": now,
            "actor": store.actor,
        }
        for prediction_id, label in labels.items()
    ]
    if not rows:
        return 0
    with store.write() as connection:
        statement = conflict_insert(connection, prediction_feedback)
        statement = statement.on_conflict_do_update(
            index_elements=["deployment", "prediction_id"],
            set_={"label": statement.excluded.label, "time": statement.excluded.time},
        )
        connection.execute(statement, rows)
        audit.record(
            connection,
            actor=store.actor,
            action="feedback.record",
            object_type="deployment",
            object_id=deployment,
            after={"labels": len(rows)},
        )
    return len(rows)
