/*
 * test_output.c: what dml-plan hands people: the exports (Megatron-LM,
 * DeepSpeed, Slurm, torchrun) with the right flags and values, the JSON
 * document's structure, the human report, and the database rows written
 * in one transaction (all of them or none).
 */
#include "tests/support/unit.h"

#include <jansson.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "costmodel/collective.h"
#include "costmodel/flops.h"
#include "db/plan_store.h"
#include "planner/export.h"
#include "planner/planner.h"
#include "planner/record.h"
#include "planner/report.h"
#include "tests/support/planner_support.h"
#include "tests/support/test_support.h"

static dml_planner *plan_for(const char *model, const char *cluster,
                             int64_t nodes, int64_t batch, const char *config,
                             double tokens)
{
    dml_planner *p = NULL;
    dml_error err;
    if (dml_test_planner_run(model, cluster, nodes, batch, config, tokens,
                             DML_FRAMEWORK_MEGATRON, 0, &p, &err))
        fail_msg("%s", err.msg);
    return p;
}

static char *export_text(const dml_planner *p, dml_export_kind k)
{
    char *text = NULL;
    dml_error err;
    if (dml_planner_export(k, p, &p->plans[0], NULL, &text, &err))
        fail_msg("%s", err.msg);
    return text;
}

#define has DML_TEST_HAS
#define lacks DML_TEST_LACKS

/* The value after `flag ` on its line of text, which must be there. */
static double flag_value(const char *text, const char *flag)
{
    char needle[64];
    snprintf(needle, sizeof needle, "%s ", flag);
    const char *at = strstr(text, needle);
    if (!at)
        fail_msg("no \"%s\" in:\n%s", flag, text);
    return strtod(at + strlen(needle), NULL);
}

/* GPT-3 175B's learning rate at 1536 sequences of 2048 tokens, from the
 * paper rather than from the planner: Brown et al. 2020, Table 2.1, 0.6e-4
 * at 3.2M-token batches, scaled by the square root of the batch (Adam);
 * the preset's 174.6 B parameters put the planner's reference within a
 * hair of that row (test_batch.c), so 1 % here. */
#define GPT3_LR_1536 (0.6e-4 * sqrt(1536.0 * 2048.0 / 3.2e6))

/* GPT-3 175B as Korthikanti et al. 2022 ran it (tp 8, pp 8, v 3, sequence
 * parallelism and selective recomputation), scaled to 1024 GPUs. */
#define GPT3_CONFIG "dp=16,tp=8,pp=8,v=3,mbs=1,zero=1,recompute=selective,sp=1"

static void megatron_flags(void **state)
{
    (void)state;
    dml_planner *p = plan_for("gpt3-175b", "dgx-a100-80g", 128, 1536,
                              GPT3_CONFIG, 300e9);
    char *t = export_text(p, DML_EXPORT_MEGATRON);
    const dml_train_schedule *s = &p->plans[0].plan.sched;
    char lr[64];
    has(t, "MEGATRON_ARGS=(");
    has(t, "--tensor-model-parallel-size 8\n");
    has(t, "--pipeline-model-parallel-size 8\n");
    has(t, "--num-layers-per-virtual-pipeline-stage 4\n"); /* 96/(8x3) */
    has(t, "--sequence-parallel\n");
    has(t, "--recompute-granularity selective\n");
    lacks(t, "--recompute-method");
    has(t, "--micro-batch-size 1\n");
    has(t, "--global-batch-size 1536\n");
    has(t, "--use-distributed-optimizer\n");
    has(t, "--num-layers 96\n");
    has(t, "--hidden-size 12288\n");
    has(t, "--num-attention-heads 96\n");
    lacks(t, "--group-query-attention");
    has(t, "--ffn-hidden-size 49152\n");
    has(t, "--seq-length 2048\n");
    has(t, "--max-position-embeddings 2048\n");
    has(t, "--bf16\n");
    has(t, "--optimizer adam\n");
    double peak = flag_value(t, "--lr"), floor = flag_value(t, "--min-lr");
    assert_true(fabs(peak - GPT3_LR_1536) <= 0.01 * GPT3_LR_1536);
    /* cosine decay to a tenth of the peak, as GPT-3 did */
    assert_true(fabs(floor - 0.1 * peak) <= 1e-9 * peak);
    /* written with the plan's own digits, not rounded away */
    snprintf(lr, sizeof lr, "--lr %.10g\n", s->peak_lr);
    has(t, lr);
    has(t, "--lr-warmup-iters 120\n");
    has(t, "--lr-decay-style cosine\n");
    has(t, "--train-iters 95368\n");
    lacks(t, "--swiglu");
    free(t);
    dml_planner_free(p);

    /* Llama 3 70B: GQA, SwiGLU, RMSNorm, RoPE, no biases, untied. */
    p = plan_for("llama3-70b", "dgx-h100", 8, 64,
                 "tp=8,pp=4,recompute=full,zero=1", 0);
    t = export_text(p, DML_EXPORT_MEGATRON);
    has(t, "--group-query-attention\n");
    has(t, "--num-query-groups 8\n");
    has(t, "--swiglu\n");
    has(t, "--normalization RMSNorm\n");
    has(t, "--position-embedding-type rope\n");
    has(t, "--disable-bias-linear\n");
    has(t, "--untie-embeddings-and-output-weights\n");
    has(t, "--recompute-granularity full\n");
    has(t, "--recompute-method uniform\n");
    has(t, "--pipeline-model-parallel-size 4\n");
    has(t, "# --train-iters: give dml-plan --tokens T");
    free(t);
    dml_planner_free(p);
}

