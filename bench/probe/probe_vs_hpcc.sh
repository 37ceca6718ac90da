#!/usr/bin/env bash
# Compare dml-probe with the HPC Challenge benchmark (Debian's hpcc) on this
# machine, side by side: STREAM triad, DGEMM, and MPI ping-pong latency and
# bandwidth. The issue's target is agreement within 15%.
#
#   bench/probe/probe_vs_hpcc.sh [BUILD_DIR] [RANKS]
#   ROUNDS=3 (default) rounds; each runs hpcc, then dml-probe
#   PROBE_ARGS="--quick" to time the quick probe instead of the default one
#
# Like for like (dml-probe --json field, hpcc output field):
#   triad, all cores  membw.triad_Bps                 StarSTREAM_Triad x ranks
#                     (hpcc runs one single-threaded STREAM per process at once)
#   DGEMM, all cores  gemm.dgemm_peak_flops           StarDGEMM_Gflops x ranks
#   DGEMM, 1 thread   gemm.dgemm_peak_1thread_flops   SingleDGEMM_Gflops
#   ping-pong latency p2p.latency_s (8 B)             AvgPingPongLatency_usec
#   ping-pong bw      2 MiB bytes / one-way time      AvgPingPongBandwidth_GBytes
#                     (hpcc: 2,000,000-byte ping-pong, bytes / one-way time)
# Both tools report the best of their repetitions, so the comparison takes
# the best of the rounds for each (highest rate, lowest latency): on a VM
# both switch between a fast and a slow mode from one run to the next (the
# 2 MB ping-pong reads about 10.5 or about 4.5 GB/s in either tool), and a
# single pair of runs can catch them in different modes. Every round is
# printed, so the spread is visible.
#
# Printed for information, outside the pass/fail: the single-thread STREAM
# triad and copy (membw.triad_1thread_Bps against SingleSTREAM_Triad). On
# the AMD EPYC VM this was written on, hpcc's single-process copy agrees
# with ours within 5%, but its scale, add and triad run 15-25% below its
# own copy, which a memory-bound kernel does not do: hpcc's arithmetic
# loops are not memory-bound on one core there.
# Exit 0 when every compared ratio is within 15%, 1 otherwise.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$here/build}" && pwd)
ranks=${2:-2}
rounds=${ROUNDS:-3}
read -r -a probe_args <<<"${PROBE_ARGS:-}"
. "$here/scripts/env.sh"
command -v hpcc >/dev/null || { echo "probe_vs_hpcc.sh: hpcc is not installed (apt-get install hpcc)" >&2; exit 2; }
work=$(mktemp -d /tmp/dml-hpcc-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"

# A small HPL problem: hpcc runs every test; HPL is only the slow part.
sed -e 's/^1000 .*Ns/4000         Ns/' -e 's/^2            Ps/1            Ps/' \
    -e "s/^2            Qs/$ranks            Qs/" \
    /usr/share/doc/hpcc/examples/_hpccinf.txt > hpccinf.txt
for r in $(seq 1 "$rounds"); do
    echo "round $r of $rounds: hpcc with $ranks ranks ..." >&2
    rm -f hpccoutf.txt
    OPENBLAS_NUM_THREADS=1 mpirun -np "$ranks" hpcc >/dev/null 2>&1
    mv hpccoutf.txt "hpcc-$r.txt"
    echo "round $r of $rounds: dml-probe ${probe_args[*]} with $ranks ranks ..." >&2
    mpirun -np "$ranks" "$build/tools/dml-probe" "${probe_args[@]}" --json \
        --quiet --db "$work/p.db" > "probe-$r.json"
done

python3 - "$ranks" "$rounds" <<'PY'
import json, math, re, sys
ranks, rounds = int(sys.argv[1]), int(sys.argv[2])

def hpcc(path):
    h = {}
    for line in open(path):
        m = re.match(r'^(\w+)=([-+0-9.eE]+)$', line.strip())
        if m:
            h[m.group(1)] = float(m.group(2))
    return h

def pingpong_2mib_GBps(d):
    pts = [p for p in d["p2p"]["levels"][0]["points"] if p["bytes"] == 2097152]
    return pts[0]["bytes"] / pts[0]["latency_s"] / 1e9 if pts else float("nan")

H = [hpcc(f"hpcc-{r}.txt") for r in range(1, rounds + 1)]
D = [json.load(open(f"probe-{r}.json")) for r in range(1, rounds + 1)]
# (name, dml value, hpcc value, lower is better, in pass/fail)
rows = [
    (f"STREAM triad, {ranks} cores (GB/s)", lambda d: d["membw"]["triad_Bps"] / 1e9,
     lambda h: h["StarSTREAM_Triad"] * ranks, False, True),
    (f"DGEMM, {ranks} cores (GFLOP/s)", lambda d: d["gemm"]["dgemm_peak_flops"] / 1e9,
     lambda h: h["StarDGEMM_Gflops"] * ranks, False, True),
    ("DGEMM, 1 thread (GFLOP/s)", lambda d: d["gemm"]["dgemm_peak_1thread_flops"] / 1e9,
     lambda h: h["SingleDGEMM_Gflops"], False, True),
    ("ping-pong latency (us)", lambda d: d["p2p"]["latency_s"] * 1e6,
     lambda h: h["AvgPingPongLatency_usec"], True, True),
    ("ping-pong bandwidth (GB/s)", pingpong_2mib_GBps,
     lambda h: h["AvgPingPongBandwidth_GBytes"], False, True),
    ("STREAM triad, 1 thread (GB/s)", lambda d: d["membw"]["triad_1thread_Bps"] / 1e9,
     lambda h: h["SingleSTREAM_Triad"], False, False),
    ("STREAM copy, 1 thread (GB/s)",
     lambda d: d["membw"]["single_thread"]["copy"]["best_Bps"] / 1e9,
     lambda h: h["SingleSTREAM_Copy"], False, False),
]
ok = True
print(f"best of {rounds} rounds (every round: dml-probe | hpcc)")
print(f"{'quantity':34s} {'dml-probe':>10s} {'hpcc':>10s} {'ratio':>7s}   rounds")
for name, ours_f, theirs_f, lower, judged in rows:
    ours = [ours_f(d) for d in D]
    theirs = [theirs_f(h) for h in H]
    pick = min if lower else max
    o = pick(x for x in ours if math.isfinite(x) and x > 0)
    t = pick(x for x in theirs if math.isfinite(x) and x > 0)
    ratio = o / t
    within = abs(ratio - 1) <= 0.15
    flag = "" if within else "  <-- outside 15%"
    if not judged:
        flag = "  (information)"
    else:
        ok &= within
    each = " ".join(f"{a:.3g}|{b:.3g}" for a, b in zip(ours, theirs))
    print(f"{name:34s} {o:10.3f} {t:10.3f} {ratio:7.3f}   {each}{flag}")
sys.exit(0 if ok else 1)
PY
