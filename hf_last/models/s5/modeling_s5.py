"""S5: a layer that is one diagonal MIMO system (Smith et al., 2023) as a transformers model.

Parameters of a layer with P stored modes (λ = Lambda_re + i·Lambda_im, Δ_p = exp(log_step[p])):
``Lambda_re``, ``Lambda_im``, ``log_step`` (P,), ``B`` (P, H, 2) and ``C`` (H, P, 2) complex as real pairs,
``C_backward`` (H, P, 2) if bidirectional, ``D`` (H,). Parallel mode is the chunked scan ``lti_scan``.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from transformers import initialization as init

from ...ssm.discretization import discretize
from ...ssm.initialization import s5_hippo_n
from ...ssm.scan import lti_scan, lti_scan_consume, sequential_scan
from ..modeling_ssm import DiagonalSSMForSequenceClassification, DiagonalSSMMixer, DiagonalSSMModel, DiagonalSSMPreTrainedModel
from ..pruning_contract import keep_parameter_rows
from .configuration_s5 import S5Config


class S5Mixer(DiagonalSSMMixer):
    """The S5 SSM of one layer: x[k] = Λ̄x[k−1] + B̄u[k], y[k] = f·Re(C̃x[k]) + Du[k]."""

    ssm_parameter_names = ("Lambda_re", "Lambda_im", "log_step", "B")

    def __init__(self, config: S5Config, layer_idx: int):
        super().__init__(config, layer_idx)
        layer_config = config.per_layer_config[layer_idx]
        self.state_size = layer_config.state_size
        self.blocks = config.blocks
        self.conj_sym = config.conj_sym
        self.c_init = config.c_init
        modes = self.state_size // config.states_per_mode
        self.Lambda_re = nn.Parameter(torch.empty(modes))
        self.Lambda_im = nn.Parameter(torch.empty(modes))
        self.log_step = nn.Parameter(torch.empty(modes))
        self.B = nn.Parameter(torch.empty(modes, self.hidden_size, 2))
        self.C = nn.Parameter(torch.empty(self.hidden_size, modes, 2))
        self.C_backward = nn.Parameter(torch.empty(self.hidden_size, modes, 2)) if self.bidirectional else None
        self.D = nn.Parameter(torch.empty(self.hidden_size))

    @property
    def num_modes(self) -> int:
        return self.Lambda_re.shape[0]

    def reset_ssm_parameters(self) -> None:
        """HiPPO-N init: Λ from ``s5_hippo_n``, B̃ = V⁻¹B with B lecun-normal, C̃ = CV (or complex normal)."""
        Lambda, V = s5_hippo_n(self.state_size, self.blocks, self.conj_sym)
        V = torch.from_numpy(V)
        init.copy_(self.Lambda_re, torch.from_numpy(Lambda.real))
        init.copy_(self.Lambda_im, torch.from_numpy(Lambda.imag))
        B = torch.randn(self.state_size, self.hidden_size, dtype=torch.float64) / math.sqrt(self.hidden_size)
        init.copy_(self.B, torch.view_as_real(V.conj().T @ B.to(V.dtype)))
        for C in (self.C, self.C_backward):
            if C is None:
                continue
            if self.c_init == "complex_normal":
                init.normal_(C, std=0.5**0.5)
                continue
            raw = torch.randn(self.hidden_size, self.state_size, 2, dtype=torch.float64) / math.sqrt(self.state_size)
            if self.c_init == "trunc_standard_normal":
                raw = raw.clamp(-2 / math.sqrt(self.state_size), 2 / math.sqrt(self.state_size))
            init.copy_(C, torch.view_as_real(torch.view_as_complex(raw) @ V))
        init.normal_(self.D)
        init.copy_(self.log_step, self.log_uniform_steps(self.num_modes))

    state_axes = "modes"

    @property
    def state_shape(self) -> tuple[int, ...]:
        """Shape of one sequence's recurrent state: (P,)."""
        return (self.num_modes,)

    def init_state(self, batch_size: int, dtype: torch.dtype, device) -> torch.Tensor:
        return torch.zeros(batch_size, *self.state_shape, dtype=self.complex_dtype(dtype), device=device)

    def continuous_poles(self) -> torch.Tensor:
        return torch.complex(self.clipped(self.Lambda_re), self.Lambda_im)

    def steps(self, step_rescale: float) -> torch.Tensor:
        """Δ of every mode, times ``step_rescale``."""
        return torch.exp(self.log_step) * step_rescale

    def discrete_system(self, step_rescale: float = 1.0):
        """(Λ̄ (P,), B̄ (P, H), C̃ (H, P), C̃_backward or None): the layer in discrete time."""
        Lambda_bar, gamma = discretize(self.continuous_poles(), self.steps(step_rescale), self.discretization)
        C_backward = None if self.C_backward is None else self.as_complex(self.C_backward)
        return Lambda_bar, gamma[:, None] * self.as_complex(self.B), self.as_complex(self.C), C_backward

    @staticmethod
    def input_weight(B_bar: torch.Tensor) -> torch.Tensor:
        """B̄ (P, H) as the real (H, 2P) matrix W with u @ W = [Re B̄u, Im B̄u] interleaved."""
        return torch.view_as_real(B_bar).permute(1, 0, 2).reshape(B_bar.shape[1], -1)

    def output_weight(self, C: torch.Tensor) -> torch.Tensor:
        """C̃ (H, P) as the real (2P, H) matrix W with [Re x, Im x] @ W = f·Re(C̃x)."""
        return self.output_factor * torch.stack([C.real, -C.imag], dim=-1).flatten(-2).T

    @staticmethod
    def project_input(u: torch.Tensor, input_weight: torch.Tensor) -> torch.Tensor:
        """B̄u for real u (..., H) as one real matmul, viewed as complex (..., P)."""
        return torch.view_as_complex((u @ input_weight).unflatten(-1, (-1, 2)))

    @staticmethod
    def project_output(x: torch.Tensor, output_weight: torch.Tensor) -> torch.Tensor:
        """f·Re(C̃x) = f·(C_re x_re − C_im x_im) as one real matmul."""
        return torch.view_as_real(x).flatten(-2) @ output_weight

    def parallel_forward(self, u, step_rescale=1.0, state=None, return_state=False, overwrite_input=False):
        """The scan over (B, L, H). ``overwrite_input`` (no gradient recorded, ``u`` contiguous and given up by the
        caller): y = Du is written into u's buffer once B̄u is formed and the output map is added onto it, so the
        layer's peak is B̄u (its states, in place) plus one (B, L, H) buffer instead of two."""
        Lambda_bar, B_bar, C, C_backward = self.discrete_system(step_rescale)
        Bu = self.project_input(u, self.input_weight(B_bar))
        backward_y = None
        if C_backward is not None:  # before the forward scan, which may overwrite B̄u
            backward_y = self.project_output(lti_scan(Lambda_bar, Bu, reverse=True), self.output_weight(C_backward))
        states = lti_scan_consume(Lambda_bar, Bu, state)  # under no_grad: the states reuse B̄u's buffer
        final = states[:, -1].clone() if return_state else None  # a copy: a view would keep all L states alive
        if overwrite_input:
            y = u.mul_(self.D)  # Du in u's buffer: u is not read again
            y.view(-1, y.shape[-1]).addmm_(torch.view_as_real(states).view(-1, 2 * states.shape[-1]),
                                            self.output_weight(C))
        else:
            y = self.project_output(states, self.output_weight(C)).addcmul_(self.D, u)  # + Du, in place on the fresh matmul output
        if backward_y is not None:
            y = y.add_(backward_y)
        return y, final

    def recurrent_system(self, step_rescale: float = 1.0):
        """(Λ̄, real input weight, real output weight): everything a step needs, built once."""
        Lambda_bar, B_bar, C, _ = self.discrete_system(step_rescale)
        return Lambda_bar, self.input_weight(B_bar), self.output_weight(C)

    def recurrent_step(self, system, u_t, state):
        """x' = Λ̄x + B̄u, y = f·Re(C̃x') + Du on (B, ·) in four ops: Λ̄x (complex), B̄u added in place by one real
        ``addmm`` on [Re, Im] pairs of x', Du, and the output map as one ``addmm`` onto Du. A step at small
        batch is latency-bound, so fewer ops (no separate adds, no view round trips) is what makes it fast."""
        Lambda_bar, input_weight, output_weight = system
        state = Lambda_bar * state
        pairs = torch.view_as_real(state).view(state.shape[0], -1)  # (B, 2P), the same memory as the state
        pairs.addmm_(u_t, input_weight)
        return torch.addmm(self.D * u_t, pairs, output_weight), state

    def recurrent_forward(self, system, u, state):
        """Recurrent mode over (B, L, H): B̄u and the output map as one matmul each over all steps, the
        recurrence x[k] = Λ̄x[k−1] + B̄u[k] one step at a time (the same arithmetic as ``recurrent_step``)."""
        Lambda_bar, input_weight, output_weight = system
        states = sequential_scan(Lambda_bar, self.project_input(u, input_weight), state)
        return self.project_output(states, output_weight).addcmul_(self.D, u), states[:, -1]

    def mode_norm2(self, values: torch.Tensor, kind: str) -> torch.Tensor:
        """‖B̄_i‖² of row i of B̄ (P, H), or ‖C_i‖² of column i of C̃ (H, P)."""
        return (values.abs() ** 2).sum(dim=1 if kind == "input" else 0)

    @torch.no_grad()
    def keep_modes(self, indices) -> dict:
        """Keep only the modes ``indices``; returns the layer's ``per_layer_config`` entry."""
        indices = torch.as_tensor(indices, dtype=torch.long).unique()
        for name, dim in (("Lambda_re", 0), ("Lambda_im", 0), ("log_step", 0), ("B", 0), ("C", 1), ("C_backward", 1)):
            if getattr(self, name) is not None:
                setattr(self, name, keep_parameter_rows(getattr(self, name), indices, dim))
        self.state_size = self.num_modes * (2 if self.conj_sym else 1)
        return {"state_size": self.state_size}


class S5PreTrainedModel(DiagonalSSMPreTrainedModel):
    config_class = S5Config
    config: S5Config
    mixer_class = S5Mixer


class S5Model(S5PreTrainedModel, DiagonalSSMModel):
    """The bare S5 backbone: encoder and SSM blocks, returning the last hidden state."""


class S5ForSequenceClassification(S5PreTrainedModel, DiagonalSSMForSequenceClassification):
    """S5 with pooling over time and a linear classifier (``num_labels``, ``problem_type``)."""

    backbone_class = S5Model
