/*
 * migrate.h - moving the service from one guest to another over the lab's
 * network (the migrate method): a small framed protocol on TCP.
 *
 * A frame is "TBMV", a version and a kind (16 bits each), the payload's
 * length (32 bits), the payload, and a CRC-32 of everything before it; big
 * endian on the wire.  A frame whose magic, version, length or checksum is
 * wrong is refused with a reason, never half-believed.
 *
 * The guest that takes the service (the taker) connects to the one that
 * holds it (the holder) and sends PULL with its boot id.  The holder stops
 * answering and sends STATE: the counter, its release and boot id, and
 * the service address.  The taker checks it and answers ACK, or NAK with
 * its reason; on NAK the holder serves on, nothing lost.  On ACK the
 * holder drops the service address and sends RELEASED; the taker then
 * adds the address, announces it (gratuitous ARP) and serves.  The
 * network steps go through struct take_net (takeover.h): rtnetlink in the
 * guest, nothing in the loopback tests.
 */
#ifndef TB_MIGRATE_H
#define TB_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "takeover.h"

enum move_kind { MOVE_PULL = 1, MOVE_STATE, MOVE_ACK, MOVE_NAK, MOVE_RELEASED };

#define MOVE_MAGIC	 "TBMV"
#define MOVE_VERSION	 1
#define MOVE_HEADER	 12 /* magic, version, kind, length */
#define MOVE_MAX_PAYLOAD 512
#define MOVE_MAX_FRAME	 (MOVE_HEADER + MOVE_MAX_PAYLOAD + 4)

/* What moves: the service's state and where it answers. */
struct move_state {
	uint64_t counter;
	char release[65];
	char boot_id[40];
	char service[32]; /* the service address, "10.213.0.12/24"; "" if none moves */
};

/* The holder's steps and the taker's, each on its own kernel's CLOCK_MONOTONIC. */
enum move_give_step { GIVE_PULLED, GIVE_SENT, GIVE_ACKED, GIVE_RELEASED, GIVE_STEPS };
enum move_take_step { TAKE_CONNECTED, TAKE_STATE, TAKE_RELEASED, TAKE_ADDR, TAKE_ARP,
		      TAKE_STEPS_MOVE };

struct mover {
	/* in */
	const struct take_net *net; /* NULL: no address moves (tests on loopback) */
	const char *ifname;	    /* the interface the service address lives on */
	bool corrupt;		    /* fault injection: STATE damaged after its checksum */
	int64_t step_ns;	    /* each wait on the peer gives up after this long */
	/* out */
	char peer_boot[40]; /* the other side's boot id */
	bool refused;	    /* move_take(): the state was bad, and the holder told so */
	int64_t give_ns[GIVE_STEPS];
	int64_t take_ns[TAKE_STEPS_MOVE];
	char why[256];
};

/* CRC-32 (IEEE 802.3) of @len bytes, as zlib's crc32(0, ...) gives it. */
uint32_t move_crc32(const void *data, size_t len);

/* Frame @payload (@len bytes) as @kind into @buf; its length, or -ENOSPC. */
ssize_t move_frame_encode(enum move_kind kind, const void *payload, size_t len, uint8_t *buf,
			  size_t size);

/*
 * The frame at the start of @buf (@len bytes so far): 0 with *@used its
 * length and @kind, @payload (pointing into @buf) and @plen set; -EAGAIN if
 * it is not all there yet; -EPROTO with @why saying what is wrong.
 */
int move_frame_decode(const uint8_t *buf, size_t len, size_t *used, enum move_kind *kind,
		      const uint8_t **payload, size_t *plen, char *why, size_t whylen);

/* STATE's payload: its length, or -ENOSPC; decode: 0, or -EPROTO with @why. */
ssize_t move_state_encode(const struct move_state *st, uint8_t *buf, size_t size);
int move_state_decode(const uint8_t *p, size_t len, struct move_state *st, char *why,
		      size_t whylen);

/*
 * The holder, on a taker's connection @fd: PULL in, STATE out, ACK in, the
 * address dropped, RELEASED out.  0: the service went (serve no more);
 * 1: it stays here (the taker refused it, or went quiet; m->why says
 * which), serve on.
 */
int move_give(struct mover *m, int fd, const struct move_state *st);

/*
 * The taker, on a connection @fd to the holder: PULL out (with @boot_id),
 * STATE in, ACK (or NAK and refuse), RELEASED in, the address added and
 * announced.  0 with @st filled: serve it; -1 with m->why.
 */
int move_take(struct mover *m, int fd, const char *boot_id, struct move_state *st);

/* "pulled=0.000 sent=0.123 ..." (ms from the first step), for the console. */
void move_format_give(const struct mover *m, char *buf, size_t len);
void move_format_take(const struct mover *m, char *buf, size_t len);

#endif
