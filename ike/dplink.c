// SPDX-License-Identifier: GPL-2.0-only
/*
 * dplink.c - the daemon and the dataplane: need-SA events start IKE, CHILD
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

#include "dplink.h"
#include "ikelog.h"
#include "ikesa.h"
#include "kernel.h"
/* lib/policy.h has its own struct ike_proposal (message.h's name). */
#define ike_proposal lib_ike_proposal
#include "dataplane.h"
#undef ike_proposal

#define DPL_MAX        256	/* bundles we keep track of */
#define DPL_RETRY_MS   2000	/* after a failed start, per {rule, peer} */

struct dpl_bundle {
	bool used;
	uint32_t rule;		/* ixdp_filter_info.rule */
	uint8_t family;		/* AF_INET, AF_INET6 */
	uint8_t peer[16];
	unsigned up;		/* CHILD SAs installed for it */
	uint64_t serial;	/* the negotiation we started (NEGOTIATING) */
	uint64_t failed_ms;	/* the last start that failed */
};

struct dplink {
	struct daemon *d;
	struct dp_handoff h;
	struct ikk *k;
	struct event *ev;
	int ifindex;
	bool made_ifc;
	void (*prev_outcome)(struct daemon *d, uint64_t serial, bool ok,
			     const char *text);
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

static struct dpl_bundle *find(struct dplink *dl, uint32_t rule,
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
		if (b->rule == rule && b->family == family &&
		    !memcmp(b->peer, peer, fam_len(family)))
			return b;
	}
	if (!create || !free_slot)
		return NULL;
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->used = true;
	free_slot->rule = rule;
	free_slot->family = family;
	memcpy(free_slot->peer, peer, fam_len(family));
	return free_slot;
}

static void key_of(const struct dpl_bundle *b, struct ixdp_bundle_key *k)
{
	dp_bundle_key_init(k, b->rule, b->family, b->peer);
}

static int bundle_set(struct dplink *dl, const struct dpl_bundle *b,
		      uint32_t state)
{
	struct ixdp_bundle_key k;
	struct ixdp_bundle v = { .state = state };
	char err[300], p[INET6_ADDRSTRLEN];

	if (state == IXDP_BUNDLE_UP) {
		v.if_id = DPLINK_IF_ID;
		v.ifindex = (uint32_t)dl->ifindex;
	}
	key_of(b, &k);
	if (dp_bundle_set(&dl->h, &k, &v, err, sizeof(err))) {
		log_warn("dataplane: bundle rule=%" PRIu32 " peer=%s: %s",
			 b->rule, peer_str(b->family, b->peer, p, sizeof(p)),
			 err);
		return -1;
	}
	log_info("dataplane: bundle rule=%" PRIu32 " peer=%s %s%s", b->rule,
		 peer_str(b->family, b->peer, p, sizeof(p)),
		 bundle_state_name(state), state == IXDP_BUNDLE_UP
		 ? " (" DPLINK_XFRMI ")" : "");
	return 0;
}

static void bundle_drop(struct dplink *dl, struct dpl_bundle *b)
{
	struct ixdp_bundle_key k;
	char err[300], p[INET6_ADDRSTRLEN];

	key_of(b, &k);
	if (dp_bundle_del(&dl->h, &k, err, sizeof(err)))
		log_warn("dataplane: bundle rule=%" PRIu32 " peer=%s: %s",
			 b->rule, peer_str(b->family, b->peer, p, sizeof(p)),
			 err);
	else
		log_info("dataplane: bundle rule=%" PRIu32 " peer=%s deleted",
			 b->rule, peer_str(b->family, b->peer, p, sizeof(p)));
	memset(b, 0, sizeof(*b));
}

/* ---- need-SA events ---------------------------------------------------------------- */

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

static int on_event(void *ctx, const struct ixdp_event *ev)
{
	struct dplink *dl = ctx;
	struct daemon *d = dl->d;
	uint8_t family = ev->fam == IXDP_FAM_V6 ? AF_INET6 : AF_INET;
	const uint8_t *peer = (const uint8_t *)(ev->dir == IXDP_DIR_OUT
						? ev->dst : ev->src);
	struct sockaddr_storage ss;
	struct dpl_bundle *b;
	char err[400], p[INET6_ADDRSTRLEN];
	uint64_t serial, now = daemon_now_ms(d);

	if (ev->type != IXDP_EV_NEED_SA)
		return 0;
	sockaddr_of(family, peer, d->port, &ss);
	if (ikesa_find_peer(d, &ss))
		return 0;		/* under way or up */
	b = find(dl, ev->rule, family, peer, true);
	if (!b) {
		log_warn("dataplane: too many bundles, need-SA event for %s "
			 "ignored", peer_str(family, peer, p, sizeof(p)));
		return 0;
	}
	if (b->up)
		return 0;
	if (b->failed_ms && now - b->failed_ms < DPL_RETRY_MS)
		return 0;
	log_info("dataplane: need-SA rule=%" PRIu32 " %s peer=%s proto=%u: "
		 "starting IKE", ev->rule, ev->dir == IXDP_DIR_OUT ? "out"
		 : "in", peer_str(family, peer, p, sizeof(p)), ev->proto);
	if (exch_init_start(d, &ss, &serial, err, sizeof(err))) {
		log_warn("dataplane: cannot start IKE with %s: %s",
			 peer_str(family, peer, p, sizeof(p)), err);
		b->failed_ms = now ? now : 1;
		return 0;
	}
	b->failed_ms = 0;
	b->serial = serial;
	bundle_set(dl, b, IXDP_BUNDLE_NEGOTIATING);
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

/* A negotiation ended: one of ours that failed leaves no bundle behind. */
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
		if (!ok && !b->up)
			bundle_drop(dl, b);
	}
	if (dl && dl->prev_outcome)
		dl->prev_outcome(d, serial, ok, text);
}

