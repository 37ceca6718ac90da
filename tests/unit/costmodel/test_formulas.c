/*
 * test_formulas.c: parameter and FLOP counts, model-state and activation
 * memory, GEMM efficiency curves, collective and pipeline formulas, each
 * against the published formula or table it implements.
 */
#include "tests/support/unit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "costmodel/cluster_spec.h"
#include "costmodel/collective.h"
#include "costmodel/flops.h"
#include "costmodel/gemm_eff.h"
#include "costmodel/memory.h"
#include "costmodel/model_spec.h"
#include "costmodel/pipeline.h"
#include "costmodel/presets.h"
#include "tests/support/test_support.h"

#define REL(a, b) (fabs((double)(a) - (double)(b)) / fabs((double)(b)))

static void gpt(dml_model_spec *m, int64_t l, int64_t h, int64_t a,
                int64_t s, int64_t v)
{
    char name[32];
    snprintf(name, sizeof name, "gpt-%lld", (long long)l);
    dml_test_gpt(m, name, l, h, a, s, v);
}

/* The Korthikanti et al. 2022 / Narayanan et al. SC21 model family
 * (dev_set.md): (heads, hidden, layers), s = 2048, V = 51200. */
static const int64_t family[][3] = {
    {64, 6144, 48}, {96, 12288, 96}, {128, 20480, 105}, {160, 25600, 128}};

/* Narayanan et al. SC21 Eq. 2:
 * P = 12 l h^2 (1 + 13/(12h) + (V+s)/(12 l h)). Our count adds the final
 * layer norm (2h), which Eq. 2 leaves out. */
static void sc21_eq2_parameter_count(void **state)
{
    (void)state;
    for (size_t i = 0; i < 4; i++) {
        dml_model_spec m;
        double a = family[i][0], h = family[i][1], l = family[i][2];
        double s = 2048, V = 51200;
        gpt(&m, (int64_t)l, (int64_t)h, (int64_t)a, 2048, 51200);
        double eq2 = 12 * l * h * h *
                     (1 + 13 / (12 * h) + (V + s) / (12 * l * h));
        double ours = dml_flops_total_params(&m) - 2 * h;
        assert_true(REL(ours, eq2) < 1e-12);
    }
}

/* Released checkpoints' parameter counts (Hugging Face safetensors
 * metadata of meta-llama/Llama-2-7b-hf 6,738,415,616; Llama-2-13b-hf
 * 13,015,864,320; Llama-2-70b-hf 68,976,648,192; Meta-Llama-3-8B
 * 8,030,261,248; Meta-Llama-3-70B 70,553,706,496): GQA, SwiGLU, RMSNorm,
 * untied embeddings, no biases. And GPT-3 175B (Brown et al. 2020 Table
 * 2.1, "175.0B"). */
static void preset_parameter_counts(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        double params;
        double tol;
    } rows[] = {
        {"llama2-7b", 6738415616.0, 1e-9},
        {"llama2-13b", 13015864320.0, 1e-9},
        {"llama2-70b", 68976648192.0, 1e-9},
        {"llama3-8b", 8030261248.0, 1e-9},
        {"llama3-70b", 70553706496.0, 1e-9},
        {"gpt3-175b", 175.0e9, 0.005},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        dml_model_spec m;
        dml_error err;
        assert_int_equal(dml_model_spec_load(rows[i].name,
                                             dml_costmodel_data_dir(NULL), &m,
                                             &err),
                         DML_OK);
        double p = dml_flops_total_params(&m);
        if (REL(p, rows[i].params) > rows[i].tol)
            fail_msg("%s: %.0f parameters, published %.0f", rows[i].name, p,
                     rows[i].params);
    }
    /* mlp-fmnist: 784*256+256 + 256*256+256 + 256*10+10 */
    dml_model_spec m;
    dml_error err;
    assert_int_equal(dml_model_spec_load("mlp-fmnist",
                                         dml_costmodel_data_dir(NULL), &m,
                                         &err),
                     DML_OK);
    assert_true(dml_flops_total_params(&m) == 200960 + 65792 + 2570);
}

/* SC21 Eq. 3 (executed FLOPs with full recompute) and Korthikanti et al.
 * 2022 Eq. 7 (model FLOPs), from our per-GEMM sums. */
