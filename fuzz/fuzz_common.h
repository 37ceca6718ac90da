/*
 * fuzz_common.h: what the libFuzzer targets of fuzz/ share.
 *
 * A target turns a property violation into abort() with a message, so
 * libFuzzer saves the input as a crash; every rejected input must leave an
 * error that formats as one non-empty line (dml tools print exactly one).
 *
 * The spec and plan targets check the same properties of their reader, so
 * one driver (dml_fuzz_read) does it for each through a dml_fuzz_reader,
 * which DML_FUZZ_READER builds from the reader's four functions.
 */
#ifndef DML_FUZZ_COMMON_H
#define DML_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "common/error.h"
#include "common/json.h"

#define DML_FUZZ_ASSERT(cond)                                                 \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__,       \
                    __LINE__, #cond);                                         \
            abort();                                                          \
        }                                                                     \
    } while (0)

/* A rejected input: a status other than OK, and one line of text. */
void dml_fuzz_check_error(const dml_error *err);

/* Do two documents serialise the same? Takes both references. */
bool dml_fuzz_same_json(json_t *a, json_t *b);

/*
 * A reader of one file format, seen through void pointers so that one
 * driver serves them all: parse reads a document's root object into an
 * object of size bytes, validate checks one, to_json writes it back in the
 * file format and from_json reads that again (errors naming the input
 * name).
 */
typedef struct dml_fuzz_reader {
    size_t size; /* bytes of one object */
    dml_status (*parse)(const dml_json_obj *o, void *out, dml_error *err);
    dml_status (*validate)(const void *obj, dml_error *err);
    json_t *(*to_json)(const void *obj);
    dml_status (*from_json)(const json_t *j, const char *name, void *out,
                            dml_error *err);
} dml_fuzz_reader;

/*
 * The static dml_fuzz_reader fuzz_reader for the reader whose functions are
 * T_parse, T_validate, T_to_json and T_from_json on objects of type T
 * (dml_plan, dml_model_spec, ...). Wrappers rather than casts: calling a
 * function through a pointer of another type is undefined (UBSan's
 * -fsanitize=function).
 */
#define DML_FUZZ_READER(T)                                                    \
    static dml_status fuzz_parse(const dml_json_obj *o, void *out,            \
                                 dml_error *err)                              \
    {                                                                         \
        return T##_parse(o, out, err);                                        \
    }                                                                         \
    static dml_status fuzz_validate(const void *obj, dml_error *err)          \
    {                                                                         \
        return T##_validate(obj, err);                                        \
    }                                                                         \
    static json_t *fuzz_to_json(const void *obj) { return T##_to_json(obj); } \
    static dml_status fuzz_from_json(const json_t *j, const char *name,       \
                                     void *out, dml_error *err)               \
    {                                                                         \
        return T##_from_json(j, name, out, err);                              \
    }                                                                         \
    static const dml_fuzz_reader fuzz_reader = {                              \
        sizeof(T), fuzz_parse, fuzz_validate, fuzz_to_json, fuzz_from_json}

/*
 * Read the input (the text of a file) with r and check what every reader
 * owes: a rejection formats as one line; an accepted object passes
 * validate and reads back from to_json to the same object. Returns the
 * accepted object, on the heap as the tools keep them (some are tens of
 * kB), for the target's own checks; the caller frees it. NULL when the
 * input was rejected.
 */
void *dml_fuzz_read(const dml_fuzz_reader *r, const uint8_t *data,
                    size_t size);

/*
 * Read back one shell word in the forms dml_quote_shell writes (plain
 * bytes, '...', \' and $'\xNN'), as bash would, into out[size]; its
 * length, or -1 when word is not such a word (an unclosed quote, a byte
 * a shell would interpret outside quotes) or does not fit.
 */
long dml_fuzz_shell_unquote(const char *word, size_t len, char *out,
                            size_t size);

#endif
