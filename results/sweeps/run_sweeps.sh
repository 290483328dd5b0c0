#!/usr/bin/env bash
# The cross-task sweeps committed under results/sweeps (run from the repo root; one process, one thread each).
# Fashion sweeps use the first 2000 test images (CPU-sized); everything else the full test split.
set -u
export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1
out=results/sweeps
run() {  # name, then sweep arguments
  local name=$1; shift
  local start=$(date +%s)
  python scripts/sweep.py "$@" --output-dir "$out/$name" > "$out/$name.log" 2>&1
  echo "$name rc=$? wall_s=$(( $(date +%s) - start )) args: $*" >> "$out/runs.txt"
}
run s5-digits  --default s5 --task digits
run s4d-digits --default s4d --task digits
run s5-sfashion  --model results/training/s5-sfashion/best --task sfashion --max-samples 2000
run s4d-sfashion --model results/training/s4d-sfashion/best --task sfashion --max-samples 2000
run s5-psfashion  --model results/training/s5-psfashion/best --task psfashion --max-samples 2000
run s4d-psfashion --model results/training/s4d-psfashion/best --task psfashion --max-samples 2000
run s5-listops  --model results/training/s5-listops/best --task listops
run s4d-listops --model results/training/s4d-listops/best --task listops
run s5-speech --model results/training/s5-speech-10ep/best --task speech
# Table-1-style summary across all tasks (no evaluation, reads the sweep.json files above)
python scripts/sweep.py --combine $out/s5-*/sweep.json --output-dir $out/s5
python scripts/sweep.py --combine $out/s4d-*/sweep.json --output-dir $out/s4d
