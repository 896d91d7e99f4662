/*
 * duration.c - a time for people (duration.h).
 */
#include <math.h>
#include <stdio.h>

#include "duration.h"
#include "monotime.h"

void duration_format(double ns, char *buf, size_t len)
{
	double a = fabs(ns);

	if (a >= 100 * NS_PER_S)
		snprintf(buf, len, "%.1f s", ns / NS_PER_S);
	else if (a >= NS_PER_S)
		snprintf(buf, len, "%.2f s", ns / NS_PER_S);
	else if (a >= 100 * NS_PER_MS)
		snprintf(buf, len, "%.0f ms", ns / NS_PER_MS);
	else if (a >= NS_PER_MS)
		snprintf(buf, len, "%.1f ms", ns / NS_PER_MS);
	else if (a >= NS_PER_US)
		snprintf(buf, len, "%.0f \xc2\xb5s", ns / NS_PER_US);
	else
		snprintf(buf, len, "%.0f ns", ns);
}
