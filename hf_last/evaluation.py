"""Data-parallel evaluation of sequence classifiers with accelerate.

Every process evaluates its shard of the dataset; ``gather_for_metrics`` collects predictions and drops the
duplicates accelerate adds to even out the last batch, so N processes give exactly the 1-process result.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch.utils.data import DataLoader

from .accelerator import get_accelerator
from .collate import collate_sequences, longest_sequence, model_pad_token_id
from .metrics import load_accuracy
from .pruning import CRITERIA, LASTPruner


@torch.no_grad()
def predict(model, dataset, batch_size: int = 128, accelerator=None, step_rescale: float | None = None,
            pad_token_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(predictions, labels) for every example of ``dataset``, gathered on every process, in dataset order."""
    accelerator = get_accelerator(accelerator)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False,
                        collate_fn=partial(collate_sequences, pad_token_id=pad_token_id))
    loader = accelerator.prepare_data_loader(loader)
    was_training = model.training
    model.eval().to(accelerator.device)
    predictions, labels = [], []
    for batch in loader:
        targets = batch.pop("labels")
        logits = model(**batch, step_rescale=step_rescale).logits
        gathered = accelerator.gather_for_metrics((logits.argmax(-1), targets))
        predictions.append(gathered[0].cpu())
        labels.append(gathered[1].cpu())
    model.train(was_training)
    return torch.cat(predictions), torch.cat(labels)


def evaluate_accuracy(model, dataset, batch_size: int = 128, accelerator=None, step_rescale: float | None = None,
                      pad_token_id: int = 0) -> dict:
    """{"accuracy": fraction correct, "num_samples": n} with the shipped ``evaluate`` accuracy module."""
    predictions, labels = predict(model, dataset, batch_size, accelerator, step_rescale, pad_token_id)
    result = load_accuracy().compute(predictions=predictions.tolist(), references=labels.tolist())
    return {"accuracy": result["accuracy"], "num_samples": len(labels)}


def accuracy_on(dataset, batch_size: int = 128, accelerator=None) -> Callable[[object], float]:
    """``evaluate(model) -> accuracy`` on ``dataset`` (data-parallel, each model padded with its own pad id),
    e.g. for ``LASTPruner(model).search(accuracy_on(validation), max_accuracy_loss=0.01)``."""
    accelerator = get_accelerator(accelerator)

    def accuracy(model) -> float:
        return evaluate_accuracy(model, dataset, batch_size, accelerator, pad_token_id=model_pad_token_id(model))["accuracy"]

    return accuracy


DEFAULT_RATIOS = tuple(round(0.1 * i, 1) for i in range(11))


def default_sweep_methods() -> list[str]:
    """Every registered method at the paper's infinite horizon, then every H∞/H2 method at the data's horizon
    (``name@auto``)."""
    return list(CRITERIA) + [f"{name}@auto" for name, criterion in CRITERIA.items() if criterion.uses_horizon]


def sweep(model, dataset, methods=None, ratios=DEFAULT_RATIOS, batch_size: int = 128, accelerator=None,
          bidirectional_score: str = "paper", seed: int = 0, pad_token_id: int = 0, progress: bool = False) -> list[dict]:
    """Prune ``model`` with every method at every ratio and evaluate each result on ``dataset`` (data-parallel).

    ``methods`` are method specs (``"last"``, ``"last@64"``, ``"last@auto"``: see
    :func:`hf_last.pruning.criteria.parse_method`); ``@auto`` scores over the longest sequence of ``dataset``.
    Default: :func:`default_sweep_methods` (every method, and the H∞/H2 methods also at the data's horizon).

    Returns one record per (method, ratio): ``method`` (the spec), ``horizon`` (the resolved horizon, None for
    the paper's infinite one), ``requested_ratio``, ``achieved_ratio``, ``kept_states``, ``total_states``,
    ``states_per_layer`` (after pruning), ``accuracy``, ``base_accuracy``, ``accuracy_loss`` (fractions,
    base − pruned). Every process returns the same records.
    """
    accelerator = get_accelerator(accelerator)
    methods = default_sweep_methods() if methods is None else list(methods)
    data_horizon = None  # the longest sequence of ``dataset``, read once when a method asks for "auto"
    base = evaluate_accuracy(model, dataset, batch_size, accelerator, pad_token_id=pad_token_id)["accuracy"]
    records = []
    jobs = [(method, ratio) for method in methods for ratio in ratios]
    iterator = jobs
    if progress and accelerator.is_main_process:
        from tqdm.auto import tqdm

        iterator = tqdm(jobs, desc="sweep")
    pruners = {}
    # Identical plans give identical models: evaluate each distinct set of kept modes once (every method keeps
    # everything at ratio 0, i.e. the dense model, and many end on the same minimal plan near ratio 1).
    accuracies = {}
    for method, ratio in iterator:
        if method not in pruners:
            pruners[method] = LASTPruner(model, method=method, bidirectional_score=bidirectional_score, seed=seed)
            if pruners[method].horizon == "auto":
                data_horizon = data_horizon or longest_sequence(dataset)
                pruners[method].resolve_horizon(data_horizon)
        pruner = pruners[method]
        plan = pruner.plan(ratio)
        key = tuple(tuple(sorted(kept)) for kept in plan.kept_modes)
        if not accuracies:
            accuracies[tuple(tuple(range(n)) for n in plan.modes_per_layer)] = base
        if key not in accuracies:
            pruned = pruner.apply(plan)
            accuracies[key] = evaluate_accuracy(pruned, dataset, batch_size, accelerator,
                                                pad_token_id=pad_token_id)["accuracy"]
        accuracy = accuracies[key]
        records.append({
            "method": method,
            "horizon": pruner.horizon,
            "requested_ratio": float(ratio),
            "achieved_ratio": plan.achieved_ratio,
            "kept_states": sum(plan.states_after),
            "total_states": sum(plan.states_before),
            "states_per_layer": plan.states_after,
            "accuracy": accuracy,
            "base_accuracy": base,
            "accuracy_loss": base - accuracy,
        })
    return records
