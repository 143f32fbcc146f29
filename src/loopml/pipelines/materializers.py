"""How a step's return value becomes bytes in the artifact store, and back.

The materializer is chosen by the value's type: tables as Parquet (pandas, polars,
Arrow), numpy arrays as ``.npy``, JSON values as JSON, scikit-learn-style models with
pickle (their library's own persistence), and anything else with pickle and a warning,
because a pickle only loads where the same classes and library versions are installed.
Every encoding is deterministic, so the same value gives the same hash on every executor.
"""

from __future__ import annotations

import io
import json
import math
import pickle
import sys
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInput

PICKLE_PROTOCOL = 5
_JSON_SCALARS = (str, int, float, bool, type(None))
_MODEL_MODULES = ("sklearn", "xgboost", "lightgbm", "catboost")
_SERIES_NAME = b"loopml.series_name"


@dataclass(frozen=True)
class Encoded:
    data: bytes
    materializer: str
    type_name: str
    warning: str | None = None


def encode(value: Any, *, what: str) -> Encoded:
    """Bytes for ``value``; ``what`` names it in errors (``"step 'train' output 0"``)."""
    type_name = f"{type(value).__module__}.{type(value).__qualname__}"
    kind = _table_kind(value)
    not_parquet = None
    if kind is not None:
        try:
            return Encoded(_parquet(value, kind), kind, type_name)
        except (TypeError, ValueError, NotImplementedError) as exc:  # what Arrow raises
            not_parquet = f"it cannot be stored as Parquet ({_reason(exc)}), so "
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, numpy.ndarray) and value.dtype != object:
        buffer = io.BytesIO()
        numpy.save(buffer, value, allow_pickle=False)
        return Encoded(buffer.getvalue(), "numpy", type_name)
    if numpy is not None and isinstance(value, numpy.generic) and value.dtype != object:
        # np.mean(...) and friends: a 0-d array gives the same scalar type back.
        buffer = io.BytesIO()
        numpy.save(buffer, numpy.asarray(value), allow_pickle=False)
        return Encoded(buffer.getvalue(), "numpy-scalar", type_name)
    if _is_json(value):
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
        return Encoded(text.encode("utf-8"), "json", type_name)
    data = _pickle(value, what)
    if type(value).__module__.split(".")[0] in _MODEL_MODULES:
        return Encoded(data, "model-pickle", type_name)
    warning = (
        f"{what} is a {type_name}; {not_parquet or ''}it is stored with pickle: it loads "
        "only where the same classes and library versions are installed"
    )
    return Encoded(data, "pickle", type_name, warning)


def decode(data: bytes, materializer: str) -> Any:
    """The value stored by :func:`encode` under ``materializer``."""
    if materializer in ("pandas", "pandas-series", "polars", "arrow"):
        import pyarrow.parquet as pq

        table = pq.read_table(io.BytesIO(data))
        if materializer == "arrow":
            return table
        if materializer == "polars":
            import polars

            return polars.from_arrow(table)
        frame = table.to_pandas()
        if materializer == "pandas":
            return frame
        series = frame.iloc[:, 0]
        metadata = table.schema.metadata or {}
        if _SERIES_NAME in metadata:
            series.name = json.loads(metadata[_SERIES_NAME])
        return series
    if materializer == "numpy":
        import numpy

        return numpy.load(io.BytesIO(data), allow_pickle=False)
    if materializer == "numpy-scalar":
        import numpy

        return numpy.load(io.BytesIO(data), allow_pickle=False)[()]
    if materializer == "json":
        return json.loads(data)
    if materializer in ("pickle", "model-pickle"):
        return pickle.loads(data)
    raise InvalidInput(
        f"unknown materializer '{materializer}'",
        hint="the artifact was written by a newer loopml; upgrade loopml to read it",
    )


def _table_kind(value: Any) -> str | None:
    module = type(value).__module__.split(".")[0]
    if module == "pandas":
        import pandas

        if isinstance(value, pandas.DataFrame):
            return "pandas"
        if isinstance(value, pandas.Series) and _is_json(value.name):
            return "pandas-series"  # other names (tuples, numpy scalars) would not round-trip
    elif module == "polars":
        import polars

        if isinstance(value, polars.DataFrame):
            return "polars"
    elif module == "pyarrow":
        import pyarrow

        if isinstance(value, pyarrow.Table):
            return "arrow"
    return None


def _parquet(value: Any, kind: str) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if kind == "pandas":
        table = pa.Table.from_pandas(value)
    elif kind == "pandas-series":
        # A fixed column name (an unnamed series would become column "0"), and the series'
        # own name, which may be None or a number, as JSON in the schema metadata.
        table = pa.Table.from_pandas(value.to_frame(name="values"))
        metadata = {**(table.schema.metadata or {}), _SERIES_NAME: json.dumps(value.name)}
        table = table.replace_schema_metadata(metadata)
    elif kind == "polars":
        table = value.to_arrow()
    else:
        table = value
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


def _is_json(value: Any, depth: int = 0) -> bool:
    """True when JSON gives ``value`` back unchanged (no tuples, non-str keys or NaN)."""
    if depth > 64:
        return False
    if isinstance(value, bool | str | type(None)):
        return True
    if isinstance(value, int | float) and type(value) in (int, float):
        return not (isinstance(value, float) and not math.isfinite(value))
    if type(value) is list:
        return all(_is_json(item, depth + 1) for item in value)
    if type(value) is dict:
        return all(type(k) is str and _is_json(v, depth + 1) for k, v in value.items())
    return False


def _pickle(value: Any, what: str) -> bytes:
    try:
        return pickle.dumps(value, protocol=PICKLE_PROTOCOL)
    except Exception as exc:
        raise InvalidInput(
            f"{what} is a {type(value).__name__}, which cannot be stored: {exc}",
            hint="return data the next step can load (a DataFrame, array, dict or model)",
        ) from None


def _reason(exc: Exception) -> str:
    """Arrow's error in one line: its args are (what failed, which column)."""
    parts = [str(arg).strip().splitlines()[0] for arg in exc.args if str(arg).strip()]
    return "; ".join(parts) or type(exc).__name__
