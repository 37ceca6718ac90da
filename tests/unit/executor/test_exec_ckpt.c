/*
 * test_exec_ckpt.c: SHA-256 against the FIPS 180-2 test vectors,
 * checkpoint shards and manifests (round trip bit for bit; corrupt,
 * partial and foreign checkpoints refused with a reason: another layout,
 * seed, plan identity, an old manifest without one, a seed that is not a
 * number, values that are not finite), and the weight file (round trip,
 * header, refusals, non-finite values named by position). The shard map
 * (issue 17): written and read back by a reader of any layout, its
 * ranges checked against the shard's values, a shard without one named;
 * two identities that differ in the layout alone are the same training.
 */
#include <math.h>
#include "tests/support/unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "executor/ckpt.h"
#include "executor/identity.h"
#include "executor/sha256.h"
#include "executor/weights.h"

static void sha256_matches_fips_vectors(void **state)
{
    (void)state;
    char hex[65];
    /* FIPS 180-2, appendix B.1 ("abc") and the empty message. */
    dml_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
                             "b00361a396177a9cb410ff61f20015ad");
    dml_sha256_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb924"
                             "27ae41e4649b934ca495991b7852b855");
    /* Appendix B.2: the 448-bit two-block message. */
    const char *m2 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    dml_sha256_hex(m2, strlen(m2), hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039"
                             "a33ce45964ff2167f6ecedd419db06c1");
    /* Appendix B.3: one million 'a', fed in uneven pieces. */
    dml_sha256 c;
    dml_sha256_init(&c);
    char a[997];
    memset(a, 'a', sizeof a);
    size_t left = 1000000;
    for (size_t piece = 1; left > 0; piece = piece % 997 + 1) {
        size_t n = piece < left ? piece : left;
        dml_sha256_update(&c, a, n);
        left -= n;
    }
    unsigned char d[32];
    dml_sha256_final(&c, d);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67"
                             "f1809a48a497200e046d39ccc7112cd0");
}

static dml_ckpt_meta meta(int64_t step)
{
    dml_ckpt_meta m;
    memset(&m, 0, sizeof m);
    m.step = step;
    m.world = 2;
    m.dp = 2;
    m.tp = 1;
    m.pp = 1;
    m.zero = 1;
    snprintf(m.optimizer, sizeof m.optimizer, "adamw");
    m.seed = 18446744073709551557ull; /* a seed above INT64_MAX */
    m.shuffle = true;
    m.samples_seen = 1234;
    /* What identity.c writes, shortened: the reader only compares. */
    static const char text[] = "dml-exec identity 1\nschedule.peak_lr=0.01\n";
    dml_sha256_hex(text, sizeof text - 1, m.identity);
    m.identity_text = text;
    return m;
}

/* Shards from rank `from` on (the others kept: sha and bytes hold them),
 * then the manifest of all. */
static void write_shards(const char *root, const dml_ckpt_meta *m, int from,
                         float p[2][5], float s[2][6], char sha[2][65],
                         uint64_t bytes[2])
{
    dml_error err;
    char msha[65];
    uint64_t total;
    for (int r = from; r < 2; r++)
        assert_int_equal(dml_ckpt_write_shard(root, m, r, p[r], 5, s[r], 6,
                                              sha[r], &bytes[r], &err),
                         DML_OK);
    assert_int_equal(dml_ckpt_write_manifest(root, m,
                                             (const char(*)[65])sha, bytes,
                                             msha, &total, &err),
                     DML_OK);
    assert_int_equal(strlen(msha), 64);
    assert_true(total > bytes[0] + bytes[1]);
}

/* Write a complete two-rank checkpoint of step under root. */
static void write_ckpt(const char *root, int64_t step, float p[2][5],
                       float s[2][6])
{
    dml_error err;
    dml_ckpt_meta m = meta(step);
    char sha[2][65];
    uint64_t bytes[2];
    assert_int_equal(dml_ckpt_prepare(root, step, &err), DML_OK);
    write_shards(root, &m, 0, p, s, sha, bytes);
    assert_true(bytes[0] > 0 && bytes[1] > 0);
}

