/*
 * twinbench-agent - the service whose downtime twinbench measures.
 *
 * A UDP server: every request "TB1 <seq>" is answered with
 * "TB1 <seq> <counter> <release> <boot_id>", where counter is the service's
 * state (requests served so far, continued across upgrades), release is
 * `uname -r` and boot_id is the kernel's random boot id.  The harness reads
 * a changed release or boot id as "the new kernel answers" and a counter
 * that went on growing as "the state survived".
 *
 * State lives in a file between runs: restored (and removed, so that a stale
 * copy is never used twice) at start, written with fsync on SIGTERM/SIGINT.
 * The file is versioned and checksummed; a corrupt file is refused loudly
 * instead of silently starting from zero.  With --memory-only there is no
 * file: the state lives in the process alone and survives an upgrade only
 * if something carries the process over (CRIU, the kexec-criu method).
 * The process then cannot tell that it moved to another kernel, so it asks
 * the kernel its release and boot id for every reply.
 *
 * Between twin kernels the state travels through memory instead
 * (handoff.h, takeover.h).  Kernel A's agent (--handoff-to) gives the
 * service up on SIGUSR1 (sent by --request-handoff): it stops answering,
 * writes the state, releases the NIC (--release-nic) and marks the block
 * ready, then waits until B took it.  Kernel B's agent (--take-from) serves
 * on loopback from boot and watches the region; once the block is ready it
 * takes the NIC (--nic, or its own: --own-nic), sets the service address
 * (--ip), announces it and answers from A's state, refusing a missing,
 * corrupt or stale block.  Nothing is printed between A's last reply and
 * B's first; B then prints both kernels' steps (the breakdown).
 *
 * Between two guests (the migrate method) the state travels over TCP
 * (migrate.h): an agent with --move-listen gives the service, its state
 * and its address (--service-addr) to an agent that asks for it with
 * --pull-from, and exits; the taker serves on from that state, and can be
 * asked in turn.  Replies leave from the address the request came to, so
 * that a service address beside the guest's own answers as itself.
 *
 * Static, no dependencies: it runs in kernel A's Debian root and in kernel
 * B's busybox initramfs alike.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <termios.h>
#include <unistd.h>

#include "criustats.h"
#include "handoff.h"
#include "migrate.h"
#include "netif.h"
#include "takeover.h"
#include "takerest.h"
#include "twinprep.h"

#define STATE_MAGIC "TBSTATE"
#define STATE_VERSION 1

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t handoff_requested;
static volatile sig_atomic_t handoff_corrupt_requested;

static void on_stop(int sig, siginfo_t *info, void *uctx)
{
	(void)uctx;
	if (sig == SIGUSR1) {
		handoff_requested = 1;
		/* --request-handoff --corrupt-state: the refusal test's damaged block. */
		handoff_corrupt_requested = info->si_code == SI_QUEUE && info->si_value.sival_int;
	}
	stop_requested = 1;
}

/* FNV-1a: a checksum to catch torn or edited state files, not an adversary. */
static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

static void read_boot_id(char *buf, size_t len)
{
	if (read_first_line("/proc/sys/kernel/random/boot_id", buf, len) != 0)
		snprintf(buf, len, "unknown");
}

/*
 * The running kernel's release and boot id, for a reply, as one pair.  A
 * checkpointed agent (--memory-only) may be frozen between the two reads
 * and restored on another kernel: it then answered with the old kernel's
 * release and the new one's boot id (seen once in five kexec-criu
 * repetitions).  The boot id is read before and after the release, and
 * all of it again when the two differ.
 */
static void read_identity(struct utsname *uts, char *boot_id, size_t len)
{
	char after[64];

	for (int tries = 0; tries < 3; tries++) {
		read_boot_id(boot_id, len);
		uname(uts);
		read_boot_id(after, sizeof(after));
		if (strcmp(after, boot_id) == 0)
			return;
	}
}

/*
 * Returns 1 and sets *counter when a valid state was restored, 0 when there
 * is none, -1 when the file exists but cannot be trusted.
 */
static int state_restore(const char *path, uint64_t *counter)
{
	char line[256], body[200];
	unsigned version;
	uint64_t value;
	uint32_t sum;
	FILE *f;
	int n;

	f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? 0 : -1;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	n = sscanf(line, STATE_MAGIC " %u %" SCNu64 " %" SCNx32, &version, &value, &sum);
	if (n != 3 || version != STATE_VERSION)
		return -1;
	snprintf(body, sizeof(body), STATE_MAGIC " %u %" PRIu64, version, value);
	if (fnv1a(body) != sum)
		return -1;
	*counter = value;
	return 1;
}

static void fsync_dir_of(const char *path)
{
	char copy[4096];
	int fd;

	snprintf(copy, sizeof(copy), "%s", path);
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/*
 * @text into @path (created with @mode), written beside it and renamed: a
 * reader never finds it empty or half written, and a crash leaves the old
 * file or the new one; @durable: synced too.  0, or -1 with errno.
 */
static int write_renamed(const char *path, const char *text, mode_t mode, bool durable)
{
	char tmp[4096];
	size_t len = strlen(text);
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	if (write(fd, text, len) != (ssize_t)len || (durable && fsync(fd) != 0)) {
		close(fd);
		return -1;
	}
	if (close(fd) != 0 || rename(tmp, path) != 0)
		return -1;
	if (durable)
		fsync_dir_of(path);
	return 0;
}

static int state_save(const char *path, uint64_t counter)
{
	char body[200], line[256];

	snprintf(body, sizeof(body), STATE_MAGIC " %u %" PRIu64, STATE_VERSION, counter);
	snprintf(line, sizeof(line), "%s %08" PRIx32 "\n", body, fnv1a(body));
	return write_renamed(path, line, 0600, true);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: twinbench-agent [--port N] [--state FILE | --memory-only]\n"
		"           [--handoff-to REGION [--release-nic IFNAME | --drop-addr IFNAME]\n"
		"            [--lease-ms N]]\n"
		"           [--take-from REGION --from-boot ID [--nic BDF | --own-nic IFNAME]\n"
		"            [--ip ADDR/PREFIX] [--timeout-ms N]] [--sysfs DIR]\n"
		"           [--ready-file FILE]\n"
		"           [--move-listen [--service-addr ADDR/PREFIX] [--service-if IFNAME]]\n"
		"           [--pull-from HOST[:PORT]] [--corrupt-move-file FILE]\n"
		"       twinbench-agent --request-handoff PIDFILE --handoff-to REGION\n"
		"           [--corrupt-state] [--timeout-ms N]\n"
		"       twinbench-agent --wait-taken REGION [--timeout-ms N] [--poll-ms N]\n"
		"       twinbench-agent --take-rest DONE_FILE [--timeout-ms N] [--sysfs DIR]\n"
		"       twinbench-agent --pci-skip [--keep BDF] | --mem-blocks   [--sysfs DIR]\n"
		"       twinbench-agent --cycle-cpu [--sysfs DIR]\n"
		"       twinbench-agent --criu-stats IMAGE\n");
	exit(2);
}

/* Kernel B watches the region this often; faster once A has begun to write it. */
#define TAKE_POLL_NS	   1000000LL
#define TAKE_POLL_FAST_NS  50000LL
/* Taken, and no request yet: B says what happened after this long all the same. */
#define TAKEN_QUIET_NS	   100000000LL
/* Each network step of a takeover (link up, ...) gives up after this long. */
#define TAKE_STEP_NS	   10000000000LL
/*
 * Kernel A withdraws a ready block B has not claimed after this long, and
 * serves on: B, watching the region every TAKE_POLL_NS, claims it within
 * a few ms when it is alive.  The service's worst case if B is not.
 */
