/*
 * results.h - a run's results directory and its run.json.
 *
 * results/<YYYYmmdd-HHMMSS>-<scenario>/ holds run.json, console-a.log,
 * console-b.log, probe.csv and domain.xml.  run.json is rewritten
 * atomically (temp file, fsync, rename, fsync of the directory) after every
 * repetition, so a crash in repetition 4 keeps repetitions 1-3.
 *
 * Times in run.json are integer nanoseconds of the host's CLOCK_MONOTONIC
 * ("t_ns") or durations in nanoseconds ("*_ns").
 *
 * Its "environment" says what was booted, in which guest:
 *   "guest":  { "memory_mib": 512, "vcpus": 2 },
 *   "images": { "kernel_old": { "path": ..., "sha256": ..., "initrd_bytes": N },
 *               "kernel_new": { ... }, "rootfs": "PATH sha256:HEX" }
 * Both objects are optional on load: a run.json written before them loads
 * with zeros and empty strings there.
 */
#ifndef TB_RESULTS_H
#define TB_RESULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* A chain of twin upgrades records 29; every phase of a method file must fit. */
#define RESULTS_MAX_PHASES 64

struct phase {
	char name[40];
	int64_t t_ns;
};

/* One handoff of a chain of twin upgrades (upgrade.next: A -> B, then B -> C). */
struct handoff_round {
	bool measured, verified;
	int64_t downtime_ns;
	uint64_t counter_before, counter_after;
	char release_before[65], release_after[65];
	char boot_id_before[40], boot_id_after[40];
};

#define RESULTS_MAX_ROUNDS 2

/* Steps of one side of a handoff breakdown ("request", "stopped", ...). */
#define BREAKDOWN_MAX_STEPS 8

/* One kernel's steps of a twin handoff, stamped on its own clock. */
struct breakdown_side {
	int nsteps;
	char name[BREAKDOWN_MAX_STEPS][16];
	int64_t ns[BREAKDOWN_MAX_STEPS]; /* from the side's first step */
};

/*
 * Where the time of a twin handoff went, as both agents stamped it
 * (guest/agent/takeover.h): kernel A's steps on A's clock, kernel B's on
 * B's; then B's takeover of the rest of A (guest/agent/takerest.h: A's
 * CPUs, memory, console), on B's clock, none (nsteps 0) if B did not say.
 * The clocks are two kernels' CLOCK_MONOTONIC: only differences within
 * one side mean anything.
 */
struct handoff_breakdown {
	struct breakdown_side a, b, rest;
};

/* A tool's own figures of one repetition: at most this many tools, and keys each. */
#define RESULTS_MAX_TOOL_STATS 8
#define TOOL_STATS_MAX_KEYS    16

/*
 * What a tool the method runs measured itself, as the tool names and
 * counts it: CRIU's stats-dump and stats-restore images ("criu-dump",
 * "criu-restore"; times in microseconds, pages counted) and libvirt's
 * figures of a live migration ("libvirt-migration"; milliseconds, bytes),
 * beside the probe's view.  toolstats.h reads them off the console.
 */
struct tool_stats {
	char name[24];
	int n;
	char key[TOOL_STATS_MAX_KEYS][32];
	int64_t value[TOOL_STATS_MAX_KEYS];
};

/* Gaps listed per repetition (the longest); more are counted and summed, not listed. */
#define RESULTS_MAX_GAPS 64

/* One silence of the service longer than PROBE_GAP_INTERVALS probe intervals. */
struct rep_gap {
	int64_t start_ns, end_ns; /* last reply before, first reply after (open: the end) */
	bool open;		  /* the service had not answered again when the repetition ended */
	char phase[40];		  /* the last phase recorded at or before its start */
};

struct repetition {
	int index; /* 1-based */
	bool ok;   /* every step passed and the upgrade was verified */
	char error[4096]; /* why not ok, "" if ok */
	struct phase phases[RESULTS_MAX_PHASES];
	int nphases;
	/* the probe's view (probe_analyse / probe_verify) */
	bool measured; /* a gap was found: downtime and the fields below are meaningful */
	int64_t downtime_ns;
	uint64_t sent, lost;
	bool verified, boot_changed, release_ok, state_continued;
	char release_before[65], release_after[65];
	char boot_id_before[40], boot_id_after[40];
	uint64_t counter_before, counter_after;
	int64_t maintenance_ns; /* upgrade start to service back on the new kernel, 0 if unknown */
	bool alive_at_end;	/* the service answered when the repetition ended */
	/*
	 * With a standby guest (migrate): how long the spare ran, from its
	 * start to the service back on the upgraded primary; 0 without one.
	 */
	int64_t standby_ns;
	/* `uname -r` as answered on console a and b (twin-boot), "" if not asked */
	char console_release[2][65];
	/* What kernel B held after a twin takeover, 0 if there was none */
	int takeover_cpus;
	int64_t takeover_memtotal_kb;
	/*
	 * upgrade.next: each handoff on its own (nrounds 0 otherwise).  The
	 * fields above then cover the chain: the longest of the gaps, A's
	 * state before the first and the last kernel's after the last.
	 */
	struct handoff_round rounds[RESULTS_MAX_ROUNDS];
	int nrounds;
	/*
	 * Every gap from the upgrade's start (the method's maintenance window,
	 * else its downtime window) to the end of the repetition: the
	 * RESULTS_MAX_GAPS longest listed in time order, all of them counted in
	 * gaps_found and summed in unavailable_ns.
	 */
	struct rep_gap gaps[RESULTS_MAX_GAPS];
	int ngaps, gaps_found;
	int64_t unavailable_ns;
	/*
	 * The method's quiet window (its quiet step, before the upgrade
	 * starts): the service alone, nothing else running.  Its gaps (as
	 * above, none of them in the list) are what this host does to the
	 * service on its own, the floor the upgrade's are read against.
	 * quiet_ns 0: the repetition had none.
	 */
	int64_t quiet_from_ns, quiet_ns;
	int quiet_gaps;
	int64_t quiet_longest_ns;
	/* The probe's achieved send interval over the repetition; 0 if unknown. */
	int64_t interval_median_ns, interval_p99_ns;
	/* run --capture: the downtime a packet capture on the lab bridge shows. */
	bool captured;		     /* the capture was analysed: the two below hold */
	int64_t capture_downtime_ns;
	bool capture_agrees;	     /* within one probe interval of downtime_ns */
	char capture_note[256];	     /* why there is no figure, or what it warns of; "" */
	/* Connections to console a and b after the first (console_reconnects()). */
	int console_reconnects[2];
	/* Each handoff's breakdown, in order (a chain has one per round). */
	struct handoff_breakdown breakdowns[RESULTS_MAX_ROUNDS];
	int nbreakdowns;
	/* The tools' own figures (kexec-criu: CRIU's), in the order they came. */
	struct tool_stats tool_stats[RESULTS_MAX_TOOL_STATS];
	int ntool_stats;
};

