/*
 * exec.c: the training loop of dml-exec (see exec.h).
 *
 * Reading order: validation and setup (dml_exec_open), then one step
 * (step_run: the pipeline schedule, forward_mb / backward_mb, the
 * data-parallel buckets, the optimizer), then what follows the steps
 * (checkpoints, evaluation, the weight file, recording).
 */
#include "executor/exec.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/file.h"
#include "common/interrupt.h"
#include "common/log.h"
#include "common/progress.h"
#include "costmodel/plan.h"
#include "db/db.h"
#include "db/plan_store.h"
#include "db/run_store.h"
#include "db/spec_store.h"
#include "executor/ckpt.h"
#include "executor/data.h"
#include "executor/guard.h"
#include "executor/heartbeat.h"
#include "executor/identity.h"
#include "executor/limits.h"
#include "executor/optim.h"
#include "executor/record.h"
#include "executor/stage.h"
#include "executor/weights.h"

#define DEFAULT_DATA_DIR "/usr/share/datasets/fashion-mnist"
/* Largest plan file read, bytes. */
#define PLAN_MAX_BYTES (16u << 20)
/* Skipped checkpoints reported one by one on --resume; the rest are
 * counted in one line and one event. */
#define RESUME_REPORT_MAX 3
/* Rows of one test-set chunk at most (bounds the evaluation buffers). */
#define EVAL_ROWS_MAX 1024
/* Point-to-point tags; messages of one kind between two ranks arrive in
 * the order sent (MPI non-overtaking), so the kind is all a tag says. */
#define TAG_ACT 1
#define TAG_GRAD 2
#define TAG_EVAL 3

/* One data-parallel gradient bucket: [lo, hi) of the flat buffers. */
typedef struct bucket {
    size_t lo, hi;       /* range in the flat gradient buffer, values */
    size_t chunk;        /* (hi - lo) / dp: one rank's ZeRO-1 shard */
    size_t shard_off;    /* offset of this rank's shard in the compact
                            ZeRO-1 arrays (gshard, optimizer state) */
    bool launched;       /* its collective has been started this step */
} bucket;

/* The activations and send state of one micro-batch in flight. */
typedef struct slot {
    dml_stage_acts acts;  /* stage activations */
    float *gsend;         /* [mbs x in_width] input gradient sent back */
    MPI_Request req_act;  /* send of the stage output (MPI_REQUEST_NULL) */
    MPI_Request req_grad; /* send of gsend */
} slot;

/* Wall time of one step on this rank, split as the database records it. */
typedef struct step_times {
    double step_s, compute_s, tp_comm_s, pp_comm_s, idle_s, dp_comm_s,
        optimizer_s;
} step_times;

struct dml_exec {
    dml_exec_options opt;
    char *plan_text;           /* the plan file, as broadcast */
    size_t plan_len;           /* its bytes (a NUL in it is an error) */
    dml_identity *identity;    /* what the result depends on (identity.h),
                                  with --checkpoint-dir; else NULL */
    dml_plan *plan;
    MPI_Comm world, tp_comm, pp_comm, dp_comm;
    int rank, world_size;
    int dp, tp, pp, dp_i, tp_i, pp_i;
    bool zero;                 /* ZeRO-1 in effect (zero >= 1, dp > 1) */
    int64_t steps_total;
    int64_t mbs, max_mb;
    int64_t widths[DML_WEIGHTS_MAX_LAYERS + 1];
    dml_stage_model model;
    dml_mlp_shape shape;
    dml_stage st;
    dml_dataset train, test;
    dml_data_order order;
    int64_t samples_seen;      /* training-stream position */
    /* optimizer */
    dml_optim_hparams hp;
    int state_slots;
    size_t nstate;             /* optimizer values per slot on this rank */
    float *state;              /* [state_slots x nstate] */
    float *gshard;             /* [nstate] reduced gradient shard (ZeRO) */
    dml_optim_slice *slices;
    size_t nslices;
    double *norm_sq;           /* [2 x ntensors] */
    /* data parallelism */
    bucket *buckets;
    int nbuckets;
    MPI_Request *breq;         /* [nbuckets] */
    size_t final_lo;           /* gradients at offsets >= this are final */
    double small_sq;           /* pre-reduction gradient norm^2 share */
    bool measure_noise;
    /* pipeline */
    int nslots;
    slot *slots;
    float *gin, *scratch0, *scratch1;
    float *half;               /* dp = 1 noise estimate: gradient snapshot */
    dml_stage_acts eval_acts;
    int eval_rows;
    /* per step */
    dml_stage_timers tm;
    step_times cur;
    double loss_sum;
    long correct;
    int64_t step_batch;
    /* history of this invocation */
    int64_t first_step, nrun;
    double *loss, *lr, *step_s, *noise;   /* [steps] rank 0 */
    double *r_step, *r_compute, *r_comm, *r_idle; /* [steps] this rank */
    dml_gemm_timer gemm_prof;
    int64_t gemm_steps;
    double test_accuracy;
    double median_step_s;
    /* database (rank 0) */
    dml_db *db;
    int64_t run_id;
    dml_record rec;            /* steps not yet written, and whether the
                                  database takes writes (record.h) */
    bool rec_open;             /* rec initialised (rank 0, run begun) */
    /* stopping (every rank) */
    int stop_signal;           /* SIGTERM/SIGINT all ranks agreed on, 0 */
    double first_loss;         /* loss of this invocation's first step */
    /* faults (every rank) */
    dml_heartbeat *hb;         /* this rank's state file, or NULL */
    char started_at[DML_HEARTBEAT_TIME_MAX]; /* the run's start, UTC */
    int64_t last_ckpt;         /* newest complete checkpoint, -1: none */
};

void dml_exec_options_init(dml_exec_options *o)
{
    memset(o, 0, sizeof *o);
    o->steps = -1;
    o->seed = 1;
}

void dml_exec_mpi_preinit(void)
{
    setenv("OMPI_MCA_coll_libnbc_iallreduce_algorithm", "1", 0);
}

/* ---- agreeing on a status across ranks ------------------------------------ */

/* Every rank passes its status; all return the status (and message) of
 * the lowest failing rank, so that they stop together. */
static dml_status agree(MPI_Comm comm, dml_status s, dml_error *err)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int mine = s == DML_OK ? size : rank, first;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);
    if (first == size)
        return DML_OK;
    int code = (int)s;
    char msg[DML_ERROR_MSG_MAX + DML_ERROR_FILE_MAX + 64];
    msg[0] = '\0';
    if (rank == first && err)
        dml_error_format(err, msg, sizeof msg);
    MPI_Bcast(&code, 1, MPI_INT, first, comm);
    MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, first, comm);
    if (rank != first)
        dml_error_msg(err, (dml_status)code, "%s", msg);
    return (dml_status)code;
}

/* ---- validation on rank 0 ------------------------------------------------- */

static bool is_synthetic(const dml_exec_options *o)
{
    return o->data && strcmp(o->data, "synthetic") == 0;
}

static const char *data_dir(const dml_exec_options *o)
{
    return o->data ? o->data : DEFAULT_DATA_DIR;
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
    int64_t rows = c->mbs > EVAL_ROWS_MAX ? c->mbs : EVAL_ROWS_MAX;
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
    if (c->grad_compression != DML_COMPRESS_NONE)
        return dml_error_set(err, DML_EINPUT, path, 0, 0,
                             "parallel.grad_compression",
                             "dml-exec does not compress gradients (%s)",
                             dml_grad_compression_name(c->grad_compression));
    if (c->sync != DML_SYNC_SYNC)
        return dml_error_set(err, DML_EINPUT, path, 0, 0, "parallel.sync",
                             "dml-exec runs synchronous data parallelism "
                             "only");
    if (c->mbs > (1 << 20) || c->microbatches > (1 << 20))
        return dml_error_set(err, DML_EINPUT, path, 0, 0, "parallel.mbs",
                             "micro-batch size and count must be at most "
                             "%d", 1 << 20);
    return check_sizes(p, path, err);
}

static void model_of_plan(dml_exec *x)
{
    const dml_model_spec *m = &x->plan->model;
    int L = (int)m->layers;
    for (int l = 0; l < L; l++) {
        int64_t in, out;
        dml_model_spec_mlp_layer(m, l, &in, &out);
        if (l == 0)
            x->widths[0] = in;
        x->widths[l + 1] = out;
    }
    x->model.layers = L;
    x->model.widths = x->widths;
    x->model.hidden_act = m->activation == DML_ACT_TANH   ? DML_ACT_KIND_TANH
                          : m->activation == DML_ACT_GELU ? DML_ACT_KIND_GELU
                                                          : DML_ACT_KIND_RELU;
    x->shape.layers = L;
    for (int l = 0; l <= L; l++)
        x->shape.widths[l] = x->widths[l];
}

/* The plan from its bytes, all plan_len of them: read up to a NUL as a
 * C string, "{...}\0garbage" passed and a NUL inside was reported as the
 * end of the file (common/json.c now names the byte). */
