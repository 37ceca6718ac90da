/*
 * test_specs.c: model spec, cluster spec and plan readers: every preset
 * loads with its published dimensions, bad files are refused with
 * `file:line:col: field: message`, and plans round-trip through JSON.
 */
#include "tests/support/unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "costmodel/cluster_spec.h"
#include "costmodel/model_spec.h"
#include "costmodel/plan.h"
#include "costmodel/presets.h"

#define FIX DML_FIXTURES "/specs/"

static const char *data_dir(void) { return dml_costmodel_data_dir(NULL); }

/* Load a bad fixture and check the status and a piece of the message. */
static void expect_model_error(const char *file, dml_status want,
                               const char *needle)
{
    dml_model_spec m;
    dml_error err;
    char buf[1200];
    dml_status s = dml_model_spec_read_file(file, &m, &err);
    dml_error_format(&err, buf, sizeof buf);
    if (s != want || !strstr(buf, needle))
        fail_msg("%s: expected status %d with \"%s\", got %d: %s", file,
                 (int)want, needle, (int)s, buf);
}

static void expect_cluster_error(const char *file, const char *needle)
{
    dml_cluster_spec *c = malloc(sizeof *c);
    dml_error err;
    char buf[1200];
    dml_status s = dml_cluster_spec_read_file(file, c, &err);
    dml_error_format(&err, buf, sizeof buf);
    free(c);
    if (s != DML_EINPUT || !strstr(buf, needle))
        fail_msg("%s: expected DML_EINPUT with \"%s\", got %d: %s", file,
                 needle, (int)s, buf);
}

static void expect_plan_error(const char *file, const char *needle)
{
    dml_plan *p = malloc(sizeof *p);
    dml_error err;
    char buf[1200];
    dml_status s = dml_plan_load(file, p, &err);
    dml_error_format(&err, buf, sizeof buf);
    free(p);
    if (s != DML_EINPUT || !strstr(buf, needle))
        fail_msg("%s: expected DML_EINPUT with \"%s\", got %d: %s", file,
                 needle, (int)s, buf);
}

/* Every model preset loads; spot-check published dimensions. */
static void model_presets_load_with_published_dims(void **state)
{
    (void)state;
    char **names = NULL;
    size_t n = 0;
    dml_error err;
    assert_int_equal(dml_model_spec_list(data_dir(), &names, &n, &err), DML_OK);
    assert_true(n >= 15);
    for (size_t i = 0; i < n; i++) {
        dml_model_spec m;
        dml_status s = dml_model_spec_load(names[i], data_dir(), &m, &err);
        if (s != DML_OK) {
            char buf[1200];
            fail_msg("preset %s: %s", names[i],
                     dml_error_format(&err, buf, sizeof buf));
        }
        assert_string_equal(m.name, names[i]);
        assert_true(strlen(m.description) > 20); /* names its source */
    }
    dml_costmodel_list_free(names, n);

    dml_model_spec m;
    /* Brown et al. 2020 Table 2.1: GPT-3 175B has 96 layers, d_model 12288,
     * 96 heads, n_ctx 2048. */
    assert_int_equal(dml_model_spec_load("gpt3-175b", data_dir(), &m, &err),
                     DML_OK);
    assert_int_equal(m.layers, 96);
    assert_int_equal(m.hidden, 12288);
    assert_int_equal(m.heads, 96);
    assert_int_equal(m.ffn_hidden, 4 * 12288);
    assert_int_equal(m.seq_len, 2048);
    assert_int_equal(m.vocab, 50257);
    /* Llama 2 70B (Touvron et al. 2023): GQA with 8 kv heads, FFN 28672. */
    assert_int_equal(dml_model_spec_load("llama2-70b", data_dir(), &m, &err),
                     DML_OK);
    assert_int_equal(m.kv_heads, 8);
    assert_int_equal(m.heads, 64);
    assert_int_equal(m.ffn_hidden, 28672);
    assert_int_equal(m.activation, DML_ACT_SWIGLU);
    assert_int_equal(m.vocab, 32000);
    /* Llama 3 405B (Llama 3 Herd of Models 2024, Table 3). */
    assert_int_equal(dml_model_spec_load("llama3-405b", data_dir(), &m, &err),
                     DML_OK);
    assert_int_equal(m.layers, 126);
    assert_int_equal(m.hidden, 16384);
    assert_int_equal(m.ffn_hidden, 53248);
    assert_int_equal(m.vocab, 128256);
    assert_int_equal(m.seq_len, 8192);
    /* The executor's MLP: 784 -> 256 -> 256 -> 10, three linear layers. */
    assert_int_equal(dml_model_spec_load("mlp-fmnist", data_dir(), &m, &err),
                     DML_OK);
    assert_int_equal(m.type, DML_MODEL_MLP);
    assert_int_equal(m.layers, 3);
    assert_int_equal(m.hidden_count, 2);
    assert_int_equal(m.dtype, DML_DTYPE_FP32);
    int64_t in = 0, out = 0;
    dml_model_spec_mlp_layer(&m, 2, &in, &out);
    assert_int_equal(in, 256);
    assert_int_equal(out, 10);
}

