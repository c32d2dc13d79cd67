// SPDX-License-Identifier: GPL-2.0-only
/*
 * daemon_agent.c - the policy agent of ipsec-xdpd: the assigned policy
 * watched and put in force, its state for `status`, the rollback of
 * `policy apply --confirm-within`; see daemon_agent.h.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>
#include <json-c/json.h>
#include <openssl/evp.h>

#include "daemon/daemon_agent_internal.h"
#include "daemon/daemon_keyholder.h"
#include "sa/sa_log.h"
#include "sa/sa_peer.h"
/* lib/policy/policy.h has its own struct ike_proposal (message.h's name). */
#define ike_proposal lib_ike_proposal
#include "agent/agent.h"
#include "agent/agent_rollback.h"
#include "policy/policy_edit.h"
#include "dataplane/dataplane_lock.h"
#include "policy/policy_state.h"
#include "util/util_atomic_file.h"
#undef ike_proposal

void dagent_hash(const char *text, size_t len, uint8_t out[HASH_LEN])
{
	unsigned n = HASH_LEN;

	if (!EVP_Digest(text, len, out, &n, EVP_sha256(), NULL))
		memset(out, 0, HASH_LEN);	/* never equal to a real hash's use */
}

static void hash_hex(const uint8_t h[HASH_LEN], char out[2 * HASH_LEN + 1])
{
	for (size_t i = 0; i < HASH_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static void set_last(struct dagent *a, bool ok, const char *source,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void set_last(struct dagent *a, bool ok, const char *source,
		     const char *fmt, ...)
{
	va_list ap;

	a->last.valid = true;
	a->last.ok = ok;
	a->last.at = time(NULL);
	snprintf(a->last.source, sizeof(a->last.source), "%s", source);
	va_start(ap, fmt);
	vsnprintf(a->last.text, sizeof(a->last.text), fmt, ap);
	va_end(ap);
}

void dagent_arm_ms(struct event *ev, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(ev, &tv);
}

static const char *daemon_statedir(struct dagent *a);

static uint32_t polling_s(const struct dagent *a)
{
	return a->in_force.valid && a->in_force.polling_s ? a->in_force.polling_s
							  : POLLING_INTERVAL_DEFAULT;
}

/* The state directory (policy_state.h): $IPSEC_XDP_STATEDIR, else
 * CONFDIR/state for a configuration directory of its own (-C), as the
 * command does for $IPSEC_XDP_CONFDIR, else /var/lib/ipsec-xdp. */
const char *dagent_statedir(struct daemon *d)
{
	static char buf[PATH_MAX];
	const char *env = getenv("IPSEC_XDP_STATEDIR");

	if (env && *env)
		return env;
	if (strcmp(d->confdir, IXDP_CONFDIR_DEFAULT) == 0)
		return ixdp_statedir();
	snprintf(buf, sizeof(buf), "%s/state", d->confdir);
	return buf;
}

static const char *daemon_statedir(struct dagent *a)
{
	return dagent_statedir(a->d);
}

/* ---- putting a policy in force -------------------------------------------- */

/* The first policy ever applied turns the default boot mode from permit to
 * stateful (docs/behaviour.md §2), as `policy apply` does. */
static void note_applied_once(struct dagent *a, struct bootconf *conf,
			      struct dp *dp)
{
	char err[512];

	if (conf->policy_applied_once)
		return;
	conf->policy_applied_once = true;
	/* in force now even where it cannot be kept (--user: STATEDIR is
	 * root's; `policy apply` keeps it) */
	if (state_mark_applied_once(daemon_statedir(a), err, sizeof(err)))
		log_warn("policy agent: cannot keep that a policy was applied "
			 "(the boot mode after it): %s", err);
	if (dp && agent_apply_boot(dp, conf, err, sizeof(err)))
		log_warn("policy agent: the boot mode after a first policy: %s",
			 err);
}

/* The live list is table, under a policy: pushing it again would change
 * nothing (a list that cannot be read counts as different). */
static bool policy_is_live(struct dp *dp, const struct filter_table *table)
{
	bool has_policy, same;

	return dp_table_is_live(dp, table, &has_policy, &same) == 0 &&
	       has_policy && same;
}

/* Under the writers' lock: push table unless live. */
static int push_locked(struct dagent *a, struct filter_table *table,
		       struct bootconf *conf, bool *pushed, bool *loaded,
		       char *err, size_t errlen)
{
	const char *root = dp_pin_root();
	struct dp dp;
	int rc = 0;

	*pushed = false;
	*loaded = dp_is_loaded(root);
	if (*loaded && dp_open(&dp, root, err, errlen))
		return -1;
	dp.memo = a->memo;
	if (*loaded && policy_is_live(&dp, table)) {
		/* pushed by someone else: the next filter edit's push
		 * starts from it without reading it back */
		dp_memo_refresh(&dp);
	} else if (*loaded) {
		dp_guide_tree(&dp);	/* the tree in force guides the new one */
		rc = dp_apply_table(&dp, table, true, err, errlen);
		*pushed = rc == 0;
		if (*pushed && dp.stats.tree_error[0])
			log_warn("policy agent: no decision tree for this list (%s): "
				 "new flows are looked up in the tuple space, "
				 "more slowly", dp.stats.tree_error);
	}
	if (!rc)
		note_applied_once(a, conf, *loaded ? &dp : NULL);
	if (*loaded)
		dp_close(&dp);
	return rc;
}

static void record_in_force(struct dagent *a, const uint8_t hash[HASH_LEN],
			    const char *source, const struct policy_file *pf,
			    size_t nfilters, bool pushed, bool loaded)
{
	struct dagent_state *s = &a->in_force;

	s->valid = true;
	memcpy(s->hash, hash, HASH_LEN);
	s->at = time(NULL);
	snprintf(s->source, sizeof(s->source), "%s", source);
	snprintf(s->policy, sizeof(s->policy), "%s",
		 pf->assigned->name ? pf->assigned->name : "");
	s->nfilters = nfilters;
	s->pushed = pushed;
	s->loaded = loaded;
	s->polling_s = pf->assigned->polling_interval_s;
	a->bad_valid = false;
	a->missing_seen = false;
	if (a->poll)
		dagent_arm_ms(a->poll, polling_s(a) * 1000u);
}

/* What is in force, read, when it is the stored file's text (the one a
 * filter edit changes): taken from *kept. */
static void keep_text(struct dagent *a, const char *source,
		      const uint8_t hash[HASH_LEN], struct policy_text **kept)
{
	policy_text_free(a->kept);
	a->kept = NULL;
	if (strcmp(source, a->path))
		return;
	a->kept = *kept;
	*kept = NULL;
	memcpy(a->kept_hash, hash, HASH_LEN);
}

static void forget_in_force(struct dagent *a)
{
	a->in_force.valid = false;
	policy_text_free(a->kept);
	a->kept = NULL;
}

int dagent_conf(struct dagent *a, struct bootconf *conf, char *err,
		size_t errlen)
{
	char why[600];

	if (bootconf_load(a->d->confdir, conf, why, sizeof(why))) {
		snprintf(err, errlen, "%.200s/config: %.380s", a->d->confdir, why);
		return -1;
	}
	if (state_load(daemon_statedir(a), conf, why, sizeof(why)))
		log_warn("policy agent: %s", why);	/* conf still says so */
	return 0;
}

/* Parsed and compiled for the dataplane and for IKE, or -1 with err. */
static int compile_both(struct dagent *a, const char *text, size_t len,
			const char *source, struct bootconf *conf,
			struct policy_text **kept, struct filter_table *table,
			struct peer_policy **pp, char *err, size_t errlen)
{
	struct compile_diag diag = { 0 };
	struct policy_error perr;
	int rc;

	memset(&perr, 0, sizeof(perr));
	if (dagent_conf(a, conf, err, errlen))
		return -1;
	/* read with its nodes: the text a filter edit changes (dagent_edit) */
	if (policy_text_read(source, text, len, kept, &perr)) {
		policy_error_format(&perr, err, errlen);
		return -1;
	}
	rc = agent_compile_model(source, conf, NULL, policy_text_model(*kept),
				 table, &diag, err, errlen);
	compile_diag_free(&diag);
	if (!rc)
		rc = peer_policy_from_buffer(source, text, len, pp, err, errlen);
	if (rc) {
		filter_table_free(table);
		policy_text_free(*kept);
		*kept = NULL;
	}
	return rc;
}

int dagent_apply(struct daemon *d, const char *text, size_t len,
		 const char *source, unsigned flags, char *err, size_t errlen)
{
	struct dagent *a = ag_of(d);
	struct filter_table table = { 0 };
	struct policy_text *kept = NULL;
	struct peer_policy *pp = NULL;
	struct writer_lock lock;
	struct bootconf conf;
	uint8_t hash[HASH_LEN];
	bool pushed, loaded;
	int rc;

	err[0] = '\0';
	dagent_hash(text, len, hash);
	if (!(flags & DAGENT_FORCE) && !a->unsettled && a->in_force.valid &&
	    !memcmp(hash, a->in_force.hash, HASH_LEN))
		return 0;
	if (compile_both(a, text, len, source, &conf, &kept, &table, &pp, err,
			 errlen)) {
		/* logged once per content, shown by status until replaced */
		if (!a->bad_valid || memcmp(hash, a->bad_hash, HASH_LEN))
			log_warn("policy agent: %s: not applied, the policy in "
				 "force stays: %s", source, err);
		a->bad_valid = true;
		memcpy(a->bad_hash, hash, HASH_LEN);
		set_last(a, false, source, "%s", err);
		return -1;
	}
	if (writer_lock_acquire(&lock, d->confdir, dp_pin_root(),
				DAGENT_LOCK_WAIT_MS, err, errlen)) {
		rc = DAGENT_BUSY;
	} else {
		rc = push_locked(a, &table, &conf, &pushed, &loaded, err,
				 errlen);
		writer_lock_release(&lock);
	}
	if (rc == 0) {
		daemon_set_policy(d, pp);	/* taken over */
		pp = NULL;
		record_in_force(a, hash, source, policy_text_model(kept),
				table.n, pushed, loaded);
		keep_text(a, source, hash, &kept);
		a->unsettled = false;
		set_last(a, true, source, "policy '%s' in force: %zu specific "
			 "filters, %s", a->in_force.policy, table.n, !loaded
			 ? "the dataplane is not loaded (IKE only)" : pushed
			 ? "pushed to the dataplane" : "the dataplane enforced "
			 "it already (nothing pushed)");
		log_info("policy agent: %s: %s", source, a->last.text);
	} else if (rc < 0) {
		log_warn("policy agent: %s: %s (the policy in force stays)",
			 source, err);
		set_last(a, false, source, "%s (the policy in force stays)", err);
	}
	peer_policy_free(pp);
	filter_table_free(&table);
	policy_text_free(kept);
	return rc;
}

/* ---- the stored file --------------------------------------------------------- */

/* The stored file is gone.  After `policy unassign` (explicit: its reload)
 * nothing is assigned any more; seen by the watcher alone, the policy in
 * force stays: only `policy unassign` removes it (fail closed). */
static void file_missing(struct dagent *a, bool explicit)
{
	if (explicit) {
		if (a->in_force.valid)
			set_last(a, true, a->path, "no policy assigned");
		forget_in_force(a);
		return;
	}
	if (!a->in_force.valid || a->missing_seen)
		return;
	a->missing_seen = true;
	log_warn("policy agent: %s is gone: the policy in force stays "
		 "(`ipsec-xdp policy unassign` removes it)", a->path);
	set_last(a, false, a->path, "the file is gone: the policy in force "
		 "stays (`ipsec-xdp policy unassign` removes it)");
}

/* Read the stored file and put it in force if it changed. */
static void sync_file(struct dagent *a, bool explicit)
{
	char err[8192], *text = NULL;
	size_t len = 0;
	int rc;

	if (a->d->central_in_force)	/* precedence: daemon_source.h */
		return;
	if (access(a->path, F_OK) && errno == ENOENT) {
		file_missing(a, explicit);
		return;
	}
	if (read_file_whole(a->path, STORED_POLICY_MAX, &text, &len, err,
			    sizeof(err))) {
		log_warn("policy agent: %s", err);
		set_last(a, false, a->path, "%s (the policy in force stays)", err);
		return;
	}
	a->missing_seen = false;
	rc = dagent_apply(a->d, text, len, a->path, 0, err, sizeof(err));
	free(text);
	if (rc == DAGENT_BUSY) {	/* `policy apply` at work: look again soon */
		set_last(a, false, a->path, "waiting for the writers' lock: %s",
			 err);
		dagent_arm_ms(a->debounce, DAGENT_RETRY_MS);
	}
}

static void on_poll(evutil_socket_t fd, short what, void *arg);

/* Watch CONFDIR for policy.yaml; a watch lost (the directory moved or
 * removed) is set again by the next poll. */
static void watch(struct dagent *a)
{
	if (a->ino_fd < 0 || a->wd >= 0)
		return;
	a->wd = inotify_add_watch(a->ino_fd, a->d->confdir,
				  IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE |
				  IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF |
				  IN_ONLYDIR);
	if (a->wd < 0)
		log_debug("policy agent: no inotify watch on %s (%s): polling "
			  "every %u s", a->d->confdir, strerror(errno),
			  polling_s(a));
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct dagent *a = arg;

	watch(a);
	sync_file(a, false);
	dagent_arm_ms(a->poll, polling_s(a) * 1000u);
}

static void on_debounce(evutil_socket_t fd, short what, void *arg)
{
	struct dagent *a = arg;

	watch(a);
	sync_file(a, false);
}

static bool names_policy(const struct inotify_event *ev)
{
	return ev->len && !strcmp(ev->name, "policy.yaml");
}

static void on_inotify(evutil_socket_t fd, short what, void *arg)
{
	struct dagent *a = arg;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool changed = false;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;

			/* the directory moved or went: watch its path again */
			if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF) &&
			    ev->wd == a->wd) {
				inotify_rm_watch(fd, a->wd);
				a->wd = -1;
				changed = true;
			}
			if (names_policy(ev) || ev->mask & IN_Q_OVERFLOW)
				changed = true;
			p += sizeof(*ev) + ev->len;
		}
	}
	if (changed)
		dagent_arm_ms(a->debounce, DAGENT_DEBOUNCE_MS);
}

