/*
 * identity.c: the identity of a run (see identity.h).
 *
 * Built from the parsed plan, not from the plan file's text, so that a
 * field spelled out in one plan file and left to its default in another
 * gives the same identity, and so that the names and the prediction,
 * which do not change the weights, stay out of it.
 */
#include "executor/identity.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "executor/data.h"
#include "executor/sha256.h"

/* Text being built; overflow is remembered, not written past. */
typedef struct text {
    char *buf;
    size_t size, len;
    bool full;
} text;

static void add(text *t, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add(text *t, const char *key, const char *fmt, ...)
{
    if (t->full)
        return;
    int n = snprintf(t->buf + t->len, t->size - t->len, "%s=", key);
    if (n < 0 || (size_t)n >= t->size - t->len) {
        t->full = true;
        return;
    }
    t->len += (size_t)n;
    va_list ap;
    va_start(ap, fmt);
    n = vsnprintf(t->buf + t->len, t->size - t->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n + 1 >= t->size - t->len) {
        t->full = true;
        return;
    }
    t->len += (size_t)n;
    t->buf[t->len++] = '\n';
    t->buf[t->len] = '\0';
}

/* The shortest of %.15g, %.16g and %.17g that reads back as x, so that
 * 0.95 is "0.95" and every double still has one text. */
static const char *num(double x, char *buf, size_t size)
{
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, size, "%.*g", digits, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    return buf;
}

/* "a,b,c" of n integers into out. */
static void join_i64(const int64_t *v, int n, char *out, size_t size)
{
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < n && len < size; i++)
        len += (size_t)snprintf(out + len, size - len, "%s%lld",
                                i ? "," : "", (long long)v[i]);
}

/* SHA-256 of the training images file, then the labels file, as they lie
 * on disk (compressed or not): one hash, streamed. */
static dml_status hash_data_dir(const char *dir, char hex[65], dml_error *err)
{
    char images[1200], labels[1200];
    dml_data_idx_paths(dir, "train", images, sizeof images, labels,
                       sizeof labels);
    const char *files[2] = {images, labels};
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = malloc(CHUNK);
    if (!buf)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    dml_sha256 c;
    dml_sha256_init(&c);
    dml_status s = DML_OK;
    for (int i = 0; i < 2 && s == DML_OK; i++) {
        FILE *f = fopen(files[i], "rb");
        if (!f) {
            s = dml_error_set(err, DML_EINPUT, files[i], 0, 0, NULL,
                              "cannot open: %s", strerror(errno));
            break;
        }
        size_t n;
        while ((n = fread(buf, 1, CHUNK, f)) > 0)
            dml_sha256_update(&c, buf, n);
        if (ferror(f))
            s = dml_error_set(err, DML_EINPUT, files[i], 0, 0, NULL,
                              "cannot read: %s", strerror(errno));
        fclose(f);
    }
    free(buf);
    if (s != DML_OK)
        return s;
    unsigned char d[32];
    dml_sha256_final(&c, d);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    return DML_OK;
}

