/*
 * fuzzlib.h - what the libFuzzer targets share: an input handed to a
 * loader that only takes a path.
 */
#ifndef TB_FUZZLIB_H
#define TB_FUZZLIB_H

#include <stddef.h>
#include <stdint.h>

/*
 * Make the @size bytes at @data the whole content of one in-memory file
 * (a memfd, the same one on every call) and return a path that opens it.
 * Exits the fuzzer if that fails: nothing can be tested then.
 */
const char *fz_input_file(const uint8_t *data, size_t size);

#endif
