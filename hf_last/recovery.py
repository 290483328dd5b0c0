"""Recovery fine-tuning of pruned models, and iterative pruning (prune a little, fine-tune, re-score, repeat).

>>> from hf_last.recovery import RecoveryConfig, recover, iterative_prune
>>> recovered, report = recover(pruned, RecoveryConfig(task="digits", epochs=3))
>>> result = iterative_prune(model, 0.7, steps=3, method="last@auto", recovery=RecoveryConfig(task="digits", epochs=1))
>>> result.model, result.step_plans, result.cumulative_plan
>>> LASTPruner(model).search(accuracy_on(validation), finetune=recovery_finetune(RecoveryConfig(task="digits", epochs=3)))

Recovery uses the training loop's building blocks (:mod:`hf_last.training`: AdamW over ``param_groups``, a cosine
schedule with warmup spanning the recovery budget, data-parallel batches and validation through accelerate) on a
*copy* of the model: pruned models train as they are (physically smaller layers, no masks) and the input model is
never touched. The weights kept are those of the best validation accuracy, the pruned-but-not-yet-fine-tuned
weights included (ties go to the later epoch, as in training). The copy keeps ``pruning_plan`` and
``config.pruning``, which gains a ``"recovery"`` record (budget, optimiser steps, wall time, validation accuracy
before and after).

Under ``accelerate launch`` / ``torchrun`` every process trains on its shard of each batch; gradients are averaged,
so all processes hold the same weights and the iterative schedule makes the same plans on every process.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field, replace

import torch

from .accelerator import get_accelerator
from .collate import longest_sequence
from .pruning import LASTPruner, PruningPlan
from .pruning.plan import check_ratio
from .training import (TrainConfig, TrainerState, create_optimizer_and_scheduler, epoch_loader, evaluate, load_data,
                       steps_per_epoch, train_one_epoch)


@dataclass
class RecoveryConfig:
    """The fine-tuning budget and optimiser settings of a recovery run (validated on construction).

    The budget is ``epochs`` or ``max_steps`` optimiser steps (both: whichever ends first); the cosine schedule
    spans the budget. Defaults are a gentler version of the training defaults (the model is already trained).
    """

    task: str = field(default="digits", metadata={"help": "task whose train split is fine-tuned on"})
    task_settings: dict = field(default_factory=dict, metadata={"help": "task generator settings"})
    epochs: int | None = field(default=None, metadata={"help": "recovery epochs"})
    max_steps: int | None = field(default=None, metadata={"help": "recovery optimiser steps"})
    lr: float = field(default=1e-3, metadata={"help": "peak learning rate of non-SSM parameters"})
    ssm_lr: float = field(default=2.5e-4, metadata={"help": "peak learning rate of Λ, B, Δ"})
    weight_decay: float = field(default=0.05, metadata={"help": "AdamW weight decay (non-SSM weights)"})
    warmup: float = field(default=0.1, metadata={"help": "warmup fraction of the recovery steps"})
    batch_size: int = field(default=32, metadata={"help": "global training batch size"})
    eval_batch_size: int = field(default=128, metadata={"help": "global validation batch size"})
    max_grad_norm: float | None = field(default=None, metadata={"help": "clip gradients to this norm"})
    seed: int = field(default=0, metadata={"help": "seed of shuffling and dropout"})
    max_train_samples: int | None = field(default=None, metadata={"help": "fine-tune on a random subset"})
    max_eval_samples: int | None = field(default=None, metadata={"help": "validate on a random subset"})
    progress: bool = field(default=False, metadata={"help": "tqdm progress bars (main process only)"})
    log_every: int | None = field(default=None, metadata={"help": "print the loss every N steps"})
    keep: str = field(default="best", metadata={"help": "best: the weights with the best validation accuracy "
                                                        "(the pruned weights included); last: the final weights"})

    def __post_init__(self):
        if self.epochs is None and self.max_steps is None:
            raise ValueError("a recovery needs a budget: epochs=N and/or max_steps=N")
        if self.keep not in ("best", "last"):
            raise ValueError(f"keep must be 'best' (best validation accuracy) or 'last', got {self.keep!r}")
        for name in ("epochs", "max_steps"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
        self.training_config("s5")  # validates the shared fields (task, rates, batch sizes) with TrainConfig's checks

    def training_config(self, family: str, num_train_samples: int | None = None) -> TrainConfig:
        """The :class:`~hf_last.training.TrainConfig` the training building blocks read (architecture fields are
        unused). With ``num_train_samples``, ``epochs``/``max_steps`` are the resolved budget."""
        epochs, max_steps = self.epochs, self.max_steps
        if num_train_samples is not None:
            epochs, max_steps = self.budget(num_train_samples)
        return TrainConfig(family=family, task=self.task, task_settings=dict(self.task_settings), epochs=epochs or 1,
                           max_steps=max_steps, lr=self.lr, ssm_lr=self.ssm_lr, weight_decay=self.weight_decay,
                           warmup=self.warmup, batch_size=self.batch_size, eval_batch_size=self.eval_batch_size,
                           max_grad_norm=self.max_grad_norm, seed=self.seed, max_train_samples=self.max_train_samples,
                           max_eval_samples=self.max_eval_samples, progress=self.progress, log_every=self.log_every,
                           output_dir="unused")

    def budget(self, num_train_samples: int) -> tuple[int, int]:
        """(epochs, optimiser steps) of the run on ``num_train_samples`` training sequences."""
        per_epoch = steps_per_epoch(num_train_samples, self.batch_size)
        steps = per_epoch * self.epochs if self.epochs is not None else self.max_steps
        if self.max_steps is not None:
            steps = min(steps, self.max_steps)
        return math.ceil(steps / per_epoch), steps

    def to_dict(self) -> dict:
        return asdict(self)


def model_family(model) -> str:
    """``"s5"`` or ``"s4d"`` from the model's ``config.model_type`` (``last_s5`` / ``last_s4d``)."""
    model_type = getattr(getattr(model, "config", None), "model_type", "")
    family = model_type.removeprefix("last_")
    if family not in ("s5", "s4d"):
        raise TypeError(f"recovery fine-tunes hf_last S4D/S5 models, got {type(model).__name__} "
                        f"(model_type {model_type!r})")
    return family


