/*
 * fuzz_ckpt: libFuzzer target for the checkpoint readers of dml-exec
 * --resume (and the weight file of --init-weights).
 *
 * The first byte of the input picks what the rest is:
 *   0  the manifest.json of checkpoint step 5 of a 1-rank run of the small
 *      MLP 32 -> [16, 16] -> 4 with AdamW (868 parameters, 1736 state
 *      values), beside a valid shard;
 *   1  that run's shard, with a manifest that matches its size and SHA-256
 *      (so the header and body checks behind the checksum are reached);
 *   2  a weight file for the same MLP.
 * Modes 0 and 1 are also read as a run of another layout reads them
 * (executor/ckpt_relayout.h): the manifest alone, the shard with its map.
 * Files go to a private temporary directory (removed at exit). The reader
 * must return a status without crashing, leaking or reading out of bounds,
 * and a rejected file must give one line of error.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/file.h"
#include "executor/ckpt.h"
#include "executor/sha256.h"
#include "executor/weights.h"
#include "fuzz/fuzz_common.h"

#define NPARAMS 868
#define NSTATE (2 * NPARAMS)
#define STEP 5

static char root[64];
static char good_shard[4096 + (NPARAMS + NSTATE) * 4];
static size_t good_len;

static void remove_root(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/step-%08d/manifest.json", root, STEP);
    unlink(path);
    snprintf(path, sizeof path, "%s/step-%08d/rank-00000.bin", root, STEP);
    unlink(path);
    snprintf(path, sizeof path, "%s/weights.bin", root);
    unlink(path);
    snprintf(path, sizeof path, "%s/step-%08d", root, STEP);
    rmdir(path);
    rmdir(root);
}

static void meta(dml_ckpt_meta *m)
{
    memset(m, 0, sizeof *m);
    m->step = STEP;
    m->world = m->dp = m->tp = m->pp = 1;
    snprintf(m->optimizer, sizeof m->optimizer, "adamw");
    m->seed = 1;
    m->samples_seen = 32 * STEP;
    /* A run identity (identity.h), so that the valid files get past its
     * check to the body checks behind it. */
    static const char text[] = "dml-exec identity 1\nseed=1\n";
    dml_sha256_hex(text, sizeof text - 1, m->identity);
    m->identity_text = text;
}

/* Once per process: the directory and a valid shard, written by the
 * executor's own writer. */
static void init(void)
{
    snprintf(root, sizeof root, "/tmp/dml-fuzz-ckpt-XXXXXX");
    DML_FUZZ_ASSERT(mkdtemp(root) != NULL);
    atexit(remove_root);
    dml_error err;
    DML_FUZZ_ASSERT(dml_ckpt_prepare(root, STEP, &err) == DML_OK);
    static float params[NPARAMS], state[NSTATE];
    for (int i = 0; i < NPARAMS; i++)
        params[i] = (float)((i * 37) % 101 - 50) / 100.0f;
    for (int i = 0; i < NSTATE; i++)
        state[i] = (float)((i * 13) % 29) / 50.0f;
    dml_ckpt_meta m;
    meta(&m);
    char sha[65];
    uint64_t bytes = 0;
    DML_FUZZ_ASSERT(dml_ckpt_write_shard(root, &m, 0, params, NPARAMS, state,
                                         NSTATE, sha, &bytes, &err) ==
                    DML_OK);
    char path[256], *text = NULL;
    snprintf(path, sizeof path, "%s/step-%08d/rank-00000.bin", root, STEP);
    DML_FUZZ_ASSERT(dml_file_read_all(path, sizeof good_shard, &text,
                                      &good_len, &err) == DML_OK);
    memcpy(good_shard, text, good_len);
    free(text);
}

static void write_file(const char *name, const void *data, size_t len)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", root, name);
    FILE *f = fopen(path, "wb");
    DML_FUZZ_ASSERT(f != NULL);
    DML_FUZZ_ASSERT(len == 0 || fwrite(data, 1, len, f) == len);
    DML_FUZZ_ASSERT(fclose(f) == 0);
}

/* A manifest for a shard of len bytes with checksum sha. */
static void write_manifest(const char *sha, size_t len)
{
    char text[1024];
    int n = snprintf(text, sizeof text,
                     "{\"schema_version\": 1, \"kind\": \"dml-checkpoint\", "
                     "\"step\": %d, \"world\": 1, \"dp\": 1, \"tp\": 1, "
                     "\"pp\": 1, \"zero\": 0, \"optimizer\": \"adamw\", "
                     "\"seed\": \"1\", \"shuffle\": false, "
                     "\"samples_seen\": %d, \"shards\": [{\"rank\": 0, "
                     "\"file\": \"rank-00000.bin\", \"bytes\": %zu, "
                     "\"sha256\": \"%s\"}]}",
                     STEP, 32 * STEP, len, sha);
    char name[64];
    snprintf(name, sizeof name, "step-%08d/manifest.json", STEP);
    write_file(name, text, (size_t)n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!root[0])
        init();
    if (size < 1)
        return 0;
    int mode = data[0] % 3;
    data++;
    size--;
    char shard_name[64], sha[65];
    snprintf(shard_name, sizeof shard_name, "step-%08d/rank-00000.bin", STEP);
    dml_error err;
    dml_error_clear(&err);
    dml_status s;
    if (mode == 2) {
        write_file("weights.bin", data, size);
        dml_mlp_shape shape = {.layers = 3, .widths = {32, 16, 16, 4}};
        float *values = NULL;
        char path[256];
        snprintf(path, sizeof path, "%s/weights.bin", root);
        s = dml_weights_read(path, &shape, &values, &err);
        free(values);
    } else {
        if (mode == 0) {
            write_file(shard_name, good_shard, good_len);
            char name[64];
            snprintf(name, sizeof name, "step-%08d/manifest.json", STEP);
            write_file(name, data, size);
        } else {
            write_file(shard_name, data, size);
            dml_sha256_hex(data, size, sha);
            write_manifest(sha, size);
        }
        static float params[NPARAMS], state[NSTATE];
        dml_ckpt_meta want, got;
        meta(&want);
        s = dml_ckpt_read_shard(root, STEP, 0, &want, params, NPARAMS, state,
                                NSTATE, &got, &err);
        if (s == DML_OK)
            DML_FUZZ_ASSERT(got.step == STEP);
        if (s != DML_OK)
            dml_fuzz_check_error(&err);
        /* what a run of another layout reads (ckpt_relayout.h): the
         * manifest alone, then the shard with its map */
        dml_error_clear(&err);
        char *text = NULL;
        s = dml_ckpt_read_manifest(root, STEP, &got, &text, &err);
        free(text);
        if (s != DML_OK)
            dml_fuzz_check_error(&err);
        dml_error_clear(&err);
        float *p = NULL, *st = NULL;
        size_t np = 0, ns = 0;
        dml_ckpt_map map;
        s = dml_ckpt_read_shard_any(root, STEP, 0, &want, &p, &np, &st, &ns,
                                    &map, &err);
        if (s == DML_OK)
            DML_FUZZ_ASSERT(map.owned_values * (uint64_t)map.state_slots +
                                map.sync_values ==
                            ns);
        free(p);
        free(st);
        dml_ckpt_map_free(&map);
    }
    if (s != DML_OK)
        dml_fuzz_check_error(&err);
    return 0;
}
