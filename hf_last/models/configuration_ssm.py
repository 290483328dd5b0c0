"""Fields and validation shared by the S4D and S5 configurations."""

from __future__ import annotations

import math
from numbers import Real
from typing import Any, ClassVar

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

from ..ssm.discretization import DISCRETIZATIONS

NORM_TYPES = ("layer", "batch")
ACTIVATIONS = ("gelu", "glu", "half_glu1", "half_glu2")
POOLINGS = ("mean", "last")


def _require(condition: bool, field: str, message: str) -> None:
    if not condition:
        raise ValueError(f"{field}: {message}")


def _require_choice(value: Any, field: str, choices: tuple[str, ...]) -> None:
    _require(value in choices, field, f"must be one of {list(choices)}, got {value!r}")


def _require_positive_int(value: Any, field: str) -> None:
    _require(isinstance(value, int) and not isinstance(value, bool) and value > 0, field,
             f"must be a positive integer, got {value!r}")


def check_step_rescale(value: Any, name: str = "step_rescale") -> float:
    """``value`` as a float if it is a finite positive real number (the Δ multiplier), else a clear error."""
    if not isinstance(value, Real) or isinstance(value, bool):
        raise TypeError(f"{name} must be a positive real number (the factor every step Δ is multiplied by), "
                        f"got {type(value).__name__} {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite positive number (the factor every step Δ is multiplied by, "
                         f"e.g. 2.0 for inputs at half the sampling rate), got {value!r}")
    return float(value)


@strict
class DiagonalSSMConfig(PreTrainedConfig):
    r"""Configuration shared by deep diagonal SSMs (S4D, S5). Not registered by itself.

    Args:
        hidden_size (`int`): model width h.
        num_hidden_layers (`int`): number of SSM blocks.
        state_size (`int`): state dimension n of every layer (a conjugate pair counts two states).
            Layers may differ through ``per_layer_config={i: {"state_size": n_i}}``.
        input_size (`int`, *optional*): features per step of continuous inputs ``input_values``.
        vocab_size (`int`, *optional*): vocabulary of token inputs ``input_ids``.
        discretization (`str`): ``"zoh"`` or ``"bilinear"``.
        conj_sym (`bool`): store one mode per conjugate pair and output 2·Re(·) (else Re(·)).
        bidirectional (`bool`): add an anti-causal pass with the same poles and its own C.
        dt_min, dt_max (`float`): range of the log-uniform initial step Δ.
        step_rescale (`float`): multiplies every Δ (e.g. 2.0 for inputs at half the sampling rate).
        clip_eigs (`bool`): clip Re λ ≤ −1e-4 in the forward pass.
        norm_type (`str`): ``"layer"`` or ``"batch"``. prenorm (`bool`): normalise before the SSM.
        dropout (`float`), activation (`str`: gelu|glu|half_glu1|half_glu2), pooling (`str`: mean|last).
        initializer_range (`float`): std of the dense layers' normal initialisation.
        pruning (`dict`, *optional*): metadata written by ``LASTPruner`` on pruned models.
    """

    per_layer_fields: ClassVar[tuple[str, ...]] = ("state_size",)  # what ``per_layer_config`` may override

    hidden_size: int = 64
    num_hidden_layers: int = 4
    state_size: int = 64
    input_size: int | None = 1
    vocab_size: int | None = None
    discretization: str = "zoh"
    conj_sym: bool = True
    bidirectional: bool = False
    dt_min: float = 0.001
    dt_max: float = 0.1
    step_rescale: float = 1.0
    clip_eigs: bool = False
    norm_type: str = "layer"
    prenorm: bool = True
    dropout: float = 0.0
    activation: str = "glu"
    pooling: str = "mean"
    initializer_range: float = 0.02
    layer_norm_epsilon: float = 1e-5
    pruning: dict | None = None

    def __post_init__(self, **kwargs):
        # The global fields are checked before transformers applies ``per_layer_config`` (in
        # ``PreTrainedConfig.__post_init__``), so they read as plain attributes; every layer's resolved
        # config is checked after.
        self._validate_global()
        self._check_per_layer_keys(kwargs.get("per_layer_config"))
        super().__post_init__(**kwargs)
        for index, layer_config in enumerate(self.per_layer_config):
            self._check_layer(layer_config, f"per_layer_config[{index}]." if self.is_heterogeneous else "")

    def _check_per_layer_keys(self, per_layer_config: dict | None) -> None:
        if per_layer_config is None:
            return
        example = f"{{layer index: {{{self.per_layer_fields[0]!r}: value}}}}"
        if not isinstance(per_layer_config, dict):
            raise TypeError(f"per_layer_config must be a dict {example} (or None), "
                            f"got {type(per_layer_config).__name__} {per_layer_config!r}")
        for index, overrides in per_layer_config.items():
            if not isinstance(overrides, dict):
                raise TypeError(f"per_layer_config[{index!r}] must be a dict of the layer's fields, as in {example}, "
                                f"got {type(overrides).__name__} {overrides!r}")
            unknown = sorted(set(overrides) - set(self.per_layer_fields))
            _require(not unknown, f"per_layer_config[{index}]",
                     f"only {list(self.per_layer_fields)} may vary per layer, got {unknown}")

    def _validate_global(self) -> None:
        """Check the global fields (subclasses add their own, after these)."""
        for field in ("hidden_size", "num_hidden_layers", "state_size"):
            _require_positive_int(getattr(self, field), field)
        _require(self.input_size is not None or self.vocab_size is not None, "input_size",
                 "set input_size (continuous inputs) or vocab_size (token inputs); both are None")
        for field in ("input_size", "vocab_size"):
            if getattr(self, field) is not None:
                _require_positive_int(getattr(self, field), field)
        _require_choice(self.discretization, "discretization", DISCRETIZATIONS)
        _require_choice(self.norm_type, "norm_type", NORM_TYPES)
        _require_choice(self.activation, "activation", ACTIVATIONS)
        _require_choice(self.pooling, "pooling", POOLINGS)
        _require(0 < self.dt_min <= self.dt_max, "dt_min", f"need 0 < dt_min <= dt_max, got {self.dt_min} > {self.dt_max}"
                 if self.dt_min > 0 else f"must be positive, got {self.dt_min}")
        check_step_rescale(self.step_rescale)
        _require(0 <= self.dropout < 1, "dropout", f"must be in [0, 1), got {self.dropout}")

    def _check_layer(self, layer_config: PreTrainedConfig, prefix: str) -> None:
        """Check one layer's resolved config (``config.per_layer_config[i]``)."""
        _require_positive_int(layer_config.state_size, prefix + "state_size")
        _require(not (self.conj_sym and layer_config.state_size % 2), prefix + "state_size",
                 f"must be even with conj_sym=True (a conjugate pair counts two states), got {layer_config.state_size}")

    def layer_state_sizes(self) -> list[int]:
        """State dimension n of every layer (per_layer_config resolved)."""
        return [layer.state_size for layer in self.per_layer_config]

    @property
    def states_per_mode(self) -> int:
        """States represented by one stored complex mode: 2 with conjugate symmetry, else 1."""
        return 2 if self.conj_sym else 1
