/*
 * scenario.c - load a YAML scenario file into a struct scenario.
 *
 * The file is walked with one table of fields per mapping (yamlfile.h);
 * the tables below are the scenario's schema.  The method it names is a
 * method file (methodfile.h), loaded and checked here too, so that a run
 * starts only when both are right.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array_size.h"
#include "monotime.h"
#include "scenario.h"
#include "yamlfile.h"

/* The method's name or path, kept with its place until the method file is read. */
static int parse_method(struct yf_loader *ld, const struct yf_field *f, const char *what,
			yaml_node_t *v, char *base)
{
	struct scenario *sc = (struct scenario *)base;

	sc->method_line = (int)v->start_mark.line + 1;
	sc->method_column = (int)v->start_mark.column + 1;
	return yf_nonempty_string(ld, f, what, v, base);
}

static int parse_nic(struct yf_loader *ld, const struct yf_field *f, const char *what, yaml_node_t *v,
		     char *base)
{
	enum nic_mode *mode = (enum nic_mode *)(base + f->off);
	const char *s;

	s = yf_want_scalar(ld, what, "a NIC mode", v);
	if (!s)
		return -1;
	if (!strcmp(s, "handoff"))
		*mode = NIC_HANDOFF;
	else if (!strcmp(s, "dual"))
		*mode = NIC_DUAL;
	else
		return yf_fail_node(ld, v, "%s: expected 'handoff' or 'dual', got '%s'", what, s);
	return 0;
}

/*
 * A kernel command line: x86 keeps 2048 bytes of it (COMMAND_LINE_SIZE,
 * with its NUL) and drops the rest silently; the harness appends its own
 * settings (SCENARIO_CMDLINE_RESERVE bytes at most), so the scenario's
 * part must leave room for them.
 */
static int parse_cmdline(struct yf_loader *ld, const struct yf_field *f, const char *what,
			 yaml_node_t *v, char *base)
{
	const char *s = yf_want_scalar(ld, what, "a kernel command line", v);

	if (!s)
		return -1;
	if (strlen(s) > SCENARIO_CMDLINE_MAX)
		return yf_fail_node(ld, v,
				    "%s: %zu bytes, more than the %d a kernel command line may have "
				    "here (x86 keeps 2047, and the harness appends up to %d)",
				    what, strlen(s), SCENARIO_CMDLINE_MAX, SCENARIO_CMDLINE_RESERVE);
	return yf_string(ld, f, what, v, base);
}

/* upgrade.next: a mapping like upgrade's, remembered with its place for later checks. */
static int parse_next(struct yf_loader *ld, const struct yf_field *f, const char *what, yaml_node_t *v,
		      char *base)
{
	struct upgrade_next *next = (struct upgrade_next *)(base + f->off);

	next->line = (int)v->start_mark.line + 1;
	next->column = (int)v->start_mark.column + 1;
	return yf_mapping(ld, f, what, v, base);
}

/* standby: a mapping like guest's, every key optional; its presence and place kept. */
static int parse_standby(struct yf_loader *ld, const struct yf_field *f, const char *what,
			 yaml_node_t *v, char *base)
{
	struct standby_spec *sb = (struct standby_spec *)(base + f->off);

	sb->present = true;
	sb->line = (int)v->start_mark.line + 1;
	sb->column = (int)v->start_mark.column + 1;
	return yf_mapping(ld, f, what, v, base);
}

/* via: one of the method's ways to upgrade, checked once the method is read. */
static int parse_via(struct yf_loader *ld, const struct yf_field *f, const char *what,
		     yaml_node_t *v, char *base)
{
	struct scenario *sc = (struct scenario *)base;

	sc->via_line = (int)v->start_mark.line + 1;
	sc->via_column = (int)v->start_mark.column + 1;
	return yf_name(ld, f, what, v, base);
}

static int parse_steps(struct yf_loader *ld, const struct yf_field *f, const char *what,
		       yaml_node_t *v, char *base)
{
	struct scenario *sc = (struct scenario *)base;

	(void)f;
	return steps_parse(ld, v, what, true, &sc->steps, &sc->nsteps);
}

/* --- the schema --- */

static const struct yf_field guest_fields[] = {
    REQUIRED("kernel", yf_path, struct guest_spec, kernel),
    FIELD("initrd", yf_path, struct guest_spec, initrd),
    FIELD("rootfs", yf_path, struct guest_spec, rootfs),
    FIELD("cmdline", parse_cmdline, struct guest_spec, cmdline),
    FIELD("memory", yf_size, struct guest_spec, memory_mib),
    /* 64: well above what the lab's hosts give a guest; catches typos like 200. */
    INT_FIELD("vcpus", struct guest_spec, vcpus, 1, 64),
    FIELD("nic", parse_nic, struct guest_spec, nic),
};

