"""The processes ``server.py`` runs: training loops logging through a server, and the
bulk set-up of the runs its pages are measured on.

Run as ``python _server_workers.py --worker CASE --config JSON``: loopml's cases with
loopml's interpreter, MLflow's with the peer venv's. This module and ``_harness`` use the
standard library only at import time; each case imports its tool inside.

Cases:

``loopml-log``
    A training loop through the team server (``LOOPML_SERVER`` set by the parent):
    ``run = loopml.start_run(...)``, ``run.log_metric(key, value, step=step)`` for every
    key at every step, ``loopml.end_run()``; timed from ``start_run`` until ``end_run``
    returns (which flushes the metric buffer, so every value is stored by then).
``mlflow-log``
    The same loop with MLflow's client against ``mlflow server``: ``mode`` ``fluent``
    (``mlflow.log_metric`` per value, as a user writes it), ``async``
    (``mlflow.log_metric(..., synchronous=False)``, then ``mlflow.flush_async_logging()``)
    or ``batch`` (``MlflowClient().log_batch`` with chunks of ``chunk`` values).
``loopml-populate``
    ``runs`` finished runs straight into loopml's database, 500 runs per transaction:
    the experiment by ``create_experiment``, the runs and their params into loopml's
    ``runs`` and ``params`` tables (``loopml.store.bulk.insert_rows``, COPY on
    PostgreSQL), every metric history through the metric buffer's flush
    (``write_metric_rows``, which also keeps ``latest_metrics``). Set-up, not measured:
    the service functions (``create_run``, ``set_run_status``) cost about 20 ms a run on
    PostgreSQL, minutes for 10,000 runs. No audit events are written for these runs.
``mlflow-populate``
    The same runs into MLflow's database through its own SQLAlchemy models' tables
    (``SqlRun``, ``SqlParam``, ``SqlTag`` with ``mlflow.runName`` and ``mlflow.user``,
    ``SqlMetric``, ``SqlLatestMetric``), 500 runs per transaction, by COPY on PostgreSQL
    (``executemany`` on SQLite); the experiment made by ``SqlAlchemyStore``.

Before each timed loop, a warm-up run of 10 values through the same server (untimed):
the first request of a process pays for its connection and the server's lazy imports.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Iterator
from typing import Any

from _harness import send, send_result

SEED = 20261128
P0_VALUES = ("x", "y", "z")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
LOG_EXPERIMENT = "logging"
BENCH_EXPERIMENT = "bench"
WARMUP_VALUES = 10


# ---------------------------------------------------------------------------------------
# The runs, the same for both tools and for the parent's expectations
# ---------------------------------------------------------------------------------------


def run_name(index: int) -> str:
    return f"run-{index:05d}"


def run_finals(count: int, metrics: int) -> Iterator[tuple[str, dict[str, str], list[float]]]:
    """``count`` runs as (name, params, final metric values m0..m{metrics-1})."""
    rng = random.Random(SEED)
    for index in range(count):
        params = {
            "p0": P0_VALUES[min(int(rng.random() * 3), 2)],
            "p1": repr(round(10 ** (-4 + 3 * rng.random()), 6)),
            "p2": str(2 + int(rng.random() * 10)),
            "p3": OPTIMIZERS[min(int(rng.random() * 3), 2)],
            "p4": str(int(rng.random() * 1_000_000)),
        }
        yield run_name(index), params, [rng.random() for _ in range(metrics)]


def history(final: float, steps: int) -> list[float]:
    """A metric's values at steps 0..steps-1, rising to ``final`` at the last step."""
    return [final * (0.5 + 0.5 * (step + 1) / steps) for step in range(steps)]


def expected_order(count: int, metrics: int, *, filtered: bool) -> list[str]:
    """Run names ordered by m0 descending: every run, or those with m0 > 0.5 and p0 = 'x'."""
    hits = [
        (finals[0], name)
        for name, params, finals in run_finals(count, metrics)
        if not filtered or (finals[0] > 0.5 and params["p0"] == "x")
    ]
    return [name for _value, name in sorted(hits, reverse=True)]


def log_value(key_index: int, step: int) -> float:
    return 1.0 / (step + 1) + key_index / 100


# ---------------------------------------------------------------------------------------
# Training loops through a server
# ---------------------------------------------------------------------------------------


