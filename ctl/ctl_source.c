// SPDX-License-Identifier: GPL-2.0-only
/*
 * ctl_source.c - the central policy as the command sees it
 * (docs/behaviour.md §8): which policy file is in force (the central
 * cache or the local one), the refusal of local changes while a central
 * policy is in force, and the `status` lines from the daemon's state file
 * (lib/agent/agent_source.h).
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "agent/agent.h"
#include "agent/agent_source.h"

bool ctl_policy_path(struct ctx *c, const struct bootconf *conf, char *path,
		     size_t len)
{
	char err[600];
	int rc = source_cache_usable(ixdp_statedir(), conf, path, len, err, sizeof(err));

	if (rc < 0)
		warn_msg("the central policy's cache is not used: %s", err);
	if (rc == 0)
		return true;
	agent_assigned_path(c->confdir, path, len);
	return false;
}

int ctl_refuse_if_central(struct ctx *c, const char *what)
{
	char path[PATH_MAX];
	struct bootconf conf;
	int ret;

	if ((ret = load_config(c, &conf)))
		return ret;
	if (!ctl_policy_path(c, &conf, path, sizeof(path)))
		return EXIT_OK;
	return fail(EXIT_FAIL, "%s refused: the central policy from %s is in "
		    "force and takes precedence over a local one (`ipsec-xdp "
		    "status`); nothing changed.  `ipsec-xdp set config "
		    "policysource none` returns to the local policy", what,
		    conf.policysource);
}

static void time_text(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!t || !gmtime_r(&tt, &tm))
		snprintf(buf, len, "never");
	else
		strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static struct json_object *time_json(int64_t t)
{
	return t ? json_object_new_int64(t) : NULL;
}

static void add(struct json_object *o, const char *k, struct json_object *v)
{
	json_object_object_add(o, k, v);
}

/* The daemon's account (zeroed when it wrote none).  Its document
 * fields describe the cached document's source: none for another. */
static void state_for(const struct bootconf *conf, struct source_state *st)
{
	char err[300];

	if (source_state_read(ixdp_statedir(), st, err, sizeof(err)) < 0)
		warn_msg("%s", err);
	if (strcmp(st->url, conf->policysource)) {
		st->in_force = st->cache_in_use = false;
		st->fetched = st->changed = 0;
	}
}

void source_status(struct ctx *c, const struct bootconf *conf,
		   struct json_object *out)
{
	struct source_state st;
	bool running = daemon_running();
	char fetched[40], changed[40], polled[40];
	struct json_object *o;

	if (!conf->policysource[0]) {
		if (out)
			add(out, "policy_source", NULL);
		return;
	}
	state_for(conf, &st);
	if (!running)
		st.in_force = st.cache_in_use = false;
	if (out) {
		o = json_object_new_object();
		add(o, "url", json_object_new_string(conf->policysource));
		add(o, "daemon_running", json_object_new_boolean(running));
		add(o, "in_force", json_object_new_boolean(st.in_force));
		add(o, "cache_in_use", json_object_new_boolean(st.cache_in_use));
		add(o, "last_fetch", time_json(st.fetched));
		add(o, "last_change", time_json(st.changed));
		add(o, "last_poll", time_json(st.polled));
		add(o, "last_result", st.result[0] ? json_object_new_string(st.result) : NULL);
		add(o, "interval_s", json_object_new_int64(st.interval_s ? st.interval_s
							   : SOURCE_POLL_DEFAULT_S));
		add(out, "policy_source", o);
		return;
	}
	time_text(st.fetched, fetched, sizeof(fetched));
	time_text(st.changed, changed, sizeof(changed));
	time_text(st.polled, polled, sizeof(polled));
	printf("policy source: %s\n", conf->policysource);
	if (!running) {
		printf("  ipsec-xdpd is not running: nothing is polled\n");
		return;
	}
	printf("  central policy: %s%s\n", st.in_force ? "in force" :
	       "not in force (the local policy is)",
	       st.cache_in_use ? ", from the cache (the source cannot be reached)" : "");
	printf("  cache in use: %s\n", st.cache_in_use ? "yes" : "no");
	printf("  last fetch: %s, last change: %s\n", fetched, changed);
	printf("  last poll: %s: %s (every %u s)\n", polled,
	       st.result[0] ? st.result : "-",
	       st.interval_s ? st.interval_s : SOURCE_POLL_DEFAULT_S);
}
