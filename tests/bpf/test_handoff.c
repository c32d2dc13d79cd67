// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_handoff.c - negotiate traffic and xfrm under bpf_prog_test_run_opts():
 * SA bundles (up: redirect into the xfrm interface, soft: clear, none or
 * negotiating: drop) and the events that tell the daemon to start IKE, with
 * their rate limit; the userspace side (dp_bundle_*, dp_events_*); and the
 * rule ids that key the bundles across policy changes (docs/behaviour.md §4: reordered
 * rules keep their SAs, changed or deleted ones lose them).
 *
 * The redirect itself and the xfrm path run in the VM (vmtest/guest_xfrm.sh):
 * test runs only return TC_ACT_REDIRECT.  Needs root; exits 77 otherwise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "compile/compiler.h"
#include "dp_env.h"

#define IN  IXDP_DIR_IN
#define OUT IXDP_DIR_OUT
#define V4  IXDP_FAM_V4
#define V6  IXDP_FAM_V6
#define TC_ACT_REDIRECT 7

static struct dp_env E;
static struct dp_handoff H;
static char errbuf[512];

#define RULE_NEG    3
#define RULE_INPASS 4
#define RULE_SOFT   5
#define RULE_NEG6   6

/* ---- a table: negotiate filters of several kinds, and a permit ------------ */

static struct specific_filter flt(uint8_t fam, const char *src, int splen,
				  uint8_t action, uint8_t flags, int rule,
				  const char *name)
{
	struct specific_filter f;

	memset(&f, 0, sizeof(f));
	f.fam = fam;
	inet_pton(fam == V4 ? AF_INET : AF_INET6, src, f.src);
	f.src_plen = (uint8_t)splen;
	f.action = action;
	f.flags = flags;
	f.rule = rule;
	f.name = name;
	return f;
}

/* The standard table; shift moves every rule index (the rules in another
 * order), neg_plen and neg_flags change the rule "neg". */
static void apply_table(int shift, int neg_plen, uint8_t neg_flags)
{
	struct specific_filter f[] = {
		flt(V4, "10.3.0.0", neg_plen, IXDP_ACT_NEGOTIATE, neg_flags,
		    RULE_NEG, "neg"),
		flt(V4, "10.4.0.0", 16, IXDP_ACT_NEGOTIATE, IXDP_F_INPASS,
		    RULE_INPASS, "inpass"),
		flt(V4, "10.5.0.0", 16, IXDP_ACT_NEGOTIATE, IXDP_F_SOFT,
		    RULE_SOFT, "soft"),
		flt(V6, "2001:db8:3::", 48, IXDP_ACT_NEGOTIATE, 0, RULE_NEG6, "neg6"),
		flt(V4, "10.3.9.0", 24, IXDP_ACT_PERMIT, 0, 7, "permit"),
	};
	struct filter_table t = {0};

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		struct specific_filter m;

		f[i].rule += shift;
		m = f[i];			/* mirrored: peer -> us */

		memcpy(m.dst, f[i].src, 16);
		m.dst_plen = f[i].src_plen;
		memset(m.src, 0, 16);
		m.src_plen = 0;
		m.mirror = true;
		assert_int_equal(filter_table_push(&t, &f[i]), 0);
		assert_int_equal(filter_table_push(&t, &m), 0);
	}
	assert_int_equal(filter_table_sort(&t), 0);
	if (dp_apply_table(&E.dp, &t, true, errbuf, sizeof(errbuf)))
		fail_msg("dp_apply_table: %s", errbuf);
	filter_table_free(&t);
}

static void apply_std(void)
{
	apply_table(0, 16, 0);
}

/* ---- helpers ----------------------------------------------------------------- */

static int run(int dir, const struct pkt_spec *s)
{
	uint8_t buf[PKT_MAX];
	size_t len = pkt_build(s, buf);

	return dp_env_run(dir == IN ? E.xdp_fd : E.tc_fd, buf, len, 1, NULL);
}

static struct pkt_spec tcp4(const char *src, const char *dst)
{
	return pkt_spec_of(V4, src, dst, IPPROTO_TCP, 40000, 5001);
}

static uint64_t xs(enum ixdp_xfrm_counter c)
{
	uint64_t v[IXDP_XS__MAX];

	assert_int_equal(dp_read_xfrm_stats(&H, v), 0);
	return v[c];
}