static void model_defaults_and_unknown_preset(void **state)
{
    (void)state;
    dml_model_spec m;
    dml_error err;
    assert_int_equal(dml_model_spec_read_file(FIX "model-gqa.json", &m, &err),
                     DML_OK);
    assert_int_equal(m.ffn_hidden, 4 * 512); /* default 4h */
    assert_int_equal(m.kv_heads, 2);
    assert_int_equal(m.moe_experts, 8);
    assert_int_equal(m.moe_top_k, 2);
    assert_int_equal(m.dtype, DML_DTYPE_BF16);
    assert_false(m.tied_embeddings);
    assert_int_equal(dml_model_spec_load("no-such-model", data_dir(), &m, &err),
                     DML_ENOTFOUND);
    assert_non_null(strstr(err.msg, "no-such-model"));
    assert_int_equal(dml_model_spec_load("../etc/passwd", data_dir(), &m, &err),
                     DML_EINPUT);
}

static void bad_model_specs_are_refused_with_positions(void **state)
{
    (void)state;
    expect_model_error(FIX "model-unknown-key.json", DML_EINPUT,
                       "model-unknown-key.json:9:3: hiden_size: unknown field");
    expect_model_error(FIX "model-wrong-type.json", DML_EINPUT,
                       "model-wrong-type.json:4:13: layers: expected an "
                       "integer, found a string");
    expect_model_error(FIX "model-zero-layers.json", DML_EINPUT,
                       "model-zero-layers.json:4:13: layers: 0 is out of "
                       "range");
    expect_model_error(FIX "model-negative-hidden.json", DML_EINPUT,
                       ":5:13: hidden: -256 is out of range");
    expect_model_error(FIX "model-heads-not-dividing.json", DML_EINPUT,
                       ":6:12: heads: 3 heads do not divide hidden 1000");
    expect_model_error(FIX "model-kv-not-dividing.json", DML_EINPUT,
                       ":7:15: kv_heads: 3 kv_heads do not divide heads 8");
    expect_model_error(FIX "model-huge.json", DML_EINPUT,
                       ":5:13: hidden: 100000000 is out of range");
    expect_model_error(FIX "model-huge-layers.json", DML_EINPUT,
                       "layers: 5000000 is out of range");
    expect_model_error(FIX "model-truncated.json", DML_EINPUT,
                       "model-truncated.json:5:");
    expect_model_error(FIX "model-truncated.json", DML_EINPUT, "invalid JSON");
    expect_model_error(FIX "model-duplicate-key.json", DML_EINPUT,
                       "model-duplicate-key.json:6:");
    expect_model_error(FIX "model-duplicate-key.json", DML_EINPUT, "duplicate");
    expect_model_error(FIX "model-mlp-bad-width.json", DML_EINPUT,
                       ":5:19: hidden[1]: 0 is out of range");
    expect_model_error(FIX "does-not-exist.json", DML_EINPUT, "cannot open");
}

