#!/usr/bin/env bash
# emu-cluster without MPI: bad usage, up (3 nodes, one faster link, one
# CPU quota), what each node is (hostname, address, routes, link, cgroup),
# a second up refused, set, kill, stats, and down leaving nothing; and a
# test that fails half-way still takes its cluster down.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

# -- bad usage: exit 2, one line, nothing made
expect_exit 2 "$emu" up --nodes 2; one_line
grep -q -- "--link" "$scratch/err" || fail "missing --link is named"
expect_exit 2 "$emu" up --nodes 2 --link fast; one_line
expect_exit 2 "$emu" up --nodes 0 --link 1gbit; one_line
expect_exit 2 "$emu" up --nodes 2 --link 1gbit --cpu 5=0.5; one_line
expect_exit 2 "$emu" up --nodes 2 --link 1gbit --node-link 1=slow; one_line
expect_exit 2 "$emu" frobnicate; one_line
expect_exit 1 "$emu" status; one_line
grep -q "no emulated cluster is up" "$scratch/err" || fail "status says no cluster is up"
# Added latency needs netem: where the kernel lacks it, --delay is refused
# in one line rather than ignored.
if ! unshare --net sh -c 'ip link add a type veth peer name b &&
     tc qdisc add dev a root netem delay 1ms' >/dev/null 2>&1; then
  expect_exit 1 "$emu" up --nodes 2 --link 1gbit --delay 1ms; one_line
  grep -q netem "$scratch/err" || fail "--delay names netem"
fi
[[ -z $(emu_leftovers) ]] || fail "bad usage made something: $(emu_leftovers)"

# -- up
emu_up --nodes 3 --ranks-per-node 2 --link 100mbit --node-link 2=1gbit \
  --cpu 1=0.5 >"$scratch/up.out"
grep -q "latency" "$scratch/up.out" || fail "up says what it does about latency"
hostfile=$("$emu" hostfile)
[[ $(cat "$hostfile") == $'dmlnode0 slots=2\ndmlnode1 slots=2\ndmlnode2 slots=2' ]] ||
  fail "hostfile: $(cat "$hostfile")"
for i in 0 1 2; do
  [[ $("$emu" exec "$i" hostname) == "dmlnode$i" ]] || fail "node $i hostname"
  addr=$("$emu" exec "$i" ip -4 -o addr show dev eth0 | awk '{ print $4 }')
  [[ $addr == "$DML_EMU_SUBNET.$((i + 1))/24" ]] || fail "node $i address $addr"
  # Nothing but the cluster's /24 is reachable: no default route.
  routes=$("$emu" exec "$i" ip -4 route show)
  [[ $routes == "$DML_EMU_SUBNET.0/24 dev eth0 proto kernel scope link src $DML_EMU_SUBNET.$((i + 1)) " ||
     $routes == "$DML_EMU_SUBNET.0/24 dev eth0 proto kernel scope link src $DML_EMU_SUBNET.$((i + 1))" ]] ||
    fail "node $i routes: $routes"
done
[[ $(hostname) != dmlnode* ]] || fail "the machine's own hostname changed"
# Both directions of each link are shaped.
rate_of() { awk '/^qdisc tbf/ { for (k = 1; k < NF; k++) if ($k == "rate") print $(k + 1) }'; }
[[ $(tc -n "${DML_EMU_PREFIX}n0" qdisc show dev eth0 root | rate_of) == 100Mbit ]] ||
  fail "node 0 sends at 100 Mbit/s"
[[ $(tc qdisc show dev "${DML_EMU_PREFIX}v0" root | rate_of) == 100Mbit ]] ||
  fail "node 0 receives at 100 Mbit/s"
[[ $(tc -n "${DML_EMU_PREFIX}n2" qdisc show dev eth0 root | rate_of) == 1Gbit ]] ||
  fail "node 2 has its own 1 Gbit/s link"
