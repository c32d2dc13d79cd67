// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_ike_message.c - ike/wire/wire_message.c: a hand-built IKE_SA_INIT decodes to
 * the expected fields and re-encodes to the same bytes; every payload
 * round-trips through its encoder and decoder; every truncation point and
 * a table of malformed inputs give their exact error code.
 *
 * With IKE_MSG_WRITE_SEEDS=<dir> in the environment the program instead
 * writes the fuzzer's seed corpus (tests/fuzz/corpus/message/) there: the
 * same messages these tests check, built with the encoders.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/x509.h>

#include "wire/wire_cert.h"
#include "wire/wire_crypto.h"
#include "wire/wire_message.h"
#include "wire/wire_signature.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- a captured-style IKE_SA_INIT request, byte by byte -------------------------- */

static const uint8_t sa_init[] = {
	/* IKE header */
	0x5a, 0x1f, 0x3c, 0x7e, 0x90, 0xab, 0xcd, 0xef,	/* SPIi */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,	/* SPIr */
	33,			/* next: SA */
	0x20,			/* version 2.0 */
	34,			/* IKE_SA_INIT */
	0x08,			/* flags: Initiator */
	0x00, 0x00, 0x00, 0x00,	/* message ID 0 */
	0x00, 0x00, 0x01, 0x06,	/* length 262 */
	/* SA payload, offset 28 */
	34, 0x00, 0x00, 0x30,	/* next KE, length 48 */
	0x00, 0x00, 0x00, 0x2c,	/* last proposal, length 44 */
	1, 1, 0, 4,		/* #1, IKE, no SPI, 4 transforms */
	3, 0, 0x00, 0x0c,	/* transform, length 12 */
	1, 0, 0x00, 12,		/* ENCR AES_CBC */
	0x80, 0x0e, 0x01, 0x00,	/* Key Length (TV) = 256 */
	3, 0, 0x00, 0x08, 3, 0, 0x00, 12,	/* INTEG HMAC_SHA2_256_128 */
	3, 0, 0x00, 0x08, 2, 0, 0x00, 5,	/* PRF HMAC_SHA2_256 */
	0, 0, 0x00, 0x08, 4, 0, 0x00, 19,	/* last: DH ECP_256 */
	/* KE payload, offset 76 */
	40, 0x00, 0x00, 0x48,	/* next Nonce, length 72 */
	0x00, 19, 0x00, 0x00,	/* group 19, reserved */
	/* gx | gy: the RFC 5903 §8.1 initiator's public value */
	0xda, 0xd0, 0xb6, 0x53, 0x94, 0x22, 0x1c, 0xf9,
	0xb0, 0x51, 0xe1, 0xfe, 0xca, 0x57, 0x87, 0xd0,
	0x98, 0xdf, 0xe6, 0x37, 0xfc, 0x90, 0xb9, 0xef,
	0x94, 0x5d, 0x0c, 0x37, 0x72, 0x58, 0x11, 0x80,
	0x52, 0x71, 0xa0, 0x46, 0x1c, 0xdb, 0x82, 0x52,
	0xd6, 0x1f, 0x1c, 0x45, 0x6f, 0xa3, 0xe5, 0x9a,
	0xb1, 0xf4, 0x5b, 0x33, 0xac, 0xcf, 0x5f, 0x58,
	0x38, 0x9e, 0x05, 0x77, 0xb8, 0x99, 0x0b, 0xb3,
	/* Nonce payload, offset 148 */
	41, 0x00, 0x00, 0x24,	/* next Notify, length 36 */
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
	0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
	/* Notify NAT_DETECTION_SOURCE_IP, offset 184 */
	41, 0x00, 0x00, 0x1c,	/* next Notify, length 28 */
	0, 0, 0x40, 0x04,	/* no protocol, no SPI, type 16388 */
	0xc1, 0x4b, 0x2e, 0x77, 0x05, 0x9d, 0xa8, 0x13, 0x6f, 0x40,
	0x31, 0xee, 0x92, 0x5c, 0x0b, 0x64, 0xd7, 0x28, 0x89, 0x1a,
	/* Notify NAT_DETECTION_DESTINATION_IP, offset 212 */
	41, 0x00, 0x00, 0x1c,
	0, 0, 0x40, 0x05,	/* type 16389 */
	0x3e, 0x08, 0xf1, 0x6a, 0xc4, 0x27, 0x5b, 0x90, 0x1d, 0xe3,
	0x76, 0x0f, 0xa2, 0x48, 0xbb, 0x35, 0x6c, 0x01, 0xd9, 0x84,
	/* Notify IKEV2_FRAGMENTATION_SUPPORTED, offset 240 */
	41, 0x00, 0x00, 0x08,
	0, 0, 0x40, 0x2e,	/* type 16430, no data */
	/* Notify SIGNATURE_HASH_ALGORITHMS, offset 248 */
	0, 0x00, 0x00, 0x0e,	/* last payload, length 14 */
	0, 0, 0x40, 0x2f,	/* type 16431 */
	0x00, 0x02, 0x00, 0x03, 0x00, 0x04,	/* SHA2-256, -384, -512 */
};

static const size_t sa_init_offsets[] = { 28, 76, 148, 184, 212, 240, 248 };

static void test_sa_init_header(void **state)
{
	struct ike_msg msg;

	(void)state;
	assert_int_equal(sizeof(sa_init), 262);
	assert_int_equal(ike_msg_parse(sa_init, sizeof(sa_init), &msg),
			 IKE_MSG_OK);
	assert_true(msg.hdr.ispi == 0x5a1f3c7e90abcdefULL);
	assert_true(msg.hdr.rspi == 0);
	assert_int_equal(msg.hdr.exchange, IKEV2_EXCH_IKE_SA_INIT);
	assert_int_equal(msg.hdr.flags, IKEV2_FLAG_INITIATOR);
	assert_int_equal(msg.hdr.msgid, 0);
	assert_int_equal(msg.hdr.length, 262);
	assert_int_equal(msg.npl, 7);
	assert_int_equal(msg.sk_index, IKE_MSG_NO_SK);
	assert_int_equal(ike_msg_count(&msg, IKEV2_PL_NOTIFY), 4);
}

static void test_sa_init_sa(void **state)
{
	struct ike_msg msg;
	struct ike_sa sa;
	const struct ike_proposal *p;

	(void)state;
	assert_int_equal(ike_msg_parse(sa_init, sizeof(sa_init), &msg),
			 IKE_MSG_OK);
	assert_int_equal(ike_decode_sa(ike_msg_find(&msg, IKEV2_PL_SA, NULL),
				       &sa), IKE_MSG_OK);
	assert_int_equal(sa.nproposals, 1);
	p = &sa.prop[0];
	assert_int_equal(p->num, 1);
	assert_int_equal(p->protocol, IKEV2_PROTO_IKE);
	assert_int_equal(p->spi_size, 0);
	assert_int_equal(p->ntransforms, 4);
	assert_int_equal(p->xf[0].type, IKEV2_XFORM_ENCR);
	assert_int_equal(p->xf[0].id, IKEV2_ENCR_AES_CBC);
	assert_int_equal(p->xf[0].key_bits, 256);
	assert_int_equal(p->xf[1].type, IKEV2_XFORM_INTEG);
	assert_int_equal(p->xf[1].id, IKEV2_INTEG_HMAC_SHA2_256_128);
	assert_int_equal(p->xf[2].type, IKEV2_XFORM_PRF);
	assert_int_equal(p->xf[2].id, IKEV2_PRF_HMAC_SHA2_256);
	assert_int_equal(p->xf[3].type, IKEV2_XFORM_DH);
	assert_int_equal(p->xf[3].id, IKEV2_DH_ECP_256);
	assert_int_equal(p->xf[3].key_bits, 0);
	assert_false(p->xf[0].unknown_attr);
}

