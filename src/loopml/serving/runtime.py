"""What a server process serves right now, and how it follows changes without a restart.

A :class:`Routing` is an immutable table: the deployment's revision, each variant with
its loaded model, and the cumulative weights to pick one. A request reads the current
table once and keeps it, so swapping in a new table never disturbs a request in flight.

:meth:`Runtime.refresh` re-reads the deployment and re-resolves every variant's model
reference (an alias may have moved, a version may have been rolled back). When anything
differs it loads the models it does not hold yet — outside the request path — and only
then swaps the table. Models are kept by manifest hash, so a variant that stays the
same is not reloaded, and an idle blue-green colour stays warm for an instant switch back.
"""

from __future__ import annotations

import random
import threading
import zlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, NotFound
from ..models.loaded import LoadedModel, load_folder
from .scoring import Scorer
from .spec import Canary, DeploymentSpec, Variant


@dataclass(frozen=True)
class Served:
    """A variant with its model loaded."""

    name: str
    weight: int
    shadow: bool
    ref: str
    model_name: str
    version: int
    digest: str
    model: LoadedModel
    scorer: Scorer

    @property
    def version_label(self) -> str:
        return str(self.version)

    def to_dict(self) -> dict[str, Any]:
        return {
            "variant": self.name,
            "weight": self.weight,
            "shadow": self.shadow,
            "model": self.ref,
            "version": f"{self.model_name}/{self.version}",
            "flavor": self.model.flavor,
        }


@dataclass(frozen=True)
class Routing:
    deployment: str
    revision: int
    variants: tuple[Served, ...]
    sticky: tuple[str, str] | None
    canary: Canary | None
    key: tuple[Any, ...]
    strategy: str = "single"  # the spec's, as a person would describe it

    # Computed once per routing table, not per request (the table never changes).
    @cached_property
    def live(self) -> tuple[Served, ...]:
        return tuple(v for v in self.variants if not v.shadow and v.weight > 0)

    @cached_property
    def shadows(self) -> tuple[Served, ...]:
        return tuple(v for v in self.variants if v.shadow)

    def choose(self, key: Any = None) -> Served:
        """The live variant for a request: by the hash of its sticky key, else at random."""
        live = self.live
        if len(live) == 1:
            return live[0]
        point = zlib.crc32(str(key).encode()) % 100 if key is not None else random.randrange(100)
        total = 0
        for variant in live:
            total += variant.weight
            if point < total:
                return variant
        return live[-1]

    def mirrored(self) -> list[Served]:
        """The shadow variants this request is copied to (each by its share)."""
        if not self.shadows:
            return []
        return [v for v in self.shadows if v.weight >= 100 or random.randrange(100) < v.weight]

    def by_version(self, version: str) -> Served | None:
        for variant in self.variants:
            if not variant.shadow and str(variant.version) == version:
                return variant
        return None

    @cached_property
    def model_names(self) -> set[str]:
        return {v.model_name for v in self.variants}


class Source:
    """Where the deployment's spec and models come from: the store, or one folder."""

    name: str

    def snapshot(self) -> tuple[int, DeploymentSpec, dict[str, tuple[str, int, str]]]:
        raise NotImplementedError

    def folder(self, digest: str) -> Path:
        raise NotImplementedError


class StoreSource(Source):
    def __init__(self, store: Any, deployment: str) -> None:
        self.store = store
        self.name = deployment

    def snapshot(self) -> tuple[int, DeploymentSpec, dict[str, tuple[str, int, str]]]:
        from .deployments import snapshot

        return snapshot(self.store, self.name)

    def folder(self, digest: str) -> Path:
        from ..registry.cache import materialize

        return materialize(self.store, digest)


class FolderSource(Source):
    """A single saved model folder, as in a container image: nothing to follow."""

    def __init__(self, folder: Path, name: str | None = None) -> None:
        self.path = Path(folder)
        self.name = name or "model"

    def snapshot(self) -> tuple[int, DeploymentSpec, dict[str, tuple[str, int, str]]]:
        from ..artifacts.hashing import hash_file
        from ..models.format import MANIFEST

        digest = hash_file(self.path / MANIFEST)
        spec = DeploymentSpec(variants=(Variant("main", self.name, 100),))
        return 1, spec, {self.name: (self.name, 1, digest)}

    def folder(self, digest: str) -> Path:
        return self.path


class Runtime:
    """The current :class:`Routing` of one server process."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.routing: Routing | None = None
        self.error: str | None = None
        self._models: dict[str, tuple[LoadedModel, Scorer]] = {}
        self._lock = threading.Lock()
        self.loaded = threading.Event()

    @property
    def name(self) -> str:
        return self.source.name

    def refresh(self) -> bool:
        """Re-read the deployment; swap in a new routing if it changed. True if swapped."""
        with self._lock:
            try:
                revision, spec, resolved = self.source.snapshot()
                key = (revision, tuple(sorted((k, v[2]) for k, v in resolved.items())))
                if self.routing is not None and self.routing.key == key:
                    self.error = None
                    return False
                routing = self._build(revision, spec, resolved, key)
            except (InvalidInput, NotFound) as error:
                self.error = str(error)
                return False
            except Exception as error:  # a broken model must not take down the server
                self.error = f"{type(error).__name__}: {error}"
                return False
            self.routing = routing
            self.error = None
            self.loaded.set()
            return True

    def _build(
        self,
        revision: int,
        spec: DeploymentSpec,
        resolved: dict[str, tuple[str, int, str]],
        key: tuple[Any, ...],
    ) -> Routing:
        served = []
        wanted = set()
        for variant in spec.variants:
            model_name, version, digest = resolved[variant.model]
            wanted.add(digest)
            if digest not in self._models:
                folder = self.source.folder(digest)
                model = load_folder(folder, f"models:/{model_name}/{version}")
                self._models[digest] = (model, Scorer(model))
            model, scorer = self._models[digest]
            served.append(
                Served(
                    variant.name,
                    variant.weight,
                    variant.shadow,
                    variant.model,
                    model_name,
                    version,
                    digest,
                    model,
                    scorer,
                )
            )
        for digest in set(self._models) - wanted:  # a model no variant uses any more
            del self._models[digest]
        sticky = None
        if spec.sticky:
            kind, _, name = spec.sticky.partition(":")
            sticky = (kind, name.lower() if kind == "header" else name)
        return Routing(
            self.source.name, revision, tuple(served), sticky, spec.canary, key, spec.strategy
        )
