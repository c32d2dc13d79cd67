// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_policy_parse.c - the policy file parser (lib/policy_*.c):
 *
 *  - the example files in tests/data/policies/ and examples/policy.yaml
 *    parse, with the values and defaults they should have;
 *  - every way a file can be wrong gives an error at the right line and
 *    column with the expected message (one table row per case);
 *  - the invalid example files (tests/data/policies/bad-*.yaml) give the
 *    error their first line announces;
 *  - garbage, binary, truncated, mutated, deeply nested and oversized
 *    input never crashes and always yields a positioned error.
 *
 * Run from the top of the source tree (as `make unit` does), or set
 * IXDP_SRCDIR to it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glob.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "policy/policy.h"

/* ---- helpers ---------------------------------------------------------------- */

static const char *src_path(const char *rel, char *buf, size_t len)
{
	const char *dir = getenv("IXDP_SRCDIR");

	snprintf(buf, len, "%s/%s", dir ? dir : ".", rel);
	return buf;
}

static char *read_whole(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		fail_msg("cannot open %s (run from the top of the tree or set "
			 "IXDP_SRCDIR)", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static struct policy_file *parse_ok(const char *name, const char *yaml)
{
	struct policy_file *pf = NULL;
	struct policy_error err;
	char msg[1024];

	if (policy_parse_buffer(name, yaml, strlen(yaml), &pf, &err)) {
		policy_error_format(&err, msg, sizeof(msg));
		fail_msg("expected %s to parse, got: %s", name, msg);
	}
	assert_non_null(pf);
	assert_non_null(pf->assigned);
	return pf;
}

static struct policy_file *parse_file_ok(const char *rel)
{
	struct policy_file *pf = NULL;
	struct policy_error err;
	char path[512], msg[1024];

	src_path(rel, path, sizeof(path));
	if (policy_parse_file(path, &pf, &err)) {
		policy_error_format(&err, msg, sizeof(msg));
		fail_msg("expected %s to parse, got: %s", path, msg);
	}
	assert_non_null(pf);
	assert_string_equal(pf->path, path);
	return pf;
}

static const struct filter_list *find_list(const struct policy_file *pf, const char *name)
{
	for (size_t i = 0; i < pf->nlists; i++)
		if (!strcmp(pf->lists[i].name, name))
			return &pf->lists[i];
	fail_msg("no filter list %s", name);
	return NULL;
}

static const struct rule *find_rule(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->nrules; i++)
		if (!strcmp(p->rules[i].name, name))
			return &p->rules[i];
	fail_msg("no rule %s", name);
	return NULL;
}

static const struct policy *find_policy(const struct policy_file *pf, const char *name)
{
	for (size_t i = 0; i < pf->npolicies; i++)
		if (!strcmp(pf->policies[i].name, name))
			return &pf->policies[i];
	fail_msg("no policy %s", name);
	return NULL;
}

static void assert_ip(const struct ip_addr *a, const char *text)
{
	struct ip_addr want = { 0 };

	if (inet_pton(AF_INET, text, want.bytes) == 1)
		want.family = AF_INET;
	else if (inet_pton(AF_INET6, text, want.bytes) == 1)
		want.family = AF_INET6;
	else
		fail_msg("bad address in the test: %s", text);
	assert_int_equal(a->family, want.family);
	assert_memory_equal(a->bytes, want.bytes, want.family == AF_INET ? 4 : 16);
}

static void assert_prefix(const struct addr_spec *a, const char *net, unsigned plen)
{
	assert_int_equal(a->kind, ADDR_PREFIX);
	assert_ip(&a->addr, net);
	assert_int_equal(a->plen, plen);
}

static void assert_pos(const struct srcpos *p, const struct policy_file *pf,
		       unsigned line, unsigned col)
{
	assert_ptr_equal(p->file, pf->path);
	assert_int_equal(p->line, line);
	assert_int_equal(p->column, col);
}

/* ---- the valid example files ------------------------------------------------ */

static void test_classic_file(void **state)
{
	struct policy_file *pf = parse_file_ok("tests/data/policies/classic.yaml");
	const struct policy *p = pf->assigned;
	const struct filter_list *hosts = find_list(pf, "secure-hosts");
	const struct rule *block, *permit, *secure;

	(void)state;
	assert_int_equal(pf->nlists, 3);
	assert_int_equal(pf->npolicies, 1);
	assert_string_equal(p->name, "classic");
	assert_int_equal(p->nrules, 3);
	block = find_rule(p, "block-all");
	permit = find_rule(p, "permit-campus");
	secure = find_rule(p, "secure-hosts");

	/* block all */
	assert_int_equal(block->action->kind, FA_BLOCK);
	assert_string_equal(block->action->name, "block");
	assert_int_equal(block->filters->filters[0].src.kind, ADDR_ME);
	assert_int_equal(block->filters->filters[0].dst.kind, ADDR_ANY);
	/* permit the /16 */
	assert_int_equal(permit->action->kind, FA_PERMIT);
	assert_prefix(&permit->filters->filters[0].dst, "172.16.0.0", 16);
	/* negotiate with three hosts inside it */
	assert_ptr_equal(secure->filters, hosts);
	assert_int_equal(hosts->nfilters, 3);
	assert_prefix(&hosts->filters[0].dst, "172.16.1.10", 32);
	assert_prefix(&hosts->filters[1].dst, "172.16.1.11", 32);
	assert_prefix(&hosts->filters[2].dst, "172.16.2.20", 32);
	assert_int_equal(secure->action->kind, FA_NEGOTIATE);
	assert_int_equal(secure->action->nmethods, 2);
	assert_int_equal(secure->action->methods[0].encr, ENCR_AES_GCM_16_256);
	assert_int_equal(secure->action->methods[0].integ, INTEG_NONE);
	assert_int_equal(secure->action->methods[1].encr, ENCR_AES_CBC_128);
	assert_int_equal(secure->action->methods[1].integ, INTEG_HMAC_SHA2_256_128);
	assert_int_equal(secure->nauth, 1);
	assert_int_equal(secure->auth[0].kind, AUTH_PSK);
	assert_string_equal(secure->auth[0].psk_id, "campus-servers");

	/* defaults */
	for (size_t i = 0; i < hosts->nfilters; i++) {
		assert_true(hosts->filters[i].mirrored);
		assert_int_equal(hosts->filters[i].proto, PROTO_ANY);
		assert_int_equal(hosts->filters[i].dport.lo, 0);
		assert_int_equal(hosts->filters[i].dport.hi, 0);
	}
	assert_true(secure->active);
	assert_false(secure->has_tunnel);
	assert_int_equal(secure->conn, CONN_ALL);
	assert_int_equal(p->polling_interval_s, 180);
	assert_true(p->default_response);
	assert_int_equal(p->ike.lifetime_s, 28800);

	/* where things were written */
	assert_pos(&hosts->pos, pf, 16, 3);
	assert_pos(&hosts->filters[1].pos, pf, 20, 9);
	assert_pos(&secure->pos, pf, 41, 9);
	assert_pos(&secure->action->pos, pf, 24, 3);
	assert_pos(&secure->action->methods[1].pos, pf, 29, 9);
	assert_pos(&secure->auth[0].pos, pf, 45, 13);
	assert_pos(&p->pos, pf, 32, 3);
	policy_file_free(pf);
}

/* The built-in actions exist once, however many rules name them. */
static void test_builtin_actions_shared(void **state)
{
	struct policy_file *pf = parse_ok("b.yaml",
		"filter-lists:\n"
		"  l: { filters: [ { src: me, dst: any } ] }\n"
		"policies:\n"
		"  p:\n"
		"    rules:\n"
		"      - { name: a, filter-list: l, action: block }\n"
		"      - { name: b, filter-list: l, action: permit }\n"
		"      - { name: c, filter-list: l, action: block }\n");
	const struct policy *p = pf->assigned;

	(void)state;
	assert_int_equal(pf->nactions, 2);
	assert_ptr_equal(p->rules[0].action, p->rules[2].action);
	assert_int_equal(p->rules[0].action->kind, FA_BLOCK);
	assert_int_equal(p->rules[1].action->kind, FA_PERMIT);
	assert_pos(&p->rules[0].action->pos, pf, 6, 44);
	assert_int_equal(p->rules[0].action->nmethods, 0);
	policy_file_free(pf);
}

static void test_full_file_filters(void **state)
{
	struct policy_file *pf = parse_file_ok("tests/data/policies/full.yaml");
	const struct filter_list *v6 = find_list(pf, "v6-hosts");
	const struct filter_list *masks = find_list(pf, "masks");
	const struct filter_spec *f;

	(void)state;
	f = &v6->filters[0];
	assert_string_equal(v6->description, "IPv6 hosts");
	assert_prefix(&f->src, "2001:db8:1::", 64);
	assert_int_equal(f->dst.kind, ADDR_RANGE);
	assert_ip(&f->dst.addr, "2001:db8:2::10");
	assert_ip(&f->dst.hi, "2001:db8:2::1f");
	assert_int_equal(f->proto, 58);
	assert_false(f->mirrored);
	assert_string_equal(f->description, "pings to the IPv6 servers");

	assert_int_equal(masks->nfilters, 3);
	f = &masks->filters[0];
	assert_prefix(&f->src, "192.168.0.0", 22);
	assert_int_equal(f->dst.kind, ADDR_DNS);
	assert_int_equal(f->proto, 47);
	assert_null(f->description);
	f = &masks->filters[1];
	assert_int_equal(f->src.kind, ADDR_DHCP);
	assert_int_equal(f->dst.kind, ADDR_GATEWAY);
	assert_int_equal(f->proto, 17);
	assert_int_equal(f->sport.lo, 0);
	assert_int_equal(f->sport.hi, 0);
	assert_int_equal(f->dport.lo, 1024);
	assert_int_equal(f->dport.hi, 65535);
	f = &masks->filters[2];
	assert_int_equal(f->src.kind, ADDR_ANY);
	assert_prefix(&f->dst, "0.0.0.0", 0);
	assert_int_equal(f->proto, 132);
	assert_int_equal(f->dport.lo, 2905);
	assert_int_equal(f->dport.hi, 2905);
	policy_file_free(pf);
}

static void test_full_file_actions(void **state)
{
	struct policy_file *pf = parse_file_ok("tests/data/policies/full.yaml");
	const struct rule *hq = find_rule(pf->assigned, "to-hq");
	const struct rule *v6 = find_rule(pf->assigned, "v6");
	const struct rule *masks = find_rule(pf->assigned, "masks");
	const struct filter_action *a = hq->action;

	(void)state;
	assert_string_equal(a->name, "all-methods");
	assert_int_equal(a->nmethods, 3);
	assert_int_equal(a->methods[0].kind, SM_ESP);
	assert_int_equal(a->methods[0].encr, ENCR_AES_CBC_128);
	assert_int_equal(a->methods[0].integ, INTEG_HMAC_SHA2_512_256);
	assert_int_equal(a->methods[0].lifetime_s, 600);
	assert_int_equal(a->methods[0].lifetime_kb, 2048);
	assert_int_equal(a->methods[1].kind, SM_AH);
	assert_int_equal(a->methods[1].ah, INTEG_HMAC_SHA2_384_192);
	assert_int_equal(a->methods[1].lifetime_s, 3600);
	assert_int_equal(a->methods[1].lifetime_kb, 100000);
	assert_int_equal(a->methods[2].kind, SM_AH_ESP);
	assert_int_equal(a->methods[2].ah, INTEG_HMAC_SHA2_512_256);
	assert_int_equal(a->methods[2].encr, ENCR_AES_GCM_16_256);
	assert_int_equal(a->methods[2].lifetime_s, 7200);
	assert_true(a->inpass);
	assert_true(a->soft);
	assert_int_equal(a->soft_timeout_s, 10);
	assert_true(a->pfs);
	assert_int_equal(a->pfs_group, DH_ECP_384);

	/* negotiate without methods: the default method; pfs with the IKE group */
	a = v6->action;
	assert_int_equal(a->nmethods, 1);
	assert_int_equal(a->methods[0].kind, SM_ESP);
	assert_int_equal(a->methods[0].encr, ENCR_AES_GCM_16_256);
	assert_int_equal(a->methods[0].lifetime_s, 3600);
	assert_int_equal(a->methods[0].lifetime_kb, 100000);
	assert_true(a->pfs);
	assert_int_equal(a->pfs_group, DH_NONE);
	assert_false(a->soft);
	assert_int_equal(a->soft_timeout_s, 3);

	assert_int_equal(masks->action->kind, FA_BLOCK);
	assert_string_equal(masks->action->name, "blocker");
	assert_string_equal(masks->action->description, "a named block action");
	policy_file_free(pf);
}

static void test_full_file_policy(void **state)
{
	struct policy_file *pf = parse_file_ok("tests/data/policies/full.yaml");
	const struct policy *p = pf->assigned;
	const struct rule *hq = find_rule(p, "to-hq");
	const struct rule *v6 = find_rule(p, "v6");

	(void)state;
	assert_int_equal(pf->npolicies, 2);
	assert_ptr_equal(p, find_policy(pf, "branch"));
	assert_int_equal(find_policy(pf, "other")->nrules, 0);
	assert_string_equal(p->description, "Branch office");
	assert_int_equal(p->polling_interval_s, 60);
	assert_false(p->default_response);
	assert_int_equal(p->ike.nproposals, 3);
	assert_int_equal(p->ike.proposals[0].encr, ENCR_AES_GCM_16_128);
	assert_int_equal(p->ike.proposals[0].integ, INTEG_NONE);
	assert_int_equal(p->ike.proposals[0].prf, PRF_HMAC_SHA2_384);
	assert_int_equal(p->ike.proposals[0].dh, DH_ECP_256);
	/* no PRF given: the integrity algorithm's hash */
	assert_int_equal(p->ike.proposals[1].encr, ENCR_AES_CBC_256);
	assert_int_equal(p->ike.proposals[1].integ, INTEG_HMAC_SHA2_512_256);
	assert_int_equal(p->ike.proposals[1].prf, PRF_HMAC_SHA2_512);
	assert_int_equal(p->ike.proposals[1].dh, DH_MODP_2048);
	assert_int_equal(p->ike.proposals[2].integ, INTEG_HMAC_SHA2_384_192);
	assert_int_equal(p->ike.proposals[2].prf, PRF_HMAC_SHA2_256);
	assert_int_equal(p->ike.proposals[2].dh, DH_CURVE25519);
	assert_pos(&p->ike.proposals[2].pos, pf, 55, 11);
	assert_int_equal(p->ike.lifetime_s, 3600);
	assert_true(p->ike.master_key_pfs);
	assert_int_equal(p->ike.qmpermm, 5);

	assert_int_equal(hq->nauth, 2);
	assert_int_equal(hq->auth[0].kind, AUTH_CERT);
	assert_string_equal(hq->auth[0].ca_file, "/etc/ipsec-xdp/hq-ca.pem");
	assert_int_equal(hq->auth[0].crl, CRL_OFF);
	assert_int_equal(hq->auth[1].kind, AUTH_PSK);
	assert_string_equal(hq->auth[1].psk_id, "branch.key_1");
	assert_true(hq->has_tunnel);
	assert_ip(&hq->tunnel, "198.51.100.1");
	assert_int_equal(hq->conn, CONN_ALL);   /* written as 'all' */
	assert_int_equal(hq->ninterfaces, 0);
	assert_false(hq->active);
	assert_int_equal(v6->auth[0].crl, CRL_STRONG);
	assert_string_equal(v6->auth[0].ca_file, "/etc/ca.pem");
	assert_true(v6->active);
	policy_file_free(pf);
}

static void test_example_file(void **state)
{
	struct policy_file *pf = parse_file_ok("examples/policy.yaml");
	const struct policy *p = pf->assigned;
	const struct rule *smb, *repl, *ssh;
	const struct filter_list *admin = find_list(pf, "admin-ssh");

	(void)state;
	assert_string_equal(p->name, "file-server");
	assert_int_equal(pf->npolicies, 2);
	smb = find_rule(p, "smb");
	repl = find_rule(p, "replication");
	ssh = find_rule(p, "ssh");
	assert_true(smb->action->soft);
	assert_int_equal(smb->action->soft_timeout_s, 3);
	assert_int_equal(smb->auth[0].kind, AUTH_CERT);
	assert_int_equal(smb->auth[0].crl, CRL_WEAK);
	assert_int_equal(smb->auth[1].kind, AUTH_PSK);
	assert_int_equal(repl->action->pfs_group, DH_CURVE25519);
	assert_int_equal(repl->action->nmethods, 3);
	assert_int_equal(repl->ninterfaces, 0);
	assert_int_equal(ssh->conn, CONN_ALL);
	assert_int_equal(admin->filters[0].dst.kind, ADDR_RANGE);
	assert_ip(&admin->filters[0].dst.addr, "10.1.250.10");
	assert_ip(&admin->filters[0].dst.hi, "10.1.250.29");
	assert_int_equal(admin->filters[0].sport.lo, 22);
	assert_int_equal(find_rule(p, "no-netbios")->action->kind, FA_BLOCK);
	assert_int_equal(find_policy(pf, "lockdown")->nrules, 2);
	policy_file_free(pf);
}

/* Every file in tests/data/policies/ that is not bad-*.yaml parses. */
static void test_all_valid_files(void **state)
{
	char pattern[512];
	glob_t g;
	size_t n = 0;

	(void)state;
	src_path("tests/data/policies/*.yaml", pattern, sizeof(pattern));
	assert_int_equal(glob(pattern, 0, NULL, &g), 0);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		struct policy_file *pf = NULL;
		struct policy_error err;
		char msg[1024];

		if (strstr(g.gl_pathv[i], "/bad-"))
			continue;
		if (policy_parse_file(g.gl_pathv[i], &pf, &err)) {
			policy_error_format(&err, msg, sizeof(msg));
			fail_msg("%s should parse: %s", g.gl_pathv[i], msg);
		}
		policy_file_free(pf);
		n++;
	}
	globfree(&g);
	assert_true(n >= 2);
}

