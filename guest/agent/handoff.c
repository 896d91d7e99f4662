/* handoff.c - the versioned, checksummed state block in the twin kernels' shared region. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "handoff.h"

#define HANDOFF_MAGIC	"TBHANDOF"
#define HANDOFF_VERSION 4

/* Fixed layout, native endianness: both kernels run on the same machine. */
struct handoff_block {
	char magic[8];
	uint32_t version;
	uint32_t state;
	uint64_t counter;
	char boot_id[40];
	int64_t a_ns[A_STEPS]; /* A's steps on A's clock */
	struct handoff_neighbours neigh;
	uint32_t checksum;     /* FNV-1a of every byte before it */
	uint32_t claim;	       /* enum handoff_claim: outside the checksum, changed atomically */
};

static uint32_t block_sum(const struct handoff_block *b)
{
	const unsigned char *p = (const unsigned char *)b;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < offsetof(struct handoff_block, checksum); i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* Regions mapped so far: a kernel B and the tests look at one or two. */
#define MAPPED_MAX 4

/*
 * The block of the region @path, mapped once (MAP_SHARED: what the other
 * kernel writes shows at once, and a claim is a compare-and-exchange on
 * it), or NULL when it cannot be mapped (too small, not there).  Polling
 * every millisecond then costs a stat(2) instead of opening, reading and
 * closing a sysfs file, and so does a write; the stat tells a region put
 * in the place of another (the tests' scratch files) from the one mapped.
 */
static struct handoff_block *block_map(const char *path)
{
	static struct {
		char path[PATH_MAX];
		dev_t dev;
		ino_t ino;
		struct handoff_block *b;
	} mapped[MAPPED_MAX];
	static unsigned int next;
	struct stat st;
	void *b;
	int fd;

	if (stat(path, &st) != 0)
		return NULL;
	for (unsigned int i = 0; i < MAPPED_MAX; i++)
		if (mapped[i].b && mapped[i].dev == st.st_dev && mapped[i].ino == st.st_ino &&
		    strcmp(mapped[i].path, path) == 0)
			return mapped[i].b;
	if (st.st_size < (off_t)sizeof(struct handoff_block))
		return NULL;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	b = mmap(NULL, sizeof(struct handoff_block), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (b == MAP_FAILED)
		return NULL;
	next %= MAPPED_MAX;
	if (mapped[next].b)
		munmap(mapped[next].b, sizeof(struct handoff_block));
	snprintf(mapped[next].path, sizeof(mapped[next].path), "%s", path);
	mapped[next].dev = st.st_dev;
	mapped[next].ino = st.st_ino;
	mapped[next].b = b;
	return mapped[next++].b;
}

/*
 * Read or write the block, through its mapping if it has one: a reader may
 * see a write half done, as it may through read(2) and write(2) on the
 * sysfs file, and the checksum tells it so.  0 or -1.
 */
static int block_io(const char *path, struct handoff_block *b, int write)
{
	struct handoff_block *m = block_map(path);
	int fd;
	ssize_t n;

	if (m && write)
		memcpy(m, b, sizeof(*b));
	else if (m)
		memcpy(b, m, sizeof(*b));
	if (m)
		return 0;
	fd = open(path, write ? O_WRONLY : O_RDONLY);
	if (fd < 0)
		return -1;
	n = write ? pwrite(fd, b, sizeof(*b), 0) : pread(fd, b, sizeof(*b), 0);
	close(fd);
	return n == (ssize_t)sizeof(*b) ? 0 : -1;
}

static void block_fill(struct handoff_block *b, enum handoff_state state, uint64_t counter,
		       const char *boot_id, const int64_t *a_ns,
		       const struct handoff_neighbours *nb)
{
	memset(b, 0, sizeof(*b));
	memcpy(b->magic, HANDOFF_MAGIC, sizeof(b->magic));
	b->version = HANDOFF_VERSION;
	b->state = state;
	b->counter = counter;
	snprintf(b->boot_id, sizeof(b->boot_id), "%s", boot_id);
	if (a_ns)
		memcpy(b->a_ns, a_ns, sizeof(b->a_ns));
	if (nb)
		b->neigh = *nb;
	b->checksum = block_sum(b);
}

int handoff_write(const char *path, enum handoff_state state, uint64_t counter,
		  const char *boot_id, const int64_t *a_ns, const struct handoff_neighbours *nb)
{
	struct handoff_block b;

	block_fill(&b, state, counter, boot_id, a_ns, nb);
	return block_io(path, &b, 1);
}

static enum handoff_status check(const struct handoff_block *b, char *why, size_t len)
{
	if (memcmp(b->magic, HANDOFF_MAGIC, sizeof(b->magic)) != 0) {
		snprintf(why, len, "no state block in the region");
		return HANDOFF_MISSING;
	}
	if (b->version != HANDOFF_VERSION || b->checksum != block_sum(b)) {
		snprintf(why, len, "version %u, checksum %08" PRIx32 " (expected %08" PRIx32 ")",
			 b->version, b->checksum, block_sum(b));
		return HANDOFF_CORRUPT;
	}
	return HANDOFF_OK;
}

enum handoff_status handoff_read(const char *path, const char *from_boot, uint64_t *counter,
				 int64_t *a_ns, struct handoff_neighbours *nb, char *why,
				 size_t len)
{
	struct handoff_block b;
	enum handoff_status s;

	if (block_io(path, &b, 0) != 0) {
		snprintf(why, len, "%s: %s", path, strerror(errno));
		return HANDOFF_IO;
	}
	s = check(&b, why, len);
	if (s != HANDOFF_OK)
		return s;
	if (b.state == HANDOFF_TAKEN) {
		snprintf(why, len, "taken already (counter %" PRIu64 ")", b.counter);
		return HANDOFF_STALE;
	}
	if (from_boot && strncmp(b.boot_id, from_boot, sizeof(b.boot_id)) != 0) {
		snprintf(why, len, "written by boot %.40s, not by %s", b.boot_id, from_boot);
		return HANDOFF_STALE;
	}
	if (b.state != HANDOFF_READY) {
		snprintf(why, len, "not released yet (state %u)", b.state);
		return HANDOFF_NOT_READY;
	}
	*counter = b.counter;
	if (a_ns)
		memcpy(a_ns, b.a_ns, sizeof(b.a_ns));
	if (nb) {
		*nb = b.neigh;
		if (nb->count > HANDOFF_NEIGH_MAX)
			nb->count = HANDOFF_NEIGH_MAX;
	}
	return HANDOFF_OK;
}

int handoff_mark(const char *path, enum handoff_state state)
{
	struct handoff_block b;
	char why[128];

	if (block_io(path, &b, 0) != 0 || check(&b, why, sizeof(why)) != HANDOFF_OK)
		return -1;
	b.state = state;
	b.checksum = block_sum(&b);
	return block_io(path, &b, 1);
}

int handoff_taken(const char *path)
{
	struct handoff_block b;
	char why[128];

	if (block_io(path, &b, 0) != 0)
		return -1;
	return check(&b, why, sizeof(why)) == HANDOFF_OK && b.state == HANDOFF_TAKEN;
}

int handoff_outcome(const char *path, const char *boot_id, uint32_t *claim)
{
	struct handoff_block b;
	char why[128];
	bool ours;

	if (block_io(path, &b, 0) != 0)
		return -1;
	if (claim)
		*claim = b.claim;
	if (check(&b, why, sizeof(why)) != HANDOFF_OK)
		return 0;
	ours = boot_id && strncmp(b.boot_id, boot_id, sizeof(b.boot_id)) == 0;
	if (b.state == HANDOFF_TAKEN)
		return HANDOFF_TAKEN;
	if (b.state == HANDOFF_REFUSED && ours)
		return HANDOFF_REFUSED;
	if (b.state == HANDOFF_READY && b.claim == CLAIM_WITHDRAWN && ours)
		return HANDOFF_WITHDRAWN;
	if (b.state == HANDOFF_READY && b.claim == CLAIM_RETURNED && ours)
		return HANDOFF_RETURNED;
	if (b.state == HANDOFF_READY && b.claim == CLAIM_EXPIRED && ours)
		return HANDOFF_EXPIRED;
	return 0;
}

int handoff_map(const char *path)
{
	static struct handoff_block scratch;
	struct handoff_block *b = block_map(path);

	/* Filled once in scratch: the window's fill is not the first run of its code. */
	block_fill(&scratch, HANDOFF_WRITTEN, 0, "", NULL, NULL);
	return b ? 0 : -1;
}

int handoff_claim(const char *path, enum handoff_claim from, enum handoff_claim to,
		  uint32_t *was)
{
	struct handoff_block *b = block_map(path);
	uint32_t expected = from;
	bool won;

	if (!b)
		return -1;
	won = __atomic_compare_exchange_n(&b->claim, &expected, (uint32_t)to, false,
					  __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	if (was)
		*was = expected;
	return won;
}

int handoff_refuse(const char *path, const char *boot_id)
{
	return handoff_write(path, HANDOFF_REFUSED, 0, boot_id, NULL, NULL);
}

int handoff_corrupt(const char *path)
{
	struct handoff_block b;
	char why[128];

	if (block_io(path, &b, 0) != 0 || check(&b, why, sizeof(why)) != HANDOFF_OK)
		return -1;
	b.state = HANDOFF_READY;
	b.checksum = block_sum(&b);
	/* One flipped bit in the state itself, after the checksum was taken. */
	b.counter ^= 1u << 7;
	return block_io(path, &b, 1);
}

const char *handoff_status_name(enum handoff_status s)
{
	static const char *names[] = {
		[HANDOFF_OK] = "ok",	     [HANDOFF_MISSING] = "missing",
		[HANDOFF_CORRUPT] = "corrupt", [HANDOFF_STALE] = "stale",
		[HANDOFF_NOT_READY] = "not ready", [HANDOFF_IO] = "unreadable",
	};

	return names[s];
}

const char *handoff_a_step_name(int i)
{
	static const char *names[A_STEPS] = {
		[A_REQUEST] = "request", [A_STOPPED] = "stopped", [A_WRITTEN] = "written",
		[A_RELEASED] = "released", [A_READY] = "ready",
	};

	return i >= 0 && i < A_STEPS ? names[i] : "?";
}
