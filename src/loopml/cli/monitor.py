"""``loopml monitor``: drift and performance reports, policies, alerts and the closed loop."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ..clock import format_ms
from ..errors import InvalidInput
from ._output import console, err_console, fmt_value, print_json, styled, table
from ._store import command_store as _store

if TYPE_CHECKING:
    from ..monitoring.monitor import MonitorRun

app = typer.Typer(
    help="Monitoring: drift, quality and performance of a deployment; alerts; retraining.",
    no_args_is_help=True,
)

_JSON = typer.Option(False, "--json", help="Print JSON.")
_WINDOW = typer.Option(None, "--window", "-w", help="How far back: 30m, 1h, 7d (policy's: 1h).")
_SINCE = typer.Option(None, "--since", help="Window start: an age (2h) or an ISO time.")
_UNTIL = typer.Option(None, "--until", help="Window end (default: now).")
_RULES = typer.Option(None, "--on", help='A rule: drift, or "f1 < 0.75". Repeat for more.')
_REFERENCE = typer.Option(
    None, "--reference", help="DATASET@VERSION instead of the model's training dataset."
)
_HEADLINE = (
    "f1",
    "accuracy",
    "roc_auc",
    "mae",
    "estimated_f1",
    "estimated_accuracy",
    "estimated_roc_auc",
    "prediction_drift",
    "label_drift",
)


@app.command("run")
def run_cmd(
    deployment: str = typer.Argument(..., help="The deployment, e.g. churn-prod."),
    window: str = _WINDOW,
    since: str = _SINCE,
    until: str = _UNTIL,
    rules: list[str] = _RULES,
    reference: str = _REFERENCE,
    html: Path = typer.Option(None, "--html", help="Also write the report's page here."),
    act: bool = typer.Option(
        True, "--act/--no-act", help="Retrain when an alert fires and the policy has a pipeline."
    ),
    json_output: bool = _JSON,
) -> None:
    """Monitor a window of logged predictions: store the report, raise alerts, act on them."""
    from ..monitoring.loop import act as act_on
    from ..monitoring.loop import settle
    from ..monitoring.monitor import monitor

    store = _store()
    settle(store, deployment)
    run = monitor(
        store, deployment, window=window, since=since, until=until, rules=rules or None,
        reference=reference,
    )  # fmt: skip
    if html is not None:
        run.save_html(html)
    if not json_output:
        _print_run(run)
        if html is not None:
            console.print(f"report page: {html}")
    retrain = act_on(store, run, progress=not json_output) if act else None
    if json_output:
        print_json({**run.to_dict(), "retrain": retrain.to_dict() if retrain else None})
    elif retrain is not None:
        _print_retrain(retrain)


@app.command("check")
def check_cmd(
    deployment: str = typer.Argument(...),
    window: str = _WINDOW,
    since: str = _SINCE,
    until: str = _UNTIL,
    rules: list[str] = _RULES,
    reference: str = _REFERENCE,
    json_output: bool = _JSON,
) -> None:
    """Exit 1 when a rule is breached (for CI): the policy's rules, or those given with --on."""
    from ..monitoring.monitor import monitor

    run = monitor(
        _store(), deployment, window=window, since=since, until=until, rules=rules or None,
        reference=reference,
    )  # fmt: skip
    if json_output:
        print_json({"breached": run.breached, "breaches": run.breaches, "report": run.id,
                    "not_evaluated": run.not_evaluated})  # fmt: skip
    else:
        for breach in run.breaches:
            err_console.print(
                f"breached: {breach['rule']} (value {fmt_value(breach['value'])}) "
                f"[report #{run.id}]"
            )
        for rule in run.not_evaluated:
            err_console.print(f"not evaluated (no figure in this window): {rule}")
        if not run.breaches:
            console.print(f"ok: no rule breached over {run.rows} predictions [report #{run.id}]")
    if run.breached:
        raise typer.Exit(1)


