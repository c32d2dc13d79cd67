// SPDX-License-Identifier: GPL-2.0-only
/*
 * wire_cert.c - X.509 certificates: our credential, CERTREQ hashes, a peer's
 * chain verified to the configured roots with CRL modes, identities bound
 * to certificates; see cert.h.
 *
 * Files are read through memory BIOs after an fstat (regular file, size
 * cap), so a path that names a FIFO or a device never blocks the daemon.
 * An encrypted private key is refused (no passphrase prompt: the daemon
 * has no terminal).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "wire/wire_cert.h"
#include "wire/wire_crypto.h"
#include "wire/wire_ikev2.h"
#include "wire/wire_secrets.h"

#define CERT_FILE_MAX (4u << 20)	/* a CA bundle, a CRL file */
#define KEY_FILE_MAX  (64u << 10)
#define SUBJECT_MAX   256

const char *cert_result_name(enum cert_result r)
{
	switch (r) {
	case CERT_OK:            return "valid";
	case CERT_E_MALFORMED:   return "malformed certificate";
	case CERT_E_CA_FILE:     return "CA file unusable";
	case CERT_E_UNTRUSTED:   return "untrusted";
	case CERT_E_EXPIRED:     return "expired";
	case CERT_E_REVOKED:     return "revoked";
	case CERT_E_NO_CRL:      return "no CRL (strong CRL checking)";
	case CERT_E_ID_MISMATCH: return "ID mismatch";
	}
	return "unknown";
}

/* ---- files ----------------------------------------------------------------- */

/* A file's bytes, held while a memory BIO reads them. */
struct file_copy {
	uint8_t *p;
	size_t cap;
};

/* A regular file of at most max bytes into a memory BIO over copy (wipe
 * and free it with free_copy after the BIO). */
static BIO *file_bio(int fd, const char *path, size_t max,
		     struct file_copy *copy, char *err, size_t errlen)
{
	struct stat st;
	ssize_t n;
	BIO *bio;

	copy->p = NULL;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    (size_t)st.st_size > max) {
		snprintf(err, errlen, "%s is not a regular file of at most %zu "
			 "bytes", path, max);
		return NULL;
	}
	copy->cap = (size_t)st.st_size + 1;	/* one more: it must not grow */
	copy->p = malloc(copy->cap);
	if (!copy->p) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	n = secrets_read_fd(fd, copy->p, copy->cap);
	if (n < 0 || (size_t)n == copy->cap) {
		snprintf(err, errlen, "%s: cannot read it whole", path);
		return NULL;
	}
	bio = BIO_new_mem_buf(copy->p, (int)n);
	if (!bio)
		snprintf(err, errlen, "out of memory");
	return bio;
}

static void free_copy(struct file_copy *copy)
{
	if (copy->p)
		ike_wipe(copy->p, copy->cap);
	free(copy->p);
	copy->p = NULL;
}

/* Every PEM certificate of a file; NULL and err when there is none. */
static STACK_OF(X509) *read_certs(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	STACK_OF(X509) *sk = NULL;
	struct file_copy copy = { NULL, 0 };
	BIO *bio;
	X509 *x;

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	bio = file_bio(fd, path, CERT_FILE_MAX, &copy, err, errlen);
	close(fd);
	if (bio && (sk = sk_X509_new_null()) != NULL) {
		while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
			if (!sk_X509_push(sk, x))
				X509_free(x);
		ERR_clear_error();	/* the end of the file */
		if (sk_X509_num(sk) == 0) {
			snprintf(err, errlen, "%s holds no PEM certificate",
				 path);
			sk_X509_free(sk);
			sk = NULL;
		}
	}
	BIO_free(bio);
	free_copy(&copy);
	return sk;
}

/* "C=CH,O=x,CN=y" (RFC 2253, control and 8-bit characters escaped). */
static const char *name_str(const X509_NAME *name, char *buf, size_t len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int n = 0;

	buf[0] = '\0';
	if (bio && X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0)
		n = BIO_read(bio, buf, (int)len - 1);
	buf[n > 0 ? n : 0] = '\0';
	BIO_free(bio);
	return buf;
}

/* ---- our credential ------------------------------------------------------------ */

struct cert_host {
	EVP_PKEY *key;
	STACK_OF(X509) *certs;		/* ours first */
	uint8_t *der[CERT_MAX_CHAIN];
	size_t der_len[CERT_MAX_CHAIN];
	size_t nder;
	uint8_t *subject_der;
	size_t subject_len;
	char subject[SUBJECT_MAX];
};

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;	/* an encrypted key is refused, never prompted for */
}

