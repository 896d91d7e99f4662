/*
 * payload.c - the upgrade payload disk (payload.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "payload.h"
#include "program.h"

/* Put one upgrade's kernel, initrd (if any) and command line into @dir. */
static int payload_files(const char *dir, const char *kernel, const char *initrd,
			 const char *cmdline, struct tb_err *err)
{
	char path[PATH_MAX];
	FILE *f;

	if (mkdir(dir, 0755) != 0)
		return tb_err_set(err, TB_EXIT_ENV, "mkdir %s: %s", dir, strerror(errno));
	snprintf(path, sizeof(path), "%s/kernel", dir);
	if (program_check((char *[]){ "cp", (char *)kernel, path, NULL }, err))
		return -1;
	snprintf(path, sizeof(path), "%s/initrd", dir);
	if (initrd && program_check((char *[]){ "cp", (char *)initrd, path, NULL }, err))
		return -1;
	snprintf(path, sizeof(path), "%s/cmdline", dir);
	f = fopen(path, "w");
	if (!f)
		return tb_err_set(err, TB_EXIT_ENV, "cannot write %s: %s", path, strerror(errno));
	/* Both run: a failed write must not leak the stream. */
	if ((fprintf(f, "%s\n", cmdline) < 0) | (fclose(f) != 0))
		return tb_err_set(err, TB_EXIT_ENV, "cannot write %s", path);
	return 0;
}

int payload_make(const char *workdir, const struct upgrade_spec *up, const char *cmdline,
		 const char *cmdline_next, char *img, size_t len, struct tb_err *err)
{
	char dir[PATH_MAX], next[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/payload", workdir);
	snprintf(img, len, "%s/payload.img", workdir);
	if (payload_files(dir, up->kernel, up->initrd, cmdline, err))
		return -1;
	snprintf(next, sizeof(next), "%s/next", dir);
	if (up->next.kernel &&
	    payload_files(next, up->next.kernel, up->next.initrd, cmdline_next, err))
		return -1;
	/* 256 MiB holds any two kernels + initrds; the file is sparse, so it costs nothing. */
	return program_check((char *[]){ "mkfs.ext4", "-q", "-F", "-L", "tbpayload", "-d", dir,
				       (char *)img, "256M", NULL },
			   err);
}

