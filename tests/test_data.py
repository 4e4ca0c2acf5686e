"""Run tables: aliases, unit strings, derived FLOPs, formats, round trips and the validation gate."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scalinglab import DataError, InputError
from scalinglab.data import COLUMN_ALIASES, RunTable, load_runs
from scalinglab.data.schema import flops_factor


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding=encoding)
    return path


def locations(exc: DataError) -> list[tuple[int | None, str | None]]:
    return [(p.row, p.column) for p in exc.problems]


# ---- the validation gate: every problem names its row and column -------------------------------------

def test_contract_bad_csv(tmp_path):
    path = write(tmp_path, "bad.csv", "params,tokens,loss\n70B,1.4T,1.94\n1e9,2e10,abc\n")
    with pytest.raises(DataError) as info:
        load_runs(path)
    (p,) = info.value.problems
    assert (p.file, p.row, p.column) == (str(path), 2, "loss")
    assert "abc" in p.reason
    assert p.location == f"{path}:2:loss"


def test_every_problem_is_collected_with_exact_locations(tmp_path):
    text = ("Model Size,D,val_loss,step\n"
            "-1,1B,2.5,0\n"        # row 1: params < 0
            "1B,0,2.4,1\n"         # row 2: tokens = 0
            "1B,2B,,2\n"           # row 3: empty loss
            "1B,inf,2.2,3\n"       # row 4: tokens inf
            "70m,2B,2.1,4\n"       # row 5: ambiguous suffix
            "1B,2B,-0.5,5\n"       # row 6: loss <= 0
            "1B,2B,2.0,6.5\n"      # row 7: fractional step
            "1B,3B,2.0,-1\n"       # row 8: negative step
            "1B,4B,1.9,9\n")       # row 9: fine
    with pytest.raises(DataError) as info:
        load_runs(write(tmp_path, "runs.csv", text))
    exc = info.value
    assert locations(exc) == [(1, "Model Size"), (2, "D"), (3, "val_loss"), (4, "D"), (5, "Model Size"),
                              (6, "val_loss"), (7, "step"), (8, "step")]
    reasons = [p.reason for p in exc.problems]
    assert "must be > 0 (got -1)" in reasons[0]
    assert "must be > 0 (got 0)" in reasons[1]
    assert "empty" in reasons[2]
    assert "inf" in reasons[3]
    assert "ambiguous" in reasons[4] and "'m'" in reasons[4]
    assert "loss must be > 0" in reasons[5] and "positive_loss=False" in reasons[5]
    assert "whole number" in reasons[6] and "whole number" in reasons[7]
    assert str(exc).splitlines()[0] == "8 problems in " + str(tmp_path / "runs.csv") + ":"
    assert all(isinstance(p, DataError) for p in exc.problems)


def test_problem_listing_is_capped_but_all_are_kept(tmp_path):
    rows = "".join(f"1B,2B,x{i}\n" for i in range(30))
    with pytest.raises(DataError) as info:
        load_runs(write(tmp_path, "many.csv", "N,D,loss\n" + rows))
    exc = info.value
    assert len(exc.problems) == 30 and exc.n_problems == 30
    assert [p.row for p in exc.problems] == list(range(1, 31))
    lines = str(exc).splitlines()
    assert len(lines) == 1 + 20 + 1 and lines[-1] == "... and 10 more"


def test_nonpositive_loss_allowed_on_request():
    runs = load_runs({"params": [1e6, 2e6], "loss": [0.0, -1.5]}, positive_loss=False)
    np.testing.assert_array_equal(runs.arrays("loss")[0], [0.0, -1.5])
    with pytest.raises(DataError) as info:
        load_runs({"params": [1e6, 2e6], "loss": [0.0, -1.5]})
    assert locations(info.value) == [(1, "loss"), (2, "loss")]


def test_nan_in_a_frame_names_the_row():
    with pytest.raises(DataError) as info:
        load_runs(pd.DataFrame({"N": [1e6, np.nan, 3e6], "loss": [2.0, 2.1, np.inf]}), source_name="frame")
    assert [(p.file, p.row, p.column) for p in info.value.problems] == [("frame", 2, "N"), ("frame", 3, "loss")]


def test_missing_required_column_says_what_was_found(tmp_path):
    with pytest.raises(DataError) as info:
        load_runs(write(tmp_path, "r.csv", "params,tokens,accuracy\n1e9,2e10,0.5\n"))
    (p,) = info.value.problems
    assert p.column == "loss" and p.row is None
    assert "'params', 'tokens', 'accuracy'" in p.reason
    runs = load_runs(write(tmp_path, "r.csv", "params,tokens,accuracy\n1e9,2e10,0.5\n"), required=())
    assert runs.columns == ("params", "tokens", "flops", "accuracy")
    with pytest.raises(DataError, match="'flops'"):
        load_runs({"params": [1.0], "loss": [2.0]}, required=("loss", "flops"))


def test_empty_header_only_and_whitespace_files(tmp_path):
    for name, text, reason in [("e.csv", "", "file is empty"), ("w.csv", " \n\n", "file is empty"),
                               ("h.csv", "params,tokens,loss\n", "header only"),
                               ("h2.csv", "params,tokens,loss\n\n\n", "header only"),
                               ("e.jsonl", "", "file is empty"), ("e.json", "", "file is empty")]:
        with pytest.raises(DataError, match=reason) as info:
            load_runs(write(tmp_path, name, text))
        assert info.value.file == str(tmp_path / name)
    empty_parquet = tmp_path / "e.parquet"
    empty_parquet.write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        load_runs(empty_parquet)
    with pytest.raises(DataError, match="no rows"):
        load_runs(pd.DataFrame({"loss": []}))


def test_not_a_file_and_unknown_type(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_runs(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="directory"):
        load_runs(tmp_path)
    with pytest.raises(DataError, match="unknown file type"):
        load_runs(write(tmp_path, "r.docx", "x"))
    with pytest.raises(DataError, match="Parquet"):
        load_runs(write(tmp_path, "r.parquet", "params,loss\n1,2\n"))
    with pytest.raises(InputError):
        load_runs(42)


def test_blank_lines_keep_row_numbers(tmp_path):
    path = write(tmp_path, "b.csv", "params,loss\n1e6,2.0\n\n2e6,abc\n\n")
    with pytest.raises(DataError) as info:
        load_runs(path)
    assert locations(info.value) == [(3, "loss")]
    runs = load_runs(write(tmp_path, "ok.csv", "params,loss\n1e6,2.0\n\n2e6,1.5\n\n"))
    assert len(runs) == 2 and list(runs.source_rows) == [1, 3]


def test_ragged_rows_are_reported_with_other_problems(tmp_path):
    path = write(tmp_path, "r.csv", "params,tokens,loss\n1e6,1e9\n1e6,1e9,2.0,7\n0,1e9,2.0\n")
    with pytest.raises(DataError) as info:
        load_runs(path)
    assert locations(info.value) == [(1, "loss"), (2, "loss"), (3, "params")]
    assert "'loss' is missing" in info.value.problems[0].reason
    assert "extra field" in info.value.problems[1].reason


def test_bom_utf8_and_utf16(tmp_path):
    runs = load_runs(write(tmp_path, "bom.csv", "\ufeffparams,loss\n1e6,2.5\n"))
    assert runs.columns == ("params", "loss")
    runs16 = load_runs(write(tmp_path, "u16.csv", "params,loss\n1e6,2.5\n", encoding="utf-16"))
    pd.testing.assert_frame_equal(runs16.df, runs.df)


def test_duplicate_header_names(tmp_path):
    with pytest.raises(DataError) as info:
        load_runs(write(tmp_path, "d.csv", "params,loss,loss\n1e6,2,3\n"))
    (p,) = info.value.problems
    assert p.column == "loss" and "duplicate column name" in p.reason and "columns 2 and 3" in p.reason


def test_undecodable_bytes_name_row_and_column(tmp_path):
    path = write(tmp_path, "u.csv", b"params,loss,note\n1e6,2.0,ok\n2e6,2.1,caf\xe9\n3e6,2.2,x\n")
    with pytest.raises(DataError) as info:
        load_runs(path)
    assert locations(info.value) == [(2, "note")]
    assert "UTF-8" in info.value.problems[0].reason
    with pytest.raises(DataError, match="header"):
        load_runs(write(tmp_path, "h.csv", b"par\xe9ms,loss\n1,2\n"))


def test_late_text_in_a_numeric_column_is_found(tmp_path):
    # pyarrow infers the type from the first block; "abc" sits far beyond it
    n = 60_000
    lines = [f"{1e6 + i},{2e9 + i},{2.0 + i * 1e-6}" for i in range(n)]
    lines[n - 5] = f"{1e6},{2e9},abc"
    path = write(tmp_path, "big.csv", "params,tokens,loss\n" + "\n".join(lines) + "\n")
    with pytest.raises(DataError) as info:
        load_runs(path)
    assert locations(info.value) == [(n - 4, "loss")]


# ---- aliases and explicit column maps ------------------------------------------------------------------

@pytest.mark.parametrize("name,canonical", [
    ("N", "params"), ("n_params", "params"), ("num_params", "params"), ("model_size", "params"),
    ("Model Size", "params"), ("parameters", "params"), ("PARAMS", "params"),
    ("D", "tokens"), ("n_tokens", "tokens"), ("train_tokens", "tokens"), ("training_tokens", "tokens"),
    ("data", "tokens"), ("C", "flops"), ("compute", "flops"), ("training_flops", "flops"),
    ("Training FLOP", "flops"), ("budget", "flops"), ("val_loss", "loss"), ("eval_loss", "loss"),
    ("test_loss", "loss"), ("loss_nats", "loss"), ("Val Loss", "loss"), ("global_step", "step"),
    ("run", "run_id"), ("U", "unique_tokens"), ("corpus", "dataset"),
])
def test_aliases(name, canonical):
    values = {"params": 1e9, "tokens": 2e10, "flops": 1.2e20, "loss": 2.5, "step": 10, "run_id": "a",
              "unique_tokens": 5e9, "dataset": "c4"}
    data = {name: [values[canonical]]}
    if canonical != "loss":
        data["loss"] = [2.5]
    runs = load_runs(data)
    assert canonical in runs.columns and name not in runs.columns or name == canonical
    assert runs.df[canonical].iloc[0] == values[canonical]
    if name != canonical:
        assert runs.column_map[name] == canonical


def test_alias_table_maps_to_canonical_names_only():
    assert set(COLUMN_ALIASES.values()) == {"params", "tokens", "flops", "loss", "step", "unique_tokens",
                                            "dataset", "run_id"}


def test_two_columns_for_one_name_is_an_error_that_says_how_to_choose():
    data = {"loss": [2.0], "val_loss": [2.1], "N": [1e6]}
    with pytest.raises(DataError) as info:
        load_runs(data)
    (p,) = info.value.problems
    assert p.column == "val_loss" and "'loss' and 'val_loss' both mean 'loss'" in p.reason
    runs = load_runs(data, columns={"val_loss": "loss", "loss": "train_loss"})
    assert runs.df["loss"].iloc[0] == 2.1 and runs.df["train_loss"].iloc[0] == 2.0
    runs = load_runs(data, columns={"loss": None})
    assert runs.df["loss"].iloc[0] == 2.1 and "val_loss" not in runs.columns
    with pytest.raises(DataError, match="not a column"):
        load_runs(data, columns={"nope": "loss"})


def test_other_columns_are_kept_in_order():
    runs = load_runs({"seed": [1, 2], "loss": [2.0, 2.1], "acc": [0.5, 0.6], "N": [1e6, 2e6]})
    assert runs.columns == ("params", "loss", "seed", "acc")
    assert runs.df["seed"].tolist() == [1, 2]


# ---- unit strings -------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,value", [
    ("70B", 70e9), ("1.4T", 1.4e12), ("350M", 350e6), ("3.14e23", 3.14e23), ("6.7e9", 6.7e9),
    ("1.3 M", 1.3e6), ("2^20", 2.0**20), ("2**20", 2.0**20), ("1,000,000", 1e6), ("125k", 125e3),
])
def test_unit_strings_in_cells(tmp_path, text, value):
    path = write(tmp_path, "u.csv", f'params,loss\n"{text}",2.0\n7e6,2.1\n')
    runs = load_runs(path)
    assert runs.df["params"].tolist() == [value, 7e6]


def test_unit_strings_parsed_once_per_distinct_value_and_mixed_types():
    runs = load_runs({"N": ["70B", 1e9, "70B", "2^20"], "loss": [2.0, 2.1, 2.2, 2.3]})
    assert runs.df["params"].tolist() == [70e9, 1e9, 70e9, 2.0**20]


@pytest.mark.parametrize("text", ["70m", "1MB", "12 bananas", "70b", "0x10"])
def test_ambiguous_or_bad_unit_strings_are_rejected(text):
    with pytest.raises(DataError) as info:
        load_runs({"N": ["1B", text], "loss": [2.0, 2.1]})
    assert locations(info.value) == [(2, "N")]


def test_loss_takes_numbers_not_unit_strings():
    with pytest.raises(DataError) as info:
        load_runs({"loss": ["2.5", "2B"]})
    assert locations(info.value) == [(2, "loss")]
    assert load_runs({"loss": [" 2.5 ", "1e0"]}).df["loss"].tolist() == [2.5, 1.0]


# ---- derived columns ------------------------------------------------------------------------------------

def test_derived_flops_is_exactly_6nd():
    rng = np.random.default_rng(0)
    N, D = rng.uniform(1e6, 1e11, 50), rng.uniform(1e8, 1e13, 50)
    runs = load_runs({"params": N, "tokens": D, "loss": rng.uniform(1.5, 4, 50)})
    assert runs.derived == {"flops"} and runs.flops_convention == "6ND"
    (C,) = runs.arrays("flops")
    assert np.array_equal(C, 6 * N * D)


def test_given_flops_are_labelled_by_their_own_count():
    N = np.geomspace(1e7, 1e9, 5)
    D = 20 * N
    loss = np.linspace(3, 2.5, 5)
    kaplan = load_runs({"params": N, "tokens": D, "flops": 6.3 * N * D, "loss": loss})
    assert kaplan.derived == frozenset() and kaplan.flops_convention == "as given (C = 6.3ND median)"
    assert flops_factor(kaplan.flops_convention) == pytest.approx(6.3)
    near = load_runs({"params": N, "tokens": D, "flops": 6.06 * N * D, "loss": loss})  # within 2 %: rounding
    assert near.flops_convention == "6ND" and flops_factor("6ND") == 6.0
    said = load_runs({"params": N, "tokens": D, "flops": 6.3 * N * D, "loss": loss}, flops_convention="kaplan")
    assert said.flops_convention == "kaplan" and flops_factor("kaplan") is None


def test_derived_tokens_from_flops(shared_data):
    runs = load_runs(shared_data / "epoch_chinchilla_svg_extracted.csv")
    raw = pd.read_csv(shared_data / "epoch_chinchilla_svg_extracted.csv")
    assert len(runs) == 245 and runs.derived == {"tokens"} and runs.flops_convention == "6ND"
    N, D, C = runs.arrays("params", "tokens", "flops")
    assert np.array_equal(D, raw["Training FLOP"].to_numpy() / (6 * raw["Model Size"].to_numpy()))
    assert runs.column_map == {"Model Size": "params", "Training FLOP": "flops"}


def test_isoflops_shared_data(shared_data):
    runs = load_runs(shared_data / "openathena_isoflops_misfitting_extract.csv")
    assert len(runs) == 176 and runs.derived == frozenset()
    assert runs.column_map == {"budget": "flops"}
    assert runs.df["dataset"].iloc[0] == "fineweb_c4"


def test_derived_params_and_convention_checks():
    runs = load_runs({"tokens": [1e9], "flops": [6e18], "loss": [2.0]})
    assert runs.derived == {"params"} and runs.df["params"].iloc[0] == 1e9
    runs = load_runs({"params": [1e9], "tokens": [1e10], "flops": [7e19], "loss": [2.0]},
                     flops_convention="chinchilla")
    assert runs.flops_convention == "chinchilla" and runs.derived == frozenset()
    with pytest.raises(InputError, match="cannot derive 'flops'"):
        load_runs({"params": [1e9], "tokens": [1e10], "loss": [2.0]}, flops_convention="chinchilla")
    assert load_runs({"loss": [2.0]}).flops_convention is None


# ---- duplicates -------------------------------------------------------------------------------------------

def test_duplicate_run_id_and_step():
    data = {"run_id": ["a", "a", "b", "a"], "step": [1, 2, 1, 2], "loss": [3.0, 2.5, 3.1, 2.4]}
    with pytest.raises(DataError) as info:
        load_runs(data)
    (p,) = info.value.problems
    assert (p.row, p.column) == (4, "step") and "row 2" in p.reason


def test_replicate_runs_of_one_configuration_are_kept():
    # two runs of (1e6, 1e9) with different losses and no seed column: replicates, not an error
    data = {"N": [1e6, 2e6, 1e6], "D": [1e9, 1e9, 1e9], "loss": [3.0, 2.8, 2.9]}
    runs = load_runs(data)
    assert len(runs) == 3 and runs.df["loss"].tolist() == [3.0, 2.8, 2.9]
    rep = runs.replicates()
    assert (rep["groups"], rep["rows"], rep["columns"]) == (1, 2, ["params", "tokens"])
    # pooled within-group sd of ln(loss): one group (3.0, 2.9), one degree of freedom
    assert rep["log_loss_sd"] == pytest.approx(abs(np.log(3.0) - np.log(2.9)) / np.sqrt(2), rel=1e-12)
    assert (runs.summary()["replicate_groups"], runs.summary()["replicate_rows"]) == (1, 2)
    # with a dataset column the rows are different configurations: no replicate groups
    assert load_runs({**data, "dataset": ["a", "a", "b"]}).replicates()["groups"] == 0
    # runs that differ only in their seed are replicates, the seed column named or not
    rep = load_runs({**data, "seed": [0, 0, 1]}).replicates()
    assert (rep["groups"], rep["rows"], rep["columns"]) == (1, 2, ["params", "tokens"])
    assert load_runs({**data, "seed": [0, 0, 0]}).replicates()["groups"] == 1


def test_identifying_columns_are_every_key_present():
    from scalinglab.data import configuration_columns, identifying_columns

    runs = load_runs({"params": [1e6, 1e6], "tokens": [1e9, 1e9], "unique_tokens": [1e9, 2.5e8],
                      "dataset": ["c4", "c4"], "seed": [0, 0], "optimizer": ["adam", "adam"],
                      "acc": [0.3, 0.4], "loss": [3.0, 3.2]})
    ids = identifying_columns(runs.df)
    assert ids == ["dataset", "unique_tokens", "params", "tokens", "seed", "optimizer"]
    assert "acc" not in ids and "loss" not in ids and "flops" not in ids  # measurements and derived C
    assert configuration_columns(runs.df) == ids
    assert configuration_columns({"run_id": np.array(["a"]), "loss": np.array([1.0])}) == []


def test_data_constrained_ladder_without_run_id_loads():
    # the shape of every data-constrained study: rows share (params, tokens) and differ in unique_tokens
    data = {"params": [1e8] * 3 + [2e8] * 3, "tokens": [1e10] * 6, "unique_tokens": [1e10, 2.5e9, 6e8] * 2,
            "loss": [3.0, 3.05, 3.2, 2.9, 2.95, 3.1]}
    runs = load_runs(data)
    assert len(runs) == 6 and runs.replicates()["groups"] == 0
    # the same rows twice with other losses: six replicate groups of two, all kept
    twice = {k: v + v for k, v in data.items()}
    twice["loss"] = data["loss"] + [x + 0.01 for x in data["loss"]]
    runs = load_runs(twice)
    rep = runs.replicates()
    assert len(runs) == 12 and (rep["groups"], rep["rows"]) == (6, 12)
    assert rep["columns"] == ["unique_tokens", "params", "tokens"]
    # each pair differs by +0.01 in loss: sd of ln(loss) = |ln((L+0.01)/L)|/sqrt(2) pooled over 6 pairs
    diffs = np.log(np.array(twice["loss"][6:]) / np.array(data["loss"]))
    assert rep["log_loss_sd"] == pytest.approx(np.sqrt(np.sum(diffs**2 / 2) / 6), rel=1e-12)


def test_run_ids_reused_across_configurations_are_not_duplicates():
    # run names repeated across data budgets: (run_id, step) alone does not identify a checkpoint
    data = {"run_id": ["small", "small", "small", "small"], "step": [1, 2, 1, 2],
            "unique_tokens": [1e9, 1e9, 1e8, 1e8], "loss": [3.0, 2.8, 3.1, 2.95]}
    assert len(load_runs(data)) == 4
    data["unique_tokens"] = [1e9] * 4  # now rows 3 and 4 repeat rows 1 and 2 of one run: an error
    with pytest.raises(DataError) as info:
        load_runs(data)
    assert locations(info.value) == [(3, "step"), (4, "step")]
    assert all("duplicate run" in p.reason for p in info.value.problems)


def test_exact_duplicate_rows(tmp_path):
    text = "params,tokens,loss\n1e6,1e9,3.0\n2e6,1e9,2.8\n1e6,1e9,3.0\n1e6,1e9,3.0\n"
    path = write(tmp_path, "dup.csv", text)
    with pytest.raises(DataError) as info:
        load_runs(path)
    assert locations(info.value) == [(3, None), (4, None)]  # the whole row, no one column
    assert all("exact duplicate of row 1" in p.reason for p in info.value.problems)
    assert "--drop-duplicates on the command line" in info.value.problems[0].reason  # the CLI's way too
    runs = load_runs(path, drop_duplicates=True)
    assert len(runs) == 2 and list(runs.source_rows) == [1, 2]
    assert runs.df["params"].tolist() == [1e6, 2e6]


def test_exact_duplicates_without_identifying_columns():
    with pytest.raises(DataError) as info:
        load_runs({"loss": [2.0, 2.0, 2.1], "tag": ["x", "x", "x"]})
    assert [p.row for p in info.value.problems] == [2]
    assert len(load_runs({"loss": [2.0, 2.0], "tag": ["x", "y"]})) == 2


def test_resumed_run_with_a_repeated_step():
    # a log grouped by run (the fast path) where run "a" was resumed from step 2 with a different loss
    data = {"run_id": ["a", "a", "a", "a", "a", "b", "b"], "step": [0, 1, 2, 2, 3, 0, 1],
            "loss": [3.0, 2.9, 2.8, 2.85, 2.7, 3.1, 3.0]}
    with pytest.raises(DataError) as info:
        load_runs(data)
    assert locations(info.value) == [(4, "step")] and "row 3" in info.value.problems[0].reason
    del data["run_id"][3], data["step"][3], data["loss"][3]
    runs = load_runs(data)
    assert len(runs) == 6 and runs.df["step"].tolist() == [0, 1, 2, 3, 0, 1]


def test_hash_ignores_the_text_dtype(frame):
    a = load_runs(frame)
    b = load_runs(frame.astype({"dataset": "category", "run_id": object}))
    assert a.hash() == b.hash()


def test_unsorted_curves_without_duplicates_load():
    rng = np.random.default_rng(1)
    run = np.repeat(["r1", "r2", "r3"], 100)
    step = np.tile(np.arange(100), 3)
    order = rng.permutation(300)
    runs = load_runs({"run_id": run[order], "step": step[order], "loss": rng.uniform(2, 3, 300)})
    assert len(runs) == 300 and runs.df["step"].dtype == np.int64


# ---- formats and round trips ----------------------------------------------------------------------------

@pytest.fixture
def frame():
    return pd.DataFrame({
        "params": [1.25e8, 3.5e8, 7e10], "tokens": [2.5e9, 7e9, 1.4e12], "loss": [3.1, 2.7, 1.94],
        "step": [100, 200, 300], "dataset": ["c4", "c4", "pile"], "run_id": ["a", "b", "c"],
        "acc": [0.25, 0.5, 0.75],
    })


def test_every_file_format_reads_the_same_table(tmp_path, frame):
    expected = load_runs(frame).df
    frame.to_csv(tmp_path / "r.csv", index=False)
    frame.to_csv(tmp_path / "r.tsv", index=False, sep="\t")
    frame.to_parquet(tmp_path / "r.parquet", index=False)
    frame.to_feather(tmp_path / "r.feather")
    frame.to_json(tmp_path / "r.jsonl", orient="records", lines=True)
    frame.to_json(tmp_path / "r.json", orient="records")
    (tmp_path / "cols.json").write_text(json.dumps(frame.to_dict(orient="list")))
    (tmp_path / "split.json").write_text(frame.to_json(orient="split", index=False))
    (tmp_path / "runs.json").write_text(json.dumps({"runs": frame.to_dict(orient="records")}))
    with gzip.open(tmp_path / "r.csv.gz", "wt") as fh:
        frame.to_csv(fh, index=False)
    for name in ["r.csv", "r.tsv", "r.parquet", "r.feather", "r.jsonl", "r.json", "cols.json", "split.json",
                 "runs.json", "r.csv.gz"]:
        runs = load_runs(tmp_path / name)
        pd.testing.assert_frame_equal(runs.df, expected, check_dtype=False, obj=name)
        assert runs.df["params"].tolist() == frame["params"].tolist()
        assert runs.source == str(tmp_path / name)


def test_jsonl_with_unit_strings_and_a_bad_line(tmp_path):
    text = '{"N": "70B", "loss": 1.94}\n\n{"N": 1e9, "loss": 2.5}\n{"N": 1e9, "loss": \n'
    with pytest.raises(DataError) as info:
        load_runs(write(tmp_path, "r.jsonl", text))
    assert locations(info.value) == [(4, None)] and "invalid JSON" in info.value.problems[0].reason
    with pytest.raises(DataError) as info:
        load_runs(write(tmp_path, "ok.jsonl", '{"N": "70B", "loss": 1.94}\n\n{"N": 1e9, "loss": "x"}\n'))
    assert locations(info.value) == [(3, "loss")]
    runs = load_runs(write(tmp_path, "ok2.jsonl", '{"N": "70B", "loss": 1.94}\n{"N": 1e9, "loss": 2}\n'))
    assert runs.df["params"].tolist() == [70e9, 1e9]


def test_nested_tracker_records_are_read_by_their_dotted_paths(tmp_path):
    # a W&B API dump: config and summary nested; one record per line, or a JSON list, or a line that breaks the
    # fast reader (a string where the others hold numbers) -- all three read the same runs
    recs = [{"name": f"r{i}", "config": {"model": {"n_params": n}, "tokens": 20 * n},
             "summary": {"eval/loss": 2.0 + 100 / n ** 0.3, "train/loss": 1.9 + 100 / n ** 0.3}}
            for i, n in enumerate([1e6, 2e6, 4e6])]
    lines = "\n".join(json.dumps(r) for r in recs) + "\n"
    mixed = lines.replace('"n_params": 4000000.0', '"n_params": "4M"')
    for name, text in [("w.jsonl", lines), ("w.json", json.dumps(recs)), ("m.jsonl", mixed)]:
        runs = load_runs(write(tmp_path, name, text))
        assert runs.df["params"].tolist() == [1e6, 2e6, 4e6], name
        assert runs.df["tokens"].tolist() == [2e7, 4e7, 8e7], name
        assert runs.df["loss"].tolist() == [r["summary"]["eval/loss"] for r in recs], name
        assert "summary.train/loss" in runs.df.columns  # the other metric keeps its path


def test_csv_and_parquet_round_trips_are_exact(tmp_path, frame):
    runs = load_runs(frame.drop(columns=["step", "run_id"]))
    assert runs.derived == {"flops"}
    back_csv = load_runs(runs.to_csv(tmp_path / "out.csv"))
    pd.testing.assert_frame_equal(back_csv.df, runs.df)
    back_pq = load_runs(runs.to_parquet(tmp_path / "out.parquet"))
    pd.testing.assert_frame_equal(back_pq.df, runs.df)
    assert back_pq.derived == {"flops"} and back_pq.flops_convention == "6ND"
    assert back_csv.hash() == runs.hash() == back_pq.hash()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "out.parquet"]  # no temp files left


def test_pandas_and_polars_frames_round_trip(frame):
    pl = pytest.importorskip("polars")
    runs = load_runs(frame)
    pd.testing.assert_frame_equal(load_runs(runs.df).df, runs.df)
    polars_frame = runs.to_polars()
    assert isinstance(polars_frame, pl.DataFrame)
    pd.testing.assert_frame_equal(load_runs(polars_frame).df, runs.df, check_dtype=False)
    assert load_runs(pl.from_pandas(frame)).df["loss"].tolist() == frame["loss"].tolist()
    assert load_runs(polars_frame).source == "<polars.DataFrame>"


def test_frames_with_odd_indexes_and_nullable_dtypes():
    df = pd.DataFrame({"N": pd.array([1, 2, None], dtype="Int64"), "loss": [2.0, 2.1, 2.2]}, index=[10, 5, 7])
    with pytest.raises(DataError) as info:
        load_runs(df)
    assert locations(info.value) == [(3, "N")]
    runs = load_runs(df.iloc[:2])
    assert runs.df["params"].tolist() == [1.0, 2.0] and list(runs.df.index) == [0, 1]


def test_dict_with_unequal_lengths():
    with pytest.raises(DataError, match="different lengths"):
        load_runs({"params": [1, 2], "loss": [1.0]})


def test_write_to_missing_directory(tmp_path, frame):
    with pytest.raises(InputError, match="does not exist"):
        load_runs(frame).to_csv(tmp_path / "no" / "x.csv")


def test_write_onto_a_folder_is_an_input_error_and_leaves_no_temp_file(tmp_path, frame):
    """-o out/ where a file was meant (found by bench/fuzz.py: `import mlflow -o DIR`): an InputError naming a
    file to give, exit 2 on the command line, never IsADirectoryError; nothing is left in the folder."""
    from typer.testing import CliRunner

    from scalinglab.cli import app

    (tmp_path / "out").mkdir()
    with pytest.raises(InputError, match=r"it is a folder; give a file name in it \(e.g. '.*out/runs.csv'\)"):
        load_runs(frame).to_csv(tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    src = tmp_path / "runs.csv"
    load_runs(frame).to_csv(src)
    (tmp_path / "t.csv").mkdir()  # a folder named like a table
    r = CliRunner().invoke(app, ["convert", str(src), str(tmp_path / "t.csv")])
    assert r.exit_code == 2 and "it is a folder" in r.output and "Traceback" not in r.output


# ---- the RunTable object ---------------------------------------------------------------------------------

def test_runtable_is_immutable(frame):
    runs = load_runs(frame)
    with pytest.raises(AttributeError):
        runs.source = "x"
    df = runs.df
    df["loss"] = 0.0
    assert runs.df["loss"].tolist() == frame["loss"].tolist()
    (loss,) = runs.arrays("loss")
    with pytest.raises(ValueError):
        loss[0] = 1.0
    assert load_runs(runs) is runs


def test_arrays_accept_source_names(shared_data):
    runs = load_runs(shared_data / "epoch_chinchilla_svg_extracted.csv")
    a, b = runs.arrays("Model Size", "params")
    assert np.array_equal(a, b)
    with pytest.raises(DataError, match="no column"):
        runs.arrays("nope")


def test_filter_and_subset(frame):
    runs = load_runs(frame)
    assert runs.filter(dataset="c4").df["run_id"].tolist() == ["a", "b"]
    assert runs.filter(params=(2e8, None)).df["run_id"].tolist() == ["b", "c"]
    assert runs.filter(run_id=["a", "c"], loss=lambda s: s < 3).df["run_id"].tolist() == ["c"]
    sub = runs.subset(np.array([False, True, True]))
    assert len(sub) == 2 and list(sub.source_rows) == [2, 3] and sub.flops_convention == "6ND"
    assert sub.derived == {"flops"}
    with pytest.raises(InputError):
        runs.subset([1, 0])
    with pytest.raises(InputError):
        runs.filter(nope=1)


def test_summary(frame):
    s = load_runs(frame).summary()
    assert s["rows"] == 3 and s["columns"][:4] == ["params", "tokens", "flops", "loss"]
    assert s["ranges"]["params"] == [1.25e8, 7e10]
    assert s["ranges"]["flops"] == [6 * 1.25e8 * 2.5e9, 6 * 7e10 * 1.4e12]
    assert s["derived"] == ["flops"] and s["flops_convention"] == "6ND"


def test_hash_is_content_based(frame):
    a, b = load_runs(frame), load_runs(frame.copy())
    assert a.hash() == b.hash() and len(a.hash()) == 64
    changed = frame.copy()
    changed.loc[1, "loss"] = 2.70000001
    assert load_runs(changed).hash() != a.hash()
    assert load_runs(frame.assign(dataset=["c4", "c4", "c5"])).hash() != a.hash()


def test_html_repr_is_escaped():
    runs = load_runs({"loss": [2.0], "note": ["<script>alert(1)</script>"]}, source_name="<b>x</b>")
    out = runs._repr_html_()
    assert "<script>" not in out and "&lt;script&gt;" in out and "&lt;b&gt;x&lt;/b&gt;" in out
    assert "RunTable" in repr(runs)


def test_importing_data_imports_neither_torch_nor_polars():
    code = "import sys, scalinglab.data; assert 'torch' not in sys.modules and 'polars' not in sys.modules"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_runtable_constructor_defaults():
    rt = RunTable(pd.DataFrame({"loss": [1.0, 2.0]}))
    assert rt.source == "<table>" and list(rt.source_rows) == [1, 2]


# ---- property: random CSV text loads or raises DataError, nothing else --------------------------------------

_cells = st.one_of(
    st.sampled_from(["", "70B", "1.4T", "2^20", "1.3 M", "-1", "0", "nan", "inf", "abc", "1e400", "0^-1",
                     "\"q,uoted\"", "\"", "1,5", "70m", " 3 ", "é"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6),
)
_headers = st.lists(st.sampled_from(["params", "N", "tokens", "D", "flops", "loss", "val_loss", "step",
                                     "run_id", "dataset", "x", "", "loss", "\ufeffparams"]), min_size=1, max_size=5)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=_headers, rows=st.lists(st.lists(_cells, min_size=0, max_size=6), max_size=5),
       eol=st.sampled_from(["\n", "\r\n"]))
def test_random_csv_loads_or_raises_data_error(tmp_path, header, rows, eol):
    text = eol.join([",".join(header)] + [",".join(r) for r in rows]) + eol
    path = tmp_path / "prop.csv"
    path.write_text(text, encoding="utf-8")
    try:
        runs = load_runs(path)
    except DataError as exc:
        assert exc.problems or exc.file == str(path)
        for p in exc.problems:
            assert p.file == str(path)
    else:
        assert "loss" in runs.columns and len(runs) >= 1
        assert np.all(runs.arrays("loss")[0] > 0)


# ---- a data-constrained ladder through validate, fit and backtest (issue 17.1) ----------------------------

_DC_TRUTH = {"E": 1.87, "A": 520.0, "B": 1500.0, "alpha": 0.35, "beta": 0.35, "R_D_star": 15.0, "R_N_star": 5.0}


def _data_constrained_ladder(path, replicates: int = 1):
    """Runs sharing (params, tokens) that differ only in unique_tokens, no run_id, losses from the
    data-constrained law with known constants and 0.5 % log-normal noise; ``replicates`` runs per row."""
    from scalinglab.laws import get_law

    law = get_law("data-constrained")
    theta = np.array([_DC_TRUTH[p.name] for p in law.params])
    grid = [(N, D, D / r) for N in (1e7, 3e7, 1e8, 3e8) for D in (1e9, 3e9, 1e10) for r in (1, 4, 16, 64)]
    N, D, U = (np.tile(np.array(col), replicates) for col in zip(*grid, strict=True))
    rng = np.random.default_rng(20261206)
    loss = law.evaluate(theta, {"N": N, "D": D, "U": U}) * np.exp(rng.normal(0.0, 0.005, len(N)))
    pd.DataFrame({"params": N, "tokens": D, "unique_tokens": U, "loss": loss}).to_csv(path, index=False)
    return path


def test_data_constrained_ladder_validates_and_fits(tmp_path):
    from typer.testing import CliRunner

    from scalinglab.cli import app

    cli = CliRunner()
    table = _data_constrained_ladder(tmp_path / "dc.csv", replicates=2)
    r = cli.invoke(app, ["validate", str(table), "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert (summary["rows"], summary["replicate_groups"], summary["replicate_rows"]) == (96, 48, 96)
    r = cli.invoke(app, ["validate", str(table)])
    assert r.exit_code == 0 and "48 replicate groups kept" in r.output
    # 96 rows drawn with 0.5 % log-normal noise: the replicates estimate it (48 degrees of freedom)
    assert summary["replicate_log_loss_sd"] == pytest.approx(0.005, rel=0.35)

    r = cli.invoke(app, ["fit", str(table), "--law", "data-constrained", "--json"])
    assert r.exit_code == 0, r.output
    fit = json.loads(r.stdout)
    assert fit["status"] == "success" and fit["n_points"] == 96  # every replicate is used
    for name in ("alpha", "beta"):
        assert fit["params"][name] == pytest.approx(_DC_TRUTH[name], rel=0.1)
    assert fit["params"]["E"] == pytest.approx(_DC_TRUTH["E"], rel=0.05)
    assert fit["params"]["R_D_star"] == pytest.approx(_DC_TRUTH["R_D_star"], rel=0.3)


@pytest.mark.slow
def test_data_constrained_ladder_backtests(tmp_path):
    from typer.testing import CliRunner

    from scalinglab.cli import app

    r = CliRunner().invoke(app, ["backtest", str(_data_constrained_ladder(tmp_path / "one.csv")), "--law",
                         "data-constrained", "--json"])
    assert r.exit_code == 0, r.output
    bt = json.loads(r.stdout)
    assert bt["law"] == "data-constrained" and bt["n_predictions"] > 0
    assert bt["median_rel_error"] < 0.02  # 0.5 % noise: the law is the truth


@pytest.mark.parametrize("shape", ["replicates", "seeds", "tags"])
def test_fit_accepts_every_table_validate_accepts(tmp_path, shape):
    """validate and fit read through one gate: a table validate accepts is fitted, every row used."""
    from typer.testing import CliRunner

    from scalinglab.cli import app

    rng = np.random.default_rng(7)
    N, D = (a.ravel() for a in np.meshgrid(np.geomspace(1e7, 1e9, 5), np.geomspace(1e9, 1e11, 4)))
    N, D = np.tile(N, 2), np.tile(D, 2)  # every configuration twice
    loss = (1.7 + 400 / N**0.34 + 410 / D**0.28) * np.exp(rng.normal(0, 0.01, len(N)))
    frame = pd.DataFrame({"params": N, "tokens": D, "loss": loss})
    if shape == "seeds":
        frame["seed"] = np.repeat([0, 1], len(N) // 2)
    if shape == "tags":
        frame["optimizer"] = "adamw"
        frame["schedule"] = np.repeat(["cosine", "wsd"], len(N) // 2)  # a tag: two configurations, not seeds
    frame.to_csv(tmp_path / "t.csv", index=False)
    cli = CliRunner()
    r = cli.invoke(app, ["validate", str(tmp_path / "t.csv"), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["replicate_groups"] == (0 if shape == "tags" else 20)
    r = cli.invoke(app, ["fit", str(tmp_path / "t.csv"), "--law", "chinchilla", "--json"])
    assert r.exit_code == 0, r.output
    fit = json.loads(r.stdout)
    assert fit["n_points"] == 40 and fit["params"]["alpha"] == pytest.approx(0.34, abs=0.08)


def _bpb_ladder(n_sizes: int = 6, n_budgets: int = 4, seed: int = 0) -> pd.DataFrame:
    """Chinchilla's law in bits/byte (nats/token / ln 2 / 3.5 bytes per token), 0.5 % noise."""
    rng = np.random.default_rng(seed)
    N = np.repeat(np.geomspace(1e7, 1e9, n_sizes), n_budgets)
    D = np.tile(np.geomspace(1e9, 1e11, n_budgets), n_sizes)
    bpb = (1.69 + 406.4 * N**-0.34 + 410.7 * D**-0.28) / np.log(2) / 3.5
    return pd.DataFrame({"N": N, "D": D, "val_bpb": bpb * np.exp(rng.normal(0, 0.005, N.size))})


