"""The closed loop, end to end: serve, drift, detect, retrain, canary, promote.

    python loop.py      # after `loopml pipeline run pipeline.py` made churn/1 champion

1. ``churn-prod`` serves ``churn@champion`` (``loopml serve``, a real server) and gets a
   monitoring policy: alert on dataset drift or on F1 below 0.58, retrain with
   ``pipeline.py``, roll the result out as a 10/50/100% canary.
2. Month 1: customers like the training data are scored one request each; their true
   labels arrive days later (simulated: those due by the month's end are sent as
   feedback). ``loopml monitor run`` finds nothing wrong.
3. Month 2: the market moves (covariate drift: more monthly contracts, fiber, support
   calls; concept drift: a competitor makes price-sensitive customers leave). The
   warehouse's newest month of customers with outcomes becomes ``customers@2``.
   ``loopml monitor run`` finds the drift and the F1 drop, raises alerts and retrains:
   the pipeline trains on ``customers@2`` and moves ``churn@challenger`` only if the new
   model beats the champion on the same fresh holdout; the policy starts the canary.
4. Traffic goes on while the server judges each canary step; when the canary
   completes, ``churn@champion`` moves to the new version.
5. The summary says where to look: reports, alerts, retrains, lineage, metrics.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import generate
import pandas as pd
from rich.console import Console
from rich.progress import Progress
from serve import free_port, post, wait_ready

import loopml
from loopml.serving import deployments

HERE = Path(__file__).parent
NAME = "churn-prod"
LOOPML = str(Path(sys.executable).with_name("loopml"))
MONTH_ROWS = 1500
CANARY_TIMEOUT_S = 90
console = Console()


def main() -> None:
    store = loopml.default_store()
    try:
        deployments.get(store, NAME)
    except loopml.errors.NotFound:
        cli("deploy", "create", NAME, "--model", "churn@champion")
    cli(
        "monitor", "policy", NAME, "--on", "drift", "--on", "f1 < 0.58",
        "--pipeline", "pipeline.py", "--canary", "10,50,100", "--canary-interval", "4s",
        "--window", "1h",
    )  # fmt: skip
    port = free_port()
    server = subprocess.Popen(
        [LOOPML, "serve", "--deployment", NAME, "--port", str(port), "--reload-interval", "0.5"],
        cwd=HERE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base)
        month(base, "Month 1: customers as before", seed=21, drift=0.0)
        cli("monitor", "run", NAME, "--window", "10m")
        month_two = pd.Timestamp.now(tz="UTC").isoformat()
        month(base, "Month 2: the market moves", seed=22, drift=1.0)
        warehouse_month()
        cli("monitor", "run", NAME, "--since", month_two, "--html", "build/monitor.html")
        follow_canary(base, store)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    cli("monitor", "retrains", NAME)
    summary(store, month_two)


def month(base: str, title: str, *, seed: int, drift: float) -> None:
    """Score a month of customers, one request each, then send the labels due by its end."""
    stream = generate.stream(
        MONTH_ROWS, seed, covariate_drift=0.8 * drift, concept_drift=drift, label_delay_days=7
    )
    console.rule(title)
    ids = score(base, generate.requests_view(stream), title)
    arrived = generate.labels_view(stream)
    arrived = arrived[arrived["label_time"] <= stream["event_time"].max()]
    truth = [
        {"id": ids[customer], "label": int(label)}
        for customer, label in zip(arrived[generate.ID], arrived[generate.TARGET], strict=True)
    ]
    post(base + "/feedback", truth)
    console.print(f"{len(ids)} customers scored; {len(truth)} labels arrived by the month's end")


def score(base: str, requests: pd.DataFrame, title: str) -> dict[int, str]:
    """One request per customer (4 at a time); returns each customer's prediction id."""
    records = requests[generate.INPUTS].to_dict("records")
    customers = requests[generate.ID].tolist()

    def send(index: int) -> tuple[int, str]:
        _, headers = post(
            base + "/invocations",
            {"dataframe_records": [records[index]]},
            {"X-User-Id": str(customers[index])},
        )
        return customers[index], headers["x-prediction-id"]

    ids = {}
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(title, total=len(records))
        with ThreadPoolExecutor(4) as pool:
            for customer, prediction_id in pool.map(send, range(len(records))):
                ids[customer] = prediction_id
                progress.advance(task)
    return ids