static const struct yf_field standby_fields[] = {
    FIELD("kernel", yf_path, struct standby_spec, kernel),
    FIELD("initrd", yf_path, struct standby_spec, initrd),
    FIELD("rootfs", yf_path, struct standby_spec, rootfs),
    FIELD("cmdline", parse_cmdline, struct standby_spec, cmdline),
    FIELD("memory", yf_size, struct standby_spec, memory_mib),
    INT_FIELD("vcpus", struct standby_spec, vcpus, 1, 64),
};

static const struct yf_field next_fields[] = {
    REQUIRED("kernel", yf_path, struct upgrade_next, kernel),
    FIELD("initrd", yf_path, struct upgrade_next, initrd),
    /* Required: the next kernel boots beside B, on the other console. */
    REQUIRED("cmdline", parse_cmdline, struct upgrade_next, cmdline),
    FIELD("release", yf_nonempty_string, struct upgrade_next, release),
};

static const struct yf_field upgrade_fields[] = {
    REQUIRED("kernel", yf_path, struct upgrade_spec, kernel),
    FIELD("initrd", yf_path, struct upgrade_spec, initrd),
    FIELD("cmdline", parse_cmdline, struct upgrade_spec, cmdline),
    FIELD("release", yf_nonempty_string, struct upgrade_spec, release),
    { .key = "next", .parse = parse_next, .off = offsetof(struct upgrade_spec, next),
      .sub = next_fields, .nsub = ARRAY_SIZE(next_fields) },
};

static const struct yf_field service_fields[] = {
    INT_FIELD("port", struct service_spec, port, 1, 65535),
    FIELD("interval", yf_duration, struct service_spec, interval_ns),
};

static const struct yf_field timeout_fields[] = {
    FIELD("boot", yf_duration, struct timeouts, boot_ns),
    FIELD("upgrade", yf_duration, struct timeouts, upgrade_ns),
    FIELD("step", yf_duration, struct timeouts, step_ns),
};

static const struct yf_field top_fields[] = {
    REQUIRED("name", yf_name, struct scenario, name),
    REQUIRED("method", parse_method, struct scenario, method_ref),
    FIELD("via", parse_via, struct scenario, via),
    INT_FIELD("repetitions", struct scenario, repetitions, 1, INT_MAX),
    NESTED("guest", struct scenario, guest, guest_fields, 1),
    { .key = "standby", .parse = parse_standby, .off = offsetof(struct scenario, standby),
      .sub = standby_fields, .nsub = ARRAY_SIZE(standby_fields) },
    /* Required for a method with a downtime window: checked in finish_scenario(). */
    NESTED("upgrade", struct scenario, upgrade, upgrade_fields, 0),
    NESTED("service", struct scenario, service, service_fields, 0),
    NESTED("timeouts", struct scenario, timeouts, timeout_fields, 0),
    FIELD("steps", parse_steps, struct scenario, steps),
};

const char *scenario_method_label(const struct scenario *sc)
{
	return sc->label[0] ? sc->label : sc->method.name;
}

static yaml_mark_t mark_at(int line, int column)
{
	yaml_mark_t at = { .line = (size_t)line - 1, .column = (size_t)column - 1 };

	return at;
}

/* Read the method file the scenario names, relative to the scenario's directory. */
static int load_method(struct yf_loader *ld, struct scenario *sc)
{
	struct tb_err merr = { 0 };

	if (method_load(sc->method_ref, ld->dir, &sc->method, &merr) == 0)
		return 0;
	return yf_fail_at(ld, mark_at(sc->method_line, sc->method_column), "method: %s",
			  merr.msg);
}

/*
 * Steps placed before a phase must name one the method records (in the
 * second round too, with an upgrade.next).
 */
static int check_steps(struct yf_loader *ld, struct scenario *sc)
{
	bool round2 = sc->upgrade.next.kernel != NULL;

	for (size_t i = 0; i < sc->nsteps; i++) {
		const struct step *st = &sc->steps[i];
		const char **list;
		char phases[1024] = "";

		if (st->console == 's' && !sc->standby.present)
			return yf_fail_at(ld, mark_at(st->line, st->column),
					  "console: standby, but the scenario has no standby guest");

		if (!st->before || method_has_phase(&sc->method, round2, st->before))
			continue;
		list = method_phase_list(&sc->method, round2);
		/* guest_start is recorded by the runner, before any step: nothing to place. */
		for (size_t j = 1; list && list[j]; j++)
			snprintf(phases + strlen(phases), sizeof(phases) - strlen(phases), "%s%s",
				 phases[0] ? ", " : "", list[j]);
		free(list);
		return yf_fail_at(ld, mark_at(st->line, st->column),
				  "before: the %s method has no phase '%s' (it has: %s)",
				  sc->method.name, st->before, phases[0] ? phases : "none");
	}
	return 0;
}

