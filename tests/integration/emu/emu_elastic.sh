#!/usr/bin/env bash
# Elastic training across 4 emulated nodes x 1 rank (issue 17's
# acceptance). dml-run starts dml-exec (mlp-fmnist planned by dml-plan for
# 4 ranks, Fashion-MNIST where installed, else synthetic data; a
# checkpoint every 20 steps, 400 steps; links of 400 Mbit/s, so that a
# step takes a few tens of ms however idle the machine) and:
#   1. once rank 0 is past a random step (40-99), kills a random node
#      (`emu-cluster kill I --down`: every process of it, and the node
#      refuses launches until revived); the seed is printed
#      (DML_ELASTIC_SEED=S repeats a run);
#   2. once the job trains on 3 ranks, kills another node while its rank
#      is inside the gradient allreduce: the rank of a third node is
#      frozen (SIGSTOP, from its heartbeat file) so that every other rank
#      finishes its step's compute and waits in the exchange for it; the
#      node is killed a second later, then the frozen rank continued;
#   3. once the job trains on 2 ranks, revives both nodes: dml-run's
#      probes (--probe-every 1) find them, the launch stops right after
#      its next checkpoint and the job goes back to 4 ranks from it.
# Each kill: the job trains again on the ranks left within 30 s, and at
# most one checkpoint interval (20 steps) is lost. The return: back on 4
# ranks within 90 s, from a checkpoint, no step lost. The job finishes by
# itself (everything under timeouts: nothing hangs); its decisions are in
# the database and in its log in the same order (failure, hosts, plan,
# resume; returned, plan, resume), and dml-history --jobs shows it.
# Then the reference: the same plans run by hand (mpirun on this machine)
# from the same checkpoints to the same steps: final weights bitwise
# equal to the job's; and an uninterrupted 4-rank run: final test
# accuracy within 0.5 points of the job's, weights within 1e-4 relative
# (other layouts, other sums).
# The cluster is always removed (lib.sh).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
[[ -n ${MPIEXEC:-} ]] || skip "no MPIEXEC"
[[ -n ${DML_EXEC_COMPARE:-} ]] || skip "no DML_EXEC_COMPARE"
command -v sqlite3 >/dev/null || skip "no sqlite3"

seed=${DML_ELASTIC_SEED:-$(($(date +%s) % 100000))}
RANDOM=$seed
echo "seed $seed (DML_ELASTIC_SEED=$seed repeats these draws)"
STEPS=400
data=synthetic
[[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]] &&
  data=/usr/share/datasets/fashion-mnist
echo "data: $data"

emu_up --nodes 4 --ranks-per-node 1 --link 400mbit >/dev/null
db=$scratch/x.db
ck=$scratch/ck
"$DML_BIN/dml-plan" --model mlp-fmnist --cluster cpu-node --devices 4 \
  --global-batch 48 --config zero=1,threads=1 --db "$db" \
  --out "$scratch/plan.json" >/dev/null || fail "dml-plan for 4 ranks"
train=(--data "$data" --seed 3)
ckpt=(--checkpoint-every 20)

# --hang-timeout 120: a launch through the namespaces on a loaded machine
# took over 60 s to its first step once, and the stall it was taken for
# used up a restart.
timeout 400 "$DML_BIN/dml-run" --hostfile "$("$emu" hostfile)" \
  --launcher "$emu mpirun" --min-ranks 2 --max-restarts 2 \
  --hang-timeout 120 --probe-every 1 --db "$db" -- \
  --plan "$scratch/plan.json" "${train[@]}" --steps $STEPS "${ckpt[@]}" \
  --checkpoint-dir "$ck" \
  --save-weights "$scratch/job.bin" --json \
  >"$scratch/run.out" 2>"$scratch/run.err" &
run=$!
alive=(0 1 2 3)

# rank R's heartbeat field F (-1 when there is no file yet)
rank_field() {
  local f=$ck/ranks/rank-0000$1
  [[ -f $f ]] && awk -v k="$2" '$1 == k { print $2 + 0; exit }' "$f" || echo -1
}
rank_step() { rank_field "$1" step; }
# the job's database, waiting out the writers' locks (a reader that
# opens a WAL database no one holds recovers it, and locks it meanwhile)
q() { sqlite3 -cmd ".timeout 20000" "$db" "$@"; }
events() { q "select count(*) from job_events where kind = '$1'"; }
ended() { cat "$scratch/run.err" >&2; fail "$*"; }

