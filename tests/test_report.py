"""Report figures (content, not just files), the self-contained HTML report, terminal and notebook helpers."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

HOSTILE = "<script>alert(1)</script>"
EXTERNAL = re.compile(r"<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*[\"']?\s*(https?:)?//", re.I)


# --------------------------------------------------------------------------- fixtures
def _law():
    from scalinglab.laws import get_preset

    return get_preset("chinchilla-epoch")


def make_runs(budgets=(1e18, 3e18, 1e19, 3e19, 1e20), per=12, noise=0.004, seed=0) -> pd.DataFrame:
    law, preset = _law()
    rng = np.random.default_rng(seed)
    rows = []
    for c in budgets:
        N = np.logspace(np.log10(np.sqrt(c / 6)) - 1.0, np.log10(np.sqrt(c / 6)) + 0.6, per)
        D = c / (6 * N)
        L = law(preset.values, N=N, D=D) * np.exp(rng.normal(0, noise, per))
        rows += [dict(run_id=f"run-{len(rows)}", params=n, tokens=d, flops=c, loss=y, dataset="synthetic")
                 for n, d, y in zip(N, D, L, strict=True)]
    df = pd.DataFrame(rows)
    df.loc[7, "run_id"] = HOSTILE
    return df


@pytest.fixture(scope="module")
def runs():
    return make_runs()


@pytest.fixture(scope="module")
def fitted(runs):
    from scalinglab.fit import fit

    return fit(runs[["params", "tokens", "flops", "loss"]], "chinchilla", bootstrap=100, seed=0)


def _labels(ax):
    return ax.get_legend_handles_labels()[1]


# --------------------------------------------------------------------------- style and import
def test_import_does_not_load_plotting_libraries():
    code = ("import sys, scalinglab.report as r; from scalinglab.report import write_report, render_fit, "
            "save_plot, repr_html; bad = [m for m in ('matplotlib', 'plotly', 'torch') if m in sys.modules]; "
            "assert not bad, bad")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_tick_labels_and_axis_units():
    from scalinglab.report._style import axis_label, format_tick, log_ticks, sequential_colors

    assert format_tick(1e21, "flops") == "1e21"
    assert format_tick(3e23, "flops") == "3e23"
    assert format_tick(7e10, "count") == "70B"
    assert format_tick(1.4e12, "count") == "1.4T"
    assert format_tick(2.5, "plain") == "2.5"
    assert axis_label("flops") == "training compute C (FLOPs)"
    assert axis_label("params") == "parameters N (parameters)"
    assert axis_label("tokens") == "training tokens D (tokens)"
    assert axis_label("loss") == "loss (nats/token)"
    assert axis_label("loss", loss_unit="bits/byte") == "loss (bits/byte)"
    vals, text = log_ticks(1e18, 1e22, "flops")
    assert text == ["1e18", "1e19", "1e20", "1e21", "1e22"]
    vals, text = log_ticks(1.9, 4.0, "plain")  # less than a decade still gets labels
    assert len(vals) >= 3 and all(1.9 <= v <= 4.0 for v in vals)
    assert len(set(sequential_colors(12))) == 12


def test_frontier_matches_closed_form_chinchilla_optimum():
    from scalinglab.laws import as_theta, chinchilla_optimum
    from scalinglab.report._compute import optimal_frontier

    law, preset = _law()
    theta = as_theta(law, preset.values)
    C = np.array([1e21, 5.76e23, 1e25])
    L, N, D = optimal_frontier(law.evaluate, theta, C)
    for i, c in enumerate(C):
        n_ref, d_ref = chinchilla_optimum(preset.values, c)
        assert N[i] == pytest.approx(n_ref, rel=0.01)
        assert D[i] == pytest.approx(d_ref, rel=0.01)
        assert L[i] == pytest.approx(float(law(preset.values, N=n_ref, D=d_ref)[0]), rel=1e-5)
    # batched over parameter sets: same answer per row
    Lb, Nb, _ = optimal_frontier(law.evaluate, np.vstack([theta, theta]), C)
    np.testing.assert_allclose(Nb[1], N, rtol=1e-9)


# --------------------------------------------------------------------------- loss vs compute
def test_loss_vs_compute_matplotlib_content(runs, fitted):
    from scalinglab.report import loss_vs_compute

    fig = loss_vs_compute(runs, fitted)
    ax = fig.axes[0]
    assert "FLOPs" in ax.get_xlabel() and "nats/token" in ax.get_ylabel()
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    labels = _labels(ax)
    assert labels == [f"runs (n={len(runs)})", "80% prediction interval", "fit: compute-optimal frontier",
                      "fit, extrapolated", "extrapolation (beyond data)"]
    # all runs plotted
    assert sum(len(c.get_offsets()) for c in ax.collections if hasattr(c, "get_offsets")
               and c.get_label().startswith("runs")) == len(runs)
    # the extrapolation region starts exactly at the data's largest compute
    span = [p for p in ax.patches if p.get_gid() == "extrapolation-region"]
    assert len(span) == 1
    x0 = span[0].get_x() if hasattr(span[0], "get_x") else span[0].get_xy()[0][0]
    assert x0 == pytest.approx(runs["flops"].max(), rel=1e-12)
    # the solid frontier ends and the dashed one starts at the same point
    solid, dashed = (ln for ln in ax.lines if ln.get_label() in ("fit: compute-optimal frontier", "fit, extrapolated"))
    assert solid.get_xdata()[-1] == pytest.approx(runs["flops"].max())
    assert dashed.get_xdata()[0] == pytest.approx(runs["flops"].max())
    assert dashed.get_linestyle() == "--"
    # tick labels read like 1e19
    fig.canvas.draw()
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert "1e19" in ticks


def test_loss_vs_compute_band_contains_frontier_and_plotly_twin(runs, fitted):
    from scalinglab.report import loss_vs_compute

    fig = loss_vs_compute(runs, fitted, backend="plotly")
    names = [t.name for t in fig.data]
    assert names == [f"runs (n={len(runs)})", "80% prediction interval", "fit: compute-optimal frontier",
                     "fit, extrapolated", "extrapolation (beyond data)"]
    region = fig.data[names.index("extrapolation (beyond data)")]
    assert region.x[0] == pytest.approx(runs["flops"].max(), rel=1e-12)
    assert fig.layout.xaxis.type == "log"
    assert "FLOPs" in fig.layout.xaxis.title.text and "nats/token" in fig.layout.yaxis.title.text
    assert "1e19" in fig.layout.xaxis.ticktext
    band = fig.data[1]
    n = len(band.x) // 2
    lo, hi = np.array(band.y[n:][::-1], float), np.array(band.y[:n], float)
    frontier = np.concatenate([np.array(fig.data[2].y, float), np.array(fig.data[3].y[1:], float)])
    assert np.all(lo <= frontier + 1e-12) and np.all(frontier <= hi + 1e-12)
    # it is the fit's own prediction interval at the frontier points, and it widens with extrapolation
    grid = np.array(band.x[:n], float)
    from scalinglab.laws import chinchilla_optimum

    n_opt, d_opt = chinchilla_optimum(fitted.params, grid[-1])
    p = fitted.predict(level=0.8, N=n_opt, D=d_opt)
    assert hi[-1] == pytest.approx(p.interval[1], rel=2e-3) and lo[-1] == pytest.approx(p.interval[0], rel=2e-3)
    cmax = runs["flops"].max()
    width = (hi - lo) / frontier
    assert width[-1] > 1.5 * width[np.argmin(np.abs(grid - cmax))]
    # user text is escaped for plotly.js
    hover = " ".join(fig.data[0].hovertext)
    assert HOSTILE not in hover and "&lt;script&gt;alert(1)&lt;/script&gt;" in hover


def test_loss_vs_compute_draws_a_tables_loss_spread_as_error_bars(runs, tmp_path):
    """A table that gives each loss as 'mean ± sd' (read into loss_sd) has those spreads drawn as error bars,
    in both backends; rows without a spread get none."""
    from scalinglab.data import load_runs
    from scalinglab.report import loss_vs_compute

    sub = runs.iloc[::12]  # one run per budget
    cells = [f"{v:.4f} ± 0.05" if i % 2 == 0 else f"{v:.4f}" for i, v in enumerate(sub["loss"])]
    table = load_runs(pd.DataFrame({"params": sub["params"], "tokens": sub["tokens"], "loss": cells}))
    fig = loss_vs_compute(table, backend="plotly")
    err = fig.data[0].error_y
    assert list(err.array) == pytest.approx([0.05, 0, 0.05, 0, 0.05], abs=1e-9)
    assert list(err.arrayminus) == pytest.approx([0.05, 0, 0.05, 0, 0.05], abs=1e-9)
    fig = loss_vs_compute(table)
    from matplotlib.collections import LineCollection

    segs = [c for c in fig.axes[0].collections if isinstance(c, LineCollection)]
    assert segs and len(segs[0].get_segments()) == 5
    assert loss_vs_compute(sub, backend="plotly").data[0].error_y.array is None  # no spreads: no bars


def test_loss_vs_compute_with_plan_extends_to_plan(runs, fitted):
    from scalinglab.report import loss_vs_compute

    plan = {"flops": 1e23, "N_opt": 2e10, "D_opt": 8e11, "loss": 2.2, "intervals": {"loss": [2.1, 2.3]}}
    fig = loss_vs_compute(runs, fitted, plans=[plan], backend="plotly")
    assert fig.data[-1].name.startswith("plan at 1e23")
    region = next(t for t in fig.data if t.name == "extrapolation (beyond data)")
    assert max(region.x) >= 1e23


# --------------------------------------------------------------------------- IsoFLOP and allocation
def test_isoflop_profiles_series_and_optima(runs, fitted):
    from scalinglab.laws import chinchilla_optimum
    from scalinglab.report import isoflop_profiles

    fig = isoflop_profiles(runs, fitted)
    ax = fig.axes[0]
    labels = _labels(ax)
    assert labels == ["1e18 FLOPs", "3e18 FLOPs", "1e19 FLOPs", "3e19 FLOPs", "1e20 FLOPs", "fitted optimum (law)"]
    assert "parameters" in ax.get_xlabel() and "nats/token" in ax.get_ylabel()
    opt = fig.scalinglab_spec.meta["optima"]
    assert len(opt) == 5
    for (n_opt, _), c in zip(opt, [1e18, 3e18, 1e19, 3e19, 1e20], strict=True):
        assert n_opt == pytest.approx(chinchilla_optimum(fitted.params, c)[0], rel=0.02)
    # without a fit: parabola optima (Approach 2) near the truth
    law, preset = _law()
    fig2 = isoflop_profiles(runs, backend="plotly")
    assert fig2.data[-1].name == "fitted optimum (parabola, Approach 2)"
    n_par = np.array(fig2.data[-1].x, float)
    n_true = np.array([chinchilla_optimum(preset.values, c)[0] for c in [1e18, 3e18, 1e19, 3e19, 1e20]])
    assert np.all(np.abs(np.log10(n_par / n_true)) < 0.15)


def test_isoflop_without_profiles_is_a_clear_error():
    from scalinglab import ScalingLabError
    from scalinglab.report import isoflop_profiles

    df = pd.DataFrame({"params": np.logspace(7, 9, 10), "tokens": np.logspace(9, 11, 10), "loss": np.linspace(4, 3, 10)})
    with pytest.raises(ScalingLabError, match="IsoFLOP"):
        isoflop_profiles(df)


def test_compute_optimal_reference_lines_and_models(runs, fitted):
    from scalinglab.report import compute_optimal

    models = pd.DataFrame({"name": ["Chinchilla", "GPT-3 <b>"], "params": [70e9, 175e9], "tokens": [1.4e12, 300e9],
                           "flops": [5.88e23, 3.15e23]})
    fig = compute_optimal(fitted, runs=runs, models=models, backend="plotly")
    by = {}
    for t in fig.data:
        by.setdefault(t.name, []).append(t)
    assert set(by) >= {"Chinchilla rule (D = 20N)", "Kaplan 2020 (N ∝ C^0.73)", "fit: chinchilla", "notable models",
                       "IsoFLOP optima of the runs", "extrapolation (beyond data)", "80% interval (bootstrap)"}
    kap_N, kap_D = by["Kaplan 2020 (N ∝ C^0.73)"]
    x, y = np.log10(np.array(kap_N.x, float)), np.log10(np.array(kap_N.y, float))
    assert np.polyfit(x, y, 1)[0] == pytest.approx(0.73, abs=1e-9)
    x, y = np.log10(np.array(kap_D.x, float)), np.log10(np.array(kap_D.y, float))
    assert np.polyfit(x, y, 1)[0] == pytest.approx(0.27, abs=1e-9)
    chN, chD = by["Chinchilla rule (D = 20N)"]
    np.testing.assert_allclose(np.array(chD.y, float) / np.array(chN.y, float), 20.0)
    mN, mD = by["notable models"]
    assert list(mN.y) == [70e9, 175e9] and list(mD.y) == [1.4e12, 300e9]
    assert "GPT-3 &lt;b&gt;" in mN.text  # model names are text, not markup
    assert fig.layout.yaxis.type == "log" and "parameters" in fig.layout.yaxis.title.text
    assert "tokens" in fig.layout.yaxis2.title.text
    # the fit's compute-optimal exponent a = beta/(alpha+beta) shows in its line's slope
    fitN = by["fit: chinchilla"][0]
    x, y = np.log10(np.array(fitN.x, float)), np.log10(np.array(fitN.y, float))
    a = fitted.params["beta"] / (fitted.params["alpha"] + fitted.params["beta"])
    assert np.polyfit(x, y, 1)[0] == pytest.approx(a, abs=0.01)


# --------------------------------------------------------------------------- diagnostics
def test_fit_diagnostics_panels(runs, fitted):
    from scalinglab.report import bootstrap_plot, fit_diagnostics, multistart_plot, residuals_plot

    fig = fit_diagnostics(fitted, runs)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    titles = [ax.get_title(loc="left") for ax in visible]
    assert titles[:3] == ["Residuals vs N", "Residuals vs D", "Residuals vs C"]
    assert [t for t in titles if t.startswith("Bootstrap")] == [f"Bootstrap: {p}" for p in fitted.law.param_names]
    assert titles[-1] == "Multi-start objectives"
    rfig = residuals_plot(fitted, runs, backend="plotly")
    r = np.array(rfig.data[0].y, float)
    assert len(r) == len(runs)
    assert np.sqrt(np.mean(r**2)) == pytest.approx(0.004, rel=0.35)  # the noise used to make the data
    bfig = bootstrap_plot(fitted, backend="plotly")
    assert sum(np.sum(t.y) for t in bfig.data if t.type == "bar") == 100 * len(fitted.law.param_names)
    mfig = multistart_plot(fitted, backend="plotly")
    obj = np.array(mfig.data[0].y, float)
    assert np.all(np.diff(obj) >= 0) and obj[0] == pytest.approx(fitted.objective, rel=1e-6)


def test_diagnostics_missing_inputs_are_clear_errors(fitted):
    from dataclasses import replace

    from scalinglab import ScalingLabError
    from scalinglab.report import bootstrap_plot

    with pytest.raises(ScalingLabError, match="bootstrap"):
        bootstrap_plot(replace(fitted, bootstrap=None))


# --------------------------------------------------------------------------- backtest, comparison, curves
def test_backtest_and_law_comparison(runs):
    from scalinglab.fit import backtest, compare
    from scalinglab.report import backtest_plot, law_comparison

    bt = backtest(runs[["params", "tokens", "flops", "loss"]], "chinchilla", cutoff_frac=0.3)
    fig = backtest_plot(bt, backend="plotly")
    held = next(t for t in fig.data if t.name == "held-out runs")
    assert len(held.x) == bt.n_predictions > 0
    assert held.error_y.array is not None and len(held.error_y.array) == bt.n_predictions
    assert "coverage" in fig.layout.title.text
    mfig = backtest_plot(bt)
    assert "nats/token" in mfig.axes[0].get_xlabel()
    rows = [{"law": "b", "median_rel_error": 0.02, "max_rel_error": 0.05},
            {"law": "a", "median_rel_error": 0.01, "max_rel_error": 0.08},
            {"law": "broken", "median_rel_error": None, "max_rel_error": None, "error": "x"}]
    cfig = law_comparison(rows, backend="plotly")
    assert [t.name for t in cfig.data] == ["median", "max"]
    assert list(cfig.data[0].x) == ["a", "b"] and list(cfig.data[0].y) == pytest.approx([1.0, 2.0])
    # the real compare() rows draw the same way: ranked laws in rank order, a law that cannot fit left out
    real = compare(runs[["params", "tokens", "flops", "loss"]], ["chinchilla", "kaplan-nd", "data-constrained"],
                   cutoff_fracs=(0.3,))
    assert [r["law"] for r in real][-1] == "data-constrained" and real[-1]["rank"] is None and real[-1]["error"]
    ranked = [r for r in real if r["rank"] is not None]
    assert [r["rank"] for r in ranked] == [1, 2]
    rfig = law_comparison(real, backend="plotly")
    assert list(rfig.data[0].x) == [r["law"] for r in ranked]
    assert list(rfig.data[0].y) == pytest.approx([100 * r["median_rel_error"] for r in ranked])
    assert list(rfig.data[1].y) == pytest.approx([100 * r["max_rel_error"] for r in ranked])


def test_training_curves_show_wsd_branches():
    from scalinglab.report import training_curves

    rows = []
    for run, n in (("s", 1.0), ("m", 0.8)):
        for step in range(1, 41):
            rows.append({"run_id": run, "branch": "", "step": step, "tokens": step * 1e6, "loss": 5 * n / step**0.2})
        for step in range(30, 41):  # a WSD cooldown branch from step 30
            rows.append({"run_id": run, "branch": "cooldown@30", "step": step, "tokens": step * 1e6,
                         "loss": 4.6 * n / step**0.2})
    rows.append({"run_id": HOSTILE, "branch": "", "step": 1, "tokens": 1e6, "loss": 6.0})
    df = pd.DataFrame(rows)
    fig = training_curves(df)
    ax = fig.axes[0]
    lines = {ln.get_label(): ln for ln in ax.lines}
    assert set(lines) == {"s", "s [cooldown@30]", "m", "m [cooldown@30]", HOSTILE}
    assert lines["s [cooldown@30]"].get_linestyle() == "--" and lines["s"].get_linestyle() == "-"
    assert lines["s [cooldown@30]"].get_color() == lines["s"].get_color() != lines["m"].get_color()
    assert "tokens" in ax.get_xlabel() and "nats/token" in ax.get_ylabel()
    pfig = training_curves(df, backend="plotly")
    assert len(pfig.data) == 5 and sum(t.line.dash == "dash" for t in pfig.data) == 2


# --------------------------------------------------------------------------- HTML report
def test_json_for_script_cannot_close_the_script_element():
    from scalinglab.report import json_for_script

    payload = {"name": "</script><script>alert(1)</script>", "x": "a\u2028b & <!--"}
    text = json_for_script(payload)
    assert "</" not in text and "<" not in text and "\u2028" not in text and "<!--" not in text
    assert json.loads(text) == payload


def test_html_report_self_contained_and_escaped(tmp_path, runs, fitted):
    from scalinglab.report import write_report
    from scalinglab.report._inputs import fmt_num

    plan = {"query": "compute", "flops": 1e22, "N_opt": 1.2e10, "D_opt": 1.4e11, "tokens_per_param": 11.7,
            "loss": 2.3, "intervals": {"loss": [2.2, 2.4]}, "level": 0.8, "warnings": ["<i>plan note</i>"],
            "assumptions": {"law": "chinchilla", "convention": "6ND"}}
    path = write_report(runs, fit=fitted, plans=[plan], title="T " + HOSTILE, path=tmp_path / "r.html", models=False)
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>")
    assert EXTERNAL.search(text) is None
    assert "cdn.plot.ly" not in text.split("<script>", 1)[0]  # nothing in the head references a CDN
    # plotly.js embedded exactly once (its bundle is by far the largest script)
    scripts = re.findall(r"<script>(.*?)</script>", text, flags=re.S)
    assert sum(len(s) > 1_000_000 for s in scripts) == 1
    # the hostile run name is never raw HTML, only escaped text / \u-escaped JSON
    assert HOSTILE not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;i&gt;plan note&lt;/i&gt;" in text
    # sections and figures: loss-vs-compute, IsoFLOP, allocation, residuals, bootstrap, multi-start, backtest
    assert 'data-figures="7"' in text and text.count('class="plot-spec"') == 7
    for anchor in ("data", "allocation", "fit", "plans", "backtest", "provenance", "warnings"):
        assert f'id="{anchor}"' in text
    # the plan's reach comes from the fit's own prediction at (N_opt, D_opt): 6·12B·140B = 1.008e22 FLOPs
    assert "plan 1: extrapolates 101x beyond the largest fitted run in compute (&gt; 100x)" in text
    assert "plan 1 extrapolates" not in text  # (the data-only fallback is not repeated)
    assert "<td>fitted range of N (params)</td><td>40.8M – 16.3B parameters</td>" in text
    from scalinglab import __version__

    assert f"<td>scalinglab version</td><td>{__version__}</td>" in text
    assert "data hash" in text and "C = 6ND" in text
    for name, (lo, hi) in fitted.intervals.items():
        assert f"<td>{name}</td><td>{fmt_num(fitted.params[name], 5)}</td><td>[{fmt_num(lo)}, {fmt_num(hi)}]</td>" in text
    assert "Content-Security-Policy" in text and "default-src &#x27;none&#x27;" in text


def test_plan_reach_without_a_fit_uses_the_data(tmp_path, runs):
    from scalinglab.report import write_report

    plan = {"query": "compute", "flops": 1e22, "N_opt": 1.2e10, "D_opt": 1.4e11, "loss": 2.3}
    text = write_report(runs, plans=[plan], auto_fit=False, path=tmp_path / "r.html", models=False).read_text()
    assert "plan 1 extrapolates 100× beyond the largest compute in the data (1e+20 FLOPs)" in text


def test_html_report_degrades_without_optional_inputs(tmp_path):
    from scalinglab.report import write_report

    df = pd.DataFrame({"run_id": ["a", "b", "c"], "flops": [1e18, 1e19, 1e20], "loss": [3.0, 2.7, 2.5]})
    text = write_report(df, path=tmp_path / "r.html", models=False).read_text()
    assert 'data-figures="2"' in text  # loss vs compute (data only) and the reference allocation plot
    assert 'id="fit"' not in text and EXTERNAL.search(text) is None
    text2 = write_report(make_runs(), path=tmp_path / "r2.html", auto_fit=False, models=False).read_text()
    assert 'id="fit"' not in text2 and 'data-figures="3"' in text2


def test_cli_report_contract(tmp_path, runs):
    from typer.testing import CliRunner

    from scalinglab.cli import app

    csv = tmp_path / "chinchilla.csv"
    runs[["params", "tokens", "loss"]].to_csv(csv, index=False)
    out = tmp_path / "r.html"
    res = CliRunner().invoke(app, ["report", str(csv), "-o", str(out), "--bootstrap", "50", "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert info["path"] == str(out) and info["figures"] >= 5
    text = out.read_text()
    assert EXTERNAL.search(text) is None
    assert "fitted law &#x27;auto&#x27; here" in text and "<td>alpha</td>" in text
    bad = CliRunner().invoke(app, ["report", str(tmp_path / "missing.csv"), "-o", str(out)])
    assert bad.exit_code == 2 and "missing.csv" in bad.output
    (tmp_path / "empty.csv").write_text("")
    bad = CliRunner().invoke(app, ["report", str(csv), "--curves", str(tmp_path / "empty.csv"), "-o", str(out)])
    assert bad.exit_code == 2 and "empty.csv" in bad.output


def test_cli_report_with_fit_and_plan_files(tmp_path, runs, fitted):
    from typer.testing import CliRunner

    from scalinglab.cli import app

    csv = tmp_path / "runs.csv"
    runs.to_csv(csv, index=False)
    fit_path = fitted.to_json(tmp_path / "fit.json")
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps({"query": "compute", "flops": 1e21, "N_opt": 3e9, "D_opt": 5e10, "loss": 2.4}))
    out = tmp_path / "r.html"
    res = CliRunner().invoke(app, ["report", str(csv), "--fit", str(fit_path), "--plan", str(plan_path), "-o",
                                   str(out), "--no-models"])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert "Plan 1: compute" in text and "fitted law" not in text
    assert HOSTILE not in text


# --------------------------------------------------------------------------- terminal, notebook, save_plot
def test_render_fit_and_plan_tables(fitted):
    from rich.console import Console

    from scalinglab.report import render_fit, render_plan

    con = Console(record=True, width=140)
    render_fit(fitted, con)
    text = con.export_text()
    for name in fitted.law.param_names:
        assert name in text
    assert "80% interval" in text and f"{fitted.params['alpha']:.5g}"[:5] in text
    con = Console(record=True, width=140)
    render_plan({"query": "compute", "flops": 5.76e23, "N_opt": 7.2e10, "D_opt": 1.33e12, "loss": 1.93,
                 "intervals": {"N_opt": [6e10, 8e10]}, "level": 0.8, "warnings": ["far extrapolation"],
                 "assumptions": {"law": "chinchilla-epoch"}}, con)
    text = con.export_text()
    assert "72B" in text and "60B – 80B" in text and "far extrapolation" in text and "chinchilla-epoch" in text


def test_repr_html_helpers_escape(runs, fitted):
    from scalinglab.report import fit_html, plan_html, repr_html, runtable_html

    assert "<table" in fit_html(fitted) and "alpha" in fit_html(fitted)
    h = runtable_html(runs.iloc[5:10])
    assert HOSTILE not in h and "&lt;script&gt;" in h
    p = plan_html({"query": "<b>x</b>", "N_opt": 7e10, "warnings": [HOSTILE]})
    assert "<b>x</b>" not in p and HOSTILE not in p and "70B" in p
    assert repr_html(fitted) == fit_html(fitted)


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf", ".html"])
def test_save_plot_formats(tmp_path, runs, fitted, suffix):
    from scalinglab.report import save_plot

    path = save_plot(fitted, tmp_path / f"fit{suffix}", runs=runs)
    data = path.read_bytes()
    magic = {".png": b"\x89PNG", ".svg": b"<?xml", ".pdf": b"%PDF", ".html": b"<html"}[suffix]
    assert data[:16].lstrip().startswith(magic) or magic in data[:200]
    if suffix == ".svg":
        assert b"training compute C (FLOPs)" in data
    if suffix == ".html":
        assert EXTERNAL.search(data.decode()) is None


def test_save_plot_dispatch_and_errors(tmp_path, runs):
    from scalinglab import ScalingLabError
    from scalinglab.report import save_plot
    from scalinglab.report._save import plot

    fig = plot({"query": "compute", "flops": 1e22, "N_opt": 1e10, "D_opt": 1.6e11}, models=False)
    assert fig.axes[0].get_title(loc="left") == "Compute-optimal model size N*(C)"
    with pytest.raises(ScalingLabError, match="not supported"):
        save_plot(runs, tmp_path / "x.gif")


def test_report_accepts_a_frame_with_a_flops_convention_column(tmp_path):
    """Store exports carry a per-row `flops_convention` column; the report must not mistake it for the
    table's convention (regression: 'truth value of a Series is ambiguous')."""
    import numpy as np
    import pandas as pd

    from scalinglab.report import write_report

    rng = np.random.default_rng(0)
    N = np.repeat([1e6, 3e6, 1e7], 4)
    D = np.tile([2e7, 6e7, 2e8, 6e8], 3)
    loss = 1.8 + 400 / N**0.34 + 400 / D**0.28
    df = pd.DataFrame({"params": N, "tokens": D, "flops": 6 * N * D, "flops_convention": "6N",
                       "source": "my-lab", "loss": loss * np.exp(rng.normal(0, 0.005, N.size)), "run_id": [f"r{i}" for i in range(12)]})
    path = write_report(df, path=tmp_path / "r.html", bootstrap=0, models=False)
    assert "compute range" in path.read_text()


