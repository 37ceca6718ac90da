/*
 * pipeline.h: how long a pipeline of p devices takes to push m
 * micro-batches through, and how much of that is bubble.
 *
 * Narayanan et al. SC21 §2.2: with per-micro-batch stage time t (forward +
 * backward), GPipe and 1F1B take (m + p - 1)·t, a bubble of (p-1)/m of the
 * useful time; the interleaved schedule with v model chunks per device
 * cuts the bubble to (p-1)/(v·m). Stages that differ (the first holds the
 * embedding, the last the logits) generalise this to
 *
 *     T = (m - 1/v)·t_max + (1/v)·Σ_r t_r
 *
 * where t_r is device r's time per micro-batch and t_max the slowest: the
 * slowest device sets the steady state, and fill and drain pass through
 * every device once (1/v of it per chunk). GPipe and 1F1B differ in memory
 * (m versus p micro-batches in flight, memory.h), not in this time.
 */
#ifndef DML_COSTMODEL_PIPELINE_H
#define DML_COSTMODEL_PIPELINE_H

#include "costmodel/plan.h"

/* Bubble as a fraction of the ideal time m·t: (p-1)/m, or (p-1)/(v·m)
 * for the interleaved schedule. */
double dml_pipeline_bubble_fraction(dml_pp_schedule schedule, int p, int v,
                                    double m);

/*
 * Time of one step's pipeline (formula above), s. t_max = slowest device's
 * time per micro-batch, t_sum = sum over the p devices. *bubble_s (may be
 * NULL) gets T - m·t_max.
 */
double dml_pipeline_time(dml_pp_schedule schedule, int p, int v, double m,
                         double t_max, double t_sum, double *bubble_s);

#endif
