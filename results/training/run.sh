#!/usr/bin/env bash
# Usage: results/training/run.sh RUN_NAME [scripts/train.py options...]
# One single-threaded training run into results/training/RUN_NAME; records the exact command and wall time.
set -euo pipefail
cd "$(dirname "$0")/../.."
name=$1; shift
out=results/training/$name
mkdir -p "$out"
cmd=(python -u scripts/train.py --output-dir "$out" --num-threads 1 --no-progress "$@")
echo "OMP_NUM_THREADS=1 ${cmd[*]}" > "$out/command.txt"
start=$(date +%s)
OMP_NUM_THREADS=1 "${cmd[@]}" > "$out/train.log" 2>&1 && status=0 || status=$?
end=$(date +%s)
printf '{"command": "%s", "wall_time_s": %d, "exit_status": %d, "started": "%s"}\n' \
  "OMP_NUM_THREADS=1 ${cmd[*]//\"/\\\"}" $((end - start)) $status "$(date -d @$start -Iseconds)" > "$out/run.json"
exit $status
