import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModel, AutoModelForSequenceClassification

import hf_last
from hf_last import S4DConfig, S4DForSequenceClassification, S4DModel, S5Config, S5ForSequenceClassification, S5Model


def heterogeneous_s5(**kwargs):
    return S5Config(hidden_size=8, num_hidden_layers=3, state_size=8, blocks=2, num_labels=3,
                    per_layer_config={0: {"state_size": 4}, 2: {"state_size": 6}}, **kwargs)


def ragged_s4d(**kwargs):
    return S4DConfig(hidden_size=4, num_hidden_layers=2, state_size=4, num_labels=3,
                     per_layer_config={1: {"channel_state_sizes": [2, 6, 0, 4]}}, **kwargs)


@pytest.mark.parametrize("make_config, model_class", [(heterogeneous_s5, S5ForSequenceClassification),
                                                       (ragged_s4d, S4DForSequenceClassification)])
def test_heterogeneous_round_trip_through_auto_classes(tmp_path, make_config, model_class):
    torch.manual_seed(0)
    model = model_class(make_config()).eval()
    model.save_pretrained(tmp_path)
    stored = json.loads((tmp_path / "config.json").read_text())
    assert stored["per_layer_config"] == {str(k): v for k, v in make_config().to_dict()["per_layer_config"].items()}
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    assert type(loaded) is model_class
    original, reloaded = model.state_dict(), loaded.state_dict()
    assert original.keys() == reloaded.keys()
    for name in original:
        assert torch.equal(original[name], reloaded[name]), name
    x = torch.randn(2, 17, 1)
    assert torch.equal(model(input_values=x).logits, loaded(input_values=x).logits)
    base = AutoModel.from_pretrained(tmp_path)
    assert isinstance(base, (S4DModel, S5Model))


def test_weights_have_the_per_layer_shapes(tmp_path):
    S5Model(heterogeneous_s5()).save_pretrained(tmp_path)
    tensors = load_file(tmp_path / "model.safetensors")
    assert [tensors[f"layers.{i}.mixer.Lambda_re"].shape[0] for i in range(3)] == [2, 4, 3]
    S4DModel(ragged_s4d()).save_pretrained(tmp_path / "s4d")
    tensors = load_file(tmp_path / "s4d" / "model.safetensors")
    assert tensors["layers.0.mixer.A_imag"].shape[0] == 8  # 4 channels x 2 modes
    assert tensors["layers.1.mixer.A_imag"].shape[0] == 1 + 3 + 0 + 2  # packed, no padding


@pytest.mark.parametrize("model_class, config_class", [(S4DForSequenceClassification, S4DConfig),
                                                        (S5ForSequenceClassification, S5Config)])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("pooling", ["mean", "last"])
def test_padded_batch_equals_each_sequence_alone(model_class, config_class, bidirectional, pooling):
    torch.manual_seed(0)
    config = config_class(hidden_size=8, num_hidden_layers=2, state_size=8, num_labels=4,
                          bidirectional=bidirectional, pooling=pooling, norm_type="batch")
    model = model_class(config).double().eval()
    lengths = [13, 7, 10]
    sequences = [torch.randn(1, n, 1, dtype=torch.float64) for n in lengths]
    batch = torch.zeros(3, max(lengths), 1, dtype=torch.float64)
    mask = torch.zeros(3, max(lengths), dtype=torch.long)
    for i, (sequence, n) in enumerate(zip(sequences, lengths)):
        batch[i, :n], mask[i, :n] = sequence[0], 1
        batch[i, n:] = 100.0  # garbage in the padding must not leak
    batched = model(input_values=batch, attention_mask=mask).logits
    for i, sequence in enumerate(sequences):
        alone = model(input_values=sequence).logits[0]
        torch.testing.assert_close(batched[i], alone, rtol=1e-9, atol=1e-9)


