/*
 * netif.h - kernel B's network steps of a takeover, for real: rtnetlink,
 * a packet socket and the console log level (struct take_net, takeover.h).
 */
#ifndef TB_NETIF_H
#define TB_NETIF_H

#include <stdbool.h>
#include <stdint.h>

#include "takeover.h"

/* The IPv4 neighbours a kernel knows, kept from rtnetlink's notices: at most this many. */
#define NETIF_NEIGH_MAX 16

struct netif_neigh {
	int ifindex;
	uint8_t ip[4];
	uint8_t mac[6];
};

struct netif {
	struct take_net ops; /* what take_poll() calls; ctx is this struct */
	int events;	     /* rtnetlink, subscribed to link changes */
	int talk;	     /* rtnetlink, for requests */
	int packet;	     /* AF_PACKET, for the gratuitous ARP */
	int printk;	     /* /proc/sys/kernel/printk, or -1 */
	int neigh;	     /* rtnetlink, subscribed to neighbour changes, or -1 */
	int arp_ignore;	     /* arp_mute()'s interface's arp_ignore, or -1 */
	char arp_if[16];     /* that interface */
	char arp_was[8];     /* its value before: what unmuting writes */
	struct netif_neigh table[NETIF_NEIGH_MAX]; /* from a dump and the notices since */
	int ntable;
	int console_level;   /* before console_quiet(true) */
	int64_t step_timeout_ns;
};

/*
 * Open the netlink sockets; with @keep_neighbours (a kernel that hands
 * over) keep its neighbour table from now on.  0 or -1 (errno set).
 */
int netif_open(struct netif *n, int64_t step_timeout_ns, bool keep_neighbours);
void netif_close(struct netif *n);

/*
 * The neighbour notices queued since the last look, into the table (lost
 * ones, a full buffer: a dump); 0, or -1 when the dump failed (the table
 * is empty then).  A kernel that hands over calls it whenever n->neigh is
 * readable, so that the handoff's look finds none left to read.
 */
int netif_neigh_update(struct netif *n);

/*
 * Open @ifname's arp_ignore (/proc/sys/net/ipv4/conf/IF/) beforehand, for
 * arp_mute() in the handoff; 0, or -1 (errno set).
 */
int netif_arp_prepare(struct netif *n, const char *ifname);

/*
 * Kernel B, its service address @cidr staged on @ifname: what its first
 * reply out of @ifname runs besides the reply, run once before the handoff
 * with no frame sent.  A neighbour, another address of @cidr's prefix, is
 * added (at @ifname's own MAC) and deleted, and the route out to it looked
 * up and cached from a socket at @cidr's address (a connect(), which sends
 * nothing).  0, or -1 with @why.
 */
int netif_warm_out(struct netif *n, const char *ifname, const char *cidr, char *why, size_t len);

/*
 * Kernel B with one NIC, which it has only from the handoff on: what the
 * handoff then does to it, done once to the loopback device instead.  The
 * service address @cidr added and deleted, and announced (lo drops the
 * ARP frame).  0, or -1 with @why.
 */
int netif_warm_lo(struct netif *n, const char *cidr, char *why, size_t len);

#endif
