"""The streaming step's shortcuts (SSMBlock.step_norm / step_channels, S5Mixer.recurrent_step) against the
module calls they replace, in float64."""

import pytest
import torch

from hf_last import S5Config, S5Model
from hf_last.ssm.scan import sequential_scan

TIGHT = dict(rtol=1e-12, atol=1e-12)


def block(norm_type, activation, dropout=0.0):
    torch.manual_seed(0)
    config = S5Config(hidden_size=6, num_hidden_layers=1, state_size=8, norm_type=norm_type, activation=activation,
                      dropout=dropout)
    layer = S5Model(config).double().layers[0]
    with torch.no_grad():
        if norm_type == "batch":
            layer.norm.norm.running_mean.uniform_(-0.5, 0.5)
            layer.norm.norm.running_var.uniform_(0.5, 2.0)
        layer.norm.norm.weight.uniform_(0.5, 1.5)
        layer.norm.norm.bias.uniform_(-0.5, 0.5)
    return layer


@pytest.mark.parametrize("norm_type", ["batch", "layer"])
@pytest.mark.parametrize("training", [False, True])
def test_step_norm_equals_the_norm_module(norm_type, training):
    layer = block(norm_type, "gelu").train(training)
    hidden = torch.randn(5, 6, dtype=torch.float64)
    expected = layer.norm(hidden)  # in training mode BatchNorm normalises by the batch's own statistics
    torch.testing.assert_close(layer.step_norm(hidden), expected, **TIGHT)


@pytest.mark.parametrize("activation", ["gelu", "glu", "half_glu1", "half_glu2"])
def test_step_channels_equal_mix_channels_plus_the_residual(activation):
    layer = block("batch", activation).eval()
    y, residual = torch.randn(5, 6, dtype=torch.float64), torch.randn(5, 6, dtype=torch.float64)
    torch.testing.assert_close(layer.step_channels(y, residual), layer.mix_channels(y) + residual, **TIGHT)


def test_step_channels_keep_dropout_in_training():
    layer = block("batch", "half_glu1", dropout=0.5).train()
    y, residual = torch.randn(50, 6, dtype=torch.float64), torch.zeros(50, 6, dtype=torch.float64)
    assert (layer.step_channels(y, residual) == 0).any()  # dropped units are exactly zero


def test_s5_recurrent_step_equals_the_time_loop_and_keeps_gradients():
    layer = block("batch", "gelu")
    mixer = layer.mixer
    u = torch.randn(3, 9, 6, dtype=torch.float64, requires_grad=True)
    system = mixer.recurrent_system()
    state, outputs = mixer.init_state(3, torch.float64, "cpu"), []
    for u_t in u.unbind(1):
        y_t, state = mixer.recurrent_step(system, u_t, state)
        outputs.append(y_t)
    Lambda_bar, B_bar, C, _ = mixer.discrete_system()
    states = sequential_scan(Lambda_bar, torch.einsum("ph,blh->blp", B_bar, u.to(B_bar.dtype)))
    expected = mixer.output_factor * torch.einsum("hp,blp->blh", C, states).real + mixer.D * u
    torch.testing.assert_close(torch.stack(outputs, 1), expected, **TIGHT)
    torch.testing.assert_close(state, states[:, -1], **TIGHT)
    grads = torch.autograd.grad(torch.stack(outputs, 1).sum(), [u, mixer.B])
    expected_grads = torch.autograd.grad(expected.sum(), [u, mixer.B])
    for grad, reference in zip(grads, expected_grads):
        torch.testing.assert_close(grad, reference, **TIGHT)


# ---- the eval streaming path (DiagonalSSMModel.streaming_plan, BlockStep) against the generic block step ------


def streaming_model(family, norm_type, prenorm, activation, pruned=False, dropout=0.0):
    from hf_last import LASTPruner, S4DConfig, S4DForSequenceClassification, S5ForSequenceClassification

    torch.manual_seed(0)
    config_class, model_class = {"S5": (S5Config, S5ForSequenceClassification),
                                 "S4D": (S4DConfig, S4DForSequenceClassification)}[family]
    config = config_class(hidden_size=6, num_hidden_layers=2, state_size=8, input_size=2, norm_type=norm_type,
                          prenorm=prenorm, activation=activation, dropout=dropout, num_labels=3)
    model = model_class(config).double()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.LayerNorm)):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
            if isinstance(module, torch.nn.BatchNorm1d):  # non-trivial running statistics
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    if pruned:
        model = LASTPruner(model).prune(0.5)
    return model.backbone


