/*
 * test_search.c: the search and what is built on it: pruning that loses
 * no plan, the top-K order, fixed knobs, rejection reasons, the planner's
 * input errors, CPU ranks x threads, the automatic batch, --why-not, the
 * attention kernel, the runtime and the data-parallel strategy as search
 * dimensions, --top all, and where a --config ranks.
 */
#include "tests/support/unit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "planner/planner.h"
#include "tests/support/planner_support.h"

/* A request for model on nodes x cluster at batch (0 = auto), with an
 * optional --config text. */
static dml_planner_request request(const char *model, const char *cluster,
                                   int64_t nodes, int64_t batch,
                                   const char *config)
{
    dml_planner_request r;
    dml_error err;
    if (dml_test_planner_request(&r, model, cluster, nodes, batch, config,
                                 &err))
        fail_msg("%s", err.msg);
    r.db_path = "/nonexistent-dir/none.db";
    return r;
}

static dml_planner *make(const dml_planner_request *r)
{
    dml_planner *p = NULL;
    dml_error err;
    if (dml_planner_new(r, &p, &err) != DML_OK)
        fail_msg("dml_planner_new: %s", err.msg);
    return p;
}

static dml_planner *run(const dml_planner_request *r)
{
    dml_planner *p = make(r);
    dml_error err;
    if (dml_planner_run(p, &err) != DML_OK)
        fail_msg("dml_planner_run: %s", err.msg);
    return p;
}

/* Search split 0 of p with or without pruning, keeping k plans. */
static void search(const dml_planner *p, bool prune, int k,
                   dml_search_result *r)
{
    dml_search_request q;
    memset(&q, 0, sizeof q);
    q.ctx = &p->splits[0].ctx;
    q.space = dml_planner_space_of(p, 0);
    q.fixed = p->req.config;
    q.fixed.par.threads_per_rank = p->splits[0].threads_per_rank;
    q.global_batch = p->req.global_batch;
    q.prune = prune;
    dml_search_result_init(r, k);
    dml_error err;
    assert_int_equal(dml_planner_search(&q, r, &err), DML_OK);
    dml_search_result_finish(r);
}

static void pruning_loses_no_plan(void **state)
{
    (void)state;
    /* A roomy case (most configurations fit) and a tight one (13B on one
     * node: most do not), searched exhaustively and with pruning. */
    const dml_planner_request cases[] = {
        request("gpt3-1.3b", "dgx-a100-80g", 2, 64, NULL),
        request("gpt3-13b", "dgx-a100-80g", 1, 32, NULL),
    };
    for (size_t c = 0; c < 2; c++) {
        dml_planner *p = make(&cases[c]);
        dml_search_result *full = malloc(sizeof *full);
        dml_search_result *pruned = malloc(sizeof *pruned);
        search(p, false, 20, full);
        search(p, true, 20, pruned);
        assert_true(full->count > 0);
        assert_int_equal(pruned->count, full->count);
        for (int i = 0; i < full->count; i++) {
            if (full->top[i].score_s != pruned->top[i].score_s ||
                memcmp(&full->top[i].par, &pruned->top[i].par,
                       sizeof full->top[i].par) != 0)
                fail_msg("case %zu: plan %d differs with pruning", c, i);
        }
        /* Pruning priced fewer configurations, and the two counts add up
         * to what the exhaustive search saw. */
        assert_true(pruned->pruned > 0);
        assert_true(pruned->candidates < full->candidates);
        assert_int_equal(full->pruned, 0);
        assert_int_equal(pruned->candidates + pruned->pruned,
                         full->candidates);
        assert_int_equal(full->feasible + full->rejected[DML_REJECT_MEMORY],
                         full->candidates);
        /* the rules rejected the same configurations either way */
        for (int k = 0; k < DML_REJECT_COUNT; k++)
            if (k != DML_REJECT_MEMORY)
                assert_int_equal(full->rejected[k], pruned->rejected[k]);
        dml_search_result_free(full);
        dml_search_result_free(pruned);
        free(full);
        free(pruned);
        dml_planner_free(p);
    }
}

