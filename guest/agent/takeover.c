/* takeover.c - the agents' side of a twin handoff (see takeover.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "takeover.h"

int64_t takeover_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void takeover_sleep(int64_t ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000LL, .tv_nsec = ns % 1000000000LL };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int takeover_wait_fd(int fd, bool out, int64_t deadline_ns)
{
	struct pollfd pfd = { .fd = fd, .events = out ? POLLOUT : POLLIN };

	for (;;) {
		int64_t left = deadline_ns - takeover_now();
		int rc;

		if (left <= 0)
			return -ETIMEDOUT;
		rc = poll(&pfd, 1, (int)(left / 1000000) + 1);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -errno;
	}
}

int read_first_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	int rc = -1;

	if (f && fgets(buf, (int)len, f)) {
		buf[strcspn(buf, "\n")] = '\0';
		rc = 0;
	}
	if (f)
		fclose(f);
	return rc;
}

int sysfs_write(const char *path, const char *text, char *why, size_t len)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ssize_t n = -1;

	if (fd >= 0) {
		n = write(fd, text, strlen(text));
		close(fd);
	}
	if (n == (ssize_t)strlen(text))
		return 0;
	snprintf(why, len, "cannot write '%.*s' to %s: %s", (int)strcspn(text, "\n"), text, path,
		 strerror(errno));
	return -1;
}

/* /sys/kernel/rcu_expedited, open from takeover_prepare() on; -1 if it cannot be. */
static int rcu_fd = -1;
/* What it was before: '1', expedited already, it stays so; 0 until looked at. */
static char rcu_before;

void takeover_prepare(const char *sysfs)
{
	char path[PATH_MAX];

	if (rcu_before)
		return;
	rcu_before = '0';
	snprintf(path, sizeof(path), "%s/kernel/rcu_expedited", sysfs);
	rcu_fd = open(path, O_RDWR | O_CLOEXEC);
	if (rcu_fd >= 0 && (pread(rcu_fd, &rcu_before, 1, 0) != 1 || rcu_before == '1')) {
		close(rcu_fd);
		rcu_fd = -1;
	}
}

/*
 * Expedited RCU grace periods on (or back off): unbinding a NIC and
 * probing one wait for several grace periods, each a good many ms under
 * TCG when not expedited.  Best effort: a kernel without the knob waits.
 * The file is open beforehand (takeover_prepare()): one write each.
 */
static void rcu_expedite(const char *sysfs, bool on)
{
	takeover_prepare(sysfs);
	if (rcu_fd >= 0 && pwrite(rcu_fd, on ? "1\n" : "0\n", 2, 0) != 2) {
		/* Refused: from now on the grace periods take their time. */
		close(rcu_fd);
		rcu_fd = -1;
	}
}

int pci_skip_edit(const char *sysfs, const char *bdf, bool add, char *why, size_t len)
{
	char path[PATH_MAX], list[4096], out[4096] = "";
	size_t used = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/bus/pci/skip", sysfs);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, list, sizeof(list) - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n < 0) {
		snprintf(why, len, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	list[n] = '\0';
	list[strcspn(list, "\n")] = '\0';
	for (char *save = NULL, *e = strtok_r(list, ",", &save); e; e = strtok_r(NULL, ",", &save))
		if (strcmp(e, bdf) != 0)
			used += (size_t)snprintf(out + used, sizeof(out) - used, "%s%s",
						 used ? "," : "", e);
	if (add)
		used += (size_t)snprintf(out + used, sizeof(out) - used, "%s%s", used ? "," : "",
					 bdf);
	snprintf(out + used, sizeof(out) - used, "\n");
	return sysfs_write(path, out, why, len);
}

/* The netdev of PCI device @bdf (its own, or its virtio device's), into @ifname; 0 or -1. */
static int pci_netdev(const char *sysfs, const char *bdf, char *ifname, size_t len)
{
	char dev[PATH_MAX], sub[PATH_MAX + 64];
	struct dirent *de;
	DIR *d;
	int rc = -1;

	snprintf(dev, sizeof(dev), "%s/bus/pci/devices/%s", sysfs, bdf);
	d = opendir(dev);
	while (d && rc != 0 && (de = readdir(d))) {
		DIR *nd;
		struct dirent *ne;

		if (strcmp(de->d_name, "net") && strncmp(de->d_name, "virtio", 6))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s%s", dev, de->d_name,
			 strcmp(de->d_name, "net") ? "/net" : "");
		nd = opendir(sub);
		while (nd && (ne = readdir(nd)))
			if (ne->d_name[0] != '.') {
				snprintf(ifname, len, "%s", ne->d_name);
				rc = 0;
				break;
			}
		if (nd)
			closedir(nd);
	}
	if (d)
		closedir(d);
	return rc;
}

