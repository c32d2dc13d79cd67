// SPDX-License-Identifier: GPL-2.0-only
/*
 * sa_input.c - receiving: a datagram's way from daemon_input() through the message ID windows, reassembly and the Encrypted payload to its exchange
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sa/sa_log.h"
#include "sa/sa_ikesa.h"
#include "sa/sa_proposal.h"
#include "sa/sa_ikesa_internal.h"

/* ---- receiving ---------------------------------------------------------------- */

/* Decrypted payloads of the message in hand point into this; one message
 * at a time (one thread). */
static uint8_t plain_buf[IKEV2_MAX_MESSAGE_LEN];

static bool add_decrypted(struct daemon *d, struct ikesa *sa,
			  const struct ike_dgram *dg, struct ike_msg *msg,
			  size_t plain_len);

/* Where a fragment goes: the message in reassembly it belongs to, a new
 * one (a newer message, or the same sent again in more, smaller fragments:
 * RFC 7383 §2.6), or nowhere (NULL: dropped, counted). */
static struct ike_reasm **fragment_slot(struct daemon *d, struct ikesa *sa,
					const struct ike_dgram *dg,
					const struct ike_msg *msg,
					uint16_t num, uint16_t total)
{
	struct ike_reasm **rp =
		&sa->reasm[msg->hdr.flags & IKEV2_FLAG_RESPONSE ? 1 : 0];
	struct ike_reasm *r = *rp;

	if (num < 1 || num > total || total > IKE_FRAG_MAX) {
		ike_drop(d, ST_DROP_FRAGMENT, dg, &msg->hdr, "fragment %u of "
			 "%u (at most %u)", num, total, IKE_FRAG_MAX);
		return NULL;
	}
	if (r && (r->msgid != msg->hdr.msgid ||
		  r->exchange != msg->hdr.exchange || total > r->total))
		reasm_free(rp);
	else if (r && total < r->total) {
		ike_drop(d, ST_DROP_FRAGMENT, dg, &msg->hdr, "fragment of %u, "
			 "the message has %u", total, r->total);
		return NULL;
	} else if (r && r->piece[num - 1]) {
		ike_drop(d, ST_DROP_FRAGMENT, dg, &msg->hdr,
			 "fragment %u again", num);
		return NULL;
	}
	return rp;
}

/*
 * One Encrypted Fragment (RFC 7383 §2.6): checked and decrypted at once
 * (only authenticated fragments count), held until the message's last
 * one has come; then the payloads of the whole message go into msg as if
 * it had come in one piece.  false: dropped (counted) or waiting.
 */
static bool open_fragment(struct daemon *d, struct ikesa *sa,
			  const struct ike_dgram *dg, struct ike_msg *msg,
			  size_t *plain_len)
{
	struct ike_payload *skf = &msg->pl[msg->sk_index];
	struct ike_reasm **rp, *r;
	enum ike_crypto_err cerr;
	uint16_t num, total, i;
	size_t len = 0, off = 0;

	if (!sa->peer_frag) {
		ike_drop(d, ST_DROP_FRAGMENT, dg, &msg->hdr, "a fragment, but "
			 "IKE fragmentation was not negotiated");
		return false;
	}
	if (skf->len < IKE_SKF_PREFIX_LEN) {
		ike_drop(d, ST_DROP_BAD_PAYLOAD, dg, &msg->hdr,
			 "Encrypted Fragment payload too short");
		return false;
	}
	num = get_be16(skf->body);
	total = get_be16(skf->body + 2);
	/* nothing in the reassembly changes before the fragment proves to
	 * come from the peer: a forged one cannot disturb it */
	cerr = ike_sk_open(&sa->keys, !sa->initiator, msg, plain_buf,
			   sizeof(plain_buf), &len);
	if (cerr != IKE_CRYPTO_OK) {
		ike_drop(d, ST_DROP_INTEGRITY, dg, &msg->hdr, "fragment %u: %s",
			 num, ike_crypto_strerror(cerr));
		return false;
	}
	rp = fragment_slot(d, sa, dg, msg, num, total);
	if (!rp) {
		ike_wipe(plain_buf, len);
		return false;
	}
	r = *rp ? *rp : calloc(1, sizeof(*r));
	if (r && !*rp) {
		r->msgid = msg->hdr.msgid;
		r->exchange = msg->hdr.exchange;
		r->total = total;
		*rp = r;
	}
	if (!r || r->bytes + len > sizeof(plain_buf) ||
	    !(r->piece[num - 1] = malloc(len ? len : 1))) {
		ike_wipe(plain_buf, len);
		reasm_free(rp);
		ike_drop(d, ST_DROP_FRAGMENT, dg, &msg->hdr, "message too large "
			 "or no memory to reassemble it");
		return false;
	}
	memcpy(r->piece[num - 1], plain_buf, len);
	ike_wipe(plain_buf, len);
	r->piece_len[num - 1] = len;
	r->bytes += len;
	r->have++;
	if (num == 1)
		r->first = skf->next;
	if (r->have < r->total)
		return false;	/* more to come */
	for (i = 0; i < r->total; i++) {
		memcpy(plain_buf + off, r->piece[i], r->piece_len[i]);
		off += r->piece_len[i];
	}
	/* the payload chain starts where fragment 1 said */
	skf->next = r->first;
	reasm_free(rp);
	*plain_len = off;
	return add_decrypted(d, sa, dg, msg, off);
}