static dml_status parse_plan_text(dml_exec *x, const char *name,
                                  dml_error *err)
{
    dml_json_doc *doc = NULL;
    DML_CHECK(dml_json_doc_load_text(name, x->plan_text, x->plan_len, &doc,
                                     err));
    dml_json_obj root;
    dml_json_obj_root(doc, &root);
    dml_status s = dml_plan_parse(&root, x->plan, err);
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

static dml_status validate_on_root(dml_exec *x, dml_error *err)
{
    const dml_exec_options *o = &x->opt;
    if (!o->plan_path)
        return dml_error_msg(err, DML_EUSAGE, "--plan FILE is required");
    if ((o->checkpoint_every > 0 || o->resume) && !o->checkpoint_dir)
        return dml_error_msg(err, DML_EUSAGE, "--checkpoint-every and "
                             "--resume need --checkpoint-dir DIR");
    if (o->checkpoint_dir && o->checkpoint_every <= 0 && !o->resume)
        return dml_error_msg(err, DML_EUSAGE, "--checkpoint-dir needs "
                             "--checkpoint-every K or --resume");
    DML_CHECK(dml_file_read_all(o->plan_path, PLAN_MAX_BYTES, &x->plan_text,
                                &x->plan_len, err));
    DML_CHECK(parse_plan_text(x, o->plan_path, err));
    DML_CHECK(check_runnable(x->plan, o->plan_path, x->world_size, err));
    model_of_plan(x);
    for (int i = 0; i < x->plan->stage_count; i++) {
        dml_status s = dml_stage_check(&x->model,
                                       (int)x->plan->stages[i].first_layer,
                                       (int)x->plan->stages[i].last_layer,
                                       x->plan->par.tp, err);
        if (s != DML_OK) {
            dml_error_prefix(err, "%s: placement.stages[%d]: ", o->plan_path,
                             i);
            return s;
        }
    }
    if (!is_synthetic(o)) {
        const char *dir = data_dir(o);
        if (!dml_file_exists(dir))
            return dml_error_set(err, DML_EINPUT, dir, 0, 0, NULL,
                                 "no such data directory (install "
                                 "dataset-fashion-mnist, or pass --data "
                                 "synthetic)");
        DML_CHECK(dml_data_check_dir(dir, x->widths[0],
                                     (int)x->widths[x->model.layers], err));
    }
    float *init = NULL;
    if (o->init_weights)
        DML_CHECK(dml_weights_read(o->init_weights, &x->shape, &init, err));
    if (o->checkpoint_dir) {
        /* What a checkpoint must have been written by to be resumed. */
        x->identity = malloc(sizeof *x->identity);
        dml_status s = x->identity
                           ? dml_identity_make(
                                 x->plan, is_synthetic(o) ? "synthetic"
                                                          : data_dir(o),
                                 o->seed, o->shuffle, init,
                                 init ? dml_weights_count(&x->shape) : 0,
                                 x->identity, err)
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
    DML_CHECK(dml_db_open(dml_db_default_path(o->db_path), &x->db, err));
    return DML_OK;
}

/* ---- setup on every rank -------------------------------------------------- */

static dml_status make_groups(dml_exec *x, dml_error *err)
{
    const dml_plan *p = x->plan;
    x->dp = p->par.dp;
    x->tp = p->par.tp;
    x->pp = p->par.pp;
    DML_CHECK(dml_plan_rank_coords(p, x->rank, &x->dp_i, &x->pp_i, &x->tp_i));
    (void)err;
    /* Ranks sharing a color form one group, ordered by their index in it. */
    MPI_Comm_split(x->world, x->dp_i * x->pp + x->pp_i, x->tp_i, &x->tp_comm);
    MPI_Comm_split(x->world, x->dp_i * x->tp + x->tp_i, x->pp_i, &x->pp_comm);
    MPI_Comm_split(x->world, x->pp_i * x->tp + x->tp_i, x->dp_i, &x->dp_comm);
    /* TP exchanges activations every layer pair: it should stay on a node
     * (consecutive ranks are, when mpirun fills nodes in order). */
    MPI_Comm node;
    MPI_Comm_split_type(x->tp_comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL,
                        &node);
    int node_size, spans = 0, any = 0;
    MPI_Comm_size(node, &node_size);
    MPI_Comm_free(&node);
    spans = node_size < x->tp;
    MPI_Allreduce(&spans, &any, 1, MPI_INT, MPI_MAX, x->world);
    if (any && x->rank == 0)
        dml_log_warn("a tensor-parallel group spans nodes: its allreduces "
                     "cross the network (place ranks by slot)");
    return DML_OK;
}

static dml_status load_data(dml_exec *x, dml_error *err)
{
    bool imgs = x->st.is_first, lbls = x->st.is_last;
    int classes = (int)x->widths[x->model.layers];
    if (is_synthetic(&x->opt)) {
        DML_CHECK(dml_data_synthetic(0, DML_DATA_SYNTHETIC_TRAIN, x->widths[0],
                                     classes, imgs, lbls, &x->train, err));
        DML_CHECK(dml_data_synthetic(1, DML_DATA_SYNTHETIC_TEST, x->widths[0],
                                     classes, imgs, lbls, &x->test, err));
    } else {
        DML_CHECK(dml_data_load_idx(data_dir(&x->opt), "train", imgs, lbls,
                                    classes, &x->train, err));
        DML_CHECK(dml_data_load_idx(data_dir(&x->opt), "t10k", imgs, lbls,
                                    classes, &x->test, err));
    }
    return dml_data_order_init(&x->order, x->train.n, x->opt.shuffle,
                               x->opt.seed, err);
}

/* Buckets over the flat gradient buffer, listed by increasing offset.
 * Backward finishes layers from the last, so buckets are cut from the end:
 * whole layers are gathered until the next would take the bucket past
 * bucket_bytes (then the bucket closes at that layer boundary, so it can
 * start while the earlier layers are still in backward), and a layer
 * larger than that is cut in pieces of bucket_bytes. Every boundary is a
 * multiple of dp (ZeRO-1 gives each rank 1/dp of every bucket); a layer
 * boundary is rounded up to one, so a bucket never holds values of a
 * layer that finishes later than the layer it starts with. */
static dml_status make_buckets(dml_exec *x, dml_error *err)
{
    size_t bytes = x->opt.bucket_bytes ? x->opt.bucket_bytes
                                       : DML_EXEC_BUCKET_BYTES;
    size_t dp = (size_t)x->dp;
    size_t be = bytes / sizeof(float) / dp * dp;
    if (be < dp)
        be = dp;
    size_t cap = (size_t)x->st.nlayers + x->st.nflat / be + 2;
    x->buckets = calloc(cap, sizeof *x->buckets);
    x->breq = calloc(cap, sizeof *x->breq);
    if (!x->buckets || !x->breq)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    size_t n = 0, hi = x->st.nflat, acc_lo = hi;
    for (int l = x->st.nlayers - 1; l >= 0; l--) {
        size_t b = (x->st.layers[l].w_off + dp - 1) / dp * dp;
        if (hi - b > be && acc_lo < hi) {
            x->buckets[n++] = (bucket){.lo = acc_lo, .hi = hi};
            hi = acc_lo;
        }
        while (hi - b > be) {
            x->buckets[n++] = (bucket){.lo = hi - be, .hi = hi};
            hi -= be;
        }
        acc_lo = b;
    }
    if (hi > 0)
        x->buckets[n++] = (bucket){.lo = 0, .hi = hi};
    x->nbuckets = (int)n;
    /* Cut from the end; list from the start. */
    for (size_t i = 0; i < n / 2; i++) {
        bucket t = x->buckets[i];
        x->buckets[i] = x->buckets[n - 1 - i];
        x->buckets[n - 1 - i] = t;
    }
    size_t off = 0;
    for (int k = 0; k < x->nbuckets; k++) {
        x->buckets[k].chunk = (x->buckets[k].hi - x->buckets[k].lo) / dp;
        x->buckets[k].shard_off = off;
        off += x->buckets[k].chunk;
        x->breq[k] = MPI_REQUEST_NULL;
    }
    return DML_OK;
}

/* The slices the optimizer updates on this rank: whole tensors, or with
 * ZeRO-1 the parts of them inside this rank's shard of every bucket. */
static dml_status make_optimizer(dml_exec *x, dml_error *err)
{
    const dml_train_schedule *s = &x->plan->sched;
    x->hp.kind = s->optimizer;
    x->hp.weight_decay = s->weight_decay;
    x->hp.momentum = s->momentum;
    x->hp.beta1 = s->beta1;
    x->hp.beta2 = s->beta2;
    x->hp.eps = s->eps;
    x->state_slots = dml_optim_state_slots(s->optimizer);
    x->nstate = x->zero ? x->st.nflat / (size_t)x->dp : x->st.nflat;
    x->state = calloc((size_t)x->state_slots * x->nstate, sizeof(float));
    x->gshard = x->zero ? calloc(x->nstate, sizeof(float)) : NULL;
    x->norm_sq = calloc(2 * (size_t)x->st.ntensors, sizeof(double));
    size_t cap = (size_t)x->st.ntensors * ((size_t)x->nbuckets + 1);
    x->slices = calloc(cap, sizeof *x->slices);
    if (!x->state || (x->zero && !x->gshard) || !x->norm_sq || !x->slices)
        return dml_error_msg(err, DML_ENOMEM, "out of memory for the "
                             "optimizer state");
    float *m = x->state;
    float *v = x->state_slots > 1 ? x->state + x->nstate : NULL;
    for (int t = 0; t < x->st.ntensors; t++) {
        const dml_tensor *T = &x->st.tensors[t];
        if (!x->zero) {
            x->slices[x->nslices++] = (dml_optim_slice){
                x->st.params + T->off, x->st.grads + T->off, m + T->off,
                v ? v + T->off : NULL, T->n, t};
            continue;
        }
        for (int k = 0; k < x->nbuckets; k++) {
            const bucket *b = &x->buckets[k];
            size_t own = b->lo + (size_t)x->dp_i * b->chunk;
            size_t a = T->off > own ? T->off : own;
            size_t e = T->off + T->n < own + b->chunk ? T->off + T->n
                                                      : own + b->chunk;
            if (a >= e)
                continue;
            size_t c = b->shard_off + (a - own);
            x->slices[x->nslices++] = (dml_optim_slice){
                x->st.params + a, x->gshard + c, m + c, v ? v + c : NULL,
                e - a, t};
        }
    }
    return DML_OK;
}

static dml_status make_pipeline(dml_exec *x, dml_error *err)
{
    int mb = (int)x->max_mb;
    x->nslots = x->plan->par.schedule == DML_PP_GPIPE
                    ? mb
                    : (x->pp - x->pp_i < mb ? x->pp - x->pp_i : mb);
    x->slots = calloc((size_t)x->nslots, sizeof *x->slots);
    if (!x->slots)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    int rows = (int)x->mbs;
    for (int i = 0; i < x->nslots; i++) {
        slot *s = &x->slots[i];
        s->req_act = s->req_grad = MPI_REQUEST_NULL;
        DML_CHECK(dml_stage_acts_init(&s->acts, &x->st, rows, err));
        if (!x->st.is_first) {
            s->gsend = malloc((size_t)rows * x->st.in_width * sizeof(float));
            if (!s->gsend)
                return dml_error_msg(err, DML_ENOMEM, "out of memory");
        }
    }
    size_t w = (size_t)dml_stage_scratch_width(&x->st);
    x->scratch0 = malloc((size_t)rows * w * sizeof(float));
    x->scratch1 = malloc((size_t)rows * w * sizeof(float));
    x->gin = malloc((size_t)rows * x->st.out_width * sizeof(float));
    if (!x->scratch0 || !x->scratch1 || !x->gin)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    int64_t e = x->mbs * x->max_mb;
    if (e > EVAL_ROWS_MAX)
        e = x->mbs > EVAL_ROWS_MAX ? x->mbs : EVAL_ROWS_MAX;
    x->eval_rows = (int)e;
    DML_CHECK(dml_stage_acts_init(&x->eval_acts, &x->st, x->eval_rows, err));
    /* With one replica the noise scale compares the two halves of the
     * step's micro-batches (exec.h), which needs a gradient snapshot. */
    if (x->dp == 1 && x->max_mb >= 2) {
        x->half = malloc(x->st.nflat * sizeof(float));
        if (!x->half)
            return dml_error_msg(err, DML_ENOMEM, "out of memory");
    }
    return DML_OK;
}

static dml_status setup(dml_exec *x, dml_error *err)
{
    const dml_plan *p = x->plan;
    model_of_plan(x);
    DML_CHECK(make_groups(x, err));
    x->zero = p->par.zero >= 1 && x->dp > 1;
    x->mbs = p->par.mbs;
    x->max_mb = p->par.microbatches;
    int threads = x->opt.threads > 0 ? x->opt.threads
                                     : p->par.threads_per_rank;
    /* Before anything of size is allocated: OpenBLAS hangs instead of
     * failing when it cannot map its buffer (limits.h). */
    DML_CHECK(dml_limits_start_blas(threads > 0 ? threads : 1, err));
    const dml_stage_range *r = &p->stages[x->pp_i];
    DML_CHECK(dml_stage_init(&x->st, &x->model, (int)r->first_layer,
                             (int)r->last_layer, x->tp, x->tp_i, x->tp_comm,
                             (size_t)x->dp, err));
    DML_CHECK(load_data(x, err));
    DML_CHECK(make_buckets(x, err));
    DML_CHECK(make_optimizer(x, err));
    DML_CHECK(make_pipeline(x, err));
    if (x->opt.steps >= 0)
        x->steps_total = x->opt.steps;
    else if (p->sched.warmup_steps + p->sched.decay_steps > 0)
        x->steps_total = p->sched.warmup_steps + p->sched.decay_steps;
    else
        x->steps_total = 100;
    size_t n = (size_t)(x->steps_total > 0 ? x->steps_total : 1);
    x->loss = calloc(n, sizeof(double));
    x->lr = calloc(n, sizeof(double));
    x->step_s = calloc(n, sizeof(double));
    x->noise = calloc(n, sizeof(double));
    x->r_step = calloc(n, sizeof(double));
    x->r_compute = calloc(n, sizeof(double));
    x->r_comm = calloc(n, sizeof(double));
    x->r_idle = calloc(n, sizeof(double));
    if (!x->loss || !x->lr || !x->step_s || !x->noise || !x->r_step ||
        !x->r_compute || !x->r_comm || !x->r_idle)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    if (x->opt.init_weights) {
        float *full = NULL;
        DML_CHECK(dml_weights_read(x->opt.init_weights, &x->shape, &full,
                                   err));
        dml_stage_load_full(&x->st, &x->model, full);
        free(full);
    } else {
        dml_stage_init_weights(&x->st, x->opt.seed);
    }
    x->test_accuracy = NAN;
    x->median_step_s = NAN;
    return DML_OK;
}

dml_status dml_exec_open(const dml_exec_options *o, MPI_Comm world,
                         dml_exec **out, dml_error *err)
{
    *out = NULL;
    dml_exec *x = calloc(1, sizeof *x);
    dml_plan *plan = malloc(sizeof *plan);
    if (!x || !plan) {
        free(x);
        free(plan);
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    }
    x->opt = *o;
    x->plan = plan;
    x->world = world;
    x->last_ckpt = -1;
    /* Past a file size limit (ulimit -f) a write should fail with EFBIG,
     * which the checkpoint and weight writers report, rather than the
     * process dying of SIGXFSZ with the job half written. */
    signal(SIGXFSZ, SIG_IGN);
    x->tp_comm = x->pp_comm = x->dp_comm = MPI_COMM_NULL;
    MPI_Comm_rank(world, &x->rank);
    MPI_Comm_size(world, &x->world_size);
    dml_plan_init(x->plan);

    /* Rank 0 judges the input; the verdict travels before anything else. */
    dml_status s = DML_OK;
    if (x->rank == 0)
        s = validate_on_root(x, err);
    int code = (int)s;
    char msg[DML_ERROR_MSG_MAX + DML_ERROR_FILE_MAX + 64] = "";
    if (x->rank == 0 && s != DML_OK)
        dml_error_format(err, msg, sizeof msg);
    MPI_Bcast(&code, 1, MPI_INT, 0, world);
    if (code != DML_OK) {
        MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, 0, world);
        if (x->rank != 0)
            dml_error_msg(err, (dml_status)code, "%s", msg);
        dml_exec_close(x);
        return (dml_status)code;
    }
    /* The plan text goes to every rank, so only rank 0 needs the file;
     * so does the run's identity, which needs the data files. */
    unsigned long len = x->rank == 0 ? (unsigned long)x->plan_len : 0;
    MPI_Bcast(&len, 1, MPI_UNSIGNED_LONG, 0, world);
    x->plan_len = len;
    if (x->rank != 0) {
        x->plan_text = malloc(len + 1);
        if (o->checkpoint_dir)
            x->identity = malloc(sizeof *x->identity);
        if (!x->plan_text || (o->checkpoint_dir && !x->identity))
            s = dml_error_msg(err, DML_ENOMEM, "out of memory");
    }
    s = agree(world, s, err);
    if (s != DML_OK) {
        dml_exec_close(x);
        return s;
    }
    MPI_Bcast(x->plan_text, (int)len, MPI_CHAR, 0, world);
    x->plan_text[len] = '\0';
    if (x->identity)
        MPI_Bcast(x->identity, (int)sizeof *x->identity, MPI_BYTE, 0, world);
    if (x->rank != 0)
        s = parse_plan_text(x, o->plan_path, err);
    if (s == DML_OK)
        s = setup(x, err);
    s = agree(world, s, err);
    if (s != DML_OK) {
        dml_exec_close(x);
        return s;
    }
    *out = x;
    return DML_OK;
}

void dml_exec_close(dml_exec *x)
{
    if (!x)
        return;
    dml_heartbeat_close(x->hb, x->first_step + x->nrun, "failed");
    for (int i = 0; x->slots && i < x->nslots; i++) {
        dml_stage_acts_free(&x->slots[i].acts, &x->st);
        free(x->slots[i].gsend);
    }
    free(x->slots);
    if (x->eval_acts.x)
        dml_stage_acts_free(&x->eval_acts, &x->st);
    free(x->scratch0);
    free(x->scratch1);
    free(x->gin);
    free(x->half);
    free(x->state);
    free(x->gshard);
    free(x->slices);
    free(x->norm_sq);
    free(x->buckets);
    free(x->breq);
    dml_stage_free(&x->st);
    dml_dataset_free(&x->train);
    dml_dataset_free(&x->test);
    dml_data_order_free(&x->order);
    free(x->loss);
    free(x->lr);
    free(x->step_s);
    free(x->noise);
    free(x->r_step);
    free(x->r_compute);
    free(x->r_comm);
    free(x->r_idle);
    if (x->rec_open)
        dml_record_free(&x->rec);
    dml_interrupt_restore();
    free(x->identity);
    if (x->tp_comm != MPI_COMM_NULL)
        MPI_Comm_free(&x->tp_comm);
    if (x->pp_comm != MPI_COMM_NULL)
        MPI_Comm_free(&x->pp_comm);
    if (x->dp_comm != MPI_COMM_NULL)
        MPI_Comm_free(&x->dp_comm);
    dml_db_close(x->db);
    free(x->plan_text);
    free(x->plan);
    free(x);
}

/* ---- one step: communication helpers -------------------------------------- */

/* Sum of squares of g over [lo, hi) of the flat buffer, counting tensors
 * replicated over the TP group on TP rank 0 only, so that a sum over the
 * whole world counts every parameter of a replica once. */
static double flat_sumsq(const dml_exec *x, const float *g, size_t lo,
                         size_t hi)
{
    double s = 0.0;
    for (int t = 0; t < x->st.ntensors; t++) {
        const dml_tensor *T = &x->st.tensors[t];
        if (T->tp_replicated && x->tp_i != 0)
            continue;
        size_t a = T->off > lo ? T->off : lo;
        size_t e = T->off + T->n < hi ? T->off + T->n : hi;
        for (size_t i = a; i < e; i++)
            s += (double)g[i] * g[i];
    }
    return s;
}

/* Let MPI move the messages in flight: Open MPI progresses non-blocking
 * collectives and large sends only inside MPI calls. */
static void progress(dml_exec *x)
{
    double t0 = dml_clock_now_s();
    int flag;
    if (x->nbuckets > 0 && x->dp > 1) {
        MPI_Testall(x->nbuckets, x->breq, &flag, MPI_STATUSES_IGNORE);
        double t1 = dml_clock_now_s();
        x->cur.dp_comm_s += t1 - t0;
        t0 = t1;
    }
    for (int i = 0; i < x->nslots; i++) {
        if (x->slots[i].req_act != MPI_REQUEST_NULL)
            MPI_Test(&x->slots[i].req_act, &flag, MPI_STATUS_IGNORE);
        if (x->slots[i].req_grad != MPI_REQUEST_NULL)
            MPI_Test(&x->slots[i].req_grad, &flag, MPI_STATUS_IGNORE);
    }
    x->cur.pp_comm_s += dml_clock_now_s() - t0;
}

/* Receive from pipeline neighbour src: waiting for the peer to send is
 * pipeline idle time (the bubble), the transfer itself PP communication. */
static void pp_recv(dml_exec *x, float *buf, int count, int src, int tag)
{
    MPI_Status st;
    double t0 = dml_clock_now_s();
    MPI_Probe(src, tag, x->pp_comm, &st);
    double t1 = dml_clock_now_s();
    MPI_Recv(buf, count, MPI_FLOAT, src, tag, x->pp_comm, MPI_STATUS_IGNORE);
    x->cur.idle_s += t1 - t0;
    x->cur.pp_comm_s += dml_clock_now_s() - t1;
}

static void pp_wait(dml_exec *x, MPI_Request *r)
{
    if (*r == MPI_REQUEST_NULL)
        return;
    double t0 = dml_clock_now_s();
    MPI_Wait(r, MPI_STATUS_IGNORE);
    x->cur.pp_comm_s += dml_clock_now_s() - t0;
}

static void bucket_launch(dml_exec *x, int k)
{
    bucket *b = &x->buckets[k];
    if (b->launched)
        return;
    b->launched = true;
    if (x->measure_noise)
        x->small_sq += flat_sumsq(x, x->st.grads, b->lo, b->hi);
    if (x->zero)
        MPI_Ireduce_scatter_block(x->st.grads + b->lo,
                                  x->gshard + b->shard_off, (int)b->chunk,
                                  MPI_FLOAT, MPI_SUM, x->dp_comm, &x->breq[k]);
    else
        MPI_Iallreduce(MPI_IN_PLACE, x->st.grads + b->lo, (int)(b->hi - b->lo),
                       MPI_FLOAT, MPI_SUM, x->dp_comm, &x->breq[k]);
}

/* After a layer's backward on the step's last micro-batch its gradients
 * are final: start every bucket that lies entirely above them. */
static void on_layer_done(void *ctx, int local_layer)
{
    dml_exec *x = ctx;
    double t0 = dml_clock_now_s();
    size_t lo = x->st.layers[local_layer].w_off;
    if (lo < x->final_lo)
        x->final_lo = lo;
    for (int k = x->nbuckets - 1; k >= 0; k--)
        if (x->buckets[k].lo >= x->final_lo)
            bucket_launch(x, k);
    x->cur.dp_comm_s += dml_clock_now_s() - t0;
    progress(x);
}

/* Start whatever is left and wait: the exposed data-parallel time. */
static void dp_finish(dml_exec *x)
{
    double t0 = dml_clock_now_s();
    for (int k = x->nbuckets - 1; k >= 0; k--)
        bucket_launch(x, k);
    MPI_Waitall(x->nbuckets, x->breq, MPI_STATUSES_IGNORE);
    x->cur.dp_comm_s += dml_clock_now_s() - t0;
}

/* ---- one step: forward and backward of a micro-batch ---------------------- */

static int64_t mb_position(const dml_exec *x, int j)
{
    /* DP rank d reads its share of the step, micro-batch by micro-batch. */
    return x->samples_seen + (int64_t)x->dp_i * (x->step_batch / x->dp) +
           (int64_t)j * x->mbs;
}

static void forward_mb(dml_exec *x, int j)
{
    slot *s = &x->slots[j % x->nslots];
    int rows = (int)x->mbs;
    pp_wait(x, &s->req_act);
    if (x->st.is_first || x->st.is_last)
        dml_data_gather(&x->train, &x->order, mb_position(x, j), rows,
                        x->st.is_first ? s->acts.x : NULL,
                        x->st.is_last ? s->acts.labels : NULL);
    if (!x->st.is_first)
        pp_recv(x, s->acts.x, rows * x->st.in_width, x->pp_i - 1, TAG_ACT);
    double loss = dml_stage_forward(&x->st, &s->acts, rows, NULL, &x->tm);
    if (x->st.is_last) {
        x->loss_sum += loss;
    } else {
        double t0 = dml_clock_now_s();
        MPI_Isend(dml_stage_output(&s->acts, &x->st), rows * x->st.out_width,
                  MPI_FLOAT, x->pp_i + 1, TAG_ACT, x->pp_comm, &s->req_act);
        x->cur.pp_comm_s += dml_clock_now_s() - t0;
    }
    progress(x);
}

static void backward_mb(dml_exec *x, int j, int m)
{
    slot *s = &x->slots[j % x->nslots];
    int rows = (int)x->mbs;
    if (!x->st.is_last)
        pp_recv(x, x->gin, rows * x->st.out_width, x->pp_i + 1, TAG_GRAD);
    if (!x->st.is_first)
        pp_wait(x, &s->req_grad);
    bool last = j == m - 1;
    dml_stage_backward(&x->st, &s->acts, rows, x->gin,
                       (float)(1.0 / (double)x->step_batch),
                       x->st.is_first ? NULL : s->gsend, x->scratch0,
                       x->scratch1, last && x->dp > 1 ? on_layer_done : NULL,
                       x, &x->tm);
    if (!x->st.is_first) {
        double t0 = dml_clock_now_s();
        MPI_Isend(s->gsend, rows * x->st.in_width, MPI_FLOAT, x->pp_i - 1,
                  TAG_GRAD, x->pp_comm, &s->req_grad);
        x->cur.pp_comm_s += dml_clock_now_s() - t0;
    }
    if (x->half && x->measure_noise && j == m / 2 - 1)
        memcpy(x->half, x->st.grads, x->st.nflat * sizeof(float));
    progress(x);
}

/* The order of micro-batch passes on this stage: 1F1B (Narayanan et al.
 * 2021, PipeDream-Flush): pp - stage - 1 warm-up forwards, then one forward
 * and one backward alternately, then the remaining backwards; or GPipe
 * (Huang et al. 2019): all forwards, then all backwards. */
static void run_schedule(dml_exec *x, int m)
{
    int warm = x->plan->par.schedule == DML_PP_GPIPE ? m
                                                      : x->pp - x->pp_i - 1;
    if (warm > m)
        warm = m;
    int f = 0, b = 0;
    for (; f < warm; f++)
        forward_mb(x, f);
    while (f < m) {
        forward_mb(x, f++);
        backward_mb(x, b++, m);
    }
    while (b < m)
        backward_mb(x, b++, m);
}

/* ---- one step: optimizer -------------------------------------------------- */

static void optimizer_step(dml_exec *x, int64_t step, double lr)
{
    double t0 = dml_clock_now_s();
    if (dml_optim_needs_norms(x->hp.kind)) {
        size_t n = 2 * (size_t)x->st.ntensors;
        memset(x->norm_sq, 0, n * sizeof(double));
        dml_optim_partial_norms(&x->hp, x->slices, x->nslices, step + 1,
                                x->norm_sq);
        /* Whole-tensor norms: shards of a tensor are spread over the dp
         * group (ZeRO-1) and the tp group (sharded layers). */
        if (x->zero)
            MPI_Allreduce(MPI_IN_PLACE, x->norm_sq, (int)n, MPI_DOUBLE,
                          MPI_SUM, x->dp_comm);
        if (x->tp > 1) {
            for (int t = 0; t < x->st.ntensors; t++)
                if (x->st.tensors[t].tp_replicated && x->tp_i != 0)
                    x->norm_sq[2 * t] = x->norm_sq[2 * t + 1] = 0.0;
            MPI_Allreduce(MPI_IN_PLACE, x->norm_sq, (int)n, MPI_DOUBLE,
                          MPI_SUM, x->tp_comm);
        }
    }
    dml_optim_apply(&x->hp, x->slices, x->nslices, step + 1, lr, x->norm_sq);
    double t1 = dml_clock_now_s();
    x->cur.optimizer_s += t1 - t0;
    if (x->zero) {
        /* Every rank updated its shard; gather the parameters back. */
        for (int k = 0; k < x->nbuckets; k++)
            MPI_Iallgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL,
                           x->st.params + x->buckets[k].lo,
                           (int)x->buckets[k].chunk, MPI_FLOAT, x->dp_comm,
                           &x->breq[k]);
        MPI_Waitall(x->nbuckets, x->breq, MPI_STATUSES_IGNORE);
        x->cur.dp_comm_s += dml_clock_now_s() - t1;
    }
}

