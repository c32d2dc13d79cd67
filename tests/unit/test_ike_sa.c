// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_ike_sa.c - the IKE SA state machine, table-driven: two daemons in
 * one process (A initiates, B responds) exchange messages through queues
 * the test delivers, drops, repeats or forges; time is a fake clock.
 *
 * Each row of `scenarios` sets the daemons up, runs its steps, and lists
 * the counters (stats.h) each daemon must end with.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "daemon/daemon.h"
#include "sa/sa_log.h"
#include "sa/sa_ikesa.h"
#include "sa/sa_exchange.h"
#include "wire/wire_secrets.h"

/* ---- two daemons, a fake clock and a wire (ike_testbed.h) ----------------- */

#include "ike_testbed.h"

/* ---- set-up ------------------------------------------------------------------ */

static const char policy_a[] =
	"filter-lists:\n"
	"  b: { filters: [ { src: me, dst: 192.0.2.2 }, { src: me, dst: 2001:db8::2 } ] }\n"
	"filter-actions:\n"
	"  secure: { action: negotiate, methods: [ { esp: aes256gcm16 } ] }\n"
	"policies:\n"
	"  a:\n"
	"    ike: { proposals: [ PROPOSALS ] }\n"
	"    rules:\n"
	"      - { name: to-b, filter-list: b, action: secure, authentication: [ { psk: lab } ] }\n";

static const char policy_b[] =
	"filter-lists:\n"
	"  lab: { filters: [ { src: me, dst: 192.0.2.0/24 }, { src: me, dst: 2001:db8::/64 } ] }\n"
	"filter-actions:\n"
	"  secure: { action: negotiate, methods: [ { esp: aes256gcm16 } ] }\n"
	"policies:\n"
	"  b:\n"
	"    ike: { proposals: [ PROPOSALS ] }\n"
	"    rules:\n"
	"      - { name: lab-net, filter-list: lab, action: secure, authentication: [ { psk: lab } ] }\n";

#define DEFAULT_PROPOSALS "aes256gcm16-prfsha256-curve25519, aes128-sha256-modp2048"

static void set_policy(struct side *s, const char *tmpl, const char *props)
{
	const char *mark = strstr(tmpl, "PROPOSALS");
	char text[2048], err[512];

	assert_non_null(mark);
	snprintf(text, sizeof(text), "%.*s%s%s", (int)(mark - tmpl), tmpl,
		 props, mark + strlen("PROPOSALS"));
	peer_policy_free(s->d.policy);
	if (peer_policy_from_buffer("test.yaml", text, strlen(text),
				    &s->d.policy, err, sizeof(err)))
		fail_msg("policy: %s", err);
}

static void set_key(struct side *s, const char *key)
{
	char text[256], err[256];

	snprintf(text, sizeof(text), "lab = \"%s\"\n", key);
	secrets_free(s->d.secrets);
	if (secrets_parse("secrets", text, strlen(text), &s->d.secrets, err,
			  sizeof(err)))
		fail_msg("secrets: %s", err);
}

static void side_init(struct side *s, const char *a4, const char *a6,
		      const char *tmpl)
{
	side_on_wire(s, a4, a6);
	set_policy(s, tmpl, DEFAULT_PROPOSALS);
	set_key(s, "correct horse battery staple");
}

static int setup(void **state)
{
	now = 1000000;
	armed = NULL;
	nat = false;
	log_open(true, false, getenv("VERBOSE") == NULL);
	side_init(&A, "192.0.2.1", "2001:db8::1", policy_a);
	side_init(&B, "192.0.2.2", "2001:db8::2", policy_b);
	A.d.ikelogging = B.d.ikelogging = 2;
	return 0;
}

static int teardown(void **state)
{
	daemon_fini(&A.d);
	daemon_fini(&B.d);
	assert_null(armed);	/* every timer released */
	return 0;
}

/* ---- helpers of the scenarios ------------------------------------------------- */

static void initiate(const char *peer)
{
	struct sockaddr_storage ss;
	char err[256];
	uint64_t serial;

	assert_int_equal(addr_parse(peer, 500, &ss), 0);
	if (exch_init_start(&A.d, &ss, &serial, err, sizeof(err)))
		fail_msg("initiate: %s", err);
}

static struct ikesa *only_sa(struct side *s)
{
	size_t up, neg;
	struct sockaddr_storage peer;

	ikesa_count(&s->d, &up, &neg);
	assert_int_equal(up + neg, 1);
	addr_parse(s == &A ? B.addr4 : A.addr4, 0, &peer);
	return ikesa_find_peer(&s->d, &peer);
}

static size_t established(struct side *s)
{
	size_t up, neg;

	ikesa_count(&s->d, &up, &neg);
	return up;
}

static size_t negotiating(struct side *s)
{
	size_t up, neg;

	ikesa_count(&s->d, &up, &neg);
	return neg;
}

