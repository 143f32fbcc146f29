"""Fixtures of the monitoring tests, on SQLite and PostgreSQL (see support.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

import loopml
from loopml.serving import deployments
from loopml.store import Store

from .support import DEPLOYMENT, INPUTS, MODEL, Production, build_production, customers, fit_churn


@pytest.fixture
def production(store: Store, project: Path) -> Production:
    """``customers@1``, ``churn/1`` trained on it (``champion``), ``churn-prod`` serving it."""
    return build_production(store, project)


@pytest.fixture
def deployed(store: Store, project: Path) -> Store:
    """Only ``churn-prod`` serving a churn/1 with no training data: for policies and loops
    that need a deployment and no predictions."""
    from loopml.registry import register

    frame = customers(200)
    model = fit_churn(frame)
    loopml.models.save(model, project / "saved", input_example=frame[INPUTS][:5])
    register(store, project / "saved", MODEL)
    deployments.create(store, DEPLOYMENT, f"{MODEL}/1")
    return store


@pytest.fixture
def steady(production: Production) -> Production:
    """800 predictions on customers like the training data, 600 of them labelled."""
    production.score(customers(800, seed=1), labelled=600)
    return production


@pytest.fixture
def drifted(production: Production) -> Production:
    """800 predictions on drifted customers (monthly and plan moved), 600 labelled."""
    production.score(customers(800, seed=2, drift=True), labelled=600)
    return production
