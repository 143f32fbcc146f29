"""The churn example's customer generator (examples/churn/generate.py) does what its
docstring says: seeded, documented columns, a plausible base rate, drift switches that
move what they name, and labels that arrive after their requests, or never."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import loopml
from loopml.errors import ValidationFailed

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "churn"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"churn_example_{name}", EXAMPLE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


gen = _load("generate")
features = _load("features")


@pytest.mark.parametrize(
    "options",
    [{}, {"covariate_drift": 0.7}, {"concept_drift": 0.4}, {"first_id": 50}],
)
def test_same_seed_same_frame(options: dict) -> None:
    first = gen.customers(500, 11, **options)
    pd.testing.assert_frame_equal(first, gen.customers(500, 11, **options))
    assert not first.equals(gen.customers(500, 12, **options))


def test_columns_types_and_domains() -> None:
    frame = gen.customers(3000, 3)
    assert list(frame.columns) == [gen.ID, *gen.INPUTS, gen.TARGET]
    integers = ["customer_id", *features.INTEGER, "churned"]
    assert {c: str(frame[c].dtype) for c in integers} == dict.fromkeys(integers, "int64")
    assert {c: str(frame[c].dtype) for c in features.FLOAT} == dict.fromkeys(
        features.FLOAT, "float64"
    )
    assert frame["customer_id"].tolist() == list(range(1, 3001))
    assert set(frame["contract"]) == set(gen.CONTRACTS)
    assert set(frame["internet_service"]) == set(gen.INTERNET)
    assert set(frame["payment_method"]) == set(gen.PAYMENTS)
    assert set(frame["region"]) == set(gen.REGIONS)
    for column in ("paperless_billing", "senior", "churned"):
        assert set(frame[column]) == {0, 1}
    assert frame["tenure_months"].between(1, 72).all()
    assert frame["num_products"].between(1, 6).all()
    assert frame["monthly_charges"].between(18, 140).all()
    assert frame["support_calls"].between(0, 15).all()
    billed = frame["tenure_months"] * frame["monthly_charges"]
    assert (frame["total_charges"] / billed).median() == pytest.approx(1.0, abs=0.02)


def test_the_pipeline_sees_the_generated_columns() -> None:
    """features.py (what the model takes) and schema.yaml agree with the generator."""
    assert features.INPUTS == gen.INPUTS
    assert sorted(features.CATEGORICAL + features.NUMERIC) == sorted(gen.INPUTS)
    for options in ({}, {"covariate_drift": 1.0}, {"concept_drift": 1.0}):
        frame = gen.customers(2000, 5, **options)
        report = loopml.data.validate(frame, schema=EXAMPLE / "schema.yaml")
        assert report.anomalies == []
    broken = gen.customers(200, 5).assign(senior=2)
    with pytest.raises(ValidationFailed):
        loopml.data.validate(broken, schema=EXAMPLE / "schema.yaml")


def test_base_rate_and_correlations() -> None:
    frame = gen.customers(20_000, 1)
    assert 0.22 <= frame["churned"].mean() <= 0.32
    by_contract = frame.groupby("contract")["churned"].mean()
    assert by_contract["monthly"] > by_contract["yearly"] > by_contract["two-year"]
    tenure = frame.groupby("contract")["tenure_months"].mean()
    assert tenure["monthly"] < tenure["yearly"] < tenure["two-year"]
    charges = frame.groupby("internet_service")["monthly_charges"].mean()
    assert charges["none"] < charges["dsl"] < charges["fiber"]
    assert frame["churned"].corr(frame["support_calls"]) > 0.1


def _shares(frame: pd.DataFrame) -> dict[str, float]:
    return {
        "monthly": (frame["contract"] == "monthly").mean(),
        "fiber": (frame["internet_service"] == "fiber").mean(),
        "charges": frame["monthly_charges"].mean(),
        "calls": frame["support_calls"].mean(),
        "central": (frame["region"] == "central").mean(),
    }


def test_covariate_drift_moves_the_population() -> None:
    before = _shares(gen.customers(20_000, 2))
    after = _shares(gen.customers(20_000, 2, covariate_drift=1.0))
    assert after["monthly"] - before["monthly"] == pytest.approx(0.08, abs=0.02)
    assert after["fiber"] - before["fiber"] == pytest.approx(0.10, abs=0.02)
    assert after["charges"] - before["charges"] > 10
    assert after["calls"] / before["calls"] == pytest.approx(1.3, abs=0.08)
    assert after["central"] - before["central"] == pytest.approx(0.30, abs=0.02)


def test_concept_drift_keeps_the_population() -> None:
    before = gen.customers(5000, 4)
    after = gen.customers(5000, 4, concept_drift=1.0)
    pd.testing.assert_frame_equal(before[gen.INPUTS], after[gen.INPUTS])
    assert after["churned"].mean() > before["churned"].mean() + 0.08


@pytest.fixture(scope="module")
def trained() -> object:
    """The example's model, from its own train step, on 5000 undrifted customers."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(EXAMPLE))  # pipeline.py imports features by name
        patch.delitem(sys.modules, "features", raising=False)
        pipeline = _load("pipeline")
        sys.modules.pop("features", None)
    return pipeline.train(features.clean(gen.customers(5000, 7)))


