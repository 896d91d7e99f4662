/*
 * program.h - run a program with an argv array (never a shell) and capture
 * what it prints, for the few external tools the harness drives (ip,
 * qemu-img, mkfs.ext4, qemu --version).
 */
#ifndef TB_PROGRAM_H
#define TB_PROGRAM_H

#include <stddef.h>

#include "error.h"

/*
 * Run argv[0] (searched in PATH) with stdin from /dev/null, stdout and stderr
 * captured into @out (NUL-terminated, truncated to @outlen; may be NULL).
 * Returns the exit status (0..255), or -1 with @err set when it could not
 * run or died from a signal.
 */
int program_run(char *const argv[], char *out, size_t outlen, struct tb_err *err);

/* Like program_run, but a non-zero exit is an error naming the command and its output. */
int program_check(char *const argv[], struct tb_err *err);

#endif
