"""What the serving tests share: the model's columns and rows, request bodies, polling,
and a real ``loopml serve`` process on a loopback port."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx2
import numpy as np
import pandas as pd

from ..helpers import free_port

if TYPE_CHECKING:
    from starlette.testclient import TestClient

DEPLOYMENT = "churn-prod"
MODEL = "churn"
FEATURES = ["tenure", "monthly", "support_calls"]
ROW = [12.0, 70.5, 3.0]  # one customer, in signature order

T = TypeVar("T")
# open_client(**settings) and start_server(*args): see conftest.py
ClientFactory = Callable[..., contextlib.AbstractContextManager["TestClient"]]
ServerFactory = Callable[..., "Server"]


def customers(rows: int = 300, seed: int = 0) -> pd.DataFrame:
    """Customers described by three float columns."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "tenure": rng.uniform(1, 72, rows).round(1),
            "monthly": rng.normal(70, 20, rows).round(2),
            "support_calls": rng.poisson(2, rows).astype(float),
        }
    )


def churned(frame: pd.DataFrame) -> np.ndarray:
    """The label the models learn: short tenure, a high bill and many calls churn."""
    score = -0.08 * frame["tenure"] + 0.03 * frame["monthly"] + 0.5 * frame["support_calls"]
    return (score > 1.0).astype(int).to_numpy()


def sample_rows(count: int, seed: int = 1) -> list[list[float]]:
    """``count`` rows in signature order, away from the models' decision boundary."""
    frame = customers(count * 4 + 100, seed)
    score = -0.08 * frame["tenure"] + 0.03 * frame["monthly"] + 0.5 * frame["support_calls"]
    rows = frame[(score - 1.0).abs() > 0.5][FEATURES].head(count).to_numpy().tolist()
    assert len(rows) == count
    return rows


def expected(rows: Sequence[Sequence[float]], version: int = 1) -> list[int]:
    """What ``churn/<version>`` answers for rows away from the boundary."""
    labels = churned(pd.DataFrame([list(row) for row in rows], columns=FEATURES))
    return labels.tolist() if version == 1 else (1 - labels).tolist()


def oip_request(rows: Sequence[Sequence[float]], **extra: Any) -> dict[str, Any]:
    """An OIP v2 infer body with the rows as one FP64 [rows, columns] tensor."""
    return {
        "inputs": [
            {
                "name": "input-0",
                "shape": [len(rows), len(rows[0])],
                "datatype": "FP64",
                "data": [list(row) for row in rows],
            }
        ],
        **extra,
    }


def wait_for(
    probe: Callable[[], T | None], *, timeout: float = 30.0, interval: float = 0.05, what: str
) -> T:
    """The first truthy result of ``probe``; fails naming ``what`` when time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


class Server:
    """A ``loopml serve`` process: the console script a user runs, in the project directory."""

    def __init__(self, cwd: Path, args: Sequence[str], logs: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.logs = logs
        exe = Path(sys.executable).with_name("loopml")
        command = [str(exe), "serve", *args, "--host", "127.0.0.1", "--port", str(self.port)]
        with open(logs, "wb") as output:
            self.process = subprocess.Popen(
                command, cwd=cwd, env=dict(os.environ), stdout=output, stderr=subprocess.STDOUT
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.logs.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60.0) -> Server:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"loopml serve exited with {self.process.returncode}:\n{self.output()}"
                )
            try:
                with httpx2.Client(timeout=2) as client:
                    return client.get(self.url + "/v2/health/ready").status_code == 200
            except httpx2.TransportError:
                return False

        wait_for(ready, timeout=timeout, interval=0.1, what=f"{self.url}/v2/health/ready")
        return self

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM, as a container runtime stops it; returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(30)


def stopped_cleanly(status: int) -> bool:
    """uvicorn re-raises the SIGTERM it handled once it has shut down, so -15 is clean."""
    return status in (0, -signal.SIGTERM)
