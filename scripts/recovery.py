#!/usr/bin/env python
"""One-shot vs one-shot + recovery fine-tune vs iterative pruning, per method and ratio (hf_last.experiments.recovery).

    python scripts/recovery.py --default s5 --methods last@auto,last,uniform_magnitude --ratios 0.5,0.7,0.9 \\
        --recover-epochs 3 --iterative-steps 3 --output-dir results/recovery/s5-digits
    accelerate launch --multi_gpu --num_processes 2 scripts/recovery.py ...     # data-parallel fine-tuning

One-shot + recovery gets --recover-epochs (or --recover-steps); the iterative schedule gets the same budget split
over its --iterative-steps. Writes records.jsonl (as it goes), records.json, summary.md, accuracy_vs_ratio.png.
"""

import argparse
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread per rank on shared CPUs

from hf_last.accelerator import announce_world_size  # noqa: E402


def main(argv=None) -> int:
    from pathlib import Path

    from hf_last.accelerator import get_accelerator
    from hf_last.cli.arguments import add_model_source_arguments, checkpoint_argument, method_list, ratio_list
    from hf_last.cli.recovery import add_recovery_arguments, recovery_config
    from hf_last.cli.recovery import positive_int
    from hf_last.experiments.recovery import compare_recovery, comparison_data
    from hf_last.loading import load_model

    announce_world_size("scripts/recovery.py")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_source_arguments(parser)
    parser.add_argument("--task", default="digits")
    parser.add_argument("--methods", type=method_list, default=["last@auto", "last", "uniform_magnitude"])
    parser.add_argument("--ratios", type=ratio_list, default=[0.3, 0.5, 0.7, 0.9])
    parser.add_argument("--batch-size", type=int, default=128, help="evaluation batch size")
    parser.add_argument("--max-test-samples", type=positive_int,
                        help="evaluate on the first N test sequences (the sweeps' --max-samples)")
    parser.add_argument("--iterative-final-share", type=float,
                        help="the iterative schedule's last step gets this fraction of the budget (default: even)")
    parser.add_argument("--no-dense-control", action="store_true",
                        help="skip the control run: the dense model fine-tuned with the same budget")
    parser.add_argument("--output-dir", type=Path, required=True)
    add_recovery_arguments(parser)
    args = parser.parse_args(argv)
    if args.iterative_steps is None:
        parser.error("pass --iterative-steps K (the iterative variant's number of steps)")
    recovery = recovery_config(args, parser)
    if recovery is None:
        parser.error("pass a recovery budget: --recover-epochs N or --recover-steps N")
    accelerator = get_accelerator()
    compare_recovery(load_model(checkpoint_argument(args)), comparison_data(recovery, args.max_test_samples),
                     args.methods, args.ratios, recovery, args.iterative_steps, output_dir=args.output_dir,
                     batch_size=args.batch_size, accelerator=accelerator, dense_control=not args.no_dense_control,
                     final_share=args.iterative_final_share)
    if accelerator.is_main_process:
        print((args.output_dir / "summary.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
