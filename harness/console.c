/*
 * console.c - one guest serial console, driven over telnet (libtelnet).
 *
 * QEMU exposes each serial port as a telnet server.  A reader thread dials
 * it, feeds what it reads through libtelnet (which answers the option
 * negotiation and unescapes IAC IAC) and assembles the data bytes into
 * lines stamped with the arrival time of their first byte.  Downtime is
 * measured from these stamps, so the read loop does nothing slow: no
 * per-line fsync, no allocation beyond the line itself.
 *
 * Writes never block: what the telnet state wants sent (negotiation
 * replies from the reader, text from console_send() in the step program's
 * thread) is queued and written without waiting.  A sender that finds the
 * socket full waits for room with tn_lock released and gives up at its
 * deadline, so a guest that stops reading its UART stalls neither the reader
 * (and the stamping of what the guest prints) nor, for ever, the step.
 *
 * Locking: tn_lock serialises the telnet state, the send queue and writes to
 * the socket; it is held only for what cannot block.  lock protects the
 * lines, the unfinished line, the log and the connection flag; it is never
 * held across a socket write, so a guest that stops reading its UART cannot
 * stall console_expect().  Order: tn_lock, then lock.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <libtelnet.h>

#include "console.h"
#include "monotime.h"

/*
 * A longer line is split at this length, so that a guest printing without
 * newlines (a progress bar, garbage after a crash) cannot grow one line
 * without bound.
 */
#define LINE_MAX_BYTES 4095

/* Between dial attempts: console output is lost while disconnected. */
#define REDIAL_MS 20

/* How often a waiting expect asks the watch whether the guest is still there. */
#define WATCH_NS (500 * NS_PER_MS)

/* One read(); a kernel boot prints in bursts of a few KiB. */
#define READ_BYTES 4096

/*
 * Bytes queued for a guest that does not read them yet.  Typed commands
 * are tens of bytes; a queue this full means the guest has stopped reading,
 * and a send then waits for room rather than grow it.
 */
#define OUT_MAX_BYTES (64 * 1024)

/* How long a viewer's keystrokes may wait: console_close() joins the relay. */
#define RELAY_SEND_NS (1 * NS_PER_S)

/*
 * Both a kernel and the programs above it write to a serial console.  The
 * kernel prints each log record whole, but it may print one in the middle of
 * a program's line: "twinbench[    1.79] tsc: ...\n-b: ready\n".  The
 * program's line is then put back together: its first piece is kept as a
 * pending line, in its place among the lines, and the text that follows the
 * kernel's record(s) completes it.  A pending line is not matched until it
 * is complete.  Only text that starts within JOIN_NS of the end of the
 * records continues it; otherwise (a prompt, then kernel messages, then
 * something else) it stays as it is.
 */
#define JOIN_NS (500 * NS_PER_MS)
#define NO_LINE ((size_t)-1)

struct line {
	int64_t t_ns;
	char *text;
	size_t len;
	bool pending; /* a program's line cut by kernel records, waiting for its rest */
};

/* Terminals that may watch one console at a time: a person or two, not a crowd. */
#define RELAY_MAX_VIEWERS 4

struct console {
	char name[16];
	console_dial_fn dial;
	void *ctx;

	pthread_mutex_t tn_lock;
	telnet_t *tn;
	int fd;	       /* -1 when not connected */
	unsigned conn; /* counts (dis)connections: a sender sees its queue dropped */
	char *out;     /* telnet bytes the socket has not taken yet */
	size_t out_len, out_cap;
	uint64_t out_queued; /* bytes ever queued ... */
	uint64_t out_sent;   /* ... and written or dropped: a sender's are out when >= its mark */
	int out_err;	     /* first write error on this connection */
	int64_t feed_t_ns;   /* @t_ns of the console_feed() in progress */

	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct line *lines;
	size_t nlines, cap;
	char part[LINE_MAX_BYTES + 1]; /* the unfinished line, NUL-terminated */
	int64_t part_ns[LINE_MAX_BYTES]; /* arrival of each of its bytes */
	size_t part_len;
	int64_t part_t_ns;
	size_t frag;		/* the pending line (NO_LINE: none) */
	int64_t frag_last_ns;	/* arrival of the end of the last record that cut it */
	unsigned long finished; /* pending lines completed so far: expect() rescans */
	console_watch_fn watch;
	void *watch_ctx;
	FILE *log;
	bool connected;
	int connects; /* connections made so far: all but the first are reconnects */
	bool stopping;

	bool has_reader;
	pthread_t reader;
	int wake[2]; /* written once by console_close() to stop the reader */

