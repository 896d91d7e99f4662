/*
 * lab.h - the embedded lab: an isolated place on this machine where guests
 * run.
 *
 * A network namespace holds a bridge (the guests' network) and a private
 * libvirtd + virtlogd, started in a private mount namespace so that their
 * state, logs and configuration never touch the host's libvirt.  A second
 * pair beside it, with its own state and host UUID, is a second libvirt
 * host in the same lab: a guest can be live-migrated between the two
 * (the vm-migrate method).  Guests'
 * taps, telnet console ports and the probe all live inside the namespace;
 * nothing listens on, or sends to, the host's own network.
 *
 * With an external libvirt (--connect URI) the lab is "borrowed": sockets
 * are made in the caller's own namespace and guests attach to the libvirt
 * network the user names (--network NAME).
 *
 * One lab serves every run on the machine.  Bringing it up and taking it
 * down happen under a lock (LAB_STATE_DIR/lab.lock), and each run counts
 * itself among the lab's users (LAB_STATE_DIR/users/PID) for as long as it
 * uses it.  Who takes the lab down:
 *   - `twinbench lab up` makes the lab the user's: it stays up until
 *     `twinbench lab down`, whatever runs come and go;
 *   - a lab a run brought up is the runs': the last live run to leave takes
 *     it down, unless a run leaves with --keep-lab, which makes it the
 *     user's as `lab up` would;
 *   - a lab of unknown origin (up before this bookkeeping existed) stays up;
 *   - `twinbench lab down` refuses while live runs use the lab, since it
 *     would kill their guests (--force takes it down all the same).
 * A run that dies leaves its record behind; it is recognised as dead by its
 * PID and start time, and ignored.  What else it left (console relay
 * sockets, its work directory) is removed by lab_reap_dead_runs().
 */
#ifndef TB_LAB_H
#define TB_LAB_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "error.h"

/* What outlives one process: the lock, the users, the lab's owner (not removed by lab down). */
#define LAB_STATE_DIR "/run/twinbench"

#define LAB_NETNS    "twinbench"
#define LAB_DIR	     LAB_STATE_DIR "/lab"
#define LAB_BRIDGE   "tbbr0"
#define LAB_HOST_IP  "10.213.0.1" /* the lab side of the bridge, inside the namespace */
#define LAB_PREFIX   24
#define LAB_SOCKET   LAB_DIR "/libvirt-sock"
/* What the lab's QEMUs print, one DOMAIN.log each (libvirt's /var/log/libvirt/qemu). */
#define LAB_QEMU_LOG_DIR LAB_DIR "/log/qemu"
#define LAB_URI	     "qemu:///system?socket=" LAB_SOCKET
/* The lab's second libvirt host: the same layout under LAB_HOST2_DIR. */
#define LAB_HOST2_DIR	       LAB_DIR "/host2"
#define LAB_SOCKET2	       LAB_HOST2_DIR "/libvirt-sock"
#define LAB_URI2	       "qemu:///system?socket=" LAB_SOCKET2
#define LAB_QEMU_LOG_DIR2      LAB_HOST2_DIR "/log/qemu"
#define LAB_MAX_SLOT 200 /* guests at 10.213.0.(10 + slot) */
/* Where a run lets `twinbench console` watch its guests: DOMAIN-a.sock, DOMAIN-b.sock. */
#define CONSOLE_RELAY_DIR LAB_STATE_DIR "/consoles"

enum lab_state {
	LAB_ABSENT, /* nothing of a lab exists */
	LAB_UP,	    /* namespace, bridge and both daemons alive */
	LAB_STALE,  /* parts left behind by a killed run */
};

struct lab {
	bool external;	  /* --connect: someone else's libvirt */
	char uri[512];	  /* libvirt connection URI */
	char uri2[512];	  /* the lab's second libvirt host; "" for an external libvirt */
	char bridge[64];  /* embedded lab: bridge the guests' NICs attach to */
	char network[64]; /* external: libvirt network the guests' NICs attach to */
	bool started_now; /* lab_acquire() brought it up */
	bool registered;  /* lab_acquire() counted this process among the lab's users */
};

enum lab_state lab_state(void);

/*
 * `twinbench lab up`: bring the embedded lab up (cleaning a stale one and
 * what dead runs left first); idempotent.  The lab is then the user's: no
 * run takes it down.
 */
int lab_up(struct tb_err *err);

/*
 * `twinbench lab down`: remove everything (domains, daemons, taps, the
 * namespace, LAB_DIR) and what dead runs left.  Refuses, with TB_EXIT_ENV
 * and a message naming their PIDs, while live runs use the lab.
 */
int lab_down(struct tb_err *err);

/* `twinbench lab down --force`: lab_down() even while runs use the lab; their guests die. */
int lab_down_force(struct tb_err *err);

/* Print what exists of the lab; returns its state. */
enum lab_state lab_status(FILE *out);

/*
 * For `run`, at its start: with @uri NULL use the embedded lab, counting this
 * process among its users, removing what dead runs left
 * (lab_reap_dead_runs()) and bringing the lab up when it is absent or stale;
 * else use the external libvirt at @uri, guests on the libvirt network
 * @network (no bookkeeping).  On failure too, call lab_release(): a lab
 * half brought up is taken down there.
 */
