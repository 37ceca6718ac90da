#!/usr/bin/env bash
# The README and the tools say the same thing (issue 12): the --quick
# probe's time in dml-probe --help is the README's; every relative link in
# README.md and docs/ reaches a file (the architecture document among
# them); scripts/quickstart never cuts the probe's report with head or
# tail, and what it prints of it is made of whole sections.
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
src=$DML_SOURCE_DIR

help_s=$("$DML_BIN/dml-probe" --help | grep -- '--quick' | grep -oE 'about [0-9]+ s' | head -1)
readme_s=$(grep -E '^mpirun -np 2 dml-probe --quick +#' "$src/README.md" | grep -oE 'about [0-9]+ s' | head -1)
[ -n "$help_s" ] || fail "dml-probe --help gives no time for --quick"
[ "$help_s" = "$readme_s" ] || fail "--quick: dml-probe --help says '$help_s', README says '$readme_s'"

python3 - "$src" <<'PY' || fail "a link in the documentation leads nowhere"
import os, re, sys
src = sys.argv[1]
files = [os.path.join(src, "README.md")] + [
    os.path.join(d, f) for d, _, fs in os.walk(os.path.join(src, "docs"))
    for f in fs if f.endswith(".md")]
bad = []
for f in files:
    text = open(f).read()
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        path = os.path.normpath(os.path.join(os.path.dirname(f), target))
        if not os.path.exists(path):
            bad.append(f"{os.path.relpath(f, src)}: {target}")
for b in bad:
    print("FAIL: no such file:", b)
readme = open(os.path.join(src, "README.md")).read()
assert "docs/architecture.md" in readme, "the README links the architecture document"
sys.exit(1 if bad else 0)
PY

qs=$src/scripts/quickstart
# the probe's command, continued lines joined, must not end in head/tail
probe_cmd=$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$qs" | grep 'dml-probe"' || true)
[ -n "$probe_cmd" ] || fail "scripts/quickstart runs no dml-probe"
! grep -qE '\|[[:space:]]*(head|tail)' <<<"$probe_cmd" || fail "scripts/quickstart cuts the probe's report: $probe_cmd"
# the selection prints whole paragraphs: run it on a report made of
# sections with long tables, and every printed section is complete
sel=$(sed -n "/^awk 'BEGIN { RS = \"\"/,/probe-report.txt\$/p" "$qs")
[ -n "$sel" ] || fail "scripts/quickstart has no section selection"
report=$(mktemp)
trap 'rm -f "$report"' EXIT
{ printf 'dml-probe 0.1.0: test\nhost x\n\n'
  printf 'GEMM peaks\n'; seq 1 40 | sed 's/^/  gemm row /'; echo
  printf 'Collectives (MPI), alpha-beta fits\n'; seq 1 30 | sed 's/^/  fit row /'; echo
  printf 'Recorded as probe run 1.\n'; } >"$report"
out=$(cd "$(dirname "$report")" && bash -c "${sel//probe-report.txt/$report}")
[ "$(grep -c 'fit row' <<<"$out")" -eq 30 ] || fail "the collectives' table was cut"
! grep -q 'gemm row' <<<"$out" || fail "the GEMM table was printed although not selected"
grep -q '^Recorded as probe run' <<<"$out" || fail "the record line is missing"
echo "docs: all checks passed"
