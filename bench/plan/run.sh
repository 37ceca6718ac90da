#!/usr/bin/env bash
# bench/plan/run.sh: time dml-plan's full search (issue 3, "Speed").
#
#   bench/plan/run.sh [BUILD_DIR] [REPEAT]
#
# 1. dml-bench-plan: the search alone (presets loaded, cost model prepared,
#    every configuration enumerated and priced), REPEAT times per case:
#    GPT-3 175B on 128 x 8 A100 and Llama 3 405B on 2048 x 8 H100.
# 2. The dml-plan command end to end (process start, search, database
#    write, output) for the same two cases, with --json, reading
#    search.candidates and search.elapsed_s from its output.
# Target: under 1 s each on a 2-core machine (aim: 0.1 s).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
repeat=${2:-5}
bin=$build/bench/plan/dml-bench-plan
plan=$build/tools/dml-plan
for f in "$bin" "$plan"; do
    [ -x "$f" ] || { echo "run.sh: $f not built (cmake --build $build)" >&2; exit 2; }
done
echo "== search only ($repeat repeats; times in seconds)"
"$bin" "$repeat"

echo
echo "== dml-plan end to end (one call each)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run_case() {
    local label=$1
    shift
    local t0 t1
    t0=$(date +%s.%N)
    "$plan" "$@" --json --db "$work/bench.db" >"$work/out.json"
    t1=$(date +%s.%N)
    python3 - "$label" "$t0" "$t1" "$work/out.json" <<'PY'
import json, sys
label, t0, t1, path = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
d = json.load(open(path))
s = d["search"]
w = d["plans"][0]["parallel"]
print(f"{label}: {s['candidates']} priced, {s['feasible']} feasible, "
      f"search {s['elapsed_s']:.4f} s "
      f"({s['candidates'] / max(s['elapsed_s'], 1e-9):.0f}/s), "
      f"command {float(t1) - float(t0):.3f} s; winner dp={w['dp']} "
      f"tp={w['tp']} pp={w['pp']} v={w['v']} mbs={w['mbs']}")
PY
}
run_case "gpt3-175b 128 x dgx-a100-80g" --model gpt3-175b \
    --cluster dgx-a100-80g --nodes 128 --global-batch 1536
run_case "llama3-405b 2048 x dgx-h100" --model llama3-405b \
    --cluster dgx-h100 --nodes 2048 --global-batch 2048
