// SPDX-License-Identifier: GPL-2.0-only
/*
 * wire_crypto.c - IKEv2 cryptography over OpenSSL 3 EVP; see wire_crypto.h.
 * Diffie-Hellman is in wire_crypto_dh.c, the Encrypted payload in
 * wire_crypto_sk.c.
 *
 * Every temporary that held key material is cleared before return, on
 * the error paths too (the `done:` labels).  The algorithms (HMAC with
 * each digest, the AES ciphers) are fetched once and kept, never a key:
 * the daemon is one thread, and fetching by name on every use was a
 * measurable part of an IKE setup (tests/bench/README.md, ike_setup).
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

static const char *const err_names[IKE_CRYPTO_E_COUNT] = {
	[IKE_CRYPTO_OK]		   = "no error",
	[IKE_CRYPTO_E_UNSUPPORTED] = "unsupported algorithm",
	[IKE_CRYPTO_E_ARGUMENT]	   = "length out of range",
	[IKE_CRYPTO_E_BAD_PUBLIC]  = "invalid peer public value",
	[IKE_CRYPTO_E_NO_SK]	   = "no encrypted payload",
	[IKE_CRYPTO_E_SK_LENGTH]   = "encrypted payload length invalid",
	[IKE_CRYPTO_E_ICV]	   = "integrity check failed",
	[IKE_CRYPTO_E_PADDING]	   = "invalid padding",
	[IKE_CRYPTO_E_AUTH]	   = "authentication data mismatch",
	[IKE_CRYPTO_E_NO_SPACE]	   = "output buffer too small",
	[IKE_CRYPTO_E_LIBCRYPTO]   = "libcrypto failure",
};

const char *ike_crypto_strerror(enum ike_crypto_err err)
{
	if ((unsigned)err >= IKE_CRYPTO_E_COUNT)
		return "unknown crypto error";
	return err_names[err];
}

/* ---- algorithm tables -------------------------------------------------------- */

static const char *prf_digest(uint16_t prf)
{
	switch (prf) {
	case IKEV2_PRF_HMAC_SHA2_256: return "SHA256";
	case IKEV2_PRF_HMAC_SHA2_384: return "SHA384";
	case IKEV2_PRF_HMAC_SHA2_512: return "SHA512";
	default: return NULL;
	}
}

size_t ike_prf_len(uint16_t prf)
{
	switch (prf) {
	case IKEV2_PRF_HMAC_SHA2_256: return 32;
	case IKEV2_PRF_HMAC_SHA2_384: return 48;
	case IKEV2_PRF_HMAC_SHA2_512: return 64;
	default: return 0;
	}
}

static const char *integ_digest(uint16_t integ)
{
	switch (integ) {
	case IKEV2_INTEG_HMAC_SHA2_256_128: return "SHA256";
	case IKEV2_INTEG_HMAC_SHA2_384_192: return "SHA384";
	case IKEV2_INTEG_HMAC_SHA2_512_256: return "SHA512";
	default: return NULL;
	}
}

/* RFC 4868: the key is the digest size, the ICV half of it. */
size_t ike_integ_key_len(uint16_t integ)
{
	switch (integ) {
	case IKEV2_INTEG_HMAC_SHA2_256_128: return 32;
	case IKEV2_INTEG_HMAC_SHA2_384_192: return 48;
	case IKEV2_INTEG_HMAC_SHA2_512_256: return 64;
	default: return 0;
	}
}

size_t ike_integ_icv_len(uint16_t integ)
{
	return ike_integ_key_len(integ) / 2;
}

bool ike_encr_is_aead(uint16_t encr)
{
	return encr == IKEV2_ENCR_AES_GCM_16;
}

static bool aes_key_bits_ok(uint16_t bits)
{
	return bits == 128 || bits == 192 || bits == 256;
}

size_t ike_encr_key_len(uint16_t encr, uint16_t key_bits)
{
	if (!aes_key_bits_ok(key_bits))
		return 0;
	switch (encr) {
	case IKEV2_ENCR_AES_CBC:
		return key_bits / 8;
	case IKEV2_ENCR_AES_GCM_16:
		return key_bits / 8 + IKE_GCM_SALT_LEN;	/* RFC 5282 §7.1 */
	default:
		return 0;
	}
}

static const struct dh_group dh_groups[] = {
	{ IKEV2_DH_MODP_2048,  "DH",     "modp_2048", NID_undef,           256, 256 },
	{ IKEV2_DH_ECP_256,    "EC",     "P-256",     NID_X9_62_prime256v1, 64, 32 },
	{ IKEV2_DH_ECP_384,    "EC",     "P-384",     NID_secp384r1,        96, 48 },
	{ IKEV2_DH_CURVE25519, "X25519", NULL,        NID_undef,            32, 32 },
};

bool is_x25519(const struct dh_group *g)
{
	return g->id == IKEV2_DH_CURVE25519;
}

bool is_ecp(const struct dh_group *g)
{
	return g->nid != NID_undef;
}

bool is_modp(const struct dh_group *g)
{
	return g->id == IKEV2_DH_MODP_2048;
}

