/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * daemon_autoload.h - ipsec-xdpd gives a loaded dataplane to the
 * interfaces the configuration's loadinterfaces covers (policy_bootconf.h,
 * lib/dataplane/dataplane_autoload.h: none, all, or a list) as they appear.
 *
 * A NETLINK_ROUTE socket in the link group: an interface added, removed,
 * renamed or changed starts a pass AUTOLOAD_DEBOUNCE_MS after the first
 * event of a burst; one also runs at start and after every reload (`set
 * config loadinterfaces` asks for one).  A pass reads CONFDIR/config
 * again and, when the dataplane is loaded (maps of this ABI version
 * pinned: the daemon never loads it itself), under the writers' lock as
 * `ipsec-xdp load` takes it:
 *
 *   - tidies the link pins of interfaces that went (removed) or were
 *     renamed (moved to the new name): a later interface of the old name
 *     attaches afresh, and nothing stale is left for `load` or `status`;
 *   - attaches the pinned programs to every covered interface on which
 *     they do not hold (dp_autoload_iface: the same programs and maps as
 *     the last `load`, checked afterwards from the kernel's side), logging
 *     "dataplane attached to IFACE" only once that check passed, and a
 *     failure with the kernel's reason (once per interface; tried again
 *     at the next pass).  Interfaces "all" leaves out (loopback, xfrm) are
 *     logged once each.
 *
 * The lock busy, or the interfaces unreadable, tries the pass again
 * AUTOLOAD_RETRY_MS later.  Attaching needs CAP_NET_ADMIN and CAP_BPF
 * only, which the started daemon keeps (daemon_sandbox.h).
 */
#ifndef IXDP_IKE_AUTOLOAD_H
#define IXDP_IKE_AUTOLOAD_H

#include "daemon/daemon.h"

#define AUTOLOAD_DEBOUNCE_MS 100
#define AUTOLOAD_RETRY_MS    500
#define AUTOLOAD_LOCK_WAIT_MS 50

struct event_base;
struct autoload;

/* Start watching; the first pass runs at once.  NULL only when out of
 * memory (logged). */
struct autoload *autoload_open(struct daemon *d, struct event_base *evb);
/* A pass soon (the configuration may have changed). */
void autoload_check(struct autoload *al);
void autoload_close(struct autoload *al);

#endif /* IXDP_IKE_AUTOLOAD_H */
