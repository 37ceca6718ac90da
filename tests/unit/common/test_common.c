/*
 * test_common.c: status table, error formatting, JSON positions, units,
 * atomic files, the RNG, the plain progress lines and the times dml
 * stores.
 */
#include "tests/support/unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <math.h>
#include <time.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/file.h"
#include "common/json.h"
#include "common/progress.h"
#include "common/rng.h"
#include "common/status.h"
#include "common/units.h"

static void status_table_is_consistent(void **state)
{
    (void)state;
    assert_string_equal(dml_strerror(DML_OK), "success");
    assert_string_equal(dml_status_name(DML_EINPUT), "DML_EINPUT");
    /* Exit codes are a contract with scripts (DESIGN.md). */
    assert_int_equal(dml_status_exit_code(DML_OK), 0);
    assert_int_equal(dml_status_exit_code(DML_ERUNTIME), 1);
    assert_int_equal(dml_status_exit_code(DML_EINPUT), 2);
    assert_int_equal(dml_status_exit_code(DML_EUSAGE), 2);
    assert_int_equal(dml_status_exit_code(DML_EINFEASIBLE), 3);
    assert_string_equal(dml_strerror(DML_STATUS_COUNT), "unknown status");
    for (int s = 0; s < DML_STATUS_COUNT; s++)
        assert_true(strlen(dml_strerror((dml_status)s)) > 0);
}

static void error_formats_file_line_col_field(void **state)
{
    (void)state;
    dml_error err;
    char buf[1024];
    dml_status s = dml_error_set(&err, DML_EINPUT, "m.json", 3, 14, "layers",
                                 "must be positive, found %d", -2);
    assert_int_equal(s, DML_EINPUT);
    assert_string_equal(dml_error_format(&err, buf, sizeof buf),
                        "m.json:3:14: layers: must be positive, found -2");
    dml_error_msg(&err, DML_EIO, "disk full");
    assert_string_equal(dml_error_format(&err, buf, sizeof buf), "disk full");
    dml_error_set(&err, DML_EINPUT, "x.xml", 0, 0, NULL, "cannot open");
    assert_string_equal(dml_error_format(&err, buf, sizeof buf),
                        "x.xml: cannot open");
    dml_error_prefix(&err, "topology: ");
    assert_string_equal(err.msg, "topology: cannot open");
}

static const char *doc_text =
    "{\n"
    "  \"name\": \"t\",\n"
    "  \"layers\": -4,\n"
    "  \"groups\": [\n"
    "    {\"nodes\": 2},\n"
    "    {\"nodes\": \"many\", \"extra\": 1}\n"
    "  ],\n"
    "  \"dtype\": \"fp8\"\n"
    "}\n";

static void json_errors_point_at_the_value(void **state)
{
    (void)state;
    dml_json_doc *doc = NULL;
    dml_error err;
    assert_int_equal(dml_json_doc_load_text("m.json", doc_text,
                                            strlen(doc_text), &doc, &err),
                     DML_OK);
    dml_json_obj root;
    dml_json_obj_root(doc, &root);
    char buf[1024];

    int64_t layers = 0;
    assert_int_equal(dml_json_get_i64(&root, "layers", true, 1, 1000000,
                                      &layers, &err),
                     DML_EINPUT);
    assert_string_equal(dml_error_format(&err, buf, sizeof buf),
                        "m.json:3:13: layers: -4 is out of range [1, 1000000]");

    json_t *arr = NULL;
    size_t n = 0;
    assert_int_equal(dml_json_get_array(&root, "groups", true, &arr, &n, NULL,
                                        &err),
                     DML_OK);
    assert_int_equal(n, 2);
    dml_json_obj g;
    assert_int_equal(dml_json_array_obj(&root, "groups", arr, 1, &g, &err),
                     DML_OK);
    int64_t nodes = 0;
    assert_int_equal(dml_json_get_i64(&g, "nodes", true, 1, 100, &nodes, &err),
                     DML_EINPUT);
    assert_string_equal(dml_error_format(&err, buf, sizeof buf),
                        "m.json:6:15: groups[1].nodes: expected an integer, "
                        "found a string");

    static const char *const allowed[] = {"nodes", NULL};
    assert_int_equal(dml_json_check_keys(&g, allowed, &err), DML_EINPUT);
    assert_string_equal(dml_error_format(&err, buf, sizeof buf),
                        "m.json:6:23: groups[1].extra: unknown field");

    static const char *const dtypes[] = {"bf16", "fp16", "fp32", NULL};
    int dt = -1;
    assert_int_equal(dml_json_get_enum(&root, "dtype", true, dtypes, &dt, &err),
                     DML_EINPUT);
    assert_string_equal(dml_error_format(&err, buf, sizeof buf),
                        "m.json:8:12: dtype: \"fp8\" is not one of: bf16, "
                        "fp16, fp32");

    double missing = 7;
    assert_int_equal(dml_json_get_f64(&root, "seq_len", false, 1, 1e9, &missing,
                                      &err),
                     DML_OK);
    assert_true(missing == 7);
    assert_int_equal(dml_json_get_f64(&root, "seq_len", true, 1, 1e9, &missing,
                                      &err),
                     DML_EINPUT);
    assert_string_equal(err.field, "seq_len");
    assert_string_equal(err.msg, "required field is missing");
    dml_json_doc_free(doc);
}

