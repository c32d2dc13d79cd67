// SPDX-License-Identifier: GPL-2.0-only
/*
 * sa_exchange_info.c - INFORMATIONAL (RFC 7296 §1.4), and the answers to
 * messages no exchange of ours takes:
 *
 *   HDR, SK {[N,] [D,] ...}  -->  <--  HDR, SK {[N,] [D,] ...}
 *
 *   - Delete of the IKE SA, either way (§1.4.1);
 *   - the liveness check: an empty request, answered (§2.4);
 *   - an error notify we send once (our AUTH check failed, §2.21.2);
 *   - INVALID_IKE_SPI, unprotected, to a request for an unknown IKE SA
 *     (§2.21.4), rate limited;
 *   - the same way, to a request that cannot be read: INVALID_MAJOR_VERSION
 *     to a major version above 2, and UNSUPPORTED_CRITICAL_PAYLOAD to an
 *     IKE_SA_INIT request carrying an unknown payload marked critical
 *     (§2.5; inside an Encrypted payload ikesa.c answers it protected);
 *   - CREATE_CHILD_SA for a CHILD SA while the daemon is childless (no
 *     xfrm), answered NO_ADDITIONAL_SAS (exchange_create.c does the rest).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sa/sa_log.h"
#include "sa/sa_ikesa.h"
#include "sa/sa_exchange.h"

#define INFO_BUF 1024

/* ---- answering ---------------------------------------------------------------- */

void exch_respond_notify(struct daemon *d, struct ikesa *sa,
			 const struct ike_header *req, uint16_t notify,
			 const uint8_t *data, size_t len)
{
	struct ike_notify n = { .type = notify, .data = data, .len = len };
	uint8_t buf[INFO_BUF];
	struct ike_builder b;
	size_t out = 0;

	if (!sa->have_keys)
		return;
	ike_build_chain(&b, buf, sizeof(buf));
	ike_add_notify(&b, &n);
	if (ike_build_finish(&b, &out) == IKE_MSG_OK)
		ikesa_respond(d, sa, req, b.first, buf, out);
}

/* Delete payloads of a request: the IKE SA itself, or CHILD SAs. */
static bool read_deletes(struct daemon *d, struct ikesa *sa,
			 const struct ike_msg *msg, struct ike_builder *b)
{
	const struct ike_payload *pl = NULL;
	bool ike = false;

	while ((pl = sealed_find(msg, IKEV2_PL_DELETE, pl)) != NULL) {
		struct ike_delete del;

		if (ike_decode_delete(pl, &del) != IKE_MSG_OK)
			continue;
		if (del.protocol == IKEV2_PROTO_IKE)
			ike = true;
		else if (d->child && d->child->delete_request)
			d->child->delete_request(d, sa, &del, b);
	}
	return ike;
}

void exch_info_request(struct daemon *d, struct ikesa *sa,
		       const struct ike_msg *msg)
{
	uint8_t buf[INFO_BUF];
	struct ike_builder b;
	struct ike_notify n;
	bool delete_ike, refused;
	size_t out = 0;

	ike_build_chain(&b, buf, sizeof(buf));
	delete_ike = read_deletes(d, sa, msg, &b);
	refused = sealed_notify(msg, IKEV2_N_AUTHENTICATION_FAILED, &n);
	if (delete_ike)	/* answer with an empty message (§1.4.1) */
		ike_build_chain(&b, buf, sizeof(buf));
	if (ike_build_finish(&b, &out) != IKE_MSG_OK ||
	    ikesa_respond(d, sa, &msg->hdr,
			  out ? b.first : IKEV2_PL_NONE, buf, out))
		log_warn("IKE SA %" PRIu64 ": cannot answer an INFORMATIONAL "
			 "request", sa->serial);
	if (msg->npl == 1)	/* the SK payload only */
		ikelog(d, IKELOG_MESSAGES, sa, "liveness check answered");
	if (refused) {
		/* the negotiation failed after all: counted as such */
		d->stats.v[ST_AUTH_FAILURES]++;
		d->stats.v[ST_NEG_FAILED]++;
		d->stats.v[ST_FAIL_AUTH]++;
		ikesa_close(d, sa, "authentication failed: peer answered "
			    "AUTHENTICATION_FAILED (it refused our AUTH)");
	} else if (delete_ike) {
		ikesa_close(d, sa, "deleted by the peer");
	}
}

