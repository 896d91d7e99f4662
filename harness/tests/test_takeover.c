/*
 * test_takeover.c - the agents' handoff state machine (guest/agent/
 * takeover.c) on a fake region (a plain file) and a fake sysfs (a scratch
 * tree with the attributes the agents write), the network steps faked:
 * A gives, B sees the block, claims it, takes the NIC and marks it taken;
 * a damaged or stale block is refused; a block B does not claim in time is
 * withdrawn by A, and then B may not claim it; a failed step leaves the
 * block untaken.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "takeover.h"
#include "twinprep.h"
#include "testlib.h"

#define BOOT_A "11111111-2222-3333-4444-555555555555"
#define BDF    "0000:00:03.0"
#define CIDR   "10.213.0.10/24"

struct fake {
	char dir[64];	   /* the scratch tree: region, sys/ */
	char region[128];
	char sysfs[128];
	char calls[512];   /* the network steps, in order */
	bool fail_link;
	bool no_netdev;	   /* the NIC's driver never gives it a netdev */
	bool quiet;	   /* the console is quiet now */
	bool expire;	   /* A's lease runs out at the first network step (a wait or link up) */
	struct handoff_neighbours known; /* A's kernel's neighbours */
	struct handoff_neighbours added; /* what B added */
	struct take_net net;
};

static void call(struct fake *f, const char *what)
{
	size_t used = strlen(f->calls);

	snprintf(f->calls + used, sizeof(f->calls) - used, "%s%s", used ? " " : "", what);
}

/* The NIC's driver probes "asynchronously": its netdev appears at the first wait. */
static int fake_wait_links(void *ctx, int64_t deadline)
{
	struct fake *f = ctx;

	call(f, "wait");
	if (f->expire)
		handoff_claim(f->region, CLAIM_B, CLAIM_EXPIRED, NULL);
	if (f->no_netdev) {
		/* Nothing happens before the deadline: the wait ends there. */
		struct timespec end = { deadline / 1000000000LL, deadline % 1000000000LL };

		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &end, NULL) != 0)
			;
		return -1;
	}
	tl_mkdirs(f->sysfs, "bus/pci/devices/" BDF "/virtio1/net/eth0");
	return 0;
}

static int fake_link_up(void *ctx, const char *ifname, int64_t deadline, char *why, size_t len)
{
	struct fake *f = ctx;
	char what[64];

	(void)deadline;
	snprintf(what, sizeof(what), "up:%s", ifname);
	call(f, what);
	if (f->expire)
		handoff_claim(f->region, CLAIM_B, CLAIM_EXPIRED, NULL);
	if (f->fail_link) {
		snprintf(why, len, "%s has no link", ifname);
		return -1;
	}
	return 0;
}

static int fake_addr(struct fake *f, const char *verb, const char *ifname, const char *cidr)
{
	char what[96];

	snprintf(what, sizeof(what), "%s:%s:%s", verb, ifname, cidr);
	call(f, what);
	return 0;
}

static int fake_add_addr(void *ctx, const char *ifname, const char *cidr, char *why, size_t len)
{
	(void)why;
	(void)len;
	return fake_addr(ctx, "add", ifname, cidr);
}

static int fake_del_addr(void *ctx, const char *ifname, const char *cidr, char *why, size_t len)
{
	(void)why;
	(void)len;
	return fake_addr(ctx, "del", ifname, cidr);
}

static int fake_announce(void *ctx, const char *ifname, const char *cidr, char *why, size_t len)
{
	(void)why;
	(void)len;
	return fake_addr(ctx, "arp", ifname, cidr);
}

static void fake_neighbours(void *ctx, const char *ifname, struct handoff_neighbours *nb)
{
	struct fake *f = ctx;

	(void)ifname;
	*nb = f->known;
}

static int fake_add_neighbours(void *ctx, const char *ifname, const struct handoff_neighbours *nb,
			       char *why, size_t len)
{
	struct fake *f = ctx;
	char what[64];

	(void)why;
	(void)len;
	snprintf(what, sizeof(what), "neigh:%s:%u", ifname, nb->count);
	call(f, what);
	f->added = *nb;
	return 0;
}

static int fake_arp_mute(void *ctx, const char *ifname, bool mute, char *why, size_t len)
{
	char what[64];

	(void)why;
	(void)len;
	snprintf(what, sizeof(what), "%s:%s", mute ? "mute" : "unmute", ifname);
	call(ctx, what);
	return 0;
}

static void fake_quiet(void *ctx, bool quiet)
{
	((struct fake *)ctx)->quiet = quiet;
}

/*
 * The sysfs of kernel A's NIC BDF as eth0 (a virtio device below it), with
 * its driver's unbind, and the PCI skip list and rescan of kernel B.
 */
static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	int fd;

	if (!f || tl_mkdtemp("/tmp/tbtakeover.XXXXXX", f->dir, sizeof(f->dir)))
		return -1;
	snprintf(f->region, sizeof(f->region), "%s/state", f->dir);
	snprintf(f->sysfs, sizeof(f->sysfs), "%s/sys", f->dir);
	fd = open(f->region, O_RDWR | O_CREAT, 0600);
	if (fd < 0 || ftruncate(fd, 65536) != 0)
		return -1;
	close(fd);
	if (mkdir(f->sysfs, 0755) != 0)
		return -1;
	tl_mkdirs(f->sysfs, "devices/pci0000:00/" BDF "/virtio1");
	tl_mkdirs(f->sysfs, "class/net/eth0");
	if (symlink("../../../devices/pci0000:00/" BDF "/virtio1",
		    tl_path(f->sysfs, "class/net/eth0/device")) != 0)
		return -1;
	/* Its driver, as sysfs links it: unbind there, and bind to take it back. */
	tl_mkdirs(f->sysfs, "bus/pci/devices/" BDF);
	tl_mkdirs(f->sysfs, "bus/pci/drivers/virtio-pci");
	if (symlink("../../drivers/virtio-pci",
		    tl_path(f->sysfs, "bus/pci/devices/" BDF "/driver")) != 0)
		return -1;
	if (tl_write_file(tl_path(f->sysfs, "bus/pci/drivers/virtio-pci/unbind"), "") ||
	    tl_write_file(tl_path(f->sysfs, "bus/pci/drivers/virtio-pci/bind"), "") ||
	    tl_write_file(tl_path(f->sysfs, "bus/pci/skip"), "0000:00:02.0," BDF ",0000:00:05.0\n") ||
	    tl_write_file(tl_path(f->sysfs, "bus/pci/rescan"), ""))
		return -1;
	f->net = (struct take_net){ .ctx = f, .wait_links = fake_wait_links,
				    .link_up = fake_link_up, .add_addr = fake_add_addr,
				    .del_addr = fake_del_addr, .announce = fake_announce,
				    .neighbours = fake_neighbours,
				    .add_neighbours = fake_add_neighbours, .arp_mute = fake_arp_mute,
				    .console_quiet = fake_quiet };
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;

	give_prepare(f->sysfs, NULL);
	tl_rmtree(f->dir);
	free(f);
	return 0;
}

