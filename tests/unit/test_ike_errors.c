// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_ike_errors.c - the answers RFC 7296 §2.5 asks for, through two
 * daemons in one process (ike_testbed.h): a request with a major version
 * above 2 gets INVALID_MAJOR_VERSION (unprotected, rate limited); a
 * request with an unknown payload marked critical gets
 * UNSUPPORTED_CRITICAL_PAYLOAD naming its type (unprotected in
 * IKE_SA_INIT, inside the Encrypted payload of an IKE SA).  Each answer is
 * counted, each refused message is counted as dropped, and an established
 * IKE SA survives them all.
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

#include "wire/wire_crypto.h"
#include "daemon/daemon.h"
#include "sa/sa_log.h"
#include "sa/sa_ikesa.h"
#include "sa/sa_exchange.h"
#include "wire/wire_secrets.h"

#include "ike_testbed.h"

#define UNKNOWN_TYPE 200	/* no IKEv2 payload has this type */

static const char policy_a[] =
	"filter-lists:\n"
	"  b: { filters: [ { src: me, dst: 192.0.2.2 } ] }\n"
	"filter-actions:\n"
	"  secure: { action: negotiate, methods: [ { esp: aes256gcm16 } ] }\n"
	"policies:\n"
	"  a:\n"
	"    ike: { proposals: [ aes256gcm16-prfsha256-curve25519 ] }\n"
	"    rules:\n"
	"      - { name: to-b, filter-list: b, action: secure, authentication: [ { psk: lab } ] }\n";

static const char policy_b[] =
	"filter-lists:\n"
	"  lab: { filters: [ { src: me, dst: 192.0.2.0/24 } ] }\n"
	"filter-actions:\n"
	"  secure: { action: negotiate, methods: [ { esp: aes256gcm16 } ] }\n"
	"policies:\n"
	"  b:\n"
	"    ike: { proposals: [ aes256gcm16-prfsha256-curve25519 ] }\n"
	"    rules:\n"
	"      - { name: lab-net, filter-list: lab, action: secure, authentication: [ { psk: lab } ] }\n";

static void side_init(struct side *s, const char *a4, const char *policy)
{
	char err[512];
	static const char key[] = "lab = \"correct horse battery staple\"\n";

	side_on_wire(s, a4, "2001:db8::99");
	if (peer_policy_from_buffer("test.yaml", policy, strlen(policy),
				    &s->d.policy, err, sizeof(err)))
		fail_msg("policy: %s", err);
	if (secrets_parse("secrets", key, strlen(key), &s->d.secrets, err,
			  sizeof(err)))
		fail_msg("secrets: %s", err);
}

static int setup(void **state)
{
	now = 1000000;
	armed = NULL;
	nat = false;
	log_open(true, false, getenv("VERBOSE") == NULL);
	side_init(&A, "192.0.2.1", policy_a);
	side_init(&B, "192.0.2.2", policy_b);
	return 0;
}

static int teardown(void **state)
{
	daemon_fini(&A.d);
	daemon_fini(&B.d);
	assert_null(armed);
	return 0;
}

/* ---- crafting ------------------------------------------------------------------ */

static uint8_t cbuf[4096];

static void to_b(const uint8_t *buf, size_t len)
{
	struct ike_dgram dg = { .buf = buf, .len = len };

	addr_parse(A.addr4, 500, &dg.path.peer);
	addr_parse(B.addr4, 500, &dg.path.local);
	daemon_input(&B.d, &dg);
}

/* An IKE_SA_INIT request a peer would send; with `extra`, one more
 * payload of UNKNOWN_TYPE (critical or not) after the nonce. */