/* Each rank's parameters and state, distinct per rank and value. */
static void fill_values(float p[2][5], float s[2][6])
{
    for (int r = 0; r < 2; r++) {
        for (int i = 0; i < 5; i++)
            p[r][i] = (float)(r * 10 + i) + 0.125f;
        for (int i = 0; i < 6; i++)
            s[r][i] = -(float)(r * 10 + i) / 3.0f;
    }
}

static void checkpoint_round_trip_and_refusals(void **state)
{
    (void)state;
    char root[] = "/tmp/dml-ckpt-XXXXXX";
    assert_non_null(mkdtemp(root));
    float p[2][5], s[2][6];
    fill_values(p, s);
    write_ckpt(root, 10, p, s);
    write_ckpt(root, 20, p, s);
    int64_t *steps;
    size_t n;
    dml_error err;
    assert_int_equal(dml_ckpt_list(root, &steps, &n, &err), DML_OK);
    assert_int_equal(n, 2);
    assert_int_equal(steps[0], 20); /* newest first */
    assert_int_equal(steps[1], 10);
    free(steps);

    dml_ckpt_meta want = meta(0), got;
    float gp[5], gs[6];
    for (int r = 0; r < 2; r++) {
        assert_int_equal(dml_ckpt_read_shard(root, 20, r, &want, gp, 5, gs, 6,
                                             &got, &err),
                         DML_OK);
        assert_memory_equal(gp, p[r], sizeof gp);
        assert_memory_equal(gs, s[r], sizeof gs);
        assert_int_equal(got.step, 20);
        assert_int_equal(got.samples_seen, 1234);
        assert_true(got.seed == 18446744073709551557ull);
    }

    /* Another layout or seed: refused with the reason. */
    dml_ckpt_meta other = want;
    other.zero = 0;
    assert_int_equal(dml_ckpt_read_shard(root, 20, 0, &other, gp, 5, gs, 6,
                                         &got, &err),
                     DML_EINPUT);
    assert_non_null(strstr(err.msg, "written by layout dp=2 tp=1 pp=1 zero=1"));
    other = want;
    other.seed = 7;
    assert_int_equal(dml_ckpt_read_shard(root, 20, 0, &other, gp, 5, gs, 6,
                                         &got, &err),
                     DML_EINPUT);
    assert_non_null(strstr(err.msg, "seed"));
    /* A shard of another size than this rank holds. */
    assert_int_equal(dml_ckpt_read_shard(root, 20, 0, &want, gp, 4, gs, 6,
                                         &got, &err),
                     DML_EINPUT);

    /* One flipped byte in rank 1's shard of step 20. */
    char path[512];
    snprintf(path, sizeof path, "%s/step-00000020/rank-00001.bin", root);
    FILE *f = fopen(path, "r+b");
    fseek(f, -3, SEEK_END);
    int c = fgetc(f);
    fseek(f, -3, SEEK_END);
    fputc(c ^ 0x40, f);
    fclose(f);
    assert_int_equal(dml_ckpt_read_shard(root, 20, 1, &want, gp, 5, gs, 6,
                                         &got, &err),
                     DML_EINPUT);
    assert_non_null(strstr(err.msg, "corrupt shard"));
    /* Rank 0's shard of the same checkpoint is still fine on its own. */
    assert_int_equal(dml_ckpt_read_shard(root, 20, 0, &want, gp, 5, gs, 6,
                                         &got, &err),
                     DML_OK);
    /* No manifest: a partial checkpoint. */
    snprintf(path, sizeof path, "%s/step-00000010/manifest.json", root);
    unlink(path);
    assert_int_equal(dml_ckpt_read_shard(root, 10, 0, &want, gp, 5, gs, 6,
                                         &got, &err),
                     DML_EINPUT);
    assert_non_null(strstr(err.msg, "partial"));
    /* Preparing a step again removes its old manifest before new shards. */
    assert_int_equal(dml_ckpt_prepare(root, 20, &err), DML_OK);
    snprintf(path, sizeof path, "%s/step-00000020/manifest.json", root);
    assert_int_not_equal(access(path, F_OK), 0);

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

/* Replace the first occurrence of from by to in the file at path. */
static void edit_file(const char *path, const char *from, const char *to)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *at = strstr(buf, from);
    assert_non_null(at);
    f = fopen(path, "wb");
    fwrite(buf, 1, (size_t)(at - buf), f);
    fputs(to, f);
    fputs(at + strlen(from), f);
    fclose(f);
}

