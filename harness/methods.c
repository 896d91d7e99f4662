/*
 * methods.c - the upgrade methods' step programs and their interpreter.
 *
 * Every program starts the same way: the guest's agent says it is ready on
 * console a and answers the probe.  Then the trigger is sent, and the
 * program waits, phase by phase, for the evidence that the new kernel runs:
 * its banner on the console, its agent's ready line, its agent's replies.
 * The exact downtime comes afterwards from the probe trace, not from here.
 */
#include <errno.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array_size.h"
#include "methods.h"
#include "monotime.h"

enum op {
	OP_EXPECT,	 /* a whole console line matching text; mark its arrival */
	OP_EXPECT_ANY,	 /* the same, or the unfinished line (a scenario's prompt) */
	OP_PEEK,	 /* like OP_EXPECT, but leaves the cursor where it was */
	OP_SEND,	 /* text to a console */
	OP_MARK,	 /* phase at the current time */
	OP_WAIT_UP,	 /* a probe reply received after the step started */
	OP_WAIT_DOWN,	 /* the probe stops getting replies */
	OP_WAIT_STOPPED, /* the domain stopped (guest rebooted) */
	OP_START_NEW,	 /* boot the new kernel in a new domain */
	OP_BANNER,	 /* the new kernel's banner: marks new_first_line and old_last_line */
	OP_UNAME,	 /* `uname -r` on a console: kernel A's release on a, B's on b,
			    or text's ("a" or "b") */
	OP_LAST_WORDS,	 /* like OP_EXPECT: the console's kernel must say nothing more */
	OP_SILENT,	 /* no line matching text since the console's last words */
	OP_TAKEOVER,	 /* B's takeover line: all vCPUs, at least TAKEOVER_MEM_PCT % of RAM */
};

/* The phases of a twin upgrade's second round (upgrade.next) are named so. */
#define ROUND2_PREFIX "r2_"

/* What kernel B must hold after the takeover, of the guest's RAM. */
#define TAKEOVER_MEM_PCT 85

enum budget { BUDGET_STEP, BUDGET_BOOT, BUDGET_UPGRADE };

struct op_step {
	enum op op;
	char console;
	const char *text;
	const char *mark;
	enum budget budget;
	const char *doing; /* for the progress line */
	int64_t timeout_ns; /* overrides the budget when not 0 (scenario steps) */
	const char *fail;   /* expect: a line matching this ends the wait as a failure */
};

/* What a guest says when it cannot go on: no point waiting for anything else. */
#define GUEST_FAILED_RE KERNEL_PANIC_RE "|" UPGRADE_FAILED_RE "|" GUEST_REFUSE_RE

/* Silence that counts as "down": 20 missed intervals, at least 50 ms. */
#define DOWN_QUIET_INTERVALS 20
#define DOWN_QUIET_MIN_NS    (50 * NS_PER_MS)

#define BOOT_PROLOGUE                                                                              \
	{ OP_PEEK, 'a', GUEST_PROMPT_A, NULL, BUDGET_BOOT, "waiting for the shell on console a", 0, NULL }, \
	{ OP_EXPECT, 'a', GUEST_READY_RE, "boot_ready", BUDGET_BOOT,                               \
	  "waiting for the agent on the old kernel", 0, NULL },                                          \
	{ OP_WAIT_UP, 0, NULL, "service_up", BUDGET_BOOT, "waiting for the service to answer", 0, NULL }

#define NEW_KERNEL_EPILOGUE                                                                        \
	{ OP_BANNER, 'a', KERNEL_BANNER_RE, "new_first_line", BUDGET_UPGRADE,                      \
	  "waiting for the new kernel's banner", 0, UPGRADE_FAILED_RE },                           \
	{ OP_EXPECT, 'a', GUEST_READY_RE, "userspace_ready", BUDGET_UPGRADE,                       \
	  "waiting for the agent on the new kernel", 0, GUEST_FAILED_RE },                         \
	{ OP_WAIT_UP, 0, NULL, NULL, BUDGET_UPGRADE, "waiting for the service to come back", 0, NULL }

