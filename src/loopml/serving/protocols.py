"""Request and response bodies of the two scoring protocols a client may speak.

- Open Inference Protocol v2 (KServe, Triton, MLServer): ``inputs`` are named tensors.
  A table arrives either as one 2-D tensor in the signature's column order, or as one
  1-D tensor per column named after it (MLServer's pandas convention).
- MLflow's scoring server ``/invocations``: a JSON object with exactly one of
  ``dataframe_split``, ``dataframe_records``, ``instances`` or ``inputs``, or a CSV body.

Both parse into :class:`~loopml.serving.scoring.Rows`; errors name the field at fault.
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any

import numpy as np

from ..errors import InvalidInput
from .scoring import Rows

OIP_TYPES = {
    "BOOL",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "FP16",
    "FP32",
    "FP64",
    "BYTES",
}
MLFLOW_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")


# --- Open Inference Protocol v2 -------------------------------------------------------


def parse_oip(body: Any, signature_columns: list[str] | None) -> tuple[Rows, str | None, set[str]]:
    """(rows, the request's ``id``, the output names asked for) of an OIP infer request."""
    if not isinstance(body, dict):
        raise InvalidInput("an inference request is a JSON object with 'inputs'")
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InvalidInput(
            "'inputs' must be a non-empty list of tensors",
            hint='e.g. {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", '
            '"data": [[1, 2, 3]]}]}',
        )
    request_id = body.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise InvalidInput("'id' must be a string")
    wanted = set()
    for output in body.get("outputs") or []:
        if not isinstance(output, dict) or not isinstance(output.get("name"), str):
            raise InvalidInput("each of 'outputs' must be an object with a 'name'")
        wanted.add(output["name"])
    tensors = [_tensor(index, spec) for index, spec in enumerate(inputs)]
    if len(tensors) == 1:
        name, array = tensors[0]
        is_column = signature_columns is not None and name in signature_columns
        if array.ndim == 2 and not (is_column and array.shape[1] == 1):
            return Rows(None, _rows(array)), request_id, wanted
        if array.ndim > 2:
            raise InvalidInput(
                f"input '{name}' has {array.ndim} dimensions; a table is 2-D",
                hint="send [rows, columns], or one 1-D tensor per column",
            )
    names = [name for name, _ in tensors]
    if len(set(names)) != len(names):
        raise InvalidInput("two inputs share a name", hint="name each column's tensor once")
    lengths = {array.shape[0] for _, array in tensors}
    if len(lengths) != 1:
        raise InvalidInput(
            "the column tensors have different lengths: "
            + ", ".join(f"{n}={a.shape[0]}" for n, a in tensors),
            hint="send the same number of rows in every column",
        )
    for name, array in tensors:
        if array.ndim == 2 and array.shape[1] != 1:
            raise InvalidInput(
                f"input '{name}' is {array.shape[0]}x{array.shape[1]}; a column is [rows] "
                "or [rows, 1]",
                hint="send one tensor per column, or one 2-D tensor in signature order",
            )
    columns = [array.reshape(-1).tolist() for _, array in tensors]
    return Rows(names, [list(row) for row in zip(*columns, strict=True)]), request_id, wanted


def _tensor(index: int, spec: Any) -> tuple[str, np.ndarray]:
    where = f"inputs[{index}]"
    if not isinstance(spec, dict):
        raise InvalidInput(f"{where} must be an object with name, shape, datatype and data")
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"{where} needs a 'name'")
    where = f"input '{name}'"
    shape = spec.get("shape")
    if (
        not isinstance(shape, list)
        or not shape
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise InvalidInput(
            f"{where} needs a 'shape': a list of non-negative integers", hint="e.g. [1, 3]"
        )
    datatype = spec.get("datatype")
    if datatype not in OIP_TYPES:
        raise InvalidInput(
            f"{where} has datatype {datatype!r}",
            hint="use one of " + ", ".join(sorted(OIP_TYPES)),
        )
    if "data" not in spec:
        raise InvalidInput(f"{where} needs 'data'")
    flat = _flatten(spec["data"], where)
    size = math.prod(shape)
    if len(flat) != size:
        raise InvalidInput(
            f"{where} has {len(flat)} values for shape {shape} ({size})",
            hint="make 'data' hold exactly as many values as the shape says",
        )
    if size == 0:
        raise InvalidInput(f"{where} holds no rows", hint="send at least one row")
    if datatype == "BYTES":
        if not all(isinstance(v, str) for v in flat):
            raise InvalidInput(f"{where} is BYTES, so its values must be strings")
        array = np.empty(size, dtype=object)
        array[:] = flat
    elif datatype == "BOOL":
        if not all(isinstance(v, bool) for v in flat):
            raise InvalidInput(f"{where} is BOOL, so its values must be true or false")
        array = np.asarray(flat, dtype=bool)
    else:
        if not all(
            (isinstance(v, int | float) and not isinstance(v, bool)) or v is None for v in flat
        ):
            raise InvalidInput(f"{where} is {datatype}, so its values must be numbers")
        kind = np.float64 if datatype.startswith("FP") or None in flat else np.int64
        try:
            array = np.asarray([np.nan if v is None else v for v in flat], dtype=kind)
        except OverflowError:
            raise InvalidInput(f"{where} holds a number too large for {datatype}") from None
    return name, array.reshape(shape)


def _flatten(data: Any, where: str) -> list[Any]:
    """The values of a flat or nested ``data`` list in row-major order (no recursion, so
    a maliciously deep nesting cannot exhaust the stack)."""
    if not isinstance(data, list):
        raise InvalidInput(f"{where}: 'data' must be a list")
    if not any(isinstance(value, list) for value in data):
        return data
    out: list[Any] = []
    stack = [iter(data)]
    while stack:
        for value in stack[-1]:
            if isinstance(value, list):
                stack.append(iter(value))
                break
            out.append(value)
        else:
            stack.pop()
    return out


def _rows(array: np.ndarray) -> Any:
    return array if array.dtype != object else array.tolist()


def oip_datatype(array: np.ndarray) -> str:
    kind = array.dtype.kind
    if kind == "b":
        return "BOOL"
    if kind in "iu":
        return "INT64"
    if kind == "f":
        return "FP32" if array.dtype == np.float32 else "FP64"
    return "BYTES"


def oip_output(name: str, array: np.ndarray) -> dict[str, Any]:
    if array.dtype.kind not in "biuf":
        array = array.astype(str)
    return {
        "name": name,
        "datatype": oip_datatype(array),
        "shape": list(array.shape),
        "data": array.reshape(-1),
    }


# --- MLflow scoring server ------------------------------------------------------------


def parse_invocations(body: Any) -> Rows:
    """Rows of an MLflow ``/invocations`` JSON body."""
    if not isinstance(body, dict):
        raise InvalidInput(
            "the body must be a JSON object with one of: " + ", ".join(MLFLOW_KEYS),
            hint='e.g. {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}}',
        )
    present = [key for key in MLFLOW_KEYS if key in body]
    if len(present) != 1:
        raise InvalidInput(
            "the body must hold exactly one of: "
            + ", ".join(MLFLOW_KEYS)
            + (f" (it holds {', '.join(present)})" if present else ""),
            hint='e.g. {"dataframe_records": [{"a": 1, "b": 2}]}',
        )
    unknown = set(body) - {*MLFLOW_KEYS, "params"}
    if unknown:
        raise InvalidInput(f"unknown field(s) in the body: {', '.join(sorted(unknown))}")
    key = present[0]
    value = body[key]
    if key == "dataframe_split":
        return _split(value)
    if key == "dataframe_records":
        return _records(value, key)
    if isinstance(value, dict):
        return _columns(value, key)
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return _records(value, key)
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        return Rows(None, value)
    if isinstance(value, list) and not value:
        raise InvalidInput("the request holds no rows", hint="send at least one row")
    raise InvalidInput(
        f"'{key}' must be a list of rows, a list of records or an object of columns",
        hint=f'e.g. {{"{key}": [[1.0, 2.0]]}}',
    )


def _split(value: Any) -> Rows:
    if not isinstance(value, dict) or "data" not in value:
        raise InvalidInput(
            "'dataframe_split' must be an object with 'columns' and 'data'",
            hint='e.g. {"columns": ["a", "b"], "data": [[1, 2]]}',
        )
    data = value["data"]
    if not isinstance(data, list) or not all(isinstance(row, list) for row in data):
        raise InvalidInput("'dataframe_split.data' must be a list of rows (lists)")
    columns = value.get("columns")
    if columns is not None and (
        not isinstance(columns, list) or not all(isinstance(c, str) for c in columns)
    ):
        raise InvalidInput("'dataframe_split.columns' must be a list of column names")
    return Rows(columns, data)


def _records(value: Any, key: str) -> Rows:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise InvalidInput(f"'{key}' must be a list of objects, one per row")
    columns: list[str] = []
    seen: set[str] = set()
    for record in value:
        for name in record:
            if name not in seen:
                seen.add(name)
                columns.append(name)
    return Rows(columns, [[record.get(c) for c in columns] for record in value])


def _columns(value: dict[str, Any], key: str) -> Rows:
    lengths = set()
    for name, column in value.items():
        if not isinstance(column, list):
            raise InvalidInput(f"'{key}.{name}' must be a list of values, one per row")
        lengths.add(len(column))
    if len(lengths) > 1:
        raise InvalidInput(f"the columns of '{key}' have different lengths")
    names = list(value)
    return Rows(names, [list(row) for row in zip(*value.values(), strict=True)])


def parse_csv(text: str) -> Rows:
    """Rows of a CSV body with a header line (MLflow's ``text/csv``)."""
    # newline="" lets the csv module see \r, \n and \r\n line endings alike.
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = []
    try:
        header = next(reader, None)
        if header is None:
            raise InvalidInput("the CSV body is empty", hint="send a header line and rows")
        for number, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(header):
                raise InvalidInput(
                    f"CSV line {number} has {len(row)} fields; the header has {len(header)}"
                )
            rows.append([_csv_value(v) for v in row])
    except csv.Error as error:
        raise InvalidInput(
            f"the CSV body does not parse: {error}",
            hint="send a header line, then one line per row, fields separated by commas",
        ) from None
    return Rows(header, rows)


def _csv_value(text: str) -> Any:
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text