static void sc21_eq3_and_korthikanti_eq7_flops(void **state)
{
    (void)state;
    for (size_t i = 0; i < 4; i++) {
        dml_model_spec m;
        double h = family[i][1], l = family[i][2], s = 2048, V = 51200;
        double B = 512;
        gpt(&m, (int64_t)l, (int64_t)h, family[i][0], 2048, 51200);
        double executed = 0;
        double model = dml_flops_iteration(&m, B, DML_RECOMPUTE_FULL,
                                           &executed);
        double eq3 = 96 * B * s * l * h * h *
                     (1 + s / (6 * h) + V / (16 * l * h));
        double eq7 = 72 * B * s * l * h * h *
                     (1 + s / (6 * h) + V / (12 * h * l));
        assert_true(REL(executed, eq3) < 1e-12);
        assert_true(REL(model, eq7) < 1e-12);
        /* Selective recompute adds the attention core forward once. */
        double sel = 0;
        dml_flops_iteration(&m, B, DML_RECOMPUTE_SELECTIVE, &sel);
        assert_true(REL(sel - model, 4 * B * s * s * h * l) < 1e-12);
    }
}

/* One layer's GEMMs on a TP rank, summed over the ranks, are the layer's
 * forward FLOPs 24 b s h^2 (1 + s/(6h)) (SC21 §5.1 derivation). */
static void layer_gemms_sum_to_layer_flops(void **state)
{
    (void)state;
    dml_model_spec m;
    gpt(&m, 96, 12288, 96, 2048, 51200);
    for (int tp = 1; tp <= 8; tp *= 2) {
        dml_gemm_shape g[DML_LAYER_GEMMS_MAX];
        int n = dml_layer_gemms(&m, 0, 4, tp, 1, g);
        assert_true(n >= 6);
        double f = 0;
        for (int i = 0; i < n; i++)
            f += 2 * g[i].batch * g[i].m * g[i].n * g[i].k;
        double h = 12288, s = 2048, b = 4;
        double want = 24 * b * s * h * h * (1 + s / (6 * h));
        assert_true(REL(f * tp, want) < 1e-12);
        assert_true(REL(dml_flops_layer_forward(&m, 0, 4), want) < 1e-12);
    }
    /* GQA and SwiGLU: llama2-70b's QKV is h x (h + 2 kv d), FFN 3 h f. */
    dml_model_spec l;
    dml_error err;
    assert_int_equal(dml_model_spec_load("llama2-70b",
                                         dml_costmodel_data_dir(NULL), &l,
                                         &err),
                     DML_OK);
    double h = 8192, d = 128, kv = 8, f = 28672, s = 4096;
    double want = 2 * s * (h * (h + 2 * kv * d) + h * h + 3 * h * f) +
                  4 * s * s * h;
    assert_true(REL(dml_flops_layer_forward(&l, 0, 1), want) < 1e-12);
    /* tp 16 > 8 kv heads: each rank keeps one kv head */
    assert_true(dml_flops_kv_heads_per_rank(&l, 16) == 1.0);
    assert_true(dml_flops_kv_heads_per_rank(&l, 4) == 2.0);
}

/* Rajbhandari et al. SC20 Table 1: per-device model-state memory (GB) of
 * 7.5B and 128B models under ZeRO stages 1-3, K = 12 (fp16 weights and
 * gradients), for DP 1, 4, 16, 64, 1024. All 30 cells within 3%. */