static EVP_PKEY *read_key(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	struct file_copy copy = { NULL, 0 };
	EVP_PKEY *key = NULL;
	BIO *bio = NULL;

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (!secrets_check_file(fd, path, "the host's private key", err,
				errlen))
		bio = file_bio(fd, path, KEY_FILE_MAX, &copy, err, errlen);
	close(fd);
	if (bio) {
		key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
		ERR_clear_error();
		if (!key)
			snprintf(err, errlen, "%s holds no unencrypted PEM "
				 "private key", path);
	}
	BIO_free(bio);
	free_copy(&copy);
	return key;
}

static int host_der(struct cert_host *h, char *err, size_t errlen)
{
	int i, n = sk_X509_num(h->certs), len;

	if (n > CERT_MAX_CHAIN) {
		snprintf(err, errlen, "more than %d certificates in %s",
			 CERT_MAX_CHAIN, CERT_HOST_FILE);
		return -1;
	}
	for (i = 0; i < n; i++) {
		len = i2d_X509(sk_X509_value(h->certs, i), &h->der[i]);
		if (len <= 0)
			return -1;
		h->der_len[i] = (size_t)len;
		h->nder++;
	}
	len = i2d_X509_NAME(X509_get_subject_name(sk_X509_value(h->certs, 0)),
			    &h->subject_der);
	if (len <= 0)
		return -1;
	h->subject_len = (size_t)len;
	return 0;
}

static int host_check(struct cert_host *h, const char *cpath, char *err,
		      size_t errlen)
{
	X509 *ours = sk_X509_value(h->certs, 0);

	if (!EVP_PKEY_is_a(h->key, "RSA") && !EVP_PKEY_is_a(h->key, "RSA-PSS") &&
	    !EVP_PKEY_is_a(h->key, "EC")) {
		snprintf(err, errlen, "%s: the key is neither RSA nor ECDSA",
			 CERT_KEY_FILE);
		return -1;
	}
	if (X509_check_private_key(ours, h->key) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "%s: the private key does not belong to "
			 "the first certificate of %s", CERT_KEY_FILE, cpath);
		return -1;
	}
	if (host_der(h, err, errlen))
		return -1;
	name_str(X509_get_subject_name(ours), h->subject, sizeof(h->subject));
	return 0;
}

