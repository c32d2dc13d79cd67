// SPDX-License-Identifier: GPL-2.0-only
/*
 * wire_message.c - the IKEv2 message codec; see message.h.
 *
 * Reading rule: every multi-byte field is read through get16/get32/get64
 * after a length check against the bytes that remain, never before.
 */
#include <string.h>
#include "wire/wire_message.h"

static const char *const err_names[IKE_MSG_E_COUNT] = {
	[IKE_MSG_OK]			 = "no error",
	[IKE_MSG_E_SHORT_HEADER]	 = "shorter than the 28-byte IKE header",
	[IKE_MSG_E_BAD_VERSION]		 = "IKE major version is not 2",
	[IKE_MSG_E_OVERSIZED]		 = "message larger than 64 KiB",
	[IKE_MSG_E_LENGTH_BELOW_MIN]	 = "header length below 28",
	[IKE_MSG_E_TRUNCATED]		 = "message shorter than its header length",
	[IKE_MSG_E_TRAILING_BYTES]	 = "bytes after the length the header gives",
	[IKE_MSG_E_PAYLOAD_HEADER_TRUNCATED] = "payload header cut short",
	[IKE_MSG_E_PAYLOAD_LENGTH_BELOW_MIN] = "payload length below minimum",
	[IKE_MSG_E_PAYLOAD_OVERRUN]	 = "payload length runs past the message",
	[IKE_MSG_E_CHAIN_UNTERMINATED]	 = "next payload announced but none follows",
	[IKE_MSG_E_CHAIN_TRAILING]	 = "bytes after the last payload",
	[IKE_MSG_E_TOO_MANY_PAYLOADS]	 = "too many payloads",
	[IKE_MSG_E_UNSUPPORTED_CRITICAL] = "unsupported critical payload",
	[IKE_MSG_E_SK_NOT_LAST]		 = "encrypted payload is not the last",
	[IKE_MSG_E_NESTED_SK]		 = "encrypted payload inside an encrypted payload",
	[IKE_MSG_E_NOT_ENCRYPTED]	 = "message has no encrypted payload",
	[IKE_MSG_E_ALREADY_DECRYPTED]	 = "encrypted payload already decrypted",
	[IKE_MSG_E_WRONG_PAYLOAD_TYPE]	 = "wrong payload type",
	[IKE_MSG_E_NOT_FOUND]		 = "no such payload",
	[IKE_MSG_E_SUBSTRUCT_TRUNCATED]	 = "substructure cut short",
	[IKE_MSG_E_SUBSTRUCT_LENGTH]	 = "substructure length invalid",
	[IKE_MSG_E_SUBSTRUCT_MARKER]	 = "invalid last-substructure marker",
	[IKE_MSG_E_SUBSTRUCT_TRAILING]	 = "bytes after the last substructure",
	[IKE_MSG_E_TOO_MANY_PROPOSALS]	 = "too many proposals",
	[IKE_MSG_E_TOO_MANY_TRANSFORMS]	 = "too many transforms",
	[IKE_MSG_E_TRANSFORM_COUNT]	 = "transform count disagrees with the proposal",
	[IKE_MSG_E_BAD_SPI_SIZE]	 = "invalid SPI size",
	[IKE_MSG_E_BAD_ATTRIBUTE]	 = "malformed transform attribute",
	[IKE_MSG_E_BAD_KE]		 = "malformed key exchange payload",
	[IKE_MSG_E_BAD_NONCE]		 = "nonce length outside 16..256",
	[IKE_MSG_E_BAD_ID]		 = "malformed identification payload",
	[IKE_MSG_E_BAD_CERT]		 = "malformed certificate payload",
	[IKE_MSG_E_BAD_AUTH]		 = "malformed authentication payload",
	[IKE_MSG_E_BAD_NOTIFY_DATA]	 = "malformed notify data",
	[IKE_MSG_E_BAD_DELETE]		 = "malformed delete payload",
	[IKE_MSG_E_TS_COUNT]		 = "traffic selector count invalid",
	[IKE_MSG_E_TOO_MANY_TS]		 = "too many traffic selectors",
	[IKE_MSG_E_BAD_TS]		 = "malformed traffic selector",
	[IKE_MSG_E_NO_SPACE]		 = "output buffer too small",
	[IKE_MSG_E_BAD_ARGUMENT]	 = "value cannot be encoded",
};

const char *ike_msg_strerror(enum ike_msg_err err)
{
	if ((unsigned)err >= IKE_MSG_E_COUNT)
		return "unknown IKE message error";
	return err_names[err];
}

/* ---- byte access --------------------------------------------------------- */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static void set16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void set32(uint8_t *p, uint32_t v)
{
	set16(p, v >> 16);
	set16(p + 2, v & 0xffff);
}

static void set64(uint8_t *p, uint64_t v)
{
	set32(p, v >> 32);
	set32(p + 4, v & 0xffffffff);
}

/* ---- header ---------------------------------------------------------------- */

enum ike_msg_err ike_msg_parse_header(const uint8_t *buf, size_t len,
				      struct ike_header *hdr)
{
	memset(hdr, 0, sizeof(*hdr));
	if (len < IKEV2_HEADER_LEN)
		return IKE_MSG_E_SHORT_HEADER;
	hdr->ispi = get64(buf);
	hdr->rspi = get64(buf + 8);
	hdr->next_payload = buf[16];
	hdr->version = buf[17];
	hdr->exchange = buf[18];
	hdr->flags = buf[19];
	hdr->msgid = get32(buf + 20);
	hdr->length = get32(buf + 24);

