/*
 * netif.c - the network steps of kernel B's takeover (struct take_net) in
 * the guest: rtnetlink for the link and the address, a packet socket for
 * the gratuitous ARP, syslog(2) for the console log level.  No program is
 * run: under TCG a fork and exec cost milliseconds each.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "netif.h"

/* syslog(2)'s "set the console log level" (SYSLOG_ACTION_CONSOLE_LEVEL). */
#define CONSOLE_LEVEL_ACTION 8
/* While B takes over: errors and worse only (console_loglevel 4). */
#define QUIET_LEVEL 4

struct nl_req {
	struct nlmsghdr nh;
	union {
		struct ifinfomsg ifi;
		struct ifaddrmsg ifa;
		struct ndmsg nd;
	};
	char attrs[64];
};

static int nl_open(unsigned groups)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = groups };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Send @req on @fd and read its acknowledgement; 0 or -errno. */
static int nl_talk(int fd, struct nl_req *req)
{
	struct sockaddr_nl to = { .nl_family = AF_NETLINK };
	char buf[4096];
	ssize_t n;

	req->nh.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	req->nh.nlmsg_seq = 1;
	if (sendto(fd, req, req->nh.nlmsg_len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return -errno;
	for (;;) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (unsigned)n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_ERROR && h->nlmsg_seq == 1)
				return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
		}
	}
}

static void nl_attr(struct nl_req *req, unsigned short type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)((char *)req + NLMSG_ALIGN(req->nh.nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	req->nh.nlmsg_len = NLMSG_ALIGN(req->nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/*
 * Has @ifname carrier: 1, 0, or -1 when it cannot be told.  Not IFF_RUNNING:
 * the operational state follows the carrier through the link watch, which
 * may wait up to a second, while packets flow as soon as the carrier is on.
 */
static int link_carrier(const char *ifname)
{
	char path[64], c = 0;
	int fd, n;

	snprintf(path, sizeof(path), "/sys/class/net/%s/carrier", ifname);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = (int)read(fd, &c, 1);
	close(fd);
	return n == 1 ? c == '1' : 0;
}

static int wait_links(void *ctx, int64_t deadline_ns)
{
	struct netif *n = ctx;
	struct pollfd pfd = { .fd = n->events, .events = POLLIN };
	int64_t left = deadline_ns - takeover_now();
	char buf[8192];

	if (left <= 0)
		return -1;
	if (poll(&pfd, 1, (int)(left / 1000000) + 1) > 0)
		while (recv(n->events, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			;
	return 0;
}

/*
 * The index of @ifname (0: none), asked on the packet socket opened
 * beforehand: if_nametoindex() opens and closes a socket of its own.
 */
static int link_index(struct netif *n, const char *ifname, short *flags)
{
	struct ifreq ifr = { 0 };

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(n->packet, SIOCGIFINDEX, &ifr) != 0)
		return 0;
	if (flags) {
		int index = ifr.ifr_ifindex;

		if (ioctl(n->packet, SIOCGIFFLAGS, &ifr) != 0)
			return 0;
		*flags = ifr.ifr_flags;
		return index;
	}
	return ifr.ifr_ifindex;
}

static int link_up(void *ctx, const char *ifname, int64_t deadline_ns, char *why, size_t len)
{
	struct netif *n = ctx;
	struct nl_req req = { .nh = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)),
				      .nlmsg_type = RTM_NEWLINK } };
	short flags = 0;
	int index = link_index(n, ifname, &flags), rc, carrier;

	if (index <= 0) {
		snprintf(why, len, "no network device %s", ifname);
		return -1;
	}
	/* Up already (B's own NIC, brought up at boot): nothing to ask the kernel. */
	if ((flags & IFF_UP) && link_carrier(ifname) == 1)
		return 0;
	req.ifi.ifi_family = AF_UNSPEC;
	req.ifi.ifi_index = index;
	req.ifi.ifi_flags = IFF_UP;
	req.ifi.ifi_change = IFF_UP;
	rc = nl_talk(n->talk, &req);
	if (rc != 0) {
		snprintf(why, len, "cannot bring %s up: %s", ifname, strerror(-rc));
		return -1;
	}
	/* The kernel announces a carrier change by RTM_NEWLINK. */
	while ((carrier = link_carrier(ifname)) != 1) {
		if (carrier < 0 || wait_links(n, deadline_ns) != 0) {
			snprintf(why, len, "%s has no carrier after %lld ms", ifname,
				 (long long)(n->step_timeout_ns / 1000000));
			return -1;
		}
	}
	return 0;
}

/* "10.213.0.10/24" into @addr and @prefix; 0 or -1. */
static int parse_cidr(const char *cidr, struct in_addr *addr, int *prefix)
{
	char ip[32];
	const char *slash = strchr(cidr, '/');

	snprintf(ip, sizeof(ip), "%.*s", slash ? (int)(slash - cidr) : (int)strlen(cidr), cidr);
	*prefix = slash ? atoi(slash + 1) : 32;
	return inet_pton(AF_INET, ip, addr) == 1 && *prefix >= 0 && *prefix <= 32 ? 0 : -1;
}

static int change_addr(struct netif *n, bool add, const char *ifname, const char *cidr,
		       char *why, size_t len)
{
	struct nl_req req = { .nh = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg)),
				      .nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR,
				      .nlmsg_flags = add ? NLM_F_CREATE | NLM_F_REPLACE : 0 } };
	struct in_addr addr;
	int prefix, rc;

	if (parse_cidr(cidr, &addr, &prefix) != 0) {
		snprintf(why, len, "not an address/prefix: %s", cidr);
		return -1;
	}
	req.ifa.ifa_family = AF_INET;
	req.ifa.ifa_prefixlen = (unsigned char)prefix;
	req.ifa.ifa_index = (unsigned)link_index(n, ifname, NULL);
	nl_attr(&req, IFA_LOCAL, &addr, sizeof(addr));
	nl_attr(&req, IFA_ADDRESS, &addr, sizeof(addr));
	rc = nl_talk(n->talk, &req);
	if (rc != 0) {
		snprintf(why, len, "cannot %s %s the address %s: %s", add ? "give" : "take from",
			 ifname, cidr, strerror(-rc));
		return -1;
	}
	return 0;
}

