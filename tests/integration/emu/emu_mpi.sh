#!/usr/bin/env bash
# Open MPI across emulated nodes: 2 nodes x 2 ranks at 100 Mbit/s. The job
# sees 2 hosts and 2 shared-memory domains; a stream between the nodes
# runs at the shaped rate and every byte of it crosses the shaped links
# (the tc counters grow by at least the bytes sent); a stream between two
# ranks of one node stays off the links (shared memory).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
transfer=${DML_EMU_TRANSFER:?path of emu_transfer}
[[ -n ${MPIEXEC:-} ]] || skip "no MPIEXEC"

emu_up --nodes 2 --ranks-per-node 2 --link 100mbit >/dev/null

stats() { "$emu" stats --json >"$scratch/$1.json"; }
field() { json_get "$scratch/$1.json" "$2"; }

# -- between nodes: ranks 0,1 on dmlnode0, 2,3 on dmlnode1; rank 0 -> 3,
# three streams of 8 MB
bytes=8000000 streams=3
"$emu" stats --reset >/dev/null
timeout 120 "$emu" mpirun -np 4 "$transfer" "$bytes" "$streams" >"$scratch/inter.json" \
  2>"$scratch/err" || { cat "$scratch/err" >&2; fail "mpirun across nodes"; }
stats inter_stats
cat "$scratch/inter.json"
[[ $(field inter 'd["hostnames"]') == "['dmlnode0', 'dmlnode0', 'dmlnode1', 'dmlnode1']" ]] ||
  fail "ranks by node: $(field inter 'd["hostnames"]')"
[[ $(field inter 'd["nodes"]') == 2 ]] || fail "MPI_Comm_split_type(SHARED) finds 2 nodes"
rate=$(field inter 'd["rate_Bps"]')
# 100 Mbit/s carries 11.95 MB/s of TCP payload (1448 of every 1514 bytes,
# checked with a plain TCP stream); shared memory would give GB/s. The
# best of 3 streams; the lower bound leaves room for a busy machine.
python3 -c "import sys; r = float(sys.argv[1]); sys.exit(not 9.5e6 <= r <= 12.6e6)" "$rate" ||
  fail "best stream between nodes at $rate B/s, want 9.5-12.6 MB/s (100 Mbit/s)"
# Every byte crossed node 0's uplink and node 1's downlink (the 1 MiB
# warm-up too), and not much more than the frames' overhead (4.6 %).
sent=$(field inter_stats 'd["nodes"][0]["sent_bytes"]')
recv=$(field inter_stats 'd["nodes"][1]["received_bytes"]')
payload=$((streams * bytes + 1048576))
echo "payload $payload B; node 0 sent $sent B, node 1 received $recv B"
((sent >= payload)) || fail "node 0's link carried $sent B, less than the $payload B sent"
((recv >= payload)) || fail "node 1's link carried $recv B, less than the $payload B received"
((sent <= payload * 115 / 100)) || fail "node 0's link carried $sent B, over 15 % more than sent"

# -- inside one node: both ranks on dmlnode0, the links stay quiet
"$emu" stats --reset >/dev/null
timeout 120 "$emu" mpirun -np 2 --host dmlnode0:2 "$transfer" "$bytes" 1 \
  >"$scratch/intra.json" 2>"$scratch/err" ||
  { cat "$scratch/err" >&2; fail "mpirun inside one node"; }
stats intra_stats
cat "$scratch/intra.json"
[[ $(field intra 'd["nodes"]') == 1 ]] || fail "both ranks on one node"
rate=$(field intra 'd["rate_Bps"]')
python3 -c "import sys; sys.exit(not float(sys.argv[1]) > 50e6)" "$rate" ||
  fail "stream inside a node at $rate B/s: not shared memory"
sent=$(field intra_stats 'd["nodes"][0]["sent_bytes"]')
echo "node 0's link carried $sent B (Open MPI's control messages only)"
((sent < 1000000)) || fail "a stream inside node 0 crossed its link ($sent B)"
echo "ok"
