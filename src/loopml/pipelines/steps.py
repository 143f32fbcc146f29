"""``@loopml.step``: a function whose calls inside a pipeline become nodes of its DAG.

Inside a ``@loopml.pipeline`` function a step call does not run the step: it records a
node and returns a :class:`StepOutput` placeholder. Passing a placeholder to another step
is what makes an edge, so the DAG is exactly the data flow. Outside a pipeline a step is
the plain function it decorates.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import typing
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, ParamSpec, TypeVar, overload

from ..errors import InvalidInput

P = ParamSpec("P")
R = TypeVar("R")


class Step(Generic[P, R]):
    """A pipeline step: the function plus how it is run (retries, timeout, caching)."""

    def __init__(
        self,
        func: Callable[P, R],
        *,
        name: str | None = None,
        retries: int = 0,
        retry_delay: float = 1.0,
        backoff: float = 2.0,
        timeout: float | None = None,
        cache: bool = True,
    ) -> None:
        if retries < 0 or retry_delay < 0 or backoff < 1:
            raise InvalidInput(
                f"step '{func.__name__}': retries and retry_delay must be >= 0, backoff >= 1",
                hint="for example @loopml.step(retries=3, retry_delay=1, backoff=2)",
            )
        if timeout is not None and timeout <= 0:
            raise InvalidInput(f"step '{func.__name__}': timeout must be > 0 seconds")
        self.func = func
        self.name = name or func.__name__
        self.retries = retries
        self.retry_delay = retry_delay
        self.backoff = backoff
        self.timeout = timeout
        self.cache = cache
        self.signature = inspect.signature(func)
        self.n_outputs = _count_outputs(func)
        functools.update_wrapper(self, func)

    def __repr__(self) -> str:
        return f"Step({self.name!r})"

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        builder = _building.get()
        if builder is None:
            return self.func(*args, **kwargs)
        return builder.add(self, args, kwargs)  # type: ignore[return-value]

    def map(
        self, items: Sequence[Any] | StepOutput, *, max_parallel: int | None = None, **kwargs: Any
    ) -> StepOutput:
        """Run the step once per item (as its first free argument), at most ``max_parallel``
        at a time; the result is the list of the items' results, in order."""
        builder = _building.get()
        if builder is None:
            raise InvalidInput(
                f"{self.name}.map() only works inside a @loopml.pipeline function",
                hint=f"call [{self.name}(item) for item in items] outside a pipeline",
            )
        if max_parallel is not None and max_parallel < 1:
            raise InvalidInput(f"{self.name}.map(max_parallel={max_parallel}) must be >= 1")
        return builder.add(self, (), kwargs, map_over=items, max_parallel=max_parallel)


@overload
def step(func: Callable[P, R], /) -> Step[P, R]: ...
@overload
def step(
    *,
    name: str | None = None,
    retries: int = 0,
    retry_delay: float = 1.0,
    backoff: float = 2.0,
    timeout: float | None = None,
    cache: bool = True,
) -> Callable[[Callable[P, R]], Step[P, R]]: ...
def step(func: Callable[P, R] | None = None, /, **options: Any) -> Any:
    """Make ``func`` a pipeline step.

    >>> @loopml.step(retries=2, timeout=600)  # doctest: +SKIP
    ... def train(features: pd.DataFrame, max_depth: int = 5) -> Model: ...
    """
    if func is not None:
        return Step(func, **options)  # step(f, retries=2) keeps its options
    return lambda f: Step(f, **options)


@dataclass(frozen=True)
class OutputRef:
    node: str
    index: int | None  # None: the node's whole result (a single output or a tuple)


class StepOutput:
    """What a step call returns while a pipeline is being built: a promise of its result."""

    def __init__(self, ref: OutputRef, n_outputs: int, owner: GraphBuilder | None = None) -> None:
        self._ref = ref
        self._n_outputs = n_outputs
        self._owner = owner  # the pipeline build that made it

    def __repr__(self) -> str:
        index = "" if self._ref.index is None else f"[{self._ref.index}]"
        return f"<output of step {self._ref.node}{index}>"

    def __iter__(self) -> Iterator[StepOutput]:
        if self._n_outputs < 2 or self._ref.index is not None:
            raise InvalidInput(
                f"step '{self._ref.node}' has one output; it cannot be unpacked",
                hint="annotate it with -> tuple[A, B] to return several outputs",
            )
        return (
            StepOutput(OutputRef(self._ref.node, i), 1, self._owner) for i in range(self._n_outputs)
        )

    def __getitem__(self, index: int) -> StepOutput:
        if self._n_outputs < 2 or not 0 <= index < self._n_outputs:
            raise InvalidInput(f"step '{self._ref.node}' has no output [{index}]")
        return StepOutput(OutputRef(self._ref.node, index), 1, self._owner)

    def __bool__(self) -> bool:
        raise InvalidInput(
            f"the output of step '{self._ref.node}' is only known when the pipeline runs",
            hint="pass it to another step instead of testing it in the pipeline function",
        )