void exch_info_child_request(struct daemon *d, struct ikesa *sa,
			     const struct ike_msg *msg)
{
	ikelog(d, IKELOG_DETAIL, sa, "CREATE_CHILD_SA refused: no CHILD "
	       "SAs here (NO_ADDITIONAL_SAS)");
	exch_respond_notify(d, sa, &msg->hdr, IKEV2_N_NO_ADDITIONAL_SAS,
			    NULL, 0);
}

/* ---- asking ---------------------------------------------------------------- */

void exch_info_response(struct daemon *d, struct ikesa *sa,
			const struct ike_msg *msg)
{
	switch (sa->req_kind) {
	case REQ_DELETE:
		ikesa_close(d, sa, "%s", sa->close_reason[0]
			    ? sa->close_reason : "deleted");
		break;
	case REQ_LIVENESS:
		ikelog(d, IKELOG_MESSAGES, sa, "peer answered the liveness "
		       "check");
		break;
	case REQ_CHILD_DELETE:
		exch_create_delete_answered(d, sa);
		break;
	default:
		break;
	}
}

static int send_delete(struct daemon *d, struct ikesa *sa)
{
	struct ike_delete del = { .protocol = IKEV2_PROTO_IKE };
	uint8_t buf[64];
	struct ike_builder b;
	size_t n = 0;

	ike_build_chain(&b, buf, sizeof(buf));
	ike_add_delete(&b, &del);
	if (ike_build_finish(&b, &n) != IKE_MSG_OK ||
	    ikesa_request(d, sa, IKEV2_EXCH_INFORMATIONAL, b.first, buf, n,
			  true))
		return -1;
	sa->req_kind = REQ_DELETE;
	return 0;
}

void exch_info_send_wanted(struct daemon *d, struct ikesa *sa)
{
	if (sa->req_out || sa->state != IKESA_ESTABLISHED)
		return;
	if (sa->want_delete) {
		sa->want_delete = sa->want_liveness = false;
		ikesa_set_state(d, sa, IKESA_DELETING);
		ikelog(d, IKELOG_DETAIL, sa, "sending Delete");
		if (send_delete(d, sa))
			ikesa_close(d, sa, "%s (no Delete could be sent)",
				    sa->close_reason[0] ? sa->close_reason
							: "deleted");
		return;
	}
	if (sa->want_liveness) {
		static const uint8_t empty[1];

		sa->want_liveness = false;
		d->stats.v[ST_LIVENESS_CHECKS]++;
		ikelog(d, IKELOG_MESSAGES, sa, "liveness check");
		if (ikesa_request(d, sa, IKEV2_EXCH_INFORMATIONAL,
				  IKEV2_PL_NONE, empty, 0, true) == 0)
			sa->req_kind = REQ_LIVENESS;
		return;
	}
	exch_create_send_wanted(d, sa);
}

void exch_info_notify_once(struct daemon *d, struct ikesa *sa,
			   uint16_t notify)
{
	struct ike_notify n = { .type = notify };
	uint8_t buf[64];
	struct ike_builder b;
	size_t len = 0;

	if (sa->req_out || !sa->have_keys)
		return;
	ike_build_chain(&b, buf, sizeof(buf));
	ike_add_notify(&b, &n);
	if (ike_build_finish(&b, &len) == IKE_MSG_OK &&
	    ikesa_request(d, sa, IKEV2_EXCH_INFORMATIONAL, b.first, buf, len,
			  false) == 0)
		sa->req_kind = REQ_NOTIFY;
}

/* ---- no IKE SA ------------------------------------------------------------- */

static bool invalid_spi_allowed(struct daemon *d)
{
	uint64_t now = daemon_now_ms(d);

	if (now - d->invalid_spi_window_ms >= 1000 ||
	    now < d->invalid_spi_window_ms) {
		d->invalid_spi_window_ms = now;
		d->invalid_spi_sent = 0;
	}
	if (d->invalid_spi_sent >= d->tun.invalid_spi_per_s)
		return false;
	d->invalid_spi_sent++;
	return true;
}

