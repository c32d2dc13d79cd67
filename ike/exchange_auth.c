// SPDX-License-Identifier: GPL-2.0-only
/*
 * exchange_auth.c - IKE_AUTH with pre-shared keys (RFC 7296 §1.2, §2.15):
 *
 *   HDR, SK {IDi, [N(INITIAL_CONTACT)], AUTH, [SAi2, TSi, TSr]}  -->
 *                               <--  HDR, SK {IDr, AUTH, [SAr2, TSi, TSr]}
 *
 * Identities are our IP address or a configured FQDN.  AUTH is
 * prf(prf(PSK, "Key Pad for IKEv2"), <SignedOctets>) (crypto.c).  The
 * responder tries the pre-shared keys the policy names for the peer; none
 * verifying is an authentication failure, answered with
 * AUTHENTICATION_FAILED and counted.
 *
 * Without a CHILD SA extension (d->child) the IKE SA is childless (RFC
 * 6023); the CHILD SA part of a peer's request is answered
 * NO_PROPOSAL_CHOSEN and the IKE SA still comes up (RFC 7296 §1.2).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "ikelog.h"
#include "ikesa.h"
#include "secrets.h"

#define AUTH_BUF 8192	/* room for the CHILD SA part */

/* ---- identities -------------------------------------------------------------- */

void ident_local(const struct daemon *d, const struct ikesa *sa,
		 struct ike_ident *out)
{
	const uint8_t *a;
	size_t len;

	memset(out, 0, sizeof(*out));
	if (d->local_fqdn[0]) {
		out->type = IKEV2_ID_FQDN;
		out->len = strnlen(d->local_fqdn, sizeof(out->data));
		memcpy(out->data, d->local_fqdn, out->len);
		return;
	}
	a = addr_bytes(&sa->path.local, &len);
	out->type = len == 4 ? IKEV2_ID_IPV4_ADDR : IKEV2_ID_IPV6_ADDR;
	memcpy(out->data, a, len);
	out->len = len;
}

void ident_view(const struct ike_ident *in, struct ike_id *out)
{
	out->type = in->type;
	out->data = in->data;
	out->len = in->len;
}

int ident_from(const struct ike_id *in, struct ike_ident *out)
{
	memset(out, 0, sizeof(*out));
	if (in->len > sizeof(out->data))
		return -1;
	out->type = in->type;
	memcpy(out->data, in->data, in->len);
	out->len = in->len;
	return 0;
}

static bool printable(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return false;
	return len > 0;
}

/* The text a secrets file would name the identity by: the address, the
 * FQDN, the e-mail address; "" for the rest. */
static void ident_key(const struct ike_ident *id, char *buf, size_t len)
{
	buf[0] = '\0';
	if (id->type == IKEV2_ID_IPV4_ADDR && id->len == 4)
		inet_ntop(AF_INET, id->data, buf, (socklen_t)len);
	else if (id->type == IKEV2_ID_IPV6_ADDR && id->len == 16)
		inet_ntop(AF_INET6, id->data, buf, (socklen_t)len);
	else if ((id->type == IKEV2_ID_FQDN ||
		  id->type == IKEV2_ID_RFC822_ADDR) &&
		 printable(id->data, id->len) && id->len < len)
		snprintf(buf, len, "%.*s", (int)id->len, (const char *)id->data);
}

const char *ident_str(const struct ike_ident *id, char *buf, size_t len)
{
	size_t i, off;
	int n;

	ident_key(id, buf, len);
	if (id->type == IKEV2_ID_IPV4_ADDR || id->type == IKEV2_ID_IPV6_ADDR) {
		if (buf[0])
			return buf;
	} else if (buf[0]) {
		char key[LOCAL_ID_MAX + 1];

		snprintf(key, sizeof(key), "%s", buf);
		snprintf(buf, len, "%s:%s", id->type == IKEV2_ID_FQDN ? "fqdn"
					  : "email", key);
		return buf;
	}
	n = snprintf(buf, len, "%s:", id->type == IKEV2_ID_KEY_ID ? "keyid" :
		     id->type == IKEV2_ID_DER_ASN1_DN ? "dn" : "id");
	off = n > 0 ? (size_t)n : 0;
	for (i = 0; i < id->len && off + 3 < len; i++, off += 2)
		snprintf(buf + off, len - off, "%02x", id->data[i]);
	return buf;
}