def test_a_loss_in_bits_per_byte_is_the_loss_and_says_so(tmp_path):
    df = _bpb_ladder()
    rt = load_runs(df)
    assert rt.loss_unit == "bits/byte" and rt.column_map["val_bpb"] == "loss"
    np.testing.assert_array_equal(rt.df["loss"], df["val_bpb"])
    assert rt.summary()["loss_unit"] == "bits/byte" and rt.where().loss_unit == "bits/byte"
    # beside a loss in nats the bits column keeps its name, and the loss is nats/token
    both = load_runs(df.assign(val_loss=df["val_bpb"] * np.log(2) * 3.5))
    assert both.loss_unit == "nats/token" and "val_bpb" in both.columns
    np.testing.assert_allclose(both.df["loss"], df["val_bpb"] * np.log(2) * 3.5)
    # the unit survives a Parquet round trip; a user may state it; a table without loss has none
    assert load_runs(rt.to_parquet(tmp_path / "r.parquet")).loss_unit == "bits/byte"
    stated = load_runs({"N": [1e6, 2e6], "D": [1e8, 2e8], "loss": [3.0, 2.9]}, loss_unit="bits/char")
    assert stated.loss_unit == "bits/char"
    assert load_runs({"N": [1e6, 2e6], "D": [1e8, 2e8], "loss": [3.0, 2.9]}).loss_unit == "nats/token"
    assert load_runs({"N": [1e6, 2e6], "acc": [0.3, 0.4]}, required=()).loss_unit is None
    assert load_runs({"N": [1e6, 2e6], "D": [1e8, 2e8], "bpc": [1.3, 1.2]}).loss_unit == "bits/char"


