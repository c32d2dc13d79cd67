// SPDX-License-Identifier: GPL-2.0-only
/*
 * policy_rule.c - the `policies:` section: each policy's settings, its IKE
 * settings, and its rules with their authentication methods.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/policy_internal.h"

#define IKE_LIFETIME_DEFAULT     28800

static const char *const POLICY_KEYS[] = {
	"description", "polling-interval", "default-response", "ike", "rules", NULL
};
static const char *const IKE_KEYS[] = {
	"proposals", "lifetime", "master-key-pfs", "qmpermm", NULL
};
static const char *const RULE_KEYS[] = {
	"name", "filter-list", "action", "authentication", "tunnel",
	"connection-type", "interfaces", "active", NULL
};
static const char *const AUTH_KEYS[] = { "psk", "certificate", NULL };
static const char *const RESPONSE_KEYS[] = {
	"active", "methods", "authentication", NULL
};
static const char *const CERT_KEYS[] = { "ca", "crl", NULL };

#define AUTH_FORMS "'- psk: KEYID' or '- certificate: { ca: FILE, crl: off|weak|strong }'"

/* ---- authentication ------------------------------------------------------- */

static int refuse_kerberos(struct parse *p, const struct pnode *at)
{
	return perr(&p->c, at, "Kerberos is not offered by ipsec-xdp: use psk or "
		    "certificate");
}

static int parse_crl(struct parse *p, const struct pnode *n, enum crl_mode *out)
{
	static const char *const modes[] = { "off", "weak", "strong" };

	if (pexpect(&p->c, n, PN_SCALAR, "'crl'"))
		return -1;
	for (size_t i = 0; i < 3; i++) {
		if (!strcmp(n->text, modes[i])) {
			*out = (enum crl_mode)i;
			return 0;
		}
	}
	return perr(&p->c, n, "'%.60s' is not a CRL check mode; expected off, weak "
		    "or strong", n->text);
}

/* `certificate: FILE` is short for `certificate: { ca: FILE }`. */
static int parse_certificate(struct parse *p, const struct pnode *n,
			     struct auth_method *a)
{
	const struct pnode *ca, *crl;

	a->kind = AUTH_CERT;
	if (n->type == PN_SCALAR)
		return parse_path(&p->c, n, "the root CA file", &a->ca_file);
	if (pexpect(&p->c, n, PN_MAP, "'certificate' ({ ca: FILE, crl: MODE })") ||
	    pcheck_keys(&p->c, n, CERT_KEYS, "'certificate'"))
		return -1;
	ca = pmap_get(n, "ca", NULL);
	if (!ca)
		return perr(&p->c, n, "'certificate' needs 'ca'; expected the root "
			    "CA file, e.g. { ca: /etc/ipsec-xdp/ca.pem }");
	if (parse_path(&p->c, ca, "the root CA file", &a->ca_file))
		return -1;
	crl = pmap_get(n, "crl", NULL);
	return crl ? parse_crl(p, crl, &a->crl) : 0;
}

static int parse_auth_map(struct parse *p, const struct pnode *n, struct auth_method *a)
{
	struct pnode *key = NULL, *psk, *cert;

	if (pmap_get(n, "kerberos", &key))
		return refuse_kerberos(p, key);
	if (pcheck_keys(&p->c, n, AUTH_KEYS, "an authentication method"))
		return -1;
	psk = pmap_get(n, "psk", NULL);
	cert = pmap_get(n, "certificate", NULL);
	if (!psk == !cert)
		return perr(&p->c, n, "%s; expected one method per list item: "
			    AUTH_FORMS, psk ? "psk and certificate together" :
			    "no authentication method");
	if (cert)
		return parse_certificate(p, cert, a);
	a->kind = AUTH_PSK;
	return parse_name(&p->c, psk, "pre-shared key id", &a->psk_id);
}

static int parse_auth(struct parse *p, const struct pnode *n, struct auth_method *a)
{
	a->pos = pos_of(p, n);
	if (n->type == PN_SCALAR && !strcasecmp(n->text, "kerberos"))
		return refuse_kerberos(p, n);
	if (n->type != PN_MAP)
		return perr(&p->c, n, "expected an authentication method, "
			    AUTH_FORMS ", got %s", pnode_type_name(n->type));
	return parse_auth_map(p, n, a);
}

