/*
 * status.c: messages, names and exit codes for the dml_status table.
 */
#include "status.h"

static const char *const messages[] = {
#define DML__STATUS_MSG(name, code, msg) msg,
    DML_STATUS_MAP(DML__STATUS_MSG)
#undef DML__STATUS_MSG
};

static const char *const names[] = {
#define DML__STATUS_NAME(name, code, msg) "DML_" #name,
    DML_STATUS_MAP(DML__STATUS_NAME)
#undef DML__STATUS_NAME
};

static const int exit_codes[] = {
#define DML__STATUS_EXIT(name, code, msg) code,
    DML_STATUS_MAP(DML__STATUS_EXIT)
#undef DML__STATUS_EXIT
};

const char *dml_strerror(dml_status s)
{
    if ((unsigned)s >= DML_STATUS_COUNT)
        return "unknown status";
    return messages[s];
}

const char *dml_status_name(dml_status s)
{
    if ((unsigned)s >= DML_STATUS_COUNT)
        return "DML_UNKNOWN";
    return names[s];
}

int dml_status_exit_code(dml_status s)
{
    if ((unsigned)s >= DML_STATUS_COUNT)
        return 1;
    return exit_codes[s];
}
