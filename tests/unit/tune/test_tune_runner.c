/*
 * test_tune_runner.c: the trial runner of dml-plan --tune
 * (planner/tune_runner.h) with fake launchers and fake dml-execs (small
 * shell scripts) that succeed, print garbage, fail, crash or hang; the
 * reading of dml-exec's summary; the choice and ranking of trials.
 */
#include "tests/support/unit.h"
#include "tests/support/test_support.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/interrupt.h"
#include "common/proctree.h"
#include "db/db.h"
#include "db/plan_store.h"
#include "db/run_store.h"
#include "db/spec_store.h"
#include "planner/tune_runner.h"

typedef struct fixture {
    char dir[64];
    char launcher[128]; /* fake mpirun: drops its options, runs the rest */
    char plan[128];     /* a plan file (never read by the fakes) */
} fixture;

static void write_script(const char *dir, const char *name, const char *body,
                         char *path, size_t size)
{
    snprintf(path, size, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\n%s", body);
    fclose(f);
    assert_int_equal(chmod(path, 0755), 0);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f || !dml_test_tmpdir("tune", f->dir, sizeof f->dir))
        return -1;
    char body[512];
    snprintf(body, sizeof body,
             "echo \"$@\" > %s/launcher_args\n"
             "while [ $# -gt 0 ]; do\n"
             "  case \"$1\" in\n"
             "    -np|--bind-to) shift 2 ;;\n"
             "    --oversubscribe) shift ;;\n"
             "    *) break ;;\n"
             "  esac\n"
             "done\n"
             "exec \"$@\"\n",
             f->dir);
    write_script(f->dir, "fake-mpirun", body, f->launcher,
                 sizeof f->launcher);
    snprintf(f->plan, sizeof f->plan, "%s/plan.json", f->dir);
    FILE *p = fopen(f->plan, "w");
    if (!p)
        return -1;
    fputs("{}\n", p);
    fclose(p);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    bool removed = dml_test_rmtree(f->dir);
    free(f);
    if (!removed)
        return -1;
    return 0;
}

/* A spec that runs the fake exec named name with the fake launcher. */
static void spec_for(fixture *f, dml_tune_trial_spec *s, char *exec_path)
{
    dml_tune_trial_spec_init(s);
    s->plan_path = f->plan;
    s->ranks = 1;
    s->threads = 1;
    s->steps = 20;
    s->mpiexec = f->launcher;
    s->exec_path = exec_path;
    s->timeout_s = 20;
}

/* ---- the summary ---- */

