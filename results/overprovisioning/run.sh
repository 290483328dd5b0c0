#!/usr/bin/env bash
# Over-provisioning study: the same task, recipe and epochs with 64 vs 256 states per S5 layer, then the full
# sweep (every method, H-inf/H2 methods also at the data's horizon) of each. Run from the repository root.
# Training runs go to results/training/<name> (run.sh records command and wall time), sweeps here.
# listops runs 8 epochs (not the 20 of s5-listops-20ep): P = 256 cost ~3 min per epoch on the loaded machine.
# Usage: bash results/overprovisioning/run.sh [--listops-only]
set -u
export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1
out=results/overprovisioning
digits="--family s5 --task digits --hidden-size 96 --num-hidden-layers 4 --blocks 8 --norm-type batch --prenorm
        --dt-min 0.001 --dt-max 0.1 --epochs 60 --lr 4e-3 --ssm-lr 1e-3 --weight-decay 0.05 --dropout 0.1 --batch-size 32"
listops="--family s5 --task listops --hidden-size 64 --num-hidden-layers 4 --bidirectional --blocks 4
         --batch-size 32 --lr 3e-3 --epochs 8"
train_and_sweep() {  # name, task, state size, recipe
  local name=$1 task=$2 size=$3; shift 3
  # shellcheck disable=SC2068
  results/training/run.sh "$name" --state-size "$size" $@ &&
    python scripts/sweep.py --model "results/training/$name/best" --task "$task" --output-dir "$out/$name" \
      > "$out/$name.log" 2>&1
  echo "$name rc=$? commit=$(git rev-parse --short HEAD)" >> "$out/runs.txt"
}
if [ "${1:-}" != "--listops-only" ]; then
  train_and_sweep s5-digits-n64 digits 64 $digits &
  train_and_sweep s5-digits-n256 digits 256 $digits &
  wait
fi
train_and_sweep s5-listops-n64 listops 64 $listops &
train_and_sweep s5-listops-n256 listops 256 $listops &
wait
python scripts/sweep.py --combine $out/s5-*/sweep.json --output-dir $out/summary > /dev/null
