#!/usr/bin/env bash
# Table-1-style summaries across tasks (no evaluation: reads the sweep.json files of run_sweeps.sh).
set -eu
out=results/sweeps
python scripts/sweep.py --combine $out/s5-*/sweep.json --output-dir $out/s5
python scripts/sweep.py --combine $out/s4d-*/sweep.json --output-dir $out/s4d
