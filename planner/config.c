/*
 * config.c: reading and writing --config text (see config.h).
 */
#include "planner/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"

static const char *const knob_names[DML_KNOB_COUNT] = {
    "dp", "tp", "pp", "v", "mbs", "zero", "recompute", "sp", "schedule",
    "attn", "threads", "sync", "balance", "mode", "graph"};

const char *dml_knob_name(dml_knob k)
{
    return k >= 0 && k < DML_KNOB_COUNT ? knob_names[k] : "?";
}

static const char *const fed_knob_names[] = {
    "clients", "sample", "epochs", "alpha", "prox", "secagg", NULL};

void dml_planner_config_init(dml_planner_config *c)
{
    c->fixed = 0;
    dml_parallel_config_init(&c->par);
    c->fed_fixed = 0;
    dml_fed_spec_init(&c->fed);
}

/* A whole number in [lo, hi] with nothing after it. */
static bool parse_int(const char *s, long lo, long hi, long *out)
{
    if (!*s || !(isdigit((unsigned char)*s) || *s == '-' || *s == '+'))
        return false;
    errno = 0;
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool name_index(const char *s, const char *const names[], int *out)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return true;
        }
    return false;
}

/* Copy [b, e) trimmed of spaces into out. */
static void trim_copy(const char *b, const char *e, char *out, size_t size)
{
    while (b < e && isspace((unsigned char)*b))
        b++;
    while (e > b && isspace((unsigned char)e[-1]))
        e--;
    size_t n = (size_t)(e - b);
    if (n >= size)
        n = size - 1;
    memcpy(out, b, n);
    out[n] = '\0';
}

/* A finite number in [lo, hi] (common/cli.h's reading; its message
 * is replaced by the knob's). */
#define REAL(lo, hi, out)                                                     \
    (dml_cli_parse_number(DML_CLI_BARE, "", val, lo, hi, out, &e) == DML_OK)

/* One federated knob's value into f; false with why (the message after
 * the item) when it is not one. The ranges are the plan file's
 * (costmodel/federated_spec.c), so what parses here runs. */
static bool parse_fed_value(dml_fed_knob k, const char *val, dml_fed_spec *f,
                            char *why, size_t size)
{
    long n = 0;
    dml_error e;
    switch (k) {
    case DML_FED_KNOB_CLIENTS:
        if (!parse_int(val, 1, 1000000, &n))
            break;
        f->clients = (int)n;
        return true;
    case DML_FED_KNOB_SAMPLE:
        if (!REAL(1e-9, 1, &f->sample))
            break;
        return true;
    case DML_FED_KNOB_EPOCHS:
        if (strcmp(val, "batch") == 0)
            f->epochs = 0; /* FedSGD: one local step */
        else if (!REAL(1e-9, 1e6, &f->epochs))
            break;
        return true;
    case DML_FED_KNOB_ALPHA:
        if (dml_fed_split_parse(val, &f->split, &e) != DML_OK) {
            snprintf(why, size, "alpha: %s", e.msg);
            return false;
        }
        return true;
    case DML_FED_KNOB_PROX:
        if (!REAL(0, 1e6, &f->prox))
            break;
        return true;
    case DML_FED_KNOB_SECAGG:
        if (strcmp(val, "0") != 0 && strcmp(val, "1") != 0)
            break;
        f->secagg = val[0] == '1';
        return true;
    default: break;
    }
    static const char *const what[DML_FED_KNOB_COUNT] = {
        "clients must be an integer from 1 to 1000000",
        "sample must be a fraction of the clients in (0, 1]",
        "epochs must be a number of local epochs > 0 or batch (one local "
        "step, FedSGD)",
        "alpha must be iid, classes:K or a Dirichlet alpha > 0",
        "prox must be a number >= 0 (FedProx's mu; 0: FedAvg)",
        "secagg must be 0 or 1"};
    snprintf(why, size, "%s", k < DML_FED_KNOB_COUNT ? what[k] : "?");
    return false;
}
#undef REAL

