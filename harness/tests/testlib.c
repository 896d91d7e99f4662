/*
 * testlib.c - helpers the harness's tests share (see testlib.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lab.h"
#include "monotime.h"
#include "testlib.h"

extern char **environ;

bool tl_integration_ready(void)
{
	struct stat st;

	if (geteuid() != 0 || stat("images/rootfs.img", &st) != 0 || stat(TL_TWINBENCH, &st) != 0) {
		fprintf(stderr, "integration tests need root, 'make' and 'make image'\n");
		return false;
	}
	return true;
}

int tl_run_twinbench(const char *const *args, const char *log, enum tl_log how)
{
	/* 30 arguments are more than any test passes; the rest would be dropped. */
	char *argv[32] = {TL_TWINBENCH};
	posix_spawn_file_actions_t fa;
	int status, n = 1;
	pid_t pid;

	for (; args[n - 1] && n < 31; n++)
		argv[n] = (char *)args[n - 1];
	argv[n] = NULL;
	posix_spawn_file_actions_init(&fa);
	if (log && how == TL_LOG_STDERR) {
		posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	} else if (log) {
		posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		posix_spawn_file_actions_adddup2(&fa, 1, 2);
	}
	assert_int_equal(posix_spawn(&pid, TL_TWINBENCH, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int tl_mkdtemp(const char *tmpl, char *dir, size_t size)
{
	if (strlen(tmpl) >= size)
		return -1;
	strcpy(dir, tmpl);
	return mkdtemp(dir) ? 0 : -1;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int tl_rmtree(const char *dir)
{
	/* 16 descriptors: deeper trees are walked all the same, only slower. */
	return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

char *tl_path(const char *dir, const char *rel)
{
	/* 8 paths alive at once: enough for the argv of any command a test runs. */
	static char ring[8][PATH_MAX];
	static int next;
	char *p = ring[next++ % 8];

	snprintf(p, PATH_MAX, "%s/%s", dir, rel);
	return p;
}

void tl_mkdirs(const char *base, const char *rel)
{
	char path[PATH_MAX], *p;

	snprintf(path, sizeof(path), "%s/%s", base, rel);
	for (p = path + strlen(base) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	mkdir(path, 0755);
}

char *tl_read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	size_t len = 0, cap = 4096;
	char *buf, *bigger;

	if (!f)
		return NULL;
	buf = malloc(cap);
	/* Read to EOF rather than trust the size: logs grow while a run writes them. */
	while (buf) {
		len += fread(buf + len, 1, cap - len - 1, f);
		if (len < cap - 1)
			break;
		cap *= 2;
		bigger = realloc(buf, cap);
		if (!bigger)
			free(buf);
		buf = bigger;
	}
	if (buf && ferror(f)) {
		free(buf);
		buf = NULL;
	}
	if (buf)
		buf[len] = '\0';
	fclose(f);
	return buf;
}

int tl_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	if (fputs(text, f) < 0) {
		fclose(f);
		return -1;
	}
	return fclose(f) ? -1 : 0;
}

/* scandir(3) filter: every entry but . and .. */
static int not_dots(const struct dirent *de)
{
	return strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
}

const char *tl_list_dir(const char *dir)
{
	static char buf[4096];
	struct dirent **names;
	size_t used = 0;
	int n;

	n = scandir(dir, &names, not_dots, alphasort);
	assert_true(n >= 0);
	buf[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (used < sizeof(buf))
			used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s%s",
						 i ? " " : "", names[i]->d_name);
		free(names[i]);
	}
	free(names);
	return buf;
}

int tl_count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

void tl_find_result(const char *base, const char *scenario, char *out, size_t len)
{
	DIR *d = opendir(base);
	struct dirent *de;
	size_t sl = strlen(scenario);

	out[0] = '\0';
	assert_non_null(d);
	while ((de = readdir(d))) {
		size_t nl = strlen(de->d_name);

		if (nl > sl + 1 && !strcmp(de->d_name + nl - sl, scenario) &&
		    de->d_name[nl - sl - 1] == '-')
			snprintf(out, len, "%s/%s", base, de->d_name);
	}
	closedir(d);
	assert_true(out[0] != '\0');
}

int tl_lab_suite_setup(const char *tmpl, char *dir, size_t size)
{
	const char *down[] = { "lab", "down", NULL };

	if (!tl_integration_ready() || tl_mkdtemp(tmpl, dir, size))
		return -1;
	/* Start from no lab at all, so that the runs must make (and remove) their own. */
	return tl_run_twinbench(down, NULL, TL_LOG_STDERR) == 0 ? 0 : -1;
}

int tl_lab_processes(void)
{
	DIR *proc = opendir("/proc");
	struct dirent *de;
	int n = 0;

	while (proc && (de = readdir(proc))) {
		char cmd[4096];

		if (atoi(de->d_name) > 0 &&
		    lab_process_cmdline(atoi(de->d_name), cmd, sizeof(cmd)) == 0 &&
		    (strstr(cmd, "guest=tb-") || strstr(cmd, LAB_DIR)))
			n++;
	}
	if (proc)
		closedir(proc);
	return n;
}

int tl_dir_entries(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d)))
		n += !strncmp(de->d_name, prefix, strlen(prefix));
	if (d)
		closedir(d);
	return n;
}

int tl_work_dirs(void)
{
	return tl_dir_entries("/var/tmp", "twinbench-");
}

void tl_assert_nothing_left(void)
{
	struct stat st;

	/* Console relay sockets of runs (CONSOLE_RELAY_DIR/tb-PID-NAME-a.sock). */
	assert_int_equal(tl_dir_entries(CONSOLE_RELAY_DIR, "tb-"), 0);
	assert_int_equal(lab_state(), LAB_ABSENT);
	assert_int_not_equal(stat("/run/netns/" LAB_NETNS, &st), 0);
	assert_int_not_equal(stat(LAB_DIR, &st), 0);
	assert_int_equal(tl_lab_processes(), 0);
}

bool tl_wait_for_text(const char *path, const char *needle, int timeout_s)
{
	int64_t deadline = monotime_now() + (int64_t)timeout_s * NS_PER_S;

	for (;;) {
		char *text = tl_read_file(path);
		bool found = text && strstr(text, needle);

		free(text);
		if (found)
			return true;
		if (monotime_now() >= deadline) {
			fprintf(stderr, "gave up after %d s waiting for '%s' in %s\n", timeout_s,
				needle, path);
			return false;
		}
		monotime_sleep_until(monotime_now() + 50 * NS_PER_MS);
	}
}