#define CLAIM_BOUND_NS	   2000000000LL
/* Test hook: while it exists, B's agent does not claim a ready block. */
#define HOLD_TAKE_FILE	   "/run/twinbench-hold-take"
/* Test hook: if it exists, B's takeover fails once it has the NIC (and gives it back). */
#define FAIL_TAKE_FILE	   "/run/twinbench-fail-take"
/* Test hook: while it exists, B's takeover stalls once it has the NIC (as a dead B). */
#define STALL_TAKE_FILE	   "/run/twinbench-stall-take"
/*
 * B's lease on a block it claimed: A takes the service back when B has
 * neither served from it nor given it back this long after its claim (B
 * died).  Longer than B's own steps, each bounded by TAKE_STEP_NS (four
 * of them, 40 s): a live B has finished one way or the other by then.
 */
#define LEASE_MS_DEFAULT   60000

struct options {
	int port;
	const char *state_path;
	const char *handoff_to, *release_nic, *drop_addr;
	const char *take_from, *from_boot, *nic, *own_nic, *ip;
	const char *sysfs;
	const char *request_pidfile, *taken_region;
	const char *done_file; /* B: created once the takeover has been told on the console */
	const char *ready_file; /* a line written to it once the service is ready (a FIFO) */
	const char *rest_done; /* B: take the rest of A once this says "taken" */
	const char *criu_stats; /* print this CRIU statistics image's figures */
	bool pci_skip, mem_blocks; /* print B's pci_skip= or twinbench.mem= list */
	bool cycle_cpu;		   /* the CPU twin-boot gives B, offline and online once */
	const char *keep;
	bool corrupt_state;
	bool memory_only; /* no state file: the state is the process's memory */
	bool move_listen; /* give the service to an agent that pulls it (migrate.h) */
	const char *service_addr, *service_if, *pull_from;
	const char *corrupt_move_file; /* present: the next state sent is damaged */
	int64_t timeout_ms, poll_ms;
	int64_t lease_ms; /* A: B's lease on a claimed block (--lease-ms) */
};

static void parse(int argc, char **argv, struct options *o)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "state", required_argument, NULL, 's' },
		{ "handoff-to", required_argument, NULL, 'H' },
		{ "release-nic", required_argument, NULL, 'R' },
		{ "drop-addr", required_argument, NULL, 'A' },
		{ "take-from", required_argument, NULL, 'T' },
		{ "from-boot", required_argument, NULL, 'B' },
		{ "nic", required_argument, NULL, 'N' },
		{ "own-nic", required_argument, NULL, 'O' },
		{ "ip", required_argument, NULL, 'I' },
		{ "sysfs", required_argument, NULL, 'S' },
		{ "request-handoff", required_argument, NULL, 'Q' },
		{ "corrupt-state", no_argument, NULL, 'C' },
		{ "wait-taken", required_argument, NULL, 'K' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "poll-ms", required_argument, NULL, 'l' },
		{ "lease-ms", required_argument, NULL, 'e' },
		{ "done-file", required_argument, NULL, 'D' },
		{ "ready-file", required_argument, NULL, 'r' },
		{ "take-rest", required_argument, NULL, 'F' },
		{ "pci-skip", no_argument, NULL, 'X' },
		{ "keep", required_argument, NULL, 'k' },
		{ "mem-blocks", no_argument, NULL, 'M' },
		{ "cycle-cpu", no_argument, NULL, 'Y' },
		{ "memory-only", no_argument, NULL, 'm' },
		{ "criu-stats", required_argument, NULL, 'c' },
		{ "move-listen", no_argument, NULL, 'L' },
		{ "service-addr", required_argument, NULL, 'a' },
		{ "service-if", required_argument, NULL, 'i' },
		{ "pull-from", required_argument, NULL, 'P' },
		{ "corrupt-move-file", required_argument, NULL, 'x' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	*o = (struct options){ .port = 7777, .state_path = "/var/lib/twinbench/agent.state",
			       .sysfs = "/sys", .timeout_ms = -1, .poll_ms = 1,
			       .lease_ms = LEASE_MS_DEFAULT,
			       .service_if = "eth0",
			       .corrupt_move_file = "/run/twinbench/corrupt-move" };
	while ((opt = getopt_long(argc, argv, "p:s:", opts, NULL)) != -1) {
		switch (opt) {
		case 'p': o->port = atoi(optarg); break;
		case 's': o->state_path = optarg; break;
		case 'H': o->handoff_to = optarg; break;
		case 'R': o->release_nic = optarg; break;
		case 'A': o->drop_addr = optarg; break;
		case 'T': o->take_from = optarg; break;
		case 'B': o->from_boot = optarg; break;
		case 'N': o->nic = optarg; break;
		case 'O': o->own_nic = optarg; break;
		case 'I': o->ip = optarg; break;
		case 'S': o->sysfs = optarg; break;
		case 'Q': o->request_pidfile = optarg; break;
		case 'C': o->corrupt_state = true; break;
		case 'K': o->taken_region = optarg; break;
		case 't': o->timeout_ms = atoll(optarg); break;
		case 'l': o->poll_ms = atoll(optarg); break;
		case 'e': o->lease_ms = atoll(optarg); break;
		case 'D': o->done_file = optarg; break;
		case 'r': o->ready_file = optarg; break;
		case 'F': o->rest_done = optarg; break;
		case 'X': o->pci_skip = true; break;
		case 'k': o->keep = optarg; break;
		case 'M': o->mem_blocks = true; break;
		case 'Y': o->cycle_cpu = true; break;
		case 'm': o->memory_only = true; break;
		case 'c': o->criu_stats = optarg; break;
		case 'L': o->move_listen = true; break;
		case 'a': o->service_addr = optarg; break;
		case 'i': o->service_if = optarg; break;
		case 'P': o->pull_from = optarg; break;
		case 'x': o->corrupt_move_file = optarg; break;
		default: usage();
		}
	}
	if (o->port <= 0 || o->port > 65535 || (o->take_from && !o->from_boot) ||
	    (o->nic && o->own_nic) || (o->request_pidfile && !o->handoff_to) || o->poll_ms < 1 ||
	    o->lease_ms < 1 ||
	    (o->release_nic && o->drop_addr) || (o->drop_addr && !o->ip) ||
	    (o->memory_only && (o->handoff_to || o->take_from)) ||
	    ((o->move_listen || o->pull_from) && (o->handoff_to || o->take_from || o->memory_only)) ||
	    (o->service_addr && !o->move_listen) || optind != argc)
		usage();
}

/*
 * --criu-stats: "dump FIGURES" or "restore FIGURES" for CRIU's statistics
 * image @path (criustats.h); 1 with a message if it is not one.
 */