def _check_data(data) -> None:
    missing = [split for split in ("train", "validation") if split not in data]
    if missing:
        raise ValueError(f"recovery needs the task's train and validation splits; the data has no {missing}")


def recovery_data(config: RecoveryConfig):
    """The task's ``DatasetDict`` that :func:`recover` fine-tunes and validates on: ``config.task`` with its
    settings, train / validation subsampled at random (seeded by ``config.seed``) to ``max_train_samples`` /
    ``max_eval_samples`` — the same subsets ``scripts/train.py`` takes with the same seed and sizes."""
    return load_data(config.training_config("s5"))  # the family does not change the data


def recovery_finetune(config: RecoveryConfig, data=None, accelerator=None):
    """``finetune(model) -> recovered model``: :func:`recover` as a callable, for
    ``LASTPruner.search(evaluate, finetune=...)`` (the accuracy-targeted search over recovered candidates).
    ``data`` is loaded once here (:func:`recovery_data`) when None."""
    if not isinstance(config, RecoveryConfig):
        raise TypeError(f"recovery_finetune() takes a RecoveryConfig, got {type(config).__name__}")
    data = recovery_data(config) if data is None else data

    def finetune(model):
        return recover(model, config, data=data, accelerator=accelerator)[0]

    return finetune


def recovering_prune(recovery: RecoveryConfig, *, method: str = "last", horizon: int | str | None = None,
                     iterative_steps: int | None = None, data=None, accelerator=None):
    """``prune(model, ratio) -> (pruned, plan)`` that fine-tunes what it prunes: one-shot then :func:`recover`, or
    with ``iterative_steps`` K :func:`iterative_prune` (``recovery`` per step; the plan is the cumulative one).
    For :func:`hf_last.hub.prepare_variants` / ``push_variants(..., prune=...)`` (``hf-last prune --recover-epochs``).
    ``"auto"`` horizons are the longest validation sequence of ``data`` (loaded once from ``recovery`` when None)."""
    if not isinstance(recovery, RecoveryConfig):
        raise TypeError(f"recovering_prune() takes a RecoveryConfig, got {type(recovery).__name__}")
    data = recovery_data(recovery) if data is None else data

    def prune(model, ratio):
        if iterative_steps:
            result = iterative_prune(model, ratio, iterative_steps, recovery, method=method, horizon=horizon,
                                     data=data, accelerator=accelerator)
            return result.model, result.cumulative_plan
        pruner = LASTPruner(model, method=method, horizon=horizon)
        if pruner.horizon == "auto":
            pruner.resolve_horizon(longest_sequence(data["validation"]))
        plan = pruner.plan(ratio)
        return recover(pruner.apply(plan), recovery, data=data, accelerator=accelerator)[0], plan

    return prune


