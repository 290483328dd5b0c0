"""Property test: over random S4D/S5 configurations (heterogeneous, ragged, already pruned), pruning by any
method at any ratio equals masking the removed modes in the dense model, and survives save/load."""

import copy
import tempfile

import torch
from helpers import masked_copy, mixers, outputs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transformers import AutoModelForSequenceClassification

import hf_last  # noqa: F401  (registers the Auto classes)
from hf_last import S4DConfig, S4DForSequenceClassification, S5Config, S5ForSequenceClassification
from hf_last.pruning import METHODS, LASTPruner



@st.composite
def models(draw):
    family = draw(st.sampled_from(["s4d", "s5"]))
    conj_sym = draw(st.booleans())
    spm = 2 if conj_sym else 1
    hidden = draw(st.integers(1, 4))
    layers = draw(st.integers(1, 3))
    common = dict(hidden_size=hidden, num_hidden_layers=layers, num_labels=2, conj_sym=conj_sym,
                  bidirectional=draw(st.booleans()), discretization=draw(st.sampled_from(["zoh", "bilinear"])),
                  state_size=spm * draw(st.integers(1, 4)))
    per_layer = {}
    for layer in draw(st.sets(st.integers(0, layers - 1))):
        if family == "s5":
            per_layer[layer] = {"state_size": spm * draw(st.integers(1, 5))}
        else:
            sizes = [spm * k for k in draw(st.lists(st.integers(0, 3), min_size=hidden, max_size=hidden))]
            if sum(sizes) == 0:
                sizes[0] = spm
            per_layer[layer] = {"channel_state_sizes": sizes}
    torch.manual_seed(draw(st.integers(0, 2**16)))
    if family == "s5":
        model = S5ForSequenceClassification(S5Config(per_layer_config=per_layer, **common))
    else:
        model = S4DForSequenceClassification(S4DConfig(ssm_init=draw(st.sampled_from(["legs", "lin", "inv"])),
                                                       per_layer_config=per_layer, **common))
    model = model.double().eval()
    if draw(st.booleans()):  # already pruned once
        model = LASTPruner(model, method=draw(st.sampled_from(sorted(METHODS)))).prune(draw(st.floats(0, 1)))
    return model


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=models(), method=st.sampled_from(sorted(METHODS)), ratio=st.floats(0, 1),
       seed=st.integers(0, 100), variant=st.sampled_from(["paper", "reference"]))
def test_removal_equals_masking_and_survives_save_load(model, method, ratio, seed, variant):
    x = torch.randn(2, 8, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    before = copy.deepcopy(model.state_dict())
    pruner = LASTPruner(model, method=method, seed=seed, bidirectional_score=variant)
    plan = pruner.plan(ratio)
    pruned = pruner.apply(plan)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # input untouched

    expected = outputs(masked_copy(model, plan), x)
    got = outputs(pruned, x)
    assert (got - expected).abs().max() <= 1e-10 * expected.abs().max().clamp(min=1e-12)  # float64: ~1e-15 measured
    assert [m.num_modes for m in mixers(pruned)] == [len(k) for k in plan.kept_modes]
    assert pruned.config.pruning["states_per_layer_after"] == plan.states_after

    with tempfile.TemporaryDirectory() as directory:
        pruned.save_pretrained(directory)
        loaded = AutoModelForSequenceClassification.from_pretrained(directory).double().eval()
    assert type(loaded) is type(pruned)
    saved, reloaded = pruned.state_dict(), loaded.state_dict()
    assert saved.keys() == reloaded.keys() and all(torch.equal(saved[k], reloaded[k]) for k in saved)
    assert torch.equal(outputs(loaded, x), got)
    assert loaded.config.pruning == pruned.config.pruning
