// SPDX-License-Identifier: GPL-2.0-only
/*
 * ctl_cmd_filter.c - `filter add LIST FILTER` and `filter delete LIST
 * FILTER` (the seeds' `netsh ipsec static add|delete filter`): one filter
 * of the assigned policy (CONFDIR/policy.yaml) added or deleted in the
 * file's text (policy/policy_edit.h), then applied as `policy apply`
 * applies a file, all under the writers' lock, so two edits at once both
 * land, one after the other.  Anything refused leaves the file and the
 * policy in force as they were.
 *
 * The stored file is read once.  The edited model is put in force, then
 * the edited text is read back (policy_edit_check()) and kept: reading it
 * is off the path to the new verdicts (docs/classifier.md, "Incremental
 * updates").  A text that does not read back as the model, or cannot be
 * kept, puts the policy before the edit back in force.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>

#include "ctl.h"
#include "agent/agent.h"
#include "policy/policy_edit.h"
#include "util/util_atomic_file.h"

/* How long the daemon may take to make the change: its wait for the lock
 * is short (DAGENT_LOCK_WAIT_MS), the compile and push of a large list
 * are not. */
#define DAEMON_EDIT_WAIT_S 30

#define FILTER_USAGE "usage: ipsec-xdp filter add LIST FILTER | delete LIST FILTER " \
	"(FILTER: '{src: ..., dst: ..., protocol: ..., dst-port: ...}')"

struct filter_req {
	enum policy_edit_op op;
	const char *list, *filter;
	struct policy_edit edit;
	struct policy_file *pf;
	struct filter_table table;
	struct compile_diag diag;
	bool loaded;
	char path[PATH_MAX];
};

static const char *verb(const struct filter_req *r)
{
	return r->op == POLICY_FILTER_ADD ? "add" : "delete";
}

/* The stored policy's text, or why there is none. */
static int read_assigned(struct ctx *c, struct filter_req *r, char **text, size_t *len)
{
	char err[600];
	struct stat st;

	agent_assigned_path(c->confdir, r->path, sizeof(r->path));
	if (stat(r->path, &st) && errno == ENOENT)
		return fail(EXIT_FAIL, "no policy is assigned (%s does not exist), so "
			    "there is no filter list to edit: `ipsec-xdp policy "
			    "apply FILE` assigns one", r->path);
	if (read_file_whole(r->path, STORED_POLICY_MAX, text, len, err, sizeof(err)))
		return fail(EXIT_FAIL, "cannot read the assigned policy: %s (nothing "
			    "was changed)", err);
	return EXIT_OK;
}

/* The edit of the stored text (and of its model): r->edit. */
static int edit(struct filter_req *r, const char *text, size_t len)
{
	char err[1200];
	int ret = policy_edit_filter(r->path, text, len, r->op, r->list, r->filter,
				     &r->edit, err, sizeof(err));

	if (ret)
		return fail(ret == POLICY_EDIT_BAD ? EXIT_BAD_INPUT : EXIT_FAIL,
			    "%s; nothing was changed", err);
	return EXIT_OK;
}

/* The edit whose text is read back: applied as `policy apply` applies a
 * text it has parsed. */
static int apply_checked(struct ctx *c, struct filter_req *r)
{
	r->pf = r->edit.pf;
	r->edit.pf = NULL;
	return ctl_apply_text_locked(c, r->path, r->edit.text, r->edit.len,
				     r->loaded, &r->pf, &r->table, &r->diag);
}

/* The edit's text read back before anything is pushed, and applied:
 * what the compile says of it then names the text's lines.  A model the
 * compile refused is gone (agent_compile_parsed() frees it): the edit is
 * made again first. */
static int check_then_apply(struct ctx *c, struct filter_req *r, const char *stored,
			    size_t len)
{
	char err[1200];
	int ret;

	filter_table_free(&r->table);
	compile_diag_free(&r->diag);
	if (!r->edit.pf) {
		policy_edit_free(&r->edit);
		if ((ret = edit(r, stored, len)))
			return ret;
	}
	if ((ret = policy_edit_check(r->path, &r->edit, err, sizeof(err))))
		return fail(ret == POLICY_EDIT_BAD ? EXIT_BAD_INPUT : EXIT_FAIL,
			    "%s; nothing was changed", err);
	return apply_checked(c, r);
}

/* After a push whose text cannot be kept (why): the stored text, still
 * the assigned policy, pushed again. */