static dml_status parse_item(const char *item, const char *option,
                             dml_planner_config *c, dml_error *err)
{
#define BAD(...)                                                              \
    do {                                                                      \
        char why_[256];                                                       \
        snprintf(why_, sizeof why_, __VA_ARGS__);                             \
        return dml_error_msg(err, DML_EUSAGE, "%s: \"%s\": %s", option, item, \
                             why_);                                           \
    } while (0)
    const char *eq = strchr(item, '=');
    if (!eq)
        BAD("expected knob=value");
    char key[32], val[64];
    trim_copy(item, eq, key, sizeof key);
    trim_copy(eq + 1, eq + strlen(eq), val, sizeof val);
    int k = -1;
    if (name_index(key, fed_knob_names, &k)) {
        char why[200];
        if ((c->fed_fixed >> k) & 1u)
            BAD("%s is given twice", key);
        if (!parse_fed_value((dml_fed_knob)k, val, &c->fed, why, sizeof why))
            BAD("%s", why);
        c->fed_fixed |= 1u << k;
        return DML_OK;
    }
    if (!name_index(key, (const char *const[]){"dp", "tp", "pp", "v", "mbs",
                                               "zero", "recompute", "sp",
                                               "schedule", "attn", "threads",
                                               "sync", "balance", "mode",
                                               "graph", NULL},
                    &k))
        BAD("unknown knob \"%s\" (dp, tp, pp, v, mbs, zero, recompute, sp, "
            "schedule, attn, threads, sync, balance, mode, graph; "
            "mode=federated: clients, sample, epochs, alpha, prox, secagg)",
            key);
    if (dml_planner_config_has(c, (dml_knob)k))
        BAD("%s is given twice", key);
    if (!val[0])
        BAD("%s needs a value", key);
    dml_parallel_config *p = &c->par;
    long n = 0;
    int e = 0;
    switch ((dml_knob)k) {
    case DML_KNOB_DP:
    case DML_KNOB_TP:
    case DML_KNOB_PP:
    case DML_KNOB_V:
    case DML_KNOB_THREADS: {
        long hi = k == DML_KNOB_PP || k == DML_KNOB_V ? DML_PLAN_STAGES_MAX
                  : k == DML_KNOB_THREADS             ? 4096
                                                      : DML_PLAN_MAX_DEGREE;
        if (!parse_int(val, 1, hi, &n))
            BAD("%s must be a positive integer (at most %ld)", key, hi);
        if (k == DML_KNOB_DP)
            p->dp = (int)n;
        else if (k == DML_KNOB_TP)
            p->tp = (int)n;
        else if (k == DML_KNOB_PP)
            p->pp = (int)n;
        else if (k == DML_KNOB_V)
            p->v = (int)n;
        else
            p->threads_per_rank = (int)n;
        break;
    }
    case DML_KNOB_MBS:
        if (!parse_int(val, 1, 1000000000L, &n))
            BAD("mbs must be a positive integer");
        p->mbs = n;
        break;
    case DML_KNOB_ZERO:
        if (!parse_int(val, 0, 3, &n))
            BAD("zero must be 0, 1, 2 or 3");
        p->zero = (int)n;
        break;
    case DML_KNOB_RECOMPUTE:
        if (!name_index(val, (const char *const[]){"none", "selective",
                                                   "full", NULL}, &e))
            BAD("recompute must be none, selective or full");
        p->recompute = (dml_recompute)e;
        break;
    case DML_KNOB_SP:
        if (strcmp(val, "1") == 0 || strcmp(val, "true") == 0)
            p->sp = true;
        else if (strcmp(val, "0") == 0 || strcmp(val, "false") == 0)
            p->sp = false;
        else
            BAD("sp must be 0 or 1");
        break;
    case DML_KNOB_SCHEDULE:
        if (!name_index(val, (const char *const[]){"1f1b", "gpipe",
                                                   "interleaved", NULL}, &e))
            BAD("schedule must be 1f1b, gpipe or interleaved");
        p->schedule = (dml_pp_schedule)e;
        break;
    case DML_KNOB_ATTN:
        if (!dml_attention_parse(val, &p->attention))
            BAD("attn must be flash or materialized");
        break;
    case DML_KNOB_SYNC: {
        char why[160];
        if (!dml_sync_spec_parse(val, &p->sync, why, sizeof why))
            BAD("sync: %s", why);
        break;
    }
    case DML_KNOB_BALANCE:
        if (!dml_balance_parse(val, &p->balance))
            BAD("balance must be equal, static or dynamic");
        break;
    case DML_KNOB_MODE:
        if (!dml_run_mode_parse(val, &p->mode))
            BAD("mode must be sync, federated or gossip");
        break;
    case DML_KNOB_GRAPH: {
        char why[160];
        if (!dml_graph_spec_parse(val, &p->sync.graph, why, sizeof why))
            BAD("graph: %s", why);
        break;
    }
    default:
        BAD("unknown knob");
    }
    c->fixed |= 1u << k;
    return DML_OK;
#undef BAD
}

