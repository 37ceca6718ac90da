/*
 * test_export.c: the findings of issue 12 about the exports, one test
 * each: what Megatron-LM, DeepSpeed, Slurm and torchrun need to run a plan
 * as dml priced it, and the plans they cannot run refused in one line (or
 * passed over for the best they can). The frameworks' own parsers run in
 * tests/integration/export; here the exports are read as text and JSON.
 */
#include "tests/support/unit.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "planner/export.h"
#include "planner/planner.h"
#include "tests/support/planner_support.h"

static dml_planner *plan_for(const char *model, const char *cluster,
                             int64_t nodes, int64_t batch, const char *config,
                             double tokens, dml_framework fw)
{
    dml_planner *p = NULL;
    dml_error err;
    if (dml_test_planner_run(model, cluster, nodes, batch, config, tokens, fw,
                             20, &p, &err))
        fail_msg("%s", err.msg);
    return p;
}

static char *export_of(const dml_planner *p, dml_export_kind k,
                       const dml_export_options *o)
{
    char *text = NULL;
    dml_error err;
    if (dml_planner_export_with(k, p, &p->plans[0], o, &text, &err))
        fail_msg("--export %s: %s", dml_export_name(k), err.msg);
    return text;
}

#define has DML_TEST_HAS
#define lacks DML_TEST_LACKS

/* The refusal of kind for plan #1: DML_EUSAGE, one line saying `why`. */
static void refused(const dml_planner *p, dml_export_kind k, const char *why)
{
    dml_error err;
    char *text = NULL;
    assert_int_equal(dml_planner_export(k, p, &p->plans[0], NULL, &text,
                                        &err),
                     DML_EUSAGE);
    assert_null(text);
    assert_null(strchr(err.msg, '\n'));
    if (!strstr(err.msg, why))
        fail_msg("expected \"%s\" in the refusal: %s", why, err.msg);
}

#define GPT3_CONFIG "dp=16,tp=8,pp=8,v=3,mbs=1,zero=1,recompute=selective,sp=1"

/* Megatron-LM asserts CUDA_DEVICE_MAX_CONNECTIONS=1 with tensor
 * parallelism before Blackwell; Megatron-FSDP asserts it is not 1. Every
 * Megatron-LM launch sets it as its plan needs. */
static void environment(void **state)
{
    (void)state;
    dml_planner *p = plan_for("gpt3-175b", "dgx-a100-80g", 128, 1536,
                              GPT3_CONFIG, 300e9, DML_FRAMEWORK_MEGATRON);
    dml_export_kind kinds[] = {DML_EXPORT_MEGATRON, DML_EXPORT_SLURM,
                               DML_EXPORT_TORCHRUN};
    for (size_t i = 0; i < 3; i++) {
        char *t = export_of(p, kinds[i], NULL);
        has(t, "\nexport CUDA_DEVICE_MAX_CONNECTIONS=1 ");
        free(t);
    }
    dml_planner_free(p);
    p = plan_for("llama3-70b", "dgx-h100", 16, 512, "zero=3,pp=1,tp=2", 0,
                 DML_FRAMEWORK_MEGATRON);
    for (size_t i = 0; i < 3; i++) {
        char *t = export_of(p, kinds[i], NULL);
        has(t, "\nunset CUDA_DEVICE_MAX_CONNECTIONS ");
        lacks(t, "CUDA_DEVICE_MAX_CONNECTIONS=1");
        free(t);
    }
    dml_planner_free(p);
}

/* GPT-3's 50,257 entries: Megatron-LM uses --padded-vocab-size as given
 * and splits it over TP; it pads a tokenizer's vocabulary to a multiple
 * of 128 x TP, and so does the export. */
static void padded_vocabulary(void **state)
{
    (void)state;
    dml_planner *p = plan_for("gpt3-175b", "dgx-a100-80g", 128, 1536,
                              GPT3_CONFIG, 300e9, DML_FRAMEWORK_MEGATRON);
    char *t = export_of(p, DML_EXPORT_MEGATRON, NULL);
    has(t, "    --padded-vocab-size 51200 ");
    lacks(t, "--padded-vocab-size 50257");
    free(t);
    dml_planner_free(p);
    p = plan_for("llama3-8b", "dgx-h100", 1, 256, "tp=2", 0,
                 DML_FRAMEWORK_MEGATRON);
    t = export_of(p, DML_EXPORT_MEGATRON, NULL);
    has(t, "    --padded-vocab-size 128256 "); /* 128256 = 501 x 256 */
    free(t);
    dml_planner_free(p);
}