int cert_host_load(const char *confdir, struct cert_host **out, char *err,
		   size_t errlen)
{
	char cpath[1024], kpath[1024];
	bool has_cert, has_key;
	struct cert_host *h;

	*out = NULL;
	snprintf(cpath, sizeof(cpath), "%s/%s", confdir, CERT_HOST_FILE);
	snprintf(kpath, sizeof(kpath), "%s/%s", confdir, CERT_KEY_FILE);
	has_cert = access(cpath, F_OK) == 0;
	has_key = access(kpath, F_OK) == 0;
	if (!has_cert && !has_key)
		return 0;
	if (!has_cert || !has_key) {
		snprintf(err, errlen, "%s is missing: a host certificate "
			 "needs both %s and %s", has_cert ? kpath : cpath,
			 CERT_HOST_FILE, CERT_KEY_FILE);
		return -1;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	h->key = read_key(kpath, err, errlen);
	if (h->key)
		h->certs = read_certs(cpath, err, errlen);
	if (!h->key || !h->certs || host_check(h, cpath, err, errlen)) {
		cert_host_free(h);
		return -1;
	}
	*out = h;
	return 0;
}

int cert_host_public(const uint8_t *const *der, const size_t *len,
		     size_t n, struct cert_host **out, char *err,
		     size_t errlen)
{
	struct cert_host *h;
	const uint8_t *p;
	X509 *x;
	size_t i;

	*out = NULL;
	if (n == 0 || n > CERT_MAX_CHAIN) {
		snprintf(err, errlen, "%zu certificates: 1 to %d expected", n,
			 CERT_MAX_CHAIN);
		return -1;
	}
	h = calloc(1, sizeof(*h));
	if (!h || !(h->certs = sk_X509_new_null())) {
		free(h);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		p = der[i];
		x = len[i] <= LONG_MAX ? d2i_X509(NULL, &p, (long)len[i]) : NULL;
		if (!x || p != der[i] + len[i] || !sk_X509_push(h->certs, x)) {
			X509_free(x);
			ERR_clear_error();
			snprintf(err, errlen, "certificate %zu is not one", i);
			cert_host_free(h);
			return -1;
		}
	}
	if (host_der(h, err, errlen)) {
		cert_host_free(h);
		return -1;
	}
	name_str(X509_get_subject_name(sk_X509_value(h->certs, 0)), h->subject,
		 sizeof(h->subject));
	*out = h;
	return 0;
}

void cert_host_free(struct cert_host *h)
{
	size_t i;

	if (!h)
		return;
	EVP_PKEY_free(h->key);
	sk_X509_pop_free(h->certs, X509_free);
	for (i = 0; i < h->nder; i++)
		OPENSSL_free(h->der[i]);
	OPENSSL_free(h->subject_der);
	free(h);
}

EVP_PKEY *cert_host_key(const struct cert_host *h)
{
	return h->key;
}

bool cert_host_der(const struct cert_host *h, size_t i, const uint8_t **der,
		   size_t *len)
{
	if (i >= h->nder)
		return false;
	*der = h->der[i];
	*len = h->der_len[i];
	return true;
}

void cert_host_subject_der(const struct cert_host *h, const uint8_t **der,
			   size_t *len)
{
	*der = h->subject_der;
	*len = h->subject_len;
}

bool cert_host_has_ip(const struct cert_host *h, const uint8_t *addr,
		      size_t len)
{
	return X509_check_ip(sk_X509_value(h->certs, 0), addr, len, 0) == 1;
}

const char *cert_host_subject(const struct cert_host *h)
{
	return h->subject;
}

/* ---- CERTREQ --------------------------------------------------------------------- */

static int spki_sha1(X509 *x, uint8_t out[CERT_SHA1_LEN])
{
	unsigned char *der = NULL;
	unsigned int n = 0;
	int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	int ok = len > 0 && EVP_Digest(der, (size_t)len, out, &n, EVP_sha1(),
				       NULL) == 1 && n == CERT_SHA1_LEN;

	OPENSSL_free(der);
	return ok ? 0 : -1;
}

int cert_ca_hashes(const char *ca_file, uint8_t *out, size_t cap,
		   size_t *len, char *err, size_t errlen)
{
	STACK_OF(X509) *cas = read_certs(ca_file, err, errlen);
	int i, rc = 0;

	if (!cas)
		return -1;
	for (i = 0; i < sk_X509_num(cas) && rc == 0; i++) {
		if (cap - *len < CERT_SHA1_LEN) {
			snprintf(err, errlen, "too many CA certificates");
			rc = -1;
		} else if (spki_sha1(sk_X509_value(cas, i), out + *len)) {
			snprintf(err, errlen, "%s: cannot hash a CA key",
				 ca_file);
			rc = -1;
		} else {
			*len += CERT_SHA1_LEN;
		}
	}
	sk_X509_pop_free(cas, X509_free);
	return rc;
}

/* ---- a peer's chain -------------------------------------------------------------- */

struct cert_chain {
	X509 *ee;
	STACK_OF(X509) *untrusted;	/* intermediates the peer sent */
};

struct cert_chain *cert_chain_new(void)
{
	struct cert_chain *ch = calloc(1, sizeof(*ch));

	if (ch && !(ch->untrusted = sk_X509_new_null())) {
		free(ch);
		ch = NULL;
	}
	return ch;
}

int cert_chain_add(struct cert_chain *ch, const uint8_t *der, size_t len)
{
	const uint8_t *p = der;
	X509 *x;

	if (cert_chain_len(ch) >= CERT_MAX_CHAIN || len > CERT_FILE_MAX)
		return -1;
	x = d2i_X509(NULL, &p, (long)len);
	if (!x || p != der + len) {	/* every byte must be the certificate */
		X509_free(x);
		ERR_clear_error();
		return -1;
	}
	if (!ch->ee) {
		if (!X509_get0_pubkey(x)) {	/* a key OpenSSL cannot use */
			X509_free(x);
			ERR_clear_error();
			return -1;
		}
		ch->ee = x;
	} else if (!sk_X509_push(ch->untrusted, x)) {
		X509_free(x);
		return -1;
	}
	return 0;
}

size_t cert_chain_len(const struct cert_chain *ch)
{
	return ch->ee ? 1 + (size_t)sk_X509_num(ch->untrusted) : 0;
}

EVP_PKEY *cert_chain_key(const struct cert_chain *ch)
{
	return ch->ee ? X509_get0_pubkey(ch->ee) : NULL;
}

const char *cert_chain_subject(const struct cert_chain *ch, char *buf,
			       size_t len)
{
	if (!ch->ee) {
		buf[0] = '\0';
		return buf;
	}
	return name_str(X509_get_subject_name(ch->ee), buf, len);
}

void cert_chain_free(struct cert_chain *ch)
{
	if (!ch)
		return;
	X509_free(ch->ee);
	sk_X509_pop_free(ch->untrusted, X509_free);
	free(ch);
}

/* ---- CRLs ------------------------------------------------------------------------- */

/* The CRLs of one file: PEM (any number) or one DER CRL. */
static void read_crl_file(int dirfd, const char *name, STACK_OF(X509_CRL) *sk)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct file_copy copy = { NULL, 0 };
	char err[128];
	X509_CRL *crl;
	size_t before = (size_t)sk_X509_CRL_num(sk);
	BIO *bio;

	if (fd < 0)
		return;
	bio = file_bio(fd, name, CERT_FILE_MAX, &copy, err, sizeof(err));
	close(fd);
	if (!bio)
		goto out;
	while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_CRL_push(sk, crl))
			X509_CRL_free(crl);
	if ((size_t)sk_X509_CRL_num(sk) == before && BIO_reset(bio) == 1 &&
	    (crl = d2i_X509_CRL_bio(bio, NULL)) != NULL &&
	    !sk_X509_CRL_push(sk, crl))
		X509_CRL_free(crl);
