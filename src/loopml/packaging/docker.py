"""The Docker side of a model's build context: Dockerfile, .dockerignore, requirements, README.

The Dockerfile passes ``hadolint`` with its default rules: a pinned base tag, one
``pip install --no-cache-dir`` layer, a numeric non-root user, a health check in Python
(the slim image has no curl), and JSON-form ``ENTRYPOINT``/``CMD``.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import jinja2

from ..errors import InvalidInput

BASE_IMAGE = "python:3.11-slim"
UID = 10001
MODEL_DIR = "/opt/model"
READY_PATH = "/v2/health/ready"
LIVE_PATH = "/v2/health/live"
_PINNED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._,-]+\])?==[^\s=;,]+$")


def check_port(port: int) -> int:
    """``port`` if a non-root container can listen on it, else :class:`InvalidInput`."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1024 <= port <= 65535:
        raise InvalidInput(
            f"port {port!r} cannot be served by the image",
            hint="pick a port from 1024 to 65535 (the container runs as a non-root user, "
            "which cannot bind lower ports); the Service still listens on 80",
        )
    return port


def requirements_txt(folder: Path) -> str:
    """The model's ``requirements.txt`` without loopml (the image installs it from the
    wheel); every line must pin one version with ``==`` so that builds repeat."""
    lines = []
    source = folder / "requirements.txt"
    text = source.read_text("utf-8") if source.is_file() else ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not _PINNED.match(line):
            raise InvalidInput(
                f"requirement {line!r} of the model in {folder} is not pinned to one version",
                hint="save the model with extra_requirements pinned as name==version",
            )
        if _canonical(line.partition("==")[0].partition("[")[0]) != "loopml":
            lines.append(line)
    return "".join(f"{line}\n" for line in lines)


def dockerfile(*, wheel: str, port: int, title: str, model_uri: str) -> str:
    """The Dockerfile: install the wheel and the requirements, copy the model, serve it."""
    return _render(
        "Dockerfile.j2",
        base_image=BASE_IMAGE,
        uid=UID,
        wheel=wheel,
        port=check_port(port),
        title=title,
        model_uri=model_uri,
        model_dir=MODEL_DIR,
        ready_path=READY_PATH,
    )


def dockerignore() -> str:
    """Send the daemon only what the Dockerfile copies (not ``k8s/`` or the README)."""
    return _render("dockerignore.j2")


def readme(
    *,
    name: str,
    image: str,
    model_uri: str,
    wheel: str,
    version: str,
    port: int,
    replicas: int,
    max_replicas: int,
) -> str:
    """How to build, run and deploy this context."""
    return _render(
        "README.md.j2",
        title=name,
        name=name,
        image=image,
        model_uri=model_uri,
        wheel=wheel,
        version=version,
        base_image=BASE_IMAGE,
        uid=UID,
        port=port,
        replicas=replicas,
        max_replicas=max_replicas,
        model_dir=MODEL_DIR,
        ready_path=READY_PATH,
        live_path=LIVE_PATH,
    )


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("loopml.packaging", "templates"),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def _render(template: str, **values: object) -> str:
    return _environment().get_template(template).render(**values)
