"""The CLI maps -v/-q to the level of the library's loggers (`logging.getLogger("scalinglab....")`)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from scalinglab.cli import app, log_level


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    rng = np.random.default_rng(0)
    N, D = 10 ** rng.uniform(7, 9.5, 40), 10 ** rng.uniform(8.5, 11, 40)
    L = (1.69 + 406.4 * N ** -0.34 + 410.7 * D ** -0.28) * np.exp(0.01 * rng.standard_normal(40))
    path = tmp_path_factory.mktemp("runs") / "runs.csv"
    pd.DataFrame({"params": N, "tokens": D, "loss": L}).to_csv(path, index=False)
    return path


def test_levels():
    assert log_level() == logging.WARNING
    assert [log_level(verbose=v) for v in (1, 2, 5)] == [logging.INFO, logging.DEBUG, logging.DEBUG]
    assert [log_level(quiet=q) for q in (1, 2, 5)] == [logging.ERROR, logging.CRITICAL, logging.CRITICAL]
    assert log_level(verbose=1, quiet=1) == logging.WARNING


@pytest.mark.parametrize(("flags", "shown"), [(["-v"], True), ([], False), (["-q"], False)])
def test_verbose_shows_the_fit_log_line(csv, flags, shown):
    try:
        r = CliRunner().invoke(app, [*flags, "fit", str(csv), "--law", "chinchilla", "--loss", "huber",
                                     "--bootstrap", "0", "--json"])
        assert r.exit_code == 0, r.output
        assert ("fit of 'chinchilla' on 40 runs: success" in r.stderr) is shown, r.stderr
        assert r.stdout.lstrip().startswith("{")  # logs never mix into the JSON on stdout
    finally:
        logging.getLogger("scalinglab").setLevel(logging.NOTSET)


@pytest.mark.parametrize(("argv", "words"), [
    (["plan", "--bogus"], "error: No such option: --bogus"),
    (["bnsl", "runs.csv"], "error: Missing option '--x'."),
    (["nosuch"], "error: No such command 'nosuch'."),
])
def test_a_usage_error_is_one_line_from_the_console_script(argv, words):
    """The console script (`main`) prints a usage error as one `error:` line and exit code 2, as every other
    error (typer drew a four-line box)."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "scalinglab", *argv], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(words) and "--help" in lines[0], r.stderr
    assert r.stdout == ""


def test_the_console_script_keeps_exit_codes_and_group_help():
    import subprocess
    import sys

    ok = subprocess.run([sys.executable, "-m", "scalinglab", "--version"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and ok.stdout.startswith("scalinglab ")
    bad = subprocess.run([sys.executable, "-m", "scalinglab", "fit", "/no/such.csv"], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2 and bad.stderr.startswith("error:")
    group = subprocess.run([sys.executable, "-m", "scalinglab", "forecast"], capture_output=True, text=True,
                           timeout=120)
    assert group.returncode == 2 and group.stdout.count("Usage:") == 1 and "data-wall" in group.stdout


def test_output_into_a_closed_pipe_ends_without_a_traceback():
    """`scalinglab fit --help | head` ended in an AttributeError traceback from the console script's error
    handling (the pipe closed, rich exits 1)."""
    import subprocess
    import sys

    for args in ("fit --help", "laws"):
        r = subprocess.run(["bash", "-c", f"{sys.executable} -m scalinglab {args} | head -2"], capture_output=True,
                           text=True, timeout=120)
        assert "Traceback" not in r.stderr, r.stderr
        assert r.stdout.strip()
