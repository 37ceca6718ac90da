/*
 * fuzz_common.c: the checks every libFuzzer target of fuzz/ makes (see
 * fuzz_common.h).
 */
#include "fuzz/fuzz_common.h"

#include <string.h>

void dml_fuzz_check_error(const dml_error *err)
{
    char line[DML_ERROR_FILE_MAX + DML_ERROR_FIELD_MAX + DML_ERROR_MSG_MAX];
    dml_error_format(err, line, sizeof line);
    DML_FUZZ_ASSERT(err->status != DML_OK);
    DML_FUZZ_ASSERT(line[0] != '\0');
    DML_FUZZ_ASSERT(strchr(line, '\n') == NULL);
}

bool dml_fuzz_same_json(json_t *a, json_t *b)
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

void *dml_fuzz_read(const dml_fuzz_reader *r, const uint8_t *data,
                    size_t size)
{
    dml_json_doc *doc = NULL;
    dml_error err;
    dml_error_clear(&err);
    if (dml_json_doc_load_text("fuzz.json", (const char *)data, size, &doc,
                               &err) != DML_OK) {
        dml_fuzz_check_error(&err);
        return NULL;
    }
    dml_json_obj root;
    dml_json_obj_root(doc, &root);
    void *obj = malloc(r->size), *back = malloc(r->size);
    DML_FUZZ_ASSERT(obj && back);
    dml_status s = r->parse(&root, obj, &err);
    dml_json_doc_free(doc);
    if (s != DML_OK) {
        dml_fuzz_check_error(&err);
        free(obj);
        free(back);
        return NULL;
    }
    DML_FUZZ_ASSERT(r->validate(obj, &err) == DML_OK);
    json_t *j = r->to_json(obj);
    DML_FUZZ_ASSERT(j != NULL);
    s = r->from_json(j, "round-trip", back, &err);
    json_decref(j);
    DML_FUZZ_ASSERT(s == DML_OK);
    DML_FUZZ_ASSERT(dml_fuzz_same_json(r->to_json(obj), r->to_json(back)));
    free(back);
    return obj;
}

/* Outside quotes, a shell leaves these bytes alone (dml_quote_shell's
 * plain set). */
static bool shell_plain(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || (c && strchr("@%+=:,./_-", c));
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

long dml_fuzz_shell_unquote(const char *word, size_t len, char *out,
                            size_t size)
{
    size_t i = 0, n = 0;
#define DML__OUT(c)                                                           \
    do {                                                                      \
        if (n + 1 >= size)                                                    \
            return -1;                                                        \
        out[n++] = (c);                                                       \
    } while (0)
    while (i < len) {
        if (word[i] == '\'') {
            const char *end = memchr(word + i + 1, '\'', len - i - 1);
            if (!end)
                return -1;
            for (const char *p = word + i + 1; p < end; p++)
                DML__OUT(*p);
            i = (size_t)(end - word) + 1;
        } else if (word[i] == '\\') {
            if (i + 1 >= len || word[i + 1] != '\'')
                return -1;
            DML__OUT('\'');
            i += 2;
        } else if (word[i] == '$') {
            /* exactly $'\xNN' */
            if (i + 6 >= len || word[i + 1] != '\'' || word[i + 2] != '\\' ||
                word[i + 3] != 'x' || word[i + 6] != '\'')
                return -1;
            int hi = hex_digit(word[i + 4]), lo = hex_digit(word[i + 5]);
            if (hi < 0 || lo < 0)
                return -1;
            DML__OUT((char)(hi * 16 + lo));
            i += 7;
        } else if (shell_plain(word[i])) {
            DML__OUT(word[i]);
            i++;
        } else {
            return -1;
        }
    }
#undef DML__OUT
    out[n] = '\0';
    return (long)n;
}
