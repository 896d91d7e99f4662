/*
 * kvline.h - the "name=count name=count ..." lists the guest prints on its
 * console (a twin handoff's steps, a tool's own figures).
 */
#ifndef TB_KVLINE_H
#define TB_KVLINE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parse the blank-separated pairs from @p to the end of the line (or a
 * carriage return): at most @max, each name shorter than @name_size,
 * stored at @names + i * @name_size, each count (a decimal >= 0 that fits
 * 64 bits) in @values[i].  How many, or -1 if one is malformed (no name, a
 * blank in it, a name too long, a count that is none) or there are more
 * than @max.
 */
int kv_parse(const char *p, char *names, size_t name_size, int64_t *values, int max);

#endif