static const struct op_step reboot_program[] = {
	BOOT_PROLOGUE,
	{ OP_MARK, 0, NULL, "upgrade_start", BUDGET_STEP, "triggering the reboot", 0, NULL },
	{ OP_SEND, 'a', "twinbench-upgrade reboot\n", NULL, BUDGET_STEP, "triggering the reboot", 0, NULL },
	{ OP_WAIT_STOPPED, 0, NULL, "old_stopped", BUDGET_UPGRADE, "waiting for the old kernel to stop", 0, NULL },
	{ OP_START_NEW, 0, NULL, "new_started", BUDGET_UPGRADE, "starting the new kernel", 0, NULL },
	NEW_KERNEL_EPILOGUE,
};

static const struct op_step kexec_program[] = {
	BOOT_PROLOGUE,
	{ OP_MARK, 0, NULL, "upgrade_start", BUDGET_STEP, "triggering kexec", 0, NULL },
	{ OP_SEND, 'a', "twinbench-upgrade kexec\n", NULL, BUDGET_STEP, "triggering kexec", 0, NULL },
	{ OP_EXPECT, 'a', "twinbench: kexec into the new kernel", "kexec_exec", BUDGET_UPGRADE,
	  "waiting for kexec -e", 0, UPGRADE_FAILED_RE },
	NEW_KERNEL_EPILOGUE,
};

/*
 * Kernel B boots beside kernel A, and both are shown to run at once: each
 * answers on its own console with its own release while A's service keeps
 * answering the probe.
 */
#define TWIN_BOOT_STEPS                                                                            \
	BOOT_PROLOGUE,                                                                             \
	{ OP_MARK, 0, NULL, "trigger", BUDGET_STEP, "starting kernel B", 0, NULL },                \
	{ OP_SEND, 'a', "twinbench-upgrade twin-boot\n", NULL, BUDGET_STEP, "starting kernel B",  \
	  0, NULL },                                                                               \
	{ OP_EXPECT, 'a', "twin_kernel: CPU [0-9]+ leaves", "cpu_handed", BUDGET_UPGRADE,          \
	  "waiting for kernel A to give up a CPU", 0, UPGRADE_FAILED_RE },                         \
	{ OP_EXPECT, 'b', KERNEL_BANNER_RE, "b_first_line", BUDGET_UPGRADE,                        \
	  "waiting for kernel B's first line on console b", 0, GUEST_FAILED_RE },                  \
	{ OP_EXPECT, 'b', GUEST_B_READY_RE, "b_ready", BUDGET_UPGRADE,                             \
	  "waiting for kernel B's ready line on console b", 0, GUEST_FAILED_RE }

/*
 * Kernel B boots beside kernel A, and both are shown to run at once: each
 * answers on its own console with its own release while A's service keeps
 * answering the probe.
 */
static const struct op_step twin_boot_program[] = {
	TWIN_BOOT_STEPS,
	{ OP_UNAME, 'a', NULL, "a_answered", BUDGET_STEP, "asking kernel A on console a", 0, NULL },
	/* B's init prints its ready line, then starts the shell: type only to the shell. */
	{ OP_PEEK, 'b', GUEST_PROMPT_B, NULL, BUDGET_STEP, "waiting for kernel B's shell on console b",
	  0, NULL },
	{ OP_UNAME, 'b', NULL, "b_answered", BUDGET_STEP, "asking kernel B on console b", 0, NULL },
	{ OP_WAIT_UP, 0, NULL, "a_service_after", BUDGET_STEP,
	  "checking that kernel A's service still answers", 0, NULL },
};

/*
 * The twin upgrade: B boots beside A, then A stops its service (state into
 * the shared region) and releases the NIC; B, waiting for exactly that,
 * takes the NIC and the address and resumes the service from A's state.
 */
