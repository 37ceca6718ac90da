# shellcheck shell=bash
# lib.sh: shared by the emulated-cluster tests (sourced).
#
# Each test gets a cluster of its own: a state folder /run/dml-emu-test.PID,
# names prefixed dmltPID and a /24 chosen from its pid, so that tests (and
# a user's cluster at the defaults) never touch each other's. emu_up brings
# it up; on exit, whether the test passed or failed, emu_cleanup takes it
# down and fails the test if any namespace, link, cgroup or file is left.
# Clusters of earlier tests whose process is gone (killed by a timeout
# before their trap ran) are taken down first.
set -euo pipefail

emu=${DML_SOURCE_DIR:?}/scripts/emu-cluster
scratch=$(mktemp -d /tmp/dml-emu-it-XXXXXX)
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }

[[ $(id -u) -eq 0 ]] || skip "emu-cluster needs root"
unshare --net --uts true 2>/dev/null ||
  skip "this kernel (or container) refuses network/UTS namespaces"
command -v nsenter >/dev/null || skip "no nsenter"
command -v tc >/dev/null || skip "no tc"

export DML_EMU_DIR=/run/dml-emu-test.$$
export DML_EMU_PREFIX=dmlt$$

# What a cluster of this prefix may leave: prints one line per leftover.
emu_leftovers() {
  local p=$DML_EMU_PREFIX
  ip netns list | awk -v re="^${p}n[0-9]+\$" '$1 ~ re { print "namespace " $1 }'
  ip -o link show | awk -F': ' -v re="^${p}(br|v[0-9]+)(@|\$)" \
    '$2 ~ re { print "link " $2 }'
  local d
  for d in /sys/fs/cgroup/cpu/"$p"-emu /sys/fs/cgroup/"$p"-emu; do
    [[ -e $d ]] && echo "cgroup $d"
  done
  [[ -e $DML_EMU_DIR ]] && echo "state folder $DML_EMU_DIR"
  return 0
}

emu_cleanup() {
  local rc=$? left
  "$emu" down >"$scratch/down.out" 2>&1 || {
    cat "$scratch/down.out" >&2
    rc=1
  }
  left=$(emu_leftovers)
  if [[ -n $left ]]; then
    echo "FAIL: emu-cluster down left:" >&2
    echo "$left" >&2
    rc=1
  fi
  rm -rf "$scratch"
  exit "$rc"
}
trap emu_cleanup EXIT

for stale in /run/dml-emu-test.*; do
  [[ -d $stale ]] || continue
  pid=${stale##*.}
  [[ $pid =~ ^[0-9]+$ ]] || continue
  kill -0 "$pid" 2>/dev/null && continue
  echo "taking down the cluster of a test that is gone: $stale" >&2
  DML_EMU_DIR=$stale DML_EMU_PREFIX=dmlt$pid "$emu" down >&2 || true
done

# emu_up ARGS...: up with a free /24 of 10.213.100-199 (chosen from the
# pid; the next one when another cluster holds it).
emu_up() {
  local k out
  for k in 0 1 2 3 4 5 6 7; do
    export DML_EMU_SUBNET=10.213.$((100 + ($$ + k) % 100))
    if out=$("$emu" up "$@" 2>&1); then
      echo "$out"
      return 0
    fi
    [[ $out == *"in use"* ]] || { echo "$out" >&2; fail "emu-cluster up $*"; }
  done
  fail "no free /24 in 10.213.100-199"
}

# expect_exit CODE CMD...: run CMD (stdout, stderr in $scratch/out, err).
expect_exit() {
  local want=$1 got
  shift
  set +e
  "$@" >"$scratch/out" 2>"$scratch/err"
  got=$?
  set -e
  [[ $got -eq $want ]] || {
    cat "$scratch/out" "$scratch/err" >&2
    fail "'$*' exited $got, expected $want"
  }
}

# one_line: stderr of the last expect_exit is one line.
one_line() {
  local n
  n=$(grep -c . "$scratch/err" || true)
  [[ $n -eq 1 ]] || { cat "$scratch/err" >&2; fail "expected one line on stderr, got $n"; }
}

# json_get FILE EXPR: a value from a JSON file (python3, as the other
# integration tests use).
json_get() {
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# mlp_dp4_plan NAME SYNC BATCH ZERO SCHEDULE: $scratch/NAME.json, dp=4 of
# mlp-fmnist's 784-256-256-10 MLP with SYNC and ZERO, BATCH samples a step
# (a quarter per replica), SGD; SCHEDULE the rest of the "schedule" object
# after its optimizer (rates, warmup, decay, weight decay...). DP=N in the
# environment: dp=N instead of 4 (BATCH / N per replica).
mlp_dp4_plan() {
  local dp=${DP:-4}
  cat >"$scratch/$1.json" <<JSON
{
  "schema_version": 1,
  "kind": "plan",
  "model": {"type": "mlp", "name": "mlp-fmnist", "input": 784,
            "hidden": [256, 256], "output": 10, "dtype": "fp32"},
  "cluster": {"name": "emu", "devices": $dp},
  "parallel": {"dp": $dp, "tp": 1, "pp": 1, "mbs": $(($3 / dp)),
               "microbatches": 1, "zero": $4, "schedule": "1f1b",
               "threads_per_rank": 1, "sync": "$2"},
  "placement": {"order": "tp-pp-dp",
                "stages": [{"first_layer": 0, "last_layer": 2}]},
  "schedule": {"global_batch": $3, "optimizer": "sgd", $5}
}
JSON
}