static void model_round_trips_through_json(void **state)
{
    (void)state;
    dml_model_spec a, b;
    dml_error err;
    const char *names[] = {"llama3-70b", "mlp-fmnist", "bert-large"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(dml_model_spec_load(names[i], data_dir(), &a, &err),
                         DML_OK);
        json_t *j = dml_model_spec_to_json(&a);
        assert_non_null(j);
        assert_int_equal(dml_model_spec_from_json(j, "mem", &b, &err), DML_OK);
        json_decref(j);
        assert_memory_equal(&a, &b, sizeof a);
    }
    /* Errors in a tree point into its serialisation. */
    json_t *bad = json_pack("{s:s, s:s, s:i}", "type", "mlp", "name", "x",
                            "input", 0);
    assert_int_equal(dml_model_spec_from_json(bad, "tree", &b, &err),
                     DML_EINPUT);
    json_decref(bad);
    assert_string_equal(err.file, "tree");
    assert_true(err.line > 0);
}

/* What a run of the model needs beyond its cost (issue 12's exports): the
 * RoPE base (Llama 3's config.json rope_theta 500000, Llama 2's 10000,
 * 10000 by default for a rotary spec that names none; none without
 * rotary positions) and the dropout (0.1 by default, 0 for Llama). */
static void model_rope_theta_and_dropout(void **state)
{
    (void)state;
    dml_model_spec m;
    dml_error err;
    struct {
        const char *name;
        double theta, dropout;
    } presets[] = {{"llama3-405b", 500000, 0}, {"llama3-8b", 500000, 0},
                   {"llama2-70b", 10000, 0}, {"gpt3-175b", 0, 0.1},
                   {"bert-large", 0, 0.1}};
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        assert_int_equal(dml_model_spec_load(presets[i].name, data_dir(), &m,
                                             &err),
                         DML_OK);
        if (m.rope_theta != presets[i].theta ||
            m.dropout != presets[i].dropout)
            fail_msg("%s: rope_theta %g dropout %g", presets[i].name,
                     m.rope_theta, m.dropout);
    }
    json_t *j = json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:s}", "type",
                          "transformer", "name", "x", "layers", 2, "hidden",
                          64, "heads", 4, "seq_len", 16, "vocab", 100,
                          "position_embedding", "rotary");
    assert_int_equal(dml_model_spec_from_json(j, "tree", &m, &err), DML_OK);
    assert_true(m.rope_theta == 10000 && m.dropout == 0.1);
    json_object_set_new(j, "position_embedding", json_string("learned"));
    json_object_set_new(j, "rope_theta", json_real(500000));
    assert_int_equal(dml_model_spec_from_json(j, "tree", &m, &err),
                     DML_EINPUT);
    assert_string_equal(err.field, "rope_theta");
    assert_non_null(strstr(err.msg, "rotary"));
    json_object_del(j, "rope_theta");
    json_object_set_new(j, "dropout", json_real(1.0));
    assert_int_equal(dml_model_spec_from_json(j, "tree", &m, &err),
                     DML_EINPUT);
    assert_string_equal(err.field, "dropout");
    json_decref(j);
}

