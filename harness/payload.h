/*
 * payload.h - the upgrade payload: a small ext4 disk the guest sees as
 * /dev/vdb, with the new kernel, its initrd (if any) and its command
 * line, and in next/ those of a second upgrade in the same boot
 * (upgrade.next), which the kernel that took over reads from the same disk.
 */
#ifndef TB_PAYLOAD_H
#define TB_PAYLOAD_H

#include <stddef.h>

#include "error.h"
#include "scenario.h"

/*
 * Build @workdir/payload.img for @up, the new kernel booting with
 * @cmdline (and the next with @cmdline_next); its path goes to @img
 * (@len bytes).  0, or -1 with @err set (TB_EXIT_ENV).
 */
int payload_make(const char *workdir, const struct upgrade_spec *up, const char *cmdline,
		 const char *cmdline_next, char *img, size_t len, struct tb_err *err);

#endif
