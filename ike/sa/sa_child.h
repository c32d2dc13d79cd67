/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sa_child.h - CHILD SAs (RFC 7296 §1.2, §2.9, §2.17): the struct child_hooks
 * of daemon.h.  In IKE_AUTH the initiator offers ESP proposals made from
 * its rule's security methods and traffic selectors made from the rule's
 * filters; the responder picks the first acceptable proposal, narrows the
 * selectors to one of its own negotiate rules (else TS_UNACCEPTABLE), and
 * both derive the keys and install two xfrm SAs and their policies.
 *
 * The kernel is reached through struct child_kops (kernel/kernel_kops.h),
 * so that the unit tests record the calls instead of making them;
 * child_use() wires kernel_kops and feeds the kernel's ACQUIRE and EXPIRE
 * events to sa_exchange_create.c.
 */
#ifndef IXDP_IKE_CHILD_H
#define IXDP_IKE_CHILD_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "sa/sa_engine.h"
#include "kernel/kernel.h"
#include "kernel/kernel_kops.h"
#include "sa/sa_child_policy.h"

struct ike_builder;
struct ike_msg;

#define CHILD_POL_MAX 24		/* policies of one CHILD SA */

/*
 * One CHILD SA: a pair of xfrm SAs.  Its policies belong to its reqid:
 * a rekey keeps the reqid, so the kernel takes the newest SA of the reqid
 * for outbound traffic, and the policies pass from a removed CHILD SA to
 * another of the same reqid instead of being deleted.
 */
struct child_sa {
	uint32_t reqid;
	uint32_t spi_in, spi_out;	/* host order */
	uint8_t proto;			/* IPPROTO_ESP or IPPROTO_AH */
	uint8_t mode;
	uint32_t acquire_seq;		/* its outbound SA answers that ACQUIRE */
	struct ike_suite suite;		/* encr, encr_key_bits, integ; dh: PFS */
	size_t encr_key_len, integ_key_len;
	struct ikk_addr local, remote;	/* outer */
	struct ike_ts ts_l, ts_r;
	uint32_t lifetime_s, soft_s;	/* soft: the kernel's soft EXPIRE */
	uint64_t lifetime_kb;
	bool encap;
	time_t installed;
	uint64_t installed_ms;
	char rule[PEER_NAME_MAX];
	uint32_t if_id;			/* of its SAs and policies; 0 none */
	struct ikk_policy pol[CHILD_POL_MAX];
	size_t npol;
	/* Responder of a rekey: the outbound SA waits (keys in out_pending)
	 * until the initiator deletes the old pair, so that we never send
	 * on an SA the initiator has not installed yet. */
	struct ikk_sa *out_pending;
	bool dying;			/* our Delete is out; inbound kept */
	uint64_t seen_bytes;		/* in + out, at the last idle check */
	uint64_t active_ms;		/* when they last moved */
};

/* What the initiator of an exchange asks for (IKE_AUTH or CREATE_CHILD_SA);
 * our inbound SPI is reserved in the kernel (a larval SA). */
struct child_offer {
	uint8_t proto;			/* of every method in m (and spi_in) */
	uint32_t acquire_seq;		/* the kernel ACQUIRE it answers; 0 */
	uint32_t spi_in;
	struct ikk_addr local;		/* where the larval SA is */
	uint32_t reqid;
	struct ike_ts ts_l, ts_r;
	uint8_t mode;
	char rule[PEER_NAME_MAX];
	struct chp_method m[CHP_MAX_METHODS];
	size_t nm;
	uint16_t pfs_group;		/* the rule asks for PFS: its group; 0 no */
};

/* The responder's choice, before it is installed. */
struct child_choice {
	struct child_sa c;
	struct ike_sa ans;		/* our SA payload (SPI set at install) */
	bool pfs_required;		/* our rule asks for PFS */
};

/* The nonces (and PFS secret) the keys come from (§2.17). */
struct child_keymat {
	const uint8_t *ni, *nr;
	size_t ni_len, nr_len;
	const uint8_t *g_ir;		/* NULL: no PFS */
	size_t g_ir_len;
	bool initiator;			/* we initiated the exchange */
};

/* The daemon: open the xfrm netlink handle and set d->child.  -1 (and a
 * log line, the daemon stays childless) when netlink cannot be opened. */
int child_use(struct daemon *d);
/* The tests: the kernel calls through kops. */
int child_use_ops(struct daemon *d, const struct child_kops *kops,
		  void *kops_ctx);
/* Undo child_use (before daemon_fini; the IKE SAs must be closed). */
void child_release(struct daemon *d);

/* CHILD SAs of one IKE SA. */
size_t child_count(const struct ikesa *sa);

