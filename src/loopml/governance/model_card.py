"""Model cards: what a registered model version is for, what it learned from, how it
scored, how fair it is and how it got where it is, as Markdown and self-contained HTML.

Everything on a card is read from the store: the version and its aliases, the training
run and the dataset versions it read (with their stored profiles and anomalies), the
recorded evaluations (metrics, fairness, overfitting), the alias moves and promotions.
What the store cannot know, the intended use, what is out of scope and the known
limitations, comes from the ``intended_use``, ``out_of_scope`` and ``limitations`` tags
of the version (or of the model); a card without them shows a marked placeholder naming
the command that fills it in::

    card = model_card(store, "churn@champion")
    card.to_dict()["fairness"]
    write_card(store, "churn@champion", Path("cards"))  # cards/churn-v3-card.md and .html
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from functools import cache
from itertools import islice
from pathlib import Path
from typing import Any

import jinja2

from ..clock import format_ms, now_ms
from ..data.versioning import get_version as dataset_version
from ..data.versioning import version_profile
from ..errors import InvalidInput, NotFound
from ..registry import (
    EvaluationRecord,
    alias_history,
    get_version,
    list_evaluations,
    list_models,
    list_promotions,
)
from ..store import Store
from ..tracking import get_run
from .fairness import CLASSIFICATION_METRICS, REGRESSION_METRICS

MAX_EVALUATIONS = 3
"""Evaluations shown in full: the newest on each distinct dataset, newest first."""
MAX_PROFILE_COLUMNS = 50
SHORT_HASH = 12
CARD_TAGS = ("intended_use", "out_of_scope", "limitations")
"""Tags with a section of their own, left out of the summary's tag list."""


@dataclass(frozen=True)
class ModelCard:
    """The facts a model card shows about one registered model version.

    Nested values are plain JSON-safe dicts and lists, so :meth:`to_dict` can be stored or
    served as it is. ``run`` is None for a version registered from a folder; ``fairness``
    and ``overfitting`` come from the newest evaluation that recorded them and name it in
    their ``evaluation`` key; ``alias_moves`` and ``promotions`` are those involving this
    version, oldest first.
    """

    name: str
    version: int
    aliases: list[str]
    flavor: str | None
    status: str
    source: str | None
    created_by: str | None
    created_at: int
    description: str | None
    model_description: str | None
    tags: dict[str, str]
    model_tags: dict[str, str]
    run: dict[str, Any] | None
    lineage: dict[str, Any]
    datasets: list[dict[str, Any]]
    registered_metrics: dict[str, float | None]
    evaluations: list[dict[str, Any]]
    evaluation_count: int
    fairness: dict[str, Any] | None
    overfitting: dict[str, Any] | None
    signature: dict[str, Any] | None
    requirements: list[str]
    alias_moves: list[dict[str, Any]]
    promotions: list[dict[str, Any]]
    generated_at: int

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    @property
    def intended_use(self) -> str | None:
        return self.tag("intended_use")

    @property
    def out_of_scope(self) -> str | None:
        return self.tag("out_of_scope")

    @property
    def limitations(self) -> str | None:
        return self.tag("limitations")

    def tag(self, key: str) -> str | None:
        """The version's tag ``key``, else the registered model's, else None."""
        value = self.tags.get(key) or self.model_tags.get(key)
        return value if value and value.strip() else None

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "uri": self.uri,
            "intended_use": self.intended_use,
            "out_of_scope": self.out_of_scope,
            "limitations": self.limitations,
        }

    def to_markdown(self) -> str:
        """The card as GitHub-flavoured Markdown; user text cannot break its tables."""
        return _environment().get_template("model_card.md.j2").render(**_view(self))

    def to_html(self) -> str:
        """The card as one self-contained HTML page (inline CSS, no scripts, escaped text)."""
        return _environment().get_template("model_card.html.j2").render(**_view(self))


