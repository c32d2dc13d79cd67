// SPDX-License-Identifier: GPL-2.0-only
/*
 * wire_crypto_sk.c - the Encrypted payload (RFC 7296 §3.14, RFC 5282): sealing and opening with AEAD or CBC + HMAC
 */
#include <pthread.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/dh.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include "wire/wire_crypto.h"
#include "wire/wire_crypto_internal.h"

/* ---- the Encrypted payload ----------------------------------------------------- */

/* The sender's half of the IKE SA keys. */
struct sk_dir {
	const struct ike_suite *suite;
	const uint8_t *encr, *integ;
	size_t encr_len;
};

static struct sk_dir sk_direction(const struct ike_sa_keys *k,
				  bool from_initiator)
{
	struct sk_dir d = {
		&k->suite,
		from_initiator ? k->sk_ei : k->sk_er,
		from_initiator ? k->sk_ai : k->sk_ar,
		k->encr_len,
	};
	return d;
}

static size_t sk_iv_len(const struct ike_suite *s)
{
	return ike_encr_is_aead(s->encr) ? IKE_GCM_IV_LEN : IKE_AES_BLOCK;
}

static size_t sk_icv_len(const struct ike_suite *s)
{
	return ike_encr_is_aead(s->encr) ? IKE_GCM_ICV_LEN
					 : ike_integ_icv_len(s->integ);
}

/* Padding so that data | padding | pad length fills whole blocks; GCM
 * needs none (RFC 5282 §3). */
static size_t sk_pad_len(const struct ike_suite *s, size_t plain_len)
{
	if (ike_encr_is_aead(s->encr))
		return 0;
	return (IKE_AES_BLOCK - (plain_len + 1) % IKE_AES_BLOCK) % IKE_AES_BLOCK;
}

size_t ike_sk_overhead(const struct ike_suite *s)
{
	return IKEV2_HEADER_LEN + IKEV2_PAYLOAD_HEADER_LEN + sk_iv_len(s) +
	       IKE_AES_BLOCK /* padding and pad length, at most */ +
	       sk_icv_len(s);
}

/* GCM nonce = salt (the last 4 bytes of SK_e) | the 8-byte IV. */
static void gcm_nonce(const struct sk_dir *d, const uint8_t *iv,
		      uint8_t nonce[IKE_GCM_NONCE_LEN])
{
	memcpy(nonce, d->encr + d->encr_len - IKE_GCM_SALT_LEN,
	       IKE_GCM_SALT_LEN);
	memcpy(nonce + IKE_GCM_SALT_LEN, iv, IKE_GCM_IV_LEN);
}

/* msg[0..sk_body) is header and SK header; then IV, data (len bytes,
 * padded plaintext in place), ICV. */
static enum ike_crypto_err seal_gcm(const struct sk_dir *d, uint8_t *msg,
				    size_t sk_body, size_t len)
{
	uint8_t nonce[IKE_GCM_NONCE_LEN];
	uint8_t *iv = msg + sk_body, *data = iv + IKE_GCM_IV_LEN;

	gcm_nonce(d, iv, nonce);
	return ike_aes_gcm_seal(d->encr, d->encr_len - IKE_GCM_SALT_LEN, nonce,
				msg, sk_body, data, len, data, data + len);
}

static enum ike_crypto_err seal_cbc(const struct sk_dir *d, uint8_t *msg,
				    size_t sk_body, size_t len)
{
	uint8_t *iv = msg + sk_body, *data = iv + IKE_AES_BLOCK;
	enum ike_crypto_err err;

	err = ike_aes_cbc(true, d->encr, d->encr_len, iv, data, len, data);
	if (err != IKE_CRYPTO_OK)
		return err;
	/* the ICV covers everything before it, header included (§3.14) */
	return ike_integ_icv(d->suite->integ, d->integ, msg,
			     (size_t)(data + len - msg), data + len);
}

/* The Encrypted payload (SK) or one Encrypted Fragment (SKF, RFC 7383
 * §2.5: Fragment Number and Total Fragments before the IV, covered by the
 * ICV and, with AES-GCM, by the AAD). */
struct sk_kind {
	uint8_t type;			/* IKEV2_PL_SK or IKEV2_PL_SKF */
	uint16_t number, total;		/* SKF */
};

static size_t sk_prefix_len(uint8_t type)
{
	return type == IKEV2_PL_SKF ? IKE_SKF_PREFIX_LEN : 0;
}

