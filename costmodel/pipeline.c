/*
 * pipeline.c: pipeline schedule times (see pipeline.h).
 */
#include "pipeline.h"

double dml_pipeline_bubble_fraction(dml_pp_schedule schedule, int p, int v,
                                    double m)
{
    if (p <= 1 || m <= 0)
        return 0;
    double vv = schedule == DML_PP_INTERLEAVED && v > 1 ? v : 1;
    return (p - 1) / (vv * m);
}

double dml_pipeline_time(dml_pp_schedule schedule, int p, int v, double m,
                         double t_max, double t_sum, double *bubble_s)
{
    double vv = schedule == DML_PP_INTERLEAVED && v > 1 ? v : 1;
    double t = p <= 1 ? m * t_max : (m - 1.0 / vv) * t_max + t_sum / vv;
    if (bubble_s)
        *bubble_s = t - m * t_max;
    return t;
}
