/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * wire_ikev2.h - IKEv2 protocol numbers (RFC 7296 and the IANA "IKEv2
 * Parameters" registry).  Values only: no code, no state.
 *
 * Everything the codec (message.h) and the crypto (crypto.h) speak of is
 * named here, so the state machine never writes a bare number.
 */
#ifndef IXDP_IKEV2_H
#define IXDP_IKEV2_H

#define IKEV2_UDP_PORT        500
#define IKEV2_UDP_PORT_NATT   4500

#define IKEV2_VERSION         0x20	/* major 2, minor 0 */
#define IKEV2_MAJOR_VERSION   2

/* IKE header flags (§3.1) */
#define IKEV2_FLAG_INITIATOR  0x08
#define IKEV2_FLAG_VERSION    0x10
#define IKEV2_FLAG_RESPONSE   0x20

#define IKEV2_HEADER_LEN          28
#define IKEV2_PAYLOAD_HEADER_LEN  4
#define IKEV2_CRITICAL_BIT        0x80	/* in the generic payload header */

/* Exchange types (§3.1) */
enum ikev2_exchange {
	IKEV2_EXCH_IKE_SA_INIT     = 34,
	IKEV2_EXCH_IKE_AUTH        = 35,
	IKEV2_EXCH_CREATE_CHILD_SA = 36,
	IKEV2_EXCH_INFORMATIONAL   = 37,
};

/* Payload types (§3.2) */
enum ikev2_payload {
	IKEV2_PL_NONE    = 0,
	IKEV2_PL_SA      = 33,
	IKEV2_PL_KE      = 34,
	IKEV2_PL_IDI     = 35,
	IKEV2_PL_IDR     = 36,
	IKEV2_PL_CERT    = 37,
	IKEV2_PL_CERTREQ = 38,
	IKEV2_PL_AUTH    = 39,
	IKEV2_PL_NONCE   = 40,
	IKEV2_PL_NOTIFY  = 41,
	IKEV2_PL_DELETE  = 42,
	IKEV2_PL_VENDOR  = 43,
	IKEV2_PL_TSI     = 44,
	IKEV2_PL_TSR     = 45,
	IKEV2_PL_SK      = 46,
	IKEV2_PL_CP      = 47,
	IKEV2_PL_EAP     = 48,
	IKEV2_PL_SKF     = 53,	/* Encrypted Fragment, RFC 7383 */
};

/* Security protocol IDs (§3.3.1) */
enum ikev2_protocol {
	IKEV2_PROTO_NONE = 0,
	IKEV2_PROTO_IKE  = 1,
	IKEV2_PROTO_AH   = 2,
	IKEV2_PROTO_ESP  = 3,
};

/* Proposal and transform substructure "last" markers (§3.3.1, §3.3.2) */
#define IKEV2_SUBSTRUCT_LAST       0
#define IKEV2_SUBSTRUCT_PROPOSAL   2
#define IKEV2_SUBSTRUCT_TRANSFORM  3

/* Transform types (§3.3.2) */
enum ikev2_transform_type {
	IKEV2_XFORM_ENCR  = 1,
	IKEV2_XFORM_PRF   = 2,
	IKEV2_XFORM_INTEG = 3,
	IKEV2_XFORM_DH    = 4,
	IKEV2_XFORM_ESN   = 5,
};

/* Encryption algorithms.  DES and 3DES are named only so that a refusal
 * can say what was refused (RFC 8247). */
enum ikev2_encr {
	IKEV2_ENCR_DES        = 2,
	IKEV2_ENCR_3DES       = 3,
	IKEV2_ENCR_NULL       = 11,
	IKEV2_ENCR_AES_CBC    = 12,
	IKEV2_ENCR_AES_CTR    = 13,
	IKEV2_ENCR_AES_GCM_8  = 18,
	IKEV2_ENCR_AES_GCM_12 = 19,
	IKEV2_ENCR_AES_GCM_16 = 20,
};

/* Pseudorandom functions */
enum ikev2_prf {
	IKEV2_PRF_HMAC_MD5      = 1,
	IKEV2_PRF_HMAC_SHA1     = 2,
	IKEV2_PRF_HMAC_SHA2_256 = 5,
	IKEV2_PRF_HMAC_SHA2_384 = 6,
	IKEV2_PRF_HMAC_SHA2_512 = 7,
};

/* Integrity algorithms */
enum ikev2_integ {
	IKEV2_INTEG_NONE              = 0,
	IKEV2_INTEG_HMAC_MD5_96       = 1,
	IKEV2_INTEG_HMAC_SHA1_96      = 2,
	IKEV2_INTEG_HMAC_SHA2_256_128 = 12,
	IKEV2_INTEG_HMAC_SHA2_384_192 = 13,
	IKEV2_INTEG_HMAC_SHA2_512_256 = 14,
};

/* Diffie-Hellman groups (key exchange methods) */
enum ikev2_dh {
	IKEV2_DH_NONE       = 0,
	IKEV2_DH_MODP_768   = 1,
	IKEV2_DH_MODP_1024  = 2,
	IKEV2_DH_MODP_1536  = 5,
	IKEV2_DH_MODP_2048  = 14,
	IKEV2_DH_ECP_256    = 19,
	IKEV2_DH_ECP_384    = 20,
	IKEV2_DH_CURVE25519 = 31,
};

/* Extended sequence numbers */
enum ikev2_esn {
	IKEV2_ESN_NO  = 0,
	IKEV2_ESN_YES = 1,
};

/* Transform attribute types (§3.3.5).  The top bit of the 16-bit type
 * says the attribute is in TV form (a 2-byte value, no length). */
#define IKEV2_ATTR_TV          0x8000
#define IKEV2_ATTR_KEY_LENGTH  14

/* Authentication methods (§3.8, RFC 7427) */
enum ikev2_auth_method {
	IKEV2_AUTH_RSA_SIG   = 1,
	IKEV2_AUTH_PSK       = 2,
	IKEV2_AUTH_DSS_SIG   = 3,
	IKEV2_AUTH_ECDSA_256 = 9,
	IKEV2_AUTH_ECDSA_384 = 10,
	IKEV2_AUTH_ECDSA_521 = 11,
	IKEV2_AUTH_DIGITAL_SIGNATURE = 14,
};

/* Hash algorithms of SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4) */
enum ikev2_hash {
	IKEV2_HASH_SHA1     = 1,
	IKEV2_HASH_SHA2_256 = 2,
	IKEV2_HASH_SHA2_384 = 3,
	IKEV2_HASH_SHA2_512 = 4,
	IKEV2_HASH_IDENTITY = 5,
};

/* Identification types (§3.5) */
enum ikev2_id_type {
	IKEV2_ID_IPV4_ADDR   = 1,
	IKEV2_ID_FQDN        = 2,
	IKEV2_ID_RFC822_ADDR = 3,
	IKEV2_ID_IPV6_ADDR   = 5,
	IKEV2_ID_DER_ASN1_DN = 9,
	IKEV2_ID_DER_ASN1_GN = 10,
	IKEV2_ID_KEY_ID      = 11,
};

/* Certificate encodings (§3.6) */
enum ikev2_cert_encoding {
	IKEV2_CERT_X509_SIG      = 4,
	IKEV2_CERT_X509_CRL      = 7,
	IKEV2_CERT_RAW_RSA_KEY   = 11,
	IKEV2_CERT_HASH_URL_X509 = 12,
	IKEV2_CERT_RAW_PUBKEY    = 15,	/* RFC 7670 */
};

/* Traffic selector types (§3.13.1) */
enum ikev2_ts_type {
	IKEV2_TS_IPV4_ADDR_RANGE = 7,
	IKEV2_TS_IPV6_ADDR_RANGE = 8,
};

/* Notify message types (§3.10.1): errors below 16384, status above. */
enum ikev2_notify {
	IKEV2_N_UNSUPPORTED_CRITICAL_PAYLOAD = 1,
	IKEV2_N_INVALID_IKE_SPI              = 4,
	IKEV2_N_INVALID_MAJOR_VERSION        = 5,
	IKEV2_N_INVALID_SYNTAX               = 7,
	IKEV2_N_INVALID_MESSAGE_ID           = 9,
	IKEV2_N_INVALID_SPI                  = 11,
	IKEV2_N_NO_PROPOSAL_CHOSEN           = 14,
	IKEV2_N_INVALID_KE_PAYLOAD           = 17,
	IKEV2_N_AUTHENTICATION_FAILED        = 24,
	IKEV2_N_SINGLE_PAIR_REQUIRED         = 34,
	IKEV2_N_NO_ADDITIONAL_SAS            = 35,
	IKEV2_N_INTERNAL_ADDRESS_FAILURE     = 36,
	IKEV2_N_FAILED_CP_REQUIRED           = 37,
	IKEV2_N_TS_UNACCEPTABLE              = 38,
	IKEV2_N_INVALID_SELECTORS            = 39,
	IKEV2_N_TEMPORARY_FAILURE            = 43,
	IKEV2_N_CHILD_SA_NOT_FOUND           = 44,

	IKEV2_N_ERROR_MAX                    = 16383,

	IKEV2_N_INITIAL_CONTACT              = 16384,
	IKEV2_N_SET_WINDOW_SIZE              = 16385,
	IKEV2_N_ADDITIONAL_TS_POSSIBLE       = 16386,
	IKEV2_N_IPCOMP_SUPPORTED             = 16387,
	IKEV2_N_NAT_DETECTION_SOURCE_IP      = 16388,
	IKEV2_N_NAT_DETECTION_DESTINATION_IP = 16389,
	IKEV2_N_COOKIE                       = 16390,
	IKEV2_N_USE_TRANSPORT_MODE           = 16391,
	IKEV2_N_HTTP_CERT_LOOKUP_SUPPORTED   = 16392,
	IKEV2_N_REKEY_SA                     = 16393,
	IKEV2_N_ESP_TFC_PADDING_NOT_SUPPORTED = 16394,
	IKEV2_N_NON_FIRST_FRAGMENTS_ALSO     = 16395,
	IKEV2_N_MOBIKE_SUPPORTED             = 16396,
	IKEV2_N_REDIRECT_SUPPORTED           = 16406,
	IKEV2_N_CHILDLESS_IKEV2_SUPPORTED    = 16418,	/* RFC 6023 */
	IKEV2_N_IKEV2_FRAGMENTATION_SUPPORTED = 16430,	/* RFC 7383 */
	IKEV2_N_SIGNATURE_HASH_ALGORITHMS    = 16431,	/* RFC 7427 */
};

/* Sizes fixed by the RFCs */
#define IKEV2_NONCE_MIN        16	/* §3.9 */
#define IKEV2_NONCE_MAX        256
#define IKEV2_COOKIE_MAX       64	/* §2.6 */
#define IKEV2_NAT_DETECTION_LEN 20	/* SHA-1 output, §2.23 */
#define IKEV2_NON_ESP_MARKER_LEN 4	/* RFC 3948 §2.2 */
#define IKEV2_MAX_MESSAGE_LEN  65535	/* our limit: one UDP datagram */

#endif /* IXDP_IKEV2_H */
