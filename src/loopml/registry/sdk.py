"""The registry on the default store, for the SDK: ``loopml.register(run, "churn")``."""

from __future__ import annotations

from typing import Any

from ..store import default_store
from .entities import ModelVersion, Promotion


def register(
    source: Any,
    name: str,
    *,
    description: str | None = None,
    tags: dict[str, Any] | None = None,
) -> ModelVersion:
    """Make the next version of model ``name`` from a run, ``runs:/RUN/PATH``, or a folder.

    >>> version = loopml.register(run, "churn")  # doctest: +SKIP
    >>> version.uri
    'models:/churn/1'
    """
    from .versions import register as register_version

    return register_version(default_store(), source, name, description=description, tags=tags)


def promote(
    name: str,
    version: int | str,
    *,
    to: str,
    gates: list[str] | tuple[str, ...] = (),
    data: Any = None,
    target: str | None = None,
    sensitive: list[str] | tuple[str, ...] = (),
    require_approval: bool = False,
    reason: str | None = None,
    against: str | None = None,
) -> Promotion:
    """Point ``name@to`` at ``version`` if every gate passes (see ``registry.promotion``)."""
    from .promotion import promote as run_promotion

    return run_promotion(
        default_store(),
        name,
        version,
        to=to,
        gates=gates,
        data=data,
        target=target,
        sensitive=sensitive,
        require_approval=require_approval,
        reason=reason,
        against=against,
    )
