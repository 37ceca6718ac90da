/*
 * ckpt.c: checkpoint shards and manifests (see ckpt.h).
 */
#include "executor/ckpt.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "common/json.h"
#include "executor/guard.h"
#include "executor/identity.h"
#include "executor/sha256.h"

void dml_ckpt_dir(const char *root, int64_t step, char *out, size_t size)
{
    snprintf(out, size, "%s/step-%08lld", root, (long long)step);
}

static void shard_path(const char *root, int64_t step, int rank, char *out,
                       size_t size)
{
    char dir[1024];
    dml_ckpt_dir(root, step, dir, sizeof dir);
    snprintf(out, size, "%s/rank-%05d.bin", dir, rank);
}

static void manifest_path(const char *root, int64_t step, char *out,
                          size_t size)
{
    char dir[1024];
    dml_ckpt_dir(root, step, dir, sizeof dir);
    snprintf(out, size, "%s/manifest.json", dir);
}

static dml_status make_dir(const char *path, dml_error *err)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return dml_error_set(err, DML_EIO, path, 0, 0, NULL,
                             "cannot create checkpoint directory: %s",
                             strerror(errno));
    return DML_OK;
}

dml_status dml_ckpt_prepare(const char *root, int64_t step, dml_error *err)
{
    DML_CHECK(make_dir(root, err));
    char dir[1024], man[1100];
    dml_ckpt_dir(root, step, dir, sizeof dir);
    DML_CHECK(make_dir(dir, err));
    manifest_path(root, step, man, sizeof man);
    if (unlink(man) != 0 && errno != ENOENT)
        return dml_error_set(err, DML_EIO, man, 0, 0, NULL,
                             "cannot remove stale manifest: %s",
                             strerror(errno));
    /* A writer killed before its rename leaves NAME.tmp.XXXXXX behind;
     * nothing reads them, so they would only fill the disk. */
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (!strstr(e->d_name, ".tmp."))
            continue;
        char tmp[1400];
        snprintf(tmp, sizeof tmp, "%s/%s", dir, e->d_name);
        (void)unlink(tmp);
    }
    if (d)
        closedir(d);
    return DML_OK;
}

/* The fields every file of a checkpoint repeats, so that a shard or a
 * manifest from another run or layout is recognised. */
static json_t *meta_json(const dml_ckpt_meta *m, const char *kind)
{
    char seed[32];
    snprintf(seed, sizeof seed, "%" PRIu64, m->seed);
    return json_pack("{s:i, s:s, s:I, s:i, s:i, s:i, s:i, s:i, s:s, s:s, "
                     "s:b, s:I, s:s}",
                     "schema_version", 1, "kind", kind, "step",
                     (json_int_t)m->step, "world", m->world, "dp", m->dp,
                     "tp", m->tp, "pp", m->pp, "zero", m->zero, "optimizer",
                     m->optimizer, "seed", seed, "shuffle", (int)m->shuffle,
                     "samples_seen", (json_int_t)m->samples_seen, "identity",
                     m->identity);
}

/* A shard's map (ckpt.h) as its header writes it. */
static json_t *map_json(const dml_ckpt_map *map)
{
    json_t *owned = json_array();
    for (int i = 0; i < map->nowned; i++)
        json_array_append_new(
            owned, json_pack("{s:I, s:I, s:I}", "lo",
                             (json_int_t)map->owned[i].lo, "hi",
                             (json_int_t)map->owned[i].hi, "state_off",
                             (json_int_t)map->owned[i].state_off));
    return json_pack("{s:i, s:i, s:i, s:i, s:o, s:I}", "first_layer",
                     map->first_layer, "last_layer", map->last_layer,
                     "tp_index", map->tp_index, "state_slots",
                     map->state_slots, "owned", owned, "sync_state",
                     (json_int_t)map->sync_values);
}

void dml_ckpt_map_free(dml_ckpt_map *m)
{
    free(m->owned);
    memset(m, 0, sizeof *m);
}

/* Which shard test_hook_stall is called for. */
typedef struct stall_at {
    const dml_ckpt_meta *m; /* the checkpoint being written */
    int rank;               /* the rank writing its shard */
} stall_at;

/*
 * Test hook (tests/integration/reliability/fault_ckpt.sh), inert unless
 * DML_TEST_CKPT_STALL is set to "STEP:RANK:MARKER": the rank RANK writing
 * its shard of checkpoint STEP stops after the temporary file is complete
 * and synced and before the rename, creates the file MARKER, and waits
 * there (at most 60 s) for the test to kill it.
 */
