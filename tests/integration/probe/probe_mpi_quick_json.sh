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
        # issue 12: the average beside the best, and the result checked
        assert p["time_mean_s"] >= p["time_s"], f"{op}: the average repetition is not faster than the best"
        pos(p["busbw_mean_Bps"], f"{op}.busbw_mean_Bps")
        assert p["wrong"] == 0, f"{op} {p['bytes']} B: #wrong is {p['wrong']}"
    fit = d["collective_fits"][op]["intra_node"]
    assert fit is None or fit["rms_rel_residual"] >= 0, f"{op}: the fit's RMS residual is in the JSON"
lv = d["p2p"]["levels"][0]
for p in lv["points"]:
    assert p["latency_mean_s"] >= p["latency_s"] and p["bandwidth_mean_Bps"] <= p["bandwidth_Bps"], "p2p averages beside the best"
# The headline bandwidth is the largest message's (not a cache-sized one).
assert lv["bandwidth_Bps"] == lv["points"][-1]["bandwidth_Bps"], "p2p headline bandwidth is the largest size's"
assert lv["fit"] is None or "rms_rel_residual" in lv["fit"], "the p2p fit's RMS residual is in the JSON"
ar = d["collectives"]["allreduce"][0]
assert abs(ar["busbw_Bps"] - ar["algbw_Bps"] * 2 * (2 - 1) / 2) <= 1e-6 * ar["busbw_Bps"], "allreduce busbw = algbw*2(n-1)/n with n=2"
c = json.load(open(sys.argv[2]))
assert c["schema_version"] == 1 and c["source"] == "dml-probe", "cluster spec from dml-probe"
g = c["node_groups"][0]
assert g["nodes"] == 1 and g["devices_per_node"] >= 1, "one node with devices"
assert g["device"]["type"] == "cpu", "a CPU node"
# The cluster spec's link is the p2p headline: the largest message's
# bandwidth (issue 12).
intra = g["links"]["intra_node"]
assert abs(intra["bw_Bps"] - lv["bandwidth_Bps"]) <= 1e-5 * lv["bandwidth_Bps"], f"link bandwidth {intra['bw_Bps']} is the largest message's {lv['bandwidth_Bps']}"
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
# nccl-tests' columns and footers, every result checked (issue 12).
grep -q '^#       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   busbw #wrong$' \
    "$scratch/human.txt" || fail "collective tables have nccl-tests' columns"
n=$(grep -c '^# Out of bounds values : 0 OK$' "$scratch/human.txt" || true)
[ "$n" -eq 5 ] || fail "5 collective tables end with '# Out of bounds values : 0 OK', found $n"
n=$(grep -c '^# Avg bus bandwidth    : [0-9.e+-]* $' "$scratch/human.txt" || true)
[ "$n" -eq 5 ] || fail "5 collective tables end with nccl-tests' Avg bus bandwidth, found $n"
grep -q '^# Size         Avg Latency(us)        Best Latency(us)$' "$scratch/human.txt" \
    || fail "the latency table has the average and the best"
[ "$(sqlite3 "$db" 'select count(*) from probe_runs')" -eq 2 ] || fail "second run recorded"
echo "ok"