const struct dh_group *find_group(uint16_t id)
{
	size_t i;

	for (i = 0; i < sizeof(dh_groups) / sizeof(dh_groups[0]); i++)
		if (dh_groups[i].id == id)
			return &dh_groups[i];
	return NULL;
}

size_t ike_dh_public_len(uint16_t group)
{
	const struct dh_group *g = find_group(group);

	return g ? g->public_len : 0;
}

struct transform_name {
	uint8_t type;
	uint16_t id;
	const char *name;
};

static const struct transform_name transform_names[] = {
	{ IKEV2_XFORM_ENCR, IKEV2_ENCR_DES, "ENCR_DES" },
	{ IKEV2_XFORM_ENCR, IKEV2_ENCR_3DES, "ENCR_3DES" },
	{ IKEV2_XFORM_ENCR, IKEV2_ENCR_NULL, "ENCR_NULL" },
	{ IKEV2_XFORM_ENCR, IKEV2_ENCR_AES_CBC, "ENCR_AES_CBC" },
	{ IKEV2_XFORM_ENCR, IKEV2_ENCR_AES_CTR, "ENCR_AES_CTR" },
	{ IKEV2_XFORM_ENCR, IKEV2_ENCR_AES_GCM_8, "ENCR_AES_GCM_8" },
	{ IKEV2_XFORM_ENCR, IKEV2_ENCR_AES_GCM_12, "ENCR_AES_GCM_12" },
	{ IKEV2_XFORM_ENCR, IKEV2_ENCR_AES_GCM_16, "ENCR_AES_GCM_16" },
	{ IKEV2_XFORM_PRF, IKEV2_PRF_HMAC_MD5, "PRF_HMAC_MD5" },
	{ IKEV2_XFORM_PRF, IKEV2_PRF_HMAC_SHA1, "PRF_HMAC_SHA1" },
	{ IKEV2_XFORM_PRF, IKEV2_PRF_HMAC_SHA2_256, "PRF_HMAC_SHA2_256" },
	{ IKEV2_XFORM_PRF, IKEV2_PRF_HMAC_SHA2_384, "PRF_HMAC_SHA2_384" },
	{ IKEV2_XFORM_PRF, IKEV2_PRF_HMAC_SHA2_512, "PRF_HMAC_SHA2_512" },
	{ IKEV2_XFORM_INTEG, IKEV2_INTEG_NONE, "AUTH_NONE" },
	{ IKEV2_XFORM_INTEG, IKEV2_INTEG_HMAC_MD5_96, "AUTH_HMAC_MD5_96" },
	{ IKEV2_XFORM_INTEG, IKEV2_INTEG_HMAC_SHA1_96, "AUTH_HMAC_SHA1_96" },
	{ IKEV2_XFORM_INTEG, IKEV2_INTEG_HMAC_SHA2_256_128, "AUTH_HMAC_SHA2_256_128" },
	{ IKEV2_XFORM_INTEG, IKEV2_INTEG_HMAC_SHA2_384_192, "AUTH_HMAC_SHA2_384_192" },
	{ IKEV2_XFORM_INTEG, IKEV2_INTEG_HMAC_SHA2_512_256, "AUTH_HMAC_SHA2_512_256" },
	{ IKEV2_XFORM_DH, IKEV2_DH_NONE, "DH_NONE" },
	{ IKEV2_XFORM_DH, IKEV2_DH_MODP_768, "DH_MODP_768" },
	{ IKEV2_XFORM_DH, IKEV2_DH_MODP_1024, "DH_MODP_1024" },
	{ IKEV2_XFORM_DH, IKEV2_DH_MODP_1536, "DH_MODP_1536" },
	{ IKEV2_XFORM_DH, IKEV2_DH_MODP_2048, "DH_MODP_2048" },
	{ IKEV2_XFORM_DH, IKEV2_DH_ECP_256, "DH_ECP_256" },
	{ IKEV2_XFORM_DH, IKEV2_DH_ECP_384, "DH_ECP_384" },
	{ IKEV2_XFORM_DH, IKEV2_DH_CURVE25519, "DH_CURVE25519" },
	{ IKEV2_XFORM_ESN, IKEV2_ESN_NO, "ESN_NO" },
	{ IKEV2_XFORM_ESN, IKEV2_ESN_YES, "ESN_YES" },
};

const char *ike_transform_name(uint8_t type, uint16_t id)
{
	size_t i;

	for (i = 0; i < sizeof(transform_names) / sizeof(transform_names[0]); i++)
		if (transform_names[i].type == type && transform_names[i].id == id)
			return transform_names[i].name;
	return "unknown";
}

static bool cipher_and_integ_ok(const struct ike_suite *s)
{
	if (ike_encr_is_aead(s->encr))
		return s->integ == IKEV2_INTEG_NONE &&
		       ike_encr_key_len(s->encr, s->encr_key_bits) > 0;
	if (ike_integ_key_len(s->integ) == 0)
		return false;
	/* ESP with NULL encryption, or AH: integrity alone */
	if (s->encr == IKEV2_ENCR_NULL)
		return s->encr_key_bits == 0;
	return ike_encr_key_len(s->encr, s->encr_key_bits) > 0;
}

