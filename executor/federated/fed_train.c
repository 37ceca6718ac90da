/*
 * fed_train.c: the rounds of fed_train.h: the round's clients, each
 * client's local training, the server's average, and the round's record.
 */
#include "executor/federated/fed_train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/rng.h"
#include "db/fed_store.h"
#include "executor/federated/partition.h"
#include "executor/federated/sample.h"
#include "executor/federated/secagg.h"
#include "executor/guard.h"
#include "executor/optim.h"

#define STRAGGLER_SEED_MIX 0x57A6613E5D0FEDA1ULL
#define LOCAL_SEED_MIX 0x10CA15EEDC11E47AULL

/* A rank's federated state: one model's worth of each buffer. */
typedef struct fed {
    const dml_fed_env *env;
    const dml_fed_spec *spec;
    dml_fed_partition part;      /* the clients' shards */
    dml_fed_sampler sampler;     /* the rounds' clients */
    int m;                       /* clients per round */
    size_t np;                   /* parameters of the model */
    float *global;               /* [np] the round's global weights */
    float *mstate;               /* [nflat] one client's SGD buffer */
    double *acc;                 /* [np] sum n_c u_c (plain) */
    uint32_t *enc, *sum32;       /* [np] one client's masked vector, and
                                    the rank's sum of them (secagg) */
    double *dec;                 /* [np] the decoded aggregate (server) */
    dml_stage_acts acts;         /* one batch */
    int cap;                     /* rows of acts */
    float *s0, *s1;              /* backward scratch */
    uint32_t *order;             /* [largest shard] a client's order */
    dml_optim_slice *slices;     /* one per tensor */
    int *clients, *straggler;    /* [m] the round's clients; 0 none,
                                    1 dropped, 2 partial */
    int *surv, *drop;            /* [m] survivors and dropped (server) */
    uint32_t *pos;               /* [m] scratch of the straggler draw */
    double *work;                /* [m] partial fraction */
    double n_ref;                /* n / N: secagg's weight unit */
    size_t clamped;              /* secagg values clamped (this rank) */
    dml_stage_timers tm;
} fed;

static void fed_free(fed *f)
{
    dml_fed_partition_free(&f->part);
    dml_fed_sampler_free(&f->sampler);
    dml_stage_acts_free(&f->acts, f->env->st);
    free(f->global);
    free(f->mstate);
    free(f->acc);
    free(f->enc);
    free(f->sum32);
    free(f->dec);
    free(f->s0);
    free(f->s1);
    free(f->order);
    free(f->slices);
    free(f->clients);
    free(f->straggler);
    free(f->work);
    free(f->surv);
    free(f->drop);
    free(f->pos);
}

static dml_status fed_init(fed *f, const dml_fed_env *env, dml_error *err)
{
    memset(f, 0, sizeof *f);
    f->env = env;
    f->spec = &env->plan->fed;
    const dml_fed_spec *s = f->spec;
    dml_stage *st = env->st;
    DML_CHECK(dml_fed_partition_make(env->train->y, env->train->n,
                                     (int)st->out_width, s->clients,
                                     &s->split, env->seed, &f->part, err));
    f->m = dml_fed_clients_per_round(s->clients, s->sample);
    f->np = st->nparams;
    f->n_ref = (double)env->train->n / s->clients;
    int64_t largest = 0;
    for (int c = 0; c < s->clients; c++)
        if (dml_fed_shard_size(&f->part, c) > largest)
            largest = dml_fed_shard_size(&f->part, c);
    f->cap = (int)(s->batch > 0 && s->batch < largest ? s->batch : largest);
    size_t w = (size_t)f->cap * (size_t)dml_stage_scratch_width(st);
    f->global = malloc(sizeof *f->global * st->nflat);
    f->mstate = calloc(st->nflat, sizeof *f->mstate);
    f->acc = calloc(f->np, sizeof *f->acc);
    f->s0 = malloc(sizeof *f->s0 * w);
    f->s1 = malloc(sizeof *f->s1 * w);
    f->order = malloc(sizeof *f->order * (size_t)largest);
    f->slices = calloc((size_t)st->ntensors, sizeof *f->slices);
    f->clients = malloc(sizeof *f->clients * (size_t)f->m);
    f->straggler = malloc(sizeof *f->straggler * (size_t)f->m);
    f->work = malloc(sizeof *f->work * (size_t)f->m);
    f->surv = malloc(sizeof *f->surv * (size_t)f->m);
    f->drop = malloc(sizeof *f->drop * (size_t)f->m);
    f->pos = malloc(sizeof *f->pos * (size_t)f->m);
    if (s->secagg) {
        f->enc = malloc(sizeof *f->enc * f->np);
        f->sum32 = malloc(sizeof *f->sum32 * f->np);
        f->dec = malloc(sizeof *f->dec * f->np);
    }
    if (!f->global || !f->mstate || !f->acc || !f->s0 || !f->s1 ||
        !f->order || !f->slices || !f->clients || !f->straggler ||
        !f->work || !f->surv || !f->drop || !f->pos || (s->secagg && (!f->enc || !f->sum32 || !f->dec)) ||
        dml_fed_sampler_init(&f->sampler, s->clients, f->m, env->seed))
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    for (int t = 0; t < st->ntensors; t++) {
        const dml_tensor *T = &st->tensors[t];
        f->slices[t] = (dml_optim_slice){
            .w = st->params + T->off, .g = st->grads + T->off,
            .m = f->mstate + T->off, .n = T->n, .tensor = t,
            .no_decay = T->bias};
    }
    return dml_stage_acts_init(&f->acts, st, f->cap, err);
}