/* A file that names only one policy and leaves everything out. */
static void test_defaults(void **state)
{
	struct policy_file *pf = parse_ok("d.yaml",
		"filter-lists:\n"
		"  l:\n"
		"    filters:\n"
		"      - { src: me, dst: 10.0.0.0/8 }\n"
		"filter-actions:\n"
		"  s: { action: negotiate }\n"
		"policies:\n"
		"  only:\n"
		"    rules:\n"
		"      - { name: r, filter-list: l, action: s, authentication: [ { psk: k } ] }\n");
	const struct policy *p = pf->assigned;
	const struct rule *r = &p->rules[0];
	const struct filter_action *a = r->action;
	const struct filter_spec *f = &r->filters->filters[0];

	(void)state;
	assert_ptr_equal(p, &pf->policies[0]);
	assert_null(p->description);
	assert_int_equal(p->polling_interval_s, 180);
	assert_true(p->default_response);
	assert_int_equal(p->ike.nproposals, 1);
	assert_int_equal(p->ike.proposals[0].encr, ENCR_AES_GCM_16_256);
	assert_int_equal(p->ike.proposals[0].integ, INTEG_NONE);
	assert_int_equal(p->ike.proposals[0].prf, PRF_HMAC_SHA2_256);
	assert_int_equal(p->ike.proposals[0].dh, DH_CURVE25519);
	assert_int_equal(p->ike.lifetime_s, 28800);
	assert_false(p->ike.master_key_pfs);
	assert_int_equal(p->ike.qmpermm, 0);

	assert_int_equal(a->nmethods, 1);
	assert_int_equal(a->methods[0].kind, SM_ESP);
	assert_int_equal(a->methods[0].encr, ENCR_AES_GCM_16_256);
	assert_int_equal(a->methods[0].integ, INTEG_NONE);
	assert_int_equal(a->methods[0].lifetime_s, 3600);
	assert_int_equal(a->methods[0].lifetime_kb, 100000);
	assert_false(a->inpass);
	assert_false(a->soft);
	assert_int_equal(a->soft_timeout_s, 3);
	assert_false(a->pfs);
	assert_int_equal(a->pfs_group, DH_NONE);
	assert_null(a->description);

	assert_true(r->active);
	assert_int_equal(r->conn, CONN_ALL);
	assert_false(r->has_tunnel);
	assert_int_equal(r->ninterfaces, 0);
	assert_null(r->interfaces);
	assert_pos(&r->pos, pf, 10, 9);
	assert_pos(&r->auth[0].pos, pf, 10, 65);

	assert_true(f->mirrored);
	assert_int_equal(f->proto, PROTO_ANY);
	assert_int_equal(f->sport.lo, 0);
	assert_int_equal(f->sport.hi, 0);
	assert_int_equal(f->dport.lo, 0);
	assert_int_equal(f->dport.hi, 0);
	assert_null(f->description);
	assert_int_equal(f->src.kind, ADDR_ME);
	assert_prefix(&f->dst, "10.0.0.0", 8);
	assert_pos(&f->pos, pf, 4, 9);
	assert_string_equal(pf->path, "d.yaml");
	policy_file_free(pf);
}

