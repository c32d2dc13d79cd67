// SPDX-License-Identifier: GPL-2.0-only
/*
 * daemon_agent_edit.c - `ipsec-xdp filter add|delete` with ipsec-xdpd
 * running: the change made in the stored policy the agent holds read,
 * compiled and pushed; see daemon_agent.h (dagent_edit).
 *
 * Why the daemon: what the command spends before the new verdicts is
 * mostly reading the stored file (libyaml, about 6 ms for 10000 filters).
 * The agent has it read already: its text, nodes and model
 * (policy_text).  The file is read again under the writers' lock and must
 * be that text byte for byte; the edit is made in the text (so one the
 * command could not make is declined here) and in the model, which is
 * compiled and pushed with the dataplane's memo of the agent's last push
 * (no read-back of the live list), then put back: what the agent holds is
 * always the stored file.  Whatever the daemon cannot judge from the
 * model is declined, and the command edits the file itself.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon_agent_internal.h"
#include "sa/sa_log.h"
/* lib/policy/policy.h has its own struct ike_proposal (message.h's name). */
#define ike_proposal lib_ike_proposal
#include "agent/agent.h"
#include "policy/policy_edit.h"
#include "util/util_atomic_file.h"
#undef ike_proposal

static int declined(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int declined(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return DAGENT_DECLINED;
}

/* The stored file is the text the model was parsed from, byte for byte. */
static int same_text(struct dagent *a, char *why, size_t whylen)
{
	char err[600], *text = NULL;
	size_t len = 0;
	bool same;

	if (read_file_whole(a->path, STORED_POLICY_MAX, &text, &len, err,
			    sizeof(err)))
		return declined(why, whylen, "%s", err);
	same = policy_text_is(a->kept, text, len);
	free(text);
	if (!same)
		return declined(why, whylen, "the stored policy changed since "
				"the daemon read it");
	return 0;
}

/* The edited model compiled without a word to say (a warning names a
 * line of the edited file, which only the command's text edit has), and
 * pushed. */
static int compile_push(struct dagent *a, struct dagent_edit_out *out,
			char *why, size_t whylen)
{
	struct filter_table table = { 0 };
	struct compile_diag diag = { 0 };
	const char *root = dp_pin_root();
	struct bootconf conf;
	char err[8192];
	struct dp dp;
	int rc;

	if (dagent_conf(a, &conf, err, sizeof(err)))
		return declined(why, whylen, "%.500s", err);
	if (dp_open(&dp, root, err, sizeof(err)))
		return declined(why, whylen, "%.500s", err);
	dp.memo = a->memo;
	dp_guide_tree(&dp);	/* the tree in force guides the new one */
	rc = agent_compile_model(a->path, &conf, NULL, policy_text_model(a->kept),
				 &table, &diag, err, sizeof(err));
	if (rc)
		rc = declined(why, whylen, "%.500s", err);
	else if (diag.nwarnings)
		rc = declined(why, whylen, "the compile has warnings");
	else if (dp_apply_table(&dp, &table, true, err, sizeof(err)))
		rc = declined(why, whylen, "%.500s", err);
	else
		out->nfilters = table.n;
	dp_close(&dp);
	filter_table_free(&table);
	compile_diag_free(&diag);
	return rc;
}

/* Under the writers' lock. */
static int edit_locked(struct dagent *a, bool add, const char *list,
		       const char *filter, struct dagent_edit_out *out,
		       char *why, size_t whylen)
{
	struct policy_model_edit undo;
	struct policy_edit edit;
	char err[1200];
	int rc;

	if ((rc = same_text(a, why, whylen)))
		return rc;
	/* the text edit too: one the command could not make is declined
	 * before anything is pushed */
	if (policy_edit_kept(a->kept, add ? POLICY_FILTER_ADD
			     : POLICY_FILTER_DELETE, list, filter, &edit, &undo,
			     err, sizeof(err)))
		return declined(why, whylen, "%s", err);
	out->index = edit.index;
	rc = compile_push(a, out, why, whylen);
	policy_edit_undo(&undo);	/* what is kept stays the stored text */
	policy_edit_free(&edit);
	for (size_t i = 0; i < HASH_LEN; i++)
		snprintf(out->sha256 + 2 * i, 3, "%02x", a->kept_hash[i]);
	return rc;
}

int dagent_edit(struct daemon *d, bool add, const char *list,
		const char *filter, struct dagent_edit_out *out, char *why,
		size_t whylen)
{
	struct dagent *a = ag_of(d);
	const char *root = dp_pin_root();
	char err[600];
	int rc;

	memset(out, 0, sizeof(*out));
	if (!a || a->edit_held)
		return declined(why, whylen, "another filter edit is under way");
	if (!a->kept || d->central_in_force)
		return declined(why, whylen, "the policy in force is not the "
				"stored policy as the daemon read it");
	if (a->pending.armed)
		return declined(why, whylen, "a `policy apply --confirm-within` "
				"waits for its confirmation");
	if (!dp_is_loaded(root))
		return declined(why, whylen, "the dataplane is not loaded");
	if (writer_lock_acquire(&a->edit_lock, d->confdir, root,
				DAGENT_LOCK_WAIT_MS, err, sizeof(err)))
		return declined(why, whylen, "%s", err);
	rc = edit_locked(a, add, list, filter, out, why, whylen);
	if (rc) {
		writer_lock_release(&a->edit_lock);
		return rc;
	}
	a->edit_held = true;
	a->unsettled = true;
	log_info("policy agent: filter %s: list '%s': %zu specific filters "
		 "pushed; the command keeps the file", add ? "add" : "delete",
		 list, out->nfilters);
	return 0;
}

void dagent_edit_end(struct daemon *d)
{
	struct dagent *a = ag_of(d);

	if (!a || !a->edit_held)
		return;
	writer_lock_release(&a->edit_lock);
	a->edit_held = false;
	dagent_arm_ms(a->debounce, 0);	/* the file, kept or not, in force */
}

bool dagent_edit_holds_lock(struct daemon *d)
{
	struct dagent *a = ag_of(d);

	return a && a->edit_held;
}
