/* monotime.c - CLOCK_MONOTONIC in nanoseconds. */
#include <errno.h>
#include <time.h>

#include "monotime.h"

int64_t monotime_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

struct timespec monotime_timespec(int64_t t_ns)
{
	struct timespec ts = { .tv_sec = t_ns / NS_PER_S, .tv_nsec = t_ns % NS_PER_S };

	return ts;
}

void monotime_sleep_until(int64_t t_ns)
{
	struct timespec ts = monotime_timespec(t_ns);

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}
