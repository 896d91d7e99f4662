/*
 * cmd_run.c - `twinbench run SCENARIO...`: boot, upgrade, measure, record.
 *
 * Every scenario file is parsed before anything starts.  Then, per
 * scenario: a results directory, a temporary work directory (root disk
 * overlays, the upgrade payload disk), and per repetition a fresh guest,
 * both consoles, the probe, the method's step program, the probe's verdict,
 * and run.json rewritten.  SIGINT/SIGTERM are taken by a thread of their own
 * that destroys this run's domains, removes the work directory and, if this
 * run brought the lab up, takes it down.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "atomicfile.h"
#include "breakdown.h"
#include "capture.h"
#include "commands.h"
#include "dirtree.h"
#include "console.h"
#include "filecopy.h"
#include "lab.h"
#include "methods.h"
#include "monotime.h"
#include "probe.h"
#include "results.h"
#include "scenario.h"
#include "toolstats.h"
#include "payload.h"
#include "program.h"
#include "progress.h"
#include "verdict.h"
#include "virt.h"

struct run_opts {
	int repetitions; /* 0: the scenario's */
	const char *accel;
	const char *connect;
	const char *network;
	const char *results;
	bool keep_lab;
	bool capture; /* --capture: dumpcap beside the probe, on the lab bridge */
};

/* What the signal thread must undo; guarded by lock. */
static struct {
	pthread_mutex_t lock;
	struct virt *virt;
	struct virt *virt2; /* the lab's second host, once a guest was migrated to it */
	struct lab *lab;
	bool keep_lab;
	char workdir[PATH_MAX];
} cleanup = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Why a run stops when libvirt's daemon went away (guest_watch(), run_repetition()). */
#define LIBVIRT_LOST                                                                             \
	"the lab's libvirt daemon went away during the run (killed or crashed): this run's "      \
	"guest was killed; run again, the next run brings the lab up anew"

struct runner;

/* One guest of a repetition: the primary, or the standby beside it (method: standby). */
struct guest {
	struct runner *r;
	bool standby;
	char ip[32];   /* its own address in the lab */
	char mac[32];
	int port[2];		/* ttyS0, ttyS1; read by the consoles' readers: __atomic access */
	struct console *con[2]; /* the repetition's, while it runs (the standby's: ttyS0 only) */
	bool upgraded;		/* guest_start(): the domain boots the new kernel */
	bool host2;		/* a live migration to the lab's second host was tried (this rep) */
	off_t host2_log_from;	/* where its QEMU log there stood before */
	char disk[PATH_MAX];
	struct virt_domain *dom;
};

struct runner {
	const struct scenario *sc;
	const struct lab *lab;
	struct virt *virt;
	struct virt *virt2; /* the lab's second host (live_migrate), opened on first use */
	struct results *res;
	struct repetition *rep; /* the repetition running */
	char accel[8];
	char mac2[32]; /* kernel B's own NIC (nic: dual) */
	/*
	 * Where the probe asks: the primary's own address, or with a standby
	 * the service address, which moves between the two.
	 */
	char service_ip[32];
	char cmdline_old[4096];
	char cmdline_new[4096];
	char cmdline_next[4096]; /* upgrade.next's, "" without one */
	char cmdline_standby[4096];
	char payload[PATH_MAX];
	struct guest primary, standby; /* standby.r is NULL without one */

	struct progress *progress;
	bool capture;
};

/* The console relay sockets of run @pid (console_close() removes them otherwise). */
static void remove_relays(int pid)
{
	char prefix[32], path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(CONSOLE_RELAY_DIR);

	snprintf(prefix, sizeof(prefix), "tb-%d-", pid);
	while (d && (de = readdir(d))) {
		if (!strncmp(de->d_name, prefix, strlen(prefix))) {
			snprintf(path, sizeof(path), CONSOLE_RELAY_DIR "/%s", de->d_name);
			unlink(path);
		}
	}
	if (d)
		closedir(d);
}

static void *signal_thread(void *arg)
{
	sigset_t *set = arg;
	struct tb_err err;
	int sig = 0;

	sigwait(set, &sig);
	pthread_mutex_lock(&cleanup.lock);
	fprintf(stderr, "\ntwinbench: %s: cleaning up\n", strsignal(sig));
	if (cleanup.virt)
		virt_destroy_owned(cleanup.virt, getpid());
	if (cleanup.virt2)
		virt_destroy_owned(cleanup.virt2, getpid());
	if (cleanup.virt && cleanup.lab && virt_lost(cleanup.virt))
		lab_kill_guests(cleanup.lab, getpid());
	dirtree_remove(cleanup.workdir);
	remove_relays(getpid());
	/* What was measured so far reaches the disk: console logs, probe.csv. */
	fflush(NULL);
	if (cleanup.lab && lab_release(cleanup.lab, cleanup.keep_lab, &err) != 0)
		fprintf(stderr, "twinbench: %s\n", err.msg);
	_exit(128 + sig);
	return NULL;
}

/* The interpreter's progress callback. */
static void step_progress(void *arg, const char *doing)
{
	progress_step(((struct runner *)arg)->progress, doing);
}

/* ---- the guest --------------------------------------------------------- */

static int dial_console(void *ctx)
{
	struct guest *g = ((void **)ctx)[0];
	int which = (int)(intptr_t)((void **)ctx)[1];

	return lab_dial_loopback(g->r->lab, __atomic_load_n(&g->port[which], __ATOMIC_ACQUIRE));
}

/* printf @fmt to the end of command line @line (@size bytes in all). */
__attribute__((format(printf, 3, 4))) static void cmdline_append(char *line, size_t size,
								 const char *fmt, ...)
{
	size_t used = strlen(line);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line + used, size - used, fmt, ap);
	va_end(ap);
}

/*
 * The guest's domain name: "tb-<pid>-<scenario>" (and "-standby"), so a
 * dead run's leftovers are found.
 */
static void guest_name(const struct guest *g, char *name, size_t len)
{
	snprintf(name, len, "tb-%d-%s%s", getpid(), g->r->sc->name, g->standby ? "-standby" : "");
}

static char *guest_xml(struct guest *g, bool upgraded, struct tb_err *err)
{
	const struct runner *r = g->r;
	const struct scenario *sc = r->sc;
	const struct standby_spec *sb = &sc->standby;
	char name[160];
	struct guest_config c = {
		.name = name,
		.accel = r->accel,
		.kernel = upgraded ? sc->upgrade.kernel : sc->guest.kernel,
		.initrd = upgraded ? sc->upgrade.initrd : sc->guest.initrd,
		.cmdline = upgraded ? r->cmdline_new : r->cmdline_old,
		.disk = sc->guest.rootfs ? g->disk : NULL,
		.payload = r->payload[0] ? r->payload : NULL,
		.memory_mib = sc->guest.memory_mib,
		.vcpus = sc->guest.vcpus,
		.bridge = r->lab->external ? NULL : r->lab->bridge,
		.network = r->lab->external ? r->lab->network : NULL,
		.mac = g->mac,
		.mac2 = sc->guest.nic == NIC_DUAL ? r->mac2 : NULL,
		.console_port = { g->port[0], g->port[1] },
	};

	/* The standby: its own images and size, no upgrade payload, one NIC. */
	if (g->standby) {
		c.kernel = sb->kernel;
		c.initrd = sb->initrd;
		c.cmdline = r->cmdline_standby;
		c.disk = sb->rootfs ? g->disk : NULL;
		c.payload = NULL;
		c.memory_mib = sb->memory_mib;
		c.vcpus = sb->vcpus;
		c.mac2 = NULL;
	}
	guest_name(g, name, sizeof(name));
	return virt_domain_xml(&c, err);
}