/* ZeRO-2/3 winners are Megatron-FSDP's optim_grads / optim_grads_params
 * (not the distributed optimizer, ZeRO-1), with the checkpoint format it
 * asserts; Llama 3 405B's default winner is exported as priced. */
static void zero_as_megatron_fsdp(void **state)
{
    (void)state;
    dml_planner *p = plan_for("llama3-405b", "dgx-h100", 64, 1024, NULL, 0,
                              DML_FRAMEWORK_MEGATRON);
    assert_int_equal(p->plans[0].plan.par.zero, 3);
    char *t = export_of(p, DML_EXPORT_MEGATRON, NULL);
    has(t, "    --use-megatron-fsdp\n");
    has(t, "    --data-parallel-sharding-strategy optim_grads_params ");
    has(t, "    --ckpt-format fsdp_dtensor\n");
    lacks(t, "--use-distributed-optimizer");
    free(t);
    dml_planner_free(p);
    p = plan_for("gpt3-13b", "dgx-h100", 8, 1024, "tp=2,pp=2,zero=2", 0,
                 DML_FRAMEWORK_MEGATRON);
    t = export_of(p, DML_EXPORT_MEGATRON, NULL);
    has(t, "    --data-parallel-sharding-strategy optim_grads ");
    free(t);
    dml_planner_free(p);
}

/* What DeepSpeed cannot run is refused: the interleaved schedule (its
 * pipeline engine is 1F1B), ZeRO-2/3 with a pipeline, a batch ramp. */
static void deepspeed_refusals(void **state)
{
    (void)state;
    dml_planner *p = plan_for("gpt3-175b", "dgx-a100-80g", 128, 1536,
                              GPT3_CONFIG, 300e9, DML_FRAMEWORK_MEGATRON);
    refused(p, DML_EXPORT_DEEPSPEED, "no interleaved schedule");
    dml_planner_free(p);
    p = plan_for("gpt3-13b", "dgx-h100", 8, 1024, "tp=2,pp=2,v=1,zero=2", 0,
                 DML_FRAMEWORK_MEGATRON);
    refused(p, DML_EXPORT_DEEPSPEED, "ZeRO-0 or 1, not ZeRO-2");
    dml_planner_free(p);
    dml_planner_request r;
    dml_error err;
    assert_int_equal(dml_test_planner_request(&r, "gpt3-175b", "dgx-h100",
                                              128, 1536, "tp=8,pp=4", &err),
                     DML_OK);
    r.tokens = 300e9;
    r.ramp_tokens = 4e9;
    r.framework = DML_FRAMEWORK_DEEPSPEED;
    assert_int_equal(dml_planner_new(&r, &p, &err), DML_OK);
    assert_int_equal(dml_planner_run(p, &err), DML_OK);
    assert_true(p->plans[0].plan.sched.ramp_count > 0);
    refused(p, DML_EXPORT_DEEPSPEED, "no batch ramp");
    dml_planner_free(p);
}

/* The DeepSpeed JSON holds only keys DeepSpeed reads, and a scheduler
 * DeepSpeed accepts that follows the plan's rate. */
