// SPDX-License-Identifier: GPL-2.0-only
/*
 * sa_exchange_init.c - IKE_SA_INIT (RFC 7296 §1.2), both sides:
 *
 *   HDR, [N(COOKIE),] SAi1, KEi, Ni, N(NAT_DETECTION_*),
 *        N(SIGNATURE_HASH_ALGORITHMS), N(CHILDLESS) -->
 *      <-- HDR, SAr1, KEr, Nr, N(NAT_DETECTION_*), [CERTREQ],
 *          N(SIGNATURE_HASH_ALGORITHMS), N(CHILDLESS)
 *
 * (CERTREQ when the rule has certificate methods: exchange_auth.c.)
 *
 * The responder keeps no state until the request passes the half-open
 * limits (docs/behaviour.md §6), the cookie check when under load (§2.6), proposal
 * selection and the KE group check: those answers (COOKIE,
 * NO_PROPOSAL_CHOSEN, INVALID_KE_PAYLOAD) are sent and forgotten.  The
 * initiator restarts with the cookie or the group asked for (§1.2).
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sa/sa_log.h"
#include "sa/sa_ikesa.h"
#include "sa/sa_exchange.h"
#include "wire/wire_secrets.h"
#include "wire/wire_signature.h"

#define NONCE_LEN          32	/* at least half the largest PRF key */
#define MAX_INIT_RESTARTS  4	/* COOKIE / INVALID_KE_PAYLOAD rounds */
#define COOKIE_LIFETIME_MS (5 * 60 * 1000)
#define COOKIE_LEN         (4 + 32)	/* secret version | HMAC-SHA-256 */
#define INIT_BUF           4096

/* ---- helpers of both sides ------------------------------------------------- */

static int nat_hash(uint64_t ispi, uint64_t rspi,
		    const struct sockaddr_storage *ss, uint8_t *out)
{
	size_t len;
	const uint8_t *a = addr_bytes(ss, &len);

	return ike_nat_detection_hash(ispi, rspi, a, len, addr_port(ss),
				      out) == IKE_CRYPTO_OK ? 0 : -1;
}

static void add_status(struct ike_builder *b, uint16_t type,
		       const uint8_t *data, size_t len)
{
	struct ike_notify n = { .type = type, .data = data, .len = len };

	ike_add_notify(b, &n);
}

/* Both NAT detection notifies of a message from `from` to `to`. */
static void add_nat_detection(struct ike_builder *b, uint64_t ispi,
			      uint64_t rspi, const struct ike_path *path)
{
	uint8_t h[IKEV2_NAT_DETECTION_LEN];

	if (nat_hash(ispi, rspi, &path->local, h) == 0)
		add_status(b, IKEV2_N_NAT_DETECTION_SOURCE_IP, h, sizeof(h));
	if (nat_hash(ispi, rspi, &path->peer, h) == 0)
		add_status(b, IKEV2_N_NAT_DETECTION_DESTINATION_IP, h,
			   sizeof(h));
}

/* NAT detection from the notifies of msg received on path (SPIs as the
 * sender hashed them): *nat_local when our address was rewritten, *nat_peer
 * when the sender's was.  False when msg has no NAT detection at all. */
static bool nat_detect(const struct ike_msg *msg, uint64_t ispi,
		       uint64_t rspi, const struct ike_path *path,
		       bool *nat_local, bool *nat_peer)
{
	uint8_t ours[IKEV2_NAT_DETECTION_LEN], theirs[IKEV2_NAT_DETECTION_LEN];
	const struct ike_payload *pl = NULL;
	bool any_src = false, src_match = false, dst_seen = false;

	*nat_local = *nat_peer = false;
	if (nat_hash(ispi, rspi, &path->local, ours) ||
	    nat_hash(ispi, rspi, &path->peer, theirs))
		return false;
	while ((pl = ike_msg_find(msg, IKEV2_PL_NOTIFY, pl)) != NULL) {
		struct ike_notify n;

		if (ike_decode_notify(pl, &n) != IKE_MSG_OK)
			continue;
		if (n.type == IKEV2_N_NAT_DETECTION_SOURCE_IP) {
			any_src = true;
			src_match |= ike_ct_equal(n.data, theirs, n.len);
		} else if (n.type == IKEV2_N_NAT_DETECTION_DESTINATION_IP &&
			   !dst_seen) {
			dst_seen = true;
			*nat_local = !ike_ct_equal(n.data, ours, n.len);
		}
	}
	if (!any_src || !dst_seen)
		return false;
	*nat_peer = !src_match;
	return true;
}

