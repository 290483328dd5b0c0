"""The prune driver: LAST search for the largest ratio within an accuracy tolerance (or a fixed ratio), accuracy
before and after, and the pruned model saved with its card and plan (and pushed)."""

from __future__ import annotations

import json
from pathlib import Path

from ..accelerator import get_accelerator
from ..collate import longest_sequence, model_pad_token_id
from ..data import load_split
from ..evaluation import accuracy_on, evaluate_accuracy
from ..hub import Evaluation, push_model, save_for_hub
from ..loading import checkpoint_name, load_model
from ..pruning import LASTPruner
from ..recovery import iterative_prune, recovery_data, recovery_finetune
from ..reporting import MAX_ACCURACY_LOSS


def prune_with_search(model, eval_dataset, *, method: str = "last", horizon: int | str | None = None,
                      ratio: float | None = None, max_accuracy_loss: float = MAX_ACCURACY_LOSS, batch_size: int = 128,
                      accelerator=None, recovery=None, train_data=None):
    """``(pruned, info)``: LAST search for the largest ratio within ``max_accuracy_loss`` on ``eval_dataset`` or,
    with ``ratio``, a fixed-ratio prune. ``info`` holds the chosen ratio, accuracies and search trials.

    ``recovery`` (a :class:`hf_last.recovery.RecoveryConfig`) fine-tunes the pruned model on ``train_data`` (the
    task's DatasetDict; loaded from ``recovery`` when None): in the search every candidate is fine-tuned before it
    is evaluated (the largest ratio whose *recovered* accuracy is within the tolerance), with a fixed ratio the
    one pruned model is.

    ``horizon`` (or a ``method`` spec such as ``"last@auto"``) is the score horizon of
    :class:`~hf_last.pruning.LASTPruner`; ``"auto"`` is the longest sequence of ``eval_dataset``."""
    accelerator = get_accelerator(accelerator)
    pruner = LASTPruner(model, method=method, horizon=horizon)
    if pruner.horizon == "auto":
        pruner.resolve_horizon(longest_sequence(eval_dataset))
    finetune = None
    if recovery is not None:
        finetune = recovery_finetune(recovery, data=train_data, accelerator=accelerator)
    if ratio is None:
        result = pruner.search(accuracy_on(eval_dataset, batch_size, accelerator), max_accuracy_loss=max_accuracy_loss,
                               return_result=True, finetune=finetune)
        info = {"mode": "search", **result.to_dict()}
        if recovery is not None:
            info["recovery"] = dict(result.model.config.pruning.get("recovery", {}), candidates_fine_tuned=len(
                result.trials))
        return result.model, info
    pruned = pruner.prune(ratio)
    if finetune is not None:
        pruned = finetune(pruned)
    pad = model_pad_token_id(model)
    before = evaluate_accuracy(model, eval_dataset, batch_size, accelerator, pad_token_id=pad)["accuracy"]
    after = evaluate_accuracy(pruned, eval_dataset, batch_size, accelerator, pad_token_id=pad)["accuracy"]
    return pruned, {"mode": "fixed", "ratio": ratio, "accuracy": after, "base_accuracy": before,
                    "accuracy_loss": before - after, "trials": []}


def check_recovery_request(ratio, recovery, iterative_steps) -> None:
    """Iterative pruning needs a fixed ratio (a search over iterative schedules would re-run the whole schedule
    per candidate) and a recovery budget; ValueError otherwise. Recovery alone works with both."""
    if iterative_steps is not None and (not isinstance(iterative_steps, int) or iterative_steps < 1):
        raise ValueError(f"iterative_steps must be a positive integer, got {iterative_steps!r}")
    if iterative_steps and recovery is None:
        raise ValueError("iterative pruning fine-tunes after every step: pass recovery=RecoveryConfig(...) "
                         "(the CLI: --recover-epochs N or --recover-steps N)")
    if iterative_steps and ratio is None:
        raise ValueError("iterative pruning needs a fixed ratio (--ratio R); the accuracy-targeted search fine-tunes "
                         "one-shot candidates (recovery without --iterative-steps)")


def recovery_text(pruning: dict, lead: str = "then fine-tuned") -> str:
    """``"; then fine-tuned ..."`` (``lead``) for a selection line / card protocol, from ``config.pruning``; ""
    without recovery."""
    if "schedule" in pruning:
        schedule = pruning["schedule"]
        return (f"; iterative, {schedule['steps']} prune/fine-tune steps, {schedule['optimizer_steps']} optimiser "
                f"steps, {schedule['recovery_wall_time_s']:.0f} s of fine-tuning")
    if "recovery" in pruning:
        recovery = pruning["recovery"]
        return (f"; {lead} ({recovery['budget']}: {recovery['optimizer_steps']} optimiser steps, "
                f"{recovery['wall_time_s']:.0f} s, best validation epoch {recovery['best_epoch']})")
    return ""


def save_pruned(pruned, folder, repo_id: str, *, evaluation=None, plot=None, push: bool = False, token=None,
                private: bool | None = None):
    """Write the pruned model with card and plan into ``folder`` (and push it to ``repo_id`` when ``push``)."""
    if push:
        return push_model(pruned, repo_id, token=token, private=private, evaluation=evaluation, plot=plot,
                          local_dir=folder)
    return save_for_hub(pruned, folder, repo_id, evaluation=evaluation, plot=plot)


