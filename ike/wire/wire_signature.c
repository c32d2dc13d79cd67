// SPDX-License-Identifier: GPL-2.0-only
/*
 * wire_signature.c - signature AUTH (RFC 7296 §2.15, RFC 4754, RFC 7427); see
 * signature.h.  All through OpenSSL 3 EVP.
 *
 * The AlgorithmIdentifier we send is the one OpenSSL's signature context
 * reports for the operation it was set up for (OSSL_SIGNATURE_PARAM_
 * ALGORITHM_ID), so it always describes exactly what was signed.  The one
 * a peer sends is decoded with d2i_X509_ALGOR and must use all its bytes;
 * RSASSA-PSS parameters are read field by field (RFC 4055 §3.1).
 */
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "wire/wire_signature.h"

#define SIG_MAX 1024	/* RSA-8192 */

static const EVP_MD *hash_md(uint16_t hash)
{
	switch (hash) {
	case IKEV2_HASH_SHA2_256: return EVP_sha256();
	case IKEV2_HASH_SHA2_384: return EVP_sha384();
	case IKEV2_HASH_SHA2_512: return EVP_sha512();
	default:                  return NULL;
	}
}

static const EVP_MD *nid_md(int nid)
{
	switch (nid) {
	case NID_sha256: return EVP_sha256();
	case NID_sha384: return EVP_sha384();
	case NID_sha512: return EVP_sha512();
	default:         return NULL;	/* SHA-1 and the rest: refused */
	}
}

static bool key_is_rsa(EVP_PKEY *key)
{
	return EVP_PKEY_is_a(key, "RSA") || EVP_PKEY_is_a(key, "RSA-PSS");
}

static bool key_is_ec(EVP_PKEY *key)
{
	return EVP_PKEY_is_a(key, "EC");
}

/* NID_X9_62_prime256v1, NID_secp384r1, ...; NID_undef for other keys. */
static int ec_curve(EVP_PKEY *key)
{
	char name[64];

	if (!key_is_ec(key) ||
	    !EVP_PKEY_get_group_name(key, name, sizeof(name), NULL))
		return NID_undef;
	return OBJ_txt2nid(name);
}

/* ---- SIGNATURE_HASH_ALGORITHMS -------------------------------------------------- */

unsigned sig_peer_hashes(const struct ike_msg *msg)
{
	struct ike_notify n;
	uint16_t algs[16];
	unsigned bits = 0;
	size_t i, count;

	if (ike_msg_find_notify(msg, IKEV2_N_SIGNATURE_HASH_ALGORITHMS, &n) ||
	    ike_notify_hash_algs(&n, algs, 16, &count))
		return 0;
	for (i = 0; i < count; i++)
		if (algs[i] < 16)
			bits |= SIG_HASH_BIT(algs[i]);
	return bits;
}

enum ike_msg_err sig_add_hash_notify(struct ike_builder *b)
{
	static const uint8_t algs[] = {
		0, IKEV2_HASH_SHA2_256, 0, IKEV2_HASH_SHA2_384,
		0, IKEV2_HASH_SHA2_512,
	};
	struct ike_notify n = { .type = IKEV2_N_SIGNATURE_HASH_ALGORITHMS,
				.data = algs, .len = sizeof(algs) };

	return ike_add_notify(b, &n);
}

/* ---- signing ----------------------------------------------------------------- */

static int set_padding(EVP_PKEY_CTX *pctx, enum sig_scheme scheme,
		       const EVP_MD *md, int salt)
{
	if (scheme == SIG_RSA_PKCS1)
		return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0
		       ? 0 : -1;
	if (scheme != SIG_RSA_PSS)
		return 0;
	return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
	       EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt) > 0 &&
	       EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) > 0 ? 0 : -1;
}

