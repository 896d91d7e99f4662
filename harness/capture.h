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

/* Which capture, and which of its packets are the probe's. */
struct capture_spec {
	const char *host; /* the agent's IPv4 address; NULL: any host */
	int port;	  /* the agent's UDP port */
	const char *path; /* the capture file (pcapng or pcap) */
};

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
