// SPDX-License-Identifier: GPL-2.0-only
/*
 * wire_crypto_dh.c - Diffie-Hellman: MODP, ECP and Curve25519/448 key pairs and shared secrets over OpenSSL 3 EVP
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


/* ---- Diffie-Hellman ---------------------------------------------------------- */

struct ike_dh {
	const struct dh_group *group;
	EVP_PKEY *key;
	/* derivation context, set up at the first use and kept: a
	 * responder's shared pair (dh_reuse.h) derives many times */
	EVP_PKEY_CTX *derive;
};

static enum ike_crypto_err dh_wrap(const struct dh_group *g, EVP_PKEY *key,
				   struct ike_dh **out)
{
	struct ike_dh *dh;

	if (!key)
		return IKE_CRYPTO_E_LIBCRYPTO;
	dh = OPENSSL_zalloc(sizeof(*dh));
	if (!dh) {
		EVP_PKEY_free(key);
		return IKE_CRYPTO_E_LIBCRYPTO;
	}
	dh->group = g;
	dh->key = key;
	*out = dh;
	return IKE_CRYPTO_OK;
}

static EVP_PKEY *generate_named(const struct dh_group *g)
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
						 (char *)g->name, 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, g->keytype, NULL);
	EVP_PKEY *key = NULL;

	if (!ctx || EVP_PKEY_keygen_init(ctx) <= 0 ||
	    !EVP_PKEY_CTX_set_params(ctx, params) ||
	    EVP_PKEY_generate(ctx, &key) <= 0)
		key = NULL;
	EVP_PKEY_CTX_free(ctx);
	return key;
}

/* The import context of X25519 keys, made once and kept (one thread):
 * EVP_PKEY_CTX_new_from_name() looks the key type up by name, which costs
 * as much as an import. */
static EVP_PKEY_CTX *x25519_import_ctx(void)
{
	static EVP_PKEY_CTX *ctx;

	if (!ctx)
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "X25519", NULL);
	return ctx;
}

/*
 * A new X25519 key pair: 32 bytes of the private pool are the private
 * value (RFC 7748 §6.1: any 32 random bytes; the scalar is clamped where it
 * is used), imported through the kept context, which computes the public
 * value.  The same work as EVP_PKEY_Q_keygen() without its by-name lookup,
 * its context made and freed, and a private DRBG call per key.
 */
static EVP_PKEY *x25519_generate(void)
{
	EVP_PKEY_CTX *ctx = x25519_import_ctx();
	uint8_t priv[32];
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PRIV_KEY,
						  priv, sizeof(priv)),
		OSSL_PARAM_construct_end(),
	};
	EVP_PKEY *key = NULL;

	if (ctx && random_from(&private_pool, priv, sizeof(priv)) ==
			   IKE_CRYPTO_OK &&
	    (EVP_PKEY_fromdata_init(ctx) <= 0 ||
	     EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_KEYPAIR, params) <= 0))
		key = NULL;
	OPENSSL_cleanse(priv, sizeof(priv));
	return key;
}

enum ike_crypto_err ike_dh_new(uint16_t group, struct ike_dh **out)
{
	const struct dh_group *g = find_group(group);

	*out = NULL;
	if (!g)
		return IKE_CRYPTO_E_UNSUPPORTED;
	if (is_x25519(g))
		return dh_wrap(g, x25519_generate(), out);
	return dh_wrap(g, generate_named(g), out);
}

/* A key from OSSL_PARAMs built by bld (group name added here).  A private
 * BIGNUM pushed from secure memory lands in the params' secure block,
 * which OSSL_PARAM_free clears. */
static EVP_PKEY *key_from_params(const struct dh_group *g,
				 OSSL_PARAM_BLD *bld, int selection)
{
	EVP_PKEY_CTX *ctx = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY *key = NULL;

	if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
					     g->name, 0))
		return NULL;
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, g->keytype, NULL);
	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &key, selection, params) <= 0)
		key = NULL;
	OSSL_PARAM_free(params);
	EVP_PKEY_CTX_free(ctx);
	return key;
}

