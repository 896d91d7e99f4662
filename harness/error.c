/* error.c - struct tb_err helpers. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

int tb_err_set(struct tb_err *err, enum tb_exit exit, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	err->exit = exit;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

void tb_err_prefix(struct tb_err *err, const char *fmt, ...)
{
	char head[512], old[sizeof(err->msg)];
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	snprintf(err->msg, sizeof(err->msg), "%.400s: %.1600s", head, old);
}

void tb_err_clear(struct tb_err *err)
{
	if (!err)
		return;
	err->exit = TB_EXIT_OK;
	err->msg[0] = '\0';
}
