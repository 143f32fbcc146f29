"""A running server follows its deployment without a restart: alias moves, rollbacks and
blue-green switches take effect within a few polls and no request fails meanwhile; A/B
splits keep a user on one variant; a shadow's answers are logged, never returned."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from loopml.registry import rollback as rollback_alias
from loopml.registry import set_alias
from loopml.serving import deployments
from loopml.serving.predictions import predictions
from loopml.store import Store

from .support import (
    DEPLOYMENT,
    MODEL,
    ROW,
    ClientFactory,
    Server,
    expected,
    oip_request,
    sample_rows,
    wait_for,
)

INFER = f"/v2/models/{DEPLOYMENT}/infer"
State = tuple[str, str]  # (variant, model version) that answered


class Load:
    """Threads sending OIP requests in a loop until stopped, each on one keep-alive
    connection; records who answered each request and every failure."""

    def __init__(self, url: str, threads: int = 2) -> None:
        self.url = url
        self.answers: list[list[State]] = [[] for _ in range(threads)]
        self.failures: list[str] = []
        self.wrong: list[str] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)
        ]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def _run(self, index: int) -> None:
        body = oip_request([ROW])
        with httpx2.Client(base_url=self.url, timeout=30) as http:
            while not self._stop.is_set():
                try:
                    response = http.post(INFER, json=body)
                except httpx2.HTTPError as error:
                    self.failures.append(f"{type(error).__name__}: {error}")
                    continue
                if response.status_code != 200:
                    self.failures.append(f"{response.status_code}: {response.text}")
                    continue
                answer = response.json()
                state = (response.headers["x-variant"], answer["model_version"])
                if answer["outputs"][0]["data"] != expected([ROW], int(state[1])):
                    self.wrong.append(f"{state} answered {answer['outputs'][0]['data']}")
                self.answers[index].append(state)

    def latest(self) -> set[State]:
        return {answers[-1] for answers in self.answers if answers}

    def until(self, state: State) -> None:
        """Wait until every thread's latest answer came from ``state``."""
        wait_for(lambda: self.latest() == {state}, timeout=20, what=f"answers from {state}")

    def total(self) -> int:
        return sum(len(answers) for answers in self.answers)


def changes(answers: Sequence[State]) -> list[State]:
    """``answers`` with runs of the same state collapsed to one."""
    return [state for i, state in enumerate(answers) if i == 0 or answers[i - 1] != state]


def is_subsequence(short: Sequence[State], long: Sequence[State]) -> bool:
    remaining = iter(long)
    return all(any(state == item for item in remaining) for state in short)


def test_a_running_server_follows_alias_moves_switches_and_rollbacks_without_failing(
    store: Store, server: Server
) -> None:
    expected_states = [
        ("main", "1"),
        ("main", "2"),  # churn@champion moved to 2
        ("main", "1"),  # the alias move rolled back
        ("green", "2"),  # blue-green switch to churn/2
        ("main", "1"),  # switched back to the idle colour
        ("green", "2"),  # that switch rolled back
    ]
    with Load(server.url) as load:
        load.until(expected_states[0])
        set_alias(store, MODEL, "champion", 2, reason="better recall")
        load.until(expected_states[1])
        rollback_alias(store, MODEL, "champion")
        load.until(expected_states[2])
        deployments.switch(store, DEPLOYMENT, f"{MODEL}/2")
        load.until(expected_states[3])
        deployments.switch(store, DEPLOYMENT)
        load.until(expected_states[4])
        deployments.rollback(store, DEPLOYMENT)
        load.until(expected_states[5])
    assert load.failures == []
    assert load.wrong == []
    # A thread's answers never flip back to a state the deployment left.
    for answers in load.answers:
        assert is_subsequence(changes(answers), expected_states), changes(answers)
    merged = changes([s for answers in load.answers for s in answers])
    assert set(merged) == set(expected_states)
    assert load.total() > len(expected_states)


def revision_is(client: TestClient, revision: int) -> bool:
    return client.get("/deployment").json()["revision"] == revision


@pytest.mark.parametrize("sticky", ["header:X-User-Id", "field:customer_id"])
def test_an_ab_split_keeps_each_user_on_one_variant(
    store: Store, open_client: ClientFactory, sticky: str
) -> None:
    def ask(client: TestClient, user: str) -> State:
        if sticky.startswith("header:"):
            response = client.post(INFER, json=oip_request([ROW]), headers={"X-User-Id": user})
            version = response.json()["model_version"]
            predicted = response.json()["outputs"][0]["data"]
        else:
            record = dict(zip(["tenure", "monthly", "support_calls"], ROW, strict=True))
            body = {"dataframe_records": [{**record, "customer_id": user}]}
            response = client.post("/invocations", json=body)
            version = "1" if response.headers["x-variant"] == "main" else "2"
            predicted = response.json()["predictions"]
        assert response.status_code == 200, response.text
        assert predicted == expected([ROW], int(version))
        return response.headers["x-variant"], version

    with open_client() as client:
        deployments.split(store, DEPLOYMENT, {"b": (f"{MODEL}@challenger", 50)}, sticky=sticky)
        wait_for(lambda: revision_is(client, 2), what="the split to be served")
        assert client.get("/deployment").json()["strategy"] == "ab"
        users = [f"user-{i}" for i in range(40)]
        seen: dict[str, set[State]] = {user: set() for user in users}
        for _ in range(3):
            for user in users:
                seen[user].add(ask(client, user))
    assert all(len(states) == 1 for states in seen.values()), seen
    assert {state for states in seen.values() for state in states} == {("main", "1"), ("b", "2")}

    frame = predictions(store, DEPLOYMENT)
    assert len(frame) == 120
    assert set(zip(frame["variant"], frame["version"], strict=True)) == {("main", 1), ("b", 2)}


def test_a_shadow_is_logged_with_the_same_ids_and_never_answers(
    store: Store, open_client: ClientFactory
) -> None:
    rows = sample_rows(30, seed=4)
    with open_client() as client:
        deployments.shadow(store, DEPLOYMENT, f"{MODEL}@challenger")
        wait_for(lambda: revision_is(client, 2), what="the shadow to be served")
        assert client.get("/deployment").json()["strategy"] == "shadow"
        for i, row in enumerate(rows):
            response = client.post(INFER, json=oip_request([row], id=f"mirrored-{i}"))
            answer = response.json()
            assert (response.headers["x-variant"], answer["model_version"]) == ("main", "1")
            assert answer["outputs"][0]["data"] == expected([row], 1)
        wait_for(
            lambda: shadow_rows(client.get("/metrics").text) == len(rows),
            what="the shadow to score every request",
        )

    ids = sorted(f"mirrored-{i}" for i in range(len(rows)))
    live = predictions(store, DEPLOYMENT)
    mirrored = predictions(store, DEPLOYMENT, shadow=True)
    assert sorted(live["id"]) == sorted(mirrored["id"]) == ids
    assert set(live["variant"]) == {"main"} and set(live["version"]) == {1}
    assert set(mirrored["variant"]) == {"shadow"} and set(mirrored["version"]) == {2}
    by_id = {i: row for i, row in zip((f"mirrored-{n}" for n in range(30)), rows, strict=True)}
    for record in mirrored.to_dict("records"):
        assert record["prediction"] == expected([by_id[record["id"]]], 2)[0]
    assert len(predictions(store, DEPLOYMENT, shadow=None)) == 2 * len(rows)


def shadow_rows(text: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels: dict[str, Any] = sample.labels
            if sample.name == "loopml_predictions_total" and labels.get("shadow") == "true":
                total += sample.value
    return total
