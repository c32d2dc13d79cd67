// SPDX-License-Identifier: GPL-2.0-only
/*
 * daemon_dplink.c - the daemon and the dataplane: need-SA events start IKE, CHILD
 * SAs set the SA bundles; see dplink.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "sa/sa_child_policy.h"
#include "daemon/daemon_agent.h"
#include "daemon/daemon_dplink.h"
#include "sa/sa_log.h"
#include "sa/sa_ikesa.h"
#include "sa/sa_exchange.h"
#include "kernel/kernel.h"
/* lib/policy/policy.h has its own struct ike_proposal (message.h's name). */
#define ike_proposal lib_ike_proposal
#include "dataplane/dataplane.h"
#undef ike_proposal
#include "dataplane/dataplane_lock.h"

#define DPL_MAX        256	/* bundles we keep track of */
#define DPL_MAX_TUN    CHP_MAX_TUNNEL_RULES	/* tunnel rules with an if_id */
#define DPL_RETRY_MS   2000	/* after a failed start, per {rule, peer} */
/* A CREATE_CHILD_SA we asked for on an IKE SA that is up has no outcome
 * call: after this long (past the retransmissions) the bundle's next
 * need-SA event asks again. */
#define DPL_CHILD_WAIT_MS 20000
/* The pin root's writer lock (lockfile.h) around each bundle write: waited
 * for this long at most, so the event loop never stalls behind a slow
 * `ipsec-xdp load`; past it the write goes ahead alone (one map update is
 * atomic by itself), counted and logged. */
#define DPL_LOCK_WAIT_MS 20

struct dplink;

struct dpl_bundle {
	bool used;
	struct dplink *dl;
	uint32_t id;		/* the rule's id: the bundle key's rule */
	char rule[PEER_NAME_MAX];
	bool tunnel;		/* key {id, every peer}; IKE with the endpoint */
	uint8_t family;		/* AF_INET, AF_INET6: the key's */
	uint8_t peer[16];	/* the key's peer (zero for a tunnel) */
	uint8_t ike_family;
	uint8_t ike_peer[16];	/* whom we negotiate with */
	unsigned up;		/* CHILD SAs installed for it */
	uint64_t serial;	/* the IKE SA we wait for (NEGOTIATING) */
	uint64_t child_ms;	/* when we asked it for a CHILD SA; 0 not */
	bool has_sel;
	struct ikk_selector sel;	/* the flow of the first event */
	uint64_t failed_ms;	/* the last start that failed */
	bool soft_ok;		/* the rule's action has `soft` */
	uint32_t soft_timeout_s;
	bool soft;		/* SOFT in the dataplane */
	struct ike_timer t;	/* soft timeout, then the retries */
};

struct dplink {
	struct daemon *d;
	struct dp dp;		/* the live filter list: rule names and ids */
	struct dp_handoff h;
	bool dp_opened, h_opened;
	struct ikk *k;
	struct event *ev;
	int ifindex, md_ifindex;
	bool made_ifc, made_md;
	void (*prev_outcome)(struct daemon *d, uint64_t serial, bool ok,
			     const char *text);
	uint32_t soft_retry_s;	/* DPLINK_SOFT_RETRY_S or the environment's */
	uint64_t lock_busy;	/* bundle writes made without the lock */
	char tun[DPL_MAX_TUN][PEER_NAME_MAX];	/* if_id DPLINK_TUN_IF_ID + i */
	struct dpl_bundle b[DPL_MAX];
};

static struct dplink *dl_of(struct daemon *d)
{
	return d->dplink;
}