static void parses_dml_exec_summary(void **state)
{
    (void)state;
    dml_tune_trial_result r;
    dml_error err;
    /* a notice before the document, as launchers sometimes print */
    const char *good =
        "--- notice from the launcher ---\n"
        "{\n  \"schema_version\": 1,\n  \"kind\": \"dml-exec-run\",\n"
        "  \"losses\": [2.3, 1.1, 0.625],\n  \"steps\": 3,\n"
        "  \"median_step_s\": 0.0125,\n  \"predicted_step_s\": 0.01,\n"
        "  \"test_accuracy\": 0.8125,\n  \"run_id\": 42\n}\n";
    assert_int_equal(dml_tune_parse_summary(good, &r, &err), DML_OK);
    assert_true(r.measured_step_s == 0.0125);
    assert_true(r.predicted_step_s == 0.01);
    assert_true(r.final_loss == 0.625);
    assert_true(r.test_accuracy == 0.8125);
    assert_int_equal(r.run_id, 42);
    assert_int_equal(r.steps, 3);
    /* no prediction, no accuracy: NAN, not 0 */
    assert_int_equal(dml_tune_parse_summary(
                         "{\"median_step_s\": 0.5, \"predicted_step_s\": "
                         "null, \"test_accuracy\": null, \"run_id\": null}",
                         &r, &err),
                     DML_OK);
    assert_true(isnan(r.predicted_step_s) && isnan(r.test_accuracy));
    assert_int_equal(r.run_id, 0);
    /* what is not a summary */
    const char *bad[] = {"", "training...\nloss 0.3\n", "{\"median_step_s\": ",
                         "{\"median_step_s\": null}", "{\"median_step_s\": 0}",
                         "{\"median_step_s\": \"fast\"}", "[1, 2]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (dml_tune_parse_summary(bad[i], &r, &err) != DML_EINPUT)
            fail_msg("'%s' was taken for a summary", bad[i]);
    assert_int_equal(dml_tune_parse_summary(NULL, &r, &err), DML_EINPUT);
}

/* ---- argv ---- */

static bool has_arg(char **argv, const char *a, const char *next)
{
    for (int i = 0; argv[i]; i++)
        if (strcmp(argv[i], a) == 0 &&
            (!next || (argv[i + 1] && strcmp(argv[i + 1], next) == 0)))
            return true;
    return false;
}

static void builds_the_command_line(void **state)
{
    fixture *f = *state;
    char exec[128];
    write_script(f->dir, "fake-exec", "exit 0\n", exec, sizeof exec);
    dml_tune_trial_spec s;
    spec_for(f, &s, exec);
    s.ranks = 2;
    s.threads = 1;
    s.steps = 37;
    s.db_path = "/tmp/x.db";
    s.data = "synthetic";
    char **argv = NULL;
    dml_error err;
    assert_int_equal(dml_tune_trial_argv(&s, &argv, &err), DML_OK);
    assert_string_equal(argv[0], f->launcher);
    assert_true(has_arg(argv, "-np", "2"));
    assert_true(has_arg(argv, exec, "--plan"));
    assert_true(has_arg(argv, "--plan", f->plan));
    assert_true(has_arg(argv, "--steps", "37"));
    assert_true(has_arg(argv, "--json", NULL));
    assert_true(has_arg(argv, "--db", "/tmp/x.db"));
    assert_true(has_arg(argv, "--data", "synthetic"));
    assert_true(has_arg(argv, "--threads", "1"));
    /* one thread per rank: Open MPI's core binding is right */
    assert_false(has_arg(argv, "--bind-to", NULL));
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    assert_true(has_arg(argv, "--oversubscribe", NULL) == (2 > cores));
    dml_tune_argv_free(argv);

    /* two threads: unbound, or both threads would share one core; more
     * threads than cores: oversubscribed */
    s.threads = (int)cores + 1;
    s.db_path = NULL;
    s.data = NULL;
    assert_int_equal(dml_tune_trial_argv(&s, &argv, &err), DML_OK);
    assert_true(has_arg(argv, "--bind-to", "none"));
    assert_true(has_arg(argv, "--oversubscribe", NULL));
    assert_false(has_arg(argv, "--db", NULL));
    assert_false(has_arg(argv, "--data", NULL));
    dml_tune_argv_free(argv);

    /* dml-exec found through $DML_EXEC, then $DML_BIN */
    s.exec_path = NULL;
    setenv("DML_EXEC", exec, 1);
    assert_int_equal(dml_tune_trial_argv(&s, &argv, &err), DML_OK);
    assert_true(has_arg(argv, exec, "--plan"));
    dml_tune_argv_free(argv);
    unsetenv("DML_EXEC");
    char bin[128];
    write_script(f->dir, "dml-exec", "exit 0\n", bin, sizeof bin);
    setenv("DML_BIN", f->dir, 1);
    assert_int_equal(dml_tune_trial_argv(&s, &argv, &err), DML_OK);
    assert_true(has_arg(argv, bin, "--plan"));
    dml_tune_argv_free(argv);
    unsetenv("DML_BIN");
    /* a named dml-exec that is not there */
    s.exec_path = "/nonexistent/dml-exec";
    assert_int_equal(dml_tune_trial_argv(&s, &argv, &err), DML_ENOTFOUND);
    assert_null(argv);
    /* bad specs */
    s.exec_path = exec;
    s.steps = 0;
    assert_int_equal(dml_tune_trial_argv(&s, &argv, &err), DML_EINPUT);
    s.steps = 5;
    s.plan_path = NULL;
    assert_int_equal(dml_tune_trial_argv(&s, &argv, &err), DML_EINPUT);
}

/* ---- running ---- */

static void successful_trial(void **state)
{
    fixture *f = *state;
    char exec[128];
    write_script(f->dir, "fake-exec",
                 "echo 'starting' >&2\n"
                 "echo '{\"median_step_s\": 0.02, \"predicted_step_s\": "
                 "0.018, \"losses\": [1.0, 0.5], \"steps\": 2, "
                 "\"test_accuracy\": 0.7, \"run_id\": 9}'\n",
                 exec, sizeof exec);
    dml_tune_trial_spec s;
    spec_for(f, &s, exec);
    dml_tune_trial_result r;
    dml_error err;
    assert_int_equal(dml_tune_trial_run(&s, &r, &err), DML_OK);
    assert_int_equal(r.outcome, DML_TUNE_OK);
    assert_string_equal(r.reason, "");
    assert_int_equal(r.exit_code, 0);
    assert_true(r.measured_step_s == 0.02 && r.predicted_step_s == 0.018);
    assert_true(r.final_loss == 0.5 && r.test_accuracy == 0.7);
    assert_int_equal(r.run_id, 9);
    assert_non_null(strstr(r.stderr_tail, "starting"));
    assert_true(r.wall_s > 0 && r.wall_s < 10);
    /* the launcher got -np and dml-exec's options */
    char path[160], line[512] = "";
    snprintf(path, sizeof path, "%s/launcher_args", f->dir);
    FILE *a = fopen(path, "r");
    assert_non_null(a);
    assert_non_null(fgets(line, sizeof line, a));
    fclose(a);
    assert_non_null(strstr(line, "-np 1 "));
    assert_non_null(strstr(line, "--steps 20 --json"));
}

static void failed_trials_have_reasons(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *body;
        dml_tune_outcome outcome;
        const char *reason; /* must appear in the reason */
    } cases[] = {
        {"echo 'dml-exec: error: plan.json:3:9: parallel.dp: must be >= 1' "
         ">&2\nexit 2\n",
         DML_TUNE_EXIT, "exit status 2: dml-exec: error: plan.json:3:9"},
        {"echo 'about to crash' >&2\nkill -SEGV $$\n", DML_TUNE_SIGNAL,
         "signal 11"},
        {"echo 'training...'\necho 'loss 0.3'\n", DML_TUNE_BAD_OUTPUT,
         "no JSON summary"},
        {"echo '{\"median_step_s\": '\n", DML_TUNE_BAD_OUTPUT,
         "summary is not JSON"},
        {"echo '{\"median_step_s\": null}'\n", DML_TUNE_BAD_OUTPUT,
         "no positive median_step_s"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char exec[128], name[32];
        snprintf(name, sizeof name, "fake-exec-%zu", i);
        write_script(f->dir, name, cases[i].body, exec, sizeof exec);
        dml_tune_trial_spec s;
        spec_for(f, &s, exec);
        dml_tune_trial_result r;
        dml_error err;
        assert_int_equal(dml_tune_trial_run(&s, &r, &err), DML_OK);
        if (r.outcome != cases[i].outcome ||
            !strstr(r.reason, cases[i].reason))
            fail_msg("case %zu: outcome %s, reason '%s'; expected %s with "
                     "'%s'", i, dml_tune_outcome_name(r.outcome), r.reason,
                     dml_tune_outcome_name(cases[i].outcome),
                     cases[i].reason);
        assert_true(isnan(r.measured_step_s));
    }
}

/* Whether pid still runs: a zombie waiting for init to reap it (its
 * parent was killed too) counts as dead. Waits up to 2 s for it to go. */
static bool alive(pid_t pid)
{
    for (int i = 0; i < 40; i++) {
        if (kill(pid, 0) != 0 && errno == ESRCH)
            return false;
        char st = dml_proc_state(pid);
        if (st == 0 || st == 'Z' || st == 'X')
            return false;
        usleep(50000);
    }
    return true;
}

static pid_t read_pid(const char *dir, const char *name)
{
    char path[160];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *p = fopen(path, "r");
    if (!p)
        return 0;
    int pid = 0;
    if (fscanf(p, "%d", &pid) != 1)
        pid = 0;
    fclose(p);
    return (pid_t)pid;
}

/* A hanging trial is ended at the timeout with its whole process group,
 * one that ignores SIGTERM by SIGKILL after the grace time. */
static void timeout_kills_the_process_group(void **state)
{
    fixture *f = *state;
    char exec[128], body[512];
    /* a child in the background stands for the ranks mpirun starts */
    snprintf(body, sizeof body,
             "sleep 30 &\necho $! > %s/child.pid\necho $$ > %s/main.pid\n"
             "wait\n",
             f->dir, f->dir);
    write_script(f->dir, "fake-hang", body, exec, sizeof exec);
    dml_tune_trial_spec s;
    spec_for(f, &s, exec);
    s.timeout_s = 0.5;
    dml_tune_trial_result r;
    dml_error err;
    double t0 = dml_clock_now_s();
    assert_int_equal(dml_tune_trial_run(&s, &r, &err), DML_OK);
    double took = dml_clock_now_s() - t0;
    assert_int_equal(r.outcome, DML_TUNE_TIMEOUT);
    assert_non_null(strstr(r.reason, "timed out after"));
    assert_true(took >= 0.5 && took < 5.0);
    pid_t child = read_pid(f->dir, "child.pid");
    assert_true(child > 0);
    assert_false(alive(child));

    /* deaf to SIGTERM: killed for good after the grace time */
    snprintf(body, sizeof body,
             "trap '' TERM\necho $$ > %s/deaf.pid\n"
             "while :; do sleep 0.05; done\n",
             f->dir);
    write_script(f->dir, "fake-deaf", body, exec, sizeof exec);
    spec_for(f, &s, exec);
    s.timeout_s = 0.3;
    s.term_grace_s = 0.3;
    t0 = dml_clock_now_s();
    assert_int_equal(dml_tune_trial_run(&s, &r, &err), DML_OK);
    took = dml_clock_now_s() - t0;
    assert_int_equal(r.outcome, DML_TUNE_TIMEOUT);
    assert_true(took >= 0.6 && took < 6.0);
    pid_t deaf = read_pid(f->dir, "deaf.pid");
    assert_true(deaf > 0);
    assert_false(alive(deaf));
}

/* A launcher that is not there is the caller's problem, not a trial's. */
static void missing_launcher(void **state)
{
    fixture *f = *state;
    char exec[128];
    write_script(f->dir, "fake-exec", "exit 0\n", exec, sizeof exec);
    dml_tune_trial_spec s;
    spec_for(f, &s, exec);
    s.mpiexec = "/nonexistent/mpirun";
    dml_tune_trial_result r;
    dml_error err;
    assert_int_equal(dml_tune_trial_run(&s, &r, &err), DML_ENOTFOUND);
    assert_non_null(strstr(err.msg, "/nonexistent/mpirun"));
}

/* A failed trial is recorded as an event; runs from before the trial are
 * left alone. */
/* A database at path with one plan; its id in *plan_id. */
static dml_db *db_with_plan(const char *path, int64_t *plan_id)
{
    dml_db *db = NULL;
    dml_error err;
    assert_int_equal(dml_db_open(path, &db, &err), DML_OK);
    dml_db_model m = {.name = "mlp-fmnist", .type = "mlp",
                      .spec_json = "{\"type\":\"mlp\"}"};
    int64_t model_id, cluster_id;
    assert_int_equal(dml_db_record_model(db, &m, &model_id, &err), DML_OK);
    dml_db_cluster c = {.name = "vm", .fingerprint = "ab", .source = "user"};
    assert_int_equal(dml_db_record_cluster(db, &c, 0, &cluster_id, &err),
                     DML_OK);
    dml_db_plan p;
    memset(&p, 0, sizeof p);
    p.model_id = model_id;
    p.cluster_id = cluster_id;
    p.config = (dml_db_plan_config){.dp = 1, .tp = 1, .pp = 1, .v = 1,
                                    .mbs = 1, .microbatches = 1,
                                    .global_batch = 1,
                                    .recompute = "none",
                                    .schedule = "1f1b",
                                    .threads_per_rank = 1};
    p.predicted_step_s = p.predicted_mem_bytes = NAN;
    p.predicted_tokens_per_s = p.mfu = NAN;
    assert_int_equal(dml_db_record_plan(db, &p, plan_id, &err), DML_OK);
    return db;
}

static void failure_is_recorded(void **state)
{
    fixture *f = *state;
    char path[128];
    snprintf(path, sizeof path, "%s/dml.db", f->dir);
    dml_error err;
    int64_t plan_id, old_run;
    /* an older run still 'running' (another job) */
    dml_db *db = db_with_plan(path, &plan_id);
    dml_db_run_start rs = {.plan_id = plan_id, .ranks = 1,
                           .predicted_step_s = NAN};
    assert_int_equal(dml_db_run_begin(db, &rs, &old_run, &err), DML_OK);

    char exec[128];
    write_script(f->dir, "fake-fail",
                 "echo 'dml-exec: error: out of memory' >&2\nexit 1\n", exec,
                 sizeof exec);
    dml_tune_trial_spec s;
    spec_for(f, &s, exec);
    s.db = db;
    dml_tune_trial_result r;
    assert_int_equal(dml_tune_trial_run(&s, &r, &err), DML_OK);
    assert_int_equal(r.outcome, DML_TUNE_EXIT);
    dml_db_close(db);

    sqlite3 *q = NULL;
    assert_int_equal(sqlite3_open(path, &q), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(q,
                                        "SELECT kind, message, run_id IS NULL "
                                        "FROM events",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0),
                        "trial_failed");
    const char *msg = (const char *)sqlite3_column_text(st, 1);
    assert_non_null(strstr(msg, f->plan));
    assert_non_null(strstr(msg, "out of memory"));
    /* not tied to the older run */
    assert_int_equal(sqlite3_column_int(st, 2), 1);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(q, "SELECT status FROM runs WHERE id "
                                           "= ?",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, old_run);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "running");
    sqlite3_finalize(st);
    sqlite3_close(q);
}

