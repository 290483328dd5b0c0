"""Linear recurrences x[t] = Λ̄ ⊙ x[t−1] + b[t] along dim 1 of a (B, L, P) tensor.

``lti_scan`` is a two-level chunked scan for a time-invariant Λ̄ (P,) with a hand-written backward:

- forward: split time into n chunks of T ≈ √L steps. (1) Scan every chunk from a zero state, all chunks at
  once: T − 1 element-wise ops on (B, n, P) slices. (2) Carry the true state across chunks:
  s[c] = Λ̄^T s[c−1] + x_local[c−1, T−1], n − 1 ops on (B, P). (3) Add what the carried state contributes
  inside each chunk, x[c, t] = x_local[c, t] + Λ̄^(t+1) s[c], one broadcast op. About 2√L small ops and two
  passes over the data, written into one preallocated output; the steps left over by L mod T run as a loop.
  Every state is the same sum as the time loop's, only grouped differently (float rounding).
- backward: the adjoint of the recurrence is the same recurrence run backwards in time with conj(Λ̄)
  (PyTorch's gradients of complex tensors are conjugate Wirtinger derivatives, so y = a·x passes
  ḡ·conj(a) to x): λ[t] = g[t] + conj(Λ̄) λ[t+1], λ[L] = 0, where g = ∂loss/∂x. Then
  ∂/∂b[t] = λ[t], ∂/∂x[−1] = conj(Λ̄) λ[0], ∂/∂Λ̄ = Σ_{batch, t} λ[t] · conj(x[t−1]).
  One reverse chunked scan and one reduction instead of autograd through every op of the forward.

``lti_scan_`` is the same forward in place (no autograd; the mixers use it under ``no_grad`` so that the
states reuse the B̄u buffer). ``associative_scan`` is the odd/even recursive scan (the algorithm of
``jax.lax.associative_scan``) through plain autograd, kept as the previous implementation for benchmarks;
``sequential_scan`` is the time loop (S5's recurrent mode and the naive oracle).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def chunk_length(length: int) -> int:
    """Steps per chunk T = ⌊√L⌋: the ~T + L/T small ops of a chunked scan are fewest near T = √L."""
    return max(1, math.isqrt(length))


def chunk_powers(Lambda_bar: torch.Tensor, chunk: int) -> torch.Tensor:
    """(T, P) powers Λ̄^1 .. Λ̄^T by a cumulative product (exact at Λ̄ = 0, no complex log)."""
    return torch.cumprod(Lambda_bar.expand(chunk, *Lambda_bar.shape), dim=0)


def _scan_chunks_(Lambda_bar, b_chunks, x_chunks, carries, powers, initial_state, reverse: bool) -> None:
    """Steps (1)-(3) of the module docstring on (B, n, T, P) views ``b_chunks`` (input) and ``x_chunks``
    (output; may be the same memory as ``b_chunks``). ``reverse``: time runs from t = T−1 down to 0 inside a
    chunk and from the last chunk to the first; the carried state then enters with Λ̄^(T−t)."""
    n, chunk = b_chunks.shape[1], b_chunks.shape[2]
    steps = list(range(chunk))[::-1] if reverse else list(range(chunk))
    order = list(range(n))[::-1] if reverse else list(range(n))
    # the (B, n, P) time slices and (B, P) chunk slices as views made in one call each (indexing them one by one
    # in the loops costs a select per operand and step)
    x_steps = x_chunks.unbind(2)
    b_steps = x_steps if x_chunks.data_ptr() == b_chunks.data_ptr() else b_chunks.unbind(2)
    # (1) every chunk from a zero state
    if b_steps is not x_steps:
        x_steps[steps[0]].copy_(b_steps[steps[0]])
    for previous, t in zip(steps, steps[1:]):
        torch.addcmul(b_steps[t], Lambda_bar, x_steps[previous], out=x_steps[t])
    # (2) the state entering each chunk: carries[:, c] = x just before chunk c in scan order
    carry, chunk_ends = carries.unbind(1), x_steps[steps[-1]].unbind(1)
    if initial_state is None:
        carry[order[0]].zero_()
    else:
        carry[order[0]].copy_(initial_state)
    for previous, c in zip(order, order[1:]):
        torch.addcmul(chunk_ends[previous], powers[-1], carry[previous], out=carry[c])
    # (3) its contribution inside the chunk: Λ̄^(number of steps since the chunk was entered)
    entered = powers.flip(0) if reverse else powers
    if initial_state is None:  # the first chunk in scan order enters from zero: skip it
        rest = slice(0, n - 1) if reverse else slice(1, n)
        x_chunks[:, rest].addcmul_(entered, carries[:, rest, None])
    else:
        x_chunks.addcmul_(entered, carries[:, :, None])


def _scan_into(Lambda_bar, b, out, initial_state=None, reverse: bool = False) -> torch.Tensor:
    """x[t] = Λ̄ x[t∓1] + b[t] for all t of ``b`` (B, L, P) written into ``out`` (same shape, contiguous; may be
    ``b`` itself), from x[−1] (or x[L] when ``reverse``) = ``initial_state`` (B, P) or 0. Returns ``out``.

    The first n·T steps in scan order (T = ``chunk_length(L)``) run as chunks; the remaining L mod T steps as
    a time loop continuing from the chunks' last state."""
    batch, length, modes = b.shape
    chunk = chunk_length(length)
    n = length // chunk
    remainder = length - n * chunk
    chunked = slice(remainder, length) if reverse else slice(0, n * chunk)
    b_chunks = b[:, chunked].view(batch, n, chunk, modes)
    x_chunks = out[:, chunked].view(batch, n, chunk, modes)
    carries = torch.empty(batch, n, modes, dtype=out.dtype, device=out.device)
    _scan_chunks_(Lambda_bar, b_chunks, x_chunks, carries, chunk_powers(Lambda_bar, chunk), initial_state, reverse)
    tail = range(remainder - 1, -1, -1) if reverse else range(n * chunk, length)
    previous = remainder if reverse else n * chunk - 1
    for t in tail:
        torch.addcmul(b[:, t], Lambda_bar, out[:, previous], out=out[:, t])
        previous = t
    return out