static size_t craft_init(uint64_t ispi, bool extra, bool critical)
{
	struct peer_conf pc = { .nprop = 1 };
	uint8_t pub[IKE_DH_MAX_LEN], nonce[32], body[8] = { 1, 2, 3 };
	struct ike_header h = { .ispi = ispi, .version = IKEV2_VERSION,
				.exchange = IKEV2_EXCH_IKE_SA_INIT,
				.flags = IKEV2_FLAG_INITIATOR };
	struct ike_nonce ni = { nonce, sizeof(nonce) };
	struct ike_builder b;
	struct ike_sa offer;
	struct ike_dh *dh;
	struct ike_ke ke = { .group = IKEV2_DH_CURVE25519, .data = pub };
	size_t n = 0;

	pc.prop[0] = (struct peer_proposal){ IKEV2_ENCR_AES_GCM_16, 256, 0,
					     IKEV2_PRF_HMAC_SHA2_256,
					     IKEV2_DH_CURVE25519 };
	proposal_offer(&pc, &offer);
	memset(nonce, 0x5a, sizeof(nonce));
	assert_int_equal(ike_dh_new(IKEV2_DH_CURVE25519, &dh), IKE_CRYPTO_OK);
	assert_int_equal(ike_dh_public(dh, pub, sizeof(pub), &ke.len),
			 IKE_CRYPTO_OK);
	ike_dh_free(dh);
	ike_build_message(&b, cbuf, sizeof(cbuf), &h);
	ike_add_sa(&b, &offer);
	ike_add_ke(&b, &ke);
	ike_add_nonce(&b, &ni);
	if (extra)
		ike_add_raw(&b, UNKNOWN_TYPE, critical, body, sizeof(body));
	assert_int_equal(ike_build_finish(&b, &n), IKE_MSG_OK);
	return n;
}

/* A header-only message with this version byte and flags. */
static size_t craft_header(uint8_t version, uint8_t flags, uint8_t exchange,
			   uint64_t rspi, uint32_t msgid)
{
	struct ike_header h = { .ispi = 0x1122334455667788ull, .rspi = rspi,
				.version = IKEV2_VERSION, .exchange = exchange,
				.flags = flags, .msgid = msgid };
	struct ike_builder b;
	size_t n = 0;

	ike_build_message(&b, cbuf, sizeof(cbuf), &h);
	assert_int_equal(ike_build_finish(&b, &n), IKE_MSG_OK);
	cbuf[17] = version;
	return n;
}

static struct ike_msg answer;

/* B's only queued message, parsed (unprotected). */
static const struct ike_msg *b_answer(void)
{
	static struct pkt p;

	assert_int_equal(B.nq, 1);
	assert_true(take(&B, &p));
	assert_int_equal(ike_msg_parse(p.buf, p.len, &answer), IKE_MSG_OK);
	return &answer;
}

static size_t established(struct side *s)
{
	size_t up, neg;

	ikesa_count(&s->d, &up, &neg);
	return up;
}

static struct ikesa *sa_of(struct side *s, const char *peer)
{
	struct sockaddr_storage ss;

	addr_parse(peer, 0, &ss);
	return ikesa_find_peer(&s->d, &ss);
}

static void establish(void)
{
	struct sockaddr_storage ss;
	char err[256];
	uint64_t serial;

	assert_int_equal(addr_parse(B.addr4, 500, &ss), 0);
	if (exch_init_start(&A.d, &ss, &serial, err, sizeof(err)))
		fail_msg("initiate: %s", err);
	pump();
	assert_int_equal(established(&A), 1);
	assert_int_equal(established(&B), 1);
}

/* ---- INVALID_MAJOR_VERSION ------------------------------------------------------- */

static void test_major_version_answered(void **state)
{
	const struct ike_msg *m;
	struct ike_notify n;
	size_t len = craft_init(0xabcdef0012345678ull, false, false);

	cbuf[17] = 0x30;				/* IKE 3.0 */
	to_b(cbuf, len);
	m = b_answer();
	assert_int_equal(m->hdr.version, IKEV2_VERSION);	/* ours, §2.5 */
	assert_int_equal(m->hdr.ispi, 0xabcdef0012345678ull);
	assert_int_equal(m->hdr.rspi, 0);
	assert_int_equal(m->hdr.msgid, 0);
	assert_int_equal(m->hdr.exchange, IKEV2_EXCH_IKE_SA_INIT);
	assert_int_equal(m->hdr.flags, IKEV2_FLAG_RESPONSE);
	assert_int_equal(m->sk_index, IKE_MSG_NO_SK);	/* unprotected */
	assert_int_equal(ike_msg_find_notify(m, IKEV2_N_INVALID_MAJOR_VERSION,
					     &n), IKE_MSG_OK);
	assert_int_equal(B.d.stats.v[ST_INVALID_MAJOR_SENT], 1);
	assert_int_equal(B.d.stats.v[ST_DROP_BAD_VERSION], 1);
	assert_int_equal(B.d.stats.v[ST_NEG_TOTAL], 0);	/* no state made */
}

