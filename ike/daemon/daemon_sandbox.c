// SPDX-License-Identifier: GPL-2.0-only
/*
 * daemon_sandbox.c - capabilities, no new privileges and the seccomp
 * filters of ipsec-xdpd's two processes (daemon_sandbox.h).
 *
 * The lists of system calls are what the processes make once started:
 * the network process's event loop (libevent on epoll, its signals
 * through a socketpair), the IKE and control sockets, xfrm and route
 * netlink (libnl opens a socket per operation), the pinned maps (bpf, and
 * the dataplane's flock, /proc/locks), the policy agent (inotify, reading
 * the policy, the atomic writes of the state directory), certificates and CRLs read by path (OpenSSL), the journal or
 * syslog, and what glibc, OpenSSL and libbpf call underneath (memory,
 * futexes, getrandom, time), the central policy source (libcurl: https,
 * its resolver thread) and the metrics endpoint (evhttp).  Nothing the
 * started daemon does needs fork, execve, ptrace, mount, setuid or module
 * and key management: those stop it.  With --user the network process
 * changes its user and group before its filter is installed (become()).
 */
#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <seccomp.h>

#include "daemon/daemon_sandbox.h"

static int fail(char *err, size_t errlen, const char *what, int e)
{
	snprintf(err, errlen, "sandbox: %s: %s", what, strerror(e));
	return -1;
}

/* ---- capabilities ---------------------------------------------------------------- */

static int caps_get(uint64_t *eff, uint64_t *prm)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct c[2];

	if (syscall(SYS_capget, &h, c))
		return -1;
	*eff = c[0].effective | (uint64_t)c[1].effective << 32;
	*prm = c[0].permitted | (uint64_t)c[1].permitted << 32;
	return 0;
}

/* effective = eff, permitted = prm, inheritable = none */
static int caps_set(uint64_t eff, uint64_t prm)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct c[2] = {
		{ (uint32_t)eff, (uint32_t)prm, 0 },
		{ (uint32_t)(eff >> 32), (uint32_t)(prm >> 32), 0 },
	};

	return (int)syscall(SYS_capset, &h, c);
}

/* Every capability but those of keep out of the bounding set (what an
 * execve could give back), and root's special treatment at execve and
 * setuid locked off.  Needs CAP_SETPCAP; without it there is nothing to
 * drop them with, and an execve is refused by the filter anyway. */
static int drop_bounding(uint64_t keep, char *err, size_t errlen)
{
	const unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED |
		SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |
		SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
		SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
	int c, in;

	for (c = 0; c < 64; c++) {
		in = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
		if (in < 0)
			break;		/* past the kernel's last capability */
		if (in == 1 && !(keep & (1ULL << c)) &&
		    prctl(PR_CAPBSET_DROP, c, 0, 0, 0))
			return fail(err, errlen, "dropping from the bounding "
				    "set", errno);
	}
	if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0))
		return fail(err, errlen, "securebits", errno);
	return 0;
}

/* Become user (uid, gid, no supplementary group) and keep the permitted
 * capabilities across the change: with the securebits drop_bounding
 * locked (SECBIT_NO_SETUID_FIXUP) the kernel leaves them alone, else
 * PR_SET_KEEPCAPS keeps the permitted ones (the caller sets them all
 * again).  Needs CAP_SETUID and CAP_SETGID effective. */
static int become(const struct sandbox_user *u, char *err, size_t errlen)
{
	int bits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
	uid_t r, e, s;
	gid_t gr, ge, gs;

	if ((bits < 0 || !(bits & SECBIT_NO_SETUID_FIXUP)) &&
	    prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0))
		return fail(err, errlen, "keeping the capabilities across the "
			    "change of user", errno);
	if (setgroups(0, NULL))
		return fail(err, errlen, "dropping the supplementary groups",
			    errno);
	if (setresgid(u->gid, u->gid, u->gid))
		return fail(err, errlen, "changing the group", errno);
	if (setresuid(u->uid, u->uid, u->uid))
		return fail(err, errlen, "changing the user", errno);
	if (getresuid(&r, &e, &s) || getresgid(&gr, &ge, &gs) ||
	    r != u->uid || e != u->uid || s != u->uid || gr != u->gid ||
	    ge != u->gid || gs != u->gid || getgroups(0, NULL) != 0) {
		snprintf(err, errlen, "sandbox: still another user or group "
			 "after changing them");
		return -1;
	}
	return 0;
}

