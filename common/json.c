/*
 * json.c: jansson-backed documents that remember their text, so errors can
 * point at the line and column of any field.
 */
#include "json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"

/* Spec and plan files are small; anything larger is a mistake, refused
 * before it is read into memory. */
#define DML_JSON_MAX_BYTES (64u << 20)

struct dml_json_doc {
    char *name;   /* file name used in errors */
    char *text;   /* the document, NUL-terminated */
    size_t len;   /* bytes in text */
    json_t *root; /* parsed tree, an object */
};

/* A NUL byte at or before where jansson stopped: JSON has none (a NUL
 * inside a string is written \u0000), and jansson reports one as "near
 * end of file", one column early (a reader that took the text's length
 * from strlen even accepted "{...}\0garbage"). The error then names the
 * byte and its true position. */
static dml_status refuse_nul(const char *name, const char *text, size_t len,
                             size_t stopped, dml_error *err)
{
    const char *nul = memchr(text, '\0', len);
    if (!nul || (size_t)(nul - text) > stopped)
        return DML_OK;
    int line = 1, col = 1;
    for (const char *c = text; c < nul; c++, col++)
        if (*c == '\n')
            line++, col = 0;
    return dml_error_set(err, DML_EINPUT, name, line, col, NULL,
                         "a NUL byte (offset %zu): not JSON text",
                         (size_t)(nul - text));
}

