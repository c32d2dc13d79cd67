// SPDX-License-Identifier: GPL-2.0-only
/*
 * sa_exchange_auth.c - IKE_AUTH (RFC 7296 §1.2, §2.15) with pre-shared keys
 * or certificates:
 *
 *   HDR, SK {IDi, [CERT+], [N(INITIAL_CONTACT)], [CERTREQ], AUTH,
 *            [SAi2, TSi, TSr]}  -->
 *                       <--  HDR, SK {IDr, [CERT+], AUTH, [SAr2, TSi, TSr]}
 *
 * The initiator authenticates with the first method of the rule it can
 * use (exch_auth_pick): a pre-shared key the secrets file holds, or our
 * certificate (cert.h).  The responder answers with the kind the peer
 * used.  Either side checks the peer's AUTH against the rule's methods of
 * that kind: a PSK AUTH against each pre-shared key the policy names for
 * the peer, a signature AUTH (signature.h) against the certificate the
 * peer sent, verified to the roots of each certificate method in turn
 * with its CRL mode (raised to the `strongcrlcheck` setting), with the
 * peer's identity bound to it.  A failure is answered with
 * AUTHENTICATION_FAILED, counted ST_AUTH_FAILURES and logged with the
 * reason (untrusted, expired, revoked, no CRL, ID mismatch, bad
 * signature).
 *
 * Identities are our IP address or a configured FQDN; with a certificate
 * and no FQDN, the address when the certificate names it, else its
 * subject DN.  PSK AUTH is prf(prf(PSK, "Key Pad for IKEv2"),
 * <SignedOctets>) (crypto.c); a signature covers the same <SignedOctets>.
 *
 * Without a CHILD SA extension (d->child) the IKE SA is childless (RFC
 * 6023); the CHILD SA part of a peer's request is answered
 * NO_PROPOSAL_CHOSEN and the IKE SA still comes up (RFC 7296 §1.2).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire_cert.h"
#include "sa/sa_keys.h"
#include "sa/sa_log.h"
#include "sa/sa_ikesa.h"
#include "sa/sa_exchange.h"
#include "wire/wire_secrets.h"
#include "wire/wire_signature.h"

#define AUTH_BUF   32768	/* certificates and the CHILD SA part */
#define AUTH_DATA  SIG_AUTH_MAX	/* >= IKE_PRF_MAX_LEN */
#define CERTREQ_MAX (PEER_MAX_CA * 16 * CERT_SHA1_LEN)

/* ---- identities -------------------------------------------------------------- */

static const struct cert_host *host_cert(const struct daemon *d)
{
	return d->secrets ? d->secrets->host : NULL;
}

static void ident_set(struct ike_ident *out, uint8_t type, const void *data,
		      size_t len)
{
	memset(out, 0, sizeof(*out));
	out->type = type;
	out->len = len < sizeof(out->data) ? len : sizeof(out->data);
	memcpy(out->data, data, out->len);
}

void ident_local(const struct daemon *d, const struct ikesa *sa,
		 struct ike_ident *out)
{
	const struct cert_host *host = host_cert(d);
	const uint8_t *a, *dn;
	size_t len, dn_len;

	if (d->local_fqdn[0]) {
		ident_set(out, IKEV2_ID_FQDN, d->local_fqdn,
			  strnlen(d->local_fqdn, sizeof(out->data)));
		return;
	}
	a = addr_bytes(&sa->path.local, &len);
	if (sa->by_cert && host && !cert_host_has_ip(host, a, len)) {
		/* the certificate does not name this address: its subject */
		cert_host_subject_der(host, &dn, &dn_len);
		if (dn_len <= sizeof(out->data)) {
			ident_set(out, IKEV2_ID_DER_ASN1_DN, dn, dn_len);
			return;
		}
	}
	ident_set(out, len == 4 ? IKEV2_ID_IPV4_ADDR : IKEV2_ID_IPV6_ADDR, a,
		  len);
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
	char dn[300];
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
	} else if (id->type == IKEV2_ID_DER_ASN1_DN &&
		   cert_dn_str(id->data, id->len, dn, sizeof(dn))) {
		snprintf(buf, len, "dn:%s", dn);
		return buf;
	}
	n = snprintf(buf, len, "%s:", id->type == IKEV2_ID_KEY_ID ? "keyid" :
		     id->type == IKEV2_ID_DER_ASN1_DN ? "dn" : "id");
	off = n > 0 ? (size_t)n : 0;
	for (i = 0; i < id->len && off + 3 < len; i++, off += 2)
		snprintf(buf + off, len - off, "%02x", id->data[i]);
	return buf;
}

