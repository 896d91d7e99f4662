/*
 * methods.c - the step interpreter: a method file's program and a
 * scenario's steps, run against a guest.
 *
 * Every program starts the same way: the guest's agent says it is ready on
 * console a and answers the probe.  Then the trigger is sent, and the
 * program waits, phase by phase, for the evidence that the new kernel runs:
 * its banner on the console, its agent's ready line, its agent's replies.
 * The exact downtime comes afterwards from the probe trace, not from here.
 * Nothing here knows a particular method: what differs is the file.
 */
#include <errno.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "methods.h"
#include "monotime.h"

/* Silence that counts as "down": 20 missed intervals, at least 50 ms. */
#define DOWN_QUIET_INTERVALS 20
#define DOWN_QUIET_MIN_NS    (50 * NS_PER_MS)

struct interp {
	struct method_env *env;
	size_t cursor[METHOD_CONSOLES];
	size_t last_words[METHOD_CONSOLES]; /* OP_SILENT checks the lines from here */
	bool *ran;	      /* which of the scenario's steps have run */
	/*
	 * 1 (A -> B), or 2 (B -> C, upgrade.next), which runs the same steps
	 * on swapped consoles (C boots on console a, B hands over from console
	 * b) with its phases named ROUND2_PREFIX...
	 */
	int round;
	char old_release[65]; /* round 2: B's release, as B answered on console a */
	char answered_boot[40]; /* the boot that answered the last wait_probe up */
};

/* A step's console as messages name it: "a", "b", "standby". */
static const char *con_name(char which)
{
	return which == 'b' ? "b" : which == 's' ? "standby" : "a";
}

/* A step's console ('a', 'b', 's') as an index of env->console. */
static int con_index(char which)
{
	return which == 'b' ? 1 : which == 's' ? 2 : 0;
}

static struct console *console_of(struct interp *in, char which)
{
	return in->env->console[con_index(which)];
}

static size_t *cursor_of(struct interp *in, char which)
{
	return &in->cursor[con_index(which)];
}

static int64_t budget_ns(const struct scenario *sc, const struct step *s)
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

/* What a step does, for messages: every op has its words. */
static void describe(const struct step *s, char *buf, size_t len)
{
	static const char *const names[] = {
		[OP_EXPECT] = "expect",
		[OP_SEND] = "send",
		[OP_MARK] = "mark",
		[OP_WAIT_PROBE] = "wait_probe",
		[OP_WAIT_STOPPED] = "wait for the guest to stop",
		[OP_START_NEW] = "start the new kernel",
		[OP_UNAME] = "uname -r",
		[OP_LAST_WORDS] = "expect the last words",
		[OP_SILENT] = "check the silence",
		[OP_TAKEOVER] = "expect the takeover",
		[OP_LIVE_MIGRATE] = "live-migrate the guest",
		[OP_INJECT_NMI] = "inject an NMI",
		[OP_INJECT_MCE] = "inject a machine check",
		[OP_QUIET] = "leave the service alone",
	};
	const char *name = (size_t)s->op < sizeof(names) / sizeof(names[0]) && names[s->op]
				   ? names[s->op]
				   : "step";

	switch (s->op) {
	case OP_EXPECT:
	case OP_LAST_WORDS:
	case OP_SILENT:
	case OP_TAKEOVER:
		snprintf(buf, len, "%s /%s/ on console %s", name, s->text, con_name(s->console));
		break;
	case OP_UNAME:
		snprintf(buf, len, "%s on console %s", name, con_name(s->console));
		break;
	case OP_WAIT_PROBE:
		snprintf(buf, len, "%s %s", name, s->probe_up ? "up" : "down");
		break;
	case OP_MARK:
		snprintf(buf, len, "%s %s", name, s->mark);
		break;
	default:
		snprintf(buf, len, "%s", name);
	}
}

/*
 * Expect @s->text on its console, or its failure pattern: a line matching
 * the latter is a failure reported with that line.
 *
 * Whole-line steps wait for whole lines: a slow console hands a line over
 * in pieces, and a prefix would let the run end (and the log lose the
 * rest) before the guest finished saying it.  The stamp is the same: the
 * line's first byte.  Other steps match the unfinished line too (a prompt).
 */
