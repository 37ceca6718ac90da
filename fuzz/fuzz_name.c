/*
 * fuzz_name: libFuzzer target for the rule for names (common/name.h) and
 * the quoting of text (common/quote.h).
 *
 * The input, up to its first NUL, is a would-be name. The validator must
 * agree with the rule written out again here (1 to 63 bytes, ASCII
 * letters, digits and . _ + -, a letter or digit first), explain a
 * refusal in one line that names a character of the input, and agree
 * with itself through JSON (dml_name_get on a document holding the
 * string). dml_name_from_text must always make a name. dml_quote_terminal
 * must leave no control byte, and dml_quote_shell must give one word,
 * with no control byte, that reads back as the input exactly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/name.h"
#include "common/quote.h"
#include "fuzz/fuzz_common.h"

static bool rule(const char *s, size_t len)
{
    if (len < 1 || len > 63)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                     (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || !strchr("._+-", c) || c == '\0'))
            return false;
    }
    return true;
}

/* No byte a terminal obeys: C0, DEL, C1 (U+0080..U+009F as UTF-8). */
static bool printable(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f ||
            (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
            return false;
    return true;
}

static void through_json(const char *s, bool valid)
{
    json_t *str = json_string(s);
    if (!str)
        return; /* not UTF-8: no JSON document can hold it */
    json_t *doc = json_pack("{s:o}", "name", str);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    DML_FUZZ_ASSERT(text != NULL);
    dml_json_doc *d = NULL;
    dml_error err;
    DML_FUZZ_ASSERT(dml_json_doc_load_text("fuzz.json", text, strlen(text),
                                           &d, &err) == DML_OK);
    dml_json_obj o;
    dml_json_obj_root(d, &o);
    char name[DML_NAME_MAX_BYTES + 1];
    dml_status st = dml_name_get(&o, "name", true, name, sizeof name, &err);
    DML_FUZZ_ASSERT((st == DML_OK) == valid);
    if (st == DML_OK)
        DML_FUZZ_ASSERT(strcmp(name, s) == 0);
    else
        dml_fuzz_check_error(&err);
    dml_json_doc_free(d);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    DML_FUZZ_ASSERT(s != NULL);
    memcpy(s, data, size);
    s[size] = '\0';
    size_t len = strlen(s);

    char why[DML_ERROR_MSG_MAX];
    bool valid = dml_name_valid(s, why, sizeof why);
    DML_FUZZ_ASSERT(valid == rule(s, len));
    if (!valid) {
        DML_FUZZ_ASSERT(why[0] != '\0' && printable(why));
        /* "(character N)" names a byte of the input the rule refuses */
        const char *c = strstr(why, "(character ");
        if (c) {
            size_t n = strtoul(c + 11, NULL, 10);
            DML_FUZZ_ASSERT(n >= 1 && n <= len && len <= 63);
            DML_FUZZ_ASSERT(!rule(s, n));
            DML_FUZZ_ASSERT(n == 1 || rule(s, n - 1));
        } else {
            DML_FUZZ_ASSERT(len == 0 || len > 63);
        }
    }
    dml_error err;
    DML_FUZZ_ASSERT((dml_name_check(s, "name", &err) == DML_OK) == valid);
    through_json(s, valid);

    char name[DML_NAME_MAX_BYTES + 1];
    dml_name_from_text(s, "node", name, sizeof name);
    DML_FUZZ_ASSERT(dml_name_valid(name, NULL, 0));
    if (valid)
        DML_FUZZ_ASSERT(strcmp(name, s) == 0);

    char fp_why[DML_ERROR_MSG_MAX];
    bool fp = dml_fingerprint_valid(s, fp_why, sizeof fp_why);
    DML_FUZZ_ASSERT(fp == (len >= 1 && len <= 64 &&
                           strspn(s, "0123456789abcdefABCDEF") == len));
    DML_FUZZ_ASSERT(fp || printable(fp_why));

    size_t cap = 8 * len + 16;
    char *shown = malloc(cap), *word = malloc(cap), *back = malloc(cap);
    DML_FUZZ_ASSERT(shown && word && back);
    size_t n = dml_quote_terminal(s, shown, cap);
    DML_FUZZ_ASSERT(n < cap && strlen(shown) == n && printable(shown));
    if (printable(s) && !strchr(s, '\\'))
        DML_FUZZ_ASSERT(strcmp(shown, s) == 0 || strstr(shown, "\\x"));
    n = dml_quote_shell(s, word, cap);
    DML_FUZZ_ASSERT(n < cap && n > 0 && strlen(word) == n);
    DML_FUZZ_ASSERT(printable(word));
    long got = dml_fuzz_shell_unquote(word, n, back, cap);
    DML_FUZZ_ASSERT(got == (long)len && memcmp(back, s, len) == 0);
    /* A word cut short is never written. */
    char small[8];
    if (dml_quote_shell(s, small, sizeof small) >= sizeof small)
        DML_FUZZ_ASSERT(small[0] == '\0');
    free(shown);
    free(word);
    free(back);
    free(s);
    return 0;
}
