// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_compiler.c - the filter compiler (lib/compile/compiler.c): expansion of
 * me/dns/dhcp/gateway, ranges and mirrors, conflicts, default exemptions,
 * and the resulting order, checked with the reference matcher.
 *
 * Policies are built by hand (struct policy_file), so these tests do not
 * depend on the policy parser.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "compile/compiler.h"
#include "compile/compile_hostinfo.h"
#include "compile/compile_tuplespace.h"

/* ---- building policies -------------------------------------------------- */

#define MAX_RULES 16

static struct policy_file *tp_new(void)
{
	struct policy_file *pf = calloc(1, sizeof(*pf));
	struct policy *p = calloc(1, sizeof(*p));

	assert_non_null(pf);
	assert_non_null(p);
	p->name = "test policy";
	p->rules = calloc(MAX_RULES, sizeof(*p->rules));
	assert_non_null(p->rules);
	p->pos.file = "test.yaml";
	p->pos.line = 1;
	pf->path = "test.yaml";
	pf->policies = p;
	pf->npolicies = 1;
	pf->assigned = p;
	return pf;
}

/* A new active rule with its own filter list and action; returns its index. */
static int tp_rule(struct policy_file *pf, const char *name,
		   enum filter_action_kind kind)
{
	struct policy *p = pf->assigned;
	struct rule *r;

	assert_true(p->nrules < MAX_RULES);
	r = &p->rules[p->nrules];
	r->name = (char *)name;
	r->active = true;
	r->filters = calloc(1, sizeof(*r->filters));
	r->action = calloc(1, sizeof(*r->action));
	assert_non_null(r->filters);
	assert_non_null(r->action);
	r->filters->name = (char *)name;
	r->action->name = (char *)name;
	r->action->kind = kind;
	return (int)p->nrules++;
}

static struct rule *tp_get(struct policy_file *pf, int rule)
{
	return &pf->assigned->rules[rule];
}

static void parse_ip(const char *s, struct ip_addr *a)
{
	assert_int_equal(ip_addr_parse(s, a), 0);
}

/* "any", "me", "dns", "dhcp", "gateway", "wins", "A", "A/N" or "A-B". */
static void parse_side(const char *s, struct addr_spec *a)
{
	static const struct { const char *word; enum addr_kind kind; } words[] = {
		{ "any", ADDR_ANY }, { "me", ADDR_ME }, { "dns", ADDR_DNS },
		{ "dhcp", ADDR_DHCP }, { "gateway", ADDR_GATEWAY },
		{ "wins", ADDR_WINS },
	};
	char buf[128];
	char *sep;

	memset(a, 0, sizeof(*a));
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (!strcmp(s, words[i].word)) {
			a->kind = words[i].kind;
			return;
		}
	}
	snprintf(buf, sizeof(buf), "%s", s);
	if ((sep = strchr(buf, '-'))) {
		*sep = '\0';
		a->kind = ADDR_RANGE;
		parse_ip(buf, &a->addr);
		parse_ip(sep + 1, &a->hi);
		return;
	}
	a->kind = ADDR_PREFIX;
	sep = strchr(buf, '/');
	if (sep)
		*sep = '\0';
	parse_ip(buf, &a->addr);
	a->plen = sep ? (uint8_t)atoi(sep + 1) : a->addr.family == AF_INET ? 32 : 128;
}

/* Append a mirrored any-protocol filter to a rule's list. */
static struct filter_spec *tp_filter(struct policy_file *pf, int rule,
				     const char *src, const char *dst)
{
	struct filter_list *l = tp_get(pf, rule)->filters;
	struct filter_spec *f;

	l->filters = realloc(l->filters, (l->nfilters + 1) * sizeof(*f));
	assert_non_null(l->filters);
	f = &l->filters[l->nfilters];
	memset(f, 0, sizeof(*f));
	parse_side(src, &f->src);
	parse_side(dst, &f->dst);
	f->proto = PROTO_ANY;
	f->mirrored = true;
	f->pos.file = "test.yaml";
	f->pos.line = (unsigned)(10 * (rule + 1) + l->nfilters);
	f->pos.column = 5;
	l->nfilters++;
	return f;
}

static void tp_free(struct policy_file *pf)
{
	struct policy *p = pf->assigned;

	for (size_t i = 0; i < p->nrules; i++) {
		free(p->rules[i].filters->filters);
		free(p->rules[i].filters);
		free(p->rules[i].action);
	}
	free(p->rules);
	free(p);
	free(pf);
}

/* The host of most tests: one IPv4 /24 and one IPv6 /64 address, two IPv4
 * DNS servers and one IPv6, a DHCP server, a gateway per family, a WINS
 * server. */
struct test_host {
	struct host_info h;
	struct host_prefix me[2];
	struct ip_addr dns[3], dhcp[1], gw[2], wins[1];
};

static void test_host_init(struct test_host *t)
{
	memset(t, 0, sizeof(*t));
	parse_ip("192.168.1.10", &t->me[0].addr);
	t->me[0].plen = 24;
	parse_ip("2001:db8::10", &t->me[1].addr);
	t->me[1].plen = 64;
	parse_ip("192.168.1.53", &t->dns[0]);
	parse_ip("8.8.8.8", &t->dns[1]);
	parse_ip("2001:db8::53", &t->dns[2]);
	parse_ip("192.168.1.1", &t->dhcp[0]);
	parse_ip("192.168.1.254", &t->gw[0]);
	parse_ip("fe80::1", &t->gw[1]);
	parse_ip("192.168.1.137", &t->wins[0]);
	t->h = (struct host_info){
		.me = t->me, .nme = 2, .dns = t->dns, .ndns = 3,
		.dhcp = t->dhcp, .ndhcp = 1, .gateway = t->gw, .ngateway = 2,
		.wins = t->wins, .nwins = 1,
	};
}

/* ---- inspecting the result ----------------------------------------------- */

struct compiled {
	struct filter_table t;
	struct compile_diag d;
	struct policy_error err;
};

static void compile_ok(struct policy_file *pf, const struct host_info *h,
		       int exempt, struct compiled *c)
{
	memset(c, 0, sizeof(*c));
	if (compile_policy(pf, h, exempt, &c->t, &c->d, &c->err))
		fail_msg("compile_policy: %s", c->err.msg);
}

static void compiled_free(struct compiled *c)
{
	filter_table_free(&c->t);
	compile_diag_free(&c->d);
}

static struct pkt_tuple pkt(const char *src, const char *dst, uint8_t proto,
			    uint16_t sport, uint16_t dport)
{
	struct pkt_tuple p = { .proto = proto, .sport = sport, .dport = dport };
	struct ip_addr a, b;

	parse_ip(src, &a);
	parse_ip(dst, &b);
	assert_int_equal(a.family, b.family);
	p.fam = a.family == AF_INET ? IXDP_FAM_V4 : IXDP_FAM_V6;
	memcpy(p.src, a.bytes, 16);
	memcpy(p.dst, b.bytes, 16);
	return p;
}

/* The filter a packet hits, or NULL (= permitted, no filter). */
static const struct specific_filter *hit(const struct filter_table *t,
					 const char *src, const char *dst,
					 uint8_t proto, uint16_t sport,
					 uint16_t dport)
{
	struct pkt_tuple p = pkt(src, dst, proto, sport, dport);
	long i = filter_table_match(t, &p);

	return i < 0 ? NULL : &t->v[i];
}

static int action_of(const struct filter_table *t, const char *src,
		     const char *dst, uint8_t proto, uint16_t sport, uint16_t dport)
{
	const struct specific_filter *f = hit(t, src, dst, proto, sport, dport);

	return f ? f->action : -1;
}

static void assert_sorted(const struct filter_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		assert_int_equal(t->v[i].weight, filter_weight(&t->v[i]));
		if (i > 0)
			assert_true(t->v[i - 1].weight >= t->v[i].weight);
	}
}

static int selectors_cmp(const void *pa, const void *pb)
{
	const struct specific_filter *a = pa, *b = pb;
	size_t len = a->fam == IXDP_FAM_V4 ? 4 : 16;
	int c;

	if (a->fam != b->fam)
		return a->fam - b->fam;
	if ((c = memcmp(a->src, b->src, len)) || (c = memcmp(a->dst, b->dst, len)))
		return c;
	if (a->src_plen != b->src_plen)
		return a->src_plen - b->src_plen;
	if (a->dst_plen != b->dst_plen)
		return a->dst_plen - b->dst_plen;
	if (a->proto != b->proto)
		return a->proto - b->proto;
	if (a->sport.lo != b->sport.lo || a->sport.hi != b->sport.hi)
		return a->sport.lo != b->sport.lo ? a->sport.lo - b->sport.lo
						  : a->sport.hi - b->sport.hi;
	if (a->dport.lo != b->dport.lo)
		return a->dport.lo - b->dport.lo;
	return a->dport.hi - b->dport.hi;
}

/* No two filters of a compiled table have the same selectors, wherever
 * they were in the lists (checked on a copy sorted by selectors). */
static void assert_selectors_unique(const struct filter_table *t)
{
	struct specific_filter *v = malloc((t->n ? t->n : 1) * sizeof(*v));

	assert_non_null(v);
	memcpy(v, t->v, t->n * sizeof(*v));
	qsort(v, t->n, sizeof(*v), selectors_cmp);
	for (size_t i = 1; i < t->n; i++)
		assert_false(specific_filter_same_selectors(&v[i - 1], &v[i]));
	free(v);
}

static size_t count_named(const struct filter_table *t, const char *name)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n; i++)
		n += t->v[i].name && !strcmp(t->v[i].name, name);
	return n;
}

static size_t count_rule(const struct filter_table *t, int rule)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n; i++)
		n += t->v[i].rule == rule;
	return n;
}

static bool has_prefix(const struct specific_filter *f, bool src,
		       const char *text)
{
	char buf[64];

	format_prefix(f->fam, src ? f->src : f->dst, src ? f->src_plen : f->dst_plen,
		      buf, sizeof(buf));
	return !strcmp(buf, text);
}