static int put_back(struct ctl_apply *a, const char *name, const char *stored,
		    size_t len, const char *why)
{
	struct policy_file *pf = NULL;
	struct filter_table t = { 0 };
	struct compile_diag d = { 0 };
	char err[8192];
	int ret;

	if (ctl_apply_compile(a, name, stored, len, &pf, &t, &d, err, sizeof(err)))
		ret = fail(EXIT_FAIL, "%s; and the policy before the edit does not "
			   "compile now, so the edited one stays in force: %s", why, err);
	else if (a->loaded && dp_apply_table(&a->dp, &t, true, err, sizeof(err)))
		ret = fail(EXIT_FAIL, "%s; and putting the policy before the edit "
			   "back failed, so the edited one stays in force: %s", why, err);
	else
		ret = fail(EXIT_FAIL, "%s; nothing was changed (the policy before "
			   "the edit is back in force)", why);
	filter_table_free(&t);
	compile_diag_free(&d);
	policy_file_free(pf);
	return ret;
}

/*
 * The edited model compiled and pushed, then its text read back and kept.
 * A compile with anything to say (an error, a warning) is not pushed: the
 * text is read back first (check_then_apply()), so that what is said
 * names the right lines of the edited file.
 */
static int apply_then_check(struct ctx *c, struct filter_req *r, const char *stored,
			    size_t len)
{
	char err[8192], why[8300];
	struct ctl_apply a;
	int ret;

	if ((ret = ctl_apply_open(c, r->loaded, &a)))
		return ret;
	if (ctl_apply_compile(&a, r->path, NULL, 0, &r->edit.pf, &r->table, &r->diag,
			      err, sizeof(err)) || r->diag.nwarnings) {
		ctl_apply_close(&a);
		return check_then_apply(c, r, stored, len);
	}
	if ((ret = ctl_apply_push(&a, &r->table))) {
		ctl_apply_close(&a);
		return ret;
	}
	if (policy_edit_check(r->path, &r->edit, err, sizeof(err))) {
		ret = put_back(&a, r->path, stored, len, err);
	} else if (ctl_apply_keep(c, r->edit.text, r->edit.len, err, sizeof(err))) {
		snprintf(why, sizeof(why), "the edited policy cannot be kept as the "
			 "assigned policy: %s", err);
		ret = put_back(&a, r->path, stored, len, why);
	}
	if (ret) {
		ctl_apply_close(&a);
		return ret;
	}
	r->pf = r->edit.pf;
	r->edit.pf = NULL;
	return ctl_apply_done(c, &a);
}

static int edit_locked(struct ctx *c, struct filter_req *r)
{
	char *text = NULL;
	size_t len = 0;
	int ret;

	if ((ret = read_assigned(c, r, &text, &len)))
		return ret;
	r->loaded = dp_is_loaded(c->root);
	if ((ret = edit(r, text, len)) == EXIT_OK)
		ret = r->edit.checked ? apply_checked(c, r)
				      : apply_then_check(c, r, text, len);
	free(text);
	return ret;
}

static void report(struct ctx *c, const struct filter_req *r, const char *daemon)
{
	const char *done = r->op == POLICY_FILTER_ADD ? "added" : "deleted";

	if (c->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "result", json_object_new_string(done));
		json_object_object_add(o, "list", json_object_new_string(r->list));
		json_object_object_add(o, "filter", json_object_new_string(r->edit.filter));
		json_object_object_add(o, "index", json_object_new_int64((int64_t)r->edit.index));
		json_object_object_add(o, "list_filters",
				       json_object_new_int64((int64_t)r->edit.nfilters));
		json_object_object_add(o, "file", json_object_new_string(r->path));
		json_object_object_add(o, "policy",
				       json_object_new_string(r->pf->assigned->name));
		json_object_object_add(o, "rules",
				       json_object_new_int64((int64_t)r->pf->assigned->nrules));
		json_object_object_add(o, "specific_filters",
				       json_object_new_int64((int64_t)r->table.n));
		json_object_object_add(o, "dataplane", json_object_new_string(
					       r->loaded ? "applied" : "not loaded"));
		json_object_object_add(o, "warnings", ctl_warnings_json(&r->diag));
		json_object_object_add(o, "daemon", json_object_new_string(daemon));
		print_json(o);
		return;
	}
	ctl_print_warnings(&r->diag);
	if (r->op == POLICY_FILTER_ADD)
		printf("filter list '%s': added %s (filter %zu of %zu)\n", r->list,
		       r->edit.filter, r->edit.index + 1, r->edit.nfilters);
	else
		printf("filter list '%s': deleted %s (was filter %zu of %zu)\n",
		       r->list, r->edit.filter, r->edit.index + 1, r->edit.nfilters + 1);
	printf("%s: policy '%s' %s: %zu rules, %zu specific filters\n", r->path,
	       r->pf->assigned->name, r->loaded ? "applied" : "assigned (the "
	       "dataplane is not loaded: it is applied by `ipsec-xdp load`)",
	       r->pf->assigned->nrules, r->table.n);
	if (!strcmp(daemon, "reloaded"))
		printf("ipsec-xdpd reloaded the policy\n");
	else if (!strcmp(daemon, "pushed"))
		printf("ipsec-xdpd put the change in force first, and reads the "
		       "file again\n");
}

