// SPDX-License-Identifier: GPL-2.0-only
/*
 * sa_send.c - sending: requests and responses, the Encrypted payload, fragments, the response cache and retransmission
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


/* ---- sending ---------------------------------------------------------------- */

void ikesa_header(const struct ikesa *sa, uint8_t exchange, bool response,
		  uint32_t msgid, struct ike_header *hdr)
{
	memset(hdr, 0, sizeof(*hdr));
	hdr->ispi = sa->ispi;
	hdr->rspi = sa->rspi;
	hdr->version = IKEV2_VERSION;
	hdr->exchange = exchange;
	hdr->flags = (sa->initiator ? IKEV2_FLAG_INITIATOR : 0) |
		     (response ? IKEV2_FLAG_RESPONSE : 0);
	hdr->msgid = msgid;
}

int ikesa_send(struct daemon *d, const struct ike_path *path,
	       const uint8_t *msg, size_t len)
{
	d->stats.v[ST_MESSAGES_SENT]++;
	if (d->send(d, path, msg, len)) {
		d->stats.v[ST_SEND_ERRORS]++;
		return -1;
	}
	return 0;
}

static void log_sent(struct daemon *d, const struct ikesa *sa,
		     const struct ike_blob *b)
{
	const uint8_t *msg = b->train ? b->p + 2 : b->p;
	struct ike_header h;

	if (d->ikelogging < IKELOG_MESSAGES)
		return;
	ike_msg_parse_header(msg, b->train ? b->len - 2 : b->len, &h);
	ikelog(d, IKELOG_MESSAGES, sa, "sent %s %s id=%" PRIu32 " len=%zu%s",
	       exchange_name(h.exchange),
	       h.flags & IKEV2_FLAG_RESPONSE ? "response" : "request",
	       h.msgid, b->len, b->train ? " in fragments" : "");
}

static void start_request(struct daemon *d, struct ikesa *sa)
{
	sa->req_out = true;
	sa->req_tries = 1;
	log_sent(d, sa, &sa->req);
	send_blob(d, &sa->path, sa->req.p, sa->req.len, sa->req.train);
	if (sa->req_retransmit)
		timer_arm(&sa->t_retx, d->tun.retransmit_base_ms);
}

int ikesa_send_init_request(struct daemon *d, struct ikesa *sa,
			    const uint8_t *msg, size_t len)
{
	if (blob_set(&sa->req, msg, len))
		return -1;
	timer_stop(&sa->t_retx);
	sa->req_msgid = 0;
	sa->req_exchange = IKEV2_EXCH_IKE_SA_INIT;
	sa->req_next = 1;
	sa->req_retransmit = true;
	start_request(d, sa);
	return 0;
}

/* Seal plain under a header into a new blob: one message, or its
 * fragments when it is larger than the fragment size allows and the peer
 * takes fragments. */
static int seal(struct daemon *d, struct ikesa *sa,
		const struct ike_header *hdr, uint8_t first,
		const uint8_t *plain, size_t len, struct ike_blob *out)
{
	size_t cap = len + ike_sk_overhead(&sa->keys.suite), n = 0;
	size_t room = fragment_room(d, sa);
	uint8_t *buf;

	if (room && cap > room)
		return seal_fragments(sa, hdr, first, plain, len, room, out);
	buf = malloc(cap);
	if (!buf)
		return -1;
	if (ike_sk_seal(&sa->keys, sa->initiator, hdr, first, plain, len, buf,
			cap, &n) != IKE_CRYPTO_OK) {
		free(buf);
		return -1;
	}
	free(out->p);
	out->p = buf;
	out->len = n;
	out->train = false;
	return 0;
}

int ikesa_request(struct daemon *d, struct ikesa *sa, uint8_t exchange,
		  uint8_t first, const uint8_t *plain, size_t len,
		  bool retransmit)
{
	struct ike_header hdr;

	if (sa->req_out)
		fatal("IKE SA %" PRIu64 ": a second request while one is out",
		      sa->serial);
	if (!sa->have_keys)
		fatal("IKE SA %" PRIu64 ": encrypted request without keys",
		      sa->serial);
	ikesa_header(sa, exchange, false, sa->req_next, &hdr);
	if (seal(d, sa, &hdr, first, plain, len, &sa->req)) {
		log_err("IKE SA %" PRIu64 ": cannot seal a %s request",
			sa->serial, exchange_name(exchange));
		return -1;
	}
	sa->req_msgid = sa->req_next++;
	sa->req_exchange = exchange;
	sa->req_retransmit = retransmit;
	sa->req_kind = REQ_EXCHANGE;
	start_request(d, sa);
	return 0;
}

