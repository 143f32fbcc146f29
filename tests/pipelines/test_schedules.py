"""Schedules: cron and dataset triggers, catch-up "latest only", tick claiming across
processes on SQLite and PostgreSQL, and the scheduler running real pipeline subprocesses."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import update

import loopml.data
import loopml.pipelines
from loopml.config import resolve
from loopml.errors import AlreadyExists, InvalidInput, NotFound
from loopml.governance import list_events
from loopml.pipelines.records import get_pipeline_run, list_pipeline_runs
from loopml.pipelines.scheduler import run_scheduler
from loopml.pipelines.schedules import (
    Schedule,
    add_schedule,
    claim_tick,
    due_ticks,
    get_schedule,
    list_schedules,
    list_ticks,
    remove_schedule,
    set_enabled,
)
from loopml.store import Store, open_store
from loopml.store.schema import schedules

from ..helpers import loopml_cli

TINY = """
import loopml

@loopml.step
def count(n: int = 1) -> int:
    return n + 1

@loopml.pipeline
def tiny(n: int = 1):
    count(n)
"""

BROKEN = """
import loopml

@loopml.step
def boom(n: int = 1) -> int:
    raise RuntimeError("the source table is empty")

@loopml.pipeline
def broken(n: int = 1):
    boom(n)
"""

# Writes a marker, then takes a while: the scheduler gets its signal mid-tick.
SLOW = """
import time
from pathlib import Path
import loopml

@loopml.step
def slow(marker: str = "") -> int:
    Path(marker).write_text("started")
    time.sleep(1.5)
    return 1

@loopml.pipeline
def slowpoke(marker: str = ""):
    slow(marker)
"""


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@pytest.fixture
def flows(project: Path) -> Path:
    """A folder of pipeline files, apart from the project's working directory."""
    folder = project / "flows"
    folder.mkdir()
    (folder / "tiny.py").write_text(TINY)
    (folder / "broken.py").write_text(BROKEN)
    (folder / "slow.py").write_text(SLOW)
    return folder


@pytest.fixture
def sqlite_store(project: Path) -> Iterator[Store]:
    """The embedded store only, for checks that involve no concurrency."""
    opened = open_store(resolve())
    yield opened
    opened.close()


def _version(name: str, rows: int) -> int:
    return loopml.data.add(name, pd.DataFrame({"x": range(rows)})).version.version


# --- managing schedules -----------------------------------------------------------------


def test_add_list_disable_enable_remove_with_audit_events(store, flows, monkeypatch) -> None:
    monkeypatch.chdir(flows)  # a relative file is stored as an absolute path
    _version("customers", 3)
    nightly = add_schedule(store, "nightly", "tiny.py", cron="0  2 * * *", params={"n": 5})
    on_data = add_schedule(store, "on-data", "tiny.py:tiny", on="dataset:customers")

    assert (nightly.file, nightly.trigger, nightly.spec, nightly.params) == (
        str(flows / "tiny.py"),
        "cron",
        "0 2 * * *",
        {"n": 5},
    )
    assert nightly.cursor == str(nightly.created_at)  # no back-fill of past cron times
    assert (on_data.file, on_data.on, on_data.cursor) == (
        f"{flows / 'tiny.py'}:tiny",
        "dataset:customers",
        "1",  # only versions after the latest at creation trigger
    )
    assert [s.name for s in list_schedules(store)] == ["nightly", "on-data"]

    assert set_enabled(store, "nightly", False).enabled is False
    assert get_schedule(store, "nightly").enabled is False
    assert set_enabled(store, "nightly", True).enabled is True
    assert remove_schedule(store, "on-data").name == "on-data"
    assert [s.name for s in list_schedules(store)] == ["nightly"]

    events = list_events(store, object_type="schedule")
    assert [(e.action, e.object_id) for e in reversed(events)] == [
        ("schedule.create", "nightly"),
        ("schedule.create", "on-data"),
        ("schedule.disable", "nightly"),
        ("schedule.enable", "nightly"),
        ("schedule.delete", "on-data"),
    ]
    assert events[-1].after["on"] == "cron 0 2 * * *"


