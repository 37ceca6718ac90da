/*
 * supervise.c: dml-run's launches, failures and relaunches (see
 * supervise.h).
 */
#include "elastic/supervise.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/child.h"
#include "common/clock.h"
#include "common/file.h"
#include "common/interrupt.h"
#include "common/log.h"
#include "costmodel/plan.h"
#include "costmodel/presets.h"
#include "db/db.h"
#include "db/job_store.h"
#include "elastic/goodput.h"
#include "elastic/hosts.h"
#include "elastic/probe.h"
#include "elastic/replan.h"
#include "executor/ckpt.h"
#include "executor/heartbeat.h"
#include "planner/tune_runner.h"

#define WORDS_MAX 32
#define GRACE_S 10.0

void dml_elastic_options_init(dml_elastic_options *o)
{
    memset(o, 0, sizeof *o);
    o->min_ranks = 1;
    o->max_restarts = 3;
    o->hang_s = 120;
    o->probe_s = 30;
}

/* The job between launches. */
typedef struct job {
    const dml_elastic_options *o;
    const char *plan0;        /* --plan of the arguments */
    const char *ckpt_dir;     /* --checkpoint-dir */
    char db_path[PATH_MAX];   /* the database both sides write */
    char exec[PATH_MAX];      /* dml-exec */
    char plan[PATH_MAX];      /* the plan of the next launch */
    int world0;               /* ranks of the first plan */
    char cluster[256];        /* its cluster (or --cluster) */
    int64_t every;            /* --checkpoint-every */
    int failures;             /* launches that failed */
    int64_t steps_trained;    /* by every launch, lost ones included */
    int ranks;                /* ranks of the next launch */
    dml_hosts hosts;          /* the hostfile's, or this machine */
    dml_db *db;
    int64_t job_id;
    int restarts;
    double t0;                /* the job's start, s */
    double compute_s, lost_s, detect_s, restart_s; /* goodput, s */
    double failed_at;         /* the last failure seen, s; -1 none */
    int grows;                /* relaunches on more ranks (hosts back) */
    double paused_at;         /* a stop to grow ended the launch, s; -1 */
    double replan_s;          /* from such stops to training again, s */
    bool stop_asked;          /* ROOT/stop-at-checkpoint written */
    double next_probe;        /* when the lost hosts are probed next, s */
    struct timespec hostfile_mtime; /* the hostfile as last read */
    const char *hosts_from;   /* the hostfile, "SLURM_JOB_NODELIST", or
                                 NULL: this machine (no list to pass on) */
} job;

/* How one launch went. */
typedef struct launch {
    int wstatus;              /* the launcher's wait status */
    bool hang;                /* stopped for no step in hang_s */
    bool interrupted;         /* stopped for our SIGINT/SIGTERM */
    int64_t stale_run;        /* run id the rank files held at launch */
    int64_t step_seen;        /* newest step completed seen, -1 none */
    int64_t step_first;       /* the first step this launch completed */
    double train_start;       /* when a first step was seen, s; -1 */
    double last_step_at;      /* when the newest step was seen, s */
    double end;               /* when it ended, s */
} launch;

/* ---- events ------------------------------------------------------------------------- */

