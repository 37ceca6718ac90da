#!/usr/bin/env bash
# Elastic training's figures (issue 17): runs the acceptance scenario of
# tests/integration/emu/emu_elastic.sh (4 emulated nodes x 1 rank, a node
# killed at a random step, another inside the gradient allreduce, both
# returning; every check of the test applies) RUNS times with seeds
# SEED, SEED+1, ... and prints, for each: the load before and after, the
# time from each kill to training again on the ranks left, the steps lost
# to each failure (at most one checkpoint interval: 20), the time from
# the nodes' return to the relaunch on 4 ranks, and the job's goodput
# against the planner's Young/Daly model at the failures it saw.
# Root and namespaces needed.
#
#   bench/elastic/run.sh [BUILD_DIR]     (default build, built if missing)
#   Environment: RUNS (3), SEED (1).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
[[ -x $build/tools/dml-run && -x $build/tests/integration/executor/exec_compare ]] ||
  scripts/build "$build"
build=$(cd "$build" && pwd)
. scripts/env.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export DML_SOURCE_DIR=$PWD DML_BIN=$build/tools MPIEXEC=${MPIEXEC:-mpiexec}
export DML_EXEC_COMPARE=$build/tests/integration/executor/exec_compare
runs=${RUNS:-3}
seed=${SEED:-1}
keep=$(mktemp -d)
trap 'rm -rf "$keep"' EXIT
for ((i = 0; i < runs; i++)); do
  s=$((seed + i))
  echo "== run $((i + 1)) of $runs, seed $s; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  rc=0
  DML_ELASTIC_SEED=$s DML_ELASTIC_KEEP=$keep \
    bash tests/integration/emu/emu_elastic.sh >"$keep/out" 2>&1 || rc=$?
  echo "   load after: $(cut -d' ' -f1-3 /proc/loadavg)"
  if ((rc != 0)); then
    tail -20 "$keep/out"
    echo "   the scenario failed (exit $rc)"
    continue
  fi
  grep -E "^(killed node|node .* frozen|training again|failure at step|stopped at checkpoint|relaunched on 4|Young/Daly|test accuracy|final weights)" \
    "$keep/out" | sed 's/^/   /'
done