/* A tuning round: failures do not stop it, the ranking is by measured
 * time, and the reason is dml-exec's error line, not mpirun's banner. */
static void runs_all_trials(void **state)
{
    fixture *f = *state;
    char fast[128], bad[128], slow[128];
    write_script(f->dir, "fake-fast",
                 "echo '{\"median_step_s\": 0.01}'\n", fast, sizeof fast);
    write_script(f->dir, "fake-slow",
                 "echo '{\"median_step_s\": 0.03}'\n", slow, sizeof slow);
    write_script(f->dir, "fake-bad",
                 "echo 'dml-exec: error: plan.json: out of memory on rank 1' "
                 ">&2\n"
                 "echo '-----------------------------------------------' >&2\n"
                 "echo 'Primary job terminated normally, but 1 process "
                 "returned' >&2\n"
                 "echo '-----------------------------------------------' >&2\n"
                 "exit 1\n",
                 bad, sizeof bad);
    dml_tune_trial_spec specs[3];
    spec_for(f, &specs[0], slow);
    spec_for(f, &specs[1], bad);
    spec_for(f, &specs[2], fast);
    dml_tune_trial_result res[3];
    size_t order[3];
    dml_error err;
    assert_int_equal(dml_tune_run_all(specs, 3, false, res, order, &err),
                     DML_OK);
    assert_int_equal(res[0].outcome, DML_TUNE_OK);
    assert_int_equal(res[1].outcome, DML_TUNE_EXIT);
    assert_int_equal(res[2].outcome, DML_TUNE_OK);
    assert_non_null(strstr(res[1].reason,
                           "dml-exec: error: plan.json: out of memory"));
    assert_int_equal(order[0], 2);
    assert_int_equal(order[1], 0);
    assert_int_equal(order[2], 1);

    /* a dml-exec that is not there stops the round: the rest not run */
    specs[1].exec_path = "/nonexistent/dml-exec";
    assert_int_equal(dml_tune_run_all(specs, 3, false, res, NULL, &err),
                     DML_ENOTFOUND);
    assert_int_equal(res[0].outcome, DML_TUNE_OK);
    assert_string_equal(res[1].reason, "not run");
    assert_string_equal(res[2].reason, "not run");
    assert_true(isnan(res[2].measured_step_s));
}