	/* The viewers' relay (console_serve): a unix socket for `twinbench console`. */
	pthread_t relay;
	bool has_relay;
	int relay_listen;
	int relay_wake[2];
	char relay_path[108];
	pthread_mutex_t viewers_lock;
	int viewers[RELAY_MAX_VIEWERS];
};

/*
 * The server may echo and suppress go-ahead (QEMU offers both at connect);
 * we offer nothing.  libtelnet refuses every option not in this table.
 */
static const telnet_telopt_t console_telopts[] = {
    {TELNET_TELOPT_ECHO, TELNET_WONT, TELNET_DO},
    {TELNET_TELOPT_SGA, TELNET_WONT, TELNET_DO},
    {-1, 0, 0},
};

static void log_line(struct console *c, int64_t t_ns, const char *text)
{
	if (c->log)
		fprintf(c->log, "%lld.%09lld %s\n", (long long)(t_ns / NS_PER_S),
			(long long)(t_ns % NS_PER_S), text);
}

/*
 * Where a kernel log record ("[    1.798293] ") starts in @s: its offset,
 * or -1 if none does.
 */
static ssize_t kernel_record_at(const char *s)
{
	for (const char *p = strchr(s, '['); p; p = strchr(p + 1, '[')) {
		const char *q = p + 1;

		while (*q == ' ')
			q++;
		if (!isdigit((unsigned char)*q))
			continue;
		while (isdigit((unsigned char)*q))
			q++;
		if (*q++ != '.' || !isdigit((unsigned char)*q))
			continue;
		while (isdigit((unsigned char)*q))
			q++;
		if (q[0] == ']' && q[1] == ' ')
			return p - s;
	}
	return -1;
}

/*
 * Keep @len bytes of @text as line number nlines, logged unless @pending.
 * Out of memory the line is logged but not kept: expect() then misses it,
 * which beats aborting a run in the middle of an upgrade.  Lock held.
 */
static void push_line(struct console *c, int64_t t_ns, const char *text, size_t len, bool pending)
{
	char *copy;

	if (!pending)
		log_line(c, t_ns, text);
	if (c->nlines == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 256;
		struct line *lines = realloc(c->lines, cap * sizeof(*lines));

		if (!lines)
			return;
		c->lines = lines;
		c->cap = cap;
	}
	copy = strndup(text, len);
	if (!copy)
		return;
	c->lines[c->nlines++] =
	    (struct line){.t_ns = t_ns, .text = copy, .len = len, .pending = pending};
}

/* Add @len bytes of @text to the pending line.  Lock held. */
static void frag_append(struct console *c, const char *text, size_t len)
{
	struct line *l = &c->lines[c->frag];
	char *grown = realloc(l->text, l->len + len + 1);

	if (!grown)
		return;
	memcpy(grown + l->len, text, len);
	l->len += len;
	grown[l->len] = '\0';
	l->text = grown;
}

/* The pending line is as complete as it will get: log it, let expect() see it. */
static void frag_finish(struct console *c)
{
	if (c->frag == NO_LINE)
		return;
	c->lines[c->frag].pending = false;
	log_line(c, c->lines[c->frag].t_ns, c->lines[c->frag].text);
	c->frag = NO_LINE;
	c->finished++;
}

/* The unfinished line is complete: keep it (or its pieces, see struct line).  Lock held. */
static void line_complete(struct console *c, int64_t t_ns)
{
	ssize_t at = c->part_len ? kernel_record_at(c->part) : -1;

	/* Only text that resumes right after the kernel's records continues the cut line. */
	if (c->frag != NO_LINE && t_ns - c->frag_last_ns > JOIN_NS)
		frag_finish(c);
	if (at > 0) {
		/* A program's line, cut by a kernel record: keep its piece in place. */
		if (c->frag == NO_LINE) {
			c->frag = c->nlines;
			push_line(c, t_ns, c->part, (size_t)at, true);
			if (c->nlines == c->frag) /* out of memory */
				c->frag = NO_LINE;
		} else {
			frag_append(c, c->part, (size_t)at);
		}
		push_line(c, c->part_ns[at], c->part + at, c->part_len - (size_t)at, false);
	} else if (at < 0 && c->frag != NO_LINE) {
		/* The rest of the cut line. */
		frag_append(c, c->part, c->part_len);
		frag_finish(c);
	} else {
		push_line(c, t_ns, c->part, c->part_len, false);
	}
	/* A record just ended: the cut line may go on now. */
	if (c->frag != NO_LINE)
		c->frag_last_ns = c->feed_t_ns;
	c->part_len = 0;
	c->part[0] = '\0';
}

