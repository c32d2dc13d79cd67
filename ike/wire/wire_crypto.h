/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * wire_crypto.h - IKEv2 cryptography over OpenSSL 3 EVP: the PRF and prf+,
 * IKE SA and CHILD SA key derivation (RFC 7296 §2.13-2.18), Diffie-Hellman
 * (groups 14, 19, 20, 31), the Encrypted payload (§3.14, RFC 5282), the
 * PSK AUTH value (§2.15) and the NAT detection hash (§2.23).
 *
 * Keys live in fixed arrays inside the structs below, and the *_wipe and
 * *_free functions clear them with OPENSSL_cleanse.  Nothing here prints
 * or logs; errors are enum ike_crypto_err values.
 */
#ifndef IXDP_IKE_CRYPTO_H
#define IXDP_IKE_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "wire/wire_ikev2.h"
#include "wire/wire_message.h"

enum ike_crypto_err {
	IKE_CRYPTO_OK = 0,
	IKE_CRYPTO_E_UNSUPPORTED,	/* algorithm, key size or group */
	IKE_CRYPTO_E_ARGUMENT,		/* a length out of range */
	IKE_CRYPTO_E_BAD_PUBLIC,	/* peer's KE: wrong length, off curve... */
	IKE_CRYPTO_E_NO_SK,		/* message has no Encrypted payload */
	IKE_CRYPTO_E_SK_LENGTH,		/* SK payload too short or misaligned */
	IKE_CRYPTO_E_ICV,		/* integrity check failed */
	IKE_CRYPTO_E_PADDING,		/* pad length longer than the data */
	IKE_CRYPTO_E_AUTH,		/* AUTH payload does not verify */
	IKE_CRYPTO_E_NO_SPACE,		/* output buffer too small */
	IKE_CRYPTO_E_LIBCRYPTO,		/* OpenSSL failed */
	IKE_CRYPTO_E_COUNT
};

const char *ike_crypto_strerror(enum ike_crypto_err err);

/* ---- algorithms ---------------------------------------------------------- */

#define IKE_PRF_MAX_LEN    64	/* HMAC-SHA2-512 */
#define IKE_INTEG_MAX_KEY  64
#define IKE_INTEG_MAX_ICV  32
#define IKE_ENCR_MAX_KEY   36	/* AES-256 + 4-byte GCM salt */
#define IKE_GCM_SALT_LEN   4
#define IKE_GCM_IV_LEN     8	/* RFC 5282: the explicit part of the nonce */
#define IKE_GCM_NONCE_LEN  12
#define IKE_GCM_ICV_LEN    16
#define IKE_AES_BLOCK      16
#define IKE_DH_MAX_LEN     256	/* MODP-2048: both public value and secret */

/* One negotiated transform set.  For an AEAD cipher integ is
 * IKEV2_INTEG_NONE; for a CHILD SA prf and dh are not used for keys, and
 * for AH encr is IKEV2_ENCR_NULL with encr_key_bits 0. */
struct ike_suite {
	uint16_t encr;		/* enum ikev2_encr */
	uint16_t encr_key_bits;	/* 128, 192 or 256 */
	uint16_t integ;		/* enum ikev2_integ */
	uint16_t prf;		/* enum ikev2_prf */
	uint16_t dh;		/* enum ikev2_dh */
};

/* 0 when the algorithm (or key size) is not one we implement. */
size_t ike_prf_len(uint16_t prf);
size_t ike_integ_key_len(uint16_t integ);
size_t ike_integ_icv_len(uint16_t integ);
/* Key bytes including the GCM salt. */
size_t ike_encr_key_len(uint16_t encr, uint16_t key_bits);
bool ike_encr_is_aead(uint16_t encr);
/* The KE payload's data length for a group. */
size_t ike_dh_public_len(uint16_t group);

/* IKEV2_XFORM_* type and id to a name for logs ("ENCR_3DES",
 * "DH_MODP_2048"); "unknown" for the rest. */
const char *ike_transform_name(uint8_t type, uint16_t id);

