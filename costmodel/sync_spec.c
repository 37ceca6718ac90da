/*
 * sync_spec.c: names, knob text and rules of the data-parallel
 * synchronisation strategies (see sync_spec.h).
 */
#include "costmodel/sync_spec.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    bool param;        /* takes ":N" */
    double lo, hi;     /* its range */
    bool integer;      /* a whole number */
    const char *what;  /* the number, in a phrase */
    const char *example;
} kinds[DML_SYNC_KIND_COUNT] = {
    [DML_SYNC_ALLREDUCE] = {"allreduce", false, 0, 0, false, NULL, NULL},
    [DML_SYNC_HIERARCHICAL] = {"hierarchical", false, 0, 0, false, NULL,
                               NULL},
    [DML_SYNC_FP16] = {"fp16", false, 0, 0, false, NULL, NULL},
    [DML_SYNC_BF16] = {"bf16", false, 0, 0, false, NULL, NULL},
    [DML_SYNC_TOPK] = {"topk", true, 1e-6, 1, false,
                       "the fraction of entries kept, in (0, 1]",
                       "topk:0.01"},
    [DML_SYNC_TOPK_NOEF] = {"topk-noef", true, 1e-6, 1, false,
                            "the fraction of entries kept, in (0, 1]",
                            "topk-noef:0.01"},
    [DML_SYNC_POWERSGD] = {"powersgd", true, 1, 1024, true,
                           "the rank, a whole number from 1 to 1024",
                           "powersgd:2"},
    [DML_SYNC_LOCAL] = {"local", true, 1, 1000000, true,
                        "the steps between averages, a whole number from 1",
                        "local:16"},
    [DML_SYNC_SSP] = {"ssp", true, 0, 1000, true,
                      "the staleness bound, a whole number from 0 to 1000",
                      "ssp:2"},
    /* gossip's graph is text, parsed by parse_gossip */
    [DML_SYNC_GOSSIP] = {"gossip", false, 0, 0, false, NULL, NULL},
};

void dml_sync_spec_init(dml_sync_spec *s)
{
    memset(s, 0, sizeof *s);
    s->kind = DML_SYNC_ALLREDUCE;
    s->graph.kind = DML_GRAPH_RING;
}

double dml_sync_choco_gamma(double k)
{
    return k > 0 && 2 * k < 1 ? 2 * k : 1;
}

const char *dml_sync_kind_name(dml_sync_kind k)
{
    return (int)k >= 0 && k < DML_SYNC_KIND_COUNT ? kinds[k].name : "?";
}

bool dml_sync_kind_has_param(dml_sync_kind k)
{
    return (int)k >= 0 && k < DML_SYNC_KIND_COUNT && kinds[k].param;
}

char *dml_sync_spec_format(const dml_sync_spec *s, char *buf,
                               size_t size)
{
    if (s->kind == DML_SYNC_GOSSIP) {
        char g[32];
        dml_graph_spec_format(&s->graph, g, sizeof g);
        if (s->compress > 0)
            snprintf(buf, size, "gossip:%s:topk:%.15g", g, s->compress);
        else
            snprintf(buf, size, "gossip:%s", g);
    } else if (s->kind == DML_SYNC_LOCAL && s->warmup > 0)
        snprintf(buf, size, "%s:%.15g:%.15g", dml_sync_kind_name(s->kind),
                 s->param, s->warmup);
    else if (dml_sync_kind_has_param(s->kind))
        snprintf(buf, size, "%s:%.15g", dml_sync_kind_name(s->kind),
                 s->param);
    else
        snprintf(buf, size, "%s", dml_sync_kind_name(s->kind));
    return buf;
}

/* W of local:H:W: a whole number of steps, 0 to 1e9. */
static bool parse_warmup(const char *num, double *out)
{
    char *end = NULL;
    errno = 0;
    double w = *num ? strtod(num, &end) : NAN;
    if (!*num || errno || !end || *end || !isfinite(w) || w < 0 ||
        w > 1e9 || w != floor(w))
        return false;
    *out = w;
    return true;
}

/* gossip:G or gossip:G:topk:K (rest: what follows "gossip:"). */
static bool parse_gossip(const char *rest, dml_sync_spec *out, char *why,
                         size_t size)
{
    char graph[64];
    const char *tk = strstr(rest, ":topk:");
    size_t len = tk ? (size_t)(tk - rest) : strlen(rest);
    if (!len || len >= sizeof graph) {
        snprintf(why, size, "gossip needs a graph after ':' (gossip:ring, "
                 "gossip:onepeer-exp, gossip:random:3; gossip:ring:topk:0.1 "
                 "compressed)");
        return false;
    }
    memcpy(graph, rest, len);
    graph[len] = '\0';
    dml_sync_spec s;
    dml_sync_spec_init(&s);
    s.kind = DML_SYNC_GOSSIP;
    if (!dml_graph_spec_parse(graph, &s.graph, why, size))
        return false;
    if (tk) {
        const char *num = tk + 6;
        char *end = NULL;
        errno = 0;
        double k = *num ? strtod(num, &end) : NAN;
        if (!*num || errno || !end || *end || !isfinite(k) || k < 1e-6 ||
            k > 1) {
            snprintf(why, size, "gossip's topk needs the fraction of entries "
                     "kept, in (0, 1], after ':' (gossip:ring:topk:0.1)");
            return false;
        }
        s.compress = k;
    }
    *out = s;
    return true;
}