/* OpenSSL 3.0 does not compute the public half from a private value
 * given to EVP_PKEY_fromdata, so the KAT path does it here. */
static bool ec_public_from_private(const struct dh_group *g, const BIGNUM *d,
				   uint8_t *pub, size_t pub_len)
{
	EC_GROUP *grp = EC_GROUP_new_by_curve_name(g->nid);
	EC_POINT *q = grp ? EC_POINT_new(grp) : NULL;
	bool ok = q && EC_POINT_mul(grp, q, d, NULL, NULL, NULL) &&
		  EC_POINT_point2oct(grp, q, POINT_CONVERSION_UNCOMPRESSED,
				     pub, pub_len, NULL) == pub_len;

	EC_POINT_free(q);
	EC_GROUP_free(grp);
	return ok;
}

/* RFC 3526 group 14: p as OpenSSL has it, generator 2. */
static BIGNUM *modp_public_from_private(const BIGNUM *x)
{
	BIGNUM *p = BN_get_rfc3526_prime_2048(NULL), *g = BN_new();
	BIGNUM *y = BN_new();
	BN_CTX *bnctx = BN_CTX_new();

	if (!p || !g || !y || !bnctx || !BN_set_word(g, 2) ||
	    !BN_mod_exp(y, g, x, p, bnctx)) {
		BN_free(y);
		y = NULL;
	}
	BN_CTX_free(bnctx);
	BN_free(g);
	BN_free(p);
	return y;
}

static EVP_PKEY *named_group_from_private(const struct dh_group *g,
				     const uint8_t *priv, size_t len)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BIGNUM *x = BN_bin2bn(priv, (int)len, BN_secure_new()), *y = NULL;
	uint8_t pub[1 + 2 * 48];
	size_t pub_len = 1 + g->public_len;
	EVP_PKEY *key = NULL;
	bool ok = bld && x && !BN_is_zero(x) &&
		  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, x);

	if (ok && is_ecp(g))
		ok = pub_len <= sizeof(pub) &&
		     ec_public_from_private(g, x, pub, pub_len) &&
		     OSSL_PARAM_BLD_push_octet_string(bld,
				OSSL_PKEY_PARAM_PUB_KEY, pub, pub_len);
	else if (ok)
		ok = (y = modp_public_from_private(x)) != NULL &&
		     OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PUB_KEY, y);
	if (ok)
		key = key_from_params(g, bld, EVP_PKEY_KEYPAIR);
	BN_free(y);
	BN_clear_free(x);
	OSSL_PARAM_BLD_free(bld);
	return key;
}

enum ike_crypto_err ike_dh_from_private(uint16_t group, const uint8_t *priv,
					size_t len, struct ike_dh **out)
{
	const struct dh_group *g = find_group(group);

	*out = NULL;
	if (!g)
		return IKE_CRYPTO_E_UNSUPPORTED;
	if (len == 0 || len > g->secret_len ||
	    (is_x25519(g) && len != g->secret_len))
		return IKE_CRYPTO_E_ARGUMENT;
	if (is_x25519(g))
		return dh_wrap(g, EVP_PKEY_new_raw_private_key_ex(NULL,
				g->keytype, NULL, priv, len), out);
	return dh_wrap(g, named_group_from_private(g, priv, len), out);
}

uint16_t ike_dh_group(const struct ike_dh *dh)
{
	return dh->group->id;
}

void ike_dh_free(struct ike_dh *dh)
{
	if (!dh)
		return;
	EVP_PKEY_CTX_free(dh->derive);
	EVP_PKEY_free(dh->key);	/* private values are freed with BN_clear_free */
	OPENSSL_clear_free(dh, sizeof(*dh));
}