static int print_criu_stats(const char *path)
{
	static uint8_t img[65536];
	char figures[2048];
	const char *kind = NULL;
	size_t len = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0) {
		fprintf(stderr, "twinbench-agent: %s: %s\n", path, strerror(errno));
		return 1;
	}
	while (len < sizeof(img) && (n = read(fd, img + len, sizeof(img) - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "twinbench-agent: %s: %s\n", path, strerror(errno));
			close(fd);
			return 1;
		}
		len += (size_t)n;
	}
	close(fd);
	rc = criustats_format(img, len, &kind, figures, sizeof(figures));
	if (rc != 0) {
		fprintf(stderr, "twinbench-agent: %s: %s\n", path,
			rc == -ENOSPC ? "more figures than expected"
				      : "not a CRIU statistics image (stats-dump, stats-restore)");
		return 1;
	}
	printf("%s %s\n", kind, figures);
	return 0;
}

/* The helper looks at the region this often for B's refusal. */
#define REFUSAL_LOOK_MS 20

/*
 * Kernel A's helper: ask the serving agent (PID in @pidfile) to hand over
 * and wait until it has exited; 0 if kernel B took the block, said on the
 * console and drained: this kernel parks next, and a parked kernel's UART
 * sends nothing more.  1 if B refused it (the agent serves on) or it
 * failed.
 */

static int request_handoff(const struct options *o)
{
	int64_t timeout_ms = o->timeout_ms < 0 ? 120000 : o->timeout_ms;
	union sigval v = { .sival_int = o->corrupt_state };
	struct pollfd pfd = { .events = POLLIN };
	FILE *f = fopen(o->request_pidfile, "re");
	struct utsname uts;
	char boot_id[64];
	int pid = 0, rc;

	if (!f || fscanf(f, "%d", &pid) != 1 || pid <= 0) {
		printf("twinbench-agent: no agent PID in %s\n", o->request_pidfile);
		if (f)
			fclose(f);
		return 1;
	}
	fclose(f);
	/* A descriptor for the agent: its exit is a poll() away, without a polling loop. */
	pfd.fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd.fd < 0 || sigqueue(pid, SIGUSR1, v) != 0) {
		printf("twinbench-agent: cannot ask the agent (pid %d) to hand over: %s\n", pid,
		       strerror(errno));
		if (pfd.fd >= 0)
			close(pfd.fd);
		return 1;
	}
	/*
	 * Until the agent exits (B took the block), or B refused it: the agent
	 * then takes the service back and serves on.  A look at the region
	 * every REFUSAL_LOOK_MS only: our CPU is the agent's too.
	 */
	read_boot_id(boot_id, sizeof(boot_id));
	for (int64_t deadline = takeover_now() + timeout_ms * 1000000LL;;) {
		rc = poll(&pfd, 1, REFUSAL_LOOK_MS);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc != 0)
			break;
		switch (handoff_outcome(o->handoff_to, boot_id, NULL)) {
		case HANDOFF_REFUSED:
			close(pfd.fd);
			printf("twinbench-agent: kernel B refused the state block: the agent (pid %d) "
			       "takes the service back\n", pid);
			return 1;
		case HANDOFF_RETURNED:
			close(pfd.fd);
			printf("twinbench-agent: kernel B gave the state block back (its takeover "
			       "failed): the agent (pid %d) takes the service back\n", pid);
			return 1;
		case HANDOFF_EXPIRED:
			close(pfd.fd);
			printf("twinbench-agent: kernel B did not serve within its lease: the agent "
			       "(pid %d) takes the service back\n", pid);
			return 1;
		case HANDOFF_WITHDRAWN:
			close(pfd.fd);
			printf("twinbench-agent: kernel B did not claim the state block within %lld ms: "
			       "the agent (pid %d) withdrew it and takes the service back\n",
			       CLAIM_BOUND_NS / 1000000, pid);
			return 1;
		}
		if (takeover_now() >= deadline)
			break;
	}
	close(pfd.fd);
	if (rc == 0) {
		printf("twinbench-agent: the agent (pid %d) did not finish its handoff within %" PRId64
		       " ms\n",
		       pid, timeout_ms);
		return 1;
	}
	if (handoff_taken(o->handoff_to) != 1) {
		printf("twinbench-agent: kernel B did not take the state block (its console says "
		       "why)\n");
		return 1;
	}
	uname(&uts);
	printf("twinbench: kernel %s let go of the service\n", uts.release);
	fflush(stdout);
	if (isatty(STDOUT_FILENO))
		tcdrain(STDOUT_FILENO);
	return 0;
}

/* Wait until kernel B took the block in @region; 0, or 1 having said it did not. */
static int await_taken(const char *region, int64_t poll_ms, int64_t timeout_ms)
{
	if (give_wait_taken(region, poll_ms * 1000000LL,
			    takeover_now() + timeout_ms * 1000000LL) == 1)
		return 0;
	printf("twinbench-agent: the state block was not taken over within %" PRId64 " ms\n",
	       timeout_ms);
	return 1;
}

static int wait_taken(const struct options *o)
{
	return await_taken(o->taken_region, o->poll_ms, o->timeout_ms < 0 ? 60000 : o->timeout_ms);
}

/*
 * Wait until @o->rest_done exists (inotify, no polling); 0, or 1 on timeout.
 * Then, on a terminal, until what was written to it went out (tcdrain()).
 */
static int wait_file(const struct options *o)
{
	int64_t timeout_ms = o->timeout_ms < 0 ? 60000 : o->timeout_ms;
	int64_t deadline = takeover_now() + timeout_ms * 1000000LL;
	char dir[4096];
	struct pollfd pfd = { .events = POLLIN };
	char buf[4096];
	int rc = 1;

	snprintf(dir, sizeof(dir), "%s", o->rest_done);
	/* A kernel without inotify (kernel B's) is asked every --poll-ms instead. */
	pfd.fd = inotify_init1(IN_CLOEXEC);
	if (pfd.fd >= 0 && inotify_add_watch(pfd.fd, dirname(dir), IN_CREATE | IN_MOVED_TO) < 0) {
		printf("twinbench-agent: cannot watch for %s: %s\n", o->rest_done, strerror(errno));
		close(pfd.fd);
		return 1;
	}
	/* Watched first, looked for second: a file made in between is not missed. */
	while (access(o->rest_done, F_OK) != 0) {
		int64_t left = deadline - takeover_now();

		if (left <= 0) {
			printf("twinbench-agent: %s did not appear within %" PRId64 " ms\n",
			       o->rest_done, timeout_ms);
			goto out;
		}
		if (pfd.fd < 0) {
			struct timespec ts = { .tv_sec = o->poll_ms / 1000,
					       .tv_nsec = o->poll_ms % 1000 * 1000000 };

			nanosleep(&ts, NULL);
		} else if (poll(&pfd, 1, (int)(left / 1000000) + 1) > 0 &&
			   read(pfd.fd, buf, sizeof(buf)) < 0) {
			continue;
		}
	}
	rc = 0;
	if (isatty(STDOUT_FILENO))
		tcdrain(STDOUT_FILENO);
out:
	if (pfd.fd >= 0)
		close(pfd.fd);
	return rc;
}

/* The rest of A: each wait (A's CPUs parked, the payload disk) gives up after this long. */
#define REST_STEP_NS 10000000000LL
/* ... but the test hook holding A's CPUs in the park, after this long. */
#define REST_HOLD_NS 120000000000LL

/*
 * --take-rest: kernel B, once its agent took the service (@o->rest_done
 * says "taken"), takes the rest of A (takerest.h) and says how long each
 * step took, on its own clock.  At SCHED_IDLE: the service, on B's one CPU
 * until A's are woken, runs first whenever it has anything to do.  0, or
 * 1 having said what failed.
 */
