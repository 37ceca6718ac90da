/*
 * topology_size.c: how many PUs a described topology holds, counted
 * before hwloc loads it (see topology.h, DML_TOPOLOGY_PUS_MAX).
 *
 * hwloc's load time grows faster than linearly with the number of
 * objects (on the 2-core VM: 4,096 PUs about 1 s, 16,384 about 60 s,
 * 65,536 some minutes and 1.6 GB), and a description of a few bytes
 * ("pack:1000 core:1000 pu:1000") can ask for any number of them. So the
 * size is counted from the text first, with overflow checks, and a
 * description beyond the bound is refused before hwloc sees it.
 *
 * A synthetic description is a list of levels separated by spaces, each
 * "type:arity" or a bare arity, optionally followed by "(attributes)" and
 * by "[memory children]"; the root may carry "(attributes)" first. The
 * PUs are the product of the arities. A level whose arity is not plain
 * digits counts as 1 here and is left to hwloc to refuse. An XML file's
 * PUs are its objects of type "PU".
 */
#include "topology.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>

/* Skip a bracketed group starting at *p (open, close) with nesting. */
static const char *skip_group(const char *p, char open, char close)
{
    int depth = 0;
    for (; *p; p++) {
        if (*p == open)
            depth++;
        else if (*p == close && --depth == 0)
            return p + 1;
    }
    return p;
}

uint64_t dml_topology_synthetic_pus(const char *desc)
{
    uint64_t pus = 1;
    const uint64_t cap = (uint64_t)DML_TOPOLOGY_PUS_MAX + 1;
    const char *p = desc ? desc : "";
    while (*p) {
        if (isspace((unsigned char)*p)) {
            p++;
            continue;
        }
        if (*p == '(') {
            p = skip_group(p, '(', ')');
            continue;
        }
        if (*p == '[') {
            p = skip_group(p, '[', ']');
            continue;
        }
        const char *start = p;
        while (*p && !isspace((unsigned char)*p) && *p != '(' && *p != '[')
            p++;
        const char *colon = memchr(start, ':', (size_t)(p - start));
        const char *num = start;
        while (colon) { /* the arity follows the last ':' */
            num = colon + 1;
            colon = memchr(num, ':', (size_t)(p - num));
        }
        uint64_t arity = 0;
        bool digits = num < p;
        for (const char *d = num; d < p && digits; d++) {
            if (!isdigit((unsigned char)*d)) {
                digits = false;
            } else if (arity <= (UINT64_MAX - 9) / 10) {
                arity = arity * 10 + (uint64_t)(*d - '0');
            } else {
                arity = UINT64_MAX; /* saturate: already past any bound */
            }
        }
        if (!digits || arity == 0)
            continue; /* hwloc's to refuse */
        /* saturate at the bound + 1: the count only has to say "too many" */
        pus = arity > cap / pus ? cap : pus * arity;
        if (pus > cap)
            pus = cap;
    }
    return pus;
}

uint64_t dml_topology_xml_pus(const char *xml, size_t len)
{
    static const char *const marks[] = {"type=\"PU\"", "type='PU'"};
    uint64_t n = 0;
    for (size_t m = 0; m < 2; m++) {
        size_t k = strlen(marks[m]);
        for (size_t i = 0; i + k <= len; i++)
            if (xml[i] == 't' && memcmp(xml + i, marks[m], k) == 0) {
                n++;
                i += k - 1;
            }
    }
    return n;
}