static const char *peer_str(uint8_t family, const uint8_t *peer, char *buf,
			    size_t len)
{
	if (!inet_ntop(family, peer, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

static size_t fam_len(uint8_t family)
{
	return family == AF_INET ? 4 : 16;
}

/* "10.0.0.2", or "*" for the bundle of every peer behind a tunnel. */
static const char *key_peer_str(const struct dpl_bundle *b, char *buf,
				size_t len)
{
	if (b->tunnel)
		return "*";
	return peer_str(b->family, b->peer, buf, len);
}

/* ---- tunnel rules' if_ids -------------------------------------------------------- */

/* The if_id of a tunnel rule: one per rule name, kept while we run, so
 * that the rule's SAs and its bundle agree whatever the rule's index. */
static uint32_t tunnel_if_id(struct dplink *dl, const char *rule)
{
	size_t i;

	for (i = 0; i < DPL_MAX_TUN && dl->tun[i][0]; i++)
		if (!strcmp(dl->tun[i], rule))
			return DPLINK_TUN_IF_ID + (uint32_t)i;
	if (i == DPL_MAX_TUN) {
		log_warn("dataplane: more than %d tunnel rules, %s gets no "
			 "bundle", DPL_MAX_TUN, rule);
		return 0;
	}
	snprintf(dl->tun[i], sizeof(dl->tun[i]), "%s", rule);
	return DPLINK_TUN_IF_ID + (uint32_t)i;
}

static uint32_t child_if_id_of(struct daemon *d, const char *rule,
			       uint8_t mode)
{
	struct dplink *dl = dl_of(d);

	if (!dl)
		return 0;
	if (mode == IKK_MODE_TRANSPORT)
		return DPLINK_IF_ID;
	return dl->md_ifindex > 0 ? tunnel_if_id(dl, rule) : 0;
}

/* ---- the bundles ------------------------------------------------------------------ */

static void on_timer(struct daemon *d, void *arg);

static bool same_key(const struct dpl_bundle *b, uint32_t id, bool tunnel,
		     uint8_t family, const uint8_t *peer)
{
	if (b->id != id || b->tunnel != tunnel)
		return false;
	if (tunnel)		/* one per rule; its family is the first seen */
		return true;
	return b->family == family && !memcmp(b->peer, peer, fam_len(family));
}

static struct dpl_bundle *find(struct dplink *dl, uint32_t id, bool tunnel,
			       uint8_t family, const uint8_t *peer,
			       bool create)
{
	struct dpl_bundle *free_slot = NULL;
	size_t i;

	for (i = 0; i < DPL_MAX; i++) {
		struct dpl_bundle *b = &dl->b[i];

		if (!b->used) {
			if (!free_slot)
				free_slot = b;
			continue;
		}
		if (same_key(b, id, tunnel, family, peer))
			return b;
	}
	if (!create || !free_slot)
		return NULL;
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->used = true;
	free_slot->dl = dl;
	free_slot->id = id;
	free_slot->tunnel = tunnel;
	free_slot->family = family;
	if (!tunnel)
		memcpy(free_slot->peer, peer, fam_len(family));
	timer_init(dl->d, &free_slot->t, on_timer, free_slot);
	return free_slot;
}

static void key_of(const struct dpl_bundle *b, struct ixdp_bundle_key *k)
{
	dp_bundle_key_init(k, b->id, b->family, b->tunnel ? NULL : b->peer);
}

/* The lock's fd, or -1 (counted, logged) when it stayed busy or is gone. */
static int lock_root(struct dplink *dl)
{
	char err[400];
	int fd;

	/* this process holds it already, for a filter edit's command */
	if (dagent_edit_holds_lock(dl->d))
		return LOCK_NO_DIR;
	fd = lock_dir(dp_pin_root(), false, DPL_LOCK_WAIT_MS, err, sizeof(err));
	if (fd == -1) {
		dl->lock_busy++;
		log_warn("dataplane: %s; the bundle is written without the lock "
			 "(%" PRIu64 " time%s so far)", err, dl->lock_busy,
			 dl->lock_busy == 1 ? "" : "s");
	}
	return fd;
}

static int bundle_set(struct dplink *dl, const struct dpl_bundle *b,
		      uint32_t state)
{
	struct ixdp_bundle_key k;
	struct ixdp_bundle v = { .state = state };
	char err[300], p[INET6_ADDRSTRLEN];
	int lock, rc;

	if (state == IXDP_BUNDLE_UP && b->tunnel) {
		v.if_id = tunnel_if_id(dl, b->rule);
		v.ifindex = (uint32_t)dl->md_ifindex;
		v.flags = IXDP_BUNDLE_F_XFRM_INFO;
	} else if (state == IXDP_BUNDLE_UP) {
		v.if_id = DPLINK_IF_ID;
		v.ifindex = (uint32_t)dl->ifindex;
	}
	key_of(b, &k);
	lock = lock_root(dl);
	rc = dp_bundle_set(&dl->h, &k, &v, err, sizeof(err));
	unlock_dir(lock);
	if (rc) {
		log_warn("dataplane: bundle rule=%s peer=%s: %s", b->rule,
			 key_peer_str(b, p, sizeof(p)), err);
		return -1;
	}
	log_info("dataplane: bundle rule=%s peer=%s %s%s", b->rule,
		 key_peer_str(b, p, sizeof(p)), bundle_state_name(state),
		 state != IXDP_BUNDLE_UP ? "" : b->tunnel
		 ? " (" DPLINK_XFRMI_MD ")" : " (" DPLINK_XFRMI ")");
	return 0;
}

static void bundle_drop(struct dplink *dl, struct dpl_bundle *b)
{
	struct ixdp_bundle_key k;
	char err[300], p[INET6_ADDRSTRLEN];
	int lock, rc;

	key_of(b, &k);
	lock = lock_root(dl);
	rc = dp_bundle_del(&dl->h, &k, err, sizeof(err));
	unlock_dir(lock);
	if (rc)
		log_warn("dataplane: bundle rule=%s peer=%s: %s", b->rule,
			 key_peer_str(b, p, sizeof(p)), err);
	else
		log_info("dataplane: bundle rule=%s peer=%s deleted", b->rule,
			 key_peer_str(b, p, sizeof(p)));
	timer_release(&b->t);
	memset(b, 0, sizeof(*b));
}

/* ---- starting IKE ------------------------------------------------------------------ */

static void sockaddr_of(uint8_t family, const uint8_t *ip, uint16_t port,
			struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, ip, 4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, ip, 16);
	}
}

int dplink_negotiate(struct daemon *d, const struct sockaddr_storage *peer,
		     const char *rule, const struct ikk_selector *sel,
		     uint64_t *serial, enum dplink_how *how, char *err,
		     size_t errlen)
{
	struct ikesa *sa = ikesa_find_peer(d, peer);
	uint64_t left;

	/* a new exchange (IKE SA or CHILD SA) waits out the peer's backoff */
	if ((!sa || sa->state == IKESA_ESTABLISHED) &&
	    backoff_holds(d, peer, &left)) {
		snprintf(err, errlen, "held back after failed negotiations, "
			 "%" PRIu64 " ms more", left);
		return DPLINK_HELD;
	}
	if (sa && sa->state == IKESA_ESTABLISHED) {
		ikelog(d, IKELOG_DETAIL, sa, "dataplane: a CHILD SA of rule %s "
		       "on this IKE SA", rule);
		exch_create_new_child(d, sa, sel, rule);
		*serial = sa->serial;
		*how = DPLINK_NEW_CHILD;
		return 0;
	}
	if (sa) {		/* under way, or going */
		*serial = sa->serial;
		*how = DPLINK_WAIT_IKE;
		return 0;
	}
	if (exch_init_start(d, peer, serial, err, errlen))
		return -1;
	*how = DPLINK_NEW_IKE;
	return 0;
}

static const char *const how_words[] = {
	[DPLINK_NEW_IKE] = "starting IKE with",
	[DPLINK_NEW_CHILD] = "a CHILD SA on the IKE SA with",
	[DPLINK_WAIT_IKE] = "waiting for the IKE SA under way with",
};

/* Negotiate b's CHILD SA (dplink_negotiate): 0 with b->serial set, or -1
 * when it could not start. */
static int start_ike(struct dplink *dl, struct dpl_bundle *b)
{
	struct daemon *d = dl->d;
	struct sockaddr_storage ss;
	char err[400], p[INET6_ADDRSTRLEN];
	enum dplink_how how;
	uint64_t serial;
	int rc;

	sockaddr_of(b->ike_family, b->ike_peer, d->port, &ss);
	rc = dplink_negotiate(d, &ss, b->rule, b->has_sel ? &b->sel : NULL,
			      &serial, &how, err, sizeof(err));
	if (rc == DPLINK_HELD) {	/* counted; logged by its step */
		log_debug("dataplane: rule=%s: IKE with %s %s", b->rule,
			  peer_str(b->ike_family, b->ike_peer, p, sizeof(p)),
			  err);
		return -1;
	}
	if (rc) {
		log_warn("dataplane: cannot start IKE with %s: %s",
			 peer_str(b->ike_family, b->ike_peer, p, sizeof(p)),
			 err);
		return -1;
	}
	log_info("dataplane: rule=%s: %s %s", b->rule, how_words[how],
		 peer_str(b->ike_family, b->ike_peer, p, sizeof(p)));
	b->serial = serial;
	/* | 1: a clock at 0 still reads as "asked" */
	b->child_ms = how == DPLINK_NEW_CHILD ? daemon_now_ms(d) | 1 : 0;
	return 0;
}

/* Is the negotiation b waits for still there?  An IKE SA under way, or
 * the CHILD SA asked for on one that is up (for DPL_CHILD_WAIT_MS); not
 * an IKE SA that came up without a CHILD SA for b. */
static bool waiting(struct dplink *dl, const struct dpl_bundle *b)
{
	struct ikesa *sa = b->serial ? ikesa_find_serial(dl->d, b->serial)
				     : NULL;

	if (!sa || sa->state == IKESA_CLOSED)
		return false;
	if (sa->state != IKESA_ESTABLISHED)
		return true;
	return b->child_ms &&
	       daemon_now_ms(dl->d) - b->child_ms < DPL_CHILD_WAIT_MS;
}

/* The pair falls back to clear (the rule allows it): SOFT, counted, and
 * IKE is tried again every DPLINK_SOFT_RETRY_S. */
static void go_soft(struct dplink *dl, struct dpl_bundle *b, const char *why)
{
	char p[INET6_ADDRSTRLEN];

	timer_arm(&b->t, dl->soft_retry_s * 1000ull);
	if (b->soft)
		return;
	if (bundle_set(dl, b, IXDP_BUNDLE_SOFT))
		return;
	b->soft = true;
	dl->d->stats.v[ST_SOFT_SAS]++;
	log_info("dataplane: soft SA rule=%s peer=%s: %s, the pair talks in "
		 "clear; IKE again every %" PRIu32 " s", b->rule,
		 key_peer_str(b, p, sizeof(p)), why, dl->soft_retry_s);
}

/* The soft timeout ran out, or a soft bundle's retry is due. */
static void on_timer(struct daemon *d, void *arg)
{
	struct dpl_bundle *b = arg;
	struct dplink *dl = b->dl;

	(void)d;
	if (!b->used || b->up)
		return;
	if (!b->soft) {
		go_soft(dl, b, "no SA within the soft timeout");
		return;
	}
	timer_arm(&b->t, dl->soft_retry_s * 1000ull);
	if (!waiting(dl, b))
		start_ike(dl, b);
}

/* ---- need-SA events ---------------------------------------------------------------- */

/* The flow of a need-SA event as the kernel's selector: src is our end
 * (the packet's source outbound, its destination inbound). */
static void sel_of_event(const struct ixdp_event *ev, uint8_t family,
			 struct ikk_selector *sel)
{
	bool out = ev->dir == IXDP_DIR_OUT;
	bool ports = ev->proto == IPPROTO_TCP || ev->proto == IPPROTO_UDP;
	size_t n = fam_len(family);

	memset(sel, 0, sizeof(*sel));
	sel->family = family;
	sel->proto = ev->proto;
	sel->src_plen = sel->dst_plen = (uint8_t)(n * 8);
	sel->src.family = sel->dst.family = family;
	memcpy(sel->src.u.b, out ? ev->src : ev->dst, n);
	memcpy(sel->dst.u.b, out ? ev->dst : ev->src, n);
	if (ports) {
		sel->sport = out ? ev->sport : ev->dport;
		sel->dport = out ? ev->dport : ev->sport;
		sel->sport_mask = sel->dport_mask = 0xffff;
	}
}

/* The negotiate rule of the daemon's policy named `name` (its filters
 * freed by the caller with chp_rule_clear). */
static bool rule_of(struct daemon *d, const char *name, struct chp_rule *out)
{
	return chp_rule_find(d->policy, name, out) == 0;
}

/* Whom to negotiate with: the tunnel endpoint, or the peer itself. */
static void set_ike_peer(struct dpl_bundle *b, const struct chp_rule *r,
			 uint8_t family, const uint8_t *peer)
{
	if (r->tunnel) {
		b->ike_family = r->tunnel_family;
		memcpy(b->ike_peer, r->tunnel_addr, 16);
	} else {
		b->ike_family = family;
		memcpy(b->ike_peer, peer, fam_len(family));
	}
	b->soft_ok = r->soft;
	b->soft_timeout_s = r->soft_timeout_s ? r->soft_timeout_s : 3;
}

static int on_event(void *ctx, const struct ixdp_event *ev)
{
	struct dplink *dl = ctx;
	struct daemon *d = dl->d;
	uint8_t family = ev->fam == IXDP_FAM_V6 ? AF_INET6 : AF_INET;
	const uint8_t *peer = (const uint8_t *)(ev->dir == IXDP_DIR_OUT
						? ev->dst : ev->src);
	char name[PEER_NAME_MAX], p[INET6_ADDRSTRLEN];
	struct chp_rule *r = calloc(1, sizeof(*r));
	struct dpl_bundle *b = NULL;
	uint64_t now = daemon_now_ms(d);

	if (!r || ev->type != IXDP_EV_NEED_SA)
		goto out;
	if (dp_rule_by_id(&dl->dp, ev->rule, name, sizeof(name)) ||
	    !rule_of(d, name, r)) {
		log_warn("dataplane: need-SA event for %s: rule id %" PRIu32
			 " is not a negotiate rule of the assigned policy "
			 "(policy applied without reloading ipsec-xdpd?)",
			 peer_str(family, peer, p, sizeof(p)), ev->rule);
		goto out;
	}
	b = find(dl, ev->rule, r->tunnel, family, peer, true);
	if (!b) {
		log_warn("dataplane: too many bundles, need-SA event for %s "
			 "ignored", peer_str(family, peer, p, sizeof(p)));
		goto out;
	}
	if (b->up || b->soft || waiting(dl, b))
		goto out;	/* up, retried by the timer, or under way */
	if (b->failed_ms && now - b->failed_ms < DPL_RETRY_MS)
		goto out;
	snprintf(b->rule, sizeof(b->rule), "%s", name);
	set_ike_peer(b, r, family, peer);
	sel_of_event(ev, family, &b->sel);
	b->has_sel = true;
	log_info("dataplane: need-SA rule=%s %s%s peer=%s proto=%u", name,
		 ev->dir == IXDP_DIR_OUT ? "out" : "in",
		 ev->passed ? " (inpass)" : "",
		 peer_str(family, peer, p, sizeof(p)), ev->proto);
	if (start_ike(dl, b)) {
		b->failed_ms = now ? now : 1;
		if (b->soft_ok)
			go_soft(dl, b, "IKE cannot start");
		goto out;
	}
	b->failed_ms = 0;
	bundle_set(dl, b, IXDP_BUNDLE_NEGOTIATING);
	if (b->soft_ok)
		timer_arm(&b->t, b->soft_timeout_s * 1000ull);
out:
	if (r)
		chp_rule_clear(r);
	free(r);
	return 0;
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct dplink *dl = arg;
	int n = dp_events_process(&dl->h);

	(void)fd;
	(void)what;
	if (n < 0)
		log_warn("dataplane: reading the events: %s", strerror(-n));
}

/* The negotiation failed, but only its CHILD SA: the IKE SA is up. */
static bool up_without_child(struct daemon *d, uint64_t serial)
{
	struct ikesa *sa = ikesa_find_serial(d, serial);

	return sa && sa->state == IKESA_ESTABLISHED;
}

/* A negotiation ended: one of ours that failed leaves no bundle behind,
 * unless the rule allows soft fallback (then the pair goes soft now).
 * One that came up without a CHILD SA for a bundle waiting for it (the
 * IKE SA was started for another rule): that CHILD SA is asked for now. */
static void on_outcome(struct daemon *d, uint64_t serial, bool ok,
		       const char *text)
{
	struct dplink *dl = dl_of(d);
	size_t i;

	for (i = 0; dl && i < DPL_MAX; i++) {
		struct dpl_bundle *b = &dl->b[i];

		if (!b->used || b->serial != serial)
			continue;
		b->serial = 0;
		b->child_ms = 0;
		if (b->up)
			continue;
		if (ok || up_without_child(d, serial)) {
			/* ask for b's CHILD SA on the IKE SA (the peer's
			 * backoff may hold it back: the next need-SA event
			 * asks again) */
			start_ike(dl, b);
			continue;
		}
		if (b->soft_ok)
			go_soft(dl, b, "IKE failed");
		else
			bundle_drop(dl, b);
	}
	if (dl && dl->prev_outcome)
		dl->prev_outcome(d, serial, ok, text);
}

/* ---- CHILD SAs -------------------------------------------------------------------- */

/* A CHILD SA of rule went: its bundle goes with the last one.  Found by
 * the rule's name, not its id: the policy may have changed the id since. */
static void child_gone(struct dplink *dl, const char *rule, bool tunnel,
		       uint8_t family, const uint8_t *peer)
{
	size_t i;

	for (i = 0; i < DPL_MAX; i++) {
		struct dpl_bundle *b = &dl->b[i];

		if (!b->used || !b->up || b->tunnel != tunnel ||
		    strcmp(b->rule, rule))
			continue;
		if (!tunnel && (b->family != family ||
				memcmp(b->peer, peer, fam_len(family))))
			continue;
		if (--b->up == 0)
			bundle_drop(dl, b);
		return;
	}
}

static void on_child(struct daemon *d, const char *rule, uint8_t mode,
		     uint8_t family, const uint8_t *peer, bool up)
{
	struct dplink *dl = dl_of(d);
	bool tunnel = mode == IKK_MODE_TUNNEL;
	struct dpl_bundle *b;
	char p[INET6_ADDRSTRLEN];
	uint32_t id;

	if (!dl || (family != AF_INET && family != AF_INET6))
		return;
	if (tunnel && dl->md_ifindex <= 0)
		return;
	if (!up) {
		child_gone(dl, rule, tunnel, family, peer);
		return;
	}
	if (!strcmp(rule, CHP_RESPONSE_NAME)) {
		/* No filter covers it: the bundle the dataplane consults
		 * for unmatched outbound packets (ipsec_xdp.h "DEFAULT
		 * RESPONSE"); a default response is never a tunnel. */
		if (tunnel)
			return;
		id = IXDP_RULE_ID_DEFAULT_RESPONSE;
	} else if (dp_rule_id(&dl->dp, rule, &id)) {
		log_warn("dataplane: rule %s of the CHILD SA with %s is not in "
			 "the live filter list: no bundle", rule,
			 peer_str(family, peer, p, sizeof(p)));
		return;
	}
	b = find(dl, id, tunnel, family, peer, true);
	if (!b) {
		log_warn("dataplane: too many bundles, none for %s",
			 peer_str(family, peer, p, sizeof(p)));
		return;
	}
	snprintf(b->rule, sizeof(b->rule), "%s", rule);
	b->up++;
	b->serial = 0;
	b->child_ms = 0;
	b->failed_ms = 0;
	b->soft = false;
	timer_stop(&b->t);
	bundle_set(dl, b, IXDP_BUNDLE_UP);
}

/* ---- open, close ------------------------------------------------------------------ */

/* Create (or find, left by an earlier run) one xfrm interface. */
static int xfrmi_open(struct dplink *dl, const char *name, uint32_t if_id,
		      bool external, bool *made)
{
	int ifindex = 0, rc;

	rc = ikk_xfrmi_add(dl->k, name, if_id, external, &ifindex);
	if (rc == 0)
		*made = true;
	else if (rc == -EEXIST)
		ifindex = (int)if_nametoindex(name);
	else
		log_err("dataplane: %s", ikk_error(dl->k));
	if (rc == 0 || rc == -EEXIST) {
		if (ifindex <= 0)
			log_err("dataplane: no ifindex for %s", name);
	}
	return ifindex > 0 ? ifindex : -1;
}

/* IPSEC_XDPD_SOFT_RETRY_S (1..3600) or DPLINK_SOFT_RETRY_S. */
static uint32_t soft_retry_interval(void)
{
	const char *v = getenv("IPSEC_XDPD_SOFT_RETRY_S");
	char *end;
	unsigned long n;

	if (!v || !*v)
		return DPLINK_SOFT_RETRY_S;
	n = strtoul(v, &end, 10);
	if (*end || n < 1 || n > 3600) {
		log_warn("dataplane: IPSEC_XDPD_SOFT_RETRY_S=%s is not 1..3600 "
			 "seconds, using %d", v, DPLINK_SOFT_RETRY_S);
		return DPLINK_SOFT_RETRY_S;
	}
	return (uint32_t)n;
}

static void dplink_free(struct dplink *dl)
{
	size_t i;

	for (i = 0; i < DPL_MAX; i++)
		if (dl->b[i].used)
			bundle_drop(dl, &dl->b[i]);
	if (dl->ev)
		event_free(dl->ev);
	if (dl->made_ifc)
		ikk_xfrmi_del(dl->k, DPLINK_XFRMI);
	if (dl->made_md)
		ikk_xfrmi_del(dl->k, DPLINK_XFRMI_MD);
	if (dl->k)
		ikk_close(dl->k);
	if (dl->h_opened)
		dp_handoff_close(&dl->h);
	if (dl->dp_opened)
		dp_close(&dl->dp);
	free(dl);
}

static int dplink_setup(struct dplink *dl, const char *root,
			struct event_base *evb)
{
	char err[400];

	if (dp_open(&dl->dp, root, err, sizeof(err))) {
		log_err("dataplane: %s", err);
		return -1;
	}
	dl->dp_opened = true;
	if (dp_handoff_open(&dl->h, root, err, sizeof(err))) {
		log_err("dataplane: %s", err);
		return -1;
	}
	dl->h_opened = true;
	if (ikk_open(&dl->k, err, sizeof(err))) {
		log_err("dataplane: %s", dl->k ? ikk_error(dl->k) : err);
		return -1;
	}
	dl->ifindex = xfrmi_open(dl, DPLINK_XFRMI, DPLINK_IF_ID, false,
				 &dl->made_ifc);
	if (dl->ifindex <= 0)
		return -1;
	/* Tunnel bundles only: without it transport mode still works. */
	dl->md_ifindex = xfrmi_open(dl, DPLINK_XFRMI_MD, 0, true, &dl->made_md);
	if (dl->md_ifindex <= 0)
		log_warn("dataplane: no %s: tunnel rules get no bundle (their "
			 "traffic is refused)", DPLINK_XFRMI_MD);
	if (dp_events_subscribe(&dl->h, on_event, dl, err, sizeof(err))) {
		log_err("dataplane: %s", err);
		return -1;
	}
	dl->ev = event_new(evb, dp_events_fd(&dl->h), EV_READ | EV_PERSIST,
			   on_readable, dl);
	if (!dl->ev || event_add(dl->ev, NULL)) {
		log_err("dataplane: cannot watch the events");
		return -1;
	}
	return 0;
}

int dplink_open(struct daemon *d, struct event_base *evb)
{
	const char *root = dp_pin_root();
	struct dplink *dl;

	if (!d->child) {
		log_info("dataplane: CHILD SAs off, not linked");
		return 0;
	}
	if (!dp_is_loaded(root)) {
		log_info("dataplane: not loaded (%s), kernel policies only",
			 root);
		return 0;
	}
	dl = calloc(1, sizeof(*dl));
	if (!dl) {
		log_err("dataplane: out of memory");
		return -1;
	}
	dl->d = d;
	dl->soft_retry_s = soft_retry_interval();
	if (dplink_setup(dl, root, evb)) {
		dplink_free(dl);
		return -1;
	}
	d->dplink = dl;
	d->child_if_id = DPLINK_IF_ID;
	d->child_if_id_of = child_if_id_of;
	d->child_change = on_child;
	dl->prev_outcome = d->sa_outcome;
	d->sa_outcome = on_outcome;
	log_info("dataplane: linked (%s): need-SA events start IKE, transport "
		 "CHILD SAs use %s (if_id 0x%08x, ifindex %d), tunnel CHILD SAs "
		 "%s (ifindex %d, if_id 0x%08x + n)", root, DPLINK_XFRMI,
		 DPLINK_IF_ID, dl->ifindex, DPLINK_XFRMI_MD, dl->md_ifindex,
		 DPLINK_TUN_IF_ID);
	return 0;
}

void dplink_close(struct daemon *d)
{
	struct dplink *dl = dl_of(d);

	if (!dl)
		return;
	if (d->sa_outcome == on_outcome)
		d->sa_outcome = dl->prev_outcome;
	d->child_change = NULL;
	d->child_if_id_of = NULL;
	d->child_if_id = 0;
	d->dplink = NULL;
	dplink_free(dl);
}
