// SPDX-License-Identifier: GPL-2.0-only
/*
 * sa_exchange_create.c - CREATE_CHILD_SA (RFC 7296 §1.3, §2.8, §2.8.1) and
 * what starts it (the responder's IKE SA rekey is in sa_exchange_create_ike.c,
 * the answers to our requests in _answer.c, ACQUIRE, EXPIRE and idle CHILD
 * SAs in _kernel.c):
 *
 *   HDR, SK {[N(REKEY_SA)], SA, Ni, [KEi], [TSi, TSr]}  -->
 *                        <--  HDR, SK {SA, Nr, [KEr], [TSi, TSr]}
 *
 *   new CHILD SA   SA (ESP), TSi, TSr; from the kernel's ACQUIRE or the
 *                  dataplane's need-SA event (dplink.c, for its rule) on
 *                  an IKE SA that is up (without one, exch_init_start).
 *   CHILD rekey    N(REKEY_SA) naming the old SA by our inbound SPI; the
 *                  new pair keeps the old reqid (so its policies), then the
 *                  initiator deletes the old pair (INFORMATIONAL Delete).
 *                  The responder installs its new outbound SA only when
 *                  the old pair goes, so it never sends on an SA the
 *                  initiator has not installed yet.  Started by the
 *                  kernel's soft EXPIRE; a hard EXPIRE deletes the pair.
 *   IKE rekey      SA (IKE, 8-byte SPIs), KE always; SKEYSEED from the old
 *                  SK_d (§2.18), the CHILD SAs move to the new IKE SA, the
 *                  initiator deletes the old one.  Started by the IKE SA's
 *                  lifetime (ikesa.c).
 *   PFS            a D-H transform in the ESP proposals and a KE payload
 *                  when the rule asks for it; INVALID_KE_PAYLOAD: again
 *                  with the group the peer names.
 *   collisions     both peers rekey the same SA (§2.8.1): each answers the
 *                  other; of the two new SAs the one whose exchange had the
 *                  lowest nonce is redundant and deleted by the peer that
 *                  made it, the other's initiator deletes the old SA.
 *   refusals       TEMPORARY_FAILURE while an IKE rekey is under way (or a
 *                  CHILD SA change during ours), CHILD_SA_NOT_FOUND for an
 *                  unknown REKEY_SA SPI, NO_PROPOSAL_CHOSEN and
 *                  TS_UNACCEPTABLE from child.c.
 *   qmpermm        an IKE SA keys at most conf.qmpermm CHILD SAs (new or
 *                  rekeyed; master-key PFS: one) from its SK_d; the next
 *                  waits while the IKE SA is rekeyed (a new D-H, a new
 *                  SK_d), then goes on the new one.  As responder we
 *                  refuse such a request (TEMPORARY_FAILURE) and rekey the
 *                  IKE SA; the peer's retry finds the new one.
 *   after TEMPORARY_FAILURE   a CHILD SA change against an IKE SA rekey
 *                  makes both peers refuse each other (§2.25).  What was
 *                  refused goes again, and in a set order: CHILD SA
 *                  changes after 0.5-1 s (the kernel's hard lifetime runs
 *                  for the CHILD SA), IKE SA rekeys after 3-6 s (nothing
 *                  ends the IKE SA meanwhile), so the second round does not
 *                  meet again; other requests do not wait for them.
 *
 * The message ID window is one request each way, so what we want to send
 * (rekeys, new CHILD SAs, ESP Deletes) waits in a small per-IKE SA queue
 * until the window is free (exch_create_send_wanted).  CHILD SAs idle for
 * tun.child_idle_s (no bytes either way in the kernel's counters) are
 * deleted by a daemon-wide periodic check.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sa/sa_child.h"
#include "sa/sa_log.h"
#include "sa/sa_ikesa.h"
#include "sa/sa_exchange.h"
#include "kernel/kernel.h"
#include "sa/sa_exchange_create_internal.h"

const char *const kind_names[] = {
	[CC_NONE] = "none", [CC_NEW] = "new CHILD SA",
	[CC_REKEY_CHILD] = "CHILD SA rekey", [CC_REKEY_IKE] = "IKE SA rekey",
	[CC_DELETE] = "CHILD SA delete",
};

static void retry_fire(struct daemon *d, void *arg)
{
	struct ikesa *sa = arg;

	if (sa->state == IKESA_ESTABLISHED && !sa->req_out)
		exch_info_send_wanted(d, sa);
}

struct cc_sa *cc_of(struct daemon *d, struct ikesa *sa)
{
	struct cc_sa *cc = sa->create;

	if (cc)
		return cc;
	cc = calloc(1, sizeof(*cc));
	if (!cc)
		fatal("out of memory for CREATE_CHILD_SA state");
	timer_init(d, &cc->t_retry, retry_fire, sa);
	sa->create = cc;
	return cc;
}

void out_clear(struct daemon *d, struct cc_sa *cc, bool keep_offer)
{
	if (!keep_offer)
		child_offer_release(d, &cc->out.offer);
	ike_dh_free(cc->out.dh);
	ike_wipe(&cc->out, sizeof(cc->out));
	cc->busy = false;
}

const char *exch_create_rule_in_flight(const struct ikesa *sa)
{
	const struct cc_sa *cc = sa->create;

	if (!cc || !cc->busy || (cc->out.kind != CC_NEW &&
				 cc->out.kind != CC_REKEY_CHILD))
		return NULL;
	return cc->out.offer.rule;
}

void exch_create_rule_gone(struct ikesa *sa, const char *why)
{
	struct cc_sa *cc = sa->create;

	if (exch_create_rule_in_flight(sa))
		snprintf(cc->out.rule_gone, sizeof(cc->out.rule_gone), "%s",
			 why);
}

void exch_create_sa_gone(struct daemon *d, struct ikesa *sa)
{
	struct cc_sa *cc = sa->create;

	if (!cc)
		return;
	if (cc->busy)
		out_clear(d, cc, false);
	timer_release(&cc->t_retry);
	free(cc);
	sa->create = NULL;
}

/* ---- small helpers ------------------------------------------------------------- */

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