	/* Version first: the answer to it (INVALID_MAJOR_VERSION) needs
	 * nothing but the header. */
	if (hdr->version >> 4 != IKEV2_MAJOR_VERSION)
		return IKE_MSG_E_BAD_VERSION;
	if (len > IKEV2_MAX_MESSAGE_LEN || hdr->length > IKEV2_MAX_MESSAGE_LEN)
		return IKE_MSG_E_OVERSIZED;
	if (hdr->length < IKEV2_HEADER_LEN)
		return IKE_MSG_E_LENGTH_BELOW_MIN;
	if (hdr->length > len)
		return IKE_MSG_E_TRUNCATED;
	if (hdr->length < len)
		return IKE_MSG_E_TRAILING_BYTES;
	return IKE_MSG_OK;
}

void ike_header_encode(const struct ike_header *hdr,
		       uint8_t out[IKEV2_HEADER_LEN])
{
	set64(out, hdr->ispi);
	set64(out + 8, hdr->rspi);
	out[16] = hdr->next_payload;
	out[17] = hdr->version;
	out[18] = hdr->exchange;
	out[19] = hdr->flags;
	set32(out + 20, hdr->msgid);
	set32(out + 24, hdr->length);
}

/* ---- payload chain ------------------------------------------------------- */

/* The least body a payload of a known type can have: its fixed fields. */
static size_t min_body_len(uint8_t type)
{
	switch (type) {
	case IKEV2_PL_SA:
		return 8;	/* one proposal header */
	case IKEV2_PL_KE: case IKEV2_PL_IDI: case IKEV2_PL_IDR:
	case IKEV2_PL_AUTH: case IKEV2_PL_NOTIFY: case IKEV2_PL_DELETE:
	case IKEV2_PL_TSI: case IKEV2_PL_TSR: case IKEV2_PL_CP:
	case IKEV2_PL_EAP: case IKEV2_PL_SKF:
		return 4;
	case IKEV2_PL_CERT: case IKEV2_PL_CERTREQ:
		return 1;
	default:
		return 0;
	}
}

bool ike_payload_type_known(uint8_t type)
{
	return (type >= IKEV2_PL_SA && type <= IKEV2_PL_EAP) ||
	       type == IKEV2_PL_SKF;
}

static bool is_encrypted_type(uint8_t type)
{
	return type == IKEV2_PL_SK || type == IKEV2_PL_SKF;
}

static enum ike_msg_err chain_fail(struct ike_msg *msg, size_t offset,
				   enum ike_msg_err err)
{
	msg->err_offset = offset;
	return err;
}

/* Read one generic payload header at p[off] (len bytes in all) into *pl. */
static enum ike_msg_err read_generic(struct ike_msg *msg, uint8_t type,
				     const uint8_t *p, size_t off, size_t len,
				     size_t base, struct ike_payload *pl)
{
	size_t left = len - off, plen;

	if (left == 0)
		return chain_fail(msg, base + off, IKE_MSG_E_CHAIN_UNTERMINATED);
	if (left < IKEV2_PAYLOAD_HEADER_LEN)
		return chain_fail(msg, base + off,
				  IKE_MSG_E_PAYLOAD_HEADER_TRUNCATED);
	plen = get16(p + off + 2);
	if (plen < IKEV2_PAYLOAD_HEADER_LEN + min_body_len(type))
		return chain_fail(msg, base + off,
				  IKE_MSG_E_PAYLOAD_LENGTH_BELOW_MIN);
	if (plen > left)
		return chain_fail(msg, base + off, IKE_MSG_E_PAYLOAD_OVERRUN);

	pl->type = type;
	pl->next = p[off];
	pl->critical = p[off + 1] & IKEV2_CRITICAL_BIT;
	pl->body = p + off + IKEV2_PAYLOAD_HEADER_LEN;
	pl->len = plen - IKEV2_PAYLOAD_HEADER_LEN;
	pl->offset = base + off;
	if (!ike_payload_type_known(type) && pl->critical) {
		msg->err_payload_type = type;
		return chain_fail(msg, base + off,
				  IKE_MSG_E_UNSUPPORTED_CRITICAL);
	}
	return IKE_MSG_OK;
}

/*
 * Walk a payload chain of len bytes at p, starting with type `first`, and
 * append each payload to msg.  base is p's offset in the buffer the
 * offsets refer to.  A chain cannot loop (each payload is at least 4
 * bytes, so every step moves on); the payload limit bounds its length.
 */
static enum ike_msg_err parse_chain(struct ike_msg *msg, uint8_t first,
				    const uint8_t *p, size_t len, size_t base,
				    bool decrypted)
{
	uint8_t type = first;
	size_t off = 0;

	while (type != IKEV2_PL_NONE) {
		struct ike_payload *pl;
		enum ike_msg_err err;

		if (msg->npl == IKE_MSG_MAX_PAYLOADS)
			return chain_fail(msg, base + off,
					  IKE_MSG_E_TOO_MANY_PAYLOADS);
		pl = &msg->pl[msg->npl];
		err = read_generic(msg, type, p, off, len, base, pl);
		if (err != IKE_MSG_OK)
			return err;
		pl->decrypted = decrypted;
		msg->npl++;
		off += IKEV2_PAYLOAD_HEADER_LEN + pl->len;

		if (is_encrypted_type(type)) {
			/* Its Next Payload names the first payload inside,
			 * not a successor: the chain ends here. */
			if (decrypted)
				return chain_fail(msg, pl->offset,
						  IKE_MSG_E_NESTED_SK);
			if (off != len)
				return chain_fail(msg, base + off,
						  IKE_MSG_E_SK_NOT_LAST);
			msg->sk_index = msg->npl - 1;
			return IKE_MSG_OK;
		}
		type = pl->next;
	}
	if (off != len)
		return chain_fail(msg, base + off, IKE_MSG_E_CHAIN_TRAILING);
	return IKE_MSG_OK;
}

