/*
 * ckpt_job.c: checkpoints across the job's ranks (see ckpt_job.h).
 */
#include "executor/ckpt_job.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "executor/ckpt_relayout.h"
#include "executor/optim.h"

/* Skipped checkpoints reported one by one on --resume; the rest are
 * counted in one line and one event. */
#define RESUME_REPORT_MAX 3

void dml_ckpt_job_init(dml_ckpt_job *j, const char *root,
                       const dml_groups *g, const dml_plan *p,
                       const dml_identity *identity, uint64_t seed,
                       bool shuffle, const dml_stage_model *model,
                       dml_stage *st, dml_update *up, dml_sync *sync,
                       dml_run_record *rec)
{
    memset(j, 0, sizeof *j);
    j->root = root;
    j->g = g;
    j->model = model;
    j->st = st;
    j->up = up;
    j->sync = sync;
    j->rec = rec;
    j->last = -1;
    dml_ckpt_meta *m = &j->meta;
    m->world = g->world_size;
    m->dp = g->dp_size;
    m->tp = g->tp_size;
    m->pp = g->pp_size;
    m->zero = p->par.zero;
    snprintf(m->optimizer, sizeof m->optimizer, "%s",
             dml_optimizer_name(up->hp.kind));
    m->seed = seed;
    m->shuffle = shuffle;
    if (identity) {
        snprintf(m->identity, sizeof m->identity, "%s", identity->sha256);
        m->identity_text = identity->text;
    }
}

/* Values of state in a shard: the optimizer's, then the exchange's. */
static size_t state_values(const dml_ckpt_job *j)
{
    return dml_update_state_values(j->up) + dml_sync_state_values(j->sync);
}

/* The state to write: the optimizer state itself when the exchange keeps
 * none (no copy), else both in one buffer (*owned, freed by the caller). */
static const float *state_to_write(const dml_ckpt_job *j, float **owned)
{
    *owned = NULL;
    size_t opt = dml_update_state_values(j->up);
    if (dml_sync_state_values(j->sync) == 0)
        return j->up->state;
    float *all = malloc(state_values(j) * sizeof(float));
    if (!all)
        return NULL;
    memcpy(all, j->up->state, opt * sizeof(float));
    dml_sync_state_save(j->sync, all + opt);
    *owned = all;
    return all;
}

/* This rank's map (ckpt.h): where its values lie in the model, so that
 * another layout can read them. map->owned malloc'd (NULL: no memory). */
static void make_map(const dml_ckpt_job *j, dml_ckpt_map *map)
{
    const dml_sync *sync = j->sync;
    memset(map, 0, sizeof *map);
    map->first_layer = j->st->first_layer;
    map->last_layer = j->st->last_layer;
    map->tp_index = j->st->tp_index;
    map->state_slots = j->up->state_slots;
    map->owned_values = j->up->nstate;
    map->sync_values = dml_sync_state_values(sync);
    map->owned = calloc(sync->nowned ? (size_t)sync->nowned : 1,
                        sizeof *map->owned);
    if (!map->owned)
        return;
    map->nowned = sync->nowned;
    for (int i = 0; i < sync->nowned; i++)
        map->owned[i] = (dml_ckpt_range){sync->owned[i].lo, sync->owned[i].hi,
                                         sync->owned[i].state_off};
}

