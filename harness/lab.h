/*
 * lab.h - the embedded lab: an isolated place on this machine where guests
 * run.
 *
 * A network namespace holds a bridge (the guests' network) and a private
 * libvirtd + virtlogd, started in a private mount namespace so that their
 * state, logs and configuration never touch the host's libvirt.  Guests'
 * taps, telnet console ports and the probe all live inside the namespace;
 * nothing listens on, or sends to, the host's own network.
 *
 * With an external libvirt (--connect URI) the lab is "borrowed": sockets
 * are made in the caller's own namespace and guests attach to the libvirt
 * network the user names (--network NAME).
 */
#ifndef TB_LAB_H
#define TB_LAB_H

#include <stdbool.h>
#include <stdio.h>

#include "error.h"

#define LAB_NETNS    "twinbench"
#define LAB_DIR	     "/run/twinbench/lab"
#define LAB_BRIDGE   "tbbr0"
#define LAB_HOST_IP  "10.213.0.1" /* the lab side of the bridge, inside the namespace */
#define LAB_PREFIX   24
#define LAB_SOCKET   LAB_DIR "/libvirt-sock"
/* What the lab's QEMUs print, one DOMAIN.log each (libvirt's /var/log/libvirt/qemu). */
#define LAB_QEMU_LOG_DIR LAB_DIR "/log/qemu"
#define LAB_URI	     "qemu:///system?socket=" LAB_SOCKET
#define LAB_MAX_SLOT 200 /* guests at 10.213.0.(10 + slot) */
/* Where a run lets `twinbench console` watch its guests: DOMAIN-a.sock, DOMAIN-b.sock. */
#define CONSOLE_RELAY_DIR "/run/twinbench/consoles"

enum lab_state {
	LAB_ABSENT, /* nothing of a lab exists */
	LAB_UP,	    /* namespace, bridge and both daemons alive */
	LAB_STALE,  /* parts left behind by a killed run */
};

struct lab {
	bool external;	  /* --connect: someone else's libvirt */
	char uri[512];	  /* libvirt connection URI */
	char bridge[64];  /* embedded lab: bridge the guests' NICs attach to */
	char network[64]; /* external: libvirt network the guests' NICs attach to */
	bool started_now; /* lab_ensure() brought it up: the caller takes it down */
};

enum lab_state lab_state(void);

/* Bring the embedded lab up (cleaning a stale one first); idempotent. */
int lab_up(struct tb_err *err);

/* Remove everything: domains, daemons, taps, the namespace, LAB_DIR. */
int lab_down(struct tb_err *err);

/* Print what exists of the lab; returns its state. */
enum lab_state lab_status(FILE *out);

/*
 * For `run`: with @uri NULL use the embedded lab, bringing it up when it is
 * absent or stale; else use the external libvirt at @uri, guests on the
 * libvirt network @network.
 */
int lab_ensure(struct lab *lab, const char *uri, const char *network, struct tb_err *err);

/* A socket(2) made inside the lab's network namespace (or here, if external). */
int lab_socket(const struct lab *lab, int domain, int type, struct tb_err *err);

/* Connect a TCP socket to 127.0.0.1:@port inside the lab; fd or -errno. */
int lab_dial_loopback(const struct lab *lab, int port);

/* A TCP port on the lab's loopback nobody listens on now; -1 on error. */
int lab_free_port(const struct lab *lab, struct tb_err *err);

/*
 * Reserve a guest slot (address 10.213.0.(10+slot), MAC 52:54:00:d5:00:slot)
 * for this process.  Returns the lease: a locked file descriptor whose
 * closing (lab_release_slot, or the process dying) frees the slot.
 */
int lab_claim_slot(int *slot, struct tb_err *err);
void lab_release_slot(int lease);

#endif
