"""Serve the churn champion, send it traffic and ground truth, then read the log back.

    python serve.py      # after the pipeline has registered and promoted a model

1. deployment ``churn-prod`` serves ``churn@champion`` (created if missing);
2. ``loopml serve`` runs it on a free port; 300 customers are scored one request each;
3. an A/B split sends 30% of users (sticky by ``X-User-Id``) to version 1; 300 more;
4. the true labels arrive as feedback; the server stops with SIGTERM (nothing is lost);
5. the prediction log, joined with the labels, gives each variant's accuracy;
6. every customer's raw columns are written to build/to_score.parquet, for
   ``loopml predict churn@champion build/to_score.parquet -o build/scored.parquet``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import features
import pandas as pd

import loopml
from loopml.serving import deployments

HERE = Path(__file__).parent
NAME = "churn-prod"
RELOAD = ("--reload-interval", "0.5")  # the A/B split below is picked up within 0.5 s


def main() -> None:
    store = loopml.default_store()
    try:
        deployments.get(store, NAME)
    except loopml.errors.NotFound:
        deployments.create(store, NAME, "churn@champion", reason="churn example")
    table = pd.read_csv(HERE / "data" / "customers.csv")
    rows = table[features.INPUTS]  # raw customers: the model encodes them itself
    labels = table[features.TARGET]
    customers = table[features.ID]
    port = free_port()
    loopml_cli = str(Path(sys.executable).with_name("loopml"))
    server = subprocess.Popen(
        [loopml_cli, "serve", "--deployment", NAME, "--port", str(port), *RELOAD],
        cwd=HERE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base)
        sent = _score(base, rows.iloc[:300], customers.iloc[:300])
        deployments.split(
            store,
            NAME,
            {"b": ("churn/1", 30)},
            sticky="header:X-User-Id",
            reason="churn example: A/B of version 1",
        )
        time.sleep(1.5)  # the server picks the change up within --reload-interval
        sent += _score(base, rows.iloc[300:600], customers.iloc[300:600])
        truth = [{"id": pid, "label": int(labels.iloc[i])} for i, pid in sent]
        post(base + "/feedback", truth)
        metrics = urllib.request.urlopen(base + "/metrics", timeout=5).read().decode()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    deployments.rollback(store, NAME, reason="churn example: end of the A/B test")
    print("\n".join(line for line in metrics.splitlines() if line.startswith("loopml_requests")))
    log = loopml.predictions(NAME, since="1h")
    log = log[log["request_id"].isin({pid for _, pid in sent})]
    log["correct"] = log["prediction"] == log["label"]
    summary = log.groupby("variant").agg(rows=("id", "size"), accuracy=("correct", "mean"))
    print(f"\n{len(log)} predictions logged and labelled; by variant:\n{summary}")
    (HERE / "build").mkdir(exist_ok=True)
    rows.to_parquet(HERE / "build" / "to_score.parquet", index=False)


def _score(base: str, rows: pd.DataFrame, customers: pd.Series) -> list[tuple[int, str]]:
    sent = []
    for position, (record, customer) in enumerate(
        zip(rows.to_dict("records"), customers, strict=True)
    ):
        _, headers = post(
            base + "/invocations",
            {"dataframe_records": [record]},
            {"X-User-Id": str(customer)},
        )
        sent.append((rows.index[position], headers["x-prediction-id"]))
    return sent


def post(url: str, body: object, headers: dict[str, str] | None = None) -> tuple[dict, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read()), {k.lower(): v for k, v in response.headers.items()}


def wait_ready(base: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/v2/health/ready", timeout=1)
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    raise SystemExit("the server did not become ready")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


if __name__ == "__main__":
    main()
