/* criustats.c - CRIU's statistics images as "name=value" pairs (see criustats.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "criustats.h"

/* images/stats.proto, by field number (1-based). */
static const char *const dump_names[] = {
	"freezing_time",   "frozen_time",	   "memdump_time",    "memwrite_time",
	"pages_scanned",   "pages_skipped_parent", "pages_written",   "irmap_resolve",
	"pages_lazy",	   "page_pipes",	   "page_pipe_bufs",  "shpages_scanned",
	"shpages_skipped_parent", "shpages_written",
};
static const char *const restore_names[] = {
	"pages_compared", "pages_skipped_cow", "forking_time", "restore_time", "pages_restored",
};

/* A varint at *@p (before @end) into @v; -EINVAL if it runs off or past 64 bits. */
static int varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		uint8_t b;

		if (*p >= end)
			return -EINVAL;
		b = *(*p)++;
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
	}
	return -EINVAL;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The figures of one entry message (@p .. @end) into @out. */
static int figures(const uint8_t *p, const uint8_t *end, const char *const *names, size_t nnames,
		   char *out, size_t outlen)
{
	size_t used = 0;

	out[0] = '\0';
	while (p < end) {
		uint64_t key, v;
		char unknown[32];
		const char *name;
		int w;

		if (varint(&p, end, &key) || (key & 7) != 0 || (key >> 3) == 0 ||
		    varint(&p, end, &v))
			return -EINVAL;
		if ((key >> 3) <= nnames) {
			name = names[(key >> 3) - 1];
		} else {
			snprintf(unknown, sizeof(unknown), "field_%" PRIu64, key >> 3);
			name = unknown;
		}
		w = snprintf(out + used, outlen - used, "%s%s=%" PRIu64, used ? " " : "", name, v);
		if (w < 0 || (size_t)w >= outlen - used)
			return -ENOSPC;
		used += (size_t)w;
	}
	return used ? 0 : -EINVAL;
}

int criustats_format(const uint8_t *img, size_t len, const char **kind, char *out,
		     size_t outlen)
{
	const uint8_t *p = img, *end = img + len, *msg_end;
	uint64_t key, sub;
	uint32_t size;

	if (!outlen)
		return -ENOSPC;
	out[0] = '\0';
	/* The service head, unless CRIU ran without it; then the image's own magic. */
	if (len >= 4 && le32(p) == CRIU_IMG_SERVICE_MAGIC)
		p += 4;
	if (end - p < 8 || le32(p) != CRIU_STATS_MAGIC)
		return -EINVAL;
	size = le32(p + 4);
	p += 8;
	if (size > (size_t)(end - p))
		return -EINVAL;
	msg_end = p + size;
	/* stats_entry: one length-delimited field, 1 (dump) or 2 (restore). */
	if (varint(&p, msg_end, &key) || (key & 7) != 2 || varint(&p, msg_end, &sub) ||
	    sub > (uint64_t)(msg_end - p))
		return -EINVAL;
	switch (key >> 3) {
	case 1:
		*kind = "dump";
		return figures(p, p + sub, dump_names, sizeof(dump_names) / sizeof(dump_names[0]),
			       out, outlen);
	case 2:
		*kind = "restore";
		return figures(p, p + sub, restore_names,
			       sizeof(restore_names) / sizeof(restore_names[0]), out, outlen);
	default:
		return -EINVAL;
	}
}