static void top_k_in_order_and_admissible(void **state)
{
    (void)state;
    dml_planner_request r = request("gpt3-1.3b", "dgx-a100-80g", 2, 64, NULL);
    r.top_k = 8;
    dml_planner *p = run(&r);
    assert_int_equal(p->count, 8);
    dml_planner_space sp = dml_planner_space_of(p, 0);
    for (int i = 0; i < p->count; i++) {
        const dml_planned *pl = &p->plans[i];
        char msg[256];
        /* admissible, fits, and priced as the cost model prices it */
        assert_int_equal(dml_planner_check(&sp, &pl->plan.par, 64, msg,
                                           sizeof msg),
                         DML_REJECT_NONE);
        assert_true(pl->plan.pred.mem_bytes_per_device <= 80e9);
        dml_prediction q;
        dml_error err;
        assert_int_equal(dml_costmodel_step_time(&p->splits[0].ctx,
                                                 &pl->plan.par, NULL, 0, &q,
                                                 NULL, &err),
                         DML_OK);
        assert_true(fabs(q.step_s - pl->cand.score_s) <= 1e-12 * q.step_s);
        assert_true(fabs(pl->plan.pred.step_s - q.step_s) <=
                    1e-12 * q.step_s);
        assert_int_equal(dml_plan_validate(&pl->plan, &err), DML_OK);
        assert_int_equal(pl->plan.stage_count, pl->plan.par.pp * pl->plan.par.v);
        if (i > 0)
            assert_true(p->plans[i - 1].cand.score_s <= pl->cand.score_s);
    }
    /* The best of 8 is the best of 1. */
    dml_planner_request r1 = r;
    r1.top_k = 1;
    dml_planner *p1 = run(&r1);
    assert_int_equal(p1->count, 1);
    assert_memory_equal(&p1->plans[0].plan.par, &p->plans[0].plan.par,
                        sizeof p->plans[0].plan.par);
    assert_true(p->result.feasible >= 8);
    assert_true(p->result.feasible <= p->result.candidates);
    dml_planner_free(p1);
    dml_planner_free(p);
}

static void fixed_knobs_are_kept(void **state)
{
    (void)state;
    dml_planner_request r =
        request("gpt3-1.3b", "dgx-a100-80g", 2, 64, "tp=2,pp=2");
    dml_planner *p = run(&r);
    for (int i = 0; i < p->count; i++) {
        assert_int_equal(p->plans[i].plan.par.tp, 2);
        assert_int_equal(p->plans[i].plan.par.pp, 2);
        assert_int_equal(p->plans[i].plan.par.dp, 4);
    }
    dml_planner_free(p);
    /* Every knob fixed: one configuration priced ("what if"). */
    r = request("gpt3-1.3b", "dgx-a100-80g", 2, 64,
                "dp=4,tp=2,pp=2,v=3,mbs=2,zero=1,recompute=selective,sp=1,"
                "attn=materialized,sync=allreduce");
    p = run(&r);
    assert_int_equal(p->result.candidates, 1);
    assert_int_equal(p->count, 1);
    assert_int_equal(p->plans[0].plan.par.v, 3);
    assert_int_equal(p->plans[0].plan.par.microbatches, 8);
    assert_int_equal(p->plans[0].plan.par.schedule, DML_PP_INTERLEAVED);
    dml_planner_free(p);
}

static void nothing_fits_names_memory(void **state)
{
    (void)state;
    /* Llama 3 405B's model states alone are 16 bytes x 405e9 = 6.5 TB,
     * 810 GB on each of 8 GPUs even fully sharded. */
    dml_planner_request r = request("llama3-405b", "dgx-h100", 1, 64, NULL);
    dml_planner *p = make(&r);
    dml_error err;
    assert_int_equal(dml_planner_run(p, &err), DML_EINFEASIBLE);
    assert_non_null(strstr(err.msg, "no plan fits in memory"));
    assert_non_null(strstr(err.msg, "GB per device"));
    const dml_search_result *s = &p->result;
    assert_int_equal(s->feasible, 0);
    assert_true(s->candidates > 0);
    assert_int_equal(s->rejected[DML_REJECT_MEMORY], s->candidates);
    assert_int_equal(dml_search_main_rejection(s), DML_REJECT_MEMORY);
    assert_true(s->have_smallest);
    assert_true(s->smallest.pred.mem_bytes_per_device > 405e9 * 16 / 8 * 0.99);
    assert_non_null(strstr(s->example[DML_REJECT_MEMORY], "more than the 80"));
    dml_planner_free(p);
}

static void expect_new_error(const dml_planner_request *r, dml_status want,
                             const char *message)
{
    dml_planner *p = NULL;
    dml_error err;
    dml_error_clear(&err);
    dml_status s = dml_planner_new(r, &p, &err);
    if (s != want || !strstr(err.msg, message))
        fail_msg("expected %s with \"%s\", got %s: %s", dml_status_name(want),
                 message, dml_status_name(s), err.msg);
    assert_null(p);
}