static const struct op_step twin_program[] = {
	TWIN_BOOT_STEPS,
	{ OP_MARK, 0, NULL, "handoff_start", BUDGET_STEP, "handing the service over", 0, NULL },
	{ OP_SEND, 'a', "twinbench-upgrade twin-handoff\n", NULL, BUDGET_STEP,
	  "handing the service over", 0, NULL },
	{ OP_EXPECT, 'a', "twinbench: kernel [^ ]+ let go of the service", "a_quiesced", BUDGET_UPGRADE,
	  "waiting for kernel A to let go", 0, UPGRADE_FAILED_RE },
	{ OP_EXPECT, 'b', "twinbench-b: NIC .* up as eth0", "b_nic_up", BUDGET_UPGRADE,
	  "waiting for kernel B to bring the NIC up", 0, GUEST_FAILED_RE "|" TAKEOVER_FAILED_RE },
	{ OP_EXPECT, 'b', GUEST_READY_RE, "b_service_ready", BUDGET_UPGRADE,
	  "waiting for the agent on kernel B", 0, GUEST_FAILED_RE "|" TAKEOVER_FAILED_RE },
	{ OP_WAIT_UP, 0, NULL, NULL, BUDGET_UPGRADE, "waiting for the service to come back", 0,
	  NULL },
	{ OP_LAST_WORDS, 'a', A_PARKED_RE, "a_parked", BUDGET_UPGRADE,
	  "waiting for kernel A to park its CPUs", 0, UPGRADE_FAILED_RE },
	{ OP_TAKEOVER, 'b', TAKEOVER_DONE_RE, "takeover_done", BUDGET_UPGRADE,
	  "waiting for kernel B to take CPUs, memory and console a", 0,
	  GUEST_FAILED_RE "|" TAKEOVER_FAILED_RE },
	/*
	 * B says it took console a over, then starts a shell there: what is
	 * typed before the shell reads is lost ("ame -r: not found").
	 */
	{ OP_PEEK, 'a', GUEST_PROMPT_B, NULL, BUDGET_STEP, "waiting for kernel B's shell on console a",
	  0, NULL },
	{ OP_UNAME, 'a', "b", "a_console_b", BUDGET_STEP, "asking kernel B on console a", 0, NULL },
	{ OP_SILENT, 'a', KERNEL_LOG_RE, NULL, BUDGET_STEP, "checking that kernel A is silent", 0,
	  NULL },
};

static const char *const reboot_phases[] = {
	"guest_start", "boot_ready", "service_up", "upgrade_start", "old_last_line", "old_stopped",
	"new_started", "new_first_line", "service_back", NULL,
};

static const char *const kexec_phases[] = {
	"guest_start", "boot_ready", "service_up", "upgrade_start", "kexec_exec", "old_last_line",
	"new_first_line", "service_back", NULL,
};

static const char *const twin_boot_phases[] = {
	"guest_start", "boot_ready", "service_up", "trigger", "cpu_handed", "b_first_line",
	"b_ready", "a_answered", "b_answered", "a_service_after", NULL,
};

static const char *const twin_phases[] = {
	"guest_start", "boot_ready", "service_up", "trigger", "cpu_handed", "b_first_line",
	"b_ready", "handoff_start", "a_quiesced", "b_nic_up", "service_back", "takeover_done",
	"a_console_b", NULL,
};

static const char *const custom_phases[] = { "guest_start", NULL };

/* The twin phases from the trigger on, prefixed: made once, on first use. */
const char *const *method_round2_phases(void)
{
	static char names[ARRAY_SIZE(twin_phases)][40];
	static const char *list[ARRAY_SIZE(twin_phases)];
	size_t first = 0, n = 0;

	if (list[0])
		return list;
	while (strcmp(twin_phases[first], "trigger"))
		first++;
	for (size_t i = first; twin_phases[i]; i++, n++) {
		snprintf(names[n], sizeof(names[n]), ROUND2_PREFIX "%s", twin_phases[i]);
		list[n] = names[n];
	}
	return list;
}

