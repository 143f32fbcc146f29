"""Pipeline files written into the test's project directory, and the ``loopml`` command run
on them in a fresh interpreter, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# The console script's entry point, with Python's own Ctrl-C handler: a process started
# from a background job inherits an ignored SIGINT, and the Ctrl-C test needs the real one.
MAIN = (
    "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from loopml.cli import main; main()"
)


def loopml_command(*args: str) -> list[str]:
    """The argv of ``loopml ARGS`` run with this interpreter."""
    return [sys.executable, "-c", MAIN, *args]


class Cli:
    """Runs ``loopml ...`` in the project directory with the test's environment."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd

    def __call__(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            loopml_command(*args),
            cwd=self.cwd,
            env=dict(os.environ),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def json(self, *args: str, exit_code: int = 0) -> Any:
        """``loopml ARGS --json``, checking the exit code, parsed."""
        done = self(*args, "--json")
        assert done.returncode == exit_code, done.stderr
        return json.loads(done.stdout)


@pytest.fixture
def cli(project: Path) -> Cli:
    return Cli(project)


@pytest.fixture
def write(project: Path) -> Callable[..., Path]:
    """``write(source, name="pipe.py")``: a dedented file in the project directory."""

    def write_file(source: str, name: str = "pipe.py") -> Path:
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")
        return path

    return write_file


def statuses(run: Any) -> dict[str, str]:
    """``{step name: status}`` of a PipelineRun or of its ``--json`` form."""
    if isinstance(run, dict):
        return {step["name"]: step["status"] for step in run["steps"]}
    return {step.name: step.status for step in run.steps}


def reasons(run: Any) -> dict[str, str]:
    """``{step name: why it ran or was reused}``."""
    if isinstance(run, dict):
        return {step["name"]: step["reason"] for step in run["steps"]}
    return {step.name: step.reason for step in run.steps}