dml_status dml_json_doc_load_text(const char *name, const char *text,
                                  size_t len, dml_json_doc **out,
                                  dml_error *err)
{
    *out = NULL;
    if (len == 0)
        return dml_error_set(err, DML_EINPUT, name, 1, 1, NULL,
                             "empty file: expected a JSON object");
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        DML_CHECK(refuse_nul(name, text, len,
                             jerr.position > 0 ? (size_t)jerr.position : 0,
                             err));
    if (!root)
        return dml_error_set(err, DML_EINPUT, name, jerr.line > 0 ? jerr.line : 1,
                             jerr.column > 0 ? jerr.column : 1, NULL,
                             "invalid JSON: %s", jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return dml_error_set(err, DML_EINPUT, name, 1, 1, NULL,
                             "expected a JSON object at the top level");
    }
    dml_json_doc *doc = calloc(1, sizeof *doc);
    char *copy = malloc(len + 1);
    char *name_copy = strdup(name ? name : "<input>");
    if (!doc || !copy || !name_copy) {
        free(doc);
        free(copy);
        free(name_copy);
        json_decref(root);
        return dml_error_msg(err, DML_ENOMEM, "out of memory reading %s", name);
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    doc->name = name_copy;
    doc->text = copy;
    doc->len = len;
    doc->root = root;
    *out = doc;
    return DML_OK;
}

dml_status dml_json_doc_load_file(const char *path, dml_json_doc **out,
                                  dml_error *err)
{
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    DML_CHECK(dml_file_read_all(path, DML_JSON_MAX_BYTES, &text, &len, err));
    dml_status s = dml_json_doc_load_text(path, text, len, out, err);
    free(text);
    return s;
}

void dml_json_doc_free(dml_json_doc *doc)
{
    if (!doc)
        return;
    json_decref(doc->root);
    free(doc->text);
    free(doc->name);
    free(doc);
}

json_t *dml_json_doc_root(const dml_json_doc *doc) { return doc->root; }
const char *dml_json_doc_name(const dml_json_doc *doc) { return doc->name; }
const char *dml_json_doc_text(const dml_json_doc *doc) { return doc->text; }

dml_status dml_json_parse_file(const char *path, dml_json_parse_fn parse,
                               void *out, dml_error *err)
{
    dml_json_doc *doc = NULL;
    DML_CHECK(dml_json_doc_load_file(path, &doc, err));
    dml_json_obj root;
    dml_json_obj_root(doc, &root);
    dml_status s = parse(&root, out, err);
    dml_json_doc_free(doc);
    return s;
}

dml_status dml_json_parse_value(const json_t *j, const char *name,
                                const char *what, dml_json_parse_fn parse,
                                void *out, dml_error *err)
{
    if (!j || !json_is_object(j))
        return dml_error_set(err, DML_EINPUT, name, 0, 0, NULL,
                             "%s must be a JSON object", what);
    char *text = json_dumps(j, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    if (!text)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    dml_json_doc *doc = NULL;
    char fallback[64];
    snprintf(fallback, sizeof fallback, "<%s>", what);
    dml_status s = dml_json_doc_load_text(name ? name : fallback, text,
                                          strlen(text), &doc, err);
    free(text);
    if (s != DML_OK)
        return s;
    dml_json_obj root;
    dml_json_obj_root(doc, &root);
    s = parse(&root, out, err);
    dml_json_doc_free(doc);
    return s;
}

/* ---- locating a path in the text ---------------------------------------- */

typedef struct scan {
    const char *s;
    size_t n;
    size_t i;
} scan;

static void skip_ws(scan *sc)
{
    while (sc->i < sc->n && (sc->s[sc->i] == ' ' || sc->s[sc->i] == '\t' ||
                             sc->s[sc->i] == '\n' || sc->s[sc->i] == '\r'))
        sc->i++;
}

/* At an opening quote: move past the closing one. */
static bool skip_string(scan *sc)
{
    if (sc->i >= sc->n || sc->s[sc->i] != '"')
        return false;
    sc->i++;
    while (sc->i < sc->n && sc->s[sc->i] != '"') {
        if (sc->s[sc->i] == '\\')
            sc->i++;
        sc->i++;
    }
    if (sc->i >= sc->n)
        return false;
    sc->i++;
    return true;
}

/* Past white space and then the character c; false when something else
 * comes first. */
static bool expect(scan *sc, char c)
{
    skip_ws(sc);
    if (sc->i >= sc->n || sc->s[sc->i] != c)
        return false;
    sc->i++;
    return true;
}

static bool skip_value(scan *sc);

static bool skip_container(scan *sc, char open, char close)
{
    if (!expect(sc, open))
        return false;
    if (expect(sc, close))
        return true;
    for (;;) {
        skip_ws(sc);
        if (open == '{' && (!skip_string(sc) || !expect(sc, ':')))
            return false;
        if (!skip_value(sc))
            return false;
        if (expect(sc, close))
            return true;
        if (!expect(sc, ','))
            return false;
    }
}

static bool skip_value(scan *sc)
{
    skip_ws(sc);
    if (sc->i >= sc->n)
        return false;
    char c = sc->s[sc->i];
    if (c == '"')
        return skip_string(sc);
    if (c == '{')
        return skip_container(sc, '{', '}');
    if (c == '[')
        return skip_container(sc, '[', ']');
    while (sc->i < sc->n && !strchr(",}] \t\r\n", sc->s[sc->i]))
        sc->i++;
    return true;
}

/* Does the string token at sc->i (an opening quote) spell key exactly? */
static bool string_is(const scan *sc, const char *key, size_t keylen)
{
    size_t start = sc->i + 1;
    return start + keylen < sc->n && memcmp(sc->s + start, key, keylen) == 0 &&
           sc->s[start + keylen] == '"';
}

/* Find the member `key` of the object starting at sc->i; leave sc->i at
 * its value and *key_at at its key. */
static bool find_member(scan *sc, const char *key, size_t keylen,
                        size_t *key_at)
{
    if (!expect(sc, '{'))
        return false;
    for (;;) {
        skip_ws(sc);
        size_t at = sc->i;
        bool hit = at < sc->n && string_is(sc, key, keylen);
        if (!skip_string(sc) || !expect(sc, ':'))
            return false;
        skip_ws(sc);
        if (hit) {
            *key_at = at;
            return true;
        }
        if (!skip_value(sc) || !expect(sc, ','))
            return false;
    }
}

static bool find_element(scan *sc, size_t index)
{
    if (!expect(sc, '['))
        return false;
    for (size_t k = 0;; k++) {
        skip_ws(sc);
        if (k == index)
            return sc->i < sc->n && sc->s[sc->i] != ']';
        if (!skip_value(sc) || !expect(sc, ','))
            return false;
    }
}

static void offset_to_line_col(const char *s, size_t off, int *line, int *col)
{
    int l = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < off; i++) {
        if (s[i] == '\n') {
            l++;
            line_start = i + 1;
        }
    }
    *line = l;
    *col = (int)(off - line_start) + 1;
}

void dml_json_doc_locate(const dml_json_doc *doc, const char *path,
                         bool want_key, int *line, int *col)
{
    scan sc = {doc->text, doc->len, 0};
    skip_ws(&sc);
    size_t best = sc.i;     /* deepest value found so far */
    size_t best_key = sc.i; /* and the key that introduced it */
    const char *p = path ? path : "";
    while (*p) {
        if (*p == '.') {
            p++;
            continue;
        }
        size_t save = sc.i;
        if (*p == '[') {
            char *end = NULL;
            unsigned long long idx = strtoull(p + 1, &end, 10);
            if (!end || *end != ']')
                break;
            p = end + 1;
            if (!find_element(&sc, (size_t)idx)) {
                sc.i = save;
                break;
            }
            best = best_key = sc.i;
        } else {
            size_t len = strcspn(p, ".[");
            size_t key_at = 0;
            if (!find_member(&sc, p, len, &key_at)) {
                sc.i = save;
                break;
            }
            p += len;
            best = sc.i;
            best_key = key_at;
        }
    }
    offset_to_line_col(doc->text, want_key ? best_key : best, line, col);
}

dml_status dml_json_doc_error(const dml_json_doc *doc, dml_error *err,
                              const char *path, bool want_key,
                              const char *fmt, ...)
{
    int line = 0, col = 0;
    dml_json_doc_locate(doc, path, want_key, &line, &col);
    char msg[DML_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return dml_error_set(err, DML_EINPUT, doc->name, line, col, path, "%s",
                         msg);
}

/* ---- typed getters ------------------------------------------------------- */

void dml_json_obj_root(const dml_json_doc *doc, dml_json_obj *out)
{
    out->doc = doc;
    out->obj = doc->root;
    out->path[0] = '\0';
}

void dml_json_path_key(char *out, size_t size, const char *parent,
                       const char *key)
{
    if (parent && parent[0])
        snprintf(out, size, "%s.%s", parent, key);
    else
        snprintf(out, size, "%s", key);
}

void dml_json_path_index(char *out, size_t size, const char *parent,
                         size_t index)
{
    snprintf(out, size, "%s[%zu]", parent ? parent : "", index);
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "a value";
}

/* Look up o.key; absent is an error only when required. */
static dml_status member(const dml_json_obj *o, const char *key, bool required,
                         json_t **v, char *path, size_t path_size,
                         dml_error *err)
{
    dml_json_path_key(path, path_size, o->path, key);
    *v = json_object_get(o->obj, key);
    if (!*v && required) {
        int line = 0, col = 0;
        dml_json_doc_locate(o->doc, o->path, false, &line, &col);
        return dml_error_set(err, DML_EINPUT, o->doc->name, line, col, path,
                             "required field is missing");
    }
    return DML_OK;
}

/* Bit of a json_type in the masks that say what a getter accepts. */
#define TYPE_BIT(t) (1u << (t))

/*
 * member(), then the type check every getter makes: the value's type must
 * be one of the bits of types, or the error says "expected WHAT, found
 * ...". *present (may be NULL) becomes true only when the value is there
 * with a type accepted, false otherwise; an absent optional value is OK
 * with *v NULL.
 */
static dml_status typed_member(const dml_json_obj *o, const char *key,
                               bool required, unsigned types, const char *what,
                               json_t **v, char path[DML_JSON_PATH_MAX],
                               bool *present, dml_error *err)
{
    if (present)
        *present = false;
    DML_CHECK(member(o, key, required, v, path, DML_JSON_PATH_MAX, err));
    if (!*v)
        return DML_OK;
    if (!(types & TYPE_BIT(json_typeof(*v))))
        return dml_json_doc_error(o->doc, err, path, false,
                                  "expected %s, found %s", what,
                                  type_name(*v));
    if (present)
        *present = true;
    return DML_OK;
}

/* Element i of the array arr found at o.key; path gets its path, apath
 * that of the array. NULL when the array is shorter. */
static json_t *element(const dml_json_obj *o, const char *key, json_t *arr,
                       size_t i, char apath[DML_JSON_PATH_MAX],
                       char path[DML_JSON_PATH_MAX])
{
    dml_json_path_key(apath, DML_JSON_PATH_MAX, o->path, key);
    dml_json_path_index(path, DML_JSON_PATH_MAX, apath, i);
    return json_array_get(arr, i);
}

/* An object inside o's document, found at path. */
static void child(const dml_json_obj *o, json_t *v, const char *path,
                  dml_json_obj *out)
{
    out->doc = o->doc;
    out->obj = v;
    snprintf(out->path, sizeof out->path, "%s", path);
}

dml_status dml_json_check_keys(const dml_json_obj *o,
                               const char *const allowed[], dml_error *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(o->obj, key, v) {
        bool ok = false;
        for (size_t i = 0; allowed[i]; i++)
            if (strcmp(allowed[i], key) == 0) {
                ok = true;
                break;
            }
        if (!ok) {
            char path[DML_JSON_PATH_MAX];
            dml_json_path_key(path, sizeof path, o->path, key);
            return dml_json_doc_error(o->doc, err, path, true, "unknown field");
        }
    }
    return DML_OK;
}

dml_status dml_json_get_obj(const dml_json_obj *o, const char *key,
                            bool required, dml_json_obj *out, bool *present,
                            dml_error *err)
{
    json_t *v;
    char path[DML_JSON_PATH_MAX];
    DML_CHECK(typed_member(o, key, required, TYPE_BIT(JSON_OBJECT),
                           "an object", &v, path, present, err));
    if (v)
        child(o, v, path, out);
    return DML_OK;
}

dml_status dml_json_get_array(const dml_json_obj *o, const char *key,
                              bool required, json_t **arr, size_t *n,
                              bool *present, dml_error *err)
{
    json_t *v;
    char path[DML_JSON_PATH_MAX];
    DML_CHECK(typed_member(o, key, required, TYPE_BIT(JSON_ARRAY),
                           "an array", &v, path, present, err));
    if (v) {
        *arr = v;
        *n = json_array_size(v);
    }
    return DML_OK;
}

dml_status dml_json_array_obj(const dml_json_obj *o, const char *key,
                              json_t *arr, size_t i, dml_json_obj *out,
                              dml_error *err)
{
    char apath[DML_JSON_PATH_MAX], path[DML_JSON_PATH_MAX];
    json_t *v = element(o, key, arr, i, apath, path);
    if (!v || !json_is_object(v))
        return dml_json_doc_error(o->doc, err, path, false,
                                  "expected an object, found %s",
                                  v ? type_name(v) : "nothing");
    child(o, v, path, out);
    return DML_OK;
}

static dml_status number_in(const dml_json_doc *doc, const char *path,
                            json_t *v, double min, double max, double *out,
                            dml_error *err)
{
    if (!json_is_number(v))
        return dml_json_doc_error(doc, err, path, false,
                                  "expected a number, found %s", type_name(v));
    double x = json_number_value(v);
    if (!isfinite(x) || x < min || x > max)
        return dml_json_doc_error(doc, err, path, false,
                                  "%g is out of range [%g, %g]", x, min, max);
    *out = x;
    return DML_OK;
}

dml_status dml_json_get_f64(const dml_json_obj *o, const char *key,
                            bool required, double min, double max,
                            double *out, dml_error *err)
{
    json_t *v;
    char path[DML_JSON_PATH_MAX];
    DML_CHECK(member(o, key, required, &v, path, sizeof path, err));
    if (!v)
        return DML_OK;
    return number_in(o->doc, path, v, min, max, out, err);
}

dml_status dml_json_array_f64(const dml_json_obj *o, const char *key,
                              json_t *arr, size_t i, double min, double max,
                              double *out, dml_error *err)
{
    char apath[DML_JSON_PATH_MAX], path[DML_JSON_PATH_MAX];
    json_t *v = element(o, key, arr, i, apath, path);
    if (!v)
        return dml_json_doc_error(o->doc, err, apath, false,
                                  "array has no element %zu", i);
    return number_in(o->doc, path, v, min, max, out, err);
}

dml_status dml_json_get_i64(const dml_json_obj *o, const char *key,
                            bool required, int64_t min, int64_t max,
                            int64_t *out, dml_error *err)
{
    json_t *v;
    char path[DML_JSON_PATH_MAX];
    DML_CHECK(typed_member(o, key, required,
                           TYPE_BIT(JSON_INTEGER) | TYPE_BIT(JSON_REAL),
                           "an integer", &v, path, NULL, err));
    if (!v)
        return DML_OK;
    int64_t x;
    if (json_is_integer(v)) {
        x = (int64_t)json_integer_value(v);
    } else {
        double d = json_real_value(v);
        /* 1e9 is a natural way to write a count; 2.5 is not a count. */
        if (d != floor(d) || d < -9.2e18 || d > 9.2e18)
            return dml_json_doc_error(o->doc, err, path, false,
                                      "expected an integer, found %g", d);
        x = (int64_t)d;
    }
    if (x < min || x > max)
        return dml_json_doc_error(o->doc, err, path, false,
                                  "%lld is out of range [%lld, %lld]",
                                  (long long)x, (long long)min,
                                  (long long)max);
    *out = x;
    return DML_OK;
}

dml_status dml_json_get_bool(const dml_json_obj *o, const char *key,
                             bool required, bool *out, dml_error *err)
{
    json_t *v;
    char path[DML_JSON_PATH_MAX];
    DML_CHECK(typed_member(o, key, required,
                           TYPE_BIT(JSON_TRUE) | TYPE_BIT(JSON_FALSE),
                           "true or false", &v, path, NULL, err));
    if (v)
        *out = json_is_true(v);
    return DML_OK;
}

dml_status dml_json_get_str(const dml_json_obj *o, const char *key,
                            bool required, const char **out, dml_error *err)
{
    json_t *v;
    char path[DML_JSON_PATH_MAX];
    DML_CHECK(typed_member(o, key, required, TYPE_BIT(JSON_STRING),
                           "a string", &v, path, NULL, err));
    if (v)
        *out = json_string_value(v);
    return DML_OK;
}

dml_status dml_json_get_text(const dml_json_obj *o, const char *key,
                             bool required, char *dst, size_t size,
                             dml_error *err)
{
    const char *s = NULL;
    DML_CHECK(dml_json_get_str(o, key, required, &s, err));
    if (!s)
        return DML_OK;
    if (strlen(s) >= size || (required && !s[0])) {
        char path[DML_JSON_PATH_MAX];
        dml_json_path_key(path, sizeof path, o->path, key);
        return dml_json_doc_error(o->doc, err, path, false,
                                  s[0] ? "longer than %zu bytes"
                                       : "must not be empty",
                                  size - 1);
    }
    snprintf(dst, size, "%s", s);
    return DML_OK;
}

dml_status dml_json_get_enum(const dml_json_obj *o, const char *key,
                             bool required, const char *const choices[],
                             int *out, dml_error *err)
{
    const char *s = NULL;
    DML_CHECK(dml_json_get_str(o, key, required, &s, err));
    if (!s)
        return DML_OK;
    char list[DML_ERROR_MSG_MAX / 2] = "";
    for (int i = 0; choices[i]; i++) {
        if (strcmp(choices[i], s) == 0) {
            *out = i;
            return DML_OK;
        }
        size_t n = strlen(list);
        snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", choices[i]);
    }
    char path[DML_JSON_PATH_MAX];
    dml_json_path_key(path, sizeof path, o->path, key);
    return dml_json_doc_error(o->doc, err, path, false,
                              "\"%.64s\" is not one of: %s", s, list);
}