/* A filter of `rule` with exactly these sides (format_prefix text). */
static const struct specific_filter *find(const struct filter_table *t, int rule,
					  const char *src, const char *dst)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].rule == rule && has_prefix(&t->v[i], true, src) &&
		    has_prefix(&t->v[i], false, dst))
			return &t->v[i];
	return NULL;
}

static bool diag_has(const struct compile_diag *d, const char *a, const char *b)
{
	for (size_t i = 0; i < d->nwarnings; i++)
		if (strstr(d->warnings[i], a) && (!b || strstr(d->warnings[i], b)))
			return true;
	return false;
}

#define NO_FILTER (-1)
/* The test host's IKE exemptions: UDP 500 and 4500, to and from each of
 * its two addresses. */
#define IKE_FILTERS 8
/* ... and the blocks of packets forged with its own address as the source
 * (one per family: one address each); all of level 3. */
#define SELF_BLOCKS 2
#define HOST_EXEMPTIONS (IKE_FILTERS + SELF_BLOCKS)
/* Level 3 with no host information: no exemption at all (the IKE ones are
 * bound to the host's addresses and fail closed). */
#define NO_HOST_EXEMPTIONS 0

/* ---- order and weights -------------------------------------------------- */

/*
 * The classic policy: block everything, permit the /16, negotiate with
 * three servers in it.  Most specific wins.
 */
static void test_classic_order(void **state)
{
	struct policy_file *pf = tp_new();
	struct test_host th;
	struct compiled c;
	int block, permit, nego;

	test_host_init(&th);
	block = tp_rule(pf, "block all", FA_BLOCK);
	tp_filter(pf, block, "any", "any");
	permit = tp_rule(pf, "lan", FA_PERMIT);
	tp_filter(pf, permit, "me", "10.1.0.0/16");
	nego = tp_rule(pf, "servers", FA_NEGOTIATE);
	tp_filter(pf, nego, "me", "10.1.0.5");
	tp_filter(pf, nego, "me", "10.1.0.6");
	tp_filter(pf, nego, "me", "10.1.0.7");
	compile_ok(pf, &th.h, 3, &c);

	assert_sorted(&c.t);
	/* any<->any: one per family, its mirror is itself */
	assert_int_equal(count_rule(&c.t, block), 2);
	assert_int_equal(count_rule(&c.t, permit), 2);
	assert_int_equal(count_rule(&c.t, nego), 6);
	assert_int_equal(c.t.n, 2 + 2 + 6 + HOST_EXEMPTIONS);
	assert_int_equal(c.d.nwarnings, 0);

	for (int h = 5; h <= 7; h++) {
		char ip[32];

		snprintf(ip, sizeof(ip), "10.1.0.%d", h);
		assert_int_equal(action_of(&c.t, "192.168.1.10", ip, 6, 1234, 80),
				 IXDP_ACT_NEGOTIATE);
		assert_int_equal(action_of(&c.t, ip, "192.168.1.10", 6, 80, 1234),
				 IXDP_ACT_NEGOTIATE);
	}
	assert_int_equal(action_of(&c.t, "192.168.1.10", "10.1.0.8", 6, 1234, 80),
			 IXDP_ACT_PERMIT);
	assert_int_equal(action_of(&c.t, "10.1.200.1", "192.168.1.10", 17, 53, 999),
			 IXDP_ACT_PERMIT);
	assert_int_equal(action_of(&c.t, "192.168.1.10", "10.2.0.5", 6, 1234, 80),
			 IXDP_ACT_BLOCK);
	assert_int_equal(action_of(&c.t, "2001:db8::10", "2001:db8::99", 6, 1, 2),
			 IXDP_ACT_BLOCK);
	/* the rule's name and index travel with each filter */
	const struct specific_filter *f = hit(&c.t, "192.168.1.10", "10.1.0.6", 1, 0, 0);
	assert_non_null(f);
	assert_string_equal(f->name, "servers");
	assert_int_equal(f->rule, nego);
	compiled_free(&c);
	tp_free(pf);
}

/* Protocol and ports add weight after the addresses. */
static void test_protocol_and_port_weights(void **state)
{
	struct policy_file *pf = tp_new();
	struct compiled c;
	struct filter_spec *fs;
	int any, tcp, web;

	any = tp_rule(pf, "host", FA_PERMIT);
	tp_filter(pf, any, "10.0.0.1", "10.0.0.2")->mirrored = false;
	tcp = tp_rule(pf, "tcp", FA_BLOCK);
	fs = tp_filter(pf, tcp, "10.0.0.1", "10.0.0.2");
	fs->mirrored = false;
	fs->proto = IPPROTO_TCP;
	web = tp_rule(pf, "web", FA_NEGOTIATE);
	fs = tp_filter(pf, web, "10.0.0.1", "10.0.0.2");
	fs->mirrored = false;
	fs->proto = IPPROTO_TCP;
	fs->dport = (struct port_spec){ 80, 80 };
	compile_ok(pf, NULL, 3, &c);

	assert_sorted(&c.t);
	assert_int_equal(c.t.n, 3 + NO_HOST_EXEMPTIONS);
	assert_true(find(&c.t, web, "10.0.0.1", "10.0.0.2")->weight >
		    find(&c.t, tcp, "10.0.0.1", "10.0.0.2")->weight);
	assert_true(find(&c.t, tcp, "10.0.0.1", "10.0.0.2")->weight >
		    find(&c.t, any, "10.0.0.1", "10.0.0.2")->weight);
	assert_int_equal(action_of(&c.t, "10.0.0.1", "10.0.0.2", 6, 999, 80),
			 IXDP_ACT_NEGOTIATE);
	assert_int_equal(action_of(&c.t, "10.0.0.1", "10.0.0.2", 6, 999, 81),
			 IXDP_ACT_BLOCK);
	assert_int_equal(action_of(&c.t, "10.0.0.1", "10.0.0.2", 17, 999, 80),
			 IXDP_ACT_PERMIT);
	/* not mirrored: the other way is not covered */
	assert_int_equal(action_of(&c.t, "10.0.0.2", "10.0.0.1", 6, 80, 999),
			 NO_FILTER);
	compiled_free(&c);
	tp_free(pf);
}

/* ---- mirroring ------------------------------------------------------------ */

static void test_mirror_swaps_addresses_and_ports(void **state)
{
	struct policy_file *pf = tp_new();
	struct compiled c;
	const struct specific_filter *orig, *mir;
	struct filter_spec *fs;
	int r;

	r = tp_rule(pf, "ssh", FA_NEGOTIATE);
	fs = tp_filter(pf, r, "10.0.0.0/8", "172.16.0.9");
	fs->proto = IPPROTO_TCP;
	fs->sport = (struct port_spec){ 1024, 65535 };
	fs->dport = (struct port_spec){ 22, 22 };
	compile_ok(pf, NULL, 3, &c);

	assert_int_equal(count_rule(&c.t, r), 2);
	orig = find(&c.t, r, "10.0.0.0/8", "172.16.0.9");
	mir = find(&c.t, r, "172.16.0.9", "10.0.0.0/8");
	assert_non_null(orig);
	assert_non_null(mir);
	assert_false(orig->mirror);
	assert_true(mir->mirror);
	assert_int_equal(mir->sport.lo, 22);
	assert_int_equal(mir->sport.hi, 22);
	assert_int_equal(mir->dport.lo, 1024);
	assert_int_equal(mir->dport.hi, 65535);
	assert_int_equal(action_of(&c.t, "172.16.0.9", "10.3.3.3", 6, 22, 40000),
			 IXDP_ACT_NEGOTIATE);
	assert_int_equal(action_of(&c.t, "172.16.0.9", "10.3.3.3", 6, 22, 80),
			 NO_FILTER);
	compiled_free(&c);
	tp_free(pf);
}

/* A filter equal to its own mirror is not doubled; 0-65535 is `any`. */
static void test_symmetric_filter_not_doubled(void **state)
{
	struct policy_file *pf = tp_new();
	struct compiled c;
	struct filter_spec *fs;
	int r;

	r = tp_rule(pf, "dns", FA_PERMIT);
	fs = tp_filter(pf, r, "10.0.0.0/8", "10.0.0.0/8");
	fs->proto = IPPROTO_UDP;
	fs->sport = (struct port_spec){ 0, 65535 };
	compile_ok(pf, NULL, 3, &c);

	assert_int_equal(count_rule(&c.t, r), 1);
	const struct specific_filter *f = find(&c.t, r, "10.0.0.0/8", "10.0.0.0/8");
	assert_non_null(f);
	assert_int_equal(port_kind(&f->sport), IXDP_PORT_ANY);
	assert_int_equal(f->sport.lo, 0);
	assert_int_equal(f->sport.hi, 0);
	compiled_free(&c);
	tp_free(pf);
}

/* ---- me, dns, dhcp, gateway ------------------------------------------------- */

static void test_expand_me_and_dns(void **state)
{
	struct policy_file *pf = tp_new();
	struct test_host th;
	struct compiled c;
	int r;

	test_host_init(&th);
	r = tp_rule(pf, "dns", FA_PERMIT);
	tp_filter(pf, r, "me", "dns")->mirrored = false;
	compile_ok(pf, &th.h, 3, &c);

	/* same-family pairs only: 1 x 2 IPv4 + 1 x 1 IPv6 */
	assert_int_equal(count_rule(&c.t, r), 3);
	assert_non_null(find(&c.t, r, "192.168.1.10", "192.168.1.53"));
	assert_non_null(find(&c.t, r, "192.168.1.10", "8.8.8.8"));
	assert_non_null(find(&c.t, r, "2001:db8::10", "2001:db8::53"));
	/* `me` is the host address itself, not its prefix */
	assert_int_equal(find(&c.t, r, "192.168.1.10", "8.8.8.8")->src_plen, 32);
	assert_int_equal(find(&c.t, r, "2001:db8::10", "2001:db8::53")->src_plen, 128);
	assert_int_equal(action_of(&c.t, "192.168.1.11", "8.8.8.8", 17, 1, 53),
			 NO_FILTER);
	compiled_free(&c);
	tp_free(pf);
}