bool ike_suite_usable(const struct ike_suite *s, bool ike_sa)
{
	if (ike_sa)
		return s->encr != IKEV2_ENCR_NULL && cipher_and_integ_ok(s) &&
		       ike_prf_len(s->prf) > 0 && ike_dh_public_len(s->dh) > 0;
	return cipher_and_integ_ok(s) &&
	       (s->dh == IKEV2_DH_NONE || ike_dh_public_len(s->dh) > 0);
}

/* ---- primitives -------------------------------------------------------------- */

/*
 * DRBG output is drawn RANDOM_POOL bytes at a time: a RAND_bytes() call
 * costs a lock and a reseed check, more than the 8 or 32 bytes of an SPI or
 * a nonce.  Bytes are cleared from the pool as they are handed out, and a
 * forked child starts with empty pools (OpenSSL reseeds there).  Private
 * values (D-H keys) come from a pool of their own, filled from OpenSSL's
 * private DRBG (RAND_priv_bytes), as OpenSSL's own key generation does:
 * what is public (SPIs, nonces, IVs) never comes from the same generator.
 */
static struct random_pool public_pool = { .fill = RAND_bytes };
struct random_pool private_pool = { .fill = RAND_priv_bytes };

static void random_pools_forget(void)
{
	OPENSSL_cleanse(public_pool.buf, sizeof(public_pool.buf));
	public_pool.left = 0;
	OPENSSL_cleanse(private_pool.buf, sizeof(private_pool.buf));
	private_pool.left = 0;
}

static bool random_refill(struct random_pool *p)
{
	static bool atfork;

	if (!atfork && pthread_atfork(NULL, NULL, random_pools_forget) == 0)
		atfork = true;
	if (!atfork || p->fill(p->buf, sizeof(p->buf)) != 1)
		return false;
	p->left = sizeof(p->buf);
	return true;
}

enum ike_crypto_err random_from(struct random_pool *p, void *buf,
				size_t len)
{
	uint8_t *out = buf, *src;
	size_t take;

	if (len > RANDOM_POOL / 4)
		return p->fill(buf, (int)len) == 1 ? IKE_CRYPTO_OK
						   : IKE_CRYPTO_E_LIBCRYPTO;
	while (len) {
		if (!p->left && !random_refill(p))
			return IKE_CRYPTO_E_LIBCRYPTO;
		take = len < p->left ? len : p->left;
		src = p->buf + sizeof(p->buf) - p->left;
		memcpy(out, src, take);
		OPENSSL_cleanse(src, take);
		out += take;
		len -= take;
		p->left -= take;
	}
	return IKE_CRYPTO_OK;
}

enum ike_crypto_err ike_random(void *buf, size_t len)
{
	return random_from(&public_pool, buf, len);
}

bool ike_ct_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

void ike_wipe(void *p, size_t len)
{
	OPENSSL_cleanse(p, len);
}

struct piece {
	const uint8_t *p;
	size_t len;
};

/* One event loop, no threads: fetching HMAC once and keeping it is safe. */
static EVP_MAC *hmac_algorithm(void)
{
	static EVP_MAC *mac;

	if (!mac)
		mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	return mac;
}

/*
 * An unkeyed HMAC context per digest, kept and duplicated for each use:
 * setting the digest by name makes OpenSSL fetch it (a locked name
 * lookup), which cost about as much as the HMAC itself of a short
 * message; a duplicate shares the fetched digest.  Keys are only ever set
 * in the duplicates.  digest is one of the names of the tables above.
 */
static EVP_MAC_CTX *hmac_template(const char *digest)
{
	static struct { const char *digest; EVP_MAC_CTX *ctx; } cache[4];
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						 (char *)digest, 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC *mac = hmac_algorithm();
	EVP_MAC_CTX *ctx;
	size_t i;

	for (i = 0; i < sizeof(cache) / sizeof(cache[0]) && cache[i].digest; i++)
		if (!strcmp(cache[i].digest, digest))
			return cache[i].ctx;
	ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	if (!ctx || !EVP_MAC_CTX_set_params(ctx, params)) {
		EVP_MAC_CTX_free(ctx);
		return NULL;
	}
	if (i < sizeof(cache) / sizeof(cache[0])) {
		cache[i].digest = digest;
		cache[i].ctx = ctx;
		return ctx;
	}
	EVP_MAC_CTX_free(ctx);	/* more digests than the tables name */
	return NULL;
}

/*
 * One working context per digest, kept (a duplicate of the template made
 * once) and keyed again for each use: a duplicate per use and its free
 * were about 0.5 us of allocations per HMAC, about ten of them per setup.
 * hmac_done() re-keys it with the empty key, so that no key's state
 * stays in it between uses.  While it is in use (prf+ holds it over its
 * blocks) a caller gets its own duplicate, freed by hmac_done().
 */
static struct { const char *digest; EVP_MAC_CTX *ctx; bool busy; } work[4];

