"""Configuration of S4D (diagonal multi-SISO state space model) for transformers."""

from __future__ import annotations

from typing import ClassVar

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

from ...ssm.initialization import S4D_INITS
from ..configuration_ssm import DiagonalSSMConfig, _require, _require_choice


@strict
class S4DConfig(DiagonalSSMConfig):
    r"""Configuration of an S4D model: ``hidden_size`` independent SISO systems per layer.

    Besides the fields of :class:`DiagonalSSMConfig`:

    Args:
        ssm_init (`str`): pole initialisation, ``"legs"`` (S4D-LegS), ``"lin"`` (S4D-Lin) or ``"inv"`` (S4D-Inv).
        channel_state_sizes (`list[int]`, *optional*): state dimension of every channel (length ``hidden_size``),
            for layers whose channels differ, typically after pruning:
            ``per_layer_config={2: {"channel_state_sizes": [4, 2, ...]}}``. Absent = ``state_size`` everywhere.
            Parameters of such a layer are packed channel by channel (no padding).

    Example:

    ```python
    >>> from hf_last import S4DConfig, S4DForSequenceClassification
    >>> config = S4DConfig(hidden_size=32, num_hidden_layers=2, state_size=16, num_labels=10)
    >>> model = S4DForSequenceClassification(config)
    ```
    """

    model_type = "last_s4d"
    per_layer_fields: ClassVar[tuple[str, ...]] = ("state_size", "channel_state_sizes")

    ssm_init: str = "legs"
    channel_state_sizes: list[int] | None = None

    def _validate_global(self) -> None:
        super()._validate_global()
        _require_choice(self.ssm_init, "ssm_init", S4D_INITS)
        if self.channel_state_sizes is not None:
            self.channel_state_sizes = list(self.channel_state_sizes)

    def _check_layer(self, layer_config: PreTrainedConfig, prefix: str) -> None:
        super()._check_layer(layer_config, prefix)
        sizes = layer_config.channel_state_sizes
        if sizes is None:
            return
        field = prefix + "channel_state_sizes"
        _require(len(sizes) == self.hidden_size, field, f"needs one entry per channel ({self.hidden_size}), got {len(sizes)}")
        _require(all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in sizes), field,
                 "every channel needs a non-negative integer state size (0: the channel keeps only its D skip)")
        _require(sum(sizes) > 0, field, "at least one channel needs a state")
        _require(not (self.conj_sym and any(n % 2 for n in sizes)), field,
                 "sizes must be even with conj_sym=True (a conjugate pair counts two states)")

    def channel_sizes(self, layer_idx: int) -> list[int]:
        """State dimension of every channel of layer ``layer_idx``."""
        layer = self.per_layer_config[layer_idx]
        if layer.channel_state_sizes is not None:
            return list(layer.channel_state_sizes)
        return [layer.state_size] * self.hidden_size
