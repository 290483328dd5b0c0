"""``hf-last demo``: flags, the call into :func:`hf_last.experiments.run_demo` and the printed summary."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch

from ..accelerator import get_accelerator
from ..experiments import ExperimentSetupError, run_demo
from ..loading import checkpoint_name, default_checkpoint
from ..models import FAMILIES
from ..reporting import MAX_ACCURACY_LOSS, method_label
from .arguments import HORIZON_HELP, fraction, horizon


def add_demo_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--family", choices=FAMILIES, default="s5", help="shipped checkpoint (default: s5)")
    parser.add_argument("--model", help="use this checkpoint folder instead of the shipped one")
    parser.add_argument("--ratio", type=fraction, help="fixed pruning ratio (default: search, max loss 1 %%p)")
    parser.add_argument("--horizon", type=horizon, default="auto",
                        help=HORIZON_HELP + " (default: auto; none prunes with LAST exactly as published)")
    parser.add_argument("--max-accuracy-loss", type=fraction, default=MAX_ACCURACY_LOSS,
                        help="search tolerance as a fraction (default: 0.01)")
    parser.add_argument("--output-dir", type=Path, default=Path("hf_last_demo"), help="default: ./hf_last_demo")
    parser.add_argument("--overwrite", action="store_true",
                        help="write into a non-empty directory that is not an earlier demo output (deletes nothing)")
    return parser


def demo_report(summary: dict, output_dir) -> str:
    """What the demo did, in a few lines."""
    search = summary["validation_search"]
    others = "; ".join(f"{method_label(m)} {100 * a:.2f} %" for m, a in summary["others_at_ratio"].items())
    validation = f"validation loss {100 * search['accuracy_loss']:.2f} %p; " if search["mode"] == "search" else ""
    before, after = summary["test_accuracy_before"], summary["test_accuracy_after"]
    horizon = "" if summary["horizon"] is None else f" (score horizon {summary['horizon']} steps)"
    return (f"hf-last demo: {checkpoint_name(summary['checkpoint'])} on digits, {method_label(summary['method'])}"
            f"{horizon} pruning\n"
            f"  {summary['selection']}: {100 * summary['ratio']:.1f} % of states removed "
            f"({summary['states_before']} -> {summary['states_after']} states, "
            f"{summary['parameters_before']:,} -> {summary['parameters_after']:,} parameters)\n"
            f"  test accuracy: {100 * before:.2f} % -> {100 * after:.2f} % "
            f"(loss {100 * (before - after):.2f} %p; {validation}{summary['test_samples']} test sequences)\n"
            f"  at the same ratio on test: {others} "
            f"(strongest baseline on validation: {method_label(summary['strongest_baseline'])})\n"
            f"  wrote {output_dir}/pruned_model (model, card, plan) and {output_dir}/accuracy_vs_ratio.png "
            f"in {summary['seconds']} s")


def demo_main(args: argparse.Namespace) -> int:
    if "OMP_NUM_THREADS" not in os.environ:
        # The shipped models are small (batch x 64 steps): one thread is several times faster than two
        # oversubscribed ones on a busy 2-core machine. Set OMP_NUM_THREADS to choose otherwise.
        torch.set_num_threads(1)
    accelerator = get_accelerator()
    try:
        summary = run_demo(args.model or default_checkpoint(args.family), args.output_dir, ratio=args.ratio,
                           max_accuracy_loss=args.max_accuracy_loss, horizon=args.horizon, overwrite=args.overwrite,
                           accelerator=accelerator, progress=print if accelerator.is_main_process else None)
    except ExperimentSetupError as error:
        raise SystemExit(str(error)) from None
    if accelerator.is_main_process:
        print(demo_report(summary, args.output_dir))
    return 0


def add_demo_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="prune the shipped digits checkpoint with LAST, evaluate before/after, write model + card + plot",
        description="Offline demo: the shipped S5 (or --family s4d) digits checkpoint, pruned with LAST at the data's "
                    "horizon (--horizon) at the largest ratio within 1 %p on the validation split (or --ratio), "
                    "and compared on the test split with LAST as published and the strongest baseline.")
    add_demo_arguments(parser)
    parser.set_defaults(func=demo_main)