/* The three cluster presets load and carry the dev_set.md figures. */
static void cluster_presets_load(void **state)
{
    (void)state;
    char **names = NULL;
    size_t n = 0;
    dml_error err;
    assert_int_equal(dml_cluster_spec_list(data_dir(), &names, &n, &err),
                     DML_OK);
    assert_true(n >= 3);
    dml_cluster_spec *c = malloc(sizeof *c);
    for (size_t i = 0; i < n; i++) {
        dml_status s = dml_cluster_spec_load(names[i], data_dir(), c, &err);
        if (s != DML_OK) {
            char buf[1200];
            fail_msg("preset %s: %s", names[i],
                     dml_error_format(&err, buf, sizeof buf));
        }
        assert_int_equal(strlen(c->fingerprint), 16);
    }
    dml_costmodel_list_free(names, n);
    /* NVIDIA A100 datasheet via dev_set.md: 312 TFLOP/s bf16, 2039 GB/s,
     * 8 GPUs per node, 25 GB/s HDR NIC per GPU. */
    assert_int_equal(dml_cluster_spec_load("dgx-a100-80g", data_dir(), c, &err),
                     DML_OK);
    assert_int_equal(c->group_count, 1);
    const dml_node_group *g = &c->groups[0];
    assert_true(g->device.peak_flops[DML_DTYPE_BF16] == 312e12);
    assert_true(g->device.mem_bw_Bps == 2.039e12);
    assert_int_equal(g->devices_per_node, 8);
    assert_true(g->links[DML_LINK_INTER].bw_Bps == 25e9);
    assert_true(g->links[DML_LINK_INTRA].present);
    /* H100: 989 TFLOP/s dense bf16, 3350 GB/s. */
    assert_int_equal(dml_cluster_spec_load("dgx-h100", data_dir(), c, &err),
                     DML_OK);
    assert_true(c->groups[0].device.peak_flops[DML_DTYPE_BF16] == 989e12);
    assert_true(c->groups[0].device.mem_bw_Bps == 3.35e12);
    assert_int_equal(dml_cluster_spec_load("cpu-node", data_dir(), c, &err),
                     DML_OK);
    assert_int_equal(c->groups[0].device.type, DML_DEVICE_CPU);
    assert_int_equal(dml_cluster_spec_load("nope", data_dir(), c, &err),
                     DML_ENOTFOUND);
    free(c);
}

static void cluster_scaling_round_trip_and_fingerprint(void **state)
{
    (void)state;
    dml_cluster_spec *c = malloc(sizeof *c), *d = malloc(sizeof *d);
    dml_error err;
    assert_int_equal(dml_cluster_spec_load("dgx-a100-80g", data_dir(), c, &err),
                     DML_OK);
    char fp[DML_FINGERPRINT_MAX];
    snprintf(fp, sizeof fp, "%s", c->fingerprint);
    assert_int_equal(dml_cluster_spec_scale_nodes(c, 128, &err), DML_OK);
    assert_int_equal(dml_cluster_spec_devices(c), 1024);
    assert_int_equal(dml_cluster_spec_nodes(c), 128);
    char fp2[DML_FINGERPRINT_MAX];
    dml_cluster_spec_fingerprint(c, fp2);
    assert_string_equal(fp, fp2); /* node count is not hardware identity */
    assert_int_equal(dml_cluster_spec_scale_nodes(c, 0, &err), DML_EINPUT);

    json_t *j = dml_cluster_spec_to_json(c);
    assert_non_null(j);
    assert_int_equal(dml_cluster_spec_from_json(j, "mem", d, &err), DML_OK);
    json_decref(j);
    assert_int_equal(d->groups[0].nodes, 128);
    assert_true(d->groups[0].device.peak_flops[DML_DTYPE_BF16] == 312e12);
    assert_int_equal(d->groups[0].device.gemm_count,
                     c->groups[0].device.gemm_count);
    assert_string_equal(d->fingerprint, c->fingerprint);

    /* A different device changes the fingerprint. */
    d->groups[0].device.mem_bytes = 40e9;
    dml_cluster_spec_fingerprint(d, fp2);
    assert_string_not_equal(fp, fp2);

    /* A one-node cluster without an inter-node link cannot be scaled. */
    assert_int_equal(dml_cluster_spec_load("dgx-h100", data_dir(), d, &err),
                     DML_OK);
    d->groups[0].links[DML_LINK_INTER].present = false;
    assert_int_equal(dml_cluster_spec_validate(d, &err), DML_OK);
    assert_int_equal(dml_cluster_spec_scale_nodes(d, 2, &err), DML_EINPUT);
    assert_non_null(strstr(err.msg, "inter_node"));
    free(c);
    free(d);
}

