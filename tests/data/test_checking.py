"""Schemas attached to datasets gate new versions; --warn-only stores anomalies."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy import func, select

from loopml.data.checking import attached_schema, set_schema
from loopml.data.schema import infer_schema
from loopml.data.versioning import add, get_version
from loopml.errors import InvalidInput, ValidationFailed
from loopml.governance import list_events
from loopml.store.schema import blobs, dataset_versions

from ..helpers import loopml_cli

GOOD = pa.table({"id": [1, 2, 3, 4], "plan": ["basic", "pro", "pro", "basic"]})
BAD = pa.table({"id": [1, 1, 3], "plan": ["basic", "gold", "pro"]})


def _count(store, table) -> int:
    with store.read() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


@pytest.fixture
def checked(store):
    add(store, "customers", GOOD)
    set_schema(store, "customers", infer_schema(GOOD).to_yaml())
    return store


def test_a_version_that_breaks_the_schema_is_refused_and_nothing_is_stored(checked, db) -> None:
    versions, stored = _count(db, dataset_versions), _count(db, blobs)
    with pytest.raises(ValidationFailed, match="breaks its schema: 2 error") as caught:
        add(checked, "customers", BAD)
    report = caught.value.details["report"]
    assert {a["kind"] for a in report["anomalies"]} == {"unseen_category", "duplicate_key"}
    assert caught.value.exit_code == 2
    assert (_count(db, dataset_versions), _count(db, blobs)) == (versions, stored)


def test_warn_only_stores_the_version_with_its_anomalies(checked) -> None:
    version = add(checked, "customers", BAD, warn_only=True).version
    assert version.version == 2
    assert {a["kind"] for a in version.anomalies} == {"unseen_category", "duplicate_key"}
    assert get_version(checked, "customers@2").anomalies == version.anomalies


def test_good_data_passes_and_carries_no_anomalies(checked) -> None:
    more = pa.table({"id": [5, 6], "plan": ["pro", "basic"]})
    version = add(checked, "customers", more).version
    assert version.anomalies is None


def test_an_explicit_schema_wins_over_the_attached_one(checked) -> None:
    loose = infer_schema(BAD, infer_key=False)
    assert add(checked, "customers", BAD, schema=loose).created


def test_attaching_is_audited_and_a_broken_schema_is_refused(checked) -> None:
    assert attached_schema(checked, "customers") is not None
    assert list_events(checked, action="dataset.schema")[0].object_id == "customers"
    with pytest.raises(InvalidInput, match="bad.yaml"):
        set_schema(checked, "customers", "columns: 7", source="bad.yaml")
    assert attached_schema(checked, "customers").column_names == ["id", "plan"]


def test_a_schema_can_be_attached_before_the_first_version(store) -> None:
    set_schema(store, "future", infer_schema(GOOD).to_yaml())
    with pytest.raises(ValidationFailed):
        add(store, "future", BAD)
    assert add(store, "future", GOOD).version.ref == "future@1"


def test_the_cli_infers_attaches_validates_and_gates(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "good.csv").write_text("id,plan\n1,basic\n2,pro\n3,pro\n4,basic\n")
    (tmp_path / "bad.csv").write_text("id,plan\n1,basic\n1,gold\n")
    assert loopml_cli("data", "add", "c", "good.csv", cwd=tmp_path).returncode == 0
    inferred = loopml_cli("data", "schema", "infer", "c@1", cwd=tmp_path)
    assert "name: plan" in inferred.stdout
    (tmp_path / "schema.yaml").write_text(inferred.stdout)
    assert loopml_cli("data", "schema", "set", "c", "schema.yaml", cwd=tmp_path).returncode == 0
    assert loopml_cli("data", "schema", "show", "c", cwd=tmp_path).stdout == inferred.stdout

    checked = loopml_cli("data", "validate", "c", "bad.csv", cwd=tmp_path)
    assert checked.returncode == 2
    assert "unseen_category" in checked.stdout and "duplicate_key" in checked.stdout
    assert checked.stderr.startswith("error: bad.csv breaks the schema of 'c': 2 error(s)")

    refused = loopml_cli("data", "add", "c", "bad.csv", cwd=tmp_path)
    assert refused.returncode == 2
    assert "breaks its schema" in refused.stderr
    assert len(refused.stderr.splitlines()) == 1
    assert json.loads(loopml_cli("data", "ls", "--json", cwd=tmp_path).stdout)[0]["latest"] == 1

    kept = loopml_cli("data", "add", "c", "bad.csv", "--warn-only", cwd=tmp_path)
    assert kept.returncode == 0
    assert "stored with 2 anomalies" in kept.stdout

    none = loopml_cli("data", "validate", "other", "good.csv", cwd=tmp_path)
    assert none.returncode == 2
    assert "has no schema" in none.stderr


def test_validate_is_callable_as_a_step(project: Path) -> None:
    import loopml.data

    loopml.data.add("customers", GOOD)
    (project / "schema.yaml").write_text(infer_schema(GOOD).to_yaml())
    loopml.data.validate(GOOD, schema=project / "schema.yaml")  # passes quietly
    with pytest.raises(ValidationFailed):
        loopml.data.validate(BAD, schema=infer_schema(GOOD))
    report = loopml.data.validate(BAD, schema=infer_schema(GOOD), raise_on_errors=False)
    assert not report.ok
    with pytest.raises(InvalidInput, match="has no schema"):
        loopml.data.validate(GOOD, dataset="customers")
    with pytest.raises(InvalidInput, match="exactly one of"):
        loopml.data.validate(GOOD)