/* A decision, in the log and as a job event, in the same words. */
static void decide(job *j, const char *kind, int64_t step, int ranks,
                   double seconds, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void decide(job *j, const char *kind, int64_t step, int ranks,
                   double seconds, const char *fmt, ...)
{
    char msg[1600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    dml_log_info("%s: %s", kind, msg);
    dml_error e;
    dml_error_clear(&e);
    if (j->db && dml_db_job_event(j->db, j->job_id, kind, step, ranks,
                                  seconds, msg, &e) != DML_OK)
        dml_log_warn("recording the job's %s event: %s", kind, e.msg);
}

/* ---- the arguments of dml-exec ------------------------------------------------------ */

/* The value of option name in args (NULL: absent). */
static const char *arg_value(const dml_elastic_options *o, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < o->nargs; i++) {
        if (strcmp(o->args[i], name) == 0 && i + 1 < o->nargs)
            return o->args[i + 1];
        if (strncmp(o->args[i], name, n) == 0 && o->args[i][n] == '=')
            return o->args[i] + n + 1;
    }
    return NULL;
}

static dml_status check_args(job *j, dml_error *err)
{
    const dml_elastic_options *o = j->o;
    j->plan0 = arg_value(o, "--plan");
    j->ckpt_dir = arg_value(o, "--checkpoint-dir");
    const char *every = arg_value(o, "--checkpoint-every");
    if (!j->plan0 || !j->ckpt_dir || !every || atoll(every) <= 0)
        return dml_error_msg(err, DML_EUSAGE,
                             "the arguments of dml-exec need --plan, "
                             "--checkpoint-dir and --checkpoint-every K > 0: "
                             "a job resumes from its checkpoints");
    const char *db = o->db_path ? o->db_path : arg_value(o, "--db");
    const char *path = dml_db_default_path(db);
    if (!realpath(path, j->db_path))
        snprintf(j->db_path, sizeof j->db_path, "%s", path);
    dml_plan *p = malloc(sizeof *p);
    if (!p)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    dml_status s = dml_plan_load(j->plan0, p, err);
    if (s == DML_OK)
        j->world0 = p->par.dp * p->par.tp * p->par.pp;
    snprintf(j->cluster, sizeof j->cluster, "%s",
             o->cluster ? o->cluster : p->cluster_name);
    j->every = atoll(every);
    free(p);
    DML_CHECK(s);
    snprintf(j->plan, sizeof j->plan, "%s", j->plan0);
    return dml_tune_find_exec(o->exec_path, j->exec, sizeof j->exec, err);
}

/* ---- one launch ----------------------------------------------------------------------- */

/* LAUNCHER [--hostfile H] -np N dml-exec ARGS (--plan and --db ours,
 * --resume after the first launch). *words holds the launcher's copy. */
static int make_argv(const job *j, int attempt, const char *hostfile,
                     char *argv[], int max, char **words)
{
    int n = dml_elastic_launcher_words(j->o->launcher, argv, WORDS_MAX,
                                       words);
    static char np[16];
    snprintf(np, sizeof np, "%d", j->ranks);
    if (hostfile) {
        argv[n++] = "--hostfile";
        argv[n++] = (char *)hostfile;
    }
    argv[n++] = "-np";
    argv[n++] = np;
    argv[n++] = (char *)j->exec;
    for (int i = 0; i < j->o->nargs && n < max - 6; i++) {
        const char *a = j->o->args[i];
        if (strcmp(a, "--plan") == 0 || strcmp(a, "--db") == 0) {
            i++;
            continue;
        }
        if (strncmp(a, "--plan=", 7) == 0 || strncmp(a, "--db=", 5) == 0 ||
            strcmp(a, "--resume") == 0)
            continue;
        argv[n++] = (char *)a;
    }
    argv[n++] = "--plan";
    argv[n++] = (char *)j->plan;
    argv[n++] = "--db";
    argv[n++] = (char *)j->db_path;
    bool resume = attempt > 0;
    for (int i = 0; i < j->o->nargs; i++)
        resume = resume || strcmp(j->o->args[i], "--resume") == 0;
    if (resume)
        argv[n++] = "--resume";
    argv[n] = NULL;
    return n;
}

/* The rank files' view: the run they belong to and the newest step the
 * ranks of this launch completed. */
static void look(const job *j, launch *l, double now)
{
    dml_heartbeat_report rep;
    dml_error e;
    dml_error_clear(&e);
    if (dml_heartbeat_scan(j->ckpt_dir, &rep, &e) != DML_OK)
        return;
    int64_t step = -1;
    if (rep.count > 0 && rep.run.run_id != l->stale_run)
        for (int i = 0; i < rep.count; i++)
            if (rep.ranks[i].rank < j->ranks && rep.ranks[i].step > step)
                step = rep.ranks[i].step;
    if (step >= 0 && l->step_first < 0)
        l->step_first = step; /* where it resumed (or 0) */
    if (step > l->step_seen) {
        if (l->step_seen >= 0 && l->train_start < 0 && step > l->step_first)
            l->train_start = now;
        l->step_seen = step;
        l->last_step_at = now;
    }
    dml_heartbeat_report_free(&rep);
}

/* The run id the rank files hold before a launch (0: none). */
static int64_t stale_run(const job *j)
{
    dml_heartbeat_report rep;
    dml_error e;
    dml_error_clear(&e);
    if (dml_heartbeat_scan(j->ckpt_dir, &rep, &e) != DML_OK)
        return 0;
    int64_t id = rep.count > 0 ? rep.run.run_id : 0;
    dml_heartbeat_report_free(&rep);
    return id;
}

/* ---- hosts that return ------------------------------------------------------------- */

/* The elastic/ folder of the job's own files (hostfiles, plans). */
static void elastic_path(const job *j, const char *name, char *out,
                         size_t size)
{
    snprintf(out, size, "%s/elastic", j->ckpt_dir);
    mkdir(j->ckpt_dir, 0755);
    mkdir(out, 0755);
    snprintf(out, size, "%s/elastic/%s", j->ckpt_dir, name);
}

/* Whether the hostfile changed since it was last read: then hosts it
 * lists that the job does not know are added, lost (to be probed). */
static bool hostfile_changed(job *j)
{
    struct stat st;
    if (stat(j->o->hostfile, &st) != 0 ||
        (st.st_mtim.tv_sec == j->hostfile_mtime.tv_sec &&
         st.st_mtim.tv_nsec == j->hostfile_mtime.tv_nsec))
        return false;
    j->hostfile_mtime = st.st_mtim;
    dml_hosts now;
    dml_error e;
    dml_error_clear(&e);
    if (dml_hosts_read(j->o->hostfile, &now, &e) != DML_OK) {
        dml_log_warn("re-reading the hostfile: %s", e.msg);
        return true;
    }
    for (int i = 0; i < now.n && j->hosts.n < DML_HOSTS_MAX; i++) {
        bool known = false;
        for (int k = 0; k < j->hosts.n && !known; k++)
            known = strcmp(j->hosts.h[k].name, now.h[i].name) == 0;
        if (!known) {
            j->hosts.h[j->hosts.n] = now.h[i];
            j->hosts.h[j->hosts.n++].alive = false;
        }
    }
    return true;
}

/* Every --probe-every seconds, and at once when the hostfile changes,
 * the hosts lost are probed (probe.h); those that answer are alive
 * again. When the job could then run on more ranks than this launch,
 * the launch is asked to stop right after its next checkpoint
 * (executor/ckpt.h), and the job re-plans up from it. */
static void watch_hosts(job *j, const launch *l, double now)
{
    if (!j->hosts_from || j->o->probe_s <= 0)
        return;
    bool changed = j->o->hostfile && hostfile_changed(j);
    if (!changed && now < j->next_probe)
        return;
    j->next_probe = now + j->o->probe_s;
    char back[2048] = "", probe[PATH_MAX + 32];
    elastic_path(j, "probe-host", probe, sizeof probe);
    for (int i = 0; i < j->hosts.n; i++) {
        dml_host *h = &j->hosts.h[i];
        if (h->alive || !dml_elastic_host_answers(j->o->launcher, j->exec,
                                                  h->name, probe, 30))
            continue;
        h->alive = true;
        size_t len = strlen(back);
        snprintf(back + len, sizeof back - len, "%s%s", len ? ", " : "",
                 h->name);
    }
    if (!back[0])
        return;
    int ranks = dml_hosts_slots(&j->hosts);
    if (ranks > j->world0)
        ranks = j->world0;
    char alive[2048];
    dml_hosts_list(&j->hosts, false, alive, sizeof alive);
    bool grow = ranks > j->ranks && !j->stop_asked;
    if (grow) {
        char path[PATH_MAX + 32];
        dml_ckpt_stop_path(j->ckpt_dir, path, sizeof path);
        dml_error e;
        dml_error_clear(&e);
        j->stop_asked = dml_file_write_atomic(path, "dml-run\n", 8, &e) ==
                        DML_OK;
        if (!j->stop_asked)
            dml_log_warn("asking the launch to stop: %s", e.msg);
    }
    decide(j, "returned", l->step_seen, ranks, NAN,
           "%s answer%s again: hosts alive: %s (%d ranks)%s", back,
           strchr(back, ',') ? "" : "s", alive, ranks,
           grow && j->stop_asked
               ? "; the launch stops after its next checkpoint, to re-plan "
                 "up"
               : "");
}

/* What the poll loop asks between its turns: a look at the rank files
 * every second, and whether the launch has gone without a step too
 * long. */
typedef struct watch_ctx {
    job *j;
    launch *l;
    double next_look;         /* s */
} watch_ctx;

static bool tick(void *ctx, double now)
{
    watch_ctx *w = ctx;
    if (now >= w->next_look) {
        look(w->j, w->l, now);
        watch_hosts(w->j, w->l, now);
        w->next_look = now + 1.0;
    }
    w->l->hang = now - w->l->last_step_at > w->j->o->hang_s;
    return w->l->hang;
}

static dml_status run_launch(job *j, int attempt, const char *hostfile,
                             launch *l, dml_error *err)
{
    memset(l, 0, sizeof *l);
    l->step_seen = l->step_first = -1;
    l->train_start = -1;
    l->stale_run = stale_run(j);
    char *argv[WORDS_MAX + 64], *words = NULL;
    make_argv(j, attempt, hostfile, argv, WORDS_MAX + 64, &words);
    decide(j, "launch", -1, j->ranks, NAN, "launch %d: %s -np %d dml-exec "
           "--plan %s%s", attempt + 1, j->o->launcher ? j->o->launcher
                                                      : "mpirun",
           j->ranks, j->plan, attempt > 0 ? " --resume" : "");
    l->last_step_at = dml_clock_now_s();
    watch_ctx w = {j, l, 0};
    dml_child_spec spec = {.argv = argv, .term_grace_s = GRACE_S,
                           .pass_output = true, .tick = tick,
                           .tick_ctx = &w};
    dml_child_result r;
    dml_status s = dml_child_run(&spec, &r, err);
    free(words);
    DML_CHECK(s);
    l->end = dml_clock_now_s();
    look(j, l, l->end);
    l->wstatus = r.wstatus;
    l->interrupted = r.stop == DML_CHILD_INTERRUPTED;
    l->hang = r.stop == DML_CHILD_STOPPED;
    dml_child_result_free(&r);
    return DML_OK;
}

/* ---- after a failure ------------------------------------------------------------------ */

/* "exit status 137", "killed by signal 9 (Killed)", "no step for 60 s". */
static void how_it_ended(const job *j, const launch *l, char *out,
                         size_t size)
{
    if (l->hang)
        snprintf(out, size, "no step for %.0f s: stopped", j->o->hang_s);
    else if (WIFSIGNALED(l->wstatus))
        snprintf(out, size, "the launcher was killed by signal %d (%s)",
                 WTERMSIG(l->wstatus), strsignal(WTERMSIG(l->wstatus)));
    else
        snprintf(out, size, "exit status %d",
                 WIFEXITED(l->wstatus) ? WEXITSTATUS(l->wstatus) : -1);
}

/* Failure seen, then hosts alive: the hosts of the ranks that died
 * without a word are lost (unless that would be every host: then the
 * cause is not a host, and all stay). */
static void failure_and_hosts(job *j, int attempt, const launch *l)
{
    dml_heartbeat_report rep;
    dml_error e;
    dml_error_clear(&e);
    memset(&rep, 0, sizeof rep);
    (void)dml_heartbeat_scan(j->ckpt_dir, &rep, &e);
    char how[160], died[700] = "";
    how_it_ended(j, l, how, sizeof how);
    int rank;
    int64_t step;
    if (!dml_heartbeat_report_died(&rep, &rank, &step, died, sizeof died))
        snprintf(died, sizeof died, "no rank is known to have died");
    decide(j, "failure", l->step_seen, j->ranks, l->end - l->last_step_at,
           "launch %d ended at step %lld: %s; %s", attempt + 1,
           (long long)l->step_seen, how, died);
    dml_hosts before = j->hosts;
    for (int i = 0; i < rep.count; i++) {
        const dml_heartbeat_rank *r = &rep.ranks[i];
        bool silent = strcmp(r->state, "running") == 0 ||
                      strcmp(r->state, "ckpt") == 0;
        if (silent && !r->alive && r->rank < j->ranks)
            dml_hosts_lose(&j->hosts, r->host);
    }
    dml_heartbeat_report_free(&rep);
    char alive[2048], lost[2048];
    bool all = dml_hosts_slots(&j->hosts) == 0;
    if (all)
        j->hosts = before;
    dml_hosts_list(&j->hosts, false, alive, sizeof alive);
    dml_hosts_list(&j->hosts, true, lost, sizeof lost);
    decide(j, "hosts", -1, dml_hosts_slots(&j->hosts), NAN,
           "hosts alive: %s (%d ranks); lost: %s%s", alive,
           dml_hosts_slots(&j->hosts), lost,
           all ? " (the ranks that died were on every host: all kept)" : "");
}

/* The newest checkpoint whose manifest reads (-1: none). */
static int64_t newest_checkpoint(const job *j)
{
    int64_t *steps = NULL, found = -1;
    size_t n = 0;
    dml_error e;
    dml_error_clear(&e);
    if (dml_ckpt_list(j->ckpt_dir, &steps, &n, &e) != DML_OK)
        return -1;
    for (size_t i = 0; i < n && found < 0; i++) {
        dml_ckpt_meta m;
        char *text = NULL;
        if (dml_ckpt_read_manifest(j->ckpt_dir, steps[i], &m, &text, &e) ==
            DML_OK)
            found = steps[i];
        free(text);
    }
    free(steps);
    return found;
}

/* New plan and resume step; DML_OK to relaunch, else why the job ends. */
static dml_status replan_and_resume(job *j, int attempt, const launch *l,
                                    dml_error *err)
{
    int ranks = dml_hosts_slots(&j->hosts);
    if (ranks > j->world0)
        ranks = j->world0;
    if (ranks < j->o->min_ranks)
        return dml_error_msg(err, DML_ERUNTIME,
                             "%d rank%s left, fewer than --min-ranks %d",
                             ranks, ranks == 1 ? "" : "s", j->o->min_ranks);
    char summary[256] = "";
    if (ranks != j->ranks) {
        char path[PATH_MAX + 32], name[32];
        snprintf(name, sizeof name, "plan-%d.json", attempt + 2);
        elastic_path(j, name, path, sizeof path);
        DML_CHECK(dml_elastic_replan(j->plan0, j->o->cluster, j->db,
                                     ranks, path, summary, sizeof summary,
                                     err));
        decide(j, "plan", -1, ranks, NAN, "new plan for %d ranks%s: %s (%s)",
               ranks, ranks > j->ranks ? " (up)" : "", summary, path);
        snprintf(j->plan, sizeof j->plan, "%s", path);
        j->ranks = ranks;
    } else {
        decide(j, "plan", -1, ranks, NAN, "same %d ranks: plan %s kept",
               ranks, j->plan);
    }
    int64_t from = newest_checkpoint(j);
    double step_s = l->train_start >= 0 && l->step_seen > l->step_first
                        ? (l->last_step_at - l->train_start) /
                              (double)(l->step_seen - l->step_first - 1 > 0
                                           ? l->step_seen - l->step_first - 1
                                           : 1)
                        : NAN;
    int64_t lost = l->step_seen - (from > 0 ? from : 0);
    double lost_s = isfinite(step_s) && lost > 0 ? lost * step_s : 0;
    j->lost_s += lost_s;
    if (from >= 0 && lost <= 0)
        decide(j, "resume", from, ranks, 0,
               "resume from checkpoint step %lld: no step lost",
               (long long)from);
    else if (from >= 0)
        decide(j, "resume", from, ranks, lost_s,
               "resume from checkpoint step %lld: steps %lld to %lld are "
               "done again (about %.1f s of training lost)",
               (long long)from, (long long)from, (long long)l->step_seen - 1,
               lost_s);
    else
        decide(j, "resume", 0, ranks, lost_s,
               "no complete checkpoint under %s: starting again from step 0",
               j->ckpt_dir);
    return DML_OK;
}

/* ---- the job ---------------------------------------------------------------------------- */

/* The hosts: the hostfile's, else the Slurm allocation's when dml-run
 * runs inside one, else this machine with the first plan's ranks. */
static dml_status load_hosts(job *j, dml_error *err)
{
    if (j->o->hostfile) {
        j->hosts_from = j->o->hostfile;
        return dml_hosts_read(j->o->hostfile, &j->hosts, err);
    }
    const char *slurm = getenv("SLURM_JOB_NODELIST");
    if (slurm && *slurm) {
        j->hosts_from = "SLURM_JOB_NODELIST";
        return dml_hosts_from_slurm(slurm, getenv("SLURM_TASKS_PER_NODE"),
                                    &j->hosts, err);
    }
    memset(&j->hosts, 0, sizeof j->hosts);
    j->hosts.n = 1;
    gethostname(j->hosts.h[0].name, sizeof j->hosts.h[0].name - 1);
    j->hosts.h[0].slots = j->world0;
    j->hosts.h[0].alive = true;
    return DML_OK;
}

static dml_status open_job(job *j, dml_error *err)
{
    DML_CHECK(check_args(j, err));
    DML_CHECK(load_hosts(j, err));
    if (j->o->hostfile)
        (void)hostfile_changed(j); /* its time, as read */
    j->ranks = j->world0;
    int slots = dml_hosts_slots(&j->hosts);
    if (slots < j->world0)
        return dml_error_msg(err, DML_EINPUT,
                             "%s: %d slots for the plan's %d ranks",
                             j->hosts_from, slots, j->world0);
    DML_CHECK(dml_db_open(j->db_path, &j->db, err));
    char cmd[4096] = "dml-exec";
    for (int i = 0; i < j->o->nargs; i++) {
        size_t len = strlen(cmd);
        snprintf(cmd + len, sizeof cmd - len, " %s", j->o->args[i]);
    }
    return dml_db_job_begin(j->db, cmd, j->ckpt_dir, j->ranks, &j->job_id,
                            err);
}

/* The goodput figures of one launch. */
static void account(job *j, const launch *l)
{
    if (l->train_start >= 0) {
        j->compute_s += l->end - l->train_start;
        /* compute_s starts at the first step seen completed */
        j->steps_trained += l->step_seen - l->step_first - 1;
        if (j->failed_at >= 0)
            j->restart_s += l->train_start - j->failed_at;
        if (j->paused_at >= 0)
            j->replan_s += l->train_start - j->paused_at;
        j->failed_at = j->paused_at = -1;
    }
}

/* Bytes of the newest complete checkpoint (0: none). */
static double checkpoint_bytes(const job *j)
{
    int64_t step = newest_checkpoint(j);
    if (step < 0)
        return 0;
    char dir[PATH_MAX], path[PATH_MAX + 300];
    dml_ckpt_dir(j->ckpt_dir, step, dir, sizeof dir);
    DIR *d = opendir(dir);
    double bytes = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            bytes += (double)st.st_size;
    }
    if (d)
        closedir(d);
    return bytes;
}

