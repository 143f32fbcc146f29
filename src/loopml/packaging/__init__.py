"""Package a registered model as a Docker build context with Kubernetes manifests.

>>> result = build(store, "churn@champion", Path("dist/churn"))  # doctest: +SKIP
>>> result.image
'churn:3'

The context ``build`` writes::

    out/
      Dockerfile          python:3.11-slim, non-root, health check, serves on the port
      .dockerignore       only model/, wheels/ and requirements.txt reach the daemon
      README.md           docker build / docker run / kubectl apply
      requirements.txt    the model's pinned requirements, without loopml
      model/              the model folder, as registered
      wheels/loopml-<version>-py3-none-any.whl
      k8s/deployment.yaml k8s/service.yaml k8s/hpa.yaml
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .. import __version__
from ..errors import AlreadyExists, InvalidInput
from . import docker, kubernetes, wheel

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["BuildResult", "build"]


@dataclass(frozen=True)
class BuildResult:
    """What :func:`build` wrote: the context folder, its files, the image tag, the model."""

    out: Path
    files: list[Path]
    """Every file written, under ``out``, sorted."""
    image: str
    """The tag the README builds and the Deployment runs (``churn-model:3`` by default)."""
    model_uri: str
    """The version packaged, by number (``models:/churn/3`` for ``churn@champion``)."""


def build(
    store: Store,
    ref: str,
    out: str | os.PathLike[str],
    *,
    port: int = 8080,
    replicas: int = 2,
    image: str | None = None,
    cpu: str = "500m",
    memory: str = "512Mi",
) -> BuildResult:
    """Write a Docker build context for the registered model ``ref`` into the new folder ``out``.

    ``ref`` names a version (``churn@champion``, ``churn/3``, ``models:/churn/3``, or
    ``churn`` for the latest). ``port`` is the container's; ``replicas`` the Deployment's
    and the autoscaler's minimum (its maximum is five times that); ``cpu`` and ``memory``
    are both the requests and the limits of each pod. Nothing is written unless every
    file can be: ``out`` appears complete or not at all.

    Raises:
        NotFound: The model, version or alias does not exist.
        AlreadyExists: ``out`` exists and is not an empty folder.
        InvalidInput: A setting is out of range, or a requirement is not pinned.
    """
    from ..models.format import read_manifest, verify_folder
    from ..registry import RunRef, fetch, get_version, parse_model_ref

    target = Path(out)
    _refuse_existing(target)
    if isinstance(parse_model_ref(ref), RunRef):
        raise InvalidInput(
            f"{ref} names a run's model; only registered versions are packaged",
            hint="register it first: loopml.register('runs:/RUN/model', 'NAME')",
        )
    version = get_version(store, ref)
    folder, model_uri = fetch(store, version.uri)
    verify_folder(folder, read_manifest(folder))
    name = kubernetes.dns_name(version.name)
    tag = image if image is not None else kubernetes.default_image(version.name, version.version)
    manifests = kubernetes.manifests(
        model_name=version.name,
        version=version.version,
        model_uri=model_uri,
        image=tag,
        port=port,
        replicas=replicas,
        cpu=cpu,
        memory=memory,
    )
    wheel_file = wheel.wheel_name()
    texts = {
        "Dockerfile": docker.dockerfile(
            wheel=wheel_file, port=port, title=name, model_uri=model_uri
        ),
        ".dockerignore": docker.dockerignore(),
        "requirements.txt": docker.requirements_txt(folder),
        "README.md": docker.readme(
            name=name,
            image=tag,
            model_uri=model_uri,
            wheel=wheel_file,
            version=__version__,
            port=port,
            replicas=replicas,
            max_replicas=replicas * kubernetes.MAX_REPLICAS_FACTOR,
        ),
        **{f"k8s/{file}": text for file, text in manifests.items()},
    }

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        staging.chmod(0o755)
        shutil.copytree(
            folder, staging / "model", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
        (staging / "wheels").mkdir()
        wheel.build_wheel(staging / "wheels")
        for file, text in texts.items():
            path = staging / file
            path.parent.mkdir(exist_ok=True)
            path.write_text(text, "utf-8")
        _refuse_existing(target)
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    files = sorted(path for path in target.rglob("*") if path.is_file())
    return BuildResult(out=target, files=files, image=tag, model_uri=model_uri)


def _refuse_existing(target: Path) -> None:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise AlreadyExists(
            f"cannot build a model context in {target}: it exists and is not empty",
            hint="choose a new folder, or remove this one first",
        )
