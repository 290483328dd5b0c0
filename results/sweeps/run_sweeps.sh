#!/usr/bin/env bash
# The cross-task sweeps committed under results/sweeps (run from the repo root; one process, one thread each).
# Every method at the paper's infinite horizon and every H-inf/H2 method also at the data's horizon (@auto),
# ratios 0, 0.1, ..., 1. Fashion sweeps use the first 2000 test images (CPU-sized); everything else the full
# test split. Usage: bash results/sweeps/run_sweeps.sh [NAME ...]   (default: all, in the order below)
set -u
export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1
out=results/sweeps
declare -A ARGS=(
  [s5-digits]="--default s5 --task digits"
  [s4d-digits]="--default s4d --task digits"
  [s5-listops]="--model results/training/s5-listops-20ep/best --task listops"
  [s4d-listops]="--model results/training/s4d-listops-12ep/best --task listops"
  [s5-psfashion]="--model results/training/s5-psfashion-10k/best --task psfashion --max-samples 2000"
  [s4d-psfashion]="--model results/training/s4d-psfashion-10k/best --task psfashion --max-samples 2000"
  [s5-sfashion]="--model results/training/s5-sfashion/best --task sfashion --max-samples 2000"
  [s4d-sfashion]="--model results/training/s4d-sfashion/best --task sfashion --max-samples 2000"
  [s5-speech]="--model results/training/s5-speech-10ep/best --task speech"
  [s4d-speech]="--model results/training/s4d-speech-5ep/best --task speech"
)
ORDER=(s5-digits s4d-digits s5-listops s4d-listops s5-psfashion s5-sfashion s5-speech s4d-psfashion s4d-sfashion s4d-speech)
for name in "${@:-${ORDER[@]}}"; do
  start=$(date +%s) commit=$(git rev-parse --short HEAD)  # the code the sweep runs is the code at its start
  # shellcheck disable=SC2086
  python scripts/sweep.py ${ARGS[$name]} --output-dir "$out/$name" > "$out/$name.log" 2>&1
  echo "$name rc=$? wall_s=$(( $(date +%s) - start )) commit=$commit args: ${ARGS[$name]}" >> "$out/runs.txt"
done
