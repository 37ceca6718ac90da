/*
 * node_report.c: the single-node probes in sequence (see node_report.h).
 */
#include "node_report.h"

#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/quote.h"
#include "common/units.h"

dml_status dml_node_report_append_row(dml_measurement **rows, int *count,
                                      const dml_measurement *row,
                                      dml_error *err)
{
    /* Grow by doubling: capacity is the next power of two >= count. */
    int n = *count;
    if ((n & (n - 1)) == 0) {
        size_t cap = n == 0 ? 16 : (size_t)n * 2;
        dml_measurement *p = realloc(*rows, cap * sizeof *p);
        if (!p)
            return dml_error_msg(err, DML_ENOMEM,
                                 "out of memory for measurement rows");
        *rows = p;
    }
    (*rows)[n] = *row;
    *count = n + 1;
    return DML_OK;
}

dml_node_probe_options dml_node_probe_options_default(bool quick)
{
    return (dml_node_probe_options){.quick = quick, .topology = NULL,
                                    .membw = true, .gemm = true,
                                    .gpu = true, .progress = NULL};
}

void dml_node_report_free(dml_node_report *r)
{
    if (!r)
        return;
    dml_topology_free(r->topo);
    dml_gemm_result_free(&r->gemm);
    for (int i = 0; i < r->gpu_count; i++)
        dml_gpu_gemm_result_free(&r->gpu[i]);
    free(r->gpu);
    memset(r, 0, sizeof *r);
}

static dml_status run_membw(const dml_node_probe_options *opt,
                            dml_node_report *r, dml_error *err)
{
    dml_membw_config c = dml_membw_config_default(opt->quick);
    dml_progress_phase(opt->progress, "STREAM", 2);
    dml_progress_doing(opt->progress, "1 thread");
    c.threads = 1;
    DML_CHECK(dml_membw_run(r->topo, &c, &r->membw_single, err));
    dml_progress_advance(opt->progress);
    c.threads = r->topology.cores > 0 ? r->topology.cores : 1;
    char what[32];
    snprintf(what, sizeof what, "%d threads", c.threads);
    dml_progress_doing(opt->progress, what);
    DML_CHECK(dml_membw_run(r->topo, &c, &r->membw_all, err));
    dml_progress_advance(opt->progress);
    r->have_membw = true;
    return DML_OK;
}

static dml_status run_gpus(const dml_node_probe_options *opt,
                           dml_node_report *r, dml_error *err)
{
    int n = 0;
    dml_error gerr;
    dml_error_clear(&gerr);
    dml_status st = dml_gpu_count(&n, &gerr);
    if (st == DML_ENODEV) {
        snprintf(r->gpu_skip, sizeof r->gpu_skip, "%s", gerr.msg);
        dml_log_info("node probe: %s; GPU probes skipped", gerr.msg);
        return DML_OK;
    }
    if (st != DML_OK) {
        if (err)
            *err = gerr;
        return st;
    }
    r->gpu = calloc((size_t)n, sizeof *r->gpu);
    if (!r->gpu)
        return dml_error_msg(err, DML_ENOMEM, "out of memory for GPU results");
    for (int d = 0; d < n; d++) {
        dml_gpu_gemm_config c = dml_gpu_gemm_config_default(opt->quick);
        c.device = d;
        DML_CHECK(dml_gpu_gemm_run(&c, &r->gpu[d], err));
        r->gpu_count = d + 1;
    }
    return DML_OK;
}

static dml_status run_all(const dml_node_probe_options *opt,
                          dml_node_report *r, dml_error *err)
{
    dml_progress_phase(opt->progress, "topology", 0);
    DML_CHECK(dml_topology_load(opt->topology, &r->topo, err));
    r->topology = *dml_topology_get_summary(r->topo);
    if (opt->membw)
        DML_CHECK(run_membw(opt, r, err));
    if (opt->gemm) {
        dml_gemm_config c = dml_gemm_config_default(opt->quick);
        c.progress = opt->progress;
        DML_CHECK(dml_gemm_run(r->topo, &c, &r->gemm, err));
        r->have_gemm = true;
    }
    if (opt->gpu) {
        dml_progress_phase(opt->progress, "GPU", 0);
        DML_CHECK(run_gpus(opt, r, err));
    }
    return DML_OK;
}