def test_a_trackers_bits_per_byte_metric_is_the_loss_only_when_it_is_the_one():
    base = {"N": [1e6, 2e6], "D": [1e8, 2e8]}
    one = load_runs({**base, "eval/paloma/c4_en/bpb": [1.1, 1.0]})
    assert one.loss_unit == "bits/byte" and one.column_map["eval/paloma/c4_en/bpb"] == "loss"
    two = {**base, "eval/c4_en/bpb": [1.1, 1.0], "eval/wikitext/bpb": [1.2, 1.1]}
    with pytest.raises(DataError, match=r"losses in bits here: 'eval/c4_en/bpb', 'eval/wikitext/bpb': choose one "
                                        r"with columns=\{'eval/c4_en/bpb': 'loss'\}"):
        load_runs(two)
    chosen = load_runs(two, columns={"eval/wikitext/bpb": "loss"})
    assert chosen.loss_unit == "bits/byte" and list(chosen.df["loss"]) == [1.2, 1.1]


def test_a_table_with_one_loss_per_validation_set_names_them_and_how_to_choose(tmp_path):
    """Gadre et al. 2024's runs table has no 'loss', but c4_val, openlm_val and paloma_* columns: which one is
    the loss is the user's choice, and the error says how to make it."""
    from typer.testing import CliRunner

    from scalinglab.cli import app

    N = np.geomspace(1e7, 1e9, 12)
    D = 20 * N
    path = tmp_path / "runs.csv"
    pd.DataFrame({"params": N, "tokens": D, "openlm_val": 2 + 300 / N ** 0.3, "c4_val": 1.8 + 400 / N ** 0.3,
                  "paloma_ptb": 3 + 100 / N ** 0.3, "depth": 12}).to_csv(path, index=False)
    with pytest.raises(DataError) as e:
        load_runs(path)
    msg = str(e.value)
    assert "columns named like a loss here: 'openlm_val', 'c4_val'" in msg and "--y openlm_val" in msg
    assert "'depth'" not in msg.split("named like a loss")[1]
    # choosing one, as the message says
    rt = load_runs(path, columns={"c4_val": "loss"})
    assert rt.df["loss"].to_numpy() == pytest.approx(1.8 + 400 / N ** 0.3)
    out = CliRunner().invoke(app, ["fit", str(path), "--y", "c4_val", "--law", "chinchilla", "--json"])
    assert out.exit_code == 0, out.output