static void test_sa_init_ke_nonce_notify(void **state)
{
	struct ike_msg msg;
	struct ike_ke ke;
	struct ike_nonce nonce;
	struct ike_notify n;
	uint16_t algs[8];
	size_t nalgs;

	(void)state;
	assert_int_equal(ike_msg_parse(sa_init, sizeof(sa_init), &msg),
			 IKE_MSG_OK);
	assert_int_equal(ike_decode_ke(ike_msg_find(&msg, IKEV2_PL_KE, NULL),
				       &ke), IKE_MSG_OK);
	assert_int_equal(ke.group, IKEV2_DH_ECP_256);
	assert_int_equal(ke.len, 64);
	assert_ptr_equal(ke.data, sa_init + 84);
	assert_int_equal(ike_decode_nonce(ike_msg_find(&msg, IKEV2_PL_NONCE,
						       NULL), &nonce),
			 IKE_MSG_OK);
	assert_int_equal(nonce.len, 32);
	assert_int_equal(nonce.data[31], 0x1f);

	assert_int_equal(ike_msg_find_notify(&msg,
			IKEV2_N_NAT_DETECTION_DESTINATION_IP, &n), IKE_MSG_OK);
	assert_int_equal(n.len, 20);
	assert_int_equal(n.data[0], 0x3e);
	assert_int_equal(n.spi_size, 0);
	assert_null(n.spi);
	assert_int_equal(ike_msg_find_notify(&msg,
			IKEV2_N_IKEV2_FRAGMENTATION_SUPPORTED, &n), IKE_MSG_OK);
	assert_int_equal(n.len, 0);
	assert_int_equal(ike_msg_find_notify(&msg,
			IKEV2_N_SIGNATURE_HASH_ALGORITHMS, &n), IKE_MSG_OK);
	assert_int_equal(ike_notify_hash_algs(&n, algs, ARRAY_LEN(algs),
					      &nalgs), IKE_MSG_OK);
	assert_int_equal(nalgs, 3);
	assert_int_equal(algs[0], IKEV2_HASH_SHA2_256);
	assert_int_equal(algs[2], IKEV2_HASH_SHA2_512);
	assert_int_equal(ike_notify_hash_algs(&n, algs, 2, &nalgs), IKE_MSG_OK);
	assert_int_equal(nalgs, 2);
	assert_int_equal(ike_msg_find_notify(&msg, IKEV2_N_COOKIE, &n),
			 IKE_MSG_E_NOT_FOUND);
}

/* Build the same message from its decoded fields. */
static enum ike_msg_err encode_sa_init(uint8_t *buf, size_t cap, size_t *len)
{
	struct ike_msg msg;
	struct ike_builder b;
	struct ike_sa sa;
	struct ike_ke ke;
	struct ike_nonce nonce;
	struct ike_notify n;
	const struct ike_payload *pl = NULL;

	assert_int_equal(ike_msg_parse(sa_init, sizeof(sa_init), &msg),
			 IKE_MSG_OK);
	ike_build_message(&b, buf, cap, &msg.hdr);
	assert_int_equal(ike_decode_sa(&msg.pl[0], &sa), IKE_MSG_OK);
	ike_add_sa(&b, &sa);
	assert_int_equal(ike_decode_ke(&msg.pl[1], &ke), IKE_MSG_OK);
	ike_add_ke(&b, &ke);
	assert_int_equal(ike_decode_nonce(&msg.pl[2], &nonce), IKE_MSG_OK);
	ike_add_nonce(&b, &nonce);
	while ((pl = ike_msg_find(&msg, IKEV2_PL_NOTIFY, pl)) != NULL) {
		assert_int_equal(ike_decode_notify(pl, &n), IKE_MSG_OK);
		ike_add_notify(&b, &n);
	}
	return ike_build_finish(&b, len);
}

static void test_sa_init_reencodes(void **state)
{
	uint8_t buf[512];
	size_t len = 0;

	(void)state;
	assert_int_equal(encode_sa_init(buf, sizeof(buf), &len), IKE_MSG_OK);
	assert_int_equal(len, sizeof(sa_init));
	assert_memory_equal(buf, sa_init, sizeof(sa_init));
}

/* ---- every payload through encoder and decoder ------------------------------------- */

static const uint8_t spi_esp[4] = { 0xc0, 0x01, 0xd0, 0x0d };
static const uint8_t three_spis[12] = { 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef,
					0xff, 0xff, 0xff, 0xff };
static const uint8_t cookie[24] = { 0xc0, 0x0c, 0x1e };
static const uint8_t nonce_bytes[16] = { 0x4e };
static const uint8_t ke_bytes[32] = { 0x09 };
static const uint8_t cert_der[40] = { 0x30, 0x82 };
static const uint8_t ca_hashes[40] = { 0x11, [20] = 0x22 };
static const uint8_t vendor_id[16] = { 0x88, 0x2f, 0xe5, 0x6d };
/* RFC 7427: 1-byte length, AlgorithmIdentifier, signature */
static const uint8_t sig_auth[] = { 3, 0x30, 0x01, 0x05, 0xaa, 0xbb, 0xcc };
static const uint8_t v4_addr[4] = { 192, 0, 2, 7 };

static void fill_sa(struct ike_sa *sa)
{
	struct ike_proposal *ike = &sa->prop[0], *esp = &sa->prop[1];

	memset(sa, 0, sizeof(*sa));
	sa->nproposals = 2;
	ike->num = 1;
	ike->protocol = IKEV2_PROTO_IKE;
	ike->ntransforms = 5;
	ike->xf[0] = (struct ike_transform){ IKEV2_XFORM_ENCR,
					     IKEV2_ENCR_AES_GCM_16, 256, false };
	ike->xf[1] = (struct ike_transform){ IKEV2_XFORM_ENCR,
					     IKEV2_ENCR_AES_GCM_16, 128, false };
	ike->xf[2] = (struct ike_transform){ IKEV2_XFORM_PRF,
					     IKEV2_PRF_HMAC_SHA2_384, 0, false };
	ike->xf[3] = (struct ike_transform){ IKEV2_XFORM_DH,
					     IKEV2_DH_CURVE25519, 0, false };
	ike->xf[4] = (struct ike_transform){ IKEV2_XFORM_DH,
					     IKEV2_DH_MODP_2048, 0, false };
	esp->num = 2;
	esp->protocol = IKEV2_PROTO_ESP;
	esp->spi_size = 4;
	memcpy(esp->spi, spi_esp, 4);
	esp->ntransforms = 3;
	esp->xf[0] = (struct ike_transform){ IKEV2_XFORM_ENCR,
					     IKEV2_ENCR_AES_CBC, 128, false };
	esp->xf[1] = (struct ike_transform){ IKEV2_XFORM_INTEG,
				IKEV2_INTEG_HMAC_SHA2_512_256, 0, false };
	esp->xf[2] = (struct ike_transform){ IKEV2_XFORM_ESN, IKEV2_ESN_NO,
					     0, false };
}

static void fill_ts(struct ike_ts_set *set)
{
	memset(set, 0, sizeof(*set));
	set->nts = 2;
	set->ts[0].type = IKEV2_TS_IPV4_ADDR_RANGE;
	set->ts[0].ip_proto = 6;
	set->ts[0].start_port = 80;
	set->ts[0].end_port = 443;
	memcpy(set->ts[0].start, v4_addr, 4);
	memcpy(set->ts[0].end, v4_addr, 4);
	set->ts[0].end[3] = 200;
	set->ts[1].type = IKEV2_TS_IPV6_ADDR_RANGE;
	set->ts[1].end_port = 65535;
	memset(set->ts[1].end, 0xff, 16);
}

