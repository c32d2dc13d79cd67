// SPDX-License-Identifier: GPL-2.0-only
/*
 * sa_exchange_create_ike.c - rekeying the IKE SA as the responder (RFC 7296 §1.3.2, §2.18)
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
int rekey_keys(const struct ikesa *old, const struct ike_suite *suite,
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
struct ikesa *take_over(struct daemon *d, struct ikesa *old,
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
	ikelog_event(d, "rekeyed", n, "IKE SA rekeyed old=ike[%" PRIu64 "] "
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