static void deepspeed_config(void **state)
{
    (void)state;
    dml_planner *p = plan_for("gpt3-175b", "dgx-a100-80g", 128, 1536,
                              "tp=8,pp=8,zero=1,recompute=full", 300e9,
                              DML_FRAMEWORK_DEEPSPEED);
    char *t = export_of(p, DML_EXPORT_DEEPSPEED, NULL);
    json_error_t je;
    json_t *j = json_loads(t, 0, &je);
    assert_non_null(j);
    /* no DeepSpeed tensor parallelism on top of Megatron-DeepSpeed's */
    assert_null(json_object_get(j, "tensor_parallel"));
    json_t *pipe = json_object_get(j, "pipeline");
    assert_null(json_object_get(pipe, "stages"));
    assert_null(json_object_get(pipe, "partition"));
    assert_int_equal(json_integer_value(json_object_get(
                         pipe, "activation_checkpoint_interval")),
                     1);
    json_t *sch = json_object_get(j, "scheduler");
    assert_string_equal(json_string_value(json_object_get(sch, "type")),
                        "WarmupCosineLR");
    json_t *sp = json_object_get(sch, "params");
    assert_string_equal(json_string_value(json_object_get(sp,
                                                          "warmup_type")),
                        "linear");
    const dml_train_schedule *s = &p->plans[0].plan.sched;
    assert_int_equal(json_integer_value(json_object_get(sp,
                                                        "total_num_steps")),
                     s->warmup_steps + s->decay_steps);
    json_decref(j);
    free(t);
    dml_planner_free(p);

    /* Without --tokens the plan holds the rate after warmup, and says so;
     * the export agrees (WarmupLR, never 0 warmup steps). */
    p = plan_for("llama3-8b", "dgx-h100", 1, 256, "tp=1", 0,
                 DML_FRAMEWORK_DEEPSPEED);
    s = &p->plans[0].plan.sched;
    assert_int_equal(s->decay, DML_DECAY_CONSTANT);
    t = export_of(p, DML_EXPORT_DEEPSPEED, NULL);
    j = json_loads(t, 0, &je);
    sch = json_object_get(j, "scheduler");
    assert_string_equal(json_string_value(json_object_get(sch, "type")),
                        "WarmupLR");
    assert_true(json_integer_value(json_object_get(
                    json_object_get(sch, "params"), "warmup_num_steps")) >=
                1);
    has(json_string_value(json_object_get(json_object_get(j, "_dml"),
                                          "note")),
        "stays at its peak after warmup");
    json_decref(j);
    free(t);
    dml_planner_free(p);

    /* An SGD plan without a length has no warmup: no scheduler at all
     * (DeepSpeed raises on warmup_num_steps 0). */
    dml_planner_request r;
    dml_error err;
    assert_int_equal(dml_test_planner_request(&r, "gpt3-125m", "dgx-h100", 1,
                                              256, "tp=1", &err),
                     DML_OK);
    r.optimizer = DML_OPT_SGD;
    r.framework = DML_FRAMEWORK_DEEPSPEED;
    assert_int_equal(dml_planner_new(&r, &p, &err), DML_OK);
    assert_int_equal(dml_planner_run(p, &err), DML_OK);
    t = export_of(p, DML_EXPORT_DEEPSPEED, NULL);
    lacks(t, "\"warmup_num_steps\": 0");
    lacks(t, "\"scheduler\"");
    free(t);
    dml_planner_free(p);
}

/* Llama's architecture in full; an uneven pipeline placed as Megatron-LM
 * can place it; an encoder for Megatron-LM's BERT script. */
static void architecture(void **state)
{
    (void)state;
    dml_planner *p = plan_for("llama3-405b", "dgx-h100", 128, 2048,
                              "tp=8,pp=8,v=1", 0, DML_FRAMEWORK_MEGATRON);
    char *t = export_of(p, DML_EXPORT_MEGATRON, NULL);
    has(t, "    --position-embedding-type rope\n    --rotary-base 500000\n");
    has(t, "    --attention-dropout 0\n    --hidden-dropout 0\n");
    has(t, "    --swiglu\n");
    has(t, "    --normalization RMSNorm\n");
    has(t, "    --untie-embeddings-and-output-weights\n");
    has(t, "    --disable-bias-linear\n");
    has(t, "    --num-query-groups 8\n");
    /* 126 = 15 + 6 x 16 + 15: no stage above the plan's 16 layers */
    has(t, "    --decoder-first-pipeline-num-layers 15\n"
           "    --decoder-last-pipeline-num-layers 15\n");
    free(t);
    dml_planner_free(p);

    p = plan_for("llama2-7b", "dgx-h100", 1, 256, "tp=2", 0,
                 DML_FRAMEWORK_MEGATRON);
    t = export_of(p, DML_EXPORT_MEGATRON, NULL);
    has(t, "    --rotary-base 10000\n");
    free(t);
    dml_planner_free(p);

    p = plan_for("gpt3-175b", "dgx-a100-80g", 128, 1536, GPT3_CONFIG, 300e9,
                 DML_FRAMEWORK_MEGATRON);
    t = export_of(p, DML_EXPORT_MEGATRON, NULL);
    has(t, "    --attention-dropout 0.1\n");
    lacks(t, "--rotary-base");
    lacks(t, "--decoder-first-pipeline-num-layers");
    free(t);
    dml_planner_free(p);

    p = plan_for("bert-large", "dgx-h100", 1, 256, "tp=2", 0,
                 DML_FRAMEWORK_MEGATRON);
    dml_export_kind kinds[] = {DML_EXPORT_MEGATRON, DML_EXPORT_SLURM,
                               DML_EXPORT_TORCHRUN};
    for (size_t i = 0; i < 3; i++) {
        t = export_of(p, kinds[i], NULL);
        has(t, "examples/bert/pretrain_bert.py");
        lacks(t, "pretrain_gpt.py");
        free(t);
    }
    dml_planner_free(p);
}

