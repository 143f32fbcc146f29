"""Monitoring: drift, data quality and performance of what a model sees, and the loop.

    from loopml import monitoring
    result = monitoring.report(reference_frame, current_frame)    # two DataFrames
    run = loopml.monitor("churn-prod", window="1h")                # a deployment's log

Names load on first use (PEP 562), so importing the package stays cheap. The
submodules ``monitor`` and ``profile`` are reached as modules
(``loopml.monitoring.profile.profile(frame)``); ``loopml.monitor`` runs a monitor.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "DriftOptions": "drift",
    "FeatureDrift": "drift",
    "feature_drift": "drift",
    "psi": "drift",
    "ColumnQuality": "drift_report",
    "MonitorReport": "drift_report",
    "report": "drift_report",
    "RankedFeature": "drift_report",
    "model_importance": "importance",
    "Profile": "profile",
    "profile_dask": "profile",
    "report_from_profiles": "profile_drift",
    "performance_over_time": "performance",
    "detect_changes": "changes",
    "ChangePoint": "changes",
    "ChangeOptions": "changes",
    "PerformancePoint": "performance",
    "infer_task": "performance",
    "CBPE": "cbpe",
    "MonitorRun": "monitor",
    "Policy": "policy",
    "set_policy": "sdk",
    "retrain": "sdk",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'loopml.monitoring' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from .cbpe import CBPE as CBPE
    from .changes import ChangeOptions as ChangeOptions
    from .changes import ChangePoint as ChangePoint
    from .changes import detect_changes as detect_changes
    from .drift import DriftOptions as DriftOptions
    from .drift import FeatureDrift as FeatureDrift
    from .drift import feature_drift as feature_drift
    from .drift import psi as psi
    from .drift_report import ColumnQuality as ColumnQuality
    from .drift_report import MonitorReport as MonitorReport
    from .drift_report import RankedFeature as RankedFeature
    from .drift_report import report as report
    from .importance import model_importance as model_importance
    from .monitor import MonitorRun as MonitorRun
    from .performance import PerformancePoint as PerformancePoint
    from .performance import infer_task as infer_task
    from .performance import performance_over_time as performance_over_time
    from .policy import Policy as Policy
    from .profile import Profile as Profile
    from .profile import profile_dask as profile_dask
    from .profile_drift import report_from_profiles as report_from_profiles
    from .sdk import retrain as retrain
    from .sdk import set_policy as set_policy
