/* dirtree.c - remove a directory tree (nftw, depth first). */
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

#include "dirtree.h"

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void dirtree_remove(const char *dir)
{
	/* 16 descriptors: deeper trees are walked all the same, only slower. */
	if (dir[0])
		nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
