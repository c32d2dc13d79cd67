// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_ike_cert.c - X.509 authentication: chains verified to configured
 * roots with the CRL modes, identities bound to certificates (ike/wire/wire_cert.c),
 * RFC 7427 signatures (ike/wire/wire_signature.c), and two daemons authenticating
 * with certificates through IKE_AUTH (ike/sa/sa_exchange_auth.c).
 *
 * Every key, certificate and CRL is made here, at test time, with the
 * OpenSSL API: no key material lives in the tree.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "wire/wire_cert.h"
#include "daemon/daemon.h"
#include "sa/sa_log.h"
#include "sa/sa_ikesa.h"
#include "sa/sa_exchange.h"
#include "wire/wire_secrets.h"
#include "wire/wire_signature.h"

#include "ike_testbed.h"

#define DAY (24 * 3600L)

/* ---- a test PKI ------------------------------------------------------------------ */

struct ca {
	EVP_PKEY *key;
	X509 *cert;
};

static EVP_PKEY *ec_key(const char *curve)
{
	EVP_PKEY *k = EVP_EC_gen(curve);

	assert_non_null(k);
	return k;
}

static EVP_PKEY *rsa_key(void)
{
	EVP_PKEY *k = EVP_RSA_gen(2048);

	assert_non_null(k);
	return k;
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	assert_non_null(ext);
	assert_true(X509_add_ext(x, ext, -1));
	X509_EXTENSION_free(ext);
}

/* A certificate for key, signed by issuer (NULL: self-signed), valid
 * from `from` to `to` seconds from now; san may be NULL. */
static X509 *make_cert(const char *cn, EVP_PKEY *key, const struct ca *issuer,
		       long serial, long from, long to, bool is_ca,
		       const char *san)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();

	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_NAME_add_entry_by_txt(name, "C", MBSTRING_ASC,
				   (const unsigned char *)"CH", -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
				   (const unsigned char *)"ixdp test", -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer->cert)
				       : name);
	X509_NAME_free(name);
	X509_gmtime_adj(X509_getm_notBefore(x), from);
	X509_gmtime_adj(X509_getm_notAfter(x), to);
	X509_set_pubkey(x, key);
	add_ext(x, issuer ? issuer->cert : NULL, NID_basic_constraints,
		is_ca ? "critical,CA:TRUE" : "CA:FALSE");
	add_ext(x, issuer ? issuer->cert : NULL, NID_key_usage, is_ca
		? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
	add_ext(x, issuer ? issuer->cert : NULL, NID_subject_key_identifier,
		"hash");
	if (san)
		add_ext(x, issuer ? issuer->cert : NULL,
			NID_subject_alt_name, san);
	assert_true(X509_sign(x, issuer ? issuer->key : key, EVP_sha256()) > 0);
	return x;
}

static struct ca make_root(const char *cn)
{
	struct ca ca = { .key = ec_key("P-256") };

	ca.cert = make_cert(cn, ca.key, NULL, 1, -DAY, 3650 * DAY, true, NULL);
	return ca;
}

static struct ca make_intermediate(const char *cn, const struct ca *root)
{
	struct ca ca = { .key = ec_key("P-256") };

	ca.cert = make_cert(cn, ca.key, root, 2, -DAY, 365 * DAY, true, NULL);
	return ca;
}

static void ca_free(struct ca *ca)
{
	EVP_PKEY_free(ca->key);
	X509_free(ca->cert);
}

/* A CRL of issuer listing the serials (0-terminated), current when
 * next_update > 0, expired otherwise. */
static X509_CRL *make_crl(const struct ca *issuer, const long *revoked,
			  long next_update)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t = ASN1_TIME_new();
	size_t i;

	X509_CRL_set_version(crl, 1);
	X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer->cert));
	X509_gmtime_adj(t, next_update > 0 ? -3600 : -3 * DAY);
	X509_CRL_set1_lastUpdate(crl, t);
	X509_gmtime_adj(t, next_update);
	X509_CRL_set1_nextUpdate(crl, t);
	for (i = 0; revoked && revoked[i]; i++) {
		X509_REVOKED *r = X509_REVOKED_new();
		ASN1_INTEGER *sn = ASN1_INTEGER_new();

		ASN1_INTEGER_set(sn, revoked[i]);
		X509_REVOKED_set_serialNumber(r, sn);
		X509_gmtime_adj(t, -7200);
		X509_REVOKED_set_revocationDate(r, t);
		X509_CRL_add0_revoked(crl, r);
		ASN1_INTEGER_free(sn);
	}
	ASN1_TIME_free(t);
	X509_CRL_sort(crl);
	assert_true(X509_CRL_sign(crl, issuer->key, EVP_sha256()) > 0);
	return crl;
}

/* ---- files ------------------------------------------------------------------------ */

static char tmp[64];

static void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmp, name);
}

static FILE *create(const char *name, mode_t mode)
{
	char p[256];
	FILE *f;

	path_of(p, sizeof(p), name);
	f = fopen(p, "w");
	assert_non_null(f);
	assert_int_equal(chmod(p, mode), 0);
	return f;
}

static void write_certs(const char *name, X509 *a, X509 *b)
{
	FILE *f = create(name, 0644);

	assert_true(PEM_write_X509(f, a));
	if (b)
		assert_true(PEM_write_X509(f, b));
	fclose(f);
}

