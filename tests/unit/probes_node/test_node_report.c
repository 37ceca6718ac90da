/*
 * test_node_report.c: the node probe in sequence (topology from a
 * synthetic description, STREAM at 1 thread and per core, GPUs skipped
 * or measured), its measurement rows and tables, and the row array.
 */
#include "tests/support/unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probes/node_report.h"

static void rows_grow_and_keep_their_contents(void **state)
{
    (void)state;
    dml_measurement *rows = NULL;
    int count = 0;
    dml_error err;
    for (int i = 0; i < 100; i++) {
        dml_measurement m = {.ranks = 1, .threads = i};
        snprintf(m.kind, sizeof m.kind, "membw");
        assert_int_equal(dml_node_report_append_row(&rows, &count, &m, &err),
                         DML_OK);
    }
    assert_int_equal(count, 100);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(rows[i].threads, i);
        assert_string_equal(rows[i].kind, "membw");
    }
    free(rows);
}

static void node_probe_runs_stream_and_skips_or_measures_gpus(void **state)
{
    (void)state;
    /* 2 cores and a 256 KiB L3: STREAM takes its 8 MiB floor per array. */
    dml_topology_source src = {
        DML_TOPOLOGY_SYNTHETIC,
        "pack:1 [numa(memory=4294967296)] l3:1(size=262144) core:2 pu:1"};
    dml_node_probe_options opt = dml_node_probe_options_default(true);
    opt.topology = &src;
    opt.gemm = false; /* covered by test_node_gemm; keeps this one fast */
    dml_node_report r;
    dml_error err;
    dml_status s = dml_node_probe_run(&opt, &r, &err);
    if (s != DML_OK)
        fail_msg("node probe: %s", err.msg);
    assert_int_equal(r.topology.cores, 2);
    assert_int_equal(r.topology.source, DML_TOPOLOGY_SYNTHETIC);
    assert_true(r.have_membw);
    assert_false(r.have_gemm);
    assert_int_equal(r.membw_single.threads, 1);
    assert_int_equal(r.membw_all.threads, 2);
    assert_true(r.membw_single.validated && r.membw_all.validated);
    assert_true(r.membw_all.array_bytes == 8.0 * 1024 * 1024);
    assert_false(r.membw_all.bound); /* a synthetic topology is not this machine */
    assert_true(r.elapsed_s > 0);

    int gpus = 0;
    dml_error gerr;
    if (dml_gpu_count(&gpus, &gerr) == DML_OK) {
        assert_int_equal(r.gpu_count, gpus);
        assert_string_equal(r.gpu_skip, "");
    } else {
        /* No GPU is recorded, not an error. */
        assert_int_equal(r.gpu_count, 0);
        assert_null(r.gpu);
        assert_int_equal(strncmp(r.gpu_skip, "no GPU", 6), 0);
    }

    dml_measurement *rows = NULL;
    int count = 0;
    assert_int_equal(dml_node_report_to_measurements(&r, &rows, &count, &err),
                     DML_OK);
    int membw_rows = 0;
    for (int i = 0; i < count; i++)
        if (strcmp(rows[i].kind, "membw") == 0) {
            membw_rows++;
            assert_true(rows[i].value > 0);
            assert_int_equal(rows[i].threads, membw_rows <= 4 ? 1 : 2);
        }
    assert_int_equal(membw_rows, 8);
    free(rows);

    FILE *f = tmpfile();
    assert_non_null(f);
    dml_node_report_print(&r, f);
    long len = ftell(f);
    char *text = calloc(1, (size_t)len + 1);
    rewind(f);
    assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    assert_non_null(strstr(text, "1 package(s), 1 NUMA node(s), 2 cores"));
    assert_non_null(strstr(text, "STREAM (arrays of 8.00 MiB, validated)"));
    assert_non_null(strstr(text, "triad"));
    if (r.gpu_count == 0)
        assert_non_null(strstr(text, "GPU: skipped (no GPU"));
    free(text);
    dml_node_report_free(&r);
    assert_null(r.topo);
}

static void bad_topology_fails_the_probe_cleanly(void **state)
{
    (void)state;
    dml_topology_source src = {DML_TOPOLOGY_SYNTHETIC, "pack:x"};
    dml_node_probe_options opt = dml_node_probe_options_default(true);
    opt.topology = &src;
    dml_node_report r;
    dml_error err;
    assert_int_equal(dml_node_probe_run(&opt, &r, &err), DML_EINPUT);
    assert_string_equal(err.msg,
                        "synthetic topology \"pack:x\": invalid description");
    assert_null(r.topo);
    assert_false(r.have_membw);
}

DML_TEST_MAIN(
    cmocka_unit_test(rows_grow_and_keep_their_contents),
    cmocka_unit_test(node_probe_runs_stream_and_skips_or_measures_gpus),
    cmocka_unit_test(bad_topology_fails_the_probe_cleanly))