cg=/sys/fs/cgroup/cpu/${DML_EMU_PREFIX}-emu
if [[ -d $cg ]]; then
  [[ $(cat "$cg/node1/cpu.cfs_quota_us") == 50000 ]] || fail "node 1 has half a core"
  [[ $(cat "$cg/node0/cpu.cfs_quota_us") == -1 ]] || fail "node 0 has no quota"
  # A process of the node is in its cgroup and its namespaces.
  [[ $("$emu" exec 1 cat /proc/self/cgroup) == *":cpu:/${DML_EMU_PREFIX}-emu/node1"* ||
     $("$emu" exec 1 cat /proc/self/cgroup) == *"cpu,cpuacct:/${DML_EMU_PREFIX}-emu/node1"* ]] ||
    fail "node 1's processes run in its cgroup: $("$emu" exec 1 cat /proc/self/cgroup)"
fi

# -- a second up is refused with one line
expect_exit 1 "$emu" up --nodes 2 --link 1gbit; one_line
grep -q "already up" "$scratch/err" || fail "second up says a cluster is up"

# -- set
"$emu" set 1 --cpu 0.25
[[ ! -d $cg ]] || [[ $(cat "$cg/node1/cpu.cfs_quota_us") == 25000 ]] ||
  fail "set --cpu 0.25 gives a quarter of a core"
"$emu" set 0 --link 200mbit
[[ $(tc -n "${DML_EMU_PREFIX}n0" qdisc show dev eth0 root | rate_of) == 200Mbit ]] ||
  fail "set --link changes the node side"
[[ $(tc qdisc show dev "${DML_EMU_PREFIX}v0" root | rate_of) == 200Mbit ]] ||
  fail "set --link changes the bridge side"
"$emu" set 0 --link none
[[ $(tc qdisc show dev "${DML_EMU_PREFIX}v0" root) == *pfifo* ]] || fail "set --link none unshapes"
"$emu" set 0 --link 100mbit
[[ $("$emu" status) == *100mbit* ]] || fail "status shows the links"
expect_exit 2 "$emu" set 3 --cpu 0.5; one_line
expect_exit 2 "$emu" set 0 --link fast; one_line

# -- stats: JSON with every node, counters that only grow, reset
"$emu" stats --json >"$scratch/stats.json"
[[ $(json_get "$scratch/stats.json" 'len(d["nodes"])') == 3 ]] || fail "stats has 3 nodes"
[[ $(json_get "$scratch/stats.json" 'd["nodes"][2]["link_bps"]') == 1000000000 ]] ||
  fail "stats gives node 2's rate"
"$emu" stats --reset >/dev/null
"$emu" stats --json >"$scratch/stats.json"
[[ $(json_get "$scratch/stats.json" 'd["total"]["sent_bytes"] < 10000') == True ]] ||
  fail "stats --reset starts from zero"

# -- kill: every process of the node, and only of it
( "$emu" exec 1 sleep 300 >/dev/null 2>&1 & )
( "$emu" exec 2 sleep 301 >/dev/null 2>&1 & )
for _ in $(seq 50); do
  [[ $("$emu" status | awk '$1 == 1 { print $6 }') -ge 1 ]] && break
  sleep 0.1
done
"$emu" kill 1
sleep 0.2
pgrep -x -f "sleep 300" >/dev/null && fail "kill 1 left node 1's sleep"
pgrep -x -f "sleep 301" >/dev/null || fail "kill 1 killed node 2's sleep"
"$emu" kill 2

# -- a test that fails half-way leaves nothing either
inner_pid=$(
  bash -c 'echo $$; . "$1"; emu_up --nodes 2 --link 1gbit >/dev/null
           "$emu" exec 0 sleep 302 & sleep 0.5; fail "on purpose"' \
    inner "$(dirname "$0")/lib.sh" 2>/dev/null
) && fail "the inner test was meant to fail"
[[ $inner_pid =~ ^[0-9]+$ ]] || fail "inner test pid: $inner_pid"
[[ -z $(DML_EMU_PREFIX=dmlt$inner_pid DML_EMU_DIR=/run/dml-emu-test.$inner_pid emu_leftovers) ]] ||
  fail "a failing test left its cluster behind"
pgrep -x -f "sleep 302" >/dev/null && fail "a failing test left a node's process"

# -- down (the trap checks that nothing is left), then down again is fine
[[ $("$emu" down) == *removed* ]] || fail "down says what it removed"
[[ -z $(emu_leftovers) ]] || fail "down left: $(emu_leftovers)"
[[ $("$emu" down) == *"no emulated cluster is up"* ]] || fail "a second down is harmless"
echo "ok"