static void test_hook_stall(void *arg)
{
    const stall_at *at_shard = arg;
    const char *v = getenv("DML_TEST_CKPT_STALL");
    long long step;
    int r, at = 0;
    if (!v || sscanf(v, "%lld:%d:%n", &step, &r, &at) != 2 || at == 0 ||
        step != at_shard->m->step || r != at_shard->rank)
        return;
    FILE *f = fopen(v + at, "w");
    if (f)
        fclose(f);
    for (int i = 0; i < 6000; i++)
        usleep(10000);
}

/*
 * The shard file, atomically (dml_file_write_atomic_parts: a temporary
 * file in the same directory, fsync, rename, fsync of the directory) but
 * written piece by piece from where the state lies, so that no copy of the
 * rank's whole state is made. A full disk (ENOSPC) or a file size limit
 * (EFBIG) is DML_EIO with the system's reason; the temporary file is
 * removed and the previous checkpoints are untouched.
 */
dml_status dml_ckpt_write_shard(const char *root, const dml_ckpt_meta *m,
                                int rank, const float *params, size_t nparams,
                                const float *state, size_t nstate,
                                char sha[65], uint64_t *bytes, dml_error *err)
{
    json_t *h = meta_json(m, "dml-checkpoint-shard");
    if (h) {
        json_object_set_new(h, "rank", json_integer(rank));
        json_object_set_new(h, "params", json_integer((json_int_t)nparams));
        json_object_set_new(h, "state", json_integer((json_int_t)nstate));
        if (m->map)
            json_object_set_new(h, "map", map_json(m->map));
    }
    char *text = h ? json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(h);
    if (!text)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    size_t hlen = strlen(text);
    text[hlen] = '\n'; /* json_dumps leaves room for the NUL */
    const dml_file_part parts[] = {{text, hlen + 1},
                                   {params, nparams * sizeof(float)},
                                   {state, nstate * sizeof(float)}};
    const size_t nparts = sizeof parts / sizeof parts[0];
    char path[1200];
    shard_path(root, m->step, rank, path, sizeof path);
    stall_at at = {m, rank};
    dml_status s = dml_file_write_atomic_parts(path, parts, nparts,
                                               "checkpoint shard",
                                               test_hook_stall, &at, err);
    if (s == DML_OK) {
        dml_sha256 c;
        dml_sha256_init(&c);
        *bytes = 0;
        for (size_t i = 0; i < nparts; i++) {
            if (parts[i].len)
                dml_sha256_update(&c, parts[i].data, parts[i].len);
            *bytes += parts[i].len;
        }
        unsigned char digest[32];
        dml_sha256_final(&c, digest);
        for (int i = 0; i < 32; i++)
            snprintf(sha + 2 * i, 3, "%02x", digest[i]);
    }
    free(text);
    return s;
}

dml_status dml_ckpt_write_manifest(const char *root, const dml_ckpt_meta *m,
                                   const char (*sha)[65],
                                   const uint64_t *bytes,
                                   char manifest_sha[65], uint64_t *total,
                                   dml_error *err)
{
    json_t *h = meta_json(m, "dml-checkpoint");
    if (h && m->identity_text)
        json_object_set_new(h, "identity_text",
                            json_string(m->identity_text));
    json_t *shards = json_array();
    uint64_t sum = 0;
    for (int r = 0; r < m->world; r++) {
        char file[32];
        snprintf(file, sizeof file, "rank-%05d.bin", r);
        json_array_append_new(shards,
                              json_pack("{s:i, s:s, s:I, s:s}", "rank", r,
                                        "file", file, "bytes",
                                        (json_int_t)bytes[r], "sha256",
                                        sha[r]));
        sum += bytes[r];
    }
    if (h)
        json_object_set_new(h, "shards", shards);
    else
        json_decref(shards);
    char *text = h ? json_dumps(h, JSON_INDENT(1) | JSON_PRESERVE_ORDER)
                   : NULL;
    json_decref(h);
    if (!text)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    size_t len = strlen(text);
    dml_sha256_hex(text, len, manifest_sha);
    *total = sum + len;
    char path[1200];
    manifest_path(root, m->step, path, sizeof path);
    dml_status s = dml_file_write_atomic(path, text, len, err);
    free(text);
    return s;
}