/* Whether a suite can protect an IKE SA (ike_sa) or a CHILD SA: every
 * algorithm known, AEAD without integrity, a plain cipher with it. */
bool ike_suite_usable(const struct ike_suite *s, bool ike_sa);

/* ---- primitives -------------------------------------------------------------- */

/* Fill buf from the OpenSSL DRBG (nonces, SPIs, IVs). */
enum ike_crypto_err ike_random(void *buf, size_t len);

/* Constant-time comparison. */
bool ike_ct_equal(const void *a, const void *b, size_t len);

/* Clear a secret the caller holds. */
void ike_wipe(void *p, size_t len);

/* prf(key, data): out receives ike_prf_len(prf) bytes. */
enum ike_crypto_err ike_prf(uint16_t prf, const uint8_t *key, size_t key_len,
			    const uint8_t *data, size_t len, uint8_t *out);

/* prf+ (§2.13): T1 | T2 | ... truncated to out_len (at most 255 blocks). */
enum ike_crypto_err ike_prf_plus(uint16_t prf, const uint8_t *key,
				 size_t key_len, const uint8_t *seed,
				 size_t seed_len, uint8_t *out, size_t out_len);

/* The integrity ICV: HMAC truncated to ike_integ_icv_len(integ). */
enum ike_crypto_err ike_integ_icv(uint16_t integ, const uint8_t *key,
				  const uint8_t *data, size_t len,
				  uint8_t *icv);

/* AES-CBC without padding; len a multiple of 16; key_len 16, 24 or 32. */
enum ike_crypto_err ike_aes_cbc(bool encrypt, const uint8_t *key,
				size_t key_len, const uint8_t iv[IKE_AES_BLOCK],
				const uint8_t *in, size_t len, uint8_t *out);

/* AES-GCM with a 12-byte nonce and a 16-byte tag; key_len 16, 24 or 32
 * (without the salt).  open gives IKE_CRYPTO_E_ICV on a bad tag. */
enum ike_crypto_err ike_aes_gcm_seal(const uint8_t *key, size_t key_len,
				     const uint8_t nonce[IKE_GCM_NONCE_LEN],
				     const uint8_t *aad, size_t aad_len,
				     const uint8_t *in, size_t len,
				     uint8_t *out,
				     uint8_t tag[IKE_GCM_ICV_LEN]);
enum ike_crypto_err ike_aes_gcm_open(const uint8_t *key, size_t key_len,
				     const uint8_t nonce[IKE_GCM_NONCE_LEN],
				     const uint8_t *aad, size_t aad_len,
				     const uint8_t *in, size_t len,
				     const uint8_t tag[IKE_GCM_ICV_LEN],
				     uint8_t *out);

/* ---- Diffie-Hellman ---------------------------------------------------------- */

struct ike_dh;	/* one key pair of one group */

/* A fresh key pair. */
enum ike_crypto_err ike_dh_new(uint16_t group, struct ike_dh **out);
/* A key pair from a known private value (big-endian; X25519: the 32-byte
 * scalar), for known-answer tests. */
enum ike_crypto_err ike_dh_from_private(uint16_t group, const uint8_t *priv,
					size_t len, struct ike_dh **out);
uint16_t ike_dh_group(const struct ike_dh *dh);
/* Our KE data: MODP big-endian padded to the prime's size; ECP x | y
 * without the 0x04 prefix (RFC 5903); X25519 the 32-byte u (RFC 8031). */
enum ike_crypto_err ike_dh_public(const struct ike_dh *dh, uint8_t *out,
				  size_t cap, size_t *len);
/* g^ir from the peer's KE data, after checking its length and (ECP) that
 * it is a point of the curve, (MODP) that 1 < y < p-1.  MODP is padded to
 * 256 bytes; ECP is the x coordinate. */
enum ike_crypto_err ike_dh_shared(const struct ike_dh *dh,
				  const uint8_t *peer, size_t peer_len,
				  uint8_t *out, size_t cap, size_t *len);
/* Frees and clears the private key; NULL is fine. */
void ike_dh_free(struct ike_dh *dh);

/* ---- key derivation ---------------------------------------------------------- */