static void test_expand_dhcp_and_gateway(void **state)
{
	struct policy_file *pf = tp_new();
	struct test_host th;
	struct compiled c;
	int dhcp, gw;

	test_host_init(&th);
	dhcp = tp_rule(pf, "dhcp", FA_PERMIT);
	tp_filter(pf, dhcp, "any", "dhcp");
	gw = tp_rule(pf, "gateway", FA_BLOCK);
	tp_filter(pf, gw, "gateway", "me");
	compile_ok(pf, &th.h, 3, &c);

	/* `any` pairs with the one IPv4 DHCP server only, plus the mirror */
	assert_int_equal(count_rule(&c.t, dhcp), 2);
	assert_non_null(find(&c.t, dhcp, "any4", "192.168.1.1"));
	assert_non_null(find(&c.t, dhcp, "192.168.1.1", "any4"));
	assert_int_equal(count_rule(&c.t, gw), 4);
	assert_non_null(find(&c.t, gw, "192.168.1.254", "192.168.1.10"));
	assert_non_null(find(&c.t, gw, "fe80::1", "2001:db8::10"));
	assert_non_null(find(&c.t, gw, "2001:db8::10", "fe80::1"));
	assert_int_equal(action_of(&c.t, "fe80::1", "2001:db8::10", 58, 0, 0),
			 IXDP_ACT_BLOCK);
	compiled_free(&c);
	tp_free(pf);
}

/* `wins` is the host's WINS servers, as `dns` is its DNS servers; a host
 * with none gets no filter and a warning naming `wins`. */
static void test_expand_wins(void **state)
{
	struct policy_file *pf = tp_new();
	struct test_host th;
	struct compiled c;
	int r;

	test_host_init(&th);
	r = tp_rule(pf, "netbios names", FA_PERMIT);
	tp_filter(pf, r, "me", "wins");
	compile_ok(pf, &th.h, 3, &c);
	assert_int_equal(count_rule(&c.t, r), 2);
	assert_non_null(find(&c.t, r, "192.168.1.10", "192.168.1.137"));
	assert_non_null(find(&c.t, r, "192.168.1.137", "192.168.1.10"));
	assert_int_equal(action_of(&c.t, "192.168.1.10", "192.168.1.137", 17,
				   137, 137), IXDP_ACT_PERMIT);
	compiled_free(&c);

	th.h.nwins = 0;
	compile_ok(pf, &th.h, 3, &c);
	assert_int_equal(count_rule(&c.t, r), 0);
	assert_true(c.d.nwarnings >= 1);
	assert_non_null(strstr(c.d.warnings[0], "wins"));
	compiled_free(&c);
	tp_free(pf);
}

static void test_empty_expansion_warns(void **state)
{
	struct policy_file *pf = tp_new();
	struct test_host th;
	struct compiled c;
	int r, ok;

	test_host_init(&th);
	th.h.ndhcp = 0;
	r = tp_rule(pf, "leases", FA_PERMIT);
	tp_filter(pf, r, "me", "dhcp");
	ok = tp_rule(pf, "web", FA_PERMIT);
	tp_filter(pf, ok, "me", "10.0.0.80");
	compile_ok(pf, &th.h, 3, &c);

	assert_int_equal(count_rule(&c.t, r), 0);
	assert_int_equal(count_rule(&c.t, ok), 2);
	assert_int_equal(c.d.nwarnings, 1);
	assert_true(diag_has(&c.d, "rule leases, filter at test.yaml:10",
			     "`dhcp` names no address now; the filter is inactive"));
	compiled_free(&c);

	/* no host information at all: `me` names nothing either */
	compile_ok(pf, NULL, 3, &c);
	assert_int_equal(count_rule(&c.t, ok), 0);
	assert_true(diag_has(&c.d, "rule web", "`me` names no address now"));
	compiled_free(&c);
	tp_free(pf);
}

/* An ah-esp method is valid in a policy, but IKEv2 cannot negotiate it
 * (RFC 7296 §3.3): a warning per such method, and one more when the rule
 * has no other method; the filters compile as usual. */
static void test_ah_esp_warns(void **state)
{
	struct security_method both[2] = {
		{ .kind = SM_AH_ESP, .pos = { "test.yaml", 7, 9 } },
		{ .kind = SM_AH, .pos = { "test.yaml", 8, 9 } },
	};
	struct policy_file *pf = tp_new();
	struct test_host th;
	struct compiled c;
	int r;

	test_host_init(&th);
	r = tp_rule(pf, "signed", FA_NEGOTIATE);
	tp_filter(pf, r, "me", "10.0.0.9");
	tp_get(pf, r)->action->methods = both;
	tp_get(pf, r)->action->nmethods = 2;
	compile_ok(pf, &th.h, 3, &c);
	assert_int_equal(count_rule(&c.t, r), 2);
	assert_int_equal(c.d.nwarnings, 1);
	assert_true(diag_has(&c.d, "rule signed, method at test.yaml:7",
			     "ah-esp cannot be negotiated by IKEv2"));
	compiled_free(&c);

	tp_get(pf, r)->action->nmethods = 1;	/* ah-esp alone */
	compile_ok(pf, &th.h, 3, &c);
	assert_int_equal(c.d.nwarnings, 2);
	assert_true(diag_has(&c.d, "rule signed: no security method left",
			     "never gets an SA"));
	compiled_free(&c);
	tp_get(pf, r)->action->methods = NULL;
	tp_free(pf);
}

/* IPv6 on one side, only IPv4 on the other: nothing to pair. */
static void test_no_common_family_warns(void **state)
{
	struct policy_file *pf = tp_new();
	struct compiled c;
	int r;

	r = tp_rule(pf, "mixed", FA_BLOCK);
	tp_filter(pf, r, "10.0.0.1", "2001:db8::1");
	compile_ok(pf, NULL, 3, &c);
	assert_int_equal(count_rule(&c.t, r), 0);
	assert_true(diag_has(&c.d, "rule mixed", "no address family in common"));
	compiled_free(&c);
	tp_free(pf);
}

/* icmp is IPv4's, icmpv6 IPv6's: `any` keeps only the family that fits. */
static void test_icmp_keeps_its_family(void **state)
{
	struct policy_file *pf = tp_new();
	struct compiled c;
	int v4, v6;

	v4 = tp_rule(pf, "ping", FA_PERMIT);
	tp_filter(pf, v4, "any", "any")->proto = IPPROTO_ICMP;
	v6 = tp_rule(pf, "ping6", FA_PERMIT);
	tp_filter(pf, v6, "any", "any")->proto = IPPROTO_ICMPV6;
	compile_ok(pf, NULL, 3, &c);
	assert_int_equal(count_rule(&c.t, v4), 1);
	assert_non_null(find(&c.t, v4, "any4", "any4"));
	assert_int_equal(count_rule(&c.t, v6), 1);
	assert_non_null(find(&c.t, v6, "any6", "any6"));
	compiled_free(&c);
	tp_free(pf);
}

/* ---- ranges ----------------------------------------------------------------- */

static void test_range_to_cidr_blocks(void **state)
{
	static const char *const blocks[] = {
		"10.0.0.1", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6",
	};
	struct policy_file *pf = tp_new();
	struct compiled c;
	int r;

	r = tp_rule(pf, "range", FA_BLOCK);
	tp_filter(pf, r, "10.0.0.1-10.0.0.6", "any")->mirrored = false;
	compile_ok(pf, NULL, 3, &c);

	/* an IPv4 range pairs with the IPv4 half of `any` only */
	assert_int_equal(count_rule(&c.t, r), 4);
	for (size_t i = 0; i < 4; i++)
		assert_non_null(find(&c.t, r, blocks[i], "any4"));
	assert_int_equal(action_of(&c.t, "10.0.0.0", "1.1.1.1", 6, 1, 2), NO_FILTER);
	for (int h = 1; h <= 6; h++) {
		char ip[32];

		snprintf(ip, sizeof(ip), "10.0.0.%d", h);
		assert_int_equal(action_of(&c.t, ip, "1.1.1.1", 6, 1, 2),
				 IXDP_ACT_BLOCK);
	}
	assert_int_equal(action_of(&c.t, "10.0.0.7", "1.1.1.1", 6, 1, 2), NO_FILTER);
	compiled_free(&c);
	tp_free(pf);
}

static void test_range_edges(void **state)
{
	struct policy_file *pf = tp_new();
	struct compiled c;
	int whole, v6, one, wrap, back;

	whole = tp_rule(pf, "whole", FA_PERMIT);
	tp_filter(pf, whole, "0.0.0.0-255.255.255.255", "10.9.9.9")->mirrored = false;
	v6 = tp_rule(pf, "v6", FA_PERMIT);
	tp_filter(pf, v6, "2001:db8::-2001:db8::ffff", "2001:db8:1::1")->mirrored = false;
	one = tp_rule(pf, "one", FA_PERMIT);
	tp_filter(pf, one, "10.5.5.5-10.5.5.5", "10.9.9.9")->mirrored = false;
	wrap = tp_rule(pf, "top", FA_PERMIT);
	tp_filter(pf, wrap, "255.255.255.254-255.255.255.255", "10.9.9.8")->mirrored = false;
	back = tp_rule(pf, "backwards", FA_PERMIT);
	tp_filter(pf, back, "10.0.0.9-10.0.0.1", "10.9.9.9")->mirrored = false;
	compile_ok(pf, NULL, 3, &c);

	assert_non_null(find(&c.t, whole, "any4", "10.9.9.9"));
	assert_int_equal(count_rule(&c.t, whole), 1);
	assert_non_null(find(&c.t, v6, "2001:db8::/112", "2001:db8:1::1"));
	assert_int_equal(count_rule(&c.t, v6), 1);
	assert_non_null(find(&c.t, one, "10.5.5.5", "10.9.9.9"));
	assert_non_null(find(&c.t, wrap, "255.255.255.254/31", "10.9.9.8"));
	assert_int_equal(count_rule(&c.t, wrap), 1);
	assert_int_equal(count_rule(&c.t, back), 0);
	assert_true(diag_has(&c.d, "rule backwards", "names no address"));
	compiled_free(&c);
	tp_free(pf);
}