static void input_errors_before_search(void **state)
{
    (void)state;
    dml_planner_request r = request("gpt3-9000b", "dgx-a100-80g", 0, 8, NULL);
    expect_new_error(&r, DML_ENOTFOUND, "unknown model \"gpt3-9000b\"; "
                                        "presets: bert-large, gpt3-1.3b");
    r = request("gpt3-175b", "dgx-z100", 0, 8, NULL);
    expect_new_error(&r, DML_ENOTFOUND, "presets: cpu-node, dgx-a100-80g, "
                                        "dgx-h100");
    r = request("gpt3-175b", "dgx-a100-80g", 128, 1536, "tp=5");
    expect_new_error(&r, DML_EINPUT,
                     "--config: tp 5 does not divide the 96 attention heads");
    r = request("gpt3-175b", "dgx-a100-80g", 128, 1536, "dp=2,tp=8,pp=8");
    expect_new_error(&r, DML_EINPUT, "= 128, but the plan is for 1024");
    r = request("gpt3-175b", "dgx-a100-80g", 128, 1536, NULL);
    r.devices = 2048;
    expect_new_error(&r, DML_EUSAGE, "has 1024 devices");
    r = request("gpt3-175b", "dgx-a100-80g", 128, 0, NULL);
    expect_new_error(&r, DML_EUSAGE, "--noise-scale");
    r = request("mlp-fmnist", "cpu-node", 0, 256, NULL);
    r.seq = 128;
    expect_new_error(&r, DML_EUSAGE, "--seq: mlp-fmnist is an mlp");
    r = request("gpt3-175b", "dgx-a100-80g", 128, 1536, NULL);
    r.base_lr = 1e-4;
    expect_new_error(&r, DML_EUSAGE, "--base-lr and --base-batch go together");
    r = request("gpt3-175b", "dgx-a100-80g", 128, 1536, "threads=4");
    expect_new_error(&r, DML_EUSAGE, "threads applies to CPU clusters");
    /* --devices without --nodes takes the nodes it needs. */
    r = request("gpt3-1.3b", "dgx-a100-80g", 0, 64, NULL);
    r.devices = 32;
    dml_planner *p = make(&r);
    assert_int_equal(dml_cluster_spec_nodes(&p->cluster), 4);
    assert_int_equal(p->splits[0].devices, 32);
    dml_planner_free(p);
}

static void gpt3_175b_winner_is_sane(void **state)
{
    (void)state;
    /* Narayanan et al. SC21 and Korthikanti et al. 2022 train GPT-3 175B
     * with tp = 8 inside a DGX node and pipeline parallelism across nodes;
     * Korthikanti Table 5 reports 51.4% MFU with sequence parallelism and
     * selective recomputation. */
    dml_planner_request r =
        request("gpt3-175b", "dgx-a100-80g", 128, 1536, NULL);
    dml_planner *p = run(&r);
    const dml_plan *w = &p->plans[0].plan;
    assert_int_equal(w->par.tp, 8);
    assert_true(w->par.pp > 1);
    assert_int_equal((int64_t)w->par.dp * w->par.tp * w->par.pp, 1024);
    assert_true(w->pred.mem_bytes_per_device <= 80e9);
    assert_true(w->pred.mfu > 0.35 && w->pred.mfu < 0.65);
    /* it aims at 0.1 s; valgrind runs code some 50 times slower */
    if (!getenv("DML_VALGRIND"))
        assert_true(p->result.elapsed_s < 5.0);
    dml_planner_free(p);
}

static void cpu_ranks_times_threads(void **state)
{
    (void)state;
    /* cpu-node: 2 devices (sockets) of 32 cores. Without --devices the
     * planner tries 1, 2, 4, 8, 16 and 32 ranks per socket. */
    dml_planner_request r = request("mlp-fmnist", "cpu-node", 0, 256, NULL);
    r.top_k = 20;
    dml_planner *p = run(&r);
    assert_int_equal(p->split_count, 6);
    bool several = false;
    for (int i = 0; i < p->count; i++) {
        const dml_planned *pl = &p->plans[i];
        const dml_planner_split *s = &p->splits[pl->cand.split];
        /* every split uses the 64 cores of the node */
        assert_int_equal(pl->plan.par.threads_per_rank *
                             s->ctx.devices_per_node, 64);
        several |= pl->plan.par.threads_per_rank !=
                   p->plans[0].plan.par.threads_per_rank;
    }
    assert_true(several);
    dml_planner_free(p);
    /* --devices 2: one rank per socket with all its cores. */
    r.devices = 2;
    p = run(&r);
    assert_int_equal(p->split_count, 1);
    assert_int_equal(p->plans[0].plan.par.threads_per_rank, 32);
    assert_int_equal(p->plans[0].plan.devices, 2);
    dml_planner_free(p);
    /* threads fixed: the split that gives it */
    r = request("mlp-fmnist", "cpu-node", 0, 256, "dp=2,threads=1");
    r.devices = 2;
    p = run(&r);
    assert_int_equal(p->plans[0].plan.par.threads_per_rank, 1);
    assert_int_equal(p->plans[0].plan.par.dp, 2);
    dml_planner_free(p);
}