static bool has_notify(const struct ike_msg *msg, uint16_t type)
{
	struct ike_notify n;

	return ike_msg_find_notify(msg, type, &n) == IKE_MSG_OK;
}

/* The first error notify of a response, 0 when there is none. */
static uint16_t first_error(const struct ike_msg *msg, struct ike_notify *out)
{
	const struct ike_payload *pl = NULL;

	while ((pl = ike_msg_find(msg, IKEV2_PL_NOTIFY, pl)) != NULL)
		if (ike_decode_notify(pl, out) == IKE_MSG_OK &&
		    out->type <= IKEV2_N_ERROR_MAX)
			return out->type;
	return 0;
}

/* ---- cookies (RFC 7296 §2.6) --------------------------------------------------- */

void cookie_secret_refresh(struct daemon *d)
{
	struct cookie_secret *c = &d->cookie;
	uint64_t now = daemon_now_ms(d);

	if (c->version && now - c->changed_ms < COOKIE_LIFETIME_MS)
		return;
	memcpy(c->prev, c->cur, sizeof(c->prev));
	if (ike_random(c->cur, sizeof(c->cur)) != IKE_CRYPTO_OK)
		fatal("no random bytes for the cookie secret");
	c->version++;
	c->changed_ms = now;
}

/* Cookie = version | prf(secret, Ni | IPi | SPIi). */
static int cookie_make(const uint8_t *secret, uint32_t version,
		       const struct ike_nonce *ni,
		       const struct sockaddr_storage *peer, uint64_t ispi,
		       uint8_t out[COOKIE_LEN])
{
	uint8_t data[IKEV2_NONCE_MAX + 16 + 8];
	size_t alen, n = 0;
	const uint8_t *a = addr_bytes(peer, &alen);
	int i;

	memcpy(data, ni->data, ni->len);
	n += ni->len;
	memcpy(data + n, a, alen);
	n += alen;
	for (i = 7; i >= 0; i--)
		data[n++] = (uint8_t)(ispi >> (8 * i));
	out[0] = (uint8_t)(version >> 24);
	out[1] = (uint8_t)(version >> 16);
	out[2] = (uint8_t)(version >> 8);
	out[3] = (uint8_t)version;
	return ike_prf(IKEV2_PRF_HMAC_SHA2_256, secret, COOKIE_SECRET_LEN,
		       data, n, out + 4) == IKE_CRYPTO_OK ? 0 : -1;
}

static bool cookie_valid(struct daemon *d, const struct ike_notify *n,
			 const struct ike_nonce *ni,
			 const struct sockaddr_storage *peer, uint64_t ispi)
{
	const struct cookie_secret *c = &d->cookie;
	uint8_t expect[COOKIE_LEN];
	uint32_t version;
	const uint8_t *secret;

	if (n->len != COOKIE_LEN)
		return false;
	version = (uint32_t)n->data[0] << 24 | (uint32_t)n->data[1] << 16 |
		  (uint32_t)n->data[2] << 8 | n->data[3];
	if (version == c->version)
		secret = c->cur;
	else if (version + 1 == c->version)
		secret = c->prev;
	else
		return false;
	if (cookie_make(secret, version, ni, peer, ispi, expect))
		return false;
	return ike_ct_equal(expect, n->data, COOKIE_LEN);
}

/* ---- stateless answers ------------------------------------------------------ */

