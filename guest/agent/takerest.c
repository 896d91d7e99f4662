/*
 * takerest.c - kernel B takes the rest of kernel A (takerest.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/serial.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <termios.h>
#include <unistd.h>

#include "takerest.h"
#include "takeover.h"

/* The value of @key= on @cmdline into @val ("" when absent). */
static void cmdline_value(const char *cmdline, const char *key, char *val, size_t len)
{
	size_t klen = strlen(key);

	val[0] = '\0';
	for (const char *p = cmdline; *p;) {
		size_t n;

		p += strspn(p, " \t\n");
		n = strcspn(p, " \t\n");
		if (n > klen && strncmp(p, key, klen) == 0 && p[klen] == '=')
			snprintf(val, len, "%.*s", (int)(n - klen - 1), p + klen + 1);
		p += n;
	}
}

/* mkdir -p @path (0755); 0 or -1. */
static int make_dirs(const char *path)
{
	char p[4096];

	snprintf(p, sizeof(p), "%s", path);
	for (char *s = strchr(p + 1, '/');; s = strchr(s + 1, '/')) {
		if (s)
			*s = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST)
			return -1;
		if (!s)
			return 0;
		*s = '/';
	}
}

#define MAX_CPUS 64

/* A's CPUs: the present ones offline here (maxcpus=1 kept them so); their count. */
static int offline_cpus(const struct rest *r, int *cpus, int max)
{
	char dir[4096], path[4200], on[8];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(dir, sizeof(dir), "%s/devices/system/cpu", r->sysfs);
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		char *end;
		long cpu;

		if (strncmp(de->d_name, "cpu", 3) != 0 || !de->d_name[3])
			continue;
		cpu = strtol(de->d_name + 3, &end, 10);
		if (*end)
			continue;
		snprintf(path, sizeof(path), "%s/%s/online", dir, de->d_name);
		if (read_first_line(path, on, sizeof(on)) != 0 || strcmp(on, "0") != 0)
			continue;
		if (n < max)
			cpus[n] = (int)cpu;
		n++;
	}
	if (d)
		closedir(d);
	return n;
}

/*
 * Wait (up to @bound_ns) until @what holds: @holds(@r, @arg) returns 1
 * (done), 0 (not yet) or -1 (r->why filled).  0, or -1 with r->why.
 */
static int wait_until(struct rest *r, int (*holds)(struct rest *, const void *), const void *arg,
		      int64_t bound_ns, const char *what)
{
	int64_t deadline = takeover_now() + bound_ns;
	int rc;

	while ((rc = holds(r, arg)) == 0) {
		if (takeover_now() >= deadline) {
			snprintf(r->why, sizeof(r->why), "%s within %lld ms", what,
				 (long long)(bound_ns / 1000000));
			return -1;
		}
		takeover_sleep(r->poll_ns);
	}
	return rc < 0 ? -1 : 0;
}