static void auto_batch_minimises_time_to_train(void **state)
{
    (void)state;
    /* S(B) = S_min (1 + B_noise / B) steps (McCandlish et al. 2018). */
    dml_planner_request r = request("mlp-fmnist", "cpu-node", 0, 0, NULL);
    r.devices = 2;
    r.noise_scale = 1000;
    r.tokens = 1e8;
    dml_planner *p = run(&r);
    assert_true(p->auto_batch);
    assert_true(p->batch_count > 4);
    const dml_candidate *w = &p->plans[0].cand;
    double s_min = 1e8 / 1000.0;
    assert_true(fabs(w->score_s - s_min * (1 + 1000.0 / (double)w->global_batch) *
                                      w->pred.step_s) <= 1e-9 * w->score_s);
    /* No fixed batch among the choices trains faster. */
    for (int i = 0; i < p->batch_count; i++) {
        dml_planner_request f = r;
        f.global_batch = p->batches[i];
        f.top_k = 1;
        dml_planner *q = make(&f);
        dml_error err;
        if (dml_planner_run(q, &err) == DML_OK) {
            double t = s_min * (1 + 1000.0 / (double)p->batches[i]) *
                       q->plans[0].plan.pred.step_s;
            assert_true(w->score_s <= t * (1 + 1e-12));
        }
        dml_planner_free(q);
    }
    /* the plan's steps follow S(B) too */
    assert_true(fabs(p->plans[0].train.steps -
                     s_min * (1 + 1000.0 / (double)w->global_batch)) < 1e-6 *
                                                                  s_min);
    dml_planner_free(p);
}

static void why_not_answers(void **state)
{
    (void)state;
    dml_planner_request r =
        request("gpt3-175b", "dgx-a100-80g", 128, 1536, NULL);
    dml_planner *p = run(&r);
    dml_planner_config c;
    dml_why_not w;
    dml_error err;

    /* A rule: which one. */
    assert_int_equal(dml_planner_config_parse("tp=5", "--why-not", &c, &err),
                     DML_OK);
    assert_int_equal(dml_planner_why_not(p, &c, &w, &err), DML_OK);
    assert_int_equal(w.verdict, DML_REJECT_TP_MODEL);
    assert_non_null(strstr(w.text, "tp=5 is ruled out: tp 5 does not divide "
                                   "the 96 attention heads"));

    /* The winner itself. */
    char cfg[256];
    dml_planner_config_format(&p->plans[0].plan.par, p->model.type, cfg,
                              sizeof cfg);
    assert_int_equal(dml_planner_config_parse(cfg, "--why-not", &c, &err),
                     DML_OK);
    assert_int_equal(dml_planner_why_not(p, &c, &w, &err), DML_OK);
    assert_int_equal(w.verdict, DML_REJECT_NONE);
    assert_true(w.is_winner);
    assert_non_null(strstr(w.text, "is the winner"));

    /* Over memory at mbs 4 without recomputation (of materialized
     * scores): how much, and what would make it fit. */
    assert_int_equal(dml_planner_config_parse(
                         "tp=8,pp=8,mbs=4,recompute=none,attn=materialized",
                         "--why-not", &c, &err),
                     DML_OK);
    assert_int_equal(dml_planner_why_not(p, &c, &w, &err), DML_OK);
    assert_int_equal(w.verdict, DML_REJECT_MEMORY);
    assert_non_null(strstr(w.text, "does not fit"));
    assert_non_null(strstr(w.text, "GB over the 80.0 GB"));
    assert_true(w.relaxed && w.have_best);
    assert_int_equal(w.best.par.tp, 8);
    assert_int_equal(w.best.par.pp, 8);
    assert_true(w.best.pred.mem_bytes_per_device <= 80e9);
    assert_non_null(strstr(w.text, "It fits at mbs"));

    /* Feasible but slower: by how much and where. */
    assert_int_equal(dml_planner_config_parse("tp=4,pp=8", "--why-not", &c,
                                              &err),
                     DML_OK);
    assert_int_equal(dml_planner_why_not(p, &c, &w, &err), DML_OK);
    assert_int_equal(w.verdict, DML_REJECT_NONE);
    assert_false(w.is_winner);
    assert_true(w.slower_fraction > 0);
    assert_true(fabs(w.best.score_s / p->plans[0].cand.score_s - 1 -
                     w.slower_fraction) < 1e-12);
    assert_non_null(strstr(w.text, "slower than the winner"));
    assert_non_null(strstr(w.text, "longer per step"));
    dml_planner_free(p);
}

