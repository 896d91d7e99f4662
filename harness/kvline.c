/* kvline.c - "name=count" lists from the console (see kvline.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kvline.h"

int kv_parse(const char *p, char *names, size_t name_size, int64_t *values, int max)
{
	int n = 0;

	for (;;) {
		const char *eq;
		size_t name_len;
		char *end;
		long long v;

		while (*p == ' ')
			p++;
		if (!*p || *p == '\r')
			return n;
		eq = strchr(p, '=');
		name_len = eq ? (size_t)(eq - p) : 0;
		if (!name_len || name_len >= name_size || memchr(p, ' ', name_len) || n == max)
			return -1;
		errno = 0;
		v = strtoll(eq + 1, &end, 10);
		if (end == eq + 1 || errno || v < 0 || (*end && *end != ' ' && *end != '\r'))
			return -1;
		memcpy(names + (size_t)n * name_size, p, name_len);
		names[(size_t)n * name_size + name_len] = '\0';
		values[n++] = v;
		p = end;
	}
}
