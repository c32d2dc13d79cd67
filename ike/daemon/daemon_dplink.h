/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * daemon_dplink.h - ipsec-xdpd and the dataplane (docs/behaviour.md §4: "with no SA yet, IKE
 * is started").  When the dataplane is loaded (pinned under the root
 * ipsec-xdp uses, $IPSEC_XDP_BPFFS), the daemon
 *
 *   - creates one plain xfrm interface for every transport bundle
 *     (DPLINK_XFRMI, if_id DPLINK_IF_ID) and one collect-metadata
 *     ("external") interface for the tunnel bundles (DPLINK_XFRMI_MD);
 *     a CHILD SA takes its if_id from d->child_if_id_of: DPLINK_IF_ID
 *     in transport mode, in tunnel mode an if_id of its rule's own
 *     (DPLINK_TUN_IF_ID + n, kept for the rule's name while the daemon
 *     runs), which the dataplane sets per packet (bpf_skb_set_xfrm_info);
 *   - reads the need-SA events (ixdp_events): an event for {rule, peer}
 *     starts a negotiation, as `sa initiate` does, with the peer, or with
 *     the rule's tunnel endpoint for a tunnel rule (whose one bundle
 *     {rule, every peer} serves every host behind that endpoint).  With
 *     an IKE SA already up with it (set up for another rule, or
 *     childless) the rule's CHILD SA is asked for on that IKE SA
 *     (CREATE_CHILD_SA); with one under way, once it is up.  The bundle
 *     goes NEGOTIATING (removed again if that negotiation fails).  Inbound
 *     `inpass`
 *     plaintext sends such an event too: the reply is held back (dropped)
 *     until the SA is up, then leaves through it;
 *   - soft fallback: when the rule's action has `soft`, no SA up after its
 *     soft-timeout (3 s by default), or the negotiation failed before,
 *     sets the bundle SOFT (the pair talks in clear; counted soft_sas) and
 *     starts IKE again every DPLINK_SOFT_RETRY_S seconds (or
 *     $IPSEC_XDPD_SOFT_RETRY_S, 1..3600) while no negotiation with the peer
 *     is under way; an SA that comes up sets it UP;
 *   - sets the bundle UP (if_id, the interface's ifindex) when a CHILD SA
 *     of that rule is installed, and deletes it when the last such CHILD
 *     SA goes away (child.c calls d->child_change on install and removal:
 *     a rekey that installs the new SA before removing the old keeps the
 *     bundle UP throughout).
 *
 * Bundles are keyed by the rule's id in the live filter list (ipsec_xdp.h
 * "RULE IDS"): a policy re-applied in another order keeps them; a changed
 * or deleted rule loses them there.
 *
 * Not loaded: nothing happens and the daemon runs as before (kernel
 * policies without if_id).
 */
#ifndef IXDP_IKE_DPLINK_H
#define IXDP_IKE_DPLINK_H

#include "daemon/daemon.h"

#define DPLINK_XFRMI    "ixdp-xfrm0"
#define DPLINK_IF_ID    0x1a5e0001u
#define DPLINK_XFRMI_MD "ixdp-xfrm1"
#define DPLINK_TUN_IF_ID 0x1a5e1000u	/* + n: one per tunnel rule */
#define DPLINK_SOFT_RETRY_S 60

struct event_base;
struct ikk_selector;

enum dplink_how {
	DPLINK_NEW_IKE = 1,	/* a new IKE SA (IKE_AUTH brings the CHILD SA) */
	DPLINK_NEW_CHILD,	/* CREATE_CHILD_SA on the IKE SA that is up */
	DPLINK_WAIT_IKE,	/* an IKE SA with the peer is under way */
};

/* A CHILD SA of `rule` (for the flow sel, or NULL) with peer: on the IKE
 * SA that is up with it, else by a new IKE SA unless one is under way.
 * 0 with the IKE SA's serial and how; DPLINK_HELD and err while the
 * peer's backoff holds new exchanges back (backoff.h); -1 and err when IKE
 * cannot start. */
#define DPLINK_HELD 1
int dplink_negotiate(struct daemon *d, const struct sockaddr_storage *peer,
		     const char *rule, const struct ikk_selector *sel,
		     uint64_t *serial, enum dplink_how *how, char *err,
		     size_t errlen);

/* 0 when linked or when there is no dataplane (or no CHILD SA support);
 * -1 (logged) when the dataplane is loaded but cannot be used. */
int dplink_open(struct daemon *d, struct event_base *evb);
/* Remove the bundles we set and the interfaces. */
void dplink_close(struct daemon *d);

#endif /* IXDP_IKE_DPLINK_H */