/* Assemble telnet data bytes into lines.  Called with tn_lock held. */
/* Copy the guest's bytes to every viewer; one that cannot keep up is dropped. */
static void relay_to_viewers(struct console *c, const char *buf, size_t len)
{
	if (!c->has_relay)
		return;
	pthread_mutex_lock(&c->viewers_lock);
	for (int i = 0; i < RELAY_MAX_VIEWERS; i++) {
		if (c->viewers[i] >= 0 &&
		    send(c->viewers[i], buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)len) {
			close(c->viewers[i]);
			c->viewers[i] = -1;
		}
	}
	pthread_mutex_unlock(&c->viewers_lock);
}

static void console_data(struct console *c, const char *buf, size_t len)
{
	size_t i;

	relay_to_viewers(c, buf, len);

	pthread_mutex_lock(&c->lock);
	for (i = 0; i < len; i++) {
		char ch = buf[i];

		/* The tty's CRLF and the NVT's CR NUL both end in a '\n' we keep. */
		if (ch == '\r' || ch == '\0')
			continue;
		if (ch == '\n') {
			line_complete(c, c->part_len ? c->part_t_ns : c->feed_t_ns);
			continue;
		}
		if (c->part_len == LINE_MAX_BYTES)
			line_complete(c, c->part_t_ns);
		if (!c->part_len)
			c->part_t_ns = c->feed_t_ns;
		c->part_ns[c->part_len] = c->feed_t_ns;
		c->part[c->part_len++] = ch;
		c->part[c->part_len] = '\0';
	}
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/*
 * Write what the socket takes now of the queue, without waiting.  A failure
 * is kept in out_err for console_send(); the reader notices the dead
 * connection on its own.  tn_lock held.
 */
static void out_flush(struct console *c)
{
	ssize_t n;

	while (c->out_len && c->fd >= 0 && !c->out_err) {
		n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			memmove(c->out, c->out + n, c->out_len - (size_t)n);
			c->out_len -= (size_t)n;
			c->out_sent += (uint64_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return;
		} else {
			c->out_err = n < 0 ? -errno : -EIO;
		}
	}
}

/* Forget the queue: a new connection owes nothing of the old one's.  tn_lock held. */
static void out_drop(struct console *c)
{
	c->out_len = 0;
	c->out_sent = c->out_queued;
	c->out_err = 0;
	c->conn++;
}

/*
 * Queue @buf for the socket and write what it takes now.  Called with
 * tn_lock held, by libtelnet, for text and negotiation replies alike; with
 * no connection the bytes are dropped (console_feed() in tests).
 */
static void console_write(struct console *c, const char *buf, size_t len)
{
	if (c->fd < 0 || c->out_err)
		return;
	if (c->out_len + len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 256;
		char *grown;

		while (cap < c->out_len + len)
			cap *= 2;
		grown = realloc(c->out, cap);
		if (!grown) {
			c->out_err = -ENOMEM;
			return;
		}
		c->out = grown;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, buf, len);
	c->out_len += len;
	c->out_queued += len;
	out_flush(c);
}

/*
 * Wait, with tn_lock released, until the socket may take more bytes, the
 * console is closing (-ECANCELED) or @deadline_ns.  The socket is polled
 * through a duplicate: the reader may close the connection meanwhile.
 * tn_lock held on entry and on return.
 */
static int wait_writable(struct console *c, int64_t deadline_ns)
{
	struct pollfd pfd[2] = {
	    {.fd = fcntl(c->fd, F_DUPFD_CLOEXEC, 0), .events = POLLOUT},
	    {.fd = c->wake[0], .events = POLLIN},
	};
	int64_t left = deadline_ns - monotime_now();
	int rc = 0, ms;

	if (pfd[0].fd < 0)
		return -errno;
	/* Rounded up, so that a wait does not end just short of the deadline. */
	if (left <= 0)
		ms = 0;
	else if (left / NS_PER_MS >= INT_MAX)
		ms = INT_MAX;
	else
		ms = (int)((left + NS_PER_MS - 1) / NS_PER_MS);
	pthread_mutex_unlock(&c->tn_lock);
	if (poll(pfd, 2, ms) < 0 && errno != EINTR)
		rc = -errno;
	else if (pfd[1].revents)
		rc = -ECANCELED;
	close(pfd[0].fd);
	pthread_mutex_lock(&c->tn_lock);
	return rc;
}

static void telnet_event(telnet_t *tn, telnet_event_t *ev, void *user)
{
	struct console *c = user;

	(void)tn;
	switch (ev->type) {
	case TELNET_EV_DATA:
		console_data(c, ev->data.buffer, ev->data.size);
		break;
	case TELNET_EV_SEND:
		console_write(c, ev->data.buffer, ev->data.size);
		break;
	default:
		/*
		 * Negotiation is answered from console_telopts; warnings and
		 * errors (a malformed sequence) cost at most a few garbled bytes.
		 */
		break;
	}
}

void console_feed(struct console *c, const char *buf, size_t len, int64_t t_ns)
{
	pthread_mutex_lock(&c->tn_lock);
	c->feed_t_ns = t_ns;
	telnet_recv(c->tn, buf, len);
	pthread_mutex_unlock(&c->tn_lock);

	pthread_mutex_lock(&c->lock);
	if (c->log)
		fflush(c->log);
	pthread_mutex_unlock(&c->lock);
}

static void console_set_connected(struct console *c, bool connected)
{
	pthread_mutex_lock(&c->lock);
	c->connected = connected;
	c->connects += connected;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static bool console_stopping(struct console *c)
{
	bool stopping;

	pthread_mutex_lock(&c->lock);
	stopping = c->stopping;
	pthread_mutex_unlock(&c->lock);
	return stopping;
}

/*
 * Make @fd the connection, with a fresh telnet state: half a command left by
 * the previous connection must not swallow the new one's first bytes.  The
 * unfinished line is kept, though: a reconnect loses no output.
 */
static int console_attach(struct console *c, int fd)
{
	telnet_t *tn = telnet_init(console_telopts, telnet_event, 0, c);
	int flags;

	if (!tn)
		return -ENOMEM;
	/* Non-blocking so that console_close() can interrupt a stuck write. */
	flags = fcntl(fd, F_GETFL);
	if (flags >= 0)
		fcntl(fd, F_SETFL, flags | O_NONBLOCK);

	pthread_mutex_lock(&c->tn_lock);
	telnet_free(c->tn);
	c->tn = tn;
	c->fd = fd;
	out_drop(c);
	pthread_mutex_unlock(&c->tn_lock);
	console_set_connected(c, true);
	return 0;
}

static void console_detach(struct console *c)
{
	pthread_mutex_lock(&c->tn_lock);
	close(c->fd);
	c->fd = -1;
	out_drop(c);
	pthread_mutex_unlock(&c->tn_lock);
	console_set_connected(c, false);
}

/*
 * Read and feed until the connection drops or the console is closing.  While
 * bytes are queued for the guest, write them as it takes them: a send that
 * gave up left them there.
 */
static void console_pump(struct console *c, int fd)
{
	struct pollfd pfd[2] = {
	    {.fd = fd, .events = POLLIN},
	    {.fd = c->wake[0], .events = POLLIN},
	};
	char buf[READ_BYTES];
	ssize_t n;

	for (;;) {
		pthread_mutex_lock(&c->tn_lock);
		pfd[0].events = POLLIN | (c->out_len && !c->out_err ? POLLOUT : 0);
		pthread_mutex_unlock(&c->tn_lock);
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (pfd[1].revents)
			return;
		if (pfd[0].revents & POLLOUT) {
			pthread_mutex_lock(&c->tn_lock);
			out_flush(c);
			pthread_mutex_unlock(&c->tn_lock);
		}
		if (!(pfd[0].revents & ~POLLOUT))
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n > 0)
			console_feed(c, buf, n, monotime_now());
		else if (n == 0 || (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK))
			return;
	}
}

static void *console_reader(void *arg)
{
	struct console *c = arg;
	struct pollfd wake = {.fd = c->wake[0], .events = POLLIN};
	int fd;

	while (!console_stopping(c)) {
		/* The dialled socket is ours from here on: console_detach() closes it. */
		fd = c->dial(c->ctx);
		if (fd >= 0) {
			if (console_attach(c, fd) == 0) {
				console_pump(c, fd);
				console_detach(c);
			} else {
				close(fd);
			}
		}
		/* Sleeps REDIAL_MS, or returns at once when console_close() wakes us. */
		poll(&wake, 1, REDIAL_MS);
	}
	return NULL;
}

static void console_free(struct console *c)
{
	size_t i;

	if (c->wake[0] >= 0)
		close(c->wake[0]);
	if (c->wake[1] >= 0)
		close(c->wake[1]);
	if (c->tn)
		telnet_free(c->tn);
	free(c->out);
	if (c->log) {
		/* What arrived of an unfinished last line (a prompt, a cut-off message) is evidence too. */
		frag_finish(c);
		if (c->part_len)
			log_line(c, c->part_t_ns, c->part);
		/* The log is the run's evidence: make it survive a host crash. */
		fflush(c->log);
		fsync(fileno(c->log));
		fclose(c->log);
	}
	for (i = 0; i < c->nlines; i++)
		free(c->lines[i].text);
	free(c->lines);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->tn_lock);
	pthread_mutex_destroy(&c->viewers_lock);
	free(c);
}

