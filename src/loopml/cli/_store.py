"""The store a command works on, opened when the command runs: SQLAlchemy loads with the
store, not with the CLI, so ``loopml --help`` stays fast."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..store import Store


def command_store(create: bool = False) -> Store:
    from ..store import open_store

    return open_store(create=create)