static int expect_or_fail(struct interp *in, const struct step *s, size_t *cursor,
			  int64_t deadline, struct console_match *m, struct tb_err *err)
{
	int (*expect)(struct console *, const char *, size_t *, int64_t, struct console_match *,
		      struct tb_err *) = s->whole_line || s->op != OP_EXPECT
						 ? console_expect_line
						 : console_expect;
	char pattern[1024];
	regex_t fail;
	int rc, failed;

	if (!s->fail)
		return expect(console_of(in, s->console), s->text, cursor, deadline, m, err);
	snprintf(pattern, sizeof(pattern), "(%s)|(%s)", s->text, s->fail);
	rc = expect(console_of(in, s->console), pattern, cursor, deadline, m, err);
	if (rc != 0)
		return rc;
	if (regcomp(&fail, s->fail, REG_EXTENDED | REG_NOSUB) != 0)
		abort(); /* checked when the file was loaded */
	failed = regexec(&fail, m->text, 0, NULL, 0) == 0;
	regfree(&fail);
	if (failed)
		return tb_err_set(err, TB_EXIT_CHECK, "console %s: %s", con_name(s->console),
				  m->text);
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
 * Ask the kernel behind a console its release.  The old kernel (the one
 * that hands over) has a release known already: the probe heard A's, and
 * in round 2 B answered on console a in round 1.  The new one must be a
 * different kernel (and the expected one, if the scenario names it).
 */
static int check_uname(struct interp *in, const struct step *s, int64_t deadline,
		       struct console_match *m, struct tb_err *err)
{
	struct method_env *env = in->env;
	const char *want_new = in->round > 1 ? env->sc->upgrade.next.release
					     : env->sc->upgrade.release;
	const char *old = in->round > 1 ? in->old_release : env->rep->release_before;
	char quoted[160], pattern[200];
	int rc;

	if (!s->new_kernel)
		regex_quote(old, quoted, sizeof(quoted));
	else if (want_new)
		regex_quote(want_new, quoted, sizeof(quoted));
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
	/* What each kernel of the primary said it was (the standby's is not recorded). */
	if (s->console != 's')
		snprintf(env->rep->console_release[con_index(s->console)],
			 sizeof(env->rep->console_release[0]), "%s", m->text);
	if (s->new_kernel && !strcmp(m->text, old))
		return tb_err_set(err, TB_EXIT_CHECK,
				  "console %s answers with the old kernel's release %s: the new "
				  "kernel is not running",
				  con_name(s->console), m->text);
	return 0;
}

/*
 * The takeover line, "cpus=N memtotal_kb=M": the new kernel must hold
 * every vCPU of the guest and at least the step's share of its RAM.
 */
static int check_takeover(struct method_env *env, const struct step *s, const char *line,
			  struct tb_err *err)
{
	const struct guest_spec *g = &env->sc->guest;
	const char *p = strstr(line, "cpus=");
	int64_t want_kb = (int64_t)g->memory_mib * 1024 * s->min_memory_pct / 100;
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
				  kb, s->min_memory_pct, g->memory_mib, (long long)want_kb);
	return 0;
}

/* Fail on a line matching s->text that arrived after the console's last words. */
static int check_silent(struct interp *in, const struct step *s, struct tb_err *err)
{
	size_t from = in->last_words[con_index(s->console)];
	struct console_match m;
	struct tb_err ignored;
	int rc;

	rc = console_expect_line(console_of(in, s->console), s->text, &from, monotime_now(), &m,
				 &ignored);
	if (rc == -ETIMEDOUT)
		return 0;
	if (rc == 0)
		return tb_err_set(err, TB_EXIT_CHECK, "console %s: the old kernel spoke again: %s",
				  con_name(s->console), m.text);
	return tb_err_set(err, ignored.exit, "%s", ignored.msg);
}

/*
 * last_line: the old kernel's last words, the console's line before
 * @index, marked if it came after the upgrade started (before that, the
 * old kernel said nothing during the upgrade worth the name).
 */