/* ---- CHILD SAs -------------------------------------------------------------------- */

static void on_child(struct daemon *d, const char *rule, uint8_t mode,
		     uint8_t family, const uint8_t *peer, bool up)
{
	struct dplink *dl = dl_of(d);
	struct dpl_bundle *b;
	char err[300], p[INET6_ADDRSTRLEN];
	uint32_t idx;
	struct dp dp;
	size_t i;
	int rc;

	if (!dl || mode != IKK_MODE_TRANSPORT ||
	    (family != AF_INET && family != AF_INET6))
		return;
	if (dp_open(&dp, dp_pin_root(), err, sizeof(err))) {
		log_warn("dataplane: %s", err);
		return;
	}
	rc = dp_rule_index(&dp, rule, &idx);
	dp_close(&dp);
	if (rc) {
		if (up)
			log_warn("dataplane: rule %s of the CHILD SA with %s is "
				 "not in the live filter list: no bundle",
				 rule, peer_str(family, peer, p, sizeof(p)));
		return;
	}
	b = find(dl, idx, family, peer, up);
	if (!b) {
		if (up)
			log_warn("dataplane: too many bundles, none for %s",
				 peer_str(family, peer, p, sizeof(p)));
		return;
	}
	if (!up) {
		if (b->up && --b->up == 0)
			bundle_drop(dl, b);
		return;
	}
	b->up++;
	b->serial = 0;
	b->failed_ms = 0;
	bundle_set(dl, b, IXDP_BUNDLE_UP);
	/* a NEGOTIATING bundle of another rule for this peer: gone too */
	for (i = 0; i < DPL_MAX; i++) {
		struct dpl_bundle *o = &dl->b[i];

		if (o != b && o->used && !o->up && o->family == family &&
		    !memcmp(o->peer, peer, fam_len(family)))
			bundle_drop(dl, o);
	}
}

/* ---- open, close ------------------------------------------------------------------ */

int dplink_open(struct daemon *d, struct event_base *evb)
{
	const char *root = dp_pin_root();
	struct dplink *dl;
	char err[400];
	int ifindex = 0, rc;

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
	if (dp_handoff_open(&dl->h, root, err, sizeof(err))) {
		log_err("dataplane: %s", err);
		free(dl);
		return -1;
	}
	if (ikk_open(&dl->k, err, sizeof(err))) {
		log_err("dataplane: %s", dl->k ? ikk_error(dl->k) : err);
		goto fail;
	}
	rc = ikk_xfrmi_add(dl->k, DPLINK_XFRMI, DPLINK_IF_ID, false, &ifindex);
	if (rc == 0) {
		dl->made_ifc = true;
	} else if (rc == -EEXIST) {
		ifindex = (int)if_nametoindex(DPLINK_XFRMI);
	} else {
		log_err("dataplane: %s", ikk_error(dl->k));
		goto fail;
	}
	if (ifindex <= 0) {
		log_err("dataplane: no ifindex for %s", DPLINK_XFRMI);
		goto fail;
	}
	dl->ifindex = ifindex;
	if (dp_events_subscribe(&dl->h, on_event, dl, err, sizeof(err))) {
		log_err("dataplane: %s", err);
		goto fail;
	}
	dl->ev = event_new(evb, dp_events_fd(&dl->h), EV_READ | EV_PERSIST,
			   on_readable, dl);
	if (!dl->ev || event_add(dl->ev, NULL)) {
		log_err("dataplane: cannot watch the events");
		goto fail;
	}
	d->dplink = dl;
	d->child_if_id = DPLINK_IF_ID;
	d->child_change = on_child;
	dl->prev_outcome = d->sa_outcome;
	d->sa_outcome = on_outcome;
	log_info("dataplane: linked (%s): need-SA events start IKE, transport "
		 "CHILD SAs use %s (if_id 0x%08x, ifindex %d)", root,
		 DPLINK_XFRMI, DPLINK_IF_ID, ifindex);
	return 0;
fail:
	if (dl->ev)
		event_free(dl->ev);
	if (dl->made_ifc)
		ikk_xfrmi_del(dl->k, DPLINK_XFRMI);
	if (dl->k)
		ikk_close(dl->k);
	dp_handoff_close(&dl->h);
	free(dl);
	return -1;
}

void dplink_close(struct daemon *d)
{
	struct dplink *dl = dl_of(d);
	size_t i;

	if (!dl)
		return;
	for (i = 0; i < DPL_MAX; i++)
		if (dl->b[i].used)
			bundle_drop(dl, &dl->b[i]);
	if (d->sa_outcome == on_outcome)
		d->sa_outcome = dl->prev_outcome;
	d->child_change = NULL;
	d->dplink = NULL;
	if (dl->ev)
		event_free(dl->ev);
	if (dl->made_ifc)
		ikk_xfrmi_del(dl->k, DPLINK_XFRMI);
	ikk_close(dl->k);
	dp_handoff_close(&dl->h);
	free(dl);
}