/* One NIC: take A's off the skip list, rescan, wait for its netdev. */
static int take_nic(struct taker *t, int64_t deadline)
{
	char path[PATH_MAX];

	if (pci_skip_edit(t->sysfs, t->nic_bdf, false, t->why, sizeof(t->why)) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/bus/pci/rescan", t->sysfs);
	if (sysfs_write(path, "1\n", t->why, sizeof(t->why)) != 0)
		return -1;
	/* The probe runs within the rescan; a driver probing asynchronously says so by netlink. */
	while (pci_netdev(t->sysfs, t->nic_bdf, t->ifname, sizeof(t->ifname)) != 0) {
		if (takeover_now() >= deadline) {
			snprintf(t->why, sizeof(t->why),
				 "A's NIC %s has no network device %lld ms after the rescan",
				 t->nic_bdf, (long long)(t->step_timeout_ns / 1000000));
			return -1;
		}
		t->net->wait_links(t->net->ctx, deadline);
	}
	return 0;
}

/*
 * Test hook: while t->stall_hook exists (up to a step's bound) B stalls,
 * as a B that died would; 0, or -1 (t->why) once A took the block back.
 */
static int take_stall(struct taker *t)
{
	int64_t deadline = takeover_now() + t->step_timeout_ns;

	while (access(t->stall_hook, F_OK) == 0 && takeover_now() < deadline) {
		if (handoff_outcome(t->region, t->from_boot, NULL) == HANDOFF_EXPIRED) {
			snprintf(t->why, sizeof(t->why),
				 "kernel A took the service back: B's lease ran out (stalled by %s)",
				 t->stall_hook);
			return -1;
		}
		takeover_sleep(1000000LL);
	}
	return 0;
}

static enum take_result take_now(struct taker *t)
{
	const struct take_net *net = t->net;
	int64_t step = t->step_timeout_ns;

	if (t->nic_bdf) {
		int rc;

		rcu_expedite(t->sysfs, true);
		rc = take_nic(t, takeover_now() + step);
		rcu_expedite(t->sysfs, false);
		if (rc != 0)
			return TAKE_FAILED;
	} else {
		snprintf(t->ifname, sizeof(t->ifname), "%s", t->own_nic ? t->own_nic : "");
	}
	t->b_ns[B_NIC] = takeover_now();
	if (t->stall_hook && take_stall(t) != 0)
		return TAKE_EXPIRED;
	if (t->fail_hook && access(t->fail_hook, F_OK) == 0) {
		snprintf(t->why, sizeof(t->why), "stopped by the test hook %s", t->fail_hook);
		return TAKE_FAILED;
	}
	if (t->cidr) {
		if (net->link_up(net->ctx, t->ifname, takeover_now() + step, t->why,
				 sizeof(t->why)) != 0)
			return TAKE_FAILED;
		t->b_ns[B_LINK] = takeover_now();
		/* Staged: the address is there already, it only has to speak. */
		if ((t->staged ? net->arp_mute(net->ctx, t->ifname, false, t->why, sizeof(t->why))
			       : net->add_addr(net->ctx, t->ifname, t->cidr, t->why,
					       sizeof(t->why))) != 0)
			return TAKE_FAILED;
		t->b_ns[B_ADDR] = takeover_now();
		/* Before the announcement: the first request may come right after it. */
		if (t->neigh.count && net->add_neighbours) {
			if (net->add_neighbours(net->ctx, t->ifname, &t->neigh, t->why,
						sizeof(t->why)) != 0)
				return TAKE_FAILED;
			t->b_ns[B_NEIGH] = takeover_now();
		}
		if (net->announce(net->ctx, t->ifname, t->cidr, t->why, sizeof(t->why)) != 0)
			return TAKE_FAILED;
		t->b_ns[B_ARP] = takeover_now();
	}
	return TAKE_DONE;
}

/*
 * B lets go of the service address it took: muted again if it was staged
 * (as before the handoff), removed if the handoff set it.  0, or -1 with @why.
 */
static int take_drop_addr(struct taker *t, char *why, size_t len)
{
	const struct take_net *net = t->net;

	if (!t->b_ns[B_ADDR])
		return 0;
	return t->staged ? net->arp_mute(net->ctx, t->ifname, true, why, len)
			 : net->del_addr(net->ctx, t->ifname, t->cidr, why, len);
}

/*
 * A step of the takeover failed: let go of what B took of A's, so that A
 * can take it back (the address; one NIC: unbound from B's driver, removed
 * from B's PCI tree and skipped again, so that nothing of B touches it
 * afterwards).  0, or -1 with @why: B may still hold the NIC.
 */
static int take_undo(struct taker *t, char *why, size_t len)
{
	char path[PATH_MAX];
	int rc = 0;

	if (take_drop_addr(t, why, len) != 0)
		return -1;
	if (!t->nic_bdf)
		return 0;
	rcu_expedite(t->sysfs, true);
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/driver/unbind", t->sysfs, t->nic_bdf);
	if (access(path, F_OK) == 0)
		rc = sysfs_write(path, t->nic_bdf, why, len);
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/remove", t->sysfs, t->nic_bdf);
	if (rc == 0 && access(path, F_OK) == 0)
		rc = sysfs_write(path, "1\n", why, len);
	rcu_expedite(t->sysfs, false);
	if (rc == 0)
		rc = pci_skip_edit(t->sysfs, t->nic_bdf, true, why, len);
	return rc;
}

/*
 * After a failed step (t->why says which): undo it and give the block back
 * (CLAIM_B to CLAIM_RETURNED), TAKE_RETURNED; or, when B cannot let go of
 * everything, keep the claim (A must not take back what B may hold),
 * TAKE_FAILED with both reasons.
 */
static enum take_result take_give_back(struct taker *t)
{
	char why[200];
	size_t used = strlen(t->why);

	if (take_undo(t, why, sizeof(why)) != 0) {
		snprintf(t->why + used, sizeof(t->why) - used, "; and B cannot let go of it: %s",
			 why);
		return TAKE_FAILED;
	}
	if (handoff_claim(t->region, CLAIM_B, CLAIM_RETURNED, NULL) != 1) {
		snprintf(t->why + used, sizeof(t->why) - used,
			 "; and B cannot give the state block back");
		return TAKE_FAILED;
	}
	return TAKE_RETURNED;
}

/*
 * Everything taken: B serves from the block from now on (claim "B" to
 * "live"), unless its lease ran out and A took the service back: then B
 * lets go of the address (take_drop_addr()) and touches nothing of the
 * NIC, which A drives again.
 */
static enum take_result take_go_live(struct taker *t)
{
	uint32_t was = 0;
	char why[128];
	int won = handoff_claim(t->region, CLAIM_B, CLAIM_LIVE, &was);

	if (won > 0)
		return TAKE_DONE;
	if (won < 0) {
		snprintf(t->why, sizeof(t->why), "cannot map the state block in %s: %s", t->region,
			 strerror(errno));
		return TAKE_FAILED;
	}
	snprintf(t->why, sizeof(t->why),
		 "kernel A took the service back: B's lease ran out before it served (claim %u)",
		 was);
	take_drop_addr(t, why, sizeof(why));
	return TAKE_EXPIRED;
}

int take_stage(struct taker *t)
{
	const struct take_net *net = t->net;
	char why[128];

	t->staged = false;
	if (!t->own_nic || !t->cidr || !net->arp_mute) {
		snprintf(t->why, sizeof(t->why), "nothing to stage: no own NIC, address or mute");
		return -1;
	}
	if (net->arp_mute(net->ctx, t->own_nic, true, t->why, sizeof(t->why)) != 0)
		return -1;
	if (net->add_addr(net->ctx, t->own_nic, t->cidr, t->why, sizeof(t->why)) != 0) {
		net->arp_mute(net->ctx, t->own_nic, false, why, sizeof(why));
		return -1;
	}
	t->staged = true;
	return 0;
}

int take_commit(struct taker *t)
{
	if (handoff_mark(t->region, HANDOFF_TAKEN) == 0)
		return 0;
	snprintf(t->why, sizeof(t->why), "cannot mark the state block in %s taken", t->region);
	return -1;
}

enum take_result take_poll(struct taker *t)
{
	char why[200];
	enum handoff_status s = handoff_read(t->region, t->from_boot, &t->counter, t->a_ns,
					     &t->neigh, why, sizeof(why));
	enum take_result r;

	if (s == HANDOFF_OK) {
		uint32_t was;
		int won;

		if (t->hold && access(t->hold, F_OK) == 0) {
			if (handoff_outcome(t->region, t->from_boot, NULL) != HANDOFF_WITHDRAWN)
				return TAKE_WAITING;
			snprintf(t->why, sizeof(t->why),
				 "kernel A withdrew the state block, which B (held by %s) had "
				 "not claimed",
				 t->hold);
			return TAKE_WITHDRAWN;
		}
		/* Seen now: the claim's cost shows in the next step of the breakdown. */
		t->b_ns[B_SEEN] = takeover_now();
		/* Nothing of A's is touched before the block is ours. */
		won = handoff_claim(t->region, CLAIM_OPEN, CLAIM_B, &was);
		if (won < 0) {
			snprintf(t->why, sizeof(t->why), "cannot map the state block in %s: %s",
				 t->region, strerror(errno));
			return TAKE_REFUSED;
		}
		if (!won) {
			if (was == CLAIM_WITHDRAWN)
				snprintf(t->why, sizeof(t->why),
					 "kernel A withdrew the state block before B claimed it");
			else
				snprintf(t->why, sizeof(t->why),
					 "the state block was claimed already (claim %u)", was);
			return TAKE_WITHDRAWN;
		}
		if (t->net->console_quiet)
			t->net->console_quiet(t->net->ctx, true);
		r = take_now(t);
		if (r == TAKE_FAILED)
			r = take_give_back(t);
		else if (r == TAKE_DONE)
			r = take_go_live(t);
		if (r != TAKE_DONE && t->net->console_quiet)
			t->net->console_quiet(t->net->ctx, false);
		return r;
	}
	if (s == HANDOFF_NOT_READY && !t->coming)
		t->coming_since = takeover_now();
	t->coming = s == HANDOFF_NOT_READY;
	if (t->coming && takeover_now() - t->coming_since > TAKE_NOT_READY_NS) {
		snprintf(t->why, sizeof(t->why),
			 "the state block was written but not released within %lld s: %s",
			 TAKE_NOT_READY_NS / 1000000000LL, why);
		return TAKE_REFUSED;
	}
	if (s != HANDOFF_CORRUPT)
		t->corrupt_since = 0;
	else if (!t->corrupt_since)
		t->corrupt_since = takeover_now();
	/* A taken block is the previous handoff's: a new one is coming. */
	if ((s == HANDOFF_STALE && !strstr(why, "taken")) || s == HANDOFF_IO ||
	    (t->corrupt_since && takeover_now() - t->corrupt_since > TAKE_CORRUPT_SETTLE_NS)) {
		snprintf(t->why, sizeof(t->why), "state block is %s: %s", handoff_status_name(s),
			 why);
		return TAKE_REFUSED;
	}
	return TAKE_WAITING;
}

/* The PCI address of the device behind netdev @ifname, into @bdf. */
static int netdev_pci(const char *sysfs, const char *ifname, char *bdf, size_t len, char *why,
		      size_t wlen)
{
	char link[PATH_MAX], real[PATH_MAX];
	char *slash;

	snprintf(link, sizeof(link), "%s/class/net/%s/device", sysfs, ifname);
	if (!realpath(link, real)) {
		snprintf(why, wlen, "%s: %s", link, strerror(errno));
		return -1;
	}
	/* A virtio NIC's device is virtioN, below the PCI function; another NIC's is the function. */
	slash = strrchr(real, '/');
	if (slash && !strncmp(slash + 1, "virtio", 6))
		*slash = '\0';
	snprintf(bdf, len, "%s", basename(real));
	return 0;
}

/* @nic's PCI function and its driver, into @bdf and @driver; 0, or -1 with @why. */
static int nic_function(const char *sysfs, const char *nic, char *bdf, size_t blen,
			char *driver, size_t dlen, char *why, size_t wlen)
{
	char link[PATH_MAX], real[PATH_MAX];

	if (netdev_pci(sysfs, nic, bdf, blen, why, wlen) != 0)
		return -1;
	snprintf(link, sizeof(link), "%s/bus/pci/devices/%s/driver", sysfs, bdf);
	if (!realpath(link, real)) {
		snprintf(why, wlen, "%s: %s", link, strerror(errno));
		return -1;
	}
	snprintf(driver, dlen, "%s", basename(real));
	return 0;
}

/*
 * The NIC give() releases, looked up by give_prepare() before the window:
 * its PCI function and driver, and twin_kernel/release open for writing
 * (-1: not a twin kernel's, or not opened).  nic empty: give() looks.
 */
static struct {
	char nic[64], bdf[64], driver[64];
	int release_fd;
} given = { .release_fd = -1 };

void give_prepare(const char *sysfs, const char *nic)
{
	char path[PATH_MAX], why[256];

	if (given.release_fd >= 0)
		close(given.release_fd);
	given.release_fd = -1;
	given.nic[0] = '\0';
	if (!nic || nic_function(sysfs, nic, given.bdf, sizeof(given.bdf), given.driver,
				 sizeof(given.driver), why, sizeof(why)) != 0)
		return;
	snprintf(given.nic, sizeof(given.nic), "%s", nic);
	snprintf(path, sizeof(path), "%s/kernel/twin_kernel/release", sysfs);
	given.release_fd = open(path, O_WRONLY | O_CLOEXEC);
}

/* twin_kernel/release: @bdf to it, through the file give_prepare() opened if it did. */
static int release_function(struct giver *g, const char *bdf)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/kernel/twin_kernel/release", g->sysfs);
	if (given.release_fd < 0)
		return sysfs_write(path, bdf, g->why, sizeof(g->why));
	if (pwrite(given.release_fd, bdf, strlen(bdf), 0) == (ssize_t)strlen(bdf))
		return 0;
	snprintf(g->why, sizeof(g->why), "cannot write '%s' to %s: %s", bdf, path,
		 strerror(errno));
	return -1;
}

