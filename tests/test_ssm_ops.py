"""The math kernels against plain loops (float64)."""

import pytest
import torch

from hf_last.ssm.kernels import (
    bidirectional_kernel,
    fft_convolution,
    reversed_power_sums,
    vandermonde_kernel,
    vandermonde_kernel_naive,
)
from hf_last.ssm.scan import lti_scan, lti_scan_from, sequential_scan

# float64 against plain loops: the measured errors are ~1e-15, torch's float64 default (1e-7) could hide a bug
TIGHT = dict(rtol=1e-12, atol=1e-12)


def random_poles(*shape):
    return torch.polar(torch.rand(*shape, dtype=torch.float64) * 0.95, torch.rand(*shape, dtype=torch.float64) * 6.28)


@pytest.mark.parametrize("length", [1, 2, 3, 5, 8, 13, 64, 100])
def test_scan_matches_the_time_loop_with_gradients(length):
    torch.manual_seed(length)
    poles = random_poles(4)
    b = torch.randn(2, length, 4, dtype=torch.complex128, requires_grad=True)
    scanned = lti_scan(poles, b)
    looped = sequential_scan(poles, b)
    torch.testing.assert_close(scanned, looped, **TIGHT)
    (grad_scan,) = torch.autograd.grad(scanned.real.sum() + scanned.imag.pow(2).sum(), b)
    (grad_loop,) = torch.autograd.grad(looped.real.sum() + looped.imag.pow(2).sum(), b)
    torch.testing.assert_close(grad_scan, grad_loop, **TIGHT)


def test_scan_from_an_initial_state():
    torch.manual_seed(0)
    poles, b = random_poles(3), torch.randn(2, 9, 3, dtype=torch.complex128)
    x0 = torch.randn(2, 3, dtype=torch.complex128)
    expected, state = [], x0
    for t in range(9):
        state = poles * state + b[:, t]
        expected.append(state)
    torch.testing.assert_close(lti_scan_from(poles, b, x0), torch.stack(expected, 1), **TIGHT)


@pytest.mark.parametrize("length", [1, 7, 64, 1000])
def test_blocked_vandermonde_matches_powers(length):
    torch.manual_seed(length)
    coefficients = torch.randn(3, 5, dtype=torch.complex128)
    log_z = torch.log(random_poles(3, 5))
    naive = torch.stack([(coefficients * torch.exp(log_z * l)).sum(-1).real for l in range(length)], -1)
    torch.testing.assert_close(vandermonde_kernel(coefficients, log_z, length), naive, **TIGHT)
    torch.testing.assert_close(vandermonde_kernel_naive(coefficients, log_z, length), naive, **TIGHT)


@pytest.mark.parametrize("length", [1, 6, 37])
def test_reversed_power_sums_match_a_loop(length):
    torch.manual_seed(length)
    log_z = torch.log(random_poles(3, 4))
    u = torch.randn(2, length, 3, dtype=torch.float64)
    expected = sum(torch.exp(log_z * d) * u[:, length - 1 - d, :, None] for d in range(length))
    torch.testing.assert_close(reversed_power_sums(log_z, u), expected, **TIGHT)


def test_fft_convolution_causal_and_two_sided():
    torch.manual_seed(0)
    length = 11
    u = torch.randn(2, length, 3, dtype=torch.float64)
    forward, backward = torch.randn(3, length, dtype=torch.float64), torch.randn(3, length, dtype=torch.float64)
    causal = torch.zeros_like(u)
    two_sided = torch.zeros_like(u)
    for t in range(length):
        for j in range(length):
            if j <= t:
                causal[:, t] += forward[:, t - j] * u[:, j]
            if j >= t:
                two_sided[:, t] += backward[:, j - t] * u[:, j]
    torch.testing.assert_close(fft_convolution(u, forward), causal, **TIGHT)
    torch.testing.assert_close(fft_convolution(u, bidirectional_kernel(forward, backward)), causal + two_sided, **TIGHT)
