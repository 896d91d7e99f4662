/*
 * progress.c - the run's progress line (progress.h).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "monotime.h"
#include "progress.h"

/* A redraw every 200 ms: the seconds counter moves, the terminal is not flooded. */
#define REDRAW_NS (200 * NS_PER_MS)

struct progress {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	FILE *out;
	bool tty, stop, thread;
	pthread_t tid;
	char name[64];
	int reps, rep;
	char step[160];
	int64_t rep_start;
};

static void draw(struct progress *p)
{
	if (p->step[0])
		fprintf(p->out, "\r\033[K[%s] rep %d/%d  %-45s %6.1f s", p->name, p->rep, p->reps,
			p->step, (double)(monotime_now() - p->rep_start) / NS_PER_S);
}

static void *redraw(void *arg)
{
	struct progress *p = arg;
	struct timespec until;

	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		draw(p);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += REDRAW_NS;
		until.tv_sec += until.tv_nsec / NS_PER_S;
		until.tv_nsec %= NS_PER_S;
		pthread_cond_timedwait(&p->wake, &p->lock, &until);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct progress *progress_start(const char *name, int reps, FILE *out)
{
	struct progress *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	p->out = out;
	p->tty = isatty(fileno(out));
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->reps = reps;
	p->rep_start = monotime_now();
	/* Without the thread there is just no redrawn line: not worth failing the run. */
	if (p->tty)
		p->thread = pthread_create(&p->tid, NULL, redraw, p) == 0;
	return p;
}

void progress_rep(struct progress *p, int rep)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->rep = rep;
	p->rep_start = monotime_now();
	pthread_mutex_unlock(&p->lock);
}

void progress_step(struct progress *p, const char *doing)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	snprintf(p->step, sizeof(p->step), "%s", doing);
	if (!p->tty)
		fprintf(p->out, "[%s] rep %d/%d: %s\n", p->name, p->rep, p->reps, doing);
	pthread_mutex_unlock(&p->lock);
}

void progress_clear(struct progress *p)
{
	if (!p || !p->tty)
		return;
	pthread_mutex_lock(&p->lock);
	fprintf(p->out, "\r\033[K");
	pthread_mutex_unlock(&p->lock);
}

void progress_stop(struct progress *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	if (p->thread)
		pthread_join(p->tid, NULL);
	progress_clear(p);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->wake);
	free(p);
}