static void json_parse_errors_have_positions(void **state)
{
    (void)state;
    dml_json_doc *doc = NULL;
    dml_error err;
    char buf[1024];
    const char *bad = "{\n  \"a\": 1,\n  \"a\": 2\n}";
    assert_int_equal(dml_json_doc_load_text("d.json", bad, strlen(bad), &doc,
                                            &err),
                     DML_EINPUT);
    assert_null(doc);
    assert_int_equal(err.line, 3);
    assert_non_null(strstr(dml_error_format(&err, buf, sizeof buf),
                           "duplicate"));

    const char *trunc = "{\"layers\": 4, \"hidden\": ";
    assert_int_equal(dml_json_doc_load_text("t.json", trunc, strlen(trunc),
                                            &doc, &err),
                     DML_EINPUT);
    assert_int_equal(err.line, 1);
    assert_true(err.col > 20);

    assert_int_equal(dml_json_doc_load_text("e.json", "", 0, &doc, &err),
                     DML_EINPUT);
    assert_non_null(strstr(err.msg, "empty"));

    const char *arr = "[1, 2]";
    assert_int_equal(dml_json_doc_load_text("a.json", arr, strlen(arr), &doc,
                                            &err),
                     DML_EINPUT);
    assert_non_null(strstr(err.msg, "object"));

    const char latin1[] = "{\"name\": \"caf\xe9\"}";
    assert_int_equal(dml_json_doc_load_text("u.json", latin1,
                                            sizeof latin1 - 1, &doc, &err),
                     DML_EINPUT);

    /* A NUL byte is named where it is (issue 10): jansson said "near end
     * of file" a column early, and "{...}\0garbage" read by strlen
     * passed. An earlier error is still the one reported. */
    const char nul_after[] = "{\"a\": 1}\n\0garbage";
    assert_int_equal(dml_json_doc_load_text("n.json", nul_after,
                                            sizeof nul_after - 1, &doc, &err),
                     DML_EINPUT);
    assert_int_equal(err.line, 2);
    assert_int_equal(err.col, 1);
    assert_string_equal(err.msg, "a NUL byte (offset 9): not JSON text");
    const char nul_inside[] = "{\n  \"a\": \"x\0y\"}";
    assert_int_equal(dml_json_doc_load_text("n.json", nul_inside,
                                            sizeof nul_inside - 1, &doc,
                                            &err),
                     DML_EINPUT);
    assert_int_equal(err.line, 2);
    assert_int_equal(err.col, 10);
    const char syntax_first[] = "{\"a\" 1}\0";
    assert_int_equal(dml_json_doc_load_text("n.json", syntax_first,
                                            sizeof syntax_first - 1, &doc,
                                            &err),
                     DML_EINPUT);
    assert_non_null(strstr(err.msg, "invalid JSON"));
}

static void json_missing_file_is_bad_input(void **state)
{
    (void)state;
    dml_json_doc *doc = NULL;
    dml_error err;
    assert_int_equal(dml_json_doc_load_file("/nonexistent/spec.json", &doc,
                                            &err),
                     DML_EINPUT);
    assert_string_equal(err.file, "/nonexistent/spec.json");
    assert_non_null(strstr(err.msg, "No such file"));
}

