/*
 * tune_runner.c: trials of candidate plans under mpirun (see
 * tune_runner.h).
 */
#include "tune_runner.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/child.h"
#include "common/clock.h"
#include "common/interrupt.h"
#include "common/log.h"
#include "common/progress.h"
#include "db/history.h"
#include "db/run_store.h"

/* What a trial keeps of its child's output at most. */
#define STDOUT_MAX (16u << 20)
#define STDERR_MAX (1u << 20)
/* After SIGTERM the launcher gets this long to take its ranks down
 * (Open MPI's mpirun forwards the signal and waits for them). */
#define TERM_GRACE_S 5.0

void dml_tune_trial_spec_init(dml_tune_trial_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    spec->steps = 30;
    spec->timeout_s = 300;
}

const char *dml_tune_outcome_name(dml_tune_outcome o)
{
    switch (o) {
    case DML_TUNE_OK: return "ok";
    case DML_TUNE_EXIT: return "exit";
    case DML_TUNE_SIGNAL: return "signal";
    case DML_TUNE_TIMEOUT: return "timeout";
    case DML_TUNE_BAD_OUTPUT: return "bad-output";
    case DML_TUNE_INTERRUPTED: return "interrupted";
    }
    return "?";
}

/* ---- finding the programs -------------------------------------------------------- */

static bool executable(const char *path)
{
    return path && path[0] && access(path, X_OK) == 0;
}

static dml_status find_exec(const dml_tune_trial_spec *spec, char *out,
                            size_t size, dml_error *err)
{
    return dml_tune_find_exec(spec->exec_path, out, size, err);
}

dml_status dml_tune_find_exec(const char *given, char *out, size_t size,
                              dml_error *err)
{
    if (given) {
        if (!executable(given))
            return dml_error_msg(err, DML_ENOTFOUND,
                                 "dml-exec '%s' is not an executable file",
                                 given);
        snprintf(out, size, "%s", given);
        return DML_OK;
    }
    const char *env = getenv("DML_EXEC");
    if (env && env[0]) {
        if (!executable(env))
            return dml_error_msg(err, DML_ENOTFOUND,
                                 "$DML_EXEC '%s' is not an executable file",
                                 env);
        snprintf(out, size, "%s", env);
        return DML_OK;
    }
    const char *bin = getenv("DML_BIN");
    if (bin && bin[0]) {
        snprintf(out, size, "%s/dml-exec", bin);
        if (executable(out))
            return DML_OK;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            snprintf(out, size, "%s/dml-exec", self);
            if (executable(out))
                return DML_OK;
        }
    }
    return dml_error_msg(err, DML_ENOTFOUND,
                         "dml-exec not found (set $DML_EXEC or $DML_BIN, or "
                         "install it next to this program)");
}

static char *dup_printf(const char *fmt, long long v)
{
    char buf[32];
    snprintf(buf, sizeof buf, fmt, v);
    return strdup(buf);
}

void dml_tune_argv_free(char **argv)
{
    if (!argv)
        return;
    for (char **a = argv; *a; a++)
        free(*a);
    free(argv);
}

/* Ranks and threads of the trial: the spec's, else the plan file's. */
static dml_status trial_shape(const dml_tune_trial_spec *spec, int *ranks,
                              int *threads, dml_error *err)
{
    *ranks = spec->ranks;
    *threads = spec->threads;
    if (*ranks > 0 && *threads > 0)
        return DML_OK;
    dml_plan *plan = malloc(sizeof *plan);
    if (!plan)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    dml_status s = dml_plan_load(spec->plan_path, plan, err);
    if (s == DML_OK) {
        if (*ranks <= 0)
            *ranks = (int)plan->devices;
        if (*threads <= 0)
            *threads = plan->par.threads_per_rank > 0
                           ? plan->par.threads_per_rank
                           : 1;
    }
    free(plan);
    return s;
}

