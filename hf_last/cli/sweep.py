"""``hf-last sweep`` and ``scripts/sweep.py``: flags, the call into :func:`hf_last.experiments.sweep_checkpoint`,
and the printed summary."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..accelerator import get_accelerator
from ..evaluation import DEFAULT_RATIOS
from ..reporting import MAX_ACCURACY_LOSS, method_label, summarize_sweep_files, summary_markdown
from .arguments import add_model_source_arguments, checkpoint_argument, fraction, method_list, ratio_list


def add_sweep_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    add_model_source_arguments(parser, required=False)
    parser.add_argument("--combine", nargs="+", type=Path, metavar="SWEEP_JSON",
                        help="no sweep: write the Table-1 summary across tasks of these sweep.json files "
                             "into OUTPUT_DIR/summary.md")
    parser.add_argument("--task", default="digits", help="task of hf_last.data.TASKS (default: digits)")
    parser.add_argument("--split", default="test", help="split to evaluate (default: test)")
    parser.add_argument("--task-settings", type=json.loads, default={},
                        help='JSON settings of the task builder, as used in training (e.g. \'{"max_length": 200}\')')
    parser.add_argument("--max-samples", type=int,
                        help="evaluate only the first N samples of the split (CPU-sized sweeps; say so when reporting)")
    parser.add_argument("--methods", type=method_list,
                        help="comma-separated method specs, NAME or NAME@L / NAME@auto for a finite score horizon "
                             "(default: every method, and the H-inf/H2 ones also @auto, the data's longest sequence)")
    parser.add_argument("--ratios", type=ratio_list, default=list(DEFAULT_RATIOS),
                        help="comma-separated fractions (default: 0,0.1,...,1)")
    parser.add_argument("--batch-size", type=int, default=128,
                        help="global evaluation batch size, split over processes (default: 128)")
    parser.add_argument("--max-accuracy-loss", type=fraction, default=MAX_ACCURACY_LOSS,
                        help="protocol threshold as a fraction, strict (default: 0.01 = 1 %%p)")
    parser.add_argument("--pole-layer", type=int, default=0, help="layer whose poles are plotted (default: 0)")
    parser.add_argument("--output-dir", type=Path, required=True,
                        help="where sweep.json/.csv, the plots and summary.md go (with --combine: summary.md)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random method")
    return parser


def sweep_main(args: argparse.Namespace) -> int:
    from ..experiments import ExperimentSetupError, sweep_checkpoint  # data drivers: loaded when a sweep runs

    if args.combine:
        summary = summarize_sweep_files(args.combine, Path(args.output_dir) / "summary.md",
                                        max_accuracy_loss=args.max_accuracy_loss)
        print(summary_markdown(summary), end="")
        return 0
    if not (args.model or args.default):
        raise SystemExit("pass --model PATH or --default s5|s4d (or --combine sweep.json ...)")
    accelerator = get_accelerator()
    try:
        records, row, num_samples = sweep_checkpoint(
            checkpoint_argument(args), args.output_dir, task=args.task, split=args.split,
            task_settings=args.task_settings, max_samples=args.max_samples, revision=args.revision,
            accelerator=accelerator, methods=args.methods, ratios=args.ratios, batch_size=args.batch_size,
            max_accuracy_loss=args.max_accuracy_loss, pole_layer=args.pole_layer, seed=args.seed, progress=True)
    except ExperimentSetupError as error:
        raise SystemExit(str(error)) from None
    if accelerator.is_main_process:
        print(f"{len(records)} evaluations on {args.task}/{args.split} ({num_samples} samples, "
              f"{accelerator.num_processes} process(es)); base accuracy {100 * records[0]['base_accuracy']:.2f} %")
        print(f"protocol ratio ({row['reference']}, loss < {100 * args.max_accuracy_loss:g} %p): {100 * row['ratio']:.0f} %"
              + ("" if row["compressible"] else " (non-compressible)"))
        for method, result in row["methods"].items():
            print(f"  {method_label(method):<18} loss {100 * result['accuracy_loss']:6.2f} %p")
        print(f"wrote {args.output_dir}")
    return 0


def add_sweep_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "sweep", help="evaluate every pruning method at ratios 0..1; write records, plots and a Table-1 summary",
        description="Sweep pruning methods x ratios on a task split (data-parallel under torchrun; only the main "
                    "process writes). Same flags as scripts/sweep.py.")
    add_sweep_arguments(parser)
    parser.set_defaults(func=sweep_main)
