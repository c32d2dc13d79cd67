// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_ike_sandbox.c - what ipsec-xdpd's processes keep once started
 * (ike/daemon/daemon_sandbox.c): each case confines a forked child and
 * looks at what it may still do.
 *   - the network process keeps CAP_NET_ADMIN and CAP_BPF (of those it
 *     had) and nothing else, has no new privileges and a seccomp filter;
 *     what it does at run time still works (UDP and netlink sockets, files,
 *     a thread: libcurl's resolver);
 *   - a system call outside its filter (execve, fork, a packet socket)
 *     stops it: exit 1, "seccomp: system call N not allowed" on stderr;
 *   - with a user (--user), the network process becomes that uid and gid
 *     with no supplementary group and still keeps CAP_NET_ADMIN and
 *     CAP_BPF, with or without CAP_SETPCAP (the securebits' way or
 *     PR_SET_KEEPCAPS'); then it cannot open a file of root's mode 0600,
 *     while it opens one others may read (needs root: skipped otherwise);
 *   - the key holder keeps no capability and cannot open a network socket.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <pthread.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/if_ether.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/daemon_sandbox.h"

/* A status line's value of /proc/self/status, as a hex or decimal number. */
static unsigned long long self_status(const char *field)
{
	char line[256];
	unsigned long long v = ~0ULL;
	size_t n = strlen(field);
	FILE *f = fopen("/proc/self/status", "re");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n) && line[n] == ':')
			v = strtoull(line + n + 1, NULL,
				     !strncmp(field, "Cap", 3) ? 16 : 10);
	fclose(f);
	return v;
}

static void *thread_main(void *arg)
{
	return arg;
}

enum after { AFTER_NOTHING, AFTER_EXECVE, AFTER_FORK, AFTER_PACKET,
	     AFTER_INET, AFTER_NET_WORK, AFTER_USER, AFTER_USER_NO_SETPCAP };

/* The user of the AFTER_USER cases (nobody's numbers: no lookup), and a
 * file of root's, mode 0600, and one others may read, beside each other. */
#define TEST_UID 65534
#define TEST_GID 65534
static char secret_path[64], public_path[64];

/* Became TEST_UID/TEST_GID everywhere, no supplementary group? */
static bool is_test_user(void)
{
	uid_t r, e, s;
	gid_t gr, ge, gs;

	return !getresuid(&r, &e, &s) && !getresgid(&gr, &ge, &gs) &&
	       r == TEST_UID && e == TEST_UID && s == TEST_UID &&
	       gr == TEST_GID && ge == TEST_GID && gs == TEST_GID &&
	       getgroups(0, NULL) == 0;
}

/* What the user cases check once confined: 0, or which check failed. */
static int as_user_checks(void)
{
	int fd;

	if (!is_test_user())
		return 16;
	fd = open(secret_path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 || errno != EACCES)
		return 17;
	fd = open(public_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || close(fd))
		return 18;
	return 0;
}

/* What the child does once confined; its exit code says how it went
 * (0: all as expected, 2..: which check failed; 1 is the filter's). */
static int confined_child(bool net, enum after what)
{
	const struct sandbox_user u = { "nobody", TEST_UID, TEST_GID };
	bool user = what == AFTER_USER || what == AFTER_USER_NO_SETPCAP;
	unsigned long long prm;
	char err[256];
	int fd;

	if (what == AFTER_USER_NO_SETPCAP &&
	    prctl(PR_CAPBSET_DROP, CAP_SETPCAP, 0, 0, 0) == 0) {
		/* out of the permitted set too: no securebits then */
		struct __user_cap_header_struct h = {
			_LINUX_CAPABILITY_VERSION_3, 0 };
		struct __user_cap_data_struct c[2];

		if (syscall(SYS_capget, &h, c))
			return 19;
		c[0].permitted &= ~(1u << CAP_SETPCAP);
		c[0].effective &= ~(1u << CAP_SETPCAP);
		c[0].inheritable = c[1].inheritable = 0;
		if (syscall(SYS_capset, &h, c))
			return 19;
	}
	prm = self_status("CapPrm");
	if (net ? sandbox_network(user ? &u : NULL, err, sizeof(err))
		: sandbox_keyholder(err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	if (self_status("CapEff") != (net ? SANDBOX_NET_CAPS & prm : 0) ||
	    self_status("CapPrm") != self_status("CapEff") ||
	    self_status("CapInh") != 0 || self_status("CapAmb") != 0)
		return 3;
	if (self_status("NoNewPrivs") != 1 || self_status("Seccomp") != 2)
		return 4;
	switch (what) {
	case AFTER_EXECVE:
		execl("/bin/true", "true", (char *)NULL);
		return 5;
	case AFTER_FORK:
		return syscall(SYS_fork) >= 0 ? 6 : 7;
	case AFTER_PACKET:
		return socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)) >= 0 ? 8 : 9;
	case AFTER_INET:
		return socket(AF_INET, SOCK_DGRAM, 0) >= 0 ? 10 : 11;
	case AFTER_NET_WORK:
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || close(fd))
			return 12;
		fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0);
		if (fd < 0 || close(fd))
			return 13;
		fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
		if (fd < 0 || close(fd))
			return 14;
		{
			pthread_t t;
			void *back = NULL;

			if (pthread_create(&t, NULL, thread_main, &fd) ||
			    pthread_join(t, &back) || back != &fd)
				return 15;
		}
		return 0;
	case AFTER_USER:
	case AFTER_USER_NO_SETPCAP:
		return as_user_checks();
	default:
		return 0;
	}
}