static void deepspeed_config(void **state)
{
    (void)state;
    /* DeepSpeed runs 1F1B (no interleaving): the same layout, planned for
     * it. */
    dml_planner_request r;
    dml_error err;
    if (dml_test_planner_request(&r, "gpt3-175b", "dgx-a100-80g", 128, 1536,
                                 "dp=16,tp=8,pp=8,v=1,mbs=1,zero=1,"
                                 "recompute=selective,sp=1", &err))
        fail_msg("%s", err.msg);
    r.tokens = 300e9;
    r.framework = DML_FRAMEWORK_DEEPSPEED;
    dml_planner *p = NULL;
    if (dml_planner_new(&r, &p, &err) || dml_planner_run(p, &err))
        fail_msg("%s", err.msg);
    char *t = export_text(p, DML_EXPORT_DEEPSPEED);
    json_error_t je;
    json_t *j = json_loads(t, 0, &je);
    if (!j)
        fail_msg("not JSON: %s\n%s", je.text, t);
    const dml_plan *pl = &p->plans[0].plan;
    /* DeepSpeed's identity: batch = micro-batch x accumulation x dp */
    json_int_t b = json_integer_value(json_object_get(j, "train_batch_size"));
    json_int_t mbs = json_integer_value(
        json_object_get(j, "train_micro_batch_size_per_gpu"));
    json_int_t acc = json_integer_value(
        json_object_get(j, "gradient_accumulation_steps"));
    assert_int_equal(b, 1536);
    assert_int_equal(mbs, 1);
    assert_int_equal(acc, 96);
    assert_int_equal(mbs * acc * pl->par.dp, b);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(j, "zero_optimization"), "stage")),
                     1);
    assert_true(json_is_true(
        json_object_get(json_object_get(j, "bf16"), "enabled")));
    json_t *opt = json_object_get(j, "optimizer");
    assert_string_equal(json_string_value(json_object_get(opt, "type")),
                        "AdamW");
    double lr = json_real_value(
        json_object_get(json_object_get(opt, "params"), "lr"));
    assert_true(fabs(lr - GPT3_LR_1536) <= 0.01 * GPT3_LR_1536);
    assert_true(fabs(lr - pl->sched.peak_lr) <= 1e-6 * pl->sched.peak_lr);
    json_t *sch = json_object_get(j, "scheduler");
    assert_string_equal(json_string_value(json_object_get(sch, "type")),
                        "WarmupCosineLR");
    json_t *sp = json_object_get(sch, "params");
    assert_int_equal(json_integer_value(json_object_get(sp,
                                                        "total_num_steps")),
                     95368);
    assert_int_equal(json_integer_value(json_object_get(sp,
                                                        "warmup_num_steps")),
                     120);
    /* keys DeepSpeed never reads (pipeline stages and partition: the
     * model's PipelineModule sets them) or that would switch on its own
     * tensor parallelism (autotp_size) are not written (issue 12) */
    assert_null(json_object_get(j, "pipeline"));
    assert_non_null(json_object_get(j, "activation_checkpointing"));
    assert_null(json_object_get(j, "tensor_parallel"));
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(j, "_dml"), "pp")),
                     8);
    json_decref(j);
    free(t);
    dml_planner_free(p);
}

