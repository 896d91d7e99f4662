/*
 * cmd_console.c - `twinbench console DOMAIN a|b`: the terminal on a live
 * guest console, in raw mode, over telnet (libtelnet), until Ctrl-].
 */
#include <errno.h>
#include <stddef.h>
#include <libtelnet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "commands.h"
#include "lab.h"
#include "virt.h"

#define ESCAPE_KEY 0x1d /* Ctrl-] as in telnet(1) */

static const telnet_telopt_t telopts[] = {
	{ TELNET_TELOPT_ECHO, TELNET_WONT, TELNET_DO },
	{ TELNET_TELOPT_SGA, TELNET_WILL, TELNET_DO },
	{ -1, 0, 0 },
};

static void on_event(telnet_t *t, telnet_event_t *ev, void *user)
{
	int fd = *(int *)user;

	(void)t;
	if (ev->type == TELNET_EV_DATA)
		(void)!write(1, ev->data.buffer, ev->data.size);
	else if (ev->type == TELNET_EV_SEND)
		(void)!write(fd, ev->data.buffer, ev->data.size);
}

static int attach(int fd)
{
	struct termios saved, raw;
	bool tty = tcgetattr(0, &saved) == 0;
	telnet_t *t = telnet_init(telopts, on_event, 0, &fd);
	struct pollfd pfd[2] = { { .fd = 0, .events = POLLIN }, { .fd = fd, .events = POLLIN } };
	char buf[4096];
	int rc = 0;

	if (tty) {
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(0, TCSANOW, &raw);
	}
	fprintf(stderr, "[connected; Ctrl-] to leave]\r\n");
	while (rc == 0) {
		ssize_t n;

		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents) {
			n = read(0, buf, sizeof(buf));
			if (n <= 0)
				break;
			if (memchr(buf, ESCAPE_KEY, (size_t)n))
				break;
			telnet_send(t, buf, (size_t)n);
		}
		if (pfd[1].revents) {
			n = read(fd, buf, sizeof(buf));
			if (n <= 0) {
				fprintf(stderr, "\r\n[the guest closed the console]\r\n");
				rc = 1;
				break;
			}
			telnet_recv(t, buf, (size_t)n);
		}
	}
	if (tty)
		tcsetattr(0, TCSANOW, &saved);
	fprintf(stderr, "\n[detached]\n");
	telnet_free(t);
	return rc;
}

int cmd_console(int argc, char **argv)
{
	struct tb_err err = { 0 };
	struct lab lab;
	struct virt *v;
	int port, fd, rc;

	if (argc == 2 && !strcmp(argv[1], "--help")) {
		printf("usage: twinbench console DOMAIN a|b   (Ctrl-] leaves)\n");
		return TB_EXIT_OK;
	}
	if (argc != 3 || (strcmp(argv[2], "a") && strcmp(argv[2], "b"))) {
		fprintf(stderr, "usage: twinbench console DOMAIN a|b\n");
		return TB_EXIT_USAGE;
	}
	if (lab_state() != LAB_UP) {
		fprintf(stderr, "twinbench console: no lab is up: start one with 'twinbench lab up' "
				"and a guest with 'twinbench run --keep-lab ...'\n");
		return TB_EXIT_ENV;
	}
	memset(&lab, 0, sizeof(lab));
	snprintf(lab.uri, sizeof(lab.uri), "%s", LAB_URI);
	v = virt_open(lab.uri, &err);
	if (!v)
		goto fail;
	port = virt_console_port(v, argv[1], argv[2][0] - 'a', &err);
	virt_close(v);
	if (port < 0)
		goto fail;
	fd = lab_dial_loopback(&lab, port);
	if (fd < 0) {
		tb_err_set(&err, TB_EXIT_ENV, "cannot connect to console %s of %s: %s", argv[2],
			   argv[1], strerror(-fd));
		goto fail;
	}
	rc = attach(fd);
	close(fd);
	return rc ? TB_EXIT_CHECK : TB_EXIT_OK;
fail:
	fprintf(stderr, "twinbench console: %s\n", err.msg);
	return err.exit ? err.exit : TB_EXIT_ENV;
}