static void write_key(const char *name, EVP_PKEY *key, mode_t mode)
{
	FILE *f = create(name, mode);

	assert_true(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL));
	fclose(f);
}

static void write_crl(const char *name, X509_CRL *crl)
{
	FILE *f = create(name, 0644);

	assert_true(PEM_write_X509_CRL(f, crl));
	fclose(f);
	X509_CRL_free(crl);
}

static void remove_crls(void)
{
	char p[256];

	path_of(p, sizeof(p), "crls/root.pem");
	unlink(p);
	path_of(p, sizeof(p), "crls/inter.pem");
	unlink(p);
}

static void rm_rf(const char *dir)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* ---- the shared PKI: root -> intermediate -> end entities --------------------------- */

static struct ca root, inter, other_root;
static EVP_PKEY *ee_key;
static X509 *ee_cert, *ee_expired;
static char ca_file[256], other_ca_file[256], crl_dir[256];

#define EE_SERIAL      0x1001
#define EXPIRED_SERIAL 0x1002

static int group_setup(void **state)
{
	char p[256];

	snprintf(tmp, sizeof(tmp), "/tmp/ixdp-cert.XXXXXX");
	assert_non_null(mkdtemp(tmp));
	path_of(p, sizeof(p), "crls");
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(crl_dir, sizeof(crl_dir), "%s", p);
	root = make_root("Test Root");
	other_root = make_root("Other Root");
	inter = make_intermediate("Test Intermediate", &root);
	ee_key = ec_key("P-256");
	ee_cert = make_cert("peer.example", ee_key, &inter, EE_SERIAL, -DAY,
			    30 * DAY, false, "IP:192.0.2.7,IP:2001:db8::7,"
			    "DNS:peer.example,email:ops@peer.example");
	ee_expired = make_cert("old.example", ee_key, &inter, EXPIRED_SERIAL,
			       -30 * DAY, -DAY, false, "DNS:old.example");
	write_certs("ca.pem", root.cert, NULL);
	write_certs("other-ca.pem", other_root.cert, NULL);
	path_of(ca_file, sizeof(ca_file), "ca.pem");
	path_of(other_ca_file, sizeof(other_ca_file), "other-ca.pem");
	return 0;
}

static int group_teardown(void **state)
{
	ca_free(&root);
	ca_free(&inter);
	ca_free(&other_root);
	EVP_PKEY_free(ee_key);
	X509_free(ee_cert);
	X509_free(ee_expired);
	rm_rf(tmp);
	return 0;
}

/* The chain a peer sends: its certificate, then the intermediate. */
static struct cert_chain *chain_of(X509 *ee, bool with_inter)
{
	struct cert_chain *ch = cert_chain_new();
	unsigned char *der = NULL;
	int len;

	assert_non_null(ch);
	len = i2d_X509(ee, &der);
	assert_int_equal(cert_chain_add(ch, der, (size_t)len), 0);
	OPENSSL_free(der);
	if (with_inter) {
		der = NULL;
		len = i2d_X509(inter.cert, &der);
		assert_int_equal(cert_chain_add(ch, der, (size_t)len), 0);
		OPENSSL_free(der);
	}
	return ch;
}

static enum cert_result verify(X509 *ee, const char *cafile,
			       enum cert_crl mode, char *why, size_t len)
{
	struct cert_chain *ch = chain_of(ee, true);
	enum cert_result r = cert_verify(ch, cafile, mode, crl_dir, why, len);

	cert_chain_free(ch);
	return r;
}

/* Current CRLs from the root (for the intermediate) and the
 * intermediate, revoking the serials given. */
static void publish_crls(const long *revoked, long next_update)
{
	static const long none[] = { 0 };

	write_crl("crls/root.pem", make_crl(&root, none, next_update));
	write_crl("crls/inter.pem", make_crl(&inter, revoked, next_update));
}

/* ---- chains ---------------------------------------------------------------------- */

static void test_chain_ok(void **state)
{
	char why[512];

	remove_crls();
	assert_int_equal(verify(ee_cert, ca_file, CERT_CRL_OFF, why,
				sizeof(why)), CERT_OK);
}

static void test_chain_needs_intermediate(void **state)
{
	struct cert_chain *ch = chain_of(ee_cert, false);
	char why[512];

	assert_int_equal(cert_verify(ch, ca_file, CERT_CRL_OFF, crl_dir, why,
				     sizeof(why)), CERT_E_UNTRUSTED);
	assert_non_null(strstr(why, "untrusted"));
	cert_chain_free(ch);
}

static void test_wrong_ca(void **state)
{
	char why[512];

	assert_int_equal(verify(ee_cert, other_ca_file, CERT_CRL_OFF, why,
				sizeof(why)), CERT_E_UNTRUSTED);
	assert_non_null(strstr(why, "Test Intermediate"));
}

static void test_expired(void **state)
{
	char why[512];

	assert_int_equal(verify(ee_expired, ca_file, CERT_CRL_OFF, why,
				sizeof(why)), CERT_E_EXPIRED);
	assert_non_null(strstr(why, "old.example"));
}

static void test_ca_file_missing(void **state)
{
	char why[512], p[256];

	path_of(p, sizeof(p), "nope.pem");
	assert_int_equal(verify(ee_cert, p, CERT_CRL_OFF, why, sizeof(why)),
			 CERT_E_CA_FILE);
	assert_non_null(strstr(why, "nope.pem"));
}

