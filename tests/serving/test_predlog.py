"""The prediction log: every answer logged exactly once, labels joined by feedback, and
nothing lost on SIGTERM; after kill -9 only what was never flushed can be missing."""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
from pathlib import Path

import httpx2
import numpy as np
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from loopml.clock import now_ms
from loopml.serving import predlog
from loopml.serving.predictions import feedback_join, predictions
from loopml.serving.predlog import LogEntry, PredictionLog, read_wal, wal_directory
from loopml.store import Store
from loopml.store.schema import prediction_segments

from .support import (
    DEPLOYMENT,
    FEATURES,
    MODEL,
    ROW,
    ClientFactory,
    ServerFactory,
    expected,
    oip_request,
    sample_rows,
    stopped_cleanly,
    wait_for,
)

INFER = f"/v2/models/{DEPLOYMENT}/infer"


def segment_rows(store: Store, deployment: str = DEPLOYMENT) -> list[int]:
    """The row count of each indexed Parquet segment, oldest first."""
    with store.read() as connection:
        return list(
            connection.execute(
                select(prediction_segments.c.rows)
                .where(prediction_segments.c.deployment == deployment)
                .order_by(prediction_segments.c.id)
            ).scalars()
        )


def wal_files(store: Store, deployment: str = DEPLOYMENT) -> list[Path]:
    directory = wal_directory(store, deployment)
    return sorted(directory.glob("*.jsonl")) if directory.is_dir() else []


def wal_records(store: Store) -> int:
    return sum(len(read_wal(path)) for path in wal_files(store))


def logged(store: Store, **options: object) -> int:
    return len(predictions(store, DEPLOYMENT, **options))


