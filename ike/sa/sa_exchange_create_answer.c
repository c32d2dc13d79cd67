// SPDX-License-Identifier: GPL-2.0-only
/*
 * sa_exchange_create_answer.c - the answers to our CREATE_CHILD_SA requests: new and rekeyed CHILD SAs, IKE SA rekeys, collisions, failures
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
	ikelog_event(d, "sa-rekeyed", sa, "CHILD SA rekeyed old=%08" PRIx32
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
