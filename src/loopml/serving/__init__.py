"""Serving: deployments over model versions, the scoring server, the prediction log.

from loopml import serving
serving.deployments.create(store, "churn-prod", "churn@champion")
loopml.predictions("churn-prod", since="1h")
"""

from __future__ import annotations

from pathlib import Path


def serve_folder(folder: Path, port: int, host: str = "0.0.0.0") -> None:
    """Serve one saved model folder; what the container image's entrypoint runs."""
    from .server import serve_folder as run

    run(folder, port, host)


__all__ = ["serve_folder"]