/* A and B negotiate over IPv4; both end up with the same IKE SA. */
static void establish(void)
{
	struct ikesa *a, *b;

	initiate(B.addr4);
	pump();
	assert_int_equal(established(&A), 1);
	assert_int_equal(established(&B), 1);
	a = only_sa(&A);
	b = only_sa(&B);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(a->ispi, b->ispi);
	assert_int_equal(a->rspi, b->rspi);
	assert_int_equal(A.outcomes_ok, 1);
}

/* An IKE_SA_INIT request as another initiator would send it. */
static size_t craft_init(uint8_t *buf, size_t cap, uint64_t ispi,
			 uint16_t group, const uint8_t *cookie,
			 size_t cookie_len)
{
	struct peer_conf pc = { .nprop = 1 };
	uint8_t pub[IKE_DH_MAX_LEN], nonce[32];
	struct ike_header h = { .ispi = ispi, .version = IKEV2_VERSION,
				.exchange = IKEV2_EXCH_IKE_SA_INIT,
				.flags = IKEV2_FLAG_INITIATOR };
	struct ike_notify nc = { .type = IKEV2_N_COOKIE, .data = cookie,
				 .len = cookie_len };
	struct ike_nonce ni = { nonce, sizeof(nonce) };
	struct ike_builder b;
	struct ike_sa offer;
	struct ike_dh *dh;
	struct ike_ke ke;
	size_t n = 0;

	pc.prop[0] = (struct peer_proposal){ IKEV2_ENCR_AES_GCM_16, 256, 0,
					     IKEV2_PRF_HMAC_SHA2_256, group };
	proposal_offer(&pc, &offer);
	memset(nonce, 0x5a, sizeof(nonce));
	assert_int_equal(ike_dh_new(group, &dh), IKE_CRYPTO_OK);
	assert_int_equal(ike_dh_public(dh, pub, sizeof(pub), &ke.len),
			 IKE_CRYPTO_OK);
	ike_dh_free(dh);
	ke.group = group;
	ke.data = pub;
	ike_build_message(&b, buf, cap, &h);
	if (cookie)
		ike_add_notify(&b, &nc);
	ike_add_sa(&b, &offer);
	ike_add_ke(&b, &ke);
	ike_add_nonce(&b, &ni);
	assert_int_equal(ike_build_finish(&b, &n), IKE_MSG_OK);
	return n;
}

/* Feed B a datagram from addr:port. */
static void to_b_from(const uint8_t *buf, size_t len, const char *addr,
		      uint16_t port)
{
	struct ike_dgram dg = { .buf = buf, .len = len };

	addr_parse(addr, port, &dg.path.peer);
	addr_parse(B.addr4, 500, &dg.path.local);
	daemon_input(&B.d, &dg);
}

/* A message from A's IKE SA to B, sealed with A's keys. */
static size_t forge_from_a(uint8_t *buf, size_t cap, uint8_t exchange,
			   bool response, uint32_t msgid)
{
	struct ikesa *a = only_sa(&A);
	static const uint8_t empty[1];
	struct ike_header h;
	size_t n = 0;

	ikesa_header(a, exchange, response, msgid, &h);
	assert_int_equal(ike_sk_seal(&a->keys, true, &h, IKEV2_PL_NONE, empty,
				     0, buf, cap, &n), IKE_CRYPTO_OK);
	return n;
}

static uint8_t cbuf[4096];

/* ---- the scenarios ----------------------------------------------------------------- */

/* A plain childless IKE SA, then A deletes it: gone on both sides. */
static void sc_establish_and_delete(void)
{
	struct ikesa *a;

	establish();
	a = only_sa(&A);
	assert_int_equal(a->state, IKESA_ESTABLISHED);
	assert_true(a->initial_contact);
	assert_null(a->child);
	assert_int_equal(a->keys.suite.dh, IKEV2_DH_CURVE25519);
	ikesa_want(&A.d, a, true, false);
	assert_int_equal(a->state, IKESA_DELETING);
	pump();
	assert_int_equal(established(&A), 0);
	assert_int_equal(established(&B), 0);
	advance(20000);		/* lingering SAs are freed */
}

/* Over IPv6 the same. */
static void sc_ipv6(void)
{
	initiate(B.addr6);
	pump();
	assert_int_equal(established(&A), 1);
	assert_int_equal(established(&B), 1);
}

/* B answers a repeated IKE_SA_INIT and IKE_AUTH from its cache, byte for
 * byte, and keeps one SA. */
