/*
 * test_atomicfile.c - a file is replaced whole or not at all, and no
 * temporary file stays behind either way.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atomicfile.h"
#include "testlib.h"

static char tmpdir[256];

static int setup(void **state)
{
	(void)state;
	return tl_mkdtemp("/tmp/tb-atomic-XXXXXX", tmpdir, sizeof(tmpdir));
}

static int teardown(void **state)
{
	(void)state;
	return tl_rmtree(tmpdir);
}

/* Files in the scratch directory. */
static int entries(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d)))
		n += de->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void test_commit_replaces_the_file_and_leaves_no_temporary(void **state)
{
	char *path = tl_path(tmpdir, "run.json"), *text;
	struct atomic_file af;
	struct tb_err err;
	struct stat st;

	(void)state;
	assert_int_equal(tl_write_file(path, "old\n"), 0);
	assert_int_equal(atomic_open(&af, path, &err), 0);
	fputs("new\n", af.f);
	/* Until the commit, readers see the old file. */
	text = tl_read_file(path);
	assert_string_equal(text, "old\n");
	free(text);
	assert_int_equal(atomic_commit(&af, false, &err), 0);
	text = tl_read_file(path);
	assert_string_equal(text, "new\n");
	free(text);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(entries(), 1);
}

static void test_failed_writes_or_abort_keep_the_old_file(void **state)
{
	char *path = tl_path(tmpdir, "report.md"), *text;
	struct atomic_file af;
	struct tb_err err;

	(void)state;
	assert_int_equal(tl_write_file(path, "kept\n"), 0);
	assert_int_equal(atomic_open(&af, path, &err), 0);
	fputs("half", af.f);
	assert_int_equal(atomic_commit(&af, true, &err), -1);
	assert_int_equal(err.exit, TB_EXIT_ENV);
	assert_non_null(strstr(err.msg, "report.md"));
	assert_int_equal(atomic_open(&af, path, &err), 0);
	fputs("half", af.f);
	atomic_abort(&af);
	text = tl_read_file(path);
	assert_string_equal(text, "kept\n");
	free(text);
	/* Only report.md and run.json from the test before: no temporary left. */
	assert_int_equal(entries(), 2);
}

static void test_open_in_a_missing_directory_names_the_file(void **state)
{
	struct atomic_file af;
	struct tb_err err;

	(void)state;
	assert_int_equal(atomic_open(&af, tl_path(tmpdir, "no/such/file"), &err), -1);
	assert_int_equal(err.exit, TB_EXIT_ENV);
	assert_non_null(strstr(err.msg, "no/such/file"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commit_replaces_the_file_and_leaves_no_temporary),
		cmocka_unit_test(test_failed_writes_or_abort_keep_the_old_file),
		cmocka_unit_test(test_open_in_a_missing_directory_names_the_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