static void bad_cluster_specs_are_refused_with_positions(void **state)
{
    (void)state;
    expect_cluster_error(FIX "cluster-unknown-key.json",
                         ":8:56: node_groups[0].device.gpus: unknown field");
    expect_cluster_error(FIX "cluster-zero-nodes.json",
                         ":5:16: node_groups[0].nodes: 0 is out of range");
    expect_cluster_error(FIX "cluster-bad-efficiency.json",
                         ":10:46: node_groups[0].links.intra_node.efficiency: "
                         "1.5 is out of range");
    expect_cluster_error(FIX "cluster-missing-inter.json",
                         "node_groups[0].links: inter_node is required");
    expect_cluster_error(FIX "cluster-no-peak.json",
                         ":7:47: node_groups[0].device.peak_flops: needs at "
                         "least one");
}

/* A plan fixture that must load; fails the test with its error. */
static dml_plan *load_plan(const char *file)
{
    dml_plan *p = malloc(sizeof *p);
    dml_error err;
    char buf[1200];
    if (dml_plan_load(file, p, &err) != DML_OK)
        fail_msg("%s", dml_error_format(&err, buf, sizeof buf));
    return p;
}

static void plan_reads_validates_and_round_trips(void **state)
{
    (void)state;
    dml_plan *p = load_plan(FIX "plan-mlp-dp2.json"), *q = malloc(sizeof *q);
    dml_error err;
    char buf[1200];
    dml_status s;
    assert_int_equal(p->par.dp, 2);
    assert_int_equal(p->par.pp, 2);
    assert_int_equal(p->par.zero, 1);
    assert_int_equal(p->stage_count, 2);
    assert_int_equal(p->stages[1].first_layer, 2);
    assert_int_equal(p->sched.global_batch, 256);
    assert_int_equal(p->sched.ramp_count, 1);
    assert_int_equal(dml_plan_global_batch_at(p, 0), 64);
    assert_int_equal(dml_plan_global_batch_at(p, 5), 256);
    assert_true(p->pred.present);
    assert_true(p->pred.step_s == 0.012);
    assert_string_equal(p->cluster_fingerprint, "0123abcd");

    /* Rank order tp fastest, then pp, then dp (docs/formats.md). */
    int dpi, ppi, tpi;
    assert_int_equal(dml_plan_rank_coords(p, 3, &dpi, &ppi, &tpi), DML_OK);
    assert_int_equal(dpi, 1);
    assert_int_equal(ppi, 1);
    assert_int_equal(tpi, 0);
    assert_int_equal(dml_plan_rank_of(p, 1, 1, 0), 3);
    assert_int_equal(dml_plan_rank_coords(p, 4, &dpi, &ppi, &tpi), DML_ERANGE);
    assert_int_equal(dml_plan_stage_of_layer(p, 1), 0);
    assert_int_equal(dml_plan_stage_of_layer(p, 2), 1);
    assert_int_equal(dml_plan_stage_of_layer(p, 3), -1);

    json_t *j = dml_plan_to_json(p);
    assert_non_null(j);
    s = dml_plan_from_json(j, "mem", q, &err);
    json_decref(j);
    if (s != DML_OK)
        fail_msg("%s", dml_error_format(&err, buf, sizeof buf));
    assert_memory_equal(&p->model, &q->model, sizeof p->model);
    assert_memory_equal(&p->par, &q->par, sizeof p->par);
    assert_memory_equal(&p->sched, &q->sched, sizeof p->sched);
    assert_memory_equal(p->stages, q->stages, sizeof p->stages);
    assert_true(q->pred.time.pp_comm_s == 0.001);
    assert_int_equal(p->db_plan_id, 0); /* the fixture has none */
    assert_int_equal(q->db_plan_id, 0);

    /* The database id dml-plan adds survives a round trip; a plan written
     * without one has no "db_plan_id" key at all. */
    j = dml_plan_to_json(p);
    assert_null(json_object_get(j, "db_plan_id"));
    json_decref(j);
    p->db_plan_id = 42;
    j = dml_plan_to_json(p);
    assert_int_equal(json_integer_value(json_object_get(j, "db_plan_id")), 42);
    s = dml_plan_from_json(j, "mem", q, &err);
    if (s != DML_OK)
        fail_msg("%s", dml_error_format(&err, buf, sizeof buf));
    assert_int_equal(q->db_plan_id, 42);
    /* An id must be a positive integer. */
    json_object_set_new(j, "db_plan_id", json_integer(0));
    assert_int_equal(dml_plan_from_json(j, "mem", q, &err), DML_EINPUT);
    assert_non_null(strstr(err.field, "db_plan_id"));
    json_decref(j);
    free(p);
    free(q);
}

