"""Reach in repetition: fit the data-constrained law on runs of few epochs, predict runs repeated many more times.

Issue 19 item 5. For each cut (the runs of at most 2, 4 and 8 epochs fitted, every run repeated more
predicted) the script prints the coverage of the default `fit`'s 50/80/95 % intervals, with the profile
envelope (``scalinglab.fit._profile``: the band re-centred on every refit the runs cannot rule out) and
without it (the compute-calibrated band alone), their median width, and the median error.

Usage: ``python bench/repeated_data.py [--data FILE] [--columns SRC=params,...]``. Without ``--data`` it
runs synthetic ladders with a known truth (Muennighoff et al.'s law, R_D* = 15, 1 % noise; fitted on runs of
0.5, 1 and 2 epochs, predicted at 16, 64 and 256 epochs, six seeds). With ``--data`` it reads any run table
`scalinglab` reads with ``params``, ``tokens``, ``unique_tokens`` and ``loss`` (``--columns`` renames source
columns, e.g. ``params_N=params,tokens_D=tokens,unique_tokens_U=unique_tokens,final_val_loss=loss``), e.g.
Muennighoff et al. 2023's final C4 losses (huggingface/datablations, ``plotstables/return_alloc.ipynb``;
not bundled). Ends with ``repeated_data_cov80: <80 % coverage with the envelope, pooled over cuts>``.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
import warnings

import numpy as np
import pandas as pd

from scalinglab.data import load_runs
from scalinglab.data.schema import parse_column_map
from scalinglab.fit import fit
from scalinglab.laws import get_law

LEVELS = (0.5, 0.8, 0.95)


def synthetic(seed: int, epochs, noise: float = 0.01) -> pd.DataFrame:
    """A data-constrained ladder (4 sizes x 3 unique-token budgets x ``epochs``) under Muennighoff et al.'s
    constants (R_D* = 15, R_N* = 5), log-normal noise of ``noise``."""
    law = get_law("data-constrained")
    truth = np.array([1.87, 520.0, 1500.0, 0.35, 0.35, 15.0, 5.0])
    rng = np.random.default_rng(seed)
    N, U, ep = (a.ravel() for a in np.meshgrid(np.geomspace(3e7, 1e9, 4), (3e8, 3e9, 3e10), epochs))
    L = law.evaluate(truth, {"N": N, "D": ep * U, "U": U})
    return pd.DataFrame({"params": N, "tokens": ep * U, "unique_tokens": U,
                         "loss": L * np.exp(noise * rng.standard_normal(L.size))})


def score(res, test: pd.DataFrame) -> dict:
    """Coverage at each level, median 80 % width (log) and median |relative error| of ``res`` on ``test``."""
    X = {"N": test.params.to_numpy(), "D": test.tokens.to_numpy(), "U": test.unique_tokens.to_numpy()}
    y = test.loss.to_numpy()
    out = {}
    for level in LEVELS:
        p = res.predict(level=level, warn=False, **X)  # the reach is what is scored here
        lo, hi = p.interval
        out[level] = float(np.mean((lo <= y) & (y <= hi)))
        if level == 0.8:
            out["width"] = float(np.median(np.log(hi / lo)))
            out["error"] = float(np.median(np.abs(np.asarray(p.value) / y - 1)))
    return out


def evaluate(train: pd.DataFrame, test: pd.DataFrame) -> tuple[dict, dict, float, int]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # extrapolation warnings are the point here
        t = time.perf_counter()
        res = fit(train[["params", "tokens", "unique_tokens", "loss"]], "data-constrained")
        seconds = time.perf_counter() - t
    bare = dataclasses.replace(res, calibration={k: v for k, v in res.calibration.items() if k != "alternates"})
    return score(res, test), score(bare, test), seconds, len((res.calibration.get("alternates") or {}).get("theta", []))


def line(name: str, n_train: int, n_test: int, w: dict, wo: dict, seconds: float, k: int) -> str:
    cov = "/".join(f"{w[lv]:.2f}" for lv in LEVELS)
    cov0 = "/".join(f"{wo[lv]:.2f}" for lv in LEVELS)
    return (f"{name:24s} {n_train:5d} {n_test:5d}  {cov:>14s}  {cov0:>14s}  {w['width']:6.3f} {wo['width']:6.3f}  "
            f"{w['error']:6.3f}  {k:3d} {seconds:5.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="a run table with params, tokens, unique_tokens and loss")
    ap.add_argument("--columns", default="", help="SRC=target,... renames of source columns")
    args = ap.parse_args()
    print(f"{'table / cut':24s} {'fit':>5s} {'pred':>5s}  {'cover 50/80/95':>14s}  {'(no envelope)':>14s}  "
          f"{'width':>6s} {'(none)':>6s}  {'error':>6s}  {'alt':>3s} {'fit s':>5s}")
    pooled: list[tuple[float, int]] = []
    if args.data:
        cols = parse_column_map(kv for kv in args.columns.split(",") if kv) or None
        df = load_runs(args.data, columns=cols).df
        df = df[df.unique_tokens.notna()]
        epochs = df.tokens / df.unique_tokens
        for cut in (2, 4, 8):
            tr, te = df[epochs <= cut * (1 + 1e-9)], df[epochs > cut * (1 + 1e-9)]
            w, wo, s, k = evaluate(tr, te)
            pooled.append((w[0.8], len(te)))
            print(line(f"<= {cut} epochs", len(tr), len(te), w, wo, s, k))
    else:
        for seed in range(6):
            tr, te = synthetic(seed, (0.5, 1, 2)), synthetic(1000 + seed, (16, 64, 256))
            w, wo, s, k = evaluate(tr, te)
            pooled.append((w[0.8], len(te)))
            print(line(f"synthetic seed {seed}", len(tr), len(te), w, wo, s, k))
    cov = sum(c * n for c, n in pooled) / sum(n for _, n in pooled)
    print(f"repeated_data_cov80: {cov:.3f}")


if __name__ == "__main__":
    main()