/* ---- the value forms, one filter at a time ---------------------------------- */

static struct policy_file *parse_one_filter(const char *filter)
{
	char yaml[512];

	snprintf(yaml, sizeof(yaml),
		 "filter-lists:\n  l:\n    filters:\n      - %s\npolicies: {p: {}}\n",
		 filter);
	return parse_ok("f.yaml", yaml);
}

struct addr_case {
	const char *text;
	enum addr_kind kind;
	const char *addr, *hi;  /* NULL: not checked */
	unsigned plen;
};

static const struct addr_case addr_cases[] = {
	{ "any", ADDR_ANY, NULL, NULL, 0 },
	{ "me", ADDR_ME, NULL, NULL, 0 },
	{ "dns", ADDR_DNS, NULL, NULL, 0 },
	{ "dhcp", ADDR_DHCP, NULL, NULL, 0 },
	{ "gateway", ADDR_GATEWAY, NULL, NULL, 0 },
	{ "wins", ADDR_WINS, NULL, NULL, 0 },
	{ "10.1.2.3", ADDR_PREFIX, "10.1.2.3", NULL, 32 },
	{ "10.1.0.0/16", ADDR_PREFIX, "10.1.0.0", NULL, 16 },
	{ "10.1.0.0/255.255.0.0", ADDR_PREFIX, "10.1.0.0", NULL, 16 },
	{ "10.1.2.128/255.255.255.128", ADDR_PREFIX, "10.1.2.128", NULL, 25 },
	{ "10.1.2.3/255.255.255.255", ADDR_PREFIX, "10.1.2.3", NULL, 32 },
	{ "0.0.0.0/0", ADDR_PREFIX, "0.0.0.0", NULL, 0 },
	{ "0.0.0.0/0.0.0.0", ADDR_PREFIX, "0.0.0.0", NULL, 0 },
	{ "10.0.0.1-10.0.0.9", ADDR_RANGE, "10.0.0.1", "10.0.0.9", 0 },
	{ "10.0.0.1 - 10.0.0.9", ADDR_RANGE, "10.0.0.1", "10.0.0.9", 0 },
	{ "10.0.0.5-10.0.0.5", ADDR_RANGE, "10.0.0.5", "10.0.0.5", 0 },
	{ "2001:db8::1", ADDR_PREFIX, "2001:db8::1", NULL, 128 },
	{ "2001:db8::/32", ADDR_PREFIX, "2001:db8::", NULL, 32 },
	{ "2001:db8::8000/113", ADDR_PREFIX, "2001:db8::8000", NULL, 113 },
	{ "::/0", ADDR_PREFIX, "::", NULL, 0 },
	{ "::ffff:10.0.0.1", ADDR_PREFIX, "::ffff:10.0.0.1", NULL, 128 },
	{ "2001:db8::1-2001:db8::ff", ADDR_RANGE, "2001:db8::1", "2001:db8::ff", 0 },
};

static void test_address_forms(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(addr_cases) / sizeof(addr_cases[0]); i++) {
		const struct addr_case *c = &addr_cases[i];
		char filter[128];
		struct policy_file *pf;
		const struct addr_spec *a;

		snprintf(filter, sizeof(filter), "{ src: \"%s\", dst: any }", c->text);
		pf = parse_one_filter(filter);
		a = &pf->lists[0].filters[0].src;
		assert_int_equal(a->kind, c->kind);
		if (c->addr)
			assert_ip(&a->addr, c->addr);
		if (c->hi)
			assert_ip(&a->hi, c->hi);
		if (c->kind == ADDR_PREFIX)
			assert_int_equal(a->plen, c->plen);
		policy_file_free(pf);
	}
}

struct port_case {
	const char *protocol, *port;
	int proto;
	uint16_t lo, hi;
};

static const struct port_case port_cases[] = {
	{ "tcp", "any", 6, 0, 0 },
	{ "tcp", "0", 6, 0, 0 },
	{ "udp", "53", 17, 53, 53 },
	{ "sctp", "1024-65535", 132, 1024, 65535 },
	{ "udplite", "0-1023", 136, 0, 1023 },
	{ "TCP", "65535", 6, 65535, 65535 },
	{ "6", "22", 6, 22, 22 },
	{ "icmp", "any", 1, 0, 0 },
	{ "icmp", "0", 1, 0, 0 },
	{ "0", "any", 0, 0, 0 },
	{ "255", "any", 255, 0, 0 },
	{ "any", "any", PROTO_ANY, 0, 0 },
	{ "rsvp", "any", 46, 0, 0 },
	{ "esp", "any", 50, 0, 0 },
	{ "ah", "any", 51, 0, 0 },
	{ "igmp", "any", 2, 0, 0 },
};

static void test_protocol_and_port_forms(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(port_cases) / sizeof(port_cases[0]); i++) {
		const struct port_case *c = &port_cases[i];
		char filter[160];
		struct policy_file *pf;
		const struct filter_spec *f;

		snprintf(filter, sizeof(filter),
			 "{ src: me, dst: any, protocol: %s, src-port: %s, dst-port: %s }",
			 c->protocol, c->port, c->port);
		pf = parse_one_filter(filter);
		f = &pf->lists[0].filters[0];
		assert_int_equal(f->proto, c->proto);
		assert_int_equal(f->sport.lo, c->lo);
		assert_int_equal(f->sport.hi, c->hi);
		assert_int_equal(f->dport.lo, c->lo);
		assert_int_equal(f->dport.hi, c->hi);
		policy_file_free(pf);
	}
}

static void test_boolean_forms(void **state)
{
	static const char *const yes[] = { "yes", "true", "on", "Yes", "TRUE", "\"on\"" };
	static const char *const no[] = { "no", "false", "off", "No", "FALSE", "'off'" };

	(void)state;
	for (size_t i = 0; i < 6; i++) {
		char filter[128];
		struct policy_file *pf;

		snprintf(filter, sizeof(filter), "{ src: me, dst: any, mirrored: %s }", yes[i]);
		pf = parse_one_filter(filter);
		assert_true(pf->lists[0].filters[0].mirrored);
		policy_file_free(pf);
		snprintf(filter, sizeof(filter), "{ src: me, dst: any, mirrored: %s }", no[i]);
		pf = parse_one_filter(filter);
		assert_false(pf->lists[0].filters[0].mirrored);
		policy_file_free(pf);
	}
}

struct dh_case {
	const char *text;
	enum dh_group group;
};

