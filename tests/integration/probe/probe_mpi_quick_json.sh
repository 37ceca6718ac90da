# mpirun -np 2 dml-probe --quick --json: valid JSON with the documented
# fields, and the run recorded in the database in one transaction.
. "$(dirname "$0")/lib.sh"
db=$scratch/p.db
"$MPIEXEC" -np 2 "$DML_BIN/dml-probe" --quick --json --db "$db" \
    --out "$scratch/cluster.json" >"$scratch/probe.json" 2>"$scratch/err" \
  || { cat "$scratch/err" >&2; fail "dml-probe exited $?"; }
python3 - "$scratch/probe.json" "$scratch/cluster.json" <<'PY'
import json, sys, math
d = json.load(open(sys.argv[1]))
assert d["schema_version"] == 1, "schema_version is 1"
def pos(x, what):
    assert isinstance(x, (int, float)) and math.isfinite(x) and x > 0, f"{what} = {x!r} is a positive number"
pos(d["membw"]["triad_Bps"], "membw.triad_Bps")
pos(d["gemm"]["dgemm_peak_flops"], "gemm.dgemm_peak_flops")
pos(d["gemm"]["sgemm_peak_flops"], "gemm.sgemm_peak_flops")
pos(d["p2p"]["latency_s"], "p2p.latency_s")
pos(d["p2p"]["bandwidth_Bps"], "p2p.bandwidth_Bps")
assert d["p2p"]["latency_s"] < 1e-2, "p2p latency on one node is below 10 ms"
assert d["gemm"]["sgemm_peak_flops"] > d["gemm"]["dgemm_peak_flops"] * 0.8, "sgemm is not much slower than dgemm"
# mpirun binds each rank to one core; the all-cores GEMM sweep must not
# run its threads inside that one core.
import os
cpus = len(os.sched_getaffinity(0))
assert d["gemm"]["all_cores_cpus"] == cpus, f"all-cores GEMM ran on {d['gemm']['all_cores_cpus']} CPUs, the node has {cpus}"
for op in ("allreduce", "allgather", "reducescatter", "alltoall", "broadcast"):
    pts = d["collectives"][op]
    assert len(pts) >= 3, f"{op} has at least 3 sizes"
    for p in pts:
        for k in ("bytes", "time_s", "algbw_Bps", "busbw_Bps"):
            pos(p[k], f"{op}.{k}")
        assert abs(p["algbw_Bps"] - p["bytes"] / p["time_s"]) <= 1e-6 * p["algbw_Bps"], f"{op} algbw = bytes / time"
ar = d["collectives"]["allreduce"][0]
assert abs(ar["busbw_Bps"] - ar["algbw_Bps"] * 2 * (2 - 1) / 2) <= 1e-6 * ar["busbw_Bps"], "allreduce busbw = algbw*2(n-1)/n with n=2"
c = json.load(open(sys.argv[2]))
assert c["schema_version"] == 1 and c["source"] == "dml-probe", "cluster spec from dml-probe"
g = c["node_groups"][0]
assert g["nodes"] == 1 and g["devices_per_node"] >= 1, "one node with devices"
assert g["device"]["type"] == "cpu", "a CPU node"
PY
runs=$(sqlite3 "$db" 'select count(*) from probe_runs')
[ "$runs" -eq 1 ] || fail "one probe run recorded, found $runs"
meas=$(sqlite3 "$db" 'select count(*) from measurements')
[ "$meas" -ge 20 ] || fail "measurements recorded, found $meas"
xml=$(sqlite3 "$db" 'select length(hwloc_xml) from hosts')
[ "$xml" -gt 100 ] || fail "host recorded with its hwloc XML"
clusters=$(sqlite3 "$db" 'select count(*) from clusters')
[ "$clusters" -eq 1 ] || fail "the cluster spec recorded"
sqlite3 "$db" 'select * from v_probe_summary' | grep -q . || fail "v_probe_summary has a row"
# The human summary is a table with units.
"$MPIEXEC" -np 2 "$DML_BIN/dml-probe" --quick --db "$db" >"$scratch/human.txt" 2>"$scratch/err" \
  || { cat "$scratch/err" >&2; fail "dml-probe (human) failed"; }
grep -q 'GB/s' "$scratch/human.txt" || fail "human summary shows GB/s"
grep -q 'FLOP/s' "$scratch/human.txt" || fail "human summary shows FLOP/s"
grep -qi 'busbw' "$scratch/human.txt" || fail "human summary shows busbw"
[ "$(sqlite3 "$db" 'select count(*) from probe_runs')" -eq 2 ] || fail "second run recorded"
echo "ok"