static uint64_t drops(enum ixdp_drop_reason r)
{
	uint64_t v[IXDP_DROP__MAX];

	assert_int_equal(dp_read_drops(&E.dp, v), 0);
	return v[r];
}

/* The rule id of a live rule: the key of its bundles. */
static uint32_t id_of(const char *rule)
{
	uint32_t id = 0;

	assert_int_equal(dp_rule_id(&E.dp, rule, &id), 0);
	assert_true(id != 0);
	return id;
}

static void set_bundle(const char *rule, int af, const char *peer, uint32_t state,
		       uint32_t flags, uint32_t ifindex)
{
	struct ixdp_bundle_key k;
	struct ixdp_bundle b = { .state = state, .flags = flags, .if_id = 77,
				 .ifindex = ifindex };
	uint8_t a[16] = {0};

	if (peer)
		assert_int_equal(inet_pton(af, peer, a), 1);
	dp_bundle_key_init(&k, id_of(rule), af, peer ? a : NULL);
	if (dp_bundle_set(&H, &k, &b, errbuf, sizeof(errbuf)))
		fail_msg("dp_bundle_set: %s", errbuf);
}

static void clear_map(int fd, size_t ksize)
{
	char k[64];

	assert_true(ksize <= sizeof(k));
	while (!bpf_map_get_next_key(fd, NULL, k))
		assert_int_equal(bpf_map_delete_elem(fd, k), 0);
}

#define MAX_EV 16
static struct ixdp_event evs[MAX_EV];
static size_t nev;

static int on_event(void *ctx, const struct ixdp_event *ev)
{
	if (nev < MAX_EV)
		evs[nev++] = *ev;
	return 0;
}

static size_t drain(void)
{
	nev = 0;
	assert_true(dp_events_process(&H) >= 0);
	return nev;
}

static int reset(void **state)
{
	apply_std();
	clear_map(H.bundles_fd, sizeof(struct ixdp_bundle_key));
	clear_map(H.event_last_fd, sizeof(struct ixdp_bundle_key));
	drain();
	return 0;
}

/* ---- tests ---------------------------------------------------------------------- */

static void test_up_bundle_redirects_outbound(void **state)
{
	struct pkt_spec out = tcp4("10.3.0.1", "192.0.2.2");
	struct pkt_spec other = tcp4("10.3.0.1", "192.0.2.3");
	struct pkt_spec in = tcp4("192.0.2.2", "10.3.0.1");
	uint64_t redir = xs(IXDP_XS_REDIRECT), refused = xs(IXDP_XS_PLAIN_REFUSED);
	uint64_t dneg = drops(IXDP_DROP_NEGOTIATE);

	assert_int_equal(run(OUT, &out), TC_ACT_SHOT);          /* no SA yet */
	set_bundle("neg", AF_INET, "192.0.2.2", IXDP_BUNDLE_UP, 0, 42);
	assert_int_equal(run(OUT, &out), TC_ACT_REDIRECT);
	assert_int_equal(xs(IXDP_XS_REDIRECT), redir + 1);
	/* Another peer of the same rule has no SA. */
	assert_int_equal(run(OUT, &other), TC_ACT_SHOT);
	/* Inbound plaintext while the SA is up: still refused. */
	assert_int_equal(run(IN, &in), XDP_DROP);
	assert_int_equal(xs(IXDP_XS_PLAIN_REFUSED), refused + 1);
	assert_int_equal(drops(IXDP_DROP_NEGOTIATE), dneg + 3);
	/* A permit filter inside the negotiate range is not redirected. */
	struct pkt_spec permitted = tcp4("10.3.9.1", "192.0.2.2");
	assert_int_equal(dp_env_send(&E, OUT, &permitted), 'P');
	/* ESP itself passes, whatever the bundles say. */
	struct pkt_spec esp = pkt_spec_of(V4, "10.3.0.1", "192.0.2.2", IPPROTO_ESP, 0, 0);
	esp.payload = 24;
	assert_int_equal(run(OUT, &esp), TC_ACT_OK);
	assert_int_equal(run(IN, &esp), XDP_PASS);
}

