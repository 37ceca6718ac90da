/*
 * exec_compare: the judge of the executor's layout-equivalence tests.
 *
 *   exec_compare losses REF.json RUN.json TOL
 *       every step of RUN (a `dml-exec --json` document) agrees with the
 *       same step of REF within TOL relative: |a-b| <= TOL |a| (TOL 0:
 *       bitwise). Steps are matched by number ("first_step"), so a resumed
 *       RUN is compared with the tail of an uninterrupted REF.
 *   exec_compare weights REF.bin RUN.bin TOL
 *       two weight files (executor/WEIGHTS.md) have the same layers and,
 *       for every tensor (each layer's weight and bias), the difference is
 *       within TOL relative both in norm, |a-b|_2 <= TOL |a|_2, and
 *       elementwise against the tensor's scale, max|a-b| <= TOL max|a|.
 *
 * Prints the largest deviations found; exit 0 within tolerance, 1 not, 2 on
 * bad usage or unreadable input.
 */
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "executor/weights.h"

static int compare_losses(const char *a_path, const char *b_path, double tol)
{
    json_error_t je;
    json_t *a = json_load_file(a_path, 0, &je);
    json_t *b = a ? json_load_file(b_path, 0, &je) : NULL;
    if (!a || !b) {
        fprintf(stderr, "exec_compare: %s:%d: %s\n", je.source, je.line,
                je.text);
        json_decref(a);
        return 2;
    }
    json_t *la = json_object_get(a, "losses"), *lb = json_object_get(b, "losses");
    json_int_t fa = json_integer_value(json_object_get(a, "first_step"));
    json_int_t fb = json_integer_value(json_object_get(b, "first_step"));
    size_t n = json_array_size(lb);
    size_t shift = (size_t)(fb - fa);
    int rc = 0;
    if (!json_is_array(la) || !json_is_array(lb) || n == 0 || fb < fa ||
        json_array_size(la) != shift + n) {
        fprintf(stderr, "exec_compare: %s has steps %lld..%lld, %s has "
                "%lld..%lld: they do not end together\n",
                a_path, (long long)fa,
                (long long)(fa + (json_int_t)json_array_size(la) - 1), b_path,
                (long long)fb, (long long)(fb + (json_int_t)n - 1));
        rc = 1;
    }
    double worst = 0.0;
    size_t at = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        double x = json_number_value(json_array_get(la, shift + i));
        double y = json_number_value(json_array_get(lb, i));
        double rel = fabs(x - y) / fabs(x);
        if (x != y && !(rel <= worst))
            worst = rel, at = (size_t)fb + i;
    }
    if (rc == 0) {
        printf("losses: %zu steps, largest relative difference %.3g at step "
               "%zu\n", n, worst, at);
        rc = worst <= tol ? 0 : 1;
    }
    json_decref(a);
    json_decref(b);
    return rc;
}

/* The shape in a weight file's header line. */
static int read_shape(const char *path, dml_mlp_shape *s)
{
    FILE *f = fopen(path, "rb");
    char line[8192];
    if (!f || !fgets(line, sizeof line, f)) {
        fprintf(stderr, "exec_compare: %s: cannot read\n", path);
        if (f)
            fclose(f);
        return 2;
    }
    fclose(f);
    json_error_t je;
    json_t *h = json_loads(line, 0, &je);
    json_t *layers = json_object_get(h, "layers");
    size_t n = json_array_size(layers);
    if (!h || n == 0 || n > DML_WEIGHTS_MAX_LAYERS) {
        fprintf(stderr, "exec_compare: %s: not a weight file\n", path);
        json_decref(h);
        return 2;
    }
    s->layers = (int)n;
    for (size_t l = 0; l < n; l++) {
        json_t *e = json_array_get(layers, l);
        if (l == 0)
            s->widths[0] = json_integer_value(json_array_get(e, 0));
        s->widths[l + 1] = json_integer_value(json_array_get(e, 1));
    }
    json_decref(h);
    return 0;
}

static int compare_weights(const char *a_path, const char *b_path, double tol)
{
    dml_mlp_shape s;
    if (read_shape(a_path, &s) != 0)
        return 2;
    float *a = NULL, *b = NULL;
    dml_error err;
    char buf[2048];
    if (dml_weights_read(a_path, &s, &a, &err) != DML_OK ||
        dml_weights_read(b_path, &s, &b, &err) != DML_OK) {
        fprintf(stderr, "exec_compare: %s\n",
                dml_error_format(&err, buf, sizeof buf));
        free(a);
        return 2;
    }
    int rc = 0;
    for (int l = 0; l < s.layers; l++) {
        for (int bias = 0; bias < 2; bias++) {
            size_t off = dml_weights_offset(&s, l, bias);
            size_t n = bias ? (size_t)s.widths[l + 1]
                            : (size_t)s.widths[l + 1] * s.widths[l];
            double d2 = 0, a2 = 0, dmax = 0, amax = 0;
            for (size_t i = off; i < off + n; i++) {
                double d = fabs((double)a[i] - b[i]);
                d2 += d * d;
                a2 += (double)a[i] * a[i];
                if (!(d <= dmax))
                    dmax = d;
                if (fabs(a[i]) > amax)
                    amax = fabs(a[i]);
            }
            double rel_norm = a2 > 0 ? sqrt(d2 / a2) : sqrt(d2);
            double rel_max = amax > 0 ? dmax / amax : dmax;
            bool ok = rel_norm <= tol && rel_max <= tol;
            printf("layer %d %s: relative difference %.3g in norm, %.3g at "
                   "most%s\n",
                   l, bias ? "bias  " : "weight", rel_norm, rel_max,
                   ok ? "" : "  <-- over tolerance");
            if (!ok)
                rc = 1;
        }
    }
    free(a);
    free(b);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: exec_compare losses|weights REF RUN TOL\n");
        return 2;
    }
    double tol = strtod(argv[4], NULL);
    if (!(tol >= 0)) {
        fprintf(stderr, "exec_compare: bad tolerance '%s'\n", argv[4]);
        return 2;
    }
    if (strcmp(argv[1], "losses") == 0)
        return compare_losses(argv[2], argv[3], tol);
    if (strcmp(argv[1], "weights") == 0)
        return compare_weights(argv[2], argv[3], tol);
    fprintf(stderr, "exec_compare: unknown mode '%s'\n", argv[1]);
    return 2;
}