/* A one-way notify (§1.5): the request's SPIs, message ID and exchange,
 * the response flag, our version; within the shared rate limit. */
static bool answer_unprotected(struct daemon *d, const struct ike_dgram *dg,
			       const struct ike_header *hdr,
			       const struct ike_notify *n, enum ike_stat sent)
{
	struct ike_header h = *hdr;
	uint8_t buf[64];
	struct ike_builder b;
	size_t len = 0;

	if (!invalid_spi_allowed(d))
		return false;
	h.version = IKEV2_VERSION;
	h.flags = IKEV2_FLAG_RESPONSE |
		  (hdr->flags & IKEV2_FLAG_INITIATOR ? 0 : IKEV2_FLAG_INITIATOR);
	ike_build_message(&b, buf, sizeof(buf), &h);
	ike_add_notify(&b, n);
	if (ike_build_finish(&b, &len) != IKE_MSG_OK)
		return false;
	d->stats.v[sent]++;
	ikesa_send(d, &dg->path, buf, len);
	return true;
}

void exch_info_invalid_spi(struct daemon *d, const struct ike_dgram *dg,
			   const struct ike_header *hdr)
{
	struct ike_notify n = { .type = IKEV2_N_INVALID_IKE_SPI };

	answer_unprotected(d, dg, hdr, &n, ST_INVALID_SPI_SENT);
}

void exch_info_unreadable(struct daemon *d, const struct ike_dgram *dg,
			  const struct ike_msg *msg, enum ike_msg_err err)
{
	const struct ike_header *hdr = &msg->hdr;
	uint8_t type = msg->err_payload_type;
	struct ike_notify n = { .type = IKEV2_N_INVALID_MAJOR_VERSION };
	char from[ADDR_STR_MAX + 8];

	if (dg->len < IKEV2_HEADER_LEN || hdr->flags & IKEV2_FLAG_RESPONSE)
		return;		/* no header, or never answer an answer */
	if (err == IKE_MSG_E_BAD_VERSION) {
		/* A lower major version (IKEv1) is not ours to answer. */
		if (hdr->version >> 4 <= IKEV2_MAJOR_VERSION ||
		    !answer_unprotected(d, dg, hdr, &n, ST_INVALID_MAJOR_SENT))
			return;
	} else if (err == IKE_MSG_E_UNSUPPORTED_CRITICAL) {
		/* Elsewhere the message claims an IKE SA it did not prove it
		 * has: an unprotected answer would speak for that SA. */
		if (hdr->exchange != IKEV2_EXCH_IKE_SA_INIT || hdr->rspi ||
		    hdr->msgid)
			return;
		n.type = IKEV2_N_UNSUPPORTED_CRITICAL_PAYLOAD;
		n.data = &type;
		n.len = 1;
		if (!answer_unprotected(d, dg, hdr, &n,
					ST_UNSUPPORTED_CRITICAL_SENT))
			return;
	} else {
		return;
	}
	log_info("ike: answered %s from %s with %s%s%u", exchange_name(hdr->exchange),
		 addr_port_str(&dg->path.peer, from, sizeof(from)),
		 notify_name(n.type), n.len ? ": payload type " : ": version ",
		 n.len ? type : (unsigned)hdr->version >> 4);
}

/* ---- the table for the SA table ---------------------------------------------- */

static void info_request(struct daemon *d, struct ikesa *sa,
			 const struct ike_dgram *dg, const struct ike_msg *msg)
{
	exch_info_request(d, sa, msg);
}

static void info_response(struct daemon *d, struct ikesa *sa,
			  const struct ike_dgram *dg, const struct ike_msg *msg)
{
	exch_info_response(d, sa, msg);
}

const struct exchange_ops exch_info_ops = {
	.type = IKEV2_EXCH_INFORMATIONAL,
	.request = info_request,
	.response = info_response,
	.send_wanted = exch_info_send_wanted,
	.respond_notify = exch_respond_notify,
	.invalid_spi = exch_info_invalid_spi,
	.unreadable = exch_info_unreadable,
};
