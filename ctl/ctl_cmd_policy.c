// SPDX-License-Identifier: GPL-2.0-only
/* ctl_cmd_policy.c - `policy check | apply | confirm | show | unassign`,
 * and the policy agent's part of `status`. */
#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "agent/agent.h"
#include "agent/agent_rollback.h"
#include "util/util_atomic_file.h"
#include "ctl_policy_view.h"

void ctl_print_warnings(const struct compile_diag *diag)
{
	for (size_t i = 0; i < diag->nwarnings; i++)
		warn_msg("%s", diag->warnings[i]);
}

struct json_object *ctl_warnings_json(const struct compile_diag *diag)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < diag->nwarnings; i++)
		json_object_array_add(a, json_object_new_string(diag->warnings[i]));
	return a;
}

static void report(struct ctx *c, const char *verb, const char *path,
		   const struct policy_file *pf, size_t nfilters,
		   const struct compile_diag *diag, const char *daemon,
		   unsigned confirm_s, int64_t deadline)
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
		json_object_object_add(o, "warnings", ctl_warnings_json(diag));
		if (confirm_s) {
			json_object_object_add(o, "confirm_within",
					       json_object_new_int64(confirm_s));
			json_object_object_add(o, "rollback_at",
					       json_object_new_int64(deadline));
		}
		print_json(o);
		return;
	}
	ctl_print_warnings(diag);
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
const char *ctl_reload_daemon(void)
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

/* Valid for this host, or the error (EXIT_BAD_INPUT); prints nothing else. */
static int policy_valid(struct ctx *c, const char *path)
{
	struct filter_table table = { 0 };
	struct compile_diag diag = { 0 };
	struct policy_file *pf = NULL;
	struct bootconf conf;
	char err[8192];
	int ret;

	if ((ret = load_config(c, &conf)))
		return ret;
	ret = agent_compile(path, &conf, &pf, &table, &diag, err, sizeof(err));
	compile_diag_free(&diag);
	if (ret)
		return fail(EXIT_BAD_INPUT, "%s (nothing was changed)", err);
	filter_table_free(&table);
	policy_file_free(pf);
	return EXIT_OK;
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
	report(c, "is valid", path, pf, table.n, &diag, NULL, 0, 0);
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
	if (state_mark_applied_once(c->statedir, err, sizeof(err)))
		return fail(EXIT_FAIL, "applied, but not recorded as applied once: %s", err);
	if (!loaded || (ret = open_dataplane(c, &dp)))
		return loaded ? ret : EXIT_OK;
	if (agent_apply_boot(&dp, conf, err, sizeof(err)))
		ret = fail(EXIT_FAIL, "applied, but the boot mode was not updated: %s", err);
	dp_close(&dp);
	return ret;
}

/* ---- an apply, step by step ------------------------------------------------ */

int ctl_apply_open(struct ctx *c, bool loaded, struct ctl_apply *a)
{
	int ret;

	memset(a, 0, sizeof(*a));
	if ((ret = load_config(c, &a->conf)) ||
	    (loaded && (ret = open_dataplane(c, &a->dp))))
		return ret;
	a->loaded = loaded;
	a->check_first = c->pushed_by_daemon;
	return EXIT_OK;
}

int ctl_apply_compile(struct ctl_apply *a, const char *name, const char *text,
		      size_t len, struct policy_file **pf, struct filter_table *table,
		      struct compile_diag *diag, char *err, size_t errlen)
{
	/* the tree in force guides the new one's build (in the compile's
	 * limits check, or in the push): a guide that cannot be read only
	 * makes the build slower */
	if (a->loaded)
		dp_guide_tree(&a->dp);
	return *pf ? agent_compile_parsed(name, &a->conf, pf, table, diag, err, errlen)
		   : agent_compile_buffer(name, text, len, &a->conf, pf, table, diag,
					  err, errlen);
}

