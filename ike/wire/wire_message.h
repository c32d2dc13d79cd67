/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * wire_message.h - the IKEv2 message codec (RFC 7296 §3).
 *
 * Receiving: ike_msg_parse() checks the header and walks the payload chain
 * of one datagram into a struct ike_msg: the header plus the payloads in
 * order, each a (type, critical bit, body) view into the caller's buffer.
 * Nothing is copied, so the buffer must outlive the struct.  The typed
 * decoders (ike_decode_*) then turn one payload body into a struct.  Once
 * the SK payload has been decrypted (crypto.h: ike_sk_open), the plaintext
 * is handed to ike_msg_add_decrypted() and its payloads join the list.
 *
 * Sending: a struct ike_builder writes a header and payloads into a
 * bounded buffer, chaining the next-payload fields and lengths itself.
 * An encoder refuses to write what the matching decoder would refuse.
 *
 * Every length is checked before it is used; bad input gives one of the
 * enum ike_msg_err codes below (ike_msg_strerror names it), never a read
 * outside [buf, buf + len).
 */
#ifndef IXDP_IKE_MESSAGE_H
#define IXDP_IKE_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "wire/wire_ikev2.h"

enum ike_msg_err {
	IKE_MSG_OK = 0,
	/* the IKE header */
	IKE_MSG_E_SHORT_HEADER,		/* fewer than 28 bytes */
	IKE_MSG_E_BAD_VERSION,		/* major version is not 2 */
	IKE_MSG_E_OVERSIZED,		/* datagram or Length above 64 KiB */
	IKE_MSG_E_LENGTH_BELOW_MIN,	/* header Length below 28 */
	IKE_MSG_E_TRUNCATED,		/* datagram shorter than Length */
	IKE_MSG_E_TRAILING_BYTES,	/* datagram longer than Length */
	/* the payload chain */
	IKE_MSG_E_PAYLOAD_HEADER_TRUNCATED, /* 1-3 bytes where a payload starts */
	IKE_MSG_E_PAYLOAD_LENGTH_BELOW_MIN, /* below 4 or below the type's minimum */
	IKE_MSG_E_PAYLOAD_OVERRUN,	/* payload Length runs past the end */
	IKE_MSG_E_CHAIN_UNTERMINATED,	/* Next Payload names one, none follows */
	IKE_MSG_E_CHAIN_TRAILING,	/* Next Payload is NONE, bytes follow */
	IKE_MSG_E_TOO_MANY_PAYLOADS,	/* chain longer than IKE_MSG_MAX_PAYLOADS */
	IKE_MSG_E_UNSUPPORTED_CRITICAL,	/* unknown type with the critical bit */
	IKE_MSG_E_SK_NOT_LAST,		/* bytes after the Encrypted payload */
	IKE_MSG_E_NESTED_SK,		/* an Encrypted payload inside one */
	IKE_MSG_E_NOT_ENCRYPTED,	/* decrypted data for a message without SK */
	IKE_MSG_E_ALREADY_DECRYPTED,
	/* typed decoders */
	IKE_MSG_E_WRONG_PAYLOAD_TYPE,	/* decoder called on another type */
	IKE_MSG_E_NOT_FOUND,		/* ike_msg_find_notify: none of that type */
	IKE_MSG_E_SUBSTRUCT_TRUNCATED,	/* proposal/transform/attribute/TS cut */
	IKE_MSG_E_SUBSTRUCT_LENGTH,	/* substructure length impossible */
	IKE_MSG_E_SUBSTRUCT_MARKER,	/* bad "last substruc" value */
	IKE_MSG_E_SUBSTRUCT_TRAILING,	/* bytes after the last substructure */
	IKE_MSG_E_TOO_MANY_PROPOSALS,
	IKE_MSG_E_TOO_MANY_TRANSFORMS,
	IKE_MSG_E_TRANSFORM_COUNT,	/* "# of transforms" disagrees */
	IKE_MSG_E_BAD_SPI_SIZE,
	IKE_MSG_E_BAD_ATTRIBUTE,
	IKE_MSG_E_BAD_KE,
	IKE_MSG_E_BAD_NONCE,		/* outside 16..256 bytes */
	IKE_MSG_E_BAD_ID,
	IKE_MSG_E_BAD_CERT,
	IKE_MSG_E_BAD_AUTH,
	IKE_MSG_E_BAD_NOTIFY_DATA,
	IKE_MSG_E_BAD_DELETE,
	IKE_MSG_E_TS_COUNT,		/* "Number of TSs" zero or disagrees */
	IKE_MSG_E_TOO_MANY_TS,
	IKE_MSG_E_BAD_TS,
	/* encoders */
	IKE_MSG_E_NO_SPACE,		/* output buffer too small */
	IKE_MSG_E_BAD_ARGUMENT,		/* value the wire cannot carry */
	IKE_MSG_E_COUNT
};

