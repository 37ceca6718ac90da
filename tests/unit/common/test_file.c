/*
 * test_file.c: common/file with targets that are not regular files (issue
 * 10): readers refuse a FIFO, a directory or a device without blocking;
 * writers write a device, a FIFO or a descriptor link in place, follow
 * symbolic links instead of replacing them, refuse directories, block
 * devices and sockets, and dml_file_check_writable says the same.
 *
 * Every special file lives in a temporary folder of the test (a FIFO, a
 * socket, a link to /dev/null; as root also private device nodes made with
 * mknod), so that even a writer that does replace its target harms nothing
 * outside it. An alarm turns a hang into a failure.
 */
#define _GNU_SOURCE
#include "tests/support/unit.h"
#include "tests/support/test_support.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/error.h"
#include "common/file.h"

/* Seconds after which a test that blocks is killed (and fails). */
#define HANG_S 10

typedef struct scratch {
    char dir[64]; /* the test's temporary folder */
} scratch;

static int setup(void **state)
{
    scratch *s = calloc(1, sizeof *s);
    if (!s || !dml_test_tmpdir("file", s->dir, sizeof s->dir)) {
        free(s);
        return -1;
    }
    *state = s;
    alarm(HANG_S);
    return 0;
}

static int teardown(void **state)
{
    scratch *s = *state;
    alarm(0);
    dml_test_rmtree(s->dir);
    free(s);
    return 0;
}

static void in(const scratch *s, const char *name, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", s->dir, name);
}

static mode_t type_of(const char *path)
{
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    return st.st_mode & S_IFMT;
}