int ctl_apply_push(struct ctl_apply *a, const struct filter_table *table)
{
	char err[1024];

	bool has_policy, same;

	if (!a->loaded)
		return EXIT_OK;
	if (a->check_first && !dp_table_is_live(&a->dp, table, &has_policy, &same) &&
	    has_policy && same)
		return EXIT_OK;
	if (dp_apply_table(&a->dp, table, true, err, sizeof(err)))
		return fail(EXIT_FAIL, "%s (the policy in force is unchanged)", err);
	if (a->dp.stats.tree_error[0])
		warn_msg("no decision tree for this list (%s): new flows "
			 "are looked up in the tuple space, more slowly",
			 a->dp.stats.tree_error);
	return EXIT_OK;
}

int ctl_apply_keep(struct ctx *c, const char *text, size_t len,
		   char *err, size_t errlen)
{
	return agent_store_assigned(c->confdir, text, len, err, errlen);
}

int ctl_apply_done(struct ctx *c, struct ctl_apply *a)
{
	ctl_apply_close(a);
	return mark_applied_once(c, &a->conf, a->loaded);
}

void ctl_apply_close(struct ctl_apply *a)
{
	if (a->loaded && !a->closed)
		dp_close(&a->dp);
	a->closed = true;
}

/*
 * Compile first: an invalid text is refused before anything changes.  Then
 * swap it into the dataplane (if loaded) and keep it as the assigned policy.
 * The caller holds the writers' lock, so what is kept is what is enforced.
 */
int ctl_apply_text_locked(struct ctx *c, const char *name, const char *text,
			  size_t len, bool loaded, struct policy_file **pf,
			  struct filter_table *table, struct compile_diag *diag)
{
	char err[8192];		/* every limit the policy exceeds, one a line */
	struct ctl_apply a;
	int ret;

	if ((ret = ctl_apply_open(c, loaded, &a)))
		return ret;
	if (ctl_apply_compile(&a, name, text, len, pf, table, diag, err, sizeof(err)))
		ret = fail(EXIT_BAD_INPUT, "%s (the policy in force is unchanged)", err);
	else
		ret = ctl_apply_push(&a, table);
	ctl_apply_close(&a);
	if (ret == EXIT_OK && ctl_apply_keep(c, text, len, err, sizeof(err)))
		ret = fail(EXIT_FAIL, "applied, but not kept as the assigned policy: %s", err);
	if (ret == EXIT_OK)
		ret = ctl_apply_done(c, &a);
	return ret;
}

/* The file is read once: what is compiled is what is kept. */
static int apply_locked(struct ctx *c, const char *path, bool loaded,
			struct policy_file **pf, struct filter_table *table,
			struct compile_diag *diag)
{
	char err[600], *text;
	size_t len;
	int ret;

	if (read_file_whole(path, STORED_POLICY_MAX, &text, &len, err, sizeof(err)))
		return fail(EXIT_BAD_INPUT, "cannot read the policy file: %s (the "
			    "policy in force is unchanged)", err);
	ret = ctl_apply_text_locked(c, path, text, len, loaded, pf, table, diag);
	free(text);
	return ret;
}

/* ---- --confirm-within: ipsec-xdpd runs the timer (daemon_agent.h) ---------- */

static int64_t jint_in(struct json_object *o, const char *a, const char *b)
{
	struct json_object *x, *v;

	if (!json_object_object_get_ex(o, a, &x) ||
	    !json_object_object_get_ex(x, b, &v))
		return 0;
	return json_object_get_int64(v);
}

/* Before the lock: the file is valid, and a daemon runs the timer. */
static int rollback_possible(struct ctx *c, const char *path)
{
	if (!daemon_running())
		return fail(EXIT_FAIL, "--confirm-within needs a running ipsec-xdpd: "
			    "it runs the timer that restores the previous policy "
			    "(nothing was changed)");
	return policy_valid(c, path);
}

/*
 * Under the writers' lock, before anything changes: keep the policy stored
 * now in CONFDIR (agent_rollback.h: root writes it, the daemon's key holder
 * puts it back), and have ipsec-xdpd restore it unless `policy confirm`
 * comes within seconds.  *deadline: when (Unix seconds).
 */