struct console *console_open(const char *name, const char *log_path, console_dial_fn dial,
			     void *ctx, struct tb_err *err)
{
	struct console *c = calloc(1, sizeof(*c));
	pthread_condattr_t attr;
	int rc;

	if (!c) {
		tb_err_set(err, TB_EXIT_ENV, "console %s: out of memory", name);
		return NULL;
	}
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->dial = dial;
	c->ctx = ctx;
	c->fd = -1;
	c->frag = NO_LINE;
	c->wake[0] = c->wake[1] = -1;
	c->relay_listen = c->relay_wake[0] = c->relay_wake[1] = -1;
	for (int i = 0; i < RELAY_MAX_VIEWERS; i++)
		c->viewers[i] = -1;
	pthread_mutex_init(&c->viewers_lock, NULL);
	/* glibc's init functions cannot fail with these attributes. */
	pthread_mutex_init(&c->tn_lock, NULL);
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &attr);
	pthread_condattr_destroy(&attr);

	c->tn = telnet_init(console_telopts, telnet_event, 0, c);
	if (!c->tn) {
		tb_err_set(err, TB_EXIT_ENV, "console %s: out of memory", name);
		goto err;
	}
	if (log_path) {
		c->log = fopen(log_path, "ae");
		if (!c->log) {
			tb_err_set(err, TB_EXIT_ENV, "console %s: cannot open log %s: %s", name,
				   log_path, strerror(errno));
			goto err;
		}
	}
	if (!dial)
		return c;

	if (pipe2(c->wake, O_CLOEXEC) < 0) {
		tb_err_set(err, TB_EXIT_ENV, "console %s: pipe: %s", name, strerror(errno));
		goto err;
	}
	rc = pthread_create(&c->reader, NULL, console_reader, c);
	if (rc) {
		tb_err_set(err, TB_EXIT_ENV, "console %s: cannot start reader: %s", name,
			   strerror(rc));
		goto err;
	}
	c->has_reader = true;
	return c;
