"""LAST pruning: criteria against independent computations, removal == masking, plans, round trips, errors.

Reference values are recomputed here from the models' *raw parameters* with numpy (λ, Δ, B, C -> λ̄, B̄),
never through hf_last's discretisation or criteria.
"""

import copy
import json
import math

import numpy as np
import pytest
import torch
from helpers import (FAMILIES, assert_relclose, inputs, make_model, masked_copy, mixers, outputs, raw_system,
                     snapshot, state_dicts_equal, unchanged)
from torch import nn
from transformers import AutoModelForSequenceClassification

import hf_last  # noqa: F401  (registers the Auto classes)
from hf_last import S4DConfig, S4DModel
from hf_last.pruning import METHODS, LASTPruner, PruningPlan
from hf_last.pruning.criteria import global_allocation, last_normalise, uniform_allocation

RATIOS = (0.0, 0.1, 0.33, 0.5, 0.9, 1.0)


# ---------------------------------------------------------------------------------------------------
# independent numpy computations (raw_system, in helpers, rebuilds λ̄, B̄, C from the raw parameters)
# ---------------------------------------------------------------------------------------------------
def brute_force_hinf(lam_bar, b, c, grid=4096):
    """max_{|z|=1} σ_max(c bᵀ / (z − λ̄)) on a dense angle grid that includes arg λ̄ (c stacks all directions)."""
    theta = np.concatenate([np.linspace(-np.pi, np.pi, grid), [np.angle(lam_bar)]])
    z = np.exp(1j * theta)
    G = np.outer(c, b)[None] / (z - lam_bar)[:, None, None]
    return np.linalg.svd(G, compute_uv=False)[:, 0].max()


def numpy_hinf(model, variant="paper", step_rescale=None):
    """h_i of the paper (or the reference code's formula) per layer, from raw parameters."""
    out = []
    for mixer in mixers(model):
        lam_bar, B_bar, Cs = raw_system(mixer, model.config, step_rescale)
        b2 = (np.abs(B_bar) ** 2).sum(1)
        gap = 1 - np.abs(lam_bar)
        if variant == "reference":
            if len(Cs) == 2:
                c = (np.linalg.norm(Cs[0], axis=1) + np.linalg.norm(Cs[1], axis=1)) / 4
            else:
                c = np.linalg.norm(Cs[0], axis=1) ** 2
            out.append(c * b2 / (gap**2 + 1e-8))
        else:
            c2 = sum((np.abs(C) ** 2).sum(1) for C in Cs)
            out.append(c2 * b2 / gap**2)
    return out


def numpy_last(h):
    """LAST(i) = h_i / Σ_{j : h_j ≥ h_i} h_j (no ties in continuous random scores)."""
    return np.array([hi / h[h >= hi].sum() for hi in h])


# ---------------------------------------------------------------------------------------------------
# (a) H∞ per mode == brute-force frequency sweep
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("family, bidirectional", FAMILIES)
@pytest.mark.parametrize("discretization", ["zoh", "bilinear"])
def test_hinf_equals_frequency_sweep(family, bidirectional, discretization):
    model = make_model(family, bidirectional, discretization)
    scores = LASTPruner(model, method="global_hinf").scores()
    for mixer, h in zip(mixers(model), scores):
        lam_bar, B_bar, Cs = raw_system(mixer, model.config)
        assert len(h) == len(lam_bar)
        for i in range(len(lam_bar)):
            c = np.concatenate([C[i] for C in Cs])
            expected = brute_force_hinf(lam_bar[i], B_bar[i], c) ** 2
            assert abs(h[i] - expected) <= 1e-10 * expected, (mixer.layer_idx, i, h[i], expected)


def test_hinf_sweep_is_sharp_near_the_unit_circle():
    """The brute force itself: the peak at arg λ̄ is found, a coarse grid alone would underestimate it."""
    lam_bar = 0.999 * np.exp(0.3j)
    exact = 1 / (1 - 0.999)
    assert brute_force_hinf(lam_bar, np.ones(1), np.ones(1)) == pytest.approx(exact, rel=1e-9)
    theta = np.linspace(-np.pi, np.pi, 64)
    assert (1 / np.abs(np.exp(1j * theta) - lam_bar)).max() < 0.5 * exact