static void sc_retransmit_answered_from_cache(void)
{
	struct pkt init, auth, r1, r2;

	initiate(B.addr4);
	assert_true(take(&A, &init));
	deliver_pkt(&A, &B, &init);
	deliver_pkt(&A, &B, &init);		/* the retransmission */
	assert_int_equal(B.nq, 2);
	assert_true(take(&B, &r1));
	assert_true(take(&B, &r2));
	assert_int_equal(r1.len, r2.len);
	assert_memory_equal(r1.buf, r2.buf, r1.len);
	deliver_pkt(&B, &A, &r1);		/* A sends IKE_AUTH */
	assert_true(take(&A, &auth));
	deliver_pkt(&A, &B, &auth);
	deliver_pkt(&A, &B, &auth);
	assert_int_equal(B.nq, 2);
	assert_true(take(&B, &r1));
	assert_true(take(&B, &r2));
	assert_memory_equal(r1.buf, r2.buf, r1.len);
	deliver_pkt(&B, &A, &r1);
	deliver_pkt(&B, &A, &r2);		/* a late duplicate */
	assert_int_equal(established(&A), 1);
	assert_int_equal(established(&B), 1);
}

/* B answers A's Delete and closes; the answer is lost.  B's SA is freed
 * once the callback returns, and what is left of it (a tomb) answers A's
 * retransmission from the cache for tun.linger_ms, drops anything else,
 * and is gone after that. */
static void sc_closed_sa_answers_from_tomb(void)
{
	struct pkt del, r1, r2;
	struct ike_header h;
	uint64_t b_serial;
	size_t n;

	establish();
	b_serial = only_sa(&B)->serial;
	ikesa_want(&A.d, only_sa(&A), true, false);
	assert_true(take(&A, &del));
	assert_int_equal(ike_msg_parse_header(del.buf, del.len, &h),
			 IKE_MSG_OK);
	deliver_pkt(&A, &B, &del);
	assert_true(take(&B, &r1));		/* lost */
	assert_int_equal(established(&B), 0);
	advance(0);
	assert_null(ikesa_find_serial(&B.d, b_serial));	/* freed */
	deliver_pkt(&A, &B, &del);		/* A's retransmission */
	assert_true(take(&B, &r2));
	assert_int_equal(r1.len, r2.len);
	assert_memory_equal(r1.buf, r2.buf, r1.len);
	/* another request for the closed SA is dropped, not answered */
	n = forge_from_a(cbuf, sizeof(cbuf), IKEV2_EXCH_INFORMATIONAL, false,
			 h.msgid + 1);
	to_b_from(cbuf, n, A.addr4, 500);
	assert_int_equal(B.nq, 0);
	deliver_pkt(&B, &A, &r2);
	assert_int_equal(established(&A), 0);
	advance(B.d.tun.linger_ms);		/* the tomb is gone */
	deliver_pkt(&A, &B, &del);
	assert_int_equal(B.nq, 1);		/* INVALID_IKE_SPI */
}

/* A's IKE_SA_INIT is lost again and again: 0.5, 1, 2, 4 s, then 8 s
 * later the negotiation fails. */
static void sc_retransmit_backoff_then_fail(void)
{
	static const uint64_t gaps[] = { 500, 1000, 2000, 4000 };
	size_t i;

	initiate(B.addr4);
	lose(&A);
	for (i = 0; i < 4; i++) {
		advance(gaps[i] - 1);
		assert_int_equal(A.nq, 0);
		advance(1);
		assert_int_equal(A.nq, 1);
		lose(&A);
	}
	advance(7999);
	assert_int_equal(negotiating(&A), 1);
	advance(1);
	assert_int_equal(negotiating(&A), 0);
	assert_int_equal(A.outcomes_failed, 1);
	assert_non_null(strstr(A.last_outcome, "no answer to IKE_SA_INIT"));
}

/* Requests outside the window and responses to nothing are dropped and
 * counted; the SA stays. */
static void sc_message_id_window(void)
{
	size_t n;

	establish();
	n = forge_from_a(cbuf, sizeof(cbuf), IKEV2_EXCH_INFORMATIONAL, false, 7);
	to_b_from(cbuf, n, A.addr4, 500);
	n = forge_from_a(cbuf, sizeof(cbuf), IKEV2_EXCH_INFORMATIONAL, false, 0);
	to_b_from(cbuf, n, A.addr4, 500);	/* long past */
	n = forge_from_a(cbuf, sizeof(cbuf), IKEV2_EXCH_INFORMATIONAL, true, 0);
	to_b_from(cbuf, n, A.addr4, 500);	/* B asked nothing */
	assert_int_equal(B.nq, 0);
	n = forge_from_a(cbuf, sizeof(cbuf), IKEV2_EXCH_INFORMATIONAL, false, 2);
	to_b_from(cbuf, n, A.addr4, 500);	/* in the window: answered */
	assert_int_equal(B.nq, 1);
	assert_int_equal(established(&B), 1);
}