static void answer_notify(struct daemon *d, const struct ike_dgram *dg,
			  const struct ike_header *req, uint16_t type,
			  const uint8_t *data, size_t len)
{
	struct ike_header h = *req;
	uint8_t buf[256];
	struct ike_builder b;
	size_t n;

	h.rspi = 0;
	h.flags = IKEV2_FLAG_RESPONSE;
	ike_build_message(&b, buf, sizeof(buf), &h);
	add_status(&b, type, data, len);
	if (ike_build_finish(&b, &n) == IKE_MSG_OK)
		ikesa_send(d, &dg->path, buf, n);
}

/* ---- initiator ------------------------------------------------------------- */

static int send_init_request(struct daemon *d, struct ikesa *sa)
{
	uint8_t buf[INIT_BUF], pub[IKE_DH_MAX_LEN];
	struct ike_header h;
	struct ike_builder b;
	struct ike_sa offer;
	struct ike_ke ke;
	struct ike_nonce ni = { sa->ni, sa->ni_len };
	size_t n = 0;

	if (ike_dh_public(sa->dh, pub, sizeof(pub), &ke.len) != IKE_CRYPTO_OK)
		return -1;
	ke.group = ike_dh_group(sa->dh);
	ke.data = pub;
	proposal_offer(&sa->conf, &offer);
	ikesa_header(sa, IKEV2_EXCH_IKE_SA_INIT, false, 0, &h);
	h.rspi = 0;
	ike_build_message(&b, buf, sizeof(buf), &h);
	if (sa->cookie_len)	/* first, §2.6 */
		add_status(&b, IKEV2_N_COOKIE, sa->cookie, sa->cookie_len);
	ike_add_sa(&b, &offer);
	ike_add_ke(&b, &ke);
	ike_add_nonce(&b, &ni);
	add_nat_detection(&b, sa->ispi, 0, &sa->path);
	exch_auth_init_payloads(d, &sa->conf, false, &b);
	add_status(&b, IKEV2_N_CHILDLESS_IKEV2_SUPPORTED, NULL, 0);
	add_status(&b, IKEV2_N_IKEV2_FRAGMENTATION_SUPPORTED, NULL, 0);
	if (ike_build_finish(&b, &n) != IKE_MSG_OK || blob_set(&sa->init_i,
							       buf, n))
		return -1;
	return ikesa_send_init_request(d, sa, buf, n);
}

static int start_checks(struct daemon *d, const struct sockaddr_storage *peer,
			struct peer_conf *pc, char *psk, bool *by_cert,
			char *err, size_t errlen)
{
	char a[ADDR_STR_MAX];

	addr_str(peer, a, sizeof(a));
	if (!d->policy) {
		snprintf(err, errlen, "no policy is assigned (%s/policy.yaml)",
			 d->confdir);
		return -1;
	}
	if (peer_lookup(d->policy, peer, pc) == PEER_NONE) {
		snprintf(err, errlen, "no negotiate rule of policy '%s' names "
			 "%s, and its default response is off", pc->policy, a);
		return -1;
	}
	return exch_auth_pick(d, pc, psk, PEER_NAME_MAX, by_cert, err,
			      errlen);
}

int exch_init_start(struct daemon *d, const struct sockaddr_storage *peer,
		    uint64_t *serial, char *err, size_t errlen)
{
	struct peer_conf pc;
	struct ike_path path;
	char psk[PEER_NAME_MAX];
	struct ikesa *sa;
	bool first_contact, by_cert;

	if (start_checks(d, peer, &pc, psk, &by_cert, err, errlen))
		return -1;
	memset(&path, 0, sizeof(path));
	path.peer = *peer;
	addr_set_port(&path.peer, d->peer_port ? d->peer_port : d->port);
	if (d->source_addr(d, &path.peer, &path.local)) {
		snprintf(err, errlen, "no route to the peer");
		return -1;
	}
	addr_set_port(&path.local, d->port);
	first_contact = !ikesa_peer_established(d, &path.peer);
	sa = ikesa_new(d, true, 0, &path, &pc);
	if (!sa) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(sa->psk_id, sizeof(sa->psk_id), "%s", psk);
	sa->by_cert = by_cert;
	sa->initial_contact = first_contact;
	sa->ni_len = NONCE_LEN;
	d->stats.v[ST_NEG_TOTAL]++;
	ikelog_event(d, "started", sa, "negotiation started rule=%s policy=%s",
	       pc.rule, pc.policy);
	*serial = sa->serial;
	if (ike_random(sa->ni, sa->ni_len) != IKE_CRYPTO_OK ||
	    ike_dh_new(pc.prop[0].dh, &sa->dh) != IKE_CRYPTO_OK ||
	    send_init_request(d, sa)) {
		ikesa_fail(d, sa, ST_COUNT, "cannot build IKE_SA_INIT");
		snprintf(err, errlen, "cannot build the IKE_SA_INIT request");
		return -1;
	}
	return 0;
}

