/*
 * probe.c - UDP prober thread and the downtime/verification math.
 *
 * One thread both sends and receives: it sleeps in poll() on the socket and
 * on a timerfd armed for the next send's absolute deadline (start + n *
 * interval, probe_next_deadline()), so a reply is stamped as soon as the
 * kernel hands it over and sends stay on the interval grid.  A poll()
 * timeout would not do: it is relative, in whole milliseconds, and stretched
 * by the thread's timer slack, so each sleep ended a little late, the
 * lateness added up, and a 1 ms probe sent every 1.16 ms.  When the thread
 * falls behind (a stalled host), it skips the missed slots instead of
 * bursting: a burst would fake many replies right after a gap.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "monotime.h"
#include "probe.h"
#include "stats.h"

/*
 * How often the CSV is handed to the kernel: a crash of the harness keeps all
 * but the last half second.  The fsync waits for probe_stop(): a disk flush
 * inside this loop would stall sends and stretch the very gaps we measure.
 */
#define CSV_FLUSH_NS (500 * NS_PER_MS)

struct probe {
	int fd;
	int rep;
	int64_t interval_ns;
	FILE *csv;
	pthread_t thread;
	int stop_pipe[2];
	int timer_fd; /* expires at the next send's deadline */
	bool running;
	int64_t stopped_ns; /* when the thread stopped sending: the trace's end */

	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct probe_record *rec; /* indexed by seq */
	size_t nrec, cap;
	int64_t last_reply_ns;
};

int probe_parse_reply(const char *buf, size_t len, struct probe_record *rec)
{
	/* One byte more than the record holds, so that an over-long field is seen. */
	char copy[256], release[sizeof(rec->release) + 1], boot_id[sizeof(rec->boot_id) + 1];
	unsigned long long seq, counter;
	int end = -1;

	if (len >= sizeof(copy) || len < 4 || memcmp(buf, "TB1 ", 4) != 0)
		return -1;
	memcpy(copy, buf, len);
	copy[len] = '\0';
	if (sscanf(copy + 4, "%llu %llu %65s %40s %n", &seq, &counter, release, boot_id, &end) != 4 ||
	    end < 0 || copy[4 + end] != '\0' || strlen(release) >= sizeof(rec->release) ||
	    strlen(boot_id) >= sizeof(rec->boot_id))
		return -1;
	rec->seq = seq;
	rec->counter = counter;
	memcpy(rec->release, release, strlen(release) + 1);
	memcpy(rec->boot_id, boot_id, strlen(boot_id) + 1);
	return 0;
}

static void csv_send(struct probe *p, uint64_t seq, int64_t t)
{
	fprintf(p->csv, "send,%d,%" PRIu64 ",%" PRId64 ",,,\n", p->rep, seq, t);
}

static void csv_recv(struct probe *p, const struct probe_record *r)
{
	fprintf(p->csv, "recv,%d,%" PRIu64 ",%" PRId64 ",%" PRIu64 ",%s,%s\n", p->rep, r->seq,
		r->t_recv_ns, r->counter, r->release, r->boot_id);
}

static void probe_send(struct probe *p, int64_t now)
{
	char buf[64];
	uint64_t seq;
	int len;

	pthread_mutex_lock(&p->lock);
	if (p->nrec == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 4096;
		struct probe_record *r = realloc(p->rec, cap * sizeof(*r));

		if (!r) {
			pthread_mutex_unlock(&p->lock);
			return;
		}
		p->rec = r;
		p->cap = cap;
	}
	seq = p->nrec++;
	memset(&p->rec[seq], 0, sizeof(p->rec[seq]));
	p->rec[seq].seq = seq;
	p->rec[seq].t_send_ns = now;
	pthread_mutex_unlock(&p->lock);

	len = snprintf(buf, sizeof(buf), "TB1 %" PRIu64, seq);
	/* Errors (ECONNREFUSED while the agent is down) are part of the measurement. */
	(void)send(p->fd, buf, (size_t)len, MSG_DONTWAIT);
	csv_send(p, seq, now);
}

