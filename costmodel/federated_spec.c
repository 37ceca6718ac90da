/*
 * federated_spec.c: the mode knob and the federated section of plans.
 */
#include "costmodel/federated_spec.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const mode_names[] = {"sync", "federated", "gossip",
                                         NULL};

const char *dml_run_mode_name(dml_run_mode m)
{
    return m >= 0 && m < DML_MODE_COUNT ? mode_names[m] : "?";
}

bool dml_run_mode_parse(const char *text, dml_run_mode *out)
{
    for (int i = 0; mode_names[i]; i++)
        if (strcmp(text, mode_names[i]) == 0) {
            *out = (dml_run_mode)i;
            return true;
        }
    return false;
}

dml_status dml_fed_split_parse(const char *text, dml_fed_split *out,
                               dml_error *err)
{
    memset(out, 0, sizeof *out);
    if (strcmp(text, "iid") == 0) {
        out->kind = DML_FED_SPLIT_IID;
        return DML_OK;
    }
    char *end;
    if (strncmp(text, "classes:", 8) == 0) {
        errno = 0;
        long k = strtol(text + 8, &end, 10);
        if (end == text + 8 || *end || errno || k < 1 || k > 255)
            return dml_error_set(err, DML_EINPUT, NULL, 0, 0, NULL,
                                 "'%s': classes:K needs an integer K >= 1",
                                 text);
        out->kind = DML_FED_SPLIT_CLASSES;
        out->classes_per_client = (int)k;
        return DML_OK;
    }
    errno = 0;
    double a = strtod(text, &end);
    if (end == text || *end || errno || !isfinite(a) || a <= 0)
        return dml_error_set(err, DML_EINPUT, NULL, 0, 0, NULL,
                             "'%s' is not iid, classes:K or a Dirichlet "
                             "alpha > 0", text);
    out->kind = DML_FED_SPLIT_DIRICHLET;
    out->alpha = a;
    return DML_OK;
}

void dml_fed_split_format(const dml_fed_split *s, char *buf, int size)
{
    if (s->kind == DML_FED_SPLIT_IID)
        snprintf(buf, (size_t)size, "iid");
    else if (s->kind == DML_FED_SPLIT_CLASSES)
        snprintf(buf, (size_t)size, "classes:%d", s->classes_per_client);
    else
        snprintf(buf, (size_t)size, "%.17g", s->alpha);
}

void dml_fed_spec_init(dml_fed_spec *f)
{
    memset(f, 0, sizeof *f);
    f->clients = 100;
    f->sample = 0.1;
    f->epochs = 5;
    f->batch = 10;
    f->split.kind = DML_FED_SPLIT_IID;
    f->lr = 0.05;
}

bool dml_fed_spec_equal(const dml_fed_spec *a, const dml_fed_spec *b)
{
    return a->clients == b->clients && a->sample == b->sample &&
           a->epochs == b->epochs && a->batch == b->batch &&
           a->split.kind == b->split.kind &&
           a->split.classes_per_client == b->split.classes_per_client &&
           a->split.alpha == b->split.alpha && a->prox == b->prox &&
           a->secagg == b->secagg && a->stragglers == b->stragglers &&
           a->partial == b->partial && a->lr == b->lr;
}

/* A field that must hold a number or one of two words. */
static dml_status get_epochs(const dml_json_obj *o, double *out,
                             dml_error *err)
{
    json_t *v = json_object_get(o->obj, "epochs");
    if (v && json_is_string(v)) {
        char path[DML_JSON_PATH_MAX];
        dml_json_path_key(path, sizeof path, o->path, "epochs");
        if (strcmp(json_string_value(v), "batch") != 0)
            return dml_json_doc_error(o->doc, err, path, false,
                                      "needs a number of epochs > 0 or "
                                      "\"batch\" (one local step)");
        *out = 0;
        return DML_OK;
    }
    DML_CHECK(dml_json_get_f64(o, "epochs", false, 1e-9, 1e6, out, err));
    return DML_OK;
}

dml_status dml_fed_spec_parse(const dml_json_obj *o, dml_fed_spec *f,
                              dml_error *err)
{
    static const char *const keys[] = {"clients", "sample", "epochs",
                                       "batch", "split", "prox", "secagg",
                                       "stragglers", "straggler_work",
                                       "lr", NULL};
    static const char *const work[] = {"drop", "partial", NULL};
    dml_fed_spec_init(f);
    DML_CHECK(dml_json_check_keys(o, keys, err));
    int64_t n = f->clients;
    DML_CHECK(dml_json_get_i64(o, "clients", false, 1, 1000000, &n, err));
    f->clients = (int)n;
    DML_CHECK(dml_json_get_f64(o, "sample", false, 1e-9, 1, &f->sample,
                               err));
    DML_CHECK(get_epochs(o, &f->epochs, err));
    DML_CHECK(dml_json_get_i64(o, "batch", false, 0, 1000000000, &f->batch,
                               err));
    const char *text = NULL;
    DML_CHECK(dml_json_get_str(o, "split", false, &text, err));
    dml_error why;
    if (text && dml_fed_split_parse(text, &f->split, &why) != DML_OK) {
        char path[DML_JSON_PATH_MAX];
        dml_json_path_key(path, sizeof path, o->path, "split");
        return dml_json_doc_error(o->doc, err, path, false, "%s", why.msg);
    }
    DML_CHECK(dml_json_get_f64(o, "prox", false, 0, 1e6, &f->prox, err));
    DML_CHECK(dml_json_get_bool(o, "secagg", false, &f->secagg, err));
    DML_CHECK(dml_json_get_f64(o, "stragglers", false, 0, 0.999999,
                               &f->stragglers, err));
    int w = f->partial;
    DML_CHECK(dml_json_get_enum(o, "straggler_work", false, work, &w, err));
    f->partial = w == 1;
    DML_CHECK(dml_json_get_f64(o, "lr", false, 1e-12, 1e6, &f->lr, err));
    return DML_OK;
}

json_t *dml_fed_spec_to_json(const dml_fed_spec *f)
{
    char split[48];
    dml_fed_split_format(&f->split, split, sizeof split);
    json_t *j = json_pack(
        "{s:i, s:f, s:I, s:s, s:f, s:b, s:f, s:s, s:f}", "clients",
        f->clients, "sample", f->sample, "batch", (json_int_t)f->batch,
        "split", split, "prox", f->prox, "secagg", (int)f->secagg,
        "stragglers", f->stragglers, "straggler_work",
        f->partial ? "partial" : "drop", "lr", f->lr);
    if (j && json_object_set_new(j, "epochs",
                                 f->epochs > 0 ? json_real(f->epochs)
                                               : json_string("batch"))) {
        json_decref(j);
        return NULL;
    }
    return j;
}

int64_t dml_fed_local_steps(const dml_fed_spec *f, int64_t n)
{
    if (f->epochs <= 0 || n <= 0)
        return 1;
    int64_t b = f->batch > 0 && f->batch < n ? f->batch : n;
    return (int64_t)ceil(f->epochs * (double)n / (double)b - 1e-9);
}