void put_be64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

void lower_nonce(const uint8_t *a, size_t al, const uint8_t *b,
		 size_t bl, struct cc_nonce *out)
{
	size_t n = al < bl ? al : bl;
	int c = memcmp(a, b, n);
	bool a_low = c < 0 || (c == 0 && al <= bl);

	out->len = a_low ? al : bl;
	memcpy(out->b, a_low ? a : b, out->len);
}

int nonce_cmp(const struct cc_nonce *a, const struct cc_nonce *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->b, b->b, n);

	if (c)
		return c;
	return a->len < b->len ? -1 : a->len > b->len;
}

/* The IKE SA that replaced sa by a rekey, else sa. */
struct succ_q {
	uint64_t serial;
	struct ikesa *found;
};

static void succ_visit(struct daemon *d, struct ikesa *sa, void *arg)
{
	struct succ_q *q = arg;

	if (sa->rekeyed_from == q->serial && sa->state == IKESA_ESTABLISHED)
		q->found = sa;
}

struct ikesa *current(struct daemon *d, struct ikesa *sa)
{
	int hops;

	for (hops = 0; hops < 4; hops++) {
		struct cc_sa *cc = sa->create;
		struct succ_q q = { sa->serial, NULL };

		if (!cc || !cc->rekeyed)
			break;
		ikesa_foreach(d, succ_visit, &q);
		if (!q.found)
			break;
		sa = q.found;
	}
	return sa;
}

/* ---- what we want to send ------------------------------------------------------- */

static bool want_same(const struct cc_want *a, const struct cc_want *b)
{
	if (a->kind != b->kind)
		return false;
	if (a->kind == CC_NEW && strcmp(a->rule, b->rule))
		return false;
	return a->kind == CC_NEW ? !a->has_sel || !b->has_sel ||
				   !memcmp(&a->sel, &b->sel, sizeof(a->sel))
				 : a->kind == CC_REKEY_IKE || a->spi == b->spi;
}

static bool wanted_already(const struct cc_sa *cc, const struct cc_want *w)
{
	size_t i;

	for (i = 0; i < cc->nwant; i++)
		if (want_same(&cc->want[i], w))
			return true;
	return cc->busy && want_same(&cc->out.w, w);
}

