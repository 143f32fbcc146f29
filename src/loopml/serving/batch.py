"""Batch scoring: a Parquet or CSV file in, the same rows with their predictions out.

    loopml predict churn@champion customers.parquet -o scored.parquet

The input is read in chunks of ``chunk_rows`` (Parquet row groups, CSV blocks) and each
chunk is scored and written before the next is read, so memory stays bounded however
large the file is. With a Dask scheduler address the partitions are scored on the
cluster's workers instead. Scored rows are logged like online predictions, under a
deployment name (the model's name by default), so monitoring sees batch traffic too.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..clock import now_ms
from ..errors import InvalidInput, PredictionFailed
from ..models.loaded import LoadedModel
from ..store import Store
from .predlog import LogEntry, PredictionLog
from .scoring import Rows, Scorer

PREDICTION = "prediction"


@dataclass(frozen=True)
class BatchResult:
    source: Path
    output: Path
    rows: int
    chunks: int
    model: str
    seconds: float
    logged_as: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": str(self.source),
            "output": str(self.output),
            "rows": self.rows,
            "chunks": self.chunks,
            "model": self.model,
            "seconds": round(self.seconds, 3),
            "logged_as": self.logged_as,
        }


def file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix == ".csv":
        return "csv"
    if path.is_dir() or not suffix:  # a folder of Parquet files (what Dask writes)
        return "parquet"
    raise InvalidInput(f"cannot tell the format of {path}", hint="use a .parquet or .csv file name")


def score_file(
    model: LoadedModel,
    source: Path,
    output: Path,
    *,
    store: Store | None = None,
    deployment: str | None = None,
    chunk_rows: int = 100_000,
    on_progress: Callable[[int, int | None], None] | None = None,
) -> BatchResult:
    """Score every row of ``source`` into ``output``; log them when ``store`` is given."""
    import pyarrow as pa

    source, output = Path(source), Path(output)
    if not source.exists():
        raise InvalidInput(f"input file {source} does not exist", hint="check the path")
    if chunk_rows < 1:
        raise InvalidInput("--chunk-rows must be at least 1")
    if output.resolve() == source.resolve():
        raise InvalidInput("the output would overwrite the input", hint="choose another -o path")
    name, version = _identity(model)
    scorer = Scorer(model)
    log = None
    if store is not None:
        log = PredictionLog(store, deployment or name, roll_rows=10**12, roll_interval=10**9)
    started = time.perf_counter()
    total = _row_count(source)
    rows = chunks = 0
    partial = output.with_name(f".{output.name}.{os.getpid()}.partial")
    writer = None
    try:
        for batch in _read(source, chunk_rows):
            table = pa.Table.from_batches([batch])
            frame = table.to_pandas()
            predictions = _predict(
                scorer, frame, f"rows {rows + 1}-{rows + len(frame)} of {source.name}"
            )
            out = table.append_column(PREDICTION, _column(predictions))
            writer = writer or _writer(partial, out.schema, file_format(output))
            writer.write_table(out)
            if log is not None:
                _log_chunk(log, name, version, frame, predictions)
            rows += len(frame)
            chunks += 1
            if on_progress is not None:
                on_progress(rows, total)
        if writer is None:
            raise InvalidInput(f"{source} holds no rows", hint="score a file with rows")
        writer.close()
        writer = None
        os.replace(partial, output)
    finally:
        if writer is not None:
            writer.close()
        partial.unlink(missing_ok=True)
    return BatchResult(
        source,
        output,
        rows,
        chunks,
        f"{name}/{version}",
        time.perf_counter() - started,
        (deployment or name) if log is not None else None,
    )


def score_on_dask(
    model: LoadedModel,
    source: Path,
    output: Path,
    address: str,
    *,
    store: Store | None = None,
    deployment: str | None = None,
) -> BatchResult:
    """Score ``source``'s partitions on the Dask cluster at ``address``; write ``output``
    (a Parquet directory, or one CSV file), then log the scored rows."""
    try:
        import dask.dataframe as dd
        from distributed import Client
    except ImportError:
        raise InvalidInput("--dask needs Dask", hint="pip install 'loopml[dask]'") from None
    source, output = Path(source), Path(output)
    started = time.perf_counter()
    kind = file_format(source)
    with Client(address, timeout="10s") as client:
        frame = dd.read_parquet(str(source)) if kind == "parquet" else dd.read_csv(str(source))
        meta = frame._meta.assign(**{PREDICTION: _meta_prediction(model, frame._meta)})
        scored = frame.map_partitions(_score_partition, model, meta=meta)
        if file_format(output) == "csv":
            scored.to_csv(str(output), single_file=True, index=False)
        else:
            scored.to_parquet(str(output), write_index=False)
        rows = int(client.compute(scored.map_partitions(len).sum()).result())
        chunks = frame.npartitions
    name, version = _identity(model)
    logged = None
    if store is not None:
        logged = deployment or name
        log = PredictionLog(store, logged, roll_rows=10**12, roll_interval=10**9)
        for batch in _read(output, 100_000):
            part = batch.to_pandas()
            _log_chunk(log, name, version, part, part.pop(PREDICTION).to_numpy())
    return BatchResult(
        source, output, rows, chunks, f"{name}/{version}", time.perf_counter() - started, logged
    )


def _predict(scorer: Scorer, frame: Any, where: str) -> Any:
    """The model's predictions for ``frame``; errors name the rows (``where``)."""
    try:
        inputs = scorer.inputs(Rows(list(frame.columns), frame))
    except InvalidInput as error:
        raise InvalidInput(f"{where}: {error.message}", hint=error.hint, **error.details) from None
    try:
        return scorer.predict(inputs)
    except Exception as error:
        raise PredictionFailed(
            f"{where}: the model failed: {type(error).__name__}: {error}",
            hint="check those rows' values against the model's training data",
        ) from None


