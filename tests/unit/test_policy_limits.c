// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_policy_limits.c - no silent limits (lib/compile/compile_limits.c): a policy
 * over several limits gets one message for each, naming the limit, the
 * value and the position; a large policy within every limit gets none;
 * the compiled list's limits (filter shapes per family, hash keys) are
 * counted as the dataplane counts them; and agent_compile (what `policy
 * check` and `policy apply` run) refuses with every message at once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/agent.h"
#include "compile/compile_limits.h"

/* ---- a growing text buffer ------------------------------------------------------- */

struct text {
	char *s;
	size_t len, cap;
};

__attribute__((format(printf, 2, 3)))
static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->s ? t->s + t->len : NULL,
			      t->s ? t->cap - t->len : 0, fmt, ap);
		va_end(ap);
		assert_true(n >= 0);
		if (t->s && t->len + (size_t)n < t->cap)
			break;
		t->cap = (t->cap + (size_t)n + 1) * 2;
		t->s = realloc(t->s, t->cap);
		assert_non_null(t->s);
	}
	t->len += (size_t)n;
}

static struct policy_file *parse(const struct text *t)
{
	struct policy_file *pf = NULL;
	struct policy_error e;
	char msg[1024];

	if (policy_parse_buffer("limits.yaml", t->s, t->len, &pf, &e)) {
		policy_error_format(&e, msg, sizeof(msg));
		fail_msg("%s", msg);
	}
	return pf;
}

/* The one message containing `part`, or fail. */
static const char *message_with(const struct policy_limits *l, const char *part)
{
	const char *found = NULL;

	for (size_t i = 0; i < l->n; i++)
		if (strstr(l->msg[i], part)) {
			if (found)
				fail_msg("two messages contain '%s'", part);
			found = l->msg[i];
		}
	if (!found)
		fail_msg("no message contains '%s'", part);
	return found;
}

/* ---- policies ------------------------------------------------------------------ */

/* `rules` negotiate rules of `filters` filters each; the first `tunnels`
 * with a tunnel endpoint; every rule with the PSK ids psk0..psk<npsk-1>. */
static void rules_policy(struct text *t, size_t rules, size_t filters,
			 size_t tunnels, size_t npsk, size_t nmethods,
			 bool default_response)
{
	put(t, "filter-lists:\n");
	for (size_t r = 0; r < rules; r++) {
		put(t, "  l%zu: { filters: [", r);
		for (size_t f = 0; f < filters; f++)
			put(t, "%s { src: me, dst: 10.%zu.%zu.0/24, mirrored: no }",
			    f ? "," : "",
			    r, f);
		put(t, " ] }\n");
	}
	put(t, "filter-actions:\n  secure: { action: negotiate, methods: [");
	for (size_t m = 0; m < nmethods; m++)
		put(t, "%s { esp: %s, lifetime: %zu }", m ? "," : "",
		    m % 2 ? "aes128gcm16" : "aes256gcm16", 600 + m);
	put(t, " ] }\npolicies:\n  big:\n    default-response: %s\n    rules:\n",
	    default_response ? "yes" : "no");
	for (size_t r = 0; r < rules; r++) {
		put(t, "      - { name: rule-%zu, filter-list: l%zu, action: secure,"
		    " authentication: [", r, r);
		for (size_t k = 0; k < npsk; k++)
			put(t, "%s { psk: psk%zu }", k ? "," : "", k);
		put(t, " ]");
		if (r < tunnels)
			put(t, ", tunnel: 192.0.2.%zu", 1 + r % 250);
		put(t, " }\n");
	}
}

/* 40 negotiate rules of 50 filters, 16 methods, 16 PSK ids... with the
 * default response off, 64 tunnel rules, a 31-character rule name: at
 * every limit, over none. */
static void test_large_legal_policy(void **state)
{
	struct text t = { 0 };
	struct policy_limits l = { 0 };
	struct policy_file *pf;

	rules_policy(&t, 64, 50, 64, POLICY_MAX_PSK_IDS, POLICY_MAX_METHODS,
		     false);
	pf = parse(&t);
	assert_int_equal(policy_limits_check(pf, &l), 0);
	assert_int_equal(l.n, 0);
	policy_file_free(pf);
	policy_limits_free(&l);
	free(t.s);
}

/* The same with the default response: a peer no rule names is offered
 * every rule's keys plus its address's, one more than fits. */
