// SPDX-License-Identifier: GPL-2.0-only
/*
 * sa_child.c - CHILD SAs negotiated in IKE_AUTH, installed as xfrm SAs and
 * policies, deleted with their IKE SA or by the peer's ESP Delete; see
 * sa_child.h.  Traffic selectors and proposals are in sa_child_ts.c, the
 * kernel side (SAs, policies, bypass) in sa_child_kernel.c.
 *
 *   initiator  IKE_AUTH request: SAi2 (one ESP proposal per security method
 *              of the rule, in order; ESN off), TSi/TSr from the rule's
 *              first filter that names us and the peer, USE_TRANSPORT_MODE
 *              unless the rule has a tunnel endpoint.  Our inbound SPI is
 *              reserved in the kernel (a larval SA) before the request.
 *   responder  the first proposal of the peer we accept, the selectors
 *              narrowed to one of our negotiate rules for that peer (the
 *              rule that named the peer first), else TS_UNACCEPTABLE.
 *
 * Both derive KEYMAT (ike_child_keys_derive) and install, in order, the
 * inbound SA (the larval one, updated), the outbound SA, then the out and
 * in policies (and fwd in tunnel mode); on a failure what was installed is
 * removed again.  Keys are wiped as soon as the SAs are in.  Each CHILD SA
 * has its own reqid.  The first CHILD SA also installs bypass policies for
 * our IKE ports, so that IKE itself never goes into ESP.
 *
 * The same offer, choice and installation serve CREATE_CHILD_SA
 * (sa_exchange_create.c): there the keys may carry a PFS secret, a rekey
 * keeps the old reqid (so the kernel sends on the newest SA of it, and the
 * policies pass to the survivor instead of being deleted), and a rekey's
 * responder holds its outbound SA back until the old pair goes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sa/sa_child.h"
#include "sa/sa_child_policy.h"
#include "sa/sa_log.h"
#include "sa/sa_ikesa.h"
#include "sa/sa_exchange.h"
#include "sa/sa_child_internal.h"

struct child_ctx *ctx_of(struct daemon *d)
{
	return (struct child_ctx *)d->child;
}

const char *kerr(struct child_ctx *c)
{
	return c->kops->error ? c->kops->error(c->kops_ctx) : "";
}

/* ---- the rules ------------------------------------------------------------- */

/* Every negotiate rule of the policy (none when out of memory, logged). */
static void load_rules(struct daemon *d, struct chp_rules *rs)
{
	if (chp_rules_load(d->policy, rs))
		log_err("out of memory for the policy's negotiate rules");
}

static uint32_t new_reqid(struct child_ctx *cx)
{
	if (++cx->next_reqid < 0x1000 || cx->next_reqid > 0x3fffffff)
		cx->next_reqid = 0x1000;
	return cx->next_reqid;
}

static void fill_common(struct ikesa *sa, struct child_sa *c)
{
	ikk_addr_of(&sa->path.local, &c->local);
	ikk_addr_of(&sa->path.peer, &c->remote);
	c->encap = sa->natt && (sa->nat_local || sa->nat_peer);
}

/* ---- initiator ------------------------------------------------------------------ */

static void pending_gc(struct daemon *d, struct child_ctx *cx)
{
	size_t i;

	for (i = 0; i < PEND_MAX; i++) {
		struct pending *p = &cx->pend[i];
		struct ikesa *sa;

		if (!p->serial)
			continue;
		sa = ikesa_find_serial(d, p->serial);
		if (sa && sa->state == IKESA_AUTH_SENT)
			continue;
		child_offer_release(d, &p->o);
		memset(p, 0, sizeof(*p));
	}
}

static struct pending *pending_find(struct child_ctx *cx, uint64_t serial)
{
	size_t i;

	for (i = 0; i < PEND_MAX; i++)
		if (cx->pend[i].serial == serial)
			return &cx->pend[i];
	return NULL;
}

/* Does t hold this end of a flow (address, protocol, port when the
 * selector names one)? */
static bool ts_has(const struct ike_ts *t, const struct ikk_addr *a,
		   uint8_t proto, uint16_t port, uint16_t port_mask)
{
	size_t n = fam_len(ts_family(t));

	if (a->family != ts_family(t) || memcmp(a->u.b, t->start, n) < 0 ||
	    memcmp(a->u.b, t->end, n) > 0)
		return false;
	if (t->ip_proto && t->ip_proto != proto)
		return false;
	return !port_mask || (port >= t->start_port && port <= t->end_port);
}

static bool ts_hold_flow(const struct ike_ts *l, const struct ike_ts *r,
			 const struct ikk_selector *sel)
{
	return ts_has(l, &sel->src, sel->proto, sel->sport, sel->sport_mask) &&
	       ts_has(r, &sel->dst, sel->proto, sel->dport, sel->dport_mask);
}

/* The first filter of r for this peer (holding sel's flow when given):
 * the offer's selectors.  false when none fits. */
static bool rule_selectors(const struct chp_rule *r, struct ikesa *sa,
			   const struct ikk_selector *sel,
			   struct child_offer *o)
{
	uint8_t family = (uint8_t)sa->path.peer.ss_family;
	const uint8_t *me, *peer;
	size_t f, s, len;