static int take_rest(const struct options *o)
{
	struct rest r = { .sysfs = o->sysfs, .run = "/run", .ops = &rest_system_ops,
			  .poll_ns = 1000000LL, .step_ns = REST_STEP_NS, .hold_ns = REST_HOLD_NS };
	struct sched_param idle = { 0 };
	char cmdline[4096] = "", verdict[512] = "", steps[256];
	long long memtotal = 0;
	FILE *f;
	int rc;

	if (sched_setscheduler(0, SCHED_IDLE, &idle) != 0)
		printf("twinbench-b: the takeover runs at the usual priority: %s\n", strerror(errno));
	if (wait_file(o) != 0) {
		printf("twinbench-b: takeover failed: the agent did not say how the takeover ended\n");
		return 1;
	}
	if (read_first_line(o->rest_done, verdict, sizeof(verdict)) != 0)
		verdict[0] = '\0';
	if (strcmp(verdict, "taken") != 0) {
		printf("twinbench-b: takeover failed: the agent did not take the service over (%s)\n",
		       verdict);
		return 1;
	}
	printf("twinbench-b: the kernel before let go\n");
	fflush(stdout);
	if (read_first_line("/proc/cmdline", cmdline, sizeof(cmdline)) != 0)
		cmdline[0] = '\0';
	r.cmdline = cmdline;
	rc = rest_take(&r);
	if (rc == 1)
		return 0;
	if (rc != 0) {
		printf("twinbench-b: takeover failed: %s\n", r.why);
		return 1;
	}
	f = fopen("/proc/meminfo", "re");
	if (!f || fscanf(f, "MemTotal: %lld", &memtotal) != 1)
		memtotal = 0;
	if (f)
		fclose(f);
	takeover_format_stamps(r.ns, R_STEPS, rest_step_name, steps, sizeof(steps));
	printf("twinbench-b: takeover steps %s\n", steps);
	printf("twinbench-b: takeover done cpus=%ld memtotal_kb=%lld\n",
	       sysconf(_SC_NPROCESSORS_ONLN), memtotal);
	return 0;
}

/*
 * The service is ready: a line to @ready_file (NULL: nobody asks), kernel
 * B's init waiting on it (a FIFO it holds open) before it says B is ready.
 */
static void tell_ready(const char *ready_file)
{
	int fd;

	if (!ready_file)
		return;
	fd = open(ready_file, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || write(fd, "ready\n", 6) != 6)
		printf("twinbench-agent: cannot say it is ready in %s: %s\n", ready_file,
		       strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* hand_over(): kernel B refused the block, we took the service back and serve on. */
#define HAND_OVER_ROLLED_BACK 2

/*
 * Kernel A: the service stopped (socket closed); hand it to kernel B.  0
 * once B took it, HAND_OVER_ROLLED_BACK once B refused it and the NIC and
 * address are ours again, 1 having said what failed.
 */
static int hand_over(const struct options *o, const char *boot_id, uint64_t counter,
		     int64_t requested, int64_t stopped, struct netif *net)
{
	int64_t timeout_ms = o->timeout_ms < 0 ? 120000 : o->timeout_ms;
	struct giver g = { .region = o->handoff_to, .boot_id = boot_id, .sysfs = o->sysfs,
			   .release_nic = o->release_nic ? o->release_nic : o->drop_addr,
			   .unbind = o->release_nic != NULL, .cidr = o->ip, .net = &net->ops,
			   .corrupt = handoff_corrupt_requested };
	char ifname[IF_NAMESIZE];
	int outcome;

	g.a_ns[A_REQUEST] = requested;
	g.a_ns[A_STOPPED] = stopped;
	if (give(&g, counter) != 0) {
		printf("twinbench-agent: handoff failed: %s\n", g.why);
		return 1;
	}
	/* B is at work: nothing for the console until it took the block. */
	outcome = give_wait(o->handoff_to, boot_id, 1000000LL, takeover_now() + CLAIM_BOUND_NS,
			    o->lease_ms * 1000000LL, takeover_now() + timeout_ms * 1000000LL);
	if (outcome == HANDOFF_REFUSED || outcome == HANDOFF_WITHDRAWN ||
	    outcome == HANDOFF_RETURNED || outcome == HANDOFF_EXPIRED) {
		char why[64];

		if (outcome == HANDOFF_REFUSED)
			snprintf(why, sizeof(why), "refused the state block");
		else if (outcome == HANDOFF_RETURNED)
			snprintf(why, sizeof(why), "gave the state block back");
		else if (outcome == HANDOFF_EXPIRED)
			snprintf(why, sizeof(why), "did not serve within its lease of %" PRId64 " ms",
				 o->lease_ms);
		else
			snprintf(why, sizeof(why), "did not claim the state block within %lld ms",
				 CLAIM_BOUND_NS / 1000000);
		/* B holds nothing of ours (untouched, or let go of): the NIC back, serve on. */
		if (give_back(&g, TAKE_STEP_NS, ifname, sizeof(ifname)) != 0) {
			printf("twinbench-agent: kernel B %s, and taking the service back failed: "
			       "%s\n", why, g.why);
			return 1;
		}
		printf("twinbench-agent: kernel B %s: serving on %s counter=%" PRIu64 "\n", why,
		       ifname[0] ? ifname : "-", counter);
		return HAND_OVER_ROLLED_BACK;
	}
	if (outcome != HANDOFF_TAKEN) {
		printf("twinbench-agent: the state block was not taken over within %" PRId64
		       " ms\n", timeout_ms);
		return 1;
	}
	/* Taken: the address A kept muted goes now, outside the window. */
	if (give_finish(&g) != 0)
		printf("twinbench-agent: cannot take %s off %s: %s\n", g.cidr, g.release_nic,
		       g.why);
	if (g.bdf[0])
		printf("twinbench-agent: NIC %s released to kernel B (%s)\n", g.bdf,
		       g.released ? "its driver left bound" : "its driver unbound");
	printf("twinbench-agent: state handed over counter=%" PRIu64 "\n", counter);
	return 0;
}

/*
 * Tell the takeover of the rest of A (--take-rest) how the service's
 * ended: @done_file (NULL: no one asks) holds "taken", or "refused: ..." /
 * "failed: ..." and why.  Renamed into place: whoever waits for the file
 * to appear must never find it empty.
 */
static void tell_done(const char *done_file, const char *verdict, const char *why)
{
	char text[512];

	if (!done_file)
		return;
	snprintf(text, sizeof(text), "%s%s%s\n", verdict, why ? ": " : "", why ? why : "");
	if (write_renamed(done_file, text, 0644, false) != 0)
		printf("twinbench-agent: cannot write %s: %s\n", done_file, strerror(errno));
}

/*
 * Kernel B once it answered from A's state, or waited TAKEN_QUIET_NS for a
 * request that did not come (the teller below runs it beside the service):
 * the block marked taken (A, waiting for that, speaks on its console and
 * parks), then what happened on each kernel's clock, then @done_file.
 * No tcdrain() here:
 * on a polled UART the lines take tens of ms to go out, and the service
 * would stall meanwhile.  The takeover that waits for the file drains the
 * console instead (--take-rest) before it lets the kernel print straight
 * to the UART, which would cut the lines.
 */
static void end_take(struct taker *t, struct netif *net, const struct utsname *uts,
		     const char *boot_id, uint64_t counter, const char *done_file)
{
	char a[256], b[256];

	if (net->ops.console_quiet)
		net->ops.console_quiet(net->ops.ctx, false);
	if (take_commit(t) != 0) {
		printf("twinbench-agent: takeover failed: %s\n", t->why);
		tell_done(done_file, "failed", t->why);
		return;
	}
	takeover_format_stamps(t->a_ns, A_STEPS, handoff_a_step_name, a, sizeof(a));
	takeover_format_stamps(t->b_ns, B_STEPS, take_step_name, b, sizeof(b));
	printf("twinbench-agent: ready release=%s boot_id=%s counter=%" PRIu64
	       " state=taken-over nic=%s\n",
	       uts->release, boot_id, counter, t->ifname[0] ? t->ifname : "-");
	printf("twinbench-agent: handoff a %s\n", a);
	printf("twinbench-agent: handoff b %s\n", b);
	fflush(stdout);
	tell_done(done_file, "taken", NULL);
}

/*
 * end_take() in a thread of its own at SCHED_IDLE, started before the
 * handoff: the service answers the requests that follow its first reply
 * while the block is marked taken, the stamps go to the console and the
 * done file is written.  Each of those is code kernel B runs for the first
 * time; under TCG, done in the service's thread, they held it 9-33 ms.
 */
struct teller {
	pthread_t thread;
	int go;		/* eventfd: the service's word to begin */
	bool told;	/* the service gave the word: join before anything else */
	struct taker *t;
	struct netif *net;
	const struct utsname *uts;
	const char *boot_id;
	const char *done_file;
	uint64_t counter;
};

static void *teller_main(void *arg)
{
	struct teller *tl = arg;
	uint64_t word;

	(void)pthread_setschedparam(pthread_self(), SCHED_IDLE,
				    &(struct sched_param){ .sched_priority = 0 });
	while (read(tl->go, &word, sizeof(word)) < 0 && errno == EINTR)
		;
	end_take(tl->t, tl->net, tl->uts, tl->boot_id, tl->counter, tl->done_file);
	return NULL;
}

/*
 * 0, or -1: the service tells in its own thread (teller_go() does it then).
 * The thread blocks every signal: the stop and handoff signals are the
 * service thread's, which takes them in ppoll(), and one taken by the
 * teller would leave that ppoll() waiting.
 */
static int teller_start(struct teller *tl)
{
	sigset_t all, old;
	int rc;

	tl->go = eventfd(0, EFD_CLOEXEC);
	if (tl->go < 0)
		return -1;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&tl->thread, NULL, teller_main, tl);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		close(tl->go);
		tl->go = -1;
		errno = rc;
		return -1;
	}
	return 0;
}

