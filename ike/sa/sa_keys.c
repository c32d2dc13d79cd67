// SPDX-License-Identifier: GPL-2.0-only
/* sa_keys.c - see sa_keys.h. */
#include <string.h>

#include "sa/sa_engine.h"
#include "sa/sa_keys.h"
#include "wire/wire_cert.h"
#include "wire/wire_crypto.h"
#include "wire/wire_secrets.h"
#include "wire/wire_signature.h"

int keys_psk_mac(const struct secrets *s, const char *id, uint16_t prf,
		 const uint8_t *octets, size_t len, uint8_t *out,
		 size_t *out_len, const char **why)
{
	const struct secret *psk = s ? secrets_find(s, id) : NULL;

	*why = "the pre-shared key is gone from the secrets file";
	if (!psk || !psk->len)
		return -1;
	*why = "the PRF cannot compute it";
	return ike_psk_auth_octets(prf, psk->key, psk->len, octets, len, out,
				   out_len) == IKE_CRYPTO_OK ? 0 : -1;
}

enum keys_verdict keys_psk_verify(const struct secrets *s, const char *id,
				  uint16_t prf, const uint8_t *octets,
				  size_t len, const uint8_t *auth,
				  size_t auth_len)
{
	uint8_t expect[IKE_PRF_MAX_LEN];
	size_t n = 0;
	const char *why;
	enum keys_verdict v = KEYS_NO_KEY;

	if (!keys_psk_mac(s, id, prf, octets, len, expect, &n, &why))
		v = auth_len == n && ike_ct_equal(expect, auth, n)
		    ? KEYS_MATCH : KEYS_MISMATCH;
	ike_wipe(expect, sizeof(expect));
	return v;
}

int keys_sign(const struct secrets *s, unsigned peer_hashes,
	      const uint8_t *octets, size_t len, uint8_t *method,
	      uint8_t *out, size_t *out_len, const char **why)
{
	EVP_PKEY *key = s && s->host ? cert_host_key(s->host) : NULL;

	*why = "there is no host private key any more";
	if (!key)
		return -1;
	return sig_auth_sign(key, peer_hashes, octets, len, method, out,
			     SIG_AUTH_MAX, out_len, why);
}

static int local_psk_mac(struct daemon *d, const char *id, uint16_t prf,
			 const uint8_t *octets, size_t len, uint8_t *out,
			 size_t *out_len, const char **why)
{
	return keys_psk_mac(d->secrets, id, prf, octets, len, out, out_len,
			    why);
}

static enum keys_verdict local_psk_verify(struct daemon *d, const char *id,
					  uint16_t prf, const uint8_t *octets,
					  size_t len, const uint8_t *auth,
					  size_t auth_len)
{
	return keys_psk_verify(d->secrets, id, prf, octets, len, auth,
			       auth_len);
}

static int local_sign(struct daemon *d, unsigned peer_hashes,
		      const uint8_t *octets, size_t len, uint8_t *method,
		      uint8_t *out, size_t *out_len, const char **why)
{
	return keys_sign(d->secrets, peer_hashes, octets, len, method, out,
			 out_len, why);
}

const struct key_ops keys_local = {
	.psk_mac = local_psk_mac,
	.psk_verify = local_psk_verify,
	.sign = local_sign,
};

const struct key_ops *keys_of(const struct daemon *d)
{
	return d->keys ? d->keys : &keys_local;
}
