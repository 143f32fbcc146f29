"""``loopml deploy`` and ``loopml serve``: deployments, rollout strategies, the scoring server."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from ..clock import format_ms
from ..errors import InvalidInput
from ._output import console, print_json, table
from ._store import command_store as _store

if TYPE_CHECKING:
    from ..serving.deployments import Deployment

app = typer.Typer(
    help="Deployments: A/B splits, canaries, shadows, blue-green switches and rollbacks.",
    no_args_is_help=True,
)

_JSON = typer.Option(False, "--json", help="Print JSON.")
_REASON = typer.Option(None, "--reason", help="Why, for the audit log.")


@app.command("create")
def create_cmd(
    name: str = typer.Argument(..., help="The deployment's name, e.g. churn-prod."),
    model: str = typer.Option(..., "--model", "-m", help="The model to serve: churn@champion."),
    reason: str = _REASON,
    json_output: bool = _JSON,
) -> None:
    """Create a deployment sending all traffic to one model."""
    from ..serving.deployments import create

    _show(create(_store(create=True), name, model, reason=reason), json_output, "Created")


@app.command("ls")
def ls(json_output: bool = _JSON) -> None:
    """List deployments with their strategy and variants."""
    from ..serving.deployments import list_deployments

    found = list_deployments(_store())
    if json_output:
        print_json([d.to_dict() for d in found])
        return
    if not found:
        console.print("No deployments yet (create one: loopml deploy create NAME --model M)")
        return
    out = table("name", "strategy", "revision", "variants", "updated")
    for deployment in found:
        out.add_row(
            deployment.name,
            deployment.strategy,
            str(deployment.revision),
            _variants(deployment),
            format_ms(deployment.updated_at),
        )
    console.print(out)


@app.command("show")
def show(name: str = typer.Argument(...), json_output: bool = _JSON) -> None:
    """Show a deployment: its variants, weights and canary state."""
    from ..serving.deployments import get

    _show(get(_store(), name), json_output, None)


@app.command("history")
def history_cmd(name: str = typer.Argument(...), json_output: bool = _JSON) -> None:
    """Every revision of a deployment: who changed what, when and why."""
    from ..serving.deployments import history

    revisions = history(_store(), name)
    if json_output:
        print_json([r.to_dict() for r in revisions])
        return
    out = table("revision", "action", "strategy", "variants", "actor", "time", "reason")
    for r in revisions:
        variants = ", ".join(
            f"{v.name}={v.model}:{v.weight}%" + (" (shadow)" if v.shadow else "")
            for v in r.spec.variants
        )
        undone = f" (undone by {r.undone_by})" if r.undone_by else ""
        out.add_row(
            str(r.revision),
            r.action + undone,
            r.spec.strategy,
            variants,
            r.actor,
            format_ms(r.time),
            r.reason or "",
        )
    console.print(out)


@app.command("split")
def split_cmd(
    name: str = typer.Argument(...),
    variant: list[str] = typer.Option(
        ...,
        "--variant",
        "-v",
        help="NAME=MODEL:PERCENT (b=churn@challenger:20); NAME=:0 removes the variant.",
    ),
    sticky: str = typer.Option(
        None, help="Keep each user on one variant: header:X-User-Id or field:customer_id."
    ),
    reason: str = _REASON,
    json_output: bool = _JSON,
) -> None:
    """A/B test: route a share of traffic to other models; the first variant takes the rest."""
    from ..serving.deployments import split

    variants = dict(_parse_variant(text) for text in variant)
    _show(split(_store(), name, variants, sticky=sticky, reason=reason), json_output, "Updated")


@app.command("canary")
def canary_cmd(
    name: str = typer.Argument(...),
    model: str = typer.Argument(None, help="The candidate, e.g. churn@challenger."),
    steps: str = typer.Option("5,25,50,100", help="Traffic percents, step by step."),
    interval: str = typer.Option("10m", help="How long each step must hold: 30s, 10m, 1h."),
    max_error_rate: float = typer.Option(
        None, help="Roll back when the canary's error rate exceeds the stable one's by this."
    ),
    max_p99_ms: float = typer.Option(None, help="Roll back when the canary's p99 exceeds this."),
    abort: bool = typer.Option(False, "--abort", help="Stop the running canary."),
    reason: str = _REASON,
    json_output: bool = _JSON,
) -> None:
    """Canary: grow the candidate's share step by step; roll back when it breaches a limit."""
    from ..serving import deployments
    from ..serving.predictions import parse_duration_ms

    store = _store()
    if abort:
        _show(deployments.abort_canary(store, name, reason=reason), json_output, "Stopped")
        return
    if model is None:
        raise InvalidInput("name the candidate model", hint="e.g. churn@challenger")
    try:
        percents = [int(part) for part in steps.split(",") if part.strip()]
    except ValueError:
        raise InvalidInput(f"invalid --steps {steps!r}", hint="e.g. 5,25,50,100") from None
    started = deployments.canary(
        store,
        name,
        model,
        steps=percents,
        interval_s=parse_duration_ms(interval) / 1000,
        max_error_rate=max_error_rate,
        max_p99_ms=max_p99_ms,
        reason=reason,
    )
    _show(started, json_output, "Canary started on")


@app.command("shadow")
def shadow_cmd(
    name: str = typer.Argument(...),
    model: str = typer.Argument(None, help="The model to mirror traffic to."),
    percent: int = typer.Option(100, help="Share of requests to mirror."),
    variant: str = typer.Option("shadow", help="The shadow variant's name."),
    remove: bool = typer.Option(False, "--remove", help="Stop mirroring."),
    reason: str = _REASON,
    json_output: bool = _JSON,
) -> None:
    """Shadow: mirror traffic to a model whose answers are logged, never returned."""
    from ..serving.deployments import shadow

    if not remove and model is None:
        raise InvalidInput("name the model to mirror to", hint="or --remove to stop mirroring")
    updated = shadow(
        _store(),
        name,
        None if remove else model,
        variant=variant,
        percent=percent,
        reason=reason,
    )
    _show(updated, json_output, "Updated")


