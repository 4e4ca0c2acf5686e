"""Known-entropy check: losses of a ladder on the synthetic Markov source extrapolate to its true entropy rate.

Tolerances (stated): a token-budget ladder of one size, fitted with ``E + A·D^-alpha``, gives E within 3 %
of the true entropy rate in bits/byte (it converges to the size's own floor, which lies slightly above the
entropy); the full demo ladder (5 sizes × 4 budgets, the default fit: ``chinchilla-joint`` chosen by backtests)
gives E within 2 % (1.45 % when written; Chinchilla-Huber's E is within 0.01 % but its band is 3x wider) and
an 80 % band under half as wide as Chinchilla-Huber's (slow test).
"""

from __future__ import annotations

import math
import warnings

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from scalinglab.fit import fit  # noqa: E402
from scalinglab.runner.corpus import MarkovSource, make_source  # noqa: E402
from scalinglab.runner.executor import run_sweep  # noqa: E402
from scalinglab.runner.spec import expand_spec  # noqa: E402
from scalinglab.store import Store  # noqa: E402

DATA = {"name": "markov", "alphabet": 64, "order": 1, "support": 8, "seed": 0, "train_tokens": 2_000_000,
        "val_tokens": 262_144, "chain_len": 128}


def test_entropy_rate_is_exact():
    m = MarkovSource(alphabet=64, order=1, support=8, seed=0)
    src = make_source(DATA)
    # NLL of the validation data under the true transition matrix ≈ the entropy rate
    v = src.val
    nll = -(torch.log(torch.from_numpy(m.P[v[:, :-1], v[:, 1:]]))).mean().item()
    assert nll == pytest.approx(m.entropy_rate_nats, rel=0.01)
    assert src.bits_per_byte(m.entropy_rate_nats) == pytest.approx(m.entropy_rate_nats / math.log(2))
    # order 2: first prediction of a window lacks context, so the window floor is a bit higher
    m2 = MarkovSource(alphabet=16, order=2, support=4, seed=1)
    assert m2.window_loss(64) > m2.entropy_rate_nats
    assert m2.window_loss(10_000) == pytest.approx(m2.entropy_rate_nats, rel=1e-3)


def test_token_ladder_extrapolates_to_the_entropy_rate(tmp_path):
    spec = {"sweep": {"name": "entropy"},
            "defaults": {"data": DATA, "seq_len": 32, "eval_every": 100_000, "eval_windows": 512},
            "runs": [{"arch": {"n_layer": 2, "d_model": 24, "n_heads": 3},
                      "budgets": [20_000, 40_000, 80_000, 160_000, 320_000, 640_000]}]}
    st = Store(tmp_path / "r.db")
    run_sweep(expand_spec(spec), st, workdir=tmp_path / "ck", show_progress=False)
    df = st.to_frame()
    assert len(df) == 6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fr = fit(df, "power", x="tokens")
    src = make_source(DATA)
    true_bpb = src.bits_per_byte(src.entropy_rate_nats)
    fitted_bpb = src.bits_per_byte(fr.params["E"])
    assert fitted_bpb == pytest.approx(true_bpb, rel=0.03), (fitted_bpb, true_bpb)
    assert df["loss"].min() > src.entropy_rate_nats * 0.99  # never (meaningfully) below the floor


@pytest.mark.slow
def test_full_demo_fits_entropy_and_predicts_within_interval(tmp_path):
    from scalinglab.runner.demo import run_demo

    s = run_demo(quick=False, out=tmp_path / "demo", show_progress=False)
    assert s["fitted_E_bpb"] == pytest.approx(s["true_entropy_floor_bpb"], rel=0.02)
    assert s["compute_multiple"] >= 10
    assert s["inside_interval"]
    # the default fit's band (law chosen by backtests, here chinchilla-joint: one constant more) is about as
    # wide as Chinchilla-Huber's on the same ladder and spans under a fifth of the prediction, the point inside
    # (before issue 19 it was [point, point + 33 %]). Measured when the parameters' covariance took the
    # sandwich factor: [1.428, 1.637] nats/token around 1.504, Chinchilla-Huber's [1.463, 1.662]; before it,
    # [1.470, 1.613] and [1.466, 1.812]
    store = Store(tmp_path / "demo" / "runs.db")
    ladder = store.to_frame(sweep="demo-full-ladder")
    store.close()
    t = s["target"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        chin = fit(ladder, "chinchilla", loss="huber", bootstrap=200, seed=0).predict(N=t["params"], D=t["tokens"])
    lo, hi = s["prediction"]["interval_nats"]
    point = s["prediction"]["loss_nats"]
    assert lo < point < hi
    c_lo, c_hi = (float(v) for v in chin.interval)
    assert (hi - lo) < 1.25 * (c_hi - c_lo) and (hi - lo) < 0.2 * point