/* Two distinct console ports nobody listens on now in the lab, into @port. */
static int two_free_ports(const struct lab *lab, int port[2], struct tb_err *err)
{
	for (int i = 0; i < 2; i++) {
		port[i] = lab_free_port(lab, err);
		if (port[i] < 0)
			return -1;
	}
	if (port[0] == port[1]) {
		port[1] = lab_free_port(lab, err);
		if (port[1] < 0 || port[1] == port[0])
			return tb_err_set(err, TB_EXIT_ENV,
					  "cannot find two free console ports in the lab");
	}
	return 0;
}

/*
 * The guest's consoles are on @port now: they drop what they are connected
 * to and dial those.  @connections (may be NULL) gets each console's count
 * of connections from before, for console_wait_connected_after().
 */
static void guest_set_ports(struct guest *g, const int port[2], int connections[2])
{
	for (int i = 0; i < 2; i++) {
		if (connections && g->con[i])
			connections[i] = console_connections(g->con[i]);
		__atomic_store_n(&g->port[i], port[i], __ATOMIC_RELEASE);
		if (g->con[i])
			console_redial(g->con[i]);
	}
}

/*
 * Two console ports nobody listens on now, into g->port.  Consoles already
 * dialling drop what they are connected to and dial the new ones: a port
 * that was taken is someone else's, maybe another run's guest.
 */
static int pick_ports(void *arg, struct tb_err *err)
{
	struct guest *g = arg;
	int port[2];

	if (two_free_ports(g->r->lab, port, err) != 0)
		return -1;
	guest_set_ports(g, port, NULL);
	return 0;
}

static int guest_start_once(void *arg, struct tb_err *err)
{
	struct guest *g = arg;
	char *xml = guest_xml(g, g->upgraded, err);
	int rc;

	if (!xml)
		return -1;
	pthread_mutex_lock(&cleanup.lock);
	virt_destroy(g->dom);
	rc = virt_start(g->r->virt, xml, &g->dom, err);
	pthread_mutex_unlock(&cleanup.lock);
	free(xml);
	return rc;
}

/* Start the guest on the old or the new kernel; with new ports if its were taken. */
static int guest_start(struct guest *g, bool upgraded, struct tb_err *err)
{
	g->upgraded = upgraded;
	return lab_with_free_ports(guest_start_once, pick_ports, g, err);
}

/* The consoles' watch: a guest whose QEMU went away will say nothing more. */
static const char *guest_watch(void *arg)
{
	struct guest *g = arg;
	bool gone, lost;

	pthread_mutex_lock(&cleanup.lock);
	gone = g->dom && virt_is_gone(g->dom);
	/* Asked after a call to it: a daemon that went away failed that call. */
	lost = virt_lost(g->r->virt);
	pthread_mutex_unlock(&cleanup.lock);
	if (lost)
		return LIBVIRT_LOST;
	if (!gone)
		return NULL;
	return g->standby ? "the standby guest is gone: its QEMU process exited (the lab's QEMU "
			    "log says why)"
			  : "the guest is gone: its QEMU process exited (the lab's QEMU log says "
			    "why)";
}

static void guest_destroy(struct guest *g)
{
	pthread_mutex_lock(&cleanup.lock);
	virt_destroy(g->dom);
	g->dom = NULL;
	/* Without its daemon, libvirt destroys nothing: the guest's QEMU goes by signal. */
	if (virt_lost(g->r->virt) && lab_kill_guests(g->r->lab, getpid()) > 0)
		fprintf(stderr, "twinbench: the guest's QEMU did not exit on SIGKILL\n");
	pthread_mutex_unlock(&cleanup.lock);
}

static int cb_wait_stopped(void *arg, int64_t deadline_ns, struct tb_err *err)
{
	struct runner *r = arg;

	if (virt_wait_stopped(r->primary.dom, deadline_ns) != 0)
		return -ETIMEDOUT;
	(void)err;
	return 0;
}

static int cb_start_new_kernel(void *arg, struct tb_err *err)
{
	return guest_start(&((struct runner *)arg)->primary, true, err);
}

/* A copy-on-write overlay of @rootfs: every repetition starts from the same pristine image. */
static int make_disk(struct guest *g, const char *rootfs, const char *workdir, int rep,
		     struct tb_err *err)
{
	snprintf(g->disk, sizeof(g->disk), "%s/root%s-%d.qcow2", workdir,
		 g->standby ? "-standby" : "", rep);
	unlink(g->disk);
	return program_check((char *[]){ "qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b",
				       (char *)rootfs, g->disk, NULL },
			   err);
}

static struct probe *probe_connect(struct runner *r, int rep, struct tb_err *err)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char csv[PATH_MAX];
	int fd = lab_socket(r->lab, AF_INET, SOCK_DGRAM, err);

	if (fd < 0)
		return NULL;
	sa.sin_port = htons((uint16_t)r->sc->service.port);
	inet_pton(AF_INET, r->service_ip, &sa.sin_addr);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		tb_err_set(err, TB_EXIT_ENV, "probe: connect %s: %s", r->service_ip,
			   strerror(errno));
		close(fd);
		return NULL;
	}
	snprintf(csv, sizeof(csv), "%s/probe.csv", results_dir(r->res));
	return probe_start(fd, r->sc->service.interval_ns, csv, rep, err);
}

/* Seconds the service gets to show it is still alive when a repetition ends. */
#define ALIVE_CHECK_NS (5 * NS_PER_S)

/* Where a console's tail in a repetition's error was cut. */
#define CUT "...\n"

/*
 * The last lines of each console, after @msg: what the guests said as it
 * failed.  Each console gets an equal share of what @msg leaves of the
 * error, and a tail longer than its share keeps its end: the lines just
 * before the failure are the ones that tell why.
 */