struct ike_sa_keys {
	struct ike_suite suite;
	size_t prf_len, integ_len, encr_len;
	uint8_t sk_d[IKE_PRF_MAX_LEN];
	uint8_t sk_ai[IKE_INTEG_MAX_KEY], sk_ar[IKE_INTEG_MAX_KEY];
	uint8_t sk_ei[IKE_ENCR_MAX_KEY], sk_er[IKE_ENCR_MAX_KEY];
	uint8_t sk_pi[IKE_PRF_MAX_LEN], sk_pr[IKE_PRF_MAX_LEN];
};

/* Keys of one direction of a CHILD SA: _i for traffic from the initiator
 * of the exchange that made it, _r for traffic to it (§2.17). */
struct ike_child_keys {
	size_t encr_len, integ_len;
	uint8_t encr_i[IKE_ENCR_MAX_KEY], integ_i[IKE_INTEG_MAX_KEY];
	uint8_t encr_r[IKE_ENCR_MAX_KEY], integ_r[IKE_INTEG_MAX_KEY];
};

void ike_sa_keys_wipe(struct ike_sa_keys *k);
void ike_child_keys_wipe(struct ike_child_keys *k);

/* SKEYSEED = prf(Ni | Nr, g^ir) (§2.14); out: ike_prf_len(prf) bytes. */
enum ike_crypto_err ike_skeyseed(uint16_t prf, const uint8_t *ni, size_t ni_len,
				 const uint8_t *nr, size_t nr_len,
				 const uint8_t *g_ir, size_t g_ir_len,
				 uint8_t *out);

/* SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr) (§2.18), with the old
 * IKE SA's PRF: the rekey exchange belongs to the old SA. */
enum ike_crypto_err ike_skeyseed_rekey(const struct ike_sa_keys *old,
				       const uint8_t *g_ir, size_t g_ir_len,
				       const uint8_t *ni, size_t ni_len,
				       const uint8_t *nr, size_t nr_len,
				       uint8_t *out);

/* {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr}
 *	= prf+(SKEYSEED, Ni | Nr | SPIi | SPIr) */
enum ike_crypto_err ike_sa_keys_derive(struct ike_sa_keys *k,
				       const struct ike_suite *suite,
				       const uint8_t *skeyseed,
				       const uint8_t *ni, size_t ni_len,
				       const uint8_t *nr, size_t nr_len,
				       uint64_t spi_i, uint64_t spi_r);

/* The two steps above from our DH key pair and the peer's KE data, the
 * shared secret never leaving this file. */
enum ike_crypto_err ike_sa_keys_from_dh(struct ike_sa_keys *k,
					const struct ike_suite *suite,
					const struct ike_dh *dh,
					const uint8_t *peer_ke, size_t peer_len,
					const uint8_t *ni, size_t ni_len,
					const uint8_t *nr, size_t nr_len,
					uint64_t spi_i, uint64_t spi_r);

/* KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr) (§2.17), split into
 * encr_i | integ_i | encr_r | integ_r for child (its encr/integ).  g_ir
 * NULL: no PFS. */
enum ike_crypto_err ike_child_keys_derive(struct ike_child_keys *out,
					  const struct ike_sa_keys *ike,
					  const struct ike_suite *child,
					  const uint8_t *g_ir, size_t g_ir_len,
					  const uint8_t *ni, size_t ni_len,
					  const uint8_t *nr, size_t nr_len);

/* ---- the Encrypted payload ----------------------------------------------------- */

/* The most ike_sk_seal adds to a plaintext: IKE header, SK header, IV,
 * padding and pad length, ICV. */
size_t ike_sk_overhead(const struct ike_suite *s);

/*
 * Write a whole message: hdr (Next Payload and Length set here), then an
 * SK payload holding plain (a payload chain whose first type is
 * first_inner), encrypted with the keys of the sender: SK_ei/SK_ai when
 * from_initiator (the original initiator of the IKE SA), else SK_er/SK_ar.
 * AES-GCM authenticates the header and SK header as AAD (RFC 5282);
 * AES-CBC is followed by an ICV over the whole message (§3.14).
 */