def prune_checkpoint(checkpoint: str, *, task: str = "digits", search_split: str = "validation",
                     eval_split: str = "test", method: str = "last", horizon: int | str | None = None,
                     ratio: float | None = None,
                     max_accuracy_loss: float = MAX_ACCURACY_LOSS, batch_size: int = 128, output_dir=None,
                     push_to_hub: str | None = None, private: bool | None = None, token=None,
                     revision: str | None = None, accelerator=None, recovery=None,
                     iterative_steps: int | None = None):
    """Prune ``checkpoint`` (folder or Hub id) with :func:`prune_with_search` on ``search_split``, evaluate before
    and after on ``eval_split``, and (main process only) save the pruned model, card, plan and ``search.json`` to
    ``output_dir`` and/or push it to ``push_to_hub``.

    ``recovery`` (a :class:`hf_last.recovery.RecoveryConfig` for ``task``) fine-tunes the pruned model on the task's
    train split (:func:`hf_last.recovery.recover`) — in the search, every candidate before it is evaluated; with
    ``iterative_steps`` K the ratio is reached in K prune / fine-tune (``recovery`` per step) / re-score steps
    (:func:`hf_last.recovery.iterative_prune`), and ``iterative.json`` (every step's plan and the cumulative plan) is
    written next to the model.

    Returns ``(pruned, report)``; ``report`` holds the selection, states and accuracies before/after and, on the
    main process, ``saved`` (the written files, or the push's commit)."""
    check_recovery_request(ratio, recovery, iterative_steps)
    if recovery is not None and recovery.task != task:
        raise ValueError(f"the recovery fine-tunes on task {recovery.task!r} but the model is pruned and evaluated on "
                         f"{task!r}; give RecoveryConfig(task={task!r}, ...)")
    accelerator = get_accelerator(accelerator)
    model = load_model(checkpoint, revision)
    search_data, _ = load_split(task, search_split)
    test_data, _ = load_split(task, eval_split)
    iterative = None
    train_data = None if recovery is None else recovery_data(recovery)
    if iterative_steps:
        iterative = iterative_prune(model, ratio, iterative_steps, recovery, method=method, horizon=horizon,
                                    data=train_data, accelerator=accelerator)
        pruned = iterative.model
        info = {"mode": "iterative", "ratio": ratio, "steps": iterative.steps,
                "schedule": pruned.config.pruning["schedule"]}
    else:
        pruned, info = prune_with_search(model, search_data, method=method, horizon=horizon, ratio=ratio,
                                         max_accuracy_loss=max_accuracy_loss, batch_size=batch_size,
                                         accelerator=accelerator, recovery=recovery, train_data=train_data)
        if recovery is not None and "recovery" not in info:
            info["recovery"] = pruned.config.pruning["recovery"]
    pad = model_pad_token_id(model)
    before = evaluate_accuracy(model, test_data, batch_size, accelerator, pad_token_id=pad)["accuracy"]
    after = evaluate_accuracy(pruned, test_data, batch_size, accelerator, pad_token_id=pad)["accuracy"]
    chosen = pruned.config.pruning["requested_ratio"]
    method, horizon = pruned.config.pruning["method"], pruned.config.pruning["horizon"]
    scored = method if horizon is None else f"{method} (score horizon {horizon} steps)"
    how = (f"ratio {chosen:.4f} chosen by {scored} search on the {search_split} split (loss <= "
           f"{100 * max_accuracy_loss:g} %p)" if ratio is None else f"fixed ratio {chosen}, {scored}")
    if ratio is None and recovery is not None:
        how += (f", every candidate fine-tuned before it was evaluated ({len(info['trials'])} fine-tunes)"
                + recovery_text(pruned.config.pruning, lead="the chosen one's fine-tune"))
    else:
        how += recovery_text(pruned.config.pruning)
    report = {"selection": how, "ratio": chosen, "eval_split": eval_split,
              "states_before": sum(pruned.config.pruning["states_per_layer_before"]),
              "states_after": sum(pruned.config.pruning["states_per_layer_after"]),
              "accuracy_before": before, "accuracy_after": after, "search": info}
    if accelerator.is_main_process and (output_dir is not None or push_to_hub):
        evaluation = Evaluation(dataset_name=task, dataset_type=task, dataset_split=eval_split,
                                protocol=f"{how}; accuracy on the {eval_split} split ({len(test_data)} sequences)",
                                accuracy_before=before, accuracy_after=after)
        variant = method if horizon is None else f"{method}-h{horizon}"
        repo_id = push_to_hub or f"{checkpoint_name(checkpoint)}-{variant}-{round(100 * chosen)}"
        report["saved"] = save_pruned(pruned, output_dir, repo_id, evaluation=evaluation, push=bool(push_to_hub),
                                      token=token, private=private)
        if output_dir is not None:
            (Path(output_dir) / "search.json").write_text(json.dumps({**info, "test_accuracy_before": before,
                                                                      "test_accuracy_after": after}, indent=2) + "\n")
            if iterative is not None:
                (Path(output_dir) / "iterative.json").write_text(json.dumps(iterative.to_dict(), indent=2) + "\n")
    accelerator.wait_for_everyone()
    return pruned, report
