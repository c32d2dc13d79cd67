// SPDX-License-Identifier: GPL-2.0-only
/*
 * sa_peer.c - peer selection from the assigned policy; see peer.h.
 *
 * This is the one file of the daemon that reads lib/policy/policy.h: it turns the
 * policy's names into IKEv2 numbers and strings for the rest.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wire/wire_ikev2.h"
#include "sa/sa_peer.h"
#include "policy/policy.h"
#include "agent/agent.h"
#include "compile/compile_limits.h"

/* What policy_limits_check() lets through fits here: nothing is dropped. */
_Static_assert(PEER_MAX_PROPOSALS >= POLICY_MAX_IKE_PROPOSALS &&
	       PEER_MAX_AUTH >= POLICY_MAX_AUTH &&
	       PEER_MAX_PSK >= POLICY_MAX_PSK_IDS &&
	       PEER_MAX_CA >= POLICY_MAX_CA_FILES &&
	       PEER_PATH_MAX > POLICY_MAX_CA_PATH &&
	       PEER_NAME_MAX > POLICY_MAX_RULE_NAME, "peer.h holds a policy");

struct peer_policy {
	struct policy_file *pf;
};

static const char default_rule_name[] = "default-response";

/* A policy over a limit (policy_limits.h) is refused, as `policy apply`
 * refuses it: the daemon never negotiates with part of a rule. */