static struct taker taker_of(struct fake *f, const char *nic, const char *own)
{
	return (struct taker){ .region = f->region, .from_boot = BOOT_A, .sysfs = f->sysfs,
			       .nic_bdf = nic, .own_nic = own, .cidr = CIDR,
			       .step_timeout_ns = 1000000000LL, .net = &f->net };
}

static struct giver giver_of(struct fake *f, bool unbind)
{
	struct giver g = { .region = f->region, .boot_id = BOOT_A, .sysfs = f->sysfs,
			   .release_nic = "eth0", .unbind = unbind, .cidr = CIDR,
			   .net = &f->net };

	g.a_ns[A_REQUEST] = takeover_now();
	g.a_ns[A_STOPPED] = takeover_now();
	return g;
}

static void assert_ordered(const int64_t *ns, int n)
{
	for (int i = 1; i < n; i++)
		assert_true(ns[i] >= ns[i - 1] && ns[i] > 0);
}

static void test_one_nic_is_given_then_seen_found_and_taken(void **state)
{
	struct fake *f = *state;
	struct giver g = giver_of(f, true);
	struct taker t = taker_of(f, BDF, NULL);
	char *text;

	/* Nothing released yet: B waits. */
	assert_int_equal(take_poll(&t), TAKE_WAITING);
	assert_false(t.coming);
	assert_int_equal(give(&g, 4242), 0);
	assert_ordered(g.a_ns, A_STEPS);
	/* A's driver let go of its NIC when give() returned (then the block said ready). */
	text = tl_read_file(tl_path(f->sysfs, "bus/pci/devices/" BDF "/driver/unbind"));
	assert_string_equal(text, BDF);
	free(text);
	assert_int_equal(give_wait_taken(f->region, 1000, takeover_now()), 0);

	assert_int_equal(take_poll(&t), TAKE_DONE);
	assert_true(t.counter == 4242);
	assert_memory_equal(t.a_ns, g.a_ns, sizeof(g.a_ns));
	/* No neighbours known on A: none added, that step not stamped. */
	assert_ordered(t.b_ns, B_NEIGH);
	assert_true(t.b_ns[B_NEIGH] == 0 && t.b_ns[B_ARP] >= t.b_ns[B_ADDR]);
	assert_string_equal(t.ifname, "eth0");
	/* Off the skip list (the rest kept), rescanned, found, configured, announced. */
	text = tl_read_file(tl_path(f->sysfs, "bus/pci/skip"));
	assert_string_equal(text, "0000:00:02.0,0000:00:05.0\n");
	free(text);
	text = tl_read_file(tl_path(f->sysfs, "bus/pci/rescan"));
	assert_string_equal(text, "1\n");
	free(text);
	assert_string_equal(f->calls, "wait up:eth0 add:eth0:" CIDR " arp:eth0:" CIDR);
	/* Quiet from the moment B saw the block: the agent lets the console speak after. */
	assert_true(f->quiet);
	/* Taken only once B answered from it (the agent commits): A waits till then. */
	assert_int_equal(give_wait_taken(f->region, 1000, takeover_now()), 0);
	assert_int_equal(take_commit(&t), 0);
	assert_int_equal(give_wait_taken(f->region, 1000, takeover_now()), 1);
	/* Taken once: a second look finds it stale, waiting for a next handoff. */
	assert_int_equal(take_poll(&t), TAKE_WAITING);
}

/* A's neighbours cross in the block; B adds them after the address, before it announces it. */
static void test_a_s_neighbours_are_added_by_b_before_the_announcement(void **state)
{
	struct fake *f = *state;
	struct giver g = giver_of(f, true);
	struct taker t = taker_of(f, BDF, NULL);
	const struct handoff_neighbours known = {
		.count = 2,
		.e = { { .ip = { 10, 213, 0, 1 }, .mac = { 0xfe, 0x54, 0, 0xd5, 0, 0 } },
		       { .ip = { 10, 213, 0, 7 }, .mac = { 0x52, 0x54, 0, 0xd5, 7, 0 } } },
	};

	f->known = known;
	assert_int_equal(give(&g, 11), 0);
	assert_int_equal(take_poll(&t), TAKE_DONE);
	assert_memory_equal(&t.neigh, &known, sizeof(known));
	assert_memory_equal(&f->added, &known, sizeof(known));
	assert_true(t.b_ns[B_NEIGH] >= t.b_ns[B_ADDR] && t.b_ns[B_ARP] >= t.b_ns[B_NEIGH]);
	assert_string_equal(f->calls,
			    "wait up:eth0 add:eth0:" CIDR " neigh:eth0:2 arp:eth0:" CIDR);
}

/* None known (a service nobody asked yet): nothing to add, no step for it. */
static void test_no_neighbours_no_step(void **state)
{
	struct fake *f = *state;
	struct giver g = giver_of(f, false);
	struct taker t = taker_of(f, NULL, "eth1");

	assert_int_equal(give(&g, 12), 0);
	assert_int_equal(take_poll(&t), TAKE_DONE);
	assert_int_equal(t.neigh.count, 0);
	assert_null(strstr(f->calls, "neigh"));
}

