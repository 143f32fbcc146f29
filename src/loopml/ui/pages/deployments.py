"""``/deployments`` and ``/deployments/{name}``: the traffic split, the canary's progress,
the revision history, and requests and latency over time from the prediction log.

The prediction log holds the requests that were answered; a request that failed is
counted by the scoring server's ``/metrics`` (Prometheus), not logged, so error rates
are not drawn here.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from ...clock import now_ms
from ...serving.deployments import Deployment, check_deployment_name, get, history, list_deployments
from ...serving.predictions import read_table, to_ms
from ...store import Store
from .. import arguments, charts
from ..rendering import Page

DEFAULT_WINDOW = "24h"
MAX_BUCKETS = 60
_BUCKETS_MS = (60_000, 300_000, 900_000, 3_600_000, 6 * 3_600_000, 86_400_000, 7 * 86_400_000)


def deployments(request: Request, store: Store) -> Page:
    found = [_summary(deployment) for deployment in list_deployments(store)]
    return Page(
        "deployments.html.j2", "Deployments", {"deployments": found}, section="/deployments"
    )


def deployment(request: Request, store: Store) -> Page:
    name = check_deployment_name(request.path_params["name"])
    found = get(store, name)
    revisions = history(store, name)
    window = arguments.text(request, "since") or DEFAULT_WINDOW
    now = now_ms()
    since = to_ms(window, now=now)
    order = [v.name for v in found.spec.variants]
    traffic = _traffic(store, name, since or 0, now, order)
    chart_specs: dict[str, Any] = {}
    live = [v for v in found.spec.variants if not v.shadow]
    chart_specs["split"] = charts.bars(
        [f"{v.name}: {v.model}" for v in found.spec.variants],
        [v.weight for v in found.spec.variants],
        value_title="% of traffic",
        colors=[
            charts.COLORS[i % len(charts.COLORS)] if not v.shadow else "#999999"
            for i, v in enumerate(found.spec.variants)
        ],
        hover="%{y}: %{x}%",
    )
    if traffic["buckets"]:
        chart_specs["requests"] = charts.lines(
            [(v, traffic["buckets"], traffic["requests"][v]) for v in traffic["variants"]],
            x_title="time (UTC)",
            y_title=f"requests per {traffic['bucket_label']}",
            dates=True,
            height=260,
            markers=True,
            x_range=(since, now),
            from_zero=True,
        )
        chart_specs["latency"] = charts.lines(
            [(v, traffic["buckets"], traffic["p95_ms"][v]) for v in traffic["variants"]],
            x_title="time (UTC)",
            y_title="p95 latency (ms)",
            dates=True,
            height=260,
            markers=True,
            x_range=(since, now),
        )
    data = {
        **_summary(found),
        "sticky": found.spec.sticky,
        "canary": _canary(found),
        "revisions": [revision.to_dict() for revision in reversed(revisions)],
        "window": {"since": since, "until": now, "text": window},
        "traffic": {key: traffic[key] for key in ("variants", "buckets", "bucket_ms", "summary")},
        "live_variants": [v.name for v in live],
    }
    view = {"found": found, "charts": chart_specs}
    return Page("deployment.html.j2", f"Deployment {name}", data, view=view, section="/deployments")


def _summary(found: Deployment) -> dict[str, Any]:
    return {
        "name": found.name,
        "strategy": found.strategy,
        "revision": found.revision,
        "variants": [
            {"name": v.name, "model": v.model, "weight": v.weight, "shadow": v.shadow}
            for v in found.spec.variants
        ],
        "canary": _canary(found),
        "created_by": found.created_by,
        "created_at": found.created_at,
        "updated_at": found.updated_at,
    }


def _canary(found: Deployment) -> dict[str, Any] | None:
    canary = found.spec.canary
    if canary is None:
        return None
    steps = list(canary.steps)
    done = len(steps) if canary.status == "promoted" else canary.step + 1
    return {
        "status": canary.status,
        "steps": steps,
        "step": canary.step,
        "weight": steps[canary.step] if canary.step < len(steps) else None,
        "progress": done / len(steps) if steps else None,
        "interval_s": canary.interval_s,
        "max_error_rate": canary.max_error_rate,
        "max_p99_ms": canary.max_p99_ms,
        "step_started_at": canary.step_started_at,
        "stable": canary.stable,
        "reason": canary.reason,
    }


def _traffic(store: Store, name: str, since: int, until: int, order: list[str]) -> dict[str, Any]:
    """Requests and p95 latency per variant and time bucket, and a summary per variant."""
    table = read_table(store, name, since, until)
    bucket = next(
        (ms for ms in _BUCKETS_MS if (until - since) / ms <= MAX_BUCKETS), _BUCKETS_MS[-1]
    )
    empty = {
        "variants": [],
        "buckets": [],
        "bucket_ms": bucket,
        "summary": [],
        "bucket_label": _bucket_label(bucket),
        "requests": {},
        "p95_ms": {},
    }
    if table.num_rows == 0:
        return empty
    frame = table.select(["request_id", "time", "variant", "latency_ms", "shadow"]).to_pandas()
    requests = frame.drop_duplicates(["request_id", "variant"])
    requests = requests.assign(bucket=(requests["time"] // bucket) * bucket)
    seen = set(requests["variant"].unique().tolist())  # the spec's order, then retired ones
    variants = [v for v in order if v in seen] + sorted(seen - set(order))
    first, last = int(requests["bucket"].min()), int(requests["bucket"].max())
    buckets = list(range(first, last + bucket, bucket))
    grouped = requests.groupby(["variant", "bucket"])["latency_ms"]
    counts = grouped.size()
    p95 = grouped.quantile(0.95)
    per_variant_counts: dict[str, list[int]] = {}
    per_variant_p95: dict[str, list[float | None]] = {}
    for variant in variants:
        per_variant_counts[variant] = [int(counts.get((variant, b), 0)) for b in buckets]
        per_variant_p95[variant] = [
            float(p95[(variant, b)]) if (variant, b) in p95.index else None for b in buckets
        ]
    summary = []
    rows = frame.groupby("variant").size()
    for variant, part in requests.groupby("variant"):
        latency = part["latency_ms"]
        summary.append(
            {
                "variant": variant,
                "shadow": bool(part["shadow"].iloc[0]),
                "requests": len(part),
                "rows": int(rows.get(variant, 0)),
                "latency_p50_ms": float(latency.quantile(0.5)),
                "latency_p95_ms": float(latency.quantile(0.95)),
                "latency_p99_ms": float(latency.quantile(0.99)),
            }
        )
    return {
        **empty,
        "variants": variants,
        "buckets": buckets,
        "summary": summary,
        "requests": per_variant_counts,
        "p95_ms": per_variant_p95,
    }


def _bucket_label(ms: int) -> str:
    if ms < 3_600_000:
        return f"{ms // 60_000} min"
    if ms < 86_400_000:
        return f"{ms // 3_600_000} h"
    return f"{ms // 86_400_000} d"
