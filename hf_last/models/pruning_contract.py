"""The contract between a prunable SSM layer and the pruner, defined beside the layers that implement it.

A prunable layer exposes its stored modes as first-order discrete subsystems
G_i(z) = C_i B̄_i / (z − λ̄_i) through ``modal_subsystems()`` and removes modes physically through
``keep_modes(indices)``, which returns the layer's new ``per_layer_config`` entry. Criteria only ever see
the arrays below; the pruner never touches parameter names. ``hf_last.pruning`` depends on this module,
never the other way round, so a model loads without any pruning code.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class ModalSubsystems:
    """The stored modes of one layer (M of them).

    Attributes:
        Lambda_bar: discrete poles λ̄_i, complex (M,).
        b_norm2: ‖B̄_i‖², squared norm of mode i's input row (M,).
        c_norm2: ‖C_i‖² per direction, (directions, M): one row, or forward and backward rows.
        states_per_mode: states one stored mode represents (2 for a conjugate pair, else 1).
        decay: Re(λ_i)·Δ_i of the continuous-time pole (M,), or None. Stability is its sign (< 0: the mode
            decays), decided exactly even where |λ̄_i| rounds to 1; without it, |λ̄_i| < 1 decides.
    """

    Lambda_bar: torch.Tensor
    b_norm2: torch.Tensor
    c_norm2: torch.Tensor
    states_per_mode: int
    decay: torch.Tensor | None = None

    @property
    def num_modes(self) -> int:
        return self.Lambda_bar.shape[0]


def is_prunable(module) -> bool:
    """True for layers implementing the contract."""
    return callable(getattr(module, "modal_subsystems", None)) and callable(getattr(module, "keep_modes", None))


def keep_parameter_rows(parameter: torch.nn.Parameter, indices: torch.Tensor, dim: int = 0) -> torch.nn.Parameter:
    """A new parameter holding ``parameter`` restricted to ``indices`` along ``dim`` (a copy, not a view)."""
    kept = parameter.detach().index_select(dim, indices.to(parameter.device)).clone()
    return torch.nn.Parameter(kept, requires_grad=parameter.requires_grad)