static int parse_rule_auth(struct parse *p, const struct pnode *n, struct rule *r)
{
	struct pnode *key = NULL, *seq = pmap_get(n, "authentication", &key);

	if (r->action->kind != FA_NEGOTIATE) {
		if (seq)
			return perr(&p->c, key, "'authentication' applies only to rules "
				    "that negotiate; action '%s' is %s", r->action->name,
				    filter_action_kind_name(r->action->kind));
		return 0;
	}
	if (!seq)
		return perr(&p->c, n, "rule '%s' negotiates (action '%s') but has no "
			    "'authentication'; expected a list such as "
			    "[ { psk: KEYID } ]", r->name, r->action->name);
	if (pexpect(&p->c, seq, PN_SEQ, "'authentication' (a list of methods)"))
		return -1;
	if (!seq->nkids)
		return perr(&p->c, seq, "'authentication' is empty; expected at least "
			    "one method: " AUTH_FORMS);
	r->auth = alloc_array(p, seq, seq->nkids, sizeof(*r->auth));
	if (!r->auth)
		return -1;
	r->nauth = seq->nkids;
	for (size_t i = 0; i < seq->nkids; i++)
		if (parse_auth(p, seq->kids[i], &r->auth[i]))
			return -1;
	return 0;
}

/* ---- rules ------------------------------------------------------------------ */

/* As in the modelled system, a tunnel filter describes one direction only:
 * the way back needs its own rule with the other end's tunnel endpoint. */
static int check_tunnel_filters(struct parse *p, const struct pnode *at,
				const struct rule *r)
{
	size_t li = (size_t)(r->filters - p->pf->lists);
	long fi = p->first_mirrored[li];

	if (fi < 0)
		return 0;
	return perr(&p->c, at, "tunnel rule '%s' uses filter list '%s', whose filter "
		    "at line %u is mirrored; tunnel filters must not be mirrored: "
		    "set 'mirrored: no' and add a second rule, with the other "
		    "end's tunnel endpoint, for the way back", r->name,
		    r->filters->name, r->filters->filters[fi].pos.line);
}

static int parse_rule_tunnel(struct parse *p, const struct pnode *n, struct rule *r)
{
	struct pnode *key = NULL, *v = pmap_get(n, "tunnel", &key);

	if (!v)
		return 0;
	if (r->action->kind != FA_NEGOTIATE)
		return perr(&p->c, key, "'tunnel' applies only to rules that "
			    "negotiate; action '%s' is %s", r->action->name,
			    filter_action_kind_name(r->action->kind));
	if (parse_ip(&p->c, v, "'tunnel' (the tunnel endpoint)", &r->tunnel))
		return -1;
	r->has_tunnel = true;
	return check_tunnel_filters(p, v, r);
}

static int parse_conn_type(struct parse *p, const struct pnode *n, enum conn_type *out)
{
	static const char *const types[] = { "all", "lan", "remote" };

	if (pexpect(&p->c, n, PN_SCALAR, "'connection-type'"))
		return -1;
	for (size_t i = 0; i < 3; i++) {
		if (!strcmp(n->text, types[i])) {
			*out = (enum conn_type)i;
			return 0;
		}
	}
	return perr(&p->c, n, "'%.60s' is not a connection type; expected all, lan "
		    "or remote", n->text);
}

static int parse_interfaces(struct parse *p, const struct pnode *seq, struct rule *r)
{
	size_t dup, first;

	if (pexpect(&p->c, seq, PN_SEQ, "'interfaces' (a list of interface names)"))
		return -1;
	if (!seq->nkids)
		return perr(&p->c, seq, "'interfaces' is empty; expected at least one "
			    "interface name (leave 'interfaces' out for every interface)");
	if (seq->nkids > POLICY_MAX_RULE_IFACES)
		return perr(&p->c, seq, "'interfaces' names %zu interfaces; the limit "
			    "is %d per rule", seq->nkids, POLICY_MAX_RULE_IFACES);
	r->interfaces = alloc_array(p, seq, seq->nkids, sizeof(char *));
	if (!r->interfaces)
		return -1;
	for (size_t i = 0; i < seq->nkids; i++) {
		if (parse_ifname(&p->c, seq->kids[i], &r->interfaces[i]))
			return -1;
		r->ninterfaces++;
	}
	dup = find_duplicate((const char *const *)r->interfaces, r->ninterfaces, &first);
	if (dup != (size_t)-1)
		return perr(&p->c, seq->kids[dup], "interface '%s' is listed twice; "
			    "expected each interface once", r->interfaces[dup]);
	return 0;
}