void dagent_reloaded(struct daemon *d)
{
	struct dagent *a = ag_of(d);

	if (a)
		sync_file(a, true);
}

/* ---- confirm-within ------------------------------------------------------ */

static void pending_clear(struct dagent *a)
{
	memset(&a->pending, 0, sizeof(a->pending));
	evtimer_del(a->rollback);
}

/* No policy was stored before: forget the assigned one again. */
static int rollback_unassign(struct dagent *a, char *err, size_t errlen)
{
	const char *root = dp_pin_root();
	struct writer_lock lock;
	bool loaded;
	struct dp dp;
	int rc;

	if (writer_lock_acquire(&lock, a->d->confdir, root, DAGENT_LOCK_WAIT_MS,
				err, errlen))
		return DAGENT_BUSY;
	loaded = dp_is_loaded(root);
	rc = loaded ? dp_open(&dp, root, err, errlen) : 0;
	if (!rc) {
		rc = agent_unassign(loaded ? &dp : NULL, a->d->confdir, err,
				    errlen);
		if (loaded)
			dp_close(&dp);
	}
	writer_lock_release(&lock);
	if (!rc) {
		daemon_set_policy(a->d, NULL);
		forget_in_force(a);
	}
	return rc;
}

uint32_t dagent_polling_s(struct daemon *d)
{
	return polling_s(ag_of(d));
}

