/*
 * markdown.h - text made safe for a Markdown table: report.md's tables
 * and gate.md's verdict.
 */
#ifndef TB_MARKDOWN_H
#define TB_MARKDOWN_H

/*
 * @s as one Markdown table cell: | \ ` * _ escaped with a backslash, < as
 * &lt; (no HTML gets through), newlines and tabs as spaces.  A malloc'd
 * string, or NULL when out of memory.
 */
char *markdown_cell(const char *s);

#endif