/* One CHILD SA as `show sa` (daemon_show.c) and the tests see it. */
struct child_info {
	uint32_t spi_in, spi_out, reqid;
	uint8_t proto;			/* IPPROTO_ESP or IPPROTO_AH */
	uint8_t mode;			/* enum ikk_mode */
	uint16_t encr, key_bits, integ;	/* IKEv2 ids */
	size_t encr_key_len, integ_key_len;
	uint32_t lifetime_s;
	uint64_t lifetime_kb;
	uint16_t pfs_group;		/* its keys' D-H group; 0 no PFS */
	char local_ts[128], remote_ts[128];
	char rule[PEER_NAME_MAX];
	char local[64], peer[64];	/* the SA's addresses */
	bool encap;			/* UDP encapsulation (NAT-T) */
	time_t installed;		/* wall clock */
	uint64_t installed_ms;		/* daemon_now_ms() */
};
int child_get(const struct ikesa *sa, size_t i, struct child_info *out);

/* ---- for CREATE_CHILD_SA (exchange_create.c) ------------------------------- */

/* Initiator: the CHILD SA to ask for, from rule (NULL: the IKE SA's rule,
 * or with sel the first rule with a filter holding that flow; rule and
 * sel: that rule's filter holding the flow), keeping reqid when nonzero
 * (a rekey).  0, or -1 (logged). */
int child_offer_make(struct daemon *d, struct ikesa *sa, const char *rule,
		     const struct ikk_selector *sel, uint32_t reqid,
		     struct child_offer *o);
/* The offer's SA (with a D-H transform when dh), TSi, TSr and
 * USE_TRANSPORT_MODE payloads. */
void child_offer_add(const struct child_offer *o, uint16_t dh,
		     struct ike_builder *b);
/* Give back the reserved SPI (the offer was refused or dropped). */
void child_offer_release(struct daemon *d, const struct child_offer *o);
/* The answer to an offer: checked and installed (the larval SA filled).
 * 0 and the new CHILD SA's inbound SPI; -1 and why (the larval SA given
 * back).  *dh gets the D-H group the answer chose (0 none). */
int child_offer_accept(struct daemon *d, struct ikesa *sa,
		       const struct child_offer *o, const struct ike_msg *resp,
		       uint16_t *dh, char *why, size_t whylen);
/* The keys from km, then install; the larval SA is released on failure. */
int child_offer_install(struct daemon *d, struct ikesa *sa,
			const struct child_offer *o, const struct ike_msg *resp,
			const struct child_keymat *km, uint32_t *spi_in);

/* Responder: choose from the request's SA/TSi/TSr, keeping like's rule,
 * mode and reqid when given (a rekey).  0, or the error notify to send. */
uint16_t child_choose(struct daemon *d, struct ikesa *sa,
		      const struct ike_msg *req, const struct child_sa *like,
		      struct child_choice *ch);
/* Reserve our SPI and install (defer_out: the outbound SA waits). */
int child_choice_install(struct daemon *d, struct ikesa *sa,
			 struct child_choice *ch,
			 const struct child_keymat *km, bool defer_out);
/* The answer's SA, TSi, TSr (and USE_TRANSPORT_MODE). */
void child_choice_add(const struct child_choice *ch, struct ike_builder *b);

/* A CHILD SA of sa by our inbound or the peer's (outbound) SPI. */
struct child_sa *child_find(struct ikesa *sa, uint32_t spi_in,
			    uint32_t spi_out);
/* Find the IKE SA holding the CHILD SA with this SPI (either way). */
struct ikesa *child_owner(struct daemon *d, uint32_t spi, bool *inbound);
/* Remove a CHILD SA now (both SAs; policies pass to its successor). */
void child_remove(struct daemon *d, struct ikesa *sa, uint32_t spi_in,
		  const char *why);
/* Our Delete goes out: remove the outbound SA now, keep the inbound one
 * until the peer answers (child_remove then). */
void child_start_dying(struct daemon *d, struct ikesa *sa, uint32_t spi_in);
/* Install the waiting outbound SA of a rekey's responder. */
void child_release_out(struct daemon *d, struct ikesa *sa, uint32_t spi_in);
/* IKE SA rekey: every CHILD SA of from now belongs to to. */
void child_move(struct ikesa *from, struct ikesa *to);
/* Counters of a CHILD SA's two SAs, in + out bytes; -1 on failure. */
int child_bytes(struct daemon *d, const struct child_sa *c, uint64_t *bytes);
/* The i-th CHILD SA of sa (NULL past the end). */
struct child_sa *child_at(struct ikesa *sa, size_t i);
/* The daemon's kernel handle (NULL in the tests). */
struct ikk *child_kernel(struct daemon *d);

#endif /* IXDP_IKE_CHILD_H */
