/*
 * lab.c - the embedded lab: network namespace, bridge, private libvirtd.
 *
 * The daemons are started by a child that enters the lab's network
 * namespace, unshares its mount namespace and bind-mounts private
 * directories over libvirt's fixed paths (/etc/libvirt, /run/libvirt,
 * /var/lib/libvirt, /var/log/libvirt, /var/cache/libvirt).  The daemons keep
 * that mount namespace alive; it dies with them.  Only the control socket
 * lives outside it, in LAB_DIR, where the harness can reach it.
 *
 * Tear-down does not trust pid files: it kills every process whose network
 * namespace is the lab's (daemons, QEMU, anything a killed run left), then
 * deletes the namespace, which takes the bridge and the taps with it.
 *
 * Who may bring the lab up or take it down, and when, is decided under a
 * flock(2) on LAB_STATE_DIR/lab.lock, which dies with its holder: two runs
 * that find no lab do not both build one, and a run that leaves does not
 * tear the lab down under another that just joined.  The users' records
 * and the owner file change only under that lock; lab status reads them
 * without it, and removes nothing.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libvirt/libvirt.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/file.h>
#include <unistd.h>

#include "dirtree.h"
#include "lab.h"
#include "monotime.h"
#include "program.h"

#define NETNS_PATH "/run/netns/" LAB_NETNS
#define SLOT_DIR   LAB_STATE_DIR "/slots"

/* libvirtd answers within a second or two; a minute means it will not. */
#define DAEMON_START_TIMEOUT_NS (60 * NS_PER_S)

/*
 * The lab lock is held for a lab up at most: libvirtd's minute, plus a
 * tear-down of a stale lab and one of a failed bring-up (10 s each).
 */
#define LOCK_TIMEOUT_NS (120 * NS_PER_S)

/* Between attempts at a lock someone holds. */
#define LOCK_RETRY_NS (50 * NS_PER_MS)

/* PIDs an error message names; more are counted. */
#define NAMED_PIDS 16

static const struct {
	const char *private; /* under LAB_DIR */
	const char *target;
} lab_mounts[] = {
	{ "etc", "/etc/libvirt" },    { "run", "/run/libvirt" },
	{ "lib", "/var/lib/libvirt" }, { "log", "/var/log/libvirt" },
	{ "cache", "/var/cache/libvirt" },
};

/*
 * The lab's libvirt hosts: the first's state straight under LAB_DIR, the
 * second's under LAB_HOST2_DIR.  Each has a host UUID of its own: libvirt
 * refuses to migrate a guest to the host it runs on, which it tells by
 * that UUID.
 */
static const struct lab_host {
	const char *dir;
	const char *socket;
	const char *uri;
	const char *uuid;
	const char *libvirtd_pid, *virtlogd_pid;
} lab_hosts[] = {
#define HOST(dir, socket, uri, uuid) \
	{ dir, socket, uri, uuid, dir "/libvirtd.pid", dir "/virtlogd.pid" }
	HOST(LAB_DIR, LAB_SOCKET, LAB_URI, "5a9b0e1c-7d2f-4c3a-9e61-0000000000a1"),
	HOST(LAB_HOST2_DIR, LAB_SOCKET2, LAB_URI2, "5a9b0e1c-7d2f-4c3a-9e61-0000000000a2"),
#undef HOST
};

/* A host's libvirtd.conf: control socket reachable from the host, no TCP. */
static const char libvirtd_conf[] = "# twinbench lab: control socket reachable from the host, no TCP.\n"
				    "unix_sock_dir = \"%s\"\n"
				    "unix_sock_rw_perms = \"0700\"\n"
				    "auth_unix_rw = \"none\"\n"
				    "auth_unix_ro = \"none\"\n"
				    "host_uuid = \"%s\"\n"
				    "log_outputs = \"3:file:%s/libvirtd.log\"\n";

static const char qemu_conf[] =
	"# twinbench lab: QEMU runs as root with no confinement; the lab itself\n"
	"# is the isolation, and the host has no cgroup manager to ask.\n"
	"user = \"root\"\n"
	"group = \"root\"\n"
	"dynamic_ownership = 0\n"
	"remember_owner = 0\n"
	"security_driver = \"none\"\n"
	"namespaces = [ ]\n"
	"cgroup_controllers = [ ]\n";

static bool pid_alive(const char *pidfile)
{
	char buf[32] = "";
	FILE *f = fopen(pidfile, "r");
	int pid;

	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	pid = atoi(buf);
	return pid > 0 && kill(pid, 0) == 0;
}