/* A message with one payload of each kind (not a real exchange). */
static size_t build_every_payload(uint8_t *buf, size_t cap)
{
	const struct ike_header hdr = { .ispi = 1, .rspi = 2,
		.version = IKEV2_VERSION, .exchange = IKEV2_EXCH_CREATE_CHILD_SA,
		.flags = IKEV2_FLAG_RESPONSE, .msgid = 7 };
	struct ike_builder b;
	struct ike_sa sa;
	struct ike_ts_set ts;
	size_t len = 0;

	fill_sa(&sa);
	fill_ts(&ts);
	ike_build_message(&b, buf, cap, &hdr);
	ike_add_sa(&b, &sa);
	ike_add_ke(&b, &(struct ike_ke){ IKEV2_DH_CURVE25519, ke_bytes, 32 });
	ike_add_nonce(&b, &(struct ike_nonce){ nonce_bytes, 16 });
	ike_add_id(&b, IKEV2_PL_IDR, &(struct ike_id){ IKEV2_ID_IPV4_ADDR,
						       v4_addr, 4 });
	ike_add_cert(&b, &(struct ike_cert){ IKEV2_CERT_X509_SIG, cert_der, 40 });
	ike_add_certreq(&b, &(struct ike_cert){ IKEV2_CERT_X509_SIG,
						ca_hashes, 40 });
	ike_add_auth(&b, &(struct ike_auth){ .method =
		IKEV2_AUTH_DIGITAL_SIGNATURE, .data = sig_auth,
		.len = sizeof(sig_auth) });
	ike_add_notify(&b, &(struct ike_notify){ IKEV2_PROTO_ESP, 4, spi_esp,
						 IKEV2_N_REKEY_SA, NULL, 0 });
	ike_add_notify(&b, &(struct ike_notify){ 0, 0, NULL, IKEV2_N_COOKIE,
						 cookie, sizeof(cookie) });
	ike_add_delete(&b, &(struct ike_delete){ IKEV2_PROTO_ESP, 4, 3,
						 three_spis });
	ike_add_delete(&b, &(struct ike_delete){ IKEV2_PROTO_IKE, 0, 0, NULL });
	ike_add_ts(&b, IKEV2_PL_TSI, &ts);
	ike_add_ts(&b, IKEV2_PL_TSR, &ts);
	ike_add_vendor(&b, &(struct ike_vendor){ vendor_id, 16 });
	assert_int_equal(ike_build_finish(&b, &len), IKE_MSG_OK);
	return len;
}

static void assert_sa_equal(const struct ike_sa *a, const struct ike_sa *b)
{
	size_t i, j;

	assert_int_equal(a->nproposals, b->nproposals);
	for (i = 0; i < a->nproposals; i++) {
		const struct ike_proposal *p = &a->prop[i], *q = &b->prop[i];

		assert_int_equal(p->num, q->num);
		assert_int_equal(p->protocol, q->protocol);
		assert_int_equal(p->spi_size, q->spi_size);
		assert_memory_equal(p->spi, q->spi, p->spi_size);
		assert_int_equal(p->ntransforms, q->ntransforms);
		for (j = 0; j < p->ntransforms; j++) {
			assert_int_equal(p->xf[j].type, q->xf[j].type);
			assert_int_equal(p->xf[j].id, q->xf[j].id);
			assert_int_equal(p->xf[j].key_bits, q->xf[j].key_bits);
			assert_int_equal(p->xf[j].unknown_attr,
					 q->xf[j].unknown_attr);
		}
	}
}

static void test_round_trip_sa_ts(void **state)
{
	uint8_t buf[1024];
	struct ike_msg msg;
	struct ike_sa sa, want_sa;
	struct ike_ts_set ts, want_ts;
	size_t len;

	(void)state;
	len = build_every_payload(buf, sizeof(buf));
	assert_int_equal(ike_msg_parse(buf, len, &msg), IKE_MSG_OK);
	assert_int_equal(msg.npl, 14);
	fill_sa(&want_sa);
	fill_ts(&want_ts);
	assert_int_equal(ike_decode_sa(ike_msg_find(&msg, IKEV2_PL_SA, NULL),
				       &sa), IKE_MSG_OK);
	assert_sa_equal(&sa, &want_sa);
	assert_int_equal(ike_decode_ts(ike_msg_find(&msg, IKEV2_PL_TSR, NULL),
				       &ts), IKE_MSG_OK);
	assert_int_equal(ts.nts, 2);
	assert_int_equal(ts.nunknown, 0);
	assert_memory_equal(ts.ts, want_ts.ts, 2 * sizeof(ts.ts[0]));
}

static void test_round_trip_small_payloads(void **state)
{
	uint8_t buf[1024];
	struct ike_msg msg;
	struct ike_ke ke;
	struct ike_id id;
	struct ike_cert cert;
	struct ike_auth auth;
	struct ike_vendor v;

	(void)state;
	assert_int_equal(ike_msg_parse(buf, build_every_payload(buf, sizeof(buf)),
				       &msg), IKE_MSG_OK);
	assert_int_equal(ike_decode_ke(ike_msg_find(&msg, IKEV2_PL_KE, NULL),
				       &ke), IKE_MSG_OK);
	assert_int_equal(ke.group, IKEV2_DH_CURVE25519);
	assert_memory_equal(ke.data, ke_bytes, 32);
	assert_int_equal(ike_decode_id(ike_msg_find(&msg, IKEV2_PL_IDR, NULL),
				       &id), IKE_MSG_OK);
	assert_int_equal(id.type, IKEV2_ID_IPV4_ADDR);
	assert_memory_equal(id.data, v4_addr, 4);
	assert_int_equal(ike_decode_cert(ike_msg_find(&msg, IKEV2_PL_CERT, NULL),
					 &cert), IKE_MSG_OK);
	assert_int_equal(cert.len, 40);
	assert_int_equal(ike_decode_certreq(ike_msg_find(&msg, IKEV2_PL_CERTREQ,
							 NULL), &cert),
			 IKE_MSG_OK);
	assert_memory_equal(cert.data, ca_hashes, 40);
	assert_int_equal(ike_decode_auth(ike_msg_find(&msg, IKEV2_PL_AUTH, NULL),
					 &auth), IKE_MSG_OK);
	assert_int_equal(auth.method, IKEV2_AUTH_DIGITAL_SIGNATURE);
	assert_int_equal(auth.sig_alg_len, 3);
	assert_int_equal(auth.sig_alg[0], 0x30);
	assert_int_equal(auth.sig_len, 3);
	assert_int_equal(auth.sig[2], 0xcc);
	assert_int_equal(ike_decode_vendor(ike_msg_find(&msg, IKEV2_PL_VENDOR,
							NULL), &v), IKE_MSG_OK);
	assert_memory_equal(v.data, vendor_id, 16);
}

static void test_round_trip_notify_delete(void **state)
{
	uint8_t buf[1024];
	struct ike_msg msg;
	struct ike_notify n;
	struct ike_delete d;
	const struct ike_payload *pl;

	(void)state;
	assert_int_equal(ike_msg_parse(buf, build_every_payload(buf, sizeof(buf)),
				       &msg), IKE_MSG_OK);
	assert_int_equal(ike_msg_find_notify(&msg, IKEV2_N_REKEY_SA, &n),
			 IKE_MSG_OK);
	assert_int_equal(n.protocol, IKEV2_PROTO_ESP);
	assert_int_equal(n.spi_size, 4);
	assert_memory_equal(n.spi, spi_esp, 4);
	assert_int_equal(n.len, 0);
	assert_int_equal(ike_msg_find_notify(&msg, IKEV2_N_COOKIE, &n),
			 IKE_MSG_OK);
	assert_memory_equal(n.data, cookie, sizeof(cookie));

	pl = ike_msg_find(&msg, IKEV2_PL_DELETE, NULL);
	assert_int_equal(ike_decode_delete(pl, &d), IKE_MSG_OK);
	assert_int_equal(d.nspi, 3);
	assert_true(ike_delete_spi(&d, 1) == 0xdeadbeef);
	assert_true(ike_delete_spi(&d, 2) == 0xffffffff);
	pl = ike_msg_find(&msg, IKEV2_PL_DELETE, pl);
	assert_int_equal(ike_decode_delete(pl, &d), IKE_MSG_OK);
	assert_int_equal(d.protocol, IKEV2_PROTO_IKE);
	assert_int_equal(d.nspi, 0);
	assert_null(ike_msg_find(&msg, IKEV2_PL_DELETE, pl));
}

/* ---- truncation at every point ----------------------------------------------------- */

static void test_every_truncation(void **state)
{
	struct ike_msg msg;
	size_t cut;

	(void)state;
	for (cut = 0; cut < sizeof(sa_init); cut++)
		assert_int_equal(ike_msg_parse(sa_init, cut, &msg),
				 cut < IKEV2_HEADER_LEN ? IKE_MSG_E_SHORT_HEADER
							: IKE_MSG_E_TRUNCATED);
}

/* What the chain walker must say when the message (header length fixed
 * up) ends at cut: at a payload boundary the chain is unterminated, within
 * a generic header that header is cut, within a body it overruns. */