/* The liveness check: an empty INFORMATIONAL, answered. */
static void sc_liveness(void)
{
	A.d.tun.liveness_s = 30;
	establish();
	advance(30000);
	assert_int_equal(A.nq, 1);
	pump();
	assert_int_equal(established(&A), 1);
	/* B goes away: A gives up after its retransmissions */
	advance(30000);
	while (A.nq)
		lose(&A);
	advance(500 + 1000 + 2000 + 4000);
	while (A.nq)
		lose(&A);
	advance(8000);
	assert_int_equal(established(&A), 0);
}

/* docs/behaviour.md §6: 35 negotiations at once per address without an IKE SA. */
static void sc_half_open_per_address(void)
{
	size_t i, n;

	for (i = 0; i < 36; i++) {
		n = craft_init(cbuf, sizeof(cbuf), 0x1000 + i,
			       IKEV2_DH_CURVE25519, NULL, 0);
		to_b_from(cbuf, n, "192.0.2.9", (uint16_t)(1000 + i));
	}
	assert_int_equal(ikesa_half_open_all(&B.d), 35);
	assert_int_equal(B.nq, 35);
	/* another address is not concerned */
	n = craft_init(cbuf, sizeof(cbuf), 0x2000, IKEV2_DH_CURVE25519, NULL, 0);
	to_b_from(cbuf, n, "192.0.2.10", 500);
	assert_int_equal(ikesa_half_open_all(&B.d), 36);
	/* they time out */
	advance(30000);
	assert_int_equal(ikesa_half_open_all(&B.d), 0);
}

/* B's answer to an IKE_SA_INIT crafted with ispi from 192.0.2.9: its KE
 * data (32 bytes: Curve25519) in ke. */
static void answer_ke(uint64_t ispi, uint8_t ke[32])
{
	struct ike_msg m;
	struct ike_ke k;
	struct pkt ans;
	size_t n;

	n = craft_init(cbuf, sizeof(cbuf), ispi, IKEV2_DH_CURVE25519, NULL, 0);
	to_b_from(cbuf, n, "192.0.2.9", (uint16_t)(ispi & 0xffff));
	assert_true(take(&B, &ans));
	assert_int_equal(ike_msg_parse(ans.buf, ans.len, &m), IKE_MSG_OK);
	assert_non_null(ike_msg_find(&m, IKEV2_PL_KE, NULL));
	assert_int_equal(ike_decode_ke(ike_msg_find(&m, IKEV2_PL_KE, NULL), &k),
			 IKE_MSG_OK);
	assert_int_equal(k.len, 32);
	memcpy(ke, k.data, 32);
}

/* RFC 7296 §2.12: the responder answers IKE_SA_INITs close together with
 * one D-H value, and forgets it as soon as one of the IKE SAs that used it
 * closes (forward secrecy), or when it is older than tun.dh_reuse_ms. */
static void sc_dh_shared_until_close(void)
{
	uint8_t k1[32], k2[32], k3[32], k4[32], k5[32], k6[32];
	struct sockaddr_storage peer;

	answer_ke(0x1001, k1);
	answer_ke(0x1002, k2);
	assert_memory_equal(k1, k2, 32);	/* shared */
	addr_parse("192.0.2.9", 0x1001, &peer);
	ikesa_close(&B.d, ikesa_find_init(&B.d, 0x1001, &peer), "test");
	answer_ke(0x1003, k3);
	assert_memory_not_equal(k1, k3, 32);	/* forgotten at the close */
	answer_ke(0x1004, k4);
	assert_memory_equal(k3, k4, 32);
	advance(B.d.tun.dh_reuse_ms);
	answer_ke(0x1005, k5);
	assert_memory_not_equal(k4, k5, 32);	/* too old */
	B.d.tun.dh_reuse_ms = 0;
	answer_ke(0x1006, k6);
	assert_memory_not_equal(k5, k6, 32);	/* off: fresh each time */
	answer_ke(0x1007, k1);
	assert_memory_not_equal(k6, k1, 32);
	assert_int_equal(B.d.dh_reuse.made, 5);
	assert_int_equal(B.d.dh_reuse.shared, 2);
}

/* The SA table grows past its first 1024 buckets: 3000 negotiations from
 * 100 addresses, each found again by its SPI, each answered, all gone
 * at the half-open timeout. */
static void sc_table_grows(void)
{
	struct sockaddr_storage peer;
	char addr[32];
	size_t i, n, answered = 0;

	B.d.tun.cookie_threshold = 100000;
	for (i = 0; i < 3000; i++) {
		snprintf(addr, sizeof(addr), "198.51.100.%zu", i % 100 + 1);
		n = craft_init(cbuf, sizeof(cbuf), 0x77000000u + i,
			       IKEV2_DH_CURVE25519, NULL, 0);
		to_b_from(cbuf, n, addr, (uint16_t)(1000 + i));
		while (take(&B, &scratch))
			answered++;
	}
	assert_int_equal(ikesa_half_open_all(&B.d), 3000);
	assert_int_equal(answered, 3000);
	for (i = 0; i < 3000; i++) {
		snprintf(addr, sizeof(addr), "198.51.100.%zu", i % 100 + 1);
		addr_parse(addr, (uint16_t)(1000 + i), &peer);
		if (!ikesa_find_init(&B.d, 0x77000000u + i, &peer))
			fail_msg("negotiation %zu not found", i);
		assert_int_equal(ikesa_half_open(&B.d, &peer, true), 1);
	}
	advance(30000);
	assert_int_equal(ikesa_half_open_all(&B.d), 0);
}