static int arm_rollback(struct ctx *c, unsigned seconds, int64_t *deadline)
{
	struct json_object *req, *reply = NULL;
	char err[800], why[600];

	if (agent_rollback_save(c->confdir, err, sizeof(err)))
		return fail(EXIT_FAIL, "cannot keep the policy stored now for the "
			    "rollback: %s (nothing was changed)", err);
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("policy-arm"));
	json_object_object_add(req, "seconds", json_object_new_int64(seconds));
	if (daemon_ask_req(req, &reply, err, sizeof(err))) {
		if (agent_rollback_drop(c->confdir, why, sizeof(why)))
			warn_msg("%s", why);
		return fail(EXIT_FAIL, "ipsec-xdpd cannot keep the previous policy: "
			    "%s (nothing was changed)", err);
	}
	*deadline = jint_in(json_object_object_get(reply, "agent"),
			    "pending_confirmation", "deadline");
	json_object_put(reply);
	return EXIT_OK;
}

static void report_pending(struct ctx *c, unsigned seconds, int64_t deadline)
{
	char when[64];
	time_t t = (time_t)deadline;
	struct tm tm;

	if (c->json)
		return;
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %Z", localtime_r(&t, &tm));
	printf("ipsec-xdpd restores the previous policy at %s (in %u s) unless "
	       "`ipsec-xdp policy confirm` comes first\n", when, seconds);
}

static int policy_apply(struct ctx *c, const char *path, unsigned confirm_s)
{
	struct filter_table table = { 0 };
	struct compile_diag diag = { 0 };
	struct policy_file *pf = NULL;
	struct writer_lock lock;
	int64_t deadline = 0;
	bool loaded;
	int ret;

	if (confirm_s && (ret = rollback_possible(c, path)))
		return ret;
	if ((ret = lock_writers(c, &lock)))
		return ret;
	if ((ret = ctl_refuse_if_central(c, "policy apply")) ||
	    (confirm_s && (ret = arm_rollback(c, confirm_s, &deadline)))) {
		writer_lock_release(&lock);
		return ret;
	}
	loaded = dp_is_loaded(c->root);
	ret = apply_locked(c, path, loaded, &pf, &table, &diag);
	/* Unlocked before the daemon reloads: its bundle writes take the lock. */
	writer_lock_release(&lock);
	if (ret == EXIT_OK) {
		report(c, loaded ? "applied" : "assigned (the dataplane is not loaded: "
		       "it is applied by `ipsec-xdp load`)", path, pf, table.n, &diag,
		       ctl_reload_daemon(), confirm_s, deadline);
		if (confirm_s)
			report_pending(c, confirm_s, deadline);
	} else if (confirm_s) {
		warn_msg("the rollback stays armed: in %u s ipsec-xdpd restores the "
			 "policy stored before (`ipsec-xdp policy confirm` cancels it)",
			 confirm_s);
	}
	filter_table_free(&table);
	compile_diag_free(&diag);
	policy_file_free(pf);
	return ret;
}

static int policy_confirm(struct ctx *c)
{
	struct json_object *reply = NULL;
	char err[700];

	if (!daemon_running() && agent_rollback_kept(c->confdir) != AGENT_KEPT_NOTHING)
		return fail(EXIT_FAIL, "ipsec-xdpd is not running: it stopped before the "
			    "confirmation, and restores the policy kept in %s when it "
			    "starts (a policy is confirmed while it runs)", c->confdir);
	if (!daemon_running())
		return fail(EXIT_FAIL, "ipsec-xdpd is not running: no policy waits "
			    "for confirmation");
	if (daemon_ask("policy-confirm", &reply, err, sizeof(err)))
		return fail(EXIT_FAIL, "%s", err);
	json_object_put(reply);
	if (c->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "result", json_object_new_string("confirmed"));
		print_json(o);
	} else {
		printf("confirmed: the policy in force stays\n");
	}
	return EXIT_OK;
}

/* "apply [--confirm-within SECONDS] FILE", the option on either side. */
static int parse_apply(int argc, char **argv, const char **path,
		       unsigned *confirm_s)
{
	*path = NULL;
	*confirm_s = 0;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--confirm-within") && i + 1 < argc) {
			char *end;
			long v = strtol(argv[++i], &end, 10);

			if (!*argv[i] || *end || v < 1 || v > 86400) {
				fail(EXIT_USAGE, "--confirm-within takes a number of "
				     "seconds from 1 to 86400, not '%s'", argv[i]);
				return -1;
			}
			*confirm_s = (unsigned)v;
		} else if (!*path && strncmp(argv[i], "--", 2)) {
			*path = argv[i];
		} else {
			*path = NULL;	/* a second file, or an unknown option */
			break;
		}
	}
	if (*path)
		return 0;
	fail(EXIT_USAGE, "usage: ipsec-xdp policy apply [--confirm-within SECONDS] FILE");
	return -1;
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
	daemon = ctl_reload_daemon();
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

