/*
 * fuzz_scenario.c - libFuzzer target: any bytes as a scenario file, parsed
 * by scenario_load_text() as `twinbench run` parses a scenario.
 *
 * A scenario is only accepted when the images it names exist and the
 * method it names loads, so that the fuzzer gets past them to the steps
 * and the checks after them: the input stands at SCRATCH/scenarios/, next
 * to SCRATCH/images/ holding an empty stand-in for every image name the
 * shipped scenarios and the seeds use, and methods come from the
 * repository's methods/ (TWINBENCH_METHODS).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "array_size.h"
#include "dirtree.h"
#include "scenario.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char scratch[64] = "/tmp/twinbench-fuzz-XXXXXX";
static char input_path[PATH_MAX];

static void remove_scratch(void)
{
	dirtree_remove(scratch);
}

static int make_scratch(void)
{
	static const char *const images[] = {
	    "vmlinuz",		 "vmlinuz-new",	   "initrd.img",
	    "rootfs.img",	 "vmlinuz-twin-a", "vmlinuz-twin-b",
	    "initramfs-b.cpio", "initramfs-b.cpio.gz",
	};
	char path[PATH_MAX];
	size_t i;
	FILE *f;

	if (!mkdtemp(scratch))
		return -1;
	atexit(remove_scratch);
	snprintf(path, sizeof(path), "%s/images", scratch);
	if (mkdir(path, 0755) != 0)
		return -1;
	for (i = 0; i < ARRAY_SIZE(images); i++) {
		snprintf(path, sizeof(path), "%s/images/%s", scratch, images[i]);
		f = fopen(path, "w");
		if (!f || fclose(f) != 0)
			return -1;
	}
	snprintf(path, sizeof(path), "%s/scenarios", scratch);
	if (mkdir(path, 0755) != 0)
		return -1;
	snprintf(input_path, sizeof(input_path), "%s/scenarios/fuzz-input.yaml", scratch);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (make_scratch() != 0) {
		perror("fuzz_scenario: cannot make its scratch tree");
		exit(2);
	}
	setenv("TWINBENCH_METHODS", TB_METHODS_DIR, 1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tb_err err = {0};
	struct scenario sc;

	if (scenario_load_text(input_path, (const char *)data, size, &sc, &err) != 0)
		return 0;
	scenario_method_label(&sc);
	scenario_free(&sc);
	return 0;
}
