#!/usr/bin/env bash
# dml-history end to end: exit codes and the one-line errors for bad
# options, text files, newer schemas and missing databases (none of which
# may be modified or created), then tables and JSON from a database that
# db_fixture filled with known numbers.
set -euo pipefail

HIST="$DML_BIN/dml-history"
FIXTURE="$DML_BIN/../tests/integration/db/db_fixture"
[ -x "$HIST" ] || { echo "missing $HIST"; exit 1; }
[ -x "$FIXTURE" ] || { echo "missing $FIXTURE"; exit 1; }

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
unset DML_DB

fail() { echo "FAIL: $*"; exit 1; }

# run_expect CODE ARGS...: run dml-history, keep stdout/stderr in out/err,
# and check the exit status.
run_expect() {
    local want=$1; shift
    set +e
    "$HIST" "$@" >out 2>err
    local rc=$?
    set -e
    [ "$rc" -eq "$want" ] ||
        fail "dml-history $* exited $rc, expected $want; stderr: $(cat err)"
}

# one_line PATTERN: stderr is exactly one line, "dml-history: error: ..."
# matching.
one_line() {
    [ "$(wc -l <err)" -eq 1 ] || fail "expected one stderr line, got: $(cat err)"
    grep -q "^dml-history: error: $1" err || fail "stderr '$(cat err)' lacks '$1'"
}

# --- usage ---
run_expect 0 --help
grep -q '^usage: dml-history' out || fail "--help prints no usage"
run_expect 0 --version
grep -qE '^dml-history [0-9]+\.[0-9]+\.[0-9]+' out || fail "--version: $(cat out)"
run_expect 2 --bogus
one_line "unknown option '--bogus'"
[ ! -s out ] || fail "--bogus wrote to stdout"
run_expect 2 --limit -1
one_line "--limit"
run_expect 2 --db
one_line "option '--db' needs a value"
run_expect 2 extra-argument
one_line "unexpected argument"

# --- a text file is refused and left byte-for-byte alone ---
printf 'host,triad\nnode1,18e9\n' >notes.db
cp notes.db notes.orig
run_expect 2 --db notes.db
one_line "notes.db: file is not a database (not SQLite)$"
cmp -s notes.db notes.orig || fail "text file was modified"
[ ! -e notes.db-wal ] && [ ! -e notes.db-shm ] || fail "side files created"

# --- a missing database is reported, not created (also via $DML_DB) ---
run_expect 2 --db missing.db
one_line "no database at missing.db (run dml-probe first)$"
[ ! -e missing.db ] || fail "dml-history created missing.db"
DML_DB="$T/nodir/x.db" run_expect 2
one_line "no database at $T/nodir/x.db"
[ ! -e nodir ] || fail "dml-history created a directory"
# Without --db or $DML_DB the default is ./dml.db.
run_expect 2
one_line "no database at dml.db "
[ ! -e dml.db ] || fail "dml-history created ./dml.db"

# --- a fresh database: valid JSON with empty sections ---
"$FIXTURE" --empty fresh.db
run_expect 0 --db fresh.db --json
python3 -m json.tool out >/dev/null || fail "--json output is not JSON"
python3 - out <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema_version"] == 1, d
for k in ("probe_runs", "plans", "runs", "calibrations"):
    assert d[k] == [], (k, d[k])
EOF
run_expect 0 --db fresh.db
grep -q '(none)' out || fail "empty sections are not marked"

# --- a filled database: the numbers the fixture wrote ---
"$FIXTURE" filled.db
run_expect 0 --db filled.db --json
[ ! -s err ] || fail "stderr not empty: $(cat err)"
python3 -m json.tool out >/dev/null || fail "--json output is not JSON"
python3 - out <<'EOF'
import json, math, sys
d = json.load(open(sys.argv[1]))
p = d["probe_runs"]
assert len(p) == 1, p
# Best of two triad runs and the one DGEMM / latency the fixture wrote.
assert p[0]["triad_Bps"] == 18e9, p[0]
assert p[0]["dgemm_flops"] == 45e9, p[0]
assert p[0]["p2p_latency_s"] == 1.5e-6, p[0]
assert p[0]["hostname"] == "fixture-host", p[0]
runs = d["runs"]
assert len(runs) == 2, runs
# Newest first: the failed run, then the one measured at 10 ms against a
# 12 ms prediction: error 100 * (0.012 - 0.010) / 0.010 = +20 %.
assert runs[0]["status"] == "failed" and runs[0]["measured_step_s"] is None
assert runs[0]["error"] == "rank 1 exited", runs[0]
assert math.isclose(runs[1]["error_pct"], 20.0, rel_tol=1e-9), runs[1]
assert runs[1]["parallel"]["dp"] == 2, runs[1]
assert math.isclose(runs[1]["duration_s"], 60.0, abs_tol=1e-6), runs[1]
assert len(d["plans"]) == 2 and d["plans"][0]["calibration_id"] == 1
# One spelling of a configuration, the one --config accepts; the
# strategy as the sync knob writes it (issue 12).
plans = d["plans"]
assert plans[1]["config"] == "dp=2,tp=1,pp=1,v=1,mbs=32,zero=0,recompute=none,sp=0,schedule=1f1b", plans[1]
assert plans[0]["config"] == plans[1]["config"] + ",sync=fp16", plans[0]
assert plans[0]["parallel"]["sync"] == "fp16" and plans[1]["parallel"]["sync"] == "allreduce"
assert runs[1]["config"] == plans[1]["config"] and runs[0]["config"] == plans[0]["config"]
assert runs[1]["parallel"]["sync"] == "allreduce" and runs[0]["parallel"]["sync"] == "fp16"
# Throughput: 256 samples per 10 ms; the bytes its exchange sent.
assert math.isclose(runs[1]["measured_samples_per_s"], 25600, rel_tol=1e-12), runs[1]
assert math.isclose(runs[1]["measured_tokens_per_s"], 25600, rel_tol=1e-12), runs[1]
assert runs[1]["dp_bytes_intra_per_step"] == 4e6 and runs[1]["dp_bytes_inter_per_step"] == 0, runs[1]
assert runs[0]["measured_samples_per_s"] is None and runs[0]["dp_bytes_intra_per_step"] is None, runs[0]
# FLOP/s under a name that says so, and under the old one.
assert p[0]["dgemm_flops_per_s"] == p[0]["dgemm_flops"] == 45e9, p[0]
assert p[0]["sgemm_flops_per_s"] == p[0]["sgemm_flops"] == 90e9, p[0]
cal = d["calibrations"]
assert len(cal) == 1 and cal[0]["params"] == {"gemm": 0.9}, cal
assert cal[0]["loo_mape_before_pct"] is None, cal
EOF

