/*
 * monotime.h - the harness's one clock.
 *
 * Every timestamp inside twinbench is int64_t nanoseconds of the host's
 * CLOCK_MONOTONIC; conversion happens only at output.
 */
#ifndef TB_MONOTIME_H
#define TB_MONOTIME_H

#include <stdint.h>

#define NS_PER_US 1000LL
#define NS_PER_MS 1000000LL
#define NS_PER_S  1000000000LL

int64_t monotime_now(void);

/* Sleep until the absolute CLOCK_MONOTONIC time @t_ns (restarts on EINTR). */
void monotime_sleep_until(int64_t t_ns);

/* Fill a struct timespec for pthread_cond_timedwait on a CLOCK_MONOTONIC condvar. */
struct timespec monotime_timespec(int64_t t_ns);

#endif