/* The kernels the plans of p use: bit 0 materialized, bit 1 flash. Under
 * flash no plan recomputes selectively (it would cost time and save
 * nothing). */
static unsigned kernels_used(const dml_planner *p)
{
    unsigned used = 0;
    for (int i = 0; i < p->count; i++) {
        const dml_parallel_config *c = &p->plans[i].plan.par;
        used |= 1u << c->attention;
        if (c->attention == DML_ATTN_FLASH)
            assert_int_not_equal(c->recompute, DML_RECOMPUTE_SELECTIVE);
    }
    return used;
}

static void attention_searched_or_fixed(void **state)
{
    (void)state;
    /* GPT-3's spec names no kernel: both are searched (every feasible plan
     * kept, so that both show). */
    dml_planner_request r = request("gpt3-1.3b", "dgx-a100-80g", 2, 64, NULL);
    r.top_k = DML_PLANNER_TOP_MAX;
    dml_planner *p = run(&r);
    assert_int_equal(kernels_used(p), 3u);
    /* flash is faster here: the winner uses it */
    assert_int_equal(p->plans[0].plan.par.attention, DML_ATTN_FLASH);
    dml_planner_free(p);

    /* Llama 3's spec says flash: every plan uses it... (at sequence 2048,
     * where materialized scores fit too) */
    r = request("llama3-8b", "dgx-h100", 1, 64, NULL);
    r.seq = 2048;
    r.top_k = DML_PLANNER_TOP_MAX;
    p = run(&r);
    assert_int_equal(kernels_used(p), 2u);
    int64_t flash_candidates = p->result.candidates;
    dml_planner_free(p);
    /* ...unless --config attn= says otherwise: the same layout with
     * materialized scores is slower and needs more memory. */
    double step[2], mem[2];
    const char *const layout[2] = {
        "tp=2,pp=1,mbs=1,zero=1,recompute=none,sp=0",
        "tp=2,pp=1,mbs=1,zero=1,recompute=none,sp=0,attn=materialized"};
    for (int i = 0; i < 2; i++) {
        r = request("llama3-8b", "dgx-h100", 1, 64, layout[i]);
        r.seq = 2048;
        p = run(&r);
        assert_int_equal(p->result.candidates, 1);
        assert_int_equal(p->plans[0].plan.par.attention,
                         i == 0 ? DML_ATTN_FLASH : DML_ATTN_MATERIALIZED);
        step[i] = p->plans[0].plan.pred.step_s;
        mem[i] = p->plans[0].plan.pred.mem_bytes_per_device;
        dml_planner_free(p);
    }
    assert_true(step[1] > step[0]);
    assert_true(mem[1] > mem[0]);
    r = request("llama3-8b", "dgx-h100", 1, 64, "attn=materialized");
    r.seq = 2048;
    r.top_k = DML_PLANNER_TOP_MAX;
    p = run(&r);
    assert_int_equal(kernels_used(p), 1u);
    /* one kernel each, and materialized adds selective recomputation */
    assert_true(p->result.candidates > flash_candidates);
    dml_planner_free(p);

    /* A user's flash + selective is accepted and priced as Megatron runs
     * it: the fused attention forward once more in the backward, for no
     * memory saved. */
    r = request("llama3-8b", "dgx-h100", 1, 64,
                "tp=2,pp=1,mbs=1,zero=1,sp=0,attn=flash,recompute=selective");
    r.seq = 2048;
    p = run(&r);
    double sel = p->plans[0].plan.pred.step_s;
    double sel_mem = p->plans[0].plan.pred.mem_bytes_per_device;
    assert_int_equal(p->plans[0].plan.par.recompute,
                     DML_RECOMPUTE_SELECTIVE);
    dml_planner_free(p);
    r = request("llama3-8b", "dgx-h100", 1, 64,
                "tp=2,pp=1,mbs=1,zero=1,sp=0,attn=flash,recompute=none");
    r.seq = 2048;
    p = run(&r);
    assert_true(p->plans[0].plan.pred.step_s < sel);
    assert_true(p->plans[0].plan.pred.mem_bytes_per_device == sel_mem);
    dml_planner_free(p);

    /* An MLP has no attention: flash is refused before the search. */
    r = request("mlp-fmnist", "cpu-node", 0, 256, "attn=flash");
    expect_new_error(&r, DML_EINPUT, "--config: attn=flash is for "
                                     "transformers");
}

