/*
 * test_migrate.c - the migrate method's state transfer between two agents
 * (guest/agent/migrate.c): the framing, byte by byte and damaged, and the
 * holder's and taker's exchange over a socket pair, with fake address
 * steps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "migrate.h"

/* zlib's crc32 of "123456789", the CRC-32 check value. */
static void test_crc32_is_ieee(void **state)
{
	(void)state;
	assert_int_equal(move_crc32("123456789", 9), 0xcbf43926u);
	assert_int_equal(move_crc32("", 0), 0);
}

static void test_a_frame_decodes_only_once_all_of_it_is_there(void **state)
{
	uint8_t buf[MOVE_MAX_FRAME];
	ssize_t n = move_frame_encode(MOVE_STATE, "hello", 5, buf, sizeof(buf));
	const uint8_t *p = NULL;
	enum move_kind kind;
	size_t used, plen;
	char why[160];

	(void)state;
	assert_int_equal(n, MOVE_HEADER + 5 + 4);
	/* Every short read is "not yet", never an error or a frame. */
	for (ssize_t have = 0; have < n; have++)
		assert_int_equal(move_frame_decode(buf, (size_t)have, &used, &kind, &p, &plen, why,
						   sizeof(why)),
				 -EAGAIN);
	assert_int_equal(move_frame_decode(buf, (size_t)n, &used, &kind, &p, &plen, why,
					   sizeof(why)),
			 0);
	assert_int_equal(used, (size_t)n);
	assert_int_equal(kind, MOVE_STATE);
	assert_int_equal(plen, 5);
	assert_memory_equal(p, "hello", 5);
}