	me = addr_bytes(&sa->path.local, &len);
	peer = addr_bytes(&sa->path.peer, &len);
	for (f = 0; f < r->nf; f++)
		for (s = 0; s < (r->f[f].mirrored ? 2u : 1u); s++) {
			if (!filter_sides(&r->f[f], s == 1, r->tunnel, family,
					  me, peer, &o->ts_l, &o->ts_r))
				continue;
			if (!sel || ts_hold_flow(&o->ts_l, &o->ts_r, sel))
				return true;
		}
	return false;
}

/* An offer is one SA payload with a proposal per method. */
_Static_assert(CHP_MAX_METHODS <= IKE_MAX_PROPOSALS,
	       "an offer holds every method of a rule");

/* r's usable methods, in order, into o: those of the first one's
 * protocol (one SPI is reserved for the offer, so one protocol). */
static void offer_methods(struct daemon *d, struct ikesa *sa,
			  const struct chp_rule *r, struct child_offer *o)
{
	size_t i;

	for (i = 0; i < r->nm; i++) {
		const struct chp_method *m = &r->m[i];

		if (m->kind == CHP_AH_ESP) {
			ikelog(d, IKELOG_DETAIL, sa, "rule %s: an AH+ESP method "
			       "is not offered: IKEv2 negotiates one protocol "
			       "per CHILD SA (RFC 7296 §3.3)", r->name);
			continue;
		}
		if (!method_usable(m))
			continue;
		if (!o->nm)
			o->proto = method_proto(m);
		if (method_proto(m) == o->proto)
			o->m[o->nm++] = *m;
	}
}

/* The rule and its selectors for the offer (name NULL: any rule whose
 * filter holds sel's flow); false when none. */
static bool offer_rule(struct daemon *d, struct ikesa *sa, const char *name,
		       const struct ikk_selector *sel, struct child_offer *o)
{
	struct chp_rules rules;
	struct chp_rule *r = NULL;
	size_t i;

	load_rules(d, &rules);
	for (i = 0; i < rules.n && !r; i++) {
		/* the default response answers; we offer it only to rekey
		 * one of its CHILD SAs (asked for by name) */
		if (!name && rules.v[i].response)
			continue;
		if ((!name || !strcmp(rules.v[i].name, name)) &&
		    rule_selectors(&rules.v[i], sa, sel, o))
			r = &rules.v[i];
	}
	if (r)
		offer_methods(d, sa, r, o);
	if (!r || !o->nm) {
		ikelog(d, IKELOG_DETAIL, sa, "no CHILD SA: %s", !r ? "no "
		       "negotiate rule with a filter for this peer and flow"
		       : "the rule has no ESP or AH security method");
		chp_rules_free(&rules);
		return false;
	}
	o->mode = r->tunnel ? IKK_MODE_TUNNEL : IKK_MODE_TRANSPORT;
	o->pfs_group = r->pfs ? (r->pfs_group ? r->pfs_group
				 : sa->keys.suite.dh) : 0;
	snprintf(o->rule, sizeof(o->rule), "%s", r->name);
	chp_rules_free(&rules);
	return true;
}

int child_offer_make(struct daemon *d, struct ikesa *sa, const char *rule,
		     const struct ikk_selector *sel, uint32_t reqid,
		     struct child_offer *o)
{
	struct child_ctx *cx = ctx_of(d);
	struct ikk_addr remote;

	memset(o, 0, sizeof(*o));
	cx->why[0] = 0;
	/* with a flow and no rule: whichever rule's filter holds it */
	if (!offer_rule(d, sa, rule ? rule : sel ? NULL : sa->conf.rule, sel,
			o))
		return -1;
	ikk_addr_of(&sa->path.local, &o->local);
	ikk_addr_of(&sa->path.peer, &remote);
	o->reqid = reqid ? reqid : new_reqid(cx);
	if (cx->kops->spi_alloc(cx->kops_ctx, &remote, &o->local, o->proto,
				o->mode, o->reqid, &o->spi_in)) {
		cx->why_stat = ST_FAIL_KERNEL;
		snprintf(cx->why, sizeof(cx->why), "the kernel refused an %s "
			 "SPI: %s", ikk_proto_name(o->proto), kerr(cx));
		ikelog(d, IKELOG_OUTCOME, sa, "no CHILD SA: %s", cx->why);
		memset(o, 0, sizeof(*o));
		return -1;
	}
	return 0;
}

void child_offer_add(const struct child_offer *o, uint16_t dh,
		     struct ike_builder *b)
{
	struct ike_notify tm = { .type = IKEV2_N_USE_TRANSPORT_MODE };
	struct ike_ts_set tsi, tsr;
	struct ike_sa offer;
	size_t i;

	memset(&offer, 0, sizeof(offer));
	for (i = 0; i < o->nm; i++)
		method_proposal((uint8_t)(i + 1), &o->m[i], o->spi_in, dh,
				&offer.prop[offer.nproposals++]);
	memset(&tsi, 0, sizeof(tsi));
	memset(&tsr, 0, sizeof(tsr));
	tsi.ts[tsi.nts++] = o->ts_l;
	tsr.ts[tsr.nts++] = o->ts_r;
	if (o->mode == IKK_MODE_TRANSPORT)
		ike_add_notify(b, &tm);
	ike_add_sa(b, &offer);
	ike_add_ts(b, IKEV2_PL_TSI, &tsi);
	ike_add_ts(b, IKEV2_PL_TSR, &tsr);
}

