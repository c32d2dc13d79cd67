/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dataplane_autoload.h - which interfaces get the dataplane without a
 * `load` naming them: the configuration's loadinterfaces
 * (policy_bootconf.h), followed by ipsec-xdpd as interfaces appear, and
 * `ipsec-xdp load --all`.
 *
 * "all" is every interface of the network namespace except
 *   - loopback (IFF_LOOPBACK): the host talking to itself, never on a wire;
 *   - xfrm interfaces (link kind "xfrm", ipsec-xdpd's own ixdp-xfrm0/1
 *     among them): what they carry is the inside of SAs, already
 *     decided, and the dataplane's hand-off redirects into them.
 * Everything else is attached, L3 devices (tun, WireGuard, PPP) included,
 * whose packets the programs parse from the IP header (dataplane_iface.h).
 * An interface that refuses XDP or TC (a driver that takes neither, a
 * device in use by another XDP program) is reported by name with the
 * kernel's reason: never left out silently.  A list names interfaces
 * explicitly: those are attached whatever their kind, as `load` would.
 */
#ifndef IXDP_LIB_DATAPLANE_AUTOLOAD_H
#define IXDP_LIB_DATAPLANE_AUTOLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <net/if.h>
#include "dataplane/dataplane.h"

/* One interface of the namespace as rtnetlink lists it. */
struct dp_netif {
	int ifindex;
	unsigned flags;          /* IFF_* */
	char name[IF_NAMESIZE];
	char kind[32];           /* IFLA_INFO_KIND ("veth", "xfrm"); "" if none */
};

/* Every interface of this network namespace (an RTM_GETLINK dump), in
 * ifindex order: *v malloc'd.  0, or -1 with errbuf. */
int dp_netifs_read(struct dp_netif **v, size_t *n, char *errbuf, size_t errlen);

/* Why "all" leaves the interface out ("loopback", "an xfrm interface"),
 * or NULL when it is covered. */
const char *dp_autoload_excluded(const struct dp_netif *i);

/* Does the configuration's loadinterfaces give this interface the
 * dataplane? */
bool dp_autoload_covers(const struct bootconf *c, const struct dp_netif *i);

/*
 * Give ifname the dataplane loaded under root, unless it holds there
 * already: the pinned programs attached (dp_attach_pinned), checked from
 * the kernel's side (dp_verify_iface: the XDP program on the interface,
 * the egress link or tc filter), and the interface's groups written
 * (dp_refresh_ifmask).  *attached: a program was newly attached (false
 * when it held already, or an earlier load's program was only replaced
 * by the pinned one, in place).  On failure
 * what this call attached is taken away again.  The caller holds the
 * writers' lock (dataplane_lock.h).
 */
int dp_autoload_iface(const char *root, const char *ifname, bool *attached,
		      char *errbuf, size_t errlen);

#endif /* IXDP_LIB_DATAPLANE_AUTOLOAD_H */