static void framework_restricts_the_search(void **state)
{
    (void)state;
    /* GPT-3 175B on 1024 A100s: Megatron-LM's best plans interleave
     * (SC21); DeepSpeed's pipeline engine cannot, nor shard gradients
     * with a pipeline. */
    dml_planner_request r =
        request("gpt3-175b", "dgx-a100-80g", 128, 1536, NULL);
    r.top_k = DML_PLANNER_TOP_MAX;
    dml_planner *p = run(&r);
    bool interleaved = false, zero23_pp = false;
    for (int i = 0; i < p->count; i++) {
        const dml_parallel_config *c = &p->plans[i].plan.par;
        assert_int_equal(c->framework, DML_FRAMEWORK_MEGATRON);
        interleaved |= c->schedule == DML_PP_INTERLEAVED;
        zero23_pp |= c->pp > 1 && c->zero >= 2;
    }
    assert_true(interleaved && zero23_pp);
    assert_int_equal(p->result.rejected[DML_REJECT_FRAMEWORK], 0);
    int64_t megatron_feasible = p->result.feasible;
    dml_planner_free(p);

    r.framework = DML_FRAMEWORK_DEEPSPEED;
    p = run(&r);
    assert_int_equal(p->count, p->result.feasible);
    for (int i = 0; i < p->count; i++) {
        const dml_plan *pl = &p->plans[i].plan;
        assert_int_equal(pl->par.framework, DML_FRAMEWORK_DEEPSPEED);
        assert_int_equal(pl->par.schedule, DML_PP_1F1B);
        assert_int_equal(pl->par.v, 1);
        assert_false(pl->par.pp > 1 && pl->par.zero >= 2);
        dml_error err;
        assert_int_equal(dml_plan_validate(pl, &err), DML_OK);
    }
    assert_true(p->result.rejected[DML_REJECT_FRAMEWORK] > 0);
    assert_non_null(strstr(p->result.example[DML_REJECT_FRAMEWORK],
                           "DeepSpeed"));
    assert_true(p->result.feasible < megatron_feasible);
    dml_planner_free(p);

    /* What DeepSpeed cannot run, fixed: refused before the search. */
    r = request("gpt3-175b", "dgx-a100-80g", 128, 1536,
                "schedule=interleaved,v=2");
    r.framework = DML_FRAMEWORK_DEEPSPEED;
    expect_new_error(&r, DML_EINPUT, "--config: DeepSpeed's pipeline engine "
                                     "has no interleaved schedule");
    r = request("gpt3-175b", "dgx-a100-80g", 128, 1536, "pp=8,zero=2");
    r.framework = DML_FRAMEWORK_DEEPSPEED;
    expect_new_error(&r, DML_EINPUT, "ZeRO-2 only without pipeline");
    /* and --why-not says so */
    r = request("gpt3-175b", "dgx-a100-80g", 128, 1536, NULL);
    r.framework = DML_FRAMEWORK_DEEPSPEED;
    p = run(&r);
    dml_planner_config c;
    dml_why_not w;
    dml_error err;
    assert_int_equal(dml_planner_config_parse("v=3", "--why-not", &c, &err),
                     DML_OK);
    assert_int_equal(dml_planner_why_not(p, &c, &w, &err), DML_OK);
    assert_int_equal(w.verdict, DML_REJECT_FRAMEWORK);
    assert_non_null(strstr(w.text, "v=3 is ruled out: DeepSpeed's pipeline "
                                   "engine has no interleaved schedule"));
    dml_planner_free(p);
}

