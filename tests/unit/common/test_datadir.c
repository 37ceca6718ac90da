/*
 * test_datadir.c: where a tool finds the presets (common/datadir.h):
 * $DML_DATA_DIR first, then share/dml beside an installed bin/, then the
 * compiled-in source folder; a build tree's tools/ has no share/dml.
 */
#include "tests/support/unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/datadir.h"

static void the_environment_wins(void **state)
{
    (void)state;
    char out[256];
    assert_string_equal(dml_datadir_resolve("/opt/x", out, sizeof out),
                        "/opt/x");
    /* empty means unset, as a shell's DML_DATA_DIR= does */
    dml_datadir_resolve("", out, sizeof out);
    if (strcmp(out, "") == 0)
        fail_msg("an empty $DML_DATA_DIR must fall through to a folder");
}

static void an_installed_prefix_is_found_beside_bin(void **state)
{
    (void)state;
    char root[] = "/tmp/dml-datadir-XXXXXX";
    assert_non_null(mkdtemp(root));
    char p[512], out[512];
    const char *mk[] = {"bin", "share", "share/dml", "share/dml/models"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", root, mk[i]);
        assert_int_equal(mkdir(p, 0700), 0);
    }
    snprintf(p, sizeof p, "%s/bin/dml-plan", root);
    dml_datadir_for_exe(p, "../share/dml", "/src/data", out, sizeof out);
    char want[512];
    snprintf(want, sizeof want, "%s/bin/../share/dml", root);
    if (strcmp(out, want) != 0)
        fail_msg("an installed tool should use %s, got %s", want, out);

    /* without models/ there (a build tree), the compiled-in folder */
    snprintf(p, sizeof p, "%s/share/dml/models", root);
    rmdir(p);
    snprintf(p, sizeof p, "%s/bin/dml-plan", root);
    dml_datadir_for_exe(p, "../share/dml", "/src/data", out, sizeof out);
    assert_string_equal(out, "/src/data");
    for (int i = 2; i >= 0; i--) {
        snprintf(p, sizeof p, "%s/%s", root, mk[i]);
        rmdir(p);
    }
    rmdir(root);
}

static void no_executable_path_falls_back(void **state)
{
    (void)state;
    char out[64];
    dml_datadir_for_exe(NULL, "../share/dml", "/src/data", out, sizeof out);
    assert_string_equal(out, "/src/data");
    dml_datadir_for_exe("dml-plan", "../share/dml", "/src/data", out,
                        sizeof out);
    assert_string_equal(out, "/src/data");
}

DML_TEST_MAIN(
    cmocka_unit_test(the_environment_wins),
    cmocka_unit_test(an_installed_prefix_is_found_beside_bin),
    cmocka_unit_test(no_executable_path_falls_back))