static void slurm_and_torchrun(void **state)
{
    (void)state;
    dml_planner *p = plan_for("gpt3-175b", "dgx-a100-80g", 128, 1536,
                              GPT3_CONFIG, 300e9);
    char *t = export_text(p, DML_EXPORT_SLURM);
    assert_true(strncmp(t, "#!/bin/bash\n", 12) == 0);
    has(t, "#SBATCH --nodes=128\n");
    has(t, "#SBATCH --ntasks-per-node=8\n");
    has(t, "#SBATCH --gpus-per-node=8\n");
    has(t, "#SBATCH --time=");
    has(t, "MASTER_ADDR=$(scontrol show hostnames");
    has(t, "--tensor-model-parallel-size 8\n");
    has(t, "srun --ntasks=1024 ");
    has(t, "pretrain_gpt.py");
    free(t);
    t = export_text(p, DML_EXPORT_TORCHRUN);
    has(t, "torchrun --nnodes=128 --nproc_per_node=8 ");
    has(t, "--rdzv_backend=c10d");
    has(t, "--rdzv_endpoint=");
    has(t, "pretrain_gpt.py \"${MEGATRON_ARGS[@]}\"");
    free(t);
    dml_planner_free(p);

    /* An MLP runs under dml-exec: Slurm launches it; Megatron-LM and
     * torchrun do not apply. */
    dml_planner_request r;
    dml_planner_request_init(&r);
    r.model = "mlp-fmnist";
    r.cluster = "cpu-node";
    r.devices = 2;
    r.global_batch = 256;
    dml_error err;
    assert_int_equal(dml_planner_config_parse("dp=2,threads=1", "--config",
                                              &r.config, &err),
                     DML_OK);
    assert_int_equal(dml_planner_new(&r, &p, &err), DML_OK);
    assert_int_equal(dml_planner_run(p, &err), DML_OK);
    assert_int_equal(dml_export_check(DML_EXPORT_MEGATRON, &p->model, &err),
                     DML_EUSAGE);
    assert_non_null(strstr(err.msg, "mlp"));
    assert_int_equal(dml_export_check(DML_EXPORT_TORCHRUN, &p->model, &err),
                     DML_EUSAGE);
    char *text = NULL;
    assert_int_equal(dml_planner_export(DML_EXPORT_SLURM, p, &p->plans[0],
                                        "runs/plan.json", &text, &err),
                     DML_OK);
    has(text, "#SBATCH --nodes=1\n");
    has(text, "#SBATCH --ntasks-per-node=2\n");
    has(text, "#SBATCH --cpus-per-task=1\n");
    lacks(text, "--gpus-per-node");
    has(text, "dml-exec --plan runs/plan.json");
    free(text);
    dml_planner_free(p);
}