static int parse_rule_refs(struct parse *p, const struct pnode *n, struct rule *r)
{
	const struct pnode *list = pmap_get(n, "filter-list", NULL);
	const struct pnode *action = pmap_get(n, "action", NULL);

	if (!list)
		return perr(&p->c, n, "rule '%s' has no 'filter-list'; expected the "
			    "name of a filter list", r->name);
	if (!action)
		return perr(&p->c, n, "rule '%s' has no 'action'; expected permit, "
			    "block or the name of a filter action", r->name);
	r->filters = resolve_list(p, list);
	if (!r->filters)
		return -1;
	r->action = resolve_action(p, action);
	return r->action ? 0 : -1;
}

static int parse_rule_options(struct parse *p, const struct pnode *n, struct rule *r)
{
	struct pnode *key;
	const struct pnode *v;

	if ((v = pmap_get(n, "connection-type", NULL)) &&
	    parse_conn_type(p, v, &r->conn))
		return -1;
	if ((v = pmap_get(n, "interfaces", &key)) && parse_interfaces(p, v, r))
		return -1;
	if ((v = pmap_get(n, "active", NULL)) &&
	    parse_bool(&p->c, v, "'active'", &r->active))
		return -1;
	return 0;
}

static int parse_rule(struct parse *p, const struct pnode *n, struct rule *r)
{
	const struct pnode *name;

	if (pexpect(&p->c, n, PN_MAP, "a rule (name, filter-list, action, ...)") ||
	    pcheck_keys(&p->c, n, RULE_KEYS, "a rule"))
		return -1;
	r->pos = pos_of(p, n);
	r->active = true;
	r->conn = CONN_ALL;
	name = pmap_get(n, "name", NULL);
	if (!name)
		return perr(&p->c, n, "a rule needs a 'name'; expected name: NAME, "
			    "unique within the policy");
	if (parse_name(&p->c, name, "rule name", &r->name))
		return -1;
	if (!strcmp(r->name, "default-response"))
		return perr(&p->c, name, "'default-response' is the name of the "
			    "policy's default response rule; expected another name");
	if (parse_rule_refs(p, n, r) || parse_rule_auth(p, n, r) ||
	    parse_rule_tunnel(p, n, r))
		return -1;
	return parse_rule_options(p, n, r);
}

static int check_rule_names(struct parse *p, const struct pnode *seq,
			    const struct policy *pol)
{
	const char **names = alloc_array(p, seq, pol->nrules, sizeof(*names));
	size_t dup, first;

	if (!names)
		return -1;
	for (size_t i = 0; i < pol->nrules; i++)
		names[i] = pol->rules[i].name;
	dup = find_duplicate(names, pol->nrules, &first);
	free(names);
	if (dup == (size_t)-1)
		return 0;
	return perr(&p->c, pmap_get(seq->kids[dup], "name", NULL),
		    "duplicate rule name '%s' in policy '%s' (first at line %u); "
		    "expected a name unique within the policy",
		    pol->rules[dup].name, pol->name, pol->rules[first].pos.line);
}

static int parse_rules(struct parse *p, const struct pnode *body, struct policy *pol)
{
	const struct pnode *seq = pmap_get(body, "rules", NULL);

	if (!seq || (seq->type == PN_SCALAR && seq->is_null))
		return 0;
	if (pexpect(&p->c, seq, PN_SEQ, "'rules' (a list of rules)"))
		return -1;
	pol->rules = alloc_array(p, seq, seq->nkids, sizeof(*pol->rules));
	if (!pol->rules)
		return -1;
	pol->nrules = seq->nkids;
	for (size_t i = 0; i < seq->nkids; i++)
		if (parse_rule(p, seq->kids[i], &pol->rules[i]))
			return -1;
	return check_rule_names(p, seq, pol);
}