/* The job against the planner's Young/Daly model (goodput.h). */
static void model_job(const job *j, const dml_db_job_result *r,
                      dml_db_job_model *m)
{
    dml_elastic_seen seen = {
        .wall_s = r->wall_s, .compute_s = r->compute_s,
        .lost_s = r->lost_s, .failures = j->failures, .grows = j->grows,
        .replan_s = j->replan_s, .steps = j->steps_trained,
        .checkpoint_every = j->every, .nodes = j->world0,
        .ckpt_bytes = checkpoint_bytes(j)};
    dml_cluster_spec *c = malloc(sizeof *c);
    dml_error e;
    dml_error_clear(&e);
    bool have = c && dml_cluster_spec_load(j->cluster,
                                           dml_costmodel_data_dir(NULL), c,
                                           &e) == DML_OK;
    if (!have)
        dml_log_warn("cluster '%s' for the Young/Daly comparison: %s",
                     j->cluster, c ? e.msg : "out of memory");
    dml_elastic_model(have ? c : NULL, &seen, m);
    free(c);
}

/* Close the job with its status and reason. */
static void close_job(job *j, const char *status, const char *reason)
{
    decide(j, strcmp(status, "ok") == 0 ? "finished" : "stopped", -1,
           j->ranks, dml_clock_now_s() - j->t0, "%s", reason);
    dml_db_job_result r = {.reason = reason, .restarts = j->restarts};
    snprintf(r.status, sizeof r.status, "%s", status);
    r.wall_s = dml_clock_now_s() - j->t0;
    r.compute_s = j->compute_s;
    r.lost_s = j->lost_s;
    r.detect_s = j->detect_s;
    r.restart_s = j->restart_s;
    model_job(j, &r, &r.model);
    dml_error e;
    dml_error_clear(&e);
    if (j->db && dml_db_job_finish(j->db, j->job_id, &r, &e) != DML_OK)
        dml_log_warn("recording the job's end: %s", e.msg);
    double good = r.wall_s > 0 ? (r.compute_s - r.lost_s) / r.wall_s : NAN;
    dml_log_info("goodput %.0f %%: %.1f s training, %.1f s of it lost, "
                 "%.1f s detecting and %.1f s restarting, of %.1f s",
                 100 * good, r.compute_s, r.lost_s, r.detect_s, r.restart_s,
                 r.wall_s);
    const dml_db_job_model *m = &r.model;
    dml_log_info("Young/Daly, at the %d failure%s seen: %.0f %% expected "
                 "(checkpoint every %.2f s, written in %.3g s; Daly's "
                 "interval %.3g s); lost %.1f s expected, %.1f s seen; "
                 "restarts %.3g s expected, %.1f s seen",
                 m->failures, m->failures == 1 ? "" : "s",
                 100 * m->expected_goodput, m->ckpt_interval_s,
                 m->ckpt_write_s, m->daly_s, m->expected_lost_s, r.lost_s,
                 m->expected_restart_s, r.detect_s + r.restart_s);
}