static enum ike_msg_err expected_cut_error(size_t cut)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(sa_init_offsets); i++) {
		size_t start = sa_init_offsets[i];

		if (cut == start)
			return IKE_MSG_E_CHAIN_UNTERMINATED;
		if (cut > start && cut < start + IKEV2_PAYLOAD_HEADER_LEN)
			return IKE_MSG_E_PAYLOAD_HEADER_TRUNCATED;
	}
	return IKE_MSG_E_PAYLOAD_OVERRUN;
}

static void test_every_truncation_with_fixed_length(void **state)
{
	uint8_t buf[sizeof(sa_init)];
	struct ike_msg msg;
	size_t cut;

	(void)state;
	memcpy(buf, sa_init, sizeof(buf));
	for (cut = IKEV2_HEADER_LEN; cut < sizeof(sa_init); cut++) {
		buf[26] = (uint8_t)(cut >> 8);
		buf[27] = (uint8_t)cut;
		assert_int_equal(ike_msg_parse(buf, cut, &msg),
				 expected_cut_error(cut));
		assert_true(msg.err_offset <= cut);
	}
}

/* ---- malformed messages, table-driven ------------------------------------------------ */

struct patch {
	size_t offset;
	uint8_t value;
};

struct malformed {
	const char *what;
	struct patch patch[3];	/* applied to a copy of sa_init; offset 0
				 * ends the list */
	int extra;		/* bytes added (+) or removed (-) at the end */
	enum ike_msg_err expect;
};

#define P(o, v) { (o), (v) }
#define LEN(n) P(26, (n) >> 8), P(27, (n) & 0xff)

static const struct malformed malformed[] = {
	{ "major version 1", { P(17, 0x10) }, 0, IKE_MSG_E_BAD_VERSION },
	{ "minor version is ignored", { P(17, 0x21) }, 0, IKE_MSG_OK },
	{ "length below header", { LEN(27) }, 0, IKE_MSG_E_LENGTH_BELOW_MIN },
	{ "length beyond 64 KiB", { P(25, 0x01) }, 0, IKE_MSG_E_OVERSIZED },
	{ "datagram longer than length", { { 0, 0 } }, 1,
	  IKE_MSG_E_TRAILING_BYTES },
	{ "first payload length 3", { P(30, 0), P(31, 3) }, 0,
	  IKE_MSG_E_PAYLOAD_LENGTH_BELOW_MIN },
	{ "zero-length payload (would loop)", { P(30, 0), P(31, 0) }, 0,
	  IKE_MSG_E_PAYLOAD_LENGTH_BELOW_MIN },
	{ "KE shorter than its fixed fields", { P(78, 0), P(79, 7) }, 0,
	  IKE_MSG_E_PAYLOAD_LENGTH_BELOW_MIN },
	{ "SA shorter than one proposal", { P(30, 0), P(31, 11) }, 0,
	  IKE_MSG_E_PAYLOAD_LENGTH_BELOW_MIN },
	{ "payload length past the end", { P(250, 0), P(251, 15) }, 0,
	  IKE_MSG_E_PAYLOAD_OVERRUN },
	{ "last payload announces another", { P(248, IKEV2_PL_VENDOR) }, 0,
	  IKE_MSG_E_CHAIN_UNTERMINATED },
	{ "chain ends early", { P(184, IKEV2_PL_NONE) }, 0,
	  IKE_MSG_E_CHAIN_TRAILING },
	{ "unknown critical payload", { P(148, 200), P(185, 0x80) }, 0,
	  IKE_MSG_E_UNSUPPORTED_CRITICAL },
	{ "unknown payload, not critical", { P(148, 200) }, 0, IKE_MSG_OK },
	{ "known payload marked critical", { P(29, 0x80) }, 0, IKE_MSG_OK },
	{ "SK payload not last", { P(148, IKEV2_PL_SK) }, 0,
	  IKE_MSG_E_SK_NOT_LAST },
	{ "cut one byte, length kept", { { 0, 0 } }, -1, IKE_MSG_E_TRUNCATED },
};

static void test_malformed_messages(void **state)
{
	uint8_t buf[sizeof(sa_init) + 1];
	struct ike_msg msg;
	size_t i, j;

	(void)state;
	for (i = 0; i < ARRAY_LEN(malformed); i++) {
		const struct malformed *m = &malformed[i];

		memcpy(buf, sa_init, sizeof(sa_init));
		buf[sizeof(sa_init)] = 0;
		for (j = 0; j < ARRAY_LEN(m->patch) && m->patch[j].offset; j++)
			buf[m->patch[j].offset] = m->patch[j].value;
		if (ike_msg_parse(buf, sizeof(sa_init) + m->extra, &msg) !=
		    m->expect)
			fail_msg("%s: got \"%s\"", m->what,
				 ike_msg_strerror(ike_msg_parse(buf,
					sizeof(sa_init) + m->extra, &msg)));
	}
	/* the type to name in UNSUPPORTED_CRITICAL_PAYLOAD */
	buf[148] = 200;
	buf[185] = 0x80;
	assert_int_equal(ike_msg_parse(buf, sizeof(sa_init), &msg),
			 IKE_MSG_E_UNSUPPORTED_CRITICAL);
	assert_int_equal(msg.err_payload_type, 200);
	assert_int_equal(msg.err_offset, 184);
}

static void test_oversized_datagram(void **state)
{
	uint8_t *big = calloc(1, 70000);
	struct ike_msg msg;

	(void)state;
	assert_non_null(big);
	memcpy(big, sa_init, sizeof(sa_init));
	assert_int_equal(ike_msg_parse(big, 70000, &msg), IKE_MSG_E_OVERSIZED);
	free(big);
}

/* n vendor payloads of 4 bytes each */
static size_t build_vendor_chain(uint8_t *buf, size_t cap, size_t n)
{
	const struct ike_header hdr = { .version = IKEV2_VERSION,
		.exchange = IKEV2_EXCH_INFORMATIONAL };
	struct ike_builder b;
	size_t i, len;

	ike_build_message(&b, buf, cap, &hdr);
	for (i = 0; i < n; i++)
		ike_add_vendor(&b, &(struct ike_vendor){ NULL, 0 });
	assert_int_equal(ike_build_finish(&b, &len), IKE_MSG_OK);
	return len;
}

static void test_payload_limit(void **state)
{
	uint8_t buf[28 + 4 * (IKE_MSG_MAX_PAYLOADS + 1)];
	struct ike_msg msg;
	size_t len;

	(void)state;
	len = build_vendor_chain(buf, sizeof(buf), IKE_MSG_MAX_PAYLOADS);
	assert_int_equal(ike_msg_parse(buf, len, &msg), IKE_MSG_OK);
	assert_int_equal(msg.npl, IKE_MSG_MAX_PAYLOADS);
	len = build_vendor_chain(buf, sizeof(buf), IKE_MSG_MAX_PAYLOADS + 1);
	assert_int_equal(ike_msg_parse(buf, len, &msg),
			 IKE_MSG_E_TOO_MANY_PAYLOADS);
}

/* ---- decrypted chains ---------------------------------------------------------------- */