# poll N CMD...: CMD every 0.1 s until it succeeds, at most N tries and
# while dml-run lives; $at gets the time it did ("" if never).
poll() {
  local n=$1
  shift
  at=""
  for _ in $(seq "$n"); do
    if "$@"; then
      at=$(date +%s.%N)
      return 0
    fi
    kill -0 $run 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
past() { (($(rank_step 0) >= $1)); }
# seconds from $1 to $2 (date +%s.%N), one decimal
took() { python3 -c "print(f'{$2 - $1:.1f}')"; }

# wait_step S: until rank 0 is past step S (at most 180 s)
wait_step() {
  poll 1800 past "$1" || ended "no step $1 within 180 s (or dml-run ended)"
}

# trains_on RANKS RESUMES: a resume event after the RESUMES first, no rank
# file of rank RANKS, rank 0 past the resume step ($from)
trains_on() {
  from=$(q "select step from job_events where kind = 'resume'
                        order by id desc limit 1" 2>/dev/null || true)
  (($(events resume) > $2)) && [[ ! -f $ck/ranks/rank-0000$1 ]] &&
    (($(rank_step 0) > from))
}

# recovered RANKS RESUMES SINCE WHAT: the job trains on RANKS ranks
# within 30 s of SINCE (date +%s.%N); sets $from.
recovered() {
  poll 900 trains_on "$1" "$2" ||
    ended "the job did not train again on $1 ranks after $4"
  local t
  t=$(took "$3" "$at")
  echo "training again on $1 ranks $t s after $4 (from step $from)"
  python3 -c "import sys; sys.exit(0 if $at - $3 <= 30 else 1)" ||
    fail "training again only $t s after $4, more than 30 s"
}

# pick: a random node of ${alive[@]}, taken out of it
pick() {
  local k=$((RANDOM % ${#alive[@]}))
  picked=${alive[k]}
  alive=("${alive[@]:0:k}" "${alive[@]:k+1}")
}

# 1. a random node at a random step
pick
v1=$picked
at1=$((40 + RANDOM % 60))
resumes=$(events resume)
wait_step $at1
"$emu" kill $v1 --down
killed=$(date +%s.%N)
echo "killed node $v1 at step $(rank_step 0) (drawn: past $at1)"
recovered 3 "$resumes" "$killed" "killing node $v1"

# 2. a node killed inside the gradient allreduce: the rank of node F
# frozen, so that the others wait for it in step s's exchange
pick
v2=$picked
pick
f=$picked
alive+=("$f")
wait_step $((from + 40 + RANDOM % 40))
run_id=$(rank_field 0 run)
frozen="" victim=""
for r in 0 1 2; do
  [[ $(rank_field $r run) == "$run_id" ]] || continue
  host=$(awk '$1 == "host" { print $2; exit }' "$ck/ranks/rank-0000$r")
  [[ $host == dmlnode$f ]] && frozen=$r
  [[ $host == dmlnode$v2 ]] && victim=$r
done
[[ -n $frozen && -n $victim ]] || fail "no ranks of nodes $f and $v2 in the rank files"
pid=$(rank_field $frozen pid)
resumes=$(events resume)
kill -STOP "$pid"
sleep 1
s_frozen=$(rank_step $frozen) s_victim=$(rank_step $victim)
echo "node $f's rank $frozen frozen in step $s_frozen; node $v2's rank $victim in step $s_victim: in its gradient exchange, waiting for rank $frozen"
"$emu" kill $v2 --down
killed=$(date +%s.%N)
kill -CONT "$pid" 2>/dev/null || true
((s_victim == s_frozen)) ||
  fail "rank $victim was in step $s_victim, not in step $s_frozen with the frozen rank"
echo "killed node $v2 at step $s_victim, inside the allreduce"
recovered 2 "$resumes" "$killed" "killing node $v2"

# 3. both nodes return: back to 4 ranks at the next checkpoint
"$emu" revive $v1
"$emu" revive $v2
revived=$(date +%s.%N)
# a launch on 4 ranks after the last resume on 2
on_four() {
  (($(q "select count(*) from job_events where kind = 'launch'
                     and ranks = 4 and id > (select max(id) from job_events
                     where kind = 'resume' and step = $from)") > 0))
}
poll 900 on_four || ended "no launch on 4 ranks within 90 s of the nodes' return"
echo "relaunched on 4 ranks $(took "$revived" "$at") s after nodes $v1 and $v2 returned"

wait $run || ended "dml-run exited $?"

# The decisions, in the database and in the log, in order.
kinds=$(q "select group_concat(kind, ' ') from (select kind from job_events order by id)")
order='^launch (failure hosts plan resume launch ){2}((returned )+plan resume launch )+finished$'
[[ $kinds =~ $order ]] || fail "job events: '$kinds'"
log=$(grep -oE "info: (launch|failure|hosts|plan|resume|returned|finished):" "$scratch/run.err" |
  awk '{print $2}' | tr -d ':' | paste -sd' ')
[[ $log == "$kinds" ]] || fail "log decisions: '$log', database: '$kinds'"
event() { q "select $2 from job_events where kind = '$1' order by id"; }
event hosts message | sed -n 1p | grep -q "(3 ranks); lost: dmlnode$v1$" ||
  fail "hosts: $(event hosts message)"
event hosts message | sed -n 2p | grep -q "(2 ranks); lost: " ||
  fail "hosts: $(event hosts message)"
event plan message | paste -sd'|' |
  grep -qE "^new plan for 3 ranks: .*\(global batch 48\) .*\|new plan for 2 ranks: .*\(global batch 48\) .*\|.*new plan for 4 ranks \(up\): .*\(global batch 48\)" ||
  fail "plan: $(event plan message)"
event returned message | tail -1 | grep -q "(4 ranks)" ||
  fail "returned: $(event returned message)"
paste -d' ' <(event failure step) <(event resume step | head -2) >"$scratch/lost"
while read -r failed from; do
  ((failed - from <= 20)) || fail "failed at step $failed, resumed from $from: more than one interval lost"
  echo "failure at step $failed, resumed from checkpoint $from"
done <"$scratch/lost"
# a grow loses nothing: it resumes where the stopped launch ended
q -separator ' '  "select steps from runs where status = 'interrupted' order by id" >"$scratch/stops"
event resume step | tail -n +3 | paste -d' ' "$scratch/stops" - | while read -r ended from; do
  ((ended == from && from % 20 == 0)) || fail "a grow stopped at step $ended but resumed from $from"
  echo "stopped at checkpoint $ended to grow, resumed from it"
done
event resume message | tail -n +3 | grep -vq "no step lost" &&
  fail "a grow lost steps: $(event resume message)"

# The last run: 4 ranks, ok, all steps; the job ok with its goodput.
read -r ranks status steps < <(q -separator ' '  \
  "select ranks, status, steps from runs order by id desc limit 1")
[[ "$ranks $status $steps" == "4 ok $STEPS" ]] ||
  fail "last run: $ranks ranks, $status, $steps steps"
read -r jstatus restarts < <(q -separator ' '  \
  "select status, restarts from jobs")
[[ "$jstatus $restarts" == "ok 2" ]] || fail "job: $jstatus, $restarts restarts"
"$DML_BIN/dml-history" --db "$db" --jobs >"$scratch/jobs.txt" ||
  fail "dml-history --jobs"
grep -qE "^ *1 .* ok +4 +2 +4 " "$scratch/jobs.txt" ||
  { cat "$scratch/jobs.txt" >&2; fail "dml-history --jobs does not show the job"; }
cat "$scratch/jobs.txt"
# ... and against the planner's Young/Daly model at the failures seen
"$DML_BIN/dml-history" --db "$db" --jobs --json >"$scratch/jobs.json" ||
  fail "dml-history --jobs --json"
python3 - "$scratch/jobs.json" <<'PY' || fail "the job's Young/Daly figures"
import json, math, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
m = j["young_daly"]
assert m["failures"] == 2 and m["grows"] >= 1, m
tau, c = m["ckpt_interval_s"], m["ckpt_write_s"]
assert 0 < m["step_s"] < 5 and abs(tau - 20 * m["step_s"]) <= 1e-6 * tau, m
assert c > 0 and abs(m["mtbf_seen_s"] - j["wall_s"] / 2) <= 1e-6 * j["wall_s"], m
assert abs(m["young_s"] - math.sqrt(2 * c * m["mtbf_seen_s"])) <= 1e-6 * m["young_s"], m
assert abs(m["expected_lost_s"] - tau) <= 1e-6 * tau, m
assert 0 < m["expected_goodput"] <= 1 and m["replan_s"] > 0, m
print(f"Young/Daly at the 2 failures seen (MTBF {m['mtbf_seen_s']:.0f} s): "
      f"work lost {m['expected_lost_s']:.2f} s expected, {j['lost_s']:.2f} s seen; "
      f"restarts {m['expected_restart_s']:.3f} s expected, "
      f"{j['detect_s'] + j['restart_s']:.1f} s seen (detect + restart); "
      f"goodput {100 * m['expected_goodput']:.1f} % expected, {100 * j['goodput']:.1f} % seen; "
      f"interval {tau:.2f} s, Daly's {m['daly_s']:.2f} s; {m['grows']} grow(s), {m['replan_s']:.1f} s")
PY

# The reference by hand: each launch's plan and rank count, from the
# checkpoint it resumed from to the one the next launch resumed from.
mapfile -t launches < <(event launch message | sed -E 's/.* -np ([0-9]+) dml-exec --plan ([^ ]+).*/\1 \2/')
mapfile -t ends < <(event resume step)
ends+=("$STEPS")
for i in "${!launches[@]}"; do
  read -r np plan <<<"${launches[i]}"
  args=(--plan "$plan" "${train[@]}" --steps "${ends[i]}" "${ckpt[@]}"
        --checkpoint-dir "$scratch/ref"
        --db "$scratch/ref.db")
  ((i == 0)) || args+=(--resume)
  ((i + 1 < ${#launches[@]})) || args+=(--save-weights "$scratch/ref.bin" --json)
  timeout 120 "$MPIEXEC" --oversubscribe -np "$np" "$DML_BIN/dml-exec" "${args[@]}" \
    >"$scratch/ref.out" 2>"$scratch/ref.err" ||
    { cat "$scratch/ref.err" >&2; fail "reference segment $((i + 1)) ($np ranks, to step ${ends[i]})"; }
  echo "reference: $np ranks of $(basename "$plan") to step ${ends[i]}"
done
cmp "$scratch/ref.bin" "$scratch/job.bin" ||
  fail "final weights differ from the reference restarted by hand on the same layouts"
echo "final weights bitwise equal to the reference restarted by hand"

# An uninterrupted run: accuracy within 0.5 points.
timeout 120 "$MPIEXEC" --oversubscribe -np 4 "$DML_BIN/dml-exec" \
  --plan "$scratch/plan.json" "${train[@]}" --steps $STEPS --db "$scratch/ref.db" \
  --save-weights "$scratch/full.bin" --json >"$scratch/full.out" \
  2>"$scratch/full.err" || { cat "$scratch/full.err" >&2; fail "the uninterrupted run"; }
acc() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["test_accuracy"])' "$1"; }
a_job=$(acc "$scratch/run.out") a_full=$(acc "$scratch/full.out")
echo "test accuracy: job $a_job, uninterrupted $a_full"
python3 -c "import sys; sys.exit(0 if abs($a_job - $a_full) <= 0.005 else 1)" ||
  fail "accuracy $a_job against $a_full uninterrupted: more than 0.5 points apart"
# ... and its weights, of other layouts from step 0 on, within 1e-4
"$DML_EXEC_COMPARE" weights "$scratch/full.bin" "$scratch/job.bin" 1e-4 \
  >"$scratch/cmp.out" 2>&1 ||
  { cat "$scratch/cmp.out" >&2; fail "final weights more than 1e-4 from the uninterrupted run's"; }
sed 's/^/against the uninterrupted run: /' "$scratch/cmp.out"
# bench/elastic/run.sh keeps the database and the log
if [[ -n ${DML_ELASTIC_KEEP:-} ]]; then
  cp "$db" "$scratch/run.err" "$scratch/jobs.json" "$DML_ELASTIC_KEEP"/
fi
echo "emu_elastic: all checks passed"
