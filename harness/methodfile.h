/*
 * methodfile.h - upgrade methods as data: methods/NAME.yaml, and the step
 * language that method files and scenarios share.
 *
 * A method file holds the method's step program (expect a console line,
 * send text, mark a phase, wait on the probe, wait for the domain to stop,
 * start the new kernel, ask a kernel its release, ...), the phase that
 * opens its downtime window, the phases that bound its maintenance window,
 * how its result is verified and, optionally, how a second upgrade in the
 * same boot repeats the program.  The harness interprets it (methods.h); a
 * new method is a new file, with no change to the harness.
 */
#ifndef TB_METHODFILE_H
#define TB_METHODFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum step_op {
	OP_EXPECT,	 /* a console line matching text */
	OP_SEND,	 /* text to a console */
	OP_MARK,	 /* phase at the current time */
	OP_WAIT_PROBE,	 /* a probe reply after the step started (up), or replies stop (down) */
	OP_WAIT_STOPPED, /* the domain stopped (the guest rebooted or powered off) */
	OP_START_NEW,	 /* boot the new kernel in a new domain */
	OP_UNAME,	 /* `uname -r` on a console: the old kernel's release, or a new one */
	OP_LAST_WORDS,	 /* like expect: the console's kernel must say nothing more after it */
	OP_SILENT,	 /* no line matching text since the console's last words */
	OP_TAKEOVER,	 /* the new kernel's takeover line: every vCPU and enough of the RAM */
	OP_LIVE_MIGRATE, /* the whole guest live-migrated to the lab's second libvirt host */
	OP_INJECT_NMI,	 /* an NMI to the guest, as libvirt's inject-nmi sends it */
	OP_INJECT_MCE,	 /* a machine check into one vCPU, through QEMU's monitor */
	OP_QUIET,	 /* nothing for a while: the host's floor, the service alone */
};

/* Which of the scenario's timeouts bounds a step that gives none of its own. */
enum step_budget { BUDGET_STEP, BUDGET_BOOT, BUDGET_UPGRADE };

struct step {
	enum step_op op;
	char console;	      /* 'a' or 'b', or 's': the standby guest's ttyS0 */
	char *text;	      /* expect, last_words, silent, takeover: pattern; send: text */
	char *mark;	      /* the phase recorded when it succeeds, or NULL */
	char *fail;	      /* a line matching this ends the wait as a failure, or NULL */
	char *last_line;      /* expect, wait_stopped: also mark the console's previous line */
	char *before;	      /* scenario steps: run just before the method records this phase */
	char *doing;	      /* for the progress line, or NULL */
	bool whole_line;      /* expect: a finished line only (not a prompt still being typed) */
	bool peek;	      /* expect: leave the console's cursor where it was */
	bool unordered;	      /* mark comes by another path than its neighbours: either order */
	bool probe_up;	      /* wait_probe: 1 = a reply, 0 = silence */
	bool new_kernel;      /* uname: the new kernel answers (else the old one); wait_probe:
			       * a reply from another boot than the last wait_probe's */
	int min_memory_pct;   /* takeover: of the guest's RAM, default 85 */
	int64_t max_downtime_ns; /* live_migrate: QEMU's downtime limit; 0: QEMU's own */
	int cpu;	      /* inject_mce: the vCPU (QEMU's index), default 0 */
	int64_t quiet_ns;     /* quiet: how long the service is left alone */
	enum step_budget budget;
	int64_t timeout_ns;   /* 0: the budget's */
	char *via;	      /* runs only when the upgrade goes this way (method's via:), or NULL */
	int line, column;     /* where the step starts in its file (1-based) */
};

/* How many ways a method may offer to upgrade the kernel (via:). */
#define METHOD_MAX_VIA 4

/* What proves that a repetition did what the method promises. */
enum method_verify {
	VERIFY_NONE,	 /* nothing beyond its steps (custom programs) */
	VERIFY_UPGRADE,	 /* replies after the gap: a new boot, the release, the counter went on */
	VERIFY_UNBROKEN, /* replies after the gap: the same boot, the counter went on */
};

struct method {
	char *path; /* the method file */
	char *name;
	char *description; /* for people, or NULL */
	struct step *steps;
	size_t nsteps;
	char *downtime_from;	/* the phase that opens the downtime window; NULL: none */
	char *maintenance_from; /* the upgrade's real start; NULL: no maintenance window */
	char *maintenance_to;	/* "back in full" */
	enum method_verify verify;
	/*
	 * A second upgrade in the same boot (the scenario's upgrade.next): the
	 * program again from the step after this phase, with the consoles'
	 * roles swapped and its phases named ROUND2_PREFIX...; NULL: none.
	 */
	char *next_after;
	/*
	 * The service changes hands twice (migrate: away to the standby, back
	 * to the upgraded primary): the first window runs from downtime_from
	 * to this phase, the second from it, each judged on its own: the
	 * first must land on another boot, the second on the new kernel, the
	 * counter going on in both.  NULL: one window.
	 */
	char *second_from;
	bool standby; /* a second guest boots beside the primary (scenario: standby) */
	bool no_upgrade; /* upgrades: false: a reference that boots no new kernel */
	/*
	 * The ways this method can upgrade the kernel (migrate: reboot or
	 * kexec), the first the default; a step with via: runs only for its
	 * way, the one the scenario chose (its via:, which sets @chosen_via
	 * to one of these).  nvia 0: one way only.
	 */
	char *via[METHOD_MAX_VIA];
	int nvia;
	const char *chosen_via;
};

/* Is @way one of @m's ways to upgrade (via:)? */
bool method_has_via(const struct method *m, const char *way);

/* Does step @s run in @m as the scenario chose (its via, if any)? */
bool method_step_runs(const struct method *m, const struct step *s);

/* The phases of a second round are the first round's, named so. */
#define ROUND2_PREFIX "r2_"

/* The directory `method: NAME` is looked up in, unless TWINBENCH_METHODS says otherwise. */
#ifndef TB_METHODS_DIR
#define TB_METHODS_DIR "methods"
#endif

/*
 * Load the method @ref: a name (methods/NAME.yaml, in $TWINBENCH_METHODS
 * or TB_METHODS_DIR) or a path ending in .yaml, relative to @base_dir.
 * @m is zeroed first; on error it is left empty and @err names
 * FILE:LINE:COLUMN (TB_EXIT_USAGE).
 */
int method_load(const char *ref, const char *base_dir, struct method *m, struct tb_err *err);

/*
 * method_load() on the @len bytes at @text instead of a file's content:
 * @path names them in messages but is not read (its directory must
 * exist).  For the fuzz target.
 */
int method_load_text(const char *path, const char *text, size_t len, struct method *m,
		     struct tb_err *err);

void method_free(struct method *m);

/*
 * The phases a repetition of @m records, in the order they must occur
 * (guest_start first; marks of "unordered" steps left out), and with
 * @round2 those of the second round after them.  NULL-terminated, malloc'd
 * array of pointers into @m (the round-2 names are malloc'd within the
 * same block): free() it.
 */
const char **method_phase_list(const struct method *m, bool round2);

/* Does @m's program, or its second round with @round2, record @phase? */
bool method_has_phase(const struct method *m, bool round2, const char *phase);

/* The steps of a file's "steps:" sequence (the step language), for scenario.c. */
struct yf_loader;
struct yaml_node_s;
int steps_parse(struct yf_loader *ld, struct yaml_node_s *v, const char *what, bool scenario,
		struct step **steps, size_t *n);

void steps_free(struct step *steps, size_t n);

#endif