/* Write header and SK (SKF) header for a message of total bytes. */
static void write_sk_headers(uint8_t *out, const struct ike_header *hdr,
			     const struct sk_kind *kind, uint8_t first_inner,
			     size_t total)
{
	struct ike_header h = *hdr;
	uint8_t *sk = out + IKEV2_HEADER_LEN;
	size_t sk_len = total - IKEV2_HEADER_LEN;

	h.next_payload = kind->type;
	h.length = (uint32_t)total;
	ike_header_encode(&h, out);
	sk[0] = first_inner;
	sk[1] = 0;
	sk[2] = (uint8_t)(sk_len >> 8);
	sk[3] = (uint8_t)sk_len;
	if (kind->type == IKEV2_PL_SKF) {
		sk[4] = (uint8_t)(kind->number >> 8);
		sk[5] = (uint8_t)kind->number;
		sk[6] = (uint8_t)(kind->total >> 8);
		sk[7] = (uint8_t)kind->total;
	}
}

static enum ike_crypto_err seal_any(const struct ike_sa_keys *k,
				    bool from_initiator,
				    const struct ike_header *hdr,
				    const struct sk_kind *kind,
				    uint8_t first_inner,
				    const uint8_t *plain, size_t plain_len,
				    uint8_t *out, size_t cap, size_t *out_len)
{
	struct sk_dir d = sk_direction(k, from_initiator);
	size_t sk_body = IKEV2_HEADER_LEN + IKEV2_PAYLOAD_HEADER_LEN +
			 sk_prefix_len(kind->type);
	size_t iv_len = sk_iv_len(&k->suite);
	size_t pad = sk_pad_len(&k->suite, plain_len);
	size_t data_len = plain_len + pad + 1;
	size_t total = sk_body + iv_len + data_len + sk_icv_len(&k->suite);
	uint8_t *data;
	enum ike_crypto_err err;

	if (!ike_suite_usable(&k->suite, true))
		return IKE_CRYPTO_E_UNSUPPORTED;
	if (plain_len > IKEV2_MAX_MESSAGE_LEN || total > IKEV2_MAX_MESSAGE_LEN)
		return IKE_CRYPTO_E_ARGUMENT;
	if (total > cap)
		return IKE_CRYPTO_E_NO_SPACE;
	/* The plaintext first: it may have been built inside out. */
	data = out + sk_body + iv_len;
	memmove(data, plain, plain_len);
	memset(data + plain_len, 0, pad);
	data[plain_len + pad] = (uint8_t)pad;
	write_sk_headers(out, hdr, kind, first_inner, total);
	err = ike_random(out + sk_body, iv_len);
	if (err == IKE_CRYPTO_OK)
		err = ike_encr_is_aead(k->suite.encr)
			? seal_gcm(&d, out, sk_body, data_len)
			: seal_cbc(&d, out, sk_body, data_len);
	if (err != IKE_CRYPTO_OK) {
		OPENSSL_cleanse(out, total);
		return err;
	}
	*out_len = total;
	return IKE_CRYPTO_OK;
}

enum ike_crypto_err ike_sk_seal(const struct ike_sa_keys *k,
				bool from_initiator,
				const struct ike_header *hdr,
				uint8_t first_inner,
				const uint8_t *plain, size_t plain_len,
				uint8_t *out, size_t cap, size_t *out_len)
{
	const struct sk_kind kind = { IKEV2_PL_SK, 0, 0 };

	return seal_any(k, from_initiator, hdr, &kind, first_inner, plain,
			plain_len, out, cap, out_len);
}

enum ike_crypto_err ike_skf_seal(const struct ike_sa_keys *k,
				 bool from_initiator,
				 const struct ike_header *hdr,
				 uint8_t first_inner, uint16_t number,
				 uint16_t total, const uint8_t *plain,
				 size_t plain_len, uint8_t *out, size_t cap,
				 size_t *out_len)
{
	const struct sk_kind kind = { IKEV2_PL_SKF, number, total };

	if (number < 1 || number > total)
		return IKE_CRYPTO_E_ARGUMENT;
	/* only the first fragment names the first inner payload */
	return seal_any(k, from_initiator, hdr, &kind,
			number == 1 ? first_inner : 0, plain, plain_len, out,
			cap, out_len);
}

size_t ike_skf_overhead(const struct ike_suite *s)
{
	return ike_sk_overhead(s) + IKE_SKF_PREFIX_LEN;
}