static bool modp_public(const struct ike_dh *dh, uint8_t *out)
{
	BIGNUM *y = NULL;
	bool ok = EVP_PKEY_get_bn_param(dh->key, OSSL_PKEY_PARAM_PUB_KEY, &y) &&
		  BN_bn2binpad(y, out, (int)dh->group->public_len) ==
			  (int)dh->group->public_len;

	BN_free(y);
	return ok;
}

static bool ec_public(const struct ike_dh *dh, uint8_t *out)
{
	uint8_t enc[1 + 2 * 48];
	size_t len = 0;

	if (!EVP_PKEY_get_octet_string_param(dh->key,
			OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, enc, sizeof(enc),
			&len) ||
	    len != 1 + dh->group->public_len ||
	    enc[0] != POINT_CONVERSION_UNCOMPRESSED)
		return false;
	memcpy(out, enc + 1, dh->group->public_len);	/* x | y, RFC 5903 */
	return true;
}

enum ike_crypto_err ike_dh_public(const struct ike_dh *dh, uint8_t *out,
				  size_t cap, size_t *len)
{
	size_t want = dh->group->public_len;
	bool ok;

	if (cap < want)
		return IKE_CRYPTO_E_NO_SPACE;
	if (is_ecp(dh->group))
		ok = ec_public(dh, out);
	else if (is_modp(dh->group))
		ok = modp_public(dh, out);
	else
		ok = EVP_PKEY_get_raw_public_key(dh->key, out, &want) &&
		     want == dh->group->public_len;
	if (!ok)
		return IKE_CRYPTO_E_LIBCRYPTO;
	*len = dh->group->public_len;
	return IKE_CRYPTO_OK;
}

/*
 * A Curve25519 public value as a key (a reference the caller frees).  One
 * key object is kept and given each new value (EVP_PKEY_set_params: a
 * 32-byte copy): a new object per peer cost a tenth of a derivation, most
 * of it OpenSSL 3.0 walking its whole name map to type the new key.  A
 * derivation context that still refers to the kept key is only used after
 * its peer is set again (derive()).  The first key is imported through the
 * kept context (EVP_PKEY_new_raw_public_key_ex() looks the type up by
 * name every time).
 */
static EVP_PKEY *x25519_public(const uint8_t *pub)
{
	static EVP_PKEY *kept;
	EVP_PKEY_CTX *ctx = x25519_import_ctx();
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
						  (void *)pub, 32),
		OSSL_PARAM_construct_end(),
	};
	EVP_PKEY *key = NULL;

	if (kept && EVP_PKEY_set_octet_string_param(kept,
			OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub, 32) &&
	    EVP_PKEY_up_ref(kept))
		return kept;
	if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		return NULL;
	if (!kept && EVP_PKEY_up_ref(key))
		kept = key;
	return key;
}

/* The peer's public value as a key of our group, or NULL. */
static EVP_PKEY *peer_key(const struct dh_group *g, const uint8_t *peer)
{
	OSSL_PARAM_BLD *bld;
	BIGNUM *y = NULL;
	uint8_t enc[1 + 2 * 48];
	EVP_PKEY *key = NULL;
	bool ok;

	if (is_x25519(g))
		return x25519_public(peer);
	bld = OSSL_PARAM_BLD_new();
	if (is_ecp(g)) {
		/* IKE sends x | y; OpenSSL wants the SEC1 0x04 form */
		enc[0] = POINT_CONVERSION_UNCOMPRESSED;
		memcpy(enc + 1, peer, g->public_len);
		ok = bld && OSSL_PARAM_BLD_push_octet_string(bld,
				OSSL_PKEY_PARAM_PUB_KEY, enc,
				1 + g->public_len);
	} else {
		y = BN_bin2bn(peer, (int)g->public_len, NULL);
		ok = bld && y &&
		     OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PUB_KEY, y);
	}
	if (ok)
		key = key_from_params(g, bld, EVP_PKEY_PUBLIC_KEY);
	BN_free(y);
	OSSL_PARAM_BLD_free(bld);
	return key;
}