/* Not answered: a response, IKEv1 (major 1), a datagram shorter than a
 * header.  Counted as dropped all the same. */
static void test_major_version_not_answered(void **state)
{
	size_t len = craft_header(0x30, IKEV2_FLAG_RESPONSE,
				  IKEV2_EXCH_IKE_SA_INIT, 0, 0);

	to_b(cbuf, len);
	len = craft_header(0x10, 0, 34 /* IKEv1 main mode */, 0, 0);
	to_b(cbuf, len);
	len = craft_header(0x30, IKEV2_FLAG_INITIATOR, IKEV2_EXCH_IKE_SA_INIT,
			   0, 0);
	to_b(cbuf, 20);
	assert_int_equal(B.nq, 0);
	assert_int_equal(B.d.stats.v[ST_INVALID_MAJOR_SENT], 0);
	assert_int_equal(B.d.stats.v[ST_DROP_BAD_VERSION], 2);
	assert_int_equal(B.d.stats.v[ST_DROP_MALFORMED], 1);
}

/* A flood gets at most invalid_spi_per_s answers a second. */
static void test_major_version_rate_limited(void **state)
{
	size_t len = craft_header(0x30, IKEV2_FLAG_INITIATOR,
				  IKEV2_EXCH_IKE_SA_INIT, 0, 0);
	uint32_t limit = B.d.tun.invalid_spi_per_s;

	assert_true(limit > 0 && limit < 50);
	for (uint32_t i = 0; i < limit + 20; i++)
		to_b(cbuf, len);
	assert_int_equal(B.nq, limit);
	assert_int_equal(B.d.stats.v[ST_INVALID_MAJOR_SENT], limit);
	assert_int_equal(B.d.stats.v[ST_DROP_BAD_VERSION], limit + 20);
	advance(1000);
	to_b(cbuf, len);
	assert_int_equal(B.d.stats.v[ST_INVALID_MAJOR_SENT], limit + 1);
}

/* An established IKE SA is untouched by version 3 messages with its SPIs. */
static void test_major_version_keeps_sa(void **state)
{
	struct ikesa *b;
	size_t len;

	establish();
	b = sa_of(&B, A.addr4);
	assert_non_null(b);
	len = craft_header(0x30, IKEV2_FLAG_INITIATOR,
			   IKEV2_EXCH_INFORMATIONAL, b->rspi, 2);
	memcpy(cbuf, &(uint64_t){ htobe64(b->ispi) }, 8);
	to_b(cbuf, len);
	assert_int_equal(B.d.stats.v[ST_INVALID_MAJOR_SENT], 1);
	B.nq = 0;
	assert_int_equal(established(&B), 1);
	assert_ptr_equal(sa_of(&B, A.addr4), b);
	assert_int_equal(b->state, IKESA_ESTABLISHED);
}

/* ---- UNSUPPORTED_CRITICAL_PAYLOAD ------------------------------------------------ */

static void test_critical_in_init_answered(void **state)
{
	const struct ike_msg *m;
	struct ike_notify n;
	size_t len = craft_init(0x0102030405060708ull, true, true);

	to_b(cbuf, len);
	m = b_answer();
	assert_int_equal(m->hdr.ispi, 0x0102030405060708ull);
	assert_int_equal(m->hdr.flags, IKEV2_FLAG_RESPONSE);
	assert_int_equal(m->hdr.exchange, IKEV2_EXCH_IKE_SA_INIT);
	assert_int_equal(ike_msg_find_notify(m, IKEV2_N_UNSUPPORTED_CRITICAL_PAYLOAD,
					     &n), IKE_MSG_OK);
	assert_int_equal(n.len, 1);
	assert_int_equal(n.data[0], UNKNOWN_TYPE);	/* names the type */
	assert_null(ike_msg_find(m, IKEV2_PL_SA, NULL));	/* nothing else */
	assert_int_equal(B.d.stats.v[ST_UNSUPPORTED_CRITICAL_SENT], 1);
	assert_int_equal(B.d.stats.v[ST_DROP_MALFORMED], 1);
	assert_int_equal(B.d.stats.v[ST_NEG_TOTAL], 0);
}