/* Check and decrypt the Encrypted payload (or a fragment, and the whole
 * message once complete); false: dropped (counted) or a fragment kept. */
static bool open_sk(struct daemon *d, struct ikesa *sa,
		    const struct ike_dgram *dg, struct ike_msg *msg,
		    size_t *plain_len)
{
	enum ike_crypto_err cerr;

	*plain_len = 0;
	if (!sa->have_keys) {
		ike_drop(d, ST_DROP_UNEXPECTED_EXCHANGE, dg, &msg->hdr,
			 "no keys yet");
		return false;
	}
	if (msg->sk_index == IKE_MSG_NO_SK) {
		ike_drop(d, ST_DROP_UNPROTECTED, dg, &msg->hdr,
			 "no Encrypted payload");
		return false;
	}
	if (msg->pl[msg->sk_index].type == IKEV2_PL_SKF)
		return open_fragment(d, sa, dg, msg, plain_len);
	cerr = ike_sk_open(&sa->keys, !sa->initiator, msg, plain_buf,
			   sizeof(plain_buf), plain_len);
	if (cerr != IKE_CRYPTO_OK) {
		ike_drop(d, ST_DROP_INTEGRITY, dg, &msg->hdr, "%s",
			 ike_crypto_strerror(cerr));
		return false;
	}
	return add_decrypted(d, sa, dg, msg, *plain_len);
}

/* The payloads in plain_buf into msg; false: dropped (counted). */
static bool add_decrypted(struct daemon *d, struct ikesa *sa,
			  const struct ike_dgram *dg, struct ike_msg *msg,
			  size_t plain_len)
{
	enum ike_msg_err merr;

	merr = ike_msg_add_decrypted(msg, plain_buf, plain_len);
	if (merr == IKE_MSG_E_UNSUPPORTED_CRITICAL &&
	    !(msg->hdr.flags & IKEV2_FLAG_RESPONSE) &&
	    msg->hdr.msgid == sa->peer_next) {
		uint8_t type = msg->err_payload_type;

		sa->reply_path = dg->path;
		d->stats.v[ST_UNSUPPORTED_CRITICAL_SENT]++;
		if (exchange_of(d, IKEV2_EXCH_INFORMATIONAL)->respond_notify)
			exchange_of(d, IKEV2_EXCH_INFORMATIONAL)->respond_notify(
				d, sa, &msg->hdr,
				IKEV2_N_UNSUPPORTED_CRITICAL_PAYLOAD, &type, 1);
	}
	if (merr != IKE_MSG_OK) {
		ike_drop(d, ST_DROP_MALFORMED, dg, &msg->hdr,
			 "inside the Encrypted payload: %s",
			 ike_msg_strerror(merr));
		return false;
	}
	return true;
}

/* A peer behind a NAT may change its port; we follow authenticated
 * messages (RFC 7296 §2.23). */
