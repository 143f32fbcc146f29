from __future__ import annotations

from pathlib import Path

import pytest

from loopml.config import ENVIRONMENT_VARIABLES, current_user, resolve


def test_the_store_is_found_by_walking_up(tmp_path: Path) -> None:
    (tmp_path / ".loopml").mkdir()
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    config = resolve(nested)
    assert config.home == tmp_path / ".loopml"
    assert config.project_dir == tmp_path
    assert config.home_exists
    assert config.db_url == f"sqlite:///{tmp_path / '.loopml' / 'loopml.db'}"
    assert config.artifacts_url == str(tmp_path / ".loopml" / "artifacts")


def test_without_a_store_the_working_directory_is_proposed(tmp_path: Path) -> None:
    config = resolve(tmp_path)
    assert config.home == tmp_path / ".loopml"
    assert not config.home_exists


def test_here_ignores_a_parent_store(tmp_path: Path) -> None:
    (tmp_path / ".loopml").mkdir()
    child = tmp_path / "child"
    child.mkdir()
    assert resolve(child, here=True).home == child / ".loopml"


def test_environment_overrides_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPML_HOME", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("LOOPML_DB_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("LOOPML_ARTIFACTS_URL", "s3://bucket/prefix")
    monkeypatch.setenv("LOOPML_USER", "ana")
    config = resolve(tmp_path)
    assert config.home == tmp_path / "elsewhere"
    assert config.db_url == "postgresql+psycopg://u@h/db"
    assert config.artifacts_url == "s3://bucket/prefix"
    assert config.user == "ana" == current_user()


def test_the_project_file_can_point_a_team_at_shared_stores(tmp_path: Path) -> None:
    (tmp_path / ".loopml").mkdir()
    (tmp_path / "loopml.yaml").write_text(
        "name: churn\nstore:\n  db_url: postgresql+psycopg://team@db/loopml\n"
        "  artifacts_url: shared/blobs\n"
    )
    config = resolve(tmp_path)
    assert config.db_url == "postgresql+psycopg://team@db/loopml"
    assert config.artifacts_url == str(tmp_path / "shared" / "blobs")


def test_every_setting_is_documented() -> None:
    page = (Path(__file__).parents[1] / "docs" / "configuration.md").read_text()
    for name in ENVIRONMENT_VARIABLES:
        assert f"`{name}`" in page, f"{name} is missing from docs/configuration.md"
