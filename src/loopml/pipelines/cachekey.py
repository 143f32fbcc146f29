"""Cache keys: what a step's result depends on, kept in parts so a miss can be explained.

A key covers the step's own source, the source of every function and class it reaches in
the project's own modules (found by walking the global names of their syntax trees, so
editing a helper invalidates the steps that call it), its params, the hashes of its input
artifacts, and the versions of the third-party packages that code refers to. Sources are
compared as normalised syntax trees: comments, formatting and docstrings do not count.
"""

from __future__ import annotations

import ast
import inspect
import json
import sys
import textwrap
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blake3 import blake3

from ..tracking.environment import _installed
from .loading import FILE_MODULE_PREFIX

PART_NAMES = ("source", "code", "params", "inputs", "packages")
_CONSTANTS = (int, float, str, bytes, bool, tuple, list, dict, frozenset, set, type(None))


@dataclass(frozen=True)
class CodeFingerprint:
    """The code half of a key, computed once per step function per process."""

    source: str
    code: dict[str, str] = field(default_factory=dict)  # qualified name -> source hash
    packages: dict[str, str] = field(default_factory=dict)  # distribution -> version


def fingerprint(func: Callable[..., Any], project_root: Path) -> CodeFingerprint:
    cached = _fingerprints.get((func, project_root))
    if cached is None:
        walker = _Walker(project_root)
        source = walker.source_hash(func)
        walker.visit_globals(func)
        cached = CodeFingerprint(source, dict(sorted(walker.code.items())), walker.packages())
        _fingerprints[(func, project_root)] = cached
    return cached


def key_parts(
    code: CodeFingerprint, params: Mapping[str, Any], inputs: Mapping[str, str]
) -> dict[str, Any]:
    parts = {
        "source": code.source,
        "code": code.code,
        "params": dict(sorted(params.items())),
        "inputs": dict(sorted(inputs.items())),
        "packages": code.packages,
    }
    # As they are stored (a param without a JSON form by its repr), so that the parts
    # compare equal to a stored run's and travel to a team server as they are.
    return json.loads(canonical_json(parts))


def cache_key(parts: Mapping[str, Any]) -> str:
    return blake3(canonical_json(parts).encode()).hexdigest()


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=repr)