enum ike_msg_err ike_msg_parse(const uint8_t *buf, size_t len,
			       struct ike_msg *msg)
{
	enum ike_msg_err err;

	msg->npl = 0;
	msg->sk_index = IKE_MSG_NO_SK;
	msg->decrypted = false;
	msg->err_payload_type = 0;
	msg->err_offset = 0;
	msg->raw = buf;
	msg->raw_len = len;
	err = ike_msg_parse_header(buf, len, &msg->hdr);
	if (err != IKE_MSG_OK)
		return err;
	return parse_chain(msg, msg->hdr.next_payload, buf + IKEV2_HEADER_LEN,
			   len - IKEV2_HEADER_LEN, IKEV2_HEADER_LEN, false);
}

enum ike_msg_err ike_msg_add_decrypted(struct ike_msg *msg,
				       const uint8_t *plain, size_t len)
{
	if (msg->sk_index == IKE_MSG_NO_SK)
		return IKE_MSG_E_NOT_ENCRYPTED;
	if (msg->decrypted)
		return IKE_MSG_E_ALREADY_DECRYPTED;
	msg->decrypted = true;
	return parse_chain(msg, msg->pl[msg->sk_index].next, plain, len, 0,
			   true);
}

const struct ike_payload *ike_msg_find(const struct ike_msg *msg,
				       uint8_t type,
				       const struct ike_payload *after)
{
	size_t i = after ? (size_t)(after - msg->pl) + 1 : 0;

	for (; i < msg->npl; i++)
		if (msg->pl[i].type == type)
			return &msg->pl[i];
	return NULL;
}

size_t ike_msg_count(const struct ike_msg *msg, uint8_t type)
{
	size_t i, n = 0;

	for (i = 0; i < msg->npl; i++)
		n += msg->pl[i].type == type;
	return n;
}

/* ---- SA payload ------------------------------------------------------------- */

/*
 * Proposals, transforms and attributes share one shape: a run of
 * substructures, each starting with a "last" marker byte and a 16-bit
 * length at offset 2, the run ending at the one marked last.
 */
struct substruct_walk {
	const uint8_t *p;
	size_t len, off;
	uint8_t more_marker;	/* IKEV2_SUBSTRUCT_PROPOSAL or _TRANSFORM */
	bool done;
};

/* The next substructure (at least min bytes) into *sub and *sublen. */
static enum ike_msg_err substruct_next(struct substruct_walk *w, size_t min,
				       const uint8_t **sub, size_t *sublen)
{
	size_t left = w->len - w->off, slen;
	uint8_t marker;

	if (left < min)
		return IKE_MSG_E_SUBSTRUCT_TRUNCATED;
	marker = w->p[w->off];
	slen = get16(w->p + w->off + 2);
	if (marker != IKEV2_SUBSTRUCT_LAST && marker != w->more_marker)
		return IKE_MSG_E_SUBSTRUCT_MARKER;
	if (slen < min || slen > left)
		return IKE_MSG_E_SUBSTRUCT_LENGTH;
	*sub = w->p + w->off;
	*sublen = slen;
	w->off += slen;
	w->done = marker == IKEV2_SUBSTRUCT_LAST;
	return IKE_MSG_OK;
}

static enum ike_msg_err substruct_end(const struct substruct_walk *w)
{
	return w->off == w->len ? IKE_MSG_OK : IKE_MSG_E_SUBSTRUCT_TRAILING;
}

/* Transform attributes (§3.3.5): TV (2-byte value) or TLV. */
static enum ike_msg_err decode_attributes(const uint8_t *p, size_t len,
					  struct ike_transform *xf)
{
	size_t off = 0;

	while (off < len) {
		uint16_t type, value;

		if (len - off < 4)
			return IKE_MSG_E_SUBSTRUCT_TRUNCATED;
		type = get16(p + off);
		value = get16(p + off + 2);
		off += 4;
		if (!(type & IKEV2_ATTR_TV)) {
			/* TLV: value is the length of what follows */
			if (value > len - off)
				return IKE_MSG_E_BAD_ATTRIBUTE;
			if (type == IKEV2_ATTR_KEY_LENGTH)
				return IKE_MSG_E_BAD_ATTRIBUTE; /* is TV-only */
			xf->unknown_attr = true;
			off += value;
		} else if ((type & ~IKEV2_ATTR_TV) == IKEV2_ATTR_KEY_LENGTH) {
			xf->key_bits = value;
		} else {
			xf->unknown_attr = true;
		}
	}
	return IKE_MSG_OK;
}

#define TRANSFORM_HEADER_LEN 8
#define PROPOSAL_HEADER_LEN  8

