/*
 * capture.c - dumpcap as a witness of the probe's packets, and the downtime
 * read back from its file with libpcap.
 *
 * dumpcap is forked, not spawned: the child enters the lab's network
 * namespace (setns) before it execs, which posix_spawn cannot do.  Between
 * fork and exec the child makes only async-signal-safe calls, for the
 * harness has threads; a close-on-exec pipe tells the parent whether the
 * exec happened, and if not why.
 *
 * dumpcap prints "Capturing on 'IFACE'" before it opens the interface (it
 * prints it for interfaces that do not exist), so readiness is the file:
 * dumpcap creates it and writes its header only once the interface is
 * bound and the filter set.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "capture.h"
#include "monotime.h"
#include "probe.h"

/* dumpcap opens its interface in tens of milliseconds; ten seconds means it will not. */
#define START_TIMEOUT_NS (10 * NS_PER_S)
/*
 * dumpcap takes packets from the kernel's ring a block at a time, a block
 * being handed over when full or 250 ms old (CAP_READ_TIMEOUT in
 * dumpcap.c), and SIGTERM drops the block not handed over yet: wait two
 * of those before stopping it, so that the last packets are in the file.
 */
#define DRAIN_NS (500 * NS_PER_MS)
/* It closes its file within milliseconds of SIGTERM. */
#define STOP_TIMEOUT_NS (5 * NS_PER_S)
/* How often the waits look at the child. */
#define POLL_NS (5 * NS_PER_MS)

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_VLAN 0x8100 /* 802.1Q */
#define ETHERTYPE_QINQ 0x88a8 /* 802.1ad */
#define IPPROTO_UDP_   17
#define IPV4_MIN_HDR   20
#define UDP_HDR	       8

struct capture {
	pid_t pid;  /* -1 once reaped */
	int err_fd; /* dumpcap's stderr, non-blocking */
	char iface[IFNAMSIZ];
	char path[PATH_MAX];
	char text[4096]; /* the tail of what dumpcap printed */
	size_t used;
};

/* What the child reports through the status pipe when it cannot exec. */
enum child_stage { CHILD_NETNS = 1, CHILD_EXEC };
struct child_report {
	int stage;
	int err;
};

/* ---- dumpcap's command line --------------------------------------------- */

static bool valid_iface(const char *s)
{
	if (!s || !*s || strlen(s) >= IFNAMSIZ)
		return false;
	/* What the kernel refuses in a name (dev_valid_name()). */
	for (; *s; s++)
		if (*s == '/' || *s == ':' || *s == ' ' || *s == '\t' || *s == '\n')
			return false;
	return true;
}

int capture_command(const struct capture_spec *spec, struct capture_cmd *cmd, struct tb_err *err)
{
	char host[INET_ADDRSTRLEN];
	struct in_addr addr;
	size_t n = 0;

	memset(cmd, 0, sizeof(*cmd));
	if (!valid_iface(spec->iface))
		return tb_err_set(err, TB_EXIT_USAGE, "capture: \"%s\" is not an interface name",
				  spec->iface ? spec->iface : "");
	if (spec->port < 1 || spec->port > 65535)
		return tb_err_set(err, TB_EXIT_USAGE, "capture: UDP port %d out of range",
				  spec->port);
	if (!spec->path || !*spec->path)
		return tb_err_set(err, TB_EXIT_USAGE, "capture: no file to write");
	if (spec->netns && (!*spec->netns || strchr(spec->netns, '/') ||
			    !strcmp(spec->netns, ".") || !strcmp(spec->netns, "..")))
		return tb_err_set(err, TB_EXIT_USAGE, "capture: \"%s\" is not a namespace name",
				  spec->netns);
	if (spec->host) {
		/* Parsed and printed again: nothing but an address reaches the filter. */
		if (inet_pton(AF_INET, spec->host, &addr) != 1)
			return tb_err_set(err, TB_EXIT_USAGE,
					  "capture: \"%s\" is not an IPv4 address", spec->host);
		inet_ntop(AF_INET, &addr, host, sizeof(host));
		snprintf(cmd->filter, sizeof(cmd->filter), "udp port %d and host %s", spec->port,
			 host);
	} else {
		snprintf(cmd->filter, sizeof(cmd->filter), "udp port %d", spec->port);
	}
	cmd->argv[n++] = "dumpcap";
	cmd->argv[n++] = "-i";
	cmd->argv[n++] = (char *)spec->iface;
	/*
	 * Not promiscuous: the probe's packets are the capturing host's own,
	 * and a promiscuous bridge would copy every guest-to-guest frame too.
	 */
	cmd->argv[n++] = "-p";
	cmd->argv[n++] = "-n"; /* pcapng, dumpcap's default: said, since the name says it */
	cmd->argv[n++] = "-q";
	cmd->argv[n++] = "-f";
	cmd->argv[n++] = cmd->filter;
	cmd->argv[n++] = "-w";
	cmd->argv[n++] = (char *)spec->path;
	cmd->argv[n] = NULL;
	return 0;
}

/* ---- running dumpcap ------------------------------------------------------ */