/* The round's clients, and which of them straggle (and how much). */
static void draw_round(fed *f, int64_t round)
{
    dml_fed_sampler_next(&f->sampler, f->clients);
    dml_rng r;
    dml_rng_seed(&r, (f->env->seed ^ STRAGGLER_SEED_MIX) +
                         (uint64_t)round * 0x9E3779B97F4A7C15ULL);
    uint32_t *pos = f->pos;
    for (int i = 0; i < f->m; i++) {
        pos[i] = (uint32_t)i;
        f->straggler[i] = 0;
        f->work[i] = 1.0;
    }
    dml_rng_shuffle(&r, pos, (uint64_t)f->m);
    long k = lround(f->spec->stragglers * f->m);
    for (long i = 0; i < k; i++) {
        f->straggler[pos[i]] = f->spec->partial ? 2 : 1;
        f->work[pos[i]] = dml_rng_uniform(&r);
    }
}

/* Client c trains `steps` local SGD steps from the global weights, in
 * st->params; returns the summed loss of its samples (rows in *rows). */
static double train_client(fed *f, int c, int64_t round, int64_t steps,
                           int64_t *rows_done)
{
    const dml_fed_env *env = f->env;
    dml_stage *st = env->st;
    const dml_fed_spec *s = f->spec;
    int64_t n = dml_fed_shard_size(&f->part, c);
    memcpy(f->order, f->part.index + f->part.offset[c], sizeof *f->order * (size_t)n);
    memcpy(st->params, f->global, sizeof *st->params * st->nflat);
    memset(f->mstate, 0, sizeof *f->mstate * st->nflat);
    dml_rng r;
    dml_rng_seed(&r, (env->seed ^ LOCAL_SEED_MIX) +
                         ((uint64_t)round << 24 | (uint64_t)c) *
                             0x9E3779B97F4A7C15ULL);
    dml_optim_hparams hp = {.kind = DML_OPT_SGD};
    int b = (int)(s->batch > 0 && s->batch < n ? s->batch : n);
    int64_t pos = n;
    double loss = 0;
    *rows_done = 0;
    for (int64_t k = 0; k < steps; k++) {
        if (pos >= n) { /* a new local epoch */
            dml_rng_shuffle(&r, f->order, (uint64_t)n);
            pos = 0;
        }
        int rows = (int)(pos + b <= n ? b : n - pos);
        for (int i = 0; i < rows; i++) {
            uint32_t idx = f->order[pos + i];
            dml_data_features(env->train, idx, f->acts.x + (size_t)i * st->in_width);
            f->acts.labels[i] = env->train->y[idx];
        }
        pos += rows;
        loss += dml_stage_forward(st, &f->acts, rows, NULL, &f->tm);
        *rows_done += rows;
        memset(st->grads, 0, sizeof *st->grads * st->nflat);
        dml_stage_backward(st, &f->acts, rows, NULL, 1.0f / (float)rows, NULL,
                           f->s0, f->s1, NULL, NULL, &f->tm);
        if (s->prox > 0) /* FedProx: the gradient of mu/2 |w - w_g|^2 */
            for (size_t i = 0; i < f->np; i++)
                st->grads[i] += (float)s->prox * (st->params[i] - f->global[i]);
        dml_optim_apply(&hp, f->slices, (size_t)st->ntensors, (long)k + 1,
                        s->lr, NULL);
    }
    return loss;
}

/* Add client c's weighted update to this rank's sum (masked under
 * secagg, against every client of the round: dropout comes after). */
