/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * daemon_agent_internal.h - shared by daemon_agent.c (the agent) and
 * daemon_agent_edit.c (its filter edits) only.
 */
#ifndef IXDP_IKE_DAEMON_AGENT_INTERNAL_H
#define IXDP_IKE_DAEMON_AGENT_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "daemon/daemon_agent.h"
#include "dataplane/dataplane_lock.h"

struct event;
struct policy_text;
struct dp_memo;

#define HASH_LEN 32
#define TEXT_MAX 1024

/* What is in force, and the outcome of the last attempt. */
struct dagent_state {
	bool valid;
	uint8_t hash[HASH_LEN];
	time_t at;
	char source[PATH_MAX];
	char policy[128];
	size_t nfilters;
	bool pushed;		/* the dataplane was written (not already live) */
	bool loaded;		/* the dataplane was loaded */
	uint32_t polling_s;
};

struct dagent_last {
	bool valid, ok;
	time_t at;
	char source[PATH_MAX];
	char text[TEXT_MAX];
};

/* The rollback copy itself is root's, in CONFDIR (agent_rollback.h). */
struct dagent_pending {
	bool armed;
	bool absent;		/* no policy was stored: roll back = unassign */
	bool restored;		/* the key holder put the file back already */
	bool stale;		/* left from before this daemon started */
	unsigned seconds;
	time_t deadline;
};

struct dagent {
	struct daemon *d;
	int ino_fd, wd;
	struct event *ino_ev, *debounce, *poll, *rollback;
	char path[PATH_MAX];		/* CONFDIR/policy.yaml */
	struct dagent_state in_force;
	struct dagent_last last;
	bool bad_valid;			/* an invalid document seen: once */
	uint8_t bad_hash[HASH_LEN];
	bool missing_seen;
	struct dagent_pending pending;
	/* The stored text in force, read (NULL: none, or the policy in
	 * force came from elsewhere): what filter edits change. */
	struct policy_text *kept;
	uint8_t kept_hash[HASH_LEN];
	/* A filter edit pushed what the stored text does not say yet: the
	 * next reading of the file is put in force even if unchanged. */
	bool unsettled;
	struct writer_lock edit_lock;	/* held for a filter edit's command */
	/* What the agent's last push left for the next (dataplane.h): the
	 * live list and keys are not read back while no one else pushes. */
	struct dp_memo *memo;
	bool edit_held;
};

static inline struct dagent *ag_of(struct daemon *d)
{
	return d->agent;
}

/* The configuration a compile uses (CONFDIR/config, the state), or -1
 * with err. */
struct bootconf;
int dagent_conf(struct dagent *a, struct bootconf *conf, char *err,
		size_t errlen);

/* SHA-256 of text (zeros when it cannot be computed). */
void dagent_hash(const char *text, size_t len, uint8_t out[HASH_LEN]);
void dagent_arm_ms(struct event *ev, unsigned ms);

#endif /* IXDP_IKE_DAEMON_AGENT_INTERNAL_H */
