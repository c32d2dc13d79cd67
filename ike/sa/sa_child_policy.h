/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sa_child_policy.h - what the CHILD SA code (child.c) needs from the
 * assigned policy: each active negotiate rule's filters, security methods
 * and tunnel endpoint, as plain numbers (IKEv2 transform ids, address
 * ranges).  Like peer.h it includes neither lib/policy/policy.h nor message.h.
 */
#ifndef IXDP_IKE_CHILD_POLICY_H
#define IXDP_IKE_CHILD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sa/sa_peer.h"

/* Security methods of one rule: one proposal each in an SA payload, which
 * holds IKE_MAX_PROPOSALS; `policy check` refuses more (POLICY_MAX_METHODS,
 * lib/compile/compile_limits.h).  Rules and filters have no limit: they are
 * allocated as the policy needs. */
#define CHP_MAX_METHODS 16
/* Tunnel rules that get an xfrm if_id (dplink.c), POLICY_MAX_TUNNEL_RULES. */
#define CHP_MAX_TUNNEL_RULES 64

enum chp_method_kind { CHP_ESP = 0, CHP_AH, CHP_AH_ESP };

struct chp_method {
	uint8_t kind;			/* enum chp_method_kind */
	uint16_t encr, key_bits;	/* IKEv2 ids; 0 for AH */
	uint16_t integ;			/* ESP integrity (0 with an AEAD) */
	uint16_t ah;			/* AH integrity */
	uint32_t lifetime_s;
	uint64_t lifetime_kb;
};

enum chp_addr_kind {
	CHP_ADDR_ANY = 0,	/* either family, everything */
	CHP_ADDR_RANGE,		/* lo..hi (a prefix is given as its range) */
	CHP_ADDR_ME,		/* our own address (the IKE SA's) */
	CHP_ADDR_OTHER,		/* dns, dhcp, gateway: not negotiable here */
};

struct chp_addr {
	uint8_t kind;		/* enum chp_addr_kind */
	uint8_t family;		/* AF_INET, AF_INET6 (RANGE) */
	uint8_t lo[16], hi[16];
};

struct chp_filter {
	struct chp_addr src, dst;
	int proto;		/* -1 any */
	uint16_t sport_lo, sport_hi, dport_lo, dport_hi;	/* 0,0 any */
	bool mirrored;
};

struct chp_rule {
	char name[PEER_NAME_MAX];
	bool tunnel;
	uint8_t tunnel_family;
	uint8_t tunnel_addr[16];
	struct chp_method m[CHP_MAX_METHODS];
	size_t nm;
	struct chp_filter *f;		/* every filter of the rule's list */
	size_t nf;
	bool pfs;
	uint16_t pfs_group;
	bool soft;			/* fall back to clear (dplink.c) */
	bool response;			/* the default response rule */
	uint32_t soft_timeout_s;	/* after this many seconds */
};

/* The name of the default response rule: its CHILD SAs carry it. */
#define CHP_RESPONSE_NAME "default-response"

/* The active negotiate rules of the assigned policy, in order, each with
 * all its filters, and last, when the policy answers peers no rule names
 * (default-response), the default response rule (response set): its own
 * security methods, transport mode, one mirrored filter between this
 * host's address of the IKE SA and any address, which the CHILD SA code
 * narrows to the peer's (RFC 7296 §2.9).  Free with chp_rules_free. */
struct chp_rules {
	struct chp_rule *v;
	size_t n;
};

/* 0 (out->n is 0 without a policy), or -1 when out of memory (out is
 * then empty).  Every rule is zeroed before it is filled, padding too, so
 * rules and filters compare with memcmp. */
int chp_rules_load(const struct peer_policy *pp, struct chp_rules *out);
void chp_rules_free(struct chp_rules *rs);

/* The active negotiate rule named `name`, into *out (free its filters with
 * chp_rule_clear): 0, 1 when there is none, -1 when out of memory. */
int chp_rule_find(const struct peer_policy *pp, const char *name,
		  struct chp_rule *out);
void chp_rule_clear(struct chp_rule *r);

#endif /* IXDP_IKE_CHILD_POLICY_H */
