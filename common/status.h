/*
 * status.h: the one table of result codes every dml function returns.
 *
 * As in libuv, the codes come from a single X-macro so that the enum, the
 * message table and the exit code a tool maps each one to cannot drift apart.
 * Functions below main() return a dml_status and fill a dml_error (error.h)
 * with the details; only main() turns the status into an exit code.
 */
#ifndef DML_STATUS_H
#define DML_STATUS_H

/* X(name, exit code, message) */
#define DML_STATUS_MAP(X)                                                     \
    X(OK,         0, "success")                                               \
    X(EINPUT,     2, "bad input")                                             \
    X(EUSAGE,     2, "bad usage")                                             \
    X(ESCHEMA,    2, "database schema is newer than this program")            \
    X(ENOTDB,     2, "file is not a dml database")                            \
    X(ERANGE,     2, "value out of range")                                    \
    X(EIO,        1, "input/output error")                                    \
    X(ENOMEM,     1, "out of memory")                                         \
    X(EDB,        1, "database error")                                        \
    X(EMPI,       1, "MPI error")                                             \
    X(ERUNTIME,   1, "runtime failure")                                       \
    X(EVALIDATE,  1, "measurement failed validation")                         \
    X(ENODEV,     1, "no such device")                                        \
    X(ENOTFOUND,  2, "not found")                                             \
    X(EINFEASIBLE, 3, "no feasible plan")

typedef enum dml_status {
#define DML__STATUS_ENUM(name, code, msg) DML_##name,
    DML_STATUS_MAP(DML__STATUS_ENUM)
#undef DML__STATUS_ENUM
    DML_STATUS_COUNT
} dml_status;

/* A short sentence for the code ("bad input"); never NULL. */
const char *dml_strerror(dml_status s);

/* The symbolic name ("DML_EINPUT"); never NULL. */
const char *dml_status_name(dml_status s);

/* The process exit code a tool uses for this status: 0, 1, 2 or 3. */
int dml_status_exit_code(dml_status s);

/* Return the status upward when it is not DML_OK. */
#define DML_CHECK(expr)                                                       \
    do {                                                                      \
        dml_status dml__s = (expr);                                           \
        if (dml__s != DML_OK)                                                 \
            return dml__s;                                                    \
    } while (0)

#endif
