/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * wire_dh_reuse.h - the responder's Diffie-Hellman key pair of IKE_SA_INIT,
 * shared by the exchanges it answers close together, without losing
 * perfect forward secrecy (RFC 7296 §2.12).
 *
 * A key generation is the dearest step of answering an IKE_SA_INIT (with
 * X25519 about a third of a whole setup).  §2.12 lets an endpoint reuse its
 * D-H value for several setups, and names the way that keeps forward
 * secrecy: remember which value each IKE SA used, and forget the value as
 * soon as any of them closes.  Once an SA is gone, nothing that could
 * recompute its keys is left; while it is up, its keys are in memory
 * anyway.  So:
 *
 *   - dh_reuse_get() hands out the group's current key pair and its
 *     generation number, making a new pair when there is none or the
 *     current one is older than max_age_ms;
 *   - the IKE SA keeps the generation (not the key) and calls
 *     dh_reuse_forget() when it closes, for whatever reason (deleted,
 *     failed, half-open timeout, rekeyed): if that pair is still current,
 *     it is freed and cleared there and then, and the next IKE_SA_INIT
 *     gets a new one.
 *
 * An age bound (tun.dh_reuse_ms, DH_REUSE_MAX_AGE_MS) limits the sharing
 * in time as well (§2.12's other strategy): under load a pair serves many
 * setups, a quiet responder makes a fresh one for each.  0 turns sharing
 * off.  Only the responder's
 * IKE_SA_INIT shares; the initiator's and every CREATE_CHILD_SA key
 * exchange (PFS, rekeys) are fresh.  Peer values are checked as before
 * (crypto.c), so a reused value gains nothing from a bad one.
 */
#ifndef IXDP_IKE_DH_REUSE_H
#define IXDP_IKE_DH_REUSE_H

#include <stdint.h>

#include "wire/wire_crypto.h"

#define DH_REUSE_MAX_AGE_MS 1000
#define DH_REUSE_GROUPS 8	/* more than the D-H groups we support */

struct dh_reuse_slot {
	uint16_t group;			/* 0: empty */
	uint32_t gen;
	uint64_t born_ms;
	struct ike_dh *dh;
};

struct dh_reuse {
	uint32_t last_gen;
	struct dh_reuse_slot slot[DH_REUSE_GROUPS];
	uint64_t made, shared;		/* pairs generated / handed out again */
};

void dh_reuse_init(struct dh_reuse *r);
/* The key pair for an IKE_SA_INIT answer in group, borrowed: valid until
 * the next call or dh_reuse_forget()/dh_reuse_clear().  A pair made
 * max_age_ms or longer ago is replaced (0: every call makes a new one).
 * *gen names it for dh_reuse_forget(); never 0. */
enum ike_crypto_err dh_reuse_get(struct dh_reuse *r, uint16_t group,
				 uint64_t now_ms, uint64_t max_age_ms,
				 const struct ike_dh **dh, uint32_t *gen);
/* An IKE SA that used generation gen closed: forget that pair if it is
 * still current.  gen 0 (none) is fine. */
void dh_reuse_forget(struct dh_reuse *r, uint32_t gen);
/* Forget every pair (shutdown). */
void dh_reuse_clear(struct dh_reuse *r);

#endif
