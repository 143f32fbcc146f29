"""Deployment specs: the weight arithmetic of splits, shadows, canaries and switches."""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopml.errors import Conflict, InvalidInput
from loopml.serving.spec import (
    Canary,
    DeploymentSpec,
    Variant,
    canary_weight,
    single,
    switched,
    with_canary,
    with_shadow,
    with_split,
    without_canary,
)

V1, V2, V3 = "churn/1", "churn/2", "churn@challenger"
AB = with_split(single(V1), {"b": (V2, 20)}, None)


def layout(spec: DeploymentSpec) -> list[tuple[str, str, int, bool]]:
    return [(v.name, v.model, v.weight, v.shadow) for v in spec.variants]


def canary_on(spec: DeploymentSpec, steps: list[int] | None = None, **limits: Any):
    options = {"max_error_rate": None, "max_p99_ms": None, **limits}
    return with_canary(spec, "churn/5", steps or [10, 50], 600, now=1_000, **options)


def round_trip(spec: DeploymentSpec) -> DeploymentSpec:
    return DeploymentSpec.from_dict(json.loads(json.dumps(spec.to_dict())))


# --- single -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "stored"),
    [
        ("churn@champion", "churn@champion"),
        ("models:/churn@champion", "churn@champion"),
        ("models:/churn/3", "churn/3"),
        ("churn/3", "churn/3"),
        ("churn@latest", "churn"),
    ],
)
def test_a_new_deployment_sends_everything_to_main(model: str, stored: str) -> None:
    spec = single(model)
    assert layout(spec) == [("main", stored, 100, False)]
    assert spec.strategy == "single" and spec.canary is None and spec.sticky is None


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("runs:/abc123/model", "a deployment serves registered models"),
        ("", "invalid model reference"),
        ("churn/0", "invalid model version"),
        ("churn@", "invalid alias"),
        ("no such/model", "invalid model"),
    ],
)
def test_only_registered_model_references_are_served(model: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        single(model)


# --- split ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "change", "expected"),
    [
        (single(V1), {"b": (V2, 20)}, [("main", V1, 80), ("b", V2, 20)]),
        (
            single(V1),
            {"b": (V2, 20), "c": (V3, 30)},
            [("main", V1, 50), ("b", V2, 20), ("c", V3, 30)],
        ),
        (single(V1), {"b": (V2, 100)}, [("main", V1, 0), ("b", V2, 100)]),
        (single(V1), {"b": (V2, 0)}, [("main", V1, 100), ("b", V2, 0)]),
        (AB, {"b": (None, 50)}, [("main", V1, 50), ("b", V2, 50)]),
        (AB, {"b": (V3, 20)}, [("main", V1, 80), ("b", V3, 20)]),
        (AB, {"b": (None, 0)}, [("main", V1, 100)]),
        (AB, {"c": (V3, 30)}, [("main", V1, 50), ("b", V2, 20), ("c", V3, 30)]),
        (AB, {"b": (None, 0), "c": (V3, 30)}, [("main", V1, 70), ("c", V3, 30)]),
    ],
)
def test_split_sets_the_named_variants_and_main_takes_the_rest(start, change, expected) -> None:
    spec = with_split(start, change, None)
    assert [(v.name, v.model, v.weight) for v in spec.variants] == expected
    assert not spec.shadows


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"b": (V2, 101)}, "variant 'b' has weight 101"),
        ({"b": (V2, -1)}, "variant 'b' has weight -1"),
        ({"b": (None, 60), "c": (V3, 50)}, "the variants' weights add up to 110%"),
        ({"c": (V3, 81), "b": (None, 20)}, "add up to 101%"),
        ({"main": (V2, 20)}, "variant 'main' takes whatever traffic the others leave"),
        ({"c": (None, 20)}, "variant 'c' does not exist yet"),
        ({"c": (None, 0)}, "variant 'c' does not exist yet"),
        ({"1b": (V2, 20)}, "invalid variant name '1b'"),
        ({"b c": (V2, 20)}, "invalid variant name"),
        ({"": (V2, 20)}, "invalid variant name"),
        ({"b/c": (V2, 20)}, "invalid variant name"),
        ({"b" * 64: (V2, 20)}, "invalid variant name"),
        pytest.param({"b\n": (V2, 20)}, "invalid variant name", id="newline-in-name"),
        ({"c": ("runs:/abc123/model", 20)}, "a deployment serves registered models"),
    ],
)
def test_a_split_that_does_not_add_up_is_refused(change, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        with_split(AB, change, None)


def test_the_longest_variant_name_is_accepted() -> None:
    spec = with_split(single(V1), {"b" * 63: (V2, 10)}, None)
    assert spec.variant("b" * 63).weight == 10


@pytest.mark.parametrize(
    ("start_sticky", "sticky", "expected"),
    [
        (None, "header:X-User-Id", "header:X-User-Id"),
        (None, "field:customer_id", "field:customer_id"),
        ("header:X-User-Id", None, "header:X-User-Id"),
        ("header:X-User-Id", "field:customer.id", "field:customer.id"),
        ("header:X-User-Id", "", None),
    ],
)
def test_the_sticky_key_is_set_kept_or_cleared(start_sticky, sticky, expected) -> None:
    start = with_split(single(V1), {"b": (V2, 20)}, start_sticky)
    assert with_split(start, {"b": (None, 30)}, sticky).sticky == expected


@pytest.mark.parametrize(
    "sticky",
    ["X-User-Id", "cookie:session", "header:", "header:X User", "field:a/b", "header:X-User-Id\n"],
)
def test_an_invalid_sticky_key_is_refused(sticky: str) -> None:
    with pytest.raises(InvalidInput, match="invalid sticky key"):
        with_split(single(V1), {"b": (V2, 20)}, sticky)


def test_a_split_keeps_the_shadows() -> None:
    spec = with_shadow(single(V1), "mirror", V3, 10)
    spec = with_split(spec, {"b": (V2, 20)}, None)
    assert layout(spec) == [
        ("main", V1, 80, False),
        ("b", V2, 20, False),
        ("mirror", V3, 10, True),
    ]


def test_a_live_variant_cannot_take_a_shadows_name() -> None:
    spec = with_shadow(single(V1), "mirror", V3, 10)
    with pytest.raises(InvalidInput, match="mirror"):
        with_split(spec, {"mirror": (V2, 20)}, None)


_CHANGES = st.dictionaries(
    st.sampled_from(["b", "c", "d"]),
    st.tuples(st.sampled_from([None, V2, V3]), st.integers(-5, 105)),
    max_size=3,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_CHANGES, max_size=6), st.sampled_from([None, "header:X-User-Id"]))