def test_a_spreadsheet_export_with_semicolons_and_decimal_commas_reads_as_it_says(tmp_path):
    """Excel in most of Europe writes CSV with ';' between fields and ',' as the decimal mark: read it so,
    values exact; a comma-separated file whose quoted names hold semicolons stays comma-separated."""
    p = tmp_path / "runs.csv"
    p.write_bytes("\ufeffparams;tokens;\"val loss\";note\n1e6;20M;5,125;a\n10M;2e8;4,25;b\n100000000;2B;3,5;c\n"
                  .encode("utf-8"))
    rt = load_runs(p)
    assert rt.df["loss"].tolist() == [5.125, 4.25, 3.5]
    assert rt.df["params"].tolist() == [1e6, 1e7, 1e8] and rt.df["tokens"].tolist() == [2e7, 2e8, 2e9]
    q = tmp_path / "comma.csv"
    q.write_text('note,params,tokens,loss\n"a;b",1e6,2e7,5.1\n"c;d",1e7,2e8,4.2\n')
    rt = load_runs(q)
    assert rt.df["loss"].tolist() == [5.1, 4.2] and rt.df["note"].tolist() == ["a;b", "c;d"]
    h = tmp_path / "quoted_header.csv"
    h.write_text('"model;size",tokens,loss\n1e6,2e7,5.1\n')
    assert list(load_runs(h, columns={"model;size": "params"}).df["params"]) == [1e6]


