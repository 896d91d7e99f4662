/*
 * test_criustats.c - the agent's reading of CRIU's statistics images
 * (guest/agent/criustats.c).  The fixtures were written by crit encode
 * (CRIU 3.17.1, Debian's package) from the figures of a kexec-criu run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "criustats.h"

static size_t load(const char *name, uint8_t *buf, size_t size)
{
	char path[256];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "harness/tests/fixtures/criu/%s", name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("%s: %s", path, strerror(errno));
	n = fread(buf, 1, size, f);
	fclose(f);
	return n;
}

static void test_a_dump_image_gives_every_figure_by_its_proto_name(void **state)
{
	uint8_t img[256];
	size_t len = load("stats-dump", img, sizeof(img));
	const char *kind = NULL;
	char out[1024];

	(void)state;
	assert_int_equal(criustats_format(img, len, &kind, out, sizeof(out)), 0);
	assert_string_equal(kind, "dump");
	assert_string_equal(out, "freezing_time=6515 frozen_time=130686 memdump_time=6853 "
				 "memwrite_time=2580 pages_scanned=309 pages_skipped_parent=0 "
				 "pages_written=18 irmap_resolve=0 pages_lazy=0 page_pipes=3 "
				 "page_pipe_bufs=3 shpages_scanned=0 shpages_skipped_parent=0 "
				 "shpages_written=0");
}

static void test_a_restore_image_gives_its_figures(void **state)
{
	uint8_t img[256];
	size_t len = load("stats-restore", img, sizeof(img));
	const char *kind = NULL;
	char out[1024];

	(void)state;
	assert_int_equal(criustats_format(img, len, &kind, out, sizeof(out)), 0);
	assert_string_equal(kind, "restore");
	assert_string_equal(out, "pages_compared=0 pages_skipped_cow=0 forking_time=201 "
				 "restore_time=130450 pages_restored=18");
}

/* Without the service head (CRIU's images with no common magic) it still reads. */
static void test_an_image_without_the_service_head_reads(void **state)
{
	uint8_t img[256];
	size_t len = load("stats-restore", img, sizeof(img));
	const char *kind = NULL;
	char out[1024];

	(void)state;
	assert_int_equal(criustats_format(img + 4, len - 4, &kind, out, sizeof(out)), 0);
	assert_string_equal(kind, "restore");
}

/* Every cut of a real image is refused, never read past its end. */
static void test_every_truncation_is_refused(void **state)
{
	uint8_t img[256];
	size_t len = load("stats-dump", img, sizeof(img));
	const char *kind;
	char out[1024];

	(void)state;
	for (size_t n = 0; n < len; n++)
		if (criustats_format(img, n, &kind, out, sizeof(out)) != -EINVAL)
			fail_msg("the first %zu of %zu bytes were read as an image", n, len);
}

static void test_wrong_magic_wire_type_or_entry_is_refused(void **state)
{
	uint8_t img[256], bad[256];
	size_t len = load("stats-dump", img, sizeof(img));
	const char *kind;
	char out[1024];

	(void)state;
	/* The image's own magic (STATS_MAGIC) changed. */
	memcpy(bad, img, len);
	bad[4] ^= 1;
	assert_int_equal(criustats_format(bad, len, &kind, out, sizeof(out)), -EINVAL);
	/* The entry field numbered 3: neither dump nor restore. */
	memcpy(bad, img, len);
	bad[12] = (3 << 3) | 2;
	assert_int_equal(criustats_format(bad, len, &kind, out, sizeof(out)), -EINVAL);
	/* A figure that is not a varint (wire type 5, fixed32). */
	memcpy(bad, img, len);
	bad[14] = (1 << 3) | 5;
	assert_int_equal(criustats_format(bad, len, &kind, out, sizeof(out)), -EINVAL);
	/* A length past the file's end. */
	memcpy(bad, img, len);
	bad[8] = 0xff;
	assert_int_equal(criustats_format(bad, len, &kind, out, sizeof(out)), -EINVAL);
}

static void test_a_short_buffer_is_enospc(void **state)
{
	uint8_t img[256];
	size_t len = load("stats-dump", img, sizeof(img));
	const char *kind;
	char out[40];

	(void)state;
	assert_int_equal(criustats_format(img, len, &kind, out, sizeof(out)), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_dump_image_gives_every_figure_by_its_proto_name),
		cmocka_unit_test(test_a_restore_image_gives_its_figures),
		cmocka_unit_test(test_an_image_without_the_service_head_reads),
		cmocka_unit_test(test_every_truncation_is_refused),
		cmocka_unit_test(test_wrong_magic_wire_type_or_entry_is_refused),
		cmocka_unit_test(test_a_short_buffer_is_enospc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