int lab_acquire(struct lab *lab, const char *uri, const char *network, struct tb_err *err);

/*
 * For `run`, when it is done with the lab (normal end, failure, or its signal
 * thread): stop counting this process among the lab's users, and take the
 * lab down if this was the last live user, a run brought the lab up and
 * @keep (--keep-lab) is false.  With @keep the lab stays up for good, as
 * after `twinbench lab up`.  A no-op for an external lab or when not
 * acquired; a second call does nothing.  Not to be called from two threads
 * at once.
 */
int lab_release(struct lab *lab, bool keep, struct tb_err *err);

/*
 * Remove what runs that died left, which nobody else removes: their console
 * relay sockets (CONSOLE_RELAY_DIR/tb-PID-*), their work directories
 * ($TMPDIR or /var/tmp, named twinbench-PID-XXXXXX) and their user records.
 * Their domains are virt_reap_orphans()' job.  Called by lab_acquire(),
 * lab_up() and lab_down(), under the lab lock; needs no lab.
 */
void lab_reap_dead_runs(void);

/*
 * Process @pid's command line, its arguments joined by spaces, into @buf
 * (@len bytes, cut there); 0, or -1 if it cannot be read (gone).  A zombie's
 * is empty.
 */
int lab_process_cmdline(int pid, char *buf, size_t len);

/*
 * Kill the QEMUs of run @pid's guests (domains "tb-PID-…") in the embedded
 * lab, without libvirt: for when its daemon went away and they run on
 * alone.  Waits up to 5 s for them to go; returns how many are left.
 */
int lab_kill_guests(const struct lab *lab, pid_t pid);

/* A socket(2) made inside the lab's network namespace (or here, if external). */
int lab_socket(const struct lab *lab, int domain, int type, struct tb_err *err);

/* Connect a TCP socket to 127.0.0.1:@port inside the lab; fd or -errno. */
int lab_dial_loopback(const struct lab *lab, int port);

/* A TCP port on the lab's loopback nobody listens on now; -1 on error. */
int lab_free_port(const struct lab *lab, struct tb_err *err);

/* How many times lab_with_free_ports() starts a thing whose ports were taken. */
#define LAB_PORT_ATTEMPTS 3

/*
 * Start something that binds ports lab_free_port() chose (a guest's console
 * servers): another process can take a port between the choice and the
 * bind.  @start returns 0, another negative code on failure, or -EADDRINUSE
 * when a port was taken: then @repick chooses new ports and @start runs
 * again, up to LAB_PORT_ATTEMPTS times in all.  Returns 0 or -1 with @err
 * set (by @start, or naming the attempts).
 */
int lab_with_free_ports(int (*start)(void *arg, struct tb_err *err),
			int (*repick)(void *arg, struct tb_err *err), void *arg,
			struct tb_err *err);

/*
 * Reserve a guest slot (address 10.213.0.(10+slot), MAC 52:54:00:d5:00:slot)
 * for this process.  Returns the lease: a locked file descriptor whose
 * closing (lab_release_slot, or the process dying) frees the slot.
 */
int lab_claim_slot(int *slot, struct tb_err *err);
void lab_release_slot(int lease);

/*
 * The bookkeeping behind lab_acquire(), lab_release(), lab_up() and
 * lab_down(), on a state directory @dir: LAB_STATE_DIR for the lab, a
 * scratch directory in tests.
 */

/*
 * Take the lock @dir/lab.lock, waiting until @deadline_ns (CLOCK_MONOTONIC)
 * at most.  Returns the lock (a descriptor for lab_unlock()), or -1 with
 * @err naming the process that holds it.
 */
int lab_lock(const char *dir, int64_t deadline_ns, struct tb_err *err);
void lab_unlock(int lock);

/*
 * Count @pid among the lab's users: @dir/users/PID holds "PID START\n", START
 * being the process's start time (field 22 of /proc/PID/stat), so that
 * another process given the same PID later is not taken for it.
 */
int lab_users_join(const char *dir, pid_t pid, struct tb_err *err);

/*
 * @pid is done with the lab: remove its record and those of dead users.
 * With @keep the lab becomes the user's (lab_set_owner(@dir, 0)).  True if
 * the caller must take the lab down: no live user is left and a run brought
 * the lab up.
 */
bool lab_users_leave(const char *dir, pid_t pid, bool keep);

/*
 * How many live processes use the lab, their PIDs in @pids (at most @max).
 * A user whose process is gone, a zombie or a different process with its
 * PID does not count.
 */
int lab_users_alive(const char *dir, pid_t *pids, int max);

/*
 * Whose the lab is, in @dir/lab.owner: @run > 0 says run @run brought it up
 * (the last run to leave takes it down); 0 says it is the user's.
 */
int lab_set_owner(const char *dir, pid_t run, struct tb_err *err);

/* The run that brought the lab up, or 0: the user's, or unknown. */
pid_t lab_owner(const char *dir);

/*
 * lab_reap_dead_runs() on @dir (its users/ and consoles/) and on the
 * directories @work_parents (NULL-terminated) where runs make their work
 * directories.  Returns how many relay sockets and work directories it
 * removed.
 */
int lab_reap_dead_runs_in(const char *dir, const char *const work_parents[]);

#endif