static void units_format_and_parse(void **state)
{
    (void)state;
    char b[64];
    assert_string_equal(dml_units_bytes(1.5e9, b, sizeof b), "1.50 GB");
    assert_string_equal(dml_units_bytes(64, b, sizeof b), "64 B");
    assert_string_equal(dml_units_bytes_binary(80.0 * 1073741824.0, b,
                                               sizeof b),
                        "80.0 GiB");
    assert_string_equal(dml_units_bandwidth(18.2e9, b, sizeof b), "18.2 GB/s");
    assert_string_equal(dml_units_flops(312e12, b, sizeof b), "312 TFLOP/s");
    assert_string_equal(dml_units_seconds(3.21e-3, b, sizeof b), "3.21 ms");
    assert_string_equal(dml_units_seconds(1.5e-6, b, sizeof b), "1.50 us");
    double x = 0;
    assert_true(dml_units_parse_size("64K", &x));
    assert_true(x == 64e3);
    assert_true(dml_units_parse_size("4GiB", &x));
    assert_true(x == 4.0 * 1073741824.0);
    assert_true(dml_units_parse_size("1e12", &x));
    assert_true(x == 1e12);
    assert_false(dml_units_parse_size("-1", &x));
    assert_false(dml_units_parse_size("12 apples", &x));
    assert_false(dml_units_parse_size("nan", &x));
    long l = 0;
    assert_true(dml_units_parse_long("128", 1, 1000, &l));
    assert_int_equal(l, 128);
    assert_false(dml_units_parse_long("12x", 1, 1000, &l));
    assert_false(dml_units_parse_long("0", 1, 1000, &l));
}

static void atomic_write_replaces_whole_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/dml-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/out.json", dir);
    dml_error err;
    assert_int_equal(dml_file_write_atomic(path, "{\"a\":1}", 7, &err), DML_OK);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(dml_file_read_all(path, 1024, &text, &len, &err), DML_OK);
    assert_int_equal(len, 7);
    assert_string_equal(text, "{\"a\":1}");
    free(text);
    /* Over the size limit: refused before reading. */
    assert_int_equal(dml_file_read_all(path, 3, &text, &len, &err), DML_EINPUT);
    /* A directory that does not exist: refused, nothing created. */
    char bad[300];
    snprintf(bad, sizeof bad, "%s/missing/out.json", dir);
    assert_int_equal(dml_file_check_writable(bad, &err), DML_EINPUT);
    assert_int_equal(dml_file_write_atomic(bad, "x", 1, &err), DML_EINPUT);
    assert_int_equal(dml_file_check_writable(dir, &err), DML_EINPUT);
    assert_int_equal(dml_file_check_writable(path, &err), DML_OK);
    unlink(path);
    rmdir(dir);
}

/* The pieces land in order; the hook runs once, when the temporary file
 * is complete and before the rename, so the old file is still whole then;
 * a failure is DML_EIO naming what was being written, and leaves no file. */
static void atomic_parts_hook_sees_old_file(void *arg)
{
    const char *path = arg;
    char *text = NULL;
    size_t len = 0;
    dml_error err;
    assert_int_equal(dml_file_read_all(path, 1024, &text, &len, &err), DML_OK);
    assert_string_equal(text, "old");
    free(text);
}

static void atomic_write_parts_in_order(void **state)
{
    (void)state;
    char dir[] = "/tmp/dml-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/shard.bin", dir);
    dml_error err;
    assert_int_equal(dml_file_write_atomic(path, "old", 3, &err), DML_OK);
    const dml_file_part parts[] = {{"head-", 5}, {NULL, 0}, {"body", 4}};
    assert_int_equal(dml_file_write_atomic_parts(path, parts, 3, "test shard",
                                                 atomic_parts_hook_sees_old_file,
                                                 path, &err),
                     DML_OK);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(dml_file_read_all(path, 1024, &text, &len, &err), DML_OK);
    assert_int_equal(len, 9);
    assert_string_equal(text, "head-body");
    free(text);
    char bad[300];
    snprintf(bad, sizeof bad, "%s/missing/shard.bin", dir);
    assert_int_equal(
        dml_file_write_atomic_parts(bad, parts, 3, "test shard", NULL, NULL, &err),
        DML_EIO);
    assert_non_null(strstr(err.msg, "cannot write test shard"));
    assert_int_equal(access(bad, F_OK), -1);
    unlink(path);
    rmdir(dir);
}