/* The digest's context keyed with key, or NULL. */
static EVP_MAC_CTX *hmac_keyed(const char *digest, const uint8_t *key,
			       size_t key_len)
{
	EVP_MAC_CTX *tmpl = hmac_template(digest);
	EVP_MAC_CTX *ctx;
	size_t i;

	if (!tmpl)
		return NULL;
	for (i = 0; i < sizeof(work) / sizeof(work[0]); i++) {
		if (work[i].digest && strcmp(work[i].digest, digest))
			continue;
		if (!work[i].digest) {
			work[i].ctx = EVP_MAC_CTX_dup(tmpl);
			if (!work[i].ctx)
				break;
			work[i].digest = digest;
		}
		if (work[i].busy)
			break;
		if (!EVP_MAC_init(work[i].ctx, key, key_len, NULL))
			return NULL;
		work[i].busy = true;
		return work[i].ctx;
	}
	ctx = EVP_MAC_CTX_dup(tmpl);
	if (ctx && EVP_MAC_init(ctx, key, key_len, NULL))
		return ctx;
	EVP_MAC_CTX_free(ctx);
	return NULL;
}

/* Done with a context of hmac_keyed(): its key is forgotten. */
static void hmac_done(EVP_MAC_CTX *ctx)
{
	static const uint8_t no_key[1];
	size_t i;

	if (!ctx)
		return;
	for (i = 0; i < sizeof(work) / sizeof(work[0]); i++) {
		if (work[i].ctx != ctx)
			continue;
		/* the empty key's state over the last key's; if even that
		 * fails, the context goes */
		if (!EVP_MAC_init(ctx, no_key, 0, NULL)) {
			EVP_MAC_CTX_free(ctx);
			work[i].ctx = NULL;
			work[i].digest = NULL;
		}
		work[i].busy = false;
		return;
	}
	EVP_MAC_CTX_free(ctx);	/* clears the keyed state */
}

/* Feed n pieces to a keyed context and finish it into out. */
static enum ike_crypto_err hmac_finish(EVP_MAC_CTX *ctx, const struct piece *pc,
				       size_t n, uint8_t *out)
{
	size_t i, out_len;

	for (i = 0; i < n; i++)
		if (pc[i].len && !EVP_MAC_update(ctx, pc[i].p, pc[i].len))
			return IKE_CRYPTO_E_LIBCRYPTO;
	return EVP_MAC_final(ctx, out, &out_len, IKE_PRF_MAX_LEN)
		? IKE_CRYPTO_OK : IKE_CRYPTO_E_LIBCRYPTO;
}

/* HMAC over the concatenation of n pieces; out gets the full digest. */
static enum ike_crypto_err hmac_pieces(const char *digest, const uint8_t *key,
				       size_t key_len, const struct piece *pc,
				       size_t n, uint8_t *out)
{
	EVP_MAC_CTX *ctx = hmac_keyed(digest, key, key_len);
	enum ike_crypto_err err;

	if (!ctx)
		return IKE_CRYPTO_E_LIBCRYPTO;
	err = hmac_finish(ctx, pc, n, out);
	hmac_done(ctx);
	return err;
}

enum ike_crypto_err ike_prf(uint16_t prf, const uint8_t *key, size_t key_len,
			    const uint8_t *data, size_t len, uint8_t *out)
{
	const struct piece pc[] = { { data, len } };
	const char *digest = prf_digest(prf);

	if (!digest)
		return IKE_CRYPTO_E_UNSUPPORTED;
	return hmac_pieces(digest, key, key_len, pc, 1, out);
}

#define PRF_PLUS_MAX_BLOCKS 255	/* the counter is one octet */

enum ike_crypto_err ike_prf_plus(uint16_t prf, const uint8_t *key,
				 size_t key_len, const uint8_t *seed,
				 size_t seed_len, uint8_t *out, size_t out_len)
{
	const char *digest = prf_digest(prf);
	size_t hlen = ike_prf_len(prf), done_len = 0;
	uint8_t t[IKE_PRF_MAX_LEN], counter = 1;
	enum ike_crypto_err err = IKE_CRYPTO_OK;
	EVP_MAC_CTX *keyed;

	if (!digest)
		return IKE_CRYPTO_E_UNSUPPORTED;
	if (out_len > PRF_PLUS_MAX_BLOCKS * hlen)
		return IKE_CRYPTO_E_ARGUMENT;
	/* the key is the same for every block: set it once; each next block
	 * starts again from the keyed state (EVP_MAC_init without a key),
	 * cheaper than a copy of the context per block */
	keyed = hmac_keyed(digest, key, key_len);
	if (!keyed)
		err = IKE_CRYPTO_E_LIBCRYPTO;
	/* T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n) */
	while (done_len < out_len && err == IKE_CRYPTO_OK) {
		const struct piece pc[] = {
			{ t, counter == 1 ? 0 : hlen },
			{ seed, seed_len },
			{ &counter, 1 },
		};
		size_t take = out_len - done_len < hlen ? out_len - done_len
							: hlen;

		if (counter > 1 && !EVP_MAC_init(keyed, NULL, 0, NULL))
			err = IKE_CRYPTO_E_LIBCRYPTO;
		else
			err = hmac_finish(keyed, pc, 3, t);
		memcpy(out + done_len, t, take);
		done_len += take;
		counter++;
	}
	hmac_done(keyed);
	OPENSSL_cleanse(t, sizeof(t));
	if (err != IKE_CRYPTO_OK)
		OPENSSL_cleanse(out, out_len);
	return err;
}

