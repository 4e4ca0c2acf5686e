"""The ``scalinglab`` command line: a thin Typer + Rich shell over the library.

Each area of the product registers its commands from its own module; none of them holds logic.
"""

from __future__ import annotations

import typer

from .. import __version__
from . import _accounting, _beyond, _data, _design, _fit, _interop, _laws, _plan, _report, _runner  # noqa: F401  (register commands)
from ._common import app


def _version(value: bool) -> None:
    if value:
        typer.echo(f"scalinglab {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Show the version and exit."),
) -> None:
    """A scaling-law laboratory: runs → law → fit → prediction / plan → report."""


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
