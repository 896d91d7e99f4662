/*
 * handoff.h - the state block a service hands from kernel A to kernel B
 * through the twin kernels' shared region (/sys/kernel/twin_kernel/state).
 *
 * Kernel A's agent writes it when it stops (state WRITTEN), A's helper marks
 * it READY once the NIC is released, B's agent takes it (state TAKEN, so
 * that it is never taken twice).  Versioned and checksummed: B refuses a
 * block that is missing, corrupt, or stale (taken already, or written by
 * another kernel than the one B was started from).
 */
#ifndef TB_HANDOFF_H
#define TB_HANDOFF_H

#include <stddef.h>
#include <stdint.h>

enum handoff_state { HANDOFF_WRITTEN = 1, HANDOFF_READY = 2, HANDOFF_TAKEN = 3 };

enum handoff_status {
	HANDOFF_OK,
	HANDOFF_MISSING, /* no block: nothing was handed over */
	HANDOFF_CORRUPT, /* wrong checksum or version */
	HANDOFF_STALE,	 /* taken already, or from another kernel */
	HANDOFF_NOT_READY,
	HANDOFF_IO,	 /* the region cannot be read or written */
};

/* Write a block in state @state for @counter, signed with @boot_id. */
int handoff_write(const char *path, enum handoff_state state, uint64_t counter,
		  const char *boot_id);

/*
 * Read and check the block: it must be READY and written by @from_boot (if
 * not NULL).  Fills *@counter; @why says what is wrong otherwise.
 */
enum handoff_status handoff_read(const char *path, const char *from_boot, uint64_t *counter,
				 char *why, size_t len);

/* Move a valid block to @state (READY after the NIC release, TAKEN by B). */
int handoff_mark(const char *path, enum handoff_state state);

/* 1 if the block is valid and TAKEN (B serves from it), 0 if not (yet), -1 on I/O errors. */
int handoff_taken(const char *path);

/* Write a READY block whose checksum does not match: for the refusal test. */
int handoff_corrupt(const char *path);

const char *handoff_status_name(enum handoff_status s);

#endif
