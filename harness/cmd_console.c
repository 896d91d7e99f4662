/*
 * cmd_console.c - `twinbench console DOMAIN a|b`: the terminal on a live
 * guest console, in raw mode, until Ctrl-].  During a run it joins the run
 * through the console's relay socket (QEMU serves one telnet client per
 * port); otherwise it speaks telnet to QEMU itself (libtelnet).
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <libtelnet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
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

/*
 * Relay the terminal to @fd until Ctrl-] or the other end closes: over
 * telnet (@telnet, straight to QEMU's port) or raw (a run's relay socket).
 */
static int attach(int fd, bool telnet)
{
	struct termios saved, raw;
	bool tty = tcgetattr(0, &saved) == 0;
	telnet_t *t = telnet ? telnet_init(telopts, on_event, 0, &fd) : NULL;
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
			if (t)
				telnet_send(t, buf, (size_t)n);
			else
				(void)!write(fd, buf, (size_t)n);
		}
		if (pfd[1].revents) {
			n = read(fd, buf, sizeof(buf));
			if (n <= 0) {
				fprintf(stderr, "\r\n[the guest closed the console]\r\n");
				rc = 1;
				break;
			}
			if (t)
				telnet_recv(t, buf, (size_t)n);
			else
				(void)!write(1, buf, (size_t)n);
		}
	}
	if (tty)
		tcsetattr(0, TCSANOW, &saved);
	fprintf(stderr, "\n[detached]\n");
	if (t)
		telnet_free(t);
	return rc;
}

int cmd_console(int argc, char **argv)
{
	struct sockaddr_un relay = { .sun_family = AF_UNIX };
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
	/* A run holds QEMU's only telnet client: join it through its relay. */
	snprintf(relay.sun_path, sizeof(relay.sun_path), CONSOLE_RELAY_DIR "/%s-%s.sock", argv[1],
		 argv[2]);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&relay, sizeof(relay)) == 0) {
		rc = attach(fd, false);
		close(fd);
		return rc ? TB_EXIT_CHECK : TB_EXIT_OK;
	}
	if (fd >= 0)
		close(fd);
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
	rc = attach(fd, true);
	close(fd);
	return rc ? TB_EXIT_CHECK : TB_EXIT_OK;
fail:
	fprintf(stderr, "twinbench console: %s\n", err.msg);
	return err.exit ? err.exit : TB_EXIT_ENV;
}
