/*
 * test_validation.c: the cost model against published measurements
 * (/work/shared/validation/dev_set.md). One set of hardware figures per
 * cluster (the dgx-a100-80g preset; the BLOOM and GPT-NeoX clusters differ
 * only in their network and, for NeoX, the 40 GB HBM); nothing is keyed to
 * a model. Each check prints `published / predicted / error` so the table
 * can be read from the test log.
 */
#include "tests/support/unit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "costmodel/cluster_spec.h"
#include "costmodel/flops.h"
#include "costmodel/memory.h"
#include "costmodel/model_spec.h"
#include "costmodel/presets.h"
#include "costmodel/step_time.h"
#include "tests/support/test_support.h"

#define FIX DML_FIXTURES "/specs/"
#define GIB 1073741824.0

static int failures;

/* Print one row and count it failed when off by more than tol. */
static void check(const char *what, double published, double predicted,
                  double tol)
{
    double err = (predicted - published) / published;
    printf("  %-52s %12.4g %12.4g %+7.2f%%%s\n", what, published, predicted,
           100.0 * err, fabs(err) > tol ? "  <-- FAIL" : "");
    if (fabs(err) > tol)
        failures++;
    fflush(stdout); /* keep the table in order with cmocka's lines */
}

/* A row printed for the reader and not judged by itself (marked so): the
 * case's assertions say what must hold of it. */
static void show(const char *what, double published, double predicted)
{
    printf("  %-52s %12.4g %12.4g %+7.2f%%  (shown; bounds below)\n", what,
           published, predicted, 100.0 * (predicted - published) / published);
    fflush(stdout);
}

/* A GPT model as Megatron builds it (Korthikanti et al. 2022 setup). */
static void gpt(dml_model_spec *m, const char *name, int64_t layers,
                int64_t hidden, int64_t heads, int64_t seq, int64_t vocab)
{
    dml_test_gpt(m, name, layers, hidden, heads, seq, vocab);
    m->dtype = DML_DTYPE_BF16;
}

static dml_cluster_spec *load_cluster(const char *name, int64_t nodes)
{
    dml_cluster_spec *c = malloc(sizeof *c);
    dml_error err;
    char buf[1200];
    if (dml_cluster_spec_load(name, dml_costmodel_data_dir(NULL), c, &err) !=
        DML_OK)
        fail_msg("%s", dml_error_format(&err, buf, sizeof buf));
    if (nodes > 0)
        assert_int_equal(dml_cluster_spec_scale_nodes(c, nodes, &err), DML_OK);
    return c;
}

static void predict_opt(const dml_model_spec *m, const dml_cluster_spec *c,
                        const dml_costmodel_options *opt,
                        const dml_parallel_config *par,
                        const dml_stage_range *stages, int nst,
                        dml_prediction *pred, dml_costmodel_detail *det)
{
    dml_costmodel_ctx *ctx = malloc(sizeof *ctx);
    dml_error err;
    char buf[1200];
    if (dml_costmodel_prepare(m, c, opt, ctx, &err) != DML_OK)
        fail_msg("%s", dml_error_format(&err, buf, sizeof buf));
    if (dml_costmodel_step_time(ctx, par, stages, nst, pred, det, &err) !=
        DML_OK)
        fail_msg("%s", dml_error_format(&err, buf, sizeof buf));
    free(ctx);
}

static void predict(const dml_model_spec *m, const dml_cluster_spec *c,
                    const dml_parallel_config *par,
                    const dml_stage_range *stages, int nst,
                    dml_prediction *pred, dml_costmodel_detail *det)
{
    predict_opt(m, c, NULL, par, stages, nst, pred, det);
}

/* The GPU of a fixture cluster must be the preset's, efficiencies and all:
 * only the network (and for NeoX the HBM) may differ. */
static void same_gpu_figures(const dml_cluster_spec *c)
{
    dml_cluster_spec *ref = load_cluster("dgx-a100-80g", 0);
    const dml_device_spec *a = &ref->groups[0].device;
    const dml_device_spec *b = &c->groups[0].device;
    assert_int_equal(a->gemm_count, b->gemm_count);
    assert_memory_equal(a->gemm, b->gemm, sizeof a->gemm[0] * a->gemm_count);
    assert_memory_equal(a->peak_flops, b->peak_flops, sizeof a->peak_flops);
    assert_true(a->membound_efficiency == b->membound_efficiency);
    assert_memory_equal(&ref->groups[0].links[DML_LINK_INTRA],
                        &c->groups[0].links[DML_LINK_INTRA],
                        sizeof(dml_link_spec));
    free(ref);
}

