# dml-plan --tune stopped by SIGTERM or SIGINT (issue 10, items 7 and 8),
# and tuning in which every trial fails (issue 10, low; issue 12).
#
# A trial runs in process groups of its own (mpirun's, and one per rank),
# which neither a terminal's Ctrl-C nor a kill of dml-plan reaches: once
# the first trial's dml-exec has opened its run, dml-plan gets the signal
# and must exit promptly with one line and 128 + the signal, leave no
# process of the trial (none names this case's database in its argv), the
# run 'interrupted', no --out and no trial folder under $TMPDIR.
#
# Every trial failing (a transformer, which dml-exec does not train):
# exit 1, the error line names dml-exec's own error rather than mpirun's
# banner, nothing is written, and the trial folder is removed unless
# --keep-trials.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cluster=$here/fixtures/vm-cluster.json
scratch=$(mktemp -d /tmp/dml-tune-int-XXXXXX)
# Whatever a failed case leaves running is found by the scratch path in
# its argv and ended by process id.
. "$here/../stray.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
export TMPDIR=$scratch/tmp
mkdir -p "$TMPDIR"
# (Open MPI keeps a session folder there too: only dml's are looked at.)
trial_dirs() { ls -d "$TMPDIR"/dml-tune-* 2>/dev/null || true; }
q() { sqlite3 "$1" "$2" 2>/dev/null || echo 0; }

# stop_case SIGNAL EXIT_CODE
stop_case() {
    local sig=$1 code=$2 d=$scratch/$1
    mkdir -p "$d"
    local db=$d/dml.db
    # --default-signal: a background job of a script starts with SIGINT
    # ignored, which dml-plan respects; a terminal's job does not.
    env --default-signal=INT "$DML_BIN/dml-plan" --model mlp-fmnist \
        --cluster "$cluster" --global-batch 256 --db "$db" --tune 2 \
        --tune-steps 100000 --tune-data synthetic --out "$d/plan.json" \
        >"$d/out" 2>"$d/err" &
    local plan_pid=$! i n=0
    for i in $(seq 1 900); do
        n=$(q "$db" "SELECT count(*) FROM runs WHERE status = 'running'")
        [ "$n" -ge 1 ] && break
        kill -0 "$plan_pid" 2>/dev/null \
            || { cat "$d/err" >&2; fail "$sig: dml-plan ended before a trial ran"; }
        sleep 0.1
    done
    [ "$n" -ge 1 ] || fail "$sig: no trial opened its run in 90 s"
    kill -"$sig" "$plan_pid"
    # The trial gets 5 s after SIGTERM; 60 s is for a loaded machine.
    for i in $(seq 1 600); do
        kill -0 "$plan_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$plan_pid" 2>/dev/null && fail "$sig: dml-plan still runs 60 s later"
    local rc=0
    wait "$plan_pid" || rc=$?
    [ "$rc" -eq "$code" ] || { cat "$d/err" >&2; fail "$sig: exit status $rc, expected $code"; }
    [ "$(grep -c . "$d/err")" -eq 1 ] \
        || { cat "$d/err" >&2; fail "$sig: expected one line on stderr"; }
    grep -q "^dml-plan: interrupted by SIG$sig during trial 1/" "$d/err" \
        || { cat "$d/err" >&2; fail "$sig: the line does not say what stopped"; }
    local left
    left=$(pgrep -f -- "$db" || true)
    [ -z "$left" ] || { ps -o pid,pgid,args -p "$(echo $left | tr ' ' ,)" >&2;
                        fail "$sig: processes of the trial survive"; }
    [ "$(q "$db" "SELECT count(*) FROM runs WHERE status = 'running'")" -eq 0 ] \
        || fail "$sig: a run is left 'running'"
    [ "$(q "$db" "SELECT count(*) FROM runs WHERE status = 'interrupted'")" -eq 1 ] \
        || fail "$sig: the trial's run is not 'interrupted'"
    [ ! -e "$d/plan.json" ] || fail "$sig: --out was written"
    [ -z "$(trial_dirs)" ] || fail "$sig: trial folders left: $(trial_dirs)"
    echo "$sig: exit $rc, $(cat "$d/err")"
}
stop_case TERM 143
stop_case INT 130

# Every trial fails.
d=$scratch/failed
mkdir -p "$d"
rc=0
"$DML_BIN/dml-plan" --model gpt3-125m --cluster "$cluster" --global-batch 8 \
    --db "$d/dml.db" --tune 1 --tune-steps 5 --tune-data synthetic \
    --out "$d/plan.json" --export slurm --export-out "$d/job.sh" \
    >"$d/out" 2>"$d/err" || rc=$?
[ "$rc" -eq 1 ] || { cat "$d/err" >&2; fail "all trials failed: exit $rc, expected 1"; }
[ "$(grep -c . "$d/err")" -eq 1 ] || { cat "$d/err" >&2; fail "all trials failed: one line"; }
grep -q '^dml-plan: error: no trial succeeded .*dml-exec: error: .*runs mlp models' "$d/err" \
    || { cat "$d/err" >&2; fail "all trials failed: the line gives dml-exec's error"; }
grep -q '^No trial succeeded' "$d/out" || fail "all trials failed: the report says so"
[ ! -e "$d/plan.json" ] && [ ! -e "$d/job.sh" ] || fail "all trials failed: a file was written"
[ -z "$(trial_dirs)" ] || fail "all trials failed: trial folders left: $(trial_dirs)"

# --keep-trials keeps the plan files, and says where.
"$DML_BIN/dml-plan" --model gpt3-125m --cluster "$cluster" --global-batch 8 \
    --db "$d/dml.db" --tune 1 --tune-steps 5 --tune-data synthetic \
    --keep-trials >"$d/out" 2>"$d/err" || true
kept=$(ls -d "$TMPDIR"/dml-tune-* 2>/dev/null || true)
[ -n "$kept" ] && [ -f "$kept/trial-1.json" ] || fail "--keep-trials: no plan file kept"
grep -qF "plan files kept in $kept" "$d/out" || fail "--keep-trials: the report names the folder"
echo ok
