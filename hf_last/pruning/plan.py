"""PruningPlan: which modes every layer keeps, as reviewable, reproducible JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from .criteria import check_horizon


@dataclass
class PruningPlan:
    """The outcome of a pruning criterion, before it touches a model.

    Attributes:
        method: criterion name (see ``hf_last.pruning.METHODS``).
        requested_ratio: the pruning ratio r asked for.
        kept_modes: per prunable layer (in ``model.modules()`` order), the sorted stored-mode indices kept.
        modes_per_layer: stored modes of every layer before pruning (to check the plan fits a model).
        states_per_mode: states one stored mode represents, per layer (2 for conjugate pairs).
        bidirectional_score: ``"paper"`` or ``"reference"`` (how bidirectional H∞ scores were computed).
        seed: seed of the random criterion.
        base_model: ``config._name_or_path`` of the model the plan was made for.
        horizon: sequence length L of the finite-horizon H∞/H2 scores, None for the paper's infinite horizon.
    """

    method: str
    requested_ratio: float
    kept_modes: list[list[int]]
    modes_per_layer: list[int]
    states_per_mode: list[int]
    bidirectional_score: str = "paper"
    seed: int = 0
    base_model: str = ""
    horizon: int | None = None

    def __post_init__(self):
        self.kept_modes = [sorted(int(i) for i in kept) for kept in self.kept_modes]
        self.modes_per_layer = [int(m) for m in self.modes_per_layer]
        self.states_per_mode = [int(s) for s in self.states_per_mode]
        self.horizon = check_horizon(self.horizon)
        if not (len(self.kept_modes) == len(self.modes_per_layer) == len(self.states_per_mode)):
            raise ValueError("kept_modes, modes_per_layer and states_per_mode need one entry per layer")
        for layer, (kept, total) in enumerate(zip(self.kept_modes, self.modes_per_layer)):
            if not kept:
                raise ValueError(f"layer {layer}: a plan must keep at least one mode per layer")
            if len(set(kept)) != len(kept) or kept[0] < 0 or kept[-1] >= total:
                raise ValueError(f"layer {layer}: kept mode indices must be distinct and in [0, {total}), got {kept}")

    # ---- counts -------------------------------------------------------------------------------------
    @property
    def num_layers(self) -> int:
        return len(self.kept_modes)

    @property
    def states_before(self) -> list[int]:
        """States of every layer before pruning (conjugate pairs count two)."""
        return [m * s for m, s in zip(self.modes_per_layer, self.states_per_mode)]

    @property
    def states_after(self) -> list[int]:
        return [len(k) * s for k, s in zip(self.kept_modes, self.states_per_mode)]

    @property
    def achieved_ratio(self) -> float:
        """Fraction of states removed, over the whole model."""
        return 1 - sum(self.states_after) / sum(self.states_before)

    # ---- serialisation ------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        out = asdict(self)
        out["achieved_ratio"] = self.achieved_ratio
        out["states_per_layer_before"] = self.states_before
        out["states_per_layer_after"] = self.states_after
        return out

    @classmethod
    def from_dict(cls, data: dict) -> PruningPlan:
        derived = {"achieved_ratio", "states_per_layer_before", "states_per_layer_after"}
        return cls(**{k: v for k, v in data.items() if k not in derived})

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> PruningPlan:
        return cls.from_dict(json.loads(text))

    def save(self, path) -> None:
        Path(path).write_text(self.to_json())

    @classmethod
    def load(cls, path) -> PruningPlan:
        return cls.from_json(Path(path).read_text())

    # ---- review -------------------------------------------------------------------------------------
    def summary(self) -> str:
        """A plain-text table: states per layer before/after and the ratio removed."""
        horizon = "" if self.horizon is None else f"  horizon={self.horizon}"
        rows = [f"method={self.method}{horizon}  requested={self.requested_ratio:.4f}  achieved={self.achieved_ratio:.4f}",
                f"{'layer':>5} {'before':>8} {'after':>8} {'removed':>8}"]
        for layer, (before, after) in enumerate(zip(self.states_before, self.states_after)):
            rows.append(f"{layer:>5} {before:>8} {after:>8} {1 - after / before:>8.2%}")
        rows.append(f"{'total':>5} {sum(self.states_before):>8} {sum(self.states_after):>8} {self.achieved_ratio:>8.2%}")
        return "\n".join(rows)

    def __str__(self) -> str:
        return self.summary()