static void test_decrypted_chain(void **state)
{
	static const uint8_t sk_body[40];
	uint8_t buf[128], inner[64];
	const struct ike_header hdr = { .version = IKEV2_VERSION,
		.exchange = IKEV2_EXCH_INFORMATIONAL };
	struct ike_builder b;
	struct ike_msg msg;
	size_t len, inner_len;

	(void)state;
	ike_build_message(&b, buf, sizeof(buf), &hdr);
	ike_add_raw(&b, IKEV2_PL_SK, false, sk_body, sizeof(sk_body));
	assert_int_equal(ike_build_finish(&b, &len), IKE_MSG_OK);
	buf[28] = IKEV2_PL_DELETE;	/* the SK header's "first inner" */
	assert_int_equal(ike_msg_parse(buf, len, &msg), IKE_MSG_OK);
	assert_int_equal(msg.sk_index, 0);
	assert_int_equal(msg.pl[0].next, IKEV2_PL_DELETE);

	ike_build_chain(&b, inner, sizeof(inner));
	ike_add_delete(&b, &(struct ike_delete){ IKEV2_PROTO_IKE, 0, 0, NULL });
	assert_int_equal(ike_build_finish(&b, &inner_len), IKE_MSG_OK);
	assert_int_equal(b.first, IKEV2_PL_DELETE);
	assert_int_equal(ike_msg_add_decrypted(&msg, inner, inner_len),
			 IKE_MSG_OK);
	assert_true(ike_msg_find(&msg, IKEV2_PL_DELETE, NULL)->decrypted);
	assert_int_equal(ike_msg_add_decrypted(&msg, inner, inner_len),
			 IKE_MSG_E_ALREADY_DECRYPTED);

	/* an SK payload inside the decrypted data */
	assert_int_equal(ike_msg_parse(buf, len, &msg), IKE_MSG_OK);
	ike_build_chain(&b, inner, sizeof(inner));
	ike_add_raw(&b, IKEV2_PL_SK, false, sk_body, 8);
	assert_int_equal(ike_build_finish(&b, &inner_len), IKE_MSG_OK);
	msg.pl[0].next = IKEV2_PL_SK;
	assert_int_equal(ike_msg_add_decrypted(&msg, inner, inner_len),
			 IKE_MSG_E_NESTED_SK);

	assert_int_equal(ike_msg_parse(sa_init, sizeof(sa_init), &msg),
			 IKE_MSG_OK);
	assert_int_equal(ike_msg_add_decrypted(&msg, inner, inner_len),
			 IKE_MSG_E_NOT_ENCRYPTED);
}

/* ---- typed decoders on malformed bodies, table-driven -------------------------------------- */

struct bad_body {
	const char *what;
	uint8_t type;
	const char *hex;	/* payload body */
	enum ike_msg_err expect;
};

/* one transform: ENCR AES_CBC */
#define XF_LAST "0000000801000" "00c"

static const struct bad_body bad_bodies[] = {
	{ "proposal marker 1", IKEV2_PL_SA, "01000010" "01010001" XF_LAST,
	  IKE_MSG_E_SUBSTRUCT_MARKER },
	{ "proposal length 7", IKEV2_PL_SA, "00000007" "01010001" XF_LAST,
	  IKE_MSG_E_SUBSTRUCT_LENGTH },
	{ "proposal length past SA", IKEV2_PL_SA, "00000011" "01010001" XF_LAST,
	  IKE_MSG_E_SUBSTRUCT_LENGTH },
	{ "more proposals announced", IKEV2_PL_SA, "02000010" "01010001" XF_LAST,
	  IKE_MSG_E_SUBSTRUCT_TRUNCATED },
	{ "bytes after last proposal", IKEV2_PL_SA,
	  "00000010" "01010001" XF_LAST "00000000", IKE_MSG_E_SUBSTRUCT_TRAILING },
	{ "transform count 2, one present", IKEV2_PL_SA,
	  "00000010" "01010002" XF_LAST, IKE_MSG_E_TRANSFORM_COUNT },
	{ "transform marker 2", IKEV2_PL_SA,
	  "00000010" "01010001" "0200000801000" "00c", IKE_MSG_E_SUBSTRUCT_MARKER },
	{ "transform length 7", IKEV2_PL_SA,
	  "00000010" "01010001" "0000000701000" "00c", IKE_MSG_E_SUBSTRUCT_LENGTH },
	{ "SPI size 9", IKEV2_PL_SA, "00000010" "01010901" XF_LAST,
	  IKE_MSG_E_BAD_SPI_SIZE },
	{ "SPI longer than proposal", IKEV2_PL_SA, "00000008" "01030401",
	  IKE_MSG_E_SUBSTRUCT_LENGTH },
	{ "attribute cut", IKEV2_PL_SA,
	  "00000012" "01010001" "0000000a0100000c" "800e",
	  IKE_MSG_E_SUBSTRUCT_TRUNCATED },
	{ "TLV attribute overruns", IKEV2_PL_SA,
	  "00000014" "01010001" "0000000c0100000c" "00010009",
	  IKE_MSG_E_BAD_ATTRIBUTE },
	{ "key length as TLV", IKEV2_PL_SA,
	  "00000016" "01010001" "0000000e0100000c" "000e00020100",
	  IKE_MSG_E_BAD_ATTRIBUTE },
	{ "KE without data", IKEV2_PL_KE, "00130000", IKE_MSG_E_BAD_KE },
	{ "nonce of 15 bytes", IKEV2_PL_NONCE, "000102030405060708090a0b0c0d0e",
	  IKE_MSG_E_BAD_NONCE },
	{ "IPv4 ID of 5 bytes", IKEV2_PL_IDI, "01000000c000020700",
	  IKE_MSG_E_BAD_ID },
	{ "IPv6 ID of 4 bytes", IKEV2_PL_IDR, "05000000c0000207",
	  IKE_MSG_E_BAD_ID },
	{ "empty FQDN", IKEV2_PL_IDI, "02000000", IKE_MSG_E_BAD_ID },
	{ "CERT without data", IKEV2_PL_CERT, "04", IKE_MSG_E_BAD_CERT },
	{ "CERTREQ hash of 21 bytes", IKEV2_PL_CERTREQ,
	  "04000102030405060708090a0b0c0d0e0f1011121314", IKE_MSG_E_BAD_CERT },
	{ "AUTH without data", IKEV2_PL_AUTH, "02000000", IKE_MSG_E_BAD_AUTH },
	{ "signature: AlgorithmIdentifier fills all", IKEV2_PL_AUTH,
	  "0e000000" "03300105", IKE_MSG_E_BAD_AUTH },
	{ "signature: zero-length AlgorithmIdentifier", IKEV2_PL_AUTH,
	  "0e000000" "00aabb", IKE_MSG_E_BAD_AUTH },
	{ "notify SPI size 9", IKEV2_PL_NOTIFY, "03094009" "000000000000000000",
	  IKE_MSG_E_BAD_SPI_SIZE },
	{ "notify SPI cut", IKEV2_PL_NOTIFY, "03044009" "0000",
	  IKE_MSG_E_BAD_SPI_SIZE },
	{ "NAT detection of 19 bytes", IKEV2_PL_NOTIFY,
	  "00004004" "00010203040506070809101112131415161718",
	  IKE_MSG_E_BAD_NOTIFY_DATA },
	{ "empty cookie", IKEV2_PL_NOTIFY, "00004006", IKE_MSG_E_BAD_NOTIFY_DATA },
	{ "INVALID_KE_PAYLOAD of 3 bytes", IKEV2_PL_NOTIFY, "00000011" "001300",
	  IKE_MSG_E_BAD_NOTIFY_DATA },
	{ "odd hash list", IKEV2_PL_NOTIFY, "0000402f" "000200",
	  IKE_MSG_E_BAD_NOTIFY_DATA },
	{ "REKEY_SA without SPI", IKEV2_PL_NOTIFY, "03004009",
	  IKE_MSG_E_BAD_NOTIFY_DATA },
	{ "ESP delete with 8-byte SPIs", IKEV2_PL_DELETE,
	  "03080001" "0000000000000001", IKE_MSG_E_BAD_DELETE },
	{ "ESP delete count 2, one SPI", IKEV2_PL_DELETE, "03040002" "00000001",
	  IKE_MSG_E_BAD_DELETE },
	{ "ESP delete of nothing", IKEV2_PL_DELETE, "03040000",
	  IKE_MSG_E_BAD_DELETE },
	{ "IKE delete with an SPI", IKEV2_PL_DELETE, "01040001" "00000001",
	  IKE_MSG_E_BAD_DELETE },
	{ "delete of protocol 9", IKEV2_PL_DELETE, "09000000",
	  IKE_MSG_E_BAD_DELETE },
	{ "zero TS", IKEV2_PL_TSI, "00000000", IKE_MSG_E_TS_COUNT },
	{ "two TS announced, one present", IKEV2_PL_TSI,
	  "02000000" "07000010" "0000ffff" "00000000" "ffffffff",
	  IKE_MSG_E_SUBSTRUCT_TRUNCATED },
	{ "IPv4 selector of 20 bytes", IKEV2_PL_TSR,
	  "01000000" "07000014" "0000ffff" "00000000" "ffffffff" "00000000",
	  IKE_MSG_E_BAD_TS },
	{ "selector length 7", IKEV2_PL_TSR, "01000000" "07000007" "0000ffff",
	  IKE_MSG_E_SUBSTRUCT_LENGTH },
	{ "bytes after the selectors", IKEV2_PL_TSR,
	  "01000000" "07000010" "0000ffff" "00000000" "ffffffff" "00",
	  IKE_MSG_E_SUBSTRUCT_TRAILING },
	{ "KE decoder on a nonce", IKEV2_PL_NONCE, "", IKE_MSG_E_WRONG_PAYLOAD_TYPE },
};

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = strlen(hex) / 2, i;

	assert_int_equal(strlen(hex) % 2, 0);
	assert_true(n <= cap);
	for (i = 0; i < n; i++) {
		unsigned int byte;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &byte), 1);
		out[i] = (uint8_t)byte;
	}
	return n;
}