/* COOKIE or INVALID_KE_PAYLOAD: send IKE_SA_INIT again. */
static void restart_with_cookie(struct daemon *d, struct ikesa *sa,
			       const struct ike_notify *n)
{
	if (n->len > sizeof(sa->cookie)) {
		ikesa_fail(d, sa, ST_COUNT, "responder's cookie is too long");
		return;
	}
	memcpy(sa->cookie, n->data, n->len);
	sa->cookie_len = n->len;
	ikelog(d, IKELOG_DETAIL, sa, "responder asks for a cookie: again");
	if (send_init_request(d, sa))
		ikesa_fail(d, sa, ST_COUNT, "cannot build IKE_SA_INIT");
}

static void restart_with_group(struct daemon *d, struct ikesa *sa,
			      const struct ike_notify *n)
{
	uint16_t group = 0;

	d->stats.v[ST_INVALID_KE_RECEIVED]++;
	if (ike_notify_dh_group(n, &group) != IKE_MSG_OK ||
	    !proposal_has_group(&sa->conf, group) ||
	    group == ike_dh_group(sa->dh)) {
		ikesa_fail(d, sa, ST_NO_PROPOSAL_CHOSEN, "responder asks for "
			   "DH group %u (%s), which we did not offer", group,
			   ike_transform_name(IKEV2_XFORM_DH, group));
		return;
	}
	ikelog(d, IKELOG_DETAIL, sa, "responder asks for the KE of %s: again",
	       ike_transform_name(IKEV2_XFORM_DH, group));
	ike_dh_free(sa->dh);
	sa->dh = NULL;
	if (ike_dh_new(group, &sa->dh) != IKE_CRYPTO_OK ||
	    send_init_request(d, sa))
		ikesa_fail(d, sa, ST_COUNT, "cannot build IKE_SA_INIT");
}

/* An error notify instead of an answer: restart or fail. */
static void init_refused(struct daemon *d, struct ikesa *sa,
			 const struct ike_notify *n)
{
	if (n->type == IKEV2_N_COOKIE || n->type == IKEV2_N_INVALID_KE_PAYLOAD) {
		if (++sa->init_restarts > MAX_INIT_RESTARTS) {
			ikesa_fail(d, sa, ST_COUNT, "responder keeps asking us "
				   "to start again (%s)", notify_name(n->type));
			return;
		}
		if (n->type == IKEV2_N_COOKIE)
			restart_with_cookie(d, sa, n);
		else
			restart_with_group(d, sa, n);
		return;
	}
	ikesa_fail(d, sa, n->type == IKEV2_N_NO_PROPOSAL_CHOSEN
			  ? ST_NO_PROPOSAL_CHOSEN : fail_stat_of_notify(n->type),
		   "peer answered %s", notify_name(n->type));
}

