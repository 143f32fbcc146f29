"""Model cards over real records: a dataset added, a model trained on it in a run,
registered, aliased, evaluated with a sensitive attribute, promoted; and a bare version
registered from a folder, whose card shows placeholders instead of failing."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

import loopml
import loopml.data
from loopml.data.checking import set_schema
from loopml.data.schema import infer_schema
from loopml.errors import InvalidInput, NotFound
from loopml.governance.model_card import _markdown_cell, model_card, write_card
from loopml.registry import (
    evaluate_version,
    list_evaluations,
    promote,
    set_alias,
    set_description,
    set_tags,
)
from loopml.store import Store

from ..helpers import loopml_cli
from ..modeldata import FEATURES, churn_frame, fit_pipeline


def _train(ref: str = "customers@1") -> object:
    """Fit the churn pipeline on ``ref`` inside a run and log it; returns the ModelInfo."""
    with loopml.start_run(experiment="x", params={"C": 1.0}):
        frame = loopml.data.load(ref)
        model = fit_pipeline(frame, C=1.0)
        loopml.log_metric("train_accuracy", float(model.score(frame[FEATURES], frame.churned)))
        return loopml.log_model(model, input_example=frame[FEATURES][:5])


@pytest.fixture
def registered(store: Store) -> Store:
    """churn/1 trained on customers@1, aliased champion, evaluated with gender as sensitive."""
    loopml.data.add("customers", churn_frame())
    loopml.register(_train(), "churn")
    set_alias(store, "churn", "champion", 1, reason="first")
    evaluate_version(
        store,
        "churn/1",
        "customers@1",
        target="churned",
        sensitive=["gender"],
        train_data="customers@1",
    )
    return store


def _section(markdown: str, heading: str) -> str:
    """The text of the ``## heading`` section, up to the next ``## ``."""
    start = markdown.index(f"\n## {heading}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end != -1 else None]


def _tables(markdown: str) -> list[list[list[str]]]:
    """Every Markdown table as rows of cells (split on pipes not escaped by a backslash)."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*markdown.splitlines(), ""]:
        if line.startswith("|"):
            assert line.endswith("|"), f"table row does not end with a pipe: {line!r}"
            current.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
        elif current:
            tables.append(current)
            current = []
    return tables


def test_the_card_shows_data_metrics_fairness_signature_and_history(registered: Store) -> None:
    card = model_card(registered, "churn@champion")
    (evaluation,) = list_evaluations(registered, "churn", 1)
    markdown, page = card.to_markdown(), html.unescape(card.to_html())

    data = _section(markdown, "Training data")
    assert "| customers@1 | 400 | 5 |" in data
    assert "### Profile of customers@1" in data
    assert "| tenure | numeric (int64) | 0% | 71 |" in data
    assert "| plan | categorical (large_string) | 0% | 3 | — | — | — |" in data
    assert "| C | 1.0 |" in data

    metrics = _section(markdown, "Metrics")
    assert "| train_accuracy |" in metrics
    assert "#1 on customers@1" in metrics
    assert f"| roc_auc | {evaluation.metrics['roc_auc']:.4g} |" in metrics
    assert evaluation.report_blob in metrics

    fairness = _section(markdown, "Fairness")
    assert "### gender" in fairness
    (table,) = _tables(fairness)
    assert table[0] == ["group", "count", "selection rate", "accuracy", "precision", "recall", "f1"]
    assert [row[0] for row in table[2:]] == ["f", "m", "difference (max − min)"]
    assert int(table[2][1].replace(",", "")) + int(table[3][1].replace(",", "")) == 400
    assert "Demographic parity difference:" in fairness
    assert "Equalized odds difference:" in fairness

    signature = _section(markdown, "Signature and requirements")
    for column in FEATURES:
        assert f"| {column} |" in signature
    assert re.search(r"^scikit-learn==\d", signature, re.MULTILINE)

    limitations = _section(markdown, "Limitations")
    assert "**No overfitting flagged:** roc_auc is" in limitations
    assert "No data-quality anomalies were recorded" in limitations

    history = _section(markdown, "History")
    assert "| champion | set | — → v1 | tester | first |" in history
    assert "No promotion of this version was requested." in history

    for text in ("customers@1", "roc_auc", "selection rate", "scikit-learn==", "first"):
        assert text in page
    assert card.fairness is not None and card.fairness["attributes"][0]["column"] == "gender"
    assert json.loads(json.dumps(card.to_dict()))["uri"] == "models:/churn/1"


@pytest.mark.parametrize("ref", ["churn@champion", "churn/1", "models:/churn@champion"])
def test_write_card_writes_markdown_and_html_named_after_the_version(
    registered: Store, tmp_path: Path, ref: str
) -> None:
    out = tmp_path / "cards" / "new"
    written = write_card(registered, ref, out)
    assert written == [out / "churn-v1-card.md", out / "churn-v1-card.html"]
    assert written[0].read_text(encoding="utf-8").startswith("# Model card: churn v1\n")
    page = written[1].read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    # self-contained: no script, stylesheet link, image or any other external asset
    assert not re.search(r"<script|<link|<img|src=|https?://", page)


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("nope@champion", "model 'nope' is not registered"),
        ("churn/7", "model 'churn' has no version 7; latest is 1"),
        ("churn@staging", "model 'churn' has no alias 'staging' (aliases: champion)"),
    ],
)
def test_an_unknown_model_version_or_alias_is_not_found_and_nothing_is_written(
    registered: Store, tmp_path: Path, ref: str, message: str
) -> None:
    with pytest.raises(NotFound, match=re.escape(message)):
        model_card(registered, ref)
    with pytest.raises(NotFound, match=re.escape(message)):
        write_card(registered, ref, tmp_path / "cards")
    assert not (tmp_path / "cards").exists()


def test_a_file_in_place_of_the_folder_is_refused(registered: Store, tmp_path: Path) -> None:
    target = tmp_path / "cards"
    target.write_text("not a folder")
    with pytest.raises(InvalidInput, match="it is a file"):
        write_card(registered, "churn/1", target)


def test_user_text_is_escaped_in_html_and_inert_in_markdown(registered: Store) -> None:
    set_description(registered, "churn/1", "<script>alert('card')</script> churn & risk")
    set_tags(registered, "churn/1", {"intended_use": "<img src=x onerror=alert(1)>"})
    card = model_card(registered, "churn/1")
    page = card.to_html()
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&#39;card&#39;)&lt;/script&gt; churn &amp; risk" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    markdown = card.to_markdown()
    assert "<script" not in markdown and "<img" not in markdown
    assert "&lt;script>alert('card')&lt;/script> churn & risk" in markdown


def test_markdown_tables_keep_their_cells_with_pipes_and_newlines_in_user_text(
    registered: Store,
) -> None:
    set_alias(registered, "churn", "canary", 1, reason="split | traffic\nfor a week")
    set_tags(registered, "churn/1", {"team": "growth|retention"})
    markdown = model_card(registered, "churn/1").to_markdown()
    tables = _tables(markdown)
    assert len(tables) >= 8  # datasets, profile, params, 2 metrics, fairness, signature, moves
    for table in tables:
        assert len(table) >= 3, table
        assert set(table[1]) == {"---"}
        assert {len(row) for row in table} == {len(table[0])}, table
    assert r"split \| traffic for a week" in markdown
    assert "team=growth\\|retention" not in markdown  # outside tables pipes stay as typed
    assert "team=growth|retention" in markdown


@given(st.text())
def test_a_markdown_cell_is_one_line_without_bare_pipes(text: str) -> None:
    cell = _markdown_cell(text)
    assert "\n" not in cell and "\r" not in cell
    assert "|" not in re.sub(r"\\[\\|]", "", cell)
    assert "<" not in cell


def test_tags_fill_intended_use_scope_and_limitations(registered: Store) -> None:
    set_tags(registered, "churn", {"intended_use": "model-wide use", "limitations": "model-wide"})
    set_tags(
        registered,
        "churn/1",
        {
            "intended_use": "Rank customers for the retention team's calls.",
            "out_of_scope": "Pricing or credit decisions.",
            "production-ready": "true",
        },
    )
    card = model_card(registered, "churn/1")
    assert card.intended_use == "Rank customers for the retention team's calls."
    assert card.limitations == "model-wide"  # the version has none: the model's tag shows
    markdown = card.to_markdown()
    intended = _section(markdown, "Intended use")
    assert "To fill in" not in intended
    assert "**Out of scope:** Pricing or credit decisions." in intended
    assert "model-wide" in _section(markdown, "Limitations")
    assert "- **Tags:** production-ready=true\n" in markdown
    assert "To fill in" not in card.to_html().split('id="limitations"')[1].split("</section>")[0]


def test_a_version_from_a_folder_gets_placeholders_instead_of_failing(
    store: Store, tmp_path: Path
) -> None:
    frame = churn_frame(rows=60)
    folder = loopml.models.save(fit_pipeline(frame), tmp_path / "m", input_example=frame[:3])
    loopml.register(folder, "plain")
    card = model_card(store, "plain/1")
    assert card.run is None and card.datasets == [] and card.evaluations == []
    assert card.fairness is None and card.overfitting is None and card.alias_moves == []

    markdown = card.to_markdown()
    assert markdown.count("> **To fill in:**") == 7
    assert '`loopml models tag plain/1 intended_use="..."`' in markdown
    assert "Registered from a folder" in _section(markdown, "Training data")
    fairness = _section(markdown, "Fairness")
    assert "No fairness check was recorded" in fairness
    assert "loopml models evaluate plain/1 --data DATASET@VERSION --target TARGET --sensitive" in (
        fairness
    )
    assert "No evaluation of this version was recorded." in _section(markdown, "Metrics")
    assert "No alias has pointed at this version." in markdown
    assert "scikit-learn==" in markdown
    page = card.to_html()
    assert page.count('class="placeholder"') == 7


def test_anomalies_on_the_training_data_are_listed_as_limitations(store: Store) -> None:
    frame = churn_frame()
    seen = pa.Table.from_pandas(frame[frame.plan != "pro"], preserve_index=False)
    set_schema(store, "customers", infer_schema(seen, infer_key=False).to_yaml())
    version = loopml.data.add("customers", frame, warn_only=True).version
    assert version.anomalies
    loopml.register(_train(), "churn")
    data_quality = _section(model_card(store, "churn/1").to_markdown(), "Limitations")
    assert "- customers@1: " in data_quality
    assert "'plan'" in data_quality and "pro" in data_quality


def test_history_shows_promotions_with_gates_and_the_alias_moving_on(registered: Store) -> None:
    loopml.register(_train(), "churn")
    promote(
        registered,
        "churn",
        2,
        to="champion",
        gates=["auc >= 0.6"],
        data="customers@1",
        target="churned",
        reason="better on customers@1",
    )
    first = _section(model_card(registered, "churn/1").to_markdown(), "History")
    assert "| champion | set | v1 → v2 | tester | better on customers@1 |" in first
    assert "No promotion of this version was requested." in first

    second = _section(model_card(registered, "churn/2").to_markdown(), "History")
    (moves, promotions) = _tables(second)
    assert moves[2][3:] == ["set", "v1 → v2", "tester", "better on customers@1"]
    assert promotions[2][1:5] == ["champion", "promoted", "auc >= 0.6 passed", "customers@1"]


def test_only_the_newest_evaluation_on_each_dataset_is_shown(registered: Store) -> None:
    other = churn_frame(rows=120, seed=3)
    loopml.data.add("holdout", other)
    for data in ("customers@1", "holdout@1"):
        evaluate_version(registered, "churn/1", data, target="churned")
    card = model_card(registered, "churn/1")
    records = list_evaluations(registered, "churn", 1)
    assert card.evaluation_count == len(records) == 3
    assert [e["id"] for e in card.evaluations] == [records[0].id, records[1].id]
    assert [e["data"] for e in card.evaluations] == ["holdout@1", "customers@1"]
    # fairness comes from the newest evaluation that had a sensitive attribute
    assert card.fairness is not None and card.fairness["evaluation"] == records[2].id
    metrics = _section(card.to_markdown(), "Metrics")
    assert f"| metric | #{records[0].id} on holdout@1 | #{records[1].id} on customers@1 |" in (
        metrics
    )
    assert "2 of 3 evaluations shown" in metrics


def test_the_cli_writes_the_card_and_exits_3_for_an_unknown_alias(
    registered: Store, project: Path
) -> None:
    result = loopml_cli("models", "card", "churn@champion", "-o", "cards", cwd=project)
    assert result.returncode == 0, result.stderr
    assert (project / "cards" / "churn-v1-card.md").is_file()
    assert (project / "cards" / "churn-v1-card.html").is_file()
    assert "churn-v1-card.html" in result.stdout
    missing = loopml_cli("models", "card", "churn@staging", "-o", "cards", cwd=project)
    assert missing.returncode == NotFound.exit_code
    assert "no alias 'staging'" in missing.stderr


def test_to_dict_is_json_with_the_profile_in_table_column_order(registered: Store) -> None:
    data = json.loads(json.dumps(model_card(registered, "churn/1").to_dict()))
    (dataset,) = data["datasets"]
    assert dataset["ref"] == "customers@1" and dataset["rows"] == 400
    assert [p["column"] for p in dataset["profile"]] == [
        "tenure",
        "monthly",
        "plan",
        "gender",
        "churned",
    ]
    assert data["intended_use"] is None and data["aliases"] == ["champion"]