def test_token_inputs_and_outputs():
    torch.manual_seed(0)
    config = S5Config(hidden_size=8, num_hidden_layers=2, state_size=4, vocab_size=11, input_size=None, num_labels=5)
    model = S5ForSequenceClassification(config).eval()
    ids = torch.randint(0, 11, (2, 9))
    out = model(input_ids=ids, output_hidden_states=True)
    assert out.logits.shape == (2, 5) and len(out.hidden_states) == 3
    as_tuple = model(input_ids=ids, return_dict=False)
    assert torch.equal(as_tuple[0], out.logits)
    embeds = model.backbone.embeddings(ids)
    torch.testing.assert_close(model(inputs_embeds=embeds).logits, out.logits)


def test_input_errors_are_clear():
    model = S4DModel(S4DConfig(hidden_size=4, num_hidden_layers=1, state_size=4, input_size=3))
    with pytest.raises(ValueError, match="exactly one"):
        model()
    with pytest.raises(ValueError, match="exactly one"):
        model(input_values=torch.randn(1, 5, 3), inputs_embeds=torch.randn(1, 5, 4))
    with pytest.raises(ValueError, match="input_values instead"):
        model(input_ids=torch.zeros(1, 5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\(batch, length, input_size=3\)"):
        model(input_values=torch.randn(1, 5, 2))
    with pytest.raises(ValueError, match="mode"):
        model(input_values=torch.randn(1, 5, 3), mode="fast")


def test_step_rescale_argument_matches_config_field():
    torch.manual_seed(0)
    model = S5Model(S5Config(hidden_size=4, num_hidden_layers=2, state_size=4)).double().eval()
    rescaled = S5Model(S5Config(hidden_size=4, num_hidden_layers=2, state_size=4, step_rescale=2.0)).double().eval()
    rescaled.load_state_dict(model.state_dict())
    x = torch.randn(2, 12, 1, dtype=torch.float64)
    by_argument = model(input_values=x, step_rescale=2.0).last_hidden_state
    torch.testing.assert_close(by_argument, rescaled(input_values=x).last_hidden_state)
    assert not torch.allclose(by_argument, model(input_values=x).last_hidden_state)


@pytest.mark.parametrize("model_class, config_class", [(S4DForSequenceClassification, S4DConfig),
                                                        (S5ForSequenceClassification, S5Config)])
def test_gradient_checkpointing_gives_the_same_gradients(model_class, config_class):
    torch.manual_seed(0)
    model = model_class(config_class(hidden_size=8, num_hidden_layers=2, state_size=4, num_labels=2)).double().train()
    x, labels = torch.randn(3, 10, 1, dtype=torch.float64), torch.tensor([0, 1, 1])
    model(input_values=x, labels=labels).loss.backward()
    plain = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    model.activation_checkpointing_enable()
    model(input_values=x, labels=labels).loss.backward()
    for name, parameter in model.named_parameters():
        torch.testing.assert_close(parameter.grad, plain[name], msg=name)


def test_param_groups_follow_the_ssm_convention():
    model = S5ForSequenceClassification(S5Config(hidden_size=8, num_hidden_layers=2, state_size=4, num_labels=2))
    groups = hf_last.param_groups(model, lr=4e-3, ssm_lr=1e-3, weight_decay=0.05)
    names = {id(p): n for n, p in model.named_parameters()}
    ssm = {names[id(p)].rsplit(".", 1)[-1] for p in groups[0]["params"]}
    assert ssm == {"Lambda_re", "Lambda_im", "log_step", "B"}
    assert groups[0]["lr"] == 1e-3 and groups[0]["weight_decay"] == 0.0
    decayed = {names[id(p)] for p in groups[2]["params"]}
    assert groups[2]["weight_decay"] == 0.05 and any(n.endswith("mixer.C") for n in decayed)
    assert not any("norm" in n or n.endswith("bias") for n in decayed)
    all_grouped = [id(p) for g in groups for p in g["params"]]
    assert sorted(all_grouped) == sorted(id(p) for p in model.parameters())
    torch.optim.AdamW(groups)  # accepted as is
    s4d = S4DForSequenceClassification(S4DConfig(hidden_size=4, num_hidden_layers=1, state_size=4, num_labels=2))
    ssm_s4d = {n.rsplit(".", 1)[-1] for n, p in s4d.named_parameters()
               if id(p) in {id(q) for q in hf_last.param_groups(s4d, lr=1e-3, ssm_lr=1e-3)[0]["params"]}}
    assert ssm_s4d == {"log_dt", "log_A_real", "A_imag", "B"}


def test_init_is_the_papers():
    torch.manual_seed(0)
    s5 = S5Model(S5Config(hidden_size=8, num_hidden_layers=1, state_size=16, blocks=2)).layers[0].mixer
    assert torch.allclose(s5.Lambda_re, torch.full((8,), -0.5))
    assert torch.equal(s5.Lambda_im[:4], s5.Lambda_im[4:])  # J = 2 identical blocks
    steps = torch.exp(s5.log_step)
    assert bool(((steps >= 0.001 - 1e-9) & (steps <= 0.1 + 1e-9)).all())
    lin = S4DModel(S4DConfig(hidden_size=2, num_hidden_layers=1, state_size=8, ssm_init="lin")).layers[0].mixer
    assert torch.allclose(lin.A_imag[:4], torch.pi * torch.arange(4.0))
    assert torch.allclose(-torch.exp(lin.log_A_real), torch.full((8,), -0.5))


@pytest.mark.parametrize("model_class, config_class", [(S4DForSequenceClassification, S4DConfig),
                                                        (S5ForSequenceClassification, S5Config)])
def test_trains_on_digits_well_above_chance(model_class, config_class):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = torch.tensor(digits.data / 16.0, dtype=torch.float32)[..., None]  # (N, 64, 1): pixels in raster order
    y = torch.tensor(digits.target)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    torch.manual_seed(0)
    model = model_class(config_class(hidden_size=32, num_hidden_layers=2, state_size=16, num_labels=10))
    optimizer = torch.optim.AdamW(hf_last.param_groups(model, lr=1e-2, ssm_lr=3e-3, weight_decay=0.01))
    for epoch in range(14):
        model.train()
        for batch in torch.randperm(len(x_train)).split(64):
            loss = model(input_values=x_train[batch], labels=y_train[batch]).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(input_values=x_test).logits.argmax(-1) == y_test).float().mean().item()
    assert accuracy > 0.7, accuracy  # chance is 0.1; held-out quarter of the data


@pytest.mark.parametrize("model_class, config_class", [(S4DModel, S4DConfig), (S5Model, S5Config)])
def test_streaming_sees_parameter_updates_despite_the_system_cache(model_class, config_class):
    torch.manual_seed(0)
    model = model_class(config_class(hidden_size=4, num_hidden_layers=1, state_size=4)).double().eval()
    x = torch.randn(2, 1, 1, dtype=torch.float64)

    def one_step():
        with torch.no_grad():
            return model.step(model.init_recurrent_state(2), input_values=x[:, 0])[0]

    def parallel():
        with torch.no_grad():
            return model(input_values=x).last_hidden_state[:, 0]

    torch.testing.assert_close(one_step(), parallel())
    mixer = model.layers[0].mixer
    with torch.no_grad():
        for name in mixer.ssm_parameter_names:  # in-place update, as an optimiser step does
            getattr(mixer, name).mul_(1.5)
    torch.testing.assert_close(one_step(), parallel())
    other = model_class(model.config).double()
    model.load_state_dict(other.state_dict())
    torch.testing.assert_close(one_step(), parallel())


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_over_rows_equals_batch_norm_over_the_channel_axis(training):
    """SequenceNorm normalises (B·L, H) rows; nn.BatchNorm1d on the (B, H, L) layout is the reference."""
    from hf_last.models.modeling_ssm import SequenceNorm

    torch.manual_seed(0)
    norm = SequenceNorm(S5Config(hidden_size=6, norm_type="batch"))
    reference = torch.nn.BatchNorm1d(6)
    with torch.no_grad():
        for module in (norm.norm, reference):
            module.weight.copy_(torch.linspace(0.5, 2.0, 6))
            module.bias.copy_(torch.linspace(-1.0, 1.0, 6))
            module.running_mean.copy_(torch.linspace(-0.3, 0.3, 6))
            module.running_var.copy_(torch.linspace(0.5, 1.5, 6))
    norm.train(training)
    reference.train(training)
    x = torch.randn(3, 11, 6) * 2 + 1
    expected = reference(x.transpose(1, 2)).transpose(1, 2)
    torch.testing.assert_close(norm(x), expected)
    torch.testing.assert_close(norm.norm.running_mean, reference.running_mean)
    torch.testing.assert_close(norm.norm.running_var, reference.running_var)


@pytest.mark.parametrize("norm_type, prenorm", [("batch", True), ("layer", False)])
@pytest.mark.parametrize("activation", ["gelu", "glu", "half_glu1", "half_glu2"])
@pytest.mark.parametrize("config_class, model_class", [(S5Config, S5Model), (S4DConfig, S4DModel)])
def test_streaming_steps_equal_the_parallel_forward_for_every_block(config_class, model_class, norm_type, prenorm, activation):
    """``step`` (SSMBlock.step, no sequence axis) against the parallel forward, for every norm/activation."""
    torch.manual_seed(0)
    config = config_class(hidden_size=6, num_hidden_layers=2, state_size=4, input_size=2, norm_type=norm_type,
                          prenorm=prenorm, activation=activation)
    model = model_class(config).double().eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm1d):  # non-trivial running statistics
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
        x = torch.randn(3, 7, 2, dtype=torch.float64)
        expected = model(input_values=x).last_hidden_state
        state = model.init_recurrent_state(3)
        steps = []
        for t in range(x.shape[1]):
            hidden, state = model.step(state, input_values=x[:, t])
            steps.append(hidden)
    torch.testing.assert_close(torch.stack(steps, 1), expected)


