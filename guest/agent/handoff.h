/*
 * handoff.h - the state block a service hands from kernel A to kernel B
 * through the twin kernels' shared region (/sys/kernel/twin_kernel/state).
 *
 * Kernel A's agent writes it when it stops serving (state WRITTEN) and
 * again, READY, once it released the NIC; B's agent claims it before it
 * touches anything of A's, then takes it (state TAKEN, so that it is never
 * taken twice) or, before it claimed it, refuses it (state REFUSED); A,
 * when B has not claimed it within a bound, withdraws it (the claim word).
 * B that fails after its claim lets go of what it took and gives the block
 * back (the claim word again); B that neither serves (claim "live") nor
 * gives back within its lease (a B that died) loses the block to A.  Refused, withdrawn or given back, A takes
 * its NIC back and serves on.  Versioned and
 * checksummed: B refuses
 * a block that is missing, corrupt, or stale (taken already, or written by
 * another kernel than the one B was started from).  The block carries A's
 * steps, stamped on A's clock, for the breakdown of the handoff.
 */
#ifndef TB_HANDOFF_H
#define TB_HANDOFF_H

#include <stddef.h>
#include <stdint.h>

enum handoff_state {
	HANDOFF_WRITTEN = 1,
	HANDOFF_READY = 2,
	HANDOFF_TAKEN = 3,
	HANDOFF_REFUSED = 4,
	HANDOFF_WITHDRAWN = 5, /* not a state: handoff_outcome()'s "A withdrew the block" */
	HANDOFF_RETURNED = 6,  /* not a state: handoff_outcome()'s "B gave the block back" */
	HANDOFF_EXPIRED = 7,   /* not a state: handoff_outcome()'s "B's lease ran out" */
};

/*
 * Who a READY block belongs to: a word of its own, outside the checksum,
 * changed only by one compare-and-exchange on the mapped region (the
 * kernel's state file can be mapped), so that of kernel B taking the block
 * and kernel A giving up on B exactly one wins.  A block is written open.
 */
enum handoff_claim {
	CLAIM_OPEN = 0,
	CLAIM_B = 1,	     /* B begins to take it: A waits for TAKEN */
	CLAIM_WITHDRAWN = 2, /* A gave up on B and serves on: B must not touch it */
	CLAIM_RETURNED = 3,  /* B claimed it, failed, and let go of all it took: A serves on */
	CLAIM_LIVE = 4,	     /* B serves from it: only B ends the handoff now */
	CLAIM_EXPIRED = 5,   /* B's lease ran out before it served: A took the service back */
};

/*
 * Kernel A's steps of a handoff, in order, stamped in nanoseconds of A's
 * CLOCK_MONOTONIC (0: not reached): the request, the last reply (the
 * socket closed), the state written, the NIC released, the block ready.
 */
enum handoff_a_step { A_REQUEST, A_STOPPED, A_WRITTEN, A_RELEASED, A_READY, A_STEPS };

/* At most this many of the service NIC's neighbours cross with the state. */
#define HANDOFF_NEIGH_MAX 8

/*
 * The service NIC's IPv4 neighbours as kernel A knew them (address and
 * MAC, network order): kernel B adds them before it announces the
 * address, so that its first reply waits for no ARP exchange of its own.
 */
struct handoff_neighbours {
	uint32_t count;
	struct handoff_neighbour {
		uint8_t ip[4];
		uint8_t mac[6];
		uint8_t pad[2];
	} e[HANDOFF_NEIGH_MAX];
};

enum handoff_status {
	HANDOFF_OK,
	HANDOFF_MISSING, /* no block: nothing was handed over */
	HANDOFF_CORRUPT, /* wrong checksum or version */
	HANDOFF_STALE,	 /* taken already, or from another kernel */
	HANDOFF_NOT_READY,
	HANDOFF_IO,	 /* the region cannot be read or written */
};

/*
 * Map the region @path now (0, or -1 when it cannot be): the handoff's
 * reads and writes then cost no open of it.  The first use maps it
 * otherwise.  It also fills a block once, in scratch: under TCG the
 * handoff's own fill is then not the first run of that code.
 */
int handoff_map(const char *path);

/*
 * Write a block in state @state for @counter, signed with @boot_id, with
 * A's stamps @a_ns[A_STEPS] and neighbours @nb (NULL: none).
 */
int handoff_write(const char *path, enum handoff_state state, uint64_t counter,
		  const char *boot_id, const int64_t *a_ns, const struct handoff_neighbours *nb);

/*
 * Read and check the block: it must be READY and written by @from_boot (if
 * not NULL).  Fills *@counter and, if not NULL, @a_ns[A_STEPS] and @nb;
 * @why says what is wrong otherwise.
 */
enum handoff_status handoff_read(const char *path, const char *from_boot, uint64_t *counter,
				 int64_t *a_ns, struct handoff_neighbours *nb, char *why,
				 size_t len);

/* Move a valid block to @state (READY after the NIC release, TAKEN by B). */
int handoff_mark(const char *path, enum handoff_state state);

/* 1 if the block is valid and TAKEN (B serves from it), 0 if not (yet), -1 on I/O errors. */
int handoff_taken(const char *path);

/*
 * How the handoff ended, for kernel A: HANDOFF_TAKEN or HANDOFF_REFUSED
 * (a valid block in that state; a refusal only if it names @boot_id, A's;
 * NULL: none looked at), HANDOFF_WITHDRAWN (A's block, withdrawn by A),
 * HANDOFF_RETURNED (A's block, given back by B), HANDOFF_EXPIRED (A's
 * block, taken back by A when B's lease ran out), 0 if none of them (yet),
 * -1 on I/O errors.  *@claim (if not NULL): the block's claim word.
 */
int handoff_outcome(const char *path, const char *boot_id, uint32_t *claim);

/*
 * Move the block's claim from @from to @to (open to CLAIM_B or
 * CLAIM_WITHDRAWN; CLAIM_B to CLAIM_RETURNED) in one atomic
 * compare-and-exchange on the mapped region: 1 if this caller won, 0 if
 * the claim was not @from (*@was, if not NULL, says what it was), -1 if
 * the region cannot be mapped.
 */
int handoff_claim(const char *path, enum handoff_claim from, enum handoff_claim to,
		  uint32_t *was);

/*
 * Kernel B refuses the handoff: a valid REFUSED block in place of whatever
 * is there (a corrupt block cannot be marked), signed with A's @boot_id.
 */
int handoff_refuse(const char *path, const char *boot_id);

/* Write a READY block whose checksum does not match: for the refusal test. */
int handoff_corrupt(const char *path);

const char *handoff_status_name(enum handoff_status s);

/* The name of A's step @i in the breakdown line ("request", "stopped", ...). */
const char *handoff_a_step_name(int i);

#endif