/* Strip padding from len decrypted bytes. */
static enum ike_crypto_err unpad(const uint8_t *plain, size_t len,
				 size_t *plain_len)
{
	size_t pad = plain[len - 1];

	if (pad + 1 > len)
		return IKE_CRYPTO_E_PADDING;
	*plain_len = len - pad - 1;
	return IKE_CRYPTO_OK;
}

/* The encrypted part of an SK or SKF payload: from the IV on. */
struct sk_span {
	const uint8_t *iv;
	size_t len;			/* IV, data, ICV */
};

static enum ike_crypto_err open_gcm(const struct sk_dir *d,
				    const struct ike_msg *msg,
				    const struct sk_span *sk,
				    uint8_t *plain, size_t cap, size_t *len)
{
	uint8_t nonce[IKE_GCM_NONCE_LEN];
	size_t data_len;

	if (sk->len < IKE_GCM_IV_LEN + 1 + IKE_GCM_ICV_LEN)
		return IKE_CRYPTO_E_SK_LENGTH;
	data_len = sk->len - IKE_GCM_IV_LEN - IKE_GCM_ICV_LEN;
	if (data_len > cap)
		return IKE_CRYPTO_E_NO_SPACE;
	gcm_nonce(d, sk->iv, nonce);
	*len = data_len;
	/* AAD: everything before the IV, i.e. the IKE header and the SK
	 * payload header (SKF: and the fragment numbers) */
	return ike_aes_gcm_open(d->encr, d->encr_len - IKE_GCM_SALT_LEN, nonce,
				msg->raw, (size_t)(sk->iv - msg->raw),
				sk->iv + IKE_GCM_IV_LEN, data_len,
				sk->iv + IKE_GCM_IV_LEN + data_len, plain);
}

static enum ike_crypto_err open_cbc(const struct sk_dir *d,
				    const struct ike_msg *msg,
				    const struct sk_span *sk,
				    uint8_t *plain, size_t cap, size_t *len)
{
	size_t icv_len = ike_integ_icv_len(d->suite->integ), data_len;
	const uint8_t *icv;
	uint8_t expect[IKE_INTEG_MAX_ICV];
	enum ike_crypto_err err;

	if (sk->len < IKE_AES_BLOCK + IKE_AES_BLOCK + icv_len)
		return IKE_CRYPTO_E_SK_LENGTH;
	data_len = sk->len - IKE_AES_BLOCK - icv_len;
	if (data_len % IKE_AES_BLOCK)
		return IKE_CRYPTO_E_SK_LENGTH;
	if (data_len > cap)
		return IKE_CRYPTO_E_NO_SPACE;
	/* Encrypt-then-MAC: nothing is decrypted before the ICV holds. */
	icv = sk->iv + sk->len - icv_len;
	err = ike_integ_icv(d->suite->integ, d->integ, msg->raw,
			    (size_t)(icv - msg->raw), expect);
	if (err != IKE_CRYPTO_OK)
		return err;
	if (!ike_ct_equal(expect, icv, icv_len))
		return IKE_CRYPTO_E_ICV;
	*len = data_len;
	return ike_aes_cbc(false, d->encr, d->encr_len, sk->iv,
			   sk->iv + IKE_AES_BLOCK, data_len, plain);
}

enum ike_crypto_err ike_sk_open(const struct ike_sa_keys *k,
				bool from_initiator,
				const struct ike_msg *msg,
				uint8_t *plain, size_t cap, size_t *plain_len)
{
	struct sk_dir d = sk_direction(k, from_initiator);
	const struct ike_payload *sk;
	struct sk_span span;
	enum ike_crypto_err err;
	size_t len = 0, prefix;

	if (msg->sk_index == IKE_MSG_NO_SK)
		return IKE_CRYPTO_E_NO_SK;
	sk = &msg->pl[msg->sk_index];
	prefix = sk_prefix_len(sk->type);
	if (sk->len < prefix)
		return IKE_CRYPTO_E_SK_LENGTH;
	span.iv = sk->body + prefix;
	span.len = sk->len - prefix;
	if (!ike_suite_usable(&k->suite, true))
		return IKE_CRYPTO_E_UNSUPPORTED;
	err = ike_encr_is_aead(k->suite.encr)
		? open_gcm(&d, msg, &span, plain, cap, &len)
		: open_cbc(&d, msg, &span, plain, cap, &len);
	if (err == IKE_CRYPTO_OK)
		err = unpad(plain, len, plain_len);
	if (err != IKE_CRYPTO_OK)
		OPENSSL_cleanse(plain, len);
	return err;
}
