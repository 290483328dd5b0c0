"""Pieces shared by S4D and S5: the mixer interface, the residual block, the backbone and the heads.

A *mixer* is the SSM of one layer (``S4DMixer``, ``S5Mixer``). Everything around it — input encoders,
normalisation, the channel-mixing output layer, pooling, the classification head and the loss — is
identical for both families and lives here, following ``transformers/models/mamba/modeling_mamba.py``.
"""

from __future__ import annotations

import operator
from contextlib import ExitStack, contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import SequenceClassifierOutput
from transformers.utils import ModelOutput, can_return_tuple

from .checkpoint_files import check_checkpoint_folder, unreadable_weights_error
from .configuration_ssm import check_step_rescale
from .pruning_contract import ModalSubsystems

MODES = ("parallel", "recurrent")
_VERSION = operator.attrgetter("_version")  # a tensor's in-place version counter
HALF_PRECISION = (torch.float16, torch.bfloat16)
CHANNEL_CHUNK_ROWS = 1024  # (batch·time) rows per chunk of the no_grad channel mixing (SSMBlock.mix_channels_inference)


_GIVEN_UP_INPUT: ContextVar[torch.Tensor | None] = ContextVar("hf_last_given_up_input", default=None)


@contextmanager
def giving_up(tensor: torch.Tensor):
    """Within: ``tensor`` is a temporary its owner will not read again, so a mixer called on it may write its
    output over it where no gradient is recorded (``DiagonalSSMMixer.forward``; one (B, L, H) buffer less at the
    layer's peak). A context rather than an argument, so the mixers' ``forward`` signature stays as it is."""
    token = _GIVEN_UP_INPUT.set(tensor)
    try:
        yield
    finally:
        _GIVEN_UP_INPUT.reset(token)


def observed(*modules: nn.Module) -> bool:
    """Whether a forward (pre-)hook, on one of ``modules`` or global, may keep a reference to their inputs or
    outputs: the no_grad paths that write over those buffers then stay off, so hooks see what they saw before."""
    if nn.modules.module._global_forward_hooks or nn.modules.module._global_forward_pre_hooks:
        return True
    return any(module._forward_hooks or module._forward_pre_hooks for module in modules)