/* ---- one step -------------------------------------------------------------- */

/* Statistics summed over all ranks after a step (ST_NONFINITE: this
 * rank's parameters that are NaN or infinite after the update). */
enum { ST_LOSS, ST_SMALL, ST_BIG, ST_COMPUTE, ST_TP, ST_PP, ST_IDLE, ST_DP,
       ST_OPT, ST_NONFINITE, ST_COUNT };

/* One step. *step_max gets the slowest rank's step time and *stop the
 * SIGTERM or SIGINT any rank has received (0: none), both from one
 * reduction, so every rank agrees at this step boundary whether to stop
 * and none is left in a collective waiting for a rank that has left
 * (executor/README.md, "Stopping"). */
static void step_run(dml_exec *x, int64_t step, double stats[ST_COUNT],
                     double *step_max, int *stop)
{
    memset(&x->cur, 0, sizeof x->cur);
    x->tm.compute_s = x->tm.tp_comm_s = 0.0;
    x->tm.gemm.time_s = x->tm.gemm.flop = 0.0;
    x->tm.gemm.calls = 0;
    x->tm.gemm.nshapes = 0;
    x->tm.gemm.record_shapes = step == x->first_step + 1;
    double t0 = dml_clock_now_s();
    x->step_batch = dml_plan_global_batch_at(x->plan, step);
    int m = (int)(x->step_batch / ((int64_t)x->dp * x->mbs));
    double lr = dml_optim_lr_at(&x->plan->sched, step);
    memset(x->st.grads, 0, x->st.nflat * sizeof(float));
    for (int k = 0; k < x->nbuckets; k++)
        x->buckets[k].launched = false;
    x->final_lo = x->st.nflat;
    x->small_sq = 0.0;
    x->loss_sum = 0.0;
    x->measure_noise = x->dp > 1 || (x->half && m >= 2 && m % 2 == 0);

    run_schedule(x, m);
    if (x->dp > 1)
        dp_finish(x);
    for (int i = 0; i < x->nslots; i++) {
        pp_wait(x, &x->slots[i].req_act);
        pp_wait(x, &x->slots[i].req_grad);
    }

    /* Gradient noise scale, McCandlish et al. 2018 appendix A: squared
     * norms of the mean gradient over small batches (per DP rank, or the
     * two halves of the micro-batches with one replica) and over the
     * whole batch, as shares that sum over the world. The gradient here is
     * sum(g_i) / B, so a part of B/k samples estimates the mean gradient
     * as k times its sum. */
    double small = 0.0, big = 0.0;
    if (x->measure_noise && x->dp > 1) {
        small = (double)x->dp * x->small_sq;
        if (x->zero) {
            for (size_t i = 0; i < x->nslices; i++) {
                const dml_optim_slice *sl = &x->slices[i];
                if (x->st.tensors[sl->tensor].tp_replicated && x->tp_i != 0)
                    continue;
                for (size_t e = 0; e < sl->n; e++)
                    big += (double)sl->g[e] * sl->g[e];
            }
        } else {
            big = flat_sumsq(x, x->st.grads, 0, x->st.nflat) / x->dp;
        }
    } else if (x->measure_noise) {
        double h1 = flat_sumsq(x, x->half, 0, x->st.nflat);
        for (size_t i = 0; i < x->st.nflat; i++)
            x->half[i] = x->st.grads[i] - x->half[i];
        double h2 = flat_sumsq(x, x->half, 0, x->st.nflat);
        small = 2.0 * (h1 + h2);
        big = flat_sumsq(x, x->st.grads, 0, x->st.nflat);
    }

    optimizer_step(x, step, lr);
    x->samples_seen += x->step_batch;
    x->cur.step_s = dml_clock_now_s() - t0;
    x->cur.compute_s = x->tm.compute_s;
    x->cur.tp_comm_s = x->tm.tp_comm_s;

    stats[ST_LOSS] = x->st.is_last && x->tp_i == 0 ? x->loss_sum : 0.0;
    stats[ST_SMALL] = small;
    stats[ST_BIG] = big;
    stats[ST_COMPUTE] = x->cur.compute_s;
    stats[ST_TP] = x->cur.tp_comm_s;
    stats[ST_PP] = x->cur.pp_comm_s;
    stats[ST_IDLE] = x->cur.idle_s;
    stats[ST_DP] = x->cur.dp_comm_s;
    stats[ST_OPT] = x->cur.optimizer_s;
    /* Cheap next to the step's GEMMs: one pass over the parameters. */
    stats[ST_NONFINITE] =
        (double)dml_guard_count_nonfinite(x->st.params, x->st.nflat);
    MPI_Allreduce(MPI_IN_PLACE, stats, ST_COUNT, MPI_DOUBLE, MPI_SUM,
                  x->world);
    double mx[2] = {x->cur.step_s, (double)dml_interrupt_signal()};
    MPI_Allreduce(MPI_IN_PLACE, mx, 2, MPI_DOUBLE, MPI_MAX, x->world);
    *step_max = mx[0];
    *stop = (int)mx[1];

    int64_t i = step - x->first_step;
    x->r_step[i] = x->cur.step_s;
    x->r_compute[i] = x->cur.compute_s;
    x->r_comm[i] = x->cur.tp_comm_s + x->cur.pp_comm_s + x->cur.dp_comm_s;
    x->r_idle[i] = x->cur.idle_s;
    if (step > x->first_step) {
        x->gemm_prof.time_s += x->tm.gemm.time_s;
        x->gemm_prof.flop += x->tm.gemm.flop;
        x->gemm_prof.calls += x->tm.gemm.calls;
        x->gemm_steps++;
        if (x->tm.gemm.record_shapes) {
            x->gemm_prof.nshapes = x->tm.gemm.nshapes;
            memcpy(x->gemm_prof.shapes, x->tm.gemm.shapes,
                   sizeof x->gemm_prof.shapes);
        }
    }
}

