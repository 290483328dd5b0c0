"""The chunked scan and its hand-written backward against the time loop and finite differences (float64)."""

import pytest
import torch

from hf_last.ssm.scan import associative_scan, chunk_length, lti_scan, lti_scan_, lti_scan_consume, sequential_scan

TIGHT = dict(rtol=1e-12, atol=1e-12)
# lengths with and without a remainder after ⌊√L⌋-step chunks, and the trivial ones
LENGTHS = [1, 2, 3, 4, 5, 8, 10, 17, 63, 64, 100, 257]


def random_poles(count, dtype=torch.float64):
    return torch.polar(torch.rand(count, dtype=dtype) * 0.95, torch.rand(count, dtype=dtype) * 6.28)


def reversed_loop(poles, b, initial_state=None):
    """x[t] = Λ̄ x[t+1] + b[t] from x[L] = initial_state: the time loop on the flipped sequence."""
    return sequential_scan(poles, b.flip(1), initial_state).flip(1)


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("with_initial_state", [False, True])
def test_chunked_scan_matches_the_time_loop(length, reverse, with_initial_state):
    torch.manual_seed(length)
    poles = random_poles(5)
    b = torch.randn(3, length, 5, dtype=torch.complex128)
    x0 = torch.randn(3, 5, dtype=torch.complex128) if with_initial_state else None
    expected = (reversed_loop if reverse else sequential_scan)(poles, b, x0)
    torch.testing.assert_close(lti_scan(poles, b, x0, reverse=reverse), expected, **TIGHT)
    overwritten = b.clone()
    assert lti_scan_(poles, overwritten, x0, reverse=reverse) is overwritten
    torch.testing.assert_close(overwritten, expected, **TIGHT)


@pytest.mark.parametrize("length", LENGTHS)
def test_chunked_scan_matches_the_odd_even_scan(length):
    torch.manual_seed(length)
    poles, b = random_poles(4), torch.randn(2, length, 4, dtype=torch.complex128)
    torch.testing.assert_close(lti_scan(poles, b), associative_scan(poles, b), **TIGHT)


def test_chunk_length_is_the_floor_of_the_square_root():
    assert [chunk_length(n) for n in (1, 3, 4, 784, 1024, 16000)] == [1, 1, 2, 28, 32, 126]


@pytest.mark.parametrize("length", [1, 2, 5, 9, 16, 23])
@pytest.mark.parametrize("reverse", [False, True])
def test_scan_gradients_pass_gradcheck(length, reverse):
    torch.manual_seed(length)
    poles = random_poles(3).requires_grad_(True)
    b = torch.randn(2, length, 3, dtype=torch.complex128, requires_grad=True)
    x0 = torch.randn(2, 3, dtype=torch.complex128, requires_grad=True)
    assert torch.autograd.gradcheck(lambda p, u, s: lti_scan(p, u, s, reverse=reverse), (poles, b, x0))
    assert torch.autograd.gradcheck(lambda p, u: lti_scan(p, u, reverse=reverse), (poles, b))


@pytest.mark.parametrize("length", [7, 64, 300])
@pytest.mark.parametrize("reverse", [False, True])
def test_scan_gradients_match_autograd_through_the_loop(length, reverse):
    torch.manual_seed(length)
    leaves = [random_poles(4).requires_grad_(True), torch.randn(2, length, 4, dtype=torch.complex128, requires_grad=True),
              torch.randn(2, 4, dtype=torch.complex128, requires_grad=True)]
    weights = torch.randn(2, length, 4, dtype=torch.complex128)

    def loss(states):  # real, depends on real and imaginary parts of every state
        return (states * weights).real.sum() + states.imag.pow(2).sum()

    grads = torch.autograd.grad(loss(lti_scan(*leaves, reverse=reverse)), leaves)
    expected = torch.autograd.grad(loss((reversed_loop if reverse else sequential_scan)(*leaves)), leaves)
    for grad, reference in zip(grads, expected):
        torch.testing.assert_close(grad, reference, **TIGHT)


def test_scan_gradient_only_for_inputs_that_need_it():
    poles, b = random_poles(3), torch.randn(2, 9, 3, dtype=torch.complex128, requires_grad=True)
    (grad,) = torch.autograd.grad(lti_scan(poles, b).abs().sum(), [b])
    (reference,) = torch.autograd.grad(sequential_scan(poles, b).abs().sum(), [b])
    torch.testing.assert_close(grad, reference, **TIGHT)


def test_in_place_scan_refuses_to_record_gradients():
    b = torch.randn(2, 9, 3, dtype=torch.complex128, requires_grad=True)
    with pytest.raises(RuntimeError, match="records no gradient"):
        lti_scan_(random_poles(3), b)
    with pytest.raises(ValueError, match="contiguous"):
        lti_scan_(random_poles(3), torch.randn(2, 3, 9, dtype=torch.complex128).transpose(1, 2))


def test_consuming_scan_overwrites_only_without_autograd():
    torch.manual_seed(0)
    poles, b = random_poles(3), torch.randn(2, 9, 3, dtype=torch.complex128)
    expected = sequential_scan(poles, b)
    with torch.no_grad():
        temporary = b.clone()
        assert lti_scan_consume(poles, temporary).data_ptr() == temporary.data_ptr()
    torch.testing.assert_close(temporary, expected, **TIGHT)
    recorded = b.clone().requires_grad_(True)
    states = lti_scan_consume(poles, recorded)
    assert states.data_ptr() != recorded.data_ptr() and states.requires_grad
    torch.testing.assert_close(recorded.detach(), b, **TIGHT)


def test_chunked_scan_in_float32_stays_within_rounding_of_float64():
    torch.manual_seed(0)
    poles = random_poles(64, torch.float64)
    b = torch.randn(4, 1024, 64, dtype=torch.complex128)
    exact = sequential_scan(poles, b)
    single = lti_scan(poles.to(torch.complex64), b.to(torch.complex64))
    assert ((single.to(torch.complex128) - exact).abs().max() / exact.abs().max()).item() < 1e-5