/* @*to, or a copy of @from if the file gave none; 0 or -1 (out of memory). */
static int default_string(char **to, const char *from)
{
	if (*to || !from)
		return 0;
	*to = strdup(from);
	return *to ? 0 : -1;
}

/* What the standby does not say is the primary's: same images, same size. */
static int standby_defaults(struct scenario *sc)
{
	struct standby_spec *sb = &sc->standby;

	if (!sb->memory_mib)
		sb->memory_mib = sc->guest.memory_mib;
	if (!sb->vcpus)
		sb->vcpus = sc->guest.vcpus;
	return default_string(&sb->kernel, sc->guest.kernel) ||
	       default_string(&sb->initrd, sc->guest.initrd) ||
	       default_string(&sb->rootfs, sc->guest.rootfs) ||
	       default_string(&sb->cmdline, sc->guest.cmdline)
		       ? -1
		       : 0;
}

/* The scenario's via: one of its method's ways; the method's steps follow it. */
static int choose_via(struct yf_loader *ld, struct scenario *sc)
{
	struct method *m = &sc->method;
	char ways[256] = "";

	if (!sc->via)
		return 0;
	for (int i = 0; i < m->nvia; i++) {
		if (!strcmp(m->via[i], sc->via)) {
			m->chosen_via = m->via[i];
			return 0;
		}
		snprintf(ways + strlen(ways), sizeof(ways) - strlen(ways), "%s%s", i ? ", " : "",
			 m->via[i]);
	}
	return yf_fail_at(ld, mark_at(sc->via_line, sc->via_column),
			  m->nvia ? "via: the %s method upgrades by %s, not '%s'"
				  : "via: the %s method has one way to upgrade%s, no '%s'",
			  m->name, ways, sc->via);
}

/*
 * The release an x86 kernel image names in its boot header (the boot
 * protocol's kernel_version: "6.1.192-twinbench-b (user@host) #2 ..."),
 * malloc'd; NULL if @path is no such image (or cannot be read).
 */
static char *image_release(const char *path)
{
	unsigned char hdr[0x210];
	char version[128];
	unsigned int at;
	size_t len;
	FILE *f = fopen(path, "rbe");

	if (!f)
		return NULL;
	if (fread(hdr, 1, sizeof(hdr), f) != sizeof(hdr) || memcmp(hdr + 0x202, "HdrS", 4) ||
	    !(at = hdr[0x20e] | (unsigned int)hdr[0x20f] << 8) ||
	    fseek(f, 0x200L + at, SEEK_SET) != 0 ||
	    (len = fread(version, 1, sizeof(version) - 1, f)) == 0) {
		fclose(f);
		return NULL;
	}
	fclose(f);
	version[len] = '\0';
	len = strcspn(version, " ");
	return len && len < sizeof(version) - 1 ? strndup(version, len) : NULL;
}

