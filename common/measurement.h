/*
 * measurement.h: one measured quantity, as probes produce it and the
 * database stores it.
 *
 * Plain data shared by probes/ (which fills it), db/ (which stores it as one
 * row of `measurements`) and the tools, so neither layer has to know the
 * other. Units are SI; a field that does not apply is 0 or "".
 */
#ifndef DML_MEASUREMENT_H
#define DML_MEASUREMENT_H

typedef struct dml_measurement {
    char kind[24];        /* "membw", "gemm", "p2p", "collective", "gpu_gemm", "nccl" */
    char op[32];          /* "triad", "dgemm", "latency", "allreduce", ... */
    char level[16];       /* "intra_node", "inter_node", "device" or "" */
    int ranks;            /* MPI ranks taking part (1 for local probes) */
    int threads;          /* threads per rank */
    double bytes;         /* message or array bytes, 0 when not applicable */
    double time_s;        /* best (minimum) time of one operation, s */
    double time_median_s; /* median time of one operation, s */
    double algbw_Bps;     /* algorithm bandwidth, bytes/s (nccl-tests), 0 if n/a */
    double busbw_Bps;     /* bus bandwidth, bytes/s (nccl-tests), 0 if n/a */
    double value;         /* the headline figure (e.g. FLOP/s, B/s, s) */
    char unit[16];        /* unit of value: "FLOP/s", "B/s", "s" */
    char detail[96];      /* shape or parameters: "m=4096 n=4096 k=4096" */
} dml_measurement;

#endif