static enum ike_msg_err decode_transforms(const uint8_t *p, size_t len,
					  struct ike_proposal *prop,
					  uint8_t announced)
{
	struct substruct_walk w = { p, len, 0, IKEV2_SUBSTRUCT_TRANSFORM,
				    len == 0 };
	enum ike_msg_err err;

	prop->ntransforms = 0;
	while (!w.done) {
		struct ike_transform *xf;
		const uint8_t *t;
		size_t tlen;

		err = substruct_next(&w, TRANSFORM_HEADER_LEN, &t, &tlen);
		if (err != IKE_MSG_OK)
			return err;
		if (prop->ntransforms == IKE_MAX_TRANSFORMS)
			return IKE_MSG_E_TOO_MANY_TRANSFORMS;
		xf = &prop->xf[prop->ntransforms++];
		memset(xf, 0, sizeof(*xf));
		xf->type = t[4];
		xf->id = get16(t + 6);
		err = decode_attributes(t + TRANSFORM_HEADER_LEN,
					tlen - TRANSFORM_HEADER_LEN, xf);
		if (err != IKE_MSG_OK)
			return err;
	}
	if (prop->ntransforms != announced)
		return IKE_MSG_E_TRANSFORM_COUNT;
	return substruct_end(&w);
}

static enum ike_msg_err decode_proposal(const uint8_t *p, size_t len,
					struct ike_proposal *prop)
{
	size_t hdr;

	prop->num = p[4];
	prop->protocol = p[5];
	prop->spi_size = p[6];
	if (prop->spi_size > IKE_SPI_MAX)
		return IKE_MSG_E_BAD_SPI_SIZE;
	hdr = PROPOSAL_HEADER_LEN + prop->spi_size;
	if (hdr > len)
		return IKE_MSG_E_SUBSTRUCT_LENGTH;
	memset(prop->spi, 0, sizeof(prop->spi));
	memcpy(prop->spi, p + PROPOSAL_HEADER_LEN, prop->spi_size);
	return decode_transforms(p + hdr, len - hdr, prop, p[7]);
}

static enum ike_msg_err check_type(const struct ike_payload *pl, uint8_t a,
				   uint8_t b)
{
	return pl->type == a || pl->type == b ? IKE_MSG_OK
					      : IKE_MSG_E_WRONG_PAYLOAD_TYPE;
}

enum ike_msg_err ike_decode_sa(const struct ike_payload *pl, struct ike_sa *out)
{
	struct substruct_walk w = { pl->body, pl->len, 0,
				    IKEV2_SUBSTRUCT_PROPOSAL, false };
	enum ike_msg_err err = check_type(pl, IKEV2_PL_SA, IKEV2_PL_SA);

	out->nproposals = 0;
	while (err == IKE_MSG_OK && !w.done) {
		const uint8_t *p;
		size_t plen;

		err = substruct_next(&w, PROPOSAL_HEADER_LEN, &p, &plen);
		if (err != IKE_MSG_OK)
			break;
		if (out->nproposals == IKE_MAX_PROPOSALS)
			return IKE_MSG_E_TOO_MANY_PROPOSALS;
		err = decode_proposal(p, plen, &out->prop[out->nproposals++]);
	}
	return err != IKE_MSG_OK ? err : substruct_end(&w);
}

/* ---- the small payloads ------------------------------------------------------- */

enum ike_msg_err ike_decode_ke(const struct ike_payload *pl, struct ike_ke *out)
{
	if (pl->type != IKEV2_PL_KE)
		return IKE_MSG_E_WRONG_PAYLOAD_TYPE;
	if (pl->len <= 4)
		return IKE_MSG_E_BAD_KE;
	out->group = get16(pl->body);
	out->data = pl->body + 4;
	out->len = pl->len - 4;
	return IKE_MSG_OK;
}

enum ike_msg_err ike_decode_nonce(const struct ike_payload *pl,
				  struct ike_nonce *out)
{
	if (pl->type != IKEV2_PL_NONCE)
		return IKE_MSG_E_WRONG_PAYLOAD_TYPE;
	if (pl->len < IKEV2_NONCE_MIN || pl->len > IKEV2_NONCE_MAX)
		return IKE_MSG_E_BAD_NONCE;
	out->data = pl->body;
	out->len = pl->len;
	return IKE_MSG_OK;
}

static bool id_length_ok(uint8_t type, size_t len)
{
	switch (type) {
	case IKEV2_ID_IPV4_ADDR:
		return len == 4;
	case IKEV2_ID_IPV6_ADDR:
		return len == 16;
	default:
		return len > 0;
	}
}

enum ike_msg_err ike_decode_id(const struct ike_payload *pl, struct ike_id *out)
{
	enum ike_msg_err err = check_type(pl, IKEV2_PL_IDI, IKEV2_PL_IDR);

	if (err != IKE_MSG_OK)
		return err;
	if (pl->len < 4 || !id_length_ok(pl->body[0], pl->len - 4))
		return IKE_MSG_E_BAD_ID;
	out->type = pl->body[0];
	out->data = pl->body + 4;
	out->len = pl->len - 4;
	return IKE_MSG_OK;
}

static void decode_cert_fields(const struct ike_payload *pl,
			       struct ike_cert *out)
{
	out->encoding = pl->body[0];
	out->data = pl->body + 1;
	out->len = pl->len - 1;
}

enum ike_msg_err ike_decode_cert(const struct ike_payload *pl,
				 struct ike_cert *out)
{
	if (pl->type != IKEV2_PL_CERT)
		return IKE_MSG_E_WRONG_PAYLOAD_TYPE;
	if (pl->len < 2)
		return IKE_MSG_E_BAD_CERT;
	decode_cert_fields(pl, out);
	return IKE_MSG_OK;
}

#define SHA1_LEN 20

/* A CERTREQ for X.509 lists SHA-1 hashes of trusted CA public keys; it may
 * be empty ("any CA"). */
