/*
 * twinprep.c - what kernel A computes for kernel B's command line before
 * it starts B (twinbench-upgrade twin-boot), in C: under TCG the shell's
 * arithmetic loops and a process per device took a good part of a second.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "takeover.h"
#include "twinprep.h"

/* A PCI address "0000:00:03.0": what the names of devices in sysfs look like. */
static bool is_bdf(const char *s)
{
	unsigned d, b, dev, fn;
	char end;

	return sscanf(s, "%4x:%2x:%2x.%1u%c", &d, &b, &dev, &fn, &end) == 4;
}

/* Does PCI bridge directory @path hold a device (a child named like one)? */
static bool has_child_device(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	bool found = false;

	while (d && !found && (de = readdir(d)))
		found = is_bdf(de->d_name);
	if (d)
		closedir(d);
	return found;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int twinprep_pci_skip(const char *sysfs, const char *keep, char *out, size_t len)
{
	char path[PATH_MAX], keep_path[PATH_MAX] = "", cls[32], list[4096] = "";
	char *names[256];
	size_t n = 0, used = 0, distinct = 0;
	struct dirent *de;
	DIR *d;

	if (keep && keep[0]) {
		snprintf(path, sizeof(path), "%s/bus/pci/devices/%s", sysfs, keep);
		if (!realpath(path, keep_path))
			return -1;
		strncat(keep_path, "/", sizeof(keep_path) - strlen(keep_path) - 1);
	}
	snprintf(path, sizeof(path), "%s/bus/pci/devices", sysfs);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)) && n < sizeof(names) / sizeof(names[0])) {
		char needle[300], real[PATH_MAX];

		if (!is_bdf(de->d_name))
			continue;
		/* B's own NIC and the bridges above it: B needs them. */
		snprintf(needle, sizeof(needle), "/%s/", de->d_name);
		if (keep_path[0] && strstr(keep_path, needle))
			continue;
		snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/class", sysfs, de->d_name);
		if (read_first_line(path, cls, sizeof(cls)) != 0)
			continue;
		/* Host bridges have no BARs to size. */
		if (!strncmp(cls, "0x0600", 6))
			continue;
		/* A bridge with a device below: the kernel's rule (skipped with what it leads to). */
		snprintf(path, sizeof(path), "%s/bus/pci/devices/%s", sysfs, de->d_name);
		if (!strncmp(cls, "0x0604", 6) && realpath(path, real) && has_child_device(real))
			continue;
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	/* And whatever this kernel was told to leave alone itself. */
	snprintf(path, sizeof(path), "%s/bus/pci/skip", sysfs);
	if (read_first_line(path, list, sizeof(list)) == 0)
		for (char *save = NULL, *e = strtok_r(list, ",", &save); e && n < 256;
		     e = strtok_r(NULL, ",", &save))
			if (e[0])
				names[n++] = strdup(e);
	qsort(names, n, sizeof(names[0]), cmp_str);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (names[i] && (i == 0 || !names[i - 1] || strcmp(names[i], names[i - 1])) &&
		    used < len) {
			used += (size_t)snprintf(out + used, len - used, "%s%s", used ? "," : "",
						 names[i]);
			distinct++;
		}
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	/* The kernel keeps the first PCI_SKIP_MAX: B would size the rest's BARs. */
	if (distinct > TWINPREP_PCI_SKIP_MAX)
		return -E2BIG;
	return used < len ? 0 : -1;
}

struct range {
	uint64_t start, end; /* inclusive */
};

/* "SIZE@ADDR" (either in any base strtoull takes) into @r; 0, or -1 for an empty attribute. */
static int size_at_addr(const char *path, struct range *r)
{
	char line[128], *at;
	uint64_t size;

	if (read_first_line(path, line, sizeof(line)) != 0 || !(at = strchr(line, '@')))
		return -1;
	size = strtoull(line, NULL, 0);
	r->start = strtoull(at + 1, NULL, 0);
	r->end = r->start + size - 1;
	return size ? 0 : -1;
}

int twinprep_mem_blocks(const char *sysfs, const char *iomem, char *out, size_t len)
{
	char path[PATH_MAX], line[256];
	struct range held[16], ram[64];
	size_t nheld = 0, nram = 0, used = 0;
	uint64_t bs;
	FILE *f;

	snprintf(path, sizeof(path), "%s/devices/system/memory/block_size_bytes", sysfs);
	if (read_first_line(path, line, sizeof(line)) != 0 || !(bs = strtoull(line, NULL, 16)))
		return -1;
	f = fopen(iomem, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		uint64_t s, e;
		int name_at = 0;

		if (sscanf(line, " %" SCNx64 "-%" SCNx64 " : %n", &s, &e, &name_at) != 2 || !name_at)
			continue;
		line[strcspn(line, "\n")] = '\0';
		/* Top-level System RAM only; a crash reservation at any depth is held. */
		if (line[0] != ' ' && !strcmp(line + name_at, "System RAM") &&
		    nram < sizeof(ram) / sizeof(ram[0]))
			ram[nram++] = (struct range){ s, e };
		else if (!strcmp(line + name_at, "Crash kernel") &&
			 nheld < sizeof(held) / sizeof(held[0]))
			held[nheld++] = (struct range){ s, e };
	}
	fclose(f);
	/* The state region and the park area: A and B share them, B may not take them. */
	snprintf(path, sizeof(path), "%s/kernel/twin_kernel/state_region", sysfs);
	if (nheld < 15 && size_at_addr(path, &held[nheld]) == 0)
		nheld++;
	snprintf(path, sizeof(path), "%s/kernel/twin_kernel/park_region", sysfs);
	if (nheld < 16 && size_at_addr(path, &held[nheld]) == 0)
		nheld++;
	out[0] = '\0';
	for (size_t r = 0; r < nram; r++)
		for (uint64_t a = (ram[r].start + bs - 1) / bs * bs;
		     a + bs - 1 <= ram[r].end && a + bs - 1 > a; a += bs) {
			bool free_block = true;

			for (size_t h = 0; h < nheld; h++)
				if (a <= held[h].end && a + bs - 1 >= held[h].start)
					free_block = false;
			if (free_block && used < len)
				used += (size_t)snprintf(out + used, len - used, "%s%#" PRIx64,
							 used ? "," : "", a);
		}
	return used < len ? 0 : -1;
}

/* "0"/"1" into @path; 0, or -1 with @why. */
static int write_online(const char *path, const char *value, char *why, size_t len)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? write(fd, value, 1) : -1;
	int err = errno;

	if (fd >= 0)
		close(fd);
	if (n == 1)
		return 0;
	snprintf(why, len, "cannot write %s to %s: %s", value, path, strerror(err));
	return -1;
}

int twinprep_cycle_cpu(const char *sysfs, int *cpu, char *why, size_t len)
{
	char path[PATH_MAX], online[256], *last;

	snprintf(path, sizeof(path), "%s/devices/system/cpu/online", sysfs);
	if (read_first_line(path, online, sizeof(online)) != 0) {
		snprintf(why, len, "cannot read %s", path);
		return -1;
	}
	last = online + strlen(online);
	while (last > online && last[-1] != '-' && last[-1] != ',')
		last--;
	*cpu = atoi(last);
	if (*cpu <= 0)
		return 1;
	snprintf(path, sizeof(path), "%s/devices/system/cpu/cpu%d/online", sysfs, *cpu);
	if (write_online(path, "0", why, len) != 0)
		return -1;
	if (write_online(path, "1", why, len) != 0) {
		snprintf(why + strlen(why), len - strlen(why), ": CPU %d left offline", *cpu);
		return -1;
	}
	return 0;
}