static void fail_with_consoles(struct repetition *rep, struct console *con[METHOD_CONSOLES],
			       const char *msg)
{
	static const char *const names[METHOD_CONSOLES] = { "a", "b", "standby" };
	/* b first: a twin's new kernel speaks there; then a, then the standby. */
	static const int order[METHOD_CONSOLES] = { 1, 0, 2 };
	size_t used, size = sizeof(rep->error);
	int left = 0;

	rep->ok = false;
	used = (size_t)snprintf(rep->error, size, "%s", msg);
	for (int i = 0; i < METHOD_CONSOLES; i++)
		left += con[i] != NULL;
	for (int k = 0; k < METHOD_CONSOLES && used + 1 < size; k++) {
		int i = order[k];
		char *tail;
		const char *from, *mark = "";
		size_t share, head, len;

		if (!con[i])
			continue;
		share = (size - 1 - used) / (size_t)left--;
		tail = console_tail(con[i], 12);
		from = tail ? tail : "";
		head = (size_t)snprintf(NULL, 0, "\n--- last lines of console %s ---\n", names[i]);
		len = strlen(from);
		if (head + len > share) {
			/* CUT and the end that fits: cut at a line start where one is near. */
			size_t room = share > head + strlen(CUT) ? share - head - strlen(CUT) : 0;
			const char *nl;

			from += len - room;
			nl = strchr(from, '\n');
			if (nl && (size_t)(nl - from) < room / 2)
				from = nl + 1;
			mark = CUT;
		}
		used += (size_t)snprintf(rep->error + used, size - used,
					 "\n--- last lines of console %s ---\n%s%s", names[i], mark,
					 from);
		if (used >= size)
			used = size - 1;
		free(tail);
	}
}

/* The lab's log of guest @g's QEMU, "" with a libvirt of the user's. */
static void qemu_log_path(const struct guest *g, bool host2, char *path, size_t len)
{
	char name[160];

	guest_name(g, name, sizeof(name));
	if (g->r->lab->external)
		path[0] = '\0';
	else
		snprintf(path, len, "%s/%s.log", host2 ? LAB_QEMU_LOG_DIR2 : LAB_QEMU_LOG_DIR, name);
}

/* Where @path ends now: a repetition's part of it starts there. */
static off_t file_end(const char *path)
{
	struct stat st;

	return path[0] && stat(path, &st) == 0 ? st.st_size : 0;
}

/*
 * A failed repetition keeps what QEMU said while it ran (warnings, an
 * error, how it ended) as qemu-N.log (qemu-standby-N.log): the part of
 * the lab's log that follows @from.
 */
static void keep_qemu_log(const struct guest *g, int index, const char *path, off_t from,
			  const char *suffix)
{
	char to[PATH_MAX];
	struct tb_err err;

	if (!path[0])
		return;
	snprintf(to, sizeof(to), "%s/qemu%s%s-%d.log", results_dir(g->r->res),
		 g->standby ? "-standby" : "", suffix, index);
	if (file_copy(path, from, to, &err) != 0)
		fprintf(stderr, "twinbench: %s\n", err.msg);
}

/* An NMI to the primary guest (a scenario's fault injection). */
static int cb_inject_nmi(void *arg, struct tb_err *err)
{
	struct runner *r = arg;

	return virt_inject_nmi(r->primary.dom, err);
}

/* A machine check into one vCPU of the primary guest (a scenario's fault injection). */
static int cb_inject_mce(void *arg, int cpu, struct tb_err *err)
{
	struct runner *r = arg;

	return virt_inject_mce(r->primary.dom, cpu, err);
}

/*
 * Live-migrate the primary to the lab's second libvirt host: its consoles
 * follow it to new telnet ports, and libvirt's figures of the migration
 * join the repetition's tools' own ("libvirt-migration").
 */
static int cb_live_migrate(void *arg, int64_t max_downtime_ns, int64_t deadline_ns,
			   struct tb_err *err)
{
	struct runner *r = arg;
	struct guest *g = &r->primary;
	struct tool_stats st;
	struct virt_domain *moved = NULL;
	int port[2], connections[2] = { 0, 0 }, rc;
	char log[PATH_MAX];

	/* run_scenario() refused a live_migrate step under --connect. */
	if (!r->virt2) {
		r->virt2 = virt_open(r->lab->uri2, err);
		if (!r->virt2)
			return -1;
		pthread_mutex_lock(&cleanup.lock);
		cleanup.virt2 = r->virt2;
		pthread_mutex_unlock(&cleanup.lock);
	}
	/* The source QEMU still listens on the guest's ports: these are others. */
	if (two_free_ports(r->lab, port, err) != 0)
		return -1;
	/* The destination's QEMU log says why, should the migration or the guest fail there. */
	qemu_log_path(g, true, log, sizeof(log));
	g->host2_log_from = file_end(log);
	g->host2 = true;
	rc = virt_migrate(g->dom, r->virt2, port, max_downtime_ns / NS_PER_MS, deadline_ns, &moved,
			  &st, err);
	if (rc != 0)
		return -1;
	pthread_mutex_lock(&cleanup.lock);
	virt_destroy(g->dom);
	g->dom = moved;
	pthread_mutex_unlock(&cleanup.lock);
	/*
	 * Counted before the ports change: whatever a console is connected to
	 * now (nothing, once the source QEMU is gone) is older than the
	 * connection to the guest's new ports that the redial makes.
	 */
	guest_set_ports(g, port, connections);
	if (r->rep && r->rep->ntool_stats < RESULTS_MAX_TOOL_STATS)
		r->rep->tool_stats[r->rep->ntool_stats++] = st;
	/* The next steps talk to the guest on its new ports. */
	for (int i = 0; i < 2; i++)
		if (g->con[i] &&
		    console_wait_connected_after(g->con[i], connections[i], deadline_ns) != 0)
			return tb_err_set(err, TB_EXIT_CHECK,
					  "console %c did not connect to the migrated guest's port %d "
					  "before the step's timeout",
					  'a' + i, port[i]);
	return 0;
}

/* Stop the capture; what dumpcap said went wrong becomes the capture's note. */
static void stop_capture(struct capture *cap, struct repetition *rep)
{
	struct capture_stats st;
	struct tb_err e = { 0 };

	if (capture_stop(cap, &st, &e) != 0)
		snprintf(rep->capture_note, sizeof(rep->capture_note), "%s", e.msg);
	else if (st.dropped > 0)
		snprintf(rep->capture_note, sizeof(rep->capture_note),
			 "dumpcap dropped %lld of %lld packets: the capture may miss replies",
			 st.dropped, st.received);
}

/* The first request sent at or after @t_ns; UINT64_MAX if none. */
static uint64_t seq_at(const struct probe_record *trace, size_t n, int64_t t_ns)
{
	for (size_t i = 0; i < n; i++)
		if (trace[i].t_send_ns >= t_ns)
			return trace[i].seq;
	return UINT64_MAX;
}

/*
 * The capture's downtime over the probe's window, given as sequence
 * numbers (the capture's clock is not ours): each window of a chain or of
 * a method with two on its own, the longer gap kept, as the probe's
 * downtime is.
 */