/* A cluster of the specs fixtures (FIX/file); its GPU is checked to be
 * the preset's before any number is predicted on it. */
static dml_cluster_spec *fixture_cluster(const char *file)
{
    dml_cluster_spec *c = malloc(sizeof *c);
    assert_non_null(c);
    char path[512];
    snprintf(path, sizeof path, "%s%s", FIX, file);
    dml_error err;
    assert_int_equal(dml_cluster_spec_read_file(path, c, &err), DML_OK);
    same_gpu_figures(c);
    return c;
}

/* The BLOOM and NeoX runs: ZeRO-1 and full recompute. */
static void zero1_full_recompute(dml_parallel_config *par, int tp, int pp,
                                 int dp, int64_t mbs, int64_t microbatches)
{
    dml_parallel_config_init(par);
    par->tp = tp;
    par->pp = pp;
    par->dp = dp;
    par->zero = 1;
    par->recompute = DML_RECOMPUTE_FULL;
    par->mbs = mbs;
    par->microbatches = microbatches;
}

/* Korthikanti et al. 2022 Table 5 configurations (dev_set.md). */
typedef struct kcase {
    const char *name;
    int64_t heads, hidden, layers;
    int tp, pp, gpus;
    int64_t batch, mbs;
    int v;
    double t_full, t_sel;  /* Table 5 iteration time, s */
    double mfu_sel;        /* MFU with SP + selective */
    double mem_states, mem_act, mem_act_sel; /* Fig. 1, GiB */
} kcase;

static const kcase kcases[] = {
    {"22B", 64, 6144, 48, 8, 1, 8, 4, 4, 1, 1.42, 1.10, 0.415, 45.56, 59.25,
     9.56},
    {"175B", 96, 12288, 96, 8, 8, 64, 64, 1, 3, 18.13, 13.75, 0.514, 45.56,
     66.84, 12.35},
    {"530B", 128, 20480, 105, 8, 35, 280, 280, 1, 3, 49.05, 37.83, 0.560,
     31.64, 114.02, 23.08},
    {"1T", 160, 25600, 128, 8, 64, 512, 512, 1, 1, 94.42, 71.49, 0.563,
     32.96, 131.25, 26.56},
};

static void kconfig(const kcase *k, dml_parallel_config *par, bool sel)
{
    dml_parallel_config_init(par);
    par->tp = k->tp;
    par->pp = k->pp;
    par->dp = k->gpus / (k->tp * k->pp);
    par->mbs = k->mbs;
    par->microbatches = k->batch / (par->dp * k->mbs);
    par->v = k->v;
    par->schedule = k->v > 1 ? DML_PP_INTERLEAVED : DML_PP_1F1B;
    par->sp = sel;
    par->recompute = sel ? DML_RECOMPUTE_SELECTIVE : DML_RECOMPUTE_FULL;
}

/* Korthikanti et al. 2022, Table 5: iteration time with full recompute
 * and with sequence parallelism + selective recompute, and the MFU of the
 * latter, on Selene (DGX A100 80GB). */
static void korthikanti_table5_iteration_times(void **state)
{
    (void)state;
    failures = 0;
    printf("  %-52s %12s %12s %8s\n", "Korthikanti 2022 Table 5", "published",
           "predicted", "error");
    for (size_t i = 0; i < sizeof kcases / sizeof kcases[0]; i++) {
        const kcase *k = &kcases[i];
        dml_model_spec m;
        gpt(&m, k->name, k->layers, k->hidden, k->heads, 2048, 51200);
        dml_cluster_spec *c = load_cluster("dgx-a100-80g", k->gpus / 8);
        double t[2];
        for (int sel = 0; sel < 2; sel++) {
            dml_parallel_config par;
            kconfig(k, &par, sel);
            dml_prediction pred;
            dml_costmodel_detail det;
            predict(&m, c, &par, NULL, 0, &pred, &det);
            t[sel] = pred.step_s;
            char what[96];
            snprintf(what, sizeof what, "%s iteration s, %s", k->name,
                     sel ? "SP + selective" : "full recompute");
            /* issue 11: the SP + selective rows within 5 % */
            check(what, sel ? k->t_sel : k->t_full, pred.step_s,
                  sel ? 0.05 : 0.10);
            if (sel) {
                snprintf(what, sizeof what, "%s MFU, SP + selective", k->name);
                check(what, k->mfu_sel, pred.mfu, 0.10);
            }
        }
        /* and what SP + selective saves against full recomputation */
        char what[96];
        snprintf(what, sizeof what, "%s SP + selective / full recompute",
                 k->name);
        check(what, k->t_sel / k->t_full, t[1] / t[0], 0.05);
        free(c);
    }
    assert_int_equal(failures, 0);
}

