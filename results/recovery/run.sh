#!/bin/sh
# The recovery comparison on the shipped S5 digits default (150 training epochs x 40 steps; 20 % = 30 epochs).
# One-shot + recovery: 10 epochs (400 steps, 6.7 % of the training budget); iterative: 5 steps x 2 epochs (same budget).
cd "$(dirname "$0")/../.."
HF_HUB_OFFLINE=1 python scripts/recovery.py --default s5 --task digits \
    --methods last@auto,last,uniform_magnitude --ratios 0.9,0.8,0.7,0.5,0.3 \
    --recover-epochs 10 --iterative-steps 5 --output-dir results/recovery/s5-digits-e10
