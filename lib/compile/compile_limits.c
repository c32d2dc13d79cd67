// SPDX-License-Identifier: GPL-2.0-only
/* compile_limits.c - see policy_limits.h. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile/compile_limits.h"
#include "compile/compile_tree.h"

_Static_assert(sizeof(((struct ixdp_filter_info *)0)->name) ==
	       POLICY_MAX_RULE_NAME + 1, "a rule name fits the filter info");

#define NPORTS 65536
#define KEYS_PER_BANK (IXDP_MAX_KEYS / 2)	/* the hash holds both banks */

/* ---- the messages --------------------------------------------------------------- */

__attribute__((format(printf, 3, 4)))
static int add(struct policy_limits *l, const struct srcpos *at,
	       const char *fmt, ...)
{
	char (*m)[512];
	size_t used = 0;
	va_list ap;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;

		m = realloc(l->msg, cap * sizeof(*m));
		if (!m)
			return -1;
		l->msg = m;
		l->cap = cap;
	}
	m = &l->msg[l->n];
	if (at && at->file)
		used = (size_t)snprintf(*m, sizeof(*m), "%s:%u:%u: ", at->file,
					at->line, at->column);
	va_start(ap, fmt);
	vsnprintf(*m + used, sizeof(*m) - used, fmt, ap);
	va_end(ap);
	l->n++;
	return 0;
}

void policy_limits_free(struct policy_limits *l)
{
	free(l->msg);
	memset(l, 0, sizeof(*l));
}

void policy_limits_join(const struct policy_limits *l, char *buf, size_t len)
{
	size_t used = 0, i;

	if (!len)
		return;
	buf[0] = '\0';
	for (i = 0; i < l->n; i++) {
		size_t need = strlen(l->msg[i]) + (i ? 1 : 0);

		/* room for this one and for the note about the rest */
		if (used + need + 64 >= len) {
			snprintf(buf + used, len - used, "%s(and %zu more limits "
				 "exceeded)", i ? "\n" : "", l->n - i);
			return;
		}
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
					 i ? "\n" : "", l->msg[i]);
	}
}

/* ---- the written policy --------------------------------------------------------- */

/* The distinct PSK ids and CA files of a set of authentication methods
 * (as ike/sa/sa_peer.c keeps them: one entry per distinct key id or file). */
struct names {
	const char **v;
	size_t n, cap;
};

struct auth_count {
	struct names psk, ca;
};

/* Add s unless it is there: 0, or -1 when out of memory. */
static int add_name(struct names *ns, const char *s)
{
	for (size_t i = 0; i < ns->n; i++)
		if (!strcmp(ns->v[i], s))
			return 0;
	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? ns->cap * 2 : 8;
		const char **v = realloc(ns->v, cap * sizeof(*v));

		if (!v)
			return -1;
		ns->v = v;
		ns->cap = cap;
	}
	ns->v[ns->n++] = s;
	return 0;
}

static void auth_count_free(struct auth_count *c)
{
	free(c->psk.v);
	free(c->ca.v);
	memset(c, 0, sizeof(*c));
}

static int count_auth(const struct rule *r, struct auth_count *c)
{
	for (size_t i = 0; i < r->nauth; i++) {
		const struct auth_method *a = &r->auth[i];

		if (a->kind == AUTH_PSK && a->psk_id &&
		    add_name(&c->psk, a->psk_id))
			return -1;
		if (a->kind == AUTH_CERT && a->ca_file &&
		    add_name(&c->ca, a->ca_file))
			return -1;
	}
	return 0;
}

static bool negotiates(const struct rule *r)
{
	return r->active && r->action && r->action->kind == FA_NEGOTIATE;
}

/* who: "rule 'x'" or "the default response (...)"; extra: entries added
 * by the daemon itself (the peer's address as a PSK id). */