@pytest.mark.parametrize("config_class, model_class", [(S5Config, S5Model), (S4DConfig, S4DModel)])
def test_a_recurrent_state_with_the_wrong_number_of_layers_is_refused(config_class, model_class):
    model = model_class(config_class(hidden_size=4, num_hidden_layers=2, state_size=4, input_size=1)).eval()
    short = model.init_recurrent_state(1)[:1]
    with torch.no_grad():
        with pytest.raises(ValueError, match="recurrent_state has 1 layers, the model has 2"):
            model.step(short, input_values=torch.randn(1, 1))
        with pytest.raises(ValueError, match="recurrent_state has 1 layers, the model has 2"):
            model(input_values=torch.randn(1, 3, 1), recurrent_state=short, return_state=True, mode="recurrent")


def test_print_model_shows_the_layer_sizes():
    from hf_last import LASTPruner, S4DConfig, S4DForSequenceClassification, S5Config, S5ForSequenceClassification

    s5 = S5ForSequenceClassification(S5Config(hidden_size=8, num_hidden_layers=1, state_size=16, num_labels=2))
    assert "S5Mixer(hidden_size=8, modes=8, states=16, discretization='zoh')" in str(s5)
    assert f"layer_idx=0, prenorm={s5.config.prenorm}, activation={s5.config.activation!r}" in str(s5)
    s4d = S4DForSequenceClassification(S4DConfig(hidden_size=4, num_hidden_layers=1, state_size=4, num_labels=2))
    assert "S4DMixer(hidden_size=4, modes=8, states=16, states_per_channel=4, discretization='zoh')" in str(s4d)
    torch.manual_seed(0)
    pruned = LASTPruner(s4d).prune(0.5).backbone.layers[0].mixer
    sizes = pruned.channel_state_sizes
    assert f"states=8, states_per_channel={min(sizes)}..{max(sizes)}" in repr(pruned)
