"""The UI's route table: every page at its path and, with ``.json`` added, its JSON twin.

A page handler is a plain function ``(request, store) -> Page``. Starlette runs such
endpoints in its thread pool, so the blocking store reads never hold up the event
loop. Errors from the services (:class:`~loopml.errors.LoopmlError`) become an error
page with the error's HTTP status, or the one JSON error shape on a ``.json`` path.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..errors import LoopmlError
from ..store import Store
from .pages import audit, compare, data, deployments, models, monitoring, overview, pipelines, runs
from .rendering import Page, error_response, html_page, json_page
from .static import static_file

Handler = Callable[[Request, Store], Page]

#: (path, handler). The ``.json`` twin of each is registered first, so that
#: ``/datasets/customers.json`` is the twin of ``/datasets/customers``.
PAGES: tuple[tuple[str, Handler], ...] = (
    ("/", overview.overview),
    ("/runs", runs.runs),
    ("/runs/{run_id}", runs.run),
    ("/compare", compare.compare),
    ("/experiments", runs.experiments),
    ("/datasets", data.datasets),
    ("/datasets/{name}", data.dataset),
    ("/datasets/{name}/diff", data.diff),
    ("/datasets/{name}/{version}", data.version),
    ("/pipelines", pipelines.pipeline_runs),
    ("/pipelines/runs/{run_id}", pipelines.pipeline_run),
    ("/models", models.models),
    ("/models/{name}", models.model),
    ("/models/{name}/{version}", models.version),
    ("/models/{name}/{version}/card", models.card),
    ("/deployments", deployments.deployments),
    ("/deployments/{name}", deployments.deployment),
    ("/monitoring", monitoring.monitoring),
    ("/monitoring/reports/{report_id}", monitoring.report),
    ("/monitoring/{deployment}", monitoring.deployment),
    ("/audit", audit.audit),
)


def ui_routes() -> list[BaseRoute]:
    """The web UI's routes, to mount at ``/``; each handler reads
    ``request.app.state.store``. The server authenticates before these run and may set
    ``request.state.user``, which the pages show with a sign-out link."""
    routes: list[BaseRoute] = [Route("/static/{name}", _static, name="static")]
    for path, handler in PAGES:
        twin = "/.json" if path == "/" else f"{path}.json"
        routes.append(Route(twin, _endpoint(handler, as_json=True), methods=["GET", "HEAD"]))
        routes.append(Route(path, _endpoint(handler, as_json=False), methods=["GET", "HEAD"]))
    return routes


def _endpoint(handler: Handler, *, as_json: bool) -> Callable[[Request], Response]:
    def endpoint(request: Request) -> Response:
        try:
            page = handler(request, request.app.state.store)
        except LoopmlError as exc:
            return error_response(request, exc, as_json=as_json)
        return json_page(page) if as_json else html_page(request, page)

    endpoint.__name__ = f"{handler.__name__}_json" if as_json else handler.__name__
    return endpoint


def _static(request: Request) -> Response:
    try:
        return static_file(request)
    except LoopmlError as exc:
        return error_response(request, exc, as_json=False)