/* Korthikanti et al. 2022, Table 4: forward/backward time of one layer of
 * the 22B model (TP 8, micro-batch 4), ms. */
static void korthikanti_table4_layer_times(void **state)
{
    (void)state;
    failures = 0;
    static const struct {
        const char *name;
        bool sp;
        dml_recompute rc;
        double fwd_ms, bwd_ms;
    } rows[] = {
        {"no recompute", false, DML_RECOMPUTE_NONE, 7.7, 11.9},
        {"sequence parallel", true, DML_RECOMPUTE_NONE, 7.2, 11.8},
        {"full recompute", false, DML_RECOMPUTE_FULL, 7.7, 19.5},
        {"selective recompute", false, DML_RECOMPUTE_SELECTIVE, 7.7, 13.2},
        {"SP + selective", true, DML_RECOMPUTE_SELECTIVE, 7.2, 13.1},
    };
    dml_model_spec m;
    gpt(&m, "22B", 48, 6144, 64, 2048, 51200);
    dml_cluster_spec *c = load_cluster("dgx-a100-80g", 1);
    printf("  %-52s %12s %12s %8s\n", "Korthikanti 2022 Table 4 (22B)",
           "published", "predicted", "error");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        dml_parallel_config par;
        kconfig(&kcases[0], &par, false);
        par.sp = rows[i].sp;
        par.recompute = rows[i].rc;
        dml_prediction pred;
        dml_costmodel_detail det;
        predict(&m, c, &par, NULL, 0, &pred, &det);
        char what[96];
        snprintf(what, sizeof what, "layer forward ms, %s", rows[i].name);
        check(what, rows[i].fwd_ms, 1e3 * det.layer_fwd_s, 0.10);
        snprintf(what, sizeof what, "layer backward ms, %s", rows[i].name);
        check(what, rows[i].bwd_ms, 1e3 * det.layer_bwd_s, 0.10);
    }
    free(c);
    assert_int_equal(failures, 0);
}

/* BLOOM-176B (bigscience tr11-176B-ml README): 384 A100 80GB, TP 4, PP 12,
 * DP 8, ZeRO-1, full recompute, micro-batch 2, global batch 2048:
 * 104.70 s per iteration, 149.77 TFLOP/s per GPU counting recompute. */
static void bloom_176b_iteration(void **state)
{
    (void)state;
    failures = 0;
    dml_model_spec m;
    gpt(&m, "bloom-176b", 70, 14336, 112, 2048, 250680);
    m.position = DML_POS_NONE; /* ALiBi */
    dml_cluster_spec *c = fixture_cluster("cluster-bloom-jz.json");
    dml_parallel_config par;
    zero1_full_recompute(&par, 4, 12, 8, 2, 2048 / (8 * 2));
    /* BLOOM's partition counts the two embedding layers as layers:
     * 5 transformer layers on the first and last stage, 6 elsewhere. */
    dml_stage_range st[12];
    int64_t next = 0;
    for (int i = 0; i < 12; i++) {
        int64_t n = (i == 0 || i == 11) ? 5 : 6;
        st[i].first_layer = next;
        st[i].last_layer = next + n - 1;
        next += n;
    }
    assert_int_equal(next, 70);
    /* BLOOM ran Megatron-DeepSpeed, whose pipeline is DeepSpeed's engine
     * (costmodel/framework.h: that is the software, not a fit) */
    par.framework = DML_FRAMEWORK_DEEPSPEED;
    dml_prediction pred;
    dml_costmodel_detail det;
    predict(&m, c, &par, st, 12, &pred, &det);
    printf("  %-52s %12s %12s %8s\n", "BLOOM-176B", "published", "predicted",
           "error");
    /* issue 11: with the DeepSpeed runtime, within 5 % */
    check("iteration s", 104.70, pred.step_s, 0.05);
    check("TFLOP/s per GPU incl. recompute", 149.77,
          pred.flops_per_device / 1e12, 0.05);
    /* priced as Megatron would run it, it comes out faster: the runtime
     * is not a detail */
    dml_prediction meg;
    par.framework = DML_FRAMEWORK_MEGATRON;
    predict(&m, c, &par, st, 12, &meg, &det);
    assert_true(meg.step_s < 0.95 * pred.step_s);
    free(c);
    assert_int_equal(failures, 0);
}