static int check_auth(struct policy_limits *l, const struct srcpos *at,
		      const char *who, const struct auth_count *c, size_t extra)
{
	size_t npsk = c->psk.n + extra, nall = npsk + c->ca.n;

	if (npsk > POLICY_MAX_PSK_IDS &&
	    add(l, at, "limit exceeded: pre-shared key ids per peer: %s has %zu "
		"distinct ids%s; the limit is %d: use fewer key ids", who, npsk,
		extra ? " (with the peer's address)" : "", POLICY_MAX_PSK_IDS))
		return -1;
	if (c->ca.n > POLICY_MAX_CA_FILES &&
	    add(l, at, "limit exceeded: root CA files per peer: %s names %zu "
		"distinct files; the limit is %d: put the CAs into fewer bundle "
		"files", who, c->ca.n, POLICY_MAX_CA_FILES))
		return -1;
	if (nall > POLICY_MAX_AUTH &&
	    add(l, at, "limit exceeded: authentication methods per peer: %s has "
		"%zu (distinct PSK ids and CA files%s); the limit is %d: use "
		"fewer", who, nall, extra ? ", with the peer's address" : "",
		POLICY_MAX_AUTH))
		return -1;
	return 0;
}

static int check_rule(struct policy_limits *l, const struct rule *r)
{
	struct auth_count c = { 0 };
	char who[128];
	size_t len = r->name ? strlen(r->name) : 0;
	int rc;

	if (len > POLICY_MAX_RULE_NAME &&
	    add(l, &r->pos, "limit exceeded: rule name length: '%s' has %zu "
		"characters; the limit is %d (the dataplane's filter name): "
		"shorten the name", r->name, len, POLICY_MAX_RULE_NAME))
		return -1;
	for (size_t i = 0; i < r->nauth; i++) {
		const struct auth_method *a = &r->auth[i];
		size_t plen = a->ca_file ? strlen(a->ca_file) : 0;

		if (plen > POLICY_MAX_CA_PATH &&
		    add(l, &a->pos, "limit exceeded: root CA file path length: "
			"%zu characters; the limit is %d: move the file to a "
			"shorter path", plen, POLICY_MAX_CA_PATH))
			return -1;
	}
	if (!negotiates(r))
		return 0;
	snprintf(who, sizeof(who), "rule '%.60s'", r->name ? r->name : "");
	rc = count_auth(r, &c) ? -1 : check_auth(l, &r->pos, who, &c, 0);
	auth_count_free(&c);
	return rc;
}

static int check_methods(struct policy_limits *l, const struct filter_action *fa)
{
	if (fa->kind != FA_NEGOTIATE || fa->nmethods <= POLICY_MAX_METHODS)
		return 0;
	return add(l, &fa->pos, "limit exceeded: security methods per filter "
		   "action: '%s' has %zu; the limit is %d (proposals in one IKEv2 "
		   "SA payload): keep the %d preferred", fa->name ? fa->name : "",
		   fa->nmethods, POLICY_MAX_METHODS, POLICY_MAX_METHODS);
}

/* A peer no rule names is offered every negotiate rule's authentication,
 * and the PSK id of its own address (ike/sa/sa_peer.c). */
static int check_default_response(struct policy_limits *l,
				  const struct policy *p)
{
	struct auth_count c = { 0 };
	int rc = 0;

	if (!p->default_response)
		return 0;
	if (p->nresponse_methods > POLICY_MAX_METHODS &&
	    add(l, &p->response_pos, "limit exceeded: security methods of the "
		"default response: %zu; the limit is %d (proposals in one IKEv2 "
		"SA payload): keep the %d preferred", p->nresponse_methods,
		POLICY_MAX_METHODS, POLICY_MAX_METHODS))
		return -1;
	if (p->nresponse_auth) {	/* its own methods only */
		struct rule own = { .auth = p->response_auth,
				    .nauth = p->nresponse_auth };

		rc = count_auth(&own, &c);
		if (!rc)
			rc = check_auth(l, &p->response_pos, "the default "
					"response", &c, 0);
		auth_count_free(&c);
		return rc;
	}
	for (size_t i = 0; i < p->nrules && !rc; i++)
		if (negotiates(&p->rules[i]))
			rc = count_auth(&p->rules[i], &c);
	if (!rc)
		rc = check_auth(l, &p->pos, "the default response (every "
				"negotiate rule's authentication together)", &c, 1);
	auth_count_free(&c);
	return rc;
}