/* mode, graph and sync agree: graph=G is sync gossip:G (mode gossip,
 * the sync knob fixed with it), sync=gossip:... is mode gossip, and
 * mode=gossip alone leaves the graph to the search. */
static dml_status gossip_knobs(dml_planner_config *c, const char *option,
                               dml_error *err)
{
    dml_parallel_config *p = &c->par;
    bool has_sync = dml_planner_config_has(c, DML_KNOB_SYNC);
    bool has_mode = dml_planner_config_has(c, DML_KNOB_MODE);
    bool gossip_sync = has_sync && p->sync.kind == DML_SYNC_GOSSIP;
    if (dml_planner_config_has(c, DML_KNOB_GRAPH)) {
        if (has_sync && !gossip_sync)
            return dml_error_msg(err, DML_EUSAGE, "%s: graph= is gossip's "
                                 "(mode=gossip); it does not combine with "
                                 "sync=%s", option,
                                 dml_sync_kind_name(p->sync.kind));
        if (gossip_sync)
            return dml_error_msg(err, DML_EUSAGE, "%s: give gossip's graph "
                                 "once: graph=G or sync=gossip:G", option);
        p->sync.kind = DML_SYNC_GOSSIP;
        c->fixed |= 1u << DML_KNOB_SYNC;
        gossip_sync = has_sync = true;
        if (!has_mode)
            p->mode = DML_MODE_GOSSIP;
    }
    if (has_mode && p->mode == DML_MODE_GOSSIP && has_sync && !gossip_sync)
        return dml_error_msg(err, DML_EUSAGE, "%s: mode=gossip takes its "
                             "strategy from graph= (or sync=gossip:G), not "
                             "sync=%s", option,
                             dml_sync_kind_name(p->sync.kind));
    if (has_mode && p->mode != DML_MODE_GOSSIP && gossip_sync)
        return dml_error_msg(err, DML_EUSAGE, "%s: mode=%s does not take "
                             "a gossip graph", option,
                             dml_run_mode_name(p->mode));
    if (gossip_sync)
        p->mode = DML_MODE_GOSSIP;
    return DML_OK;
}

/* mode=federated and its knobs agree: the federated knobs need it, and
 * it takes whole clients on each rank (costmodel/plan.c refuses other
 * layouts), so it fixes tp=1, pp=1, zero=0 and sync=allreduce, refusing
 * other values of them; the search chooses dp (ranks hosting clients). */