static void test_malformed_der(void **state)
{
	struct cert_chain *ch = cert_chain_new();
	unsigned char *der = NULL;
	int len = i2d_X509(ee_cert, &der);

	assert_int_equal(cert_chain_add(ch, der, (size_t)len - 1), -1);
	assert_int_equal(cert_chain_add(ch, der, 0), -1);
	der[0] ^= 0xff;
	assert_int_equal(cert_chain_add(ch, der, (size_t)len), -1);
	assert_int_equal(cert_chain_len(ch), 0);
	OPENSSL_free(der);
	cert_chain_free(ch);
}

/* ---- CRL modes ---------------------------------------------------------------------- */

static void test_revoked_weak_and_strong(void **state)
{
	static const long revoked[] = { EE_SERIAL, 0 };
	char why[512];

	publish_crls(revoked, 7 * DAY);
	assert_int_equal(verify(ee_cert, ca_file, CERT_CRL_WEAK, why,
				sizeof(why)), CERT_E_REVOKED);
	assert_non_null(strstr(why, "revoked"));
	assert_int_equal(verify(ee_cert, ca_file, CERT_CRL_STRONG, why,
				sizeof(why)), CERT_E_REVOKED);
	/* off: the CRL is not looked at */
	assert_int_equal(verify(ee_cert, ca_file, CERT_CRL_OFF, why,
				sizeof(why)), CERT_OK);
	remove_crls();
}

static void test_valid_crl_strong(void **state)
{
	static const long others[] = { 0x4242, 0 };
	char why[512];

	publish_crls(others, 7 * DAY);
	assert_int_equal(verify(ee_cert, ca_file, CERT_CRL_STRONG, why,
				sizeof(why)), CERT_OK);
	remove_crls();
}

static void test_missing_crl(void **state)
{
	char why[512];

	remove_crls();
	assert_int_equal(verify(ee_cert, ca_file, CERT_CRL_WEAK, why,
				sizeof(why)), CERT_OK);
	assert_int_equal(verify(ee_cert, ca_file, CERT_CRL_STRONG, why,
				sizeof(why)), CERT_E_NO_CRL);
	assert_non_null(strstr(why, "no CRL"));
}

static void test_expired_crl(void **state)
{
	static const long none[] = { 0 };
	char why[512];

	publish_crls(none, -DAY);
	assert_int_equal(verify(ee_cert, ca_file, CERT_CRL_WEAK, why,
				sizeof(why)), CERT_OK);
	assert_int_equal(verify(ee_cert, ca_file, CERT_CRL_STRONG, why,
				sizeof(why)), CERT_E_NO_CRL);
	remove_crls();
}

static void test_revoked_in_der_crl(void **state)
{
	static const long revoked[] = { EE_SERIAL, 0 };
	X509_CRL *crl = make_crl(&inter, revoked, 7 * DAY);
	FILE *f = create("crls/inter.pem", 0644);	/* DER, any name */
	char why[512];

	assert_true(i2d_X509_CRL_fp(f, crl));
	fclose(f);
	X509_CRL_free(crl);
	assert_int_equal(verify(ee_cert, ca_file, CERT_CRL_WEAK, why,
				sizeof(why)), CERT_E_REVOKED);
	remove_crls();
}

/* ---- identities ---------------------------------------------------------------------- */

static enum cert_result bound(uint8_t type, const void *id, size_t len)
{
	struct cert_chain *ch = chain_of(ee_cert, false);
	enum cert_result r;
	char why[512];

	r = cert_id_bound(ch, type, id, len, why, sizeof(why));
	if (r != CERT_OK)
		assert_non_null(strstr(why, "ID mismatch"));
	cert_chain_free(ch);
	return r;
}

static void test_id_binding(void **state)
{
	uint8_t v4[4], v6[16], *dn = NULL;
	X509_NAME *other;
	int len;

	inet_pton(AF_INET, "192.0.2.7", v4);
	assert_int_equal(bound(IKEV2_ID_IPV4_ADDR, v4, 4), CERT_OK);
	v4[3] = 8;
	assert_int_equal(bound(IKEV2_ID_IPV4_ADDR, v4, 4), CERT_E_ID_MISMATCH);
	inet_pton(AF_INET6, "2001:db8::7", v6);
	assert_int_equal(bound(IKEV2_ID_IPV6_ADDR, v6, 16), CERT_OK);
	assert_int_equal(bound(IKEV2_ID_IPV6_ADDR, v6, 4), CERT_E_ID_MISMATCH);
	assert_int_equal(bound(IKEV2_ID_FQDN, "peer.example", 12), CERT_OK);
	assert_int_equal(bound(IKEV2_ID_FQDN, "PEER.example", 12), CERT_OK);
	assert_int_equal(bound(IKEV2_ID_FQDN, "evil.example", 12),
			 CERT_E_ID_MISMATCH);
	/* a NUL inside: never cut short */
	assert_int_equal(bound(IKEV2_ID_FQDN, "peer.example\0x", 14),
			 CERT_E_ID_MISMATCH);
	assert_int_equal(bound(IKEV2_ID_FQDN, "", 0), CERT_E_ID_MISMATCH);
	assert_int_equal(bound(IKEV2_ID_RFC822_ADDR, "ops@peer.example", 16),
			 CERT_OK);
	assert_int_equal(bound(IKEV2_ID_RFC822_ADDR, "cto@peer.example", 16),
			 CERT_E_ID_MISMATCH);
	/* the CN is not a subjectAltName */
	len = i2d_X509_NAME(X509_get_subject_name(ee_cert), &dn);
	assert_int_equal(bound(IKEV2_ID_DER_ASN1_DN, dn, (size_t)len), CERT_OK);
	assert_int_equal(bound(IKEV2_ID_DER_ASN1_DN, dn, (size_t)len - 1),
			 CERT_E_ID_MISMATCH);
	OPENSSL_free(dn);
	dn = NULL;
	other = X509_get_subject_name(inter.cert);
	len = i2d_X509_NAME(other, &dn);
	assert_int_equal(bound(IKEV2_ID_DER_ASN1_DN, dn, (size_t)len),
			 CERT_E_ID_MISMATCH);
	OPENSSL_free(dn);
	assert_int_equal(bound(IKEV2_ID_KEY_ID, "peer", 4), CERT_E_ID_MISMATCH);
}

