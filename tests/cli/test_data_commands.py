"""``loopml data`` as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ..helpers import loopml_cli

# Each command runs on the embedded store and through a team server.
pytestmark = pytest.mark.usefixtures("mode")


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    assert loopml_cli("init", cwd=tmp_path).returncode == 0
    (tmp_path / "customers.csv").write_text("id,plan\n1,basic\n2,pro\n")
    folder = tmp_path / "images"
    (folder / "cats").mkdir(parents=True)
    (folder / "cats" / "1.jpg").write_bytes(b"\xff\xd8 cat one")
    (folder / "dog.jpg").write_bytes(b"\xff\xd8 dog")
    return tmp_path


def test_add_list_show_tag_and_get(files: Path) -> None:
    added = loopml_cli("data", "add", "customers", "customers.csv", "-m", "first", cwd=files)
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("Added customers@1: table, 2 rows × 2 columns (csv)")
    again = loopml_cli("data", "add", "customers", "customers.csv", "--json", cwd=files)
    assert json.loads(again.stdout)["created"] is False
    assert loopml_cli("data", "add", "images", "images", cwd=files).returncode == 0

    listed = json.loads(loopml_cli("data", "ls", "--json", cwd=files).stdout)
    assert [(d["name"], d["latest"]) for d in listed] == [("customers", 1), ("images", 1)]
    versions = loopml_cli("data", "ls", "customers", cwd=files).stdout
    assert "customers@1" in versions and "first" in versions

    shown = json.loads(loopml_cli("data", "show", "images", "--json", cwd=files).stdout)
    assert [f["path"] for f in shown["files"]] == ["cats/1.jpg", "dog.jpg"]
    human = loopml_cli("data", "show", "customers@1", cwd=files).stdout
    assert "plan" in human and "string" in human

    tagged = loopml_cli("data", "tag", "images@1", "gold", cwd=files)
    assert tagged.stdout.strip() == "images@gold -> images@1"
    got = loopml_cli("data", "get", "images@gold", "restored", "--json", cwd=files)
    assert got.returncode == 0, got.stderr
    assert (files / "restored" / "cats" / "1.jpg").read_bytes() == b"\xff\xd8 cat one"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("data", "show", "customers@7"), 3, "dataset 'customers' has no version 7; latest is 1"),
        (("data", "show", "nobody"), 3, "no dataset named 'nobody'"),
        (("data", "add", "bad name", "customers.csv"), 2, "dataset name 'bad name' is not allowed"),
        (("data", "add", "x", "missing.csv"), 3, "no file or folder at missing.csv"),
        (("data", "tag", "customers@1", "42"), 2, "tag '42' is not allowed"),
    ],
)
def test_bad_input_is_one_line_with_the_right_code(
    files: Path, args: tuple[str, ...], code: int, message: str
) -> None:
    assert loopml_cli("data", "add", "customers", "customers.csv", cwd=files).returncode == 0
    done = loopml_cli(*args, cwd=files)
    assert done.returncode == code, done.stderr
    assert message in done.stderr
    assert len(done.stderr.splitlines()) == 1


def test_profile_prints_a_summary_json_and_an_html_report(files: Path) -> None:
    assert loopml_cli("data", "add", "customers", "customers.csv", cwd=files).returncode == 0
    human = loopml_cli("data", "profile", "customers", cwd=files)
    assert human.returncode == 0, human.stderr
    assert "customers@1: 2 rows" in human.stdout
    assert "categorical" in human.stdout
    summary = json.loads(loopml_cli("data", "profile", "customers", "--json", cwd=files).stdout)
    assert summary["rows"] == 2
    assert summary["columns"]["plan"]["top"] == [
        {"value": "basic", "count": 1},
        {"value": "pro", "count": 1},
    ]
    report = loopml_cli("data", "profile", "customers@1", "--html", "report.html", cwd=files)
    assert report.returncode == 0
    html = (files / "report.html").read_text()
    assert "<html" in html and "plan" in html
    notes = loopml_cli("data", "add", "images", "images", cwd=files)
    assert notes.returncode == 0
    refused = loopml_cli("data", "profile", "images", cwd=files)
    assert refused.returncode == 2
    assert "is a folder, not a table" in refused.stderr
