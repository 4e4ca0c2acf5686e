"""Property-based fuzzing of every input boundary: run-table loaders, the law parser, sweep specs, the CLI.

The contract checked for every generated case: a valid result, or a :class:`~scalinglab.ScalingLabError`
whose message names the input (file / spec / expression) — never any other exception, never a traceback.

The default run uses ``SCALINGLAB_FUZZ_EXAMPLES`` (30) examples per property; ``bench/fuzz.py`` imports
this module with a large value and counts the cases (``CASES``) and failures.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import string
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scalinglab import ScalingLabError
from scalinglab._errors import DataError, LawError

EXAMPLES = int(os.environ.get("SCALINGLAB_FUZZ_EXAMPLES", "30"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 30,
                suppress_health_check=list(HealthCheck), database=None)

#: cases tried per boundary (bench/fuzz.py reads it)
CASES: dict[str, int] = {}


def _count(boundary: str) -> None:
    CASES[boundary] = CASES.get(boundary, 0) + 1


def _outcome(boundary: str, fn, *, names: tuple[str, ...] = ()):
    """Run ``fn``; a ScalingLabError must have a message (naming one of ``names`` if given)."""
    _count(boundary)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # no numpy overflow noise leaking to users
            return fn()
    except ScalingLabError as exc:
        msg = str(exc)
        assert msg.strip(), f"{type(exc).__name__} with an empty message"
        if names:
            assert any(n in msg for n in names), f"error does not name the input {names}: {msg[:300]}"
        return exc


# ------------------------------------------------------------------------------------------ run tables
COLUMN_NAMES = ["params", "N", "n_params", "Model Size", "tokens", "D", "flops", "C", "compute", "loss",
                "val_loss", "step", "run_id", "dataset", "unique_tokens", "seed", "acc", "", " ", "N ",
                "名前", "a,b", 'q"uote', "loss\n2", "Ünïcode"]

_UNIT_STRINGS = ["70B", "1.4T", "2^20", "2**20", "10^400", "1e999", "3e23 FLOPs", "1.3 M", "70b", "5m",
                 "1,000,000", "1_000", "-5", "0", "nan", "NaN", "inf", "-inf", "", " ", "abc", "1MB", "0^-1",
                 "70B params", "1e-30", "1e40", "1.2.3", "--1", "\x00", "½", "٣", "7e", "k", "1Ki"]

cell = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.floats(min_value=1e-30, max_value=1e40),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from(_UNIT_STRINGS),
    st.text(max_size=8),
    st.none(),
    st.booleans(),
)


@st.composite
def tables(draw):
    """A header (maybe with duplicates/odd names) and rows of arbitrary cells (maybe ragged)."""
    ncol = draw(st.integers(0, 6))
    names = draw(st.lists(st.one_of(st.sampled_from(COLUMN_NAMES), st.text(max_size=6)),
                          min_size=ncol, max_size=ncol))
    if draw(st.booleans()) and ncol >= 3:  # a table that could plausibly load
        names[:3] = draw(st.permutations(["params", "tokens", "loss"]))
    nrow = draw(st.integers(0, 6))
    rows = [draw(st.lists(cell, min_size=ncol, max_size=ncol)) for _ in range(nrow)]
    if rows and draw(st.integers(0, 9)) == 0:  # a ragged row
        rows[draw(st.integers(0, nrow - 1))].append(draw(cell))
    return names, rows


def _text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _delimited(names, rows, delimiter: str) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    if names or rows:
        w.writerow(names)
    for r in rows:
        w.writerow([_text(v) for v in r])
    return buf.getvalue()


def _jsonable(v):
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)  # JSON has no NaN/inf: write them as strings, as real logs do
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) > 2**63 - 1:
        return float(v)
    return v


ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"]


def _encode(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="replace")


def _check_table(result, source_name: str) -> None:
    """A loaded table must hold only valid canonical values."""
    from scalinglab.data import RunTable

    if isinstance(result, ScalingLabError):
        if isinstance(result, DataError):
            assert source_name in str(result) or source_name in (result.location or "")
        return
    assert isinstance(result, RunTable)
    df = result.df
    for c in ("params", "tokens", "flops", "unique_tokens"):
        if c in df and c != "unique_tokens":
            v = df[c].to_numpy(float)
            assert np.all(np.isfinite(v)) and np.all(v > 0), f"{c} holds invalid values {v}"
    if "loss" in df:
        v = df["loss"].to_numpy(float)
        assert np.all(np.isfinite(v)) and np.all(v > 0)


def load_file_case(tmp: Path, fmt: str, encoding: str, names, rows, mode: str) -> None:
    from scalinglab.data import load_runs

    path = tmp / f"runs.{fmt}"
    if fmt in ("csv", "tsv"):
        text = _delimited(names, rows, "," if fmt == "csv" else "\t")
        data = b"" if mode == "empty" else _encode(text, encoding)
        if mode == "bom_only":
            data = b"\xef\xbb\xbf"
        if mode == "crlf":
            data = data.replace(b"\n", b"\r\n")
        path.write_bytes(data)
    elif fmt in ("jsonl", "json"):
        recs = [{str(n): _jsonable(v) for n, v in zip(names, r, strict=False)} for r in rows]
        if fmt == "jsonl":
            text = "\n".join(json.dumps(r) for r in recs)
        else:
            text = json.dumps(recs)
        path.write_bytes(b"" if mode == "empty" else _encode(text, encoding))
    elif fmt == "parquet":
        if mode == "empty":
            path.write_bytes(b"")
        elif mode == "truncated":
            _frame(names, rows).to_parquet(path)
            path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 2)])
        else:
            _frame(names, rows).to_parquet(path)
    result = _outcome("loaders", lambda: load_runs(path), names=(str(path),))
    _check_table(result, str(path))


def _frame(names, rows) -> pd.DataFrame:
    # parquet cannot hold duplicate, empty or mixed-type columns: make them unique text/float columns
    cols: dict[str, list] = {}
    for j, n in enumerate(names):
        key = str(n) if str(n) and str(n) not in cols else f"{n}_{j}"
        vals = [r[j] if j < len(r) else None for r in rows]
        if all(isinstance(v, float | int) and not isinstance(v, bool) for v in vals if v is not None):
            cols[key] = [float(v) if v is not None else None for v in vals]
        else:
            cols[key] = [_text(v) for v in vals]
    return pd.DataFrame(cols)


@FUZZ
@given(tbl=tables(), fmt=st.sampled_from(["csv", "tsv", "jsonl", "json", "parquet"]),
       encoding=st.sampled_from(ENCODINGS),
       mode=st.sampled_from(["plain", "plain", "plain", "empty", "crlf", "bom_only", "truncated"]))
def test_fuzz_file_loaders(tmp_path_factory, tbl, fmt, encoding, mode):
    names, rows = tbl
    load_file_case(tmp_path_factory.mktemp("fz"), fmt, encoding, names, rows, mode)


def _mixed_frame(names, rows) -> pd.DataFrame:
    data = [[r[j] if j < len(r) else None for j in range(len(names))] for r in rows]
    return pd.DataFrame(data, columns=[str(n) for n in names]) if names else pd.DataFrame(data)


@FUZZ
@given(tbl=tables(), kind=st.sampled_from(["pandas", "polars", "dict", "pandas_numeric"]))
def test_fuzz_frame_loaders(tbl, kind):
    from scalinglab.data import load_runs

    names, rows = tbl
    rows = [r[: len(names)] + [None] * (len(names) - len(r)) for r in rows]
    if kind == "pandas":
        src = _mixed_frame(names, rows)  # duplicate column names are possible here
    elif kind == "pandas_numeric":
        src = _frame(names, rows)
    elif kind == "polars":
        import polars as pl

        src = pl.from_pandas(_frame(names, rows))
    else:
        src = {f"{n}#{j}" if n in names[:j] else n: [r[j] for r in rows] for j, n in enumerate(names)}
    result = _outcome("loaders", lambda: load_runs(src, source_name="<fuzz>"), names=("<fuzz>",))
    _check_table(result, "<fuzz>")


@FUZZ
@given(data=st.binary(max_size=200), fmt=st.sampled_from(["csv", "tsv", "jsonl", "json", "parquet"]))
def test_fuzz_loader_random_bytes(tmp_path_factory, data, fmt):
    from scalinglab.data import load_runs

    path = tmp_path_factory.mktemp("fzb") / f"junk.{fmt}"
    path.write_bytes(data)
    _check_table(_outcome("loaders", lambda: load_runs(path), names=(str(path),)), str(path))


@FUZZ
@given(magnitude=st.sampled_from([1e-30, 1e-10, 1.0, 1e3, 1e13, 1e27, 1e40]),
       n=st.integers(1, 8), seed=st.integers(0, 2**16))
def test_fuzz_extreme_magnitudes_round_trip(tmp_path_factory, magnitude, n, seed):
    """Valid tables at any magnitude load exactly, through CSV and Parquet, and keep every value."""
    from scalinglab.data import load_runs

    rng = np.random.default_rng(seed)
    N = magnitude * rng.uniform(1, 10, n)
    D = magnitude * rng.uniform(1, 10, n)
    L = rng.uniform(1, 5, n)
    tmp = tmp_path_factory.mktemp("mag")
    pd.DataFrame({"params": N, "tokens": D, "loss": L}).to_csv(tmp / "r.csv", index=False)
    runs = _outcome("loaders", lambda: load_runs(tmp / "r.csv"))
    assert not isinstance(runs, ScalingLabError), runs
    np.testing.assert_allclose(runs.df["params"], N, rtol=1e-15)
    with np.errstate(over="ignore"):
        C = 6 * N * D
    if np.all(np.isfinite(C)):
        np.testing.assert_allclose(runs.df["flops"], C, rtol=1e-12)
    runs.to_parquet(tmp / "r.parquet")
    again = load_runs(tmp / "r.parquet")
    assert again.hash() == runs.hash()


# ------------------------------------------------------------------------------------------ unit strings
@FUZZ
@given(text=st.one_of(st.sampled_from(_UNIT_STRINGS), st.text(max_size=12),
                      st.from_regex(r"\s*[+-]?\d{0,4}(\.\d{0,3})?([eE][+-]?\d{1,4})?\s*[kKMBGTPEbm]?n?\s*"
                                    r"(params|tokens|FLOPs)?", fullmatch=True),
                      st.from_regex(r"\d{1,4}\s*(\^|\*\*)\s*[+-]?\d{1,5}(\.\d)?", fullmatch=True)))
def test_fuzz_unit_strings(text):
    from scalinglab.units import parse_quantity

    result = _outcome("units", lambda: parse_quantity(text))
    if not isinstance(result, ScalingLabError):
        assert isinstance(result, float) and math.isfinite(result)


# ------------------------------------------------------------------------------------------ law parser
_LAW_TOKENS = ["E", "A", "B", "N", "D", "C", "x", "alpha", "beta", "+", "-", "*", "/", "**", "(", ")", "(",
               ")", "exp(", "log(", "sqrt(", "max(", "min(", ",", "1", "0", "2.5", "1e308", "1e-308", " ",
               "sigmoid(", "softplus(", "abs(", "tanh(", "log10(", ".", "_", "__class__", "[", "lambda",
               ":", "=", "'", "9**9", "-1", "1e400", "0.0"]


@st.composite
def law_strings(draw):
    if draw(st.booleans()):
        return "".join(draw(st.lists(st.sampled_from(_LAW_TOKENS), min_size=1, max_size=25)))
    return draw(st.text(alphabet=string.printable + "αβ∞", max_size=40))


def law_case(expr: str, with_eval: bool = True) -> None:
    from scalinglab.laws import parse_law

    result = _outcome("law parser", lambda: parse_law(expr))
    if isinstance(result, ScalingLabError):
        assert isinstance(result, LawError), type(result)
        return
    if with_eval:  # an accepted law evaluates without raising (values may be nan/inf) and without warnings
        law = result
        theta = np.asarray([p.default if np.isfinite(p.default) else 1.0 for p in law.params], float)
        X = {v: np.array([1e3, 1e9, 1e13]) for v in law.variables}
        _outcome("law parser", lambda: law.evaluate(theta, X))
        _outcome("law parser", lambda: law.jacobian(theta, X))


@FUZZ
@given(expr=law_strings())
def test_fuzz_law_parser(expr):
    law_case(expr)


# ------------------------------------------------------------------------------------------ sweep specs
_ARCH_VALUES = st.one_of(st.integers(-3, 80), st.sampled_from(["2", "64", "1k", "x", "", "1e3", 2.5, None,
                                                                True, [], {}, "nan", float("nan")]))


@st.composite
def specs(draw):
    kind = draw(st.sampled_from(["ladder", "isoflop", "list", "bogus", None]))
    size = {k: draw(_ARCH_VALUES) for k in draw(st.lists(
        st.sampled_from(["n_layer", "d_model", "n_heads", "vocab_size", "seq_len", "mlp", "bogus"]),
        max_size=4, unique=True))}
    if draw(st.booleans()):
        size.update(n_layer=draw(st.integers(1, 3)), d_model=draw(st.sampled_from([8, 16, 24, 32])))
    spec: dict = {}
    if draw(st.booleans()):
        spec["sweep"] = {"name": draw(st.text(max_size=6)), **({"kind": kind} if kind else {})}
    defaults = {}
    for k in draw(st.lists(st.sampled_from(["seq_len", "schedule", "lr", "batch_size", "data", "seed",
                                            "decay_fraction", "warmup_steps", "unknown"]), max_size=4,
                           unique=True)):
        defaults[k] = draw(st.one_of(
            st.integers(-2, 128), st.floats(allow_nan=True, allow_infinity=True),
            st.sampled_from(["wsd", "cosine", "constant", "linear", "", "1e-3", "64"]),
            st.just({"name": draw(st.sampled_from(["markov", "text", "imagenet"])),
                     "alphabet": draw(st.integers(-1, 64))})))
    if defaults:
        spec["defaults"] = defaults
    section = {"ladder": "ladder", "isoflop": "isoflop", "list": "runs"}.get(kind or "",
                                                                             draw(st.sampled_from(["ladder", "runs"])))
    if section == "ladder":
        spec["ladder"] = {"sizes": [size], "tokens_per_param": draw(st.lists(
            st.one_of(st.floats(-1, 50), st.sampled_from(["10", "x", 0])), max_size=3))}
    elif section == "isoflop":
        spec["isoflop"] = {"sizes": [size], "budgets": draw(st.lists(
            st.one_of(st.floats(-1, 1e12), st.sampled_from(["1e9", "3e9", "1e999", "x"])), max_size=3))}
    else:
        spec["runs"] = [{"arch": size, "tokens": draw(st.one_of(st.integers(-5, 10**6),
                                                                st.sampled_from(["1M", "0", "abc", None])))}]
    return spec


def spec_case(spec: dict) -> None:
    from scalinglab.runner.spec import Sweep, expand_spec

    result = _outcome("sweep specs", lambda: expand_spec(spec, source="fuzz.toml"), names=("fuzz.toml",))
    if not isinstance(result, ScalingLabError):
        assert isinstance(result, Sweep)
        for cfg in result.runs:
            assert cfg.tokens >= 1 and cfg.batch_size >= 1 and cfg.lr > 0
            assert len(cfg.run_id) == 16


@FUZZ
@given(spec=specs())
def test_fuzz_sweep_specs(spec):
    spec_case(spec)


@pytest.mark.parametrize("spec, match", [
    ({"defaults": {"data": 0}, "ladder": {"sizes": [{"n_layer": 1, "d_model": 8}], "tokens_per_param": [5]}},
     "data"),
    ({"defaults": {"data": "64"}, "ladder": {"sizes": [{"n_layer": 1, "d_model": 8}], "tokens_per_param": [5]}},
     "data"),
    ({"defaults": {"decay_fraction": "wsd"}, "runs": [{"arch": {"n_layer": 1, "d_model": 8}, "tokens": 83}]},
     "decay_fraction"),
])
def test_spec_once_known_bugs_raise_spec_error(spec, match):
    """Inputs the fuzzer once had to skip: each is now a SpecError naming the bad field."""
    from scalinglab.runner.spec import SpecError, expand_spec

    with pytest.raises(SpecError, match=match):
        expand_spec(spec, source="fuzz.toml")
    spec_case(spec)


@FUZZ
@given(text=st.one_of(st.text(max_size=80), st.sampled_from([
    "[sweep]\nkind='ladder'\n[ladder]\nsizes=[{n_layer=1,d_model=8}]\ntokens_per_param=[5]\n",
    "[ladder\n", "x = 1\n", "[[runs]]\narch={n_layer=1,d_model=8}\ntokens='1M'\n", "\x00\x01",
    "!!python/object/apply:os.system ['echo pwned']", "a: !!python/name:os.system\n", "- 1\n- 2\n"])),
    suffix=st.sampled_from([".toml", ".yaml", ".yml"]))
def test_fuzz_spec_files(tmp_path_factory, text, suffix):
    from scalinglab.runner.spec import load_spec

    path = tmp_path_factory.mktemp("spec") / f"spec{suffix}"
    path.write_text(text, encoding="utf-8", errors="replace")
    _outcome("sweep specs", lambda: load_spec(path), names=(str(path),))


# ------------------------------------------------------------------------------------------ CLI
SKIP_COMMANDS = {"demo"}  # trains models: exercised by the runner's own tests


def cli_commands() -> dict[str, list]:
    """``{"fit": [click params], "runs list": [...], ...}`` for every leaf command of the app."""
    import typer

    from scalinglab.cli import app

    root = typer.main.get_command(app)
    out: dict[str, list] = {}

    def walk(cmd, prefix):
        if hasattr(cmd, "commands"):  # a group (typer vendors its own click)
            for name, sub in cmd.commands.items():
                walk(sub, prefix + [name])
        else:
            out[" ".join(prefix)] = list(cmd.params)

    walk(root, [])
    from importlib.util import find_spec

    if find_spec("scalinglab.quality") is None:  # TODO(beyond): `quality` lands with scalinglab/quality.py
        SKIP_COMMANDS.add("quality")
    return {k: v for k, v in out.items() if k not in SKIP_COMMANDS}


def _sample_files(tmp: Path) -> dict[str, str]:
    rng = np.random.default_rng(0)
    N = np.repeat([1e7, 3e7, 1e8, 3e8], 3)
    D = np.tile([2e8, 1e9, 5e9], 4)
    L = 1.7 + 400 / N**0.34 + 400 / D**0.28
    L = L * np.exp(rng.normal(0, 0.01, len(L)))
    pd.DataFrame({"params": N, "tokens": D, "loss": L}).to_csv(tmp / "runs.csv", index=False)
    (tmp / "bad.csv").write_text("params,tokens,loss\n1e9,abc,-1\n")
    (tmp / "spec.toml").write_text("[ladder]\nsizes=[{n_layer=1,d_model=8}]\ntokens_per_param=[5]\n")
    (tmp / "fit.json").write_text("{not json")
    return {"runs": str(tmp / "runs.csv"), "bad": str(tmp / "bad.csv"), "spec": str(tmp / "spec.toml"),
            "fitjson": str(tmp / "fit.json"), "missing": str(tmp / "nope.csv"), "dir": str(tmp)}


_VALUES = ["1", "0", "-1", "70B", "1.4T", "1e23", "1e400", "nan", "inf", "-inf", "", "abc", "chinchilla",
           "chinchilla-hoffmann", "power", "E + A/N**alpha", "__import__('os')", "H100", "A100", "6ND",
           "N=70B", "D=1.4T", "N=1e9 D=2e10", "0.5", "2", "100", "--json", "x=1", "{files}", "\x00", "ä"]


@st.composite
def argvs(draw, commands, files):
    name = draw(st.sampled_from(sorted(commands)))
    argv = name.split()
    params = commands[name]
    values = st.one_of(st.sampled_from(_VALUES), st.sampled_from(sorted(files.values())), st.text(max_size=6))
    for p in draw(st.lists(st.sampled_from(params), max_size=5)) if params else []:
        if p.param_type_name == "argument":
            argv.append(draw(values))
        else:
            opt = draw(st.sampled_from(p.opts))
            argv.append(opt)
            if not getattr(p, "is_flag", False) and not getattr(p, "count", False):
                argv.append(draw(values))
    if draw(st.integers(0, 5)) == 0:
        argv.append(draw(st.sampled_from(["--bogus", "-x", "--", "--help"])))
    if name == "run" and "--dry-run" not in argv:
        argv.append("--dry-run")  # never train from the fuzzer
    argv = [a.replace("{files}", files["runs"]) for a in argv]
    return argv


def cli_case(runner, argv: list[str], cwd: Path) -> None:
    from scalinglab.cli import app

    _count("cli")
    old = os.getcwd()
    os.chdir(cwd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # user-facing warnings are fine; only the exit matters here
            res = runner.invoke(app, argv, env={"SCALINGLAB_STORE": str(cwd / "store.db"), "COLUMNS": "100"})
    finally:
        os.chdir(old)
    text = (res.stdout or "") + (res.stderr or "")
    assert "Traceback" not in text, f"{argv}: traceback\n{text[-2000:]}"
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        import traceback

        tb = "".join(traceback.format_exception(res.exception))
        raise AssertionError(f"scalinglab {' '.join(map(repr, argv))} raised:\n{tb[-3000:]}")
    assert res.exit_code in (0, 2), f"{argv}: exit {res.exit_code}\n{text[-2000:]}"
    if res.exit_code == 2:  # a message: on stderr, or a JSON error document on stdout (validate --json)
        assert text.strip(), f"{argv}: exit 2 without a message"


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory):
    from typer.testing import CliRunner

    tmp = tmp_path_factory.mktemp("cli")
    return CliRunner(), cli_commands(), _sample_files(tmp), tmp


def test_cli_commands_discovered(cli_env):
    _, commands, _, _ = cli_env
    assert {"fit", "predict", "validate", "flops", "plan", "run", "runs list"} <= set(commands)


@settings(max_examples=max(EXAMPLES, 40), deadline=None, derandomize=EXAMPLES <= 30,
          suppress_health_check=list(HealthCheck), database=None)
@given(data=st.data())
def test_fuzz_cli(cli_env, data):
    runner, commands, files, tmp = cli_env
    argv = data.draw(argvs(commands, files))
    cli_case(runner, argv, tmp)