/* The DER AlgorithmIdentifier of the operation set up on pctx. */
static int algorithm_id(EVP_PKEY_CTX *pctx, uint8_t *out, size_t cap,
			size_t *len)
{
	OSSL_PARAM p[2] = {
		OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, out,
					cap),
		OSSL_PARAM_END,
	};

	if (!EVP_PKEY_CTX_get_params(pctx, p) || !OSSL_PARAM_modified(p) ||
	    p[0].return_size == 0 || p[0].return_size > 255)
		return -1;
	*len = p[0].return_size;
	return 0;
}

/* Sign with scheme and md; the AlgorithmIdentifier too when algid. */
static int digest_sign(EVP_PKEY *key, enum sig_scheme scheme,
		       const EVP_MD *md, const uint8_t *octets, size_t len,
		       uint8_t *algid, size_t *alg_len, uint8_t *sig,
		       size_t cap, size_t *sig_len)
{
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int rc = -1;

	if (mctx && EVP_DigestSignInit(mctx, &pctx, md, NULL, key) == 1 &&
	    !set_padding(pctx, scheme, md, RSA_PSS_SALTLEN_DIGEST) &&
	    (!algid || !algorithm_id(pctx, algid, 255, alg_len)) &&
	    EVP_DigestSign(mctx, NULL, sig_len, octets, len) == 1 &&
	    *sig_len <= cap &&
	    EVP_DigestSign(mctx, sig, sig_len, octets, len) == 1)
		rc = 0;
	EVP_MD_CTX_free(mctx);
	return rc;
}

static bool scheme_fits_key(EVP_PKEY *key, enum sig_scheme scheme)
{
	if (scheme == SIG_ECDSA)
		return key_is_ec(key);
	if (scheme == SIG_RSA_PKCS1)
		return EVP_PKEY_is_a(key, "RSA");
	return key_is_rsa(key);
}

int sig_auth_sign_as(EVP_PKEY *key, enum sig_scheme scheme, uint16_t hash,
		     const uint8_t *octets, size_t len, uint8_t *out,
		     size_t cap, size_t *out_len, const char **why)
{
	const EVP_MD *md = hash_md(hash);
	uint8_t algid[256], sig[SIG_MAX];
	size_t alg_len = 0, sig_len = 0;

	*why = "the key cannot sign with this scheme";
	if (!md || !scheme_fits_key(key, scheme))
		return -1;
	*why = "signing failed";
	if (digest_sign(key, scheme, md, octets, len, algid, &alg_len, sig,
			sizeof(sig), &sig_len))
		return -1;
	*why = "signature too long";
	if (cap < 1 + alg_len + sig_len)
		return -1;
	out[0] = (uint8_t)alg_len;
	memcpy(out + 1, algid, alg_len);
	memcpy(out + 1 + alg_len, sig, sig_len);
	*out_len = 1 + alg_len + sig_len;
	return 0;
}

/* RFC 4754: the method and hash that go with a curve. */
static int ecdsa_method(int curve, uint8_t *method, uint16_t *hash)
{
	switch (curve) {
	case NID_X9_62_prime256v1:
		*method = IKEV2_AUTH_ECDSA_256;
		*hash = IKEV2_HASH_SHA2_256;
		return 0;
	case NID_secp384r1:
		*method = IKEV2_AUTH_ECDSA_384;
		*hash = IKEV2_HASH_SHA2_384;
		return 0;
	case NID_secp521r1:
		*method = IKEV2_AUTH_ECDSA_521;
		*hash = IKEV2_HASH_SHA2_512;
		return 0;
	default:
		return -1;
	}
}

static size_t curve_bytes(int curve)
{
	return curve == NID_X9_62_prime256v1 ? 32 : curve == NID_secp384r1 ? 48
	       : curve == NID_secp521r1 ? 66 : 0;
}

/* DER ECDSA-Sig-Value to r | s, each n bytes (RFC 4754 §7). */
static int ecdsa_der_to_raw(const uint8_t *der, size_t len, size_t n,
			    uint8_t *out)
{
	const uint8_t *p = der;
	ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)len);
	int rc = -1;

	if (s && BN_bn2binpad(ECDSA_SIG_get0_r(s), out, (int)n) == (int)n &&
	    BN_bn2binpad(ECDSA_SIG_get0_s(s), out + n, (int)n) == (int)n)
		rc = 0;
	ECDSA_SIG_free(s);
	return rc;
}

