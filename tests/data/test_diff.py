from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from loopml.data.diff import diff_versions
from loopml.data.versioning import add
from loopml.errors import InvalidInput, NotFound

from ..helpers import loopml_cli


def test_table_diff_names_columns_rows_and_statistics(store) -> None:
    add(store, "d", pd.DataFrame({"id": [1, 2, 3], "plan": ["a", "b", "b"]}))
    add(store, "d", pd.DataFrame({"id": [1, 2, 3, 4], "plan": ["a", "b", "c", "c"], "x": 1.0}))
    changes = diff_versions(store, "d@2")
    assert (changes.old, changes.new, changes.same_content) == ("d@1", "d@2", False)
    assert changes.rows == (3, 4)
    assert [(c.column, c.change, c.new_type) for c in changes.columns] == [("x", "added", "double")]
    stats = {(s.column, s.stat): (s.old, s.new) for s in changes.stats}
    assert stats[("id", "max")] == (3, 4)
    assert stats[("plan", "distinct")] == (2, 3)
    assert stats[("plan", "top")] == ("b", "c")
    assert ("plan", "null_rate") not in stats  # unchanged statistics are left out


def test_folder_diff_lists_added_removed_and_changed_files(store, tmp_path: Path) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    for name in ("keep", "edit", "drop"):
        (folder / name).write_text(name)
    add(store, "f", folder)
    (folder / "edit").write_text("edited")
    (folder / "drop").unlink()
    (folder / "new").write_text("new")
    add(store, "f", folder)
    changes = diff_versions(store, "f@1", "@2")
    assert [(c.path, c.change) for c in changes.files] == [
        ("drop", "removed"),
        ("edit", "changed"),
        ("new", "added"),
    ]
    assert changes.rows is None


def test_same_content_and_bad_references(store) -> None:
    add(store, "d", pd.DataFrame({"x": [1]}))
    add(store, "e", pd.DataFrame({"x": [1]}))
    assert diff_versions(store, "d@1", "e@1").same_content
    with pytest.raises(InvalidInput, match="d@1 is the first version"):
        diff_versions(store, "d@1")
    with pytest.raises(NotFound, match="no version 5"):
        diff_versions(store, "d@1", "@5")


def test_the_cli_prints_a_diff(project: Path) -> None:
    (project / "a.csv").write_text("x\n1\n2\n")
    assert loopml_cli("data", "add", "a", "a.csv", cwd=project).returncode == 0
    (project / "a.csv").write_text("x\n1\n2\n3\n")
    assert loopml_cli("data", "add", "a", "a.csv", cwd=project).returncode == 0
    done = loopml_cli("data", "diff", "a@2", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "rows  2 -> 3 (+1)" in done.stdout
    assert "a.csv" in done.stdout
