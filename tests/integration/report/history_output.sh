#!/usr/bin/env bash
# dml-history --csv and --plot (issue 12) on a database the real tools
# fill (dml-probe --quick under mpirun -np 2, two dml-exec runs of the tiny
# fixture plan): the CSV parses as RFC 4180 with units in its header and
# holds the rows --json shows; each chart is an SVG whose root is <svg>
# with a width and height and enough drawn elements (or a PNG of the
# stated size); a missing gnuplot is one line and exit 1; nothing to plot
# is exit 2; bad combinations are refused; gnuplot's folder is removed.
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v gnuplot >/dev/null || fail "gnuplot missing (Debian gnuplot-nox; scripts/setup-deps installs it)"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"
export DML_DB=$scratch/dml.db
export TMPDIR=$scratch/tmp
mkdir -p "$TMPDIR"
H=$DML_BIN/dml-history

"$MPIEXEC" -np 2 "$DML_BIN/dml-probe" --quick --quiet >/dev/null 2>err.txt ||
    { cat err.txt >&2; fail "dml-probe exited $?"; }
for seed in 1 2; do
    "$MPIEXEC" -np 1 "$DML_BIN/dml-exec" --plan "$DML_FIXTURES/exec/plan-tiny.json" \
        --data synthetic --steps 12 --seed $seed >/dev/null 2>err.txt ||
        { cat err.txt >&2; fail "dml-exec exited $?"; }
done

# expect CODE PATTERN ARGS...: exit CODE, one stderr line with PATTERN.
expect() {
    local want=$1 pat=$2 rc=0
    shift 2
    "$H" "$@" >out.txt 2>err.txt || rc=$?
    [ "$rc" -eq "$want" ] || fail "dml-history $* exited $rc, expected $want: $(cat err.txt)"
    [ "$(wc -l <err.txt)" -eq 1 ] || fail "dml-history $*: not one line on stderr: $(cat err.txt)"
    grep -qF -- "$pat" err.txt || fail "dml-history $*: stderr does not say '$pat': $(cat err.txt)"
}

echo "== CSV"
for s in probes plans runs calibrations; do
    "$H" "--$s" --csv >"$s.csv" || fail "--$s --csv exited $?"
    "$H" "--$s" --json >"$s.json"
done
python3 - <<'PY' || fail "the CSV does not match the JSON"
import csv, json, math
checks = {  # section: json key, CSV column -> JSON path
    "probes": ("probe_runs", {"id": ["id"], "triad_Bps": ["triad_Bps"],
                              "p2p_latency_s": ["p2p_latency_s"],
                              "dgemm_flops_per_s": ["dgemm_flops"]}),
    "plans": ("plans", {"id": ["id"], "dp": ["parallel", "dp"],
                        "predicted_step_s": ["predicted_step_s"],
                        "best_measured_step_s": ["best_measured_step_s"]}),
    "runs": ("runs", {"id": ["id"], "measured_step_s": ["measured_step_s"],
                      "final_loss": ["final_loss"], "steps": ["steps"],
                      "global_batch": ["parallel", "global_batch"]}),
    "calibrations": ("calibrations", {"id": ["id"]}),
}
for sec, (key, cols) in checks.items():
    raw = open(f"{sec}.csv", "rb").read()
    assert raw.endswith(b"\r\n"), f"{sec}: records end with CRLF"
    assert b"\n" not in raw.replace(b"\r\n", b""), f"{sec}: no bare LF"
    rows = list(csv.DictReader(open(f"{sec}.csv", newline="")))
    doc = json.load(open(f"{sec}.json"))[key]
    assert len(rows) == len(doc), f"{sec}: {len(rows)} CSV rows, {len(doc)} in --json"
    for c in cols:
        assert c in rows[0] if rows else True, f"{sec}: column {c}"
    for r, d in zip(rows, doc):
        for c, path in cols.items():
            v = d
            for p in path:
                v = v[p]
            if v is None:
                assert r[c] == "", f"{sec}.{c}: null is an empty field"
            else:
                assert math.isclose(float(r[c]), float(v), rel_tol=1e-8), f"{sec}.{c}: {r[c]} vs {v}"
    if sec == "runs":
        assert len(rows) == 2, "two runs"
        hdr = list(rows[0].keys())
        for unit_col in ("predicted_step_s", "measured_step_s", "error_pct", "peak_rss_bytes", "duration_s"):
            assert unit_col in hdr, f"runs CSV has {unit_col}"