/* Shards, then the manifest (rank 0) from the gathered checksums. */
static dml_status write_all(dml_ckpt_job *j, const dml_ckpt_meta *meta,
                            char msha[65], uint64_t *total, dml_error *err)
{
    const dml_groups *g = j->g;
    char sha[65] = "";
    uint64_t bytes = 0;
    float *owned = NULL;
    dml_ckpt_map map;
    make_map(j, &map);
    dml_ckpt_meta mine = *meta;
    mine.map = &map;
    const dml_ckpt_meta *m = &mine;
    const float *state = map.owned ? state_to_write(j, &owned) : NULL;
    dml_status s =
        state ? dml_ckpt_write_shard(j->root, m, g->rank, j->st->params,
                                     j->st->nflat, state, state_values(j),
                                     sha, &bytes, err)
              : dml_error_msg(err, DML_ENOMEM, "out of memory");
    free(owned);
    dml_ckpt_map_free(&map);
    DML_CHECK(dml_groups_agree(g->world, s, err));
    char(*shas)[65] = g->rank == 0 ? calloc((size_t)g->world_size, 65) : NULL;
    uint64_t *all = g->rank == 0 ? calloc((size_t)g->world_size, 8) : NULL;
    MPI_Gather(sha, 65, MPI_CHAR, shas, 65, MPI_CHAR, 0, g->world);
    MPI_Gather(&bytes, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, 0, g->world);
    if (g->rank == 0)
        s = !shas || !all ? dml_error_msg(err, DML_ENOMEM, "out of memory")
                          : dml_ckpt_write_manifest(j->root, m,
                                                    (const char(*)[65])shas,
                                                    all, msha, total, err);
    free(shas);
    free(all);
    return dml_groups_agree(g->world, s, err);
}

/*
 * A checkpoint that cannot be written (a full disk, a file size limit, a
 * lost mount) stops the run: going on would risk more work than stopping,
 * since the next fault would cost everything since the last complete
 * checkpoint, which stays intact (shards and manifest are only ever
 * renamed into place). The error names it so that --resume can continue
 * once there is room.
 */
dml_status dml_ckpt_job_write(dml_ckpt_job *j, int64_t step,
                              int64_t samples_seen, dml_error *err)
{
    const dml_groups *g = j->g;
    dml_status s = DML_OK;
    if (g->rank == 0)
        s = dml_ckpt_prepare(j->root, step, err);
    s = dml_groups_agree(g->world, s, err);
    dml_ckpt_meta m = j->meta;
    m.step = step;
    m.samples_seen = samples_seen;
    char msha[65] = "";
    uint64_t total = 0;
    if (s == DML_OK)
        s = write_all(j, &m, msha, &total, err);
    if (s != DML_OK) {
        char prev[96] = "there is no earlier checkpoint";
        if (j->last >= 0)
            snprintf(prev, sizeof prev, "checkpoint step %lld is intact",
                     (long long)j->last);
        char buf[1400];
        dml_error_format(err, buf, sizeof buf);
        dml_error_msg(err, s == DML_ENOMEM ? DML_ENOMEM : DML_EIO,
                      "checkpoint step %lld not written, the run stops: "
                      "%s; %s (free space and --resume)",
                      (long long)step, buf, prev);
        if (g->rank == 0)
            dml_run_record_event(j->rec, "checkpoint", step,
                                 dml_error_format(err, buf, sizeof buf));
        return err->status;
    }
    j->last = step;
    dml_run_record_checkpoint(j->rec, j->root, step, (double)total, msha);
    return DML_OK;
}

/* ---- resuming ------------------------------------------------------------- */

/* The checkpoints' steps, listed by rank 0 and sent to every rank. */
static dml_status list_steps(dml_ckpt_job *j, int64_t **steps,
                             unsigned long *n, dml_error *err)
{
    const dml_groups *g = j->g;
    size_t count = 0;
    *steps = NULL;
    dml_status s = DML_OK;
    if (g->rank == 0)
        s = dml_ckpt_list(j->root, steps, &count, err);
    DML_CHECK(dml_groups_agree(g->world, s, err));
    *n = (unsigned long)count;
    MPI_Bcast(n, 1, MPI_UNSIGNED_LONG, 0, g->world);
    if (g->rank != 0 && *n > 0) {
        *steps = malloc(*n * sizeof **steps);
        if (!*steps)
            s = dml_error_msg(err, DML_ENOMEM, "out of memory");
    }
    if ((s = dml_groups_agree(g->world, s, err)) != DML_OK) {
        free(*steps);
        *steps = NULL;
        return s;
    }
    if (*n > 0)
        MPI_Bcast(*steps, (int)*n, MPI_INT64_T, 0, g->world);
    return DML_OK;
}

/* What a resume passed over, for the report. */
typedef struct resume_tally {
    int skipped, past;          /* checkpoints refused, and past --steps */
    char skipped_list[128];     /* "step 16, step 15, ..." */
    char past_list[128];
} resume_tally;

