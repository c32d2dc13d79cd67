/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * policy_state.h - the run-time state `ipsec-xdp` keeps, apart from the
 * configuration: in STATEDIR ($IPSEC_XDP_STATEDIR; else
 * $IPSEC_XDP_CONFDIR/state when that is set; else /var/lib/ipsec-xdp),
 * so that /etc/ipsec-xdp holds only what the administrator set (and can
 * be read-only, as ProtectSystem=strict makes it).
 *
 *   STATEDIR/policy-applied-once   exists once a policy has been applied
 *                                  (the default boot mode is then stateful)
 *
 * Versions before kept this as `policy-applied-once = yes` in
 * CONFDIR/config: state_load carries it over (the file is made, and the
 * next `set config` drops the old key); until it could be, the key stays.
 */
#ifndef IXDP_POLICY_STATE_H
#define IXDP_POLICY_STATE_H

#include <stddef.h>

#include "policy/policy_bootconf.h"

#define IXDP_STATEDIR_DEFAULT "/var/lib/ipsec-xdp"
#define IXDP_APPLIED_ONCE_FILE "policy-applied-once"

/* $IPSEC_XDP_STATEDIR; unset or empty: $IPSEC_XDP_CONFDIR/state when
 * IPSEC_XDP_CONFDIR is set, else the default. */
const char *ixdp_statedir(void);

/*
 * Set c->policy_applied_once from STATEDIR (c was read by bootconf_load).
 * When only the old key of CONFDIR/config says so, make the state file
 * and clear c->applied_once_in_config.  -1 with err when that file could
 * not be made: c still says "applied once" and keeps the old key, so
 * nothing is lost; the caller may go on.
 */
int state_load(const char *statedir, struct bootconf *c, char *err,
	       size_t errlen);

/* Record that a policy has been applied (STATEDIR is made if missing). */
int state_mark_applied_once(const char *statedir, char *err, size_t errlen);

#endif /* IXDP_POLICY_STATE_H */
