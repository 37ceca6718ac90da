/*
 * input.c: the run's input, judged on rank 0 and shared (see input.h).
 */
#include "executor/input.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/file.h"
#include "common/json.h"
#include "executor/data.h"
#include "executor/groups.h"
#include "executor/sync/sync.h"
#include "executor/heartbeat.h"
#include "executor/optim.h"

#define DEFAULT_DATA_DIR "/usr/share/datasets/fashion-mnist"
/* Largest plan file read, bytes. */
#define PLAN_MAX_BYTES (16u << 20)

bool dml_input_synthetic(const dml_exec_options *o)
{
    return o->data && strcmp(o->data, "synthetic") == 0;
}

const char *dml_input_data_dir(const dml_exec_options *o)
{
    return o->data ? o->data : DEFAULT_DATA_DIR;
}

void dml_input_init(dml_input *in)
{
    memset(in, 0, sizeof *in);
    dml_plan_init(&in->plan);
}

void dml_input_free(dml_input *in)
{
    free(in->identity);
    free(in->plan_text);
    memset(in, 0, sizeof *in);
}

/* Physical memory of this machine, bytes (0 when unknown). */
static double machine_memory_bytes(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (double)pages * (double)size : 0.0;
}

/*
 * Sizes a model spec allows (widths up to 1e8) but no rank could hold:
 * refused here, as bad input, before anything is allocated from them.
 * Each rank holds at least its stage's parameters / tp, with a gradient
 * and the optimizer's state per parameter; that lower bound must fit the
 * memory of this machine (ranks elsewhere are taken to be alike). Every
 * activation message of a micro-batch or an evaluation chunk is an MPI
 * count, an int.
 */
static dml_status check_sizes(const dml_plan *p, const char *path,
                              dml_error *err)
{
    const dml_model_spec *m = &p->model;
    const dml_parallel_config *c = &p->par;
    int64_t rows = c->mbs > DML_INPUT_EVAL_ROWS_MAX ? c->mbs : DML_INPUT_EVAL_ROWS_MAX;
    double worst = 0.0;
    for (int i = 0; i < p->stage_count; i++) {
        double n = 0.0;
        for (int64_t l = p->stages[i].first_layer;
             l <= p->stages[i].last_layer; l++) {
            int64_t in, out;
            dml_model_spec_mlp_layer(m, (int)l, &in, &out);
            n += (double)in * (double)out + (double)out;
            int64_t w = in > out ? in : out;
            if ((double)rows * (double)w > (double)INT_MAX)
                return dml_error_set(
                    err, DML_EINPUT, path, 0, 0, "model.hidden",
                    "layer %lld is %lld wide: %lld rows of it are more "
                    "values than one MPI message holds (%d)",
                    (long long)l, (long long)w, (long long)rows, INT_MAX);
        }
        if (n > worst)
            worst = n;
    }
    double per_value = sizeof(float) *
                       (2.0 + dml_optim_state_slots(p->sched.optimizer));
    double need = worst / c->tp * per_value, have = machine_memory_bytes();
    if (have > 0 && need > have)
        return dml_error_set(err, DML_EINPUT, path, 0, 0, "model",
                             "%.3g parameters per pipeline stage need at "
                             "least %.3g GB per rank (weights, gradients "
                             "and %s state), this machine has %.3g GB",
                             worst, need / 1e9,
                             dml_optimizer_name(p->sched.optimizer),
                             have / 1e9);
    return DML_OK;
}

/* What the executor can run of a valid plan; the first refusal is the
 * error, naming the plan file and field. */