/* --batch-ramp 4e9 is 4e9 tokens of ramp; Megatron-LM gets it as its
 * step schedule (its --rampup-batch-size is ignored now), with warmup,
 * decay and length in samples. */
static void batch_ramp(void **state)
{
    (void)state;
    dml_planner_request r;
    dml_error err;
    dml_planner *p = NULL;
    assert_int_equal(dml_test_planner_request(&r, "gpt3-175b", "dgx-h100",
                                              128, 1536, "tp=8,pp=4", &err),
                     DML_OK);
    r.tokens = 300e9;
    r.ramp_tokens = 4e9;
    assert_int_equal(dml_planner_new(&r, &p, &err), DML_OK);
    assert_int_equal(dml_planner_run(p, &err), DML_OK);
    const dml_train_schedule *s = &p->plans[0].plan.sched;
    assert_true(s->ramp_count > 0);
    double samples = 0;
    int64_t prev = 0;
    for (int i = 0; i < s->ramp_count; i++) {
        samples += (double)s->ramp[i].global_batch *
                   (double)(s->ramp[i].until_step - prev);
        prev = s->ramp[i].until_step;
    }
    if (fabs(samples * 2048 - 4e9) > 1536.0 * 2048)
        fail_msg("the ramp trains on %.4g tokens, not 4e9", samples * 2048);
    char *t = export_of(p, DML_EXPORT_MEGATRON, NULL);
    lacks(t, "--rampup-batch-size");
    lacks(t, "--global-batch-size");
    has(t, "    --step-batch-size-schedule \"0:");
    has(t, ":1536\"");
    has(t, "    --lr-warmup-samples ");
    has(t, "    --train-samples ");
    lacks(t, "--train-iters");
    free(t);
    dml_planner_free(p);
}

/* The Slurm script changes into the code, takes --slurm-time,
 * --slurm-partition and --slurm-account (checked: sbatch reads them), and
 * leaves commented placeholders for what was not given. */
static void slurm_options(void **state)
{
    (void)state;
    dml_planner *p = plan_for("gpt3-1.3b", "dgx-h100", 2, 512, "tp=2", 0,
                              DML_FRAMEWORK_MEGATRON);
    char *t = export_of(p, DML_EXPORT_SLURM, NULL);
    has(t, "\ncd \"${MEGATRON_LM:-${SLURM_SUBMIT_DIR:-.}}\"");
    has(t, "\n##SBATCH --time=");
    has(t, "\n##SBATCH --partition=");
    has(t, "\n##SBATCH --account=");
    free(t);
    dml_export_options o = {.code_dir = "/opt/Megatron LM",
                            .slurm_time = "2-00:00:00",
                            .slurm_partition = "gpu,gpu-long",
                            .slurm_account = "ml_team.1"};
    t = export_of(p, DML_EXPORT_SLURM, &o);
    has(t, "\ncd '/opt/Megatron LM'");
    has(t, "\n#SBATCH --time=2-00:00:00\n");
    has(t, "\n#SBATCH --partition=gpu,gpu-long\n");
    has(t, "\n#SBATCH --account=ml_team.1\n");
    free(t);
    t = export_of(p, DML_EXPORT_TORCHRUN, &o);
    has(t, "\ncd '/opt/Megatron LM'");
    free(t);
    const char *bad[] = {"2 days", "1:00\n#SBATCH --wrap=x", "$(x)"};
    for (size_t i = 0; i < 3; i++) {
        dml_export_options b = {.slurm_time = bad[i]};
        dml_error err;
        assert_int_equal(dml_export_options_check(&b, &err), DML_EUSAGE);
        has(err.msg, "--slurm-time");
        dml_export_options c = {.slurm_partition = bad[i]};
        assert_int_equal(dml_export_options_check(&c, &err), DML_EUSAGE);
        has(err.msg, "--slurm-partition");
    }
    dml_planner_free(p);
}