static int finish_scenario(struct yf_loader *ld, yaml_node_t *root, struct scenario *sc)
{
	if (load_method(ld, sc))
		return -1;
	if (sc->method.downtime_from && !sc->method.no_upgrade && !sc->upgrade.kernel)
		return yf_fail_node(ld, root,
				    "missing required key 'upgrade' at the top level "
				    "(the %s method upgrades; only a method without a downtime "
				    "window goes without one)",
				    sc->method.name);
	if (sc->upgrade.next.kernel && !sc->method.next_after)
		return yf_fail_at(ld, mark_at(sc->upgrade.next.line, sc->upgrade.next.column),
				  "upgrade.next: the %s method has no second round (its method "
				  "file has no next_round)",
				  sc->method.name);
	if (sc->upgrade.next.kernel && sc->guest.nic != NIC_HANDOFF)
		return yf_fail_at(ld, mark_at(sc->upgrade.next.line, sc->upgrade.next.column),
				  "upgrade.next: a second upgrade needs guest.nic: handoff "
				  "(one NIC, handed on from kernel to kernel)");
	if (sc->method.standby && !sc->standby.present)
		return yf_fail_node(ld, root,
				    "missing required key 'standby' at the top level (the %s "
				    "method moves the service to a second guest: 'standby: {}' "
				    "boots one like the primary)",
				    sc->method.name);
	if (!sc->method.standby && sc->standby.present)
		return yf_fail_at(ld, mark_at(sc->standby.line, sc->standby.column),
				  "standby: the %s method has no standby guest (its method file "
				  "has no 'standby: true')",
				  sc->method.name);
	if (choose_via(ld, sc))
		return -1;
	if (check_steps(ld, sc))
		return -1;
	/*
	 * A variant measured apart: "-dual" with two NICs, "-repeat" with a
	 * second round, "-kexec" for a way to upgrade other than the default.
	 */
	snprintf(sc->label, sizeof(sc->label), "%s%s%s%s%s", sc->method.name,
		 sc->guest.nic == NIC_DUAL ? "-dual" : "", sc->upgrade.next.kernel ? "-repeat" : "",
		 sc->via && strcmp(sc->via, sc->method.via[0]) ? "-" : "",
		 sc->via && strcmp(sc->via, sc->method.via[0]) ? sc->via : "");
	if (!sc->guest.cmdline) {
		sc->guest.cmdline = strdup("");
		if (!sc->guest.cmdline)
			return yf_fail_node(ld, root, "out of memory");
	}
	/* Upgrading to the same command line is the common case; say it once. */
	if (sc->upgrade.kernel && !sc->upgrade.cmdline) {
		sc->upgrade.cmdline = strdup(sc->guest.cmdline);
		if (!sc->upgrade.cmdline)
			return yf_fail_node(ld, root, "out of memory");
	}
	if (sc->standby.present && standby_defaults(sc) != 0)
		return yf_fail_node(ld, root, "out of memory");
	/*
	 * Unless the scenario says otherwise, the new kernel must answer with
	 * the release its image names: a boot of another kernel (the old one,
	 * a stale payload) is no upgrade to it.
	 */
	if (sc->upgrade.kernel && !sc->upgrade.release)
		sc->upgrade.release = image_release(sc->upgrade.kernel);
	if (sc->upgrade.next.kernel && !sc->upgrade.next.release)
		sc->upgrade.next.release = image_release(sc->upgrade.next.kernel);
	return 0;
}

/* The scenario at @root of @ld (from yf_open or yf_open_text) into @sc; closes @ld. */
static int scenario_parse(struct yf_loader *ld, yaml_node_t *root, const char *path,
			  struct scenario *sc)
{
	int rc = -1;

	if (!root)
		goto out;
	sc->path = strdup(path);
	if (!sc->path) {
		yf_fail_node(ld, root, "out of memory");
		goto out;
	}
	sc->repetitions = 1;
	sc->guest.memory_mib = 512;
	sc->guest.vcpus = 2;
	sc->service.port = 7777;
	sc->service.interval_ns = NS_PER_MS;
	sc->timeouts.boot_ns = 120 * NS_PER_S;
	sc->timeouts.upgrade_ns = 120 * NS_PER_S;
	sc->timeouts.step_ns = 30 * NS_PER_S;
	if (yf_walk_mapping(ld, root, "", top_fields, ARRAY_SIZE(top_fields), (char *)sc) == 0 &&
	    finish_scenario(ld, root, sc) == 0)
		rc = 0;
out:
	yf_close(ld);
	if (rc != 0)
		scenario_free(sc);
	return rc;
}

int scenario_load(const char *path, struct scenario *sc, struct tb_err *err)
{
	struct yf_loader ld;

	memset(sc, 0, sizeof(*sc));
	return scenario_parse(&ld, yf_open(&ld, path, "scenario", err), path, sc);
}

int scenario_load_text(const char *path, const char *text, size_t len, struct scenario *sc,
		       struct tb_err *err)
{
	struct yf_loader ld;

	memset(sc, 0, sizeof(*sc));
	return scenario_parse(&ld, yf_open_text(&ld, path, text, len, "scenario", err), path, sc);
}

void scenario_free(struct scenario *sc)
{
	if (!sc)
		return;
	free(sc->path);
	free(sc->name);
	free(sc->method_ref);
	free(sc->via);
	method_free(&sc->method);
	free(sc->guest.kernel);
	free(sc->guest.initrd);
	free(sc->guest.rootfs);
	free(sc->guest.cmdline);
	free(sc->standby.kernel);
	free(sc->standby.initrd);
	free(sc->standby.rootfs);
	free(sc->standby.cmdline);
	free(sc->upgrade.kernel);
	free(sc->upgrade.initrd);
	free(sc->upgrade.cmdline);
	free(sc->upgrade.release);
	free(sc->upgrade.next.kernel);
	free(sc->upgrade.next.initrd);
	free(sc->upgrade.next.cmdline);
	free(sc->upgrade.next.release);
	steps_free(sc->steps, sc->nsteps);
	memset(sc, 0, sizeof(*sc));
}
