"""The ``loopml`` command: one Typer sub-app per noun, every command a thin call into a service.

Errors a user can cause end the command with one line on stderr and the exit code of
their :class:`~loopml.errors.LoopmlError` class (2 bad input, 3 not found, 4 conflict,
5 store unavailable, 6 integrity failure).
"""

from __future__ import annotations

import sys

import typer

from ..errors import LoopmlError
from . import artifacts, audit, experiments, init, runs
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
app.add_typer(artifacts.app, name="artifacts")
app.add_typer(audit.app, name="audit")


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
    """Console-script entry point."""
    try:
        app()
    except LoopmlError as exc:
        err_console.print(f"error: {exc}", markup=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