/* ISO 8601 UTC with milliseconds, never rounded into the next second
 * (issue 12: whole seconds made every run's duration 0 or 1 s). */
static void times_are_iso8601_with_milliseconds(void **state)
{
    (void)state;
    char t[DML_CLOCK_ISO8601_LEN];
    /* 2026-12-06T12:48:16Z is 1796561296 s after the epoch */
    assert_string_equal(dml_clock_iso8601_at(1796561296.123, t, sizeof t),
                        "2026-12-06T12:48:16.123Z");
    assert_string_equal(dml_clock_iso8601_at(1796561296.0, t, sizeof t),
                        "2026-12-06T12:48:16.000Z");
    assert_string_equal(dml_clock_iso8601_at(1796561296.9999, t, sizeof t),
                        "2026-12-06T12:48:16.999Z");
    assert_string_equal(dml_clock_iso8601_at(NAN, t, sizeof t), "");
    assert_string_equal(dml_clock_iso8601_at(-1, t, sizeof t), "");
    /* now: the same form, within a second of the wall clock */
    double before = floor(dml_clock_wall_s());
    dml_clock_iso8601(t, sizeof t);
    assert_int_equal(strlen(t), DML_CLOCK_ISO8601_LEN - 1);
    assert_int_equal(t[19], '.');
    assert_int_equal(t[23], 'Z');
    char whole[DML_CLOCK_ISO8601_LEN];
    dml_clock_iso8601_at(before, whole, sizeof whole);
    assert_true(strncmp(whole, t, 19) <= 0);
}

static void rng_is_deterministic_and_uniform(void **state)
{
    (void)state;
    dml_rng a, b;
    dml_rng_seed(&a, 42);
    dml_rng_seed(&b, 42);
    for (int i = 0; i < 100; i++)
        assert_true(dml_rng_u64(&a) == dml_rng_u64(&b));
    /* The first output for seed 0 is fixed forever: checkpoints and
     * cross-layout tests depend on it. */
    dml_rng_seed(&a, 0);
    uint64_t first = dml_rng_u64(&a);
    dml_rng_seed(&b, 0);
    assert_true(first == dml_rng_u64(&b));
    double sum = 0, sumsq = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double u = dml_rng_uniform(&a);
        assert_true(u >= 0 && u < 1);
        double z = dml_rng_normal(&b);
        sum += z;
        sumsq += z * z;
    }
    /* Mean 0 and variance 1 within 5 standard errors. */
    assert_true(fabs(sum / n) < 5.0 / sqrt(n));
    assert_true(fabs(sumsq / n - 1.0) < 5.0 * sqrt(2.0 / n));
    uint32_t idx[10];
    for (uint32_t i = 0; i < 10; i++)
        idx[i] = i;
    dml_rng_shuffle(&a, idx, 10);
    int seen = 0;
    for (int i = 0; i < 10; i++)
        seen |= 1 << idx[i];
    assert_int_equal(seen, 0x3ff);
}

/* Issue 12: under mpirun stderr is not a terminal; a long probe prints a
 * plain line every few seconds, with no carriage return or escape. */
