#!/usr/bin/env bash
# How faithful the emulated cluster's links are: for each rate, bring up 2
# nodes x 2 ranks (scripts/emu-cluster), stream 16 MB between the nodes
# with Open MPI, probe the job with dml-probe, and print what was measured
# beside what the link was shaped to. Root and namespaces needed.
#
#   bench/emu/emu_links.sh [BUILD_DIR] [RATE ...]
#   BUILD_DIR defaults to build-emu (built if missing), RATE to
#   100mbit 1gbit; PROBE_ARGS (default --quick) go to dml-probe.
#
# Columns, all MB/s (1e6 B/s) but latency:
#   shaped     the token bucket's rate (tc counts Ethernet frames)
#   payload    what TCP can carry at that rate: 1448 of every 1514 bytes
#   stream     emu_transfer: 16 MB, 1 MiB messages, 8 in flight (MPI)
#   p2p        dml-probe's inter-node headline bandwidth (osu_bw method)
#   p2p fit    1/beta of the inter-node alpha-beta fit of ping-pong times
#   allreduce  busbw of the inter-node MPI allreduce fit (2 node leaders)
#   latency    inter-node one-way latency, small messages (us)
#   link MB    bytes node 0's link carried each way during the probe
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build-emu}
shift || true
rates=("$@")
((${#rates[@]})) || rates=(100mbit 1gbit)
read -r -a probe_args <<<"${PROBE_ARGS---quick}"
if [[ ! -x $build/tools/dml-probe || ! -x $build/tests/integration/emu/emu_transfer ]]; then
  scripts/build "$build"
fi
build=$(cd "$build" && pwd)
emu=$PWD/scripts/emu-cluster
work=$(mktemp -d /tmp/dml-emu-bench-XXXXXX)
export DML_EMU_DIR=/run/dml-emu-bench.$$ DML_EMU_PREFIX=dmlb$$
export DML_EMU_SUBNET=${DML_EMU_SUBNET:-10.213.201}
trap '"$emu" down >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

printf '%-8s %8s %8s %8s %8s %8s %10s %8s %14s %6s\n' rate shaped payload \
  stream p2p "p2p fit" allreduce "lat (us)" "link MB out/in" "time"
for rate in "${rates[@]}"; do
  "$emu" up --nodes 2 --ranks-per-node 2 --link "$rate" >/dev/null
  "$emu" mpirun -np 4 "$build/tests/integration/emu/emu_transfer" 16e6 \
    >"$work/stream.json"
  "$emu" stats --reset >/dev/null
  t0=$(date +%s.%N)
  "$emu" mpirun -np 4 "$build/tools/dml-probe" "${probe_args[@]}" --json \
    --db "$work/p.db" --out "$work/cluster-$rate.json" >"$work/probe.json" \
    2>"$work/probe.err" || { cat "$work/probe.err" >&2; exit 1; }
  t1=$(date +%s.%N)
  "$emu" stats --json >"$work/stats.json"
  "$emu" down >/dev/null
  python3 - "$rate" "$work" "$t0" "$t1" <<'PY'
import json, sys
rate, work, t0, t1 = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
units = {"kbit": 1e3, "mbit": 1e6, "gbit": 1e9}
bits = next(float(rate[: -len(u)]) * m for u, m in units.items() if rate.endswith(u))
shaped = bits / 8
stream = json.load(open(f"{work}/stream.json"))
d = json.load(open(f"{work}/probe.json"))
s = json.load(open(f"{work}/stats.json"))
inter = next(l for l in d["p2p"]["levels"] if l["level"] == "inter_node")
ar = d["collective_fits"]["allreduce"]["inter_node"]
n0 = s["nodes"][0]
mb = lambda x: f"{x / 1e6:8.2f}"
print(f"{rate:<8} {mb(shaped)} {mb(shaped * 1448 / 1514)} {mb(stream['rate_Bps'])} "
      f"{mb(inter['bandwidth_Bps'])} {mb(inter['fit']['bw_Bps'])} "
      f"{(ar['busbw_Bps'] or 0) / 1e6:10.2f} {inter['latency_s'] * 1e6:8.1f} "
      f"{n0['sent_bytes'] / 1e6:6.0f}/{n0['received_bytes'] / 1e6:<7.0f} {t1 - t0:5.0f}s")
PY
done
