"""Pipelines: ``@loopml.step`` functions wired by a ``@loopml.pipeline`` function.

>>> @loopml.step  # doctest: +SKIP
... def ingest(name: str) -> pd.DataFrame:
...     return loopml.data.load(name)
>>> @loopml.pipeline  # doctest: +SKIP
... def churn(data: str = "customers"):
...     train(preprocess(ingest(data)))
>>> churn.run({"train.max_depth": 6}, executor="processes")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .graph import Graph, Pipeline, pipeline
from .steps import Step, StepOutput, step

if TYPE_CHECKING:  # the store (SQLAlchemy) loads when a run is recorded or read, not when
    # a module merely defines steps
    from ..store import Store
    from .records import PipelineRun, StepRun

__all__ = [
    "Graph",
    "Pipeline",
    "PipelineRun",
    "Step",
    "StepOutput",
    "StepRun",
    "get_run",
    "list_runs",
    "load",
    "output",
    "pipeline",
    "run",
    "step",
]


def load(target: str | Path) -> Pipeline:
    """The pipeline defined in a file (``FILE`` or ``FILE:NAME``)."""
    from .loading import load_pipeline

    return load_pipeline(str(target))


def run(
    target: Pipeline | str | Path,
    params: Mapping[str, Any] | None = None,
    **options: Any,
) -> PipelineRun:
    """Run a pipeline object or file. Options: ``executor`` (local, processes, dask),
    ``workers``, ``dask`` (an address or "local"), ``cache``, ``raise_on_failure``."""
    from .runner import run_pipeline

    pipeline_ = target if isinstance(target, Pipeline) else load(target)
    return run_pipeline(pipeline_, params or {}, **options)


def get_run(ref: str, *, store: Store | None = None) -> PipelineRun:
    from ..store import default_store
    from .records import get_pipeline_run

    return get_pipeline_run(store or default_store(), ref)


def list_runs(pipeline_name: str | None = None, *, limit: int = 50) -> list[PipelineRun]:
    from ..store import default_store
    from .records import list_pipeline_runs

    return list_pipeline_runs(default_store(), pipeline_name, limit=limit)


def output(
    ref: str, step_name: str, index: int | None = None, *, store: Store | None = None
) -> Any:
    """The value a step produced in a pipeline run (loaded through its materializer).

    For a mapped step (``step.map``) it is the list of the items' results; ``index`` picks
    one output of a step returning a tuple, or one item of a mapped step.
    """
    from ..errors import NotFound
    from ..store import default_store
    from .materializers import decode
    from .records import get_pipeline_run

    store = store or default_store()
    run_ = get_pipeline_run(store, ref)
    found = run_.step(step_name)
    mapped = any(s.name == f"{step_name}[0]" for s in run_.steps)
    if not found.outputs:
        raise NotFound(f"step '{step_name}' of run {ref} has no stored output")
    if index is not None and index >= len(found.outputs):
        raise NotFound(f"step '{step_name}' has {len(found.outputs)} outputs, not {index + 1}")
    chosen = found.outputs if mapped and index is None else [found.outputs[index or 0]]
    values = [decode(store.blobs.read_bytes(o.hash), o.materializer) for o in chosen]
    return values if mapped and index is None else values[0]


def __getattr__(name: str) -> Any:
    if name in ("PipelineRun", "StepRun"):
        from . import records

        return getattr(records, name)
    raise AttributeError(f"module 'loopml.pipelines' has no attribute {name!r}")