enum lab_state lab_state(void)
{
	struct stat st;
	bool ns = stat(NETNS_PATH, &st) == 0;
	bool dir = stat(LAB_DIR, &st) == 0;

	if (!ns && !dir)
		return LAB_ABSENT;
	for (size_t i = 0; ns && i < sizeof(lab_hosts) / sizeof(lab_hosts[0]); i++)
		if (!pid_alive(lab_hosts[i].libvirtd_pid) || !pid_alive(lab_hosts[i].virtlogd_pid) ||
		    stat(lab_hosts[i].socket, &st) != 0)
			return LAB_STALE;
	return ns ? LAB_UP : LAB_STALE;
}

static int write_file(const char *path, const char *text, struct tb_err *err)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		return tb_err_set(err, TB_EXIT_ENV, "cannot write %s: %s", path, strerror(errno));
	return 0;
}

/* Run "ip -n LAB_NETNS ARGS..." for a NULL-terminated @args. */
static int lab_ip(struct tb_err *err, const char *const args[])
{
	char *argv[16] = { "ip", "-n", LAB_NETNS };
	size_t n = 3;

	for (size_t i = 0; args[i] && n < 15; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	return program_check(argv, err) == 0 ? 0 : -1;
}

/* Child side: enter the namespaces, mount @h's private dirs, exec-and-wait its daemons. */
static void daemon_starter(const struct lab_host *h)
{
	char src[PATH_MAX], conf[PATH_MAX];
	int fd = open(NETNS_PATH, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || setns(fd, CLONE_NEWNET) != 0 || unshare(CLONE_NEWNS) != 0)
		_exit(10);
	/* Nothing mounted here may leak back to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0)
		_exit(11);
	/* A fresh sysfs shows the lab's interfaces, not the host's. */
	umount2("/sys", MNT_DETACH);
	if (mount("sysfs", "/sys", "sysfs", 0, NULL) != 0)
		_exit(12);
	for (size_t i = 0; i < sizeof(lab_mounts) / sizeof(lab_mounts[0]); i++) {
		snprintf(src, sizeof(src), "%s/%s", h->dir, lab_mounts[i].private);
		mkdir(lab_mounts[i].target, 0755);
		if (mount(src, lab_mounts[i].target, NULL, MS_BIND, NULL) != 0)
			_exit(13);
	}
	snprintf(conf, sizeof(conf), "%s/etc/libvirtd.conf", h->dir);
	{
		char *virtlogd[] = { "virtlogd", "--daemon", "--pid-file", (char *)h->virtlogd_pid,
				     NULL };
		char *libvirtd[] = { "libvirtd", "--daemon", "--pid-file", (char *)h->libvirtd_pid,
				     "--config", conf, NULL };
		struct tb_err e;

		if (program_check(virtlogd, &e) != 0 || program_check(libvirtd, &e) != 0) {
			fprintf(stderr, "%s\n", e.msg);
			_exit(14);
		}
	}
	_exit(0);
}

static int start_daemons(const struct lab_host *h, struct tb_err *err)
{
	static const char *why[] = {
		[10] = "cannot enter the lab's network namespace",
		[11] = "cannot make a private mount namespace",
		[12] = "cannot mount sysfs for the lab",
		[13] = "cannot bind-mount libvirt's private directories",
		[14] = "virtlogd or libvirtd failed to start",
	};
	int status, code;
	int64_t deadline;
	pid_t pid = fork();

	if (pid < 0)
		return tb_err_set(err, TB_EXIT_ENV, "fork: %s", strerror(errno));
	if (pid == 0)
		daemon_starter(h);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	code = WIFEXITED(status) ? WEXITSTATUS(status) : 255;
	if (code != 0)
		return tb_err_set(err, TB_EXIT_ENV,
				  "lab: %s (see %s/libvirtd.log; is libvirt installed? 'make deps')",
				  code >= 10 && code <= 14 ? why[code] : "daemon starter crashed",
				  h->dir);

	/* libvirtd has daemonised; it is ready when its socket answers. */
	deadline = monotime_now() + DAEMON_START_TIMEOUT_NS;
	for (;;) {
		virConnectPtr conn = virConnectOpen(h->uri);

		if (conn) {
			virConnectClose(conn);
			return 0;
		}
		if (monotime_now() > deadline)
			return tb_err_set(err, TB_EXIT_ENV,
					  "lab: libvirtd did not answer on %s (see %s/libvirtd.log)",
					  h->socket, h->dir);
		monotime_sleep_until(monotime_now() + 50 * NS_PER_MS);
	}
}

static int prepare_dirs(const struct lab_host *h, struct tb_err *err)
{
	char path[PATH_MAX], conf[1024];

	mkdir("/run/twinbench", 0755);
	if (mkdir(LAB_DIR, 0700) != 0 && errno != EEXIST)
		return tb_err_set(err, TB_EXIT_ENV, "cannot create %s: %s", LAB_DIR,
				  strerror(errno));
	if (mkdir(h->dir, 0700) != 0 && errno != EEXIST)
		return tb_err_set(err, TB_EXIT_ENV, "cannot create %s: %s", h->dir,
				  strerror(errno));
	for (size_t i = 0; i < sizeof(lab_mounts) / sizeof(lab_mounts[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", h->dir, lab_mounts[i].private);
		mkdir(path, 0755);
	}
	snprintf(path, sizeof(path), "%s/etc/qemu", h->dir);
	mkdir(path, 0755);
	snprintf(conf, sizeof(conf), libvirtd_conf, h->dir, h->uuid, h->dir);
	snprintf(path, sizeof(path), "%s/etc/libvirtd.conf", h->dir);
	if (write_file(path, conf, err))
		return -1;
	snprintf(path, sizeof(path), "%s/etc/qemu.conf", h->dir);
	return write_file(path, qemu_conf, err);
}

/* Both hosts' directories and daemons. */
static int start_hosts(struct tb_err *err)
{
	for (size_t i = 0; i < sizeof(lab_hosts) / sizeof(lab_hosts[0]); i++)
		if (prepare_dirs(&lab_hosts[i], err) || start_daemons(&lab_hosts[i], err))
			return -1;
	return 0;
}

static int need_root(struct tb_err *err)
{
	if (geteuid() == 0)
		return 0;
	return tb_err_set(err, TB_EXIT_ENV,
			  "the lab needs root (network namespaces, bridges, libvirtd): run as root");
}

static int take_down(struct tb_err *err);

/* Bring the lab up, cleaning a stale one first; idempotent.  Lab lock held. */
static int bring_up(struct tb_err *err)
{
	enum lab_state st = lab_state();

	if (need_root(err) != 0)
		return -1;
	if (st == LAB_UP)
		return 0;
	if (st == LAB_STALE) {
		fprintf(stderr, "twinbench: cleaning a lab left behind by an earlier run\n");
		if (take_down(err) != 0)
			return -1;
	}
	{
		char *add[] = { "ip", "netns", "add", LAB_NETNS, NULL };

		if (program_check(add, err) != 0)
			return -1;
	}
	if (lab_ip(err, (const char *[]){ "link", "set", "lo", "up", NULL }) ||
	    lab_ip(err, (const char *[]){ "link", "add", LAB_BRIDGE, "type", "bridge", NULL }) ||
	    lab_ip(err, (const char *[]){ "addr", "add", LAB_HOST_IP "/24", "dev", LAB_BRIDGE,
					  NULL }) ||
	    lab_ip(err, (const char *[]){ "link", "set", LAB_BRIDGE, "up", NULL }) ||
	    start_hosts(err)) {
		struct tb_err ignored;

		tb_err_prefix(err, "lab up");
		take_down(&ignored);
		return -1;
	}
	return 0;
}

/* Ask the lab's libvirtds to destroy their domains, so that QEMU exits cleanly. */
static void destroy_lab_domains(void)
{
	for (size_t h = 0; h < sizeof(lab_hosts) / sizeof(lab_hosts[0]); h++) {
		virConnectPtr conn;
		virDomainPtr *doms = NULL;
		int n;

		if (!pid_alive(lab_hosts[h].libvirtd_pid))
			continue;
		conn = virConnectOpen(lab_hosts[h].uri);
		if (!conn)
			continue;
		n = virConnectListAllDomains(conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
		for (int i = 0; i < n; i++) {
			virDomainDestroy(doms[i]);
			virDomainFree(doms[i]);
		}
		free(doms);
		virConnectClose(conn);
	}
}

int lab_process_cmdline(int pid, char *buf, size_t len)
{
	char path[64];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	for (size_t i = 0; i + 1 < n; i++)
		if (!buf[i])
			buf[i] = ' ';
	buf[n] = '\0';
	return 0;
}

/*
 * Signal the processes living in the lab's network namespace whose command
 * line holds @needle (NULL: every one); returns how many.
 */
static int signal_lab(const char *needle, int sig)
{
	struct stat ns, st;
	struct dirent *de;
	int count = 0;
	DIR *proc;

	if (stat(NETNS_PATH, &ns) != 0 || !(proc = opendir("/proc")))
		return 0;
	while ((de = readdir(proc))) {
		int pid = atoi(de->d_name);
		char path[64], cmd[4096];

		if (pid <= 0 || pid == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
		if (stat(path, &st) != 0 || st.st_ino != ns.st_ino || st.st_dev != ns.st_dev)
			continue;
		if (!needle) {
			kill(pid, sig);
			count++;
			continue;
		}
		if (lab_process_cmdline(pid, cmd, sizeof(cmd)) == 0 && strstr(cmd, needle)) {
			kill(pid, sig);
			count++;
		}
	}
	closedir(proc);
	return count;
}

int lab_kill_guests(const struct lab *lab, pid_t pid)
{
	int64_t deadline = monotime_now() + 5 * NS_PER_S;
	char needle[48];
	int left;

	if (lab->external)
		return 0;
	/* QEMU's -name: "guest=tb-PID-SCENARIO,debug-threads=on". */
	snprintf(needle, sizeof(needle), "guest=tb-%d-", (int)pid);
	signal_lab(needle, SIGKILL);
	while ((left = signal_lab(needle, 0)) > 0 && monotime_now() < deadline)
		monotime_sleep_until(monotime_now() + 20 * NS_PER_MS);
	return left;
}

/* Remove everything: domains, daemons, taps, the namespace, LAB_DIR.  Lab lock held. */
static int take_down(struct tb_err *err)
{
	int64_t deadline;

	destroy_lab_domains();
	signal_lab(NULL, SIGTERM);
	/* Daemons exit within milliseconds of SIGTERM; give them 5 s, then SIGKILL. */
	deadline = monotime_now() + 5 * NS_PER_S;
	while (signal_lab(NULL, 0) > 0 && monotime_now() < deadline)
		monotime_sleep_until(monotime_now() + 20 * NS_PER_MS);
	signal_lab(NULL, SIGKILL);
	deadline = monotime_now() + 5 * NS_PER_S;
	while (signal_lab(NULL, 0) > 0 && monotime_now() < deadline)
		monotime_sleep_until(monotime_now() + 20 * NS_PER_MS);
	if (access(NETNS_PATH, F_OK) == 0) {
		char *del[] = { "ip", "netns", "delete", LAB_NETNS, NULL };

		if (program_check(del, err) != 0)
			return -1;
	}
	dirtree_remove(LAB_DIR);
	if (access(LAB_DIR, F_OK) == 0)
		return tb_err_set(err, TB_EXIT_ENV, "lab down: cannot remove %s", LAB_DIR);
	return 0;
}

/* "1, 2 and 3 more" for @n PIDs of which @pids holds the first NAMED_PIDS. */
static void format_pids(const pid_t *pids, int n, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < n && i < NAMED_PIDS && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%d", i ? ", " : "", (int)pids[i]);
	if (n > NAMED_PIDS && used < len)
		snprintf(buf + used, len - used, " and %d more", n - NAMED_PIDS);
}

enum lab_state lab_status(FILE *out)
{
	enum lab_state st = lab_state();
	static const char *names[] = { "absent", "up", "stale (run 'twinbench lab down')" };

	fprintf(out, "lab: %s\n", names[st]);
	if (st == LAB_ABSENT)
		return st;
	fprintf(out, "  namespace %s: %s\n", LAB_NETNS,
		access(NETNS_PATH, F_OK) == 0 ? "present" : "missing");
	for (size_t h = 0; h < sizeof(lab_hosts) / sizeof(lab_hosts[0]); h++)
		fprintf(out, "  host %zu: libvirtd %s, virtlogd %s, uri %s\n", h + 1,
			pid_alive(lab_hosts[h].libvirtd_pid) ? "running" : "dead",
			pid_alive(lab_hosts[h].virtlogd_pid) ? "running" : "dead", lab_hosts[h].uri);
	{
		pid_t pids[NAMED_PIDS], owner = lab_owner(LAB_STATE_DIR);
		int n = lab_users_alive(LAB_STATE_DIR, pids, NAMED_PIDS);
		char list[256];

		format_pids(pids, n, list, sizeof(list));
		fprintf(out, "  runs using it: %s\n", n ? list : "none");
		if (owner)
			fprintf(out, "  taken down by: the last run to leave it (run %d brought it up)\n",
				(int)owner);
		else
			fprintf(out, "  taken down by: 'twinbench lab down' only\n");
	}
	if (st == LAB_UP) {
		virConnectPtr conn = virConnectOpen(LAB_URI);
		virDomainPtr *doms = NULL;
		int n = conn ? virConnectListAllDomains(conn, &doms, 0) : -1;

		fprintf(out, "  domains: %d\n", n < 0 ? 0 : n);
		for (int i = 0; i < n; i++) {
			fprintf(out, "    %s\n", virDomainGetName(doms[i]));
			virDomainFree(doms[i]);
		}
		free(doms);
		if (conn)
			virConnectClose(conn);
	}
	return st;
}

/* Fill @lab for @uri; true if that is all there is to do (an external libvirt). */
static bool lab_describe(struct lab *lab, const char *uri, const char *network)
{
	memset(lab, 0, sizeof(*lab));
	if (uri) {
		lab->external = true;
		snprintf(lab->uri, sizeof(lab->uri), "%s", uri);
		snprintf(lab->network, sizeof(lab->network), "%s", network ? network : "default");
		return true;
	}
	snprintf(lab->uri, sizeof(lab->uri), "%s", LAB_URI);
	snprintf(lab->uri2, sizeof(lab->uri2), "%s", LAB_URI2);
	snprintf(lab->bridge, sizeof(lab->bridge), "%s", LAB_BRIDGE);
	return false;
}

int lab_acquire(struct lab *lab, const char *uri, const char *network, struct tb_err *err)
{
	int lock, rc = 0;

	if (lab_describe(lab, uri, network))
		return 0;
	if (need_root(err) != 0)
		return -1;
	lock = lab_lock(LAB_STATE_DIR, monotime_now() + LOCK_TIMEOUT_NS, err);
	if (lock < 0)
		return -1;
	lab_reap_dead_runs();
	rc = lab_users_join(LAB_STATE_DIR, getpid(), err);
	if (rc != 0)
		goto out;
	lab->registered = true;
	if (lab_state() != LAB_UP) {
		fprintf(stderr, "twinbench: bringing the lab up (twinbench lab up)\n");
		lab->started_now = true;
		rc = bring_up(err);
		/* The runs' lab, even half built: the last to leave takes down what there is. */
		if (lab_set_owner(LAB_STATE_DIR, getpid(), rc == 0 ? err : NULL) != 0)
			rc = -1;
	}
out:
	lab_unlock(lock);
	return rc;
}

int lab_release(struct lab *lab, bool keep, struct tb_err *err)
{
	int lock, rc = 0;

	if (lab->external || !lab->registered)
		return 0;
	lock = lab_lock(LAB_STATE_DIR, monotime_now() + LOCK_TIMEOUT_NS, err);
	if (lock < 0)
		return -1;
	lab->registered = false;
	if (lab_users_leave(LAB_STATE_DIR, getpid(), keep)) {
		rc = take_down(err);
		if (rc == 0)
			rc = lab_set_owner(LAB_STATE_DIR, 0, err);
	}
	lab_unlock(lock);
	return rc;
}

int lab_up(struct tb_err *err)
{
	int lock, rc;

	if (need_root(err) != 0)
		return -1;
	lock = lab_lock(LAB_STATE_DIR, monotime_now() + LOCK_TIMEOUT_NS, err);
	if (lock < 0)
		return -1;
	lab_reap_dead_runs();
	rc = bring_up(err);
	/* Asked for by hand: it stays up until asked down by hand. */
	if (rc == 0)
		rc = lab_set_owner(LAB_STATE_DIR, 0, err);
	lab_unlock(lock);
	return rc;
}

static int down(bool force, struct tb_err *err)
{
	pid_t pids[NAMED_PIDS];
	char list[256];
	int lock, rc, n;

	lock = lab_lock(LAB_STATE_DIR, monotime_now() + LOCK_TIMEOUT_NS, err);
	if (lock < 0)
		return -1;
	n = lab_users_alive(LAB_STATE_DIR, pids, NAMED_PIDS);
	format_pids(pids, n, list, sizeof(list));
	if (n && !force) {
		rc = tb_err_set(err, TB_EXIT_ENV,
				"%s %s %s using the lab: taking it down would kill their guests; wait "
				"for them to end, stop them, or use 'twinbench lab down --force'",
				n > 1 ? "runs" : "run", list, n > 1 ? "are" : "is");
		goto out;
	}
	if (n)
		fprintf(stderr, "twinbench: taking the lab down under run(s) %s\n", list);
	rc = take_down(err);
	if (rc == 0)
		rc = lab_set_owner(LAB_STATE_DIR, 0, err);
	lab_reap_dead_runs();
out:
	lab_unlock(lock);
	return rc;
}

int lab_down(struct tb_err *err)
{
	return down(false, err);
}

int lab_down_force(struct tb_err *err)
{
	return down(true, err);
}

int lab_socket(const struct lab *lab, int domain, int type, struct tb_err *err)
{
	int self, ns, fd, saved;

	if (lab->external)
		return socket(domain, type | SOCK_CLOEXEC, 0);
	/*
	 * setns() affects only the calling thread, and a socket keeps the
	 * namespace it was made in: step in, make it, step back.
	 */
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	ns = open(NETNS_PATH, O_RDONLY | O_CLOEXEC);
	if (self < 0 || ns < 0 || setns(ns, CLONE_NEWNET) != 0) {
		saved = errno;
		if (self >= 0)
			close(self);
		if (ns >= 0)
			close(ns);
		tb_err_set(err, TB_EXIT_ENV, "cannot enter the lab's network namespace: %s "
			   "(is the lab up? 'twinbench lab up')", strerror(saved));
		return -saved;
	}
	fd = socket(domain, type | SOCK_CLOEXEC, 0);
	saved = errno;
	if (setns(self, CLONE_NEWNET) != 0)
		abort(); /* a thread stuck in the wrong namespace is a bug we cannot recover */
	close(self);
	close(ns);
	if (fd < 0) {
		tb_err_set(err, TB_EXIT_ENV, "socket: %s", strerror(saved));
		return -saved;
	}
	return fd;
}

int lab_dial_loopback(const struct lab *lab, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct tb_err err;
	int fd = lab_socket(lab, AF_INET, SOCK_STREAM, &err);

	if (fd < 0)
		return fd;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

int lab_free_port(const struct lab *lab, struct tb_err *err)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = lab_socket(lab, AF_INET, SOCK_STREAM, err), port = -1;

	if (fd < 0)
		return -1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* The kernel picks a free ephemeral port; QEMU binds it right after we let go. */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	else
		tb_err_set(err, TB_EXIT_ENV, "cannot find a free port in the lab: %s",
			   strerror(errno));
	close(fd);
	return port;
}

int lab_with_free_ports(int (*start)(void *arg, struct tb_err *err),
			int (*repick)(void *arg, struct tb_err *err), void *arg,
			struct tb_err *err)
{
	int rc = -1;

	for (int attempt = 1; attempt <= LAB_PORT_ATTEMPTS; attempt++) {
		if (attempt > 1 && repick(arg, err) != 0)
			return -1;
		rc = start(arg, err);
		if (rc != -EADDRINUSE)
			return rc == 0 ? 0 : -1;
		fprintf(stderr, "twinbench: %s%s\n", err->msg,
			attempt < LAB_PORT_ATTEMPTS ? ": trying again with new ports" : "");
	}
	tb_err_prefix(err, "%d attempts, each with new ports, found a port taken, the last time",
		      LAB_PORT_ATTEMPTS);
	return -1;
}

int lab_claim_slot(int *slot, struct tb_err *err)
{
	char path[128], buf[32];

	mkdir("/run/twinbench", 0755);
	mkdir(SLOT_DIR, 0755);
	for (int s = 0; s < LAB_MAX_SLOT; s++) {
		int fd;

		snprintf(path, sizeof(path), SLOT_DIR "/%d", s);
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			continue;
		/* The lock dies with its holder: a killed run frees its slot by itself. */
		if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
			close(fd);
			continue;
		}
		snprintf(buf, sizeof(buf), "%d\n", getpid());
		if (ftruncate(fd, 0) != 0 || write(fd, buf, strlen(buf)) < 0) {
			close(fd);
			continue;
		}
		*slot = s;
		return fd; /* kept open: the lock is the lease */
	}
	return tb_err_set(err, TB_EXIT_ENV, "all %d guest slots of the lab are in use",
			  LAB_MAX_SLOT);
}

void lab_release_slot(int lease)
{
	if (lease >= 0)
		close(lease);
}

/* ---- bookkeeping on a state directory --------------------------------- */

/*
 * Is @pid a live process, and when did it start (clock ticks after boot,
 * field 22 of /proc/PID/stat; @start may be NULL)?  A zombie is not live:
 * it is a run that died, whose parent has not reaped it yet.
 */
static bool process_live(pid_t pid, unsigned long long *start)
{
	char path[64], buf[1024], state = 0, *p;
	unsigned long long st = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* The command name (field 2) may hold spaces and ')': fields go on after the last ')'. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1,
			 " %c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s"
			 " %llu",
			 &state, &st) != 2)
		return false;
	if (start)
		*start = st;
	return state != 'Z' && state != 'X';
}

/*
 * Is the user recorded at @path (PID @pid) alive: the same process, not
 * another one that was given its PID?  A record cut short (no start time)
 * trusts the PID alone.
 */
static bool user_live(const char *path, pid_t pid)
{
	unsigned long long recorded = 0, start = 0;
	FILE *f = fopen(path, "re");
	int id;

	if (f) {
		if (fscanf(f, "%d %llu", &id, &recorded) != 2)
			recorded = 0;
		fclose(f);
	}
	return process_live(pid, &start) && (recorded == 0 || recorded == start);
}

/*
 * Count the live users under @dir, the first @max of their PIDs into @pids;
 * with @prune remove the records of the others (lab lock held).
 */
static int users_scan(const char *dir, pid_t *pids, int max, bool prune)
{
	char path[PATH_MAX];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/users", dir);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		bool record = *end == '\0', temp = !strcmp(end, ".tmp");

		if (pid <= 0 || pid > INT_MAX || (!record && !temp))
			continue;
		snprintf(path, sizeof(path), "%s/users/%s", dir, de->d_name);
		if (record && user_live(path, (pid_t)pid)) {
			if (n < max)
				pids[n] = (pid_t)pid;
			n++;
		} else if (prune && (record || !process_live((pid_t)pid, NULL))) {
			unlink(path);
		}
	}
	closedir(d);
	return n;
}

int lab_lock(const char *dir, int64_t deadline_ns, struct tb_err *err)
{
	char path[PATH_MAX], holder[32];
	bool said = false;
	ssize_t n;
	int fd;

	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return tb_err_set(err, TB_EXIT_ENV, "cannot create %s: %s (the lab needs root)", dir,
				  strerror(errno));
	snprintf(path, sizeof(path), "%s/lab.lock", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return tb_err_set(err, TB_EXIT_ENV, "cannot open %s: %s (the lab needs root)", path,
				  strerror(errno));
	while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK) {
			tb_err_set(err, TB_EXIT_ENV, "cannot lock %s: %s", path, strerror(errno));
			goto err;
		}
		/* The holder wrote its PID in the file when it took the lock. */
		n = pread(fd, holder, sizeof(holder) - 1, 0);
		holder[n > 0 ? n : 0] = '\0';
		holder[strcspn(holder, "\n")] = '\0';
		if (!holder[0])
			snprintf(holder, sizeof(holder), "unknown");
		if (monotime_now() >= deadline_ns) {
			tb_err_set(err, TB_EXIT_ENV,
				   "the lab is locked by process %s (twinbench lab up or down, or a run "
				   "bringing the lab up), longer than a lab up takes: if it is stuck, "
				   "stop it and try again",
				   holder);
			goto err;
		}
		if (!said)
			fprintf(stderr, "twinbench: waiting for process %s, which is bringing the lab "
					"up or down\n",
				holder);
		said = true;
		monotime_sleep_until(monotime_now() + LOCK_RETRY_NS < deadline_ns
					     ? monotime_now() + LOCK_RETRY_NS
					     : deadline_ns);
	}
	n = snprintf(holder, sizeof(holder), "%d\n", (int)getpid());
	/* Only for the message of whoever waits: no failure matters. */
	if (ftruncate(fd, 0) != 0 || pwrite(fd, holder, (size_t)n, 0) != n)
		holder[0] = '\0';
	return fd;
err:
	close(fd);
	return -1;
}

