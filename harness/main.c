/*
 * main.c - twinbench's command table, and nothing else.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "error.h"

struct cmd_struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct cmd_struct commands[] = {
	{ "run", cmd_run, "run scenario files and measure each upgrade" },
	{ "lab", cmd_lab, "bring the embedded lab up or down, or show it (up|down|status)" },
	{ "console", cmd_console, "attach the terminal to a guest's console (DOMAIN a|b)" },
	{ "report", cmd_report, "write report.html/.md and summary.csv for result directories" },
	{ "gate", cmd_gate, "compare results with a baseline (exit 1 on a regression); --save one" },
};

static int usage(FILE *out)
{
	fprintf(out, "usage: twinbench COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].help);
	fprintf(out, "\n'twinbench COMMAND --help' for a command's options.\n");
	return out == stdout ? TB_EXIT_OK : TB_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	/*
	 * A reader of our output that goes away (`twinbench run ... | tail`,
	 * killed) must not kill us with SIGPIPE in the middle of a run or of
	 * its clean-up: the write fails instead, and the domain, the relay
	 * sockets and the lab still go.
	 */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		return usage(stderr);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
		return usage(stdout);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "twinbench: unknown command '%s'\n\n", argv[1]);
	return usage(stderr);
}