/* A range that needs the most blocks: 1 .. 2^32-2 gives 62 of them. */
static void test_range_worst_case(void **state)
{
	struct policy_file *pf = tp_new();
	struct compiled c;
	int r;

	r = tp_rule(pf, "wide", FA_BLOCK);
	tp_filter(pf, r, "0.0.0.1-255.255.255.254", "10.9.9.9")->mirrored = false;
	compile_ok(pf, NULL, 3, &c);
	assert_int_equal(count_rule(&c.t, r), 62);
	assert_int_equal(action_of(&c.t, "0.0.0.0", "10.9.9.9", 6, 1, 2), NO_FILTER);
	assert_int_equal(action_of(&c.t, "255.255.255.255", "10.9.9.9", 6, 1, 2),
			 NO_FILTER);
	assert_int_equal(action_of(&c.t, "128.0.0.0", "10.9.9.9", 6, 1, 2),
			 IXDP_ACT_BLOCK);
	assert_int_equal(action_of(&c.t, "127.255.255.255", "10.9.9.9", 6, 1, 2),
			 IXDP_ACT_BLOCK);
	compiled_free(&c);
	tp_free(pf);
}

/* ---- conflicts ----------------------------------------------------------------- */

/* Three rules, same selectors: block wins, whatever the order. */
static void test_conflict_most_restrictive(void **state)
{
	static const enum filter_action_kind orders[][3] = {
		{ FA_PERMIT, FA_NEGOTIATE, FA_BLOCK },
		{ FA_BLOCK, FA_PERMIT, FA_NEGOTIATE },
		{ FA_NEGOTIATE, FA_BLOCK, FA_PERMIT },
	};
	static const char *const names[] = { "first", "second", "third" };

	for (size_t o = 0; o < 3; o++) {
		struct policy_file *pf = tp_new();
		struct compiled c;
		const struct specific_filter *f;
		size_t blocker = 0;

		for (size_t i = 0; i < 3; i++) {
			int r = tp_rule(pf, names[i], orders[o][i]);

			tp_filter(pf, r, "10.0.0.1", "10.0.0.2");
			if (orders[o][i] == FA_BLOCK)
				blocker = i;
		}
		compile_ok(pf, NULL, 3, &c);
		assert_int_equal(c.t.n, 2 + NO_HOST_EXEMPTIONS);
		f = hit(&c.t, "10.0.0.1", "10.0.0.2", 6, 1, 2);
		assert_non_null(f);
		assert_int_equal(f->action, IXDP_ACT_BLOCK);
		assert_string_equal(f->name, names[blocker]);
		assert_int_equal(action_of(&c.t, "10.0.0.2", "10.0.0.1", 6, 1, 2),
				 IXDP_ACT_BLOCK);
		/* one warning per pair of rules, naming both */
		assert_int_equal(c.d.nwarnings, 2);
		for (size_t i = 0; i < 3; i++)
			if (i != blocker)
				assert_true(diag_has(&c.d, names[blocker], names[i]));
		assert_true(diag_has(&c.d, "most restrictive, block", NULL));
		compiled_free(&c);
		tp_free(pf);
	}
}

static void test_conflict_negotiate_beats_permit(void **state)
{
	struct policy_file *pf = tp_new();
	struct compiled c;
	int p, n;

	p = tp_rule(pf, "open", FA_PERMIT);
	tp_filter(pf, p, "me", "10.0.0.0/8");
	n = tp_rule(pf, "secure", FA_NEGOTIATE);
	tp_filter(pf, n, "10.0.0.0/8", "me"); /* the same pair, written the other way */
	struct test_host th;
	test_host_init(&th);
	compile_ok(pf, &th.h, 3, &c);

	assert_int_equal(count_rule(&c.t, p), 0);
	assert_int_equal(count_rule(&c.t, n), 2);
	assert_int_equal(action_of(&c.t, "192.168.1.10", "10.1.1.1", 6, 1, 2),
			 IXDP_ACT_NEGOTIATE);
	assert_int_equal(c.d.nwarnings, 1);
	assert_true(diag_has(&c.d, "rules secure and open", "2 filter(s)"));
	assert_true(diag_has(&c.d, "negotiate, permit", NULL));
	compiled_free(&c);
	tp_free(pf);
}

static void test_identical_duplicates_merge_silently(void **state)
{
	struct policy_file *pf = tp_new();
	struct compiled c;
	int a, b;

	a = tp_rule(pf, "a", FA_PERMIT);
	tp_filter(pf, a, "10.0.0.1", "10.0.0.2");
	tp_filter(pf, a, "10.0.0.1", "10.0.0.2");
	b = tp_rule(pf, "b", FA_PERMIT);
	tp_filter(pf, b, "10.0.0.2", "10.0.0.1");
	compile_ok(pf, NULL, 3, &c);

	assert_int_equal(c.t.n, 2 + NO_HOST_EXEMPTIONS);
	assert_int_equal(count_rule(&c.t, a), 2); /* the earliest survives */
	assert_int_equal(c.d.nwarnings, 0);
	compiled_free(&c);
	tp_free(pf);
}

/* inpass/soft come from the action; a clash keeps the stricter setting. */
static void test_fallback_flags(void **state)
{
	struct policy_file *pf = tp_new();
	struct compiled c;
	const struct specific_filter *f;
	int loose, strict;

	loose = tp_rule(pf, "loose", FA_NEGOTIATE);
	tp_get(pf, loose)->action->inpass = true;
	tp_get(pf, loose)->action->soft = true;
	tp_filter(pf, loose, "10.0.0.1", "10.0.0.2");
	tp_filter(pf, loose, "10.0.0.1", "10.0.0.3");
	strict = tp_rule(pf, "strict", FA_NEGOTIATE);
	tp_get(pf, strict)->action->soft = true;
	tp_filter(pf, strict, "10.0.0.1", "10.0.0.3");
	compile_ok(pf, NULL, 3, &c);

	f = hit(&c.t, "10.0.0.1", "10.0.0.2", 6, 1, 2);
	assert_int_equal(f->flags, IXDP_F_INPASS | IXDP_F_SOFT);
	f = hit(&c.t, "10.0.0.3", "10.0.0.1", 6, 1, 2);
	assert_int_equal(f->flags, IXDP_F_SOFT);
	assert_string_equal(f->name, "loose");
	assert_true(diag_has(&c.d, "rules loose and strict", "stricter setting"));
	compiled_free(&c);
	tp_free(pf);
}

/* ---- default exemptions ------------------------------------------------------------ */

struct exempt_expect {
	bool kerberos, rsvp, multicast, broadcast;
};

static const struct exempt_expect exempt_expect[4] = {
	{ true, true, true, true },
	{ false, false, true, true },
	{ true, true, false, false },
	{ false, false, false, false },
};

/* Is the packet exempt (hits a default exemption)? */
static bool exempt(const struct filter_table *t, const char *src,
		   const char *dst, uint8_t proto, uint16_t sport, uint16_t dport)
{
	const struct specific_filter *f = hit(t, src, dst, proto, sport, dport);

	return f && (f->flags & IXDP_F_EXEMPTION) && f->action == IXDP_ACT_PERMIT &&
	       f->rule == -1 && !strncmp(f->name, "exempt:", 7);
}

/*
 * IKE: UDP to the host's ports 500 and 4500 from any remote port (NAT), and
 * from them to any remote port.  Never from a remote port 500 or 4500 to
 * another local port (issue 15: `nc -u -p 500 A 9999` got through), never
 * from another local port to a remote port 500, never between other hosts.
 */
static void check_ike_exempt(const struct filter_table *t)
{
	assert_true(exempt(t, "192.168.1.10", "10.0.0.1", 17, 500, 500));
	assert_true(exempt(t, "10.0.0.1", "192.168.1.10", 17, 500, 500));
	assert_true(exempt(t, "10.0.0.1", "192.168.1.10", 17, 40000, 500));
	assert_true(exempt(t, "10.0.0.1", "192.168.1.10", 17, 40000, 4500));
	assert_true(exempt(t, "192.168.1.10", "10.0.0.1", 17, 4500, 40000));
	assert_true(exempt(t, "2001:db8::10", "2001:db8::1", 17, 4500, 4500));
	assert_true(exempt(t, "2001:db8::1", "2001:db8::10", 17, 1234, 500));
	assert_false(exempt(t, "10.0.0.1", "192.168.1.10", 17, 500, 9999));
	assert_false(exempt(t, "10.0.0.1", "192.168.1.10", 17, 4500, 9999));
	assert_false(exempt(t, "10.0.0.1", "192.168.1.10", 17, 4500, 1234));
	assert_false(exempt(t, "2001:db8::1", "2001:db8::10", 17, 500, 9999));
	assert_false(exempt(t, "192.168.1.10", "10.0.0.1", 17, 40000, 500));
	assert_false(exempt(t, "192.168.1.10", "10.0.0.1", 17, 40000, 4500));
	assert_false(exempt(t, "10.0.0.1", "10.0.0.2", 17, 500, 500));
	assert_false(exempt(t, "10.0.0.1", "192.168.1.10", 6, 500, 500));
	assert_false(exempt(t, "10.0.0.1", "192.168.1.10", 17, 501, 4501));
	/* forged with the host's own address as the source, it would match
	 * "from the host's port 500": blocked ahead of the exemptions */
	assert_int_equal(action_of(t, "192.168.1.10", "192.168.1.10", 17, 500, 9999),
			 IXDP_ACT_BLOCK);
	assert_int_equal(action_of(t, "2001:db8::10", "2001:db8::10", 17, 4500, 9999),
			 IXDP_ACT_BLOCK);
}

