/*
 * weights.c: reading and writing the whole-model weight file.
 */
#include "executor/weights.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/file.h"
#include "common/json.h"
#include "executor/guard.h"

size_t dml_weights_count(const dml_mlp_shape *s)
{
    size_t n = 0;
    for (int l = 0; l < s->layers; l++)
        n += (size_t)s->widths[l + 1] * (size_t)s->widths[l] +
             (size_t)s->widths[l + 1];
    return n;
}

size_t dml_weights_offset(const dml_mlp_shape *s, int layer, int bias)
{
    size_t n = 0;
    for (int l = 0; l < layer; l++)
        n += (size_t)s->widths[l + 1] * (size_t)s->widths[l] +
             (size_t)s->widths[l + 1];
    if (bias)
        n += (size_t)s->widths[layer + 1] * (size_t)s->widths[layer];
    return n;
}

static bool host_is_little_endian(void)
{
    const uint32_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Convert n 4-byte values between host order and little-endian, in
 * place (bytes, so that the unaligned data after the header is fine). */
static void to_from_little(void *data, size_t n)
{
    if (host_is_little_endian())
        return;
    unsigned char *p = data, t;
    for (size_t i = 0; i < n; i++, p += 4) {
        t = p[0], p[0] = p[3], p[3] = t;
        t = p[1], p[1] = p[2], p[2] = t;
    }
}

dml_status dml_weights_write(const char *path, const char *model_name,
                             const dml_mlp_shape *s, const float *values,
                             dml_error *err)
{
    size_t count = dml_weights_count(s);
    json_t *layers = json_array();
    for (int l = 0; l < s->layers; l++)
        json_array_append_new(layers,
                              json_pack("[II]", (json_int_t)s->widths[l],
                                        (json_int_t)s->widths[l + 1]));
    json_t *h = json_pack("{s:i, s:s, s:s, s:s, s:s, s:o, s:I}",
                          "schema_version", 1, "kind", "dml-weights", "model",
                          model_name ? model_name : "", "dtype", "float32",
                          "byte_order", "little", "layers", layers, "values",
                          (json_int_t)count);
    char *text = h ? json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(h);
    if (!text)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    size_t hlen = strlen(text);
    size_t total = hlen + 1 + count * sizeof(float);
    char *buf = malloc(total);
    if (!buf) {
        free(text);
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    }
    memcpy(buf, text, hlen);
    buf[hlen] = '\n';
    memcpy(buf + hlen + 1, values, count * sizeof(float));
    to_from_little(buf + hlen + 1, count);
    free(text);
    dml_status st = dml_file_write_atomic(path, buf, total, err);
    free(buf);
    return st;
}

/* The error for value i, which is NaN or infinite: where it is, as a
 * value index, the tensor and element it belongs to, and a byte offset. */
static dml_status not_finite(const char *path, const dml_mlp_shape *s,
                             const float *v, size_t i, size_t body,
                             dml_error *err)
{
    int l = 0;
    while (l + 1 < s->layers && i >= dml_weights_offset(s, l + 1, 0))
        l++;
    size_t w = dml_weights_offset(s, l, 0), b = dml_weights_offset(s, l, 1);
    char where[96];
    if (i < b)
        snprintf(where, sizeof where, "layer %d weight [%zu, %zu]", l,
                 (i - w) / (size_t)s->widths[l],
                 (i - w) % (size_t)s->widths[l]);
    else
        snprintf(where, sizeof where, "layer %d bias [%zu]", l, i - b);
    return dml_error_set(err, DML_EINPUT, path, 0, 0, NULL,
                         "value %zu (%s, byte offset %zu) is %s: weights "
                         "must be finite",
                         i, where, body + i * sizeof(float),
                         v[i] != v[i] ? "NaN" : v[i] > 0 ? "+inf" : "-inf");
}

dml_status dml_weights_read(const char *path, const dml_mlp_shape *s,
                            float **values, dml_error *err)
{
    *values = NULL;
    size_t count = dml_weights_count(s);
    char *data = NULL;
    size_t len = 0;
    DML_CHECK(dml_file_read_all(path, 64 + count * sizeof(float) + (1u << 20),
                                &data, &len, err));
    char *nl = memchr(data, '\n', len);
    dml_status st = DML_OK;
    dml_json_doc *doc = NULL;
    if (!nl) {
        st = dml_error_set(err, DML_EINPUT, path, 1, 1, NULL,
                           "no header line: not a dml weight file");
        goto done;
    }
    size_t hlen = (size_t)(nl - data);
    st = dml_json_doc_load_text(path, data, hlen, &doc, err);
    if (st != DML_OK)
        goto done;
    dml_json_obj root;
    dml_json_obj_root(doc, &root);
    static const char *const keys[] = {"schema_version", "kind", "model",
                                       "dtype", "byte_order", "layers",
                                       "values", NULL};
    int64_t ver = 0, nvalues = 0;
    const char *kind = NULL, *dtype = NULL, *order = NULL;
    json_t *arr = NULL;
    size_t nlayers = 0;
    if ((st = dml_json_check_keys(&root, keys, err)) != DML_OK ||
        (st = dml_json_get_i64(&root, "schema_version", true, 1, 1, &ver,
                               err)) != DML_OK ||
        (st = dml_json_get_str(&root, "kind", true, &kind, err)) != DML_OK ||
        (st = dml_json_get_str(&root, "dtype", true, &dtype, err)) != DML_OK ||
        (st = dml_json_get_str(&root, "byte_order", true, &order, err)) !=
            DML_OK ||
        (st = dml_json_get_array(&root, "layers", true, &arr, &nlayers, NULL,
                                 err)) != DML_OK ||
        (st = dml_json_get_i64(&root, "values", true, 0, INT64_MAX, &nvalues,
                               err)) != DML_OK)
        goto done;
    if (strcmp(kind, "dml-weights") != 0) {
        st = dml_json_doc_error(doc, err, "kind", false,
                                "expected \"dml-weights\", found \"%s\"", kind);
        goto done;
    }
    if (strcmp(dtype, "float32") != 0 || strcmp(order, "little") != 0) {
        st = dml_json_doc_error(doc, err, "dtype", false,
                                "only little-endian float32 is supported");
        goto done;
    }
    bool match = nlayers == (size_t)s->layers;
    for (size_t l = 0; match && l < nlayers; l++) {
        json_t *e = json_array_get(arr, l);
        match = json_is_array(e) && json_array_size(e) == 2 &&
                json_integer_value(json_array_get(e, 0)) == s->widths[l] &&
                json_integer_value(json_array_get(e, 1)) == s->widths[l + 1];
    }
    if (!match) {
        st = dml_json_doc_error(doc, err, "layers", false,
                                "layer shapes differ from the plan's model");
        goto done;
    }
    /* The header's count and the bytes after it are two facts: say which
     * one is wrong. */
    if ((size_t)nvalues != count) {
        st = dml_json_doc_error(doc, err, "values", false,
                                "the header says %lld values, the plan's "
                                "model has %zu",
                                (long long)nvalues, count);
        goto done;
    }
    if (len - hlen - 1 != count * sizeof(float)) {
        st = dml_error_set(err, DML_EINPUT, path, 0, 0, NULL,
                           "expected %zu float32 values (%zu bytes) after "
                           "the header, found %zu bytes",
                           count, count * sizeof(float), len - hlen - 1);
        goto done;
    }
    *values = malloc(count * sizeof(float));
    if (!*values) {
        st = dml_error_msg(err, DML_ENOMEM, "out of memory");
        goto done;
    }
    memcpy(*values, nl + 1, count * sizeof(float));
    to_from_little(*values, count);
    size_t bad = dml_guard_first_nonfinite(*values, count);
    if (bad < count) {
        st = not_finite(path, s, *values, bad, hlen + 1, err);
        free(*values);
        *values = NULL;
    }
done:
    dml_json_doc_free(doc);
    free(data);
    return st;
}