def test_any_sequence_of_splits_keeps_live_traffic_at_100_percent(changes, sticky) -> None:
    spec = with_shadow(single(V1), "mirror", V3, 10)
    for change in changes:
        try:
            spec = with_split(spec, change, sticky)
        except InvalidInput:
            continue
        assert spec.live[0].name == "main"
        assert sum(v.weight for v in spec.live) == 100
        assert all(0 <= v.weight <= 100 for v in spec.live)
        assert len({v.name for v in spec.variants}) == len(spec.variants)
        for name, (model, weight) in change.items():
            if model is None and weight == 0:
                assert name not in {v.name for v in spec.variants}
            else:
                assert spec.variant(name).weight == weight
                assert model is None or spec.variant(name).model == model
        assert spec.shadows == (Variant("mirror", V3, 10, True),)
        assert round_trip(spec) == spec


@given(st.lists(st.integers(0, 100), min_size=1, max_size=4))
def test_any_split_within_100_percent_is_taken_and_main_gets_the_rest(cuts: list[int]) -> None:
    cuts = sorted(cuts)
    shares = [high - low for low, high in pairwise([0, *cuts])]
    spec = with_split(single(V1), {f"v{i}": (V2, share) for i, share in enumerate(shares)}, None)
    assert [(v.name, v.weight) for v in spec.live] == [
        ("main", 100 - cuts[-1]),
        *((f"v{i}", share) for i, share in enumerate(shares)),
    ]


# --- shadow -----------------------------------------------------------------------------


def test_a_shadow_is_added_replaced_and_removed() -> None:
    spec = with_shadow(single(V1), "shadow", V2, 10)
    assert layout(spec) == [("main", V1, 100, False), ("shadow", V2, 10, True)]
    assert spec.strategy == "shadow" and spec.live == (spec.variants[0],)
    spec = with_shadow(spec, "shadow", V3, 50)
    assert layout(spec) == [("main", V1, 100, False), ("shadow", V3, 50, True)]
    spec = with_shadow(spec, "second", V2, 100)
    assert [v.name for v in spec.shadows] == ["shadow", "second"]
    spec = with_shadow(spec, "shadow", None, 0)
    assert layout(spec) == [("main", V1, 100, False), ("second", V2, 100, True)]
    assert with_shadow(spec, "second", None, 100) == single(V1)