/* The answer's SA, KE, Nr: keys, or a failure (then false). */
static bool init_keys(struct daemon *d, struct ikesa *sa,
		      const struct ike_msg *msg)
{
	const struct ike_payload *psa = ike_msg_find(msg, IKEV2_PL_SA, NULL);
	const struct ike_payload *pke = ike_msg_find(msg, IKEV2_PL_KE, NULL);
	const struct ike_payload *pn = ike_msg_find(msg, IKEV2_PL_NONCE, NULL);
	struct ike_sa answer;
	struct ike_suite suite;
	struct ike_ke ke;
	struct ike_nonce nr;
	enum ike_crypto_err cerr;

	if (!psa || !pke || !pn || msg->hdr.rspi == 0 ||
	    ike_decode_sa(psa, &answer) != IKE_MSG_OK ||
	    ike_decode_ke(pke, &ke) != IKE_MSG_OK ||
	    ike_decode_nonce(pn, &nr) != IKE_MSG_OK) {
		ikesa_fail(d, sa, ST_FAIL_INVALID_SYNTAX,
			   "malformed IKE_SA_INIT response");
		return false;
	}
	if (proposal_check_answer(&sa->conf, &answer, &suite) ||
	    suite.dh != ike_dh_group(sa->dh) || ke.group != suite.dh) {
		ikesa_fail(d, sa, ST_NO_PROPOSAL_CHOSEN, "responder chose "
			   "a proposal or KE group we did not offer");
		return false;
	}
	memcpy(sa->nr, nr.data, nr.len);
	sa->nr_len = nr.len;
	sa->rspi = msg->hdr.rspi;
	cerr = ike_sa_keys_from_dh(&sa->keys, &suite, sa->dh, ke.data, ke.len,
				   sa->ni, sa->ni_len, sa->nr, sa->nr_len,
				   sa->ispi, sa->rspi);
	if (cerr != IKE_CRYPTO_OK) {
		ikesa_fail(d, sa, ST_COUNT, "responder's KE: %s",
			   ike_crypto_strerror(cerr));
		return false;
	}
	sa->have_keys = true;
	return true;
}

/* After NAT detection: move to the NAT-T ports (RFC 7296 §2.23). */
static void init_nat(struct daemon *d, struct ikesa *sa,
		     const struct ike_msg *msg, const struct ike_dgram *dg)
{
	struct ike_path seen = sa->path;

	seen.local = dg->path.local;	/* as the response reached us */
	if (!nat_detect(msg, sa->ispi, sa->rspi, &seen, &sa->nat_local,
			&sa->nat_peer))
		return;
	ikelog(d, IKELOG_DETAIL, sa, "NAT detection: %s",
	       sa->nat_local && sa->nat_peer ? "NATs before both of us" :
	       sa->nat_local ? "we are behind a NAT" :
	       sa->nat_peer ? "the peer is behind a NAT" : "no NAT");
	if (!sa->nat_local && !sa->nat_peer)
		return;
	addr_set_port(&sa->path.local, d->natt_port);
	addr_set_port(&sa->path.peer, d->natt_port);
	sa->natt = true;
}

void exch_init_response(struct daemon *d, struct ikesa *sa,
			const struct ike_dgram *dg, const struct ike_msg *msg)
{
	struct ike_notify n;

	if (sa->state != IKESA_INIT_SENT)
		return;
	if (first_error(msg, &n) || ike_msg_find_notify(msg, IKEV2_N_COOKIE,
							&n) == IKE_MSG_OK) {
		init_refused(d, sa, &n);
		return;
	}
	if (!init_keys(d, sa, msg))
		return;
	if (blob_set(&sa->init_r, msg->raw, msg->raw_len)) {
		ikesa_fail(d, sa, ST_COUNT, "out of memory");
		return;
	}
	/* our address as the peer saw it */
	sa->path.local = dg->path.local;
	init_nat(d, sa, msg, dg);
	sa->peer_childless = has_notify(msg, IKEV2_N_CHILDLESS_IKEV2_SUPPORTED);
	sa->peer_frag = has_notify(msg, IKEV2_N_IKEV2_FRAGMENTATION_SUPPORTED);
	sa->peer_hashes = sig_peer_hashes(msg);
	sa->peer_next = 0;
	exch_auth_start(d, sa);
}

/* ---- responder ------------------------------------------------------------- */

