/*
 * markdown.c - text made safe for a Markdown table (markdown.h).
 */
#include <stdlib.h>
#include <string.h>

#include "markdown.h"

char *markdown_cell(const char *s)
{
	size_t len = strlen(s), i, o = 0;
	/* No byte becomes more than four ("&lt;"). */
	char *q = malloc(5 * len + 1);

	if (!q)
		return NULL;
	for (i = 0; i < len; i++) {
		if (s[i] == '|' || s[i] == '\\' || s[i] == '`' || s[i] == '*' || s[i] == '_') {
			q[o++] = '\\';
			q[o++] = s[i];
		} else if (s[i] == '<') {
			memcpy(q + o, "&lt;", 4);
			o += 4;
		} else if (s[i] == '\n' || s[i] == '\r' || s[i] == '\t') {
			q[o++] = ' ';
		} else {
			q[o++] = s[i];
		}
	}
	q[o] = '\0';
	return q;
}