/* The settings tests shorten through the environment: a good value is
 * taken, a bad one (not a number, out of range) keeps the default. */
static void sc_tunables_from_env(void)
{
	static struct daemon d;
	static const struct { const char *v; uint32_t want; } cases[] = {
		{ "600", 600 }, { "199", FRAGMENT_SIZE_DEFAULT },
		{ "65536", FRAGMENT_SIZE_DEFAULT }, { "12x", FRAGMENT_SIZE_DEFAULT },
		{ "", FRAGMENT_SIZE_DEFAULT },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		setenv("IPSEC_XDPD_FRAGMENT_SIZE", cases[i].v, 1);
		setenv("IPSEC_XDPD_CHILD_IDLE", cases[i].v, 1);
		daemon_init(&d);
		if (d.tun.fragment_size != cases[i].want)
			fail_msg("IPSEC_XDPD_FRAGMENT_SIZE=%s: %u", cases[i].v,
				 d.tun.fragment_size);
		assert_int_equal(d.tun.child_idle_s,
				 i == 0 ? 600 : i == 1 ? 199 :
				 i == 2 ? 65536 : CHILD_IDLE_S);
		daemon_fini(&d);
	}
	unsetenv("IPSEC_XDPD_FRAGMENT_SIZE");
	unsetenv("IPSEC_XDPD_CHILD_IDLE");
}

/* docs/behaviour.md §6: 5 per address and port when that address has an IKE SA. */
static void sc_half_open_with_sa(void)
{
	size_t i, n;

	establish();
	for (i = 0; i < 6; i++) {
		n = craft_init(cbuf, sizeof(cbuf), 0x3000 + i,
			       IKEV2_DH_CURVE25519, NULL, 0);
		to_b_from(cbuf, n, A.addr4, 500);
	}
	assert_int_equal(ikesa_half_open_all(&B.d), 5);
	n = craft_init(cbuf, sizeof(cbuf), 0x4000, IKEV2_DH_CURVE25519, NULL, 0);
	to_b_from(cbuf, n, A.addr4, 501);	/* another port */
	assert_int_equal(ikesa_half_open_all(&B.d), 6);
}

/* Under load B asks for a cookie; A comes back with it and gets its SA;
 * a wrong cookie is counted and answered with a fresh one. */
static void sc_cookie_round_trip(void)
{
	struct pkt ans;
	struct ike_msg m;
	struct ike_notify n;
	uint8_t bogus[36];
	size_t len;

	B.d.tun.cookie_threshold = 0;
	initiate(B.addr4);
	deliver(&A);
	assert_int_equal(ikesa_half_open_all(&B.d), 0);	/* no state */
	assert_true(take(&B, &ans));
	assert_int_equal(ike_msg_parse(ans.buf, ans.len, &m), IKE_MSG_OK);
	assert_int_equal(ike_msg_find_notify(&m, IKEV2_N_COOKIE, &n), IKE_MSG_OK);
	assert_int_equal(m.hdr.rspi, 0);
	deliver_pkt(&B, &A, &ans);		/* A again, with the cookie */
	pump();
	assert_int_equal(established(&A), 1);
	assert_int_equal(established(&B), 1);

	memset(bogus, 0x11, sizeof(bogus));
	len = craft_init(cbuf, sizeof(cbuf), 0x5000, IKEV2_DH_CURVE25519,
			 bogus, sizeof(bogus));
	to_b_from(cbuf, len, "192.0.2.50", 500);
	assert_true(take(&B, &ans));
	assert_int_equal(ike_msg_parse(ans.buf, ans.len, &m), IKE_MSG_OK);
	assert_int_equal(ike_msg_find_notify(&m, IKEV2_N_COOKIE, &n), IKE_MSG_OK);
}

/* A guesses the wrong group; B asks for its own; A starts again. */
static void sc_invalid_ke_retry(void)
{
	struct ikesa *a;

	set_policy(&A, policy_a, "aes256gcm16-prfsha256-curve25519, "
				 "aes256gcm16-prfsha256-ecp256");
	set_policy(&B, policy_b, "aes256gcm16-prfsha256-ecp256");
	establish();
	a = only_sa(&A);
	assert_int_equal(a->keys.suite.dh, IKEV2_DH_ECP_256);
	assert_int_equal(a->init_restarts, 1);
}