/*
 * The quick check is the one that matters: for ECP that the point is on
 * the curve (P-256 and P-384 have cofactor 1, so no small subgroups); for
 * MODP that 1 < y < p-1, which rules out the only small subgroup of a
 * safe-prime group (order 2).
 */
static bool peer_key_valid(EVP_PKEY *peer)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, peer, NULL);
	bool ok = ctx && EVP_PKEY_public_check_quick(ctx) == 1;

	EVP_PKEY_CTX_free(ctx);
	return ok;
}

/* dh's derivation context, made at the first use.  It is a cache, not
 * part of the key pair's value: the const of the callers holds. */
static EVP_PKEY_CTX *derive_ctx(const struct ike_dh *cdh)
{
	struct ike_dh *dh = (struct ike_dh *)cdh;
	EVP_PKEY_CTX *ctx;

	if (dh->derive)
		return dh->derive;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, dh->key, NULL);
	if (!ctx || EVP_PKEY_derive_init(ctx) <= 0 ||
	    /* g^ir keeps its leading zeros: padded to the prime's size
	     * (§2.14) */
	    (is_modp(dh->group) && EVP_PKEY_CTX_set_dh_pad(ctx, 1) <= 0)) {
		EVP_PKEY_CTX_free(ctx);
		return NULL;
	}
	dh->derive = ctx;
	return ctx;
}

/*
 * The peer's key into the derivation context.  EVP_PKEY_derive_set_peer()
 * validates it with a context of its own (a tenth of an X25519 derivation);
 * for X25519 that check is only "has a public value", and what matters,
 * a small-order u, shows as an all-zero result that derive() refuses
 * (RFC 7748 §6.1).  Other groups keep it (ECP/MODP peers are checked in
 * ike_dh_shared() too).
 */
static int set_peer(EVP_PKEY_CTX *ctx, const struct dh_group *g,
		    EVP_PKEY *peer)
{
	if (is_x25519(g))
		return EVP_PKEY_derive_set_peer_ex(ctx, peer, 0);
	return EVP_PKEY_derive_set_peer(ctx, peer);
}

static enum ike_crypto_err derive(const struct ike_dh *dh, EVP_PKEY *peer,
				  uint8_t *out, size_t *len)
{
	EVP_PKEY_CTX *ctx = derive_ctx(dh);
	enum ike_crypto_err err = IKE_CRYPTO_E_LIBCRYPTO;
	size_t n = dh->group->secret_len;

	if (!ctx)
		goto done;
	if (set_peer(ctx, dh->group, peer) <= 0)
		err = IKE_CRYPTO_E_BAD_PUBLIC;
	else if (EVP_PKEY_derive(ctx, out, &n) > 0 &&
		 n == dh->group->secret_len)
		err = IKE_CRYPTO_OK;
	else if (is_x25519(dh->group))
		err = IKE_CRYPTO_E_BAD_PUBLIC;	/* a small-order u: zero result */
done:
	*len = n;
	return err;
}

enum ike_crypto_err ike_dh_shared(const struct ike_dh *dh,
				  const uint8_t *peer, size_t peer_len,
				  uint8_t *out, size_t cap, size_t *len)
{
	EVP_PKEY *pk;
	enum ike_crypto_err err;

	if (peer_len != dh->group->public_len)
		return IKE_CRYPTO_E_BAD_PUBLIC;
	if (cap < dh->group->secret_len)
		return IKE_CRYPTO_E_NO_SPACE;
	pk = peer_key(dh->group, peer);
	if (!pk || (!is_x25519(dh->group) && !peer_key_valid(pk))) {
		EVP_PKEY_free(pk);
		return IKE_CRYPTO_E_BAD_PUBLIC;
	}
	err = derive(dh, pk, out, len);
	EVP_PKEY_free(pk);
	if (err != IKE_CRYPTO_OK)
		OPENSSL_cleanse(out, dh->group->secret_len);
	return err;
}
