/*
 * testlib.h - helpers the harness's tests share: scratch directories and
 * the files in them, and running build/twinbench from the integration
 * tests.  Linked into every test binary.
 *
 * Functions that can only fail through a broken test environment (spawn,
 * wait, a results directory that is not there) fail the running cmocka
 * test themselves; the others return 0 / -1 or NULL for the test to check.
 */
#ifndef TB_TESTLIB_H
#define TB_TESTLIB_H

#include <stdbool.h>
#include <stddef.h>

/* The binary under test, relative to the repository root `make` runs from. */
#define TL_TWINBENCH "build/twinbench"

/*
 * True if the integration tests can run here: root, build/twinbench and
 * images/rootfs.img.  Otherwise says on stderr what they need.
 */
bool tl_integration_ready(void);

/* Where tl_run_twinbench() sends the program's output when it is given a log. */
enum tl_log {
	TL_LOG_STDERR,	   /* stderr to the log, truncated first; stdout stays the test's */
	TL_LOG_APPEND_ALL, /* stdout and stderr, appended to the log */
};

/*
 * Run build/twinbench with @args (NULL-terminated, without argv[0]) and wait
 * for it; with @log non-NULL its output goes there as @how says.  Returns
 * its exit status, or 128 + the signal that killed it.
 */
int tl_run_twinbench(const char *const *args, const char *log, enum tl_log how);

/*
 * Create a directory from @tmpl (mkdtemp(3): it ends in XXXXXX) and put
 * its name in @dir.  0, or -1 if @size is too small or mkdtemp fails.
 */
int tl_mkdtemp(const char *tmpl, char *dir, size_t size);

/*
 * Remove @dir and everything below it, not following symlinks.  0, or
 * nftw's -1 at the first entry it could not remove: unlike the harness's
 * dirtree_remove(), a teardown that returns it fails when something is left.
 */
int tl_rmtree(const char *dir);

/* "@dir/@rel" in a static buffer, valid for the next 7 calls. */
char *tl_path(const char *dir, const char *rel);

/* mkdir -p "@base/@rel", @base being there: a fake sysfs's directories. */
void tl_mkdirs(const char *base, const char *rel);

/* The whole file at @path, NUL-terminated, to free(); NULL if it cannot be read. */
char *tl_read_file(const char *path);

/* Create or truncate @path and write the string @text into it.  0, or -1. */
int tl_write_file(const char *path, const char *text);

/*
 * The names in @dir but . and .., sorted and separated by spaces ("gate.md
 * junit.xml"), in a static buffer valid until the next call; fails the
 * test if @dir cannot be read.
 */
const char *tl_list_dir(const char *dir);

/* How many times @needle occurs in @hay, not overlapping. */
int tl_count(const char *hay, const char *needle);

/*
 * The one results directory under @base whose name ends in -@scenario,
 * as "@base/NAME" in @out; fails the test if there is none.
 */
void tl_find_result(const char *base, const char *scenario, char *out, size_t len);

/*
 * An integration suite's set-up: tl_integration_ready(), a scratch
 * directory from @tmpl into @dir, and no lab (`twinbench lab down`).
 * 0, or -1 for cmocka to report.
 */
int tl_lab_suite_setup(const char *tmpl, char *dir, size_t size);

/* Processes of the lab: QEMUs of guests ("guest=tb-…") and the lab's daemons. */
int tl_lab_processes(void);

/* Entries of @dir whose names start with @prefix: what runs leave there. */
int tl_dir_entries(const char *dir, const char *prefix);

/* Work directories of runs (/var/tmp/twinbench-PID-XXXXXX) that still exist. */
int tl_work_dirs(void);

/*
 * Nothing of any run or lab is left: no relay socket, no lab (namespace,
 * directory, state), no process.  Fails the test otherwise.
 */
void tl_assert_nothing_left(void);

/*
 * Wait until the file at @path holds @needle, up to @timeout_s seconds;
 * true if it does.  Says on stderr what it waited for when it gives up.
 */
bool tl_wait_for_text(const char *path, const char *needle, int timeout_s);

#endif