/* A data-parallel strategy the target has no setting for is never
 * exported: refused in one line, and dml_export_pick finds the best plan
 * the target runs; bf16 gradients are Megatron-LM's and DeepSpeed's own
 * settings. */
static void sync_strategies(void **state)
{
    (void)state;
    dml_planner *p = plan_for("gpt3-6.7b", "dgx-h100", 8, 1024,
                              "sync=hierarchical", 0, DML_FRAMEWORK_MEGATRON);
    refused(p, DML_EXPORT_MEGATRON, "sync=hierarchical has no Megatron-LM");
    dml_planner_free(p);

    p = plan_for("gpt3-6.7b", "dgx-h100", 8, 1024, NULL, 0,
                 DML_FRAMEWORK_MEGATRON);
    /* make the winner one the target cannot run: the pick passes it over
     * for the next plan, and says why */
    dml_planner_request *rq = &p->req;
    (void)rq;
    p->plans[0].plan.par.sync.kind = DML_SYNC_POWERSGD;
    p->plans[0].plan.par.sync.param = 4;
    const dml_planned *out = NULL;
    bool fallback = false;
    char why[512];
    dml_error err;
    assert_int_equal(dml_export_pick(DML_EXPORT_MEGATRON, p, &p->plans[0],
                                     &out, &fallback, why, sizeof why, &err),
                     DML_OK);
    assert_true(fallback);
    assert_ptr_equal(out, &p->plans[1]);
    has(why, "sync=powersgd:4");
    has(why, "exporting plan #2 instead");
    /* none runs: DML_EUSAGE with the winner's reason */
    for (int i = 0; i < p->count; i++)
        p->plans[i].plan.par.sync.kind = DML_SYNC_TOPK;
    assert_int_equal(dml_export_pick(DML_EXPORT_MEGATRON, p, &p->plans[0],
                                     &out, &fallback, why, sizeof why, &err),
                     DML_EUSAGE);
    has(err.msg, "sync=topk");
    dml_planner_free(p);

    p = plan_for("gpt3-6.7b", "dgx-h100", 8, 1024, "zero=1,sync=bf16", 0,
                 DML_FRAMEWORK_MEGATRON);
    char *t = export_of(p, DML_EXPORT_MEGATRON, NULL);
    has(t, "    --grad-reduce-in-bf16 ");
    has(t, "    --ddp-reduce-scatter-with-fp32-accumulation ");
    free(t);
    dml_planner_free(p);
    p = plan_for("gpt3-6.7b", "dgx-h100", 8, 1024, "zero=1,sync=bf16", 0,
                 DML_FRAMEWORK_DEEPSPEED);
    t = export_of(p, DML_EXPORT_DEEPSPEED, NULL);
    has(t, "\"communication_data_type\": \"bf16\"");
    free(t);
    dml_planner_free(p);
}

/* What Megatron-LM lacks: GPipe, LAMB and LARS, a DeepSpeed-priced plan
 * (Megatron-DeepSpeed takes other arguments). */
static void megatron_refusals(void **state)
{
    (void)state;
    dml_planner *p = plan_for("gpt3-1.3b", "dgx-h100", 2, 512,
                              "pp=2,schedule=gpipe", 0,
                              DML_FRAMEWORK_MEGATRON);
    refused(p, DML_EXPORT_MEGATRON, "no GPipe schedule");
    dml_planner_free(p);
    p = plan_for("gpt3-1.3b", "dgx-h100", 2, 512, "tp=2", 0,
                 DML_FRAMEWORK_DEEPSPEED);
    refused(p, DML_EXPORT_SLURM, "Megatron-DeepSpeed");
    refused(p, DML_EXPORT_TORCHRUN, "Megatron-DeepSpeed");
    dml_planner_free(p);
    dml_planner_request r;
    dml_error err;
    assert_int_equal(dml_test_planner_request(&r, "gpt3-1.3b", "dgx-h100", 2,
                                              512, "tp=2", &err),
                     DML_OK);
    r.optimizer = DML_OPT_LAMB;
    assert_int_equal(dml_planner_new(&r, &p, &err), DML_OK);
    assert_int_equal(dml_planner_run(p, &err), DML_OK);
    refused(p, DML_EXPORT_MEGATRON, "no lamb optimizer");
    dml_planner_free(p);
}