const char *const *method_phases(enum method m)
{
	switch (m) {
	case METHOD_REBOOT:
		return reboot_phases;
	case METHOD_KEXEC:
		return kexec_phases;
	case METHOD_TWIN_BOOT:
		return twin_boot_phases;
	case METHOD_TWIN:
		return twin_phases;
	case METHOD_CUSTOM:
		break;
	}
	return custom_phases;
}

static int64_t budget_ns(const struct scenario *sc, const struct op_step *s)
{
	if (s->timeout_ns)
		return s->timeout_ns;
	switch (s->budget) {
	case BUDGET_BOOT:
		return sc->timeouts.boot_ns;
	case BUDGET_UPGRADE:
		return sc->timeouts.upgrade_ns;
	case BUDGET_STEP:
		break;
	}
	return sc->timeouts.step_ns;
}

struct interp {
	struct method_env *env;
	size_t cursor[2];
	size_t last_words[2]; /* OP_SILENT checks the lines from here */
	bool *ran; /* which of the scenario's steps have run */
	/*
	 * The twin upgrade's round: 1 (A -> B), or 2 (B -> C, upgrade.next),
	 * which runs the same steps on swapped consoles (C boots on console a,
	 * B hands over from console b) with its phases named ROUND2_PREFIX...
	 */
	int round;
	char old_release[65]; /* round 2: B's release, as B answered on console a */
};

static struct console *console_of(struct interp *in, char which)
{
	return in->env->console[which == 'b'];
}

static size_t *cursor_of(struct interp *in, char which)
{
	return &in->cursor[which == 'b'];
}

static void describe(const struct op_step *s, char *buf, size_t len)
{
	static const char *names[] = {
		[OP_EXPECT] = "expect",	     [OP_PEEK] = "expect",
		[OP_EXPECT_ANY] = "expect",
		[OP_SEND] = "send",	     [OP_MARK] = "mark",
		[OP_WAIT_UP] = "wait_probe up", [OP_WAIT_DOWN] = "wait_probe down",
		[OP_WAIT_STOPPED] = "wait for the guest to stop",
		[OP_START_NEW] = "start the new kernel", [OP_BANNER] = "expect",
		[OP_UNAME] = "uname -r",
	};

	if (s->text && (s->op == OP_EXPECT || s->op == OP_EXPECT_ANY || s->op == OP_PEEK ||
			s->op == OP_BANNER))
		snprintf(buf, len, "%s /%s/ on console %c", names[s->op], s->text, s->console);
	else if (s->op == OP_UNAME)
		snprintf(buf, len, "%s on console %c", names[s->op], s->console);
	else
		snprintf(buf, len, "%s", names[s->op]);
}

/*
 * Expect @s->text on its console, or its failure pattern: a line matching
 * the latter is a failure reported with that line.
 */
static int expect_or_fail(struct interp *in, const struct op_step *s, size_t *cursor,
			  int64_t deadline, struct console_match *m, struct tb_err *err)
{
	char pattern[512];
	regex_t fail;
	int rc, failed;

	/*
	 * The programs wait for whole lines: a slow console hands a line over
	 * in pieces, and a prefix would let the run end (and the log lose the
	 * rest) before the guest finished saying it.  The stamp is the same:
	 * the line's first byte.
	 */
	if (!s->fail)
		return console_expect_line(console_of(in, s->console), s->text, cursor, deadline,
					   m, err);
	snprintf(pattern, sizeof(pattern), "(%s)|(%s)", s->text, s->fail);
	rc = console_expect_line(console_of(in, s->console), pattern, cursor, deadline, m, err);
	if (rc != 0)
		return rc;
	if (regcomp(&fail, s->fail, REG_EXTENDED | REG_NOSUB) != 0)
		abort(); /* the programs' own patterns are constants */
	failed = regexec(&fail, m->text, 0, NULL, 0) == 0;
	regfree(&fail);
	if (failed)
		return tb_err_set(err, TB_EXIT_CHECK, "console %c: %s", s->console, m->text);
	return 0;
}

