// SPDX-License-Identifier: GPL-2.0-only
/*
 * exchange_create.c - CREATE_CHILD_SA (RFC 7296 §1.3, §2.8, §2.8.1) and
 * what starts it:
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

#define CC_WANT_MAX   16
#define CC_NONCE_LEN  32
#define CC_KE_TRIES   2		/* INVALID_KE_PAYLOAD rounds */
#define CC_RETRY_CHILD_MS 500	/* after TEMPORARY_FAILURE: 1-2x this */
#define CC_RETRY_IKE_MS   3000
#define CC_BUF        4096
#define CC_OLD_IKE_MS 30000	/* a rekeyed IKE SA the peer did not delete */
#define CC_FRESH_TRIES 3	/* qmpermm: IKE SA rekeys tried in a row */

enum cc_kind { CC_NONE = 0, CC_NEW, CC_REKEY_CHILD, CC_REKEY_IKE, CC_DELETE };

static const char *const kind_names[] = {
	[CC_NONE] = "none", [CC_NEW] = "new CHILD SA",
	[CC_REKEY_CHILD] = "CHILD SA rekey", [CC_REKEY_IKE] = "IKE SA rekey",
	[CC_DELETE] = "CHILD SA delete",
};

struct cc_want {
	uint8_t kind;
	uint32_t spi;			/* our inbound SPI (rekey, delete) */
	bool has_sel;			/* NEW from an ACQUIRE: its flow */
	struct ikk_selector sel;
	char rule[PEER_NAME_MAX];	/* NEW: the rule asked for; "" any */
	uint32_t acquire_seq;		/* NEW from an ACQUIRE: its seq */
	uint64_t not_before_ms;		/* refused (TEMPORARY_FAILURE): wait */
};

/* The lower nonce of an exchange: what §2.8.1 compares. */
struct cc_nonce {
	uint8_t b[IKEV2_NONCE_MAX];
	size_t len;
};

struct cc_out {				/* our CREATE_CHILD_SA request */
	uint8_t kind;
	struct cc_want w;		/* what it was for (to ask again) */
	uint32_t old_spi;		/* REKEY_CHILD: the SA rekeyed */
	uint8_t old_proto;		/* and its IPPROTO_ESP or _AH */
	struct child_offer offer;	/* NEW, REKEY_CHILD */
	uint64_t new_spi;		/* REKEY_IKE: our SPI of the new SA */
	uint8_t ni[CC_NONCE_LEN];
	struct ike_dh *dh;
	uint16_t group;			/* of dh; 0 none */
	unsigned ke_tries;
	/* a collision: the peer rekeyed the same SA meanwhile */
	bool peer_done;
	struct cc_nonce peer;
	uint32_t peer_child;		/* our inbound SPI of its CHILD SA */
	uint64_t peer_ike;		/* serial of its IKE SA */
	char rule_gone[96];		/* NEW, REKEY_CHILD: the policy changed
					 * meanwhile (why); delete it once made */
};

struct cc_sa {				/* sa->create */
	struct cc_want want[CC_WANT_MAX];
	size_t nwant;
	bool busy;			/* out is outstanding */
	struct cc_out out;
	uint32_t del[CC_WANT_MAX];	/* in our ESP Delete request */
	size_t ndel;
	bool rekeyed;			/* a new IKE SA replaces this one */
	unsigned fresh_tries;		/* qmpermm: IKE SA rekeys started */
	struct ike_timer t_retry;	/* the first want that waits */
};

struct cc_daemon {			/* d->create */
	struct ike_timer t_idle;
};

/* ---- state ------------------------------------------------------------------ */

static void retry_fire(struct daemon *d, void *arg)
{
	struct ikesa *sa = arg;

	if (sa->state == IKESA_ESTABLISHED && !sa->req_out)
		exch_info_send_wanted(d, sa);
}

static struct cc_sa *cc_of(struct daemon *d, struct ikesa *sa)
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

static void out_clear(struct daemon *d, struct cc_sa *cc, bool keep_offer)
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

static void put_be64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void lower_nonce(const uint8_t *a, size_t al, const uint8_t *b,
			size_t bl, struct cc_nonce *out)
{
	size_t n = al < bl ? al : bl;
	int c = memcmp(a, b, n);
	bool a_low = c < 0 || (c == 0 && al <= bl);

	out->len = a_low ? al : bl;
	memcpy(out->b, a_low ? a : b, out->len);
}