int ikesa_respond(struct daemon *d, struct ikesa *sa,
		  const struct ike_header *req, uint8_t first,
		  const uint8_t *plain, size_t len)
{
	struct ike_header hdr;

	ikesa_header(sa, req->exchange, true, req->msgid, &hdr);
	if (seal(d, sa, &hdr, first, plain, len, &sa->resp)) {
		log_err("IKE SA %" PRIu64 ": cannot seal a %s response",
			sa->serial, exchange_name(req->exchange));
		sa->have_resp = false;
		return -1;
	}
	sa->have_resp = true;
	sa->resp_msgid = req->msgid;
	sa->peer_next = req->msgid + 1;
	log_sent(d, sa, &sa->resp);
	return send_blob(d, &sa->reply_path, sa->resp.p, sa->resp.len,
			 sa->resp.train);
}

int ikesa_respond_init(struct daemon *d, struct ikesa *sa,
		       const uint8_t *msg, size_t len)
{
	if (blob_set(&sa->resp, msg, len))
		return -1;
	sa->have_resp = true;
	sa->resp_msgid = 0;
	sa->peer_next = 1;
	log_sent(d, sa, &sa->resp);
	return ikesa_send(d, &sa->reply_path, msg, len);
}

static void request_timed_out(struct daemon *d, struct ikesa *sa)
{
	const char *what = exchange_name(sa->req_exchange);
	unsigned tries = sa->req_tries;

	sa->req_out = false;
	switch (sa->state) {
	case IKESA_INIT_SENT:
	case IKESA_AUTH_SENT:
		ikesa_fail(d, sa, ST_PEER_TIMEOUTS, "no answer to %s after %u "
			   "transmissions", what, tries);
		break;
	case IKESA_DELETING:
		ikesa_close(d, sa, "%s (the peer did not answer the Delete)",
			    sa->close_reason[0] ? sa->close_reason
						: "deleted");
		break;
	default:
		d->stats.v[ST_PEER_TIMEOUTS]++;
		ikesa_close(d, sa, "peer not responding: no answer to %s "
			    "after %u transmissions", what, tries);
		break;
	}
}

void ikesa_retransmit(struct daemon *d, void *arg)
{
	struct ikesa *sa = arg;

	if (!sa->req_out || sa->state == IKESA_CLOSED)
		return;
	if (!sa->req_retransmit || sa->req_tries >= d->tun.retransmit_tries) {
		request_timed_out(d, sa);
		return;
	}
	d->stats.v[ST_RETRANSMITS]++;
	ikelog(d, IKELOG_DETAIL, sa, "retransmitting %s request id=%" PRIu32
	       " (try %u)", exchange_name(sa->req_exchange), sa->req_msgid,
	       sa->req_tries + 1);
	send_blob(d, &sa->path, sa->req.p, sa->req.len, sa->req.train);
	timer_arm(&sa->t_retx,
		  (uint64_t)d->tun.retransmit_base_ms << sa->req_tries);
	sa->req_tries++;
}

const struct ike_payload *sealed_find(const struct ike_msg *msg, uint8_t type,
				      const struct ike_payload *after)
{
	const struct ike_payload *pl = after;

	while ((pl = ike_msg_find(msg, type, pl)) != NULL)
		if (pl->decrypted)
			return pl;
	return NULL;
}

bool sealed_notify(const struct ike_msg *msg, uint16_t type,
		   struct ike_notify *out)
{
	const struct ike_payload *pl = NULL;

	while ((pl = sealed_find(msg, IKEV2_PL_NOTIFY, pl)) != NULL)
		if (ike_decode_notify(pl, out) == IKE_MSG_OK &&
		    out->type == type)
			return true;
	return false;
}

uint16_t sealed_error(const struct ike_msg *msg, struct ike_notify *out)
{
	const struct ike_payload *pl = NULL;

	while ((pl = sealed_find(msg, IKEV2_PL_NOTIFY, pl)) != NULL)
		if (ike_decode_notify(pl, out) == IKE_MSG_OK &&
		    out->type <= IKEV2_N_ERROR_MAX)
			return out->type;
	return 0;
}
