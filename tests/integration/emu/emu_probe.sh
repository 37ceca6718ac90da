#!/usr/bin/env bash
# dml-probe --quick across 2 emulated nodes x 2 ranks at 100 Mbit/s: 2
# nodes by hostname, both link levels, an inter-node alpha-beta fit and
# headline bandwidth within 10 % of the shaped rate, a cluster spec whose
# inter-node bandwidth is each rank's share when both ranks of a node send
# at once (half the link, within 20 %), traffic on the shaped links, and a
# spec that dml-plan plans with; the busy GEMM sees the four ranks share
# two cores and the spec's devices are held to it.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
[[ -n ${MPIEXEC:-} ]] || skip "no MPIEXEC"

emu_up --nodes 2 --ranks-per-node 2 --link 100mbit >/dev/null
"$emu" stats --reset >/dev/null
db=$scratch/p.db
timeout 240 "$emu" mpirun -np 4 "$DML_BIN/dml-probe" --quick --json \
  --db "$db" --out "$scratch/cluster.json" >"$scratch/probe.json" \
  2>"$scratch/err" || { cat "$scratch/err" >&2; fail "dml-probe across nodes"; }
"$emu" stats --json >"$scratch/stats.json"

python3 - "$scratch/probe.json" "$scratch/cluster.json" "$scratch/stats.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
c = json.load(open(sys.argv[2]))
s = json.load(open(sys.argv[3]))
rate = 100e6 / 8  # the shaped link, B/s
def near(x, what):
    print(f"{what}: {x / 1e6:.2f} MB/s ({x / rate:.1%} of 100 Mbit/s)")
    assert 0.9 * rate <= x <= 1.1 * rate, f"{what} {x:.4g} B/s is within 10 % of {rate:.4g} B/s"
assert d["nodes"] == 2, f"2 nodes found, got {d['nodes']}"
names = sorted(h["hostname"] for h in d["hosts"])
assert names == ["dmlnode0", "dmlnode1"], f"the nodes are the emulated hosts: {names}"
levels = {l["level"]: l for l in d["p2p"]["levels"]}
assert set(levels) == {"intra_node", "inter_node"}, f"two link levels: {sorted(levels)}"
inter, intra = levels["inter_node"], levels["intra_node"]
near(inter["fit"]["bw_Bps"], "inter-node alpha-beta fit")
near(inter["bandwidth_Bps"], "inter-node headline bandwidth")
assert intra["bandwidth_Bps"] > 20 * inter["bandwidth_Bps"], "shared memory inside a node is far faster than the link"
assert 1e-6 < inter["latency_s"] < 1e-3, f"inter-node latency {inter['latency_s']} s (TCP through a bridge)"
g = c["node_groups"]
assert sum(x["nodes"] for x in g) == 2, "the cluster spec has 2 nodes"
# Four single-threaded ranks on this machine's two cores: computing at
# once, none keeps much more than half of its solo speed, and the spec's
# devices are held to what they kept (probes/gemm_busy.h).
for h in d["hosts"]:
    f = h["busy_sgemm_fraction"]
    assert f is not None and 0 < f <= 0.8, f"{h['hostname']}: every rank computing keeps {f} of solo sgemm"
solo = d["gemm"]["sgemm_peak_1thread_flops"]
most = max(h["busy_sgemm_fraction"] for h in d["hosts"])
for x in g:
    dev = x["device"]["peak_flops"]["fp32"]
    # (a group holds its nodes' mean; the other node's own solo figure may be
    # a little above rank 0's)
    assert dev <= 1.15 * most * solo, f"the spec's fp32 device {dev:.4g} is held to {most:.3f} of one core's {solo:.4g}"
links = g[0]["links"]
assert "intra_node" in links and "inter_node" in links, "the spec has both link levels"
# Two ranks a node share one link: the spec holds what each gets at once,
# the same figure the report gives as the per-device share.
share = d["p2p"]["inter_node_per_device_Bps"]
spec_bw = links["inter_node"]["bw_Bps"]
print(f"cluster spec inter_node bw_Bps: {spec_bw / 1e6:.2f} MB/s ({spec_bw / rate:.1%} of 100 Mbit/s), per-device share {share / 1e6:.2f} MB/s")
assert abs(spec_bw - share) <= 1e-6 * share, f"the spec's inter-node bandwidth {spec_bw} is the per-device share {share}"
assert 0.4 * rate <= spec_bw <= 0.6 * rate, f"two ranks sharing a 100 Mbit/s link get about half each: {spec_bw:.4g} B/s"
# The probe's messages crossed the links: megabytes each way.
for n in s["nodes"]:
    assert n["sent_bytes"] > 10e6 and n["received_bytes"] > 10e6, f"node {n['node']} link carried the probe: {n}"
print("ok")
PY

"$DML_BIN/dml-plan" --model mlp-fmnist --cluster "$scratch/cluster.json" \
  --global-batch 256 --db "$db" --json >"$scratch/plan.json" 2>"$scratch/err" ||
  { cat "$scratch/err" >&2; fail "dml-plan with the probed cluster"; }
python3 - "$scratch/plan.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
plans = p["plans"]
assert plans, f"dml-plan recommends plans: {list(p)}"
print(f"dml-plan: {len(plans)} plans, first {plans[0].get('parallel', plans[0])}")
PY
echo "ok"