/* ---- AUTH ------------------------------------------------------------------- */

/* Our AUTH payload data for sa (initiator or responder side). */
static int our_auth(struct ikesa *sa, const struct secret *psk,
		    uint8_t *out, size_t *len)
{
	struct ike_id id;
	struct ike_auth_input in = {
		.initiator = sa->initiator,
		.message = sa->initiator ? sa->init_i.p : sa->init_r.p,
		.message_len = sa->initiator ? sa->init_i.len : sa->init_r.len,
		.peer_nonce = sa->initiator ? sa->nr : sa->ni,
		.peer_nonce_len = sa->initiator ? sa->nr_len : sa->ni_len,
		.id = &id,
	};

	ident_view(&sa->local_id, &id);
	return ike_psk_auth(&sa->keys, psk->key, psk->len, &in, out, len) ==
	       IKE_CRYPTO_OK ? 0 : -1;
}

static bool peer_auth_ok(const struct ikesa *sa, const struct secret *psk,
			 const struct ike_auth *auth)
{
	struct ike_id id;
	struct ike_auth_input in = {
		.initiator = !sa->initiator,
		.message = sa->initiator ? sa->init_r.p : sa->init_i.p,
		.message_len = sa->initiator ? sa->init_r.len : sa->init_i.len,
		.peer_nonce = sa->initiator ? sa->ni : sa->nr,
		.peer_nonce_len = sa->initiator ? sa->ni_len : sa->nr_len,
		.id = &id,
	};

	ident_view(&sa->peer_id, &id);
	return ike_psk_auth_verify(&sa->keys, psk->key, psk->len, &in,
				   auth->data, auth->len) == IKE_CRYPTO_OK;
}

static void add_id_auth(struct ike_builder *b, uint8_t id_type,
			const struct ike_ident *ident, const uint8_t *auth,
			size_t auth_len, bool initial_contact)
{
	struct ike_id id;
	struct ike_auth a = { .method = IKEV2_AUTH_PSK, .data = auth,
			      .len = auth_len };
	struct ike_notify ic = { .type = IKEV2_N_INITIAL_CONTACT };

	ident_view(ident, &id);
	ike_add_id(b, id_type, &id);
	if (initial_contact)
		ike_add_notify(b, &ic);
	ike_add_auth(b, &a);
}

/* The peer's ID and AUTH (from the Encrypted payload).  false: why. */
static bool read_id_auth(const struct ike_msg *msg, uint8_t id_type,
			 struct ike_ident *ident, struct ike_auth *auth,
			 const char **why)
{
	const struct ike_payload *pid = sealed_find(msg, id_type, NULL);
	const struct ike_payload *pau = sealed_find(msg, IKEV2_PL_AUTH, NULL);
	struct ike_id id;

	*why = NULL;
	if (!pid || !pau)
		*why = !pid ? "no identification payload" : "no AUTH payload";
	else if (ike_decode_id(pid, &id) != IKE_MSG_OK || ident_from(&id, ident))
		*why = "malformed identification payload";
	else if (ike_decode_auth(pau, auth) != IKE_MSG_OK)
		*why = "malformed AUTH payload";
	return *why == NULL;
}

static const char *auth_method_name(uint8_t m)
{
	switch (m) {
	case IKEV2_AUTH_RSA_SIG:           return "RSA signature";
	case IKEV2_AUTH_DSS_SIG:           return "DSS signature";
	case IKEV2_AUTH_ECDSA_256:
	case IKEV2_AUTH_ECDSA_384:
	case IKEV2_AUTH_ECDSA_521:         return "ECDSA signature";
	case IKEV2_AUTH_DIGITAL_SIGNATURE: return "digital signature";
	default:                           return "an unknown method";
	}
}

/* ---- initiator -------------------------------------------------------------- */