static void check_level(const struct filter_table *t, int level)
{
	const struct exempt_expect *e = &exempt_expect[level];

	check_ike_exempt(t);
	/* Kerberos: a KDC on this host, reached on its port 88 */
	assert_int_equal(exempt(t, "10.0.0.1", "192.168.1.10", 6, 40000, 88), e->kerberos);
	assert_int_equal(exempt(t, "10.0.0.1", "192.168.1.10", 17, 40000, 88), e->kerberos);
	assert_int_equal(exempt(t, "192.168.1.10", "10.0.0.1", 17, 88, 40000), e->kerberos);
	assert_int_equal(exempt(t, "2001:db8::1", "2001:db8::10", 6, 5, 88), e->kerberos);
	/* ... never from a remote port 88 to any local port (the source-port-88
	 * bypass), nor this host as a client of another KDC */
	assert_false(exempt(t, "10.0.0.1", "192.168.1.10", 17, 88, 1234));
	assert_false(exempt(t, "10.0.0.1", "192.168.1.10", 6, 88, 445));
	assert_false(exempt(t, "2001:db8::1", "2001:db8::10", 6, 88, 5));
	assert_false(exempt(t, "192.168.1.10", "10.0.0.1", 6, 1234, 88));
	/* RSVP: to and from this host only */
	assert_int_equal(exempt(t, "10.0.0.1", "192.168.1.10", 46, 0, 0), e->rsvp);
	assert_int_equal(exempt(t, "192.168.1.10", "10.0.0.1", 46, 0, 0), e->rsvp);
	assert_int_equal(exempt(t, "2001:db8::1", "2001:db8::10", 46, 0, 0), e->rsvp);
	assert_false(exempt(t, "10.0.0.1", "10.0.0.2", 46, 0, 0));
	/* multicast and broadcast: by destination only */
	assert_int_equal(exempt(t, "192.168.1.10", "224.0.0.251", 17, 5353, 5353),
			 e->multicast);
	assert_int_equal(exempt(t, "10.0.0.1", "239.1.2.3", 17, 1, 2), e->multicast);
	assert_int_equal(exempt(t, "fe80::2", "ff02::fb", 17, 5353, 5353), e->multicast);
	assert_int_equal(exempt(t, "192.168.1.7", "255.255.255.255", 17, 68, 67),
			 e->broadcast);
	assert_false(exempt(t, "224.0.0.251", "192.168.1.10", 17, 5353, 9999));
	assert_false(exempt(t, "192.168.1.10", "10.0.0.1", 6, 1234, 89));
	assert_false(exempt(t, "10.0.0.1", "192.168.1.10", 50, 0, 0));
}

/* One filter as text: "NAME SRC DST PROTO SPORT DPORT ACTION". */
static void filter_text(const struct specific_filter *f, char *buf, size_t len)
{
	char src[64], dst[64], sp[8] = "any", dp[8] = "any", proto[8] = "any";

	format_prefix(f->fam, f->src, f->src_plen, src, sizeof(src));
	format_prefix(f->fam, f->dst, f->dst_plen, dst, sizeof(dst));
	if (f->proto_exact)
		snprintf(proto, sizeof(proto), "%u", f->proto);
	if (f->sport.lo || f->sport.hi)
		snprintf(sp, sizeof(sp), "%u", f->sport.lo);
	if (f->dport.lo || f->dport.hi)
		snprintf(dp, sizeof(dp), "%u", f->dport.lo);
	snprintf(buf, len, "%s %s %s %s %s %s %s", f->name, src, dst, proto, sp, dp,
		 f->action == IXDP_ACT_PERMIT ? "permit" : f->action == IXDP_ACT_BLOCK ?
		 "block" : "negotiate");
}

/* The table holds exactly the filters of want (in any order), each an
 * exemption. */
