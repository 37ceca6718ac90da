#!/usr/bin/env bash
# Compare dml-probe with the HPC Challenge benchmark (Debian's hpcc) on this
# machine, side by side: STREAM triad, DGEMM, and MPI ping-pong latency and
# bandwidth. The issue's target is agreement within 15%.
#
#   bench/probe/probe_vs_hpcc.sh [BUILD_DIR] [RANKS]
#
# Like for like:
#   triad, 1 thread   dml membw.triad_1thread_Bps   hpcc SingleSTREAM_Triad
#   triad, all cores  dml membw.triad_Bps           hpcc StarSTREAM_Triad x ranks
#                     (hpcc runs one single-threaded STREAM per process at once)
#   DGEMM, 1 thread   dml gemm.dgemm_peak_1thread_flops  hpcc SingleDGEMM_Gflops
#   ping-pong latency dml p2p.latency_s (8 B)       hpcc AvgPingPongLatency_usec
#   ping-pong bw      dml one-way 2 MiB bytes/time  hpcc AvgPingPongBandwidth_GBytes
#                     (hpcc: 2,000,000-byte ping-pong, bytes / one-way time)
# Exit 0 when every ratio is within 15%, 1 otherwise.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$here/build}" && pwd)
ranks=${2:-2}
. "$here/scripts/env.sh"
work=$(mktemp -d /tmp/dml-hpcc-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"

# A small HPL problem: hpcc runs every test; HPL is only the slow part.
sed -e 's/^1000 .*Ns/4000         Ns/' -e 's/^2            Ps/1            Ps/' \
    -e "s/^2            Qs/$ranks            Qs/" \
    /usr/share/doc/hpcc/examples/_hpccinf.txt > hpccinf.txt
echo "running hpcc with $ranks ranks ..." >&2
OPENBLAS_NUM_THREADS=1 mpirun -np "$ranks" hpcc >/dev/null 2>&1
echo "running dml-probe with $ranks ranks ..." >&2
mpirun -np "$ranks" "$build/tools/dml-probe" --json --quiet --db "$work/p.db" > probe.json

python3 - "$ranks" hpccoutf.txt probe.json <<'PY'
import json, re, sys
ranks = int(sys.argv[1])
h = {}
for line in open(sys.argv[2]):
    m = re.match(r'^(\w+)=([-+0-9.eE]+)$', line.strip())
    if m:
        h[m.group(1)] = float(m.group(2))
d = json.load(open(sys.argv[3]))
pp = d["p2p"]["levels"][0]["points"]
two_mib = [p for p in pp if p["bytes"] == 2097152]
rows = [
    ("STREAM triad, 1 thread (GB/s)", d["membw"]["triad_1thread_Bps"] / 1e9, h["SingleSTREAM_Triad"]),
    (f"STREAM triad, {ranks} cores (GB/s)", d["membw"]["triad_Bps"] / 1e9, h["StarSTREAM_Triad"] * ranks),
    ("DGEMM, 1 thread (GFLOP/s)", d["gemm"]["dgemm_peak_1thread_flops"] / 1e9, h["SingleDGEMM_Gflops"]),
    ("ping-pong latency (us)", d["p2p"]["latency_s"] * 1e6, h["AvgPingPongLatency_usec"]),
    ("ping-pong bandwidth (GB/s)", two_mib[0]["bytes"] / two_mib[0]["latency_s"] / 1e9 if two_mib else float("nan"),
     h["AvgPingPongBandwidth_GBytes"]),
]
ok = True
print(f"{'quantity':36s} {'dml-probe':>12s} {'hpcc':>12s} {'ratio':>8s}")
for name, ours, theirs in rows:
    ratio = ours / theirs
    flag = "" if abs(ratio - 1) <= 0.15 else "  <-- outside 15%"
    ok &= abs(ratio - 1) <= 0.15
    print(f"{name:36s} {ours:12.3f} {theirs:12.3f} {ratio:8.3f}{flag}")
sys.exit(0 if ok else 1)
PY
