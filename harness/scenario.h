/*
 * scenario.h - scenario files: parse and validate a YAML scenario into a
 * run plan.
 *
 * A scenario names a method, the guest to boot, the kernel to upgrade to,
 * the service probe settings, timeouts and optional extra steps.  Every
 * error names file:line:column (1-based) of the offending node and carries
 * TB_EXIT_USAGE; nothing is started by parsing.  Relative paths in the file
 * are resolved against the directory of the scenario file.
 */
#ifndef TB_SCENARIO_H
#define TB_SCENARIO_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum method {
	METHOD_REBOOT,
	METHOD_KEXEC,
	METHOD_TWIN_BOOT, /* kernel B boots beside kernel A (guest/kernel) */
	METHOD_TWIN,	  /* ... then takes A's service state and NIC over */
	METHOD_CUSTOM,	  /* only the scenario's own steps */
};

enum step_kind {
	STEP_EXPECT,	 /* wait for a console line matching a POSIX ERE */
	STEP_SEND,	 /* write text to a console */
	STEP_MARK,	 /* record a named phase at the current time */
	STEP_WAIT_PROBE, /* wait for the service to answer (up) or stop answering (down) */
};

struct step {
	enum step_kind kind;
	char console;	    /* 'a' or 'b' (expect, send) */
	char *text;	    /* expect: pattern; send: text (escapes \n \r \t \\ decoded); mark: name */
	char *mark;	    /* expect, wait_probe: phase recorded when it succeeds, or NULL */
	char *before;	    /* run just before the method records this phase; NULL: at the end */
	int probe_up;	    /* wait_probe: 1 = wait for replies, 0 = wait for replies to stop */
	int64_t timeout_ns; /* expect, wait_probe; 0 = the scenario's step timeout */
	int line, column;   /* where the step starts in the file (1-based) */
};

/* The guest's NICs for a twin upgrade (DESIGN.md, the seeds' two-NIC experiment). */
enum nic_mode {
	NIC_HANDOFF, /* one NIC: kernel A releases it, kernel B takes it */
	NIC_DUAL,    /* two: B brings up the second while it boots; only the address moves */
};

struct guest_spec {
	char *kernel;	/* absolute path of kernel A */
	char *initrd;	/* absolute path, or NULL */
	char *rootfs;	/* absolute path of the root disk image (raw), or NULL */
	char *cmdline;	/* kernel command line of A */
	int memory_mib; /* default 512 */
	int vcpus;	/* default 2 */
	enum nic_mode nic; /* default handoff */
};

/*
 * A second twin upgrade in the same guest boot (method twin): the kernel
 * that took over hands over in turn, to this one (A -> B -> C).
 */
struct upgrade_next {
	char *kernel;	  /* absolute path, or NULL: no second upgrade */
	char *initrd;	  /* absolute path, or NULL */
	char *cmdline;	  /* its command line (required) */
	char *release;	  /* expected `uname -r`, or NULL: any other kernel than B counts */
	int line, column; /* where its mapping starts in the file */
};

struct upgrade_spec {
	char *kernel;  /* absolute path of the new kernel */
	char *initrd;  /* absolute path, or NULL */
	char *cmdline; /* command line of the new kernel */
	char *release; /* expected `uname -r` of the new kernel, or NULL: any new boot counts */
	struct upgrade_next next;
};

struct service_spec {
	int port;	     /* UDP port of the guest agent, default 7777 */
	int64_t interval_ns; /* probe interval, default 1 ms */
};

struct timeouts {
	int64_t boot_ns;    /* guest start to service answering, default 120 s */
	int64_t upgrade_ns; /* upgrade start to service back, default 120 s */
	int64_t step_ns;    /* default for expect / wait_probe steps, default 30 s */
};

struct scenario {
	char *path; /* the file as given */
	char *name;
	enum method method;
	int repetitions; /* default 1 */
	struct guest_spec guest;
	struct upgrade_spec upgrade;
	struct service_spec service;
	struct timeouts timeouts;
	struct step *steps; /* run after the method's own program */
	size_t nsteps;
};

/*
 * Parse @path into @sc (zeroed by the call).  On error returns -1, leaves
 * @sc empty (nothing to free) and sets @err to "FILE:LINE:COL: message".
 */
int scenario_load(const char *path, struct scenario *sc, struct tb_err *err);

void scenario_free(struct scenario *sc);

/* "250us", "1ms", "1.5s", "2m", "100ns" -> nanoseconds; -1 if malformed or <= 0. */
int scenario_parse_duration(const char *text, int64_t *ns);

/* "512M", "512MiB", "1G", "1GiB" -> MiB; -1 if malformed or zero. */
int scenario_parse_size_mib(const char *text, int *mib);

const char *method_name(enum method m);

/*
 * The method as results, reports and the gate name it: the method, or
 * "twin-dual" for the twin method with nic: dual (a variant measured apart).
 */
const char *scenario_method_label(const struct scenario *sc);

/* Parse a method name; -1 if unknown. */
int method_from_name(const char *name, enum method *m);

#endif