static void assert_exact_filters(const struct filter_table *t, const char *const *want,
				 size_t nwant)
{
	bool *seen = calloc(nwant ? nwant : 1, sizeof(*seen));
	char buf[256];

	assert_non_null(seen);
	for (size_t i = 0; i < t->n; i++) {
		size_t k = 0;

		filter_text(&t->v[i], buf, sizeof(buf));
		while (k < nwant && (seen[k] || strcmp(buf, want[k])))
			k++;
		if (k == nwant)
			fail_msg("unexpected exemption filter: %s", buf);
		seen[k] = true;
		assert_true(t->v[i].flags & IXDP_F_EXEMPTION);
		assert_int_equal(t->v[i].rule, -1);
	}
	for (size_t k = 0; k < nwant; k++)
		if (!seen[k])
			fail_msg("missing exemption filter: %s", want[k]);
	free(seen);
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *const exact_self[] = {
	"exempt:spoofed-self 192.168.1.10 192.168.1.10 any any any block",
	"exempt:spoofed-self 2001:db8::10 2001:db8::10 any any any block",
};

static const char *const exact_ike[] = {
	"exempt:ike any4 192.168.1.10 17 any 500 permit",
	"exempt:ike 192.168.1.10 any4 17 500 any permit",
	"exempt:ike any4 192.168.1.10 17 any 4500 permit",
	"exempt:ike 192.168.1.10 any4 17 4500 any permit",
	"exempt:ike any6 2001:db8::10 17 any 500 permit",
	"exempt:ike 2001:db8::10 any6 17 500 any permit",
	"exempt:ike any6 2001:db8::10 17 any 4500 permit",
	"exempt:ike 2001:db8::10 any6 17 4500 any permit",
};

static const char *const exact_kerberos_rsvp[] = {
	"exempt:kerberos any4 192.168.1.10 6 any 88 permit",
	"exempt:kerberos 192.168.1.10 any4 6 88 any permit",
	"exempt:kerberos any4 192.168.1.10 17 any 88 permit",
	"exempt:kerberos 192.168.1.10 any4 17 88 any permit",
	"exempt:kerberos any6 2001:db8::10 6 any 88 permit",
	"exempt:kerberos 2001:db8::10 any6 6 88 any permit",
	"exempt:kerberos any6 2001:db8::10 17 any 88 permit",
	"exempt:kerberos 2001:db8::10 any6 17 88 any permit",
	"exempt:rsvp any4 192.168.1.10 46 any any permit",
	"exempt:rsvp 192.168.1.10 any4 46 any any permit",
	"exempt:rsvp any6 2001:db8::10 46 any any permit",
	"exempt:rsvp 2001:db8::10 any6 46 any any permit",
};

static const char *const exact_multicast_broadcast[] = {
	"exempt:multicast any4 224.0.0.0/4 any any any permit",
	"exempt:multicast any6 ff00::/8 any any any permit",
	"exempt:broadcast any4 255.255.255.255 any any any permit",
	"exempt:broadcast any4 192.168.1.255 any any any permit",
};

/* The exact exemption filters of each level, for the test host. */
static void test_exempt_filters_exact(void **state)
{
	const char *want[NELEM(exact_self) + NELEM(exact_ike) +
			 NELEM(exact_kerberos_rsvp) + NELEM(exact_multicast_broadcast)];
	struct test_host th;

	test_host_init(&th);
	for (int level = 0; level <= 3; level++) {
		const struct exempt_expect *e = &exempt_expect[level];
		struct filter_table t = {0};
		size_t n = 0;

		for (size_t i = 0; i < NELEM(exact_self); i++)
			want[n++] = exact_self[i];
		for (size_t i = 0; i < NELEM(exact_ike); i++)
			want[n++] = exact_ike[i];
		for (size_t i = 0; e->kerberos && i < NELEM(exact_kerberos_rsvp); i++)
			want[n++] = exact_kerberos_rsvp[i];
		for (size_t i = 0; e->multicast && i < NELEM(exact_multicast_broadcast); i++)
			want[n++] = exact_multicast_broadcast[i];
		assert_int_equal(compile_exemptions(level, &th.h, &t), 0);
		assert_int_equal(t.n, n);
		assert_exact_filters(&t, want, n);
		filter_table_free(&t);
	}
}

/* No host information: the exemptions bound to the host's addresses are
 * left out, never widened; multicast and the limited broadcast name no
 * host address and stay.  An address listed twice gives its filters once. */
static void test_exemptions_without_host(void **state)
{
	static const char *const dst_only[] = {
		"exempt:multicast any4 224.0.0.0/4 any any any permit",
		"exempt:multicast any6 ff00::/8 any any any permit",
		"exempt:broadcast any4 255.255.255.255 any any any permit",
	};
	struct host_info none = { 0 };
	struct filter_table t = {0};
	struct test_host th;

	assert_int_equal(compile_exemptions(3, NULL, &t), 0);
	assert_int_equal(t.n, 0);
	assert_int_equal(compile_exemptions(2, &none, &t), 0);
	assert_int_equal(t.n, 0);
	assert_int_equal(compile_exemptions(0, NULL, &t), 0);
	assert_exact_filters(&t, dst_only, NELEM(dst_only));
	assert_false(exempt(&t, "10.0.0.1", "192.168.1.10", 17, 500, 9999));
	assert_false(exempt(&t, "10.0.0.1", "192.168.1.10", 17, 40000, 500));
	filter_table_free(&t);

	test_host_init(&th);
	th.me[1] = th.me[0];
	th.me[1].plen = 32;
	assert_int_equal(compile_exemptions(3, &th.h, &t), 0);
	const char *v4_only[] = { exact_self[0], exact_ike[0], exact_ike[1],
				  exact_ike[2], exact_ike[3] };
	assert_exact_filters(&t, v4_only, NELEM(v4_only));
	filter_table_free(&t);
}

static void test_exemptions_only(void **state)
{
	struct test_host th;

	test_host_init(&th);
	for (int level = 0; level <= 3; level++) {
		struct filter_table t = {0};

		assert_int_equal(compile_exemptions(level, &th.h, &t), 0);
		assert_sorted(&t);
		check_level(&t, level);
		for (size_t i = 0; i < t.n; i++)
			assert_true(t.v[i].flags & IXDP_F_EXEMPTION);
		filter_table_free(&t);
	}
	struct filter_table t = {0};
	assert_int_equal(compile_exemptions(3, &th.h, &t), 0);
	assert_int_equal(t.n, HOST_EXEMPTIONS);
	assert_int_equal(count_named(&t, "exempt:spoofed-self"), SELF_BLOCKS);
	assert_int_equal(count_named(&t, "exempt:ike"), IKE_FILTERS);
	filter_table_free(&t);
	assert_int_equal(compile_exemptions(0, &th.h, &t), 0);
	assert_int_equal(count_named(&t, "exempt:kerberos"), 8);
	assert_int_equal(count_named(&t, "exempt:rsvp"), 4);
	assert_int_equal(count_named(&t, "exempt:multicast"), 2);
	assert_int_equal(count_named(&t, "exempt:broadcast"), 2);
	filter_table_free(&t);
	assert_int_equal(compile_exemptions(4, &th.h, &t), -1);
	assert_int_equal(compile_exemptions(-1, &th.h, &t), -1);
	assert_int_equal(t.n, 0);
}

/* With a block-all policy: the exempt traffic still passes, the rest is
 * blocked; subnet-directed broadcasts come from the host's prefixes. */
static void test_exemptions_beat_block_all(void **state)
{
	struct test_host th;

	test_host_init(&th);
	for (int level = 0; level <= 3; level++) {
		struct policy_file *pf = tp_new();
		struct compiled c;
		int r = tp_rule(pf, "block all", FA_BLOCK);

		tp_filter(pf, r, "any", "any");
		compile_ok(pf, &th.h, level, &c);
		assert_sorted(&c.t);
		check_level(&c.t, level);
		assert_int_equal(exempt(&c.t, "192.168.1.7", "192.168.1.255", 17, 137, 137),
				 exempt_expect[level].broadcast);
		assert_int_equal(action_of(&c.t, "192.168.1.10", "10.0.0.1", 6, 1234, 443),
				 IXDP_ACT_BLOCK);
		/* from a remote IKE or Kerberos port to another local port:
		 * the policy decides, whatever the level */
		assert_int_equal(action_of(&c.t, "10.0.0.1", "192.168.1.10", 17, 500, 9999),
				 IXDP_ACT_BLOCK);
		assert_int_equal(action_of(&c.t, "10.0.0.1", "192.168.1.10", 17, 4500, 9999),
				 IXDP_ACT_BLOCK);
		assert_int_equal(action_of(&c.t, "10.0.0.1", "192.168.1.10", 6, 88, 9999),
				 IXDP_ACT_BLOCK);
		if (!exempt_expect[level].multicast)
			assert_int_equal(action_of(&c.t, "192.168.1.10", "224.0.0.251",
						   17, 5353, 5353), IXDP_ACT_BLOCK);
		compiled_free(&c);
		tp_free(pf);
	}
}

/* A /31 or /32 has no directed broadcast; two addresses of one subnet give
 * one broadcast exemption. */
static void test_directed_broadcasts(void **state)
{
	struct host_prefix me[4];
	struct host_info h = { .me = me, .nme = 4 };
	struct policy_file *pf = tp_new();
	struct compiled c;

	parse_ip("10.1.2.3", &me[0].addr);
	me[0].plen = 16;
	parse_ip("10.1.9.9", &me[1].addr);
	me[1].plen = 16;
	parse_ip("172.16.0.0", &me[2].addr);
	me[2].plen = 31;
	parse_ip("172.17.0.5", &me[3].addr);
	me[3].plen = 32;
	compile_ok(pf, &h, 1, &c);
	assert_int_equal(count_named(&c.t, "exempt:broadcast"), 2);
	/* every (source, destination) pair of the host's 4 addresses */
	assert_int_equal(count_named(&c.t, "exempt:spoofed-self"), 16);
	assert_int_equal(action_of(&c.t, "10.1.2.3", "172.17.0.5", 17, 500, 9999),
			 IXDP_ACT_BLOCK);
	assert_true(exempt(&c.t, "172.17.0.5", "10.9.9.9", 17, 500, 500));
	assert_true(exempt(&c.t, "10.1.2.3", "10.1.255.255", 17, 1, 2));
	assert_true(exempt(&c.t, "10.1.2.3", "255.255.255.255", 17, 1, 2));
	assert_false(exempt(&c.t, "172.16.0.0", "172.16.0.1", 17, 1, 2));
	compiled_free(&c);
	tp_free(pf);
}

static void test_bad_exempt_level(void **state)
{
	struct policy_file *pf = tp_new();
	struct filter_table t = {0};
	struct compile_diag d = {0};
	struct policy_error err;

	assert_int_equal(compile_policy(pf, NULL, 4, &t, &d, &err), -1);
	assert_non_null(strstr(err.msg, "ipsecexempt"));
	assert_string_equal(err.file, "test.yaml");
	assert_int_equal(t.n, 0);
	tp_free(pf);
}

/* ---- rules ------------------------------------------------------------------------ */

static void test_inactive_rules_skipped(void **state)
{
	struct policy_file *pf = tp_new();
	struct compiled c;
	int off, on;

	off = tp_rule(pf, "off", FA_BLOCK);
	tp_filter(pf, off, "any", "any");
	tp_get(pf, off)->active = false;
	on = tp_rule(pf, "on", FA_NEGOTIATE);
	tp_filter(pf, on, "10.0.0.1", "10.0.0.2");
	compile_ok(pf, NULL, 3, &c);

	assert_int_equal(count_rule(&c.t, off), 0);
	assert_int_equal(count_rule(&c.t, on), 2);
	assert_int_equal(action_of(&c.t, "10.0.0.9", "10.0.0.8", 6, 1, 2), NO_FILTER);
	/* the rule index is the rule's place in the policy, inactive ones counted */
	assert_int_equal(hit(&c.t, "10.0.0.1", "10.0.0.2", 6, 1, 2)->rule, 1);
	compiled_free(&c);
	tp_free(pf);
}

/* An empty policy still gets the exemptions; the table is replaced. */
static void test_empty_policy_and_reuse(void **state)
{
	struct policy_file *pf = tp_new();
	struct test_host th;
	struct compiled c;

	test_host_init(&th);
	compile_ok(pf, &th.h, 0, &c);
	size_t n0 = c.t.n;
	assert_true(n0 > IKE_FILTERS);
	assert_int_equal(compile_policy(pf, &th.h, 3, &c.t, &c.d, &c.err), 0);
	assert_int_equal(c.t.n, HOST_EXEMPTIONS);
	compiled_free(&c);
	tp_free(pf);
}

/* ---- from a policy file ------------------------------------------------------------ */

static const char office_yaml[] =
	"filter-lists:\n"
	"  all:\n"
	"    filters:\n"
	"      - { src: any, dst: any }\n"
	"  lan:\n"
	"    filters:\n"
	"      - { src: me, dst: 10.1.0.0/16 }\n"
	"  servers:\n"
	"    filters:\n"
	"      - { src: me, dst: 10.1.0.5 }\n"
	"      - { src: me, dst: 10.1.0.6 }\n"
	"      - { src: me, dst: 10.1.0.7, protocol: tcp, dst-port: 443 }\n"
	"  printers:\n"
	"    filters:\n"
	"      - { src: 10.1.9.1-10.1.9.6, dst: me, mirrored: no }\n"
	"filter-actions:\n"
	"  secure:\n"
	"    action: negotiate\n"
	"    methods:\n"
	"      - esp: aes256gcm16\n"
	"    inpass: yes\n"
	"policies:\n"
	"  office:\n"
	"    rules:\n"
	"      - name: block-all\n"
	"        filter-list: all\n"
	"        action: block\n"
	"      - name: lan\n"
	"        filter-list: lan\n"
	"        action: permit\n"
	"      - name: servers\n"
	"        filter-list: servers\n"
	"        action: secure\n"
	"        authentication:\n"
	"          - psk: office-key\n"
	"      - name: printers\n"
	"        filter-list: printers\n"
	"        action: block\n"
	"      - name: retired\n"
	"        filter-list: all\n"
	"        action: permit\n"
	"        active: no\n";

static void test_parsed_policy(void **state)
{
	struct policy_file *pf = NULL;
	struct policy_error err;
	struct test_host th;
	struct compiled c;
	const struct specific_filter *f;

	test_host_init(&th);
	if (policy_parse_buffer("office.yaml", office_yaml, strlen(office_yaml),
				&pf, &err))
		fail_msg("%s:%u:%u: %s", err.file, err.line, err.column, err.msg);
	compile_ok(pf, &th.h, 3, &c);
	assert_sorted(&c.t);

	assert_int_equal(action_of(&c.t, "192.168.1.10", "10.1.0.5", 17, 1, 53),
			 IXDP_ACT_NEGOTIATE);
	f = hit(&c.t, "10.1.0.7", "192.168.1.10", 6, 443, 50000);
	assert_non_null(f);
	assert_int_equal(f->action, IXDP_ACT_NEGOTIATE);
	assert_int_equal(f->flags, IXDP_F_INPASS);
	assert_true(f->mirror);
	assert_string_equal(f->name, "servers");
	/* the name points into the parsed policy */
	assert_ptr_equal(f->name, pf->assigned->rules[f->rule].name);
	assert_int_equal(action_of(&c.t, "192.168.1.10", "10.1.0.7", 6, 5, 80),
			 IXDP_ACT_PERMIT);
	assert_int_equal(action_of(&c.t, "192.168.1.10", "10.1.0.8", 6, 5, 80),
			 IXDP_ACT_PERMIT);
	assert_int_equal(action_of(&c.t, "192.168.1.10", "172.16.0.1", 6, 5, 80),
			 IXDP_ACT_BLOCK);
	/* the range: .1/32, .2/31, .4/31, .6/32, one way only */
	assert_int_equal(count_rule(&c.t, 3), 4);
	assert_int_equal(action_of(&c.t, "10.1.9.6", "192.168.1.10", 6, 5, 80),
			 IXDP_ACT_BLOCK);
	assert_int_equal(action_of(&c.t, "10.1.9.7", "192.168.1.10", 6, 5, 80),
			 IXDP_ACT_PERMIT);
	assert_int_equal(count_rule(&c.t, 4), 0); /* inactive */
	assert_true(exempt(&c.t, "10.1.0.5", "192.168.1.10", 17, 500, 500));
	compiled_free(&c);
	policy_file_free(pf);
}

/* ---- scale ---------------------------------------------------------------------- */

static struct policy_file *big_policy(size_t nfilters)
{
	struct policy_file *pf = tp_new();
	int r = tp_rule(pf, "many", FA_NEGOTIATE);
	struct filter_list *l = tp_get(pf, r)->filters;

	l->filters = calloc(nfilters, sizeof(*l->filters));
	assert_non_null(l->filters);
	l->nfilters = nfilters;
	for (size_t i = 0; i < nfilters; i++) {
		struct filter_spec *f = &l->filters[i];

		f->src.kind = ADDR_PREFIX;
		f->src.addr.family = AF_INET;
		f->src.addr.bytes[0] = 10;
		f->src.addr.bytes[1] = (uint8_t)(i >> 16);
		f->src.addr.bytes[2] = (uint8_t)(i >> 8);
		f->src.addr.bytes[3] = (uint8_t)i;
		/* every other filter a /24, so the list mixes shapes */
		f->src.plen = i % 2 ? 24 : 32;
		f->dst.kind = ADDR_ANY;
		f->proto = i % 3 ? IPPROTO_TCP : PROTO_ANY;
		if (f->proto == IPPROTO_TCP)
			f->dport.lo = f->dport.hi = (uint16_t)(1 + i % 1000);
		f->mirrored = true;
	}
	return pf;
}

static void test_large_policy(void **state)
{
	struct policy_file *pf = big_policy(10000);
	struct compiled c;

	compile_ok(pf, NULL, 3, &c);
	assert_sorted(&c.t);
	/* /24 filters of one /24 with the same protocol and port collapse */
	assert_true(c.t.n > 10000);
	assert_true(c.t.n <= 2 * 10000 + IKE_FILTERS);
	assert_selectors_unique(&c.t);
	assert_int_equal(action_of(&c.t, "10.0.4.0", "1.2.3.4", 1, 0, 0),
			 IXDP_ACT_NEGOTIATE);
	compiled_free(&c);
	tp_free(pf);
}

/* The enforcement order, spelled out (compile_filter.c packs it into
 * sort keys): heaviest first, then the shape (IPv4 first, longer prefixes,
 * a named protocol, one port before a range before any), then the action
 * (block > negotiate > permit), then the order the filters came in. */
static int enforcement_cmp(const struct specific_filter *a, const struct specific_filter *b)
{
	long d[] = {
		(long)b->weight - (long)a->weight,
		(long)a->fam - (long)b->fam,
		(long)b->src_plen - (long)a->src_plen,
		(long)b->dst_plen - (long)a->dst_plen,
		(long)b->proto_exact - (long)a->proto_exact,
		(long)port_kind(&b->sport) - (long)port_kind(&a->sport),
		(long)port_kind(&b->dport) - (long)port_kind(&a->dport),
		(long)b->action - (long)a->action,
		(long)a->rule - (long)b->rule,     /* the index before the sort */
	};

	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++)
		if (d[i])
			return d[i] < 0 ? -1 : 1;
	return 0;
}

