/*
 * test_markdown.c - text made safe for a Markdown table cell.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "markdown.h"

static void test_cell_escapes_what_would_break_the_table(void **state)
{
	char *s;

	(void)state;
	s = markdown_cell("a|b\nc<d>*e*");
	assert_string_equal(s, "a\\|b c&lt;d>\\*e\\*");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cell_escapes_what_would_break_the_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
