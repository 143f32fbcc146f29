"""The serving SDK on the default store: ``loopml.predictions`` and ``loopml.feedback``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


def predictions(
    deployment: str,
    *,
    since: Any = None,
    until: Any = None,
    variant: str | None = None,
    shadow: bool | None = False,
    expand: bool = True,
    labels: bool = True,
) -> pd.DataFrame:
    """Logged predictions of ``deployment``, one row per predicted row, oldest first.

    >>> loopml.predictions("churn-prod", since="1h")  # doctest: +SKIP
    """
    from ..store import default_store
    from .predictions import predictions as read

    return read(
        default_store(),
        deployment,
        since=since,
        until=until,
        variant=variant,
        shadow=shadow,
        expand=expand,
        labels=labels,
    )


def feedback(deployment: str, items: Any) -> dict[str, Any]:
    """Send ground truth: ``{"id": ..., "label": ...}`` or a list of them."""
    from ..store import default_store
    from .feedback import record_feedback

    return record_feedback(default_store(), deployment, items)