static bool half_open_ok(struct daemon *d, const struct ike_dgram *dg,
			 const struct ike_header *h)
{
	const struct sockaddr_storage *peer = &dg->path.peer;
	size_t n;

	if (ikesa_half_open_all(d) >= d->tun.half_open_max) {
		ike_drop(d, ST_DROP_HALF_OPEN_LIMIT, dg, h, "%zu negotiations "
			 "in progress in all", ikesa_half_open_all(d));
		return false;
	}
	if (ikesa_peer_established(d, peer)) {
		n = ikesa_half_open(d, peer, true);
		if (n < d->tun.half_open_per_addr_port)
			return true;
		ike_drop(d, ST_DROP_HALF_OPEN_LIMIT, dg, h, "%zu negotiations "
			 "in progress from this address and port, which has an "
			 "IKE SA", n);
		return false;
	}
	n = ikesa_half_open(d, peer, false);
	if (n < d->tun.half_open_per_addr)
		return true;
	ike_drop(d, ST_DROP_HALF_OPEN_LIMIT, dg, h, "%zu negotiations in "
		 "progress from this address", n);
	return false;
}

struct init_request {
	struct ike_sa offer;
	struct ike_ke ke;
	struct ike_nonce ni;
	struct peer_conf conf;
	struct ike_suite suite;
	uint8_t num;
};

static bool decode_request(struct daemon *d, const struct ike_dgram *dg,
			   const struct ike_msg *msg, struct init_request *r)
{
	const struct ike_payload *psa = ike_msg_find(msg, IKEV2_PL_SA, NULL);
	const struct ike_payload *pke = ike_msg_find(msg, IKEV2_PL_KE, NULL);
	const struct ike_payload *pn = ike_msg_find(msg, IKEV2_PL_NONCE, NULL);
	enum ike_msg_err err;

	if (!psa || !pke || !pn) {
		ike_drop(d, ST_DROP_MISSING_PAYLOAD, dg, &msg->hdr,
			 "IKE_SA_INIT request without %s", !psa ? "SA" :
			 !pke ? "KE" : "a nonce");
		return false;
	}
	err = ike_decode_sa(psa, &r->offer);
	if (err == IKE_MSG_OK)
		err = ike_decode_ke(pke, &r->ke);
	if (err == IKE_MSG_OK)
		err = ike_decode_nonce(pn, &r->ni);
	if (err != IKE_MSG_OK) {
		ike_drop(d, ST_DROP_BAD_PAYLOAD, dg, &msg->hdr, "%s",
			 ike_msg_strerror(err));
		return false;
	}
	return true;
}

/* Under load, the request must carry our cookie.  True: go on. */
static bool cookie_check(struct daemon *d, const struct ike_dgram *dg,
			 const struct ike_msg *msg,
			 const struct init_request *r)
{
	uint8_t cookie[COOKIE_LEN];
	char from[ADDR_STR_MAX + 8];
	struct ike_notify n;
	bool present;

	if (ikesa_half_open_all(d) < d->tun.cookie_threshold)
		return true;
	present = ike_msg_find_notify(msg, IKEV2_N_COOKIE, &n) == IKE_MSG_OK;
	if (present && cookie_valid(d, &n, &r->ni, &dg->path.peer,
				    msg->hdr.ispi))
		return true;
	if (present) {
		d->stats.v[ST_INVALID_COOKIES]++;
		ikelog(d, IKELOG_OUTCOME, NULL, "invalid cookie from %s",
		       addr_port_str(&dg->path.peer, from, sizeof(from)));
	}
	if (cookie_make(d->cookie.cur, d->cookie.version, &r->ni,
			&dg->path.peer, msg->hdr.ispi, cookie) == 0) {
		d->stats.v[ST_COOKIES_SENT]++;
		answer_notify(d, dg, &msg->hdr, IKEV2_N_COOKIE, cookie,
			      sizeof(cookie));
	}
	return false;
}

