"""PruningPlan: which modes every layer keeps, as reviewable, reproducible JSON."""

from __future__ import annotations

import json
import re
from dataclasses import MISSING, asdict, dataclass, fields
from numbers import Integral, Real
from pathlib import Path

from .criteria import CRITERIA, VARIANTS, check_horizon

FINGERPRINT = re.compile(r"sha256:[0-9a-f]{16}")
DERIVED_FIELDS = ("achieved_ratio", "states_per_layer_before", "states_per_layer_after")


def _is_int(value) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def check_ratio(ratio, name: str = "ratio") -> float:
    """``ratio`` as a float if it is a real number (not a bool or string) in [0, 1], else a clear error."""
    if not isinstance(ratio, Real) or isinstance(ratio, bool):
        raise TypeError(f"{name} must be a number in [0, 1] (the fraction of states to remove), "
                        f"got {type(ratio).__name__} {ratio!r}")
    if not 0 <= ratio <= 1:  # also rejects NaN
        raise ValueError(f"{name} must be in [0, 1] (fraction of states to remove), got {ratio!r}")
    return float(ratio)


def check_seed(seed) -> int:
    """``seed`` as an int if it is a non-negative integer (what numpy's generators accept), else a clear error."""
    if not _is_int(seed):
        raise TypeError(f"seed must be a non-negative integer (it seeds the random method), "
                        f"got {type(seed).__name__} {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer (it seeds the random method), got {seed}")
    return int(seed)


def _int_list(value, field: str, minimum: int) -> list[int]:
    """``value`` as a list of ints >= ``minimum``; no coercion (0.7, "01" and True are refused)."""
    if not isinstance(value, (list, tuple)) or not all(_is_int(v) for v in value):
        raise TypeError(f"{field} must be a list of integers, got {value!r}")
    if any(v < minimum for v in value):
        raise ValueError(f"{field} must hold integers >= {minimum}, got {list(value)}")
    return [int(v) for v in value]


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
        fingerprint: ``"sha256:…"`` of the scored layers' weights (:func:`hf_last.pruning.pruner.model_fingerprint`);
            ``LASTPruner.apply`` refuses a plan whose fingerprint differs from the model's. None: not recorded.

    Every field is checked on construction (types are not coerced: a mode index 0.7 or "01" is an error).
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
    fingerprint: str | None = None

    def __post_init__(self):
        if not isinstance(self.method, str) or not self.method:
            raise TypeError(f"method must be a criterion name (a non-empty string), got {self.method!r}")
        self.requested_ratio = check_ratio(self.requested_ratio, "requested_ratio")
        if not isinstance(self.kept_modes, (list, tuple)):
            raise TypeError(f"kept_modes must be a list with one list of mode indices per layer, got {self.kept_modes!r}")
        self.kept_modes = [sorted(_int_list(kept, f"kept_modes[{layer}]", 0))
                           for layer, kept in enumerate(self.kept_modes)]
        self.modes_per_layer = _int_list(self.modes_per_layer, "modes_per_layer", 1)
        self.states_per_mode = _int_list(self.states_per_mode, "states_per_mode", 1)
        if self.bidirectional_score not in VARIANTS:
            raise ValueError(f"bidirectional_score must be one of {list(VARIANTS)}, got {self.bidirectional_score!r}")
        self.seed = check_seed(self.seed)
        if not isinstance(self.base_model, str):
            raise TypeError(f"base_model must be a string (the model's name or path), got {self.base_model!r}")
        self.horizon = check_horizon(self.horizon)
        if self.fingerprint is not None and not (isinstance(self.fingerprint, str) and FINGERPRINT.fullmatch(self.fingerprint)):
            raise ValueError(f"fingerprint must be None or 'sha256:' and 16 hex digits, got {self.fingerprint!r}")
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
        """A plan from :meth:`to_dict` output, every field checked: an unknown key or method, a missing field, or
        derived counts that disagree with the plan (an edited file) raise ``ValueError``/``TypeError``."""
        if not isinstance(data, dict):
            raise TypeError(f"a pruning plan is a JSON object (dict) of its fields, got {type(data).__name__}")
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(names) - set(DERIVED_FIELDS))
        if unknown:
            raise ValueError(f"unknown pruning plan fields {unknown}; a plan has {names} (+ derived {list(DERIVED_FIELDS)})")
        required = [f.name for f in fields(cls) if f.default is MISSING]
        missing = [name for name in required if name not in data]
        if missing:
            raise ValueError(f"the pruning plan lacks the fields {missing}")
        if data["method"] not in CRITERIA:
            raise ValueError(f"unknown pruning method {data['method']!r} in the plan; registered: {sorted(CRITERIA)} "
                             "(register a custom criterion with hf_last.pruning.register_criterion before loading)")
        plan = cls(**{k: v for k, v in data.items() if k in names})
        plan._check_derived(data)
        return plan

    def _check_derived(self, data: dict) -> None:
        """Derived counts stored beside the plan must be the plan's own (else the file was edited by hand)."""
        derived = {"achieved_ratio": self.achieved_ratio, "states_per_layer_before": self.states_before,
                   "states_per_layer_after": self.states_after}
        for name, expected in derived.items():
            if name not in data:
                continue
            stored = data[name]
            agrees = (isinstance(stored, Real) and not isinstance(stored, bool) and abs(stored - expected) <= 1e-12
                      if name == "achieved_ratio" else stored == expected)
            if not agrees:
                raise ValueError(f"{name} in the plan is {stored!r}, but kept_modes/modes_per_layer/states_per_mode "
                                 f"give {expected!r}; the plan was edited inconsistently")

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> PruningPlan:
        return cls.from_dict(json.loads(text))

    def save(self, path) -> None:
        Path(path).write_text(self.to_json())

    @classmethod
    def load(cls, path) -> PruningPlan:
        """The plan saved at ``path``; errors name the file."""
        try:
            return cls.from_json(Path(path).read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not valid JSON ({error}); a pruning plan file is written by "
                             "PruningPlan.save") from None
        except (TypeError, ValueError) as error:
            raise type(error)(f"{path}: {error}") from None

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
