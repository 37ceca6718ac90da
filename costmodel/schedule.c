/*
 * schedule.c: learning-rate, batch and checkpoint math (see schedule.h).
 */
#include "schedule.h"

#include <math.h>

double dml_schedule_scale_lr(dml_optimizer opt, double base_lr,
                             double base_batch, double batch)
{
    if (!(base_batch > 0) || !(batch > 0))
        return base_lr;
    double r = batch / base_batch;
    if (opt == DML_OPT_SGD || opt == DML_OPT_LARS)
        return base_lr * r;
    return base_lr * sqrt(r);
}

double dml_schedule_lr_at(const dml_train_schedule *s, int64_t step)
{
    if (step < 0)
        step = 0;
    if (step < s->warmup_steps)
        return s->peak_lr * (double)(step + 1) / (double)s->warmup_steps;
    if (s->decay == DML_DECAY_CONSTANT || s->decay_steps <= 0)
        return s->peak_lr;
    double progress = (double)(step - s->warmup_steps) / (double)s->decay_steps;
    if (progress >= 1)
        return s->min_lr;
    double span = s->peak_lr - s->min_lr;
    if (s->decay == DML_DECAY_LINEAR)
        return s->peak_lr - span * progress;
    return s->min_lr + span * 0.5 * (1.0 + cos(M_PI * progress));
}

double dml_schedule_noise_scale(double b_small, double g2_small, double b_big,
                                double g2_big, double *g2, double *trace)
{
    double G2 = 0, S = 0;
    if (b_big > b_small && b_small > 0) {
        G2 = (b_big * g2_big - b_small * g2_small) / (b_big - b_small);
        S = (g2_small - g2_big) / (1.0 / b_small - 1.0 / b_big);
    }
    if (g2)
        *g2 = G2;
    if (trace)
        *trace = S;
    return G2 > 0 && S > 0 ? S / G2 : 0;
}

double dml_schedule_steps_to_target(double s_min, double b_noise,
                                    double batch)
{
    return batch > 0 ? s_min * (1.0 + b_noise / batch) : INFINITY;
}

double dml_schedule_examples_to_target(double e_min, double b_noise,
                                       double batch)
{
    return b_noise > 0 ? e_min * (1.0 + batch / b_noise) : INFINITY;
}

double dml_schedule_time_to_target(double s_min, double b_noise,
                                   double batch, double step_s)
{
    return dml_schedule_steps_to_target(s_min, b_noise, batch) * step_s;
}

double dml_schedule_young_interval(double ckpt_s, double mtbf_s)
{
    if (!(ckpt_s > 0) || !(mtbf_s > 0))
        return 0;
    return sqrt(2.0 * ckpt_s * mtbf_s);
}

double dml_schedule_daly_interval(double ckpt_s, double mtbf_s)
{
    if (!(ckpt_s > 0) || !(mtbf_s > 0))
        return 0;
    if (ckpt_s >= 2.0 * mtbf_s)
        return mtbf_s;
    double r = ckpt_s / (2.0 * mtbf_s);
    return sqrt(2.0 * ckpt_s * mtbf_s) * (1.0 + sqrt(r) / 3.0 + r / 9.0) -
           ckpt_s;
}

double dml_schedule_checkpoint_overhead(double interval_s, double ckpt_s,
                                        double restart_s, double mtbf_s)
{
    if (!(interval_s > 0))
        return INFINITY;
    double f = ckpt_s / interval_s;
    if (mtbf_s > 0)
        f += (0.5 * interval_s + ckpt_s + restart_s) / mtbf_s;
    return f;
}

double dml_schedule_job_mtbf(const dml_cluster_spec *c, int64_t nodes)
{
    if (nodes < 1)
        return 0;
    for (int i = 0; i < c->group_count; i++)
        if (c->groups[i].node_mtbf_s > 0)
            return c->groups[i].node_mtbf_s / (double)nodes;
    return 0;
}

double dml_schedule_checkpoint_time(const dml_cluster_spec *c, int64_t nodes,
                                    double bytes)
{
    if (nodes < 1)
        return 0;
    for (int i = 0; i < c->group_count; i++)
        if (c->groups[i].storage_write_Bps > 0)
            return bytes / ((double)nodes * c->groups[i].storage_write_Bps);
    return 0;
}

int dml_schedule_make_ramp(int64_t start_batch, int64_t final_batch,
                           int64_t ramp_steps, int64_t unit, int count,
                           dml_batch_ramp *out, int max)
{
    if (unit < 1)
        unit = 1;
    if (start_batch >= final_batch || ramp_steps < 1 || count < 1 || max < 1)
        return 0;
    if (count > max)
        count = max;
    if (count > ramp_steps)
        count = (int)ramp_steps;
    int n = 0;
    for (int i = 0; i < count; i++) {
        double f = (double)i / count;
        int64_t b = start_batch +
                    (int64_t)((double)(final_batch - start_batch) * f);
        b = b / unit * unit;
        if (b < unit)
            b = unit;
        if (b >= final_batch)
            break;
        int64_t until = ramp_steps * (i + 1) / count;
        if (n > 0 && out[n - 1].global_batch == b) {
            out[n - 1].until_step = until; /* merge equal batches */
            continue;
        }
        out[n].until_step = until;
        out[n].global_batch = b;
        n++;
    }
    return n;
}