/* Methods 9, 10, 11: for a peer that does not speak RFC 7427. */
static int sign_rfc4754(EVP_PKEY *key, const uint8_t *octets, size_t len,
			uint8_t *method, uint8_t *out, size_t cap,
			size_t *out_len, const char **why)
{
	int curve = ec_curve(key);
	size_t n = curve_bytes(curve), der_len = 0;
	uint8_t der[SIG_MAX];
	uint16_t hash;

	*why = "the peer sent no SIGNATURE_HASH_ALGORITHMS and our ECDSA "
	       "curve has no RFC 4754 method";
	if (ecdsa_method(curve, method, &hash) || cap < 2 * n)
		return -1;
	*why = "signing failed";
	if (digest_sign(key, SIG_ECDSA, hash_md(hash), octets, len, NULL,
			NULL, der, sizeof(der), &der_len) ||
	    ecdsa_der_to_raw(der, der_len, n, out))
		return -1;
	*out_len = 2 * n;
	return 0;
}

/* The hash to sign with: the preferred one if the peer takes it, else the
 * first of ours it lists; 0 when there is none. */
static uint16_t pick_hash(uint16_t preferred, unsigned peer_hashes)
{
	static const uint16_t ours[] = {
		IKEV2_HASH_SHA2_256, IKEV2_HASH_SHA2_384, IKEV2_HASH_SHA2_512,
	};
	size_t i;

	if (peer_hashes & SIG_HASH_BIT(preferred))
		return preferred;
	for (i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
		if (peer_hashes & SIG_HASH_BIT(ours[i]))
			return ours[i];
	return 0;
}

int sig_auth_sign(EVP_PKEY *key, unsigned peer_hashes, const uint8_t *octets,
		  size_t len, uint8_t *method, uint8_t *out, size_t cap,
		  size_t *out_len, const char **why)
{
	uint16_t preferred = IKEV2_HASH_SHA2_256, hash;
	enum sig_scheme scheme = SIG_RSA_PSS;
	uint8_t unused;

	if (key_is_ec(key)) {
		if (!peer_hashes)
			return sign_rfc4754(key, octets, len, method, out, cap,
					    out_len, why);
		scheme = SIG_ECDSA;
		ecdsa_method(ec_curve(key), &unused, &preferred);
	} else if (!key_is_rsa(key)) {
		*why = "our key is neither RSA nor ECDSA";
		return -1;
	}
	hash = peer_hashes ? pick_hash(preferred, peer_hashes)
			   : IKEV2_HASH_SHA2_256;
	if (!hash) {
		*why = "the peer's SIGNATURE_HASH_ALGORITHMS names no SHA-2 hash";
		return -1;
	}
	*method = IKEV2_AUTH_DIGITAL_SIGNATURE;
	return sig_auth_sign_as(key, scheme, hash, octets, len, out, cap,
				out_len, why);
}

/* ---- verifying ---------------------------------------------------------------- */

/* How a signature is to be checked. */
struct sig_check {
	enum sig_scheme scheme;
	const EVP_MD *md;
	const EVP_MD *mgf1_md;	/* PSS */
	int salt;		/* PSS */
};

static int digest_verify(EVP_PKEY *key, const struct sig_check *c,
			 const uint8_t *sig, size_t sig_len,
			 const uint8_t *octets, size_t len)
{
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int ok = 0;

	if (mctx && EVP_DigestVerifyInit(mctx, &pctx, c->md, NULL, key) == 1 &&
	    (c->scheme != SIG_RSA_PSS ||
	     (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
	      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, c->salt) > 0 &&
	      EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, c->mgf1_md) > 0)) &&
	    (c->scheme != SIG_RSA_PKCS1 ||
	     EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0))
		ok = EVP_DigestVerify(mctx, sig, sig_len, octets, len) == 1;
	EVP_MD_CTX_free(mctx);
	return ok ? 0 : -1;
}