def stream(backbone, x, grad: bool):
    """Steps over x (B, L, 2) from the zero state: with ``grad`` through the generic ``SSMBlock.step`` (gradients
    recorded), else under no_grad (the streaming plan where the blocks allow it)."""
    state, outputs = backbone.init_recurrent_state(x.shape[0]), []
    with torch.set_grad_enabled(grad):
        for t in range(x.shape[1]):
            hidden, state = backbone.step(state, input_values=x[:, t])
            outputs.append(hidden.detach())
    return torch.stack(outputs, 1), [s.detach() for s in state]


@pytest.mark.parametrize("family", ["S5", "S4D"])
@pytest.mark.parametrize("norm_type", ["batch", "layer"])
@pytest.mark.parametrize("prenorm", [True, False])
@pytest.mark.parametrize("activation", ["gelu", "glu", "half_glu1", "half_glu2"])
@pytest.mark.parametrize("pruned", [False, True])
@pytest.mark.parametrize("training", [False, True])
def test_the_streaming_plan_equals_the_generic_step(family, norm_type, prenorm, activation, pruned, training):
    backbone = streaming_model(family, norm_type, prenorm, activation, pruned).train(training)
    with torch.no_grad():
        plan = backbone.streaming_plan(1.0)
    # a BatchNorm in training mode normalises by the batch's statistics: only the generic step does that
    assert (plan is None) == (training and norm_type == "batch")
    x = torch.randn(3, 6, 2, dtype=torch.float64)
    fast, fast_state = stream(backbone, x, grad=False)
    generic, generic_state = stream(backbone, x, grad=True)
    torch.testing.assert_close(fast, generic, **TIGHT)
    for a, b in zip(fast_state, generic_state):
        torch.testing.assert_close(a, b, **TIGHT)


def test_the_streaming_plan_is_not_used_with_active_dropout():
    backbone = streaming_model("S5", "layer", True, "half_glu1", dropout=0.5)
    with torch.no_grad():
        assert backbone.train().streaming_plan(1.0) is None
        assert backbone.eval().streaming_plan(1.0) is not None


@pytest.mark.parametrize("change", ["in_place", "swap", "running_var", "dtype", "mode", "step_rescale"])
def test_the_streaming_plan_follows_changes_to_the_model(change):
    backbone = streaming_model("S5", "batch", True, "half_glu1").eval()
    x = torch.randn(3, 4, 2, dtype=torch.float64)
    rescale = 1.0
    stream(backbone, x, grad=False)  # builds and caches the plan
    layer = backbone.layers[1]
    with torch.no_grad():
        if change == "in_place":
            layer.mixer.Lambda_im.mul_(1.5)
            layer.output_linear.weight.mul_(-1)
        elif change == "swap":
            layer.output_linear.weight = torch.nn.Parameter(torch.randn_like(layer.output_linear.weight))
        elif change == "running_var":
            layer.norm.norm.running_var.mul_(3.0)
        elif change == "dtype":
            backbone.float()
            x = x.float()
        elif change == "mode":
            backbone.train()
        else:
            rescale = 2.0

    def run(grad):
        state, outputs = backbone.init_recurrent_state(3), []
        with torch.set_grad_enabled(grad):
            for t in range(x.shape[1]):
                hidden, state = backbone.step(state, input_values=x[:, t], step_rescale=rescale)
                outputs.append(hidden.detach())
        return torch.stack(outputs, 1)

    tolerance = dict(rtol=1e-5, atol=1e-6) if change == "dtype" else TIGHT
    torch.testing.assert_close(run(False), run(True), **tolerance)