/* A proposal and the right KE group, or a stateless refusal. */
static bool choose(struct daemon *d, const struct ike_dgram *dg,
		   const struct ike_msg *msg, struct init_request *r)
{
	char offered[400], from[ADDR_STR_MAX + 8];
	uint8_t group[2];

	if (proposal_select(&r->conf, &r->offer, r->ke.group, &r->suite,
			    &r->num)) {
		d->stats.v[ST_NEG_TOTAL]++;
		d->stats.v[ST_NEG_FAILED]++;
		d->stats.v[ST_NO_PROPOSAL_CHOSEN]++;
		d->stats.v[ST_FAIL_NO_PROPOSAL]++;
		ikelog_event(d, "failed", NULL, "negotiation from %s failed "
		       "reason=\"no proposal chosen: rule %s allows none of "
		       "what the peer offers (%s)\"",
		       addr_port_str(&dg->path.peer, from, sizeof(from)),
		       r->conf.rule, offer_str(&r->offer, offered,
					       sizeof(offered)));
		answer_notify(d, dg, &msg->hdr, IKEV2_N_NO_PROPOSAL_CHOSEN,
			      NULL, 0);
		return false;
	}
	if (r->ke.group != r->suite.dh) {
		d->stats.v[ST_INVALID_KE_SENT]++;
		ikelog(d, IKELOG_DETAIL, NULL, "%s sent the KE of %s; asking "
		       "for %s", addr_port_str(&dg->path.peer, from,
					       sizeof(from)),
		       ike_transform_name(IKEV2_XFORM_DH, r->ke.group),
		       ike_transform_name(IKEV2_XFORM_DH, r->suite.dh));
		group[0] = (uint8_t)(r->suite.dh >> 8);
		group[1] = (uint8_t)r->suite.dh;
		answer_notify(d, dg, &msg->hdr, IKEV2_N_INVALID_KE_PAYLOAD,
			      group, sizeof(group));
		return false;
	}
	return true;
}

static int send_init_response(struct daemon *d, struct ikesa *sa,
			      const struct init_request *r,
			      const struct ike_dh *dh, bool nat_notifies)
{
	uint8_t buf[INIT_BUF], pub[IKE_DH_MAX_LEN];
	struct ike_header h;
	struct ike_builder b;
	struct ike_sa answer;
	struct ike_ke ke = { .group = r->suite.dh, .data = pub };
	struct ike_nonce nr = { sa->nr, sa->nr_len };
	size_t n = 0;

	if (ike_dh_public(dh, pub, sizeof(pub), &ke.len) != IKE_CRYPTO_OK)
		return -1;
	proposal_answer(&r->suite, r->num, &answer);
	ikesa_header(sa, IKEV2_EXCH_IKE_SA_INIT, true, 0, &h);
	ike_build_message(&b, buf, sizeof(buf), &h);
	ike_add_sa(&b, &answer);
	ike_add_ke(&b, &ke);
	ike_add_nonce(&b, &nr);
	if (nat_notifies)
		add_nat_detection(&b, sa->ispi, sa->rspi, &sa->path);
	exch_auth_init_payloads(d, &sa->conf, true, &b);
	add_status(&b, IKEV2_N_CHILDLESS_IKEV2_SUPPORTED, NULL, 0);
	if (sa->peer_frag)	/* only to a peer that offered it (RFC 7383 §2.3) */
		add_status(&b, IKEV2_N_IKEV2_FRAGMENTATION_SUPPORTED, NULL, 0);
	if (ike_build_finish(&b, &n) != IKE_MSG_OK ||
	    blob_set(&sa->init_r, buf, n))
		return -1;
	return ikesa_respond_init(d, sa, buf, n);
}

/* Our half: nonce, DH (the shared pair of dh_reuse.h, *dh), keys.  0, or
 * -1 with the reason in why. */
