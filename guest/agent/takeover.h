/*
 * takeover.h - the agents' side of a twin handoff: kernel A's agent gives
 * the service up, kernel B's agent takes it.  Everything between A's last
 * reply and B's first happens here, in the two agents: no fork, no exec, no
 * console output.  What the agents have to say (the breakdown of the
 * handoff, stamped on each kernel's own clock) is printed once B answers.
 *
 * Kernel A (give()): the serving loop has stopped answering (socket
 * closed); the state is written to the shared region, the NIC released
 * (unbound through sysfs; with nic: dual only the address goes, B has a NIC
 * of its own), and only then is the block marked ready: B must not probe a
 * device A's driver still drives, nor add an address A still holds.
 *
 * Kernel B (take_poll(), called by the serving loop between requests): it
 * reads the block; once ready it claims it (handoff_claim(): A, after its
 * bound, may have withdrawn it), takes A's NIC off the PCI skip list and
 * rescans (one NIC) or uses its own (dual), brings the link up, sets the
 * service address and announces it.  A step that fails is undone (the
 * address, the NIC let go of) and the block given back, unless B cannot
 * let go: then B keeps its claim and A waits.  The block is marked taken
 * (take_commit()) once B answered from it: A, waiting for that, speaks on
 * its console and parks, and nothing of A runs in the window but B.  The network
 * steps go through struct take_net (netlink and a packet socket in the
 * guest, fakes in the tests); the sysfs steps go through @sysfs ("/sys",
 * a scratch directory in the tests).
 */
#ifndef TB_TAKEOVER_H
#define TB_TAKEOVER_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "handoff.h"

/*
 * Kernel B's steps, stamped on B's CLOCK_MONOTONIC: seen, NIC found, link
 * up, address, A's neighbours added (none handed over: not stamped), ARP,
 * the first request received, the first reply sent.
 */
enum take_step { B_SEEN, B_NIC, B_LINK, B_ADDR, B_NEIGH, B_ARP, B_REQUEST, B_REPLY, B_STEPS };

/* A corrupt read can be a torn one while A still writes: believe it after this long. */
#define TAKE_CORRUPT_SETTLE_NS 50000000LL
/* A block written but not released for this long: A gave up half-way (it died, or a step failed). */
#define TAKE_NOT_READY_NS 10000000000LL

/* The network steps of a takeover; each returns 0, or -1 with @why filled. */
struct take_net {
	void *ctx;
	/* Block until something may have changed about the links, or @deadline_ns. */
	int (*wait_links)(void *ctx, int64_t deadline_ns);
	/* Bring @ifname up and wait until its link is (carrier), up to @deadline_ns. */
	int (*link_up)(void *ctx, const char *ifname, int64_t deadline_ns, char *why, size_t len);
	/* Give @ifname the address @cidr ("10.213.0.10/24"), or take it away. */
	int (*add_addr)(void *ctx, const char *ifname, const char *cidr, char *why, size_t len);
	int (*del_addr)(void *ctx, const char *ifname, const char *cidr, char *why, size_t len);
	/* Kernel A: the IPv4 neighbours it knows on @ifname, into @nb (none: count 0). */
	void (*neighbours)(void *ctx, const char *ifname, struct handoff_neighbours *nb);
	/* Kernel B: add A's neighbours @nb on @ifname, to be confirmed on use (stale). */
	int (*add_neighbours)(void *ctx, const char *ifname, const struct handoff_neighbours *nb,
			      char *why, size_t len);
	/*
	 * Answer no ARP request on @ifname (@mute: arp_ignore 8), or as before
	 * again: an address held muted is nobody's on the network.
	 */
	int (*arp_mute)(void *ctx, const char *ifname, bool mute, char *why, size_t len);
	/* Say on @ifname's network that @cidr's address lives here now (gratuitous ARP). */
	int (*announce)(void *ctx, const char *ifname, const char *cidr, char *why, size_t len);
	/*
	 * Ask on @ifname's network who holds @cidr's address, from no address
	 * (RFC 5227's probe), and wait for the answer up to @deadline_ns: 1
	 * answered, 0 not, -1 with @why.
	 */
	int (*probe_holder)(void *ctx, const char *ifname, const char *cidr, int64_t deadline_ns,
			    char *why, size_t len);
	/* Keep kernel messages off the console (@quiet) or let them back. */
	void (*console_quiet)(void *ctx, bool quiet);
};

struct taker {
	/* in */
	const char *region;	 /* the state block */
	const char *from_boot;	 /* A's boot id: a block from any other kernel is stale */
	const char *sysfs;	 /* "/sys" */
	const char *nic_bdf;	 /* one NIC: A's, to take over; NULL with own_nic */
	const char *own_nic;	 /* nic: dual: B's own netdev, up since boot */
	bool staged;		 /* own_nic holds cidr already, muted (take_stage()) */
	const char *cidr;	 /* the service address; NULL: none to set */
	int64_t step_timeout_ns; /* for each network step */
	const struct take_net *net;
	const char *hold;	 /* test hook: B claims no block while this file exists */
	const char *fail_hook;	 /* test hook: if it exists, B fails once it has the NIC */
	const char *stall_hook;	 /* test hook: while it exists, B stalls once it has the NIC */
	/* out */
	uint64_t counter;	 /* the service's state, from A */
	int64_t a_ns[A_STEPS];	 /* A's stamps, from the block */
	struct handoff_neighbours neigh; /* A's neighbours, from the block */
	int64_t b_ns[B_STEPS];	 /* ours */
	char ifname[IF_NAMESIZE];
	char why[256];		 /* why refused or failed */
	bool coming;		 /* A has begun: the block is written, not ready yet */
	int64_t coming_since;
	int64_t corrupt_since;
};