def warehouse_month() -> None:
    """The newest month of customers with known outcomes becomes customers@2; its
    inputs are also written for batch scoring (``loopml predict``)."""
    frame = generate.customers(5000, 23, covariate_drift=0.8, concept_drift=1.0, first_id=50_001)
    path = HERE / "data" / "customers-month2.csv"
    frame.to_csv(path, index=False)
    (HERE / "build").mkdir(exist_ok=True)
    frame[generate.INPUTS].to_parquet(HERE / "build" / "to_score.parquet", index=False)
    cli("data", "add", "customers", str(path.relative_to(HERE)), "-m", "month 2 outcomes")


def follow_canary(base: str, store: loopml.Store) -> None:
    """Keep drifted traffic flowing while the server steps the canary up; stop when it ends."""
    spec = deployments.get(store, NAME).spec
    if spec.canary is None or spec.canary.status != "running":
        console.print("no canary is running: the retrained model did not pass its gates")
        return
    console.rule("Canary: the retrained model takes 10%, 50%, then all traffic")
    deadline = time.monotonic() + CANARY_TIMEOUT_S
    seed = 30
    step = -1
    while time.monotonic() < deadline:
        stream = generate.stream(300, seed, covariate_drift=0.8, concept_drift=1.0)
        ids = score(base, generate.requests_view(stream), "canary traffic")
        # these labels arrive at once, so the summary can compare the versions
        truth = [
            {"id": ids[customer], "label": int(label)}
            for customer, label in zip(stream[generate.ID], stream[generate.TARGET], strict=True)
        ]
        post(base + "/feedback", truth)
        seed += 1
        canary = deployments.get(store, NAME).spec.canary
        assert canary is not None
        if canary.step != step and canary.status == "running":
            step = canary.step
            console.print(f"canary at {canary.steps[step]}% of traffic")
        if canary.status != "running":
            console.print(f"canary {canary.status}: {canary.reason or ''}")
            return
    console.print(f"the canary is still running after {CANARY_TIMEOUT_S} s")


def summary(store: loopml.Store, since: str) -> None:
    console.rule("Summary")
    champion = loopml.registry.get_version(store, "churn@champion")
    console.print(f"churn@champion is now version {champion.version}")
    log = loopml.predictions(NAME, since=since)
    labelled = log[log["label"].notna()]
    if len(labelled):
        truth = labelled["label"].astype(int)
        by_version = (
            labelled.assign(correct=labelled["prediction"] == truth)
            .groupby("version")["correct"]
            .agg(["size", "mean"])
            .rename(columns={"size": "labelled rows", "mean": "accuracy"})
        )
        console.print(f"accuracy on the moved market, by model version:\n{by_version}")
    places = [
        (f"loopml monitor reports {NAME}", "every monitor run, with drift and F1"),
        ("build/monitor.html", "the month-2 report page"),
        (f"loopml monitor alerts {NAME}", "the alerts that started the retrain"),
        ("loopml lineage retrain:1", "the alerts, pipeline run and model of the retrain"),
        (f"loopml deploy history {NAME}", "the canary's revisions"),
        ("loopml audit ls", "every step, audited"),
    ]
    console.print("Where to look (in examples/churn):")
    for place, what in places:
        console.print(f"  {place:<36} {what}")


def cli(*args: str) -> None:
    """Run a loopml command as a user would type it, and show it."""
    console.print(f"[bold]$ loopml {shlex.join(args)}[/bold]")
    subprocess.run([LOOPML, *args], cwd=HERE, check=True)


if __name__ == "__main__":
    main()