def test_the_streaming_plan_refuses_a_wrong_state_like_the_generic_step():
    backbone = streaming_model("S5", "batch", True, "half_glu1").eval()
    state = backbone.init_recurrent_state(3)
    x_t = torch.randn(3, 2, dtype=torch.float64)
    with torch.no_grad():
        with pytest.raises(TypeError, match="recurrent_state\\[1\\] has dtype"):
            backbone.step([state[0], state[1].to(torch.complex64)], input_values=x_t)
        with pytest.raises(ValueError, match="recurrent_state\\[0\\] has shape"):
            backbone.step([state[0][:2], state[1]], input_values=x_t)
        with pytest.raises(ValueError, match="recurrent_state has 1 layers"):
            backbone.step(state[:1], input_values=x_t)
        with pytest.raises(ValueError, match="input_values must have shape"):
            backbone.step(state, input_values=torch.randn(3, 5, dtype=torch.float64))


@pytest.mark.parametrize("change", ["batch_norm_data", "dropout", "adapter", "weight_norm", "hook"])
def test_the_streaming_plan_sees_edits_its_cache_key_cannot(change):
    """Changes invisible to tensor versions (edits through ``.data``, a dropout rate) or to the plan's functional
    calls (a subclassed / parametrized / hooked output layer) still reach the stream: it equals the generic step."""
    backbone = streaming_model("S5", "batch", True, "gelu").eval()
    x = torch.randn(3, 4, 2, dtype=torch.float64)
    stream(backbone, x, grad=False)  # builds and caches the plan
    layer = backbone.layers[0]
    calls = []
    if change == "batch_norm_data":
        layer.norm.norm.running_mean.data.fill_(0.7)  # .data: no version bump
        layer.norm.norm.weight.data.mul_(2.0)
    elif change == "dropout":
        backbone.train()
        for module in (layer.norm.norm, backbone.layers[1].norm.norm):
            module.eval()  # eval BatchNorm, training blocks: the plan is allowed while dropout is 0
        with torch.no_grad():
            assert backbone.streaming_plan(1.0) is not None
        layer.dropout.p = 0.5
        with torch.no_grad():
            assert backbone.streaming_plan(1.0) is None  # dropout now active: the generic step
        return
    elif change == "adapter":
        class Adapted(torch.nn.Linear):
            def forward(self, hidden):
                return super().forward(hidden) + 0.5 * hidden

        adapted = Adapted(6, 6, dtype=torch.float64)
        adapted.load_state_dict(layer.output_linear.state_dict())
        layer.output_linear = adapted
    elif change == "weight_norm":
        torch.nn.utils.parametrizations.weight_norm(layer.output_linear)
        stream(backbone, x, grad=False)
        with torch.no_grad():
            layer.output_linear.parametrizations.weight.original0.mul_(3.0)
    else:
        layer.output_linear.register_forward_hook(lambda module, inputs, output: calls.append(output.shape))
    torch.testing.assert_close(stream(backbone, x, grad=False)[0], stream(backbone, x, grad=True)[0], **TIGHT)
    if change == "hook":  # the hooked module was called by both streams, once per step
        assert len(calls) == 2 * x.shape[1]


@pytest.mark.parametrize("family", ["S5", "S4D"])
def test_hooks_see_under_no_grad_what_they_see_with_gradients(family):
    """A forward hook keeping references to a block's activations gets the same tensors with and without
    gradients: the no_grad paths that write over buffers stay off while a hook can hold one."""
    backbone = streaming_model(family, "layer", True, "half_glu1").eval()
    layer, captured = backbone.layers[0], {}
    layer.norm.register_forward_hook(lambda module, inputs, output: captured.update(norm_out=output))
    layer.mixer.register_forward_hook(lambda module, inputs, output: captured.update(mixer_out=output[0]))
    layer.output_linear.register_forward_hook(lambda module, inputs, output: captured.update(linear_in=inputs[0]))
    x = torch.randn(2, 7, 2, dtype=torch.float64)

    def run(grad):
        with torch.set_grad_enabled(grad):
            backbone(input_values=x)
        return {name: value.detach().clone() for name, value in captured.items()}

    recorded, inference = run(True), run(False)
    assert recorded.keys() == inference.keys() == {"norm_out", "mixer_out", "linear_in"}
    for name in recorded:
        torch.testing.assert_close(inference[name], recorded[name], **TIGHT)


