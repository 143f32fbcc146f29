"""What a model takes and returns: column names and types, inferred from an input example.

A signature is checked on every prediction, so a request with a missing or mistyped
column gets an error naming the column and the type expected, instead of a model
failing deep inside with a shape mismatch. Columns are put in the signature's order
and widened where that loses nothing (integers into a double column); extra columns
are ignored, as a scoring service receiving whole records would want.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

TYPES = ("boolean", "integer", "double", "string", "datetime")


@dataclass(frozen=True)
class ColumnSpec:
    """One input column: its name, its type (one of :data:`TYPES`) and whether it had nulls."""

    name: str
    type: str
    nullable: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "nullable": self.nullable}


@dataclass(frozen=True)
class Signature:
    """The model's input columns in order, and the type and shape of its output."""

    inputs: tuple[ColumnSpec, ...]
    output_type: str | None = None
    output_shape: tuple[int, ...] | None = None
    tensor: bool = False
    """True when the example was a bare array: its columns are positions, not names."""

    @property
    def columns(self) -> list[str]:
        return [column.name for column in self.inputs]

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": [column.to_dict() for column in self.inputs],
            "output": {"type": self.output_type, "shape": list(self.output_shape or [])}
            if self.output_type
            else None,
            "tensor": self.tensor,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Signature:
        output = data.get("output") or {}
        return cls(
            inputs=tuple(ColumnSpec(**column) for column in data["inputs"]),
            output_type=output.get("type"),
            output_shape=tuple(output["shape"]) if output.get("shape") else None,
            tensor=bool(data.get("tensor")),
        )

    def describe(self) -> str:
        return ", ".join(f"{c.name} ({c.type})" for c in self.inputs)

    def conform(self, data: Any) -> pd.DataFrame:
        """``data`` as a DataFrame with exactly the signature's columns, in its order.

        Raises :class:`InvalidInput` naming the first missing or mistyped column.
        """
        frame = as_frame(data, self)
        missing = [c for c in self.inputs if c.name not in frame.columns]
        if missing:
            names = ", ".join(f"'{c.name}' ({c.type})" for c in missing)
            raise InvalidInput(
                f"input is missing column{'s' if len(missing) > 1 else ''} {names}",
                hint=f"the model expects: {self.describe()}",
                missing=[c.name for c in missing],
            )
        out = frame.loc[:, self.columns] if list(frame.columns) != self.columns else frame
        converted = {}
        for column in self.inputs:
            series = out[column.name]
            if not column.nullable and series.isna().any():
                raise InvalidInput(
                    f"column '{column.name}' holds a missing value (NaN or null), which the "
                    "model's signature does not allow",
                    hint=f"send a value in '{column.name}' (a model saved with an example "
                    "holding nulls there accepts them)",
                    column=column.name,
                )
            fixed = _coerce(series, column)
            if fixed is not series:
                converted[column.name] = fixed
        if converted:
            out = out.assign(**converted)
        return out


def infer_signature(example: Any) -> Signature:
    """The signature of an input example: a DataFrame, a dict of columns, records or an array."""
    import numpy as np

    tensor = isinstance(example, np.ndarray)
    frame = as_frame(example, None)
    if frame.empty and not len(frame.columns):
        raise InvalidInput(
            "the input example has no columns", hint="pass X[:5] of the training data"
        )
    inputs = []
    for name in frame.columns:
        series = frame[name]
        inputs.append(ColumnSpec(str(name), _type_of(series), bool(series.isna().any())))
    return Signature(inputs=tuple(inputs), tensor=tensor)


def with_output(signature: Signature, prediction: Any) -> Signature:
    """``signature`` plus the type and shape of what the model returned for the example."""
    import numpy as np

    array = np.asarray(prediction)
    kind = _numpy_type(array.dtype)
    shape = (-1, *array.shape[1:])
    return Signature(signature.inputs, kind, shape, signature.tensor)


def as_frame(data: Any, signature: Signature | None) -> pd.DataFrame:
    """A DataFrame from a DataFrame, Arrow/polars table, dict, list of records or 2-D array."""
    import numpy as np
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame().T if signature is not None else data.to_frame()
    if isinstance(data, np.ndarray):
        if data.ndim == 1:
            data = data.reshape(1, -1) if signature is not None else data.reshape(-1, 1)
        if data.ndim != 2:
            raise InvalidInput(
                f"an array input must be 2-D (rows x columns), got {data.ndim} dimensions",
                hint="reshape it to (rows, columns)",
            )
        if signature is None:
            return pd.DataFrame(data, columns=[str(i) for i in range(data.shape[1])])
        if data.shape[1] != len(signature.inputs):
            raise InvalidInput(
                f"the array has {data.shape[1]} columns; the model expects "
                f"{len(signature.inputs)}: {signature.describe()}",
                hint="pass the columns in the signature's order, or a DataFrame",
            )
        return pd.DataFrame(data, columns=signature.columns)
    if isinstance(data, dict):
        if data and all(
            not isinstance(v, list | tuple | np.ndarray | pd.Series) for v in data.values()
        ):
            return pd.DataFrame([data])  # one record
        return pd.DataFrame(data)
    if isinstance(data, list):
        if data and all(isinstance(item, dict) for item in data):
            return pd.DataFrame.from_records(data)
        return as_frame(np.asarray(data), signature)
    if hasattr(data, "to_pandas"):  # Arrow and polars tables
        return data.to_pandas()
    raise InvalidInput(
        f"cannot predict on a {type(data).__name__}",
        hint="pass a pandas DataFrame, a dict of columns, a list of records or a 2-D array",
    )


def _type_of(series: pd.Series) -> str:
    import pandas as pd

    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "double"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if isinstance(dtype, pd.CategoricalDtype):
        return _type_of(series.astype(dtype.categories.dtype))
    values = series.dropna()
    if len(values) and all(isinstance(v, bool) for v in values):
        return "boolean"
    if len(values) and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "integer"
    if len(values) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "double"
    return "string"


def _numpy_type(dtype: np.dtype) -> str:
    kind = dtype.kind
    return {"b": "boolean", "i": "integer", "u": "integer", "f": "double", "M": "datetime"}.get(
        kind, "string"
    )


def _coerce(series: pd.Series, column: ColumnSpec) -> pd.Series:
    """``series`` as ``column.type`` when that loses nothing; else an error naming the column."""
    import pandas as pd

    have = _type_of(series)
    want = column.type
    if have == want or (series.isna().all() and len(series)):
        return series
    if want == "double" and have in ("integer", "boolean"):
        return series.astype("float64")
    if want == "integer" and have == "double":
        values = series.dropna()
        if (values == values.round()).all():
            return series if series.isna().any() else series.astype("int64")
    if want == "datetime" and have == "string":
        try:
            return pd.to_datetime(series)
        except (ValueError, TypeError):
            pass
    if want in ("double", "integer") and have == "string":
        numbers = pd.to_numeric(series, errors="coerce")
        bad = series[numbers.isna() & series.notna()]
        if bad.empty:
            return _coerce(numbers, column)
        first = bad.iloc[0]
        raise InvalidInput(
            f"column '{column.name}' holds {type(first).__name__} values such as {first!r} "
            f"where the model expects {want}",
            hint=f"send numbers in '{column.name}'",
            column=column.name,
            expected=want,
        )
    if want == "string" and have != "string" and series.dtype == object:
        return series
    raise InvalidInput(
        f"column '{column.name}' is {have} but the model expects {want}",
        hint=f"convert '{column.name}' to {want}",
        column=column.name,
        expected=want,
        got=have,
    )