static void add_update(fed *f, int c, uint64_t round_seed)
{
    const float *w = f->env->st->params;
    double nc = (double)dml_fed_shard_size(&f->part, c);
    if (!f->spec->secagg) {
        for (size_t i = 0; i < f->np; i++)
            f->acc[i] += nc * ((double)w[i] - (double)f->global[i]);
        return;
    }
    /* the update itself, in st->grads (free after the last step) */
    float *u = f->env->st->grads;
    for (size_t i = 0; i < f->np; i++)
        u[i] = w[i] - f->global[i];
    f->clamped += dml_secagg_encode(u, f->np, nc / f->n_ref,
                                    dml_secagg_limit(f->m), f->enc);
    dml_secagg_mask(f->enc, f->np, c, f->clients, f->m, round_seed);
    for (size_t i = 0; i < f->np; i++)
        f->sum32[i] += f->enc[i];
}

/* Round sums every rank contributes to (reduced to the server). */
enum { R_WEIGHT, R_LOSS, R_ROWS, R_COMPUTE, R_CLAMPED, R_COUNT };

/* The server's new global weights from the round's sums (rank 0). */
static void server_average(fed *f, const double *sums, uint64_t round_seed)
{
    double W = sums[R_WEIGHT];
    if (W <= 0)
        return; /* every client dropped: the model stays */
    if (!f->spec->secagg) {
        for (size_t i = 0; i < f->np; i++)
            f->global[i] += (float)(f->acc[i] / W);
        return;
    }
    int *surv = f->surv, *drop = f->drop, ns = 0, nd = 0;
    for (int i = 0; i < f->m; i++) {
        if (f->straggler[i] == 1)
            drop[nd++] = f->clients[i];
        else
            surv[ns++] = f->clients[i];
    }
    dml_secagg_unmask_dropped(f->sum32, f->np, surv, ns, drop, nd, round_seed);
    dml_secagg_decode(f->sum32, f->np, f->dec);
    for (size_t i = 0; i < f->np; i++)
        f->global[i] += (float)(f->dec[i] * f->n_ref / W);
}

/* One round: its clients trained where they are hosted, the average,
 * the new model everywhere; the round's figures into rec. */
static void run_round(fed *f, int64_t round, dml_db_fed_round *rec)
{
    const dml_fed_env *env = f->env;
    draw_round(f, round);
    uint64_t round_seed = env->seed * 0x2545F4914F6CDD1DULL + (uint64_t)round;
    double sums[R_COUNT] = {0}, all[R_COUNT] = {0};
    memset(f->acc, 0, sizeof *f->acc * f->np);
    if (f->sum32)
        memset(f->sum32, 0, sizeof *f->sum32 * f->np);
    f->clamped = 0;
    f->tm.compute_s = 0;
    int returned = 0, dropped = 0, partial = 0;
    for (int i = 0; i < f->m; i++) {
        returned += f->straggler[i] != 1;
        dropped += f->straggler[i] == 1;
        partial += f->straggler[i] == 2;
        if (i % env->size != env->rank || f->straggler[i] == 1)
            continue;
        int c = f->clients[i];
        int64_t full = dml_fed_local_steps(f->spec, dml_fed_shard_size(&f->part, c));
        int64_t steps = full, rows = 0;
        if (f->straggler[i] == 2) /* a seeded 1..full of the steps */
            steps = 1 + (int64_t)(f->work[i] * (double)full) % full;
        sums[R_LOSS] += train_client(f, c, round, steps, &rows);
        sums[R_ROWS] += (double)rows;
        sums[R_WEIGHT] += (double)dml_fed_shard_size(&f->part, c);
        add_update(f, c, round_seed);
    }
    sums[R_COMPUTE] = f->tm.compute_s;
    sums[R_CLAMPED] = (double)f->clamped;
    MPI_Allreduce(sums, all, R_COUNT, MPI_DOUBLE, MPI_SUM, env->world);
    if (f->spec->secagg)
        MPI_Reduce(env->rank == 0 ? MPI_IN_PLACE : f->sum32, f->sum32,
                   (int)f->np, MPI_UINT32_T, MPI_SUM, 0, env->world);
    else
        MPI_Reduce(env->rank == 0 ? MPI_IN_PLACE : f->acc, f->acc,
                   (int)f->np, MPI_DOUBLE, MPI_SUM, 0, env->world);
    if (env->rank == 0)
        server_average(f, all, round_seed);
    MPI_Bcast(f->global, (int)f->np, MPI_FLOAT, 0, env->world);
    memcpy(env->st->params, f->global, sizeof *f->global * f->np);
    double model_bytes = 4.0 * (double)f->np;
    *rec = (dml_db_fed_round){
        .round = round,
        .clients = f->m,
        .dropped = dropped,
        .partial = partial,
        .bytes_down = model_bytes * f->m,
        .bytes_up = returned * (f->spec->secagg
                                    ? dml_secagg_bytes_up(f->np, dropped)
                                    : model_bytes),
        .train_loss = all[R_ROWS] > 0 ? all[R_LOSS] / all[R_ROWS] : NAN,
        .samples = (int64_t)all[R_ROWS],
        .compute_s = all[R_COMPUTE],
    };
    if (env->rank == 0 && all[R_CLAMPED] > 0)
        dml_log_warn("round %lld: %.0f secure-aggregation values clamped to "
                     "the fixed-point range", (long long)round,
                     all[R_CLAMPED]);
}

