/*
 * export.c: the export kinds, what each target can run, the choice of
 * the plan to export and the shared helpers; the writers are
 * export_megatron.c, export_deepspeed.c and export_launch.c (see
 * export.h and export_internal.h).
 *
 * The rules of dml_export_check_plan come from the frameworks' own code
 * (docs/frameworks.md gives the files): a plan one of them cannot run is
 * never written out with a comment in place of what it would need.
 */
#include "planner/export.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/quote.h"
#include "planner/export_internal.h"

static const char *const export_names[DML_EXPORT_COUNT] = {
    "megatron", "deepspeed", "slurm", "torchrun"};

const char *dml_export_name(dml_export_kind k)
{
    return k >= 0 && k < DML_EXPORT_COUNT ? export_names[k] : "?";
}

bool dml_export_parse(const char *name, dml_export_kind *out)
{
    for (int i = 0; i < DML_EXPORT_COUNT; i++)
        if (strcmp(name, export_names[i]) == 0) {
            *out = (dml_export_kind)i;
            return true;
        }
    return false;
}

bool dml_export_framework(dml_export_kind kind, dml_framework *out)
{
    if (kind == DML_EXPORT_MEGATRON)
        *out = DML_FRAMEWORK_MEGATRON;
    else if (kind == DML_EXPORT_DEEPSPEED)
        *out = DML_FRAMEWORK_DEEPSPEED;
    else
        return false;
    return true;
}

dml_status dml_export_check(dml_export_kind kind, const dml_model_spec *m,
                            dml_error *err)
{
    if (m->type == DML_MODEL_MLP &&
        (kind == DML_EXPORT_MEGATRON || kind == DML_EXPORT_TORCHRUN))
        return dml_error_msg(err, DML_EUSAGE,
                             "--export %s: %s is an mlp, which dml-exec runs "
                             "under mpirun; use --export slurm or deepspeed",
                             dml_export_name(kind), m->name);
    return DML_OK;
}

/* ------------------------------------------------------------------ */
/* Shared helpers                                                      */

const char *dml__export_text(const char *s, char *buf)
{
    dml_quote_terminal(s, buf, DML_EXPORT_TEXT_MAX);
    return buf;
}

bool dml__export_word(FILE *f, const char *s)
{
    char small[256];
    size_t n = dml_quote_shell(s, small, sizeof small);
    if (n < sizeof small) {
        fputs(small, f);
        return true;
    }
    char *big = malloc(n + 1);
    if (!big)
        return false;
    dml_quote_shell(s, big, n + 1);
    fputs(big, f);
    free(big);
    return true;
}

char *dml__export_config_line(const dml_planner *p, const dml_planned *pl,
                              char *buf, size_t size)
{
    dml_planner_config_format(&pl->plan.par, p->model.type, buf, size);
    size_t n = strlen(buf);
    if (pl->plan.par.framework != DML_FRAMEWORK_MEGATRON && n < size)
        snprintf(buf + n, size - n, " for %s",
                 dml_framework_name(pl->plan.par.framework));
    return buf;
}

int dml__export_per_node(const dml_planner *p, const dml_planned *pl)
{
    int dpn = p->splits[pl->cand.split].ctx.devices_per_node;
    return pl->plan.devices < dpn ? (int)pl->plan.devices : dpn;
}

double dml__export_samples_until(const dml_train_schedule *s, double steps)
{
    double samples = 0, prev = 0;
    for (int i = 0; i < s->ramp_count && prev < steps; i++) {
        double until = fmin((double)s->ramp[i].until_step, steps);
        samples += (double)s->ramp[i].global_batch * (until - prev);
        prev = until;
    }
    if (steps > prev)
        samples += (double)s->global_batch * (steps - prev);
    return samples;
}

int64_t dml__export_padded_vocab(int64_t vocab, int tp)
{
    int64_t multiple = 128 * (int64_t)(tp > 0 ? tp : 1);
    return (vocab + multiple - 1) / multiple * multiple;
}

const char *dml__export_megatron_script(const dml_model_spec *m)
{
    /* pretrain_bert.py moved to examples/bert/ in Megatron-LM (commit
     * 547fb17, "Move bert and t5 pretrain files", May 2026). */
    return m->causal ? "pretrain_gpt.py" : "examples/bert/pretrain_bert.py";
}

