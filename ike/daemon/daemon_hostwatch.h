/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * daemon_hostwatch.h - ipsec-xdpd keeps `me`, `dns`, `dhcp` and `gateway`
 * (and the default exemptions bound to the host's addresses) true while
 * the host changes (docs/behaviour.md §3):
 *
 *   - addresses added or removed and default routes changed: a
 *     NETLINK_ROUTE socket in the groups of IPv4/IPv6 addresses and
 *     routes (other routes are ignored: a routing daemon's churn costs
 *     nothing);
 *   - resolv.conf (and its target when it is a symbolic link, and
 *     systemd-resolved's file), and the lease directories of dhclient,
 *     NetworkManager and systemd-networkd: inotify on their directories;
 *   - and every HOSTWATCH_PERIOD_S seconds, for leases that expire
 *     without their file changing.
 *
 * A change is acted on HOSTWATCH_DEBOUNCE_MS after its first event (a
 * burst is one check); the host's addresses are read again and, when
 * they differ from those of the last check, the policy in force is
 * compiled again and swapped in if its filters changed (agent_reexpand:
 * under the writers' lock, as `ipsec-xdp policy apply`), with one log
 * line saying what changed.  The lock busy, or the policy failing to
 * compile, keeps what is in force and tries again HOSTWATCH_RETRY_MS
 * later.  The IKE side needs nothing: its sockets listen on every
 * address, and `me` in a rule's filter is the IKE SA's own address.
 */
#ifndef IXDP_IKE_HOSTWATCH_H
#define IXDP_IKE_HOSTWATCH_H

#include "daemon/daemon.h"

#define HOSTWATCH_DEBOUNCE_MS 150
#define HOSTWATCH_RETRY_MS    500
#define HOSTWATCH_PERIOD_S    60
/* the writers' lock, waited for at most this long from the event loop */
#define HOSTWATCH_LOCK_WAIT_MS 50

struct event_base;
struct hostwatch;

/* Start watching (what cannot be watched is logged and left out); the
 * first check runs at once.  NULL only when out of memory (logged). */
struct hostwatch *hostwatch_open(struct daemon *d, struct event_base *evb);
void hostwatch_close(struct hostwatch *hw);

struct nlmsghdr;
/* Read a non-blocking netlink socket empty: does matters() hold for one of
 * its messages (or were events lost or cut, so that one must look again)?
 * Also for daemon_autoload.c's link events. */
bool hostwatch_nl_drain(int fd, bool (*matters)(const struct nlmsghdr *h));

#endif /* IXDP_IKE_HOSTWATCH_H */
