/*
 * atomicfile.c - replace a file whole (atomicfile.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomicfile.h"

int atomic_open(struct atomic_file *af, const char *path, struct tb_err *err)
{
	int fd;

	memset(af, 0, sizeof(*af));
	if (strlen(path) >= sizeof(af->path))
		return tb_err_set(err, TB_EXIT_ENV, "%s: path too long", path);
	snprintf(af->path, sizeof(af->path), "%s", path);
	/* A unique name: two writers of one file never share a temporary. */
	snprintf(af->tmp, sizeof(af->tmp), "%s.tmp.XXXXXX", path);
	fd = mkostemp(af->tmp, O_CLOEXEC);
	if (fd < 0) {
		/* Named by its template: what mkostemp left in af->tmp is no file. */
		af->tmp[0] = '\0';
		return tb_err_set(err, TB_EXIT_ENV, "cannot write %s (create %s.tmp.XXXXXX: %s)", path,
				  path, strerror(errno));
	}
	/* mkstemp makes it 0600; the files it replaces are for everyone to read. */
	fchmod(fd, 0644);
	af->f = fdopen(fd, "w");
	if (!af->f) {
		tb_err_set(err, TB_EXIT_ENV, "cannot write %s: %s", path, strerror(errno));
		close(fd);
		unlink(af->tmp);
		return -1;
	}
	return 0;
}

void atomic_abort(struct atomic_file *af)
{
	if (af->f)
		fclose(af->f);
	af->f = NULL;
	if (af->tmp[0])
		unlink(af->tmp);
	af->tmp[0] = '\0';
}

/* fsync the directory of @path, so that the rename itself survives a power cut. */
static int sync_dir(const char *path)
{
	char dir[PATH_MAX];
	char *slash;
	int fd, rc;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int atomic_commit(struct atomic_file *af, bool failed, struct tb_err *err)
{
	const char *what = "write";

	if (!failed && fflush(af->f) != 0)
		failed = true;
	else if (!failed && fsync(fileno(af->f)) != 0)
		what = "fsync", failed = true;
	/* fclose can still report a deferred write error (NFS): check it. */
	if (fclose(af->f) != 0 && !failed)
		what = "close", failed = true;
	af->f = NULL;
	if (!failed && rename(af->tmp, af->path) != 0)
		what = "rename", failed = true;
	if (failed) {
		int e = errno;

		unlink(af->tmp);
		af->tmp[0] = '\0';
		return tb_err_set(err, TB_EXIT_ENV, "cannot write %s (%s: %s)", af->path, what,
				  strerror(e));
	}
	af->tmp[0] = '\0';
	if (sync_dir(af->path) != 0)
		return tb_err_set(err, TB_EXIT_ENV, "%s: fsync of its directory: %s", af->path,
				  strerror(errno));
	return 0;
}
