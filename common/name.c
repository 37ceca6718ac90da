/*
 * name.c: the rule for names and fingerprints (see name.h).
 */
#include "name.h"

#include <stdio.h>
#include <string.h>

static bool is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
}

static bool in_name(unsigned char c)
{
    return is_alnum(c) || c == '.' || c == '_' || c == '+' || c == '-';
}

static bool is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F');
}

/* The byte c in words that are safe to print: never the byte itself
 * unless it is printable ASCII. */
static void describe(unsigned char c, char *out, size_t size)
{
    if (c == '\n')
        snprintf(out, size, "a newline (0x0a)");
    else if (c == '\t')
        snprintf(out, size, "a tab (0x09)");
    else if (c == '\r')
        snprintf(out, size, "a carriage return (0x0d)");
    else if (c == ' ')
        snprintf(out, size, "a space");
    else if (c < 0x20 || c == 0x7f)
        snprintf(out, size, "control character 0x%02x", c);
    else if (c >= 0x80)
        snprintf(out, size, "byte 0x%02x (not ASCII)", c);
    else if (c == '\'')
        snprintf(out, size, "a single quote");
    else if (c == '"')
        snprintf(out, size, "a double quote");
    else if (c == '\\')
        snprintf(out, size, "a backslash");
    else
        snprintf(out, size, "'%c'", c);
}

/* Fill why (may be NULL) and be false: the verdict on a bad value. */
#define say(why, size, ...) (dml_error_why((why), (size), __VA_ARGS__), false)

bool dml_name_valid(const char *s, char *why, size_t size)
{
    if (why && size)
        why[0] = '\0';
    if (!s || !s[0])
        return say(why, size, "must not be empty");
    size_t len = strlen(s);
    if (len > DML_NAME_MAX_BYTES)
        return say(why, size, "longer than %d bytes (%zu bytes)",
                   DML_NAME_MAX_BYTES, len);
    char what[64];
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        /* Everything before i is ASCII, so byte i is character i + 1. */
        if (!in_name(c)) {
            describe(c, what, sizeof what);
            return say(why, size,
                       "%s is not allowed (character %zu); " DML_NAME_RULE,
                       what, i + 1);
        }
        if (i == 0 && !is_alnum(c)) {
            describe(c, what, sizeof what);
            return say(why, size,
                       "%s cannot start a name (character 1); " DML_NAME_RULE,
                       what);
        }
    }
    return true;
}

dml_status dml_name_check(const char *s, const char *field, dml_error *err)
{
    char why[DML_ERROR_MSG_MAX];
    if (dml_name_valid(s, why, sizeof why))
        return DML_OK;
    return dml_error_set(err, DML_EINPUT, NULL, 0, 0, field, "%s", why);
}

/* A rule: true when s follows it, else false with why[size] filled. */
typedef bool (*rule_fn)(const char *s, char *why, size_t size);

/* The string o.key checked by rule and copied into dst[size]. */
static dml_status get_checked(const dml_json_obj *o, const char *key,
                              bool required, rule_fn rule, char *dst,
                              size_t size, dml_error *err)
{
    const char *s = NULL;
    DML_CHECK(dml_json_get_str(o, key, required, &s, err));
    if (!s)
        return DML_OK;
    char why[DML_ERROR_MSG_MAX];
    bool ok = rule(s, why, sizeof why);
    if (ok && strlen(s) >= size) /* a caller's buffer below the rule */
        ok = say(why, sizeof why, "longer than %zu bytes", size - 1);
    if (!ok) {
        char path[DML_JSON_PATH_MAX];
        dml_json_path_key(path, sizeof path, o->path, key);
        return dml_json_doc_error(o->doc, err, path, false, "%s", why);
    }
    snprintf(dst, size, "%s", s);
    return DML_OK;
}

dml_status dml_name_get(const dml_json_obj *o, const char *key, bool required,
                        char *dst, size_t size, dml_error *err)
{
    return get_checked(o, key, required, dml_name_valid, dst, size, err);
}

void dml_name_from_text(const char *text, const char *fallback, char *out,
                        size_t size)
{
    size_t limit = size - 1 < DML_NAME_MAX_BYTES ? size - 1
                                                 : DML_NAME_MAX_BYTES;
    size_t n = 0;
    bool gap = false; /* bytes a name cannot hold since the last kept one */
    for (const unsigned char *p = (const unsigned char *)(text ? text : "");
         *p && n < limit; p++) {
        if (!in_name(*p) || (n == 0 && !is_alnum(*p))) {
            gap = n > 0;
            continue;
        }
        if (gap) {
            if (n + 1 >= limit)
                break; /* no room for the dash and a character after it */
            out[n++] = '-';
            gap = false;
        }
        out[n++] = (char)*p;
    }
    out[n] = '\0';
    if (n == 0)
        snprintf(out, size, "%s", fallback);
}

bool dml_fingerprint_valid(const char *s, char *why, size_t size)
{
    if (why && size)
        why[0] = '\0';
    size_t len = s ? strlen(s) : 0;
    if (len == 0 || len > DML_FINGERPRINT_HEX_MAX)
        return say(why, size,
                   "expected 1 to %d hexadecimal digits, found %zu bytes",
                   DML_FINGERPRINT_HEX_MAX, len);
    char what[64];
    for (size_t i = 0; i < len; i++)
        if (!is_hex((unsigned char)s[i])) {
            describe((unsigned char)s[i], what, sizeof what);
            return say(why, size,
                       "expected hexadecimal digits, found %s (character "
                       "%zu)", what, i + 1);
        }
    return true;
}

dml_status dml_fingerprint_get(const dml_json_obj *o, const char *key,
                               char *dst, size_t size, dml_error *err)
{
    return get_checked(o, key, false, dml_fingerprint_valid, dst, size, err);
}