void want_add(struct daemon *d, struct ikesa *sa,
	      const struct cc_want *w, bool front)
{
	struct cc_sa *cc;

	sa = current(d, sa);
	if (sa->state != IKESA_ESTABLISHED)
		return;
	cc = cc_of(d, sa);
	if (wanted_already(cc, w))
		return;
	if (cc->nwant >= CC_WANT_MAX) {
		ikelog(d, IKELOG_OUTCOME, sa, "%s not started: too many "
		       "requests waiting", kind_names[w->kind]);
		return;
	}
	if (front) {
		memmove(&cc->want[1], &cc->want[0],
			cc->nwant * sizeof(cc->want[0]));
		cc->want[0] = *w;
	} else {
		cc->want[cc->nwant] = *w;
	}
	cc->nwant++;
	if (!sa->req_out)
		exch_info_send_wanted(d, sa);
}

static void want_drop(struct cc_sa *cc, uint8_t kind, uint32_t spi)
{
	size_t i = 0;

	while (i < cc->nwant)
		if (cc->want[i].kind == kind && cc->want[i].spi == spi)
			memmove(&cc->want[i], &cc->want[i + 1],
				(--cc->nwant - i) * sizeof(cc->want[0]));
		else
			i++;
}

/* The retry timer for the first want that waits (with due_too, one due
 * now counts: at once); stopped when none. */
void arm_retry(struct daemon *d, struct cc_sa *cc, bool due_too)
{
	uint64_t now = daemon_now_ms(d), first = UINT64_MAX;
	size_t i;

	for (i = 0; i < cc->nwant; i++) {
		uint64_t t = cc->want[i].not_before_ms;

		if (t <= now && !due_too)
			continue;
		if (t < now)
			t = now;
		if (t < first)
			first = t;
	}
	timer_stop(&cc->t_retry);
	if (first != UINT64_MAX)
		timer_arm(&cc->t_retry, first - now);
}

/* Would w key a CHILD SA from sa's SK_d? */
static bool keys_child(const struct cc_want *w)
{
	return w->kind == CC_NEW || w->kind == CC_REKEY_CHILD;
}

/* qmpermm: sa's SK_d has keyed all the CHILD SAs it may. */
static bool keys_spent(const struct ikesa *sa)
{
	return sa->conf.qmpermm && sa->children_keyed >= sa->conf.qmpermm;
}

/* The first want that may go now; cc->nwant when none.  With sa's keys
 * spent, those that key a CHILD SA wait for the new IKE SA. */
static size_t next_due(const struct ikesa *sa, const struct cc_sa *cc,
		       uint64_t now)
{
	size_t i;

	for (i = 0; i < cc->nwant; i++)
		if (cc->want[i].not_before_ms <= now &&
		    !(keys_child(&cc->want[i]) && keys_spent(sa)))
			break;
	return i;
}

void wants_move(struct daemon *d, struct ikesa *from, struct ikesa *to)
{
	struct cc_sa *a = from->create, *b;
	size_t i;

	if (!a || !a->nwant)
		return;
	b = cc_of(d, to);
	for (i = 0; i < a->nwant && b->nwant < CC_WANT_MAX; i++)
		if (!wanted_already(b, &a->want[i]))
			b->want[b->nwant++] = a->want[i];
	a->nwant = 0;
	timer_stop(&a->t_retry);
	/* they go out from the new IKE SA, not before they would have */
	arm_retry(d, b, true);
}

void exch_create_rekey_ike(struct daemon *d, struct ikesa *sa)
{
	struct cc_want w = { .kind = CC_REKEY_IKE };
	struct cc_sa *cc = sa->create;

	if (cc && cc->rekeyed) {	/* replaced; its initiator forgot it */
		snprintf(sa->close_reason, sizeof(sa->close_reason),
			 "rekeyed, and the peer did not delete it");
		ikesa_want(d, sa, true, false);
		return;
	}

	ikelog(d, IKELOG_DETAIL, sa, "IKE SA lifetime (%u s) nearly over: "
	       "rekeying", sa->conf.lifetime_s);
	want_add(d, sa, &w, false);
}

void exch_create_rekey_child(struct daemon *d, struct ikesa *sa,
			     uint32_t spi_in)
{
	struct cc_want w = { .kind = CC_REKEY_CHILD, .spi = spi_in };

	want_add(d, sa, &w, false);
}

