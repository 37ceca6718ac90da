/*
 * slurm_hosts.c: the hosts of a Slurm allocation (see hosts.h).
 *
 * Inside an allocation Slurm names its nodes in SLURM_JOB_NODELIST as a
 * hostlist expression ("gpu[01-04,07],login2": a bracket holds numbers
 * and ranges, zero-padded to the width written, and a name may hold
 * several brackets, expanded left to right) and the tasks each node takes
 * in SLURM_TASKS_PER_NODE ("2(x3),1": a count, repeated xN times). This
 * is `scontrol show hostnames` without needing scontrol on the node the
 * supervisor runs on.
 */
#include "elastic/hosts.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct expand {
    dml_hosts *out;
    const char *what; /* the variable's name, for errors */
    dml_error *err;
} expand;

static dml_status add_host(expand *x, const char *name)
{
    dml_hosts *o = x->out;
    if (o->n == DML_HOSTS_MAX)
        return dml_error_msg(x->err, DML_EINPUT, "%s: more than %d hosts",
                             x->what, DML_HOSTS_MAX);
    if (strlen(name) >= DML_HOST_NAME_MAX)
        return dml_error_msg(x->err, DML_EINPUT, "%s: host name too long",
                             x->what);
    for (int i = 0; i < o->n; i++)
        if (strcmp(o->h[i].name, name) == 0)
            return dml_error_msg(x->err, DML_EINPUT, "%s: %s listed twice",
                                 x->what, name);
    dml_host *h = &o->h[o->n++];
    snprintf(h->name, sizeof h->name, "%s", name);
    h->slots = 1;
    h->alive = true;
    return DML_OK;
}

/* A number of a range: digits only; its width kept for zero padding. */
static bool number(const char *s, size_t len, long *v, int *width)
{
    if (len == 0 || len > 9)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    *v = strtol(s, NULL, 10);
    *width = (int)len;
    return true;
}

/* Expand `item` (no top-level comma) after `head`: the first bracket's
 * numbers in turn, each followed by the rest expanded. */
static dml_status expand_item(expand *x, const char *head, const char *item)
{
    const char *open = strchr(item, '[');
    char name[2 * DML_HOST_NAME_MAX];
    if (!open) {
        if (strchr(item, ']'))
            return dml_error_msg(x->err, DML_EINPUT,
                                 "%s: ']' without '[' in \"%s\"", x->what,
                                 item);
        snprintf(name, sizeof name, "%s%s", head, item);
        return add_host(x, name);
    }
    const char *close = strchr(open, ']');
    if (!close || memchr(open + 1, '[', (size_t)(close - open - 1)))
        return dml_error_msg(x->err, DML_EINPUT,
                             "%s: unclosed '[' in \"%s\"", x->what, item);
    char prefix[DML_HOST_NAME_MAX];
    snprintf(prefix, sizeof prefix, "%s%.*s", head, (int)(open - item), item);
    for (const char *p = open + 1; p < close;) {
        const char *comma = memchr(p, ',', (size_t)(close - p));
        const char *end = comma ? comma : close;
        const char *dash = memchr(p, '-', (size_t)(end - p));
        long lo, hi;
        int wlo, whi;
        bool ok = dash ? number(p, (size_t)(dash - p), &lo, &wlo) &&
                             number(dash + 1, (size_t)(end - dash - 1), &hi,
                                    &whi)
                       : number(p, (size_t)(end - p), &lo, &wlo);
        if (!dash)
            hi = lo;
        if (!ok || hi < lo || hi - lo >= DML_HOSTS_MAX)
            return dml_error_msg(x->err, DML_EINPUT,
                                 "%s: \"%.*s\" in \"%s\" is not a number or "
                                 "a range LOW-HIGH",
                                 x->what, (int)(end - p), p, item);
        for (long v = lo; v <= hi; v++) {
            char head2[DML_HOST_NAME_MAX];
            snprintf(head2, sizeof head2, "%s%0*ld", prefix, wlo, v);
            DML_CHECK(expand_item(x, head2, close + 1));
        }
        p = comma ? comma + 1 : close;
    }
    return DML_OK;
}

/* Tasks per node, "2(x3),1", onto the hosts in order. */
static dml_status tasks(const char *text, dml_hosts *out, dml_error *err)
{
    int k = 0;
    for (const char *p = text; *p;) {
        char *end = NULL;
        long n = strtol(p, &end, 10), times = 1;
        if (end == p || n < 1 || n > 1 << 20)
            return dml_error_msg(err, DML_EINPUT,
                                 "SLURM_TASKS_PER_NODE: expected a count at "
                                 "\"%s\"", p);
        p = end;
        if (strncmp(p, "(x", 2) == 0) {
            times = strtol(p + 2, &end, 10);
            if (end == p + 2 || *end != ')' || times < 1)
                return dml_error_msg(err, DML_EINPUT,
                                     "SLURM_TASKS_PER_NODE: expected "
                                     "\"(xN)\" at \"%s\"", p);
            p = end + 1;
        }
        for (long t = 0; t < times; t++, k++)
            if (k < out->n)
                out->h[k].slots = (int)n;
        if (*p == ',')
            p++;
        else if (*p)
            return dml_error_msg(err, DML_EINPUT,
                                 "SLURM_TASKS_PER_NODE: unexpected \"%s\"",
                                 p);
    }
    if (k != out->n)
        return dml_error_msg(err, DML_EINPUT,
                             "SLURM_TASKS_PER_NODE gives %d nodes, "
                             "SLURM_JOB_NODELIST %d",
                             k, out->n);
    return DML_OK;
}

dml_status dml_hosts_from_slurm(const char *nodelist,
                                const char *tasks_per_node, dml_hosts *out,
                                dml_error *err)
{
    memset(out, 0, sizeof *out);
    expand x = {out, "SLURM_JOB_NODELIST", err};
    size_t len = strlen(nodelist);
    char *copy = malloc(len + 1);
    if (!copy)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    memcpy(copy, nodelist, len + 1);
    dml_status s = DML_OK;
    /* items split at commas outside brackets */
    int depth = 0;
    char *item = copy;
    for (char *p = copy; s == DML_OK; p++) {
        if (*p == '[')
            depth++;
        else if (*p == ']')
            depth--;
        if ((*p == ',' && depth == 0) || *p == '\0') {
            bool last = *p == '\0';
            *p = '\0';
            if (*item == '\0')
                s = dml_error_msg(err, DML_EINPUT,
                                  "SLURM_JOB_NODELIST: an empty host name in "
                                  "\"%s\"", nodelist);
            else
                s = expand_item(&x, "", item);
            item = p + 1;
            if (last)
                break;
        }
    }
    free(copy);
    if (s == DML_OK && tasks_per_node && *tasks_per_node)
        s = tasks(tasks_per_node, out, err);
    return s;
}