/* The decoder for pl's type (the KE decoder for "wrong type" rows). */
static enum ike_msg_err decode_by_type(const struct ike_payload *pl,
				       const char *what)
{
	union {
		struct ike_sa sa;
		struct ike_ke ke;
		struct ike_nonce nonce;
		struct ike_id id;
		struct ike_cert cert;
		struct ike_auth auth;
		struct ike_notify n;
		struct ike_delete d;
		struct ike_ts_set ts;
	} u;

	if (strncmp(what, "KE decoder", 10) == 0)
		return ike_decode_ke(pl, &u.ke);
	switch (pl->type) {
	case IKEV2_PL_SA: return ike_decode_sa(pl, &u.sa);
	case IKEV2_PL_KE: return ike_decode_ke(pl, &u.ke);
	case IKEV2_PL_NONCE: return ike_decode_nonce(pl, &u.nonce);
	case IKEV2_PL_IDI: case IKEV2_PL_IDR: return ike_decode_id(pl, &u.id);
	case IKEV2_PL_CERT: return ike_decode_cert(pl, &u.cert);
	case IKEV2_PL_CERTREQ: return ike_decode_certreq(pl, &u.cert);
	case IKEV2_PL_AUTH: return ike_decode_auth(pl, &u.auth);
	case IKEV2_PL_NOTIFY: return ike_decode_notify(pl, &u.n);
	case IKEV2_PL_DELETE: return ike_decode_delete(pl, &u.d);
	default: return ike_decode_ts(pl, &u.ts);
	}
}

static void test_malformed_bodies(void **state)
{
	uint8_t body[128];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(bad_bodies); i++) {
		const struct bad_body *t = &bad_bodies[i];
		struct ike_payload pl = { .type = t->type, .body = body };
		enum ike_msg_err got;

		pl.len = unhex(t->hex, body, sizeof(body));
		got = decode_by_type(&pl, t->what);
		if (got != t->expect)
			fail_msg("%s: got \"%s\", want \"%s\"", t->what,
				 ike_msg_strerror(got),
				 ike_msg_strerror(t->expect));
	}
}

/* Limits and the lenient cases: unknown attributes and selector types
 * are kept track of, not refused. */
static void test_decoder_limits(void **state)
{
	uint8_t body[2048];
	struct ike_payload pl = { .type = IKEV2_PL_SA, .body = body };
	struct ike_sa sa;
	struct ike_ts_set ts;
	size_t i, n;

	(void)state;
	/* 17 proposals of one transform each */
	for (i = 0, n = 0; i < IKE_MAX_PROPOSALS + 1; i++)
		n += unhex(i == IKE_MAX_PROPOSALS ? "00000010" "01010001" XF_LAST
						  : "02000010" "01010001" XF_LAST,
			   body + n, sizeof(body) - n);
	pl.len = n;
	assert_int_equal(ike_decode_sa(&pl, &sa), IKE_MSG_E_TOO_MANY_PROPOSALS);

	/* 49 transforms in one proposal */
	n = unhex("00000190" "01010031", body, sizeof(body));
	for (i = 0; i < IKE_MAX_TRANSFORMS + 1; i++)
		n += unhex(i == IKE_MAX_TRANSFORMS ? XF_LAST : "0300000801000" "00c",
			   body + n, sizeof(body) - n);
	pl.len = n;
	assert_int_equal(ike_decode_sa(&pl, &sa), IKE_MSG_E_TOO_MANY_TRANSFORMS);

	/* an unknown TV attribute marks the transform, keeps the key length */
	pl.len = unhex("00000018" "01010001" "000000100100000c" "80630001"
		       "800e0080", body, sizeof(body));
	assert_int_equal(ike_decode_sa(&pl, &sa), IKE_MSG_OK);
	assert_true(sa.prop[0].xf[0].unknown_attr);
	assert_int_equal(sa.prop[0].xf[0].key_bits, 128);

	/* a selector of unknown type (10, as RFC 9478's TS_SECLABEL) */
	pl.type = IKEV2_PL_TSI;
	pl.len = unhex("02000000" "0a000008" "00000000"
		       "07000010" "0000ffff" "00000000" "ffffffff",
		       body, sizeof(body));
	assert_int_equal(ike_decode_ts(&pl, &ts), IKE_MSG_OK);
	assert_int_equal(ts.nts, 1);
	assert_int_equal(ts.nunknown, 1);

	/* 17 selectors */
	n = unhex("11000000", body, sizeof(body));
	for (i = 0; i < IKE_MAX_TS + 1; i++)
		n += unhex("07000010" "0000ffff" "00000000" "ffffffff",
			   body + n, sizeof(body) - n);
	pl.len = n;
	assert_int_equal(ike_decode_ts(&pl, &ts), IKE_MSG_E_TOO_MANY_TS);
}

static void test_notify_helpers(void **state)
{
	uint8_t body[16];
	struct ike_payload pl = { .type = IKEV2_PL_NOTIFY, .body = body };
	struct ike_notify n;
	uint16_t group = 0, algs[2];
	size_t nalgs;

	(void)state;
	pl.len = unhex("00000011" "000e", body, sizeof(body));
	assert_int_equal(ike_decode_notify(&pl, &n), IKE_MSG_OK);
	assert_int_equal(ike_notify_dh_group(&n, &group), IKE_MSG_OK);
	assert_int_equal(group, IKEV2_DH_MODP_2048);
	assert_int_equal(ike_notify_hash_algs(&n, algs, 2, &nalgs),
			 IKE_MSG_E_WRONG_PAYLOAD_TYPE);
	pl.len = unhex("00004006" "0102", body, sizeof(body));
	assert_int_equal(ike_decode_notify(&pl, &n), IKE_MSG_OK);
	assert_int_equal(ike_notify_dh_group(&n, &group),
			 IKE_MSG_E_WRONG_PAYLOAD_TYPE);
}

/* ---- encoders ------------------------------------------------------------------------- */

static void test_encoder_refusals(void **state)
{
	uint8_t buf[256];
	struct ike_builder b;
	struct ike_sa sa;
	size_t len;

	(void)state;
	ike_build_chain(&b, buf, sizeof(buf));
	assert_int_equal(ike_add_nonce(&b, &(struct ike_nonce){ buf, 15 }),
			 IKE_MSG_E_BAD_ARGUMENT);
	/* the first error sticks */
	assert_int_equal(ike_add_vendor(&b, &(struct ike_vendor){ buf, 4 }),
			 IKE_MSG_E_BAD_ARGUMENT);
	assert_int_equal(ike_build_finish(&b, &len), IKE_MSG_E_BAD_ARGUMENT);

	memset(&sa, 0, sizeof(sa));
	ike_build_chain(&b, buf, sizeof(buf));
	assert_int_equal(ike_add_sa(&b, &sa), IKE_MSG_E_BAD_ARGUMENT);
	ike_build_chain(&b, buf, sizeof(buf));
	assert_int_equal(ike_add_id(&b, IKEV2_PL_IDI, &(struct ike_id){
			 IKEV2_ID_IPV6_ADDR, buf, 4 }), IKE_MSG_E_BAD_ARGUMENT);
	ike_build_chain(&b, buf, sizeof(buf));
	assert_int_equal(ike_add_ts(&b, IKEV2_PL_SA, &(struct ike_ts_set){ 0 }),
			 IKE_MSG_E_BAD_ARGUMENT);
	ike_build_chain(&b, buf, sizeof(buf));
	assert_int_equal(ike_add_notify(&b, &(struct ike_notify){ 0, 0, NULL,
			 IKEV2_N_NAT_DETECTION_SOURCE_IP, buf, 19 }),
			 IKE_MSG_E_BAD_ARGUMENT);
	ike_build_chain(&b, buf, sizeof(buf));
	assert_int_equal(ike_add_delete(&b, &(struct ike_delete){
			 IKEV2_PROTO_ESP, 4, 0, NULL }), IKE_MSG_E_BAD_ARGUMENT);
}