void exch_create_delete_child(struct daemon *d, struct ikesa *sa,
			      uint32_t spi_in, const char *why)
{
	struct cc_want w = { .kind = CC_DELETE, .spi = spi_in };
	struct child_sa *c = child_find(sa, spi_in, 0);

	if (!c || c->dying)
		return;
	ikelog(d, IKELOG_DETAIL, sa, "deleting CHILD SA spi-in=%08" PRIx32
	       " (%s)", spi_in, why);
	child_start_dying(d, sa, spi_in);
	want_drop(cc_of(d, sa), CC_REKEY_CHILD, spi_in);
	want_add(d, sa, &w, false);
}

void want_new_child(struct daemon *d, struct ikesa *sa,
		    const struct ikk_selector *sel, const char *rule,
		    uint32_t acquire_seq)
{
	struct cc_want w = { .kind = CC_NEW, .acquire_seq = acquire_seq };

	if (rule)
		snprintf(w.rule, sizeof(w.rule), "%s", rule);
	if (sel) {
		w.has_sel = true;
		w.sel = *sel;
	}
	want_add(d, sa, &w, false);
}

void exch_create_new_child(struct daemon *d, struct ikesa *sa,
			   const struct ikk_selector *sel, const char *rule)
{
	want_new_child(d, sa, sel, rule, 0);
}

/* ---- sending ---------------------------------------------------------------------- */

static void add_nonce_ke(struct ike_builder *b, const struct cc_out *o)
{
	struct ike_nonce n = { o->ni, sizeof(o->ni) };
	uint8_t pub[IKE_DH_MAX_LEN];
	struct ike_ke ke = { o->group, pub, 0 };

	ike_add_nonce(b, &n);
	if (o->dh && ike_dh_public(o->dh, pub, sizeof(pub), &ke.len) ==
	    IKE_CRYPTO_OK)
		ike_add_ke(b, &ke);
}

static uint8_t ike_proto(uint8_t ipproto)
{
	return ipproto == IPPROTO_AH ? IKEV2_PROTO_AH : IKEV2_PROTO_ESP;
}

static void add_rekey_notify(struct ike_builder *b, uint32_t spi,
			     uint8_t ipproto)
{
	uint8_t s[4] = { (uint8_t)(spi >> 24), (uint8_t)(spi >> 16),
			 (uint8_t)(spi >> 8), (uint8_t)spi };
	struct ike_notify n = { .protocol = ike_proto(ipproto), .spi_size = 4,
				.spi = s, .type = IKEV2_N_REKEY_SA };

	ike_add_notify(b, &n);
}

/* The IKE proposals of our rule with our new SPI (§1.3.2). */
static void ike_offer(const struct ikesa *sa, uint64_t spi, struct ike_sa *o)
{
	size_t i;

	proposal_offer(&sa->conf, o);
	for (i = 0; i < o->nproposals; i++) {
		o->prop[i].spi_size = 8;
		put_be64(o->prop[i].spi, spi);
	}
}

int send_request(struct daemon *d, struct ikesa *sa, struct cc_sa *cc)
{
	struct cc_out *o = &cc->out;
	static uint8_t buf[CC_BUF];
	struct ike_builder b;
	struct ike_sa offer;
	size_t len = 0;

	ike_dh_free(o->dh);
	o->dh = NULL;
	if (o->group && ike_dh_new(o->group, &o->dh) != IKE_CRYPTO_OK)
		return -1;
	ike_build_chain(&b, buf, sizeof(buf));
	if (o->kind == CC_REKEY_IKE) {
		ike_offer(sa, o->new_spi, &offer);
		ike_add_sa(&b, &offer);
	} else {
		if (o->kind == CC_REKEY_CHILD)
			add_rekey_notify(&b, o->old_spi, o->old_proto);
		child_offer_add(&o->offer, o->group, &b);
	}
	add_nonce_ke(&b, o);
	if (ike_build_finish(&b, &len) != IKE_MSG_OK ||
	    ikesa_request(d, sa, IKEV2_EXCH_CREATE_CHILD_SA, b.first, buf, len,
			  true))
		return -1;
	cc->busy = true;
	return 0;
}