dml_status dml_node_probe_run(const dml_node_probe_options *opt,
                              dml_node_report *out, dml_error *err)
{
    memset(out, 0, sizeof *out);
    double t0 = dml_clock_now_s();
    dml_status st = run_all(opt, out, err);
    if (st != DML_OK) {
        dml_node_report_free(out);
        return st;
    }
    out->elapsed_s = dml_clock_now_s() - t0;
    return DML_OK;
}

dml_status dml_node_report_to_measurements(const dml_node_report *r,
                                           dml_measurement **rows,
                                           int *count, dml_error *err)
{
    if (r->have_membw) {
        DML_CHECK(dml_membw_to_measurements(&r->membw_single, rows, count,
                                            err));
        DML_CHECK(dml_membw_to_measurements(&r->membw_all, rows, count, err));
    }
    if (r->have_gemm)
        DML_CHECK(dml_gemm_to_measurements(&r->gemm, rows, count, err));
    for (int i = 0; i < r->gpu_count; i++)
        DML_CHECK(dml_gpu_gemm_to_measurements(&r->gpu[i], rows, count, err));
    return DML_OK;
}

/* ---- human tables */

static void print_topology(const dml_topology_summary *s, FILE *out)
{
    char b1[32], b2[32], b3[32], b4[32];
    /* Host, CPU and device names come from hwloc, which reads them from
     * the machine or from a topology XML file anyone may write: their
     * control characters must not reach the terminal. */
    char host[4 * sizeof s->hostname], cpu[4 * sizeof s->cpu_model];
    dml_quote_terminal(s->hostname[0] ? s->hostname : "?", host, sizeof host);
    dml_quote_terminal(s->cpu_model[0] ? s->cpu_model : "unknown CPU", cpu,
                       sizeof cpu);
    fprintf(out, "host %s: %s\n", host, cpu);
    fprintf(out, "  %d package(s), %d NUMA node(s), %d cores, %d PUs\n",
            s->packages, s->numa_nodes, s->cores, s->pus);
    fprintf(out, "  caches: L1d %s, L2 %s, L3 %s; last level L%d %s x %d\n",
            dml_units_bytes_binary(s->l1d_bytes, b1, sizeof b1),
            dml_units_bytes_binary(s->l2_bytes, b2, sizeof b2),
            dml_units_bytes_binary(s->l3_bytes, b3, sizeof b3), s->llc_level,
            dml_units_bytes_binary(s->llc_bytes, b4, sizeof b4),
            s->llc_count);
    fprintf(out, "  memory: %s total, %s available (hwloc NUMA: %s)\n",
            dml_units_bytes_binary(s->mem_total_bytes, b1, sizeof b1),
            dml_units_bytes_binary(s->mem_available_bytes, b2, sizeof b2),
            dml_units_bytes_binary(s->hwloc_mem_bytes, b3, sizeof b3));
    for (int i = 0; i < s->pci_count; i++) {
        const dml_topology_pci_device *d = &s->pci[i];
        char bus[4 * sizeof d->busid], name[4 * sizeof d->name],
            osdev[4 * sizeof d->osdev];
        dml_quote_terminal(d->busid, bus, sizeof bus);
        dml_quote_terminal(d->name, name, sizeof name);
        dml_quote_terminal(d->osdev, osdev, sizeof osdev);
        fprintf(out, "  %-3s %s [%04x:%04x] %s%s%s (package %d)\n",
                dml_topology_pci_kind_name(d->kind), bus, d->vendor_id,
                d->device_id, name, osdev[0] ? " " : "", osdev, d->package);
    }
}