err:
	console_free(c);
	return NULL;
}

static void relay_stop(struct console *c);

void console_close(struct console *c)
{
	if (!c)
		return;
	relay_stop(c);
	if (c->has_reader) {
		pthread_mutex_lock(&c->lock);
		c->stopping = true;
		pthread_mutex_unlock(&c->lock);
		/* Never drained: every later poll() of the reader returns at once. */
		while (write(c->wake[1], "x", 1) < 0 && errno == EINTR)
			;
		pthread_join(c->reader, NULL);
	}
	console_free(c);
}

size_t console_cursor(struct console *c)
{
	size_t n;

	pthread_mutex_lock(&c->lock);
	n = c->nlines;
	pthread_mutex_unlock(&c->lock);
	return n;
}

static void match_fill(struct console_match *out, size_t index, int64_t t_ns, const char *text)
{
	size_t len;

	if (!out)
		return;
	len = strnlen(text, sizeof(out->text) - 1);
	out->index = index;
	out->t_ns = t_ns;
	memcpy(out->text, text, len);
	out->text[len] = '\0';
}

int console_line(struct console *c, size_t index, struct console_match *out)
{
	int rc = -1;

	pthread_mutex_lock(&c->lock);
	if (index < c->nlines) {
		match_fill(out, index, c->lines[index].t_ns, c->lines[index].text);
		rc = 0;
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/*
 * Does the unfinished line match?  It is what follows the last newline: the
 * pending piece of a cut line (a prompt, then a kernel record) and what has
 * come since.  Its number is the pending line's, or nlines; after an earlier
 * match on it *@cursor is past it and it must not match again.  A match moves
 * *@cursor past it.  Lock held.
 */
static bool unfinished_match(struct console *c, const regex_t *re, size_t *cursor,
			     struct console_match *out)
{
	size_t index = c->frag != NO_LINE ? c->frag : c->nlines;
	char text[LINE_MAX_BYTES * 2 + 1];
	int64_t t_ns = c->part_t_ns;

	if (index < *cursor)
		return false;
	if (c->frag != NO_LINE) {
		snprintf(text, sizeof(text), "%s%s", c->lines[c->frag].text, c->part);
		t_ns = c->lines[c->frag].t_ns;
	} else if (c->part_len) {
		memcpy(text, c->part, c->part_len + 1);
	} else {
		return false;
	}
	if (regexec(re, text, 0, NULL, 0) != 0)
		return false;
	match_fill(out, index, t_ns, text);
	*cursor = index + 1;
	return true;
}

void console_set_watch(struct console *c, console_watch_fn fn, void *ctx)
{
	pthread_mutex_lock(&c->lock);
	c->watch = fn;
	c->watch_ctx = ctx;
	pthread_mutex_unlock(&c->lock);
}

static int expect(struct console *c, const char *pattern, size_t *cursor, int64_t deadline_ns,
		  struct console_match *out, struct tb_err *err, bool unfinished_too)
{
	int64_t watch_at = monotime_now() + WATCH_NS;
	size_t next = *cursor, skipped = NO_LINE, i;
	unsigned long finished = 0;
	regex_t re;
	int rc;

	rc = regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB);
	if (rc) {
		char msg[256];

		regerror(rc, &re, msg, sizeof(msg));
		tb_err_set(err, TB_EXIT_USAGE, "console %s: bad pattern \"%s\": %s", c->name,
			   pattern, msg);
		return -EINVAL;
	}

	pthread_mutex_lock(&c->lock);
	for (;;) {
		/* A cut line skipped while pending may be whole now: look again from there. */
		if (c->finished != finished) {
			finished = c->finished;
			if (skipped != NO_LINE)
				next = skipped;
			skipped = NO_LINE;
		}
		for (i = next; i < c->nlines; i++) {
			if (c->lines[i].pending) {
				if (skipped == NO_LINE)
					skipped = i;
				continue;
			}
			if (regexec(&re, c->lines[i].text, 0, NULL, 0) == 0) {
				match_fill(out, i, c->lines[i].t_ns, c->lines[i].text);
				*cursor = i + 1;
				rc = 0;
				goto out;
			}
		}
		if (next < c->nlines)
			next = c->nlines;
		if (unfinished_too && unfinished_match(c, &re, cursor, out)) {
			rc = 0;
			goto out;
		}
		if (monotime_now() >= deadline_ns) {
			rc = -ETIMEDOUT;
			goto out;
		}
		if (c->watch && monotime_now() >= watch_at) {
			console_watch_fn watch = c->watch;
			const char *why;

			/* The watch may take a while (libvirt): not with the reader held up. */
			pthread_mutex_unlock(&c->lock);
			why = watch(c->watch_ctx);
			pthread_mutex_lock(&c->lock);
			if (why) {
				tb_err_set(err, TB_EXIT_CHECK, "console %s: %s", c->name, why);
				rc = -EPIPE;
				goto out;
			}
			watch_at = monotime_now() + WATCH_NS;
			continue; /* lines may have come meanwhile */
		}
		{
			int64_t wake = c->watch && watch_at < deadline_ns ? watch_at : deadline_ns;
			struct timespec ts = monotime_timespec(wake);

			pthread_cond_timedwait(&c->cond, &c->lock, &ts);
		}
	}
out:
	pthread_mutex_unlock(&c->lock);
	regfree(&re);
	return rc;
}

int console_expect(struct console *c, const char *pattern, size_t *cursor, int64_t deadline_ns,
		   struct console_match *out, struct tb_err *err)
{
	return expect(c, pattern, cursor, deadline_ns, out, err, true);
}

int console_expect_line(struct console *c, const char *pattern, size_t *cursor,
			int64_t deadline_ns, struct console_match *out, struct tb_err *err)
{
	return expect(c, pattern, cursor, deadline_ns, out, err, false);
}

int console_send_until(struct console *c, const char *text, size_t len, int64_t deadline_ns,
		       struct tb_err *err)
{
	int64_t start = monotime_now();
	uint64_t mark, unsent;
	size_t left = len;
	unsigned conn;
	int rc = 0;

	pthread_mutex_lock(&c->tn_lock);
	if (c->fd < 0) {
		pthread_mutex_unlock(&c->tn_lock);
		tb_err_set(err, TB_EXIT_ENV, "console %s: not connected", c->name);
		return -ENOTCONN;
	}
	conn = c->conn;
	mark = c->out_queued;
	for (;;) {
		/* Escaping (IAC IAC) at most doubles the text: queue what fits. */
		size_t room = c->out_len < OUT_MAX_BYTES ? (OUT_MAX_BYTES - c->out_len) / 2 : 0;
		size_t n = left < room ? left : room;

		if (n) {
			telnet_send(c->tn, text, n);
			text += n;
			left -= n;
			mark = c->out_queued;
		}
		out_flush(c);
		if (c->conn != conn) {
			rc = -ECONNRESET;
			break;
		}
		if (c->out_err) {
			rc = c->out_err;
			break;
		}
		if (!left && c->out_sent >= mark)
			break;
		if (monotime_now() >= deadline_ns) {
			rc = -ETIMEDOUT;
			break;
		}
		rc = wait_writable(c, deadline_ns);
		if (rc)
			break;
	}
	/* What of the text has not reached the socket (escaping counted as text). */
	unsent = left + (c->conn == conn && mark > c->out_sent ? mark - c->out_sent : 0);
	pthread_mutex_unlock(&c->tn_lock);

	switch (rc) {
	case 0:
		return 0;
	case -ETIMEDOUT:
		tb_err_set(err, TB_EXIT_CHECK,
			   "console %s: gave up after %.1f s waiting for the guest to read its serial "
			   "console (%llu of %zu bytes typed not taken): is the guest hung or paused?",
			   c->name, (double)(monotime_now() - start) / NS_PER_S,
			   (unsigned long long)(unsent < len ? unsent : len), len);
		return rc;
	case -ECONNRESET:
		tb_err_set(err, TB_EXIT_ENV,
			   "console %s: the connection dropped before the guest took what was typed",
			   c->name);
		return rc;
	case -ECANCELED:
		tb_err_set(err, TB_EXIT_ENV, "console %s: closed while sending", c->name);
		return rc;
	default:
		tb_err_set(err, TB_EXIT_ENV, "console %s: send: %s", c->name, strerror(-rc));
		return rc;
	}
}

int console_send(struct console *c, const char *text, size_t len, struct tb_err *err)
{
	return console_send_until(c, text, len, monotime_now() + CONSOLE_SEND_TIMEOUT_NS, err);
}

void console_redial(struct console *c)
{
	/* The reader sees the end of the connection and dials again, asking @dial anew. */
	pthread_mutex_lock(&c->tn_lock);
	if (c->fd >= 0)
		shutdown(c->fd, SHUT_RDWR);
	pthread_mutex_unlock(&c->tn_lock);
}

const char *console_name(const struct console *c)
{
	return c->name;
}

int console_reconnects(struct console *c)
{
	int n;

	pthread_mutex_lock(&c->lock);
	n = c->connects > 1 ? c->connects - 1 : 0;
	pthread_mutex_unlock(&c->lock);
	return n;
}

/* Wait until connected, by at least @connects connections in all, or @deadline_ns. */
static int wait_connects(struct console *c, int connects, int64_t deadline_ns)
{
	struct timespec ts = monotime_timespec(deadline_ns);
	int rc = 0;

	pthread_mutex_lock(&c->lock);
	while (!c->connected || c->connects < connects) {
		if (monotime_now() >= deadline_ns) {
			rc = -ETIMEDOUT;
			break;
		}
		pthread_cond_timedwait(&c->cond, &c->lock, &ts);
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int console_wait_connected(struct console *c, int64_t deadline_ns)
{
	return wait_connects(c, 0, deadline_ns);
}

int console_connections(struct console *c)
{
	int n;

	pthread_mutex_lock(&c->lock);
	n = c->connects;
	pthread_mutex_unlock(&c->lock);
	return n;
}

int console_wait_connected_after(struct console *c, int connections, int64_t deadline_ns)
{
	return wait_connects(c, connections + 1, deadline_ns);
}

char *console_tail(struct console *c, size_t n)
{
	size_t start, i, size = 1;
	bool first = true;
	char *s, *p;

	pthread_mutex_lock(&c->lock);
	start = c->nlines > n ? c->nlines - n : 0;
	for (i = start; i < c->nlines; i++)
		size += c->lines[i].len + 1;
	size += c->part_len;
	s = malloc(size);
	if (!s)
		goto out;
	p = s;
	for (i = start; i < c->nlines; i++) {
		if (!first)
			*p++ = '\n';
		first = false;
		memcpy(p, c->lines[i].text, c->lines[i].len);
		p += c->lines[i].len;
	}
	if (c->part_len) {
		if (!first)
			*p++ = '\n';
		memcpy(p, c->part, c->part_len);
		p += c->part_len;
	}
	*p = '\0';
out:
	pthread_mutex_unlock(&c->lock);
	return s;
}

/*
 * The relay: `twinbench console` attaches here while a run holds the
 * guest's telnet port (QEMU serves one telnet client at a time).  Viewers
 * get the guest's bytes as they arrive (relay_to_viewers) and their
 * keystrokes go to the guest through console_send().
 */
static void *relay_thread(void *arg)
{
	struct console *c = arg;

	for (;;) {
		struct pollfd pfd[2 + RELAY_MAX_VIEWERS];
		int n = 2, slot[RELAY_MAX_VIEWERS];

		pfd[0] = (struct pollfd){ .fd = c->relay_wake[0], .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = c->relay_listen, .events = POLLIN };
		pthread_mutex_lock(&c->viewers_lock);
		for (int i = 0; i < RELAY_MAX_VIEWERS; i++) {
			if (c->viewers[i] >= 0) {
				slot[n - 2] = i;
				pfd[n++] = (struct pollfd){ .fd = c->viewers[i], .events = POLLIN };
			}
		}
		pthread_mutex_unlock(&c->viewers_lock);
		if (poll(pfd, (nfds_t)n, -1) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents)
			break;
		if (pfd[1].revents & POLLIN) {
			int fd = accept4(c->relay_listen, NULL, NULL, SOCK_CLOEXEC);

			pthread_mutex_lock(&c->viewers_lock);
			for (int i = 0; fd >= 0 && i < RELAY_MAX_VIEWERS; i++) {
				if (c->viewers[i] < 0) {
					c->viewers[i] = fd;
					fd = -1;
				}
			}
			pthread_mutex_unlock(&c->viewers_lock);
			if (fd >= 0)
				close(fd); /* full: the viewer sees the connection close */
		}
		for (int k = 2; k < n; k++) {
			char buf[1024];
			ssize_t len;

			if (!pfd[k].revents)
				continue;
			len = read(pfd[k].fd, buf, sizeof(buf));
			if (len > 0) {
				console_send_until(c, buf, (size_t)len,
						   monotime_now() + RELAY_SEND_NS, NULL);
				continue;
			}
			pthread_mutex_lock(&c->viewers_lock);
			if (c->viewers[slot[k - 2]] == pfd[k].fd) {
				close(pfd[k].fd);
				c->viewers[slot[k - 2]] = -1;
			}
			pthread_mutex_unlock(&c->viewers_lock);
		}
	}
	return NULL;
}

int console_serve(struct console *c, const char *path, struct tb_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sa.sun_path))
		return tb_err_set(err, TB_EXIT_ENV, "console %s: socket path too long: %s", c->name,
				  path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	snprintf(c->relay_path, sizeof(c->relay_path), "%s", path);
	unlink(path);
	c->relay_listen = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->relay_listen < 0 || bind(c->relay_listen, (struct sockaddr *)&sa, sizeof(sa)) ||
	    chmod(path, 0600) || listen(c->relay_listen, RELAY_MAX_VIEWERS) ||
	    pipe2(c->relay_wake, O_CLOEXEC)) {
		tb_err_set(err, TB_EXIT_ENV, "console %s: cannot serve viewers on %s: %s", c->name,
			   path, strerror(errno));
		goto err;
	}
	/* Before the thread: console_data() reads it without a lock. */
	c->has_relay = true;
	if (pthread_create(&c->relay, NULL, relay_thread, c) != 0) {
		c->has_relay = false;
		tb_err_set(err, TB_EXIT_ENV, "console %s: cannot start the relay", c->name);
		goto err;
	}
	return 0;
err:
	relay_stop(c);
	return -1;
}

static void relay_stop(struct console *c)
{
	if (c->has_relay) {
		while (write(c->relay_wake[1], "x", 1) < 0 && errno == EINTR)
			;
		pthread_join(c->relay, NULL);
		/* No viewer is written to from here on. */
		pthread_mutex_lock(&c->lock);
		c->has_relay = false;
		pthread_mutex_unlock(&c->lock);
	}
	pthread_mutex_lock(&c->viewers_lock);
	for (int i = 0; i < RELAY_MAX_VIEWERS; i++) {
		if (c->viewers[i] >= 0)
			close(c->viewers[i]);
		c->viewers[i] = -1;
	}
	pthread_mutex_unlock(&c->viewers_lock);
	if (c->relay_listen >= 0) {
		close(c->relay_listen);
		unlink(c->relay_path);
	}
	for (int i = 0; i < 2; i++)
		if (c->relay_wake[i] >= 0)
			close(c->relay_wake[i]);
	c->relay_listen = c->relay_wake[0] = c->relay_wake[1] = -1;
}