static void test_pfs_group_forms(void **state)
{
	static const struct dh_case cases[] = {
		{ "modp2048", DH_MODP_2048 }, { "14", DH_MODP_2048 },
		{ "ecp256", DH_ECP_256 }, { "19", DH_ECP_256 },
		{ "ecp384", DH_ECP_384 }, { "20", DH_ECP_384 },
		{ "curve25519", DH_CURVE25519 }, { "x25519", DH_CURVE25519 },
		{ "31", DH_CURVE25519 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char yaml[256];
		struct policy_file *pf;

		snprintf(yaml, sizeof(yaml),
			 "filter-actions:\n  a: { action: negotiate, pfs: yes, "
			 "pfs-group: %s }\npolicies: {p: {}}\n", cases[i].text);
		pf = parse_ok("g.yaml", yaml);
		assert_int_equal(pf->actions[0].pfs_group, cases[i].group);
		policy_file_free(pf);
	}
}

/* ---- invalid input: one row per case ------------------------------------------- */

/* A filter list `l` whose only filter is F (on line 4, from column 9). */
#define FILTER_FILE(f) \
	"filter-lists:\n" \
	"  l:\n" \
	"    filters:\n" \
	"      - " f "\n" \
	"policies:\n" \
	"  p:\n" \
	"    rules:\n" \
	"      - { name: r, filter-list: l, action: permit }\n"

/* A filter action `a` whose body (indented by 4) starts on line 5. */
#define ACTION_FILE(a) \
	"filter-lists:\n" \
	"  l: { filters: [ { src: me, dst: any } ] }\n" \
	"filter-actions:\n" \
	"  a:\n" \
	a \
	"policies:\n" \
	"  p:\n" \
	"    rules:\n" \
	"      - { name: r, filter-list: l, action: a, authentication: [ { psk: k } ] }\n"

/* The body of policy `p` (indented by 4) from line 3. */
#define POLICY_FILE(b) \
	"policies:\n" \
	"  p:\n" \
	b

/* Rules (items indented by 6) from line 9; list l is mirrored, t is not;
 * action neg negotiates. */
#define RULE_FILE(r) \
	"filter-lists:\n" \
	"  l: { filters: [ { src: me, dst: any } ] }\n" \
	"  t: { filters: [ { src: 10.0.0.0/8, dst: 10.9.0.0/16, mirrored: no } ] }\n" \
	"filter-actions:\n" \
	"  neg: { action: negotiate }\n" \
	"policies:\n" \
	"  p:\n" \
	"    rules:\n" \
	r

struct bad_case {
	const char *yaml;
	unsigned line, col;
	const char *msg;   /* a substring of the message */
};

static const struct bad_case bad_cases[] = {
	{ "",
	  1, 1, "the file is empty" },
	{ "# nothing but a comment\n"
	  "\n",
	  1, 1, "the file is empty" },
	{ "---\n",
	  1, 1, "the file is empty" },
	{ "policies: [a\n",
	  2, 1, "YAML syntax error: did not find expected ',' or ']'" },
	{ "policies:\n"
	  "  p: {}\n"
	  " x: 1\n",
	  3, 2, "YAML syntax error: did not find expected key" },
	{ "policies:\n"
	  "  p: {}\n"
	  "\tq: {}\n",
	  3, 1, "YAML syntax error" },
	{ "policies: {p: {}}\n"
	  "x: \"unterminated\n",
	  3, 1, "YAML syntax error" },
	{ "policies: {p: {}}\n"
	  "x: \"\\q\"\n",
	  2, 5, "YAML syntax error: found unknown escape character" },
	{ "- policies\n",
	  1, 1, "expected a mapping at the top of the file" },
	{ "just words\n",
	  1, 1, "expected a mapping at the top of the file" },
	{ "polices: {p: {}}\n",
	  1, 1, "unknown key 'polices' in the top level of the file; expected one of: assign, filter-lists, filter-actions, policies" },
	{ "policies: {p: {}}\n"
	  "policies: {q: {}}\n",
	  2, 1, "duplicate key 'policies' (first at line 1, column 1)" },
	{ "policies: {p: {}}\n"
	  "---\n"
	  "policies: {q: {}}\n",
	  2, 1, "a second YAML document" },
	{ "filter-lists: &lists {}\n"
	  "policies: *lists\n",
	  2, 11, "aliases (*lists) are not supported" },
	{ "? [a, b]\n"
	  ": 1\n"
	  "policies: {p: {}}\n",
	  1, 3, "a mapping key must be a plain name" },
	{ "policies: {p: {description: \"a\\0b\"}}\n",
	  1, 29, "NUL character" },
	{ "policies: {p: {}}\n"
	  "x: \"\001\"\n",
	  2, 5, "control characters are not allowed" },
	{ "policies: {p: {description: caf\303}}\n",
	  1, 32, "not a text file" },
	{ "filter-lists: {}\n",
	  1, 1, "no policies; expected a 'policies:' mapping" },
	{ "policies: {}\n",
	  1, 11, "'policies' is empty" },
	{ "policies:\n",
	  1, 10, "'policies' is empty" },
	{ "policies: [p]\n",
	  1, 11, "expected a mapping for 'policies'" },
	{ "policies:\n"
	  "  a: {}\n"
	  "  b: {}\n",
	  1, 1, "2 policies and no 'assign'" },
	{ "assign: c\n"
	  "policies:\n"
	  "  a: {}\n"
	  "  b: {}\n",
	  1, 9, "'assign' names policy 'c', which is not defined; expected one of: a, b" },
	{ "assign: [a]\n"
	  "policies: {a: {}}\n",
	  1, 9, "expected a single value for 'assign'" },
	{ "filter-lists: [a]\n"
	  "policies: {a: {}}\n",
	  1, 15, "expected a mapping for 'filter-lists'" },
	{ POLICY_FILE("    rulez: []\n"),
	  3, 5, "unknown key 'rulez' in a policy; expected one of: description, polling-interval, default-response, ike, rules" },
	{ "policies:\n"
	  "  p: [1]\n",
	  2, 6, "expected a mapping for a policy" },
	{ "policies:\n"
	  "  'a b': {}\n",
	  2, 3, "'a b' is not a valid policy name; expected 1 to 63 of A-Z a-z 0-9 _ . -" },
	{ "policies:\n"
	  "  xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx: {}\n",
	  2, 3, "is not a valid policy name" },
	{ POLICY_FILE("    polling-interval: 1\n"),
	  3, 23, "'1' is not valid for 'polling-interval' (seconds); expected a whole number from 5 to 86400" },
	{ POLICY_FILE("    polling-interval: 3m\n"),
	  3, 23, "expected a whole number from 5 to 86400" },
	{ POLICY_FILE("    polling-interval: -5\n"),
	  3, 23, "expected a whole number from 5 to 86400" },
	{ POLICY_FILE("    polling-interval: 99999999999999999999999\n"),
	  3, 23, "expected a whole number from 5 to 86400" },
	{ POLICY_FILE("    default-response: maybe\n"),
	  3, 23, "'maybe' is not a boolean; expected yes/no, true/false or on/off" },
	{ POLICY_FILE("    description: [a, b]\n"),
	  3, 18, "expected a single value for 'description', got a list" },
	{ POLICY_FILE("    description:\n"),
	  3, 17, "'description' has no value" },
	{ POLICY_FILE("    rules: {a: 1}\n"),
	  3, 12, "expected a list for 'rules'" },
	{ POLICY_FILE("    ike: {lifetime: 10}\n"),
	  3, 21, "expected a whole number from 60 to 172800" },
	{ POLICY_FILE("    ike: {qmpermm: 1000001}\n"),
	  3, 20, "from 0 to 1000000" },
	{ POLICY_FILE("    ike: {master-key-pfs: 2}\n"),
	  3, 27, "not a boolean" },
	{ POLICY_FILE("    ike: {dh: 14}\n"),
	  3, 11, "unknown key 'dh' in 'ike'; expected one of: proposals, lifetime, master-key-pfs, qmpermm" },
	{ POLICY_FILE("    ike: [a]\n"),
	  3, 10, "expected a mapping for 'ike'" },
	{ POLICY_FILE("    ike: {proposals: []}\n"),
	  3, 22, "'proposals' is empty" },
	{ POLICY_FILE("    ike: {proposals: aes256gcm16-prfsha256-x25519}\n"),
	  3, 22, "expected a list for 'proposals'" },
	{ POLICY_FILE("    ike:\n"
	  "      proposals: [3des-sha256-prfsha256-modp2048]\n"),
	  4, 19, "'3des' is a legacy algorithm and is refused (RFC 8247)" },
	{ POLICY_FILE("    ike:\n"
	  "      proposals: [aes128-sha1-prfsha256-modp2048]\n"),
	  4, 19, "'sha1' is a legacy algorithm and is refused (RFC 8247)" },
	{ POLICY_FILE("    ike:\n"
	  "      proposals: [aes128-md5-modp2048]\n"),
	  4, 19, "'md5' is a legacy algorithm and is refused (RFC 8247)" },
	{ POLICY_FILE("    ike:\n"
	  "      proposals: [aes128-sha256-prfsha1-modp2048]\n"),
	  4, 19, "'prfsha1' is a legacy algorithm and is refused (RFC 8247)" },
	{ POLICY_FILE("    ike:\n"
	  "      proposals: [des-sha256-modp2048]\n"),
	  4, 19, "'des' is a legacy algorithm and is refused (RFC 8247)" },
	{ POLICY_FILE("    ike:\n"
	  "      proposals: [aes256gcm16-prfsha256-modp768]\n"),
	  4, 19, "'modp768' is a legacy algorithm and is refused (RFC 8247)" },
	{ POLICY_FILE("    ike:\n"
	  "      proposals: [aes256gcm16-prfsha256-modp1536]\n"),
	  4, 19, "'modp1536' is a legacy algorithm and is refused (RFC 8247)" },
	{ POLICY_FILE("    ike:\n"
	  "      proposals: [aes256gcm16-prfsha256]\n"),
	  4, 19, "has no DH group" },
	{ POLICY_FILE("    ike:\n"
	  "      proposals: [aes256-prfsha256-modp2048]\n"),
	  4, 19, "a CBC cipher needs an integrity algorithm" },
	{ POLICY_FILE("    ike:\n"
	  "      proposals: [aes256gcm16-sha256-modp2048]\n"),
	  4, 19, "an AEAD cipher takes no integrity algorithm" },
	{ POLICY_FILE("    ike:\n"
	  "      proposals: [aes256gcm16-prfsha256-x25519-ecp256]\n"),
	  4, 19, "names 'ecp256' twice or in the wrong place" },
	{ POLICY_FILE("    ike:\n"
	  "      proposals: [aes256gcm16-prfsha256-modp9999]\n"),
	  4, 19, "'modp9999' in IKE proposal 'aes256gcm16-prfsha256-modp9999' is not a known algorithm" },
	{ POLICY_FILE("    ike:\n"
	  "      proposals: [camellia-sha256-modp2048]\n"),
	  4, 19, "does not start with a cipher" },
	{ POLICY_FILE("    ike:\n"
	  "      proposals: [a-b-c-d-e]\n"),
	  4, 19, "too many parts" },
	{ FILTER_FILE("{ src: ::1, dst: any }"),
	  4, 16, "quote a value that starts with ':' (e.g. \"::1\") inside { } or [ ]" },
	{ FILTER_FILE("{ src: me, dst: 10.1.2.3/24 }"),
	  4, 25, "10.1.2.3/24 has host bits set; did you mean 10.1.2.0/24?" },
	{ FILTER_FILE("{ src: 2001:db8::1/64, dst: me }"),
	  4, 16, "2001:db8::1/64 has host bits set; did you mean 2001:db8::/64?" },
	{ FILTER_FILE("{ src: 10.0.0.0/255.0.255.0, dst: me }"),
	  4, 16, "255.0.255.0 is not a contiguous netmask; expected ones followed by zeros" },
	{ FILTER_FILE("{ src: 10.1.2.0/255.255.0.0, dst: me }"),
	  4, 16, "has host bits set; did you mean 10.1.0.0/16?" },
	{ FILTER_FILE("{ src: 10.0.0.0/33, dst: me }"),
	  4, 16, "prefix length /33 is out of range; expected 0 to 32 for an IPv4 address" },
	{ FILTER_FILE("{ src: \"2001:db8::/129\", dst: me }"),
	  4, 16, "expected 0 to 128 for an IPv6 address" },
	{ FILTER_FILE("{ src: \"2001:db8::/255.255.0.0\", dst: me }"),
	  4, 16, "a dotted netmask applies to IPv4 only" },
	{ FILTER_FILE("{ src: 10.0.0.0/abc, dst: me }"),
	  4, 16, "is neither a prefix length nor a dotted IPv4 netmask" },
	{ FILTER_FILE("{ src: 10.0.0.0/, dst: me }"),
	  4, 16, "is neither a prefix length nor a dotted IPv4 netmask" },
	{ FILTER_FILE("{ src: 10.0.0.9-10.0.0.1, dst: me }"),
	  4, 16, "range '10.0.0.9-10.0.0.1' has its low end above its high end" },
	{ FILTER_FILE("{ src: \"10.0.0.1-::1\", dst: me }"),
	  4, 16, "range '10.0.0.1-::1' mixes IPv4 and IPv6" },
	{ FILTER_FILE("{ src: 10.0.0.1-, dst: me }"),
	  4, 16, "is not an address range" },
	{ FILTER_FILE("{ src: 10.0.0.256, dst: me }"),
	  4, 16, "'10.0.0.256' is not an address; expected any, me, dns, dhcp, gateway" },
	{ FILTER_FILE("{ src: anywhere, dst: me }"),
	  4, 16, "'anywhere' is not an address" },
	{ FILTER_FILE("{ src: 10.0.0.1, dst: 2001:db8::1 }"),
	  4, 31, "src is IPv4 but dst is IPv6; a filter's addresses must be of one family" },
	{ FILTER_FILE("{ src: \"2001:db8::/32\", dst: 10.0.0.0-10.0.0.9 }"),
	  4, 38, "src is IPv6 but dst is IPv4" },
	{ FILTER_FILE("{ src: me, dst: 10.0.0.1, protocol: icmp, dst-port: 80 }"),
	  4, 61, "'dst-port' is set but protocol icmp (1) has no ports; ports apply to tcp, udp, sctp and udplite only" },
	{ FILTER_FILE("{ src: me, dst: any, protocol: 47, src-port: 1-2 }"),
	  4, 54, "'src-port' is set but protocol gre (47) has no ports" },
	{ FILTER_FILE("{ src: me, dst: any, protocol: 200, src-port: 7 }"),
	  4, 55, "'src-port' is set but protocol 200 has no ports" },
	{ FILTER_FILE("{ src: me, dst: 10.0.0.1, dst-port: 80 }"),
	  4, 45, "'dst-port' needs a protocol with ports; expected protocol tcp, udp, sctp or udplite (it is any)" },
	{ FILTER_FILE("{ src: me, dst: any, protocol: tcp, dst-port: 2000-1000 }"),
	  4, 55, "port range 2000-1000 has its low end above its high end" },
	{ FILTER_FILE("{ src: me, dst: any, protocol: tcp, dst-port: 70000 }"),
	  4, 55, "'70000' is not a port for 'dst-port'; expected any, 0 (any), a port from 1 to 65535 or a range LOW-HIGH" },
	{ FILTER_FILE("{ src: me, dst: any, protocol: tcp, src-port: http }"),
	  4, 55, "is not a port for 'src-port'" },
	{ FILTER_FILE("{ src: me, dst: any, protocol: tcpp }"),
	  4, 40, "'tcpp' is not a protocol; expected any, icmp" },
	{ FILTER_FILE("{ src: me, dst: any, protocol: 256 }"),
	  4, 40, "'256' is not a protocol" },
	{ FILTER_FILE("{ src: me, dst: \"2001:db8::1\", protocol: icmp }"),
	  4, 50, "icmp is for IPv4 but the addresses are IPv6; expected icmpv6" },
	{ FILTER_FILE("{ src: 10.0.0.0/8, dst: any, protocol: 58 }"),
	  4, 48, "icmpv6 is for IPv6 but the addresses are IPv4; expected icmp" },
	{ FILTER_FILE("{ src: me }"),
	  4, 9, "a filter needs 'dst'" },
	{ FILTER_FILE("{ dst: me }"),
	  4, 9, "a filter needs 'src'" },
	{ FILTER_FILE("{ src: me, dst: any, port: 80 }"),
	  4, 30, "unknown key 'port' in a filter; expected one of: src, dst, protocol, src-port, dst-port, mirrored, description" },
	{ FILTER_FILE("{ src: me, dst: any, mirrored: sometimes }"),
	  4, 40, "'sometimes' is not a boolean" },
	{ FILTER_FILE("{ src: me, dst: any, src: any }"),
	  4, 30, "duplicate key 'src' (first at line 4, column 11)" },
	{ FILTER_FILE("me"),
	  4, 9, "expected a mapping for a filter" },
	{ FILTER_FILE("{ src: [me], dst: any }"),
	  4, 16, "expected a single value for 'src', got a list" },
	{ "filter-lists:\n"
	  "  l: { filters: [] }\n"
	  "policies: {p: {}}\n",
	  2, 17, "filter list 'l' has no filters; expected at least one" },
	{ "filter-lists:\n"
	  "  l: { description: x }\n"
	  "policies: {p: {}}\n",
	  2, 3, "filter list 'l' has no 'filters'" },
	{ "filter-lists:\n"
	  "  l: { filter: [] }\n"
	  "policies: {p: {}}\n",
	  2, 8, "unknown key 'filter' in a filter list; expected one of: description, filters" },
	{ "filter-lists:\n"
	  "  l: [ { src: me, dst: any } ]\n"
	  "policies: {p: {}}\n",
	  2, 6, "expected a mapping for a filter list" },
	{ "filter-lists:\n"
	  "  l/2: { filters: [ { src: me, dst: any } ] }\n"
	  "policies: {p: {}}\n",
	  2, 3, "'l/2' is not a valid filter list name" },
	{ "filter-lists:\n"
	  "  l: { filters: [ { src: me, dst: any } ] }\n"
	  "  l: { filters: [ { src: me, dst: any } ] }\n"
	  "policies: {p: {}}\n",
	  3, 3, "duplicate key 'l' (first at line 2, column 3)" },
	{ ACTION_FILE("    methods: []\n"),
	  4, 3, "filter action 'a' has no 'action'; expected action: permit, block or negotiate" },
	{ ACTION_FILE("    action: allow\n"),
	  5, 13, "'allow' is not a kind of filter action; expected permit, block or negotiate" },
	{ ACTION_FILE("    action: permit\n"
	  "    methods: [ { esp: aes256gcm16 } ]\n"),
	  6, 5, "'methods' applies only to negotiate actions; 'a' is a permit action" },
	{ ACTION_FILE("    action: block\n"
	  "    inpass: yes\n"),
	  6, 5, "'inpass' applies only to negotiate actions; 'a' is a block action" },
	{ ACTION_FILE("    action: permit\n"
	  "    soft: yes\n"),
	  6, 5, "'soft' applies only to negotiate actions" },
	{ ACTION_FILE("    action: block\n"
	  "    pfs: yes\n"),
	  6, 5, "'pfs' applies only to negotiate actions" },
	{ ACTION_FILE("    action: block\n"
	  "    soft-timeout: 3\n"),
	  6, 5, "'soft-timeout' applies only to negotiate actions" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    soft-timeout: 5\n"),
	  6, 5, "'soft-timeout' needs 'soft: yes'" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    soft: no\n"
	  "    soft-timeout: 5\n"),
	  7, 5, "'soft-timeout' needs 'soft: yes'" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    soft: yes\n"
	  "    soft-timeout: 0\n"),
	  7, 19, "from 1 to 300" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    pfs-group: 14\n"),
	  6, 5, "'pfs-group' needs 'pfs: yes'" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    pfs: yes\n"
	  "    pfs-group: 2\n"),
	  7, 16, "DH group 2 is too weak and is refused (RFC 8247)" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    pfs: yes\n"
	  "    pfs-group: 1\n"),
	  7, 16, "DH group 1 is too weak and is refused (RFC 8247)" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    pfs: yes\n"
	  "    pfs-group: 5\n"),
	  7, 16, "DH group 5 is too weak and is refused (RFC 8247)" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    pfs: yes\n"
	  "    pfs-group: modp1024\n"),
	  7, 16, "'modp1024' is a legacy algorithm and is refused (RFC 8247)" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    pfs: yes\n"
	  "    pfs-group: 15\n"),
	  7, 16, "DH group 15 is not supported" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    pfs: yes\n"
	  "    pfs-group: brainpool\n"),
	  7, 16, "'brainpool' is not a DH group" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    inpass: 1\n"),
	  6, 13, "'1' is not a boolean" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    method: []\n"),
	  6, 5, "unknown key 'method' in a filter action; expected one of: description, action, methods" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    methods: []\n"),
	  6, 14, "'methods' is empty" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    methods: { esp: aes256gcm16 }\n"),
	  6, 14, "expected a list for 'methods'" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    methods:\n"
	  "      - esp: des\n"),
	  7, 14, "'des' is a legacy algorithm and is refused (RFC 8221)" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    methods:\n"
	  "      - esp: 3des-sha256\n"),
	  7, 14, "'3des' is a legacy algorithm and is refused (RFC 8221)" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    methods:\n"
	  "      - esp: cast-sha256\n"),
	  7, 14, "'cast' is a legacy algorithm and is refused (RFC 8221)" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    methods:\n"
	  "      - esp: blowfish-sha256\n"),
	  7, 14, "'blowfish' is a legacy algorithm and is refused (RFC 8221)" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    methods:\n"
	  "      - esp: aes128-md5\n"),
	  7, 14, "'md5' is a legacy algorithm and is refused (RFC 8221)" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    methods:\n"
	  "      - esp: aes256-sha1\n"),
	  7, 14, "'sha1' is a legacy algorithm and is refused (RFC 8221)" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    methods:\n"
	  "      - esp: null-sha256\n"),
	  7, 14, "null encryption is refused (RFC 8221)" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    methods:\n"
	  "      - ah: md5\n"),
	  7, 13, "'md5' is a legacy algorithm and is refused (RFC 8221)" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    methods:\n"
	  "      - ah: sha1\n"),
	  7, 13, "'sha1' is a legacy algorithm and is refused (RFC 8221)" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    methods:\n"
	  "      - ah: sha3\n"),
	  7, 13, "'sha3' is not an AH algorithm; expected sha256, sha384 or sha512" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    methods:\n"
	  "      - esp: aes256gcm16-sha256\n"),
	  7, 14, "aes256gcm16 is an AEAD cipher and takes no integrity algorithm" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    methods:\n"
	  "      - esp: aes256\n"),
	  7, 14, "aes256 (CBC) needs an integrity algorithm; expected e.g. aes256-sha256" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    methods:\n"
	  "      - esp: aes256-sha256-x\n"),
	  7, 14, "is not an ESP transform" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    methods:\n"
	  "      - esp: chacha20poly1305\n"),
	  7, 14, "is not an ESP transform; expected aes128gcm16, aes256gcm16" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    methods:\n"
	  "      - esp: aes128gcm16\n"
	  "        ah: sha256\n"),
	  7, 9, "a security method has exactly one of 'esp', 'ah' or 'ah-esp'" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    methods:\n"
	  "      - lifetime: 60\n"),
	  7, 9, "a security method needs one of 'esp', 'ah' or 'ah-esp'" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    methods:\n"
	  "      - ah-esp: { ah: sha256 }\n"),
	  7, 17, "'ah-esp' needs both 'ah' and 'esp'" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    methods:\n"
	  "      - ah-esp: { ah: sha256, esp: des }\n"),
	  7, 36, "'des' is a legacy algorithm and is refused (RFC 8221)" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    methods:\n"
	  "      - ah-esp: sha256\n"),
	  7, 17, "expected a mapping for 'ah-esp'" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    methods:\n"
	  "      - esp: aes128gcm16\n"
	  "        lifetime: 5\n"),
	  8, 19, "'5' is not valid for 'lifetime' (seconds); expected a whole number from 10 to 172800" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    methods:\n"
	  "      - esp: aes128gcm16\n"
	  "        lifetime-kb: 10\n"),
	  8, 22, "expected a whole number from 1024 to 2147483647" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    methods:\n"
	  "      - esp: aes128gcm16\n"
	  "        life: 10\n"),
	  8, 9, "unknown key 'life' in a security method; expected one of: esp, ah, ah-esp, lifetime, lifetime-kb" },
	{ ACTION_FILE("    action: negotiate\n"
	  "    methods:\n"
	  "      - aes128gcm16\n"),
	  7, 9, "expected a mapping for a security method" },
	{ "filter-actions:\n"
	  "  permit: { action: permit }\n"
	  "policies: {p: {}}\n",
	  2, 3, "'permit' is a built-in filter action; expected another name" },
	{ "filter-actions:\n"
	  "  block: { action: block }\n"
	  "policies: {p: {}}\n",
	  2, 3, "'block' is a built-in filter action" },
	{ RULE_FILE("      - { name: r, filter-list: nowhere, action: permit }\n"),
	  9, 33, "unknown filter list 'nowhere'; expected one defined under filter-lists: l, t" },
	{ "policies:\n"
	  "  p:\n"
	  "    rules:\n"
	  "      - { name: x, filter-list: nowhere, action: block }\n",
	  4, 33, "unknown filter list 'nowhere': the file defines no filter lists" },
	{ RULE_FILE("      - { name: r, filter-list: l, action: secure }\n"),
	  9, 44, "unknown filter action 'secure'; expected permit, block or one defined under filter-actions: neg" },
	{ "filter-lists: { l: { filters: [ { src: me, dst: any } ] } }\n"
	  "policies:\n"
	  "  p:\n"
	  "    rules:\n"
	  "      - { name: r, filter-list: l, action: allow }\n",
	  5, 44, "unknown filter action 'allow'; expected permit, block or an action defined under filter-actions: (there are none)" },
	{ RULE_FILE("      - { name: r, filter-list: [l], action: permit }\n"),
	  9, 33, "expected a single value for 'filter-list'" },
	{ RULE_FILE("      - name: r\n"
	  "        filter-list: l\n"
	  "        action: neg\n"),
	  9, 9, "rule 'r' negotiates (action 'neg') but has no 'authentication'" },
	{ RULE_FILE("      - { name: r, filter-list: l, action: neg, authentication: [] }\n"),
	  9, 65, "'authentication' is empty" },
	{ RULE_FILE("      - { name: r, filter-list: l, action: neg, authentication: { psk: k } }\n"),
	  9, 65, "expected a list for 'authentication'" },
	{ RULE_FILE("      - name: r\n"
	  "        filter-list: l\n"
	  "        action: neg\n"
	  "        authentication:\n"
	  "          - kerberos: yes\n"),
	  13, 13, "Kerberos is not offered by ipsec-xdp: use psk or certificate" },
	{ RULE_FILE("      - name: r\n"
	  "        filter-list: l\n"
	  "        action: neg\n"
	  "        authentication:\n"
	  "          - psk: k\n"
	  "          - kerberos\n"),
	  14, 13, "Kerberos is not offered by ipsec-xdp: use psk or certificate" },
	{ RULE_FILE("      - name: r\n"
	  "        filter-list: l\n"
	  "        action: neg\n"
	  "        authentication:\n"
	  "          - psk\n"),
	  13, 13, "expected an authentication method, '- psk: KEYID' or" },
	{ RULE_FILE("      - name: r\n"
	  "        filter-list: l\n"
	  "        action: neg\n"
	  "        authentication:\n"
	  "          - { psk: k, certificate: /ca.pem }\n"),
	  13, 13, "psk and certificate together; expected one method per list item" },
	{ RULE_FILE("      - name: r\n"
	  "        filter-list: l\n"
	  "        action: neg\n"
	  "        authentication:\n"
	  "          - { password: k }\n"),
	  13, 15, "unknown key 'password' in an authentication method; expected one of: psk, certificate" },
	{ RULE_FILE("      - name: r\n"
	  "        filter-list: l\n"
	  "        action: neg\n"
	  "        authentication:\n"
	  "          - { psk: \"my key\" }\n"),
	  13, 20, "'my key' is not a valid pre-shared key id" },
	{ RULE_FILE("      - name: r\n"
	  "        filter-list: l\n"
	  "        action: neg\n"
	  "        authentication:\n"
	  "          - certificate: { crl: weak }\n"),
	  13, 26, "'certificate' needs 'ca'" },
	{ RULE_FILE("      - name: r\n"
	  "        filter-list: l\n"
	  "        action: neg\n"
	  "        authentication:\n"
	  "          - certificate: { ca: /ca.pem, crl: sometimes }\n"),
	  13, 46, "'sometimes' is not a CRL check mode; expected off, weak or strong" },
	{ RULE_FILE("      - name: r\n"
	  "        filter-list: l\n"
	  "        action: neg\n"
	  "        authentication:\n"
	  "          - certificate: { ca: ca.pem }\n"),
	  13, 32, "'ca.pem' is not an absolute path" },
	{ RULE_FILE("      - name: r\n"
	  "        filter-list: l\n"
	  "        action: neg\n"
	  "        authentication:\n"
	  "          - certificate: { ca: /ca.pem, cert: /me.pem }\n"),
	  13, 41, "unknown key 'cert' in 'certificate'; expected one of: ca, crl" },
	{ RULE_FILE("      - name: r\n"
	  "        filter-list: l\n"
	  "        action: permit\n"
	  "        authentication:\n"
	  "          - psk: k\n"),
	  12, 9, "'authentication' applies only to rules that negotiate; action 'permit' is permit" },
	{ RULE_FILE("      - name: r\n"
	  "        filter-list: l\n"
	  "        action: neg\n"
	  "        authentication: [ { psk: k } ]\n"
	  "        tunnel: 192.0.2.1\n"),
	  13, 17, "tunnel rule 'r' uses filter list 'l', whose filter at line 2 is mirrored; tunnel filters must not be mirrored" },
	{ RULE_FILE("      - name: r\n"
	  "        filter-list: t\n"
	  "        action: neg\n"
	  "        authentication: [ { psk: k } ]\n"
	  "        tunnel: 192.0.2.0/24\n"),
	  13, 17, "'192.0.2.0/24' is not an IP address; expected one IPv4 or IPv6 address for 'tunnel'" },
	{ RULE_FILE("      - name: r\n"
	  "        filter-list: t\n"
	  "        action: block\n"
	  "        tunnel: 192.0.2.1\n"),
	  12, 9, "'tunnel' applies only to rules that negotiate; action 'block' is block" },
	{ RULE_FILE("      - { name: r, filter-list: l, action: permit }\n"
	  "      - { name: r, filter-list: l, action: block }\n"),
	  10, 17, "duplicate rule name 'r' in policy 'p' (first at line 9)" },
	{ RULE_FILE("      - { filter-list: l, action: permit }\n"),
	  9, 9, "a rule needs a 'name'" },
	{ RULE_FILE("      - { name: r, action: permit }\n"),
	  9, 9, "rule 'r' has no 'filter-list'" },
	{ RULE_FILE("      - { name: r, filter-list: l }\n"),
	  9, 9, "rule 'r' has no 'action'" },
	{ RULE_FILE("      - { name: r, filter-list: l, action: permit, comment: x }\n"),
	  9, 52, "unknown key 'comment' in a rule; expected one of: name, filter-list, action, authentication, tunnel, connection-type, interfaces, active" },
	{ RULE_FILE("      - { name: r, filter-list: l, action: permit, connection-type: wan }\n"),
	  9, 69, "'wan' is not a connection type; expected all, lan or remote" },
	{ RULE_FILE("      - name: r\n"
	  "        filter-list: l\n"
	  "        action: permit\n"
	  "        interfaces: []\n"),
	  12, 21, "'interfaces' is empty; expected at least one interface name" },
	{ RULE_FILE("      - { name: r, filter-list: l, action: permit, interfaces: [a0, a1, a2, "
	  "a3, a4, a5, a6, a7, a8, a9, b0, b1, b2, b3, b4, b5, b6] }\n"),
	  9, 64, "'interfaces' names 17 interfaces; the limit is 16 per rule" },
	{ RULE_FILE("      - { name: r, filter-list: l, action: permit, interfaces: [eth0, eth1, eth0] }\n"),
	  9, 77, "interface 'eth0' is listed twice" },
	{ RULE_FILE("      - { name: r, filter-list: l, action: permit, interfaces: [averyveryverylongname] }\n"),
	  9, 65, "is not an interface name; expected 1 to 15 characters" },
	{ RULE_FILE("      - { name: r, filter-list: l, action: permit, interfaces: eth0 }\n"),
	  9, 64, "expected a list for 'interfaces'" },
	{ RULE_FILE("      - { name: r, filter-list: l, action: permit, active: perhaps }\n"),
	  9, 60, "'perhaps' is not a boolean" },
	{ RULE_FILE("      - just-a-name\n"),
	  9, 9, "expected a mapping for a rule" },
};

