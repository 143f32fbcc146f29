"""The monitoring SDK on the default store: what ``loopml.monitor`` and friends call."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..store import default_store

if TYPE_CHECKING:
    from .loop import Retrain
    from .monitor import MonitorRun
    from .policy import Policy


def monitor(deployment: str, **options: Any) -> MonitorRun:
    """Monitor ``deployment`` over ``window`` (or ``since``/``until``): drift, quality,
    performance, the policy's rules and alerts; stored unless ``save=False``.
    See :func:`loopml.monitoring.monitor.monitor` for the options."""
    from .monitor import monitor as run_monitor

    return run_monitor(default_store(), deployment, **options)


def set_policy(deployment: str, **settings: Any) -> Policy:
    """Create or replace ``deployment``'s policy: ``rules=("drift", "f1 < 0.75")``,
    ``pipeline="pipeline.py"``, ``schedule="0 3 * * 0"``, ``canary=(10, 50, 100)``..."""
    from .policy import Policy
    from .policy import set_policy as store_policy

    if "rules" in settings:
        settings["rules"] = tuple(settings["rules"])
    if "canary" in settings:
        settings["canary"] = tuple(settings["canary"])
    return store_policy(default_store(), Policy(deployment, **settings))


def retrain(deployment: str, *, trigger: str = "manual") -> Retrain:
    """Run the policy's pipeline now; a candidate that passes its gates goes out as a canary."""
    from .loop import retrain as run_retrain

    return run_retrain(default_store(), deployment, trigger=trigger)
