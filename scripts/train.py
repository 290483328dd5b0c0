#!/usr/bin/env python
"""Train an S4D/S5 classifier on an hf_last task; all options: ``python scripts/train.py --help``.

    python scripts/train.py --family s4d --task digits --hidden-size 32 --num-hidden-layers 2 --state-size 16 \\
        --epochs 5 --output-dir runs/s4d-digits
    torchrun --nproc_per_node 2 scripts/train.py ...        # data-parallel on CPU (set OMP_NUM_THREADS=1)
    accelerate launch --multi_gpu --num_processes 2 scripts/train.py ...   # the same: 2 GPUs, or 2 CPU processes
                                                            # when no GPU is visible (`--cpu` would start ONE)
    python scripts/train.py ... --mixed-precision bf16      # autocast forward; the SSM math stays float32
    python scripts/train.py ... --resume                    # continue from OUTPUT_DIR/last
"""

import argparse

from hf_last.accelerator import announce_world_size
from hf_last.training import TrainConfig, train

if __name__ == "__main__":
    announce_world_size("scripts/train.py")
    parser = TrainConfig.add_arguments(argparse.ArgumentParser(description=__doc__,
                                             formatter_class=argparse.RawDescriptionHelpFormatter))
    train(TrainConfig.from_namespace(parser.parse_args(), parser))
