/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sa_ikesa.h - IKE SAs: the table (by our SPI, by the initiator's SPI, by
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

/*
 * The exchanges as the SA table sees them: one table per exchange type,
 * defined by its file (sa_exchange_init.c: exch_init_ops, ..._auth_,
 * ..._create_, ..._info_) and registered by the daemon (daemon_init).
 * ikesa.c reaches the exchanges only through these; a type not registered
 * is dropped as an unexpected exchange.  Any hook may be NULL.
 */
struct exchange_ops {
	uint8_t type;			/* IKEV2_EXCH_IKE_SA_INIT..INFORMATIONAL */
	/* A request, decrypted (IKE_SA_INIT: plain, and sa NULL when it
	 * starts a new IKE SA). */
	void (*request)(struct daemon *d, struct ikesa *sa,
			const struct ike_dgram *dg, const struct ike_msg *msg);
	/* The response to our request, decrypted (IKE_SA_INIT: plain). */
	void (*response)(struct daemon *d, struct ikesa *sa,
			 const struct ike_dgram *dg, const struct ike_msg *msg);
	/* The IKE SA closes or is freed: the exchange's state for it goes
	 * (every registered exchange is told). */
	void (*sa_gone)(struct daemon *d, struct ikesa *sa);
	/* The IKE SA's lifetime is up: rekey it. */
	void (*rekey_ike)(struct daemon *d, struct ikesa *sa);
	/* The window is free: send the next wanted request, if any. */
	void (*send_wanted)(struct daemon *d, struct ikesa *sa);
	/* An encrypted answer holding one error notify. */
	void (*respond_notify)(struct daemon *d, struct ikesa *sa,
			       const struct ike_header *req, uint16_t notify,
			       const uint8_t *data, size_t len);
	/* An unprotected INVALID_IKE_SPI answer to a request for no SA. */
	void (*invalid_spi)(struct daemon *d, const struct ike_dgram *dg,
			    const struct ike_header *hdr);
	/* A request the codec refused with err. */
	void (*unreadable)(struct daemon *d, const struct ike_dgram *dg,
			   const struct ike_msg *msg, enum ike_msg_err err);
};

/* Register one exchange type's table; -1 for a type outside
 * IKE_SA_INIT..INFORMATIONAL. */
int ikesa_register_exchange(struct daemon *d, const struct exchange_ops *ops);

#endif /* IXDP_IKE_IKESA_H */