static void follow_peer(struct daemon *d, struct ikesa *sa,
			const struct ike_dgram *dg)
{
	bool on_natt = addr_port(&dg->path.local) == d->natt_port;
	char to[ADDR_STR_MAX + 8];

	sa->last_rx_ms = daemon_now_ms(d);
	if (!on_natt || (sa->natt && addr_port_equal(&sa->path.peer,
						     &dg->path.peer)))
		return;
	if (sa->natt && !sa->nat_peer && !sa->nat_local)
		return;		/* no NAT between us: the peer does not move */
	sa->path = dg->path;
	sa->natt = true;
	ikelog(d, IKELOG_DETAIL, sa, "peer now at %s (NAT-T port)",
	       addr_port_str(&dg->path.peer, to, sizeof(to)));
}

static void resend_response(struct daemon *d, struct ikesa *sa,
			    const struct ike_dgram *dg)
{
	d->stats.v[ST_RESPONSES_RESENT]++;
	ikelog(d, IKELOG_DETAIL, sa, "request id=%" PRIu32 " again: "
	       "answered from the cache", sa->resp_msgid);
	send_blob(d, &dg->path, sa->resp.p, sa->resp.len, sa->resp.train);
}

static void dispatch_request(struct daemon *d, struct ikesa *sa,
			     const struct ike_dgram *dg,
			     const struct ike_msg *msg)
{
	const struct exchange_ops *ops = exchange_of(d, msg->hdr.exchange);

	if (ops->request)
		ops->request(d, sa, dg, msg);
}

/* Which requests each state takes. */
static bool request_allowed(const struct ikesa *sa, uint8_t exchange)
{
	switch (exchange) {
	case IKEV2_EXCH_IKE_AUTH:
		return sa->state == IKESA_AUTH_WAIT;
	case IKEV2_EXCH_INFORMATIONAL:
	case IKEV2_EXCH_CREATE_CHILD_SA:
		return sa->state == IKESA_ESTABLISHED ||
		       sa->state == IKESA_DELETING;
	default:
		return false;
	}
}

static void handle_request(struct daemon *d, struct ikesa *sa,
			   const struct ike_dgram *dg, struct ike_msg *msg)
{
	uint32_t id = msg->hdr.msgid;
	size_t plain_len;

	if (sa->have_resp && id == sa->resp_msgid && id + 1 == sa->peer_next) {
		if (first_of_message(msg))
			resend_response(d, sa, dg);
		return;
	}
	if (sa->state == IKESA_CLOSED) {
		ike_drop(d, ST_DROP_SA_CLOSED, dg, &msg->hdr, "IKE SA is closed");
		return;
	}
	if (id != sa->peer_next) {
		ike_drop(d, ST_DROP_MSGID_WINDOW, dg, &msg->hdr,
			 "expected message ID %" PRIu32, sa->peer_next);
		return;
	}
	if (!request_allowed(sa, msg->hdr.exchange)) {
		ike_drop(d, ST_DROP_UNEXPECTED_EXCHANGE, dg, &msg->hdr,
			 "not in state %s", ikesa_state_name(sa->state));
		return;
	}
	if (!open_sk(d, sa, dg, msg, &plain_len))
		return;
	ikelog_message(d, sa, false, msg);
	follow_peer(d, sa, dg);
	sa->reply_path = dg->path;
	dispatch_request(d, sa, dg, msg);
	ike_wipe(plain_buf, plain_len);
}

static void handle_response(struct daemon *d, struct ikesa *sa,
			    const struct ike_dgram *dg, struct ike_msg *msg)
{
	size_t plain_len = 0;

	if (sa->state == IKESA_CLOSED) {
		ike_drop(d, ST_DROP_SA_CLOSED, dg, &msg->hdr, "IKE SA is closed");
		return;
	}
	if (!sa->req_out || msg->hdr.msgid != sa->req_msgid ||
	    msg->hdr.exchange != sa->req_exchange) {
		ike_drop(d, ST_DROP_UNEXPECTED_RESPONSE, dg, &msg->hdr,
			 "no such request outstanding");
		return;
	}
	if (!addr_equal(&dg->path.peer, &sa->path.peer)) {
		ike_drop(d, ST_DROP_WRONG_ADDRESS, dg, &msg->hdr,
			 "the IKE SA's peer is elsewhere");
		return;
	}
	if (msg->hdr.exchange != IKEV2_EXCH_IKE_SA_INIT &&
	    !open_sk(d, sa, dg, msg, &plain_len))
		return;
	ikelog_message(d, sa, false, msg);
	if (msg->hdr.exchange != IKEV2_EXCH_IKE_SA_INIT)
		follow_peer(d, sa, dg);
	sa->req_out = false;
	timer_stop(&sa->t_retx);
	if (exchange_of(d, msg->hdr.exchange)->response)
		exchange_of(d, msg->hdr.exchange)->response(d, sa, dg, msg);
	ike_wipe(plain_buf, plain_len);
	if (!sa->req_out && sa->state != IKESA_CLOSED)
		exchanges_send_wanted(d, sa);
}