enum take_result {
	TAKE_WAITING, /* no ready block (yet) */
	TAKE_DONE,    /* NIC and address taken: serve t->counter on t->ifname, then take_commit() */
	TAKE_REFUSED, /* the block is corrupt or stale: t->why */
	TAKE_FAILED,  /* a step of the takeover failed, and B may hold the NIC: t->why */
	TAKE_RETURNED, /* a step failed (t->why); B let go of all it took and gave the block back */
	TAKE_EXPIRED, /* B's lease ran out, A took the service back: B touches nothing more */
	TAKE_WITHDRAWN, /* A withdrew the block before B claimed it: t->why; nothing touched */
};

/*
 * One look at the block; on a ready block, its claim (CLAIM_B, before
 * anything of A's is touched) and the whole takeover.
 */
enum take_result take_poll(struct taker *t);

/*
 * nic: dual, before any handoff: give B's own NIC the service address
 * muted (it answers no ARP request, so that it is nobody's on the network
 * yet); the handoff then only lets it speak.  0 (t->staged), or -1 with
 * t->why, having left nothing: the handoff sets the address itself.
 */
int take_stage(struct taker *t);

/* Mark the block taken: B serves from it.  0, or -1 with t->why. */
int take_commit(struct taker *t);

struct giver {
	const char *region;
	const char *boot_id;
	const char *sysfs;	 /* "/sys" */
	const char *release_nic; /* the netdev that served, released at the handoff ... */
	bool unbind;		 /* ... by letting go of the PCI function (one NIC), else (dual) by ... */
	const char *cidr;	 /* ... taking this address off it (NULL: neither) */
	const struct take_net *net;
	bool corrupt;		 /* publish a damaged block (the refusal test) */
	int64_t a_ns[A_STEPS];	 /* A_REQUEST and A_STOPPED set by the caller */
	struct handoff_neighbours neigh; /* release_nic's, for B */
	bool muted;		 /* dual: cidr kept on release_nic, muted, until B took it */
	char why[256];
	/* out: the NIC released and its driver, for give_back() */
	char bdf[64], driver[64];
	bool released;		 /* by twin_kernel/release: its driver still bound */
};

/*
 * Before the window, best effort: look up what give() needs of the NIC
 * @nic it will release (its PCI function, its driver) and open @sysfs's
 * kernel/twin_kernel/release; give() looks them up itself otherwise.
 * @nic NULL: forget what was looked up.
 */
void give_prepare(const char *sysfs, const char *nic);

/* Write the state, release the NIC, mark the block ready; 0 or -1 with g->why. */
int give(struct giver *g, uint64_t counter);

/*
 * After kernel B took the block: what give() kept muted (dual) goes, the
 * address off A's NIC and its ARP as it was.  0, or -1 with g->why.
 */
int give_finish(struct giver *g);

/*
 * Undo give() once kernel B refused the block, or A withdrew it (before B
 * touched the NIC):
 * bind the NIC to its driver again (unbound first if it was released with
 * its driver bound) and wait for its netdev (one NIC), bring
 * the link up, put the address back (g->cidr) and announce it.  The netdev
 * that serves again in @ifname.  0, or -1 with g->why.
 */
int give_back(struct giver *g, int64_t step_timeout_ns, char *ifname, size_t len);

/*
 * Wait until kernel B took the block, polling every @poll_ns: 1 once taken,
 * 0 when @deadline_ns passed, -1 on I/O errors.
 */
int give_wait_taken(const char *region, int64_t poll_ns, int64_t deadline_ns);

/*
 * The same, for the giver: HANDOFF_TAKEN, HANDOFF_REFUSED (B refused the
 * block A wrote, A's @boot_id), HANDOFF_WITHDRAWN (B had not claimed it by
 * @claim_deadline_ns, and A's claim won: B will not touch it),
 * HANDOFF_RETURNED (B failed and let go), HANDOFF_EXPIRED (B claimed it
 * but neither served from it nor gave it back within @lease_ns of its
 * claim, and A's claim won: a dead B), 0 when @deadline_ns passed, -1 on
 * I/O errors.  @claim_deadline_ns, @lease_ns 0: never withdraw, no lease.
 */
int give_wait(const char *region, const char *boot_id, int64_t poll_ns, int64_t claim_deadline_ns,
	      int64_t lease_ns, int64_t deadline_ns);

/* "request=0 stopped=N ..." (ns from the first stamp) for @n stamps named by @name. */
void takeover_format_stamps(const int64_t *ns, int n, const char *(*name)(int), char *buf,
			    size_t len);

const char *take_step_name(int i);

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t takeover_now(void);

/* Sleep @ns nanoseconds (on, across signals). */
void takeover_sleep(int64_t ns);

/* Wait until @fd has something for us (or room, @out), up to @deadline_ns; 0 or -ETIMEDOUT. */
int takeover_wait_fd(int fd, bool out, int64_t deadline_ns);

/* The first line of @path, without its newline, into @buf; 0, or -1. */
int read_first_line(const char *path, char *buf, size_t len);

/* Write @text to the sysfs attribute @path in one write(2); 0 or -1 with @why. */
int sysfs_write(const char *path, const char *text, char *why, size_t len);

/*
 * Take PCI device @bdf off @sysfs's skip list (bus/pci/skip: a
 * comma-separated list of addresses), or (@add) put it back at its end.
 */
int pci_skip_edit(const char *sysfs, const char *bdf, bool add, char *why, size_t len);

/*
 * Open what a handoff writes to in the kernel's knobs (@sysfs's
 * kernel/rcu_expedited) beforehand, outside the handoff's window; a
 * handoff opens it itself otherwise.
 */
void takeover_prepare(const char *sysfs);

#endif
