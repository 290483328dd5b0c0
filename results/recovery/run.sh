#!/bin/sh
# The recovery comparisons (issue 14): one-shot vs one-shot + recovery vs iterative, plus the dense model fine-tuned
# with the same budget as control. Usage: results/recovery/run.sh NAME  (from anywhere; one process, one thread).
# Budgets are fractions of each checkpoint's own training run (results/training/*/metrics.json):
#   s5-digits-e10 / s4d-digits-e10: 150 epochs x 40 steps; 10 epochs = 400 steps = 6.7 %, iterative 5 x 2 epochs.
#   s5-listops-e4: 20 epochs x 125 steps; 4 epochs = 500 steps = 20 %, iterative 4 x 1 epoch.
#   s4d-listops-s300: 12 epochs x 125 steps; 300 steps = 20 %, iterative 3 x 100 steps.
#   s5-digits-control: one cell of s5-digits-e10 again (same seed: a reproducibility check) with the dense control.
#   s5-sfashion-s125: 2 epochs x 313 steps on the same 10,000-image train subset; 125 steps = 20 %, iterative 5 x 25
#   (s5-sfashion-s125-last: the paper-form LAST on the same grid, without repeating the dense control);
#   s5-digits-seed1/2: the 80 / 90 % cells of s5-digits-e10 for LAST@auto and uniform magnitude with other
#   recovery seeds (shuffling and dropout), to see how much of the ranking is seed noise.
#   s5-digits-final60: the same cells with the iterative budget 1+1+1+1+6 epochs (the last, largest cut gets 60 %).
#   s5-sfashion-s313: one epoch = 50 % of the training budget (beyond the issue's 20 %: what a longer recovery buys).
set -e
cd "$(dirname "$0")/../.."
name=$1
out=results/recovery/$name
case $name in
  s5-digits-e10) args="--default s5 --task digits --methods last@auto,last,uniform_magnitude
      --ratios 0.9,0.8,0.7,0.5,0.3 --recover-epochs 10 --iterative-steps 5" ;;
  s4d-digits-e10) args="--default s4d --task digits --methods last@auto,last,global_magnitude
      --ratios 0.9,0.8,0.7,0.5,0.3 --recover-epochs 10 --iterative-steps 5" ;;
  s5-listops-e4) args="--model results/training/s5-listops-20ep/best --task listops
      --methods last@auto,last,global_magnitude --ratios 0.9,0.7,0.5,0.3 --recover-epochs 4 --iterative-steps 4" ;;
  s4d-listops-s300) args="--model results/training/s4d-listops-12ep/best --task listops
      --methods last@auto,last,uniform_magnitude --ratios 0.9,0.7,0.5,0.3 --recover-steps 300 --iterative-steps 3" ;;
  s5-digits-control) args="--default s5 --task digits --methods last@auto --ratios 0.8 --recover-epochs 10
      --iterative-steps 5" ;;
  s5-sfashion-s125) args="--model results/training/s5-sfashion/best --task sfashion --max-train-samples 10000
      --max-eval-samples 1000 --max-test-samples 2000 --methods last@auto,lamp --ratios 0.7,0.5,0.3
      --recover-steps 125 --iterative-steps 5" ;;
  s5-sfashion-s125-last) args="--model results/training/s5-sfashion/best --task sfashion --max-train-samples 10000
      --max-eval-samples 1000 --max-test-samples 2000 --methods last --ratios 0.7,0.5,0.3
      --recover-steps 125 --iterative-steps 5 --no-dense-control" ;;
  s5-sfashion-s313) args="--model results/training/s5-sfashion/best --task sfashion --max-train-samples 10000
      --max-eval-samples 1000 --max-test-samples 2000 --methods last@auto,lamp --ratios 0.7,0.5
      --recover-steps 313 --iterative-steps 5" ;;
  s5-digits-seed1|s5-digits-seed2) args="--default s5 --task digits --methods last@auto,uniform_magnitude
      --ratios 0.9,0.8 --recover-epochs 10 --iterative-steps 5 --recover-seed ${name#s5-digits-seed}" ;;
  s5-digits-final60) args="--default s5 --task digits --methods last@auto,uniform_magnitude --ratios 0.9,0.8
      --recover-epochs 10 --iterative-steps 5 --iterative-final-share 0.6 --no-dense-control" ;;
  *) echo "unknown run $name" >&2; exit 2 ;;
esac
echo "$(date -u +%FT%TZ) start $name commit=$(git rev-parse --short HEAD) args: $(echo $args)" >> results/recovery/runs.txt
start=$(date +%s)
rc=0
HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 nice -n 19 python -u scripts/recovery.py $args --output-dir "$out" > "$out.log" 2>&1 || rc=$?
echo "$(date -u +%FT%TZ) done $name rc=$rc wall_s=$(( $(date +%s) - start ))" >> results/recovery/runs.txt