void child_offer_release(struct daemon *d, const struct child_offer *o)
{
	struct child_ctx *cx = ctx_of(d);

	if (cx && o->spi_in)
		cx->kops->sa_delete(cx->kops_ctx, &o->local, o->spi_in,
				    o->proto);
}

static bool auth_request(struct daemon *d, struct ikesa *sa,
			 struct ike_builder *b)
{
	struct child_ctx *cx = ctx_of(d);
	struct pending *p;

	if (sa->conf.source != PEER_RULE)
		return false;		/* default response: answer only */
	pending_gc(d, cx);
	p = pending_find(cx, 0);
	if (!p) {
		ikesa_child_failed(sa, ST_FAIL_OTHER, "%d negotiations already "
				   "wait for their IKE_AUTH answer", PEND_MAX);
		return false;
	}
	if (child_offer_make(d, sa, NULL, NULL, 0, &p->o)) {
		if (cx->why[0])	/* the rule wants one: the kernel failed */
			ikesa_child_failed(sa, cx->why_stat, "%s", cx->why);
		return false;
	}
	/* IKE_AUTH's CHILD SA takes its keys from the IKE SA's D-H (§1.2) */
	p->o.pfs_group = 0;
	p->o.acquire_seq = sa->acquire_seq;
	p->serial = sa->serial;
	child_offer_add(&p->o, 0, b);
	return true;
}

/* Is t inside w (addresses, ports, protocol)? */
static bool ts_within(const struct ike_ts *t, const struct ike_ts *w)
{
	struct ike_ts x;

	return ts_intersect(t, w, &x) && !memcmp(&x, t, sizeof(x)) &&
	       (!w->ip_proto || w->ip_proto == t->ip_proto);
}

/* Transport mode across a NAT (RFC 7296 §2.23.1): the responder sees the
 * initiator at the NAT's address, not at the one in its TSi, and puts that
 * address in the TSi it answers (strongSwan does).  Each host address of
 * the set becomes addr; ports and protocol stay. */
static void ts_nat_host(struct ike_ts_set *set,
			const struct sockaddr_storage *addr)
{
	size_t len, i;
	const uint8_t *a = addr_bytes(addr, &len);

	for (i = 0; i < set->nts; i++) {
		struct ike_ts *t = &set->ts[i];

		if ((t->type != IKEV2_TS_IPV4_ADDR_RANGE &&
		     t->type != IKEV2_TS_IPV6_ADDR_RANGE) ||
		    ts_family(t) != addr->ss_family ||
		    memcmp(t->start, t->end, len))
			continue;
		memcpy(t->start, a, len);
		memcpy(t->end, a, len);
	}
}

/* Check the answer to o; fill c.  NULL, or why it cannot be taken. */
static const char *answer_check(const struct ikesa *sa,
				const struct child_offer *o,
				const struct ike_msg *resp, struct child_sa *c)
{
	const struct ike_payload *psa, *pi, *pr;
	struct ike_ts_set tsi, tsr;
	struct ike_notify n;
	struct ike_sa ans;
	int dh;
	size_t i;

	psa = sealed_find(resp, IKEV2_PL_SA, NULL);
	pi = sealed_find(resp, IKEV2_PL_TSI, NULL);
	pr = sealed_find(resp, IKEV2_PL_TSR, NULL);
	if (!psa || !pi || !pr)
		return sealed_error(resp, &n) ? notify_name(n.type)
					       : "no SA/TSi/TSr in the answer";
	if (ike_decode_sa(psa, &ans) != IKE_MSG_OK ||
	    ike_decode_ts(pi, &tsi) != IKE_MSG_OK ||
	    ike_decode_ts(pr, &tsr) != IKE_MSG_OK || tsi.nts < 1 ||
	    tsr.nts < 1)
		return "malformed SA or TS payload";
	if (ans.nproposals != 1 ||
	    ans.prop[0].protocol != ike_proto_of(o->proto) ||
	    ans.prop[0].spi_size != 4)
		return o->proto == IPPROTO_AH ? "the answer is not one AH "
		       "proposal" : "the answer is not one ESP proposal";
	if (o->mode == IKK_MODE_TRANSPORT && sa->nat_local)
		ts_nat_host(&tsi, &sa->path.local);	/* ours, not the NAT's */
	if (!ts_within(&tsi.ts[0], &o->ts_l) || !ts_within(&tsr.ts[0], &o->ts_r))
		return "the peer's traffic selectors are wider than ours";
	if (o->mode == IKK_MODE_TRANSPORT &&
	    !sealed_notify(resp, IKEV2_N_USE_TRANSPORT_MODE, &n))
		return "the peer wants tunnel mode, our rule transport mode";
	dh = proposal_dh(&ans.prop[0], 0);
	if (dh < 0 || (o->pfs_group && dh != o->pfs_group))
		return "the peer's answer drops the PFS group we asked for";
	for (i = 0; i < o->nm; i++)
		if (proposal_has(&ans.prop[0], &o->m[i])) {
			memset(c, 0, sizeof(*c));
			c->proto = o->proto;
			c->suite = method_suite(&o->m[i], (uint16_t)dh);
			c->lifetime_s = o->m[i].lifetime_s;
			c->lifetime_kb = o->m[i].lifetime_kb;
			c->spi_out = get_spi(&ans.prop[0]);
			c->ts_l = tsi.ts[0];
			c->ts_r = tsr.ts[0];
			return NULL;
		}
	return "the peer chose a proposal we did not offer";
}