/* kernel/twin_kernel/parked counts @want CPUs or more. */
static int all_parked(struct rest *r, const void *arg)
{
	char path[4096], val[32];

	snprintf(path, sizeof(path), "%s/kernel/twin_kernel/parked", r->sysfs);
	if (read_first_line(path, val, sizeof(val)) != 0) {
		snprintf(r->why, sizeof(r->why), "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	return atoi(val) >= *(const int *)arg;
}

/* The park hook is gone. */
static int not_held(struct rest *r, const void *arg)
{
	(void)r;
	return access(arg, F_OK) != 0;
}

/*
 * A's CPUs, parked by A once it let go: woken only when all wait (a CPU
 * that is not parked never answers).  0 or -1 with r->why.
 */
static int take_cpus(struct rest *r)
{
	int cpus[MAX_CPUS] = { 0 }, want = offline_cpus(r, cpus, MAX_CPUS);
	char path[4096], what[128];

	if (want > MAX_CPUS) {
		snprintf(r->why, sizeof(r->why), "%d CPUs to wake, more than %d", want, MAX_CPUS);
		return -1;
	}
	snprintf(what, sizeof(what), "kernel A did not park its %d CPU%s", want,
		 want == 1 ? "" : "s");
	if (wait_until(r, all_parked, &want, r->step_ns, what) != 0)
		return -1;
	r->ns[R_PARKED] = takeover_now();
	/* Test hook: A's CPUs stay in the park (for an NMI there) until the file is gone. */
	snprintf(path, sizeof(path), "%s/" REST_HOLD_PARK, r->run);
	snprintf(what, sizeof(what), "A's CPUs held in the park: %s stayed", path);
	if (wait_until(r, not_held, path, r->hold_ns, what) != 0)
		return -1;
	for (int i = 0; i < want; i++) {
		snprintf(path, sizeof(path), "%s/devices/system/cpu/cpu%d/online", r->sysfs,
			 cpus[i]);
		if (sysfs_write(path, "1\n", r->why, sizeof(r->why)) != 0)
			return -1;
		r->cpus++;
	}
	r->ns[R_CPUS] = takeover_now();
	/* The rest on A's CPUs, off the service's (takerest.h). */
	if (want > 0 && r->ops->pin(r->ops->ctx, cpus, want, r->why, sizeof(r->why)) != 0)
		return -1;
	return 0;
}

/* A's memory, block by block (auto-onlined: CONFIG_MEMORY_HOTPLUG_DEFAULT_ONLINE). */
static int take_memory(struct rest *r)
{
	char blocks[4096], path[4096], *save = NULL;

	cmdline_value(r->cmdline, "twinbench.mem", blocks, sizeof(blocks));
	snprintf(path, sizeof(path), "%s/devices/system/memory/probe", r->sysfs);
	for (char *b = strtok_r(blocks, ",", &save); b; b = strtok_r(NULL, ",", &save)) {
		char line[64];

		snprintf(line, sizeof(line), "%s\n", b);
		if (sysfs_write(path, line, r->why, sizeof(r->why)) != 0)
			return -1;
		r->blocks++;
	}
	r->ns[R_MEMORY] = takeover_now();
	return 0;
}

/*
 * A's console: the legacy UART this kernel skipped at boot
 * (8250.skip_legacy=, bit N: ttySN), left configured by A, polled here (irq
 * 0); then a shell on it, its pid in twinbench/console-shell (for
 * twinbench-upgrade twin-boot, which gives the console up again).
 */
static int take_console(struct rest *r)
{
	char skip[32], line[256], path[4096], text[64];
	struct utsname uts;
	unsigned int io;
	int fd;

	cmdline_value(r->cmdline, "8250.skip_legacy", skip, sizeof(skip));
	if (!skip[0] || strcmp(skip, "1") == 0 || strcmp(skip, "0x1") == 0) {
		snprintf(r->tty, sizeof(r->tty), "ttyS0");
		io = 0x3f8;
	} else if (strcmp(skip, "2") == 0 || strcmp(skip, "0x2") == 0) {
		snprintf(r->tty, sizeof(r->tty), "ttyS1");
		io = 0x2f8;
	} else {
		snprintf(r->why, sizeof(r->why), "no console to take over (8250.skip_legacy=%s)",
			 skip);
		return -1;
	}
	if (r->ops->serial(r->ops->ctx, r->tty, io, r->why, sizeof(r->why)) != 0)
		return -1;
	uname(&uts);
	snprintf(line, sizeof(line), "twinbench-b: console %s taken over by %s\n", r->tty,
		 uts.release);
	if (r->ops->say(r->ops->ctx, r->tty, line, r->why, sizeof(r->why)) != 0)
		return -1;
	r->shell = r->ops->shell(r->ops->ctx, r->tty, r->why, sizeof(r->why));
	if (r->shell < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/twinbench", r->run);
	if (make_dirs(path) != 0) {
		snprintf(r->why, sizeof(r->why), "cannot make %s: %s", path, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/twinbench/console-shell", r->run);
	snprintf(text, sizeof(text), "%s %d\n", r->tty, (int)r->shell);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		snprintf(r->why, sizeof(r->why), "cannot write %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	r->ns[R_CONSOLE] = takeover_now();
	return 0;
}

/* The block device of virtio PCI device @bdf ("vdb"), into @dev; 0 or -1. */
static int pci_block(const struct rest *r, const char *bdf, char *dev, size_t len)
{
	char path[4096], sub[4400];
	struct dirent *de;
	DIR *d;
	int rc = -1;

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s", r->sysfs, bdf);
	d = opendir(path);
	while (d && rc != 0 && (de = readdir(d))) {
		struct dirent *be;
		DIR *bd;

		if (strncmp(de->d_name, "virtio", 6) != 0)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s/block", path, de->d_name);
		bd = opendir(sub);
		while (bd && rc != 0 && (be = readdir(bd)))
			if (be->d_name[0] != '.') {
				snprintf(dev, len, "%s", be->d_name);
				rc = 0;
			}
		if (bd)
			closedir(bd);
	}
	if (d)
		closedir(d);
	return rc;
}

struct payload_wait {
	const char *bdf;
	char dev[64];
};

static int payload_there(struct rest *r, const void *arg)
{
	struct payload_wait *w = (struct payload_wait *)arg;

	return pci_block(r, w->bdf, w->dev, sizeof(w->dev)) == 0;
}

/* The payload disk, for a second upgrade: read-only, as A had it. */
static int take_payload(struct rest *r)
{
	char bdf[64], path[4096], what[128];
	struct payload_wait w = { .bdf = bdf };

	cmdline_value(r->cmdline, "twinbench.payload", bdf, sizeof(bdf));
	if (!bdf[0])
		return 0;
	if (pci_skip_edit(r->sysfs, bdf, false, r->why, sizeof(r->why)) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/bus/pci/rescan", r->sysfs);
	if (sysfs_write(path, "1\n", r->why, sizeof(r->why)) != 0)
		return -1;
	snprintf(what, sizeof(what), "the payload disk %s did not appear", bdf);
	if (wait_until(r, payload_there, &w, r->step_ns, what) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/twinbench/disk", r->run);
	if (make_dirs(path) != 0) {
		snprintf(r->why, sizeof(r->why), "cannot make %s: %s", path, strerror(errno));
		return -1;
	}
	if (r->ops->mount_ro(r->ops->ctx, w.dev, path, r->why, sizeof(r->why)) != 0)
		return -1;
	r->ns[R_PAYLOAD] = takeover_now();
	return 0;
}

int rest_take(struct rest *r)
{
	char path[4096], region[64] = "";

	memset(r->ns, 0, sizeof(r->ns));
	r->cpus = r->blocks = 0;
	r->tty[0] = r->why[0] = '\0';
	r->shell = -1;
	r->ns[R_BEGUN] = takeover_now();
	snprintf(path, sizeof(path), "%s/kernel/twin_kernel/park_region", r->sysfs);
	if (read_first_line(path, region, sizeof(region)) != 0 || !region[0])
		return 1;
	if (take_cpus(r) != 0 || take_memory(r) != 0 || take_console(r) != 0 ||
	    take_payload(r) != 0)
		return -1;
	return 0;
}

const char *rest_step_name(int i)
{
	static const char *names[R_STEPS] = {
		[R_BEGUN] = "begun", [R_PARKED] = "parked", [R_CPUS] = "cpus",
		[R_MEMORY] = "memory", [R_CONSOLE] = "console", [R_PAYLOAD] = "payload",
	};

	return i >= 0 && i < R_STEPS ? names[i] : "?";
}

static int sys_serial(void *ctx, const char *tty, unsigned int io, char *why, size_t len)
{
	struct serial_struct ss;
	struct termios tio;
	char path[64];
	int fd;

	(void)ctx;
	snprintf(path, sizeof(path), "/dev/%s", tty);
	fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		goto fail;
	if (ioctl(fd, TIOCGSERIAL, &ss) != 0)
		goto fail;
	ss.port = io;
	ss.irq = 0;
	ss.type = PORT_16550A;
	ss.baud_base = 115200;
	if (ioctl(fd, TIOCSSERIAL, &ss) != 0)
		goto fail;
	/*
	 * Opened while the port had no UART, this tty refuses what needs one
	 * (EIO): the line's speed is set through a tty opened anew.
	 */
	close(fd);
	fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || tcgetattr(fd, &tio) != 0 || cfsetspeed(&tio, B115200) != 0 ||
	    tcsetattr(fd, TCSANOW, &tio) != 0)
		goto fail;
	close(fd);
	return 0;
fail:
	snprintf(why, len, "cannot take %s (port 0x%x, polled): %s", path, io, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static int sys_say(void *ctx, const char *tty, const char *line, char *why, size_t len)
{
	char path[64];
	int fd;
	ssize_t n;

	(void)ctx;
	snprintf(path, sizeof(path), "/dev/%s", tty);
	fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
	n = fd >= 0 ? write(fd, line, strlen(line)) : -1;
	if (n != (ssize_t)strlen(line)) {
		snprintf(why, len, "cannot write to %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static pid_t sys_shell(void *ctx, const char *tty, char *why, size_t len)
{
	struct sched_param normal = { 0 };
	cpu_set_t every;
	char path[64];
	pid_t pid;

	(void)ctx;
	snprintf(path, sizeof(path), "/dev/%s", tty);
	pid = fork();
	if (pid < 0) {
		snprintf(why, len, "cannot start a shell on %s: %s", path, strerror(errno));
		return -1;
	}
	if (pid == 0) {
		int fd;

		/*
		 * The console's shell is the user's: at the usual priority, on
		 * every CPU, its tty controlling.
		 */
		sched_setscheduler(0, SCHED_OTHER, &normal);
		CPU_ZERO(&every);
		for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
			CPU_SET(cpu, &every);
		sched_setaffinity(0, sizeof(every), &every);
		setsid();
		fd = open(path, O_RDWR);
		if (fd < 0)
			_exit(127);
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
		setenv("PS1", "twinbench-b# ", 1);
		execl("/bin/sh", "sh", "-i", (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* devtmpfs makes a disk's node just after sysfs shows the disk: its wait. */
#define DEV_NODE_NS 1000000000LL

static int sys_mount_ro(void *ctx, const char *dev, const char *dir, char *why, size_t len)
{
	int64_t deadline = takeover_now() + DEV_NODE_NS;
	char path[64];

	(void)ctx;
	snprintf(path, sizeof(path), "/dev/%s", dev);
	while (access(path, F_OK) != 0) {
		if (takeover_now() >= deadline) {
			snprintf(why, len, "the payload disk's %s did not appear within %lld ms", path,
				 DEV_NODE_NS / 1000000);
			return -1;
		}
		takeover_sleep(1000000LL);
	}
	if (mount(path, dir, "ext4", MS_RDONLY, NULL) == 0)
		return 0;
	snprintf(why, len, "cannot mount the payload disk %s on %s: %s", path, dir,
		 strerror(errno));
	return -1;
}

static int sys_pin(void *ctx, const int *cpus, int n, char *why, size_t len)
{
	cpu_set_t set;

	(void)ctx;
	CPU_ZERO(&set);
	for (int i = 0; i < n; i++)
		CPU_SET(cpus[i], &set);
	if (sched_setaffinity(0, sizeof(set), &set) == 0)
		return 0;
	snprintf(why, len, "cannot run on A's CPUs: %s", strerror(errno));
	return -1;
}

const struct rest_ops rest_system_ops = { .serial = sys_serial, .say = sys_say,
					  .shell = sys_shell, .mount_ro = sys_mount_ro,
					  .pin = sys_pin };