/* @name's full path as execvp would find it in PATH, resolved before fork(); 0 or -1. */
static int find_program(const char *name, char *out, size_t size)
{
	const char *dir = getenv("PATH");
	struct stat st;

	if (!dir || !*dir)
		dir = "/usr/local/bin:/usr/bin:/bin";
	for (;;) {
		const char *end = strchrnul(dir, ':');
		int len = (int)(end - dir);

		/* An empty entry is the current directory. */
		snprintf(out, size, "%.*s/%s", len ? len : 1, len ? dir : ".", name);
		if (stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0)
			return 0;
		if (!*end)
			return -1;
		dir = end + 1;
	}
}

/* Append what dumpcap printed since the last call, keeping the tail. */
static void read_stderr(struct capture *c)
{
	for (;;) {
		size_t room = sizeof(c->text) - 1 - c->used;
		ssize_t n;

		if (room == 0) {
			/* Its last words are the ones that say what went wrong. */
			size_t half = c->used / 2;

			memmove(c->text, c->text + half, c->used - half);
			c->used -= half;
			continue;
		}
		n = read(c->err_fd, c->text + c->used, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		c->used += (size_t)n;
	}
	c->text[c->used] = '\0';
}

/* What dumpcap printed, for a message: one line, no trailing blanks. */
static const char *said(struct capture *c)
{
	while (c->used && strchr("\r\n\t ", c->text[c->used - 1]))
		c->text[--c->used] = '\0';
	for (size_t i = 0; i < c->used; i++)
		if (c->text[i] == '\n' || c->text[i] == '\r')
			c->text[i] = ' ';
	return c->used ? c->text : "(it printed nothing)";
}

static void describe_status(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
	else
		snprintf(buf, size, "was killed by signal %d", WTERMSIG(status));
}

/* Wait until dumpcap exits (true, *status set) or @deadline passes, collecting its stderr. */
static bool wait_exit(struct capture *c, int64_t deadline, int *status)
{
	for (;;) {
		pid_t r;

		read_stderr(c);
		*status = 0; /* reaped by someone else (ECHILD): nothing to say */
		r = waitpid(c->pid, status, WNOHANG);
		if (r == c->pid || (r < 0 && errno != EINTR)) {
			c->pid = -1;
			read_stderr(c);
			return true;
		}
		if (monotime_now() >= deadline)
			return false;
		monotime_sleep_until(monotime_now() + POLL_NS);
	}
}

/* Child side: become dumpcap, or report why not and exit. */
static void child_exec(const char *prog, char *const argv[], int nsfd, int devnull, int errfd,
		       int statusfd, pid_t parent)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	struct child_report rep = {0, 0};
	sigset_t none;
	ssize_t ignored;

	/* Only capture_stop() stops it, not a ^C to the terminal's process group... */
	setpgid(0, 0);
	/* ...and it does not outlive the harness: nothing else would stop it outside the lab. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(127);
	/*
	 * The runner blocks SIGINT and SIGTERM in every thread for its signal
	 * thread, and main() ignores SIGPIPE: exec keeps both, and a dumpcap
	 * with SIGTERM blocked would never stop.
	 */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	rep.stage = CHILD_NETNS;
	if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET) != 0)
		goto fail;
	rep.stage = CHILD_EXEC;
	if (dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 || dup2(errfd, 2) < 0)
		goto fail;
	execv(prog, argv);
fail:
	rep.err = errno;
	ignored = write(statusfd, &rep, sizeof(rep));
	(void)ignored;
	_exit(127);
}