static void test_certreq_hashes(void **state)
{
	uint8_t out[64], want[CERT_SHA1_LEN];
	unsigned char *spki = NULL;
	unsigned int n;
	size_t len = 0;
	char err[256];
	int l = i2d_PUBKEY(root.key, &spki);

	assert_true(EVP_Digest(spki, (size_t)l, want, &n, EVP_sha1(), NULL));
	OPENSSL_free(spki);
	assert_int_equal(cert_ca_hashes(ca_file, out, sizeof(out), &len, err,
					sizeof(err)), 0);
	assert_int_equal(len, CERT_SHA1_LEN);
	assert_memory_equal(out, want, CERT_SHA1_LEN);
	/* appended, and bounded */
	assert_int_equal(cert_ca_hashes(other_ca_file, out, 30, &len, err,
					sizeof(err)), -1);
	assert_int_equal(len, CERT_SHA1_LEN);
}

/* ---- RFC 7427 signatures ---------------------------------------------------------------- */

static const uint8_t octets[] = "IKE_SA_INIT | nonce | prf(SK_p, IDx')";

/* Split AUTH data as the codec does (message.c split_digital_signature). */
static void as_auth(uint8_t method, const uint8_t *data, size_t len,
		    struct ike_auth *a)
{
	memset(a, 0, sizeof(*a));
	a->method = method;
	a->data = data;
	a->len = len;
	if (method == IKEV2_AUTH_DIGITAL_SIGNATURE) {
		a->sig_alg = data + 1;
		a->sig_alg_len = data[0];
		a->sig = data + 1 + data[0];
		a->sig_len = len - 1 - data[0];
	}
}

static int verify_sig(EVP_PKEY *key, uint8_t method, const uint8_t *data,
		      size_t len)
{
	struct ike_auth a;
	const char *why;

	as_auth(method, data, len, &a);
	return sig_auth_verify(key, &a, octets, sizeof(octets), &why);
}

/* Signed with scheme/hash: verifies; a flipped bit, another key, other
 * octets do not. */
static void sign_verify(EVP_PKEY *key, EVP_PKEY *other, enum sig_scheme s,
			uint16_t hash, const uint8_t *want_alg, size_t alg_len)
{
	uint8_t out[SIG_AUTH_MAX];
	struct ike_auth a;
	const char *why;
	size_t len = 0;

	assert_int_equal(sig_auth_sign_as(key, s, hash, octets, sizeof(octets),
					  out, sizeof(out), &len, &why), 0);
	if (want_alg) {
		assert_int_equal(out[0], alg_len);
		assert_memory_equal(out + 1, want_alg, alg_len);
	}
	assert_int_equal(verify_sig(key, IKEV2_AUTH_DIGITAL_SIGNATURE, out,
				    len), 0);
	assert_int_equal(verify_sig(other, IKEV2_AUTH_DIGITAL_SIGNATURE, out,
				    len), -1);
	as_auth(IKEV2_AUTH_DIGITAL_SIGNATURE, out, len, &a);
	assert_int_equal(sig_auth_verify(key, &a, octets, sizeof(octets) - 1,
					 &why), -1);
	assert_string_equal(why, "bad signature");
	out[len - 3] ^= 0x10;	/* corrupted */
	assert_int_equal(verify_sig(key, IKEV2_AUTH_DIGITAL_SIGNATURE, out,
				    len), -1);
}

/* RFC 7427 Appendix A.1.2 and A.3.1: what peers expect to read. */
static const uint8_t alg_rsa_sha256[] = {
	0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
	0x01, 0x0b, 0x05, 0x00,
};
static const uint8_t alg_ecdsa_sha256[] = {
	0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
};
static const uint8_t alg_ecdsa_sha384[] = {
	0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03,
};

static EVP_PKEY *rsa_a, *rsa_b;

static void test_sig_rsa_pkcs1(void **state)
{
	if (!rsa_a) {
		rsa_a = rsa_key();
		rsa_b = rsa_key();
	}
	sign_verify(rsa_a, rsa_b, SIG_RSA_PKCS1, IKEV2_HASH_SHA2_256,
		    alg_rsa_sha256, sizeof(alg_rsa_sha256));
	sign_verify(rsa_a, rsa_b, SIG_RSA_PKCS1, IKEV2_HASH_SHA2_512, NULL, 0);
}