/* Plans of p using each strategy: [0] allreduce, [1] hierarchical. */
static void count_syncs(const dml_planner *p, int *n)
{
    n[0] = n[1] = 0;
    for (int i = 0; i < p->count; i++) {
        dml_sync_kind k = p->plans[i].plan.par.sync.kind;
        assert_true(k == DML_SYNC_ALLREDUCE || k == DML_SYNC_HIERARCHICAL);
        n[k == DML_SYNC_HIERARCHICAL]++;
    }
}

static void sync_searched_where_it_differs(void **state)
{
    (void)state;
    /* tp=2, pp=2 on 2 DGX nodes of 8: dp = 4, two replicas to a node on
     * two nodes, so node by node differs from the flat ring: both are
     * searched, each hierarchical plan beside its flat twin, differently
     * priced (issue 14) */
    dml_planner_request r =
        request("gpt3-1.3b", "dgx-a100-80g", 2, 64, "tp=2,pp=2");
    r.top_k = DML_PLANNER_TOP_MAX;
    dml_planner *p = run(&r);
    int n[2];
    count_syncs(p, n);
    assert_true(n[1] > 0);
    for (int i = 0; i < p->count; i++) {
        const dml_planned *h = &p->plans[i];
        if (h->plan.par.sync.kind != DML_SYNC_HIERARCHICAL)
            continue;
        bool twin = false;
        for (int j = 0; j < p->count && !twin; j++) {
            dml_candidate c = p->plans[j].cand;
            if (c.par.sync.kind != DML_SYNC_ALLREDUCE)
                continue;
            c.par.sync.kind = DML_SYNC_HIERARCHICAL;
            if (dml_candidate_same_plan(&c, &h->cand)) {
                twin = true;
                /* less across the nodes (the time may all hide behind
                 * the backward pass) */
                assert_true(h->detail.dp_bytes_inter <
                            p->plans[j].detail.dp_bytes_inter);
            }
        }
        assert_true(twin);
        /* the ZeRO stages it runs with only */
        assert_true(h->plan.par.zero <= 1);
    }
    dml_planner_free(p);
    /* tp=8: one replica to a node, node by node is the flat ring; one
     * node: all replicas on it. Neither proposes it. */
    r = request("gpt3-1.3b", "dgx-a100-80g", 2, 64, "tp=8");
    r.top_k = DML_PLANNER_TOP_MAX;
    p = run(&r);
    count_syncs(p, n);
    assert_true(n[0] > 0 && n[1] == 0);
    dml_planner_free(p);
    r = request("gpt3-1.3b", "dgx-a100-80g", 1, 64, NULL);
    r.top_k = DML_PLANNER_TOP_MAX;
    p = run(&r);
    count_syncs(p, n);
    assert_true(n[0] > 0 && n[1] == 0);
    dml_planner_free(p);
    /* fixed, it is kept, even where it is the ring */
    r = request("gpt3-1.3b", "dgx-a100-80g", 1, 64, "sync=hierarchical");
    r.top_k = DML_PLANNER_TOP_MAX;
    p = run(&r);
    count_syncs(p, n);
    assert_true(n[0] == 0 && n[1] > 0);
    dml_planner_free(p);
    /* ...and refused with a ZeRO stage it cannot keep consistent */
    r = request("gpt3-1.3b", "dgx-a100-80g", 2, 64, "sync=hierarchical,zero=2");
    expect_new_error(&r, DML_EINPUT, "sync=hierarchical runs with ZeRO 0 or 1");
    /* --why-not sync=hierarchical names the strategy against the winner */
    r = request("gpt3-1.3b", "dgx-a100-80g", 2, 64, NULL);
    p = run(&r);
    dml_planner_config c;
    dml_error err;
    assert_int_equal(dml_planner_config_parse("tp=2,pp=2,sync=hierarchical",
                                              "--why-not", &c, &err),
                     DML_OK);
    dml_why_not w;
    assert_int_equal(dml_planner_why_not(p, &c, &w, &err), DML_OK);
    assert_int_equal(w.verdict, DML_REJECT_NONE);
    assert_int_equal(w.best.par.sync.kind, DML_SYNC_HIERARCHICAL);
    assert_non_null(strstr(w.text, "sync=hierarchical"));
    dml_planner_free(p);
}

static void top_all_keeps_every_feasible_plan(void **state)
{
    (void)state;
    dml_planner_request r = request("gpt3-1.3b", "dgx-a100-80g", 2, 64, NULL);
    r.top_k = DML_PLANNER_TOP_MAX; /* dml-plan --top all */
    dml_planner *p = run(&r);
    /* well over the old cap of 64, and all of them */
    assert_true(p->result.feasible > 64);
    assert_int_equal(p->count, p->result.feasible);
    assert_true(p->result.cap <= p->result.top_k);
    for (int i = 1; i < p->count; i++)
        assert_false(dml_candidate_better(&p->plans[i].cand,
                                          &p->plans[i - 1].cand));
    dml_planner_free(p);
}