enum ike_crypto_err ike_integ_icv(uint16_t integ, const uint8_t *key,
				  const uint8_t *data, size_t len, uint8_t *icv)
{
	const struct piece pc[] = { { data, len } };
	const char *digest = integ_digest(integ);
	uint8_t full[IKE_PRF_MAX_LEN];
	enum ike_crypto_err err;

	if (!digest)
		return IKE_CRYPTO_E_UNSUPPORTED;
	err = hmac_pieces(digest, key, ike_integ_key_len(integ), pc, 1, full);
	if (err == IKE_CRYPTO_OK)
		memcpy(icv, full, ike_integ_icv_len(integ));
	OPENSSL_cleanse(full, sizeof(full));
	return err;
}

/* Fetched once and kept (one thread): an EVP_aes_*() object would make
 * every EVP_CipherInit_ex2() fetch the provider's cipher by name again. */
static const EVP_CIPHER *aes_cipher(bool gcm, size_t key_len)
{
	static const char *const names[2][3] = {
		{ "AES-128-CBC", "AES-192-CBC", "AES-256-CBC" },
		{ "AES-128-GCM", "AES-192-GCM", "AES-256-GCM" },
	};
	static EVP_CIPHER *fetched[2][3];
	size_t i;

	switch (key_len) {
	case 16: i = 0; break;
	case 24: i = 1; break;
	case 32: i = 2; break;
	default: return NULL;
	}
	if (!fetched[gcm][i])
		fetched[gcm][i] = EVP_CIPHER_fetch(NULL, names[gcm][i], NULL);
	return fetched[gcm][i];
}

enum ike_crypto_err ike_aes_cbc(bool encrypt, const uint8_t *key,
				size_t key_len, const uint8_t iv[IKE_AES_BLOCK],
				const uint8_t *in, size_t len, uint8_t *out)
{
	const EVP_CIPHER *cipher = aes_cipher(false, key_len);
	EVP_CIPHER_CTX *ctx;
	enum ike_crypto_err err = IKE_CRYPTO_E_LIBCRYPTO;
	int n1 = 0, n2 = 0;

	if (!cipher)
		return IKE_CRYPTO_E_UNSUPPORTED;
	if (len % IKE_AES_BLOCK || len > INT32_MAX)
		return IKE_CRYPTO_E_ARGUMENT;
	ctx = EVP_CIPHER_CTX_new();
	if (ctx && EVP_CipherInit_ex2(ctx, cipher, key, iv, encrypt, NULL) &&
	    EVP_CIPHER_CTX_set_padding(ctx, 0) &&
	    EVP_CipherUpdate(ctx, out, &n1, in, (int)len) &&
	    EVP_CipherFinal_ex(ctx, out + n1, &n2) && (size_t)(n1 + n2) == len)
		err = IKE_CRYPTO_OK;
	EVP_CIPHER_CTX_free(ctx);
	return err;
}

/* Common GCM set-up: key, 12-byte nonce and AAD. */
static EVP_CIPHER_CTX *gcm_start(bool encrypt, const uint8_t *key,
				 size_t key_len, const uint8_t *nonce,
				 const uint8_t *aad, size_t aad_len)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n;

	if (ctx && EVP_CipherInit_ex2(ctx, aes_cipher(true, key_len), key,
				      nonce, encrypt, NULL) &&
	    (aad_len == 0 ||
	     EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len)))
		return ctx;
	EVP_CIPHER_CTX_free(ctx);
	return NULL;
}

static bool gcm_args_ok(size_t key_len, size_t aad_len, size_t len)
{
	return aes_cipher(true, key_len) && aad_len <= INT32_MAX &&
	       len <= INT32_MAX;
}

enum ike_crypto_err ike_aes_gcm_seal(const uint8_t *key, size_t key_len,
				     const uint8_t nonce[IKE_GCM_NONCE_LEN],
				     const uint8_t *aad, size_t aad_len,
				     const uint8_t *in, size_t len,
				     uint8_t *out, uint8_t tag[IKE_GCM_ICV_LEN])
{
	EVP_CIPHER_CTX *ctx;
	enum ike_crypto_err err = IKE_CRYPTO_E_LIBCRYPTO;
	int n1 = 0, n2 = 0;

	if (!gcm_args_ok(key_len, aad_len, len))
		return IKE_CRYPTO_E_ARGUMENT;
	ctx = gcm_start(true, key, key_len, nonce, aad, aad_len);
	if (ctx && EVP_CipherUpdate(ctx, out, &n1, in, (int)len) &&
	    EVP_CipherFinal_ex(ctx, out + n1, &n2) &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, IKE_GCM_ICV_LEN, tag))
		err = IKE_CRYPTO_OK;
	EVP_CIPHER_CTX_free(ctx);
	return err;
}

