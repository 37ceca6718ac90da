# dml-probe stopped by SIGTERM or SIGINT while it measures (issue 10,
# item 7): one line "dml-probe: interrupted by SIGTERM; nothing recorded",
# exit 128 + the signal, no probe run in the database (a probe is
# recorded whole or not at all), no --out and no temporary file beside it,
# and no process left. Then the same under mpirun, the signal to mpirun:
# nothing recorded, at most one line from dml-probe, nothing left running.
# stderr is a file here, so the probe prints its plain progress lines
# ("dml-probe: progress: ...", issue 12) before that line: they are not
# counted.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/../stray.sh"
q() { sqlite3 "$1" "$2" 2>/dev/null || echo 0; }
# stderr without the progress lines.
said() { grep -v '^dml-probe: progress: ' "$1" || true; }

# wait_measuring PID DB: until the database is made (inputs checked,
# measuring begins), then a second more; the full probe measures for
# about 100 s.
wait_measuring() {
    local i
    for i in $(seq 1 600); do
        [ "$(q "$2" "SELECT count(*) FROM sqlite_master")" -gt 0 ] && break
        kill -0 "$1" 2>/dev/null || fail "dml-probe ended before measuring"
        sleep 0.1
    done
    sleep 1
}

# wait_gone PID: up to 30 s.
wait_gone() {
    local i
    for i in $(seq 1 300); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    fail "still running 30 s after the signal"
}

# stop_case SIGNAL EXIT_CODE
stop_case() {
    local sig=$1 code=$2 d=$scratch/$1
    mkdir -p "$d"
    env --default-signal=INT "$DML_BIN/dml-probe" --db "$d/dml.db" \
        --out "$d/cluster.json" >"$d/out" 2>"$d/err" &
    local pid=$!
    wait_measuring "$pid" "$d/dml.db"
    kill -"$sig" "$pid"
    wait_gone "$pid"
    local rc=0
    wait "$pid" || rc=$?
    [ "$rc" -eq "$code" ] || { cat "$d/err" >&2; fail "$sig: exit status $rc, expected $code"; }
    [ "$(said "$d/err")" = "dml-probe: interrupted by SIG$sig; nothing recorded" ] \
        || { cat "$d/err" >&2; fail "$sig: not the one line expected"; }
    [ "$(q "$d/dml.db" "SELECT count(*) FROM probe_runs")" -eq 0 ] \
        || fail "$sig: a probe run was recorded"
    [ -z "$(ls "$d" | grep -v -e '^dml\.db' -e '^out$' -e '^err$')" ] \
        || fail "$sig: files left: $(ls "$d")"
    [ -z "$(pgrep -f -- "$d/dml.db" || true)" ] || fail "$sig: processes left"
    echo "$sig: exit $rc, $(said "$d/err")"
}
stop_case TERM 143
stop_case INT 130

# Under mpirun: the signal goes to mpirun, which passes it on.
d=$scratch/mpi
mkdir -p "$d"
"$MPIEXEC" -np 2 "$DML_BIN/dml-probe" --db "$d/dml.db" >"$d/out" 2>"$d/err" &
pid=$!
wait_measuring "$pid" "$d/dml.db"
kill -TERM "$pid"
wait_gone "$pid"
wait "$pid" || true
[ "$(said "$d/err" | grep -c '^dml-probe:' || true)" -le 1 ] \
    || { cat "$d/err" >&2; fail "mpirun: more than one line from dml-probe"; }
[ "$(q "$d/dml.db" "SELECT count(*) FROM probe_runs")" -eq 0 ] \
    || fail "mpirun: a probe run was recorded"
sleep 1
[ -z "$(pgrep -f -- "$d/dml.db" || true)" ] || fail "mpirun: processes left"
echo ok
