/*
 * dirtree.h - whole directory trees: the run's work directory, the lab's.
 */
#ifndef TB_DIRTREE_H
#define TB_DIRTREE_H

/* Remove @dir and everything below it, not following symlinks; "" is a no-op. */
void dirtree_remove(const char *dir);

#endif