print("csv: rows and values match --json")
PY
expect 2 "--csv writes one table" --csv
expect 2 "--json and --csv" --runs --csv --json

echo "== charts"
svg_check() { # svg_check FILE MIN_ELEMENTS
    python3 - "$1" "$2" <<'PY'
import sys, xml.etree.ElementTree as ET
path, need = sys.argv[1], int(sys.argv[2])
root = ET.parse(path).getroot()
assert root.tag in ("svg", "{http://www.w3.org/2000/svg}svg"), f"root is <{root.tag}>"
assert root.get("width") and root.get("height"), "the root has a width and a height"
assert float(root.get("width")) >= 300 and float(root.get("height")) >= 200, "a readable size"
drawn = sum(1 for e in root.iter() if e.tag.split("}")[-1] in ("path", "use", "circle", "polyline"))
assert drawn >= need, f"{drawn} drawn elements, at least {need} expected"
print(f"{path}: <svg> {root.get('width')}x{root.get('height')}, {drawn} drawn elements")
PY
}
"$H" --plot predicted --out predicted.svg || fail "--plot predicted exited $?"
svg_check predicted.svg 20 || fail "predicted.svg"
"$H" --plot loss --out loss.svg || fail "--plot loss exited $?"
svg_check loss.svg 20 || fail "loss.svg"
grep -q "run 1" loss.svg && grep -q "run 2" loss.svg || fail "loss.svg has a line per run"
"$H" --plot loss --run 2 --out loss2.svg || fail "--plot loss --run 2 exited $?"
! grep -q "run 1:" loss2.svg || fail "--run 2 drew run 1 as well"
"$H" --plot bandwidth --out bw.svg || fail "--plot bandwidth exited $?"
svg_check bw.svg 40 || fail "bw.svg"
for op in allreduce allgather broadcast p2p; do
    grep -q "$op intra_node" bw.svg || fail "bw.svg has no $op line"
done
"$H" --plot latency --out lat.png || fail "--plot latency (png) exited $?"
python3 - lat.png <<'PY' || fail "lat.png is not a 900x600 PNG"
import struct, sys
b = open(sys.argv[1], "rb").read()
assert b[:8] == b"\x89PNG\r\n\x1a\n", "PNG signature"
w, h = struct.unpack(">II", b[16:24])
assert (w, h) == (900, 600), f"{w}x{h}"
PY
"$H" --plot bandwidth --out /dev/stdout >stdout.svg || fail "--out /dev/stdout exited $?"
svg_check stdout.svg 40 >/dev/null || fail "the chart on standard output"
[ -z "$(ls -A "$TMPDIR")" ] || fail "gnuplot's folders were left in \$TMPDIR: $(ls "$TMPDIR")"

echo "== failures"
mkdir -p nopath
rc=0
PATH=$scratch/nopath "$H" --plot loss --out nogp.svg 2>err.txt || rc=$?
[ "$rc" -eq 1 ] || fail "without gnuplot: exit $rc, expected 1"
[ "$(cat err.txt)" = "dml-history: error: gnuplot not found; install gnuplot-nox" ] ||
    fail "without gnuplot: $(cat err.txt)"
[ ! -e nogp.svg ] || fail "an image was written without gnuplot"
expect 2 "--plot needs --out" --plot loss
expect 2 "predicted, loss, bandwidth or latency" --plot pie --out x.svg
expect 2 "--run goes with --plot loss" --plot bandwidth --run 1 --out x.svg
expect 2 "no run 99" --plot loss --run 99 --out x.svg
expect 2 "is a directory" --plot loss --out "$scratch"
"$DML_BIN/../tests/integration/db/db_fixture" --empty empty.db
expect 2 "nothing to plot: no plan with a successful run" --db empty.db \
    --plot predicted --out x.svg
expect 2 "nothing to plot: no probe run measured communication" \
    --db empty.db --plot bandwidth --out x.svg
[ ! -e x.svg ] || fail "a failed --plot left x.svg"
echo "history output: all checks passed"