static void test_sig_rsa_pss(void **state)
{
	uint8_t out[SIG_AUTH_MAX], method = 0;
	const char *why;
	size_t len = 0;

	if (!rsa_a) {
		rsa_a = rsa_key();
		rsa_b = rsa_key();
	}
	sign_verify(rsa_a, rsa_b, SIG_RSA_PSS, IKEV2_HASH_SHA2_256, NULL, 0);
	sign_verify(rsa_a, rsa_b, SIG_RSA_PSS, IKEV2_HASH_SHA2_384, NULL, 0);
	/* what the daemon sends from an RSA key: PSS with a hash the peer
	 * takes */
	assert_int_equal(sig_auth_sign(rsa_a, SIG_HASH_BIT(IKEV2_HASH_SHA2_512),
				       octets, sizeof(octets), &method, out,
				       sizeof(out), &len, &why), 0);
	assert_int_equal(method, IKEV2_AUTH_DIGITAL_SIGNATURE);
	assert_int_equal(verify_sig(rsa_a, method, out, len), 0);
	/* an ECDSA AlgorithmIdentifier on an RSA signature */
	assert_int_equal(sig_auth_sign_as(rsa_a, SIG_RSA_PKCS1,
					  IKEV2_HASH_SHA2_256, octets,
					  sizeof(octets), out, sizeof(out),
					  &len, &why), 0);
	out[0] = sizeof(alg_ecdsa_sha256);
	memmove(out + 1 + sizeof(alg_ecdsa_sha256),
		out + 1 + sizeof(alg_rsa_sha256), len - 1 - sizeof(alg_rsa_sha256));
	memcpy(out + 1, alg_ecdsa_sha256, sizeof(alg_ecdsa_sha256));
	len -= sizeof(alg_rsa_sha256) - sizeof(alg_ecdsa_sha256);
	assert_int_equal(verify_sig(rsa_a, method, out, len), -1);
	/* SHA-1 in method 14: refused */
	assert_int_equal(sig_auth_sign_as(rsa_a, SIG_RSA_PKCS1, IKEV2_HASH_SHA1,
					  octets, sizeof(octets), out,
					  sizeof(out), &len, &why), -1);
	EVP_PKEY_free(rsa_a);
	EVP_PKEY_free(rsa_b);
	rsa_a = rsa_b = NULL;
}

static void test_sig_ecdsa(void **state)
{
	EVP_PKEY *p256 = ec_key("P-256"), *p384 = ec_key("P-384");
	EVP_PKEY *o256 = ec_key("P-256");
	uint8_t out[SIG_AUTH_MAX], method = 0;
	const char *why;
	size_t len = 0;

	sign_verify(p256, o256, SIG_ECDSA, IKEV2_HASH_SHA2_256,
		    alg_ecdsa_sha256, sizeof(alg_ecdsa_sha256));
	sign_verify(p384, p256, SIG_ECDSA, IKEV2_HASH_SHA2_384,
		    alg_ecdsa_sha384, sizeof(alg_ecdsa_sha384));
	/* the curve's own hash when the peer takes several */
	assert_int_equal(sig_auth_sign(p384, SIG_HASH_BIT(IKEV2_HASH_SHA2_256) |
				       SIG_HASH_BIT(IKEV2_HASH_SHA2_384),
				       octets, sizeof(octets), &method, out,
				       sizeof(out), &len, &why), 0);
	assert_memory_equal(out + 1, alg_ecdsa_sha384, sizeof(alg_ecdsa_sha384));
	/* a peer without SIGNATURE_HASH_ALGORITHMS: RFC 4754 method 9/10 */
	assert_int_equal(sig_auth_sign(p256, 0, octets, sizeof(octets),
				       &method, out, sizeof(out), &len, &why), 0);
	assert_int_equal(method, IKEV2_AUTH_ECDSA_256);
	assert_int_equal(len, 64);
	assert_int_equal(verify_sig(p256, method, out, len), 0);
	assert_int_equal(verify_sig(p256, IKEV2_AUTH_ECDSA_384, out, len), -1);
	out[10] ^= 1;
	assert_int_equal(verify_sig(p256, method, out, len), -1);
	assert_int_equal(sig_auth_sign(p384, 0, octets, sizeof(octets),
				       &method, out, sizeof(out), &len, &why), 0);
	assert_int_equal(method, IKEV2_AUTH_ECDSA_384);
	assert_int_equal(len, 96);
	assert_int_equal(verify_sig(p384, method, out, len), 0);
	assert_int_equal(verify_sig(p384, method, out, len - 1), -1);
	/* a peer that names only SHA-1: nothing we sign with */
	assert_int_equal(sig_auth_sign(p256, SIG_HASH_BIT(IKEV2_HASH_SHA1),
				       octets, sizeof(octets), &method, out,
				       sizeof(out), &len, &why), -1);
	/* an RSA signature method from an EC key */
	assert_int_equal(verify_sig(p256, IKEV2_AUTH_RSA_SIG, out, 64), -1);
	EVP_PKEY_free(p256);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(o256);
}