static dml_status check_runnable(const dml_plan *p, const char *path,
                                 int world_size, dml_error *err)
{
    const dml_parallel_config *c = &p->par;
    int64_t need = (int64_t)c->dp * c->tp * c->pp;
    if (need != world_size)
        return dml_error_set(err, DML_EINPUT, path, 0, 0, "parallel",
                             "the plan needs dp x tp x pp = %d x %d x %d = "
                             "%lld ranks, but mpirun started %d",
                             c->dp, c->tp, c->pp, (long long)need, world_size);
    if (p->model.type != DML_MODEL_MLP)
        return dml_error_set(err, DML_EINPUT, path, 0, 0, "model.type",
                             "dml-exec runs mlp models; the %s model '%s' "
                             "cannot be run yet",
                             "transformer", p->model.name);
    if (p->model.dtype != DML_DTYPE_FP32)
        return dml_error_set(err, DML_EINPUT, path, 0, 0, "model.dtype",
                             "dml-exec trains in fp32, the plan says %s",
                             dml_dtype_name(p->model.dtype));
    if (p->model.layers > DML_WEIGHTS_MAX_LAYERS)
        return dml_error_set(err, DML_EINPUT, path, 0, 0, "model.hidden",
                             "%lld layers, dml-exec runs at most %d",
                             (long long)p->model.layers,
                             DML_WEIGHTS_MAX_LAYERS);
    if (p->model.output > 256)
        return dml_error_set(err, DML_EINPUT, path, 0, 0, "model.output",
                             "%lld classes, labels are bytes (at most 256)",
                             (long long)p->model.output);
    if (c->schedule == DML_PP_INTERLEAVED || c->v != 1)
        return dml_error_set(err, DML_EINPUT, path, 0, 0, "parallel.schedule",
                             "dml-exec runs 1f1b and gpipe schedules, not "
                             "interleaved");
    if (c->zero > 1)
        return dml_error_set(err, DML_EINPUT, path, 0, 0, "parallel.zero",
                             "dml-exec implements ZeRO stages 0 and 1, the "
                             "plan asks for %d", c->zero);
    if (c->recompute != DML_RECOMPUTE_NONE)
        return dml_error_set(err, DML_EINPUT, path, 0, 0,
                             "parallel.recompute",
                             "dml-exec keeps all activations; recompute=%s "
                             "is not supported",
                             dml_recompute_name(c->recompute));
    if (!dml_sync_strategy_for(c, c->dp)) {
        char text[48];
        return dml_error_set(err, DML_EINPUT, path, 0, 0, "parallel.sync",
                             "dml-exec has no executor for sync=%s yet "
                             "(it runs allreduce)",
                             dml_sync_spec_format(&c->sync, text,
                                                  sizeof text));
    }
    /* ssp.c: each TP rank would apply its own number of clocks a step */
    if (c->sync.kind == DML_SYNC_SSP && c->tp > 1 && c->dp > 1)
        return dml_error_set(err, DML_EINPUT, path, 0, 0, "parallel.sync",
                             "sync=ssp:%g runs with tp=1: the tensor-"
                             "parallel ranks of a stage would apply "
                             "different numbers of stale steps (use "
                             "sync=local:H, or pp for model parallelism)",
                             c->sync.param);
    if (c->mbs > (1 << 20) || c->microbatches > (1 << 20))
        return dml_error_set(err, DML_EINPUT, path, 0, 0, "parallel.mbs",
                             "micro-batch size and count must be at most "
                             "%d", 1 << 20);
    for (int i = 0; i < p->share_count; i++)
        if (p->shares[i].microbatches > (1 << 20))
            return dml_error_set(err, DML_EINPUT, path, 0, 0,
                                 "placement.dp_shares",
                                 "a replica's micro-batches must be at most "
                                 "%d", 1 << 20);
    return check_sizes(p, path, err);
}

/* The model's widths, for the weight file and the stages. */
static void model_of_plan(dml_input *in)
{
    const dml_model_spec *m = &in->plan.model;
    int L = (int)m->layers;
    for (int l = 0; l < L; l++) {
        int64_t i, o;
        dml_model_spec_mlp_layer(m, l, &i, &o);
        if (l == 0)
            in->shape.widths[0] = i;
        in->shape.widths[l + 1] = o;
    }
    in->shape.layers = L;
    in->model.layers = L;
    in->model.widths = in->shape.widths;
    in->model.hidden_act = m->activation == DML_ACT_TANH ? DML_ACT_KIND_TANH
                           : m->activation == DML_ACT_GELU
                               ? DML_ACT_KIND_GELU
                               : DML_ACT_KIND_RELU;
}

/* The plan from its bytes, all plan_len of them: read up to a NUL as a
 * C string, "{...}\0garbage" passed and a NUL inside was reported as the
 * end of the file (common/json.c now names the byte). */
static dml_status parse_plan_text(dml_input *in, const char *name,
                                  dml_error *err)
{
    dml_json_doc *doc = NULL;
    DML_CHECK(dml_json_doc_load_text(name, in->plan_text, in->plan_len, &doc,
                                     err));
    dml_json_obj root;
    dml_json_obj_root(doc, &root);
    dml_status s = dml_plan_parse(&root, &in->plan, err);
    dml_json_doc_free(doc);
    return s;
}

/* Two jobs on one checkpoint directory would overwrite each other's
 * checkpoints: a rank of another job that still holds its state file
 * (heartbeat.h) is a refusal. */
static dml_status check_not_in_use(const char *dir, dml_error *err)
{
    dml_heartbeat_report rep;
    DML_CHECK(dml_heartbeat_scan(dir, &rep, err));
    const dml_heartbeat_rank *r = dml_heartbeat_report_alive(&rep);
    dml_status s = DML_OK;
    if (r)
        s = dml_error_set(err, DML_EINPUT, dir, 0, 0, NULL,
                          "checkpoint directory in use by a running "
                          "dml-exec (run %lld, rank %d, pid %ld on %s); "
                          "wait for it to end or choose another "
                          "--checkpoint-dir",
                          (long long)rep.run.run_id, r->rank, r->pid,
                          r->host);
    dml_heartbeat_report_free(&rep);
    return s;
}