@pytest.mark.parametrize(
    "cron", ["61 * * * *", "* * * *", "0 0 * * * *", "every night", "@sometimes", ""]
)
def test_a_bad_cron_expression_is_named_with_an_example(sqlite_store, flows, cron) -> None:
    with pytest.raises(InvalidInput, match=re.escape(f"cron expression '{cron}' is not")) as caught:
        add_schedule(sqlite_store, "nightly", flows / "tiny.py", cron=cron)
    assert "'0 2 * * *'" in caught.value.hint
    assert list_schedules(sqlite_store) == []


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"on": "dataset:nobody"}, NotFound, "no dataset named 'nobody'"),
        ({"on": "s3:bucket"}, InvalidInput, "'s3:bucket' is not dataset:NAME or alert:"),
        ({"on": "dataset:"}, InvalidInput, "is not dataset:NAME"),
        ({}, InvalidInput, "exactly one trigger"),
        ({"cron": "0 2 * * *", "on": "dataset:x"}, InvalidInput, "exactly one trigger"),
    ],
)
def test_bad_triggers_are_refused(sqlite_store, flows, options, error, message) -> None:
    with pytest.raises(error, match=message) as caught:
        add_schedule(sqlite_store, "s", flows / "tiny.py", **options)
    if error is NotFound:
        assert "loopml data ls" in caught.value.hint
    assert list_schedules(sqlite_store) == []


def test_missing_file_bad_name_and_duplicate_name_are_refused(store, flows) -> None:
    with pytest.raises(NotFound, match="pipeline file '.*nope.py' not found"):
        add_schedule(store, "s", flows / "nope.py", cron="0 2 * * *")
    with pytest.raises(InvalidInput, match="schedule name 'has space' is not allowed"):
        add_schedule(store, "has space", flows / "tiny.py", cron="0 2 * * *")
    add_schedule(store, "s", flows / "tiny.py", cron="0 2 * * *")
    with pytest.raises(AlreadyExists, match="schedule 's' exists already"):
        add_schedule(store, "s", flows / "broken.py", cron="0 3 * * *")
    assert get_schedule(store, "s").file == str(flows / "tiny.py")
    with pytest.raises(NotFound, match="no schedule named 'other'") as caught:
        remove_schedule(store, "other")
    assert "loopml schedule ls" in caught.value.hint


def test_an_alert_trigger_is_stored_and_the_scheduler_says_it_is_inactive(
    store, flows, capsys
) -> None:
    added = add_schedule(store, "on-alert", flows / "tiny.py", on="alert:churn-api")
    assert (added.trigger, added.spec) == ("alert", "churn-api")
    assert due_ticks(store, added) == []
    assert run_scheduler(store, once=True) == 0
    assert "'on-alert' (alert:churn-api) is inactive" in capsys.readouterr().err


# --- due ticks --------------------------------------------------------------------------


def _cron(store, flows, spec: str, cursor: str) -> Schedule:
    added = add_schedule(store, "cron", flows / "tiny.py", cron=spec)
    return replace(added, cursor=str(_ms(_at(cursor))))


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2026-01-01T00:45:00", []),  # nothing since the cursor
        ("2026-01-01T01:00:00", ["cron:2026-01-01T01:00:00Z"]),  # now itself counts
        ("2026-01-01T01:00:00.999", ["cron:2026-01-01T01:00:00Z"]),
        ("2026-01-01T03:15:00", ["cron:2026-01-01T03:00:00Z"]),  # latest only, no burst
        ("2026-01-09T23:59:59", ["cron:2026-01-09T23:00:00Z"]),
    ],
)
def test_cron_due_ticks_are_the_latest_cron_time_after_the_cursor(
    sqlite_store, flows, now, expected
) -> None:
    schedule = _cron(sqlite_store, flows, "0 * * * *", "2026-01-01T00:30:00")
    assert due_ticks(sqlite_store, schedule, now=_at(now)) == expected