# ---------------------------------------------------------------------------------------------------
# (b) LAST and the other criteria == plain numpy formulas
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("family, bidirectional", FAMILIES)
@pytest.mark.parametrize("variant", ["paper", "reference"])
def test_last_scores_equal_numpy_formula(family, bidirectional, variant):
    model = make_model(family, bidirectional)
    h = numpy_hinf(model, variant)
    raw = LASTPruner(model, method="global_hinf", bidirectional_score=variant).scores()
    last = LASTPruner(model, method="last", bidirectional_score=variant).scores()
    for expected_h, got_h, got_last in zip(h, raw, last):
        np.testing.assert_allclose(got_h, expected_h, rtol=1e-9)
        np.testing.assert_allclose(got_last, numpy_last(expected_h), rtol=1e-9)
        assert got_last.max() == 1.0


def test_reference_bidirectional_formula_differs_from_paper():
    model = make_model("s5", bidirectional=True)
    paper = LASTPruner(model, method="global_hinf").scores()[0]
    reference = LASTPruner(model, method="global_hinf", bidirectional_score="reference").scores()[0]
    assert not np.allclose(paper, reference)


@pytest.mark.parametrize("family, bidirectional", FAMILIES)
def test_baseline_scores_equal_numpy_formulas(family, bidirectional):
    model = make_model(family, bidirectional)
    systems = [raw_system(m, model.config) for m in mixers(model)]
    got = {method: LASTPruner(model, method=method).scores() for method in ("global_magnitude", "lamp", "last_h2")}
    for layer, (lam_bar, B_bar, Cs) in enumerate(systems):
        b2 = (np.abs(B_bar) ** 2).sum(1)
        c2 = sum((np.abs(C) ** 2).sum(1) for C in Cs)
        magnitude = np.abs(lam_bar) * np.sqrt(b2 * c2)
        np.testing.assert_allclose(got["global_magnitude"][layer], magnitude, rtol=1e-9)
        np.testing.assert_allclose(got["lamp"][layer], numpy_last(magnitude**2), rtol=1e-9)
        np.testing.assert_allclose(got["last_h2"][layer], numpy_last(c2 * b2 / (1 - np.abs(lam_bar) ** 2)), rtol=1e-9)


def test_uniform_allocation_keeps_the_highest_scores_of_every_layer():
    scores = [np.array([0.1, 0.9, 0.5, 0.3]), np.array([3.0, 1.0, 2.0]), np.array([7.0])]
    assert [k.tolist() for k in uniform_allocation(scores, 0.5, [2, 2, 2])] == [[1, 2], [0], [0]]
    assert [k.tolist() for k in uniform_allocation(scores, 0.3, [2, 2, 2])] == [[1, 2], [0, 2], [0]]


@pytest.mark.parametrize("family, bidirectional", FAMILIES)
@pytest.mark.parametrize("ratio", [0.3, 0.5, 0.8])
def test_uniform_hinf_plan_keeps_each_layers_top_modes(family, bidirectional, ratio):
    """Against the numpy H∞ of every mode: layer l keeps its floor(M_l·(1 − r)) (>= 1) largest, distinct scores."""
    model = make_model(family, bidirectional)
    plan = LASTPruner(model, method="uniform_hinf").plan(ratio)
    for kept, h in zip(plan.kept_modes, numpy_hinf(model)):
        count = max(math.floor(len(h) * (1 - ratio) + 1e-9), 1)
        assert kept == sorted(np.argsort(-h)[:count].tolist())


@pytest.mark.parametrize("family, bidirectional", FAMILIES)
def test_scores_and_plans_follow_step_rescale(family, bidirectional):
    """Scores at step_rescale=8 are the numpy H∞ of the system discretised with 8Δ, whether the factor is passed to
    the pruner or set in the config, and they rank the modes differently than at the model's own rate."""
    model = make_model(family, bidirectional)
    expected = numpy_hinf(model, step_rescale=8.0)
    passed = LASTPruner(model, method="global_hinf", step_rescale=8.0).scores()
    configured = copy.deepcopy(model)
    configured.config.step_rescale = 8.0
    for got_passed, got_configured, want in zip(passed, LASTPruner(configured, method="global_hinf").scores(), expected):
        np.testing.assert_allclose(got_passed, want, rtol=1e-9)
        np.testing.assert_allclose(got_configured, want, rtol=1e-9)
    plan = LASTPruner(model, method="global_hinf", step_rescale=8.0).plan(0.5)
    assert plan.kept_modes == [k.tolist() for k in global_allocation(expected, 0.5, plan.states_per_mode)]
    assert not any(np.allclose(a, b) for a, b in zip(expected, numpy_hinf(model)))  # the factor matters here


