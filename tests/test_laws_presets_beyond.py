"""Presets for the laws beyond pre-training loss (precision, coverage): each is recovered by a fit of data
generated from its own constants, and each reproduces what its source states (where the source states a number).

Sources and where the numbers were read are in ``scalinglab/laws/_presets.py`` and the presets' notes.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from scalinglab.fit import fit
from scalinglab.laws import get_law, get_preset, list_presets

KUMAR = ["precision-kumar-2024", "precision-kumar-2024-activations", "precision-kumar-2024-kv"]
BROWN = "coverage-brown-2024-swebench-lite"


def test_presets_are_listed_with_sources_and_units():
    listed = {p["name"]: p for p in list_presets()}
    for name in [*KUMAR, BROWN]:
        assert name in listed
        p = listed[name]
        assert "arXiv" in p["source"] and p["notes"]
        assert p["conventions"]
    assert listed["precision-kumar-2024"]["law"] == "precision"
    assert "bits" in listed["precision-kumar-2024"]["conventions"]["precision"]
    assert listed["precision-kumar-2024"]["conventions"]["loss"].endswith("nats/token")
    assert listed[BROWN]["law"] == "coverage"


# ---------------------------------------------------------------------------------- Kumar et al. 2024
def test_kumar_constants_are_table_2():
    """Appendix K, Table 2 as quoted (alpha = beta tied), one gamma per quantised tensor type (bits)."""
    gammas = {}
    for name in KUMAR:
        law, p = get_preset(name)
        assert law.name == "precision"
        assert (p.values["E"], p.values["A"], p.values["B"]) == (2.7648, 4299.0, 18060.0)
        assert p.values["alpha"] == p.values["beta"] == 0.4965
        gammas[name] = p.values["gamma"]
    assert list(gammas.values()) == [2.6745, 2.2102, 0.9578]


def test_kumar_high_precision_limit_is_the_chinchilla_form():
    """Eq. 3: as P grows the effective-parameter factor -> 1 and the law is A N^-alpha + B D^-beta + E."""
    law, p = get_preset("precision-kumar-2024")
    v = p.values
    N, D = np.array([3e7, 2.2e8, 1.7e9]), np.array([1.5e9, 2.6e10, 2.6e10])
    chin = v["E"] + v["A"] * N ** -v["alpha"] + v["B"] * D ** -v["beta"]
    np.testing.assert_allclose(law(v, N=N, D=D, P=64.0), chin, rtol=1e-9)  # exp(-64/2.67) ~ 4e-11
    # fewer bits -> fewer effective parameters -> higher loss; the effect saturates with bits
    l3, l4, l8, l16 = law(v, N=2.2e8, D=2.6e10, P=[3.0, 4.0, 8.0, 16.0])
    assert l3 > l4 > l8 > l16
    assert l8 - l16 < 0.2 * (l3 - l8)
    # N_eff = N (1 - exp(-P / gamma)): a model at P bits scores like a full-precision model of N_eff params
    P = 4.0
    n_eff = 2.2e8 * (1 - math.exp(-P / v["gamma"]))
    assert law(v, N=2.2e8, D=2.6e10, P=P)[0] == pytest.approx(float(law(v, N=n_eff, D=2.6e10, P=1e3)[0]), rel=1e-9)


def test_kumar_larger_gamma_hurts_more_at_low_precision():
    """At the same bit width, the tensor type with the larger gamma loses more effective parameters."""
    losses = [float(get_preset(n)[0](get_preset(n)[1].values, N=1e8, D=1e10, P=3.0)[0]) for n in KUMAR]
    assert losses[0] > losses[1] > losses[2]        # weights (2.67) > activations (2.21) > KV cache (0.96)


@pytest.mark.parametrize("name", ["precision-kumar-2024"])
def test_kumar_preset_recovered_by_fit(name):
    law, p = get_preset(name)
    truth = dict(p.values)
    N = np.repeat(np.logspace(7, 10, 5), 24)
    D = np.tile(np.repeat(np.logspace(9, 12, 4), 6), 5)
    P = np.tile([2.0, 3.0, 4.0, 6.0, 8.0, 16.0], 20)
    y = law(truth, N=N, D=D, P=P) * np.exp(np.random.default_rng(11).normal(0, 1e-3, N.size))
    r = fit({"params": N, "tokens": D, "P": P, "loss": y}, law, calibrate=False)
    assert r.params["E"] == pytest.approx(truth["E"], rel=0.02)
    assert r.params["A"] == pytest.approx(truth["A"], rel=0.25)
    assert r.params["B"] == pytest.approx(truth["B"], rel=0.25)
    assert r.params["alpha"] == pytest.approx(truth["alpha"], abs=0.02)
    assert r.params["beta"] == pytest.approx(truth["beta"], abs=0.02)
    assert r.params["gamma"] == pytest.approx(truth["gamma"], rel=0.05)


# ---------------------------------------------------------------------------------- Brown et al. 2024
def test_brown_preset_reproduces_the_abstract_headline():
    """Abstract: SWE-bench Lite, DeepSeek-Coder-V2-Instruct, 15.9% with one sample -> 56% with 250 samples."""
    law, p = get_preset(BROWN)
    c1, c250 = law(p.values, k=[1.0, 250.0])
    assert c1 == pytest.approx(0.159, abs=5e-4)
    assert c250 == pytest.approx(0.56, abs=5e-4)
    assert p.values["a"] == pytest.approx(-1.8389, abs=1e-4) and p.values["b"] == pytest.approx(-0.2090, abs=1e-4)
    # monotone in k and inside [0, 1]; beats the 43% single-sample state of the art quoted in the abstract
    k = np.geomspace(1, 1e4, 50)
    c = law(p.values, k=k)
    assert np.all(np.diff(c) > 0) and np.all((c > 0) & (c < 1))
    k43 = float(k[np.argmax(c >= 0.43)])
    assert 10 < k43 < 250


def test_brown_preset_recovered_by_fit():
    law, p = get_preset(BROWN)
    k = np.geomspace(1, 1e4, 30)
    y = law(p.values, k=k) + np.random.default_rng(5).normal(0, 2e-3, k.size)
    r = fit({"k": k, "value": y}, law, x="k", y="value", calibrate=False)
    assert r.params["a"] == pytest.approx(p.values["a"], rel=0.02)
    assert r.params["b"] == pytest.approx(p.values["b"], rel=0.04)


def test_presets_only_for_laws_with_sourced_constants():
    """moe-clark, rm-bon and rm-rl ship without presets: their published constants could not be verified."""
    names = {p["law"] for p in list_presets()}
    assert not names & {"moe-clark", "rm-bon", "rm-rl"}
    for name in ("moe-clark", "rm-bon", "rm-rl"):
        assert get_law(name).n_params >= 2


def test_cli_laws_lists_the_new_presets():
    import json

    from typer.testing import CliRunner

    from scalinglab.cli import app

    r = CliRunner().invoke(app, ["laws", "--json"])
    assert r.exit_code == 0, r.output
    presets = {p["name"]: p for p in json.loads(r.stdout)["presets"]}
    assert presets["precision-kumar-2024"]["values"]["gamma"] == 2.6745
    assert presets[BROWN]["values"]["a"] == pytest.approx(math.log(0.159))
    r = CliRunner().invoke(app, ["laws", "kumar"])
    assert r.exit_code == 0 and "precision" in r.stdout
