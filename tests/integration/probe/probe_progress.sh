# Progress where stderr is not a terminal (issue 12): under mpirun stderr
# is a pipe, so the redrawn line never appears and a 2-minute probe used to
# run silent. Rank 0 now prints a plain line ("dml-probe: progress: ...")
# at the first phase and then every 5 s: no carriage return or escape,
# the elapsed time, the phase. Checked with stderr in a file: under mpirun
# (one rank prints, not two) and alone; none with --quiet; stdout still
# one JSON document. The only timing checked is the lower bound the
# interval sets (lines are never closer than it), and a gap of at most a
# generous 60 s on this shared machine.
. "$(dirname "$0")/lib.sh"
db=$scratch/p.db
"$MPIEXEC" -np 2 "$DML_BIN/dml-probe" --quick --json --db "$db" \
    >"$scratch/probe.json" 2>"$scratch/err" \
  || { cat "$scratch/err" >&2; fail "dml-probe under mpirun exited $?"; }
python3 - "$scratch/err" "$scratch/probe.json" <<'PY'
import json, re, sys
raw = open(sys.argv[1], "rb").read()
assert b"\r" not in raw and b"\x1b" not in raw, "no carriage return or escape in the progress lines"
lines = [l for l in raw.decode().splitlines() if l.startswith("dml-probe: progress: ")]
assert lines, "at least one progress line:\n" + raw.decode()
elapsed = []
for l in lines:
    m = re.match(r"dml-probe: progress: (?:(\d+) min )?(\d+) s: (\S.*)$", l)
    assert m, f"a progress line names the elapsed time and a phase: {l!r}"
    elapsed.append(60 * int(m.group(1) or 0) + int(m.group(2)))
assert lines[0].startswith("dml-probe: progress: 0 s: topology"), f"the first line comes with the first phase: {lines[0]!r}"
# One rank speaks: two ranks printing would repeat the elapsed times.
for a, b in zip(elapsed, elapsed[1:]):
    assert b - a >= 4, f"lines 5 s apart (rounded to whole seconds), not {a} then {b}: {lines}"
    assert b - a <= 60, f"a line at least every 60 s, not {a} then {b}"
d = json.load(open(sys.argv[2]))
took = d["elapsed_s"]
# The ticker prints while a step runs: a probe of 15 s or more has had
# two lines at least (0 s and 5 s).
assert took < 15 or len(lines) >= 2, f"{len(lines)} line(s) in a {took:.0f}-s probe"
print(f"{len(lines)} progress lines in {took:.1f} s: " + " | ".join(lines[:3]))
PY
# One rank, no mpirun, stderr a file: still at least one line.
"$DML_BIN/dml-probe" --quick --json --db "$db" >"$scratch/one.json" \
    2>"$scratch/err1" || { cat "$scratch/err1" >&2; fail "dml-probe alone exited $?"; }
grep -q '^dml-probe: progress: 0 s: topology' "$scratch/err1" \
    || { cat "$scratch/err1" >&2; fail "no progress line without mpirun"; }
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$scratch/one.json" \
    || fail "stdout is one JSON document"
# --quiet: none.
"$MPIEXEC" -np 2 "$DML_BIN/dml-probe" --quick --quiet --db "$db" \
    >/dev/null 2>"$scratch/errq" || { cat "$scratch/errq" >&2; fail "dml-probe --quiet exited $?"; }
! grep -q 'progress' "$scratch/errq" || { cat "$scratch/errq" >&2; fail "--quiet printed progress"; }
echo ok
