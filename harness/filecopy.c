/*
 * filecopy.c - copy one file's bytes into another (see filecopy.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "atomicfile.h"
#include "filecopy.h"

int file_copy(const char *from, off_t offset, const char *to, struct tb_err *err)
{
	struct atomic_file af;
	char buf[65536];
	size_t n;
	FILE *in;
	int rc;

	in = fopen(from, "rbe");
	if (!in)
		return tb_err_set(err, TB_EXIT_ENV, "%s: %s", from, strerror(errno));
	if (offset > 0 && fseeko(in, offset, SEEK_SET) != 0) {
		tb_err_set(err, TB_EXIT_ENV, "%s: seek: %s", from, strerror(errno));
		fclose(in);
		return -1;
	}
	if (atomic_open(&af, to, err) != 0) {
		fclose(in);
		return -1;
	}
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, af.f) != n)
			break;
	if (ferror(in)) {
		tb_err_set(err, TB_EXIT_ENV, "%s: read: %s", from, strerror(errno));
		atomic_abort(&af);
		fclose(in);
		return -1;
	}
	rc = atomic_commit(&af, ferror(af.f) != 0, err);
	fclose(in);
	return rc;
}
