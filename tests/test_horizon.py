"""Finite-horizon H∞/H2 scores and the criteria registry.

The closed forms are checked against a brute-force maximum over frequencies of every mode's kernel truncated
to L taps, built from the models' raw parameters in numpy (``raw_system``, never hf_last's discretisation).
"""

import json

import numpy as np
import pytest
import torch
from scipy.optimize import minimize_scalar
from helpers import make_model, mixers, raw_system

from hf_last.hub.cards import render_card
from hf_last.pruning import CRITERIA, Criterion, LASTPruner, PruningPlan, register_criterion
from hf_last.pruning.criteria import geometric_energy, geometric_gain

HORIZON_METHODS = sorted(name for name, criterion in CRITERIA.items() if criterion.uses_horizon)
# (family, bidirectional, conj_sym)
SYSTEMS = [("s4d", False, True), ("s4d", True, True), ("s4d", False, False),
           ("s5", False, True), ("s5", True, True), ("s5", False, False), ("s5", True, False)]


def truncated_peak(lam_bar: complex, horizon: int, grid: int = 1 << 15) -> float:
    """max_ω |Σ_{l<L} λ̄^l e^{−jωl}|: the DTFT of the L taps on an FFT grid, refined by a bounded scalar search
    around the best grid point (the grid does not contain arg λ̄)."""
    taps = lam_bar ** np.arange(horizon)
    spectrum = np.abs(np.fft.fft(taps, n=max(grid, 8 * horizon)))
    omega = 2 * np.pi * np.argmax(spectrum) / spectrum.size
    width = 2 * np.pi / spectrum.size

    def negative_gain(w):
        return -abs(np.sum(taps * np.exp(-1j * w * np.arange(horizon))))

    refined = minimize_scalar(negative_gain, bounds=(omega - width, omega + width), method="bounded",
                              options={"xatol": 1e-14})
    return max(-refined.fun, spectrum.max())


def model_for(family, bidirectional, conj_sym):
    return make_model(family, bidirectional, conj_sym=conj_sym)


@pytest.mark.parametrize("family, bidirectional, conj_sym", SYSTEMS)
@pytest.mark.parametrize("horizon", [1, 5, 64])
def test_finite_horizon_hinf_equals_truncated_kernel_frequency_sweep(family, bidirectional, conj_sym, horizon):
    model = model_for(family, bidirectional, conj_sym)
    scores = LASTPruner(model, method="global_hinf", horizon=horizon).scores()
    for mixer, h in zip(mixers(model), scores):
        lam_bar, B_bar, Cs = raw_system(mixer, model.config)
        assert len(h) == len(lam_bar)
        for i in range(len(lam_bar)):
            # the truncated kernel's frequency response is (c bᵀ) Σ_l λ̄^l e^{−jωl}: σ_max(c bᵀ) times a scalar
            outer = np.outer(np.concatenate([C[i] for C in Cs]), B_bar[i])
            expected = (np.linalg.svd(outer, compute_uv=False)[0] * truncated_peak(lam_bar[i], horizon)) ** 2
            assert h[i] == pytest.approx(expected, rel=1e-9), (mixer.layer_idx, i)


@pytest.mark.parametrize("family, bidirectional, conj_sym", SYSTEMS)
def test_finite_horizon_h2_equals_truncated_kernel_energy(family, bidirectional, conj_sym):
    horizon = 37
    model = model_for(family, bidirectional, conj_sym)
    raw = LASTPruner(model, method="last_h2", horizon=horizon).criterion.with_horizon(horizon)
    for mixer, sub in zip(mixers(model), LASTPruner(model).subsystems()):
        lam_bar, B_bar, Cs = raw_system(mixer, model.config)
        got = raw.importance(sub.Lambda_bar.numpy(), sub.b_norm2.numpy(), sub.c_norm2.numpy(), horizon=horizon,
                             variant="paper", rng=None)
        for i in range(len(lam_bar)):
            c = np.concatenate([C[i] for C in Cs])
            kernel = np.outer(c, B_bar[i])[None] * (lam_bar[i] ** np.arange(horizon))[:, None, None]
            assert got[i] == pytest.approx((np.abs(kernel) ** 2).sum(), rel=1e-9)


