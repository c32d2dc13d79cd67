/* SPDX-License-Identifier: GPL-2.0-only
 *
 * wire_signature.h - AUTH payloads made with a private key (RFC 7296 §2.15,
 * RFC 7427): the signature over <SignedOctets> (crypto.h:
 * ike_signed_octets), its method number and, for method 14 (Digital
 * Signature), the DER AlgorithmIdentifier that names the scheme.
 *
 * We sign with method 14: ECDSA keys with the hash that fits their curve
 * (P-256 SHA-256, P-384 SHA-384, P-521 SHA-512), RSA keys with RSASSA-PSS
 * (MGF1 with the same hash, salt as long as the hash), each time with a
 * hash the peer listed in SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4).  A peer
 * that sent no such notify gets methods 9/10/11 (RFC 4754) from an ECDSA
 * key, and method 14 with SHA-256 from an RSA key.
 *
 * We verify methods 14 (RSASSA-PKCS1-v1_5 and RSASSA-PSS with SHA-256,
 * 384, 512; ECDSA with SHA-256, 384, 512), 9, 10 and 11 (ECDSA with the
 * curve's hash, r|s), and 1 (RSASSA-PKCS1-v1_5 with SHA-1, the only hash
 * RFC 7296 names for it: accepted from peers for interoperability, never
 * sent).  Nothing here logs; a refusal is returned with a short reason.
 */
#ifndef IXDP_IKE_SIGNATURE_H
#define IXDP_IKE_SIGNATURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

#include "wire/wire_message.h"

/* Room for any AUTH data we make: 1 + AlgorithmIdentifier + an RSA-8192
 * signature. */
#define SIG_AUTH_MAX 1200

enum sig_scheme {
	SIG_RSA_PKCS1,		/* RSASSA-PKCS1-v1_5 */
	SIG_RSA_PSS,		/* RSASSA-PSS, MGF1 with the same hash */
	SIG_ECDSA,
};

/* Bits (1 << IKEV2_HASH_*) of the hashes in a SIGNATURE_HASH_ALGORITHMS
 * notify. */
#define SIG_HASH_BIT(h) (1u << (h))

/* The peer's SIGNATURE_HASH_ALGORITHMS as bits; 0 when it sent none. */
unsigned sig_peer_hashes(const struct ike_msg *msg);
/* Add our SIGNATURE_HASH_ALGORITHMS notify (SHA2-256, 384, 512). */
enum ike_msg_err sig_add_hash_notify(struct ike_builder *b);

/* Sign octets with key for a peer that announced peer_hashes: *method and
 * the Authentication Data (cap >= SIG_AUTH_MAX).  0, or -1 and *why. */
int sig_auth_sign(EVP_PKEY *key, unsigned peer_hashes, const uint8_t *octets,
		  size_t len, uint8_t *method, uint8_t *out, size_t cap,
		  size_t *out_len, const char **why);
/* Method 14 with a chosen scheme and hash (IKEV2_HASH_*). */
int sig_auth_sign_as(EVP_PKEY *key, enum sig_scheme scheme, uint16_t hash,
		     const uint8_t *octets, size_t len, uint8_t *out,
		     size_t cap, size_t *out_len, const char **why);

/* Whether auth (method and data) is a valid signature of octets by key:
 * 0, or -1 and *why ("bad signature", "RSA signature from an ECDSA key",
 * "unsupported signature algorithm", ...). */
int sig_auth_verify(EVP_PKEY *key, const struct ike_auth *auth,
		    const uint8_t *octets, size_t len, const char **why);

/* Whether an AUTH method is one of the signature methods above. */
bool sig_auth_method(uint8_t method);

#endif /* IXDP_IKE_SIGNATURE_H */
