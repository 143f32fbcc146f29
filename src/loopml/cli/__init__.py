"""The ``loopml`` command: one Typer sub-app per noun, every command a thin call into a service.

Errors a user can cause end the command with one line on stderr and the exit code of
their :class:`~loopml.errors.LoopmlError` class (2 bad input, 3 not found, 4 conflict,
5 store unavailable, 6 integrity failure).
"""

from __future__ import annotations

import sys
from typing import NoReturn

import typer

from ..errors import LoopmlError
from . import (
    artifacts,
    audit,
    data,
    deploy,
    experiments,
    init,
    lineage,
    models,
    monitor,
    pipelines,
    predict,
    runs,
    schedules,
    server,
    tokens,
)
from ._output import err_console

app = typer.Typer(
    name="loopml",
    help="The machine-learning lifecycle loop: track, version, deploy, monitor, retrain.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)
app.command("init")(init.init)
app.add_typer(experiments.app, name="experiments")
app.add_typer(runs.app, name="runs")
app.add_typer(data.app, name="data")
app.add_typer(artifacts.app, name="artifacts")
app.add_typer(audit.app, name="audit")
app.add_typer(pipelines.app, name="pipeline")
app.add_typer(models.app, name="models")
app.command("lineage")(lineage.lineage)
app.add_typer(deploy.app, name="deploy")
app.command("serve")(deploy.serve)
app.command("predict")(predict.predict)
app.add_typer(monitor.app, name="monitor")
app.add_typer(schedules.app, name="schedule")
app.command("scheduler")(schedules.scheduler)
app.command("server")(server.server)
app.add_typer(tokens.app, name="token")


def _print_version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """The machine-learning lifecycle loop: track, version, deploy, monitor, retrain."""


def main() -> None:
    """Console-script entry point: every failure ends in one line on stderr."""
    try:
        code = app(standalone_mode=False, prog_name="loopml")
    except LoopmlError as exc:
        _fail(str(exc), exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        _fail("interrupted", 130)
    except OSError as exc:  # a path the user gave cannot be read or written
        where = f": {exc.filename}" if exc.filename else ""
        _fail(f"{exc.strerror or exc}{where}", 1)
    except Exception as exc:
        # Usage errors from the argument parser (unknown option, missing argument...).
        if not (hasattr(exc, "format_message") and hasattr(exc, "exit_code")):
            raise
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group: show its help
            typer.echo(exc.format_message())
            sys.exit(exc.exit_code)
        context = getattr(exc, "ctx", None)
        where = context.command_path if context is not None else "loopml"
        _fail(f"{exc.format_message()} (see '{where} --help')", exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, exit_code: int) -> NoReturn:
    err_console.print(f"error: {message}", markup=False, soft_wrap=True)
    sys.exit(exit_code)