void exch_auth_start(struct daemon *d, struct ikesa *sa)
{
	const struct secret *psk = secrets_find(d->secrets, sa->psk_id);
	uint8_t auth[IKE_PRF_MAX_LEN], buf[AUTH_BUF];
	struct ike_builder b;
	size_t auth_len = 0, n = 0;
	bool child = false;

	ikesa_set_state(d, sa, IKESA_AUTH_SENT);
	ident_local(d, sa, &sa->local_id);
	if (!psk || our_auth(sa, psk, auth, &auth_len)) {
		ikesa_fail(d, sa, ST_COUNT, "pre-shared key '%s' is gone from "
			   "the secrets file", sa->psk_id);
		return;
	}
	ike_build_chain(&b, buf, sizeof(buf));
	add_id_auth(&b, IKEV2_PL_IDI, &sa->local_id, auth, auth_len,
		    sa->initial_contact);
	ike_wipe(auth, sizeof(auth));
	if (d->child && d->child->auth_request)
		child = d->child->auth_request(d, sa, &b);
	if (!child && !sa->peer_childless)
		ikelog(d, IKELOG_DETAIL, sa, "peer did not say it supports "
		       "childless IKE SAs (RFC 6023); trying anyway");
	if (ike_build_finish(&b, &n) != IKE_MSG_OK ||
	    ikesa_request(d, sa, IKEV2_EXCH_IKE_AUTH, b.first, buf, n, true))
		ikesa_fail(d, sa, ST_COUNT, "cannot build the IKE_AUTH request");
}

void exch_auth_response(struct daemon *d, struct ikesa *sa,
			const struct ike_msg *msg)
{
	const struct secret *psk = secrets_find(d->secrets, sa->psk_id);
	struct ike_auth auth;
	struct ike_notify n;
	const char *why;

	if (sa->state != IKESA_AUTH_SENT)
		return;
	if (sealed_notify(msg, IKEV2_N_AUTHENTICATION_FAILED, &n)) {
		ikesa_fail(d, sa, ST_AUTH_FAILURES, "authentication failed: "
			   "the peer refused us (AUTHENTICATION_FAILED); is "
			   "pre-shared key '%s' the same on both sides?",
			   sa->psk_id);
		return;
	}
	if (!read_id_auth(msg, IKEV2_PL_IDR, &sa->peer_id, &auth, &why)) {
		if (sealed_error(msg, &n))
			ikesa_fail(d, sa, ST_COUNT, "peer answered %s",
				   notify_name(n.type));
		else
			ikesa_fail(d, sa, ST_COUNT, "IKE_AUTH response: %s", why);
		return;
	}
	if (auth.method != IKEV2_AUTH_PSK || !psk ||
	    !peer_auth_ok(sa, psk, &auth)) {
		exch_info_notify_once(d, sa, IKEV2_N_AUTHENTICATION_FAILED);
		ikesa_fail(d, sa, ST_AUTH_FAILURES, "authentication failed: "
			   "%s", auth.method != IKEV2_AUTH_PSK
			   ? auth_method_name(auth.method)
			   : "the peer's AUTH does not verify with our "
			     "pre-shared key");
		return;
	}
	if (sealed_error(msg, &n))
		ikelog(d, IKELOG_DETAIL, sa, "CHILD SA refused: %s",
		       notify_name(n.type));
	if (d->child && d->child->auth_response)
		d->child->auth_response(d, sa, msg);
	ikesa_established(d, sa);
}

/* ---- responder ----------------------------------------------------------------- */

/* Try each pre-shared key the policy allows for this peer. */
static const char *verify_peer(struct daemon *d, struct ikesa *sa,
			       const struct ike_auth *auth, size_t *tried)
{
	char key[LOCAL_ID_MAX + 1];
	const struct secret *s;
	size_t i;

	*tried = 0;
	if (sa->conf.source == PEER_DEFAULT) {
		ident_key(&sa->peer_id, key, sizeof(key));
		s = secrets_find(d->secrets, key);
		if (s && ++*tried && peer_auth_ok(sa, s, auth))
			return s->id;
	}
	for (i = 0; i < sa->conf.npsk; i++) {
		s = secrets_find(d->secrets, sa->conf.psk[i]);
		if (s && ++*tried && peer_auth_ok(sa, s, auth))
			return s->id;
	}
	return NULL;
}

static void refuse(struct daemon *d, struct ikesa *sa,
		   const struct ike_msg *msg, uint16_t notify,
		   enum ike_stat why, const char *reason)
{
	exch_respond_notify(d, sa, &msg->hdr, notify, NULL, 0);
	ikesa_fail(d, sa, why, "%s", reason);
}

