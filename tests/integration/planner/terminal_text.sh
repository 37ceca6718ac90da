#!/usr/bin/env bash
# Text that reaches a terminal (issue 10, item 2): names, host names,
# fingerprints and error texts in a database an older dml wrote (which may
# hold control characters), a device model in a cluster spec (free text)
# and paths on the command line must come out of dml-history and dml-plan
# with their control characters escaped, never as bytes a terminal obeys
# (ESC, BEL, a C1 CSI, a carriage return or a newline inside a cell).
. "$(dirname "$0")/lib.sh"
cd "$scratch"
fixture=$DML_BIN/../tests/integration/db/db_fixture

# no_controls FILE WHAT: FILE holds no byte below 0x20 but newlines, no
# DEL and no C1 control.
no_controls() {
    python3 - "$1" <<'PY' || fail "$2 lets control characters through"
import sys
data = open(sys.argv[1], "rb").read()
bad = [i for i, c in enumerate(data) if (c < 0x20 and c != 0x0a) or c == 0x7f]
assert not bad, "byte 0x%02x at %d: %r" % (data[bad[0]], bad[0],
                                           data[max(0, bad[0] - 20):bad[0] + 20])
assert b"\xc2\x9b" not in data, "a C1 CSI"
PY
}

# A database as an older version could have left it.
"$fixture" old.db >/dev/null
esc="char(27) || '[2J' || char(7) || char(13) || char(10) || char(155)"
sqlite3 old.db "
  UPDATE models SET name = 'mlp' || $esc;
  UPDATE clusters SET name = 'vm' || $esc;
  UPDATE hosts SET hostname = 'host' || $esc;
  UPDATE calibrations SET cluster_fingerprint = 'feed' || $esc;
  UPDATE runs SET error = 'rank 1' || $esc WHERE error IS NOT NULL;"
"$DML_BIN/dml-history" --db old.db >history.out 2>history.err ||
    fail "dml-history on the old database: $(cat history.err)"
no_controls history.out "dml-history"
grep -qF 'mlp\x1b[2J\x07\r\n\xc2\x9b' history.out ||
    fail "dml-history does not show the escaped model name: $(cat history.out)"
grep -qF 'host\x1b' history.out || fail "dml-history: host name"
grep -qF 'feed\x1b' history.out || fail "dml-history: fingerprint"
"$DML_BIN/dml-history" --db old.db --json >history.json ||
    fail "dml-history --json"
python3 -c 'import json, sys; json.load(open(sys.argv[1]))' history.json ||
    fail "dml-history --json is not JSON"
no_controls history.json "dml-history --json"

# A device model is free text; the report shows it escaped.
python3 - "$DML_SOURCE_DIR/data/clusters/cpu-node.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["node_groups"][0]["device"]["model"] = "CPU\x1b]0;owned\x07\u009b31m\nX"
c["description"] = "desc\x1b[2J"
json.dump(c, open("cluster.json", "w"))
PY
out=$'plan\x1b[2J.json'
plan --model mlp-fmnist --cluster cluster.json --nodes 1 --global-batch 256 \
    --out "$out" --db "$scratch/new.db" >plan.out 2>plan.err ||
    fail "dml-plan: $(cat plan.err)"
no_controls plan.out "dml-plan's report"
grep -qF 'CPU\x1b]0;owned\x07\xc2\x9b31m\nX' plan.out ||
    fail "dml-plan does not show the escaped device model: $(head -3 plan.out)"
grep -qF 'written to plan\x1b[2J.json' plan.out ||
    fail "dml-plan does not show the escaped --out path"
[ -f "$out" ] || fail "no plan file at the path given"
echo "terminal_text: dml-history and dml-plan escape what they print"