/*
 * A kernel as the runner booted it.  The release (run_info.kernel_old/new)
 * says what the guest reported; this says which files those were.
 */
struct run_kernel {
	char image[1024];     /* path of the kernel image, as given to QEMU; "" if not recorded */
	char sha256[65];      /* of the image: 64 lowercase hex digits, "" if not recorded */
	int64_t initrd_bytes; /* size of its initrd, 0: none (or not recorded) */
};

struct run_info {
	char scenario[128];	  /* scenario name */
	char scenario_path[1024]; /* as given */
	char method[32];
	char method_file[1024];	  /* the method file that ran, "" if unknown */
	char started[32];	  /* UTC, ISO 8601 */
	char accel[8];		  /* kvm | tcg */
	char qemu_version[32];
	char libvirt_version[32];
	char host_kernel[128];
	char kernel_old[65];	  /* release of kernel A as the agent reported it, "" if unknown */
	char kernel_new[65];
	int64_t probe_interval_ns;
	int repetitions;	  /* planned */
	/*
	 * What was booted, and in how big a guest: a report pools only runs
	 * that agree on these.  0 / "" when not recorded (run.json written
	 * before they were).
	 */
	int guest_memory_mib;
	int guest_vcpus;
	int standby_memory_mib; /* the standby guest's size; 0: there was none */
	int standby_vcpus;
	struct run_kernel boot_old; /* kernel A */
	struct run_kernel boot_new; /* the upgrade's kernel (B for twin methods) */
	/*
	 * The root disk image: its path, a space, "sha256:" and the 64 hex
	 * digits of its content ("/x/images/rootfs.img sha256:3f2a..."); only
	 * the path if it was not hashed, "" if the guest has none.  Its base
	 * image is never written to (each repetition boots a fresh overlay),
	 * so one hash stands for every repetition.
	 */
	char rootfs[1200];
};

/* What a table row or run.json's "summary" says about a set of repetitions. */
struct results_summary {
	int repetitions, ok, verified;
	int measured;			/* repetitions with a downtime; the rest below is over them */
	int64_t median_ns, min_ns, max_ns; /* stats.h's, rounded to the nanosecond */
};

/* Compute @out from scratch over @reps[0..@n); 0, or -ENOMEM. */
int results_summarise(const struct repetition *reps, size_t n, struct results_summary *out);

struct results;

/*
 * Make a new directory under @base ("results") named after the start time
 * and @info->scenario, and write an initial run.json.
 */
struct results *results_create(const char *base, const struct run_info *info,
			       struct tb_err *err);

const char *results_dir(const struct results *r);

/* Update the run's info (e.g. kernel releases learnt later) and rewrite run.json. */
int results_set_info(struct results *r, const struct run_info *info, struct tb_err *err);

/* Append one repetition and rewrite run.json (atomically, fsynced). */
int results_add(struct results *r, const struct repetition *rep, struct tb_err *err);

void results_close(struct results *r);

/* Add a phase to @rep (ignored beyond RESULTS_MAX_PHASES); returns its index or -1. */
int repetition_mark(struct repetition *rep, const char *name, int64_t t_ns);

/* Set phase @name to @t_ns, adding it if it is not recorded yet; as repetition_mark. */
int repetition_set(struct repetition *rep, const char *name, int64_t t_ns);

/* The time of phase @name, or -1 if not recorded. */
int64_t repetition_phase(const struct repetition *rep, const char *name);

/*
 * The largest run.json that is read: one takes a few kilobytes per
 * repetition, so this is thousands of them; anything bigger is not one.
 */
#define RESULTS_JSON_MAX_BYTES (64 << 20)

/*
 * Read a run.json back.  *@reps is malloc'd (caller frees).  Errors name the
 * file (and line:column for malformed JSON) with TB_EXIT_USAGE.
 */
int results_load(const char *run_json, struct run_info *info, struct repetition **reps,
		 size_t *n, struct tb_err *err);

/* Write run.json for @info and @reps to @path (what results_add does; exposed for tests). */
int results_write_json(const char *path, const struct run_info *info,
		       const struct repetition *reps, size_t n, struct tb_err *err);

#endif
