# Topology from a synthetic string and from fixture XML, without the
# hardware: counts reported in the JSON document and recorded.
. "$(dirname "$0")/lib.sh"
db=$scratch/t.db
"$DML_BIN/dml-probe" --synthetic "pack:2 core:8 pu:2" --json --db "$db" >"$scratch/s.json" \
  || fail "synthetic topology probe failed"
python3 - "$scratch/s.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["topology"]
assert t["packages"] == 2, "2 packages"
assert t["cores"] == 16, "16 cores"
assert t["pus"] == 32, "32 PUs"
PY
for xml in "$DML_FIXTURES"/topology/*.xml; do
  "$DML_BIN/dml-probe" --topology-xml "$xml" --json --db "$db" >"$scratch/x.json" \
    || fail "topology from $xml failed"
  python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["topology"]; assert t["cores"] >= 1 and t["pus"] >= t["cores"]' "$scratch/x.json" \
    || fail "topology counts from $xml"
done
n=$(sqlite3 "$db" 'select count(*) from hosts where length(hwloc_xml) > 100')
[ "$n" -ge 1 ] || fail "hosts recorded with XML"
echo "ok"
