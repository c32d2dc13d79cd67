/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sa_exchange.h - the exchanges' entry points (sa_exchange_*.c): their
 * tables for the SA table (struct exchange_ops, sa_ikesa.h), and what the
 * exchanges, the CHILD SA code and the daemon layer call: starting a
 * negotiation, new and rekeyed CHILD SAs, Deletes, the kernel's events.
 */
#ifndef IXDP_IKE_SA_EXCHANGE_H
#define IXDP_IKE_SA_EXCHANGE_H

#include "sa/sa_ikesa.h"
#include "sa/sa_proposal.h"

extern const struct exchange_ops exch_init_ops, exch_auth_ops,
	exch_create_ops, exch_info_ops;

/* The handlers behind the exchange tables, with the message decrypted
 * (except IKE_SA_INIT). */
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

#endif /* IXDP_IKE_SA_EXCHANGE_H */