dml_status dml_tune_trial_argv(const dml_tune_trial_spec *spec,
                               char ***argv_out, dml_error *err)
{
    *argv_out = NULL;
    if (!spec->plan_path || !spec->plan_path[0])
        return dml_error_msg(err, DML_EINPUT, "trial without a plan file");
    if (spec->steps < 1)
        return dml_error_msg(err, DML_EINPUT, "trial of %lld steps",
                             (long long)spec->steps);
    char exec_path[PATH_MAX];
    DML_CHECK(find_exec(spec, exec_path, sizeof exec_path, err));
    int ranks, threads;
    DML_CHECK(trial_shape(spec, &ranks, &threads, err));
    if (ranks < 1 || threads < 1)
        return dml_error_msg(err, DML_EINPUT,
                             "trial of %d ranks x %d threads", ranks,
                             threads);
    const char *launcher = spec->mpiexec;
    if (!launcher || !launcher[0])
        launcher = getenv("MPIEXEC");
    if (!launcher || !launcher[0])
        launcher = "mpirun";
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    bool over = spec->oversubscribe ||
                (cores > 0 && (long)ranks * threads > cores);
    char **a = calloc(24, sizeof *a);
    if (!a)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    int n = 0;
    a[n++] = strdup(launcher);
    a[n++] = strdup("-np");
    a[n++] = dup_printf("%lld", ranks);
    if (over)
        a[n++] = strdup("--oversubscribe");
    if (threads > 1) {
        a[n++] = strdup("--bind-to");
        a[n++] = strdup("none");
    }
    a[n++] = strdup(exec_path);
    a[n++] = strdup("--plan");
    a[n++] = strdup(spec->plan_path);
    a[n++] = strdup("--steps");
    a[n++] = dup_printf("%lld", (long long)spec->steps);
    a[n++] = strdup("--json");
    a[n++] = strdup("--threads");
    a[n++] = dup_printf("%lld", threads);
    if (spec->db_path) {
        a[n++] = strdup("--db");
        a[n++] = strdup(spec->db_path);
    }
    if (spec->data) {
        a[n++] = strdup("--data");
        a[n++] = strdup(spec->data);
    }
    for (int i = 0; i < n; i++)
        if (!a[i]) {
            dml_tune_argv_free(a);
            return dml_error_msg(err, DML_ENOMEM, "out of memory");
        }
    *argv_out = a;
    return DML_OK;
}

/* ---- the summary ------------------------------------------------------------------ */

static double num_or_nan(const json_t *v)
{
    return json_is_number(v) ? json_number_value(v) : NAN;
}

dml_status dml_tune_parse_summary(const char *text,
                                  dml_tune_trial_result *out, dml_error *err)
{
    out->measured_step_s = out->predicted_step_s = NAN;
    out->final_loss = out->test_accuracy = NAN;
    out->steps = 0;
    out->run_id = 0;
    if (!text)
        return dml_error_msg(err, DML_EINPUT, "no output");
    /* The document starts at the first line that opens an object; a
     * launcher may have printed notices before it. */
    const char *start = NULL;
    for (const char *p = text; *p;) {
        const char *q = p;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q == '{') {
            start = q;
            break;
        }
        const char *nl = strchr(p, '\n');
        if (!nl)
            break;
        p = nl + 1;
    }
    if (!start)
        return dml_error_msg(err, DML_EINPUT,
                             "no JSON summary in the output");
    json_error_t je;
    json_t *j = json_loadb(start, strlen(start), JSON_DISABLE_EOF_CHECK, &je);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return dml_error_msg(err, DML_EINPUT,
                             "summary is not JSON: line %d: %s", je.line,
                             je.text);
    }
    double med = num_or_nan(json_object_get(j, "median_step_s"));
    if (!(med > 0) || !isfinite(med)) {
        json_decref(j);
        return dml_error_msg(err, DML_EINPUT,
                             "summary has no positive median_step_s");
    }
    out->measured_step_s = med;
    out->predicted_step_s = num_or_nan(json_object_get(j,
                                                       "predicted_step_s"));
    out->test_accuracy = num_or_nan(json_object_get(j, "test_accuracy"));
    const json_t *run = json_object_get(j, "run_id");
    if (json_is_integer(run))
        out->run_id = (int64_t)json_integer_value(run);
    const json_t *steps = json_object_get(j, "steps");
    if (json_is_integer(steps))
        out->steps = (int64_t)json_integer_value(steps);
    const json_t *losses = json_object_get(j, "losses");
    size_t nl = json_array_size(losses);
    if (nl > 0)
        out->final_loss = num_or_nan(json_array_get(losses, nl - 1));
    json_decref(j);
    return DML_OK;
}

