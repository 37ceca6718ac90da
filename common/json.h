/*
 * json.h: reading JSON input files with positions, through jansson.
 *
 * jansson parses and validates (duplicate keys, UTF-8, nesting depth) but
 * keeps no position for a value once parsed. Input errors must still say
 * `file:line:col: field: message`, so a dml_json_doc keeps the text beside the
 * tree and finds the position of any field path ("node_groups[1].nodes") by
 * walking the text again; that only happens on the error path.
 *
 * The typed getters take a dml_json_obj (a JSON object plus its path) and
 * check type and range in one call, filling the error with the position of
 * the offending value. Absent optional fields leave *out untouched, so the
 * caller sets the default first.
 */
#ifndef DML_JSON_H
#define DML_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define DML_JSON_PATH_MAX 256

typedef struct dml_json_doc dml_json_doc;

/* Parse a file; the top level must be an object. Errors are DML_EINPUT
 * (bad JSON, with position) or DML_EIO / DML_EINPUT for an unreadable or
 * missing file. */
dml_status dml_json_doc_load_file(const char *path, dml_json_doc **out,
                                  dml_error *err);

/* Parse text held in memory, all len bytes of it (a NUL byte among them
 * is DML_EINPUT at its line and column); name is what errors call the
 * input. */
dml_status dml_json_doc_load_text(const char *name, const char *text,
                                  size_t len, dml_json_doc **out,
                                  dml_error *err);

void dml_json_doc_free(dml_json_doc *doc);

json_t *dml_json_doc_root(const dml_json_doc *doc);   /* borrowed */
const char *dml_json_doc_name(const dml_json_doc *doc);
const char *dml_json_doc_text(const dml_json_doc *doc);

/*
 * Position (1-based) of the value at path, or of its key when want_key.
 * Path components are object keys separated by '.' and array indices in
 * brackets: "a.b[2].c"; "" is the root. When the path does not exist the
 * position of its deepest existing ancestor is returned.
 */
void dml_json_doc_locate(const dml_json_doc *doc, const char *path,
                         bool want_key, int *line, int *col);

/* Fill err with DML_EINPUT at the position of path (its key if want_key). */
dml_status dml_json_doc_error(const dml_json_doc *doc, dml_error *err,
                              const char *path, bool want_key,
                              const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* A JSON object inside a document, with the path that names it. */
typedef struct dml_json_obj {
    const dml_json_doc *doc;       /* the document it belongs to */
    json_t *obj;                   /* borrowed; a JSON object */
    char path[DML_JSON_PATH_MAX];  /* "" for the root */
} dml_json_obj;

/* The root object of doc. */
void dml_json_obj_root(const dml_json_doc *doc, dml_json_obj *out);

/* A reader of one kind of document: fill out from the root object. */
typedef dml_status (*dml_json_parse_fn)(const dml_json_obj *root, void *out,
                                        dml_error *err);

/* Load the file at path and hand its root object to parse. */
dml_status dml_json_parse_file(const char *path, dml_json_parse_fn parse,
                               void *out, dml_error *err);

/*
 * Hand an in-memory JSON value to parse as a document named name (errors
 * then point into its indented text). what ("plan", "model spec") words
 * the error when j is not an object.
 */
dml_status dml_json_parse_value(const json_t *j, const char *name,
                                const char *what, dml_json_parse_fn parse,
                                void *out, dml_error *err);

/* Join a parent path and a key or index into out ("a.b", "a[3]"). */
void dml_json_path_key(char *out, size_t size, const char *parent,
                       const char *key);
void dml_json_path_index(char *out, size_t size, const char *parent,
                         size_t index);

/* Refuse any key of o not in allowed (NULL-terminated). */
dml_status dml_json_check_keys(const dml_json_obj *o,
                               const char *const allowed[], dml_error *err);

/* Child object o.key. *present (may be NULL) says whether it was there. */
dml_status dml_json_get_obj(const dml_json_obj *o, const char *key,
                            bool required, dml_json_obj *out, bool *present,
                            dml_error *err);

/* Array o.key; *arr borrowed, *n its length. */
dml_status dml_json_get_array(const dml_json_obj *o, const char *key,
                              bool required, json_t **arr, size_t *n,
                              bool *present, dml_error *err);

/* Element i of array o.key as an object. */
dml_status dml_json_array_obj(const dml_json_obj *o, const char *key,
                              json_t *arr, size_t i, dml_json_obj *out,
                              dml_error *err);

/* Integer in [min, max]. Reals with an integral value are accepted. */
dml_status dml_json_get_i64(const dml_json_obj *o, const char *key,
                            bool required, int64_t min, int64_t max,
                            int64_t *out, dml_error *err);

/* Number (integer or real) in [min, max]. */
dml_status dml_json_get_f64(const dml_json_obj *o, const char *key,
                            bool required, double min, double max,
                            double *out, dml_error *err);

dml_status dml_json_get_bool(const dml_json_obj *o, const char *key,
                             bool required, bool *out, dml_error *err);

/* String; *out borrowed from the document, valid until it is freed. */
dml_status dml_json_get_str(const dml_json_obj *o, const char *key,
                            bool required, const char **out, dml_error *err);

/* String copied into dst[size]; longer than size-1, or empty when
 * required, is bad input at its position. */
dml_status dml_json_get_text(const dml_json_obj *o, const char *key,
                             bool required, char *dst, size_t size,
                             dml_error *err);

/* String that must be one of choices (NULL-terminated); *out its index. */
dml_status dml_json_get_enum(const dml_json_obj *o, const char *key,
                             bool required, const char *const choices[],
                             int *out, dml_error *err);

/* Number element i of array arr found at o.key, in [min, max]. */
dml_status dml_json_array_f64(const dml_json_obj *o, const char *key,
                              json_t *arr, size_t i, double min, double max,
                              double *out, dml_error *err);

#endif