/* A plan of optimizer opt for gpt3-125m on one DGX H100 node. */
static dml_planner *plan_with(dml_optimizer opt, dml_framework fw)
{
    dml_planner_request r;
    dml_error err;
    dml_planner *p = NULL;
    if (dml_test_planner_request(&r, "gpt3-125m", "dgx-h100", 1, 256, "tp=1",
                                 &err))
        fail_msg("%s", err.msg);
    r.optimizer = opt;
    r.framework = fw;
    if (dml_planner_new(&r, &p, &err) || dml_planner_run(p, &err))
        fail_msg("%s", err.msg);
    return p;
}

/* adam is Adam with L2 in the gradient, adamw decoupled decay: one
 * meaning each, in the plan and in every export. Megatron-LM's adam is
 * AdamW (OptimizerConfig.decoupled_weight_decay, no flag); DeepSpeed's
 * "Adam" is too unless adam_w_mode is false (runtime/engine.py). */
static void adam_and_adamw(void **state)
{
    (void)state;
    dml_planner *p = plan_with(DML_OPT_ADAMW, DML_FRAMEWORK_MEGATRON);
    assert_int_equal(p->plans[0].plan.sched.optimizer, DML_OPT_ADAMW);
    assert_true(p->plans[0].plan.sched.weight_decay == 0.1);
    char *t = export_of(p, DML_EXPORT_MEGATRON, NULL);
    has(t, "    --optimizer adam\n");
    has(t, "    --weight-decay 0.1\n");
    free(t);
    dml_planner_free(p);

    /* adam is planned without weight decay (L2 under Adam's scaling is
     * weak and torch.optim.Adam has none), said in the advice; Megatron
     * runs it as its adam with decay 0, the same rule then */
    p = plan_with(DML_OPT_ADAM, DML_FRAMEWORK_MEGATRON);
    assert_int_equal(p->plans[0].plan.sched.optimizer, DML_OPT_ADAM);
    assert_true(p->plans[0].plan.sched.weight_decay == 0);
    assert_int_equal(p->plans[0].advice.recommended, DML_OPT_ADAMW);
    t = export_of(p, DML_EXPORT_MEGATRON, NULL);
    has(t, "    --optimizer adam\n");
    has(t, "    --weight-decay 0\n");
    free(t);
    /* with weight decay (a plan file edited by hand) Megatron-LM cannot
     * run it: refused, not exported as AdamW */
    p->plans[0].plan.sched.weight_decay = 0.01;
    refused(p, DML_EXPORT_MEGATRON, "--optimizer adamw");
    refused(p, DML_EXPORT_SLURM, "decouples it");
    dml_planner_free(p);

    const char *want[2] = {"AdamW", "Adam"};
    dml_optimizer opts[2] = {DML_OPT_ADAMW, DML_OPT_ADAM};
    for (int i = 0; i < 2; i++) {
        p = plan_with(opts[i], DML_FRAMEWORK_DEEPSPEED);
        p->plans[0].plan.sched.weight_decay = 0.05;
        t = export_of(p, DML_EXPORT_DEEPSPEED, NULL);
        json_t *j = json_loads(t, 0, NULL);
        assert_non_null(j);
        json_t *o = json_object_get(j, "optimizer");
        assert_string_equal(json_string_value(json_object_get(o, "type")),
                            want[i]);
        json_t *par = json_object_get(o, "params");
        assert_true(json_real_value(json_object_get(par, "weight_decay")) ==
                    0.05);
        json_t *mode = json_object_get(par, "adam_w_mode");
        if (opts[i] == DML_OPT_ADAM)
            assert_true(json_is_false(mode));
        else
            assert_null(mode);
        json_decref(j);
        free(t);
        dml_planner_free(p);
    }
}

DML_TEST_MAIN(
    cmocka_unit_test(environment),
    cmocka_unit_test(padded_vocabulary),
    cmocka_unit_test(zero_as_megatron_fsdp),
    cmocka_unit_test(deepspeed_refusals),
    cmocka_unit_test(deepspeed_config),
    cmocka_unit_test(architecture),
    cmocka_unit_test(batch_ramp),
    cmocka_unit_test(slurm_options),
    cmocka_unit_test(sync_strategies),
    cmocka_unit_test(megatron_refusals),
    cmocka_unit_test(adam_and_adamw))