int dagent_unassign(struct daemon *d, char *err, size_t errlen)
{
	return rollback_unassign(ag_of(d), err, errlen);
}

/* Under the writers' lock, the key holder (root, CONFDIR's owner) puts
 * back what `policy apply --confirm-within` kept: this process may not
 * write CONFDIR (--user).  Once: a retry of the push does not ask again. */
static int restore_file(struct dagent *a, char *err, size_t errlen)
{
	struct writer_lock lock;
	bool had = false;
	int rc;

	if (a->pending.restored)
		return 0;
	if (writer_lock_acquire(&lock, a->d->confdir, dp_pin_root(),
				DAGENT_LOCK_WAIT_MS, err, errlen))
		return DAGENT_BUSY;
	rc = keyholder_rollback(a->d, false, &had, err, errlen);
	writer_lock_release(&lock);
	if (!rc) {
		a->pending.restored = true;
		a->pending.absent = !had;
	}
	return rc;
}

/* The file put back (or its absence) in force: the dataplane and IKE. */
static int apply_restored(struct dagent *a, const char *source, char *err,
			  size_t errlen)
{
	char *text;
	size_t len;
	int rc;

	if (a->pending.absent)
		return rollback_unassign(a, err, errlen);
	if (read_file_whole(a->path, STORED_POLICY_MAX, &text, &len, err,
			    errlen))
		return -1;
	rc = dagent_apply(a->d, text, len, source, DAGENT_FORCE, err, errlen);
	free(text);
	return rc;
}