/* Issue 18: parallel.mode and the federated section, read, round-tripped,
 * and each malformed value refused naming its field. */
static void federated_plan_reads_and_refuses_bad_values(void **state)
{
    (void)state;
    dml_plan *p = load_plan(FIX "plan-fed.json"), *q = malloc(sizeof *q);
    dml_error err;
    char buf[1200];
    assert_int_equal(p->par.mode, DML_MODE_FEDERATED);
    assert_int_equal(p->fed.clients, 50);
    assert_true(p->fed.sample == 0.2 && p->fed.epochs == 2);
    assert_int_equal(p->fed.split.kind, DML_FED_SPLIT_CLASSES);
    assert_int_equal(p->fed.split.classes_per_client, 2);
    assert_true(p->fed.secagg && p->fed.partial && p->fed.prox == 0.01);
    /* 600 samples, E 2, B 10: 120 local steps; "batch" epochs: one. */
    assert_int_equal(dml_fed_local_steps(&p->fed, 600), 120);
    json_t *j = dml_plan_to_json(p);
    if (dml_plan_from_json(j, "mem", q, &err) != DML_OK)
        fail_msg("%s", dml_error_format(&err, buf, sizeof buf));
    assert_true(dml_fed_spec_equal(&p->fed, &q->fed));
    assert_true(dml_parallel_config_equal(&p->par, &q->par));
    struct {
        const char *key;
        json_t *value;
    } bad[] = {
        {"clients", json_integer(0)},     {"sample", json_real(1.5)},
        {"epochs", json_string("many")},  {"split", json_string("classes:0")},
        {"split", json_string("-0.1")},   {"prox", json_real(-1)},
        {"stragglers", json_real(1)},     {"straggler_work", json_string("x")},
        {"secagg", json_integer(2)},      {"rounds", json_integer(3)},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *k = json_deep_copy(j);
        json_object_set_new(json_object_get(k, "federated"), bad[i].key,
                            bad[i].value);
        assert_int_equal(dml_plan_from_json(k, "mem", q, &err), DML_EINPUT);
        if (!strstr(err.field, bad[i].key))
            fail_msg("federated.%s: the error names '%s'", bad[i].key,
                     err.field);
        json_decref(k);
    }
    /* The epochs of FedSGD: one batch. */
    json_object_set_new(json_object_get(j, "federated"), "epochs",
                        json_string("batch"));
    assert_int_equal(dml_plan_from_json(j, "mem", q, &err), DML_OK);
    assert_int_equal(dml_fed_local_steps(&q->fed, 600), 1);
    /* A federated section without the mode; a federated plan with tp. */
    json_object_set_new(json_object_get(j, "parallel"), "mode",
                        json_string("sync"));
    assert_int_equal(dml_plan_from_json(j, "mem", q, &err), DML_EINPUT);
    assert_non_null(strstr(err.field, "federated"));
    json_object_set_new(json_object_get(j, "parallel"), "mode",
                        json_string("gossipy"));
    assert_int_equal(dml_plan_from_json(j, "mem", q, &err), DML_EINPUT);
    assert_non_null(strstr(err.field, "mode"));
    json_decref(j);
    free(p);
    free(q);
}