/* ---- choosing a method -------------------------------------------------------- */

int exch_auth_pick(struct daemon *d, const struct peer_conf *pc,
		   char *psk_id, size_t psk_len, bool *by_cert, char *err,
		   size_t errlen)
{
	size_t i;

	psk_id[0] = '\0';
	*by_cert = false;
	for (i = 0; i < pc->nauth; i++) {
		const struct peer_auth *a = &pc->auth[i];

		if (a->kind == PEER_AUTH_CERT && host_cert(d)) {
			*by_cert = true;
			return 0;
		}
		if (a->kind == PEER_AUTH_PSK &&
		    secrets_find(d->secrets, pc->psk[a->index])) {
			snprintf(psk_id, psk_len, "%s", pc->psk[a->index]);
			return 0;
		}
	}
	snprintf(err, errlen, "no authentication method of rule '%s' can be "
		 "used: %s/secrets has none of the pre-shared keys it names%s",
		 pc->rule, d->confdir, pc->nca ? ", and there is no host "
		 "certificate (" CERT_HOST_FILE ", " CERT_KEY_FILE ")" : "");
	return -1;
}

/* ---- CERT and CERTREQ ---------------------------------------------------------- */

/* The roots of every certificate method of pc (unreadable files are
 * skipped here: the verification names them). */
static size_t ca_hashes(const struct peer_conf *pc, uint8_t *out, size_t cap)
{
	char err[256];
	size_t i, len = 0, before;

	for (i = 0; i < pc->nca; i++) {
		before = len;
		if (cert_ca_hashes(pc->ca[i], out, cap, &len, err, sizeof(err)))
			len = before;
	}
	return len;
}

static void add_certreq(const struct peer_conf *pc, struct ike_builder *b)
{
	uint8_t hashes[CERTREQ_MAX];
	struct ike_cert req = { .encoding = IKEV2_CERT_X509_SIG,
				.data = hashes };

	req.len = ca_hashes(pc, hashes, sizeof(hashes));
	if (req.len)
		ike_add_certreq(b, &req);
}

void exch_auth_init_payloads(struct daemon *d, const struct peer_conf *pc,
			     bool certreq, struct ike_builder *b)
{
	if (certreq && pc->nca)
		add_certreq(pc, b);
	sig_add_hash_notify(b);
}

/* Our certificate and the intermediates of certs/host.pem. */
static void add_our_certs(const struct cert_host *host, struct ike_builder *b)
{
	struct ike_cert c = { .encoding = IKEV2_CERT_X509_SIG };
	size_t i;

	for (i = 0; cert_host_der(host, i, &c.data, &c.len); i++)
		ike_add_cert(b, &c);
}

/* The certificates the peer sent (X.509 Signature encoding only). */
static struct cert_chain *peer_chain(const struct ike_msg *msg,
				     const char **why)
{
	const struct ike_payload *pl = NULL;
	struct cert_chain *ch = cert_chain_new();
	struct ike_cert c;

	*why = "out of memory";
	while (ch && (pl = sealed_find(msg, IKEV2_PL_CERT, pl)) != NULL) {
		if (ike_decode_cert(pl, &c) != IKE_MSG_OK ||
		    (c.encoding == IKEV2_CERT_X509_SIG &&
		     cert_chain_add(ch, c.data, c.len))) {
			*why = "malformed certificate";
			cert_chain_free(ch);
			return NULL;
		}
	}
	return ch;
}

/* ---- AUTH ------------------------------------------------------------------- */

/* What our AUTH (ours) or the peer's covers. */
static void auth_input(const struct ikesa *sa, bool ours, struct ike_id *id,
		       struct ike_auth_input *in)
{
	bool init_side = ours ? sa->initiator : !sa->initiator;