/* Where --config's best plan ranks, against the search without it keeping
 * every feasible plan (dml-plan --top all): the same place, count and #1.
 * proposed: whether that search lists the plan (else it is placed among
 * them, one more). */
static void expect_rank_as_top_all(const char *config, bool proposed)
{
    dml_planner_request r =
        request("gpt3-1.3b", "dgx-a100-80g", 2, 64, config);
    dml_planner *p = run(&r);
    const dml_config_rank *k = &p->config_rank;
    const dml_candidate *mine = &p->plans[0].cand;
    assert_true(k->known);
    if (k->proposed != proposed)
        fail_msg("%s: proposed %d, expected %d", config, k->proposed,
                 proposed);

    dml_planner_request f = request("gpt3-1.3b", "dgx-a100-80g", 2, 64, NULL);
    f.top_k = DML_PLANNER_TOP_MAX;
    dml_planner *q = run(&f);
    const dml_search_result *all = &q->result;
    assert_int_equal(all->count, all->feasible);
    int at = -1;
    int64_t ahead = 0;
    for (int i = 0; i < all->count; i++) {
        if (dml_candidate_same_plan(&all->top[i], mine)) {
            assert_int_equal(at, -1); /* once */
            at = i;
        }
        /* an exact tie ranks ahead of a plan the search does not list */
        ahead += all->top[i].score_s <= mine->score_s;
    }
    if (proposed) {
        if (at < 0)
            fail_msg("%s: its best plan is not in --top all", config);
        assert_int_equal(k->rank, at + 1);
        assert_int_equal(k->feasible, all->feasible);
    } else {
        assert_int_equal(at, -1);
        assert_int_equal(k->rank, ahead + 1);
        assert_int_equal(k->feasible, all->feasible + 1);
    }
    assert_true(dml_candidate_same_plan(&k->best, &all->top[0]));
    assert_true(fabs(k->slower_fraction -
                     (mine->score_s / all->top[0].score_s - 1)) < 1e-12);
    dml_planner_free(q);
    dml_planner_free(p);
}

static void config_rank_matches_top_all(void **state)
{
    (void)state;
    expect_rank_as_top_all("tp=2,pp=2", true);
    expect_rank_as_top_all("attn=materialized", true);
    expect_rank_as_top_all("tp=8,pp=2,mbs=1", true);
    /* full recomputation where less fits: dominated, not listed */
    expect_rank_as_top_all("tp=2,pp=2,recompute=full", false);
    /* GPipe is never proposed */
    expect_rank_as_top_all("pp=2,schedule=gpipe", false);
    /* The winner's own knobs rank #1, 0 % from itself. */
    dml_planner_request r = request("gpt3-1.3b", "dgx-a100-80g", 2, 64, NULL);
    dml_planner *p = run(&r);
    assert_false(p->config_rank.known); /* no --config, no ranking */
    char cfg[256];
    dml_planner_config_format(&p->plans[0].plan.par, p->model.type, cfg,
                              sizeof cfg);
    dml_planner_free(p);
    r = request("gpt3-1.3b", "dgx-a100-80g", 2, 64, cfg);
    p = run(&r);
    assert_true(p->config_rank.proposed);
    assert_int_equal(p->config_rank.rank, 1);
    assert_true(p->config_rank.slower_fraction == 0);
    dml_planner_free(p);
}

DML_TEST_MAIN(
    cmocka_unit_test(pruning_loses_no_plan),
    cmocka_unit_test(top_k_in_order_and_admissible),
    cmocka_unit_test(fixed_knobs_are_kept),
    cmocka_unit_test(nothing_fits_names_memory),
    cmocka_unit_test(input_errors_before_search),
    cmocka_unit_test(gpt3_175b_winner_is_sane),
    cmocka_unit_test(cpu_ranks_times_threads),
    cmocka_unit_test(auto_batch_minimises_time_to_train),
    cmocka_unit_test(why_not_answers),
    cmocka_unit_test(attention_searched_or_fixed),
    cmocka_unit_test(framework_restricts_the_search),
    cmocka_unit_test(sync_searched_where_it_differs),
    cmocka_unit_test(top_all_keeps_every_feasible_plan),
    cmocka_unit_test(config_rank_matches_top_all))
