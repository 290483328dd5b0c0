"""Configuration of S5 (diagonal MIMO state space model) for transformers."""

from __future__ import annotations

from ...ssm.initialization import S5_C_INITS
from ..configuration_ssm import DiagonalSSMConfig, _require, _require_choice, _require_positive_int


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

    def __init__(self, blocks: int = 1, c_init: str = "trunc_standard_normal", activation: str = "half_glu1", **kwargs):
        self.blocks = blocks
        self.c_init = c_init
        _require_positive_int(blocks, "blocks")
        _require_choice(c_init, "c_init", S5_C_INITS)
        super().__init__(activation=activation, **kwargs)
        state_size = self._getattr_without_heterogeneous_validation("state_size")
        _require(state_size % blocks == 0, "blocks", f"blocks={blocks} must divide state_size={state_size}")
        _require(not (self.conj_sym and (state_size // blocks) % 2), "blocks",
                 f"with conj_sym=True every block needs an even size; state_size/blocks = {state_size / blocks}")
