// Performs the syscalls the live sensor tests assert on, in a known order,
// and prints what the test cannot know in advance (fds, ports, child pids)
// as key=value lines. Built by test/integration/sensor-syscalls.test.ts with cc.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static void files(void)
{
	int dirfd = open(".", O_RDONLY | O_DIRECTORY);
	int fd = open("f", O_CREAT | O_WRONLY, 0600);

	printf("dirfd=%d\nfd=%d\n", dirfd, fd);
	mkdir("d1", 0750);
	mkdirat(dirfd, "d2", 0700);
	symlink("f", "l1");
	symlinkat("f", dirfd, "l2");
	link("f", "h1");
	linkat(dirfd, "f", dirfd, "h2", 0);
	rename("h1", "h3");
	renameat(dirfd, "h2", dirfd, "h4");
	syscall(SYS_renameat2, dirfd, "h3", dirfd, "h5", 1 /* RENAME_NOREPLACE */);
	chmod("f", 0640);
	fchmod(fd, 0600);
	fchmodat(dirfd, "f", 0644, 0);
	chown("f", 1234, 5678);
	fchown(fd, 1, 1);
	fchownat(dirfd, "f", 2, 2, 0);
	lchown("l1", 3, 3);
	unlink("h4");
	unlinkat(dirfd, "h5", 0);
	rmdir("d1");
	unlinkat(dirfd, "d2", AT_REMOVEDIR);
	unlink("missing");
	chdir("/");
	fchdir(dirfd);
	open("missing", O_RDONLY);
	close(fd);
	close(dirfd);
}

static void process(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	char *argv[] = { "nope", NULL };
	union bpf_attr attr;
	pid_t child;
	int status, mfd;

	setgid(0);
	setuid(0);
	setresgid(-1, -1, -1);
	setresuid(-1, -1, -1);
	setregid(-1, -1);
	setreuid(-1, -1);
	syscall(SYS_capget, &hdr, data);
	syscall(SYS_capset, &hdr, data);
	prctl(PR_SET_NAME, "pg-prctl");
	unshare(0);
	setns(-1, 0);
	mfd = memfd_create("pg-memfd", MFD_CLOEXEC);
	printf("memfd=%d\n", mfd);
	syscall(SYS_init_module, NULL, 0, "");
	syscall(SYS_finit_module, -1, "", 0);
	syscall(SYS_delete_module, "pg_no_such_module", O_NONBLOCK);
	memset(&attr, 0, sizeof(attr));
	syscall(SYS_bpf, BPF_PROG_LOAD, &attr, 8);
	syscall(SYS_userfaultfd, O_CLOEXEC);
	mount("none", "/nonexistent-pg", "tmpfs", MS_NOSUID, NULL);
	umount2("/nonexistent-pg", MNT_DETACH);
	execve("/nonexistent/pg-exe", argv, NULL);
	syscall(SYS_execveat, AT_FDCWD, "nonexistent-pg-exe", argv, NULL, 0);
	kill(getpid(), 0);
	syscall(SYS_tkill, gettid(), 0);
	syscall(SYS_tgkill, getpid(), gettid(), 0);

	/* A child that exits 5, one killed by SIGKILL, one traced. */
	child = fork();
	if (child == 0)
		_exit(5);
	printf("fork_child=%d\n", child);
	waitpid(child, &status, 0);
	child = vfork();
	if (child == 0)
		_exit(6);
	printf("vfork_child=%d\n", child);
	waitpid(child, &status, 0);
	child = fork();
	if (child == 0) {
		pause();
		_exit(0);
	}
	printf("killed_child=%d\n", child);
	ptrace(PTRACE_ATTACH, child, 0, 0);
	waitpid(child, &status, 0);
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	{
		struct clone_args ca;

		memset(&ca, 0, sizeof(ca));
		ca.flags = CLONE_PARENT_SETTID;
		ca.exit_signal = SIGCHLD;
		int ptid = 0;
		ca.parent_tid = (unsigned long)&ptid;
		child = syscall(SYS_clone3, &ca, sizeof(ca));
		if (child == 0)
			_exit(7);
		printf("clone3_child=%d\n", child);
		waitpid(child, &status, 0);
	}
	fflush(stdout);
}

