"""Every bad input gets a clear error: the exception type, a message naming the argument, and nothing changed.

Each case is (id, call, exception type, regex the message must match). ``call`` receives the shared models (``m``:
float64 S5 and S4D classifiers, a token model, a bidirectional model) or a folder of saved files; after the error,
every model's tensors and config, and every file, must be as before.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import make_model, snapshot, unchanged
from torch import nn

import hf_last  # noqa: F401  (registers the Auto classes)
from hf_last import S4DConfig, S4DForSequenceClassification, S5Config, S5ForSequenceClassification
from hf_last.pruning import LASTPruner, PruningPlan


@pytest.fixture(scope="module")
def m():
    torch.manual_seed(0)
    tokens = S5ForSequenceClassification(S5Config(hidden_size=4, num_hidden_layers=1, state_size=4, num_labels=2,
                                                  vocab_size=5, input_size=None)).double().eval()
    return {"s5": make_model("s5"), "s4d": make_model("s4d"), "tokens": tokens,
            "bidirectional": make_model("s5", bidirectional=True)}


def x(batch=2, length=5, features=1, dtype=torch.float64):
    return torch.randn(batch, length, features, dtype=dtype)


def state(model, batch=2):
    return model.backbone.init_recurrent_state(batch)


def stream(model, **kwargs):
    """forward in streaming mode: recurrent states in and out."""
    kwargs.setdefault("recurrent_state", state(model, kwargs.get("input_values", x()).shape[0]))
    return model.backbone(return_state=True, mode="recurrent", **kwargs)


# ---- model inputs: forward and step, for both families -----------------------------------------------------------
MODEL_CASES = [
    # zero-length sequences and empty batches (item 2)
    ("empty sequence, parallel", lambda a: a(input_values=x(length=0)), ValueError, r"input_values has no time steps"),
    ("empty sequence, recurrent", lambda a: a(input_values=x(length=0), mode="recurrent"), ValueError,
     r"input_values has no time steps"),
    ("empty streaming chunk", lambda a: stream(a, input_values=x(length=0)), ValueError, r"input_values has no time"),
    ("empty 2-d sequence", lambda a: a(input_values=torch.zeros(2, 0, dtype=torch.float64)), ValueError,
     r"input_values has no time steps"),
    ("empty batch", lambda a: a(input_values=x(batch=0)), ValueError, r"input_values holds no sequences"),
    # recurrent states (item 3)
    ("state with too few modes", lambda a: stream(a, input_values=x(), recurrent_state=[
        torch.zeros(2, 1, dtype=torch.complex128)] * 3), ValueError, r"recurrent_state\[0\] has shape \(2, 1\)"),
    ("state of another batch size", lambda a: stream(a, input_values=x(), recurrent_state=state(a, 1)), ValueError,
     r"recurrent_state\[0\] has shape \(1, .*for a batch of 2"),
    ("state broadcastable (1, 1, 1)", lambda a: stream(a, input_values=x(), recurrent_state=[
        torch.zeros(1, 1, 1, dtype=torch.complex128)] * 3), ValueError, r"recurrent_state\[0\] has shape \(1, 1, 1\)"),
    ("state of the wrong dtype", lambda a: stream(a, input_values=x(), recurrent_state=[
        s.to(torch.complex64) for s in state(a)]), TypeError, r"recurrent_state\[0\] has dtype torch.complex64"),
    ("real state", lambda a: stream(a, input_values=x(), recurrent_state=[s.real for s in state(a)]), TypeError,
     r"recurrent_state\[0\] has dtype torch.float64"),
    ("state not a list", lambda a: stream(a, input_values=x(), recurrent_state=state(a)[0]), TypeError,
     r"recurrent_state must be a list"),
    ("state entry not a tensor", lambda a: stream(a, input_values=x(), recurrent_state=[None] * 3), TypeError,
     r"recurrent_state\[0\] must be a tensor"),
    ("state of too few layers", lambda a: stream(a, input_values=x(), recurrent_state=state(a)[:1]), ValueError,
     r"recurrent_state has 1 layers, the model has 3"),
    ("state with a parallel stream", lambda a: a.backbone(input_values=x(), recurrent_state=state(a, 1)), ValueError,
     r"recurrent_state\[0\] has shape"),
    ("step: state of another batch size", lambda a: a.backbone.step(state(a, 1), input_values=torch.randn(
        2, 1, dtype=torch.float64)), ValueError, r"recurrent_state\[0\] has shape \(1, "),
    ("step: too few layers", lambda a: a.backbone.step(state(a)[:2], input_values=torch.randn(2, 1)), ValueError,
     r"recurrent_state has 2 layers"),
    # step_rescale at call time (item 4)
    ("step_rescale nan", lambda a: a(input_values=x(), step_rescale=float("nan")), ValueError, r"step_rescale.*nan"),
    ("step_rescale negative", lambda a: a(input_values=x(), step_rescale=-1.0), ValueError, r"step_rescale.*-1.0"),
    ("step_rescale zero", lambda a: a(input_values=x(), step_rescale=0), ValueError, r"step_rescale"),
    ("step_rescale inf", lambda a: a(input_values=x(), step_rescale=math.inf), ValueError, r"step_rescale"),
    ("step_rescale string", lambda a: a(input_values=x(), step_rescale="2"), TypeError, r"step_rescale"),
    ("step_rescale bool", lambda a: a(input_values=x(), step_rescale=True), TypeError, r"step_rescale"),
    ("step_rescale in step()", lambda a: a.backbone.step(state(a), input_values=torch.randn(2, 1, dtype=torch.float64),
                                                         step_rescale=-2.0), ValueError, r"step_rescale"),
    ("step_rescale recurrent", lambda a: a(input_values=x(), mode="recurrent", step_rescale=float("nan")),
     ValueError, r"step_rescale"),
    # shapes, dtypes and kinds of inputs (item 9)
    ("input_values of rank 4", lambda a: a(input_values=x().unsqueeze(-1)), ValueError,
     r"input_values must have shape \(batch, length, input_size=1\).*\(2, 5, 1, 1\)"),
    ("input_values of rank 1", lambda a: a(input_values=torch.randn(5, dtype=torch.float64)), ValueError,
     r"input_values must have shape"),
    ("input_values too wide", lambda a: a(input_values=x(features=3)), ValueError, r"input_values .*3 features"),
    ("complex input_values", lambda a: a(input_values=x(dtype=torch.complex128)), TypeError, r"input_values must be real"),
    ("input_values a list", lambda a: a(input_values=[[0.0, 1.0]]), TypeError, r"input_values must be a torch.Tensor"),
    ("inputs_embeds too wide", lambda a: a(inputs_embeds=x(features=a.config.hidden_size + 1)), ValueError,
     r"inputs_embeds must have hidden_size="),
    ("inputs_embeds of rank 2", lambda a: a(inputs_embeds=torch.randn(2, a.config.hidden_size)), ValueError,
     r"inputs_embeds must have shape"),
    ("integer inputs_embeds", lambda a: a(inputs_embeds=torch.ones(2, 5, a.config.hidden_size, dtype=torch.long)),
     TypeError, r"inputs_embeds must be a real floating-point"),
    ("attention_mask too long", lambda a: a(input_values=x(), attention_mask=torch.ones(2, 6)), ValueError,
     r"attention_mask must have shape \(batch, length\) = \(2, 5\).*\(2, 6\)"),
    ("attention_mask of another batch", lambda a: a(input_values=x(), attention_mask=torch.ones(3, 5)), ValueError,
     r"attention_mask must have shape"),
    ("attention_mask 1-d", lambda a: a(input_values=x(), attention_mask=torch.ones(5)), ValueError,
     r"attention_mask must have shape"),
    ("attention_mask with streaming", lambda a: stream(a, input_values=x(), attention_mask=torch.ones(2, 5)),
     ValueError, r"attention_mask"),
    ("step input with a length axis", lambda a: a.backbone.step(state(a), input_values=x()), ValueError,
     r"input_values must have shape \(batch, input_size=1\) or \(batch,\)"),
    # unknown keyword arguments (item 10)
    ("misspelt labels", lambda a: a(input_values=x(), labls=torch.tensor([0, 1])), TypeError, r"labls"),
    ("unknown backbone kwarg", lambda a: a.backbone(input_values=x(), output_attentions=True), TypeError,
     r"output_attentions"),
    # clear before, kept clear
    ("no input", lambda a: a(), ValueError, r"exactly one of input_ids, input_values or inputs_embeds"),
    ("two inputs", lambda a: a(input_values=x(), inputs_embeds=x(features=a.config.hidden_size)), ValueError,
     r"exactly one"),
    ("input_ids to a continuous model", lambda a: a(input_ids=torch.zeros(2, 5, dtype=torch.long)), ValueError,
     r"pass input_values instead of input_ids"),
    ("unknown mode", lambda a: a(input_values=x(), mode="fast"), ValueError, r"mode must be one of"),
]


@pytest.mark.parametrize("family", ["s5", "s4d"])
@pytest.mark.parametrize("call, error, match", [pytest.param(*case[1:], id=case[0]) for case in MODEL_CASES])
def test_bad_model_inputs(m, family, call, error, match):
    before = {name: snapshot(model) for name, model in m.items()}
    with torch.no_grad(), pytest.raises(error, match=match):
        call(m[family])
    assert all(unchanged(model, before[name]) for name, model in m.items())


TOKEN_CASES = [
    ("input_ids >= vocab_size", lambda t: t(input_ids=torch.tensor([[1, 5]])), ValueError,
     r"input_ids must be token ids in \[0, vocab_size=5\), got values in \[1, 5\]"),
    ("negative input_ids", lambda t: t(input_ids=torch.tensor([[-1, 2]])), ValueError, r"input_ids must be token ids"),
    ("float input_ids", lambda t: t(input_ids=torch.tensor([[1.0, 2.0]])), TypeError, r"input_ids must be an integer"),
    ("bool input_ids", lambda t: t(input_ids=torch.tensor([[True, False]])), TypeError, r"input_ids must be an integer"),
    ("input_ids of rank 3", lambda t: t(input_ids=torch.zeros(2, 3, 1, dtype=torch.long)), ValueError,
     r"input_ids must have shape \(batch, length\)"),
    ("step: input_ids with a length axis", lambda t: t.backbone.step(state(t, 1), input_ids=torch.tensor([[1]])),
     ValueError, r"input_ids must have shape \(batch,\)"),
    ("step: input_ids >= vocab_size", lambda t: t.backbone.step(state(t, 1), input_ids=torch.tensor([7])),
     ValueError, r"input_ids must be token ids"),
    ("input_values to a token model", lambda t: t(input_values=x()), ValueError, r"pass input_ids instead"),
]


@pytest.mark.parametrize("call, error, match", [pytest.param(*case[1:], id=case[0]) for case in TOKEN_CASES])
def test_bad_token_inputs(m, call, error, match):
    before = snapshot(m["tokens"])
    with torch.no_grad(), pytest.raises(error, match=match):
        call(m["tokens"])
    assert unchanged(m["tokens"], before)


def test_bidirectional_models_refuse_streaming(m):
    model = m["bidirectional"]
    before = snapshot(model)
    with pytest.raises(ValueError, match="bidirectional"):
        model(input_values=x(), mode="recurrent")
    with pytest.raises(ValueError, match="bidirectional"):
        model.backbone.step(state(model), input_values=torch.randn(2, 1, dtype=torch.float64))
    assert unchanged(model, before)


# ---- configurations -----------------------------------------------------------------------------------------------
CONFIG_CASES = [
    ("per_layer_config entry not a dict", dict(per_layer_config={0: 4}), TypeError, r"per_layer_config\[0\] must be a dict"),
    ("per_layer_config a list", dict(per_layer_config=[{"state_size": 4}]), TypeError, r"per_layer_config must be a dict"),
    ("per_layer_config unknown field", dict(per_layer_config={0: {"hidden_size": 8}}), ValueError, r"per_layer_config\[0\]"),
    ("step_rescale nan", dict(step_rescale=float("nan")), ValueError, r"step_rescale"),
    ("step_rescale negative", dict(step_rescale=-1.0), ValueError, r"step_rescale"),
    ("step_rescale string", dict(step_rescale="2"), TypeError, r"step_rescale"),
    ("state_size odd with conj_sym", dict(state_size=7), ValueError, r"state_size"),
    ("hidden_size zero", dict(hidden_size=0), ValueError, r"hidden_size"),
    ("discretization", dict(discretization="euler"), ValueError, r"discretization"),
    ("no input kind", dict(input_size=None, vocab_size=None), ValueError, r"input_size"),
]


@pytest.mark.parametrize("config_class", [S5Config, S4DConfig])
@pytest.mark.parametrize("kwargs, error, match", [pytest.param(*case[1:], id=case[0]) for case in CONFIG_CASES])
def test_bad_configs(config_class, kwargs, error, match):
    with pytest.raises(error, match=match):
        config_class(**kwargs)


# ---- the pruner ---------------------------------------------------------------------------------------------------
PRUNER_CASES = [
    ("model None", lambda a: LASTPruner(None), TypeError, r"LASTPruner\(model\) takes a torch.nn.Module.*NoneType"),
    ("model without prunable layers", lambda a: LASTPruner(nn.Sequential(nn.Linear(2, 2))), ValueError,
     r"no prunable layer"),
    ("unknown method", lambda a: LASTPruner(a, method="magnitude"), ValueError, r"unknown pruning method 'magnitude'"),
    ("bidirectional_score", lambda a: LASTPruner(a, bidirectional_score="both"), ValueError, r"bidirectional_score"),
    ("seed -1", lambda a: LASTPruner(a, method="random", seed=-1), ValueError, r"seed must be a non-negative integer"),
    ("seed string", lambda a: LASTPruner(a, method="random", seed="abc"), TypeError, r"seed must be a non-negative"),
    ("seed float", lambda a: LASTPruner(a, method="random", seed=1.5), TypeError, r"seed"),
    ("step_rescale -1", lambda a: LASTPruner(a, step_rescale=-1), ValueError, r"step_rescale must be a finite positive"),
    ("step_rescale nan", lambda a: LASTPruner(a, step_rescale=float("nan")), ValueError, r"step_rescale"),
    ("horizon 0", lambda a: LASTPruner(a, horizon=0), ValueError, r"horizon must be"),
    ("horizon for a magnitude method", lambda a: LASTPruner(a, method="global_magnitude", horizon=8), ValueError,
     r"does not depend on a horizon"),
    ("auto horizon not resolved", lambda a: LASTPruner(a, horizon="auto").plan(0.5), ValueError, r'horizon="auto"'),
    ("ratio string", lambda a: LASTPruner(a).plan("0.3"), TypeError, r"ratio must be a number.*str '0.3'"),
    ("ratio bool", lambda a: LASTPruner(a).plan(True), TypeError, r"ratio must be a number.*bool"),
    ("ratio None", lambda a: LASTPruner(a).prune(None), TypeError, r"ratio"),
    ("ratio above 1", lambda a: LASTPruner(a).plan(1.5), ValueError, r"ratio must be in \[0, 1\]"),
    ("ratio negative", lambda a: LASTPruner(a).prune(-0.1), ValueError, r"ratio must be in \[0, 1\]"),
    ("ratio nan", lambda a: LASTPruner(a).plan(float("nan")), ValueError, r"ratio must be in \[0, 1\]"),
    ("apply a dict", lambda a: LASTPruner(a).apply({"kept_modes": []}), TypeError, r"apply\(\) takes a PruningPlan"),
]


@pytest.mark.parametrize("family", ["s5", "s4d"])
@pytest.mark.parametrize("call, error, match", [pytest.param(*case[1:], id=case[0]) for case in PRUNER_CASES])
def test_bad_pruner_arguments(m, family, call, error, match):
    before = snapshot(m[family])
    with pytest.raises(error, match=match):
        call(m[family])
    assert unchanged(m[family], before)


def on_the_imaginary_axis(family: str, discretization: str):
    """A model whose layer 1 has a mode with Re λ = 0 exactly: |λ̄| is 1, or rounds to 1 − 1e-16 (bilinear)."""
    model = make_model(family, discretization=discretization)
    mixer = [module for module in model.modules() if hasattr(module, "keep_modes")][1]
    with torch.no_grad():
        if family == "s5":
            mixer.Lambda_re[0] = 0.0
        else:
            mixer.log_A_real[0] = -1000.0  # Re λ = −exp(log_A_real) underflows to −0
    return model


@pytest.mark.parametrize("family", ["s5", "s4d"])
@pytest.mark.parametrize("discretization", ["zoh", "bilinear"])
@pytest.mark.parametrize("method, variant", [("global_hinf", "paper"), ("last", "paper"), ("last", "reference"),
                                             ("last_h2", "paper"), ("uniform_hinf", "paper")])
def test_a_pole_on_the_imaginary_axis_is_refused_at_the_infinite_horizon(family, discretization, method, variant):
    model = on_the_imaginary_axis(family, discretization)
    before = snapshot(model)
    with pytest.raises(ValueError, match=r"layer 1: modes \[0\] are unstable \(Re λ·Δ >= 0"):
        LASTPruner(model, method=method, bidirectional_score=variant).scores()
    assert unchanged(model, before)
    if variant == "paper":  # a finite horizon scores it (its truncated kernel has a finite peak gain)
        assert all(np.isfinite(s).all() for s in LASTPruner(model, method=method, horizon=16).scores())


def test_a_mode_too_slow_for_float64_is_refused_with_its_own_message():
    model = make_model("s5")
    mixer = [module for module in model.modules() if hasattr(module, "keep_modes")][0]
    with torch.no_grad():
        mixer.Lambda_re[1], mixer.Lambda_im[1] = -1e-20, 0.0  # stable, but λ̄ = exp(−1e-20·Δ) rounds to 1
    with pytest.raises(ValueError, match=r"layer 0: modes \[1\] decay so slowly .* rounds to 1 in float64"):
        LASTPruner(model, method="global_hinf").scores()


def test_a_plan_for_another_model_of_the_same_shape_is_refused(m):
    other = make_model("s5", seed=1)
    plan = LASTPruner(other).plan(0.5)
    before = snapshot(m["s5"])
    with pytest.raises(ValueError, match=r"the plan was made for another model \(fingerprint sha256:"):
        LASTPruner(m["s5"]).apply(plan)
    assert unchanged(m["s5"], before)
    pruned = LASTPruner(m["s5"]).apply(plan, ignore_fingerprint=True)  # said explicitly: applied
    assert pruned.config.pruning["states_per_layer_after"] == plan.states_after
    assert unchanged(m["s5"], before)


# ---- plan files ---------------------------------------------------------------------------------------------------
def edit(**changes):
    return lambda data: {**data, **changes}


def without(name):
    return lambda data: {k: v for k, v in data.items() if k != name}


PLAN_CASES = [
    ("float mode indices", edit(kept_modes=[[0.7], [1.2], [0]]), TypeError, r"kept_modes\[0\] must be a list of integers"),
    ("string mode indices", edit(kept_modes=["01", [0], [0]]), TypeError, r"kept_modes\[0\] must be a list of integers"),
    ("bool mode indices", edit(kept_modes=[[True], [0], [0]]), TypeError, r"kept_modes\[0\]"),
    ("kept_modes null", edit(kept_modes=None), TypeError, r"kept_modes must be a list"),
    ("mode index out of range", edit(kept_modes=[[0], [99], [0]]), ValueError, r"layer 1: kept mode indices"),
    ("a layer keeps nothing", edit(kept_modes=[[0], [], [0]]), ValueError, r"layer 1: a plan must keep at least one"),
    ("duplicate modes", edit(kept_modes=[[0, 0], [0], [0]]), ValueError, r"distinct"),
    ("unknown method", edit(method="magnitude"), ValueError, r"unknown pruning method 'magnitude'"),
    ("method not a string", edit(method=3), ValueError, r"unknown pruning method 3"),
    ("requested_ratio 5", edit(requested_ratio=5), ValueError, r"requested_ratio must be in \[0, 1\]"),
    ("requested_ratio string", edit(requested_ratio="0.5"), TypeError, r"requested_ratio must be a number"),
    ("unknown bidirectional_score", edit(bidirectional_score="both"), ValueError, r"bidirectional_score must be one"),
    ("seed -1", edit(seed=-1), ValueError, r"seed must be a non-negative integer"),
    ("seed string", edit(seed="7"), TypeError, r"seed"),
    ("horizon 0", edit(horizon=0), ValueError, r"horizon must be None or a positive int"),
    ("horizon auto", edit(horizon="auto"), ValueError, r"horizon must be None or a positive int"),
    ("fingerprint malformed", edit(fingerprint="abc"), ValueError, r"fingerprint must be None or 'sha256:'"),
    ("modes_per_layer zero", edit(modes_per_layer=[0, 6, 4]), ValueError, r"modes_per_layer must hold integers >= 1"),
    ("states_per_mode float", edit(states_per_mode=[2.0, 2, 2]), TypeError, r"states_per_mode must be a list of integers"),
    ("layer counts disagree", edit(modes_per_layer=[4, 6]), ValueError, r"one entry per layer"),
    ("base_model not a string", edit(base_model=None), TypeError, r"base_model must be a string"),
    ("unknown field", edit(kept=[[0]]), ValueError, r"unknown pruning plan fields \['kept'\]"),
    ("missing field", without("kept_modes"), ValueError, r"lacks the fields \['kept_modes'\]"),
    ("edited achieved_ratio", edit(achieved_ratio=0.9), ValueError, r"achieved_ratio in the plan is 0.9"),
    ("edited states after", edit(states_per_layer_after=[2, 2, 2]), ValueError, r"states_per_layer_after in the plan"),
    ("top-level list", lambda data: [data], TypeError, r"a pruning plan is a JSON object"),
]


@pytest.mark.parametrize("change, error, match", [pytest.param(*case[1:], id=case[0]) for case in PLAN_CASES])
def test_bad_plan_files(tmp_path, change, error, match):
    model = make_model("s4d")
    data = LASTPruner(model).plan(0.4).to_dict()
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(change(data)))
    stored = path.read_bytes()
    with pytest.raises(error, match=match) as info:
        PruningPlan.load(path)
    assert str(path) in str(info.value)  # the message names the file
    assert path.read_bytes() == stored


def test_a_plan_file_that_is_not_json(tmp_path):
    path = tmp_path / "plan.json"
    path.write_text('{"method": "last",')
    with pytest.raises(ValueError, match=rf"{path} is not valid JSON"):
        PruningPlan.load(path)


# ---- checkpoints on disk ------------------------------------------------------------------------------------------
def folder_digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    config = S4DConfig(hidden_size=4, num_hidden_layers=2, state_size=4, num_labels=2,
                       per_layer_config={1: {"channel_state_sizes": [2, 6, 0, 4]}})
    S4DForSequenceClassification(config).save_pretrained(tmp_path / "model")
    return tmp_path / "model"


def truncate(folder: Path):
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])


def empty(folder: Path):
    (folder / "model.safetensors").write_bytes(b"")


def no_config(folder: Path):
    (folder / "config.json").unlink()


def permuted_channels(folder: Path):
    config = json.loads((folder / "config.json").read_text())
    config["per_layer_config"]["1"]["channel_state_sizes"] = [6, 2, 4, 0]  # same total, other layout
    (folder / "config.json").write_text(json.dumps(config))


def broken_json(folder: Path):
    (folder / "config.json").write_text("{not json")


def load_with_auto(folder):
    from transformers import AutoModelForSequenceClassification

    return AutoModelForSequenceClassification.from_pretrained(folder)


def load_with_class(folder):
    return S4DForSequenceClassification.from_pretrained(folder)


def load_with_driver(folder):
    """The one loader of the drivers and the CLI (hf_last.loading)."""
    from hf_last.loading import load_model

    return load_model(folder)


LOADING_CASES = [
    ("truncated weights", truncate, [load_with_auto, load_with_class, load_with_driver], OSError,
     r"model\.safetensors \(.*\): the file is truncated or empty"),
    ("empty weights", empty, [load_with_auto, load_with_class, load_with_driver], OSError,
     r"model\.safetensors \(.*header too small.*\): the file is truncated or empty"),
    ("missing config.json", no_config, [load_with_class, load_with_driver], FileNotFoundError,
     r"config\.json is missing.*save_pretrained"),
    ("permuted channel_state_sizes", permuted_channels, [load_with_auto, load_with_class, load_with_driver], ValueError,
     r"layer 1 were saved for channel_state_sizes \[2, 6, 0, 4\], but the config gives \[6, 2, 4, 0\]"),
    ("config.json not JSON", broken_json, [load_with_auto, load_with_class, load_with_driver], OSError,
     r"config\.json' is not a valid JSON file"),
]


@pytest.mark.parametrize("damage, loaders, error, match", [pytest.param(*case[1:], id=case[0]) for case in LOADING_CASES])
def test_broken_checkpoints(saved, damage, loaders, error, match):
    damage(saved)
    files = folder_digest(saved)
    for load in loaders:
        with pytest.raises(error, match=match):
            load(saved)
        assert folder_digest(saved) == files, load.__name__


def test_load_state_dict_refuses_another_channel_layout(saved):
    model = S4DForSequenceClassification.from_pretrained(saved)
    config = S4DConfig(**{**model.config.to_dict(), "per_layer_config": {1: {"channel_state_sizes": [6, 2, 4, 0]}}})
    other = S4DForSequenceClassification(config)
    before = snapshot(other)
    with pytest.raises(ValueError, match=r"load_state_dict: the weights of layer 1 were saved for channel_state_sizes"):
        other.load_state_dict(model.state_dict())
    assert unchanged(other, before)


# ---- pushing ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("repo_id", [None, 42, ["user/model"]])
def test_push_with_a_repo_id_that_is_not_a_string_writes_nothing(m, tmp_path, repo_id):
    from hf_last.hub import push_model

    before = snapshot(m["s5"])
    with pytest.raises(TypeError, match=r"repo_id must be a string"):
        m["s5"].push_to_hub(repo_id, token="hf_test")
    with pytest.raises(TypeError, match=r"repo_id must be a string"):
        push_model(m["s5"], repo_id, token="hf_test", local_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert unchanged(m["s5"], before)
