"""Running a compiled pipeline: cache decisions, scheduling the DAG on an executor, and
recording every step run with the reason it ran or was reused.

The runner lives in the process that started the pipeline. It decides, for each node
whose upstream steps are done, whether a successful earlier step run with the same cache
key can be reused; otherwise it hands a task to the executor, as many at once as the
executor has slots (a mapped step's items count one each, bounded by ``max_parallel``).
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
import time
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, StepFailed
from ..store import Store, default_store
from ..tracking import _signals
from ..tracking import runs as _runs
from ..tracking.environment import capture_origin, git_state
from ..tracking.fluent import status_for_exit
from . import materializers
from .cachekey import cache_key, differences, fingerprint, key_parts
from .execution import InputSpec, StepCode, StepOutcome, StepTask
from .executors import Executor, make_executor
from .graph import Graph, Pipeline
from .loading import module_name_for
from .records import (
    CACHED,
    COMPLETED,
    FAILED,
    KILLED,
    REUSABLE,
    SKIPPED,
    OutputInfo,
    PipelineRun,
    StepRun,
    create_pipeline_run,
    finish_step_run,
    get_pipeline_run,
    mark_unfinished,
    previous_step_run,
    record_step,
    reusable_runs,
    stale_datasets,
    start_step_run,
)
from .steps import Node, OutputRef
from .unchanged import loaded_files, manifest, save_manifest


@dataclass
class _Item:
    """One unit of work: a node, or one item of a mapped node."""

    name: str
    node: Node
    inputs: dict[str, InputSpec]
    input_hashes: dict[str, str]
    params: dict[str, Any]
    key: str = ""
    parts: dict[str, Any] = field(default_factory=dict)
    reason: str = ""  # why it runs


@dataclass
class _NodeState:
    items: list[_Item] = field(default_factory=list)
    outputs: dict[str, list[OutputInfo]] = field(default_factory=dict)  # item -> outputs
    waiting: list[_Item] = field(default_factory=list)
    running: int = 0
    executed: int = 0
    failed: bool = False
    reuse_reason: str | None = None  # why the first reused item was reused


def run_pipeline(
    pipeline: Pipeline,
    params: Mapping[str, Any],
    *,
    executor: str = "local",
    workers: int | None = None,
    dask: str | None = None,
    cache: bool = True,
    store: Store | None = None,
    resume_from: str | None = None,
    reproduce_of: str | None = None,
    dataset_pins: Mapping[str, str] | None = None,
    raise_on_failure: bool = True,
    progress: bool = False,
) -> PipelineRun:
    """Run ``pipeline`` with ``params`` overrides; returns the recorded pipeline run.

    ``resume_from`` reuses what succeeded in that run whatever the cache settings;
    ``cache=False`` runs every step. A failed step raises :class:`StepFailed` (after
    recording everything) unless ``raise_on_failure`` is False.
    """
    store = store or default_store()
    graph = pipeline.compile(params)
    files_at_start = loaded_files()  # the code this run starts from, for its manifest
    resumed = get_pipeline_run(store, resume_from) if resume_from else None
    config = store.config
    pool = make_executor(executor, store, workers=workers, dask=dask)
    origin = _origin(pipeline.source_file)
    _signals.install()  # SIGTERM unwinds like Ctrl-C: the runs end KILLED, workers stop
    run_id = create_pipeline_run(
        store,
        pipeline=pipeline.name,
        file=str(pipeline.source_file),
        params=dict(params),
        executor=pool.name if dask is None else f"dask:{getattr(pool, 'address', dask)}",
        origin=origin,
        resumed_from=resume_from,
        reproduced_from=reproduce_of,
    )
    status = FAILED
    try:
        runner = _Runner(
            store=store,
            graph=graph,
            pipeline=pipeline,
            run_id=run_id,
            executor=pool,
            config=config,
            cache=cache,
            resumed=resumed,
            pins=dict(dataset_pins or {}),
            reproducing=reproduce_of,
            origin=origin,
            progress=progress,
        )
        status = runner.run()
        pool.close()
        if status == COMPLETED:
            always_runs = any(not node.step.cache for node in graph.nodes.values())
            files_now = loaded_files()  # with the modules the steps imported meanwhile
            # A file saved while the run went on: its outputs may come from either text,
            # so this run must not vouch for the new one.
            if all(files_now.get(path) == digest for path, digest in files_at_start.items()):
                recorded = manifest(
                    pipeline.name,
                    params,
                    get_pipeline_run(store, run_id),
                    files=files_now,
                    always_runs=always_runs,
                )
                save_manifest(store, run_id, recorded)
        _runs.set_run_status(store, run_id, "FINISHED" if status == COMPLETED else "FAILED")
    except BaseException as exc:
        pool.close(cancel=True)
        ended = KILLED if status_for_exit(exc) == "KILLED" else FAILED
        with _signals.deferred_signals():  # a second signal waits until this is recorded
            mark_unfinished(store, run_id, ended)
            _runs.set_run_status(store, run_id, "KILLED" if ended == KILLED else "FAILED")
        raise
    result = get_pipeline_run(store, run_id)
    if status != COMPLETED and raise_on_failure:
        failed = [s for s in result.steps if s.status == FAILED]
        first = failed[0] if failed else None
        raise StepFailed(
            f"pipeline '{pipeline.name}' run {run_id[:8]} failed at step "
            f"'{first.name if first else '?'}':\n{first.error if first else ''}",
            hint=f"fix it, then: loopml pipeline resume {run_id[:8]}",
            pipeline_run_id=run_id,
            step=first.name if first else None,
        )
    return result


class _Runner:
    def __init__(
        self,
        *,
        store: Store,
        graph: Graph,
        pipeline: Pipeline,
        run_id: str,
        executor: Executor,
        config: Any,
        cache: bool,
        resumed: PipelineRun | None,
        pins: dict[str, str],
        reproducing: str | None,
        origin: Any,
        progress: bool,
    ) -> None:
        self.store = store
        self.graph = graph
        self.pipeline = pipeline
        self.run_id = run_id
        self.executor = executor
        self.config = config
        self.cache = cache
        self.resumed = {s.name: s for s in resumed.steps} if resumed else {}
        self.resumed_id = resumed.id if resumed else None
        self.pins = pins
        self.reproducing = reproducing
        self.origin = origin
        self.console = _console() if progress else None
        self.project_root = _project_root(pipeline.source_file, config)
        self.states: dict[str, _NodeState] = {}
        self.futures: dict[Future[StepOutcome], _Item] = {}
        self.sources: dict[str, str] = {}  # file -> text, read once per run
        self.started: dict[str, float] = {}  # item -> when it was handed to the executor

    def run(self) -> str:
        pending = list(self.graph.order)
        while pending or self.futures or any(s.waiting for s in self.states.values()):
            progressed = False
            for name in list(pending):
                node = self.graph.nodes[name]
                upstream = [self.states.get(u) for u in node.upstream]
                if any(
                    state is None or not self._node_done(u)
                    for u, state in zip(node.upstream, upstream, strict=True)
                ):
                    if any(state is not None and state.failed for state in upstream):
                        self._skip(node, "a step it needs failed")
                        pending.remove(name)
                        progressed = True
                    continue
                pending.remove(name)
                self._start_node(node)
                progressed = True
            self._submit_waiting()
            if self.futures:
                done, _ = wait(list(self.futures), return_when=FIRST_COMPLETED)
                for future in done:
                    self._finish(self.futures.pop(future), future)
            elif not progressed:
                for name in pending:  # blocked behind a failure
                    self._skip(self.graph.nodes[name], "a step it needs failed")
                pending.clear()
        failed = any(state.failed for state in self.states.values())
        return FAILED if failed else COMPLETED

    # -- nodes -------------------------------------------------------------------------

    def _node_done(self, name: str) -> bool:
        state = self.states.get(name)
        if state is None or state.failed:
            return False
        return not state.waiting and state.running == 0 and len(state.outputs) == len(state.items)

    def _start_node(self, node: Node) -> None:
        state = _NodeState()
        self.states[node.name] = state
        inputs = {arg: self._input_spec(ref) for arg, ref in node.inputs.items()}
        hashes = {arg: ",".join(h for h, _ in spec.parts) for arg, spec in inputs.items()}
        if node.map_arg is None:
            state.items.append(_Item(node.name, node, inputs, hashes, dict(node.params)))
        else:
            for index, (digest, materializer) in enumerate(self._map_items(node)):
                item_inputs = {**inputs, node.map_arg: InputSpec([(digest, materializer)])}
                item_hashes = {**hashes, node.map_arg: digest}
                state.items.append(
                    _Item(
                        f"{node.name}[{index}]", node, item_inputs, item_hashes, dict(node.params)
                    )
                )
        for item in state.items:
            self._decide(item, state)
        if node.map_arg is not None and self._node_done(node.name):
            self._record_map_node(node, state)

    def _decide(self, item: _Item, state: _NodeState) -> None:
        step = item.node.step
        code = fingerprint(step.func, self.project_root)
        parts = key_parts(code, item.params, item.input_hashes)
        key = cache_key(parts)
        earlier = self.resumed.get(item.name)
        if earlier is not None and earlier.status in REUSABLE and earlier.cache_key == key:
            self._reuse(
                item, state, key, parts, earlier, f"reused from resumed run {self.resumed_id[:8]}"
            )
            return
        if self.reproducing:
            reason = f"reproducing run {self.reproducing[:8]}: every step runs"
        elif self.cache and step.cache:
            hit, stale = None, []
            for candidate in reusable_runs(self.store, key):
                # An older entry may have read what the names resolve to now.
                stale = stale_datasets(self.store, candidate.key_parts.get("datasets", {}))
                if not stale:
                    hit = candidate
                    break
            if hit is not None:
                self._reuse(
                    item,
                    state,
                    key,
                    parts,
                    hit,
                    f"cache hit: same key as in run {_producer(hit)[:8]}",
                )
                return
            reason = "; ".join(stale) if stale else self._why_run(item.name, parts)
        else:
            reason = "cache off (--no-cache)" if not self.cache else "cache=False on the step"
        item.key, item.parts, item.reason = key, parts, reason
        state.waiting.append(item)

    def _task(self, item: _Item) -> StepTask:
        """Record the step run (and its tracked run) as it starts; the task to execute."""
        step = item.node.step
        run_id = start_step_run(
            self.store,
            self.run_id,
            pipeline=self.pipeline.name,
            name=item.name,
            step=step.name,
            cache_key=item.key,
            key_parts=item.parts,
            reason=item.reason,
            origin=self.origin,
        )
        func = step.func
        file = inspect.getfile(func)
        module = func.__module__
        if module == "__main__":
            module = module_name_for(Path(file))
        return StepTask(
            pipeline_run_id=self.run_id,
            node=item.name,
            run_id=run_id,
            code=StepCode(file, module, func.__qualname__, self._source_of(file)),
            config=self.config,
            inputs=item.inputs,
            params=item.params,
            n_outputs=step.n_outputs if item.node.map_arg is None else 1,
            retries=step.retries,
            retry_delay=step.retry_delay,
            backoff=step.backoff,
            timeout=step.timeout,
            dataset_pins=self.pins,
        )

    def _reuse(
        self,
        item: _Item,
        state: _NodeState,
        key: str,
        parts: dict[str, Any],
        source: StepRun,
        reason: str,
    ) -> None:
        parts = {**parts, "datasets": source.key_parts.get("datasets", {})}
        record_step(
            self.store,
            self.run_id,
            name=item.name,
            step=item.node.step.name,
            status=CACHED,
            reason=reason,
            cache_key=key,
            key_parts=parts,
            reused_from=source.reused_from or source.pipeline_run_id,
            outputs=source.outputs,
            inputs=item.input_hashes,
        )
        state.outputs[item.name] = source.outputs
        state.reuse_reason = state.reuse_reason or reason
        self._say("cached", item.name, reason)

    def _submit_waiting(self) -> None:
        for state in self.states.values():
            limit = state.items[0].node.max_parallel if state.items else None
            while (
                state.waiting
                and len(self.futures) < self.executor.slots
                and (limit is None or state.running < limit)
            ):
                item = state.waiting.pop(0)
                state.running += 1
                self._say("start", item.name, "")
                self.started[item.name] = time.perf_counter()
                self.futures[self.executor.submit(self._task(item), item.node.step.func)] = item

    def _finish(self, item: _Item, future: Future[StepOutcome]) -> None:
        state = self.states[item.node.name]
        state.running -= 1
        try:
            outcome = future.result()
        except Exception as exc:  # the worker itself died
            outcome = StepOutcome(item.name, FAILED, 1, error=f"the worker failed: {exc!r}")
        finish_step_run(
            self.store,
            self.run_id,
            item.name,
            status=outcome.status,
            attempts=outcome.attempts,
            outputs=outcome.outputs,
            inputs=item.input_hashes,
            error=outcome.error,
            datasets=outcome.datasets,
        )
        for note in outcome.warnings:
            print(f"loopml: warning: {note}", file=sys.stderr)
        if outcome.status != COMPLETED:
            state.failed = True
            for waiting in state.waiting:  # the map's items not started yet
                self._skip_item(waiting, f"item {item.name} {outcome.status.lower()}")
            state.waiting.clear()
            self._say("failed", item.name, (outcome.error or "").splitlines()[-1:] or "")
            if outcome.status == KILLED:
                raise KeyboardInterrupt
            return
        state.outputs[item.name] = outcome.outputs
        state.executed += 1
        took = time.perf_counter() - self.started.get(item.name, time.perf_counter())
        self._say("done", item.name, f"{took:.2f} s")
        if item.node.map_arg is not None and self._node_done(item.node.name):
            self._record_map_node(item.node, state)

    def _record_map_node(self, node: Node, state: _NodeState) -> None:
        outputs = [state.outputs[item.name][0] for item in state.items]
        count = len(state.items)
        if state.items and state.executed == 0:  # every item was reused: so is the node
            status, reason = CACHED, f"{state.reuse_reason} (all {count} items)"
        else:
            status, reason = COMPLETED, f"mapped over {count} items"
        record_step(
            self.store,
            self.run_id,
            name=node.name,
            step=node.step.name,
            status=status,
            reason=reason,
            outputs=outputs,
        )

    def _skip_item(self, item: _Item, reason: str) -> None:
        record_step(
            self.store,
            self.run_id,
            name=item.name,
            step=item.node.step.name,
            status=SKIPPED,
            reason=reason,
        )
        self._say("skipped", item.name, reason)

    def _skip(self, node: Node, reason: str) -> None:
        self.states[node.name] = _NodeState(failed=True)
        record_step(
            self.store,
            self.run_id,
            name=node.name,
            step=node.step.name,
            status=SKIPPED,
            reason=reason,
        )
        self._say("skipped", node.name, reason)

    # -- inputs and reasons --------------------------------------------------------------

    def _collect(self, name: str) -> list[OutputInfo]:
        state = self.states[name]
        if state.items and state.items[0].node.map_arg is not None:
            return [state.outputs[item.name][0] for item in state.items]
        return state.outputs[name]

    def _input_spec(self, ref: OutputRef) -> InputSpec:
        producer = self.graph.nodes[ref.node]
        outputs = self._collect(ref.node)
        parts = [(o.hash, o.materializer) for o in outputs]
        if producer.map_arg is not None:
            return InputSpec(parts, "list")
        if ref.index is not None:
            return InputSpec([parts[ref.index]])
        return InputSpec(parts, "tuple" if producer.step.n_outputs > 1 else "one")

    def _map_items(self, node: Node) -> list[tuple[str, str]]:
        if isinstance(node.map_items, OutputRef):
            from .execution import load_input

            values = load_input(self.store, self._input_spec(node.map_items))
            if not isinstance(values, list | tuple):
                raise InvalidInput(
                    f"step '{node.name}' maps over the output of '{node.map_items.node}', "
                    f"which is a {type(values).__name__}, not a list",
                    hint=f"return a list from '{node.map_items.node}'",
                )
        else:
            values = list(node.map_items or [])
        items = []
        for index, value in enumerate(values):
            encoded = materializers.encode(value, what=f"item {index} of {node.name}.map()")
            info = self.store.blobs.put_bytes(encoded.data)
            items.append((info.hash, encoded.materializer))
        return items

    def _why_run(self, name: str, parts: dict[str, Any]) -> str:
        previous = previous_step_run(self.store, self.pipeline.name, name, self.run_id)
        if previous is None:
            return "first run of this step"
        changed = differences(previous.key_parts, parts)
        if changed:
            return "; ".join(changed)
        if previous.status not in REUSABLE:
            return f"its last run ({previous.pipeline_run_id[:8]}) did not succeed"
        return "its earlier outputs are no longer in the artifact store"

    def _source_of(self, file: str) -> str:
        if file not in self.sources:
            try:
                self.sources[file] = Path(file).read_text(encoding="utf-8")
            except OSError:
                self.sources[file] = ""
        return self.sources[file]

    def _say(self, event: str, name: str, detail: Any) -> None:
        if self.console is None:
            return
        from rich.text import Text

        marks = {
            "start": ("…", "cyan"),
            "done": ("✓", "green"),
            "cached": ("↺", "blue"),
            "failed": ("✗", "red"),
            "skipped": ("-", "yellow"),
        }
        text = detail if isinstance(detail, str) else " ".join(detail)
        # The user's names and error text print as written, never as markup.
        self.console.print(Text.assemble(marks[event], " ", name, " ", (text, "dim")))


def _producer(hit: StepRun) -> str:
    """The pipeline run that executed the step whose outputs ``hit`` holds."""
    return hit.reused_from or hit.pipeline_run_id


def _project_root(pipeline_file: Path, config: Any) -> Path:
    project_dir = getattr(config, "project_dir", None)
    if project_dir is not None and pipeline_file.is_relative_to(Path(project_dir).resolve()):
        return Path(project_dir).resolve()
    return pipeline_file.parent


def _origin(pipeline_file: Path) -> _runs.RunOrigin:
    """Where the run came from, with the git state of the pipeline file's repository: the
    code that runs is the pipeline's, not the ``loopml`` script's (reproduce checks it)."""
    commit, dirty, diff_hash = git_state(pipeline_file.parent)
    return dataclasses.replace(
        capture_origin(),
        source=str(pipeline_file),
        git_commit=commit,
        git_dirty=dirty,
        git_diff_hash=diff_hash,
    )


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False)