bool dml__export_megatron_split(const dml_model_spec *m,
                                const dml_parallel_config *c,
                                dml__export_split *out)
{
    memset(out, 0, sizeof *out);
    int64_t L = m->layers, pp = c->pp;
    /* Interleaved: Megatron-LM's chunks are equal, or equal with the
     * embedding and the loss counted as a layer each, as dml's are
     * (dml_plan_chunk_layers). */
    if (c->v > 1 && pp > 1) {
        dml_stage_split how = dml_plan_stage_split(L, c->pp, c->v);
        if (how == DML_SPLIT_NONE)
            return false;
        out->account = how == DML_SPLIT_EMBED_LOSS;
        out->middle = out->account ? (L + 2) / pp : L / pp;
        out->first = out->last = out->middle - (out->account ? 1 : 0);
        return true;
    }
    if (pp <= 1 || L % pp == 0) {
        out->first = out->middle = out->last = pp > 0 ? L / pp : L;
        return true;
    }
    out->uneven = true;
    int64_t most = (L + pp - 1) / pp; /* the plan's fullest stage */
    if (pp == 2) {
        out->first = most;
        out->last = L - most;
        out->middle = 0;
        return true;
    }
    /* first + last + (pp - 2) x middle = L, none above `most`; the most
     * even such split (the first stage also holds the embedding, the
     * last the output layer, so they are the ones to lighten). */
    bool found = false;
    int64_t best_min = -1;
    for (int64_t first = 1; first <= most; first++)
        for (int64_t last = 1; last <= most; last++) {
            int64_t rest = L - first - last;
            if (rest < pp - 2 || rest % (pp - 2))
                continue;
            int64_t middle = rest / (pp - 2);
            if (middle > most)
                continue;
            int64_t lo = first < last ? first : last;
            if (!found || lo > best_min ||
                (lo == best_min && first >= last && out->first < out->last)) {
                found = true;
                best_min = lo;
                out->first = first;
                out->middle = middle;
                out->last = last;
            }
        }
    return found;
}

/* ------------------------------------------------------------------ */
/* What each target runs                                               */

/* Can the target run the data-parallel strategy s of c? reason gets why
 * not. */
static bool sync_runs(dml_export_kind kind, const dml_parallel_config *c,
                      const dml_model_spec *m, char *reason, size_t size)
{
    const dml_sync_spec *s = &c->sync;
    char t[64];
    dml_sync_spec_format(s, t, sizeof t);
    if (s->kind == DML_SYNC_ALLREDUCE)
        return true;
    if (kind == DML_EXPORT_DEEPSPEED &&
        (s->kind == DML_SYNC_FP16 || s->kind == DML_SYNC_BF16))
        return true; /* communication_data_type */
    if (kind != DML_EXPORT_DEEPSPEED && s->kind == DML_SYNC_BF16 &&
        c->zero == 1 && m->dtype == DML_DTYPE_BF16)
        return true; /* --grad-reduce-in-bf16 with fp32 accumulation */
    if (kind != DML_EXPORT_DEEPSPEED && s->kind == DML_SYNC_BF16)
        snprintf(reason, size,
                 "sync=bf16 is Megatron-LM's --grad-reduce-in-bf16 with "
                 "--ddp-reduce-scatter-with-fp32-accumulation, which "
                 "needs bf16 training and the distributed optimizer "
                 "(zero=1)");
    else
        snprintf(reason, size,
                 "sync=%s has no %s setting (%s exchanges gradients by "
                 "allreduce%s)",
                 t, kind == DML_EXPORT_DEEPSPEED ? "DeepSpeed"
                                                 : "Megatron-LM",
                 kind == DML_EXPORT_DEEPSPEED ? "DeepSpeed" : "Megatron-LM",
                 kind == DML_EXPORT_DEEPSPEED
                     ? ", in 16 bits with communication_data_type"
                     : ", in bf16 with --grad-reduce-in-bf16");
    return false;
}

/* Why the Megatron-LM launch (megatron, slurm, torchrun of a
 * transformer) cannot run the plan, in reason; false when it can. */
