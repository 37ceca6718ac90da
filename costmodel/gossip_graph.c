/*
 * gossip_graph.c: the gossip graphs, their mixing weights and their checks
 * (see gossip_graph.h).
 */
#include "costmodel/gossip_graph.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"

static const char *const kind_names[DML_GRAPH_KIND_COUNT] = {
    [DML_GRAPH_RING] = "ring",
    [DML_GRAPH_TORUS] = "torus",
    [DML_GRAPH_EXP] = "exp",
    [DML_GRAPH_ONEPEER_EXP] = "onepeer-exp",
    [DML_GRAPH_RANDOM] = "random",
};

/* random graphs are drawn and kept as lists: beyond this many ranks the
 * lists would not be small */
#define RANDOM_MAX_RANKS 65536

bool dml_graph_spec_parse(const char *text, dml_graph_spec *out, char *why,
                          size_t size)
{
    for (int k = 0; k < DML_GRAPH_KIND_COUNT; k++) {
        if (k == DML_GRAPH_RANDOM)
            continue;
        if (strcmp(text, kind_names[k]) == 0) {
            out->kind = (dml_graph_kind)k;
            out->degree = 0;
            return true;
        }
    }
    if (strncmp(text, "random", 6) == 0 && (text[6] == ':' || !text[6])) {
        const char *num = text[6] ? text + 7 : "";
        char *end = NULL;
        errno = 0;
        long d = *num ? strtol(num, &end, 10) : 0;
        if (!*num || errno || !end || *end || d < 1 ||
            d > DML_GOSSIP_MAX_DEGREE) {
            snprintf(why, size, "random needs the degree D, a whole number "
                     "from 1 to %d, after ':' (random:3)",
                     DML_GOSSIP_MAX_DEGREE);
            return false;
        }
        out->kind = DML_GRAPH_RANDOM;
        out->degree = (int)d;
        return true;
    }
    snprintf(why, size,
             "not a graph (ring, torus, exp, onepeer-exp, random:D)");
    return false;
}

char *dml_graph_spec_format(const dml_graph_spec *s, char *buf, size_t size)
{
    const char *name = (int)s->kind >= 0 && s->kind < DML_GRAPH_KIND_COUNT
                           ? kind_names[s->kind]
                           : "?";
    if (s->kind == DML_GRAPH_RANDOM)
        snprintf(buf, size, "%s:%d", name, s->degree);
    else
        snprintf(buf, size, "%s", name);
    return buf;
}

bool dml_graph_spec_equal(const dml_graph_spec *a, const dml_graph_spec *b)
{
    return a->kind == b->kind && a->degree == b->degree;
}

static int ceil_log2(int n)
{
    int t = 0;
    while (t < 31 && (1L << t) < n)
        t++;
    return t;
}

/* The torus grid: rows the largest divisor of n at most sqrt(n). */
static void torus_shape(int n, int *rows, int *cols)
{
    *rows = 1;
    for (int r = 1; (long)r * r <= n; r++)
        if (n % r == 0)
            *rows = r;
    *cols = n / *rows;
}

static int mod(long a, int n)
{
    long m = a % n;
    return (int)(m < 0 ? m + n : m);
}

/* Add r to list[0..*len) unless it is there (a ring of 2, a torus side of
 * 2: both directions reach one rank) or is `self`. */
static void add_unique(int *list, int *len, int r, int self)
{
    if (r == self)
        return;
    for (int i = 0; i < *len; i++)
        if (list[i] == r)
            return;
    list[(*len)++] = r;
}

static bool adjacent(const int *adj, const int *deg, int d, int u, int v)
{
    for (int i = 0; i < deg[u]; i++)
        if (adj[(size_t)u * (size_t)d + (size_t)i] == v)
            return true;
    return false;
}

/* One simple D-regular draw by the pairing model with the pairs chosen
 * one at a time among those that keep the graph simple (Steger and
 * Wormald 1999); false when it gets stuck (the caller draws again). */
