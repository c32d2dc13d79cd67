/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dplink.h - ipsec-xdpd and the dataplane (SPEC §4: "with no SA yet, IKE
 * is started").  When the dataplane is loaded (pinned under the root
 * ipsec-xdp uses, $IPSEC_XDP_BPFFS), the daemon
 *
 *   - creates one plain xfrm interface for every transport bundle
 *     (DPLINK_XFRMI, if_id DPLINK_IF_ID) and has transport-mode CHILD SAs
 *     carry that if_id on their SAs and policies (d->child_if_id);
 *   - reads the need-SA events (ixdp_events): an event for {rule, peer}
 *     starts a negotiation with the peer, as `sa initiate` does, unless
 *     an IKE SA with it is under way or up, and sets the bundle
 *     NEGOTIATING (removed again if that negotiation fails);
 *   - sets the bundle {rule, peer} UP (if_id, the interface's ifindex)
 *     when a CHILD SA of that rule is installed, and deletes it when the
 *     last such CHILD SA goes away.
 *
 * Not loaded: nothing happens and the daemon runs as before (kernel
 * policies without if_id).  Tunnel mode is not handled here yet.
 */
#ifndef IXDP_IKE_DPLINK_H
#define IXDP_IKE_DPLINK_H

#include "daemon.h"

#define DPLINK_XFRMI "ixdp-xfrm0"
#define DPLINK_IF_ID 0x1a5e0001u

struct event_base;

/* 0 when linked or when there is no dataplane (or no CHILD SA support);
 * -1 (logged) when the dataplane is loaded but cannot be used. */
int dplink_open(struct daemon *d, struct event_base *evb);
/* Remove the bundles we set and the interface. */
void dplink_close(struct daemon *d);

#endif /* IXDP_IKE_DPLINK_H */
