"""The container's entrypoint: check the model, then serve it.

    python -m loopml.packaging.entrypoint --model /opt/model [--port 8080] [--check]

The model is loaded (every file checked against its hash) and run on its stored input
example; one JSON line reports the result, so a broken image fails at start, not on its
first request. Then ``loopml.serving.serve_folder(folder, port)`` serves it (OIP v2,
``/invocations``, ``/metrics``); with ``--check`` the process exits 0 here instead.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import LoopmlError


def check_model(folder: Path) -> dict[str, Any]:
    """Load the model in ``folder`` and predict on its input example."""
    from ..models import load

    model = load(folder)
    example = model.input_example()
    predictions = [] if example is None else model.predict(example).tolist()
    return {
        "model": str(folder),
        "flavor": model.flavor,
        "rows": 0 if example is None else len(example),
        "predictions": predictions,
    }


def find_server() -> Callable[[Path, int], Any] | None:
    """``loopml.serving.serve_folder`` if that module is installed, else None."""
    if importlib.util.find_spec("loopml.serving") is None:
        return None
    serve = getattr(importlib.import_module("loopml.serving"), "serve_folder", None)
    return serve if callable(serve) else None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the entrypoint; return the exit code (a loopml error's ``exit_code`` on failure)."""
    parser = argparse.ArgumentParser(
        prog="python -m loopml.packaging.entrypoint",
        description="Check a saved model on its input example, then serve it.",
    )
    parser.add_argument("--model", required=True, type=Path, help="the saved model folder")
    parser.add_argument("--port", type=int, default=8080, help="the port to serve on")
    parser.add_argument("--check", action="store_true", help="exit after the check")
    args = parser.parse_args(argv)
    try:
        report = check_model(args.model)
    except LoopmlError as error:
        _fail(str(error))
        return error.exit_code
    except Exception as error:
        _fail(f"the model in {args.model} failed its check: {type(error).__name__}: {error}")
        return 1
    print(json.dumps(report), flush=True)
    serve = None if args.check else find_server()
    if serve is not None:
        serve(args.model, args.port)
    return 0


def _fail(message: str) -> None:
    print("error: " + " ".join(message.split()), file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