static void test_rule_wide_bundle_and_ipv6(void **state)
{
	struct pkt_spec a = tcp4("10.3.0.1", "198.51.100.7");
	struct pkt_spec b = tcp4("10.3.0.1", "198.51.100.8");
	struct pkt_spec v6 = pkt_spec_of(V6, "2001:db8:3::1", "2001:db8:9::2",
					 IPPROTO_UDP, 1, 2);

	/* peer NULL: the tunnel rule's one bundle serves every destination. */
	set_bundle("neg", AF_INET, NULL, IXDP_BUNDLE_UP, 0, 42);
	assert_int_equal(run(OUT, &a), TC_ACT_REDIRECT);
	assert_int_equal(run(OUT, &b), TC_ACT_REDIRECT);
	/* A peer's own bundle wins over the rule-wide one. */
	set_bundle("neg", AF_INET, "198.51.100.8", IXDP_BUNDLE_NEGOTIATING, 0, 0);
	assert_int_equal(run(OUT, &b), TC_ACT_SHOT);
	assert_int_equal(run(OUT, &v6), TC_ACT_SHOT);
	set_bundle("neg6", AF_INET6, "2001:db8:9::2", IXDP_BUNDLE_UP, 0, 43);
	assert_int_equal(run(OUT, &v6), TC_ACT_REDIRECT);
}

static bool kernel_has_xfrm_interfaces(void)
{
	return access("/sys/kernel/btf/xfrm_interface", F_OK) == 0;
}

static void test_metadata_bundle(void **state)
{
	struct pkt_spec out = tcp4("10.3.0.1", "192.0.2.2");
	uint64_t fail = xs(IXDP_XS_XFRM_INFO_FAIL);

	set_bundle("neg", AF_INET, "192.0.2.2", IXDP_BUNDLE_UP,
		   IXDP_BUNDLE_F_XFRM_INFO, 42);
	if (kernel_has_xfrm_interfaces()) {
		/* Loaded after the module: bpf_skb_set_xfrm_info() is there. */
		assert_int_equal(run(OUT, &out), TC_ACT_REDIRECT);
		return;
	}
	/* No xfrm interfaces in this kernel: never sent out unprotected. */
	assert_int_equal(run(OUT, &out), TC_ACT_SHOT);
	assert_int_equal(xs(IXDP_XS_XFRM_INFO_FAIL), fail + 1);
}

/* A default response's bundle (ipsec_xdp.h "DEFAULT RESPONSE"): only
 * outbound packets that match no filter use it; a filter still wins, the
 * bundle outlives policy applies, and inbound is untouched. */
static void set_default_response(int af, const char *peer, uint32_t state)
{
	struct ixdp_bundle_key k;
	struct ixdp_bundle b = { .state = state, .if_id = 77, .ifindex = 42 };
	uint8_t a[16] = {0};

	assert_int_equal(inet_pton(af, peer, a), 1);
	dp_bundle_key_init(&k, IXDP_RULE_ID_DEFAULT_RESPONSE, af, a);
	if (dp_bundle_set(&H, &k, &b, errbuf, sizeof(errbuf)))
		fail_msg("dp_bundle_set: %s", errbuf);
}

static void test_default_response_bundle(void **state)
{
	struct pkt_spec reply = tcp4("10.9.0.1", "192.0.2.50");
	struct pkt_spec other = tcp4("10.9.0.1", "192.0.2.51");
	struct pkt_spec in = tcp4("192.0.2.50", "10.9.0.1");
	struct pkt_spec permitted = tcp4("10.3.9.1", "192.0.2.50");
	struct pkt_spec negotiated = tcp4("10.3.0.1", "192.0.2.50");
	struct pkt_spec v6 = pkt_spec_of(V6, "2001:db8:7::1", "2001:db8:9::50",
					 IPPROTO_UDP, 1, 2);
	uint64_t dr = xs(IXDP_XS_DEFAULT_RESPONSE);

	/* No bundle: an unmatched reply passes in clear. */
	assert_int_equal(run(OUT, &reply), TC_ACT_OK);
	set_default_response(AF_INET, "192.0.2.50", IXDP_BUNDLE_UP);
	assert_int_equal(run(OUT, &reply), TC_ACT_REDIRECT);
	assert_int_equal(xs(IXDP_XS_DEFAULT_RESPONSE), dr + 1);
	/* Only to that peer; inbound clear is as before (no filter: pass). */
	assert_int_equal(run(OUT, &other), TC_ACT_OK);
	assert_int_equal(run(IN, &in), XDP_PASS);
	/* A matching filter wins: permit stays clear, negotiate without its
	 * own bundle stays held. */
	assert_int_equal(run(OUT, &permitted), TC_ACT_OK);
	assert_int_equal(run(OUT, &negotiated), TC_ACT_SHOT);
	/* A policy apply that changes every rule keeps it. */
	apply_table(5, 24, IXDP_F_INPASS);
	assert_int_equal(run(OUT, &reply), TC_ACT_REDIRECT);
	/* Not up: clear, as with none. */
	set_default_response(AF_INET, "192.0.2.50", IXDP_BUNDLE_NEGOTIATING);
	assert_int_equal(run(OUT, &reply), TC_ACT_OK);
	/* IPv6 the same. */
	set_default_response(AF_INET6, "2001:db8:9::50", IXDP_BUNDLE_UP);
	assert_int_equal(run(OUT, &v6), TC_ACT_REDIRECT);
	assert_int_equal(xs(IXDP_XS_DEFAULT_RESPONSE), dr + 3);
}