/* SCHED_FIFO priority of the probe thread: above every ordinary thread, low among real-time ones. */
#define PROBE_RT_PRIORITY 10

/* Nanoseconds of @clock. */
static int64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/*
 * CLOCK_REALTIME @real_ns on CLOCK_MONOTONIC.  The offset between the two
 * clocks is read with the monotonic read bracketed by two realtime reads,
 * the tightest of three tries kept: a thread preempted between two reads
 * would otherwise shift every stamp by as long as it waited.
 */
static int64_t realtime_to_monotonic(int64_t real_ns)
{
	int64_t best_width = INT64_MAX, offset = 0;

	for (int i = 0; i < 3; i++) {
		int64_t r1 = clock_ns(CLOCK_REALTIME), m = clock_ns(CLOCK_MONOTONIC);
		int64_t r2 = clock_ns(CLOCK_REALTIME);

		if (r2 - r1 < best_width) {
			best_width = r2 - r1;
			offset = m - (r1 + (r2 - r1) / 2);
		}
	}
	return real_ns + offset;
}

/*
 * When the reply reached this host: the kernel's receive stamp
 * (SO_TIMESTAMPNS, CLOCK_REALTIME) moved onto CLOCK_MONOTONIC, else @now.
 * A probe thread that the host scheduled late must not make the service
 * look late: the kernel stamps the packet as a packet capture does.
 */
static int64_t received_at(struct msghdr *msg, int64_t now)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
		struct timespec ts;
		int64_t t;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_TIMESTAMPNS)
			continue;
		memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
		t = realtime_to_monotonic((int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec);
		return t <= now ? t : now;
	}
	return now;
}

