// SPDX-License-Identifier: GPL-2.0-only
/*
 * fuzz_message.c - libFuzzer target for the IKE message codec.
 *
 * One input is one IKE message as it arrives on port 500.  It goes through
 * the parser; every payload body is then handed to every typed decoder
 * (not only its own type's, so each decoder sees all shapes of input); SA,
 * TS, Notify and Delete payloads that decode are encoded again and must
 * decode to the same struct; an Encrypted payload is opened with two fixed
 * keys (AES-GCM and AES-CBC, both directions) and, whether or not its ICV
 * holds, its body is also walked as a decrypted payload chain.
 *
 * What reaches OpenSSL's DER parsers from the wire goes there too: CERT
 * data as a peer certificate (cert.c: the chain, its identities), an ID
 * as a distinguished name, AUTH data as a signature checked with fixed RSA
 * and ECDSA keys (signature.c: the RFC 7427 AlgorithmIdentifier and the
 * RSASSA-PSS parameters).
 *
 * Crashes, sanitizer reports and a failed round trip (abort) are findings.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "wire/wire_cert.h"
#include "wire/wire_crypto.h"
#include "wire/wire_message.h"
#include "wire/wire_signature.h"

static void require(bool ok)
{
	if (!ok)
		abort();
}

/* ---- round trips: decode(encode(x)) == x ------------------------------------------ */

static uint8_t scratch[1 << 16];

/* The single payload a builder wrote into scratch, as a struct ike_payload. */
static bool rebuilt_payload(struct ike_builder *b, uint8_t type,
			    struct ike_payload *pl)
{
	size_t len;

	if (ike_build_finish(b, &len) != IKE_MSG_OK)
		return false;
	require(len >= IKEV2_PAYLOAD_HEADER_LEN && b->first == type);
	pl->type = type;
	pl->body = scratch + IKEV2_PAYLOAD_HEADER_LEN;
	pl->len = len - IKEV2_PAYLOAD_HEADER_LEN;
	return true;
}

static void same_transform(const struct ike_transform *a,
			   const struct ike_transform *b)
{
	/* unknown attributes are not re-encoded, so unknown_attr may differ */
	require(a->type == b->type && a->id == b->id &&
		a->key_bits == b->key_bits);
}

static void same_sa(const struct ike_sa *a, const struct ike_sa *b)
{
	size_t i, j;

	require(a->nproposals == b->nproposals);
	for (i = 0; i < a->nproposals; i++) {
		const struct ike_proposal *p = &a->prop[i], *q = &b->prop[i];

		require(p->num == q->num && p->protocol == q->protocol &&
			p->spi_size == q->spi_size &&
			memcmp(p->spi, q->spi, p->spi_size) == 0 &&
			p->ntransforms == q->ntransforms);
		for (j = 0; j < p->ntransforms; j++)
			same_transform(&p->xf[j], &q->xf[j]);
	}
}

static void sa_round_trip(const struct ike_sa *sa)
{
	static struct ike_sa again;
	struct ike_builder b;
	struct ike_payload pl;

	ike_build_chain(&b, scratch, sizeof(scratch));
	ike_add_sa(&b, sa);	/* may refuse: e.g. a proposal of no transforms */
	if (!rebuilt_payload(&b, IKEV2_PL_SA, &pl))
		return;
	require(ike_decode_sa(&pl, &again) == IKE_MSG_OK);
	same_sa(sa, &again);
}

static void ts_round_trip(uint8_t type, const struct ike_ts_set *ts)
{
	static struct ike_ts_set again;
	struct ike_builder b;
	struct ike_payload pl;

	ike_build_chain(&b, scratch, sizeof(scratch));
	ike_add_ts(&b, type, ts);	/* refuses a set of only unknown types */
	if (!rebuilt_payload(&b, type, &pl))
		return;
	require(ike_decode_ts(&pl, &again) == IKE_MSG_OK);
	require(again.nts == ts->nts && again.nunknown == 0 &&
		memcmp(again.ts, ts->ts, ts->nts * sizeof(ts->ts[0])) == 0);
}

