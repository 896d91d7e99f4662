/*
 * error.h - error reporting shared by every module.
 *
 * Functions return 0 or a negative errno-style code and fill a struct tb_err
 * whose message the caller can print as is.  The exit code travels with the
 * message so that the subcommand's caller knows what kind of failure it was.
 */
#ifndef TB_ERROR_H
#define TB_ERROR_H

/* Exit codes of every subcommand (DESIGN.md, "Exit codes"). */
enum tb_exit {
	TB_EXIT_OK = 0,
	TB_EXIT_CHECK = 1, /* a check failed or a regression was found */
	TB_EXIT_USAGE = 2, /* bad usage or invalid input file */
	TB_EXIT_ENV = 3,   /* environment problem: package, libvirt, lab */
};

struct tb_err {
	enum tb_exit exit;
	char msg[2048];
};

/* Set the message (printf-style) and the exit code; returns -1 for chaining. */
int tb_err_set(struct tb_err *err, enum tb_exit exit, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefix the existing message with more context ("while X: <old message>"). */
void tb_err_prefix(struct tb_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void tb_err_clear(struct tb_err *err);

#endif