/* Escape @s for use inside a POSIX extended regular expression. */
static void regex_quote(const char *s, char *out, size_t len)
{
	size_t o = 0;

	for (; *s && o + 2 < len; s++) {
		if (strchr(".[]()*+?{}|^$\\", *s))
			out[o++] = '\\';
		out[o++] = *s;
	}
	out[o] = '\0';
}

/*
 * Ask the kernel behind a console its release.  Kernel 'a' (s->text, or
 * else the console) is the one that hands over, whose release is known
 * already (the probe heard A's; B answered on console a in round 1); 'b'
 * is the new one, which must be a different kernel (and the expected one,
 * if the scenario names it).
 */
static int check_uname(struct interp *in, const struct op_step *s, int64_t deadline,
		       struct console_match *m, struct tb_err *err)
{
	struct method_env *env = in->env;
	const char *want_b = in->round > 1 ? env->sc->upgrade.next.release : env->sc->upgrade.release;
	const char *old = in->round > 1 ? in->old_release : env->rep->release_before;
	char quoted[160], pattern[200];
	int rc;

	char kernel = s->text ? s->text[0] : s->console;

	if (kernel == 'a')
		regex_quote(old, quoted, sizeof(quoted));
	else if (want_b)
		regex_quote(want_b, quoted, sizeof(quoted));
	else
		snprintf(quoted, sizeof(quoted), "[0-9]+\\.[0-9]+[^ ]*");
	snprintf(pattern, sizeof(pattern), "^%s$", quoted);
	rc = console_send(console_of(in, s->console), "uname -r\n", 9, err);
	/* The answer arrives in pieces on a polled UART: a prefix must not match. */
	if (rc == 0)
		rc = console_expect_line(console_of(in, s->console), pattern,
					 cursor_of(in, s->console), deadline, m, err);
	if (rc != 0)
		return rc;
	snprintf(env->rep->console_release[s->console == 'b'], sizeof(env->rep->console_release[0]),
		 "%s", m->text);
	if (kernel == 'b' && !strcmp(m->text, old))
		return tb_err_set(err, TB_EXIT_CHECK,
				  "console %c answers with the old kernel's release %s: the new "
				  "kernel is not running",
				  s->console, m->text);
	return 0;
}

/*
 * B's takeover line, "cpus=N memtotal_kb=M": B must hold every vCPU of the
 * guest and at least TAKEOVER_MEM_PCT percent of its RAM.
 */
static int check_takeover(struct method_env *env, const char *line, struct tb_err *err)
{
	const struct guest_spec *g = &env->sc->guest;
	const char *p = strstr(line, "cpus=");
	int64_t want_kb = (int64_t)g->memory_mib * 1024 * TAKEOVER_MEM_PCT / 100;
	long long kb;
	int cpus;

	if (!p || sscanf(p, "cpus=%d memtotal_kb=%lld", &cpus, &kb) != 2)
		return tb_err_set(err, TB_EXIT_CHECK, "cannot read the takeover line: %s", line);
	env->rep->takeover_cpus = cpus;
	env->rep->takeover_memtotal_kb = kb;
	if (cpus != g->vcpus)
		return tb_err_set(err, TB_EXIT_CHECK,
				  "the new kernel runs on %d of the guest's %d vCPUs after the takeover",
				  cpus, g->vcpus);
	if (kb < want_kb)
		return tb_err_set(err, TB_EXIT_CHECK,
				  "the new kernel has %lld kB after the takeover, less than %d%% of the "
				  "guest's %d MiB (%lld kB)",
				  kb, TAKEOVER_MEM_PCT, g->memory_mib, (long long)want_kb);
	return 0;
}