static void notify_round_trip(const struct ike_notify *n)
{
	struct ike_notify again;
	struct ike_builder b;
	struct ike_payload pl;

	ike_build_chain(&b, scratch, sizeof(scratch));
	require(ike_add_notify(&b, n) == IKE_MSG_OK);
	require(rebuilt_payload(&b, IKEV2_PL_NOTIFY, &pl));
	require(ike_decode_notify(&pl, &again) == IKE_MSG_OK);
	require(again.protocol == n->protocol &&
		again.spi_size == n->spi_size && again.type == n->type &&
		again.len == n->len &&
		memcmp(again.spi ? again.spi : scratch,
		       n->spi ? n->spi : scratch, n->spi_size) == 0 &&
		memcmp(again.data, n->data, n->len) == 0);
}

static void delete_round_trip(const struct ike_delete *d)
{
	size_t spi_bytes = (size_t)d->nspi * d->spi_size;
	struct ike_delete again;
	struct ike_builder b;
	struct ike_payload pl;

	ike_build_chain(&b, scratch, sizeof(scratch));
	require(ike_add_delete(&b, d) == IKE_MSG_OK);
	require(rebuilt_payload(&b, IKEV2_PL_DELETE, &pl));
	require(ike_decode_delete(&pl, &again) == IKE_MSG_OK);
	require(again.protocol == d->protocol &&
		again.spi_size == d->spi_size && again.nspi == d->nspi &&
		memcmp(again.spis, d->spis, spi_bytes) == 0);
}

/* ---- every decoder on every body ----------------------------------------------------- */

static const uint8_t decoder_types[] = {
	IKEV2_PL_SA, IKEV2_PL_KE, IKEV2_PL_IDI, IKEV2_PL_CERT,
	IKEV2_PL_CERTREQ, IKEV2_PL_AUTH, IKEV2_PL_NONCE, IKEV2_PL_NOTIFY,
	IKEV2_PL_DELETE, IKEV2_PL_VENDOR, IKEV2_PL_TSI, IKEV2_PL_SK,
};

static void decode_notify_data(const struct ike_notify *n)
{
	uint16_t group, algs[8];
	size_t nalgs;

	(void)ike_notify_dh_group(n, &group);
	(void)ike_notify_hash_algs(n, algs, 8, &nalgs);
}

static EVP_PKEY *sig_keys[2];	/* RSA, ECDSA P-256 */

/* The DER the CERT, ID and AUTH payloads carry. */
static void cert_as_peer(const struct ike_cert *c)
{
	struct cert_chain *ch = cert_chain_new();
	char why[256];

	require(ch != NULL);
	if (c->encoding == IKEV2_CERT_X509_SIG &&
	    cert_chain_add(ch, c->data, c->len) == 0) {
		(void)cert_chain_subject(ch, why, sizeof(why));
		(void)cert_id_bound(ch, IKEV2_ID_FQDN, c->data,
				    c->len > 20 ? 20 : c->len, why, sizeof(why));
		(void)cert_id_bound(ch, IKEV2_ID_DER_ASN1_DN, c->data, c->len,
				    why, sizeof(why));
		require(cert_chain_key(ch) != NULL);
	}
	cert_chain_free(ch);
}

static void id_as_dn(const struct ike_id *id)
{
	char buf[256];

	(void)cert_dn_str(id->data, id->len, buf, sizeof(buf));
}

static void auth_as_signature(const struct ike_auth *a)
{
	static const uint8_t octets[] = "signed octets";
	const char *why;
	size_t k;

	for (k = 0; k < 2; k++)
		(void)sig_auth_verify(sig_keys[k], a, octets, sizeof(octets),
				      &why);
}

