// SPDX-License-Identifier: GPL-2.0-only
/* agent.c - see agent.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util_atomic_file.h"
#include "util/util_daemon_group.h"
#include "agent/agent.h"
#include "compile/compile_limits.h"

void agent_assigned_path(const char *confdir, char *buf, size_t len)
{
	snprintf(buf, len, "%s/policy.yaml", confdir);
}

/* The limits pf and its compiled table exceed (table NULL: it did not
 * compile; cerr then says why, one more line).  0 when none. */
static int limits_report(const char *path, const struct policy_file *pf,
			 const struct filter_table *table, const char *cerr,
			 char *err, size_t errlen)
{
	struct policy_limits lim = { 0 };
	size_t used;
	int n;

	if (policy_limits_check(pf, &lim) < 0 ||
	    (table && policy_limits_check_table(table, &lim) < 0)) {
		policy_limits_free(&lim);
		snprintf(err, errlen, "out of memory while checking the limits");
		return -1;
	}
	/* the compiler stops at the specific filters' limit: one of them */
	n = (int)lim.n + (cerr && strstr(cerr, "limit exceeded: ") ? 1 : 0);
	if (!lim.n) {
		policy_limits_free(&lim);
		return 0;
	}
	used = (size_t)snprintf(err, errlen, "%s: the policy exceeds %d limit%s "
				"(ipsec-xdp.policy(5), LIMITS):\n", path, n,
				n == 1 ? "" : "s");
	if (used < errlen)
		policy_limits_join(&lim, err + used, errlen - used);
	used = strlen(err);
	if (cerr && used + 1 < errlen)
		snprintf(err + used, errlen - used, "\n%s%s", n > (int)lim.n ? ""
			 : "and it does not compile: ", cerr);
	policy_limits_free(&lim);
	return -1;
}

int agent_compile_model(const char *path, const struct bootconf *conf,
			const struct host_info *host, const struct policy_file *pf,
			struct filter_table *table, struct compile_diag *diag,
			char *err, size_t errlen)
{
	struct policy_error perr;
	struct host_info read_host = { 0 };
	char herr[256], cerr[700];
	int ret;

	memset(&perr, 0, sizeof(perr));
	if (!host) {
		if (host_info_read(&read_host, herr, sizeof(herr))) {
			snprintf(err, errlen,
				 "cannot read the host's addresses: %s", herr);
			return -1;
		}
		host = &read_host;
	}
	ret = compile_policy(pf, host, conf->ipsecexempt, table, diag, &perr);
	host_info_free(&read_host);
	if (ret) {
		policy_error_format(&perr, cerr, sizeof(cerr));
		/* every limit exceeded in one report, the compiler's too */
		if (!limits_report(path, pf, NULL, cerr, err, errlen))
			snprintf(err, errlen, "%s", cerr);
	} else if (limits_report(path, pf, table, NULL, err, errlen)) {
		filter_table_free(table);
		ret = -1;
	}
	return ret;
}

/* The same, pf freed and NULLed on failure. */
static int compile_parsed(const char *path, const struct bootconf *conf,
			  const struct host_info *host, struct policy_file **pf,
			  struct filter_table *table, struct compile_diag *diag,
			  char *err, size_t errlen)
{
	int ret = agent_compile_model(path, conf, host, *pf, table, diag, err,
				      errlen);

	if (ret) {
		policy_file_free(*pf);
		*pf = NULL;
	}
	return ret;
}

int agent_compile_host(const char *path, const struct bootconf *conf,
		       const struct host_info *host, struct policy_file **pf,
		       struct filter_table *table, struct compile_diag *diag,
		       char *err, size_t errlen)
{
	struct policy_error perr;

	memset(&perr, 0, sizeof(perr));
	*pf = NULL;
	if (policy_parse_file(path, pf, &perr)) {
		policy_error_format(&perr, err, errlen);
		return -1;
	}
	return compile_parsed(path, conf, host, pf, table, diag, err, errlen);
}

int agent_compile(const char *path, const struct bootconf *conf,
		  struct policy_file **pf, struct filter_table *table,
		  struct compile_diag *diag, char *err, size_t errlen)
{
	return agent_compile_host(path, conf, NULL, pf, table, diag, err,
				  errlen);
}

int agent_compile_buffer(const char *name, const char *text, size_t len,
			 const struct bootconf *conf, struct policy_file **pf,
			 struct filter_table *table, struct compile_diag *diag,
			 char *err, size_t errlen)
{
	struct policy_error perr;

	memset(&perr, 0, sizeof(perr));
	if (policy_parse_buffer(name, text, len, pf, &perr)) {
		policy_error_format(&perr, err, errlen);
		return -1;
	}
	return compile_parsed(name, conf, NULL, pf, table, diag, err, errlen);
}

