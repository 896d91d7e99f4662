/* migrate.c - the service moved between guests over TCP, framed and checksummed (migrate.h). */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "migrate.h"

uint32_t move_crc32(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t crc = 0xffffffffu;

	/* Bit by bit: a frame is a few hundred bytes, a table would be the bigger cost. */
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
	}
	return ~crc;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

ssize_t move_frame_encode(enum move_kind kind, const void *payload, size_t len, uint8_t *buf,
			  size_t size)
{
	if (len > MOVE_MAX_PAYLOAD || size < MOVE_HEADER + len + 4)
		return -ENOSPC;
	memcpy(buf, MOVE_MAGIC, 4);
	put16(buf + 4, MOVE_VERSION);
	put16(buf + 6, (uint16_t)kind);
	put32(buf + 8, (uint32_t)len);
	if (len)
		memcpy(buf + MOVE_HEADER, payload, len);
	put32(buf + MOVE_HEADER + len, move_crc32(buf, MOVE_HEADER + len));
	return (ssize_t)(MOVE_HEADER + len + 4);
}

int move_frame_decode(const uint8_t *buf, size_t len, size_t *used, enum move_kind *kind,
		      const uint8_t **payload, size_t *plen, char *why, size_t whylen)
{
	uint32_t n, sum;

	/* What is there is judged as soon as it can be: a wrong magic needs no more bytes. */
	if (len >= 4 && memcmp(buf, MOVE_MAGIC, 4)) {
		snprintf(why, whylen, "not a twinbench move frame (bad magic)");
		return -EPROTO;
	}
	if (len >= 6 && get16(buf + 4) != MOVE_VERSION) {
		snprintf(why, whylen, "unsupported frame version %u (this agent speaks %u)",
			 get16(buf + 4), MOVE_VERSION);
		return -EPROTO;
	}
	if (len < MOVE_HEADER)
		return -EAGAIN;
	n = get32(buf + 8);
	if (n > MOVE_MAX_PAYLOAD) {
		snprintf(why, whylen, "frame of %" PRIu32 " bytes (at most %d)", n,
			 MOVE_MAX_PAYLOAD);
		return -EPROTO;
	}
	if (len < MOVE_HEADER + n + 4)
		return -EAGAIN;
	sum = get32(buf + MOVE_HEADER + n);
	if (sum != move_crc32(buf, MOVE_HEADER + n)) {
		snprintf(why, whylen, "bad checksum %08" PRIx32 " (the frame's bytes give %08" PRIx32
			 ")", sum, move_crc32(buf, MOVE_HEADER + n));
		return -EPROTO;
	}
	*kind = (enum move_kind)get16(buf + 6);
	*payload = buf + MOVE_HEADER;
	*plen = n;
	*used = MOVE_HEADER + n + 4;
	return 0;
}

ssize_t move_state_encode(const struct move_state *st, uint8_t *buf, size_t size)
{
	int n = snprintf((char *)buf, size, "counter=%" PRIu64 " release=%s boot_id=%s service=%s",
			 st->counter, st->release, st->boot_id, st->service[0] ? st->service : "-");

	return n < 0 || (size_t)n >= size ? -ENOSPC : n;
}

int move_state_decode(const uint8_t *p, size_t len, struct move_state *st, char *why,
		      size_t whylen)
{
	char text[MOVE_MAX_PAYLOAD + 1];
	int end = -1;

	memcpy(text, p, len < MOVE_MAX_PAYLOAD ? len : MOVE_MAX_PAYLOAD);
	text[len < MOVE_MAX_PAYLOAD ? len : MOVE_MAX_PAYLOAD] = '\0';
	memset(st, 0, sizeof(*st));
	if (sscanf(text, "counter=%" SCNu64 " release=%64s boot_id=%39s service=%31s%n",
		   &st->counter, st->release, st->boot_id, st->service, &end) != 4 ||
	    (size_t)end != len) {
		snprintf(why, whylen, "not a state: '%.80s'", text);
		return -EPROTO;
	}
	if (!strcmp(st->service, "-"))
		st->service[0] = '\0';
	return 0;
}