static dml_status federated_knobs(dml_planner_config *c, const char *option,
                                  dml_error *err)
{
    dml_parallel_config *p = &c->par;
    bool fed = dml_planner_config_has(c, DML_KNOB_MODE) &&
               p->mode == DML_MODE_FEDERATED;
    if (!fed) {
        for (int k = 0; k < DML_FED_KNOB_COUNT; k++)
            if ((c->fed_fixed >> k) & 1u)
                return dml_error_msg(err, DML_EUSAGE, "%s: %s= is a "
                                     "federated knob: it needs "
                                     "mode=federated", option,
                                     fed_knob_names[k]);
        return DML_OK;
    }
    static const dml_knob layout[] = {DML_KNOB_TP, DML_KNOB_PP,
                                      DML_KNOB_ZERO, DML_KNOB_SYNC,
                                      DML_KNOB_GRAPH};
    for (size_t i = 0; i < sizeof layout / sizeof layout[0]; i++) {
        dml_knob k = layout[i];
        bool ok = k == DML_KNOB_TP     ? p->tp == 1
                  : k == DML_KNOB_PP   ? p->pp == 1
                  : k == DML_KNOB_ZERO ? p->zero == 0
                  : k == DML_KNOB_SYNC ? p->sync.kind == DML_SYNC_ALLREDUCE
                                       : false;
        if (dml_planner_config_has(c, k) && !ok)
            return dml_error_msg(err, DML_EUSAGE, "%s: mode=federated "
                                 "trains whole clients on each rank: it "
                                 "takes tp=1, pp=1, zero=0 and "
                                 "sync=allreduce, not that %s=", option,
                                 dml_knob_name(k));
    }
    p->tp = p->pp = 1;
    p->zero = 0;
    dml_sync_spec_init(&p->sync);
    c->fixed |= (1u << DML_KNOB_TP) | (1u << DML_KNOB_PP) |
                (1u << DML_KNOB_ZERO) | (1u << DML_KNOB_SYNC);
    return DML_OK;
}

dml_status dml_planner_config_parse(const char *text, const char *option,
                                    dml_planner_config *out, dml_error *err)
{
    dml_planner_config c;
    dml_planner_config_init(&c);
    const char *s = text ? text : "";
    bool any = false;
    while (*s) {
        const char *comma = strchr(s, ',');
        const char *end = comma ? comma : s + strlen(s);
        char item[128];
        trim_copy(s, end, item, sizeof item);
        if (!item[0]) {
            if (comma || any)
                return dml_error_msg(err, DML_EUSAGE,
                                     "%s: \"%s\": empty item", option, text);
        } else {
            DML_CHECK(parse_item(item, option, &c, err));
            any = true;
        }
        s = comma ? comma + 1 : end;
    }
    if (!any)
        return dml_error_msg(err, DML_EUSAGE,
                             "%s: empty configuration (e.g. tp=8,pp=4)",
                             option);
    DML_CHECK(gossip_knobs(&c, option, err));
    DML_CHECK(federated_knobs(&c, option, err));
    *out = c;
    return DML_OK;
}

/* Append "key=value" to buf with a comma between items. */
static void add(char *buf, size_t size, const char *key, const char *val)
{
    size_t n = strlen(buf);
    if (n < size)
        snprintf(buf + n, size - n, "%s%s=%s", n ? "," : "", key, val);
}

static void add_int(char *buf, size_t size, const char *key, long long v)
{
    char t[32];
    snprintf(t, sizeof t, "%lld", v);
    add(buf, size, key, t);
}

static void add_knob(char *buf, size_t size, const dml_parallel_config *p,
                     dml_knob k)
{
    switch (k) {
    case DML_KNOB_DP: add_int(buf, size, "dp", p->dp); break;
    case DML_KNOB_TP: add_int(buf, size, "tp", p->tp); break;
    case DML_KNOB_PP: add_int(buf, size, "pp", p->pp); break;
    case DML_KNOB_V: add_int(buf, size, "v", p->v); break;
    case DML_KNOB_MBS: add_int(buf, size, "mbs", (long long)p->mbs); break;
    case DML_KNOB_ZERO: add_int(buf, size, "zero", p->zero); break;
    case DML_KNOB_RECOMPUTE:
        add(buf, size, "recompute", dml_recompute_name(p->recompute));
        break;
    case DML_KNOB_SP: add_int(buf, size, "sp", p->sp ? 1 : 0); break;
    case DML_KNOB_SCHEDULE:
        add(buf, size, "schedule", dml_pp_schedule_name(p->schedule));
        break;
    case DML_KNOB_ATTN:
        add(buf, size, "attn", dml_attention_name(p->attention));
        break;
    case DML_KNOB_THREADS:
        add_int(buf, size, "threads", p->threads_per_rank);
        break;
    case DML_KNOB_SYNC: {
        char t[48];
        add(buf, size, "sync", dml_sync_spec_format(&p->sync, t, sizeof t));
        break;
    }
    case DML_KNOB_BALANCE:
        add(buf, size, "balance", dml_balance_name(p->balance));
        break;
    case DML_KNOB_MODE:
        add(buf, size, "mode", dml_run_mode_name(p->mode));
        break;
    case DML_KNOB_GRAPH: {
        char t[32];
        add(buf, size, "graph", dml_graph_spec_format(&p->sync.graph, t,
                                                      sizeof t));
        break;
    }
    default: break;
    }
}