static void test_a_damaged_frame_is_refused_with_its_reason(void **state)
{
	uint8_t buf[MOVE_MAX_FRAME], bad[MOVE_MAX_FRAME];
	ssize_t n = move_frame_encode(MOVE_STATE, "counter", 7, buf, sizeof(buf));
	const uint8_t *p;
	enum move_kind kind;
	size_t used, plen;
	char why[160];

	(void)state;
	/* Every single flipped bit is caught, header, payload or checksum. */
	for (ssize_t i = 0; i < n * 8; i++) {
		memcpy(bad, buf, (size_t)n);
		bad[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_int_not_equal(move_frame_decode(bad, (size_t)n, &used, &kind, &p, &plen, why,
						       sizeof(why)),
				     0);
	}
	memcpy(bad, buf, (size_t)n);
	bad[MOVE_HEADER + 2] ^= 0x20;
	assert_int_equal(move_frame_decode(bad, (size_t)n, &used, &kind, &p, &plen, why,
					   sizeof(why)),
			 -EPROTO);
	assert_non_null(strstr(why, "bad checksum"));

	memcpy(bad, buf, (size_t)n);
	bad[5] = MOVE_VERSION + 1;
	/* A version is judged as soon as its bytes are there. */
	assert_int_equal(move_frame_decode(bad, 6, &used, &kind, &p, &plen, why, sizeof(why)),
			 -EPROTO);
	assert_non_null(strstr(why, "unsupported frame version 2"));

	memcpy(bad, buf, (size_t)n);
	bad[0] = 'X';
	assert_int_equal(move_frame_decode(bad, 4, &used, &kind, &p, &plen, why, sizeof(why)),
			 -EPROTO);
	assert_non_null(strstr(why, "bad magic"));

	/* A length beyond any frame's is refused before waiting for its bytes. */
	memcpy(bad, buf, (size_t)n);
	bad[8] = 0x7f;
	assert_int_equal(move_frame_decode(bad, MOVE_HEADER, &used, &kind, &p, &plen, why,
					   sizeof(why)),
			 -EPROTO);
	assert_non_null(strstr(why, "at most"));
}

static void test_a_payload_too_big_does_not_encode(void **state)
{
	static uint8_t big[MOVE_MAX_PAYLOAD + 1];
	uint8_t buf[MOVE_MAX_FRAME];

	(void)state;
	assert_int_equal(move_frame_encode(MOVE_STATE, big, sizeof(big), buf, sizeof(buf)), -ENOSPC);
	assert_int_equal(move_frame_encode(MOVE_STATE, big, 10, buf, 20), -ENOSPC);
}

static void test_a_state_round_trips_and_garbage_is_no_state(void **state)
{
	struct move_state st = { .counter = 18446744073709551615ull, .release = "6.1.0-twin-a",
				 .boot_id = "0f0e-boot", .service = "10.213.0.12/24" };
	struct move_state back;
	uint8_t buf[MOVE_MAX_PAYLOAD];
	ssize_t n = move_state_encode(&st, buf, sizeof(buf));
	char why[160];

	(void)state;
	assert_true(n > 0);
	assert_int_equal(move_state_decode(buf, (size_t)n, &back, why, sizeof(why)), 0);
	assert_true(back.counter == st.counter);
	assert_string_equal(back.release, st.release);
	assert_string_equal(back.boot_id, st.boot_id);
	assert_string_equal(back.service, st.service);

	st.service[0] = '\0';
	n = move_state_encode(&st, buf, sizeof(buf));
	assert_int_equal(move_state_decode(buf, (size_t)n, &back, why, sizeof(why)), 0);
	assert_string_equal(back.service, "");

	assert_int_equal(move_state_decode((const uint8_t *)"counter=x", 9, &back, why,
					   sizeof(why)),
			 -EPROTO);
	assert_non_null(strstr(why, "not a state"));
	/* Trailing bytes make it no state either. */
	n = move_state_encode(&st, buf, sizeof(buf));
	buf[n] = ' ';
	buf[n + 1] = 'x';
	assert_int_equal(move_state_decode(buf, (size_t)n + 2, &back, why, sizeof(why)), -EPROTO);
}

/* --- the exchange, over a socket pair; the address steps recorded --- */

struct fake_net {
	char log[256];
	int fail_del;
};

static int fake_add(void *ctx, const char *ifname, const char *cidr, char *why, size_t len)
{
	struct fake_net *f = ctx;

	(void)why;
	(void)len;
	snprintf(f->log + strlen(f->log), sizeof(f->log) - strlen(f->log), "add %s %s;", ifname,
		 cidr);
	return 0;
}

static int fake_del(void *ctx, const char *ifname, const char *cidr, char *why, size_t len)
{
	struct fake_net *f = ctx;

	if (f->fail_del) {
		snprintf(why, len, "cannot drop the address");
		return -1;
	}
	snprintf(f->log + strlen(f->log), sizeof(f->log) - strlen(f->log), "del %s %s;", ifname,
		 cidr);
	return 0;
}

static int fake_announce(void *ctx, const char *ifname, const char *cidr, char *why, size_t len)
{
	struct fake_net *f = ctx;

	(void)why;
	(void)len;
	snprintf(f->log + strlen(f->log), sizeof(f->log) - strlen(f->log), "arp %s %s;", ifname,
		 cidr);
	return 0;
}

struct giver_run {
	struct mover m;
	struct move_state st;
	int fd, rc;
};

static void *give_thread(void *arg)
{
	struct giver_run *g = arg;

	g->rc = move_give(&g->m, g->fd, &g->st);
	return NULL;
}

/* Holder and taker on a socket pair; the taker's result, both sides' nets. */
static int exchange(bool corrupt, struct giver_run *g, struct mover *t, struct move_state *got,
		    struct fake_net *gnet, struct fake_net *tnet)
{
	struct take_net gops = { .ctx = gnet, .add_addr = fake_add, .del_addr = fake_del,
				 .announce = fake_announce };
	struct take_net tops = { .ctx = tnet, .add_addr = fake_add, .del_addr = fake_del,
				 .announce = fake_announce };
	pthread_t th;
	int sv[2], rc;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	g->m = (struct mover){ .net = &gops, .ifname = "eth0", .corrupt = corrupt,
			       .step_ns = 5000000000LL };
	g->st = (struct move_state){ .counter = 41, .release = "6.1.192-twinbench-a",
				     .boot_id = "aaaa-boot", .service = "10.213.0.12/24" };
	g->fd = sv[0];
	*t = (struct mover){ .net = &tops, .ifname = "eth0", .step_ns = 5000000000LL };
	pthread_create(&th, NULL, give_thread, g);
	rc = move_take(t, sv[1], "bbbb-boot", got);
	close(sv[1]);
	pthread_join(th, NULL);
	close(sv[0]);
	return rc;
}

static void test_the_service_moves_with_its_state_and_address(void **state)
{
	struct fake_net gnet = { 0 }, tnet = { 0 };
	struct giver_run g;
	struct mover t;
	struct move_state got;

	(void)state;
	assert_int_equal(exchange(false, &g, &t, &got, &gnet, &tnet), 0);
	assert_int_equal(g.rc, 0);
	assert_true(got.counter == 41);
	assert_string_equal(got.boot_id, "aaaa-boot");
	assert_string_equal(got.service, "10.213.0.12/24");
	assert_string_equal(g.m.peer_boot, "bbbb-boot");
	/* The holder lets go of the address before the taker takes it. */
	assert_string_equal(gnet.log, "del eth0 10.213.0.12/24;");
	assert_string_equal(tnet.log, "add eth0 10.213.0.12/24;arp eth0 10.213.0.12/24;");
	for (int i = 1; i < GIVE_STEPS; i++)
		assert_true(g.m.give_ns[i] >= g.m.give_ns[i - 1] && g.m.give_ns[i] > 0);
	for (int i = 1; i < TAKE_STEPS_MOVE; i++)
		assert_true(t.take_ns[i] >= t.take_ns[i - 1] && t.take_ns[i] > 0);
}

static void test_a_damaged_state_is_refused_and_the_holder_keeps_the_service(void **state)
{
	struct fake_net gnet = { 0 }, tnet = { 0 };
	struct giver_run g;
	struct mover t;
	struct move_state got;

	(void)state;
	assert_int_equal(exchange(true, &g, &t, &got, &gnet, &tnet), -1);
	assert_true(t.refused);
	assert_non_null(strstr(t.why, "bad checksum"));
	assert_int_equal(g.rc, 1);
	assert_non_null(strstr(g.m.why, "the taker refused the state: the state: bad checksum"));
	/* Nobody touched an address. */
	assert_string_equal(gnet.log, "");
	assert_string_equal(tnet.log, "");
}

static void test_a_holder_that_cannot_drop_the_address_keeps_the_service(void **state)
{
	struct fake_net gnet = { .fail_del = 1 }, tnet = { 0 };
	struct giver_run g;
	struct mover t;
	struct move_state got;

	(void)state;
	assert_int_equal(exchange(false, &g, &t, &got, &gnet, &tnet), -1);
	assert_int_equal(g.rc, 1);
	assert_string_equal(g.m.why, "cannot drop the address");
	/* The taker was told nothing was released: it adds nothing. */
	assert_false(t.refused);
	assert_non_null(strstr(t.why, "the release of the service"));
	assert_string_equal(tnet.log, "");
}

static void test_a_silent_holder_times_out_naming_what_was_awaited(void **state)
{
	struct mover t = { .step_ns = 50000000LL };
	struct move_state got;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(move_take(&t, sv[1], "bbbb-boot", &got), -1);
	assert_false(t.refused);
	assert_string_equal(t.why, "the state did not come within 50 ms");
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32_is_ieee),
		cmocka_unit_test(test_a_frame_decodes_only_once_all_of_it_is_there),
		cmocka_unit_test(test_a_damaged_frame_is_refused_with_its_reason),
		cmocka_unit_test(test_a_payload_too_big_does_not_encode),
		cmocka_unit_test(test_a_state_round_trips_and_garbage_is_no_state),
		cmocka_unit_test(test_the_service_moves_with_its_state_and_address),
		cmocka_unit_test(test_a_damaged_state_is_refused_and_the_holder_keeps_the_service),
		cmocka_unit_test(test_a_holder_that_cannot_drop_the_address_keeps_the_service),
		cmocka_unit_test(test_a_silent_holder_times_out_naming_what_was_awaited),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
