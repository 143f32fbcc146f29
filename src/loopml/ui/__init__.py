"""The web UI: server-rendered pages over the services, each with a JSON twin.

    from starlette.applications import Starlette
    from loopml.ui import ui_routes

    app = Starlette(routes=ui_routes())
    app.state.store = open_store()

Every page at ``/runs`` has its data at ``/runs.json`` (same query arguments). Pages are
HTML tables and Plotly charts; plotly.js is served from the installed ``plotly``
package, so the UI works offline, and no page has an inline script (the server may send
``Content-Security-Policy: script-src 'self'``). See docs/ui.md.
"""

from .routes import ui_routes as ui_routes

__all__ = ["ui_routes"]