/* "payload length below minimum" etc.; never NULL. */
const char *ike_msg_strerror(enum ike_msg_err err);

/* ---- header and generic payloads ----------------------------------------- */

struct ike_header {
	uint64_t ispi;		/* the 8 SPI bytes read big-endian */
	uint64_t rspi;
	uint8_t next_payload;
	uint8_t version;	/* major << 4 | minor */
	uint8_t exchange;	/* enum ikev2_exchange */
	uint8_t flags;		/* IKEV2_FLAG_* */
	uint32_t msgid;
	uint32_t length;
};

struct ike_payload {
	uint8_t type;		/* enum ikev2_payload */
	uint8_t next;		/* its Next Payload field (SK: first inner) */
	bool critical;
	bool decrypted;		/* came out of the Encrypted payload */
	const uint8_t *body;	/* after the 4-byte generic header */
	size_t len;		/* body length */
	size_t offset;		/* of the generic header in its buffer */
};

/* More payloads than this in one message is refused (a message of 4-byte
 * payloads could otherwise hold 16 000 of them). */
#define IKE_MSG_MAX_PAYLOADS 64
#define IKE_MSG_NO_SK        ((size_t)-1)

struct ike_msg {
	struct ike_header hdr;
	const uint8_t *raw;	/* the whole message */
	size_t raw_len;
	struct ike_payload pl[IKE_MSG_MAX_PAYLOADS];
	size_t npl;
	size_t sk_index;	/* index of SK/SKF in pl, or IKE_MSG_NO_SK */
	bool decrypted;		/* ike_msg_add_decrypted() done */
	/* On IKE_MSG_E_UNSUPPORTED_CRITICAL: the type to name in the
	 * UNSUPPORTED_CRITICAL_PAYLOAD notify.  On any error: where in its
	 * buffer the parser stopped. */
	uint8_t err_payload_type;
	size_t err_offset;
};

/* True for the payload types this codec knows (an unknown one is skipped,
 * or refused when marked critical). */
bool ike_payload_type_known(uint8_t type);

/* Only the fixed header: enough to find the IKE SA by SPI before anything
 * else.  Fills *hdr as far as the bytes allow, even on error. */
enum ike_msg_err ike_msg_parse_header(const uint8_t *buf, size_t len,
				      struct ike_header *hdr);

/* The header and the whole payload chain. */
enum ike_msg_err ike_msg_parse(const uint8_t *buf, size_t len,
			       struct ike_msg *msg);

/* Append the payloads of the decrypted SK body (padding already removed)
 * to msg.  plain must outlive msg.  On error, drop the message. */
enum ike_msg_err ike_msg_add_decrypted(struct ike_msg *msg,
				       const uint8_t *plain, size_t len);

/* The first payload of a type, or the next one after `after` (NULL: from
 * the start).  NULL when there is none. */
const struct ike_payload *ike_msg_find(const struct ike_msg *msg,
				       uint8_t type,
				       const struct ike_payload *after);
size_t ike_msg_count(const struct ike_msg *msg, uint8_t type);

/* Write the 28-byte header exactly as given (SK sealing needs this). */
void ike_header_encode(const struct ike_header *hdr,
		       uint8_t out[IKEV2_HEADER_LEN]);

/* ---- typed payloads -------------------------------------------------------- */

#define IKE_MAX_PROPOSALS   16
#define IKE_MAX_TRANSFORMS  48	/* per proposal */
#define IKE_MAX_TS          16
#define IKE_SPI_MAX         8

struct ike_transform {
	uint8_t type;		/* enum ikev2_transform_type */
	uint16_t id;
	uint16_t key_bits;	/* Key Length attribute; 0 = absent */
	/* It carried an attribute we do not know: §3.3.6 says to ignore the
	 * transform, so proposal selection must skip it. */
	bool unknown_attr;
};