static void plan_with_tp_pp_coords_and_split(void **state)
{
    (void)state;
    dml_plan *p = malloc(sizeof *p);
    dml_error err;
    dml_plan_init(p);
    assert_int_equal(dml_model_spec_load("gpt3-175b", data_dir(), &p->model,
                                         &err),
                     DML_OK);
    snprintf(p->cluster_name, sizeof p->cluster_name, "dgx-a100-80g");
    p->par.tp = 8;
    p->par.pp = 8;
    p->par.dp = 4;
    p->par.v = 3;
    p->par.schedule = DML_PP_INTERLEAVED;
    p->par.microbatches = 16;
    p->par.sp = true;
    p->devices = 256;
    p->sched.global_batch = 64;
    assert_int_equal(dml_plan_split_stages(p, &err), DML_OK);
    assert_int_equal(p->stage_count, 24);
    assert_int_equal(p->stages[23].last_layer, 95);
    assert_int_equal(dml_plan_validate(p, &err), DML_OK);
    /* rank = dp_i*pp*tp + pp_i*tp + tp_i */
    int dpi, ppi, tpi;
    assert_int_equal(dml_plan_rank_coords(p, 2 * 64 + 5 * 8 + 3, &dpi, &ppi,
                                          &tpi),
                     DML_OK);
    assert_int_equal(dpi, 2);
    assert_int_equal(ppi, 5);
    assert_int_equal(tpi, 3);

    p->par.microbatches = 12; /* not a multiple of pp for interleaving */
    p->sched.global_batch = 48;
    assert_int_equal(dml_plan_validate(p, &err), DML_EINPUT);
    assert_string_equal(err.field, "parallel.microbatches");
    p->par.microbatches = 16;
    p->sched.global_batch = 64;
    p->par.tp = 5; /* does not divide 96 heads */
    p->devices = 160;
    assert_int_equal(dml_plan_validate(p, &err), DML_EINPUT);
    assert_string_equal(err.field, "parallel.tp");
    /* More stages than layers. */
    p->par.tp = 8;
    p->par.pp = 64;
    p->par.v = 2;
    assert_int_equal(dml_plan_split_stages(p, &err), DML_EINPUT);
    free(p);
}

/* Llama 3 405B's 126 layers on pp 16 (Dubey et al. 2024, 3.3.2: one layer
 * fewer on the first and the last stage): 128 chunk places with v = 4, the
 * embedding and the loss taking one each; a split neither even nor that
 * is refused; v = 1 keeps the extra layers on the first stages. */
static void interleaved_chunks_count_embedding_and_loss(void **state)
{
    (void)state;
    assert_int_equal(dml_plan_stage_split(126, 16, 4), DML_SPLIT_EMBED_LOSS);
    assert_int_equal(dml_plan_stage_split(126, 16, 8), DML_SPLIT_NONE);
    assert_int_equal(dml_plan_stage_split(126, 16, 1), DML_SPLIT_EVEN);
    assert_int_equal(dml_plan_stage_split(96, 8, 3), DML_SPLIT_EVEN);
    assert_int_equal(dml_plan_stage_split(96, 8, 5), DML_SPLIT_NONE);
    int64_t sum = 0, rank0 = 0, rank15 = 0, rank7 = 0;
    for (int64_t i = 0; i < 64; i++) {
        int64_t n = dml_plan_chunk_layers(126, 16, 4, i);
        assert_int_equal(n, i == 0 || i == 63 ? 1 : 2);
        sum += n;
        rank0 += i % 16 == 0 ? n : 0;
        rank7 += i % 16 == 7 ? n : 0;
        rank15 += i % 16 == 15 ? n : 0;
    }
    assert_int_equal(sum, 126);
    assert_int_equal(rank0, 7); /* and the embedding */
    assert_int_equal(rank7, 8);
    assert_int_equal(rank15, 7); /* and the head and loss */
    assert_int_equal(dml_plan_chunk_layers(126, 16, 1, 0), 8);
    assert_int_equal(dml_plan_chunk_layers(126, 16, 1, 15), 7);

    dml_plan *p = malloc(sizeof *p);
    assert_non_null(p);
    dml_error err;
    dml_plan_init(p);
    assert_int_equal(dml_model_spec_load("llama3-405b", data_dir(), &p->model,
                                         &err),
                     DML_OK);
    p->par.pp = 16;
    p->par.v = 4;
    assert_int_equal(dml_plan_split_stages(p, &err), DML_OK);
    assert_int_equal(p->stage_count, 64);
    assert_int_equal(p->stages[0].last_layer, 0);
    assert_int_equal(p->stages[1].first_layer, 1);
    assert_int_equal(p->stages[63].first_layer, 125);
    assert_int_equal(p->stages[63].last_layer, 125);
    p->par.v = 5; /* 80 chunks: neither 126 nor 128 divides */
    assert_int_equal(dml_plan_split_stages(p, &err), DML_EINPUT);
    assert_string_equal(err.field, "parallel.v");
    free(p);
}