static void test_sig_bad_algorithm_id(void **state)
{
	EVP_PKEY *k = ec_key("P-256");
	uint8_t out[SIG_AUTH_MAX];
	struct ike_auth a;
	const char *why;
	size_t len = 0;

	assert_int_equal(sig_auth_sign_as(k, SIG_ECDSA, IKEV2_HASH_SHA2_256,
					  octets, sizeof(octets), out,
					  sizeof(out), &len, &why), 0);
	out[1 + 11] = 0x01;	/* ecdsa-with-SHA224 */
	as_auth(IKEV2_AUTH_DIGITAL_SIGNATURE, out, len, &a);
	assert_int_equal(sig_auth_verify(k, &a, octets, sizeof(octets), &why),
			 -1);
	assert_non_null(strstr(why, "unsupported"));
	out[1 + 1] = 0x0b;	/* the SEQUENCE overruns */
	as_auth(IKEV2_AUTH_DIGITAL_SIGNATURE, out, len, &a);
	assert_int_equal(sig_auth_verify(k, &a, octets, sizeof(octets), &why),
			 -1);
	assert_non_null(strstr(why, "malformed"));
	EVP_PKEY_free(k);
}

/* ---- our credential ---------------------------------------------------------------------- */

static void test_host_load(void **state)
{
	EVP_PKEY *wrong = ec_key("P-256");
	struct cert_host *h = NULL;
	const uint8_t *der;
	uint8_t v4[4];
	char err[512], p[256];
	size_t len;

	rm_rf(tmp);	/* start from an empty CONFDIR */
	assert_int_equal(mkdir(tmp, 0700), 0);
	path_of(p, sizeof(p), "certs");
	assert_int_equal(mkdir(p, 0755), 0);
	path_of(p, sizeof(p), "private");
	assert_int_equal(mkdir(p, 0700), 0);
	assert_int_equal(cert_host_load(tmp, &h, err, sizeof(err)), 0);
	assert_null(h);
	write_certs(CERT_HOST_FILE, ee_cert, inter.cert);
	assert_int_equal(cert_host_load(tmp, &h, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "missing"));
	write_key(CERT_KEY_FILE, ee_key, 0640);
	assert_int_equal(cert_host_load(tmp, &h, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "chmod 600"));
	write_key(CERT_KEY_FILE, wrong, 0600);
	assert_int_equal(cert_host_load(tmp, &h, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "does not belong"));
	write_key(CERT_KEY_FILE, ee_key, 0600);
	assert_int_equal(cert_host_load(tmp, &h, err, sizeof(err)), 0);
	assert_non_null(h);
	assert_true(cert_host_der(h, 0, &der, &len));
	assert_true(cert_host_der(h, 1, &der, &len));	/* the intermediate */
	assert_false(cert_host_der(h, 2, &der, &len));
	inet_pton(AF_INET, "192.0.2.7", v4);
	assert_true(cert_host_has_ip(h, v4, 4));
	v4[0] = 10;
	assert_false(cert_host_has_ip(h, v4, 4));
	assert_non_null(strstr(cert_host_subject(h), "CN=peer.example"));
	cert_host_free(h);
	EVP_PKEY_free(wrong);
	/* the secrets file loader refuses what cert_host_load refuses */
	write_key(CERT_KEY_FILE, ee_key, 0604);
	{
		struct secrets *s = NULL;

		assert_int_equal(secrets_load(tmp, &s, err, sizeof(err)), -1);
		assert_null(s);
		assert_non_null(strstr(err, "private key"));
	}
	rm_rf(tmp);
	assert_int_equal(mkdir(tmp, 0700), 0);
	path_of(p, sizeof(p), "crls");
	assert_int_equal(mkdir(p, 0755), 0);
	write_certs("ca.pem", root.cert, NULL);
	write_certs("other-ca.pem", other_root.cert, NULL);
}

/* ---- two daemons ------------------------------------------------------------------------ */

static const char policy_tmpl[] =
	"filter-lists:\n"
	"  peer: { filters: [ { src: me, dst: %s } ] }\n"
	"filter-actions:\n"
	"  secure: { action: negotiate, methods: [ { esp: aes256gcm16 } ] }\n"
	"policies:\n"
	"  p:\n"
	"    rules:\n"
	"      - { name: to-peer, filter-list: peer, action: secure,\n"
	"          authentication: [ %s ] }\n";

static void set_policy(struct side *s, const char *peer, const char *auth)
{
	char text[2048], err[512];

	snprintf(text, sizeof(text), policy_tmpl, peer, auth);
	peer_policy_free(s->d.policy);
	if (peer_policy_from_buffer("test.yaml", text, strlen(text),
				    &s->d.policy, err, sizeof(err)))
		fail_msg("policy: %s", err);
}

/* "certificate: { ca: FILE, crl: MODE }" */
static void cert_auth(char *buf, size_t len, const char *cafile,
		      const char *crl)
{
	snprintf(buf, len, "{ certificate: { ca: %s, crl: %s } }", cafile, crl);
}

/* CONFDIR of a side: its host certificate and key, the shared CRLs. */
static void side_confdir(struct side *s, const char *name, X509 *cert,
			 EVP_PKEY *key)
{
	char dir[256], p[300], err[512];

	snprintf(dir, sizeof(dir), "%s/%s", tmp, name);
	mkdir(dir, 0700);
	snprintf(p, sizeof(p), "%s/certs", dir);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/private", dir);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/%s", name, CERT_HOST_FILE);
	write_certs(p, cert, inter.cert);
	snprintf(p, sizeof(p), "%s/%s", name, CERT_KEY_FILE);
	write_key(p, key, 0600);
	snprintf(p, sizeof(p), "%s/crls", dir);
	symlink(crl_dir, p);
	snprintf(s->d.confdir, sizeof(s->d.confdir), "%s", dir);
	secrets_free(s->d.secrets);
	if (secrets_load(dir, &s->d.secrets, err, sizeof(err)))
		fail_msg("secrets: %s", err);
}

