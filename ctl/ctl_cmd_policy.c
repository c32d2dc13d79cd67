// SPDX-License-Identifier: GPL-2.0-only
/* ctl_cmd_policy.c - `policy check | apply | show | unassign`. */
#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl.h"
#include "agent/agent.h"
#include "ctl_policy_view.h"

static void print_warnings(const struct compile_diag *diag)
{
	for (size_t i = 0; i < diag->nwarnings; i++)
		warn_msg("%s", diag->warnings[i]);
}

static struct json_object *warnings_json(const struct compile_diag *diag)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < diag->nwarnings; i++)
		json_object_array_add(a, json_object_new_string(diag->warnings[i]));
	return a;
}

static void report(struct ctx *c, const char *verb, const char *path,
		   const struct policy_file *pf, size_t nfilters,
		   const struct compile_diag *diag, const char *daemon)
{
	if (c->json) {
		struct json_object *o = json_object_new_object();

		if (daemon)
			json_object_object_add(o, "daemon",
					       json_object_new_string(daemon));

		json_object_object_add(o, "file", json_object_new_string(path));
		json_object_object_add(o, "policy", json_object_new_string(pf->assigned->name));
		json_object_object_add(o, "rules", json_object_new_int64((int64_t)pf->assigned->nrules));
		json_object_object_add(o, "specific_filters", json_object_new_int64((int64_t)nfilters));
		json_object_object_add(o, "result", json_object_new_string(verb));
		json_object_object_add(o, "warnings", warnings_json(diag));
		print_json(o);
		return;
	}
	print_warnings(diag);
	printf("%s: policy '%s' %s: %zu rules, %zu specific filters\n", path,
	       pf->assigned->name, verb, pf->assigned->nrules, nfilters);
	if (daemon && strcmp(daemon, "reloaded") == 0)
		printf("ipsec-xdpd reloaded the policy\n");
}

/*
 * A running ipsec-xdpd negotiates from the assigned policy: ask it to read
 * the new one (it then deletes the CHILD SAs of deleted or changed rules).
 * The dataplane already has the policy, so a refusal is a warning.
 */
static const char *reload_daemon(void)
{
	struct json_object *reply = NULL;
	char err[700];

	if (!daemon_running())
		return "not running";
	if (daemon_ask("reload", &reply, err, sizeof(err))) {
		warn_msg("ipsec-xdpd did not reload the policy: %s", err);
		return "reload failed";
	}
	json_object_put(reply);
	return "reloaded";
}

static int policy_check(struct ctx *c, const char *path)
{
	struct filter_table table = { 0 };
	struct compile_diag diag = { 0 };
	struct policy_file *pf = NULL;
	struct bootconf conf;
	char err[8192];		/* every limit the policy exceeds, one a line */
	int ret;

	if ((ret = load_config(c, &conf)))
		return ret;
	if (agent_compile(path, &conf, &pf, &table, &diag, err, sizeof(err))) {
		compile_diag_free(&diag);
		return fail(EXIT_BAD_INPUT, "%s", err);
	}
	report(c, "is valid", path, pf, table.n, &diag, NULL);
	filter_table_free(&table);
	compile_diag_free(&diag);
	policy_file_free(pf);
	return EXIT_OK;
}

/* The default boot mode turns from permit to stateful once a policy has
 * been applied: record that, and push the new mode to a loaded dataplane. */
static int mark_applied_once(struct ctx *c, struct bootconf *conf, bool loaded)
{
	char err[512];
	struct dp dp;
	int ret;

	if (conf->policy_applied_once)
		return EXIT_OK;
	conf->policy_applied_once = true;
	if (bootconf_save(c->confdir, conf, err, sizeof(err)))
		return fail(EXIT_FAIL, "%s", err);
	if (!loaded || (ret = open_dataplane(c, &dp)))
		return loaded ? ret : EXIT_OK;
	if (agent_apply_boot(&dp, conf, err, sizeof(err)))
		ret = fail(EXIT_FAIL, "applied, but the boot mode was not updated: %s", err);
	dp_close(&dp);
	return ret;
}

/*
 * Compile first: an invalid file is refused before anything changes.  Then
 * swap it into the dataplane (if loaded) and keep it as the assigned policy.
 * The caller holds the writers' lock, so what is kept is what is enforced.
 */
