// SPDX-License-Identifier: GPL-2.0-only
/*
 * policy_state.c - the run-time state in STATEDIR (policy_state.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/util_atomic_file.h"
#include "policy/policy_state.h"

static const char applied_once_text[] =
	"# kept by ipsec-xdp: a policy has been applied on this host, so the\n"
	"# boot mode, when none is configured, is stateful (ipsec-xdp(8))\n";

const char *ixdp_statedir(void)
{
	static char beside_conf[PATH_MAX];
	const char *d = getenv("IPSEC_XDP_STATEDIR");
	const char *conf = getenv("IPSEC_XDP_CONFDIR");

	if (d && *d)
		return d;
	/* A configuration directory of its own (a test, a second instance)
	 * does not share the host's state. */
	if (conf && *conf && snprintf(beside_conf, sizeof(beside_conf), "%s/state",
				      conf) < (int)sizeof(beside_conf))
		return beside_conf;
	return IXDP_STATEDIR_DEFAULT;
}

static int applied_once_path(const char *statedir, char *buf, size_t len,
			     char *err, size_t errlen)
{
	if (snprintf(buf, len, "%s/%s", statedir, IXDP_APPLIED_ONCE_FILE) >=
	    (int)len) {
		snprintf(err, errlen, "%s: path too long", statedir);
		return -1;
	}
	return 0;
}

int state_mark_applied_once(const char *statedir, char *err, size_t errlen)
{
	char path[PATH_MAX];

	if (applied_once_path(statedir, path, sizeof(path), err, errlen) ||
	    make_dirs(statedir, err, errlen))
		return -1;
	return write_file_atomic(path, applied_once_text,
				 sizeof(applied_once_text) - 1, 0644, err,
				 errlen);
}

int state_load(const char *statedir, struct bootconf *c, char *err,
	       size_t errlen)
{
	char path[PATH_MAX], why[512];

	if (applied_once_path(statedir, path, sizeof(path), err, errlen))
		return -1;
	if (access(path, F_OK) == 0) {
		c->policy_applied_once = true;
		c->applied_once_in_config = false;
		return 0;
	}
	if (!c->applied_once_in_config)
		return 0;
	/* an upgrade: the old key of CONFDIR/config, carried over once */
	c->policy_applied_once = true;
	if (state_mark_applied_once(statedir, why, sizeof(why))) {
		snprintf(err, errlen, "policy-applied-once of the configuration "
			 "is not yet moved to %s: %s", statedir, why);
		return -1;
	}
	c->applied_once_in_config = false;
	return 0;
}