def model_card(store: Store, ref: str) -> ModelCard:
    """Gather the card of the version ``ref`` names (``churn@champion``, ``churn/3``,
    ``models:/churn@champion``).

    Raises:
        NotFound: When the model, version or alias does not exist.
    """
    version = get_version(store, ref)
    model = next(m for m in list_models(store) if m.name == version.name)
    records = list_evaluations(store, version.name, version.version)
    fairness, overfitting = _checks(store, records)
    moves = [
        move.to_dict()
        for move in alias_history(store, version.name)
        if version.version in (move.version, move.previous_version)
    ]
    promotions = [
        promotion.to_dict()
        for promotion in reversed(list_promotions(store, version.name))
        if promotion.version == version.version
    ]
    return ModelCard(
        name=version.name,
        version=version.version,
        aliases=list(version.aliases),
        flavor=version.flavor,
        status=version.status,
        source=version.source,
        created_by=version.user,
        created_at=version.created_at,
        description=version.description,
        model_description=model.description,
        tags=dict(version.tags),
        model_tags=dict(model.tags),
        run=_run(store, version.run_id),
        lineage=dict(version.lineage),
        datasets=[_dataset(store, ref) for ref in version.lineage.get("datasets") or []],
        registered_metrics=dict(version.metrics),
        evaluations=[_evaluation(r) for r in _latest_per_data(records)],
        evaluation_count=len(records),
        fairness=fairness,
        overfitting=overfitting,
        signature=version.signature,
        requirements=list(version.requirements),
        alias_moves=moves,
        promotions=promotions,
        generated_at=now_ms(),
    )


def write_card(store: Store, ref: str, out: Path) -> list[Path]:
    """Write ``<out>/<name>-v<version>-card.md`` and ``.html``, creating ``out`` if needed.

    Returns the two paths written, Markdown first.
    """
    card = model_card(store, ref)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InvalidInput(
            f"cannot write the card of {card.name}/{card.version} into {out}: it is a file",
            hint="pass a folder with -o, e.g. -o cards",
        )
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{card.name}-v{card.version}-card"
    written = []
    for suffix, text in ((".md", card.to_markdown()), (".html", card.to_html())):
        path = out / f"{stem}{suffix}"
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


# --- gathering ----------------------------------------------------------------------


def _run(store: Store, run_id: str | None) -> dict[str, Any] | None:
    if not run_id:
        return None
    try:
        run = get_run(store, run_id)
    except NotFound:
        return {"id": run_id, "found": False}
    return {
        "id": run.id,
        "found": True,
        "name": run.name,
        "experiment": run.experiment_name,
        "status": run.status,
        "user": run.user,
        "start_time": run.start_time,
        "params": dict(sorted(run.params.items())),
        "git_commit": run.git_commit,
        "git_dirty": run.git_dirty,
    }


def _dataset(store: Store, ref: str) -> dict[str, Any]:
    """A dataset version the training run read, with a compact profile of its columns."""
    try:
        version = dataset_version(store, ref)
    except (NotFound, InvalidInput) as error:
        return {"ref": ref, "found": False, "error": error.message}
    profile = None
    if version.profile_blob:  # a stored profile only: a card never re-reads the data
        columns = version_profile(store, version).columns
        profile = [
            _profile_row(name, column.to_dict())
            for name, column in islice(columns.items(), MAX_PROFILE_COLUMNS)
        ]
    return {
        "ref": version.ref,
        "found": True,
        "kind": version.kind,
        "format": version.format,
        "rows": version.row_count,
        "columns": len(version.columns) if version.columns is not None else None,
        "content_hash": version.content_hash,
        "created_at": version.created_at,
        "author": version.author,
        "message": version.message,
        "anomalies": list(version.anomalies or []),
        "profile": profile,
        "profile_columns_left_out": max(0, len(version.columns or []) - MAX_PROFILE_COLUMNS)
        if profile is not None
        else 0,
    }