static int add_addr(void *ctx, const char *ifname, const char *cidr, char *why, size_t len)
{
	return change_addr(ctx, true, ifname, cidr, why, len);
}

static int del_addr(void *ctx, const char *ifname, const char *cidr, char *why, size_t len)
{
	return change_addr(ctx, false, ifname, cidr, why, len);
}

/* One ARP packet in an Ethernet frame, as sent and received on the packet socket. */
struct arp_frame {
	struct ether_header eth;
	struct arphdr arp;
	unsigned char sha[ETH_ALEN], spa[4], tha[ETH_ALEN], tpa[4];
} __attribute__((packed));

/* An ARP request from @mac and @spa (0.0.0.0: a probe) for @tpa, to everyone, into @frame. */
static void arp_request(struct arp_frame *frame, const void *mac, const void *spa,
			const void *tpa)
{
	memset(frame, 0, sizeof(*frame));
	memset(frame->eth.ether_dhost, 0xff, ETH_ALEN);
	memcpy(frame->eth.ether_shost, mac, ETH_ALEN);
	frame->eth.ether_type = htons(ETHERTYPE_ARP);
	frame->arp.ar_hrd = htons(ARPHRD_ETHER);
	frame->arp.ar_pro = htons(ETHERTYPE_IP);
	frame->arp.ar_hln = ETH_ALEN;
	frame->arp.ar_pln = 4;
	frame->arp.ar_op = htons(ARPOP_REQUEST);
	memcpy(frame->sha, mac, ETH_ALEN);
	memcpy(frame->spa, spa, 4);
	memcpy(frame->tpa, tpa, 4);
}