static int send_frame(struct mover *m, int fd, enum move_kind kind, const void *payload,
		      size_t len, bool corrupt, const char *what)
{
	uint8_t buf[MOVE_MAX_FRAME];
	ssize_t n = move_frame_encode(kind, payload, len, buf, sizeof(buf));
	int64_t deadline = takeover_now() + m->step_ns;

	if (n < 0) {
		snprintf(m->why, sizeof(m->why), "%s does not fit in a frame", what);
		return -1;
	}
	/* The injected fault: one bit of the payload flipped after the checksum was taken. */
	if (corrupt && len)
		buf[MOVE_HEADER] ^= 0x01;
	for (ssize_t off = 0; off < n;) {
		ssize_t w;

		if (takeover_wait_fd(fd, true, deadline) != 0) {
			snprintf(m->why, sizeof(m->why), "could not send %s within %lld ms", what,
				 (long long)(m->step_ns / 1000000));
			return -1;
		}
		w = send(fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w < 0) {
			snprintf(m->why, sizeof(m->why), "sending %s: %s", what, strerror(errno));
			return -1;
		}
		off += w;
	}
	return 0;
}

/*
 * One frame of the peer's into @buf (MOVE_MAX_FRAME bytes), however the
 * bytes come (a short read is no frame yet), within m->step_ns; its kind
 * and payload; -1 with m->why if none came, -2 if what came is no good frame.
 */
static int recv_frame(struct mover *m, int fd, uint8_t *buf, const char *what,
		      enum move_kind *kind, const uint8_t **payload, size_t *plen)
{
	int64_t deadline = takeover_now() + m->step_ns;
	size_t have = 0, used;
	char why[160];

	for (;;) {
		ssize_t n;
		int rc = move_frame_decode(buf, have, &used, kind, payload, plen, why, sizeof(why));

		if (rc == 0)
			return 0;
		if (rc != -EAGAIN) {
			snprintf(m->why, sizeof(m->why), "%s: %s", what, why);
			return -2;
		}
		if (takeover_wait_fd(fd, false, deadline) != 0) {
			snprintf(m->why, sizeof(m->why), "%s did not come within %lld ms", what,
				 (long long)(m->step_ns / 1000000));
			return -1;
		}
		n = recv(fd, buf + have, MOVE_MAX_FRAME - have, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			snprintf(m->why, sizeof(m->why), "waiting for %s: %s", what,
				 n ? strerror(errno) : "the peer closed the connection");
			return -1;
		}
		have += (size_t)n;
	}
}

/* A boot id as a frame carries it: at most 39 printable bytes. */
static void copy_boot(char *to, const uint8_t *p, size_t len)
{
	size_t n = len < 39 ? len : 39;

	for (size_t i = 0; i < n; i++)
		to[i] = p[i] > ' ' && p[i] < 127 ? (char)p[i] : '?';
	to[n] = '\0';
}

int move_give(struct mover *m, int fd, const struct move_state *st)
{
	uint8_t buf[MOVE_MAX_FRAME], body[MOVE_MAX_PAYLOAD];
	const uint8_t *p;
	enum move_kind kind;
	size_t len;
	ssize_t n;

	memset(m->give_ns, 0, sizeof(m->give_ns));
	m->why[0] = '\0';
	if (recv_frame(m, fd, buf, "a pull request", &kind, &p, &len) != 0)
		return 1;
	if (kind != MOVE_PULL) {
		snprintf(m->why, sizeof(m->why), "a frame of kind %d where a pull request was due",
			 kind);
		return 1;
	}
	copy_boot(m->peer_boot, p, len);
	m->give_ns[GIVE_PULLED] = takeover_now();
	n = move_state_encode(st, body, sizeof(body));
	if (n < 0) {
		snprintf(m->why, sizeof(m->why), "the state does not fit in a frame");
		return 1;
	}
	if (send_frame(m, fd, MOVE_STATE, body, (size_t)n, m->corrupt, "the state") != 0)
		return 1;
	m->give_ns[GIVE_SENT] = takeover_now();
	if (recv_frame(m, fd, buf, "the taker's answer to the state", &kind, &p, &len) != 0)
		return 1;
	if (kind == MOVE_NAK) {
		snprintf(m->why, sizeof(m->why), "the taker refused the state: %.*s", (int)len, p);
		return 1;
	}
	if (kind != MOVE_ACK) {
		snprintf(m->why, sizeof(m->why), "a frame of kind %d where ACK or NAK was due",
			 kind);
		return 1;
	}
	m->give_ns[GIVE_ACKED] = takeover_now();
	/* The point of no return: the taker holds the state; the address goes to it. */
	if (m->net && st->service[0] &&
	    m->net->del_addr(m->net->ctx, m->ifname, st->service, m->why, sizeof(m->why)) != 0)
		return 1;
	if (send_frame(m, fd, MOVE_RELEASED, NULL, 0, false, "the release") != 0) {
		/* The taker will not add the address: it stays ours. */
		char why[sizeof(m->why)];

		snprintf(why, sizeof(why), "%s", m->why);
		if (m->net && st->service[0])
			m->net->add_addr(m->net->ctx, m->ifname, st->service, m->why,
					 sizeof(m->why));
		snprintf(m->why, sizeof(m->why), "%s", why);
		return 1;
	}
	m->give_ns[GIVE_RELEASED] = takeover_now();
	return 0;
}

