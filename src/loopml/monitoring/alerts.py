"""Alerts: a policy's breaches, recorded first and then delivered to a webhook.

The alert row is written before any delivery is tried, so a webhook that is down or
slow loses nothing: the alert is in the store (``loopml monitor alerts``) with
``delivery = failed`` and the last error. Delivery is a JSON POST with a timeout, tried
``attempts`` times with a doubling pause between tries.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import insert, select, update

from ..clock import now_ms
from ..errors import InvalidInput, NotFound
from ..governance import audit
from ..ops import operation
from ..store import Store
from ..store.schema import monitor_alerts

WEBHOOK_TIMEOUT_S = 5.0
WEBHOOK_ATTEMPTS = 3
_FIRST_PAUSE_S = 0.5


@dataclass(frozen=True)
class Alert:
    id: int
    deployment: str
    report_id: int | None
    created_at: int
    rule: str
    value: float | None
    message: str
    delivery: str  # none | delivered | failed
    attempts: int
    delivery_error: str | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def raise_alerts(
    store: Store,
    deployment: str,
    breaches: list[dict[str, Any]],
    *,
    report_id: int | None = None,
    webhook: str | None = None,
    timeout_s: float = WEBHOOK_TIMEOUT_S,
    attempts: int = WEBHOOK_ATTEMPTS,
) -> list[Alert]:
    """Record one alert per breach (audited), then POST them to ``webhook`` if given."""
    if not breaches:
        return []
    alerts = record_alerts(
        store,
        deployment,
        [{"rule": b["rule"], "value": b.get("value")} for b in breaches],
        report_id=report_id,
        delivery="none" if webhook is None else "pending",
    )
    if webhook is not None:  # posted from here, never from a team server
        alerts = [_deliver(store, alert, webhook, timeout_s, attempts) for alert in alerts]
    return alerts


@operation("monitor.record_alerts", role="writer")
def record_alerts(
    store: Store,
    deployment: str,
    breaches: list[dict[str, Any]],
    *,
    report_id: int | None = None,
    delivery: Literal["none", "pending"] = "none",
) -> list[Alert]:
    """Record one alert per breach (``{"rule": ..., "value": ...}``), audited."""
    for breach in breaches:
        value = breach.get("value")
        if not isinstance(breach.get("rule"), str) or not (
            value is None or (isinstance(value, int | float) and not isinstance(value, bool))
        ):
            raise InvalidInput(
                f"invalid breach {breach!r}",
                hint='each breach is {"rule": TEXT, "value": NUMBER or null}',
            )
    now = now_ms()
    ids = []
    with store.write() as connection:
        for breach in breaches:
            value = breach.get("value")
            message = f"{deployment}: {breach['rule']} (value {_figure(value)})"
            alert_id = connection.execute(
                insert(monitor_alerts).values(
                    deployment=deployment,
                    report_id=report_id,
                    created_at=now,
                    rule=breach["rule"],
                    value=None if value is None else float(value),
                    message=message,
                    delivery=delivery,
                    attempts=0,
                )
            ).inserted_primary_key[0]
            ids.append(int(alert_id))
            audit.record(
                connection,
                actor=store.actor,
                action="monitor.alert",
                object_type="deployment",
                object_id=deployment,
                after={"alert": int(alert_id), "rule": breach["rule"], "value": value,
                       "report": report_id},
            )  # fmt: skip
    return get_alerts(store, ids)


def _deliver(store: Store, alert: Alert, url: str, timeout_s: float, attempts: int) -> Alert:
    body = json.dumps({"alert": alert.to_dict(), "source": "loopml"}).encode("utf-8")
    error = None
    tried = 0
    pause = _FIRST_PAUSE_S
    for tried in range(1, attempts + 1):
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                if 200 <= response.status < 300:
                    error = None
                    break
                error = f"HTTP {response.status}"
        except urllib.error.HTTPError as failed:
            error = f"HTTP {failed.code}"
        except (urllib.error.URLError, TimeoutError, OSError) as failed:
            reason = getattr(failed, "reason", failed)
            error = f"{type(reason).__name__}: {reason}"
        if tried < attempts:
            time.sleep(pause)
            pause *= 2
    return set_delivery(
        store, alert.id, "failed" if error else "delivered", attempts=tried, error=error
    )


@operation("monitor.set_delivery", role="writer")
def set_delivery(
    store: Store,
    alert_id: int,
    delivery: Literal["delivered", "failed"],
    *,
    attempts: int,
    error: str | None = None,
) -> Alert:
    """Record how posting alert ``alert_id`` to the policy's webhook went."""
    with store.write() as connection:
        updated = connection.execute(
            update(monitor_alerts)
            .where(monitor_alerts.c.id == alert_id)
            .values(delivery=delivery, attempts=attempts, delivery_error=error)
        ).rowcount
    if not updated:
        raise NotFound(f"no alert #{alert_id}", hint="list alerts: loopml monitor alerts")
    return get_alerts(store, [alert_id])[0]


@operation("monitor.get_alerts", role="reader")
def get_alerts(store: Store, ids: list[int]) -> list[Alert]:
    """Alerts ``ids``, oldest first."""
    with store.read() as connection:
        rows = connection.execute(
            select(monitor_alerts).where(monitor_alerts.c.id.in_(ids)).order_by(monitor_alerts.c.id)
        ).all()
    return [Alert(**row._mapping) for row in rows]


@operation("monitor.alerts", role="reader")
def list_alerts(store: Store, deployment: str | None = None, limit: int = 50) -> list[Alert]:
    """The newest alerts first (of one deployment, or all)."""
    query = select(monitor_alerts).order_by(monitor_alerts.c.id.desc()).limit(limit)
    if deployment is not None:
        query = query.where(monitor_alerts.c.deployment == deployment)
    with store.read() as connection:
        return [Alert(**row._mapping) for row in connection.execute(query).all()]


def _figure(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