/* @ifname's MAC into @mac and its index into *@index; 0, or -1 with errno. */
static int link_mac(struct netif *n, const char *ifname, unsigned char *mac, int *index)
{
	struct ifreq ifr = { 0 };

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(n->packet, SIOCGIFHWADDR, &ifr) != 0)
		return -1;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	*index = link_index(n, ifname, NULL);
	return *index > 0 ? 0 : -1;
}

/* An ARP request for our own address, from it, to everyone: "this address is here now". */
static int announce(void *ctx, const char *ifname, const char *cidr, char *why, size_t len)
{
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ARP),
				  .sll_halen = ETH_ALEN };
	struct netif *n = ctx;
	struct arp_frame frame;
	unsigned char mac[ETH_ALEN];
	struct in_addr addr;
	int prefix;

	if (parse_cidr(cidr, &addr, &prefix) != 0) {
		snprintf(why, len, "not an address/prefix: %s", cidr);
		return -1;
	}
	if (link_mac(n, ifname, mac, &to.sll_ifindex) != 0) {
		snprintf(why, len, "cannot announce %s on %s: %s", cidr, ifname, strerror(errno));
		return -1;
	}
	arp_request(&frame, mac, &addr, &addr);
	memset(to.sll_addr, 0xff, ETH_ALEN);
	if (sendto(n->packet, &frame, sizeof(frame), 0, (struct sockaddr *)&to, sizeof(to)) !=
	    (ssize_t)sizeof(frame)) {
		snprintf(why, len, "cannot announce %s on %s: %s", cidr, ifname, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * RFC 5227's probe for @cidr's address on @ifname: from 0.0.0.0, so that
 * no cache learns from it, and the answer of whoever holds the address,
 * waited for up to @deadline_ns.  1 answered, 0 not by then, -1 with @why.
 */
static int probe_holder(void *ctx, const char *ifname, const char *cidr, int64_t deadline_ns,
			char *why, size_t len)
{
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ARP),
				  .sll_halen = ETH_ALEN };
	struct netif *n = ctx;
	struct arp_frame frame, got;
	unsigned char mac[ETH_ALEN];
	struct in_addr addr;
	int prefix, fd, rc = 0;
	const uint32_t none = 0;

	if (parse_cidr(cidr, &addr, &prefix) != 0) {
		snprintf(why, len, "not an address/prefix: %s", cidr);
		return -1;
	}
	if (link_mac(n, ifname, mac, &to.sll_ifindex) != 0) {
		snprintf(why, len, "no network device %s: %s", ifname, strerror(errno));
		return -1;
	}
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ARP));
	if (fd < 0 || bind(fd, (struct sockaddr *)&to, sizeof(to)) != 0) {
		snprintf(why, len, "cannot listen for ARP on %s: %s", ifname, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	arp_request(&frame, mac, &none, &addr);
	memset(to.sll_addr, 0xff, ETH_ALEN);
	if (sendto(fd, &frame, sizeof(frame), 0, (struct sockaddr *)&to, sizeof(to)) !=
	    (ssize_t)sizeof(frame)) {
		snprintf(why, len, "cannot probe for %s on %s: %s", cidr, ifname, strerror(errno));
		close(fd);
		return -1;
	}
	while (rc == 0 && takeover_wait_fd(fd, false, deadline_ns) == 0) {
		if (recv(fd, &got, sizeof(got), MSG_DONTWAIT) == (ssize_t)sizeof(got) &&
		    got.arp.ar_op == htons(ARPOP_REPLY) && !memcmp(got.spa, &addr, 4))
			rc = 1;
	}
	close(fd);
	return rc;
}

/* A neighbour that a kernel may use as it is: it has a MAC, and has not failed. */
#define NUD_USABLE (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT)

/* One RTM_NEWNEIGH or RTM_DELNEIGH (a notice or a dump's part) into n->table. */
static void neigh_note(struct netif *n, struct nlmsghdr *h)
{
	struct ndmsg *nd = NLMSG_DATA(h);
	int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*nd)), i;
	const unsigned char *ip = NULL, *mac = NULL;
	bool usable;

	if (len < 0 || nd->ndm_family != AF_INET)
		return;
	for (struct rtattr *a = (struct rtattr *)((char *)nd + NLMSG_ALIGN(sizeof(*nd)));
	     RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == NDA_DST && RTA_PAYLOAD(a) == 4)
			ip = RTA_DATA(a);
		else if (a->rta_type == NDA_LLADDR && RTA_PAYLOAD(a) == ETH_ALEN)
			mac = RTA_DATA(a);
	}
	if (!ip)
		return;
	for (i = 0; i < n->ntable; i++)
		if (n->table[i].ifindex == nd->ndm_ifindex && !memcmp(n->table[i].ip, ip, 4))
			break;
	usable = h->nlmsg_type == RTM_NEWNEIGH && mac && (nd->ndm_state & NUD_USABLE);
	if (!usable || i == NETIF_NEIGH_MAX) {
		/* Gone, failed, or a new one when the table is full: the oldest makes room. */
		if (i == n->ntable && usable)
			i = 0;
		if (i < n->ntable) {
			memmove(&n->table[i], &n->table[i + 1],
				(size_t)(n->ntable - i - 1) * sizeof(n->table[0]));
			n->ntable--;
		}
		if (!usable)
			return;
		i = n->ntable;
	}
	if (i == n->ntable)
		n->ntable++;
	n->table[i].ifindex = nd->ndm_ifindex;
	memcpy(n->table[i].ip, ip, 4);
	memcpy(n->table[i].mac, mac, ETH_ALEN);
}