static int check_tunnels(struct policy_limits *l, const struct policy *p)
{
	size_t n = 0;

	for (size_t i = 0; i < p->nrules; i++)
		n += negotiates(&p->rules[i]) && p->rules[i].has_tunnel;
	if (n <= POLICY_MAX_TUNNEL_RULES)
		return 0;
	return add(l, &p->pos, "limit exceeded: tunnel rules: policy '%s' has "
		   "%zu active negotiate rules with a tunnel endpoint; the limit "
		   "is %d (xfrm interface ids of ipsec-xdpd): use one rule per "
		   "endpoint, its filter list naming every network behind it", p->name, n, POLICY_MAX_TUNNEL_RULES);
}

static bool same_ifaces(const struct rule *a, const struct rule *b)
{
	if (a->conn != b->conn || a->ninterfaces != b->ninterfaces)
		return false;
	for (size_t i = 0; i < a->ninterfaces; i++)
		if (strcmp(a->interfaces[i], b->interfaces[i]))
			return false;
	return true;
}

/* Each distinct connection-type and interface list of the active rules is
 * one interface group of the dataplane (the compiler numbers them alike). */
static int check_ifgroups(struct policy_limits *l, const struct policy *p)
{
	size_t n = 0;

	for (size_t i = 0; i < p->nrules; i++) {
		const struct rule *r = &p->rules[i];
		bool seen = false;

		if (!r->active || (r->conn == CONN_ALL && !r->ninterfaces))
			continue;
		for (size_t j = 0; j < i && !seen; j++)
			seen = p->rules[j].active && same_ifaces(&p->rules[j], r);
		n += !seen;
	}
	if (n < IXDP_MAX_IFGROUPS)
		return 0;
	return add(l, &p->pos, "limit exceeded: interface selections: policy '%s' "
		   "has %zu different combinations of connection-type and "
		   "interfaces; the limit is %d (the dataplane's interface "
		   "groups): give rules on the same interfaces the same list",
		   p->name, n, IXDP_MAX_IFGROUPS - 1);
}

int policy_limits_check(const struct policy_file *pf, struct policy_limits *out)
{
	const struct policy *p = pf ? pf->assigned : NULL;
	size_t before = out->n;

	if (!p)
		return 0;
	if (p->ike.nproposals > POLICY_MAX_IKE_PROPOSALS &&
	    add(out, &p->pos, "limit exceeded: IKE proposals: policy '%s' has "
		"%zu; the limit is %d: keep the %d preferred", p->name,
		p->ike.nproposals, POLICY_MAX_IKE_PROPOSALS,
		POLICY_MAX_IKE_PROPOSALS))
		return -1;
	for (size_t i = 0; i < pf->nactions; i++)
		if (check_methods(out, &pf->actions[i]))
			return -1;
	for (size_t i = 0; i < p->nrules; i++)
		if (check_rule(out, &p->rules[i]))
			return -1;
	if (check_default_response(out, p) || check_tunnels(out, p) ||
	    check_ifgroups(out, p))
		return -1;
	return (int)(out->n - before);
}

/* ---- the compiled filter list --------------------------------------------------- */

/* The port class of every port of one side, as tuplespace.c cuts them. */
static uint16_t *port_classes(const struct filter_table *t, int side)
{
	uint16_t *cls = calloc(NPORTS, sizeof(*cls));
	uint8_t *start = calloc(NPORTS, 1);
	uint16_t c = 0;

	if (!cls || !start) {
		free(cls);
		free(start);
		return NULL;
	}
	for (size_t i = 0; i < t->n; i++) {
		const struct port_spec *ps = side ? &t->v[i].dport : &t->v[i].sport;

		if (port_kind(ps) != IXDP_PORT_RANGE)
			continue;
		start[ps->lo] = 1;
		if (ps->hi < NPORTS - 1)
			start[ps->hi + 1] = 1;
	}
	for (unsigned p = 0; p < NPORTS; p++) {
		if (p > 0 && start[p])
			c++;
		cls[p] = c;
	}
	free(start);
	return cls;
}