int give(struct giver *g, uint64_t counter)
{
	char path[PATH_MAX];

	/* Known before the NIC goes: B's first reply then needs no ARP exchange. */
	g->neigh.count = 0;
	if (g->release_nic && g->net && g->net->neighbours)
		g->net->neighbours(g->net->ctx, g->release_nic, &g->neigh);
	if (handoff_write(g->region, HANDOFF_WRITTEN, counter, g->boot_id, g->a_ns, &g->neigh) !=
	    0) {
		snprintf(g->why, sizeof(g->why), "cannot write the state block to %s: %s",
			 g->region, strerror(errno));
		return -1;
	}
	g->a_ns[A_WRITTEN] = takeover_now();
	g->muted = false;
	if (g->release_nic && !g->unbind && g->cidr) {
		int rc;

		/*
		 * Muted, the address is nobody's on the network: B may announce
		 * it.  It goes from A's NIC once B took the block (give_finish()),
		 * outside the window; a kernel that cannot mute removes it now.
		 */
		g->muted = g->net->arp_mute && g->net->arp_mute(g->net->ctx, g->release_nic, true,
								 g->why, sizeof(g->why)) == 0;
		if (!g->muted) {
			rcu_expedite(g->sysfs, true);
			rc = g->net->del_addr(g->net->ctx, g->release_nic, g->cidr, g->why,
					      sizeof(g->why));
			rcu_expedite(g->sysfs, false);
			if (rc != 0)
				return -1;
		}
	}
	if (g->release_nic && g->unbind) {
		/* What give_back() binds again: looked up before the window if it could be. */
		if (!strcmp(given.nic, g->release_nic)) {
			snprintf(g->bdf, sizeof(g->bdf), "%s", given.bdf);
			snprintf(g->driver, sizeof(g->driver), "%s", given.driver);
		} else if (nic_function(g->sysfs, g->release_nic, g->bdf, sizeof(g->bdf), g->driver,
					sizeof(g->driver), g->why, sizeof(g->why)) != 0) {
			return -1;
		}
		/*
		 * A twin kernel releases the function with its driver bound:
		 * quiesced, nothing of the driver torn down, within the window
		 * (twin_kernel/release).  A kernel without it unbinds.
		 */
		snprintf(path, sizeof(path), "%s/kernel/twin_kernel/release", g->sysfs);
		g->released = given.release_fd >= 0 || access(path, W_OK) == 0;
		if (g->released) {
			if (release_function(g, g->bdf) != 0)
				return -1;
		} else {
			snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/driver/unbind",
				 g->sysfs, g->bdf);
			rcu_expedite(g->sysfs, true);
			if (sysfs_write(path, g->bdf, g->why, sizeof(g->why)) != 0) {
				rcu_expedite(g->sysfs, false);
				return -1;
			}
			rcu_expedite(g->sysfs, false);
		}
	}
	g->a_ns[A_RELEASED] = takeover_now();
	g->a_ns[A_READY] = takeover_now();
	/*
	 * The damaged block (the refusal test) in one write: a good ready
	 * block first, then the damage, and B could take the good one.
	 */
	if (g->corrupt ? handoff_corrupt(g->region) != 0
		       : handoff_write(g->region, HANDOFF_READY, counter, g->boot_id, g->a_ns,
					       &g->neigh) != 0) {
		snprintf(g->why, sizeof(g->why), "cannot publish the state block in %s: %s",
			 g->region, strerror(errno));
		return -1;
	}
	return 0;
}