/*
 * Take in what n->neigh has queued (@flags MSG_DONTWAIT: what is there
 * now; 0: until a dump's end, each read bounded by the socket's receive
 * timeout): 1 at a dump's end, 0 when nothing more came, -1 when notices
 * were lost (the socket's buffer ran full) or it cannot be read.
 */
static int neigh_read(struct netif *n, int flags)
{
	char buf[8192];
	ssize_t got;

	for (;;) {
		got = recv(n->neigh, buf, sizeof(buf), flags);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (unsigned)got);
		     h = NLMSG_NEXT(h, got)) {
			if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR)
				return 1;
			neigh_note(n, h);
		}
	}
	return got < 0 && errno != EAGAIN && errno != EWOULDBLOCK ? -1 : 0;
}

/* The whole table again, from a dump: 0, or -1 (then it is empty). */
static int neigh_dump(struct netif *n)
{
	struct nl_req req = { .nh = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ndmsg)),
				      .nlmsg_type = RTM_GETNEIGH,
				      .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP } };
	struct sockaddr_nl to = { .nl_family = AF_NETLINK };

	n->ntable = 0;
	req.nd.ndm_family = AF_INET;
	if (sendto(n->neigh, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return -1;
	if (neigh_read(n, 0) == 1)
		return 0;
	n->ntable = 0;
	return -1;
}

static void neighbours(void *ctx, const char *ifname, struct handoff_neighbours *nb)
{
	struct netif *n = ctx;
	int index = link_index(n, ifname, NULL);

	nb->count = 0;
	if (n->neigh < 0 || index <= 0)
		return;
	/* The notices since the last look; lost ones (a full buffer): all of it again. */
	if (netif_neigh_update(n) != 0)
		return;
	for (int i = 0; i < n->ntable && nb->count < HANDOFF_NEIGH_MAX; i++) {
		if (n->table[i].ifindex != index)
			continue;
		memcpy(nb->e[nb->count].ip, n->table[i].ip, 4);
		memcpy(nb->e[nb->count].mac, n->table[i].mac, ETH_ALEN);
		nb->count++;
	}
}

/*
 * Neighbour @ip at @mac on link @index added (stale: used at once, confirmed
 * by the kernel on its own later), or (@mac NULL) deleted; 0 or -errno.
 */
static int change_neigh(struct netif *n, int index, const unsigned char *ip,
			const unsigned char *mac)
{
	struct nl_req req = { .nh = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ndmsg)),
				      .nlmsg_type = mac ? RTM_NEWNEIGH : RTM_DELNEIGH,
				      .nlmsg_flags = mac ? NLM_F_CREATE | NLM_F_REPLACE : 0 } };

	req.nd.ndm_family = AF_INET;
	req.nd.ndm_ifindex = index;
	req.nd.ndm_state = mac ? NUD_STALE : 0;
	nl_attr(&req, NDA_DST, ip, 4);
	if (mac)
		nl_attr(&req, NDA_LLADDR, mac, ETH_ALEN);
	return nl_talk(n->talk, &req);
}