out:
	ERR_clear_error();
	BIO_free(bio);
	free_copy(&copy);
}

/* Every CRL in crl_dir (none when it does not exist). */
static STACK_OF(X509_CRL) *read_crls(const char *crl_dir)
{
	STACK_OF(X509_CRL) *sk = sk_X509_CRL_new_null();
	DIR *dir = crl_dir ? opendir(crl_dir) : NULL;
	struct dirent *de;

	if (!sk || !dir) {
		if (dir)
			closedir(dir);
		return sk;
	}
	while ((de = readdir(dir)) != NULL)
		if (de->d_name[0] != '.')
			read_crl_file(dirfd(dir), de->d_name, sk);
	closedir(dir);
	return sk;
}

/* ---- verification ------------------------------------------------------------------ */

static bool crl_unavailable(int err)
{
	return err == X509_V_ERR_UNABLE_TO_GET_CRL ||
	       err == X509_V_ERR_CRL_HAS_EXPIRED ||
	       err == X509_V_ERR_CRL_NOT_YET_VALID;
}

/* Weak mode: a CRL that cannot be had is no reason to refuse. */
static int weak_crl_cb(int ok, X509_STORE_CTX *ctx)
{
	if (!ok && crl_unavailable(X509_STORE_CTX_get_error(ctx))) {
		X509_STORE_CTX_set_error(ctx, X509_V_OK);
		return 1;
	}
	return ok;
}

static enum cert_result result_of(int err)
{
	switch (err) {
	case X509_V_OK:
		return CERT_OK;
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return CERT_E_EXPIRED;
	case X509_V_ERR_CERT_REVOKED:
		return CERT_E_REVOKED;
	default:
		return crl_unavailable(err) ? CERT_E_NO_CRL : CERT_E_UNTRUSTED;
	}
}

static X509_STORE *trust_store(const char *ca_file, char *why, size_t whylen)
{
	STACK_OF(X509) *cas = read_certs(ca_file, why, whylen);
	X509_STORE *store = cas ? X509_STORE_new() : NULL;
	int i;

	for (i = 0; store && i < sk_X509_num(cas); i++)
		if (!X509_STORE_add_cert(store, sk_X509_value(cas, i))) {
			snprintf(why, whylen, "%s: cannot add a CA", ca_file);
			X509_STORE_free(store);
			store = NULL;
		}
	sk_X509_pop_free(cas, X509_free);
	return store;
}