static int cmp_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

void dml_ckpt_stop_path(const char *root, char *out, size_t size)
{
    snprintf(out, size, "%s/stop-at-checkpoint", root);
}

bool dml_ckpt_stop_requested(const char *root)
{
    char path[4096];
    dml_ckpt_stop_path(root, path, sizeof path);
    return access(path, F_OK) == 0;
}

dml_status dml_ckpt_list(const char *root, int64_t **steps, size_t *n,
                         dml_error *err)
{
    *steps = NULL;
    *n = 0;
    DIR *d = opendir(root);
    if (!d)
        return DML_OK;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long long step;
        char tail;
        if (sscanf(e->d_name, "step-%lld%c", &step, &tail) != 1 || step < 0)
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            int64_t *grown = realloc(*steps, cap * sizeof **steps);
            if (!grown) {
                closedir(d);
                free(*steps);
                *steps = NULL;
                *n = 0;
                return dml_error_msg(err, DML_ENOMEM, "out of memory");
            }
            *steps = grown;
        }
        (*steps)[(*n)++] = step;
    }
    closedir(d);
    if (*n > 1)
        qsort(*steps, *n, sizeof **steps, cmp_desc);
    return DML_OK;
}

/* A decimal whole number from 0 to UINT64_MAX, all of text (no sign,
 * space, or anything after the digits): "1abc" is not 1. */
