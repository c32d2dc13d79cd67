// SPDX-License-Identifier: GPL-2.0-only
/*
 * sa_child_ts.c - a CHILD SA's traffic selectors (from and to the rules' filters) and its ESP/AH proposals
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


/* ---- traffic selectors --------------------------------------------------------- */

size_t fam_len(uint8_t family)
{
	return family == AF_INET ? 4 : 16;
}

uint8_t ts_family(const struct ike_ts *t)
{
	return t->type == IKEV2_TS_IPV4_ADDR_RANGE ? AF_INET : AF_INET6;
}

static void ts_host(uint8_t family, const uint8_t *ip, struct ike_ts *t)
{
	memset(t, 0, sizeof(*t));
	t->type = family == AF_INET ? IKEV2_TS_IPV4_ADDR_RANGE
				    : IKEV2_TS_IPV6_ADDR_RANGE;
	t->end_port = 65535;
	memcpy(t->start, ip, fam_len(family));
	memcpy(t->end, ip, fam_len(family));
}

/* One side of a filter as a TS; false when it cannot be one. */
static bool ts_from(const struct chp_addr *a, uint8_t family,
		    const uint8_t *me, int proto, uint16_t plo, uint16_t phi,
		    struct ike_ts *t)
{
	size_t n = fam_len(family);

	ts_host(family, me, t);
	switch (a->kind) {
	case CHP_ADDR_ANY:
		memset(t->start, 0, n);
		memset(t->end, 0xff, n);
		break;
	case CHP_ADDR_ME:
		break;
	case CHP_ADDR_RANGE:
		if (a->family != family)
			return false;
		memcpy(t->start, a->lo, n);
		memcpy(t->end, a->hi, n);
		break;
	default:
		return false;
	}
	t->ip_proto = proto < 0 ? 0 : (uint8_t)proto;
	if (plo || phi) {
		t->start_port = plo;
		t->end_port = phi ? phi : plo;
	}
	return true;
}

bool ts_intersect(const struct ike_ts *a, const struct ike_ts *b,
		  struct ike_ts *out)
{
	size_t n;

	if (a->type != b->type || (a->type != IKEV2_TS_IPV4_ADDR_RANGE &&
				   a->type != IKEV2_TS_IPV6_ADDR_RANGE))
		return false;
	n = fam_len(ts_family(a));
	if (a->ip_proto && b->ip_proto && a->ip_proto != b->ip_proto)
		return false;
	*out = *a;
	out->ip_proto = a->ip_proto ? a->ip_proto : b->ip_proto;
	out->start_port = a->start_port > b->start_port ? a->start_port
							: b->start_port;
	out->end_port = a->end_port < b->end_port ? a->end_port : b->end_port;
	if (out->start_port > out->end_port)
		return false;
	memcpy(out->start, memcmp(a->start, b->start, n) > 0 ? a->start
							      : b->start, n);
	memcpy(out->end, memcmp(a->end, b->end, n) < 0 ? a->end : b->end, n);
	return memcmp(out->start, out->end, n) <= 0;
}

/* The prefix the address range is, or false. */
bool ts_prefix(const struct ike_ts *t, struct ikk_addr *a,
	       uint8_t *plen)
{
	uint8_t family = ts_family(t);
	size_t n = fam_len(family), i;
	unsigned p;

	for (p = 0; p <= n * 8; p++) {
		bool ok = true;

		for (i = 0; i < n && ok; i++) {
			unsigned bits = p > i * 8 ? p - i * 8 : 0;
			uint8_t mask = bits >= 8 ? 0xff
				       : (uint8_t)(0xff << (8 - bits));

			ok = (t->start[i] & (uint8_t)~mask) == 0 &&
			     (t->end[i] | mask) == 0xff &&
			     (t->start[i] & mask) == (t->end[i] & mask);
		}
		if (ok) {
			memset(a, 0, sizeof(*a));
			a->family = family;
			memcpy(a->u.b, t->start, n);
			*plen = (uint8_t)p;
			return true;
		}
	}
	return false;
}

