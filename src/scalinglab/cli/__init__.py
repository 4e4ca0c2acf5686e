"""The ``scalinglab`` command line: a thin Typer + Rich shell over the library.

Each area of the product registers its commands from its own module; none of them holds logic.
"""

from __future__ import annotations

import logging
import warnings

import typer

from .. import __version__
from .._errors import ScalingLabWarning
from . import _accounting, _beyond, _data, _design, _fit, _interop, _laws, _plan, _report, _runner  # noqa: F401  (register commands)
from ._common import app


def _version(value: bool) -> None:
    if value:
        typer.echo(f"scalinglab {__version__}")
        raise typer.Exit()


#: log level of the ``scalinglab`` loggers with no -v/-q; each -v lowers it one step, each -q raises it
DEFAULT_LOG_LEVEL = logging.WARNING
_LEVELS = (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL)


def log_level(verbose: int = 0, quiet: int = 0) -> int:
    """The ``logging`` level for ``-v`` given ``verbose`` times and ``-q`` given ``quiet`` times: WARNING by
    default, INFO with -v, DEBUG with -vv; ERROR with -q, CRITICAL with -qq."""
    i = _LEVELS.index(DEFAULT_LOG_LEVEL) - int(verbose) + int(quiet)
    return _LEVELS[min(max(i, 0), len(_LEVELS) - 1)]


def configure_logging(level: int) -> logging.Logger:
    """Send the library's log records (``logging.getLogger("scalinglab")`` and its children: the runner,
    executors, store, long fits) at ``level`` and above to stderr, one line each; returns that logger. Only
    the command line does this: the library itself never configures logging."""
    from rich.logging import RichHandler

    from ._common import err

    logger = logging.getLogger("scalinglab")
    logger.setLevel(level)
    if not any(getattr(h, "_scalinglab_cli", False) for h in logger.handlers):
        handler = RichHandler(console=err, show_time=False, show_path=False, markup=False, rich_tracebacks=False)
        handler._scalinglab_cli = True  # one handler however often the app is invoked in one process
        logger.addHandler(handler)
    return logger


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Show the version and exit."),
    verbose: int = typer.Option(0, "-v", "--verbose", count=True,
                                help="More log output on stderr: -v info (sweep and run progress, store "
                                     "migrations, fit timings), -vv debug."),
    quiet: int = typer.Option(0, "-q", "--quiet", count=True,
                              help="Less output on stderr: -q errors only (no log or warning lines), -qq "
                                   "critical only."),
) -> None:
    """A scaling-law laboratory: runs → law → fit → prediction / plan → report."""
    configure_logging(log_level(verbose, quiet))


def show_warning(message, category, filename, lineno, file=None, line=None, _default=warnings.showwarning) -> None:
    """``warnings.showwarning`` of the console script: scalinglab's own warnings (they say what to do) as
    one ``warning: ...`` line on stderr, without the library's file and source line; any other warning as
    Python shows it."""
    if isinstance(category, type) and issubclass(category, ScalingLabWarning):
        if logging.getLogger("scalinglab").getEffectiveLevel() > logging.WARNING:  # -q: errors only
            return
        from rich.markup import escape

        from ._common import err

        err.print(f"[yellow]warning:[/] {escape(str(message))}")
        return
    _default(message, category, filename, lineno, file, line)


def main() -> None:
    """Console-script entry point (scalinglab's warnings shown by `show_warning`: only here, in the
    ``scalinglab`` process, never when the library or ``app`` is used from Python). A usage error (a missing
    option, an unknown flag) is one ``error: ...`` line on stderr and exit code 2, as every other error."""
    import sys

    try:  # typer >= 0.25 parses with its own copy of click
        from typer._click import exceptions as cx
    except ImportError:  # pragma: no cover - older typer: click itself
        from click import exceptions as cx

    warnings.showwarning = show_warning
    try:
        rv = app(standalone_mode=False)
    except cx.NoArgsIsHelpError as exc:  # `scalinglab forecast`: typer printed the group's help already
        sys.exit(exc.exit_code)
    except cx.UsageError as exc:  # a missing option, an unknown flag: one line, as every other error
        from ._common import say_error

        where = exc.ctx.command_path if exc.ctx is not None else "scalinglab"
        say_error(f"{exc.format_message()} (see '{where} --help')")
        sys.exit(exc.exit_code)
    except typer.Abort:  # Ctrl-C outside a sweep (a sweep says how to resume and exits 130 itself)
        sys.exit(130)
    sys.exit(rv if isinstance(rv, int) else 0)


__all__ = ["app", "main", "log_level", "configure_logging", "show_warning", "DEFAULT_LOG_LEVEL"]
