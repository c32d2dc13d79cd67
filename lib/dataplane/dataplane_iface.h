/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dataplane_iface.h - which interface groups (a rule's `connection-type`
 * and `interfaces`) apply on which interface: the kind of an interface,
 * the per-interface masks the programs read (ixdp_ifmask), and the groups
 * of the list in force (ixdp_ifgroup).
 *
 * An interface is *remote* (connection-type remote) when it is
 * point-to-point (IFF_POINTOPOINT: ppp, GRE/IPIP/SIT tunnels with a
 * remote end, tun devices) or has no link layer (ARPHRD_NONE: tun,
 * WireGuard; ARPHRD_PPP); every other interface is *lan*.
 *
 * The programs parse Ethernet frames, except on interfaces without a link
 * layer (tun, WireGuard, PPP, IPIP/SIT/GRE tunnels: IXDP_IF_L3), whose
 * packets start with the IP header.
 */
#ifndef IXDP_LIB_DATAPLANE_IFACE_H
#define IXDP_LIB_DATAPLANE_IFACE_H

#include <stddef.h>
#include "dataplane/dataplane.h"

/* The kind of interface `name`: 0 and *kind (IXDP_CONN_LAN or
 * IXDP_CONN_REMOTE), or -errno (no such interface). */
int dp_iface_kind(const char *name, enum ixdp_conn_type *kind);

/* The same, and the interface's ixdp_ifmask flags (IXDP_IF_L3). */
int dp_iface_info(const char *name, enum ixdp_conn_type *kind, __u16 *flags);

/* Recompute the ixdp_ifmask entry of interface `name` from the groups of
 * both banks (after a load, or when the interface changes name or
 * flags).  0, or -1 with errbuf. */
int dp_refresh_ifmask(struct dp *dp, const char *name, char *errbuf, size_t errlen);

/* The groups of the list in force into t->groups / t->ngroups (for
 * `show filters`): 0 or -errno. */
int dp_read_ifgroups(struct dp *dp, struct filter_table *t);

#endif /* IXDP_LIB_DATAPLANE_IFACE_H */
