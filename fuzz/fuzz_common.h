/*
 * fuzz_common.h: what the libFuzzer targets of fuzz/ share.
 *
 * A target turns a property violation into abort() with a message, so
 * libFuzzer saves the input as a crash; every rejected input must leave an
 * error that formats as one non-empty line (dml tools print exactly one).
 */
#ifndef DML_FUZZ_COMMON_H
#define DML_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <stdbool.h>

#include "common/error.h"

#define DML_FUZZ_ASSERT(cond)                                                 \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__,       \
                    __LINE__, #cond);                                         \
            abort();                                                          \
        }                                                                     \
    } while (0)

/* A rejected input: a status other than OK, and one line of text. */
static inline void dml_fuzz_check_error(const dml_error *err)
{
    char line[DML_ERROR_FILE_MAX + DML_ERROR_FIELD_MAX + DML_ERROR_MSG_MAX];
    dml_error_format(err, line, sizeof line);
    DML_FUZZ_ASSERT(err->status != DML_OK);
    DML_FUZZ_ASSERT(line[0] != '\0');
    DML_FUZZ_ASSERT(strchr(line, '\n') == NULL);
}

/* Do two documents serialise the same? Takes both references. */
static inline bool dml_fuzz_same_json(json_t *a, json_t *b)
{
    char *ta = a ? json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    char *tb = b ? json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    bool same = ta && tb && strcmp(ta, tb) == 0;
    if (!same)
        fprintf(stderr, "first:  %s\nsecond: %s\n", ta ? ta : "(null)",
                tb ? tb : "(null)");
    free(ta);
    free(tb);
    json_decref(a);
    json_decref(b);
    return same;
}

#endif
