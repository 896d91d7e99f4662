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
 * instead of silently starting from zero.
 *
 * Between twin kernels the state travels through memory instead
 * (handoff.h): --handoff-to makes SIGUSR1 write it to the shared region and
 * stop; --publish marks it released; --wait-ready and --take-from are kernel
 * B's side, which refuses a missing, corrupt or stale block; --wait-taken
 * tells kernel A when B serves from it.
 *
 * Static, no dependencies: it runs in kernel A's Debian root and in kernel
 * B's busybox initramfs alike.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <termios.h>
#include <unistd.h>

#include "handoff.h"

#define STATE_MAGIC "TBSTATE"
#define STATE_VERSION 1

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t handoff_requested;

static void on_stop(int sig)
{
	if (sig == SIGUSR1)
		handoff_requested = 1;
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
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");

	if (!f || !fgets(buf, (int)len, f))
		snprintf(buf, len, "unknown");
	buf[strcspn(buf, "\n")] = '\0';
	if (f)
		fclose(f);
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

/* Write-then-rename so that a crash leaves either the old file or the new one. */
static int state_save(const char *path, uint64_t counter)
{
	char tmp[4096], body[200], line[256];
	int fd, len;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	snprintf(body, sizeof(body), STATE_MAGIC " %u %" PRIu64, STATE_VERSION, counter);
	len = snprintf(line, sizeof(line), "%s %08" PRIx32 "\n", body, fnv1a(body));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	if (write(fd, line, (size_t)len) != len || fsync(fd) != 0) {
		close(fd);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) != 0)
		return -1;
	fsync_dir_of(path);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: twinbench-agent [--port N] [--state FILE] [--handoff-to REGION]\n"
		"                       [--take-from REGION --from-boot ID]\n"
		"       twinbench-agent --publish REGION | --corrupt REGION\n"
		"       twinbench-agent --wait-ready REGION --from-boot ID [--timeout-ms N]\n"
		"       twinbench-agent --wait-taken REGION [--timeout-ms N]\n");
	exit(2);
}

/* A corrupt read can be a torn one while A still writes: believe it after this long. */
#define CORRUPT_SETTLE_NS 50000000LL

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * Kernel B waits for kernel A to release the service: 0 when the block is
 * ready, 1 (after saying why) when it is corrupt, stale or never came.
 */
static int wait_ready(const char *region, const char *from_boot, int64_t timeout_ms)
{
	int64_t start = now_ns(), corrupt_since = 0;
	enum handoff_status s;
	uint64_t counter;
	char why[160];

	for (;;) {
		s = handoff_read(region, from_boot, &counter, why, sizeof(why));
		if (s == HANDOFF_OK)
			return 0;
		if (s == HANDOFF_CORRUPT && !corrupt_since)
			corrupt_since = now_ns();
		if (s != HANDOFF_CORRUPT)
			corrupt_since = 0;
		/* A taken block is the previous handoff's: a new one is coming. */
		if ((s == HANDOFF_STALE && !strstr(why, "taken")) || s == HANDOFF_IO ||
		    (corrupt_since && now_ns() - corrupt_since > CORRUPT_SETTLE_NS) ||
		    now_ns() - start > timeout_ms * 1000000LL)
			break;
		usleep(1000);
	}
	printf("twinbench-agent: refusing to take over: state block is %s: %s\n",
	       handoff_status_name(s), why);
	return 1;
}

/*
 * Kernel A's side after publishing: wait until B's agent serves from the
 * block (TAKEN).  0 once it does; 1 (after saying so) on timeout or error.
 */
