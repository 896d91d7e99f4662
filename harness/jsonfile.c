/*
 * jsonfile.c - a JSON file read whole and parsed (jsonfile.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonfile.h"

/* The first read's buffer; it doubles from there. */
#define FIRST_CHUNK 8192

/* The whole of @f in a malloc'd, NUL-terminated buffer; NULL with @err set. */
static char *read_whole(FILE *f, const char *path, size_t max_bytes, const char *what, size_t *len,
			struct tb_err *err)
{
	size_t cap = 0, n = 0, got;
	char *buf = NULL;

	do {
		if (n + 1 >= cap) {
			char *more;

			cap = cap ? 2 * cap : FIRST_CHUNK;
			more = realloc(buf, cap);
			if (!more) {
				tb_err_set(err, TB_EXIT_ENV, "out of memory");
				goto err;
			}
			buf = more;
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (n > max_bytes) {
			tb_err_set(err, TB_EXIT_USAGE, "%s: too large for %s", path, what);
			goto err;
		}
	} while (got > 0);
	/* A directory opens fine and fails here. */
	if (ferror(f)) {
		tb_err_set(err, TB_EXIT_USAGE, "%s: read error", path);
		goto err;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
err:
	free(buf);
	return NULL;
}

int jsonfile_load(const char *path, size_t max_bytes, const char *what, struct jsonfile *jf,
		  struct tb_err *err)
{
	json_error_t jerr;
	FILE *f;

	memset(jf, 0, sizeof(*jf));
	f = fopen(path, "re");
	if (!f)
		return tb_err_set(err, TB_EXIT_USAGE, "%s: %s", path, strerror(errno));
	jf->text = read_whole(f, path, max_bytes, what, &jf->len, err);
	fclose(f);
	if (!jf->text)
		return -1;
	jf->root = json_loadb(jf->text, jf->len, JSON_REJECT_DUPLICATES, &jerr);
	if (!jf->root) {
		/* jansson has a position for everything it parsed; line -1 is none. */
		if (jerr.line > 0)
			tb_err_set(err, TB_EXIT_USAGE, "%s:%d:%d: %s", path, jerr.line, jerr.column,
				   jerr.text);
		else
			tb_err_set(err, TB_EXIT_USAGE, "%s: %s", path, jerr.text);
		jsonfile_free(jf);
		return -1;
	}
	return 0;
}

void jsonfile_free(struct jsonfile *jf)
{
	json_decref(jf->root);
	free(jf->text);
	memset(jf, 0, sizeof(*jf));
}