dml_status dml_identity_make(const dml_plan *p, const char *data,
                             uint64_t seed, bool shuffle,
                             const float *init_weights, size_t n,
                             dml_identity *out, dml_error *err)
{
    memset(out, 0, sizeof *out);
    text t = {out->text, sizeof out->text, 0, false};
    const dml_model_spec *m = &p->model;
    const dml_parallel_config *c = &p->par;
    const dml_train_schedule *s = &p->sched;
    char buf[1024];

    snprintf(out->text, sizeof out->text, "dml-exec identity 1\n");
    t.len = strlen(out->text);
    add(&t, "model.type", "mlp");
    int64_t widths[DML_MLP_HIDDEN_MAX + 2];
    int nw = 0;
    widths[nw++] = m->input;
    for (int i = 0; i < m->hidden_count && nw < DML_MLP_HIDDEN_MAX + 1; i++)
        widths[nw++] = m->hidden_sizes[i];
    widths[nw++] = m->output;
    join_i64(widths, nw, buf, sizeof buf);
    add(&t, "model.widths", "%s", buf);
    /* The activation's name as the model spec writes it. */
    json_t *mj = dml_model_spec_to_json(m);
    const char *act = json_string_value(json_object_get(mj, "activation"));
    add(&t, "model.activation", "%s", act ? act : "?");
    json_decref(mj);
    add(&t, "model.dtype", "%s", dml_dtype_name(m->dtype));

    add(&t, "parallel.dp", "%d", c->dp);
    add(&t, "parallel.tp", "%d", c->tp);
    add(&t, "parallel.pp", "%d", c->pp);
    add(&t, "parallel.zero", "%d", c->zero);
    add(&t, "parallel.mbs", "%lld", (long long)c->mbs);
    add(&t, "parallel.microbatches", "%lld", (long long)c->microbatches);
    add(&t, "parallel.schedule", "%s", dml_pp_schedule_name(c->schedule));
    /* the data-parallel strategy changes the weights (16-bit sums, top-k,
     * PowerSGD) and what a checkpoint holds (a residual, Q); allreduce
     * has no line, as in the identities written before strategies */
    if (c->sync.kind != DML_SYNC_ALLREDUCE)
        add(&t, "parallel.sync", "%s",
            dml_sync_spec_format(&c->sync, buf, sizeof buf));
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < p->stage_count && len < sizeof buf; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%lld-%lld",
                                i ? "," : "",
                                (long long)p->stages[i].first_layer,
                                (long long)p->stages[i].last_layer);
    add(&t, "placement.stages", "%s", buf);

    add(&t, "schedule.global_batch", "%lld", (long long)s->global_batch);
    len = 0;
    snprintf(buf, sizeof buf, "none");
    for (int i = 0; i < s->ramp_count && len < sizeof buf; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%lld:%lld",
                                i ? "," : "",
                                (long long)s->ramp[i].until_step,
                                (long long)s->ramp[i].global_batch);
    add(&t, "schedule.batch_ramp", "%s", buf);
    add(&t, "schedule.optimizer", "%s", dml_optimizer_name(s->optimizer));
    char v[32];
    add(&t, "schedule.weight_decay", "%s", num(s->weight_decay, v, sizeof v));
    if (s->optimizer == DML_OPT_SGD || s->optimizer == DML_OPT_LARS) {
        add(&t, "schedule.momentum", "%s", num(s->momentum, v, sizeof v));
    } else {
        add(&t, "schedule.beta1", "%s", num(s->beta1, v, sizeof v));
        add(&t, "schedule.beta2", "%s", num(s->beta2, v, sizeof v));
        add(&t, "schedule.eps", "%s", num(s->eps, v, sizeof v));
    }
    /* Biases take no weight decay and no trust ratio since issue 12; a
     * checkpoint from before, where that changed its weights, lacks the
     * line and is not resumed by a run that would update differently. */
    if (s->weight_decay != 0 || s->optimizer == DML_OPT_LAMB ||
        s->optimizer == DML_OPT_LARS)
        add(&t, "schedule.no_decay", "biases");
    add(&t, "schedule.peak_lr", "%s", num(s->peak_lr, v, sizeof v));
    add(&t, "schedule.min_lr", "%s", num(s->min_lr, v, sizeof v));
    add(&t, "schedule.warmup_steps", "%lld", (long long)s->warmup_steps);
    add(&t, "schedule.decay", "%s", dml_lr_decay_name(s->decay));
    add(&t, "schedule.decay_steps", "%lld", (long long)s->decay_steps);

    if (!data || strcmp(data, "synthetic") == 0) {
        add(&t, "data", "synthetic %lldx%lld", (long long)m->input,
            (long long)m->output);
    } else {
        char hex[65];
        DML_CHECK(hash_data_dir(data, hex, err));
        add(&t, "data", "sha256:%s", hex);
    }
    add(&t, "seed", "%" PRIu64, seed);
    add(&t, "shuffle", "%s", shuffle ? "epoch" : "none");
    if (init_weights) {
        char hex[65];
        dml_sha256_hex(init_weights, n * sizeof *init_weights, hex);
        add(&t, "init_weights", "sha256:%s", hex);
    } else {
        add(&t, "init_weights", "none");
    }
    if (t.full)
        return dml_error_msg(err, DML_EINPUT, "the run's identity is longer "
                             "than %d bytes", DML_IDENTITY_TEXT_MAX);
    dml_sha256_hex(out->text, t.len, out->sha256);
    return DML_OK;
}