/* How many entries the folder holds (no temporary file left behind). */
static int entries(const scratch *s)
{
    DIR *d = opendir(s->dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* A Unix socket bound at path (the file exists while sfd is open). */
static int bound_socket(const char *path)
{
    int sfd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(sfd >= 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
    assert_int_equal(bind(sfd, (struct sockaddr *)&addr, sizeof addr), 0);
    return sfd;
}

static void read_text(const char *path, const char *want)
{
    char *text = NULL;
    size_t len = 0;
    dml_error err;
    assert_int_equal(dml_file_read_all(path, 1 << 20, &text, &len, &err),
                     DML_OK);
    assert_string_equal(text, want);
    free(text);
}

/* A FIFO without a writer, a directory, /dev/null (through a link) and a
 * socket are refused at once with "not a regular file (KIND)" naming the
 * path; a missing file says so. */
static void readers_refuse_what_is_not_a_file(void **state)
{
    scratch *s = *state;
    char fifo[128], sock[128], null_link[128], missing[128];
    in(s, "fifo", fifo, sizeof fifo);
    in(s, "sock", sock, sizeof sock);
    in(s, "null", null_link, sizeof null_link);
    in(s, "missing", missing, sizeof missing);
    assert_int_equal(mkfifo(fifo, 0644), 0);
    assert_int_equal(symlink("/dev/null", null_link), 0);
    int sfd = bound_socket(sock);

    const struct {
        const char *path, *kind;
    } cases[] = {{fifo, "a FIFO"},
                 {s->dir, "a directory"},
                 {null_link, "a character device"},
                 {sock, "a socket"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char want[64], *text = NULL;
        size_t len = 0;
        dml_error err;
        snprintf(want, sizeof want, "not a regular file (%s)", cases[i].kind);
        assert_int_equal(dml_file_read_all(cases[i].path, 1024, &text, &len,
                                           &err),
                         DML_EINPUT);
        assert_null(text);
        assert_string_equal(err.file, cases[i].path);
        assert_string_equal(err.msg, want);
        int fd = 7;
        assert_int_equal(dml_file_open_regular(cases[i].path, &fd, &err),
                         DML_EINPUT);
        assert_int_equal(fd, -1);
        assert_int_equal(dml_file_check_regular(cases[i].path, &err),
                         DML_EINPUT);
        assert_string_equal(err.msg, want);
    }
    dml_error err;
    int fd;
    assert_int_equal(dml_file_open_regular(missing, &fd, &err), DML_EINPUT);
    assert_non_null(strstr(err.msg, "No such file"));
    close(sfd);
}

/* A regular file opened through a link is open, and blocking: reads wait
 * for data as usual (the O_NONBLOCK of the check is cleared). */
static void reader_opens_a_file_through_a_link_blocking(void **state)
{
    scratch *s = *state;
    char file[128], link[128];
    in(s, "plan.json", file, sizeof file);
    in(s, "link.json", link, sizeof link);
    dml_error err;
    assert_int_equal(dml_file_write_atomic(file, "{}", 2, &err), DML_OK);
    assert_int_equal(symlink("plan.json", link), 0);
    int fd = -1;
    assert_int_equal(dml_file_open_regular(link, &fd, &err), DML_OK);
    assert_true(fd >= 0);
    int flags = fcntl(fd, F_GETFL);
    assert_true((flags & O_NONBLOCK) == 0);
    assert_true((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    close(fd);
    read_text(link, "{}");
}

/* A FIFO with a reader is written in place: the reader gets the bytes, the
 * FIFO stays a FIFO and no temporary file is left. dml_file_check_writable
 * accepts it without opening it (that would wait for a reader). */
static void writer_writes_a_fifo_in_place(void **state)
{
    scratch *s = *state;
    char fifo[128];
    in(s, "out.fifo", fifo, sizeof fifo);
    assert_int_equal(mkfifo(fifo, 0644), 0);
    dml_error err;
    assert_int_equal(dml_file_check_writable(fifo, &err), DML_OK);
    int rd = open(fifo, O_RDONLY | O_NONBLOCK);
    assert_true(rd >= 0);
    assert_int_equal(dml_file_write_atomic(fifo, "plan\n", 5, &err), DML_OK);
    char buf[16] = "";
    assert_int_equal(read(rd, buf, sizeof buf - 1), 5);
    assert_string_equal(buf, "plan\n");
    close(rd);
    assert_int_equal(type_of(fifo), S_IFIFO);
    assert_int_equal(entries(s), 1);
}

/* A link to /dev/null: written through, the link stays a link and
 * /dev/null a character device. */
static void writer_writes_through_a_link_to_dev_null(void **state)
{
    scratch *s = *state;
    char link[128];
    in(s, "null", link, sizeof link);
    assert_int_equal(symlink("/dev/null", link), 0);
    dml_error err;
    assert_int_equal(dml_file_check_writable(link, &err), DML_OK);
    assert_int_equal(dml_file_write_atomic(link, "x", 1, &err), DML_OK);
    assert_int_equal(type_of(link), S_IFLNK);
    assert_int_equal(type_of("/dev/null"), S_IFCHR);
    assert_int_equal(entries(s), 1);
}

/* As root: a private node with /dev/null's numbers (1, 3) is written in
 * place and stays a node; a block device node is refused, untouched. */
static void writer_keeps_device_nodes(void **state)
{
    scratch *s = *state;
    char chr[128], blk[128];
    in(s, "null", chr, sizeof chr);
    in(s, "loop", blk, sizeof blk);
    if (mknod(chr, S_IFCHR | 0666, makedev(1, 3)) != 0) {
        assert_true(errno == EPERM || errno == EACCES);
        skip(); /* not root */
    }
    assert_int_equal(mknod(blk, S_IFBLK | 0600, makedev(7, 0)), 0);
    dml_error err;
    /* A folder mounted nodev refuses to open the node: nothing to test. */
    int probe = open(chr, O_WRONLY);
    if (probe < 0)
        skip();
    close(probe);
    assert_int_equal(dml_file_check_writable(chr, &err), DML_OK);
    assert_int_equal(dml_file_write_atomic(chr, "plan", 4, &err), DML_OK);
    assert_int_equal(type_of(chr), S_IFCHR);
    assert_int_equal(dml_file_check_writable(blk, &err), DML_EINPUT);
    assert_string_equal(err.msg, "is a block device: not written over");
    assert_int_equal(dml_file_write_atomic(blk, "plan", 4, &err), DML_EINPUT);
    assert_string_equal(err.msg, "is a block device: not written over");
    assert_int_equal(type_of(blk), S_IFBLK);
    assert_int_equal(entries(s), 2);
}

/* A link to a regular file (relative, in another folder, through two
 * links): the file it points to is replaced atomically, the links stay. A
 * dangling link: the file it names is created. */
static void writer_follows_links_to_files(void **state)
{
    scratch *s = *state;
    char sub[128], target[128], link1[128], link2[128], dangling[128],
        created[128];
    in(s, "sub", sub, sizeof sub);
    in(s, "sub/plan.json", target, sizeof target);
    in(s, "link1", link1, sizeof link1);
    in(s, "link2", link2, sizeof link2);
    in(s, "dangling", dangling, sizeof dangling);
    in(s, "sub/new.json", created, sizeof created);
    assert_int_equal(mkdir(sub, 0755), 0);
    dml_error err;
    assert_int_equal(dml_file_write_atomic(target, "old", 3, &err), DML_OK);
    assert_int_equal(symlink("sub/plan.json", link1), 0);
    assert_int_equal(symlink(link1, link2), 0);
    assert_int_equal(dml_file_check_writable(link2, &err), DML_OK);
    assert_int_equal(dml_file_write_atomic(link2, "new", 3, &err), DML_OK);
    assert_int_equal(type_of(link1), S_IFLNK);
    assert_int_equal(type_of(link2), S_IFLNK);
    read_text(target, "new");
    assert_int_equal(symlink("sub/new.json", dangling), 0);
    assert_int_equal(dml_file_check_writable(dangling, &err), DML_OK);
    assert_int_equal(dml_file_write_atomic(dangling, "made", 4, &err), DML_OK);
    assert_int_equal(type_of(dangling), S_IFLNK);
    read_text(created, "made");
    /* A link loop is refused, not followed forever. */
    char loop[128];
    in(s, "loop", loop, sizeof loop);
    assert_int_equal(symlink("loop", loop), 0);
    assert_int_equal(dml_file_write_atomic(loop, "x", 1, &err), DML_EINPUT);
    assert_int_equal(dml_file_check_writable(loop, &err), DML_EINPUT);
    assert_int_equal(type_of(loop), S_IFLNK);
}

/* Directories (also behind a link) and sockets are refused with one line
 * by the writer and by dml_file_check_writable, and are left as they are. */
static void writer_refuses_directories_and_sockets(void **state)
{
    scratch *s = *state;
    char sub[128], link[128], sock[128];
    in(s, "sub", sub, sizeof sub);
    in(s, "link", link, sizeof link);
    in(s, "sock", sock, sizeof sock);
    assert_int_equal(mkdir(sub, 0755), 0);
    assert_int_equal(symlink("sub", link), 0);
    int sfd = bound_socket(sock);
    const char *paths[] = {sub, link, sock};
    for (size_t i = 0; i < 3; i++) {
        dml_error err;
        assert_int_equal(dml_file_check_writable(paths[i], &err), DML_EINPUT);
        assert_int_equal(dml_file_write_atomic(paths[i], "x", 1, &err),
                         DML_EINPUT);
        assert_string_equal(err.file, paths[i]);
        assert_non_null(strstr(err.msg, i < 2 ? "is a directory, not a file"
                                              : "is a socket, not a file"));
        const dml_file_part part = {"x", 1};
        assert_int_equal(dml_file_write_atomic_parts(paths[i], &part, 1,
                                                     "test shard", NULL, NULL,
                                                     &err),
                         DML_EIO);
    }
    assert_int_equal(type_of(sub), S_IFDIR);
    assert_int_equal(type_of(link), S_IFLNK);
    assert_int_equal(type_of(sock), S_IFSOCK);
    close(sfd);
}

/* /proc/self/fd/N (what /dev/stdout leads to) names an open file: written
 * in place, appended to, so that a file a shell redirected to keeps its
 * inode and its earlier contents. */
static void writer_appends_through_descriptor_links(void **state)
{
    scratch *s = *state;
    char log[128], fd_path[64];
    in(s, "log", log, sizeof log);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "earlier\n", 8), 8);
    struct stat before, after;
    assert_int_equal(fstat(fd, &before), 0);
    snprintf(fd_path, sizeof fd_path, "/proc/self/fd/%d", fd);
    dml_error err;
    assert_int_equal(dml_file_check_writable(fd_path, &err), DML_OK);
    assert_int_equal(dml_file_write_atomic(fd_path, "plan\n", 5, &err),
                     DML_OK);
    assert_int_equal(stat(log, &after), 0);
    assert_true(after.st_ino == before.st_ino);
    read_text(log, "earlier\nplan\n");
    /* A pipe behind the link (`--out /dev/stdout | jq`). */
    int p[2];
    assert_int_equal(pipe(p), 0);
    snprintf(fd_path, sizeof fd_path, "/dev/fd/%d", p[1]);
    assert_int_equal(dml_file_write_atomic(fd_path, "piped", 5, &err), DML_OK);
    char buf[16] = "";
    assert_int_equal(read(p[0], buf, sizeof buf - 1), 5);
    assert_string_equal(buf, "piped");
    close(p[0]);
    close(p[1]);
    close(fd);
    assert_int_equal(entries(s), 1);
}

/* The checkpoint writer (dml_file_write_atomic_parts) writes only regular
 * files: a FIFO there is refused at once (no reader to wait for), DML_EIO
 * naming what was written, and stays a FIFO. */
static void parts_writer_refuses_a_fifo(void **state)
{
    scratch *s = *state;
    char fifo[128];
    in(s, "rank-00000.bin", fifo, sizeof fifo);
    assert_int_equal(mkfifo(fifo, 0644), 0);
    const dml_file_part part = {"x", 1};
    dml_error err;
    assert_int_equal(dml_file_write_atomic_parts(fifo, &part, 1,
                                                 "checkpoint shard", NULL,
                                                 NULL, &err),
                     DML_EIO);
    assert_string_equal(err.msg, "cannot write checkpoint shard: not a "
                                 "regular file (a FIFO)");
    assert_int_equal(type_of(fifo), S_IFIFO);
    assert_int_equal(entries(s), 1);
}

DML_TEST_MAIN(
    cmocka_unit_test_setup_teardown(readers_refuse_what_is_not_a_file,
                                    setup, teardown),
    cmocka_unit_test_setup_teardown(
        reader_opens_a_file_through_a_link_blocking, setup, teardown),
    cmocka_unit_test_setup_teardown(writer_writes_a_fifo_in_place, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(
        writer_writes_through_a_link_to_dev_null, setup, teardown),
    cmocka_unit_test_setup_teardown(writer_keeps_device_nodes, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(writer_follows_links_to_files, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(
        writer_refuses_directories_and_sockets, setup, teardown),
    cmocka_unit_test_setup_teardown(
        writer_appends_through_descriptor_links, setup, teardown),
    cmocka_unit_test_setup_teardown(parts_writer_refuses_a_fifo, setup,
                                    teardown))
