"""Promotion gates: both models on the same data, refusal with every value, approval."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

import loopml
from loopml.errors import Conflict, GateFailed, InvalidInput, NotFound
from loopml.registry import (
    approve,
    get_version,
    list_evaluations,
    list_promotions,
    promote,
    register,
    reject,
    set_alias,
)
from loopml.store import Store, open_store

from ..modeldata import FEATURES, churn_frame, fit_pipeline, fit_weak

GOOD_GATES = ["auc >= 0.6", "auc >= champion.auc - 0.005"]


@pytest.fixture
def registry(store: Store, churn: pd.DataFrame) -> Store:
    """churn/1 a weak model (the champion), churn/2 a good one; holdout in customers@1."""
    loopml.data.add("customers", churn_frame(rows=300, seed=7))
    for model in (fit_weak(churn), fit_pipeline(churn)):
        with loopml.start_run(experiment="churn"):
            info = loopml.log_model(model, input_example=churn[FEATURES][:5])
        register(store, info, "churn")
    set_alias(store, "churn", "champion", 1)
    return store


def test_a_better_candidate_passes_and_moves_the_alias(registry: Store) -> None:
    promotion = promote(
        registry,
        "churn",
        2,
        to="champion",
        gates=[*GOOD_GATES, "demographic_parity_difference <= 0.2"],
        data="customers@1",
        target="churned",
        sensitive=["gender"],
    )
    assert promotion.status == "promoted" and promotion.passed
    assert get_version(registry, "churn@champion").version == 2
    report = promotion.report
    assert report["data"] == "customers@1"
    auc = report["candidate"]["metrics"]["auc"]
    assert auc > report["champion"]["metrics"]["auc"]
    assert report["gates"][1]["values"]["champion"]["auc"] == report["champion"]["metrics"]["auc"]
    # both evaluations are recorded on their versions, on the same data
    (candidate,) = list_evaluations(registry, "churn", 2)
    (champion,) = list_evaluations(registry, "churn", 1)
    assert candidate.data_ref == champion.data_ref == "customers@1"
    assert candidate.data_hash == champion.data_hash
    assert candidate.metrics["auc"] == auc
    assert registry.blobs.read_bytes(candidate.report_blob).startswith(b"<!DOCTYPE html>")


def test_a_worse_candidate_is_refused_with_both_values_and_nothing_moves(registry: Store) -> None:
    set_alias(registry, "churn", "champion", 2)
    with pytest.raises(GateFailed, match=r"promotion of churn/1 to 'champion' refused") as caught:
        promote(
            registry,
            "churn",
            1,
            to="champion",
            gates=GOOD_GATES,
            data="customers@1",
            target="churned",
        )
    assert caught.value.exit_code == 8
    report = caught.value.details["promotion"]["report"]
    failed = [g for g in report["gates"] if not g["passed"]]
    assert failed[-1]["gate"] == "auc >= champion.auc - 0.005"
    assert set(failed[-1]["values"]) == {"candidate", "champion"}
    assert get_version(registry, "churn@champion").version == 2
    (refused,) = list_promotions(registry, "churn", status="refused")
    assert refused.version == 1 and not refused.passed


def test_a_challenger_is_held_to_the_champion_when_gates_name_it(registry: Store) -> None:
    """to="challenger", against="champion": the champion's side is churn@champion, not
    whoever held churn@challenger (nobody here), so a worse candidate is refused."""
    set_alias(registry, "churn", "champion", 2)
    with pytest.raises(GateFailed, match="to 'challenger' refused"):
        promote(
            registry, "churn", 1, to="challenger", against="champion", gates=GOOD_GATES,
            data="customers@1", target="churned",
        )  # fmt: skip
    set_alias(registry, "churn", "champion", 1)
    promotion = promote(
        registry, "churn", 2, to="challenger", against="champion", gates=GOOD_GATES,
        data="customers@1", target="churned",
    )  # fmt: skip
    assert promotion.status == "promoted"
    assert promotion.report["champion"]["version"] == 1
    assert promotion.report["champion"]["alias"] == "champion"
    assert get_version(registry, "churn@challenger").version == 2
    assert get_version(registry, "churn@champion").version == 1
    with pytest.raises(InvalidInput):
        promote(registry, "churn", 1, to="challenger", against="not an alias!", gates=[])


def test_the_first_champion_passes_gates_that_compare_with_none(store: Store, churn) -> None:
    with loopml.start_run(experiment="churn"):
        info = loopml.log_model(fit_pipeline(churn), input_example=churn[FEATURES][:5])
    register(store, info, "churn")
    promotion = promote(
        store, "churn", 1, to="champion", gates=GOOD_GATES, data=churn, target="churned"
    )
    assert promotion.status == "promoted"
    assert promotion.report["gates"][1]["note"] == "no champion yet: gate skipped"
    assert promotion.data_ref.startswith("frame:")


def test_approval_is_held_until_another_user_approves(registry: Store, project: Path) -> None:
    promotion = promote(
        registry,
        "churn",
        2,
        to="champion",
        gates=GOOD_GATES,
        data="customers@1",
        target="churned",
        require_approval=True,
    )
    assert promotion.status == "pending"
    assert get_version(registry, "churn@champion").version == 1
    with pytest.raises(Conflict, match="requested by tester, who cannot also approve it"):
        approve(registry, promotion.id)
    reviewer = open_store(dataclasses.replace(registry.config, user="ana"))
    try:
        approved = approve(reviewer, promotion.id, reason="looks good")
    finally:
        reviewer.close()
    assert approved.status == "promoted" and approved.decided_by == "ana"
    assert get_version(registry, "churn@champion").version == 2
    with pytest.raises(Conflict, match="is promoted, not pending"):
        approve(registry, promotion.id)


def test_approval_is_refused_when_the_champion_moved_meanwhile(registry: Store) -> None:
    promotion = promote(
        registry,
        "churn",
        2,
        to="champion",
        gates=GOOD_GATES,
        data="customers@1",
        target="churned",
        require_approval=True,
    )
    register(registry, "runs:/" + get_version(registry, "churn/1").run_id + "/model", "churn")
    set_alias(registry, "churn", "champion", 3)
    reviewer = open_store(dataclasses.replace(registry.config, user="ana"))
    try:
        with pytest.raises(Conflict, match="moved to version 3 after promotion"):
            approve(reviewer, promotion.id)
        assert reject(reviewer, promotion.id, reason="stale").status == "rejected"
    finally:
        reviewer.close()


@pytest.mark.parametrize(
    ("version", "options", "error", "message"),
    [
        (9, {}, NotFound, "model 'churn' has no version 9; latest is 2"),
        (2, {"gates": ["auc >= 0.5"]}, InvalidInput, "gates need data to evaluate on"),
        (2, {"gates": ["auc >>= 1"]}, InvalidInput, "does not parse"),
        (
            2,
            {"gates": ["acu >= 0.5"], "data": "customers@1", "target": "churned"},
            InvalidInput,
            "reads metric 'acu'",
        ),
        (2, {"to": "bad alias"}, InvalidInput, "invalid alias"),
        (1, {}, Conflict, "churn@champion already points at version 1"),
        (
            2,
            {"data": "customers@4", "gates": ["auc > 0"], "target": "churned"},
            NotFound,
            "no version 4",
        ),
    ],
)
def test_bad_promotions_are_refused_and_change_nothing(
    registry: Store, version, options, error, message
) -> None:
    options = {"to": "champion", **options}
    with pytest.raises(error, match=message):
        promote(registry, "churn", version, **options)
    assert get_version(registry, "churn@champion").version == 1
    assert list_promotions(registry) == []


def test_a_promotion_gate_works_as_a_pipeline_step(registry: Store, project: Path) -> None:
    (project / "promote_pipeline.py").write_text(
        "import loopml\n"
        "from loopml.errors import GateFailed\n\n"
        "@loopml.step(cache=False)\n"
        "def gate(version: int) -> str:\n"
        "    try:\n"
        "        p = loopml.promote('churn', version, to='champion', gates=['auc >= 0.99'],\n"
        "                           data='customers@1', target='churned')\n"
        "    except GateFailed as exc:\n"
        "        return 'refused: ' + exc.message\n"
        "    return p.status\n\n"
        "@loopml.pipeline\n"
        "def release(version: int = 2):\n"
        "    return gate(version)\n"
    )
    from ..helpers import loopml_cli

    done = loopml_cli("pipeline", "run", "promote_pipeline.py", cwd=project)
    assert done.returncode == 0, done.stderr
    (refused,) = list_promotions(registry, "churn", status="refused")
    assert refused.gates == ["auc >= 0.99"]
    assert get_version(registry, "churn@champion").version == 1