enum ike_msg_err ike_decode_certreq(const struct ike_payload *pl,
				    struct ike_cert *out)
{
	if (pl->type != IKEV2_PL_CERTREQ)
		return IKE_MSG_E_WRONG_PAYLOAD_TYPE;
	if (pl->len < 1)
		return IKE_MSG_E_BAD_CERT;
	decode_cert_fields(pl, out);
	if (out->encoding == IKEV2_CERT_X509_SIG && out->len % SHA1_LEN)
		return IKE_MSG_E_BAD_CERT;
	return IKE_MSG_OK;
}

/* RFC 7427 §3: 1-byte length, DER AlgorithmIdentifier, signature. */
static enum ike_msg_err split_digital_signature(struct ike_auth *a)
{
	size_t alg_len = a->data[0];

	if (alg_len == 0 || alg_len + 1 >= a->len)
		return IKE_MSG_E_BAD_AUTH;
	a->sig_alg = a->data + 1;
	a->sig_alg_len = alg_len;
	a->sig = a->data + 1 + alg_len;
	a->sig_len = a->len - 1 - alg_len;
	return IKE_MSG_OK;
}

enum ike_msg_err ike_decode_auth(const struct ike_payload *pl,
				 struct ike_auth *out)
{
	if (pl->type != IKEV2_PL_AUTH)
		return IKE_MSG_E_WRONG_PAYLOAD_TYPE;
	if (pl->len <= 4)
		return IKE_MSG_E_BAD_AUTH;
	memset(out, 0, sizeof(*out));
	out->method = pl->body[0];
	out->data = pl->body + 4;
	out->len = pl->len - 4;
	if (out->method == IKEV2_AUTH_DIGITAL_SIGNATURE)
		return split_digital_signature(out);
	return IKE_MSG_OK;
}

/* The notify types whose data we act on must have the shape we expect. */
static bool notify_data_ok(const struct ike_notify *n)
{
	switch (n->type) {
	case IKEV2_N_NAT_DETECTION_SOURCE_IP:
	case IKEV2_N_NAT_DETECTION_DESTINATION_IP:
		return n->len == IKEV2_NAT_DETECTION_LEN;
	case IKEV2_N_COOKIE:
		return n->len >= 1 && n->len <= IKEV2_COOKIE_MAX;
	case IKEV2_N_INVALID_KE_PAYLOAD:
		return n->len == 2;
	case IKEV2_N_SIGNATURE_HASH_ALGORITHMS:
		return n->len % 2 == 0;
	case IKEV2_N_REKEY_SA:
		return n->spi_size == 4;
	default:
		return true;
	}
}

enum ike_msg_err ike_decode_notify(const struct ike_payload *pl,
				   struct ike_notify *out)
{
	if (pl->type != IKEV2_PL_NOTIFY)
		return IKE_MSG_E_WRONG_PAYLOAD_TYPE;
	if (pl->len < 4)
		return IKE_MSG_E_PAYLOAD_LENGTH_BELOW_MIN;
	out->protocol = pl->body[0];
	out->spi_size = pl->body[1];
	out->type = get16(pl->body + 2);
	if (out->spi_size > IKE_SPI_MAX || 4u + out->spi_size > pl->len)
		return IKE_MSG_E_BAD_SPI_SIZE;
	out->spi = out->spi_size ? pl->body + 4 : NULL;
	out->data = pl->body + 4 + out->spi_size;
	out->len = pl->len - 4 - out->spi_size;
	return notify_data_ok(out) ? IKE_MSG_OK : IKE_MSG_E_BAD_NOTIFY_DATA;
}

enum ike_msg_err ike_msg_find_notify(const struct ike_msg *msg, uint16_t type,
				     struct ike_notify *out)
{
	const struct ike_payload *pl = NULL;

	while ((pl = ike_msg_find(msg, IKEV2_PL_NOTIFY, pl)) != NULL) {
		if (pl->len >= 4 && get16(pl->body + 2) == type)
			return ike_decode_notify(pl, out);
	}
	return IKE_MSG_E_NOT_FOUND;
}

enum ike_msg_err ike_notify_dh_group(const struct ike_notify *n,
				     uint16_t *group)
{
	if (n->type != IKEV2_N_INVALID_KE_PAYLOAD)
		return IKE_MSG_E_WRONG_PAYLOAD_TYPE;
	if (n->len != 2)
		return IKE_MSG_E_BAD_NOTIFY_DATA;
	*group = get16(n->data);
	return IKE_MSG_OK;
}

enum ike_msg_err ike_notify_hash_algs(const struct ike_notify *n,
				      uint16_t *algs, size_t max, size_t *n_out)
{
	size_t i;

	if (n->type != IKEV2_N_SIGNATURE_HASH_ALGORITHMS)
		return IKE_MSG_E_WRONG_PAYLOAD_TYPE;
	if (n->len % 2)
		return IKE_MSG_E_BAD_NOTIFY_DATA;
	for (i = 0; i < n->len / 2 && i < max; i++)
		algs[i] = get16(n->data + 2 * i);
	*n_out = i;
	return IKE_MSG_OK;
}

static bool delete_shape_ok(const struct ike_delete *d, size_t spi_bytes)
{
	if (d->protocol == IKEV2_PROTO_IKE)
		return d->spi_size == 0 && d->nspi == 0 && spi_bytes == 0;
	if (d->protocol == IKEV2_PROTO_ESP || d->protocol == IKEV2_PROTO_AH)
		return d->spi_size == 4 && d->nspi > 0 &&
		       spi_bytes == (size_t)d->nspi * 4;
	return false;
}

