/*
 * filecopy.c - copy one file's bytes into another (see filecopy.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "filecopy.h"

int file_copy(const char *from, off_t offset, const char *to, struct tb_err *err)
{
	char tmp[4096], buf[65536];
	int in, o = -1;
	ssize_t n;

	snprintf(tmp, sizeof(tmp), "%s.tmp", to);
	in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return tb_err_set(err, TB_EXIT_ENV, "%s: %s", from, strerror(errno));
	if (offset > 0 && lseek(in, offset, SEEK_SET) < 0) {
		tb_err_set(err, TB_EXIT_ENV, "%s: seek: %s", from, strerror(errno));
		goto err;
	}
	o = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (o < 0) {
		tb_err_set(err, TB_EXIT_ENV, "%s: %s", tmp, strerror(errno));
		goto err;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(o, buf, (size_t)n) != n) {
			tb_err_set(err, TB_EXIT_ENV, "%s: write: %s", tmp, strerror(errno));
			goto err;
		}
	if (n < 0) {
		tb_err_set(err, TB_EXIT_ENV, "%s: read: %s", from, strerror(errno));
		goto err;
	}
	if (close(o)) {
		o = -1;
		tb_err_set(err, TB_EXIT_ENV, "%s: close: %s", tmp, strerror(errno));
		goto err;
	}
	o = -1;
	if (rename(tmp, to)) {
		tb_err_set(err, TB_EXIT_ENV, "rename %s to %s: %s", tmp, to, strerror(errno));
		goto err;
	}
	close(in);
	return 0;
err:
	if (o >= 0)
		close(o);
	unlink(tmp);
	close(in);
	return -1;
}