static void bad_plans_are_refused_with_positions(void **state)
{
    (void)state;
    expect_plan_error(FIX "plan-bad-stages.json",
                      "placement.stages[1]: first_layer 2, expected 1");
    expect_plan_error(FIX "plan-bad-batch.json",
                      "schedule.global_batch: 200 but dp x mbs x "
                      "microbatches = 2 x 32 x 4 = 256");
    expect_plan_error(FIX "plan-bad-devices.json",
                      "cluster.devices: 8 devices but dp x tp x pp");
    expect_plan_error(FIX "plan-bad-model.json",
                      "model.hidden[1]: expected a number, found a string");
    /* Positions point into the plan file. */
    dml_plan *p = malloc(sizeof *p);
    dml_error err;
    assert_int_equal(dml_plan_load(FIX "plan-bad-batch.json", p, &err),
                     DML_EINPUT);
    assert_true(err.line > 1);
    assert_true(err.col > 1);
    free(p);
}

/* A one-device CPU node (dml-probe without mpirun) cut into ranks: the
 * shares add up to the node, and ranks get a shared-memory link. */
static void cpu_device_cut_into_ranks(void **state)
{
    (void)state;
    dml_cluster_spec c, cut;
    dml_cluster_spec_init(&c);
    c.group_count = 1;
    dml_node_group *g = &c.groups[0];
    dml_node_group_init(g);
    g->device.type = DML_DEVICE_CPU;
    g->device.cores = 4;
    g->device.peak_flops[DML_DTYPE_FP32] = 160e9;
    g->device.mem_bytes = 16e9;
    g->device.mem_bw_Bps = 40e9;
    dml_cluster_spec_cut_devices(&c, 2, &cut);
    const dml_node_group *h = &cut.groups[0];
    assert_int_equal(h->devices_per_node, 2);
    assert_int_equal(h->device.cores, 2);
    assert_true(h->device.peak_flops[DML_DTYPE_FP32] == 80e9);
    assert_true(h->device.mem_bytes == 8e9);
    assert_true(h->device.mem_bw_Bps == 20e9);
    /* ranks of one node talk through memory: half the node's bandwidth */
    assert_true(h->links[DML_LINK_INTRA].present);
    assert_true(h->links[DML_LINK_INTRA].bw_Bps == 20e9);
    assert_int_equal(dml_cluster_spec_devices(&cut), 2);
    /* k = 1 leaves the spec as it is */
    dml_cluster_spec_cut_devices(&c, 1, &cut);
    assert_int_equal(cut.groups[0].devices_per_node, 1);
    assert_false(cut.groups[0].links[DML_LINK_INTRA].present);
}

DML_TEST_MAIN(
    cmocka_unit_test(model_presets_load_with_published_dims),
    cmocka_unit_test(model_defaults_and_unknown_preset),
    cmocka_unit_test(bad_model_specs_are_refused_with_positions),
    cmocka_unit_test(model_round_trips_through_json),
    cmocka_unit_test(model_rope_theta_and_dropout),
    cmocka_unit_test(cluster_presets_load),
    cmocka_unit_test(cluster_scaling_round_trip_and_fingerprint),
    cmocka_unit_test(bad_cluster_specs_are_refused_with_positions),
    cmocka_unit_test(plan_reads_validates_and_round_trips),
    cmocka_unit_test(federated_plan_reads_and_refuses_bad_values),
    cmocka_unit_test(plan_with_tp_pp_coords_and_split),
    cmocka_unit_test(interleaved_chunks_count_embedding_and_loss),
    cmocka_unit_test(bad_plans_are_refused_with_positions),
    cmocka_unit_test(cpu_device_cut_into_ranks))
