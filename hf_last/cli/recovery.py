"""Flags shared by the commands that fine-tune after pruning (``scripts/prune.py``, ``scripts/recovery.py``):
the recovery budget and optimiser settings, turned into a :class:`hf_last.recovery.RecoveryConfig`."""

from __future__ import annotations

import argparse

from ..recovery import RecoveryConfig, split_budget


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def add_recovery_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    group = parser.add_argument_group("recovery fine-tune (hf_last.recovery)")
    group.add_argument("--recover-epochs", type=positive_int, help="fine-tune the pruned model for N epochs")
    group.add_argument("--recover-steps", type=positive_int, help="... or for N optimiser steps (both: the first)")
    group.add_argument("--iterative-steps", type=positive_int,
                       help="prune in K steps, fine-tuning (the recovery budget split over the steps) and re-scoring "
                            "after each")
    group.add_argument("--recover-lr", type=float, default=1e-3, help="peak lr of non-SSM weights (default 1e-3)")
    group.add_argument("--recover-ssm-lr", type=float, default=2.5e-4, help="peak lr of Λ, B, Δ (default 2.5e-4)")
    group.add_argument("--recover-batch-size", type=int, default=32, help="global training batch (default 32)")
    group.add_argument("--recover-seed", type=int, default=0, help="seed of shuffling, dropout and the subsets")
    group.add_argument("--max-train-samples", type=positive_int,
                       help="fine-tune on a random subset of the train split (seeded by --recover-seed; the subset "
                            "scripts/train.py takes with the same size and seed)")
    group.add_argument("--max-eval-samples", type=positive_int,
                       help="validate the fine-tune on a random subset of the validation split")
    group.add_argument("--recover-progress", action="store_true",
                       help="tqdm progress bars over the fine-tuning steps (main process only)")
    return parser


def recovery_config(args: argparse.Namespace, parser: argparse.ArgumentParser | None = None,
                    split_over_steps: bool = False) -> RecoveryConfig | None:
    """The RecoveryConfig the flags ask for, or None without a budget. ``split_over_steps``: divide the budget
    evenly over ``--iterative-steps`` (what each step gets). A bad value exits through ``parser.error``."""
    if args.recover_epochs is None and args.recover_steps is None:
        if getattr(args, "iterative_steps", None):
            message = "--iterative-steps needs a recovery budget: --recover-epochs N or --recover-steps N"
            if parser is None:
                raise ValueError(message)
            parser.error(message)
        return None
    try:
        config = RecoveryConfig(
            task=args.task, epochs=args.recover_epochs, max_steps=args.recover_steps,
            lr=args.recover_lr, ssm_lr=args.recover_ssm_lr, batch_size=args.recover_batch_size,
            seed=args.recover_seed, eval_batch_size=getattr(args, "batch_size", 128),
            max_train_samples=args.max_train_samples, max_eval_samples=args.max_eval_samples,
            progress=args.recover_progress)
    except ValueError as error:
        if parser is None:
            raise
        parser.error(str(error))
    if split_over_steps and args.iterative_steps:
        return split_budget(config, args.iterative_steps)[0]  # an even split: every step gets the same budget
    return config