/* ipsec-xdpd makes the change first, when it runs and can
 * (daemon_agent.h, dagent_edit): 0 and *fd, the connection through which
 * the daemon holds the writers' lock for this command until it is closed;
 * -1 when it does not run or declined (nothing done: the command edits by
 * itself). */
static int daemon_first(struct filter_req *r, int *fd)
{
	struct json_object *req = json_object_new_object(), *reply = NULL;
	char err[900];

	json_object_object_add(req, "cmd", json_object_new_string("filter-edit"));
	json_object_object_add(req, "op", json_object_new_string(verb(r)));
	json_object_object_add(req, "list", json_object_new_string(r->list));
	json_object_object_add(req, "filter", json_object_new_string(r->filter));
	if (daemon_ask_keep(req, DAEMON_EDIT_WAIT_S, &reply, fd, err, sizeof(err)))
		return -1;
	json_object_put(reply);
	return 0;
}

/* After a failure once the daemon pushed the change: the stored text,
 * unchanged, back in force (pushed when the dataplane does not enforce it
 * already). */
static void restore_stored(struct ctx *c, struct filter_req *r)
{
	struct policy_file *pf = NULL;
	struct filter_table t = { 0 };
	struct compile_diag d = { 0 };
	char err[8192], *text = NULL;
	struct ctl_apply a = { .closed = true };
	size_t len = 0;
	bool back = false;

	if (read_file_whole(r->path, STORED_POLICY_MAX, &text, &len, err, sizeof(err)))
		;	/* err says why */
	else if (ctl_apply_open(c, true, &a) != EXIT_OK)
		snprintf(err, sizeof(err), "the configuration cannot be read");
	else if (ctl_apply_compile(&a, r->path, text, len, &pf, &t, &d, err,
				   sizeof(err)))
		;	/* err says why */
	else if (ctl_apply_push(&a, &t) != EXIT_OK)
		snprintf(err, sizeof(err), "the dataplane refused it");
	else
		back = true;
	if (!back)
		fail(EXIT_FAIL, "the change ipsec-xdpd pushed may still be in force "
		     "(putting the stored policy back: %.4000s): ipsec-xdpd puts it "
		     "in force when it reads it again", err);
	ctl_apply_close(&a);
	filter_table_free(&t);
	compile_diag_free(&d);
	policy_file_free(pf);
	free(text);
}

/* The edit under ipsec-xdpd's hold of the writers' lock (fd): the change
 * is in force already; what the command compiles from the file's text is
 * checked against the dataplane and pushed only where it differs. */
static int edit_after_daemon(struct ctx *c, struct filter_req *r, int fd)
{
	int ret;

	c->pushed_by_daemon = true;
	ret = edit_locked(c, r);
	if (ret != EXIT_OK)
		restore_stored(c, r);
	close(fd);		/* the daemon's turn: it reads the file again */
	return ret;
}

static int edit_alone(struct ctx *c, struct filter_req *r)
{
	struct writer_lock lock;
	int ret;

	if ((ret = lock_writers(c, &lock)))
		return ret;
	ret = edit_locked(c, r);
	/* Unlocked before the daemon reloads: its bundle writes take the lock. */
	writer_lock_release(&lock);
	return ret;
}

static int filter_edit(struct ctx *c, struct filter_req *r)
{
	const char *daemon = NULL;
	char what[32];
	int fd, ret;

	snprintf(what, sizeof(what), "filter %s", verb(r));
	if ((ret = ctl_refuse_if_central(c, what)))
		return ret;
	if (!daemon_first(r, &fd)) {
		ret = edit_after_daemon(c, r, fd);
		daemon = "pushed";
	} else if ((ret = edit_alone(c, r)) == EXIT_OK) {
		daemon = ctl_reload_daemon();
	}
	if (ret == EXIT_OK)
		report(c, r, daemon);
	policy_edit_free(&r->edit);
	filter_table_free(&r->table);
	compile_diag_free(&r->diag);
	policy_file_free(r->pf);
	return ret;
}

int cmd_filter(struct ctx *c, int argc, char **argv)
{
	struct filter_req r = { 0 };

	if (argc != 4)
		return fail(EXIT_USAGE, FILTER_USAGE);
	if (!strcmp(argv[1], "add"))
		r.op = POLICY_FILTER_ADD;
	else if (!strcmp(argv[1], "delete"))
		r.op = POLICY_FILTER_DELETE;
	else
		return fail(EXIT_USAGE, FILTER_USAGE);
	r.list = argv[2];
	r.filter = argv[3];
	return filter_edit(c, &r);
}