/* What the request is about; false when there is nothing to ask. */
static bool prepare(struct daemon *d, struct ikesa *sa, struct cc_out *o)
{
	struct child_sa *c;

	if (o->kind == CC_REKEY_IKE) {
		o->new_spi = ikesa_fresh_spi(d);
		o->group = sa->keys.suite.dh;	/* the peer took it before */
		return true;
	}
	if (!d->child)
		return false;
	if (o->kind == CC_NEW) {
		if (child_offer_make(d, sa, o->w.rule[0] ? o->w.rule : NULL,
				     o->w.has_sel ? &o->w.sel : NULL, 0,
				     &o->offer))
			return false;
		o->offer.acquire_seq = o->w.acquire_seq;
		return true;
	}
	c = child_find(sa, o->w.spi, 0);
	if (!c || c->dying)
		return false;
	o->old_spi = c->spi_in;
	o->old_proto = c->proto;
	if (child_offer_make(d, sa, c->rule, NULL, c->reqid, &o->offer))
		return false;
	/* the same traffic as before (§2.8) */
	o->offer.ts_l = c->ts_l;
	o->offer.ts_r = c->ts_r;
	o->offer.mode = c->mode;
	return true;
}

static void start(struct daemon *d, struct ikesa *sa, struct cc_sa *cc,
		  const struct cc_want *w)
{
	struct cc_out *o = &cc->out;

	memset(o, 0, sizeof(*o));
	o->kind = w->kind;
	o->w = *w;
	if (!prepare(d, sa, o)) {
		memset(o, 0, sizeof(*o));
		return;
	}
	o->group = o->kind == CC_REKEY_IKE ? o->group : o->offer.pfs_group;
	if (ike_random(o->ni, sizeof(o->ni)) != IKE_CRYPTO_OK ||
	    send_request(d, sa, cc)) {
		ikelog(d, IKELOG_OUTCOME, sa, "%s failed reason=\"cannot "
		       "build the request\"", kind_names[o->kind]);
		out_clear(d, cc, false);
		return;
	}
	if (o->kind == CC_REKEY_CHILD)
		ikelog(d, IKELOG_OUTCOME, sa, "%s started spi-in=%08" PRIx32
		       "%s", kind_names[o->kind], o->old_spi,
		       o->group ? " pfs" : "");
	else
		ikelog(d, IKELOG_OUTCOME, sa, "%s started%s",
		       kind_names[o->kind], o->group && o->kind == CC_NEW
		       ? " pfs" : "");
}

/* One Delete payload per protocol (§3.11): ESP, then AH. */
static void add_deletes(struct ikesa *sa, const struct cc_sa *cc,
			struct ike_builder *b)
{
	static const uint8_t protos[2] = { IPPROTO_ESP, IPPROTO_AH };
	static uint8_t spis[2][CC_WANT_MAX * 4];
	size_t p, i;

	for (p = 0; p < 2; p++) {
		struct ike_delete del = { .protocol = ike_proto(protos[p]),
					  .spi_size = 4, .spis = spis[p] };

		for (i = 0; i < cc->ndel; i++) {
			const struct child_sa *c = child_find(sa, cc->del[i], 0);
			uint32_t s = cc->del[i];

			if ((c ? c->proto : IPPROTO_ESP) != protos[p])
				continue;
			spis[p][del.nspi * 4] = (uint8_t)(s >> 24);
			spis[p][del.nspi * 4 + 1] = (uint8_t)(s >> 16);
			spis[p][del.nspi * 4 + 2] = (uint8_t)(s >> 8);
			spis[p][del.nspi * 4 + 3] = (uint8_t)s;
			del.nspi++;
		}
		if (del.nspi)
			ike_add_delete(b, &del);
	}
}

static int send_deletes(struct daemon *d, struct ikesa *sa, struct cc_sa *cc)
{
	uint8_t buf[512];
	struct ike_builder b;
	size_t i = 0, len = 0;

	cc->ndel = 0;
	while (i < cc->nwant) {
		if (cc->want[i].kind != CC_DELETE) {
			i++;
			continue;
		}
		cc->del[cc->ndel++] = cc->want[i].spi;
		memmove(&cc->want[i], &cc->want[i + 1],
			(--cc->nwant - i) * sizeof(cc->want[0]));
	}
	ike_build_chain(&b, buf, sizeof(buf));
	add_deletes(sa, cc, &b);
	if (ike_build_finish(&b, &len) != IKE_MSG_OK ||
	    ikesa_request(d, sa, IKEV2_EXCH_INFORMATIONAL, b.first, buf, len,
			  true))
		return -1;
	sa->req_kind = REQ_CHILD_DELETE;
	ikelog(d, IKELOG_DETAIL, sa, "sending Delete for %zu CHILD SA(s)",
	       cc->ndel);
	return 0;
}

