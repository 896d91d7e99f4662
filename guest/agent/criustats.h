/*
 * criustats.h - CRIU's statistics images (stats-dump, stats-restore) as
 * "name=value" pairs, for the kexec-criu method's console.
 *
 * CRIU writes them into its images directory at the end of a dump or a
 * restore: a service image (IMG_SERVICE_MAGIC, then STATS_MAGIC), one
 * 32-bit length and a stats_entry message (images/stats.proto) holding a
 * dump_stats_entry (field 1) or a restore_stats_entry (field 2), every
 * figure a varint.  crit decodes them too, but crit is python: under TCG
 * its seconds of CPU land in the service's measurement.  This reads them
 * in microseconds, in the agent the guest already has.
 */
#ifndef TB_CRIUSTATS_H
#define TB_CRIUSTATS_H

#include <stddef.h>
#include <stdint.h>

#define CRIU_IMG_SERVICE_MAGIC 0x55105940u
#define CRIU_STATS_MAGIC       0x57093306u

/*
 * Decode the image's @len bytes at @img into @out: "dump" or "restore" in
 * @kind, then the entry's figures as "name=value" separated by blanks,
 * named as stats.proto names them (an unknown field as field_N).  0, or
 * -EINVAL for a file that is not such an image (bad magic, a length past
 * its end, a figure that is no varint, neither entry), -ENOSPC if @out is
 * too short.
 */
int criustats_format(const uint8_t *img, size_t len, const char **kind, char *out,
		     size_t outlen);

#endif