dml_status dml_input_check(dml_input *in, const dml_exec_options *o,
                           int world_size, dml_error *err)
{
    if (!o->plan_path)
        return dml_error_msg(err, DML_EUSAGE, "--plan FILE is required");
    if ((o->checkpoint_every > 0 || o->resume) && !o->checkpoint_dir)
        return dml_error_msg(err, DML_EUSAGE, "--checkpoint-every and "
                             "--resume need --checkpoint-dir DIR");
    if (o->checkpoint_dir && o->checkpoint_every <= 0 && !o->resume)
        return dml_error_msg(err, DML_EUSAGE, "--checkpoint-dir needs "
                             "--checkpoint-every K or --resume");
    DML_CHECK(dml_file_read_all(o->plan_path, PLAN_MAX_BYTES, &in->plan_text,
                                &in->plan_len, err));
    DML_CHECK(parse_plan_text(in, o->plan_path, err));
    DML_CHECK(check_runnable(&in->plan, o->plan_path, world_size, err));
    model_of_plan(in);
    for (int i = 0; i < in->plan.stage_count; i++) {
        dml_status s = dml_stage_check(&in->model,
                                       (int)in->plan.stages[i].first_layer,
                                       (int)in->plan.stages[i].last_layer,
                                       in->plan.par.tp, err);
        if (s != DML_OK) {
            dml_error_prefix(err, "%s: placement.stages[%d]: ", o->plan_path,
                             i);
            return s;
        }
    }
    if (!dml_input_synthetic(o)) {
        const char *dir = dml_input_data_dir(o);
        if (!dml_file_exists(dir))
            return dml_error_set(err, DML_EINPUT, dir, 0, 0, NULL,
                                 "no such data directory (install "
                                 "dataset-fashion-mnist, or pass --data "
                                 "synthetic)");
        DML_CHECK(dml_data_check_dir(dir, in->shape.widths[0],
                                     (int)in->shape.widths[in->model.layers], err));
    }
    float *init = NULL;
    if (o->init_weights)
        DML_CHECK(dml_weights_read(o->init_weights, &in->shape, &init, err));
    if (o->checkpoint_dir) {
        /* What a checkpoint must have been written by to be resumed. */
        in->identity = malloc(sizeof *in->identity);
        dml_status s = in->identity
                           ? dml_identity_make(
                                 &in->plan, dml_input_synthetic(o) ? "synthetic"
                                                          : dml_input_data_dir(o),
                                 o->seed, o->shuffle, init,
                                 init ? dml_weights_count(&in->shape) : 0,
                                 in->identity, err)
                           : dml_error_msg(err, DML_ENOMEM, "out of memory");
        if (s != DML_OK) {
            free(init);
            return s;
        }
    }
    free(init);
    if (o->save_weights)
        DML_CHECK(dml_file_check_writable(o->save_weights, err));
    if (o->checkpoint_dir) {
        /* An existing directory must take files; a new one is created at
         * the first checkpoint, so its parent must exist. */
        char probe[1200];
        snprintf(probe, sizeof probe, "%s/.dml-write-test",
                 o->checkpoint_dir);
        DML_CHECK(dml_file_check_writable(
            dml_file_exists(o->checkpoint_dir) ? probe : o->checkpoint_dir,
            err));
        DML_CHECK(check_not_in_use(o->checkpoint_dir, err));
    }
    return DML_OK;
}

dml_status dml_input_share(dml_input *in, const dml_exec_options *o,
                           MPI_Comm world, dml_error *err)
{
    int rank;
    MPI_Comm_rank(world, &rank);
    unsigned long len = rank == 0 ? (unsigned long)in->plan_len : 0;
    MPI_Bcast(&len, 1, MPI_UNSIGNED_LONG, 0, world);
    in->plan_len = len;
    dml_status s = DML_OK;
    if (rank != 0) {
        in->plan_text = malloc(len + 1);
        if (o->checkpoint_dir)
            in->identity = malloc(sizeof *in->identity);
        if (!in->plan_text || (o->checkpoint_dir && !in->identity))
            s = dml_error_msg(err, DML_ENOMEM, "out of memory");
    }
    DML_CHECK(dml_groups_agree(world, s, err));
    MPI_Bcast(in->plan_text, (int)len, MPI_CHAR, 0, world);
    in->plan_text[len] = '\0';
    if (in->identity)
        MPI_Bcast(in->identity, (int)sizeof *in->identity, MPI_BYTE, 0, world);
    if (rank != 0) {
        DML_CHECK(parse_plan_text(in, o->plan_path, err));
        model_of_plan(in);
    }
    return DML_OK;
}