static void test_dual_moves_only_the_address(void **state)
{
	struct fake *f = *state;
	struct giver g = giver_of(f, false);
	struct taker t = taker_of(f, NULL, "eth1");
	char *text;

	assert_int_equal(give(&g, 7), 0);
	text = tl_read_file(tl_path(f->sysfs, "bus/pci/devices/" BDF "/driver/unbind"));
	assert_string_equal(text, "");
	free(text);
	assert_int_equal(take_poll(&t), TAKE_DONE);
	/* A's address muted, not removed: it goes once B took the block. */
	assert_string_equal(f->calls,
			    "mute:eth0 up:eth1 add:eth1:" CIDR " arp:eth1:" CIDR);
	text = tl_read_file(tl_path(f->sysfs, "bus/pci/rescan"));
	assert_string_equal(text, "");
	free(text);
	assert_int_equal(take_commit(&t), 0);
	assert_int_equal(give_finish(&g), 0);
	assert_string_equal(f->calls, "mute:eth0 up:eth1 add:eth1:" CIDR " arp:eth1:" CIDR
				      " del:eth0:" CIDR " unmute:eth0");
	/* Once only. */
	assert_int_equal(give_finish(&g), 0);
	assert_null(strstr(strstr(f->calls, "unmute:eth0") + 1, "unmute"));
}

/*
 * B's own NIC holds the address muted from before the handoff (staged):
 * the handoff unmutes it; a takeover past its lease mutes it again, as it
 * was before.
 */
static void test_a_staged_address_only_speaks_in_the_handoff(void **state)
{
	struct fake *f = *state;
	struct giver g = giver_of(f, false);
	struct taker t = taker_of(f, NULL, "eth1");

	assert_int_equal(take_stage(&t), 0);
	assert_true(t.staged);
	assert_string_equal(f->calls, "mute:eth1 add:eth1:" CIDR);
	assert_int_equal(give(&g, 21), 0);
	f->calls[0] = '\0';
	assert_int_equal(take_poll(&t), TAKE_DONE);
	assert_string_equal(f->calls, "up:eth1 unmute:eth1 arp:eth1:" CIDR);

	g = giver_of(f, false);
	t = taker_of(f, NULL, "eth1");
	assert_int_equal(take_stage(&t), 0);
	f->expire = true;
	assert_int_equal(give(&g, 22), 0);
	f->calls[0] = '\0';
	assert_int_equal(take_poll(&t), TAKE_EXPIRED);
	assert_string_equal(f->calls, "up:eth1 unmute:eth1 arp:eth1:" CIDR " mute:eth1");
	/* A, its address still there, only lets it speak again. */
	f->calls[0] = '\0';
	assert_int_equal(give_back(&g, 1000000000LL, (char[16]){ 0 }, 16), 0);
	assert_string_equal(f->calls, "unmute:eth0 arp:eth0:" CIDR);
}

/* Nothing to stage without an own NIC: the handoff sets the address. */
static void test_nothing_to_stage_without_an_own_nic(void **state)
{
	struct fake *f = *state;
	struct taker t = taker_of(f, BDF, NULL);

	assert_int_equal(take_stage(&t), -1);
	assert_false(t.staged);
	assert_string_equal(f->calls, "");
}

/* Poll as the agent does until the block is more than "waiting", for up to a second. */
static enum take_result poll_until_decided(struct taker *t)
{
	int64_t deadline = takeover_now() + 1000000000LL;
	enum take_result r;
	struct timespec ms = { 0, 1000000 };

	while ((r = take_poll(t)) == TAKE_WAITING && takeover_now() < deadline)
		nanosleep(&ms, NULL);
	return r;
}

static void test_a_damaged_block_is_refused_after_it_settles(void **state)
{
	struct fake *f = *state;
	struct giver g = giver_of(f, true);
	struct taker t = taker_of(f, BDF, NULL);
	int64_t first;

	g.corrupt = true;
	assert_int_equal(give(&g, 99), 0);
	first = takeover_now();
	/* A torn read looks the same: believed only after it stayed so. */
	assert_int_equal(take_poll(&t), TAKE_WAITING);
	assert_int_equal(poll_until_decided(&t), TAKE_REFUSED);
	assert_true(takeover_now() - first >= TAKE_CORRUPT_SETTLE_NS);
	assert_non_null(strstr(t.why, "state block is corrupt"));
	/* Nothing was touched: no rescan, no network step, the console as it was. */
	assert_string_equal(f->calls, "");
	assert_false(f->quiet);
	assert_int_equal(give_wait_taken(f->region, 1000, takeover_now()), 0);
}

/*
 * B refused the block (it touched nothing): it marks it so, A sees its own
 * block refused, binds its NIC again, waits for the netdev, and puts the
 * link, the address and the announcement back.
 */
static void test_a_refused_block_gives_the_nic_back(void **state)
{
	struct fake *f = *state;
	struct giver g = giver_of(f, true);
	struct taker t = taker_of(f, BDF, NULL);
	char ifname[16] = "", *text;

	g.corrupt = true;
	assert_int_equal(give(&g, 99), 0);
	assert_string_equal(g.driver, "virtio-pci");
	assert_string_equal(g.bdf, BDF);
	assert_int_equal(poll_until_decided(&t), TAKE_REFUSED);
	assert_int_equal(give_wait(f->region, BOOT_A, 1000, 0, 0, takeover_now()), 0);
	assert_int_equal(handoff_refuse(f->region, t.from_boot), 0);
	assert_int_equal(give_wait(f->region, BOOT_A, 1000, 0, 0, takeover_now()), HANDOFF_REFUSED);
	/* Another kernel's refusal is not ours; a refused block is not taken. */
	assert_int_equal(give_wait(f->region, "99999999-8888-7777-6666-555555555555", 1000, 0, 0,
				   takeover_now()),
			 0);
	assert_int_equal(give_wait_taken(f->region, 1000, takeover_now()), 0);
	assert_int_equal(give_back(&g, 1000000000LL, ifname, sizeof(ifname)), 0);
	assert_string_equal(ifname, "eth0");
	text = tl_read_file(tl_path(f->sysfs, "bus/pci/drivers/virtio-pci/bind"));
	assert_string_equal(text, BDF);
	free(text);
	assert_string_equal(f->calls, "wait up:eth0 add:eth0:" CIDR " arp:eth0:" CIDR);
}