/* ---- IKE settings ------------------------------------------------------------ */

static int default_proposal(struct parse *p, const struct pnode *at,
			    struct policy *pol)
{
	pol->ike.proposals = alloc_array(p, at, 1, sizeof(*pol->ike.proposals));
	if (!pol->ike.proposals)
		return -1;
	pol->ike.nproposals = 1;
	pol->ike.proposals[0] = (struct ike_proposal){
		.encr = ENCR_AES_GCM_16_256, .prf = PRF_HMAC_SHA2_256,
		.dh = DH_CURVE25519, .pos = pol->pos,
	};
	return 0;
}

static int parse_proposals(struct parse *p, const struct pnode *seq,
			   struct ike_settings *ike)
{
	if (pexpect(&p->c, seq, PN_SEQ, "'proposals' (a list of IKE proposals)"))
		return -1;
	if (!seq->nkids)
		return perr(&p->c, seq, "'proposals' is empty; expected at least one "
			    "IKE proposal, or leave 'proposals' out for the default");
	ike->proposals = alloc_array(p, seq, seq->nkids, sizeof(*ike->proposals));
	if (!ike->proposals)
		return -1;
	ike->nproposals = seq->nkids;
	for (size_t i = 0; i < seq->nkids; i++) {
		ike->proposals[i].pos = pos_of(p, seq->kids[i]);
		if (parse_ike_proposal(&p->c, seq->kids[i], &ike->proposals[i]))
			return -1;
	}
	return 0;
}

static int parse_ike(struct parse *p, const struct pnode *key,
		     const struct pnode *body, struct policy *pol)
{
	const struct pnode *n = pmap_get(body, "ike", NULL), *v;
	struct ike_settings *ike = &pol->ike;

	ike->lifetime_s = IKE_LIFETIME_DEFAULT;
	if (n && (pexpect(&p->c, n, PN_MAP, "'ike' (proposals, lifetime, ...)") ||
		  pcheck_keys(&p->c, n, IKE_KEYS, "'ike'")))
		return -1;
	v = n ? pmap_get(n, "proposals", NULL) : NULL;
	if (v ? parse_proposals(p, v, ike) : default_proposal(p, key, pol))
		return -1;
	if (!n)
		return 0;
	if ((v = pmap_get(n, "lifetime", NULL)) &&
	    parse_u32(&p->c, v, "'lifetime' (seconds)", 60, 172800, &ike->lifetime_s))
		return -1;
	if ((v = pmap_get(n, "master-key-pfs", NULL)) &&
	    parse_bool(&p->c, v, "'master-key-pfs'", &ike->master_key_pfs))
		return -1;
	if ((v = pmap_get(n, "qmpermm", NULL)) &&
	    parse_u32(&p->c, v, "'qmpermm'", 0, 1000000, &ike->qmpermm))
		return -1;
	return 0;
}

/* ---- the default response rule ------------------------------------------ */

/* Its security methods when none are written: the ESP methods of the
 * modelled system's default response, in its order of preference
 * (encryption with integrity, strongest first), with this version's
 * algorithms. */
static int default_response_methods(struct parse *p, const struct pnode *at,
				    struct policy *pol)
{
	static const struct { enum xform_encr e; enum xform_integ i; } d[] = {
		{ ENCR_AES_GCM_16_256, INTEG_NONE },
		{ ENCR_AES_GCM_16_128, INTEG_NONE },
		{ ENCR_AES_CBC_256, INTEG_HMAC_SHA2_256_128 },
		{ ENCR_AES_CBC_128, INTEG_HMAC_SHA2_256_128 },
	};
	size_t n = sizeof(d) / sizeof(d[0]);

	pol->response_methods = alloc_array(p, at, n, sizeof(*pol->response_methods));
	if (!pol->response_methods)
		return -1;
	pol->nresponse_methods = n;
	for (size_t i = 0; i < n; i++)
		pol->response_methods[i] = (struct security_method){
			.kind = SM_ESP, .encr = d[i].e, .integ = d[i].i,
			.lifetime_s = 3600, .lifetime_kb = 100000,
			.pos = pol->response_pos,
		};
	return 0;
}