static void side_init(struct side *s, const char *a4)
{
	side_on_wire(s, a4, "2001:db8::99");
	s->d.ikelogging = 2;
}

/* A: P-256 key, SAN with a name only (so it identifies by DN); B: RSA
 * key, SAN with its address. */
static EVP_PKEY *key_a, *key_b;
static X509 *cert_a, *cert_b;

#define A_SERIAL 0x2001
#define B_SERIAL 0x2002

static int daemons_setup(void **state)
{
	char auth[512];

	now = 1000000;
	armed = NULL;
	nat = false;
	log_open(true, false, getenv("VERBOSE") == NULL);
	if (!key_a) {
		key_a = ec_key("P-256");
		key_b = rsa_key();
		cert_a = make_cert("a.example", key_a, &inter, A_SERIAL, -DAY,
				   30 * DAY, false, "DNS:a.example");
		cert_b = make_cert("b.example", key_b, &inter, B_SERIAL, -DAY,
				   30 * DAY, false, "IP:192.0.2.2");
	}
	side_init(&A, "192.0.2.1");
	side_init(&B, "192.0.2.2");
	side_confdir(&A, "A", cert_a, key_a);
	side_confdir(&B, "B", cert_b, key_b);
	cert_auth(auth, sizeof(auth), ca_file, "weak");
	set_policy(&A, "192.0.2.2", auth);
	set_policy(&B, "192.0.2.0/24", auth);
	return 0;
}

static int daemons_teardown(void **state)
{
	daemon_fini(&A.d);
	daemon_fini(&B.d);
	assert_null(armed);
	return 0;
}

static void initiate(void)
{
	struct sockaddr_storage ss;
	char err[256];
	uint64_t serial;

	assert_int_equal(addr_parse(B.addr4, 500, &ss), 0);
	if (exch_init_start(&A.d, &ss, &serial, err, sizeof(err)))
		fail_msg("initiate: %s", err);
	pump();
}

static struct ikesa *the_sa(struct side *s)
{
	struct sockaddr_storage peer;

	addr_parse(s == &A ? B.addr4 : A.addr4, 0, &peer);
	return ikesa_find_peer(&s->d, &peer);
}

/* Why the side's latest IKE SA closed. */
static const char *last_reason(struct side *s)
{
	struct ikesa *sa = ikesa_find_serial(&s->d, s->d.next_serial);

	assert_non_null(sa);
	return sa->close_reason;
}

static bool up(struct side *s)
{
	struct ikesa *sa = the_sa(s);

	return sa && sa->state == IKESA_ESTABLISHED;
}

static void test_daemons_cert_ok(void **state)
{
	struct ikesa *sa;

	initiate();
	assert_true(up(&A));
	assert_true(up(&B));
	assert_int_equal(A.outcomes_ok, 1);
	sa = the_sa(&B);
	assert_true(sa->by_cert);
	/* A's certificate names no address: A is known by its DN */
	assert_int_equal(sa->peer_id.type, IKEV2_ID_DER_ASN1_DN);
	sa = the_sa(&A);
	assert_true(sa->by_cert);
	assert_int_equal(sa->peer_id.type, IKEV2_ID_IPV4_ADDR);
	assert_int_equal(A.d.stats.v[ST_AUTH_FAILURES], 0);
	assert_int_equal(B.d.stats.v[ST_AUTH_FAILURES], 0);
}

static void test_daemons_strong_with_crls(void **state)
{
	static const long others[] = { 0x4242, 0 };
	char auth[512];

	publish_crls(others, 7 * DAY);
	cert_auth(auth, sizeof(auth), ca_file, "strong");
	set_policy(&A, "192.0.2.2", auth);
	set_policy(&B, "192.0.2.0/24", auth);
	initiate();
	assert_true(up(&A));
	assert_true(up(&B));
	remove_crls();
}

/* B trusts another root: A is refused, counted on B, told to A. */
static void test_daemons_wrong_ca(void **state)
{
	char auth[512];

	cert_auth(auth, sizeof(auth), other_ca_file, "off");
	set_policy(&B, "192.0.2.0/24", auth);
	initiate();
	assert_false(up(&A));
	assert_false(up(&B));
	assert_int_equal(B.d.stats.v[ST_AUTH_FAILURES], 1);
	assert_non_null(strstr(last_reason(&B), "untrusted"));
	assert_int_equal(A.d.stats.v[ST_AUTH_FAILURES], 1);
	assert_int_equal(A.outcomes_failed, 1);
	assert_non_null(strstr(A.last_outcome, "authentication failed"));
}

/* A trusts another root: B, up already, is told AUTHENTICATION_FAILED
 * (an INFORMATIONAL) and counts the failed negotiation too. */