/*
 * A twin kernel (twin_kernel/release) releases the NIC's function with its
 * driver bound: no unbind in the window.  Refused, A unbinds the driver,
 * which makes the function its kernel's again, and binds it.
 */
static void test_a_twin_kernel_releases_the_nic_without_an_unbind(void **state)
{
	struct fake *f = *state;
	struct giver g = giver_of(f, true);
	struct taker t = taker_of(f, BDF, NULL);
	char ifname[16] = "", *text;

	tl_mkdirs(f->sysfs, "kernel/twin_kernel");
	assert_int_equal(tl_write_file(tl_path(f->sysfs, "kernel/twin_kernel/release"), ""), 0);
	g.corrupt = true;
	assert_int_equal(give(&g, 5), 0);
	assert_true(g.released);
	text = tl_read_file(tl_path(f->sysfs, "kernel/twin_kernel/release"));
	assert_string_equal(text, BDF);
	free(text);
	text = tl_read_file(tl_path(f->sysfs, "bus/pci/drivers/virtio-pci/unbind"));
	assert_string_equal(text, "");
	free(text);
	assert_int_equal(poll_until_decided(&t), TAKE_REFUSED);
	assert_int_equal(handoff_refuse(f->region, t.from_boot), 0);
	assert_int_equal(give_wait(f->region, BOOT_A, 1000, 0, 0, takeover_now()), HANDOFF_REFUSED);
	assert_int_equal(give_back(&g, 1000000000LL, ifname, sizeof(ifname)), 0);
	assert_false(g.released);
	text = tl_read_file(tl_path(f->sysfs, "bus/pci/drivers/virtio-pci/unbind"));
	assert_string_equal(text, BDF);
	free(text);
	text = tl_read_file(tl_path(f->sysfs, "bus/pci/drivers/virtio-pci/bind"));
	assert_string_equal(text, BDF);
	free(text);
	assert_string_equal(ifname, "eth0");
}

/*
 * Looked up before the window (give_prepare()), the NIC is released without
 * a look in it: its netdev's links are gone and the attribute's path no
 * longer opens, and the function still goes to the file opened beforehand.
 */
static void test_a_nic_looked_up_beforehand_is_released_without_a_look(void **state)
{
	struct fake *f = *state;
	struct giver g = giver_of(f, true);
	char old[PATH_MAX], *text;

	tl_mkdirs(f->sysfs, "kernel/twin_kernel");
	assert_int_equal(tl_write_file(tl_path(f->sysfs, "kernel/twin_kernel/release"), ""), 0);
	give_prepare(f->sysfs, "eth0");
	assert_int_equal(unlink(tl_path(f->sysfs, "class/net/eth0/device")), 0);
	snprintf(old, sizeof(old), "%s", tl_path(f->sysfs, "kernel/twin_kernel/release.old"));
	assert_int_equal(rename(tl_path(f->sysfs, "kernel/twin_kernel/release"), old), 0);
	tl_mkdirs(f->sysfs, "kernel/twin_kernel/release");
	assert_int_equal(give(&g, 5), 0);
	assert_true(g.released);
	assert_string_equal(g.bdf, BDF);
	assert_string_equal(g.driver, "virtio-pci");
	text = tl_read_file(old);
	assert_string_equal(text, BDF);
	free(text);
	/* Forgotten, the look is give()'s again, and fails as the links are gone. */
	give_prepare(f->sysfs, NULL);
	g = giver_of(f, true);
	assert_int_equal(give(&g, 6), -1);
	assert_non_null(strstr(g.why, "class/net/eth0/device"));
}

/* A release the kernel refuses fails give() with the kernel's reason, before the block is ready. */
static void test_a_refused_release_fails_before_the_block_is_ready(void **state)
{
	struct fake *f = *state;
	struct giver g = giver_of(f, true);
	struct taker t = taker_of(f, BDF, NULL);

	/* A directory where the attribute should be: the write fails as the kernel's would. */
	tl_mkdirs(f->sysfs, "kernel/twin_kernel/release");
	assert_int_equal(give(&g, 6), -1);
	assert_non_null(strstr(g.why, "kernel/twin_kernel/release"));
	/* Written, never ready: B waits (and would refuse it once it settles). */
	assert_int_equal(take_poll(&t), TAKE_WAITING);
}

/* nic: dual: only the address went, only the address comes back. */
static void test_a_refused_dual_handoff_puts_the_address_back(void **state)
{
	struct fake *f = *state;
	struct giver g = giver_of(f, false);
	char ifname[16] = "", *text;

	assert_int_equal(give(&g, 5), 0);
	assert_int_equal(handoff_refuse(f->region, BOOT_A), 0);
	assert_int_equal(give_wait(f->region, BOOT_A, 1000, 0, 0, takeover_now()), HANDOFF_REFUSED);
	assert_int_equal(give_back(&g, 1000000000LL, ifname, sizeof(ifname)), 0);
	assert_string_equal(ifname, "eth0");
	assert_string_equal(f->calls, "mute:eth0 unmute:eth0 arp:eth0:" CIDR);
	text = tl_read_file(tl_path(f->sysfs, "bus/pci/drivers/virtio-pci/bind"));
	assert_string_equal(text, "");
	free(text);
}

static void test_a_block_from_another_kernel_is_refused(void **state)
{
	struct fake *f = *state;
	struct giver g = giver_of(f, false);
	struct taker t = taker_of(f, NULL, "eth1");

	g.boot_id = "99999999-8888-7777-6666-555555555555";
	assert_int_equal(give(&g, 1), 0);
	assert_int_equal(take_poll(&t), TAKE_REFUSED);
	assert_non_null(strstr(t.why, "stale"));
	assert_non_null(strstr(t.why, "written by boot 99999999"));
}

static void test_a_written_block_is_coming_not_ready(void **state)
{
	struct fake *f = *state;
	struct taker t = taker_of(f, BDF, NULL);

	assert_int_equal(handoff_write(f->region, HANDOFF_WRITTEN, 5, BOOT_A, NULL, NULL), 0);
	assert_int_equal(take_poll(&t), TAKE_WAITING);
	/* The agent looks faster from here on. */
	assert_true(t.coming);
}

