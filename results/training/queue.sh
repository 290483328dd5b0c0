#!/usr/bin/env bash
# The CPU-sized experiment runs, two lanes in parallel (one thread each); see results/training/README.md.
cd "$(dirname "$0")/../.."
R=results/training/run.sh
FASHION="--hidden-size 64 --num-hidden-layers 4 --state-size 64 --batch-size 32 --lr 5e-3 --max-train-samples 10000 --max-eval-samples 1000"
LISTOPS="--task listops --hidden-size 64 --num-hidden-layers 4 --state-size 32 --bidirectional --batch-size 32 --lr 3e-3 --epochs 5"
SPEECH="--task speech --hidden-size 32 --num-hidden-layers 2 --state-size 32 --bidirectional --batch-size 16 --lr 5e-3 --eval-batch-size 32"
(
  $R s4d-sfashion  --family s4d --task sfashion  $FASHION --epochs 1
  $R s4d-psfashion --family s4d --task psfashion $FASHION --epochs 1
  $R s4d-listops   --family s4d $LISTOPS
  $R s4d-speech    --family s4d $SPEECH --epochs 2
) > results/training/lane_s4d.log 2>&1 &
(
  $R s5-sfashion  --family s5 --task sfashion  $FASHION --blocks 4 --epochs 2
  $R s5-psfashion --family s5 --task psfashion $FASHION --blocks 4 --epochs 2
  $R s5-listops   --family s5 $LISTOPS --blocks 4
  $R s5-speech    --family s5 $SPEECH --blocks 4 --dt-min 0.001 --dt-max 0.1 --epochs 4
) > results/training/lane_s5.log 2>&1 &
wait
