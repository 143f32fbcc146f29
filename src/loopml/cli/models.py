"""``loopml models``: the registry — versions, aliases, tags, evaluation, promotion, rollback."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ..clock import format_ms
from ..errors import GateFailed, InvalidInput
from ._output import console, fmt_value, print_json, styled, table
from ._store import command_store as _store

if TYPE_CHECKING:  # the store and the registry load on use: startup stays fast
    from ..registry import ModelVersion, Promotion

app = typer.Typer(
    help="Registered models: versions, aliases, tags, evaluation, promotion gates, rollback.",
    no_args_is_help=True,
)


@app.command("register")
def register_cmd(
    source: str = typer.Argument(..., help="runs:/RUN/PATH, a run id, or a saved model folder."),
    name: str = typer.Argument(..., help="The registered model's name, e.g. churn."),
    description: str = typer.Option(None, help="What this version is."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Make the next version of a model from a logged or saved model."""
    from ..registry import register

    version = register(_store(create=True), source, name, description=description)
    if json_output:
        print_json(version.to_dict())
        return
    console.print(f"Registered {version.name} version {version.version} ({version.flavor})")


@app.command("ls")
def ls(json_output: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List registered models with their latest version and aliases."""
    from ..registry import list_models

    models = list_models(_store())
    if json_output:
        print_json([model.to_dict() for model in models])
        return
    if not models:
        console.print("No registered models yet (register one: loopml models register)")
        return
    out = table("name", "latest", "aliases", "updated", "description")
    for model in models:
        aliases = ", ".join(f"{alias}→{number}" for alias, number in model.aliases.items())
        out.add_row(
            model.name,
            fmt_value(model.latest_version),
            aliases,
            format_ms(model.updated_at),
            model.description or "",
        )
    console.print(out)


@app.command("show")
def show(
    ref: str = typer.Argument(..., help="NAME for the model, or NAME/VERSION, NAME@ALIAS."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show a model's versions and alias history, or one version in full."""
    from ..registry import alias_history, get_version, list_evaluations, list_versions
    from ..registry.refs import ModelRef, parse_model_ref

    store = _store()
    parsed = parse_model_ref(ref)
    if isinstance(parsed, ModelRef) and parsed.version is None and parsed.alias is None:
        versions = list_versions(store, parsed.name)
        history = alias_history(store, parsed.name)
        if json_output:
            print_json(
                {
                    "versions": [v.to_dict() for v in versions],
                    "alias_history": [move.to_dict() for move in history],
                }
            )
            return
        out = table("version", "aliases", "flavor", "run", "created", "user", title=parsed.name)
        for version in versions:
            out.add_row(
                str(version.version),
                ", ".join(version.aliases),
                version.flavor or "",
                (version.run_id or "")[:8],
                format_ms(version.created_at),
                version.user or "",
            )
        console.print(out)
        if history:
            moves = table(
                "#", "alias", "from", "to", "action", "by", "when", "why", title="aliases"
            )
            for move in history:
                moves.add_row(
                    str(move.id),
                    move.alias,
                    fmt_value(move.previous_version),
                    fmt_value(move.version),
                    move.action + (" (undone)" if move.undone_by else ""),
                    move.actor,
                    format_ms(move.time),
                    move.reason or "",
                )
            console.print(moves)
        return
    version = get_version(store, ref)
    evaluations = list_evaluations(store, version.name, version.version)
    if json_output:
        print_json({**version.to_dict(), "evaluations": [e.to_dict() for e in evaluations]})
        return
    _print_version(version)
    for record in evaluations[:5]:
        shown = ", ".join(f"{k}={fmt_value(v)}" for k, v in sorted(record.metrics.items())[:8])
        console.print(f"  evaluation #{record.id} on {record.data_ref or 'a frame'}: {shown}")


@app.command("alias")
def alias_cmd(
    name: str = typer.Argument(..., help="The model's name."),
    alias: str = typer.Argument(..., help="The alias, e.g. champion."),
    version: str = typer.Argument(None, help="The version number (or another alias)."),
    reason: str = typer.Option(None, help="Why: kept in the alias history and audit log."),
    delete: bool = typer.Option(False, "--delete", help="Remove the alias instead."),
) -> None:
    """Point an alias at a version (every move is audited), or remove it."""
    from ..registry import delete_alias, set_alias

    store = _store()
    if delete:
        delete_alias(store, name, alias, reason=reason)
        console.print(f"Removed {name}@{alias}")
        return
    if version is None:
        raise InvalidInput("give the version to point the alias at", hint="e.g. 7")
    moved = set_alias(store, name, alias, version, reason=reason)
    console.print(f"{name}@{alias} → version {moved.version}")


@app.command("rollback")
def rollback_cmd(
    name: str = typer.Argument(..., help="The model's name."),
    alias: str = typer.Argument(..., help="The alias to move back, e.g. champion."),
    reason: str = typer.Option(None, help="Why: kept in the alias history and audit log."),
) -> None:
    """Move an alias back to the version it pointed at before its last move."""
    from ..registry import rollback

    version = rollback(_store(), name, alias, reason=reason)
    console.print(f"{name}@{alias} rolled back to version {version.version}")


@app.command("tag")
def tag_cmd(
    ref: str = typer.Argument(..., help="NAME for the model, NAME/VERSION or NAME@ALIAS."),
    pairs: list[str] = typer.Argument(..., help="KEY=VALUE pairs."),
) -> None:
    """Tag a model or one of its versions (e.g. production-ready=true)."""
    from ..registry import set_tags

    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInput(f"tag {pair!r} is not KEY=VALUE", hint="e.g. stage=production")
        values[key] = value
    set_tags(_store(), ref, values)
    console.print(f"Tagged {ref}: " + ", ".join(f"{k}={v}" for k, v in values.items()))


@app.command("describe")
def describe_cmd(
    ref: str = typer.Argument(..., help="NAME for the model, NAME/VERSION or NAME@ALIAS."),
    text: str = typer.Argument(..., help="The description."),
) -> None:
    """Set the description of a model or one of its versions."""
    from ..registry import set_description

    set_description(_store(), ref, text)
    console.print(f"Described {ref}")


@app.command("evaluate")
def evaluate_cmd(
    ref: str = typer.Argument(..., help="NAME/VERSION or NAME@ALIAS."),
    data: str = typer.Option(..., help="Dataset version to evaluate on, e.g. customers@3."),
    target: str = typer.Option(..., help="The target column."),
    task: str = typer.Option(None, help="classification or regression (default: inferred)."),
    sensitive: list[str] = typer.Option(None, help="A sensitive attribute column (repeatable)."),
    train_data: str = typer.Option(None, help="The training data, for the overfitting check."),
    output: Path = typer.Option(None, "--output", "-o", help="Also write the HTML report here."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Evaluate a version on a dataset version and record the result on the version."""
    from ..registry import evaluate_version

    evaluation, record = evaluate_version(
        _store(),
        ref,
        data,
        target=target,
        task=task,
        sensitive=sensitive or [],
        train_data=train_data,
    )
    if output:
        evaluation.save_html(output)
    if json_output:
        print_json({"evaluation": record.id, **evaluation.to_dict()})
        return
    out = table("metric", "value", title=f"{ref} on {record.data_ref} (evaluation #{record.id})")
    for key, value in sorted(record.metrics.items()):
        out.add_row(key, fmt_value(value))
    console.print(out)
    if output:
        console.print(f"Report: {output}")


@app.command("promote")
def promote_cmd(
    name: str = typer.Argument(..., help="The model's name."),
    version: str = typer.Argument(..., help="The candidate version (or an alias)."),
    to: str = typer.Option(..., "--to", help="The alias to move, e.g. champion."),
    gate: list[str] = typer.Option(
        None, "--gate", help="A gate, e.g. 'auc >= champion.auc - 0.005' (repeatable)."
    ),
    data: str = typer.Option(None, help="Dataset version both models are evaluated on."),
    target: str = typer.Option(None, help="The target column of --data."),
    task: str = typer.Option(None, help="classification or regression (default: inferred)."),
    sensitive: list[str] = typer.Option(None, help="A sensitive attribute column (repeatable)."),
    require_approval: bool = typer.Option(
        False, "--require-approval", help="Hold until another user runs 'loopml models approve'."
    ),
    reason: str = typer.Option(None, help="Why: kept in the alias history and audit log."),
    against: str = typer.Option(
        None, "--against", help="The alias gates call champion (default: the --to alias)."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Move an alias to a version if every gate passes; refuse (exit 8) if any fails."""
    from ..registry import promote

    try:
        promotion = promote(
            _store(),
            name,
            version,
            to=to,
            gates=gate or [],
            data=data,
            target=target,
            task=task,
            sensitive=sensitive or [],
            require_approval=require_approval,
            reason=reason,
            against=against,
        )
    except GateFailed as exc:
        if json_output:
            print_json(exc.details["promotion"])
        else:
            _print_gates(exc.details["promotion"]["report"])
        raise
    if json_output:
        print_json(promotion.to_dict())
        return
    if promotion.report and promotion.report.get("gates"):
        _print_gates(promotion.report)
    if promotion.status == "pending":
        console.print(
            f"Promotion #{promotion.id} of {name}/{promotion.version} to '{to}' is held for "
            f"approval (another user runs: loopml models approve {promotion.id})"
        )
    else:
        console.print(f"{name}@{to} → version {promotion.version} (promotion #{promotion.id})")


@app.command("approve")
def approve_cmd(
    promotion_id: int = typer.Argument(..., help="The pending promotion's number."),
    reason: str = typer.Option(None, help="Why: kept in the alias history and audit log."),
) -> None:
    """Approve a pending promotion (not by the user who requested it)."""
    from ..registry import approve

    promotion = approve(_store(), promotion_id, reason=reason)
    console.print(f"{promotion.name}@{promotion.alias} → version {promotion.version} (approved)")


@app.command("reject")
def reject_cmd(
    promotion_id: int = typer.Argument(..., help="The pending promotion's number."),
    reason: str = typer.Option(None, help="Why."),
) -> None:
    """Reject a pending promotion; the alias stays where it is."""
    from ..registry import reject

    promotion = reject(_store(), promotion_id, reason=reason)
    console.print(f"Promotion #{promotion.id} rejected")


@app.command("promotions")
def promotions_cmd(
    name: str = typer.Argument(None, help="Only this model's promotions."),
    status: str = typer.Option(None, help="pending, promoted, refused or rejected."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List promotions with their gates and outcome."""
    from ..registry import list_promotions

    promotions = list_promotions(_store(), name, status=status)
    if json_output:
        print_json([p.to_dict() for p in promotions])
        return
    out = table("#", "model", "alias", "status", "gates", "data", "requested by", "when")
    for promotion in promotions:
        out.add_row(
            str(promotion.id),
            f"{promotion.name}/{promotion.version}",
            promotion.alias,
            _status(promotion),
            "; ".join(promotion.gates),
            promotion.data_ref or "",
            promotion.requested_by,
            format_ms(promotion.requested_at),
        )
    console.print(out)


@app.command("card")
def card_cmd(
    ref: str = typer.Argument(..., help="NAME@ALIAS or NAME/VERSION."),
    output: Path = typer.Option(Path("."), "--output", "-o", help="Folder to write into."),
) -> None:
    """Write the model card (Markdown and HTML) of a version."""
    from ..governance.model_card import write_card

    written = write_card(_store(), ref, output)
    for path in written:
        console.print(f"Wrote {path}")


@app.command("build")
def build_cmd(
    ref: str = typer.Argument(..., help="NAME@ALIAS or NAME/VERSION."),
    output: Path = typer.Option(..., "--output", "-o", help="A new folder for the context."),
    port: int = typer.Option(8080, help="The serving port the image exposes."),
    image: str = typer.Option(None, help="Image name for the manifests (default NAME:VERSION)."),
    replicas: int = typer.Option(2, help="Replicas (the autoscaler's minimum)."),
) -> None:
    """Write a Docker build context and Kubernetes manifests for a version."""
    from ..packaging import build

    result = build(_store(), ref, output, port=port, replicas=replicas, image=image)
    console.print(f"Wrote {len(result.files)} files for {result.model_uri} to {result.out}")
    console.print(f"  docker build -t {result.image} {result.out}")
    console.print(f"  kubectl apply -f {result.out / 'k8s'}")


@app.command("onnx")
def onnx_cmd(
    ref: str = typer.Argument(..., help="NAME@ALIAS, NAME/VERSION or a model folder."),
    output: Path = typer.Option(..., "--output", "-o", help="The .onnx file to write."),
) -> None:
    """Export a scikit-learn model version as ONNX (where skl2onnx supports it)."""
    from ..models import export_onnx, load

    _store()
    path = export_onnx(load(ref), output)
    console.print(f"Wrote {path}")


def _print_version(version: ModelVersion) -> None:
    console.print(f"{version.name} version {version.version}  ({version.uri})")
    rows: list[tuple[str, Any]] = [
        ("aliases", ", ".join(version.aliases)),
        ("flavor", version.flavor),
        ("source", version.source),
        ("created", f"{format_ms(version.created_at)} by {version.user}"),
        ("description", version.description),
        ("datasets", ", ".join(version.lineage.get("datasets") or [])),
        ("git commit", version.lineage.get("git_commit")),
        ("pipeline run", version.lineage.get("pipeline_run")),
        ("tags", ", ".join(f"{k}={v}" for k, v in version.tags.items())),
        ("requirements", " ".join(version.requirements)),
    ]
    for key, value in rows:
        if value:
            console.print(f"  {key:<13} {value}")
    if version.signature:
        columns = ", ".join(f"{c['name']}:{c['type']}" for c in version.signature["inputs"])
        console.print(f"  {'signature':<13} {columns}")
    if version.metrics:
        shown = ", ".join(f"{k}={fmt_value(v)}" for k, v in version.metrics.items())
        console.print(f"  {'run metrics':<13} {shown}")


def _print_gates(report: dict[str, Any]) -> None:
    candidate = (report.get("candidate") or {}).get("version")
    champion = (report.get("champion") or {}).get("version")
    out = table(
        "gate",
        "result",
        f"candidate (v{candidate})",
        f"champion (v{champion})" if champion else "champion",
        "note",
        title=f"gates on {report.get('data')}",
    )
    for gate in report.get("gates", []):
        values = gate["values"]
        out.add_row(
            gate["gate"],
            styled("pass", "green") if gate["passed"] else styled("FAIL", "red"),
            _metric_values(values.get("candidate", {})),
            _metric_values(values.get("champion", {})),
            gate.get("note") or "",
        )
    console.print(out)


def _metric_values(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={fmt_value(v)}" for k, v in values.items())


def _status(promotion: Promotion) -> str:
    return promotion.status