/* The service's word: one write, the rest is the teller's. */
static void teller_go(struct teller *tl, uint64_t counter)
{
	tl->counter = counter;
	if (tl->go >= 0 && write(tl->go, &(uint64_t){ 1 }, sizeof(uint64_t)) == sizeof(uint64_t)) {
		tl->told = true;
		return;
	}
	end_take(tl->t, tl->net, tl->uts, tl->boot_id, counter, tl->done_file);
}

/* Before the agent goes on to anything else that the teller may touch. */
static void teller_join(struct teller *tl)
{
	if (tl->told)
		pthread_join(tl->thread, NULL);
	tl->told = false;
}

/* Each wait on the other guest in a move gives up after this long. */
#define MOVE_STEP_NS 10000000000LL

/*
 * A request on @fd into @req (@size bytes, NUL-terminated), its sender
 * into @peer and the address it was sent to into @to; its length or -1.
 */
static ssize_t recv_request(int fd, char *req, size_t size, struct sockaddr_in *peer,
			    struct in_addr *to)
{
	char cbuf[CMSG_SPACE(sizeof(struct in_pktinfo))];
	struct iovec iov = { .iov_base = req, .iov_len = size - 1 };
	struct msghdr msg = { .msg_name = peer, .msg_namelen = sizeof(*peer), .msg_iov = &iov,
			      .msg_iovlen = 1, .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);

	if (n < 0)
		return -1;
	req[n] = '\0';
	to->s_addr = htonl(INADDR_ANY);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO)
			*to = ((struct in_pktinfo *)(void *)CMSG_DATA(c))->ipi_addr;
	return n;
}

/* @len bytes to @peer, from the address @from (the one the request came to). */
static void send_reply(int fd, const char *reply, size_t len, const struct sockaddr_in *peer,
		       struct in_addr from)
{
	char cbuf[CMSG_SPACE(sizeof(struct in_pktinfo))] = { 0 };
	struct iovec iov = { .iov_base = (void *)reply, .iov_len = len };
	struct msghdr msg = { .msg_name = (void *)peer, .msg_namelen = sizeof(*peer),
			      .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	struct in_pktinfo pi = { .ipi_spec_dst = from };

	c->cmsg_level = IPPROTO_IP;
	c->cmsg_type = IP_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof(pi));
	memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	sendmsg(fd, &msg, 0);
}

/* Request @req's sequence number into *@seq: 0, or -1 when it is not a request. */
static int parse_request(const char *req, unsigned long long *seq)
{
	return sscanf(req, "TB1 %llu", seq) == 1 ? 0 : -1;
}

/* The answer to request @seq, the service's state being @counter, into @reply; its length. */
static size_t format_reply(char *reply, size_t size, unsigned long long seq, uint64_t counter,
			   const struct utsname *uts, const char *boot_id)
{
	int len = snprintf(reply, size, "TB1 %llu %" PRIu64 " %s %s\n", seq, counter,
			   uts->release, boot_id);

	return len < 0 ? 0 : (size_t)len < size ? (size_t)len : size - 1;
}

/* Up to this long for each answer warm_up() waits for. */
#define WARM_WAIT_NS 500000000LL

/*
 * One request of the service's kind from a socket of our own to the
 * service's socket @fd at @to, read, parsed and answered by the service's
 * own calls (the answer says @counter, which is not counted up); 0 once
 * the answer is back, -1 with @why.
 */
static int warm_exchange(int fd, const struct sockaddr_in *to, uint64_t counter,
			 const struct utsname *uts, const char *boot_id, char *why, size_t len)
{
	struct sockaddr_in peer, me;
	socklen_t melen = sizeof(me);
	unsigned long long seq;
	struct in_addr at;
	char buf[256];
	int c = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = -1;

	/* Connected: its address and port, as the service sees them, are known. */
	if (c < 0 || connect(c, (const struct sockaddr *)to, sizeof(*to)) != 0 ||
	    getsockname(c, (struct sockaddr *)&me, &melen) != 0 || send(c, "TB1 0\n", 6, 0) != 6)
		snprintf(why, len, "cannot send it: %s", strerror(errno));
	else if (takeover_wait_fd(fd, false, takeover_now() + WARM_WAIT_NS) != 0 ||
		 recv_request(fd, buf, sizeof(buf), &peer, &at) < 0)
		snprintf(why, len, "the service did not get it within %lld ms",
			 WARM_WAIT_NS / 1000000);
	else if (peer.sin_port != me.sin_port || peer.sin_addr.s_addr != me.sin_addr.s_addr)
		/* Someone else's (nobody asks B before the handoff): left unanswered. */
		snprintf(why, len, "the service got another request first");
	else if (parse_request(buf, &seq) != 0)
		snprintf(why, len, "the service could not read it");
	else {
		send_reply(fd, buf, format_reply(buf, sizeof(buf), seq, counter, uts, boot_id),
			   &peer, at);
		if (takeover_wait_fd(c, false, takeover_now() + WARM_WAIT_NS) == 0 &&
		    recv(c, buf, sizeof(buf), 0) >= 0)
			rc = 0;
		else
			snprintf(why, len, "no answer within %lld ms", WARM_WAIT_NS / 1000000);
	}
	if (c >= 0)
		close(c);
	return rc;
}