static void test_default_response_keys(void **state)
{
	struct text t = { 0 };
	struct policy_limits l = { 0 };
	struct policy_file *pf;

	rules_policy(&t, 3, 1, 0, POLICY_MAX_PSK_IDS, 1, true);
	pf = parse(&t);
	assert_int_equal(policy_limits_check(pf, &l), 2);
	assert_non_null(strstr(message_with(&l, "pre-shared key ids per peer"),
			       "the default response (every negotiate rule's "
			       "authentication together) has 17 distinct ids "
			       "(with the peer's address); the limit is 16"));
	assert_non_null(strstr(message_with(&l, "authentication methods per "
					    "peer"), "has 17"));
	policy_file_free(pf);
	policy_limits_free(&l);
	free(t.s);

	/* 15 keys and the address: fits */
	memset(&t, 0, sizeof(t));
	rules_policy(&t, 3, 1, 0, POLICY_MAX_PSK_IDS - 1, 1, true);
	pf = parse(&t);
	assert_int_equal(policy_limits_check(pf, &l), 0);
	policy_file_free(pf);
	policy_limits_free(&l);
	free(t.s);
}

/* One file over seven limits: seven messages, one a limit, each with its
 * position, value, limit and advice. */
static void test_every_limit_reported(void **state)
{
	struct text t = { 0 };
	struct policy_limits l = { 0 };
	struct policy_file *pf;
	const char *m;

	rules_policy(&t, 70, 1, 65, 1, POLICY_MAX_METHODS + 1, false);
	/* a rule over the auth limits, with a long name and a long CA path */
	put(&t, "      - { name: this-rule-name-is-longer-than-31-chars,"
	    " filter-list: l0, action: secure, authentication: [");
	for (int k = 0; k < 17; k++)
		put(&t, " { psk: key%d },", k);
	for (int k = 0; k < 5; k++)
		put(&t, " { certificate: { ca: /etc/ipsec-xdp/ca%d.pem } },", k);
	put(&t, " { certificate: { ca: /%0300d } } ] }\n", 0);
	put(&t, "    ike:\n      proposals: [");
	for (int i = 0; i < 17; i++)
		put(&t, "%s %s-prfsha%d-%s", i ? "," : "",
		    i % 2 ? "aes128gcm16" : "aes256gcm16", i % 3 == 0 ? 256 :
		    i % 3 == 1 ? 384 : 512, i < 6 ? "curve25519" : i < 12 ?
		    "ecp256" : "modp2048");
	put(&t, " ]\n");
	pf = parse(&t);
	assert_int_equal(policy_limits_check(pf, &l), 8);
	assert_int_equal(l.n, 8);

	m = message_with(&l, "IKE proposals");
	assert_non_null(strstr(m, "policy 'big' has 17; the limit is 16: keep"));
	m = message_with(&l, "security methods per filter action");
	assert_non_null(strstr(m, "limits.yaml:"));
	assert_non_null(strstr(m, "'secure' has 17; the limit is 16"));
	m = message_with(&l, "rule name length");
	assert_non_null(strstr(m, "'this-rule-name-is-longer-than-31-chars' has "
			       "38 characters; the limit is 31"));
	assert_non_null(strstr(m, "shorten"));
	m = message_with(&l, "pre-shared key ids per peer");
	assert_non_null(strstr(m, "rule 'this-rule-name-is-longer-than-31-chars'"
			       " has 17 distinct ids; the limit is 16"));
	m = message_with(&l, "root CA files per peer");
	assert_non_null(strstr(m, "names 6 distinct files; the limit is 4"));
	m = message_with(&l, "authentication methods per peer");
	assert_non_null(strstr(m, "has 23"));
	m = message_with(&l, "root CA file path length");
	assert_non_null(strstr(m, "301 characters; the limit is 255"));
	m = message_with(&l, "tunnel rules");
	assert_non_null(strstr(m, "has 65 active negotiate rules with a tunnel "
			       "endpoint; the limit is 64"));
	for (size_t i = 0; i < l.n; i++)
		assert_non_null(strstr(l.msg[i], "limit exceeded: "));
	policy_file_free(pf);
	policy_limits_free(&l);
	free(t.s);
}