static int nonce_cmp(const struct cc_nonce *a, const struct cc_nonce *b)
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

static struct ikesa *current(struct daemon *d, struct ikesa *sa)
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

static void want_add(struct daemon *d, struct ikesa *sa,
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
static void arm_retry(struct daemon *d, struct cc_sa *cc, bool due_too)
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

static void wants_move(struct daemon *d, struct ikesa *from, struct ikesa *to)
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

static void want_new_child(struct daemon *d, struct ikesa *sa,
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

static int send_request(struct daemon *d, struct ikesa *sa, struct cc_sa *cc)
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

static void refuse(struct daemon *d, struct ikesa *sa,
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
static uint16_t peer_ke(const struct ike_msg *msg, uint16_t group,
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

static bool busy_with_child(const struct ikesa *sa, const struct cc_sa *cc)
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
static void note_collision(struct cc_sa *cc, const struct ike_nonce *ni,
			   const uint8_t *nr, uint32_t child, uint64_t ike)
{
	cc->out.peer_done = true;
	lower_nonce(ni->data, ni->len, nr, CC_NONCE_LEN, &cc->out.peer);
	cc->out.peer_child = child;
	cc->out.peer_ike = ike;
}

static void child_request(struct daemon *d, struct ikesa *sa,
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
	ikelog(d, IKELOG_OUTCOME, sa, "CHILD SA rekeyed by the peer "
	       "old=%08" PRIx32 "/%08" PRIx32 " new=%08" PRIx32 "/%08" PRIx32
	       "%s", old_spi, old_out, ch.c.spi_in, ch.c.spi_out,
	       ch.c.suite.dh ? " pfs" : "");
	want_drop(cc, CC_REKEY_CHILD, old_spi);
	if (cc->busy && cc->out.kind == CC_REKEY_CHILD &&
	    cc->out.old_spi == old_spi)
		note_collision(cc, ni, nr, ch.c.spi_in, 0);
}

/* ---- IKE SA rekey, responder ------------------------------------------------------- */

/* The chosen IKE proposal and the peer's new SPI.  0 or a notify. */
static uint16_t ike_choose(const struct ikesa *sa, const struct ike_msg *req,
			   uint16_t ke_group, struct ike_suite *suite,
			   uint8_t *num, uint64_t *peer_spi)
{
	const struct ike_payload *psa = sealed_find(req, IKEV2_PL_SA, NULL);
	static struct ike_sa offer;
	uint64_t spis[IKE_MAX_PROPOSALS];
	size_t i;

	if (ike_decode_sa(psa, &offer) != IKE_MSG_OK)
		return IKEV2_N_INVALID_SYNTAX;
	for (i = 0; i < offer.nproposals; i++) {
		struct ike_proposal *p = &offer.prop[i];

		spis[i] = 0;
		if (p->protocol != IKEV2_PROTO_IKE || p->spi_size != 8)
			continue;
		spis[i] = be64(p->spi);
		p->spi_size = 0;	/* as proposal_select knows them */
	}
	if (proposal_select(&sa->conf, &offer, ke_group, suite, num))
		return IKEV2_N_NO_PROPOSAL_CHOSEN;
	for (i = 0; i < offer.nproposals; i++)
		if (offer.prop[i].num == *num && spis[i]) {
			*peer_spi = spis[i];
			return suite->dh == ke_group ? 0
			       : IKEV2_N_INVALID_KE_PAYLOAD;
		}
	return IKEV2_N_NO_PROPOSAL_CHOSEN;
}

/* Keys of the new IKE SA (§2.18). */
static int rekey_keys(const struct ikesa *old, const struct ike_suite *suite,
		      const uint8_t *g_ir, size_t glen,
		      const uint8_t *ni, size_t ni_len,
		      const uint8_t *nr, size_t nr_len,
		      uint64_t spi_i, uint64_t spi_r, struct ike_sa_keys *k)
{
	uint8_t seed[IKE_PRF_MAX_LEN];
	int rc = -1;

	if (ike_skeyseed_rekey(&old->keys, g_ir, glen, ni, ni_len, nr, nr_len,
			       seed) == IKE_CRYPTO_OK &&
	    ike_sa_keys_derive(k, suite, seed, ni, ni_len, nr, nr_len, spi_i,
			       spi_r) == IKE_CRYPTO_OK)
		rc = 0;
	ike_wipe(seed, sizeof(seed));
	return rc;
}

/* The new IKE SA takes over from old: keys, nonces, CHILD SAs, wants. */
static struct ikesa *take_over(struct daemon *d, struct ikesa *old,
			       bool initiator, uint64_t spi_i, uint64_t spi_r,
			       struct ike_sa_keys *keys,
			       const uint8_t *ni, size_t ni_len,
			       const uint8_t *nr, size_t nr_len)
{
	struct ikesa *n = ikesa_new_rekeyed(d, old, initiator, spi_i, spi_r);
	char suite[128];

	if (!n) {
		ike_sa_keys_wipe(keys);
		return NULL;
	}
	n->keys = *keys;
	n->have_keys = true;
	ike_sa_keys_wipe(keys);
	memcpy(n->ni, ni, ni_len);
	n->ni_len = ni_len;
	memcpy(n->nr, nr, nr_len);
	n->nr_len = nr_len;
	child_move(old, n);
	wants_move(d, old, n);
	cc_of(d, old)->rekeyed = true;
	timer_stop(&old->t_life);
	if (!initiator)		/* the peer deletes it; if not, we do */
		timer_arm(&old->t_life, CC_OLD_IKE_MS);
	d->stats.v[ST_IKE_REKEYS]++;
	ikelog(d, IKELOG_OUTCOME, n, "IKE SA rekeyed old=ike[%" PRIu64 "] "
	       "%s suite=\"%s\" children=%zu", old->serial,
	       initiator ? "by us" : "by the peer",
	       suite_str(&n->keys.suite, suite, sizeof(suite)),
	       child_count(n));
	return n;
}

static void respond_ike(struct daemon *d, struct ikesa *sa,
			const struct ike_msg *req, const struct ike_suite *s,
			uint8_t num, uint64_t spi, const uint8_t *nr,
			const struct ike_dh *dh)
{
	static uint8_t buf[CC_BUF];
	struct ike_nonce n = { nr, CC_NONCE_LEN };
	uint8_t pub[IKE_DH_MAX_LEN];
	struct ike_ke ke = { s->dh, pub, 0 };
	struct ike_builder b;
	struct ike_sa ans;
	size_t len = 0;

	proposal_answer(s, num, &ans);
	ans.prop[0].spi_size = 8;
	put_be64(ans.prop[0].spi, spi);
	ike_build_chain(&b, buf, sizeof(buf));
	ike_add_sa(&b, &ans);
	ike_add_nonce(&b, &n);
	if (ike_dh_public(dh, pub, sizeof(pub), &ke.len) == IKE_CRYPTO_OK)
		ike_add_ke(&b, &ke);
	if (ike_build_finish(&b, &len) != IKE_MSG_OK ||
	    ikesa_respond(d, sa, &req->hdr, b.first, buf, len))
		log_warn("IKE SA %" PRIu64 ": cannot answer an IKE SA rekey",
			 sa->serial);
}

static void ike_request(struct daemon *d, struct ikesa *sa, struct cc_sa *cc,
			const struct ike_msg *req, const struct ike_nonce *ni)
{
	const struct ike_payload *pk = sealed_find(req, IKEV2_PL_KE, NULL);
	uint8_t nr[CC_NONCE_LEN], g_ir[IKE_DH_MAX_LEN];
	struct ike_sa_keys keys;
	struct ike_suite suite;
	struct ike_dh *dh = NULL;
	struct ikesa *n;
	struct ike_ke ke;
	uint64_t peer_spi = 0, our_spi;
	uint16_t err;
	uint8_t num = 0;
	size_t glen = 0;

	if (cc->rekeyed || sa->state != IKESA_ESTABLISHED ||
	    busy_with_child(sa, cc)) {
		refuse(d, sa, req, IKEV2_N_TEMPORARY_FAILURE, 0, cc->rekeyed ||
		       sa->state != IKESA_ESTABLISHED ? "already rekeyed or "
		       "being deleted" : "a CHILD SA change is under way");
		return;
	}
	if (!pk || ike_decode_ke(pk, &ke) != IKE_MSG_OK) {
		ike_drop(d, ST_DROP_MISSING_PAYLOAD, NULL, &req->hdr,
			 "IKE SA rekey without a KE payload");
		refuse(d, sa, req, IKEV2_N_INVALID_SYNTAX, 0, "no KE payload");
		return;
	}
	err = ike_choose(sa, req, ke.group, &suite, &num, &peer_spi);
	if (!err)
		err = peer_ke(req, suite.dh, &dh, g_ir, &glen);
	if (err) {
		ike_dh_free(dh);
		refuse(d, sa, req, err, err == IKEV2_N_INVALID_KE_PAYLOAD
		       ? suite.dh : 0, err == IKEV2_N_NO_PROPOSAL_CHOSEN
		       ? "no IKE proposal of the peer fits the rule"
		       : err == IKEV2_N_INVALID_KE_PAYLOAD ? "the KE payload is "
		       "not of the chosen group" : "the KE payload is unusable");
		return;
	}
	our_spi = ikesa_fresh_spi(d);
	if (ike_random(nr, sizeof(nr)) != IKE_CRYPTO_OK ||
	    rekey_keys(sa, &suite, g_ir, glen, ni->data, ni->len, nr,
		       sizeof(nr), peer_spi, our_spi, &keys)) {
		ike_dh_free(dh);
		ike_wipe(g_ir, sizeof(g_ir));
		refuse(d, sa, req, IKEV2_N_NO_PROPOSAL_CHOSEN, 0,
		       "cannot derive the new keys");
		return;
	}
	ike_wipe(g_ir, sizeof(g_ir));
	respond_ike(d, sa, req, &suite, num, our_spi, nr, dh);
	ike_dh_free(dh);
	n = take_over(d, sa, false, peer_spi, our_spi, &keys, ni->data,
		      ni->len, nr, sizeof(nr));
	if (n && cc->busy && cc->out.kind == CC_REKEY_IKE)
		note_collision(cc, ni, nr, 0, n->serial);
}

void exch_create_request(struct daemon *d, struct ikesa *sa,
			 const struct ike_msg *msg)
{
	const struct ike_payload *psa = sealed_find(msg, IKEV2_PL_SA, NULL);
	const struct ike_payload *pn = sealed_find(msg, IKEV2_PL_NONCE, NULL);
	struct cc_sa *cc = cc_of(d, sa);
	struct ike_nonce ni;
	struct ike_sa offer;

	if (!psa || !pn) {
		ike_drop(d, ST_DROP_MISSING_PAYLOAD, NULL, &msg->hdr,
			 "CREATE_CHILD_SA without %s", !psa ? "SA" : "Nonce");
		refuse(d, sa, msg, IKEV2_N_INVALID_SYNTAX, 0, "missing "
		       "payload");
		return;
	}
	if (ike_decode_sa(psa, &offer) != IKE_MSG_OK || offer.nproposals < 1 ||
	    ike_decode_nonce(pn, &ni) != IKE_MSG_OK ||
	    ni.len < IKEV2_NONCE_MIN || ni.len > IKEV2_NONCE_MAX) {
		ike_drop(d, ST_DROP_BAD_PAYLOAD, NULL, &msg->hdr,
			 "CREATE_CHILD_SA with a bad SA or Nonce payload");
		refuse(d, sa, msg, IKEV2_N_INVALID_SYNTAX, 0, "bad SA or "
		       "Nonce payload");
		return;
	}
	if (offer.prop[0].protocol == IKEV2_PROTO_IKE)
		ike_request(d, sa, cc, msg, &ni);
	else if (!d->child)
		exch_info_child_request(d, sa, msg);
	else
		child_request(d, sa, cc, msg, &ni);
}

/* ---- the answers to ours --------------------------------------------------------------- */

/* How long a refused request waits (the order in the header comment):
 * between one and two times its kind's base, at random. */
static uint64_t retry_wait_ms(uint8_t kind)
{
	uint64_t base = kind == CC_REKEY_IKE ? CC_RETRY_IKE_MS
					     : CC_RETRY_CHILD_MS;
	uint32_t r = 0;

	ike_random(&r, sizeof(r));
	return base + r % base;
}

/* Ask again later (TEMPORARY_FAILURE). */
static void retry_later(struct daemon *d, struct ikesa *sa, struct cc_sa *cc)
{
	struct cc_want w = cc->out.w;

	w.not_before_ms = daemon_now_ms(d) + retry_wait_ms(w.kind);
	out_clear(d, cc, false);
	want_add(d, sa, &w, true);
	arm_retry(d, cc_of(d, current(d, sa)), false);
}

/* INVALID_KE_PAYLOAD: again with the peer's group when we may. */
static bool retry_group(struct daemon *d, struct ikesa *sa, struct cc_sa *cc,
			const struct ike_notify *n)
{
	struct cc_out *o = &cc->out;
	uint16_t g = 0;

	d->stats.v[ST_INVALID_KE_RECEIVED]++;
	if (ike_notify_dh_group(n, &g) != IKE_MSG_OK || !g || g == o->group ||
	    ++o->ke_tries > CC_KE_TRIES || !ike_dh_public_len(g) ||
	    (o->kind == CC_REKEY_IKE ? !proposal_has_group(&sa->conf, g)
				     : !o->group))
		return false;
	ikelog(d, IKELOG_DETAIL, sa, "peer wants D-H group %s: again",
	       ike_transform_name(IKEV2_XFORM_DH, g));
	o->group = g;
	if (send_request(d, sa, cc) == 0)
		return true;
	return false;
}

/* The peer's Nr (and, with a group, g^ir from its KE): 0 or -1. */
static int answer_nonce_ke(const struct ike_msg *msg, const struct cc_out *o,
			   struct ike_nonce *nr, uint8_t *g_ir, size_t *glen)
{
	const struct ike_payload *pn = sealed_find(msg, IKEV2_PL_NONCE, NULL);
	const struct ike_payload *pk = sealed_find(msg, IKEV2_PL_KE, NULL);
	struct ike_ke ke;

	*glen = 0;
	if (!pn || ike_decode_nonce(pn, nr) != IKE_MSG_OK ||
	    nr->len < IKEV2_NONCE_MIN || nr->len > IKEV2_NONCE_MAX)
		return -1;
	if (!o->group)
		return 0;
	if (!pk || ike_decode_ke(pk, &ke) != IKE_MSG_OK ||
	    ke.group != o->group ||
	    ike_dh_shared(o->dh, ke.data, ke.len, g_ir, IKE_DH_MAX_LEN,
			  glen) != IKE_CRYPTO_OK)
		return -1;
	return 0;
}

/* §2.8.1: is our new SA the redundant one? */
static bool ours_redundant(const struct cc_out *o, const struct ike_nonce *nr)
{
	struct cc_nonce mine;

	lower_nonce(o->ni, sizeof(o->ni), nr->data, nr->len, &mine);
	return nonce_cmp(&mine, &o->peer) < 0;
}

static void child_rekeyed(struct daemon *d, struct ikesa *sa,
			  struct cc_out *o, const struct ike_nonce *nr,
			  uint32_t new_spi)
{
	d->stats.v[ST_CHILD_REKEYS]++;
	d->stats.v[ST_KEY_UPDATES]++;
	ikelog(d, IKELOG_OUTCOME, sa, "CHILD SA rekeyed old=%08" PRIx32
	       " new=%08" PRIx32 "%s", o->old_spi, new_spi,
	       o->group ? " pfs" : "");
	if (!o->peer_done) {
		exch_create_delete_child(d, sa, o->old_spi, "rekeyed");
	} else if (ours_redundant(o, nr)) {
		ikelog(d, IKELOG_OUTCOME, sa, "CHILD SA rekey collision: ours "
		       "(%08" PRIx32 ") has the lowest nonce and goes",
		       new_spi);
		child_release_out(d, sa, o->peer_child);
		exch_create_delete_child(d, sa, new_spi, "redundant rekey");
	} else {
		ikelog(d, IKELOG_OUTCOME, sa, "CHILD SA rekey collision: ours "
		       "(%08" PRIx32 ") stays, the peer deletes its own",
		       new_spi);
		exch_create_delete_child(d, sa, o->old_spi, "rekeyed");
	}
}

static void child_response(struct daemon *d, struct ikesa *sa,
			   struct cc_sa *cc, const struct ike_msg *msg)
{
	struct cc_out o = cc->out;
	uint8_t g_ir[IKE_DH_MAX_LEN];
	struct child_keymat km;
	struct ike_nonce nr;
	uint32_t new_spi = 0;
	uint16_t dh = 0;
	size_t glen = 0;
	char why[200] = "";

	if (child_offer_accept(d, sa, &o.offer, msg, &dh, why, sizeof(why)) ||
	    dh != o.group || answer_nonce_ke(msg, &o, &nr, g_ir, &glen)) {
		ikelog(d, IKELOG_OUTCOME, sa, "%s failed reason=\"%s\"",
		       kind_names[o.kind], why[0] ? why : dh != o.group
		       ? "the answer's D-H group is not ours"
		       : "bad Nonce or KE payload");
		if (o.kind == CC_NEW)
			backoff_failed(d, &sa->path.peer, "a new CHILD SA: the "
				       "peer's answer does not fit");
		out_clear(d, cc, false);
		return;
	}
	km = (struct child_keymat){ o.ni, nr.data, sizeof(o.ni), nr.len,
				    glen ? g_ir : NULL, glen, true };
	/* from here the offer's SPI is child.c's (installed or given back) */
	cc->out.offer.spi_in = 0;
	out_clear(d, cc, true);
	o.dh = NULL;
	if (child_offer_install(d, sa, &o.offer, msg, &km, &new_spi)) {
		if (o.kind == CC_NEW)
			backoff_failed(d, &sa->path.peer, "a new CHILD SA: "
				       "not installed");
	} else {
		if (o.kind == CC_NEW)
			backoff_succeeded(d, &sa->path.peer);
		if (o.kind == CC_REKEY_CHILD)
			child_rekeyed(d, sa, &o, &nr, new_spi);
		/* the peer has it too: a Delete tells it */
		if (o.rule_gone[0])
			exch_create_delete_child(d, sa, new_spi, o.rule_gone);
	}
	ike_wipe(g_ir, sizeof(g_ir));
	ike_wipe(&o, sizeof(o));
}

static void ike_rekeyed(struct daemon *d, struct ikesa *old,
			struct cc_out *o, const struct ike_nonce *nr,
			struct ikesa *n)
{
	struct ikesa *theirs = o->peer_done ? ikesa_find_serial(d, o->peer_ike)
					    : NULL;

	if (theirs && theirs->state == IKESA_ESTABLISHED &&
	    ours_redundant(o, nr)) {
		ikelog(d, IKELOG_OUTCOME, n, "IKE SA rekey collision: ours has "
		       "the lowest nonce and goes");
		child_move(n, theirs);
		snprintf(n->close_reason, sizeof(n->close_reason),
			 "redundant IKE SA (rekey collision)");
		ikesa_want(d, n, true, false);
		return;
	}
	if (theirs && theirs->state == IKESA_ESTABLISHED) {
		ikelog(d, IKELOG_OUTCOME, n, "IKE SA rekey collision: ours "
		       "stays, the peer deletes its own");
		child_move(theirs, n);
	}
	snprintf(old->close_reason, sizeof(old->close_reason),
		 "rekeyed: replaced by ike[%" PRIu64 "]", n->serial);
	ikesa_want(d, old, true, false);
}

/* The SA payload of the answer to our IKE rekey: suite and SPI. */
static int ike_answer(const struct ikesa *sa, const struct ike_msg *msg,
		      struct ike_suite *suite, uint64_t *spi)
{
	const struct ike_payload *psa = sealed_find(msg, IKEV2_PL_SA, NULL);
	static struct ike_sa ans;

	if (!psa || ike_decode_sa(psa, &ans) != IKE_MSG_OK ||
	    ans.nproposals != 1 || ans.prop[0].protocol != IKEV2_PROTO_IKE ||
	    ans.prop[0].spi_size != 8)
		return -1;
	*spi = be64(ans.prop[0].spi);
	ans.prop[0].spi_size = 0;
	return proposal_check_answer(&sa->conf, &ans, suite);
}

static void ike_response(struct daemon *d, struct ikesa *sa, struct cc_sa *cc,
			 const struct ike_msg *msg)
{
	struct cc_out o = cc->out;
	uint8_t g_ir[IKE_DH_MAX_LEN];
	struct ike_sa_keys keys;
	struct ike_suite suite;
	struct ike_nonce nr;
	struct ikesa *n;
	uint64_t spi = 0;
	size_t glen = 0;
	int bad;

	bad = ike_answer(sa, msg, &suite, &spi) || suite.dh != o.group ||
	      answer_nonce_ke(msg, &o, &nr, g_ir, &glen) ||
	      rekey_keys(sa, &suite, g_ir, glen, o.ni, sizeof(o.ni), nr.data,
			 nr.len, o.new_spi, spi, &keys);
	ike_wipe(g_ir, sizeof(g_ir));
	out_clear(d, cc, true);
	o.dh = NULL;
	if (bad) {
		ikelog(d, IKELOG_OUTCOME, sa, "IKE SA rekey failed reason=\"a "
		       "bad answer\": deleting the IKE SA");
		snprintf(sa->close_reason, sizeof(sa->close_reason),
			 "IKE SA rekey failed");
		ikesa_want(d, sa, true, false);
		return;
	}
	n = take_over(d, sa, true, o.new_spi, spi, &keys, o.ni, sizeof(o.ni),
		      nr.data, nr.len);
	if (n)
		ike_rekeyed(d, sa, &o, &nr, n);
	ike_wipe(&o, sizeof(o));
}

/* The peer refused ours with an error notify. */
static void refused(struct daemon *d, struct ikesa *sa, struct cc_sa *cc,
		    const struct ike_notify *n)
{
	struct cc_out *o = &cc->out;
	uint8_t kind = o->kind;
	uint32_t old_spi = o->old_spi;
	bool peer_done = o->peer_done;

	if (n->type == IKEV2_N_INVALID_KE_PAYLOAD && retry_group(d, sa, cc, n))
		return;
	if (n->type == IKEV2_N_TEMPORARY_FAILURE) {
		ikelog(d, IKELOG_DETAIL, sa, "%s: peer busy "
		       "(TEMPORARY_FAILURE), again later", kind_names[kind]);
		retry_later(d, sa, cc);
		return;
	}
	ikelog(d, IKELOG_OUTCOME, sa, "%s failed reason=\"refused by the "
	       "peer: %s\"", kind_names[kind], notify_name(n->type));
	if (n->type == IKEV2_N_NO_PROPOSAL_CHOSEN)
		d->stats.v[ST_NO_PROPOSAL_CHOSEN]++;
	if (kind == CC_NEW) {
		char why[80];

		snprintf(why, sizeof(why), "a new CHILD SA: peer answered %s",
			 notify_name(n->type));
		backoff_failed(d, &sa->path.peer, why);
	}
	out_clear(d, cc, false);
	if (kind == CC_REKEY_CHILD && n->type == IKEV2_N_CHILD_SA_NOT_FOUND)
		child_remove(d, sa, old_spi, "the peer does not know it");
	if (kind == CC_REKEY_IKE && !peer_done) {
		snprintf(sa->close_reason, sizeof(sa->close_reason),
			 "IKE SA lifetime over, rekey refused");
		ikesa_want(d, sa, true, false);
	}
}

void exch_create_response(struct daemon *d, struct ikesa *sa,
			  const struct ike_msg *msg)
{
	struct cc_sa *cc = sa->create;
	struct ike_notify n;

	if (!cc || !cc->busy)
		return;
	if (sealed_error(msg, &n)) {
		refused(d, sa, cc, &n);
		return;
	}
	if (cc->out.kind == CC_REKEY_IKE)
		ike_response(d, sa, cc, msg);
	else
		child_response(d, sa, cc, msg);
}

/* ---- the kernel ---------------------------------------------------------------------- */

static void sockaddr_of(const struct ikk_addr *a, uint16_t port,
			struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_addr = a->u.v4;
		s4->sin_port = htons(port);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = a->u.v6;
		s6->sin6_port = htons(port);
	}
}

static void acquire(struct daemon *d, const struct ikk_event *ev)
{
	struct sockaddr_storage peer;
	char p[ADDR_STR_MAX], err[300];
	struct ikesa *sa;
	uint64_t serial, left;

	if (ev->dst.family != AF_INET && ev->dst.family != AF_INET6)
		return;
	sockaddr_of(&ev->dst, d->port, &peer);
	sa = ikesa_find_peer(d, &peer);
	if ((!sa || sa->state == IKESA_ESTABLISHED) &&
	    backoff_holds(d, &peer, &left)) {
		/* counted; the step was logged: the next ACQUIRE asks again */
		log_debug("kernel ACQUIRE for %s: held back after failed "
			  "negotiations, %" PRIu64 " ms more",
			  addr_str(&peer, p, sizeof(p)), left);
		return;
	}
	if (sa && sa->state == IKESA_ESTABLISHED) {
		ikelog(d, IKELOG_DETAIL, sa, "kernel ACQUIRE: a CHILD SA on "
		       "this IKE SA");
		want_new_child(d, sa, &ev->sel, NULL, ev->seq);
		return;
	}
	if (sa)
		return;		/* a negotiation with the peer is under way */
	log_info("kernel ACQUIRE for %s: starting IKE",
		 addr_str(&peer, p, sizeof(p)));
	if (exch_init_start(d, &peer, &serial, err, sizeof(err)))
		log_warn("kernel ACQUIRE for %s: cannot start IKE: %s", p, err);
	else if ((sa = ikesa_find_serial(d, serial)) != NULL)
		sa->acquire_seq = ev->seq;
}

static void expire(struct daemon *d, const struct ikk_event *ev)
{
	bool inbound = false;
	struct ikesa *sa = child_owner(d, ev->spi, &inbound);
	struct child_sa *c;

	if (!sa)
		return;		/* one of ours already gone */
	c = inbound ? child_find(sa, ev->spi, 0) : child_find(sa, 0, ev->spi);
	if (!c || c->dying)
		return;
	ikelog(d, IKELOG_DETAIL, sa, "kernel %s EXPIRE of spi=%08" PRIx32,
	       ev->hard ? "hard" : "soft", ev->spi);
	if (ev->hard)
		exch_create_delete_child(d, sa, c->spi_in, "hard lifetime");
	else
		exch_create_rekey_child(d, sa, c->spi_in);
}

void exch_create_kernel_event(struct daemon *d, const struct ikk_event *ev)
{
	switch (ev->type) {
	case IKK_EV_ACQUIRE:
		acquire(d, ev);
		break;
	case IKK_EV_EXPIRE:
		if (ev->proto == IPPROTO_ESP || ev->proto == IPPROTO_AH)
			expire(d, ev);
		break;
	case IKK_EV_OVERRUN:
		log_warn("xfrm events were lost (socket overrun): some ACQUIRE "
			 "or EXPIRE went unseen");
		break;
	default:
		break;
	}
}

/* ---- idle CHILD SAs -------------------------------------------------------------------- */

static uint64_t idle_period_ms(const struct daemon *d)
{
	uint64_t p = (uint64_t)d->tun.child_idle_s * 1000 / 4;

	return p < 1000 ? 1000 : p > 60000 ? 60000 : p;
}

static void idle_visit(struct daemon *d, struct ikesa *sa, void *arg)
{
	uint64_t now = daemon_now_ms(d), idle = *(uint64_t *)arg, bytes;
	struct child_sa *c;
	size_t i;

	if (sa->state != IKESA_ESTABLISHED)
		return;
	for (i = 0; (c = child_at(sa, i)) != NULL; i++) {
		if (c->dying || child_bytes(d, c, &bytes))
			continue;
		if (bytes != c->seen_bytes) {
			c->seen_bytes = bytes;
			c->active_ms = now;
		} else if (now - c->active_ms >= idle) {
			ikelog(d, IKELOG_OUTCOME, sa, "CHILD SA spi-in=%08"
			       PRIx32 " idle for %" PRIu64 " s: deleting",
			       c->spi_in, (now - c->active_ms) / 1000);
			exch_create_delete_child(d, sa, c->spi_in, "idle");
		}
	}
}

void exch_create_idle_check(struct daemon *d, void *arg)
{
	struct cc_daemon *cd = d->create;
	uint64_t idle = (uint64_t)d->tun.child_idle_s * 1000;

	if (!cd || !idle)
		return;
	ikesa_foreach(d, idle_visit, &idle);
	timer_arm(&cd->t_idle, idle_period_ms(d));
}

int exch_create_use(struct daemon *d)
{
	struct cc_daemon *cd = calloc(1, sizeof(*cd));

	if (!cd)
		return -1;
	timer_init(d, &cd->t_idle, exch_create_idle_check, NULL);
	d->create = cd;
	if (d->tun.child_idle_s)
		timer_arm(&cd->t_idle, idle_period_ms(d));
	return 0;
}

void exch_create_release(struct daemon *d)
{
	struct cc_daemon *cd = d->create;

	if (!cd)
		return;
	timer_release(&cd->t_idle);
	free(cd);
	d->create = NULL;
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
