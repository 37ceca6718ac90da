/*
 * test_name.c: the rule for names and fingerprints (common/name.h) and
 * the quoting of text for shells and terminals (common/quote.h).
 *
 * Shell words are checked against bash itself: each quoted value is put in
 * a script that prints it back, and what bash prints must be the value,
 * byte for byte, with no command of the value run and the word on one
 * line.
 */
#include "tests/support/unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/name.h"
#include "common/quote.h"

static void valid(const char *s)
{
    char why[512];
    if (!dml_name_valid(s, why, sizeof why))
        fail_msg("\"%s\" should be a name, refused: %s", s, why);
}

static void invalid(const char *s, const char *says)
{
    char why[512];
    if (dml_name_valid(s, why, sizeof why))
        fail_msg("a name was accepted that should not be (wanted: %s)", says);
    if (!strstr(why, says))
        fail_msg("the refusal should say \"%s\", says \"%s\"", says, why);
}

static void names_follow_the_rule(void **state)
{
    (void)state;
    /* Every preset and fixture name is a name. */
    const char *ok[] = {"gpt3-175b", "llama3-8b", "mlp-fmnist", "cpu-node",
                        "dgx-a100-80g", "gpt3-1.3b", "test-localhost", "g",
                        "group0", "bench-localhost", "A_b+c.d-e", "0x"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        valid(ok[i]);
    char max[DML_NAME_MAX_BYTES + 2];
    memset(max, 'a', DML_NAME_MAX_BYTES);
    max[DML_NAME_MAX_BYTES] = '\0';
    valid(max);
    max[DML_NAME_MAX_BYTES] = 'a';
    max[DML_NAME_MAX_BYTES + 1] = '\0';
    invalid(max, "longer than 63 bytes (64 bytes)");

    invalid("", "must not be empty");
    invalid("x\ntouch /tmp/pwned\n#", "a newline (0x0a) is not allowed "
                                      "(character 2)");
    invalid("\x1b[31mred", "control character 0x1b is not allowed "
                           "(character 1)");
    invalid("a\x7f", "control character 0x7f");
    invalid("$(id)", "'$' is not allowed (character 1)");
    invalid("a b", "a space is not allowed (character 2)");
    invalid("it's", "a single quote is not allowed (character 3)");
    invalid("a\"b", "a double quote");
    invalid("a\\b", "a backslash");
    invalid("a/b", "'/' is not allowed (character 2)");
    invalid("caf\xc3\xa9", "byte 0xc3 (not ASCII) is not allowed "
                           "(character 4)");
    invalid("-rf", "'-' cannot start a name (character 1)");
    invalid("..", "'.' cannot start a name");
    invalid("_x", "'_' cannot start a name");
    invalid("+x", "'+' cannot start a name");
    /* Every byte outside the set is refused, every one inside accepted. */
    for (int c = 1; c < 256; c++) {
        char s[3] = {'a', (char)c, '\0'};
        bool in = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                  c == '+' || c == '-';
        if (dml_name_valid(s, NULL, 0) != in)
            fail_msg("byte 0x%02x is %s by the rule and %s by the validator",
                     c, in ? "allowed" : "refused",
                     in ? "refused" : "allowed");
    }
    dml_error err;
    assert_int_equal(dml_name_check("a b", "cluster.name", &err), DML_EINPUT);
    assert_string_equal(err.field, "cluster.name");
    assert_int_equal(dml_name_check("ok", "x", &err), DML_OK);
}

static void names_read_from_json_say_where(void **state)
{
    (void)state;
    const char *text = "{\"name\": \"x\\ny\", \"long\": \""
                       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                       "\", \"good\": \"gpt-small\", \"fp\": \"12ab\","
                       " \"badfp\": \"12-ab\"}";
    dml_json_doc *doc = NULL;
    dml_error err;
    assert_int_equal(dml_json_doc_load_text("t.json", text, strlen(text),
                                            &doc, &err),
                     DML_OK);
    dml_json_obj o;
    dml_json_obj_root(doc, &o);
    char name[DML_NAME_MAX_BYTES + 1] = "untouched";
    assert_int_equal(dml_name_get(&o, "name", true, name, sizeof name, &err),
                     DML_EINPUT);
    assert_string_equal(err.file, "t.json");
    assert_int_equal(err.line, 1);
    assert_int_equal(err.col, 10);
    assert_string_equal(err.field, "name");
    assert_non_null(strstr(err.msg, "a newline (0x0a) is not allowed "
                                    "(character 2)"));
    assert_string_equal(name, "untouched");
    /* A long name is refused, not cut to fit. */
    assert_int_equal(dml_name_get(&o, "long", true, name, sizeof name, &err),
                     DML_EINPUT);
    assert_non_null(strstr(err.msg, "longer than 63 bytes (100 bytes)"));
    assert_int_equal(dml_name_get(&o, "good", true, name, sizeof name, &err),
                     DML_OK);
    assert_string_equal(name, "gpt-small");
    assert_int_equal(dml_name_get(&o, "absent", false, name, sizeof name,
                                  &err),
                     DML_OK);
    assert_string_equal(name, "gpt-small");
    assert_int_equal(dml_name_get(&o, "absent", true, name, sizeof name,
                                  &err),
                     DML_EINPUT);
    char fp[DML_FINGERPRINT_HEX_MAX + 1] = "";
    assert_int_equal(dml_fingerprint_get(&o, "fp", fp, sizeof fp, &err),
                     DML_OK);
    assert_string_equal(fp, "12ab");
    assert_int_equal(dml_fingerprint_get(&o, "badfp", fp, sizeof fp, &err),
                     DML_EINPUT);
    assert_string_equal(err.field, "badfp");
    assert_non_null(strstr(err.msg, "expected hexadecimal digits, found "
                                    "'-' (character 3)"));
    dml_json_doc_free(doc);
}

static void fingerprints_are_hex(void **state)
{
    (void)state;
    char why[256];
    assert_true(dml_fingerprint_valid("0123456789abcdefABCDEF", why,
                                      sizeof why));
    char s[DML_FINGERPRINT_HEX_MAX + 2];
    memset(s, 'f', sizeof s - 1);
    s[DML_FINGERPRINT_HEX_MAX] = '\0';
    assert_true(dml_fingerprint_valid(s, why, sizeof why));
    s[DML_FINGERPRINT_HEX_MAX] = 'f';
    s[DML_FINGERPRINT_HEX_MAX + 1] = '\0';
    assert_false(dml_fingerprint_valid(s, why, sizeof why));
    assert_non_null(strstr(why, "found 65 bytes"));
    assert_false(dml_fingerprint_valid("", why, sizeof why));
    assert_non_null(strstr(why, "found 0 bytes"));
    assert_false(dml_fingerprint_valid("not-a-hash!", why, sizeof why));
    assert_non_null(strstr(why, "found 'n' (character 1)"));
}

static void names_made_from_host_names(void **state)
{
    (void)state;
    char out[DML_NAME_MAX_BYTES + 1];
    dml_name_from_text("node-1.example.com", "node", out, sizeof out);
    assert_string_equal(out, "node-1.example.com");
    dml_name_from_text("my host\n$(id)", "node", out, sizeof out);
    assert_string_equal(out, "my-host-id");
    dml_name_from_text("--..__x", "node", out, sizeof out);
    assert_string_equal(out, "x");
    dml_name_from_text("\x1b[2J", "node", out, sizeof out);
    assert_string_equal(out, "2J");
    dml_name_from_text("", "node", out, sizeof out);
    assert_string_equal(out, "node");
    dml_name_from_text(";;;", "node", out, sizeof out);
    assert_string_equal(out, "node");
    char big[300];
    memset(big, 'h', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    dml_name_from_text(big, "node", out, sizeof out);
    assert_int_equal(strlen(out), DML_NAME_MAX_BYTES);
    char small[8];
    dml_name_from_text("abcdef gh", "node", small, sizeof small);
    assert_string_equal(small, "abcdef"); /* no dash left dangling */
    /* Whatever the text, the result is a name. */
    unsigned seed = 7;
    for (int i = 0; i < 2000; i++) {
        char text[80];
        size_t n = (size_t)(rand_r(&seed) % (int)(sizeof text - 1));
        for (size_t k = 0; k < n; k++)
            text[k] = (char)(1 + rand_r(&seed) % 255);
        text[n] = '\0';
        dml_name_from_text(text, "node", out, sizeof out);
        if (!dml_name_valid(out, NULL, 0))
            fail_msg("dml_name_from_text made \"%s\", not a name", out);
    }
}

/* What bash makes of `printf %s WORD`, in out[size]; its length. */
static size_t bash_reads(const char *word, char *out, size_t size)
{
    char dir[] = "/tmp/dml-test-name-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char script[512], result[512], cmd[1200];
    snprintf(script, sizeof script, "%s/s.sh", dir);
    snprintf(result, sizeof result, "%s/out", dir);
    FILE *f = fopen(script, "w");
    assert_non_null(f);
    /* A value that ran a command would leave a file in dir. */
    fprintf(f, "cd '%s' || exit 9\nprintf %%s %s >out\n", dir, word);
    fclose(f);
    snprintf(cmd, sizeof cmd, "bash -n '%s' && bash '%s' && "
             "test \"$(ls '%s' | wc -l)\" -eq 2", script, script, dir);
    int rc = system(cmd);
    size_t n = 0;
    f = fopen(result, "rb");
    if (f) {
        n = fread(out, 1, size - 1, f);
        fclose(f);
    }
    out[n] = '\0';
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0 || rc != 0)
        fail_msg("bash refused or misread the word %s (status %d)", word, rc);
    return n;
}

static void shell_words_read_back_exactly(void **state)
{
    (void)state;
    const char *values[] = {
        "plan.json", "runs/plan-1.json", "", "a b", "it's", "'", "''",
        "$(touch pwned)", "`touch pwned`", "x\ntouch pwned\n#",
        "a;b&c|d>e<f", "*", "~", "#comment", "-x", "\t\r\x1b[31m\x7f",
        "\\'\\\"", "${HOME}", "!event", "caf\xc3\xa9 \xff",
        "a\xc2\x9b" "31m", "\xe2\x82\xac\xf0\x9f\x98\x80 \xed\xa0\x80",
        "'$(touch pwned)'\n'"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char word[512], back[512];
        size_t n = dml_quote_shell(values[i], word, sizeof word);
        assert_true(n < sizeof word);
        assert_int_equal(strlen(word), n);
        /* One line, and nothing a terminal would obey when the script
         * is printed. */
        char shown[2048];
        dml_quote_terminal(word, shown, sizeof shown);
        if (strcmp(shown, word) != 0)
            fail_msg("the word for value %zu holds control bytes: %s", i,
                     shown);
        size_t len = bash_reads(word, back, sizeof back);
        if (len != strlen(values[i]) || memcmp(back, values[i], len) != 0)
            fail_msg("value %zu: bash read %s back as \"%s\"", i, word, back);
    }
    /* Plain words stay as they were; the rest are quoted. */
    char w[64];
    dml_quote_shell("runs/plan.json", w, sizeof w);
    assert_string_equal(w, "runs/plan.json");
    dml_quote_shell("a b", w, sizeof w);
    assert_string_equal(w, "'a b'");
    dml_quote_shell("it's", w, sizeof w);
    assert_string_equal(w, "'it'\\''s'");
    dml_quote_shell("a\nb", w, sizeof w);
    assert_string_equal(w, "'a'$'\\x0a''b'");
    dml_quote_shell("", w, sizeof w);
    assert_string_equal(w, "''");
    /* UTF-8 text stays inside the quotes; a C1 control does not. */
    dml_quote_shell("caf\xc3\xa9 x", w, sizeof w);
    assert_string_equal(w, "'caf\xc3\xa9 x'");
    dml_quote_shell("a\xc2\x9b", w, sizeof w);
    assert_string_equal(w, "'a'$'\\xc2'$'\\x9b'");
    /* Too small: nothing rather than an unclosed quote. */
    char tiny[5];
    assert_int_equal(dml_quote_shell("a b c", tiny, sizeof tiny), 7);
    assert_string_equal(tiny, "");
}

static void terminal_text_has_no_controls(void **state)
{
    (void)state;
    char out[256];
    dml_quote_terminal("gpt-small", out, sizeof out);
    assert_string_equal(out, "gpt-small");
    dml_quote_terminal("a\nb\tc\rd", out, sizeof out);
    assert_string_equal(out, "a\\nb\\tc\\rd");
    dml_quote_terminal("\x1b]0;owned\x07x\x7f", out, sizeof out);
    assert_string_equal(out, "\\x1b]0;owned\\x07x\\x7f");
    /* UTF-8 text passes; C1 controls and broken UTF-8 do not. */
    dml_quote_terminal("caf\xc3\xa9 \xe2\x82\xac", out, sizeof out);
    assert_string_equal(out, "caf\xc3\xa9 \xe2\x82\xac");
    dml_quote_terminal("a\xc2\x9b" "31m", out, sizeof out);
    assert_string_equal(out, "a\\xc2\\x9b31m");
    dml_quote_terminal("\xff\xc3(\xed\xa0\x80", out, sizeof out);
    assert_string_equal(out, "\\xff\\xc3(\\xed\\xa0\\x80");
    /* Cut short before an escape, never inside one. */
    char small[6];
    assert_int_equal(dml_quote_terminal("ab\x1b" "cd", small, sizeof small),
                     8);
    assert_string_equal(small, "ab");
    /* Whatever the input, no byte below 0x20, no 0x7f, no C1. */
    unsigned seed = 11;
    for (int i = 0; i < 2000; i++) {
        char text[64], esc[4 * sizeof text];
        size_t n = (size_t)(rand_r(&seed) % (int)(sizeof text - 1));
        for (size_t k = 0; k < n; k++)
            text[k] = (char)(1 + rand_r(&seed) % 255);
        text[n] = '\0';
        size_t len = dml_quote_terminal(text, esc, sizeof esc);
        assert_int_equal(strlen(esc), len);
        for (size_t k = 0; esc[k]; k++) {
            unsigned char c = (unsigned char)esc[k];
            assert_false(c < 0x20 || c == 0x7f);
            assert_false(c == 0xc2 && (unsigned char)esc[k + 1] >= 0x80 &&
                         (unsigned char)esc[k + 1] <= 0x9f);
        }
    }
}

DML_TEST_MAIN(
    cmocka_unit_test(names_follow_the_rule),
    cmocka_unit_test(names_read_from_json_say_where),
    cmocka_unit_test(fingerprints_are_hex),
    cmocka_unit_test(names_made_from_host_names),
    cmocka_unit_test(shell_words_read_back_exactly),
    cmocka_unit_test(terminal_text_has_no_controls))