/* No proposal in common: refused, counted on both sides. */
static void sc_no_proposal(void)
{
	set_policy(&A, policy_a, "aes128-sha512-modp2048");
	set_policy(&B, policy_b, "aes256gcm16-prfsha256-curve25519");
	initiate(B.addr4);
	pump();
	assert_int_equal(established(&A), 0);
	assert_int_equal(A.outcomes_failed, 1);
	assert_non_null(strstr(A.last_outcome, "NO_PROPOSAL_CHOSEN"));
}

/* A wrong pre-shared key: B refuses A's AUTH and counts it. */
static void sc_wrong_psk(void)
{
	set_key(&A, "a different key");
	initiate(B.addr4);
	pump();
	assert_int_equal(established(&A), 0);
	assert_int_equal(established(&B), 0);
	assert_int_equal(A.outcomes_failed, 1);
	assert_non_null(strstr(A.last_outcome, "authentication failed"));
}

/* Garbage, a bad version, a truncated message, an unknown SPI: each
 * dropped and counted, nothing answered but INVALID_IKE_SPI and the
 * RFC 7296 §2.5 notifies. */
static void sc_malformed(void)
{
	uint8_t junk[64];
	size_t n;

	memset(junk, 0xab, sizeof(junk));
	to_b_from(junk, 10, A.addr4, 500);		/* short */
	n = craft_init(cbuf, sizeof(cbuf), 0x6000, IKEV2_DH_CURVE25519, NULL, 0);
	cbuf[17] = 0x30;				/* IKE version 3 */
	to_b_from(cbuf, n, A.addr4, 500);
	cbuf[17] = IKEV2_VERSION;
	to_b_from(cbuf, n - 5, A.addr4, 500);		/* truncated */
	cbuf[29] = 0x80;		/* first payload critical... */
	cbuf[16] = 200;			/* ...and of an unknown type */
	to_b_from(cbuf, n, A.addr4, 500);
	/* INVALID_MAJOR_VERSION and UNSUPPORTED_CRITICAL_PAYLOAD answers
	 * (test_ike_errors.c looks at them) */
	assert_int_equal(B.nq, 2);
	B.nq = 0;
	establish();
	n = forge_from_a(cbuf, sizeof(cbuf), IKEV2_EXCH_INFORMATIONAL, false, 2);
	cbuf[0] ^= 1;					/* another SPIi */
	to_b_from(cbuf, n, A.addr4, 500);
	assert_int_equal(B.nq, 1);			/* INVALID_IKE_SPI */
	n = forge_from_a(cbuf, sizeof(cbuf), IKEV2_EXCH_INFORMATIONAL, false, 2);
	cbuf[n - 1] ^= 1;				/* ICV broken */
	to_b_from(cbuf, n, A.addr4, 500);
	assert_int_equal(B.nq, 1);
	assert_int_equal(established(&B), 1);
}

/* A NAT rewrites A's ports: both sides see it, A moves to 4500. */
static void sc_nat_traversal(void)
{
	struct ikesa *a, *b;

	nat = true;
	establish();
	a = only_sa(&A);
	b = only_sa(&B);
	assert_true(a->nat_local);
	assert_true(a->natt);
	assert_int_equal(addr_port(&a->path.peer), 4500);
	assert_true(b->nat_peer);
	assert_true(b->natt);
	assert_int_equal(addr_port(&b->path.peer), 40001);
	ikesa_want(&A.d, a, true, false);
	pump();
	assert_int_equal(established(&B), 0);
}

/* B has no rule for an address and default response is off. */
static void sc_no_policy(void)
{
	static const char closed[] =
		"filter-lists:\n  x: { filters: [ { src: me, dst: 198.51.100.7 } ] }\n"
		"filter-actions:\n  s: { action: negotiate }\n"
		"policies:\n  p:\n    default-response: no\n    rules:\n"
		"      - { name: r, filter-list: x, action: s, authentication: [ { psk: lab } ] }\n";
	char err[256];
	size_t n;

	peer_policy_free(B.d.policy);
	assert_int_equal(peer_policy_from_buffer("p", closed, strlen(closed),
						 &B.d.policy, err, sizeof(err)), 0);
	n = craft_init(cbuf, sizeof(cbuf), 0x7000, IKEV2_DH_CURVE25519, NULL, 0);
	to_b_from(cbuf, n, A.addr4, 500);
	assert_int_equal(B.nq, 0);
}

/* The peer asks for a CHILD SA, which is not there yet: the IKE SA comes
 * up and the CHILD SA part is refused (RFC 7296 §1.2). */