/* 0, DAGENT_BUSY, KEYHOLDER_NOTHING_KEPT, or -1 with err. */
static int roll_back(struct dagent *a, const char *source, char *err,
		     size_t errlen)
{
	int rc = restore_file(a, err, errlen);

	return rc ? rc : apply_restored(a, source, err, errlen);
}

static void log_restored(struct dagent *a, const char *source)
{
	const char *none = a->pending.absent ? " (none was assigned: the boot "
					       "mode rules)" : "";

	if (a->pending.stale) {
		log_warn("policy agent: a policy applied with --confirm-within "
			 "before ipsec-xdpd stopped was never confirmed: the "
			 "previous policy is restored%s", none);
		set_last(a, true, source, "never confirmed before ipsec-xdpd "
			 "stopped: the previous policy is restored%s", none);
		return;
	}
	log_warn("policy agent: no `ipsec-xdp policy confirm` within %u s: "
		 "the previous policy is restored%s", a->pending.seconds, none);
	set_last(a, true, source, "no confirmation within %u s: the previous "
		 "policy is restored%s", a->pending.seconds, none);
}

static void on_rollback(evutil_socket_t fd, short what, void *arg)
{
	struct dagent *a = arg;
	char err[8192], source[PATH_MAX + 64];
	int rc;

	snprintf(source, sizeof(source), "%s (rolled back)", a->path);
	rc = roll_back(a, source, err, sizeof(err));
	if (rc == DAGENT_BUSY) {
		dagent_arm_ms(a->rollback, DAGENT_RETRY_MS);
		return;
	}
	if (rc == KEYHOLDER_NOTHING_KEPT) {
		log_err("policy agent: the rollback copy in %s is gone: the "
			"previous policy cannot be restored, the policy in "
			"force stays", a->d->confdir);
		set_last(a, false, source, "the rollback copy in %s is gone: "
			 "the policy in force stays", a->d->confdir);
		pending_clear(a);
		return;
	}
	if (rc) {
		/* the previous policy was valid when kept: only the
		 * dataplane or the disk can refuse; try again */
		log_err("policy agent: rollback failed: %s; trying again in "
			"5 s", err);
		dagent_arm_ms(a->rollback, 5000);
		return;
	}
	log_restored(a, source);
	pending_clear(a);
}