static bool megatron_refuses(const dml_planner *p, const dml_planned *pl,
                             char *reason, size_t size)
{
    const dml_model_spec *m = &p->model;
    const dml_parallel_config *c = &pl->plan.par;
    const dml_train_schedule *s = &pl->plan.sched;
    if (c->framework != DML_FRAMEWORK_MEGATRON) {
        snprintf(reason, size,
                 "the plan is priced for %s, whose Megatron-DeepSpeed "
                 "takes other arguments than Megatron-LM; use --export "
                 "deepspeed for its config, or plan with --framework "
                 "megatron",
                 dml_framework_name(c->framework));
        return true;
    }
    if (c->schedule == DML_PP_GPIPE) {
        snprintf(reason, size,
                 "Megatron-LM has no GPipe schedule (1F1B and interleaved "
                 "only): --config schedule=1f1b");
        return true;
    }
    if (s->optimizer == DML_OPT_ADAM && s->weight_decay != 0) {
        snprintf(reason, size,
                 "the plan's adam adds weight decay %g to the gradient (L2); "
                 "Megatron-LM's --optimizer adam decouples it (AdamW, "
                 "OptimizerConfig.decoupled_weight_decay has no flag): "
                 "--optimizer adamw",
                 s->weight_decay);
        return true;
    }
    if (s->optimizer == DML_OPT_LAMB || s->optimizer == DML_OPT_LARS) {
        snprintf(reason, size,
                 "Megatron-LM has no %s optimizer (its --optimizer: adam, "
                 "sgd, muon, lion, soap): --optimizer adamw or sgd",
                 dml_optimizer_name(s->optimizer));
        return true;
    }
    if (m->dtype == DML_DTYPE_FP8 || m->dtype == DML_DTYPE_FP64) {
        snprintf(reason, size,
                 "Megatron-LM trains in bf16, fp16 or fp32, not %s as the "
                 "model spec says",
                 dml_dtype_name(m->dtype));
        return true;
    }
    if (m->activation == DML_ACT_RELU) {
        snprintf(reason, size,
                 "Megatron-LM has no plain ReLU feed-forward (gelu, "
                 "--swiglu, --squared-relu)");
        return true;
    }
    if (!m->causal && (m->position != DML_POS_LEARNED ||
                       m->activation != DML_ACT_GELU ||
                       m->norm != DML_NORM_LAYERNORM)) {
        snprintf(reason, size,
                 "Megatron-LM's BERT (examples/bert/pretrain_bert.py) has "
                 "learned positions, GeLU and LayerNorm only");
        return true;
    }
    if (c->v > 1 &&
        dml_plan_stage_split(m->layers, c->pp, c->v) == DML_SPLIT_NONE) {
        snprintf(reason, size,
                 "%lld layers over %d x %d interleaved stages is uneven; "
                 "Megatron-LM's interleaved chunks are equal (with the "
                 "embedding and the loss counted as a layer each or not)",
                 (long long)m->layers, c->pp, c->v);
        return true;
    }
    dml__export_split sp;
    if (!dml__export_megatron_split(m, c, &sp)) {
        snprintf(reason, size,
                 "%lld layers over %d stages cannot be placed by "
                 "Megatron-LM's --decoder-first/last-pipeline-num-layers "
                 "with at most %lld layers per stage as planned",
                 (long long)m->layers, c->pp,
                 (long long)((m->layers + c->pp - 1) / c->pp));
        return true;
    }
    return false;
}

dml_status dml_export_check_plan(dml_export_kind kind, const dml_planner *p,
                                 const dml_planned *pl, dml_error *err)
{
    DML_CHECK(dml_export_check(kind, &p->model, err));
    const dml_model_spec *m = &p->model;
    const dml_parallel_config *c = &pl->plan.par;
    const dml_train_schedule *s = &pl->plan.sched;
    char reason[400], cfg[256];
    reason[0] = '\0';
    /* The Slurm script of an MLP launches dml-exec, which runs every
     * plan dml makes. */
    if (kind == DML_EXPORT_SLURM && m->type == DML_MODEL_MLP)
        return DML_OK;
    bool refused = kind != DML_EXPORT_DEEPSPEED &&
                   megatron_refuses(p, pl, reason, sizeof reason);
    if (!refused)
        refused = !sync_runs(kind, c, m, reason, sizeof reason);
    if (!refused && kind == DML_EXPORT_DEEPSPEED) {
        /* DeepSpeed's PipelineEngine runs TrainSchedule (1F1B) and
         * asserts a ZeRO stage below 2 (runtime/pipe/engine.py). */
        refused = true;
        if (c->schedule == DML_PP_INTERLEAVED || c->v > 1)
            snprintf(reason, sizeof reason,
                     "DeepSpeed's pipeline engine has no interleaved "
                     "schedule (its TrainSchedule is 1F1B): plan with "
                     "--framework deepspeed");
        else if (c->schedule == DML_PP_GPIPE)
            snprintf(reason, sizeof reason,
                     "DeepSpeed's pipeline engine runs 1F1B only");
        else if (c->pp > 1 && c->zero >= 2)
            snprintf(reason, sizeof reason,
                     "DeepSpeed's pipeline engine takes ZeRO-0 or 1, not "
                     "ZeRO-%d with pp=%d", c->zero, c->pp);
        else if (s->optimizer == DML_OPT_LARS)
            snprintf(reason, sizeof reason,
                     "DeepSpeed has no LARS optimizer: --optimizer sgd or "
                     "lamb");
        else if (s->ramp_count > 0)
            snprintf(reason, sizeof reason,
                     "a DeepSpeed config has one train_batch_size, no batch "
                     "ramp: drop --batch-ramp");
        else
            refused = false;
    }
    if (!refused)
        return DML_OK;
    return dml_error_msg(err, DML_EUSAGE, "--export %s cannot run %s: %s",
                         dml_export_name(kind),
                         dml__export_config_line(p, pl, cfg, sizeof cfg),
                         reason);
}