/* ---- choosing and ranking ---- */

static dml_tune_candidate cand(int dp, int tp, int pp, int threads, int mbs,
                               double predicted)
{
    dml_tune_candidate c;
    memset(&c, 0, sizeof c);
    dml_parallel_config_init(&c.par);
    c.par.dp = dp;
    c.par.tp = tp;
    c.par.pp = pp;
    c.par.threads_per_rank = threads;
    c.par.mbs = mbs;
    c.predicted_s = predicted;
    return c;
}

/* ---- stopping every process of a trial (issue 10, items 7 and 8) ---- */

/* Open MPI puts each rank in a process group of its own: a timeout must
 * reach it although the launcher's group does not hold it, also when the
 * launcher ignores SIGTERM and is killed. */
static void stopping_reaches_ranks_in_their_own_groups(void **state)
{
    fixture *f = *state;
    char exec[128], body[512];
    snprintf(body, sizeof body,
             "setsid sh -c 'echo $$ > %s/rank.pid; exec sleep 30' &\n"
             "trap '' TERM\n"
             "while :; do sleep 0.05; done\n",
             f->dir);
    write_script(f->dir, "fake-launcher-deaf", body, exec, sizeof exec);
    dml_tune_trial_spec s;
    spec_for(f, &s, exec);
    s.timeout_s = 0.5;
    s.term_grace_s = 0.3;
    dml_tune_trial_result r;
    dml_error err;
    assert_int_equal(dml_tune_trial_run(&s, &r, &err), DML_OK);
    assert_int_equal(r.outcome, DML_TUNE_TIMEOUT);
    pid_t rank = read_pid(f->dir, "rank.pid");
    assert_true(rank > 0);
    if (alive(rank)) {
        kill(rank, SIGKILL);
        fail_msg("the rank in its own process group outlived its trial");
    }
}

