/*
 * twinprep.h - what kernel A computes for kernel B's command line before
 * it starts B (twinbench-upgrade twin-boot): the PCI devices B must leave
 * alone while it boots, and the memory blocks B may take once A is parked.
 * @sysfs is "/sys" (a scratch tree in the tests).
 */
#ifndef TB_TWINPREP_H
#define TB_TWINPREP_H

#include <stdbool.h>
#include <stddef.h>

/* How many devices pci_skip= takes (the kernel's PCI_SKIP_MAX, patch 0002). */
#define TWINPREP_PCI_SKIP_MAX 32

/*
 * B's pci_skip= list, sorted, one of each: every PCI device but host
 * bridges, bridges with a device below them, and @keep (B's own NIC, NULL:
 * none) with the bridges above it; plus this kernel's own skip list.
 * 0, -E2BIG if there are more than TWINPREP_PCI_SKIP_MAX, or -1 if sysfs
 * cannot be read or @out is too small.
 */
int twinprep_pci_skip(const char *sysfs, const char *keep, char *out, size_t len);

/*
 * B's twinbench.mem= list ("0x8000000,0x10000000,..."): the memory blocks
 * wholly System RAM in @iomem (/proc/iomem) holding nothing of the crash
 * reservation, the state region or the park area.  0 or -1.
 */
int twinprep_mem_blocks(const char *sysfs, const char *iomem, char *out, size_t len);

/*
 * The CPU twin-boot gives kernel B, taken offline and online again once,
 * before the service serves: the CPU hotplug code A runs while B boots is
 * then not run for the first time, which under TCG is its translation
 * (A's service was held 11-15 ms by it).  That CPU is the last one in
 * @sysfs's devices/system/cpu/online, as twin-boot takes it.  0 with the
 * CPU in *@cpu, 1 if there is only one CPU online (nothing to do), -1 with
 * @why (the CPU may be left offline: @why says so).
 */
int twinprep_cycle_cpu(const char *sysfs, int *cpu, char *why, size_t len);

#endif
