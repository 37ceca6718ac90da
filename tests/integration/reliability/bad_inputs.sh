#!/usr/bin/env bash
# Bad inputs (issue 6): every case of tests/fixtures/bad/cases.tsv (model
# specs, cluster specs, plan files, checkpoints, weight files, topology XML:
# empty, truncated, wrong types, huge or negative numbers, duplicate keys,
# deep nesting, non-UTF-8, binary garbage) goes through the reader dml uses
# for it (check_input) and through the tool that reads it where one exists:
#   model    check_input; dml-plan --model; embedded in a plan, dml-exec
#   cluster  check_input; dml-plan --cluster
#   plan     check_input and dml-exec --plan
#   exec     dml-exec --plan (valid plans dml-exec cannot hold)
#   ckpt     check_input; dml-exec --resume reports and skips it
#   weights  check_input and dml-exec --init-weights
#   topology check_input and dml-probe --topology-xml
# A rejected input must give exit status 2 and exactly one error line
# containing the expected substring, and add no row to the database: the
# row counts of every table of a database holding one real run are the
# same before and after. Absurd sizes (10^12 devices or nodes, 10^9
# layers, 10^16 parameters) are refused under a 256 MB (readers,
# dml-plan) or 2 GB (dml-exec) address-space limit, so before anything is
# sized from them. (dml-plan is used when the build has it.)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bad=$DML_FIXTURES/bad
check=$DML_BIN/../tests/integration/reliability/check_input
plan_tiny=$DML_FIXTURES/exec/plan-tiny.json
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
db=$work/dml.db
failures=0 checked=0 tool_runs=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

# One real run, so that the database has a row in most tables to count.
"$DML_BIN/dml-exec" --plan "$plan_tiny" --data synthetic --steps 2 \
    --db "$db" >/dev/null 2>&1 || { echo "FAIL: the reference run failed"; exit 1; }
counts() {
    local t out=""
    for t in $(sqlite3 "$db" "select name from sqlite_master where type = 'table' order by name"); do
        out+="$t=$(sqlite3 "$db" "select count(*) from \"$t\"") "
    done
    echo "$out"
}
before=$(counts)

# expect2 NAME SUBSTRING PREFIX CMD...: exit 2, exactly one line on stderr
# starting with PREFIX, containing SUBSTRING.
expect2() {
    local name=$1 want=$2 prefix=$3
    shift 3
    local rc=0
    "$@" >out.txt 2>err.txt || rc=$?
    local lines
    lines=$(grep -c -- "^$prefix" err.txt || true)
    if [ $rc -ne 2 ]; then
        fail "$name: exit status $rc, expected 2: $(head -c 600 err.txt)"
    elif [ "$lines" -ne 1 ] || [ "$(grep -cv '^[[:space:]]*$' err.txt)" -ne 1 ]; then
        fail "$name: $(wc -l <err.txt) lines on stderr, expected one: $(head -c 600 err.txt)"
    elif ! grep -qF -- "$want" err.txt; then
        fail "$name: the error does not say '$want': $(head -c 600 err.txt)"
    fi
}

# A plan for plan-tiny's layout around the bytes of a model spec file.
embed_model() {
    printf '{"schema_version": 1, "kind": "plan", "model": '
    cat "$1"
    printf ', "cluster": {"name": "t", "devices": 1},
 "parallel": {"dp": 1, "tp": 1, "pp": 1, "mbs": 8, "microbatches": 4},
 "placement": {"stages": [{"first_layer": 0, "last_layer": 2}]},
 "schedule": {"global_batch": 32}}\n'
}

exec_args=(--data synthetic --steps 1 --db "$db")
plan_tool=$DML_BIN/dml-plan
[ -x "$plan_tool" ] || plan_tool=
good_model=$DML_SOURCE_DIR/data/models/gpt3-125m.json
good_cluster=$DML_SOURCE_DIR/data/clusters/dgx-a100-80g.json
# limit KIB CMD...: CMD under an address-space limit, except in a
# sanitizer build, whose shadow memory alone is terabytes of address space.
if ldd "$check" | grep -q -e libasan -e libubsan; then
    limit() { shift; "$@"; }
    echo "(sanitizer build: no address-space limits)"
else
    limit() { bash -c 'ulimit -v "$1"; shift; exec "$@"' - "$@"; }