/* Stopping: a confirmation can no longer come, so the previous policy
 * comes back now (one try; what is kept still is put back at the next
 * start). */
static void rollback_on_stop(struct dagent *a)
{
	char err[8192];
	int rc;

	log_warn("policy agent: stopping before `ipsec-xdp policy confirm`: "
		 "the previous policy is restored");
	rc = roll_back(a, a->path, err, sizeof(err));
	if (rc)
		log_err("policy agent: the previous policy is not restored: %s",
			rc == DAGENT_BUSY ? "the writers' lock is held"
			: rc == KEYHOLDER_NOTHING_KEPT ? "its copy is gone" : err);
}

/* A rollback copy left by a daemon that stopped without putting it back
 * (killed, or its rollback failed): that confirmation never came, so the
 * previous policy is restored now (ipsec-xdpd(8) POLICY AGENT). */
static void arm_stale(struct dagent *a)
{
	enum agent_kept kept = agent_rollback_kept(a->d->confdir);

	if (kept == AGENT_KEPT_NOTHING)
		return;
	memset(&a->pending, 0, sizeof(a->pending));
	a->pending.armed = a->pending.stale = true;
	a->pending.absent = kept == AGENT_KEPT_NONE;
	a->pending.deadline = time(NULL);
	dagent_arm_ms(a->rollback, 0);
}

