"""``@loopml.pipeline``: the function whose step calls define the DAG, and its params.

Params have two levels: the pipeline function's own arguments (``-p data=customers``)
and each step's arguments that the pipeline does not wire (``-p train.max_depth=6``).
Values given as text (the CLI) are parsed as YAML and checked against the annotation.
"""

from __future__ import annotations

import contextlib
import difflib
import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, LoopmlError
from .steps import GraphBuilder, Node, OutputRef, building, done_building


@dataclass(frozen=True)
class Graph:
    """One compiled pipeline: nodes in a valid execution order and the params used."""

    pipeline: str
    nodes: dict[str, Node]
    order: list[str]
    params: dict[str, Any]  # pipeline-level params, after defaults and overrides

    def downstream(self, name: str) -> list[str]:
        return [n for n in self.order if name in self.nodes[n].upstream]


class Pipeline:
    """A pipeline function; call :meth:`compile` for its DAG or :meth:`run` to execute it."""

    def __init__(self, func: Callable[..., Any], *, name: str | None = None) -> None:
        self.func = func
        self.name = name or func.__name__
        self.signature = inspect.signature(func)
        self.source_file = Path(inspect.getfile(func)).resolve()

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r})"

    def compile(self, overrides: Mapping[str, Any] | None = None) -> Graph:
        """Build the DAG with ``overrides`` ({"data": ..., "train.max_depth": 6})."""
        overrides = dict(overrides or {})
        own = {k: v for k, v in overrides.items() if "." not in k}
        per_step = {k: v for k, v in overrides.items() if "." in k}
        pipeline_params = self._pipeline_params(own)
        builder = GraphBuilder()
        token = building(builder)
        try:
            self.func(**pipeline_params)
        except LoopmlError:
            raise
        except Exception as exc:  # the user's pipeline function, not our machinery
            from .loading import user_frames

            raise InvalidInput(
                f"building pipeline '{self.name}' failed:\n{user_frames(exc)}",
                hint="step calls return placeholders while the pipeline is built: pass "
                "them to other steps, and compute with the values inside a step",
            ) from None
        finally:
            done_building(token)
        if not builder.nodes:
            raise InvalidInput(f"pipeline '{self.name}' calls no @loopml.step function")
        for key, value in per_step.items():
            node_name, _, param = key.partition(".")
            node = builder.nodes.get(node_name)
            if node is None or param not in node.params:
                raise _unknown_param(key, self._known_params(builder.nodes))
            annotation = _annotation(node.step.func, param)
            node.params[param] = coerce(value, annotation, key)
        order = topological_order(builder.nodes)
        return Graph(self.name, builder.nodes, order, pipeline_params)

    def run(self, params: Mapping[str, Any] | None = None, **options: Any) -> Any:
        """Execute the pipeline (see :func:`loopml.pipelines.run` for the options)."""
        from .runner import run_pipeline

        return run_pipeline(self, params or {}, **options)

    def __call__(self, **params: Any) -> Any:
        return self.run(params)

    def _pipeline_params(self, given: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        names = list(self.signature.parameters)
        for key in given:
            if key not in self.signature.parameters:
                raise self._unknown_pipeline_param(key, names)
        for parameter in self.signature.parameters.values():
            if parameter.name in given:
                annotation = _annotation(self.func, parameter.name)
                values[parameter.name] = coerce(given[parameter.name], annotation, parameter.name)
            elif parameter.default is not inspect.Parameter.empty:
                values[parameter.name] = parameter.default
            else:
                raise InvalidInput(
                    f"pipeline '{self.name}' needs param '{parameter.name}'",
                    hint=f"pass it with -p {parameter.name}=VALUE",
                )
        return values

    def _unknown_pipeline_param(self, key: str, names: list[str]) -> InvalidInput:
        """``key`` is no pipeline param; it may be a step's, given without the step name."""
        try:
            nodes = self.compile().nodes
        except Exception:
            return _unknown_param(key, names)
        owners = [f"{n}.{key}" for n, node in nodes.items() if key in node.params]
        hint = f"did you mean {' or '.join(owners)}?" if owners else None
        return _unknown_param(key, self._known_params(nodes), extra=hint)

    def _known_params(self, nodes: Mapping[str, Node]) -> list[str]:
        names = list(self.signature.parameters)
        for node_name, node in nodes.items():
            names += [f"{node_name}.{param}" for param in node.params]
        return names


def pipeline(func: Callable[..., Any] | None = None, /, *, name: str | None = None) -> Any:
    """Make ``func`` a pipeline: its step calls, wired by their return values, are the DAG.

    >>> @loopml.pipeline  # doctest: +SKIP
    ... def churn(data: str = "customers"):
    ...     frame = ingest(data)
    ...     model = train(preprocess(frame))
    ...     evaluate(model, frame)
    """
    if func is not None:
        return Pipeline(func, name=name)
    return lambda f: Pipeline(f, name=name)


def topological_order(nodes: Mapping[str, Node]) -> list[str]:
    """Nodes ordered so every node comes after its upstream ones; a cycle is an error."""
    for node in nodes.values():
        for upstream in node.upstream:
            if upstream not in nodes:
                raise InvalidInput(
                    f"step '{node.name}' reads from '{upstream}', which is not in the pipeline"
                )
    order: list[str] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = [*path[path.index(name) :], name]
            raise InvalidInput(
                f"the pipeline has a cycle: {' -> '.join(cycle)}",
                hint="a step cannot depend, directly or not, on its own output",
            )
        state[name] = 1
        for upstream in nodes[name].upstream:
            visit(upstream, [*path, name])
        state[name] = 2
        order.append(name)

    for name in nodes:
        visit(name, [])
    return order


def coerce(value: Any, annotation: Any, name: str) -> Any:
    """``value`` (text from the CLI, or a Python value) as ``annotation`` says."""
    if isinstance(value, str) and annotation is not str:
        import yaml

        with contextlib.suppress(yaml.YAMLError):
            value = yaml.safe_load(value) if value.strip() else value
    if annotation in (inspect.Parameter.empty, Any, None):
        return value
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return coerce(value, option, name)
            except InvalidInput:
                continue
        raise _wrong_type(name, annotation, value)
    target = origin or annotation
    if target is bool:
        if isinstance(value, bool):
            return value
        raise _wrong_type(name, annotation, value)
    if target is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _wrong_type(name, annotation, value)
    if target is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as text
            with contextlib.suppress(ValueError):
                return float(value)
        raise _wrong_type(name, annotation, value)
    if target is str:
        return value if isinstance(value, str) else str(value)
    if target in (list, tuple) and isinstance(value, list | tuple):
        return list(value)
    if target is dict and isinstance(value, dict):
        return value
    if isinstance(target, type) and not isinstance(value, target):
        raise _wrong_type(name, annotation, value)
    return value


def _annotation(func: Callable[..., Any], param: str) -> Any:
    try:
        return typing.get_type_hints(func).get(param, inspect.Parameter.empty)
    except Exception:
        return inspect.Parameter.empty


def _wrong_type(name: str, annotation: Any, value: Any) -> InvalidInput:
    shown = getattr(annotation, "__name__", str(annotation))
    return InvalidInput(
        f"param '{name}' expects {shown}, got {value!r}",
        hint=f"for example -p {name}=VALUE with a {shown}",
    )


def _unknown_param(key: str, known: list[str], extra: str | None = None) -> InvalidInput:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.5)
    hint = extra or (f"did you mean '{close[0]}'?" if close else None)
    listed = ", ".join(known) if known else "none"
    return InvalidInput(f"unknown param '{key}'; known params: {listed}", hint=hint)


__all__ = ["Graph", "OutputRef", "Pipeline", "pipeline", "topological_order"]