static void zero_table1_all_cells(void **state)
{
    (void)state;
    static const int dps[] = {1, 4, 16, 64, 1024};
    static const double table[5][6] = {
        {120, 120, 120, 2048, 2048, 2048},
        {52.5, 41.3, 30, 896, 704, 512},
        {35.6, 21.6, 7.5, 608, 368, 128},
        {31.4, 16.6, 1.88, 536, 284, 32},
        {30.1, 15.1, 0.12, 513, 257, 2},
    };
    dml_state_bytes sb;
    dml_memory_state_bytes(DML_DTYPE_FP16, DML_OPT_ADAMW, 2.0, &sb);
    assert_true(sb.param == 2 && sb.grad == 2 && sb.optim == 12);
    for (int r = 0; r < 5; r++)
        for (int c = 0; c < 6; c++) {
            double psi = c < 3 ? 7.5e9 : 128e9;
            int stage = c % 3 + 1;
            dml_mem_breakdown mb;
            dml_memory_model_states(psi, dps[r], stage, &sb, &mb);
            double gb = (mb.params_bytes + mb.grads_bytes +
                         mb.optimizer_bytes) / 1e9;
            if (REL(gb, table[r][c]) > 0.03)
                fail_msg("ZeRO Table 1 dp %d, %s stage %d: %.3g GB, "
                         "published %.3g", dps[r], c < 3 ? "7.5B" : "128B",
                         stage, gb, table[r][c]);
        }
    /* Stage 0: 16 bytes per parameter everywhere (the baseline). */
    dml_mem_breakdown mb;
    dml_memory_model_states(7.5e9, 64, 0, &sb, &mb);
    assert_true(mb.params_bytes + mb.grads_bytes + mb.optimizer_bytes ==
                120e9);
    /* Default for bf16 is fp32 gradient accumulation: 18 bytes. */
    dml_memory_state_bytes(DML_DTYPE_BF16, DML_OPT_ADAMW, 0, &sb);
    assert_true(sb.param + sb.grad + sb.optim == 18);
    /* fp32 Adam keeps no master copy: 4 + 4 + 8. */
    dml_memory_state_bytes(DML_DTYPE_FP32, DML_OPT_ADAMW, 0, &sb);
    assert_true(sb.param + sb.grad + sb.optim == 16);
    dml_memory_state_bytes(DML_DTYPE_FP32, DML_OPT_SGD, 0, &sb);
    assert_true(sb.param + sb.grad + sb.optim == 12);
}

/* Korthikanti et al. 2022 Table 2: activation bytes per layer. */
static void korthikanti_table2_activations(void **state)
{
    (void)state;
    dml_model_spec m;
    gpt(&m, 48, 6144, 64, 2048, 51200);
    double s = 2048, h = 6144, a = 64;
    for (int b = 1; b <= 4; b *= 2)
        for (int t = 1; t <= 8; t *= 2) {
            double sbh = s * b * h;
            double none = dml_memory_layer_activations(
                &m, 0, b, t, false, DML_RECOMPUTE_NONE, DML_ATTN_MATERIALIZED);
            assert_true(REL(none, sbh * (10 + 24.0 / t + 5 * a * s / (h * t))) <
                        1e-12);
            if (t == 1)
                assert_true(REL(none, sbh * (34 + 5 * a * s / h)) < 1e-12);
            double sp = dml_memory_layer_activations(
                &m, 0, b, t, true, DML_RECOMPUTE_NONE, DML_ATTN_MATERIALIZED);
            assert_true(REL(sp, sbh / t * (34 + 5 * a * s / h)) < 1e-12);
            double sel = dml_memory_layer_activations(
                &m, 0, b, t, true, DML_RECOMPUTE_SELECTIVE,
                DML_ATTN_MATERIALIZED);
            assert_true(REL(sel, 34 * sbh / t) < 1e-12);
            double sel_nosp = dml_memory_layer_activations(
                &m, 0, b, t, false, DML_RECOMPUTE_SELECTIVE,
                DML_ATTN_MATERIALIZED);
            assert_true(REL(sel_nosp, sbh * (10 + 24.0 / t)) < 1e-12);
            double full = dml_memory_layer_activations(
                &m, 0, b, t, false, DML_RECOMPUTE_FULL, DML_ATTN_MATERIALIZED);
            assert_true(REL(full, 2 * sbh) < 1e-12);
            /* flash attention keeps row statistics, not s x s */
            double flash = dml_memory_layer_activations(
                &m, 0, b, t, false, DML_RECOMPUTE_NONE, DML_ATTN_FLASH);
            assert_true(flash < none);
            assert_true(flash > sel_nosp);
        }
}

/* Micro-batches in flight: 1F1B holds p on the first stage (p - r on
 * rank r), GPipe all m, the interleaved schedule p (1 + (p-1)/(p v)) on
 * the first stage (Korthikanti et al. 2022 §4.2.3 / dev_set.md). */
