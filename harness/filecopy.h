/*
 * filecopy.h - copy one file's bytes into another, whole or from an offset.
 */
#ifndef TB_FILECOPY_H
#define TB_FILECOPY_H

#include <sys/types.h>

#include "error.h"

/*
 * Copy @from, from byte @offset on, to @to: through a temporary file and a rename
 * (atomicfile.h), so @to is either absent or whole.  An error is TB_EXIT_ENV naming the file.
 */
int file_copy(const char *from, off_t offset, const char *to, struct tb_err *err);

#endif
