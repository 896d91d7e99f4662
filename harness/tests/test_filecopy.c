/*
 * test_filecopy.c - file_copy(): a whole file, the part after an offset,
 * and a missing source, which leaves no destination behind.
 *
 * The files are written in a mkdtemp directory, removed afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "filecopy.h"
#include "testlib.h"

static char tmpdir[64];

static int setup(void **state)
{
	(void)state;
	return tl_mkdtemp("/tmp/test_filecopy.XXXXXX", tmpdir, sizeof(tmpdir));
}

static int teardown(void **state)
{
	(void)state;
	return tl_rmtree(tmpdir);
}

static void copy_and_check(off_t offset, const char *want)
{
	char from[128], to[128], *got;
	struct tb_err err;

	snprintf(from, sizeof(from), "%s/from", tmpdir);
	snprintf(to, sizeof(to), "%s/to", tmpdir);
	assert_int_equal(tl_write_file(from, "first run\nsecond run\n"), 0);
	if (file_copy(from, offset, to, &err) != 0)
		fail_msg("%s", err.msg);
	got = tl_read_file(to);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_copies_a_whole_file(void **state)
{
	(void)state;
	copy_and_check(0, "first run\nsecond run\n");
}

static void test_copies_what_follows_the_offset(void **state)
{
	(void)state;
	copy_and_check(10, "second run\n");
}

static void test_missing_source_is_an_error_and_writes_nothing(void **state)
{
	char from[128], to[128], tmp[160];
	struct tb_err err;

	(void)state;
	snprintf(from, sizeof(from), "%s/absent", tmpdir);
	snprintf(to, sizeof(to), "%s/never", tmpdir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", to);
	assert_int_equal(file_copy(from, 0, to, &err), -1);
	assert_int_equal(err.exit, TB_EXIT_ENV);
	assert_non_null(strstr(err.msg, from));
	assert_int_not_equal(access(to, F_OK), 0);
	assert_int_not_equal(access(tmp, F_OK), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copies_a_whole_file),
		cmocka_unit_test(test_copies_what_follows_the_offset),
		cmocka_unit_test(test_missing_source_is_an_error_and_writes_nothing),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