/* Fail on a line matching s->text that arrived after the console's last words. */
static int check_silent(struct interp *in, const struct op_step *s, struct tb_err *err)
{
	size_t from = in->last_words[s->console == 'b'];
	struct console_match m;
	struct tb_err ignored;
	int rc;

	rc = console_expect_line(console_of(in, s->console), s->text, &from, monotime_now(), &m,
				 &ignored);
	if (rc == -ETIMEDOUT)
		return 0;
	if (rc == 0)
		return tb_err_set(err, TB_EXIT_CHECK, "console %c: the old kernel spoke again: %s",
				  s->console, m.text);
	return tb_err_set(err, ignored.exit, "%s", ignored.msg);
}

static int run_step(struct interp *in, const struct op_step *s, struct tb_err *err)
{
	struct method_env *env = in->env;
	int64_t start = monotime_now(), deadline = start + budget_ns(env->sc, s);
	struct console_match m;
	struct probe_record reply;
	size_t peek;
	int rc = 0;

	if (env->progress && s->doing)
		env->progress(env->runner, s->doing);
	switch (s->op) {
	case OP_LAST_WORDS:
	case OP_TAKEOVER:
		rc = expect_or_fail(in, s, cursor_of(in, s->console), deadline, &m, err);
		if (rc == 0 && s->op == OP_LAST_WORDS)
			in->last_words[s->console == 'b'] = *cursor_of(in, s->console);
		if (rc == 0 && s->op == OP_TAKEOVER)
			rc = check_takeover(env, m.text, err);
		if (rc == 0 && s->mark)
			repetition_mark(env->rep, s->mark, m.t_ns);
		break;
	case OP_SILENT:
		rc = check_silent(in, s, err);
		break;
	case OP_EXPECT:
	case OP_BANNER:
		rc = expect_or_fail(in, s, cursor_of(in, s->console), deadline, &m, err);
		if (rc == 0 && s->mark)
			repetition_mark(env->rep, s->mark, m.t_ns);
		if (rc == 0 && s->op == OP_BANNER && m.index > 0) {
			struct console_match prev;

			/* The old kernel's last words: the line just before the banner. */
			if (console_line(console_of(in, s->console), m.index - 1, &prev) == 0 &&
			    prev.t_ns >= repetition_phase(env->rep, "upgrade_start"))
				repetition_mark(env->rep, "old_last_line", prev.t_ns);
		}
		break;
	case OP_EXPECT_ANY:
		rc = console_expect(console_of(in, s->console), s->text, cursor_of(in, s->console),
				    deadline, &m, err);
		if (rc == 0 && s->mark)
			repetition_mark(env->rep, s->mark, m.t_ns);
		break;
	case OP_PEEK:
		peek = *cursor_of(in, s->console);
		rc = console_expect(console_of(in, s->console), s->text, &peek, deadline, &m, err);
		break;
	case OP_UNAME:
		rc = check_uname(in, s, deadline, &m, err);
		if (rc == 0 && s->mark)
			repetition_mark(env->rep, s->mark, m.t_ns);
		break;
	case OP_SEND:
		rc = console_send(console_of(in, s->console), s->text, strlen(s->text), err);
		break;
	case OP_MARK:
		repetition_mark(env->rep, s->mark, start);
		break;
	case OP_WAIT_UP:
		rc = probe_wait_reply(env->probe, start, deadline, &reply);
		if (rc == 0 && s->mark)
			repetition_mark(env->rep, s->mark, reply.t_recv_ns);
		/* The kernel that answered first: what later checks compare against. */
		if (rc == 0 && !env->rep->release_before[0])
			snprintf(env->rep->release_before, sizeof(env->rep->release_before), "%s",
				 reply.release);
		break;
	case OP_WAIT_DOWN: {
		int64_t quiet = DOWN_QUIET_INTERVALS * env->sc->service.interval_ns;

		rc = probe_wait_silence(env->probe, quiet > DOWN_QUIET_MIN_NS ? quiet : DOWN_QUIET_MIN_NS,
					deadline);
		if (rc == 0 && s->mark)
			repetition_mark(env->rep, s->mark, monotime_now());
		break;
	}
	case OP_WAIT_STOPPED:
		rc = env->wait_stopped(env->runner, deadline, err);
		if (rc == 0 && s->mark)
			repetition_mark(env->rep, s->mark, monotime_now());
		break;
	case OP_START_NEW:
		rc = env->start_new_kernel(env->runner, err);
		if (rc == 0 && s->mark)
			repetition_mark(env->rep, s->mark, monotime_now());
		break;
	}
	if (rc == -ETIMEDOUT || rc == -EPIPE) {
		char what[300];

		describe(s, what, sizeof(what));
		if (rc == -EPIPE) {
			tb_err_prefix(err, "%s", what);
			return -1;
		}
		return tb_err_set(err, TB_EXIT_CHECK, "%s: timed out after %.1f s", what,
				  (double)budget_ns(env->sc, s) / NS_PER_S);
	}
	return rc == 0 ? 0 : -1;
}