/*
 * One more step of the warm-up, begun at @since and ended with @rc, said
 * at the end of @said: ", @done in N ms", or ", @not_done: @why".
 */
static void warm_said(char *said, size_t size, int rc, int64_t since, const char *done,
		      const char *not_done, const char *why)
{
	size_t used = strlen(said);

	if (rc == 0)
		snprintf(said + used, size - used, ", %s in %.1f ms", done,
			 (double)(takeover_now() - since) / 1e6);
	else
		snprintf(said + used, size - used, ", %s: %s", not_done, why);
}

/*
 * Kernel B, before the handoff: what its first request will run runs once
 * now, so that under TCG none of it is translated for the first time
 * inside the window (guest/kernel/README.md, "Warm before the window").
 * Staged on its own NIC: an address probe (RFC 5227: from no address, no
 * cache learns from it), which kernel A answers, through the NIC's send
 * and receive paths; and the way out (netif_warm_out(): a neighbour added
 * and deleted, the route out looked up), with nothing sent.  With one
 * NIC, which B has only from the handoff on, the address goes on and off
 * the loopback device and is announced there (netif_warm_lo()).  Then a
 * request from a socket of B's own to the service, to the address it will
 * serve on.  Best effort: what it could not do is said, and the handoff
 * does it cold.
 */
static void warm_up(int fd, const struct options *o, const struct taker *t, struct netif *net,
		    uint64_t counter, const struct utsname *uts, const char *boot_id)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)o->port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char probe[400] = "no address probe (no NIC of its own)", why[160], ip[32];
	int64_t start = takeover_now(), mid;
	int rc;

	if (t->staged) {
		int holder = net->ops.probe_holder(net->ops.ctx, t->own_nic, t->cidr,
						   start + WARM_WAIT_NS, why, sizeof(why));

		if (holder > 0)
			snprintf(probe, sizeof(probe), "the address probe answered in %.1f ms",
				 (double)(takeover_now() - start) / 1e6);
		else
			snprintf(probe, sizeof(probe), "the address probe %s",
				 holder == 0 ? "not answered" : why);
		/* Staged: the service's address is local, and the requests will come to it. */
		snprintf(ip, sizeof(ip), "%.*s", (int)strcspn(t->cidr, "/"), t->cidr);
		inet_pton(AF_INET, ip, &to.sin_addr);
		mid = takeover_now();
		rc = netif_warm_out(net, t->own_nic, t->cidr, why, sizeof(why));
		warm_said(probe, sizeof(probe), rc, mid, "the way out", "the way out not", why);
	} else if (t->cidr) {
		if (t->own_nic)
			snprintf(probe, sizeof(probe), "no address probe (the address not staged)");
		mid = takeover_now();
		rc = netif_warm_lo(net, t->cidr, why, sizeof(why));
		warm_said(probe, sizeof(probe), rc, mid, "the address tried on lo",
			  "the address not tried on lo", why);
	}
	mid = takeover_now();
	if (warm_exchange(fd, &to, counter, uts, boot_id, why, sizeof(why)) == 0)
		printf("twinbench-agent: warmed up: %s, a request answered in %.1f ms\n", probe,
		       (double)(takeover_now() - mid) / 1e6);
	else
		printf("twinbench-agent: warmed up: %s, a request not answered: %s\n", probe, why);
}

/* The TCP socket a holder is asked on (--move-listen): port @port, any address. */
static int move_listen_socket(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_ANY) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 4) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/*
 * --pull-from HOST[:PORT] (the port defaults to ours): a connection to the
 * holder within MOVE_STEP_NS; the socket, or -1 with @why.
 */
static int move_connect(const char *target, int port, char *why, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char host[64];
	const char *colon = strchr(target, ':');
	struct pollfd pfd = { .events = POLLOUT };
	int fd, err = 0;
	socklen_t elen = sizeof(err);

	snprintf(host, sizeof(host), "%.*s", colon ? (int)(colon - target) : (int)strlen(target),
		 target);
	if (colon)
		a.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
		snprintf(why, len, "'%s' is no IPv4 address", host);
		return -1;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(why, len, "socket: %s", strerror(errno));
		return -1;
	}
	pfd.fd = fd;
	/* The holder listens from its start on: one attempt, bounded. */
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 ||
	    (errno == EINPROGRESS && poll(&pfd, 1, (int)(MOVE_STEP_NS / 1000000)) > 0 &&
	     getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err == 0))
		return fd;
	if (!err)
		err = errno == EINPROGRESS ? ETIMEDOUT : errno;
	close(fd);
	snprintf(why, len, "cannot reach the holder at %s within %lld ms: %s", target,
		 MOVE_STEP_NS / 1000000, strerror(err));
	return -1;
}

/*
 * --pull-from: take the service from the holder; 0 with @st, or 1 having
 * said why not (a refused state: the holder serves on).
 */
static int pull_service(const struct options *o, struct netif *net, const char *boot_id,
			struct move_state *st)
{
	struct mover m = { .net = &net->ops, .ifname = o->service_if, .step_ns = MOVE_STEP_NS };
	char steps[256];
	int fd = move_connect(o->pull_from, o->port, m.why, sizeof(m.why));

	/* Without the address ops (a test on loopback), only the state moves. */
	if (net->talk < 0)
		m.net = NULL;
	if (fd < 0 || move_take(&m, fd, boot_id, st) != 0) {
		printf("twinbench-agent: %s the service from %s: %s\n",
		       m.refused ? "refusing" : "cannot take", o->pull_from, m.why);
		if (fd >= 0)
			close(fd);
		return 1;
	}
	close(fd);
	move_format_take(&m, steps, sizeof(steps));
	printf("twinbench-agent: move in from=%s %s\n", m.peer_boot, steps);
	return 0;
}

/*
 * A taker connected to @lfd: give it the service.  0 once it went (this
 * agent stops), 1 if it stays here (said why on the console).
 */
static int give_service(const struct options *o, struct netif *net, int lfd, uint64_t counter,
			const struct utsname *uts, const char *boot_id, const char *service)
{
	struct mover m = { .net = &net->ops, .ifname = o->service_if, .step_ns = MOVE_STEP_NS,
			   .corrupt = access(o->corrupt_move_file, F_OK) == 0 };
	struct move_state st = { .counter = counter };
	char steps[256];
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK), rc;

	if (fd < 0)
		return 1;
	if (net->talk < 0)
		m.net = NULL;
	snprintf(st.release, sizeof(st.release), "%s", uts->release);
	snprintf(st.boot_id, sizeof(st.boot_id), "%s", boot_id);
	snprintf(st.service, sizeof(st.service), "%s", service);
	rc = move_give(&m, fd, &st);
	close(fd);
	if (rc != 0) {
		printf("twinbench-agent: the service stays here: %s counter=%" PRIu64 "\n", m.why,
		       counter);
		return 1;
	}
	move_format_give(&m, steps, sizeof(steps));
	printf("twinbench-agent: service moved to boot %s counter=%" PRIu64 "\n", m.peer_boot,
	       counter);
	printf("twinbench-agent: move out %s\n", steps);
	return 0;
}

