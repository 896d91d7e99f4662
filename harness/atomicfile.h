/*
 * atomicfile.h - the one way the harness replaces a file: write a
 * temporary file beside it, flush and fsync it, rename it over the old
 * one, fsync the directory.  A reader (or a crash) only ever sees the
 * old file or the whole new one.
 */
#ifndef TB_ATOMICFILE_H
#define TB_ATOMICFILE_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

#include "error.h"

struct atomic_file {
	FILE *f;		   /* write here */
	char path[PATH_MAX];	   /* what it replaces */
	char tmp[PATH_MAX + 16];   /* the temporary file beside it */
};

/*
 * Open a new temporary file beside @path, @path.tmp.XXXXXX; 0, or -1 with
 * @err set (TB_EXIT_ENV), naming both.
 */
int atomic_open(struct atomic_file *af, const char *path, struct tb_err *err);

/*
 * Flush, fsync and close the temporary file and rename it over the path,
 * then fsync the directory.  @failed: the caller's own writes failed, so
 * nothing is replaced.  On any failure the temporary file is removed and
 * -1 returned with @err naming the file (TB_EXIT_ENV).
 */
int atomic_commit(struct atomic_file *af, bool failed, struct tb_err *err);

/* Give up: close and remove the temporary file. */
void atomic_abort(struct atomic_file *af);

#endif