@app.command("switch")
def switch_cmd(
    name: str = typer.Argument(...),
    to: str = typer.Option(None, "--to", help="The model to switch to; default: the idle one."),
    reason: str = _REASON,
    json_output: bool = _JSON,
) -> None:
    """Blue-green: move all traffic at once; the old variant stays loaded for a rollback."""
    from ..serving.deployments import switch

    _show(switch(_store(), name, to, reason=reason), json_output, "Switched")


@app.command("rollback")
def rollback_cmd(
    name: str = typer.Argument(...), reason: str = _REASON, json_output: bool = _JSON
) -> None:
    """Undo the newest change to a deployment (repeat to go further back)."""
    from ..serving.deployments import rollback

    _show(rollback(_store(), name, reason=reason), json_output, "Rolled back")


@app.command("compare")
def compare_cmd(
    name: str = typer.Argument(...),
    since: str = typer.Option("1d", help="The window: an age (1h, 7d) or an ISO time."),
    json_output: bool = _JSON,
) -> None:
    """Compare the variants' answers: shadow agreement, and metrics where labels arrived."""
    from ..serving.compare import compare

    result = compare(_store(), name, since=since)
    if json_output:
        print_json(result)
        return
    console.print(f"{name}: {result['requests']} requests since {since}")
    out = table("variant", "rows", "shadow", "agreement", "labelled", "metric", "value")
    for row in result["variants"]:
        out.add_row(
            row["variant"],
            str(row["rows"]),
            "yes" if row["shadow"] else "",
            "" if row["agreement"] is None else f"{row['agreement']:.1%}",
            str(row["labelled"]),
            row["metric"] or "",
            "" if row["value"] is None else f"{row['value']:.4g}",
        )
    console.print(out)


def serve(
    model: str = typer.Argument(None, help="A model to serve: models:/churn@champion."),
    deployment: str = typer.Option(None, "--deployment", "-d", help="A deployment to serve."),
    host: str = typer.Option("127.0.0.1", help="The address to listen on."),
    port: int = typer.Option(8080, help="The port to listen on."),
    max_body_mb: float = typer.Option(10.0, help="Refuse request bodies larger than this."),
    reload_interval: float = typer.Option(2.0, help="Seconds between checks for changes."),
    no_log: bool = typer.Option(False, "--no-log", help="Do not log predictions."),
    max_batch_size: int = typer.Option(
        1, help="Micro-batch concurrent requests up to this many rows (1: off)."
    ),
    max_wait_ms: float = typer.Option(2.0, help="How long a micro-batch waits to fill up."),
) -> None:
    """Serve a model or a deployment over HTTP (OIP v2, /invocations, /metrics)."""
    from ..serving.app import ServerSettings
    from ..serving.server import deployment_for, make_app, run

    if not 0 < max_body_mb <= 1024:
        raise InvalidInput("--max-body-mb must be between 0 and 1024")
    if reload_interval <= 0:
        raise InvalidInput("--reload-interval must be positive")
    if max_batch_size < 1 or not 0 <= max_wait_ms <= 1000:
        raise InvalidInput(
            "--max-batch-size must be at least 1 and --max-wait-ms between 0 and 1000"
        )
    store = _store(create=True)
    name = deployment_for(store, model, deployment)
    settings = ServerSettings(
        max_body_bytes=int(max_body_mb * 1024 * 1024),
        reload_interval=reload_interval,
        max_batch_size=max_batch_size,
        max_wait_ms=max_wait_ms,
    )
    app = make_app(store, name, log=not no_log, settings=settings)
    console.print(
        f"Serving deployment '{name}' on http://{host}:{port} — "
        f"OIP v2: /v2/models/{name}/infer, MLflow: /invocations, metrics: /metrics"
    )
    run(app, host, port)


def _parse_variant(text: str) -> tuple[str, tuple[str | None, int]]:
    name, sep, rest = text.partition("=")
    model, colon, weight = rest.rpartition(":")
    if not sep or not colon or not weight.strip().isdigit():
        raise InvalidInput(
            f"invalid --variant {text!r}",
            hint="use NAME=MODEL:PERCENT, e.g. b=churn@challenger:20 (b=:0 removes b)",
        )
    return name.strip(), (model.strip() or None, int(weight))


def _variants(deployment: Deployment) -> str:
    return ", ".join(
        f"{v.name}={v.model}:{v.weight}%" + (" (shadow)" if v.shadow else "")
        for v in deployment.spec.variants
    )


def _show(deployment: Deployment, json_output: bool, verb: str | None) -> None:
    if json_output:
        print_json(deployment.to_dict())
        return
    if verb:
        console.print(
            f"{verb} deployment '{deployment.name}' (revision {deployment.revision}, "
            f"{deployment.strategy})"
        )
    out = table("variant", "model", "weight", "role")
    for v in deployment.spec.variants:
        role = "shadow" if v.shadow else ("idle" if v.weight == 0 else "live")
        out.add_row(v.name, v.model, f"{v.weight}%", role)
    console.print(out)
    canary = deployment.spec.canary
    if canary is not None:
        steps = ",".join(str(s) for s in canary.steps)
        console.print(
            f"canary: {canary.status}, step {canary.step + 1}/{len(canary.steps)} of {steps} "
            f"every {canary.interval_s:g}s" + (f" — {canary.reason}" if canary.reason else "")
        )