/* An inactive or non-negotiate rule needs no tunnel id nor keys. */
static void test_only_active_negotiate_rules_count(void **state)
{
	struct text t = { 0 };
	struct policy_limits l = { 0 };
	struct policy_file *pf;

	rules_policy(&t, 64, 1, 64, 1, 1, false);
	put(&t, "      - { name: off, filter-list: l0, action: secure, "
	    "authentication: [ { psk: x } ], tunnel: 192.0.2.9, active: no }\n");
	pf = parse(&t);
	assert_int_equal(policy_limits_check(pf, &l), 0);
	policy_file_free(pf);
	policy_limits_free(&l);
	free(t.s);
}

/* 15 interface selections fit (each distinct connection-type and
 * interfaces list is one interface group; the same list twice is one);
 * 16 do not, and say so at the policy. */
static void test_interface_groups(void **state)
{
	struct policy_limits l = { 0 };

	(void)state;
	for (size_t n = 15; n <= 16; n++) {
		struct text t = { 0 };
		struct policy_file *pf;

		put(&t, "filter-lists:\n  l: { filters: [ { src: me, dst: any } ] }\n"
		    "policies:\n  p:\n    rules:\n");
		for (size_t r = 0; r < n; r++)
			put(&t, "      - { name: r%zu, filter-list: l, action: block, "
			    "interfaces: [eth%zu] }\n", r, r);
		put(&t, "      - { name: again, filter-list: l, action: block, "
		    "interfaces: [eth0] }\n"
		    "      - { name: off, filter-list: l, action: block, active: no, "
		    "connection-type: remote }\n");
		pf = parse(&t);
		assert_int_equal(policy_limits_check(pf, &l), n == 15 ? 0 : 1);
		if (n == 16)
			assert_non_null(strstr(message_with(&l, "interface selections"),
					       "has 16 different combinations"));
		policy_file_free(pf);
		policy_limits_free(&l);
		free(t.s);
	}
}

/* ---- the compiled list ------------------------------------------------------- */

static void push(struct filter_table *t, uint8_t fam, uint8_t splen,
		 uint8_t dplen, uint16_t slo, uint16_t shi, uint16_t dlo,
		 uint16_t dhi)
{
	struct specific_filter f = { .fam = fam, .src_plen = splen,
				     .dst_plen = dplen, .rule = 0, .name = "r" };

	f.sport.lo = slo;
	f.sport.hi = shi;
	f.dport.lo = dlo;
	f.dport.hi = dhi;
	assert_int_equal(filter_table_push(t, &f), 0);
}

/* Over the tuple space's shapes (129 IPv4 ones, each twice): the
 * decision tree holds the list, so it is not refused. */
static void test_many_shapes_accepted(void **state)
{
	struct filter_table t = { 0 };
	struct policy_limits l = { 0 };

	for (unsigned i = 0; i < 128; i++)
		push(&t, IXDP_FAM_V6, (uint8_t)i, 128, 0, 0, 0, 0);
	for (unsigned i = 0; i < 129; i++) {
		push(&t, IXDP_FAM_V4, (uint8_t)(i / 33), (uint8_t)(i % 33), 0, 0, 0, 0);
		push(&t, IXDP_FAM_V4, (uint8_t)(i / 33), (uint8_t)(i % 33), 0, 0, 0, 0);
	}
	assert_int_equal(filter_table_sort(&t), 0);
	assert_int_equal(policy_limits_check_table(&t, &l), 0);
	filter_table_free(&t);
	policy_limits_free(&l);
}

/* A wide port range becomes a key per port class it covers, on each side:
 * 400 narrow ranges per side cut the wide one into 801 classes each, over
 * the tuple space's keys; the tree holds it. */
static void test_many_keys_accepted(void **state)
{
	struct filter_table t = { 0 };
	struct policy_limits l = { 0 };

	push(&t, IXDP_FAM_V4, 32, 32, 1, 60000, 1, 60000);
	for (unsigned i = 0; i < 400; i++)
		push(&t, IXDP_FAM_V4, 24, 24, (uint16_t)(i * 100 + 10),
		     (uint16_t)(i * 100 + 60), (uint16_t)(i * 100 + 10),
		     (uint16_t)(i * 100 + 60));
	assert_int_equal(filter_table_sort(&t), 0);
	assert_int_equal(policy_limits_check_table(&t, &l), 0);
	policy_limits_free(&l);
	filter_table_free(&t);
}

/* Refused only when neither form holds the list: 1100 nested ranges
 * [0, k] over the same addresses all hold port 0 (and fragments), so one
 * leaf keeps them all (over 1024), and their classes need about 600000
 * keys.  The message names both limits. */
