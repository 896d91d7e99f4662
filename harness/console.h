/*
 * console.h - one guest serial console, driven over telnet (libtelnet).
 *
 * A console owns a reader thread that (re)connects through a dial callback
 * (the socket must be made inside the lab's network namespace, which the
 * caller knows how to do), runs the telnet protocol, assembles the guest's
 * bytes into lines and stamps each line with the CLOCK_MONOTONIC time at
 * which its first byte arrived.  Every completed line is appended to the log
 * file as "SECONDS.NANOSECONDS TEXT\n" and kept in memory for expect().
 * A dropped connection is redialled every 20 ms until console_close().
 */
#ifndef TB_CONSOLE_H
#define TB_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct console;

/* Return a connected stream socket, or a negative errno. */
typedef int (*console_dial_fn)(void *ctx);

struct console_match {
	size_t index;	/* line index (lines are numbered from 0 in arrival order) */
	int64_t t_ns;	/* arrival of the line's first byte */
	char text[512]; /* the matched line, truncated */
};

/*
 * Open console @name ("a" or "b").  @log_path is opened for appending
 * (NULL: no log).  With @dial NULL no thread is started: bytes come only from
 * console_feed() (unit tests).
 */
struct console *console_open(const char *name, const char *log_path, console_dial_fn dial,
			     void *ctx, struct tb_err *err);

/*
 * Stop the reader thread, log the unfinished line if there is one, flush,
 * fsync and close the log, free everything.
 */
void console_close(struct console *c);

/*
 * Feed bytes received from the telnet peer at time @t_ns: telnet commands are
 * handled (replies go to the socket if connected), data bytes are assembled
 * into lines ('\n' ends a line, '\r' and NUL are dropped).  Exposed for tests.
 */
void console_feed(struct console *c, const char *buf, size_t len, int64_t t_ns);

/* Number of completed lines so far: a cursor that expects only what comes next. */
size_t console_cursor(struct console *c);

/* Copy line @index (completed lines only) into @out; -1 if there is no such line. */
int console_line(struct console *c, size_t index, struct console_match *out);

/*
 * Wait until a line at or after *@cursor matches the POSIX extended regex
 * @pattern, or until @deadline_ns (CLOCK_MONOTONIC).  The current unfinished
 * line (a prompt) is matched too.  On a match fills @out, advances *@cursor
 * past the matched line and returns 0; returns -ETIMEDOUT on timeout,
 * -EINVAL (with @err set) for a bad pattern, and -EPIPE (with @err set) when
 * the watch says the guest cannot answer any more.
 */
int console_expect(struct console *c, const char *pattern, size_t *cursor, int64_t deadline_ns,
		   struct console_match *out, struct tb_err *err);

/*
 * Like console_expect(), but only completed lines count: for patterns that
 * must see a whole line ("^...$"), which a slow console delivers in pieces.
 */
int console_expect_line(struct console *c, const char *pattern, size_t *cursor,
			int64_t deadline_ns, struct console_match *out, struct tb_err *err);

/*
 * What an expect asks, about every half second while it waits: NULL if the
 * guest may still answer, else why it cannot (a constant string, such as
 * "the guest's QEMU crashed"), which ends the wait with -EPIPE and @err set.
 */
typedef const char *(*console_watch_fn)(void *ctx);

/* Install (or with @fn NULL remove) the watch; call before any expect. */
void console_set_watch(struct console *c, console_watch_fn fn, void *ctx);

/*
 * Send @text to the guest (telnet-escaped), waiting at most until
 * @deadline_ns (CLOCK_MONOTONIC) for it to be taken; the wait holds up
 * neither the reader nor expect().  Returns 0 once all of it is written to
 * the connection; -ENOTCONN if not connected; -ETIMEDOUT (@err says what it
 * waited for, exit TB_EXIT_CHECK) when the guest has not read its serial
 * console by then: what was queued stays queued and goes out, in order,
 * if the guest reads again on this connection; -ECONNRESET if the
 * connection dropped meanwhile; another negative errno if a write failed.
 */
int console_send_until(struct console *c, const char *text, size_t len, int64_t deadline_ns,
		       struct tb_err *err);

/*
 * A typed command is tens of bytes, and the socket and QEMU hold far more
 * than that: a guest that has not taken it in 5 s has stopped reading.
 */
#define CONSOLE_SEND_TIMEOUT_NS (5 * 1000000000LL)

/* console_send_until() with a deadline CONSOLE_SEND_TIMEOUT_NS from now. */
int console_send(struct console *c, const char *text, size_t len, struct tb_err *err);

/*
 * Let terminals watch the console while it is ours: a unix socket at @path
 * (mode 0600) gets every byte the guest sends, and what a viewer types goes
 * to the guest.  QEMU serves one telnet client per port, so this is how
 * `twinbench console` attaches during a run.  Removed by console_close().
 */
int console_serve(struct console *c, const char *path, struct tb_err *err);

/*
 * Drop the connection, if there is one: the reader dials again (the dial
 * function may have another port to give by then).  For a port that turned
 * out to be someone else's.
 */
void console_redial(struct console *c);

/*
 * Connections after the first: a dropped connection dialled again, or a
 * new QEMU on the same port (a reboot).  What the guest printed while
 * nobody was connected is lost; the lines before are kept.
 */
int console_reconnects(struct console *c);

/* The name it was opened with ("a", "b", "standby"). */
const char *console_name(const struct console *c);

/* Wait until connected or @deadline_ns; 0 or -ETIMEDOUT. */
int console_wait_connected(struct console *c, int64_t deadline_ns);

/* Connections made so far, the first included. */
int console_connections(struct console *c);

/*
 * Wait until connected by a connection made after the first @connections
 * (console_connections() before the guest moved to other ports), or
 * @deadline_ns; 0 or -ETIMEDOUT.
 */
int console_wait_connected_after(struct console *c, int connections, int64_t deadline_ns);

/* The last @n completed lines (plus the unfinished one) joined with '\n', malloc'd. */
char *console_tail(struct console *c, size_t n);

#endif