static struct op_step from_scenario(const struct step *st);

/* Run scenario step @i, naming it in the error if it fails. */
static int run_scenario_step(struct interp *in, size_t i, struct tb_err *err)
{
	const struct step *st = &in->env->sc->steps[i];
	struct op_step s = from_scenario(st);

	in->ran[i] = true;
	if (run_step(in, &s, err) == 0)
		return 0;
	tb_err_prefix(err, "%s:%d:%d: step %zu", in->env->sc->path, st->line, st->column, i + 1);
	return -1;
}

/* The scenario's steps placed before @phase (before: in the file). */
static int run_steps_before(struct interp *in, const char *phase, struct tb_err *err)
{
	const struct scenario *sc = in->env->sc;

	for (size_t i = 0; phase && i < sc->nsteps; i++)
		if (!in->ran[i] && sc->steps[i].before && !strcmp(sc->steps[i].before, phase) &&
		    run_scenario_step(in, i, err) != 0)
			return -1;
	return 0;
}

static int run_program(struct interp *in, const struct op_step *prog, size_t n,
		       struct tb_err *err)
{
	for (size_t i = 0; i < n; i++) {
		struct op_step s = prog[i];
		char mark[40];

		if (in->round > 1) {
			/* The same step with the consoles' roles swapped, under its round's name. */
			if (s.op == OP_UNAME && !s.text)
				s.text = s.console == 'a' ? "a" : "b";
			if (s.console)
				s.console = s.console == 'a' ? 'b' : 'a';
			if (s.mark) {
				snprintf(mark, sizeof(mark), ROUND2_PREFIX "%s", s.mark);
				s.mark = mark;
			}
		}
		if (run_steps_before(in, s.mark, err) != 0 || run_step(in, &s, err) != 0)
			return -1;
	}
	return 0;
}

/*
 * upgrade.next: the kernel that took over (B, on console b, and since the
 * takeover on console a too) upgrades to the next (C) by the same program,
 * past the guest's boot.  C boots on console a, which B gives up for it.
 */
static int run_round2(struct interp *in, const struct op_step *prog, size_t n,
		      struct tb_err *err)
{
	size_t skip = 0;

	while (skip < n && (!prog[skip].mark || strcmp(prog[skip].mark, "service_up")))
		skip++;
	in->round = 2;
	snprintf(in->old_release, sizeof(in->old_release), "%s", in->env->rep->console_release[0]);
	return skip < n ? run_program(in, prog + skip + 1, n - skip - 1, err) : 0;
}

/* A scenario step, in the interpreter's terms. */
static struct op_step from_scenario(const struct step *st)
{
	struct op_step s = { .console = st->console, .text = st->text, .mark = st->mark,
			     .budget = BUDGET_STEP, .timeout_ns = st->timeout_ns };

