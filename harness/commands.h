/*
 * commands.h - the subcommands; each lives in cmd_NAME.c and returns an exit
 * code (enum tb_exit).
 */
#ifndef TB_COMMANDS_H
#define TB_COMMANDS_H

int cmd_run(int argc, char **argv);
int cmd_lab(int argc, char **argv);
int cmd_console(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_gate(int argc, char **argv);

#endif
