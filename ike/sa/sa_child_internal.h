/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sa_child_internal.h - what the CHILD SA files share (sa_child.c,
 * sa_child_ts.c, sa_child_kernel.c) and no other: the per-IKE-SA and
 * daemon-wide state, the helpers they call across.
 */
#ifndef IXDP_IKE_SA_CHILD_INTERNAL_H
#define IXDP_IKE_SA_CHILD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sa/sa_child.h"
#include "wire/wire_ikev2.h"

#define CHILD_MAX      16		/* per IKE SA (a rekey doubles one) */
#define PEND_MAX       64		/* initiators waiting for IKE_AUTH */
#define REPLAY_WINDOW  32
#define POL_PRIO_BASE  10000		/* minus the selectors' specificity */
#define POL_PRIO_IKE   50		/* IKE bypass: before everything */

struct child_state {			/* sa->child */
	struct child_sa c[CHILD_MAX];
	size_t n;
};

struct pending {			/* initiator, IKE_AUTH outstanding */
	uint64_t serial;
	struct child_offer o;
};

struct child_ctx {
	struct child_hooks hooks;	/* first: d->child points here */
	const struct child_kops *kops;
	void *kops_ctx;
	struct ikk *k;			/* child_use() */
	void *watch;			/* its event socket on the loop */
	uint32_t next_reqid;
	bool bypass_done;
	uint64_t added, deleted, failed;	/* CHILD SAs */
	char why[400];			/* why establish() or an SPI failed */
	enum ike_stat why_stat;		/* its ST_FAIL_* counter */
	struct pending pend[PEND_MAX];
};

struct child_ctx *ctx_of(struct daemon *d);

int establish(struct daemon *d, struct ikesa *sa, struct child_sa *c,
	      const struct child_keymat *km, bool later_out);

size_t fam_len(uint8_t family);

bool filter_sides(const struct chp_filter *f, bool swap, bool tunnel,
		  uint8_t family, const uint8_t *me,
		  const uint8_t *peer, struct ike_ts *l,
		  struct ike_ts *r);

uint32_t get_spi(const struct ike_proposal *p);

uint8_t ike_proto_of(uint8_t proto);

void ikk_addr_of(const struct sockaddr_storage *ss, struct ikk_addr *a);

const char *kerr(struct child_ctx *c);

void method_proposal(uint8_t num, const struct chp_method *m,
		     uint32_t spi, uint16_t dh, struct ike_proposal *p);

uint8_t method_proto(const struct chp_method *m);

struct ike_suite method_suite(const struct chp_method *m, uint16_t dh);

bool method_usable(const struct chp_method *m);

void out_pending_free(struct child_sa *c);

int proposal_dh(const struct ike_proposal *p, uint16_t want);

bool proposal_has(const struct ike_proposal *p,
		  const struct chp_method *m);

void put_spi(struct ike_proposal *p, uint32_t spi);

void state_drop_if_empty(struct ikesa *sa);

struct child_state *state_of(struct ikesa *sa, bool create);

uint8_t ts_family(const struct ike_ts *t);

bool ts_intersect(const struct ike_ts *a, const struct ike_ts *b,
		  struct ike_ts *out);

bool ts_prefix(const struct ike_ts *t, struct ikk_addr *a,
	       uint8_t *plen);

const char *ts_str(const struct ike_ts *t, char *buf, size_t len);

void uninstall(struct daemon *d, struct ikesa *sa, struct child_sa *c);

#endif /* IXDP_IKE_SA_CHILD_INTERNAL_H */
