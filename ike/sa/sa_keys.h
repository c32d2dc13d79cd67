/* SPDX-License-Identifier: GPL-2.0-only
 *
 * sa_keys.h - everything IKE_AUTH does with a secret, behind one interface
 * (d->keys): the AUTH MAC of a pre-shared key, checking a peer's, and a
 * signature with the host's private key.
 *
 * keys_local does it in this process from d->secrets (the unit tests'
 * testbed).  ipsec-xdpd sets d->keys to its key holder's client
 * (ike/daemon/daemon_keys.c): the network process then keeps, in
 * d->secrets, only the ids of the pre-shared keys and the host's
 * certificates, never a key (docs/behaviour.md, ipsec-xdpd(8) SECURITY).
 *
 * The key holder answers with the same functions over its own set
 * (keys_psk_mac, keys_psk_verify, keys_sign).
 */
#ifndef IXDP_IKE_SA_KEYS_H
#define IXDP_IKE_SA_KEYS_H

#include <stddef.h>
#include <stdint.h>

struct daemon;
struct secrets;

enum keys_verdict {
	KEYS_MATCH = 0,
	KEYS_MISMATCH = 1,
	KEYS_NO_KEY = -1,	/* no such key, or it could not be computed */
};

struct key_ops {
	/* AUTH = prf(prf(PSK id, "Key Pad for IKEv2"), octets) into out
	 * (IKE_PRF_MAX_LEN).  0, or -1 and *why. */
	int (*psk_mac)(struct daemon *d, const char *id, uint16_t prf,
		       const uint8_t *octets, size_t len, uint8_t *out,
		       size_t *out_len, const char **why);
	/* Whether auth is that AUTH. */
	enum keys_verdict (*psk_verify)(struct daemon *d, const char *id,
					uint16_t prf, const uint8_t *octets,
					size_t len, const uint8_t *auth,
					size_t auth_len);
	/* A signature AUTH (wire_signature.h: sig_auth_sign) with the host
	 * key into out (SIG_AUTH_MAX).  0, or -1 and *why. */
	int (*sign)(struct daemon *d, unsigned peer_hashes,
		    const uint8_t *octets, size_t len, uint8_t *method,
		    uint8_t *out, size_t *out_len, const char **why);
};

/* From d->secrets, in this process. */
extern const struct key_ops keys_local;

/* The operations over a set of secrets (NULL: none). */
int keys_psk_mac(const struct secrets *s, const char *id, uint16_t prf,
		 const uint8_t *octets, size_t len, uint8_t *out,
		 size_t *out_len, const char **why);
enum keys_verdict keys_psk_verify(const struct secrets *s, const char *id,
				  uint16_t prf, const uint8_t *octets,
				  size_t len, const uint8_t *auth,
				  size_t auth_len);
int keys_sign(const struct secrets *s, unsigned peer_hashes,
	      const uint8_t *octets, size_t len, uint8_t *method,
	      uint8_t *out, size_t *out_len, const char **why);

/* d->keys, or keys_local when unset. */
const struct key_ops *keys_of(const struct daemon *d);

#endif /* IXDP_IKE_SA_KEYS_H */