/* The next line at *p, without its newline, and its length in *n; NULL
 * at the end of the text. */
static const char *next_line(const char **p, size_t *n)
{
    const char *l = *p;
    if (!*l)
        return NULL;
    const char *eol = strchr(l, '\n');
    *n = eol ? (size_t)(eol - l) : strlen(l);
    *p = eol ? eol + 1 : l + *n;
    return l;
}

/* The line of lines that is key=... (key klen bytes, with its '='), or
 * the line equal to key when it has no '='; NULL when there is none. */
static const char *find_line(const char *lines, const char *key, size_t klen,
                             bool whole, size_t *n)
{
    const char *l;
    for (const char *q = lines; (l = next_line(&q, n)) != NULL;)
        if (whole ? *n == klen && memcmp(l, key, klen) == 0
                  : *n > klen && memcmp(l, key, klen + 1) == 0)
            return l;
    return NULL;
}

/* The layout's fields: how the work is split, not what is computed
 * (executor/README.md, "The result does not depend on the layout"). The
 * data-parallel strategy (parallel.sync) is not among them: some change
 * the mathematics. */
static bool is_layout_key(const char *key, size_t klen)
{
    static const char *const layout[] = {
        "parallel.dp",  "parallel.tp",           "parallel.pp",
        "parallel.zero", "parallel.mbs",         "parallel.microbatches",
        "parallel.schedule", "placement.stages", NULL};
    for (int i = 0; layout[i]; i++)
        if (strlen(layout[i]) == klen && memcmp(layout[i], key, klen) == 0)
            return true;
    return false;
}

/* The first line of a whose key b lacks or gives another value ("=" in
 * key included, so a key is never a prefix of another), or that b lacks
 * (a line without '='), said as "key is A there, B here". */
static bool first_diff(const char *a, const char *b, bool a_is_there,
                       bool skip_layout, char *out, size_t size)
{
    const char *l;
    size_t n, m;
    for (const char *q = a; (l = next_line(&q, &n)) != NULL;) {
        const char *eq = memchr(l, '=', n);
        size_t klen = eq ? (size_t)(eq - l) : n;
        if (skip_layout && is_layout_key(l, klen))
            continue;
        const char *r = find_line(b, l, klen, !eq, &m);
        if (r && m == n && memcmp(l, r, n) == 0)
            continue;
        if (!eq) {
            snprintf(out, size, "\"%.*s\" is not in the other identity",
                     (int)(n < 64 ? n : 64), l);
            return true;
        }
        char va[512], vb[512];
        snprintf(va, sizeof va, "%.*s", (int)(n - klen - 1), eq + 1);
        if (r)
            snprintf(vb, sizeof vb, "%.*s", (int)(m - klen - 1), r + klen + 1);
        else
            snprintf(vb, sizeof vb, "absent");
        snprintf(out, size, "%.*s is %s there, %s here", (int)klen, l,
                 a_is_there ? va : vb, a_is_there ? vb : va);
        return true;
    }
    return false;
}

bool dml_identity_diff(const char *a, const char *b, char *out, size_t size)
{
    if (first_diff(a, b, true, false, out, size))
        return true;
    return first_diff(b, a, false, false, out, size);
}

bool dml_identity_diff_training(const char *a, const char *b, char *out,
                                size_t size)
{
    if (first_diff(a, b, true, true, out, size))
        return true;
    return first_diff(b, a, false, true, out, size);
}