static int responder_keys(struct daemon *d, struct ikesa *sa,
			  const struct init_request *r,
			  const struct ike_dh **dh, const char **why)
{
	enum ike_crypto_err err;

	memcpy(sa->ni, r->ni.data, r->ni.len);
	sa->ni_len = r->ni.len;
	sa->nr_len = NONCE_LEN;
	err = ike_random(sa->nr, sa->nr_len);
	if (err == IKE_CRYPTO_OK)
		err = dh_reuse_get(&d->dh_reuse, r->suite.dh,
				   daemon_now_ms(d), d->tun.dh_reuse_ms, dh,
				   &sa->dh_gen);
	if (err == IKE_CRYPTO_OK)
		err = ike_sa_keys_from_dh(&sa->keys, &r->suite, *dh,
					  r->ke.data, r->ke.len, sa->ni,
					  sa->ni_len, sa->nr, sa->nr_len,
					  sa->ispi, sa->rspi);
	*why = ike_crypto_strerror(err);
	sa->have_keys = err == IKE_CRYPTO_OK;
	return sa->have_keys ? 0 : -1;
}

static void accept_request(struct daemon *d, const struct ike_dgram *dg,
			   const struct ike_msg *msg,
			   const struct init_request *r)
{
	struct ikesa *sa = ikesa_new(d, false, msg->hdr.ispi, &dg->path,
				     &r->conf);
	const struct ike_dh *dh = NULL;
	char suite[128];
	const char *why;
	bool nat;

	if (!sa) {
		log_err("out of memory for an IKE SA");
		return;
	}
	d->stats.v[ST_NEG_TOTAL]++;
	ikelog_event(d, "started", sa, "negotiation started rule=%s policy=%s",
	       r->conf.rule, r->conf.policy);
	if (d->ikelogging >= IKELOG_DETAIL)	/* no suite_str() for nothing */
		ikelog(d, IKELOG_DETAIL, sa, "chose proposal #%u: %s", r->num,
		       suite_str(&r->suite, suite, sizeof(suite)));
	if (responder_keys(d, sa, r, &dh, &why)) {
		ikesa_fail(d, sa, ST_COUNT, "peer's KE: %s", why);
		return;
	}
	nat = nat_detect(msg, sa->ispi, 0, &dg->path, &sa->nat_local,
			 &sa->nat_peer);
	sa->peer_childless = has_notify(msg, IKEV2_N_CHILDLESS_IKEV2_SUPPORTED);
	sa->peer_frag = has_notify(msg, IKEV2_N_IKEV2_FRAGMENTATION_SUPPORTED);
	sa->peer_hashes = sig_peer_hashes(msg);
	if (blob_set(&sa->init_i, msg->raw, msg->raw_len) ||
	    send_init_response(d, sa, r, dh, nat)) {
		ikesa_fail(d, sa, ST_COUNT, "cannot build the IKE_SA_INIT "
			   "response");
		return;
	}
	timer_arm(&sa->t_life, (uint64_t)d->tun.half_open_timeout_s * 1000);
}

void exch_init_request(struct daemon *d, const struct ike_dgram *dg,
		       const struct ike_msg *msg)
{
	struct init_request r;

	cookie_secret_refresh(d);
	if (!d->policy ||
	    peer_lookup(d->policy, &dg->path.peer, &r.conf) == PEER_NONE) {
		ike_drop(d, ST_DROP_NO_POLICY, dg, &msg->hdr, "%s",
			 d->policy ? "no rule names the peer and the default "
			 "response is off" : "no policy is assigned");
		return;
	}
	if (!half_open_ok(d, dg, &msg->hdr) ||
	    !decode_request(d, dg, msg, &r) ||
	    !cookie_check(d, dg, msg, &r) || !choose(d, dg, msg, &r))
		return;
	accept_request(d, dg, msg, &r);
}

/* ---- the table for the SA table ---------------------------------------------- */

static void init_request(struct daemon *d, struct ikesa *sa,
			 const struct ike_dgram *dg, const struct ike_msg *msg)
{
	exch_init_request(d, dg, msg);
}

const struct exchange_ops exch_init_ops = {
	.type = IKEV2_EXCH_IKE_SA_INIT,
	.request = init_request,
	.response = exch_init_response,
};