/* B_simple from the summed shares (NAN when not measured or when the
 * |G|^2 estimate is not positive, as happens with few samples). */
static double noise_scale(const dml_exec *x, const double stats[ST_COUNT])
{
    if (!x->measure_noise)
        return NAN;
    double b_big = (double)x->step_batch;
    double b_small = x->dp > 1 ? b_big / x->dp : b_big / 2.0;
    double small = stats[ST_SMALL], big = stats[ST_BIG];
    double g2 = (b_big * big - b_small * small) / (b_big - b_small);
    double tr = (small - big) / (1.0 / b_small - 1.0 / b_big);
    return g2 > 0.0 ? tr / g2 : NAN;
}

/* ---- recording (rank 0) ----------------------------------------------------- */

/* The writer of record.h: this run's steps in one transaction. */
static dml_status write_steps(void *ctx, const dml_db_step *steps, size_t n,
                              dml_error *err)
{
    dml_exec *x = ctx;
    return dml_db_record_steps(x->db, x->run_id, steps, n, err);
}

static void db_event(dml_exec *x, const char *kind, int64_t step,
                     const char *msg);

/* Say what a write to the database did, when that is news: the first
 * failure of an outage, and the end of one (also as a "database" event,
 * so that the record shows the gap it had). */
static void db_outcome(dml_exec *x, dml_record_flush f)
{
    if (f == DML_RECORD_OUTAGE) {
        dml_log_warn("recording to the database failed (%s); training goes "
                     "on, steps are kept and written when it takes writes "
                     "again",
                     x->rec.reason);
    } else if (f == DML_RECORD_RECOVERED) {
        char msg[700];
        snprintf(msg, sizeof msg, "the database refused writes from step "
                 "%lld to step %lld (%.500s); the steps kept meanwhile are "
                 "recorded",
                 (long long)x->rec.outage_step,
                 (long long)(x->first_step + x->nrun), x->rec.reason);
        dml_log_warn("%s", msg);
        db_event(x, "database", x->first_step + x->nrun, msg);
    }
}