static void mark_last_line(struct interp *in, const struct step *s, size_t index)
{
	const struct method *m = &in->env->sc->method;
	const char *since = m->maintenance_from ? m->maintenance_from : m->downtime_from;
	struct console_match prev;

	if (index == 0 || console_line(console_of(in, s->console), index - 1, &prev) != 0)
		return;
	if (!since || prev.t_ns >= repetition_phase(in->env->rep, since))
		repetition_mark(in->env->rep, s->last_line, prev.t_ns);
}

static int run_step(struct interp *in, const struct step *s, struct tb_err *err)
{
	struct method_env *env = in->env;
	int64_t start = monotime_now(), deadline = start + budget_ns(env->sc, s);
	int64_t t = start; /* when the step's mark happened */
	struct console_match m;
	struct probe_record reply;
	char what[300];
	size_t peek;
	int rc = 0;

	describe(s, what, sizeof(what));
	if (env->progress)
		env->progress(env->runner, s->doing ? s->doing : what);
	switch (s->op) {
	case OP_EXPECT:
	case OP_LAST_WORDS:
	case OP_TAKEOVER:
		peek = *cursor_of(in, s->console);
		rc = expect_or_fail(in, s, s->peek ? &peek : cursor_of(in, s->console), deadline,
				    &m, err);
		if (rc != 0)
			break;
		t = m.t_ns;
		if (s->op == OP_LAST_WORDS)
			in->last_words[con_index(s->console)] = *cursor_of(in, s->console);
		if (s->op == OP_TAKEOVER)
			rc = check_takeover(env, s, m.text, err);
		if (rc == 0 && s->last_line)
			mark_last_line(in, s, m.index);
		break;
	case OP_SILENT:
		rc = check_silent(in, s, err);
		break;
	case OP_UNAME:
		rc = check_uname(in, s, deadline, &m, err);
		t = m.t_ns;
		break;
	case OP_SEND:
		rc = console_send(console_of(in, s->console), s->text, strlen(s->text), err);
		break;
	case OP_MARK:
		break;
	case OP_WAIT_PROBE:
		if (s->probe_up) {
			int64_t after = start;

			/* kernel: new: replies of the boot that answered before do not count. */
			do {
				rc = probe_wait_reply(env->probe, after, deadline, &reply);
				after = reply.t_recv_ns;
			} while (rc == 0 && s->new_kernel && in->answered_boot[0] &&
				 !strcmp(reply.boot_id, in->answered_boot));
			t = reply.t_recv_ns;
			if (rc == 0)
				snprintf(in->answered_boot, sizeof(in->answered_boot), "%s",
					 reply.boot_id);
			/* The kernel that answered first: what later checks compare against. */
			if (rc == 0 && !env->rep->release_before[0])
				snprintf(env->rep->release_before, sizeof(env->rep->release_before),
					 "%s", reply.release);
		} else {
			int64_t quiet = DOWN_QUIET_INTERVALS * env->sc->service.interval_ns;

			rc = probe_wait_silence(env->probe,
						quiet > DOWN_QUIET_MIN_NS ? quiet : DOWN_QUIET_MIN_NS,
						deadline);
			t = monotime_now();
		}
		break;
	case OP_WAIT_STOPPED:
		rc = env->wait_stopped(env->runner, deadline, err);
		t = monotime_now();
		if (rc == 0 && s->last_line)
			mark_last_line(in, s, console_cursor(console_of(in, s->console)));
		break;
	case OP_START_NEW:
		rc = env->start_new_kernel(env->runner, err);
		t = monotime_now();
		break;
	case OP_LIVE_MIGRATE:
		rc = env->live_migrate ? env->live_migrate(env->runner, s->max_downtime_ns, deadline,
							   err)
				       : tb_err_set(err, TB_EXIT_ENV, "no second host to migrate to");
		t = monotime_now();
		break;
	case OP_INJECT_NMI:
		rc = env->inject_nmi ? env->inject_nmi(env->runner, err)
				     : tb_err_set(err, TB_EXIT_ENV, "no guest to send an NMI to");
		t = monotime_now();
		break;
	case OP_INJECT_MCE:
		rc = env->inject_mce ? env->inject_mce(env->runner, s->cpu, err)
				     : tb_err_set(err, TB_EXIT_ENV, "no guest to send a machine check to");
		t = monotime_now();
		break;
	case OP_QUIET:
		/*
		 * Not a wait for anything: a window in which nothing but the
		 * probe runs, whose gaps (verdict_judge) are what this host
		 * does to the service on its own.  Once a repetition: a
		 * chain's second round does not hold the upgrade again.
		 */
		if (!env->rep->quiet_ns) {
			monotime_sleep_until(start + s->quiet_ns);
			env->rep->quiet_from_ns = start;
			env->rep->quiet_ns = s->quiet_ns;
		}
		break;
	}
	if (rc == 0 && s->mark && repetition_mark(env->rep, s->mark, t) < 0)
		return tb_err_set(err, TB_EXIT_USAGE,
				  "%s: phase %s is one more than the %d a repetition records", what,
				  s->mark, RESULTS_MAX_PHASES);
	if (rc == -ETIMEDOUT)
		return tb_err_set(err, TB_EXIT_CHECK, "%s: timed out after %.1f s", what,
				  (double)budget_ns(env->sc, s) / NS_PER_S);
	if (rc == -EPIPE)
		tb_err_prefix(err, "%s", what);
	return rc == 0 ? 0 : -1;
}