static bool has_delete(const struct cc_sa *cc)
{
	size_t i;

	for (i = 0; i < cc->nwant; i++)
		if (cc->want[i].kind == CC_DELETE)
			return true;
	return false;
}

static void drop_keying_wants(struct daemon *d, struct ikesa *sa,
			      struct cc_sa *cc)
{
	size_t i = 0;

	while (i < cc->nwant)
		if (keys_child(&cc->want[i])) {
			ikelog(d, IKELOG_OUTCOME, sa, "%s failed reason=\"qmpermm:"
			       " the IKE SA keyed all the CHILD SAs it may and "
			       "could not be rekeyed\"",
			       kind_names[cc->want[i].kind]);
			memmove(&cc->want[i], &cc->want[i + 1],
				(--cc->nwant - i) * sizeof(cc->want[0]));
		} else {
			i++;
		}
}

/* qmpermm: a CHILD SA waits for fresh keys.  Have the IKE SA rekeyed
 * first, unless that is under way or queued; after CC_FRESH_TRIES
 * rekeys that did not come about, the waiting CHILD SAs are given up
 * (never keyed from spent keys). */
static void fresh_keys_first(struct daemon *d, struct ikesa *sa,
			     struct cc_sa *cc)
{
	struct cc_want w = { .kind = CC_REKEY_IKE };
	bool waiting = false;
	size_t i;

	if (!keys_spent(sa) || wanted_already(cc, &w))
		return;
	for (i = 0; i < cc->nwant; i++)
		waiting |= keys_child(&cc->want[i]);
	if (!waiting)
		return;
	if (cc->fresh_tries++ >= CC_FRESH_TRIES || cc->nwant >= CC_WANT_MAX) {
		drop_keying_wants(d, sa, cc);
		return;
	}
	ikelog(d, IKELOG_DETAIL, sa, "qmpermm: this IKE SA keyed %" PRIu32
	       " CHILD SA(s), all it may: rekeying it first",
	       sa->children_keyed);
	memmove(&cc->want[1], &cc->want[0], cc->nwant * sizeof(cc->want[0]));
	cc->want[0] = w;
	cc->nwant++;
}

void exch_create_send_wanted(struct daemon *d, struct ikesa *sa)
{
	struct cc_sa *cc = sa->create;
	struct cc_want w;
	size_t i;

	if (!cc || cc->rekeyed || sa->state != IKESA_ESTABLISHED)
		return;
	if (has_delete(cc) && !sa->req_out) {
		if (send_deletes(d, sa, cc)) {
			/* the peer learns nothing: at least ours go */
			for (i = 0; i < cc->ndel; i++)
				child_remove(d, sa, cc->del[i], "no Delete "
					     "could be sent");
			cc->ndel = 0;
		}
		return;
	}
	fresh_keys_first(d, sa, cc);
	while (!sa->req_out && !cc->busy &&
	       (i = next_due(sa, cc, daemon_now_ms(d))) < cc->nwant) {
		w = cc->want[i];
		memmove(&cc->want[i], &cc->want[i + 1],
			(--cc->nwant - i) * sizeof(cc->want[0]));
		start(d, sa, cc, &w);
	}
	arm_retry(d, cc, false);
}

void exch_create_delete_answered(struct daemon *d, struct ikesa *sa)
{
	struct cc_sa *cc = sa->create;
	size_t i;

	if (!cc)
		return;
	for (i = 0; i < cc->ndel; i++)
		child_remove(d, sa, cc->del[i], "by us");
	cc->ndel = 0;
}

/* ---- answering ---------------------------------------------------------------------- */

void refuse(struct daemon *d, struct ikesa *sa,
	    const struct ike_msg *req, uint16_t type, uint16_t group,
	    const char *why)
{
	uint8_t g[2] = { (uint8_t)(group >> 8), (uint8_t)group };

	ikelog(d, IKELOG_OUTCOME, sa, "CREATE_CHILD_SA refused (%s) "
	       "reason=\"%s\"", notify_name(type), why);
	if (type == IKEV2_N_INVALID_KE_PAYLOAD)
		d->stats.v[ST_INVALID_KE_SENT]++;
	if (type == IKEV2_N_NO_PROPOSAL_CHOSEN)
		d->stats.v[ST_NO_PROPOSAL_CHOSEN]++;
	exch_respond_notify(d, sa, &req->hdr, type, group ? g : NULL,
			    group ? 2 : 0);
}

