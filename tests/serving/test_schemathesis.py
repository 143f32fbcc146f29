"""Requests generated from the server's own /openapi.json never get a 5xx."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .support import Server

pytestmark = [
    pytest.mark.slow,
    # Generated requests do not depend on the store's backend; one is enough here.
    pytest.mark.parametrize("backend", ["sqlite"], indirect=True),
]

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def test_generated_requests_never_get_a_server_error(server: Server, tmp_path: Path) -> None:
    if not SCHEMATHESIS.is_file():
        pytest.skip(f"schemathesis is not installed next to {sys.executable}")
    workdir = tmp_path / "schemathesis"  # it leaves .hypothesis/ and .schemathesis/ here
    workdir.mkdir()
    result = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{server.url}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "30",
            "--workers",
            "1",
            "--request-timeout",
            "10",
            "--no-color",
        ],
        cwd=workdir,
        env={**os.environ, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in server.output(), server.output()
