/*
 * optim.c: element-wise update rules over slices (see optim.h).
 */
#include "executor/optim.h"

#include <math.h>

#include "costmodel/schedule.h"

int dml_optim_state_slots(dml_optimizer k)
{
    return k == DML_OPT_ADAM || k == DML_OPT_ADAMW || k == DML_OPT_LAMB ? 2
                                                                       : 1;
}

int dml_optim_needs_norms(dml_optimizer k)
{
    return k == DML_OPT_LAMB || k == DML_OPT_LARS;
}

/* Bias corrections of Adam, in double: 1 - beta^t. */
static void adam_corrections(const dml_optim_hparams *h, long t, double *c1,
                             double *c2)
{
    *c1 = 1.0 - pow(h->beta1, (double)t);
    *c2 = 1.0 - pow(h->beta2, (double)t);
}

/* The Adam direction m_hat / (sqrt(v_hat) + eps) of one element, from the
 * moments after this update. Shared by the norm pass and the update pass so
 * that both see bit-identical values. */
static inline float adam_dir(float m, float v, double c1, double c2,
                             double eps)
{
    double mh = (double)m / c1, vh = (double)v / c2;
    return (float)(mh / (sqrt(vh) + eps));
}

void dml_optim_partial_norms(const dml_optim_hparams *h,
                             const dml_optim_slice *s, size_t nslices,
                             long t, double *sq)
{
    if (!dml_optim_needs_norms(h->kind))
        return;
    double c1, c2;
    adam_corrections(h, t, &c1, &c2);
    const float b1 = (float)h->beta1, b2 = (float)h->beta2;
    const float ob1 = (float)(1.0 - h->beta1), ob2 = (float)(1.0 - h->beta2);
    const float wd = (float)h->weight_decay;
    for (size_t k = 0; k < nslices; k++) {
        const dml_optim_slice *sl = &s[k];
        if (sl->no_decay)
            continue; /* no trust ratio: its norms are not needed */
        double ww = 0.0, other = 0.0;
        for (size_t i = 0; i < sl->n; i++) {
            float w = sl->w[i], g = sl->g[i];
            ww += (double)w * w;
            if (h->kind == DML_OPT_LARS) {
                other += (double)g * g;
            } else {
                float m = b1 * sl->m[i] + ob1 * g;
                float v = b2 * sl->v[i] + ob2 * g * g;
                float u = adam_dir(m, v, c1, c2, h->eps) + wd * w;
                other += (double)u * u;
            }
        }
        sq[2 * sl->tensor] += ww;
        sq[2 * sl->tensor + 1] += other;
    }
}

/* The weight decay a slice takes: none for a bias or norm parameter. */
static double decay_of(const dml_optim_hparams *h, const dml_optim_slice *sl)
{
    return sl->no_decay ? 0.0 : h->weight_decay;
}

static void apply_sgd(const dml_optim_hparams *h, const dml_optim_slice *sl,
                      double lr)
{
    const float mu = (float)h->momentum, wd = (float)decay_of(h, sl);
    const float a = (float)lr;
    for (size_t i = 0; i < sl->n; i++) {
        float g = sl->g[i] + wd * sl->w[i];
        float b = mu * sl->m[i] + g;
        sl->m[i] = b;
        sl->w[i] -= a * b;
    }
}

/* Adam and AdamW: the L2 term in the gradient (coupled, Adam) or the
 * weights shrunk before the step (decoupled, AdamW). */
static void apply_adam(const dml_optim_hparams *h, const dml_optim_slice *sl,
                       long t, double lr)
{
    double c1, c2;
    adam_corrections(h, t, &c1, &c2);
    const float b1 = (float)h->beta1, b2 = (float)h->beta2;
    const float ob1 = (float)(1.0 - h->beta1), ob2 = (float)(1.0 - h->beta2);
    bool coupled = h->kind == DML_OPT_ADAM;
    double wd = decay_of(h, sl);
    const float a = (float)lr, l2 = coupled ? (float)wd : 0.0f;
    const float decay = coupled ? 1.0f : (float)(1.0 - lr * wd);
    for (size_t i = 0; i < sl->n; i++) {
        float g = coupled ? sl->g[i] + l2 * sl->w[i] : sl->g[i];
        float m = b1 * sl->m[i] + ob1 * g;
        float v = b2 * sl->v[i] + ob2 * g * g;
        sl->m[i] = m;
        sl->v[i] = v;
        sl->w[i] = sl->w[i] * decay - a * adam_dir(m, v, c1, c2, h->eps);
    }
}

static void apply_lamb(const dml_optim_hparams *h, const dml_optim_slice *sl,
                       long t, double lr, const double *sq)
{
    double c1, c2;
    adam_corrections(h, t, &c1, &c2);
    const float b1 = (float)h->beta1, b2 = (float)h->beta2;
    const float ob1 = (float)(1.0 - h->beta1), ob2 = (float)(1.0 - h->beta2);
    const float wd = (float)decay_of(h, sl);
    double wn = sqrt(sq[2 * sl->tensor]), un = sqrt(sq[2 * sl->tensor + 1]);
    double ratio = !sl->no_decay && wn > 0.0 && un > 0.0 ? wn / un : 1.0;
    const float a = (float)(lr * ratio);
    for (size_t i = 0; i < sl->n; i++) {
        float w = sl->w[i], g = sl->g[i];
        float m = b1 * sl->m[i] + ob1 * g;
        float v = b2 * sl->v[i] + ob2 * g * g;
        sl->m[i] = m;
        sl->v[i] = v;
        float u = adam_dir(m, v, c1, c2, h->eps) + wd * w;
        sl->w[i] = w - a * u;
    }
}

static void apply_lars(const dml_optim_hparams *h, const dml_optim_slice *sl,
                       double lr, const double *sq)
{
    double wn = sqrt(sq[2 * sl->tensor]), gn = sqrt(sq[2 * sl->tensor + 1]);
    double wd = decay_of(h, sl);
    double local = !sl->no_decay && wn > 0.0 && gn > 0.0
                       ? DML_OPTIM_LARS_ETA * wn / (gn + wd * wn)
                       : 1.0;
    const float mu = (float)h->momentum;
    const float a = (float)(lr * local);
    for (size_t i = 0; i < sl->n; i++) {
        float w = sl->w[i];
        float b = mu * sl->m[i] + a * (sl->g[i] + (float)wd * w);
        sl->m[i] = b;
        sl->w[i] = w - b;
    }
}

void dml_optim_apply(const dml_optim_hparams *h, const dml_optim_slice *s,
                     size_t nslices, long t, double lr, const double *sq)
{
    for (size_t k = 0; k < nslices; k++) {
        switch (h->kind) {
        case DML_OPT_SGD: apply_sgd(h, &s[k], lr); break;
        case DML_OPT_ADAM:
        case DML_OPT_ADAMW: apply_adam(h, &s[k], t, lr); break;
        case DML_OPT_LAMB: apply_lamb(h, &s[k], t, lr, sq); break;
        case DML_OPT_LARS: apply_lars(h, &s[k], lr, sq); break;
        }
    }
}

double dml_optim_lr_at(const dml_train_schedule *s, int64_t step)
{
    /* one schedule for the planner, the exports and the executor */
    return dml_schedule_lr_at(s, step);
}
