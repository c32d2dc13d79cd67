// SPDX-License-Identifier: GPL-2.0-only
/*
 * agent_reexpand.c - the policy in force compiled again for the host's
 * current addresses, pushed only when the live list differs (agent.h).
 * ipsec-xdpd calls it when an address, a route, resolv.conf or a lease
 * changed (ike/daemon/daemon_hostwatch.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "dataplane/dataplane_lock.h"

/* The new expansion swapped in, its tree's build guided by the tree in
 * force (dp_guide_tree()). */
static int guided_apply(struct dp *dp, const struct filter_table *table,
			char *err, size_t errlen)
{
	dp_guide_tree(dp);
	return dp_apply_table(dp, table, true, err, errlen);
}

/* Compile the assigned policy at path for host; compare with the live
 * list; swap it in when they differ.  The caller holds the writers' lock. */
static int reexpand_locked(const char *confdir, const char *root,
			   const char *path, const struct host_info *host,
			   struct agent_reexpand *out, char *err,
			   size_t errlen)
{
	struct filter_table table = { 0 };
	struct compile_diag diag = { 0 };
	struct policy_file *pf = NULL;
	struct bootconf conf;
	bool has_policy, same;
	char why[512];
	struct dp dp;
	int rc;

	if (bootconf_load(confdir, &conf, why, sizeof(why))) {
		snprintf(err, errlen, "%s/config: %s", confdir, why);
		return -1;
	}
	if (agent_compile_host(path, &conf, host, &pf, &table, &diag, err,
			       errlen)) {
		compile_diag_free(&diag);
		return -1;
	}
	compile_diag_free(&diag);	/* `policy apply` showed them */
	/* the filters' names are the policy's: pf lives until they are written */
	snprintf(out->policy, sizeof(out->policy), "%s", pf->assigned->name);
	out->nfilters = table.n;
	rc = dp_open(&dp, root, err, errlen);
	if (rc == 0) {
		rc = dp_table_is_live(&dp, &table, &has_policy, &same);
		if (rc)
			snprintf(err, errlen, "cannot read the live filter "
				 "list: %s", strerror(-rc));
		else if (!has_policy)
			out->result = AGENT_REEXPAND_IDLE;
		else if (same)
			out->result = AGENT_REEXPAND_SAME;
		else if ((rc = guided_apply(&dp, &table, err, errlen)) == 0)
			out->result = AGENT_REEXPAND_PUSHED;
		dp_close(&dp);
	}
	filter_table_free(&table);
	policy_file_free(pf);
	return rc ? -1 : 0;
}

int agent_reexpand(const char *confdir, const char *root,
		   const struct host_info *host, unsigned wait_ms,
		   struct agent_reexpand *out, char *err, size_t errlen)
{
	char path[PATH_MAX];

	agent_assigned_path(confdir, path, sizeof(path));
	return agent_reexpand_path(confdir, path, root, host, wait_ms, out,
				   err, errlen);
}

int agent_reexpand_path(const char *confdir, const char *path,
			const char *root, const struct host_info *host,
			unsigned wait_ms, struct agent_reexpand *out,
			char *err, size_t errlen)
{
	struct writer_lock lock;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	/* first without the lock: most hosts re-expand nothing */
	if (!dp_is_loaded(root) || access(path, F_OK))
		return 0;
	if (writer_lock_acquire(&lock, confdir, root, wait_ms, err, errlen))
		return -1;
	/* under the lock, again: an unload or unassign may just have ended */
	if (dp_is_loaded(root) && !access(path, F_OK))
		rc = reexpand_locked(confdir, root, path, host, out, err, errlen);
	writer_lock_release(&lock);
	if (rc)
		out->result = AGENT_REEXPAND_IDLE;
	return rc;
}
