/*
 * optim.c: element-wise update rules over slices (see optim.h).
 */
#include "executor/optim.h"

#include <math.h>

int dml_optim_state_slots(dml_optimizer k)
{
    return k == DML_OPT_ADAMW || k == DML_OPT_LAMB ? 2 : 1;
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

static void apply_sgd(const dml_optim_hparams *h, const dml_optim_slice *sl,
                      double lr)
{
    const float mu = (float)h->momentum, wd = (float)h->weight_decay;
    const float a = (float)lr;
    for (size_t i = 0; i < sl->n; i++) {
        float g = sl->g[i] + wd * sl->w[i];
        float b = mu * sl->m[i] + g;
        sl->m[i] = b;
        sl->w[i] -= a * b;
    }
}

static void apply_adamw(const dml_optim_hparams *h, const dml_optim_slice *sl,
                        long t, double lr)
{
    double c1, c2;
    adam_corrections(h, t, &c1, &c2);
    const float b1 = (float)h->beta1, b2 = (float)h->beta2;
    const float ob1 = (float)(1.0 - h->beta1), ob2 = (float)(1.0 - h->beta2);
    const float a = (float)lr, decay = (float)(1.0 - lr * h->weight_decay);
    for (size_t i = 0; i < sl->n; i++) {
        float g = sl->g[i];
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
    const float wd = (float)h->weight_decay;
    double wn = sqrt(sq[2 * sl->tensor]), un = sqrt(sq[2 * sl->tensor + 1]);
    double ratio = wn > 0.0 && un > 0.0 ? wn / un : 1.0;
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
    double local = wn > 0.0 && gn > 0.0
                       ? DML_OPTIM_LARS_ETA * wn / (gn + h->weight_decay * wn)
                       : 1.0;
    const float mu = (float)h->momentum, wd = (float)h->weight_decay;
    const float a = (float)(lr * local);
    for (size_t i = 0; i < sl->n; i++) {
        float w = sl->w[i];
        float b = mu * sl->m[i] + a * (sl->g[i] + wd * w);
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
        case DML_OPT_ADAMW: apply_adamw(h, &s[k], t, lr); break;
        case DML_OPT_LAMB: apply_lamb(h, &s[k], t, lr, sq); break;
        case DML_OPT_LARS: apply_lars(h, &s[k], lr, sq); break;
        }
    }
}

double dml_optim_lr_at(const dml_train_schedule *s, int64_t step)
{
    if (s->warmup_steps > 0 && step < s->warmup_steps)
        return s->peak_lr * (double)(step + 1) / (double)s->warmup_steps;
    if (s->decay == DML_DECAY_CONSTANT || s->decay_steps <= 0)
        return s->peak_lr;
    double p = (double)(step - s->warmup_steps) / (double)s->decay_steps;
    if (p > 1.0)
        p = 1.0;
    if (p < 0.0)
        p = 0.0;
    if (s->decay == DML_DECAY_COSINE)
        return s->min_lr +
               (s->peak_lr - s->min_lr) * 0.5 * (1.0 + cos(M_PI * p));
    return s->peak_lr - (s->peak_lr - s->min_lr) * p;
}