static void test_a_block_written_and_never_released_is_refused(void **state)
{
	struct fake *f = *state;
	struct taker t = taker_of(f, BDF, NULL);

	assert_int_equal(handoff_write(f->region, HANDOFF_WRITTEN, 5, BOOT_A, NULL, NULL), 0);
	assert_int_equal(take_poll(&t), TAKE_WAITING);
	assert_true(t.coming);
	/* As if A had died half-way, longer ago than B waits for it. */
	t.coming_since = takeover_now() - TAKE_NOT_READY_NS - 1;
	assert_int_equal(take_poll(&t), TAKE_REFUSED);
	assert_non_null(strstr(t.why, "written but not released within 10 s"));
	assert_string_equal(f->calls, "");
}

/* A NIC that never shows up as a network device: the wait has a bound and says so. */
static void test_a_nic_that_never_appears_fails_at_its_bound(void **state)
{
	struct fake *f = *state;
	struct giver g = giver_of(f, true);
	struct taker t = taker_of(f, BDF, NULL);

	f->no_netdev = true;
	t.step_timeout_ns = 20000000LL;
	assert_int_equal(give(&g, 8), 0);
	/* B lets go of the NIC and gives the block back: A may take it again. */
	assert_int_equal(take_poll(&t), TAKE_RETURNED);
	assert_string_equal(t.why, "A's NIC " BDF " has no network device 20 ms after the rescan");
	assert_int_equal(give_wait_taken(f->region, 1000, takeover_now()), 0);
	assert_int_equal(give_wait(f->region, BOOT_A, 1000, 0, 0, takeover_now()), HANDOFF_RETURNED);
}

static void test_a_failed_step_leaves_the_block_untaken(void **state)
{
	struct fake *f = *state;
	struct giver g = giver_of(f, false);
	struct taker t = taker_of(f, NULL, "eth1");

	f->fail_link = true;
	assert_int_equal(give(&g, 3), 0);
	/* Its own NIC, no address set yet: nothing of A's to let go of. */
	assert_int_equal(take_poll(&t), TAKE_RETURNED);
	assert_string_equal(t.why, "eth1 has no link");
	assert_false(f->quiet);
	assert_int_equal(give_wait_taken(f->region, 1000, takeover_now()), 0);
	assert_int_equal(give_wait(f->region, BOOT_A, 1000, 0, 0, takeover_now()), HANDOFF_RETURNED);
}

/*
 * One NIC, B had it (the test hook fails the takeover there): B deletes
 * nothing it did not add, unbinds the NIC from its driver, removes it from
 * its PCI tree and skips it again, then gives the block back; A takes
 * the NIC back as after a refusal.
 */
static void test_a_takeover_that_fails_after_the_nic_gives_it_back(void **state)
{
	struct fake *f = *state;
	struct giver g = giver_of(f, true);
	struct taker t = taker_of(f, BDF, NULL);
	char hook[128], ifname[16] = "", *text;

	snprintf(hook, sizeof(hook), "%s/fail-take", f->dir);
	assert_int_equal(tl_write_file(hook, ""), 0);
	t.fail_hook = hook;
	assert_int_equal(tl_write_file(tl_path(f->sysfs, "bus/pci/devices/" BDF "/remove"), ""), 0);
	assert_int_equal(give(&g, 21), 0);
	assert_int_equal(tl_write_file(tl_path(f->sysfs, "bus/pci/drivers/virtio-pci/unbind"), ""),
			 0);
	assert_int_equal(take_poll(&t), TAKE_RETURNED);
	assert_non_null(strstr(t.why, "stopped by the test hook"));
	/* Found, then let go of: unbound, removed, on the skip list again (last). */
	assert_string_equal(t.ifname, "eth0");
	text = tl_read_file(tl_path(f->sysfs, "bus/pci/drivers/virtio-pci/unbind"));
	assert_string_equal(text, BDF);
	free(text);
	text = tl_read_file(tl_path(f->sysfs, "bus/pci/devices/" BDF "/remove"));
	assert_string_equal(text, "1\n");
	free(text);
	text = tl_read_file(tl_path(f->sysfs, "bus/pci/skip"));
	assert_string_equal(text, "0000:00:02.0,0000:00:05.0," BDF "\n");
	free(text);
	assert_string_equal(f->calls, "wait");
	assert_int_equal(give_wait(f->region, BOOT_A, 1000, takeover_now(), 0, takeover_now()),
			 HANDOFF_RETURNED);
	assert_int_equal(give_back(&g, 1000000000LL, ifname, sizeof(ifname)), 0);
	assert_string_equal(ifname, "eth0");
}

/* B cannot let go of the NIC: it keeps its claim, and A must go on waiting. */
static void test_a_takeover_that_cannot_let_go_keeps_the_claim(void **state)
{
	struct fake *f = *state;
	struct giver g = giver_of(f, true);
	struct taker t = taker_of(f, BDF, NULL);
	char hook[128];
	uint32_t claim = 0;

	snprintf(hook, sizeof(hook), "%s/fail-take", f->dir);
	assert_int_equal(tl_write_file(hook, ""), 0);
	t.fail_hook = hook;
	/* A directory where the remove attribute should be: the write fails. */
	tl_mkdirs(f->sysfs, "bus/pci/devices/" BDF "/remove");
	assert_int_equal(give(&g, 22), 0);
	assert_int_equal(take_poll(&t), TAKE_FAILED);
	assert_non_null(strstr(t.why, "stopped by the test hook"));
	assert_non_null(strstr(t.why, "; and B cannot let go of it: cannot write '1' to "));
	assert_int_equal(handoff_outcome(f->region, BOOT_A, &claim), 0);
	assert_int_equal(claim, CLAIM_B);
	/* Past A's claim bound: B's claim stands, A's wait ends only at its deadline. */
	assert_int_equal(give_wait(f->region, BOOT_A, 1000, takeover_now(), 0, takeover_now()), 0);
}

/*
 * B claims the block before it touches anything of A's: A's withdrawal
 * after its bound then loses, and A waits for B (here: until its deadline).
 */