/* Check one case; on a mismatch say what came instead (all rows are run). */
static bool bad_case_holds(size_t i, const struct bad_case *c)
{
	struct policy_file *sentinel = (struct policy_file *)&sentinel, *pf = sentinel;
	struct policy_error err;
	char got[1024];
	int rc;

	memset(&err, 0, sizeof(err));
	rc = policy_parse_buffer("case.yaml", c->yaml, strlen(c->yaml), &pf, &err);
	if (rc == 0) {
		print_error("case %zu: parsed, expected %u:%u: %s\n", i, c->line,
			    c->col, c->msg);
		if (pf != sentinel)
			policy_file_free(pf);
		return false;
	}
	policy_error_format(&err, got, sizeof(got));
	if (rc != -1 || pf != sentinel || strcmp(err.file, "case.yaml") ||
	    err.line != c->line || err.column != c->col || !strstr(err.msg, c->msg)) {
		print_error("case %zu: expected %u:%u: ...%s...\n          got %s\n",
			    i, c->line, c->col, c->msg, got);
		return false;
	}
	return true;
}

static void test_bad_cases(void **state)
{
	size_t failed = 0, n = sizeof(bad_cases) / sizeof(bad_cases[0]);

	(void)state;
	for (size_t i = 0; i < n; i++)
		if (!bad_case_holds(i, &bad_cases[i]))
			failed++;
	assert_int_equal(failed, 0);
}

