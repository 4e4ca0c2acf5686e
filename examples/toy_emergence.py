"""Emergence with real training: a tiny GPT's exact match jumps while its per-token accuracy improves steadily.

The Schaeffer et al. (2023, arXiv 2304.15004) argument, reproduced with models trained here instead of
synthetic numbers (:mod:`scalinglab.runner`, PyTorch on a CPU, ~40-60 s). The toy task is a key→value
lookup (:func:`scalinglab.runner.tasks.get_task`, ``lookup``): each example lists 16 keys drawn from 4,096
with Zipf(1) frequencies, each followed by its value (one of 16, from a fixed random table); the answer
is the 16 value tokens. A 1-layer GPT (d_model 32, 146,112 parameters, constant learning rate 3e-3, one
warmup step, no weight decay, batches of one 66-token window) is trained for 400k tokens and its weights
are scored at 10 checkpoints log-spaced from 2 % of the run to its end (~8k to 400k tokens, 1.7 decades
of training compute C = 6N·D FLOPs under the runner's convention; the range was fixed before measuring)
on the same 1,000 held-out examples (:func:`scalinglab.runner.tasks.toy_emergence_ladder`). The headline
numbers are measurements of this run (seed 0), not published values.
:func:`scalinglab.emergence.analyze_emergence` then fits each metric against log10(C): exact match (all 16
tokens right, ≈ per-token accuracy^16) sits at 0 and then shoots up ("sharp"), while per-token accuracy
and the mean log-probability of the correct answer (nats) rise steadily ("smooth"; seeds 0-2 agree).
Predicting a value from the key just before it is a bigram, so a key is learned once it has been seen
often enough: frequent keys first, rare ones up to ~2 decades of tokens later, and per-token accuracy —
the Zipf mass of the known keys — climbs gradually from ~0.2 to ~0.94. That needs small batches and many
keys: with batches of 8 windows, 1,024 keys, learning rate 1e-2 (Adam) and weight decay 0.1, all keys were
learned within ~0.3 decades of compute and per-token accuracy looked sharp too (seeds 0 and 1). Without
PyTorch the example says so and returns ``{"skipped": ...}``.

Why training time and not model size is the scale axis here: what limits this lookup is how often each
key has been *seen* (training tokens), which is what spreads per-token accuracy over decades; a size ladder
needs a task whose facts the *parameters* limit. With one-token keys they do not (each key's embedding stores its value, so every size
learns the lookup). We measured two-token keys (1,024 keys spelled by 32 × 32 symbols, Zipf(1) frequencies,
24 pairs per example, 1-layer GPTs of d_model 12-48, i.e. ~4k-37k parameters, 1M training tokens each at
learning rate 3e-2, seeds 0-2): the fraction of keys known grows with size, but not robustly. A model gets
~55 % of answer tokens from the second key token alone (the most frequent key sharing it dominates), and
the small models sit on that floor until attention to the first key token forms — abruptly and at a
seed-dependent size (d_model 16: 0.55 for seed 1, 0.72-0.77 for seeds 0 and 2); at one shared learning
rate the larger ones were not monotone (seed 0: 0.96 at d_model 32, 0.93 at 40; seed 2: 0.96, 0.91), and
exact match over the 7 sizes was not flagged sharp on any seed. More keys push the floor out to larger
models and need several times the ~2 CPU-minutes this example can spend.

Run: ``python examples/toy_emergence.py [--fast] [--out DIR]``.
"""

from __future__ import annotations

import importlib.util
import tempfile

import numpy as np
from _common import run, save_figure


def main(fast: bool = False, out=None) -> dict:
    if importlib.util.find_spec("torch") is None:
        msg = "PyTorch is not installed: pip install -e '.[runner]' to train the toy ladder"
        print(f"skipped: {msg}")
        return {"skipped": msg}
    from matplotlib.figure import Figure

    from scalinglab.emergence import analyze_emergence, metrics_by_model
    from scalinglab.runner.tasks import TOY_EMERGENCE, toy_emergence_ladder

    with tempfile.TemporaryDirectory(prefix="scalinglab-toy-") as tmp:
        runs = toy_emergence_ladder(store=f"{tmp}/runs.db", workdir=f"{tmp}/ckpt", seed=0,
                                    n_examples=500 if fast else 1000)   # one row per checkpoint x example
    table = metrics_by_model(runs, scale="flops")
    report = analyze_emergence(runs, scale="flops", metrics=["exact_match", "token_accuracy", "logprob"],
                               bootstrap=50 if fast else 200)
    C, D = table["flops"].to_numpy(), np.sort(runs["tokens"].unique())
    em, tok, lp = (table[c].to_numpy() for c in ("exact_match", "token_accuracy", "logprob"))
    L = TOY_EMERGENCE["task"]["pairs"]
    print(f"task: {TOY_EMERGENCE['task']}; model: {int(runs['params'].iloc[0]):,} parameters")
    print(f"{'tokens':>8} {'FLOPs':>9} {'token acc':>10} {'acc^' + str(L):>8} {'exact match':>12} {'logprob':>9}")
    for row in zip(D, C, tok, tok ** L, em, lp, strict=True):
        print("{:8d} {:9.3g} {:10.3f} {:8.3f} {:12.3f} {:9.2f}".format(*row))
    print()
    for name, a in report.metrics.items():
        print(f"  {name:<15} {a.verdict:<7} {a.reason}")
    print(report.summary)
    # Checks on this run's measurements (the qualitative claim, not tuned numbers).
    assert report.metrics["exact_match"].verdict == "sharp", "exact match should look sharp"
    assert report.metrics["logprob"].verdict == "smooth", "the answer log-probability should improve smoothly"
    assert report.metrics["token_accuracy"].verdict == "smooth", "per-token accuracy should improve smoothly"
    assert em[:4].max() < 0.01 < em[-1] and tok[0] < 0.35 < 0.85 < tok[-1]

    fig = Figure(figsize=(11, 3.6), layout="constrained")
    ax = fig.subplots(1, 3)
    ax[0].semilogx(C, em, "o-", color="#D55E00", label="measured")
    ax[0].semilogx(C, tok ** L, "--", color="0.4", label=f"token acc^{L}")
    ax[0].set_title(f"Exact match ({L}-token answers): '{report.metrics['exact_match'].verdict}'", fontsize=10)
    ax[0].legend(fontsize=8)
    ax[1].semilogx(C, tok, "o-", color="#0072B2")
    ax[1].set_title(f"Per-token accuracy: '{report.metrics['token_accuracy'].verdict}'", fontsize=10)
    ax[2].semilogx(C, lp, "o-", color="#009E73")
    ax[2].set_title(f"Log-prob of the answer: '{report.metrics['logprob'].verdict}'", fontsize=10)
    ax[2].set_ylabel("nats")
    for a in ax:
        a.set_xlabel("training compute C (FLOPs)")
    ax[0].set_ylabel("accuracy")
    path = save_figure(fig, out, "toy_emergence.png", fast)
    return {"params": int(runs["params"].iloc[0]), "tokens": D.tolist(), "flops": C.tolist(),
            "exact_match": em.tolist(), "token_accuracy": tok.tolist(), "logprob": lp.tolist(),
            "answer_tokens": L, "sharp": report.sharp, "smooth": report.smooth,
            "knee_exact_match_flops": report.metrics["exact_match"].knee_scale, "figure": str(path)}


if __name__ == "__main__":
    run(main, __doc__)