int move_take(struct mover *m, int fd, const char *boot_id, struct move_state *st)
{
	uint8_t buf[MOVE_MAX_FRAME];
	const uint8_t *p;
	enum move_kind kind;
	size_t len;
	int rc;

	memset(m->take_ns, 0, sizeof(m->take_ns));
	m->why[0] = '\0';
	m->refused = false;
	m->take_ns[TAKE_CONNECTED] = takeover_now();
	if (send_frame(m, fd, MOVE_PULL, boot_id, strlen(boot_id), false, "the pull request") != 0)
		return -1;
	rc = recv_frame(m, fd, buf, "the state", &kind, &p, &len);
	if (rc == -1)
		return -1;
	if (rc == 0 && kind != MOVE_STATE)
		snprintf(m->why, sizeof(m->why), "a frame of kind %d where the state was due",
			 kind);
	else if (rc == 0 && move_state_decode(p, len, st, m->why, sizeof(m->why)) == 0)
		snprintf(m->peer_boot, sizeof(m->peer_boot), "%s", st->boot_id);
	if (m->why[0]) {
		/* A damaged or foreign state is refused loudly, and the holder told: it serves on. */
		m->refused = true;
		send_frame(m, fd, MOVE_NAK, m->why, strlen(m->why), false, "the refusal");
		return -1;
	}
	m->take_ns[TAKE_STATE] = takeover_now();
	if (send_frame(m, fd, MOVE_ACK, NULL, 0, false, "the acknowledgement") != 0)
		return -1;
	if (recv_frame(m, fd, buf, "the release of the service", &kind, &p, &len) != 0)
		return -1;
	if (kind != MOVE_RELEASED) {
		snprintf(m->why, sizeof(m->why), "a frame of kind %d where the release was due",
			 kind);
		return -1;
	}
	m->take_ns[TAKE_RELEASED] = takeover_now();
	if (m->net && st->service[0]) {
		if (m->net->add_addr(m->net->ctx, m->ifname, st->service, m->why, sizeof(m->why)))
			return -1;
		m->take_ns[TAKE_ADDR] = takeover_now();
		if (m->net->announce(m->net->ctx, m->ifname, st->service, m->why, sizeof(m->why)))
			return -1;
		m->take_ns[TAKE_ARP] = takeover_now();
	}
	return 0;
}

static const char *give_step_name(int i)
{
	static const char *names[GIVE_STEPS] = { "pulled", "sent", "acked", "released" };

	return i >= 0 && i < GIVE_STEPS ? names[i] : "?";
}

static const char *take_move_step_name(int i)
{
	static const char *names[TAKE_STEPS_MOVE] = { "connected", "state", "released", "addr",
						      "arp" };

	return i >= 0 && i < TAKE_STEPS_MOVE ? names[i] : "?";
}

void move_format_give(const struct mover *m, char *buf, size_t len)
{
	takeover_format_stamps(m->give_ns, GIVE_STEPS, give_step_name, buf, len);
}

void move_format_take(const struct mover *m, char *buf, size_t len)
{
	takeover_format_stamps(m->take_ns, TAKE_STEPS_MOVE, take_move_step_name, buf, len);
}
