/*
 * jsonfile.h - the one way the harness reads a JSON file (run.json, a
 * baseline): the whole file, up to a size, parsed with duplicate keys
 * refused.  The text is kept beside the document, because jansson keeps
 * no positions for values and a loader that names FILE:LINE:COLUMN for
 * a wrong value has to find it there (gate.c does).
 *
 * What a value is, in words, for the loaders' messages: jsonkind.h.
 */
#ifndef TB_JSONFILE_H
#define TB_JSONFILE_H

#include <stddef.h>

#include <jansson.h>

#include "error.h"

struct jsonfile {
	json_t *root; /* the document: an object or an array */
	char *text;   /* the file's bytes, NUL-terminated */
	size_t len;   /* of @text, without the NUL */
};

/*
 * Read @path whole and parse it.  Every error is TB_EXIT_USAGE (but out
 * of memory, TB_EXIT_ENV) with a message naming the file: "PATH: <why it
 * cannot be opened>", "PATH: too large for @what" beyond @max_bytes
 * (@what: "a baseline"), "PATH: read error", and for invalid JSON or a
 * duplicate key "PATH:LINE:COLUMN: <jansson's message>".  0, or -1 with
 * @jf empty.
 */
int jsonfile_load(const char *path, size_t max_bytes, const char *what, struct jsonfile *jf,
		  struct tb_err *err);

void jsonfile_free(struct jsonfile *jf);

#endif
