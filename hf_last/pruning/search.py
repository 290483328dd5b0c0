"""Accuracy-targeted pruning: the largest ratio whose accuracy loss stays within a tolerance.

Bisection over the number of kept states K (in steps of the model's states per mode), not over 10 % ratio
steps. For K states the ratio r = 1 − K/N gives exactly K kept states (K = floor(N(1 − r))). Accuracy is
assumed to fall as states are removed; the bisection keeps the invariant "the largest feasible count tried
is within the tolerance, the smallest infeasible count tried is not", and returns the former, so the next
larger ratio it tried is out of tolerance.

With a ``finetune(model) -> model`` callable (e.g. a recovery fine-tune), every candidate is fine-tuned before it is
evaluated and the search returns the fine-tuned model: the largest ratio whose *fine-tuned* accuracy is within the
tolerance. The dense reference accuracy is the input model's, not fine-tuned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class SearchTrial:
    kept_states: int
    ratio: float
    accuracy: float
    accuracy_loss: float
    within_tolerance: bool


@dataclass
class SearchResult:
    """The pruned model at the chosen ratio and the record of every candidate evaluated."""

    model: object
    ratio: float
    accuracy: float
    base_accuracy: float
    max_accuracy_loss: float
    trials: list[SearchTrial] = field(default_factory=list)

    @property
    def accuracy_loss(self) -> float:
        return self.base_accuracy - self.accuracy

    def to_dict(self) -> dict:
        return {
            "ratio": self.ratio,
            "accuracy": self.accuracy,
            "base_accuracy": self.base_accuracy,
            "accuracy_loss": self.accuracy_loss,
            "max_accuracy_loss": self.max_accuracy_loss,
            "trials": [vars(trial) for trial in self.trials],
        }


def search_ratio(pruner, evaluate: Callable[[object], float], max_accuracy_loss: float,
                 finetune: Callable[[object], object] | None = None) -> SearchResult:
    """Largest pruning ratio for ``pruner`` whose accuracy (``evaluate(model) -> float``) is at least
    ``base accuracy − max_accuracy_loss``. Returns the pruned model at that ratio (the dense model's copy at 0);
    with ``finetune``, every candidate is ``finetune(pruned)`` before it is evaluated and returned."""
    if finetune is not None and not callable(finetune):
        raise TypeError(f"finetune must be a callable model -> model (or None), got a {type(finetune).__name__}")
    if not 0 <= max_accuracy_loss <= 1:
        raise ValueError(f"max_accuracy_loss is a fraction of accuracy in [0, 1] (0.01 = 1 point), got {max_accuracy_loss}")
    plan = pruner.plan(0.0)
    step = max(plan.states_per_mode)
    total = sum(plan.states_before)
    smallest = sum(plan.states_per_mode)  # one mode per layer
    base_accuracy = evaluate(pruner.model)
    trials: list[SearchTrial] = []

    def attempt(kept_states: int):
        ratio = 1 - kept_states / total
        model = pruner.prune(ratio)
        if finetune is not None:
            model = finetune(model)
        accuracy = evaluate(model)
        loss = base_accuracy - accuracy
        trials.append(SearchTrial(kept_states, ratio, accuracy, loss, loss <= max_accuracy_loss + 1e-12))
        return model, trials[-1]

    feasible = (total, pruner.prune(0.0), base_accuracy)
    model, trial = attempt(smallest)
    if trial.within_tolerance:
        feasible = (smallest, model, trial.accuracy)
        infeasible = None
    else:
        infeasible = smallest
    while infeasible is not None and (feasible[0] - infeasible) > step:
        middle = infeasible + ((feasible[0] - infeasible) // (2 * step)) * step
        model, trial = attempt(middle)
        if trial.within_tolerance:
            feasible = (middle, model, trial.accuracy)
        else:
            infeasible = middle
    kept_states, model, accuracy = feasible
    return SearchResult(model=model, ratio=1 - kept_states / total, accuracy=accuracy, base_accuracy=base_accuracy,
                        max_accuracy_loss=max_accuracy_loss, trials=trials)
