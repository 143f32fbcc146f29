"""Many processes logging into one store at once lose nothing."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from loopml.store.schema import latest_metrics, metrics

_WORKER = """
import sys, time
import loopml
start = float(sys.argv[1])
while time.time() < start:
    time.sleep(0.001)
with loopml.start_run(experiment="parallel", run_name=sys.argv[2]) as run:
    for step in range(1000):
        run.log_metric("loss", 1.0 / (step + 1))
print(run.id)
"""


@pytest.mark.slow
def test_eight_processes_logging_1000_metrics_each_store_exactly_8000(backend, db) -> None:
    start = time.time() + 2.0  # every worker starts logging at the same moment
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(start), f"worker-{index}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(8)
    ]
    run_ids = []
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
        assert "locked" not in err
        run_ids.append(out.strip())
    with db.read() as connection:
        total = connection.execute(select(func.count()).select_from(metrics)).scalar_one()
        per_run = dict(
            connection.execute(
                select(metrics.c.run_id, func.count()).group_by(metrics.c.run_id)
            ).all()
        )
        latest = dict(
            connection.execute(select(latest_metrics.c.run_id, latest_metrics.c.step)).all()
        )
    assert total == 8000
    assert per_run == dict.fromkeys(run_ids, 1000)
    assert latest == dict.fromkeys(run_ids, 999)