/* No stop asked of the next launch (or of a launch that ended). */
static void clear_stop(job *j)
{
    char path[PATH_MAX + 32];
    dml_ckpt_stop_path(j->ckpt_dir, path, sizeof path);
    unlink(path);
    j->stop_asked = false;
}

/* One launch and what follows it; *done when the job ended (err then
 * holds why unless it finished). */
static dml_status step_job(job *j, int attempt, bool *done, launch *l,
                           dml_error *err)
{
    char hostfile[PATH_MAX + 32], *hf = NULL, name[32];
    if (j->hosts_from) {
        snprintf(name, sizeof name, "hosts-%d", attempt + 1);
        elastic_path(j, name, hostfile, sizeof hostfile);
        DML_CHECK(dml_hosts_write(hostfile, &j->hosts, j->ranks, err));
        hf = hostfile;
    }
    clear_stop(j);
    DML_CHECK(run_launch(j, attempt, hf, l, err));
    bool asked = j->stop_asked;
    clear_stop(j);
    account(j, l);
    *done = true;
    if (l->interrupted)
        return dml_error_msg(err, DML_ERUNTIME, "interrupted by %s",
                             dml_interrupt_name(dml_interrupt_signal()));
    if (!l->hang && WIFEXITED(l->wstatus) && WEXITSTATUS(l->wstatus) == 0)
        return DML_OK;
    if (!l->hang && WIFEXITED(l->wstatus) && WEXITSTATUS(l->wstatus) == 2)
        return dml_error_msg(err, DML_EINPUT,
                             "dml-exec refused its input (exit status 2): a "
                             "relaunch would be refused too");
    if (asked && !l->hang && WIFEXITED(l->wstatus) &&
        WEXITSTATUS(l->wstatus) == DML_CKPT_STOP_EXIT) {
        /* stopped right after a checkpoint to take the hosts back */
        j->paused_at = l->end;
        DML_CHECK(replan_and_resume(j, attempt, l, err));
        j->grows++;
        *done = false;
        return DML_OK;
    }
    j->failed_at = l->end;
    j->failures++;
    j->detect_s += l->end - l->last_step_at;
    failure_and_hosts(j, attempt, l);
    if (j->restarts >= j->o->max_restarts)
        return dml_error_msg(err, DML_ERUNTIME,
                             "launch %d failed after %d restart%s: "
                             "--max-restarts %d reached",
                             attempt + 1, j->restarts,
                             j->restarts == 1 ? "" : "s",
                             j->o->max_restarts);
    DML_CHECK(replan_and_resume(j, attempt, l, err));
    j->restarts++;
    *done = false;
    return DML_OK;
}

dml_status dml_elastic_run(const dml_elastic_options *o,
                           dml_elastic_result *r, dml_error *err)
{
    memset(r, 0, sizeof *r);
    job *j = calloc(1, sizeof *j);
    if (!j)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    j->o = o;
    j->t0 = dml_clock_now_s();
    j->failed_at = j->paused_at = -1;
    dml_status s = open_job(j, err);
    bool done = false;
    launch l;
    for (int attempt = 0; s == DML_OK && !done; attempt++)
        s = step_job(j, attempt, &done, &l, err);
    if (j->job_id > 0) {
        char buf[1400];
        bool interrupted = dml_interrupt_signal() != 0;
        close_job(j, s == DML_OK ? "ok" : interrupted ? "interrupted"
                                                      : "failed",
                  s == DML_OK ? "the training finished"
                              : dml_error_format(err, buf, sizeof buf));
    }
    r->job_id = j->job_id;
    r->restarts = j->restarts;
    r->ranks = j->ranks;
    r->stop_signal = dml_interrupt_signal();
    dml_db_close(j->db);
    free(j);
    return s;
}
