from __future__ import annotations

import json
import socket
from pathlib import Path

import loopml
from loopml.artifacts import LocalBlobStore
from loopml.artifacts.verify import verify_blobs

from ..helpers import loopml_cli


def _run_with_files(project: Path) -> tuple[str, dict[str, str]]:
    with loopml.start_run() as run:
        entries = [run.log_text(text, f"{text}.txt") for text in ("alpha", "beta", "gamma")]
    return run.id, {entry.path: entry.hash for entry in entries}


def test_an_intact_store_verifies_clean(project: Path) -> None:
    _run_id, _ = _run_with_files(project)
    report = verify_blobs(loopml.default_store())
    assert report.ok
    assert report.checked == 3
    assert report.bytes_checked == len("alpha") + len("beta") + len("gamma")
    done = loopml_cli("artifacts", "verify", cwd=project)
    assert done.returncode == 0
    assert "checked 3 blob(s)" in done.stdout


def test_corrupt_missing_and_orphaned_blobs_are_named_with_their_runs(project: Path) -> None:
    run_id, hashes = _run_with_files(project)
    blobs = LocalBlobStore(project / ".loopml" / "artifacts")
    corrupt = blobs.path_of(hashes["alpha.txt"])
    corrupt.chmod(0o644)
    corrupt.write_bytes(b"bit rot")
    blobs.path_of(hashes["beta.txt"]).unlink()
    orphan = blobs.put_bytes(b"written, then the process died before its row")
    (project / ".loopml" / "artifacts" / "tmp").mkdir(exist_ok=True)
    dead = f"999999999-dead-{socket.gethostname()}.part"  # a writer on this host that died
    (project / ".loopml" / "artifacts" / "tmp" / dead).write_bytes(b"partial")

    report = verify_blobs(loopml.default_store())
    assert not report.ok
    assert report.corrupt == [hashes["alpha.txt"]]
    assert report.missing == [hashes["beta.txt"]]
    assert report.orphaned == [orphan.hash]
    assert report.temp_removed == [dead]
    assert report.references[hashes["alpha.txt"]] == [f"{run_id}:alpha.txt"]

    done = loopml_cli("artifacts", "verify", "--json", cwd=project)
    assert done.returncode == 6
    assert json.loads(done.stdout)["corrupt"] == [hashes["alpha.txt"]]
    assert done.stderr.startswith("error: 1 corrupt and 1 missing blob(s)")
    human = loopml_cli("artifacts", "verify", cwd=project)
    assert f"corrupt {hashes['alpha.txt']}  used by {run_id}:alpha.txt" in human.stdout