def _plain(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` without lazy conjugate/negative bits, contiguous (views of it are then plain strided memory)."""
    return tensor.resolve_conj().resolve_neg().contiguous()


class _LTIScan(torch.autograd.Function):
    """``lti_scan`` with the adjoint backward of the module docstring (first derivatives only)."""

    @staticmethod
    def forward(ctx, Lambda_bar, b, initial_state, reverse):
        b = _plain(b)
        states = _scan_into(Lambda_bar, b, torch.empty_like(b), initial_state, reverse)
        ctx.reverse = reverse
        ctx.save_for_backward(Lambda_bar, states, initial_state)
        return states

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_states):
        Lambda_bar, states, initial_state = ctx.saved_tensors
        grad_states = _plain(grad_states)
        conj_poles = Lambda_bar.conj().resolve_conj()
        adjoint = _scan_into(conj_poles, grad_states, torch.empty_like(grad_states), None, not ctx.reverse)
        grad_poles = grad_initial = None
        if ctx.needs_input_grad[0]:
            grad_poles = pole_gradient(adjoint, states, initial_state, ctx.reverse)
        if ctx.needs_input_grad[2]:
            grad_initial = conj_poles * (adjoint[:, -1] if ctx.reverse else adjoint[:, 0])
        return grad_poles, adjoint if ctx.needs_input_grad[1] else None, grad_initial, None


def pole_gradient(adjoint, states, initial_state, reverse: bool) -> torch.Tensor:
    """∂loss/∂Λ̄ = Σ_{batch, t} λ[t]·conj(x[t∓1]) (x[−1] or x[L] = the initial state): (P,)."""
    if reverse:
        adjoint_after, states_before, boundary = adjoint[:, :-1], states[:, 1:], adjoint[:, -1]
    else:
        adjoint_after, states_before, boundary = adjoint[:, 1:], states[:, :-1], adjoint[:, 0]
    grad = torch.linalg.vecdot(states_before, adjoint_after, dim=1).sum(0)  # vecdot conjugates its first argument
    if initial_state is not None:
        grad = grad + torch.linalg.vecdot(initial_state, boundary, dim=0)
    return grad


def lti_scan(Lambda_bar: torch.Tensor, b: torch.Tensor, initial_state: torch.Tensor | None = None,
             reverse: bool = False) -> torch.Tensor:
    """All states x[0..L−1] of x[t] = Λ̄ x[t−1] + b[t] from x[−1] = ``initial_state`` (B, P) or 0, for poles
    ``Lambda_bar`` (P,) and inputs ``b`` (B, L, P). ``reverse``: x[t] = Λ̄ x[t+1] + b[t] from x[L].
    Differentiable in all three tensors (first derivatives)."""
    return _LTIScan.apply(Lambda_bar, b, initial_state, reverse)


def lti_scan_(Lambda_bar: torch.Tensor, b: torch.Tensor, initial_state: torch.Tensor | None = None,
              reverse: bool = False) -> torch.Tensor:
    """``lti_scan`` written over ``b`` (contiguous, no autograd): returns ``b`` holding the states. Saves the
    second (B, L, P) buffer when nothing needs gradients."""
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (Lambda_bar, b, initial_state)):
        raise RuntimeError("lti_scan_ overwrites its input and records no gradient; use lti_scan under autograd")
    if not b.is_contiguous() or b.is_conj() or b.is_neg():
        raise ValueError("lti_scan_ needs a contiguous b without lazy conjugation")
    return _scan_into(Lambda_bar, b, b, initial_state, reverse)


def lti_scan_consume(Lambda_bar: torch.Tensor, b: torch.Tensor, initial_state: torch.Tensor | None = None,
                     reverse: bool = False) -> torch.Tensor:
    """``lti_scan`` for a ``b`` the caller gives up (a fresh temporary such as B̄u): written over ``b`` when no
    gradient is recorded (``lti_scan_``, one (B, L, P) buffer instead of two), else the autograd ``lti_scan``."""
    recording = torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (Lambda_bar, b, initial_state))
    if recording or not b.is_contiguous() or b.is_conj() or b.is_neg():
        return lti_scan(Lambda_bar, b, initial_state, reverse)
    return _scan_into(Lambda_bar, b, b, initial_state, reverse)


def lti_scan_from(Lambda_bar: torch.Tensor, b: torch.Tensor, initial_state: torch.Tensor | None) -> torch.Tensor:
    """``lti_scan`` continuing from x[−1] = ``initial_state`` (B, P) or 0."""
    return lti_scan(Lambda_bar, b, initial_state)


def associative_scan(Lambda_bar: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The odd/even recursive scan through plain autograd (the previous ``lti_scan``; benchmarks compare it):
    pairs (2i, 2i+1) combine into one step with pole Λ̄², the half-length problem is solved recursively,
    and the even positions are filled in. O(L) work, O(log L) depth, x[−1] = 0."""
    length = b.shape[1]
    if length == 1:
        return b
    pairs = length // 2
    b_even, b_odd = b[:, 0 : 2 * pairs : 2], b[:, 1 : 2 * pairs : 2]
    x_odd = associative_scan(Lambda_bar * Lambda_bar, torch.addcmul(b_odd, Lambda_bar, b_even))  # x[1], x[3], ...
    # x[2i] = Λ̄ x[2i−1] + b[2i], with x[−1] = 0 shifted in front of the odd states
    previous = F.pad(x_odd, (0, 0, 1, 0))[:, : (length + 1) // 2]
    x_even = torch.addcmul(b[:, 0::2], Lambda_bar, previous)
    interleaved = torch.stack([x_even[:, :pairs], x_odd], dim=2).flatten(1, 2)
    if length % 2:
        interleaved = torch.cat([interleaved, x_even[:, pairs:]], dim=1)
    return interleaved


def sequential_scan(Lambda_bar: torch.Tensor, b: torch.Tensor, initial_state: torch.Tensor | None = None) -> torch.Tensor:
    """The same recurrence as a time loop, from x[−1] = ``initial_state`` (B, P) or 0: S5's recurrent mode and
    the plain baseline for benchmarks (unbind keeps backward O(L))."""
    state = torch.zeros_like(b[:, 0]) if initial_state is None else initial_state
    states = []
    for b_t in b.unbind(1):
        state = torch.addcmul(b_t, Lambda_bar, state)
        states.append(state)
    return torch.stack(states, dim=1)