/* ---- running ------------------------------------------------------------------------ */

static bool has_word(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z'))
            return true;
    return false;
}

static bool has_error(const char *p, size_t n)
{
    for (size_t i = 0; i + 5 <= n; i++)
        if (strncasecmp(p + i, "error", 5) == 0)
            return true;
    return false;
}

static bool starts(const char *p, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && memcmp(p, prefix, k) == 0;
}

/* A rule of dashes: Open MPI frames each of its help messages in them. */
static bool is_rule(const char *p, size_t n)
{
    return n >= 10 && strspn(p, "-") >= n;
}

/*
 * The line of stderr that says why, trimmed, into out. In order of
 * preference: dml-exec's own error line (the first "dml-exec: error:",
 * else the first "dml-exec:" line), the headline of Open MPI's first
 * framed message (its first line with words after a rule of dashes:
 * "mpirun has detected an attempt to run as root.", not the advice that
 * ends the message), the first line that mentions an error, the last line
 * with words.
 */
void dml_tune_reason_line(const char *text, char *out, size_t size)
{
    out[0] = '\0';
    if (!text)
        return;
    enum { EXEC_ERROR, EXEC_LINE, HEADLINE, ERROR_WORD, LAST, NKINDS };
    const char *pick[NKINDS] = {NULL};
    size_t pick_n[NKINDS] = {0};
    bool after_rule = false;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' ' ||
                         p[n - 1] == '\t'))
            n--;
        const char *q = p;
        while (n > 0 && (*q == ' ' || *q == '\t')) {
            q++;
            n--;
        }
        int kind = -1;
        if (is_rule(q, n))
            after_rule = true;
        else if (has_word(q, n)) {
            if (starts(q, n, "dml-exec: error:"))
                kind = EXEC_ERROR;
            else if (starts(q, n, "dml-exec:"))
                kind = EXEC_LINE;
            else if (after_rule)
                kind = HEADLINE;
            else if (has_error(q, n))
                kind = ERROR_WORD;
            after_rule = false;
            if (kind >= 0 && !pick[kind]) {
                pick[kind] = q;
                pick_n[kind] = n;
            }
            pick[LAST] = q;
            pick_n[LAST] = n;
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    for (int k = 0; k < NKINDS; k++)
        if (pick[k]) {
            size_t n = pick_n[k] < size ? pick_n[k] : size - 1;
            memcpy(out, pick[k], n);
            out[n] = '\0';
            return;
        }
}

/* Newest runs.id in the database (0 when empty or unreadable). */
static int64_t newest_run_id(dml_db *db)
{
    dml_db_run_row *rows = NULL;
    size_t n = 0;
    dml_error e;
    dml_error_clear(&e);
    int64_t id = 0;
    if (db && dml_db_list_runs(db, 1, &rows, &n, &e) == DML_OK && n > 0)
        id = rows[0].id;
    free(rows);
    return id;
}

/* Record a failed trial: finish what dml-exec left 'running' ('failed',
 * or 'interrupted' when we stopped it for a signal), add an event. A run
 * stopped at the trial's timeout is 'failed' with the timeout as the
 * reason even when dml-exec, given our SIGTERM, marked it 'interrupted'
 * itself (what it measured is kept, and its words follow ours). Database
 * trouble here is logged, never returned: the tuning loop goes on. */