void lab_unlock(int lock)
{
	/* flock(2) locks go with the last descriptor of the open file. */
	if (lock >= 0)
		close(lock);
}

int lab_users_join(const char *dir, pid_t pid, struct tb_err *err)
{
	char path[PATH_MAX], temp[PATH_MAX], record[64];
	unsigned long long start;

	if (!process_live(pid, &start))
		return tb_err_set(err, TB_EXIT_ENV, "no live process %d to count among the lab's users",
				  (int)pid);
	snprintf(path, sizeof(path), "%s/users", dir);
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		return tb_err_set(err, TB_EXIT_ENV, "cannot create %s: %s", path, strerror(errno));
	snprintf(record, sizeof(record), "%d %llu\n", (int)pid, start);
	snprintf(temp, sizeof(temp), "%s/users/%d.tmp", dir, (int)pid);
	snprintf(path, sizeof(path), "%s/users/%d", dir, (int)pid);
	/* Whole or absent: lab status reads records without the lock. */
	if (write_file(temp, record, err) != 0)
		return -1;
	if (rename(temp, path) != 0) {
		unlink(temp);
		return tb_err_set(err, TB_EXIT_ENV, "cannot write %s: %s", path, strerror(errno));
	}
	return 0;
}

bool lab_users_leave(const char *dir, pid_t pid, bool keep)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/users/%d", dir, (int)pid);
	unlink(path);
	if (keep)
		lab_set_owner(dir, 0, NULL);
	return users_scan(dir, NULL, 0, true) == 0 && lab_owner(dir) > 0;
}

