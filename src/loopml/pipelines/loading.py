"""Loading a pipeline file the way ``python FILE`` would, with errors in the user's terms."""

from __future__ import annotations

import linecache
import sys
import traceback
import types
from pathlib import Path

from blake3 import blake3

from ..errors import InvalidInput, NotFound
from .graph import Pipeline

_PACKAGE_DIR = str(Path(__file__).resolve().parents[1])
FILE_MODULE_PREFIX = "loopml_pipeline_"


def module_name_for(path: Path) -> str:
    """A stable module name for a pipeline file, the same in every worker process."""
    resolved = str(path.resolve())
    stem = "".join(c if c.isalnum() else "_" for c in path.stem)
    return f"{FILE_MODULE_PREFIX}{stem}_{blake3(resolved.encode()).hexdigest()[:8]}"


def load_module(
    path: Path, *, module_name: str | None = None, source: str | None = None
) -> types.ModuleType:
    """Import the file at ``path`` (its folder first on ``sys.path``, as for a script).

    ``source`` is used when the file is not there (a remote worker without the checkout).
    The module is loaded again when the file changed since it was last loaded, so a
    process that edits and re-runs a pipeline (a notebook, ``resume``) runs the new code.
    """
    path = path.resolve()
    name = module_name or module_name_for(path)
    if not path.is_file() and source is None:
        if name in sys.modules:
            return sys.modules[name]
        raise NotFound(f"pipeline file '{path}' not found", hint="check the path")
    text = path.read_text(encoding="utf-8") if path.is_file() else source or ""
    if name in sys.modules and _loaded_text.get(name) == text:
        return sys.modules[name]
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    module = types.ModuleType(name)
    module.__file__ = str(path)
    previous, lines = sys.modules.get(name), linecache.cache.get(str(path))
    sys.modules[name] = module
    # Source lookups (cache keys, tracebacks) must see the text that runs, not a stale copy
    # linecache kept from an earlier load, nor a newer one saved while the pipeline runs.
    linecache.cache[str(path)] = (len(text), None, text.splitlines(keepends=True), str(path))
    try:
        exec(compile(text, str(path), "exec"), module.__dict__)
    except Exception as exc:
        error = _load_error(path, exc)
        if previous is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = previous
        if lines is None:
            linecache.cache.pop(str(path), None)
        else:
            linecache.cache[str(path)] = lines
        raise error from None
    _loaded_text[name] = text
    return module


def _load_error(path: Path, exc: Exception) -> InvalidInput:
    if isinstance(exc, SyntaxError):
        return InvalidInput(
            f"{exc.filename}:{exc.lineno}: {exc.msg}: {(exc.text or '').strip()}",
            hint="fix the syntax error in the pipeline file",
        )
    return InvalidInput(
        f"loading {path.name} failed:\n{user_frames(exc)}",
        hint="the error is in the pipeline file or a module it imports",
    )


def load_pipeline(target: str) -> Pipeline:
    """The pipeline in ``FILE`` or ``FILE:NAME``."""
    file_part, _, name = target.partition(":")
    if len(file_part) == 1 and name and "\\" in name:  # a Windows drive letter
        file_part, name = target, ""
    module = load_module(Path(file_part))
    found = {value.name: value for value in vars(module).values() if isinstance(value, Pipeline)}
    if name:
        if name not in found:
            raise NotFound(
                f"{file_part} has no pipeline '{name}'",
                hint=f"pipelines in it: {', '.join(sorted(found)) or 'none'}",
            )
        return found[name]
    if len(found) == 1:
        return next(iter(found.values()))
    if not found:
        raise NotFound(
            f"{file_part} defines no @loopml.pipeline function",
            hint="decorate the function that wires the steps with @loopml.pipeline",
        )
    raise InvalidInput(
        f"{file_part} defines several pipelines: {', '.join(sorted(found))}",
        hint=f"choose one with {file_part}:NAME",
    )


def user_frames(exc: BaseException) -> str:
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if not frame.filename.startswith(_PACKAGE_DIR) and "<frozen" not in frame.filename
    ]
    head = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return ("".join(traceback.format_list(frames)) + head).strip()


_loaded_text: dict[str, str] = {}  # module name -> the source it was loaded from