/*
 * --cycle-cpu, in a kernel that hands over, at boot: the CPU twin-boot
 * will give kernel B, offline and online once (twinprep_cycle_cpu()), and
 * what came of it.  Under TCG the CPU's offline in twin-boot is then not
 * the first run of that code.  0, or 1 having said what failed.
 */
static int cycle_cpu(const struct options *o)
{
	int64_t began = takeover_now();
	char why[512];
	int cpu = -1, rc = twinprep_cycle_cpu(o->sysfs, &cpu, why, sizeof(why));

	if (rc == 0)
		printf("twinbench-agent: CPU %d offline and online once in %.1f ms, as twin-boot "
		       "will take it\n",
		       cpu, (double)(takeover_now() - began) / 1e6);
	else if (rc < 0)
		printf("twinbench-agent: CPU %d not offline and online once: %s\n", cpu, why);
	return rc < 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	struct sigaction sa = { .sa_sigaction = on_stop, .sa_flags = SA_SIGINFO };
	/* The service, the holder's listener (--move-listen), the neighbours' notices. */
	struct pollfd pfds[3] = { { .events = POLLIN },
				  { .fd = -1, .events = POLLIN },
				  { .fd = -1, .events = POLLIN } };
	char boot_id[64], req[128], reply[256], service[32] = "", moved_from[40] = "";
	enum { IDLE, TAKING, TAKEN, ANSWERED } take = IDLE;
	struct taker t = { 0 };
	struct teller tl = { .go = -1 };
	struct netif net = { .events = -1, .talk = -1, .packet = -1 };
	int64_t take_deadline = 0, requested = 0, next_look = 0;
	struct options o;
	sigset_t stops, waitmask;
	uint64_t counter = 0;
	struct utsname uts;
	bool rolled_back = false;
	int fd, restored, lfd = -1;

	parse(argc, argv, &o);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (o.request_pidfile)
		return request_handoff(&o);
	if (o.taken_region)
		return wait_taken(&o);
	if (o.rest_done)
		return take_rest(&o);
	if (o.criu_stats)
		return print_criu_stats(o.criu_stats);
	if (o.cycle_cpu)
		return cycle_cpu(&o);
	if (o.pci_skip || o.mem_blocks) {
		static char list[65536];
		int rc = o.pci_skip ? twinprep_pci_skip(o.sysfs, o.keep, list, sizeof(list))
				    : twinprep_mem_blocks(o.sysfs, "/proc/iomem", list, sizeof(list));

		if (rc == -E2BIG) {
			fprintf(stderr,
				"twinbench-agent: more than %d PCI devices to skip: kernel B's "
				"pci_skip= takes %d, and would size the others' BARs\n",
				TWINPREP_PCI_SKIP_MAX, TWINPREP_PCI_SKIP_MAX);
			return 1;
		}
		if (rc != 0) {
			fprintf(stderr, "twinbench-agent: cannot list %s from %s\n",
				o.pci_skip ? "the PCI devices" : "the memory blocks", o.sysfs);
			return 1;
		}
		printf("%s\n", list);
		return 0;
	}

	uname(&uts);
	read_boot_id(boot_id, sizeof(boot_id));
	restored = o.take_from || o.memory_only || o.pull_from
			   ? 0
			   : state_restore(o.state_path, &counter);
	if (restored < 0) {
		printf("twinbench-agent: refusing to start: state file %s is corrupt\n",
		       o.state_path);
		return 1;
	}
	/* A with one NIC needs it too: to take the NIC back if B refuses. */
	if ((o.take_from || o.drop_addr || (o.release_nic && o.ip) || o.service_addr ||
	     (o.pull_from && o.move_listen)) &&
	    netif_open(&net, TAKE_STEP_NS, o.handoff_to != NULL) != 0) {
		printf("twinbench-agent: cannot open rtnetlink: %s\n", strerror(errno));
		return 1;
	}
	if (o.take_from || o.handoff_to)
		takeover_prepare(o.sysfs);
	/*
	 * Best effort, outside the handoff's window: a handoff maps it itself
	 * otherwise.  The neighbours are looked at once now too, so that
	 * give()'s first call is not the first run of that code (under TCG).
	 */
	if (o.handoff_to) {
		const char *nic = o.release_nic ? o.release_nic : o.drop_addr;
		struct handoff_neighbours nb;

		handoff_map(o.handoff_to);
		if (o.release_nic)
			give_prepare(o.sysfs, o.release_nic);
		if (nic && net.ops.neighbours)
			net.ops.neighbours(net.ops.ctx, nic, &nb);
	}
	if (o.take_from) {
		t = (struct taker){ .region = o.take_from, .from_boot = o.from_boot,
				    .sysfs = o.sysfs, .nic_bdf = o.nic, .own_nic = o.own_nic,
				    .cidr = o.ip, .step_timeout_ns = TAKE_STEP_NS,
				    .net = &net.ops, .hold = HOLD_TAKE_FILE,
				    .fail_hook = FAIL_TAKE_FILE, .stall_hook = STALL_TAKE_FILE };
		take = TAKING;
		tl = (struct teller){ .go = -1, .t = &t, .net = &net, .uts = &uts,
				      .boot_id = boot_id, .done_file = o.done_file };
		if (teller_start(&tl) != 0)
			printf("twinbench-agent: no thread to tell the takeover (%s): the service "
			       "tells it\n",
			       strerror(errno));
		take_deadline = takeover_now() +
				(o.timeout_ms < 0 ? 3600000LL : o.timeout_ms) * 1000000LL;
		/* Its own NIC: the address there already, muted; the handoff lets it speak. */
		if (o.own_nic && o.ip) {
			if (take_stage(&t) == 0)
				printf("twinbench-agent: %s staged on %s, muted until the handoff\n",
				       o.ip, o.own_nic);
			else
				printf("twinbench-agent: %s not staged on %s (%s): the handoff sets "
				       "it\n",
				       o.ip, o.own_nic, t.why);
		}
	}
	/*
	 * A kernel that hands over reads the neighbours' notices as they come:
	 * the handoff's look at them then has none left to read (it had up to
	 * 8 ms of them under TCG).
	 */
	if (o.handoff_to && net.events >= 0)
		pfds[2].fd = net.neigh;
	/* A that keeps its address muted in a handoff (dual): the knob open beforehand. */
	if (o.drop_addr && o.ip && o.handoff_to)
		netif_arp_prepare(&net, o.drop_addr);
	/*
	 * The stop signals stay blocked except inside ppoll(): a signal that
	 * arrives between the loop's check and the wait cannot be missed.
	 */
	sigemptyset(&stops);
	sigaddset(&stops, SIGTERM);
	sigaddset(&stops, SIGINT);
	sigaddset(&stops, SIGUSR1);
	sigprocmask(SIG_BLOCK, &stops, &waitmask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* Without --handoff-to, a stray SIGUSR1 must not end the service unsaved. */
	if (o.handoff_to)
		sigaction(SIGUSR1, &sa, NULL);
	else
		signal(SIGUSR1, SIG_IGN);

	/* Again after a handoff kernel B refused: the same state, our NIC back. */
serve:
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	addr.sin_port = htons((uint16_t)o.port);
	addr.sin_addr.s_addr = htonl(INADDR_ANY);
	pfds[0].fd = fd;
	if (fd < 0 || setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &(int){ 1 }, sizeof(int)) != 0 ||
	    bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		printf("twinbench-agent: cannot bind UDP port %d: %s\n", o.port, strerror(errno));
		return 1;
	}
	if (o.move_listen && lfd < 0) {
		lfd = move_listen_socket(o.port);
		if (lfd < 0) {
			printf("twinbench-agent: cannot listen on TCP port %d: %s\n", o.port,
			       strerror(errno));
			return 1;
		}
		pfds[1].fd = lfd;
		if (o.service_addr)
			snprintf(service, sizeof(service), "%s", o.service_addr);
	}
	/* --pull-from: the service, its state and address, from the agent that holds it. */
	if (o.pull_from && !moved_from[0]) {
		struct move_state st;

		if (pull_service(&o, &net, boot_id, &st) != 0)
			return 1;
		counter = st.counter;
		snprintf(service, sizeof(service), "%s", st.service);
		snprintf(moved_from, sizeof(moved_from), "%s", st.boot_id);
	}
	/*
	 * Only now is the restored state in the service's hands: never use it
	 * twice.  The analyzer takes state_path for NULL when -s set it from
	 * optarg, but -s has a required argument: getopt never leaves it NULL.
	 */
	if (restored == 1)
		unlink(o.state_path); /* NOLINT(clang-analyzer-core.NonNullParamChecker) */
	if (take == TAKING && !rolled_back)
		warm_up(fd, &o, &t, &net, counter, &uts, boot_id);
	if (!rolled_back) {
		tell_ready(o.ready_file);
		printf("twinbench-agent: ready release=%s boot_id=%s counter=%" PRIu64
		       " state=%s\n",
		       uts.release, boot_id, counter,
		       restored ? "restored" : take == TAKING ? "waiting-for-handoff"
				     : moved_from[0] ? "moved-in"
				     : o.memory_only ? "memory" : "fresh");
	}
	restored = 0;

	while (!stop_requested) {
		struct sockaddr_in peer;
		struct in_addr to;
		int64_t wait_ns = next_look - takeover_now();
		struct timespec ts = { .tv_sec = 0, .tv_nsec = wait_ns > 0 ? (long)wait_ns : 0 };
		unsigned long long seq;
		ssize_t n;
		int ready;

		if (take == TAKEN)
			ts = (struct timespec){ .tv_sec = 0, .tv_nsec = (long)TAKEN_QUIET_NS };
		ready = ppoll(pfds, 3, take == TAKING || take == TAKEN ? &ts : NULL, &waitmask);
		if (ready > 0 && (pfds[2].revents & (POLLIN | POLLERR)))
			netif_neigh_update(&net);
		if (ready > 0 && (pfds[1].revents & POLLIN)) {
			/* Asked for the service: if it went, this agent's work is done. */
			teller_join(&tl);
			if (give_service(&o, &net, lfd, counter, &uts, boot_id, service) == 0) {
				close(fd);
				close(lfd);
				netif_close(&net);
				return 0;
			}
			if (!(pfds[0].revents & POLLIN))
				continue;
		}
		if (ready < 0 && errno == EINTR && handoff_requested)
			requested = takeover_now();
		/* A look at the region when it is due, whether or not a request came. */
		if (take == TAKING && takeover_now() >= next_look) {
			next_look = takeover_now() + (t.coming ? TAKE_POLL_FAST_NS : TAKE_POLL_NS);
			switch (take_poll(&t)) {
			case TAKE_WAITING:
				if (takeover_now() < take_deadline)
					break;
				snprintf(t.why, sizeof(t.why),
					 "no state block was released within %" PRId64 " ms",
					 o.timeout_ms < 0 ? 3600000 : o.timeout_ms);
				printf("twinbench-agent: refusing to take over: %s\n", t.why);
				tell_done(o.done_file, "refused", t.why);
				take = IDLE;
				break;
			case TAKE_DONE:
				counter = t.counter;
				take = TAKEN;
				break;
			case TAKE_REFUSED:
				/* Nothing of A's touched: A may take its NIC back and serve on. */
				if (handoff_refuse(o.take_from, o.from_boot) != 0)
					printf("twinbench-agent: cannot mark the state block refused: "
					       "%s\n", strerror(errno));
				printf("twinbench-agent: refusing to take over: %s\n", t.why);
				tell_done(o.done_file, "refused", t.why);
				take = IDLE;
				break;
			case TAKE_RETURNED:
				/* Nothing of A's held any more: A takes it back and serves on. */
				printf("twinbench-agent: takeover failed: %s; the NIC and the state "
				       "block given back to kernel A\n", t.why);
				tell_done(o.done_file, "failed", t.why);
				take = IDLE;
				break;
			case TAKE_EXPIRED:
			case TAKE_WITHDRAWN:
				/*
				 * A took the block back, or never let B have it: A serves
				 * on and drives the NIC; touch nothing of it, mark nothing.
				 */
				printf("twinbench-agent: refusing to take over: %s\n", t.why);
				tell_done(o.done_file, "withdrawn", t.why);
				take = IDLE;
				break;
			case TAKE_FAILED:
				printf("twinbench-agent: takeover failed: %s\n", t.why);
				tell_done(o.done_file, "failed", t.why);
				take = IDLE;
				break;
			}
			if (ready <= 0)
				continue;
		}
		if (take == TAKEN && ready == 0) {
			/* Taken, and nobody asks: say so all the same. */
			take = ANSWERED;
			teller_go(&tl, counter);
			continue;
		}
		if (ready <= 0)
			continue;
		n = recv_request(fd, req, sizeof(req), &peer, &to);
		/*
		 * Before the handoff the service is A's: B's counter is not the
		 * service's, and a reply out of B's NIC would make B ask for the
		 * asker's MAC from the service's address, drawing A's clients
		 * to B.  What comes now is read and left unanswered.
		 */
		if (n < 0 || take == TAKING || parse_request(req, &seq) != 0)
			continue;
		if (take == TAKEN)
			t.b_ns[B_REQUEST] = takeover_now();
		counter++;
		/* Restored by CRIU on another kernel, we would not know. */
		if (o.memory_only)
			read_identity(&uts, boot_id, sizeof(boot_id));
		send_reply(fd, reply, format_reply(reply, sizeof(reply), seq, counter, &uts, boot_id),
			   &peer, to);
		if (take == TAKEN) {
			/* The service is back: now the console may hear about it. */
			take = ANSWERED;
			t.b_ns[B_REPLY] = takeover_now();
			teller_go(&tl, counter);
		}
	}
	teller_join(&tl);
	close(fd);
	if (lfd >= 0)
		close(lfd);
	if (handoff_requested) {
		int rc = hand_over(&o, boot_id, counter, requested ? requested : takeover_now(),
				   takeover_now(), &net);

		if (rc == HAND_OVER_ROLLED_BACK) {
			stop_requested = handoff_requested = handoff_corrupt_requested = 0;
			requested = 0;
			rolled_back = true;
			goto serve;
		}
		netif_close(&net);
		return rc;
	}
	netif_close(&net);
	if (o.memory_only) {
		printf("twinbench-agent: stopped, its state (in memory only) lost counter=%" PRIu64 "\n",
		       counter);
		return 0;
	}
	if (state_save(o.state_path, counter) != 0) {
		printf("twinbench-agent: cannot save state to %s: %s\n", o.state_path,
		       strerror(errno));
		return 1;
	}
	printf("twinbench-agent: state saved counter=%" PRIu64 "\n", counter);
	return 0;
}
