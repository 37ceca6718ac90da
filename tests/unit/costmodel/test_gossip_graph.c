/*
 * test_gossip_graph.c: the gossip graphs (costmodel/gossip_graph.h): each
 * graph's neighbours against a hand listing, their mixing weights doubly
 * stochastic on every size from 1 to 40 ranks (summed here from the
 * matrix, independently of the module's own check), one-peer exponential
 * gossip averaging exactly in log2 n steps, seeded random regular graphs,
 * a split graph refused, and the per-link traffic the pricer reads.
 */
#include "tests/support/unit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "costmodel/gossip_graph.h"

static dml_graph_spec spec_of(const char *text)
{
    dml_graph_spec s;
    char why[160];
    assert_true(dml_graph_spec_parse(text, &s, why, sizeof why));
    return s;
}

/* The graph of s on n ranks (seed 1), which must build. */
static dml_gossip_graph built(const dml_graph_spec *s, int n)
{
    dml_gossip_graph g;
    dml_error err;
    assert_int_equal(dml_gossip_graph_build(s, n, 1, &g, &err), DML_OK);
    return g;
}

static void knob_text_round_trips_and_errors_say_why(void **state)
{
    (void)state;
    static const char *const good[] = {"ring", "torus", "exp", "onepeer-exp",
                                       "random:3", "random:1"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        dml_graph_spec s = spec_of(good[i]);
        char back[32];
        assert_string_equal(dml_graph_spec_format(&s, back, sizeof back),
                            good[i]);
    }
    static const struct {
        const char *text, *why;
    } bad[] = {{"random", "random needs the degree D"},
               {"random:0", "random needs"},
               {"random:2.5", "random needs"},
               {"random:65", "random needs"},
               {"star", "not a graph"},
               {"ring:2", "not a graph"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dml_graph_spec s;
        char why[160];
        assert_false(dml_graph_spec_parse(bad[i].text, &s, why, sizeof why));
        assert_non_null(strstr(why, bad[i].why));
    }
}

/* Rank r's out-neighbours at step t as a sorted list. */
static void sorted_out(const dml_gossip_graph *g, int r, int64_t t, int *out,
                       int *n)
{
    dml_gossip_peers p;
    dml_gossip_graph_peers(g, r, t, &p);
    *n = p.nout;
    memcpy(out, p.out, (size_t)p.nout * sizeof *out);
    for (int i = 1; i < *n; i++)
        for (int j = i; j > 0 && out[j - 1] > out[j]; j--) {
            int x = out[j];
            out[j] = out[j - 1];
            out[j - 1] = x;
        }
}

static void neighbours_match_a_hand_listing(void **state)
{
    (void)state;
    static const struct {
        const char *graph;
        int n, rank, step, count, want[8];
    } cases[] = {
        {"ring", 8, 0, 0, 2, {1, 7}},
        {"ring", 2, 1, 0, 1, {0}},
        /* 8 ranks: a 2 x 4 torus, the vertical neighbour once */
        {"torus", 8, 0, 0, 3, {1, 3, 4}},
        {"torus", 9, 4, 0, 4, {1, 3, 5, 7}},
        {"torus", 7, 3, 0, 2, {2, 4}}, /* prime: the ring */
        {"exp", 8, 0, 0, 3, {1, 2, 4}},
        {"exp", 6, 5, 0, 3, {0, 1, 3}},
        {"onepeer-exp", 8, 0, 0, 1, {1}},
        {"onepeer-exp", 8, 0, 1, 1, {2}},
        {"onepeer-exp", 8, 0, 2, 1, {4}},
        {"onepeer-exp", 8, 0, 3, 1, {1}},
        {"onepeer-exp", 8, 6, 2, 1, {2}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dml_graph_spec s = spec_of(cases[i].graph);
        dml_gossip_graph g = built(&s, cases[i].n);
        int got[DML_GOSSIP_MAX_DEGREE], n = 0;
        sorted_out(&g, cases[i].rank, cases[i].step, got, &n);
        assert_int_equal(n, cases[i].count);
        assert_memory_equal(got, cases[i].want, (size_t)n * sizeof(int));
        assert_int_equal(dml_gossip_graph_degree(&s, cases[i].n), n);
        dml_gossip_graph_free(&g);
    }
}

/* The whole matrix W at step t, from every rank's in-neighbours. */
static void mixing_matrix(const dml_gossip_graph *g, int64_t t, double *w)
{
    int n = g->n;
    memset(w, 0, (size_t)n * (size_t)n * sizeof *w);
    for (int i = 0; i < n; i++) {
        dml_gossip_peers p;
        dml_gossip_graph_peers(g, i, t, &p);
        w[i * n + i] += p.w_self;
        for (int k = 0; k < p.nin; k++)
            w[i * n + p.in[k]] += p.w_in[k];
        /* what i sends, j hears: out-edges and in-edges agree */
        for (int k = 0; k < p.nout; k++) {
            dml_gossip_peers q;
            dml_gossip_graph_peers(g, p.out[k], t, &q);
            bool hears = false;
            for (int m = 0; m < q.nin; m++)
                hears = hears || q.in[m] == i;
            assert_true(hears);
        }
    }
}

static void weights_are_doubly_stochastic_on_every_size(void **state)
{
    (void)state;
    static const char *const graphs[] = {"ring", "torus", "exp",
                                         "onepeer-exp", "random:3",
                                         "random:4"};
    double *w = malloc(40 * 40 * sizeof *w);
    assert_non_null(w);
    int built = 0;
    for (size_t gi = 0; gi < sizeof graphs / sizeof graphs[0]; gi++) {
        dml_graph_spec s = spec_of(graphs[gi]);
        for (int n = 1; n <= 40; n++) {
            dml_gossip_graph g;
            dml_error err;
            dml_status st = dml_gossip_graph_build(&s, n, 42, &g, &err);
            if (s.kind == DML_GRAPH_RANDOM &&
                (s.degree >= n || (n * s.degree) % 2)) {
                assert_int_equal(st, DML_EUSAGE);
                assert_non_null(strstr(err.msg, "cannot be drawn"));
                continue;
            }
            assert_int_equal(st, DML_OK);
            built++;
            int d = dml_gossip_graph_degree(&s, n);
            for (int t = 0; t < g.period + 1; t++) {
                mixing_matrix(&g, t, w);
                for (int i = 0; i < n; i++) {
                    double row = 0, col = 0;
                    for (int j = 0; j < n; j++) {
                        assert_true(w[i * n + j] >= 0);
                        row += w[i * n + j];
                        col += w[j * n + i];
                    }
                    assert_true(fabs(row - 1) < 1e-12);
                    assert_true(fabs(col - 1) < 1e-12);
                    dml_gossip_peers p;
                    dml_gossip_graph_peers(&g, i, t, &p);
                    assert_int_equal(p.nout, d);
                    assert_int_equal(p.nin, d);
                }
            }
            dml_gossip_graph_free(&g);
        }
    }
    assert_int_equal(built, 4 * 40 + 19 + 36);
    free(w);
}

/* One-peer exponential gossip on 2^k ranks averages exactly in k steps
 * (Ying et al. 2021, Lemma 1): the product of the k matrices is 1/n
 * everywhere. */
static void onepeer_exp_averages_exactly_in_log2_n_steps(void **state)
{
    (void)state;
    enum { N = 16 };
    dml_graph_spec s = spec_of("onepeer-exp");
    dml_gossip_graph g;
    dml_error err;
    assert_int_equal(dml_gossip_graph_build(&s, N, 0, &g, &err), DML_OK);
    assert_int_equal(g.period, 4);
    double x[N], y[N];
    for (int i = 0; i < N; i++)
        x[i] = (double)(i * i % 7) - 3.5 * i;
    double mean = 0;
    for (int i = 0; i < N; i++)
        mean += x[i] / N;
    for (int t = 0; t < 4; t++) {
        for (int i = 0; i < N; i++) {
            dml_gossip_peers p;
            dml_gossip_graph_peers(&g, i, t, &p);
            y[i] = p.w_self * x[i];
            for (int k = 0; k < p.nin; k++)
                y[i] += p.w_in[k] * x[p.in[k]];
        }
        memcpy(x, y, sizeof x);
        if (t < 3)
            assert_true(fabs(x[0] - mean) > 1e-6);
    }
    for (int i = 0; i < N; i++)
        assert_true(fabs(x[i] - mean) < 1e-12);
    dml_gossip_graph_free(&g);
}

static void random_graphs_are_seeded_regular_and_simple(void **state)
{
    (void)state;
    dml_graph_spec s = spec_of("random:5");
    dml_gossip_graph a, b, c;
    dml_error err;
    assert_int_equal(dml_gossip_graph_build(&s, 30, 7, &a, &err), DML_OK);
    assert_int_equal(dml_gossip_graph_build(&s, 30, 7, &b, &err), DML_OK);
    assert_int_equal(dml_gossip_graph_build(&s, 30, 8, &c, &err), DML_OK);
    assert_memory_equal(a.adj, b.adj, 30 * 5 * sizeof(int));
    assert_true(memcmp(a.adj, c.adj, 30 * 5 * sizeof(int)) != 0);
    for (int r = 0; r < 30; r++)
        for (int i = 0; i < 5; i++) {
            int v = a.adj[r * 5 + i];
            assert_true(v != r);
            if (i)
                assert_true(v > a.adj[r * 5 + i - 1]); /* no double edge */
            bool back = false;
            for (int k = 0; k < 5; k++)
                back = back || a.adj[v * 5 + k] == r;
            assert_true(back);
        }
    dml_gossip_graph_free(&a);
    dml_gossip_graph_free(&b);
    dml_gossip_graph_free(&c);
}

/* Two disjoint groups of four, each complete: regular, doubly stochastic,
 * and split; the check says so. */
static void a_split_graph_is_refused(void **state)
{
    (void)state;
    dml_gossip_graph g;
    memset(&g, 0, sizeof g);
    g.spec = spec_of("random:3");
    g.n = 8;
    g.period = 1;
    int adj[8 * 3];
    for (int r = 0; r < 8; r++) {
        int base = r / 4 * 4, k = 0;
        for (int v = base; v < base + 4; v++)
            if (v != r)
                adj[r * 3 + k++] = v;
    }
    g.adj = adj;
    dml_error err;
    assert_int_equal(dml_gossip_graph_check(&g, &err), DML_EUSAGE);
    assert_non_null(strstr(err.msg, "not connected"));
    /* edges 0-3 and 4-7 swapped for 0-7 and 3-4: connected again */
    static const int joined[8 * 3] = {1, 2, 7, 0, 2, 3, 0, 1, 3, 1, 2, 4,
                                      3, 5, 6, 4, 6, 7, 4, 5, 7, 0, 5, 6};
    memcpy(adj, joined, sizeof adj);
    assert_int_equal(dml_gossip_graph_check(&g, &err), DML_OK);
}

static void traffic_counts_models_per_link(void **state)
{
    (void)state;
    static const struct {
        const char *graph;
        int n, per_node;
        double intra, inter, node_out;
    } cases[] = {
        /* ring, 2 to a node: one neighbour inside, one outside; each node
         * sends two models out */
        {"ring", 8, 2, 1, 1, 2},
        /* offsets 1, 2, 4: the first stays inside for half the ranks */
        {"onepeer-exp", 8, 2, 1.0 / 6, 5.0 / 6, 5.0 / 3},
        {"onepeer-exp", 8, 1, 0, 1, 1},
        {"exp", 8, 1, 0, 3, 3},
        {"exp", 4, 2, 0.5, 1.5, 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dml_graph_spec s = spec_of(cases[i].graph);
        dml_gossip_graph g = built(&s, cases[i].n);
        double intra, inter, node_out;
        dml_gossip_graph_traffic(&g, cases[i].per_node, &intra, &inter,
                                 &node_out);
        assert_true(fabs(intra - cases[i].intra) < 1e-12);
        assert_true(fabs(inter - cases[i].inter) < 1e-12);
        assert_true(fabs(node_out - cases[i].node_out) < 1e-12);
        assert_true(fabs(intra + inter -
                         dml_gossip_graph_degree(&s, cases[i].n)) < 1e-12);
        dml_gossip_graph_free(&g);
    }
}

DML_TEST_MAIN(
    cmocka_unit_test(knob_text_round_trips_and_errors_say_why),
    cmocka_unit_test(neighbours_match_a_hand_listing),
    cmocka_unit_test(weights_are_doubly_stochastic_on_every_size),
    cmocka_unit_test(onepeer_exp_averages_exactly_in_log2_n_steps),
    cmocka_unit_test(random_graphs_are_seeded_regular_and_simple),
    cmocka_unit_test(a_split_graph_is_refused),
    cmocka_unit_test(traffic_counts_models_per_link))