static void test_daemons_initiator_refuses(void **state)
{
	char auth[512];

	cert_auth(auth, sizeof(auth), other_ca_file, "off");
	set_policy(&A, "192.0.2.2", auth);
	initiate();
	assert_false(up(&A));
	assert_false(up(&B));
	assert_int_equal(A.d.stats.v[ST_NEG_FAILED], 1);
	assert_int_equal(A.d.stats.v[ST_FAIL_AUTH], 1);
	assert_int_equal(B.d.stats.v[ST_IKE_SA_ESTABLISHED], 1);
	assert_int_equal(B.d.stats.v[ST_NEG_FAILED], 1);
	assert_int_equal(B.d.stats.v[ST_FAIL_AUTH], 1);
	assert_int_equal(B.d.stats.v[ST_AUTH_FAILURES], 1);
	assert_non_null(strstr(last_reason(&B), "peer answered "
			       "AUTHENTICATION_FAILED"));
}

/* A's certificate revoked: B refuses it. */
static void test_daemons_revoked(void **state)
{
	static const long revoked[] = { A_SERIAL, 0 };

	publish_crls(revoked, 7 * DAY);
	initiate();
	assert_false(up(&B));
	assert_int_equal(B.d.stats.v[ST_AUTH_FAILURES], 1);
	assert_non_null(strstr(last_reason(&B), "revoked"));
	assert_non_null(strstr(last_reason(&B), "a.example"));
	remove_crls();
}

/* B's rule is crl: off, but `strongcrlcheck 2` on B asks for a CRL, and
 * there is none: refused.  A, checking B with the rule's weak mode,
 * would have accepted. */
static void test_daemons_strongcrlcheck(void **state)
{
	remove_crls();
	B.d.strongcrlcheck = 2;
	initiate();
	assert_false(up(&B));
	assert_int_equal(B.d.stats.v[ST_AUTH_FAILURES], 1);
	assert_non_null(strstr(last_reason(&B), "no CRL"));
}

/* A claims an identity its certificate does not hold. */
static void test_daemons_id_mismatch(void **state)
{
	snprintf(A.d.local_fqdn, sizeof(A.d.local_fqdn), "z.example");
	initiate();
	assert_false(up(&B));
	assert_int_equal(B.d.stats.v[ST_AUTH_FAILURES], 1);
	assert_non_null(strstr(last_reason(&B), "ID mismatch"));
}

/* Replace a side's pre-shared keys, keeping its certificate. */
static void set_psk(struct side *s, const char *text)
{
	struct secrets *n;
	char err[256];

	assert_int_equal(secrets_parse("secrets", text, strlen(text), &n, err,
				       sizeof(err)), 0);
	n->host = s->d.secrets->host;
	s->d.secrets->host = NULL;
	secrets_free(s->d.secrets);
	s->d.secrets = n;
}

/* The rule's order: a pre-shared key listed first is used first; listed
 * after the certificate, the certificate is. */
static void test_daemons_method_order(void **state)
{
	char auth[600], cert[512];

	set_psk(&A, "lab = \"a shared passphrase\"\n");
	set_psk(&B, "lab = \"a shared passphrase\"\n");
	cert_auth(cert, sizeof(cert), ca_file, "off");
	snprintf(auth, sizeof(auth), "{ psk: lab }, %s", cert);
	set_policy(&A, "192.0.2.2", auth);
	set_policy(&B, "192.0.2.0/24", auth);
	initiate();
	assert_true(up(&B));
	assert_false(the_sa(&B)->by_cert);
	assert_string_equal(the_sa(&B)->psk_id, "lab");
	snprintf(auth, sizeof(auth), "%s, { psk: lab }", cert);
	set_policy(&A, "192.0.2.2", auth);
	daemon_close_all(&A.d, "test");
	pump();
	initiate();
	assert_true(up(&B));
	assert_true(the_sa(&B)->by_cert);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain_ok),
		cmocka_unit_test(test_chain_needs_intermediate),
		cmocka_unit_test(test_wrong_ca),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_ca_file_missing),
		cmocka_unit_test(test_malformed_der),
		cmocka_unit_test(test_revoked_weak_and_strong),
		cmocka_unit_test(test_valid_crl_strong),
		cmocka_unit_test(test_missing_crl),
		cmocka_unit_test(test_expired_crl),
		cmocka_unit_test(test_revoked_in_der_crl),
		cmocka_unit_test(test_id_binding),
		cmocka_unit_test(test_certreq_hashes),
		cmocka_unit_test(test_sig_rsa_pkcs1),
		cmocka_unit_test(test_sig_rsa_pss),
		cmocka_unit_test(test_sig_ecdsa),
		cmocka_unit_test(test_sig_bad_algorithm_id),
		cmocka_unit_test(test_host_load),
		cmocka_unit_test_setup_teardown(test_daemons_cert_ok,
						daemons_setup, daemons_teardown),
		cmocka_unit_test_setup_teardown(test_daemons_strong_with_crls,
						daemons_setup, daemons_teardown),
		cmocka_unit_test_setup_teardown(test_daemons_initiator_refuses,
						daemons_setup, daemons_teardown),
		cmocka_unit_test_setup_teardown(test_daemons_wrong_ca,
						daemons_setup, daemons_teardown),
		cmocka_unit_test_setup_teardown(test_daemons_revoked,
						daemons_setup, daemons_teardown),
		cmocka_unit_test_setup_teardown(test_daemons_strongcrlcheck,
						daemons_setup, daemons_teardown),
		cmocka_unit_test_setup_teardown(test_daemons_id_mismatch,
						daemons_setup, daemons_teardown),
		cmocka_unit_test_setup_teardown(test_daemons_method_order,
						daemons_setup, daemons_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
