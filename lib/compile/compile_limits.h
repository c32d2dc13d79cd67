/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * compile_limits.h - every fixed limit a policy can meet, in one place, and
 * the check that reports each one a policy exceeds (ipsec-xdp.policy(5),
 * LIMITS).  `policy check`, `policy apply`, `load` (agent_compile) and
 * ipsec-xdpd (peer_policy_load) refuse a policy over any of them, so
 * nothing is ever cut off silently.
 *
 * Two kinds: limits of the policy as written (policy_limits_check: names,
 * methods, proposals, authentication, tunnel rules) and limits of the
 * compiled filter list in the dataplane (policy_limits_check_table:
 * specific filters, tuple shapes, hash keys).
 */
#ifndef IXDP_POLICY_LIMITS_H
#define IXDP_POLICY_LIMITS_H

#include <stddef.h>
#include "compile/compiler.h"
#include "policy/policy.h"

/* A rule's name is kept in the dataplane's filter info (32 bytes with its
 * NUL): ixdp_filter_info.name. */
#define POLICY_MAX_RULE_NAME     31
/* Security methods of a negotiate action: one proposal each in an IKEv2
 * SA payload, and a payload holds at most 16 (IKE_MAX_PROPOSALS). */
#define POLICY_MAX_METHODS       16
/* IKE proposals (main mode methods) of a policy: PEER_MAX_PROPOSALS. */
#define POLICY_MAX_IKE_PROPOSALS 16
/* Authentication of one peer (ike/sa/sa_peer.h): methods (PEER_MAX_AUTH), distinct
 * pre-shared key ids (PEER_MAX_PSK), distinct root CA files (PEER_MAX_CA),
 * a CA file's path length (PEER_PATH_MAX with its NUL).  A peer that no
 * rule names (default response) is offered every negotiate rule's methods
 * plus the PSK named by its address: one method and one key id more. */
#define POLICY_MAX_AUTH          16
#define POLICY_MAX_PSK_IDS       16
#define POLICY_MAX_CA_FILES      4
#define POLICY_MAX_CA_PATH       255
/* Active negotiate rules with a tunnel endpoint: each gets an xfrm if_id
 * from ipsec-xdpd (DPL_MAX_TUN, ike/daemon/daemon_dplink.c). */
#define POLICY_MAX_TUNNEL_RULES  64

/* The messages, one per limit exceeded: "file:line:col: " where known,
 * the limit's name, the value, the limit and what to do. */
struct policy_limits {
	char (*msg)[512];
	size_t n, cap;
};

/* Append one message for every limit of the written policy that pf's
 * assigned policy exceeds.  Returns how many were added, or -1 when out
 * of memory. */
int policy_limits_check(const struct policy_file *pf, struct policy_limits *out);

/* Same for a compiled, sorted filter table: specific filters
 * (IXDP_MAX_FILTERS), distinct filter shapes per address family
 * (IXDP_MAX_TUPLES) and hash keys (IXDP_MAX_KEYS / 2 per bank). */
int policy_limits_check_table(const struct filter_table *t,
			      struct policy_limits *out);

/* All messages, one per line, into buf (cut at len, with a note saying
 * how many more there were). */
void policy_limits_join(const struct policy_limits *l, char *buf, size_t len);

void policy_limits_free(struct policy_limits *l);

#endif /* IXDP_POLICY_LIMITS_H */