@dataclass
class Node:
    name: str
    step: Step[..., Any]
    inputs: dict[str, OutputRef]
    params: dict[str, Any]
    map_arg: str | None = None
    map_items: OutputRef | list[Any] | None = None
    max_parallel: int | None = None
    upstream: list[str] = field(default_factory=list)


class GraphBuilder:
    """Collects the nodes while a pipeline function runs."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}

    def add(
        self,
        step: Step[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        map_over: Any = None,
        max_parallel: int | None = None,
    ) -> StepOutput:
        name = self._unique_name(step.name)
        mapped = map_over is not None
        try:
            bound = step.signature.bind_partial(*args, **kwargs)
        except TypeError as exc:
            raise InvalidInput(f"step '{name}': {exc}") from None
        map_arg = None
        if mapped:
            free = [p for p in step.signature.parameters if p not in bound.arguments]
            if not free:
                raise InvalidInput(f"step '{name}': .map() needs a free argument for the item")
            map_arg = free[0]
        inputs: dict[str, OutputRef] = {}
        params: dict[str, Any] = {}
        for parameter in step.signature.parameters.values():
            if parameter.name == map_arg:
                continue
            if parameter.name in bound.arguments:
                value = bound.arguments[parameter.name]
                if isinstance(value, StepOutput):
                    inputs[parameter.name] = self._known(value, name, parameter.name)
                else:
                    params[parameter.name] = _json_param(value, name, parameter.name)
            elif parameter.default is not inspect.Parameter.empty:
                params[parameter.name] = _json_param(parameter.default, name, parameter.name)
            elif parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                raise InvalidInput(
                    f"step '{name}' needs argument '{parameter.name}'",
                    hint="pass it the output of another step or a value in the pipeline",
                )
        items: OutputRef | list[Any] | None = None
        if mapped:
            if isinstance(map_over, StepOutput):
                items = self._known(map_over, name, "items")
            else:
                items = [_json_param(item, name, "items") for item in map_over]
        upstream = sorted({ref.node for ref in inputs.values()})
        if isinstance(items, OutputRef) and items.node not in upstream:
            upstream.append(items.node)
        self.nodes[name] = Node(name, step, inputs, params, map_arg, items, max_parallel, upstream)
        return StepOutput(OutputRef(name, None), 1 if mapped else step.n_outputs, self)

    def _known(self, output: StepOutput, node: str, argument: str) -> OutputRef:
        ref = output._ref
        if output._owner is not self or ref.node not in self.nodes:  # same name, other DAG
            raise InvalidInput(
                f"step '{node}' input '{argument}' comes from '{ref.node}', which is not a "
                "step of this pipeline",
                hint="pass outputs of steps called in the same pipeline function",
            )
        return ref

    def _unique_name(self, base: str) -> str:
        if base not in self.nodes:
            return base
        n = 2
        while f"{base}_{n}" in self.nodes:
            n += 1
        return f"{base}_{n}"


def building(builder: GraphBuilder) -> contextvars.Token[GraphBuilder | None]:
    return _building.set(builder)


def done_building(token: contextvars.Token[GraphBuilder | None]) -> None:
    _building.reset(token)


def _json_param(value: Any, node: str, argument: str) -> Any:
    import json

    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"step '{node}' argument '{argument}' is a {type(value).__name__}; literal "
            "arguments must be JSON values (numbers, strings, lists, dicts)",
            hint="compute data in a step and pass its output instead",
        ) from None
    return value


def _count_outputs(func: Callable[..., Any]) -> int:
    try:
        hints = typing.get_type_hints(func)
    except Exception:  # unresolvable annotations: one output
        return 1
    annotation = hints.get("return")
    if typing.get_origin(annotation) is tuple:
        args = typing.get_args(annotation)
        if args and args[-1] is not Ellipsis:
            return len(args)
    return 1


_building: contextvars.ContextVar[GraphBuilder | None] = contextvars.ContextVar(
    "loopml_pipeline_builder", default=None
)
