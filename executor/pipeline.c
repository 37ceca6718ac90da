/*
 * pipeline.c: a step's micro-batches through the stage (see pipeline.h).
 */
#include "executor/pipeline.h"

#include <stdlib.h>
#include <string.h>

#include "common/clock.h"

/* Point-to-point tags; messages of one kind between two ranks arrive in
 * the order sent (MPI non-overtaking), so the kind is all a tag says. */
#define TAG_ACT 1
#define TAG_GRAD 2
#define TAG_EVAL 3

static dml_status make_slots(dml_pipeline *p, int max_mb, dml_error *err)
{
    p->nslots = p->gpipe ? max_mb
                         : (p->pp - p->pp_i < max_mb ? p->pp - p->pp_i
                                                     : max_mb);
    p->slots = calloc((size_t)p->nslots, sizeof *p->slots);
    if (!p->slots)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    for (int i = 0; i < p->nslots; i++) {
        dml_pipeline_slot *s = &p->slots[i];
        s->req_act = s->req_grad = MPI_REQUEST_NULL;
        DML_CHECK(dml_stage_acts_init(&s->acts, p->st, p->mbs, err));
        if (!p->st->is_first) {
            s->gsend = malloc((size_t)p->mbs * p->st->in_width *
                              sizeof(float));
            if (!s->gsend)
                return dml_error_msg(err, DML_ENOMEM, "out of memory");
        }
    }
    return DML_OK;
}

dml_status dml_pipeline_init(dml_pipeline *p, dml_stage *st, MPI_Comm pp_comm,
                             dml_pp_schedule schedule, int64_t mbs,
                             int64_t max_mb, int eval_rows_max,
                             dml_sync *sync, dml_noise *noise,
                             dml_error *err)
{
    memset(p, 0, sizeof *p);
    p->st = st;
    p->pp_comm = pp_comm;
    MPI_Comm_size(pp_comm, &p->pp);
    MPI_Comm_rank(pp_comm, &p->pp_i);
    p->gpipe = schedule == DML_PP_GPIPE;
    p->mbs = (int)mbs;
    p->sync = sync;
    p->noise = noise;
    DML_CHECK(make_slots(p, (int)max_mb, err));
    size_t w = (size_t)dml_stage_scratch_width(st);
    p->scratch0 = malloc((size_t)p->mbs * w * sizeof(float));
    p->scratch1 = malloc((size_t)p->mbs * w * sizeof(float));
    p->gin = malloc((size_t)p->mbs * st->out_width * sizeof(float));
    if (!p->scratch0 || !p->scratch1 || !p->gin)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    int64_t e = mbs * max_mb;
    if (e > eval_rows_max)
        e = mbs > eval_rows_max ? mbs : eval_rows_max;
    p->eval_rows = (int)e;
    return dml_stage_acts_init(&p->eval_acts, st, p->eval_rows, err);
}

void dml_pipeline_free(dml_pipeline *p)
{
    for (int i = 0; p->slots && i < p->nslots; i++) {
        dml_stage_acts_free(&p->slots[i].acts, p->st);
        free(p->slots[i].gsend);
    }
    free(p->slots);
    if (p->eval_acts.x)
        dml_stage_acts_free(&p->eval_acts, p->st);
    free(p->scratch0);
    free(p->scratch1);
    free(p->gin);
    memset(p, 0, sizeof *p);
}

/* Let MPI move the messages in flight: Open MPI progresses non-blocking
 * collectives and large sends only inside MPI calls. */
static void progress(dml_pipeline *p)
{
    dml_sync_progress(p->sync);
    double t0 = dml_clock_now_s();
    int flag;
    for (int i = 0; i < p->nslots; i++) {
        if (p->slots[i].req_act != MPI_REQUEST_NULL)
            MPI_Test(&p->slots[i].req_act, &flag, MPI_STATUS_IGNORE);
        if (p->slots[i].req_grad != MPI_REQUEST_NULL)
            MPI_Test(&p->slots[i].req_grad, &flag, MPI_STATUS_IGNORE);
    }
    p->pp_comm_s += dml_clock_now_s() - t0;
}

/* Receive from pipeline neighbour src: waiting for the peer to send is
 * pipeline idle time (the bubble), the transfer itself PP communication. */
static void pp_recv(dml_pipeline *p, float *buf, int count, int src, int tag)
{
    MPI_Status st;
    double t0 = dml_clock_now_s();
    MPI_Probe(src, tag, p->pp_comm, &st);
    double t1 = dml_clock_now_s();
    MPI_Recv(buf, count, MPI_FLOAT, src, tag, p->pp_comm, MPI_STATUS_IGNORE);
    p->idle_s += t1 - t0;
    p->pp_comm_s += dml_clock_now_s() - t1;
}

static void pp_wait(dml_pipeline *p, MPI_Request *r)
{
    if (*r == MPI_REQUEST_NULL)
        return;
    double t0 = dml_clock_now_s();
    MPI_Wait(r, MPI_STATUS_IGNORE);
    p->pp_comm_s += dml_clock_now_s() - t0;
}

