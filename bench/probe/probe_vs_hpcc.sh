#!/usr/bin/env bash
# Compare dml-probe --quick and the full dml-probe with the HPC Challenge
# benchmark (Debian's hpcc) on this machine, side by side: STREAM triad,
# DGEMM, and MPI ping-pong latency and bandwidth. The target (issues 2 and
# 12) is agreement within 15%: full vs hpcc, quick vs hpcc and quick vs
# full.
#
#   bench/probe/probe_vs_hpcc.sh [BUILD_DIR] [RANKS]
#   ROUNDS=3 (default) rounds; each runs hpcc, then dml-probe --quick, then
#   the full dml-probe
#   MODES="quick full" (default) which probe modes to run ("quick" alone
#   skips the 100-s full probe)
#   NICE=-15 runs every tool at that nice level (root only): on a machine
#   shared with other work, all three get the same head start
#   QUIET=2.5 waits (at most 15 min) before each round until the 1-minute
#   load average is below 2.5: rounds measured while other jobs hold the
#   cores compare nothing
#   BASELINE=DIR also runs DIR/tools/dml-probe --quick in every round, as
#   mode "baseline" (another build, say before a change to the probes)
#
# Like for like (dml-probe --json field, hpcc output field):
#   triad, all cores  membw.triad_Bps                 StarSTREAM_Triad x ranks
#                     (hpcc runs one single-threaded STREAM per process at once)
#   DGEMM, all cores  gemm.dgemm_peak_flops           StarDGEMM_Gflops x ranks
#   DGEMM, 1 thread   gemm.dgemm_peak_1thread_flops   SingleDGEMM_Gflops
#   ping-pong latency p2p.latency_s (<= 8 B)          AvgPingPongLatency_usec
#   ping-pong bw      2 MiB bytes / one-way time      AvgPingPongBandwidth_GBytes
#                     (hpcc: 2,000,000-byte ping-pong, bytes / one-way time)
# Every tool reports the best of its repetitions, so the comparison takes
# the best of the rounds for each (highest rate, lowest latency): on a VM
# all of them switch between a fast and a slow mode from one run to the
# next (the 2 MB ping-pong reads about 10.5 or about 4.5 GB/s in either
# tool), and a single pair of runs can catch them in different modes. Every
# round is printed, so the spread is visible, with each probe's wall time.
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
read -r -a modes <<<"${MODES:-quick full}"
nice=(nice -n "${NICE:-0}")
baseline=${BASELINE:+$(cd "$BASELINE" && pwd)}
[ -n "$baseline" ] && modes+=(baseline)
. "$here/scripts/env.sh"
command -v hpcc >/dev/null || { echo "probe_vs_hpcc.sh: hpcc is not installed (apt-get install hpcc)" >&2; exit 2; }
work=$(mktemp -d /tmp/dml-hpcc-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"

# A small HPL problem: hpcc runs every test; HPL is only the slow part.
sed -e 's/^1000 .*Ns/4000         Ns/' -e 's/^2            Ps/1            Ps/' \
    -e "s/^2            Qs/$ranks            Qs/" \
    /usr/share/doc/hpcc/examples/_hpccinf.txt > hpccinf.txt
wait_quiet() {
    [ -n "${QUIET:-}" ] || return 0
    local i load
    for i in $(seq 1 180); do
        read -r load _ </proc/loadavg
        python3 -c "import sys; sys.exit(0 if $load < $QUIET else 1)" && return 0
        sleep 5
    done
    echo "round $1: load still $load after 15 min; measuring anyway" >&2
}
for r in $(seq 1 "$rounds"); do
    wait_quiet "$r"
    echo "round $r of $rounds ($(cut -d' ' -f1 /proc/loadavg) load): hpcc with $ranks ranks ..." >&2
    rm -f hpccoutf.txt
    OPENBLAS_NUM_THREADS=1 "${nice[@]}" mpirun -np "$ranks" hpcc >/dev/null 2>&1
    mv hpccoutf.txt "hpcc-$r.txt"
    for m in "${modes[@]}"; do
        args=(--json --quiet --db "$work/$m.db") # a baseline's schema may differ
        bin=$build/tools/dml-probe
        [ "$m" = full ] || args=(--quick "${args[@]}")
        [ "$m" = baseline ] && bin=$baseline/tools/dml-probe
        echo "round $r of $rounds: $m: dml-probe ${args[*]} with $ranks ranks ..." >&2
        "${nice[@]}" mpirun -np "$ranks" "$bin" "${args[@]}" > "$m-$r.json"
    done
done

python3 - "$ranks" "$rounds" "${modes[@]}" <<'PY'
import json, math, re, sys
ranks, rounds, modes = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]

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
D = {m: [json.load(open(f"{m}-{r}.json")) for r in range(1, rounds + 1)]
     for m in modes}
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

def best(xs, lower):
    xs = [x for x in xs if math.isfinite(x) and x > 0]
    return (min if lower else max)(xs) if xs else float("nan")

ok = True
def judge(ratio, judged):
    global ok
    within = math.isfinite(ratio) and abs(ratio - 1) <= 0.15
    if judged:
        ok &= within
    return f"{ratio:6.3f}{'' if within or not judged else '*'}"

print(f"best of {rounds} rounds; a ratio marked * is outside 15%")
head = f"{'quantity':32s}" + "".join(f" {m:>9s}" for m in modes) + f" {'hpcc':>9s}"
head += "".join(f" {m + '/hpcc':>10s}" for m in modes)
if "quick" in modes and "full" in modes:
    head += f" {'quick/full':>10s}"
print(head)
per_round = []
for name, ours_f, theirs_f, lower, judged in rows:
    ours = {m: [ours_f(d) for d in D[m]] for m in modes}
    theirs = [theirs_f(h) for h in H]
    b = {m: best(ours[m], lower) for m in modes}
    t = best(theirs, lower)
    line = f"{name:32s}" + "".join(f" {b[m]:9.3f}" for m in modes) + f" {t:9.3f}"
    line += "".join(f" {judge(b[m] / t, judged):>10s}" for m in modes)
    if "quick" in modes and "full" in modes:
        line += f" {judge(b['quick'] / b['full'], judged):>10s}"
    if not judged:
        line += "  (information)"
    print(line)
    per_round.append(f"  {name}: " + "  ".join(
        " ".join(f"{x:.3g}" for x in vals) + f" ({lab})"
        for lab, vals in [(m, ours[m]) for m in modes] + [("hpcc", theirs)]))
print("every round:")
print("\n".join(per_round))
for m in modes:
    print(f"  dml-probe {m} wall time (s): " +
          " ".join(f"{d['elapsed_s']:.1f}" for d in D[m]))
sys.exit(0 if ok else 1)
PY