def loopml_log(cfg: dict[str, Any]) -> dict[str, Any]:
    import loopml

    keys = [f"loss_{index}" for index in range(cfg["keys"])]
    warm = loopml.start_run(experiment=LOG_EXPERIMENT, run_name="warm-up")
    for step in range(WARMUP_VALUES):
        warm.log_metric("warm", float(step), step=step)
    loopml.end_run()

    start = time.perf_counter()
    run = loopml.start_run(experiment=LOG_EXPERIMENT, run_name="loop")
    started = time.perf_counter()
    for step in range(cfg["steps"]):
        for index, key in enumerate(keys):
            run.log_metric(key, log_value(index, step), step=step)
    logged = time.perf_counter()
    loopml.end_run()
    ended = time.perf_counter()
    return timings(run.id, start, started, logged, ended)


def mlflow_log(cfg: dict[str, Any]) -> dict[str, Any]:
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    mlflow.set_tracking_uri(cfg["uri"])
    mlflow.set_experiment(LOG_EXPERIMENT)
    keys = [f"loss_{index}" for index in range(cfg["keys"])]
    mode = cfg["mode"]
    with mlflow.start_run(run_name="warm-up"):
        for step in range(WARMUP_VALUES):
            mlflow.log_metric("warm", float(step), step=step, synchronous=mode != "async")
        if mode == "async":
            mlflow.flush_async_logging()

    client = MlflowClient()
    start = time.perf_counter()
    run_id = mlflow.start_run(run_name=f"loop-{mode}").info.run_id
    started = time.perf_counter()
    if mode == "batch":
        pending: list[Any] = []
        for step in range(cfg["steps"]):
            now = int(time.time() * 1000)
            for index, key in enumerate(keys):
                pending.append(Metric(key, log_value(index, step), now, step))
                if len(pending) == cfg["chunk"]:
                    client.log_batch(run_id, metrics=pending)
                    pending = []
        if pending:
            client.log_batch(run_id, metrics=pending)
    else:
        synchronous = mode == "fluent"
        for step in range(cfg["steps"]):
            for index, key in enumerate(keys):
                mlflow.log_metric(key, log_value(index, step), step=step, synchronous=synchronous)
    logged = time.perf_counter()
    if mode == "async":
        mlflow.flush_async_logging()  # end_run only hands the queue over, it does not wait
    mlflow.end_run()
    ended = time.perf_counter()
    return timings(run_id, start, started, logged, ended)


def timings(run_id: str, start: float, started: float, logged: float, ended: float) -> dict:
    return {
        "run_id": run_id,
        "seconds": ended - start,
        "start_seconds": started - start,
        "calls_seconds": logged - started,
        "end_seconds": ended - logged,
    }


# ---------------------------------------------------------------------------------------
# Set-up: the runs the pages show
# ---------------------------------------------------------------------------------------


def loopml_populate(cfg: dict[str, Any]) -> dict[str, Any]:
    import dataclasses

    from loopml.config import resolve
    from loopml.store import open_store
    from loopml.store.bulk import insert_rows
    from loopml.store.schema import params, runs
    from loopml.tracking import FINISHED, create_experiment
    from loopml.tracking.metrics import MetricRow, write_metric_rows
    from loopml.tracking.validation import param_number

    config = dataclasses.replace(
        resolve(), db_url=cfg["db_url"], artifacts_url=cfg["artifacts"], server_url=None
    )
    store = open_store(config)
    experiment_id = create_experiment(store, BENCH_EXPERIMENT).id
    total, steps, batch = cfg["runs"], cfg["steps"], cfg["batch_runs"]
    keys = [f"m{index}" for index in range(cfg["metrics"])]
    rng = random.Random(SEED + 1)
    run_columns = ("id", "experiment_id", "name", "status", "lifecycle_stage", "user")
    run_columns += ("start_time", "end_time")
    start = time.perf_counter()
    ids: list[str] = []
    run_rows: list[tuple[Any, ...]] = []
    param_rows: list[tuple[Any, ...]] = []
    metric_rows: list[MetricRow] = []
    try:
        for done, (name, values, finals) in enumerate(run_finals(total, cfg["metrics"]), start=1):
            run_id = f"{rng.getrandbits(128):032x}"
            ids.append(run_id)
            now = int(time.time() * 1000)
            run_rows.append((run_id, experiment_id, name, FINISHED, "active", "bench", now, now))
            param_rows.extend(
                (run_id, key, text, param_number(text, text)) for key, text in values.items()
            )
            for key, final in zip(keys, finals, strict=True):
                metric_rows.extend(
                    MetricRow(run_id, key, value, step, now)
                    for step, value in enumerate(history(final, steps))
                )
            if done % batch == 0 or done == total:
                with store.write() as connection:
                    insert_rows(connection, runs, run_columns, run_rows)
                    insert_rows(
                        connection, params, ("run_id", "key", "value", "value_num"), param_rows
                    )
                    write_metric_rows(connection, metric_rows)  # the metric buffer's flush
                run_rows, param_rows, metric_rows = [], [], []
                send({"progress": done, "total": total})
    finally:
        store.close()
    return {"seconds": time.perf_counter() - start, "ids": ids}


