/* SPDX-License-Identifier: GPL-2.0-only
 *
 * daemon_keyholder.h - ipsec-xdpd's key holder: a process of its own,
 * forked at start-up, that alone reads CONFDIR/secrets and the host's
 * private key and answers, over a SOCK_SEQPACKET socketpair
 * (wire/wire_keymsg.h), the requests that need them.  The network process
 * keeps in d->secrets only the ids of the pre-shared keys and the host's
 * certificates, and reaches the keys through d->keys (sa/sa_keys.h).
 *
 * Fail closed: when the key holder is gone or answers out of turn, the
 * network process logs it and exits 1; it never authenticates without it.
 * The key holder exits when the network process closes its end.
 */
#ifndef IXDP_IKE_DAEMON_KEYHOLDER_H
#define IXDP_IKE_DAEMON_KEYHOLDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct daemon;
struct event_base;
struct secrets;
struct keymsg;

/* Fork the key holder for d->confdir and set d->keys to its client;
 * confine (NULL: none) is called in the key holder before it serves, and
 * its failure ends it (daemon_sandbox.h).  0, or -1 and err. */
int keyholder_start(struct daemon *d,
		    int (*confine)(char *err, size_t errlen), char *err,
		    size_t errlen);
/* Watch its socket on evb: its end of file while idle is fatal. */
int keyholder_watch(struct daemon *d, struct event_base *evb);
/* Have it read the secrets again, then take their public view (ids, host
 * certificates) into d->secrets.  -1 and err: the set in force stays. */
int keyholder_reload(struct daemon *d, char *err, size_t errlen);
/* `policy apply --confirm-within` (lib/agent/agent_rollback.h): have it
 * put back the policy the command kept in CONFDIR (*had_policy: a file, or
 * false when none was stored and policy.yaml is now gone), or, with drop
 * (confirmed), forget it.  The key holder is root, CONFDIR's owner; the
 * network process (ipsec-xdpd --user) may not write CONFDIR.  0,
 * KEYHOLDER_NOTHING_KEPT (not with drop), or -1 and err. */
#define KEYHOLDER_NOTHING_KEPT 2	/* not DAGENT_BUSY */
int keyholder_rollback(struct daemon *d, bool drop, bool *had_policy,
		       char *err, size_t errlen);
/* Its pid (for the tests). */
pid_t keyholder_pid(const struct daemon *d);
/* Close our end (the key holder exits) and reap it. */
void keyholder_stop(struct daemon *d);

/* The key holder's side: answer the requests on fd from the secrets of
 * confdir until the other end is closed (0) or sends what is not a
 * request (-1).  Used by keyholder_start's child and the unit tests. */
int keyholder_serve(int fd, const char *confdir);
/* One answer: request q over the set *s (replaced on KM_RELOAD) into out.
 * The reply's length, 0 when it cannot be encoded. */
size_t keyholder_answer(const char *confdir, struct secrets **s,
			const struct keymsg *q, uint8_t *out, size_t cap);

#endif /* IXDP_IKE_DAEMON_KEYHOLDER_H */