static void test_encoder_bounds(void **state)
{
	static uint8_t big[70000], body[65532];
	uint8_t buf[sizeof(sa_init) + 1];
	struct ike_builder b;
	size_t len, cap;

	(void)state;
	/* every output size short of the message is refused, and nothing is
	 * written past it */
	for (cap = 0; cap < sizeof(sa_init); cap++) {
		memset(buf, 0xee, sizeof(buf));
		if (encode_sa_init(buf, cap, &len) != IKE_MSG_E_NO_SPACE)
			fail_msg("output of %zu bytes accepted", cap);
		assert_int_equal(buf[cap], 0xee);
	}
	ike_build_chain(&b, big, sizeof(big));
	assert_int_equal(ike_add_raw(&b, IKEV2_PL_VENDOR, false, body,
				     sizeof(body)),
			 IKE_MSG_E_BAD_ARGUMENT);	/* over a 16-bit length */
}

/* ---- names, port 4500 ---------------------------------------------------------------- */

static void test_error_names(void **state)
{
	size_t i, j;

	(void)state;
	for (i = 0; i < IKE_MSG_E_COUNT; i++) {
		const char *name = ike_msg_strerror((enum ike_msg_err)i);

		assert_non_null(name);
		assert_string_not_equal(name, "unknown IKE message error");
		for (j = 0; j < i; j++)
			assert_string_not_equal(name, ike_msg_strerror(
						(enum ike_msg_err)j));
	}
	assert_string_equal(ike_msg_strerror(IKE_MSG_E_COUNT),
			    "unknown IKE message error");
	assert_string_equal(ike_msg_strerror(IKE_MSG_E_UNSUPPORTED_CRITICAL),
			    "unsupported critical payload");
}

static void test_udp4500(void **state)
{
	uint8_t dgram[4 + sizeof(sa_init)];
	const uint8_t keepalive = 0xff, esp[8] = { 0, 0, 0x10, 0, 0, 0, 0, 1 };
	const uint8_t *ike;
	size_t len;

	(void)state;
	assert_int_equal(ike_non_esp_marker_write(dgram, 3), 0);
	assert_int_equal(ike_non_esp_marker_write(dgram, sizeof(dgram)), 4);
	memcpy(dgram + 4, sa_init, sizeof(sa_init));
	assert_int_equal(ike_udp4500_classify(dgram, sizeof(dgram), &ike, &len),
			 IKE_UDP4500_IKE);
	assert_ptr_equal(ike, dgram + 4);
	assert_int_equal(len, sizeof(sa_init));
	assert_int_equal(ike_udp4500_classify(&keepalive, 1, &ike, &len),
			 IKE_UDP4500_KEEPALIVE);
	assert_int_equal(ike_udp4500_classify(esp, 1, &ike, &len),
			 IKE_UDP4500_INVALID);	/* one byte, not 0xff */
	assert_int_equal(ike_udp4500_classify(esp, 8, &ike, &len),
			 IKE_UDP4500_ESP);
	assert_null(ike);
	assert_int_equal(ike_udp4500_classify(esp, 7, &ike, &len),
			 IKE_UDP4500_INVALID);
	assert_int_equal(ike_udp4500_classify(dgram, 3, &ike, &len),
			 IKE_UDP4500_INVALID);
}

/* ---- the fuzzer's seed corpus ------------------------------------------------------------ */

/* Must match fixed_keys() in tests/fuzz/fuzz_message.c: the fuzzer opens the
 * sealed seeds with the same keys. */
static void fixed_keys(struct ike_sa_keys *k, bool gcm)
{
	static const struct ike_suite gcm_suite = { IKEV2_ENCR_AES_GCM_16, 256,
		IKEV2_INTEG_NONE, IKEV2_PRF_HMAC_SHA2_256, IKEV2_DH_ECP_256 };
	static const struct ike_suite cbc_suite = { IKEV2_ENCR_AES_CBC, 128,
		IKEV2_INTEG_HMAC_SHA2_256_128, IKEV2_PRF_HMAC_SHA2_256,
		IKEV2_DH_MODP_2048 };
	uint8_t skeyseed[32], ni[16], nr[16];

	memset(skeyseed, 0x5a, sizeof(skeyseed));
	memset(ni, 0x11, sizeof(ni));
	memset(nr, 0x22, sizeof(nr));
	assert_int_equal(ike_sa_keys_derive(k, gcm ? &gcm_suite : &cbc_suite,
					    skeyseed, ni, 16, nr, 16,
					    0x0102030405060708ULL,
					    0x1112131415161718ULL),
			 IKE_CRYPTO_OK);
}

/* IKE_AUTH's encrypted part: IDi, AUTH, SA, TSi, TSr, N(INITIAL_CONTACT) */
static size_t build_auth_inner(uint8_t *buf, size_t cap, uint8_t *first)
{
	static const uint8_t auth_data[32] = { 0xa7 };
	struct ike_builder b;
	struct ike_sa sa;
	struct ike_ts_set ts;
	size_t len;

	fill_sa(&sa);
	sa.nproposals = 1;
	sa.prop[0] = sa.prop[1];
	sa.prop[0].num = 1;
	fill_ts(&ts);
	ike_build_chain(&b, buf, cap);
	ike_add_id(&b, IKEV2_PL_IDI, &(struct ike_id){ IKEV2_ID_FQDN,
			(const uint8_t *)"alice.example", 13 });
	ike_add_auth(&b, &(struct ike_auth){ .method = IKEV2_AUTH_PSK,
					     .data = auth_data, .len = 32 });
	ike_add_sa(&b, &sa);
	ike_add_ts(&b, IKEV2_PL_TSI, &ts);
	ike_add_ts(&b, IKEV2_PL_TSR, &ts);
	ike_add_notify(&b, &(struct ike_notify){ .protocol = IKEV2_PROTO_IKE,
					.type = IKEV2_N_INITIAL_CONTACT });
	assert_int_equal(ike_build_finish(&b, &len), IKE_MSG_OK);
	*first = b.first;
	return len;
}

static size_t build_sealed_auth(uint8_t *out, size_t cap, bool gcm)
{
	const struct ike_header hdr = { .ispi = 0x0102030405060708ULL,
		.rspi = 0x1112131415161718ULL, .version = IKEV2_VERSION,
		.exchange = IKEV2_EXCH_IKE_AUTH, .flags = IKEV2_FLAG_INITIATOR,
		.msgid = 1 };
	struct ike_sa_keys k;
	uint8_t inner[512], first;
	size_t inner_len, len = 0;

	fixed_keys(&k, gcm);
	inner_len = build_auth_inner(inner, sizeof(inner), &first);
	assert_int_equal(ike_sk_seal(&k, true, &hdr, first, inner, inner_len,
				     out, cap, &len), IKE_CRYPTO_OK);
	ike_sa_keys_wipe(&k);
	return len;
}

/* The sealed seeds open with the fixed keys and carry the six payloads. */
static void test_sealed_seed_opens(void **state)
{
	uint8_t buf[1024], plain[1024];
	struct ike_sa_keys k;
	struct ike_msg msg;
	size_t len, plain_len;
	int gcm;

	(void)state;
	for (gcm = 0; gcm <= 1; gcm++) {
		len = build_sealed_auth(buf, sizeof(buf), gcm);
		fixed_keys(&k, gcm);
		assert_int_equal(ike_msg_parse(buf, len, &msg), IKE_MSG_OK);
		assert_int_equal(ike_sk_open(&k, true, &msg, plain,
					     sizeof(plain), &plain_len),
				 IKE_CRYPTO_OK);
		assert_int_equal(ike_msg_add_decrypted(&msg, plain, plain_len),
				 IKE_MSG_OK);
		assert_int_equal(msg.npl, 1 + 6);
		assert_non_null(ike_msg_find(&msg, IKEV2_PL_TSR, NULL));
		ike_sa_keys_wipe(&k);
	}
}

