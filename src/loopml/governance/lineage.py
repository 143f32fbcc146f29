"""Lineage: where an object came from (upstream) and what came from it (downstream).

The objects are runs, pipeline runs, step runs, dataset versions, artifacts (blobs) and
registered model versions;
the edges are records the other packages keep already: ``run_inputs`` (a run read a
dataset version), ``step_artifacts`` (a step took or wrote a blob), ``run_artifacts`` (a
run logged a file), ``step_runs.reused_from`` (a cached step reused an execution),
``pipeline_runs.resumed_from`` / ``reproduced_from``, ``dataset_versions.parent_version``
and ``model_versions.run_id`` (a run's model was registered as a version).

>>> tree = lineage(store, "artifact:3f2a91c0", direction="up")  # doctest: +SKIP
>>> [node.id for node in tree.walk() if node.kind == "dataset_version"]  # doctest: +SKIP
['dataset:customers@2']

The graph is walked breadth first, one direction at a time, so each node is expanded once,
at its shallowest place; a node met again (a shared ancestor, or a cycle such as a step
that returns its input unchanged) is marked ``repeated`` and not expanded again. This
module reads the other packages' tables directly: it is one read-only query over the
whole store in one snapshot, not a chain of service calls each with its own transaction.

A new kind of object (model versions, deployments) is a new key kind: a branch in
:func:`_resolve`, a loader in ``_Walker._load_*`` and its edges in ``_Walker._up_*`` /
``_Walker._down_*`` (found by name), plus the edges from existing kinds that lead to it.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from sqlalchemy import Connection, select

from ..errors import InvalidInput, NotFound
from ..ops import operation
from ..store import Store
from ..store.schema import (
    blobs,
    dataset_versions,
    datasets,
    experiments,
    model_aliases,
    model_versions,
    monitor_alerts,
    monitor_reports,
    monitor_retrains,
    params,
    pipeline_runs,
    run_artifacts,
    run_inputs,
    runs,
    step_artifacts,
    step_runs,
)

Direction = Literal["both", "up", "down"]
MAX_CHILDREN = 200
"""Edges shown per node and direction; the rest are counted in ``LineageNode.more``."""

Key = tuple[Any, ...]
"""("pipeline_run", id) | ("step_run", pipeline_run_id, name) | ("run", id)
| ("dataset_version", name, version) | ("artifact", hash) | ("model_version", name, version)
| ("retrain", id)"""
Edge = tuple[str, Key, bool]
"""(relation, the node at the other end, context: shown once as a fact, never expanded)"""

_SA, _SR, _PR = step_artifacts.c, step_runs.c, pipeline_runs.c
_RA, _RI, _DV = run_artifacts.c, run_inputs.c, dataset_versions.c
_MV = model_versions.c
_HEX = re.compile(r"^[0-9a-f]+$")
_FORMS = (
    "name a run id or prefix, NAME@V, dataset:NAME@V, artifact:HASH, step:RUN/STEP, run:ID, "
    "models:/NAME/VERSION or retrain:N (see loopml runs ls, loopml data ls, loopml models ls, "
    "loopml monitor retrains)"
)


@dataclass
class LineageNode:
    """One object in a lineage tree, with the edge that led to it (``relation``)."""

    kind: str  # pipeline_run | step_run | run | dataset_version | artifact | model_version
    # | retrain
    id: str  # what `loopml lineage` accepts: run id, dataset:N@V, artifact:HASH, step:RUN/STEP
    label: str
    facts: dict[str, Any] = field(default_factory=dict)
    relation: str | None = None  # how this node relates to the node above it
    upstream: list[LineageNode] = field(default_factory=list)
    downstream: list[LineageNode] = field(default_factory=list)
    repeated: bool = False  # expanded elsewhere in this tree (a shared ancestor or a cycle)
    more: int = 0  # edges not shown: beyond the depth asked for, or over MAX_CHILDREN

    def walk(self) -> Iterator[LineageNode]:
        """This node and every node below it, depth first."""
        yield self
        for child in [*self.upstream, *self.downstream]:
            yield from child.walk()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@operation("lineage.get", role="reader")
def lineage(
    store: Store, ref: str, direction: Direction = "both", depth: int | None = None
) -> LineageNode:
    """The lineage tree of the object ``ref`` names, ``depth`` edges deep (None: all).

    ``ref`` is a run id or unique prefix (a pipeline run or a step's run shows as such),
    ``NAME@V`` or ``dataset:NAME@V`` (``NAME`` alone: the latest version), a blob hash or
    ``artifact:HASH`` (a unique prefix of 8+ characters), ``step:PIPELINE_RUN/STEP`` or
    ``run:ID``. Upstream answers "which dataset versions, commit and params produced
    this"; downstream "which runs, steps and artifacts came from this".
    """
    if direction not in ("both", "up", "down"):
        raise InvalidInput(f"direction must be both, up or down, not {direction!r}")
    if depth is not None and depth < 0:
        raise InvalidInput(f"depth must be 0 or more, not {depth}")
    key = _resolve(store, ref)
    with store.read() as connection:
        walker = _Walker(connection)
        root = walker.node(key)
        for way in ("up", "down"):
            if direction in ("both", way):
                walker.expand(root, key, way, depth)
    return root


# --- what the user named -------------------------------------------------------------------


def _resolve(store: Store, ref: str) -> Key:
    text = ref.strip() if isinstance(ref, str) else ""
    if not text:
        raise InvalidInput("name the object to trace", hint=_FORMS)
    kind, colon, rest = text.partition(":")
    if kind in ("model", "models") and colon:
        return _model_key(store, rest.lstrip("/"))
    if kind == "retrain" and colon:
        return _retrain_key(store, rest)
    if colon:
        by_kind = {"dataset": _dataset_key, "step": _step_key, "artifact": _artifact_key}
        if kind == "run":
            return _run_key(store, rest)
        if kind not in by_kind:
            raise InvalidInput(f"unknown object kind '{kind}' in '{text}'", hint=_FORMS)
        return by_kind[kind](store, rest)
    if "@" in text:
        return _dataset_key(store, text)
    hexed = bool(_HEX.match(text.lower()))
    found = _hex_candidates(store, text.lower()) if hexed else []
    if not found:
        try:
            return _dataset_key(store, text)
        except (NotFound, InvalidInput):
            pass
    short = " (artifact prefixes need 8+ characters)" if hexed and len(text) < 8 else ""
    missing = NotFound(f"nothing named '{text}': no run, artifact or dataset{short}", hint=_FORMS)
    return _only(found, text, missing)


def _hex_candidates(store: Store, text: str) -> list[Key]:
    """Runs whose id starts with ``text`` (an exact id wins), then blobs (8+ characters)."""
    with store.read() as connection:
        ids: list[str] = []
        if 4 <= len(text) <= 32:
            query = select(runs.c.id).where(runs.c.id.startswith(text)).order_by(runs.c.id).limit(6)
            ids = list(connection.execute(query).scalars())
            if text in ids:
                return _run_keys(connection, [text])
        query = (
            select(blobs.c.hash)
            .where(blobs.c.hash.startswith(text))
            .order_by(blobs.c.hash)
            .limit(6)
        )
        hashes = list(connection.execute(query).scalars()) if len(text) >= 8 else []
        return [*_run_keys(connection, ids), *(("artifact", digest) for digest in hashes)]


def _only(found: list[Key], text: str, missing: NotFound) -> Key:
    if not found:
        raise missing
    if len(found) > 1:
        listed = ", ".join(f"{'artifact' if k[0] == 'artifact' else 'run'} {k[-1]}" for k in found)
        raise InvalidInput(
            f"'{text}' matches several objects: {listed}",
            hint="give more characters, or say which with run:ID or artifact:HASH",
        )
    return found[0]


def _dataset_key(store: Store, ref: str) -> Key:
    from ..data.versioning import get_version

    version = get_version(store, ref)
    return ("dataset_version", version.dataset, version.version)


def _step_key(store: Store, ref: str) -> Key:
    from ..pipelines.records import get_pipeline_run

    run_ref, slash, name = ref.partition("/")
    if not slash or not run_ref or not name:
        raise InvalidInput(f"'step:{ref}' is not step:RUN/STEP", hint="e.g. step:9c1d0e2f/train")
    run = get_pipeline_run(store, run_ref)
    if name not in {step.name for step in run.steps}:
        raise NotFound(
            f"pipeline run {run.id[:8]} has no step '{name}'",
            hint=f"its steps: {', '.join(step.name for step in run.steps) or 'none'}",
        )
    return ("step_run", run.id, name)


def _artifact_key(store: Store, text: str) -> Key:
    text = text.strip().lower()
    if not 8 <= len(text) <= 64 or not _HEX.match(text):
        raise InvalidInput(
            f"'artifact:{text}' needs a blob hash: 8 to 64 hex characters",
            hint="e.g. artifact:3f2a91c0; a run's files: loopml runs show RUN",
        )
    found = [key for key in _hex_candidates(store, text) if key[0] == "artifact"]
    hint = "a run's files: loopml runs show RUN; a step's outputs: loopml pipeline show RUN"
    return _only(found, text, NotFound(f"no artifact with hash '{text}'", hint=hint))


def _model_key(store: Store, ref: str) -> Key:
    from ..registry import get_version

    version = get_version(store, ref)
    return ("model_version", version.name, version.version)


def _retrain_key(store: Store, ref: str) -> Key:
    from ..monitoring.loop import get_retrain

    if not ref.strip().isdigit():
        raise InvalidInput(f"'retrain:{ref}' is not retrain:NUMBER", hint="e.g. retrain:3")
    return ("retrain", get_retrain(store, int(ref)).id)


def _run_key(store: Store, ref: str) -> Key:
    from ..tracking.runs import resolve_run_id

    with store.read() as connection:
        return _run_keys(connection, [resolve_run_id(connection, ref)])[0]


def _run_keys(connection: Connection, run_ids: list[str]) -> list[Key]:
    """Each run as what it is: a pipeline run, a step's execution, or a plain run."""
    if not run_ids:
        return []
    query = select(_PR.run_id).where(_PR.run_id.in_(run_ids))
    piped = set(connection.execute(query).scalars())
    query = select(_SR.run_id, _SR.pipeline_run_id, _SR.name).where(_SR.run_id.in_(run_ids))
    rows = connection.execute(query).all()
    stepped = {row.run_id: ("step_run", row.pipeline_run_id, row.name) for row in rows}
    return [("pipeline_run", i) if i in piped else stepped.get(i, ("run", i)) for i in run_ids]


# --- walking the graph ---------------------------------------------------------------------


class _Walker:
    def __init__(self, connection: Connection) -> None:
        self.c = connection
        self.loaded: dict[Key, tuple[str, str, dict[str, Any]]] = {}

    def node(self, key: Key, relation: str | None = None) -> LineageNode:
        if key not in self.loaded:
            self.loaded[key] = getattr(self, f"_load_{key[0]}")(key)
        node_id, label, facts = self.loaded[key]
        return LineageNode(key[0], node_id, label, dict(facts), relation)

    def expand(self, root: LineageNode, key: Key, way: str, depth: int | None) -> None:
        """Breadth first, so each node is expanded at its shallowest place. An artifact met
        through a step is seen as part of that step's pipeline run: its producers and
        consumers there, so the same blob is walked again for another run that used it."""
        visited: set[tuple[Key, str | None]] = {(key, None)}
        shown_context: set[Key] = set()
        queue: deque[tuple[LineageNode, Key, Key | None, int]] = deque([(root, key, None, 0)])
        while queue:
            node, at, via, level = queue.popleft()
            edges = _unique(getattr(self, f"_{way}_{at[0]}")(at, via))
            if depth is not None and level >= depth:
                node.more += sum(1 for _, _, context in edges if not context)
                continue
            if len(edges) > MAX_CHILDREN:
                node.more += len(edges) - MAX_CHILDREN
                edges = edges[:MAX_CHILDREN]
            children = node.upstream if way == "up" else node.downstream
            for relation, other, context in edges:
                if context:  # a step's pipeline run: its facts once, not its whole lineage
                    if (other, None) not in visited and other not in shown_context:
                        shown_context.add(other)
                        children.append(self.node(other, relation))
                    continue
                child = self.node(other, relation)
                children.append(child)
                scope = at[1] if other[0] == "artifact" and at[0] == "step_run" else None
                if (other, scope) in visited:
                    child.repeated = True
                else:
                    visited.add((other, scope))
                    queue.append((child, other, at, level + 1))

    def _all(self, query: Any) -> list[Any]:
        return list(self.c.execute(query).all())

    def _scalars(self, query: Any) -> list[Any]:
        return list(self.c.execute(query).scalars())

    # -- upstream: what each kind came from -------------------------------------------------

    def _up_artifact(self, key: Key, via: Key | None) -> list[Edge]:
        """The step runs that wrote it (reached from a step: the ones in its pipeline run,
        where its inputs come from; of those the executions, not the cache records, unless
        there are none: the "reused from" edge leads on), and the runs that logged it."""
        rows = self._all(
            select(_SA.pipeline_run_id, _SA.step, _SA.name, _SR.run_id)
            .join(step_runs, (_SR.pipeline_run_id == _SA.pipeline_run_id) & (_SR.name == _SA.step))
            .where(_SA.blob == key[1], _SA.role == "out")
            .order_by(_SR.started_at, _SR.name)
        )
        if via is not None and via[0] == "step_run":
            rows = [row for row in rows if row.pipeline_run_id == via[1]] or rows
        rows = [row for row in rows if row.run_id is not None] or rows
        edges = [
            (f"output {row.name} of", ("step_run", row.pipeline_run_id, row.step), False)
            for row in rows
        ]
        logged = self._all(
            select(_RA.run_id, _RA.path).where(_RA.blob == key[1]).order_by(_RA.created_at)
        )
        writers = _run_keys(self.c, [row.run_id for row in logged])
        edges += [
            (f"logged as {r.path} by", k, False) for r, k in zip(logged, writers, strict=True)
        ]
        return edges

    def _up_step_run(self, key: Key, via: Key | None) -> list[Edge]:
        """Its input artifacts, the dataset versions it read, the execution it reused."""
        row = self._step(key)
        inputs = self._all(
            select(_SA.name, _SA.blob).where(*_step_is(key), _SA.role == "in").order_by(_SA.name)
        )
        edges = [(f"input {name}", ("artifact", blob), False) for name, blob in inputs]
        edges += [("read", dataset, False) for dataset in self._read_by(row)]
        if row.reused_from:
            source = self.c.execute(
                select(_SR.name)
                .where(_SR.pipeline_run_id == row.reused_from, _SR.cache_key == row.cache_key)
                .limit(1)
            ).scalar()
            edges.append(("reused from", ("step_run", row.reused_from, source or key[2]), False))
        return [*edges, ("in", ("pipeline_run", key[1]), True)]

    def _up_pipeline_run(self, key: Key, via: Key | None) -> list[Edge]:
        """The dataset versions its steps read; the runs it resumed, reproduced or reused."""
        steps = self._all(select(step_runs).where(_SR.pipeline_run_id == key[1]))
        readers: dict[Key, list[str]] = {d: [] for d in self._read_by_runs([key[1]])}
        for step in steps:
            for dataset in self._read_by(step):
                readers.setdefault(dataset, []).append(step.name)
        edges = [
            (f"step {', '.join(names)} read" if names else "read", dataset, False)
            for dataset, names in sorted(readers.items())
        ]
        row = self.c.execute(select(pipeline_runs).where(_PR.run_id == key[1])).one()
        earlier = [("resumed from", row.resumed_from), ("reproduced from", row.reproduced_from)]
        earlier += [("reused outputs of", step.reused_from) for step in steps]
        edges += [(r, ("pipeline_run", o), False) for r, o in earlier if o and o != key[1]]
        started = select(monitor_retrains.c.id).where(monitor_retrains.c.pipeline_run == key[1])
        edges += [("started by", ("retrain", i), False) for i in self._scalars(started)]
        return edges

    def _up_retrain(self, key: Key, via: Key | None) -> list[Edge]:
        """The model version whose monitor report raised the alerts that triggered it."""
        trigger = self.c.execute(
            select(monitor_retrains.c.trigger).where(monitor_retrains.c.id == key[1])
        ).scalar()
        alert_ids = [int(number) for number in re.findall(r"#(\d+)", trigger or "")]
        if not alert_ids:
            return []
        rows = self.c.execute(
            select(monitor_alerts.c.rule, monitor_reports.c.id, monitor_reports.c.model)
            .join(monitor_reports, monitor_reports.c.id == monitor_alerts.c.report_id)
            .where(monitor_alerts.c.id.in_(alert_ids))
        ).all()
        edges: dict[Key, list[str]] = {}
        for rule, report, model in rows:
            name, _, number = model.partition("/")
            edges.setdefault(("model_version", name, int(number)), []).append(
                f"{rule} (report #{report})"
            )
        return [(f"alerted on: {', '.join(why)}", found, False) for found, why in edges.items()]

    def _down_retrain(self, key: Key, via: Key | None) -> list[Edge]:
        """The pipeline run it started and the candidate that run registered."""
        row = self.c.execute(select(monitor_retrains).where(monitor_retrains.c.id == key[1])).one()
        edges: list[Edge] = []
        if row.pipeline_run:
            edges.append(("ran", ("pipeline_run", row.pipeline_run), False))
        if row.candidate:
            name, _, number = row.candidate.partition("/")
            edges.append((f"candidate ({row.status})", ("model_version", name, int(number)), False))
        return edges

    def _up_run(self, key: Key, via: Key | None) -> list[Edge]:
        return [("read", dataset, False) for dataset in self._read_by_runs([key[1]])]

    def _up_dataset_version(self, key: Key, via: Key | None) -> list[Edge]:
        row = self._version(key)
        if row is None or row.parent_version is None:
            return []
        return [("parent version", ("dataset_version", key[1], row.parent_version), False)]

    def _up_model_version(self, key: Key, via: Key | None) -> list[Edge]:
        """The run (or pipeline step) whose logged model was registered as this version."""
        run_id = self.c.execute(
            select(_MV.run_id).where(_MV.name == key[1], _MV.version == key[2])
        ).scalar()
        return [
            ("registered from", k, False) for k in _run_keys(self.c, [run_id] if run_id else [])
        ]

    # -- downstream: what came from each kind -------------------------------------------

    def _down_artifact(self, key: Key, via: Key | None) -> list[Edge]:
        """The step runs that took it; reached from a step, only those in its pipeline run
        (a step's inputs always come from its own run; later runs are "reused by" edges)."""
        rows = self._all(
            select(_SA.pipeline_run_id, _SA.step, _SA.name)
            .join(pipeline_runs, _PR.run_id == _SA.pipeline_run_id)
            .where(_SA.blob == key[1], _SA.role == "in")
            .order_by(_PR.created_at, _SA.step)
        )
        if via is not None and via[0] == "step_run":
            rows = [row for row in rows if row.pipeline_run_id == via[1]]
        return [(f"input {name} of", ("step_run", prid, step), False) for prid, step, name in rows]

    def _down_step_run(self, key: Key, via: Key | None) -> list[Edge]:
        """Its outputs, the files its run logged, and the later steps that reused it."""
        row = self._step(key)
        outputs = self._all(select(_SA.name, _SA.blob).where(*_step_is(key), _SA.role == "out"))
        outputs.sort(key=lambda output: (len(output.name), output.name))
        edges = [(f"output {name}", ("artifact", blob), False) for name, blob in outputs]
        edges += [*self._logged(row.run_id), *self._registered([row.run_id])] if row.run_id else []
        if row.run_id and row.cache_key:
            reusers = self._all(
                select(_SR.pipeline_run_id, _SR.name)
                .where(_SR.reused_from == key[1], _SR.cache_key == row.cache_key)
                .order_by(_SR.started_at)
            )
            edges += [("reused by", ("step_run", prid, name), False) for prid, name in reusers]
        return [*edges, ("in", ("pipeline_run", key[1]), True)]

    def _down_pipeline_run(self, key: Key, via: Key | None) -> list[Edge]:
        """Its steps, the files it logged, and the runs that resumed or reproduced it."""
        steps = select(_SR.name).where(_SR.pipeline_run_id == key[1])
        names = self._scalars(steps.order_by(_SR.started_at, _SR.name))
        edges = [("ran", ("step_run", key[1], name), False) for name in names]
        edges += self._logged(key[1])
        for relation, column in (
            ("resumed", _PR.resumed_from),
            ("reproduced", _PR.reproduced_from),
        ):
            later = self._scalars(
                select(_PR.run_id).where(column == key[1]).order_by(_PR.created_at)
            )
            edges += [(f"{relation} by", ("pipeline_run", i), False) for i in later]
        return edges

    def _down_run(self, key: Key, via: Key | None) -> list[Edge]:
        return [*self._logged(key[1]), *self._registered([key[1]])]

    def _down_model_version(self, key: Key, via: Key | None) -> list[Edge]:
        return []

    def _down_dataset_version(self, key: Key, via: Key | None) -> list[Edge]:
        """The runs and steps that read it (a cached step has no run: its cache key keeps
        the versions its execution read) and the versions added after it."""
        version = self._version(key)
        if version is None:
            return []
        read = select(_RI.run_id).where(_RI.dataset_id == version.dataset_id, _RI.version == key[2])
        readers = _run_keys(self.c, self._scalars(read.order_by(_RI.created_at)))
        pinned = f"{key[1]}@{key[2]}"
        mentions = _SR.key_parts.contains(json.dumps(pinned), autoescape=True)
        cached = self._all(
            select(_SR.pipeline_run_id, _SR.name, _SR.key_parts)
            .where(_SR.run_id.is_(None), mentions)
            .order_by(_SR.started_at)
        )
        readers += [
            ("step_run", row.pipeline_run_id, row.name)
            for row in cached
            if pinned in _datasets_in(row.key_parts)
        ]
        edges = [("read by", reader, False) for reader in readers]
        later = select(_DV.version).where(_DV.dataset_id == version.dataset_id)
        for number in self._scalars(
            later.where(_DV.parent_version == key[2]).order_by(_DV.version)
        ):
            edges.append(("child version", ("dataset_version", key[1], number), False))
        return edges

    # -- shared queries -------------------------------------------------------------------

    def _read_by(self, step: Any) -> list[Key]:
        """Dataset versions a step read: recorded on its run, or kept in its cache key."""
        found = self._read_by_runs([step.run_id] if step.run_id else [])
        for pinned in _datasets_in(step.key_parts):
            name, _, number = pinned.rpartition("@")
            if name and number.isdigit():
                found.append(("dataset_version", name, int(number)))
        return list(dict.fromkeys(found))

    def _read_by_runs(self, run_ids: list[str]) -> list[Key]:
        rows = self._all(
            select(datasets.c.name, _RI.version)
            .join(datasets, datasets.c.id == _RI.dataset_id)
            .where(_RI.run_id.in_(run_ids))
            .order_by(datasets.c.name, _RI.version)
        )
        return [("dataset_version", name, number) for name, number in rows]

    def _registered(self, run_ids: list[str]) -> list[Edge]:
        rows = self._all(
            select(_MV.name, _MV.version).where(_MV.run_id.in_(run_ids)).order_by(_MV.created_at)
        )
        return [("registered as", ("model_version", n, v), False) for n, v in rows]

    def _logged(self, run_id: str) -> list[Edge]:
        query = select(_RA.path, _RA.blob).where(_RA.run_id == run_id)
        rows = self._all(query.order_by(_RA.path))
        return [(f"logged {path}", ("artifact", blob), False) for path, blob in rows]

    def _step(self, key: Key) -> Any:
        return self.c.execute(
            select(step_runs).where(_SR.pipeline_run_id == key[1], _SR.name == key[2])
        ).one()

    def _version(self, key: Key) -> Any:
        return self.c.execute(
            select(dataset_versions)
            .join(datasets, datasets.c.id == _DV.dataset_id)
            .where(datasets.c.name == key[1], _DV.version == key[2])
        ).first()

    # -- node facts: (id, label, facts) ---------------------------------------------------

    def _load_artifact(self, key: Key) -> tuple[str, str, dict[str, Any]]:
        size = self.c.execute(select(blobs.c.size).where(blobs.c.hash == key[1])).scalar()
        facts: dict[str, Any] = {"hash": key[1], "size": size}
        written = (_SA.pipeline_run_id == _SR.pipeline_run_id) & (_SA.step == _SR.name)
        query = select(_SR.outputs).join(step_artifacts, written)
        outputs = self.c.execute(query.where(_SA.blob == key[1], _SA.role == "out").limit(1))
        for output in json.loads(outputs.scalar() or "[]"):  # what the step's materializer said
            if output.get("hash") == key[1]:
                facts.update(type=output.get("type"), materializer=output.get("materializer"))
                break
        return f"artifact:{key[1]}", f"artifact {key[1][:12]}", facts

    def _load_dataset_version(self, key: Key) -> tuple[str, str, dict[str, Any]]:
        row = self._version(key)
        facts: dict[str, Any] = {"dataset": key[1], "version": key[2], "missing": row is None}
        if row is not None:
            facts.update(content_hash=row.content_hash, rows=row.row_count, message=row.message)
        return f"dataset:{key[1]}@{key[2]}", f"dataset {key[1]}@{key[2]}", facts

    def _load_step_run(self, key: Key) -> tuple[str, str, dict[str, Any]]:
        row = self.c.execute(
            select(_SR.step, _SR.status, _SR.run_id, _SR.reused_from, _SR.key_parts, _PR.pipeline)
            .add_columns(runs.c.git_commit.label("commit"), runs.c.git_dirty.label("dirty"))
            .join(pipeline_runs, _PR.run_id == _SR.pipeline_run_id)
            .join(runs, runs.c.id == _SR.pipeline_run_id)  # a step runs its pipeline's code
            .where(_SR.pipeline_run_id == key[1], _SR.name == key[2])
        ).one()
        facts = {**row._asdict(), "pipeline_run": key[1]}
        facts["params"] = json.loads(facts.pop("key_parts") or "{}").get("params", {})
        return f"step:{key[1]}/{key[2]}", f"step {key[2]} of {row.pipeline} {key[1][:8]}", facts

    def _load_run(self, key: Key) -> tuple[str, str, dict[str, Any]]:
        row = self.c.execute(
            select(runs.c.name, runs.c.status, experiments.c.name.label("experiment"))
            .add_columns(runs.c.git_commit.label("commit"), runs.c.git_dirty.label("dirty"))
            .join(experiments, experiments.c.id == runs.c.experiment_id)
            .where(runs.c.id == key[1])
        ).one()
        values = select(params.c.key, params.c.value).where(params.c.run_id == key[1])
        facts = {**row._asdict(), "params": dict(self._all(values))}
        return key[1], f"run {row.name} {key[1][:8]}", facts

    def _load_model_version(self, key: Key) -> tuple[str, str, dict[str, Any]]:
        row = self.c.execute(
            select(_MV.flavor, _MV.status, _MV.user, _MV.created_at, _MV.manifest_blob).where(
                _MV.name == key[1], _MV.version == key[2]
            )
        ).one()
        aliases = select(model_aliases.c.alias).where(
            model_aliases.c.name == key[1], model_aliases.c.version == key[2]
        )
        facts = {**row._asdict(), "aliases": sorted(self._scalars(aliases))}
        return f"models:/{key[1]}/{key[2]}", f"model {key[1]}/{key[2]}", facts

    def _load_retrain(self, key: Key) -> tuple[str, str, dict[str, Any]]:
        row = self.c.execute(select(monitor_retrains).where(monitor_retrains.c.id == key[1])).one()
        facts = {k: v for k, v in row._asdict().items() if k != "id"}
        label = f"retrain #{key[1]} of {row.deployment}"
        return f"retrain:{key[1]}", label, facts

    def _load_pipeline_run(self, key: Key) -> tuple[str, str, dict[str, Any]]:
        _, _, facts = self._load_run(key)
        row = self.c.execute(
            select(_PR.pipeline, _PR.file, _PR.params, _PR.resumed_from, _PR.reproduced_from).where(
                _PR.run_id == key[1]
            )
        ).one()
        facts.update(row._asdict(), params=json.loads(row.params))  # the overrides given
        return key[1], f"pipeline {row.pipeline} {key[1][:8]}", facts


def _step_is(key: Key) -> tuple[Any, Any]:
    return _SA.pipeline_run_id == key[1], _SA.step == key[2]


def _datasets_in(key_parts: str | None) -> list[str]:
    return [str(v) for v in json.loads(key_parts or "{}").get("datasets", {}).values()]


def _unique(edges: list[Edge]) -> list[Edge]:
    """The first edge to each node: a node reached twice from one node is listed once."""
    kept: dict[Key, Edge] = {}
    for edge in edges:
        kept.setdefault(edge[1], edge)
    return list(kept.values())


__all__ = ["MAX_CHILDREN", "Direction", "LineageNode", "lineage"]