static void checkpoint_of_another_plan_or_bad_values(void **state)
{
    (void)state;
    char root[] = "/tmp/dml-ckpt-XXXXXX";
    assert_non_null(mkdtemp(root));
    float p[2][5], s[2][6];
    fill_values(p, s);
    write_ckpt(root, 10, p, s);
    dml_ckpt_meta want = meta(0), got;
    float gp[5], gs[6];
    dml_error err;

    /* Another plan: refused, naming the field that differs. */
    dml_ckpt_meta other = want;
    static const char text2[] = "dml-exec identity 1\nschedule.peak_lr=0.02\n";
    dml_sha256_hex(text2, sizeof text2 - 1, other.identity);
    other.identity_text = text2;
    assert_int_equal(dml_ckpt_read_shard(root, 10, 0, &other, gp, 5, gs, 6,
                                         &got, &err),
                     DML_EINPUT);
    assert_non_null(strstr(err.msg, "written for another plan, data or start"));
    assert_non_null(strstr(err.msg, "schedule.peak_lr is 0.01 there, 0.02 here"));
    assert_int_equal(dml_ckpt_read_shard(root, 10, 0, &want, gp, 5, gs, 6,
                                         &got, &err),
                     DML_OK);
    assert_string_equal(got.identity, want.identity);

    /* The manifest's seed read strictly: "1abc" is not 1. */
    char man[512];
    snprintf(man, sizeof man, "%s/step-00000010/manifest.json", root);
    edit_file(man, "\"seed\": \"18446744073709551557\"",
              "\"seed\": \"18446744073709551557abc\"");
    assert_int_equal(dml_ckpt_read_shard(root, 10, 0, &want, gp, 5, gs, 6,
                                         &got, &err),
                     DML_EINPUT);
    assert_string_equal(err.field, "seed");
    assert_non_null(strstr(err.msg, "is not a whole number"));
    edit_file(man, "\"seed\": \"18446744073709551557abc\"",
              "\"seed\": \"18446744073709551616\""); /* 2^64 */
    assert_int_equal(dml_ckpt_read_shard(root, 10, 0, &want, gp, 5, gs, 6,
                                         &got, &err),
                     DML_EINPUT);
    assert_string_equal(err.field, "seed");

    /* A manifest of a dml-exec before the identity: refused, saying why. */
    write_ckpt(root, 10, p, s);
    edit_file(man, "\"identity\":", "\"former_field\":");
    assert_int_equal(dml_ckpt_read_shard(root, 10, 0, &want, gp, 5, gs, 6,
                                         &got, &err),
                     DML_EINPUT);
    assert_non_null(strstr(err.msg, "written by an older dml-exec"));

    /* A NaN parameter and an infinite moment, with valid checksums. */
    p[1][3] = NAN;
    write_ckpt(root, 10, p, s);
    assert_int_equal(dml_ckpt_read_shard(root, 10, 0, &want, gp, 5, gs, 6,
                                         &got, &err),
                     DML_OK);
    assert_int_equal(dml_ckpt_read_shard(root, 10, 1, &want, gp, 5, gs, 6,
                                         &got, &err),
                     DML_EINPUT);
    assert_non_null(strstr(err.msg, "parameter value 3 of 5"));
    assert_non_null(strstr(err.msg, "is NaN"));
    fill_values(p, s);
    s[0][5] = -INFINITY;
    write_ckpt(root, 10, p, s);
    assert_int_equal(dml_ckpt_read_shard(root, 10, 0, &want, gp, 5, gs, 6,
                                         &got, &err),
                     DML_EINPUT);
    assert_non_null(strstr(err.msg, "optimizer state value 5 of 6"));
    assert_non_null(strstr(err.msg, "is -inf"));

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

/* A shard's map comes back as written; the manifest gives the layout and
 * identity text to a reader of another layout; a map that does not fit
 * the shard's values, or none, is refused with the reason. */
static void shard_map_read_by_any_layout(void **state)
{
    (void)state;
    dml_error err;
    float p[2][5], s[2][6];
    fill_values(p, s);
    char root[] = "/tmp/dml-ckpt-XXXXXX";
    assert_non_null(mkdtemp(root));
    dml_ckpt_range r0[] = {{0, 2, 0}, {4, 5, 2}};
    dml_ckpt_map map = {.first_layer = 1, .last_layer = 2, .tp_index = 0,
                        .state_slots = 2, .nowned = 2, .owned = r0,
                        .owned_values = 3, .sync_values = 0};
    dml_ckpt_meta m = meta(30);
    m.map = &map;
    char sha[2][65];
    uint64_t bytes[2];
    assert_int_equal(dml_ckpt_prepare(root, 30, &err), DML_OK);
    write_shards(root, &m, 0, p, s, sha, bytes);
    dml_ckpt_meta old;
    char *text = NULL;
    assert_int_equal(dml_ckpt_read_manifest(root, 30, &old, &text, &err),
                     DML_OK);
    assert_int_equal(old.dp, 2);
    assert_int_equal(old.samples_seen, 1234);
    assert_string_equal(text, m.identity_text);
    free(text);
    float *gp, *gs;
    size_t np, ns;
    dml_ckpt_map got;
    assert_int_equal(dml_ckpt_read_shard_any(root, 30, 1, &old, &gp, &np, &gs,
                                             &ns, &got, &err),
                     DML_OK);
    assert_int_equal(np, 5);
    assert_int_equal(ns, 6);
    assert_memory_equal(gp, p[1], sizeof p[1]);
    assert_memory_equal(gs, s[1], sizeof s[1]);
    assert_int_equal(got.first_layer, 1);
    assert_int_equal(got.last_layer, 2);
    assert_int_equal(got.state_slots, 2);
    assert_int_equal(got.nowned, 2);
    assert_int_equal(got.owned[1].lo, 4);
    assert_int_equal(got.owned[1].state_off, 2);
    assert_int_equal(got.owned_values, 3);
    free(gp);
    free(gs);
    dml_ckpt_map_free(&got);

    /* 2 slots x 4 values owned is not the 6 state values of the shard. */
    dml_ckpt_range r1[] = {{0, 4, 0}};
    dml_ckpt_map bad = map;
    bad.nowned = 1;
    bad.owned = r1;
    m.map = &bad;
    write_shards(root, &m, 1, p, s, sha, bytes);
    assert_int_equal(dml_ckpt_read_shard_any(root, 30, 1, &old, &gp, &np, &gs,
                                             &ns, &got, &err),
                     DML_EINPUT);
    assert_non_null(strstr(err.msg, "exchange state values, the shard holds 6"));
    /* A shard of an older writer, without a map. */
    m.map = NULL;
    write_shards(root, &m, 1, p, s, sha, bytes);
    assert_int_equal(dml_ckpt_read_shard_any(root, 30, 1, &old, &gp, &np, &gs,
                                             &ns, &got, &err),
                     DML_EINPUT);
    assert_non_null(strstr(err.msg, "without the map of its values"));
    assert_null(gp);

    /* The same training on two layouts; another global batch is not. */
    const char *a = "dml-exec identity 1\nparallel.dp=4\nparallel.mbs=4\n"
                    "placement.stages=0-1,2-2\nschedule.global_batch=48\n";
    const char *b = "dml-exec identity 1\nparallel.dp=3\nparallel.mbs=8\n"
                    "placement.stages=0-2\nschedule.global_batch=48\n";
    const char *c = "dml-exec identity 1\nparallel.dp=3\nparallel.mbs=8\n"
                    "placement.stages=0-2\nschedule.global_batch=36\n";
    char why[200];
    assert_true(dml_identity_diff(a, b, why, sizeof why));
    assert_false(dml_identity_diff_training(a, b, why, sizeof why));
    assert_true(dml_identity_diff_training(a, c, why, sizeof why));
    assert_string_equal(why, "schedule.global_batch is 48 there, 36 here");
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

static void weight_file_round_trip_and_refusals(void **state)
{
    (void)state;
    dml_mlp_shape s = {2, {3, 2, 1}};
    size_t n = dml_weights_count(&s);
    assert_int_equal(n, 3 * 2 + 2 + 2 * 1 + 1);
    assert_int_equal(dml_weights_offset(&s, 0, 1), 6);
    assert_int_equal(dml_weights_offset(&s, 1, 0), 8);
    assert_int_equal(dml_weights_offset(&s, 1, 1), 10);
    float v[11];
    for (int i = 0; i < 11; i++)
        v[i] = (float)i - 4.75f;
    char path[] = "/tmp/dml-weights-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    dml_error err;
    assert_int_equal(dml_weights_write(path, "tiny", &s, v, &err), DML_OK);
    /* The documented layout: one JSON line, then little-endian floats. */
    FILE *f = fopen(path, "rb");
    char line[512];
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line,
                        "{\"schema_version\":1,\"kind\":\"dml-weights\","
                        "\"model\":\"tiny\",\"dtype\":\"float32\","
                        "\"byte_order\":\"little\",\"layers\":[[3,2],[2,1]],"
                        "\"values\":11}\n");
    unsigned char b[4];
    assert_int_equal(fread(b, 1, 4, f), 4);
    /* -4.75f is 0xc0980000: little-endian bytes 00 00 98 c0. */
    assert_true(b[0] == 0x00 && b[1] == 0x00 && b[2] == 0x98 && b[3] == 0xc0);
    fclose(f);
    float *back = NULL;
    assert_int_equal(dml_weights_read(path, &s, &back, &err), DML_OK);
    assert_memory_equal(back, v, sizeof v);
    free(back);
    dml_mlp_shape other = {2, {3, 4, 1}};
    assert_int_equal(dml_weights_read(path, &other, &back, &err), DML_EINPUT);
    assert_non_null(strstr(err.msg, "layer shapes differ"));
    /* A NaN in layer 1's weight: refused, naming where it is. */
    v[8] = NAN;
    assert_int_equal(dml_weights_write(path, "tiny", &s, v, &err), DML_OK);
    assert_int_equal(dml_weights_read(path, &s, &back, &err), DML_EINPUT);
    assert_null(back);
    assert_non_null(strstr(err.msg, "value 8 (layer 1 weight [0, 0], byte "
                                    "offset"));
    assert_non_null(strstr(err.msg, "is NaN"));
    v[8] = 1.0f;
    v[10] = INFINITY; /* the last bias */
    assert_int_equal(dml_weights_write(path, "tiny", &s, v, &err), DML_OK);
    assert_int_equal(dml_weights_read(path, &s, &back, &err), DML_EINPUT);
    assert_non_null(strstr(err.msg, "value 10 (layer 1 bias [0]"));
    v[10] = 0.5f;
    /* Only the header's count is wrong: said so, not "found N bytes". */
    assert_int_equal(dml_weights_write(path, "tiny", &s, v, &err), DML_OK);
    edit_file(path, "\"values\":11", "\"values\":12");
    assert_int_equal(dml_weights_read(path, &s, &back, &err), DML_EINPUT);
    assert_string_equal(err.field, "values");
    assert_non_null(strstr(err.msg, "the header says 12 values, the plan's "
                                    "model has 11"));
    /* Cut inside the values, after the header line. */
    assert_int_equal(dml_weights_write(path, "tiny", &s, v, &err), DML_OK);
    assert_int_equal(truncate(path, (off_t)strlen(line) + 8), 0);
    assert_int_equal(dml_weights_read(path, &s, &back, &err), DML_EINPUT);
    assert_non_null(strstr(err.msg, "float32 values"));
    unlink(path);
}

DML_TEST_MAIN(
    cmocka_unit_test(sha256_matches_fips_vectors),
    cmocka_unit_test(checkpoint_round_trip_and_refusals),
    cmocka_unit_test(checkpoint_of_another_plan_or_bad_values),
    cmocka_unit_test(shard_map_read_by_any_layout),
    cmocka_unit_test(weight_file_round_trip_and_refusals))
