/*
 * hosts.h: the hosts a supervised job may run on, as a hostfile (Open
 * MPI's format: "HOST [slots=N]" per line, '#' comments) or a Slurm
 * allocation says, which of them are alive, and the hostfile of one
 * launch.
 */
#ifndef DML_ELASTIC_HOSTS_H
#define DML_ELASTIC_HOSTS_H

#include <stdbool.h>

#include "common/error.h"

#define DML_HOSTS_MAX 256
#define DML_HOST_NAME_MAX 128

typedef struct dml_host {
    char name[DML_HOST_NAME_MAX]; /* as the hostfile and gethostname say */
    int slots;                    /* ranks it takes (default 1) */
    bool alive;                   /* not lost by a failure */
} dml_host;

typedef struct dml_hosts {
    int n;                        /* hosts listed */
    dml_host h[DML_HOSTS_MAX];
} dml_hosts;

/* Read a hostfile: every host alive. A line that is not "HOST" or "HOST
 * slots=N" (N from 1), a host listed twice or none at all is DML_EINPUT
 * naming the file and line. */
dml_status dml_hosts_read(const char *path, dml_hosts *out, dml_error *err);

/* The hosts of a Slurm allocation: SLURM_JOB_NODELIST's hostlist
 * expression ("gpu[01-04,07],login2") expanded in order, each with the
 * slots SLURM_TASKS_PER_NODE gives it ("2(x3),1"; NULL or "": 1 each);
 * every host alive (slurm_hosts.c). A malformed expression, a host listed
 * twice or counts for another number of nodes is DML_EINPUT naming the
 * variable. */
dml_status dml_hosts_from_slurm(const char *nodelist,
                                const char *tasks_per_node, dml_hosts *out,
                                dml_error *err);

/* Slots of the hosts alive. */
int dml_hosts_slots(const dml_hosts *h);

/* Mark host `name` lost; false when it is not listed. */
bool dml_hosts_lose(dml_hosts *h, const char *name);

/* Mark host `name` alive again (it returned); false when it is not
 * listed. */
bool dml_hosts_revive(dml_hosts *h, const char *name);

/* "a, b and c" of the hosts alive (or lost when lost), into out. */
void dml_hosts_list(const dml_hosts *h, bool lost, char *out, size_t size);

/* Write the hostfile of a launch of `ranks` ranks: the hosts alive in
 * order, each with the slots it gives until ranks are placed. */
dml_status dml_hosts_write(const char *path, const dml_hosts *h, int ranks,
                           dml_error *err);

#endif
