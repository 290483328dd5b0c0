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
