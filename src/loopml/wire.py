"""How an operation's arguments and result cross HTTP, for the server and the client alike.

Both sides derive everything from the service function's annotations. The server checks
a request body against a pydantic model of the parameters: a missing or unknown field is
a 400 naming it, and structured arguments (dataclasses, rows) are rebuilt. Plain values
(names, numbers, mappings) are handed to the function as they came, so it refuses a bad
one with the very message a local call gets; the OpenAPI document still gives their
types. The client turns the JSON result back into the dataclasses a local call returns.

Bodies are JSON as Python writes it, so NaN and infinities survive (a metric of NaN is
a fact worth keeping); tables (pandas DataFrames) travel as Arrow IPC.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import inspect
import json
import types
import typing
from pathlib import PurePath
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StrictInt,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    create_model,
)

from .errors import InvalidInput
from .ops import Operation

_FRAME_KEY = "$arrow"
_BYTES_KEY = "$bytes"
_ARRAY_KEY = "$ndarray"
_MAP_KEY = "$map"
_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), default=lambda v: _default(v)
)


def dumps(value: Any) -> bytes:
    """JSON for an argument or a result: dataclasses, numpy values and tables included."""
    return _ENCODER.encode(_portable(value)).encode("utf-8")


def _portable(value: Any) -> Any:
    """``value`` with what JSON would change silently made explicit: a mapping with keys
    that are not strings, a numpy array (a function refusing one names its type)."""
    if isinstance(value, dict):
        if all(isinstance(key, str) for key in value):
            return {key: _portable(item) for key, item in value.items()}
        return {_MAP_KEY: [[_portable(key), _portable(item)] for key, item in value.items()]}
    if isinstance(value, list | tuple) and not hasattr(value, "_fields"):
        return [_portable(item) for item in value]
    if type(value).__name__ == "ndarray" and type(value).__module__ == "numpy":
        return {_ARRAY_KEY: value.tolist(), "dtype": str(value.dtype)}
    return value


def loads(body: bytes) -> Any:
    """The value of a body :func:`dumps` wrote (NaN and infinities included)."""
    return json.loads(body)


def _default(value: Any) -> Any:
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, bytes | bytearray | memoryview):
        return {_BYTES_KEY: base64.b64encode(value).decode("ascii")}
    module = type(value).__module__
    if module.startswith("pandas") and type(value).__name__ == "DataFrame":
        return {_FRAME_KEY: base64.b64encode(_frame_bytes(value)).decode("ascii")}
    if module.startswith("numpy"):
        return value.tolist() if hasattr(value, "tolist") else value.item()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    raise TypeError(f"{type(value).__name__} cannot be sent to the server")


def _frame_bytes(frame: Any) -> bytes:
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def revive(value: Any) -> Any:
    """The Python value behind what :func:`dumps` made explicit (tables, bytes, arrays)."""
    if isinstance(value, list):
        return [revive(item) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        if _BYTES_KEY in value:
            return base64.b64decode(value[_BYTES_KEY])
        if _FRAME_KEY in value:
            import pyarrow as pa

            data = base64.b64decode(value[_FRAME_KEY])
            return pa.ipc.open_stream(data).read_all().to_pandas()
        if _MAP_KEY in value:
            return {_hashable(revive(k)): revive(v) for k, v in value[_MAP_KEY]}
    if _ARRAY_KEY in value and len(value) == 2:
        import numpy as np

        return np.asarray(value[_ARRAY_KEY], dtype=value["dtype"])
    return {key: revive(item) for key, item in value.items()}


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def _frame_only(value: Any) -> Any:
    if isinstance(value, dict) and _FRAME_KEY in value:
        return revive(value)
    if type(value).__name__ == "DataFrame":
        return value
    raise ValueError("not a table")


#: A pandas DataFrame on the wire: ``{"$arrow": "<base64 Arrow IPC stream>"}``.
Frame = Annotated[
    Any,
    PlainValidator(_frame_only),
    WithJsonSchema(
        {
            "type": "object",
            "properties": {_FRAME_KEY: {"type": "string", "contentEncoding": "base64"}},
            "required": [_FRAME_KEY],
            "description": "a table as an Arrow IPC stream, base64",
        }
    ),
]


#: Integers as the databases store them: a larger one is malformed input, not a crash.
Int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]


def _namespace() -> dict[str, Any]:
    # Names that service modules import only for type checking.
    import pandas as pd

    from .store import Store

    return {"pd": pd, "Store": Store}


def _substitute(annotation: Any) -> Any:
    """The annotation with DataFrames replaced by :data:`Frame`, recursively."""
    if getattr(annotation, "__name__", None) == "DataFrame":
        return Frame
    if annotation is bytes:
        return Annotated[bytes, BeforeValidator(revive)]
    if annotation is int:
        return Int64
    args = typing.get_args(annotation)
    if not args:
        return annotation
    origin = typing.get_origin(annotation)
    new_args = tuple(_substitute(arg) for arg in args)
    if new_args == args:
        return annotation
    if origin is types.UnionType or origin is typing.Union:
        return functools.reduce(lambda left, right: left | right, new_args)
    if origin is Annotated:
        return Annotated[(new_args[0], *annotation.__metadata__)]
    return origin[new_args]


@functools.cache
def hints(op: Operation) -> dict[str, Any]:
    """The resolved annotations of ``op``'s function, DataFrames substituted."""
    resolved = typing.get_type_hints(op.func, localns=_namespace(), include_extras=True)
    return {name: _substitute(value) for name, value in resolved.items()}