@app.command("policy")
def policy_cmd(
    deployment: str = typer.Argument(...),
    rules: list[str] = _RULES,
    schedule: str = typer.Option(None, "--schedule", help='Retrain on a cron: "0 3 * * 0".'),
    pipeline: str = typer.Option(None, "--pipeline", help="The training pipeline FILE[:NAME]."),
    param: list[str] = typer.Option(None, "--param", "-p", help="A pipeline param KEY=VALUE."),
    canary: str = typer.Option("10,50,100", "--canary", help="Canary steps in percent."),
    canary_interval: str = typer.Option("1m", "--canary-interval", help="Each step's hold."),
    max_error_rate: float = typer.Option(
        None, "--max-error-rate", help="Roll the canary back above the stable's rate + this."
    ),
    max_p99_ms: float = typer.Option(
        None, "--max-p99-ms", help="Roll the canary back when its p99 exceeds this."
    ),
    alias: str = typer.Option("challenger", "--alias", help="The alias a candidate must win."),
    window: str = typer.Option("1h", "--window", "-w", help="The window each run looks at."),
    webhook: str = typer.Option(None, "--webhook", help="POST alerts to this URL."),
    reference: str = _REFERENCE,
    min_labelled: int = typer.Option(50, "--min-labelled", help="Labels needed for f1 etc."),
    show: bool = typer.Option(False, "--show", help="Print the current policy."),
    delete: bool = typer.Option(False, "--delete", help="Remove the policy."),
    json_output: bool = _JSON,
) -> None:
    """Set what to watch, when to retrain and how to roll the retrained model out."""
    from ..cli.pipelines import parse_params
    from ..monitoring.policy import Policy, delete_policy, get_policy, set_policy

    store = _store()
    if delete:
        delete_policy(store, deployment)
        console.print(f"Removed the policy of {deployment}")
        return
    if show:
        policy = get_policy(store, deployment)
    else:
        policy = set_policy(
            store,
            Policy(
                deployment,
                rules=tuple(rules or ("drift",)),
                window=window,
                schedule=schedule,
                pipeline=pipeline,
                params=parse_params(param, None),
                alias=alias,
                canary=_steps(canary),
                canary_interval=canary_interval,
                max_error_rate=max_error_rate,
                max_p99_ms=max_p99_ms,
                webhook=webhook,
                reference=reference,
                min_labelled=min_labelled,
            ),
        )
    if json_output:
        print_json(policy.to_dict())
        return
    out = table("setting", "value", title=f"Policy of {deployment}")
    for key, value in policy.to_dict().items():
        if key != "deployment":
            out.add_row(key, _text(value))
    console.print(out)


@app.command("reports")
def reports_cmd(
    deployment: str = typer.Argument(None),
    limit: int = typer.Option(20, "--limit", "-n"),
    json_output: bool = _JSON,
) -> None:
    """Stored monitor runs, newest first."""
    from ..monitoring.records import list_reports

    found = list_reports(_store(), deployment, limit=limit)
    if json_output:
        print_json([report.to_dict() for report in found])
        return
    if not found:
        console.print("No monitor reports yet (make one: loopml monitor run DEPLOYMENT)")
        return
    out = table("id", "deployment", "made", "rows", "labelled", "model", "drift", "f1",
                "est. f1", "breaches")  # fmt: skip
    for report in found:
        metrics = report.metrics
        out.add_row(
            str(report.id), report.deployment, format_ms(report.created_at), str(report.rows),
            str(report.labelled), report.model,
            _drift_cell(report),
            fmt_value(metrics.get("f1")), fmt_value(metrics.get("estimated_f1")),
            ", ".join(b["rule"] for b in report.summary.get("breaches", [])) or "—",
        )  # fmt: skip
    console.print(out)


@app.command("report")
def report_cmd(
    report_id: int = typer.Argument(..., help="The report's id (see loopml monitor reports)."),
    html: Path = typer.Option(None, "--html", help="Write the report's page here."),
    json_output: bool = _JSON,
) -> None:
    """One stored report: its figures, or its page with --html."""
    from ..monitoring.records import get_report, report_html, report_json

    store = _store()
    found = get_report(store, report_id)
    if html is not None:
        html.write_bytes(report_html(store, found))
        console.print(f"wrote {html}")
        return
    data = report_json(store, found)
    if json_output:
        print_json(data)
        return
    out = table("figure", "value", title=f"Report #{found.id} of {found.deployment}")
    for key, value in data["metrics"].items():
        if value is not None:
            out.add_row(key, fmt_value(value))
    console.print(out)


@app.command("alerts")
def alerts_cmd(
    deployment: str = typer.Argument(None),
    limit: int = typer.Option(20, "--limit", "-n"),
    json_output: bool = _JSON,
) -> None:
    """Recorded alerts, newest first, with their webhook delivery."""
    from ..monitoring.alerts import list_alerts

    found = list_alerts(_store(), deployment, limit=limit)
    if json_output:
        print_json([alert.to_dict() for alert in found])
        return
    if not found:
        console.print("No alerts")
        return
    out = table("id", "deployment", "when", "rule", "value", "report", "delivery")
    for alert in found:
        delivery = alert.delivery + (f" ({alert.delivery_error})" if alert.delivery_error else "")
        out.add_row(
            str(alert.id), alert.deployment, format_ms(alert.created_at), alert.rule,
            fmt_value(alert.value), str(alert.report_id or "—"), delivery,
        )  # fmt: skip
    console.print(out)