int sandbox_user_possible(const struct sandbox_user *u, char *err,
			  size_t errlen)
{
	const uint64_t setid = 1ULL << CAP_SETUID | 1ULL << CAP_SETGID;
	uint64_t eff, prm;

	if (caps_get(&eff, &prm))
		return fail(err, errlen, "capget", errno);
	if ((prm & setid) != setid) {
		snprintf(err, errlen, "sandbox: becoming user %s needs "
			 "CAP_SETUID and CAP_SETGID, which the daemon was not "
			 "given", u->name);
		return -1;
	}
	return 0;
}

/* Keep only the capabilities of want (of those permitted), everywhere;
 * become user u first when given. */
static int keep_caps(uint64_t want, const struct sandbox_user *u,
		     char *err, size_t errlen)
{
	uint64_t eff, prm, keep;

	if (u && sandbox_user_possible(u, err, errlen))
		return -1;
	if (caps_get(&eff, &prm))
		return fail(err, errlen, "capget", errno);
	keep = want & prm;
	if (caps_set(prm, prm))	/* CAP_SETPCAP, CAP_SET[UG]ID effective */
		return fail(err, errlen, "capset", errno);
	if ((prm & (1ULL << CAP_SETPCAP)) && drop_bounding(keep, err, errlen))
		return -1;
	if (u && become(u, err, errlen))
		return -1;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) &&
	    errno != EINVAL)
		return fail(err, errlen, "clearing the ambient set", errno);
	if (caps_set(keep, keep))
		return fail(err, errlen, "capset", errno);
	if (caps_get(&eff, &prm) || eff != keep || prm != keep) {
		snprintf(err, errlen, "sandbox: capabilities still held after "
			 "dropping them");
		return -1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return fail(err, errlen, "no new privileges", errno);
	return 0;
}

/* ---- seccomp ---------------------------------------------------------------------- */

/* A system call the filter does not allow: say which, and stop (only
 * async-signal-safe calls here, all of them allowed). */
static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	static const char head[] = "ipsec-xdpd: seccomp: system call ";
	static const char tail[] = " not allowed; stopping\n";
	char msg[sizeof(head) + sizeof(tail) + 12], digits[12];
	unsigned n = (unsigned)si->si_syscall;
	size_t len = sizeof(head) - 1, d = 0;

	memcpy(msg, head, len);
	do
		digits[d++] = (char)('0' + n % 10);
	while ((n /= 10) && d < sizeof(digits));
	while (d)
		msg[len++] = digits[--d];
	memcpy(msg + len, tail, sizeof(tail) - 1);
	len += sizeof(tail) - 1;
	if (write(STDERR_FILENO, msg, len) < 0)
		_exit(1);
	_exit(1);
}

/* Calls both processes make: memory, time, signals, futexes, exit. */
static const char *const base_calls[] = {
	"brk", "mmap", "munmap", "mremap", "mprotect", "madvise",
	"futex", "set_robust_list", "rseq", "restart_syscall",
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack",
	"clock_gettime", "clock_getres", "gettimeofday", "time",
	"nanosleep", "clock_nanosleep",
	"getpid", "gettid", "getppid", "getuid", "geteuid", "getgid",
	"getegid", "getresuid", "getresgid", "getgroups", "capget",
	"getrandom", "uname", "sysinfo", "sched_getaffinity", "sched_yield",
	"prlimit64", "getrlimit",
	"read", "write", "readv", "writev", "pread64", "lseek", "close",
	"open", "openat", "newfstatat", "fstat", "stat", "lstat", "statx",
	"access", "faccessat", "faccessat2", "readlink", "readlinkat",
	"getdents64", "getcwd", "fcntl", "poll", "ppoll",
	"recvfrom", "sendto", "recvmsg", "sendmsg", "connect",
	"memfd_create",		/* sd_journal_sendv: a line too long for one datagram */
	"exit", "exit_group",
	NULL
};

/* The network process's own: its sockets, the event loop, the pinned
 * maps, the policy agent's files, the key holder reaped at the end. */
static const char *const net_calls[] = {
	"bind", "listen", "accept", "accept4", "getsockname", "getpeername",
	"sendmmsg", "recvmmsg", "setsockopt", "getsockopt", "shutdown",
	"epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait",
	"epoll_pwait2", "select", "pselect6", "eventfd2",
	"timerfd_create", "timerfd_settime", "timerfd_gettime",
	"inotify_init1", "inotify_add_watch", "inotify_rm_watch",
	"pwrite64", "mkdir", "mkdirat", "rename", "renameat", "renameat2",
	"unlink", "unlinkat", "chmod", "fchmod", "fchmodat", "umask",
	"fsync", "fdatasync", "ftruncate", "flock", "dup", "dup2", "dup3",
	"pipe2", "setrlimit",
	"bpf", "wait4",
	NULL
};

