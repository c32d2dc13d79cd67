// SPDX-License-Identifier: GPL-2.0-only
/*
 * child_policy.c - the policy as the CHILD SA code sees it; see
 * child_policy.h.  With peer.c, the only daemon file that reads
 * lib/policy.h.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "ikev2.h"
#include "child_policy.h"
#include "policy.h"

/* peer.c keeps its struct private; this is its layout (one pointer).
 * TODO(peer.c owner): a peer_policy_file() accessor would replace it. */
struct peer_policy {
	struct policy_file *pf;
};

static void method(const struct security_method *s, struct chp_method *m)
{
	memset(m, 0, sizeof(*m));
	m->kind = s->kind == SM_AH ? CHP_AH : s->kind == SM_AH_ESP
		  ? CHP_AH_ESP : CHP_ESP;
	switch (s->encr) {
	case ENCR_AES_GCM_16_128: m->encr = IKEV2_ENCR_AES_GCM_16; m->key_bits = 128; break;
	case ENCR_AES_GCM_16_256: m->encr = IKEV2_ENCR_AES_GCM_16; m->key_bits = 256; break;
	case ENCR_AES_CBC_128:    m->encr = IKEV2_ENCR_AES_CBC;    m->key_bits = 128; break;
	case ENCR_AES_CBC_256:    m->encr = IKEV2_ENCR_AES_CBC;    m->key_bits = 256; break;
	default: break;
	}
	switch (s->integ) {
	case INTEG_HMAC_SHA2_256_128: m->integ = IKEV2_INTEG_HMAC_SHA2_256_128; break;
	case INTEG_HMAC_SHA2_384_192: m->integ = IKEV2_INTEG_HMAC_SHA2_384_192; break;
	case INTEG_HMAC_SHA2_512_256: m->integ = IKEV2_INTEG_HMAC_SHA2_512_256; break;
	default: break;
	}
	switch (s->ah) {
	case INTEG_HMAC_SHA2_256_128: m->ah = IKEV2_INTEG_HMAC_SHA2_256_128; break;
	case INTEG_HMAC_SHA2_384_192: m->ah = IKEV2_INTEG_HMAC_SHA2_384_192; break;
	case INTEG_HMAC_SHA2_512_256: m->ah = IKEV2_INTEG_HMAC_SHA2_512_256; break;
	default: break;
	}
	m->lifetime_s = s->lifetime_s ? s->lifetime_s : 3600;
	m->lifetime_kb = s->lifetime_kb ? s->lifetime_kb : 100000;
}

static void addr(const struct addr_spec *s, struct chp_addr *a)
{
	size_t n, i;

	memset(a, 0, sizeof(*a));
	switch (s->kind) {
	case ADDR_ANY:
		a->kind = CHP_ADDR_ANY;
		return;
	case ADDR_ME:
		a->kind = CHP_ADDR_ME;
		return;
	case ADDR_PREFIX:
		a->kind = CHP_ADDR_RANGE;
		a->family = s->addr.family;
		n = s->addr.family == AF_INET ? 4 : 16;
		for (i = 0; i < n; i++) {
			unsigned bits = s->plen > i * 8 ? s->plen - i * 8 : 0;
			uint8_t mask = bits >= 8 ? 0xff
				       : (uint8_t)(0xff << (8 - bits));

			a->lo[i] = s->addr.bytes[i] & mask;
			a->hi[i] = s->addr.bytes[i] | (uint8_t)~mask;
		}
		return;
	case ADDR_RANGE:
		a->kind = CHP_ADDR_RANGE;
		a->family = s->addr.family;
		memcpy(a->lo, s->addr.bytes, 16);
		memcpy(a->hi, s->hi.bytes, 16);
		return;
	default:
		a->kind = CHP_ADDR_OTHER;
		return;
	}
}

static void rule(const struct rule *r, struct chp_rule *o)
{
	const struct filter_action *fa = r->action;
	size_t i;

	memset(o, 0, sizeof(*o));
	snprintf(o->name, sizeof(o->name), "%s", r->name ? r->name : "");
	o->tunnel = r->has_tunnel;
	if (r->has_tunnel) {
		o->tunnel_family = r->tunnel.family;
		memcpy(o->tunnel_addr, r->tunnel.bytes, 16);
	}
	for (i = 0; i < fa->nmethods && o->nm < CHP_MAX_METHODS; i++)
		method(&fa->methods[i], &o->m[o->nm++]);
	o->pfs = fa->pfs;
	o->pfs_group = (uint16_t)fa->pfs_group;
	o->soft = fa->soft;
	o->soft_timeout_s = fa->soft_timeout_s ? fa->soft_timeout_s : 3;
	if (!r->filters)
		return;
	for (i = 0; i < r->filters->nfilters && o->nf < CHP_MAX_FILTERS; i++) {
		const struct filter_spec *f = &r->filters->filters[i];
		struct chp_filter *c = &o->f[o->nf++];

		addr(&f->src, &c->src);
		addr(&f->dst, &c->dst);
		c->proto = f->proto;
		c->sport_lo = f->sport.lo;
		c->sport_hi = f->sport.hi;
		c->dport_lo = f->dport.lo;
		c->dport_hi = f->dport.hi;
		c->mirrored = f->mirrored;
	}
}

size_t chp_rules(const struct peer_policy *pp, struct chp_rule *out,
		 size_t max)
{
	const struct policy *pol;
	size_t i, n = 0;

	if (!pp || !pp->pf || !pp->pf->assigned)
		return 0;
	pol = pp->pf->assigned;
	for (i = 0; i < pol->nrules && n < max; i++) {
		const struct rule *r = &pol->rules[i];

		if (r->active && r->action && r->action->kind == FA_NEGOTIATE)
			rule(r, &out[n++]);
	}
	return n;
}
