/*
 * test_space.c: --config text and the rules of the search space: each
 * rule rejects what it should with the reason it names, and admits the
 * configurations it should.
 */
#include "tests/support/unit.h"

#include <stdio.h>
#include <string.h>

#include "costmodel/model_spec.h"
#include "planner/config.h"
#include "planner/space.h"
#include "tests/support/test_support.h"

static void load_model(const char *name, dml_model_spec *m)
{
    dml_error err;
    if (dml_model_spec_load(name, NULL, m, &err) != DML_OK)
        fail_msg("loading %s: %s", name, err.msg);
}

static void expect_parse_error(const char *text, const char *message)
{
    dml_planner_config c;
    dml_error err;
    dml_error_clear(&err);
    assert_int_equal(dml_planner_config_parse(text, "--config", &c, &err),
                     DML_EUSAGE);
    if (!strstr(err.msg, message))
        fail_msg("parsing \"%s\": expected \"%s\" in \"%s\"", text, message,
                 err.msg);
}

static void config_parses_every_knob(void **state)
{
    (void)state;
    dml_planner_config c;
    dml_error err;
    assert_int_equal(dml_planner_config_parse(
                         "dp=16, tp=8,pp=8,v=3,mbs=2,zero=1,"
                         "recompute=selective,sp=1,schedule=interleaved,"
                         "attn=flash",
                         "--config", &c, &err),
                     DML_OK);
    assert_int_equal(c.par.dp, 16);
    assert_int_equal(c.par.tp, 8);
    assert_int_equal(c.par.pp, 8);
    assert_int_equal(c.par.v, 3);
    assert_int_equal(c.par.mbs, 2);
    assert_int_equal(c.par.zero, 1);
    assert_int_equal(c.par.recompute, DML_RECOMPUTE_SELECTIVE);
    assert_true(c.par.sp);
    assert_int_equal(c.par.schedule, DML_PP_INTERLEAVED);
    assert_int_equal(c.par.attention, DML_ATTN_FLASH);
    for (int k = 0; k < DML_KNOB_THREADS; k++)
        assert_true(dml_planner_config_has(&c, (dml_knob)k));
    assert_false(dml_planner_config_has(&c, DML_KNOB_THREADS));

    /* Formatting and parsing again gives the same configuration. */
    char text[256];
    dml_planner_config_format(&c.par, DML_MODEL_TRANSFORMER, text,
                              sizeof text);
    assert_string_equal(text, "dp=16,tp=8,pp=8,v=3,mbs=2,zero=1,"
                              "recompute=selective,sp=1,schedule=interleaved,"
                              "attn=flash");
    dml_planner_config d;
    assert_int_equal(dml_planner_config_parse(text, "--config", &d, &err),
                     DML_OK);
    assert_memory_equal(&c.par, &d.par, sizeof c.par);
    /* An MLP has no attention: its configurations do not name one. */
    c.par.attention = DML_ATTN_MATERIALIZED;
    dml_planner_config_format(&c.par, DML_MODEL_MLP, text, sizeof text);
    assert_null(strstr(text, "attn"));
    dml_planner_config_format(&c.par, DML_MODEL_TRANSFORMER, text,
                              sizeof text);
    assert_non_null(strstr(text, ",attn=materialized"));

    /* A subset fixes only those knobs. */
    assert_int_equal(dml_planner_config_parse("tp=4,pp=8", "--why-not", &d,
                                              &err),
                     DML_OK);
    assert_true(dml_planner_config_has(&d, DML_KNOB_TP));
    assert_false(dml_planner_config_has(&d, DML_KNOB_DP));
    dml_planner_config_format_fixed(&d, text, sizeof text);
    assert_string_equal(text, "tp=4,pp=8");

    /* gossip: graph=G is sync gossip:G in mode gossip, fixed; mode=gossip
     * alone leaves the graph to the search; CHOCO says its graph in sync */
    assert_int_equal(dml_planner_config_parse("dp=8,graph=onepeer-exp",
                                              "--config", &d, &err),
                     DML_OK);
    assert_true(dml_planner_config_has(&d, DML_KNOB_SYNC));
    assert_int_equal(d.par.mode, DML_MODE_GOSSIP);
    assert_int_equal(d.par.sync.kind, DML_SYNC_GOSSIP);
    assert_int_equal(d.par.sync.graph.kind, DML_GRAPH_ONEPEER_EXP);
    dml_planner_config_format(&d.par, DML_MODEL_MLP, text, sizeof text);
    assert_non_null(strstr(text, ",mode=gossip,graph=onepeer-exp"));
    assert_null(strstr(text, "sync="));
    assert_int_equal(dml_planner_config_parse(text, "--config", &c, &err),
                     DML_OK);
    assert_memory_equal(&c.par, &d.par, sizeof c.par);
    dml_planner_config_format_fixed(&d, text, sizeof text);
    assert_string_equal(text, "dp=8,graph=onepeer-exp");
    assert_int_equal(dml_planner_config_parse("mode=gossip", "--config", &d,
                                              &err),
                     DML_OK);
    assert_false(dml_planner_config_has(&d, DML_KNOB_SYNC));
    assert_int_equal(dml_planner_config_parse("sync=gossip:ring:topk:0.1",
                                              "--config", &d, &err),
                     DML_OK);
    assert_int_equal(d.par.mode, DML_MODE_GOSSIP);
    dml_planner_config_format(&d.par, DML_MODEL_MLP, text, sizeof text);
    assert_non_null(strstr(text, "sync=gossip:ring:topk:0.1,mode=gossip"));

    /* federated: the user's knobs over dml_fed_spec_init's defaults;
     * tp, pp, zero and sync fixed with the mode; said back in order */
    assert_int_equal(dml_planner_config_parse("mode=federated,clients=20,"
                                              "alpha=0.1,secagg=1",
                                              "--config", &d, &err),
                     DML_OK);
    assert_int_equal(d.par.mode, DML_MODE_FEDERATED);
    assert_int_equal(d.fed.clients, 20);
    assert_true(d.fed.sample == 0.1 && d.fed.epochs == 5 &&
                d.fed.batch == 10 && d.fed.prox == 0);
    assert_int_equal(d.fed.split.kind, DML_FED_SPLIT_DIRICHLET);
    assert_true(d.fed.split.alpha == 0.1);
    assert_true(d.fed.secagg);
    assert_true(dml_planner_config_has(&d, DML_KNOB_TP) &&
                dml_planner_config_has(&d, DML_KNOB_PP) &&
                dml_planner_config_has(&d, DML_KNOB_ZERO) &&
                dml_planner_config_has(&d, DML_KNOB_SYNC));
    assert_false(dml_planner_config_has(&d, DML_KNOB_DP));
    dml_planner_config_format_fixed(&d, text, sizeof text);
    assert_string_equal(text, "tp=1,pp=1,zero=0,sync=allreduce,"
                              "mode=federated,clients=20,sample=0.1,"
                              "epochs=5,alpha=0.1,prox=0,"
                              "secagg=1");
    assert_int_equal(dml_planner_config_parse(text, "--config", &c, &err),
                     DML_OK);
    assert_true(dml_fed_spec_equal(&c.fed, &d.fed));
    assert_int_equal(dml_planner_config_parse("mode=federated,epochs=batch,"
                                              "alpha=classes:2,prox=0.01,"
                                              "sample=1,tp=1",
                                              "--config", &d, &err),
                     DML_OK);
    assert_true(d.fed.epochs == 0 && d.fed.sample == 1 &&
                d.fed.prox == 0.01 && !d.fed.secagg);
    assert_int_equal(d.fed.split.classes_per_client, 2);
}