@pytest.mark.parametrize("family, bidirectional", [("s4d", True), ("s5", False), ("s5", True)])
@pytest.mark.parametrize("method", HORIZON_METHODS)
def test_long_horizon_is_the_paper_score(family, bidirectional, method):
    model = make_model(family, bidirectional)
    paper = LASTPruner(model, method=method).scores()
    long = LASTPruner(model, method=method, horizon=10**15).scores()
    for expected, got in zip(paper, long):
        np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_geometric_sums_on_and_off_the_unit_circle():
    poles = np.array([0.5, -0.9j, 1.0, np.exp(0.7j), 1.01, 1 - 1e-16, 1 - 1e-9])
    for horizon in (1, 3, 100):
        direct_gain = [np.sum(np.abs(p) ** np.arange(horizon)) for p in poles]
        direct_energy = [np.sum(np.abs(p) ** (2 * np.arange(horizon))) for p in poles]
        np.testing.assert_allclose(geometric_gain(poles, horizon), direct_gain, rtol=1e-12)
        np.testing.assert_allclose(geometric_energy(poles, horizon), direct_energy, rtol=1e-12)
    assert geometric_gain(np.array([1.0]), 64)[0] == 64.0
    np.testing.assert_array_equal(geometric_gain(np.array([0.5]), None), [2.0])


def test_unstable_modes_are_scored_with_a_finite_horizon_and_refused_without():
    model = make_model("s5")
    with torch.no_grad():
        mixers(model)[0].Lambda_re[0] = 0.05  # |λ̄| > 1
    with pytest.raises(ValueError, match="unstable"):
        LASTPruner(model).scores()
    scores = LASTPruner(model, horizon=50).scores()
    assert all(np.isfinite(s).all() for s in scores)
    plan = LASTPruner(model, method="global_hinf", horizon=50).plan(0.5)
    assert 0 in plan.kept_modes[0]  # a growing mode has the largest truncated gain of its layer


def test_horizon_changes_which_slow_modes_survive():
    """A nearly-integrating mode with a small gain outranks a fast strong mode at the infinite horizon, but
    not over the 20 steps the data has."""
    model = make_model("s5")
    with torch.no_grad():
        mixer = mixers(model)[0]
        mixer.Lambda_re.fill_(-0.5)
        mixer.log_step.fill_(0.0)
        mixer.Lambda_re[0] = -1e-7  # slow
        mixer.B[0].mul_(1e-2)
    infinite = LASTPruner(model, method="uniform_hinf").plan(0.75)
    finite = LASTPruner(model, method="uniform_hinf", horizon=20).plan(0.75)
    assert 0 in infinite.kept_modes[0] and 0 not in finite.kept_modes[0]


def test_horizon_round_trips_through_plan_config_and_card(tmp_path):
    model = make_model("s5")
    model.config._name_or_path = "user/base"
    pruner = LASTPruner(model, horizon=19)
    plan = pruner.plan(0.4)
    assert plan.horizon == 19 and "horizon=19" in plan.summary()
    assert PruningPlan.from_json(plan.to_json()) == plan
    assert json.loads(plan.to_json())["horizon"] == 19
    pruned = pruner.apply(plan)
    assert pruned.config.pruning["horizon"] == 19
    pruned.save_pretrained(tmp_path)
    from transformers import AutoModelForSequenceClassification

    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path)
    assert loaded.config.pruning["horizon"] == 19
    card = str(render_card(loaded, "user/pruned"))
    assert "| Score horizon | 19 steps" in card
    paper_card = str(render_card(LASTPruner(model).prune(0.4), "user/pruned"))
    assert "| Score horizon | infinite" in paper_card
    magnitude_card = str(render_card(LASTPruner(model, method="global_magnitude").prune(0.4), "user/pruned"))
    assert "Score horizon" not in magnitude_card


@pytest.mark.parametrize("horizon", [0, -3, True, 2.5, "64", "abc", [64]])
def test_bad_horizons_are_refused(horizon):
    with pytest.raises(ValueError, match="horizon"):
        LASTPruner(make_model("s5"), horizon=horizon)