@pytest.mark.parametrize(
    ("name", "model", "percent", "message"),
    [
        ("shadow", V2, 0, "shadow share 0%"),
        ("shadow", V2, 101, "shadow share 101%"),
        ("main", V2, 10, "'main' is a live variant"),
        ("b", V2, 10, "'b' is a live variant"),
        ("b", None, 10, "'b' is a live variant"),
        ("gone", None, 100, "there is no shadow variant 'gone' to remove"),
        ("9lives", V2, 10, "invalid variant name"),
        ("shadow", "runs:/abc123/model", 10, "a deployment serves registered models"),
    ],
)
def test_a_bad_shadow_is_refused(name: str, model, percent: int, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        with_shadow(AB, name, model, percent)


# --- canary -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "normalised"),
    [
        ([5, 25, 50], (5, 25, 50, 100)),
        ([5, 25, 50, 100], (5, 25, 50, 100)),
        ([1], (1, 100)),
        ([100], (100,)),
    ],
)
def test_canary_steps_always_end_at_100_percent(steps: list[int], normalised) -> None:
    spec = canary_on(single(V1), steps)
    assert spec.canary is not None and spec.canary.steps == normalised
    assert [(v.name, v.weight) for v in spec.variants] == [
        ("main", 100 - steps[0]),
        ("canary", steps[0]),
    ]


def test_a_canary_is_refused_while_an_ab_split_serves_two_variants() -> None:
    spec = with_split(single(V1), {"b": (V2, 30)}, None)
    with pytest.raises(Conflict, match="one stable variant; 2 take traffic"):
        canary_on(spec, [10])


def test_a_canary_runs_against_the_stable_variant_alone() -> None:
    spec = with_split(single(V1), {"idle": (V3, 0)}, "header:X-User-Id")
    spec = with_shadow(spec, "mirror", V2, 10)
    started = canary_on(spec, [10, 50], max_error_rate=0.01, max_p99_ms=50.0)
    assert layout(started) == [
        ("main", V1, 90, False),
        ("canary", "churn/5", 10, False),
        ("idle", V3, 0, False),
        ("mirror", V2, 10, True),
    ]
    assert started.canary == Canary(
        steps=(10, 50, 100),
        interval_s=600,
        max_error_rate=0.01,
        max_p99_ms=50.0,
        step=0,
        step_started_at=1_000,
        status="running",
        reason=None,
        stable="main",
    )
    assert started.strategy == "canary" and started.sticky == "header:X-User-Id"
    assert round_trip(started) == started


def test_a_canary_replaces_an_idle_variant_named_canary() -> None:
    spec = with_split(single(V1), {"canary": (V3, 0)}, None)
    assert layout(canary_on(spec, [20])) == [
        ("main", V1, 80, False),
        ("canary", "churn/5", 20, False),
    ]


def test_a_canary_takes_its_share_from_the_variant_serving_the_traffic() -> None:
    # main is idle: b answers every request, so b is the stable variant.
    spec = with_split(single(V1), {"b": (V2, 100)}, None)
    started = canary_on(spec, [10])
    assert started.canary is not None and started.canary.stable == "b"
    assert {v.name: v.weight for v in started.variants} == {"b": 90, "canary": 10, "main": 0}


@pytest.mark.parametrize(
    ("steps", "interval_s", "limits", "message"),
    [
        ([], 600, {}, "invalid canary steps"),
        ([0, 50], 600, {}, "invalid canary steps"),
        ([50, 101], 600, {}, "invalid canary steps"),
        ([-5, 50], 600, {}, "invalid canary steps"),
        ([50, 25], 600, {}, "invalid canary steps"),
        ([25, 25, 50], 600, {}, "invalid canary steps"),
        ([10], 0, {}, "the canary interval must be positive"),
        ([10], -60, {}, "the canary interval must be positive"),
        ([10], 600, {"max_error_rate": -0.01}, "--max-error-rate is a fraction"),
        ([10], 600, {"max_error_rate": 1.5}, "--max-error-rate is a fraction"),
        ([10], 600, {"max_p99_ms": 0}, "--max-p99-ms must be positive"),
        ([10], 600, {"max_p99_ms": -5}, "--max-p99-ms must be positive"),
    ],
)
def test_a_bad_canary_is_refused(steps, interval_s: float, limits, message: str) -> None:
    options = {"max_error_rate": None, "max_p99_ms": None, **limits}
    with pytest.raises(InvalidInput, match=message):
        with_canary(single(V1), "churn/5", steps, interval_s, now=0, **options)


@pytest.mark.parametrize("rate", [0.0, 1.0])
def test_error_rate_limits_at_the_ends_are_accepted(rate: float) -> None:
    spec = canary_on(single(V1), max_error_rate=rate)
    assert spec.canary is not None and spec.canary.max_error_rate == rate


@pytest.mark.parametrize(
    "change",
    [
        lambda s: canary_on(s),
        lambda s: with_split(s, {"b": (V2, 20)}, None),
        lambda s: switched(s, V2),
        lambda s: switched(s, None),
    ],
    ids=["canary", "split", "switch-to", "switch"],
)
def test_nothing_but_the_canary_changes_while_it_runs(change) -> None:
    running = canary_on(single(V1))
    with pytest.raises(Conflict, match="a canary is running on this deployment"):
        change(running)


