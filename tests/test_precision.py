"""Half precision: bfloat16/float16 models run forward and backward on CPU with the SSM math in float32.

Tolerances come from the shipped digits checkpoints (logits up to ~33 in magnitude) on 64 test-like sequences:
loaded with ``dtype=torch.bfloat16`` the logits differ from float32 by at most ~0.8 (S5) / ~0.55 (S4D), with
``float16`` by ~0.04 — the precision of the bf16/fp16 encoder, norms and channel-mixing layers, since the SSM
parameters stay float32 (``_keep_in_fp32_modules_strict``) and their math runs in float32. The bounds below
are about 2x (bf16) and 5x (fp16) those measurements, relative to the largest logit.
"""

from __future__ import annotations

import copy

import pytest
import torch
from transformers import AutoModelForSequenceClassification

import hf_last  # noqa: F401  (registers the Auto classes)
from hf_last import LASTPruner, S4DConfig, S4DForSequenceClassification, S5Config, S5ForSequenceClassification
from hf_last.default_models import default_model_path

HALF = [torch.bfloat16, torch.float16]
RELATIVE_TOLERANCE = {torch.bfloat16: 0.05, torch.float16: 0.01}
FAMILIES = [(S5Config, S5ForSequenceClassification), (S4DConfig, S4DForSequenceClassification)]


def digits_like_inputs(batch: int = 64, length: int = 64) -> torch.Tensor:
    """Sequences with the digits task's range (pixel intensities in [0, 1]); no data files needed."""
    return torch.rand(batch, length, generator=torch.Generator().manual_seed(0))


def small_model(config_class, model_class, bidirectional=False):
    torch.manual_seed(0)
    config = config_class(input_size=1, hidden_size=8, num_hidden_layers=2, state_size=8, num_labels=3,
                          bidirectional=bidirectional, norm_type="batch")
    return model_class(config)


@pytest.mark.parametrize("family", ["s5", "s4d"])
@pytest.mark.parametrize("dtype", HALF)
def test_from_pretrained_in_half_precision_gives_the_float32_logits(family, dtype):
    path = default_model_path(family)
    reference = AutoModelForSequenceClassification.from_pretrained(path).eval()
    model = AutoModelForSequenceClassification.from_pretrained(path, dtype=dtype).eval()
    assert model.dtype == dtype and model.classifier.weight.dtype == dtype
    # the SSM parameters stay float32 (rounded to bf16 they would shift the kernels' phases)
    assert {p.dtype for p in model.backbone.layers[0].mixer.parameters()} == {torch.float32}
    x = digits_like_inputs()
    with torch.no_grad():
        expected = reference(input_values=x).logits
        logits = model(input_values=x).logits
    assert logits.dtype == dtype
    error = (logits.float() - expected).abs().max() / expected.abs().max()
    assert error < RELATIVE_TOLERANCE[dtype], float(error)
    assert (logits.float().argmax(-1) == expected.argmax(-1)).float().mean() >= 0.95


@pytest.mark.parametrize("config_class, model_class", FAMILIES)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("dtype", HALF)
def test_a_model_cast_to_half_precision_runs_forward_and_backward(config_class, model_class, bidirectional, dtype):
    """``model.to(dtype)`` casts every parameter, the SSM's too: the mixers upcast them for their math and
    gradients arrive in the parameters' own dtype."""
    model = small_model(config_class, model_class, bidirectional)
    x, labels = torch.rand(4, 30), torch.tensor([0, 1, 2, 0])
    expected = model(input_values=x, labels=labels)
    expected.loss.backward()
    half = copy.deepcopy(model).to(dtype)
    half.zero_grad()
    out = half(input_values=x, labels=labels)
    assert out.logits.dtype == dtype
    out.loss.backward()
    for (name, parameter), (_, reference) in zip(half.named_parameters(), model.named_parameters()):
        assert parameter.grad is not None and parameter.grad.dtype == dtype, name
        assert torch.isfinite(parameter.grad.float()).all(), name
    assert abs(out.loss.item() - expected.loss.item()) < 0.05 * max(1.0, expected.loss.item())


@pytest.mark.parametrize("config_class, model_class", FAMILIES)
def test_streaming_in_half_precision_equals_the_parallel_forward(config_class, model_class):
    model = small_model(config_class, model_class).to(torch.bfloat16).eval()
    x = torch.rand(2, 12)
    backbone = model.backbone
    with torch.no_grad():
        parallel = backbone(input_values=x).last_hidden_state
        state = backbone.init_recurrent_state(2)
        assert all(s.dtype == torch.complex64 for s in state)
        steps = []
        for t in range(x.shape[1]):
            hidden, state = backbone.step(state, input_values=x[:, t:t + 1])
            steps.append(hidden)
    streamed = torch.stack(steps, dim=1)
    assert streamed.dtype == torch.bfloat16
    assert (streamed.float() - parallel.float()).abs().max() <= 0.05 * parallel.float().abs().max()


@pytest.mark.parametrize("config_class, model_class", FAMILIES)
def test_autocast_keeps_the_ssm_math_in_float32(config_class, model_class):
    """accelerate's ``mixed_precision="bf16"`` runs the forward under ``torch.autocast``: the SSM layers turn it
    off for their complex arithmetic (which has no bfloat16 kernels) and the rest runs in bfloat16."""
    model = small_model(config_class, model_class)
    x, labels = torch.rand(4, 30), torch.tensor([0, 1, 2, 0])
    expected = model(input_values=x).logits
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(input_values=x, labels=labels)
    out.loss.backward()
    assert (out.logits.float() - expected).abs().max() <= 0.05 * expected.abs().max() + 1e-3
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("dtype", HALF)
def test_pruning_a_half_precision_model(dtype):
    model = AutoModelForSequenceClassification.from_pretrained(default_model_path("s5"), dtype=dtype).eval()
    reference = LASTPruner(AutoModelForSequenceClassification.from_pretrained(default_model_path("s5"))).plan(0.33)
    pruner = LASTPruner(model)
    plan = pruner.plan(0.33)
    assert plan.kept_modes == reference.kept_modes  # scores are computed in float64 whatever the dtype
    pruned = pruner.apply(plan)
    assert pruned.dtype == dtype
    with torch.no_grad():
        logits = pruned(input_values=digits_like_inputs(8)).logits
    assert logits.dtype == dtype and torch.isfinite(logits.float()).all()
    # every parameter in half precision, the SSM's included
    fully_cast = LASTPruner(copy.deepcopy(model).to(dtype)).prune(0.33)
    assert {p.dtype for p in fully_cast.parameters()} == {dtype}
    assert sum(fully_cast.config.pruning["states_per_layer_after"]) == sum(pruned.config.pruning["states_per_layer_after"])


def test_half_precision_round_trip_through_save_pretrained(tmp_path):
    model = small_model(S5Config, S5ForSequenceClassification).to(torch.bfloat16).eval()
    model.save_pretrained(tmp_path)
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path, dtype=torch.bfloat16).eval()
    x = torch.rand(2, 10)
    with torch.no_grad():
        assert torch.equal(model(input_values=x).logits, loaded(input_values=x).logits)