@app.command("retrain")
def retrain_cmd(
    deployment: str = typer.Argument(...),
    force: bool = typer.Option(
        False, "--force", help="Abandon a retrain still active (and abort its canary) first."
    ),
    json_output: bool = _JSON,
) -> None:
    """Retrain now with the policy's pipeline; a passing candidate goes out as a canary."""
    from ..monitoring.loop import retrain

    found = retrain(_store(), deployment, trigger="manual", progress=not json_output, force=force)
    if json_output:
        print_json(found.to_dict())
    else:
        _print_retrain(found)
    if found.status == "failed":
        raise typer.Exit(1)


@app.command("retrains")
def retrains_cmd(
    deployment: str = typer.Argument(None),
    limit: int = typer.Option(20, "--limit", "-n"),
    json_output: bool = _JSON,
) -> None:
    """Retrains the policy started, newest first, with how each ended."""
    from ..monitoring.loop import list_retrains, settle

    store = _store()
    settle(store, deployment)
    found = list_retrains(store, deployment, limit=limit)
    if json_output:
        print_json([item.to_dict() for item in found])
        return
    if not found:
        console.print("No retrains yet")
        return
    out = table("id", "deployment", "started", "trigger", "status", "candidate", "detail")
    for item in found:
        out.add_row(
            str(item.id), item.deployment, format_ms(item.started_at), item.trigger,
            item.status, item.candidate or "—", item.detail or "",
        )  # fmt: skip
    console.print(out)


@app.command("serve")
def serve_cmd(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(9108, "--port"),
    every: str = typer.Option(
        "5m", "--every", help="Run every policy's monitor this often (0 disables)."
    ),
) -> None:
    """Serve the monitoring gauges on /metrics and run every policy on its schedule."""
    from ..monitoring.service import serve

    serve(_store(), host=host, port=port, every=every)


# --- printing ------------------------------------------------------------------------


def _print_run(run: MonitorRun) -> None:
    data = run.data
    console.print(
        f"Report #{run.id} of {run.deployment}: {run.rows} predictions "
        f"({run.labelled} labelled) served by {run.model}, against {run.reference}"
    )
    verdict = (
        styled("dataset drift", "bold red")
        if data.dataset_drift
        else styled("no dataset drift", "green")
    )
    console.print(verdict, f": {len(data.drifted)} of {len(data.features)} columns drifted", sep="")
    ranked = getattr(data, "ranking", None) or []
    out = table("column", "test", "statistic", "threshold", "drift")
    names = [entry["feature"] if isinstance(entry, dict) else entry.feature for entry in ranked]
    for name in names or list(data.features):
        result = data.features.get(name)
        if result is None:
            continue
        out.add_row(
            name, result.test, fmt_value(result.statistic), fmt_value(result.threshold),
            styled("yes", "red") if result.drift_detected else "no",
        )  # fmt: skip
    console.print(out)
    for problem in data.schema_problems:
        err_console.print(f"schema: {problem}")
    figures = table("figure", "value")
    for key in _HEADLINE:
        if run.metrics.get(key) is not None:
            figures.add_row(key, fmt_value(run.metrics[key]))
    if figures.row_count:
        console.print(figures)
    for alert in run.alerts:
        err_console.print(f"alert #{alert.id}: {alert.rule} (value {fmt_value(alert.value)})")
    for rule in run.not_evaluated:
        console.print(f"not evaluated (no figure in this window): {rule}")


def _print_retrain(retrain: Any) -> None:
    console.print(
        f"retrain #{retrain.id} ({retrain.trigger}): {retrain.status}"
        + (f" — {retrain.candidate}" if retrain.candidate else "")
        + (f": {retrain.detail}" if retrain.detail else "")
    )


def _drift_cell(report: Any) -> str:
    drifted = len(report.summary.get("drifted", []))
    return f"{drifted} cols" + (" (dataset)" if report.dataset_drift else "")


def _steps(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise InvalidInput(f"invalid --canary {text!r}", hint="e.g. 10,50,100") from None


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value) or "—"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "—"
    return "—" if value is None else str(value)