static void record_failure(const dml_tune_trial_spec *spec, int64_t before,
                           dml_tune_trial_result *out)
{
    if (!spec->db)
        return;
    bool interrupted = out->outcome == DML_TUNE_INTERRUPTED;
    dml_error e;
    dml_error_clear(&e);
    dml_db_run_row *rows = NULL;
    size_t n = 0;
    int64_t run_id = out->run_id;
    if (dml_db_list_runs(spec->db, 16, &rows, &n, &e) == DML_OK) {
        for (size_t i = 0; i < n; i++) {
            if (rows[i].id <= before)
                continue;
            if (run_id == 0 || rows[i].id > run_id)
                run_id = rows[i].id;
            bool running = strcmp(rows[i].status, "running") == 0;
            bool stopped_by_timeout =
                out->outcome == DML_TUNE_TIMEOUT &&
                strcmp(rows[i].status, "interrupted") == 0;
            if (!running && !stopped_by_timeout)
                continue;
            dml_db_run_result r;
            memset(&r, 0, sizeof r);
            snprintf(r.status, sizeof r.status, "%s",
                     interrupted ? "interrupted" : "failed");
            r.steps = rows[i].steps;
            r.measured_step_s = rows[i].measured_step_s;
            r.peak_rss_bytes = rows[i].peak_rss_bytes;
            r.final_loss = rows[i].final_loss;
            r.test_accuracy = rows[i].test_accuracy;
            char why[DML_TUNE_REASON_MAX + sizeof rows[i].error + 8];
            snprintf(why, sizeof why, "%s%s%s", out->reason,
                     rows[i].error[0] ? ": " : "", rows[i].error);
            r.error = why;
            if (stopped_by_timeout)
                snprintf(r.finished_at, sizeof r.finished_at, "%s",
                         rows[i].finished_at);
            if (dml_db_run_finish(spec->db, rows[i].id, &r, &e) != DML_OK)
                dml_log_warn("recording failed trial: %s", e.msg);
        }
    } else {
        dml_log_warn("recording failed trial: %s", e.msg);
    }
    free(rows);
    if (run_id > 0)
        out->run_id = run_id;
    char msg[DML_TUNE_REASON_MAX + 600];
    snprintf(msg, sizeof msg, "plan %s: %s: %s", spec->plan_path,
             dml_tune_outcome_name(out->outcome), out->reason);
    dml_error_clear(&e);
    if (dml_db_record_event(spec->db, run_id,
                            interrupted ? "trial_interrupted"
                                        : "trial_failed",
                            -1, -1, msg, &e) != DML_OK)
        dml_log_warn("recording failed trial: %s", e.msg);
}

static void result_init(dml_tune_trial_result *out)
{
    memset(out, 0, sizeof *out);
    out->exit_code = -1;
    out->measured_step_s = out->predicted_step_s = NAN;
    out->final_loss = out->test_accuracy = NAN;
}

