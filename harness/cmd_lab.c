/*
 * cmd_lab.c - `twinbench lab up|down|status`.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "lab.h"

int cmd_lab(int argc, char **argv)
{
	struct tb_err err = { 0 };
	int rc = 0;

	if (argc != 2 || !strcmp(argv[1], "--help")) {
		fprintf(argc == 2 ? stdout : stderr,
			"usage: twinbench lab up|down|status\n"
			"  up      make the lab (namespace %s, bridge %s, private libvirtd)\n"
			"  down    remove it and everything in it\n"
			"  status  show what exists (exit 0 up, 1 absent or stale)\n",
			LAB_NETNS, LAB_BRIDGE);
		return argc == 2 ? TB_EXIT_OK : TB_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "up"))
		rc = lab_up(&err);
	else if (!strcmp(argv[1], "down"))
		rc = lab_down(&err);
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
		printf("lab up: libvirt at %s, bridge %s (%s/%d) in namespace %s\n", LAB_URI,
		       LAB_BRIDGE, LAB_HOST_IP, LAB_PREFIX, LAB_NETNS);
	return TB_EXIT_OK;
}
