/*
 * scenario.h - scenario files: parse and validate a YAML scenario into a
 * run plan.
 *
 * A scenario names a method (a method file, methodfile.h), the guest to
 * boot, the kernel to upgrade to, the service probe settings, timeouts and
 * optional extra steps.  Every
 * error names file:line:column (1-based) of the offending node and carries
 * TB_EXIT_USAGE; nothing is started by parsing.  Relative paths in the file
 * are resolved against the directory of the scenario file.
 */
#ifndef TB_SCENARIO_H
#define TB_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "methodfile.h"
#include "yamlfile.h"

/* The guest's NICs for a twin upgrade (DESIGN.md, the seeds' two-NIC experiment). */
enum nic_mode {
	NIC_HANDOFF, /* one NIC: kernel A releases it, kernel B takes it */
	NIC_DUAL,    /* two: B brings up the second while it boots; only the address moves */
};

/*
 * What the harness may append to a kernel command line (twinbench.ip=,
 * twinbench.port=, maxcpus=1, twinbench.nic_b=), and so what is left of
 * x86's 2047 bytes for the scenario's own.
 */
#define SCENARIO_CMDLINE_RESERVE 256
#define SCENARIO_CMDLINE_MAX	 (2047 - SCENARIO_CMDLINE_RESERVE)

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
 * A second guest beside the primary (a method with standby: true, such as
 * migrate): the service moves to it and back.  What it does not say is
 * the primary's (guest_spec): same images, same size.
 */
struct standby_spec {
	bool present;
	char *kernel, *initrd, *rootfs, *cmdline;
	int memory_mib;
	int vcpus;
	int line, column; /* where its mapping starts in the file */
};

/*
 * A second twin upgrade in the same guest boot (method twin): the kernel
 * that took over hands over in turn, to this one (A -> B -> C).
 */
struct upgrade_next {
	char *kernel;	  /* absolute path, or NULL: no second upgrade */
	char *initrd;	  /* absolute path, or NULL */
	char *cmdline;	  /* its command line (required) */
	char *release;	  /* expected `uname -r` (default: what the image's boot header
			   * names), or NULL: any other kernel than B counts */
	int line, column; /* where its mapping starts in the file */
};

struct upgrade_spec {
	char *kernel;  /* absolute path of the new kernel */
	char *initrd;  /* absolute path, or NULL */
	char *cmdline; /* command line of the new kernel */
	char *release; /* expected `uname -r` of the new kernel (default: what the image's
			* boot header names), or NULL: any new boot counts */
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
	char *method_ref;	       /* "method:" as written: a name or a path */
	int method_line, method_column; /* where it stands */
	struct method method;	       /* the method file it names */
	char *via;		       /* "via:" as written (one of the method's ways), or NULL */
	int via_line, via_column;
	char label[48];		       /* scenario_method_label() */
	int repetitions; /* default 1 */
	struct guest_spec guest;
	struct standby_spec standby;
	struct upgrade_spec upgrade;
	struct service_spec service;
	struct timeouts timeouts;
	struct step *steps; /* run after the method's own program, or before its phases */
	size_t nsteps;
};

/*
 * Parse @path into @sc (zeroed by the call).  On error returns -1, leaves
 * @sc empty (nothing to free) and sets @err to "FILE:LINE:COL: message".
 */
int scenario_load(const char *path, struct scenario *sc, struct tb_err *err);

/*
 * scenario_load() on the @len bytes at @text instead of the file's content:
 * @path names them in messages and its directory (which must exist) is
 * where their relative paths start, but @path is not read (the method file
 * they name is).  For the fuzz target.
 */
int scenario_load_text(const char *path, const char *text, size_t len, struct scenario *sc,
		       struct tb_err *err);

void scenario_free(struct scenario *sc);

/*
 * The method as results, reports and the gate name it: the method's name,
 * with "-dual" for a guest with nic: dual and "-repeat" for a scenario
 * with upgrade.next (variants measured apart).
 */
const char *scenario_method_label(const struct scenario *sc);

#endif