/* INITIAL_CONTACT: the peer has forgotten its other IKE SAs with us. */
static void forget_other(struct daemon *d, struct ikesa *other, void *arg)
{
	struct ikesa *sa = arg;

	if (other != sa && other->state == IKESA_ESTABLISHED &&
	    addr_equal(&other->path.peer, &sa->path.peer) &&
	    other->peer_id.type == sa->peer_id.type &&
	    other->peer_id.len == sa->peer_id.len &&
	    !memcmp(other->peer_id.data, sa->peer_id.data, sa->peer_id.len))
		ikesa_close(d, other, "INITIAL_CONTACT: the peer started "
			    "afresh");
}

static bool wants_child(const struct ike_msg *msg)
{
	return sealed_find(msg, IKEV2_PL_SA, NULL) ||
	       sealed_find(msg, IKEV2_PL_TSI, NULL) ||
	       sealed_find(msg, IKEV2_PL_TSR, NULL);
}

static void auth_answer(struct daemon *d, struct ikesa *sa,
			const struct ike_msg *msg, const struct secret *psk)
{
	uint8_t auth[IKE_PRF_MAX_LEN], buf[AUTH_BUF];
	struct ike_notify none = { .type = IKEV2_N_NO_PROPOSAL_CHOSEN };
	struct ike_builder b;
	size_t auth_len = 0, n = 0;

	ident_local(d, sa, &sa->local_id);
	if (our_auth(sa, psk, auth, &auth_len)) {
		ikesa_fail(d, sa, ST_COUNT, "cannot compute our AUTH");
		return;
	}
	ike_build_chain(&b, buf, sizeof(buf));
	add_id_auth(&b, IKEV2_PL_IDR, &sa->local_id, auth, auth_len, false);
	ike_wipe(auth, sizeof(auth));
	if (wants_child(msg)) {
		if (d->child && d->child->auth_respond)
			d->child->auth_respond(d, sa, msg, &b);
		else
			ike_add_notify(&b, &none);
	}
	if (ike_build_finish(&b, &n) != IKE_MSG_OK ||
	    ikesa_respond(d, sa, &msg->hdr, b.first, buf, n)) {
		ikesa_fail(d, sa, ST_COUNT, "cannot build the IKE_AUTH response");
		return;
	}
	ikesa_established(d, sa);
	if (sa->initial_contact)
		ikesa_foreach(d, forget_other, sa);
}

void exch_auth_request(struct daemon *d, struct ikesa *sa,
		       const struct ike_msg *msg)
{
	const struct secret *psk;
	struct ike_auth auth;
	struct ike_notify n;
	char reason[400], pid[300];
	const char *why, *matched;
	size_t tried;

	if (!read_id_auth(msg, IKEV2_PL_IDI, &sa->peer_id, &auth, &why)) {
		refuse(d, sa, msg, IKEV2_N_INVALID_SYNTAX, ST_COUNT, why);
		return;
	}
	ident_str(&sa->peer_id, pid, sizeof(pid));
	if (auth.method != IKEV2_AUTH_PSK) {
		snprintf(reason, sizeof(reason), "authentication failed: peer "
			 "%.200s uses %s; only pre-shared keys are supported", pid,
			 auth_method_name(auth.method));
		refuse(d, sa, msg, IKEV2_N_AUTHENTICATION_FAILED,
		       ST_AUTH_FAILURES, reason);
		return;
	}
	matched = verify_peer(d, sa, &auth, &tried);
	if (!matched) {
		snprintf(reason, sizeof(reason), "authentication failed: the "
			 "AUTH of peer %.200s %s (rule %.63s)", pid, tried
			 ? "does not verify with any pre-shared key allowed"
			 : "cannot be checked: no pre-shared key for it",
			 sa->conf.rule);
		refuse(d, sa, msg, IKEV2_N_AUTHENTICATION_FAILED,
		       ST_AUTH_FAILURES, reason);
		return;
	}
	snprintf(sa->psk_id, sizeof(sa->psk_id), "%s", matched);
	sa->initial_contact = sealed_notify(msg, IKEV2_N_INITIAL_CONTACT, &n);
	psk = secrets_find(d->secrets, matched);
	auth_answer(d, sa, msg, psk);
}