const char *ts_str(const struct ike_ts *t, char *buf, size_t len)
{
	char lo[INET6_ADDRSTRLEN], hi[INET6_ADDRSTRLEN], a[100];
	struct ikk_addr pa;
	uint8_t family = ts_family(t), plen;

	inet_ntop(family, t->start, lo, sizeof(lo));
	inet_ntop(family, t->end, hi, sizeof(hi));
	if (ts_prefix(t, &pa, &plen))
		snprintf(a, sizeof(a), "%s/%u", lo, plen);
	else
		snprintf(a, sizeof(a), "%s-%s", lo, hi);
	if (t->start_port == 0 && t->end_port == 65535)
		snprintf(buf, len, "%s[%u]", a, t->ip_proto);
	else if (t->start_port == t->end_port)
		snprintf(buf, len, "%s[%u/%u]", a, t->ip_proto, t->start_port);
	else
		snprintf(buf, len, "%s[%u/%u-%u]", a, t->ip_proto,
			 t->start_port, t->end_port);
	return buf;
}

/* A filter of rule r, seen from our side (local = the initiator's side
 * when we initiate): false when it does not fit this IKE SA. */
bool filter_sides(const struct chp_filter *f, bool swap, bool tunnel,
		  uint8_t family, const uint8_t *me,
		  const uint8_t *peer, struct ike_ts *l,
		  struct ike_ts *r)
{
	const struct chp_addr *la = swap ? &f->dst : &f->src;
	const struct chp_addr *ra = swap ? &f->src : &f->dst;
	struct ike_ts hl, hr, t;

	if (!ts_from(la, family, me, f->proto, swap ? f->dport_lo : f->sport_lo,
		     swap ? f->dport_hi : f->sport_hi, l) ||
	    !ts_from(ra, family, me, f->proto, swap ? f->sport_lo : f->dport_lo,
		     swap ? f->sport_hi : f->dport_hi, r))
		return false;
	if (ra->kind == CHP_ADDR_ME)
		return false;
	if (tunnel)
		return true;
	/* transport mode: the two hosts only */
	ts_host(family, me, &hl);
	ts_host(family, peer, &hr);
	if (!ts_intersect(l, &hl, &t))
		return false;
	*l = t;
	if (!ts_intersect(r, &hr, &t))
		return false;
	*r = t;
	return true;
}

/* ---- proposals -------------------------------------------------------------------- */

void put_spi(struct ike_proposal *p, uint32_t spi)
{
	p->spi_size = 4;
	p->spi[0] = (uint8_t)(spi >> 24);
	p->spi[1] = (uint8_t)(spi >> 16);
	p->spi[2] = (uint8_t)(spi >> 8);
	p->spi[3] = (uint8_t)spi;
}

uint32_t get_spi(const struct ike_proposal *p)
{
	return (uint32_t)p->spi[0] << 24 | (uint32_t)p->spi[1] << 16 |
	       (uint32_t)p->spi[2] << 8 | p->spi[3];
}

/* The IPsec protocol of a method (AH+ESP has none: see offer_rule). */
uint8_t method_proto(const struct chp_method *m)
{
	return m->kind == CHP_AH ? IPPROTO_AH : IPPROTO_ESP;
}

uint8_t ike_proto_of(uint8_t proto)
{
	return proto == IPPROTO_AH ? IKEV2_PROTO_AH : IKEV2_PROTO_ESP;
}

/* The proposal for method m: ESP with ENCR (+ INTEG), or AH with INTEG
 * alone; dh: a D-H transform for PFS (CREATE_CHILD_SA), 0 none. */
