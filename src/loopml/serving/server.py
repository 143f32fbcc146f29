"""Running the scoring app under uvicorn: from a deployment, a model reference or a folder.

    loopml serve models:/churn@champion          # serves (and creates) deployment 'churn'
    loopml serve --deployment churn-prod --port 8080

uvicorn stops on SIGTERM by finishing the requests in flight, then the app's shutdown
writes every queued prediction to the log: nothing logged is lost on a normal stop.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from ..errors import Conflict, InvalidInput
from .app import ScoringService, ServerSettings, build_app
from .predlog import PredictionLog
from .runtime import FolderSource, Runtime, StoreSource


def deployment_for(store: Any, model: str | None, deployment: str | None) -> str:
    """The deployment to serve: ``deployment``, or one named after ``model`` (made if new)."""
    from ..registry.refs import ModelRef, parse_model_ref
    from .deployments import check_deployment_name, ensure, get

    if model is None:
        if deployment is None:
            raise InvalidInput(
                "name a model or a deployment to serve",
                hint="loopml serve models:/churn@champion, or loopml serve --deployment churn-prod",
            )
        get(store, check_deployment_name(deployment))
        return deployment
    ref = parse_model_ref(model)
    if not isinstance(ref, ModelRef):
        raise InvalidInput(
            f"serve a registered model, not {model}",
            hint="register it: loopml models register NAME " + model,
        )
    name = check_deployment_name(deployment or ref.name)
    serving = ensure(store, name, str(ref)).spec.variants
    if [(v.model, v.weight) for v in serving] != [(str(ref), 100)]:
        shown = ", ".join(f"{v.name}={v.model}:{v.weight}%" for v in serving)
        raise Conflict(
            f"deployment '{name}' exists and serves {shown}, not {ref}",
            hint=f"serve it as it is: loopml serve --deployment {name}; or give this model "
            "its own deployment: loopml serve MODEL --deployment NEW-NAME",
        )
    return name


def make_app(
    store: Any,
    deployment: str,
    *,
    log: bool = True,
    settings: ServerSettings | None = None,
) -> Starlette:
    """The scoring app of ``deployment`` in ``store`` (tests run it in-process)."""
    runtime = Runtime(StoreSource(store, deployment))
    predictions = PredictionLog(store, deployment) if log else None
    service = ScoringService(runtime, log=predictions, store=store, settings=settings)
    return build_app(service)


def folder_app(
    folder: Path,
    name: str = "model",
    *,
    store: Any = None,
    settings: ServerSettings | None = None,
) -> Starlette:
    """The scoring app of one saved model folder; with ``store``, predictions are logged
    there under ``name`` and feedback is taken."""
    runtime = Runtime(FolderSource(folder, name))
    predictions = PredictionLog(store, name) if store is not None else None
    return build_app(ScoringService(runtime, log=predictions, store=store, settings=settings))


def run(app: Starlette, host: str, port: int) -> None:
    """Serve ``app`` until SIGTERM or Ctrl-C, with uvloop and httptools when installed."""
    import uvicorn

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        http="httptools" if importlib.util.find_spec("httptools") else "h11",
        log_level=os.environ.get("LOOPML_SERVER_LOG_LEVEL", "warning"),
        access_log=False,
        timeout_graceful_shutdown=30,
        server_header=False,
    )
    uvicorn.Server(config).run()


def serve_folder(folder: Path, port: int, host: str = "0.0.0.0") -> None:
    """Serve the model saved in ``folder`` (the container image's entrypoint calls this).

    A container has no loopml project; when ``LOOPML_DB_URL`` or ``LOOPML_HOME`` points
    at a store, predictions are logged there under ``LOOPML_DEPLOYMENT`` (default: the
    folder's name), so replicas in a cluster share one prediction log.
    """
    folder = Path(folder)
    name = os.environ.get("LOOPML_DEPLOYMENT") or folder.name or "model"
    store = None
    if os.environ.get("LOOPML_DB_URL") or os.environ.get("LOOPML_HOME"):
        from ..store import open_store

        store = open_store(create=True)
    run(folder_app(folder, name, store=store), host, port)
