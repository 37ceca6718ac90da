/*
 * test_support.c: the shared test set-up of test_support.h.
 */
#define _GNU_SOURCE /* mkdtemp, nftw */
#include "tests/support/test_support.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "costmodel/model_spec.h"

dml_status dml_test_plan_mlp(dml_plan *plan, const char *cluster_name,
                             const char *fingerprint, int dp, int tp, int pp,
                             int64_t mbs, int64_t mb, int threads,
                             dml_error *err)
{
    dml_plan_init(plan);
    dml_status s = dml_model_spec_load("mlp-fmnist", NULL, &plan->model, err);
    if (s != DML_OK)
        return s;
    snprintf(plan->cluster_name, sizeof plan->cluster_name, "%s",
             cluster_name);
    snprintf(plan->cluster_fingerprint, sizeof plan->cluster_fingerprint,
             "%s", fingerprint);
    plan->par.dp = dp;
    plan->par.tp = tp;
    plan->par.pp = pp;
    plan->par.mbs = mbs;
    plan->par.microbatches = mb;
    plan->par.threads_per_rank = threads;
    plan->devices = (int64_t)dp * tp * pp;
    plan->sched.global_batch = (int64_t)dp * mbs * mb;
    return dml_plan_split_stages(plan, err);
}

dml_status dml_test_plan_predict(const dml_cluster_spec *c, dml_plan *plan,
                                 const dml_costmodel_calib *cal,
                                 dml_error *err)
{
    /* the context is large: off the stack */
    dml_costmodel_ctx *ctx = malloc(sizeof *ctx);
    if (!ctx)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    dml_costmodel_options opt;
    dml_costmodel_options_init(&opt);
    opt.optimizer = plan->sched.optimizer;
    if (cal)
        opt.calib = *cal;
    dml_status s = dml_costmodel_prepare(&plan->model, c, &opt, ctx, err);
    if (s == DML_OK)
        s = dml_costmodel_predict_plan(ctx, plan, NULL, err);
    free(ctx);
    return s;
}

void dml_test_gpt(dml_model_spec *m, const char *name, int64_t layers,
                  int64_t hidden, int64_t heads, int64_t seq, int64_t vocab)
{
    dml_model_spec_init(m, DML_MODEL_TRANSFORMER);
    snprintf(m->name, sizeof m->name, "%s", name);
    m->layers = layers;
    m->hidden = hidden;
    m->heads = heads;
    m->kv_heads = heads;
    m->ffn_hidden = 4 * hidden;
    m->seq_len = seq;
    m->vocab = vocab;
    m->tied_embeddings = true;
}

dml_parallel_config dml_test_parallel(int dp, int tp, int pp, int v,
                                      int64_t mbs, int64_t mb)
{
    dml_parallel_config p;
    dml_parallel_config_init(&p);
    p.dp = dp;
    p.tp = tp;
    p.pp = pp;
    p.v = v;
    p.mbs = mbs;
    p.microbatches = mb;
    if (v > 1)
        p.schedule = DML_PP_INTERLEAVED;
    return p;
}

void dml_test_cosine_schedule(dml_train_schedule *s)
{
    dml_train_schedule_init(s);
    s->peak_lr = 1e-3;
    s->min_lr = 1e-4;
    s->warmup_steps = 10;
    s->decay_steps = 100;
    s->decay = DML_DECAY_COSINE;
}

void dml_test_remove_db(const char *path)
{
    char side[4096];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

bool dml_test_tmpdir(const char *name, char *dir, size_t size)
{
    int n = snprintf(dir, size, "/tmp/dml-test-%s-XXXXXX", name);
    return n > 0 && (size_t)n < size && mkdtemp(dir) != NULL;
}

static int remove_one(const char *p, const struct stat *st, int flag,
                      struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

bool dml_test_rmtree(const char *path)
{
    return nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS) == 0;
}