def test_horizon_only_for_criteria_that_use_one():
    model = make_model("s5")
    for method in ("global_magnitude", "uniform_magnitude", "lamp", "random"):
        with pytest.raises(ValueError, match="does not depend on a horizon"):
            LASTPruner(model, method=method, horizon=64)
    with pytest.raises(ValueError, match="reference"):
        LASTPruner(model, bidirectional_score="reference", horizon=64)


def test_auto_horizon_must_be_resolved_from_data():
    model = make_model("s5")
    pruner = LASTPruner(model, horizon="auto")
    with pytest.raises(ValueError, match="auto"):
        pruner.plan(0.3)
    pruner.resolve_horizon(19)
    assert pruner.horizon == 19
    assert pruner.plan(0.3) == LASTPruner(model, horizon=19).plan(0.3)
    pruner.resolve_horizon(500)  # only "auto" is resolved
    assert pruner.horizon == 19


def test_a_user_criterion_is_one_object():
    """A criterion supplied by the user: score modes by their oscillation frequency |arg λ̄| (slow ones first)."""

    def frequency(Lambda_bar, b_norm2, c_norm2, *, horizon, variant, rng):
        return 1 / (1e-9 + np.abs(np.angle(Lambda_bar)))

    criterion = Criterion("low_frequency", frequency, normalise=False, allocation="uniform")
    model = make_model("s5")
    plan = LASTPruner(model, method=criterion).plan(0.5)
    assert plan.method == "low_frequency"
    for sub, kept in zip(LASTPruner(model).subsystems(), plan.kept_modes):
        angle = np.abs(np.angle(sub.Lambda_bar.numpy()))
        removed = sorted(set(range(len(angle))) - set(kept))
        assert angle[kept].max() <= angle[removed].min()
    try:
        register_criterion(criterion)
        assert LASTPruner(model, method="low_frequency").plan(0.5) == plan
        with pytest.raises(ValueError, match="already registered"):
            register_criterion(criterion)
    finally:
        CRITERIA.pop("low_frequency", None)
    with pytest.raises(ValueError, match="does not depend on a horizon"):
        Criterion("bad", frequency, horizon=5)
    with pytest.raises(ValueError, match="allocation"):
        Criterion("bad", frequency, allocation="layerwise")


def test_auto_horizon_in_the_drivers_is_the_longest_sequence_of_the_data():
    from datasets import Dataset

    from hf_last.collate import longest_sequence
    from hf_last.experiments import prune_with_search

    rng = np.random.default_rng(0)
    lengths = [5, 23, 17]
    dataset = Dataset.from_dict({"input_values": [rng.normal(size=(n, 1)).tolist() for n in lengths],
                                 "label": [0, 1, 2]})
    assert longest_sequence(dataset) == 23
    model = make_model("s5").float()
    pruned, info = prune_with_search(model, dataset, method="last", horizon="auto", ratio=0.5, batch_size=3)
    assert pruned.config.pruning["horizon"] == 23 and info["mode"] == "fixed"
    assert pruned.pruning_plan == LASTPruner(model, horizon=23).plan(0.5)
    pruned, _ = prune_with_search(model, dataset, method="last@7", ratio=0.5, batch_size=3)
    assert pruned.config.pruning["horizon"] == 7


def test_method_specs_and_the_cli_horizon_flag():
    import argparse

    from hf_last.cli.arguments import horizon, method_list
    from hf_last.pruning.criteria import method_spec, parse_method

    assert parse_method("last") == ("last", None)
    assert parse_method("last@64") == ("last", 64)
    assert parse_method("uniform_hinf@auto") == ("uniform_hinf", "auto")
    assert method_spec("last", 64) == "last@64" and method_spec("last", None) == "last"
    for bad in ("last@0", "last@", "last@x", "last@-3"):
        with pytest.raises(ValueError, match="horizon"):
            parse_method(bad)
    assert [horizon(t) for t in ("none", "None", "auto", "64")] == [None, None, "auto", 64]
    for bad in ("0", "-1", "x", "6.5"):
        with pytest.raises(argparse.ArgumentTypeError):
            horizon(bad)
    assert method_list("last,last@auto,random") == ["last", "last@auto", "random"]
    with pytest.raises(argparse.ArgumentTypeError, match="unknown"):
        method_list("last@auto,nope@64")
    with pytest.raises(ValueError, match="disagree"):
        LASTPruner(make_model("s5"), method="last@64", horizon=32)