int lab_users_alive(const char *dir, pid_t *pids, int max)
{
	return users_scan(dir, pids, max, false);
}

int lab_set_owner(const char *dir, pid_t run, struct tb_err *err)
{
	char path[PATH_MAX], text[32];

	snprintf(path, sizeof(path), "%s/lab.owner", dir);
	if (run <= 0) {
		if (unlink(path) != 0 && errno != ENOENT)
			return tb_err_set(err, TB_EXIT_ENV, "cannot remove %s: %s", path,
					  strerror(errno));
		return 0;
	}
	snprintf(text, sizeof(text), "%d\n", (int)run);
	return write_file(path, text, err);
}

pid_t lab_owner(const char *dir)
{
	char path[PATH_MAX];
	FILE *f;
	int run = 0;

	snprintf(path, sizeof(path), "%s/lab.owner", dir);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%d", &run) != 1 || run < 0)
		run = 0;
	fclose(f);
	return (pid_t)run;
}

/*
 * The PID of the run that named @name "PREFIX<pid>-REST" (REST: @rest_len
 * letters and digits, any length if 0); 0 if @name is not such a name.
 */
static pid_t run_of(const char *name, const char *prefix, size_t rest_len)
{
	size_t plen = strlen(prefix), i;
	const char *rest;
	char *end;
	long pid;

	if (strncmp(name, prefix, plen) || !isdigit((unsigned char)name[plen]))
		return 0;
	pid = strtol(name + plen, &end, 10);
	if (pid <= 0 || pid > INT_MAX || *end != '-')
		return 0;
	rest = end + 1;
	if (!rest_len)
		return (pid_t)pid;
	for (i = 0; i < rest_len; i++)
		if (!isalnum((unsigned char)rest[i]))
			return 0;
	return rest[i] ? 0 : (pid_t)pid;
}