/* Write the kept steps (rank 0): when a batch is due, or forced (at a
 * checkpoint and at the end, where a database that is failing is tried
 * once more). */
static void db_flush(dml_exec *x, bool force)
{
    if (x->rank != 0 || !x->rec_open)
        return;
    db_outcome(x, dml_record_flush_steps(&x->rec, dml_clock_now_s(), force));
}

/* Whether another row may be written now (rank 0, run begun, database
 * not failing or due for a retry); when not, the row is counted as lost. */
static bool db_row_begin(dml_exec *x)
{
    return x->rank == 0 && x->rec_open && x->run_id > 0 &&
           dml_record_may_write(&x->rec, dml_clock_now_s());
}

static void db_row_end(dml_exec *x, dml_status s, const dml_error *err)
{
    db_outcome(x, dml_record_note(&x->rec, s, err));
}

static void db_event(dml_exec *x, const char *kind, int64_t step,
                     const char *msg)
{
    if (!db_row_begin(x))
        return;
    dml_error err;
    dml_error_clear(&err);
    db_row_end(x, dml_db_record_event(x->db, x->run_id, kind, -1, step, msg,
                                      &err),
               &err);
}

/* JSON text of the layout: each rank's coordinates and layers. */
static char *layout_json(const dml_exec *x)
{
    const dml_parallel_config *c = &x->plan->par;
    json_t *ranks = json_array();
    for (int r = 0; r < x->world_size; r++) {
        int d, p, t;
        dml_plan_rank_coords(x->plan, r, &d, &p, &t);
        json_array_append_new(
            ranks, json_pack("{s:i, s:i, s:i, s:i, s:I, s:I}", "rank", r,
                             "dp", d, "pp", p, "tp", t, "first_layer",
                             (json_int_t)x->plan->stages[p].first_layer,
                             "last_layer",
                             (json_int_t)x->plan->stages[p].last_layer));
    }
    json_t *j = json_pack("{s:i, s:i, s:i, s:i, s:I, s:I, s:s, s:o}", "dp",
                          c->dp, "tp", c->tp, "pp", c->pp, "zero", c->zero,
                          "mbs", (json_int_t)c->mbs, "microbatches",
                          (json_int_t)c->microbatches, "schedule",
                          dml_pp_schedule_name(c->schedule), "ranks", ranks);
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    return s;
}

/* Every rank's host name, gathered to rank 0 as a JSON array (collective). */
static char *hosts_json(const dml_exec *x)
{
    char name[MPI_MAX_PROCESSOR_NAME] = "";
    int len = 0;
    MPI_Get_processor_name(name, &len);
    char *all = x->rank == 0 ? calloc((size_t)x->world_size,
                                      MPI_MAX_PROCESSOR_NAME)
                             : NULL;
    MPI_Gather(name, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all,
               MPI_MAX_PROCESSOR_NAME, MPI_CHAR, 0, x->world);
    if (x->rank != 0 || !all)
        return NULL;
    json_t *a = json_array();
    for (int r = 0; r < x->world_size; r++)
        json_array_append_new(a, json_string(all + (size_t)r *
                                                       MPI_MAX_PROCESSOR_NAME));
    free(all);
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return s;
}

/*
 * A previous job on this checkpoint directory that died without recording
 * its end (its ranks' state files say so, heartbeat.h): mark its run
 * failed with a "fault" event naming the rank and step, when it is in this
 * database, and say so on stderr either way. Then remove its files, which
 * this run's ranks replace. Rank 0, before this run is recorded.
 */
static void recover_dead_run(dml_exec *x)
{
    const char *dir = x->opt.checkpoint_dir;
    if (!dir || !x->db)
        return;
    dml_heartbeat_report rep;
    dml_error e;
    dml_error_clear(&e);
    if (dml_heartbeat_scan(dir, &rep, &e) != DML_OK)
        return;
    int rank;
    int64_t step;
    char msg[700];
    if (dml_heartbeat_report_died(&rep, &rank, &step, msg, sizeof msg)) {
        char here[PATH_MAX];
        const char *db = dml_db_path(x->db);
        bool same = realpath(db, here) && strcmp(here, rep.run.db) == 0;
        bool recorded = false;
        if (same && rep.run.run_id > 0 &&
            dml_db_run_mark_dead(x->db, rep.run.run_id,
                                 strcmp(rep.run.started_at, "-") == 0
                                     ? NULL
                                     : rep.run.started_at,
                                 rep.last_seen_at, rank, step, msg,
                                 &recorded, &e) != DML_OK) {
            char buf[1400];
            dml_log_warn("could not mark run %lld failed: %s",
                         (long long)rep.run.run_id,
                         dml_error_format(&e, buf, sizeof buf));
        }
        dml_log_warn("run %lld (%s) ended without recording it: %s%s",
                     (long long)rep.run.run_id, rep.run.db, msg,
                     recorded ? "; marked failed in the database" : "");
    }
    dml_heartbeat_report_free(&rep);
    if (dml_heartbeat_clear(dir, &e) != DML_OK) {
        char buf[1400];
        dml_log_warn("%s", dml_error_format(&e, buf, sizeof buf));
    }
}

/* The plans row the plan file came from (its db_plan_id), when this
 * database holds that row and it is this very plan; 0 otherwise (a plan
 * file from another database, or edited since), and the run gets a plans
 * row of its own. Runs of a plan dml-plan recorded then line up with its
 * prediction and calibration in v_tuning_history. */
static int64_t planned_row(dml_exec *x)
{
    if (x->plan->db_plan_id <= 0 || !x->plan_text)
        return 0;
    char *stored = NULL;
    dml_error e;
    if (dml_db_plan_json(x->db, x->plan->db_plan_id, &stored, &e) != DML_OK ||
        !stored)
        return 0;
    json_t *a = json_loads(stored, 0, NULL);
    json_t *b = json_loads(x->plan_text, 0, NULL);
    free(stored);
    if (b)
        json_object_del(b, "db_plan_id");
    int64_t id = a && b && json_equal(a, b) ? x->plan->db_plan_id : 0;
    json_decref(a);
    json_decref(b);
    return id;
}

