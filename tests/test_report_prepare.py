"""Compute before render: `report.prepare` computes (fit, predictions, backtest, data hash); `render_report`
only draws what it is given; one data hash shared by fit.json, `validate --json` and the report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def _runs(seed=0, budgets=(1e18, 3e18, 1e19, 3e19, 1e20), per=8) -> pd.DataFrame:
    from scalinglab.laws import get_preset

    law, preset = get_preset("chinchilla-epoch")
    rng = np.random.default_rng(seed)
    rows = []
    for c in budgets:
        N = np.logspace(np.log10(np.sqrt(c / 6)) - 1.0, np.log10(np.sqrt(c / 6)) + 0.6, per)
        D = c / (6 * N)
        L = law(preset.values, N=N, D=D) * np.exp(rng.normal(0, 0.004, per))
        rows += [dict(params=n, tokens=d, flops=c, loss=y) for n, d, y in zip(N, D, L, strict=True)]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("runs") / "runs.csv"
    _runs().to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def fitted(csv):
    from scalinglab.fit import fit

    return fit(csv, "chinchilla", calibrate=False)


def test_one_data_hash_in_fit_json_validate_and_report(csv, fitted, tmp_path):
    from scalinglab.data import load_runs
    from scalinglab.fit import FitResult
    from scalinglab.report import prepare, render_report

    fit_json = FitResult.load(fitted.to_json(tmp_path / "fit.json"))
    table_hash = load_runs(csv).hash()  # what `scalinglab validate --json` prints as "hash"
    assert len(table_hash) == 64
    assert fitted.conventions["data_hash"] == fit_json.conventions["data_hash"] == table_hash
    inputs = prepare(csv, fit=tmp_path / "fit.json", backtest=False)
    assert inputs.data_hash == table_hash
    html = render_report(inputs, models=False)
    assert html.count(table_hash) == 1  # shown once (the fit's own copy is not repeated)
    assert "the fit was made on other runs" not in html


def test_report_warns_when_the_fit_was_made_on_other_runs(fitted, tmp_path):
    from scalinglab.report import prepare, render_report

    other = tmp_path / "other.csv"
    _runs(seed=1).to_csv(other, index=False)
    html = render_report(prepare(other, fit=fitted, backtest=False), models=False)
    assert "the fit was made on other runs than these" in html
    assert fitted.conventions["data_hash"][:16] in html


def test_render_draws_without_fitting_or_backtesting(csv, monkeypatch):
    """Everything computed by prepare(); then fit and backtest are made to fail and the renderer still draws
    every section from the prepared inputs."""
    import scalinglab.fit as fit_pkg
    from scalinglab.fit import _api, _backtest
    from scalinglab.report import prepare, render_report

    inputs = prepare(csv, bootstrap=20, predictions=["N=1B,D=20B"], backtest=True)
    assert inputs.fit is not None and inputs.backtest is not None and len(inputs.predictions) == 1
    assert any("fitted law 'auto' here" in n and "it chose chinchilla" in n for n in inputs.notes)
    assert any("backtest computed here" in n for n in inputs.notes)

    def refuse(*args, **kwargs):
        raise AssertionError("the renderer must not compute")

    for mod, name in ((fit_pkg, "fit"), (_api, "fit"), (_backtest, "backtest"), (_backtest, "fit")):
        monkeypatch.setattr(mod, name, refuse)
    monkeypatch.setattr(fit_pkg, "backtest", refuse, raising=False)
    html = render_report(inputs, title="prepared", models=False)
    for anchor in ('id="data"', 'id="fit"', 'id="predictions"', 'id="backtest"', 'id="provenance"'):
        assert anchor in html, anchor
    value = inputs.predictions[0]["value"]
    assert f"{value:.4g}"[:5] in html  # the prepared prediction's value is what is shown


def test_write_report_draws_prepared_inputs_atomically(csv, fitted, tmp_path):
    from scalinglab.report import prepare, write_report

    inputs = prepare(csv, fit=fitted, backtest=False)
    path = write_report(inputs=inputs, path=tmp_path / "out" / "r.html", models=False, title="T")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and inputs.data_hash in text
    assert [p.name for p in path.parent.iterdir()] == ["r.html"]  # no temp file left beside it


def test_point_text_is_parsed_by_the_one_parser():
    """Report points and `scalinglab predict` arguments go through units.parse_assignments."""
    from scalinglab._errors import InputError
    from scalinglab.units import parse_assignments

    assert parse_assignments("N=70B,D=1.4T") == {"N": "70B", "D": "1.4T"}
    assert parse_assignments("N=70 B D=1.4 T") == {"N": "70 B", "D": "1.4 T"}  # a value may hold a space
    with pytest.raises(InputError, match="VAR=VALUE"):
        parse_assignments("N=70B,7B")


def test_the_report_says_what_fit_says_about_the_table_and_the_fit(tmp_path):
    """The report fitted with warnings off and dropped the table's warnings (a checkpoint log read as 0 warnings);
    two evaluation sets 8 % apart pooled under 'eval_set' fitted with status success and no word from `fit`
    (alpha 0.75, noise 5.8 %): both `fit` and the report now name the misfit."""
    from scalinglab.fit import fit
    from scalinglab.report import prepare

    base = _runs()
    ckpt = pd.concat([base.assign(run_id=[f"r{i}" for i in range(len(base))], step=s,
                                  tokens=base.tokens * s / 4, loss=base.loss * (1 + 0.05 * (4 - s)))
                      for s in (1, 2, 3, 4)], ignore_index=True)
    ckpt.to_csv(tmp_path / "ckpt.csv", index=False)
    inputs = prepare(tmp_path / "ckpt.csv", fit=fit(ckpt, "chinchilla", calibrate=False, warn=False), backtest=False)
    assert any("logged at several checkpoints" in w and "40 runs" in w for w in inputs.warnings)
    pooled = pd.concat([base.assign(eval_set="c4"), base.assign(eval_set="pile", loss=base.loss * 1.08)])
    res = fit(pooled, "chinchilla", calibrate=False, warn=False)
    assert res.status == "success" and len(res.quality_warnings) == 1
    assert "fit quality: RMS log residual" in res.quality_warnings[0] and res.summary()["warnings"]
    assert fit(base, "chinchilla", calibrate=False, warn=False).quality_warnings == []