enum ike_crypto_err ike_aes_gcm_open(const uint8_t *key, size_t key_len,
				     const uint8_t nonce[IKE_GCM_NONCE_LEN],
				     const uint8_t *aad, size_t aad_len,
				     const uint8_t *in, size_t len,
				     const uint8_t tag[IKE_GCM_ICV_LEN],
				     uint8_t *out)
{
	EVP_CIPHER_CTX *ctx;
	enum ike_crypto_err err = IKE_CRYPTO_E_LIBCRYPTO;
	int n1 = 0, n2 = 0;

	if (!gcm_args_ok(key_len, aad_len, len))
		return IKE_CRYPTO_E_ARGUMENT;
	ctx = gcm_start(false, key, key_len, nonce, aad, aad_len);
	if (ctx && EVP_CipherUpdate(ctx, out, &n1, in, (int)len) &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, IKE_GCM_ICV_LEN,
				(void *)tag))
		/* Final is where the tag is compared (in constant time). */
		err = EVP_CipherFinal_ex(ctx, out + n1, &n2) ? IKE_CRYPTO_OK
							     : IKE_CRYPTO_E_ICV;
	EVP_CIPHER_CTX_free(ctx);
	if (err != IKE_CRYPTO_OK)
		OPENSSL_cleanse(out, len);	/* no unauthenticated plaintext */
	return err;
}

/* ---- key derivation ---------------------------------------------------------- */

void ike_sa_keys_wipe(struct ike_sa_keys *k)
{
	OPENSSL_cleanse(k, sizeof(*k));
}

void ike_child_keys_wipe(struct ike_child_keys *k)
{
	OPENSSL_cleanse(k, sizeof(*k));
}

static bool nonce_len_ok(size_t len)
{
	return len >= 1 && len <= IKEV2_NONCE_MAX;
}

enum ike_crypto_err ike_skeyseed(uint16_t prf, const uint8_t *ni, size_t ni_len,
				 const uint8_t *nr, size_t nr_len,
				 const uint8_t *g_ir, size_t g_ir_len,
				 uint8_t *out)
{
	uint8_t key[2 * IKEV2_NONCE_MAX];

	if (!nonce_len_ok(ni_len) || !nonce_len_ok(nr_len))
		return IKE_CRYPTO_E_ARGUMENT;
	/* HMAC takes all of Ni | Nr as its key (only fixed-key PRFs such as
	 * AES-XCBC would truncate, §2.14). */
	memcpy(key, ni, ni_len);
	memcpy(key + ni_len, nr, nr_len);
	return ike_prf(prf, key, ni_len + nr_len, g_ir, g_ir_len, out);
}

enum ike_crypto_err ike_skeyseed_rekey(const struct ike_sa_keys *old,
				       const uint8_t *g_ir, size_t g_ir_len,
				       const uint8_t *ni, size_t ni_len,
				       const uint8_t *nr, size_t nr_len,
				       uint8_t *out)
{
	const struct piece pc[] = {
		{ g_ir, g_ir_len }, { ni, ni_len }, { nr, nr_len },
	};
	const char *digest = prf_digest(old->suite.prf);

	if (!digest)
		return IKE_CRYPTO_E_UNSUPPORTED;
	return hmac_pieces(digest, old->sk_d, old->prf_len, pc, 3, out);
}

static void put_be64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = v & 0xff;
}

/* Copy n bytes from *src to dst and advance *src. */
static void take(uint8_t *dst, const uint8_t **src, size_t n)
{
	memcpy(dst, *src, n);
	*src += n;
}

#define IKE_KEYMAT_MAX (3 * IKE_PRF_MAX_LEN + 2 * IKE_INTEG_MAX_KEY + \
			2 * IKE_ENCR_MAX_KEY)

enum ike_crypto_err ike_sa_keys_derive(struct ike_sa_keys *k,
				       const struct ike_suite *suite,
				       const uint8_t *skeyseed,
				       const uint8_t *ni, size_t ni_len,
				       const uint8_t *nr, size_t nr_len,
				       uint64_t spi_i, uint64_t spi_r)
{
	uint8_t seed[2 * IKEV2_NONCE_MAX + 16], keymat[IKE_KEYMAT_MAX];
	const uint8_t *p = keymat;
	enum ike_crypto_err err;
	size_t total;

	memset(k, 0, sizeof(*k));
	if (!ike_suite_usable(suite, true))
		return IKE_CRYPTO_E_UNSUPPORTED;
	if (!nonce_len_ok(ni_len) || !nonce_len_ok(nr_len))
		return IKE_CRYPTO_E_ARGUMENT;
	k->suite = *suite;
	k->prf_len = ike_prf_len(suite->prf);
	k->integ_len = ike_integ_key_len(suite->integ);
	k->encr_len = ike_encr_key_len(suite->encr, suite->encr_key_bits);
	total = 3 * k->prf_len + 2 * k->integ_len + 2 * k->encr_len;

	memcpy(seed, ni, ni_len);
	memcpy(seed + ni_len, nr, nr_len);
	put_be64(seed + ni_len + nr_len, spi_i);
	put_be64(seed + ni_len + nr_len + 8, spi_r);
	err = ike_prf_plus(suite->prf, skeyseed, k->prf_len, seed,
			   ni_len + nr_len + 16, keymat, total);
	if (err == IKE_CRYPTO_OK) {
		take(k->sk_d, &p, k->prf_len);
		take(k->sk_ai, &p, k->integ_len);
		take(k->sk_ar, &p, k->integ_len);
		take(k->sk_ei, &p, k->encr_len);
		take(k->sk_er, &p, k->encr_len);
		take(k->sk_pi, &p, k->prf_len);
		take(k->sk_pr, &p, k->prf_len);
	} else {
		ike_sa_keys_wipe(k);
	}
	OPENSSL_cleanse(keymat, sizeof(keymat));
	return err;
}