struct ike_proposal {
	uint8_t num;
	uint8_t protocol;	/* enum ikev2_protocol */
	uint8_t spi_size;
	uint8_t spi[IKE_SPI_MAX];
	uint8_t ntransforms;
	struct ike_transform xf[IKE_MAX_TRANSFORMS];
};

struct ike_sa {
	uint8_t nproposals;
	struct ike_proposal prop[IKE_MAX_PROPOSALS];
};

struct ike_ke {
	uint16_t group;		/* enum ikev2_dh */
	const uint8_t *data;
	size_t len;
};

struct ike_nonce {
	const uint8_t *data;
	size_t len;
};

struct ike_id {			/* IDi and IDr */
	uint8_t type;		/* enum ikev2_id_type */
	const uint8_t *data;
	size_t len;
};

struct ike_cert {		/* CERT and CERTREQ */
	uint8_t encoding;	/* enum ikev2_cert_encoding */
	const uint8_t *data;
	size_t len;
};

struct ike_auth {
	uint8_t method;		/* enum ikev2_auth_method */
	const uint8_t *data;	/* the Authentication Data */
	size_t len;
	/* For IKEV2_AUTH_DIGITAL_SIGNATURE (RFC 7427 §3): data split into the
	 * DER AlgorithmIdentifier and the signature.  NULL otherwise. */
	const uint8_t *sig_alg;
	size_t sig_alg_len;
	const uint8_t *sig;
	size_t sig_len;
};

struct ike_notify {
	uint8_t protocol;	/* enum ikev2_protocol, 0 for none */
	uint8_t spi_size;
	const uint8_t *spi;	/* NULL when spi_size is 0 */
	uint16_t type;		/* enum ikev2_notify */
	const uint8_t *data;
	size_t len;
};

struct ike_delete {
	uint8_t protocol;
	uint8_t spi_size;	/* 0 for IKE, 4 for ESP and AH */
	uint16_t nspi;
	const uint8_t *spis;	/* nspi * spi_size bytes */
};

struct ike_ts {
	uint8_t type;		/* enum ikev2_ts_type */
	uint8_t ip_proto;	/* 0 = any */
	uint16_t start_port, end_port;
	uint8_t start[16], end[16];	/* 4 bytes used for IPv4 */
};

struct ike_ts_set {		/* TSi and TSr */
	uint8_t nts;
	struct ike_ts ts[IKE_MAX_TS];
	uint8_t nunknown;	/* selectors of unknown type, skipped */
};

struct ike_vendor {
	const uint8_t *data;
	size_t len;
};

struct ike_sk {
	uint8_t first_inner;	/* type of the first encrypted payload */
	const uint8_t *data;	/* IV | ciphertext | ICV */
	size_t len;
};

/* Each checks pl->type and decodes its body.  Pointers in *out point into
 * the payload body. */
enum ike_msg_err ike_decode_sa(const struct ike_payload *pl, struct ike_sa *out);
enum ike_msg_err ike_decode_ke(const struct ike_payload *pl, struct ike_ke *out);
enum ike_msg_err ike_decode_nonce(const struct ike_payload *pl,
				  struct ike_nonce *out);
enum ike_msg_err ike_decode_id(const struct ike_payload *pl, struct ike_id *out);
enum ike_msg_err ike_decode_cert(const struct ike_payload *pl,
				 struct ike_cert *out);
enum ike_msg_err ike_decode_certreq(const struct ike_payload *pl,
				    struct ike_cert *out);
enum ike_msg_err ike_decode_auth(const struct ike_payload *pl,
				 struct ike_auth *out);
enum ike_msg_err ike_decode_notify(const struct ike_payload *pl,
				   struct ike_notify *out);
enum ike_msg_err ike_decode_delete(const struct ike_payload *pl,
				   struct ike_delete *out);
enum ike_msg_err ike_decode_ts(const struct ike_payload *pl,
			       struct ike_ts_set *out);
enum ike_msg_err ike_decode_vendor(const struct ike_payload *pl,
				   struct ike_vendor *out);
enum ike_msg_err ike_decode_sk(const struct ike_payload *pl, struct ike_sk *out);

/* The first notify of a type in msg, decoded; IKE_MSG_E_NOT_FOUND when
 * there is none. */
enum ike_msg_err ike_msg_find_notify(const struct ike_msg *msg, uint16_t type,
				     struct ike_notify *out);