/* A launcher that dies (a crash) and leaves a rank running: the rank is
 * stopped too, not left to run on under init. */
static void orphans_of_a_trial_are_stopped(void **state)
{
    fixture *f = *state;
    char exec[128], body[512];
    /* long enough for the runner to have listed the rank (once a second) */
    snprintf(body, sizeof body,
             "setsid sh -c 'echo $$ > %s/orphan.pid; exec sleep 30' &\n"
             "sleep 1.6\n"
             "echo 'launcher: lost contact with the daemons' >&2\n"
             "exit 3\n",
             f->dir);
    write_script(f->dir, "fake-launcher-crash", body, exec, sizeof exec);
    dml_tune_trial_spec s;
    spec_for(f, &s, exec);
    s.term_grace_s = 0.5;
    dml_tune_trial_result r;
    dml_error err;
    assert_int_equal(dml_tune_trial_run(&s, &r, &err), DML_OK);
    assert_int_equal(r.outcome, DML_TUNE_EXIT);
    assert_int_equal(r.exit_code, 3);
    pid_t orphan = read_pid(f->dir, "orphan.pid");
    assert_true(orphan > 0);
    if (alive(orphan)) {
        kill(orphan, SIGKILL);
        fail_msg("the rank the crashed launcher left behind still runs");
    }
}