@functools.cache
def params_model(op: Operation) -> type[BaseModel]:
    """A pydantic model of ``op``'s parameters (the store excluded)."""
    annotations = hints(op)
    fields: dict[str, Any] = {}
    for index, (name, parameter) in enumerate(op.signature.parameters.items()):
        if index == 0:
            continue
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise TypeError(f"operation {op.name}: *args/**kwargs cannot be described")
        annotation = annotations.get(name, Any)
        if _mentions_path(annotation):
            # A path names a file on the caller's machine; the server must not read its own.
            raise TypeError(f"operation {op.name}: parameter {name} is a local path")
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[name] = (annotation if _structured(annotation) else _as_given(annotation), default)
    model_name = "".join(part.title() for part in op.name.replace("_", ".").split(".")) + "Input"
    return create_model(
        model_name,
        __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=True),
        **fields,
    )


@functools.cache
def result_adapter(op: Operation) -> TypeAdapter[Any]:
    """Validates the JSON result of ``op`` back into what the local call returns."""
    return TypeAdapter(hints(op).get("return", Any))


def _structured(annotation: Any) -> bool:
    """Whether values of ``annotation`` must be rebuilt (dataclasses, named tuples)."""
    if annotation is Frame:
        return True
    if isinstance(annotation, type) and (
        dataclasses.is_dataclass(annotation)
        or (issubclass(annotation, tuple) and annotation is not tuple)
    ):
        return True
    return any(_structured(arg) for arg in typing.get_args(annotation))


def _as_given(annotation: Any) -> Any:
    """Any value passes (the function checks it); the documented schema stays ``annotation``'s."""
    try:
        schema = TypeAdapter(annotation).json_schema()
    except Exception:  # a type pydantic cannot describe is documented as any value
        schema = {}
    return Annotated[Any, BeforeValidator(revive), WithJsonSchema(schema)]


def _mentions_path(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, PurePath):
        return True
    return any(_mentions_path(arg) for arg in typing.get_args(annotation))


def parse_arguments(op: Operation, body: bytes) -> dict[str, Any]:
    """The keyword arguments of a request, validated; malformed input names the field."""
    try:
        raw = loads(body or b"{}")
    except ValueError as exc:
        raise InvalidInput(
            f"the body of {op.name} is not valid JSON: {exc}",
            hint="send a JSON object of the operation's arguments",
        ) from None
    if not isinstance(raw, dict):
        raise InvalidInput(
            f"the body of {op.name} must be a JSON object, not {type(raw).__name__}",
            hint="send a JSON object of the operation's arguments",
        )
    model = params_model(op)
    try:
        parsed = model.model_validate(raw)
    except ValidationError as exc:
        raise invalid_fields(op.name, exc) from None
    return {name: getattr(parsed, name) for name in model.model_fields if name in raw}


def explain(op: Operation, arguments: dict[str, Any]) -> InvalidInput | None:
    """Why ``arguments`` do not fit ``op``'s annotations, if they do not.

    The server asks this when a function failed with something other than a loopml error
    on arguments it passed through as given: a value of the wrong type is then the
    caller's mistake (a 400 naming the field), not the server's.
    """
    try:
        typed_model(op).model_validate(arguments)
    except ValidationError as exc:
        return invalid_fields(op.name, exc)
    return None


@functools.cache
def typed_model(op: Operation) -> type[BaseModel]:
    """``op``'s parameters with every annotation enforced (see :func:`explain`)."""
    annotations = hints(op)
    fields = {
        name: (
            _strict_ints(annotations.get(name, Any)),
            ... if parameter.default is inspect.Parameter.empty else parameter.default,
        )
        for index, (name, parameter) in enumerate(op.signature.parameters.items())
        if index
    }
    return create_model(
        f"{params_model(op).__name__}Typed",
        __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=True),
        **fields,
    )


def _strict_ints(annotation: Any) -> Any:
    """``annotation`` with every ``int`` strict: pydantic's lax mode reads JSON's true and
    false as 1 and 0, which is how they reach a function that then fails on them."""
    if annotation is int:
        return StrictInt
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:  # Int64 and friends: the bounds stay
        return Annotated[(_strict_ints(args[0]), *annotation.__metadata__)]
    if origin is None or not args or origin is typing.Literal:
        return annotation
    strict = tuple(_strict_ints(arg) for arg in args)
    if origin in (typing.Union, types.UnionType):
        return typing.Union[strict]  # noqa: UP007 (built from a tuple of types)
    try:
        return origin[strict]
    except TypeError:
        return annotation


def invalid_fields(what: str, exc: ValidationError) -> InvalidInput:
    """One InvalidInput naming the first bad field of ``exc`` (all of them in details)."""
    problems = [
        {"field": ".".join(str(part) for part in error["loc"]), "problem": error["msg"]}
        for error in exc.errors(include_url=False, include_input=False)
    ]
    first = problems[0]
    return InvalidInput(
        f"{what}: field '{first['field']}': {first['problem']}",
        hint="see the operation's schema in /openapi.json",
        fields=problems,
    )


def parse_result(op: Operation, body: bytes) -> Any:
    """The result of a call, as the local function would have returned it."""
    return result_adapter(op).validate_python(loads(body))
