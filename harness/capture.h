/*
 * capture.h - an independent witness of the probe's traffic.
 *
 * Debian's dumpcap records the probe's requests and the agent's replies
 * where they cross the wire (the lab's bridge, inside the lab's network
 * namespace, or an interface the caller names), and the downtime is worked
 * out again from that file: a yardstick for the probe's own figure that
 * does not share its socket, its thread or its clock.
 *
 * The capture's stamps are the capturing kernel's CLOCK_REALTIME and cannot
 * be mixed with the harness's CLOCK_MONOTONIC: the window analysed is given
 * as probe sequence numbers, and only durations come out.
 */
#ifndef TB_CAPTURE_H
#define TB_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* What to capture, and where: for capture_start() and capture_analyse() alike. */
struct capture_spec {
	const char *netns; /* network namespace (/run/netns/NAME) to capture in; NULL: ours */
	const char *iface; /* interface the probe's packets cross (the lab: LAB_BRIDGE) */
	const char *host;  /* the agent's IPv4 address; NULL: any host */
	int port;	   /* the agent's UDP port */
	const char *path;  /* the file dumpcap writes (pcapng), the analysis reads */
};

/* dumpcap's command line; argv points into filter and into the spec's strings. */
struct capture_cmd {
	char *argv[16];
	char filter[64];
};

/*
 * Build dumpcap's arguments for @spec: -i IFACE -p -n -q -f FILTER -w PATH,
 * argv[0] "dumpcap".  0, or -1 with TB_EXIT_USAGE if the spec is not one
 * (no interface, a port out of range, a host that is not an IPv4 address).
 */
int capture_command(const struct capture_spec *spec, struct capture_cmd *cmd, struct tb_err *err);

struct capture;

/*
 * Start dumpcap as @spec says and return once it is capturing (the file
 * exists with its header, written after the interface is open and the
 * filter set): tens of milliseconds.  An existing file at spec->path is
 * replaced.  NULL with @err set on failure (TB_EXIT_USAGE for a bad spec,
 * else TB_EXIT_ENV), with no child and no file left.  dumpcap gets SIGTERM
 * when the thread that started it ends (PR_SET_PDEATHSIG): start and stop
 * it from the same thread.
 */
struct capture *capture_start(const struct capture_spec *spec, struct tb_err *err);

/* What dumpcap said it saw when it stopped; -1: it did not say. */
struct capture_stats {
	long long received; /* packets the filter let through */
	long long dropped;  /* of those, lost before dumpcap wrote them */
};

/*
 * Let dumpcap write what it still holds (half a second), stop it (SIGTERM,
 * SIGKILL if it does not exit) and free @c; NULL is a no-op.  @stats (may
 * be NULL) gets its counts.  0, or -1 with @err holding dumpcap's stderr
 * if it failed or had stopped by itself; the file stays either way.
 */
int capture_stop(struct capture *c, struct capture_stats *stats, struct tb_err *err);

/* Read dumpcap's closing "received/dropped" line out of @text; 0, or -1 if absent. */
int capture_parse_stats(const char *text, struct capture_stats *stats);

/* The capture's view of one window (capture_analyse). */
struct capture_result {
	int64_t gap_ns;	     /* the longest interval between replies on the wire */
	uint64_t before_seq; /* seq of the reply before that gap */
	uint64_t after_seq;  /* seq of the reply after it */
	size_t packets;	     /* every packet in the file */
	size_t requests;     /* of those, probe requests */
	size_t replies;	     /* of those, the agent's replies */
	size_t other;	     /* of those, not the probe's (other hosts, ports, protocols) */
	size_t malformed;    /* of those, cut short or undecodable */
	size_t sent;	     /* distinct requests on the wire with seq in [from_seq, to_seq] */
	size_t lost;	     /* of those, never answered on the wire */
	bool truncated;	     /* the file ends inside a packet: read up to there */
};

/*
 * The downtime as the capture at spec->path shows it: the longest interval
 * between consecutive replies (port spec->port, from spec->host if set),
 * anchored at the last reply before the first request with seq >= @from_seq
 * and ending with the replies to requests up to @to_seq (UINT64_MAX: to the
 * end).  Replies are taken in wire order, whatever their seq.
 *
 * Returns 0; -EINVAL (TB_EXIT_USAGE) if the file cannot be read as a
 * capture; -ENODATA (TB_EXIT_ENV) if it holds no probe packets; -ENOENT
 * (TB_EXIT_CHECK) if no request at or after @from_seq, or no reply before
 * it, is on the wire; -ETIMEDOUT (TB_EXIT_CHECK) if the service is not back
 * in the capture (res->before_seq is its last reply).  @err is set on any
 * failure; @res is filled as far as the file allowed.
 */
int capture_analyse(const struct capture_spec *spec, uint64_t from_seq, uint64_t to_seq,
		    struct capture_result *res, struct tb_err *err);

/* The two yardsticks agree: they differ by no more than one probe interval. */
bool capture_agrees(int64_t capture_ns, int64_t probe_ns, int64_t interval_ns);

#endif