static void pipeline_inflight_and_bubble(void **state)
{
    (void)state;
    assert_true(dml_memory_inflight(DML_PP_1F1B, 8, 1, 64, 0) == 8);
    assert_true(dml_memory_inflight(DML_PP_1F1B, 8, 1, 64, 7) == 1);
    assert_true(dml_memory_inflight(DML_PP_1F1B, 8, 1, 4, 0) == 4);
    assert_true(dml_memory_inflight(DML_PP_GPIPE, 8, 1, 64, 0) == 64);
    for (int p = 2; p <= 64; p *= 2)
        for (int v = 2; v <= 4; v++) {
            double f = dml_memory_inflight(DML_PP_INTERLEAVED, p, v, 1024, 0);
            assert_true(REL(f, p * (1 + (p - 1.0) / (p * v))) < 1e-12);
        }
    /* SC21 §2.2: bubble (p-1)/m, interleaved (p-1)/(v m). */
    assert_true(REL(dml_pipeline_bubble_fraction(DML_PP_1F1B, 8, 1, 64),
                    7.0 / 64) < 1e-12);
    assert_true(REL(dml_pipeline_bubble_fraction(DML_PP_INTERLEAVED, 8, 3, 64),
                    7.0 / 192) < 1e-12);
    assert_true(dml_pipeline_bubble_fraction(DML_PP_1F1B, 1, 1, 64) == 0);
    /* Equal stages: (m + p - 1) t, and (m + (p-1)/v) t interleaved. */
    double bubble = 0;
    double t = dml_pipeline_time(DML_PP_1F1B, 8, 1, 64, 0.1, 0.8, &bubble);
    assert_true(REL(t, (64 + 7) * 0.1) < 1e-12);
    assert_true(REL(bubble, 7 * 0.1) < 1e-12);
    t = dml_pipeline_time(DML_PP_INTERLEAVED, 8, 3, 64, 0.1, 0.8, &bubble);
    assert_true(REL(t, (64 + 7.0 / 3) * 0.1) < 1e-12);
    /* A slower last stage sets the steady state. */
    t = dml_pipeline_time(DML_PP_1F1B, 4, 1, 10, 0.2, 0.5, &bubble);
    assert_true(REL(t, 9 * 0.2 + 0.5) < 1e-12);
}

static dml_cluster_spec *preset(const char *name)
{
    dml_cluster_spec *c = malloc(sizeof *c);
    dml_error err;
    assert_int_equal(dml_cluster_spec_load(name, dml_costmodel_data_dir(NULL),
                                           c, &err),
                     DML_OK);
    return c;
}

/* The curve passes through measured points, interpolates in log(mnk),
 * holds flat outside; one curve per unit (fp16 and bf16 share the tensor
 * cores' curve); the default curve rises with size. */