static int parse_response_auth(struct parse *p, const struct pnode *seq,
			       struct policy *pol)
{
	if (pexpect(&p->c, seq, PN_SEQ, "'authentication' (a list of methods)"))
		return -1;
	if (!seq->nkids)
		return perr(&p->c, seq, "'authentication' is empty; expected at least "
			    "one method: " AUTH_FORMS ", or leave it out");
	pol->response_auth = alloc_array(p, seq, seq->nkids, sizeof(*pol->response_auth));
	if (!pol->response_auth)
		return -1;
	pol->nresponse_auth = seq->nkids;
	for (size_t i = 0; i < seq->nkids; i++)
		if (parse_auth(p, seq->kids[i], &pol->response_auth[i]))
			return -1;
	return 0;
}

/* `default-response: BOOL`, or a mapping { active, methods,
 * authentication } for the rule's own methods. */
static int parse_default_response(struct parse *p, const struct pnode *body,
				  struct policy *pol)
{
	struct pnode *key = NULL;
	const struct pnode *n = pmap_get(body, "default-response", &key), *v;
	struct filter_action fa = { .name = (char *)"default-response" };

	pol->default_response = true;
	pol->response_pos = key ? pos_of(p, key) : pol->pos;
	if (n && n->type == PN_SCALAR)
		return parse_bool(&p->c, n, "'default-response'", &pol->default_response) ||
		       default_response_methods(p, key, pol) ? -1 : 0;
	if (!n)
		return default_response_methods(p, body, pol);
	if (pexpect(&p->c, n, PN_MAP, "'default-response' (yes, no, or { active, "
		    "methods, authentication })") ||
	    pcheck_keys(&p->c, n, RESPONSE_KEYS, "'default-response'"))
		return -1;
	if ((v = pmap_get(n, "active", NULL)) &&
	    parse_bool(&p->c, v, "'active'", &pol->default_response))
		return -1;
	if ((v = pmap_get(n, "authentication", NULL)) &&
	    parse_response_auth(p, v, pol))
		return -1;
	if (!pmap_get(n, "methods", NULL))
		return default_response_methods(p, key, pol);
	fa.pos = pol->response_pos;
	if (parse_action_methods(p, key, n, &fa))
		return -1;
	pol->response_methods = fa.methods;
	pol->nresponse_methods = fa.nmethods;
	return 0;
}

/* ---- policies ---------------------------------------------------------------- */

static int parse_policy_settings(struct parse *p, const struct pnode *body,
				 struct policy *pol)
{
	struct pnode *key;
	const struct pnode *v;

	pol->polling_interval_s = POLLING_INTERVAL_DEFAULT;
	pol->default_response = true;
	if ((v = pmap_get(body, "description", NULL)) &&
	    parse_text(&p->c, v, "'description'", &pol->description))
		return -1;
	if ((v = pmap_get(body, "polling-interval", &key))) {
		if (parse_u32(&p->c, v, "'polling-interval' (seconds)", 5, 86400,
			      &pol->polling_interval_s))
			return -1;
		pol->polling_interval_pos = pos_of(p, key);
	}
	return parse_default_response(p, body, pol);
}

static int parse_policy(struct parse *p, const struct pnode *key,
			const struct pnode *body, struct policy *pol)
{
	if (parse_name(&p->c, key, "policy name", &pol->name))
		return -1;
	pol->pos = pos_of(p, key);
	if (pexpect(&p->c, body, PN_MAP, "a policy (description, ike, rules, ...)") ||
	    pcheck_keys(&p->c, body, POLICY_KEYS, "a policy"))
		return -1;
	if (parse_policy_settings(p, body, pol) || parse_ike(p, key, body, pol))
		return -1;
	return parse_rules(p, body, pol);
}

int parse_policies(struct parse *p, const struct pnode *map)
{
	struct policy_file *pf = p->pf;
	size_t n = pmap_len(map);

	pf->policies = alloc_array(p, map, n, sizeof(*pf->policies));
	if (!pf->policies)
		return -1;
	pf->npolicies = n;
	for (size_t i = 0; i < n; i++)
		if (parse_policy(p, pmap_key(map, i), pmap_val(map, i), &pf->policies[i]))
			return -1;
	return 0;
}
