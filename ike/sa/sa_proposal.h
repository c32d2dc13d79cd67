/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sa_proposal.h - IKE SA proposals (sa_proposal.c): our offer from a
 * peer's settings, choosing from the peer's offer, checking the answer.
 */
#ifndef IXDP_IKE_SA_PROPOSAL_H
#define IXDP_IKE_SA_PROPOSAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/wire_crypto.h"
#include "wire/wire_message.h"
#include "sa/sa_peer.h"

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

#endif /* IXDP_IKE_SA_PROPOSAL_H */