int dagent_arm(struct daemon *d, unsigned seconds, char *err, size_t errlen)
{
	struct dagent *a = ag_of(d);
	enum agent_kept kept;

	if (a->pending.armed) {
		snprintf(err, errlen, "a policy already waits for `ipsec-xdp "
			 "policy confirm` (%ld s left)",
			 (long)(a->pending.deadline - time(NULL)));
		return -1;
	}
	if (seconds < 1 || seconds > DAGENT_CONFIRM_MAX_S) {
		snprintf(err, errlen, "the confirmation time must be 1 to %d "
			 "seconds", DAGENT_CONFIRM_MAX_S);
		return -1;
	}
	/* the command kept the policy stored now, as root (agent_rollback.h) */
	kept = agent_rollback_kept(a->d->confdir);
	if (kept == AGENT_KEPT_NOTHING) {
		snprintf(err, errlen, "nothing to roll back to: %s holds no "
			 "rollback copy (`ipsec-xdp policy apply "
			 "--confirm-within` saves it first)", a->d->confdir);
		return -1;
	}
	memset(&a->pending, 0, sizeof(a->pending));
	a->pending.absent = kept == AGENT_KEPT_NONE;
	a->pending.armed = true;
	a->pending.seconds = seconds;
	a->pending.deadline = time(NULL) + seconds;
	dagent_arm_ms(a->rollback, seconds * 1000u);
	log_info("policy agent: the next policy stays only if confirmed within "
		 "%u s", seconds);
	return 0;
}

int dagent_confirm(struct daemon *d, char *err, size_t errlen)
{
	struct dagent *a = ag_of(d);
	char why[700];

	if (!a->pending.armed || a->pending.stale) {
		snprintf(err, errlen, "no policy waits for confirmation");
		return -1;
	}
	if (!a->pending.restored &&
	    keyholder_rollback(d, true, NULL, why, sizeof(why))) {
		snprintf(err, errlen, "cannot remove the rollback copy: %s (the "
			 "rollback stays armed)", why);
		return -1;
	}
	pending_clear(a);
	log_info("policy agent: the policy in force is confirmed");
	set_last(a, true, a->path, "confirmed: the policy in force stays");
	return 0;
}

/* ---- status ------------------------------------------------------------------ */

static void add_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

static void add_int(struct json_object *o, const char *k, int64_t v)
{
	json_object_object_add(o, k, json_object_new_int64(v));
}

static struct json_object *in_force_json(const struct dagent_state *s)
{
	struct json_object *o = json_object_new_object();
	char hex[2 * HASH_LEN + 1];

