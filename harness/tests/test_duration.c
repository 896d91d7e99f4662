/*
 * test_duration.c - a time for people: three significant digits, the
 * unit by magnitude.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "duration.h"

static void test_duration_format(void **state)
{
	static const struct {
		double ns;
		const char *want;
	} cases[] = {
	    {17002569388.0, "17.00 s"},
	    {123.4e9, "123.4 s"},
	    {812.4e6, "812 ms"},
	    {29.26e6, "29.3 ms"},
	    {1e6, "1.0 ms"},
	    {950e3, "950 \xc2\xb5s"},
	    {12, "12 ns"},
	    {-5.83e9, "-5.83 s"},
	};
	char buf[32];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		duration_format(cases[i].ns, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_duration_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