def test_a_semicolon_export_reads_its_decimal_comma_in_cells_with_a_unit_too(tmp_path):
    """'1,4 B' in a ';' file is 1.4e9 (it failed to parse), beside plain '3,92' read as 3.92 in the same column;
    names keep their commas; in a ',' file the comma stays a thousands separator ('1,400 M' is 1.4e9)."""
    p = tmp_path / "eu.csv"
    p.write_text("model;params;tokens;loss\n1,5-small;70 M;1,4 B;3,92\nb;160 M;3,2B;3,51\n"
                 "c;410 M;8,25e9;3,20\nd;1,0 B;20000000000;2,95\n")
    rt = load_runs(p)
    assert rt.df["params"].tolist() == [7e7, 1.6e8, 4.1e8, 1e9]
    assert rt.df["tokens"].tolist() == [1.4e9, 3.2e9, 8.25e9, 2e10]
    assert rt.df["loss"].tolist() == [3.92, 3.51, 3.2, 2.95] and rt.df["model"].tolist()[0] == "1,5-small"
    q = tmp_path / "us.csv"
    q.write_text('params,tokens,loss\n"1,400 M",2.8e10,3.1\n70M,1.4B,3.9\n')
    assert load_runs(q).df["params"].tolist() == [1.4e9, 7e7]


def test_an_excel_workbook_reads_its_table_below_a_title_with_excel_row_numbers(tmp_path, caplog):
    """A workbook as researchers keep one: a title line above the header, a unit note in a header, unit strings
    and numbers mixed in a column, a blank row and a stray empty column; errors name Excel's own row numbers;
    '#sheet' picks a sheet; .ods/.xls are refused with what to do."""
    import logging

    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "ladder"
    ws.append(["Table 2: our ladder"])
    ws.append([])
    ws.append(["Model", "Params (M)", "Tokens", None, "Val loss"])
    ws.append(["s", 10, "200M", None, 3.9])
    ws.append(["m", 30, 6e8, None, "3.5"])
    ws.append([])
    ws.append(["l", 100, "2B", None, "n/a"])
    other = wb.create_sheet("second")
    other.append(["params", "tokens", "loss"])
    other.append([1e6, 2e7, 5.5])
    p = tmp_path / "runs.xlsx"
    wb.save(p)
    with pytest.raises(DataError) as e:
        load_runs(p)
    assert [(x.row, x.column) for x in e.value.problems] == [(7, "Val loss")]
    ws["E7"] = 3.25
    wb.save(p)
    with caplog.at_level(logging.INFO, logger="scalinglab.data"):
        rt = load_runs(p)
    assert rt.df["params"].tolist() == [1e7, 3e7, 1e8] and rt.df["tokens"].tolist() == [2e8, 6e8, 2e9]
    assert rt.df["loss"].tolist() == [3.9, 3.5, 3.25] and rt.df["Model"].tolist() == ["s", "m", "l"]
    assert list(rt.source_rows) == [4, 5, 7] and "second" in caplog.text
    assert load_runs(f"{p}#second").df["loss"].tolist() == [5.5]
    with pytest.raises(DataError, match="no sheet 'third'.*ladder, second"):
        load_runs(f"{p}#third")
    for suffix, what in ((".ods", "OpenDocument"), (".xls", "Excel 97-2003")):
        q = tmp_path / f"runs{suffix}"
        q.write_bytes(b"x")
        with pytest.raises(DataError, match=f"{what}.*save it as .xlsx or CSV"):
            load_runs(q)
    (tmp_path / "broken.xlsx").write_text("params,tokens,loss\n")
    with pytest.raises(DataError, match="not a readable Excel workbook"):
        load_runs(tmp_path / "broken.xlsx")


def test_mean_plus_minus_spread_cells_read_as_the_mean_and_a_spread_column(tmp_path):
    """Papers print replicated runs as '3.21 ± 0.02': the loss is the mean, loss_sd the spread (empty where a
    cell had none); the header's '± std' note is read past; a '±' cell that is not two numbers stays an error."""
    p = tmp_path / "paper.csv"
    p.write_text("Params,Tokens,Val loss ± std\n125M,2.5B,3.21 ± 0.02\n350M,7B,2.95+/-0.015\n1.3B,26B,2.71\n",
                 encoding="utf-8")
    rt = load_runs(p)
    assert rt.df["loss"].tolist() == [3.21, 2.95, 2.71]
    assert rt.df["loss_sd"].iloc[:2].tolist() == [0.02, 0.015] and np.isnan(rt.df["loss_sd"].iloc[2])
    assert rt.df["params"].tolist() == [1.25e8, 3.5e8, 1.3e9]
    q = tmp_path / "bad.csv"
    q.write_text("params,tokens,loss\n1e7,2e8,3.2 ± n/a\n1e8,2e9,2.9 ± 0.1\n", encoding="utf-8")
    with pytest.raises(DataError) as e:
        load_runs(q)
    assert [(x.row, x.column) for x in e.value.problems] == [(1, "loss"), (2, "loss")]
    # numbers as tables write them (thousands commas, as the unit reader takes them) on both sides of the ±;
    # a spread that overflows a float is not read as inf
    c = tmp_path / "commas.csv"
    c.write_text('params,tokens,loss\n"1,000,000 ± 20,000",2e7,3.5 ± .05\n3e6,6e7,3.1\n', encoding="utf-8")
    rt = load_runs(c)
    assert rt.df["params"].tolist() == [1e6, 3e6] and rt.df["params_sd"].iloc[0] == 2e4
    assert rt.df["loss_sd"].iloc[0] == 0.05
    c.write_text("params,tokens,loss\n1e6,2e7,3.5 ± 1e999\n3e6,6e7,3.1\n", encoding="utf-8")
    with pytest.raises(DataError) as e:
        load_runs(c)
    assert [(x.row, x.column) for x in e.value.problems] == [(1, "loss")]


def test_the_column_hint_quotes_names_for_the_shell():
    """A suggested --y/--column for a name with spaces or brackets is quoted so it can be pasted into a shell,
    and the Python spelling (y=...) is given beside it."""
    from scalinglab.data.schema import choose_column_hint

    hint = choose_column_hint("loss", ["Loss (val)", "step"])
    assert "--y 'Loss (val)' (fit, backtest, compare; y='Loss (val)' in Python)" in hint
    assert "--column 'Loss (val)=loss'" in hint and "columns={'Loss (val)': 'loss'}" in hint
    assert "--column params_N=params" in choose_column_hint("params", ["params_N"])


def test_a_frames_named_index_is_one_of_its_columns():
    """A DataFrame indexed by a column (df.set_index("params"), or a MultiIndex of params and tokens) reads that
    index as the column it was; an unnamed index (row labels after a filter) is not a column."""
    df = pd.DataFrame({"params": [1e7, 1e8, 1e9], "tokens": [2e8, 2e9, 2e10], "loss": [3.9, 3.2, 2.7]})
    for frame in (df.set_index("params"), df.set_index(["params", "tokens"]), df.iloc[[0, 2]]):
        rt = load_runs(frame)
        assert rt.df["params"].tolist() == frame.reset_index()["params"].tolist()
        assert list(rt.df.columns[:4]) == ["params", "tokens", "flops", "loss"]
        assert "index" not in rt.df.columns


def test_a_cell_with_its_own_unit_under_a_header_that_names_one_is_not_scaled_twice(tmp_path, caplog):
    """'Params (M)' holding '70M' is 70e6, not 70e12: the header's unit scales plain numbers only; the cells
    with their own suffix are named in a warning (a column that mixes the two is worth a look)."""
    import logging

    p = tmp_path / "mixed.csv"
    p.write_text("Params (M),Tokens (B),loss\n70M,1.4B,3.92\n160,3.2,3.45\n410,8.2B,3.10\n")
    with caplog.at_level(logging.WARNING, logger="scalinglab.data.load"):
        rt = load_runs(p)
    assert rt.df["params"].tolist() == [70e6, 160e6, 410e6]
    assert rt.df["tokens"].tolist() == pytest.approx([1.4e9, 3.2e9, 8.2e9], rel=1e-15)
    assert rt.df["flops"].tolist() == pytest.approx([6 * 70e6 * 1.4e9, 6 * 160e6 * 3.2e9, 6 * 410e6 * 8.2e9])
    assert "1 cell of 'Params (M)' carries its own unit (rows 1)" in caplog.text
    assert "2 cells of 'Tokens (B)' carry their own unit (rows 1, 3)" in caplog.text


def test_footnote_marks_and_thousands_separators_in_a_copied_table(tmp_path, caplog):
    """A table copied from a paper: '2.71*', '2.95†', '3.05[a]' read as their numbers with a warning naming the
    rows (the mark may mean 'diverged'); '7,000M' is 7e9; a mark alone is still not a number."""
    import logging

    p = tmp_path / "paper.csv"
    p.write_text('Model,Params,Tokens,Loss\nA,"1,300M",26B,2.71*\nB,350M,"7,000M",2.95†\nC,125M,2.5B,3.21\n'
                 'D,60M,1.2B,3.05[a]\n', encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="scalinglab.data"):
        rt = load_runs(p)
    assert rt.df["loss"].tolist() == [2.71, 2.95, 3.21, 3.05]
    assert rt.df["params"].tolist() == [1.3e9, 3.5e8, 1.25e8, 6e7] and rt.df["tokens"].iloc[1] == 7e9
    assert "3 cells of 'Loss' carry a footnote mark (rows 1, 2, 4)" in caplog.text
    q = tmp_path / "mark_only.csv"
    q.write_text("params,tokens,loss\n1e7,2e8,*\n", encoding="utf-8")
    with pytest.raises(DataError, match="not a number: '\\*'"):
        load_runs(q)


def test_tokens_per_parameter_gives_the_tokens(tmp_path):
    """Over-training studies list tokens per parameter (D/N), not tokens: tokens = params x it, FLOPs 6ND from
    them; the runs of one size at several ratios are not replicates; a bad ratio names its cell."""
    p = tmp_path / "overtrain.csv"
    p.write_text("Model Size,D/N,loss\n1e7,20,3.9\n1e8,20,3.3\n1e8,80,3.1\n")
    rt = load_runs(p)
    assert rt.df["tokens"].tolist() == [2e8, 2e9, 8e9] and rt.df["flops"].tolist() == [1.2e16, 1.2e18, 4.8e18]
    assert rt.column_map["Model Size × D/N"] == "tokens" and rt.replicates()["groups"] == 0
    q = tmp_path / "bad.csv"
    q.write_text("params,tokens_per_param,loss\n1e7,20,3.9\n1e8,-1,3.3\n")
    with pytest.raises(DataError) as e:
        load_runs(q)
    assert [(x.row, x.column) for x in e.value.problems] == [(2, "tokens_per_param")]
    # a token column, when there is one, is the tokens
    r = tmp_path / "both.csv"
    r.write_text("params,tokens,tpp,loss\n1e7,1e8,20,3.9\n")
    assert load_runs(r).df["tokens"].tolist() == [1e8]


