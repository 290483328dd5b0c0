#!/usr/bin/env bash
# Third stage, after the machine got less contended: longer listops/speech runs and psfashion at the same
# size as sfashion (10k samples). Two lanes, one thread each; each waits for its queue2 lane.
cd "$(dirname "$0")/../.."
R=results/training/run.sh
PSF="--task psfashion --hidden-size 64 --num-hidden-layers 4 --state-size 64 --batch-size 32 --lr 5e-3 --max-train-samples 10000 --max-eval-samples 1000 --log-every 50"
LISTOPS="--task listops --hidden-size 64 --num-hidden-layers 4 --state-size 32 --bidirectional --batch-size 32 --lr 3e-3 --log-every 50"
SPEECH="--task speech --hidden-size 32 --num-hidden-layers 2 --state-size 32 --bidirectional --batch-size 16 --lr 5e-3 --eval-batch-size 32 --log-every 25"
wait_for() { while kill -0 "$1" 2>/dev/null; do sleep 10; done; }
(
  wait_for "$1"
  $R s4d-psfashion-10k --family s4d $PSF --epochs 1
  $R s4d-listops-12ep  --family s4d $LISTOPS --epochs 12
) > results/training/lane3_s4d.log 2>&1 &
(
  wait_for "$2"
  $R s5-listops-20ep   --family s5 $LISTOPS --blocks 4 --epochs 20
  $R s5-speech-10ep    --family s5 $SPEECH --blocks 4 --epochs 10
  $R s5-psfashion-10k  --family s5 $PSF --blocks 4 --epochs 2
) > results/training/lane3_s5.log 2>&1 &
wait
# Added after queue3's lanes: a longer S4D speech run (started by hand while s5-psfashion-10k ran):
#   results/training/run.sh s4d-speech-5ep --family s4d $SPEECH --epochs 5