static void json_document_structure(void **state)
{
    (void)state;
    dml_planner *p = plan_for("gpt3-175b", "dgx-a100-80g", 128, 1536, NULL,
                              300e9);
    json_t *j = dml_planner_to_json(p, NULL);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "schema_version")),
                     1);
    json_t *s = json_object_get(j, "search");
    assert_int_equal(json_integer_value(json_object_get(s, "candidates")),
                     p->result.candidates);
    assert_int_equal(json_integer_value(json_object_get(s, "feasible")),
                     p->result.feasible);
    assert_true(json_is_real(json_object_get(s, "elapsed_s")));
    json_t *plans = json_object_get(j, "plans");
    assert_int_equal(json_array_size(plans), 5);
    json_t *w = json_array_get(plans, 0);
    static const char *const par_keys[] = {"dp", "tp", "pp", "v", "mbs",
                                           "microbatches", "zero",
                                           "recompute", "sp"};
    json_t *par = json_object_get(w, "parallel");
    for (size_t i = 0; i < sizeof par_keys / sizeof par_keys[0]; i++)
        if (!json_object_get(par, par_keys[i]))
            fail_msg("parallel.%s missing", par_keys[i]);
    static const char *const pred_keys[] = {"step_s", "tokens_per_s",
                                            "tflops_per_device", "mfu",
                                            "mem_bytes_per_device",
                                            "breakdown"};
    json_t *pred = json_object_get(w, "prediction");
    for (size_t i = 0; i < sizeof pred_keys / sizeof pred_keys[0]; i++)
        if (!json_object_get(pred, pred_keys[i]))
            fail_msg("prediction.%s missing", pred_keys[i]);
    static const char *const parts[] = {"compute_s", "tp_comm_s", "pp_comm_s",
                                        "dp_comm_s", "bubble_s",
                                        "optimizer_s"};
    json_t *bd = json_object_get(pred, "breakdown");
    double sum = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        json_t *v = json_object_get(bd, parts[i]);
        if (!v)
            fail_msg("breakdown.%s missing", parts[i]);
        sum += json_real_value(v);
    }
    double step = json_real_value(json_object_get(pred, "step_s"));
    assert_true(fabs(sum - step) <= 1e-9 * step); /* parts add up */
    /* tokens/s = batch x sequence / step */
    assert_true(fabs(json_real_value(json_object_get(pred, "tokens_per_s")) -
                     1536.0 * 2048.0 / step) <= 1e-9 * 1536 * 2048 / step);
    /* executed FLOPs include recomputation, MFU counts model FLOPs only:
     * tflops_per_device >= mfu x 312 TFLOP/s (A100 bf16 peak) */
    double tflops = json_real_value(json_object_get(pred,
                                                    "tflops_per_device"));
    double mfu = json_real_value(json_object_get(pred, "mfu"));
    assert_true(tflops >= mfu * 312.0 * (1 - 1e-12));
    assert_true(mfu > 0 && mfu < 1);
    json_t *sch = json_object_get(w, "schedule");
    assert_int_equal(json_integer_value(json_object_get(sch, "global_batch")),
                     1536);
    assert_non_null(json_object_get(sch, "peak_lr"));
    assert_non_null(json_object_get(sch, "warmup_steps"));
    assert_non_null(json_object_get(sch, "time_to_train_s"));
    assert_non_null(json_object_get(sch, "checkpoint"));
    assert_non_null(json_object_get(j, "winner_reason"));
    json_decref(j);
    dml_planner_free(p);
}

static void human_report(void **state)
{
    (void)state;
    dml_planner *p = plan_for("gpt3-175b", "dgx-a100-80g", 128, 1536, NULL,
                              300e9);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    dml_report_extras x = {.explain = true};
    dml_planner_print(f, p, &x);
    fclose(f);
    has(buf, "gpt3-175b (175 B parameters, bf16, sequence 2048) on "
             "dgx-a100-80g: 128 nodes x 8 A100-SXM4-80GB");
    has(buf, " #    dp  tp  pp   v  mbs");
    has(buf, "\n 5 ");
    lacks(buf, "\n 6 ");
    has(buf, "Schedule of #1: global batch 1536 (3.15 M tokens)");
    has(buf, "Time to train: 300 B tokens in 95,368 steps");
    has(buf, "Checkpoints: every ");
    has(buf, "Why #1: ");
    has(buf, "#1 in detail");
    has(buf, "memory of the fullest device");
    has(buf, "the runner-up lost");
    free(buf);
    dml_planner_free(p);
}

static int64_t count_rows(const char *path, const char *table)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void database_rows_in_one_transaction(void **state)
{
    (void)state;
    char dir[] = "/tmp/dml-test-planner-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/plan.db", dir);
    dml_planner *p = plan_for("gpt3-1.3b", "dgx-a100-80g", 2, 64, NULL, 0);
    dml_db *db = NULL;
    dml_error err;
    assert_int_equal(dml_db_open(path, &db, &err), DML_OK);

    /* A plan the schema refuses (dp 0) last: the whole record rolls back,
     * so neither the model, the cluster nor the first plans remain. */
    int last = p->count - 1;
    dml_plan saved = p->plans[last].plan;
    p->plans[last].plan.par.dp = 0;
    assert_int_not_equal(dml_planner_record(db, p, &err), DML_OK);
    for (int i = 0; i < p->count; i++)
        assert_int_equal(p->plans[i].plan.db_plan_id, 0);
    dml_db_close(db);
    assert_int_equal(count_rows(path, "plans"), 0);
    assert_int_equal(count_rows(path, "models"), 0);
    assert_int_equal(count_rows(path, "clusters"), 0);

    /* The real record: model, cluster and the five plans. */
    p->plans[last].plan = saved;
    assert_int_equal(dml_db_open(path, &db, &err), DML_OK);
    assert_int_equal(dml_planner_record(db, p, &err), DML_OK);
    dml_db_close(db);
    assert_int_equal(count_rows(path, "plans"), p->count);
    assert_int_equal(count_rows(path, "models"), 1);
    assert_int_equal(count_rows(path, "clusters"), 1);
    for (int i = 0; i < p->count; i++) {
        assert_true(p->plans[i].plan.db_plan_id > 0);
        if (i > 0)
            assert_int_equal(p->plans[i].plan.db_plan_id,
                             p->plans[i - 1].plan.db_plan_id + 1);
    }
    /* The stored plan file reads back as the same plan. */
    assert_int_equal(dml_db_open(path, &db, &err), DML_OK);
    char *text = NULL;
    assert_int_equal(dml_db_plan_json(db, p->plans[0].plan.db_plan_id, &text,
                                      &err),
                     DML_OK);
    dml_db_close(db);
    dml_plan *back = malloc(sizeof *back);
    json_t *j = json_loads(text, 0, NULL);
    assert_int_equal(dml_plan_from_json(j, "db", back, &err), DML_OK);
    assert_memory_equal(&back->par, &p->plans[0].plan.par, sizeof back->par);
    assert_int_equal(back->sched.global_batch, 64);
    json_decref(j);
    free(back);
    free(text);
    dml_planner_free(p);
    dml_test_remove_db(path);
    rmdir(dir);
}

