"""SIGTERM/SIGINT handling for tracked processes.

On SIGTERM (and SIGINT, when Python's default handler is in place) the handler raises in
the main thread (``SystemExit(143)`` or ``KeyboardInterrupt``), so ``with start_run()``
blocks and ``finally`` clauses unwind normally: buffered metrics are flushed and the run
is marked KILLED. While the main thread is inside a :func:`deferred_signals` section
(moving a metric batch into the store), the signal waits until the section ends, so a
batch can never be half moved when the exception arrives.

Python runs a handler at the main thread's next bytecode, which may be inside a weakref
callback or a ``__del__`` (a garbage collection that started there); an exception raised
there is only printed ("Exception ignored in ...") and the process would go on. So the
``sys.unraisablehook`` installed with the handlers sends such a signal again a moment
later, to be raised outside the callback.

A forked child gets the default handlers back. A Python-level handler only runs when the
main thread next executes bytecode, so a pool worker waiting on its task queue in C
would ignore its pool's SIGTERM and hang the pool's shutdown; forked children write
their metrics directly (see ``_buffer``), so the default, immediate death loses nothing.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

_depth = 0
_deferred: int | None = None
_received: int | None = None
_installed = False
_REDELIVERY_S = 0.01


def received_signal() -> int | None:
    """The terminating signal this process received, if any (for the run's final status)."""
    return _received


def install() -> None:
    """Install the handlers once, from the main thread, unless the program has its own."""
    global _installed
    if _installed or threading.current_thread() is not threading.main_thread():
        return
    _installed = True
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _handle)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _handle)
    if _handle in (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)):
        sys.unraisablehook = _redeliver_swallowed(sys.unraisablehook)


@contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold back the handlers' exception until the block ends (main thread only)."""
    global _depth, _deferred
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0 and _deferred is not None:
            signum, _deferred = _deferred, None
            _raise_for(signum)


def _handle(signum: int, _frame: FrameType | None) -> None:
    global _deferred, _received
    _received = signum
    if _depth:
        _deferred = signum
        return
    _raise_for(signum)


def _raise_for(signum: int) -> None:
    error: BaseException = (
        KeyboardInterrupt() if signum == signal.SIGINT else SystemExit(128 + signum)
    )
    error.loopml_signal = signum  # type: ignore[attr-defined]
    raise error


def _redeliver_swallowed(previous: Any) -> Any:
    def hook(unraisable: Any) -> None:
        signum = getattr(unraisable.exc_value, "loopml_signal", None)
        if signum is None:
            previous(unraisable)
            return
        # Sent again from another thread a moment later: sent from here, it would be
        # handled at this hook's next bytecode and swallowed the same way.
        timer = threading.Timer(_REDELIVERY_S, os.kill, (os.getpid(), signum))
        timer.daemon = True
        timer.start()

    return hook


def _restore_defaults_in_child() -> None:
    # ``_installed`` stays True: a run started in the child keeps the defaults too.
    try:
        if signal.getsignal(signal.SIGTERM) is _handle:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if signal.getsignal(signal.SIGINT) is _handle:
            signal.signal(signal.SIGINT, signal.default_int_handler)
    except ValueError:  # not the main thread of the child: nothing we can change
        pass


os.register_at_fork(after_in_child=_restore_defaults_in_child)
