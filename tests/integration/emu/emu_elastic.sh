#!/usr/bin/env bash
# Elastic training across 4 emulated nodes x 1 rank (issue 17): dml-run
# starts dml-exec (mlp-fmnist planned by dml-plan for 4 ranks, synthetic
# data, a checkpoint every 20 steps, 600 steps); once rank 0 is past
# step 70 (between two checkpoints),
# node 2 is killed (every process of it, `emu-cluster kill 2`). The job
# must:
#   - see the failure, find dmlnode2 lost and the other three alive,
#     re-plan for 3 ranks (the same global batch), and resume from the
#     newest checkpoint: at most one checkpoint interval lost;
#   - be training on 3 ranks within 30 s of the kill (the test waits for
#     a step past the resume step in the rank files; all bounded by
#     timeouts, so nothing hangs);
#   - finish by itself (dml-run exit 0, the last run ok on 3 ranks, all
#     600 steps);
#   - have recorded its decisions (failure, hosts, plan, resume) in the
#     database and in its log, in that order, and its goodput
#     (dml-history --jobs).
# The cluster is always removed (lib.sh).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
[[ -n ${MPIEXEC:-} ]] || skip "no MPIEXEC"
command -v sqlite3 >/dev/null || skip "no sqlite3"

emu_up --nodes 4 --ranks-per-node 1 --link none >/dev/null
db=$scratch/x.db
ck=$scratch/ck
"$DML_BIN/dml-plan" --model mlp-fmnist --cluster cpu-node --devices 4 \
  --global-batch 48 --config zero=1,threads=1 --db "$db" \
  --out "$scratch/plan.json" >/dev/null || fail "dml-plan for 4 ranks"

timeout 240 "$DML_BIN/dml-run" --hostfile "$("$emu" hostfile)" \
  --launcher "$emu mpirun" --min-ranks 2 --max-restarts 2 \
  --hang-timeout 60 --db "$db" -- --plan "$scratch/plan.json" \
  --data synthetic --seed 3 --steps 600 --checkpoint-dir "$ck" \
  --checkpoint-every 20 --json >"$scratch/run.out" 2>"$scratch/run.err" &
run=$!

# the step rank R's file says (-1 when there is none yet)
rank_step() {
  local f=$ck/ranks/rank-0000$1
  [[ -f $f ]] && awk '$1 == "step" { print $2 + 0; exit }' "$f" || echo -1
}
for _ in $(seq 600); do
  (($(rank_step 0) >= 70)) && break
  kill -0 $run 2>/dev/null || { cat "$scratch/run.err" >&2; fail "dml-run ended before step 70"; }
  sleep 0.1
done
(($(rank_step 0) >= 70)) || fail "no step 70 within 60 s"
"$emu" kill 2
killed=$(date +%s.%N)
echo "killed node 2 at step $(rank_step 0)"

# Training again on 3 ranks: the job's resume event written, then a rank
# file of the new run past that step.
resumed=""
for _ in $(seq 600); do
  from=$(sqlite3 "$db" "select step from job_events where kind = 'resume'" 2>/dev/null || true)
  if [[ -n $from ]] && [[ ! -f $ck/ranks/rank-00003 ]] &&
     (($(rank_step 0) > from)); then
    resumed=$(date +%s.%N)
    break
  fi
  kill -0 $run 2>/dev/null || break
  sleep 0.1
done
[[ -n $resumed ]] || { cat "$scratch/run.err" >&2; fail "the job did not train again after the kill"; }
took=$(python3 -c "print(f'{$resumed - $killed:.1f}')")
echo "training again on 3 ranks $took s after the kill (from step $from)"
python3 -c "import sys; sys.exit(0 if $resumed - $killed <= 30 else 1)" ||
  fail "training again only $took s after the kill, more than 30 s"

wait $run || { cat "$scratch/run.err" >&2; fail "dml-run exited $?"; }

# The decisions, in the database and in the log, in order.
kinds=$(sqlite3 "$db" "select group_concat(kind, ' ') from (select kind from job_events order by id)")
[[ $kinds == "launch failure hosts plan resume launch finished" ]] ||
  fail "job events: '$kinds'"
grep -oE "info: (launch|failure|hosts|plan|resume|finished):" "$scratch/run.err" |
  awk '{print $2}' | tr -d ':' | tr '\n' ' ' >"$scratch/log.kinds"
[[ $(cat "$scratch/log.kinds") == "launch failure hosts plan resume launch finished " ]] ||
  fail "log decisions: '$(cat "$scratch/log.kinds")'"
sqlite3 "$db" "select message from job_events where kind = 'hosts'" |
  grep -q "hosts alive: dmlnode0, dmlnode1 and dmlnode3 (3 ranks); lost: dmlnode2" ||
  fail "hosts: $(sqlite3 "$db" "select message from job_events where kind = 'hosts'")"
sqlite3 "$db" "select message from job_events where kind = 'plan'" |
  grep -q "new plan for 3 ranks: .*(global batch 48)" ||
  fail "plan: $(sqlite3 "$db" "select message from job_events where kind = 'plan'")"
failed=$(sqlite3 "$db" "select step from job_events where kind = 'failure'")
((failed - from <= 20)) || fail "failed at step $failed, resumed from $from: more than one interval lost"
echo "failure at step $failed, resumed from checkpoint $from"

# The last run: 3 ranks, ok, all 1500 steps; the job ok with its goodput.
read -r ranks status steps < <(sqlite3 -separator ' ' "$db" \
  "select ranks, status, steps from runs order by id desc limit 1")
[[ "$ranks $status $steps" == "3 ok 600" ]] ||
  fail "last run: $ranks ranks, $status, $steps steps"
read -r jstatus restarts < <(sqlite3 -separator ' ' "$db" \
  "select status, restarts from jobs")
[[ "$jstatus $restarts" == "ok 1" ]] || fail "job: $jstatus, $restarts restarts"
"$DML_BIN/dml-history" --db "$db" --jobs >"$scratch/jobs.txt" ||
  fail "dml-history --jobs"
grep -qE "^ *1 .* ok +4 +1 " "$scratch/jobs.txt" ||
  { cat "$scratch/jobs.txt" >&2; fail "dml-history --jobs does not show the job"; }
cat "$scratch/jobs.txt"
echo "emu_elastic: all checks passed"
