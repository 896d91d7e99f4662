/*
 * fuzz_run_json.c - libFuzzer target: any bytes as a run's run.json, read
 * back by results_load() (what `twinbench report` and `gate` do with every
 * results directory), then summarised as a report row is.
 */
#include <stdint.h>
#include <stdlib.h>

#include "fuzzlib.h"
#include "results.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct results_summary sum;
	struct repetition *reps;
	struct tb_err err = {0};
	struct run_info info;
	size_t n;

	if (results_load(fz_input_file(data, size), &info, &reps, &n, &err) != 0)
		return 0;
	results_summarise(reps, n, &sum);
	free(reps);
	return 0;
}