dml_status dml_tune_trial_run(const dml_tune_trial_spec *spec,
                              dml_tune_trial_result *out, dml_error *err)
{
    result_init(out);
    char **argv = NULL;
    DML_CHECK(dml_tune_trial_argv(spec, &argv, err));
    int64_t before = newest_run_id(spec->db);
    dml_child_spec cs = {.argv = argv,
                         .timeout_s = spec->timeout_s,
                         .term_grace_s = spec->term_grace_s > 0
                                             ? spec->term_grace_s
                                             : TERM_GRACE_S,
                         .stdout_max = STDOUT_MAX,
                         .stderr_max = STDERR_MAX};
    dml_child_result run;
    dml_status s = dml_child_run(&cs, &run, err);
    dml_tune_argv_free(argv);
    if (s != DML_OK)
        return s;
    dml_log_debug("trial %s: ran for %.1f s", spec->plan_path, run.wall_s);
    int wstatus = run.wstatus;
    out->wall_s = run.wall_s;
    if (run.err) {
        size_t len = run.err_len;
        size_t keep = sizeof out->stderr_tail - 1;
        const char *from = len > keep ? run.err + len - keep : run.err;
        snprintf(out->stderr_tail, sizeof out->stderr_tail, "%s", from);
    }
    char line[400];
    dml_tune_reason_line(run.err, line, sizeof line);

    if (run.stop == DML_CHILD_INTERRUPTED) {
        out->outcome = DML_TUNE_INTERRUPTED;
        out->signal = dml_interrupt_signal();
        snprintf(out->reason, sizeof out->reason,
                 "interrupted by %s (trial stopped)",
                 dml_interrupt_name(out->signal));
    } else if (run.stop == DML_CHILD_TIMEOUT) {
        out->outcome = DML_TUNE_TIMEOUT;
        snprintf(out->reason, sizeof out->reason,
                 "timed out after %.0f s (process group killed)",
                 spec->timeout_s);
    } else if (WIFSIGNALED(wstatus)) {
        out->signal = WTERMSIG(wstatus);
        out->outcome = DML_TUNE_SIGNAL;
        snprintf(out->reason, sizeof out->reason, "killed by signal %d (%s)%s%s",
                 out->signal, strsignal(out->signal), line[0] ? ": " : "",
                 line);
    } else if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) != 0) {
        out->exit_code = WEXITSTATUS(wstatus);
        out->outcome = DML_TUNE_EXIT;
        snprintf(out->reason, sizeof out->reason, "exit status %d%s%s",
                 out->exit_code, line[0] ? ": " : "", line);
    } else {
        out->exit_code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
        dml_error pe;
        dml_error_clear(&pe);
        if (dml_tune_parse_summary(run.out, out, &pe) == DML_OK) {
            out->outcome = DML_TUNE_OK;
        } else {
            out->outcome = DML_TUNE_BAD_OUTPUT;
            snprintf(out->reason, sizeof out->reason, "%s%s", pe.msg,
                     run.out_truncated ? " (output truncated)" : "");
        }
    }
    dml_child_result_free(&run);
    if (out->outcome != DML_TUNE_OK) {
        dml_log_debug("trial %s failed: %s", spec->plan_path, out->reason);
        record_failure(spec, before, out);
    }
    return DML_OK;
}

/* ---- choosing and ranking ------------------------------------------------------------ */

bool dml_tune_same_family(const dml_parallel_config *a,
                          const dml_parallel_config *b)
{
    int ta = a->threads_per_rank > 0 ? a->threads_per_rank : 1;
    int tb = b->threads_per_rank > 0 ? b->threads_per_rank : 1;
    int va = a->v > 0 ? a->v : 1, vb = b->v > 0 ? b->v : 1;
    return a->dp == b->dp && a->tp == b->tp && a->pp == b->pp && va == vb &&
           ta == tb;
}

/* Stable merge sort of n indices by less(ctx, a, b); tmp has room for n. */
static void merge_sort(size_t *a, size_t *tmp, size_t n, const void *ctx,
                       bool (*less)(const void *, size_t, size_t))
{
    if (n < 2)
        return;
    size_t h = n / 2;
    merge_sort(a, tmp, h, ctx, less);
    merge_sort(a + h, tmp, n - h, ctx, less);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = less(ctx, a[j], a[i]) ? a[j++] : a[i++];
    while (i < h)
        tmp[k++] = a[i++];
    while (j < n)
        tmp[k++] = a[j++];
    memcpy(a, tmp, n * sizeof *a);
}

static bool predicted_less(const void *ctx, size_t i, size_t j)
{
    const dml_tune_candidate *c = ctx;
    return c[i].predicted_s < c[j].predicted_s;
}

size_t dml_tune_select_trials(const dml_tune_candidate *cands, size_t n,
                              int top_k, int max_families, size_t *out,
                              size_t max_out)
{
    if (!cands || n == 0 || !out || max_out == 0)
        return 0;
    size_t *idx = malloc(n * sizeof *idx);
    size_t *tmp = malloc(n * sizeof *tmp);
    bool *taken = calloc(n, sizeof *taken);
    if (!idx || !tmp || !taken) {
        free(idx);
        free(tmp);
        free(taken);
        return 0;
    }
    size_t valid = 0;
    for (size_t i = 0; i < n; i++)
        if (cands[i].predicted_s > 0 && isfinite(cands[i].predicted_s))
            idx[valid++] = i;
    merge_sort(idx, tmp, valid, cands, predicted_less);
    size_t m = 0;
    for (size_t r = 0; r < valid && m < max_out && (int)r < top_k; r++) {
        out[m++] = idx[r];
        taken[r] = true;
    }
    int families = 0;
    for (size_t r = 0; r < valid && m < max_out; r++) {
        if (taken[r])
            continue;
        if (max_families >= 0 && families >= max_families)
            break;
        bool seen = false;
        for (size_t c = 0; c < m && !seen; c++)
            seen = dml_tune_same_family(&cands[out[c]].par,
                                        &cands[idx[r]].par);
        if (seen)
            continue;
        out[m++] = idx[r];
        taken[r] = true;
        families++;
    }
    free(idx);
    free(tmp);
    free(taken);
    return m;
}