/* tests/data/policies/bad-*.yaml: the first line says what must happen,
 * as "# expect: LINE:COL: MESSAGE-SUBSTRING". */
static void check_bad_file(const char *path)
{
	struct policy_file *pf = NULL;
	struct policy_error err;
	unsigned line, col;
	char want[256], got[1024];
	size_t len;
	char *text = read_whole(path, &len);
	int off = 0;

	if (sscanf(text, "# expect: %u:%u: %n", &line, &col, &off) != 2 || !off)
		fail_msg("%s: the first line must be '# expect: LINE:COL: TEXT'", path);
	snprintf(want, sizeof(want), "%.*s", (int)strcspn(text + off, "\n"), text + off);
	free(text);
	if (!policy_parse_file(path, &pf, &err)) {
		policy_file_free(pf);
		fail_msg("%s parsed, but should not", path);
	}
	policy_error_format(&err, got, sizeof(got));
	if (err.line != line || err.column != col || !strstr(err.msg, want))
		fail_msg("%s: expected %u:%u: %s\n got %s", path, line, col, want, got);
	assert_string_equal(err.file, path);
}

static void test_bad_files(void **state)
{
	char pattern[512];
	glob_t g;

	(void)state;
	src_path("tests/data/policies/bad-*.yaml", pattern, sizeof(pattern));
	assert_int_equal(glob(pattern, 0, NULL, &g), 0);
	assert_true(g.gl_pathc >= 5);
	for (size_t i = 0; i < g.gl_pathc; i++)
		check_bad_file(g.gl_pathv[i]);
	globfree(&g);
}