/* Record model, cluster, plan and the run's start (rank 0). */
static dml_status db_begin(dml_exec *x, const char *hosts, dml_error *err)
{
    const dml_plan *p = x->plan;
    recover_dead_run(x);
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm))
        strftime(x->started_at, sizeof x->started_at, "%Y-%m-%dT%H:%M:%SZ",
                 &tm);
    json_t *mj = dml_model_spec_to_json(&p->model);
    char *mtext = mj ? json_dumps(mj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(mj);
    char *layout = layout_json(x);
    if (!mtext || !layout) {
        free(mtext);
        free(layout);
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    }
    dml_status s = dml_db_begin(x->db, err);
    int64_t model_id = 0, cluster_id = 0, plan_id = 0;
    if (s == DML_OK) {
        dml_db_model m;
        memset(&m, 0, sizeof m);
        snprintf(m.name, sizeof m.name, "%s", p->model.name);
        snprintf(m.type, sizeof m.type, "mlp");
        m.spec_json = mtext;
        s = dml_db_record_model(x->db, &m, &model_id, err);
    }
    if (s == DML_OK) {
        dml_db_cluster c;
        memset(&c, 0, sizeof c);
        snprintf(c.name, sizeof c.name, "%s", p->cluster_name);
        snprintf(c.fingerprint, sizeof c.fingerprint, "%s",
                 p->cluster_fingerprint);
        snprintf(c.source, sizeof c.source, "user");
        s = dml_db_record_cluster(x->db, &c, 0, &cluster_id, err);
    }
    if (s == DML_OK)
        plan_id = planned_row(x);
    if (s == DML_OK && plan_id == 0) {
        dml_db_plan dp;
        memset(&dp, 0, sizeof dp);
        dp.model_id = model_id;
        dp.cluster_id = cluster_id;
        dp.config.dp = p->par.dp;
        dp.config.tp = p->par.tp;
        dp.config.pp = p->par.pp;
        dp.config.v = p->par.v;
        dp.config.mbs = (int)p->par.mbs;
        dp.config.microbatches = (int)p->par.microbatches;
        dp.config.global_batch = p->sched.global_batch;
        dp.config.zero = p->par.zero;
        snprintf(dp.config.recompute, sizeof dp.config.recompute, "%s",
                 dml_recompute_name(p->par.recompute));
        dp.config.sp = p->par.sp;
        snprintf(dp.config.schedule, sizeof dp.config.schedule, "%s",
                 dml_pp_schedule_name(p->par.schedule));
        dp.config.threads_per_rank = p->par.threads_per_rank;
        dp.predicted_step_s = p->pred.present ? p->pred.step_s : NAN;
        dp.predicted_mem_bytes =
            p->pred.present ? p->pred.mem_bytes_per_device : NAN;
        dp.predicted_tokens_per_s =
            p->pred.present && p->pred.tokens_per_s > 0 ? p->pred.tokens_per_s
                                                        : NAN;
        dp.mfu = p->pred.present && p->pred.mfu > 0 ? p->pred.mfu : NAN;
        dp.plan_json = x->plan_text;
        s = dml_db_record_plan(x->db, &dp, &plan_id, err);
    }
    if (s == DML_OK) {
        dml_db_run_start rs;
        memset(&rs, 0, sizeof rs);
        rs.plan_id = plan_id;
        rs.ranks = x->world_size;
        rs.layout = layout;
        rs.hosts = hosts;
        rs.predicted_step_s = p->pred.present ? p->pred.step_s : NAN;
        snprintf(rs.started_at, sizeof rs.started_at, "%s", x->started_at);
        s = dml_db_run_begin(x->db, &rs, &x->run_id, err);
    }
    if (s == DML_OK)
        s = dml_db_commit(x->db, err);
    else
        dml_db_rollback(x->db);
    free(mtext);
    free(layout);
    return s;
}

/* ---- checkpoints ------------------------------------------------------------ */

static void ckpt_meta(const dml_exec *x, int64_t step, dml_ckpt_meta *m)
{
    memset(m, 0, sizeof *m);
    m->step = step;
    m->world = x->world_size;
    m->dp = x->dp;
    m->tp = x->tp;
    m->pp = x->pp;
    m->zero = x->plan->par.zero;
    snprintf(m->optimizer, sizeof m->optimizer, "%s",
             dml_optimizer_name(x->hp.kind));
    m->seed = x->opt.seed;
    m->shuffle = x->opt.shuffle;
    m->samples_seen = x->samples_seen;
    if (x->identity) {
        snprintf(m->identity, sizeof m->identity, "%s", x->identity->sha256);
        m->identity_text = x->identity->text;
    }
}

/*
 * Write checkpoint `step` (steps completed), collectively. A checkpoint
 * that cannot be written (a full disk, a file size limit, a lost mount)
 * stops the run: going on would risk more work than stopping, since the
 * next fault would cost everything since the last complete checkpoint,
 * which stays intact (shards and manifest are only ever renamed into
 * place). The error names it so that --resume can continue once there is
 * room.
 */
static dml_status ckpt_write(dml_exec *x, int64_t step, dml_error *err)
{
    const char *root = x->opt.checkpoint_dir;
    dml_heartbeat_step(x->hb, step, "ckpt");
    dml_status s = DML_OK;
    if (x->rank == 0)
        s = dml_ckpt_prepare(root, step, err);
    s = agree(x->world, s, err);
    dml_ckpt_meta m;
    ckpt_meta(x, step, &m);
    char sha[65] = "";
    uint64_t bytes = 0;
    if (s == DML_OK) {
        s = dml_ckpt_write_shard(root, &m, x->rank, x->st.params, x->st.nflat,
                                 x->state,
                                 (size_t)x->state_slots * x->nstate, sha,
                                 &bytes, err);
        s = agree(x->world, s, err);
    }
    char(*shas)[65] = NULL;
    uint64_t *all = NULL;
    char msha[65] = "";
    uint64_t total = 0;
    if (s == DML_OK) {
        shas = x->rank == 0 ? calloc((size_t)x->world_size, 65) : NULL;
        all = x->rank == 0 ? calloc((size_t)x->world_size, 8) : NULL;
        MPI_Gather(sha, 65, MPI_CHAR, shas, 65, MPI_CHAR, 0, x->world);
        MPI_Gather(&bytes, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, 0,
                   x->world);
        if (x->rank == 0)
            s = !shas || !all
                    ? dml_error_msg(err, DML_ENOMEM, "out of memory")
                    : dml_ckpt_write_manifest(root, &m,
                                              (const char(*)[65])shas, all,
                                              msha, &total, err);
        s = agree(x->world, s, err);
    }
    free(shas);
    free(all);
    if (s != DML_OK) {
        char prev[96] = "there is no earlier checkpoint";
        if (x->last_ckpt >= 0)
            snprintf(prev, sizeof prev, "checkpoint step %lld is intact",
                     (long long)x->last_ckpt);
        char buf[1400];
        dml_error_format(err, buf, sizeof buf);
        dml_error_msg(err, s == DML_ENOMEM ? DML_ENOMEM : DML_EIO,
                      "checkpoint step %lld not written, the run stops: "
                      "%s; %s (free space and --resume)",
                      (long long)step, buf, prev);
        if (x->rank == 0) {
            db_event(x, "checkpoint", step,
                     dml_error_format(err, buf, sizeof buf));
        }
        return err->status;
    }
    x->last_ckpt = step;
    if (db_row_begin(x)) {
        char dir[1024], man[1100];
        dml_ckpt_dir(root, step, dir, sizeof dir);
        snprintf(man, sizeof man, "%s/manifest.json", dir);
        dml_db_checkpoint c;
        memset(&c, 0, sizeof c);
        c.step = step;
        c.dir = dir;
        c.manifest_path = man;
        c.bytes = (double)total;
        snprintf(c.sha256, sizeof c.sha256, "%s", msha);
        c.valid = true;
        dml_error e;
        dml_error_clear(&e);
        db_row_end(x, dml_db_record_checkpoint(x->db, x->run_id, &c, NULL, &e),
                   &e);
    }
    return DML_OK;
}

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

/*
 * Continue from the newest checkpoint every rank can verify (collective).
 * A checkpoint past --steps is not used (the run would report more steps
 * than asked for). A checkpoint that fails a check on some rank is
 * skipped: the first RESUME_REPORT_MAX are reported one line each (by the
 * lowest rank that refused it, with its reason), the rest counted in one
 * line, and one event records them all, so that thousands of stray step-N
 * folders give a few lines, not thousands.
 */
static dml_status ckpt_resume(dml_exec *x, dml_error *err)
{
    int64_t *steps = NULL;
    size_t n = 0;
    dml_status s = DML_OK;
    if (x->rank == 0)
        s = dml_ckpt_list(x->opt.checkpoint_dir, &steps, &n, err);
    DML_CHECK(agree(x->world, s, err));
    unsigned long nl = (unsigned long)n;
    MPI_Bcast(&nl, 1, MPI_UNSIGNED_LONG, 0, x->world);
    if (x->rank != 0 && nl > 0) {
        steps = malloc(nl * sizeof *steps);
        if (!steps)
            s = dml_error_msg(err, DML_ENOMEM, "out of memory");
    }
    if ((s = agree(x->world, s, err)) != DML_OK) {
        free(steps);
        return s;
    }
    if (nl > 0)
        MPI_Bcast(steps, (int)nl, MPI_INT64_T, 0, x->world);
    size_t nstate = (size_t)x->state_slots * x->nstate;
    float *p = malloc(x->st.nflat * sizeof(float));
    float *st = malloc((nstate ? nstate : 1) * sizeof(float));
    int found = 0;
    if (!p || !st)
        s = dml_error_msg(err, DML_ENOMEM, "out of memory");
    if ((s = agree(x->world, s, err)) != DML_OK) {
        free(p);
        free(st);
        free(steps);
        return s;
    }
    dml_ckpt_meta want, got;
    ckpt_meta(x, 0, &want);
    int skipped = 0, past = 0;
    char skipped_list[128] = "", past_list[128] = "";
    for (size_t i = 0; i < nl && !found; i++) {
        if (steps[i] > x->steps_total) {
            name_step(past_list, sizeof past_list, ++past, steps[i]);
            continue;
        }
        dml_error e;
        dml_error_clear(&e);
        dml_status r = dml_ckpt_read_shard(x->opt.checkpoint_dir, steps[i],
                                           x->rank, &want, p, x->st.nflat, st,
                                           nstate, &got, &e);
        /* The lowest rank that refuses it, or world_size: one reduction
         * says both whether every rank took it and who reports why. */
        int mine = r == DML_OK ? x->world_size : x->rank, first = 0;
        MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, x->world);
        if (first == x->world_size) {
            memcpy(x->st.params, p, x->st.nflat * sizeof(float));
            if (nstate)
                memcpy(x->state, st, nstate * sizeof(float));
            x->first_step = got.step;
            x->samples_seen = got.samples_seen;
            x->last_ckpt = got.step;
            found = 1;
            break;
        }
        name_step(skipped_list, sizeof skipped_list, ++skipped, steps[i]);
        if (x->rank == first && skipped <= RESUME_REPORT_MAX) {
            char buf[1400];
            dml_error_format(&e, buf, sizeof buf);
            dml_log_warn("skipping checkpoint step %lld (rank %d): %s",
                         (long long)steps[i], x->rank, buf);
        }
    }
    free(p);
    free(st);
    free(steps);
    if (x->rank == 0) {
        char msg[512];
        if (skipped > RESUME_REPORT_MAX)
            dml_log_warn("%d more checkpoint%s skipped, not valid on "
                         "every rank (%d in all: %s)",
                         skipped - RESUME_REPORT_MAX,
                         skipped - RESUME_REPORT_MAX == 1 ? "" : "s", skipped,
                         skipped_list);
        if (past)
            dml_log_warn("%d checkpoint%s past --steps %lld not used (%s)",
                         past, past == 1 ? "" : "s",
                         (long long)x->steps_total, past_list);
        if (skipped || past) {
            char a[200] = "", b[200] = "";
            if (skipped)
                snprintf(a, sizeof a, "%d checkpoint%s skipped, not valid "
                         "on every rank (%s)",
                         skipped, skipped == 1 ? "" : "s", skipped_list);
            if (past)
                snprintf(b, sizeof b, "%d past --steps %lld not used (%s)",
                         past, (long long)x->steps_total, past_list);
            snprintf(msg, sizeof msg, "%s%s%s", a, skipped && past ? "; " : "",
                     b);
            db_event(x, "checkpoint", -1, msg);
        }
        if (found) {
            snprintf(msg, sizeof msg, "resumed from checkpoint step %lld",
                     (long long)x->first_step);
            dml_log_info("%s", msg);
        } else {
            snprintf(msg, sizeof msg, "no valid checkpoint under %.400s; "
                     "starting from step 0", x->opt.checkpoint_dir);
            dml_log_warn("%s", msg);
        }
        db_event(x, "restart", x->first_step, msg);
    }
    return DML_OK;
}