static void random_ports(struct port_spec *p, unsigned r)
{
	switch (r % 4) {
	case 0: p->lo = 0, p->hi = 0; break;
	case 1: p->lo = 0, p->hi = 0xffff; break;
	case 2: p->lo = p->hi = (uint16_t)(1 + r % 7); break;
	default: p->lo = 1000, p->hi = (uint16_t)(1000 + r % 5); break;
	}
}

static void test_enforcement_order(void **state)
{
	struct filter_table t = { 0 };
	unsigned seed = 12345;

	for (int i = 0; i < 5000; i++) {
		struct specific_filter f = { 0 };

		seed = seed * 1103515245u + 12345u;
		f.fam = seed >> 30 & 1;
		f.src_plen = (uint8_t)((seed >> 8) % (f.fam == IXDP_FAM_V4 ? 33 : 129));
		f.dst_plen = (uint8_t)((seed >> 16) % 4 * 8);
		f.proto_exact = seed >> 24 & 1;
		f.proto = f.proto_exact ? 6 : 0;
		random_ports(&f.sport, seed >> 3);
		random_ports(&f.dport, seed >> 11);
		f.action = (uint8_t)(seed >> 5) % 3;
		f.flags = (seed >> 27 & 7) == 0 ? IXDP_F_EXEMPTION : 0;
		f.rule = i;
		assert_int_equal(filter_table_push(&t, &f), 0);
	}
	assert_int_equal(filter_table_sort(&t), 0);
	assert_int_equal(t.n, 5000);
	assert_sorted(&t);
	for (size_t i = 1; i < t.n; i++)
		assert_true(enforcement_cmp(&t.v[i - 1], &t.v[i]) < 0);
	filter_table_free(&t);
}

/* The same selectors from rules far apart in the lists: one filter each,
 * the most restrictive action, one warning per pair of rules. */
static void test_same_selectors_far_apart(void **state)
{
	struct policy_file *pf = tp_new();
	struct compiled c;
	char dst[32];
	int a = tp_rule(pf, "early", FA_PERMIT), b;

	for (int i = 0; i < 300; i++) {
		snprintf(dst, sizeof(dst), "10.1.%d.%d", i / 200, i % 200 + 1);
		tp_filter(pf, a, "10.0.0.1", dst);
	}
	b = tp_rule(pf, "late", FA_BLOCK);
	for (int i = 299; i >= 0; i -= 3) {
		snprintf(dst, sizeof(dst), "10.1.%d.%d", i / 200, i % 200 + 1);
		tp_filter(pf, b, "10.0.0.1", dst);
	}
	compile_ok(pf, NULL, 3, &c);
	assert_selectors_unique(&c.t);
	assert_int_equal(c.t.n, 2 * 300 + NO_HOST_EXEMPTIONS);
	assert_int_equal(count_rule(&c.t, b), 2 * 100);
	assert_int_equal(action_of(&c.t, "10.0.0.1", "10.1.1.100", 6, 1, 2),
			 IXDP_ACT_BLOCK);       /* i = 299 */
	assert_int_equal(action_of(&c.t, "10.0.0.1", "10.1.1.99", 6, 1, 2),
			 IXDP_ACT_PERMIT);      /* i = 298 */
	assert_int_equal(c.d.nwarnings, 1);
	assert_true(diag_has(&c.d, "rules late and early", "200 filter(s)"));
	compiled_free(&c);
	tp_free(pf);
}

static void test_too_many_filters(void **state)
{
	struct policy_file *pf = big_policy(40000);
	struct filter_table t = {0};
	struct compile_diag d = {0};
	struct policy_error err;

	for (size_t i = 0; i < 40000; i++)
		tp_get(pf, 0)->filters->filters[i].src.plen = 32;
	assert_int_equal(compile_policy(pf, NULL, 3, &t, &d, &err), -1);
	assert_non_null(strstr(err.msg, "at most 65536"));
	assert_int_equal(t.n, 0);
	compile_diag_free(&d);
	tp_free(pf);
}

/* ---- connection-type and interfaces --------------------------------------------- */

static void tp_ifaces(struct policy_file *pf, int rule, enum conn_type conn,
		      char **names, size_t n)
{
	tp_get(pf, rule)->conn = conn;
	tp_get(pf, rule)->interfaces = names;
	tp_get(pf, rule)->ninterfaces = n;
}

static uint16_t mask_of(const struct filter_table *t, const char *name,
			enum ixdp_conn_type kind)
{
	return ifgroups_of_iface(t, name, kind);
}

static const struct specific_filter *hit_on(const struct filter_table *t,
					    uint16_t ifmask, const char *src,
					    const char *dst)
{
	struct pkt_tuple p = pkt(src, dst, 6, 1000, 80);
	long i;

	p.ifmask = ifmask;
	i = filter_table_match(t, &p);
	return i < 0 ? NULL : &t->v[i];
}

/*
 * A rule applies only on the interfaces it selects: elsewhere its filters
 * are as if absent and the next matching filter decides -- even one with
 * the very same selectors, which is then kept, not merged.
 */
static void test_interface_groups(void **state)
{
	static char *eth1[] = { "eth1" }, *eth0[] = { "eth0" };
	struct policy_file *pf = tp_new();
	struct compiled c;
	int all, on_eth1, remote, lan_eth0, also_eth1;
	uint16_t m_eth0, m_eth1, m_eth2, m_ppp0;

	(void)state;
	all = tp_rule(pf, "all", FA_PERMIT);
	tp_filter(pf, all, "10.0.0.0/24", "any");
	on_eth1 = tp_rule(pf, "on-eth1", FA_BLOCK);
	tp_filter(pf, on_eth1, "10.0.0.1", "10.0.0.2");
	tp_ifaces(pf, on_eth1, CONN_ALL, eth1, 1);
	remote = tp_rule(pf, "remote", FA_NEGOTIATE);
	tp_filter(pf, remote, "10.0.0.1", "10.0.0.2");
	tp_ifaces(pf, remote, CONN_REMOTE, NULL, 0);
	lan_eth0 = tp_rule(pf, "lan-eth0", FA_BLOCK);
	tp_filter(pf, lan_eth0, "10.0.0.0/24", "any");
	tp_ifaces(pf, lan_eth0, CONN_LAN, eth0, 1);
	also_eth1 = tp_rule(pf, "also-eth1", FA_PERMIT);  /* shares a group */
	tp_filter(pf, also_eth1, "10.0.9.0/24", "any");
	tp_ifaces(pf, also_eth1, CONN_ALL, eth1, 1);
	compile_ok(pf, NULL, 3, &c);

	assert_int_equal(c.t.ngroups, 4);
	m_eth0 = mask_of(&c.t, "eth0", IXDP_CONN_LAN);
	m_eth1 = mask_of(&c.t, "eth1", IXDP_CONN_LAN);
	m_eth2 = mask_of(&c.t, "eth2", IXDP_CONN_LAN);
	m_ppp0 = mask_of(&c.t, "ppp0", IXDP_CONN_REMOTE);
	assert_int_equal(m_eth2, 1);
	/* a point-to-point eth0: the remote rule, not the lan one */
	assert_int_equal(mask_of(&c.t, "eth0", IXDP_CONN_REMOTE), m_ppp0);
	assert_int_equal(__builtin_popcount(m_eth0), 2);
	assert_int_equal(__builtin_popcount(m_eth1), 2);
	assert_int_equal(__builtin_popcount(m_ppp0), 2);
	/* the host pair: a rule per interface kind or name, the /24 elsewhere */
	assert_string_equal(hit_on(&c.t, m_eth1, "10.0.0.1", "10.0.0.2")->name, "on-eth1");
	assert_string_equal(hit_on(&c.t, m_ppp0, "10.0.0.1", "10.0.0.2")->name, "remote");
	assert_string_equal(hit_on(&c.t, m_eth2, "10.0.0.1", "10.0.0.2")->name, "all");
	assert_string_equal(hit_on(&c.t, 0, "10.0.0.2", "10.0.0.1")->name, "all");
	/* same selectors, other interfaces: both kept, block on eth0 only */
	assert_string_equal(hit_on(&c.t, m_eth0, "10.0.0.1", "10.0.0.2")->name, "lan-eth0");
	assert_int_equal(hit_on(&c.t, m_eth0, "10.0.0.7", "1.2.3.4")->action, IXDP_ACT_BLOCK);
	assert_int_equal(hit_on(&c.t, m_eth2, "10.0.0.7", "1.2.3.4")->action, IXDP_ACT_PERMIT);
	assert_false(diag_has(&c.d, "lan-eth0", "all"));
	/* a second rule on the same interfaces shares the group */
	assert_string_equal(hit_on(&c.t, m_eth1, "10.0.9.1", "1.2.3.4")->name, "also-eth1");
	assert_null(hit_on(&c.t, m_eth2, "10.0.9.1", "1.2.3.4"));
	compiled_free(&c);
	tp_free(pf);
}