static void probe_receive(struct probe *p)
{
	char buf[256];
	union {
		char buf[CMSG_SPACE(sizeof(struct timespec))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	for (;;) {
		struct probe_record r = { 0 };
		int64_t now;

		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		n = recvmsg(p->fd, &msg, MSG_DONTWAIT);
		if (n < 0 && errno != ECONNREFUSED)
			break;
		now = monotime_now();
		if (n < 0 || probe_parse_reply(buf, (size_t)n, &r) != 0)
			continue;
		r.t_recv_ns = received_at(&msg, now);
		pthread_mutex_lock(&p->lock);
		if (r.seq < p->nrec && p->rec[r.seq].t_recv_ns == 0) {
			r.t_send_ns = p->rec[r.seq].t_send_ns;
			p->rec[r.seq] = r;
			if (r.t_recv_ns > p->last_reply_ns)
				p->last_reply_ns = r.t_recv_ns;
			pthread_cond_broadcast(&p->changed);
		} else {
			r.t_recv_ns = 0; /* a duplicate or a stranger: not part of the trace */
		}
		pthread_mutex_unlock(&p->lock);
		if (r.t_recv_ns)
			csv_recv(p, &r);
	}
}

/*
 * Falling behind by more than one interval (a host stall) skips slots rather
 * than sending them in a burst once the thread runs again.  The skipped slots
 * are simply never sent: no record, no seq.  That is honest because every
 * request is stamped when it really left, so the stall stays in the trace as
 * one long send spacing, and the achieved interval (probe_send_interval())
 * is recorded beside the one asked for; the downtime's resolution is the
 * achieved interval, not the nominal one.
 */
int64_t probe_next_deadline(int64_t start_ns, int64_t interval_ns, int64_t now_ns, uint64_t *n)
{
	uint64_t next = *n + 1;

	/* Due at or before now: the first slot after now is (now - start) / interval + 1. */
	if (start_ns + (int64_t)next * interval_ns <= now_ns)
		next = (uint64_t)((now_ns - start_ns) / interval_ns) + 1;
	*n = next;
	return start_ns + (int64_t)next * interval_ns;
}

/* Arm @fd to expire once, at the absolute CLOCK_MONOTONIC time @t_ns. */
static void timer_arm(int fd, int64_t t_ns)
{
	struct itimerspec its = {.it_value = monotime_timespec(t_ns)};

	/* Only a bad time or a bad fd can make it fail: a bug, and a probe that never sends. */
	if (timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
		abort();
}

static void *probe_thread(void *arg)
{
	struct probe *p = arg;
	int64_t start = monotime_now(), next = start, next_flush = start + CSV_FLUSH_NS;
	uint64_t slot = 0, expirations;
	struct pollfd pfd[3] = {
	    {.fd = p->fd, .events = POLLIN},
	    {.fd = p->stop_pipe[0], .events = POLLIN},
	    {.fd = p->timer_fd, .events = POLLIN},
	};

	for (;;) {
		int64_t now = monotime_now();

		if (now >= next) {
			probe_send(p, now);
			next = probe_next_deadline(start, p->interval_ns, now, &slot);
			timer_arm(p->timer_fd, next);
		}
		if (now >= next_flush) {
			fflush(p->csv);
			next_flush = now + CSV_FLUSH_NS;
		}
		if (poll(pfd, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		/* Only the clock decides a send; the read just clears the expiry. */
		if (pfd[2].revents)
			(void)!read(p->timer_fd, &expirations, sizeof(expirations));
		if (pfd[0].revents)
			probe_receive(p);
	}
	/* Nothing is sent from now on; read by probe_stop() once joined. */
	p->stopped_ns = monotime_now();
	return NULL;
}

struct probe *probe_start(int fd, int64_t interval_ns, const char *csv_path, int rep,
			  struct tb_err *err)
{
	struct probe *p = calloc(1, sizeof(*p));
	pthread_condattr_t attr;

	if (!p) {
		tb_err_set(err, TB_EXIT_ENV, "probe: out of memory");
		close(fd);
		return NULL;
	}
	p->fd = fd;
	p->rep = rep;
	/* Kernel receive stamps; without them (an old kernel) replies are stamped on arrival. */
	(void)setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &(int){ 1 }, sizeof(int));
	p->interval_ns = interval_ns;
	p->stop_pipe[0] = p->stop_pipe[1] = -1;
	p->timer_fd = -1;
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&p->changed, &attr);
	pthread_condattr_destroy(&attr);

	if (interval_ns <= 0) {
		tb_err_set(err, TB_EXIT_USAGE, "probe: interval %" PRId64 " ns is not > 0",
			   interval_ns);
		goto err;
	}
	p->csv = fopen(csv_path, "a");
	if (!p->csv) {
		tb_err_set(err, TB_EXIT_ENV, "probe: cannot open %s: %s", csv_path,
			   strerror(errno));
		goto err;
	}
	if (ftell(p->csv) == 0)
		fprintf(p->csv, "event,rep,seq,t_ns,counter,release,boot_id\n");
	if (pipe(p->stop_pipe) != 0) {
		tb_err_set(err, TB_EXIT_ENV, "probe: pipe: %s", strerror(errno));
		goto err;
	}
	p->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (p->timer_fd < 0) {
		tb_err_set(err, TB_EXIT_ENV, "probe: timerfd: %s", strerror(errno));
		goto err;
	}
	if (pthread_create(&p->thread, NULL, probe_thread, p) != 0) {
		tb_err_set(err, TB_EXIT_ENV, "probe: cannot start thread");
		goto err;
	}
	/*
	 * The guest's vCPU threads keep every core busy under TCG: a probe
	 * thread of ordinary priority waits behind them for its deadlines.
	 * A real-time thread that sleeps between sends takes next to nothing
	 * from them.  Without the privilege (not root) it stays ordinary, and
	 * the achieved interval in run.json shows what that cost.
	 */
	(void)pthread_setschedparam(p->thread, SCHED_FIFO,
				    &(struct sched_param){ .sched_priority = PROBE_RT_PRIORITY });
	p->running = true;
	return p;
err:
	probe_free(p);
	return NULL;
}

int64_t probe_stop(struct probe *p)
{
	if (!p)
		return 0;
	if (!p->running)
		return p->stopped_ns;
	(void)!write(p->stop_pipe[1], "x", 1);
	pthread_join(p->thread, NULL);
	p->running = false;
	fflush(p->csv);
	fsync(fileno(p->csv));
	return p->stopped_ns;
}

void probe_free(struct probe *p)
{
	if (!p)
		return;
	probe_stop(p);
	if (p->csv)
		fclose(p->csv);
	if (p->fd >= 0)
		close(p->fd);
	if (p->timer_fd >= 0)
		close(p->timer_fd);
	for (int i = 0; i < 2; i++)
		if (p->stop_pipe[i] >= 0)
			close(p->stop_pipe[i]);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->changed);
	free(p->rec);
	free(p);
}

int probe_wait_reply(struct probe *p, int64_t after_ns, int64_t deadline_ns,
		     struct probe_record *out)
{
	int rc = 0;

	pthread_mutex_lock(&p->lock);
	while (p->last_reply_ns <= after_ns) {
		struct timespec ts = monotime_timespec(deadline_ns);

		if (pthread_cond_timedwait(&p->changed, &p->lock, &ts) == ETIMEDOUT &&
		    p->last_reply_ns <= after_ns) {
			rc = -ETIMEDOUT;
			break;
		}
	}
	if (rc == 0 && out) {
		for (size_t i = p->nrec; i-- > 0;) {
			if (p->rec[i].t_recv_ns == p->last_reply_ns) {
				*out = p->rec[i];
				break;
			}
		}
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

int probe_wait_silence(struct probe *p, int64_t quiet_ns, int64_t deadline_ns)
{
	for (;;) {
		int64_t now = monotime_now(), last;

		pthread_mutex_lock(&p->lock);
		last = p->last_reply_ns;
		pthread_mutex_unlock(&p->lock);
		if (now - last >= quiet_ns)
			return 0;
		if (now >= deadline_ns)
			return -ETIMEDOUT;
		/* Silence cannot be signalled; look again when it could first have held. */
		monotime_sleep_until(last + quiet_ns < deadline_ns ? last + quiet_ns : deadline_ns);
	}
}

struct probe_record *probe_snapshot(struct probe *p, size_t *n)
{
	struct probe_record *copy;

	pthread_mutex_lock(&p->lock);
	copy = malloc((p->nrec ? p->nrec : 1) * sizeof(*copy));
	*n = copy ? p->nrec : 0;
	if (copy && p->nrec)
		memcpy(copy, p->rec, p->nrec * sizeof(*copy));
	pthread_mutex_unlock(&p->lock);
	return copy;
}

int probe_send_interval(const struct probe_record *r, size_t n, int64_t from_ns, int64_t to_ns,
			int64_t *median_ns, int64_t *p99_ns)
{
	struct stats_summary s;
	size_t nd = 0, prev = SIZE_MAX;
	double *d;
	int rc;

	*median_ns = *p99_ns = 0;
	d = malloc((n ? n : 1) * sizeof(*d));
	if (!d)
		return -ENOMEM;
	/* Sends are in seq order, so those inside the window are one run of the trace. */
	for (size_t i = 0; i < n; i++) {
		if (r[i].t_send_ns < from_ns || r[i].t_send_ns > to_ns)
			continue;
		if (prev != SIZE_MAX)
			d[nd++] = (double)(r[i].t_send_ns - r[prev].t_send_ns);
		prev = i;
	}
	rc = nd ? stats_summarise(d, nd, &s) : -ENOENT;
	if (rc == 0) {
		*median_ns = llround(s.median);
		*p99_ns = llround(s.p99);
	}
	free(d);
	return rc;
}

static int by_recv_time(const void *a, const void *b)
{
	const struct probe_record *x = *(struct probe_record *const *)a;
	const struct probe_record *y = *(struct probe_record *const *)b;

	return (x->t_recv_ns > y->t_recv_ns) - (x->t_recv_ns < y->t_recv_ns);
}

/*
 * The replies of @r received at or before @to_ns, in arrival order: replies
 * can overtake each other, and a gap is about arrival times.  *@anchor is the
 * index of the last one received at or before @from_ns, where the first gap
 * starts; SIZE_MAX if none was.  A malloc'd array, NULL if out of memory.
 */
static const struct probe_record **replies_by_arrival(const struct probe_record *r, size_t n,
						      int64_t from_ns, int64_t to_ns, size_t *nr,
						      size_t *anchor)
{
	const struct probe_record **replies = malloc((n ? n : 1) * sizeof(*replies));

	*nr = 0;
	*anchor = SIZE_MAX;
	if (!replies)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (r[i].t_recv_ns != 0 && r[i].t_recv_ns <= to_ns)
			replies[(*nr)++] = &r[i];
	qsort(replies, *nr, sizeof(*replies), by_recv_time);
	for (size_t i = 0; i < *nr && replies[i]->t_recv_ns <= from_ns; i++)
		*anchor = i;
	return replies;
}

int probe_analyse(const struct probe_record *r, size_t n, int64_t from_ns, int64_t to_ns,
		  struct probe_result *res)
{
	const struct probe_record **replies;
	size_t nr, anchor;
	int rc = 0;

	memset(res, 0, sizeof(*res));
	replies = replies_by_arrival(r, n, from_ns, to_ns, &nr, &anchor);
	if (!replies)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (r[i].t_send_ns >= from_ns && r[i].t_send_ns <= to_ns) {
			res->sent++;
			if (r[i].t_recv_ns == 0)
				res->lost++;
		}
	}
	if (anchor == SIZE_MAX) {
		rc = -ENOENT;
		goto out;
	}
	res->before = *replies[anchor];
	if (anchor + 1 == nr) {
		rc = -ETIMEDOUT;
		goto out;
	}
	for (size_t i = anchor + 1; i < nr; i++) {
		int64_t gap = replies[i]->t_recv_ns - replies[i - 1]->t_recv_ns;

		if (!res->switched && strcmp(replies[i]->boot_id, replies[anchor]->boot_id)) {
			res->switched = true;
			res->last_old = *replies[i - 1];
			res->first_new = *replies[i];
		}
		if (gap > res->downtime_ns) {
			res->downtime_ns = gap;
			res->before = *replies[i - 1];
			res->after = *replies[i];
		}
	}
	/* A silence still open at the end that is longer: the service did not come back. */
	if (to_ns - replies[nr - 1]->t_recv_ns > res->downtime_ns) {
		res->before = *replies[nr - 1];
		memset(&res->after, 0, sizeof(res->after));
		res->downtime_ns = 0;
		rc = -ETIMEDOUT;
	}
out:
	free(replies);
	return rc;
}

int probe_gaps(const struct probe_record *r, size_t n, int64_t from_ns, int64_t to_ns,
	       int64_t min_gap_ns, struct probe_gap **gaps, size_t *ngaps, int64_t *unavailable_ns)
{
	const struct probe_record **replies;
	struct probe_gap *g = NULL, *shrunk;
	size_t nr, anchor, k = 0;
	int rc = 0;

	*gaps = NULL;
	*ngaps = 0;
	*unavailable_ns = 0;
	if (min_gap_ns < 0)
		return -EINVAL;
	replies = replies_by_arrival(r, n, from_ns, to_ns, &nr, &anchor);
	if (!replies)
		return -ENOMEM;
	if (anchor == SIZE_MAX) {
		rc = -ENOENT;
		goto out;
	}
	/* At most one gap after each reply from the anchor on. */
	g = malloc((nr - anchor) * sizeof(*g));
	if (!g) {
		rc = -ENOMEM;
		goto out;
	}
	/* i == nr is the silence after the last reply, still open at @to_ns. */
	for (size_t i = anchor + 1; i <= nr; i++) {
		struct probe_gap gap = {
		    .start_ns = replies[i - 1]->t_recv_ns,
		    .end_ns = i < nr ? replies[i]->t_recv_ns : to_ns,
		    .open = i == nr,
		};

		if (gap.end_ns - gap.start_ns > min_gap_ns) {
			g[k++] = gap;
			*unavailable_ns += gap.end_ns - gap.start_ns;
		}
	}
	if (k) {
		shrunk = realloc(g, k * sizeof(*g));
		*gaps = shrunk ? shrunk : g;
		*ngaps = k;
		g = NULL;
	}
out:
	free(g);
	free(replies);
	return rc;
}

void probe_proof(const struct probe_result *res, const struct probe_record **before,
		 const struct probe_record **after)
{
	*before = res->switched ? &res->last_old : &res->before;
	*after = res->switched ? &res->first_new : &res->after;
}

void probe_verify(const struct probe_result *res, const char *expected_release,
		  struct probe_verdict *v)
{
	const struct probe_record *b, *a;
	/* Every answered request adds one: more than were sent means a foreign state. */
	uint64_t sent_between;

	probe_proof(res, &b, &a);
	sent_between = a->seq > b->seq ? a->seq - b->seq : 0;
	memset(v, 0, sizeof(*v));
	v->boot_changed = a->t_recv_ns != 0 && strcmp(a->boot_id, b->boot_id) != 0;
	v->release_ok = a->t_recv_ns != 0 &&
			(!expected_release || strcmp(a->release, expected_release) == 0);
	v->state_continued = a->t_recv_ns != 0 && a->counter > b->counter &&
			     a->counter - b->counter <= sent_between;
	v->verified = v->boot_changed && v->release_ok && v->state_continued;
	if (a->t_recv_ns == 0)
		snprintf(v->why, sizeof(v->why), "the service never answered after the gap");
	else if (!v->boot_changed)
		snprintf(v->why, sizeof(v->why), "boot id %s did not change: no new kernel booted",
			 a->boot_id);
	else if (!v->release_ok)
		snprintf(v->why, sizeof(v->why), "new kernel is %s, expected %s", a->release,
			 expected_release);
	else if (!v->state_continued)
		snprintf(v->why, sizeof(v->why),
			 "state counter went from %" PRIu64 " to %" PRIu64
			 " across %" PRIu64 " requests: state was not continued",
			 b->counter, a->counter, sent_between);
}

void probe_verify_unbroken(const struct probe_result *res, struct probe_verdict *v)
{
	const struct probe_record *b = &res->before, *a = &res->after;

	memset(v, 0, sizeof(*v));
	v->boot_changed = a->t_recv_ns != 0 && strcmp(a->boot_id, b->boot_id) != 0;
	v->release_ok = a->t_recv_ns != 0 && strcmp(a->release, b->release) == 0;
	v->state_continued = a->t_recv_ns != 0 && a->counter > b->counter;
	v->verified = a->t_recv_ns != 0 && !v->boot_changed && v->release_ok && v->state_continued;
	if (a->t_recv_ns == 0)
		snprintf(v->why, sizeof(v->why), "the service stopped answering");
	else if (v->boot_changed)
		snprintf(v->why, sizeof(v->why), "the service restarted: boot id %s became %s",
			 b->boot_id, a->boot_id);
	else if (!v->release_ok)
		snprintf(v->why, sizeof(v->why), "the service moved from %s to %s", b->release,
			 a->release);
	else if (!v->state_continued)
		snprintf(v->why, sizeof(v->why), "state counter went from %" PRIu64 " to %" PRIu64,
			 b->counter, a->counter);
}
