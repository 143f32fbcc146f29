"""Which dataset versions the code running now reads, and which ones it must read.

A pipeline step is cached on its inputs; a dataset it loads by name is one of them. While
a step runs, :func:`collecting` gathers every ``ref -> name@version`` that
``loopml.data.load`` resolves, so the step's cache entry is only reused while those refs
still resolve to the same versions. :func:`pinned` makes refs resolve to given versions,
which is how ``loopml pipeline reproduce`` re-reads exactly what a past run read.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping
from contextlib import contextmanager


@contextmanager
def collecting() -> Iterator[dict[str, str]]:
    reads: dict[str, str] = {}
    token = _reads.set(reads)
    try:
        yield reads
    finally:
        _reads.reset(token)


@contextmanager
def pinned(pins: Mapping[str, str]) -> Iterator[None]:
    token = _pins.set(dict(pins))
    try:
        yield
    finally:
        _pins.reset(token)


def pin_for(ref: str) -> str:
    """``ref`` itself, or the exact ``name@version`` it is pinned to."""
    pins = _pins.get()
    return pins.get(ref, ref) if pins else ref


def note_read(ref: str, name: str, version: int) -> None:
    reads = _reads.get()
    if reads is not None:
        reads[ref] = f"{name}@{version}"


_reads: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "loopml_dataset_reads", default=None
)
_pins: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "loopml_dataset_pins", default=None
)