@pytest.mark.parametrize("ratio", RATIOS)
def test_last_plan_is_the_global_top_k(ratio):
    model = make_model("s5")
    scores = LASTPruner(model).scores()
    pooled = np.concatenate(scores)
    layer_of = np.concatenate([np.full(len(s), l) for l, s in enumerate(scores)])
    mode_of = np.concatenate([np.arange(len(s)) for s in scores])
    k = max(math.floor(len(pooled) * (1 - ratio) + 1e-9), len(scores))  # states/2 = modes; one per layer
    top = np.argsort(-pooled, kind="stable")[:k]
    expected = [sorted(mode_of[top][layer_of[top] == l].tolist()) for l in range(len(scores))]
    assert LASTPruner(model).plan(ratio).kept_modes == expected


def test_last_normalise_and_ties_are_deterministic():
    np.testing.assert_allclose(last_normalise([1.0, 4.0, 2.0, 0.0]), [1 / 7, 1.0, 2 / 6, 0.0])
    np.testing.assert_array_equal(last_normalise([0.0, 0.0]), [0.0, 0.0])
    tied = [np.ones(3), np.ones(3)]
    assert [k.tolist() for k in global_allocation(tied, 0.5, [2, 2])] == [[0, 1], [0]]
    assert [k.tolist() for k in uniform_allocation(tied, 0.5, [2, 2])] == [[0], [0]]
    assert [k.tolist() for k in global_allocation(tied, 1.0, [2, 2])] == [[0], [0]]  # one mode per layer


def test_random_is_seeded():
    model = make_model("s5")
    plans = [LASTPruner(model, method="random", seed=s).plan(0.5).kept_modes for s in (0, 0, 1)]
    assert plans[0] == plans[1] and plans[0] != plans[2]


# ---------------------------------------------------------------------------------------------------
# (c) physical removal == masking in the dense model
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("family, bidirectional", FAMILIES)
@pytest.mark.parametrize("method", sorted(METHODS))
def test_removal_equals_masking(family, bidirectional, method):
    model = make_model(family, bidirectional)
    x = inputs()
    pruner = LASTPruner(model, method=method)
    for ratio in RATIOS:
        plan = pruner.plan(ratio)
        pruned = pruner.apply(plan)
        assert type(pruned) is type(model)
        assert_relclose(outputs(pruned, x), outputs(masked_copy(model, plan), x))
        assert [m.num_modes for m in mixers(pruned)] == [len(k) for k in plan.kept_modes]


@pytest.mark.parametrize("family, bidirectional", FAMILIES)
def test_prune_zero_is_the_original(family, bidirectional):
    model = make_model(family, bidirectional)
    pruned = LASTPruner(model).prune(0.0)
    assert state_dicts_equal(pruned, model)
    assert torch.equal(outputs(pruned, inputs()), outputs(model, inputs()))
    assert pruned.config.to_dict()["per_layer_config"] == model.config.to_dict()["per_layer_config"]
    assert pruned.config.pruning["achieved_ratio"] == 0.0


def test_base_model_and_recurrent_mode_after_pruning():
    torch.manual_seed(0)
    model = S4DModel(S4DConfig(hidden_size=4, num_hidden_layers=2, state_size=6)).double().eval()
    pruned = LASTPruner(model, method="random").prune(0.5)
    x = inputs(length=9)
    with torch.no_grad():
        parallel = pruned(input_values=x).last_hidden_state
        recurrent = pruned(input_values=x, mode="recurrent").last_hidden_state
    assert_relclose(recurrent, parallel, rtol=1e-9)


