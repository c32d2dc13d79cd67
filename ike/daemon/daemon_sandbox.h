/* SPDX-License-Identifier: GPL-2.0-only
 *
 * daemon_sandbox.h - what ipsec-xdpd's processes keep once started
 * (ipsec-xdpd(8) SECURITY):
 *
 *   the network process  the user of --user (ipsec-xdpd(8) SECURITY), and
 *                        CAP_NET_ADMIN and CAP_BPF (of those it was given)
 *                        and no other capability, effective, permitted,
 *                        inheritable, ambient or in the bounding set;
 *                        no new privileges; a seccomp filter that allows
 *                        the system calls it makes at run time and stops
 *                        it on any other;
 *   the key holder       no capability at all, no new privileges, and a
 *                        seccomp filter of its own (read files, answer on
 *                        its socket).
 *
 * A system call outside the filter is fatal: the process writes
 * "ipsec-xdpd: seccomp: system call N not allowed; stopping" on its
 * standard error and exits 1, and the kernel logs it too (audit type 1326).
 * Linked only into ipsec-xdpd (libseccomp): the unit tests never call it.
 */
#ifndef IXDP_IKE_DAEMON_SANDBOX_H
#define IXDP_IKE_DAEMON_SANDBOX_H

#include <stddef.h>
#include <sys/types.h>

/* The capabilities the network process keeps (linux/capability.h
 * numbers), as the CapEff mask of /proc/PID/status. */
#define SANDBOX_NET_CAPS ((1ULL << 12 /* CAP_NET_ADMIN */) | \
			  (1ULL << 39 /* CAP_BPF */))

/* The user the network process becomes (--user), looked up at start-up. */
struct sandbox_user {
	const char *name;
	uid_t uid;
	gid_t gid;
};

/* Confine the network process: call once start-up is over (sockets open,
 * in the background already); with u, it becomes that user and group (no
 * supplementary group) first, keeping the capabilities above across the
 * change (it needs CAP_SETUID and CAP_SETGID for it, dropped with the
 * others).  0, or -1 and err: the caller stops. */
int sandbox_network(const struct sandbox_user *u, char *err, size_t errlen);
/* Can the network process become u (CAP_SETUID and CAP_SETGID
 * permitted)?  0, or -1 and err saying what is missing: checked at start,
 * before anything is opened, and again by sandbox_network. */
int sandbox_user_possible(const struct sandbox_user *u, char *err,
			  size_t errlen);
/* Confine the key holder (its child of keyholder_start). */
int sandbox_keyholder(char *err, size_t errlen);

#endif /* IXDP_IKE_DAEMON_SANDBOX_H */