/* Test accuracy of the global model, each rank a share (collective). */
static double evaluate(const dml_fed_env *env)
{
    long mine = dml_pipeline_evaluate(env->pipe, env->test, env->size,
                                      env->rank), total = 0;
    MPI_Allreduce(&mine, &total, 1, MPI_LONG, MPI_SUM, env->world);
    return env->test->n > 0 ? (double)total / (double)env->test->n : NAN;
}

/* The shards' statistics and the federated knobs, once (rank 0). */
static void record_run(const fed *f)
{
    const dml_fed_env *env = f->env;
    if (env->rank != 0 || !env->rec->db || env->rec->run_id <= 0)
        return;
    dml_fed_shard_stats st;
    dml_fed_partition_stats(&f->part, env->train->y, (int)env->st->out_width,
                            &st);
    const dml_fed_spec *s = f->spec;
    char split[48];
    dml_fed_split_format(&s->split, split, sizeof split);
    dml_db_fed_run row = {
        .clients = s->clients, .per_round = f->m, .sample = s->sample,
        .epochs = s->epochs, .batch = s->batch, .split = split,
        .prox = s->prox, .secagg = s->secagg, .stragglers = s->stragglers,
        .straggler_work = s->partial ? "partial" : "drop",
        .min_samples = st.min_samples, .max_samples = st.max_samples,
        .min_classes = st.min_classes, .max_classes = st.max_classes,
        .mean_classes = st.mean_classes,
        .mean_max_fraction = st.mean_max_fraction};
    dml_error err;
    if (dml_db_record_fed_run(env->rec->db, env->rec->run_id, &row, &err) !=
        DML_OK)
        dml_log_warn("federated run not recorded: %s", err.msg);
}

dml_status dml_fed_train(const dml_fed_env *env, int64_t first,
                         int64_t rounds, int64_t *run, dml_error *err)
{
    *run = 0;
    fed f;
    dml_status s = fed_init(&f, env, err);
    if (s != DML_OK) {
        fed_free(&f);
        return s;
    }
    memcpy(f.global, env->st->params, sizeof *f.global * env->st->nflat);
    dml_fed_sampler_seek(&f.sampler, first);
    record_run(&f);
    dml_progress prog;
    dml_progress_begin(&prog, "rounds", (long)(rounds - first),
                       env->progress);
    for (int64_t round = first; round < rounds && s == DML_OK; round++) {
        double t0 = dml_clock_now_s();
        dml_db_fed_round r;
        run_round(&f, round, &r);
        r.test_accuracy = evaluate(env);
        r.wall_s = dml_clock_now_s() - t0;
        ++*run;
        size_t bad = dml_guard_count_nonfinite(f.global, f.np);
        if (env->rank == 0) {
            dml_step_stats sum = {.loss_sum = r.train_loss * (double)r.samples,
                                  .compute_s = r.compute_s};
            dml_run_record_step(env->rec, round - first, round, r.train_loss,
                                env->plan->fed.lr, r.samples, &sum, r.wall_s,
                                NAN, NAN, r.test_accuracy, NAN);
            dml_error e2;
            if (env->rec->db && env->rec->run_id > 0 &&
                dml_db_record_fed_round(env->rec->db, env->rec->run_id, &r,
                                        &e2) != DML_OK)
                dml_log_warn("round %lld not recorded: %s",
                             (long long)round, e2.msg);
            dml_progress_step(&prog, (long)(round - first + 1), NULL);
        }
        env->rec->steps_done = round + 1;
        if (bad > 0 || !isfinite(r.train_loss))
            s = dml_error_msg(err, DML_ERUNTIME,
                              "round %lld: the model is not finite (%zu "
                              "weights), loss %g", (long long)round, bad,
                              r.train_loss);
    }
    dml_progress_end(&prog);
    fed_free(&f);
    return s;
}