static void judge_capture(struct runner *r, const struct capture_spec *cs,
			  const struct probe_record *trace, size_t n, struct repetition *rep)
{
	const struct method *m = &r->sc->method;
	int64_t start = m->downtime_from ? repetition_phase(rep, m->downtime_from) : -1;
	int64_t second = -1, longest = 0;
	struct capture_result res;
	struct tb_err e = { 0 };

	if (!rep->measured || start < 0) {
		if (!rep->capture_note[0])
			snprintf(rep->capture_note, sizeof(rep->capture_note),
				 "no downtime to compare with");
		return;
	}
	if (rep->nrounds > 1)
		second = verdict_second_window(r->sc, rep);
	for (int round = 0; round < (second >= 0 ? 2 : 1); round++) {
		uint64_t from = seq_at(trace, n, round ? second : start);
		uint64_t to = !round && second >= 0 ? seq_at(trace, n, second) - 1 : UINT64_MAX;

		if (capture_analyse(cs, from, to, &res, &e) != 0) {
			snprintf(rep->capture_note, sizeof(rep->capture_note), "%s", e.msg);
			return;
		}
		if (res.gap_ns > longest)
			longest = res.gap_ns;
	}
	rep->captured = true;
	rep->capture_downtime_ns = longest;
	rep->capture_agrees =
	    capture_agrees(longest, rep->downtime_ns, r->sc->service.interval_ns);
}

/*
 * Guest @g's consoles: console-a.log and console-b.log for the primary,
 * standby-a.log for the standby's ttyS0, each with a relay socket (twinbench
 * console).  @ctx holds their dial contexts.
 */
static int open_consoles(struct guest *g, void *ctx[2][2], struct tb_err *err)
{
	struct runner *r = g->r;
	char log[PATH_MAX], relay[PATH_MAX];

	for (int i = 0; i < (g->standby ? 1 : 2); i++) {
		ctx[i][0] = g;
		ctx[i][1] = (void *)(intptr_t)i;
		snprintf(log, sizeof(log), "%s/%s-%c.log", results_dir(r->res),
			 g->standby ? "standby" : "console", 'a' + i);
		g->con[i] = console_open(g->standby ? "standby" : i ? "b" : "a", log, dial_console,
					 ctx[i], err);
		if (!g->con[i])
			return -1;
		console_set_watch(g->con[i], guest_watch, g);
		snprintf(relay, sizeof(relay), CONSOLE_RELAY_DIR "/tb-%d-%s-%s.sock", getpid(),
			 r->sc->name, g->standby ? "standby" : i ? "b" : "a");
		if (console_serve(g->con[i], relay, err) != 0)
			return -1;
	}
	return 0;
}

/* After a repetition: the guest's domain, consoles and disk go. */
static void guest_end(struct guest *g, struct repetition *rep)
{
	guest_destroy(g);
	for (int i = 0; i < 2; i++) {
		if (g->con[i] && !g->standby)
			rep->console_reconnects[i] = console_reconnects(g->con[i]);
		console_close(g->con[i]);
		g->con[i] = NULL;
	}
	if (g->disk[0])
		unlink(g->disk);
	g->disk[0] = '\0';
}

/*
 * What the spare cost: from the standby's start until the service was back
 * on the upgraded primary (the method's maintenance end), or, short of
 * that, until @end_ns; less the method's quiet window when it fell in
 * between: the harness's measurement, not the upgrade's.
 */
static void standby_cost(const struct runner *r, struct repetition *rep, int64_t end_ns)
{
	int64_t from = repetition_phase(rep, "standby_start");
	int64_t to = r->sc->method.maintenance_to
			     ? repetition_phase(rep, r->sc->method.maintenance_to)
			     : -1;

	if (from < 0)
		return;
	rep->standby_ns = (to > from ? to : end_ns) - from;
	if (rep->quiet_ns && rep->quiet_from_ns >= from &&
	    rep->quiet_from_ns + rep->quiet_ns <= from + rep->standby_ns)
		rep->standby_ns -= rep->quiet_ns;
}

static int run_repetition(struct runner *r, const char *workdir, int index,
			  struct repetition *rep, struct tb_err *err)
{
	const struct scenario *sc = r->sc;
	struct guest *sb = r->standby.r ? &r->standby : NULL;
	char qemu_log[2][PATH_MAX] = { "", "" };
	void *dial_ctx[2][2][2];
	struct probe *probe = NULL;
	struct capture *cap = NULL;
	struct capture_spec cs;
	char pcap[PATH_MAX];
	struct probe_record *trace;
	size_t ntrace;
	int64_t stopped;
	struct tb_err step_err = { 0 };
	off_t qemu_log_from[2] = { 0, 0 };
	int rc = -1;

	memset(rep, 0, sizeof(*rep));
	rep->index = index;
	rep->ok = true;
	progress_rep(r->progress, index);
	progress_step(r->progress, "starting the guest");
	r->primary.host2 = false;
	qemu_log_path(&r->primary, false, qemu_log[0], sizeof(qemu_log[0]));
	qemu_log_from[0] = file_end(qemu_log[0]);
	if (sb) {
		qemu_log_path(sb, false, qemu_log[1], sizeof(qemu_log[1]));
		qemu_log_from[1] = file_end(qemu_log[1]);
	}

	if (sc->guest.rootfs && make_disk(&r->primary, sc->guest.rootfs, workdir, index, err) != 0)
		goto out;
	if (sb && sc->standby.rootfs && make_disk(sb, sc->standby.rootfs, workdir, index, err) != 0)
		goto out;
	mkdir("/run/twinbench", 0755);
	mkdir(CONSOLE_RELAY_DIR, 0700);
	if (open_consoles(&r->primary, dial_ctx[0], err) != 0 ||
	    (sb && open_consoles(sb, dial_ctx[1], err) != 0))
		goto out;
	if (guest_start(&r->primary, false, err) != 0)
		goto out;
	repetition_mark(rep, "guest_start", monotime_now());
	/* The standby boots beside it, on its own address, the service not yet its own. */
	if (sb) {
		if (guest_start(sb, false, err) != 0)
			goto out;
		repetition_mark(rep, "standby_start", monotime_now());
	}
	if (r->capture) {
		snprintf(pcap, sizeof(pcap), "%s/capture-%d.pcapng", results_dir(r->res), index);
		cs = (struct capture_spec){ .netns = LAB_NETNS, .iface = r->lab->bridge,
					    .host = r->service_ip, .port = sc->service.port,
					    .path = pcap };
		cap = capture_start(&cs, err);
		if (!cap)
			goto out;
	}
	probe = probe_connect(r, index, err);
	if (!probe)
		goto out;