bool dml_sync_spec_parse(const char *text, dml_sync_spec *out,
                             char *why, size_t size)
{
    if (strncmp(text, "gossip", 6) == 0 && (!text[6] || text[6] == ':'))
        return parse_gossip(text[6] ? text + 7 : "", out, why, size);
    const char *colon = strchr(text, ':');
    size_t len = colon ? (size_t)(colon - text) : strlen(text);
    for (int k = 0; k < DML_SYNC_KIND_COUNT; k++) {
        if (strlen(kinds[k].name) != len ||
            strncmp(kinds[k].name, text, len) != 0)
            continue;
        if (!kinds[k].param) {
            if (colon) {
                snprintf(why, size, "%s takes no number", kinds[k].name);
                return false;
            }
            dml_sync_spec_init(out);
            out->kind = (dml_sync_kind)k;
            return true;
        }
        const char *num = colon ? colon + 1 : "";
        char *end = NULL;
        errno = 0;
        double v = *num ? strtod(num, &end) : NAN;
        bool whole = isfinite(v) && v == floor(v);
        /* local:H:W, post-local SGD: a second number, the warm-up */
        bool second = k == DML_SYNC_LOCAL && end && *end == ':';
        if (!*num || errno || !end || (*end && !second) || !isfinite(v) ||
            v < kinds[k].lo || v > kinds[k].hi ||
            (kinds[k].integer && !whole)) {
            snprintf(why, size, "%s needs %s after ':' (%s)", kinds[k].name,
                     kinds[k].what, kinds[k].example);
            return false;
        }
        double w = 0;
        if (second && !parse_warmup(end + 1, &w)) {
            snprintf(why, size, "local:H:W needs the synchronous warm-up "
                     "steps W, a whole number from 0, after the second ':' "
                     "(local:16:200)");
            return false;
        }
        dml_sync_spec_init(out);
        out->kind = (dml_sync_kind)k;
        out->param = v;
        out->warmup = w;
        return true;
    }
    snprintf(why, size,
             "not a strategy (allreduce, hierarchical, fp16, bf16, topk:K, "
             "topk-noef:K, powersgd:R, local:H, ssp:S, gossip:G)");
    return false;
}

bool dml_sync_spec_equal(const dml_sync_spec *a,
                             const dml_sync_spec *b)
{
    return a->kind == b->kind && a->param == b->param &&
           a->warmup == b->warmup && a->compress == b->compress &&
           (a->kind != DML_SYNC_GOSSIP ||
            dml_graph_spec_equal(&a->graph, &b->graph));
}

dml_status dml_sync_spec_check(const dml_sync_spec *s, int zero,
                                   int dp, dml_error *err)
{
    (void)dp;
    char text[64];
    dml_sync_spec_format(s, text, sizeof text);
    switch (s->kind) {
    case DML_SYNC_ALLREDUCE: return DML_OK;
    case DML_SYNC_HIERARCHICAL:
    case DML_SYNC_FP16:
    case DML_SYNC_BF16:
        if (zero > 1)
            return dml_error_set(err, DML_EUSAGE, NULL, 0, 0, "sync",
                                 "sync=%s runs with ZeRO 0 or 1 (ZeRO-%d "
                                 "reduces per micro-batch, which only "
                                 "sync=allreduce does)",
                                 text, zero);
        return DML_OK;
    case DML_SYNC_TOPK:
    case DML_SYNC_TOPK_NOEF:
    case DML_SYNC_POWERSGD:
    case DML_SYNC_LOCAL:
    case DML_SYNC_SSP:
    case DML_SYNC_GOSSIP:
        if (s->kind == DML_SYNC_GOSSIP && s->compress > 0 &&
            s->graph.kind == DML_GRAPH_ONEPEER_EXP)
            return dml_error_set(err, DML_EUSAGE, NULL, 0, 0, "sync",
                                 "sync=%s: CHOCO's compressed gossip keeps "
                                 "every neighbour's copy up to date at every "
                                 "step, which a graph that changes peer "
                                 "every step cannot (use exp, ring, torus or "
                                 "random:D)",
                                 text);
        if (zero > 0)
            return dml_error_set(err, DML_EUSAGE, NULL, 0, 0, "sync",
                                 "sync=%s needs zero=0: every replica "
                                 "updates its whole optimizer state from "
                                 "what it receives",
                                 text);
        return DML_OK;
    case DML_SYNC_KIND_COUNT: break;
    }
    return dml_error_set(err, DML_EUSAGE, NULL, 0, 0, "sync",
                         "unknown strategy");
}