/* Successful trials first, by measured time; failed ones keep their
 * order (a stable sort). */
static bool measured_less(const void *ctx, size_t i, size_t j)
{
    const dml_tune_trial_result *r = ctx;
    bool oi = r[i].outcome == DML_TUNE_OK, oj = r[j].outcome == DML_TUNE_OK;
    if (oi != oj)
        return oi;
    return oi && r[i].measured_step_s < r[j].measured_step_s;
}

void dml_tune_rank_results(const dml_tune_trial_result *results, size_t n,
                           size_t *order)
{
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    size_t *tmp = malloc((n ? n : 1) * sizeof *tmp);
    if (!tmp) {
        /* insertion sort needs no memory; n is a handful of trials */
        for (size_t i = 1; i < n; i++)
            for (size_t j = i; j > 0 && measured_less(results, order[j],
                                                      order[j - 1]);
                 j--) {
                size_t t = order[j];
                order[j] = order[j - 1];
                order[j - 1] = t;
            }
        return;
    }
    merge_sort(order, tmp, n, results, measured_less);
    free(tmp);
}

dml_status dml_tune_run_all(const dml_tune_trial_spec *specs, size_t n,
                            bool progress, dml_tune_trial_result *results,
                            size_t *order, dml_error *err)
{
    dml_progress pr;
    dml_progress_begin(&pr, "tuning", (long)n, progress);
    dml_status s = DML_OK;
    size_t done = 0;
    while (done < n && s == DML_OK) {
        const char *name = specs[done].plan_path
                               ? strrchr(specs[done].plan_path, '/')
                               : NULL;
        name = name ? name + 1 : specs[done].plan_path;
        char what[160];
        snprintf(what, sizeof what, "trial %zu/%zu: %s", done + 1, n,
                 name ? name : "?");
        int sig = dml_interrupt_signal();
        if (sig) {
            /* caught between two trials: start no other */
            s = dml_error_msg(err, DML_ERUNTIME, "interrupted by %s before "
                              "%s", dml_interrupt_name(sig), what);
            break;
        }
        dml_progress_step(&pr, (long)done, what);
        s = dml_tune_trial_run(&specs[done], &results[done], err);
        if (s != DML_OK)
            break; /* not started: counted as not run below */
        if (results[done].outcome == DML_TUNE_INTERRUPTED) {
            const dml_tune_trial_result *r = &results[done];
            if (r->run_id > 0)
                s = dml_error_msg(err, DML_ERUNTIME, "interrupted by %s "
                                  "during %s (its processes stopped; run "
                                  "%lld)",
                                  dml_interrupt_name(r->signal), what,
                                  (long long)r->run_id);
            else
                s = dml_error_msg(err, DML_ERUNTIME, "interrupted by %s "
                                  "during %s (its processes stopped)",
                                  dml_interrupt_name(r->signal), what);
        } else if (results[done].outcome != DML_TUNE_OK) {
            dml_log_info("%s failed: %s", what, results[done].reason);
        }
        done++;
    }
    dml_progress_end(&pr);
    /* trials not run (an error or a signal stopped the loop) count as
     * failed */
    for (size_t i = done; i < n; i++) {
        result_init(&results[i]);
        results[i].outcome = DML_TUNE_EXIT;
        snprintf(results[i].reason, sizeof results[i].reason, "not run");
    }
    if (order)
        dml_tune_rank_results(results, n, order);
    return s;
}