int agent_compile_parsed(const char *name, const struct bootconf *conf,
			 struct policy_file **pf, struct filter_table *table,
			 struct compile_diag *diag, char *err, size_t errlen)
{
	return compile_parsed(name, conf, NULL, pf, table, diag, err, errlen);
}

int agent_apply(struct dp *dp, const char *path, const struct bootconf *conf,
		struct compile_diag *diag, size_t *nfilters, char *err, size_t errlen)
{
	struct filter_table table = { 0 };
	struct policy_file *pf = NULL;
	int ret;

	dp_guide_tree(dp);	/* the tree in force guides the new one's build */
	if (agent_compile(path, conf, &pf, &table, diag, err, errlen))
		return -1;
	ret = dp_apply_table(dp, &table, true, err, errlen);
	if (nfilters)
		*nfilters = table.n;
	filter_table_free(&table);
	policy_file_free(pf);
	return ret;
}

int agent_store_assigned(const char *confdir, const char *text, size_t len,
			 char *err, size_t errlen)
{
	char dst[PATH_MAX];
	gid_t gid;

	if (mkdir(confdir, 0755) && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", confdir, strerror(errno));
		return -1;
	}
	agent_assigned_path(confdir, dst, sizeof(dst));
	/* readable by the daemon's network process run as that group's user
	 * (ipsec-xdpd --user, ipsec-xdpd(8) SECURITY); root's alone without
	 * it */
	return daemon_group(&gid) ? write_file_atomic_group(dst, text, len, 0640,
							    gid, err, errlen)
				  : write_file_atomic(dst, text, len, 0600, err, errlen);
}

int agent_unassign(struct dp *dp, const char *confdir, char *err, size_t errlen)
{
	struct filter_table empty = { 0 };
	char path[PATH_MAX];

	agent_assigned_path(confdir, path, sizeof(path));
	if (unlink(path) && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove %s: %s", path, strerror(errno));
		return -1;
	}
	return dp ? dp_apply_table(dp, &empty, false, err, errlen) : 0;
}

static bool same_exempt(const struct ixdp_boot_exempt *a, const struct ixdp_boot_exempt *b)
{
	return a->proto == b->proto && a->dirs == b->dirs && a->sport == b->sport &&
	       a->dport == b->dport;
}

static int add_exempt(struct ixdp_boot_exempt *out, int n, size_t max,
		      const struct ixdp_boot_exempt *e)
{
	for (int i = 0; i < n; i++)
		if (same_exempt(&out[i], e))
			return n;
	if ((size_t)n >= max)
		return -1;
	out[n] = *e;
	return n + 1;
}

/* The reply direction of an exemption: ports swapped, directions swapped. */
static struct ixdp_boot_exempt mirror_exempt(const struct ixdp_boot_exempt *e)
{
	struct ixdp_boot_exempt m = *e;

	m.sport = e->dport;
	m.dport = e->sport;
	m.dirs = (uint8_t)(((e->dirs & IXDP_EXEMPT_IN) ? IXDP_EXEMPT_OUT : 0) |
			   ((e->dirs & IXDP_EXEMPT_OUT) ? IXDP_EXEMPT_IN : 0));
	return m;
}

int bootexempt_mirror(const struct ixdp_boot_exempt *in, size_t n,
		      struct ixdp_boot_exempt *out, size_t max)
{
	int cnt = 0;

	for (size_t i = 0; i < n && cnt >= 0; i++) {
		struct ixdp_boot_exempt m = mirror_exempt(&in[i]);

		cnt = add_exempt(out, cnt, max, &in[i]);
		if (cnt >= 0)
			cnt = add_exempt(out, cnt, max, &m);
	}
	return cnt;
}

int agent_apply_boot(struct dp *dp, const struct bootconf *conf, char *err, size_t errlen)
{
	struct ixdp_boot_exempt ex[IXDP_MAX_BOOT_EXEMPT];
	int n = bootexempt_mirror(conf->exempt, conf->nexempt, ex, IXDP_MAX_BOOT_EXEMPT);

	if (n < 0) {
		snprintf(err, errlen, "more than %d boot exemptions once their replies are "
			 "added", IXDP_MAX_BOOT_EXEMPT);
		return -1;
	}
	return dp_apply_boot(dp, bootconf_effective_mode(conf), ex, (size_t)n, err, errlen);
}