enum ike_crypto_err ike_sa_keys_from_dh(struct ike_sa_keys *k,
					const struct ike_suite *suite,
					const struct ike_dh *dh,
					const uint8_t *peer_ke, size_t peer_len,
					const uint8_t *ni, size_t ni_len,
					const uint8_t *nr, size_t nr_len,
					uint64_t spi_i, uint64_t spi_r)
{
	uint8_t g_ir[IKE_DH_MAX_LEN], skeyseed[IKE_PRF_MAX_LEN];
	size_t g_ir_len = 0;
	enum ike_crypto_err err;

	memset(k, 0, sizeof(*k));
	if (suite->dh != ike_dh_group(dh))
		return IKE_CRYPTO_E_ARGUMENT;
	err = ike_dh_shared(dh, peer_ke, peer_len, g_ir, sizeof(g_ir),
			    &g_ir_len);
	if (err == IKE_CRYPTO_OK)
		err = ike_skeyseed(suite->prf, ni, ni_len, nr, nr_len, g_ir,
				   g_ir_len, skeyseed);
	if (err == IKE_CRYPTO_OK)
		err = ike_sa_keys_derive(k, suite, skeyseed, ni, ni_len, nr,
					 nr_len, spi_i, spi_r);
	OPENSSL_cleanse(g_ir, sizeof(g_ir));
	OPENSSL_cleanse(skeyseed, sizeof(skeyseed));
	return err;
}

enum ike_crypto_err ike_child_keys_derive(struct ike_child_keys *out,
					  const struct ike_sa_keys *ike,
					  const struct ike_suite *child,
					  const uint8_t *g_ir, size_t g_ir_len,
					  const uint8_t *ni, size_t ni_len,
					  const uint8_t *nr, size_t nr_len)
{
	uint8_t seed[IKE_DH_MAX_LEN + 2 * IKEV2_NONCE_MAX];
	uint8_t keymat[2 * (IKE_ENCR_MAX_KEY + IKE_INTEG_MAX_KEY)];
	const uint8_t *p = keymat;
	size_t seed_len, total;
	enum ike_crypto_err err;

	memset(out, 0, sizeof(*out));
	if (!ike_suite_usable(child, false))
		return IKE_CRYPTO_E_UNSUPPORTED;
	if (g_ir_len > IKE_DH_MAX_LEN || !nonce_len_ok(ni_len) ||
	    !nonce_len_ok(nr_len) || (g_ir == NULL) != (g_ir_len == 0))
		return IKE_CRYPTO_E_ARGUMENT;
	out->encr_len = child->encr == IKEV2_ENCR_NULL ? 0 :
			ike_encr_key_len(child->encr, child->encr_key_bits);
	out->integ_len = ike_integ_key_len(child->integ);
	total = 2 * (out->encr_len + out->integ_len);

	if (g_ir_len)
		memcpy(seed, g_ir, g_ir_len);
	memcpy(seed + g_ir_len, ni, ni_len);
	memcpy(seed + g_ir_len + ni_len, nr, nr_len);
	seed_len = g_ir_len + ni_len + nr_len;
	err = ike_prf_plus(ike->suite.prf, ike->sk_d, ike->prf_len, seed,
			   seed_len, keymat, total);
	if (err == IKE_CRYPTO_OK) {
		take(out->encr_i, &p, out->encr_len);
		take(out->integ_i, &p, out->integ_len);
		take(out->encr_r, &p, out->encr_len);
		take(out->integ_r, &p, out->integ_len);
	} else {
		ike_child_keys_wipe(out);
	}
	OPENSSL_cleanse(seed, sizeof(seed));
	OPENSSL_cleanse(keymat, sizeof(keymat));
	return err;
}

/* ---- authentication ---------------------------------------------------------- */

/* prf(SK_p, RestOfIDPayload): RestOfIDPayload is the ID payload body,
 * type and three reserved bytes included. */
static enum ike_crypto_err maced_id(const struct ike_sa_keys *k,
				    const struct ike_auth_input *in,
				    uint8_t *out)
{
	const uint8_t id_head[4] = { in->id->type, 0, 0, 0 };
	const struct piece pc[] = {
		{ id_head, sizeof(id_head) }, { in->id->data, in->id->len },
	};
	const char *digest = prf_digest(k->suite.prf);

	if (!digest)
		return IKE_CRYPTO_E_UNSUPPORTED;
	return hmac_pieces(digest, in->initiator ? k->sk_pi : k->sk_pr,
			   k->prf_len, pc, 2, out);
}