/* ---- a certificate IKE_AUTH, for the fuzzer's DER parsers ------------------------------ */

/* A self-signed ECDSA certificate (DER) and, in *key, its key. */
static size_t self_signed(uint8_t **der, EVP_PKEY **key)
{
	X509 *x = X509_new();
	X509_NAME *name;
	int len;

	*key = EVP_EC_gen("P-256");
	assert_non_null(*key);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)"seed.example", -1,
				   -1, 0);
	X509_set_issuer_name(x, name);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, *key);
	assert_true(X509_sign(x, *key, EVP_sha256()) > 0);
	*der = NULL;
	len = i2d_X509(x, der);
	assert_true(len > 0);
	X509_free(x);
	return (size_t)len;
}

/* IDi (its DN), CERT, CERTREQ, AUTH (RFC 7427, ECDSA) and AUTH (RSA-PSS
 * AlgorithmIdentifier), unencrypted so the fuzzer reaches them at once. */
static size_t build_cert_auth(uint8_t *buf, size_t cap)
{
	static const uint8_t octets[] = "signed octets";
	const struct ike_header hdr = { .ispi = 0x0102030405060708ULL,
		.rspi = 0x1112131415161718ULL, .version = IKEV2_VERSION,
		.exchange = IKEV2_EXCH_IKE_AUTH, .flags = IKEV2_FLAG_INITIATOR,
		.msgid = 1 };
	uint8_t *der, *dn = NULL, sig[SIG_AUTH_MAX], hashes[40] = { 1 };
	struct ike_builder b;
	EVP_PKEY *key, *rsa = EVP_RSA_gen(1024);
	const char *why;
	size_t der_len = self_signed(&der, &key), sig_len = 0, len;
	int dn_len;
	X509 *x;
	const uint8_t *p = der;

	x = d2i_X509(NULL, &p, (long)der_len);
	dn_len = i2d_X509_NAME(X509_get_subject_name(x), &dn);
	ike_build_message(&b, buf, cap, &hdr);
	ike_add_id(&b, IKEV2_PL_IDI, &(struct ike_id){ IKEV2_ID_DER_ASN1_DN,
						       dn, (size_t)dn_len });
	ike_add_cert(&b, &(struct ike_cert){ IKEV2_CERT_X509_SIG, der,
					     der_len });
	ike_add_certreq(&b, &(struct ike_cert){ IKEV2_CERT_X509_SIG, hashes,
						sizeof(hashes) });
	assert_int_equal(sig_auth_sign_as(key, SIG_ECDSA, IKEV2_HASH_SHA2_256,
					  octets, sizeof(octets), sig,
					  sizeof(sig), &sig_len, &why), 0);
	ike_add_auth(&b, &(struct ike_auth){ .method =
			IKEV2_AUTH_DIGITAL_SIGNATURE, .data = sig,
			.len = sig_len });
	assert_non_null(rsa);
	assert_int_equal(sig_auth_sign_as(rsa, SIG_RSA_PSS, IKEV2_HASH_SHA2_384,
					  octets, sizeof(octets), sig,
					  sizeof(sig), &sig_len, &why), 0);
	ike_add_auth(&b, &(struct ike_auth){ .method =
			IKEV2_AUTH_DIGITAL_SIGNATURE, .data = sig,
			.len = sig_len });
	assert_int_equal(ike_build_finish(&b, &len), IKE_MSG_OK);
	OPENSSL_free(dn);
	OPENSSL_free(der);
	X509_free(x);
	EVP_PKEY_free(key);
	EVP_PKEY_free(rsa);
	return len;
}

/* That message decodes: the certificate into a chain whose subject is
 * the ID, both AUTH payloads into an AlgorithmIdentifier and a signature. */
static void test_cert_auth_seed(void **state)
{
	uint8_t buf[4096];
	const struct ike_payload *pl;
	struct cert_chain *ch = cert_chain_new();
	struct ike_msg msg;
	struct ike_cert c;
	struct ike_auth a;
	struct ike_id id;
	char why[256];

	(void)state;
	assert_int_equal(ike_msg_parse(buf, build_cert_auth(buf, sizeof(buf)),
				       &msg), IKE_MSG_OK);
	assert_int_equal(ike_decode_cert(ike_msg_find(&msg, IKEV2_PL_CERT,
						      NULL), &c), IKE_MSG_OK);
	assert_int_equal(cert_chain_add(ch, c.data, c.len), 0);
	assert_int_equal(ike_decode_id(ike_msg_find(&msg, IKEV2_PL_IDI, NULL),
				       &id), IKE_MSG_OK);
	assert_int_equal(cert_id_bound(ch, id.type, id.data, id.len, why,
				       sizeof(why)), CERT_OK);
	pl = ike_msg_find(&msg, IKEV2_PL_AUTH, NULL);
	assert_int_equal(ike_decode_auth(pl, &a), IKE_MSG_OK);
	assert_int_equal(a.sig_alg_len, 12);		/* ecdsa-with-SHA256 */
	pl = ike_msg_find(&msg, IKEV2_PL_AUTH, pl);
	assert_int_equal(ike_decode_auth(pl, &a), IKE_MSG_OK);
	assert_true(a.sig_alg_len > 40);		/* RSASSA-PSS params */
	assert_int_equal(a.sig_len, 128);
	cert_chain_free(ch);
}

static int write_file(const char *dir, const char *name, const uint8_t *p,
		      size_t len)
{
	char path[4096];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f) {
		perror(path);
		return -1;
	}
	ok = fwrite(p, 1, len, f) == len;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/* cmocka's asserts need a running test; the seeds are built inside one. */
static const char *seed_dir;
static int seed_status;

static void write_seeds(void **state)
{
	uint8_t buf[1024];
	size_t len;

	(void)state;
	seed_status |= write_file(seed_dir, "ike_sa_init_request.bin", sa_init,
				  sizeof(sa_init));
	len = build_every_payload(buf, sizeof(buf));
	seed_status |= write_file(seed_dir, "every_payload.bin", buf, len);
	len = build_sealed_auth(buf, sizeof(buf), true);
	seed_status |= write_file(seed_dir, "ike_auth_aes_gcm.bin", buf, len);
	len = build_sealed_auth(buf, sizeof(buf), false);
	seed_status |= write_file(seed_dir, "ike_auth_aes_cbc.bin", buf, len);
	len = build_vendor_chain(buf, sizeof(buf), 3);
	seed_status |= write_file(seed_dir, "informational_vendor.bin", buf, len);
	{
		uint8_t big[4096];

		len = build_cert_auth(big, sizeof(big));
		seed_status |= write_file(seed_dir, "ike_auth_cert.bin", big,
					  len);
	}
	assert_int_equal(seed_status, 0);
}

int main(void)
{
	const struct CMUnitTest seeds[] = { cmocka_unit_test(write_seeds) };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sa_init_header),
		cmocka_unit_test(test_sa_init_sa),
		cmocka_unit_test(test_sa_init_ke_nonce_notify),
		cmocka_unit_test(test_sa_init_reencodes),
		cmocka_unit_test(test_round_trip_sa_ts),
		cmocka_unit_test(test_round_trip_small_payloads),
		cmocka_unit_test(test_round_trip_notify_delete),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_every_truncation_with_fixed_length),
		cmocka_unit_test(test_malformed_messages),
		cmocka_unit_test(test_oversized_datagram),
		cmocka_unit_test(test_payload_limit),
		cmocka_unit_test(test_decrypted_chain),
		cmocka_unit_test(test_malformed_bodies),
		cmocka_unit_test(test_decoder_limits),
		cmocka_unit_test(test_notify_helpers),
		cmocka_unit_test(test_encoder_refusals),
		cmocka_unit_test(test_encoder_bounds),
		cmocka_unit_test(test_error_names),
		cmocka_unit_test(test_udp4500),
		cmocka_unit_test(test_sealed_seed_opens),
		cmocka_unit_test(test_cert_auth_seed),
	};

	seed_dir = getenv("IKE_MSG_WRITE_SEEDS");
	if (seed_dir)
		return cmocka_run_group_tests(seeds, NULL, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