char *dml_planner_config_format(const dml_parallel_config *p,
                                dml_model_type type, char *buf, size_t size)
{
    if (size)
        buf[0] = '\0';
    for (int k = 0; k < DML_KNOB_COUNT; k++) {
        if (k == DML_KNOB_THREADS && p->threads_per_rank == 1)
            continue;
        if (k == DML_KNOB_ATTN && type != DML_MODEL_TRANSFORMER)
            continue;
        /* the default strategy goes unsaid, so configurations written
         * before the knob keep their text */
        if (k == DML_KNOB_SYNC && p->sync.kind == DML_SYNC_ALLREDUCE)
            continue;
        if (k == DML_KNOB_BALANCE && p->balance == DML_BALANCE_EQUAL)
            continue;
        if (k == DML_KNOB_MODE && p->mode == DML_MODE_SYNC)
            continue;
        /* gossip: mode=gossip,graph=G for D-PSGD, sync=gossip:G:topk:K
         * (which says the graph) for CHOCO */
        bool choco = p->sync.kind == DML_SYNC_GOSSIP && p->sync.compress > 0;
        if (k == DML_KNOB_GRAPH && (p->sync.kind != DML_SYNC_GOSSIP || choco))
            continue;
        if (k == DML_KNOB_SYNC && p->sync.kind == DML_SYNC_GOSSIP && !choco)
            continue;
        add_knob(buf, size, p, (dml_knob)k);
    }
    return buf;
}

char *dml_planner_fed_format(const dml_fed_spec *f, char *buf, size_t size)
{
    /* %.15g: the numbers as typed (0.1, not the plan file's
     * 0.10000000000000001), which read back to the same doubles */
    char split[48], epochs[32] = "batch";
    if (f->split.kind == DML_FED_SPLIT_DIRICHLET)
        snprintf(split, sizeof split, "%.15g", f->split.alpha);
    else
        dml_fed_split_format(&f->split, split, (int)sizeof split);
    if (f->epochs > 0)
        snprintf(epochs, sizeof epochs, "%.15g", f->epochs);
    snprintf(buf, size, "clients=%d,sample=%.15g,epochs=%s,alpha=%s,"
             "prox=%.15g,secagg=%d", f->clients, f->sample, epochs, split,
             f->prox, f->secagg ? 1 : 0);
    return buf;
}

char *dml_planner_config_format_fixed(const dml_planner_config *c, char *buf,
                                      size_t size)
{
    if (size)
        buf[0] = '\0';
    bool fed = dml_planner_config_has(c, DML_KNOB_MODE) &&
               c->par.mode == DML_MODE_FEDERATED;
    for (int k = 0; k < DML_KNOB_COUNT; k++) {
        /* graph=G fixes the sync knob with it: said once */
        if (k == DML_KNOB_SYNC && dml_planner_config_has(c, DML_KNOB_GRAPH))
            continue;
        if (dml_planner_config_has(c, (dml_knob)k))
            add_knob(buf, size, &c->par, (dml_knob)k);
    }
    if (fed) {
        char f[160];
        size_t n = strlen(buf);
        if (n < size)
            snprintf(buf + n, size - n, "%s%s", n ? "," : "",
                     dml_planner_fed_format(&c->fed, f, sizeof f));
    }
    return buf;
}
