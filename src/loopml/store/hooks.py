"""What every store carries, local or remote: per-process state and the hooks domain
packages attach to it (the metric buffer flushes before a read and when it closes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class StoreHooks:
    """Per-process state, read hooks and close hooks; a forked child starts without them."""

    def __init__(self) -> None:
        #: Per-process state owned by domain packages (the metric buffer lives here).
        self.state: dict[str, Any] = {}
        self._close_hooks: list[Callable[[], None]] = []
        self._read_hooks: list[Callable[[], None]] = []

    def before_read(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` before every read (the metric buffer flushes itself here)."""
        self._read_hooks.append(hook)

    def on_close(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` when the store closes (before its connections are)."""
        self._close_hooks.append(hook)

    def _run_read_hooks(self) -> None:
        for hook in self._read_hooks:
            hook()

    def _run_close_hooks(self) -> None:
        hooks, self._close_hooks = self._close_hooks, []
        for hook in reversed(hooks):
            hook()

    def _forget_hooks(self) -> None:
        """In a forked child: the parent's buffers and their hooks are not this process's."""
        self.state.clear()
        self._close_hooks.clear()
        self._read_hooks.clear()