/* A helper process that sends sig to us after delay_s. */
static pid_t signal_us_after(double delay_s, int sig)
{
    pid_t parent = getpid();
    pid_t h = fork();
    assert_true(h >= 0);
    if (h == 0) {
        usleep((useconds_t)(delay_s * 1e6));
        kill(parent, sig);
        _exit(0);
    }
    return h;
}

/* SIGTERM to the tuning process (caught by common/interrupt.h): the
 * running trial is stopped with its processes, its run recorded as
 * interrupted, and no further trial starts. */
static void a_signal_stops_the_trial(void **state)
{
    fixture *f = *state;
    char path[128];
    snprintf(path, sizeof path, "%s/dml.db", f->dir);
    int64_t plan_id;
    dml_db *db = db_with_plan(path, &plan_id);
    /* a dml-exec that opens its run and then trains "forever"; as mpirun
     * does, the launcher's shell passes SIGTERM on to the rank */
    char exec[128], body[1024];
    snprintf(body, sizeof body,
             "sqlite3 %s \"INSERT INTO runs (plan_id, started_at, ranks) "
             "VALUES (%lld, 'now', 1)\" || exit 9\n"
             "setsid sh -c 'echo $$ > %s/rank.pid; exec sleep 30' &\n"
             "rank=$!\n"
             "trap 'kill $rank; exit 143' TERM\n"
             "echo started > %s/started\n"
             "while :; do sleep 0.05; done\n",
             path, (long long)plan_id, f->dir, f->dir);
    write_script(f->dir, "fake-train", body, exec, sizeof exec);
    dml_tune_trial_spec specs[2];
    spec_for(f, &specs[0], exec);
    spec_for(f, &specs[1], exec);
    specs[0].db = specs[1].db = db;
    specs[0].timeout_s = specs[1].timeout_s = 60;
    assert_int_equal(dml_interrupt_install(DML_INTERRUPT_NOTE, NULL, NULL),
                     0);
    pid_t helper = signal_us_after(0.8, SIGTERM);
    dml_tune_trial_result res[2];
    dml_error err;
    double t0 = dml_clock_now_s();
    dml_status st = dml_tune_run_all(specs, 2, false, res, NULL, &err);
    double took = dml_clock_now_s() - t0;
    waitpid(helper, NULL, 0);
    assert_int_equal(st, DML_ERUNTIME);
    if (!strstr(err.msg, "interrupted by SIGTERM during trial 1/2"))
        fail_msg("error: '%s'", err.msg);
    assert_int_equal(res[0].outcome, DML_TUNE_INTERRUPTED);
    assert_int_equal(res[0].signal, SIGTERM);
    assert_string_equal(res[1].reason, "not run");
    assert_true(took < 10.0);
    pid_t rank = read_pid(f->dir, "rank.pid");
    assert_true(rank > 0);
    if (alive(rank)) {
        kill(rank, SIGKILL);
        fail_msg("the trial's rank still runs after the signal");
    }
    /* a signal already caught: no trial starts at all */
    char started[160];
    snprintf(started, sizeof started, "%s/started", f->dir);
    unlink(started);
    st = dml_tune_run_all(specs, 2, false, res, NULL, &err);
    assert_int_equal(st, DML_ERUNTIME);
    assert_non_null(strstr(err.msg, "before trial 1/2"));
    assert_string_equal(res[0].reason, "not run");
    assert_int_equal(access(started, F_OK), -1);
    dml_interrupt_restore();
    dml_db_close(db);

    sqlite3 *q = NULL;
    assert_int_equal(sqlite3_open(path, &q), SQLITE_OK);
    sqlite3_stmt *sq = NULL;
    assert_int_equal(sqlite3_prepare_v2(q, "SELECT status, error FROM runs",
                                        -1, &sq, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(sq), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(sq, 0),
                        "interrupted");
    assert_non_null(strstr((const char *)sqlite3_column_text(sq, 1),
                           "SIGTERM"));
    assert_int_equal(sqlite3_step(sq), SQLITE_DONE);
    sqlite3_finalize(sq);
    assert_int_equal(sqlite3_prepare_v2(q, "SELECT kind FROM events", -1, &sq,
                                        NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(sq), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(sq, 0),
                        "trial_interrupted");
    sqlite3_finalize(sq);
    sqlite3_close(q);
}

/* The line that says why a trial failed, from what it printed on stderr. */
static void the_reason_is_the_informative_line(void **state)
{
    (void)state;
    static const struct {
        const char *stderr_text;
        const char *reason;
    } cases[] = {
        /* Open MPI refusing root: its headline, not the advice at the end */
        {"-----------------------------------------------------------------"
         "---------\n"
         "mpirun has detected an attempt to run as root.\n\n"
         "Running as root is *strongly* discouraged as any mistake (e.g., "
         "in\n"
         "We reiterate our advice against doing so - please proceed at "
         "your own risk.\n"
         "-----------------------------------------------------------------"
         "---------\n",
         "mpirun has detected an attempt to run as root."},
        /* dml-exec's own line before the banners mpirun adds */
        {"dml-exec: warning: 2 threads per rank on 1 core\n"
         "dml-exec: error: plan.json: model.type: dml-exec runs mlp models\n"
         "-----------------------------------------------------------------"
         "---------\n"
         "Primary job  terminated normally, but 1 process returned\n"
         "a non-zero exit code. Per user-direction, the job has been "
         "aborted.\n"
         "-----------------------------------------------------------------"
         "---------\n"
         "mpirun detected that one or more processes exited with non-zero "
         "status, thus causing\n",
         "dml-exec: error: plan.json: model.type: dml-exec runs mlp models"},
        {"dml-exec: error: first\ndml-exec: error: second\n",
         "dml-exec: error: first"},
        {"starting\nERROR: no slots\nbye\n", "ERROR: no slots"},
        {"one\n  two  \n\n", "two"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char line[400];
        dml_tune_reason_line(cases[i].stderr_text, line, sizeof line);
        if (strcmp(line, cases[i].reason) != 0)
            fail_msg("case %zu: '%s', expected '%s'", i, line,
                     cases[i].reason);
    }
    char tiny[8];
    dml_tune_reason_line("dml-exec: error: long\n", tiny, sizeof tiny);
    assert_string_equal(tiny, "dml-exe");
}

static void selects_top_k_and_each_family(void **state)
{
    (void)state;
    dml_tune_candidate c[] = {
        cand(1, 1, 1, 2, 64, 0.010),   /* 0 family A (1x2 threads) */
        cand(1, 1, 1, 2, 128, 0.0101), /* 1 A */
        cand(1, 1, 1, 2, 32, 0.0102),  /* 2 A */
        cand(1, 1, 1, 2, 16, 0.0103),  /* 3 A */
        cand(2, 1, 1, 1, 64, 0.012),   /* 4 family B (dp2) */
        cand(2, 1, 1, 1, 32, 0.011),   /* 5 B, its best */
        cand(1, 2, 1, 1, 64, 0.015),   /* 6 family C (tp2) */
        cand(1, 1, 2, 1, 64, NAN),     /* 7 family D, infeasible */
        cand(1, 1, 2, 1, 32, 0.030),   /* 8 D */
        cand(1, 1, 1, 1, 64, 0.0105),  /* 9 family E (1x1) */
        cand(1, 1, 1, 1, 32, -1.0),    /* 10 E, infeasible */
    };
    size_t n = sizeof c / sizeof c[0];
    size_t out[16];
    /* top 3 are near-copies of family A; the others add B, E, C, D */
    size_t m = dml_tune_select_trials(c, n, 3, -1, out, 16);
    size_t want[] = {0, 1, 2, 9, 5, 6, 8};
    assert_int_equal(m, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < m; i++)
        assert_int_equal(out[i], want[i]);
    /* at most two extra families */
    m = dml_tune_select_trials(c, n, 3, 2, out, 16);
    assert_int_equal(m, 5);
    assert_int_equal(out[3], 9);
    assert_int_equal(out[4], 5);
    /* top 0: one per family */
    m = dml_tune_select_trials(c, n, 0, -1, out, 16);
    size_t fam[] = {0, 9, 5, 6, 8};
    assert_int_equal(m, 5);
    for (size_t i = 0; i < m; i++)
        assert_int_equal(out[i], fam[i]);
    /* room for two */
    assert_int_equal(dml_tune_select_trials(c, n, 3, -1, out, 2), 2);
    /* ties keep the given order */
    dml_tune_candidate t[] = {cand(1, 1, 1, 1, 8, 0.5),
                              cand(1, 1, 1, 1, 4, 0.5),
                              cand(1, 1, 1, 1, 2, 0.5)};
    m = dml_tune_select_trials(t, 3, 2, -1, out, 16);
    assert_int_equal(m, 2);
    assert_int_equal(out[0], 0);
    assert_int_equal(out[1], 1);
    assert_int_equal(dml_tune_select_trials(NULL, 0, 3, -1, out, 16), 0);
    /* families: dp, tp, pp, v and threads; not micro-batching */
    dml_tune_candidate a = cand(1, 1, 1, 1, 8, 1), b = cand(1, 1, 1, 1, 64, 1);
    b.par.microbatches = 7;
    assert_true(dml_tune_same_family(&a.par, &b.par));
    b.par.threads_per_rank = 2;
    assert_false(dml_tune_same_family(&a.par, &b.par));
}

static void ranks_by_measurement(void **state)
{
    (void)state;
    dml_tune_trial_result r[5];
    memset(r, 0, sizeof r);
    r[0].outcome = DML_TUNE_TIMEOUT;
    r[1].outcome = DML_TUNE_OK;
    r[1].measured_step_s = 0.03;
    r[2].outcome = DML_TUNE_OK;
    r[2].measured_step_s = 0.01;
    r[3].outcome = DML_TUNE_SIGNAL;
    r[4].outcome = DML_TUNE_OK;
    r[4].measured_step_s = 0.02;
    size_t order[5];
    dml_tune_rank_results(r, 5, order);
    size_t want[] = {2, 4, 1, 0, 3};
    for (int i = 0; i < 5; i++)
        assert_int_equal(order[i], want[i]);
}

DML_TEST_MAIN(
    cmocka_unit_test(parses_dml_exec_summary),
    cmocka_unit_test_setup_teardown(builds_the_command_line, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(successful_trial, setup, teardown),
    cmocka_unit_test_setup_teardown(failed_trials_have_reasons, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(timeout_kills_the_process_group,
                                    setup, teardown),
    cmocka_unit_test_setup_teardown(missing_launcher, setup, teardown),
    cmocka_unit_test_setup_teardown(failure_is_recorded, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(runs_all_trials, setup, teardown),
    cmocka_unit_test_setup_teardown(
        stopping_reaches_ranks_in_their_own_groups, setup, teardown),
    cmocka_unit_test_setup_teardown(orphans_of_a_trial_are_stopped,
                                    setup, teardown),
    cmocka_unit_test_setup_teardown(a_signal_stops_the_trial, setup,
                                    teardown),
    cmocka_unit_test(the_reason_is_the_informative_line),
    cmocka_unit_test(selects_top_k_and_each_family),
    cmocka_unit_test(ranks_by_measurement))