def test_one_column_per_seed_reads_as_one_row_per_seed(tmp_path):
    """loss_seed0, loss_seed1 ... (and every metric so split) become one row per seed with a seed column;
    a seed not run in a row gives no row; a row no seed ran stays, to be reported (or dropped) as a run without
    a loss; row numbers stay the file's; a seed column the user maps himself is left alone."""
    p = tmp_path / "wide.csv"
    p.write_text("params,tokens,val loss (seed 1),val loss (seed 2),acc_seed1,acc_seed2\n"
                 "1e7,2e8,4.1,4.2,0.30,0.31\n3e7,6e8,3.8,,0.40,\n1e8,2e9,,,,\n")
    with pytest.raises(DataError) as e:
        load_runs(p)
    assert [(x.row, x.column) for x in e.value.problems] == [(3, "val loss")]
    rt = load_runs(p, drop_missing_loss=True)
    assert rt.df["loss"].tolist() == [4.1, 4.2, 3.8] and rt.df["seed"].tolist() == [1, 2, 1]
    assert rt.df["acc"].tolist() == [0.30, 0.31, 0.40] and list(rt.source_rows) == [1, 1, 2]
    assert rt.df["params"].tolist() == [1e7, 1e7, 3e7]
    assert rt.replicates()["groups"] == 1  # the two seeds of the first configuration
    kept = load_runs(p, columns={"val loss (seed 1)": "loss"}, drop_missing_loss=True)
    assert "seed" not in kept.columns and kept.df["loss"].tolist() == [4.1, 3.8]
    q = tmp_path / "not_seeds.csv"  # 'prep1', 'prep2' are not seeds of 'p'
    q.write_text("params,tokens,loss,prep1,prep2\n1e7,2e8,4.1,1,2\n")
    assert load_runs(q).df.columns.tolist()[-2:] == ["prep1", "prep2"]