def check_model_fits_task(model, task: str, data=None) -> None:
    """ValueError unless ``model`` takes ``task``'s inputs and predicts its classes (input_size, vocab_size,
    num_labels as the task builds its configs): fine-tuning on another task's data would fail deep in the forward
    or, worse, silently train the model on the wrong task."""
    from .data import TASKS

    expected = TASKS[task].config_kwargs(data)
    config = model.config
    mismatches = [f"{name} {getattr(config, name, None)!r} (the task's: {expected[name]!r})"
                  for name in ("input_size", "vocab_size", "num_labels") if getattr(config, name, None) != expected[name]]
    if mismatches:
        raise ValueError(f"the model does not fit task {task!r}: {', '.join(mismatches)}. Fine-tune on the task the "
                         "model was trained on (RecoveryConfig(task=...), the CLI's --task).")


def _snapshot(model) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


def recover(model, config: RecoveryConfig, data=None, accelerator=None):
    """Fine-tune a copy of ``model`` on ``config.task``'s train split; return ``(recovered, report)``.

    ``data``: the task's ``DatasetDict`` (train and validation splits), loaded from ``config`` when None.
    Validation runs before fine-tuning and after every epoch; the returned weights are the best of those
    (``config.keep="last"``: the final weights, whose validation accuracy the report then gives). The copy
    is in eval mode, keeps ``pruning_plan`` and, when the model is pruned, records ``config.pruning["recovery"]``
    (``report`` without the per-epoch history). Every process returns the same model.
    """
    from accelerate.utils import set_seed

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"recover(model) takes an S4D/S5 model, got {type(model).__name__}")
    if not isinstance(config, RecoveryConfig):
        raise TypeError(f"recover() takes a RecoveryConfig, got {type(config).__name__}")
    family = model_family(model)
    accelerator = get_accelerator(accelerator)
    if data is None:
        data = recovery_data(config)
    _check_data(data)
    check_model_fits_task(model, config.task, data)
    args = config.training_config(family, len(data["train"]))
    start = time.perf_counter()
    set_seed(config.seed)
    tuned = copy.deepcopy(model).to(accelerator.device)
    before = evaluate(tuned, data["validation"], args, accelerator)
    best_accuracy, best_epoch, best_state = before, 0, _snapshot(tuned)
    optimizer, scheduler = create_optimizer_and_scheduler(tuned, args, args.max_steps)
    prepared, optimizer = accelerator.prepare(tuned, optimizer)  # the scheduler steps once per optimiser step
    state = TrainerState()
    while state.epoch < args.epochs and state.global_step < args.max_steps:
        loader = epoch_loader(data["train"], args, state.epoch, accelerator)
        record = train_one_epoch(prepared, loader, optimizer, scheduler, accelerator, args, state)
        record["validation_accuracy"] = evaluate(prepared, data["validation"], args, accelerator)
        state.epoch += 1
        record.update(epoch=state.epoch, global_step=state.global_step)
        state.history.append(record)
        if record["validation_accuracy"] >= best_accuracy or config.keep == "last":
            best_accuracy, best_epoch, best_state = record["validation_accuracy"], state.epoch, _snapshot(tuned)
    tuned = accelerator.unwrap_model(prepared)
    tuned.load_state_dict(best_state)
    tuned.eval()
    accelerator.wait_for_everyone()
    report = {"epochs": state.epoch, "optimizer_steps": state.global_step, "budget": _budget_text(config),
              "keep": config.keep, "lr": config.lr, "ssm_lr": config.ssm_lr, "batch_size": config.batch_size,
              "task": config.task,
              "num_train_samples": len(data["train"]), "validation_accuracy_before": before,
              "validation_accuracy_after": best_accuracy, "best_epoch": best_epoch,
              "num_processes": accelerator.num_processes, "wall_time_s": time.perf_counter() - start}
    pruning = getattr(tuned.config, "pruning", None)
    if pruning:
        tuned.config.pruning = {**pruning, "recovery": report}
    return tuned, {**report, "history": state.history}


def _budget_text(config: RecoveryConfig) -> str:
    parts = [f"{config.epochs} epochs"] if config.epochs is not None else []
    parts += [f"{config.max_steps} steps"] if config.max_steps is not None else []
    return " / ".join(parts)


