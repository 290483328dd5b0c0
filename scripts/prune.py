#!/usr/bin/env python
"""Prune a checkpoint with LAST: the largest ratio within an accuracy tolerance (search) or a fixed ratio.

    torchrun --nproc_per_node 2 scripts/prune.py --default s5 --max-accuracy-loss 0.01 --output-dir out/s5-last
    accelerate launch --multi_gpu --num_processes 2 scripts/prune.py --model path/to/ckpt --ratio 0.3 --output-dir out/ [--push-to-hub user/name]
    python scripts/prune.py --default s5 --ratio 0.8 --method last@auto --recover-epochs 10 --output-dir out/s5-r80
    python scripts/prune.py --default s5 --ratio 0.8 --method last@auto --recover-epochs 10 --iterative-steps 5 ...
                                        # 5 x (prune, fine-tune 2 epochs, re-score); iterative.json holds the plans

The search evaluates candidates data-parallel on --search-split (default: validation); accuracy before/after
is reported on --eval-split (default: test). Only the main process saves the model (weights, config, model
card, pruning_plan.json, remote code, search.json) and pushes. See hf_last.experiments.prune_checkpoint.
"""

import argparse
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread per rank on shared CPUs

from hf_last.accelerator import announce_world_size  # noqa: E402
from hf_last.cli.prune import add_prune_arguments, prune_main  # noqa: E402


def main(argv=None) -> int:
    from hf_last.hub import HubPushError

    announce_world_size("scripts/prune.py")
    parser = add_prune_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    try:
        return prune_main(parser.parse_args(argv), parser)
    except HubPushError as error:  # says whether anything landed; the local folder is kept
        print(f"scripts/prune.py: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
