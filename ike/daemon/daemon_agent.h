/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * daemon_agent.h - the policy agent inside ipsec-xdpd: it watches the
 * assigned policy (CONFDIR/policy.yaml) and puts a changed, valid one in
 * force by itself, in the dataplane and for IKE; it keeps what is in
 * force and why for `ipsec-xdp status`; and it runs the rollback timer of
 * `ipsec-xdp policy apply --confirm-within`.
 *
 *   - inotify on CONFDIR (the file replaced by rename, IN_MOVED_TO, or
 *     written in place, IN_CLOSE_WRITE), then DAGENT_DEBOUNCE_MS of quiet
 *     before the file is read, so an editor's bursts count once;
 *   - a timer at the policy's polling-interval (180 s by default) reads the
 *     file too, for what inotify cannot see (policy.yaml a symbolic link
 *     to a file elsewhere, network file systems, a lost watch);
 *   - the file's SHA-256 is compared first: an unchanged file does nothing.
 *     A changed one is parsed and compiled (an invalid one is logged, kept
 *     as the last result with its file:line:col, and the policy in force
 *     stays), then pushed under the writers' lock (dataplane_lock.h) only
 *     when the dataplane does not enforce that very filter list already
 *     (dp_table_is_live), then given to IKE (daemon_set_policy: the CHILD
 *     SAs of changed or deleted rules are deleted).  The push itself
 *     rewrites the inactive bank whole and flips it (dp_apply_table).
 *
 * Every source of a policy document (the watched file, a reload, the
 * rollback, a policy server) goes through dagent_apply().
 */
#ifndef IXDP_IKE_DAEMON_AGENT_H
#define IXDP_IKE_DAEMON_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/daemon.h"

#define DAGENT_DEBOUNCE_MS 50
#define DAGENT_RETRY_MS    200	/* the writers' lock was busy: again after */
#define DAGENT_LOCK_WAIT_MS 20	/* the event loop never waits longer */
#define DAGENT_CONFIRM_MAX_S 86400

struct event_base;
struct json_object;

/* Watch CONFDIR and put the stored policy in force if the dataplane does
 * not enforce it yet.  0, or -1 (logged) when the agent cannot run at all
 * (out of memory); a watch that cannot be set leaves the polling. */
int dagent_open(struct daemon *d, struct event_base *evb);
void dagent_close(struct daemon *d);

/* dagent_apply's flags */
#define DAGENT_FORCE 2u	/* even when its hash is the one in force */
#define DAGENT_BUSY  1	/* dagent_apply: the writers' lock is held */

/*
 * Put the policy document text (len bytes) from `source` (a file name, or
 * a URL: it names the document in errors and in `status`) in force: 0
 * (applied, or already in force: nothing pushed), DAGENT_BUSY (another
 * writer holds the lock: nothing changed, try again later), or -1 with err
 * (invalid, or the push failed: the policy in force stays).  The outcome
 * is the last result `status` shows.
 */
int dagent_apply(struct daemon *d, const char *text, size_t len,
		 const char *source, unsigned flags, char *err, size_t errlen);

/* After a reload (SIGHUP, the control socket's `reload`): read the stored
 * file now.  A policy removed by `policy unassign` is forgotten. */
void dagent_reloaded(struct daemon *d);

/* The state directory the agent keeps its state in (policy_state.h);
 * usable before dagent_open. */
const char *dagent_statedir(struct daemon *d);
/* The polling interval of the policy in force (its polling-interval). */
uint32_t dagent_polling_s(struct daemon *d);
/* No policy any more: the dataplane back under the boot mode, IKE with
 * none.  0, DAGENT_BUSY, or -1 with err. */
int dagent_unassign(struct daemon *d, char *err, size_t errlen);

/* `policy apply --confirm-within`: the command kept the stored policy as
 * it is now in CONFDIR (lib/agent/agent_rollback.h); unless
 * dagent_confirm() comes within seconds, the key holder puts it back
 * (keyholder_rollback) and the agent puts it in force (the dataplane and
 * IKE), without writing CONFDIR itself.  A copy left when the daemon
 * starts is put back at once.  0, or -1 with err (one is pending already,
 * or nothing was kept). */
int dagent_arm(struct daemon *d, unsigned seconds, char *err, size_t errlen);
/* 0: the pending rollback is cancelled and the key holder removed the
 * rollback copy; -1 with err: none was pending, or the copy stays. */
int dagent_confirm(struct daemon *d, char *err, size_t errlen);

/*
 * `ipsec-xdp filter add|delete` with the daemon running (daemon_agent_edit.c):
 * the daemon holds the stored policy in force parsed, so it makes the
 * change in that model, compiles it and pushes it (only the difference),
 * under the writers' lock, without parsing the file: the new verdicts come
 * before the command has read the file.  The command then makes the same
 * change in the file's text, checks that the dataplane enforces it, keeps
 * the file, and ends the edit; the lock is the daemon's until then, for
 * the command (dagent_edit_end(), at the latest when the control
 * connection closes or times out).  The agent then reads the file and
 * puts it in force whether or not it changed: an edit the command could
 * not keep is undone there, and IKE gets the edited policy.
 *
 * 0 with *out (pushed; the lock held), or DAGENT_DECLINED with why: the
 * daemon did nothing (no stored policy in force, the file changed since
 * it was read, a --confirm-within waiting, the dataplane not loaded, a
 * request the command must judge with the text: an invalid filter, a
 * compile with warnings, a tunnel rule's list), and the command edits the
 * file by itself, as without a daemon.
 */
#define DAGENT_DECLINED 3
#define DAGENT_EDIT_HOLD_S 30	/* the command's turn lasts at most this */
struct dagent_edit_out {
	char sha256[65];	/* the stored text the change was made in */
	size_t nfilters;	/* specific filters pushed */
	size_t index;		/* where the filter was added, or was */
};
int dagent_edit(struct daemon *d, bool add, const char *list,
		const char *filter, struct dagent_edit_out *out, char *why,
		size_t whylen);
/* The command's turn is over: the lock released, the file read again. */
void dagent_edit_end(struct daemon *d);
/* Is the writers' lock held by this process for a filter edit?  (The
 * dataplane link's bundle writes go ahead without waiting for it.) */
bool dagent_edit_holds_lock(struct daemon *d);

/* {"in_force":{...}|null,"last":{...}|null,"pending":{...}|null,
 *  "file":PATH,"watch":"inotify"|"polling","polling_interval_s":N} */
struct json_object *dagent_status_json(struct daemon *d);

#endif /* IXDP_IKE_DAEMON_AGENT_H */
