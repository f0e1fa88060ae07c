// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * noop-loader: attaches the do-nothing programs of bench/noop.bpf.c to
 * tp_btf/sys_enter and/or tp_btf/sys_exit, prints "ready" on stdout, and
 * keeps them attached until stdin reaches EOF or SIGINT/SIGTERM. For
 * bench/kernel-overhead.mjs only: it measures the floor of tracing syscalls
 * with tp_btf programs on this kernel, apart from what Peregrine's programs do.
 *
 *   noop-loader enter,exit | exit | enter
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "noop.skel.h"

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	stop_requested = 1;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_stop };
	struct noop_bpf *skel;
	bool enter, exit_;
	int err;

	if (argc != 2 || (strcmp(argv[1], "enter,exit") && strcmp(argv[1], "exit") &&
			  strcmp(argv[1], "enter"))) {
		fprintf(stderr, "usage: %s enter,exit | exit | enter\n", argv[0]);
		return 2;
	}
	enter = strstr(argv[1], "enter") != NULL;
	exit_ = strstr(argv[1], "exit") != NULL;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	skel = noop_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "noop-loader: load failed: %s\n", strerror(errno));
		return 3;
	}
	bpf_program__set_autoattach(skel->progs.noop_sys_enter, enter);
	bpf_program__set_autoattach(skel->progs.noop_sys_exit, exit_);
	err = noop_bpf__attach(skel);
	if (err) {
		fprintf(stderr, "noop-loader: attach failed: %s\n", strerror(-err));
		noop_bpf__destroy(skel);
		return 3;
	}
	printf("ready\n");
	fflush(stdout);
	while (!stop_requested) {
		struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
		char buf[64];

		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			break;
		if (p.revents && read(STDIN_FILENO, buf, sizeof(buf)) <= 0)
			break;
	}
	noop_bpf__destroy(skel);
	return 0;
}
