"""``scripts/prune.py``: flags, the call into :func:`hf_last.experiments.prune_checkpoint` (search for the largest
ratio within a tolerance, or a fixed ratio) and the printed result."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..accelerator import get_accelerator
from ..experiments import prune_checkpoint
from ..reporting import MAX_ACCURACY_LOSS
from .recovery import add_recovery_arguments, recovery_config
from .arguments import HORIZON_HELP, add_model_source_arguments, checkpoint_argument, fraction, horizon


def add_prune_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    add_model_source_arguments(parser)
    parser.add_argument("--task", default="digits")
    parser.add_argument("--search-split", default="validation",
                        help="split the search evaluates candidates on (default: validation)")
    parser.add_argument("--eval-split", default="test", help="split reported before/after (default: test)")
    parser.add_argument("--method", default="last", help="pruning method (default: last); see hf_last.pruning.METHODS")
    parser.add_argument("--horizon", type=horizon, default=None, help=HORIZON_HELP + " (default: none)")
    parser.add_argument("--ratio", type=fraction, help="fixed ratio instead of the accuracy-targeted search")
    parser.add_argument("--max-accuracy-loss", type=fraction, default=MAX_ACCURACY_LOSS,
                        help="search tolerance as a fraction (default: 0.01 = 1 %%p; loss <= tolerance)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--output-dir", type=Path, help="where the pruned model, card and plan go")
    parser.add_argument("--push-to-hub", metavar="REPO_ID", help="also push the pruned model to this repo")
    parser.add_argument("--private", action="store_true")
    parser.add_argument("--token")
    add_recovery_arguments(parser)
    return parser


def prune_main(args: argparse.Namespace, parser: argparse.ArgumentParser | None = None) -> int:
    if args.output_dir is None and args.push_to_hub is None:
        raise SystemExit("nothing to do: pass --output-dir DIR and/or --push-to-hub USER/NAME")
    recovery = recovery_config(args, parser, split_over_steps=True)
    if args.iterative_steps and args.ratio is None:
        message = ("--iterative-steps needs --ratio R (the search fine-tunes one-shot candidates: pass only "
                   "--recover-epochs/--recover-steps to search over recovered models)")
        if parser is None:
            raise SystemExit(message)
        parser.error(message)
    accelerator = get_accelerator()
    _, report = prune_checkpoint(
        checkpoint_argument(args), task=args.task, search_split=args.search_split, eval_split=args.eval_split,
        method=args.method, horizon=args.horizon, ratio=args.ratio, max_accuracy_loss=args.max_accuracy_loss,
        batch_size=args.batch_size,
        output_dir=args.output_dir, push_to_hub=args.push_to_hub, private=args.private or None, token=args.token,
        revision=args.revision, accelerator=accelerator, recovery=recovery, iterative_steps=args.iterative_steps)
    if accelerator.is_main_process:
        print(f"{report['selection']}: states {report['states_before']} -> {report['states_after']}; "
              f"{args.eval_split} accuracy {100 * report['accuracy_before']:.2f} % -> "
              f"{100 * report['accuracy_after']:.2f} %")
        for step in report["search"].get("steps", []):
            print(f"  step {step['step']}: states {step['states_before']} -> {step['states_after']}, validation "
                  f"{100 * step['validation_accuracy_pruned']:.2f} % pruned -> "
                  f"{100 * step['validation_accuracy_recovered']:.2f} % fine-tuned ({step['optimizer_steps']} steps, "
                  f"{step['recovery_wall_time_s']:.1f} s)")
        print(f"pushed: {report['saved']}" if args.push_to_hub else f"wrote {args.output_dir}")
    return 0