static int apply_locked(struct ctx *c, const char *path, bool loaded,
			struct policy_file **pf, struct filter_table *table,
			struct compile_diag *diag)
{
	struct bootconf conf;
	char err[8192];		/* every limit the policy exceeds, one a line */
	struct dp dp;
	int ret;

	if ((ret = load_config(c, &conf)))
		return ret;
	if (agent_compile(path, &conf, pf, table, diag, err, sizeof(err)))
		return fail(EXIT_BAD_INPUT, "%s (the policy in force is unchanged)", err);
	if (loaded && (ret = open_dataplane(c, &dp)) == EXIT_OK) {
		if (dp_apply_table(&dp, table, true, err, sizeof(err)))
			ret = fail(EXIT_FAIL, "%s (the policy in force is unchanged)", err);
		dp_close(&dp);
	}
	if (ret == EXIT_OK && agent_store_assigned(c->confdir, path, err, sizeof(err)))
		ret = fail(EXIT_FAIL, "applied, but not kept as the assigned policy: %s", err);
	if (ret == EXIT_OK)
		ret = mark_applied_once(c, &conf, loaded);
	return ret;
}

static int policy_apply(struct ctx *c, const char *path)
{
	struct filter_table table = { 0 };
	struct compile_diag diag = { 0 };
	struct policy_file *pf = NULL;
	struct writer_lock lock;
	bool loaded;
	int ret;

	if ((ret = lock_writers(c, &lock)))
		return ret;
	if ((ret = ctl_refuse_if_central(c, "policy apply"))) {
		writer_lock_release(&lock);
		return ret;
	}
	loaded = dp_is_loaded(c->root);
	ret = apply_locked(c, path, loaded, &pf, &table, &diag);
	/* Unlocked before the daemon reloads: its bundle writes take the lock. */
	writer_lock_release(&lock);
	if (ret == EXIT_OK)
		report(c, loaded ? "applied" : "assigned (the dataplane is not loaded: "
		       "it is applied by `ipsec-xdp load`)", path, pf, table.n, &diag,
		       reload_daemon());
	filter_table_free(&table);
	compile_diag_free(&diag);
	policy_file_free(pf);
	return ret;
}

static int policy_show(struct ctx *c)
{
	struct policy_file *pf;
	int ret = load_assigned_policy(c, &pf);

	if (ret)
		return ret;
	if (c->json)
		print_json(policy_json(pf));
	else
		print_policy_text(pf);
	policy_file_free(pf);
	return EXIT_OK;
}

static int unassign_locked(struct ctx *c)
{
	bool loaded = dp_is_loaded(c->root);
	char err[512];
	struct dp dp;
	int ret;

	if (loaded && (ret = open_dataplane(c, &dp)))
		return ret;
	ret = agent_unassign(loaded ? &dp : NULL, c->confdir, err, sizeof(err));
	if (loaded)
		dp_close(&dp);
	return ret ? fail(EXIT_FAIL, "%s", err) : EXIT_OK;
}

static int policy_unassign(struct ctx *c)
{
	struct writer_lock lock;
	const char *daemon;
	int ret;

	if ((ret = lock_writers(c, &lock)))
		return ret;
	ret = ctl_refuse_if_central(c, "policy unassign");
	if (!ret)
		ret = unassign_locked(c);
	writer_lock_release(&lock);
	if (ret)
		return ret;
	daemon = reload_daemon();
	if (c->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "result", json_object_new_string("unassigned"));
		json_object_object_add(o, "daemon", json_object_new_string(daemon));
		print_json(o);
	} else {
		printf("no policy assigned: the boot mode rules\n");
	}
	return EXIT_OK;
}

int cmd_policy(struct ctx *c, int argc, char **argv)
{
	if (argc < 2)
		return fail(EXIT_USAGE, "usage: ipsec-xdp policy check FILE | apply FILE | show | unassign");
	if (!strcmp(argv[1], "check") && argc == 3)
		return policy_check(c, argv[2]);
	if (!strcmp(argv[1], "apply") && argc == 3)
		return policy_apply(c, argv[2]);
	if (!strcmp(argv[1], "show") && argc == 2)
		return policy_show(c);
	if (!strcmp(argv[1], "unassign") && argc == 2)
		return policy_unassign(c);
	return fail(EXIT_USAGE, "usage: ipsec-xdp policy check FILE | apply FILE | show | unassign");
}