static void progress_line_names_phase_elapsed_and_what_is_left(void **state)
{
    (void)state;
    dml_progress p;
    memset(&p, 0, sizeof p);
    snprintf(p.label, sizeof p.label, "dml-probe");
    snprintf(p.phase, sizeof p.phase, "collectives intra_node");
    snprintf(p.what, sizeof p.what, "allreduce 1.00 MiB");
    p.total = 35;
    p.done = 14;
    p.started_s = 100;
    p.phase_started_s = 110;
    char buf[256];
    /* 14 units in 14 s: 21 units left take about 21 s. */
    size_t len = dml_progress_format_line(&p, 124, buf, sizeof buf);
    assert_string_equal(buf, "dml-probe: progress: 24 s: collectives "
                             "intra_node [14/35] allreduce 1.00 MiB, about "
                             "21 s left in this phase");
    assert_int_equal(len, strlen(buf));
    /* Minutes for long waits (184 s for 14 units: 276 s for 21); no
     * estimate before a unit is done or when the phase's size is
     * unknown. */
    p.phase_started_s = 0;
    dml_progress_format_line(&p, 184, buf, sizeof buf);
    assert_non_null(strstr(buf, ": 1 min 24 s: "));
    assert_non_null(strstr(buf, "about 4 min 36 s left in this phase"));
    p.done = 0;
    dml_progress_format_line(&p, 124, buf, sizeof buf);
    assert_null(strstr(buf, "left"));
    p.total = 0;
    p.what[0] = '\0';
    dml_progress_format_line(&p, 124, buf, sizeof buf);
    assert_string_equal(buf, "dml-probe: progress: 24 s: collectives "
                             "intra_node");
    /* snprintf semantics: a short buffer still learns the whole length. */
    char small[8];
    assert_int_equal(dml_progress_format_line(&p, 124, small, sizeof small),
                     strlen(buf));
    assert_int_equal(strlen(small), sizeof small - 1);
}

static void nap(double s)
{
    struct timespec t = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&t, NULL);
}

static size_t read_all(FILE *f, char *buf, size_t size)
{
    fflush(f);
    rewind(f);
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    return n;
}

static int count_lines(const char *text, const char *prefix)
{
    int n = 0;
    for (const char *line = text; *line;) {
        if (strncmp(line, prefix, strlen(prefix)) == 0)
            n++;
        const char *nl = strchr(line, '\n');
        if (!nl)
            break;
        line = nl + 1;
    }
    return n;
}

static void progress_prints_plain_lines_where_not_a_terminal(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    dml_progress p;
    /* A short interval stands for the tools' 5 s. */
    dml_progress_begin_lines(&p, f, "probe", true, 0.05);
    assert_true(p.enabled && p.lines);
    dml_progress_phase(&p, "STREAM", 2);
    dml_progress_doing(&p, "1 thread");
    /* One long step: the ticker keeps printing while the caller works. */
    nap(0.4);
    dml_progress_advance(&p);
    dml_progress_end(&p);
    char text[16384];
    size_t n = read_all(f, text, sizeof text);
    /* The first line comes with the first phase, then one per interval:
     * several in 0.4 s, however loaded the machine. */
    assert_true(count_lines(text, "probe: progress: ") >= 2);
    assert_int_equal(count_lines(text, ""), count_lines(text, "probe: "));
    assert_non_null(strstr(text, "probe: progress: 0 s: STREAM [0/2]\n"));
    assert_non_null(strstr(text, "STREAM [0/2] 1 thread\n"));
    assert_null(strchr(text, '\r'));
    assert_null(strchr(text, '\033'));
    /* Nothing after the end. */
    nap(0.2);
    assert_int_equal(read_all(f, text, sizeof text), n);

    /* Not wanted (--quiet): nothing at all. */
    rewind(f);
    assert_int_equal(ftruncate(fileno(f), 0), 0);
    dml_progress_begin_lines(&p, f, "probe", false, 0.05);
    dml_progress_phase(&p, "STREAM", 2);
    nap(0.15);
    dml_progress_end(&p);
    assert_int_equal(read_all(f, text, sizeof text), 0);
    /* NULL is a progress nobody wants. */
    dml_progress_phase(NULL, "x", 1);
    dml_progress_doing(NULL, "y");
    dml_progress_advance(NULL);
    dml_progress_end(NULL);
    fclose(f);
}

DML_TEST_MAIN(
    cmocka_unit_test(status_table_is_consistent),
    cmocka_unit_test(error_formats_file_line_col_field),
    cmocka_unit_test(json_errors_point_at_the_value),
    cmocka_unit_test(json_parse_errors_have_positions),
    cmocka_unit_test(json_missing_file_is_bad_input),
    cmocka_unit_test(units_format_and_parse),
    cmocka_unit_test(atomic_write_replaces_whole_file),
    cmocka_unit_test(atomic_write_parts_in_order),
    cmocka_unit_test(rng_is_deterministic_and_uniform),
    cmocka_unit_test(times_are_iso8601_with_milliseconds),
    cmocka_unit_test(progress_line_names_phase_elapsed_and_what_is_left),
    cmocka_unit_test(progress_prints_plain_lines_where_not_a_terminal))