static void test_neither_form_refused(void **state)
{
	struct filter_table t = { 0 };
	struct policy_limits l = { 0 };
	const char *m;

	for (unsigned k = 1; k <= 1100; k++)
		push(&t, IXDP_FAM_V4, 32, 32, 0, 0, 0, (uint16_t)k);
	assert_int_equal(filter_table_sort(&t), 0);
	assert_int_equal(policy_limits_check_table(&t, &l), 1);
	m = message_with(&l, "fits neither the decision tree");
	assert_non_null(strstr(m, "limit of 1024"));
	assert_non_null(strstr(m, "dataplane hash keys"));
	assert_non_null(strstr(m, "the limit is 131072"));
	policy_limits_free(&l);
	filter_table_free(&t);
}

/* ---- the report ---------------------------------------------------------------- */

static void test_join_cut_says_how_many_more(void **state)
{
	struct text t = { 0 };
	struct policy_limits l = { 0 };
	struct policy_file *pf;
	char small[300], big[8192];

	rules_policy(&t, 70, 1, 65, 1, POLICY_MAX_METHODS + 1, false);
	put(&t, "      - { name: this-rule-name-is-longer-than-31-chars,"
	    " filter-list: l0, action: secure, authentication: [ { psk: a } ] }\n");
	pf = parse(&t);
	assert_int_equal(policy_limits_check(pf, &l), 3);
	policy_limits_join(&l, big, sizeof(big));
	assert_non_null(strstr(big, "security methods"));
	assert_non_null(strstr(big, "\n"));
	assert_non_null(strstr(big, "tunnel rules"));
	assert_null(strstr(big, "more limits"));
	policy_limits_join(&l, small, sizeof(small));
	assert_true(strlen(small) < sizeof(small));
	assert_non_null(strstr(small, "more limits exceeded)"));
	policy_file_free(pf);
	policy_limits_free(&l);
	free(t.s);
}

/* What `policy check` runs: parse, limits, compile, the list's limits;
 * the error holds every limit exceeded. */
static void test_agent_compile_refuses(void **state)
{
	char path[] = "/tmp/ixdp-limits-XXXXXX";
	struct text t = { 0 };
	struct bootconf conf;
	struct policy_file *pf = NULL;
	struct filter_table table = { 0 };
	struct compile_diag diag = { 0 };
	char err[8192];
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	memset(&conf, 0, sizeof(conf));
	conf.ipsecexempt = 3;
	rules_policy(&t, 70, 1, 65, 1, POLICY_MAX_METHODS + 1, false);
	put(&t, "      - { name: this-rule-name-is-longer-than-31-chars,"
	    " filter-list: l0, action: secure, authentication: [ { psk: a } ] }\n");
	assert_int_equal(write(fd, t.s, t.len), (ssize_t)t.len);
	close(fd);
	assert_int_equal(agent_compile(path, &conf, &pf, &table, &diag, err,
				       sizeof(err)), -1);
	assert_null(pf);
	assert_int_equal(table.n, 0);
	assert_non_null(strstr(err, "the policy exceeds 3 limits"));
	assert_non_null(strstr(err, "security methods per filter action"));
	assert_non_null(strstr(err, "rule name length"));
	assert_non_null(strstr(err, "tunnel rules"));
	compile_diag_free(&diag);
	unlink(path);
	free(t.s);

	/* within the limits: compiled */
	memset(&t, 0, sizeof(t));
	rules_policy(&t, 40, 50, 0, 1, 2, true);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, t.s, t.len), (ssize_t)t.len);
	close(fd);
	if (agent_compile(path, &conf, &pf, &table, &diag, err, sizeof(err)))
		fail_msg("%s", err);
	assert_non_null(pf);
	assert_int_equal(pf->assigned->nrules, 40);
	policy_file_free(pf);
	filter_table_free(&table);
	compile_diag_free(&diag);
	unlink(path);
	free(t.s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_large_legal_policy),
		cmocka_unit_test(test_default_response_keys),
		cmocka_unit_test(test_every_limit_reported),
		cmocka_unit_test(test_only_active_negotiate_rules_count),
		cmocka_unit_test(test_interface_groups),
		cmocka_unit_test(test_many_shapes_accepted),
		cmocka_unit_test(test_neither_form_refused),
		cmocka_unit_test(test_many_keys_accepted),
		cmocka_unit_test(test_join_cut_says_how_many_more),
		cmocka_unit_test(test_agent_compile_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
