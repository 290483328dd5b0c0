#!/usr/bin/env python
"""Sweep every pruning method over ratios 0, 0.1, ..., 1 and write the records, plots and Table-1 summary.

    torchrun --nproc_per_node 2 scripts/sweep.py --default s5 --task digits --split test --output-dir results/sweep/s5-digits
    accelerate launch --multi_gpu --num_processes 2 scripts/sweep.py --model path/to/checkpoint --output-dir out/

Evaluation is data-parallel (every process takes a shard); only the main process writes files.
Outputs: sweep.json, sweep.csv, accuracy_vs_states.png, accuracy_vs_ratio.png, states_per_layer.png,
poles_layer0.png, summary.md (+ summary.json). See hf_last.experiments.run_sweep.
"""

import argparse
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread per rank on shared CPUs

from hf_last.accelerator import announce_world_size  # noqa: E402
from hf_last.cli.sweep import add_sweep_arguments, sweep_main  # noqa: E402


def main(argv=None) -> int:
    announce_world_size("scripts/sweep.py")
    parser = add_sweep_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    return sweep_main(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