static int allow_list(scmp_filter_ctx ctx, const char *const *names)
{
	int nr;

	for (; *names; names++) {
		nr = seccomp_syscall_resolve_name(*names);
		if (nr == __NR_SCMP_ERROR)
			continue;	/* not a system call of this arch */
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0))
			return -1;
	}
	return 0;
}

/* nr allowed when its argument arg is one of v[0..n). */
static int allow_args(scmp_filter_ctx ctx, int nr, unsigned arg,
		      const uint64_t *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
				     SCMP_CMP(arg, SCMP_CMP_MASKED_EQ,
					      0xffffffffULL, v[i])))
			return -1;
	return 0;
}

/* socket() of the given families, ioctl() of a few read-only requests
 * (FIONREAD for libevent, the interface lookups and an interface's kind
 * for connection-type, dataplane_iface.c; stdio's isatty), prctl()
 * that only reads, tgkill() of ourselves (abort). */
static int allow_conditional(scmp_filter_ctx ctx, const uint64_t *fam,
			     size_t nfam)
{
	static const uint64_t ioctls[] = { FIONREAD, FIONBIO, TCGETS,
		TIOCGWINSZ, SIOCGIFINDEX, SIOCGIFNAME, SIOCGIFFLAGS,
		SIOCGIFMTU, SIOCGIFHWADDR };
	static const uint64_t prctls[] = { PR_CAPBSET_READ, PR_GET_NAME,
		PR_GET_DUMPABLE, PR_GET_SECUREBITS, PR_GET_NO_NEW_PRIVS,
		PR_CAP_AMBIENT };
	uint64_t self = (uint64_t)getpid();

	return allow_args(ctx, SCMP_SYS(socket), 0, fam, nfam) ||
	       allow_args(ctx, SCMP_SYS(socketpair), 0,
			  (const uint64_t[]){ AF_UNIX }, 1) ||
	       allow_args(ctx, SCMP_SYS(ioctl), 1, ioctls,
			  sizeof(ioctls) / sizeof(ioctls[0])) ||
	       allow_args(ctx, SCMP_SYS(prctl), 0, prctls,
			  sizeof(prctls) / sizeof(prctls[0])) ||
	       allow_args(ctx, SCMP_SYS(tgkill), 0, &self, 1);
}

static int load_filter(const char *const *extra, const uint64_t *fam,
		       size_t nfam, int (*more)(scmp_filter_ctx ctx),
		       char *err, size_t errlen)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys,
				.sa_flags = SA_SIGINFO };
	scmp_filter_ctx ctx;
	int rc;

	if (sigaction(SIGSYS, &sa, NULL))
		return fail(err, errlen, "SIGSYS handler", errno);
	ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx)
		return fail(err, errlen, "seccomp_init", ENOMEM);
	/* the kernel logs what the filter stopped, where it can */
	(void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
	rc = allow_list(ctx, base_calls) ||
	     (extra && allow_list(ctx, extra)) ||
	     allow_conditional(ctx, fam, nfam) ||
	     (more && more(ctx)) ? -EINVAL : 0;
	if (!rc)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	return rc ? fail(err, errlen, "seccomp filter", -rc) : 0;
}

/* Threads, not processes: libcurl (the central policy source) resolves
 * names in a thread of its own.  clone() only with CLONE_THREAD; clone3()
 * answers ENOSYS (its flags are behind a pointer the filter cannot read),
 * so that glibc falls back to clone(). */
static int allow_threads(scmp_filter_ctx ctx)
{
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
				SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD,
					CLONE_THREAD)) ||
	       seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3),
				0) ? -1 : 0;
}

int sandbox_network(const struct sandbox_user *u, char *err, size_t errlen)
{
	static const uint64_t fam[] = { AF_UNIX, AF_INET, AF_INET6,
					AF_NETLINK };

	if (keep_caps(SANDBOX_NET_CAPS, u, err, errlen))
		return -1;
	return load_filter(net_calls, fam, sizeof(fam) / sizeof(fam[0]),
			   allow_threads, err, errlen);
}

/* The key holder's own: it puts back, or forgets, the rollback copy of
 * `policy apply --confirm-within` in CONFDIR (rename over policy.yaml,
 * unlink, the directory synced: lib/agent/agent_rollback.h), which the
 * network process may not write under --user.  Still no mkdir, chmod or
 * chown: the copy is written by the command, as root. */
static const char *const keyholder_calls[] = {
	"rename", "renameat", "renameat2", "unlink", "unlinkat", "fsync",
	NULL
};

int sandbox_keyholder(char *err, size_t errlen)
{
	/* AF_UNIX: the journal's or syslog's socket, for its error lines */
	static const uint64_t fam[] = { AF_UNIX };

	if (keep_caps(0, NULL, err, errlen))
		return -1;
	return load_filter(keyholder_calls, fam, 1, NULL, err, errlen);
}