static bool ask_child(struct daemon *d, struct ikesa *sa, struct ike_builder *b)
{
	struct ike_ts_set ts = { .nts = 1 };
	struct ike_sa sa2 = { .nproposals = 1 };

	sa2.prop[0] = (struct ike_proposal){ .num = 1,
		.protocol = IKEV2_PROTO_ESP, .spi_size = 4, .spi = { 1, 2, 3, 4 },
		.ntransforms = 1,
		.xf = { { IKEV2_XFORM_ENCR, IKEV2_ENCR_AES_GCM_16, 256, false } } };
	ts.ts[0] = (struct ike_ts){ .type = IKEV2_TS_IPV4_ADDR_RANGE,
				    .end_port = 65535,
				    .end = { 255, 255, 255, 255 } };
	ike_add_sa(b, &sa2);
	ike_add_ts(b, IKEV2_PL_TSI, &ts);
	ike_add_ts(b, IKEV2_PL_TSR, &ts);
	return true;
}

static const struct child_hooks child_asker = { .auth_request = ask_child };

static void sc_child_requested(void)
{
	A.d.child = &child_asker;
	establish();
}

/* A calls itself by an FQDN; B answers by its default response and finds
 * the key under that name (no rule of B names A). */
static void sc_fqdn_default_response(void)
{
	static const char open_policy[] =
		"policies:\n  b:\n    ike: { proposals: [ PROPOSALS ] }\n";
	char err[256];
	static const char keys[] =
		"other = \"unrelated\"\n"
		"a.example.com = \"correct horse battery staple\"\n";
	struct ikesa *b;
	char id[300];

	snprintf(A.d.local_fqdn, sizeof(A.d.local_fqdn), "a.example.com");
	set_policy(&B, open_policy, DEFAULT_PROPOSALS);
	secrets_free(B.d.secrets);
	assert_int_equal(secrets_parse("s", keys, strlen(keys), &B.d.secrets,
				       err, sizeof(err)), 0);
	establish();
	b = only_sa(&B);
	assert_string_equal(ident_str(&b->peer_id, id, sizeof(id)),
			    "fqdn:a.example.com");
	assert_string_equal(b->conf.rule, "default-response");
	assert_string_equal(b->psk_id, "a.example.com");
}

/* ---- the table ---------------------------------------------------------------------- */

struct expect {
	char side;		/* 'A' or 'B' */
	enum ike_stat stat;
	uint64_t value;
};

struct scenario {
	const char *name;
	void (*run)(void);
	struct expect exp[12];
};

#define E(s, st, v) { s, st, v }