enum ike_crypto_err ike_signed_octets(const struct ike_sa_keys *k,
				      const struct ike_auth_input *in,
				      uint8_t *out, size_t cap, size_t *len)
{
	size_t head = in->message_len + in->peer_nonce_len;

	if (cap < head || cap - head < k->prf_len)
		return IKE_CRYPTO_E_NO_SPACE;
	memcpy(out, in->message, in->message_len);
	memcpy(out + in->message_len, in->peer_nonce, in->peer_nonce_len);
	*len = head + k->prf_len;
	return maced_id(k, in, out + head);
}

static const char key_pad[] = "Key Pad for IKEv2";	/* 17 bytes, no NUL */

enum ike_crypto_err ike_psk_auth(const struct ike_sa_keys *k,
				 const uint8_t *psk, size_t psk_len,
				 const struct ike_auth_input *in,
				 uint8_t *out, size_t *out_len)
{
	uint8_t mid[IKE_PRF_MAX_LEN], padded_key[IKE_PRF_MAX_LEN];
	const struct piece octets[] = {
		{ in->message, in->message_len },
		{ in->peer_nonce, in->peer_nonce_len },
		{ mid, k->prf_len },
	};
	const char *digest = prf_digest(k->suite.prf);
	enum ike_crypto_err err;

	if (!digest)
		return IKE_CRYPTO_E_UNSUPPORTED;
	if (psk_len == 0)
		return IKE_CRYPTO_E_ARGUMENT;
	err = maced_id(k, in, mid);
	if (err == IKE_CRYPTO_OK)
		err = ike_prf(k->suite.prf, psk, psk_len,
			      (const uint8_t *)key_pad, sizeof(key_pad) - 1,
			      padded_key);
	if (err == IKE_CRYPTO_OK)
		err = hmac_pieces(digest, padded_key, k->prf_len, octets, 3,
				  out);
	if (err == IKE_CRYPTO_OK)
		*out_len = k->prf_len;
	OPENSSL_cleanse(padded_key, sizeof(padded_key));
	return err;
}

enum ike_crypto_err ike_psk_auth_octets(uint16_t prf, const uint8_t *psk,
					size_t psk_len, const uint8_t *octets,
					size_t len, uint8_t *out,
					size_t *out_len)
{
	uint8_t padded_key[IKE_PRF_MAX_LEN];
	const struct piece all[] = { { octets, len } };
	const char *digest = prf_digest(prf);
	size_t plen = ike_prf_len(prf);
	enum ike_crypto_err err;

	if (!digest || !plen)
		return IKE_CRYPTO_E_UNSUPPORTED;
	if (psk_len == 0)
		return IKE_CRYPTO_E_ARGUMENT;
	err = ike_prf(prf, psk, psk_len, (const uint8_t *)key_pad,
		      sizeof(key_pad) - 1, padded_key);
	if (err == IKE_CRYPTO_OK)
		err = hmac_pieces(digest, padded_key, plen, all, 1, out);
	if (err == IKE_CRYPTO_OK)
		*out_len = plen;
	OPENSSL_cleanse(padded_key, sizeof(padded_key));
	return err;
}

enum ike_crypto_err ike_psk_auth_verify(const struct ike_sa_keys *k,
					const uint8_t *psk, size_t psk_len,
					const struct ike_auth_input *in,
					const uint8_t *auth, size_t auth_len)
{
	uint8_t expect[IKE_PRF_MAX_LEN];
	size_t len = 0;
	enum ike_crypto_err err = ike_psk_auth(k, psk, psk_len, in, expect,
					       &len);

	if (err == IKE_CRYPTO_OK &&
	    (auth_len != len || !ike_ct_equal(expect, auth, len)))
		err = IKE_CRYPTO_E_AUTH;
	OPENSSL_cleanse(expect, sizeof(expect));
	return err;
}

enum ike_crypto_err ike_nat_detection_hash(uint64_t spi_i, uint64_t spi_r,
					   const uint8_t *addr, size_t addr_len,
					   uint16_t port,
					   uint8_t out[IKEV2_NAT_DETECTION_LEN])
{
	static EVP_MD *sha1;
	uint8_t buf[8 + 8 + 16 + 2];
	unsigned int len = 0;

	if (addr_len != 4 && addr_len != 16)
		return IKE_CRYPTO_E_ARGUMENT;
	put_be64(buf, spi_i);
	put_be64(buf + 8, spi_r);
	memcpy(buf + 16, addr, addr_len);
	buf[16 + addr_len] = port >> 8;
	buf[17 + addr_len] = port & 0xff;
	if (!sha1)	/* fetched once: EVP_sha1() is looked up by name per use */
		sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
	if (!sha1 || !EVP_Digest(buf, 18 + addr_len, out, &len, sha1, NULL) ||
	    len != IKEV2_NAT_DETECTION_LEN)
		return IKE_CRYPTO_E_LIBCRYPTO;
	return IKE_CRYPTO_OK;
}
