/* SPDX-License-Identifier: GPL-2.0-only
 *
 * wire_cert.h - X.509 certificates for IKE_AUTH, through OpenSSL 3.
 *
 * Our own credential (struct cert_host), read with the secrets:
 *
 *   CONFDIR/certs/host.pem    our certificate (PEM), then optionally the
 *                             intermediate CA certificates that lead to
 *                             the root, each sent in a CERT payload
 *   CONFDIR/private/host.key  its private key (PEM, PKCS#8 or traditional,
 *                             not encrypted; RSA or ECDSA).  Root-only like
 *                             the secrets file: a key file the group or
 *                             others may read is refused.
 *
 * Neither file: no certificate authentication from this host (a rule that
 * needs it fails to start a negotiation, and cannot answer one).
 *
 * A peer's certificate (the first CERT payload; later ones are
 * intermediates) is verified with X509_verify_cert up to the root CAs in
 * the rule's `ca:` file, then revocation per the CRL mode:
 *
 *   off     no check
 *   weak    a certificate a CRL lists is refused; one whose CRL cannot be
 *           had (none, or only an expired one) is accepted
 *   strong  refused unless a current CRL of its issuer says it is valid
 *
 * CRLs are read from the files in CONFDIR/crls/ (PEM, several per file, or
 * one DER CRL) at every verification, so a new CRL counts at once; CRL
 * distribution points are not fetched.  The chain's intermediates are
 * checked against CRLs too.
 *
 * The peer's identity must be bound to its certificate: an IPv4/IPv6
 * address, FQDN or RFC 822 identity to a subjectAltName entry of that
 * type (no wildcards, never the subject's CN), a DER_ASN1_DN identity to
 * the subject.
 */
#ifndef IXDP_IKE_CERT_H
#define IXDP_IKE_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#define CERT_HOST_FILE  "certs/host.pem"
#define CERT_KEY_FILE   "private/host.key"
#define CERT_CRL_DIR    "crls"
#define CERT_MAX_CHAIN  8	/* certificates per side, end entity first */
#define CERT_SHA1_LEN   20	/* a CERTREQ entry */

/* The CRL modes of a certificate method (lib/policy/policy.h enum crl_mode and
 * `ipsec-xdp set config strongcrlcheck`). */
enum cert_crl { CERT_CRL_OFF = 0, CERT_CRL_WEAK = 1, CERT_CRL_STRONG = 2 };

/* Why a certificate was refused. */
enum cert_result {
	CERT_OK = 0,
	CERT_E_MALFORMED,	/* not a DER X.509 certificate */
	CERT_E_CA_FILE,		/* the rule's CA file cannot be used */
	CERT_E_UNTRUSTED,	/* no chain to a configured root */
	CERT_E_EXPIRED,		/* outside its validity (or a CA's) */
	CERT_E_REVOKED,
	CERT_E_NO_CRL,		/* strong mode: no current CRL */
	CERT_E_ID_MISMATCH,	/* the identity is not in the certificate */
};

const char *cert_result_name(enum cert_result r);

/* ---- our credential --------------------------------------------------------- */

struct cert_host;

/* Read CONFDIR/certs/host.pem and CONFDIR/private/host.key.  Neither
 * there: *out NULL and 0.  -1 and err (naming the file, never the key)
 * when one is missing, unreadable, a key file others may read, or the key
 * does not belong to the certificate. */
int cert_host_load(const char *confdir, struct cert_host **out, char *err,
		   size_t errlen);
void cert_host_free(struct cert_host *h);
/* Our credential without its key, from the DER certificates (ours first)
 * the key holder sends: what the network process keeps (cert_host_key
 * gives NULL).  0, or -1 and err. */
int cert_host_public(const uint8_t *const *der, const size_t *len,
		     size_t n, struct cert_host **out, char *err,
		     size_t errlen);
/* The private key; NULL in a credential made by cert_host_public. */
EVP_PKEY *cert_host_key(const struct cert_host *h);
/* The i-th certificate to send (0 ours, then intermediates), DER; false
 * past the end. */
bool cert_host_der(const struct cert_host *h, size_t i, const uint8_t **der,
		   size_t *len);
/* Our subject as DER (a DER_ASN1_DN identity). */
void cert_host_subject_der(const struct cert_host *h, const uint8_t **der,
			   size_t *len);
/* Whether our certificate names this address (4 or 16 bytes). */
bool cert_host_has_ip(const struct cert_host *h, const uint8_t *addr,
		      size_t len);
/* "C=CH,O=...,CN=..." for logs. */
const char *cert_host_subject(const struct cert_host *h);

/* ---- trust ------------------------------------------------------------------ */

/* The SHA-1 hashes of the SubjectPublicKeyInfo of every CA certificate in
 * ca_file (a CERTREQ, RFC 7296 §3.7), appended at out + *len. */
int cert_ca_hashes(const char *ca_file, uint8_t *out, size_t cap,
		   size_t *len, char *err, size_t errlen);

/* A peer's certificates as received. */
struct cert_chain;

struct cert_chain *cert_chain_new(void);
/* Add one DER certificate (the first is the end entity).  -1 when it is
 * not one, the chain is full, or the end entity's key is unusable. */
int cert_chain_add(struct cert_chain *ch, const uint8_t *der, size_t len);
size_t cert_chain_len(const struct cert_chain *ch);
/* The end entity's public key (not to be freed); NULL when empty. */
EVP_PKEY *cert_chain_key(const struct cert_chain *ch);
/* The end entity's subject for logs ("" when empty). */
const char *cert_chain_subject(const struct cert_chain *ch, char *buf,
			       size_t len);
void cert_chain_free(struct cert_chain *ch);

/* Verify the chain to the roots of ca_file with CRL mode crl, CRLs from
 * crl_dir.  why gets a line for the log (subject names, never keys). */
enum cert_result cert_verify(const struct cert_chain *ch, const char *ca_file,
			     enum cert_crl crl, const char *crl_dir, char *why,
			     size_t whylen);

/* Whether the identity (IKEv2 ID type and data) is bound to the chain's
 * end entity. */
enum cert_result cert_id_bound(const struct cert_chain *ch, uint8_t id_type,
			       const uint8_t *id, size_t len, char *why,
			       size_t whylen);

/* A DER distinguished name (a DER_ASN1_DN identity) as RFC 2253 text;
 * NULL when der is not one. */
const char *cert_dn_str(const uint8_t *der, size_t len, char *buf,
			size_t buflen);

#endif /* IXDP_IKE_CERT_H */