static int wrap(struct policy_file *pf, struct peer_policy **out, char *err,
		size_t errlen)
{
	struct policy_limits lim = { 0 };
	int n = policy_limits_check(pf, &lim);

	if (n) {
		if (n > 0) {	/* one log line */
			policy_limits_join(&lim, err, errlen);
			for (char *c = err; *c; c++)
				if (*c == '\n')
					*c = ' ';
		} else
			snprintf(err, errlen, "out of memory");
		policy_limits_free(&lim);
		policy_file_free(pf);
		return -1;
	}
	policy_limits_free(&lim);
	*out = calloc(1, sizeof(**out));
	if (!*out) {
		policy_file_free(pf);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	(*out)->pf = pf;
	return 0;
}

int peer_policy_load(const char *confdir, struct peer_policy **out,
		     char *err, size_t errlen)
{
	char path[1024];
	struct policy_error pe;
	struct policy_file *pf;

	*out = NULL;
	agent_assigned_path(confdir, path, sizeof(path));
	if (access(path, F_OK) != 0)
		return 0;
	if (policy_parse_file(path, &pf, &pe)) {
		policy_error_format(&pe, err, errlen);
		return -1;
	}
	return wrap(pf, out, err, errlen);
}

int peer_policy_from_buffer(const char *name, const char *text, size_t len,
			    struct peer_policy **out, char *err, size_t errlen)
{
	struct policy_error pe;
	struct policy_file *pf;

	*out = NULL;
	if (policy_parse_buffer(name, text, len, &pf, &pe)) {
		policy_error_format(&pe, err, errlen);
		return -1;
	}
	return wrap(pf, out, err, errlen);
}

void peer_policy_free(struct peer_policy *pp)
{
	if (!pp)
		return;
	policy_file_free(pp->pf);
	free(pp);
}

const char *peer_policy_name(const struct peer_policy *pp)
{
	return pp && pp->pf->assigned->name ? pp->pf->assigned->name : "";
}

/* ---- policy names to IKEv2 numbers ----------------------------------------- */

static void encr_ids(enum xform_encr e, uint16_t *id, uint16_t *bits)
{
	switch (e) {
	case ENCR_AES_GCM_16_128: *id = IKEV2_ENCR_AES_GCM_16; *bits = 128; break;
	case ENCR_AES_GCM_16_256: *id = IKEV2_ENCR_AES_GCM_16; *bits = 256; break;
	case ENCR_AES_CBC_128:    *id = IKEV2_ENCR_AES_CBC;    *bits = 128; break;
	case ENCR_AES_CBC_256:    *id = IKEV2_ENCR_AES_CBC;    *bits = 256; break;
	default:                  *id = 0; *bits = 0; break;
	}
}

static uint16_t integ_id(enum xform_integ i)
{
	switch (i) {
	case INTEG_HMAC_SHA2_256_128: return IKEV2_INTEG_HMAC_SHA2_256_128;
	case INTEG_HMAC_SHA2_384_192: return IKEV2_INTEG_HMAC_SHA2_384_192;
	case INTEG_HMAC_SHA2_512_256: return IKEV2_INTEG_HMAC_SHA2_512_256;
	default:                      return IKEV2_INTEG_NONE;
	}
}

static uint16_t prf_id(enum xform_prf p)
{
	switch (p) {
	case PRF_HMAC_SHA2_384: return IKEV2_PRF_HMAC_SHA2_384;
	case PRF_HMAC_SHA2_512: return IKEV2_PRF_HMAC_SHA2_512;
	default:                return IKEV2_PRF_HMAC_SHA2_256;
	}
}

static void add_proposals(const struct ike_settings *ike, struct peer_conf *pc)
{
	size_t i;

	pc->nprop = 0;
	for (i = 0; i < ike->nproposals && pc->nprop < PEER_MAX_PROPOSALS; i++) {
		const struct ike_proposal *p = &ike->proposals[i];
		struct peer_proposal *o = &pc->prop[pc->nprop];

		encr_ids(p->encr, &o->encr, &o->key_bits);
		if (!o->encr)
			continue;
		o->integ = integ_id(p->integ);
		o->prf = prf_id(p->prf);
		o->dh = (uint16_t)p->dh;
		pc->nprop++;
	}
	if (pc->nprop == 0) {	/* the documented default */
		pc->prop[0] = (struct peer_proposal){
			IKEV2_ENCR_AES_GCM_16, 256, IKEV2_INTEG_NONE,
			IKEV2_PRF_HMAC_SHA2_256, IKEV2_DH_CURVE25519 };
		pc->nprop = 1;
	}
}

/* The index of id in pc->psk (added when new); -1 when it cannot be. */
static int add_psk(struct peer_conf *pc, const char *id)
{
	size_t i;

	if (!id || !*id || strlen(id) >= PEER_NAME_MAX)
		return -1;
	for (i = 0; i < pc->npsk; i++)
		if (!strcmp(pc->psk[i], id))
			return (int)i;
	if (pc->npsk == PEER_MAX_PSK)
		return -1;
	snprintf(pc->psk[pc->npsk], PEER_NAME_MAX, "%s", id);
	return (int)pc->npsk++;
}

static int add_ca(struct peer_conf *pc, const char *file)
{
	size_t i;

	if (!file || !*file || strlen(file) >= PEER_PATH_MAX)
		return -1;
	for (i = 0; i < pc->nca; i++)
		if (!strcmp(pc->ca[i], file))
			return (int)i;
	if (pc->nca == PEER_MAX_CA)
		return -1;
	snprintf(pc->ca[pc->nca], PEER_PATH_MAX, "%s", file);
	return (int)pc->nca++;
}

static void add_auth(struct peer_conf *pc, uint8_t kind, int index,
		     uint8_t crl)
{
	size_t i;

	if (index < 0 || pc->nauth == PEER_MAX_AUTH)
		return;
	for (i = 0; i < pc->nauth; i++)
		if (pc->auth[i].kind == kind && pc->auth[i].index == index)
			return;
	pc->auth[pc->nauth++] = (struct peer_auth){ kind, (uint8_t)index, crl };
}

static void add_rule_auth(const struct rule *r, struct peer_conf *pc)
{
	const struct auth_method *a;
	size_t i;

	for (i = 0; i < r->nauth; i++) {
		a = &r->auth[i];
		if (a->kind == AUTH_PSK)
			add_auth(pc, PEER_AUTH_PSK, add_psk(pc, a->psk_id), 0);
		else if (a->kind == AUTH_CERT)
			add_auth(pc, PEER_AUTH_CERT, add_ca(pc, a->ca_file),
				 (uint8_t)a->crl);
	}
}

/* ---- which rule names a peer -------------------------------------------- */

static void to_ip(const struct sockaddr_storage *ss, struct ip_addr *ip)
{
	memset(ip, 0, sizeof(*ip));
	ip->family = (uint8_t)ss->ss_family;
	if (ss->ss_family == AF_INET)
		memcpy(ip->bytes, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	else if (ss->ss_family == AF_INET6)
		memcpy(ip->bytes, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
}

static size_t ip_len(const struct ip_addr *ip)
{
	return ip->family == AF_INET ? 4 : 16;
}

static bool in_prefix(const struct ip_addr *ip, const struct ip_addr *net,
		      unsigned plen)
{
	unsigned full = plen / 8, rest = plen % 8;

	if (ip->family != net->family || plen > ip_len(ip) * 8)
		return false;
	if (memcmp(ip->bytes, net->bytes, full))
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));

		return (ip->bytes[full] & mask) == (net->bytes[full] & mask);
	}
	return true;
}

static bool in_range(const struct ip_addr *ip, const struct ip_addr *lo,
		     const struct ip_addr *hi)
{
	size_t n = ip_len(ip);

	return ip->family == lo->family && ip->family == hi->family &&
	       memcmp(ip->bytes, lo->bytes, n) >= 0 &&
	       memcmp(ip->bytes, hi->bytes, n) <= 0;
}