int give_back(struct giver *g, int64_t step_timeout_ns, char *ifname, size_t len)
{
	const struct take_net *net = g->net;
	char path[PATH_MAX];

	snprintf(ifname, len, "%s", g->release_nic ? g->release_nic : "");
	if (g->release_nic && g->unbind) {
		int64_t deadline = takeover_now() + step_timeout_ns;
		int rc;

		rcu_expedite(g->sysfs, true);
		/* Released with its driver bound: unbound first, the kernel's again. */
		snprintf(path, sizeof(path), "%s/bus/pci/drivers/%s/unbind", g->sysfs, g->driver);
		rc = g->released ? sysfs_write(path, g->bdf, g->why, sizeof(g->why)) : 0;
		if (rc == 0) {
			g->released = false;
			snprintf(path, sizeof(path), "%s/bus/pci/drivers/%s/bind", g->sysfs,
				 g->driver);
			rc = sysfs_write(path, g->bdf, g->why, sizeof(g->why));
		}
		rcu_expedite(g->sysfs, false);
		if (rc != 0)
			return -1;
		while (pci_netdev(g->sysfs, g->bdf, ifname, len) != 0) {
			if (takeover_now() >= deadline) {
				snprintf(g->why, sizeof(g->why),
					 "NIC %s has no network device %lld ms after it was bound "
					 "again",
					 g->bdf, (long long)(step_timeout_ns / 1000000));
				return -1;
			}
			net->wait_links(net->ctx, deadline);
		}
	}
	if (!g->release_nic || !g->cidr)
		return 0;
	if ((g->unbind &&
	     net->link_up(net->ctx, ifname, takeover_now() + step_timeout_ns, g->why,
			  sizeof(g->why)) != 0) ||
	    (g->muted ? net->arp_mute(net->ctx, ifname, false, g->why, sizeof(g->why))
		      : net->add_addr(net->ctx, ifname, g->cidr, g->why, sizeof(g->why))) != 0 ||
	    net->announce(net->ctx, ifname, g->cidr, g->why, sizeof(g->why)) != 0)
		return -1;
	g->muted = false;
	return 0;
}

