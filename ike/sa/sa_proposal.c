// SPDX-License-Identifier: GPL-2.0-only
/*
 * sa_proposal.c - IKE SA proposals (RFC 7296 §3.3): our offer from the
 * policy's IKE settings, the responder's choice among the peer's offer,
 * and the initiator's check of that choice.
 *
 * Only what the policy lists is ever accepted, so DES, 3DES, MD5, SHA-1
 * and groups 1, 2, 5 (refused by the policy parser, RFC 8221/8247) are
 * never chosen; a refusal logs what the peer offered.
 */
#include <stdio.h>
#include <string.h>

#include "sa/sa_ikesa.h"
#include "sa/sa_proposal.h"

static void suite_from(const struct peer_proposal *p, struct ike_suite *s)
{
	s->encr = p->encr;
	s->encr_key_bits = p->key_bits;
	s->integ = p->integ;
	s->prf = p->prf;
	s->dh = p->dh;
}

static void add_xf(struct ike_proposal *p, uint8_t type, uint16_t id,
		   uint16_t bits)
{
	struct ike_transform *x = &p->xf[p->ntransforms++];

	memset(x, 0, sizeof(*x));
	x->type = type;
	x->id = id;
	x->key_bits = bits;
}

static void fill_proposal(struct ike_proposal *p, uint8_t num,
			  const struct ike_suite *s)
{
	memset(p, 0, sizeof(*p));
	p->num = num;
	p->protocol = IKEV2_PROTO_IKE;
	add_xf(p, IKEV2_XFORM_ENCR, s->encr, s->encr_key_bits);
	add_xf(p, IKEV2_XFORM_PRF, s->prf, 0);
	if (s->integ != IKEV2_INTEG_NONE)
		add_xf(p, IKEV2_XFORM_INTEG, s->integ, 0);
	add_xf(p, IKEV2_XFORM_DH, s->dh, 0);
}

void proposal_offer(const struct peer_conf *pc, struct ike_sa *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < pc->nprop && i < IKE_MAX_PROPOSALS; i++) {
		struct ike_suite s;

		suite_from(&pc->prop[i], &s);
		fill_proposal(&out->prop[out->nproposals++], (uint8_t)(i + 1),
			      &s);
	}
}

void proposal_answer(const struct ike_suite *s, uint8_t num,
		     struct ike_sa *out)
{
	memset(out, 0, sizeof(*out));
	out->nproposals = 1;
	fill_proposal(&out->prop[0], num, s);
}

bool proposal_has_group(const struct peer_conf *pc, uint16_t group)
{
	size_t i;

	for (i = 0; i < pc->nprop; i++)
		if (pc->prop[i].dh == group)
			return true;
	return false;
}

/* ---- the responder's choice ------------------------------------------------ */

static bool has_xf(const struct ike_proposal *p, uint8_t type, uint16_t id,
		   uint16_t bits)
{
	size_t i;

	for (i = 0; i < p->ntransforms; i++) {
		const struct ike_transform *x = &p->xf[i];

		if (x->type == type && x->id == id && !x->unknown_attr &&
		    x->key_bits == bits)
			return true;
	}
	return false;
}

/* With an AEAD cipher the proposal may name no integrity, or NONE. */
static bool integ_none_ok(const struct ike_proposal *p)
{
	size_t i;

	for (i = 0; i < p->ntransforms; i++)
		if (p->xf[i].type == IKEV2_XFORM_INTEG &&
		    p->xf[i].id != IKEV2_INTEG_NONE)
			return false;
	return true;
}

/* A transform type we do not know makes the proposal unacceptable
 * (RFC 7296 §3.3.6). */
static bool types_known(const struct ike_proposal *p)
{
	size_t i;

	for (i = 0; i < p->ntransforms; i++)
		if (p->xf[i].type < IKEV2_XFORM_ENCR ||
		    p->xf[i].type > IKEV2_XFORM_ESN)
			return false;
	return true;
}

static bool proposal_fits(const struct ike_proposal *p,
			  const struct peer_proposal *q)
{
	if (!has_xf(p, IKEV2_XFORM_ENCR, q->encr, q->key_bits) ||
	    !has_xf(p, IKEV2_XFORM_PRF, q->prf, 0) ||
	    !has_xf(p, IKEV2_XFORM_DH, q->dh, 0))
		return false;
	if (q->integ == IKEV2_INTEG_NONE)
		return integ_none_ok(p);
	return has_xf(p, IKEV2_XFORM_INTEG, q->integ, 0);
}