def _log_chunk(log: PredictionLog, model: str, version: int, frame: Any, outputs: Any) -> None:
    """Log a scored chunk as one request of variant ``batch``, in a segment of its own
    (memory stays at one chunk)."""
    log.append(
        LogEntry(
            f"{now_ms():012x}{os.urandom(4).hex()}",
            now_ms(),
            "batch",
            model,
            version,
            0.0,
            list(frame.columns),
            frame.to_numpy(dtype=object),
            outputs,
        )
    )
    log.roll()


def _score_partition(frame: Any, model: LoadedModel) -> Any:
    scorer = Scorer(model)
    if not len(frame):
        return frame.assign(**{PREDICTION: []})
    return frame.assign(**{PREDICTION: _predict(scorer, frame, "a partition")})


def _meta_prediction(model: LoadedModel, meta: Any) -> Any:
    import pandas as pd

    kind = (model.signature.output_type if model.signature else None) or "double"
    dtype = {"integer": "int64", "boolean": "bool", "string": "object"}.get(kind, "float64")
    return pd.Series([], dtype=dtype)


def _identity(model: LoadedModel) -> tuple[str, int]:
    uri = model.uri or ""
    if uri.startswith("models:/"):
        name, _, version = uri[len("models:/") :].partition("/")
        if version.isdigit():
            return name, int(version)
    return (model.path.name or "model"), 0


def _row_count(source: Path) -> int | None:
    if file_format(source) == "parquet" and source.is_file():
        import pyarrow.parquet as pq

        return pq.ParquetFile(source).metadata.num_rows
    return None


def _read(source: Path, chunk_rows: int) -> Iterator[Any]:
    """Record batches of at most ``chunk_rows`` rows, read lazily."""
    if file_format(source) == "parquet":
        import pyarrow.dataset as ds

        dataset = ds.dataset(str(source), format="parquet")
        yield from dataset.to_batches(batch_size=chunk_rows)
        return
    import pyarrow.csv as pacsv

    # CSV blocks are sized in bytes; ~200 bytes per row is a fair guess for tabular data.
    block = max(1 << 16, min(chunk_rows * 200, 1 << 28))
    reader = pacsv.open_csv(str(source), read_options=pacsv.ReadOptions(block_size=block))
    for batch in reader:
        for start in range(0, batch.num_rows, chunk_rows):
            yield batch.slice(start, chunk_rows)


def _column(predictions: Any) -> Any:
    import numpy as np
    import pyarrow as pa

    array = np.asarray(predictions)
    if array.ndim == 1:
        return pa.array(array if array.dtype != object else array.astype(str))
    return pa.array(array.tolist())


def _writer(path: Path, schema: Any, kind: str) -> Any:
    if kind == "csv":
        import pyarrow.csv as pacsv

        return pacsv.CSVWriter(str(path), schema)
    import pyarrow.parquet as pq

    return pq.ParquetWriter(str(path), schema, compression="zstd")
