"""Convolution kernels of diagonal SSMs and their FFT convolution.

The S4D kernel of one channel is K[l] = f · Re Σ_n C̃_n Λ̄_n^l  (f = 2 with conjugate symmetry, else 1).
Evaluating Λ̄^l with one complex ``exp`` per (channel, mode, l) dominates the CPU cost, so powers are
blocked: with l = qT + r,  Λ̄^l = Λ̄^(qT) · Λ̄^r, and the sum over modes becomes one batched complex
matmul of (Q × M) by (M × T) per channel — only M·(Q + T) exponentials instead of M·L.
"""

from __future__ import annotations

import math

import torch


def blocked_powers(log_z: torch.Tensor, length: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Factors of z^l for l < length, as (z^(qT) of shape (..., Q), z^r of shape (..., T), T).

    ``log_z`` is log z; T ≈ sqrt(length) so Q·T ≥ length with the fewest exponentials.
    """
    block = max(1, math.isqrt(length))
    n_blocks = -(-length // block)
    dtype = log_z.real.dtype
    r = torch.arange(block, dtype=dtype, device=log_z.device)
    q = torch.arange(n_blocks, dtype=dtype, device=log_z.device) * block
    return torch.exp(log_z[..., None] * q), torch.exp(log_z[..., None] * r), block


def vandermonde_kernel(coefficients: torch.Tensor, log_z: torch.Tensor, length: int) -> torch.Tensor:
    """K[..., l] = Re Σ_m coefficients[..., m] · z[..., m]^l for l < length (blocked powers).

    ``coefficients`` and ``log_z`` have shape (..., M); returns a real tensor (..., length).
    """
    high, low, block = blocked_powers(log_z, length)
    weighted = (coefficients[..., None] * high).transpose(-1, -2)  # (..., Q, M)
    kernel = torch.matmul(weighted, low)  # (..., Q, T)
    return kernel.real.flatten(-2)[..., :length]


def reversed_power_sums(log_z: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """S[b, h, m] = Σ_d z[h, m]^d · inputs[b, L−1−d, h]: the input's contribution to a final SISO state.

    ``log_z`` is (H, M), ``inputs`` real (B, L, H); returns complex (B, H, M). Blocked like the kernel
    (d = qT + r): one batched matmul over r per channel, then a weighted sum over q.
    """
    batch, length, channels = inputs.shape
    high, low, block = blocked_powers(log_z, length)  # (H, M, Q), (H, M, T)
    n_blocks = high.shape[-1]
    reversed_inputs = torch.nn.functional.pad(inputs.flip(1), (0, 0, 0, n_blocks * block - length))
    blocks = reversed_inputs.view(batch, n_blocks, block, channels).permute(3, 2, 0, 1).reshape(channels, block, -1)
    inner = torch.matmul(low, blocks.to(low.dtype)).view(channels, -1, batch, n_blocks)  # (H, M, B, Q)
    return (inner * high[:, :, None, :]).sum(-1).permute(2, 0, 1)


def vandermonde_kernel_naive(coefficients: torch.Tensor, log_z: torch.Tensor, length: int) -> torch.Tensor:
    """The same kernel with one complex exponential per (mode, l): the plain baseline for benchmarks."""
    steps = torch.arange(length, dtype=log_z.real.dtype, device=log_z.device)
    return (coefficients[..., None] * torch.exp(log_z[..., None] * steps)).sum(-2).real


def bidirectional_kernel(forward: torch.Tensor, backward: torch.Tensor) -> torch.Tensor:
    """A length-2L circular kernel: y[t] = Σ_{j≤t} K_f[t−j] u[j] + Σ_{j≥t} K_b[j−t] u[j].

    The anti-causal taps K_b[d] (d ≥ 1) sit at circular position 2L − d; K_b[0] adds to tap 0.
    """
    zero = forward.new_zeros(forward.shape[:-1] + (1,))
    return torch.cat([forward[..., :1] + backward[..., :1], forward[..., 1:], zero, backward[..., 1:].flip(-1)], -1)


def fft_convolution(u: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Causal (or, for a length-2L kernel, two-sided) convolution along dim 1.

    ``u`` is (B, L, H); ``kernel`` is (H, L) causal or (H, 2L) from :func:`bidirectional_kernel`.
    Zero-padding to 2L makes the circular FFT product a linear convolution.
    """
    length = u.shape[1]
    n_fft = 2 * length
    u_f = torch.fft.rfft(u, n=n_fft, dim=1)
    k_f = torch.fft.rfft(kernel, n=n_fft, dim=-1).transpose(0, 1)  # (n_fft//2+1, H)
    return torch.fft.irfft(u_f * k_f, n=n_fft, dim=1)[:, :length]