static void config_errors_name_the_item(void **state)
{
    (void)state;
    /* The exact line the issue asks for. */
    dml_planner_config c;
    dml_error err;
    assert_int_equal(dml_planner_config_parse("tp=three", "--config", &c,
                                              &err),
                     DML_EUSAGE);
    assert_string_equal(err.msg,
                        "--config: \"tp=three\": tp must be a positive "
                        "integer (at most 1000000)");
    expect_parse_error("tp=0", "\"tp=0\": tp must be a positive integer");
    expect_parse_error("tp=-2", "tp must be a positive integer");
    expect_parse_error("mbs=1.5", "\"mbs=1.5\": mbs must be a positive");
    expect_parse_error("zero=4", "zero must be 0, 1, 2 or 3");
    expect_parse_error("recompute=some",
                       "recompute must be none, selective or full");
    expect_parse_error("sp=2", "sp must be 0 or 1");
    expect_parse_error("schedule=zigzag",
                       "schedule must be 1f1b, gpipe or interleaved");
    expect_parse_error("attn=fast", "\"attn=fast\": attn must be flash or "
                                    "materialized");
    expect_parse_error("ep=2", "unknown knob \"ep\"");
    expect_parse_error("tp=2,tp=4", "\"tp=4\": tp is given twice");
    expect_parse_error("tp", "\"tp\": expected knob=value");
    expect_parse_error("tp=", "tp needs a value");
    expect_parse_error("", "empty configuration");
    expect_parse_error("tp=2,,pp=2", "empty item");
    expect_parse_error("mode=star", "mode must be sync, federated or "
                                    "gossip");
    /* federated: its knobs need the mode, the mode takes whole clients
     * on each rank, every value is checked and named */
    expect_parse_error("clients=10", "clients= is a federated knob");
    expect_parse_error("mode=gossip,secagg=1", "secagg= is a federated "
                                               "knob");
    expect_parse_error("mode=federated,tp=2", "not that tp=");
    expect_parse_error("mode=federated,zero=1", "not that zero=");
    expect_parse_error("mode=federated,sync=topk:0.01", "not that sync=");
    expect_parse_error("mode=federated,graph=ring", "mode=federated does "
                                                    "not take a gossip");
    expect_parse_error("mode=federated,sync=gossip:ring", "mode=federated "
                                                          "does not take");
    expect_parse_error("mode=federated,clients=0", "clients must be an "
                                                   "integer");
    expect_parse_error("mode=federated,clients=2x", "clients must be");
    expect_parse_error("mode=federated,sample=0", "sample must be a "
                                                  "fraction");
    expect_parse_error("mode=federated,sample=1.5", "sample must be");
    expect_parse_error("mode=federated,epochs=-1", "epochs must be");
    expect_parse_error("mode=federated,alpha=0", "alpha: '0' is not iid");
    expect_parse_error("mode=federated,alpha=classes:0", "classes:K needs");
    expect_parse_error("mode=federated,prox=-0.1", "prox must be");
    expect_parse_error("mode=federated,prox=nan", "prox must be");
    expect_parse_error("mode=federated,secagg=yes", "secagg must be 0 or 1");
    expect_parse_error("mode=federated,clients=5,clients=6",
                       "clients is given twice");
    expect_parse_error("graph=star", "graph: not a graph");
    expect_parse_error("graph=ring,sync=topk:0.01", "does not combine");
    expect_parse_error("graph=ring,sync=gossip:exp", "give gossip's graph "
                                                     "once");
    expect_parse_error("mode=gossip,sync=allreduce", "mode=gossip takes");
    expect_parse_error("mode=sync,graph=ring", "mode=sync does not take");
}

