/*
 * unit.h: what every cmocka test executable starts from: cmocka with the
 * headers it needs before it (in the order it needs them), and the main()
 * that runs a file's tests, one list, no group set-up.
 */
#ifndef DML_TESTS_UNIT_H
#define DML_TESTS_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* int main(void) running the tests listed (cmocka_unit_test(f), ...) and
 * returning the number that failed. */
#define DML_TEST_MAIN(...)                                                    \
    int main(void)                                                            \
    {                                                                         \
        const struct CMUnitTest tests[] = {__VA_ARGS__};                      \
        return cmocka_run_group_tests(tests, NULL, NULL);                     \
    }

#endif
