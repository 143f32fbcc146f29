from __future__ import annotations

import subprocess
from pathlib import Path

import loopml
from loopml.tracking.environment import git_state

from ..helpers import run_python


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "train.py").write_text(
        "import loopml\nwith loopml.start_run() as run:\n    print(run.id)\n"
    )
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "first")
    return repo


def test_outside_git_nothing_is_invented(tmp_path: Path) -> None:
    assert git_state(tmp_path) == (None, None, None)


def test_a_clean_checkout_records_its_commit(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    commit, dirty, diff_hash = git_state(repo)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert (commit, dirty, diff_hash) == (head, False, None)


def test_local_edits_are_flagged_and_hashed(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    (repo / "train.py").write_text("# edited\n" + (repo / "train.py").read_text())
    _, dirty, first = git_state(repo)
    assert dirty is True and first is not None and len(first) == 64
    assert git_state(repo)[2] == first  # the same edit hashes the same
    (repo / "train.py").write_text("# edited again\n")
    assert git_state(repo)[2] != first
    (repo / "scratch.txt").write_text("untracked files do not make it dirty")
    _git(repo, "checkout", "train.py")
    assert git_state(repo)[1] is False


def test_a_script_run_records_its_source_and_commit(tmp_path: Path, monkeypatch) -> None:
    repo = _repo(tmp_path)
    monkeypatch.setenv("LOOPML_HOME", str(tmp_path / "store"))
    done = run_python((repo / "train.py").read_text(), cwd=repo)
    assert done.returncode == 0, done.stderr
    run = loopml.get_run(done.stdout.strip())
    assert run.git_commit == git_state(repo)[0]
    assert run.git_dirty is False


def test_code_run_with_dash_c_records_no_source(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LOOPML_HOME", str(tmp_path / "store"))
    done = run_python(
        "import loopml\nwith loopml.start_run() as run:\n    print(run.id)", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert loopml.get_run(done.stdout.strip()).source is None