int proposal_select(const struct peer_conf *pc, const struct ike_sa *offer,
		    uint16_t ke_group, struct ike_suite *out, uint8_t *num)
{
	bool found = false;
	size_t i, j;

	for (i = 0; i < offer->nproposals; i++) {
		const struct ike_proposal *p = &offer->prop[i];

		if (p->protocol != IKEV2_PROTO_IKE || p->spi_size != 0 ||
		    !types_known(p))
			continue;
		for (j = 0; j < pc->nprop; j++) {
			if (!proposal_fits(p, &pc->prop[j]))
				continue;
			if (pc->prop[j].dh == ke_group || !found) {
				suite_from(&pc->prop[j], out);
				*num = p->num;
				found = true;
			}
			if (pc->prop[j].dh == ke_group)
				return 0;
		}
	}
	return found ? 0 : -1;
}

/* ---- the initiator's check ---------------------------------------------------- */

/* The one transform of a type in the answer; false when not exactly one. */
static bool only_xf(const struct ike_proposal *p, uint8_t type,
		    const struct ike_transform **x)
{
	size_t i, n = 0;

	*x = NULL;
	for (i = 0; i < p->ntransforms; i++)
		if (p->xf[i].type == type) {
			*x = &p->xf[i];
			n++;
		}
	return n == 1;
}

int proposal_check_answer(const struct peer_conf *pc,
			  const struct ike_sa *answer, struct ike_suite *out)
{
	const struct ike_transform *e, *f, *i, *g;
	const struct ike_proposal *p;
	size_t j;

	if (answer->nproposals != 1)
		return -1;
	p = &answer->prop[0];
	if (p->protocol != IKEV2_PROTO_IKE || p->spi_size != 0 ||
	    !only_xf(p, IKEV2_XFORM_ENCR, &e) ||
	    !only_xf(p, IKEV2_XFORM_PRF, &f) ||
	    !only_xf(p, IKEV2_XFORM_DH, &g))
		return -1;
	memset(out, 0, sizeof(*out));
	out->encr = e->id;
	out->encr_key_bits = e->key_bits;
	out->prf = f->id;
	out->dh = g->id;
	if (only_xf(p, IKEV2_XFORM_INTEG, &i))
		out->integ = i->id;
	else if (i)
		return -1;	/* more than one */
	for (j = 0; j < pc->nprop; j++) {
		const struct peer_proposal *q = &pc->prop[j];

		if (q->encr == out->encr && q->key_bits == out->encr_key_bits &&
		    q->integ == out->integ && q->prf == out->prf &&
		    q->dh == out->dh)
			return 0;
	}
	return -1;
}

/* ---- for the log ------------------------------------------------------------- */

const char *suite_str(const struct ike_suite *s, char *buf, size_t len)
{
	char integ[48] = "";

	if (s->integ != IKEV2_INTEG_NONE)
		snprintf(integ, sizeof(integ), " %s",
			 ike_transform_name(IKEV2_XFORM_INTEG, s->integ));
	snprintf(buf, len, "%s/%u%s %s %s",
		 ike_transform_name(IKEV2_XFORM_ENCR, s->encr),
		 s->encr_key_bits, integ,
		 ike_transform_name(IKEV2_XFORM_PRF, s->prf),
		 ike_transform_name(IKEV2_XFORM_DH, s->dh));
	return buf;
}

const char *offer_str(const struct ike_sa *offer, char *buf, size_t len)
{
	size_t off = 0, i, j;

	buf[0] = '\0';
	for (i = 0; i < offer->nproposals && off + 40 < len; i++) {
		const struct ike_proposal *p = &offer->prop[i];
		int n = snprintf(buf + off, len - off, "%s#%u:",
				 i ? "; " : "", p->num);

		off += n > 0 ? (size_t)n : 0;
		for (j = 0; j < p->ntransforms && off + 40 < len; j++) {
			const struct ike_transform *x = &p->xf[j];

			n = snprintf(buf + off, len - off, " %s",
				     ike_transform_name(x->type, x->id));
			off += n > 0 ? (size_t)n : 0;
			if (x->key_bits && off + 8 < len) {
				n = snprintf(buf + off, len - off, "/%u",
					     x->key_bits);
				off += n > 0 ? (size_t)n : 0;
			}
		}
	}
	return buf;
}
