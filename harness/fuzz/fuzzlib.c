/*
 * fuzzlib.c - the fuzz targets' input as a file, for loaders that take a
 * path (results_load, gate_baseline_load): a memfd, so that no input
 * touches the disk, opened again through /proc/self/fd by the loader.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzzlib.h"

const char *fz_input_file(const uint8_t *data, size_t size)
{
	static char path[64];
	static int fd = -1;
	size_t done = 0;
	ssize_t n;

	if (fd < 0) {
		fd = memfd_create("twinbench-fuzz-input", MFD_CLOEXEC);
		if (fd < 0)
			goto fail;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) != 0)
		goto fail;
	while (done < size) {
		n = pwrite(fd, data + done, size - done, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		done += (size_t)n;
	}
	return path;
fail:
	fprintf(stderr, "fuzz: cannot hold the input in a memfd: %s\n", strerror(errno));
	exit(2);
}
