"""loopml: the whole machine-learning lifecycle loop in one package.

The public SDK is re-exported here. Heavy libraries (SQLAlchemy, pandas, pyarrow) load
on first use, so ``import loopml`` stays fast enough for CLIs and notebooks alike.

>>> import loopml
>>> with loopml.start_run(experiment="churn", params={"max_depth": 6}) as run:  # doctest: +SKIP
...     run.log_metric("auc", 0.91)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> module that defines it; resolved on first attribute access (PEP 562).
_EXPORTS: dict[str, str] = {
    "start_run": "loopml.tracking.fluent",
    "end_run": "loopml.tracking.fluent",
    "active_run": "loopml.tracking.fluent",
    "log_param": "loopml.tracking.fluent",
    "log_params": "loopml.tracking.fluent",
    "log_metric": "loopml.tracking.fluent",
    "log_metrics": "loopml.tracking.fluent",
    "set_tag": "loopml.tracking.fluent",
    "set_tags": "loopml.tracking.fluent",
    "log_artifact": "loopml.tracking.fluent",
    "log_dict": "loopml.tracking.fluent",
    "log_text": "loopml.tracking.fluent",
    "log_figure": "loopml.tracking.fluent",
    "log_table": "loopml.tracking.fluent",
    "flush_metrics": "loopml.tracking.fluent",
    "get_run": "loopml.tracking.fluent",
    "search_runs": "loopml.tracking.fluent",
    "ActiveRun": "loopml.tracking.fluent",
    "Run": "loopml.tracking.entities",
    "Experiment": "loopml.tracking.entities",
    "open_store": "loopml.store",
    "default_store": "loopml.store",
    "Store": "loopml.store",
    "LoopmlError": "loopml.errors",
    "step": "loopml.pipelines.steps",
    "pipeline": "loopml.pipelines.graph",
    "tune": "loopml.pipelines.tuning",
    "register": "loopml.registry.sdk",
    "promote": "loopml.registry.sdk",
    "evaluate": "loopml.models",
    "load_model": "loopml.models",
    "log_model": "loopml.models",
    "predictions": "loopml.serving.sdk",
    "feedback": "loopml.serving.sdk",
    "monitor": "loopml.monitoring.sdk",
}
# Subpackages reachable as attributes (``loopml.models.save``) without an explicit import.
_SUBPACKAGES = frozenset({"data", "models", "monitoring", "registry", "serving"})

__all__ = sorted([*_EXPORTS, *_SUBPACKAGES, "__version__"])

if TYPE_CHECKING:  # the same names, eagerly, for type checkers and IDEs
    from . import data as data
    from . import models as models
    from . import monitoring as monitoring
    from . import registry as registry
    from . import serving as serving
    from .errors import LoopmlError as LoopmlError
    from .models import evaluate as evaluate
    from .models import load_model as load_model
    from .models import log_model as log_model
    from .monitoring.sdk import monitor as monitor
    from .pipelines.graph import pipeline as pipeline
    from .pipelines.steps import step as step
    from .pipelines.tuning import tune as tune
    from .registry.sdk import promote as promote
    from .registry.sdk import register as register
    from .serving.sdk import feedback as feedback
    from .serving.sdk import predictions as predictions
    from .store import Store as Store
    from .store import default_store as default_store
    from .store import open_store as open_store
    from .tracking.entities import Experiment as Experiment
    from .tracking.entities import Run as Run
    from .tracking.fluent import ActiveRun as ActiveRun
    from .tracking.fluent import active_run as active_run
    from .tracking.fluent import end_run as end_run
    from .tracking.fluent import flush_metrics as flush_metrics
    from .tracking.fluent import get_run as get_run
    from .tracking.fluent import log_artifact as log_artifact
    from .tracking.fluent import log_dict as log_dict
    from .tracking.fluent import log_figure as log_figure
    from .tracking.fluent import log_metric as log_metric
    from .tracking.fluent import log_metrics as log_metrics
    from .tracking.fluent import log_param as log_param
    from .tracking.fluent import log_params as log_params
    from .tracking.fluent import log_table as log_table
    from .tracking.fluent import log_text as log_text
    from .tracking.fluent import search_runs as search_runs
    from .tracking.fluent import set_tag as set_tag
    from .tracking.fluent import set_tags as set_tags
    from .tracking.fluent import start_run as start_run


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"loopml.{name}")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'loopml' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return __all__