fi
while IFS=$'\t' read -r kind file want embed; do
    case $kind in ''|'#'*) continue ;; esac
    f=$bad/$file
    checked=$((checked + 1))
    if [ "$want" = ok ]; then
        # Controls: the unbroken originals are accepted.
        case $kind in
            ckpt|weights) "$check" "$kind" "$plan_tiny" "$f" >/dev/null 2>err.txt ;;
            *) "$check" "$kind" "$f" >/dev/null 2>err.txt ;;
        esac || fail "$file: the control case is refused: $(cat err.txt)"
        continue
    fi
    case $kind in
    model)
        expect2 "$file" "$want" check_input: "$check" model "$f"
        if [ -n "$plan_tool" ]; then
            expect2 "$file (dml-plan)" "$want" dml-plan: "$plan_tool" \
                --model "$f" --cluster "$good_cluster" --global-batch 512 \
                --db "$db"
            tool_runs=$((tool_runs + 1))
        fi
        if [ "$embed" = embed ]; then
            embed_model "$f" >embedded.json
            expect2 "$file (in a plan)" "$want" dml-exec: \
                "$DML_BIN/dml-exec" --plan embedded.json "${exec_args[@]}"
            tool_runs=$((tool_runs + 1))
        fi ;;
    cluster)
        expect2 "$file" "$want" check_input: "$check" cluster "$f"
        if [ -n "$plan_tool" ]; then
            expect2 "$file (dml-plan)" "$want" dml-plan: "$plan_tool" \
                --model "$good_model" --cluster "$f" --global-batch 512 \
                --db "$db"
            tool_runs=$((tool_runs + 1))
        fi ;;
    plan)
        expect2 "$file" "$want" check_input: "$check" plan "$f"
        expect2 "$file (dml-exec)" "$want" dml-exec: \
            "$DML_BIN/dml-exec" --plan "$f" "${exec_args[@]}"
        tool_runs=$((tool_runs + 1)) ;;
    exec)
        # 2 GB of address space: MPI starts, a model of this size cannot.
        expect2 "$file (dml-exec)" "$want" dml-exec: \
            limit 2097152 "$DML_BIN/dml-exec" --plan "$f" "${exec_args[@]}"
        tool_runs=$((tool_runs + 1)) ;;
    ckpt)
        expect2 "$file" "$want" check_input: "$check" ckpt "$plan_tiny" "$f"
        # dml-exec reports the broken checkpoint, skips it and starts over
        # from step 0 (a separate database: this run is valid).
        rm -rf ck && cp -r "$f" ck
        rc=0
        "$DML_BIN/dml-exec" --plan "$plan_tiny" --data synthetic --steps 6 \
            --checkpoint-dir ck --resume --json --db "$work/resume.db" \
            >out.txt 2>err.txt || rc=$?
        tool_runs=$((tool_runs + 1))
        if [ $rc -ne 0 ]; then
            fail "$file (dml-exec --resume): exit status $rc: $(head -c 600 err.txt)"
        elif ! grep -F "skipping checkpoint step 5 (rank 0)" err.txt | grep -qF -- "$want"; then
            fail "$file (dml-exec --resume): no report saying '$want': $(head -c 600 err.txt)"
        elif ! grep -q '"first_step": 0,' out.txt; then
            fail "$file (dml-exec --resume): did not start over from step 0"
        fi ;;
    weights)
        expect2 "$file" "$want" check_input: "$check" weights "$plan_tiny" "$f"
        expect2 "$file (dml-exec)" "$want" dml-exec: \
            "$DML_BIN/dml-exec" --plan "$plan_tiny" --init-weights "$f" \
            "${exec_args[@]}"
        tool_runs=$((tool_runs + 1)) ;;
    topology)
        expect2 "$file" "$want" check_input: "$check" topology "$f"
        expect2 "$file (dml-probe)" "$want" dml-probe: \
            "$DML_BIN/dml-probe" --topology-xml "$f" --quiet --db "$db"
        tool_runs=$((tool_runs + 1)) ;;
    *)
        fail "cases.tsv: unknown kind '$kind'" ;;
    esac
done <"$bad/cases.tsv"


# Absurd sizes are refused by the readers with 256 MB of address space.
for c in "plan plan/devices-1e12.json cluster.devices: 1000000000000 is out of range" \
         "plan plan/layers-1e9.json model.layers: 1000000000 is out of range" \
         "cluster cluster/nodes-1e12.json nodes: 1000000000000 is out of range" \
         "model model/layers-1e9.json layers: 1000000000 is out of range"; do
    read -r kind file want <<<"$c"
    expect2 "$file (ulimit -v 256 MB)" "$want" check_input: \
        limit 262144 "$check" "$kind" "$bad/$file"
    case $kind in
    model) args=(--model "$bad/$file" --cluster "$good_cluster") ;;
    cluster) args=(--model "$good_model" --cluster "$bad/$file") ;;
    *) continue ;;
    esac
    [ -n "$plan_tool" ] && expect2 "$file (dml-plan, ulimit -v 256 MB)" "$want" \
        dml-plan: limit 262144 "$plan_tool" "${args[@]}" --global-batch 512 \
        --db "$db"
done
after=$(counts)
[ "$before" = "$after" ] ||
    fail "rejected inputs changed the database: before: $before after: $after"
[ "$checked" -ge 40 ] || fail "only $checked cases in cases.tsv"
echo "checked $checked cases ($tool_runs tool runs: dml-exec, dml-plan, dml-probe);" \
    "database rows unchanged: $after"
[ $failures -eq 0 ] || { echo "$failures failures"; exit 1; }
echo "ok"