/* ---- input that is not a policy at all --------------------------------------- */

/* Whatever the input, parsing ends: with a policy, or with an error that
 * has a position inside the text and a message. */
static void parse_anything(const char *buf, size_t len)
{
	struct policy_file *pf = NULL;
	struct policy_error err;
	unsigned lines = 1;

	for (size_t i = 0; i < len; i++)
		lines += buf[i] == '\n';
	memset(&err, 0, sizeof(err));
	if (policy_parse_buffer("junk", buf, len, &pf, &err) == 0) {
		assert_non_null(pf);
		policy_file_free(pf);
		return;
	}
	assert_true(err.line >= 1);
	assert_true(err.line <= lines + 1);
	assert_true(err.column >= 1);
	assert_true(err.msg[0] != '\0');
}

static uint32_t xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void test_random_bytes(void **state)
{
	uint32_t seed = 0x1bad5eed;
	char buf[2048];

	(void)state;
	for (int iter = 0; iter < 2000; iter++) {
		size_t len = xorshift(&seed) % sizeof(buf);

		for (size_t i = 0; i < len; i++)
			buf[i] = (char)xorshift(&seed);
		parse_anything(buf, len);
	}
}

/* Random sequences of the file's own tokens reach deeper than bytes do. */
static void test_random_tokens(void **state)
{
	static const char *const tok[] = {
		"policies:", "filter-lists:", "filter-actions:", "assign: p", "\n",
		"  ", "    ", "- ", "{", "}", "[", "]", ", ", ": ", "p", "l", "a",
		"me", "any", "10.0.0.1/8", "::1", "rules:", "filters:",
		"filter-list: l", "action: negotiate", "action: a", "name: r",
		"src: me", "dst: any", "protocol: tcp", "dst-port: 80",
		"authentication:", "psk: k", "tunnel: 10.0.0.1", "methods:",
		"esp: aes256gcm16", "mirrored: no", "\"", "'", "#", "&x ", "*x",
		"---", "? ", "!!str ", "|", ">", "\t", "\\", "-",
	};
	uint32_t seed = 42;
	char buf[1024];

	(void)state;
	for (int iter = 0; iter < 5000; iter++) {
		size_t len = 0, ntok = xorshift(&seed) % 80;

		for (size_t k = 0; k < ntok; k++) {
			const char *t = tok[xorshift(&seed) % (sizeof(tok) / sizeof(tok[0]))];
			size_t tl = strlen(t);

			if (len + tl >= sizeof(buf))
				break;
			memcpy(buf + len, t, tl);
			len += tl;
		}
		parse_anything(buf, len);
	}
}

/*
 * Prefixes of the valid files, and one-byte changes of them.  Each byte
 * position gets one of the substitutes in turn (all of them for every byte
 * would take a minute under ASan); `step` thins out the larger files.
 */
static void truncate_and_mutate(const char *rel, size_t step)
{
	static const char subst[] = { '\n', ' ', ':', '-', '"', '{', '[', '\0', '\t', '#', '&' };
	char path[512];
	size_t len;
	char *text = read_whole(src_path(rel, path, sizeof(path)), &len);

	for (size_t cut = 0; cut <= len; cut += step)
		parse_anything(text, cut);
	for (size_t i = 0; i < len; i += step) {
		char orig = text[i];

		text[i] = subst[(i / step) % sizeof(subst)];
		parse_anything(text, len);
		text[i] = orig;
	}
	free(text);
}

static void test_truncated_and_mutated(void **state)
{
	(void)state;
	truncate_and_mutate("tests/data/policies/classic.yaml", 1);
	truncate_and_mutate("tests/data/policies/full.yaml", 1);
	truncate_and_mutate("examples/policy.yaml", 3);
}

static void test_deep_nesting(void **state)
{
	size_t depth = 100000, len = 10 + 2 * depth;
	char *buf = malloc(len);
	struct policy_file *pf = NULL;
	struct policy_error err;

	(void)state;
	assert_non_null(buf);
	memcpy(buf, "policies: ", 10);
	memset(buf + 10, '[', depth);
	memset(buf + 10 + depth, ']', depth);
	assert_int_equal(policy_parse_buffer("deep", buf, len, &pf, &err), -1);
	assert_int_equal(err.line, 1);
	assert_non_null(strstr(err.msg, "nest deeper than"));
	free(buf);
}

/* Aliases could make a billion laughs of a small file: refused. */
static void test_alias_bomb(void **state)
{
	const char *yaml =
		"a: &a [x, x, x, x, x, x, x, x, x]\n"
		"b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		"policies: {p: {}}\n";
	struct policy_file *pf = NULL;
	struct policy_error err;

	(void)state;
	assert_int_equal(policy_parse_buffer("bomb", yaml, strlen(yaml), &pf, &err), -1);
	assert_int_equal(err.line, 2);
	assert_int_equal(err.column, 8);
	assert_non_null(strstr(err.msg, "aliases (*a) are not supported"));
	assert_null(pf);
}

/* A comment-only buffer of exactly the limit is read (and is empty); one
 * byte more is refused before reading. */
static void test_size_limit(void **state)
{
	size_t limit = 4u * 1024 * 1024;
	char *buf = malloc(limit + 1);
	struct policy_file *pf = NULL;
	struct policy_error err;

	(void)state;
	assert_non_null(buf);
	memset(buf, 'x', limit + 1);
	buf[0] = '#';
	buf[limit - 1] = '\n';
	assert_int_equal(policy_parse_buffer("big", buf, limit, &pf, &err), -1);
	assert_non_null(strstr(err.msg, "the file is empty"));
	assert_int_equal(policy_parse_buffer("big", buf, limit + 1, &pf, &err), -1);
	assert_int_equal(err.line, 1);
	assert_int_equal(err.column, 1);
	assert_non_null(strstr(err.msg, "at most 4 MiB"));
	assert_null(pf);
	free(buf);
}

