"""Adaptive micro-batching: concurrent requests share predict calls, each gets its own
answer, and a request the model fails on fails alone."""

from __future__ import annotations

import asyncio
import concurrent.futures
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from starlette.testclient import TestClient

import loopml
from loopml.serving.app import ScoringService, ServerSettings, build_app
from loopml.serving.batching import MicroBatcher
from loopml.serving.runtime import Runtime, StoreSource
from loopml.serving.scoring import Rows, Scorer
from loopml.store import Store

from .support import FEATURES, expected, sample_rows, wait_for


class Picky:
    """Predicts the row sum, but refuses negative tenures: the request at fault."""

    def __init__(self) -> None:
        self.calls = 0

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        self.calls += 1
        if (frame["tenure"] < 0).any():
            raise ValueError("negative tenure")
        return frame.sum(axis=1).to_numpy()


def test_concurrent_requests_share_predict_calls_and_get_their_own_answers(
    store: Store, deployment: str
) -> None:
    service = ScoringService(
        Runtime(StoreSource(store, deployment)),
        settings=ServerSettings(max_batch_size=64, max_wait_ms=20, reload_interval=0.1),
    )
    rows = sample_rows(64)
    with TestClient(build_app(service)) as client:
        wait_for(lambda: client.get("/v2/health/ready").status_code == 200, what="the model")

        def one(row: list[float]) -> list[int]:
            body = {"dataframe_split": {"columns": FEATURES, "data": [row]}}
            reply = client.post("/invocations", json=body)
            assert reply.status_code == 200, reply.text
            return reply.json()["predictions"]

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(one, rows))
    assert [a[0] for a in answers] == expected(rows)
    assert service.batcher is not None
    assert service.batcher.rows == 64
    assert service.batcher.batches < 64  # some requests shared a call


def test_a_failing_request_fails_alone(tmp_path: Path) -> None:
    picky = Picky()
    example = pd.DataFrame([[1.0, 2.0, 3.0]], columns=FEATURES)
    loopml.models.save(picky, tmp_path / "picky", input_example=example)
    scorer = Scorer(loopml.models.load(tmp_path / "picky"))
    good = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]

    async def run() -> list[object]:
        batcher = MicroBatcher(max_batch_size=10, max_wait_ms=50)
        try:
            requests = [
                batcher.predict(scorer, scorer.inputs(Rows(FEATURES, [row])))
                for row in [good[0], [-1.0, 0.0, 0.0], good[1]]
            ]
            return await asyncio.gather(*requests, return_exceptions=True)
        finally:
            await batcher.close()

    first, bad, last = asyncio.run(run())
    assert np.asarray(first).tolist() == [6.0]
    assert np.asarray(last).tolist() == [15.0]
    assert isinstance(bad, ValueError)


@pytest.mark.parametrize("size", [1, 3])
def test_batches_never_exceed_their_size_by_more_than_one_request(
    tmp_path: Path, size: int
) -> None:
    loopml.models.save(
        Picky(), tmp_path / "m", input_example=pd.DataFrame([[1.0] * 3], columns=FEATURES)
    )
    scorer = Scorer(loopml.models.load(tmp_path / "m"))
    loaded = scorer.model.raw

    async def run() -> None:
        batcher = MicroBatcher(max_batch_size=size, max_wait_ms=50)
        try:
            await asyncio.gather(
                *(
                    batcher.predict(scorer, scorer.inputs(Rows(FEATURES, [[float(i), 1.0, 1.0]])))
                    for i in range(9)
                )
            )
        finally:
            await batcher.close()

    asyncio.run(run())
    assert loaded.calls == 9 // size