	struct method_env env = {
		.sc = sc,
		.console = { r->primary.con[0], r->primary.con[1], sb ? sb->con[0] : NULL },
		.probe = probe,
		.rep = rep,
		.wait_stopped = cb_wait_stopped,
		.start_new_kernel = cb_start_new_kernel,
		.live_migrate = cb_live_migrate,
		.inject_nmi = cb_inject_nmi,
		.inject_mce = cb_inject_mce,
		.progress = step_progress,
		.runner = r,
	};
	r->rep = rep;
	if (method_run(&env, &step_err) != 0) {
		char regs[PATH_MAX];
		struct tb_err ignored;
		struct virt_domain *dom = r->primary.dom;

		/* Where the guest's CPUs were, while the guest is still there to ask. */
		snprintf(regs, sizeof(regs), "%s/cpu-state-%d.txt", results_dir(r->res), index);
		if (dom && !virt_is_gone(dom) && virt_cpu_state(dom, regs, &ignored) != 0)
			fprintf(stderr, "twinbench: %s\n", ignored.msg);
		fail_with_consoles(rep, env.console, step_err.msg);
	}
	if (virt_lost(r->virt)) {
		/* Not the method's failure: the environment's, and no later repetition would start. */
		if (rep->ok)
			fail_with_consoles(rep, env.console, LIBVIRT_LOST);
		tb_err_set(err, TB_EXIT_ENV, "%s", LIBVIRT_LOST);
		goto out;
	}
	/* What the agents of a twin handoff said of its steps, once the service was back. */
	breakdown_collect(r->primary.con, rep);
	/* What the method's tools measured themselves (kexec-criu: CRIU; migrate: the agents). */
	{
		struct console *con[3] = { r->primary.con[0], r->primary.con[1],
					   sb ? sb->con[0] : NULL };

		toolstats_collect(con, 3, rep);
	}
	progress_step(r->progress, "checking that the service is alive");
	rep->alive_at_end = probe_wait_reply(probe, monotime_now(),
					     monotime_now() + ALIVE_CHECK_NS, NULL) == 0;
	/*
	 * The trace ends where the probe stopped sending: neither the CSV's
	 * fsync nor the capture's wind-down is a silence of the service.
	 */
	stopped = probe_stop(probe);
	if (cap)
		stop_capture(cap, rep);
	cap = NULL;
	trace = probe_snapshot(probe, &ntrace);
	if (trace) {
		verdict_judge(sc, trace, ntrace, stopped, rep);
		if (r->capture)
			judge_capture(r, &cs, trace, ntrace, rep);
	} else {
		fail_with_consoles(rep, env.console, "out of memory for the probe's trace");
	}
	free(trace);
	if (sb)
		standby_cost(r, rep, stopped);
	rc = 0;
out:
	if (cap)
		stop_capture(cap, rep);
	guest_end(&r->primary, rep);
	if (sb)
		guest_end(sb, rep);
	if (!rep->ok) {
		keep_qemu_log(&r->primary, index, qemu_log[0], qemu_log_from[0], "");
		if (sb)
			keep_qemu_log(sb, index, qemu_log[1], qemu_log_from[1], "");
		if (r->primary.host2) {
			char host2[PATH_MAX];

			qemu_log_path(&r->primary, true, host2, sizeof(host2));
			keep_qemu_log(&r->primary, index, host2, r->primary.host2_log_from, "-host2");
		}
	}
	probe_free(probe);
	r->rep = NULL;
	return rc;
}

/* ---- a scenario -------------------------------------------------------- */

/* What sha256sum says of @path, into @hex (65 bytes); "" if it could not say. */
static void image_sha256(const char *path, char *hex)
{
	char out[256];
	struct tb_err err;

	hex[0] = '\0';
	if (program_run((char *[]){ "sha256sum", (char *)path, NULL }, out, sizeof(out), &err) == 0 &&
	    strspn(out, "0123456789abcdef") == 64)
		snprintf(hex, 65, "%.64s", out);
}

/* A kernel as run.json records it: the image, its digest, its initrd's size. */
static void describe_kernel(const char *kernel, const char *initrd, struct run_kernel *k)
{
	struct stat st;

	snprintf(k->image, sizeof(k->image), "%s", kernel);
	image_sha256(kernel, k->sha256);
	k->initrd_bytes = initrd && stat(initrd, &st) == 0 ? st.st_size : 0;
}

/*
 * The root image's key: the one `make image` built it under (images/manifest,
 * the digest of base, overlay and agent), else its size and time: hashing
 * 2 GiB at every run would cost seconds.
 */
static void describe_rootfs(const char *rootfs, char *key, size_t len)
{
	char manifest[PATH_MAX], line[256];
	const char *slash = strrchr(rootfs, '/');
	struct stat st;
	FILE *f;

	snprintf(manifest, sizeof(manifest), "%.*s/manifest", (int)(slash ? slash - rootfs : 1),
		 slash ? rootfs : ".");
	/* The manifest speaks of rootfs.img beside it, and of no other image. */
	f = !strcmp(slash ? slash + 1 : rootfs, "rootfs.img") ? fopen(manifest, "re") : NULL;
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "rootfs_key=", 11)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(key, len, "%s key:%s", rootfs, line + 11);
			fclose(f);
			return;
		}
	if (f)
		fclose(f);
	if (stat(rootfs, &st) == 0)
		snprintf(key, len, "%s size:%lld mtime:%lld", rootfs, (long long)st.st_size,
			 (long long)st.st_mtime);
	else
		snprintf(key, len, "%s", rootfs);
}