# --------------------------------------------------------------------------- warnings and calibration in the report
def _section(text: str, anchor: str) -> str:
    return text.split(f'<section id="{anchor}">', 1)[1].split("</section>", 1)[0]


def test_report_shows_calibration_reach_and_backtest(tmp_path, runs, fitted):
    import html

    from scalinglab.fit import backtest
    from scalinglab.report import write_report

    plan = {"query": "compute", "flops": 1e22, "N_opt": 1.2e10, "D_opt": 1.4e11, "loss": 2.3, "level": 0.8,
            "warnings": []}
    point = fitted.predict(N=7e10, D=1.4e12)
    bt = backtest(runs[["params", "tokens", "flops", "loss"]], "chinchilla", cutoff_frac=0.3)
    text = write_report(runs, fit=fitted, plans=[plan], predictions=[point, "N=1B,D=20B"], backtest=bt,
                        path=tmp_path / "r.html", models=False).read_text()
    # calibration of the fit's intervals: method, source, cuts, reason
    cal = fitted.summary()["calibration"]
    fit_sec = _section(text, "fit")
    assert f"<td>interval method</td><td>{html.escape(cal['method'])}</td>" in fit_sec
    assert f"<td>calibration source</td><td>{cal['source']}: " in fit_sec
    assert f"<td>calibration cuts (n_cuts)</td><td>{cal['n_cuts']}</td>" in fit_sec
    assert "<td>calibration reason</td>" in fit_sec
    # the parameter intervals say where they come from (a report's own fit bootstraps; `fit` does not)
    assert f"80% interval ({fitted.diagnostics['interval_source']})</th>" in fit_sec
    # predictions: reach in compute, beyond the warning factor, outside the hull, and their warnings
    d = point.to_dict()
    assert d["extrapolation"]["beyond_warn_factor"] and d["extrapolation"]["outside_hull"]
    pred_sec = _section(text, "predictions")
    # 6 · 70B · 1.4T = 5.88e23 FLOPs over the largest fitted run's 1e20
    assert d["extrapolation"]["flops"] == pytest.approx(5880) and d["extrapolation"]["reach"] == pytest.approx(5880)
    assert "<td>5,880×</td><td>5,880×</td><td>yes</td><td>yes</td>" in pred_sec
    warn_sec = _section(text, "warnings")
    for w in d["warnings"]:
        assert html.escape(w) in pred_sec and f"prediction at N=70B, D=1.4T: {html.escape(w)}" in warn_sec
    # a plan is placed against the fit: its compute factor (1e22 / 1e20 = 100x... by the fit's 6ND reach)
    pd_ = fitted.predict(N=1.2e10, D=1.4e11).to_dict()
    plan_sec = _section(text, "plans")
    assert f"<td>extrapolation in compute (flops)</td><td>{pd_['extrapolation']['flops']:.3g}× the largest" in plan_sec
    assert f"<td>reach (largest extrapolation factor)</td><td>{pd_['extrapolation']['reach']:.3g}×</td>" in plan_sec
    assert "<td>beyond_warn_factor</td><td>yes (threshold 100×)</td>" in plan_sec
    assert "<td>outside_hull (of the fitted data)</td><td>yes</td>" in plan_sec
    assert "plan 1: point lies outside the convex hull" in warn_sec
    # backtest: coverage per level and the by_extrapolation table, one row per bin
    bt_sec = _section(text, "backtest")
    for k, v in bt.coverage.items():
        assert f"<td>{float(k):.0%}</td><td>{v:.0%}</td>" in bt_sec
    table = bt_sec.split('class="by-extrapolation"', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == 1 + len(bt.by_extrapolation)
    for r in bt.by_extrapolation:
        assert f"<td>{r['n_predictions']}</td><td>{r['median_rel_error']:.2%}</td><td>{r['max_rel_error']:.2%}</td>" \
               in table
    assert HOSTILE not in text


def test_the_open_last_reach_bin_of_a_backtest_reads_as_at_least_its_lower_end():
    """A backtest whose predictions reach 100x or more has an open last bin; as JSON (a fit file, or the report's
    own dict) its upper end is null, and the report labels it '≥ 100×' (it died with a TypeError)."""
    from scalinglab.report.html import _backtest_section, _Report

    row = {"n_predictions": 3, "median_rel_error": 0.01, "max_rel_error": 0.02, "coverage": {"0.8": 1.0}}
    d = {"law": "chinchilla", "by": "flops", "cutoff": 1e20, "coverage": {"0.8": 0.9}, "n_predictions": 5,
         "by_extrapolation": [{**row, "extrapolation_min": 0.0, "extrapolation_max": 2.0},
                              {**row, "extrapolation_min": 100.0, "extrapolation_max": None}]}
    out = _backtest_section(d, _Report("t"))
    table = out.split('class="by-extrapolation"', 1)[1]
    assert "<td>&lt; 2×</td>" in table and "<td>≥ 100×</td>" in table


def test_report_backtests_by_itself_and_warns_on_prior_calibration(tmp_path, runs):
    from scalinglab.fit import fit
    from scalinglab.report import write_report

    sub = make_runs(budgets=(1e18, 3e18, 1e19), per=8)[["params", "tokens", "flops", "loss"]]
    res = fit(sub, "chinchilla")
    cal = res.summary()["calibration"]
    assert cal["source"] == "prior" and cal["n_cuts"] < 2 and cal["reason"]
    text = write_report(sub, fit=res, path=tmp_path / "r.html", models=False).read_text()
    assert 'id="backtest"' in text and 'class="by-extrapolation"' in text  # computed by the report itself
    assert ("prediction intervals are not calibrated on these runs (prior rule: " + cal["reason"]) in \
        _section(text, "warnings")
    assert "calibration source</td><td>prior: " in text
    assert f"<td>calibration reason</td><td>{cal['reason']}</td>" in text
    off = write_report(sub, fit=res, backtest=None, path=tmp_path / "r2.html", models=False).read_text()
    assert 'id="backtest"' not in off


def test_cli_report_predict_option(tmp_path, runs, fitted):
    from typer.testing import CliRunner

    from scalinglab.cli import app

    csv = tmp_path / "runs.csv"
    runs.to_csv(csv, index=False)
    fit_path = fitted.to_json(tmp_path / "fit.json")
    out = tmp_path / "r.html"
    res = CliRunner().invoke(app, ["report", str(csv), "--fit", str(fit_path), "--predict", "N=70B,D=1.4T",
                                   "--no-backtest", "--no-models", "-o", str(out), "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    text = out.read_text()
    assert 'id="predictions"' in text and 'id="backtest"' not in text
    assert "prediction at N=70B, D=1.4T: extrapolates" in text and info["warnings"] >= 2
    bad = CliRunner().invoke(app, ["report", str(csv), "--fit", str(fit_path), "--predict", "N70B", "-o", str(out)])
    assert bad.exit_code == 2 and "VAR=VALUE" in bad.output


def test_notebook_reprs_of_fit_plan_and_runtable_are_escaped_and_informative(runs, fitted):
    import dataclasses

    from scalinglab.data import load_runs
    from scalinglab.plan import Plan
    from scalinglab.report import repr_html

    hostile_fit = dataclasses.replace(fitted, message=HOSTILE)
    for text in (hostile_fit._repr_html_(), repr_html(hostile_fit)):
        assert HOSTILE not in text and "&lt;script&gt;" in text
        assert "alpha" in text and "80% interval" in text
    cal = fitted.summary()["calibration"]
    assert f"prediction intervals: {cal['method']}, calibrated by {cal['source']}" in repr_html(fitted)
    plan = Plan(query=HOSTILE, flops=1e22, N_opt=1.2e10, D_opt=1.4e11, tokens_per_param=11.7, loss=2.3,
                intervals={"loss": (2.2, 2.4)}, warnings=(HOSTILE,))
    for text in (plan._repr_html_(), repr_html(plan)):
        assert HOSTILE not in text and "&lt;script&gt;" in text and "12B" in text
    table = load_runs(runs.assign(run_id=[HOSTILE] + list(runs["run_id"][1:])))
    for text in (table._repr_html_(), repr_html(table)):
        assert HOSTILE not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "60" in text


def test_cli_report_reads_curves_through_the_run_table_reader(tmp_path):
    """A curves file in a user's own names and units (``val_loss``, ``D`` as "10M") is read by `load_runs`,
    like the runs, and drawn (a plain CSV read found no ``loss``/``tokens`` and dropped the figure silently)."""
    from typer.testing import CliRunner

    from scalinglab.cli import app

    rows = [{"run_id": f"r{n}", "N": n, "D": f"{s * 10}M", "step": s * 100, "val_loss": 4.0 / s ** 0.2}
            for n in ("1M", "4M") for s in range(1, 6)]
    pd.DataFrame(rows).to_csv(tmp_path / "curves.csv", index=False)
    pd.DataFrame({"N": [1e6, 4e6, 1e6, 4e6], "D": [5e7, 5e7, 2e7, 2e7], "loss": [3.0, 2.8, 3.2, 3.0]}).to_csv(
        tmp_path / "runs.csv", index=False)
    out = tmp_path / "r.html"
    base = ["report", str(tmp_path / "runs.csv"), "-o", str(out), "--json", "--no-fit"]
    plain = json.loads(CliRunner().invoke(app, base).stdout)
    res = CliRunner().invoke(app, base + ["--curves", str(tmp_path / "curves.csv")])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert info["figures"] == plain["figures"] + 1 and info["warnings"] == 0
    text = out.read_text()
    assert text.count('"name":"r1M"') == 1 and text.count('"name":"r4M"') == 1
    # curves logged in bits/byte are labelled so (the runs' own figures stay in nats/token)
    pd.DataFrame(rows).rename(columns={"val_loss": "val_bpb"}).to_csv(tmp_path / "bpb.csv", index=False)
    res = CliRunner().invoke(app, base + ["--curves", str(tmp_path / "bpb.csv")])
    assert res.exit_code == 0, res.output
    titles = set(re.findall(r'"title":\{"text":"([^"]*)"', out.read_text()))
    assert {"loss (bits\\u002fbyte)", "loss (nats\\u002ftoken)"} <= titles


def test_a_store_takes_drop_duplicates_and_a_missing_store_is_not_created(tmp_path):
    from scalinglab import InputError, StoreError
    from scalinglab.report._inputs import load_any_runs

    # --drop-duplicates applies to a store too (a teammate's rerun stores a run twice under two ids); a store
    # that does not exist is refused, never created by a read
    with pytest.raises(StoreError, match="no run store at"):
        load_any_runs(str(tmp_path / "runs.db"), drop_duplicates=True)
    assert not (tmp_path / "runs.db").exists()
    with pytest.raises(InputError, match="holds each run once"):  # --column still does not apply to a store
        load_any_runs(str(tmp_path / "runs.db"), columns={"a": "loss"})


def test_a_report_of_bits_per_byte_labels_every_loss_axis_in_bits(tmp_path):
    """A run table whose loss is ``val_bpb``: the loss axes, the backtest's and E's histogram say bits/byte."""
    from typer.testing import CliRunner

    from scalinglab.cli import app
    from scalinglab.data import load_runs
    from scalinglab.fit import backtest

    rng = np.random.default_rng(1)
    N = np.repeat(np.geomspace(1e7, 1e9, 6), 4)
    D = np.tile(np.geomspace(1e9, 1e11, 4), 6)
    bpb = (1.69 + 406.4 * N**-0.34 + 410.7 * D**-0.28) / np.log(2) / 3.5 * np.exp(rng.normal(0, 0.003, N.size))
    path = tmp_path / "bpb.csv"
    pd.DataFrame({"N": N, "D": D, "val_bpb": bpb}).to_csv(path, index=False)
    assert backtest(load_runs(path), "chinchilla").loss_unit == "bits/byte"
    out = tmp_path / "r.html"
    res = CliRunner().invoke(app, ["report", str(path), "-o", str(out), "--law", "chinchilla", "--bootstrap", "50"])
    assert res.exit_code == 0, res.output
    titles = re.findall(r'"title":\{"text":"([^"]*)"', out.read_text())
    assert {"loss (bits\\u002fbyte)", "actual loss (bits\\u002fbyte)", "predicted loss (bits\\u002fbyte)",
            "E (bits\\u002fbyte)"} <= set(titles)
    assert not [t for t in titles if "nats" in t]


def test_cli_report_records_the_row_selection(tmp_path, runs):
    """A report made with --where / --drop-missing-loss said 'runs 18' and nothing of the rows left out: its
    reader could not reproduce the data hash from the file."""
    from typer.testing import CliRunner

    from scalinglab.cli import app

    csv = tmp_path / "r.csv"
    runs[["params", "tokens", "loss"]].to_csv(csv, index=False)
    small = float(runs["params"].median())
    out = tmp_path / "r.html"
    res = CliRunner().invoke(app, ["report", str(csv), "-o", str(out), "--where", f"params<={small:g}", "--no-fit"])
    assert res.exit_code == 0, res.output
    n = int((runs["params"] <= small).sum())
    assert f"runs selected from {csv} with --where params&lt;={small:g}: {n} rows used" in out.read_text()


def test_the_report_names_a_run_far_off_the_law(tmp_path, runs):
    """The report's outlier note read a `data` attribute its fit view does not have: it never appeared."""
    from scalinglab.report.html import write_report

    df = runs[["params", "tokens", "loss"]].copy()
    df.loc[df.index[3], "loss"] = 11_000.0
    out = write_report(df, path=tmp_path / "r.html", law="chinchilla", bootstrap=0, backtest=None)
    assert "lie more than 2x off the law" in out.read_text()
