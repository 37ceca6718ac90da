/*
 * proctree.c: a child's descendants from /proc (see proctree.h).
 */
#include "proctree.h"

#include <ctype.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One line of /proc/PID/stat, the fields used here. */
typedef struct proc_stat {
    pid_t pid;
    pid_t ppid;
    char state;               /* R, S, D, Z, ... */
    unsigned long long start; /* field 22, starttime */
} proc_stat;

/* Read /proc/PID/stat. The command name (field 2) is in parentheses and
 * may hold spaces and parentheses itself: fields are counted from the
 * last ')'. */
static bool read_stat(pid_t pid, proc_stat *out)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    if (!rp)
        return false;
    /* after ") ": state (field 3), ppid (4), ... starttime (22) */
    char *p = rp + 1;
    int field = 2;
    char *tok, *save = NULL;
    out->pid = pid;
    out->state = '?';
    out->ppid = 0;
    out->start = 0;
    for (tok = strtok_r(p, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        field++;
        if (field == 3)
            out->state = tok[0];
        else if (field == 4)
            out->ppid = (pid_t)strtol(tok, NULL, 10);
        else if (field == 22) {
            out->start = strtoull(tok, NULL, 10);
            return true;
        }
    }
    return false;
}

char dml_proc_state(pid_t pid)
{
    proc_stat st;
    return read_stat(pid, &st) ? st.state : 0;
}

void dml_proctree_init(dml_proctree *t)
{
    t->n = 0;
    t->full = false;
}

static bool held(const dml_proctree *t, pid_t pid, unsigned long long start)
{
    for (int i = 0; i < t->n; i++)
        if (t->p[i].pid == pid && t->p[i].start == start)
            return true;
    return false;
}

int dml_proctree_add_descendants(dml_proctree *t, pid_t root)
{
    DIR *d = opendir("/proc");
    if (!d)
        return t->n;
    size_t cap = 256, n = 0;
    proc_stat *all = malloc(cap * sizeof *all);
    struct dirent *e;
    while (all && (e = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        if (n == cap) {
            proc_stat *grown = realloc(all, 2 * cap * sizeof *all);
            if (!grown)
                break;
            all = grown;
            cap *= 2;
        }
        if (read_stat((pid_t)strtol(e->d_name, NULL, 10), &all[n]))
            n++;
    }
    closedir(d);
    if (!all)
        return t->n;
    /* Breadth first from root: a process whose parent is in the tree
     * joins it. The list in t grows as the frontier; root's own children
     * are the first generation. */
    pid_t *tree = malloc((n + 1) * sizeof *tree);
    size_t nt = 0;
    if (tree) {
        tree[nt++] = root;
        for (size_t k = 0; k < nt; k++)
            for (size_t i = 0; i < n; i++) {
                if (all[i].ppid != tree[k] || all[i].state == 'Z' ||
                    all[i].pid == root)
                    continue;
                tree[nt++] = all[i].pid;
                if (held(t, all[i].pid, all[i].start))
                    continue;
                if (t->n == DML_PROCTREE_MAX) {
                    t->full = true;
                    continue;
                }
                t->p[t->n].pid = all[i].pid;
                t->p[t->n].start = all[i].start;
                t->n++;
            }
    }
    free(tree);
    free(all);
    return t->n;
}

/* Is entry i of t the same process as when it was listed, and not a
 * zombie? */
static bool alive(const dml_proctree *t, int i)
{
    proc_stat s;
    return read_stat(t->p[i].pid, &s) && s.start == t->p[i].start &&
           s.state != 'Z';
}

int dml_proctree_signal(const dml_proctree *t, int sig)
{
    int n = 0;
    for (int i = 0; i < t->n; i++)
        if (alive(t, i)) {
            kill(t->p[i].pid, sig);
            n++;
        }
    return n;
}

int dml_proctree_alive(const dml_proctree *t)
{
    int n = 0;
    for (int i = 0; i < t->n; i++)
        n += alive(t, i);
    return n;
}