static void test_soft_bundle_passes_both_ways(void **state)
{
	struct pkt_spec out = tcp4("10.5.0.1", "192.0.2.9");
	struct pkt_spec in = tcp4("192.0.2.9", "10.5.0.1");
	uint64_t soft = xs(IXDP_XS_SOFT_PASS);

	assert_int_equal(run(OUT, &out), TC_ACT_SHOT);
	assert_int_equal(run(IN, &in), XDP_DROP);
	set_bundle("soft", AF_INET, "192.0.2.9", IXDP_BUNDLE_SOFT, 0, 0);
	assert_int_equal(run(OUT, &out), TC_ACT_OK);
	assert_int_equal(run(IN, &in), XDP_PASS);
	assert_int_equal(xs(IXDP_XS_SOFT_PASS), soft + 2);
}

static void test_events(void **state)
{
	struct pkt_spec out = tcp4("10.3.0.1", "192.0.2.2");
	struct pkt_spec in_plain = tcp4("192.0.2.2", "10.3.0.1");
	struct pkt_spec in_pass = tcp4("192.0.2.4", "10.4.0.1");
	struct pkt_spec in_soft = tcp4("192.0.2.5", "10.5.0.1");
	struct ixdp_bundle_key k;
	uint8_t peer[4];
	uint64_t limited = xs(IXDP_XS_EVENTS_LIMITED), sent = xs(IXDP_XS_EVENTS);

	/* Outbound without an SA: one event, then quiet for 100 ms. */
	assert_int_equal(run(OUT, &out), TC_ACT_SHOT);
	assert_int_equal(run(OUT, &out), TC_ACT_SHOT);
	assert_int_equal(run(OUT, &out), TC_ACT_SHOT);
	assert_int_equal(drain(), 1);
	assert_int_equal(evs[0].type, IXDP_EV_NEED_SA);
	assert_int_equal(evs[0].rule, id_of("neg"));
	assert_int_equal(evs[0].dir, OUT);
	assert_int_equal(evs[0].fam, V4);
	assert_int_equal(evs[0].proto, IPPROTO_TCP);
	assert_int_equal(evs[0].sport, 40000);
	assert_int_equal(evs[0].dport, 5001);
	assert_int_equal(evs[0].bundle_state, IXDP_BUNDLE_NONE);
	assert_int_equal(evs[0].passed, 0);
	assert_memory_equal(evs[0].dst, out.dst, 4);
	assert_memory_equal(evs[0].src, out.src, 4);
	assert_int_equal(xs(IXDP_XS_EVENTS), sent + 1);
	assert_int_equal(xs(IXDP_XS_EVENTS_LIMITED), limited + 2);
	/* Past the interval: reported again. */
	usleep(110 * 1000);
	assert_int_equal(run(OUT, &out), TC_ACT_SHOT);
	assert_int_equal(drain(), 1);
	/* Deleting a bundle clears the limit; a negotiating one is reported. */
	set_bundle("neg", AF_INET, "192.0.2.2", IXDP_BUNDLE_NEGOTIATING, 0, 0);
	inet_pton(AF_INET, "192.0.2.2", peer);
	dp_bundle_key_init(&k, id_of("neg"), AF_INET, peer);
	assert_int_equal(dp_bundle_del(&H, &k, errbuf, sizeof(errbuf)), 0);
	set_bundle("neg", AF_INET, "192.0.2.2", IXDP_BUNDLE_NEGOTIATING, 0, 0);
	assert_int_equal(run(OUT, &out), TC_ACT_SHOT);
	assert_int_equal(drain(), 1);
	assert_int_equal(evs[0].bundle_state, IXDP_BUNDLE_NEGOTIATING);
	/* Inbound plaintext of a plain negotiate filter: dropped, no event
	 * (the peer must come with ESP or start IKE itself). */
	assert_int_equal(run(IN, &in_plain), XDP_DROP);
	assert_int_equal(drain(), 0);
	/* inpass: passed, and IKE should secure the reply. */
	assert_int_equal(run(IN, &in_pass), XDP_PASS);
	assert_int_equal(drain(), 1);
	assert_int_equal(evs[0].dir, IN);
	assert_int_equal(evs[0].passed, 1);
	assert_int_equal(evs[0].rule, id_of("inpass"));
	assert_int_equal(evs[0].flags & IXDP_F_INPASS, IXDP_F_INPASS);
	/* soft: dropped until the daemon decides, but reported. */
	assert_int_equal(run(IN, &in_soft), XDP_DROP);
	assert_int_equal(drain(), 1);
	assert_int_equal(evs[0].rule, id_of("soft"));
	/* Once up, no more events. */
	set_bundle("neg", AF_INET, "192.0.2.2", IXDP_BUNDLE_UP, 0, 42);
	usleep(110 * 1000);
	assert_int_equal(run(OUT, &out), TC_ACT_REDIRECT);
	assert_int_equal(drain(), 0);
}