int give_finish(struct giver *g)
{
	const struct take_net *net = g->net;

	if (!g->muted)
		return 0;
	if (net->del_addr(net->ctx, g->release_nic, g->cidr, g->why, sizeof(g->why)) != 0)
		return -1;
	g->muted = false;
	return net->arp_mute(net->ctx, g->release_nic, false, g->why, sizeof(g->why));
}

int give_wait(const char *region, const char *boot_id, int64_t poll_ns, int64_t claim_deadline_ns,
	      int64_t lease_ns, int64_t deadline_ns)
{
	bool claimed = false; /* by B (or B's claim beat ours): B's to end now */
	int64_t claimed_at = 0; /* when we saw B's claim, for its lease */

	for (;;) {
		uint32_t claim = CLAIM_OPEN;
		int outcome = handoff_outcome(region, boot_id, &claim);
		int64_t now = takeover_now();

		if (outcome != 0)
			return outcome;
		if (claim == CLAIM_B && !claimed_at)
			claimed_at = now;
		claimed = claimed || claim == CLAIM_B || claim == CLAIM_LIVE;
		if (claim == CLAIM_B && lease_ns && now - claimed_at >= lease_ns) {
			int won = handoff_claim(region, CLAIM_B, CLAIM_EXPIRED, &claim);

			if (won != 0)
				return won > 0 ? HANDOFF_EXPIRED : -1;
		}
		if (!claimed && claim_deadline_ns && now >= claim_deadline_ns) {
			int won = handoff_claim(region, CLAIM_OPEN, CLAIM_WITHDRAWN, &claim);

			if (won != 0)
				return won > 0 ? HANDOFF_WITHDRAWN : -1;
			claimed = true; /* B's claim came first */
		}
		if (now >= deadline_ns)
			return 0;
		takeover_sleep(poll_ns);
	}
}

int give_wait_taken(const char *region, int64_t poll_ns, int64_t deadline_ns)
{
	int outcome = give_wait(region, NULL, poll_ns, 0, 0, deadline_ns);

	return outcome < 0 ? -1 : outcome == HANDOFF_TAKEN;
}

void takeover_format_stamps(const int64_t *ns, int n, const char *(*name)(int), char *buf,
			    size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < n && used < len; i++) {
		if (!ns[i])
			continue;
		used += (size_t)snprintf(buf + used, len - used, "%s%s=%lld", used ? " " : "",
					 name(i), (long long)(ns[i] - ns[0]));
	}
}

const char *take_step_name(int i)
{
	static const char *names[B_STEPS] = {
		[B_SEEN] = "seen", [B_NIC] = "nic", [B_LINK] = "link",
		[B_ADDR] = "addr", [B_NEIGH] = "neigh", [B_ARP] = "arp", [B_REQUEST] = "request",
		[B_REPLY] = "reply",
	};

	return i >= 0 && i < B_STEPS ? names[i] : "?";
}