/* mode=federated (issue 18): the plan carries the knobs, and its round is
 * fed_round.c's on the server's link: between nodes when the ranks span
 * two, inside the node when they share one; a client's local step costs
 * the plan's step compute per sample. threads=32: a rank a socket, so
 * 2 ranks a node of cpu-node. */
static void federated_round_on_the_server_link(void **state)
{
    (void)state;
    for (int nodes = 1; nodes <= 2; nodes++) {
        dml_planner_request r;
        dml_planner_request_init(&r);
        r.model = "mlp-fmnist";
        r.cluster = "cpu-node";
        r.nodes = nodes;
        r.devices = 2 * nodes;
        r.global_batch = 40;
        dml_error err;
        char cfg[128];
        snprintf(cfg, sizeof cfg, "dp=%d,threads=32,mode=federated,"
                 "clients=40,sample=0.1", 2 * nodes);
        assert_int_equal(dml_planner_config_parse(cfg, "--config",
                                                  &r.config, &err),
                         DML_OK);
        dml_planner *p = NULL;
        if (dml_planner_new(&r, &p, &err) != DML_OK)
            fail_msg("%s", err.msg);
        assert_int_equal(dml_planner_run(p, &err), DML_OK);
        const dml_planned *w = &p->plans[0];
        const dml_plan *pl = &w->plan;
        const dml_costmodel_ctx *ctx = &p->splits[w->cand.split].ctx;
        assert_int_equal(pl->par.mode, DML_MODE_FEDERATED);
        assert_int_equal(pl->fed.clients, 40);
        assert_int_equal(w->nodes, nodes);
        const dml_fed_round_price *f = &w->fed_round;
        int ranks = 2 * nodes;
        assert_int_equal(f->clients, 4);
        double P = dml_flops_total_params(&pl->model);
        assert_true(P == 269322);
        assert_true(f->server_link_bytes == (ranks - 1) * 12.0 * P);
        const dml_link_spec *link = nodes > 1 ? &ctx->inter : &ctx->intra;
        assert_true(ctx->inter.bw_Bps != ctx->intra.bw_Bps);
        double comm = (ranks - 1) * (dml_p2p_time(link, 4.0 * P) +
                                     dml_p2p_time(link, 8.0 * P));
        assert_true(fabs(f->comm_s - comm) <= 1e-12 * comm);
        /* 1500 samples a client, E 5, B 10: 750 steps of 10 samples; the
         * 4 clients 2 a rank on 2 ranks, 1 on 4 */
        assert_true(f->client_steps == 750);
        double per_sample = pl->pred.time.compute_s /
                            (double)(pl->par.mbs * pl->par.microbatches);
        double want = (4 / ranks) * 7500 * per_sample;
        assert_true(fabs(f->compute_s - want) <= 1e-9 * want);
        assert_true(f->secagg_s == 0);
        assert_true(f->round_s == f->compute_s + f->secagg_s + f->comm_s);
        dml_planner_free(p);
    }
}

DML_TEST_MAIN(
    cmocka_unit_test(megatron_flags),
    cmocka_unit_test(deepspeed_config),
    cmocka_unit_test(slurm_and_torchrun),
    cmocka_unit_test(json_document_structure),
    cmocka_unit_test(human_report),
    cmocka_unit_test(database_rows_in_one_transaction),
    cmocka_unit_test(federated_round_on_the_server_link))