	switch (st->kind) {
	case STEP_EXPECT:
		s.op = OP_EXPECT_ANY;
		break;
	case STEP_SEND:
		s.op = OP_SEND;
		break;
	case STEP_MARK:
		s.op = OP_MARK;
		s.mark = st->text;
		break;
	case STEP_WAIT_PROBE:
		s.op = st->probe_up ? OP_WAIT_UP : OP_WAIT_DOWN;
		break;
	}
	return s;
}

/* The program of @m, and its length in *@n (NULL and 0 for custom). */
static const struct op_step *program_of(enum method m, size_t *n)
{
#define PROGRAM(p) (*n = ARRAY_SIZE(p), p)
	switch (m) {
	case METHOD_REBOOT:
		return PROGRAM(reboot_program);
	case METHOD_KEXEC:
		return PROGRAM(kexec_program);
	case METHOD_TWIN_BOOT:
		return PROGRAM(twin_boot_program);
	case METHOD_TWIN:
		return PROGRAM(twin_program);
	case METHOD_CUSTOM:
		break;
	}
#undef PROGRAM
	*n = 0;
	return NULL;
}

const char *method_gap_start(enum method m)
{
	switch (m) {
	case METHOD_REBOOT:
	case METHOD_KEXEC:
		return "upgrade_start";
	case METHOD_TWIN_BOOT:
		return "trigger";
	case METHOD_TWIN:
		return "handoff_start";
	case METHOD_CUSTOM:
		break;
	}
	return NULL;
}

int method_check_steps(const struct scenario *sc, struct tb_err *err)
{
	size_t n;
	const struct op_step *prog = program_of(sc->method, &n);

	for (size_t i = 0; i < sc->nsteps; i++) {
		const struct step *st = &sc->steps[i];
		char phases[512] = "";
		bool found = false;

		if (!st->before)
			continue;
		for (size_t j = 0; j < n; j++) {
			if (!prog[j].mark)
				continue;
			found |= !strcmp(prog[j].mark, st->before);
			snprintf(phases + strlen(phases), sizeof(phases) - strlen(phases), "%s%s",
				 phases[0] ? ", " : "", prog[j].mark);
		}
		/* upgrade.next: the second round's phases (their marks are made as it runs). */
		for (const char *const *p = method_round2_phases();
		     sc->method == METHOD_TWIN && sc->upgrade.next.kernel && *p; p++) {
			found |= !strcmp(*p, st->before);
			snprintf(phases + strlen(phases), sizeof(phases) - strlen(phases), ", %s", *p);
		}
		if (!found)
			return tb_err_set(err, TB_EXIT_USAGE,
					  "%s:%d:%d: before: the %s method has no phase '%s' "
					  "(it has: %s)",
					  sc->path, st->line, st->column, method_name(sc->method),
					  st->before, phases[0] ? phases : "none");
	}
	return 0;
}

int method_run(struct method_env *env, struct tb_err *err)
{
	const struct scenario *sc = env->sc;
	struct interp in = { .env = env, .round = 1 };
	const struct op_step *prog;
	int rc = 0;
	size_t n;

	in.ran = calloc(sc->nsteps ? sc->nsteps : 1, sizeof(*in.ran));
	if (!in.ran)
		return tb_err_set(err, TB_EXIT_ENV, "out of memory");
	prog = program_of(sc->method, &n);
	if (prog)
		rc = run_program(&in, prog, n, err);
	if (rc == 0 && prog && sc->method == METHOD_TWIN && sc->upgrade.next.kernel)
		rc = run_round2(&in, prog, n, err);
	for (size_t i = 0; rc == 0 && i < sc->nsteps; i++) {
		if (!sc->steps[i].before)
			rc = run_scenario_step(&in, i, err);
		else if (!in.ran[i])
			rc = tb_err_set(err, TB_EXIT_USAGE,
					"%s:%d:%d: step %zu: the %s method has no phase '%s' to run "
					"before",
					sc->path, sc->steps[i].line, sc->steps[i].column, i + 1,
					method_name(sc->method), sc->steps[i].before);
	}
	free(in.ran);
	return rc;
}
