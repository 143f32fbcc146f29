"""The context installs and runs outside this environment: what ``docker build`` would do,
in a fresh virtual environment instead of an image (no Docker daemon needed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import loopml
from loopml.config import resolve
from loopml.packaging import build
from loopml.packaging.docker import MODEL_DIR
from loopml.packaging.wheel import wheel_name
from loopml.store import Store, open_store

from .test_docker import register_model

PIP_TIMEOUT = 300
NO_INDEX = (
    "Failed to establish a new connection",
    "Could not fetch URL",
    "NewConnectionError",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "ProxyError",
)


def _clean_environment() -> dict[str, str]:
    """This process's environment without what points Python or loopml at this checkout."""
    dropped = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}
    return {
        key: value
        for key, value in os.environ.items()
        if key not in dropped and not key.startswith("LOOPML_")
    }


def _run(command: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=cwd,
        env=_clean_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _command_of(dockerfile: str) -> list[str]:
    """The container's command: ENTRYPOINT followed by CMD (both in JSON form)."""
    parts: dict[str, list[str]] = {}
    for line in dockerfile.splitlines():
        keyword, _, rest = line.partition(" ")
        if keyword in ("ENTRYPOINT", "CMD"):
            parts[keyword] = json.loads(rest)
    return parts["ENTRYPOINT"] + parts["CMD"]


@pytest.fixture
def store(project: Path) -> Iterator[Store]:
    """One backend is enough here: the install, not the store, is under test."""
    opened = open_store(resolve())
    yield opened
    opened.close()


@pytest.mark.slow
def test_context_installs_in_a_fresh_venv_and_its_entrypoint_predicts(
    store: Store, tmp_path: Path
) -> None:
    register_model(store)
    context = build(store, "churn@champion", tmp_path / "context").out
    venv = tmp_path / "venv"
    made = _run([sys.executable, "-m", "venv", str(venv)], tmp_path, 120)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"

    try:
        installed = _run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--no-cache-dir",
                str(context / "wheels" / wheel_name()),
                "-r",
                str(context / "requirements.txt"),
            ],
            tmp_path,
            PIP_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"pip install of the context took longer than {PIP_TIMEOUT} s")
    if installed.returncode != 0:
        if any(sign in installed.stderr for sign in NO_INDEX):
            pytest.skip(f"pip cannot reach a package index: {installed.stderr.strip()[-300:]}")
        pytest.fail(f"pip install failed:\n{installed.stderr[-3000:]}")

    where = _run([str(python), "-c", "import loopml; print(loopml.__file__)"], tmp_path, 60)
    assert Path(where.stdout.strip()).is_relative_to(venv), "loopml must come from the wheel"

    command = _command_of((context / "Dockerfile").read_text())
    assert command[0] == "python"
    command = [str(python), *command[1:]]
    command = [str(context / "model") if part == MODEL_DIR else part for part in command]
    done = _run([*command, "--check"], tmp_path, 120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])

    model = loopml.models.load(context / "model")
    expected = model.predict(model.input_example()).tolist()
    assert report["predictions"] == expected
    assert (report["flavor"], report["rows"]) == ("sklearn", len(expected))
