"""S4D: a layer of H independent diagonal SISO systems (Gu et al., 2022) as a transformers model.

Modes are stored *packed*: one flat array of modes ordered by channel, with per-channel counts from
``config.channel_sizes(layer_idx)``, so channels may keep different numbers of modes (after pruning)
with no padding in the weights. For kernel generation the flat modes are scattered into a (H, max modes)
grid with zero coefficients in the gaps.

Parameters of a layer with M stored modes (λ = −exp(log_A_real) + i·A_imag, Δ_h = exp(log_dt[h])):
``log_dt`` (H,), ``log_A_real`` (M,), ``A_imag`` (M,), ``B`` (M, 2) and ``C`` (M, 2) complex as real pairs,
``C_backward`` (M, 2) if bidirectional, ``D`` (H,), and the persistent buffer ``mode_channel`` (M,): each mode's
channel, saved with the weights so that a config.json whose ``channel_state_sizes`` no longer match them (e.g.
permuted, same total) is refused on loading instead of silently computing another layer.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from transformers import initialization as init

from ...ssm.discretization import discretize, log_discrete_poles
from ...ssm.initialization import s4d_poles
from ...ssm.kernels import bidirectional_kernel, fft_convolution, reversed_power_sums, vandermonde_kernel
from ..modeling_ssm import DiagonalSSMForSequenceClassification, DiagonalSSMMixer, DiagonalSSMModel, DiagonalSSMPreTrainedModel
from ..pruning_contract import keep_parameter_rows
from .configuration_s4d import S4DConfig


class S4DMixer(DiagonalSSMMixer):
    """The S4D SSM of one layer; kernel K_h[l] = f·Re Σ_{n ∈ h} C_n B̄_n Λ̄_n^l, y = K * u + D u."""

    ssm_parameter_names = ("log_dt", "log_A_real", "A_imag", "B")

    def __init__(self, config: S4DConfig, layer_idx: int):
        super().__init__(config, layer_idx)
        self.ssm_init = config.ssm_init
        self.conj_sym = config.conj_sym
        self.channel_state_sizes = config.channel_sizes(layer_idx)
        modes = [n // config.states_per_mode for n in self.channel_state_sizes]
        total = sum(modes)
        self._set_mode_layout(modes)

        self.log_dt = nn.Parameter(torch.empty(self.hidden_size))
        self.log_A_real = nn.Parameter(torch.empty(total))
        self.A_imag = nn.Parameter(torch.empty(total))
        self.B = nn.Parameter(torch.empty(total, 2))
        self.C = nn.Parameter(torch.empty(total, 2))
        self.C_backward = nn.Parameter(torch.empty(total, 2)) if self.bidirectional else None
        self.D = nn.Parameter(torch.empty(self.hidden_size))

    def _set_mode_layout(self, modes) -> None:
        """Index buffers of the packed layout: each mode's channel (saved with the weights) and its position
        inside the channel (derived, not saved)."""
        modes = [int(m) for m in modes]
        device = getattr(getattr(self, "mode_channel", None), "device", None)
        channel, position = self._layout_indices(modes)
        self.register_buffer("mode_channel", channel.to(device), persistent=True)
        self.register_buffer("mode_position", position.to(device), persistent=False)
        self.max_modes = max(modes)
        self.uniform = min(modes) == self.max_modes

    @staticmethod
    def _layout_indices(modes: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        channel = [c for c, count in enumerate(modes) for _ in range(count)]
        position = [p for count in modes for p in range(count)]
        return torch.tensor(channel, dtype=torch.long), torch.tensor(position, dtype=torch.long)

    @property
    def num_modes(self) -> int:
        return self.A_imag.shape[0]

    def check_channel_layout(self, mode_channel: torch.Tensor, source: str) -> None:
        """Refuse weights saved with another channel layout than this layer's ``channel_state_sizes``.

        ``mode_channel`` is the saved per-mode channel index; ``source`` names where it comes from.
        """
        spm = 2 if self.conj_sym else 1
        expected, _ = self._layout_indices([n // spm for n in self.channel_state_sizes])
        stored = mode_channel.detach().cpu().long()
        if stored.shape == expected.shape and torch.equal(stored, expected):
            return
        saved_sizes = (torch.bincount(stored, minlength=self.hidden_size) * spm).tolist() if stored.numel() else []
        raise ValueError(
            f"{source}: the weights of layer {self.layer_idx} were saved for channel_state_sizes {saved_sizes}, but the "
            f"config gives {self.channel_state_sizes}. The config does not belong to these weights (was "
            f"per_layer_config[{self.layer_idx}].channel_state_sizes in config.json edited?); restore it to "
            f"{saved_sizes}.")

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """``load_state_dict`` checks the saved channel layout before copying anything."""
        if prefix + "mode_channel" in state_dict:
            self.check_channel_layout(state_dict[prefix + "mode_channel"], "load_state_dict")
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def reset_ssm_parameters(self) -> None:
        """S4D init: poles and B from ``ssm_init`` per channel, C ~ CN(0, 1), D ~ N(0, 1), log Δ log-uniform."""
        # from_pretrained leaves non-persistent buffers uninitialised: rebuild the packed layout first
        channel, position = self._layout_indices([n // (2 if self.conj_sym else 1) for n in self.channel_state_sizes])
        init.copy_(self.mode_channel, channel)
        init.copy_(self.mode_position, position)
        cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for n in self.channel_state_sizes:
            if n not in cache:
                cache[n] = s4d_poles(n, self.ssm_init, self.conj_sym)
        Lambda = np.concatenate([cache[n][0] for n in self.channel_state_sizes])
        B = np.concatenate([cache[n][1] for n in self.channel_state_sizes])
        init.copy_(self.log_A_real, torch.from_numpy(np.log(-Lambda.real)))
        init.copy_(self.A_imag, torch.from_numpy(Lambda.imag))
        init.copy_(self.B, torch.view_as_real(torch.from_numpy(B)))
        init.normal_(self.C, std=0.5**0.5)
        if self.C_backward is not None:
            init.normal_(self.C_backward, std=0.5**0.5)
        init.normal_(self.D)
        init.copy_(self.log_dt, self.log_uniform_steps(self.hidden_size))

    state_axes = "channels, max modes per channel"

    @property
    def state_shape(self) -> tuple[int, ...]:
        """Shape of one sequence's recurrent state: the channel grid (H, max modes)."""
        return (self.hidden_size, self.max_modes)

    def init_state(self, batch_size: int, dtype: torch.dtype, device) -> torch.Tensor:
        """Zero state on the channel grid (B, H, max modes): a step is then a few dense elementwise ops for
        uniform and ragged layers alike (gaps hold zeros and stay zero). ``from_channel_grid`` packs it."""
        return torch.zeros((batch_size, *self.state_shape), dtype=self.complex_dtype(dtype), device=device)

    def continuous_poles(self) -> torch.Tensor:
        """λ = −exp(log_A_real) + i·A_imag for every stored mode (M,)."""
        return torch.complex(self.clipped(-torch.exp(self.log_A_real)), self.A_imag)

    def steps(self, step_rescale: float) -> torch.Tensor:
        """Δ of every mode (its channel's step), times ``step_rescale``."""
        return torch.exp(self.log_dt)[self.mode_channel] * step_rescale

    def discrete_system(self, step_rescale: float = 1.0):
        """(Λ̄ (M,), B̄ (M,), C (M,), C_backward (M,) or None): the layer's modes in discrete time."""
        Lambda_bar, gamma = discretize(self.continuous_poles(), self.steps(step_rescale), self.discretization)
        C_backward = None if self.C_backward is None else self.as_complex(self.C_backward)
        return Lambda_bar, gamma * self.as_complex(self.B), self.as_complex(self.C), C_backward

    def to_channel_grid(self, values: torch.Tensor) -> torch.Tensor:
        """Scatter packed per-mode values (..., M) into (..., H, max modes), zeros in the gaps."""
        if self.uniform:
            return values.unflatten(-1, (self.hidden_size, self.max_modes))
        grid = values.new_zeros((self.hidden_size, self.max_modes) + values.shape[:-1])
        grid = grid.index_put((self.mode_channel, self.mode_position), values.movedim(-1, 0))
        return grid.movedim((0, 1), (-2, -1))

    def from_channel_grid(self, grid: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`to_channel_grid`: (..., H, max modes) -> (..., M)."""
        if self.uniform:
            return grid.flatten(-2)
        return grid[..., self.mode_channel, self.mode_position]

    def kernel(self, length: int, step_rescale: float = 1.0) -> torch.Tensor:
        """Convolution kernel (H, length), or (H, 2·length) two-sided when bidirectional."""
        Lambda = self.continuous_poles()
        step = self.steps(step_rescale)
        _, gamma = discretize(Lambda, step, self.discretization)
        log_poles = self.to_channel_grid(log_discrete_poles(Lambda, step, self.discretization))
        B_bar = gamma * self.as_complex(self.B)

        def directional(C):
            coefficients = self.to_channel_grid(self.output_factor * self.as_complex(C) * B_bar)
            return vandermonde_kernel(coefficients, log_poles, length)

        forward = directional(self.C)
        if self.C_backward is None:
            return forward
        return bidirectional_kernel(forward, directional(self.C_backward))

    def parallel_forward(self, u, step_rescale=1.0, state=None, return_state=False, overwrite_input=False):
        """FFT convolution with the kernel, + Du. ``overwrite_input`` (no gradient recorded, ``u`` given up by the
        caller, no state to carry: the zero-input and final-state terms read u): y is written into u's buffer."""
        length = u.shape[1]
        if overwrite_input and state is None and not return_state:
            convolved = fft_convolution(u, self.kernel(length, step_rescale))
            return u.mul_(self.D).add_(convolved), None  # the same sum as addcmul(convolved, D, u)
        y = torch.addcmul(fft_convolution(u, self.kernel(length, step_rescale)), self.D, u)
        if state is None and not return_state:
            return y, None
        Lambda_bar, B_bar, C = self.recurrent_system(step_rescale)
        log_poles = self.to_channel_grid(log_discrete_poles(self.continuous_poles(), self.steps(step_rescale),
                                                            self.discretization))
        if state is not None:  # zero-input response of the initial state: f·Re Σ C Λ̄^(k+1) x[−1]
            free = vandermonde_kernel(self.output_factor * C * Lambda_bar * state, log_poles, length)
            y = y + free.transpose(1, 2)
        # x[L−1] = Λ̄^L x[−1] + B̄ Σ_d Λ̄^d u[L−1−d]
        final = B_bar * reversed_power_sums(log_poles, u)
        if state is not None:
            final = final + torch.exp(log_poles * length) * state
        return y, final

    def recurrent_system(self, step_rescale: float = 1.0):
        """(Λ̄, B̄, C) on the (H, max modes) channel grid; gaps of ragged layers hold zeros."""
        Lambda_bar, B_bar, C, _ = self.discrete_system(step_rescale)
        return self.to_channel_grid(Lambda_bar), self.to_channel_grid(B_bar), self.to_channel_grid(C)

    def recurrent_step(self, system, u_t, state):
        Lambda_bar, B_bar, C = system
        state = Lambda_bar * state + B_bar * u_t[..., None]
        return self.output_factor * (C * state).real.sum(-1) + self.D * u_t, state

    def mode_norm2(self, values: torch.Tensor, kind: str) -> torch.Tensor:
        """|b̄_n|² or |c_n|²: every S4D mode is a SISO system, its B̄ and C are scalars."""
        return values.abs() ** 2

    @torch.no_grad()
    def keep_modes(self, indices) -> dict:
        """Keep only the packed modes ``indices`` (channel order is preserved); returns the layer's config entry."""
        indices = torch.as_tensor(indices, dtype=torch.long).unique()
        for name in ("log_A_real", "A_imag", "B", "C", "C_backward"):
            if getattr(self, name) is not None:
                setattr(self, name, keep_parameter_rows(getattr(self, name), indices))
        spm = 2 if self.conj_sym else 1
        counts = torch.bincount(self.mode_channel[indices.to(self.mode_channel.device)], minlength=self.hidden_size)
        self.channel_state_sizes = [int(c) * spm for c in counts]
        self._set_mode_layout(counts.tolist())
        if len(set(self.channel_state_sizes)) == 1:
            return {"state_size": self.channel_state_sizes[0], "channel_state_sizes": None}
        return {"state_size": max(self.channel_state_sizes), "channel_state_sizes": list(self.channel_state_sizes)}


class S4DPreTrainedModel(DiagonalSSMPreTrainedModel):
    config_class = S4DConfig
    config: S4DConfig
    mixer_class = S4DMixer
    # checkpoints saved before mode_channel was persistent: the layout then comes from the config alone
    _keys_to_ignore_on_load_missing = [r"mixer\.mode_channel"]

    def check_loaded_weights(self, source: str) -> None:
        """Every layer's saved channel layout matches the config (called by ``from_pretrained``)."""
        for module in self.modules():
            if isinstance(module, S4DMixer):
                module.check_channel_layout(module.mode_channel, source)
                if module.mode_channel.dtype != torch.long:  # loading with dtype= casts the mixer's tensors
                    module.mode_channel = module.mode_channel.round().long()

    def load_state_dict(self, state_dict, *args, **kwargs):
        """``nn.Module.load_state_dict``, after checking every layer's saved channel layout: a mismatch raises before
        any tensor is copied (the mixers' own check would leave the layers before it loaded)."""
        for name, module in self.named_modules():
            if isinstance(module, S4DMixer) and f"{name}.mode_channel" in state_dict:
                module.check_channel_layout(state_dict[f"{name}.mode_channel"], "load_state_dict")
        return super().load_state_dict(state_dict, *args, **kwargs)


class S4DModel(S4DPreTrainedModel, DiagonalSSMModel):
    """The bare S4D backbone: encoder and SSM blocks, returning the last hidden state."""


class S4DForSequenceClassification(S4DPreTrainedModel, DiagonalSSMForSequenceClassification):
    """S4D with pooling over time and a linear classifier (``num_labels``, ``problem_type``)."""

    backbone_class = S4DModel