/* Run confined_child in a child whose stderr is kept in out; its exit. */
static int run(bool net, enum after what, char *out, size_t cap)
{
	int p[2], st;
	ssize_t n, len = 0;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], STDERR_FILENO);
		_exit(confined_child(net, what));	/* no atexit handlers */
	}
	close(p[1]);
	while (len < (ssize_t)cap - 1 &&
	       (n = read(p[0], out + len, cap - 1 - (size_t)len)) > 0)
		len += n;
	out[len] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void test_network_keeps_what_it_needs(void **state)
{
	char out[512];

	assert_int_equal(run(true, AFTER_NOTHING, out, sizeof(out)), 0);
	assert_int_equal(run(true, AFTER_NET_WORK, out, sizeof(out)), 0);
	assert_string_equal(out, "");
}

static void test_network_stopped_outside_its_filter(void **state)
{
	static const enum after bad[] = { AFTER_EXECVE, AFTER_FORK,
					  AFTER_PACKET };
	char out[512];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(run(true, bad[i], out, sizeof(out)), 1);
		assert_non_null(strstr(out, "ipsec-xdpd: seccomp: system call "));
		assert_non_null(strstr(out, " not allowed; stopping"));
	}
}

/* A file at path, mode, owned by root. */
static void make_file(const char *path, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x\n", 2), 2);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

static void test_network_as_user(void **state)
{
	static const enum after cases[] = { AFTER_USER, AFTER_USER_NO_SETPCAP };
	char dir[] = "/tmp/ixdp-sandbox.XXXXXX", out[512];
	size_t i;

	if (geteuid() != 0)
		skip();		/* becoming a user needs CAP_SETUID, as root */
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0711), 0);
	snprintf(secret_path, sizeof(secret_path), "%s/secret", dir);
	snprintf(public_path, sizeof(public_path), "%s/public", dir);
	make_file(secret_path, 0600);
	make_file(public_path, 0644);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(run(true, cases[i], out, sizeof(out)), 0);
		assert_string_equal(out, "");
	}
	unlink(secret_path);
	unlink(public_path);
	rmdir(dir);
}

/* Without CAP_SETUID and CAP_SETGID there is no becoming a user: an error
 * that says so, never running on as root. */
static void test_network_user_needs_setid(void **state)
{
	const struct sandbox_user u = { "nobody", TEST_UID, TEST_GID };
	char err[256] = "";
	int p[2], st;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct __user_cap_header_struct h = {
			_LINUX_CAPABILITY_VERSION_3, 0 };
		struct __user_cap_data_struct c[2] = { { 0 } };

		close(p[0]);
		/* keep only CAP_NET_ADMIN */
		c[0].effective = c[0].permitted = 1u << CAP_NET_ADMIN;
		if (geteuid() == 0 && syscall(SYS_capset, &h, c))
			_exit(3);
		if (!sandbox_network(&u, err, sizeof(err)))
			_exit(4);
		n = write(p[1], err, strlen(err));
		_exit(n > 0 ? 0 : 5);
	}
	close(p[1]);
	n = read(p[0], err, sizeof(err) - 1);
	err[n > 0 ? n : 0] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_non_null(strstr(err, "needs CAP_SETUID and CAP_SETGID"));
}

static void test_keyholder_has_no_network(void **state)
{
	char out[512];

	assert_int_equal(run(false, AFTER_NOTHING, out, sizeof(out)), 0);
	assert_int_equal(run(false, AFTER_INET, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "seccomp: system call "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_network_keeps_what_it_needs),
		cmocka_unit_test(test_network_stopped_outside_its_filter),
		cmocka_unit_test(test_network_as_user),
		cmocka_unit_test(test_network_user_needs_setid),
		cmocka_unit_test(test_keyholder_has_no_network),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
