/*
 * duration.h - a time for people, as the report, its terminal summary and
 * the gate's verdict print it.
 */
#ifndef TB_DURATION_H
#define TB_DURATION_H

#include <stddef.h>

/*
 * @ns as "17.00 s", "123.4 s", "812 ms", "29.3 ms", "950 us" (with the
 * micro sign) or "12 ns": three significant digits, the unit chosen by
 * magnitude (a negative duration keeps its sign).
 */
void duration_format(double ns, char *buf, size_t len);

#endif