def test_a_small_table_is_read_without_arrow_reader_threads(tmp_path, monkeypatch):
    """Arrow's reader threads sometimes abort a process that exits right after starting them (exit 134 instead
    of the CLI's 2, apache/arrow#34314): tables below THREADED_READ_BYTES are read on the calling thread."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from scalinglab.data import readers

    seen = []
    real_options, real_table = pacsv.ReadOptions, pq.read_table
    monkeypatch.setattr(pacsv, "ReadOptions", lambda **k: seen.append(("csv", k["use_threads"])) or real_options(**k))
    monkeypatch.setattr(pq, "read_table", lambda *a, **k: seen.append(("parquet", k["use_threads"]))
                        or real_table(*a, **k))
    p = tmp_path / "runs.csv"
    p.write_text("params,tokens,loss\n1e7,2e8,3.9\n")
    load_runs(p).to_parquet(tmp_path / "runs.parquet")
    load_runs(tmp_path / "runs.parquet")
    assert seen == [("csv", False), ("parquet", False)]
    monkeypatch.setattr(readers, "THREADED_READ_BYTES", 10)
    load_runs(p)
    assert seen[-1] == ("csv", True)


def _refused(path, cells: list, hint: str) -> None:
    """Loading ``path`` is a DataError at exactly ``cells`` ((row, column) pairs) whose message names ``hint``."""
    with pytest.raises(DataError) as e:
        load_runs(path)
    assert [(x.row, x.column) for x in e.value.problems] == cells
    assert hint in str(e.value)


def test_runs_that_logged_no_loss_are_an_error_that_says_how_to_leave_them_out(tmp_path, caplog):
    """A tracker's export lists crashed or queued runs with an empty loss: by default an error naming each row
    and the flag; with drop_missing_loss / --drop-missing-loss those rows are left out (logged, source rows
    kept), while a negative loss or an empty params cell stays an error."""
    import logging

    from typer.testing import CliRunner

    from scalinglab.cli import app

    p = tmp_path / "export.csv"
    p.write_text("params,tokens,loss,state\n1e7,2e8,4.2,finished\n3e7,6e8,,crashed\n1e8,2e9,3.5,finished\n"
                 "3e8,6e9,,running\n1e9,2e10,3.0,finished\n")
    _refused(p, [(2, "loss"), (4, "loss")], "--drop-missing-loss")
    with caplog.at_level(logging.WARNING, logger="scalinglab.data.load"):
        rt = load_runs(p, drop_missing_loss=True)
    assert rt.df["loss"].tolist() == [4.2, 3.5, 3.0] and rt.source_rows.tolist() == [1, 3, 5]
    assert "2 rows with no loss left out" in caplog.text and "rows 2, 4" in caplog.text
    bad = tmp_path / "bad.csv"
    bad.write_text("params,tokens,loss\n1e7,2e8,nan\n,6e8,3.9\n1e8,2e9,-1\n1e9,2e10,\n")
    with pytest.raises(DataError) as e:
        load_runs(bad, drop_missing_loss=True)
    # 'nan' reads as an empty cell (as 'NA', 'null': a tracker's "no value"), left out; the rest stay errors
    assert sorted((x.row, x.column) for x in e.value.problems) == [(2, "params"), (3, "loss")]
    out = CliRunner().invoke(app, ["validate", str(p), "--drop-missing-loss", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["rows"] == 3
    out = CliRunner().invoke(app, ["fit", str(p), "--law", "chinchilla", "--json"])
    assert out.exit_code == 2 and "--drop-missing-loss" in out.output


def test_rows_with_an_empty_count_leave_out_with_drop_missing_that_names_the_column(tmp_path, caplog):
    """A table of published models where some do not state their training tokens: by default an error per
    empty cell that names --drop-missing tokens; drop_missing=["tokens"] (canonical name, or the column's
    name in the file, or a RunTable's NaN unique_tokens) leaves those rows out, logged, source rows kept; a
    column the table does not have is an InputError naming its columns; the CLI's --drop-missing does the
    same on fit and validate."""
    import logging

    from typer.testing import CliRunner

    from scalinglab._errors import InputError
    from scalinglab.cli import app

    p = tmp_path / "published.csv"
    p.write_text("model,Params (M),Tokens (B),loss\na,125,2.5,3.4\nb,350,,3.1\nc,760,15,2.9\nd,1300,,2.8\n"
                 "e,2700,55,2.6\n")
    _refused(p, [(2, "Tokens (B)"), (4, "Tokens (B)")], "--drop-missing tokens")
    for name in ("tokens", "Tokens (B)", ["tokens"]):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="scalinglab.data.load"):
            rt = load_runs(p, drop_missing=name)
        assert rt.source_rows.tolist() == [1, 3, 5]
        assert rt.df["tokens"].tolist() == [2.5e9, 15e9, 55e9] and rt.df["params"].tolist() == [125e6, 760e6, 2.7e9]
        said = name if isinstance(name, str) else name[0]
        assert f"2 rows with no {said} left out (drop_missing {said}; rows 2, 4)" in caplog.text
    with pytest.raises(InputError, match=r"published\.csv: drop_missing names 'flops'.*Params \(M\)"):
        load_runs(p, drop_missing=["flops"])
    # several columns at once, and the loss among them
    q = tmp_path / "two.csv"
    q.write_text("params,tokens,loss\n1e7,2e8,4.2\n3e7,,3.9\n1e8,2e9,\n3e8,6e9,3.2\n")
    assert load_runs(q, drop_missing=["tokens", "loss"]).source_rows.tolist() == [1, 4]
    # a RunTable whose optional unique_tokens is NaN for some runs
    u = tmp_path / "u.csv"
    u.write_text("params,tokens,unique_tokens,loss\n1e7,2e8,1e8,4.2\n3e7,6e8,,3.9\n1e8,2e9,1e9,3.5\n")
    rt = load_runs(u)
    assert rt.df["unique_tokens"].isna().sum() == 1
    again = load_runs(rt, drop_missing=["unique_tokens"])
    assert len(again) == 2 and again.source_rows.tolist() == [1, 3]
    runner = CliRunner()
    n = np.geomspace(1e7, 1e9, 10)
    ladder = pd.DataFrame({"params": n, "tokens": 20 * n, "loss": 1.69 + 406.4 / n**0.34 + 410.7 / (20 * n) ** 0.28})
    ladder.loc[[2, 6], "tokens"] = np.nan
    ladder.to_csv(tmp_path / "ladder.csv", index=False)
    out = runner.invoke(app, ["fit", str(tmp_path / "ladder.csv"), "--json"])
    assert out.exit_code == 2 and "--drop-missing tokens" in out.output
    out = runner.invoke(app, ["fit", str(tmp_path / "ladder.csv"), "--law", "chinchilla", "--drop-missing", "tokens",
                              "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["n_points"] == 8
    out = runner.invoke(app, ["validate", str(q), "--drop-missing", "tokens", "--drop-missing", "loss", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["rows"] == 2
    out = runner.invoke(app, ["validate", str(q), "--drop-missing", "flops"])
    assert out.exit_code == 2 and "drop_missing names 'flops'" in out.output
    out = runner.invoke(app, ["fit", str(tmp_path / "runs.db"), "--drop-missing", "tokens"])
    assert out.exit_code == 2 and "--drop-missing applies to a run table file" in out.output


def test_a_papers_table_with_units_in_its_headers_reads_in_units(tmp_path):
    """Papers publish 'Params (M)', 'Tokens (B)', 'Training FLOPs (1e18)': the numbers are that many units, so
    they read as params, tokens and flops scaled exactly (never 125 parameters), explicit renames included,
    and the missing-column hint no longer offers such a column unscaled."""
    from scalinglab.data.schema import named_like, scale_note

    p = tmp_path / "table.csv"
    p.write_text("Model,Params (M),Training tokens [B],Training FLOPs (1e18),Loss\nA,125,2.5,1.875,3.1\n"
                 "B,350,7,14.7,2.8\n")
    rt = load_runs(p)
    assert rt.df["params"].tolist() == [125e6, 350e6]
    assert rt.df["tokens"].tolist() == [2.5e9, 7e9]
    assert rt.df["flops"].to_numpy() == pytest.approx([1.875e18, 1.47e19], rel=1e-12)
    assert rt.column_map["Params (M)"] == "params"
    q = tmp_path / "words.csv"
    q.write_text("Model size (millions),D (×1e9),x (10^3),loss\n7,0.14,5,3.0\n")
    rt = load_runs(q, columns={"x (10^3)": "unique_tokens"})
    assert (rt.df["params"][0], rt.df["tokens"][0], rt.df["unique_tokens"][0]) == (7e6, 1.4e8, 5e3)
    assert scale_note("Loss (nats)") is None and scale_note("(M)") is None
    assert scale_note("Tokens [T]") == ("Tokens", 1e12)
    assert named_like("params", ["Params (M)", "params_N"]) == ["params_N"]
    # a unit word after the name, as code writes it: params_millions, tokens_billions, "Tokens in billions"
    w = tmp_path / "snake.csv"
    w.write_text("params_millions,tokens_billions,loss\n70,1.4,3.9\n160,3.2,3.4\n")
    rt = load_runs(w)
    assert rt.df["params"].tolist() == [70e6, 160e6] and rt.df["tokens"].tolist() == pytest.approx([1.4e9, 3.2e9])
    assert scale_note("Tokens in billions") == ("Tokens", 1e9) and scale_note("n_params_mn") == ("n_params", 1e6)
    assert scale_note("millions") is None and scale_note("loss_nats") is None


def test_a_derived_count_outside_the_range_of_a_float_is_an_error_naming_the_row(tmp_path):
    """6 N D of two finite counts can overflow (found by bench/fuzz.py: N = 4.7e223, D = 6.3e83) and C / 6N
    underflow: an error naming file, row and the counts, never an inf or 0 in a loaded table."""
    from scalinglab._errors import DataError

    path = tmp_path / "huge.csv"
    path.write_text("loss,tokens,params\n1.0,6.323354040149381e+83,4.738237343262448e+223\n2.0,1e9,1e8\n")
    with pytest.raises(DataError) as e:
        load_runs(path)
    assert len(e.value.problems) == 1
    assert f"{path}:1:params: flops derived under 6ND from params = 4.738e+223 and tokens = 6.323e+83 is inf" \
        in str(e.value)
    with pytest.raises(DataError, match=r":1:params: tokens derived under 6ND .* is 0, outside the range"):
        load_runs(pd.DataFrame({"loss": [1.0], "flops": [1e-300], "params": [1e300]}))
    assert load_runs(pd.DataFrame({"loss": [1.0], "flops": [6e20], "params": [1e9]})).df["tokens"][0] == 1e11


def test_a_count_with_its_papers_letter_or_a_final_loss_reads_as_its_column():
    """params_N / N_params / tokens_D / unique_tokens_U / compute_C and final_val_loss / last_eval_loss name their
    canonical column; a width (d_model), a training loss (final_train_loss) or a ratio do not."""
    from scalinglab.data.schema import qualified_alias

    named = {"params_N": "params", "model_size_N": "params", "tokens_D": "tokens", "D_train_tokens": "tokens",
             "unique_tokens_U": "unique_tokens", "compute_C": "flops", "Final Val Loss": "loss",
             "last_eval_loss": "loss", "d_model": None, "n_layers": None, "final_train_loss": None,
             "tokens_per_param_D": None, "final": None, "loss_final": None, "c_4": None, "params_D": None}
    assert {n: qualified_alias(n) for n in named} == named
    rt = load_runs(pd.DataFrame({"model_size_N": [1e8, 4e8], "tokens_D": [2e9, 8e9], "last_eval_loss": [3.1, 2.8]}))
    assert rt.df["flops"].tolist() == [6 * 1e8 * 2e9, 6 * 4e8 * 8e9]
    assert rt.column_map == {"model_size_N": "params", "tokens_D": "tokens", "last_eval_loss": "loss"}


def test_a_table_of_perplexities_reads_the_loss_as_their_log(tmp_path):
    """Tables that report perplexity (val_ppl, wikitext_ppl) have no loss column: the loss is ln(perplexity) in
    nats/token, exactly; of several perplexities the error offers the mapping (which takes the log too) and not
    --y (which would fit the perplexity itself); a perplexity <= 1 is an error that says why."""
    from typer.testing import CliRunner

    from scalinglab.cli import app

    ppl = np.array([60.3, 33.1, 20.1])
    p = tmp_path / "ppl.csv"
    pd.DataFrame({"params": [1e7, 1e8, 1e9], "tokens": [2e8, 2e9, 2e10], "val_ppl": ppl}).to_csv(p, index=False)
    rt = load_runs(p)
    assert rt.df["loss"].to_numpy() == pytest.approx(np.log(ppl), rel=1e-15) and rt.loss_unit == "nats/token"
    two = tmp_path / "two.csv"
    pd.DataFrame({"params": [1e7, 1e8], "tokens": [2e8, 2e9], "wikitext_ppl": [60.3, 33.1],
                  "lambada_ppl": [80.0, 40.0]}).to_csv(two, index=False)
    with pytest.raises(DataError) as e:
        load_runs(two)
    assert "--column wikitext_ppl=loss" in str(e.value) and "--y wikitext_ppl" not in str(e.value)
    assert load_runs(two, columns={"lambada_ppl": "loss"}).df["loss"].tolist() == pytest.approx(np.log([80, 40]))
    out = CliRunner().invoke(app, ["validate", str(p)])
    assert out.exit_code == 0 and "ln(val_ppl)" in out.output
    bad = tmp_path / "bad.csv"
    bad.write_text("params,tokens,ppl\n1e7,2e8,0.5\n")
    with pytest.raises(DataError, match="a perplexity must be > 1"):
        load_runs(bad)


def test_a_hugging_face_trainer_state_reads_as_its_evaluations(tmp_path):
    """trainer_state.json (a Trainer's log_history: training logs and evaluations interleaved) reads one row
    per evaluation, eval_loss as the loss, steps and tokens seen along; without evaluations its training
    logs; a bad entry is named by its position in log_history."""
    hist = [{"epoch": 0.5, "learning_rate": 5e-5, "loss": 3.2, "step": 100, "num_input_tokens_seen": 409600},
            {"epoch": 0.5, "eval_loss": 3.1, "eval_runtime": 1.0, "step": 100, "num_input_tokens_seen": 409600},
            {"epoch": 1.0, "loss": 2.9, "step": 200, "num_input_tokens_seen": 819200},
            {"epoch": 1.0, "eval_loss": 2.85, "eval_runtime": 1.1, "step": 200, "num_input_tokens_seen": 819200}]
    state = {"global_step": 200, "log_history": hist, "best_metric": None, "total_flos": 1.2e15}
    p = tmp_path / "trainer_state.json"
    p.write_text(json.dumps(state))
    rt = load_runs(p)
    assert rt.df["loss"].tolist() == [3.1, 2.85] and rt.df["step"].tolist() == [100, 200]
    assert rt.df["tokens"].tolist() == [409600, 819200] and rt.source_rows.tolist() == [2, 4]
    p.write_text(json.dumps({**state, "log_history": [h for h in hist if "loss" in h]}))
    assert load_runs(p).df["loss"].tolist() == [3.2, 2.9]
    hist[3]["eval_loss"] = -1.0
    p.write_text(json.dumps({**state, "log_history": hist}))
    with pytest.raises(DataError) as e:
        load_runs(p)
    assert locations(e.value) == [(4, "eval_loss")]


def test_a_trackers_export_reads_its_config_paths_and_skips_unfinished_runs(tmp_path):
    """A W&B export flattens the config into paths (model.n_params, data.tokens) beside eval/loss and _step, and
    lists the crashed run with no loss: the counts read from the paths' last parts, never a width (model.d)
    or a corpus path (config.data), and --drop-missing-loss leaves the crashed run out."""
    p = tmp_path / "wandb.csv"
    p.write_text("Name,State,model.n_params,data.tokens,model.d,config.data,eval/loss,train/loss,_step\n"
                 "r1,finished,1e7,2e8,64,/corpus,4.2,4.1,1000\nr2,crashed,3e7,6e8,96,/corpus,,5.0,200\n"
                 "r3,finished,1e8,2e9,128,/corpus,3.5,3.45,1000\n")
    rt = load_runs(p, drop_missing_loss=True)
    assert rt.df["params"].tolist() == [1e7, 1e8] and rt.df["tokens"].tolist() == [2e8, 2e9]
    assert rt.df["loss"].tolist() == [4.2, 3.5] and rt.df["step"].tolist() == [1000, 1000]
    assert rt.df["model.d"].tolist() == [64, 128] and "config.data" in rt.columns
    assert rt.column_map["model.n_params"] == "params"


def test_a_trackers_run_name_tells_the_checkpoints_of_a_run_apart(tmp_path):
    """W&B's runs export labels a run 'Name': a checkpoint log under it read as 350 runs (mid-run losses fitted
    as final ones) while --last-checkpoint said it kept the last of each. Beside a run_id the name keeps its
    own column (MLflow writes both)."""
    rows = [{"Name": f"r{i}", "params": 1e7 * (i + 1), "tokens": 2e8 * (i + 1) * s / 4, "step": s, "loss": 4 - s / 10}
            for i in range(3) for s in (1, 2, 3, 4)]
    p = tmp_path / "history.csv"
    pd.DataFrame(rows).to_csv(p, index=False)
    rt = load_runs(p)
    assert rt.column_map["Name"] == "run_id" and rt.checkpoints()["runs"] == 3
    last = rt.final()
    assert len(last) == 3 and last.df["step"].tolist() == [4, 4, 4]
    both = tmp_path / "both.csv"
    pd.DataFrame(rows).assign(run_id=lambda d: "id-" + d["Name"]).to_csv(both, index=False)
    rb = load_runs(both)
    assert rb.df["run_id"].str.startswith("id-").all() and "Name" in rb.df.columns and len(rb.final()) == 3
    # 'model' and 'experiment' group many runs: not run labels
    grouped = tmp_path / "grouped.csv"
    pd.DataFrame(rows).drop(columns="Name").assign(model="gpt").to_csv(grouped, index=False)
    assert load_runs(grouped).checkpoints()["runs"] == 0


def test_units_written_in_headers_survive_a_hand_mapping(tmp_path):
    """'Loss (bits/byte)' is a loss in bits/byte, read or mapped (mapped it was labelled nats/token: 3.15 printed
    for 2.18 nats); 'Compute (PF-days)' is petaflop/s-days, read or mapped (2.27 PF-days read as 2.27 FLOPs)."""
    from scalinglab.data.schema import PF_DAY

    N = np.array([1e7, 4e7, 1.6e8])
    D = 20 * N
    p = tmp_path / "paper.csv"
    pd.DataFrame({"params": N, "Compute (PF-days)": 6 * N * D / PF_DAY,
                  "Loss (bits/byte)": [1.2, 1.1, 1.0]}).to_csv(p, index=False)
    for cols in (None, {"Loss (bits/byte)": "loss", "Compute (PF-days)": "flops"}):
        rt = load_runs(p, columns=cols)
        assert rt.loss_unit == "bits/byte"
        assert np.allclose(rt.df["flops"], 6 * N * D, rtol=1e-12) and np.allclose(rt.df["tokens"], D, rtol=1e-9)
    assert PF_DAY == 8.64e19


@pytest.mark.parametrize("mark", ["-", "—", "?", "None", " ", "n.a."])
def test_a_papers_missing_marks_are_empty_cells(tmp_path, mark):
    """'—' (not run), '-', '?', 'None' and a blank were 'not a number' errors that --drop-missing-loss could not
    remove; they are empty cells: named as such, and left out on request."""
    p = tmp_path / "t.csv"
    p.write_text(f"params,tokens,loss\n1e7,2e8,3.1\n2e7,4e8,{mark}\n4e7,8e8,2.9\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"t.csv:2:loss: empty cell"):
        load_runs(p)
    rt = load_runs(p, drop_missing_loss=True)
    assert rt.df["loss"].tolist() == [3.1, 2.9] and list(rt.source_rows) == [1, 3]


def test_comment_lines_are_read_past_and_rows_keep_their_numbers(tmp_path):
    """'# ...' lines above the header and among the rows gave 37 errors ('row has 3 fields but the header has 1');
    they are comments: rows keep their line numbers after the header, and a column named '#' is a column."""
    p = tmp_path / "c.csv"
    p.write_text("# ladder from run 2024-05\n# loss in nats\nparams,tokens,loss\n1e7,2e8,3.1\n# a note\n"
                 "2e7,4e8,oops\n# end\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_runs(p)
    assert locations(info.value) == [(3, "loss")]
    p.write_text(p.read_text(encoding="utf-8").replace("oops", "3.0"), encoding="utf-8")
    rt = load_runs(p)
    assert rt.df["loss"].tolist() == [3.1, 3.0] and list(rt.source_rows) == [1, 3]
    q = tmp_path / "index.csv"
    q.write_text("#,params,tokens,loss\n1,1e7,2e8,3.1\n2,2e7,4e8,3.0\n", encoding="utf-8")
    assert load_runs(q).df["#"].tolist() == [1, 2]


def test_a_run_exported_twice_is_a_duplicate_not_a_checkpoint(tmp_path):
    """The same run exported twice (only 'exported_at' differs) read as a run logged at two checkpoints, and a
    repeat whose params differ by 1e-12 (a unit round trip) as another run: both double-weighted the largest
    runs. A date or note column does not tell runs apart; counts equal to 1e-9 are one value."""
    rows = pd.DataFrame({"params": [1e7, 2e7, 4e7], "tokens": [2e8, 4e8, 8e8], "loss": [3.1, 3.0, 2.9],
                         "run_id": ["a", "b", "c"], "exported_at": "2024-05-01"})
    twice = pd.concat([rows, rows.iloc[[2]].assign(exported_at="2024-05-02")], ignore_index=True)
    twice.to_csv(tmp_path / "twice.csv", index=False)
    with pytest.raises(DataError, match="exact duplicate of row 3"):
        load_runs(tmp_path / "twice.csv")
    assert len(load_runs(tmp_path / "twice.csv", drop_duplicates=True)) == 3
    near = pd.concat([rows, rows.iloc[[2]].assign(params=4e7 * (1 + 1e-12))], ignore_index=True).drop(
        columns=["run_id", "exported_at"])
    near.to_csv(tmp_path / "near.csv", index=False)
    with pytest.raises(DataError, match="exact duplicate of row 3"):
        load_runs(tmp_path / "near.csv")


def test_rows_that_share_one_count_alone_are_not_replicates():
    """A compute-only table's rows at one budget (an IsoFLOP set, or seeds) were 'replicate groups' with a
    'run-to-run noise' 10x the seed noise: one count alone does not fix a run."""
    C = np.repeat([1e18, 1e19], 3)
    assert load_runs({"flops": C, "loss": [3.0, 2.9, 3.1, 2.7, 2.6, 2.8]}).replicates()["groups"] == 0
    both = load_runs({"params": [1e7] * 2 + [2e7] * 2, "tokens": [2e8] * 2 + [4e8] * 2, "loss": [3.0, 3.03, 2.9, 2.88]})
    rep = both.replicates()
    assert rep["groups"] == 2 and rep["log_loss_sd"] == pytest.approx(
        np.sqrt(((np.log(3.03) - np.log(3.0)) ** 2 / 2 + (np.log(2.9) - np.log(2.88)) ** 2 / 2) / 2), rel=1e-9)


def test_a_list_of_records_is_a_run_table():
    """One dict per run (what json.load of a records file or a loop of results gives) was refused."""
    rt = load_runs([{"params": 1e7, "tokens": 2e8, "loss": 3.1}, {"params": 2e7, "tokens": 4e8, "loss": 3.0}])
    assert len(rt) == 2 and rt.df["flops"].tolist() == [6 * 1e7 * 2e8, 6 * 2e7 * 4e8]
    with pytest.raises(DataError, match="<records>:2:loss: not a number: 'x'"):
        load_runs([{"params": 1e7, "tokens": 2e8, "loss": 3.1}, {"params": 2e7, "tokens": 4e8, "loss": "x"}])


def test_one_data_hash_by_every_route(tmp_path):
    """A store's run without a cooldown branch holds '' where its CSV export reads back a missing cell: the same
    runs hashed differently by route, and the report warned 'the fit was made on other runs' on identical data."""
    frame = pd.DataFrame({"params": [1e7, 2e7, 4e7], "tokens": [2e8, 4e8, 8e8], "loss": [3.1, 3.0, 2.9],
                          "run_id": ["a", "b", "c"], "branch": ["D=1", "D=2", ""]})
    frame.to_csv(tmp_path / "export.csv", index=False)
    direct, back = load_runs(frame), load_runs(tmp_path / "export.csv")
    assert back.df["branch"].isna().tolist() == [False, False, True]
    assert direct.hash() == back.hash()
    assert load_runs(frame.assign(branch=["D=1", "D=2", "D=3"])).hash() != direct.hash()


def test_a_comment_above_a_semicolon_header_does_not_decide_the_delimiter(tmp_path):
    p = tmp_path / "semi.csv"
    p.write_text("# ladder, run 2024\nparams;tokens;loss\n1e7;2e8;3,1\n2e7;4e8;3,0\n", encoding="utf-8")
    assert load_runs(p).df["loss"].tolist() == [3.1, 3.0]


def test_a_tokens_per_param_header_is_a_ratio_not_the_params(tmp_path):
    """'Tokens/param' read as a flattened path whose last part is 'param': a second params column (a conflict
    error that advised dropping it), or params = 20 with a 'millions?' hint."""
    p = tmp_path / "t.csv"
    p.write_text("Params,Tokens,Tokens/param,loss\n1e8,2e9,20,3.5\n4e8,8e9,20,3.1\n1e9,2e10,20,2.9\n")
    rt = load_runs(p)
    assert rt.df["params"].tolist() == [1e8, 4e8, 1e9] and rt.column_map.get("Tokens/param") is None
    assert rt.df["Tokens/param"].tolist() == [20, 20, 20]
    q = tmp_path / "wb.csv"
    q.write_text("Name,data/tokens,model.n_params,loss\na,2e9,1e8,3.5\nb,8e9,4e8,3.1\n")
    assert load_runs(q).df["tokens"].tolist() == [2e9, 8e9]  # a path whose parts name one count stays a path


def test_a_csv_written_from_a_bits_per_byte_table_reads_back_in_bits_per_byte(tmp_path):
    """convert to CSV dropped the loss unit: a val_bpb table read back as nats/token (Parquet kept it)."""
    p = tmp_path / "bpb.csv"
    p.write_text("params,tokens,val_bpb\n1e8,2e9,1.10\n4e8,8e9,0.98\n")
    rt = load_runs(p)
    assert rt.loss_unit == "bits/byte"
    back = load_runs(rt.to_csv(tmp_path / "out.csv"))
    assert back.loss_unit == "bits/byte" and back.df["loss"].tolist() == [1.10, 0.98]
    nats = load_runs(load_runs(tmp_path / "out.csv").to_csv(tmp_path / "again.csv"))
    assert nats.loss_unit == "bits/byte"
    plain = tmp_path / "n.csv"
    plain.write_text("params,tokens,loss\n1e8,2e9,3.1\n4e8,8e9,2.9\n")
    assert "loss" in (tmp_path / "n2.csv").read_text() if load_runs(plain).to_csv(tmp_path / "n2.csv") else False


def test_a_workbook_written_by_a_script_names_its_unsaved_formulas_and_other_sheets(tmp_path):
    """Formulas with no saved value read as empty cells ("a run that logged no loss?"), and a README first
    sheet gave an error that did not say which sheets the workbook has."""
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    wb.active.title = "README"
    wb.active.append(["this workbook holds the ladder"])
    ws = wb.create_sheet("runs")
    ws.append(["params", "tokens", "ppl", "loss"])
    for i, (n, d, ppl) in enumerate(((1e8, 2e9, 30.0), (4e8, 8e9, 25.0)), start=2):
        ws.append([n, d, ppl, f"=LN(C{i})"])
    p = tmp_path / "book.xlsx"
    wb.save(p)
    with pytest.raises(DataError, match=r"sheet 'README' has no table .* other sheets: runs \(pick one as "
                                         r"book\.xlsx#SHEET\)"):
        load_runs(p)
    with pytest.raises(DataError, match=r"cell D2 holds a formula \(=LN\(C2\)\) with no saved value"):
        load_runs(f"{p}#runs")


def test_a_lone_count_in_another_unit_is_named(tmp_path):
    """The unit check fired only when every run was off: one raw count under 'Params (M)' (350T parameters)
    or one run's tokens written in billions went through validate and fit silently."""
    from scalinglab.data.table import count_slips

    N = np.array([20e6, 50e6, 125e6, 350e6, 760e6, 1.3e9])
    good = pd.DataFrame({"params": N, "tokens": 20 * N, "loss": 3.0})
    assert count_slips(good) == []
    slip = good.copy()
    slip.loc[3, "tokens"] = 7.0                                   # 7B written as 7
    said = count_slips(slip)
    assert len(said) == 1 and "params 3.5e+08, tokens 7:" in said[0] and "below every other run" in said[0]
    curve = pd.DataFrame({"params": 1e8, "tokens": np.geomspace(1e6, 1e10, 40), "loss": 3.0})  # a loss curve
    assert count_slips(curve) == []


def test_a_tab_separated_export_with_decimal_commas_reads(tmp_path):
    """A German spreadsheet's 'Text (tab delimited)' export was refused cell by cell ('not a number: 4,6321')
    while the same table as a ';' CSV read."""
    p = tmp_path / "euro.tsv"
    p.write_text("params\ttokens\tloss\n20000000\t0,4 B\t4,6321\n50000000\t1,0 B\t3,9105\n")
    rt = load_runs(p)
    assert rt.df["loss"].tolist() == [4.6321, 3.9105] and rt.df["tokens"].tolist() == [4e8, 1e9]
    dots = tmp_path / "dots.tsv"
    dots.write_text("params\ttokens\tloss\n2e7\t4e8\t4.6321\n5e7\t1e9\t3.9105\n")
    assert load_runs(dots).df["loss"].tolist() == [4.6321, 3.9105]
    from scalinglab.data.readers import _tab_decimal_comma

    assert not _tab_decimal_comma(b"params\ttokens\n1,000\t2,000\n")  # thousands, perhaps: not decimals


def test_a_diverged_runs_infinite_loss_is_left_out_with_the_missing_ones(tmp_path):
    """A tracker logs a diverged run's loss as Infinity: an error with no CLI way out (--drop-missing-loss left
    out NaN but not inf)."""
    p = tmp_path / "d.csv"
    p.write_text("params,tokens,loss\n2e7,4e8,4.63\n5e7,1e9,Infinity\n1.25e8,2.5e9,NaN\n3.5e8,7e9,3.4\n")
    with pytest.raises(DataError, match=r"d\.csv:2:loss: value is inf; must be finite \(a diverged run\? leave"):
        load_runs(p)
    rt = load_runs(p, drop_missing_loss=True)
    assert rt.df["loss"].tolist() == [4.63, 3.4] and list(rt.source_rows) == [1, 4]


def test_one_pass_lists_duplicates_beside_bad_cells(tmp_path):
    """A duplicate row was reported only once the bad cells were mended: a user fixed the file twice."""
    text = "params,tokens,loss\n1e6,2e7,4.0\n1e6,2e7,4.0\n2e6,4e7,\n4e6,8e7,abc\n8e6,1.6e8,3.1\n"
    with pytest.raises(DataError) as info:
        load_runs(write(tmp_path, "r.csv", text))
    assert locations(info.value) == [(2, None), (3, "loss"), (4, "loss")]
    assert "exact duplicate of row 1" in info.value.problems[0].reason
    # a bad cell in a duplicated row is its own problem, not a duplicate of anything
    text = "params,tokens,loss\n1e6,2e7,x\n1e6,2e7,x\n2e6,4e7,3.5\n"
    with pytest.raises(DataError) as info:
        load_runs(write(tmp_path, "s.csv", text))
    assert locations(info.value) == [(1, "loss"), (2, "loss")]


def test_a_count_with_a_unit_letter_after_it_reads_in_that_unit():
    """params_M / tokens_B read as raw counts (a 70-parameter model), even when mapped by hand as the error hinted."""
    d = {"params_M": [70, 140, 400, 800], "tokens_B": [1.4, 2.8, 8, 16], "loss": [3.5, 3.2, 3.0, 2.9]}
    runs = load_runs(d)
    assert runs.df["params"].tolist() == [70e6, 140e6, 400e6, 800e6]
    assert runs.df["tokens"].tolist() == pytest.approx([1.4e9, 2.8e9, 8e9, 16e9])
    assert load_runs({"Params M": [70.0], "loss": [2.0], "tokens": [1e9]}).df["params"].tolist() == [70e6]