/* The group an INVALID_KE_PAYLOAD notify asks for. */
enum ike_msg_err ike_notify_dh_group(const struct ike_notify *n,
				     uint16_t *group);
/* The hash algorithms of SIGNATURE_HASH_ALGORITHMS; more than max are
 * dropped (*n says how many were kept). */
enum ike_msg_err ike_notify_hash_algs(const struct ike_notify *n,
				      uint16_t *algs, size_t max, size_t *n_out);
/* The i-th SPI of an ESP/AH Delete, host order. */
uint32_t ike_delete_spi(const struct ike_delete *d, size_t i);

/* ---- building ---------------------------------------------------------- */

struct ike_builder {
	uint8_t *buf;
	size_t cap;
	size_t len;
	bool has_header;
	size_t link_at;		/* where the next payload's type goes */
	size_t open_at;		/* start of the payload being written */
	uint8_t first;		/* first payload type (header-less chains) */
	enum ike_msg_err err;	/* first error; later adds do nothing */
};

/* A whole message: the header from hdr (Next Payload and Length are
 * filled in as payloads are added and by ike_build_finish). */
void ike_build_message(struct ike_builder *b, uint8_t *buf, size_t cap,
		       const struct ike_header *hdr);
/* A bare payload chain: the plaintext of an SK payload.  b->first says
 * what to put in the SK header's Next Payload. */
void ike_build_chain(struct ike_builder *b, uint8_t *buf, size_t cap);
/* The first error of any add, or IKE_MSG_OK and *len. */
enum ike_msg_err ike_build_finish(struct ike_builder *b, size_t *len);

enum ike_msg_err ike_add_sa(struct ike_builder *b, const struct ike_sa *sa);
enum ike_msg_err ike_add_ke(struct ike_builder *b, const struct ike_ke *ke);
enum ike_msg_err ike_add_nonce(struct ike_builder *b,
			       const struct ike_nonce *n);
/* pl_type: IKEV2_PL_IDI or IKEV2_PL_IDR */
enum ike_msg_err ike_add_id(struct ike_builder *b, uint8_t pl_type,
			    const struct ike_id *id);
enum ike_msg_err ike_add_cert(struct ike_builder *b, const struct ike_cert *c);
enum ike_msg_err ike_add_certreq(struct ike_builder *b,
				 const struct ike_cert *c);
/* For DIGITAL_SIGNATURE, a->data is the whole Authentication Data (the
 * sig_* fields are not read). */
enum ike_msg_err ike_add_auth(struct ike_builder *b, const struct ike_auth *a);
enum ike_msg_err ike_add_notify(struct ike_builder *b,
				const struct ike_notify *n);
enum ike_msg_err ike_add_delete(struct ike_builder *b,
				const struct ike_delete *d);
/* pl_type: IKEV2_PL_TSI or IKEV2_PL_TSR */
enum ike_msg_err ike_add_ts(struct ike_builder *b, uint8_t pl_type,
			    const struct ike_ts_set *ts);
enum ike_msg_err ike_add_vendor(struct ike_builder *b,
				const struct ike_vendor *v);
/* Any payload as given (CP, EAP, and the tests' malformed ones). */
enum ike_msg_err ike_add_raw(struct ike_builder *b, uint8_t type,
			     bool critical, const uint8_t *body, size_t len);

/* ---- UDP port 4500 (RFC 3948) ---------------------------------------------- */

enum ike_udp4500_kind {
	IKE_UDP4500_IKE,	/* non-ESP marker, then an IKE message */
	IKE_UDP4500_ESP,	/* UDP-encapsulated ESP */
	IKE_UDP4500_KEEPALIVE,	/* the one-byte 0xFF NAT keepalive */
	IKE_UDP4500_INVALID,	/* too short to be any of these */
};

/* What a datagram on port 4500 carries; for IKE, *ike and *ike_len are
 * the message after the 4-byte marker. */
enum ike_udp4500_kind ike_udp4500_classify(const uint8_t *dgram, size_t len,
					   const uint8_t **ike,
					   size_t *ike_len);
/* Write the 4 zero bytes that precede IKE on port 4500.  Returns 4, or 0
 * when cap is too small. */
size_t ike_non_esp_marker_write(uint8_t *out, size_t cap);

#endif /* IXDP_IKE_MESSAGE_H */
