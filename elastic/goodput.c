/*
 * goodput.c: a job against Young/Daly (see goodput.h).
 */
#include "elastic/goodput.h"

#include <math.h>
#include <string.h>

#include "costmodel/schedule.h"

void dml_elastic_model(const dml_cluster_spec *c, const dml_elastic_seen *s,
                       dml_db_job_model *out)
{
    memset(out, 0, sizeof *out);
    out->failures = s->failures;
    out->grows = s->grows;
    out->replan_s = s->grows > 0 ? s->replan_s : 0;
    out->step_s = s->steps > 0 ? s->compute_s / (double)s->steps : NAN;
    out->ckpt_interval_s = (double)s->checkpoint_every * out->step_s;
    out->ckpt_write_s = out->mtbf_plan_s = NAN;
    if (c) {
        double w = dml_schedule_checkpoint_time(c, s->nodes, s->ckpt_bytes);
        double m = dml_schedule_job_mtbf(c, s->nodes);
        out->ckpt_write_s = w > 0 ? w : NAN;
        out->mtbf_plan_s = m > 0 ? m : NAN;
    }
    out->mtbf_seen_s = s->failures > 0 ? s->wall_s / s->failures : NAN;
    double m = s->failures > 0 ? out->mtbf_seen_s : out->mtbf_plan_s;
    double cw = out->ckpt_write_s, tau = out->ckpt_interval_s;
    out->young_s = dml_schedule_young_interval(cw, m);
    out->daly_s = dml_schedule_daly_interval(cw, m);
    if (!(out->young_s > 0))
        out->young_s = out->daly_s = NAN;
    out->expected_lost_s = s->failures * tau / 2.0;
    /* the planner's restart: the checkpoint read back, as long as its
     * write (planner/batch.c) */
    out->expected_restart_s = s->failures * 2.0 * cw;
    double f = dml_schedule_checkpoint_overhead(tau, cw, cw, m);
    double useful = s->compute_s - s->lost_s;
    out->expected_wall_s = isfinite(f) ? useful * (1.0 + f) : NAN;
    out->expected_goodput = isfinite(f) ? 1.0 / (1.0 + f) : NAN;
}