static void decode_as(const struct ike_payload *pl)
{
	static struct ike_sa sa;
	static struct ike_ts_set ts;
	struct ike_ke ke;
	struct ike_nonce nonce;
	struct ike_id id;
	struct ike_cert cert;
	struct ike_auth auth;
	struct ike_notify n;
	struct ike_delete d;
	struct ike_vendor v;
	struct ike_sk sk;
	size_t i;

	switch (pl->type) {
	case IKEV2_PL_SA:
		if (ike_decode_sa(pl, &sa) == IKE_MSG_OK)
			sa_round_trip(&sa);
		break;
	case IKEV2_PL_TSI:
		if (ike_decode_ts(pl, &ts) == IKE_MSG_OK)
			ts_round_trip(pl->type, &ts);
		break;
	case IKEV2_PL_NOTIFY:
		if (ike_decode_notify(pl, &n) == IKE_MSG_OK) {
			decode_notify_data(&n);
			notify_round_trip(&n);
		}
		break;
	case IKEV2_PL_DELETE:
		if (ike_decode_delete(pl, &d) == IKE_MSG_OK) {
			for (i = 0; i < d.nspi && d.spi_size == 4; i++)
				(void)ike_delete_spi(&d, i);
			delete_round_trip(&d);
		}
		break;
	case IKEV2_PL_KE: (void)ike_decode_ke(pl, &ke); break;
	case IKEV2_PL_NONCE: (void)ike_decode_nonce(pl, &nonce); break;
	case IKEV2_PL_IDI:
		if (ike_decode_id(pl, &id) == IKE_MSG_OK)
			id_as_dn(&id);
		break;
	case IKEV2_PL_CERT:
		if (ike_decode_cert(pl, &cert) == IKE_MSG_OK)
			cert_as_peer(&cert);
		break;
	case IKEV2_PL_CERTREQ: (void)ike_decode_certreq(pl, &cert); break;
	case IKEV2_PL_AUTH:
		if (ike_decode_auth(pl, &auth) == IKE_MSG_OK)
			auth_as_signature(&auth);
		break;
	case IKEV2_PL_VENDOR: (void)ike_decode_vendor(pl, &v); break;
	case IKEV2_PL_SK: (void)ike_decode_sk(pl, &sk); break;
	}
}

static void decode_all(const struct ike_msg *msg)
{
	size_t i, t;

	for (i = 0; i < msg->npl; i++) {
		for (t = 0; t < sizeof(decoder_types); t++) {
			struct ike_payload as = msg->pl[i];

			as.type = decoder_types[t];
			decode_as(&as);
		}
	}
}

/* ---- the Encrypted payload ------------------------------------------------------------- */

/* Must match fixed_keys() in tests/unit/test_ike_message.c, which seals
 * the corpus's IKE_AUTH seeds with these keys. */
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
	require(ike_sa_keys_derive(k, gcm ? &gcm_suite : &cbc_suite, skeyseed,
				   ni, 16, nr, 16, 0x0102030405060708ULL,
				   0x1112131415161718ULL) == IKE_CRYPTO_OK);
}

static struct ike_sa_keys keys[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fixed_keys(&keys[0], true);
	fixed_keys(&keys[1], false);
	sig_keys[0] = EVP_RSA_gen(1024);	/* only ever verifies */
	sig_keys[1] = EVP_EC_gen("P-256");
	require(sig_keys[0] && sig_keys[1]);
	return 0;
}

static void try_open(const struct ike_msg *msg)
{
	static uint8_t plain[1 << 16];
	static struct ike_msg inner;
	size_t k, dir, len;

	for (k = 0; k < 2; k++) {
		for (dir = 0; dir < 2; dir++) {
			if (ike_sk_open(&keys[k], dir, msg, plain, sizeof(plain),
					&len) != IKE_CRYPTO_OK)
				continue;
			inner = *msg;
			(void)ike_msg_add_decrypted(&inner, plain, len);
			decode_all(&inner);
		}
	}
}

/* The SK body as if it had decrypted to itself: fuzzes the inner chain
 * walker, which the ICV otherwise keeps out of reach. */
static void walk_sk_body_as_plaintext(const struct ike_msg *msg)
{
	static struct ike_msg inner;
	const struct ike_payload *sk = &msg->pl[msg->sk_index];

	inner = *msg;
	if (ike_msg_add_decrypted(&inner, sk->body, sk->len) == IKE_MSG_OK)
		require(inner.npl > msg->npl || sk->next == IKEV2_PL_NONE);
	decode_all(&inner);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ike_msg msg;
	const uint8_t *ike;
	size_t ike_len;
	enum ike_msg_err err;

	(void)ike_udp4500_classify(data, size, &ike, &ike_len);
	err = ike_msg_parse(data, size, &msg);
	require(ike_msg_strerror(err) != NULL);
	if (err == IKE_MSG_E_SHORT_HEADER)
		return 0;
	/* On a chain error the payloads before it are still valid views. */
	require(msg.npl <= IKE_MSG_MAX_PAYLOADS);
	decode_all(&msg);
	if (err == IKE_MSG_OK && msg.sk_index != IKE_MSG_NO_SK) {
		try_open(&msg);
		walk_sk_body_as_plaintext(&msg);
	}
	return 0;
}