/* The peer's KE of group: g^ir into out.  0, or the notify to send. */
uint16_t peer_ke(const struct ike_msg *msg, uint16_t group,
		 struct ike_dh **dh, uint8_t *out, size_t *len)
{
	const struct ike_payload *pk = sealed_find(msg, IKEV2_PL_KE, NULL);
	struct ike_ke ke;

	if (!pk || ike_decode_ke(pk, &ke) != IKE_MSG_OK || ke.group != group)
		return IKEV2_N_INVALID_KE_PAYLOAD;
	if (ike_dh_new(group, dh) != IKE_CRYPTO_OK ||
	    ike_dh_shared(*dh, ke.data, ke.len, out, IKE_DH_MAX_LEN, len) !=
	    IKE_CRYPTO_OK)
		return IKEV2_N_INVALID_SYNTAX;
	return 0;
}

bool busy_with_child(const struct ikesa *sa, const struct cc_sa *cc)
{
	return (cc->busy && cc->out.kind != CC_REKEY_IKE) ||
	       (sa->req_out && sa->req_kind == REQ_CHILD_DELETE);
}

/* Why this IKE SA takes no CHILD SA change now, or NULL. */
static const char *child_blocked(const struct ikesa *sa,
				 const struct cc_sa *cc)
{
	if (cc->rekeyed || sa->state != IKESA_ESTABLISHED)
		return "the IKE SA is being rekeyed or deleted";
	if (cc->busy && cc->out.kind == CC_REKEY_IKE)
		return "our IKE SA rekey is under way";
	return NULL;
}

/* The CHILD SA a REKEY_SA names (our outbound SPI), or an error. */
static uint16_t rekeyed_child(struct ikesa *sa, const struct ike_msg *msg,
			      struct child_sa **old)
{
	struct ike_notify n;

	*old = NULL;
	if (!sealed_notify(msg, IKEV2_N_REKEY_SA, &n))
		return 0;
	if ((n.protocol != IKEV2_PROTO_ESP && n.protocol != IKEV2_PROTO_AH) ||
	    n.spi_size != 4 || !n.spi)
		return IKEV2_N_INVALID_SYNTAX;
	*old = child_find(sa, 0, be32(n.spi));
	if (!*old || ike_proto((*old)->proto) != n.protocol) {
		*old = NULL;
		return IKEV2_N_CHILD_SA_NOT_FOUND;
	}
	return (*old)->dying ? IKEV2_N_TEMPORARY_FAILURE : 0;
}

static void respond_child(struct daemon *d, struct ikesa *sa,
			  const struct ike_msg *req, struct child_choice *ch,
			  const uint8_t *nr, const struct ike_dh *dh)
{
	static uint8_t buf[CC_BUF];
	struct ike_nonce n = { nr, CC_NONCE_LEN };
	uint8_t pub[IKE_DH_MAX_LEN];
	struct ike_ke ke = { ch->c.suite.dh, pub, 0 };
	struct ike_builder b;
	size_t len = 0;

	ike_build_chain(&b, buf, sizeof(buf));
	child_choice_add(ch, &b);
	ike_add_nonce(&b, &n);
	if (dh && ike_dh_public(dh, pub, sizeof(pub), &ke.len) ==
	    IKE_CRYPTO_OK)
		ike_add_ke(&b, &ke);
	if (ike_build_finish(&b, &len) != IKE_MSG_OK ||
	    ikesa_respond(d, sa, &req->hdr, b.first, buf, len))
		log_warn("IKE SA %" PRIu64 ": cannot answer a CREATE_CHILD_SA "
			 "request", sa->serial);
}

/* The peer rekeyed old while our rekey of it is out: remember its
 * exchange for the comparison when ours is answered. */
void note_collision(struct cc_sa *cc, const struct ike_nonce *ni,
		    const uint8_t *nr, uint32_t child, uint64_t ike)
{
	cc->out.peer_done = true;
	lower_nonce(ni->data, ni->len, nr, CC_NONCE_LEN, &cc->out.peer);
	cc->out.peer_child = child;
	cc->out.peer_ike = ike;
}