enum ike_crypto_err ike_sk_seal(const struct ike_sa_keys *k,
				bool from_initiator,
				const struct ike_header *hdr,
				uint8_t first_inner,
				const uint8_t *plain, size_t plain_len,
				uint8_t *out, size_t cap, size_t *out_len);

/* One fragment of a message too large for one datagram (RFC 7383): an
 * Encrypted Fragment payload (SKF) holding plain, a piece of the payload
 * chain; fragment number of total (1 <= number <= total), first_inner
 * only in fragment 1.  Sealed and checked like SK, the fragment numbers
 * authenticated too. */
#define IKE_SKF_PREFIX_LEN 4	/* Fragment Number, Total Fragments */
enum ike_crypto_err ike_skf_seal(const struct ike_sa_keys *k,
				 bool from_initiator,
				 const struct ike_header *hdr,
				 uint8_t first_inner, uint16_t number,
				 uint16_t total, const uint8_t *plain,
				 size_t plain_len, uint8_t *out, size_t cap,
				 size_t *out_len);
/* The most ike_skf_seal adds to a piece of plaintext. */
size_t ike_skf_overhead(const struct ike_suite *s);

/* Check the ICV of msg's SK payload (or SKF: of that one fragment) and
 * decrypt it into plain (padding removed); for SK then
 * ike_msg_add_decrypted(msg, plain, *plain_len).  from_initiator: who
 * sent msg. */
enum ike_crypto_err ike_sk_open(const struct ike_sa_keys *k,
				bool from_initiator,
				const struct ike_msg *msg,
				uint8_t *plain, size_t cap, size_t *plain_len);

/* ---- authentication ---------------------------------------------------------- */

/* What one side's AUTH covers (§2.15). */
struct ike_auth_input {
	bool initiator;			/* the initiator's AUTH (SK_pi) or not (SK_pr) */
	const uint8_t *message;		/* that side's IKE_SA_INIT message as sent */
	size_t message_len;
	const uint8_t *peer_nonce;	/* the other side's nonce data */
	size_t peer_nonce_len;
	const struct ike_id *id;	/* that side's identity */
};

/* <SignedOctets> = message | peer nonce | prf(SK_p, RestOfIDPayload):
 * what a signature covers. */
enum ike_crypto_err ike_signed_octets(const struct ike_sa_keys *k,
				      const struct ike_auth_input *in,
				      uint8_t *out, size_t cap, size_t *len);

/* AUTH = prf(prf(PSK, "Key Pad for IKEv2"), <SignedOctets>); out gets
 * k->prf_len bytes. */
enum ike_crypto_err ike_psk_auth(const struct ike_sa_keys *k,
				 const uint8_t *psk, size_t psk_len,
				 const struct ike_auth_input *in,
				 uint8_t *out, size_t *out_len);
/* The same AUTH over <SignedOctets> already made (ike_signed_octets), with
 * PRF prf: what the key holder computes for the network process, which
 * has SK_p but not the key. */
enum ike_crypto_err ike_psk_auth_octets(uint16_t prf, const uint8_t *psk,
					size_t psk_len, const uint8_t *octets,
					size_t len, uint8_t *out,
					size_t *out_len);
/* IKE_CRYPTO_OK when auth matches, IKE_CRYPTO_E_AUTH when it does not. */
enum ike_crypto_err ike_psk_auth_verify(const struct ike_sa_keys *k,
					const uint8_t *psk, size_t psk_len,
					const struct ike_auth_input *in,
					const uint8_t *auth, size_t auth_len);

/* NAT_DETECTION_*_IP data: SHA-1(SPIi | SPIr | address | port) (§2.23);
 * addr is 4 or 16 bytes, port in host order. */
enum ike_crypto_err ike_nat_detection_hash(uint64_t spi_i, uint64_t spi_r,
					   const uint8_t *addr, size_t addr_len,
					   uint16_t port,
					   uint8_t out[IKEV2_NAT_DETECTION_LEN]);

#endif /* IXDP_IKE_CRYPTO_H */
