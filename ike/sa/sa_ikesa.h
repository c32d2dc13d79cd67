/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ikesa.h - IKE SAs: the table (by our SPI, by the initiator's SPI, by
 * peer address), their states, the message ID windows, retransmission,
 * and the dispatch of every received message to its exchange.
 *
 * Life of an IKE SA:
 *
 *   initiator  INIT_SENT -> AUTH_SENT -> ESTABLISHED -> DELETING -> CLOSED
 *   responder  (IKE_SA_INIT answered) AUTH_WAIT -> ESTABLISHED -> ...
 *
 * Any failure goes to CLOSED.  A CLOSED SA is freed by its timer, armed
 * for 0 ms, once the callback that closed it has returned: nothing else
 * ever frees an SA, so an exchange handler may close the SA it works on
 * and keep using the pointer.  What it must still answer (its last
 * response, for the peer's retransmission) stays tun.linger_ms in a small
 * tomb (ikesa.c).
 *
 * Message IDs (RFC 7296 §2.3) with a window of 1 each way: we have at most
 * one request outstanding (req), and answer the peer's request peer_next;
 * the peer's retransmission of peer_next - 1 gets the cached response.
 */
#ifndef IXDP_IKE_IKESA_H
#define IXDP_IKE_IKESA_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "sa/sa_engine.h"

enum ikesa_state {
	IKESA_INIT_SENT,	/* initiator: IKE_SA_INIT request out */
	IKESA_AUTH_WAIT,	/* responder: IKE_SA_INIT answered */
	IKESA_AUTH_SENT,	/* initiator: IKE_AUTH request out */
	IKESA_ESTABLISHED,
	IKESA_DELETING,		/* our Delete is out */
	IKESA_CLOSED,		/* over; lingers to answer retransmissions */
};

const char *ikesa_state_name(enum ikesa_state s);

/* What our outstanding INFORMATIONAL request was for. */
enum ikesa_request_kind {
	REQ_EXCHANGE = 0,	/* IKE_SA_INIT, IKE_AUTH */
	REQ_DELETE,
	REQ_LIVENESS,
	REQ_NOTIFY,		/* an error notify, sent once */
	REQ_CHILD_DELETE,	/* ESP Delete of CHILD SAs (exchange_create.c) */
};

/* An identity (IDi, IDr) we keep: type and up to 255 bytes. */
struct ike_ident {
	uint8_t type;		/* enum ikev2_id_type */
	uint8_t data[LOCAL_ID_MAX];
	size_t len;
};

/* "10.0.0.1", "fqdn:host.example", "keyid:..." (printable or hex) */
const char *ident_str(const struct ike_ident *id, char *buf, size_t len);

struct ike_blob {
	uint8_t *p;
	size_t len;
	bool train;	/* the fragments of one message (RFC 7383), each
			 * as a 2-byte length and its bytes */
};

struct ike_reasm;	/* a fragmented message coming in (ikesa.c) */

struct ikesa {
	uint64_t serial;		/* names the negotiation in logs */
	uint64_t ispi, rspi;
	bool initiator;			/* we are the original initiator */
	enum ikesa_state state;
	struct ike_path path;		/* where our messages go */
	struct ike_path reply_path;	/* where the request in hand came from */
	bool natt;			/* moved to the NAT-T port */
	bool nat_local, nat_peer;	/* NAT detected before us / the peer */
	struct peer_conf conf;		/* from the policy, at the start */
	char psk_id[PEER_NAME_MAX];	/* the key that authenticated */
	bool by_cert;			/* authenticated by certificate (cert.h) */
	unsigned peer_hashes;		/* its SIGNATURE_HASH_ALGORITHMS (signature.h) */
	struct ike_ident local_id, peer_id;
	bool peer_childless;		/* peer sent CHILDLESS_IKEV2_SUPPORTED */
	bool peer_frag;			/* both sent IKEV2_FRAGMENTATION_SUPPORTED */
	struct ike_reasm *reasm[2];	/* fragments of a request, a response */
	bool initial_contact;		/* sent (initiator) / received */

	/* IKE_SA_INIT */
	struct ike_dh *dh;		/* ours as initiator */
	uint32_t dh_gen;		/* responder: the shared pair used (dh_reuse.h) */
	uint8_t ni[IKEV2_NONCE_MAX], nr[IKEV2_NONCE_MAX];
	size_t ni_len, nr_len;
	struct ike_blob init_i, init_r;	/* both IKE_SA_INIT messages */
	uint8_t cookie[IKEV2_COOKIE_MAX];
	size_t cookie_len;
	unsigned init_restarts;		/* COOKIE and INVALID_KE_PAYLOAD */
	struct ike_sa_keys keys;
	bool have_keys;

	/* message IDs */
	uint32_t req_next;		/* ID of our next request */
	bool req_out;			/* a request waits for its response */
	uint32_t req_msgid;
	uint8_t req_exchange;
	bool req_retransmit;		/* false: sent once, no timer */
	enum ikesa_request_kind req_kind;
	struct ike_blob req;		/* as sent, for retransmission */
	unsigned req_tries;
	uint32_t peer_next;		/* ID of the peer's next request */
	bool have_resp;
	uint32_t resp_msgid;
	struct ike_blob resp;		/* our last response, as sent */

	/* requests to send once the window is free */
	bool want_delete, want_liveness;

	uint64_t created_ms, established_ms, last_rx_ms;
	struct ike_timer t_retx;	/* retransmission of req */
	struct ike_timer t_life;	/* half-open timeout, lifetime, linger */
	struct ike_timer t_live;	/* liveness check */
	char close_reason[256];
	void *child;			/* state of the CHILD SA extension */
	void *create;			/* CREATE_CHILD_SA (exchange_create.c) */
	uint32_t children_keyed;	/* CHILD SAs keyed from its SK_d
					 * (conf.qmpermm) */
	uint32_t acquire_seq;		/* started by that kernel ACQUIRE: its
					 * IKE_AUTH CHILD SA answers it */
	uint64_t rekeyed_from;		/* serial of the IKE SA this one rekeyed */
	/* IKE_AUTH: the CHILD SA the rule wants (initiator) or the peer asked
	 * for (responder) was not made: the IKE SA comes up childless, the
	 * negotiation counts as failed (ikesa_child_failed, child.c). */
	bool child_failed;
	bool stopped;			/* by the administrator or shutdown:
					 * a failure that steps no backoff */
	enum ike_stat child_fail_stat;	/* its ST_FAIL_* counter */
	char child_fail_why[400];

	LIST_ENTRY(ikesa) by_local, by_ispi, by_peer;
	bool peer_listed;		/* on by_peer (not once CLOSED) */
	TAILQ_ENTRY(ikesa) all;
};

/* ---- the table ----------------------------------------------------------- */

struct ikesa_table *ikesa_table_new(void);
/* Frees every SA (no messages) and the table. */
void ikesa_table_free(struct daemon *d);

/* A new SA with a fresh local SPI (the initiator's: ispi; a responder's:
 * rspi, ispi given), in the table. */
struct ikesa *ikesa_new(struct daemon *d, bool initiator, uint64_t ispi,
			const struct ike_path *path,
			const struct peer_conf *conf);

/* The SA a message belongs to (SPIs and flags of hdr), or NULL. */
struct ikesa *ikesa_find(struct daemon *d, const struct ike_header *hdr);
/* A responder SA made by an IKE_SA_INIT request with this SPIi. */
struct ikesa *ikesa_find_init(struct daemon *d, uint64_t ispi,
			      const struct sockaddr_storage *peer);
/* By our or the peer's SPI, not CLOSED. */
struct ikesa *ikesa_find_spi(struct daemon *d, uint64_t spi);
struct ikesa *ikesa_find_serial(struct daemon *d, uint64_t serial);
/* The first not-CLOSED SA with that peer address; established ones first. */
struct ikesa *ikesa_find_peer(struct daemon *d,
			      const struct sockaddr_storage *peer);

/* Negotiations in progress as responder from peer's address (and port,
 * when with_port), and whether an IKE SA with that address is up. */
size_t ikesa_half_open(struct daemon *d, const struct sockaddr_storage *peer,
		       bool with_port);
size_t ikesa_half_open_all(struct daemon *d);
bool ikesa_peer_established(struct daemon *d,
			    const struct sockaddr_storage *peer);

void ikesa_count(struct daemon *d, size_t *established, size_t *negotiating);
typedef void (*ikesa_visit)(struct daemon *d, struct ikesa *sa, void *arg);
/* Every SA that is not CLOSED; visit may close it. */
void ikesa_foreach(struct daemon *d, ikesa_visit visit, void *arg);

/* ---- life ------------------------------------------------------------------ */

/* A fresh local IKE SPI no SA of ours uses. */
uint64_t ikesa_fresh_spi(struct daemon *d);
/* The IKE SA that replaces old (§1.3.2), established, with these SPIs;
 * initiator: we initiated the rekey.  The caller sets its keys. */
struct ikesa *ikesa_new_rekeyed(struct daemon *d, struct ikesa *old,
				bool initiator, uint64_t ispi, uint64_t rspi);
/* When an established IKE SA should be rekeyed: its lifetime less up to
 * a tenth, at random, so that both peers rarely start together. */
uint64_t ikesa_rekey_ms(const struct ikesa *sa);

void ikesa_set_state(struct daemon *d, struct ikesa *sa,
		     enum ikesa_state s);
/* Authentication done on both sides. */
void ikesa_established(struct daemon *d, struct ikesa *sa);
/* A negotiation failed: counted (ST_NEG_FAILED, `why` and one ST_FAIL_*
 * reason: `why` itself, or the one ST_AUTH_FAILURES, ST_NO_PROPOSAL_CHOSEN
 * or ST_PEER_TIMEOUTS stand for, else ST_FAIL_OTHER; ST_COUNT: other),
 * logged, the SA closed.  Ours (initiator): the peer's backoff grows and
 * the reserved CHILD SA SPI is given back at once. */
void ikesa_fail(struct daemon *d, struct ikesa *sa, enum ike_stat why,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* IKE_AUTH made no CHILD SA though one was wanted: why (a ST_FAIL_*
 * counter) and the reason, for ikesa_established to count and report. */
void ikesa_child_failed(struct ikesa *sa, enum ike_stat why,
			const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The ST_FAIL_* counter of a peer's error notify. */
enum ike_stat fail_stat_of_notify(uint16_t type);
/* An established SA ends (Delete, dead peer, lifetime, shutdown). */
void ikesa_close(struct daemon *d, struct ikesa *sa, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
bool ikesa_half_open_state(const struct ikesa *sa);

/* ---- messages ----------------------------------------------------------- */

/* Our next request: the header to use (SPIs, flags, msgid). */
void ikesa_header(const struct ikesa *sa, uint8_t exchange, bool response,
		  uint32_t msgid, struct ike_header *hdr);
/* Send an IKE_SA_INIT request (message ID 0) and retransmit it. */
int ikesa_send_init_request(struct daemon *d, struct ikesa *sa,
			    const uint8_t *msg, size_t len);
/* Send an encrypted request: the payload chain plain (first payload
 * first), with the next message ID.  retransmit false: sent once. */
int ikesa_request(struct daemon *d, struct ikesa *sa, uint8_t exchange,
		  uint8_t first, const uint8_t *plain, size_t len,
		  bool retransmit);
/* Answer the request in hand (hdr), encrypted, and keep the answer for
 * retransmissions. */
int ikesa_respond(struct daemon *d, struct ikesa *sa,
		  const struct ike_header *req, uint8_t first,
		  const uint8_t *plain, size_t len);
/* Answer an IKE_SA_INIT request with an unencrypted message, kept. */
int ikesa_respond_init(struct daemon *d, struct ikesa *sa,
		       const uint8_t *msg, size_t len);
/* Send a ready message on sa's path (counted). */
int ikesa_send(struct daemon *d, const struct ike_path *path,
	       const uint8_t *msg, size_t len);
/* Keep a copy of a message. */
int blob_set(struct ike_blob *b, const uint8_t *p, size_t len);
void blob_free(struct ike_blob *b);

/* Payloads of a decrypted message that came out of its Encrypted payload
 * (the only ones to believe), and its notifies of a type. */
const struct ike_payload *sealed_find(const struct ike_msg *msg, uint8_t type,
				      const struct ike_payload *after);
bool sealed_notify(const struct ike_msg *msg, uint16_t type,
		   struct ike_notify *out);
/* The first error notify (type below 16384) among them: its type, or 0. */
uint16_t sealed_error(const struct ike_msg *msg, struct ike_notify *out);

/* Ask for a Delete or a liveness check as soon as the window is free. */
void ikesa_want(struct daemon *d, struct ikesa *sa, bool del, bool live);

/* The retransmission timer's work (the tests call it). */
void ikesa_retransmit(struct daemon *d, void *arg);

/* Allowed exchange handlers (exchange_*.c), called by the dispatch with
 * the message decrypted (except IKE_SA_INIT). */
void exch_init_request(struct daemon *d, const struct ike_dgram *dg,
		       const struct ike_msg *msg);
void exch_init_response(struct daemon *d, struct ikesa *sa,
			const struct ike_dgram *dg, const struct ike_msg *msg);
void exch_auth_start(struct daemon *d, struct ikesa *sa);
void exch_auth_request(struct daemon *d, struct ikesa *sa,
		       const struct ike_msg *msg);
void exch_auth_response(struct daemon *d, struct ikesa *sa,
			const struct ike_msg *msg);
void exch_info_request(struct daemon *d, struct ikesa *sa,
		       const struct ike_msg *msg);
void exch_info_response(struct daemon *d, struct ikesa *sa,
			const struct ike_msg *msg);
void exch_info_child_request(struct daemon *d, struct ikesa *sa,
			     const struct ike_msg *msg);
/* Send the next wanted request (Delete, liveness check), if any. */
void exch_info_send_wanted(struct daemon *d, struct ikesa *sa);
/* An unprotected INVALID_IKE_SPI answer to a request for no SA. */
void exch_info_invalid_spi(struct daemon *d, const struct ike_dgram *dg,
			   const struct ike_header *hdr);
/* A request the codec refused with err: INVALID_MAJOR_VERSION or
 * UNSUPPORTED_CRITICAL_PAYLOAD where RFC 7296 §2.5 asks for one. */
void exch_info_unreadable(struct daemon *d, const struct ike_dgram *dg,
			  const struct ike_msg *msg, enum ike_msg_err err);
/* One INFORMATIONAL with this error notify, not retransmitted. */
void exch_info_notify_once(struct daemon *d, struct ikesa *sa,
			   uint16_t notify);
/* An encrypted answer holding one error notify. */
void exch_respond_notify(struct daemon *d, struct ikesa *sa,
			 const struct ike_header *req, uint16_t notify,
			 const uint8_t *data, size_t len);

/* exchange_create.c: CREATE_CHILD_SA (RFC 7296 §1.3, §2.8) and what
 * drives it: the kernel's ACQUIRE and EXPIRE, lifetimes, idle CHILD SAs. */
struct ikk_selector;
struct ikk_event;
void exch_create_request(struct daemon *d, struct ikesa *sa,
			 const struct ike_msg *msg);
void exch_create_response(struct daemon *d, struct ikesa *sa,
			  const struct ike_msg *msg);
/* The answer to our ESP Delete (REQ_CHILD_DELETE). */
void exch_create_delete_answered(struct daemon *d, struct ikesa *sa);
/* Send the next wanted CREATE_CHILD_SA or ESP Delete, if any. */
void exch_create_send_wanted(struct daemon *d, struct ikesa *sa);
/* The IKE SA's lifetime is up: rekey it. */
void exch_create_rekey_ike(struct daemon *d, struct ikesa *sa);
/* Rekey / delete one CHILD SA (our inbound SPI), as soon as possible. */
void exch_create_rekey_child(struct daemon *d, struct ikesa *sa,
			     uint32_t spi_in);
void exch_create_delete_child(struct daemon *d, struct ikesa *sa,
			      uint32_t spi_in, const char *why);
/* A CHILD SA on this established IKE SA for rule (NULL: the IKE SA's
 * rule, or with sel the first rule whose filter holds that flow; with
 * both, that rule's filter holding the flow). */
void exch_create_new_child(struct daemon *d, struct ikesa *sa,
			   const struct ikk_selector *sel, const char *rule);
/* The rule of the CHILD SA our CREATE_CHILD_SA request in flight makes
 * (new or rekeyed), or NULL. */
const char *exch_create_rule_in_flight(const struct ikesa *sa);
/* A new policy has that rule no more, or changed (why): the CHILD SA is
 * deleted as soon as the answer makes it. */
void exch_create_rule_gone(struct ikesa *sa, const char *why);
/* The IKE SA closes or is freed: its CREATE_CHILD_SA state goes. */
void exch_create_sa_gone(struct daemon *d, struct ikesa *sa);
/* The daemon-wide part (idle check), from child_use_ops/child_release. */
int exch_create_use(struct daemon *d);
void exch_create_release(struct daemon *d);
/* An xfrm event (kernel.h): ACQUIRE negotiates, EXPIRE rekeys/deletes. */
void exch_create_kernel_event(struct daemon *d, const struct ikk_event *ev);
/* The idle check's work (the tests call it). */
void exch_create_idle_check(struct daemon *d, void *arg);

/* exchange_init.c: start a negotiation with peer (the `initiate`
 * command, later the kernel's ACQUIRE).  *serial names it. */
int exch_init_start(struct daemon *d, const struct sockaddr_storage *peer,
		    uint64_t *serial, char *err, size_t errlen);
/* Rotate the cookie secret when due (called on each IKE_SA_INIT). */
void cookie_secret_refresh(struct daemon *d);

/* proposal.c */
void proposal_offer(const struct peer_conf *pc, struct ike_sa *out);
/* Choose from the peer's offer; prefer a suite whose group is ke_group.
 * 0 and *out, *num; -1 when nothing is acceptable. */
int proposal_select(const struct peer_conf *pc, const struct ike_sa *offer,
		    uint16_t ke_group, struct ike_suite *out, uint8_t *num);
void proposal_answer(const struct ike_suite *s, uint8_t num,
		     struct ike_sa *out);
/* The responder's choice must be one suite we offered. */
int proposal_check_answer(const struct peer_conf *pc,
			  const struct ike_sa *answer, struct ike_suite *out);
/* "ENCR_AES_GCM_16/256 PRF_HMAC_SHA2_256 DH_CURVE25519" */
const char *suite_str(const struct ike_suite *s, char *buf, size_t len);
/* The transforms a peer offered, for the log of a refusal. */
const char *offer_str(const struct ike_sa *offer, char *buf, size_t len);
bool proposal_has_group(const struct peer_conf *pc, uint16_t group);

/* Our identity on sa's path (FQDN when configured, else the address). */
void ident_local(const struct daemon *d, const struct ikesa *sa,
		 struct ike_ident *out);
void ident_view(const struct ike_ident *in, struct ike_id *out);
int ident_from(const struct ike_id *in, struct ike_ident *out);
/* exchange_auth.c: how we authenticate to a peer: the first method of
 * pc we can use (a pre-shared key the secrets file holds: psk_id; our
 * certificate: *by_cert).  -1 and err when there is none. */
int exch_auth_pick(struct daemon *d, const struct peer_conf *pc,
		   char *psk_id, size_t psk_len, bool *by_cert, char *err,
		   size_t errlen);
/* A CERTREQ naming the roots of pc's certificate methods (when it has
 * any) and our SIGNATURE_HASH_ALGORITHMS, for IKE_SA_INIT. */
void exch_auth_init_payloads(struct daemon *d, const struct peer_conf *pc,
			     bool certreq, struct ike_builder *b);

#endif /* IXDP_IKE_IKESA_H */
