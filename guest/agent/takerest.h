/*
 * takerest.h - kernel B takes the rest of kernel A, once its agent took
 * the service (takeover.h) and said so: A's CPUs, parked by A once it let
 * go (twin_park=), A's memory blocks (twinbench.mem=), A's console UART
 * (the one 8250.skip_legacy= kept B off) and, when a second upgrade
 * follows (twinbench.payload=), the payload disk.  The same serves every
 * kernel of a chain A -> B -> C: "A" is the one before.
 *
 * B serves on its one CPU meanwhile: this runs in a process of its own at
 * the lowest priority (SCHED_IDLE), forks nothing until the console's
 * shell, and stamps each step on B's CLOCK_MONOTONIC so that a stall of
 * the service can be laid beside the step that ran.  Once A's CPUs are
 * woken it runs on them only: the memory it adds is work the kernel does
 * in this process, long stretches of it without a chance to reschedule,
 * and on B's own CPU the service and its NIC's interrupts would wait.
 *
 * The sysfs steps go through @sysfs ("/sys", a scratch directory in the
 * tests), the UART, the shell, the mount and the pinning through struct
 * rest_ops (fakes in the tests).
 */
#ifndef TB_TAKEREST_H
#define TB_TAKEREST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * The steps, stamped on B's clock: begun (the service taken), A's CPUs all
 * parked, woken, A's memory added, A's console taken, the payload disk
 * mounted (none: not stamped).
 */
enum rest_step { R_BEGUN, R_PARKED, R_CPUS, R_MEMORY, R_CONSOLE, R_PAYLOAD, R_STEPS };

/* What cannot be done through sysfs; each returns 0 (a pid) or -1 with @why filled. */
struct rest_ops {
	void *ctx;
	/* Drive the 8250 UART @tty ("ttyS0") at I/O port @io by polling, 115200 baud. */
	int (*serial)(void *ctx, const char *tty, unsigned int io, char *why, size_t len);
	/* Say @line on @tty. */
	int (*say)(void *ctx, const char *tty, const char *line, char *why, size_t len);
	/* A shell on @tty, in a session of its own, at the usual priority: its pid. */
	pid_t (*shell)(void *ctx, const char *tty, char *why, size_t len);
	/* Mount block device @dev ("vdb") read-only on @dir. */
	int (*mount_ro)(void *ctx, const char *dev, const char *dir, char *why, size_t len);
	/* Run this process on the @n CPUs @cpus only. */
	int (*pin)(void *ctx, const int *cpus, int n, char *why, size_t len);
};

struct rest {
	/* in */
	const char *sysfs;   /* "/sys" */
	const char *cmdline; /* B's command line (/proc/cmdline) */
	const char *run;     /* "/run": the park hook, twinbench/console-shell, twinbench/disk */
	const struct rest_ops *ops;
	int64_t poll_ns; /* how often a wait looks again */
	int64_t step_ns; /* the bound of each wait but the park hook's */
	int64_t hold_ns; /* the park hook's */
	/* out */
	int64_t ns[R_STEPS];
	int cpus;      /* A's CPUs woken */
	int blocks;    /* A's memory blocks added */
	char tty[16];  /* A's console, taken over */
	pid_t shell;   /* its shell */
	char why[256]; /* why it failed */
};

/* Test hook (a scenario step creates it): A's CPUs stay parked while it exists. */
#define REST_HOLD_PARK "twinbench-hold-park"

/*
 * Take the rest of A, A's CPUs first.  1: B was not handed a park area
 * (no twin_park=), nothing to take; 0: all taken; -1 with r->why.
 */
int rest_take(struct rest *r);

const char *rest_step_name(int i);

/* The real UART, shell and mount (struct rest_ops). */
extern const struct rest_ops rest_system_ops;

#endif
