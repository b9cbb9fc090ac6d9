#!/usr/bin/env bash
# The reproduction runs behind docs/reproductions/ (issue: reproduce published baselines).
# Each line is a plain `python -m recframe reproduce` command; runs are appended to the results
# index of $RUNS and the report is rebuilt with `python -m recframe report`.
# Usage: RECFRAME_DATA=../shared/data RUNS=/path/to/runs scripts/reproduce-all.sh [pattern]
set -uo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
RUNS=${RUNS:-runs}
PY=${PY:-python}
only=${1:-}

jobs=(
  "beauty/pop --seeds 1"
  "sports/pop --seeds 1"
  "lastfm/pop --seeds 1"
  "ml-100k/mf-rating --folds 5"
  "ml-100k/mf --seeds 1"
  "ml-100k/mf-loo --seeds 1"
  "ml-100k/gru4rec --seeds 1"
  "ml-100k/sasrec --seeds 1"
  "ml-100k/gpt2 --seeds 1"
  "lastfm/sasrec --seeds 3"
  "lastfm/sasrec-ce --seeds 3"
  "lastfm/gpt2 --seeds 3"
  "ml-latest-small/sasrec --seeds 1"
  "beauty/sasrec --seeds 1"
  "beauty/sasrec-ce --seeds 3"
  "beauty/gpt2 --seeds 3"
  "beauty/gru4rec --seeds 1"
  "sports/sasrec --seeds 1"
)
for job in "${jobs[@]}"; do
  [[ -n "$only" && "$job" != $only* ]] && continue
  echo "=== $(date -Is) reproduce $job"
  # shellcheck disable=SC2086
  $PY -m recframe reproduce $job run.dir="$RUNS" trainer.enable_progress_bar=false || echo "=== FAILED: $job"
done
echo "=== $(date -Is) done"