static enum cert_result run_verify(X509_STORE *store,
				   const struct cert_chain *ch,
				   enum cert_crl crl, const char *crl_dir,
				   char *why, size_t whylen)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509_CRL) *crls = NULL;
	enum cert_result r = CERT_E_UNTRUSTED;
	char subject[SUBJECT_MAX];
	X509 *at;
	int err;

	snprintf(why, whylen, "cannot verify: out of memory");
	if (!ctx || !X509_STORE_CTX_init(ctx, store, ch->ee, ch->untrusted))
		goto out;
	if (crl != CERT_CRL_OFF) {
		crls = read_crls(crl_dir);
		X509_STORE_CTX_set0_crls(ctx, crls);
		X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_CRL_CHECK |
					 X509_V_FLAG_CRL_CHECK_ALL);
		if (crl == CERT_CRL_WEAK)
			X509_STORE_CTX_set_verify_cb(ctx, weak_crl_cb);
	}
	if (X509_verify_cert(ctx) == 1) {
		r = CERT_OK;
		snprintf(why, whylen, "valid");
		goto out;
	}
	err = X509_STORE_CTX_get_error(ctx);
	r = result_of(err);
	at = X509_STORE_CTX_get_current_cert(ctx);
	snprintf(why, whylen, "%s: %s (%s)", cert_result_name(r),
		 X509_verify_cert_error_string(err),
		 at ? name_str(X509_get_subject_name(at), subject,
			       sizeof(subject)) : "?");
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	return r;
}

enum cert_result cert_verify(const struct cert_chain *ch, const char *ca_file,
			     enum cert_crl crl, const char *crl_dir, char *why,
			     size_t whylen)
{
	X509_STORE *store;
	enum cert_result r;
	char err[512];

	if (!ch->ee) {
		snprintf(why, whylen, "untrusted: the peer sent no certificate");
		return CERT_E_UNTRUSTED;
	}
	store = trust_store(ca_file, err, sizeof(err));
	if (!store) {
		snprintf(why, whylen, "CA file unusable: %s", err);
		return CERT_E_CA_FILE;
	}
	r = run_verify(store, ch, crl, crl_dir, why, whylen);
	X509_STORE_free(store);
	return r;
}

/* ---- identities ------------------------------------------------------------------ */

static bool dn_matches(X509 *x, const uint8_t *der, size_t len)
{
	const uint8_t *p = der;
	X509_NAME *name = d2i_X509_NAME(NULL, &p, (long)len);
	bool ok = name && p == der + len &&
		  X509_NAME_cmp(name, X509_get_subject_name(x)) == 0;

	X509_NAME_free(name);
	return ok;
}

const char *cert_dn_str(const uint8_t *der, size_t len, char *buf,
			size_t buflen)
{
	const uint8_t *p = der;
	X509_NAME *name = d2i_X509_NAME(NULL, &p, (long)len);
	const char *out = NULL;

	if (name && p == der + len)
		out = name_str(name, buf, buflen);
	X509_NAME_free(name);
	ERR_clear_error();
	return out;
}

/* A name given with its length: no NUL inside (OpenSSL would stop there,
 * or take 0 as "use strlen"). */
static bool plain_name(const uint8_t *p, size_t len)
{
	return len > 0 && len <= 255 && !memchr(p, '\0', len);
}

static bool id_in_cert(X509 *x, uint8_t type, const uint8_t *id, size_t len)
{
	const unsigned flags = X509_CHECK_FLAG_NEVER_CHECK_SUBJECT |
			       X509_CHECK_FLAG_NO_WILDCARDS;

	switch (type) {
	case IKEV2_ID_IPV4_ADDR:
	case IKEV2_ID_IPV6_ADDR:
		return len == (type == IKEV2_ID_IPV4_ADDR ? 4u : 16u) &&
		       X509_check_ip(x, id, len, 0) == 1;
	case IKEV2_ID_FQDN:
		return plain_name(id, len) &&
		       X509_check_host(x, (const char *)id, len, flags,
				       NULL) == 1;
	case IKEV2_ID_RFC822_ADDR:
		return plain_name(id, len) &&
		       X509_check_email(x, (const char *)id, len, flags) == 1;
	case IKEV2_ID_DER_ASN1_DN:
		return dn_matches(x, id, len);
	default:
		return false;
	}
}

enum cert_result cert_id_bound(const struct cert_chain *ch, uint8_t id_type,
			       const uint8_t *id, size_t len, char *why,
			       size_t whylen)
{
	char subject[SUBJECT_MAX];
	bool ok = ch->ee && id_in_cert(ch->ee, id_type, id, len);

	ERR_clear_error();
	if (ok)
		return CERT_OK;
	snprintf(why, whylen, "ID mismatch: the peer's identity is not %s of "
		 "its certificate (%s)", id_type == IKEV2_ID_DER_ASN1_DN ?
		 "the subject" : "a subjectAltName",
		 cert_chain_subject(ch, subject, sizeof(subject)));
	return CERT_E_ID_MISMATCH;
}