/* The same payload without the critical bit is skipped (§2.5): B answers
 * with its SA, KE and nonce. */
static void test_noncritical_unknown_ignored(void **state)
{
	const struct ike_msg *m;
	size_t len = craft_init(0x0102030405060708ull, true, false);

	to_b(cbuf, len);
	m = b_answer();
	assert_non_null(ike_msg_find(m, IKEV2_PL_SA, NULL));
	assert_non_null(ike_msg_find(m, IKEV2_PL_KE, NULL));
	assert_int_equal(B.d.stats.v[ST_UNSUPPORTED_CRITICAL_SENT], 0);
	assert_int_equal(B.d.stats.v[ST_NEG_TOTAL], 1);
}

/* Outside IKE_SA_INIT, an unprotected message cannot prove it belongs to
 * the IKE SA it names: dropped, never answered in the clear. */
static void test_critical_outside_init_not_answered(void **state)
{
	struct ike_header h = { .ispi = 7, .rspi = 9, .version = IKEV2_VERSION,
				.exchange = IKEV2_EXCH_INFORMATIONAL,
				.flags = IKEV2_FLAG_INITIATOR, .msgid = 1 };
	static const uint8_t body[4];
	struct ike_builder b;
	size_t len = 0;

	ike_build_message(&b, cbuf, sizeof(cbuf), &h);
	ike_add_raw(&b, UNKNOWN_TYPE, true, body, sizeof(body));
	assert_int_equal(ike_build_finish(&b, &len), IKE_MSG_OK);
	to_b(cbuf, len);
	assert_int_equal(B.nq, 0);
	assert_int_equal(B.d.stats.v[ST_UNSUPPORTED_CRITICAL_SENT], 0);
	assert_int_equal(B.d.stats.v[ST_DROP_MALFORMED], 1);
}

/* Inside the Encrypted payload of the IKE SA: answered protected with the
 * type, and the IKE SA stays up. */
static void test_critical_in_sk_answered(void **state)
{
	uint8_t inner[16] = { 0, 0x80, 0, 8, 0xde, 0xad, 0xbe, 0xef };
	uint8_t plain[512];
	struct ike_header h;
	struct ike_notify n;
	struct ikesa *a;
	struct pkt p;
	size_t len = 0, plen = 0;

	establish();
	a = sa_of(&A, B.addr4);
	ikesa_header(a, IKEV2_EXCH_INFORMATIONAL, false, a->req_next, &h);
	assert_int_equal(ike_sk_seal(&a->keys, true, &h, UNKNOWN_TYPE, inner, 8,
				     cbuf, sizeof(cbuf), &len), IKE_CRYPTO_OK);
	to_b(cbuf, len);
	assert_int_equal(B.nq, 1);
	assert_true(take(&B, &p));
	assert_int_equal(ike_msg_parse(p.buf, p.len, &answer), IKE_MSG_OK);
	assert_true(answer.hdr.flags & IKEV2_FLAG_RESPONSE);
	assert_int_equal(answer.hdr.msgid, h.msgid);
	assert_int_equal(ike_sk_open(&a->keys, false, &answer, plain,
				     sizeof(plain), &plen), IKE_CRYPTO_OK);
	assert_int_equal(ike_msg_add_decrypted(&answer, plain, plen), IKE_MSG_OK);
	assert_int_equal(ike_msg_find_notify(&answer,
					     IKEV2_N_UNSUPPORTED_CRITICAL_PAYLOAD,
					     &n), IKE_MSG_OK);
	assert_int_equal(n.len, 1);
	assert_int_equal(n.data[0], UNKNOWN_TYPE);
	assert_int_equal(B.d.stats.v[ST_UNSUPPORTED_CRITICAL_SENT], 1);
	assert_int_equal(established(&B), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_major_version_answered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_major_version_not_answered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_major_version_rate_limited, setup, teardown),
		cmocka_unit_test_setup_teardown(test_major_version_keeps_sa, setup, teardown),
		cmocka_unit_test_setup_teardown(test_critical_in_init_answered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_noncritical_unknown_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_critical_outside_init_not_answered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_critical_in_sk_answered, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
