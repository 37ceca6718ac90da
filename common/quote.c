/*
 * quote.c: shell words and terminal-safe text (see quote.h).
 */
#include "quote.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Output written in whole units (a character, an escape, a quote piece):
 * once one does not fit, nothing more is written, but the length of the
 * whole result is still counted. */
typedef struct sink {
    char *out;
    size_t size;
    size_t n;   /* bytes of the whole result so far */
    bool full;  /* a unit did not fit: out ends before it */
} sink;

static void put(sink *k, const char *unit, size_t len)
{
    if (!k->full && k->size > 0 && k->n + len < k->size) {
        memcpy(k->out + k->n, unit, len);
        k->out[k->n + len] = '\0';
    } else {
        k->full = true;
    }
    k->n += len;
}

static void put_hex(sink *k, const char *prefix, unsigned char c)
{
    char unit[16];
    int len = snprintf(unit, sizeof unit, "%s\\x%02x", prefix, c);
    put(k, unit, (size_t)len);
}

static sink sink_start(char *out, size_t size)
{
    if (size > 0)
        out[0] = '\0';
    return (sink){out, size, 0, false};
}

/* Length of the valid UTF-8 sequence (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF) starting at p, or 0. */
static size_t utf8_len(const unsigned char *p)
{
    unsigned char c = p[0];
    size_t len = c >= 0xc2 && c <= 0xdf   ? 2
                 : c >= 0xe0 && c <= 0xef ? 3
                 : c >= 0xf0 && c <= 0xf4 ? 4
                                          : 0;
    if (len == 0)
        return 0;
    /* The second byte's range excludes overlong forms (E0, F0),
     * surrogates (ED) and code points above U+10FFFF (F4). */
    unsigned char lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
    unsigned char hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return len;
}

/* ---- shell ------------------------------------------------------------- */

/* Bytes no shell gives a meaning to, in any position (Python's
 * shlex.quote uses the same set); '=' and ':' only matter to a shell in
 * words it is not given here (assignments, tilde prefixes). */
static bool shell_plain(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || strchr("@%+=:,./_-", c) != NULL;
}

/* Bytes of text at p written as $'\xNN' pieces rather than inside '...':
 * what dml_quote_terminal would escape (control bytes, C1 controls,
 * broken UTF-8), so that a script printed on a terminal cannot drive it
 * either. 0: none, the character at p goes inside the quotes. */
static size_t shell_escaped(const unsigned char *p)
{
    if (*p < 0x20 || *p == 0x7f)
        return 1;
    if (*p < 0x80)
        return 0;
    size_t len = utf8_len(p);
    if (len == 0)
        return 1;
    return len == 2 && p[0] == 0xc2 && p[1] <= 0x9f ? 2 : 0;
}

size_t dml_quote_shell(const char *s, char *out, size_t size)
{
    sink k = sink_start(out, size);
    if (!s)
        s = "";
    bool plain = s[0] != '\0';
    for (const char *p = s; *p && plain; p++)
        plain = shell_plain((unsigned char)*p);
    if (plain) {
        put(&k, s, strlen(s));
    } else {
        bool open = false; /* inside '...' */
        const unsigned char *p = (const unsigned char *)s;
        while (*p) {
            size_t esc = shell_escaped(p);
            if (*p == '\'' || esc) {
                if (open)
                    put(&k, "'", 1);
                open = false;
                if (*p == '\'') {
                    put(&k, "\\'", 2);
                    p++;
                }
                for (; esc > 0; esc--, p++) {
                    put_hex(&k, "$'", *p);
                    put(&k, "'", 1);
                }
                continue;
            }
            if (!open)
                put(&k, "'", 1);
            open = true;
            size_t len = *p < 0x80 ? 1 : utf8_len(p); /* a whole character */
            put(&k, (const char *)p, len);
            p += len;
        }
        if (open)
            put(&k, "'", 1);
        if (k.n == 0)
            put(&k, "''", 2);
    }
    /* Half a quoted word is worse than none. */
    if (k.full && size > 0)
        out[0] = '\0';
    return k.n;
}

/* ---- terminal ---------------------------------------------------------- */

size_t dml_quote_terminal(const char *s, char *out, size_t size)
{
    sink k = sink_start(out, size);
    if (!s)
        return 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned char c = *p;
        if (c == '\n' || c == '\t' || c == '\r') {
            put(&k, c == '\n' ? "\\n" : c == '\t' ? "\\t" : "\\r", 2);
            p++;
        } else if (c < 0x20 || c == 0x7f) {
            put_hex(&k, "", c);
            p++;
        } else if (c < 0x80) {
            put(&k, (const char *)p, 1);
            p++;
        } else {
            size_t len = utf8_len(p);
            /* U+0080..U+009F (C2 80..C2 9F) are the C1 controls: CSI is
             * U+009B, and some terminals obey them. */
            bool c1 = len == 2 && c == 0xc2 && p[1] <= 0x9f;
            if (len == 0 || c1) {
                size_t bad = len ? len : 1;
                for (size_t i = 0; i < bad; i++)
                    put_hex(&k, "", p[i]);
                p += bad;
            } else {
                put(&k, (const char *)p, len);
                p += len;
            }
        }
    }
    return k.n;
}