void child_request(struct daemon *d, struct ikesa *sa,
		   struct cc_sa *cc, const struct ike_msg *req,
		   const struct ike_nonce *ni)
{
	uint8_t nr[CC_NONCE_LEN], g_ir[IKE_DH_MAX_LEN];
	struct child_keymat km = { ni->data, nr, ni->len, sizeof(nr), NULL, 0,
				   false };
	struct ike_dh *dh = NULL;
	struct child_sa *old;
	struct child_choice ch;
	const char *blocked = child_blocked(sa, cc);
	uint32_t old_spi = 0, old_out = 0;
	uint16_t err;
	size_t glen = 0;

	if (blocked) {
		refuse(d, sa, req, IKEV2_N_TEMPORARY_FAILURE, 0, blocked);
		return;
	}
	if (keys_spent(sa)) {
		refuse(d, sa, req, IKEV2_N_TEMPORARY_FAILURE, 0, "qmpermm: this "
		       "IKE SA keyed all the CHILD SAs it may; rekeying it");
		want_add(d, sa, &(struct cc_want){ .kind = CC_REKEY_IKE },
			 true);
		return;
	}
	err = rekeyed_child(sa, req, &old);
	if (err) {
		refuse(d, sa, req, err, 0, err == IKEV2_N_CHILD_SA_NOT_FOUND
		       ? "REKEY_SA names no CHILD SA of ours" : err ==
		       IKEV2_N_TEMPORARY_FAILURE ? "that CHILD SA is being "
		       "deleted" : "malformed REKEY_SA notify");
		return;
	}
	if (old) {
		old_spi = old->spi_in;
		old_out = old->spi_out;
	}
	err = child_choose(d, sa, req, old, &ch);
	if (err) {
		exch_respond_notify(d, sa, &req->hdr, err, NULL, 0);
		return;
	}
	if (ch.c.suite.dh) {
		err = peer_ke(req, ch.c.suite.dh, &dh, g_ir, &glen);
		if (err) {
			ike_dh_free(dh);
			refuse(d, sa, req, err, err == IKEV2_N_INVALID_KE_PAYLOAD
			       ? ch.c.suite.dh : 0, "no KE payload of the "
			       "chosen PFS group");
			return;
		}
		km.g_ir = g_ir;
		km.g_ir_len = glen;
	}
	if (ike_random(nr, sizeof(nr)) != IKE_CRYPTO_OK ||
	    child_choice_install(d, sa, &ch, &km, old != NULL)) {
		ike_dh_free(dh);
		ike_wipe(g_ir, sizeof(g_ir));
		exch_respond_notify(d, sa, &req->hdr,
				    IKEV2_N_NO_PROPOSAL_CHOSEN, NULL, 0);
		return;
	}
	ike_wipe(g_ir, sizeof(g_ir));
	respond_child(d, sa, req, &ch, nr, dh);
	ike_dh_free(dh);
	if (!old)
		return;
	d->stats.v[ST_CHILD_REKEYS]++;
	d->stats.v[ST_KEY_UPDATES]++;
	ikelog_event(d, "sa-rekeyed", sa, "CHILD SA rekeyed by the peer "
	       "old=%08" PRIx32 "/%08" PRIx32 " new=%08" PRIx32 "/%08" PRIx32
	       "%s", old_spi, old_out, ch.c.spi_in, ch.c.spi_out,
	       ch.c.suite.dh ? " pfs" : "");
	want_drop(cc, CC_REKEY_CHILD, old_spi);
	if (cc->busy && cc->out.kind == CC_REKEY_CHILD &&
	    cc->out.old_spi == old_spi)
		note_collision(cc, ni, nr, ch.c.spi_in, 0);
}

/* ---- the table for the SA table ---------------------------------------------- */

static void create_request(struct daemon *d, struct ikesa *sa,
			   const struct ike_dgram *dg, const struct ike_msg *msg)
{
	exch_create_request(d, sa, msg);
}

static void create_response(struct daemon *d, struct ikesa *sa,
			    const struct ike_dgram *dg,
			    const struct ike_msg *msg)
{
	exch_create_response(d, sa, msg);
}

const struct exchange_ops exch_create_ops = {
	.type = IKEV2_EXCH_CREATE_CHILD_SA,
	.request = create_request,
	.response = create_response,
	.sa_gone = exch_create_sa_gone,
	.rekey_ike = exch_create_rekey_ike,
};