class DiagonalSSMMixer(nn.Module):
    """One diagonal SSM layer: u (B, L, H) -> y (B, L, H), in parallel or recurrent mode.

    Subclasses implement ``reset_ssm_parameters``, ``state_shape``, ``init_state``, ``continuous_poles``, ``steps``,
    ``discrete_system``, ``parallel_forward``, ``recurrent_step`` (optionally a faster ``recurrent_forward``)
    and, for pruning, ``mode_norm2`` and ``keep_modes`` (the contract of :mod:`hf_last.models.pruning_contract`).
    States follow x[k] = Λ̄x[k−1] + B̄u[k], y[k] = f·Re(Cx[k]) + Du[k].
    """

    def __init__(self, config, layer_idx: int):
        super().__init__()
        self.layer_idx = layer_idx
        self.hidden_size = config.hidden_size
        self.discretization = config.discretization
        self.bidirectional = config.bidirectional
        self.clip_eigs = config.clip_eigs
        self.output_factor = 2.0 if config.conj_sym else 1.0
        self.dt_min, self.dt_max = config.dt_min, config.dt_max

    def forward(
        self,
        u: torch.Tensor,
        step_rescale: float = 1.0,
        state: torch.Tensor | None = None,
        return_state: bool = False,
        mode: str = "parallel",
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Run the layer over a (B, L, H) input; returns (y of u's dtype and shape, final state or None).

        ``state`` (complex, ``(B, *state_shape)``) continues a stream from a previous call; ``return_state``
        returns the state after the last step; ``mode`` is ``"parallel"`` or ``"recurrent"``. The SSM math runs in
        :meth:`compute_dtype` (float32 for a half-precision model) and ``y`` is cast back to ``u.dtype``.
        Where no gradient is recorded and the caller has given ``u`` up (:func:`giving_up`), or ``u`` is this
        call's own cast of the input, the parallel mode may write ``y`` into ``u``'s memory instead of a new
        (B, L, H) buffer.
        """
        if (mode == "recurrent" or state is not None or return_state) and self.bidirectional:
            raise ValueError(
                "A bidirectional layer reads future inputs, so it cannot run in recurrent/streaming mode. "
                "Use mode='parallel' without a recurrent state, or a model with bidirectional=False."
            )
        with self.ssm_precision(u) as compute:
            u_compute = u.to(compute)
            overwrite = not torch.is_grad_enabled() and u_compute.is_contiguous() \
                and (u_compute is not u or _GIVEN_UP_INPUT.get() is u)
            y, state = self._forward(u_compute, step_rescale, state, return_state, mode, overwrite)
        return y.to(u.dtype), state

    def _forward(self, u, step_rescale, state, return_state, mode, overwrite_input=False):
        if mode == "parallel":
            return self.parallel_forward(u, step_rescale, state, return_state, overwrite_input)
        system = self.cached_recurrent_system(step_rescale)
        if state is None:
            state = self.init_state(u.shape[0], u.dtype, u.device)
        return self.recurrent_forward(system, u, state)

    def step(self, system, u_t: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``recurrent_step`` on one time step (B, H) with the SSM math in :meth:`compute_dtype`; the output has
        ``u_t``'s dtype. ``system`` comes from :meth:`cached_recurrent_system`."""
        with self.ssm_precision(u_t) as compute:
            y_t, state = self.recurrent_step(system, u_t.to(compute), state)
        return y_t.to(u_t.dtype), state

    # ---- precision: the SSM math runs in float32 or better, whatever the model's dtype ---------------------
    def parameter_dtype(self) -> torch.dtype:
        """The dtype the mixer's parameters are stored in."""
        return next(p.dtype for p in self._parameters.values() if p is not None)

    def compute_dtype(self) -> torch.dtype:
        """The real dtype of the SSM math (discretisation, kernels, scans, states): the parameters' dtype,
        upcast to float32 when they are stored in half precision (float16/bfloat16 have no complex kernels on
        CPU, and |λ̄|^L needs more than 8 mantissa bits). Recurrent states use the matching complex dtype."""
        return torch.promote_types(self.parameter_dtype(), torch.float32)

    @contextmanager
    def ssm_precision(self, u: torch.Tensor):
        """Context for the SSM math of one call on input ``u``; yields :meth:`compute_dtype`.

        Inside, parameters stored in half precision read as float32 copies (differentiable casts: gradients
        reach the stored parameters in their own dtype) and autocast is off (its bf16/fp16 matmuls would feed
        complex arithmetic that has no half-precision kernels). Nothing happens for a float32/float64 model
        outside autocast, so that path is unchanged.
        """
        compute = self.compute_dtype()
        with ExitStack() as stack:
            if torch.is_autocast_enabled(u.device.type):
                stack.enter_context(torch.autocast(u.device.type, enabled=False))
            if compute != self.parameter_dtype():
                stack.enter_context(self._upcast_parameters(compute))
            yield compute

    @contextmanager
    def _upcast_parameters(self, dtype: torch.dtype):
        """Within: the mixer's own parameters (it has no submodules) replaced by ``dtype`` casts of themselves."""
        stored = {name: p for name, p in self._parameters.items() if p is not None}
        try:
            for name, parameter in stored.items():
                self._parameters[name] = parameter.to(dtype)
            yield
        finally:
            self._parameters.update(stored)

    def extra_repr(self) -> str:
        """Sizes shown by ``print(model)``: channels, stored modes and states (a conjugate pair is 2), and how."""
        states = self.num_modes * (2 if self.conj_sym else 1)
        parts = [f"hidden_size={self.hidden_size}", f"modes={self.num_modes}", f"states={states}"]
        channel_sizes = getattr(self, "channel_state_sizes", None)  # S4D: every channel is its own SISO system
        if channel_sizes is not None and len(set(channel_sizes)) == 1:
            parts.append(f"states_per_channel={channel_sizes[0]}")
        elif channel_sizes is not None:  # after pruning, channels keep different numbers of states
            parts.append(f"states_per_channel={min(channel_sizes)}..{max(channel_sizes)}")
        parts.append(f"discretization={self.discretization!r}")
        if self.bidirectional:
            parts.append("bidirectional=True")
        return ", ".join(parts)

    def recurrent_forward(self, system, u, state):
        """Recurrent mode over a (B, L, H) input: ``recurrent_step`` once per time step. Returns (y, last state)."""
        outputs = []
        for u_t in u.unbind(1):
            y_t, state = self.recurrent_step(system, u_t, state)
            outputs.append(y_t)
        return torch.stack(outputs, dim=1), state

    def recurrent_system(self, step_rescale: float = 1.0):
        """What ``recurrent_step`` needs, computed once per sequence (by default the discrete system)."""
        return self.discrete_system(step_rescale)

    def cached_recurrent_system(self, step_rescale: float = 1.0):
        """``recurrent_system``, reused across calls while no gradient is recorded and the parameters are
        unchanged (same storage, same in-place version): streaming one step at a time then pays the
        discretization once, not per step."""
        if torch.is_grad_enabled():
            return self._recurrent_system_in_compute_dtype(step_rescale)
        # the mixer's own parameters (it has no submodules): cheaper than self.parameters() on every step
        key = (float(step_rescale), tuple((p.data_ptr(), p._version, p.dtype) for p in self._parameters.values() if p is not None))
        cache = getattr(self, "_recurrent_system_cache", None)
        if cache is None or cache[0] != key:
            cache = (key, self._recurrent_system_in_compute_dtype(step_rescale))
            self._recurrent_system_cache = cache
        return cache[1]

    def _recurrent_system_in_compute_dtype(self, step_rescale: float):
        if self.compute_dtype() == self.parameter_dtype():
            return self.recurrent_system(step_rescale)
        with self._upcast_parameters(self.compute_dtype()):
            return self.recurrent_system(step_rescale)

    @torch.no_grad()
    def modal_subsystems(self, step_rescale: float = 1.0) -> ModalSubsystems:
        """The layer's stored modes as first-order subsystems C_i B̄_i / (z − λ̄_i) (the pruning contract), in
        :meth:`compute_dtype` (the pruner itself scores a float64 copy)."""
        with self._upcast_parameters(self.compute_dtype()):
            return self._modal_subsystems(step_rescale)

    def _modal_subsystems(self, step_rescale: float) -> ModalSubsystems:
        Lambda_bar, B_bar, C, C_backward = self.discrete_system(step_rescale)
        directions = [C] if C_backward is None else [C, C_backward]
        return ModalSubsystems(
            Lambda_bar=Lambda_bar,
            b_norm2=self.mode_norm2(B_bar, "input"),
            c_norm2=torch.stack([self.mode_norm2(c, "output") for c in directions]),
            states_per_mode=2 if self.conj_sym else 1,
            decay=self.continuous_poles().real * self.steps(step_rescale),
        )

    @staticmethod
    def as_complex(pairs: torch.Tensor) -> torch.Tensor:
        """``view_as_complex`` of a (..., 2) real parameter, copied when its memory is not aligned for the
        complex dtype: from_pretrained memory-maps safetensors, so a tensor after one with an odd number of
        elements (e.g. a pruned layer with 3 modes) can start 8 bytes off, and complex128 kernels on such a
        view crash (segfault)."""
        if pairs.data_ptr() % (2 * pairs.element_size()):
            return torch.complex(pairs[..., 0], pairs[..., 1])
        return torch.view_as_complex(pairs)

    def complex_dtype(self, dtype: torch.dtype) -> torch.dtype:
        return torch.complex128 if dtype == torch.float64 else torch.complex64

    def log_uniform_steps(self, count: int) -> torch.Tensor:
        """log Δ ~ U[log dt_min, log dt_max]."""
        low, high = torch.log(torch.tensor(self.dt_min)), torch.log(torch.tensor(self.dt_max))
        return torch.rand(count) * (high - low) + low

    def clipped(self, real_part: torch.Tensor) -> torch.Tensor:
        return real_part.clamp(max=-1e-4) if self.clip_eigs else real_part


class SequenceNorm(nn.Module):
    """LayerNorm or BatchNorm over the channels of a (B, L, H) sequence."""

    def __init__(self, config):
        super().__init__()
        if config.norm_type == "layer":
            self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_epsilon)
        else:
            self.norm = nn.BatchNorm1d(config.hidden_size, eps=config.layer_norm_epsilon)

    def forward(self, hidden_states):
        if isinstance(self.norm, nn.BatchNorm1d):
            # (B·L, H) rows: the same per-channel statistics as (B, H, L), ~8x faster than the transposed layout
            return self.norm(hidden_states.reshape(-1, hidden_states.shape[-1])).view_as(hidden_states)
        return self.norm(hidden_states)


class SSMBlock(GradientCheckpointingLayer):
    """Residual block: [norm] -> SSM mixer -> GELU -> channel mixing (gelu|glu|half_glu1|half_glu2) -> [norm]."""

    def __init__(self, config, layer_idx: int, mixer_class: type[DiagonalSSMMixer]):
        super().__init__()
        self.layer_idx = layer_idx
        self.prenorm = config.prenorm
        self.activation = config.activation
        self.norm = SequenceNorm(config)
        self.mixer = mixer_class(config, layer_idx)
        width = config.hidden_size
        self.output_linear = nn.Linear(width, 2 * width if config.activation == "glu" else width)
        self.dropout = nn.Dropout(config.dropout)

    def extra_repr(self) -> str:
        return f"layer_idx={self.layer_idx}, prenorm={self.prenorm}, activation={self.activation!r}"

    def mix_channels(self, y):
        activated = self.drop(F.gelu(y))
        if self.activation == "glu":
            out = F.glu(self.output_linear(activated), dim=-1)
        elif self.activation == "half_glu1":
            out = activated * torch.sigmoid(self.output_linear(activated))
        elif self.activation == "half_glu2":
            out = y * torch.sigmoid(self.output_linear(activated))
        else:
            out = self.output_linear(activated)
        return self.drop(out)

    def drop(self, x):
        """Dropout, skipped outright when it is the identity (eval or p=0): a step is latency-bound."""
        return self.dropout(x) if self.training and self.dropout.p > 0 else x

    def step(self, hidden, state, system):
        """One time step on (B, H): the same block as ``forward`` without the sequence axis, for streaming.

        ``system`` is the mixer's ``cached_recurrent_system``; ``state`` its recurrent state.
        """
        x = self.step_norm(hidden) if self.prenorm else hidden
        y, state = self.mixer.step(system, x, state)
        out = self.step_channels(y, hidden)
        return (out if self.prenorm else self.step_norm(out)), state

    def step_norm(self, hidden):
        """``self.norm`` on (B, H) as one functional call when it is a LayerNorm or an eval-mode BatchNorm with
        running statistics (the same arithmetic without the module and reshape overhead of a latency-bound step)."""
        norm = self.norm.norm
        if isinstance(norm, nn.LayerNorm):
            return F.layer_norm(hidden, norm.normalized_shape, norm.weight, norm.bias, norm.eps)
        if not norm.training and norm.running_mean is not None:
            return F.batch_norm(hidden, norm.running_mean, norm.running_var, norm.weight, norm.bias, False, 0.0, norm.eps)
        return self.norm(hidden)

    def streaming_step(self, step_rescale: float = 1.0) -> BlockStep | None:
        """:class:`BlockStep`: this block's ``step`` with the constant parts looked up once, for streaming under
        ``no_grad``; None when the block does something a plain eval step does not (active dropout, a BatchNorm
        in training mode, parameters in different dtypes or in half precision) or when its norm or output layer
        is not the plain module the plan calls functionally (a subclass, a parametrization, an adapter wrapper)
        or is watched by a forward hook."""
        norm = self.norm.norm
        dtypes = {p.dtype for module in (self.norm, self.mixer, self.output_linear) for p in module.parameters()}
        if self.training and self.dropout.p > 0 or len(dtypes) != 1 or dtypes & set(HALF_PRECISION):
            return None
        if type(self.output_linear) is not nn.Linear or type(norm) not in (nn.LayerNorm, nn.BatchNorm1d):
            return None
        if isinstance(norm, nn.BatchNorm1d) and (norm.training or norm.running_mean is None):
            return None
        if observed(self.norm, norm, self.mixer, self.output_linear):
            return None
        with torch.no_grad():
            system = self.mixer.recurrent_system(step_rescale)
        return BlockStep(self, system)

    def step_channels(self, y, residual):
        """``mix_channels(y) + residual`` on (B, H); without active dropout the half-GLU gate and the residual
        add are one ``addcmul`` and the sigmoid runs in place (fewer ops per step)."""
        if self.activation not in ("half_glu1", "half_glu2") or (self.training and self.dropout.p > 0):
            return self.mix_channels(y).add_(residual)
        activated = F.gelu(y)
        gate = F.linear(activated, self.output_linear.weight, self.output_linear.bias).sigmoid_()
        return torch.addcmul(residual, activated if self.activation == "half_glu1" else y, gate)

    def forward(
        self,
        hidden_states: torch.Tensor,
        mask: torch.Tensor | None = None,
        step_rescale: float = 1.0,
        state: torch.Tensor | None = None,
        return_state: bool = False,
        mode: str = "parallel",
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One block over (B, L, H): returns (the block's output (B, L, H), the mixer's final state or None).

        ``mask`` (B, L) zeroes padded steps before the SSM; the other arguments go to the mixer's ``forward``.
        """
        residual = hidden_states
        x = self.norm(hidden_states) if self.prenorm else hidden_states
        if mask is not None:
            x = x * mask[..., None]
        # buffers may be reused only where no gradient is recorded and no hook can hold a reference to them
        reuse = not torch.is_grad_enabled() and not observed(self.norm, self.norm.norm, self.mixer, self.output_linear)
        own_input = reuse and (self.prenorm or mask is not None)
        with giving_up(x) if own_input else nullcontext():
            y, state = self.mixer(x, step_rescale=step_rescale, state=state, return_state=return_state, mode=mode)
        del x  # under no_grad its (B, L, H) buffer is freed here (or already holds y)
        if not reuse or (self.training and self.dropout.p > 0):
            out = self.mix_channels(y).add_(residual)  # in place: saves a (B, L, H) buffer; nothing saved it for backward
        else:
            out = self.mix_channels_inference(y, residual)
        if not self.prenorm:
            out = self.norm(out)
        return out, state

    def mix_channels_inference(self, y: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        """``mix_channels(y) + residual`` with the same arithmetic where no gradient is recorded and dropout is off,
        written over ``y`` (the mixer's fresh output, given up by the caller): the (B·L, H) rows run in chunks of
        ``CHANNEL_CHUNK_ROWS`` (the activations in place, the output layer's result a chunk-sized temporary), so
        the channel mixing adds no (B, L, ·) buffer to ``y`` and ``residual``, where ``mix_channels`` holds up to
        four, and its element-wise passes run on cache-sized pieces. Every row is computed as in one call (forward
        hooks on ``output_linear`` see one call per chunk)."""
        if not y.is_contiguous():
            y = y.contiguous()
        width = y.shape[-1]
        rows, residual_rows = y.view(-1, width), residual.reshape(-1, width)
        for start in range(0, rows.shape[0], CHANNEL_CHUNK_ROWS):
            chunk = slice(start, start + CHANNEL_CHUNK_ROWS)
            self._mix_rows_(rows[chunk], residual_rows[chunk])
        return y

    def _mix_rows_(self, y: torch.Tensor, residual: torch.Tensor) -> None:
        """``mix_channels(y) + residual`` on (rows, H) written into ``y``."""
        if self.activation == "half_glu2":  # the gate multiplies y itself: GELU(y) needs its own buffer
            gate = self.output_linear(F.gelu(y)).sigmoid_().mul_(y)
            torch.add(gate, residual, out=y)
            return
        activated = torch.ops.aten.gelu_(y)
        projected = self.output_linear(activated)
        if self.activation == "half_glu1":
            torch.add(projected.sigmoid_().mul_(activated), residual, out=y)
        elif self.activation == "glu":  # GLU(p) = p[:H]·σ(p[H:])
            half = projected.shape[-1] // 2
            torch.mul(projected[:, :half], projected[:, half:].sigmoid_(), out=y).add_(residual)
        else:
            torch.add(projected, residual, out=y)


class BlockStep:
    """``SSMBlock.step`` for eval-mode streaming, with every lookup that does not change between steps done once:
    the mixer's discrete system, the norm's functional arguments (an eval BatchNorm's running statistics are read
    at every call, so edits through ``.data`` are seen), the output layer's tensors. The same ops as ``SSMBlock.step`` without dropout (``step_norm``,
    ``mixer.recurrent_step``, ``step_channels``), minus the module attribute lookups, precision contexts and
    cache checks a latency-bound step would otherwise pay per call. Built by ``SSMBlock.streaming_step``; valid
    while the block's tensors are unchanged (``DiagonalSSMModel`` keys its cache on them)."""

    def __init__(self, block: SSMBlock, system):
        self.prenorm = block.prenorm
        self.activation = block.activation
        self.recurrent_step = block.mixer.recurrent_step
        self.system = system
        norm = block.norm.norm
        if isinstance(norm, nn.LayerNorm):
            self.norm, self.norm_args = F.layer_norm, (norm.normalized_shape, norm.weight, norm.bias, norm.eps)
        else:  # eval BatchNorm: F.batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps)
            self.norm = F.batch_norm
            self.norm_args = (norm.running_mean, norm.running_var, norm.weight, norm.bias, False, 0.0, norm.eps)
        self.weight, self.bias = block.output_linear.weight, block.output_linear.bias

    def normalize(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.norm(hidden, *self.norm_args)

    def mix_channels(self, y: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        """``SSMBlock.step_channels`` without dropout."""
        activated = F.gelu(y)
        projected = F.linear(activated, self.weight, self.bias)
        if self.activation == "half_glu1":
            return torch.addcmul(residual, activated, projected.sigmoid_())
        if self.activation == "half_glu2":
            return torch.addcmul(residual, y, projected.sigmoid_())
        if self.activation == "glu":
            return F.glu(projected, dim=-1).add_(residual)
        return projected.add_(residual)

    def __call__(self, hidden: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.normalize(hidden) if self.prenorm else hidden
        y, state = self.recurrent_step(self.system, x, state)
        out = self.mix_channels(y, hidden)
        return (out if self.prenorm else self.normalize(out)), state


@dataclass
class SSMModelOutput(ModelOutput):
    """Output of a diagonal SSM backbone.

    Args:
        last_hidden_state: (B, L, H) output of the last block.
        recurrent_state: per-layer complex states after the last step (with ``return_state=True``);
            pass them back as ``recurrent_state`` to continue the stream. S5: (B, modes); S4D: the
            (B, H, max modes per channel) grid, zeros in the gaps of ragged layers.
        hidden_states: the encoder output and every block's output (with ``output_hidden_states=True``).
    """

    last_hidden_state: torch.FloatTensor | None = None
    recurrent_state: list[torch.Tensor] | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None


class DiagonalSSMPreTrainedModel(PreTrainedModel):
    base_model_prefix = "backbone"
    _no_split_modules = ["SSMBlock"]
    # from_pretrained(..., dtype=torch.bfloat16 or float16) keeps the SSM parameters (poles, steps, B, C, D) in
    # float32: rounded to 8 mantissa bits, Λ and Δ shift the kernels' phases (S4D digits: logits off by 4.0
    # instead of 0.5). Their math runs in float32 either way (DiagonalSSMMixer.ssm_precision).
    _keep_in_fp32_modules_strict = ["mixer"]
    supports_gradient_checkpointing = True
    main_input_name = "input_values"
    mixer_class: type[DiagonalSSMMixer]

    def _init_weights(self, module):
        super()._init_weights(module)
        if isinstance(module, DiagonalSSMMixer):
            module.reset_ssm_parameters()

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        """transformers' ``from_pretrained``, with errors that name the broken file (missing config.json, truncated
        or empty safetensors) and a check that the saved weights fit the config (``check_loaded_weights``)."""
        from safetensors import SafetensorError

        if kwargs.get("config") is None:
            check_checkpoint_folder(pretrained_model_name_or_path)
        try:
            model = super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        except SafetensorError as error:
            raise unreadable_weights_error(pretrained_model_name_or_path, error) from error
        loaded = model[0] if isinstance(model, tuple) else model  # output_loading_info=True returns a tuple
        loaded.check_loaded_weights(str(pretrained_model_name_or_path))
        return model

    def check_loaded_weights(self, source: str) -> None:
        """Hook for families whose weights carry layout information to check against the config."""

    def push_to_hub(self, repo_id: str, **kwargs):
        """Upload weights, config, model card, pruning plan and remote code in one commit (``hf_last.hub.push_model``)."""
        try:
            from hf_last.hub import push_model
        except ImportError:  # loaded as remote code without hf_last installed: transformers' own push
            return super().push_to_hub(repo_id, **kwargs)
        return push_model(self, repo_id, **kwargs)


def _select_inputs(input_ids, input_values, inputs_embeds) -> str:
    given = [name for name, value in (("input_ids", input_ids), ("input_values", input_values),
                                      ("inputs_embeds", inputs_embeds)) if value is not None]
    if len(given) != 1:
        raise ValueError(f"Pass exactly one of input_ids, input_values or inputs_embeds; got {given or 'none'}.")
    return given[0]


def _check_rank(name: str, value, ranks: tuple[int, ...], expected: str) -> None:
    """``value`` is a tensor with one of ``ranks`` dimensions; ``expected`` describes the shape for the message."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape {expected}, got {type(value).__name__}")
    if value.dim() not in ranks:
        raise ValueError(f"{name} must have shape {expected}, got shape {tuple(value.shape)}")


def _check_not_empty(name: str, value: torch.Tensor) -> None:
    """A (B, L, ...) input needs B >= 1 sequences of L >= 1 steps: an SSM has nothing to compute otherwise."""
    if value.shape[1] == 0:
        raise ValueError(f"{name} has no time steps (shape {tuple(value.shape)}); pass sequences of length >= 1")
    if value.shape[0] == 0:
        raise ValueError(f"{name} holds no sequences (shape {tuple(value.shape)}); pass a batch of at least one")


def _states_match(recurrent_state, batch_size: int, signature) -> bool:
    """Whether ``recurrent_state`` is a list/tuple of tensors of shapes (batch_size, *shape) and dtypes as in
    ``signature`` (a quick test; ``DiagonalSSMModel._check_recurrent_state`` explains a mismatch)."""
    if not isinstance(recurrent_state, (list, tuple)) or len(recurrent_state) != len(signature):
        return False
    for state, (shape, dtype) in zip(recurrent_state, signature):
        if not isinstance(state, torch.Tensor) or state.dtype != dtype or state.shape[0] != batch_size \
                or state.shape[1:] != shape:
            return False
    return True


def _check_attention_mask(attention_mask, batch_size: int, length: int) -> None:
    _check_rank("attention_mask", attention_mask, (2,), f"(batch, length) = ({batch_size}, {length})")
    if tuple(attention_mask.shape) != (batch_size, length):
        raise ValueError(f"attention_mask must have shape (batch, length) = ({batch_size}, {length}) like the "
                         f"inputs, got {tuple(attention_mask.shape)}")


class DiagonalSSMModel(DiagonalSSMPreTrainedModel):
    """Encoder (token embedding or linear input projection) followed by ``num_hidden_layers`` SSM blocks."""

    def __init__(self, config):
        super().__init__(config)
        width = config.hidden_size
        self.embeddings = nn.Embedding(config.vocab_size, width) if config.vocab_size else None
        self.encoder = nn.Linear(config.input_size, width) if config.input_size else None
        self.layers = nn.ModuleList(SSMBlock(config, i, self.mixer_class) for i in range(config.num_hidden_layers))
        self.gradient_checkpointing = False
        self.post_init()

    def get_input_embeddings(self):
        return self.embeddings

    def set_input_embeddings(self, new_embeddings):
        self.embeddings = new_embeddings

    def input_shapes(self, streaming: bool = False) -> dict[str, tuple[tuple[int, ...], str]]:
        """Accepted ranks and a readable shape of every input kind (``streaming``: one step, no length axis)."""
        time_axes = ["batch"] if streaming else ["batch", "length"]

        def shape(*features: str) -> str:
            axes = time_axes + list(features)
            return "(" + ", ".join(axes) + ("," if len(axes) == 1 else "") + ")"

        values = shape(f"input_size={self.config.input_size}")
        value_ranks = (len(time_axes) + 1,)
        if self.config.input_size == 1:  # one feature per step: the feature axis may be left out
            values, value_ranks = f"{values} or {shape()}", (len(time_axes), len(time_axes) + 1)
        return {"input_ids": ((len(time_axes),), shape()),
                "input_values": (value_ranks, values),
                "inputs_embeds": ((len(time_axes) + 1,), shape(f"hidden_size={self.config.hidden_size}"))}

    def embed(self, input_ids=None, input_values=None, inputs_embeds=None, streaming: bool = False):
        """The encoder's (B, L, H) output for the one given input, after checking its type, shape and values.

        ``streaming=True``: the input has no length axis (one time step, as in :meth:`step`); returns (B, 1, H).
        """
        kind = _select_inputs(input_ids, input_values, inputs_embeds)
        value = {"input_ids": input_ids, "input_values": input_values, "inputs_embeds": inputs_embeds}[kind]
        if not (isinstance(value, torch.Tensor) and value.dim() in self.input_ranks(kind, streaming)):
            ranks, expected = self.input_shapes(streaming)[kind]  # the readable shapes only for the message
            _check_rank(kind, value, ranks, expected)
        if streaming:
            value = value[:, None]
        _check_not_empty(kind, value)
        if kind == "input_ids":
            return self.embed_ids(value)
        if kind == "input_values":
            return self.encode_values(value, streaming)
        return self.check_embeds(value)

    def input_ranks(self, kind: str, streaming: bool = False) -> tuple[int, ...]:
        """The accepted ranks of ``input_shapes(streaming)[kind]``, without building its readable shapes."""
        time_axes = 1 if streaming else 2
        if kind == "input_ids":
            return (time_axes,)
        if kind == "input_values" and self.config.input_size == 1:
            return (time_axes, time_axes + 1)
        return (time_axes + 1,)

    def embed_ids(self, input_ids: torch.Tensor) -> torch.Tensor:
        if self.embeddings is None:
            raise ValueError("This model takes continuous inputs (vocab_size=None): pass input_values instead of input_ids.")
        if input_ids.is_floating_point() or input_ids.is_complex() or input_ids.dtype == torch.bool:
            raise TypeError(f"input_ids must be an integer tensor of token ids, got dtype {input_ids.dtype}")
        if input_ids.numel() and (input_ids.min() < 0 or input_ids.max() >= self.config.vocab_size):
            raise ValueError(f"input_ids must be token ids in [0, vocab_size={self.config.vocab_size}), got values in "
                             f"[{int(input_ids.min())}, {int(input_ids.max())}]")
        return self.embeddings(input_ids)

    def encode_values(self, input_values: torch.Tensor, streaming: bool = False) -> torch.Tensor:
        if self.encoder is None:
            raise ValueError("This model takes token inputs (input_size=None): pass input_ids instead of input_values.")
        if input_values.is_complex():
            raise TypeError(f"input_values must be real, got dtype {input_values.dtype}; pass the real and imaginary "
                            "parts as two input features (torch.view_as_real) with input_size=2")
        if input_values.dim() == 2:
            input_values = input_values[..., None]
        if input_values.shape[-1] != self.config.input_size:
            expected = self.input_shapes(streaming)["input_values"][1]
            shape = tuple(input_values.shape[:1] + input_values.shape[2:]) if streaming else tuple(input_values.shape)
            raise ValueError(f"input_values must have shape {expected}, got {shape}: "
                             f"{input_values.shape[-1]} features per step for input_size={self.config.input_size}.")
        return self.encoder(input_values.to(self.encoder.weight.dtype))

    def check_embeds(self, inputs_embeds: torch.Tensor) -> torch.Tensor:
        """``inputs_embeds`` (B, L, H) cast to the model's dtype, like ``input_values``."""
        if not inputs_embeds.is_floating_point():
            raise TypeError(f"inputs_embeds must be a real floating-point tensor, got dtype {inputs_embeds.dtype}")
        if inputs_embeds.shape[-1] != self.config.hidden_size:
            raise ValueError(f"inputs_embeds must have hidden_size={self.config.hidden_size} features per step, "
                             f"got shape {tuple(inputs_embeds.shape)}")
        return inputs_embeds.to(self.dtype)

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        input_values: torch.FloatTensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        step_rescale: float | None = None,
        recurrent_state: list[torch.Tensor] | None = None,
        return_state: bool = False,
        mode: str = "parallel",
        output_hidden_states: bool | None = None,
    ) -> SSMModelOutput:
        r"""Run the backbone over one batch of sequences.

        Args:
            input_ids: (B, L) token ids, for a model with ``vocab_size``.
            input_values: (B, L, input_size) continuous inputs (or (B, L) when ``input_size`` is 1).
            inputs_embeds: (B, L, hidden_size), bypassing the encoder. Pass exactly one of the three.
            attention_mask: (B, L), 1 for real steps, 0 for right padding (zeroed before every SSM).
            step_rescale: multiplies every Δ (overrides ``config.step_rescale``), e.g. 2.0 for half-rate inputs.
            recurrent_state: the per-layer states of an earlier call, to continue that stream.
            return_state: return the per-layer states after the last step (``recurrent_state`` of the output).
            mode: ``"parallel"`` (FFT convolution / associative scan) or ``"recurrent"`` (one step at a time).
            output_hidden_states: also return the encoder output and every block's output.
            return_dict: ``False`` returns a tuple of the output's non-None fields (transformers' convention).

        Returns:
            :class:`SSMModelOutput` (``last_hidden_state`` (B, L, H), ``recurrent_state``, ``hidden_states``).
        """
        if mode not in MODES:
            raise ValueError(f"mode must be one of {list(MODES)}, got {mode!r}")
        if attention_mask is not None and (recurrent_state is not None or return_state):
            raise ValueError("attention_mask (padding) cannot be combined with streaming states; stream unpadded sequences.")
        output_hidden_states = output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        step_rescale = self.config.step_rescale if step_rescale is None else check_step_rescale(step_rescale)

        hidden_states = self.embed(input_ids, input_values, inputs_embeds)
        if attention_mask is not None:
            _check_attention_mask(attention_mask, *hidden_states.shape[:2])
        if recurrent_state is not None:
            self._check_recurrent_state(recurrent_state, hidden_states.shape[0])
        mask = None if attention_mask is None else attention_mask.to(hidden_states.dtype)
        all_hidden_states = (hidden_states,) if output_hidden_states else None
        new_states = [] if return_state else None
        for i, layer in enumerate(self.layers):
            state = None if recurrent_state is None else recurrent_state[i]
            hidden_states, state = layer(hidden_states, mask, step_rescale, state, return_state, mode)
            if return_state:
                new_states.append(state)
            if output_hidden_states:
                all_hidden_states += (hidden_states,)

        return SSMModelOutput(last_hidden_state=hidden_states, recurrent_state=new_states, hidden_states=all_hidden_states)

    def _check_recurrent_state(self, recurrent_state, batch_size: int) -> None:
        """One state per layer, each of the shape and complex dtype ``init_recurrent_state(batch_size)`` gives."""
        hint = "start a stream from model.init_recurrent_state(batch_size) and pass back the states it returns"
        if not isinstance(recurrent_state, (list, tuple)):
            raise TypeError(f"recurrent_state must be a list with one tensor per layer; {hint}. "
                            f"Got {type(recurrent_state).__name__}.")
        if len(recurrent_state) != len(self.layers):
            raise ValueError(f"recurrent_state has {len(recurrent_state)} layers, the model has {len(self.layers)}.")
        for index, (layer, state) in enumerate(zip(self.layers, recurrent_state)):
            dtype = layer.mixer.complex_dtype(layer.mixer.compute_dtype())
            expected = (batch_size, *layer.mixer.state_shape)
            if not isinstance(state, torch.Tensor):
                raise TypeError(f"recurrent_state[{index}] must be a tensor of shape {expected}, "
                                f"got {type(state).__name__}; {hint}")
            if tuple(state.shape) != expected:
                raise ValueError(f"recurrent_state[{index}] has shape {tuple(state.shape)}, layer {index} needs "
                                 f"{expected} (batch, {layer.mixer.state_axes}) for a batch of {batch_size}; {hint}")
            if state.dtype != dtype:
                raise TypeError(f"recurrent_state[{index}] has dtype {state.dtype}, layer {index} (SSM math in "
                                f"{layer.mixer.compute_dtype()}) needs {dtype}; {hint}")

    def init_recurrent_state(self, batch_size: int) -> list[torch.Tensor]:
        """Zero states of every layer, to stream with ``forward(..., recurrent_state=..., return_state=True)``."""
        return [layer.mixer.init_state(batch_size, layer.mixer.compute_dtype(), layer.mixer.D.device)
                for layer in self.layers]

    def step(self, recurrent_state, input_ids=None, input_values=None, inputs_embeds=None, step_rescale=None):
        """Advance every layer by one time step. Inputs have no length axis: (B,), (B, input_size) or (B, H).

        Returns (hidden state of this step (B, H), new recurrent state). The same computation as
        ``forward(..., mode="recurrent")`` on a length-1 sequence, through ``SSMBlock.step``: no sequence
        axis, no output object, the discrete systems reused from the cache (streaming latency).
        """
        if self.config.bidirectional:
            raise ValueError("A bidirectional model reads future inputs, so it cannot be streamed step by step; "
                             "use forward(mode='parallel') or a model with bidirectional=False.")
        hidden = self.embed(input_ids, input_values, inputs_embeds, streaming=True)[:, 0]
        step_rescale = self.config.step_rescale if step_rescale is None else check_step_rescale(step_rescale)
        plan = self.streaming_plan(step_rescale, hidden.device.type)
        if plan is None:  # recording gradients, autocast, training-mode blocks: the generic block step
            self._check_recurrent_state(recurrent_state, hidden.shape[0])
            new_states = []
            for layer, state in zip(self.layers, recurrent_state):
                hidden, state = layer.step(hidden, state, layer.mixer.cached_recurrent_system(step_rescale))
                new_states.append(state)
            return hidden, new_states
        block_steps, state_signature = plan
        if not _states_match(recurrent_state, hidden.shape[0], state_signature):
            self._check_recurrent_state(recurrent_state, hidden.shape[0])  # raises the readable error
        new_states = []
        for block_step, state in zip(block_steps, recurrent_state):
            hidden, state = block_step(hidden, state)
            new_states.append(state)
        return hidden, new_states

    def streaming_plan(self, step_rescale: float, device_type: str = "cpu"):
        """(one :class:`BlockStep` per layer, per-layer (state shape, dtype)) for ``step`` under ``no_grad``, built
        once and reused while every parameter and buffer of the blocks is unchanged (same storage, same in-place
        version, same dtype) and no block changes train/eval mode; None when ``step`` must take the generic path:
        gradients recorded, autocast on, or a block that ``SSMBlock.streaming_step`` declines."""
        if torch.is_grad_enabled() or torch.is_autocast_enabled(device_type):
            return None
        key = (float(step_rescale), self._streaming_key())
        cache = self.__dict__.get("_streaming_plan_cache")
        if cache is None or cache[0] != key:
            cache = (key, self._build_streaming_plan(step_rescale))
            self.__dict__["_streaming_plan_cache"] = cache
        return cache[1]

    def _streaming_key(self) -> tuple:
        """What a cached streaming plan depends on: every block tensor's storage, version and dtype, the blocks'
        modes and dropout rates, and the forward hooks on the modules the plan calls functionally. Read from the
        modules' own dicts: cheaper than ``parameters()`` on every step."""
        modes, tensors = [len(nn.modules.module._global_forward_hooks),
                          len(nn.modules.module._global_forward_pre_hooks)], []
        for layer in self._modules["layers"]._modules.values():
            parts = layer._modules
            norm = parts["norm"]._modules["norm"]
            modes += (layer.training, norm.training, parts["dropout"].p)
            for module in (parts["norm"], norm, parts["mixer"], parts["output_linear"]):
                modes.append(len(module._forward_hooks) + len(module._forward_pre_hooks))
                tensors += module._parameters.values()
                tensors += module._buffers.values()
        tensors = [t for t in tensors if t is not None]
        # module.to() moves the data (new data_ptr); a tensor or module swapped in shows as new tensor ids
        return (tuple(modes), tuple(map(id, tensors)), tuple(map(torch.Tensor.data_ptr, tensors)),
                tuple(map(_VERSION, tensors)))

    def _build_streaming_plan(self, step_rescale: float):
        block_steps = []
        for layer in self.layers:
            block_step = layer.streaming_step(step_rescale)
            if block_step is None:
                return None
            block_steps.append(block_step)
        signature = [(tuple(layer.mixer.state_shape), layer.mixer.complex_dtype(layer.mixer.compute_dtype()))
                     for layer in self.layers]
        return block_steps, signature


def pool(hidden_states: torch.Tensor, attention_mask: torch.Tensor | None, pooling: str) -> torch.Tensor:
    """Mean over the real (unpadded) steps, or the last real step, of (B, L, H) -> (B, H)."""
    if attention_mask is None:
        return hidden_states.mean(1) if pooling == "mean" else hidden_states[:, -1]
    mask = attention_mask.to(hidden_states.dtype)
    if pooling == "mean":
        return (hidden_states * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
    last = (mask.sum(1).long() - 1).clamp(min=0)
    return hidden_states[torch.arange(hidden_states.shape[0], device=hidden_states.device), last]


def sequence_classification_loss(config, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The transformers convention: regression (MSE), single-label (cross-entropy) or multi-label (BCE)."""
    if config.problem_type is None:
        if config.num_labels == 1:
            config.problem_type = "regression"
        elif labels.dtype in (torch.long, torch.int):
            config.problem_type = "single_label_classification"
        else:
            config.problem_type = "multi_label_classification"
    if config.problem_type == "regression":
        return F.mse_loss(logits.squeeze(-1), labels.to(logits.dtype).squeeze(-1)) if config.num_labels == 1 \
            else F.mse_loss(logits, labels.to(logits.dtype))
    if config.problem_type == "single_label_classification":
        return F.cross_entropy(logits.view(-1, config.num_labels), labels.view(-1))
    return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))


class DiagonalSSMForSequenceClassification(DiagonalSSMPreTrainedModel):
    """Backbone, pooling over time (``config.pooling``) and a linear classifier."""

    backbone_class: type[DiagonalSSMModel]

    def __init__(self, config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.backbone = self.backbone_class(config)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        input_values: torch.FloatTensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        step_rescale: float | None = None,
        mode: str = "parallel",
        output_hidden_states: bool | None = None,
    ) -> SequenceClassifierOutput:
        r"""Classify a batch of sequences: the backbone, pooling over real steps (``config.pooling``), a linear layer.

        Args:
            input_ids / input_values / inputs_embeds / attention_mask / step_rescale / mode / output_hidden_states:
                as in the backbone's ``forward``.
            labels: (B,) class ids, (B, num_labels) multi-label targets or regression values; gives ``loss``
                (``config.problem_type``, inferred as in transformers when unset).
            return_dict: ``False`` returns a tuple of the output's non-None fields (transformers' convention).

        Returns:
            ``SequenceClassifierOutput`` with ``loss`` (when labels are given), ``logits`` (B, num_labels) and
            ``hidden_states`` (with ``output_hidden_states``).
        """
        outputs = self.backbone(input_ids=input_ids, input_values=input_values, inputs_embeds=inputs_embeds,
                                attention_mask=attention_mask, step_rescale=step_rescale, mode=mode,
                                output_hidden_states=output_hidden_states, return_dict=True)
        logits = self.classifier(pool(outputs.last_hidden_state, attention_mask, self.config.pooling))
        loss = None if labels is None else sequence_classification_loss(self.config, logits, labels)
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states)