# ---- iterative pruning ----------------------------------------------------------------------------------------
def schedule_ratios(target_ratio: float, steps: int) -> list[float]:
    """Cumulative ratios after each of ``steps`` steps, linear in the fraction removed: r·i/k for i = 1..k."""
    target_ratio = check_ratio(target_ratio, "target_ratio")
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    return [target_ratio * i / steps for i in range(1, steps + 1)]


def step_ratio(states_now: int, states_total: int, cumulative_ratio: float) -> float:
    """The ratio to prune the current model (``states_now`` states) with so that
    ``floor(states_total·(1 − cumulative_ratio))`` of the original ``states_total`` remain (global allocation keeps
    floor(N·(1 − r)) states; the half state absorbs rounding). 0 when the model is already that small."""
    target = max(math.floor(states_total * (1 - cumulative_ratio) + 1e-9), 1)
    if target >= states_now:
        return 0.0
    return min(max(1 - (target + 0.5) / states_now, 0.0), 1.0)


def split_budget(recovery: RecoveryConfig, steps: int, final_share: float | None = None) -> list[RecoveryConfig]:
    """``recovery``'s budget (epochs and/or optimiser steps) split over ``steps`` iterative steps, one config per
    step. Evenly by default (each gets ``budget // steps``, at least 1); with ``final_share`` f the last step gets
    ``round(f·budget)`` and the others split the rest evenly (the last cut, the largest, then gets the longest
    fine-tune)."""
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if final_share is not None and not (isinstance(final_share, (int, float)) and 0 < final_share < 1):
        raise ValueError(f"final_share must be a fraction in (0, 1) of the budget, got {final_share!r}")

    def shares(budget: int | None) -> list[int | None]:
        if budget is None:
            return [None] * steps
        if final_share is None or steps == 1:
            return [max(budget // steps, 1)] * steps
        last = max(round(final_share * budget), 1)
        return [max((budget - last) // (steps - 1), 1)] * (steps - 1) + [last]

    return [replace(recovery, epochs=epochs, max_steps=max_steps)
            for epochs, max_steps in zip(shares(recovery.epochs), shares(recovery.max_steps))]


def compose_plans(first: PruningPlan, second: PruningPlan) -> PruningPlan:
    """The plan on ``first``'s model equal to applying ``first`` then ``second`` (made on the pruned model):
    ``second``'s kept indices point into ``first``'s kept modes (the layers keep modes in index order)."""
    if second.modes_per_layer != [len(k) for k in first.kept_modes]:
        raise ValueError("the second plan was not made on the model the first plan produces")
    kept = [[layer_kept[j] for j in step_kept] for layer_kept, step_kept in zip(first.kept_modes, second.kept_modes)]
    return PruningPlan(method=second.method, requested_ratio=second.requested_ratio, kept_modes=kept,
                       modes_per_layer=list(first.modes_per_layer), states_per_mode=list(first.states_per_mode),
                       bidirectional_score=second.bidirectional_score, seed=second.seed, horizon=second.horizon,
                       base_model=first.base_model, fingerprint=first.fingerprint)


@dataclass
class IterativeResult:
    """What :func:`iterative_prune` did: the final model, every step's plan (on the model of that step), the
    cumulative plan (on the input model) and one record per step (ratios, states, accuracies, recovery cost)."""

    model: torch.nn.Module
    step_plans: list[PruningPlan]
    cumulative_plan: PruningPlan
    steps: list[dict]

    def to_dict(self) -> dict:
        return {"steps": self.steps, "step_plans": [p.to_dict() for p in self.step_plans],
                "cumulative_plan": self.cumulative_plan.to_dict()}


def iterative_prune(model, target_ratio: float, steps: int, recovery, *, method: str = "last",
                    horizon: int | str | None = None, data=None, accelerator=None, **pruner_kwargs) -> IterativeResult:
    """Prune ``model`` to ``target_ratio`` of its states in ``steps`` steps, fine-tuning after each.

    Step i prunes the current (fine-tuned) model, re-scored on its current weights with ``method`` / ``horizon``
    (any :class:`~hf_last.pruning.LASTPruner` criterion; ``"auto"`` is the longest validation sequence), to the
    cumulative ratio ``target_ratio·i/steps`` of the original states, then runs :func:`recover` with ``recovery``
    (one :class:`RecoveryConfig` for every step, or a list of ``steps`` of them: e.g. a longer last fine-tune,
    :func:`split_budget`).
    The final model's ``config.pruning`` describes the whole schedule against the input model (method, ratios,
    states before/after) with ``"history"`` (each step's metadata and recovery record) and ``"schedule"``
    (steps, total optimiser steps, wall time); its ``pruning_plan`` is the cumulative plan. The input is untouched.
    """
    ratios = schedule_ratios(target_ratio, steps)
    per_step = list(recovery) if isinstance(recovery, (list, tuple)) else [recovery] * steps
    if not all(isinstance(config, RecoveryConfig) for config in per_step):
        raise TypeError("iterative_prune() takes recovery=RecoveryConfig(...) or a list of them, one per step; got "
                        f"{type(recovery).__name__}")
    if len(per_step) != steps:
        raise ValueError(f"recovery lists {len(per_step)} configs for {steps} steps; give one per step")
    accelerator = get_accelerator(accelerator)
    model_family(model)
    if data is None:
        data = recovery_data(per_step[0])
    _check_data(data)
    start = time.perf_counter()
    first = LASTPruner(model, method=method, horizon=horizon, **pruner_kwargs)
    if first.horizon == "auto":
        first.resolve_horizon(longest_sequence(data["validation"]))
    criterion, resolved_horizon = first.criterion, first.horizon  # "last@auto" -> (last, L) for every step
    cumulative = first.plan(0.0)  # keeps every mode: the start of the composition
    total = sum(cumulative.states_before)
    current, plans, records, history = model, [], [], []
    for index, (cumulative_ratio, step_recovery) in enumerate(zip(ratios, per_step), start=1):
        pruner = LASTPruner(current, method=criterion, horizon=resolved_horizon, **pruner_kwargs)
        states_now = sum(pruner.plan(0.0).states_before)
        plan = pruner.plan(step_ratio(states_now, total, cumulative_ratio))
        pruned = pruner.apply(plan)
        recovered, report = recover(pruned, step_recovery, data=data, accelerator=accelerator)
        cumulative = compose_plans(cumulative, plan)
        plans.append(plan)
        history.append({key: value for key, value in recovered.config.pruning.items() if key != "previous"})
        records.append({"step": index, "cumulative_ratio_target": cumulative_ratio, "step_ratio": plan.requested_ratio,
                        "states_before": states_now, "states_after": sum(plan.states_after),
                        "achieved_ratio": 1 - sum(plan.states_after) / total,
                        "validation_accuracy_pruned": report["validation_accuracy_before"],
                        "validation_accuracy_recovered": report["validation_accuracy_after"],
                        "optimizer_steps": report["optimizer_steps"], "recovery_wall_time_s": report["wall_time_s"]})
        current = recovered
    cumulative = PruningPlan.from_dict({**cumulative.to_dict(), "requested_ratio": float(target_ratio)})
    current.config.pruning = _iterative_metadata(model, current, cumulative, history, records,
                                                  time.perf_counter() - start)
    current.pruning_plan = cumulative
    return IterativeResult(model=current, step_plans=plans, cumulative_plan=cumulative, steps=records)


def _iterative_metadata(original, final, cumulative: PruningPlan, history: list[dict], records: list[dict],
                        wall_time_s: float) -> dict:
    """``config.pruning`` of an iteratively pruned model: the last step's metadata rewritten against the input
    model, the steps in ``"history"`` and the schedule's totals in ``"schedule"``."""
    metadata = {key: value for key, value in final.config.pruning.items() if key not in ("previous", "recovery")}
    metadata.update(requested_ratio=cumulative.requested_ratio, achieved_ratio=cumulative.achieved_ratio,
                    base_model=str(getattr(original.config, "_name_or_path", "") or ""),
                    states_per_layer_before=cumulative.states_before, states_per_layer_after=cumulative.states_after,
                    history=history,
                    schedule={"kind": "iterative", "steps": len(records),
                              "cumulative_ratios": [r["cumulative_ratio_target"] for r in records],
                              "optimizer_steps": sum(r["optimizer_steps"] for r in records),
                              "recovery_wall_time_s": sum(r["recovery_wall_time_s"] for r in records),
                              "wall_time_s": wall_time_s})
    previous = getattr(original.config, "pruning", None)
    if previous:
        metadata["previous"] = previous
    return metadata