static void gemm_efficiency_curve(void **state)
{
    (void)state;
    dml_cluster_spec *c = preset("dgx-a100-80g");
    dml_device_spec *d = &c->groups[0].device;
    assert_true(d->gemm_count >= 3);
    for (int i = 0; i < d->gemm_count; i++) {
        const dml_gemm_point *p = &d->gemm[i];
        double e = dml_gemm_efficiency(d, p->dtype, p->m, p->n, p->k);
        assert_true(fabs(e - p->efficiency) < 1e-12);
    }
    /* geometric middle of two points: their mean */
    const dml_gemm_point *p0 = &d->gemm[1], *p1 = &d->gemm[2];
    double e = dml_gemm_efficiency(d, DML_DTYPE_BF16, sqrt(p0->m * p1->m),
                                   sqrt(p0->n * p1->n), sqrt(p0->k * p1->k));
    assert_true(fabs(e - 0.5 * (p0->efficiency + p1->efficiency)) < 1e-9);
    assert_true(dml_gemm_efficiency(d, DML_DTYPE_BF16, 1, 1, 1) ==
                d->gemm[0].efficiency);
    double top = 0; /* the largest bf16 point's */
    for (int i = 0; i < d->gemm_count; i++)
        if (d->gemm[i].dtype == DML_DTYPE_BF16)
            top = d->gemm[i].efficiency;
    assert_true(dml_gemm_efficiency(d, DML_DTYPE_BF16, 1e6, 1e6, 1e6) == top);
    /* fp16 runs on the same tensor cores: the bf16 curve, at every size */
    for (double x = 64; x <= 65536; x *= 2)
        assert_true(dml_gemm_efficiency(d, DML_DTYPE_FP16, x, x, x) ==
                    dml_gemm_efficiency(d, DML_DTYPE_BF16, x, x, x));
    /* tf32 has a curve of its own */
    assert_true(dml_gemm_efficiency(d, DML_DTYPE_TF32, 256, 256, 256) !=
                dml_gemm_efficiency(d, DML_DTYPE_BF16, 256, 256, 256));
    /* Large bf16 GEMMs on an A100 run at 0.7-0.85 of peak, small ones
     * well below. */
    e = dml_gemm_efficiency(d, DML_DTYPE_BF16, 8192, 8192, 8192);
    assert_true(e >= 0.7 && e <= 0.85);
    assert_true(dml_gemm_efficiency(d, DML_DTYPE_BF16, 256, 256, 256) < 0.3);
    /* A device without points: the default GPU curve (which the cost
     * model refuses to use, step_time.c). */
    dml_device_spec bare = *d;
    bare.gemm_count = 0;
    double small = dml_gemm_efficiency(&bare, DML_DTYPE_FP32, 512, 512, 512);
    double big = dml_gemm_efficiency(&bare, DML_DTYPE_FP32, 8192, 8192, 8192);
    assert_true(small < big && big <= 0.8);
    /* Issue 11: a small GEMM on a GPU takes at least the device's kernel
     * floor (a 256^3 GEMM's FLOPs alone would take 0.7 us on an A100) */
    dml_gemm_curve fl;
    dml_gemm_curve_init(&fl, d, DML_DTYPE_BF16);
    assert_true(d->kernel_floor_s >= 2e-6);
    assert_true(dml_gemm_time(&fl, 312e12, 1.6e12, 2, 1, 256, 256, 256) ==
                d->kernel_floor_s);
    assert_true(dml_gemm_time(&fl, 312e12, 1.6e12, 2, 1, 8192, 8192, 8192) >
                1e-3);
    /* A thin GEMM is memory-bound: its time is the bytes at bandwidth. */
    dml_gemm_curve curve;
    dml_gemm_curve_init(&curve, d, DML_DTYPE_BF16);
    double bw = d->mem_bw_Bps * d->membound_efficiency;
    double t = dml_gemm_time(&curve, 312e12, bw, 2, 1, 8192, 8192, 1);
    assert_true(REL(t, 2 * (8192.0 + 8192 + 8192.0 * 8192) / bw) < 1e-12);
    free(c);
}

/* nccl-tests (doc/PERFORMANCE.md): busbw = algbw x 2(n-1)/n for
 * allreduce. One 8xA100 node reaches about 230 GB/s, 8xH100 about
 * 370 GB/s (dev_set.md: nccl-tests issues #149, #212, #267); the presets'
 * link efficiencies must reproduce that for large messages. */
static void collective_busbw_matches_nccl_tests(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        double busbw;
    } rows[] = {{"dgx-a100-80g", 230e9}, {"dgx-h100", 370e9}};
    for (int i = 0; i < 2; i++) {
        dml_cluster_spec *c = preset(rows[i].name);
        dml_coll_group g;
        dml_coll_group_init(&g, &c->groups[0], 8, 8);
        double bytes = 1 << 30;
        dml_coll_algo algo;
        double t = dml_collective_time(&g, DML_COLL_ALLREDUCE, bytes, &algo);
        double busbw = bytes / t * dml_collective_busbw_factor(
                                       DML_COLL_ALLREDUCE, 8);
        assert_true(REL(busbw, rows[i].busbw) < 0.02);
        assert_int_equal(algo, DML_ALGO_RING);
        /* all-gather and reduce-scatter move half an allreduce */
        double ag = dml_collective_time(&g, DML_COLL_ALLGATHER, bytes, NULL);
        double rs = dml_collective_time(&g, DML_COLL_REDUCESCATTER, bytes,
                                        NULL);
        assert_true(REL(ag + rs, t) < 1e-3);
        free(c);
    }
}