int child_offer_accept(struct daemon *d, struct ikesa *sa,
		       const struct child_offer *o, const struct ike_msg *resp,
		       uint16_t *dh, char *why, size_t whylen)
{
	struct child_sa c;
	const char *bad = answer_check(sa, o, resp, &c);

	*dh = 0;
	if (bad) {
		snprintf(why, whylen, "%s", bad);
		return -1;
	}
	*dh = c.suite.dh;
	return 0;
}

int child_offer_install(struct daemon *d, struct ikesa *sa,
			const struct child_offer *o, const struct ike_msg *resp,
			const struct child_keymat *km, uint32_t *spi_in)
{
	struct child_ctx *cx = ctx_of(d);
	const char *bad;
	struct child_sa c;

	bad = answer_check(sa, o, resp, &c);
	if (bad) {
		cx->failed++;
		cx->why_stat = ST_FAIL_OTHER;
		snprintf(cx->why, sizeof(cx->why), "the peer's answer: %s", bad);
		ikelog(d, IKELOG_OUTCOME, sa, "CHILD SA failed reason=\"%s\"",
		       bad);
		child_offer_release(d, o);
		return -1;
	}
	fill_common(sa, &c);
	c.reqid = o->reqid;
	c.spi_in = o->spi_in;
	c.mode = o->mode;
	c.acquire_seq = o->acquire_seq;
	snprintf(c.rule, sizeof(c.rule), "%s", o->rule);
	if (establish(d, sa, &c, km, false)) {
		/* the larval SA went with the failed update */
		child_offer_release(d, o);
		return -1;
	}
	if (spi_in)
		*spi_in = c.spi_in;
	return 0;
}

static void auth_response(struct daemon *d, struct ikesa *sa,
			  const struct ike_msg *resp)
{
	struct pending *p = pending_find(ctx_of(d), sa->serial);
	struct child_keymat km = { sa->ni, sa->nr, sa->ni_len, sa->nr_len,
				   NULL, 0, true };
	struct child_ctx *cx = ctx_of(d);
	struct child_offer o;
	struct ike_notify n;

	if (!p || !sa->serial)
		return;
	o = p->o;
	memset(p, 0, sizeof(*p));
	if (!sealed_find(resp, IKEV2_PL_SA, NULL) && sealed_error(resp, &n)) {
		/* the peer's reason, in its words */
		cx->failed++;
		ikelog(d, IKELOG_OUTCOME, sa, "CHILD SA failed reason=\"peer "
		       "answered %s\"", notify_name(n.type));
		ikesa_child_failed(sa, fail_stat_of_notify(n.type), "peer "
				   "answered %s%s", notify_name(n.type),
				   n.type == IKEV2_N_NO_PROPOSAL_CHOSEN
				   ? " (none of the rule's methods suits it, "
				   "or its kernel refused the SA: its log "
				   "says which)" : "");
		child_offer_release(d, &o);
		return;
	}
	cx->why[0] = 0;
	if (child_offer_install(d, sa, &o, resp, &km, NULL))
		ikesa_child_failed(sa, cx->why_stat, "%s", cx->why);
}

/* ---- responder ------------------------------------------------------------------ */

static void refuse(struct daemon *d, struct ikesa *sa, struct ike_builder *b,
		   uint16_t type, const char *why)
{
	struct ike_notify n = { .type = type };

	ctx_of(d)->failed++;
	ikelog(d, IKELOG_OUTCOME, sa, "CHILD SA refused (%s) reason=\"%s\"",
	       notify_name(type), why);
	ike_add_notify(b, &n);
}

/* The first TSi x TSr pair inside a filter of rule r: narrowed into c. */
static bool narrow(const struct chp_rule *r, struct ikesa *sa,
		   const struct ike_ts_set *tsi, const struct ike_ts_set *tsr,
		   struct child_sa *c)
{
	uint8_t family = (uint8_t)sa->path.peer.ss_family;
	const uint8_t *me, *peer;
	size_t len, f, s, i, j;

	me = addr_bytes(&sa->path.local, &len);
	peer = addr_bytes(&sa->path.peer, &len);
	for (f = 0; f < r->nf; f++)
		for (s = 0; s < (r->f[f].mirrored ? 2u : 1u); s++) {
			struct ike_ts l, rm;

			if (!filter_sides(&r->f[f], s == 1, r->tunnel, family,
					  me, peer, &l, &rm))
				continue;
			for (i = 0; i < tsi->nts; i++)
				for (j = 0; j < tsr->nts; j++)
					if (ts_intersect(&tsi->ts[i], &rm,
							 &c->ts_r) &&
					    ts_intersect(&tsr->ts[j], &l,
							 &c->ts_l))
						return true;
		}
	return false;
}

/* Our negotiate rule for the request: the one that named the peer first
 * (or like's rule, a rekey), then the others; the default response rule,
 * last of the list, only for a peer no rule names (an IKE SA of the
 * default response) and when none of the rules covers the peer's
 * selectors (or to rekey one of its own CHILD SAs). */
