/*
 * jsonkind.h - what a JSON value is, in words, for the loaders' error
 * messages (results.c reads run.json, gate.c a baseline).
 */
#ifndef TB_JSONKIND_H
#define TB_JSONKIND_H

#include <jansson.h>

/* "an object", "an array", "a string", "an integer", "a real number", "a boolean", "null". */
const char *json_kind_name(const json_t *j);

#endif
