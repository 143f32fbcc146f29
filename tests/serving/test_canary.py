"""Judging a canary step: wait for evidence, roll back on a breached limit, else move on."""

from __future__ import annotations

from collections import deque

import pytest

from loopml.serving.canary import MIN_REQUESTS, judge
from loopml.serving.metrics import VariantWindow
from loopml.serving.spec import Canary

STARTED = 1_000_000
INTERVAL_S = 60
ELAPSED = STARTED + INTERVAL_S * 1000
CANARY = Canary(
    steps=(10, 50, 100),
    interval_s=INTERVAL_S,
    max_error_rate=0.05,
    max_p99_ms=100.0,
    step_started_at=STARTED,
)


def window(requests: int, errors: int = 0, latency_ms: float = 10.0) -> VariantWindow:
    """A variant's window where every request took ``latency_ms``."""
    return VariantWindow(requests, errors, deque([latency_ms / 1000] * requests))


HEALTHY = window(200, errors=2, latency_ms=20)


@pytest.mark.parametrize(
    ("candidate", "now"),
    [
        (window(MIN_REQUESTS - 1, errors=MIN_REQUESTS - 1, latency_ms=900), ELAPSED),
        (window(0), ELAPSED * 10),
        (window(MIN_REQUESTS), ELAPSED - 1),
        (window(500, latency_ms=15), STARTED),
    ],
    ids=["too-few-requests", "no-traffic", "interval-not-over", "healthy-but-early"],
)
def test_without_enough_evidence_the_canary_waits(candidate: VariantWindow, now: int) -> None:
    assert judge(CANARY, HEALTHY, candidate, now) is None


@pytest.mark.parametrize("status", ["promoted", "rolled_back", "aborted"])
def test_a_finished_canary_is_not_judged(status: str) -> None:
    finished = Canary((10, 100), INTERVAL_S, 0.0, 1.0, step_started_at=STARTED, status=status)
    assert judge(finished, HEALTHY, window(100, errors=100, latency_ms=500), ELAPSED) is None


def test_an_error_rate_over_the_stables_by_more_than_the_limit_rolls_back() -> None:
    verdict = judge(CANARY, HEALTHY, window(50, errors=5), STARTED)
    assert verdict is not None
    assert verdict[0] == "rollback"
    assert "10.00%" in verdict[1] and "1.00%" in verdict[1] and "limit 5.00%" in verdict[1]


def test_an_error_rate_the_stable_variant_shares_is_no_reason_to_roll_back() -> None:
    stable = window(200, errors=20, latency_ms=20)  # 10%
    assert judge(CANARY, stable, window(50, errors=6), STARTED) is None  # 12%: 2% over
    assert judge(CANARY, stable, window(50, errors=6), ELAPSED)[0] == "next"


def test_a_p99_over_the_limit_and_over_the_stables_rolls_back() -> None:
    verdict = judge(CANARY, HEALTHY, window(50, latency_ms=150), STARTED)
    assert verdict is not None and verdict[0] == "rollback"
    assert "150.0 ms" in verdict[1] and "100 ms limit" in verdict[1] and "20.0 ms" in verdict[1]


def test_a_p99_over_the_limit_but_not_over_the_stables_holds() -> None:
    slow_stable = window(200, latency_ms=300)
    assert judge(CANARY, slow_stable, window(50, latency_ms=150), STARTED) is None
    assert judge(CANARY, slow_stable, window(50, latency_ms=150), ELAPSED)[0] == "next"


def test_a_breach_rolls_back_even_when_the_interval_is_over() -> None:
    verdict = judge(CANARY, HEALTHY, window(50, errors=25), ELAPSED)
    assert verdict is not None and verdict[0] == "rollback"


@pytest.mark.parametrize(
    ("step", "expected"),
    [(0, "step 1/3 (10%)"), (1, "step 2/3 (50%)"), (2, "step 3/3 (100%)")],
)
def test_a_step_that_held_its_limits_for_the_interval_moves_on(step: int, expected: str) -> None:
    at_step = Canary((10, 50, 100), INTERVAL_S, 0.05, 100.0, step=step, step_started_at=STARTED)
    verdict = judge(at_step, HEALTHY, window(40, errors=1, latency_ms=30), ELAPSED)
    assert verdict == ("next", f"{expected} held its limits over 40 requests")


def test_without_limits_only_the_interval_counts() -> None:
    unlimited = Canary((10, 100), INTERVAL_S, step_started_at=STARTED)
    broken = window(50, errors=50, latency_ms=5_000)
    assert judge(unlimited, HEALTHY, broken, ELAPSED - 1) is None
    assert judge(unlimited, HEALTHY, broken, ELAPSED)[0] == "next"