static const struct chp_rule *pick_rule(struct ikesa *sa,
					const struct chp_rule *rules, size_t nr,
					bool transport, const char *first,
					const struct ike_ts_set *tsi,
					const struct ike_ts_set *tsr,
					struct child_sa *c)
{
	uint8_t peer_ip[16];
	size_t i, pass, len;
	const uint8_t *pb = addr_bytes(&sa->path.peer, &len);

	memcpy(peer_ip, pb, len);
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < nr; i++) {
			const struct chp_rule *x = &rules[i];
			bool named = !strcmp(x->name, first);

			if (named != (pass == 0))
				continue;
			/* the default response answers only a peer that no
			 * rule of ours names (ipsec-xdp.policy(5)) */
			if (x->response && sa->conf.source != PEER_DEFAULT)
				continue;
			if (x->tunnel ? (x->tunnel_family != sa->path.peer.ss_family ||
					 memcmp(x->tunnel_addr, peer_ip, len))
				      : !transport)
				continue;
			if (narrow(x, sa, tsi, tsr, c))
				return x;
		}
	return NULL;
}

/* The first proposal of the offer that one of r's methods matches. */
static bool pick_proposal(const struct chp_rule *r, const struct ike_sa *offer,
			  bool with_dh, uint16_t ike_group,
			  struct child_choice *ch)
{
	/* PFS without a group: the IKE SA's (ipsec-xdp.policy(5)) */
	uint16_t want = r->pfs ? (r->pfs_group ? r->pfs_group : ike_group)
			       : 0;
	size_t i, m;

	for (i = 0; i < offer->nproposals; i++) {
		const struct ike_proposal *p = &offer->prop[i];
		int dh = with_dh ? proposal_dh(p, want) : 0;

		if ((p->protocol != IKEV2_PROTO_ESP &&
		     p->protocol != IKEV2_PROTO_AH) || p->spi_size != 4 ||
		    dh < 0)
			continue;
		for (m = 0; m < r->nm; m++)
			if (method_usable(&r->m[m]) &&
			    proposal_has(p, &r->m[m])) {
				struct child_sa *c = &ch->c;

				c->proto = method_proto(&r->m[m]);
				c->suite = method_suite(&r->m[m], (uint16_t)dh);
				c->lifetime_s = r->m[m].lifetime_s;
				c->lifetime_kb = r->m[m].lifetime_kb;
				c->spi_out = get_spi(p);
				ch->ans.nproposals = 1;
				method_proposal(p->num, &r->m[m], 0,
						(uint16_t)dh, &ch->ans.prop[0]);
				return true;
			}
	}
	return false;
}

uint16_t child_choose(struct daemon *d, struct ikesa *sa,
		      const struct ike_msg *req, const struct child_sa *like,
		      struct child_choice *ch)
{
	const struct ike_payload *psa, *pi, *pr;
	struct ike_ts_set tsi, tsr;
	struct chp_rules rules;
	const struct chp_rule *r;
	struct ike_notify n;
	struct ike_sa offer;
	bool transport = sealed_notify(req, IKEV2_N_USE_TRANSPORT_MODE, &n);
	bool create = req->hdr.exchange == IKEV2_EXCH_CREATE_CHILD_SA;
	const char *why = NULL, *first;
	uint16_t err = 0;

	memset(ch, 0, sizeof(*ch));
	psa = sealed_find(req, IKEV2_PL_SA, NULL);
	pi = sealed_find(req, IKEV2_PL_TSI, NULL);
	pr = sealed_find(req, IKEV2_PL_TSR, NULL);
	if (!psa || !pi || !pr || ike_decode_sa(psa, &offer) != IKE_MSG_OK ||
	    ike_decode_ts(pi, &tsi) != IKE_MSG_OK ||
	    ike_decode_ts(pr, &tsr) != IKE_MSG_OK) {
		ctx_of(d)->failed++;
		ikelog(d, IKELOG_OUTCOME, sa, "CHILD SA refused "
		       "(INVALID_SYNTAX) reason=\"malformed SA or TS\"");
		return IKEV2_N_INVALID_SYNTAX;
	}
	if (transport && sa->nat_peer)	/* the peer as we see it */
		ts_nat_host(&tsi, &sa->path.peer);
	load_rules(d, &rules);
	/* an IKE SA of the default response prefers no rule: the rules come
	 * first and the default response last */
	first = like ? like->rule : sa->conf.source == PEER_RULE
		? sa->conf.rule : "";
	r = pick_rule(sa, rules.v, rules.n, transport, first, &tsi, &tsr,
		      &ch->c);
	if (!r) {
		err = IKEV2_N_TS_UNACCEPTABLE;
		why = rules.n && rules.v[rules.n - 1].response &&
		      sa->conf.source == PEER_DEFAULT ? "neither a negotiate rule for this peer nor the default "
			"response (transport mode between this host's address "
			"and the peer's) covers its traffic selectors"
		      : "no negotiate rule for this peer covers its traffic "
			"selectors";
	} else if (!pick_proposal(r, &offer, create, sa->keys.suite.dh, ch)) {
		err = IKEV2_N_NO_PROPOSAL_CHOSEN;
		why = r->pfs && create ? "no ESP or AH proposal of the peer "
		      "matches a security method of the rule with its PFS "
		      "group" : "no ESP or AH proposal of the peer matches a "
		      "security method of the rule";
	} else {
		snprintf(ch->c.rule, sizeof(ch->c.rule), "%s", r->name);
		ch->c.mode = r->tunnel ? IKK_MODE_TUNNEL : IKK_MODE_TRANSPORT;
		ch->pfs_required = r->pfs;
	}
	chp_rules_free(&rules);
	if (err == IKEV2_N_NO_PROPOSAL_CHOSEN)
		d->stats.v[ST_NO_PROPOSAL_CHOSEN]++;
	if (err) {
		ctx_of(d)->failed++;
		ikelog(d, IKELOG_OUTCOME, sa, "CHILD SA refused (%s) "
		       "reason=\"%s\"", notify_name(err), why);
		return err;
	}
	fill_common(sa, &ch->c);
	ch->c.reqid = like ? like->reqid : new_reqid(ctx_of(d));
	return 0;
}

