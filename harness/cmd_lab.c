/*
 * cmd_lab.c - `twinbench lab up|down [--force]|status`.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "lab.h"

static int usage(FILE *out)
{
	fprintf(out,
		"usage: twinbench lab up|down [--force]|status\n"
		"  up      make the lab (namespace %s, bridge %s, private libvirtd);\n"
		"          it stays up until 'lab down', whatever runs come and go\n"
		"  down    remove it and everything in it; refused (exit 3) while runs use it,\n"
		"          unless --force (their guests die)\n"
		"  status  show what exists and which runs use it (exit 0 up, 1 absent or stale)\n",
		LAB_NETNS, LAB_BRIDGE);
	return out == stdout ? TB_EXIT_OK : TB_EXIT_USAGE;
}

int cmd_lab(int argc, char **argv)
{
	struct tb_err err = { 0 };
	bool force = argc == 3 && !strcmp(argv[1], "down") && !strcmp(argv[2], "--force");
	int rc = 0;

	if (argc == 2 && !strcmp(argv[1], "--help"))
		return usage(stdout);
	if (argc != 2 && !force)
		return usage(stderr);
	if (!strcmp(argv[1], "up"))
		rc = lab_up(&err);
	else if (!strcmp(argv[1], "down"))
		rc = force ? lab_down_force(&err) : lab_down(&err);
	else if (!strcmp(argv[1], "status"))
		return lab_status(stdout) == LAB_UP ? TB_EXIT_OK : TB_EXIT_CHECK;
	else {
		fprintf(stderr, "twinbench lab: unknown action '%s' (up, down or status)\n",
			argv[1]);
		return TB_EXIT_USAGE;
	}
	if (rc != 0) {
		fprintf(stderr, "twinbench lab %s: %s\n", argv[1], err.msg);
		return err.exit ? err.exit : TB_EXIT_ENV;
	}
	if (!strcmp(argv[1], "up"))
		printf("lab up: libvirt at %s, bridge %s (%s/%d) in namespace %s; "
		       "up until 'twinbench lab down'\n",
		       LAB_URI, LAB_BRIDGE, LAB_HOST_IP, LAB_PREFIX, LAB_NETNS);
	return TB_EXIT_OK;
}