static const struct scenario scenarios[] = {
	{ "establish, then Delete from the initiator", sc_establish_and_delete, {
		E('A', ST_NEG_TOTAL, 1), E('B', ST_NEG_TOTAL, 1),
		E('A', ST_IKE_SA_ESTABLISHED, 1), E('B', ST_IKE_SA_ESTABLISHED, 1),
		E('A', ST_IKE_SA_DELETED, 1), E('B', ST_IKE_SA_DELETED, 1),
		E('A', ST_NEG_FAILED, 0), E('B', ST_DROP_MALFORMED, 0) } },
	{ "IPv6", sc_ipv6, {
		E('A', ST_IKE_SA_ESTABLISHED, 1), E('B', ST_IKE_SA_ESTABLISHED, 1) } },
	{ "retransmissions answered from the cached response",
	  sc_retransmit_answered_from_cache, {
		E('B', ST_RESPONSES_RESENT, 2), E('B', ST_NEG_TOTAL, 1),
		E('A', ST_DROP_UNEXPECTED_RESPONSE, 1),
		E('A', ST_IKE_SA_ESTABLISHED, 1) } },
	{ "a closed SA answers a retransmission from its tomb, then is gone",
	  sc_closed_sa_answers_from_tomb, {
		E('B', ST_RESPONSES_RESENT, 1), E('B', ST_DROP_SA_CLOSED, 1),
		E('B', ST_DROP_UNKNOWN_SPI, 1), E('B', ST_INVALID_SPI_SENT, 1),
		E('A', ST_IKE_SA_DELETED, 1), E('B', ST_IKE_SA_DELETED, 1) } },
	{ "retransmission backoff, then failure", sc_retransmit_backoff_then_fail, {
		E('A', ST_RETRANSMITS, 4), E('A', ST_PEER_TIMEOUTS, 1),
		E('A', ST_NEG_FAILED, 1), E('A', ST_MESSAGES_SENT, 5) } },
	{ "message IDs outside the window", sc_message_id_window, {
		E('B', ST_DROP_MSGID_WINDOW, 2),
		E('B', ST_DROP_UNEXPECTED_RESPONSE, 1),
		E('B', ST_IKE_SA_DELETED, 0) } },
	{ "liveness check answered, then the peer is gone", sc_liveness, {
		E('A', ST_LIVENESS_CHECKS, 2), E('A', ST_PEER_TIMEOUTS, 1),
		E('A', ST_IKE_SA_DELETED, 1), E('B', ST_IKE_SA_DELETED, 0) } },
	{ "half-open limit per address (35)", sc_half_open_per_address, {
		E('B', ST_DROP_HALF_OPEN_LIMIT, 1), E('B', ST_NEG_TOTAL, 36),
		E('B', ST_NEG_FAILED, 36), E('B', ST_PEER_TIMEOUTS, 36) } },
	{ "responder D-H value shared until an IKE SA using it closes",
	  sc_dh_shared_until_close, {
		E('B', ST_NEG_TOTAL, 7), E('B', ST_NEG_FAILED, 1) } },
	{ "the SA table grows: 3000 negotiations found by SPI",
	  sc_table_grows, {
		E('B', ST_NEG_TOTAL, 3000), E('B', ST_PEER_TIMEOUTS, 3000) } },
	{ "tunables from the environment, bad values refused",
	  sc_tunables_from_env, { E('B', ST_NEG_TOTAL, 0) } },
	{ "half-open limit per address and port with an IKE SA (5)",
	  sc_half_open_with_sa, {
		E('B', ST_DROP_HALF_OPEN_LIMIT, 1), E('B', ST_NEG_TOTAL, 7) } },
	{ "cookie round trip", sc_cookie_round_trip, {
		E('B', ST_COOKIES_SENT, 2), E('B', ST_INVALID_COOKIES, 1),
		E('B', ST_IKE_SA_ESTABLISHED, 1), E('B', ST_NEG_TOTAL, 1) } },
	{ "INVALID_KE_PAYLOAD, then again with the group asked for",
	  sc_invalid_ke_retry, {
		E('B', ST_INVALID_KE_SENT, 1), E('A', ST_INVALID_KE_RECEIVED, 1),
		E('B', ST_NEG_TOTAL, 1), E('A', ST_NEG_FAILED, 0),
		E('B', ST_IKE_SA_ESTABLISHED, 1) } },
	{ "no proposal chosen", sc_no_proposal, {
		E('B', ST_NO_PROPOSAL_CHOSEN, 1), E('B', ST_NEG_FAILED, 1),
		E('A', ST_NO_PROPOSAL_CHOSEN, 1), E('A', ST_NEG_FAILED, 1) } },
	{ "wrong pre-shared key: an authentication failure", sc_wrong_psk, {
		E('B', ST_AUTH_FAILURES, 1), E('B', ST_NEG_FAILED, 1),
		E('A', ST_AUTH_FAILURES, 1), E('A', ST_NEG_FAILED, 1),
		E('B', ST_IKE_SA_ESTABLISHED, 0) } },
	{ "malformed and unknown messages dropped and counted", sc_malformed, {
		E('B', ST_DROP_MALFORMED, 3), E('B', ST_DROP_BAD_VERSION, 1),
		E('B', ST_DROP_UNKNOWN_SPI, 1), E('B', ST_INVALID_SPI_SENT, 1),
		E('B', ST_DROP_INTEGRITY, 1), E('B', ST_NEG_TOTAL, 1) } },
	{ "NAT traversal", sc_nat_traversal, {
		E('A', ST_IKE_SA_ESTABLISHED, 1), E('B', ST_IKE_SA_DELETED, 1) } },
	{ "no rule and no default response", sc_no_policy, {
		E('B', ST_DROP_NO_POLICY, 1), E('B', ST_NEG_TOTAL, 0) } },
	{ "FQDN identity, default response, key by identity",
	  sc_fqdn_default_response, {
		E('A', ST_IKE_SA_ESTABLISHED, 1), E('B', ST_IKE_SA_ESTABLISHED, 1),
		E('B', ST_AUTH_FAILURES, 0) } },
	{ "a CHILD SA asked for: IKE SA up, CHILD SA refused",
	  sc_child_requested, {
		E('A', ST_IKE_SA_ESTABLISHED, 1), E('B', ST_IKE_SA_ESTABLISHED, 1) } },
};

static void run_scenario(void **state)
{
	const struct scenario *sc = *state;
	size_t i;

	sc->run();
	for (i = 0; i < sizeof(sc->exp) / sizeof(sc->exp[0]); i++) {
		const struct expect *e = &sc->exp[i];
		struct side *s = e->side == 'A' ? &A : &B;

		if (!e->side)
			break;
		if (s->d.stats.v[e->stat] != e->value)
			fail_msg("%s: %c %s = %llu, expected %llu", sc->name,
				 e->side, stats_name(e->stat),
				 (unsigned long long)s->d.stats.v[e->stat],
				 (unsigned long long)e->value);
	}
}

int main(void)
{
	enum { N = sizeof(scenarios) / sizeof(scenarios[0]) };
	struct CMUnitTest tests[N];
	size_t i;

	for (i = 0; i < N; i++) {
		tests[i] = (struct CMUnitTest)cmocka_unit_test_prestate_setup_teardown(
			run_scenario, setup, teardown, (void *)&scenarios[i]);
		tests[i].name = scenarios[i].name;
	}
	return _cmocka_run_group_tests("ike_sa", tests, N, NULL, NULL);
}