int child_choice_install(struct daemon *d, struct ikesa *sa,
			 struct child_choice *ch,
			 const struct child_keymat *km, bool later_out)
{
	struct child_ctx *cx = ctx_of(d);
	struct child_sa *c = &ch->c;

	if (cx->kops->spi_alloc(cx->kops_ctx, &c->remote, &c->local,
				c->proto, c->mode, c->reqid, &c->spi_in)) {
		cx->failed++;
		cx->why_stat = ST_FAIL_KERNEL;
		snprintf(cx->why, sizeof(cx->why), "the kernel refused an %s "
			 "SPI: %s", ikk_proto_name(c->proto), kerr(cx));
		ikelog(d, IKELOG_OUTCOME, sa, "CHILD SA failed reason=\"%s\"",
		       cx->why);
		return -1;
	}
	if (establish(d, sa, c, km, later_out)) {
		cx->kops->sa_delete(cx->kops_ctx, &c->local, c->spi_in,
				    c->proto);
		return -1;
	}
	put_spi(&ch->ans.prop[0], c->spi_in);
	return 0;
}

void child_choice_add(const struct child_choice *ch, struct ike_builder *b)
{
	struct ike_notify tm = { .type = IKEV2_N_USE_TRANSPORT_MODE };
	struct ike_ts_set oi, orr;

	memset(&oi, 0, sizeof(oi));
	memset(&orr, 0, sizeof(orr));
	oi.ts[oi.nts++] = ch->c.ts_r;	/* TSi: the initiator's side */
	orr.ts[orr.nts++] = ch->c.ts_l;
	if (ch->c.mode == IKK_MODE_TRANSPORT)
		ike_add_notify(b, &tm);
	ike_add_sa(b, &ch->ans);
	ike_add_ts(b, IKEV2_PL_TSI, &oi);
	ike_add_ts(b, IKEV2_PL_TSR, &orr);
}

static void auth_respond(struct daemon *d, struct ikesa *sa,
			 const struct ike_msg *req, struct ike_builder *b)
{
	struct child_keymat km = { sa->ni, sa->nr, sa->ni_len, sa->nr_len,
				   NULL, 0, false };
	struct child_choice ch;
	struct ike_notify n;
	struct child_ctx *cx = ctx_of(d);
	uint16_t err = child_choose(d, sa, req, NULL, &ch);

	if (err) {
		n = (struct ike_notify){ .type = err };
		ike_add_notify(b, &n);
		ikesa_child_failed(sa, fail_stat_of_notify(err), "we answered "
				   "%s", notify_name(err));
		return;
	}
	cx->why[0] = 0;
	if (child_choice_install(d, sa, &ch, &km, false)) {
		refuse(d, sa, b, IKEV2_N_NO_PROPOSAL_CHOSEN, "cannot install "
		       "the SAs");
		ikesa_child_failed(sa, cx->why_stat, "%s; we answered "
				   "NO_PROPOSAL_CHOSEN", cx->why);
		return;
	}
	child_choice_add(&ch, b);
}

/* ---- finding, removing, moving ---------------------------------------------------- */

struct child_sa *child_at(struct ikesa *sa, size_t i)
{
	struct child_state *st = sa->child;

	return st && i < st->n ? &st->c[i] : NULL;
}

struct child_sa *child_find(struct ikesa *sa, uint32_t spi_in,
			    uint32_t spi_out)
{
	struct child_sa *c;
	size_t i;

	for (i = 0; (c = child_at(sa, i)) != NULL; i++)
		if ((spi_in && c->spi_in == spi_in) ||
		    (spi_out && c->spi_out == spi_out))
			return c;
	return NULL;
}

struct owner_q {
	uint32_t spi;
	bool inbound;
	struct ikesa *found;
};

static void owner_visit(struct daemon *d, struct ikesa *sa, void *arg)
{
	struct owner_q *q = arg;

	if (q->found)
		return;
	if (child_find(sa, q->spi, 0)) {
		q->found = sa;
		q->inbound = true;
	} else if (child_find(sa, 0, q->spi)) {
		q->found = sa;
		q->inbound = false;
	}
}

struct ikesa *child_owner(struct daemon *d, uint32_t spi, bool *inbound)
{
	struct owner_q q = { spi, false, NULL };

	ikesa_foreach(d, owner_visit, &q);
	if (inbound)
		*inbound = q.inbound;
	return q.found;
}