enum ike_msg_err ike_decode_delete(const struct ike_payload *pl,
				   struct ike_delete *out)
{
	if (pl->type != IKEV2_PL_DELETE)
		return IKE_MSG_E_WRONG_PAYLOAD_TYPE;
	if (pl->len < 4)
		return IKE_MSG_E_PAYLOAD_LENGTH_BELOW_MIN;
	out->protocol = pl->body[0];
	out->spi_size = pl->body[1];
	out->nspi = get16(pl->body + 2);
	out->spis = pl->body + 4;
	return delete_shape_ok(out, pl->len - 4) ? IKE_MSG_OK
						 : IKE_MSG_E_BAD_DELETE;
}

uint32_t ike_delete_spi(const struct ike_delete *d, size_t i)
{
	return get32(d->spis + 4 * i);
}

enum ike_msg_err ike_decode_vendor(const struct ike_payload *pl,
				   struct ike_vendor *out)
{
	if (pl->type != IKEV2_PL_VENDOR)
		return IKE_MSG_E_WRONG_PAYLOAD_TYPE;
	out->data = pl->body;
	out->len = pl->len;
	return IKE_MSG_OK;
}

enum ike_msg_err ike_decode_sk(const struct ike_payload *pl, struct ike_sk *out)
{
	if (pl->type != IKEV2_PL_SK)
		return IKE_MSG_E_WRONG_PAYLOAD_TYPE;
	out->first_inner = pl->next;
	out->data = pl->body;
	out->len = pl->len;
	return IKE_MSG_OK;
}

/* ---- traffic selectors ------------------------------------------------------ */

#define TS_HEADER_LEN 8	/* type, protocol, length, two ports */

static size_t ts_addr_len(uint8_t type)
{
	switch (type) {
	case IKEV2_TS_IPV4_ADDR_RANGE:
		return 4;
	case IKEV2_TS_IPV6_ADDR_RANGE:
		return 16;
	default:
		return 0;
	}
}

/* One selector of slen bytes at p; unknown types are counted and skipped. */
static enum ike_msg_err decode_selector(const uint8_t *p, size_t slen,
					struct ike_ts_set *out)
{
	size_t alen = ts_addr_len(p[0]);
	struct ike_ts *ts;

	if (alen == 0) {
		out->nunknown++;
		return IKE_MSG_OK;
	}
	if (slen != TS_HEADER_LEN + 2 * alen)
		return IKE_MSG_E_BAD_TS;
	if (out->nts == IKE_MAX_TS)
		return IKE_MSG_E_TOO_MANY_TS;
	ts = &out->ts[out->nts++];
	memset(ts, 0, sizeof(*ts));
	ts->type = p[0];
	ts->ip_proto = p[1];
	ts->start_port = get16(p + 4);
	ts->end_port = get16(p + 6);
	memcpy(ts->start, p + TS_HEADER_LEN, alen);
	memcpy(ts->end, p + TS_HEADER_LEN + alen, alen);
	return IKE_MSG_OK;
}

enum ike_msg_err ike_decode_ts(const struct ike_payload *pl,
			       struct ike_ts_set *out)
{
	enum ike_msg_err err = check_type(pl, IKEV2_PL_TSI, IKEV2_PL_TSR);
	size_t off = 4, announced, i;

	if (err != IKE_MSG_OK)
		return err;
	if (pl->len < 4)
		return IKE_MSG_E_PAYLOAD_LENGTH_BELOW_MIN;
	out->nts = out->nunknown = 0;
	announced = pl->body[0];
	if (announced == 0)
		return IKE_MSG_E_TS_COUNT;
	for (i = 0; i < announced; i++) {
		size_t slen;

		if (pl->len - off < 4)
			return IKE_MSG_E_SUBSTRUCT_TRUNCATED;
		slen = get16(pl->body + off + 2);
		if (slen < TS_HEADER_LEN || slen > pl->len - off)
			return IKE_MSG_E_SUBSTRUCT_LENGTH;
		err = decode_selector(pl->body + off, slen, out);
		if (err != IKE_MSG_OK)
			return err;
		off += slen;
	}
	return off == pl->len ? IKE_MSG_OK : IKE_MSG_E_SUBSTRUCT_TRAILING;
}

/* ---- builder ---------------------------------------------------------------- */

static const uint8_t reserved[3];	/* RESERVED fields are sent as zero */

#define NO_LINK ((size_t)-1)	/* chain builder: first payload sets b->first */

static void builder_init(struct ike_builder *b, uint8_t *buf, size_t cap)
{
	memset(b, 0, sizeof(*b));
	b->buf = buf;
	b->cap = cap;
	b->link_at = NO_LINK;
	b->err = IKE_MSG_OK;
}

void ike_build_message(struct ike_builder *b, uint8_t *buf, size_t cap,
		       const struct ike_header *hdr)
{
	struct ike_header h = *hdr;

	builder_init(b, buf, cap);
	b->has_header = true;
	if (cap < IKEV2_HEADER_LEN) {
		b->err = IKE_MSG_E_NO_SPACE;
		return;
	}
	h.next_payload = IKEV2_PL_NONE;
	h.length = IKEV2_HEADER_LEN;
	ike_header_encode(&h, buf);
	b->len = IKEV2_HEADER_LEN;
	b->link_at = 16;	/* the header's Next Payload */
}

void ike_build_chain(struct ike_builder *b, uint8_t *buf, size_t cap)
{
	builder_init(b, buf, cap);
}

enum ike_msg_err ike_build_finish(struct ike_builder *b, size_t *len)
{
	if (b->err != IKE_MSG_OK)
		return b->err;
	if (b->has_header) {
		if (b->len > IKEV2_MAX_MESSAGE_LEN)
			return b->err = IKE_MSG_E_BAD_ARGUMENT;
		set32(b->buf + 24, (uint32_t)b->len);
	}
	*len = b->len;
	return IKE_MSG_OK;
}