/* Run scenario step @i, naming it in the error if it fails. */
static int run_scenario_step(struct interp *in, size_t i, struct tb_err *err)
{
	const struct step *st = &in->env->sc->steps[i];

	in->ran[i] = true;
	if (run_step(in, st, err) == 0)
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

/* The method's steps from @first on, in the interpreter's round. */
static int run_program(struct interp *in, size_t first, struct tb_err *err)
{
	const struct method *m = &in->env->sc->method;

	for (size_t i = first; i < m->nsteps; i++) {
		struct step s = m->steps[i];
		char mark[48], last[48];

		/* A step for another way to upgrade than the scenario's. */
		if (!method_step_runs(m, &s))
			continue;

		if (in->round > 1) {
			/* The same step with the consoles' roles swapped, under its round's name. */
			if (s.console != 's')
				s.console = s.console == 'a' ? 'b' : 'a';
			if (s.mark) {
				snprintf(mark, sizeof(mark), ROUND2_PREFIX "%s", s.mark);
				s.mark = mark;
			}
			if (s.last_line) {
				snprintf(last, sizeof(last), ROUND2_PREFIX "%s", s.last_line);
				s.last_line = last;
			}
		}
		if (run_steps_before(in, s.last_line, err) != 0 ||
		    run_steps_before(in, s.mark, err) != 0)
			return -1;
		if (run_step(in, &s, err) != 0) {
			tb_err_prefix(err, "%s:%d:%d", m->path, s.line, s.column);
			return -1;
		}
	}
	return 0;
}

/*
 * upgrade.next: the kernel that took over (B, on console b, and since the
 * takeover on console a too) upgrades to the next (C) by the same program,
 * from the step after next_after on.  C boots on console a, which B gives
 * up for it.
 */
static int run_round2(struct interp *in, struct tb_err *err)
{
	const struct method *m = &in->env->sc->method;
	size_t first = 0;

	while (first < m->nsteps &&
	       (!m->steps[first].mark || strcmp(m->steps[first].mark, m->next_after)))
		first++;
	in->round = 2;
	snprintf(in->old_release, sizeof(in->old_release), "%s", in->env->rep->console_release[0]);
	return run_program(in, first + 1, err);
}

int method_run(struct method_env *env, struct tb_err *err)
{
	const struct scenario *sc = env->sc;
	struct interp in = { .env = env, .round = 1 };
	int rc;

	in.ran = calloc(sc->nsteps ? sc->nsteps : 1, sizeof(*in.ran));
	if (!in.ran)
		return tb_err_set(err, TB_EXIT_ENV, "out of memory");
	rc = run_program(&in, 0, err);
	if (rc == 0 && sc->method.next_after && sc->upgrade.next.kernel)
		rc = run_round2(&in, err);
	/* Steps placed before a phase that never came (a failed round) stay unrun. */
	for (size_t i = 0; rc == 0 && i < sc->nsteps; i++)
		if (!sc->steps[i].before)
			rc = run_scenario_step(&in, i, err);
	free(in.ran);
	return rc;
}
