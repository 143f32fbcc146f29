"""The model registry: named models, numbered versions, aliases, promotion gates, rollback.

The functions here are the service operations; each takes a :class:`~loopml.store.Store`
first. ``loopml.register`` and the ``loopml models`` commands call them.
"""

from .aliases import alias_history, delete_alias, move_alias, rollback, set_alias
from .entities import AliasMove, ModelVersion, Promotion, RegisteredModel
from .evaluations import EvaluationRecord, evaluate_version, list_evaluations
from .fetch import fetch
from .promotion import approve, get_promotion, list_promotions, promote, reject
from .refs import ModelRef, RunRef, parse_model_ref
from .versions import get_version, list_models, list_versions, register, set_description, set_tags

__all__ = [
    "AliasMove",
    "EvaluationRecord",
    "ModelRef",
    "ModelVersion",
    "Promotion",
    "RegisteredModel",
    "RunRef",
    "alias_history",
    "approve",
    "delete_alias",
    "evaluate_version",
    "fetch",
    "get_promotion",
    "get_version",
    "list_evaluations",
    "list_models",
    "list_promotions",
    "list_versions",
    "move_alias",
    "parse_model_ref",
    "promote",
    "register",
    "reject",
    "rollback",
    "set_alias",
    "set_description",
    "set_tags",
]
