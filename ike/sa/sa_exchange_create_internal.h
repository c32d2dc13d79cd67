/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sa_exchange_create_internal.h - what the CREATE_CHILD_SA files share
 * (sa_exchange_create.c, _ike.c, _answer.c, _kernel.c) and no other.
 */
#ifndef IXDP_IKE_SA_EXCHANGE_CREATE_INTERNAL_H
#define IXDP_IKE_SA_EXCHANGE_CREATE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sa/sa_child.h"
#include "sa/sa_exchange.h"
#include "kernel/kernel.h"

#define CC_WANT_MAX   16
#define CC_NONCE_LEN  32
#define CC_KE_TRIES   2		/* INVALID_KE_PAYLOAD rounds */
#define CC_RETRY_CHILD_MS 500	/* after TEMPORARY_FAILURE: 1-2x this */
#define CC_RETRY_IKE_MS   3000
#define CC_BUF        4096
#define CC_OLD_IKE_MS 30000	/* a rekeyed IKE SA the peer did not delete */
#define CC_FRESH_TRIES 3	/* qmpermm: IKE SA rekeys tried in a row */

enum cc_kind { CC_NONE = 0, CC_NEW, CC_REKEY_CHILD, CC_REKEY_IKE, CC_DELETE };

struct cc_want {
	uint8_t kind;
	uint32_t spi;			/* our inbound SPI (rekey, delete) */
	bool has_sel;			/* NEW from an ACQUIRE: its flow */
	struct ikk_selector sel;
	char rule[PEER_NAME_MAX];	/* NEW: the rule asked for; "" any */
	uint32_t acquire_seq;		/* NEW from an ACQUIRE: its seq */
	uint64_t not_before_ms;		/* refused (TEMPORARY_FAILURE): wait */
};

/* The lower nonce of an exchange: what §2.8.1 compares. */
struct cc_nonce {
	uint8_t b[IKEV2_NONCE_MAX];
	size_t len;
};

struct cc_out {				/* our CREATE_CHILD_SA request */
	uint8_t kind;
	struct cc_want w;		/* what it was for (to ask again) */
	uint32_t old_spi;		/* REKEY_CHILD: the SA rekeyed */
	uint8_t old_proto;		/* and its IPPROTO_ESP or _AH */
	struct child_offer offer;	/* NEW, REKEY_CHILD */
	uint64_t new_spi;		/* REKEY_IKE: our SPI of the new SA */
	uint8_t ni[CC_NONCE_LEN];
	struct ike_dh *dh;
	uint16_t group;			/* of dh; 0 none */
	unsigned ke_tries;
	/* a collision: the peer rekeyed the same SA meanwhile */
	bool peer_done;
	struct cc_nonce peer;
	uint32_t peer_child;		/* our inbound SPI of its CHILD SA */
	uint64_t peer_ike;		/* serial of its IKE SA */
	char rule_gone[96];		/* NEW, REKEY_CHILD: the policy changed
					 * meanwhile (why); delete it once made */
};

struct cc_sa {				/* sa->create */
	struct cc_want want[CC_WANT_MAX];
	size_t nwant;
	bool busy;			/* out is outstanding */
	struct cc_out out;
	uint32_t del[CC_WANT_MAX];	/* in our ESP Delete request */
	size_t ndel;
	bool rekeyed;			/* a new IKE SA replaces this one */
	unsigned fresh_tries;		/* qmpermm: IKE SA rekeys started */
	struct ike_timer t_retry;	/* the first want that waits */
};

struct cc_daemon {			/* d->create */
	struct ike_timer t_idle;
};

/* ---- state ------------------------------------------------------------------ */

/* enum cc_kind's names, for the log */
extern const char *const kind_names[];

void arm_retry(struct daemon *d, struct cc_sa *cc, bool due_too);

void put_be64(uint8_t *p, uint64_t v);

bool busy_with_child(const struct ikesa *sa, const struct cc_sa *cc);

struct cc_sa *cc_of(struct daemon *d, struct ikesa *sa);

void child_request(struct daemon *d, struct ikesa *sa,
		   struct cc_sa *cc, const struct ike_msg *req,
		   const struct ike_nonce *ni);

struct ikesa *current(struct daemon *d, struct ikesa *sa);

void lower_nonce(const uint8_t *a, size_t al, const uint8_t *b,
		 size_t bl, struct cc_nonce *out);

int nonce_cmp(const struct cc_nonce *a, const struct cc_nonce *b);

void note_collision(struct cc_sa *cc, const struct ike_nonce *ni,
		    const uint8_t *nr, uint32_t child, uint64_t ike);

void out_clear(struct daemon *d, struct cc_sa *cc, bool keep_offer);

uint16_t peer_ke(const struct ike_msg *msg, uint16_t group,
		 struct ike_dh **dh, uint8_t *out, size_t *len);

void refuse(struct daemon *d, struct ikesa *sa,
	    const struct ike_msg *req, uint16_t type, uint16_t group,
	    const char *why);

int rekey_keys(const struct ikesa *old, const struct ike_suite *suite,
	       const uint8_t *g_ir, size_t glen,
	       const uint8_t *ni, size_t ni_len,
	       const uint8_t *nr, size_t nr_len,
	       uint64_t spi_i, uint64_t spi_r, struct ike_sa_keys *k);

int send_request(struct daemon *d, struct ikesa *sa, struct cc_sa *cc);

struct ikesa *take_over(struct daemon *d, struct ikesa *old,
			bool initiator, uint64_t spi_i, uint64_t spi_r,
			struct ike_sa_keys *keys,
			const uint8_t *ni, size_t ni_len,
			const uint8_t *nr, size_t nr_len);

void want_add(struct daemon *d, struct ikesa *sa,
	      const struct cc_want *w, bool front);

void want_new_child(struct daemon *d, struct ikesa *sa,
		    const struct ikk_selector *sel, const char *rule,
		    uint32_t acquire_seq);

void wants_move(struct daemon *d, struct ikesa *from, struct ikesa *to);

uint64_t be64(const uint8_t *p);

#endif /* IXDP_IKE_SA_EXCHANGE_CREATE_INTERNAL_H */