static void test_a_claimed_block_cannot_be_withdrawn(void **state)
{
	struct fake *f = *state;
	struct giver g = giver_of(f, true);
	struct taker t = taker_of(f, BDF, NULL);
	uint32_t was = 0;

	assert_int_equal(give(&g, 11), 0);
	assert_int_equal(take_poll(&t), TAKE_DONE);
	/* The claim deadline has passed: A tries, and B's claim came first. */
	assert_int_equal(give_wait(f->region, BOOT_A, 1000, takeover_now(), 0, takeover_now()), 0);
	assert_int_equal(handoff_claim(f->region, CLAIM_OPEN, CLAIM_WITHDRAWN, &was), 0);
	/* B took everything and went live: its lease no longer runs either. */
	assert_int_equal(was, CLAIM_LIVE);
	assert_int_equal(give_wait(f->region, BOOT_A, 1000, takeover_now(), 1, takeover_now()), 0);
	assert_int_equal(handoff_claim(f->region, CLAIM_B, CLAIM_EXPIRED, &was), 0);
	assert_int_equal(take_commit(&t), 0);
	assert_int_equal(give_wait(f->region, BOOT_A, 1000, takeover_now(), 0, takeover_now()),
			 HANDOFF_TAKEN);
}

/*
 * B does not claim the block (held by the test hook): A's bound passes, A
 * withdraws it and takes its NIC back; B, looking again, finds it
 * withdrawn and touches nothing, hold or no hold.
 */
static void test_a_block_not_claimed_in_time_is_withdrawn(void **state)
{
	struct fake *f = *state;
	struct giver g = giver_of(f, true);
	struct taker t = taker_of(f, BDF, NULL);
	struct taker late = taker_of(f, BDF, NULL);
	char hold[128], ifname[16] = "";
	uint32_t was = 0;
	int64_t start;

	snprintf(hold, sizeof(hold), "%s/hold-take", f->dir);
	assert_int_equal(tl_write_file(hold, ""), 0);
	t.hold = hold;
	assert_int_equal(give(&g, 12), 0);
	f->calls[0] = '\0';
	/* Held: B sees a ready block and leaves it. */
	assert_int_equal(take_poll(&t), TAKE_WAITING);
	start = takeover_now();
	assert_int_equal(give_wait(f->region, BOOT_A, 1000000, start + 20000000LL, 0,
				   start + 1000000000LL),
			 HANDOFF_WITHDRAWN);
	/* Withdrawn at the claim bound, not at the end of the wait. */
	assert_true(takeover_now() - start >= 20000000LL);
	assert_true(takeover_now() - start < 1000000000LL);
	assert_int_equal(handoff_outcome(f->region, BOOT_A, &was), HANDOFF_WITHDRAWN);
	assert_int_equal(was, CLAIM_WITHDRAWN);
	/* Another kernel's withdrawal is not ours. */
	assert_int_equal(handoff_outcome(f->region, "99999999-8888-7777-6666-555555555555", NULL),
			 0);
	assert_int_equal(take_poll(&t), TAKE_WITHDRAWN);
	assert_non_null(strstr(t.why, "kernel A withdrew the state block"));
	/* Without the hold, B's claim loses to A's: nothing of A's touched either. */
	assert_int_equal(take_poll(&late), TAKE_WITHDRAWN);
	assert_string_equal(late.why, "kernel A withdrew the state block before B claimed it");
	assert_string_equal(f->calls, "");
	assert_false(f->quiet);
	/* A takes the service back, as after a refusal. */
	assert_int_equal(give_back(&g, 1000000000LL, ifname, sizeof(ifname)), 0);
	assert_string_equal(ifname, "eth0");
	assert_int_equal(give_wait_taken(f->region, 1000, takeover_now()), 0);
}

/*
 * B claimed the block and then stalls (the test hook, as a B that died):
 * its lease runs out, A's claim "expired" wins, and B, looking again,
 * finds it so and touches nothing more.
 */
static void test_a_claimed_block_whose_lease_runs_out_is_taken_back(void **state)
{
	struct fake *f = *state;
	struct giver g = giver_of(f, false);
	struct taker t = taker_of(f, NULL, "eth1");
	char hook[128];
	int64_t start;

	snprintf(hook, sizeof(hook), "%s/stall-take", f->dir);
	assert_int_equal(tl_write_file(hook, ""), 0);
	t.stall_hook = hook;
	t.step_timeout_ns = 50000000LL;
	assert_int_equal(give(&g, 31), 0);
	f->calls[0] = '\0';
	/* Stalled for its step's bound, then on: claimed, live, taken. */
	start = takeover_now();
	assert_int_equal(take_poll(&t), TAKE_DONE);
	assert_true(takeover_now() - start >= 50000000LL);
	assert_int_equal(take_commit(&t), 0);
	assert_int_equal(give_wait(f->region, BOOT_A, 1000, 0, 1, takeover_now()), HANDOFF_TAKEN);

	/* Again, and this time A's lease of 20 ms runs out while B stalls. */
	assert_int_equal(give(&g, 32), 0);
	f->calls[0] = '\0';
	t = taker_of(f, NULL, "eth1");
	t.stall_hook = hook;
	assert_int_equal(handoff_claim(f->region, CLAIM_OPEN, CLAIM_B, NULL), 1);
	start = takeover_now();
	assert_int_equal(give_wait(f->region, BOOT_A, 1000000, 0, 20000000LL, start + 1000000000LL),
			 HANDOFF_EXPIRED);
	assert_true(takeover_now() - start >= 20000000LL);
	assert_true(takeover_now() - start < 1000000000LL);
	/* B's own claim is gone: what it would do next is refused. */
	assert_int_equal(handoff_claim(f->region, CLAIM_B, CLAIM_LIVE, NULL), 0);
	assert_int_equal(handoff_outcome(f->region, BOOT_A, NULL), HANDOFF_EXPIRED);
	assert_string_equal(f->calls, "");
}

/*
 * A's lease runs out while B works: B, having set the address and
 * announced it, cannot go live, drops the address and serves nothing; a
 * stalled B (one NIC) stops in its stall, before any network step.
 */