/* Reserve n bytes at the end; NULL (and a sticky error) when they do not
 * fit. */
static uint8_t *put(struct ike_builder *b, size_t n)
{
	uint8_t *p;

	if (b->err != IKE_MSG_OK)
		return NULL;
	if (n > b->cap - b->len) {
		b->err = IKE_MSG_E_NO_SPACE;
		return NULL;
	}
	p = b->buf + b->len;
	b->len += n;
	return p;
}

static void put_bytes(struct ike_builder *b, const void *src, size_t n)
{
	uint8_t *p = put(b, n);

	if (p && n)
		memcpy(p, src, n);
}

static void put8(struct ike_builder *b, uint8_t v)
{
	put_bytes(b, &v, 1);
}

static void put16(struct ike_builder *b, uint16_t v)
{
	uint8_t *p = put(b, 2);

	if (p)
		set16(p, v);
}

/* Start a payload: link it from the previous Next Payload field and
 * write its generic header (length filled in by end_payload). */
static void begin_payload(struct ike_builder *b, uint8_t type, bool critical)
{
	size_t start = b->len;
	uint8_t *p = put(b, IKEV2_PAYLOAD_HEADER_LEN);

	if (!p)
		return;
	if (b->link_at == NO_LINK)
		b->first = type;
	else
		b->buf[b->link_at] = type;
	b->link_at = start;
	b->open_at = start;
	p[0] = IKEV2_PL_NONE;
	p[1] = critical ? IKEV2_CRITICAL_BIT : 0;
	set16(p + 2, 0);
}

static enum ike_msg_err end_payload(struct ike_builder *b)
{
	size_t plen = b->len - b->open_at;

	if (b->err != IKE_MSG_OK)
		return b->err;
	if (plen > 0xffff)
		return b->err = IKE_MSG_E_BAD_ARGUMENT;
	set16(b->buf + b->open_at + 2, (uint16_t)plen);
	return IKE_MSG_OK;
}

static enum ike_msg_err refuse(struct ike_builder *b)
{
	if (b->err == IKE_MSG_OK)
		b->err = IKE_MSG_E_BAD_ARGUMENT;
	return b->err;
}

enum ike_msg_err ike_add_raw(struct ike_builder *b, uint8_t type,
			     bool critical, const uint8_t *body, size_t len)
{
	begin_payload(b, type, critical);
	put_bytes(b, body, len);
	return end_payload(b);
}

static void put_transform(struct ike_builder *b, const struct ike_transform *xf,
			  bool last)
{
	size_t start = b->len;

	put8(b, last ? IKEV2_SUBSTRUCT_LAST : IKEV2_SUBSTRUCT_TRANSFORM);
	put8(b, 0);
	put16(b, 0);
	put8(b, xf->type);
	put8(b, 0);
	put16(b, xf->id);
	if (xf->key_bits) {
		put16(b, IKEV2_ATTR_TV | IKEV2_ATTR_KEY_LENGTH);
		put16(b, xf->key_bits);
	}
	if (b->err == IKE_MSG_OK)
		set16(b->buf + start + 2, (uint16_t)(b->len - start));
}

static void put_proposal(struct ike_builder *b, const struct ike_proposal *p,
			 bool last)
{
	size_t start = b->len, i;

	put8(b, last ? IKEV2_SUBSTRUCT_LAST : IKEV2_SUBSTRUCT_PROPOSAL);
	put8(b, 0);
	put16(b, 0);
	put8(b, p->num);
	put8(b, p->protocol);
	put8(b, p->spi_size);
	put8(b, p->ntransforms);
	put_bytes(b, p->spi, p->spi_size);
	for (i = 0; i < p->ntransforms; i++)
		put_transform(b, &p->xf[i], i + 1 == p->ntransforms);
	if (b->err == IKE_MSG_OK)
		set16(b->buf + start + 2, (uint16_t)(b->len - start));
}

static bool sa_encodable(const struct ike_sa *sa)
{
	size_t i;

	if (sa->nproposals == 0 || sa->nproposals > IKE_MAX_PROPOSALS)
		return false;
	for (i = 0; i < sa->nproposals; i++) {
		const struct ike_proposal *p = &sa->prop[i];

		if (p->spi_size > IKE_SPI_MAX || p->ntransforms == 0 ||
		    p->ntransforms > IKE_MAX_TRANSFORMS)
			return false;
	}
	return true;
}

enum ike_msg_err ike_add_sa(struct ike_builder *b, const struct ike_sa *sa)
{
	size_t i;

	if (!sa_encodable(sa))
		return refuse(b);
	begin_payload(b, IKEV2_PL_SA, false);
	for (i = 0; i < sa->nproposals; i++)
		put_proposal(b, &sa->prop[i], i + 1 == sa->nproposals);
	return end_payload(b);
}

enum ike_msg_err ike_add_ke(struct ike_builder *b, const struct ike_ke *ke)
{
	if (ke->len == 0)
		return refuse(b);
	begin_payload(b, IKEV2_PL_KE, false);
	put16(b, ke->group);
	put16(b, 0);
	put_bytes(b, ke->data, ke->len);
	return end_payload(b);
}

enum ike_msg_err ike_add_nonce(struct ike_builder *b, const struct ike_nonce *n)
{
	if (n->len < IKEV2_NONCE_MIN || n->len > IKEV2_NONCE_MAX)
		return refuse(b);
	return ike_add_raw(b, IKEV2_PL_NONCE, false, n->data, n->len);
}

