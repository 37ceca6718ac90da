/*
 * report_balance.c: dml-plan's words and JSON on balancing (see
 * report_balance.h).
 */
#include "planner/report_balance.h"

#include <stdio.h>
#include <string.h>

#include "common/units.h"

/* "node 3" or "nodes 0-1" */
static char *nodes_text(int64_t first, int64_t n, char *buf, size_t size)
{
    if (n == 1)
        snprintf(buf, size, "node %lld", (long long)first);
    else
        snprintf(buf, size, "nodes %lld-%lld", (long long)first,
                 (long long)(first + n - 1));
    return buf;
}

char *dml_planner_balance_sentence(const dml_planned *w, char *buf,
                                   size_t size)
{
    const dml_balance_summary *b = &w->balance;
    if (size)
        buf[0] = '\0';
    if (!b->hetero || !(b->balanced_step_s > 0))
        return buf;
    int fast = -1, slow = -1;
    for (int g = 0; g < b->group_count; g++) {
        if (!b->group_used[g] || !(b->group_mb_s[g] > 0))
            continue;
        if (fast < 0 || b->group_mb_s[g] < b->group_mb_s[fast])
            fast = g;
        if (slow < 0 || b->group_mb_s[g] > b->group_mb_s[slow])
            slow = g;
    }
    char s1[32], s2[32], n1[48], n2[48];
    int n = snprintf(buf, size, "uniform split: %.2g x slower than balanced "
                     "(%s vs %s a step)",
                     b->equal_step_s / b->balanced_step_s,
                     dml_units_seconds(b->equal_step_s, s1, sizeof s1),
                     dml_units_seconds(b->balanced_step_s, s2, sizeof s2));
    if (fast >= 0 && slow != fast && n > 0 && (size_t)n < size) {
        int64_t sn = b->group_nodes[slow];
        snprintf(buf + n, size - (size_t)n, "; %s %s %.2g x slower than %s",
                 nodes_text(b->group_first_node[slow], sn, n1, sizeof n1),
                 sn == 1 ? "is" : "are",
                 b->group_mb_s[slow] / b->group_mb_s[fast],
                 nodes_text(b->group_first_node[fast], b->group_nodes[fast],
                            n2, sizeof n2));
    }
    return buf;
}

void dml_planner_print_balance(FILE *out, const dml_planned *w)
{
    char line[512];
    if (!dml_planner_balance_sentence(w, line, sizeof line)[0])
        return;
    const dml_plan *pl = &w->plan;
    fprintf(out, "  balance=%s: %s\n", dml_balance_name(pl->par.balance),
            line);
    if (pl->share_count > 0) {
        fprintf(out, "  micro-batches per replica:");
        for (int i = 0; i < pl->share_count; i++)
            fprintf(out, "%s %lld x %lld", i ? "," : "",
                    (long long)pl->shares[i].replicas,
                    (long long)pl->shares[i].microbatches);
        fprintf(out, " (replicas x micro-batches, in rank order)\n");
    }
    if (pl->par.pp > 1) {
        fprintf(out, "  layers per pipeline stage:");
        for (int i = 0; i < pl->stage_count; i++)
            fprintf(out, " %lld",
                    (long long)(pl->stages[i].last_layer -
                                pl->stages[i].first_layer + 1));
        fprintf(out, "\n");
    }
}

json_t *dml_planner_balance_json(const dml_planned *w)
{
    const dml_balance_summary *b = &w->balance;
    if (!b->hetero)
        return NULL;
    const dml_plan *pl = &w->plan;
    json_t *shares = json_array(), *layers = json_array();
    for (int i = 0; shares && i < pl->share_count; i++)
        json_array_append_new(
            shares, json_pack("{s:I, s:I}", "replicas",
                              (json_int_t)pl->shares[i].replicas,
                              "microbatches",
                              (json_int_t)pl->shares[i].microbatches));
    for (int i = 0; layers && i < pl->stage_count; i++)
        json_array_append_new(
            layers, json_integer((json_int_t)(pl->stages[i].last_layer -
                                              pl->stages[i].first_layer +
                                              1)));
    return json_pack("{s:s, s:f, s:f, s:o, s:o}", "balance",
                     dml_balance_name(pl->par.balance), "equal_step_s",
                     b->equal_step_s, "balanced_step_s", b->balanced_step_s,
                     "dp_shares", shares ? shares : json_array(),
                     "stage_layers", layers ? layers : json_array());
}