#define POLICY_USAGE "usage: ipsec-xdp policy check FILE | apply [--confirm-within " \
	"SECONDS] FILE | confirm | show | unassign"

int cmd_policy(struct ctx *c, int argc, char **argv)
{
	const char *path;
	unsigned confirm_s;

	if (argc < 2)
		return fail(EXIT_USAGE, POLICY_USAGE);
	if (!strcmp(argv[1], "check") && argc == 3)
		return policy_check(c, argv[2]);
	if (!strcmp(argv[1], "apply") && argc >= 3)
		return parse_apply(argc, argv, &path, &confirm_s) ? EXIT_USAGE
			: policy_apply(c, path, confirm_s);
	if (!strcmp(argv[1], "confirm") && argc == 2)
		return policy_confirm(c);
	if (!strcmp(argv[1], "show") && argc == 2)
		return policy_show(c);
	if (!strcmp(argv[1], "unassign") && argc == 2)
		return policy_unassign(c);
	return fail(EXIT_USAGE, POLICY_USAGE);
}

/* ---- status: what ipsec-xdpd's policy agent has in force ---------------------- */

static const char *jstr_of(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, key, &v) && v
	       ? json_object_get_string(v) : "";
}

static int64_t jint_of(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

static const char *when_str(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	strftime(buf, len, "%Y-%m-%d %H:%M:%S %Z", localtime_r(&tt, &tm));
	return buf;
}

static void print_agent_text(struct json_object *a)
{
	struct json_object *f = json_object_object_get(a, "in_force");
	struct json_object *l = json_object_object_get(a, "last");
	struct json_object *p = json_object_object_get(a, "pending_confirmation");
	char when[64];

	printf("policy agent (ipsec-xdpd): %s, %s, read again every %lld s\n",
	       jstr_of(a, "file"), !strcmp(jstr_of(a, "watch"), "inotify")
	       ? "watched (inotify)" : "not watched", (long long)jint_of(a, "polling_interval_s"));
	if (f)
		printf("  in force: policy '%s' from %s since %s\n"
		       "            sha256 %s, %lld specific filters, dataplane: %s\n",
		       jstr_of(f, "policy"), jstr_of(f, "source"),
		       when_str(jint_of(f, "since"), when, sizeof(when)),
		       jstr_of(f, "sha256"), (long long)jint_of(f, "specific_filters"),
		       jstr_of(f, "dataplane"));
	else
		printf("  in force: no policy\n");
	if (l)
		printf("  last: %s at %s: %s\n", jstr_of(l, "error")[0] ? "ERROR" : "ok",
		       when_str(jint_of(l, "at"), when, sizeof(when)),
		       jstr_of(l, "error")[0] ? jstr_of(l, "error") : jstr_of(l, "result"));
	if (p)
		printf("  waiting for `ipsec-xdp policy confirm`: %s is restored at "
		       "%s (%lld s left)\n", jstr_of(p, "restores"),
		       when_str(jint_of(p, "deadline"), when, sizeof(when)),
		       (long long)jint_of(p, "seconds_left"));
}

void status_agent(struct ctx *c, struct json_object *o)
{
	struct json_object *reply = NULL, *a = NULL;
	char err[700];

	if (!daemon_running() || daemon_ask("agent-status", &reply, err, sizeof(err))) {
		if (c->json)
			json_object_object_add(o, "agent", NULL);
		else
			printf("policy agent: ipsec-xdpd is not running\n");
		return;
	}
	if (json_object_object_get_ex(reply, "agent", &a))
		json_object_get(a);
	json_object_put(reply);
	if (c->json) {
		json_object_object_add(o, "agent", a);
		return;
	}
	if (a)
		print_agent_text(a);
	json_object_put(a);
}