def test_the_cursor_itself_is_not_due_and_naive_times_are_utc(sqlite_store, flows) -> None:
    schedule = _cron(sqlite_store, flows, "0 2 * * *", "2026-01-01T02:00:00")
    assert due_ticks(sqlite_store, schedule, now=_at("2026-01-02T01:59:59")) == []
    assert due_ticks(sqlite_store, schedule, now=datetime(2026, 1, 2, 2, 0)) == [
        "cron:2026-01-02T02:00:00Z"
    ]
    paris = datetime.fromisoformat("2026-01-02T03:30:00+01:00")  # 02:30 UTC
    assert due_ticks(sqlite_store, schedule, now=paris) == ["cron:2026-01-02T02:00:00Z"]


def test_a_new_cron_schedule_does_not_back_fill(sqlite_store, flows) -> None:
    added = add_schedule(sqlite_store, "nightly", flows / "tiny.py", cron="0 2 * * *")
    created = datetime.fromtimestamp(added.created_at / 1000, tz=UTC)
    assert due_ticks(sqlite_store, added, now=created) == []
    [tick] = due_ticks(sqlite_store, added, now=created + timedelta(days=3))
    moment = datetime.strptime(tick, "cron:%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert (moment.hour, moment.minute) == (2, 0)
    assert created + timedelta(days=2) < moment <= created + timedelta(days=3)


@settings(max_examples=60, deadline=None)
@given(
    spec=st.sampled_from(["* * * * *", "*/7 * * * *", "0 2 * * *", "15 3 * * 1", "0 0 1 * *"]),
    cursor_s=st.integers(1_700_000_000, 1_900_000_000),
    gap_s=st.integers(0, 90 * 24 * 3600),
)
def test_the_due_cron_tick_is_the_newest_cron_time_in_the_window(spec, cursor_s, gap_s) -> None:
    from loopml.pipelines.schedules import _latest_cron_time

    cursor = datetime.fromtimestamp(cursor_s, tz=UTC)
    now = cursor + timedelta(seconds=gap_s)
    latest = datetime.fromtimestamp(_latest_cron_time(spec, now) / 1000, tz=UTC)
    assert latest <= now
    assert croniter.match(spec, latest)
    assert croniter(spec, latest).get_next(datetime) > now  # nothing newer was skipped


def test_dataset_due_ticks_are_the_newest_new_version(store, flows) -> None:
    _version("customers", 1)
    schedule = add_schedule(store, "on-data", flows / "tiny.py", on="dataset:customers")
    assert due_ticks(store, schedule) == []
    _version("customers", 2)
    assert due_ticks(store, schedule) == ["dataset:customers@2"]
    _version("customers", 3)
    assert due_ticks(store, schedule) == ["dataset:customers@3"]  # latest only


# --- claiming ---------------------------------------------------------------------------


def test_a_tick_is_claimed_once_and_moves_the_cursor(store, db, flows) -> None:
    _version("customers", 1)
    schedule = add_schedule(store, "on-data", flows / "tiny.py", on="dataset:customers")
    assert claim_tick(store, schedule.id, "dataset:customers@3", "a") is True
    assert claim_tick(store, schedule.id, "dataset:customers@3", "b") is False
    assert claim_tick(store, schedule.id, "dataset:customers@2", "b") is False  # older
    assert get_schedule(store, "on-data").cursor == "3"
    [tick] = list_ticks(store, "on-data")
    assert (tick.tick, tick.claimed_by, tick.status) == ("dataset:customers@3", "a", "RUNNING")

    # Even with the cursor moved back, the tick's primary key refuses a second claim.
    with db.write() as connection:
        connection.execute(
            update(schedules).where(schedules.c.id == schedule.id).values(cursor="1")
        )
    assert claim_tick(store, schedule.id, "dataset:customers@3", "c") is False
    assert [t.claimed_by for t in list_ticks(store, "on-data")] == ["a"]

    set_enabled(store, "on-data", False)
    assert claim_tick(store, schedule.id, "dataset:customers@4", "a") is False
    with pytest.raises(InvalidInput, match="tick 'nonsense' is not"):
        claim_tick(store, schedule.id, "nonsense", "a")


_CLAIMER = """
import sys, time
from loopml.config import resolve
from loopml.store import open_store
from loopml.pipelines.schedules import claim_tick
store = open_store(resolve())
start = float(sys.argv[1])
while time.time() < start:
    time.sleep(0.001)
print(claim_tick(store, int(sys.argv[2]), sys.argv[3], sys.argv[4]))
"""


def test_processes_claiming_one_tick_at_the_same_moment_get_one_winner(store, flows) -> None:
    schedule = add_schedule(store, "hourly", flows / "tiny.py", cron="0 * * * *")
    tick = "cron:2099-01-01T00:00:00Z"
    start = time.time() + 1.5  # every process claims at the same moment
    claimers = [
        subprocess.Popen(
            [sys.executable, "-c", _CLAIMER, str(start), str(schedule.id), tick, f"p{i}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    answers = []
    for claimer in claimers:
        out, err = claimer.communicate(timeout=60)
        assert claimer.returncode == 0, err
        answers.append(out.strip())
    assert sorted(answers) == ["False", "False", "False", "True"]
    [row] = list_ticks(store, "hourly")
    assert row.claimed_by == f"p{answers.index('True')}"


# --- the scheduler ----------------------------------------------------------------------


def test_a_new_dataset_version_runs_the_pipeline_once(store, flows) -> None:
    _version("customers", 1)
    add_schedule(store, "on-data", flows / "tiny.py", on="dataset:customers", params={"n": 41})
    assert run_scheduler(store, once=True) == 0  # nothing new yet
    _version("customers", 2)

    assert run_scheduler(store, once=True, claimed_by="me") == 1
    [tick] = list_ticks(store, "on-data")
    assert (tick.tick, tick.status, tick.claimed_by, tick.error) == (
        "dataset:customers@2",
        "FINISHED",
        "me",
        None,
    )
    run = get_pipeline_run(store, tick.pipeline_run_id)
    assert (run.pipeline, run.status, run.params) == ("tiny", "FINISHED", {"n": "41"})
    assert loopml.pipelines.output(run.id, "count", store=store) == 42

    assert run_scheduler(store, once=True) == 0  # the tick is not run again
    assert len(list_pipeline_runs(store)) == 1


def test_a_failing_pipeline_is_recorded_and_the_scheduler_keeps_going(store, flows, capsys) -> None:
    _version("customers", 1)
    add_schedule(store, "a-broken", flows / "broken.py", on="dataset:customers")
    (flows / "gone.py").write_text(TINY)
    add_schedule(store, "b-gone", flows / "gone.py", on="dataset:customers")
    (flows / "gone.py").unlink()  # removed after it was scheduled
    add_schedule(store, "c-fine", flows / "tiny.py:tiny", on="dataset:customers")
    _version("customers", 2)

    assert run_scheduler(store, once=True) == 3
    broken, gone, fine = (list_ticks(store, name)[0] for name in ("a-broken", "b-gone", "c-fine"))
    assert broken.status == "FAILED"
    assert broken.error.startswith("step 'boom' failed:")
    assert broken.error.endswith("RuntimeError: the source table is empty")
    assert get_pipeline_run(store, broken.pipeline_run_id).status == "FAILED"
    assert (gone.status, gone.pipeline_run_id) == ("FAILED", None)
    assert "gone.py' not found" in gone.error
    assert fine.status == "FINISHED"
    assert get_pipeline_run(store, fine.pipeline_run_id).status == "FINISHED"
    err = capsys.readouterr().err
    assert "✗ a-broken dataset:customers@2: FAILED" in err
    assert "RuntimeError: the source table is empty" in err
    assert "✓ c-fine dataset:customers@2: FINISHED" in err


def test_two_schedulers_at_once_start_a_tick_once(backend, flows) -> None:
    _version("customers", 1)
    assert loopml_cli("schedule", "add", "on-data", "tiny.py", "--on", "dataset:customers",
                      cwd=flows).returncode == 0  # fmt: skip
    _version("customers", 2)
    schedulers = [
        subprocess.Popen(
            [str(Path(sys.executable).with_name("loopml")), "scheduler", "--once"],
            cwd=flows,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    errors = []
    for scheduler in schedulers:
        _, err = scheduler.communicate(timeout=60)
        assert scheduler.returncode == 0, err
        errors.append(err)
    assert sum(err.count("▶ on-data") for err in errors) == 1
    ticks = json.loads(loopml_cli("schedule", "ticks", "on-data", "--json", cwd=flows).stdout)
    assert [(t["tick"], t["status"]) for t in ticks] == [("dataset:customers@2", "FINISHED")]
    runs = json.loads(loopml_cli("pipeline", "ls", "--json", cwd=flows).stdout)
    assert [run["id"] for run in runs] == [ticks[0]["pipeline_run_id"]]


@pytest.mark.usefixtures("mode")
def test_sigterm_lets_the_running_tick_finish_and_be_recorded(project, flows) -> None:
    marker = project / "started"
    _version("customers", 1)
    assert loopml_cli("schedule", "add", "slow", "flows/slow.py", "--on", "dataset:customers",
                      "-p", f"marker={marker}", cwd=project).returncode == 0  # fmt: skip
    _version("customers", 2)
    scheduler = subprocess.Popen(
        [str(Path(sys.executable).with_name("loopml")), "scheduler", "--poll", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30  # a bound on waiting, not a timing assertion
        while not marker.exists() and scheduler.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), scheduler.stderr.read() if scheduler.poll() is not None else ""
        scheduler.send_signal(signal.SIGTERM)
        _, err = scheduler.communicate(timeout=60)
    finally:
        if scheduler.poll() is None:
            scheduler.kill()
            scheduler.communicate()
    assert scheduler.returncode == 0, err
    assert "stopping after the current tick" in err
    assert "✓ slow dataset:customers@2: FINISHED" in err
    assert err.rstrip().endswith("scheduler stopped")
    ticks = json.loads(loopml_cli("schedule", "ticks", "slow", "--json", cwd=project).stdout)
    assert [(t["tick"], t["status"]) for t in ticks] == [("dataset:customers@2", "FINISHED")]
    run = json.loads(
        loopml_cli("pipeline", "explain", ticks[0]["pipeline_run_id"], "--json", cwd=project).stdout
    )
    assert run["status"] == "FINISHED"


# --- the command line -------------------------------------------------------------------


@pytest.mark.usefixtures("mode")
def test_cli_add_ls_disable_rm_and_errors(project, flows) -> None:
    added = loopml_cli(
        "schedule", "add", "nightly", "flows/tiny.py", "--cron", "0 2 * * *", "-p", "n=3", "--json",
        cwd=project,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["file"] == str(flows / "tiny.py")
    assert loopml_cli("schedule", "disable", "nightly", cwd=project).returncode == 0
    [listed] = json.loads(loopml_cli("schedule", "ls", "--json", cwd=project).stdout)
    assert (listed["name"], listed["on"], listed["params"], listed["enabled"]) == (
        "nightly",
        "cron 0 2 * * *",
        {"n": "3"},
        False,
    )
    assert loopml_cli("schedule", "enable", "nightly", cwd=project).returncode == 0
    [listed] = json.loads(loopml_cli("schedule", "ls", "--json", cwd=project).stdout)
    next_time = datetime.fromtimestamp(listed["next"] / 1000, tz=UTC)
    assert (next_time.hour, next_time.minute, listed["last_tick"]) == (2, 0, None)

    for args, code, message in [
        (["add", "x", "flows/tiny.py", "--cron", "0 25 * * *"], 2, "cron expression '0 25"),
        (["add", "x", "flows/tiny.py", "--on", "dataset:nobody"], 3, "no dataset named"),
        (["add", "nightly", "flows/tiny.py", "--cron", "0 3 * * *"], 4, "exists already"),
        (["rm", "nobody"], 3, "no schedule named 'nobody'"),
    ]:
        done = loopml_cli("schedule", *args, cwd=project)
        assert (done.returncode, done.stderr.count("\n")) == (code, 1), done.stderr
        assert done.stderr.startswith("error: ") and message in done.stderr

    assert loopml_cli("schedule", "rm", "nightly", cwd=project).returncode == 0
    assert json.loads(loopml_cli("schedule", "ls", "--json", cwd=project).stdout) == []