def dead_pid() -> int:
    """The id of a process that has exited."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def entry(request_id: str, rows: list[list[float]]) -> LogEntry:
    return LogEntry(
        request_id,
        now_ms(),
        "main",
        MODEL,
        1,
        0.5,
        FEATURES,
        np.array(rows),
        np.array(expected(rows)),
    )


# --- what is logged --------------------------------------------------------------------


def test_every_answered_request_is_logged_exactly_once_with_what_was_asked_and_answered(
    store: Store, open_client: ClientFactory, db: Store
) -> None:
    singles = sample_rows(20, seed=11)
    pairs = [sample_rows(2, seed=100 + i) for i in range(10)]
    sent: dict[str, list[float]] = {}
    with open_client() as client:
        for i, row in enumerate(singles):
            answer = client.post(
                "/invocations", json={"instances": [row]}, headers={"X-Request-Id": f"single-{i}"}
            )
            assert answer.json() == {"predictions": expected([row])}
            sent[f"single-{i}"] = row
        for i, rows in enumerate(pairs):
            answer = client.post(INFER, json=oip_request(rows, id=f"pair-{i}"))
            assert answer.json()["outputs"][0]["data"] == expected(rows)
            sent[f"pair-{i}:0"], sent[f"pair-{i}:1"] = rows
        refused = client.post("/invocations", json={"instances": [["x", 1, 2]]})
        assert refused.status_code == 400
        # Flushed rows are readable while the server runs, before any segment exists.
        wait_for(lambda: logged(store) == len(sent), what="the flushed rows to be readable")

    frame = predictions(store, DEPLOYMENT)
    assert len(frame) == len(sent) == 40
    assert sorted(frame["id"]) == sorted(sent)
    for record in frame.to_dict("records"):
        row = sent[record["id"]]
        assert [record[column] for column in FEATURES] == row
        assert record["prediction"] == expected([row])[0]
        assert record["request_id"] == record["id"].split(":")[0]
        assert record["row"] == (int(record["id"].split(":")[1]) if ":" in record["id"] else 0)
        assert (record["deployment"], record["variant"], record["model"]) == (
            DEPLOYMENT,
            "main",
            MODEL,
        )
        assert record["version"] == 1
        assert record["latency_ms"] > 0
        assert not record["shadow"]
        assert record["label"] is None
    assert frame["time"].is_monotonic_increasing
    assert wal_files(store) == []
    assert segment_rows(db) == [40]


@pytest.mark.parametrize(
    ("columns", "row"),
    [
        pytest.param(FEATURES, ROW, id="signature-order"),
        pytest.param(FEATURES[::-1], ROW[::-1], id="reordered"),
        pytest.param([*FEATURES, "plan"], [*ROW, "pro"], id="extra-column"),
    ],
)
def test_the_log_keeps_the_inputs_under_the_names_they_were_sent_with(
    store: Store, client: TestClient, columns: list[str], row: list[object]
) -> None:
    body = {"dataframe_split": {"columns": columns, "data": [row]}}
    client.post("/invocations", json=body, headers={"X-Request-Id": "named"})
    wait_for(lambda: logged(store) == 1, what="the logged row")
    record = predictions(store, DEPLOYMENT).iloc[0]
    assert {c: record[c] for c in columns} == dict(zip(columns, row, strict=True))
    assert record["prediction"] == expected([ROW])[0]


# --- feedback --------------------------------------------------------------------------


def test_feedback_joins_labels_and_a_resent_label_replaces_the_old_one(
    store: Store, client: TestClient
) -> None:
    single = client.post("/invocations", json={"instances": [ROW]})
    single_id = single.headers["x-prediction-id"]
    pair = sample_rows(2, seed=3)
    client.post(INFER, json=oip_request(pair, id="pair"))

    # Sent at once: the server flushes its log before looking the ids up.
    first = client.post("/feedback", json={"id": single_id, "label": 1})
    assert first.json() == {"deployment": DEPLOYMENT, "stored": 1}
    batch = [{"id": "pair:0", "label": 0}, {"id": "pair:1", "label": "churned"}]
    assert client.post("/feedback", json=batch).json()["stored"] == 2
    assert client.post("/feedback", json={"id": single_id, "label": 0}).json()["stored"] == 1

    # A batch naming an unknown id is refused whole.
    half = [{"id": "pair:0", "label": 1}, {"id": "pair:7", "label": 1}]
    refused = client.post("/feedback", json=half)
    assert refused.status_code == 404
    assert refused.json()["error"]["details"] == {"unknown": ["pair:7"]}

    frame = predictions(store, DEPLOYMENT)
    labels = dict(zip(frame["id"], frame["label"], strict=True))
    assert labels == {single_id: 0, "pair:0": 0, "pair:1": "churned"}
    joined = feedback_join(store, DEPLOYMENT)
    assert sorted(joined["id"]) == sorted([single_id, "pair:0", "pair:1"])


def test_feedback_for_a_request_id_of_a_batch_names_the_rows_ids(
    client: TestClient,
) -> None:
    client.post(INFER, json=oip_request(sample_rows(2), id="batch"))
    refused = client.post("/feedback", json={"id": "batch", "label": 1})
    assert refused.status_code == 404
    assert refused.json()["error"]["details"] == {"unknown": ["batch"]}
    assert client.post("/feedback", json={"id": "batch:1", "label": 1}).status_code == 200


# --- a real server stopped and killed --------------------------------------------------


def score(url: str, count: int) -> list[str]:
    """Send ``count`` single-row requests; the prediction ids the server returned."""
    rows = sample_rows(count, seed=21)
    ids = []
    with httpx2.Client(base_url=url, timeout=30) as http:
        for row in rows:
            response = http.post("/invocations", json={"instances": [row]})
            assert response.status_code == 200, response.text
            ids.append(response.headers["x-prediction-id"])
    return ids


def test_sigterm_loses_no_prediction(store: Store, start_server: ServerFactory, db: Store) -> None:
    server = start_server()
    ids = score(server.url, 300)
    assert stopped_cleanly(server.stop()), server.output()

    frame = predictions(store, DEPLOYMENT)
    assert len(frame) == 300
    assert sorted(frame["id"]) == sorted(ids)
    assert wal_files(store) == []
    assert sum(segment_rows(db)) == 300


def test_sigterm_under_load_logs_every_answered_request(
    store: Store, start_server: ServerFactory
) -> None:
    server = start_server()
    rows = sample_rows(50, seed=8)
    answered: list[str] = []
    refused: list[str] = []

    def load() -> None:
        with httpx2.Client(base_url=server.url, timeout=30) as http:
            for row in itertools.cycle(rows):
                try:
                    response = http.post("/invocations", json={"instances": [row]})
                except httpx2.TransportError:
                    return  # the server has closed its port
                if response.status_code != 200:
                    refused.append(response.text)
                    return
                answered.append(response.headers["x-prediction-id"])

    threads = [threading.Thread(target=load, daemon=True) for _ in range(4)]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(answered) >= 300, what="300 answers")
    assert stopped_cleanly(server.stop()), server.output()
    for thread in threads:
        thread.join(30)

    assert refused == []
    assert sorted(predictions(store, DEPLOYMENT)["id"]) == sorted(answered)
    assert wal_files(store) == []


@pytest.mark.parametrize("recovery", ["recover", "restart"])
def test_kill_9_loses_nothing_that_was_flushed(
    store: Store, start_server: ServerFactory, recovery: str, db: Store
) -> None:
    server = start_server()
    ids = score(server.url, 200)
    # The writer flushes every 0.2 s; wait until it has, then kill without warning.
    wait_for(lambda: wal_records(store) == 200, what="the write-ahead file to hold every row")
    assert predlog.recover(store, DEPLOYMENT) == 0, "a live server's file must be left alone"
    server.kill()
    (orphan,) = wal_files(store)
    with open(orphan, "ab") as handle:  # a write cut short by the kill
        handle.write(b'{"id": "torn-by-kill", "request_id": "torn')
    assert logged(store) == 200, "orphaned rows are readable before they are recovered"

    if recovery == "recover":
        assert predlog.recover(store, DEPLOYMENT) == 200
    else:
        assert stopped_cleanly(start_server().stop())

    frame = predictions(store, DEPLOYMENT)
    assert sorted(frame["id"]) == sorted(ids)
    assert wal_files(store) == []
    assert segment_rows(db) == [200]


def test_a_torn_last_line_is_skipped(store: Store, deployment: str) -> None:
    log = PredictionLog(store, deployment)
    log.append(entry("whole", sample_rows(3)))
    log.flush()
    (written,) = wal_files(store)
    orphan = written.with_name(f"{dead_pid()}-{now_ms()}.jsonl")
    written.rename(orphan)
    with open(orphan, "ab") as handle:
        handle.write(b'{"id": "half", "request_id": "ha')

    assert [record["id"] for record in read_wal(orphan)] == ["whole:0", "whole:1", "whole:2"]
    assert predlog.recover(store, deployment) == 3
    assert sorted(predictions(store, deployment)["id"]) == ["whole:0", "whole:1", "whole:2"]
    assert wal_files(store) == []


def test_an_empty_orphaned_file_is_removed_without_a_segment(
    store: Store, deployment: str, db: Store
) -> None:
    directory = wal_directory(store, deployment)
    directory.mkdir(parents=True)
    (directory / f"{dead_pid()}-{now_ms()}.jsonl").write_bytes(b'{"id": "cut')
    assert predlog.recover(store, deployment) == 0
    assert wal_files(store) == []
    assert segment_rows(db) == []


# --- rolling ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "steps"),
    [
        # (rows appended, segments after, rows still in the write-ahead file after)
        pytest.param(
            {"roll_rows": 10}, [(10, [10], 0), (10, [10, 10], 0), (3, [10, 10], 3)], id="by-rows"
        ),
        pytest.param(
            {"roll_rows": 10}, [(4, [], 4), (4, [], 8), (4, [12], 0)], id="by-rows-over-flushes"
        ),
        pytest.param({"roll_interval": 0.3}, [(3, [3], 0), (2, [3, 2], 0)], id="by-age"),
    ],
)
def test_the_log_rolls_into_segments(
    store: Store,
    deployment: str,
    options: dict[str, float],
    steps: list[tuple[int, list[int], int]],
    db: Store,
) -> None:
    log = PredictionLog(store, deployment, flush_interval=0.05, **options).start()
    try:
        for number, (size, segments, pending) in enumerate(steps):
            log.append(entry(f"batch-{number}", sample_rows(size, seed=number)))
            wait_for(
                lambda s=segments, p=pending: (segment_rows(db), wal_records(store)) == (s, p),
                what=f"segments {segments} and {pending} rows pending after batch {number}",
            )
    finally:
        log.close()
    _, segments, pending = steps[-1]
    assert segment_rows(db) == segments + ([pending] if pending else [])
    assert wal_files(store) == []
    total = sum(size for size, _, _ in steps)
    assert logged(store) == log.rows_written == total


def test_a_file_read_while_it_is_rolled_is_not_counted_twice(store: Store, deployment: str) -> None:
    # A reader that lists the write-ahead file, then the segment the file became, sees
    # the rows twice; the segment names its file, so the file's copy is dropped.
    log = PredictionLog(store, deployment)
    log.append(entry("one", sample_rows(1)))
    log.append(entry("three", sample_rows(3)))
    log.flush()
    (written,) = wal_files(store)
    kept = written.read_bytes()
    log.roll()
    written.write_bytes(kept)  # the reader's view: the file still there, its segment too
    assert logged(store) == 4
    other = written.with_name(f"{dead_pid()}-{now_ms()}-abcdef.jsonl")
    written.rename(other)  # a different file: its rows are not the segment's
    assert logged(store) == 8
