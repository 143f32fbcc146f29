"""Concept drift on the error stream: where a deployed model started to err more.

The labelled rows of ``loopml.predictions(deployment)``, oldest first, become an error
stream (classification: 1 where the prediction is wrong; regression: the absolute
error) fed to river's ADWIN, Page-Hinkley and, for classification, DDM::

    detect_changes(loopml.predictions("churn-prod", since="30d"))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidInput
from .performance import finite, prediction_frame, prediction_targets

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ChangeOptions", "ChangePoint", "detect_changes"]


@dataclass(frozen=True)
class ChangeOptions:
    """Parameters of the change detectors, chosen on simulated error streams.

    Figures are from 100 seeded streams of 4,000 rows with an error rate of 0.1 that
    jumps to 0.35 halfway (delay of the first alarm after the change: median / worst),
    and 100 stationary streams at 0.1 (false alarms, all streams together).

    - ADWIN: river's ``delta`` of 0.002, checked on every row (``clock=1``: river's 32
      is cheaper but reports up to 31 rows late). Delay 67 / 147 rows; no false alarm.
    - Page-Hinkley: one-sided (only a rise in error is a change) and without forgetting
      (``alpha=1``: with river's 0.9999 the cumulative sum loses its downward drift after
      ~10,000 rows and false alarms follow; 87 on 50 stationary streams of 20,000 rows,
      against 3 without). ``threshold`` and ``delta`` are in standard deviations of the
      error over the first ``scale_rows`` labelled rows, so one setting serves 0/1 errors
      and absolute errors in any unit; river's fixed threshold of 50 is 167 standard
      deviations of a 10% error rate and a rounding error on house prices. Delay 33 / 98
      rows; 6 false alarms.
    - DDM (classification only): ``warm_start`` 300 and a drift level of 3.5 standard
      deviations. At river's 30 and 3.0 its minimum error rate is often taken from a
      lucky early stretch, after which the true rate looks like a rise: 18 false alarms
      on 30 stationary streams. At 300 / 3.5: delay 139 / 366 rows; 6 false alarms.

    ``window`` labelled rows from a detection on give its ``error_after``.
    """

    adwin_delta: float = 0.002
    page_hinkley_threshold: float = 25.0
    page_hinkley_delta: float = 0.25
    ddm_warm_start: int = 300
    ddm_threshold: float = 3.5
    scale_rows: int = 200
    window: int = 200

    def __post_init__(self) -> None:
        if not 0 < self.adwin_delta < 1:
            raise InvalidInput(f"adwin_delta {self.adwin_delta} must be between 0 and 1")
        for name in ("page_hinkley_threshold", "page_hinkley_delta", "ddm_threshold"):
            if not getattr(self, name) > 0:
                raise InvalidInput(f"{name} {getattr(self, name)} must be positive")
        for name in ("ddm_warm_start", "scale_rows", "window"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise InvalidInput(f"{name} {getattr(self, name)} must be a whole number >= 1")


@dataclass(frozen=True)
class ChangePoint:
    """A detector's alarm: where it fired and the error on either side.

    ``index`` is the row's label in the frame passed in (``frame.loc[point.index]``),
    ``position`` how many labelled rows came before it. ``error_before`` is the error rate
    (classification) or mean absolute error (regression) since this detector's previous
    alarm (or the first labelled row), ``error_after`` that of the ``window`` labelled
    rows from this one on. An alarm comes some rows after the change, so ``error_before``
    includes those few rows of the new regime.
    """

    detector: str
    index: Any
    position: int
    time: datetime
    error_before: float
    error_after: float

    def to_dict(self) -> dict[str, Any]:
        index = self.index
        return {
            "detector": self.detector,
            "index": int(index) if isinstance(index, int | np.integer) else str(index),
            "position": self.position,
            "time": self.time.isoformat(),
            "error_before": finite(self.error_before),
            "error_after": finite(self.error_after),
        }


DETECTORS = ("adwin", "page_hinkley", "ddm")


def detect_changes(
    frame: pd.DataFrame,
    *,
    task: str | None = None,
    detectors: Sequence[str] | None = None,
    options: ChangeOptions | None = None,
) -> list[ChangePoint]:
    """Concept-drift alarms on the model's errors, in time order.

    The labelled rows, oldest first, become an error stream (classification: 1 where the
    prediction is wrong, else 0; regression: the absolute error) fed one value at a time
    to river's ADWIN, Page-Hinkley and, for classification only, DDM. ``detectors``
    defaults to every one that applies; naming DDM for a regression is an error. A frame
    with no labelled row has no errors to watch and gives ``[]``.

    Detectors fire some rows after the change, not on it: see :class:`ChangeOptions` for
    the delays and false alarms measured at the default settings.
    """
    options = options or ChangeOptions()
    data = prediction_frame(frame, ("time", "prediction", "label"))
    targets = prediction_targets(data, task)
    names = _detector_names(detectors, targets.task)
    rows = np.flatnonzero(targets.labelled)
    if not len(rows):
        return []
    truth, predicted = targets.labels[rows], targets.predictions[rows]
    if targets.task == "regression":
        errors = np.abs(truth.astype(float) - predicted.astype(float))
    else:
        errors = (truth != predicted).astype(float)
    points = []
    for name in names:
        detector = _detector(name, errors, targets.task, options)
        previous = 0
        for position in _alarms(detector, errors):
            row = rows[position]
            points.append(
                ChangePoint(
                    detector=name,
                    index=data.index[row],
                    position=position,
                    time=data["time"].iloc[row],
                    error_before=float(errors[previous:position].mean()),
                    error_after=float(errors[position : position + options.window].mean()),
                )
            )
            previous = position
    return sorted(points, key=lambda point: (point.position, DETECTORS.index(point.detector)))


def _alarms(detector: Any, errors: np.ndarray) -> list[int]:
    """The positions at which ``detector``, fed ``errors`` in order, fires."""
    fired = []
    for position, error in enumerate(errors.tolist()):
        detector.update(error)
        if detector.drift_detected:
            fired.append(position)
    return fired


def _detector_names(detectors: Sequence[str] | None, task: str) -> list[str]:
    if detectors is None:
        return [name for name in DETECTORS if task != "regression" or name != "ddm"]
    if isinstance(detectors, str):
        detectors = [detectors]
    for name in detectors:
        if name not in DETECTORS:
            raise InvalidInput(
                f"unknown change detector {name!r}", hint=f"choose from {', '.join(DETECTORS)}"
            )
    if task == "regression" and "ddm" in detectors:
        raise InvalidInput(
            "DDM watches a stream of right/wrong and cannot follow a regression's errors",
            hint="use detectors=('adwin', 'page_hinkley') for a regression",
        )
    return list(dict.fromkeys(detectors))


def _detector(name: str, errors: np.ndarray, task: str, options: ChangeOptions) -> Any:
    from river import drift

    if name == "adwin":
        return drift.ADWIN(delta=options.adwin_delta, clock=1)
    if name == "ddm":
        return drift.binary.DDM(
            warm_start=options.ddm_warm_start, drift_threshold=options.ddm_threshold
        )
    scale = error_scale(errors[: options.scale_rows], task)
    return drift.PageHinkley(
        min_instances=30,
        delta=options.page_hinkley_delta * scale,
        threshold=options.page_hinkley_threshold * scale,
        alpha=1.0,
        mode="up",
    )


def error_scale(errors: np.ndarray, task: str) -> float:
    """The standard deviation of the early errors, the unit of Page-Hinkley's settings.

    A run of early rows without one error would make it 0 and every later mistake an
    alarm, so a classifier's error rate is floored at 1% and a regression's spread falls
    back on its mean absolute error, then on 1.
    """
    if task != "regression":
        rate = min(max(float(errors.mean()), 0.01), 0.99)
        return math.sqrt(rate * (1 - rate))
    return float(errors.std()) or float(errors.mean()) or 1.0
