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
