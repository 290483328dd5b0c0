"""Configuration of S5 (diagonal MIMO state space model) for transformers."""

from __future__ import annotations

from huggingface_hub.dataclasses import strict

from ...ssm.initialization import S5_C_INITS
from ..configuration_ssm import DiagonalSSMConfig, _require, _require_choice, _require_positive_int


@strict
class S5Config(DiagonalSSMConfig):
    r"""Configuration of an S5 model: one MIMO system with ``state_size`` states per layer.

    Besides the fields of :class:`DiagonalSSMConfig`:

    Args:
        blocks (`int`): number J of HiPPO-N blocks of the initial Λ (must divide ``state_size``). A per-layer
            ``state_size`` that J does not divide (e.g. after pruning) is initialised as one block.
        c_init (`str`): ``"trunc_standard_normal"``, ``"lecun_normal"`` (both then C̃ = CV) or ``"complex_normal"``.

    Example:

    ```python
    >>> from hf_last import S5Config, S5ForSequenceClassification
    >>> config = S5Config(state_size=64, per_layer_config={1: {"state_size": 32}}, num_labels=10)
    >>> model = S5ForSequenceClassification(config)
    ```
    """

    model_type = "last_s5"

    blocks: int = 1
    c_init: str = "trunc_standard_normal"
    activation: str = "half_glu1"

    def _validate_global(self) -> None:
        super()._validate_global()
        _require_positive_int(self.blocks, "blocks")
        _require_choice(self.c_init, "c_init", S5_C_INITS)
        _require(self.state_size % self.blocks == 0, "blocks",
                 f"blocks={self.blocks} must divide state_size={self.state_size}")
        _require(not (self.conj_sym and (self.state_size // self.blocks) % 2), "blocks",
                 f"with conj_sym=True every block needs an even size; state_size/blocks = {self.state_size / self.blocks}")