/* Wait until dumpcap has written its file's header, or has failed. */
static int wait_capturing(struct capture *c, struct tb_err *err)
{
	int64_t deadline = monotime_now() + START_TIMEOUT_NS;
	char how[64];
	struct stat st;
	int status;

	for (;;) {
		if (stat(c->path, &st) == 0 && st.st_size > 0)
			return 0;
		if (wait_exit(c, 0, &status)) {
			describe_status(status, how, sizeof(how));
			return tb_err_set(err, TB_EXIT_ENV,
					  "capture: dumpcap %s before capturing on %s: %s", how,
					  c->iface, said(c));
		}
		if (monotime_now() > deadline)
			return tb_err_set(
			    err, TB_EXIT_ENV,
			    "capture: dumpcap did not start writing %s within %lld s: %s", c->path,
			    START_TIMEOUT_NS / NS_PER_S, said(c));
		monotime_sleep_until(monotime_now() + POLL_NS);
	}
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

struct capture *capture_start(const struct capture_spec *spec, struct tb_err *err)
{
	int nsfd = -1, devnull = -1, errp[2] = {-1, -1}, statusp[2] = {-1, -1};
	char prog[PATH_MAX], nspath[PATH_MAX];
	struct child_report rep;
	struct capture_cmd cmd;
	pid_t parent = getpid();
	struct capture *c;
	bool forked = false;
	ssize_t n;

	if (capture_command(spec, &cmd, err) != 0)
		return NULL;
	if (find_program("dumpcap", prog, sizeof(prog)) != 0) {
		tb_err_set(err, TB_EXIT_ENV,
			   "capture: dumpcap not found in PATH (Debian's tshark brings it): "
			   "run 'make deps'");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		tb_err_set(err, TB_EXIT_ENV, "capture: out of memory");
		return NULL;
	}
	c->pid = -1;
	c->err_fd = -1;
	snprintf(c->iface, sizeof(c->iface), "%s", spec->iface);
	snprintf(c->path, sizeof(c->path), "%s", spec->path);
	if (spec->netns) {
		snprintf(nspath, sizeof(nspath), "/run/netns/%s", spec->netns);
		nsfd = open(nspath, O_RDONLY | O_CLOEXEC);
		if (nsfd < 0) {
			tb_err_set(err, TB_EXIT_ENV, "capture: cannot open %s: %s (is the lab up?)",
				   nspath, strerror(errno));
			goto fail;
		}
	}
	/* The header appearing is the sign of life: an old file must not fake one. */
	if (unlink(c->path) != 0 && errno != ENOENT) {
		tb_err_set(err, TB_EXIT_ENV, "capture: cannot replace %s: %s", c->path,
			   strerror(errno));
		goto fail;
	}
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0 || pipe2(errp, O_CLOEXEC) != 0 || pipe2(statusp, O_CLOEXEC) != 0) {
		tb_err_set(err, TB_EXIT_ENV, "capture: %s", strerror(errno));
		goto fail;
	}
	c->pid = fork();
	if (c->pid < 0) {
		tb_err_set(err, TB_EXIT_ENV, "capture: fork: %s", strerror(errno));
		goto fail;
	}
	if (c->pid == 0)
		child_exec(prog, cmd.argv, nsfd, devnull, errp[1], statusp[1], parent);
	forked = true;
	close_fd(&errp[1]);
	close_fd(&statusp[1]);
	c->err_fd = errp[0];
	errp[0] = -1;
	fcntl(c->err_fd, F_SETFL, O_NONBLOCK);
	/* End of file: the exec happened and closed the pipe; a report: it did not. */
	while ((n = read(statusp[0], &rep, sizeof(rep))) < 0 && errno == EINTR)
		;
	if (n == (ssize_t)sizeof(rep)) {
		if (rep.stage == CHILD_NETNS)
			tb_err_set(err, TB_EXIT_ENV, "capture: cannot enter %s: %s", nspath,
				   strerror(rep.err));
		else
			tb_err_set(err, TB_EXIT_ENV, "capture: cannot run %s: %s", prog,
				   strerror(rep.err));
		goto fail;
	}
	if (wait_capturing(c, err) != 0)
		goto fail;
	close_fd(&statusp[0]);
	close_fd(&devnull);
	close_fd(&nsfd);
	return c;
fail:
	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (forked)
		unlink(c->path);
	close_fd(&c->err_fd);
	close_fd(&errp[0]);
	close_fd(&errp[1]);
	close_fd(&statusp[0]);
	close_fd(&statusp[1]);
	close_fd(&devnull);
	close_fd(&nsfd);
	free(c);
	return NULL;
}

int capture_parse_stats(const char *text, struct capture_stats *stats)
{
	/* "Packets received/dropped on interface 'tbbr0': 982/0 (pcap:0/dumpcap:0/...)" */
	const char *p = strstr(text, "received/dropped on interface");
	long long received, dropped;

	stats->received = stats->dropped = -1;
	if (!p || !(p = strstr(p, "': ")) || sscanf(p + 3, "%lld/%lld", &received, &dropped) != 2)
		return -1;
	stats->received = received;
	stats->dropped = dropped;
	return 0;
}

int capture_stop(struct capture *c, struct capture_stats *stats, struct tb_err *err)
{
	struct capture_stats ignored;
	char how[64];
	int status = 0, rc = 0;

	if (!stats)
		stats = &ignored;
	stats->received = stats->dropped = -1;
	if (!c)
		return 0;
	if (wait_exit(c, monotime_now() + DRAIN_NS, &status)) {
		describe_status(status, how, sizeof(how));
		rc = tb_err_set(err, TB_EXIT_ENV,
				"capture: dumpcap on %s %s before it was stopped: %s", c->iface,
				how, said(c));
		goto out;
	}
	kill(c->pid, SIGTERM);
	if (!wait_exit(c, monotime_now() + STOP_TIMEOUT_NS, &status)) {
		kill(c->pid, SIGKILL);
		while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
			;
		c->pid = -1;
		read_stderr(c);
		rc = tb_err_set(err, TB_EXIT_ENV,
				"capture: dumpcap on %s did not stop within %lld s of SIGTERM; "
				"killed: %s",
				c->iface, STOP_TIMEOUT_NS / NS_PER_S, said(c));
		goto out;
	}
	capture_parse_stats(c->text, stats);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		describe_status(status, how, sizeof(how));
		rc = tb_err_set(err, TB_EXIT_ENV, "capture: dumpcap on %s %s: %s", c->iface, how,
				said(c));
	}
out:
	close_fd(&c->err_fd);
	free(c);
	return rc;
}

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
