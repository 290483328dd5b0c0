"""Linear recurrences x[t] = Λ̄ ⊙ x[t−1] + b[t] along dim 1 of a (B, L, P) tensor.

``lti_scan`` is the odd/even associative scan (the algorithm of ``jax.lax.associative_scan``) for a
time-invariant Λ̄: pairs (2i, 2i+1) are combined into one step with pole Λ̄², the half-length problem is
solved recursively, and the even positions are filled in. O(L) work, O(log L) depth, plain autograd.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def lti_scan(Lambda_bar: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """All states x[0..L−1] with x[−1] = 0, for poles ``Lambda_bar`` (P,) and inputs ``b`` (B, L, P)."""
    length = b.shape[1]
    if length == 1:
        return b
    pairs = length // 2
    b_even, b_odd = b[:, 0 : 2 * pairs : 2], b[:, 1 : 2 * pairs : 2]
    x_odd = lti_scan(Lambda_bar * Lambda_bar, torch.addcmul(b_odd, Lambda_bar, b_even))  # x[1], x[3], ...
    # x[2i] = Λ̄ x[2i−1] + b[2i], with x[−1] = 0 shifted in front of the odd states
    previous = F.pad(x_odd, (0, 0, 1, 0))[:, : (length + 1) // 2]
    x_even = torch.addcmul(b[:, 0::2], Lambda_bar, previous)
    interleaved = torch.stack([x_even[:, :pairs], x_odd], dim=2).flatten(1, 2)
    if length % 2:
        interleaved = torch.cat([interleaved, x_even[:, pairs:]], dim=1)
    return interleaved


def lti_scan_from(Lambda_bar: torch.Tensor, b: torch.Tensor, initial_state: torch.Tensor | None) -> torch.Tensor:
    """``lti_scan`` continuing from x[−1] = ``initial_state`` (B, P): the state enters as Λ̄·x[−1] in b[0]."""
    if initial_state is None:
        return lti_scan(Lambda_bar, b)
    first = b[:, :1] + (Lambda_bar * initial_state)[:, None]
    return lti_scan(Lambda_bar, torch.cat([first, b[:, 1:]], dim=1))


def sequential_scan(Lambda_bar: torch.Tensor, b: torch.Tensor, initial_state: torch.Tensor | None = None) -> torch.Tensor:
    """The same recurrence as a time loop, from x[−1] = ``initial_state`` (B, P) or 0: S5's recurrent mode and
    the plain baseline for benchmarks (unbind keeps backward O(L))."""
    state = torch.zeros_like(b[:, 0]) if initial_state is None else initial_state
    states = []
    for b_t in b.unbind(1):
        state = torch.addcmul(b_t, Lambda_bar, state)
        states.append(state)
    return torch.stack(states, dim=1)