void method_proposal(uint8_t num, const struct chp_method *m,
		     uint32_t spi, uint16_t dh, struct ike_proposal *p)
{
	memset(p, 0, sizeof(*p));
	p->num = num;
	p->protocol = ike_proto_of(method_proto(m));
	put_spi(p, spi);
	if (m->kind == CHP_AH)
		p->xf[p->ntransforms++] = (struct ike_transform){
			.type = IKEV2_XFORM_INTEG, .id = m->ah };
	else
		p->xf[p->ntransforms++] = (struct ike_transform){
			.type = IKEV2_XFORM_ENCR, .id = m->encr,
			.key_bits = m->key_bits };
	if (m->kind != CHP_AH && m->integ)
		p->xf[p->ntransforms++] = (struct ike_transform){
			.type = IKEV2_XFORM_INTEG, .id = m->integ };
	if (dh)
		p->xf[p->ntransforms++] = (struct ike_transform){
			.type = IKEV2_XFORM_DH, .id = dh };
	p->xf[p->ntransforms++] = (struct ike_transform){
		.type = IKEV2_XFORM_ESN, .id = IKEV2_ESN_NO };
}

/*
 * The D-H group to use with proposal p: want (our rule's PFS group) when
 * p offers it; with want 0, none when p allows none, else p's first group
 * we implement (PFS because the peer asks).  -1: nothing acceptable.
 */
int proposal_dh(const struct ike_proposal *p, uint16_t want)
{
	bool any = false, none = false;
	int first = -1;
	size_t i;

	for (i = 0; i < p->ntransforms; i++) {
		const struct ike_transform *x = &p->xf[i];

		if (x->type != IKEV2_XFORM_DH || x->unknown_attr)
			continue;
		any = true;
		if (x->id == IKEV2_DH_NONE)
			none = true;
		else if (want && x->id == want)
			return want;
		else if (first < 0 && ike_dh_public_len(x->id))
			first = x->id;
	}
	if (want)
		return -1;
	return !any || none ? 0 : first;
}

/* The CHILD SA's suite for method m (AH: ENCR_NULL, crypto.h). */
struct ike_suite method_suite(const struct chp_method *m, uint16_t dh)
{
	if (m->kind == CHP_AH)
		return (struct ike_suite){ IKEV2_ENCR_NULL, 0, m->ah, 0, dh };
	return (struct ike_suite){ m->encr, m->key_bits, m->integ, 0, dh };
}

/* AH+ESP cannot be negotiated: RFC 7296 §3.3 has one protocol per
 * CHILD SA (offer_rule logs it). */
bool method_usable(const struct chp_method *m)
{
	struct ike_suite s = method_suite(m, 0);

	if (m->kind == CHP_AH_ESP || (m->kind == CHP_ESP && !m->encr))
		return false;
	return ike_suite_usable(&s, false);
}

/* Does proposal p hold exactly method m (its protocol; ENCR, INTEG, or
 * INTEG alone for AH; ESN off)? */
bool proposal_has(const struct ike_proposal *p,
		  const struct chp_method *m)
{
	bool ah = m->kind == CHP_AH;
	uint16_t want_integ = ah ? m->ah : m->integ;
	bool encr = ah, integ = want_integ == 0, esn = true, esn_no = false;
	size_t i;

	if (p->protocol != ike_proto_of(method_proto(m)))
		return false;
	for (i = 0; i < p->ntransforms; i++) {
		const struct ike_transform *x = &p->xf[i];

		if (x->unknown_attr)
			continue;
		switch (x->type) {
		case IKEV2_XFORM_ENCR:
			if (ah)
				return false;	/* AH does not encrypt */
			if (x->id == m->encr && x->key_bits == m->key_bits)
				encr = true;
			break;
		case IKEV2_XFORM_INTEG:
			if (want_integ && x->id == want_integ)
				integ = true;
			break;
		case IKEV2_XFORM_ESN:
			esn = false;
			if (x->id == IKEV2_ESN_NO)
				esn_no = true;
			break;
		default:
			break;
		}
	}
	return encr && integ && (esn || esn_no);
}