static bool parse_u64(const char *text, uint64_t *out)
{
    if (!text[0] || strlen(text) > 20)
        return false;
    uint64_t v = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static bool is_sha256_hex(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return false;
    return n == 64;
}

/* The identity of doc against expect's: DML_OK when the same; otherwise
 * the error names the first field that differs when the document carries
 * the identity's text (a manifest does). */
static dml_status check_identity(const dml_json_doc *doc, const char *sha,
                                 const dml_ckpt_meta *expect, dml_error *err)
{
    if (strcmp(sha, expect->identity) == 0)
        return DML_OK;
    dml_json_obj o;
    dml_json_obj_root(doc, &o);
    const char *text = NULL;
    char what[700] = "";
    if (expect->identity_text &&
        dml_json_get_str(&o, "identity_text", false, &text, NULL) == DML_OK &&
        text && !dml_identity_diff(text, expect->identity_text, what,
                                   sizeof what))
        snprintf(what, sizeof what, "its identity text does not match its "
                 "SHA-256");
    return dml_error_set(err, DML_EINPUT, dml_json_doc_name(doc), 0, 0, NULL,
                         "written for another plan, data or start (identity "
                         "%.12s..., this run %.12s...)%s%s",
                         sha, expect->identity, what[0] ? ": " : "", what);
}

/* A file of a dml-exec from before a field existed: "written by an older
 * dml-exec, without <what>". */
static dml_status older_writer(const dml_json_doc *doc, const char *what,
                               dml_error *err)
{
    return dml_error_set(err, DML_EINPUT, dml_json_doc_name(doc), 0, 0, NULL,
                         "written by an older dml-exec, without %s", what);
}

/* Read the meta fields of a manifest or shard header into got. */
static dml_status parse_meta(const dml_json_doc *doc, const char *kind,
                             dml_ckpt_meta *got, dml_error *err)
{
    dml_json_obj o;
    dml_json_obj_root(doc, &o);
    const char *k = NULL, *opt = NULL, *seed = NULL;
    int64_t ver, step, world, dp, tp, pp, zero, seen;
    bool shuffle;
    DML_CHECK(dml_json_get_i64(&o, "schema_version", true, 1, 1, &ver, err));
    DML_CHECK(dml_json_get_str(&o, "kind", true, &k, err));
    if (strcmp(k, kind) != 0)
        return dml_json_doc_error(doc, err, "kind", false,
                                  "expected \"%s\", found \"%s\"", kind, k);
    DML_CHECK(dml_json_get_i64(&o, "step", true, 0, INT64_MAX, &step, err));
    DML_CHECK(dml_json_get_i64(&o, "world", true, 1, 1 << 30, &world, err));
    DML_CHECK(dml_json_get_i64(&o, "dp", true, 1, 1 << 30, &dp, err));
    DML_CHECK(dml_json_get_i64(&o, "tp", true, 1, 1 << 30, &tp, err));
    DML_CHECK(dml_json_get_i64(&o, "pp", true, 1, 1 << 30, &pp, err));
    DML_CHECK(dml_json_get_i64(&o, "zero", true, 0, 3, &zero, err));
    DML_CHECK(dml_json_get_str(&o, "optimizer", true, &opt, err));
    DML_CHECK(dml_json_get_str(&o, "seed", true, &seed, err));
    DML_CHECK(dml_json_get_bool(&o, "shuffle", true, &shuffle, err));
    DML_CHECK(dml_json_get_i64(&o, "samples_seen", true, 0, INT64_MAX, &seen,
                               err));
    uint64_t seed_v = 0;
    if (!parse_u64(seed, &seed_v))
        return dml_json_doc_error(doc, err, "seed", false,
                                  "\"%.40s\" is not a whole number from 0 "
                                  "to 18446744073709551615",
                                  seed);
    const char *ident = NULL;
    DML_CHECK(dml_json_get_str(&o, "identity", false, &ident, err));
    if (!ident)
        return older_writer(doc, "the run's identity: which plan and data it "
                                 "belongs to cannot be told, so it is not "
                                 "used", err);
    if (!is_sha256_hex(ident))
        return dml_json_doc_error(doc, err, "identity", false,
                                  "expected 64 lower-case hexadecimal digits");
    memset(got, 0, sizeof *got);
    got->step = step;
    got->world = (int)world;
    got->dp = (int)dp;
    got->tp = (int)tp;
    got->pp = (int)pp;
    got->zero = (int)zero;
    snprintf(got->optimizer, sizeof got->optimizer, "%s", opt);
    got->seed = seed_v;
    snprintf(got->identity, sizeof got->identity, "%s", ident);
    got->shuffle = shuffle;
    got->samples_seen = seen;
    return DML_OK;
}

/* Read the meta fields of a manifest or shard header and compare them with
 * expect; the first difference is the error. */
static dml_status check_meta(const dml_json_doc *doc, const char *kind,
                             const dml_ckpt_meta *expect, dml_ckpt_meta *got,
                             dml_error *err)
{
    DML_CHECK(parse_meta(doc, kind, got, err));
    if (got->world != expect->world || got->dp != expect->dp ||
        got->tp != expect->tp || got->pp != expect->pp ||
        got->zero != expect->zero)
        return dml_error_set(err, DML_EINPUT, dml_json_doc_name(doc), 0, 0,
                             NULL,
                             "written by layout dp=%d tp=%d pp=%d zero=%d, "
                             "this run is dp=%d tp=%d pp=%d zero=%d",
                             got->dp, got->tp, got->pp, got->zero, expect->dp,
                             expect->tp, expect->pp, expect->zero);
    if (strcmp(got->optimizer, expect->optimizer) != 0)
        return dml_error_set(err, DML_EINPUT, dml_json_doc_name(doc), 0, 0,
                             NULL, "written with optimizer %s, this run uses %s",
                             got->optimizer, expect->optimizer);
    if (got->seed != expect->seed || got->shuffle != expect->shuffle)
        return dml_error_set(err, DML_EINPUT, dml_json_doc_name(doc), 0, 0,
                             NULL,
                             "written with seed %" PRIu64 " shuffle %s, this "
                             "run uses seed %" PRIu64 " shuffle %s",
                             got->seed, got->shuffle ? "epoch" : "none",
                             expect->seed, expect->shuffle ? "epoch" : "none");
    return check_identity(doc, got->identity, expect, err);
}

/* A shard file read and checked against its manifest and expect. */
typedef struct shard_file {
    char path[1200];
    char *data;            /* the whole file */
    const char *body;      /* its values, after the header line */
    dml_json_doc *hdr;     /* the header line */
    dml_ckpt_meta meta;    /* the header's fields */
    int64_t np, ns;        /* parameters and state values it holds */
} shard_file;

static void shard_file_free(shard_file *f)
{
    dml_json_doc_free(f->hdr);
    free(f->data);
    f->hdr = NULL;
    f->data = NULL;
}

/* The manifest of checkpoint step (its path into mpath[1200]). */
static dml_status load_manifest(const char *root, int64_t step, char *mpath,
                                dml_json_doc **man, dml_error *err)
{
    manifest_path(root, step, mpath, 1200);
    if (!dml_file_exists(mpath))
        return dml_error_set(err, DML_EINPUT, mpath, 0, 0, NULL,
                             "missing: the checkpoint is partial");
    return dml_json_doc_load_file(mpath, man, err);
}

/* The manifest's entry for `rank`: the shard's SHA-256 and size. */
static dml_status manifest_entry(const dml_json_doc *man, int world, int rank,
                                 const char **sha, int64_t *bytes,
                                 dml_error *err)
{
    dml_json_obj root_o, sh;
    json_t *arr;
    size_t n;
    dml_json_obj_root(man, &root_o);
    DML_CHECK(dml_json_get_array(&root_o, "shards", true, &arr, &n, NULL,
                                 err));
    if (n != (size_t)world)
        return dml_json_doc_error(man, err, "shards", false,
                                  "%zu shards for %d ranks", n, world);
    DML_CHECK(dml_json_array_obj(&root_o, "shards", arr, (size_t)rank, &sh,
                                 err));
    DML_CHECK(dml_json_get_str(&sh, "sha256", true, sha, err));
    return dml_json_get_i64(&sh, "bytes", true, 0, INT64_MAX, bytes, err);
}

/*
 * Read shard `rank` of checkpoint step: the manifest must exist and match
 * expect, the shard its size and SHA-256, the header expect and the file's
 * rank and step, and hold want_np + want_ns values (SIZE_MAX: as many as
 * its header says).
 */
static dml_status load_shard(const char *root, int64_t step, int rank,
                             const dml_ckpt_meta *expect, size_t want_np,
                             size_t want_ns, shard_file *f, dml_error *err)
{
    memset(f, 0, sizeof *f);
    char mpath[1200];
    shard_path(root, step, rank, f->path, sizeof f->path);
    dml_json_doc *man = NULL;
    DML_CHECK(load_manifest(root, step, mpath, &man, err));
    dml_ckpt_meta mm;
    const char *want_sha = NULL;
    int64_t want_bytes = 0;
    size_t len = 0;
    dml_status s = check_meta(man, "dml-checkpoint", expect, &mm, err);
    if (s == DML_OK && mm.step != step)
        s = dml_error_set(err, DML_EINPUT, mpath, 0, 0, NULL,
                          "says step %lld, its directory says %lld",
                          (long long)mm.step, (long long)step);
    if (s == DML_OK)
        s = manifest_entry(man, mm.world, rank, &want_sha, &want_bytes, err);
    if (s == DML_OK)
        s = dml_file_read_all(f->path, (size_t)want_bytes + 1, &f->data, &len,
                              err);
    if (s == DML_OK && len != (size_t)want_bytes)
        s = dml_error_set(err, DML_EINPUT, f->path, 0, 0, NULL,
                          "%zu bytes, the manifest says %lld", len,
                          (long long)want_bytes);
    if (s == DML_OK) {
        char sha[65];
        dml_sha256_hex(f->data, len, sha);
        if (strcmp(sha, want_sha) != 0)
            s = dml_error_set(err, DML_EINPUT, f->path, 0, 0, NULL,
                              "SHA-256 %.12s... differs from the manifest's "
                              "%.12s...: corrupt shard",
                              sha, want_sha);
    }
    dml_json_doc_free(man);
    const char *nl = s == DML_OK ? memchr(f->data, '\n', len) : NULL;
    if (s == DML_OK && !nl)
        s = dml_error_set(err, DML_EINPUT, f->path, 0, 0, NULL,
                          "no header line");
    if (s == DML_OK)
        s = dml_json_doc_load_text(f->path, f->data, (size_t)(nl - f->data),
                                   &f->hdr, err);
    if (s == DML_OK)
        s = check_meta(f->hdr, "dml-checkpoint-shard", expect, &f->meta, err);
    int64_t r = 0;
    dml_json_obj o;
    if (s == DML_OK) {
        dml_json_obj_root(f->hdr, &o);
        s = dml_json_get_i64(&o, "rank", true, 0, INT32_MAX, &r, err);
    }
    if (s == DML_OK)
        s = dml_json_get_i64(&o, "params", true, 0, INT64_MAX, &f->np, err);
    if (s == DML_OK)
        s = dml_json_get_i64(&o, "state", true, 0, INT64_MAX, &f->ns, err);
    if (s == DML_OK) {
        f->body = nl + 1;
        size_t body = len - (size_t)(f->body - f->data);
        size_t np = want_np == SIZE_MAX ? (size_t)f->np : want_np;
        size_t ns = want_ns == SIZE_MAX ? (size_t)f->ns : want_ns;
        if (r != rank || (size_t)f->np != np || (size_t)f->ns != ns ||
            body / sizeof(float) != np + ns || body % sizeof(float) != 0 ||
            f->meta.step != step)
            s = dml_error_set(err, DML_EINPUT, f->path, 0, 0, NULL,
                              "shard of rank %lld step %lld with %lld+%lld "
                              "values, expected rank %d step %lld with "
                              "%zu+%zu",
                              (long long)r, (long long)f->meta.step,
                              (long long)f->np, (long long)f->ns, rank,
                              (long long)step, np, ns);
    }
    if (s != DML_OK)
        shard_file_free(f);
    return s;
}

/* A checksum proves the bytes are the ones written, not that they are
 * numbers: a NaN would train on silently. */
static dml_status check_finite(const shard_file *f, const float *params,
                               size_t nparams, const float *state,
                               size_t nstate, dml_error *err)
{
    size_t body = (size_t)(f->body - f->data);
    size_t i = dml_guard_first_nonfinite(params, nparams);
    size_t j = i < nparams ? nstate : dml_guard_first_nonfinite(state, nstate);
    if (i >= nparams && j >= nstate)
        return DML_OK;
    bool p = i < nparams;
    float v = p ? params[i] : state[j];
    return dml_error_set(err, DML_EINPUT, f->path, 0, 0, NULL,
                         "%s value %zu of %zu (byte offset %zu) is %s",
                         p ? "parameter" : "optimizer state", p ? i : j,
                         p ? nparams : nstate,
                         body + (p ? i : nparams + j) * sizeof(float),
                         v != v ? "NaN" : v > 0 ? "+inf" : "-inf");
}

dml_status dml_ckpt_read_shard(const char *root, int64_t step, int rank,
                               const dml_ckpt_meta *expect, float *params,
                               size_t nparams, float *state, size_t nstate,
                               dml_ckpt_meta *got, dml_error *err)
{
    shard_file f;
    DML_CHECK(load_shard(root, step, rank, expect, nparams, nstate, &f, err));
    if (nparams)
        memcpy(params, f.body, nparams * sizeof(float));
    if (nstate)
        memcpy(state, f.body + nparams * sizeof(float), nstate * sizeof(float));
    dml_status s = check_finite(&f, params, nparams, state, nstate, err);
    if (s == DML_OK)
        *got = f.meta;
    shard_file_free(&f);
    return s;
}

dml_status dml_ckpt_read_manifest(const char *root, int64_t step,
                                  dml_ckpt_meta *got, char **identity_text,
                                  dml_error *err)
{
    *identity_text = NULL;
    char mpath[1200];
    dml_json_doc *man = NULL;
    DML_CHECK(load_manifest(root, step, mpath, &man, err));
    dml_json_obj o;
    dml_json_obj_root(man, &o);
    const char *text = NULL;
    dml_status s = parse_meta(man, "dml-checkpoint", got, err);
    if (s == DML_OK)
        s = dml_json_get_str(&o, "identity_text", true, &text, err);
    char sha[65];
    if (s == DML_OK) {
        dml_sha256_hex(text, strlen(text), sha);
        if (strcmp(sha, got->identity) != 0)
            s = dml_json_doc_error(man, err, "identity_text", false,
                                   "its SHA-256 %.12s... is not the "
                                   "identity %.12s...",
                                   sha, got->identity);
    }
    if (s == DML_OK && !(*identity_text = strdup(text)))
        s = dml_error_msg(err, DML_ENOMEM, "out of memory");
    dml_json_doc_free(man);
    return s;
}

/* The map of a shard header whose values are np + ns (ckpt.h): ranges
 * inside the parameters, in order, their state inside the state. */
static dml_status parse_map(const dml_json_doc *hdr, int64_t np, int64_t ns,
                            dml_ckpt_map *map, dml_error *err)
{
    dml_json_obj o, mo;
    bool present = false;
    json_t *arr;
    size_t n;
    int64_t v[4];
    memset(map, 0, sizeof *map);
    dml_json_obj_root(hdr, &o);
    DML_CHECK(dml_json_get_obj(&o, "map", false, &mo, &present, err));
    if (!present)
        return older_writer(hdr, "the map of its values: it resumes only on "
                                 "its own layout", err);
    DML_CHECK(dml_json_get_i64(&mo, "first_layer", true, 0, 1 << 20, &v[0],
                               err));
    DML_CHECK(dml_json_get_i64(&mo, "last_layer", true, v[0], 1 << 20, &v[1],
                               err));
    DML_CHECK(dml_json_get_i64(&mo, "tp_index", true, 0, 1 << 20, &v[2], err));
    DML_CHECK(dml_json_get_i64(&mo, "state_slots", true, 0, 2, &v[3], err));
    map->first_layer = (int)v[0];
    map->last_layer = (int)v[1];
    map->tp_index = (int)v[2];
    map->state_slots = (int)v[3];
    DML_CHECK(dml_json_get_i64(&mo, "sync_state", true, 0, ns, &v[0], err));
    map->sync_values = (uint64_t)v[0];
    DML_CHECK(dml_json_get_array(&mo, "owned", true, &arr, &n, NULL, err));
    map->owned = calloc(n ? n : 1, sizeof *map->owned);
    if (!map->owned)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    map->nowned = (int)n;
    dml_status s = DML_OK;
    int64_t end = 0;
    for (size_t i = 0; i < n && s == DML_OK; i++) {
        dml_json_obj r;
        dml_ckpt_range *g = &map->owned[i];
        s = dml_json_array_obj(&mo, "owned", arr, i, &r, err);
        if (s == DML_OK)
            s = dml_json_get_i64(&r, "lo", true, end, np, &v[0], err);
        if (s == DML_OK)
            s = dml_json_get_i64(&r, "hi", true, v[0], np, &v[1], err);
        if (s == DML_OK)
            s = dml_json_get_i64(&r, "state_off", true, 0, ns, &v[2], err);
        if (s != DML_OK)
            break;
        *g = (dml_ckpt_range){(uint64_t)v[0], (uint64_t)v[1],
                              (uint64_t)v[2]};
        end = v[1];
        map->owned_values += g->hi - g->lo;
    }
    uint64_t opt = (uint64_t)map->state_slots * map->owned_values;
    for (int i = 0; i < map->nowned && s == DML_OK; i++)
        if (map->owned[i].state_off + (map->owned[i].hi - map->owned[i].lo) >
            map->owned_values)
            s = dml_json_doc_error(hdr, err, "map.owned", false,
                                   "range %d's state lies past the %llu "
                                   "values of a slot",
                                   i, (unsigned long long)map->owned_values);
    if (s == DML_OK && opt + map->sync_values != (uint64_t)ns)
        s = dml_json_doc_error(hdr, err, "map", false,
                               "%d x %llu optimizer and %llu exchange state "
                               "values, the shard holds %lld",
                               map->state_slots,
                               (unsigned long long)map->owned_values,
                               (unsigned long long)map->sync_values,
                               (long long)ns);
    if (s != DML_OK)
        dml_ckpt_map_free(map);
    return s;
}

dml_status dml_ckpt_read_shard_any(const char *root, int64_t step, int rank,
                                   const dml_ckpt_meta *expect,
                                   float **params, size_t *nparams,
                                   float **state, size_t *nstate,
                                   dml_ckpt_map *map, dml_error *err)
{
    *params = *state = NULL;
    memset(map, 0, sizeof *map);
    shard_file f;
    DML_CHECK(load_shard(root, step, rank, expect, SIZE_MAX, SIZE_MAX, &f,
                         err));
    dml_status s = parse_map(f.hdr, f.np, f.ns, map, err);
    *nparams = (size_t)f.np;
    *nstate = (size_t)f.ns;
    if (s == DML_OK) {
        *params = malloc(*nparams ? *nparams * sizeof(float) : 1);
        *state = malloc(*nstate ? *nstate * sizeof(float) : 1);
        if (!*params || !*state)
            s = dml_error_msg(err, DML_ENOMEM, "out of memory");
    }
    if (s == DML_OK) {
        memcpy(*params, f.body, *nparams * sizeof(float));
        memcpy(*state, f.body + *nparams * sizeof(float),
               *nstate * sizeof(float));
        s = check_finite(&f, *params, *nparams, *state, *nstate, err);
    }
    if (s != DML_OK) {
        free(*params);
        free(*state);
        *params = *state = NULL;
        dml_ckpt_map_free(map);
    }
    shard_file_free(&f);
    return s;
}
