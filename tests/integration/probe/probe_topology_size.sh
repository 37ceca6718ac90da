# Described topologies larger than dml describes (issue 10, low):
# dml-probe --synthetic of 65,536 PUs took 35 s and 1.6 GB, and more never
# finished. A description or XML file of more than 4,096 PUs is refused
# before hwloc loads it: exit 2, one line, at once (under a 30 s and
# 2 GB limit here, so that an unbounded build fails instead of taking the
# machine), and nothing recorded; 4,096 PUs are still described.
. "$(dirname "$0")/lib.sh"
db=$scratch/t.db
# In a sanitizer build, Open MPI's own allocations at exit read as leaks
# (none in dml code); memory errors are still reported.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
# bounded CMD...: CMD under 30 s and, except in a sanitizer build (whose
# shadow memory is terabytes of address space), 2 GB of address space.
# (grep without -q: with pipefail, an early exit would fail ldd by SIGPIPE)
if ldd "$DML_BIN/dml-probe" | grep -e libasan -e libubsan >/dev/null; then
    bounded() { timeout 30 "$@"; }
else
    bounded() { timeout 30 bash -c 'ulimit -v 2097152; exec "$@"' - "$@"; }
fi
for desc in "pack:4 core:513 pu:2" "pack:64 core:64 pu:64" \
            "pack:1000 core:1000 pu:1000" \
            "pack:4294967296 core:4294967296 pu:4294967296"; do
    expect_exit 2 bounded "$DML_BIN/dml-probe" --synthetic "$desc" --db "$db"
    one_line
    grep -qF "synthetic topology \"$desc\": more than the 4096 PUs dml describes" \
        "$scratch/err" || { cat "$scratch/err" >&2; fail "'$desc': not the line expected"; }
done
[ "$(sqlite3 "$db" 'SELECT count(*) FROM probe_runs' 2>/dev/null || echo 0)" -eq 0 ] \
    || fail "a refused topology was recorded"

# An XML file of 4,104 PUs (as lstopo writes them).
python3 - "$scratch/big.xml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE topology SYSTEM "hwloc2.dtd">\n'
            '<topology version="2.0">\n <object type="Machine" os_index="0">\n')
    for i in range(4104):
        f.write('  <object type="PU" os_index="%d" cpuset="0x1" complete_cpuset="0x1" '
                'nodeset="0x1" complete_nodeset="0x1" gp_index="%d"/>\n' % (i, i + 2))
    f.write(' </object>\n</topology>\n')
PY
expect_exit 2 bounded "$DML_BIN/dml-probe" --topology-xml "$scratch/big.xml" --db "$db"
one_line
grep -qF "topology of 4104 PUs, more than the 4096 dml describes" "$scratch/err" \
    || { cat "$scratch/err" >&2; fail "the XML of 4104 PUs: not the line expected"; }

# The bound itself is described.
expect_exit 0 bounded "$DML_BIN/dml-probe" --synthetic "pack:4 core:512 pu:2" \
    --json --db "$db"
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["topology"]["pus"] == 4096' \
    "$scratch/out" || fail "4096 PUs are not described"
echo ok
