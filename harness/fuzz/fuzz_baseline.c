/*
 * fuzz_baseline.c - libFuzzer target: any bytes as a regression baseline
 * (results/baselines/NAME.json), read by gate_baseline_load() as `twinbench
 * gate --baseline` reads it.
 */
#include <stdint.h>

#include "fuzzlib.h"
#include "gate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tb_err err = {0};
	struct gate_baseline b;

	if (gate_baseline_load(fz_input_file(data, size), &b, &err) == 0)
		gate_baseline_free(&b);
	return 0;
}