static void test_bundle_api(void **state)
{
	struct ixdp_bundle_key k, *keys;
	struct ixdp_bundle b = { .state = IXDP_BUNDLE_UP }, got, *vals;
	uint8_t p6[16];
	size_t n;

	inet_pton(AF_INET6, "2001:db8::5", p6);
	dp_bundle_key_init(&k, 9, AF_INET6, p6);
	assert_int_equal(k.fam, V6);
	assert_memory_equal(k.peer, p6, 16);
	/* Up needs an interface; unknown states are refused. */
	assert_int_equal(dp_bundle_set(&H, &k, &b, errbuf, sizeof(errbuf)), -1);
	assert_non_null(strstr(errbuf, "ifindex"));
	b.state = 9;
	assert_int_equal(dp_bundle_set(&H, &k, &b, errbuf, sizeof(errbuf)), -1);
	assert_non_null(strstr(errbuf, "unknown state"));
	b = (struct ixdp_bundle){ .state = IXDP_BUNDLE_UP, .ifindex = 5, .if_id = 8 };
	assert_int_equal(dp_bundle_set(&H, &k, &b, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(dp_bundle_get(&H, &k, &got), 0);
	assert_int_equal(got.if_id, 8);
	assert_int_equal(dp_bundle_list(&H, &keys, &vals, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(keys[0].rule, 9);
	assert_int_equal(vals[0].ifindex, 5);
	free(keys);
	free(vals);
	assert_int_equal(dp_bundle_del(&H, &k, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(dp_bundle_del(&H, &k, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(dp_bundle_get(&H, &k, &got), -ENOENT);
	assert_string_equal(bundle_state_name(IXDP_BUNDLE_SOFT), "soft");
	for (int i = 0; i < IXDP_XS__MAX; i++)
		assert_string_not_equal(xfrm_stat_name(i), "unknown");
	assert_string_equal(xfrm_stat_name(IXDP_XS__MAX), "unknown");
}

static void test_rule_index(void **state)
{
	uint32_t r = 0;
	char name[32];

	assert_int_equal(dp_rule_index(&E.dp, "soft", &r), 0);
	assert_int_equal(r, RULE_SOFT);
	assert_int_equal(dp_rule_index(&E.dp, "no-such-rule", &r), -ENOENT);
	assert_int_equal(dp_rule_id(&E.dp, "no-such-rule", &r), -ENOENT);
	assert_int_equal(dp_rule_by_id(&E.dp, id_of("inpass"), name,
				       sizeof(name)), 0);
	assert_string_equal(name, "inpass");
	assert_int_equal(dp_rule_by_id(&E.dp, 0, name, sizeof(name)), -ENOENT);
	/* every rule its own id */
	assert_true(id_of("neg") != id_of("soft"));
	assert_true(id_of("neg") != id_of("neg6"));
}

static bool bundle_exists(const char *rule_or_null, uint32_t id,
			  const char *peer)
{
	struct ixdp_bundle_key k;
	struct ixdp_bundle b;
	uint8_t a[4];

	inet_pton(AF_INET, peer, a);
	dp_bundle_key_init(&k, rule_or_null ? id_of(rule_or_null) : id,
			   AF_INET, a);
	return dp_bundle_get(&H, &k, &b) == 0;
}

/* docs/behaviour.md §4: a policy re-applied with its rules in another order keeps every
 * live SA working; a rule whose filters or action changed, or that is gone,
 * loses its bundles (and its traffic is refused until a new SA). */
static void test_policy_change_and_bundles(void **state)
{
	struct pkt_spec out = tcp4("10.3.0.1", "192.0.2.2");
	struct pkt_spec soft = tcp4("10.5.0.1", "192.0.2.9");
	uint32_t neg = id_of("neg"), sft = id_of("soft"), old;

	set_bundle("neg", AF_INET, "192.0.2.2", IXDP_BUNDLE_UP, 0, 42);
	set_bundle("soft", AF_INET, "192.0.2.9", IXDP_BUNDLE_SOFT, 0, 0);
	/* The same rules at other indices: same ids, the SAs still used. */
	apply_table(10, 16, 0);
	assert_int_equal(dp_rule_index(&E.dp, "neg", &old), 0);
	assert_int_equal(old, RULE_NEG + 10);
	assert_int_equal(id_of("neg"), neg);
	assert_int_equal(id_of("soft"), sft);
	assert_int_equal(run(OUT, &out), TC_ACT_REDIRECT);
	assert_int_equal(run(OUT, &soft), TC_ACT_OK);
	/* neg's filter changes: a new id, its bundle gone, refused again;
	 * the other rules keep theirs. */
	apply_table(10, 17, 0);
	assert_true(id_of("neg") != neg);
	assert_false(bundle_exists(NULL, neg, "192.0.2.2"));
	assert_int_equal(run(OUT, &out), TC_ACT_SHOT);
	assert_int_equal(run(OUT, &soft), TC_ACT_OK);
	/* neg's action changes (inpass added): a new id again. */
	old = id_of("neg");
	set_bundle("neg", AF_INET, "192.0.2.2", IXDP_BUNDLE_UP, 0, 42);
	apply_table(10, 17, IXDP_F_INPASS);
	assert_true(id_of("neg") != old);
	assert_false(bundle_exists(NULL, old, "192.0.2.2"));
	assert_int_equal(run(OUT, &out), TC_ACT_SHOT);
	/* Back to the first table: fresh ids (never reused), soft survives. */
	apply_std();
	assert_true(id_of("neg") != neg && id_of("neg") != old);
	assert_true(bundle_exists("soft", 0, "192.0.2.9"));
	/* No policy: every bundle goes. */
	assert_int_equal(dp_apply_table(&E.dp, NULL, false, errbuf,
					sizeof(errbuf)), 0);
	assert_false(bundle_exists(NULL, sft, "192.0.2.9"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_up_bundle_redirects_outbound, reset),
		cmocka_unit_test_setup(test_rule_wide_bundle_and_ipv6, reset),
		cmocka_unit_test_setup(test_metadata_bundle, reset),
		cmocka_unit_test_setup(test_soft_bundle_passes_both_ways, reset),
		cmocka_unit_test_setup(test_default_response_bundle, reset),
		cmocka_unit_test_setup(test_events, reset),
		cmocka_unit_test_setup(test_bundle_api, reset),
		cmocka_unit_test_setup(test_rule_index, reset),
		cmocka_unit_test_setup(test_policy_change_and_bundles, reset),
	};
	int rc;

	if (geteuid() != 0) {
		printf("needs root (bpffs, BPF programs): skipped\n");
		return 77;
	}
	if (dp_env_up(&E))
		return 1;
	if (dp_handoff_open(&H, E.dir, errbuf, sizeof(errbuf)) ||
	    dp_events_subscribe(&H, on_event, NULL, errbuf, sizeof(errbuf))) {
		fprintf(stderr, "%s\n", errbuf);
		dp_env_down(&E);
		return 1;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	dp_handoff_close(&H);
	dp_env_down(&E);
	return rc;
}