	ident_view(ours ? &sa->local_id : &sa->peer_id, id);
	in->initiator = init_side;
	in->message = init_side ? sa->init_i.p : sa->init_r.p;
	in->message_len = init_side ? sa->init_i.len : sa->init_r.len;
	in->peer_nonce = init_side ? sa->nr : sa->ni;
	in->peer_nonce_len = init_side ? sa->nr_len : sa->ni_len;
	in->id = id;
}

/* <SignedOctets> of our side or the peer's, malloc'ed. */
static uint8_t *signed_octets(const struct ikesa *sa, bool ours, size_t *len)
{
	struct ike_auth_input in;
	struct ike_id id;
	size_t cap;
	uint8_t *p;

	auth_input(sa, ours, &id, &in);
	cap = in.message_len + in.peer_nonce_len + IKE_PRF_MAX_LEN;
	p = malloc(cap);
	if (p && ike_signed_octets(&sa->keys, &in, p, cap, len) !=
		 IKE_CRYPTO_OK) {
		free(p);
		p = NULL;
	}
	return p;
}

/* A PSK AUTH of ours, by whoever holds the key (sa_keys.h). */
static int psk_auth(struct daemon *d, struct ikesa *sa, uint8_t *out,
		    size_t *len, const char **why)
{
	size_t olen = 0;
	uint8_t *octets;
	int rc;

	*why = "out of memory";
	octets = signed_octets(sa, true, &olen);
	if (!octets)
		return -1;
	rc = keys_of(d)->psk_mac(d, sa->psk_id, sa->keys.suite.prf, octets,
				 olen, out, len, why);
	free(octets);
	return rc;
}

static int sig_auth(struct daemon *d, struct ikesa *sa, uint8_t *method,
		    uint8_t *out, size_t *len, const char **why)
{
	size_t olen = 0;
	uint8_t *octets;
	int rc;

	*why = "there is no host certificate any more";
	if (!host_cert(d))
		return -1;
	*why = "out of memory";
	octets = signed_octets(sa, true, &olen);
	if (!octets)
		return -1;
	rc = keys_of(d)->sign(d, sa->peer_hashes, octets, olen, method, out,
			      len, why);
	free(octets);
	return rc;
}

/* Our AUTH payload: method and data.  0, or -1 and why. */
static int our_auth(struct daemon *d, struct ikesa *sa, struct ike_auth *a,
		    uint8_t *data, const char **why)
{
	memset(a, 0, sizeof(*a));
	a->data = data;
	if (sa->by_cert)
		return sig_auth(d, sa, &a->method, data, &a->len, why);
	a->method = IKEV2_AUTH_PSK;
	*why = "the pre-shared key is gone from the secrets file";
	if (!secrets_find(d->secrets, sa->psk_id))
		return -1;
	return psk_auth(d, sa, data, &a->len, why);
}

/* Whether the peer's PSK AUTH verifies with the key named id. */
static bool peer_auth_ok(struct daemon *d, const struct ikesa *sa,
			 const char *id, const struct ike_auth *auth)
{
	size_t len = 0;
	uint8_t *octets = signed_octets(sa, false, &len);
	enum keys_verdict v = KEYS_NO_KEY;

	if (octets)
		v = keys_of(d)->psk_verify(d, id, sa->keys.suite.prf, octets,
					   len, auth->data, auth->len);
	free(octets);
	return v == KEYS_MATCH;
}