static dml_planner_space space_of(const dml_model_spec *m, int64_t devices,
                                  int per_node)
{
    dml_planner_space s;
    memset(&s, 0, sizeof s);
    s.model = m;
    s.devices = devices;
    s.devices_per_node = per_node;
    s.executor_only = m->type == DML_MODEL_MLP;
    s.mem_capacity_bytes = 80e9;
    return s;
}

/* A configuration (dp, tp, pp, v, mbs, micro-batches) of 1024 devices for
 * GPT-3 175B (96 layers, 96 heads). */
static dml_parallel_config par(int dp, int tp, int pp, int v, int64_t mbs,
                               int64_t mb)
{
    return dml_test_parallel(dp, tp, pp, v, mbs, mb);
}

static void expect_reject(const dml_planner_space *s,
                          const dml_parallel_config *p, int64_t batch,
                          dml_reject want, const char *message)
{
    char msg[256] = "";
    dml_reject got = dml_planner_check(s, p, batch, msg, sizeof msg);
    if (got != want)
        fail_msg("expected rejection %s, got %s (%s)", dml_reject_name(want),
                 dml_reject_name(got), msg);
    if (message && !strstr(msg, message))
        fail_msg("expected \"%s\" in \"%s\"", message, msg);
}

static void rules_reject_with_their_reason(void **state)
{
    (void)state;
    dml_model_spec m;
    load_model("gpt3-175b", &m);
    dml_planner_space s = space_of(&m, 1024, 8);
    /* Admissible: SC21's 175B layout with interleaving (Korthikanti Table
     * 5 uses v = 3 with pp = 8; 1536 = 16 x 1 x 96). */
    dml_parallel_config ok = par(16, 8, 8, 3, 1, 96);
    ok.sp = true;
    ok.zero = 1;
    ok.recompute = DML_RECOMPUTE_SELECTIVE;
    expect_reject(&s, &ok, 1536, DML_REJECT_NONE, NULL);

    dml_parallel_config p = par(16, 8, 8, 1, 1, 96);
    p.dp = 8;
    expect_reject(&s, &p, 1536, DML_REJECT_DEVICES,
                  "dp x tp x pp = 8 x 8 x 8 = 512, but the plan is for 1024");
    p = par(1, 5, 8, 1, 1, 1);
    s.devices = 40;
    expect_reject(&s, &p, 1, DML_REJECT_TP_MODEL,
                  "tp 5 does not divide the 96 attention heads");
    s.devices = 1024;
    p = par(8, 16, 8, 1, 1, 192);
    expect_reject(&s, &p, 1536, DML_REJECT_TP_NODE,
                  "tp 16 spans nodes of 8 devices");
    s.allow_cross_node_tp = true;
    expect_reject(&s, &p, 1536, DML_REJECT_NONE, NULL);
    s.allow_cross_node_tp = false;
    p = par(8, 1, 128, 1, 1, 192);
    expect_reject(&s, &p, 1536, DML_REJECT_PP_LAYERS,
                  "128 stages for 96 layers");
    /* 96 layers do not split evenly over 8 x 5 chunks. */
    p = par(16, 8, 8, 5, 1, 96);
    expect_reject(&s, &p, 1536, DML_REJECT_V,
                  "divide evenly over pp x v = 8 x 5 = 40");
    p = par(128, 8, 1, 2, 1, 12);
    expect_reject(&s, &p, 1536, DML_REJECT_V, "needs pp > 1");
    p = par(16, 8, 8, 2, 1, 96);
    p.schedule = DML_PP_1F1B;
    expect_reject(&s, &p, 1536, DML_REJECT_V,
                  "needs the interleaved schedule");
    p = par(128, 1, 8, 1, 1, 12);
    p.sp = true;
    expect_reject(&s, &p, 1536, DML_REJECT_SP, "needs tp > 1");
    p = par(1, 8, 64, 1, 1, 1536);
    p.zero = 1;
    s.devices = 512;
    expect_reject(&s, &p, 1536, DML_REJECT_ZERO, "needs dp > 1");
    s.devices = 1024;
    p = par(16, 8, 8, 1, 5, 96);
    expect_reject(&s, &p, 1536, DML_REJECT_BATCH,
                  "not a multiple of dp x mbs = 16 x 5");
    /* 1536 / 16 / 4 = 24 micro-batches; 24 is not a multiple of 16. */
    p = par(8, 8, 16, 2, 8, 24);
    expect_reject(&s, &p, 1536, DML_REJECT_MICROBATCHES,
                  "24 micro-batches to be a multiple of pp 16");
}

