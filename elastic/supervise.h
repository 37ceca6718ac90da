/*
 * supervise.h: dml-run's supervisor: a dml-exec job that outlives its
 * hosts (issue 17).
 *
 * One launch is LAUNCHER [--hostfile H] -np N dml-exec ARGS, the
 * launcher's words first (default "mpirun"; "scripts/emu-cluster mpirun"
 * works). The supervisor runs it (common/child.h) and watches the heartbeat
 * files its ranks keep under the checkpoint directory
 * (executor/heartbeat.h). A launch ends:
 *
 *   exit 0           the training is done: the job ends 'ok';
 *   exit 2           dml-exec refused its input: the job ends 'failed'
 *                    (a relaunch would be refused again);
 *   anything else, or no step for --hang-timeout seconds (the launch
 *                    is then stopped: SIGTERM, then SIGKILL):
 *     failure seen   the heartbeat files name the ranks that died
 *                    without a word (still "running" or "ckpt"), the
 *                    others having been stopped by the launcher;
 *     hosts alive    the hosts of those ranks are lost for the rest of
 *                    the job; the others stay;
 *     new plan       for the ranks left (at most the first launch's):
 *                    re-planned through the planner library
 *                    (elastic/replan.h), or the same plan when the count
 *                    is the same;
 *     resume step    the newest checkpoint whose manifest is complete;
 *                    the relaunch adds --resume, and dml-exec re-shards
 *                    the checkpoint onto the new layout
 *                    (executor/ckpt_relayout.h).
 *   Those four decisions are logged and recorded as job events in that
 *   order, then the job is relaunched. It ends 'failed' with one reason
 *   when a failure comes after --max-restarts relaunches, when fewer than
 *   --min-ranks ranks are left, or when no plan fits them; 'interrupted'
 *   on SIGINT or SIGTERM (the launch is stopped first).
 *
 * Hosts that return. With a hostfile, the hosts lost are probed every
 * --probe-every seconds while a launch runs, and at once when the
 * hostfile changes (it is re-read then; hosts it adds are probed too): a
 * probe is one launch of `dml-exec --version` on that host alone through
 * the launcher (probe.h), so a host answers when the launcher can start
 * the job's program there again. When hosts answer:
 *   returned       the hosts alive again, logged and recorded; when the
 *                  job could now run on more ranks (at most the first
 *                  launch's), the launch is asked to stop right after
 *                  its next checkpoint (ROOT/stop-at-checkpoint,
 *                  executor/ckpt.h; dml-exec exits 75 there);
 *   new plan, resume step  as after a failure, for the larger set, from
 *                  that checkpoint: no step is lost.
 * Relaunches to grow do not count against --max-restarts. On the
 * emulated cluster, `emu-cluster kill I --down` takes node I down until
 * `emu-cluster revive I`; a plain `kill I` leaves a node that answers at
 * once, so the job grows back at the next checkpoint after a probe.
 *
 * Goodput (jobs row): compute_s, the time each launch trained (its first
 * completed step seen to its end); lost_s, the part of it whose steps a
 * failure undid (steps after the checkpoint resumed from, at the launch's
 * mean step time); detect_s, from the last step seen to the failure seen;
 * restart_s, from the failure seen to the next launch's first step;
 * failures, grows and replan_s (from a stop to grow to training again);
 * and the planner's Young/Daly model of the job at the failures it saw
 * (goodput.h), also the last lines of the log.
 */
#ifndef DML_ELASTIC_SUPERVISE_H
#define DML_ELASTIC_SUPERVISE_H

#include <stdint.h>

#include "common/error.h"

typedef struct dml_elastic_options {
    const char *hostfile;  /* hosts (hosts.h); NULL: the Slurm
                              allocation's inside one, else this
                              machine with the first plan's ranks */
    const char *launcher;  /* words of the launcher; NULL: "mpirun" */
    int min_ranks;         /* fewer left ends the job (>= 1) */
    int max_restarts;      /* relaunches after failures, at most */
    const char *db_path;   /* NULL: dml-exec's --db, else the default */
    const char *cluster;   /* re-planning's cluster; NULL: the plan's */
    double hang_s;         /* no step for this long stops a launch, s */
    double probe_s;        /* lost hosts probed this often, s (0: never;
                              only with a hostfile or Slurm's list) */
    const char *exec_path; /* dml-exec; NULL: found (tune_runner.h) */
    int nargs;             /* dml-exec's arguments: --plan, --checkpoint-
                              dir and --checkpoint-every required */
    char *const *args;
} dml_elastic_options;

void dml_elastic_options_init(dml_elastic_options *o);

typedef struct dml_elastic_result {
    int64_t job_id;        /* jobs.id */
    int restarts;          /* relaunches after failures */
    int ranks;             /* ranks of the last launch */
    int stop_signal;       /* SIGINT or SIGTERM that stopped it, else 0 */
} dml_elastic_result;

/* Run the job to its end (see above). DML_OK when the training finished;
 * otherwise the error says why the job ended (DML_EUSAGE/DML_EINPUT for
 * bad options or arguments, before anything is launched). */
dml_status dml_elastic_run(const dml_elastic_options *o,
                           dml_elastic_result *r, dml_error *err);

#endif