static int wait_taken(const char *region, int64_t timeout_ms)
{
	int64_t start = now_ns();
	int taken;

	while ((taken = handoff_taken(region)) == 0 &&
	       now_ns() - start <= timeout_ms * 1000000LL)
		usleep(1000);
	if (taken == 1)
		return 0;
	printf("twinbench-agent: the state block was not taken over within %" PRId64 " ms\n",
	       timeout_ms);
	return 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "state", required_argument, NULL, 's' },
		{ "handoff-to", required_argument, NULL, 'H' },
		{ "take-from", required_argument, NULL, 'T' },
		{ "from-boot", required_argument, NULL, 'B' },
		{ "publish", required_argument, NULL, 'P' },
		{ "corrupt", required_argument, NULL, 'C' },
		{ "wait-ready", required_argument, NULL, 'W' },
		{ "wait-taken", required_argument, NULL, 'K' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state_path = "/var/lib/twinbench/agent.state";
	const char *handoff_to = NULL, *take_from = NULL, *from_boot = NULL;
	const char *publish = NULL, *corrupt = NULL, *wait_region = NULL, *taken_region = NULL;
	int64_t timeout_ms = 60000;
	struct sockaddr_in addr = { .sin_family = AF_INET };
	struct sigaction sa = { .sa_handler = on_stop };
	sigset_t stops, waitmask;
	struct pollfd pfd = { .events = POLLIN };
	char boot_id[64], req[128], reply[256];
	uint64_t counter = 0;
	struct utsname uts;
	int port = 7777, fd, opt, restored;

	while ((opt = getopt_long(argc, argv, "p:s:", opts, NULL)) != -1) {
		switch (opt) {
		case 'p': port = atoi(optarg); break;
		case 's': state_path = optarg; break;
		case 'H': handoff_to = optarg; break;
		case 'T': take_from = optarg; break;
		case 'B': from_boot = optarg; break;
		case 'P': publish = optarg; break;
		case 'C': corrupt = optarg; break;
		case 'W': wait_region = optarg; break;
		case 'K': taken_region = optarg; break;
		case 't': timeout_ms = atoll(optarg); break;
		default: usage();
		}
	}
	if (port <= 0 || port > 65535 || ((take_from || wait_region) && !from_boot))
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* One-shot actions on the shared region. */
	if (publish || corrupt) {
		const char *region = publish ? publish : corrupt;

		if ((publish ? handoff_mark(region, HANDOFF_READY) : handoff_corrupt(region)) != 0) {
			printf("twinbench-agent: no valid state block in %s\n", region);
			return 1;
		}
		return 0;
	}
	if (wait_region)
		return wait_ready(wait_region, from_boot, timeout_ms);
	if (taken_region)
		return wait_taken(taken_region, timeout_ms);

	uname(&uts);
	read_boot_id(boot_id, sizeof(boot_id));
	if (take_from) {
		char why[160];
		enum handoff_status hs = handoff_read(take_from, from_boot, &counter, why, sizeof(why));

		if (hs != HANDOFF_OK) {
			printf("twinbench-agent: refusing to take over: state block is %s: %s\n",
			       handoff_status_name(hs), why);
			return 1;
		}
		restored = 2;
	} else {
		restored = state_restore(state_path, &counter);
	}
	if (restored < 0) {
		printf("twinbench-agent: refusing to start: state file %s is corrupt\n", state_path);
		return 1;
	}
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
	if (handoff_to)
		sigaction(SIGUSR1, &sa, NULL);

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	addr.sin_port = htons((uint16_t)port);
	addr.sin_addr.s_addr = htonl(INADDR_ANY);
	pfd.fd = fd;
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		printf("twinbench-agent: cannot bind UDP port %d: %s\n", port, strerror(errno));
		return 1;
	}
	/*
	 * Only now is the restored state in the service's hands: never use it
	 * twice.  The analyzer takes state_path for NULL when -s set it from
	 * optarg, but -s has a required argument: getopt never leaves it NULL.
	 */
	if (restored == 1)
		unlink(state_path); /* NOLINT(clang-analyzer-core.NonNullParamChecker) */
	printf("twinbench-agent: ready release=%s boot_id=%s counter=%" PRIu64 " state=%s\n",
	       uts.release, boot_id, counter,
	       restored == 2 ? "taken-over" : restored ? "restored" : "fresh");
	/*
	 * A taken block lets the kernel before park, and then this kernel
	 * wakes its CPUs, which its log announces on the same console: the
	 * ready line must be out on the wire first, not interleaved with it.
	 */
	fflush(stdout);
	if (restored == 2 && isatty(STDOUT_FILENO))
		tcdrain(STDOUT_FILENO);
	if (restored == 2 && handoff_mark(take_from, HANDOFF_TAKEN) != 0) {
		printf("twinbench-agent: cannot mark the state block taken\n");
		return 1;
	}

	while (!stop_requested) {
		struct sockaddr_in peer;
		socklen_t plen = sizeof(peer);
		unsigned long long seq;
		ssize_t n;
		int len;

		if (ppoll(&pfd, 1, NULL, &waitmask) < 0)
			continue;
		n = recvfrom(fd, req, sizeof(req) - 1, MSG_DONTWAIT, (struct sockaddr *)&peer,
			     &plen);
		if (n < 0)
			continue;
		req[n] = '\0';
		if (sscanf(req, "TB1 %llu", &seq) != 1)
			continue;
		counter++;
		len = snprintf(reply, sizeof(reply), "TB1 %llu %" PRIu64 " %s %s\n", seq, counter,
			       uts.release, boot_id);
		sendto(fd, reply, (size_t)len, 0, (struct sockaddr *)&peer, plen);
	}
	close(fd);
	if (handoff_requested) {
		if (handoff_write(handoff_to, HANDOFF_WRITTEN, counter, boot_id) != 0) {
			printf("twinbench-agent: cannot write the state block to %s: %s\n", handoff_to,
			       strerror(errno));
			return 1;
		}
		printf("twinbench-agent: state handed over counter=%" PRIu64 "\n", counter);
		return 0;
	}
	if (state_save(state_path, counter) != 0) {
		printf("twinbench-agent: cannot save state to %s: %s\n", state_path,
		       strerror(errno));
		return 1;
	}
	printf("twinbench-agent: state saved counter=%" PRIu64 "\n", counter);
	return 0;
}