/* The hash an AlgorithmIdentifier names (SHA-2 only). */
static const EVP_MD *algor_md(const X509_ALGOR *a)
{
	return a ? nid_md(OBJ_obj2nid(a->algorithm)) : NULL;
}

/* MGF1 and its hash (RFC 4055 §3.1: the parameter is the hash's
 * AlgorithmIdentifier). */
static const EVP_MD *mgf1_md(const X509_ALGOR *mgf)
{
	const ASN1_OBJECT *obj;
	const void *pval;
	X509_ALGOR *hash;
	const EVP_MD *md;
	int ptype;

	if (!mgf || OBJ_obj2nid(mgf->algorithm) != NID_mgf1)
		return NULL;
	X509_ALGOR_get0(&obj, &ptype, &pval, mgf);
	if (ptype != V_ASN1_SEQUENCE)
		return NULL;
	hash = ASN1_item_unpack(pval, ASN1_ITEM_rptr(X509_ALGOR));
	md = algor_md(hash);
	X509_ALGOR_free(hash);
	return md;
}

/* RSASSA-PSS-params.  An absent hash or MGF means SHA-1: refused. */
static int pss_check(const X509_ALGOR *alg, struct sig_check *c)
{
	const ASN1_OBJECT *obj;
	const void *pval;
	RSA_PSS_PARAMS *p;
	long salt = 20;
	int ptype, rc = -1;

	X509_ALGOR_get0(&obj, &ptype, &pval, alg);
	if (ptype != V_ASN1_SEQUENCE)
		return -1;
	p = ASN1_item_unpack(pval, ASN1_ITEM_rptr(RSA_PSS_PARAMS));
	if (!p)
		return -1;
	if (p->saltLength)
		salt = ASN1_INTEGER_get(p->saltLength);
	c->scheme = SIG_RSA_PSS;
	c->md = algor_md(p->hashAlgorithm);
	c->mgf1_md = mgf1_md(p->maskGenAlgorithm);
	c->salt = (int)salt;
	if (c->md && c->mgf1_md && salt >= 0 && salt <= SIG_MAX &&
	    (!p->trailerField || ASN1_INTEGER_get(p->trailerField) == 1))
		rc = 0;
	RSA_PSS_PARAMS_free(p);
	return rc;
}

static int algor_check(const X509_ALGOR *alg, struct sig_check *c)
{
	memset(c, 0, sizeof(*c));
	switch (OBJ_obj2nid(alg->algorithm)) {
	case NID_sha256WithRSAEncryption: c->md = EVP_sha256(); break;
	case NID_sha384WithRSAEncryption: c->md = EVP_sha384(); break;
	case NID_sha512WithRSAEncryption: c->md = EVP_sha512(); break;
	case NID_ecdsa_with_SHA256:
		c->scheme = SIG_ECDSA;
		c->md = EVP_sha256();
		break;
	case NID_ecdsa_with_SHA384:
		c->scheme = SIG_ECDSA;
		c->md = EVP_sha384();
		break;
	case NID_ecdsa_with_SHA512:
		c->scheme = SIG_ECDSA;
		c->md = EVP_sha512();
		break;
	case NID_rsassaPss:
		return pss_check(alg, c);
	default:
		return -1;
	}
	return 0;
}

static int verify_digital_signature(EVP_PKEY *key, const struct ike_auth *a,
				    const uint8_t *octets, size_t len,
				    const char **why)
{
	const uint8_t *p = a->sig_alg;
	X509_ALGOR *alg = d2i_X509_ALGOR(NULL, &p, (long)a->sig_alg_len);
	struct sig_check c;
	int rc = -1;

	if (!alg || p != a->sig_alg + a->sig_alg_len)
		*why = "malformed signature AlgorithmIdentifier";
	else if (algor_check(alg, &c))
		*why = "unsupported signature algorithm (SHA-2 with RSA, "
		       "RSASSA-PSS or ECDSA are accepted)";
	else if (!scheme_fits_key(key, c.scheme))
		*why = c.scheme == SIG_ECDSA ? "ECDSA signature from a non-EC "
		       "key" : "RSA signature from a non-RSA key";
	else if (digest_verify(key, &c, a->sig, a->sig_len, octets, len))
		*why = "bad signature";
	else
		rc = 0;
	X509_ALGOR_free(alg);
	return rc;
}