# ---- the inference forward (no_grad): mixers writing over their given-up input, channel mixing in place ------


@pytest.mark.parametrize("family", ["S5", "S4D"])
@pytest.mark.parametrize("norm_type, prenorm", [("batch", True), ("layer", True), ("layer", False), ("batch", False)])
@pytest.mark.parametrize("activation", ["gelu", "glu", "half_glu1", "half_glu2"])
@pytest.mark.parametrize("masked", [False, True])
def test_the_inference_forward_equals_the_recorded_forward(family, norm_type, prenorm, activation, masked):
    """Under no_grad the blocks reuse buffers (``giving_up``, ``mix_channels_inference``): the same outputs as the
    forward that records gradients, and the caller's inputs are left untouched."""
    backbone = streaming_model(family, norm_type, prenorm, activation, pruned=True).eval()
    x = torch.randn(3, 9, backbone.config.hidden_size, dtype=torch.float64)
    mask = torch.ones(3, 9, dtype=torch.long)
    mask[1, 6:] = 0
    kwargs = dict(inputs_embeds=x, attention_mask=mask if masked else None, output_hidden_states=True)
    copy = x.clone()
    with torch.no_grad():
        inference = backbone(**kwargs)
    recorded = backbone(**kwargs)
    assert recorded.last_hidden_state.requires_grad
    assert torch.equal(x, copy)
    for a, b in zip(inference.hidden_states, recorded.hidden_states):  # every block's output, none overwritten
        torch.testing.assert_close(a, b.detach(), **TIGHT)


@pytest.mark.parametrize("family", ["S5", "S4D"])
def test_a_mixer_writes_over_its_input_only_when_given_up(family):
    from hf_last.models.modeling_ssm import giving_up

    mixer = streaming_model(family, "layer", True, "gelu").eval().layers[0].mixer
    u = torch.randn(2, 7, 6, dtype=torch.float64)
    copy = u.clone()
    expected, _ = mixer(u)  # records gradients (parameters require them): nothing overwritten
    with torch.no_grad():
        plain, _ = mixer(u)
        assert torch.equal(u, copy)  # not given up: untouched
        with giving_up(u):
            given, _ = mixer(u)
    assert given.data_ptr() == u.data_ptr()  # y written into u's buffer
    torch.testing.assert_close(plain, expected.detach(), **TIGHT)
    torch.testing.assert_close(given, expected.detach(), **TIGHT)
    u = copy.clone()
    with giving_up(u):  # while gradients are recorded the input is never overwritten
        mixer(u)
    assert torch.equal(u, copy)


def test_the_returned_state_is_a_copy_not_a_view_of_all_states():
    mixer = streaming_model("S5", "layer", True, "gelu").eval().layers[0].mixer
    with torch.no_grad():
        _, state = mixer(torch.randn(2, 7, 6, dtype=torch.float64), return_state=True)
    assert state.is_contiguous() and state.untyped_storage().nbytes() == state.numel() * state.element_size()


@pytest.mark.parametrize("activation", ["gelu", "glu", "half_glu1", "half_glu2"])
@pytest.mark.parametrize("chunk_rows", [None, 7])
def test_mix_channels_inference_equals_mix_channels(activation, chunk_rows, monkeypatch):
    """Row chunks (7 rows: 20 rows in three chunks, the last one short) give the rows of one call; a strided
    residual is read, not copied over."""
    from hf_last.models import modeling_ssm

    if chunk_rows is not None:
        monkeypatch.setattr(modeling_ssm, "CHANNEL_CHUNK_ROWS", chunk_rows)
    layer = block("batch", activation).eval()
    y = torch.randn(4, 5, 6, dtype=torch.float64)
    residual = torch.randn(5, 4, 6, dtype=torch.float64).transpose(0, 1)
    expected = layer.mix_channels(y).add_(residual).detach()
    with torch.no_grad():
        given = y.clone()
        out = layer.mix_channels_inference(given, residual)
    assert out.data_ptr() == given.data_ptr()
    torch.testing.assert_close(out, expected, **TIGHT)  # bit-identical with MKL; other BLAS may block rows differently