/* ---- after the steps -------------------------------------------------------- */

/* Test-set accuracy: each DP replica takes every dp-th chunk of the test
 * set through its pipeline, forward only. */
static void evaluate(dml_exec *x)
{
    int64_t n = x->test.n;
    int E = x->eval_rows;
    int64_t chunks = (n + E - 1) / E;
    long correct = 0;
    dml_stage_acts *a = &x->eval_acts;
    for (int64_t c = x->dp_i; c < chunks; c += x->dp) {
        int rows = (int)(c * E + E <= n ? E : n - c * E);
        if (x->st.is_first)
            for (int r = 0; r < rows; r++)
                dml_data_features(&x->test, c * E + r,
                                  a->x + (size_t)r * x->test.dim);
        else
            MPI_Recv(a->x, rows * x->st.in_width, MPI_FLOAT, x->pp_i - 1,
                     TAG_EVAL, x->pp_comm, MPI_STATUS_IGNORE);
        if (x->st.is_last)
            memcpy(a->labels, x->test.y + c * E, (size_t)rows);
        dml_stage_timers t;
        memset(&t, 0, sizeof t);
        long ok = 0;
        dml_stage_forward(&x->st, a, rows, &ok, &t);
        if (x->st.is_last)
            correct += x->tp_i == 0 ? ok : 0;
        else
            MPI_Send(dml_stage_output(a, &x->st), rows * x->st.out_width,
                     MPI_FLOAT, x->pp_i + 1, TAG_EVAL, x->pp_comm);
    }
    long total = 0;
    MPI_Allreduce(&correct, &total, 1, MPI_LONG, MPI_SUM, x->world);
    x->test_accuracy = n > 0 ? (double)total / (double)n : NAN;
}

/* Rebuild the whole model on rank 0 (collective): replica 0 contributes
 * its shards, each value exactly once, and a sum puts them together. */
