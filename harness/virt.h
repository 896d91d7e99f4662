/*
 * virt.h - guests through libvirt's C API.
 *
 * Builds domain XML from a guest description (libxml2's writer does the
 * escaping), starts transient domains, watches them stop, destroys them, and
 * finds the accelerator that really boots a guest on this host.
 */
#ifndef TB_VIRT_H
#define TB_VIRT_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "results.h"

struct guest_config {
	const char *name;
	const char *accel; /* "kvm" or "tcg" */
	const char *kernel;
	const char *initrd;  /* or NULL */
	const char *cmdline; /* the whole command line */
	const char *disk;    /* root disk (qcow2), or NULL */
	const char *payload; /* read-only raw disk with the upgrade payload, or NULL */
	int memory_mib;
	int vcpus;
	const char *bridge;  /* NIC on this bridge, or */
	const char *network; /* on this libvirt network, or neither: no NIC */
	const char *mac;
	const char *mac2;    /* a second NIC beside it (nic: dual), or NULL */
	int console_port[2];	 /* telnet ports of ttyS0 and ttyS1 on 127.0.0.1, or 0 */
	const char *serial_file; /* instead of telnet: ttyS0 to this file (accel probe) */
};

/* The domain XML for @g, malloc'd; NULL on error. */
char *virt_domain_xml(const struct guest_config *g, struct tb_err *err);

struct virt;
struct virt_domain;

struct virt *virt_open(const char *uri, struct tb_err *err);
void virt_close(struct virt *v);

/*
 * Start a transient domain from @xml into *@dom: 0, -EADDRINUSE when QEMU
 * could not bind a port the XML names (another process took it: choose
 * new ports and try again, lab_with_free_ports()), or -1.
 */
int virt_start(struct virt *v, const char *xml, struct virt_domain **dom, struct tb_err *err);

/*
 * The connection to libvirt is closed: its daemon went away (a call to it
 * failed so).  Domains then live on without it; see lab_kill_guests().
 */
bool virt_lost(struct virt *v);

/* Wait until the domain has stopped (guest reboot or power-off); 0 or -ETIMEDOUT. */
int virt_wait_stopped(struct virt_domain *d, int64_t deadline_ns);

bool virt_is_running(struct virt_domain *d);

/*
 * Has the domain certainly stopped (a transient domain whose QEMU exited is
 * gone from libvirt)?  A libvirt that does not answer is not proof: false.
 */
bool virt_is_gone(struct virt_domain *d);

/*
 * Write every vCPU's registers (QEMU's "info registers -a", through the
 * monitor), each local APIC and the interrupt controllers ("info lapic N",
 * "info pic") and each virtio NIC's queues to @path: where each CPU was,
 * what could still interrupt it and where a NIC's rings stood, when a
 * repetition failed.  The guest is paused while it is read, then resumed.
 */
int virt_cpu_state(struct virt_domain *d, const char *path, struct tb_err *err);

/*
 * Send @d an NMI as "virsh inject-nmi" does (QEMU hands it to every vCPU
 * whose local APIC takes it: LINT1 unmasked as NMI, or no APIC).
 */
int virt_inject_nmi(struct virt_domain *d, struct tb_err *err);

/*
 * Raise an uncorrected machine check on vCPU @cpu of @d through QEMU's
 * monitor (HMP "mce"): bank 0, MCG_STATUS RIPV|MCIP.  A CPU with CR4.MCE
 * clear shuts down (QEMU resets the whole guest).
 */
int virt_inject_mce(struct virt_domain *d, int cpu, struct tb_err *err);

/*
 * Live-migrate @d to the libvirt of @dst (a second host of the lab), the
 * migration stream over the lab's loopback; its serial consoles move to
 * the telnet ports @ports (both QEMUs run side by side on one loopback).
 * @max_downtime_ms > 0 sets QEMU's downtime limit first; 0 keeps QEMU's.
 * A migration still running at @deadline_ns (CLOCK_MONOTONIC) is aborted.
 * On success *@moved is the guest on @dst (@d is then a handle of a
 * domain gone: virt_destroy() only frees it) and @stats holds libvirt's
 * figures, named as libvirt names them, with the downtime limit in force
 * ("max_downtime"), as a tool's own figures ("libvirt-migration").  -1 with
 * libvirt's message otherwise; the guest then runs on where it was.
 */
int virt_migrate(struct virt_domain *d, struct virt *dst, const int ports[2],
		 int64_t max_downtime_ms, int64_t deadline_ns, struct virt_domain **moved,
		 struct tool_stats *stats, struct tb_err *err);

/* Destroy (if running) and free the handle.  NULL is fine. */
void virt_destroy(struct virt_domain *d);

/* Domain names are "tb-<pid>-<scenario>": destroy those whose harness died. */
void virt_reap_orphans(struct virt *v);

/* Destroy every domain of harness process @pid (interrupt clean-up). */
void virt_destroy_owned(struct virt *v, int pid);

/* The telnet port of serial @index (0 = ttyS0) of running domain @name; -1 if none. */
int virt_console_port(struct virt *v, const char *name, int index, struct tb_err *err);

/* "9.0.0" and "7.2.22" style versions of libvirt and of the hypervisor. */
void virt_versions(struct virt *v, char *libvirt, size_t llen, char *hypervisor, size_t hlen);

/*
 * Does this QEMU run TCG with the race between a memory map change on one
 * vCPU and MMIO on another (QEMU before 8.1; scripts/deps.sh)?  Unknown: no.
 */
bool virt_tcg_racy(struct virt *v);

/*
 * Resolve @want ("kvm", "tcg" or "auto") into the accelerator to use.  auto
 * boots @kernel under KVM and takes KVM only if the kernel's first console
 * line appears (a PVM host accepts KVM but hangs ordinary guests); the result
 * is cached in @cache_path when not NULL.
 */
int virt_choose_accel(struct virt *v, const char *want, const char *kernel, const char *workdir,
		      const char *cache_path, char *accel, size_t len, struct tb_err *err);

#endif