/* Relay sockets tb-PID-… in @dir of runs that died; how many were removed. */
static int reap_relays(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	int n = 0;
	DIR *d = opendir(dir);

	while (d && (de = readdir(d))) {
		pid_t pid = run_of(de->d_name, "tb-", 0);

		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (pid && !process_live(pid, NULL) && lstat(path, &st) == 0 &&
		    S_ISSOCK(st.st_mode) && unlink(path) == 0)
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

/*
 * Work directories twinbench-PID-XXXXXX (mkdtemp's six letters) in @parent
 * of runs that died, ours only; how many were removed.  A directory of a
 * PID that lives again, in another process, waits for that one to die.
 */
static int reap_work_dirs(const char *parent)
{
	char path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	int n = 0;
	DIR *d = opendir(parent);

	while (d && (de = readdir(d))) {
		pid_t pid = run_of(de->d_name, "twinbench-", 6);

		snprintf(path, sizeof(path), "%s/%s", parent, de->d_name);
		if (!pid || process_live(pid, NULL) || lstat(path, &st) != 0 ||
		    !S_ISDIR(st.st_mode) || st.st_uid != geteuid())
			continue;
		dirtree_remove(path);
		if (access(path, F_OK) == 0) {
			fprintf(stderr, "twinbench: cannot remove %s, left by run %d that died\n", path,
				(int)pid);
			continue;
		}
		fprintf(stderr, "twinbench: removed %s, left by run %d that died\n", path, (int)pid);
		n++;
	}
	if (d)
		closedir(d);
	return n;
}

int lab_reap_dead_runs_in(const char *dir, const char *const work_parents[])
{
	char relays[PATH_MAX];
	int n;

	users_scan(dir, NULL, 0, true);
	snprintf(relays, sizeof(relays), "%s/consoles", dir);
	n = reap_relays(relays);
	for (size_t i = 0; work_parents && work_parents[i]; i++)
		n += reap_work_dirs(work_parents[i]);
	return n;
}

void lab_reap_dead_runs(void)
{
	const char *tmp = getenv("TMPDIR");
	/* Where the runner makes them: $TMPDIR, else /var/tmp. */
	const char *parents[] = {
		"/var/tmp",
		tmp && tmp[0] && strcmp(tmp, "/var/tmp") ? tmp : NULL,
		NULL,
	};

	lab_reap_dead_runs_in(LAB_STATE_DIR, parents);
}