def _quality(model: object, frame: pd.DataFrame) -> tuple[float, float]:
    from sklearn.metrics import f1_score, roc_auc_score

    scores = model.predict_proba(frame[gen.INPUTS])[:, 1]  # type: ignore[attr-defined]
    return roc_auc_score(frame["churned"], scores), f1_score(frame["churned"], scores >= 0.5)


def test_model_quality_before_and_after_drift(trained: object) -> None:
    auc, f1 = _quality(trained, gen.customers(20_000, 99))
    assert 0.84 <= auc <= 0.89
    assert 0.60 <= f1 <= 0.67
    # The population moves, the relation holds: F1 stays within 0.05 (it rises a
    # little, as more customers churn), AUC loses at most 0.02.
    drifted_auc, drifted_f1 = _quality(trained, gen.customers(20_000, 99, covariate_drift=1))
    assert abs(drifted_f1 - f1) <= 0.05
    assert auc - drifted_auc <= 0.02
    # The relation changes: the old model misjudges price-sensitive customers.
    changed_auc, changed_f1 = _quality(trained, gen.customers(20_000, 99, concept_drift=1))
    assert changed_f1 <= f1 - 0.08
    assert changed_f1 <= 0.55
    assert changed_auc <= auc - 0.08
    half_auc, half_f1 = _quality(trained, gen.customers(20_000, 99, concept_drift=0.5))
    assert changed_f1 < half_f1 < f1
    assert changed_auc < half_auc < auc


@pytest.mark.parametrize("share", [0.0, 0.1, 0.5])
def test_stream_labels_arrive_after_their_requests(share: float) -> None:
    start = pd.Timestamp("2024-03-01", tz="UTC")
    frame = gen.stream(4000, 6, start="2024-03-01", period_days=10, unlabelled_share=share)
    assert frame["event_time"].is_monotonic_increasing
    assert frame["event_time"].min() >= start
    assert frame["event_time"].max() <= start + pd.Timedelta(days=10)
    arrived = frame[frame["label_time"].notna()]
    assert (arrived["label_time"] > arrived["event_time"]).all()
    missing = frame["label_time"].isna().mean()
    assert missing == pytest.approx(share, abs=3 * np.sqrt(share * (1 - share) / 4000) + 1e-9)
    delay = (arrived["label_time"] - arrived["event_time"]).dt.total_seconds() / 86_400
    assert delay.mean() == pytest.approx(7.0, rel=0.05)


def test_stream_is_the_customers_with_times() -> None:
    frame = gen.stream(1000, 9, covariate_drift=0.5, first_id=10_001)
    expected = gen.customers(1000, 9, covariate_drift=0.5, first_id=10_001)
    pd.testing.assert_frame_equal(frame[expected.columns], expected)
    pd.testing.assert_frame_equal(frame, gen.stream(1000, 9, covariate_drift=0.5, first_id=10_001))


def test_views_split_what_the_server_and_the_feedback_see() -> None:
    frame = gen.stream(2000, 10, label_delay_days=3, unlabelled_share=0.2)
    requests = gen.requests_view(frame)
    labels = gen.labels_view(frame)
    assert list(requests.columns) == ["customer_id", "event_time", *gen.INPUTS]
    assert list(labels.columns) == ["customer_id", "churned", "label_time"]
    assert len(requests) == 2000
    assert len(labels) == frame["label_time"].notna().sum()
    assert labels["label_time"].is_monotonic_increasing
    joined = labels.merge(requests, on="customer_id", validate="one_to_one")
    assert (joined["label_time"] > joined["event_time"]).all()


def test_cli_writes_the_training_table(tmp_path: Path) -> None:
    out = tmp_path / "data" / "customers.csv"
    gen.main(["--rows", "300", "--seed", "3", "--covariate-drift", "0.5", "--out", str(out)])
    written = pd.read_csv(out)
    expected = gen.customers(300, 3, covariate_drift=0.5)
    pd.testing.assert_frame_equal(written, expected, check_dtype=False, check_exact=False)


def test_cli_writes_a_stream_and_its_views(tmp_path: Path) -> None:
    out = tmp_path / "stream.csv"
    argv = ["--stream", "--rows", "300", "--seed", "4", "--concept-drift", "1", "--out", str(out)]
    gen.main(argv)
    requests = pd.read_csv(tmp_path / "stream-requests.csv")
    labels = pd.read_csv(tmp_path / "stream-labels.csv")
    assert len(pd.read_csv(out)) == len(requests) == 300
    assert "churned" not in requests.columns
    assert 250 <= len(labels) < 300  # about 10% never arrive


def test_cli_refuses_a_strength_out_of_range(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        gen.main(["--concept-drift", "1.5"])
    assert exit_info.value.code == 2
    assert "concept_drift must be between 0 (none) and 1 (strong), got 1.5" in (
        capsys.readouterr().err
    )


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    covariate=st.floats(0, 1),
    concept=st.floats(0, 1),
)
def test_every_drifted_table_fits_the_documented_ranges(
    seed: int, covariate: float, concept: float
) -> None:
    frame = gen.customers(300, seed, covariate_drift=covariate, concept_drift=concept)
    assert frame["tenure_months"].between(1, 72).all()
    assert frame["num_products"].between(1, 6).all()
    assert frame["monthly_charges"].between(18, 140).all()
    assert frame["support_calls"].between(0, 15).all()
    assert frame["churned"].isin([0, 1]).all()
    assert frame[gen.INPUTS].notna().all().all()