dml_status dml_export_pick(dml_export_kind kind, const dml_planner *p,
                           const dml_planned *want, const dml_planned **out,
                           bool *fallback, char *why, size_t why_size,
                           dml_error *err)
{
    *out = want;
    *fallback = false;
    if (why_size)
        why[0] = '\0';
    dml_error first;
    if (dml_export_check_plan(kind, p, want, &first) == DML_OK)
        return DML_OK;
    if (first.status != DML_EUSAGE) {
        *err = first;
        return first.status;
    }
    for (int i = 0; i < p->count; i++) {
        dml_error e;
        if (&p->plans[i] == want ||
            dml_export_check_plan(kind, p, &p->plans[i], &e) != DML_OK)
            continue;
        *out = &p->plans[i];
        *fallback = true;
        snprintf(why, why_size, "%s; exporting plan #%d instead, the best "
                 "it runs (%.1f %% slower)",
                 first.msg, i + 1,
                 want->plan.pred.step_s > 0
                     ? 100.0 * (p->plans[i].plan.pred.step_s /
                                    want->plan.pred.step_s -
                                1.0)
                     : 0.0);
        return DML_OK;
    }
    *err = first;
    return first.status;
}

/* Slurm's time formats: digits, '-' and ':' ("30", "2:00:00",
 * "1-12:00:00"). */
static bool slurm_time_ok(const char *s)
{
    if (!*s || strlen(s) > 32)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || *s == '-' || *s == ':'))
            return false;
    return true;
}

static bool slurm_name_ok(const char *s)
{
    if (!*s || strlen(s) > 128)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
              (*s >= 'A' && *s <= 'Z') || *s == '.' || *s == '_' ||
              *s == '-' || *s == ','))
            return false;
    return true;
}

dml_status dml_export_options_check(const dml_export_options *o,
                                    dml_error *err)
{
    if (!o)
        return DML_OK;
    if (o->slurm_time && !slurm_time_ok(o->slurm_time))
        return dml_error_msg(err, DML_EUSAGE,
                             "--slurm-time: expected Slurm's [days-]hours:"
                             "minutes:seconds (digits, '-' and ':'), e.g. "
                             "2-00:00:00");
    if (o->slurm_partition && !slurm_name_ok(o->slurm_partition))
        return dml_error_msg(err, DML_EUSAGE,
                             "--slurm-partition: expected a partition name "
                             "or a comma-separated list (letters, digits, "
                             ". _ -)");
    if (o->slurm_account && !slurm_name_ok(o->slurm_account))
        return dml_error_msg(err, DML_EUSAGE,
                             "--slurm-account: expected an account name "
                             "(letters, digits, . _ -)");
    if (o->code_dir && !*o->code_dir)
        return dml_error_msg(err, DML_EUSAGE, "--code-dir: empty path");
    return DML_OK;
}

dml_status dml_planner_export_with(dml_export_kind kind, const dml_planner *p,
                                   const dml_planned *pl,
                                   const dml_export_options *o, char **text,
                                   dml_error *err)
{
    *text = NULL;
    dml_export_options none;
    memset(&none, 0, sizeof none);
    if (!o)
        o = &none;
    DML_CHECK(dml_export_options_check(o, err));
    DML_CHECK(dml_export_check_plan(kind, p, pl, err));
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    dml_status s = DML_OK;
    switch (kind) {
    case DML_EXPORT_MEGATRON: s = dml__export_megatron(f, p, pl, o, err); break;
    case DML_EXPORT_DEEPSPEED: s = dml__export_deepspeed(f, p, pl, err); break;
    case DML_EXPORT_SLURM: s = dml__export_slurm(f, p, pl, o, err); break;
    case DML_EXPORT_TORCHRUN: s = dml__export_torchrun(f, p, pl, o, err); break;
    default:
        s = dml_error_msg(err, DML_EUSAGE, "unknown export");
    }
    if (fclose(f) != 0 && s == DML_OK)
        s = dml_error_msg(err, DML_ENOMEM, "out of memory");
    if (s != DML_OK) {
        free(buf);
        return s;
    }
    *text = buf;
    return DML_OK;
}

dml_status dml_planner_export(dml_export_kind kind, const dml_planner *p,
                              const dml_planned *pl, const char *plan_file,
                              char **text, dml_error *err)
{
    dml_export_options o;
    memset(&o, 0, sizeof o);
    o.plan_file = plan_file;
    return dml_planner_export_with(kind, p, pl, &o, text, err);
}
