"""Selecting runs: `RunTable.where` (the CLI's ``--where``) and the `DataWarning` when one law would be
fitted to several datasets pooled in one table."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from scalinglab import DataWarning, InputError, UnitError
from scalinglab.cli import app
from scalinglab.data import load_runs
from scalinglab.fit import backtest, compare, fit

E, A, B, AL, BE = 1.7, 400.0, 410.0, 0.34, 0.28


def ladder(offset: float, seed: int) -> pd.DataFrame:
    """An IsoFLOP-style grid (6 sizes x 6 token counts) whose loss floor is ``E + offset``."""
    rng = np.random.default_rng(seed)
    N, D = np.meshgrid(np.geomspace(1e7, 1e9, 6), np.geomspace(1e9, 1e11, 6))
    N, D = N.ravel(), D.ravel()
    loss = (E + offset + A * N**-AL + B * D**-BE) * np.exp(0.003 * rng.standard_normal(N.size))
    return pd.DataFrame({"N": N, "D": D, "val_loss": loss})


@pytest.fixture
def two_corpora(tmp_path):
    """36 runs on "web" (floor 1.7) and 36 on "code" (floor 1.2), aliased column names as users write them."""
    df = pd.concat([ladder(0.0, 0).assign(corpus="web"), ladder(-0.5, 1).assign(corpus="code")])
    path = tmp_path / "runs.csv"
    df.to_csv(path, index=False)
    return path


def test_where_selects_rows_by_value_list_range_and_alias(two_corpora):
    rt = load_runs(two_corpora)
    assert len(rt) == 72 and "dataset" in rt.columns  # "corpus" is an alias of dataset
    web = rt.where("dataset=web")
    assert len(web) == 36 and set(web.df["dataset"]) == {"web"}
    assert len(rt.where("dataset=web,code")) == 72
    assert len(rt.where("dataset!=web")) == 36
    big = rt.where("N>=100M", "dataset=code")  # alias N -> params, unit string value
    assert len(big) == 18 and big.df["params"].min() >= 1e8 and set(big.df["dataset"]) == {"code"}
    assert len(rt.where("tokens<1e10")) == 2 * 6 * 3  # three of the six token counts are below 1e10
    assert len(rt.where(f"params={float(rt.df['params'].iloc[3])!r}")) == 12  # an exact value, as Python prints it
    # source rows survive the selection: errors about the selected rows still name the file's rows
    assert list(web.source_rows[:3]) == [1, 2, 3]


@pytest.mark.parametrize("cond, message", [
    ("dataset", "expected COLUMN=VALUE"),
    ("flavour=web", "no column 'flavour'"),
    ("dataset>=web", "not numeric"),
    ("dataset=c4", "no run in"),
])
def test_where_errors_name_the_condition(two_corpora, cond, message):
    rt = load_runs(two_corpora)
    with pytest.raises(InputError, match=message) as exc:
        rt.where(cond)
    assert cond in str(exc.value)
    if message == "no run in":  # the values that exist are listed
        assert "web" in str(exc.value) and "code" in str(exc.value)


def test_where_bad_number_is_a_unit_error(two_corpora):
    with pytest.raises(UnitError, match="params>=abc"):
        load_runs(two_corpora).where("params>=abc")


def test_fit_warns_once_when_datasets_are_pooled(two_corpora):
    with pytest.warns(DataWarning) as rec:
        res = fit(two_corpora, "chinchilla", calibrate=False)
    texts = [str(w.message) for w in rec if issubclass(w.category, DataWarning)]
    assert len(texts) == 1
    assert "2 datasets" in texts[0] and "web (36 runs)" in texts[0] and "code (36 runs)" in texts[0]
    assert "--where dataset=" in texts[0]
    # pooled, the fitted floor describes neither corpus
    assert abs(res.params["E"] - 1.7) > 0.1 and abs(res.params["E"] - 1.2) > 0.1
    # one dataset selected: no warning, and its floor is recovered
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        web = fit(load_runs(two_corpora).where("dataset=web"), "chinchilla", calibrate=False)
        code = fit(load_runs(two_corpora).where("dataset=code"), "chinchilla", calibrate=False)
    assert web.params["E"] == pytest.approx(1.7, abs=0.05)
    assert code.params["E"] == pytest.approx(1.2, abs=0.05)


def test_backtest_and_compare_warn_once(two_corpora):
    with pytest.warns(DataWarning) as rec:
        backtest(two_corpora, "chinchilla", cutoff_frac=0.3)
    assert sum(issubclass(w.category, DataWarning) for w in rec) == 1
    with pytest.warns(DataWarning) as rec:
        compare(two_corpora, ["chinchilla", "chinchilla-joint"])
    assert sum(issubclass(w.category, DataWarning) for w in rec) == 1


def test_cli_where_on_fit_and_backtest(two_corpora):
    r = CliRunner().invoke(app, ["fit", str(two_corpora), "--law", "chinchilla", "--where", "dataset=code",
                                 "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["n_points"] == 36 and d["params"]["E"] == pytest.approx(1.2, abs=0.05)
    r = CliRunner().invoke(app, ["backtest", str(two_corpora), "--where", "dataset=web", "--where", "N<=1e9",
                                 "--cutoff-frac", "0.3", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["n_train"] + d["n_predictions"] == 36
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)  # one dataset selected: nothing to warn about
        r = CliRunner().invoke(app, ["compare", str(two_corpora), "--where", "dataset=web", "--json"])
        assert r.exit_code == 0, r.output
        assert {row["law"] for row in json.loads(r.stdout)} == {"chinchilla", "kaplan-nd"}
        r = CliRunner().invoke(app, ["suggest", str(two_corpora), "--where", "dataset=web", "--target",
                                     "N=7B,D=140B", "--json"])
        assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["fit", str(two_corpora), "--where", "dataset=c4"])
    assert r.exit_code == 2 and "no run in" in r.output and "web" in r.output


def test_console_script_shows_our_warnings_as_one_line(two_corpora):
    """The `scalinglab` process prints scalinglab's warnings as `warning: ...` without the library's file and
    source line (`cli.show_warning`); other warnings keep Python's format."""
    import subprocess
    import sys

    code = ("import sys, warnings; from scalinglab.cli import main, show_warning; "
            "sys.argv = ['scalinglab', 'fit', sys.argv[1], '--law', 'chinchilla', '--json']; "
            "warnings.showwarning = show_warning; warnings.warn_explicit('other', UserWarning, 'x.py', 1); main()")
    r = subprocess.run([sys.executable, "-c", code, str(two_corpora)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = [s for s in r.stderr.splitlines() if "datasets" in s]
    assert len(lines) == 1 and lines[0].startswith("warning: ") and "DataWarning" not in r.stderr
    assert "_inputs.py" not in r.stderr and "_lawstack.py" not in r.stderr and "_api.py" not in r.stderr
    assert "x.py:1: UserWarning: other" in r.stderr
    assert json.loads(r.stdout)["n_points"] == 72
    # -q: errors only, so no warning lines either
    quiet = code.replace("['scalinglab', 'fit'", "['scalinglab', '-q', 'fit'")
    r = subprocess.run([sys.executable, "-c", quiet, str(two_corpora)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "warning:" not in r.stderr and json.loads(r.stdout)["n_points"] == 72


def test_warnings_point_at_the_users_call(two_corpora):
    """fit, backtest, compare and fit_auto (the forecast stack, whose final fit runs three frames deeper) all
    attribute the warning to the line that called them."""
    from scalinglab.fit import fit_auto

    for call in (lambda: fit(two_corpora, "chinchilla", calibrate=False),
                 lambda: backtest(two_corpora, "chinchilla", cutoff_frac=0.3),
                 lambda: compare(two_corpora, ["chinchilla"]),
                 lambda: fit_auto(two_corpora)):
        with pytest.warns(DataWarning) as rec:
            call()
        w = [r for r in rec if issubclass(r.category, DataWarning)]
        assert len(w) == 1 and w[0].filename == __file__


def test_validate_lists_the_datasets(two_corpora):
    """`RunTable.summary()["datasets"]` (and `validate --json`) counts runs per dataset; the text output says
    a fit would pool them and how to select one."""
    from scalinglab.data import dataset_counts

    rt = load_runs(two_corpora)
    assert rt.summary()["datasets"] == {"web": 36, "code": 36} == dataset_counts(rt.df)
    assert rt.where("dataset=web").summary()["datasets"] == {"web": 36}
    assert dataset_counts(rt.df.drop(columns="dataset")) == {}
    r = CliRunner().invoke(app, ["validate", str(two_corpora), "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["datasets"] == {"web": 36, "code": 36}
    r = CliRunner().invoke(app, ["validate", str(two_corpora)])
    assert r.exit_code == 0 and "2 datasets: " in r.output
    assert "web (36 runs)" in r.output and "code (36 runs)" in r.output and "--where dataset=" in r.output