def differences(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """What changed between two keys' parts, in words, most telling first."""
    found: list[str] = []
    if before.get("source") != after.get("source"):
        found.append("the step's source changed")
    found += _dict_changes("helper", before.get("code", {}), after.get("code", {}))
    found += _dict_changes("param", before.get("params", {}), after.get("params", {}))
    found += _dict_changes("input", before.get("inputs", {}), after.get("inputs", {}))
    found += _dict_changes("package", before.get("packages", {}), after.get("packages", {}))
    return found


def _dict_changes(kind: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    changes = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if kind in ("helper", "input"):
            verb = "added" if old is None else "removed" if new is None else "changed"
            changes.append(f"{kind} {name} {verb}")
        else:
            changes.append(f"{kind} {name}: {_short(old)} -> {_short(new)}")
    return changes


def _short(value: Any) -> str:
    text = "(none)" if value is None else json.dumps(value, default=repr)
    return text if len(text) <= 60 else text[:57] + "..."


class _Walker:
    def __init__(self, project_root: Path) -> None:
        self.root = project_root.resolve()
        self.code: dict[str, str] = {}
        self.modules: set[str] = set()
        self._seen: set[int] = set()

    def source_hash(self, obj: Any) -> str:
        tree = _syntax_tree(obj)
        return blake3(ast.dump(tree, annotate_fields=False).encode()).hexdigest()

    def visit_globals(self, obj: Any) -> None:
        """Follow the global names ``obj``'s code refers to."""
        if id(obj) in self._seen:
            return
        self._seen.add(id(obj))
        namespace = getattr(inspect.getmodule(obj), "__dict__", {})
        if isinstance(obj, types.FunctionType):
            namespace = obj.__globals__
        for chain in _global_chains(_syntax_tree(obj)):
            self._resolve(chain, namespace)

    def _resolve(self, chain: list[str], namespace: Mapping[str, Any]) -> None:
        if chain[0] not in namespace:
            return  # a builtin, or a name bound at run time
        target = namespace[chain[0]]
        for attribute in chain[1:]:  # mod.helper, mod.sub.helper: follow into modules only
            if not isinstance(target, types.ModuleType) or not hasattr(target, attribute):
                break
            target = getattr(target, attribute)
        if isinstance(target, _CONSTANTS):
            # A project-level constant (THRESHOLD = 0.5) is code too: editing it counts.
            module = sys.modules.get(namespace.get("__name__", ""))
            if module is not None and self._in_project(module):
                name = f"{self._label(module)}.{'.'.join(chain)}"
                self.code[name] = blake3(repr(target).encode()).hexdigest()
            return
        self._note(target)

    def _note(self, target: Any) -> None:
        target = getattr(target, "__wrapped__", getattr(target, "func", target))
        if isinstance(target, types.ModuleType):
            module_name = target.__name__
        elif isinstance(target, type | types.FunctionType):
            module_name = getattr(target, "__module__", None) or ""
        else:
            module_name = type(target).__module__ or ""
            target = None
        module = sys.modules.get(module_name)
        if module is None:
            return
        if self._in_project(module):
            if target is not None and not isinstance(target, types.ModuleType):
                name = f"{self._label(module)}.{target.__qualname__}"
                if name not in self.code:
                    try:
                        self.code[name] = self.source_hash(target)
                    except (OSError, TypeError):
                        return  # defined where no source is available (a REPL)
                    self.visit_globals(target)
        else:
            self.modules.add(module_name.partition(".")[0])

    def _label(self, module: types.ModuleType) -> str:
        """The module's name in a key. A pipeline file (loaded by path under a name with a
        hash of its location, or run as ``__main__``) is named by its path in the project,
        so the same code has the same key wherever the project is checked out."""
        name = module.__name__
        if name != "__main__" and not name.startswith(FILE_MODULE_PREFIX):
            return name
        relative = Path(str(module.__file__)).resolve().relative_to(self.root)
        return ".".join(relative.with_suffix("").parts)

    def _in_project(self, module: types.ModuleType) -> bool:
        file = getattr(module, "__file__", None)
        if not file:
            return False
        path = Path(file).resolve()
        if "site-packages" in path.parts or "dist-packages" in path.parts:
            return False
        return path.is_relative_to(self.root)

    def packages(self) -> dict[str, str]:
        owners, versions = _installed()
        found: dict[str, str] = {}
        for top in self.modules:
            if top in sys.stdlib_module_names or top.startswith("_"):
                continue
            for dist in owners.get(top, ()):
                if dist in versions:
                    found[dist] = versions[dist]
        return dict(sorted(found.items()))


def _syntax_tree(obj: Any) -> ast.AST:
    obj = inspect.unwrap(obj)
    tree = ast.parse(textwrap.dedent(inspect.getsource(obj)))
    node = tree.body[0]
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        node.decorator_list = []  # retries or a timeout do not change the result
        _drop_docstrings(node)
    return node


def _drop_docstrings(node: ast.AST) -> None:
    for child in ast.walk(node):
        body = getattr(child, "body", None)
        if (
            isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            child.body = body[1:] or [ast.Pass()]


def _global_chains(tree: ast.AST) -> list[list[str]]:
    """Dotted names read in ``tree`` (``np.mean`` -> ["np", "mean"]), locals excluded."""
    local: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.arg):
            local.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            local.add(node.id)
    chains: list[list[str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            chain: list[str] = []
            current: ast.AST = node
            while isinstance(current, ast.Attribute):
                chain.insert(0, current.attr)
                current = current.value
            if isinstance(current, ast.Name) and current.id not in local:
                chains.append([current.id, *chain])
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in local:
            chains.append([node.id])
    return chains


_fingerprints: dict[tuple[Any, Path], CodeFingerprint] = {}