static void fill_info(struct runner *r, const struct run_opts *o, struct run_info *info)
{
	struct utsname uts;
	time_t now = time(NULL);
	char libvirt[32], qemu[32];

	memset(info, 0, sizeof(*info));
	snprintf(info->scenario, sizeof(info->scenario), "%s", r->sc->name);
	snprintf(info->scenario_path, sizeof(info->scenario_path), "%s", r->sc->path);
	snprintf(info->method, sizeof(info->method), "%s", scenario_method_label(r->sc));
	strftime(info->started, sizeof(info->started), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	snprintf(info->accel, sizeof(info->accel), "%s", r->accel);
	virt_versions(r->virt, libvirt, sizeof(libvirt), qemu, sizeof(qemu));
	snprintf(info->qemu_version, sizeof(info->qemu_version), "%s", qemu);
	snprintf(info->libvirt_version, sizeof(info->libvirt_version), "%s", libvirt);
	uname(&uts);
	snprintf(info->host_kernel, sizeof(info->host_kernel), "%s", uts.release);
	info->probe_interval_ns = r->sc->service.interval_ns;
	info->repetitions = r->sc->repetitions;
	snprintf(info->method_file, sizeof(info->method_file), "%s", r->sc->method.path);
	info->guest_memory_mib = r->sc->guest.memory_mib;
	info->guest_vcpus = r->sc->guest.vcpus;
	if (r->sc->standby.present) {
		info->standby_memory_mib = r->sc->standby.memory_mib;
		info->standby_vcpus = r->sc->standby.vcpus;
	}
	describe_kernel(r->sc->guest.kernel, r->sc->guest.initrd, &info->boot_old);
	if (r->sc->upgrade.kernel)
		describe_kernel(r->sc->upgrade.kernel, r->sc->upgrade.initrd, &info->boot_new);
	if (r->sc->guest.rootfs)
		describe_rootfs(r->sc->guest.rootfs, info->rootfs, sizeof(info->rootfs));
	(void)o;
}

/* The guest's domain XML as its first boot gets it: domain.xml, domain-standby.xml. */
static int save_domain_xml(struct guest *g, struct tb_err *err)
{
	struct atomic_file af;
	char path[PATH_MAX], *xml = guest_xml(g, false, err);
	int rc = -1;

	snprintf(path, sizeof(path), "%s/domain%s.xml", results_dir(g->r->res),
		 g->standby ? "-standby" : "");
	if (xml && atomic_open(&af, path, err) == 0)
		rc = atomic_commit(&af, fputs(xml, af.f) < 0, err);
	free(xml);
	return rc;
}

struct summary_row {
	char name[64];
	char method[16];
	struct results_summary sum;
};

/* Whether one of @n @steps live-migrates the guest. */
static bool has_live_migrate(const struct step *steps, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (steps[i].op == OP_LIVE_MIGRATE)
			return true;
	return false;
}

static int run_scenario(struct scenario *sc, const struct run_opts *o, struct lab *lab,
			struct virt *virt, struct summary_row *row, struct tb_err *err)
{
	struct runner r = { .sc = sc, .lab = lab, .virt = virt, .capture = o->capture };
	/* Nothing upgraded: the new kernel is the one that answered on console b. */
	bool twin = sc->method.verify == VERIFY_UNBROKEN && !sc->method.no_upgrade;
	struct repetition *reps = NULL;
	struct run_info info;
	char workdir[PATH_MAX];
	const char *tmp = getenv("TMPDIR");
	int slot = -1, lease = -1, rc = -1;
	/* With a standby: its own slot, and one for the service address that moves. */
	int sb_slot = -1, sb_lease = -1, svc_slot = -1, svc_lease = -1;

	snprintf(row->name, sizeof(row->name), "%s", sc->name);
	snprintf(row->method, sizeof(row->method), "%s", scenario_method_label(sc));
	if (lab->external) {
		char who[160] = "";

		if (has_live_migrate(sc->method.steps, sc->method.nsteps))
			snprintf(who, sizeof(who), "the %s method", sc->method.name);
		else if (has_live_migrate(sc->steps, sc->nsteps))
			snprintf(who, sizeof(who), "a step of the scenario");
		if (who[0])
			return tb_err_set(err, TB_EXIT_ENV,
					  "%s: %s live-migrates the guest to the embedded lab's "
					  "second libvirt host, which a libvirt given by --connect "
					  "does not have: run it without --connect",
					  sc->path, who);
	}
	/* Named by our PID, so that a run that finds it after we died removes it. */
	snprintf(workdir, sizeof(workdir), "%s/twinbench-%d-XXXXXX", tmp ? tmp : "/var/tmp",
		 getpid());
	pthread_mutex_lock(&cleanup.lock);
	if (!mkdtemp(workdir)) {
		pthread_mutex_unlock(&cleanup.lock);
		return tb_err_set(err, TB_EXIT_ENV, "mkdtemp %s: %s", workdir, strerror(errno));
	}
	snprintf(cleanup.workdir, sizeof(cleanup.workdir), "%s", workdir);
	pthread_mutex_unlock(&cleanup.lock);

	if (virt_choose_accel(virt, o->accel, sc->guest.kernel, workdir,
			      lab->external ? NULL : LAB_DIR "/accel", r.accel, sizeof(r.accel),
			      err) != 0)
		goto out;
	if (!strcmp(r.accel, "tcg") && virt_tcg_racy(virt))
		fprintf(stderr,
			"twinbench: warning: this QEMU (before 8.1) races a memory map change on one "
			"TCG vCPU against MMIO on another; it can crash while a guest sizes PCI BARs "
			"('make deps' installs a newer one)\n");
	lease = lab_claim_slot(&slot, err);
	if (lease < 0)
		goto out;
	r.primary.r = &r;
	snprintf(r.primary.ip, sizeof(r.primary.ip), "10.213.0.%d", 10 + slot);
	snprintf(r.primary.mac, sizeof(r.primary.mac), "52:54:00:d5:00:%02x", slot);
	snprintf(r.mac2, sizeof(r.mac2), "52:54:00:d5:01:%02x", slot);
	snprintf(r.service_ip, sizeof(r.service_ip), "%s", r.primary.ip);
	if (sc->standby.present) {
		sb_lease = lab_claim_slot(&sb_slot, err);
		if (sb_lease < 0)
			goto out;
		svc_lease = lab_claim_slot(&svc_slot, err);
		if (svc_lease < 0)
			goto out;
		r.standby = (struct guest){ .r = &r, .standby = true };
		snprintf(r.standby.ip, sizeof(r.standby.ip), "10.213.0.%d", 10 + sb_slot);
		snprintf(r.standby.mac, sizeof(r.standby.mac), "52:54:00:d5:00:%02x", sb_slot);
		snprintf(r.service_ip, sizeof(r.service_ip), "10.213.0.%d", 10 + svc_slot);
		if (pick_ports(&r.standby, err) != 0)
			goto out;
	}
	if (pick_ports(&r.primary, err) != 0)
		goto out;
	/* The harness's own settings ride on the guest's command line (guest/rootfs/overlay). */
	snprintf(r.cmdline_old, sizeof(r.cmdline_old), "%s twinbench.ip=%s/%d twinbench.port=%d",
		 sc->guest.cmdline, r.primary.ip, LAB_PREFIX, sc->service.port);
	snprintf(r.cmdline_new, sizeof(r.cmdline_new), "%s twinbench.ip=%s/%d twinbench.port=%d",
		 sc->upgrade.cmdline ? sc->upgrade.cmdline : sc->guest.cmdline, r.primary.ip,
		 LAB_PREFIX, sc->service.port);
	if (sc->upgrade.next.kernel)
		snprintf(r.cmdline_next, sizeof(r.cmdline_next),
			 "%s twinbench.ip=%s/%d twinbench.port=%d", sc->upgrade.next.cmdline,
			 r.primary.ip, LAB_PREFIX, sc->service.port);
	/*
	 * Two guests: each knows the other's address (twinbench.peer=), and the
	 * primary's first boot holds the service address (twinbench.service_ip=);
	 * a boot without it waits until the service is moved to it.
	 */
	if (sc->standby.present) {
		snprintf(r.cmdline_standby, sizeof(r.cmdline_standby),
			 "%s twinbench.ip=%s/%d twinbench.port=%d twinbench.peer=%s",
			 sc->standby.cmdline, r.standby.ip, LAB_PREFIX, sc->service.port,
			 r.primary.ip);
		cmdline_append(r.cmdline_old, sizeof(r.cmdline_old),
			       " twinbench.peer=%s twinbench.service_ip=%s/%d", r.standby.ip,
			       r.service_ip, LAB_PREFIX);
		cmdline_append(r.cmdline_new, sizeof(r.cmdline_new), " twinbench.peer=%s",
			       r.standby.ip);
	}
	/*
	 * Under TCG each kernel boots on one CPU and brings the others online
	 * once its PCI devices are set up (guest/rootfs/overlay/etc/twinbench/rcS):
	 * QEMU's TCG can send an MMIO access astray when another vCPU sizes a
	 * BAR, and it once aborted so while a kernel enumerated its devices
	 * (README.md, "The lab").
	 */
	if (!strcmp(r.accel, "tcg")) {
		cmdline_append(r.cmdline_old, sizeof(r.cmdline_old), " maxcpus=1");
		cmdline_append(r.cmdline_new, sizeof(r.cmdline_new), " maxcpus=1");
		if (r.cmdline_next[0])
			cmdline_append(r.cmdline_next, sizeof(r.cmdline_next), " maxcpus=1");
		if (r.cmdline_standby[0])
			cmdline_append(r.cmdline_standby, sizeof(r.cmdline_standby), " maxcpus=1");
	}
	/* nic: dual: kernel A leaves the NIC with this MAC to kernel B from boot on. */
	if (sc->guest.nic == NIC_DUAL)
		cmdline_append(r.cmdline_old, sizeof(r.cmdline_old), " twinbench.nic_b=%s", r.mac2);
	if (sc->upgrade.kernel &&
	    payload_make(workdir, &sc->upgrade, r.cmdline_new, r.cmdline_next, r.payload,
			 sizeof(r.payload), err) != 0)
		goto out;

	fill_info(&r, o, &info);
	r.res = results_create(o->results, &info, err);
	if (!r.res)
		goto out;
	if (save_domain_xml(&r.primary, err) != 0 ||
	    (sc->standby.present && save_domain_xml(&r.standby, err) != 0))
		goto out;
	fprintf(stderr, "twinbench: %s (%s, %d repetition%s, %s) -> %s\n", sc->name,
		sc->method.name, sc->repetitions, sc->repetitions > 1 ? "s" : "", r.accel,
		results_dir(r.res));

	reps = calloc((size_t)sc->repetitions, sizeof(*reps));
	if (!reps) {
		tb_err_set(err, TB_EXIT_ENV, "out of memory for %d repetitions", sc->repetitions);
		goto out;
	}
	r.progress = progress_start(sc->name, sc->repetitions, stderr);
	rc = 0;
	for (int i = 0; i < sc->repetitions && rc == 0; i++) {
		rc = run_repetition(&r, workdir, i + 1, &reps[i], err);
		if (rc != 0) {
			struct tb_err ignored;

			/* A repetition that ran and failed so is evidence too: it is kept. */
			if (!reps[i].ok && results_add(r.res, &reps[i], &ignored) != 0)
				fprintf(stderr, "twinbench: %s\n", ignored.msg);
			break;
		}
		if (!info.kernel_old[0] && reps[i].ok) {
			snprintf(info.kernel_old, sizeof(info.kernel_old), "%s", reps[i].release_before);
			snprintf(info.kernel_new, sizeof(info.kernel_new), "%s",
				 twin ? reps[i].console_release[1] : reps[i].release_after);
			results_set_info(r.res, &info, err);
		}
		if (results_add(r.res, &reps[i], err) != 0)
			rc = -1;
		progress_clear(r.progress);
		if (reps[i].ok && twin)
			fprintf(stderr,
				"[%s] rep %d/%d: kernel B %s ran beside kernel A %s; A's longest "
				"service gap %.1f ms\n",
				sc->name, i + 1, sc->repetitions, reps[i].console_release[1],
				reps[i].console_release[0], (double)reps[i].downtime_ns / NS_PER_MS);
		else if (reps[i].ok && !reps[i].measured)
			fprintf(stderr, "[%s] rep %d/%d: steps passed (no upgrade to measure)\n",
				sc->name, i + 1, sc->repetitions);
		else if (reps[i].ok)
			fprintf(stderr, "[%s] rep %d/%d: downtime %.1f ms, verified (%s -> %s)\n",
				sc->name, i + 1, sc->repetitions,
				(double)reps[i].downtime_ns / NS_PER_MS, reps[i].release_before,
				reps[i].release_after);
		else
			fprintf(stderr, "[%s] rep %d/%d: FAILED: %s\n", sc->name, i + 1,
				sc->repetitions, reps[i].error);
		if (reps[i].captured)
			fprintf(stderr, "[%s] rep %d/%d: capture: downtime %.1f ms, %s\n", sc->name,
				i + 1, sc->repetitions, (double)reps[i].capture_downtime_ns / NS_PER_MS,
				reps[i].capture_agrees ? "agrees with the probe"
						       : "DISAGREES with the probe");
		else if (reps[i].capture_note[0])
			fprintf(stderr, "[%s] rep %d/%d: capture: %s\n", sc->name, i + 1,
				sc->repetitions, reps[i].capture_note);
		for (int b = 0; b < reps[i].nbreakdowns; b++) {
			const struct handoff_breakdown *bd = &reps[i].breakdowns[b];
			char a_steps[256], b_steps[256];

			breakdown_format(&bd->a, a_steps, sizeof(a_steps));
			breakdown_format(&bd->b, b_steps, sizeof(b_steps));
			fprintf(stderr,
				"[%s] rep %d/%d: handoff %d: kernel A %.2f ms (%s); kernel B %.2f ms "
				"(%s)\n",
				sc->name, i + 1, sc->repetitions, b + 1,
				(double)breakdown_total(&bd->a) / NS_PER_MS, a_steps,
				(double)breakdown_total(&bd->b) / NS_PER_MS, b_steps);
			if (bd->rest.nsteps) {
				breakdown_format(&bd->rest, b_steps, sizeof(b_steps));
				fprintf(stderr,
					"[%s] rep %d/%d: handoff %d: then kernel B took the rest of A "
					"in %.2f ms (%s)\n",
					sc->name, i + 1, sc->repetitions, b + 1,
					(double)breakdown_total(&bd->rest) / NS_PER_MS, b_steps);
			}
		}
		for (int t = 0; t < reps[i].ntool_stats; t++) {
			char figures[1024];

			toolstats_format(&reps[i].tool_stats[t], figures, sizeof(figures));
			fprintf(stderr, "[%s] rep %d/%d: %s: %s\n", sc->name, i + 1, sc->repetitions,
				reps[i].tool_stats[t].name, figures);
		}
		for (int c = 0; c < 2; c++)
			if (reps[i].console_reconnects[c])
				fprintf(stderr,
					"[%s] rep %d/%d: console %c connected again %d time%s (what "
					"the guest printed meanwhile is not in its log)\n",
					sc->name, i + 1, sc->repetitions, 'a' + c,
					reps[i].console_reconnects[c],
					reps[i].console_reconnects[c] > 1 ? "s" : "");
		if (reps[i].ok && reps[i].takeover_cpus)
			fprintf(stderr, "[%s] rep %d/%d: kernel B took over %d vCPUs and %lld MiB\n",
				sc->name, i + 1, sc->repetitions, reps[i].takeover_cpus,
				(long long)reps[i].takeover_memtotal_kb / 1024);
		/* Recomputed over all repetitions so far: the table is right if we stop here. */
		results_summarise(reps, (size_t)i + 1, &row->sum);
	}
	progress_stop(r.progress);
	r.progress = NULL;
out:
	free(reps);
	results_close(r.res);
	if (r.virt2) {
		pthread_mutex_lock(&cleanup.lock);
		cleanup.virt2 = NULL;
		virt_close(r.virt2);
		pthread_mutex_unlock(&cleanup.lock);
	}
	lab_release_slot(lease);
	if (sb_lease >= 0)
		lab_release_slot(sb_lease);
	if (svc_lease >= 0)
		lab_release_slot(svc_lease);
	pthread_mutex_lock(&cleanup.lock);
	dirtree_remove(workdir);
	cleanup.workdir[0] = '\0';
	pthread_mutex_unlock(&cleanup.lock);
	return rc;
}

static void print_table(const struct summary_row *rows, int n)
{
	printf("\n%-20s %-14s %5s %9s %12s %12s %12s\n", "scenario", "method", "reps", "verified",
	       "median ms", "min ms", "max ms");
	for (int i = 0; i < n; i++) {
		const struct results_summary *s = &rows[i].sum;

		if (s->measured)
			printf("%-20s %-14s %5d %6d/%-2d %12.1f %12.1f %12.1f\n", rows[i].name,
			       rows[i].method, s->repetitions, s->verified, s->repetitions,
			       (double)s->median_ns / NS_PER_MS, (double)s->min_ns / NS_PER_MS,
			       (double)s->max_ns / NS_PER_MS);
		else
			printf("%-20s %-14s %5d %6d/%-2d %12s %12s %12s\n", rows[i].name,
			       rows[i].method, s->repetitions, s->verified, s->repetitions, "-", "-",
			       "-");
	}
	printf("downtime = longest gap between probe replies (resolution: the probe interval)\n");
}

static int usage(FILE *out)
{
	fprintf(out,
		"usage: twinbench run [OPTIONS] SCENARIO.yaml...\n"
		"  -n, --repetitions N   override the scenarios' repetitions\n"
		"      --accel MODE      kvm, tcg or auto (default: auto, KVM only if it boots)\n"
		"      --results DIR     where result directories go (default: results)\n"
		"      --keep-lab        leave the lab up if this run brought it up\n"
		"      --capture         record the probe's packets on the lab bridge (dumpcap)\n"
		"                        and check the downtime against them\n"
		"      --connect URI     use this libvirt instead of the embedded lab\n"
		"      --network NAME    with --connect: the libvirt network for the guests\n"
		"exit: 0 all verified, 1 a repetition failed, 2 bad input, 3 environment\n");
	return out == stdout ? TB_EXIT_OK : TB_EXIT_USAGE;
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "repetitions", required_argument, NULL, 'n' },
		{ "accel", required_argument, NULL, 'A' },
		{ "results", required_argument, NULL, 'R' },
		{ "keep-lab", no_argument, NULL, 'K' },
		{ "capture", no_argument, NULL, 'P' },
		{ "connect", required_argument, NULL, 'C' },
		{ "network", required_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct run_opts o = { .accel = "auto", .results = "results" };
	struct scenario *scs = NULL;
	struct summary_row *rows = NULL;
	struct tb_err err = { 0 };
	struct lab lab = { 0 };
	struct virt *virt = NULL;
	static sigset_t sigs;
	pthread_t sigthread;
	int nsc, opt, exit_code = TB_EXIT_OK;

	while ((opt = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'n': {
			char *end;
			long n;

			errno = 0;
			n = strtol(optarg, &end, 10);
			/* "5x" or "" is a typo, not five: every character must be a digit. */
			o.repetitions = errno || end == optarg || *end || n < 1 || n > INT_MAX ? 0
											     : (int)n;
			if (o.repetitions < 1) {
				fprintf(stderr, "twinbench run: --repetitions wants a number >= 1, "
						"got '%s'\n",
					optarg);
				return TB_EXIT_USAGE;
			}
			break;
		}
		case 'A':
			o.accel = optarg;
			if (strcmp(o.accel, "kvm") && strcmp(o.accel, "tcg") && strcmp(o.accel, "auto")) {
				fprintf(stderr, "twinbench run: --accel wants kvm, tcg or auto\n");
				return TB_EXIT_USAGE;
			}
			break;
		case 'R':
			o.results = optarg;
			break;
		case 'K':
			o.keep_lab = true;
			break;
		case 'P':
			o.capture = true;
			break;
		case 'C':
			o.connect = optarg;
			break;
		case 'N':
			o.network = optarg;
			break;
		case 'h':
			return usage(stdout);
		default:
			return usage(stderr);
		}
	}
	nsc = argc - optind;
	if (nsc < 1)
		return usage(stderr);
	/* The capture runs on the lab's bridge; another libvirt's network is not ours to tap. */
	if (o.capture && o.connect) {
		fprintf(stderr, "twinbench run: --capture needs the embedded lab, not --connect\n");
		return TB_EXIT_USAGE;
	}

	/* Every file is checked before anything starts. */
	scs = calloc((size_t)nsc, sizeof(*scs));
	rows = calloc((size_t)nsc, sizeof(*rows));
	if (!scs || !rows) {
		free(scs);
		free(rows);
		return TB_EXIT_ENV;
	}
	for (int i = 0; i < nsc; i++) {
		if (scenario_load(argv[optind + i], &scs[i], &err) != 0) {
			fprintf(stderr, "%s\n", err.msg);
			exit_code = TB_EXIT_USAGE;
		} else if (o.repetitions) {
			scs[i].repetitions = o.repetitions;
		}
	}
	if (exit_code != TB_EXIT_OK)
		goto out;

	/* Signals go to one thread only; every thread made from here inherits the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	pthread_create(&sigthread, NULL, signal_thread, &sigs);
	pthread_detach(sigthread);

	pthread_mutex_lock(&cleanup.lock);
	cleanup.lab = &lab;
	cleanup.keep_lab = o.keep_lab;
	pthread_mutex_unlock(&cleanup.lock);
	if (lab_acquire(&lab, o.connect, o.network, &err) != 0)
		goto fail;
	virt = virt_open(lab.uri, &err);
	if (!virt)
		goto fail;
	pthread_mutex_lock(&cleanup.lock);
	cleanup.virt = virt;
	pthread_mutex_unlock(&cleanup.lock);
	virt_reap_orphans(virt);

	for (int i = 0; i < nsc; i++) {
		if (run_scenario(&scs[i], &o, &lab, virt, &rows[i], &err) != 0)
			goto fail;
		if (rows[i].sum.ok < rows[i].sum.repetitions)
			exit_code = TB_EXIT_CHECK;
	}
	print_table(rows, nsc);
	goto out;
fail:
	fprintf(stderr, "twinbench run: %s\n", err.msg);
	exit_code = err.exit ? err.exit : TB_EXIT_ENV;
out:
	/* The lab goes (if we are its last user) before the signal thread may act again. */
	pthread_mutex_lock(&cleanup.lock);
	cleanup.virt = NULL;
	virt_close(virt);
	if (cleanup.lab && lab_release(&lab, o.keep_lab, &err) != 0)
		fprintf(stderr, "twinbench run: %s\n", err.msg);
	cleanup.lab = NULL;
	pthread_mutex_unlock(&cleanup.lock);
	for (int i = 0; i < nsc; i++)
		scenario_free(&scs[i]);
	free(scs);
	free(rows);
	return exit_code;
}