static void pp_send(dml_pipeline *p, float *buf, int count, int dst, int tag,
                    MPI_Request *r)
{
    double t0 = dml_clock_now_s();
    MPI_Isend(buf, count, MPI_FLOAT, dst, tag, p->pp_comm, r);
    p->pp_comm_s += dml_clock_now_s() - t0;
}

static void forward_mb(dml_pipeline *p, const dml_batch *b, int j)
{
    dml_stage *st = p->st;
    dml_pipeline_slot *s = &p->slots[j % p->nslots];
    int rows = p->mbs;
    pp_wait(p, &s->req_act);
    if (st->is_first || st->is_last)
        dml_data_gather(b->data, b->order, b->first + (int64_t)j * p->mbs,
                        rows, st->is_first ? s->acts.x : NULL,
                        st->is_last ? s->acts.labels : NULL);
    if (!st->is_first)
        pp_recv(p, s->acts.x, rows * st->in_width, p->pp_i - 1, TAG_ACT);
    double loss = dml_stage_forward(st, &s->acts, rows, NULL, &p->tm);
    if (st->is_last)
        p->loss_sum += loss;
    else
        pp_send(p, dml_stage_output(&s->acts, st), rows * st->out_width,
                p->pp_i + 1, TAG_ACT, &s->req_act);
    progress(p);
}

/* After a layer's backward on the step's last micro-batch its gradients
 * are final: the exchange may start on them. */
static void on_layer_done(void *ctx, int local_layer)
{
    dml_pipeline *p = ctx;
    dml_sync_grad_ready(p->sync, local_layer);
    progress(p);
}

static void backward_mb(dml_pipeline *p, const dml_batch *b, int j)
{
    dml_stage *st = p->st;
    dml_pipeline_slot *s = &p->slots[j % p->nslots];
    int rows = p->mbs, m = b->microbatches;
    if (!st->is_last)
        pp_recv(p, p->gin, rows * st->out_width, p->pp_i + 1, TAG_GRAD);
    if (!st->is_first)
        pp_wait(p, &s->req_grad);
    bool last = j == m - 1;
    dml_stage_backward(st, &s->acts, rows, p->gin,
                       (float)(1.0 / (double)b->global_batch),
                       st->is_first ? NULL : s->gsend, p->scratch0,
                       p->scratch1,
                       last && p->sync->dp > 1 ? on_layer_done : NULL, p,
                       &p->tm);
    if (!st->is_first)
        pp_send(p, s->gsend, rows * st->in_width, p->pp_i - 1, TAG_GRAD,
                &s->req_grad);
    dml_noise_after_backward(p->noise, j, m);
    progress(p);
}

void dml_pipeline_run(dml_pipeline *p, const dml_batch *b)
{
    p->tm.compute_s = p->tm.tp_comm_s = 0.0;
    p->tm.gemm.time_s = p->tm.gemm.flop = 0.0;
    p->tm.gemm.calls = 0;
    p->tm.gemm.nshapes = 0;
    p->pp_comm_s = p->idle_s = p->loss_sum = 0.0;
    int m = b->microbatches;
    int warm = p->gpipe ? m : p->pp - p->pp_i - 1;
    if (warm > m)
        warm = m;
    int f = 0, k = 0;
    for (; f < warm; f++)
        forward_mb(p, b, f);
    while (f < m) {
        forward_mb(p, b, f++);
        backward_mb(p, b, k++);
    }
    while (k < m)
        backward_mb(p, b, k++);
}

void dml_pipeline_drain(dml_pipeline *p)
{
    for (int i = 0; i < p->nslots; i++) {
        pp_wait(p, &p->slots[i].req_act);
        pp_wait(p, &p->slots[i].req_grad);
    }
}

long dml_pipeline_evaluate(dml_pipeline *p, const dml_dataset *test, int dp,
                           int dp_i)
{
    dml_stage *st = p->st;
    int64_t n = test->n;
    int E = p->eval_rows;
    int64_t chunks = (n + E - 1) / E;
    long correct = 0;
    dml_stage_acts *a = &p->eval_acts;
    for (int64_t c = dp_i; c < chunks; c += dp) {
        int rows = (int)(c * E + E <= n ? E : n - c * E);
        if (st->is_first)
            for (int r = 0; r < rows; r++)
                dml_data_features(test, c * E + r,
                                  a->x + (size_t)r * test->dim);
        else
            MPI_Recv(a->x, rows * st->in_width, MPI_FLOAT, p->pp_i - 1,
                     TAG_EVAL, p->pp_comm, MPI_STATUS_IGNORE);
        if (st->is_last)
            memcpy(a->labels, test->y + c * E, (size_t)rows);
        dml_stage_timers t;
        memset(&t, 0, sizeof t);
        long ok = 0;
        dml_stage_forward(st, a, rows, &ok, &t);
        if (st->is_last)
            correct += st->tp_index == 0 ? ok : 0;
        else
            MPI_Send(dml_stage_output(a, st), rows * st->out_width,
                     MPI_FLOAT, p->pp_i + 1, TAG_EVAL, p->pp_comm);
    }
    return correct;
}