/* The tuple space search (as the dataplane does it) agrees with the
 * reference matcher on every interface kind, packet by packet. */
static void test_interface_groups_tuplespace(void **state)
{
	static char *eth1[] = { "eth1" }, *two[] = { "eth0", "eth1" };
	static const char *const kinds[] = { "all", "lan", "remote" };
	struct policy_file *pf = tp_new();
	struct tuplespace ts;
	struct compiled c;
	char err[256], a[32], b[32];
	unsigned seed = 7;
	size_t hits = 0;

	(void)state;
	for (int r = 0; r < 9; r++) {
		static const enum filter_action_kind k[] = { FA_PERMIT, FA_BLOCK, FA_NEGOTIATE };
		char *name = malloc(16);
		int ri;

		snprintf(name, 16, "r%d-%s", r, kinds[r % 3]);
		ri = tp_rule(pf, name, k[r % 3]);
		snprintf(a, sizeof(a), "10.0.%d.0/%d", r % 2, 24 + (r % 3) * 4);
		tp_filter(pf, ri, a, r % 4 ? "any" : "10.1.0.0/16");
		tp_filter(pf, ri, "10.0.0.1", "10.1.0.2");
		tp_ifaces(pf, ri, (enum conn_type)(r % 3), r == 4 ? eth1 : r == 5 ? two : NULL,
			  r == 4 ? 1 : r == 5 ? 2 : 0);
	}
	compile_ok(pf, NULL, 3, &c);
	assert_int_equal(tuplespace_build(&c.t, &ts, err, sizeof(err)), 0);
	for (int i = 0; i < 4000; i++) {
		static const char *const ifs[] = { "eth0", "eth1", "eth2", "ppp0" };
		int which = rand_r(&seed) % 4;
		uint16_t m = mask_of(&c.t, ifs[which], which == 3 ? IXDP_CONN_REMOTE
								: IXDP_CONN_LAN);
		struct pkt_tuple p;
		long want;

		snprintf(a, sizeof(a), "10.0.%d.%d", rand_r(&seed) % 2, rand_r(&seed) % 40);
		snprintf(b, sizeof(b), "10.1.0.%d", rand_r(&seed) % 4);
		p = pkt(a, b, 6, 1000, 80);
		p.ifmask = m;
		want = filter_table_match(&c.t, &p);
		hits += want >= 0;
		assert_int_equal(tuplespace_lookup(&ts, &p),
				 want < 0 ? IXDP_NO_FILTER : (uint32_t)want);
	}
	assert_true(hits > 1000);
	tuplespace_free(&ts);
	for (size_t r = 0; r < pf->assigned->nrules; r++)
		free(pf->assigned->rules[r].name);
	compiled_free(&c);
	tp_free(pf);
}

/* More interface selections than the dataplane has groups: refused. */
static void test_interface_groups_limit(void **state)
{
	static char names[IXDP_MAX_IFGROUPS + 1][IXDP_IFNAMSIZ];
	static char *lists[IXDP_MAX_IFGROUPS + 1][1];
	struct policy_file *pf = tp_new();
	struct filter_table t = { 0 };
	struct compile_diag d = { 0 };
	struct policy_error err = { 0 };

	(void)state;
	for (int r = 0; r < IXDP_MAX_IFGROUPS && r < MAX_RULES; r++) {
		int ri = tp_rule(pf, "r", FA_BLOCK);

		snprintf(names[r], sizeof(names[r]), "if%d", r);
		lists[r][0] = names[r];
		tp_filter(pf, ri, "10.0.0.1", "any");
		tp_ifaces(pf, ri, CONN_ALL, lists[r], 1);
	}
	assert_int_equal(compile_policy(pf, NULL, 3, &t, &d, &err), -1);
	assert_non_null(strstr(err.msg, "interface selections"));
	compile_diag_free(&d);
	tp_free(pf);
}

/* How `show filters` names a group. */
static void test_format_ifgroup(void **state)
{
	struct ifgroup_def g = { .conn = IXDP_CONN_LAN, .nnames = 2,
				 .names = { "eth0", "eth1" } };
	char buf[128];

	(void)state;
	format_ifgroup(&g, buf, sizeof(buf));
	assert_string_equal(buf, "lan:eth0,eth1");
	g.conn = IXDP_CONN_ALL;
	format_ifgroup(&g, buf, sizeof(buf));
	assert_string_equal(buf, "eth0,eth1");
	g.nnames = 0;
	g.conn = IXDP_CONN_REMOTE;
	format_ifgroup(&g, buf, sizeof(buf));
	assert_string_equal(buf, "remote");
}

/* The key order (ts_entries_sort()): by ts_key_cmp(), equal keys adjacent
 * and by slot, and the same order whatever the keys' bank byte, since
 * the dataplane merges a list's entries (bank 0) with a bank's keys read
 * back (bank 1 too). */
static void test_key_order(void **state)
{
	enum { N = 5000 };
	struct ts_entry *v = calloc(N, sizeof(*v)), *w = calloc(N, sizeof(*w));
	uint32_t x = 12345;

	(void)state;
	assert_non_null(v);
	assert_non_null(w);
	for (size_t i = 0; i < N; i++) {
		x = x * 1103515245u + 12345u;
		v[i].key.fam = (uint8_t)(x >> 30 & 1);
		v[i].key.proto = (uint8_t)(x >> 20 & 3);
		v[i].key.dport = (uint16_t)(x >> 8 & 7);
		v[i].key.dst[0] = x >> 16 & 0x3f;      /* few values: equal keys */
		v[i].val.slot = (uint32_t)(N - i);
	}
	memcpy(w, v, N * sizeof(*v));
	for (size_t i = 0; i < N; i++)
		w[i].key.bank = 1;
	assert_int_equal(ts_entries_sort(v, N), 0);
	assert_int_equal(ts_entries_sort(w, N), 0);
	for (size_t i = 0; i < N; i++) {
		w[i].key.bank = 0;
		assert_memory_equal(&v[i], &w[i], sizeof(v[i]));
		if (!i)
			continue;
		int c = ts_key_cmp(ts_key_rank(&v[i - 1].key), &v[i - 1].key,
				   ts_key_rank(&v[i].key), &v[i].key);

		assert_true(c < 0 || (c == 0 && v[i - 1].val.slot < v[i].val.slot));
		if (c < 0)      /* each key in one run */
			for (size_t k = 0; k + 1 < i; k++)
				assert_memory_not_equal(&v[k].key, &v[i].key, sizeof(v[i].key));
	}
	free(v);
	free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classic_order),
		cmocka_unit_test(test_protocol_and_port_weights),
		cmocka_unit_test(test_mirror_swaps_addresses_and_ports),
		cmocka_unit_test(test_symmetric_filter_not_doubled),
		cmocka_unit_test(test_expand_me_and_dns),
		cmocka_unit_test(test_expand_dhcp_and_gateway),
		cmocka_unit_test(test_expand_wins),
		cmocka_unit_test(test_empty_expansion_warns),
		cmocka_unit_test(test_ah_esp_warns),
		cmocka_unit_test(test_no_common_family_warns),
		cmocka_unit_test(test_icmp_keeps_its_family),
		cmocka_unit_test(test_range_to_cidr_blocks),
		cmocka_unit_test(test_range_edges),
		cmocka_unit_test(test_range_worst_case),
		cmocka_unit_test(test_conflict_most_restrictive),
		cmocka_unit_test(test_conflict_negotiate_beats_permit),
		cmocka_unit_test(test_identical_duplicates_merge_silently),
		cmocka_unit_test(test_fallback_flags),
		cmocka_unit_test(test_exemptions_only),
		cmocka_unit_test(test_exempt_filters_exact),
		cmocka_unit_test(test_exemptions_without_host),
		cmocka_unit_test(test_exemptions_beat_block_all),
		cmocka_unit_test(test_directed_broadcasts),
		cmocka_unit_test(test_bad_exempt_level),
		cmocka_unit_test(test_inactive_rules_skipped),
		cmocka_unit_test(test_empty_policy_and_reuse),
		cmocka_unit_test(test_parsed_policy),
		cmocka_unit_test(test_large_policy),
		cmocka_unit_test(test_enforcement_order),
		cmocka_unit_test(test_same_selectors_far_apart),
		cmocka_unit_test(test_too_many_filters),
		cmocka_unit_test(test_interface_groups),
		cmocka_unit_test(test_interface_groups_tuplespace),
		cmocka_unit_test(test_interface_groups_limit),
		cmocka_unit_test(test_format_ifgroup),
		cmocka_unit_test(test_key_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