/* "step 16, step 15, ..." of up to 5 steps, into a list being built. */
static void name_step(char *list, size_t size, int count, int64_t step)
{
    size_t len = strlen(list);
    if (count <= 4)
        snprintf(list + len, size - len, "%sstep %lld", count > 1 ? ", " : "",
                 (long long)step);
    else if (count == 5)
        snprintf(list + len, size - len, ", ...");
}

/* Read checkpoint `step` on this rank: shard for shard when this layout
 * wrote it, else re-sharded from every shard (ckpt_relayout.h); *from
 * gets the layout that wrote it. */
static dml_status read_one(dml_ckpt_job *j, int64_t step,
                           const dml_ckpt_meta *want, float *p, float *st,
                           size_t nstate, dml_ckpt_meta *got,
                           dml_ckpt_meta *from, dml_error *e)
{
    char *text = NULL;
    bool other = dml_ckpt_read_manifest(j->root, step, from, &text, e) ==
                     DML_OK &&
                 !dml_ckpt_same_layout(from, want);
    dml_error_clear(e);
    dml_status r;
    if (other) {
        r = dml_ckpt_relayout_read(j, step, from, text, p, st, e);
        *got = *from;
    } else {
        r = dml_ckpt_read_shard(j->root, step, j->g->rank, want, p,
                                j->st->nflat, st, nstate, got, e);
        *from = *got;
    }
    free(text);
    return r;
}

/* Try checkpoint `step` on every rank, into p and st; true when every
 * rank took it (then *got is its header, *from its layout). The lowest
 * rank that refused it reports why, for the first few. */
static bool try_one(dml_ckpt_job *j, int64_t step, const dml_ckpt_meta *want,
                    float *p, float *st, size_t nstate, dml_ckpt_meta *got,
                    dml_ckpt_meta *from, resume_tally *t)
{
    const dml_groups *g = j->g;
    dml_error e;
    dml_error_clear(&e);
    dml_status r = read_one(j, step, want, p, st, nstate, got, from, &e);
    /* The lowest rank that refuses it, or world_size: one reduction says
     * both whether every rank took it and who reports why. */
    int mine = r == DML_OK ? g->world_size : g->rank, first = 0;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, g->world);
    if (first == g->world_size)
        return true;
    name_step(t->skipped_list, sizeof t->skipped_list, ++t->skipped, step);
    if (g->rank == first && t->skipped <= RESUME_REPORT_MAX) {
        char buf[1400];
        dml_error_format(&e, buf, sizeof buf);
        dml_log_warn("skipping checkpoint step %lld (rank %d): %s",
                     (long long)step, g->rank, buf);
    }
    return false;
}

/* Rank 0: the lines and events of a resume. */
static void report(dml_ckpt_job *j, const resume_tally *t,
                   int64_t steps_total, bool found, int64_t step,
                   const dml_ckpt_meta *from)
{
    char msg[512];
    if (t->skipped > RESUME_REPORT_MAX)
        dml_log_warn("%d more checkpoint%s skipped, not valid on "
                     "every rank (%d in all: %s)",
                     t->skipped - RESUME_REPORT_MAX,
                     t->skipped - RESUME_REPORT_MAX == 1 ? "" : "s",
                     t->skipped, t->skipped_list);
    if (t->past)
        dml_log_warn("%d checkpoint%s past --steps %lld not used (%s)",
                     t->past, t->past == 1 ? "" : "s",
                     (long long)steps_total, t->past_list);
    if (t->skipped || t->past) {
        char a[200] = "", b[200] = "";
        if (t->skipped)
            snprintf(a, sizeof a, "%d checkpoint%s skipped, not valid "
                     "on every rank (%s)",
                     t->skipped, t->skipped == 1 ? "" : "s", t->skipped_list);
        if (t->past)
            snprintf(b, sizeof b, "%d past --steps %lld not used (%s)",
                     t->past, (long long)steps_total, t->past_list);
        snprintf(msg, sizeof msg, "%s%s%s", a,
                 t->skipped && t->past ? "; " : "", b);
        dml_run_record_event(j->rec, "checkpoint", -1, msg);
    }
    if (found && !dml_ckpt_same_layout(from, &j->meta)) {
        snprintf(msg, sizeof msg, "resumed from checkpoint step %lld "
                 "written by dp=%d tp=%d pp=%d zero=%d, re-sharded onto "
                 "dp=%d tp=%d pp=%d zero=%d (sample %lld on)",
                 (long long)step, from->dp, from->tp, from->pp, from->zero,
                 j->meta.dp, j->meta.tp, j->meta.pp, j->meta.zero,
                 (long long)from->samples_seen);
        dml_log_info("%s", msg);
    } else if (found) {
        snprintf(msg, sizeof msg, "resumed from checkpoint step %lld",
                 (long long)step);
        dml_log_info("%s", msg);
    } else {
        snprintf(msg, sizeof msg, "no valid checkpoint under %.400s; "
                 "starting from step 0", j->root);
        dml_log_warn("%s", msg);
    }
    dml_run_record_event(j->rec, "restart", step, msg);
}

