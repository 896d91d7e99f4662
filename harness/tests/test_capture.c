/*
 * test_capture.c - the capture's downtime on captures written here by hand
 * (libpcap's pcap_open_dead + pcap_dump, every frame built byte by byte),
 * on one real dumpcap capture (fixtures/capture), dumpcap's command line,
 * and starting and stopping a fake dumpcap (a shell script), so that no
 * test needs a network, an interface or the lab.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cmocka.h>

#include "capture.h"
#include "monotime.h"
#include "testlib.h"

#define AGENT	    "10.213.0.10" /* the guest */
#define OTHER_AGENT "10.213.0.11" /* another run's guest on the same bridge */
#define HOST	    "10.213.0.1"  /* the probe's side of the bridge */
#define PORT	    7777
#define PROBE_PORT  40000 /* the probe socket's ephemeral port */

/* Capture stamps are wall-clock time: any second far from the epoch. */
#define T0 ((int64_t)1700000000 * NS_PER_S)

#define BOOT_A "11111111-1111-4111-8111-111111111111"

static char tmpdir[64];

static int setup(void **state)
{
	(void)state;
	return tl_mkdtemp("/tmp/test_capture.XXXXXX", tmpdir, sizeof(tmpdir));
}

static int teardown(void **state)
{
	(void)state;
	return tl_rmtree(tmpdir);
}

/* ------------------------------------------------------------------------ */
/* Writing captures                                                          */

struct writer {
	pcap_t *dead;
	pcap_dumper_t *dump;
	int linktype;
};

static void w_open(struct writer *w, const char *path, int linktype)
{
	w->linktype = linktype;
	w->dead = pcap_open_dead_with_tstamp_precision(linktype, 65535, PCAP_TSTAMP_PRECISION_NANO);
	assert_non_null(w->dead);
	w->dump = pcap_dump_open(w->dead, path);
	assert_non_null(w->dump);
}

static void w_close(struct writer *w)
{
	pcap_dump_close(w->dump);
	pcap_close(w->dead);
}