static void test_a_takeover_past_its_lease_does_not_go_live(void **state)
{
	struct fake *f = *state;
	struct giver g = giver_of(f, false);
	struct taker t = taker_of(f, NULL, "eth1");
	char hook[128];

	f->expire = true;
	assert_int_equal(give(&g, 33), 0);
	f->calls[0] = '\0';
	assert_int_equal(take_poll(&t), TAKE_EXPIRED);
	assert_non_null(strstr(t.why, "B's lease ran out before it served"));
	assert_string_equal(f->calls, "up:eth1 add:eth1:" CIDR " arp:eth1:" CIDR " del:eth1:" CIDR);
	assert_false(f->quiet);
	assert_int_equal(handoff_outcome(f->region, BOOT_A, NULL), HANDOFF_EXPIRED);

	g = giver_of(f, true);
	t = taker_of(f, BDF, NULL);
	snprintf(hook, sizeof(hook), "%s/stall-take", f->dir);
	assert_int_equal(tl_write_file(hook, ""), 0);
	t.stall_hook = hook;
	assert_int_equal(give(&g, 34), 0);
	f->calls[0] = '\0';
	assert_int_equal(take_poll(&t), TAKE_EXPIRED);
	assert_non_null(strstr(t.why, "B's lease ran out (stalled by "));
	assert_string_equal(f->calls, "wait");
}

/* A block is written open: a claim an earlier handoff left does not stay. */
static void test_a_new_block_is_open_again(void **state)
{
	struct fake *f = *state;
	uint32_t was = 0;

	assert_int_equal(handoff_write(f->region, HANDOFF_READY, 1, BOOT_A, NULL, NULL), 0);
	assert_int_equal(handoff_claim(f->region, CLAIM_OPEN, CLAIM_B, &was), 1);
	assert_int_equal(was, CLAIM_OPEN);
	assert_int_equal(handoff_write(f->region, HANDOFF_READY, 2, BOOT_A, NULL, NULL), 0);
	assert_int_equal(handoff_outcome(f->region, BOOT_A, &was), 0);
	assert_int_equal(was, CLAIM_OPEN);
	/* A region that cannot be mapped: the caller hears it. */
	assert_int_equal(handoff_claim(tl_path(f->dir, "no-such-region"), CLAIM_OPEN, CLAIM_B, NULL), -1);
}

static void pci_device(struct fake *f, const char *parent, const char *bdf, const char *cls)
{
	char rel[256], link[256];

	snprintf(rel, sizeof(rel), "devices/pci0000:00/%s%s%s", parent ? parent : "",
		 parent ? "/" : "", bdf);
	tl_mkdirs(f->sysfs, rel);
	assert_int_equal(tl_write_file(tl_path(f->sysfs, tl_path(rel, "class")), cls), 0);
	snprintf(link, sizeof(link), "../../../%s", rel);
	snprintf(rel, sizeof(rel), "bus/pci/devices/%s", bdf);
	rmdir(tl_path(f->sysfs, rel));
	assert_int_equal(symlink(link, tl_path(f->sysfs, rel)), 0);
}

/*
 * B leaves alone every device but host bridges, bridges with devices below
 * (the kernel's rule), and its own NIC with the bridges above it; plus A's
 * own skip list; sorted, once each.
 */