# ---------------------------------------------------------------------------------------------------
# (d) ratios, parameter counts, config, metadata, save/load, re-pruning
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("family", ["s4d", "s5"])
@pytest.mark.parametrize("method", sorted(METHODS))
def test_achieved_ratio_within_one_mode(family, method):
    model = make_model(family)
    spm = model.config.states_per_mode
    n_layers = len(mixers(model))
    dense_params = sum(p.numel() for p in model.parameters())
    for ratio in RATIOS:
        plan = LASTPruner(model, method=method).plan(ratio)
        assert all(len(k) >= 1 for k in plan.kept_modes)
        if method.startswith("uniform"):
            for before, after in zip(plan.states_before, plan.states_after):
                if math.floor(before // spm * (1 - ratio) + 1e-9) >= 1:
                    assert -1e-12 <= (1 - after / before) - ratio < spm / before + 1e-12
        else:
            total = sum(plan.states_before)
            if math.floor(total // spm * (1 - ratio) + 1e-9) >= n_layers:
                assert -1e-12 <= plan.achieved_ratio - ratio < spm / total + 1e-12, (ratio, plan.achieved_ratio)
            else:
                assert [len(k) for k in plan.kept_modes] == [1] * n_layers
        pruned = LASTPruner(model, method=method).apply(plan)
        params = sum(p.numel() for p in pruned.parameters())
        assert params < dense_params if plan.achieved_ratio > 0 else params == dense_params
        assert pruned.config.pruning["achieved_ratio"] == pytest.approx(plan.achieved_ratio)


@pytest.mark.parametrize("family, bidirectional", FAMILIES)
def test_config_metadata_and_auto_round_trip(tmp_path, family, bidirectional):
    model = make_model(family, bidirectional)
    model.config._name_or_path = "someone/dense-model"
    config_before = model.config.to_dict()
    pruned = LASTPruner(model).prune(0.5)
    assert model.config.to_dict() == config_before  # the input model is untouched
    assert pruned.backbone.config is pruned.config
    meta = pruned.config.pruning
    assert meta["method"] == "last" and meta["requested_ratio"] == 0.5
    assert meta["base_model"] == "someone/dense-model" and meta["hf_last_version"] == hf_last.__version__
    assert meta["states_per_layer_after"] == [m.num_modes * 2 for m in mixers(pruned)]
    assert meta["states_per_layer_before"] == [m.num_modes * 2 for m in mixers(model)]
    if family == "s5":
        assert [pruned.config.per_layer_config[i].state_size for i in range(3)] == meta["states_per_layer_after"]
    else:
        for i, mixer in enumerate(mixers(pruned)):
            assert sum(pruned.config.channel_sizes(i)) == meta["states_per_layer_after"][i] == mixer.num_modes * 2
    # a model rebuilt from the config alone has every tensor's shape
    rebuilt = type(pruned)(pruned.config)
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in pruned.state_dict().items()}

    pruned.save_pretrained(tmp_path)
    stored = json.loads((tmp_path / "config.json").read_text())
    assert stored["pruning"]["method"] == "last"
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path).double().eval()
    assert type(loaded) is type(model)
    assert state_dicts_equal(loaded, pruned)
    x = inputs()
    assert torch.equal(outputs(loaded, x), outputs(pruned, x))
    assert loaded.config.pruning == meta


@pytest.mark.parametrize("family, bidirectional", FAMILIES)
def test_pruned_model_can_be_pruned_again(family, bidirectional):
    model = make_model(family, bidirectional)
    once = LASTPruner(model).prune(0.33)
    before = copy.deepcopy(once.state_dict())
    pruner = LASTPruner(once, method="global_magnitude")
    plan = pruner.plan(0.5)
    twice = pruner.apply(plan)
    assert all(torch.equal(before[k], v) for k, v in once.state_dict().items())
    assert_relclose(outputs(twice, inputs()), outputs(masked_copy(once, plan), inputs()))
    assert twice.config.pruning["previous"] == once.config.pruning
    assert twice.config.pruning["states_per_layer_before"] == once.config.pruning["states_per_layer_after"]


@pytest.mark.parametrize("settings", [dict(method="random", seed=7), dict(method="last", bidirectional_score="reference"),
                                      dict(method="last_h2", horizon=12)])
def test_plan_json_keeps_every_setting(tmp_path, settings):
    """Non-default seed, bidirectional_score and horizon survive the JSON round trip and reach config.pruning."""
    model = make_model("s5", bidirectional=True)
    plan = LASTPruner(model, **settings).plan(0.4)
    plan.save(tmp_path / "plan.json")
    loaded = PruningPlan.load(tmp_path / "plan.json")
    assert loaded == plan
    for name, value in settings.items():
        assert getattr(loaded, name) == value
        assert LASTPruner(model).apply(loaded).config.pruning[name] == value


def test_plan_json_round_trip(tmp_path):
    plan = LASTPruner(make_model("s4d", True)).plan(0.4)
    assert PruningPlan.from_json(plan.to_json()) == plan
    plan.save(tmp_path / "plan.json")
    loaded = PruningPlan.load(tmp_path / "plan.json")
    assert loaded == plan
    data = json.loads((tmp_path / "plan.json").read_text())
    assert data["achieved_ratio"] == pytest.approx(plan.achieved_ratio)
    assert data["states_per_layer_after"] == plan.states_after
    table = plan.summary()
    assert "total" in table and f"{sum(plan.states_before)}" in table
    # a loaded plan applies to the model it was made for, with the same result
    model = make_model("s4d", True)
    assert state_dicts_equal(LASTPruner(model).apply(loaded), LASTPruner(model).prune(0.4))