/* An IKE_SA_INIT request (message ID 0, no SPIr). */
static void input_init_request(struct daemon *d, const struct ike_dgram *dg,
			       struct ike_msg *msg)
{
	struct ikesa *sa = ikesa_find_init(d, msg->hdr.ispi, &dg->path.peer);

	if (sa) {
		handle_request(d, sa, dg, msg);
		return;
	}
	if (tomb_input(d, dg, msg))
		return;
	if (!(msg->hdr.flags & IKEV2_FLAG_INITIATOR)) {
		ike_drop(d, ST_DROP_BAD_FLAGS, dg, &msg->hdr,
			 "IKE_SA_INIT request without the initiator flag");
		return;
	}
	if (exchange_of(d, IKEV2_EXCH_IKE_SA_INIT)->request)
		exchange_of(d, IKEV2_EXCH_IKE_SA_INIT)->request(d, NULL, dg,
								msg);
	else
		ike_drop(d, ST_DROP_UNEXPECTED_EXCHANGE, dg, &msg->hdr,
			 "IKE_SA_INIT is not served");
}

/* Where the message could not be read: count why. */
static void drop_unparsed(struct daemon *d, const struct ike_dgram *dg,
			  const struct ike_msg *msg, enum ike_msg_err err,
			  bool header_ok)
{
	enum ike_stat why = err == IKE_MSG_E_BAD_VERSION ? ST_DROP_BAD_VERSION
							 : ST_DROP_MALFORMED;

	ike_drop(d, why, dg, header_ok ? &msg->hdr : NULL, "%s at byte %zu",
		 ike_msg_strerror(err), msg->err_offset);
	if (exchange_of(d, IKEV2_EXCH_INFORMATIONAL)->unreadable)
		exchange_of(d, IKEV2_EXCH_INFORMATIONAL)->unreadable(d, dg, msg,
								     err);
}

static struct ike_msg in_msg;	/* too large for the stack of a test */

void daemon_input(struct daemon *d, const struct ike_dgram *dg)
{
	struct ike_msg *msg = &in_msg;
	enum ike_msg_err err;
	struct ikesa *sa;
	bool response;

	d->stats.v[ST_MESSAGES_RECEIVED]++;
	err = ike_msg_parse(dg->buf, dg->len, msg);
	if (err != IKE_MSG_OK) {
		drop_unparsed(d, dg, msg, err, dg->len >= IKEV2_HEADER_LEN &&
			      err != IKE_MSG_E_BAD_VERSION);
		return;
	}
	response = msg->hdr.flags & IKEV2_FLAG_RESPONSE;
	if (msg->hdr.exchange == IKEV2_EXCH_IKE_SA_INIT && !response &&
	    msg->hdr.rspi == 0) {
		if (msg->hdr.msgid != 0)
			ike_drop(d, ST_DROP_MSGID_WINDOW, dg, &msg->hdr,
				 "IKE_SA_INIT must have message ID 0");
		else
			input_init_request(d, dg, msg);
		return;
	}
	sa = ikesa_find(d, &msg->hdr);
	if (!sa && tomb_input(d, dg, msg))
		return;
	if (!sa) {
		ike_drop(d, ST_DROP_UNKNOWN_SPI, dg, &msg->hdr,
			 "no IKE SA with these SPIs");
		if (!response && msg->sk_index != IKE_MSG_NO_SK &&
		    exchange_of(d, IKEV2_EXCH_INFORMATIONAL)->invalid_spi)
			exchange_of(d, IKEV2_EXCH_INFORMATIONAL)->invalid_spi(
				d, dg, &msg->hdr);
		return;
	}
	if (response)
		handle_response(d, sa, dg, msg);
	else
		handle_request(d, sa, dg, msg);
}
