#!/usr/bin/env bash
# Every tool's --json output, on a fresh database, validates against its
# schema in docs/schemas/ (issue 12): dml-probe --quick under mpirun -np 2
# and a described topology, dml-plan on presets (plain, --explain,
# --why-not, --config, the preset lists, --tune on the probed machine),
# dml-exec on the tiny fixture plan, dml-history (every section, on this
# database and on db_fixture's, which has calibrations); the files they
# write (plan file, cluster spec) and the presets as well. Then the second
# check: the same documents with a required field removed (or an unknown
# key in a closed object) must fail, so that the first check can.
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }

src=$DML_SOURCE_DIR
schemas=$src/docs/schemas
# python3-jsonschema (Debian) lives with /usr/bin/python3; a python3
# earlier on the PATH may have its own, or none.
py=
for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null && "$p" -c 'import jsonschema' 2>/dev/null; then
        py=$p
        break
    fi
done
[ -n "$py" ] || fail "no python3 with jsonschema (Debian: python3-jsonschema; scripts/setup-deps installs it)"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"
export DML_DB=$scratch/dml.db
unset DML_DATA_DIR
B=$DML_BIN
docs=()   # KIND FILE pairs

run() { # run OUT CMD...: stdout to OUT, stderr shown on failure
    local out=$1; shift
    "$@" >"$out" 2>err.txt || { cat err.txt >&2; fail "$* exited $?"; }
    docs+=("$kind" "$out")
}

kind=probe-report
run probe.json "$MPIEXEC" -np 2 "$B/dml-probe" --quick --json --quiet \
    --out cluster.json
run probe-described.json "$B/dml-probe" --synthetic "pack:2 core:4 pu:2" --json
docs+=(cluster-spec cluster.json)

kind=model-list;   run models.json "$B/dml-plan" --list-models --json
kind=cluster-list; run clusters.json "$B/dml-plan" --list-clusters --json

kind=plan-report
big=(--model gpt3-175b --cluster dgx-a100-80g --nodes 16 --global-batch 1536)
run plan.json "$B/dml-plan" "${big[@]}" --tokens 300e9 --json
run explain.json "$B/dml-plan" "${big[@]}" --explain --json
run why-not.json "$B/dml-plan" "${big[@]}" --why-not tp=8,pp=8,mbs=4 --json
run config.json "$B/dml-plan" --model llama3-70b --cluster dgx-h100 \
    --nodes 8 --global-batch 512 --config tp=8,pp=4 --json
run mlp.json "$B/dml-plan" --model mlp-fmnist --cluster this \
    --global-batch 64 --json --out plan-file.json
run tune.json "$B/dml-plan" --model mlp-fmnist --cluster this \
    --global-batch 64 --tune 1 --tune-steps 5 --tune-data synthetic --json \
    --out tuned.json
"$py" -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d.get("tuning"), "--tune printed its trials"' tune.json \
    || fail "dml-plan --tune --json has no 'tuning'"
docs+=(plan-file plan-file.json plan-file tuned.json)
# a cluster of unequal node groups: balance, its shares in the plan file
run balance.json "$B/dml-plan" --model mlp-fmnist \
    --cluster "$DML_FIXTURES/specs/cluster-hetero-cpu.json" \
    --global-batch 1024 --config dp=4,balance=static --explain --json \
    --out balanced-plan.json
docs+=(plan-file balanced-plan.json)
# a federated plan (issue 18): its knobs and round, its federated section
run fed.json "$B/dml-plan" --model mlp-fmnist --cluster cpu-node \
    --devices 2 --global-batch 20 \
    --config dp=2,mode=federated,clients=20,alpha=0.5,secagg=1 --json \
    --out fed-plan.json
docs+=(plan-file fed-plan.json)

kind=exec-run
run exec.json "$MPIEXEC" -np 1 "$B/dml-exec" \
    --plan "$DML_FIXTURES/exec/plan-tiny.json" --data synthetic --steps 10 --json
# no step: the initial weights' accuracy, bytes per step unknown (null)
run exec-0.json "$MPIEXEC" -np 1 "$B/dml-exec" \
    --plan "$DML_FIXTURES/exec/plan-tiny.json" --data synthetic --steps 0 --json

kind=history
run history.json "$B/dml-history" --json
for s in probes plans runs calibrations; do
    run "history-$s.json" "$B/dml-history" "--$s" --json
done
fixture=$B/../tests/integration/db/db_fixture
if [ -x "$fixture" ]; then
    "$fixture" fixture.db >/dev/null
    run history-fixture.json "$B/dml-history" --db fixture.db --json
    "$py" -c 'import json, sys; assert json.load(open(sys.argv[1]))["calibrations"]' \
        history-fixture.json || fail "db_fixture's history has no calibration"
fi

for f in "$src"/data/models/*.json; do docs+=(model-spec "$f"); done
for f in "$src"/data/clusters/*.json; do docs+=(cluster-spec "$f"); done
for f in "$DML_FIXTURES"/exec/plan-*.json; do docs+=(plan-file "$f"); done

echo "== check: every document validates"
"$py" "$src/tests/integration/schemas/validate.py" "$schemas" check "${docs[@]}"
echo "== mutate: a required field removed, or an unknown key in a closed object, fails"
"$py" "$src/tests/integration/schemas/validate.py" "$schemas" mutate "${docs[@]}"
echo "schemas: all checks passed"