enum ike_msg_err ike_add_id(struct ike_builder *b, uint8_t pl_type,
			    const struct ike_id *id)
{
	if ((pl_type != IKEV2_PL_IDI && pl_type != IKEV2_PL_IDR) ||
	    !id_length_ok(id->type, id->len))
		return refuse(b);
	begin_payload(b, pl_type, false);
	put8(b, id->type);
	put_bytes(b, reserved, 3);
	put_bytes(b, id->data, id->len);
	return end_payload(b);
}

static enum ike_msg_err add_cert_like(struct ike_builder *b, uint8_t type,
				      const struct ike_cert *c)
{
	begin_payload(b, type, false);
	put8(b, c->encoding);
	put_bytes(b, c->data, c->len);
	return end_payload(b);
}

enum ike_msg_err ike_add_cert(struct ike_builder *b, const struct ike_cert *c)
{
	if (c->len == 0)
		return refuse(b);
	return add_cert_like(b, IKEV2_PL_CERT, c);
}

enum ike_msg_err ike_add_certreq(struct ike_builder *b, const struct ike_cert *c)
{
	if (c->encoding == IKEV2_CERT_X509_SIG && c->len % SHA1_LEN)
		return refuse(b);
	return add_cert_like(b, IKEV2_PL_CERTREQ, c);
}

enum ike_msg_err ike_add_auth(struct ike_builder *b, const struct ike_auth *a)
{
	if (a->len == 0)
		return refuse(b);
	begin_payload(b, IKEV2_PL_AUTH, false);
	put8(b, a->method);
	put_bytes(b, reserved, 3);
	put_bytes(b, a->data, a->len);
	return end_payload(b);
}

enum ike_msg_err ike_add_notify(struct ike_builder *b,
				const struct ike_notify *n)
{
	if (n->spi_size > IKE_SPI_MAX || !notify_data_ok(n))
		return refuse(b);
	begin_payload(b, IKEV2_PL_NOTIFY, false);
	put8(b, n->protocol);
	put8(b, n->spi_size);
	put16(b, n->type);
	put_bytes(b, n->spi, n->spi_size);
	put_bytes(b, n->data, n->len);
	return end_payload(b);
}

enum ike_msg_err ike_add_delete(struct ike_builder *b,
				const struct ike_delete *d)
{
	if (!delete_shape_ok(d, (size_t)d->nspi * d->spi_size))
		return refuse(b);
	begin_payload(b, IKEV2_PL_DELETE, false);
	put8(b, d->protocol);
	put8(b, d->spi_size);
	put16(b, d->nspi);
	put_bytes(b, d->spis, (size_t)d->nspi * d->spi_size);
	return end_payload(b);
}

enum ike_msg_err ike_add_ts(struct ike_builder *b, uint8_t pl_type,
			    const struct ike_ts_set *set)
{
	size_t i;

	if ((pl_type != IKEV2_PL_TSI && pl_type != IKEV2_PL_TSR) ||
	    set->nts == 0 || set->nts > IKE_MAX_TS)
		return refuse(b);
	for (i = 0; i < set->nts; i++)
		if (ts_addr_len(set->ts[i].type) == 0)
			return refuse(b);
	begin_payload(b, pl_type, false);
	put8(b, set->nts);
	put_bytes(b, reserved, 3);
	for (i = 0; i < set->nts; i++) {
		const struct ike_ts *ts = &set->ts[i];
		size_t alen = ts_addr_len(ts->type);

		put8(b, ts->type);
		put8(b, ts->ip_proto);
		put16(b, (uint16_t)(TS_HEADER_LEN + 2 * alen));
		put16(b, ts->start_port);
		put16(b, ts->end_port);
		put_bytes(b, ts->start, alen);
		put_bytes(b, ts->end, alen);
	}
	return end_payload(b);
}

enum ike_msg_err ike_add_vendor(struct ike_builder *b,
				const struct ike_vendor *v)
{
	return ike_add_raw(b, IKEV2_PL_VENDOR, false, v->data, v->len);
}

/* ---- UDP port 4500 ------------------------------------------------------------ */

#define ESP_MIN_LEN 8	/* SPI and sequence number */

enum ike_udp4500_kind ike_udp4500_classify(const uint8_t *dgram, size_t len,
					   const uint8_t **ike,
					   size_t *ike_len)
{
	static const uint8_t marker[IKEV2_NON_ESP_MARKER_LEN];

	*ike = NULL;
	*ike_len = 0;
	if (len == 1 && dgram[0] == 0xff)
		return IKE_UDP4500_KEEPALIVE;
	if (len < IKEV2_NON_ESP_MARKER_LEN)
		return IKE_UDP4500_INVALID;
	if (memcmp(dgram, marker, sizeof(marker)) == 0) {
		*ike = dgram + IKEV2_NON_ESP_MARKER_LEN;
		*ike_len = len - IKEV2_NON_ESP_MARKER_LEN;
		return IKE_UDP4500_IKE;
	}
	/* A non-zero first word is an ESP SPI (RFC 3948 §2.2). */
	return len >= ESP_MIN_LEN ? IKE_UDP4500_ESP : IKE_UDP4500_INVALID;
}

size_t ike_non_esp_marker_write(uint8_t *out, size_t cap)
{
	if (cap < IKEV2_NON_ESP_MARKER_LEN)
		return 0;
	memset(out, 0, IKEV2_NON_ESP_MARKER_LEN);
	return IKEV2_NON_ESP_MARKER_LEN;
}