# Sections and --limit select what is printed.
run_expect 0 --db filled.db --json --runs --limit 1
python3 - out <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert set(d) == {"schema_version", "db_schema_version", "runs"}, d.keys()
assert len(d["runs"]) == 1 and d["runs"][0]["status"] == "failed", d
EOF

# Human tables carry units; $DML_DB is used when --db is absent, and
# --db wins over it.
DML_DB="$T/filled.db" run_expect 0
grep -q '18.0 GB/s' out || fail "triad not shown in GB/s: $(cat out)"
grep -q '45.0 GFLOP/s' out || fail "dgemm not shown in GFLOP/s"
grep -q '1.50 us' out || fail "latency not shown in us"
grep -q '+20.0 %' out || fail "prediction error not shown"
grep -q ' dp=2,tp=1,pp=1,v=1,mbs=32,zero=0,recompute=none,sp=0,schedule=1f1b,sync=fp16 ' out ||
    fail "the configuration is not in --config syntax: $(cat out)"
grep -A1 '^Plans' out | grep -Eq ' config +framework +attention +sync +global batch ' ||
    fail "the plans table has no sync column: $(cat out)"
grep -A1 '^Runs' out | grep -Eq ' config +framework +attention +sync +status ' ||
    fail "the runs table has no sync column: $(cat out)"
grep -Eq ' megatron +materialized +fp16 ' out || fail "the strategy is not shown"
grep -q '^Probe runs' out && grep -q '^Plans' out && grep -q '^Runs' out ||
    fail "a section is missing"
DML_DB="$T/missing.db" run_expect 0 --db filled.db --probes

# CSV: the strategy and the --config text beside the knobs, as --json has
# them.
run_expect 0 --db filled.db --runs --csv
cp out runs.csv
run_expect 0 --db filled.db --runs --json
python3 - runs.csv out <<'EOF'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
runs = json.load(open(sys.argv[2]))["runs"]
assert [r["sync"] for r in rows] == ["fp16", "allreduce"], rows
assert [r["config"] for r in rows] == [r["config"] for r in runs], rows
EOF

# --- writers at once on a fresh file (as ranks and tools do): the
# migrations run once and every record lands, none lost to "locked" ---
pids=()
for i in 1 2 3 4 5 6; do "$FIXTURE" race.db & pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || fail "a concurrent writer failed"; done
run_expect 0 --db race.db --json --probes --runs --limit 0
python3 - out <<'EOF2'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["db_schema_version"] == 12, d
assert len(d["probe_runs"]) == 6 and len(d["runs"]) == 12, d
EOF2
# ...and a plan every writer recorded is one row: the uncalibrated plan
# once, the calibrated one once per writer (each fitted its own
# calibration): 1 + 6 (issue 12: no duplicate plans).
run_expect 0 --db race.db --json --plans --limit 0
python3 - out <<'EOF2'
import json, sys
d = json.load(open(sys.argv[1]))
plans = d["plans"]
assert len(plans) == 7, len(plans)
assert sum(1 for p in plans if p["calibration_id"] is None) == 1, plans
assert sum(p["runs"] for p in plans) == 12, plans
EOF2

# --- a newer schema is refused and left alone ---
cp filled.db future.db
now=$(sed -n 's/^#define DML_DB_SCHEMA_VERSION \([0-9]*\)$/\1/p' "$DML_SOURCE_DIR/db/db.h")
[ -n "$now" ] || fail "DML_DB_SCHEMA_VERSION not found in db/db.h"
python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1]); c.execute("PRAGMA user_version=%d" % (int(sys.argv[2]) + 1))
c.commit(); c.close()' future.db "$now"
cp future.db future.orig
run_expect 2 --db future.db
one_line "future.db: database schema version $((now + 1)) is newer than this dml (supports up to $now); upgrade dml$"
cmp -s future.db future.orig || fail "newer database was modified"

echo "dml-history: all checks passed"