def _profile_row(name: str, summary: dict[str, Any]) -> dict[str, Any]:
    numeric = summary["kind"] in ("numeric", "datetime")
    return {
        "column": name,
        "kind": summary["kind"],
        "arrow_type": summary["arrow_type"],
        "missing_rate": summary["null_rate"],
        "distinct": summary["distinct"],
        "min": summary["min"] if numeric else None,
        "mean": summary["mean"] if numeric else None,
        "max": summary["max"] if numeric else None,
    }


def _latest_per_data(records: list[EvaluationRecord]) -> list[EvaluationRecord]:
    """The newest evaluation on each distinct dataset, newest first, at most a few."""
    seen: set[str] = set()
    latest = []
    for record in records:
        if record.data_hash not in seen:
            seen.add(record.data_hash)
            latest.append(record)
    return latest[:MAX_EVALUATIONS]


def _evaluation(record: EvaluationRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "data": _data_name(record),
        "data_hash": record.data_hash,
        "task": record.task,
        "target": record.target,
        "metrics": dict(record.metrics),
        "result_blob": record.result_blob,
        "report_blob": record.report_blob,
        "created_by": record.created_by,
        "created_at": record.created_at,
    }


def _checks(
    store: Store, records: list[EvaluationRecord]
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Fairness and overfitting from the newest evaluations that recorded them."""
    fairness = overfitting = None
    for record in records:  # newest first
        if fairness is not None and overfitting is not None:
            break
        result = json.loads(store.blobs.read_bytes(record.result_blob))
        source = {"evaluation": record.id, "data": _data_name(record), "target": record.target}
        if fairness is None and result.get("fairness"):
            found = result["fairness"]
            fairness = {
                **source,
                "task": found.get("task"),
                "pos_label": found.get("pos_label"),
                "attributes": list(found.get("attributes", {}).values()),
            }
        if overfitting is None and result.get("overfitting"):
            overfitting = {**source, **result["overfitting"]}
    return fairness, overfitting


def _data_name(record: EvaluationRecord) -> str:
    return record.data_ref or f"frame:{record.data_hash[:16]}"


# --- presentation -------------------------------------------------------------------


def _view(card: ModelCard) -> dict[str, Any]:
    """What both templates render: the card's facts as formatted text and tables."""
    from .. import __version__

    ref = f"{card.name}/{card.version}"
    train = card.datasets[0]["ref"] if card.datasets else None
    evaluated = next((e["data"] for e in card.evaluations if "@" in e["data"]), None)
    target = card.evaluations[0]["target"] if card.evaluations else "TARGET"
    evaluate = f"loopml models evaluate {ref} --data {evaluated or train or 'DATASET@VERSION'}"
    evaluate += f" --target {target}"
    tags = {**card.model_tags, **card.tags}
    tag_list = ", ".join(f"{k}={v}" for k, v in tags.items() if k not in CARD_TAGS)
    return {
        "title": f"Model card: {card.name} v{card.version}",
        "card": card,
        "summary": [
            ("Model", f"{card.name}, version {card.version} ({card.uri})"),
            ("Aliases", ", ".join(card.aliases) or "none"),
            ("Flavor", card.flavor or "unknown"),
            ("Status", card.status),
            ("Created", _by(card.created_at, card.created_by)),
            ("Source", card.source or "unknown"),
            ("Tags", tag_list or "none"),
        ],
        "fill_intended_use": _placeholder(
            "No intended use recorded: say who may rely on this model and for which decisions.",
            f'loopml models tag {ref} intended_use="..."',
        ),
        "fill_out_of_scope": _placeholder(
            "No out-of-scope uses recorded: say where the model must not be used.",
            f'loopml models tag {ref} out_of_scope="..."',
        ),
        "no_run": _placeholder(
            f"Registered from a folder ({card.source}), not from a tracked run: no training "
            "run, parameters or data lineage are recorded. Log and register the model from "
            "a run to record them.",
            f"loopml models register runs:/RUN_ID/model {card.name}",
        ),
        "no_datasets": _placeholder(
            "The training run read no registered dataset version. Load the training data "
            "inside the run to record it.",
            'loopml.data.load("NAME@VERSION")',
        ),
        "datasets": _datasets_table(card.datasets),
        "profiles": [
            {
                "ref": d["ref"],
                "table": _profile_table(d["profile"]),
                "left_out": d["profile_columns_left_out"],
            }
            for d in card.datasets
            if d.get("profile")
        ],
        "run": _run_facts(card),
        "params": _pairs_table(("param", "value"), (card.run or {}).get("params") or {}),
        "registered_metrics": _pairs_table(("metric", "value"), card.registered_metrics),
        "evaluations_table": _evaluations_table(card.evaluations),
        "evaluations": [
            {
                **e,
                "when": _by(e["created_at"], e["created_by"]),
                "hash": e["data_hash"][:SHORT_HASH],
            }
            for e in card.evaluations
        ],
        "no_evaluation": _placeholder("No evaluation of this version was recorded.", evaluate),
        "fairness": _fairness(card.fairness),
        "no_fairness": _placeholder(
            "No fairness check was recorded: evaluate with the sensitive attributes.",
            f"{evaluate} --sensitive COLUMN",
        ),
        "signature_table": _signature_table(card.signature),
        "output": _output(card.signature),
        "no_signature": _placeholder(
            "No signature recorded: save the model with an input example.",
            "loopml.log_model(model, input_example=X[:5])",
        ),
        "overfitting": _overfitting_text(card.overfitting),
        "no_overfitting": _placeholder(
            "No overfitting check was recorded: evaluate with the training data too.",
            f"{evaluate} --train-data {train or 'TRAIN@VERSION'}",
        ),
        "anomalies": [
            {"ref": d["ref"], "lines": [_anomaly_text(a) for a in d["anomalies"]]}
            for d in card.datasets
            if d.get("anomalies")
        ],
        "fill_limitations": _placeholder(
            "No known limitations recorded: describe where the model is weak or untested.",
            f'loopml models tag {ref} limitations="..."',
        ),
        "moves": _moves_table(card.alias_moves),
        "promotions": _promotions_table(card.promotions),
        "generated": f"{_when(card.generated_at)} by loopml {__version__}",
    }


def _placeholder(text: str, command: str) -> dict[str, str]:
    return {"text": text, "command": command}


def _table(headers: list[str], rows: list[list[Any]]) -> dict[str, Any] | None:
    """Headers and rows of text, every row as long as the headers; None when empty."""
    if not rows:
        return None
    width = len(headers)
    cells = [[_figure(value) for value in row][:width] for row in rows]
    return {"headers": headers, "rows": [row + [""] * (width - len(row)) for row in cells]}


def _pairs_table(headers: tuple[str, str], values: dict[str, Any]) -> dict[str, Any] | None:
    return _table(list(headers), [[key, value] for key, value in values.items()])


def _datasets_table(datasets: list[dict[str, Any]]) -> dict[str, Any] | None:
    rows = []
    for d in datasets:
        if not d["found"]:
            rows.append([d["ref"], None, None, None, None, f"not found: {d['error']}"])
            continue
        rows.append(
            [
                d["ref"],
                d["rows"],
                d["columns"],
                d["content_hash"][:SHORT_HASH],
                _by(d["created_at"], d["author"]),
                d["message"] or "",
            ]
        )
    headers = ["dataset version", "rows", "columns", "content hash", "added", "message"]
    return _table(headers, rows)


def _profile_table(profile: list[dict[str, Any]]) -> dict[str, Any] | None:
    rows = [
        [
            p["column"],
            f"{p['kind']} ({p['arrow_type']})",
            _percent(p["missing_rate"]),
            p["distinct"],
            p["min"],
            p["mean"],
            p["max"],
        ]
        for p in profile
    ]
    return _table(["column", "type", "missing", "distinct", "min", "mean", "max"], rows)


def _run_facts(card: ModelCard) -> list[tuple[str, str]]:
    run, lineage = card.run, card.lineage
    if run is None:
        return []
    if not run["found"]:
        return [("Run", f"{run['id']} (no longer in this store)")]
    commit = lineage.get("git_commit") or run.get("git_commit")
    dirty = lineage.get("git_dirty") if commit == lineage.get("git_commit") else run["git_dirty"]
    state = {True: "with uncommitted changes", False: "clean"}.get(dirty, "state unknown")
    facts = [
        ("Run", f"{run['id']} ({run['name']}, experiment {run['experiment']}, {run['status']})"),
        ("Started", _by(run["start_time"], run["user"])),
        ("Git commit", f"{commit} ({state})" if commit else "not recorded"),
    ]
    if lineage.get("pipeline") or lineage.get("pipeline_run"):
        pipeline = lineage.get("pipeline") or "unknown pipeline"
        facts.append(("Pipeline", f"{pipeline}, run {lineage.get('pipeline_run')}"))
    return facts


def _evaluations_table(evaluations: list[dict[str, Any]]) -> dict[str, Any] | None:
    names = list(dict.fromkeys(m for e in evaluations for m in e["metrics"]))
    headers = ["metric", *(f"#{e['id']} on {e['data']}" for e in evaluations)]
    return _table(headers, [[m, *(e["metrics"].get(m) for e in evaluations)] for m in names])


def _fairness(fairness: dict[str, Any] | None) -> dict[str, Any] | None:
    if fairness is None:
        return None
    attributes = []
    for attribute in fairness["attributes"]:
        present = {k for row in attribute["groups"] for k in row if k != "group"}
        known = dict.fromkeys((*CLASSIFICATION_METRICS, *REGRESSION_METRICS))
        metrics = [m for m in known if m in present]
        metrics += sorted(present - set(metrics))
        rows = [[row["group"], *(row.get(m) for m in metrics)] for row in attribute["groups"]]
        differences = attribute.get("differences") or {}
        rows.append(["difference (max − min)", *(differences.get(m) for m in metrics)])
        gaps = [
            (label, attribute.get(key))
            for label, key in (
                ("Demographic parity difference", "demographic_parity_difference"),
                ("Equalized odds difference", "equalized_odds_difference"),
            )
            if fairness["task"] == "classification"
        ]
        attributes.append(
            {
                "column": attribute["column"],
                "table": _table(["group", *(m.replace("_", " ") for m in metrics)], rows),
                "gaps": [(label, _figure(value)) for label, value in gaps],
                "notes": list(attribute.get("notes") or []),
            }
        )
    positive = fairness.get("pos_label")
    return {
        "source": f"evaluation #{fairness['evaluation']} on {fairness['data']}",
        "positive": None if positive is None else str(positive),
        "attributes": attributes,
    }


def _signature_table(signature: dict[str, Any] | None) -> dict[str, Any] | None:
    if not signature:
        return None
    rows = [[c["name"], c["type"], c.get("nullable", False)] for c in signature["inputs"]]
    return _table(["column", "type", "nullable"], rows)


def _output(signature: dict[str, Any] | None) -> str | None:
    output = (signature or {}).get("output")
    if not output:
        return None
    shape = output.get("shape")
    return f"{output['type']}, shape {tuple(shape)}" if shape else str(output["type"])


def _overfitting_text(overfitting: dict[str, Any] | None) -> dict[str, str] | None:
    if overfitting is None:
        return None
    flag = overfitting.get("overfitting")
    verdict = {True: "Overfitting flagged", False: "No overfitting flagged"}.get(
        flag, "Overfitting unknown"
    )
    return {
        "verdict": verdict,
        "flagged": {True: "yes", False: "no"}.get(flag, "unknown"),
        "text": (
            f"{overfitting['metric']} is {_figure(overfitting['train'])} on the training data "
            f"and {_figure(overfitting['validation'])} on {overfitting['data']} "
            f"(evaluation #{overfitting['evaluation']}): a gap of {_figure(overfitting['gap'])} "
            f"against a threshold of {_figure(overfitting['threshold'])}"
        ),
    }


def _anomaly_text(anomaly: dict[str, Any]) -> str:
    column = f"column {anomaly['column']!r}: " if anomaly.get("column") else ""
    count = anomaly.get("count")
    rows = f" ({_figure(count)} rows)" if count else ""
    return f"{anomaly.get('severity', 'warning')}: {column}{anomaly.get('message', '')}{rows}"


def _moves_table(moves: list[dict[str, Any]]) -> dict[str, Any] | None:
    rows = []
    for move in moves:
        change = f"{_version_label(move['previous_version'])} → {_version_label(move['version'])}"
        reason = move["reason"] or ""
        if move["undone_by"]:
            reason = f"{reason} (undone by move #{move['undone_by']})".strip()
        when, who = _when(move["time"]), move["actor"]
        rows.append([f"#{move['id']}", when, move["alias"], move["action"], change, who, reason])
    return _table(["move", "when", "alias", "action", "from → to", "by", "reason"], rows)


def _promotions_table(promotions: list[dict[str, Any]]) -> dict[str, Any] | None:
    rows = []
    for p in promotions:
        checked = (p.get("report") or {}).get("gates") or []
        gates = (
            "; ".join(f"{g['gate']} {'passed' if g['passed'] else 'FAILED'}" for g in checked)
            if checked
            else "; ".join(p["gates"]) or "no gates"
        )
        decided = _by(p["decided_at"], p["decided_by"]) if p["decided_at"] else "pending"
        rows.append(
            [
                f"#{p['id']}",
                p["alias"],
                p["status"],
                gates,
                p["data_ref"] or "",
                _by(p["requested_at"], p["requested_by"]),
                decided,
                p["reason"] or "",
            ]
        )
    headers = ["promotion", "alias", "status", "gates", "data", "requested", "decided", "reason"]
    return _table(headers, rows)


def _version_label(number: int | None) -> str:
    return "—" if number is None else f"v{number}"


def _when(ms: int | None) -> str:
    return f"{format_ms(ms)} UTC" if ms is not None else ""


def _by(ms: int | None, who: str | None) -> str:
    return f"{_when(ms)} by {who}" if who else _when(ms)


def _percent(rate: float | None) -> str:
    if rate is None:
        return "—"
    return "0%" if rate == 0 else f"{rate * 100:.3g}%"


def _figure(value: Any) -> str:
    """A value for a table cell: grouped integers, four significant digits, — for None."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value == 0:
            return "0"
        return f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:.4g}"
    return str(value)


def _markdown_text(value: Any) -> str:
    """User text for Markdown: a ``<`` cannot open raw HTML, so tags show as text."""
    return str(value).replace("<", "&lt;")


def _markdown_line(value: Any) -> str:
    """User text for a list item or heading: one line, so it cannot end the item."""
    return " ".join(_markdown_text(value).splitlines())


def _markdown_cell(value: Any) -> str:
    """A table cell's text: one line, pipes escaped, so the row keeps its cells."""
    return _markdown_line(value).replace("\\", "\\\\").replace("|", "\\|")


def _markdown_code(value: Any) -> str:
    """``value`` as an inline code span, fenced past any backticks it holds."""
    text = " ".join(str(value).splitlines())
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


@cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("loopml.governance", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["figure"] = _figure
    environment.filters["md"] = _markdown_text
    environment.filters["line"] = _markdown_line
    environment.filters["cell"] = _markdown_cell
    environment.filters["code"] = _markdown_code
    return environment