static int add_neighbours(void *ctx, const char *ifname, const struct handoff_neighbours *nb,
			  char *why, size_t len)
{
	struct netif *n = ctx;
	int index = link_index(n, ifname, NULL);

	for (uint32_t i = 0; i < nb->count && i < HANDOFF_NEIGH_MAX; i++) {
		const unsigned char *ip = nb->e[i].ip;
		int rc = change_neigh(n, index, ip, nb->e[i].mac);

		if (rc != 0) {
			snprintf(why, len, "cannot add the neighbour %u.%u.%u.%u on %s: %s", ip[0],
				 ip[1], ip[2], ip[3], ifname, strerror(-rc));
			return -1;
		}
	}
	return 0;
}

int netif_warm_lo(struct netif *n, const char *cidr, char *why, size_t len)
{
	if (change_addr(n, true, "lo", cidr, why, len) != 0 ||
	    change_addr(n, false, "lo", cidr, why, len) != 0)
		return -1;
	return announce(n, "lo", cidr, why, len);
}

int netif_warm_out(struct netif *n, const char *ifname, const char *cidr, char *why, size_t len)
{
	struct sockaddr_in me = { .sin_family = AF_INET },
			   other = { .sin_family = AF_INET, .sin_port = htons(9) };
	unsigned char mac[ETH_ALEN];
	uint32_t mask, host;
	int prefix, index, fd, rc;

	if (parse_cidr(cidr, &me.sin_addr, &prefix) != 0 || prefix < 1 || prefix > 30) {
		snprintf(why, len, "no other address in %s", cidr);
		return -1;
	}
	/* The prefix's first address, or its second when it is ours: never its broadcast. */
	mask = htonl(~0u << (32 - prefix));
	host = ntohl(me.sin_addr.s_addr & ~mask);
	other.sin_addr.s_addr = (me.sin_addr.s_addr & mask) | htonl(host == 1 ? 2 : 1);
	if (link_mac(n, ifname, mac, &index) != 0) {
		snprintf(why, len, "no network device %s: %s", ifname, strerror(errno));
		return -1;
	}
	rc = change_neigh(n, index, (const unsigned char *)&other.sin_addr, mac);
	if (rc == 0)
		rc = change_neigh(n, index, (const unsigned char *)&other.sin_addr, NULL);
	if (rc != 0) {
		snprintf(why, len, "cannot add and delete a neighbour on %s: %s", ifname,
			 strerror(-rc));
		return -1;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&me, sizeof(me)) != 0 ||
	    connect(fd, (struct sockaddr *)&other, sizeof(other)) != 0) {
		snprintf(why, len, "cannot look up the route out of %s: %s", ifname,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int netif_neigh_update(struct netif *n)
{
	return n->neigh >= 0 && neigh_read(n, MSG_DONTWAIT) < 0 ? neigh_dump(n) : 0;
}

int netif_arp_prepare(struct netif *n, const char *ifname)
{
	char path[96];
	ssize_t got;

	if (n->arp_ignore >= 0 && strcmp(n->arp_if, ifname) == 0)
		return 0;
	if (n->arp_ignore >= 0)
		close(n->arp_ignore);
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/arp_ignore", ifname);
	n->arp_ignore = open(path, O_RDWR | O_CLOEXEC);
	if (n->arp_ignore < 0)
		return -1;
	snprintf(n->arp_if, sizeof(n->arp_if), "%s", ifname);
	got = pread(n->arp_ignore, n->arp_was, sizeof(n->arp_was) - 1, 0);
	n->arp_was[got > 0 ? got : 0] = '\0';
	/* Muted already (by an agent before this one): speaking means the default. */
	if (got <= 0 || atoi(n->arp_was) == 8)
		snprintf(n->arp_was, sizeof(n->arp_was), "0\n");
	return 0;
}

/* arp_ignore 8: "reply for no local address"; unmuted, what it was before. */
static int arp_mute(void *ctx, const char *ifname, bool mute, char *why, size_t len)
{
	struct netif *n = ctx;
	const char *value;

	if (netif_arp_prepare(n, ifname) != 0) {
		snprintf(why, len, "cannot open arp_ignore of %s: %s", ifname, strerror(errno));
		return -1;
	}
	value = mute ? "8\n" : n->arp_was;
	if (pwrite(n->arp_ignore, value, strlen(value), 0) != (ssize_t)strlen(value)) {
		snprintf(why, len, "cannot %s ARP on %s: %s", mute ? "mute" : "unmute", ifname,
			 strerror(errno));
		return -1;
	}
	return 0;
}

static void console_quiet(void *ctx, bool quiet)
{
	struct netif *n = ctx;

	if (quiet) {
		char level[16] = "";

		/* Opened beforehand: a read, not an open, in the handoff. */
		n->console_level = 0;
		if (n->printk >= 0 && pread(n->printk, level, sizeof(level) - 1, 0) > 0)
			n->console_level = atoi(level);
		if (n->console_level > QUIET_LEVEL)
			klogctl(CONSOLE_LEVEL_ACTION, NULL, QUIET_LEVEL);
	} else if (n->console_level > QUIET_LEVEL) {
		klogctl(CONSOLE_LEVEL_ACTION, NULL, n->console_level);
	}
}

int netif_open(struct netif *n, int64_t step_timeout_ns, bool keep_neighbours)
{
	memset(n, 0, sizeof(*n));
	n->step_timeout_ns = step_timeout_ns;
	/* Subscribed before the rescan: no link event can slip by. */
	n->events = nl_open(RTMGRP_LINK);
	n->talk = nl_open(0);
	/* Opened now, not in the handoff: sending on it needs no binding. */
	n->packet = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	n->arp_ignore = -1;
	/* Best effort: without it the console's level stays as it is. */
	n->printk = open("/proc/sys/kernel/printk", O_RDONLY | O_CLOEXEC);
	/*
	 * A kernel that hands over: best effort too, without them B asks for
	 * the MAC of whoever asks first.  Notices from now on, queued until
	 * the handoff reads them, and what is known already.
	 */
	n->neigh = keep_neighbours ? nl_open(RTMGRP_NEIGH) : -1;
	if (n->neigh >= 0) {
		struct timeval bound = { .tv_sec = 1 };

		if (setsockopt(n->neigh, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof(bound)) != 0 ||
		    neigh_dump(n) != 0) {
			close(n->neigh);
			n->neigh = -1;
		}
	}
	if (n->events < 0 || n->talk < 0 || n->packet < 0) {
		netif_close(n);
		return -1;
	}
	n->ops = (struct take_net){ .ctx = n, .wait_links = wait_links, .link_up = link_up,
				    .add_addr = add_addr, .del_addr = del_addr, .announce = announce,
				    .probe_holder = probe_holder,
				    .neighbours = neighbours, .add_neighbours = add_neighbours,
				    .arp_mute = arp_mute,
				    .console_quiet = console_quiet };
	return 0;
}

void netif_close(struct netif *n)
{
	if (n->events >= 0)
		close(n->events);
	if (n->talk >= 0)
		close(n->talk);
	if (n->packet >= 0)
		close(n->packet);
	if (n->printk >= 0)
		close(n->printk);
	if (n->neigh >= 0)
		close(n->neigh);
	if (n->arp_ignore >= 0)
		close(n->arp_ignore);
	n->events = n->talk = n->packet = n->printk = n->neigh = n->arp_ignore = -1;
}
