"""Requests generated from the team server's own /openapi.json never get a 5xx."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import Served

pytestmark = pytest.mark.slow

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def test_generated_requests_never_get_a_server_error(served: Served, tmp_path: Path) -> None:
    if not SCHEMATHESIS.is_file():
        pytest.skip(f"schemathesis is not installed next to {sys.executable}")
    token = served.token("admin", "fuzzer")
    workdir = tmp_path / "schemathesis"  # it leaves .hypothesis/ and .schemathesis/ here
    workdir.mkdir()
    result = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{served.url}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "15",
            "--workers",
            "2",
            "--request-timeout",
            "20",
            "--header",
            f"Authorization: Bearer {token}",
            "--generation-deterministic",  # the same requests on every run: no flaky CI
            "--no-color",
        ],
        cwd=workdir,
        env={**os.environ, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
