"""From parsed request rows to a model's answer, with the cheapest conversion that is safe.

Every protocol hands over the same shape: column names (or None for a positional tensor)
and row-major values. When the model takes a numpy array and every input column is
numeric, the rows become one float array directly: no DataFrame per request, which costs
more than a scikit-learn predict. Anything else goes through the signature's
:meth:`~loopml.models.signature.Signature.conform`, whose errors name the column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidInput
from ..models.loaded import LoadedModel

_NUMERIC = {"double", "integer", "boolean"}


@dataclass(frozen=True)
class Rows:
    """A parsed request: column names (None: in signature order) and row-major values."""

    columns: list[str] | None
    values: Any  # list of rows, a 2-D numpy array, or a DataFrame (batch scoring)

    def __len__(self) -> int:
        return len(self.values)

    def field(self, name: str) -> Any:
        """The first row's value of column ``name`` (the sticky key), or None."""
        if self.columns is None or name not in self.columns or not len(self.values):
            return None
        return self.values[0][self.columns.index(name)]


class Scorer:
    """Predicts for :class:`Rows` with one model, checking them against its signature."""

    def __init__(self, model: LoadedModel) -> None:
        self.model = model
        signature = model.signature
        self.columns: list[str] | None = signature.columns if signature else None
        self._predictor = model.predictor
        self._fast = bool(
            signature
            and not self._predictor.wants_frame
            and all(c.type in _NUMERIC for c in signature.inputs)
        )
        self._nullable = (
            np.array([c.nullable for c in signature.inputs]) if signature else np.array([])
        )

    def log_columns(self, rows: Rows) -> Sequence[str]:
        """The column names to log the rows under."""
        if rows.columns is not None:
            return rows.columns
        return self.columns or [str(i) for i in range(_width(rows.values))]

    def inputs(self, rows: Rows) -> Any:
        """The model's input for ``rows``: a float array on the fast path, else a frame."""
        if not len(rows):
            raise InvalidInput("the request holds no rows", hint="send at least one row")
        if self._fast and (rows.columns is None or rows.columns == self.columns):
            array = _numeric(rows.values, len(self.columns or ()))
            if array is not None:
                self._check_nulls(array)
                return array
        frame = self._frame(rows)
        if self.model.signature is not None:
            frame = self.model.signature.conform(frame)
        return frame if self._predictor.wants_frame else frame.to_numpy()

    def predict(self, inputs: Any) -> np.ndarray:
        return np.asarray(self._predictor.predict(inputs))

    def predict_proba(self, inputs: Any) -> np.ndarray | None:
        if self._predictor.predict_proba is None:
            return None
        return np.asarray(self._predictor.predict_proba(inputs))

    def _frame(self, rows: Rows) -> Any:
        import pandas as pd

        if isinstance(rows.values, pd.DataFrame):  # batch scoring hands over whole chunks
            return rows.values
        columns = rows.columns
        if columns is None:
            width = _width(rows.values)
            if self.columns is not None and width != len(self.columns):
                raise InvalidInput(
                    f"each row has {width} values; the model expects {len(self.columns)}: "
                    f"{self.model.signature.describe() if self.model.signature else ''}",
                    hint="send the columns in the signature's order, or name them",
                )
            columns = self.columns or [str(i) for i in range(width)]
        if len(set(columns)) != len(columns):
            raise InvalidInput("the request names a column twice", hint="send each column once")
        values = rows.values
        if isinstance(values, np.ndarray):
            return pd.DataFrame(values, columns=columns)
        for index, row in enumerate(values):
            if len(row) != len(columns):
                raise InvalidInput(
                    f"row {index} has {len(row)} values for {len(columns)} columns",
                    hint="give every row one value per column",
                )
        return pd.DataFrame.from_records(values, columns=columns)

    def _check_nulls(self, array: np.ndarray) -> None:
        if self._nullable.all() or not np.isnan(array.sum()):  # one pass when none is NaN
            return
        missing = np.isnan(array).any(axis=0) & ~self._nullable
        if missing.any():
            column = (self.columns or [])[int(np.argmax(missing))]
            raise InvalidInput(
                f"column '{column}' holds a missing value (NaN or null), which the "
                "model's signature does not allow",
                hint=f"send a value in '{column}' (a model saved with an example "
                "holding nulls there accepts them)",
                column=column,
            )


def _numeric(values: Any, width: int) -> np.ndarray | None:
    """``values`` as a float64 array of shape (rows, width), or None if they are not numbers."""
    if isinstance(values, np.ndarray):
        array = values
    else:
        try:
            array = np.array(values, dtype=np.float64)
        except (TypeError, ValueError):
            return None
    if array.ndim != 2 or array.shape[1] != width or array.dtype.kind not in "fiub":
        return None
    return array if array.dtype == np.float64 else array.astype(np.float64)


def _width(values: Any) -> int:
    if isinstance(values, np.ndarray):
        return int(values.shape[1]) if values.ndim == 2 else 1
    return len(values[0]) if len(values) else 0