def test_canary_weight_moves_traffic_between_stable_and_canary_only() -> None:
    spec = with_split(single(V1), {"idle": (V3, 0)}, None)
    spec = canary_on(with_shadow(spec, "mirror", V2, 10), [10, 50])
    moved = canary_weight(spec, 50)
    assert layout(moved) == [
        ("main", V1, 50, False),
        ("canary", "churn/5", 50, False),
        ("idle", V3, 0, False),
        ("mirror", V2, 10, True),
    ]
    assert moved.canary == spec.canary


@pytest.mark.parametrize("status", ["promoted", "rolled_back", "aborted"])
def test_without_canary_puts_all_traffic_back_on_stable(status: str) -> None:
    spec = with_split(single(V1), {"idle": (V3, 0)}, None)
    spec = canary_weight(canary_on(with_shadow(spec, "mirror", V2, 10), [10, 50]), 50)
    ended = without_canary(spec, status, "because")
    assert layout(ended) == [
        ("main", V1, 100, False),
        ("idle", V3, 0, False),
        ("mirror", V2, 10, True),
    ]
    assert ended.canary is not None
    assert (ended.canary.status, ended.canary.reason) == (status, "because")
    assert ended.strategy != "canary"
    assert canary_on(ended).strategy == "canary"  # a new canary may start


# --- switch -----------------------------------------------------------------------------


def test_switch_to_a_model_keeps_the_old_variant_idle_and_switches_back() -> None:
    spec = with_shadow(single(V1), "mirror", V3, 10)
    green = switched(spec, V2)
    assert layout(green) == [
        ("green", V2, 100, False),
        ("main", V1, 0, False),
        ("mirror", V3, 10, True),
    ]
    assert green.strategy == "shadow"
    back = switched(green, None)
    assert layout(back) == [
        ("main", V1, 100, False),
        ("green", V2, 0, False),
        ("mirror", V3, 10, True),
    ]
    blue = switched(switched(single(V1), V2), V3)
    assert layout(blue) == [("blue", V3, 100, False), ("green", V2, 0, False)]
    assert blue.strategy == "blue-green"


def test_switch_to_an_idle_variant_made_by_a_split() -> None:
    spec = with_split(single(V1), {"b": (V2, 0)}, None)
    assert layout(switched(spec, None)) == [("b", V2, 100, False), ("main", V1, 0, False)]


@pytest.mark.parametrize(
    ("spec", "model", "message"),
    [
        (single(V1), None, "there is no idle variant to switch to"),
        (AB, None, "switch flips one live variant; 2 take traffic now"),
        (AB, V3, "switch flips one live variant; 2 take traffic now"),
        (with_shadow(single(V1), "mirror", V3, 10), None, "there is no idle variant"),
    ],
)
def test_a_switch_with_nothing_to_flip_is_refused(spec, model, message: str) -> None:
    with pytest.raises(Conflict, match=message):
        switched(spec, model)


def test_a_switch_never_gives_two_variants_one_name() -> None:
    spec = with_shadow(single(V1), "green", V3, 10)
    names = [v.name for v in switched(spec, V2).variants]
    assert len(set(names)) == len(names), names


# --- strategy ---------------------------------------------------------------------------

_RUNNING = Canary(steps=(10, 100), interval_s=60)


@pytest.mark.parametrize(
    ("variants", "canary", "strategy"),
    [
        ([Variant("main", V1, 100)], None, "single"),
        ([Variant("main", V1, 80), Variant("b", V2, 20)], None, "ab"),
        ([Variant("main", V1, 80), Variant("b", V2, 20), Variant("s", V3, 5, True)], None, "ab"),
        ([Variant("main", V1, 100), Variant("s", V3, 5, True)], None, "shadow"),
        ([Variant("green", V2, 100), Variant("main", V1, 0)], None, "blue-green"),
        ([Variant("main", V1, 90), Variant("canary", V2, 10)], _RUNNING, "canary"),
        ([Variant("main", V1, 100)], Canary((10, 100), 60, status="promoted"), "single"),
        ([Variant("main", V1, 100)], Canary((10, 100), 60, status="aborted"), "single"),
    ],
)
def test_strategy_names_what_the_spec_does(variants, canary, strategy: str) -> None:
    spec = DeploymentSpec(variants=tuple(variants), canary=canary)
    assert spec.strategy == strategy
    assert round_trip(spec) == spec


def test_an_unknown_variant_is_named_with_the_known_ones() -> None:
    with pytest.raises(InvalidInput, match=r"no variant 'c' \(variants: main, b\)"):
        AB.variant("c")