static void test_b_skips_all_but_bridges_and_its_own_nic(void **state)
{
	struct fake *f = *state;
	char out[512];

	tl_rmtree(tl_path(f->sysfs, "bus/pci/devices"));
	tl_mkdirs(f->sysfs, "bus/pci/devices");
	pci_device(f, NULL, "0000:00:00.0", "0x060000\n");	    /* host bridge */
	pci_device(f, NULL, "0000:00:01.0", "0x010601\n");	    /* SATA */
	pci_device(f, NULL, "0000:00:1e.0", "0x060400\n");	    /* bridge, B's NIC below */
	pci_device(f, "0000:00:1e.0", "0000:01:00.0", "0x020000\n"); /* B's own NIC */
	pci_device(f, NULL, "0000:00:1f.0", "0x060400\n");	    /* an empty bridge */
	pci_device(f, NULL, BDF, "0x020000\n");		    /* A's NIC */
	assert_int_equal(tl_write_file(tl_path(f->sysfs, "bus/pci/skip"), "0000:00:07.0," BDF "\n"),
			 0);

	assert_int_equal(twinprep_pci_skip(f->sysfs, "0000:01:00.0", out, sizeof(out)), 0);
	assert_string_equal(out, "0000:00:01.0,0000:00:03.0,0000:00:07.0,0000:00:1f.0");
	/* Without a NIC of its own, that NIC is skipped, and the bridge above with it. */
	assert_int_equal(twinprep_pci_skip(f->sysfs, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "0000:00:01.0,0000:00:03.0,0000:00:07.0,0000:00:1f.0,"
				 "0000:01:00.0");
}

/* The kernel takes 32 addresses in pci_skip=: B would size the 33rd's BARs. */
static void test_more_devices_than_pci_skip_takes_is_an_error(void **state)
{
	struct fake *f = *state;
	char out[2048], bdf[16];

	tl_rmtree(tl_path(f->sysfs, "bus/pci/devices"));
	tl_mkdirs(f->sysfs, "bus/pci/devices");
	assert_int_equal(tl_write_file(tl_path(f->sysfs, "bus/pci/skip"), "\n"), 0);
	for (int i = 0; i < TWINPREP_PCI_SKIP_MAX; i++) {
		snprintf(bdf, sizeof(bdf), "0000:%02x:00.0", i + 1);
		pci_device(f, NULL, bdf, "0x010601\n");
	}
	assert_int_equal(twinprep_pci_skip(f->sysfs, NULL, out, sizeof(out)), 0);
	pci_device(f, NULL, "0000:40:00.0", "0x010601\n");
	assert_int_equal(twinprep_pci_skip(f->sysfs, NULL, out, sizeof(out)), -E2BIG);
}

/* B's memory blocks: whole blocks of System RAM, none holding a held range. */
static void test_b_takes_whole_free_blocks_of_ram(void **state)
{
	struct fake *f = *state;
	char iomem[128], out[512];

	tl_mkdirs(f->sysfs, "devices/system/memory");
	tl_mkdirs(f->sysfs, "kernel/twin_kernel");
	/* 128 MiB blocks. */
	assert_int_equal(tl_write_file(tl_path(f->sysfs, "devices/system/memory/block_size_bytes"),
				       "8000000\n"),
			 0);
	/* The state region in the second block, no park area. */
	assert_int_equal(tl_write_file(tl_path(f->sysfs, "kernel/twin_kernel/state_region"),
				       "0x10000@0x9000000\n"),
			 0);
	assert_int_equal(tl_write_file(tl_path(f->sysfs, "kernel/twin_kernel/park_region"), "\n"), 0);
	snprintf(iomem, sizeof(iomem), "%s/iomem", f->dir);
	assert_int_equal(tl_write_file(iomem,
				       "00000000-00000fff : Reserved\n"
				       "00001000-0009fbff : System RAM\n"
				       "00100000-3ffdffff : System RAM\n"
				       "  01000000-01ffffff : Kernel code\n"
				       "  30000000-37ffffff : Crash kernel\n"
				       "100000000-13fffffff : System RAM\n"),
			 0);
	assert_int_equal(twinprep_mem_blocks(f->sysfs, iomem, out, sizeof(out)), 0);
	/*
	 * 0x100000.. starts mid-block: from 0x8000000; 0x8000000 holds the state
	 * region, 0x30000000 the crash kernel; 0x38000000 ends past 0x3ffdffff.
	 */
	assert_string_equal(out, "0x10000000,0x18000000,0x20000000,0x28000000,0x100000000,"
				 "0x108000000,0x110000000,0x118000000,0x120000000,0x128000000,"
				 "0x130000000,0x138000000");
}

/* The CPU twin-boot gives B (the last online) goes offline and online once; one CPU: none. */
static void test_a_cycles_the_cpu_twin_boot_will_give(void **state)
{
	struct fake *f = *state;
	char why[512], *text;
	int cpu = -1;

	tl_mkdirs(f->sysfs, "devices/system/cpu/cpu1");
	tl_mkdirs(f->sysfs, "devices/system/cpu/cpu2");
	tl_mkdirs(f->sysfs, "devices/system/cpu/cpu3");
	assert_int_equal(tl_write_file(tl_path(f->sysfs, "devices/system/cpu/cpu1/online"), "x"), 0);
	assert_int_equal(tl_write_file(tl_path(f->sysfs, "devices/system/cpu/cpu2/online"), "x"), 0);
	/* "0,2": the last after a comma; CPU 3 is offline and not in the list. */
	assert_int_equal(tl_write_file(tl_path(f->sysfs, "devices/system/cpu/online"), "0,2\n"), 0);
	assert_int_equal(twinprep_cycle_cpu(f->sysfs, &cpu, why, sizeof(why)), 0);
	assert_int_equal(cpu, 2);
	text = tl_read_file(tl_path(f->sysfs, "devices/system/cpu/cpu2/online"));
	assert_string_equal(text, "1");
	free(text);
	text = tl_read_file(tl_path(f->sysfs, "devices/system/cpu/cpu1/online"));
	assert_string_equal(text, "x");
	free(text);
	/* One CPU: nothing to give, nothing done. */
	assert_int_equal(tl_write_file(tl_path(f->sysfs, "devices/system/cpu/online"), "0\n"), 0);
	assert_int_equal(twinprep_cycle_cpu(f->sysfs, &cpu, why, sizeof(why)), 1);
	/* "0-3": CPU 3, whose online cannot be written (a directory here). */
	tl_mkdirs(f->sysfs, "devices/system/cpu/cpu3/online");
	assert_int_equal(tl_write_file(tl_path(f->sysfs, "devices/system/cpu/online"), "0-3\n"), 0);
	assert_int_equal(twinprep_cycle_cpu(f->sysfs, &cpu, why, sizeof(why)), -1);
	assert_int_equal(cpu, 3);
	assert_non_null(strstr(why, "cpu3/online"));
}

static void test_stamps_print_from_the_first(void **state)
{
	int64_t ns[A_STEPS] = { 1000, 1500, 0, 9000, 9100 };
	char buf[128];

	(void)state;
	takeover_format_stamps(ns, A_STEPS, handoff_a_step_name, buf, sizeof(buf));
	/* A step never reached (0) is left out. */
	assert_string_equal(buf, "request=0 stopped=500 released=8000 ready=8100");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_one_nic_is_given_then_seen_found_and_taken),
		T(test_a_s_neighbours_are_added_by_b_before_the_announcement),
		T(test_no_neighbours_no_step),
		T(test_dual_moves_only_the_address),
		T(test_a_staged_address_only_speaks_in_the_handoff),
		T(test_nothing_to_stage_without_an_own_nic),
		T(test_a_damaged_block_is_refused_after_it_settles),
		T(test_a_refused_block_gives_the_nic_back),
		T(test_a_twin_kernel_releases_the_nic_without_an_unbind),
		T(test_a_nic_looked_up_beforehand_is_released_without_a_look),
		T(test_a_refused_release_fails_before_the_block_is_ready),
		T(test_a_refused_dual_handoff_puts_the_address_back),
		T(test_a_block_from_another_kernel_is_refused),
		T(test_a_written_block_is_coming_not_ready),
		T(test_a_failed_step_leaves_the_block_untaken),
		T(test_a_block_written_and_never_released_is_refused),
		T(test_a_nic_that_never_appears_fails_at_its_bound),
		T(test_a_takeover_that_fails_after_the_nic_gives_it_back),
		T(test_a_takeover_that_cannot_let_go_keeps_the_claim),
		T(test_a_claimed_block_cannot_be_withdrawn),
		T(test_a_block_not_claimed_in_time_is_withdrawn),
		T(test_a_new_block_is_open_again),
		T(test_a_claimed_block_whose_lease_runs_out_is_taken_back),
		T(test_a_takeover_past_its_lease_does_not_go_live),
		T(test_more_devices_than_pci_skip_takes_is_an_error),
		T(test_b_skips_all_but_bridges_and_its_own_nic),
		T(test_b_takes_whole_free_blocks_of_ram),
		T(test_a_cycles_the_cpu_twin_boot_will_give),
		cmocka_unit_test(test_stamps_print_from_the_first),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