void child_release_out(struct daemon *d, struct ikesa *sa, uint32_t spi_in)
{
	struct child_ctx *cx = ctx_of(d);
	struct child_sa *c = child_find(sa, spi_in, 0);

	if (!c || !c->out_pending)
		return;
	if (cx->kops->sa_add(cx->kops_ctx, c->out_pending, false))
		ikelog(d, IKELOG_OUTCOME, sa, "CHILD SA spi-in=%08" PRIx32
		       ": cannot install its outbound SA: %s", spi_in,
		       kerr(cx));
	out_pending_free(c);
}

/* Before c goes: a rekey's successor waiting for it sends from now on
 * (unless another of the reqid already sends). */
static void release_heir_out(struct daemon *d, struct ikesa *sa,
			     struct child_sa *c)
{
	struct child_state *st = sa->child;
	struct child_sa *waiting = NULL;
	size_t i;

	for (i = 0; st && i < st->n; i++) {
		struct child_sa *x = &st->c[i];

		if (x == c || x->reqid != c->reqid || x->dying)
			continue;
		if (!x->out_pending)
			return;
		if (!waiting)
			waiting = x;
	}
	if (waiting)
		child_release_out(d, sa, waiting->spi_in);
}

static void remove_at(struct daemon *d, struct ikesa *sa, size_t j,
		      const char *why)
{
	struct child_state *st = sa->child;
	struct child_sa *c = &st->c[j];

	ikelog_event(d, "sa-deleted", sa, "CHILD SA deleted (%s) spi-in=%08"
	       PRIx32 " spi-out=%08" PRIx32, why, c->spi_in, c->spi_out);
	release_heir_out(d, sa, c);
	uninstall(d, sa, c);
	st->c[j] = st->c[--st->n];
}

void child_remove(struct daemon *d, struct ikesa *sa, uint32_t spi_in,
		  const char *why)
{
	struct child_state *st = sa->child;
	size_t j;

	for (j = 0; st && j < st->n; j++)
		if (st->c[j].spi_in == spi_in) {
			remove_at(d, sa, j, why);
			break;
		}
	state_drop_if_empty(sa);
}

void child_start_dying(struct daemon *d, struct ikesa *sa, uint32_t spi_in)
{
	struct child_ctx *cx = ctx_of(d);
	struct child_sa *c = child_find(sa, spi_in, 0);

	if (!c || c->dying)
		return;
	release_heir_out(d, sa, c);
	if (c->out_pending)
		out_pending_free(c);
	else
		cx->kops->sa_delete(cx->kops_ctx, &c->remote, c->spi_out,
				    c->proto);
	c->dying = true;
}

void child_move(struct ikesa *from, struct ikesa *to)
{
	struct child_state *a = from->child, *b;
	size_t i;

	if (!a)
		return;
	b = state_of(to, true);
	for (i = 0; b && i < a->n && b->n < CHILD_MAX; i++)
		b->c[b->n++] = a->c[i];
	a->n = 0;
	state_drop_if_empty(from);
}

int child_bytes(struct daemon *d, const struct child_sa *c, uint64_t *bytes)
{
	struct child_ctx *cx = ctx_of(d);
	struct ikk_sa_counters in, out;

	*bytes = 0;
	if (!cx->kops->counters ||
	    cx->kops->counters(cx->kops_ctx, &c->local, c->spi_in,
			       c->proto, &in))
		return -1;
	memset(&out, 0, sizeof(out));
	if (!c->out_pending && !c->dying &&
	    cx->kops->counters(cx->kops_ctx, &c->remote, c->spi_out,
			       c->proto, &out))
		return -1;
	*bytes = in.bytes + out.bytes;
	return 0;
}

struct ikk *child_kernel(struct daemon *d)
{
	return d->child ? ctx_of(d)->k : NULL;
}

/* ---- Delete --------------------------------------------------------------------- */

static void delete_request(struct daemon *d, struct ikesa *sa,
			   const struct ike_delete *del, struct ike_builder *b)
{
	struct child_state *st = sa->child;
	uint32_t ours[CHILD_MAX];
	struct ike_delete out = { .protocol = del->protocol, .spi_size = 4 };
	uint8_t spis[CHILD_MAX * 4];
	size_t i, j, n = 0;

	if ((del->protocol != IKEV2_PROTO_ESP &&
	     del->protocol != IKEV2_PROTO_AH) || del->spi_size != 4 || !st)
		return;
	for (i = 0; i < del->nspi && sa->child; i++) {
		uint32_t spi = ike_delete_spi(del, i);

		st = sa->child;
		for (j = 0; j < st->n; j++) {
			if (st->c[j].spi_out != spi ||
			    ike_proto_of(st->c[j].proto) != del->protocol)
				continue;
			/* both sides deleting it (§1.4.1): no SPI back */
			if (n < CHILD_MAX && !st->c[j].dying)
				ours[n++] = st->c[j].spi_in;
			remove_at(d, sa, j, "by the peer");
			break;
		}
		state_drop_if_empty(sa);
	}
	for (i = 0; i < n; i++) {
		spis[i * 4] = (uint8_t)(ours[i] >> 24);
		spis[i * 4 + 1] = (uint8_t)(ours[i] >> 16);
		spis[i * 4 + 2] = (uint8_t)(ours[i] >> 8);
		spis[i * 4 + 3] = (uint8_t)ours[i];
	}
	if (n) {
		out.nspi = (uint16_t)n;
		out.spis = spis;
		ike_add_delete(b, &out);
	}
}