static void test_file_too_big(void **state)
{
	char path[] = "/tmp/ixdp-policy-XXXXXX";
	int fd = mkstemp(path);
	size_t chunk = 1024 * 1024;
	char *buf = malloc(chunk);
	struct policy_file *pf = NULL;
	struct policy_error err;

	(void)state;
	assert_true(fd >= 0);
	assert_non_null(buf);
	memset(buf, '#', chunk);
	for (int i = 0; i < 5; i++)
		assert_int_equal(write(fd, buf, chunk), (ssize_t)chunk);
	close(fd);
	free(buf);
	assert_int_equal(policy_parse_file(path, &pf, &err), -1);
	unlink(path);
	assert_string_equal(err.file, path);
	assert_int_equal(err.line, 1);
	assert_non_null(strstr(err.msg, "larger than 4 MiB"));
	assert_null(pf);
}

static void test_missing_file(void **state)
{
	struct policy_file *pf = NULL;
	struct policy_error err;
	char msg[1024];

	(void)state;
	assert_int_equal(policy_parse_file("/nonexistent/policy.yaml", &pf, &err), -1);
	assert_null(pf);
	assert_int_equal(err.line, 0);
	policy_error_format(&err, msg, sizeof(msg));
	assert_string_equal(msg, "/nonexistent/policy.yaml: cannot open the policy "
			    "file: No such file or directory");
}

/* connection-type: all (the default, written out) is accepted. */
static void test_connection_type_all(void **state)
{
	struct policy_file *pf = parse_ok("all.yaml", RULE_FILE(
		"      - { name: r, filter-list: l, action: permit, connection-type: all }\n"));

	(void)state;
	assert_int_equal(pf->assigned->rules[0].conn, CONN_ALL);
	assert_int_equal(pf->assigned->rules[0].ninterfaces, 0);
	policy_file_free(pf);
}

/* connection-type lan/remote and an interface list are kept for the
 * compiler, which limits the rule's filters to those interfaces. */
static void test_connection_type_interfaces(void **state)
{
	struct policy_file *pf = parse_ok("ifaces.yaml", RULE_FILE(
		"      - { name: r, filter-list: l, action: permit, connection-type: remote }\n"
		"      - { name: s, filter-list: l, action: block, connection-type: lan,\n"
		"          interfaces: [eth0, veth-x.1] }\n"));
	const struct rule *r = pf->assigned->rules;

	(void)state;
	assert_int_equal(r[0].conn, CONN_REMOTE);
	assert_int_equal(r[0].ninterfaces, 0);
	assert_int_equal(r[1].conn, CONN_LAN);
	assert_int_equal(r[1].ninterfaces, 2);
	assert_string_equal(r[1].interfaces[0], "eth0");
	assert_string_equal(r[1].interfaces[1], "veth-x.1");
	policy_file_free(pf);
}

/* polling-interval: the assigned policy's, or the default (ipsec-xdpd
 * reads the stored file again at that interval). */
static void test_polling_interval(void **state)
{
	struct policy_file *pf = parse_ok("poll.yaml",
		"assign: p\n"
		"policies:\n"
		"  q: { polling-interval: 30 }\n"
		"  p:\n"
		"    description: x\n"
		"    polling-interval: 60\n");

	(void)state;
	assert_int_equal(pf->assigned->polling_interval_s, 60);
	assert_int_equal(pf->assigned->polling_interval_pos.line, 6);
	policy_file_free(pf);
	pf = parse_ok("poll.yaml", "assign: p\n"
		      "policies:\n"
		      "  q: { polling-interval: 30 }\n"
		      "  p: { description: x }\n");
	assert_int_equal(pf->assigned->polling_interval_s, POLLING_INTERVAL_DEFAULT);
	assert_int_equal(pf->assigned->polling_interval_pos.line, 0);
	policy_file_free(pf);
}

static void test_error_format(void **state)
{
	struct policy_error e = { .file = "p.yaml", .line = 7, .column = 12,
				  .msg = "something is wrong" };
	char buf[64], tiny[8];

	(void)state;
	policy_error_format(&e, buf, sizeof(buf));
	assert_string_equal(buf, "p.yaml:7:12: something is wrong");
	policy_error_format(&e, tiny, sizeof(tiny));
	assert_string_equal(tiny, "p.yaml:");
}

/* A long file name is cut to fit, never overflowing struct policy_error. */
static void test_long_name(void **state)
{
	char name[1000];
	struct policy_file *pf = NULL;
	struct policy_error err;

	(void)state;
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(policy_parse_buffer(name, "x: 1\n", 5, &pf, &err), -1);
	assert_int_equal(strlen(err.file), sizeof(err.file) - 1);
	assert_int_equal(err.line, 1);
}

static void test_kind_names(void **state)
{
	(void)state;
	assert_string_equal(addr_kind_name(ADDR_ANY), "any");
	assert_string_equal(addr_kind_name(ADDR_PREFIX), "prefix");
	assert_string_equal(addr_kind_name(ADDR_RANGE), "range");
	assert_string_equal(addr_kind_name(ADDR_ME), "me");
	assert_string_equal(addr_kind_name(ADDR_DNS), "dns");
	assert_string_equal(addr_kind_name(ADDR_DHCP), "dhcp");
	assert_string_equal(addr_kind_name(ADDR_GATEWAY), "gateway");
	assert_string_equal(addr_kind_name(ADDR_WINS), "wins");
	assert_string_equal(addr_kind_name((enum addr_kind)99), "unknown");
	assert_string_equal(filter_action_kind_name(FA_PERMIT), "permit");
	assert_string_equal(filter_action_kind_name(FA_NEGOTIATE), "negotiate");
	assert_string_equal(filter_action_kind_name(FA_BLOCK), "block");
	assert_string_equal(filter_action_kind_name((enum filter_action_kind)9), "unknown");
}

/* The three predefined policies (examples/predefined/): what each one
 * means, as ipsec-xdp.policy(5) (PREDEFINED POLICIES) says. */
static void test_predefined_policies(void **state)
{
	struct policy_file *c = parse_file_ok("examples/predefined/client-respond-only.yaml");
	struct policy_file *s = parse_file_ok("examples/predefined/server-request-security.yaml");
	struct policy_file *ss = parse_file_ok("examples/predefined/secure-server-require-security.yaml");
	const struct rule *all;

	/* respond only: no rule, the default response with its own methods */
	assert_int_equal(c->assigned->nrules, 0);
	assert_true(c->assigned->default_response);
	assert_int_equal(c->assigned->nresponse_methods, 4);
	assert_int_equal(c->assigned->response_methods[0].encr, ENCR_AES_GCM_16_256);
	assert_int_equal(c->assigned->nresponse_auth, 1);
	assert_string_equal(c->assigned->response_auth[0].psk_id, "predefined");
	/* request: ICMP permitted, all IP traffic negotiated, inpass, soft 3 s */
	assert_int_equal(s->assigned->nrules, 2);
	assert_int_equal(s->assigned->rules[0].action->kind, FA_PERMIT);
	all = &s->assigned->rules[1];
	assert_int_equal(all->action->kind, FA_NEGOTIATE);
	assert_true(all->action->inpass);
	assert_true(all->action->soft);
	assert_int_equal(all->action->soft_timeout_s, 3);
	/* the default methods of the default response when none are written */
	assert_int_equal(s->assigned->nresponse_methods, 4);
	/* require: the same, never soft, ESP only */
	all = &ss->assigned->rules[1];
	assert_true(all->action->inpass);
	assert_false(all->action->soft);
	for (size_t i = 0; i < all->action->nmethods; i++)
		assert_int_equal(all->action->methods[i].kind, SM_ESP);
	policy_file_free(c);
	policy_file_free(s);
	policy_file_free(ss);
}

/* default-response: a mapping; errors at the key; a rule may not take
 * the default response's name. */
static void test_default_response_forms(void **state)
{
	struct policy_file *pf;
	struct policy_error e;
	static const char off[] = "policies:\n  p:\n    default-response: { active: no }\n";
	static const char bad[] = "policies:\n  p:\n    default-response: { colour: red }\n";
	static const char name[] =
		"policies:\n  p:\n    rules:\n"
		"      - { name: default-response, filter-list: l, action: permit }\n";

	assert_int_equal(policy_parse_buffer("t.yaml", off, strlen(off), &pf, &e), 0);
	assert_false(pf->assigned->default_response);
	policy_file_free(pf);
	assert_int_equal(policy_parse_buffer("t.yaml", bad, strlen(bad), &pf, &e), -1);
	assert_non_null(strstr(e.msg, "colour"));
	assert_int_equal(policy_parse_buffer("t.yaml", name, strlen(name), &pf, &e), -1);
	assert_non_null(strstr(e.msg, "default response rule"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classic_file),
		cmocka_unit_test(test_builtin_actions_shared),
		cmocka_unit_test(test_full_file_filters),
		cmocka_unit_test(test_full_file_actions),
		cmocka_unit_test(test_full_file_policy),
		cmocka_unit_test(test_example_file),
		cmocka_unit_test(test_all_valid_files),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_address_forms),
		cmocka_unit_test(test_protocol_and_port_forms),
		cmocka_unit_test(test_boolean_forms),
		cmocka_unit_test(test_pfs_group_forms),
		cmocka_unit_test(test_bad_cases),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_random_tokens),
		cmocka_unit_test(test_truncated_and_mutated),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_alias_bomb),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_file_too_big),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_connection_type_all),
		cmocka_unit_test(test_connection_type_interfaces),
		cmocka_unit_test(test_polling_interval),
		cmocka_unit_test(test_error_format),
		cmocka_unit_test(test_long_name),
		cmocka_unit_test(test_kind_names),
		cmocka_unit_test(test_predefined_policies),
		cmocka_unit_test(test_default_response_forms),
	};

	/* e.g. TEST_FILTER='test_bad*' to run some of them */
	if (getenv("TEST_FILTER"))
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