static void gqa_and_mlp_rules(void **state)
{
    (void)state;
    /* Key/value heads: tp and kv_heads must divide one another. */
    dml_model_spec m;
    load_model("llama3-70b", &m); /* 64 heads, 8 kv heads */
    dml_planner_space s = space_of(&m, 64, 16);
    char msg[256];
    assert_int_equal(dml_planner_check_tp(&s, 16, msg, sizeof msg),
                     DML_REJECT_NONE); /* kv heads replicated */
    assert_int_equal(dml_planner_check_tp(&s, 4, msg, sizeof msg),
                     DML_REJECT_NONE);
    m.heads = 48;
    m.kv_heads = 16;
    m.hidden = 6144;
    assert_int_equal(dml_planner_check_tp(&s, 3, msg, sizeof msg),
                     DML_REJECT_TP_MODEL);
    assert_non_null(strstr(msg, "the 16 key/value heads"));
    /* A TP size that does not divide a node would straddle two. */
    load_model("gpt3-175b", &m);
    s = space_of(&m, 96, 8);
    assert_int_equal(dml_planner_check_tp(&s, 3, msg, sizeof msg),
                     DML_REJECT_TP_NODE);

    /* MLP plans stay runnable by dml-exec. */
    load_model("mlp-fmnist", &m); /* 784 -> 256 -> 256 -> 10 */
    s = space_of(&m, 2, 2);
    dml_parallel_config p = par(2, 1, 1, 1, 8, 16);
    expect_reject(&s, &p, 256, DML_REJECT_NONE, NULL);
    p.zero = 1;
    expect_reject(&s, &p, 256, DML_REJECT_NONE, NULL);
    p.zero = 2;
    expect_reject(&s, &p, 256, DML_REJECT_EXECUTOR, "ZeRO stages 0 and 1");
    p.zero = 0;
    p.recompute = DML_RECOMPUTE_FULL;
    expect_reject(&s, &p, 256, DML_REJECT_EXECUTOR, "keeps all activations");
    p = par(1, 2, 1, 1, 8, 32);
    p.sp = true;
    expect_reject(&s, &p, 256, DML_REJECT_SP, "for transformers");
    /* five linear layers, so that pp x v = 4 chunks would fit */
    m.hidden_count = 4;
    m.hidden_sizes[2] = m.hidden_sizes[3] = 256;
    m.layers = 5;
    p = par(1, 1, 2, 1, 8, 32);
    p.v = 2;
    p.schedule = DML_PP_INTERLEAVED;
    expect_reject(&s, &p, 256, DML_REJECT_EXECUTOR, "not interleaved");
    s.devices = 3;
    assert_int_equal(dml_planner_check_tp(&s, 3, msg, sizeof msg),
                     DML_REJECT_TP_MODEL);
    assert_non_null(strstr(msg, "hidden width 256"));
}

