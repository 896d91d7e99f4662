/*
 * test_jsonfile.c - a JSON file read whole: its text kept beside the
 * document, and every way it can fail naming the file (and, for bad JSON,
 * the line and column) with exit 2.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jsonfile.h"
#include "testlib.h"

static char tmpdir[64];

static int setup(void **state)
{
	(void)state;
	return tl_mkdtemp("/tmp/test_jsonfile.XXXXXX", tmpdir, sizeof(tmpdir));
}

static int teardown(void **state)
{
	(void)state;
	return tl_rmtree(tmpdir);
}

/* Load @path (at most @max bytes), expecting failure with a message starting "@path@rest". */
static void assert_load_fails(const char *path, size_t max, const char *rest)
{
	struct jsonfile jf;
	struct tb_err err = {0};
	char want[512];

	assert_int_equal(jsonfile_load(path, max, "a test file", &jf, &err), -1);
	assert_int_equal(err.exit, TB_EXIT_USAGE);
	assert_null(jf.root);
	assert_null(jf.text);
	snprintf(want, sizeof(want), "%s%s", path, rest);
	if (strncmp(err.msg, want, strlen(want)))
		fail_msg("\"%s\" does not start with \"%s\"", err.msg, want);
}

static void test_load_keeps_the_text_beside_the_document(void **state)
{
	static const char text[] = "{\n  \"scenario\": { \"name\": \"kexec\" }\n}\n";
	char *path = tl_path(tmpdir, "run.json");
	struct jsonfile jf;
	struct tb_err err;

	(void)state;
	assert_int_equal(tl_write_file(path, text), 0);
	/* Exactly the limit still loads. */
	if (jsonfile_load(path, strlen(text), "a test file", &jf, &err))
		fail_msg("%s", err.msg);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(jf.root, "scenario"), "name")),
	    "kexec");
	assert_int_equal(jf.len, strlen(text));
	assert_string_equal(jf.text, text);
	jsonfile_free(&jf);
	assert_null(jf.root);
	assert_null(jf.text);
}

static void test_bad_json_names_line_and_column(void **state)
{
	char *path = strdup(tl_path(tmpdir, "bad.json"));

	(void)state;
	assert_int_equal(tl_write_file(path, "{\n  \"started\": ,\n}\n"), 0);
	assert_load_fails(path, 1024, ":2:14: ");
	free(path);
}

static void test_duplicate_key_is_refused(void **state)
{
	char *path = strdup(tl_path(tmpdir, "dup.json"));
	struct jsonfile jf;
	struct tb_err err;

	(void)state;
	assert_int_equal(tl_write_file(path, "{\"a\": 1,\n \"a\": 2}\n"), 0);
	assert_load_fails(path, 1024, ":2:");
	assert_int_equal(jsonfile_load(path, 1024, "a test file", &jf, &err), -1);
	assert_non_null(strstr(err.msg, "duplicate object key"));
	free(path);
}

static void test_missing_file_names_it(void **state)
{
	(void)state;
	assert_load_fails(tl_path(tmpdir, "absent.json"), 1024, ": No such file or directory");
}

static void test_file_over_the_limit_is_refused(void **state)
{
	char *path = strdup(tl_path(tmpdir, "big.json"));

	(void)state;
	assert_int_equal(tl_write_file(path, "[1, 2, 3, 4, 5, 6, 7, 8]"), 0);
	assert_load_fails(path, 23, ": too large for a test file");
	free(path);
}

static void test_directory_is_a_read_error(void **state)
{
	(void)state;
	assert_load_fails(tmpdir, 1024, ": read error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_load_keeps_the_text_beside_the_document),
	    cmocka_unit_test(test_bad_json_names_line_and_column),
	    cmocka_unit_test(test_duplicate_key_is_refused),
	    cmocka_unit_test(test_missing_file_names_it),
	    cmocka_unit_test(test_file_over_the_limit_is_refused),
	    cmocka_unit_test(test_directory_is_a_read_error),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