/* GPT-NeoX-20B (Black et al. 2022, secondary transcription in dev_set.md):
 * 96 A100 40GB, TP 2, PP 4, DP 12, ZeRO-1, full recompute, micro-batch 4,
 * 32 accumulation steps: about 117 TFLOP/s per GPU. A sanity check only:
 * the transcription does not say whether the recompute pass was counted,
 * so 117 must lie between our model-FLOPs rate and our executed-FLOPs rate
 * (each with 15% slack). */
static void gpt_neox_20b_sanity(void **state)
{
    (void)state;
    failures = 0;
    dml_model_spec m;
    gpt(&m, "gpt-neox-20b", 44, 6144, 64, 2048, 50432);
    m.tied_embeddings = false;
    m.position = DML_POS_ROTARY;
    dml_cluster_spec *c = fixture_cluster("cluster-neox-a100-40g.json");
    dml_parallel_config par;
    zero1_full_recompute(&par, 2, 4, 12, 4, 32);
    /* GPT-NeoX is built on DeepSpeed's pipeline engine too. */
    par.framework = DML_FRAMEWORK_DEEPSPEED;
    dml_prediction pred;
    dml_costmodel_detail det;
    predict(&m, c, &par, NULL, 0, &pred, &det);
    double executed = pred.flops_per_device / 1e12;
    double model = executed * det.model_flops / det.executed_flops;
    printf("  %-52s %12s %12s %8s\n", "GPT-NeoX-20B", "published",
           "predicted", "error");
    show("TFLOP/s per GPU, model FLOPs (no recompute)", 117, model);
    show("TFLOP/s per GPU, executed FLOPs (with recompute)", 117, executed);
    /* the bracket: 117 is model FLOPs or executed FLOPs, within 15 % */
    assert_true(117 >= 0.85 * model);
    assert_true(117 <= 1.15 * executed);
    assert_true(model < executed); /* full recompute adds a forward */
    assert_true(det.fits); /* it trained on 40 GB GPUs */
    free(c);
    assert_int_equal(failures, 0);
}

/* Narayanan et al. SC21, Table 1 (weak scaling on Selene, full
 * recompute, TFLOP/s per GPU counted with Eq. 3): not in dev_set.md, a
 * check on runs the efficiencies were not chosen with. The table does not
 * give micro-batch sizes; 1 is assumed throughout (the paper's optimum for
 * the large models, §5.4), no interleaving. 10%. */
static void sc21_table1_weak_scaling(void **state)
{
    (void)state;
    failures = 0;
    static const struct {
        const char *name;
        int64_t heads, hidden, layers;
        int tp, pp, gpus;
        int64_t batch;
        double tflops;
    } rows[] = {
        {"1.7B", 24, 2304, 24, 1, 1, 32, 512, 137},
        {"3.6B", 32, 3072, 30, 2, 1, 64, 512, 138},
        {"7.5B", 32, 4096, 36, 4, 1, 128, 512, 142},
        {"18.4B", 48, 6144, 40, 8, 1, 256, 1024, 135},
        {"39.1B", 64, 8192, 48, 8, 2, 512, 1536, 138},
        {"76.1B", 80, 10240, 60, 8, 4, 1024, 1792, 140},
        {"145.6B", 96, 12288, 80, 8, 8, 1536, 2304, 148},
        {"310.1B", 128, 16384, 96, 8, 16, 1920, 2160, 155},
        {"529.6B", 128, 20480, 105, 8, 35, 2520, 2520, 163},
        {"1008.0B", 160, 25600, 128, 8, 64, 3072, 3072, 163},
    };
    printf("  %-52s %12s %12s %8s\n", "Narayanan SC21 Table 1 (TFLOP/s/GPU)",
           "published", "predicted", "error");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        dml_model_spec m;
        gpt(&m, rows[i].name, rows[i].layers, rows[i].hidden, rows[i].heads,
            2048, 51200);
        dml_cluster_spec *c = load_cluster("dgx-a100-80g", rows[i].gpus / 8);
        dml_parallel_config par;
        dml_parallel_config_init(&par);
        par.tp = rows[i].tp;
        par.pp = rows[i].pp;
        par.dp = rows[i].gpus / (rows[i].tp * rows[i].pp);
        par.mbs = 1;
        par.microbatches = rows[i].batch / par.dp;
        par.recompute = DML_RECOMPUTE_FULL;
        dml_prediction pred;
        dml_costmodel_detail det;
        predict(&m, c, &par, NULL, 0, &pred, &det);
        char what[96];
        snprintf(what, sizeof what, "%s on %d GPUs (dp %d)", rows[i].name,
                 rows[i].gpus, par.dp);
        check(what, rows[i].tflops, pred.flops_per_device / 1e12, 0.10);
        free(c);
    }
    assert_int_equal(failures, 0);
}

