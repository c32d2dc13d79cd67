/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * agent_rollback.h - the rollback copy of `ipsec-xdp policy apply
 * --confirm-within`, kept by root in CONFDIR so that the daemon's network
 * process, which may not write CONFDIR (ipsec-xdpd --user), never writes
 * the policy itself:
 *
 *   CONFDIR/policy.yaml.rollback       the stored policy's exact bytes,
 *                                      its mode and group, written
 *                                      atomically; or
 *   CONFDIR/policy.yaml.rollback-none  (empty, 0600) no policy was stored.
 *
 * The command saves one of them under the writers' lock before it changes
 * anything; the daemon's key holder (root, owner of CONFDIR) puts it back
 * (rename over policy.yaml, or unlink policy.yaml) on the timeout, or
 * removes it on `policy confirm`, each on a fixed request that names no
 * file (wire_keymsg.h).  At most one of the two exists while a policy
 * waits for confirmation; either left when the daemon starts is a
 * confirmation that never came, and is put back (ipsec-xdpd(8)).
 */
#ifndef IXDP_AGENT_ROLLBACK_H
#define IXDP_AGENT_ROLLBACK_H

#include <stdbool.h>
#include <stddef.h>

enum agent_kept {
	AGENT_KEPT_NOTHING = 0,	/* no rollback pending */
	AGENT_KEPT_COPY,	/* policy.yaml.rollback */
	AGENT_KEPT_NONE,	/* policy.yaml.rollback-none */
};

#define AGENT_ROLLBACK_NOTHING 1	/* agent_rollback_restore: nothing kept */

/* CONFDIR/policy.yaml.rollback (copy) and .rollback-none (none). */
void agent_rollback_paths(const char *confdir, char *copy, char *none,
			  size_t len);
/* What is kept in confdir now (the copy when, wrongly, both are). */
enum agent_kept agent_rollback_kept(const char *confdir);
/* Keep the stored policy (or that none is stored) for a rollback; the
 * caller holds the writers' lock.  0, or -1 with err (also when one is
 * kept already: a policy waits for confirmation). */
int agent_rollback_save(const char *confdir, char *err, size_t errlen);
/* Put back what was kept: the copy renamed over policy.yaml (*had_policy
 * true), or policy.yaml removed (false); then nothing is kept.  The copy
 * must be a regular file of this process's user.  0,
 * AGENT_ROLLBACK_NOTHING when nothing is kept, or -1 with err. */
int agent_rollback_restore(const char *confdir, bool *had_policy, char *err,
			   size_t errlen);
/* Forget what was kept (confirmed).  0, or -1 with err. */
int agent_rollback_drop(const char *confdir, char *err, size_t errlen);

#endif /* IXDP_AGENT_ROLLBACK_H */