# ---------------------------------------------------------------------------------------------------
# (e) bad inputs: clear errors, nothing mutated
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("ratio", [-0.1, 1.5, float("nan")])
def test_bad_ratio(ratio):
    model = make_model("s5")
    before = snapshot(model)
    with pytest.raises(ValueError, match="ratio"):
        LASTPruner(model).prune(ratio)
    with pytest.raises(TypeError, match="ratio"):
        LASTPruner(model).plan("half")
    assert unchanged(model, before)


def test_bad_arguments_and_models():
    model = make_model("s4d")
    with pytest.raises(ValueError, match="unknown pruning method"):
        LASTPruner(model, method="magnitude")
    with pytest.raises(ValueError, match="bidirectional_score"):
        LASTPruner(model, bidirectional_score="both")
    with pytest.raises(ValueError, match="no prunable layer"):
        LASTPruner(nn.Sequential(nn.Linear(2, 2)))
    with pytest.raises(TypeError):
        LASTPruner(model).apply({"kept_modes": []})


def test_plan_that_does_not_fit_is_rejected():
    model, other = make_model("s5"), make_model("s4d")
    before = snapshot(model)
    with pytest.raises(ValueError, match="prunable layers|modes"):
        LASTPruner(model).apply(LASTPruner(other).plan(0.5))
    plan = LASTPruner(model).plan(0.5)
    shrunk = LASTPruner(model).apply(plan)
    with pytest.raises(ValueError, match="make a new plan"):
        LASTPruner(shrunk).apply(plan)  # the plan was made for the dense model
    with pytest.raises(ValueError, match="at least one mode"):
        PruningPlan(method="last", requested_ratio=1.0, kept_modes=[[0], [], [1]], modes_per_layer=[4, 6, 4],
                    states_per_mode=[2, 2, 2])
    with pytest.raises(ValueError, match="distinct and in"):
        PruningPlan(method="last", requested_ratio=1.0, kept_modes=[[0], [9], [1]], modes_per_layer=[4, 6, 4],
                    states_per_mode=[2, 2, 2])
    assert unchanged(model, before)


@pytest.mark.parametrize("family", ["s4d", "s5"])
@pytest.mark.parametrize("layer, name, value", [(1, "B", float("nan")), (0, "D", float("inf"))])
def test_non_finite_parameters_are_rejected(family, layer, name, value):
    model = make_model(family)
    with torch.no_grad():
        getattr(mixers(model)[layer], name).view(-1)[0] = value
    before = snapshot(model)
    for method in ("last", "random"):
        with pytest.raises(ValueError, match=f"layer {layer}.*'{name}'.*NaN or inf"):
            LASTPruner(model, method=method).prune(0.5)
    assert unchanged(model, before)


@pytest.mark.parametrize("variant", ["paper", "reference"])
def test_unstable_modes_raise_for_hinf_and_h2_methods(variant):
    """Policy: |λ̄| >= 1 has an infinite H∞/H2 norm -> ValueError naming layer and mode; magnitude/random prune it."""
    model = make_model("s5")
    with torch.no_grad():
        mixers(model)[2].Lambda_re[1] = 0.5  # Re λ > 0 -> |λ̄| = exp(0.5 Δ) > 1
    before = snapshot(model)
    for method in ("last", "global_hinf", "uniform_hinf", "last_h2"):
        with pytest.raises(ValueError, match=r"layer 2: modes \[1\] are unstable"):
            LASTPruner(model, method=method, bidirectional_score=variant).prune(0.5)
    assert unchanged(model, before)
    pruned = LASTPruner(model, method="global_magnitude").prune(0.5)
    assert sum(m.num_modes for m in mixers(pruned)) < sum(m.num_modes for m in mixers(model))
    assert unchanged(model, before)


def test_float32_models_are_scored_in_float64():
    """A slow mode (Re λ·Δ = −1e-8) has |λ̄| == 1 in complex64, but is stable: it is scored, not rejected."""
    model = make_model("s5").float()
    with torch.no_grad():
        mixers(model)[0].Lambda_re[0] = -1e-5
        mixers(model)[0].log_step[0] = math.log(1e-3)
    lam_bar = mixers(model)[0].modal_subsystems().Lambda_bar
    assert lam_bar.dtype == torch.complex64 and lam_bar[0].abs() == 1  # float32 alone would say "unstable"
    scores = LASTPruner(model, method="global_hinf").scores()
    reference = LASTPruner(copy.deepcopy(model).double(), method="global_hinf").scores()
    assert all(np.array_equal(a, b) for a, b in zip(scores, reference))
    assert np.isfinite(scores[0][0]) and scores[0][0] == max(s.max() for s in scores)
    pruned = LASTPruner(model).prune(0.5)
    assert next(pruned.parameters()).dtype == torch.float32