/* Korthikanti et al. 2022 Fig. 1 (GiB per GPU, as transcribed by the
 * Calculon project): weights + gradients + optimizer of the transformer
 * layers on one GPU (18 bytes per parameter: bf16 weights, fp32 gradients,
 * fp32 master + Adam moments; the embedding is not counted), activations
 * of the first pipeline stage without SP or recompute, and with SP +
 * selective recompute (Table 2 per layer x layers per stage x the p
 * micro-batches in flight x the interleaving factor; embedding and logits
 * activations not counted). */
static void korthikanti_fig1_memory(void **state)
{
    (void)state;
    failures = 0;
    printf("  %-52s %12s %12s %8s\n", "Korthikanti 2022 Fig. 1 (GiB)",
           "published", "predicted", "error");
    for (size_t i = 0; i < sizeof kcases / sizeof kcases[0]; i++) {
        const kcase *k = &kcases[i];
        dml_model_spec m;
        gpt(&m, k->name, k->layers, k->hidden, k->heads, 2048, 51200);
        double layers_per_gpu = (double)k->layers / k->pp;
        dml_state_bytes sb;
        dml_memory_state_bytes(DML_DTYPE_BF16, DML_OPT_ADAMW, 0, &sb);
        dml_mem_breakdown mb;
        /* Weight matrices of the layers (12h^2 each), split by TP. */
        double psi = layers_per_gpu * 12.0 * (double)k->hidden *
                     (double)k->hidden / k->tp;
        dml_memory_model_states(psi, 1, 0, &sb, &mb);
        char what[96];
        snprintf(what, sizeof what, "%s params + grads + optimizer", k->name);
        check(what, k->mem_states,
              (mb.params_bytes + mb.grads_bytes + mb.optimizer_bytes) / GIB,
              0.03);
        /* The same through step_time's first-stage breakdown (embedding
         * excluded by subtracting its states). */
        dml_cluster_spec *c = load_cluster("dgx-a100-80g", k->gpus / 8);
        dml_parallel_config par;
        kconfig(k, &par, false);
        par.recompute = DML_RECOMPUTE_NONE;
        par.sp = false;
        dml_prediction pred;
        dml_costmodel_detail det;
        predict(&m, c, &par, NULL, 0, &pred, &det);
        double act_layers = det.layer_activation_bytes * layers_per_gpu *
                            det.inflight_first;
        snprintf(what, sizeof what, "%s activations, no SP, no recompute",
                 k->name);
        check(what, k->mem_act, act_layers / GIB, 0.03);
        /* whole first stage, embedding (and with pp = 1 logits) included:
         * a few % more */
        assert_true(det.mem_first.activations_bytes >= act_layers);
        assert_true(det.mem_first.activations_bytes < 1.10 * act_layers);

        kconfig(k, &par, true);
        predict(&m, c, &par, NULL, 0, &pred, &det);
        act_layers = det.layer_activation_bytes * layers_per_gpu *
                     det.inflight_first;
        snprintf(what, sizeof what, "%s activations, SP + selective", k->name);
        check(what, k->mem_act_sel, act_layers / GIB, 0.03);
        free(c);
    }
    assert_int_equal(failures, 0);
}

/* Dao 2023 (FlashAttention-2), end-to-end GPT training on 8 A100 80GB
 * SXM4, TFLOP/s per GPU with FlashAttention-2 (model FLOPs as Megatron
 * counts them, the full s x s attention): not in dev_set.md. Data
 * parallelism over the 8 GPUs; 16 k tokens per GPU and step assumed
 * (8 x 2k or 2 x 8k sequences). 7 %. */
