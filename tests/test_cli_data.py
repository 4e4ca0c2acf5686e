"""`scalinglab validate` and `scalinglab convert` through Typer's CliRunner."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from scalinglab.cli import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_validate_contract_bad_file(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("params,tokens,loss\n70B,1.4T,1.94\n1e9,2e10,abc\n")
    r = invoke("validate", bad)
    assert r.exit_code == 2
    assert re.search(r"bad\.csv:\d+:loss", r.output)
    assert f"{bad}:2:loss: not a number: 'abc'" in r.output
    assert "Traceback" not in r.output


def test_validate_json_errors(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("params,tokens,loss\n-70B,1.4T,1.94\n1e9,2e10,abc\n")
    r = invoke("validate", bad, "--json")
    assert r.exit_code == 2
    doc = json.loads(r.stdout)
    assert doc["ok"] is False
    assert [(e["file"], e["row"], e["column"]) for e in doc["errors"]] == [(str(bad), 1, "params"),
                                                                           (str(bad), 2, "loss")]
    assert all(set(e) >= {"file", "row", "column", "reason"} for e in doc["errors"])


def test_validate_ok_summary_and_json(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("N,D,val_loss\n70B,1.4T,1.94\n1e9,2e10,2.5\n")
    r = invoke("validate", good)
    assert r.exit_code == 0, r.output
    assert "2 rows" in r.output and "derived" in r.output and "6ND" in r.output and "70B" in r.output
    r = invoke("validate", good, "--json")
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    assert doc["ok"] is True and doc["rows"] == 2 and doc["flops_convention"] == "6ND"
    assert doc["columns"] == ["params", "tokens", "flops", "loss"]
    assert doc["ranges"]["params"] == [1e9, 70e9]
    assert doc["ranges"]["flops"] == [6 * 1e9 * 2e10, 6 * 70e9 * 1.4e12]
    assert doc["derived"] == ["flops"] and doc["column_map"] == {"N": "params", "D": "tokens", "val_loss": "loss"}


def test_validate_missing_file_and_markup_in_values(tmp_path):
    r = invoke("validate", tmp_path / "nope.csv")
    assert r.exit_code == 2 and "no such file" in r.output and "Traceback" not in r.output
    odd = tmp_path / "odd.csv"
    odd.write_text("params,loss\n1e6,[bold]x[/bold]\n")
    r = invoke("validate", odd)
    assert r.exit_code == 2 and "[bold]x[/bold]" in r.output
    # a table with nothing to count FLOPs from says so (not "FLOP convention: None")
    zero = tmp_path / "zero.csv"
    zero.write_text("params,tokens,loss\n1e6,2e7,0\n2e6,4e7,2.9\n")
    r = invoke("validate", zero)
    assert r.exit_code == 2 and "validate --allow-nonpositive-loss" in r.output
    loss_only = tmp_path / "loss_only.csv"
    loss_only.write_text("params,loss\n1e6,3.1\n2e6,2.9\n")
    r = invoke("validate", loss_only)
    assert r.exit_code == 0 and "no FLOPs (neither a flops column nor params and tokens" in " ".join(r.output.split())
    assert "None" not in r.output
    # FILE:ROW:COLUMN stays machine-readable: row 100 is ':100:', not Rich's emoji code for 💯
    rows = tmp_path / "rows.csv"
    rows.write_text("params,tokens,loss\n" + "".join(f"{i}M,{20 * i}M,{'' if i == 100 else 3.0}\n"
                                                      for i in range(1, 120)))
    r = invoke("validate", rows)
    assert r.exit_code == 2 and f"{rows}:100:loss: empty cell" in r.output and "\U0001f4af" not in r.output
    assert "FILE:ROW:COLUMN counts ROW from the first data row (row 1 is the line after the header)" in " ".join(
        r.output.split())


def test_validate_require_and_loss_options(tmp_path):
    f = tmp_path / "m.csv"
    f.write_text("params,loss\n1e6,0\n2e6,-1\n")
    assert invoke("validate", f).exit_code == 2
    assert invoke("validate", f, "--allow-nonpositive-loss").exit_code == 0
    r = invoke("validate", f, "--require", "tokens", "--allow-nonpositive-loss", "--json")
    assert r.exit_code == 2 and json.loads(r.stdout)["errors"][0]["column"] == "tokens"


def test_convert_round_trip(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"N": "70B", "D": "1.4T", "loss": 1.94}\n{"N": "1B", "D": "20B", "loss": 2.5}\n')
    out = tmp_path / "out.parquet"
    r = invoke("convert", src, out, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["rows"] == 2
    df = pd.read_parquet(out)
    assert df.columns.tolist() == ["params", "tokens", "flops", "loss"]
    assert df["flops"].tolist() == [6 * 70e9 * 1.4e12, 6 * 1e9 * 20e9]
    csv_out = tmp_path / "out.csv"
    assert invoke("convert", out, csv_out).exit_code == 0
    assert pd.read_csv(csv_out)["params"].tolist() == [70e9, 1e9]
    r = invoke("convert", src, tmp_path / "out.txt")
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_column_reads_a_published_tables_own_names_in_every_table_command(tmp_path):
    """Muennighoff et al.'s table names its columns params_N, tokens_D, unique_tokens_U, final_val_loss: they read
    as params, tokens, loss where no other column claims those names; else the errors name the columns that
    look like the missing one, and --column SRC=NAME reads them as they say (validate, convert, fit, backtest,
    report), the fit recovering the constants the table was made with."""
    import numpy as np

    from scalinglab.data import load_runs
    from scalinglab.data.schema import named_like

    rng = np.random.default_rng(3)
    N, D = (a.ravel() for a in np.meshgrid(np.geomspace(2e7, 2e9, 6), np.geomspace(4e8, 1e11, 6)))
    truth = {"E": 1.8, "A": 400.0, "B": 1200.0, "alpha": 0.34, "beta": 0.30}
    L = truth["E"] + truth["A"] / N ** truth["alpha"] + truth["B"] / D ** truth["beta"]
    path = tmp_path / "runs.csv"
    pd.DataFrame({"name": [f"r{i}" for i in range(N.size)], "params_N": N, "tokens_D": D,
                  "tokens_per_param": D / N, "final_val_loss": L * np.exp(0.003 * rng.standard_normal(N.size))
                  }).to_csv(path, index=False)
    assert named_like("params", ["params_N", "tokens_D", "tokens_per_param", "unique_tokens_U"]) == ["params_N"]
    assert named_like("tokens", ["params_N", "tokens_D", "tokens_per_param", "unique_tokens_U"]) == ["tokens_D"]
    assert named_like("unique_tokens", ["tokens_D", "unique_tokens_U"]) == ["unique_tokens_U"]
    assert named_like("loss", ["params_N", "c4_val", "final_val_loss", "val_bpb"]) == ["c4_val", "final_val_loss"]

    # the paper's letters and "final" read without a map: no other column claims those names
    r = invoke("validate", path, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["column_map"] == {"name": "run_id", "params_N": "params", "tokens_D": "tokens",
                                                  "final_val_loss": "loss"}  # a run's name is its label
    r = invoke("fit", path, "--law", "chinchilla", "--loss", "huber", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["params"]["alpha"] == pytest.approx(truth["alpha"], abs=0.03)
    # beside a column that claims the name (or another such column) they keep their own names
    two = tmp_path / "two.csv"
    pd.read_csv(path).assign(model_size_N=N * 1.5, loss=L).to_csv(two, index=False)
    r = invoke("fit", two, "--law", "chinchilla")
    assert r.exit_code == 2
    assert "columns named like 'params' here: 'params_N', 'model_size_N': choose one with --column params_N=params" \
        in r.output
    both = load_runs(pd.read_csv(two).drop(columns="model_size_N"), columns={"params_N": "params"})
    assert both.df["loss"].to_numpy() == pytest.approx(L) and "final_val_loss" in both.columns
    cols = ["--column", "params_N=params", "--column", "tokens_D=tokens", "--column", "final_val_loss=loss"]

    r = invoke("validate", path, *cols, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["rows"] == N.size and doc["column_map"] == {"name": "run_id", "params_N": "params",
                                                           "tokens_D": "tokens", "final_val_loss": "loss"}
    r = invoke("convert", path, tmp_path / "canon.csv", *cols, "--column", "tokens_per_param=")
    assert r.exit_code == 0, r.output
    canon = load_runs(tmp_path / "canon.csv")
    assert canon.df["params"].to_numpy() == pytest.approx(N) and "tokens_per_param" not in canon.columns

    r = invoke("fit", path, "--law", "chinchilla", "--loss", "huber", *cols, "--json")
    assert r.exit_code == 0, r.output
    fitted = json.loads(r.stdout)["params"]
    assert fitted["alpha"] == pytest.approx(truth["alpha"], abs=0.03)
    assert fitted["beta"] == pytest.approx(truth["beta"], abs=0.03)
    assert fitted["E"] == pytest.approx(truth["E"], rel=0.05)
    r = invoke("backtest", path, "--law", "chinchilla", *cols, "--json")
    assert r.exit_code == 0, r.output
    r = invoke("report", path, *cols, "--no-fit", "-o", tmp_path / "r.html")
    assert r.exit_code == 0, r.output
    assert "final_val_loss" in (tmp_path / "r.html").read_text(encoding="utf-8")

    r = invoke("fit", path, "--column", "params_N")
    assert r.exit_code == 2 and "expected SRC=NAME" in r.output
    r = invoke("fit", path, "--column", "a=params", "--column", "a=tokens")
    assert r.exit_code == 2 and "mapped twice" in r.output
    r = invoke("fit", path, "--column", "missing=params")
    assert r.exit_code == 2 and "'missing'" in r.output and "not a column here" in r.output


def test_validate_names_runs_that_repeat_their_data(tmp_path):
    """validate counts the runs trained beyond 4 passes over their unique_tokens (--json key repetition) and
    says a law without unique tokens reads them as new data; a table without such runs says nothing."""
    path = tmp_path / "rep.csv"
    pd.DataFrame({"params": [1e8, 1e8, 4e8, 4e8], "tokens": [2e9, 2e10, 8e9, 4e10],
                  "unique_tokens": [2e9, 2e9, 2e9, 4e9], "loss": [3.2, 3.0, 2.9, 2.7]}).to_csv(path, index=False)
    r = invoke("validate", path, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["repetition"] == {"runs": 4, "repeated": 2, "max_epochs": 10.0,
                                                  "epochs_threshold": 4.0}
    r = invoke("validate", path)
    assert "repeated data: 2 of 4 runs with unique_tokens repeat their data more than 4 times (up to 10 epochs)" \
        in " ".join(r.output.split()) and "--law data-constrained" in r.output
    pd.read_csv(path).assign(unique_tokens=lambda d: d.tokens).to_csv(path, index=False)
    r = invoke("validate", path)
    assert r.exit_code == 0 and "repeated data" not in r.output


def test_validate_and_fit_name_counts_in_another_unit_and_a_single_allocation(tmp_path):
    """Tokens written in billions under a plain header (a unit slip: 0.05-80 'tokens' for 1e7-1e9 parameters)
    and parameters in millions are named by validate (--json key unit_slips) and by a fit's DataWarning,
    pointing at a header that names the unit; a ladder with one tokens-per-parameter ratio (every run at 20)
    is named too (--json key allocation), and a fit of a law in N and D warns that its split comes from the
    law's form, while a law in compute alone does not; a ladder with several ratios says nothing."""
    from scalinglab import DataWarning
    from scalinglab.fit import fit

    N = np.repeat(np.logspace(7, 9, 5), 3)
    D = N * np.tile([5, 20, 80], 5)
    L = 1.69 + 406.4 / N**0.34 + 410.7 / D**0.28
    good = tmp_path / "good.csv"
    pd.DataFrame({"params": N, "tokens": D, "loss": L}).to_csv(good, index=False)
    slip = tmp_path / "slip.csv"
    pd.DataFrame({"params": N, "tokens": D / 1e9, "loss": L}).to_csv(slip, index=False)
    millions = tmp_path / "millions.csv"
    pd.DataFrame({"params": N / 1e6, "tokens": D, "loss": L}).to_csv(millions, index=False)
    r = invoke("validate", good, "--json")
    doc = json.loads(r.stdout)
    assert doc["unit_slips"] == [] and doc["allocation"] == {"runs": 15, "min": 5.0, "max": 80.0, "single": False}
    assert "units" not in invoke("validate", good).output
    slips = json.loads(invoke("validate", slip, "--json").stdout)["unit_slips"]
    assert len(slips) == 1 and slips[0].startswith("every run saw fewer than 0.1 tokens per parameter (at most 8e-08)")
    assert "'Tokens (B)'" in " ".join(invoke("validate", slip).output.split())
    slips = json.loads(invoke("validate", millions, "--json").stdout)["unit_slips"]
    assert len(slips) == 1
    assert slips[0].startswith("every run saw more than 100,000 tokens per parameter (at least 5e+06)")
    # without the other count, the sizes alone tell
    alone = tmp_path / "alone.csv"
    pd.DataFrame({"tokens": D / 1e9, "loss": L}).to_csv(alone, index=False)
    slips = json.loads(invoke("validate", alone, "--json").stdout)["unit_slips"]
    assert slips == [s for s in slips if s.startswith("every run saw fewer than 1,000,000 tokens (at most 80)")] != []
    # a CPU ladder of 8k-34k parameters on 39k-680k tokens is small, not in another unit (it was named)
    tiny = tmp_path / "tiny.csv"
    pd.DataFrame({"params": np.repeat([7728, 21600, 33952], 3), "loss": np.linspace(3.0, 2.0, 9),
                  "tokens": [38880, 77280, 154560, 108480, 216000, 432000, 170240, 340480, 679680]}).to_csv(tiny)
    assert json.loads(invoke("validate", tiny, "--json").stdout)["unit_slips"] == []
    with pytest.warns(DataWarning, match=r"tokens in billions, or parameters"):
        fit(str(slip), "chinchilla", calibrate=False)
    # one allocation: every run at 20 tokens per parameter
    one = tmp_path / "one.csv"
    n = np.logspace(7, 9, 15)
    pd.DataFrame({"params": n, "tokens": 20 * n, "loss": 1.69 + 406.4 / n**0.34 + 410.7 / (20 * n) ** 0.28}).to_csv(
        one, index=False)
    doc = json.loads(invoke("validate", one, "--json").stdout)
    assert doc["allocation"]["single"] is True and doc["allocation"]["min"] == pytest.approx(20)
    assert "one allocation: every one of the 15 runs was trained on about 20 tokens per parameter" in " ".join(
        invoke("validate", one).output.split())
    with pytest.warns(DataWarning, match="comes from the law's form"):
        fit(str(one), "chinchilla", calibrate=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        fit(str(one), "power", x="flops", calibrate=False)  # a law in compute alone: nothing to split
        fit(str(good), "chinchilla", calibrate=False)


def test_a_selection_fits_the_column_y_names_in_a_table_without_a_loss(tmp_path):
    """A table of losses on several eval sets (Gadre et al.'s c4_val, openlm_val) has no loss column: fit,
    backtest and compare --y c4_val read it with --where as without, fitting the selected runs only; report,
    which reads the loss, still says the column is missing."""
    import numpy as np

    rng = np.random.default_rng(5)
    N, D = (a.ravel() for a in np.meshgrid(np.geomspace(2e7, 2e9, 5), np.geomspace(4e8, 1e11, 5)))
    L = 1.8 + 400.0 / N ** 0.34 + 1200.0 / D ** 0.30
    frames = [pd.DataFrame({"dataset": name, "params": N, "tokens": D, "c4_val": L * shift,
                            "openlm_val": L * shift * np.exp(0.003 * rng.standard_normal(N.size))})
              for name, shift in (("c4", 1.0), ("rpj", 1.3))]
    path = tmp_path / "evals.csv"
    pd.concat(frames).to_csv(path, index=False)
    r = invoke("fit", path, "--y", "c4_val", "--where", "dataset=c4", "--law", "chinchilla", "--loss", "huber",
               "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["n_points"] == N.size and doc["params"]["E"] == pytest.approx(1.8, rel=0.02)
    for cmd in ("backtest", "compare"):
        r = invoke(cmd, path, "--y", "c4_val", "--where", "dataset=rpj", "--json")
        assert r.exit_code == 0, (cmd, r.output)
    r = invoke("report", path, "--where", "dataset=c4", "-o", tmp_path / "r.html")
    assert r.exit_code == 2 and "missing required column 'loss'" in r.output


def test_the_row_note_says_what_row_counts_in_each_kind_of_file(tmp_path):
    from typer.testing import CliRunner

    from scalinglab.cli import app

    p = tmp_path / "b.jsonl"
    p.write_text('{"params":1e8,"tokens":2e9,"loss":3.1}\n{"params":4e8,"tokens":8e9,"loss":"x"}\n')
    r = CliRunner().invoke(app, ["validate", str(p)])
    assert r.exit_code == 2 and ":2:loss" in r.stderr and "counts records from 1" in r.stderr
    q = tmp_path / "b.csv"
    q.write_text("params,tokens,loss\n1e8,2e9,x\n")
    r = CliRunner().invoke(app, ["validate", str(q)])
    assert "row 1 is the line after the header" in r.stderr
