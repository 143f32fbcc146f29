"""Monitoring: drift and data quality of current data against a reference.

from loopml import monitoring
result = monitoring.report(reference, current)
"""

from __future__ import annotations

from .drift import DriftOptions, FeatureDrift, feature_drift, psi
from .report import ColumnQuality, MonitorReport, report

__all__ = [
    "ColumnQuality",
    "DriftOptions",
    "FeatureDrift",
    "MonitorReport",
    "feature_drift",
    "psi",
    "report",
]