static dml_status save_weights(dml_exec *x, dml_error *err)
{
    size_t count = dml_weights_count(&x->shape);
    float *full = calloc(count, sizeof(float));
    float *sum = x->rank == 0 ? calloc(count, sizeof(float)) : NULL;
    dml_status s = full && (x->rank != 0 || sum)
                       ? DML_OK
                       : dml_error_msg(err, DML_ENOMEM, "out of memory");
    s = agree(x->world, s, err);
    if (s == DML_OK) {
        if (x->dp_i == 0)
            dml_stage_store_full(&x->st, &x->model, full, x->tp_i == 0);
        MPI_Reduce(full, sum, (int)count, MPI_FLOAT, MPI_SUM, 0, x->world);
        if (x->rank == 0)
            s = dml_weights_write(x->opt.save_weights, x->plan->model.name,
                                  &x->shape, sum, err);
        s = agree(x->world, s, err);
    }
    free(full);
    free(sum);
    return s;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

static double median(const double *v, size_t n)
{
    if (n == 0)
        return NAN;
    double *c = malloc(n * sizeof *c);
    if (!c)
        return NAN;
    memcpy(c, v, n * sizeof *c);
    qsort(c, n, sizeof *c, cmp_double);
    double m = n % 2 ? c[n / 2] : 0.5 * (c[n / 2 - 1] + c[n / 2]);
    free(c);
    return m;
}

static double peak_rss_bytes(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return NAN;
    return (double)ru.ru_maxrss * 1024.0; /* Linux reports kilobytes */
}

/* Per-rank medians and peak memory, gathered to rank 0 and recorded. */
static double gather_rank_timings(dml_exec *x)
{
    /* Medians after the first step of this invocation (the warm-up). */
    size_t skip = x->nrun > 1 ? 1 : 0, n = (size_t)x->nrun - skip;
    double mine[5] = {median(x->r_step + skip, n),
                      median(x->r_compute + skip, n),
                      median(x->r_comm + skip, n), median(x->r_idle + skip, n),
                      peak_rss_bytes()};
    char host[MPI_MAX_PROCESSOR_NAME] = "";
    int len = 0;
    MPI_Get_processor_name(host, &len);
    double *all = x->rank == 0 ? calloc((size_t)x->world_size * 5,
                                        sizeof(double))
                               : NULL;
    char *hosts = x->rank == 0 ? calloc((size_t)x->world_size,
                                        MPI_MAX_PROCESSOR_NAME)
                               : NULL;
    MPI_Gather(mine, 5, MPI_DOUBLE, all, 5, MPI_DOUBLE, 0, x->world);
    MPI_Gather(host, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, hosts,
               MPI_MAX_PROCESSOR_NAME, MPI_CHAR, 0, x->world);
    double peak = mine[4];
    if (x->rank == 0 && all && hosts) {
        dml_db_rank_timing *t = calloc((size_t)x->world_size, sizeof *t);
        for (int r = 0; t && r < x->world_size; r++) {
            t[r].rank = r;
            snprintf(t[r].host, sizeof t[r].host, "%s",
                     hosts + (size_t)r * MPI_MAX_PROCESSOR_NAME);
            t[r].step_median_s = all[5 * r];
            t[r].compute_s = all[5 * r + 1];
            t[r].comm_s = all[5 * r + 2];
            t[r].idle_s = all[5 * r + 3];
            t[r].peak_rss_bytes = all[5 * r + 4];
            if (all[5 * r + 4] > peak)
                peak = all[5 * r + 4];
        }
        if (t && db_row_begin(x)) {
            dml_error err;
            dml_error_clear(&err);
            db_row_end(x, dml_db_record_rank_timings(x->db, x->run_id, t,
                                                     (size_t)x->world_size,
                                                     &err),
                       &err);
        }
        free(t);
    }
    free(all);
    free(hosts);
    return peak;
}

/* ---- the run ---------------------------------------------------------------- */

/* Every rank's state file (heartbeat.h), naming the run rank 0 has just
 * recorded. Collective. */
static dml_status start_heartbeat(dml_exec *x, dml_error *err)
{
    if (!x->opt.checkpoint_dir)
        return DML_OK;
    dml_heartbeat_run run;
    memset(&run, 0, sizeof run);
    if (x->rank == 0) {
        run.run_id = x->run_id;
        snprintf(run.started_at, sizeof run.started_at, "%s", x->started_at);
        char abs[PATH_MAX];
        const char *db = x->db ? dml_db_path(x->db) : "";
        snprintf(run.db, sizeof run.db, "%s", realpath(db, abs) ? abs : db);
    }
    run.world = x->world_size;
    MPI_Bcast(&run, (int)sizeof run, MPI_BYTE, 0, x->world);
    snprintf(x->started_at, sizeof x->started_at, "%s", run.started_at);
    dml_status s = dml_heartbeat_open(x->opt.checkpoint_dir, x->rank, &run,
                                      &x->hb, err);
    return agree(x->world, s, err);
}

/* Keep step's record for the database (rank 0), and write the kept
 * steps when a batch is due: a job killed between writes loses at most a
 * batch, or a second's worth, from its record. */
static void record_step(dml_exec *x, int64_t step, double loss,
                        const double stats[ST_COUNT], double step_max)
{
    int64_t i = step - x->first_step;
    x->loss[i] = loss;
    x->lr[i] = dml_optim_lr_at(&x->plan->sched, step);
    x->step_s[i] = step_max;
    x->noise[i] = noise_scale(x, stats);
    if (!x->rec_open)
        return;
    double nr = (double)x->world_size;
    dml_db_step d = {
        .step = step,
        .loss = loss,
        .lr = x->lr[i],
        .global_batch = x->step_batch,
        .step_s = step_max,
        .compute_s = stats[ST_COMPUTE] / nr,
        .tp_comm_s = stats[ST_TP] / nr,
        .pp_comm_s = stats[ST_PP] / nr,
        .dp_comm_s = stats[ST_DP] / nr,
        .pipeline_idle_s = stats[ST_IDLE] / nr,
        .optimizer_s = stats[ST_OPT] / nr,
        .samples_per_s = (double)x->step_batch / step_max,
        .noise_scale = x->noise[i],
    };
    if (dml_record_add(&x->rec, &d, dml_clock_now_s()))
        db_flush(x, false);
}

/* Why the run must stop after step, if it must (every rank computes the
 * same from the reduced loss and statistics): a loss that is not finite
 * or has diverged (guard.h), or parameters that are no longer finite.
 * *kind gets the event's kind. */
static bool step_failed(const dml_exec *x, int64_t step, double loss,
                        const double stats[ST_COUNT], char *why, size_t size,
                        const char **kind)
{
    *kind = "nan";
    if (!isfinite(loss))
        snprintf(why, size, "the loss is not finite at step %lld",
                 (long long)step);
    else if (stats[ST_NONFINITE] > 0)
        snprintf(why, size, "%.0f parameter%s not finite after the update "
                 "of step %lld (loss %.6g)",
                 stats[ST_NONFINITE], stats[ST_NONFINITE] == 1 ? " is" :
                 "s are", (long long)step, loss);
    else if (dml_guard_diverged(loss, x->first_loss)) {
        *kind = "diverged";
        snprintf(why, size, "the loss diverged at step %lld: %.6g is more "
                 "than %g x max(first loss %.6g, 1) = %.6g",
                 (long long)step, loss, DML_GUARD_DIVERGE_FACTOR,
                 x->first_loss, dml_guard_diverge_bound(x->first_loss));
    } else
        return false;
    return true;
}

/* Close the run in the database (rank 0) with its outcome; false when
 * that could not be written (the database refuses writes: the kept steps
 * could not be written either, and the run stays 'running' there). */
static bool record_end(dml_exec *x, dml_status s, bool interrupted,
                       double peak, const dml_error *err)
{
    if (!x->rec_open || x->run_id == 0)
        return false;
    db_flush(x, true); /* the last chance for the kept steps */
    if (x->rec.failing && x->rec.n > 0)
        return false;
    bool incomplete = dml_record_incomplete(&x->rec);
    char msg[DML_ERROR_MSG_MAX + DML_ERROR_FILE_MAX + 64];
    dml_db_run_result r;
    memset(&r, 0, sizeof r);
    snprintf(r.status, sizeof r.status, "%s",
             s != DML_OK ? (interrupted ? "interrupted" : "failed")
             : incomplete ? "failed"
                          : "ok");
    r.steps = x->first_step + x->nrun;
    r.measured_step_s = x->median_step_s;
    r.peak_rss_bytes = peak;
    r.final_loss = x->nrun > 0 ? x->loss[x->nrun - 1] : NAN;
    r.test_accuracy = x->test_accuracy;
    r.error = s != DML_OK ? dml_error_format(err, msg, sizeof msg)
              : incomplete ? dml_record_describe(&x->rec, msg, sizeof msg)
                           : NULL;
    dml_error e;
    dml_error_clear(&e);
    dml_status f = dml_db_run_finish(x->db, x->run_id, &r, &e);
    db_row_end(x, f, &e);
    return f == DML_OK;
}

dml_status dml_exec_run(dml_exec *x, dml_error *err)
{
    /* SIGTERM and SIGINT are noted, and read at each step boundary; before
     * the heartbeat's handlers (heartbeat.h), which chain to these. */
    dml_interrupt_install(DML_INTERRUPT_NOTE, NULL, NULL);
    char *hosts = hosts_json(x);
    dml_status s = DML_OK;
    if (x->rank == 0) {
        s = dml_record_init(&x->rec, write_steps, x, dml_clock_now_s,
                            DML_RECORD_KEEP_MAX, err);
        x->rec_open = s == DML_OK;
        if (s == DML_OK)
            s = db_begin(x, hosts, err);
    }
    free(hosts);
    DML_CHECK(agree(x->world, s, err));
    /* The run is recorded as running from here: a failure goes on to the
     * end, where the run is closed with it. Both calls agree on s. */
    s = start_heartbeat(x, err);
    if (s == DML_OK && x->opt.resume)
        s = ckpt_resume(x, err);
    if (x->first_step == 0)
        x->samples_seen = 0;

    dml_progress prog;
    dml_progress_begin(&prog, "training", (long)(x->steps_total - x->first_step),
                       x->rank == 0 && !x->opt.quiet_progress);
    char failure[256] = "";
    const char *failure_kind = "nan";
    bool stop_ckpt = false;
    for (int64_t step = x->first_step; s == DML_OK && step < x->steps_total;
         step++) {
        double stats[ST_COUNT], step_max;
        int stop = 0;
        dml_heartbeat_step(x->hb, step, "running");
        step_run(x, step, stats, &step_max, &stop);
        x->nrun++;
        double loss = stats[ST_LOSS] / (double)x->step_batch;
        if (x->nrun == 1)
            x->first_loss = loss;
        if (x->rank == 0) {
            record_step(x, step, loss, stats, step_max);
            dml_progress_step(&prog, (long)x->nrun, NULL);
        }
        if (step_failed(x, step, loss, stats, failure, sizeof failure,
                        &failure_kind))
            break;
        x->stop_signal = stop;
        /* A checkpoint when due, and at a stop (nothing is lost then). */
        bool due = x->opt.checkpoint_every > 0 &&
                   (stop || (step + 1) % x->opt.checkpoint_every == 0);
        if (due && x->last_ckpt != step + 1) {
            db_flush(x, false); /* the checkpoint's steps are in the record */
            s = ckpt_write(x, step + 1, err);
            stop_ckpt = stop && s == DML_OK;
        }
        if (stop)
            break;
    }
    dml_progress_end(&prog);
    /* A signal after the last step boundary still stops the run before
     * its evaluation; one after this point is too late to matter. */
    if (s == DML_OK && !failure[0] && !x->stop_signal) {
        int mine = dml_interrupt_signal();
        MPI_Allreduce(&mine, &x->stop_signal, 1, MPI_INT, MPI_MAX, x->world);
    }
    db_flush(x, false);
    if (failure[0]) {
        db_event(x, failure_kind, x->first_step + x->nrun - 1, failure);
        s = dml_error_msg(err, DML_ERUNTIME, "%s", failure);
    }
    bool interrupted = s == DML_OK && x->stop_signal != 0;
    if (interrupted) {
        char ck[96] = "";
        if (stop_ckpt)
            snprintf(ck, sizeof ck, "; checkpoint step %lld written, "
                     "--resume continues from it",
                     (long long)x->last_ckpt);
        s = dml_error_msg(err, DML_ERUNTIME,
                          "interrupted by %s after %lld of %lld steps%s",
                          dml_interrupt_name(x->stop_signal),
                          (long long)(x->first_step + x->nrun),
                          (long long)x->steps_total, ck);
        char msg[256];
        db_event(x, "interrupted", x->first_step + x->nrun,
                 dml_error_format(err, msg, sizeof msg));
    }

    if (s == DML_OK)
        evaluate(x);
    if (s == DML_OK && x->opt.save_weights)
        s = save_weights(x, err);
    double peak = gather_rank_timings(x);
    bool recorded = true;
    if (x->rank == 0) {
        size_t skip = x->nrun > 1 ? 1 : 0;
        x->median_step_s = median(x->step_s + skip, (size_t)x->nrun - skip);
        recorded = record_end(x, s, interrupted, peak, err);
        /* Training went well but its record did not: say what is missing
         * (a failure or interruption already has its line). */
        if (s == DML_OK && (!recorded || dml_record_incomplete(&x->rec))) {
            char msg[DML_ERROR_MSG_MAX];
            s = dml_error_msg(err, DML_EDB, "%s",
                              dml_record_describe(&x->rec, msg, sizeof msg));
        }
    }
    s = agree(x->world, s, err);
    /* After the record: a job killed before this line is "running" in
     * its files but ended in the database, and is left alone. A run whose
     * end rank 0 could not record is left "stopped", so that the next
     * dml-exec on this checkpoint directory marks it failed. */
    dml_heartbeat_close(x->hb, x->first_step + x->nrun,
                        !recorded ? "stopped"
                        : s == DML_OK ? "finished"
                                      : "failed");
    x->hb = NULL;
    dml_interrupt_restore();
    if (!interrupted)
        x->stop_signal = 0; /* a stop that ended as a failure exits 1 */
    return s;
}

int dml_exec_stop_signal(const dml_exec *x)
{
    return x ? x->stop_signal : 0;
}

/* ---- results ---------------------------------------------------------------- */

json_t *dml_exec_summary(const dml_exec *x)
{
    if (x->rank != 0)
        return NULL;
    const dml_parallel_config *c = &x->plan->par;
    json_t *losses = json_array();
    for (int64_t i = 0; i < x->nrun; i++)
        json_array_append_new(losses, json_real(x->loss[i]));
    json_t *noise = json_array();
    for (int64_t i = 0; i < x->nrun; i++)
        json_array_append_new(noise, isfinite(x->noise[i])
                                         ? json_real(x->noise[i])
                                         : json_null());
    json_t *layout = json_pack(
        "{s:i, s:i, s:i, s:i, s:I, s:I, s:s, s:i, s:i}", "dp", c->dp, "tp",
        c->tp, "pp", c->pp, "zero", c->zero, "mbs", (json_int_t)c->mbs,
        "microbatches", (json_int_t)c->microbatches, "schedule",
        dml_pp_schedule_name(c->schedule), "threads_per_rank",
        x->opt.threads > 0 ? x->opt.threads : c->threads_per_rank, "ranks",
        x->world_size);
#define NUM(v) (isfinite(v) ? json_real(v) : json_null())
    json_t *j = json_pack(
        "{s:i, s:s, s:s, s:o, s:s, s:I, s:s, s:I, s:I, s:o, s:o, s:o, s:o, "
        "s:o, s:o}",
        "schema_version", 1, "kind", "dml-exec-run", "model",
        x->plan->model.name, "layout", layout, "optimizer",
        dml_optimizer_name(x->hp.kind), "global_batch",
        (json_int_t)x->plan->sched.global_batch, "shuffle",
        x->opt.shuffle ? "epoch" : "none", "first_step",
        (json_int_t)x->first_step, "steps",
        (json_int_t)(x->first_step + x->nrun), "losses", losses,
        "noise_scale", noise, "median_step_s", NUM(x->median_step_s),
        "predicted_step_s",
        x->plan->pred.present ? json_real(x->plan->pred.step_s) : json_null(),
        "test_accuracy", NUM(x->test_accuracy), "run_id",
        x->run_id > 0 ? json_integer(x->run_id) : json_null());
#undef NUM
    if (j)
        json_object_set_new(j, "seed", json_integer((json_int_t)x->opt.seed));
    return j;
}

const double *dml_exec_losses(const dml_exec *x, int64_t *first, int64_t *n)
{
    *first = x->first_step;
    *n = x->nrun;
    return x->rank == 0 ? x->loss : NULL;
}

const dml_gemm_timer *dml_exec_gemm_profile(const dml_exec *x,
                                            int64_t *steps)
{
    *steps = x->gemm_steps;
    return &x->gemm_prof;
}

MPI_Comm dml_exec_dp_comm(const dml_exec *x)
{
    return x->dp_comm;
}

dml_status dml_exec_bench_dp_sync(dml_exec *x, int reps, double *median_s,
                                  double *bytes, dml_error *err)
{
    double *t = calloc((size_t)(reps > 0 ? reps : 1), sizeof(double));
    if (!t)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    bool saved = x->measure_noise;
    x->measure_noise = false;
    for (int r = 0; r < reps; r++) {
        for (int k = 0; k < x->nbuckets; k++)
            x->buckets[k].launched = false;
        MPI_Barrier(x->dp_comm);
        double t0 = dml_clock_now_s();
        for (int k = x->nbuckets - 1; k >= 0; k--)
            bucket_launch(x, k);
        MPI_Waitall(x->nbuckets, x->breq, MPI_STATUSES_IGNORE);
        if (x->zero) {
            for (int k = 0; k < x->nbuckets; k++)
                MPI_Iallgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL,
                               x->st.params + x->buckets[k].lo,
                               (int)x->buckets[k].chunk, MPI_FLOAT,
                               x->dp_comm, &x->breq[k]);
            MPI_Waitall(x->nbuckets, x->breq, MPI_STATUSES_IGNORE);
        }
        t[r] = dml_clock_now_s() - t0;
    }
    x->measure_noise = saved;
    *median_s = median(t, (size_t)reps);
    *bytes = (double)x->st.nflat * sizeof(float);
    free(t);
    return DML_OK;
}
