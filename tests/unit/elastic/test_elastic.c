/*
 * test_elastic.c: dml-run's hosts (elastic/hosts.h) and re-planning
 * (elastic/replan.h): a hostfile read with its slots and comments, bad
 * lines refused naming file and line, hosts lost and listed in order, the
 * hostfile of a launch of fewer ranks, a host lost that returns; a 4-rank plan made again for 3 and
 * 2 ranks keeps the model, the global batch and the schedule as they
 * are, and its layout has as many ranks; a job against the planner's
 * Young/Daly model, figures by hand.
 */
#include "tests/support/unit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/file.h"
#include "costmodel/plan.h"
#include "elastic/goodput.h"
#include "elastic/hosts.h"
#include "elastic/replan.h"

/* text written to path, and read back (common/file.h). */
static void put(const char *path, const char *text)
{
    dml_error err;
    assert_int_equal(dml_file_write_atomic(path, text, strlen(text), &err),
                     DML_OK);
}

static char *slurp(const char *path)
{
    static char *text;
    size_t len;
    dml_error err;
    free(text);
    assert_int_equal(dml_file_read_all(path, 1 << 20, &text, &len, &err),
                     DML_OK);
    return text;
}

static void hostfiles_read_lost_and_written(void **state)
{
    (void)state;
    char dir[] = "/tmp/dml-elastic-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], out[256];
    snprintf(path, sizeof path, "%s/hosts", dir);
    snprintf(out, sizeof out, "%s/launch", dir);
    put(path, "# four nodes\nnode0 slots=2\n\n  node1   # one slot\nnode2 "
              "slots=1\nnode3 slots=4\n");
    dml_hosts h;
    dml_error err;
    assert_int_equal(dml_hosts_read(path, &h, &err), DML_OK);
    assert_int_equal(h.n, 4);
    assert_int_equal(dml_hosts_slots(&h), 8);
    assert_true(dml_hosts_lose(&h, "node2"));
    assert_false(dml_hosts_lose(&h, "node9"));
    assert_int_equal(dml_hosts_slots(&h), 7);
    char list[256];
    dml_hosts_list(&h, false, list, sizeof list);
    assert_string_equal(list, "node0, node1 and node3");
    dml_hosts_list(&h, true, list, sizeof list);
    assert_string_equal(list, "node2");
    /* 5 ranks: node0's 2, node1's 1, 2 of node3's 4; node2 left out */
    assert_int_equal(dml_hosts_write(out, &h, 5, &err), DML_OK);
    assert_string_equal(slurp(out),
                        "node0 slots=2\nnode1 slots=1\nnode3 slots=2\n");
    /* node2 returns: its slot is back, first-come in the hostfile's
     * order */
    assert_true(dml_hosts_revive(&h, "node2"));
    assert_false(dml_hosts_revive(&h, "node9"));
    assert_int_equal(dml_hosts_slots(&h), 8);
    dml_hosts_list(&h, true, list, sizeof list);
    assert_string_equal(list, "none");
    assert_int_equal(dml_hosts_write(out, &h, 5, &err), DML_OK);
    assert_string_equal(slurp(out),
                        "node0 slots=2\nnode1 slots=1\nnode2 slots=1\n"
                        "node3 slots=1\n");

    static const struct {
        const char *text, *want;
    } bad[] = {
        {"node0\nnode1 slots=two\n", "hosts:2: expected \"HOST\" or "
                                     "\"HOST slots=N\""},
        {"node0 slots=0\n", "hosts:1: expected"},
        {"node0\nnode0\n", "hosts:2: host node0 listed twice"},
        {"# nothing\n\n", "hosts: no host"},
        {"node0 slots=1 extra\n", "hosts:1: expected"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        put(path, bad[i].text);
        dml_error_clear(&err);
        assert_int_equal(dml_hosts_read(path, &h, &err), DML_EINPUT);
        char line[512];
        dml_error_format(&err, line, sizeof line);
        const char *base = strstr(line, "hosts");
        assert_non_null(base);
        assert_non_null(strstr(base, bad[i].want));
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* The re-plan of a 4-rank plan for n ranks keeps what identifies the
 * training. */
static void replan_keeps_the_training(void **state)
{
    (void)state;
    char dir[] = "/tmp/dml-elastic-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char orig_path[256], path[256];
    snprintf(orig_path, sizeof orig_path, "%s/plan.json", dir);
    put(orig_path,
        "{\"schema_version\": 1, \"kind\": \"plan\",\n"
        " \"model\": {\"type\": \"mlp\", \"name\": \"mlp-fmnist\", \"input\": "
        "784, \"hidden\": [256, 256], \"output\": 10, \"dtype\": \"fp32\"},\n"
        " \"cluster\": {\"name\": \"cpu-node\", \"devices\": 4},\n"
        " \"parallel\": {\"dp\": 2, \"tp\": 1, \"pp\": 2, \"mbs\": 8, "
        "\"microbatches\": 3, \"zero\": 1, \"schedule\": \"1f1b\", "
        "\"threads_per_rank\": 1, \"sync\": \"allreduce\"},\n"
        " \"placement\": {\"order\": \"tp-pp-dp\", \"stages\": "
        "[{\"first_layer\": 0, \"last_layer\": 1}, {\"first_layer\": 2, "
        "\"last_layer\": 2}]},\n"
        " \"schedule\": {\"global_batch\": 48, \"optimizer\": \"adamw\", "
        "\"peak_lr\": 0.0123, \"min_lr\": 0.001, \"warmup_steps\": 7, "
        "\"decay\": \"cosine\", \"decay_steps\": 99, \"weight_decay\": "
        "0.01}}\n");
    dml_plan *orig = malloc(sizeof *orig), *got = malloc(sizeof *got);
    assert_non_null(orig);
    assert_non_null(got);
    dml_error err;
    assert_int_equal(dml_plan_load(orig_path, orig, &err), DML_OK);
    for (int ranks = 3; ranks >= 2; ranks--) {
        snprintf(path, sizeof path, "%s/plan-%d.json", dir, ranks);
        char summary[256];
        dml_error_clear(&err);
        assert_int_equal(dml_elastic_replan(orig_path, NULL, NULL, ranks, path,
                                            summary, sizeof summary, &err),
                         DML_OK);
        assert_int_equal(dml_plan_load(path, got, &err), DML_OK);
        const dml_parallel_config *c = &got->par;
        assert_int_equal(c->dp * c->tp * c->pp, ranks);
        assert_int_equal(c->dp * c->mbs * c->microbatches, 48);
        assert_true(c->zero <= 1);
        assert_int_equal(c->threads_per_rank, 1);
        assert_int_equal(got->sched.global_batch, 48);
        assert_true(got->sched.peak_lr == 0.0123);
        assert_int_equal(got->sched.warmup_steps, 7);
        assert_int_equal(got->sched.decay_steps, 99);
        assert_int_equal(got->sched.optimizer, orig->sched.optimizer);
        assert_int_equal(got->model.layers, orig->model.layers);
        assert_non_null(strstr(summary, "(global batch 48)"));
    }
    free(orig);
    free(got);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* A job against Young/Daly, by hand: a spec of 2 nodes, node MTBF
 * 1000 s, storage 1 MB/s a node; a checkpoint of 4 MB is written in 2 s
 * (C); 600 steps in 60 s (0.1 s a step), one every 20: tau = 2 s; two
 * failures in 100 s: M = 50 s. Young sqrt(2 C M) = sqrt(200); overhead
 * C/tau + (tau/2 + 2C)/M = 1 + 5/50 = 1.1; lost expected 2 x 1 s. */
static void young_daly_of_a_job(void **state)
{
    (void)state;
    dml_cluster_spec c;
    dml_cluster_spec_init(&c);
    c.group_count = 1;
    dml_node_group_init(&c.groups[0]);
    c.groups[0].nodes = 2;
    c.groups[0].node_mtbf_s = 1000;
    c.groups[0].storage_write_Bps = 1e6;
    dml_elastic_seen seen = {.wall_s = 100, .compute_s = 60, .lost_s = 3,
                             .failures = 2, .grows = 1, .replan_s = 4,
                             .steps = 600, .checkpoint_every = 20,
                             .nodes = 2, .ckpt_bytes = 4e6};
    dml_db_job_model m;
    dml_elastic_model(&c, &seen, &m);
#define NEAR(a, b) assert_true(fabs((a) - (b)) <= 1e-9 * fabs(b))
    NEAR(m.step_s, 0.1);
    NEAR(m.ckpt_interval_s, 2.0);
    NEAR(m.ckpt_write_s, 2.0);
    NEAR(m.mtbf_plan_s, 500.0);
    NEAR(m.mtbf_seen_s, 50.0);
    NEAR(m.young_s, sqrt(200.0));
    assert_true(m.daly_s > 0 && m.daly_s < m.young_s);
    NEAR(m.expected_lost_s, 2.0);
    NEAR(m.expected_restart_s, 8.0);
    NEAR(m.expected_goodput, 1.0 / 2.1);
    NEAR(m.expected_wall_s, 57.0 * 2.1);
    assert_int_equal(m.failures, 2);
    assert_int_equal(m.grows, 1);
    NEAR(m.replan_s, 4.0);
    /* no failure: the spec's MTBF; no spec: its figures unknown */
    seen.failures = 0;
    dml_elastic_model(&c, &seen, &m);
    assert_true(isnan(m.mtbf_seen_s));
    NEAR(m.young_s, sqrt(2.0 * 2.0 * 500.0));
    NEAR(m.expected_goodput, 1.0 / (1.0 + 1.0 + 1.0 / 500.0 + 4.0 / 500.0));
    dml_elastic_model(NULL, &seen, &m);
    assert_true(isnan(m.ckpt_write_s) && isnan(m.young_s) &&
                isnan(m.expected_goodput));
    NEAR(m.step_s, 0.1);
#undef NEAR
}

/* A Slurm allocation's hosts as `scontrol show hostnames` lists them:
 * zero-padded ranges, several brackets, plain names; the tasks per node
 * with repeats; and the malformed lists refused naming the variable. */
static void slurm_allocations_expand(void **state)
{
    (void)state;
    static dml_hosts h;
    dml_error err;
    assert_int_equal(dml_hosts_from_slurm("gpu[01-03,10],login2",
                                          "4(x3),2,1", &h, &err),
                     DML_OK);
    const char *names[5] = {"gpu01", "gpu02", "gpu03", "gpu10", "login2"};
    const int slots[5] = {4, 4, 4, 2, 1};
    assert_int_equal(h.n, 5);
    for (int i = 0; i < 5; i++) {
        assert_string_equal(h.h[i].name, names[i]);
        assert_int_equal(h.h[i].slots, slots[i]);
        assert_true(h.h[i].alive);
    }
    assert_int_equal(dml_hosts_slots(&h), 15);
    /* two brackets, left to right; no tasks variable: a slot each */
    assert_int_equal(dml_hosts_from_slurm("r[1-2]n[8-9]", NULL, &h, &err),
                     DML_OK);
    const char *grid[4] = {"r1n8", "r1n9", "r2n8", "r2n9"};
    assert_int_equal(h.n, 4);
    for (int i = 0; i < 4; i++) {
        assert_string_equal(h.h[i].name, grid[i]);
        assert_int_equal(h.h[i].slots, 1);
    }
    /* refused, naming the variable */
    const char *bad[6][2] = {
        {"gpu[01-03,10],login2", "4(x3),1"}, /* 5 nodes, 4 counts */
        {"node[3-1]", NULL},                 /* a range backwards */
        {"node[1-2", NULL},                  /* unclosed */
        {"node1]", NULL},                    /* no '[' */
        {"a,,b", NULL},                      /* an empty name */
        {"n[1-2],n2", NULL},                 /* n2 twice */
    };
    for (int i = 0; i < 6; i++) {
        dml_error_clear(&err);
        assert_int_equal(dml_hosts_from_slurm(bad[i][0], bad[i][1], &h, &err),
                         DML_EINPUT);
        assert_non_null(strstr(err.msg, "SLURM_"));
    }
}

DML_TEST_MAIN(
    cmocka_unit_test(slurm_allocations_expand),
    cmocka_unit_test(hostfiles_read_lost_and_written),
    cmocka_unit_test(replan_keeps_the_training),
    cmocka_unit_test(young_daly_of_a_job))
