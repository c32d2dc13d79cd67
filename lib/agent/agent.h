/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * agent.h - the policy agent's steps, shared by the command and the
 * daemon: keep the assigned policy under CONFDIR, compile it against the
 * host's current addresses, and push it and the boot configuration into
 * the dataplane.  A policy that does not parse or compile never replaces
 * the one in force.
 */
#ifndef IXDP_POLICY_AGENT_H
#define IXDP_POLICY_AGENT_H

#include <stddef.h>
#include "policy/policy_bootconf.h"
#include "compile/compiler.h"
#include "dataplane/dataplane.h"
#include "policy/policy.h"

/* CONFDIR/policy.yaml: the assigned policy, a copy of the file applied. */
/* A stored policy is a copy of a file an administrator wrote: far below. */
#define STORED_POLICY_MAX (16u << 20)
void agent_assigned_path(const char *confdir, char *buf, size_t len);

/* Parse and compile a policy file for this host.  On failure err holds
 * "file:line:col: ..." or the compiler's reason. */
int agent_compile(const char *path, const struct bootconf *conf,
		  struct policy_file **pf, struct filter_table *table,
		  struct compile_diag *diag, char *err, size_t errlen);

/* The same for a policy document in memory (len bytes of text); name
 * stands for the file in errors. */
int agent_compile_buffer(const char *name, const char *text, size_t len,
			 const struct bootconf *conf, struct policy_file **pf,
			 struct filter_table *table, struct compile_diag *diag,
			 char *err, size_t errlen);

/* The same for a policy already parsed (*pf: freed and NULLed when it
 * does not compile); name stands for its file in errors. */
int agent_compile_parsed(const char *name, const struct bootconf *conf,
			 struct policy_file **pf, struct filter_table *table,
			 struct compile_diag *diag, char *err, size_t errlen);

/* The same for a parsed policy pf that stays the caller's whatever the
 * outcome, for the host's addresses in host (NULL: read now). */
int agent_compile_model(const char *name, const struct bootconf *conf,
			const struct host_info *host, const struct policy_file *pf,
			struct filter_table *table, struct compile_diag *diag,
			char *err, size_t errlen);

/* The same for the host's addresses in host (agent_compile reads them). */
int agent_compile_host(const char *path, const struct bootconf *conf,
		       const struct host_info *host, struct policy_file **pf,
		       struct filter_table *table, struct compile_diag *diag,
		       char *err, size_t errlen);

/* Compile and push into the dataplane (atomic swap). */
int agent_apply(struct dp *dp, const char *path, const struct bootconf *conf,
		struct compile_diag *diag, size_t *nfilters, char *err, size_t errlen);

/* Keep len bytes of text (the policy compiled and applied) as the assigned
 * policy file (temp file + rename): mode 0640, group IXDP_DAEMON_GROUP
 * (util_daemon_group.h) when that group exists, else 0600. */
int agent_store_assigned(const char *confdir, const char *text, size_t len,
			 char *err, size_t errlen);

/* Forget the assigned policy: remove the file and put the dataplane (if
 * dp is not NULL) back under the boot mode. */
int agent_unassign(struct dp *dp, const char *confdir, char *err, size_t errlen);

/*
 * An exemption also passes its replies, as a mirrored filter would:
 * TCP:0:22:inbound adds TCP:22:0:outbound, so a boot exemption keeps a
 * session working in block mode too.  Writes the exemptions and their
 * mirrors (duplicates merged) to out; the count, or -1 if over max.
 */
int bootexempt_mirror(const struct ixdp_boot_exempt *in, size_t n,
		      struct ixdp_boot_exempt *out, size_t max);

/* Push the boot mode (bootconf_effective_mode) and the exemptions with
 * their mirrors. */
int agent_apply_boot(struct dp *dp, const struct bootconf *conf, char *err, size_t errlen);

/*
 * agent_reexpand.c: the policy in force, compiled again for the host's
 * addresses in host (after they changed), replaces the live list when the
 * two differ: the same swap as `ipsec-xdp policy apply`, under the
 * writers' lock (dataplane_lock.h, waited for wait_ms at most), so that
 * what is stored stays what is enforced.  Nothing is done without a
 * loaded dataplane (pin root `root`) whose live list is a policy (not the
 * boot mode) and an assigned policy under confdir.
 */
enum agent_reexpand_result {
	AGENT_REEXPAND_IDLE,	/* no policy in force: nothing to re-expand */
	AGENT_REEXPAND_SAME,	/* the live list is already this expansion */
	AGENT_REEXPAND_PUSHED,	/* the new expansion is live */
};

struct agent_reexpand {
	enum agent_reexpand_result result;
	char policy[64];	/* the policy's name (IDLE: empty) */
	size_t nfilters;	/* specific filters now live (PUSHED, SAME) */
};

/* 0 with out filled, or -1 with err (the lock stayed busy, the policy or
 * the configuration does not load, the dataplane refused): what was in
 * force stays. */
int agent_reexpand(const char *confdir, const char *root,
		   const struct host_info *host, unsigned wait_ms,
		   struct agent_reexpand *out, char *err, size_t errlen);

/* The same for the policy file at path (a central policy's cache,
 * docs/behaviour.md §8) instead of the assigned one. */
int agent_reexpand_path(const char *confdir, const char *path,
			const char *root, const struct host_info *host,
			unsigned wait_ms, struct agent_reexpand *out,
			char *err, size_t errlen);

#endif /* IXDP_POLICY_AGENT_H */