/* ID, our certificates, [INITIAL_CONTACT], [CERTREQ], AUTH. */
static void add_id_auth(struct daemon *d, struct ikesa *sa,
			struct ike_builder *b, uint8_t id_type,
			const struct ike_auth *a, bool initial_contact)
{
	struct ike_id id;
	struct ike_notify ic = { .type = IKEV2_N_INITIAL_CONTACT };

	ident_view(&sa->local_id, &id);
	ike_add_id(b, id_type, &id);
	if (sa->by_cert && host_cert(d))
		add_our_certs(host_cert(d), b);
	if (initial_contact)
		ike_add_notify(b, &ic);
	if (sa->by_cert && id_type == IKEV2_PL_IDI)
		add_certreq(&sa->conf, b);
	ike_add_auth(b, a);
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

/* ---- checking the peer ------------------------------------------------------------ */

/* Try each pre-shared key the policy allows for this peer. */
static const char *verify_peer_psk(struct daemon *d, struct ikesa *sa,
				   const struct ike_auth *auth, size_t *tried)
{
	char key[LOCAL_ID_MAX + 1];
	const struct secret *s;
	size_t i;

	*tried = 0;
	if (sa->conf.source == PEER_DEFAULT) {
		ident_key(&sa->peer_id, key, sizeof(key));
		s = secrets_find(d->secrets, key);
		if (s && ++*tried && peer_auth_ok(d, sa, s->id, auth))
			return s->id;
	}
	for (i = 0; i < sa->conf.npsk; i++) {
		s = secrets_find(d->secrets, sa->conf.psk[i]);
		if (s && ++*tried && peer_auth_ok(d, sa, s->id, auth))
			return s->id;
	}
	return NULL;
}

/* The CRL mode of a method, raised to the host's strongcrlcheck. */
static enum cert_crl crl_mode(const struct daemon *d,
			      const struct peer_auth *a)
{
	int m = a->crl > d->strongcrlcheck ? a->crl : d->strongcrlcheck;

	return m >= CERT_CRL_STRONG ? CERT_CRL_STRONG : (enum cert_crl)m;
}

/* The chain leads to the roots of one of the rule's certificate methods
 * (tried in order).  0, or -1 and why (that of the last one tried). */
static int chain_trusted(struct daemon *d, struct ikesa *sa,
			 const struct cert_chain *ch, char *why, size_t whylen)
{
	char crl_dir[600];
	size_t i;

	snprintf(crl_dir, sizeof(crl_dir), "%s/%s", d->confdir, CERT_CRL_DIR);
	snprintf(why, whylen, "rule %s has no certificate method",
		 sa->conf.rule);
	for (i = 0; i < sa->conf.nauth; i++) {
		const struct peer_auth *a = &sa->conf.auth[i];

		if (a->kind != PEER_AUTH_CERT)
			continue;
		if (cert_verify(ch, sa->conf.ca[a->index], crl_mode(d, a),
				crl_dir, why, whylen) == CERT_OK)
			return 0;
	}
	return -1;
}

static int signature_ok(struct ikesa *sa, const struct cert_chain *ch,
			const struct ike_auth *auth, char *why, size_t whylen)
{
	const char *reason = "out of memory";
	size_t len = 0;
	uint8_t *octets = signed_octets(sa, false, &len);
	int rc = octets ? sig_auth_verify(cert_chain_key(ch), auth, octets,
					  len, &reason) : -1;

	free(octets);
	if (rc)
		snprintf(why, whylen, "%s", reason);
	return rc;
}

/* A signature AUTH: certificate trusted, identity bound, signature good.
 * 0, or -1 and why. */
static int verify_peer_cert(struct daemon *d, struct ikesa *sa,
			    const struct ike_msg *msg,
			    const struct ike_auth *auth, char *why,
			    size_t whylen)
{
	const char *bad;
	struct cert_chain *ch = peer_chain(msg, &bad);
	int rc = -1;

	if (!ch)
		snprintf(why, whylen, "%s", bad);
	else if (!cert_chain_len(ch))
		snprintf(why, whylen, "untrusted: the peer sent no certificate");
	else if (!chain_trusted(d, sa, ch, why, whylen) &&
		 cert_id_bound(ch, sa->peer_id.type, sa->peer_id.data,
			       sa->peer_id.len, why, whylen) == CERT_OK &&
		 !signature_ok(sa, ch, auth, why, whylen))
		rc = 0;
	if (rc == 0)
		ikelog(d, IKELOG_DETAIL, sa, "peer certificate %s accepted",
		       cert_chain_subject(ch, why, whylen));
	cert_chain_free(ch);
	return rc;
}

/* The peer's AUTH by whatever method it used.  0, or -1 and why. */
static int verify_peer_auth(struct daemon *d, struct ikesa *sa,
			    const struct ike_msg *msg,
			    const struct ike_auth *auth, const char **matched,
			    char *why, size_t whylen)
{
	size_t tried;

	*matched = NULL;
	if (sig_auth_method(auth->method))
		return verify_peer_cert(d, sa, msg, auth, why, whylen);
	if (auth->method != IKEV2_AUTH_PSK) {
		snprintf(why, whylen, "the peer uses %s, which is not offered",
			 auth_method_name(auth->method));
		return -1;
	}
	*matched = verify_peer_psk(d, sa, auth, &tried);
	if (!*matched)
		snprintf(why, whylen, "its AUTH %s (rule %.63s)", tried
			 ? "does not verify with any pre-shared key allowed"
			 : "cannot be checked: no pre-shared key for it",
			 sa->conf.rule);
	return *matched ? 0 : -1;
}

/* ---- initiator -------------------------------------------------------------- */

void exch_auth_start(struct daemon *d, struct ikesa *sa)
{
	uint8_t data[AUTH_DATA], buf[AUTH_BUF];
	struct ike_builder b;
	struct ike_auth a;
	const char *why;
	size_t n = 0;
	bool child = false;

	ikesa_set_state(d, sa, IKESA_AUTH_SENT);
	ident_local(d, sa, &sa->local_id);
	if (our_auth(d, sa, &a, data, &why)) {
		ikesa_fail(d, sa, ST_COUNT, "cannot make our AUTH: %s", why);
		return;
	}
	ike_build_chain(&b, buf, sizeof(buf));
	add_id_auth(d, sa, &b, IKEV2_PL_IDI, &a, sa->initial_contact);
	ike_wipe(data, sizeof(data));
	if (d->child && d->child->auth_request)
		child = d->child->auth_request(d, sa, &b);
	if (!child && !sa->peer_childless)
		ikelog(d, IKELOG_DETAIL, sa, "peer did not say it supports "
		       "childless IKE SAs (RFC 6023); trying anyway");
	if (ike_build_finish(&b, &n) != IKE_MSG_OK ||
	    ikesa_request(d, sa, IKEV2_EXCH_IKE_AUTH, b.first, buf, n, true))
		ikesa_fail(d, sa, ST_COUNT, "cannot build the IKE_AUTH request");
}

static void refused_us(struct daemon *d, struct ikesa *sa)
{
	if (sa->by_cert)
		ikesa_fail(d, sa, ST_AUTH_FAILURES, "authentication failed: "
			   "peer answered AUTHENTICATION_FAILED; does it "
			   "trust our certificate (%s) and our identity?",
			   host_cert(d) ? cert_host_subject(host_cert(d)) : "?");
	else
		ikesa_fail(d, sa, ST_AUTH_FAILURES, "authentication failed: "
			   "peer answered AUTHENTICATION_FAILED; is "
			   "pre-shared key '%s' the same on both sides?",
			   sa->psk_id);
}

void exch_auth_response(struct daemon *d, struct ikesa *sa,
			const struct ike_msg *msg)
{
	struct ike_auth auth;
	struct ike_notify n;
	const char *why, *matched;
	char reason[400], pid[300];

	if (sa->state != IKESA_AUTH_SENT)
		return;
	if (sealed_notify(msg, IKEV2_N_AUTHENTICATION_FAILED, &n)) {
		refused_us(d, sa);
		return;
	}
	if (!read_id_auth(msg, IKEV2_PL_IDR, &sa->peer_id, &auth, &why)) {
		if (sealed_error(msg, &n))
			ikesa_fail(d, sa, fail_stat_of_notify(n.type),
				   "peer answered %s", notify_name(n.type));
		else
			ikesa_fail(d, sa, ST_FAIL_INVALID_SYNTAX,
				   "IKE_AUTH response: %s", why);
		return;
	}
	if (verify_peer_auth(d, sa, msg, &auth, &matched, reason,
			     sizeof(reason))) {
		exch_info_notify_once(d, sa, IKEV2_N_AUTHENTICATION_FAILED);
		ikesa_fail(d, sa, ST_AUTH_FAILURES, "authentication failed: "
			   "peer %.200s: %s",
			   ident_str(&sa->peer_id, pid, sizeof(pid)), reason);
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

static void refuse(struct daemon *d, struct ikesa *sa,
		   const struct ike_msg *msg, uint16_t notify,
		   enum ike_stat why, const char *reason)
{
	exch_respond_notify(d, sa, &msg->hdr, notify, NULL, 0);
	ikesa_fail(d, sa, why, "%s", reason);
}

static bool same_ident(const struct ike_ident *a, const struct ike_ident *b)
{
	return a->type == b->type && a->len == b->len &&
	       !memcmp(a->data, b->data, a->len);
}

/* INITIAL_CONTACT: the peer has forgotten its other IKE SAs with us.  RFC
 * 7296 §2.4: it speaks for the pair of authenticated identities, not for
 * an address: the stale IKE SAs between the same two identities go
 * (from whichever address of the peer), those of another identity on
 * either side stay (another host behind the same address, or the same
 * peer talking to another identity of ours). */
static void forget_other(struct daemon *d, struct ikesa *other, void *arg)
{
	struct ikesa *sa = arg;

	if (other != sa && other->state == IKESA_ESTABLISHED &&
	    same_ident(&other->peer_id, &sa->peer_id) &&
	    same_ident(&other->local_id, &sa->local_id))
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
			const struct ike_msg *msg)
{
	uint8_t data[AUTH_DATA], buf[AUTH_BUF];
	struct ike_notify none = { .type = IKEV2_N_NO_PROPOSAL_CHOSEN };
	struct ike_builder b;
	struct ike_auth a;
	const char *why;
	size_t n = 0;

	ident_local(d, sa, &sa->local_id);
	if (our_auth(d, sa, &a, data, &why)) {
		ikesa_fail(d, sa, ST_COUNT, "cannot compute our AUTH: %s", why);
		return;
	}
	ike_build_chain(&b, buf, sizeof(buf));
	add_id_auth(d, sa, &b, IKEV2_PL_IDR, &a, false);
	ike_wipe(data, sizeof(data));
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
	struct ike_auth auth;
	struct ike_notify n;
	char reason[512], why_peer[300], pid[300];
	const char *why, *matched;

	if (!read_id_auth(msg, IKEV2_PL_IDI, &sa->peer_id, &auth, &why)) {
		refuse(d, sa, msg, IKEV2_N_INVALID_SYNTAX,
		       ST_FAIL_INVALID_SYNTAX, why);
		return;
	}
	ident_str(&sa->peer_id, pid, sizeof(pid));
	if (sig_auth_method(auth.method) && !host_cert(d)) {
		snprintf(reason, sizeof(reason), "authentication failed: peer "
			 "%.200s uses a certificate, and we have none to "
			 "answer with (%s)", pid, CERT_HOST_FILE);
		refuse(d, sa, msg, IKEV2_N_AUTHENTICATION_FAILED,
		       ST_AUTH_FAILURES, reason);
		return;
	}
	if (verify_peer_auth(d, sa, msg, &auth, &matched, why_peer,
			     sizeof(why_peer))) {
		snprintf(reason, sizeof(reason), "authentication failed: peer "
			 "%.100s: %s", pid, why_peer);
		refuse(d, sa, msg, IKEV2_N_AUTHENTICATION_FAILED,
		       ST_AUTH_FAILURES, reason);
		return;
	}
	/* we answer with the kind of method the peer used */
	sa->by_cert = matched == NULL;
	snprintf(sa->psk_id, sizeof(sa->psk_id), "%s", matched ? matched : "");
	sa->initial_contact = sealed_notify(msg, IKEV2_N_INITIAL_CONTACT, &n);
	auth_answer(d, sa, msg);
}

/* ---- the table for the SA table ---------------------------------------------- */

static void auth_request(struct daemon *d, struct ikesa *sa,
			 const struct ike_dgram *dg, const struct ike_msg *msg)
{
	exch_auth_request(d, sa, msg);
}

static void auth_response(struct daemon *d, struct ikesa *sa,
			  const struct ike_dgram *dg, const struct ike_msg *msg)
{
	exch_auth_response(d, sa, msg);
}

const struct exchange_ops exch_auth_ops = {
	.type = IKEV2_EXCH_IKE_AUTH,
	.request = auth_request,
	.response = auth_response,
};