/* r | s (RFC 4754 §7) to DER. */
static int ecdsa_raw_to_der(const uint8_t *raw, size_t n, uint8_t *der,
			    size_t cap, size_t *len)
{
	ECDSA_SIG *s = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(raw, (int)n, NULL);
	BIGNUM *sv = BN_bin2bn(raw + n, (int)n, NULL);
	uint8_t *p = der;
	int rc = -1, l;

	if (s && r && sv && ECDSA_SIG_set0(s, r, sv)) {
		r = sv = NULL;	/* owned by s */
		l = i2d_ECDSA_SIG(s, NULL);
		if (l > 0 && (size_t)l <= cap && i2d_ECDSA_SIG(s, &p) == l) {
			*len = (size_t)l;
			rc = 0;
		}
	}
	BN_free(r);
	BN_free(sv);
	ECDSA_SIG_free(s);
	return rc;
}

static int verify_rfc4754(EVP_PKEY *key, const struct ike_auth *a,
			  const uint8_t *octets, size_t len, const char **why)
{
	struct sig_check c = { .scheme = SIG_ECDSA };
	int curve = ec_curve(key);
	uint8_t method, der[SIG_MAX];
	size_t n = curve_bytes(curve), der_len;
	uint16_t hash;

	if (ecdsa_method(curve, &method, &hash) || method != a->method) {
		*why = "ECDSA method does not match the certificate's curve";
		return -1;
	}
	c.md = hash_md(hash);
	if (a->len != 2 * n || ecdsa_raw_to_der(a->data, n, der, sizeof(der),
						&der_len) ||
	    digest_verify(key, &c, der, der_len, octets, len)) {
		*why = "bad signature";
		return -1;
	}
	return 0;
}

static int verify_rsa_sha1(EVP_PKEY *key, const struct ike_auth *a,
			   const uint8_t *octets, size_t len, const char **why)
{
	struct sig_check c = { .scheme = SIG_RSA_PKCS1, .md = EVP_sha1() };

	if (!EVP_PKEY_is_a(key, "RSA")) {
		*why = "RSA signature from a non-RSA key";
		return -1;
	}
	if (digest_verify(key, &c, a->data, a->len, octets, len)) {
		*why = "bad signature";
		return -1;
	}
	return 0;
}

int sig_auth_verify(EVP_PKEY *key, const struct ike_auth *auth,
		    const uint8_t *octets, size_t len, const char **why)
{
	if (!key) {
		*why = "the certificate's public key cannot be used";
		return -1;
	}
	switch (auth->method) {
	case IKEV2_AUTH_DIGITAL_SIGNATURE:
		return verify_digital_signature(key, auth, octets, len, why);
	case IKEV2_AUTH_ECDSA_256:
	case IKEV2_AUTH_ECDSA_384:
	case IKEV2_AUTH_ECDSA_521:
		return verify_rfc4754(key, auth, octets, len, why);
	case IKEV2_AUTH_RSA_SIG:
		return verify_rsa_sha1(key, auth, octets, len, why);
	default:
		*why = "not a signature method";
		return -1;
	}
}

bool sig_auth_method(uint8_t method)
{
	return method == IKEV2_AUTH_DIGITAL_SIGNATURE ||
	       method == IKEV2_AUTH_RSA_SIG || method == IKEV2_AUTH_ECDSA_256 ||
	       method == IKEV2_AUTH_ECDSA_384 || method == IKEV2_AUTH_ECDSA_521;
}
