"""Gate expressions: parsed with a small grammar, evaluated against both models' metrics."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopml.errors import InvalidInput
from loopml.registry.gates import check_gates, parse_gate


@pytest.mark.parametrize(
    ("text", "candidate", "champion", "passed"),
    [
        ("auc >= 0.80", {"auc": 0.81}, None, True),
        ("auc >= 0.80", {"auc": 0.79}, None, False),
        ("auc >= champion.auc - 0.005", {"auc": 0.896}, {"auc": 0.9}, True),
        ("auc >= champion.auc - 0.005", {"auc": 0.894}, {"auc": 0.9}, False),
        ("candidate.auc > champion.auc", {"auc": 0.9}, {"auc": 0.9}, False),
        (
            "demographic_parity_difference <= 0.1",
            {"demographic_parity_difference": 0.04},
            None,
            True,
        ),
        (
            "demographic_parity_difference.gender < 0.1",
            {"demographic_parity_difference.gender": 0.2},
            None,
            False,
        ),
        ("rmse <= champion.rmse * 1.05", {"rmse": 10.4}, {"rmse": 10.0}, True),
        ("-log_loss >= -0.5", {"log_loss": 0.4}, None, True),
    ],
)
def test_gates_compare_numbers_and_metrics(text, candidate, champion, passed) -> None:
    (result,) = check_gates([parse_gate(text)], candidate, champion)
    assert result.passed is passed


def test_the_report_shows_both_values_of_every_metric() -> None:
    (result,) = check_gates([parse_gate("auc >= 0.8")], {"auc": 0.85}, {"auc": 0.9})
    assert result.values == {"candidate": {"auc": 0.85}, "champion": {"auc": 0.9}}
    assert (result.left, result.right) == (0.85, 0.8)


def test_a_champion_gate_without_a_champion_is_skipped_and_says_so() -> None:
    (result,) = check_gates([parse_gate("auc >= champion.auc")], {"auc": 0.5}, None)
    assert result.passed and result.note == "no champion yet: gate skipped"


def test_a_metric_without_a_value_fails_the_gate() -> None:
    (result,) = check_gates([parse_gate("roc_auc >= 0.5")], {"roc_auc": None}, None)
    assert not result.passed and result.note == "a metric has no value"


def test_an_unknown_metric_is_named_with_the_metrics_there_are() -> None:
    with pytest.raises(InvalidInput, match=r"reads metric 'acu'.*available metrics: auc, f1"):
        check_gates([parse_gate("acu >= 0.8")], {"auc": 0.9, "f1": 0.8}, None)


@pytest.mark.parametrize(
    "text",
    [
        "auc",
        "auc >= ",
        "0.8 <= auc <= 0.9",
        "auc >= __import__('os').system('true')",
        "auc in [1]",
        "auc >= True",
        "auc >= 'x'",
        "",
    ],
)
def test_anything_but_one_comparison_of_numbers_and_metrics_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="gate"):
        parse_gate(text)


@given(st.text(max_size=40))
def test_no_text_makes_the_parser_fail_other_than_with_invalid_input(text: str) -> None:
    with contextlib.suppress(InvalidInput):
        parse_gate(text)