static bool draw_regular(int n, int d, dml_rng *rng, int *adj, int *deg,
                         int *points)
{
    int np = n * d;
    for (int i = 0; i < np; i++)
        points[i] = i / d;
    memset(deg, 0, (size_t)n * sizeof *deg);
    while (np > 0) {
        bool paired = false;
        for (int tries = 0; tries < 50 * np + 100 && !paired; tries++) {
            int a = (int)dml_rng_below(rng, (uint64_t)np);
            int b = (int)dml_rng_below(rng, (uint64_t)np);
            int u = points[a], v = points[b];
            if (a == b || u == v || adjacent(adj, deg, d, u, v))
                continue;
            adj[(size_t)u * (size_t)d + (size_t)deg[u]++] = v;
            adj[(size_t)v * (size_t)d + (size_t)deg[v]++] = u;
            /* remove points a and b (the larger index first) */
            int hi = a > b ? a : b, lo = a > b ? b : a;
            points[hi] = points[--np];
            points[lo] = points[--np];
            paired = true;
        }
        if (!paired)
            return false;
    }
    return true;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static dml_status build_random(dml_gossip_graph *g, uint64_t seed,
                               dml_error *err)
{
    int n = g->n, d = g->spec.degree;
    if (d >= n || ((long)n * d) % 2 != 0 || n > RANDOM_MAX_RANKS)
        return dml_error_msg(err, DML_EUSAGE,
                             "graph random:%d cannot be drawn on %d ranks "
                             "(a D-regular graph needs D < n, n x D even "
                             "and n at most %d)",
                             d, n, RANDOM_MAX_RANKS);
    g->adj = malloc((size_t)n * (size_t)d * sizeof *g->adj);
    int *deg = malloc((size_t)n * sizeof *deg);
    int *points = malloc((size_t)n * (size_t)d * sizeof *points);
    if (!g->adj || !deg || !points) {
        free(deg);
        free(points);
        return dml_error_msg(err, DML_ENOMEM, "out of memory for graph "
                             "random:%d on %d ranks", d, n);
    }
    dml_rng rng;
    dml_rng_seed(&rng, seed ^ 0x676f73736970ULL /* "gossip" */);
    dml_status st = DML_EUSAGE;
    for (int attempt = 0; attempt < 200 && st != DML_OK; attempt++) {
        if (!draw_regular(n, d, &rng, g->adj, deg, points))
            continue;
        for (int r = 0; r < n; r++)
            qsort(g->adj + (size_t)r * (size_t)d, (size_t)d, sizeof(int),
                  cmp_int);
        dml_error quiet;
        st = dml_gossip_graph_check(g, &quiet);
    }
    free(deg);
    free(points);
    if (st != DML_OK)
        return dml_error_msg(err, DML_EUSAGE,
                             "graph random:%d on %d ranks: no connected "
                             "simple draw in 200 tries",
                             d, n);
    return DML_OK;
}

dml_status dml_gossip_graph_build(const dml_graph_spec *spec, int n,
                                  uint64_t seed, dml_gossip_graph *g,
                                  dml_error *err)
{
    memset(g, 0, sizeof *g);
    g->spec = *spec;
    g->n = n;
    g->period = 1;
    if (n < 1)
        return dml_error_msg(err, DML_EUSAGE, "a gossip graph needs at "
                             "least one rank (got %d)", n);
    switch (spec->kind) {
    case DML_GRAPH_RING: break;
    case DML_GRAPH_TORUS:
        torus_shape(n, &g->rows, &g->cols);
        break;
    case DML_GRAPH_EXP:
    case DML_GRAPH_ONEPEER_EXP:
        g->tau = ceil_log2(n);
        if (spec->kind == DML_GRAPH_ONEPEER_EXP && g->tau > 0)
            g->period = g->tau;
        break;
    case DML_GRAPH_RANDOM: {
        dml_status st = build_random(g, seed, err);
        if (st != DML_OK) {
            dml_gossip_graph_free(g);
            return st;
        }
        return DML_OK;
    }
    default:
        return dml_error_msg(err, DML_EUSAGE, "unknown gossip graph");
    }
    if (spec->kind == DML_GRAPH_EXP && g->tau > DML_GOSSIP_MAX_DEGREE)
        return dml_error_msg(err, DML_EUSAGE, "graph exp on %d ranks has "
                             "more than %d neighbours", n,
                             DML_GOSSIP_MAX_DEGREE);
    return dml_gossip_graph_check(g, err);
}

void dml_gossip_graph_free(dml_gossip_graph *g)
{
    free(g->adj);
    g->adj = NULL;
}

/* Out-neighbours (to) and in-neighbours (from) of r at step t, without
 * weights. */
static void neighbours(const dml_gossip_graph *g, int r, int64_t t,
                       dml_gossip_peers *p)
{
    int n = g->n;
    p->nin = p->nout = 0;
    switch (g->spec.kind) {
    case DML_GRAPH_RING:
        add_unique(p->out, &p->nout, mod(r + 1L, n), r);
        add_unique(p->out, &p->nout, mod(r - 1L, n), r);
        break;
    case DML_GRAPH_TORUS: {
        int row = r / g->cols, col = r % g->cols;
        add_unique(p->out, &p->nout, row * g->cols + mod(col + 1L, g->cols), r);
        add_unique(p->out, &p->nout, row * g->cols + mod(col - 1L, g->cols), r);
        add_unique(p->out, &p->nout, mod(row + 1L, g->rows) * g->cols + col, r);
        add_unique(p->out, &p->nout, mod(row - 1L, g->rows) * g->cols + col, r);
        break;
    }
    case DML_GRAPH_EXP:
        for (int k = 0; k < g->tau; k++) {
            add_unique(p->out, &p->nout, mod(r + (1L << k), n), r);
            add_unique(p->in, &p->nin, mod(r - (1L << k), n), r);
        }
        return;
    case DML_GRAPH_ONEPEER_EXP:
        if (g->tau > 0) {
            long off = 1L << (int)(t % g->tau);
            add_unique(p->out, &p->nout, mod(r + off, n), r);
            add_unique(p->in, &p->nin, mod(r - off, n), r);
        }
        return;
    case DML_GRAPH_RANDOM:
        for (int i = 0; i < g->spec.degree; i++)
            p->out[p->nout++] = g->adj[(size_t)r * (size_t)g->spec.degree +
                                       (size_t)i];
        break;
    default: break;
    }
    /* undirected: whom it sends to it hears from */
    p->nin = p->nout;
    memcpy(p->in, p->out, (size_t)p->nout * sizeof *p->in);
}

void dml_gossip_graph_peers(const dml_gossip_graph *g, int r, int64_t step,
                            dml_gossip_peers *out)
{
    neighbours(g, r, step, out);
    /* regular graphs: self and each in-neighbour alike (header) */
    double w = 1.0 / (out->nin + 1);
    for (int i = 0; i < out->nin; i++)
        out->w_in[i] = w;
    out->w_self = w;
}

void dml_gossip_graph_union(const dml_gossip_graph *g, int r,
                            dml_gossip_peers *out)
{
    out->nin = out->nout = 0;
    out->w_self = 1;
    for (int t = 0; t < g->period; t++) {
        dml_gossip_peers p;
        neighbours(g, r, t, &p);
        for (int i = 0; i < p.nin; i++)
            add_unique(out->in, &out->nin, p.in[i], r);
        for (int i = 0; i < p.nout; i++)
            add_unique(out->out, &out->nout, p.out[i], r);
    }
}

/* Every rank reached from rank 0 following out-edges (forward) or
 * in-edges (backward) of the period's union. */
static bool reaches_all(const dml_gossip_graph *g, bool forward, char *seen,
                        int *queue)
{
    memset(seen, 0, (size_t)g->n);
    int head = 0, tail = 0, count = 1;
    seen[0] = 1;
    queue[tail++] = 0;
    while (head < tail) {
        int r = queue[head++];
        dml_gossip_peers p;
        dml_gossip_graph_union(g, r, &p);
        const int *next = forward ? p.out : p.in;
        int nn = forward ? p.nout : p.nin;
        for (int i = 0; i < nn; i++)
            if (!seen[next[i]]) {
                seen[next[i]] = 1;
                queue[tail++] = next[i];
                count++;
            }
    }
    return count == g->n;
}

/* Columns of W at step t: column j sums W_ij over the i that hear j. */
static dml_status check_step(const dml_gossip_graph *g, int64_t t,
                             double *col, dml_error *err)
{
    char name[32];
    dml_graph_spec_format(&g->spec, name, sizeof name);
    memset(col, 0, (size_t)g->n * sizeof *col);
    for (int i = 0; i < g->n; i++) {
        dml_gossip_peers p;
        dml_gossip_graph_peers(g, i, t, &p);
        double row = p.w_self;
        col[i] += p.w_self;
        for (int k = 0; k < p.nin; k++) {
            if (!(p.w_in[k] >= 0 && p.w_in[k] <= 1))
                return dml_error_msg(err, DML_EUSAGE, "graph %s: weight %g "
                                     "outside [0, 1]", name, p.w_in[k]);
            row += p.w_in[k];
            col[p.in[k]] += p.w_in[k];
        }
        if (fabs(row - 1) > 1e-12)
            return dml_error_msg(err, DML_EUSAGE, "graph %s on %d ranks: row "
                                 "%d of the mixing weights sums to %.17g, "
                                 "not 1", name, g->n, i, row);
    }
    for (int j = 0; j < g->n; j++)
        if (fabs(col[j] - 1) > 1e-12)
            return dml_error_msg(err, DML_EUSAGE, "graph %s on %d ranks: "
                                 "column %d of the mixing weights sums to "
                                 "%.17g, not 1 (not doubly stochastic: the "
                                 "ranks' average drifts)",
                                 name, g->n, j, col[j]);
    return DML_OK;
}

dml_status dml_gossip_graph_check(const dml_gossip_graph *g, dml_error *err)
{
    double *col = malloc((size_t)g->n * sizeof *col);
    char *seen = malloc((size_t)g->n);
    int *queue = malloc((size_t)g->n * sizeof *queue);
    dml_status st = DML_OK;
    if (!col || !seen || !queue)
        st = dml_error_msg(err, DML_ENOMEM, "out of memory");
    for (int t = 0; st == DML_OK && t < g->period; t++)
        st = check_step(g, t, col, err);
    if (st == DML_OK &&
        (!reaches_all(g, true, seen, queue) ||
         !reaches_all(g, false, seen, queue))) {
        char name[32];
        dml_graph_spec_format(&g->spec, name, sizeof name);
        st = dml_error_msg(err, DML_EUSAGE, "graph %s on %d ranks is not "
                           "connected: some ranks never hear from others",
                           name, g->n);
    }
    free(col);
    free(seen);
    free(queue);
    return st;
}

int dml_gossip_graph_degree(const dml_graph_spec *spec, int n)
{
    if (n <= 1)
        return 0;
    switch (spec->kind) {
    case DML_GRAPH_RING: return n == 2 ? 1 : 2;
    case DML_GRAPH_TORUS: {
        int rows, cols;
        torus_shape(n, &rows, &cols);
        int d = cols > 2 ? 2 : cols - 1;
        return d + (rows > 2 ? 2 : rows - 1);
    }
    case DML_GRAPH_EXP: return ceil_log2(n);
    case DML_GRAPH_ONEPEER_EXP: return 1;
    case DML_GRAPH_RANDOM: return spec->degree;
    default: return 0;
    }
}

void dml_gossip_graph_traffic(const dml_gossip_graph *g, int per_node,
                              double *intra, double *inter,
                              double *node_out)
{
    if (per_node < 1)
        per_node = 1;
    int nodes = (g->n + per_node - 1) / per_node;
    /* ranks looked at: all of them, or (for very large groups of the
     * planner's what-ifs) the first nodes' worth of 2^20 neighbour
     * visits; every graph here but the torus and random:D treats all
     * nodes alike (a shift by per_node ranks maps the graph onto itself) */
    long budget = 1L << 20;
    long per_rank = (long)g->period * DML_GOSSIP_MAX_DEGREE;
    int seen_nodes = nodes;
    if ((long)g->n * per_rank > budget) {
        seen_nodes = (int)(budget / (per_rank * per_node));
        if (seen_nodes < 1)
            seen_nodes = 1;
    }
    double sum_in = 0, sum_out = 0, busiest = 0;
    for (int t = 0; t < g->period; t++) {
        double step_max = 0;
        for (int node = 0; node < seen_nodes; node++) {
            double leaving = 0;
            for (int r = node * per_node;
                 r < g->n && r < (node + 1) * per_node; r++) {
                dml_gossip_peers p;
                neighbours(g, r, t, &p);
                for (int k = 0; k < p.nout; k++) {
                    if (p.out[k] / per_node == node)
                        sum_in += 1;
                    else
                        leaving += 1;
                }
            }
            sum_out += leaving;
            if (leaving > step_max)
                step_max = leaving;
        }
        busiest += step_max;
    }
    int ranks = seen_nodes * per_node < g->n ? seen_nodes * per_node : g->n;
    *intra = sum_in / ((double)ranks * g->period);
    *inter = sum_out / ((double)ranks * g->period);
    *node_out = busiest / g->period;
}
