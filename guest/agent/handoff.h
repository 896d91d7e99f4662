/*
 * handoff.h - the state block a service hands from kernel A to kernel B
 * through the twin kernels' shared region (/sys/kernel/twin_kernel/state).
 *
 * Kernel A's agent writes it when it stops serving (state WRITTEN) and
 * again, READY, once it released the NIC; B's agent takes it (state TAKEN,
 * so that it is never taken twice) or, before it touched anything of A's,
 * refuses it (state REFUSED): A then takes its NIC back and serves on.  Versioned and checksummed: B refuses
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
};

/*
 * Kernel A's steps of a handoff, in order, stamped in nanoseconds of A's
 * CLOCK_MONOTONIC (0: not reached): the request, the last reply (the
 * socket closed), the state written, the NIC released, the block ready.
 */
enum handoff_a_step { A_REQUEST, A_STOPPED, A_WRITTEN, A_RELEASED, A_READY, A_STEPS };

enum handoff_status {
	HANDOFF_OK,
	HANDOFF_MISSING, /* no block: nothing was handed over */
	HANDOFF_CORRUPT, /* wrong checksum or version */
	HANDOFF_STALE,	 /* taken already, or from another kernel */
	HANDOFF_NOT_READY,
	HANDOFF_IO,	 /* the region cannot be read or written */
};

/*
 * Write a block in state @state for @counter, signed with @boot_id, with
 * A's stamps @a_ns[A_STEPS] (NULL: none).
 */
int handoff_write(const char *path, enum handoff_state state, uint64_t counter,
		  const char *boot_id, const int64_t *a_ns);

/*
 * Read and check the block: it must be READY and written by @from_boot (if
 * not NULL).  Fills *@counter and, if not NULL, @a_ns[A_STEPS]; @why says
 * what is wrong otherwise.
 */
enum handoff_status handoff_read(const char *path, const char *from_boot, uint64_t *counter,
				 int64_t *a_ns, char *why, size_t len);

/* Move a valid block to @state (READY after the NIC release, TAKEN by B). */
int handoff_mark(const char *path, enum handoff_state state);

/* 1 if the block is valid and TAKEN (B serves from it), 0 if not (yet), -1 on I/O errors. */
int handoff_taken(const char *path);

/*
 * How the handoff ended, for kernel A: HANDOFF_TAKEN or HANDOFF_REFUSED
 * (a valid block in that state; a refusal only if it names @boot_id, A's;
 * NULL: none looked at),
 * 0 if neither (yet), -1 on I/O errors.
 */
int handoff_outcome(const char *path, const char *boot_id);

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
