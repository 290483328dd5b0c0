#!/usr/bin/env bash
# Second stage of the experiment runs (sized down after measuring ~25-30 % of a core per run on the shared
# machine): two lanes, one thread each, each waits for its sfashion run (started by queue.sh) to finish.
cd "$(dirname "$0")/../.."
R=results/training/run.sh
PSF="--task psfashion --hidden-size 64 --num-hidden-layers 4 --state-size 64 --batch-size 32 --lr 5e-3 --max-train-samples 5000 --max-eval-samples 500 --log-every 25"
LISTOPS="--task listops --hidden-size 64 --num-hidden-layers 4 --state-size 32 --bidirectional --batch-size 32 --lr 3e-3 --log-every 25"
SPEECH="--task speech --hidden-size 32 --num-hidden-layers 2 --state-size 32 --bidirectional --batch-size 16 --lr 5e-3 --eval-batch-size 32 --log-every 10"
wait_for() { while kill -0 "$1" 2>/dev/null; do sleep 10; done; }
(
  wait_for "$1"
  $R s4d-listops   --family s4d $LISTOPS --epochs 4
  $R s4d-psfashion --family s4d $PSF --epochs 1
  $R s4d-speech    --family s4d $SPEECH --epochs 2
) > results/training/lane2_s4d.log 2>&1 &
(
  wait_for "$2"
  $R s5-listops   --family s5 $LISTOPS --blocks 4 --epochs 4
  $R s5-psfashion --family s5 $PSF --blocks 4 --epochs 2
  $R s5-speech    --family s5 $SPEECH --blocks 4 --epochs 3
) > results/training/lane2_s5.log 2>&1 &
wait