/* Take the loaded values: parameters, optimizer state, the exchange's. */
static void take(dml_ckpt_job *j, const float *p, const float *st)
{
    size_t opt = dml_update_state_values(j->up);
    memcpy(j->st->params, p, j->st->nflat * sizeof(float));
    if (opt)
        memcpy(j->up->state, st, opt * sizeof(float));
    if (dml_sync_state_values(j->sync))
        dml_sync_state_restore(j->sync, st + opt);
}

/*
 * A checkpoint past --steps is not used (the run would report more steps
 * than asked for). A checkpoint that fails a check on some rank is
 * skipped: the first RESUME_REPORT_MAX are reported one line each (by the
 * lowest rank that refused it, with its reason), the rest counted in one
 * line, and one event records them all, so that thousands of stray step-N
 * folders give a few lines, not thousands.
 */
dml_status dml_ckpt_job_resume(dml_ckpt_job *j, int64_t steps_total,
                               int64_t *step, int64_t *samples_seen,
                               dml_error *err)
{
    int64_t *steps = NULL;
    unsigned long n = 0;
    DML_CHECK(list_steps(j, &steps, &n, err));
    size_t nstate = state_values(j);
    float *p = malloc(j->st->nflat * sizeof(float));
    float *st = malloc((nstate ? nstate : 1) * sizeof(float));
    dml_status s = p && st ? DML_OK
                           : dml_error_msg(err, DML_ENOMEM, "out of memory");
    if ((s = dml_groups_agree(j->g->world, s, err)) != DML_OK) {
        free(p);
        free(st);
        free(steps);
        return s;
    }
    dml_ckpt_meta got, from;
    resume_tally t;
    memset(&t, 0, sizeof t);
    memset(&from, 0, sizeof from);
    bool found = false;
    for (unsigned long i = 0; i < n && !found; i++) {
        if (steps[i] > steps_total) {
            name_step(t.past_list, sizeof t.past_list, ++t.past, steps[i]);
            continue;
        }
        found = try_one(j, steps[i], &j->meta, p, st, nstate, &got, &from,
                        &t);
    }
    if (found) {
        take(j, p, st);
        *step = got.step;
        *samples_seen = got.samples_seen;
        j->last = got.step;
    }
    free(p);
    free(st);
    free(steps);
    if (j->g->rank == 0)
        report(j, &t, steps_total, found, found ? got.step : *step, &from);
    return DML_OK;
}

dml_status dml_ckpt_job_stopped(dml_ckpt_job *j, int64_t steps_done,
                                int64_t steps_total, bool written,
                                dml_error *err)
{
    char path[PATH_MAX];
    dml_ckpt_stop_path(j->root, path, sizeof path);
    if (j->g->rank == 0 && written)
        unlink(path);
    dml_status s = dml_error_msg(
        err, DML_ERUNTIME, "stopped after %lld of %lld steps as %s asked%s",
        (long long)steps_done, (long long)steps_total, path,
        written ? ": checkpoint written, --resume continues from it"
                : ", but the checkpoint failed");
    char msg[PATH_MAX + 256];
    dml_run_record_event(j->rec, "stopped", steps_done,
                         dml_error_format(err, msg, sizeof msg));
    return s;
}