static void print_membw(const dml_membw_result *m, FILE *out)
{
    char b1[32], b2[32], b3[32];
    for (int k = 0; k < DML_MEMBW_KERNELS; k++) {
        const dml_membw_kernel_result *r = &m->kernel[k];
        fprintf(out, "  %-6s %7d %12s %12s %12s %6d\n",
                dml_membw_kernel_name((dml_membw_kernel)k), m->threads,
                dml_units_bandwidth(r->best_Bps, b1, sizeof b1),
                dml_units_bandwidth(r->median_Bps, b2, sizeof b2),
                dml_units_seconds(r->time_s, b3, sizeof b3), r->reps);
    }
}

void dml_node_report_print(const dml_node_report *r, FILE *out)
{
    char b1[32], b2[32], b3[32];
    print_topology(&r->topology, out);
    if (r->have_membw) {
        fprintf(out, "\nSTREAM (arrays of %s, %s)\n",
                dml_units_bytes_binary(r->membw_all.array_bytes, b1,
                                       sizeof b1),
                r->membw_all.validated ? "validated" : "NOT validated");
        fprintf(out, "  %-6s %7s %12s %12s %12s %6s\n", "kernel", "threads",
                "best", "median", "best time", "reps");
        print_membw(&r->membw_single, out);
        print_membw(&r->membw_all, out);
    }
    if (r->have_gemm) {
        fprintf(out, "\nGEMM peaks (OpenBLAS)\n");
        for (int i = 0; i < r->gemm.peak_count; i++) {
            const dml_gemm_peak *p = &r->gemm.peaks[i];
            fprintf(out, "  %s threads=%d: %s at m=%d n=%d k=%d\n",
                    dml_gemm_dtype_name(p->dtype), p->threads,
                    dml_units_flops(p->peak_flops, b1, sizeof b1), p->m, p->n,
                    p->k);
        }
        fprintf(out, "  %-5s %7s %6s %6s %6s %14s %14s %6s\n", "op",
                "threads", "m", "n", "k", "best", "median", "eff");
        for (int i = 0; i < r->gemm.point_count; i++) {
            const dml_gemm_sample *p = &r->gemm.points[i];
            fprintf(out, "  %-5s %7d %6d %6d %6d %14s %14s %5.1f%%\n",
                    dml_gemm_dtype_name(p->dtype), p->threads, p->m, p->n,
                    p->k, dml_units_flops(p->best_flops, b2, sizeof b2),
                    dml_units_flops(p->median_flops, b3, sizeof b3),
                    100 * p->efficiency);
        }
    }
    if (r->gpu_skip[0])
        fprintf(out, "\nGPU: skipped (%s)\n", r->gpu_skip);
    for (int g = 0; g < r->gpu_count; g++) {
        const dml_gpu_gemm_result *gr = &r->gpu[g];
        fprintf(out, "\nGPU %d: %s, %s, %d SMs, cc %d.%d\n", gr->device.index,
                gr->device.name,
                dml_units_bytes_binary(gr->device.mem_bytes, b1, sizeof b1),
                gr->device.sm_count, gr->device.cc_major, gr->device.cc_minor);
        for (int d = 0; d < DML_GPU_GEMM_DTYPES; d++)
            if (gr->peak_flops[d] > 0)
                fprintf(out, "  %s peak %s\n",
                        dml_gpu_gemm_dtype_name((dml_gpu_gemm_dtype)d),
                        dml_units_flops(gr->peak_flops[d], b1, sizeof b1));
        if (dml_gpu_gemm_kernel_floor(gr) > 0)
            fprintf(out, "  kernel floor (smallest GEMM, best) %s\n",
                    dml_units_seconds(dml_gpu_gemm_kernel_floor(gr), b1,
                                      sizeof b1));
        for (int i = 0; i < gr->point_count; i++) {
            const dml_gpu_gemm_point *p = &gr->points[i];
            fprintf(out, "  %-5s %6d %6d %6d %14s %5.1f%%\n",
                    dml_gpu_gemm_dtype_name(p->dtype), p->m, p->n, p->k,
                    dml_units_flops(p->best_flops, b2, sizeof b2),
                    100 * p->efficiency);
        }
    }
    fprintf(out, "\nnode probe took %s\n",
            dml_units_seconds(r->elapsed_s, b1, sizeof b1));
}