	hash_hex(s->hash, hex);
	add_str(o, "sha256", hex);
	add_int(o, "since", (int64_t)s->at);
	add_str(o, "source", s->source);
	add_str(o, "policy", s->policy);
	add_int(o, "specific_filters", (int64_t)s->nfilters);
	add_str(o, "dataplane", !s->loaded ? "not loaded" : s->pushed
		? "pushed" : "already enforced");
	return o;
}

struct json_object *dagent_status_json(struct daemon *d)
{
	struct dagent *a = ag_of(d);
	struct json_object *o = json_object_new_object(), *l, *p;

	add_str(o, "file", a->path);
	add_str(o, "watch", a->wd >= 0 ? "inotify" : "polling");
	add_int(o, "polling_interval_s", polling_s(a));
	json_object_object_add(o, "in_force", a->in_force.valid
			       ? in_force_json(&a->in_force) : NULL);
	l = NULL;
	if (a->last.valid) {
		l = json_object_new_object();
		json_object_object_add(l, "ok", json_object_new_boolean(a->last.ok));
		add_int(l, "at", (int64_t)a->last.at);
		add_str(l, "source", a->last.source);
		add_str(l, a->last.ok ? "result" : "error", a->last.text);
	}
	json_object_object_add(o, "last", l);
	p = NULL;
	if (a->pending.armed) {
		time_t left = a->pending.deadline - time(NULL);

		p = json_object_new_object();
		add_int(p, "deadline", (int64_t)a->pending.deadline);
		add_int(p, "seconds_left", left > 0 ? (int64_t)left : 0);
		add_str(p, "restores", a->pending.absent ? "no policy (the boot "
			"mode)" : "the policy stored before");
	}
	json_object_object_add(o, "pending_confirmation", p);
	return o;
}

/* ---- setting up ------------------------------------------------------------- */

static int make_events(struct dagent *a, struct event_base *evb)
{
	a->debounce = evtimer_new(evb, on_debounce, a);
	a->poll = evtimer_new(evb, on_poll, a);
	a->rollback = evtimer_new(evb, on_rollback, a);
	if (!a->debounce || !a->poll || !a->rollback)
		return -1;
	a->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (a->ino_fd < 0) {
		log_warn("policy agent: no inotify (%s): the policy file is "
			 "polled only", strerror(errno));
		return 0;
	}
	a->ino_ev = event_new(evb, a->ino_fd, EV_READ | EV_PERSIST, on_inotify, a);
	if (!a->ino_ev || event_add(a->ino_ev, NULL))
		return -1;
	return 0;
}

int dagent_open(struct daemon *d, struct event_base *evb)
{
	struct dagent *a = calloc(1, sizeof(*a));

	if (!a) {
		log_err("policy agent: out of memory");
		return -1;
	}
	a->d = d;
	a->ino_fd = a->wd = -1;
	a->memo = dp_memo_new();	/* none: every push reads back */
	agent_assigned_path(d->confdir, a->path, sizeof(a->path));
	d->agent = a;
	if (make_events(a, evb)) {
		log_err("policy agent: cannot set up its events");
		dagent_close(d);
		return -1;
	}
	watch(a);
	sync_file(a, true);
	dagent_arm_ms(a->poll, polling_s(a) * 1000u);
	arm_stale(a);
	return 0;
}

void dagent_close(struct daemon *d)
{
	struct dagent *a = ag_of(d);

	if (!a)
		return;
	if (a->pending.armed)
		rollback_on_stop(a);
	if (a->ino_ev)
		event_free(a->ino_ev);
	if (a->debounce)
		event_free(a->debounce);
	if (a->poll)
		event_free(a->poll);
	if (a->rollback)
		event_free(a->rollback);
	if (a->ino_fd >= 0)
		close(a->ino_fd);
	if (a->edit_held)
		writer_lock_release(&a->edit_lock);
	policy_text_free(a->kept);
	dp_memo_free(a->memo);
	free(a);
	d->agent = NULL;
}