/* A frame of @len bytes stamped @t, of which only @caplen are in the file. */
static void w_frame(struct writer *w, int64_t t, const uint8_t *buf, size_t len, size_t caplen)
{
	struct pcap_pkthdr h = {.caplen = (bpf_u_int32)caplen, .len = (bpf_u_int32)len};

	/* Nanosecond precision: tv_usec holds nanoseconds. */
	h.ts.tv_sec = t / NS_PER_S;
	h.ts.tv_usec = t % NS_PER_S;
	pcap_dump((u_char *)w->dump, &h, buf);
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The link header for an IPv4 packet (or @type) on @w's link; its length. */
static size_t link_header(const struct writer *w, uint8_t *buf, unsigned type)
{
	static const uint8_t macs[12] = {0x52, 0x54, 0x00, 0xd5, 0x00, 0x00,
					 0x02, 0x00, 0x00, 0x00, 0x00, 0x01};

	if (w->linktype == DLT_LINUX_SLL) {
		memset(buf, 0, 16);
		put16(buf + 2, 772); /* ARPHRD_ETHER */
		put16(buf + 4, 6);
		memcpy(buf + 6, macs, 6);
		put16(buf + 14, type);
		return 16;
	}
	memcpy(buf, macs, 12);
	put16(buf + 12, type);
	return 14;
}

/* An IPv4 + UDP datagram at @buf carrying @payload; its length. */
static size_t ipv4_udp(uint8_t *buf, const char *src, unsigned sport, const char *dst,
		       unsigned dport, const char *payload, size_t plen)
{
	size_t total = 20 + 8 + plen;
	unsigned sum = 0;

	memset(buf, 0, 28);
	buf[0] = 0x45;
	put16(buf + 2, (unsigned)total);
	put16(buf + 6, 0x4000); /* don't fragment */
	buf[8] = 64;
	buf[9] = 17;
	assert_int_equal(inet_pton(AF_INET, src, buf + 12), 1);
	assert_int_equal(inet_pton(AF_INET, dst, buf + 16), 1);
	for (int i = 0; i < 20; i += 2)
		sum += (unsigned)(buf[i] << 8 | buf[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	put16(buf + 10, ~sum & 0xffff);
	put16(buf + 20, sport);
	put16(buf + 22, dport);
	put16(buf + 24, (unsigned)(8 + plen));
	memcpy(buf + 28, payload, plen);
	return total;
}

/* A UDP frame from @src:@sport to @dst:@dport, written whole. */
static void put_udp(struct writer *w, int64_t t, const char *src, unsigned sport, const char *dst,
		    unsigned dport, const char *payload)
{
	uint8_t buf[512];
	size_t off = link_header(w, buf, 0x0800);
	size_t len = off + ipv4_udp(buf + off, src, sport, dst, dport, payload, strlen(payload));

	w_frame(w, t, buf, len, len);
}

static void put_request(struct writer *w, int64_t t, uint64_t seq)
{
	char payload[64];

	snprintf(payload, sizeof(payload), "TB1 %" PRIu64, seq);
	put_udp(w, t, HOST, PROBE_PORT, AGENT, PORT, payload);
}

static void put_reply_from(struct writer *w, int64_t t, uint64_t seq, const char *agent)
{
	char payload[128];

	snprintf(payload, sizeof(payload), "TB1 %" PRIu64 " %" PRIu64 " 6.1.0-old " BOOT_A "\n",
		 seq, seq + 1);
	put_udp(w, t, agent, PORT, HOST, PROBE_PORT, payload);
}

static void put_reply(struct writer *w, int64_t t, uint64_t seq)
{
	put_reply_from(w, t, seq, AGENT);
}

/* Request @seq leaves at T0 + seq ms. */
static int64_t t_req(uint64_t seq)
{
	return T0 + (int64_t)seq * NS_PER_MS;
}

/*
 * Its reply arrives after a latency that varies from one request to the
 * next, so that pairing the wrong two replies gives another gap.
 */
static int64_t t_rep(uint64_t seq)
{
	return t_req(seq) + 150 * NS_PER_US + (int64_t)(seq % 7) * 20 * NS_PER_US;
}

/* Requests 0 .. @n-1, one per ms; every one answered but those in [@lo, @hi). */
static void put_trace(struct writer *w, uint64_t n, uint64_t lo, uint64_t hi)
{
	for (uint64_t s = 0; s < n; s++) {
		put_request(w, t_req(s), s);
		if (s < lo || s >= hi)
			put_reply(w, t_rep(s), s);
	}
}

static struct capture_spec spec_of(const char *path)
{
	return (struct capture_spec){.iface = "tbbr0", .host = AGENT, .port = PORT, .path = path};
}

/* A capture of @n requests with the replies in [@lo, @hi) missing, at tmpdir/@name. */
static char *trace_file(const char *name, uint64_t n, uint64_t lo, uint64_t hi)
{
	char *path = tl_path(tmpdir, name);
	struct writer w;

	w_open(&w, path, DLT_EN10MB);
	put_trace(&w, n, lo, hi);
	w_close(&w);
	return path;
}

/* ------------------------------------------------------------------------ */
/* The downtime on the wire                                                  */

static void test_capture_gap_found_exactly(void **state)
{
	char *path = trace_file("gap.pcap", 100, 40, 60);
	struct capture_spec spec = spec_of(path);
	struct capture_result res;
	struct tb_err err;

	(void)state;
	assert_int_equal(capture_analyse(&spec, 10, UINT64_MAX, &res, &err), 0);
	assert_int_equal(res.gap_ns, t_rep(60) - t_rep(39));
	assert_int_equal(res.before_seq, 39);
	assert_int_equal(res.after_seq, 60);
	assert_int_equal(res.packets, 180);
	assert_int_equal(res.requests, 100);
	assert_int_equal(res.replies, 80);
	assert_int_equal(res.other, 0);
	assert_int_equal(res.malformed, 0);
	assert_int_equal(res.sent, 90); /* 10 .. 99 */
	assert_int_equal(res.lost, 20);
	assert_false(res.truncated);
}

static void test_capture_window_is_given_in_probe_seqs(void **state)
{
	struct capture_result res;
	struct capture_spec spec;
	struct tb_err err;
	struct writer w;
	char *path = tl_path(tmpdir, "two-gaps.pcap");

	(void)state;
	/* A short gap (replies 20..24 missing) and a long one (60..79). */
	w_open(&w, path, DLT_EN10MB);
	for (uint64_t s = 0; s < 100; s++) {
		put_request(&w, t_req(s), s);
		if ((s < 20 || s >= 25) && (s < 60 || s >= 80))
			put_reply(&w, t_rep(s), s);
	}
	w_close(&w);
	spec = spec_of(path);

	/* The whole capture: the long gap. */
	assert_int_equal(capture_analyse(&spec, 1, UINT64_MAX, &res, &err), 0);
	assert_int_equal(res.before_seq, 59);
	assert_int_equal(res.after_seq, 80);
	assert_int_equal(res.gap_ns, t_rep(80) - t_rep(59));

	/* Closed at request 50: only the short gap is inside. */
	assert_int_equal(capture_analyse(&spec, 1, 50, &res, &err), 0);
	assert_int_equal(res.before_seq, 19);
	assert_int_equal(res.after_seq, 25);
	assert_int_equal(res.gap_ns, t_rep(25) - t_rep(19));
	assert_int_equal(res.sent, 50);
	assert_int_equal(res.lost, 5);

	/* Opened inside the short gap: anchored at the last reply before request 22. */
	assert_int_equal(capture_analyse(&spec, 22, 50, &res, &err), 0);
	assert_int_equal(res.before_seq, 19);
	assert_int_equal(res.after_seq, 25);

	/* Between the gaps: one interval, give or take the latencies. */
	assert_int_equal(capture_analyse(&spec, 30, 50, &res, &err), 0);
	assert_true(res.gap_ns > 800 * NS_PER_US && res.gap_ns < 1200 * NS_PER_US);
	assert_int_equal(res.sent, 21);
	assert_int_equal(res.lost, 0);
}

static void test_capture_replies_out_of_order(void **state)
{
	char *path = tl_path(tmpdir, "reordered.pcap");
	struct capture_spec spec = spec_of(path);
	struct capture_result res;
	struct tb_err err;
	struct writer w;

	(void)state;
	w_open(&w, path, DLT_EN10MB);
	for (uint64_t s = 0; s < 100; s++) {
		put_request(&w, t_req(s), s);
		/* Reply 39 is written late (below); replies 40..59 never come. */
		if (s < 39 || s > 60)
			put_reply(&w, t_rep(s), s);
		/* After the gap, reply 61 overtakes reply 60. */
		if (s == 61)
			put_reply(&w, t_rep(61) + 400 * NS_PER_US, 60);
	}
	/* A stamp out of file order: the file is read in wire order. */
	put_reply(&w, t_rep(39), 39);
	w_close(&w);

	assert_int_equal(capture_analyse(&spec, 10, UINT64_MAX, &res, &err), 0);
	assert_int_equal(res.before_seq, 39);
	assert_int_equal(res.after_seq, 61);
	assert_int_equal(res.gap_ns, t_rep(61) - t_rep(39));
	assert_int_equal(res.replies, 80);
}

static void test_capture_non_probe_packets_ignored(void **state)
{
	char *path = tl_path(tmpdir, "others.pcap");
	struct capture_spec spec = spec_of(path);
	struct capture_result res;
	struct tb_err err;
	struct writer w;
	uint8_t buf[128];
	size_t off;

	(void)state;
	w_open(&w, path, DLT_EN10MB);
	for (uint64_t s = 0; s < 100; s++) {
		put_request(&w, t_req(s), s);
		if (s < 40 || s >= 60)
			put_reply(&w, t_rep(s), s);
		if (s != 50)
			continue;
		/* Inside the gap, what would close it if it were taken for the probe's: */
		/* another guest's agent, answering another run's probe; */
		put_reply_from(&w, t_rep(s), s, OTHER_AGENT);
		/* DNS; */
		put_udp(&w, t_rep(s), AGENT, 53, HOST, 5353, "TB1 50 51 x y");
		/* the probe's port, but TCP; */
		off = link_header(&w, buf, 0x0800);
		ipv4_udp(buf + off, AGENT, PORT, HOST, PROBE_PORT, "TB1 50 51 a b\n", 14);
		buf[off + 9] = 6;
		w_frame(&w, t_rep(s), buf, off + 42, off + 42);
		/* a fragment; */
		off = link_header(&w, buf, 0x0800);
		ipv4_udp(buf + off, AGENT, PORT, HOST, PROBE_PORT, "TB1 50 51 a b\n", 14);
		put16(buf + off + 6, 0x2000); /* more fragments */
		w_frame(&w, t_rep(s), buf, off + 42, off + 42);
		/* ARP and IPv6. */
		memset(buf, 0xab, sizeof(buf));
		off = link_header(&w, buf, 0x0806);
		w_frame(&w, t_rep(s), buf, off + 28, off + 28);
		off = link_header(&w, buf, 0x86dd);
		w_frame(&w, t_rep(s), buf, off + 48, off + 48);
	}
	w_close(&w);

	assert_int_equal(capture_analyse(&spec, 10, UINT64_MAX, &res, &err), 0);
	assert_int_equal(res.before_seq, 39);
	assert_int_equal(res.after_seq, 60);
	assert_int_equal(res.gap_ns, t_rep(60) - t_rep(39));
	assert_int_equal(res.other, 6);
	assert_int_equal(res.malformed, 0);
	assert_int_equal(res.packets, 186);

	/* Without a host, the other guest's reply is the probe's: the gap splits. */
	spec.host = NULL;
	assert_int_equal(capture_analyse(&spec, 10, UINT64_MAX, &res, &err), 0);
	assert_int_equal(res.other, 5);
	assert_int_equal(res.replies, 81);
	assert_true(res.gap_ns < t_rep(60) - t_rep(39));
}

static void test_capture_truncated_and_garbage_packets_ignored(void **state)
{
	char *path = tl_path(tmpdir, "garbage.pcap");
	struct capture_spec spec = spec_of(path);
	struct capture_result res;
	struct tb_err err;
	struct writer w;
	uint8_t buf[256];
	size_t off, len;
	const char *reply = "TB1 50 51 6.1.0-old " BOOT_A "\n";

	(void)state;
	w_open(&w, path, DLT_EN10MB);
	for (uint64_t s = 0; s < 100; s++) {
		put_request(&w, t_req(s), s);
		if (s < 40 || s >= 60)
			put_reply(&w, t_rep(s), s);
		if (s != 50)
			continue;
		/* A reply inside the gap, cut short by the snap length. */
		off = link_header(&w, buf, 0x0800);
		len =
		    off + ipv4_udp(buf + off, AGENT, PORT, HOST, PROBE_PORT, reply, strlen(reply));
		w_frame(&w, t_rep(s), buf, len, off + 30);
		/* Ten bytes of nothing. */
		memset(buf, 0, sizeof(buf));
		w_frame(&w, t_rep(s), buf, 10, 10);
		/* An IPv4 header five bytes long. */
		off = link_header(&w, buf, 0x0800);
		len =
		    off + ipv4_udp(buf + off, AGENT, PORT, HOST, PROBE_PORT, reply, strlen(reply));
		buf[off] = 0x41;
		w_frame(&w, t_rep(s), buf, len, len);
		/* A UDP length past the end of the IP packet. */
		off = link_header(&w, buf, 0x0800);
		len =
		    off + ipv4_udp(buf + off, AGENT, PORT, HOST, PROBE_PORT, reply, strlen(reply));
		put16(buf + off + 24, 200);
		w_frame(&w, t_rep(s), buf, len, len);
		/* The agent's port, but not the agent's words. */
		put_udp(&w, t_rep(s), AGENT, PORT, HOST, PROBE_PORT, "TB1 50 51 x\n");
		put_udp(&w, t_rep(s), AGENT, PORT, HOST, PROBE_PORT, "hello");
		put_udp(&w, t_req(s), HOST, PROBE_PORT, AGENT, PORT, "TB1 5x");
		put_udp(&w, t_req(s), HOST, PROBE_PORT, AGENT, PORT, "TB1 99999999999999999999999");
	}
	w_close(&w);

	assert_int_equal(capture_analyse(&spec, 10, UINT64_MAX, &res, &err), 0);
	assert_int_equal(res.before_seq, 39);
	assert_int_equal(res.after_seq, 60);
	assert_int_equal(res.gap_ns, t_rep(60) - t_rep(39));
	assert_int_equal(res.malformed, 8);
	assert_int_equal(res.requests, 100);
	assert_int_equal(res.replies, 80);
}

static void test_capture_vlan_and_linux_cooked_frames_decode(void **state)
{
	char *vlan = tl_path(tmpdir, "vlan.pcap"), *sll = tl_path(tmpdir, "sll.pcap");
	struct capture_spec spec = spec_of(vlan);
	struct capture_result res;
	struct tb_err err;
	struct writer w;
	uint8_t buf[256];
	size_t len;

	(void)state;
	w_open(&w, sll, DLT_LINUX_SLL);
	put_trace(&w, 100, 40, 60);
	w_close(&w);
	spec.path = sll;
	assert_int_equal(capture_analyse(&spec, 10, UINT64_MAX, &res, &err), 0);
	assert_int_equal(res.gap_ns, t_rep(60) - t_rep(39));

	/* Every frame with an 802.1Q tag: TPID, TCI, then the real type. */
	w_open(&w, vlan, DLT_EN10MB);
	for (uint64_t s = 0; s < 100; s++) {
		char payload[128];

		for (int reply = 0; reply < 2; reply++) {
			if (reply && s >= 40 && s < 60)
				continue;
			if (reply)
				snprintf(payload, sizeof(payload),
					 "TB1 %" PRIu64 " 1 6.1.0-old " BOOT_A "\n", s);
			else
				snprintf(payload, sizeof(payload), "TB1 %" PRIu64, s);
			link_header(&w, buf, 0x8100);
			put16(buf + 14, 42);
			put16(buf + 16, 0x0800);
			len = 18 + (reply ? ipv4_udp(buf + 18, AGENT, PORT, HOST, PROBE_PORT,
						     payload, strlen(payload))
					  : ipv4_udp(buf + 18, HOST, PROBE_PORT, AGENT, PORT,
						     payload, strlen(payload)));
			w_frame(&w, reply ? t_rep(s) : t_req(s), buf, len, len);
		}
	}
	w_close(&w);
	spec.path = vlan;
	assert_int_equal(capture_analyse(&spec, 10, UINT64_MAX, &res, &err), 0);
	assert_int_equal(res.gap_ns, t_rep(60) - t_rep(39));
	assert_int_equal(res.malformed + res.other, 0);
}

static void test_capture_service_not_back(void **state)
{
	char *path = trace_file("not-back.pcap", 100, 40, 100);
	struct capture_spec spec = spec_of(path);
	struct capture_result res;
	struct tb_err err;
	struct writer w;

	(void)state;
	assert_int_equal(capture_analyse(&spec, 10, UINT64_MAX, &res, &err), -ETIMEDOUT);
	assert_int_equal(err.exit, TB_EXIT_CHECK);
	assert_int_equal(res.before_seq, 39);
	assert_int_equal(res.gap_ns, 0);

	/* Back for a moment after a short gap, then silent for longer: still not back. */
	path = tl_path(tmpdir, "brief-return.pcap");
	spec.path = path;
	w_open(&w, path, DLT_EN10MB);
	for (uint64_t s = 0; s < 100; s++) {
		put_request(&w, t_req(s), s);
		if (s < 40 || (s >= 45 && s < 50))
			put_reply(&w, t_rep(s), s);
	}
	w_close(&w);
	assert_int_equal(capture_analyse(&spec, 10, UINT64_MAX, &res, &err), -ETIMEDOUT);
	assert_int_equal(res.before_seq, 49);
	/* Up to request 52 the short gap is the longest: the service is back in that window. */
	assert_int_equal(capture_analyse(&spec, 10, 52, &res, &err), 0);
	assert_int_equal(res.before_seq, 39);
	assert_int_equal(res.after_seq, 45);
}

static void test_capture_window_outside_the_capture(void **state)
{
	char *path = trace_file("window.pcap", 100, 40, 60);
	struct capture_spec spec = spec_of(path);
	struct capture_result res;
	struct tb_err err;

	(void)state;
	/* Request 0 is the first packet: no reply came before it. */
	assert_int_equal(capture_analyse(&spec, 0, UINT64_MAX, &res, &err), -ENOENT);
	assert_int_equal(err.exit, TB_EXIT_CHECK);
	assert_non_null(strstr(err.msg, "before request 0"));
	/* The capture ended before the window opened. */
	assert_int_equal(capture_analyse(&spec, 500, UINT64_MAX, &res, &err), -ENOENT);
	assert_non_null(strstr(err.msg, ">= 500"));
	assert_non_null(strstr(err.msg, path));
	/* A window that closes before it opens is the caller's mistake. */
	assert_int_equal(capture_analyse(&spec, 50, 40, &res, &err), -EINVAL);
	assert_int_equal(err.exit, TB_EXIT_USAGE);
}

static void test_capture_empty_capture_is_an_error(void **state)
{
	char *path = tl_path(tmpdir, "empty.pcap");
	struct capture_spec spec = spec_of(path);
	struct capture_result res;
	struct tb_err err;
	struct writer w;

	(void)state;
	w_open(&w, path, DLT_EN10MB);
	w_close(&w);
	assert_int_equal(capture_analyse(&spec, 0, UINT64_MAX, &res, &err), -ENODATA);
	assert_int_equal(err.exit, TB_EXIT_ENV);
	assert_non_null(strstr(err.msg, path));
	assert_non_null(strstr(err.msg, "no packets"));

	/* Packets, but none of them the probe's. */
	w_open(&w, path, DLT_EN10MB);
	put_udp(&w, T0, AGENT, 53, HOST, 5353, "dns");
	w_close(&w);
	assert_int_equal(capture_analyse(&spec, 0, UINT64_MAX, &res, &err), -ENODATA);
	assert_int_equal(err.exit, TB_EXIT_ENV);
	assert_int_equal(res.packets, 1);
	assert_int_equal(res.other, 1);
	assert_non_null(strstr(err.msg, "port 7777"));
}

static void test_capture_not_a_pcap_is_an_error(void **state)
{
	char *path = tl_path(tmpdir, "probe.csv");
	struct capture_spec spec = spec_of(path);
	struct capture_result res;
	struct tb_err err;

	(void)state;
	assert_int_equal(tl_write_file(path, "event,rep,seq,t_ns,counter,release,boot_id\n"), 0);
	assert_int_equal(capture_analyse(&spec, 0, UINT64_MAX, &res, &err), -EINVAL);
	assert_int_equal(err.exit, TB_EXIT_USAGE);
	assert_non_null(strstr(err.msg, path));
	assert_non_null(strstr(err.msg, "not a capture file"));

	spec.path = tl_path(tmpdir, "absent.pcapng");
	assert_int_equal(capture_analyse(&spec, 0, UINT64_MAX, &res, &err), -EINVAL);
	assert_int_equal(err.exit, TB_EXIT_USAGE);
	assert_non_null(strstr(err.msg, "absent.pcapng"));
}

static void test_capture_unsupported_link_type_is_an_error(void **state)
{
	char *path = tl_path(tmpdir, "raw.pcap");
	struct capture_spec spec = spec_of(path);
	struct capture_result res;
	struct tb_err err;
	struct writer w;

	(void)state;
	w_open(&w, path, DLT_RAW);
	w_close(&w);
	assert_int_equal(capture_analyse(&spec, 0, UINT64_MAX, &res, &err), -EINVAL);
	assert_int_equal(err.exit, TB_EXIT_USAGE);
	assert_non_null(strstr(err.msg, "RAW"));
}

static void test_capture_file_cut_inside_a_packet_is_read_up_to_the_cut(void **state)
{
	char *path = trace_file("cut.pcap", 100, 40, 60);
	struct capture_spec spec = spec_of(path);
	struct capture_result res;
	struct tb_err err;
	struct stat st;

	(void)state;
	assert_int_equal(stat(path, &st), 0);
	/* Half of the last reply (99) is gone. */
	assert_int_equal(truncate(path, st.st_size - 40), 0);
	assert_int_equal(capture_analyse(&spec, 10, UINT64_MAX, &res, &err), 0);
	assert_true(res.truncated);
	assert_int_equal(res.replies, 79);
	assert_int_equal(res.before_seq, 39);
	assert_int_equal(res.after_seq, 60);
}

/*
 * A real capture: dumpcap 4.0.17 on a bridge in a namespace pair, the
 * probe and the agent both the harness's, the agent stopped for 50 ms
 * (fixtures/capture/README).  libpcap reads dumpcap's pcapng, and the
 * capture agrees with what the probe measured on that run.
 */
static void test_capture_reads_dumpcap_pcapng(void **state)
{
	struct capture_spec spec = {
	    .iface = "tbcbr0",
	    .host = "10.250.0.2",
	    .port = 7777,
	    .path = "harness/tests/fixtures/capture/stall-50ms.pcapng",
	};
	struct capture_result res;
	struct tb_err err;

	(void)state;
	if (capture_analyse(&spec, 21, UINT64_MAX, &res, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(res.gap_ns, 50565745);
	assert_int_equal(res.before_seq, 41);
	assert_int_equal(res.after_seq, 42);
	assert_int_equal(res.packets, 256);
	assert_int_equal(res.sent, 107);
	assert_int_equal(res.lost, 0);
	assert_int_equal(res.other + res.malformed, 0);
	assert_false(res.truncated);
	/* The probe's downtime on that run. */
	assert_true(capture_agrees(res.gap_ns, 50678489, NS_PER_MS));
}

static void test_capture_agreement_is_within_one_probe_interval(void **state)
{
	(void)state;
	assert_true(capture_agrees(21 * NS_PER_MS, 20 * NS_PER_MS, NS_PER_MS));
	assert_true(capture_agrees(19 * NS_PER_MS, 20 * NS_PER_MS, NS_PER_MS));
	assert_false(capture_agrees(21 * NS_PER_MS + 1, 20 * NS_PER_MS, NS_PER_MS));
	assert_false(capture_agrees(19 * NS_PER_MS - 1, 20 * NS_PER_MS, NS_PER_MS));
	assert_true(capture_agrees(0, 0, 0));
}

/* ------------------------------------------------------------------------ */
/* dumpcap's command line and its output                                     */

static void test_capture_command_is_dumpcap_on_iface_with_port_filter(void **state)
{
	struct capture_spec spec = {
	    .netns = "twinbench",
	    .iface = "tbbr0",
	    .host = AGENT,
	    .port = PORT,
	    .path = "/results/capture-3.pcapng",
	};
	const char *want[] = {"dumpcap", "-i",
			      "tbbr0",	 "-p",
			      "-n",	 "-q",
			      "-f",	 "udp port 7777 and host 10.213.0.10",
			      "-w",	 "/results/capture-3.pcapng",
			      NULL};
	struct capture_cmd cmd;
	struct tb_err err;
	size_t i;

	(void)state;
	assert_int_equal(capture_command(&spec, &cmd, &err), 0);
	for (i = 0; want[i]; i++)
		assert_string_equal(cmd.argv[i], want[i]);
	assert_null(cmd.argv[i]);

	spec.host = NULL;
	assert_int_equal(capture_command(&spec, &cmd, &err), 0);
	assert_string_equal(cmd.argv[7], "udp port 7777");
}

static void test_capture_command_refuses_what_is_not_a_spec(void **state)
{
	struct capture_spec good = {
	    .iface = "tbbr0", .host = AGENT, .port = PORT, .path = "/r/c.pcapng"};
	struct capture_spec bad[] = {
	    {.iface = NULL, .port = PORT, .path = "/r/c"},
	    {.iface = "", .port = PORT, .path = "/r/c"},
	    {.iface = "a/b", .port = PORT, .path = "/r/c"},
	    {.iface = "abcdefghijklmnop", .port = PORT, .path = "/r/c"}, /* 16 > IFNAMSIZ-1 */
	    {.iface = "tbbr0", .port = 0, .path = "/r/c"},
	    {.iface = "tbbr0", .port = 65536, .path = "/r/c"},
	    {.iface = "tbbr0", .port = PORT, .path = NULL},
	    {.iface = "tbbr0", .port = PORT, .path = "/r/c", .host = "10.0.0.1 or tcp"},
	    {.iface = "tbbr0", .port = PORT, .path = "/r/c", .host = "guest"},
	    {.iface = "tbbr0", .port = PORT, .path = "/r/c", .netns = "../twinbench"},
	};
	struct capture_cmd cmd;
	struct tb_err err;

	(void)state;
	assert_int_equal(capture_command(&good, &cmd, &err), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err.exit = TB_EXIT_OK;
		if (capture_command(&bad[i], &cmd, &err) != -1)
			fail_msg("spec %zu accepted", i);
		assert_int_equal(err.exit, TB_EXIT_USAGE);
	}
}

static void test_capture_stats_read_from_dumpcap_output(void **state)
{
	struct capture_stats st;

	(void)state;
	assert_int_equal(capture_parse_stats("Capturing on 'tbbr0'\nFile: /r/c.pcapng\n"
					     "\rPackets captured: 982\n"
					     "Packets received/dropped on interface 'tbbr0': 982/7 "
					     "(pcap:0/dumpcap:0/flushed:0/ps_ifdrop:0) (100.0%)\n",
					     &st),
			 0);
	assert_int_equal(st.received, 982);
	assert_int_equal(st.dropped, 7);
	assert_int_equal(capture_parse_stats("Capturing on 'tbbr0'\n", &st), -1);
	assert_int_equal(st.received, -1);
	assert_int_equal(st.dropped, -1);
}

/* ------------------------------------------------------------------------ */
/* Starting and stopping a fake dumpcap                                      */

/*
 * A dumpcap that writes its arguments to @dir/args, says @hello on stderr,
 * then does @body: a shell script in @dir, which the test puts first in PATH.
 */
static void fake_dumpcap(const char *dir, const char *body)
{
	char script[2048], *path = tl_path(dir, "dumpcap");

	snprintf(script, sizeof(script),
		 "#!/bin/sh\n"
		 "PATH=/usr/bin:/bin\n"
		 "printf '%%s\\n' \"$@\" > \"$(dirname \"$0\")/args\"\n"
		 "while [ $# -gt 0 ]; do [ \"$1\" = -w ] && out=$2; shift; done\n"
		 "echo \"Capturing on 'tbbr0'\" >&2\n"
		 "%s\n",
		 body);
	assert_int_equal(tl_write_file(path, script), 0);
	assert_int_equal(chmod(path, 0755), 0);
}

/* A dumpcap that captures until SIGTERM, then says what it saw. */
#define FAKE_CAPTURING                                                                             \
	"trap 'echo \"Packets received/dropped on interface '\"'\"'tbbr0'\"'\"': 12/3 "            \
	"(pcap:0/dumpcap:0/flushed:0/ps_ifdrop:0) (100.0%)\" >&2; exit 0' TERM\n"                  \
	"printf 'pcapng header' > \"$out\"\n"                                                      \
	"while :; do sleep 0.01; done"

struct path_env {
	char saved[4096];
	char dir[128];
};

/* Run with PATH = a fresh directory of fakes only; restore with path_restore(). */
static void path_fake(struct path_env *pe, const char *name)
{
	const char *path = getenv("PATH");

	snprintf(pe->saved, sizeof(pe->saved), "%s", path ? path : "/usr/bin:/bin");
	snprintf(pe->dir, sizeof(pe->dir), "%s", tl_path(tmpdir, name));
	assert_int_equal(mkdir(pe->dir, 0755), 0);
	setenv("PATH", pe->dir, 1);
}

static void path_restore(struct path_env *pe)
{
	setenv("PATH", pe->saved, 1);
}

/* No child of ours is left, running or a zombie. */
static void assert_no_child(void)
{
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

static void test_capture_start_without_dumpcap_says_make_deps(void **state)
{
	struct capture_spec spec = spec_of(tl_path(tmpdir, "never.pcapng"));
	struct path_env pe = {"", ""};
	struct tb_err err;

	(void)state;
	path_fake(&pe, "no-dumpcap");
	assert_null(capture_start(&spec, &err));
	path_restore(&pe);
	assert_int_equal(err.exit, TB_EXIT_ENV);
	assert_non_null(strstr(err.msg, "make deps"));
	assert_int_not_equal(access(spec.path, F_OK), 0);
	assert_no_child();
}

static void test_capture_start_outside_a_missing_namespace_fails(void **state)
{
	struct capture_spec spec = spec_of(tl_path(tmpdir, "never.pcapng"));
	struct path_env pe = {"", ""};
	struct tb_err err;

	(void)state;
	path_fake(&pe, "fake-ns");
	fake_dumpcap(pe.dir, FAKE_CAPTURING);
	spec.netns = "twinbench-test-absent";
	assert_null(capture_start(&spec, &err));
	path_restore(&pe);
	assert_int_equal(err.exit, TB_EXIT_ENV);
	assert_non_null(strstr(err.msg, "/run/netns/twinbench-test-absent"));
	assert_int_not_equal(access(tl_path(pe.dir, "args"), F_OK), 0); /* never ran */
	assert_int_not_equal(access(spec.path, F_OK), 0);
	assert_no_child();
}

static void test_capture_start_reports_dumpcap_failing(void **state)
{
	char path[256];
	struct capture_spec spec;
	struct path_env pe = {"", ""};
	struct tb_err err;

	(void)state;
	snprintf(path, sizeof(path), "%s", tl_path(tmpdir, "failed.pcapng"));
	spec = spec_of(path);
	/* An old file at the path does not count as dumpcap's. */
	assert_int_equal(tl_write_file(path, "old capture"), 0);
	path_fake(&pe, "fake-fail");
	fake_dumpcap(pe.dir, "echo 'dumpcap: There is no device named \"tbbr0\".' >&2; exit 1");
	assert_null(capture_start(&spec, &err));
	path_restore(&pe);
	assert_int_equal(err.exit, TB_EXIT_ENV);
	assert_non_null(strstr(err.msg, "exited with status 1"));
	assert_non_null(strstr(err.msg, "There is no device named"));
	assert_int_not_equal(access(path, F_OK), 0);
	assert_no_child();
}

static void test_capture_start_and_stop_a_dumpcap(void **state)
{
	char path[256], *args;
	struct capture_spec spec;
	struct capture_stats st;
	struct capture *c;
	struct path_env pe = {"", ""};
	struct tb_err err;
	sigset_t block, old;

	(void)state;
	snprintf(path, sizeof(path), "%s", tl_path(tmpdir, "capture-1.pcapng"));
	spec = spec_of(path);
	path_fake(&pe, "fake-ok");
	fake_dumpcap(pe.dir, FAKE_CAPTURING);
	/* As in `twinbench run`: SIGTERM is blocked for the signal thread, SIGPIPE ignored. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &old);
	signal(SIGPIPE, SIG_IGN);
	c = capture_start(&spec, &err);
	path_restore(&pe);
	if (!c)
		fail_msg("%s", err.msg);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(capture_stop(c, &st, &err), 0);
	sigprocmask(SIG_SETMASK, &old, NULL);
	signal(SIGPIPE, SIG_DFL);
	assert_int_equal(st.received, 12);
	assert_int_equal(st.dropped, 3);
	assert_no_child();
	args = tl_read_file(tl_path(pe.dir, "args"));
	assert_non_null(args);
	assert_non_null(strstr(args, "-i\ntbbr0\n"));
	assert_non_null(strstr(args, "-f\nudp port 7777 and host 10.213.0.10\n"));
	free(args);
	assert_int_equal(capture_stop(NULL, &st, &err), 0);
}

static void test_capture_stop_reports_dumpcap_failing_meanwhile(void **state)
{
	struct capture_spec spec = spec_of(tl_path(tmpdir, "capture-2.pcapng"));
	struct capture *c;
	struct path_env pe = {"", ""};
	struct tb_err err;

	(void)state;
	path_fake(&pe, "fake-dies");
	fake_dumpcap(pe.dir, "printf 'pcapng header' > \"$out\"\n"
			     "sleep 0.1\n"
			     "echo 'dumpcap: Error while capturing packets: Network is down' >&2\n"
			     "exit 2");
	c = capture_start(&spec, &err);
	path_restore(&pe);
	if (!c)
		fail_msg("%s", err.msg);
	assert_int_equal(capture_stop(c, NULL, &err), -1);
	assert_int_equal(err.exit, TB_EXIT_ENV);
	assert_non_null(strstr(err.msg, "exited with status 2"));
	assert_non_null(strstr(err.msg, "Network is down"));
	assert_no_child();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_capture_gap_found_exactly),
	    cmocka_unit_test(test_capture_window_is_given_in_probe_seqs),
	    cmocka_unit_test(test_capture_replies_out_of_order),
	    cmocka_unit_test(test_capture_non_probe_packets_ignored),
	    cmocka_unit_test(test_capture_truncated_and_garbage_packets_ignored),
	    cmocka_unit_test(test_capture_vlan_and_linux_cooked_frames_decode),
	    cmocka_unit_test(test_capture_service_not_back),
	    cmocka_unit_test(test_capture_window_outside_the_capture),
	    cmocka_unit_test(test_capture_empty_capture_is_an_error),
	    cmocka_unit_test(test_capture_not_a_pcap_is_an_error),
	    cmocka_unit_test(test_capture_unsupported_link_type_is_an_error),
	    cmocka_unit_test(test_capture_file_cut_inside_a_packet_is_read_up_to_the_cut),
	    cmocka_unit_test(test_capture_reads_dumpcap_pcapng),
	    cmocka_unit_test(test_capture_agreement_is_within_one_probe_interval),
	    cmocka_unit_test(test_capture_command_is_dumpcap_on_iface_with_port_filter),
	    cmocka_unit_test(test_capture_command_refuses_what_is_not_a_spec),
	    cmocka_unit_test(test_capture_stats_read_from_dumpcap_output),
	    cmocka_unit_test(test_capture_start_without_dumpcap_says_make_deps),
	    cmocka_unit_test(test_capture_start_outside_a_missing_namespace_fails),
	    cmocka_unit_test(test_capture_start_reports_dumpcap_failing),
	    cmocka_unit_test(test_capture_start_and_stop_a_dumpcap),
	    cmocka_unit_test(test_capture_stop_reports_dumpcap_failing_meanwhile),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