static void net(const char *dir)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct sockaddr_in peer;
	socklen_t len = sizeof(sin);
	int s, c, a, u1, u2, sv[2], s6, c6, a6, us, uc;
	char buf[8] = "ping";
	struct iovec iov = { buf, 4 };
	struct msghdr msg = { 0 };

	s = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(s, (struct sockaddr *)&sin, sizeof(sin));
	listen(s, 7);
	getsockname(s, (struct sockaddr *)&sin, &len);
	c = socket(AF_INET, SOCK_STREAM, 0);
	connect(c, (struct sockaddr *)&sin, sizeof(sin));
	len = sizeof(peer);
	a = accept4(s, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);
	printf("tcp_listen_fd=%d\ntcp_port=%d\ntcp_client_fd=%d\ntcp_accepted_fd=%d\ntcp_client_port=%d\n",
	       s, ntohs(sin.sin_port), c, a, ntohs(peer.sin_port));

	u1 = socket(AF_INET, SOCK_DGRAM, 0);
	u2 = socket(AF_INET, SOCK_DGRAM, 0);
	sin.sin_port = 0;
	bind(u2, (struct sockaddr *)&sin, sizeof(sin));
	len = sizeof(sin);
	getsockname(u2, (struct sockaddr *)&sin, &len);
	sendto(u1, buf, 4, 0, (struct sockaddr *)&sin, sizeof(sin));
	len = sizeof(peer);
	recvfrom(u2, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &len);
	msg.msg_name = &sin;
	msg.msg_namelen = sizeof(sin);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	sendmsg(u1, &msg, 0);
	msg.msg_name = &peer;
	msg.msg_namelen = sizeof(peer);
	recvmsg(u2, &msg, 0);
	printf("udp_fd=%d\nudp_port=%d\nudp_sender_port=%d\n", u2, ntohs(sin.sin_port), ntohs(peer.sin_port));

	s6 = socket(AF_INET6, SOCK_STREAM, 0);
	sin6.sin6_addr = in6addr_loopback;
	bind(s6, (struct sockaddr *)&sin6, sizeof(sin6));
	listen(s6, 3);
	len = sizeof(sin6);
	getsockname(s6, (struct sockaddr *)&sin6, &len);
	c6 = socket(AF_INET6, SOCK_STREAM, 0);
	connect(c6, (struct sockaddr *)&sin6, sizeof(sin6));
	a6 = accept(s6, NULL, NULL);
	printf("tcp6_port=%d\ntcp6_accepted_fd=%d\n", ntohs(sin6.sin6_port), a6);

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	printf("pair0=%d\npair1=%d\n", sv[0], sv[1]);
	us = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/pg.sock", dir);
	bind(us, (struct sockaddr *)&sun, sizeof(sun));
	listen(us, 1);
	uc = socket(AF_UNIX, SOCK_STREAM, 0);
	connect(uc, (struct sockaddr *)&sun, sizeof(sun));

	printf("dup=%d\n", dup(a));
	dup2(a, 100);
	dup3(a, 101, O_CLOEXEC);
	close(100);
	close(9999);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("pid=%d\n", getpid());
	if (argc >= 2 && !strcmp(argv[1], "files"))
		files();
	else if (argc >= 2 && !strcmp(argv[1], "process"))
		process();
	else if (argc >= 3 && !strcmp(argv[1], "net"))
		net(argv[2]);
	else if (argc >= 2 && !strcmp(argv[1], "memfd-exec")) {
		/* A copy of /bin/true in a memfd, run with execveat(AT_EMPTY_PATH). */
		char *args[] = { "pg-memfd-true", NULL };
		char buf[65536];
		int in = open("/bin/true", O_RDONLY);
		int mfd = memfd_create("pg-exe", 0);
		ssize_t n;

		while ((n = read(in, buf, sizeof(buf))) > 0)
			write(mfd, buf, n);
		syscall(SYS_execveat, mfd, "", args, NULL, AT_EMPTY_PATH);
		return 1;
	} else if (argc >= 3 && !strcmp(argv[1], "open-loop")) {
		long n = atol(argv[2]);

		for (long i = 0; i < n; i++)
			close(open("/etc/hostname", O_RDONLY));
	} else {
		fprintf(stderr, "usage: sensor-helper files|process|net DIR|open-loop N\n");
		return 2;
	}
	return 0;
}