def mlflow_populate(cfg: dict[str, Any]) -> dict[str, Any]:
    from mlflow.store.tracking.dbmodels.models import (
        SqlLatestMetric,
        SqlMetric,
        SqlParam,
        SqlRun,
        SqlTag,
    )
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(cfg["db_url"], cfg["artifacts"])
    experiment_id = store.create_experiment(BENCH_EXPERIMENT)
    location = store.get_experiment(experiment_id).artifact_location
    total, steps, batch = cfg["runs"], cfg["steps"], cfg["batch_runs"]
    keys = [f"m{index}" for index in range(cfg["metrics"])]
    rng = random.Random(SEED + 1)
    columns = {
        SqlRun: (
            *("run_uuid", "name", "source_type", "source_name", "entry_point_name", "user_id"),
            *("status", "start_time", "end_time", "source_version", "lifecycle_stage"),
            *("artifact_uri", "experiment_id"),
        ),
        SqlParam: ("key", "value", "run_uuid"),
        SqlTag: ("key", "value", "run_uuid"),
        SqlMetric: ("key", "value", "timestamp", "step", "is_nan", "run_uuid"),
        SqlLatestMetric: ("key", "value", "timestamp", "step", "is_nan", "run_uuid"),
    }
    rows: dict[Any, list[tuple[Any, ...]]] = {model: [] for model in columns}
    start = time.perf_counter()
    ids: list[str] = []
    for done, (name, params, finals) in enumerate(run_finals(total, cfg["metrics"]), start=1):
        run_id = f"{rng.getrandbits(128):032x}"
        ids.append(run_id)
        now = int(time.time() * 1000)
        rows[SqlRun].append(
            (
                *(run_id, name, "LOCAL", "", "", "bench", "FINISHED", now, now, "", "active"),
                *(f"{location}/{run_id}/artifacts", int(experiment_id)),
            )
        )
        rows[SqlParam].extend((key, value, run_id) for key, value in params.items())
        rows[SqlTag].append(("mlflow.runName", name, run_id))
        rows[SqlTag].append(("mlflow.user", "bench", run_id))
        for key, final in zip(keys, finals, strict=True):
            values = history(final, steps)
            rows[SqlMetric].extend(
                (key, value, now, step, False, run_id) for step, value in enumerate(values)
            )
            rows[SqlLatestMetric].append((key, values[-1], now, steps - 1, False, run_id))
        if done % batch == 0 or done == total:
            with store.engine.begin() as connection:
                for model, names in columns.items():
                    bulk_insert(connection, model.__tablename__, names, rows[model])
                    rows[model] = []
            send({"progress": done, "total": total})
    store.engine.dispose()
    return {"seconds": time.perf_counter() - start, "ids": ids, "experiment_id": experiment_id}


def bulk_insert(connection: Any, table: str, columns: tuple[str, ...], rows: list) -> None:
    """Rows into one of MLflow's tables in one driver call: COPY on PostgreSQL (psycopg2),
    ``executemany`` on SQLite. Table and column names come from MLflow's models."""
    if not rows:
        return
    names = ", ".join(f'"{column}"' for column in columns)
    if connection.dialect.name == "postgresql":
        import csv
        import io

        buffer = io.StringIO()
        csv.writer(buffer).writerows(rows)
        buffer.seek(0)
        cursor = connection.connection.driver_connection.cursor()
        cursor.copy_expert(f'COPY "{table}" ({names}) FROM STDIN WITH (FORMAT csv)', buffer)
        return
    marks = ", ".join("?" for _ in columns)
    statement = f'INSERT INTO "{table}" ({names}) VALUES ({marks})'  # noqa: S608 (names: MLflow's)
    connection.exec_driver_sql(statement, rows)


WORKERS = {
    "loopml-log": loopml_log,
    "mlflow-log": mlflow_log,
    "loopml-populate": loopml_populate,
    "mlflow-populate": mlflow_populate,
}


def main() -> None:
    parser = argparse.ArgumentParser(description="a worker of benchmarks/server.py")
    parser.add_argument("--worker", choices=sorted(WORKERS), required=True)
    parser.add_argument("--config", default="{}")
    args = parser.parse_args()
    send_result(WORKERS[args.worker](json.loads(args.config)))


if __name__ == "__main__":
    main()