static void collective_algorithms(void **state)
{
    (void)state;
    dml_cluster_spec *c = preset("dgx-a100-80g");
    dml_node_group *grp = &c->groups[0];
    dml_coll_group g;
    /* 128 GPUs, 8 per node: tiny messages go by tree (log latency), big
     * ones by ring (bandwidth). */
    dml_coll_group_init(&g, grp, 128, 8);
    /* Issue 11: a call is never cheaper than the device's collective
     * floor, even for two ranks and one byte */
    dml_coll_group two;
    dml_coll_group_init(&two, grp, 2, 2);
    assert_true(grp->device.collective_floor_s >= 5e-6);
    assert_true(dml_collective_time(&two, DML_COLL_ALLREDUCE, 1, NULL) ==
                grp->device.collective_floor_s);
    dml_coll_algo algo;
    dml_collective_time(&g, DML_COLL_ALLREDUCE, 1024, &algo);
    assert_int_equal(algo, DML_ALGO_TREE);
    dml_collective_time(&g, DML_COLL_ALLREDUCE, 4e9, &algo);
    assert_int_equal(algo, DML_ALGO_RING);
    dml_coll_group_init(&g, grp, 1024, 8);
    /* A ring across nodes runs at min(NVLink, 8 NICs). */
    double bytes = 4e9;
    double t = dml_collective_time_algo(&g, DML_COLL_ALLREDUCE, bytes,
                                        DML_ALGO_RING);
    double nic = 8 * 25e9 * 0.9;
    assert_true(REL(t, 2.0 * 1023 * 5e-6 + 2.0 * 1023 / 1024 * bytes / nic) <
                1e-12);
    /* One rank per node: each rank's own NIC. */
    dml_coll_group_init(&g, grp, 8, 1);
    t = dml_collective_time_algo(&g, DML_COLL_ALLREDUCE, bytes, DML_ALGO_RING);
    assert_true(REL(t, 14 * 5e-6 + 1.75 * bytes / (25e9 * 0.9)) < 1e-12);
    /* Hierarchical applies only with several ranks on several nodes. */
    assert_true(dml_collective_time_algo(&g, DML_COLL_ALLREDUCE, bytes,
                                         DML_ALGO_HIER) > 1e100);
    dml_coll_group_init(&g, grp, 64, 8);
    assert_true(dml_collective_time_algo(&g, DML_COLL_ALLREDUCE, bytes,
                                         DML_ALGO_HIER) < 1e100);
    /* Alltoall of 8 ranks in a node moves 7/8 over NVLink. */
    dml_coll_group_init(&g, grp, 8, 8);
    t = dml_collective_time(&g, DML_COLL_ALLTOALL, bytes, &algo);
    assert_int_equal(algo, DML_ALGO_DIRECT);
    assert_true(REL(t, 7 * 2e-6 + 7.0 / 8 * bytes / (300e9 * 0.77)) < 1e-12);
    /* One rank: free. */
    dml_coll_group_init(&g, grp, 1, 1);
    assert_true(dml_collective_time(&g, DML_COLL_ALLREDUCE, bytes, &algo) == 0);
    assert_int_equal(algo, DML_ALGO_NONE);
    /* A measured fit wins and is used as alpha + S·factor/busbw. */
    grp->coll[DML_COLL_ALLREDUCE][DML_LINK_INTRA] =
        (dml_coll_fit){true, 2e-5, 2e11};
    dml_coll_group_init(&g, grp, 8, 8);
    t = dml_collective_time(&g, DML_COLL_ALLREDUCE, bytes, &algo);
    assert_int_equal(algo, DML_ALGO_MEASURED);
    assert_true(REL(t, 2e-5 + bytes * 1.75 / 2e11) < 1e-12);
    /* p2p: latency + bytes / effective bandwidth */
    assert_true(REL(dml_p2p_time(&grp->links[DML_LINK_INTER], 1e8),
                    5e-6 + 1e8 / (25e9 * 0.9)) < 1e-12);
    free(c);
}

DML_TEST_MAIN(
    cmocka_unit_test(sc21_eq2_parameter_count),
    cmocka_unit_test(preset_parameter_counts),
    cmocka_unit_test(sc21_eq3_and_korthikanti_eq7_flops),
    cmocka_unit_test(layer_gemms_sum_to_layer_flops),
    cmocka_unit_test(zero_table1_all_cells),
    cmocka_unit_test(korthikanti_table2_activations),
    cmocka_unit_test(pipeline_inflight_and_bubble),
    cmocka_unit_test(gemm_efficiency_curve),
    cmocka_unit_test(collective_busbw_matches_nccl_tests),
    cmocka_unit_test(collective_algorithms))
