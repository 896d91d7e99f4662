/*
 * capture.c - the downtime read back with libpcap from a capture of the
 * probe's packets: Ethernet (or Linux cooked) frames, IPv4, UDP, and the
 * probe's own words ("TB1 <seq>" and the agent's reply).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "monotime.h"
#include "probe.h"

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_VLAN 0x8100 /* 802.1Q */
#define ETHERTYPE_QINQ 0x88a8 /* 802.1ad */
#define IPPROTO_UDP_   17
#define IPV4_MIN_HDR   20
#define UDP_HDR	       8

/* ---- reading the capture -------------------------------------------------- */

enum packet_kind { PKT_OTHER, PKT_MALFORMED, PKT_REQUEST, PKT_REPLY };

/* A probe packet on the wire. */
struct wire_packet {
	int64_t t_ns; /* the capture's stamp (CLOCK_REALTIME): differences only */
	size_t order; /* position in the file, which breaks ties */
	uint64_t seq;
	bool reply;
};

/* Which packets are the probe's. */
struct wire_filter {
	uint16_t port;
	bool any_host;
	uint8_t host[4]; /* the agent's address, network order */
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* "TB1 <seq>", nothing before or after; 0 or -1. */
static int parse_request(const uint8_t *p, size_t len, uint64_t *seq)
{
	char buf[32], *end;
	unsigned long long v;

	if (len < 5 || len >= sizeof(buf) || memcmp(p, "TB1 ", 4) != 0 || p[4] < '0' || p[4] > '9')
		return -1;
	memcpy(buf, p, len);
	buf[len] = '\0';
	errno = 0;
	v = strtoull(buf + 4, &end, 10);
	if (errno || end != buf + len)
		return -1;
	*seq = v;
	return 0;
}

/* Decode one frame down to the probe's payload. */
static enum packet_kind decode(int linktype, const uint8_t *p, size_t caplen,
			       const struct wire_filter *f, uint64_t *seq)
{
	size_t off, ihl, total, udplen;
	uint16_t type, sport, dport;
	const uint8_t *ip, *udp;
	struct probe_record rec;

	if (linktype == DLT_LINUX_SLL) {
		if (caplen < 16)
			return PKT_MALFORMED;
		type = get16(p + 14);
		off = 16;
	} else {
		if (caplen < 14)
			return PKT_MALFORMED;
		type = get16(p + 12);
		off = 14;
		/* Up to two VLAN tags (QinQ). */
		for (int i = 0; i < 2 && (type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ); i++) {
			if (caplen < off + 4)
				return PKT_MALFORMED;
			type = get16(p + off + 2);
			off += 4;
		}
	}
	if (type != ETHERTYPE_IPV4)
		return PKT_OTHER;
	if (caplen < off + IPV4_MIN_HDR)
		return PKT_MALFORMED;
	ip = p + off;
	ihl = (size_t)(ip[0] & 0x0f) * 4;
	total = get16(ip + 2);
	if (ip[0] >> 4 != 4 || ihl < IPV4_MIN_HDR || total < ihl)
		return PKT_MALFORMED;
	/* Not UDP, or a fragment (offset or more-fragments set): not a probe datagram. */
	if (ip[9] != IPPROTO_UDP_ || (get16(ip + 6) & 0x3fff) != 0)
		return PKT_OTHER;
	if (caplen < off + total || total < ihl + UDP_HDR)
		return PKT_MALFORMED;
	udp = ip + ihl;
	sport = get16(udp);
	dport = get16(udp + 2);
	udplen = get16(udp + 4);
	if (sport == f->port && (f->any_host || !memcmp(ip + 12, f->host, 4))) {
		if (udplen < UDP_HDR || udplen > total - ihl ||
		    probe_parse_reply((const char *)udp + UDP_HDR, udplen - UDP_HDR, &rec) != 0)
			return PKT_MALFORMED;
		*seq = rec.seq;
		return PKT_REPLY;
	}
	if (dport == f->port && (f->any_host || !memcmp(ip + 16, f->host, 4))) {
		if (udplen < UDP_HDR || udplen > total - ihl ||
		    parse_request(udp + UDP_HDR, udplen - UDP_HDR, seq) != 0)
			return PKT_MALFORMED;
		return PKT_REQUEST;
	}
	return PKT_OTHER;
}

static int by_wire_time(const void *a, const void *b)
{
	const struct wire_packet *x = a, *y = b;

	if (x->t_ns != y->t_ns)
		return x->t_ns < y->t_ns ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int by_value(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The probe packets of @path, in wire order, into *out (to free); counts
 * into @res.  0 or -EINVAL / -ENOMEM with @err set.
 */
static int read_capture(const char *path, const struct wire_filter *f, struct wire_packet **out,
			size_t *nout, struct capture_result *res, struct tb_err *err)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	struct wire_packet *pk = NULL;
	size_t n = 0, cap = 0;
	struct pcap_pkthdr *hdr;
	const u_char *data;
	int linktype, rc;
	pcap_t *pc;
	FILE *file;

	file = fopen(path, "rb");
	if (!file) {
		tb_err_set(err, TB_EXIT_USAGE, "%s: cannot open: %s", path, strerror(errno));
		return -EINVAL;
	}
	/* Nanoseconds whatever the file holds: libpcap scales microsecond stamps. */
	pc = pcap_fopen_offline_with_tstamp_precision(file, PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (!pc) {
		fclose(file);
		tb_err_set(err, TB_EXIT_USAGE, "%s: not a capture file: %s", path, errbuf);
		return -EINVAL;
	}
	linktype = pcap_datalink(pc);
	if (linktype != DLT_EN10MB && linktype != DLT_LINUX_SLL) {
		const char *name = pcap_datalink_val_to_name(linktype);

		tb_err_set(err, TB_EXIT_USAGE, "%s: link type %s, not Ethernet or Linux cooked",
			   path, name ? name : "unknown");
		pcap_close(pc);
		return -EINVAL;
	}
	while ((rc = pcap_next_ex(pc, &hdr, &data)) == 1) {
		uint64_t seq = 0;
		enum packet_kind kind = decode(linktype, data, hdr->caplen, f, &seq);

		res->packets++;
		if (kind == PKT_OTHER) {
			res->other++;
			continue;
		}
		if (kind == PKT_MALFORMED) {
			res->malformed++;
			continue;
		}
		if (kind == PKT_REPLY)
			res->replies++;
		else
			res->requests++;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			struct wire_packet *grown = realloc(pk, ncap * sizeof(*pk));

			if (!grown) {
				free(pk);
				pcap_close(pc);
				tb_err_set(err, TB_EXIT_ENV, "%s: out of memory", path);
				return -ENOMEM;
			}
			pk = grown;
			cap = ncap;
		}
		pk[n] = (struct wire_packet){
		    .t_ns = (int64_t)hdr->ts.tv_sec * NS_PER_S + hdr->ts.tv_usec,
		    .order = res->packets,
		    .seq = seq,
		    .reply = kind == PKT_REPLY,
		};
		n++;
	}
	/* A file cut inside a packet (dumpcap killed): what came before still stands. */
	if (rc == PCAP_ERROR)
		res->truncated = true;
	pcap_close(pc);
	/* Replies can overtake each other, and stamps can tie: wire order, then file order. */
	if (n)
		qsort(pk, n, sizeof(*pk), by_wire_time);
	*out = pk;
	*nout = n;
	return 0;
}

/* Requests with seq in [from, to] on the wire, and how many of them no reply answers. */
static int count_lost(const struct wire_packet *pk, size_t n, uint64_t from, uint64_t to,
		      struct capture_result *res)
{
	uint64_t *req = malloc((n ? n : 1) * sizeof(*req)),
		 *rep = malloc((n ? n : 1) * sizeof(*rep));
	size_t nreq = 0, nrep = 0;

	if (!req || !rep) {
		free(req);
		free(rep);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (pk[i].reply)
			rep[nrep++] = pk[i].seq;
		else if (pk[i].seq >= from && pk[i].seq <= to)
			req[nreq++] = pk[i].seq;
	}
	qsort(req, nreq, sizeof(*req), by_value);
	qsort(rep, nrep, sizeof(*rep), by_value);
	for (size_t i = 0; i < nreq; i++) {
		if (i && req[i] == req[i - 1])
			continue;
		res->sent++;
		if (!bsearch(&req[i], rep, nrep, sizeof(*rep), by_value))
			res->lost++;
	}
	free(req);
	free(rep);
	return 0;
}

int capture_analyse(const struct capture_spec *spec, uint64_t from_seq, uint64_t to_seq,
		    struct capture_result *res, struct tb_err *err)
{
	struct wire_filter f = {.port = (uint16_t)spec->port, .any_host = !spec->host};
	struct wire_packet *pk = NULL;
	size_t n = 0, first, anchor = SIZE_MAX, prev;
	int64_t end = INT64_MIN;
	bool back = false;
	int rc;

	memset(res, 0, sizeof(*res));
	if (spec->port < 1 || spec->port > 65535 || from_seq > to_seq ||
	    (spec->host && inet_pton(AF_INET, spec->host, f.host) != 1)) {
		tb_err_set(err, TB_EXIT_USAGE,
			   "capture: bad analysis of %s: port %d, host %s, seq %llu to %llu",
			   spec->path, spec->port, spec->host ? spec->host : "any",
			   (unsigned long long)from_seq, (unsigned long long)to_seq);
		return -EINVAL;
	}
	rc = read_capture(spec->path, &f, &pk, &n, res, err);
	if (rc != 0)
		return rc;
	if (n == 0) {
		rc = -ENODATA;
		if (res->packets == 0)
			tb_err_set(err, TB_EXIT_ENV, "%s: the capture holds no packets",
				   spec->path);
		else
			tb_err_set(err, TB_EXIT_ENV,
				   "%s: none of its %zu packets is the probe's (UDP port %d%s%s): "
				   "was dumpcap on the probe's interface?",
				   spec->path, res->packets, spec->port,
				   spec->host ? ", host " : "", spec->host ? spec->host : "");
		goto out;
	}
	rc = count_lost(pk, n, from_seq, to_seq, res);
	if (rc != 0) {
		tb_err_set(err, TB_EXIT_ENV, "%s: out of memory", spec->path);
		goto out;
	}
	/* The window opens with the first request of it on the wire. */
	for (first = 0; first < n; first++)
		if (!pk[first].reply && pk[first].seq >= from_seq)
			break;
	if (first == n) {
		rc = -ENOENT;
		tb_err_set(err, TB_EXIT_CHECK, "%s: no request with seq >= %llu on the wire",
			   spec->path, (unsigned long long)from_seq);
		goto out;
	}
	for (size_t i = 0; i < first; i++)
		if (pk[i].reply && pk[i].seq <= to_seq)
			anchor = i;
	if (anchor == SIZE_MAX) {
		rc = -ENOENT;
		tb_err_set(err, TB_EXIT_CHECK, "%s: no reply on the wire before request %llu",
			   spec->path, (unsigned long long)pk[first].seq);
		goto out;
	}
	res->before_seq = pk[anchor].seq;
	prev = anchor;
	for (size_t i = anchor + 1; i < n; i++) {
		int64_t gap;

		if (!pk[i].reply) {
			if (pk[i].seq <= to_seq)
				end = pk[i].t_ns;
			continue;
		}
		if (pk[i].seq > to_seq)
			continue;
		gap = pk[i].t_ns - pk[prev].t_ns;
		if (!back || gap > res->gap_ns) {
			res->gap_ns = gap;
			res->before_seq = pk[prev].seq;
			res->after_seq = pk[i].seq;
		}
		back = true;
		prev = i;
	}
	/* A silence still open at the last request that is longer: the service is not back. */
	if (!back || (end != INT64_MIN && end - pk[prev].t_ns > res->gap_ns)) {
		res->gap_ns = 0;
		res->before_seq = pk[prev].seq;
		res->after_seq = 0;
		rc = -ETIMEDOUT;
		tb_err_set(err, TB_EXIT_CHECK, "%s: no reply on the wire after the one to %llu",
			   spec->path, (unsigned long long)pk[prev].seq);
	}
out:
	free(pk);
	return rc;
}

bool capture_agrees(int64_t capture_ns, int64_t probe_ns, int64_t interval_ns)
{
	int64_t d = capture_ns - probe_ns;

	return (d < 0 ? -d : d) <= interval_ns;
}
