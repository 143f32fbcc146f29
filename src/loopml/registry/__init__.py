"""The model registry: named models, numbered versions, aliases, promotion gates, rollback.

The functions here are the service operations; each takes a :class:`~loopml.store.Store`
first. ``loopml.register`` and the ``loopml models`` commands call them. They load on
first use, so resolving a model reference does not import the store. No module here is
named after a function it exports: importing the module would replace the attribute.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "alias_history": "aliases",
    "delete_alias": "aliases",
    "move_alias": "aliases",
    "rollback": "aliases",
    "set_alias": "aliases",
    "AliasMove": "entities",
    "ModelVersion": "entities",
    "Promotion": "entities",
    "RegisteredModel": "entities",
    "EvaluationRecord": "evaluations",
    "evaluate_version": "evaluations",
    "list_evaluations": "evaluations",
    "fetch": "cache",
    "approve": "promotion",
    "get_promotion": "promotion",
    "list_promotions": "promotion",
    "promote": "promotion",
    "reject": "promotion",
    "ModelRef": "refs",
    "RunRef": "refs",
    "parse_model_ref": "refs",
    "get_version": "versions",
    "list_models": "versions",
    "list_versions": "versions",
    "register": "versions",
    "set_description": "versions",
    "set_tags": "versions",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # the same names, eagerly, for type checkers and IDEs
    from .aliases import alias_history as alias_history
    from .aliases import delete_alias as delete_alias
    from .aliases import move_alias as move_alias
    from .aliases import rollback as rollback
    from .aliases import set_alias as set_alias
    from .cache import fetch as fetch
    from .entities import AliasMove as AliasMove
    from .entities import ModelVersion as ModelVersion
    from .entities import Promotion as Promotion
    from .entities import RegisteredModel as RegisteredModel
    from .evaluations import EvaluationRecord as EvaluationRecord
    from .evaluations import evaluate_version as evaluate_version
    from .evaluations import list_evaluations as list_evaluations
    from .promotion import approve as approve
    from .promotion import get_promotion as get_promotion
    from .promotion import list_promotions as list_promotions
    from .promotion import promote as promote
    from .promotion import reject as reject
    from .refs import ModelRef as ModelRef
    from .refs import RunRef as RunRef
    from .refs import parse_model_ref as parse_model_ref
    from .versions import get_version as get_version
    from .versions import list_models as list_models
    from .versions import list_versions as list_versions
    from .versions import register as register
    from .versions import set_description as set_description
    from .versions import set_tags as set_tags


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'loopml.registry' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