static void flash_attention_2_gpt(void **state)
{
    (void)state;
    failures = 0;
    static const struct {
        const char *name;
        int64_t layers, hidden, heads, seq;
        double tflops;
    } rows[] = {
        {"gpt3-1.3b-2k", 24, 2048, 16, 2048, 196},
        {"gpt3-1.3b-8k", 24, 2048, 16, 8192, 220},
        {"gpt3-2.7b-2k", 32, 2560, 32, 2048, 205},
        {"gpt3-2.7b-8k", 32, 2560, 32, 8192, 225},
    };
    printf("  %-52s %12s %12s %8s\n", "FlashAttention-2 GPT (TFLOP/s/GPU)",
           "published", "predicted", "error");
    dml_cluster_spec *c = load_cluster("dgx-a100-80g", 1);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        dml_model_spec m;
        gpt(&m, rows[i].name, rows[i].layers, rows[i].hidden, rows[i].heads,
            rows[i].seq, 50257);
        dml_parallel_config par;
        dml_parallel_config_init(&par);
        par.dp = 8;
        par.mbs = 16384 / rows[i].seq;
        par.attention = DML_ATTN_FLASH;
        dml_prediction pred;
        dml_costmodel_detail det;
        predict(&m, c, &par, NULL, 0, &pred, &det);
        check(rows[i].name, rows[i].tflops,
              det.model_flops / pred.step_s / 8 / 1e12, 0.07);
        /* the same with materialized attention is slower */
        par.attention = DML_ATTN_MATERIALIZED;
        dml_prediction mat;
        predict(&m, c, &par, NULL, 0, &mat, NULL);
        assert_true(mat.step_s > pred.step_s);
    }
    free(c);
    assert_int_equal(failures, 0);
}

/* Smith et al. 2022 (MT-NLG 530B, DeepSpeed + Megatron), Table 1: 105
 * layers, hidden 20480, 128 heads, s 2048, batch 1920, micro-batch 1,
 * TP 8, PP 35, full recompute, on 280 / 350 / 420 DGX A100 nodes:
 * 60.1 / 50.2 / 44.4 s per iteration. Not in dev_set.md. The DeepSpeed
 * pipeline engine is priced from its code (costmodel/framework.h) and
 * still comes out 10-13 % fast here, against 25-30 % priced as Megatron
 * (an open gap, docs/frameworks.md): 20 %, and the runtime must close
 * at least a third of the distance to the published time. */
static void mt_nlg_530b_deepspeed(void **state)
{
    (void)state;
    failures = 0;
    static const struct {
        int nodes;
        double t;
    } rows[] = {{280, 60.1}, {350, 50.2}, {420, 44.4}};
    printf("  %-52s %12s %12s %8s\n", "MT-NLG 530B (iteration s)",
           "published", "predicted", "error");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        dml_model_spec m;
        gpt(&m, "mt-nlg-530b", 105, 20480, 128, 2048, 51200);
        dml_cluster_spec *c = load_cluster("dgx-a100-80g", rows[i].nodes);
        dml_parallel_config par;
        zero1_full_recompute(&par, 8, 35, rows[i].nodes * 8 / 280, 1,
                             1920 / (rows[i].nodes * 8 / 280));
        par.framework = DML_FRAMEWORK_DEEPSPEED;
        dml_prediction ds, meg;
        predict(&m, c, &par, NULL, 0, &ds, NULL);
        par.framework = DML_FRAMEWORK_MEGATRON;
        predict(&m, c, &par, NULL, 0, &meg, NULL);
        char what[96];
        snprintf(what, sizeof what, "%d nodes, DeepSpeed runtime",
                 rows[i].nodes);
        check(what, rows[i].t, ds.step_s, 0.20);
        assert_true(ds.step_s - meg.step_s >
                    (rows[i].t - meg.step_s) / 3.0);
        free(c);
    }
    assert_int_equal(failures, 0);
}

DML_TEST_MAIN(
    cmocka_unit_test(korthikanti_table4_layer_times),
    cmocka_unit_test(korthikanti_table5_iteration_times),
    cmocka_unit_test(bloom_176b_iteration),
    cmocka_unit_test(sc21_table1_weak_scaling),
    cmocka_unit_test(gpt_neox_20b_sanity),
    cmocka_unit_test(korthikanti_fig1_memory),
    cmocka_unit_test(flash_attention_2_gpt),
    cmocka_unit_test(mt_nlg_530b_deepspeed))