static size_t side_keys(const uint16_t *cls, const struct port_spec *ps)
{
	if (port_kind(ps) != IXDP_PORT_RANGE)
		return 1;
	return (size_t)(cls[ps->hi] - cls[ps->lo]) + 1;
}

/* Hash keys of one bank before duplicates merge (what tuplespace_build
 * bounds): one per (source class, destination class) of each filter. */
static int count_keys(const struct filter_table *t, size_t *keys)
{
	uint16_t *s = port_classes(t, 0), *d = port_classes(t, 1);

	*keys = 0;
	if (s && d)
		for (size_t i = 0; i < t->n; i++)
			*keys += side_keys(s, &t->v[i].sport) *
				 side_keys(d, &t->v[i].dport);
	free(s);
	free(d);
	return s && d ? 0 : -1;
}

/* Distinct shapes per family: a new tuple starts where the shape changes
 * (the sorted table keeps one shape's filters together). */
static void count_tuples(const struct filter_table *t, size_t n[2])
{
	n[0] = n[1] = 0;
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].fam <= IXDP_FAM_V6 &&
		    (i == 0 || !specific_filter_same_shape(&t->v[i - 1], &t->v[i])))
			n[t->v[i].fam]++;
}

/* The tuple space's limits the table exceeds, into why (empty: none). */
static int tuple_space_limits(const struct filter_table *t, char *why, size_t len)
{
	static const char *const fam[2] = { "IPv4", "IPv6" };
	size_t tuples[2], keys;

	why[0] = '\0';
	count_tuples(t, tuples);
	for (int f = 0; f < 2; f++)
		if (tuples[f] > IXDP_MAX_TUPLES) {
			snprintf(why, len, "filter shapes per address family "
				 "(IXDP_MAX_TUPLES): %s filters have %zu distinct "
				 "shapes (prefix lengths, protocol, port kinds); "
				 "the limit is %d", fam[f], tuples[f], IXDP_MAX_TUPLES);
			return 0;
		}
	if (count_keys(t, &keys))
		return -1;
	if (keys > KEYS_PER_BANK)
		snprintf(why, len, "dataplane hash keys (IXDP_MAX_KEYS/2 per bank): "
			 "the filters need %zu; the limit is %d (each port range "
			 "needs a key per port class it covers)", keys, KEYS_PER_BANK);
	return 0;
}

/*
 * The dataplane holds a list in two forms (docs/classifier.md): the
 * decision tree, which answers new flows, and the tuple space, its
 * fallback.  A list is refused only when neither holds it: a list over
 * the tuple space's limits goes in with the tree alone.
 */
int policy_limits_check_table(const struct filter_table *t,
			      struct policy_limits *out)
{
	size_t before = out->n;
	char ts_why[256], tree_why[256];
	struct ctree tr;

	if (t->n > IXDP_MAX_FILTERS &&
	    add(out, NULL, "limit exceeded: specific filters (IXDP_MAX_FILTERS): "
		"the policy expands to %zu; the limit is %d: use fewer or wider "
		"filters (a mirrored filter counts twice, 'any' once per family)",
		t->n, IXDP_MAX_FILTERS))
		return -1;
	if (out->n > before)
		return (int)(out->n - before);
	if (tuple_space_limits(t, ts_why, sizeof(ts_why)))
		return -1;
	if (!ts_why[0])
		return 0;
	if (!ctree_build(t, &tr, tree_why, sizeof(tree_why))) {
		ctree_keep(t, &tr);     /* the apply that may follow takes it */
		return 0;
	}
	if (add(out, NULL, "limit exceeded: the filter list fits neither the "
		"decision tree (%s) nor the tuple space (%s): use fewer distinct "
		"prefix lengths and port forms, or fewer overlapping port ranges",
		tree_why, ts_why))
		return -1;
	return (int)(out->n - before);
}