static void ike_sa_down(struct daemon *d, struct ikesa *sa)
{
	struct child_state *st = sa->child;
	size_t i;

	struct pending *p = sa->serial ? pending_find(ctx_of(d), sa->serial)
				       : NULL;

	/* the SPI reserved for the CHILD SA IKE_AUTH asked for: given back
	 * now, not when the kernel's larval SA times out */
	if (p) {
		child_offer_release(d, &p->o);
		memset(p, 0, sizeof(*p));
	}
	/* all go: no waiting outbound SA is worth installing now */
	for (i = 0; st && i < st->n; i++)
		out_pending_free(&st->c[i]);
	while (st && st->n)
		remove_at(d, sa, st->n - 1, "with its IKE SA");
	state_drop_if_empty(sa);
}

/* ---- set-up ------------------------------------------------------------------------ */

int child_use_ops(struct daemon *d, const struct child_kops *kops,
		  void *kops_ctx)
{
	struct child_ctx *cx = calloc(1, sizeof(*cx));

	if (!cx)
		return -1;
	cx->hooks.auth_request = auth_request;
	cx->hooks.auth_respond = auth_respond;
	cx->hooks.auth_response = auth_response;
	cx->hooks.delete_request = delete_request;
	cx->hooks.ike_sa_down = ike_sa_down;
	cx->kops = kops;
	cx->kops_ctx = kops_ctx;
	cx->next_reqid = 0x1000 + ((uint32_t)time(NULL) & 0xffff);
	d->child = &cx->hooks;
	if (exch_create_use(d)) {
		d->child = NULL;
		free(cx);
		return -1;
	}
	return 0;
}

static void kernel_event(void *ctx, const struct ikk_event *ev)
{
	exch_create_kernel_event(ctx, ev);
}

static void events_readable(struct daemon *d, void *arg)
{
	struct child_ctx *cx = arg;

	if (ikk_events_process(cx->k) < 0)
		log_warn("xfrm events: %s", ikk_error(cx->k));
}

/* ACQUIRE and EXPIRE from the kernel, read on the daemon's loop. */
static void events_open(struct daemon *d, struct child_ctx *cx)
{
	if (ikk_events_open(cx->k, kernel_event, d)) {
		log_warn("no xfrm ACQUIRE/EXPIRE events (no rekeying by "
			 "lifetime, no negotiation by ACQUIRE): %s",
			 ikk_error(cx->k));
		return;
	}
	cx->watch = loop_watch(d, ikk_events_fd(cx->k), events_readable, cx);
	if (!cx->watch)
		log_warn("cannot watch the xfrm event socket");
}

int child_use(struct daemon *d)
{
	struct ikk *k = NULL;
	char err[256] = "";

	if (ikk_open(&k, err, sizeof(err))) {
		log_warn("CHILD SAs off (childless IKE SAs only): cannot open "
			 "xfrm netlink: %s", k ? ikk_error(k) : err);
		if (k)
			ikk_close(k);
		return -1;
	}
	if (child_use_ops(d, &kernel_kops, k)) {
		ikk_close(k);
		return -1;
	}
	ctx_of(d)->k = k;
	events_open(d, ctx_of(d));
	return 0;
}

void child_release(struct daemon *d)
{
	struct child_ctx *cx;

	if (!d->child)
		return;
	cx = ctx_of(d);
	pending_gc(d, cx);
	exch_create_release(d);
	loop_unwatch(d, cx->watch);
	if (cx->k)
		ikk_close(cx->k);
	d->child = NULL;
	free(cx);
}

/* ---- show sa ---------------------------------------------------------------------- */

size_t child_count(const struct ikesa *sa)
{
	const struct child_state *st = sa->child;

	return st ? st->n : 0;
}

static void info(const struct child_sa *c, struct child_info *o)
{
	memset(o, 0, sizeof(*o));
	o->spi_in = c->spi_in;
	o->spi_out = c->spi_out;
	o->reqid = c->reqid;
	o->proto = c->proto;
	o->mode = c->mode;
	o->encr = c->suite.encr;
	o->key_bits = c->suite.encr_key_bits;
	o->integ = c->suite.integ;
	o->encr_key_len = c->encr_key_len;
	o->integ_key_len = c->integ_key_len;
	o->lifetime_s = c->lifetime_s;
	o->lifetime_kb = c->lifetime_kb;
	o->pfs_group = c->suite.dh;
	ts_str(&c->ts_l, o->local_ts, sizeof(o->local_ts));
	ts_str(&c->ts_r, o->remote_ts, sizeof(o->remote_ts));
	snprintf(o->rule, sizeof(o->rule), "%s", c->rule);
	ikk_addr_str(&c->local, o->local, sizeof(o->local));
	ikk_addr_str(&c->remote, o->peer, sizeof(o->peer));
	o->encap = c->encap;
	o->installed = c->installed;
	o->installed_ms = c->installed_ms;
}

int child_get(const struct ikesa *sa, size_t i, struct child_info *out)
{
	const struct child_state *st = sa->child;

	if (!st || i >= st->n)
		return -1;
	info(&st->c[i], out);
	return 0;
}
