// SPDX-License-Identifier: GPL-2.0-only
/*
 * sa_child_policy.c - the policy as the CHILD SA code sees it; see
 * child_policy.h.  With peer.c, the only daemon file that reads
 * lib/policy/policy.h.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "wire/wire_ikev2.h"
#include "sa/sa_child_policy.h"
#include "policy/policy.h"
#include "compile/compile_limits.h"

/* A policy the daemon loaded passed policy_limits_check() (peer.c), so no
 * method is left out; an offer carries one proposal per method. */
_Static_assert(CHP_MAX_METHODS == POLICY_MAX_METHODS,
	       "a rule's methods are POLICY_MAX_METHODS");
_Static_assert(CHP_MAX_TUNNEL_RULES == POLICY_MAX_TUNNEL_RULES,
	       "policy check refuses the tunnel rules that get no if_id");

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

static void filter(const struct filter_spec *f, struct chp_filter *c)
{
	addr(&f->src, &c->src);
	addr(&f->dst, &c->dst);
	c->proto = f->proto;
	c->sport_lo = f->sport.lo;
	c->sport_hi = f->sport.hi;
	c->dport_lo = f->dport.lo;
	c->dport_hi = f->dport.hi;
	c->mirrored = f->mirrored;
}

/* 0, or -1 when out of memory (o holds no filter then). */
static int rule(const struct rule *r, struct chp_rule *o)
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
	if (!r->filters || !r->filters->nfilters)
		return 0;
	/* calloc: the padding of every filter is zero (memcmp, daemon.c) */
	o->f = calloc(r->filters->nfilters, sizeof(*o->f));
	if (!o->f)
		return -1;
	for (i = 0; i < r->filters->nfilters; i++)
		filter(&r->filters->filters[i], &o->f[i]);
	o->nf = r->filters->nfilters;
	return 0;
}

static const struct policy *assigned(const struct peer_policy *pp)
{
	return pp && pp->pf ? pp->pf->assigned : NULL;
}

static bool negotiates(const struct rule *r)
{
	return r->active && r->action && r->action->kind == FA_NEGOTIATE;
}

void chp_rule_clear(struct chp_rule *r)
{
	free(r->f);
	r->f = NULL;
	r->nf = 0;
}

void chp_rules_free(struct chp_rules *rs)
{
	size_t i;

	for (i = 0; rs->v && i < rs->n; i++)
		chp_rule_clear(&rs->v[i]);
	free(rs->v);
	rs->v = NULL;
	rs->n = 0;
}

/* The default response rule (child_policy.h): 0, or -1 out of memory. */
static int response_rule(const struct policy *pol, struct chp_rule *o)
{
	size_t i;

	memset(o, 0, sizeof(*o));
	snprintf(o->name, sizeof(o->name), "%s", CHP_RESPONSE_NAME);
	o->response = true;
	for (i = 0; i < pol->nresponse_methods && o->nm < CHP_MAX_METHODS; i++)
		method(&pol->response_methods[i], &o->m[o->nm++]);
	o->f = calloc(1, sizeof(*o->f));
	if (!o->f)
		return -1;
	o->f->src.kind = CHP_ADDR_ME;
	o->f->dst.kind = CHP_ADDR_ANY;
	o->f->proto = -1;
	o->f->mirrored = true;
	o->nf = 1;
	return 0;
}

int chp_rules_load(const struct peer_policy *pp, struct chp_rules *out)
{
	const struct policy *pol = assigned(pp);
	size_t i, count = 0;

	out->v = NULL;
	out->n = 0;
	for (i = 0; pol && i < pol->nrules; i++)
		count += negotiates(&pol->rules[i]);
	count += pol && pol->default_response;
	if (!count)
		return 0;
	out->v = calloc(count, sizeof(*out->v));
	if (!out->v)
		return -1;
	for (i = 0; i < pol->nrules; i++) {
		if (!negotiates(&pol->rules[i]))
			continue;
		if (rule(&pol->rules[i], &out->v[out->n++])) {
			chp_rules_free(out);
			return -1;
		}
	}
	if (pol->default_response &&
	    response_rule(pol, &out->v[out->n++])) {
		chp_rules_free(out);
		return -1;
	}
	return 0;
}

int chp_rule_find(const struct peer_policy *pp, const char *name,
		  struct chp_rule *out)
{
	const struct policy *pol = assigned(pp);
	size_t i;

	memset(out, 0, sizeof(*out));
	for (i = 0; pol && i < pol->nrules; i++) {
		const struct rule *r = &pol->rules[i];

		if (negotiates(r) && r->name && !strcmp(r->name, name))
			return rule(r, out) ? -1 : 0;
	}
	return 1;
}