/* --config text on its own against s at a global batch of 1536: the rule
 * it breaks (want), whose message contains message (NULL: any). */
static void expect_fixed(const dml_planner_space *s, const char *text,
                         dml_reject want, const char *message)
{
    dml_planner_config c;
    dml_error err;
    char msg[256] = "";
    assert_int_equal(dml_planner_config_parse(text, "--config", &c, &err),
                     DML_OK);
    dml_reject got = dml_planner_check_fixed(s, &c, 1536, msg, sizeof msg);
    if (got != want)
        fail_msg("%s (%s): expected %s, got %s (%s)", text,
                 dml_framework_name(s->framework), dml_reject_name(want),
                 dml_reject_name(got), msg);
    if (message && !strstr(msg, message))
        fail_msg("%s: expected \"%s\" in \"%s\"", text, message, msg);
}

static void fixed_knobs_alone(void **state)
{
    (void)state;
    dml_model_spec m;
    load_model("gpt3-175b", &m);
    dml_planner_space s = space_of(&m, 1024, 8);
    dml_planner_config c;
    dml_error err;
    char msg[256];
    struct {
        const char *text;
        dml_reject want;
        const char *message;
    } cases[] = {
        {"tp=5", DML_REJECT_TP_MODEL, "does not divide the 96 attention"},
        {"dp=3,tp=8,pp=8", DML_REJECT_DEVICES, "= 192, but the plan is for "
                                               "1024 devices"},
        {"tp=8,pp=6", DML_REJECT_DEVICES, "multiply to 48, which does not "
                                          "divide the 1024 devices"},
        {"pp=1,v=2", DML_REJECT_V, "needs pp > 1"},
        {"tp=8,pp=128", DML_REJECT_PP_LAYERS, "128 stages for 96 layers"},
        {"tp=1,sp=1", DML_REJECT_SP, "needs tp > 1"},
        {"dp=1,zero=2", DML_REJECT_ZERO, "needs dp > 1"},
        {"dp=64,mbs=5", DML_REJECT_BATCH, "not a multiple of dp x mbs = 64 "
                                          "x 5"},
        {"tp=8,pp=8", DML_REJECT_NONE, NULL},
        {"mbs=2,recompute=full,zero=3,sp=1", DML_REJECT_NONE, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_fixed(&s, cases[i].text, cases[i].want, cases[i].message);
    /* tp and pp fixed to the whole cluster imply dp = 1: no ZeRO. */
    s.devices = 512;
    assert_int_equal(dml_planner_config_parse("tp=8,pp=64,zero=1", "x", &c,
                                              &err),
                     DML_OK);
    assert_int_equal(dml_planner_check_fixed(&s, &c, 1536, msg, sizeof msg),
                     DML_REJECT_ZERO);
}

/* The runtime's rules (costmodel/framework.h) and flash attention's, on
 * whole configurations and on fixed knobs alone. */
static void framework_and_attention_rules(void **state)
{
    (void)state;
    dml_model_spec m;
    load_model("gpt3-175b", &m);
    dml_planner_space s = space_of(&m, 1024, 8);
    /* Megatron-LM runs SC21's interleaved layout; DeepSpeed does not. */
    dml_parallel_config p = par(16, 8, 8, 3, 1, 96);
    expect_reject(&s, &p, 1536, DML_REJECT_NONE, NULL);
    s.framework = DML_FRAMEWORK_DEEPSPEED;
    p.framework = DML_FRAMEWORK_DEEPSPEED;
    expect_reject(&s, &p, 1536, DML_REJECT_FRAMEWORK,
                  "no interleaved schedule");
    p = par(16, 8, 8, 1, 1, 96);
    p.framework = DML_FRAMEWORK_DEEPSPEED;
    p.schedule = DML_PP_GPIPE;
    expect_reject(&s, &p, 1536, DML_REJECT_FRAMEWORK, "1F1B only");
    p.schedule = DML_PP_1F1B;
    p.zero = 1;
    expect_reject(&s, &p, 1536, DML_REJECT_NONE, NULL);
    p.zero = 2;
    expect_reject(&s, &p, 1536, DML_REJECT_FRAMEWORK,
                  "ZeRO-2 only without pipeline parallelism");
    p = par(128, 8, 1, 1, 1, 12);
    p.framework = DML_FRAMEWORK_DEEPSPEED;
    p.zero = 3;
    expect_reject(&s, &p, 1536, DML_REJECT_NONE, NULL);
    /* a configuration of the other runtime is not this search's */
    p.framework = DML_FRAMEWORK_MEGATRON;
    expect_reject(&s, &p, 1536, DML_REJECT_FRAMEWORK, "where deepspeed");

    /* Fixed knobs the runtime cannot run, alone (dml-plan: exit 2). */
    struct {
        const char *text;
        dml_reject want;
        const char *message;
    } cases[] = {
        {"schedule=interleaved,v=2", DML_REJECT_FRAMEWORK,
         "no interleaved schedule"},
        {"v=2", DML_REJECT_FRAMEWORK, "no interleaved schedule"},
        {"pp=8,schedule=gpipe", DML_REJECT_FRAMEWORK, "1F1B only"},
        {"pp=8,zero=2", DML_REJECT_FRAMEWORK, "without pipeline"},
        {"dp=16,tp=8,zero=3", DML_REJECT_FRAMEWORK, "without pipeline"},
        {"zero=3", DML_REJECT_NONE, NULL}, /* with pp = 1 */
        {"tp=8,pp=8,zero=1", DML_REJECT_NONE, NULL},
        /* accepted, and priced as the cost model prices it (= none) */
        {"attn=flash,recompute=selective", DML_REJECT_NONE, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_fixed(&s, cases[i].text, cases[i].want, cases[i].message);
    /* The same knobs are Megatron-LM's to run. */
    s.framework = DML_FRAMEWORK_MEGATRON;
    expect_fixed(&s, "pp=8,zero=2,v=2", DML_REJECT_NONE, NULL);

    /* An MLP has no attention to run with flash. */
    load_model("mlp-fmnist", &m);
    s = space_of(&m, 2, 2);
    p = par(2, 1, 1, 1, 8, 16);
    p.attention = DML_ATTN_FLASH;
    expect_reject(&s, &p, 256, DML_REJECT_ATTENTION, "an mlp has no "
                                                     "attention");
    expect_fixed(&s, "attn=flash", DML_REJECT_ATTENTION, "an mlp has no");
}

DML_TEST_MAIN(
    cmocka_unit_test(config_parses_every_knob),
    cmocka_unit_test(config_errors_name_the_item),
    cmocka_unit_test(rules_reject_with_their_reason),
    cmocka_unit_test(gqa_and_mlp_rules),
    cmocka_unit_test(fixed_knobs_alone),
    cmocka_unit_test(framework_and_attention_rules))
