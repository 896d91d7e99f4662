/*
 * fuzz_method.c - libFuzzer target: any bytes as a method file
 * (methods/NAME.yaml), parsed by method_load_text(), then its phase lists
 * built as a run and the verdict build them.
 */
#include <stdint.h>
#include <stdlib.h>

#include "methodfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tb_err err = {0};
	struct method m;

	/* The path names the input in messages; only its directory must exist. */
	if (method_load_text(TB_METHODS_DIR "/fuzz-input.yaml", (const char *)data, size, &m,
			     &err) != 0)
		return 0;
	free(method_phase_list(&m, false));
	if (m.next_after)
		free(method_phase_list(&m, true));
	method_free(&m);
	return 0;
}