/* How specifically an address spec names ip: -1 not at all, else the
 * prefix length (a range counts as its family's host length minus one,
 * a host as the full length). */
static int spec_score(const struct addr_spec *s, const struct ip_addr *ip)
{
	switch (s->kind) {
	case ADDR_PREFIX:
		return in_prefix(ip, &s->addr, s->plen) ? s->plen : -1;
	case ADDR_RANGE:
		return in_range(ip, &s->addr, &s->hi) ? (int)ip_len(ip) * 8 - 1
						       : -1;
	default:	/* any, me, dns, dhcp, gateway name no peer */
		return -1;
	}
}

/* How specifically r names ip: the best of its filters' addresses, and
 * its tunnel endpoint, which names the peer as a host filter does (no
 * more: a transport rule for that host is as specific, and the policy's
 * order decides between them). */
static int rule_score(const struct rule *r, const struct ip_addr *ip)
{
	int best = -1;
	size_t i;

	if (r->has_tunnel && r->tunnel.family == ip->family &&
	    !memcmp(r->tunnel.bytes, ip->bytes, ip_len(ip)))
		best = (int)ip_len(ip) * 8;
	if (!r->filters)
		return best;
	for (i = 0; i < r->filters->nfilters; i++) {
		const struct filter_spec *f = &r->filters->filters[i];
		int s = spec_score(&f->dst, ip), t = spec_score(&f->src, ip);

		if (s > best)
			best = s;
		if (t > best)
			best = t;
	}
	return best;
}

static bool rule_negotiates(const struct rule *r)
{
	return r->active && r->action && r->action->kind == FA_NEGOTIATE;
}

/* The negotiate rule naming ip most specifically; of equally specific
 * ones the first in the policy's order. */
static const struct rule *best_rule(const struct policy *pol,
				    const struct ip_addr *ip)
{
	const struct rule *best = NULL;
	int best_score = -1;
	size_t i;

	for (i = 0; i < pol->nrules; i++) {
		const struct rule *r = &pol->rules[i];
		int s;

		if (!rule_negotiates(r))
			continue;
		s = rule_score(r, ip);
		if (s > best_score) {
			best = r;
			best_score = s;
		}
	}
	return best;
}

static bool rule_cert_only(const struct rule *r)
{
	size_t i;

	for (i = 0; i < r->nauth; i++)
		if (r->auth[i].kind == AUTH_PSK)
			return false;
	return r->nauth > 0;
}

enum peer_source peer_lookup(const struct peer_policy *pp,
			     const struct sockaddr_storage *peer,
			     struct peer_conf *out)
{
	const struct policy *pol;
	const struct rule *r;
	struct ip_addr ip;
	char text[INET6_ADDRSTRLEN];
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!pp)
		return PEER_NONE;
	pol = pp->pf->assigned;
	snprintf(out->policy, sizeof(out->policy), "%s", pol->name);
	to_ip(peer, &ip);
	add_proposals(&pol->ike, out);
	out->lifetime_s = pol->ike.lifetime_s ? pol->ike.lifetime_s : 28800;
	out->qmpermm = pol->ike.master_key_pfs ? 1 : pol->ike.qmpermm;

	r = best_rule(pol, &ip);
	if (r) {
		out->source = PEER_RULE;
		snprintf(out->rule, sizeof(out->rule), "%s", r->name);
		add_rule_auth(r, out);
		out->cert_only = rule_cert_only(r);
		return out->source;
	}
	if (!pol->default_response)
		return out->source = PEER_NONE;
	out->source = PEER_DEFAULT;
	snprintf(out->rule, sizeof(out->rule), "%s", default_rule_name);
	if (pol->nresponse_auth) {	/* the default response's own methods */
		struct rule own = { .auth = pol->response_auth,
				    .nauth = pol->nresponse_auth };

		add_rule_auth(&own, out);
		out->cert_only = rule_cert_only(&own);
		return out->source;
	}
	if (inet_ntop(ip.family, ip.bytes, text, sizeof(text)))
		add_auth(out, PEER_AUTH_PSK, add_psk(out, text), 0);
	for (i = 0; i < pol->nrules; i++)
		if (rule_negotiates(&pol->rules[i]))
			add_rule_auth(&pol->rules[i], out);
	return out->source;
}

bool peer_rule_inpass(const struct peer_policy *pp, const char *name)
{
	const struct policy *pol = pp ? pp->pf->assigned : NULL;
	size_t i;

	for (i = 0; pol && i < pol->nrules; i++) {
		const struct rule *r = &pol->rules[i];

		if (rule_negotiates(r) && r->name && !strcmp(r->name, name))
			return r->action->inpass;
	}
	return false;
}
