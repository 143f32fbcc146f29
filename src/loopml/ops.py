"""Operations: the service functions the team server exposes, declared once where they live.

A service function becomes an operation with a decorator::

    @operation("runs.get", role="reader")
    def get_run(store: Store, run_id: str) -> Run: ...

Called with a local :class:`~loopml.store.Store` it runs as it always did. Called with a
remote store (``LOOPML_SERVER`` is set) the same call is sent to the server, which runs
the same function on its own store and sends the result back: no operation is written
twice, and the server's routes, its OpenAPI document and its role checks are all derived
from this table (see :mod:`loopml.server`).
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, ParamSpec, TypeVar

Role = Literal["reader", "writer", "admin"]
ROLES: tuple[Role, ...] = ("reader", "writer", "admin")

#: The modules that declare operations; the server imports them all before it starts.
OPERATION_MODULES = (
    "loopml.tracking.experiments",
    "loopml.tracking.runs",
    "loopml.tracking.metrics",
    "loopml.tracking.artifacts",
    "loopml.tracking.search",
    "loopml.data.versioning",
    "loopml.data.checking",
    "loopml.data.content",
    "loopml.data.remotes",
    "loopml.pipelines.records",
    "loopml.pipelines.unchanged",
    "loopml.pipelines.schedules",
    "loopml.registry.versions",
    "loopml.registry.aliases",
    "loopml.registry.promotion",
    "loopml.registry.cache",
    "loopml.registry.evaluations",
    "loopml.serving.deployments",
    "loopml.serving.predictions",
    "loopml.serving.predlog",
    "loopml.serving.feedback",
    "loopml.monitoring.records",
    "loopml.monitoring.policy",
    "loopml.monitoring.alerts",
    "loopml.monitoring.reference",
    "loopml.monitoring.loop",
    "loopml.governance.audit",
    "loopml.governance.lineage",
    "loopml.server.tokens",
)

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Operation:
    """One service function as the server sees it: its name, its role, its signature."""

    name: str
    func: Callable[..., Any]
    role: Role
    signature: inspect.Signature = field(repr=False)

    @property
    def summary(self) -> str:
        doc = inspect.getdoc(self.func) or self.name
        return doc.splitlines()[0]

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Name every argument of a call (the store excluded), as the server receives them."""
        bound = self.signature.bind(None, *args, **kwargs)
        arguments = dict(bound.arguments)
        arguments.pop(next(iter(self.signature.parameters)))
        return arguments


OPERATIONS: dict[str, Operation] = {}


def operation(name: str, *, role: Role) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Declare a service function (first parameter: the store) as operation ``name``."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, not {role!r}")

    def declare(func: Callable[P, R]) -> Callable[P, R]:
        if name in OPERATIONS:
            raise RuntimeError(f"operation {name!r} is declared twice")
        op = Operation(name, func, role, inspect.signature(func))
        OPERATIONS[name] = op

        @functools.wraps(func)
        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            remote = getattr(args[0], "call_operation", None) if args else None
            if remote is not None:
                return remote(op, args[1:], kwargs)
            return func(*args, **kwargs)

        call.operation = op  # type: ignore[attr-defined]
        return call

    return declare


def load_operations() -> dict[str, Operation]:
    """Import every module that declares operations and return the whole table."""
    for module in OPERATION_MODULES:
        importlib.import_module(module)
    return OPERATIONS
