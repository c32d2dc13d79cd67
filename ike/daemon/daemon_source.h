/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * daemon_source.h - the central policy source (docs/behaviour.md §9):
 * ipsec-xdpd polls the configured policysource over https with libcurl's
 * multi interface on the daemon's libevent loop (no fetch ever blocks the
 * loop), checks each new document's detached signature (URL + ".sig"),
 * compiles it, puts it in force (dataplane and IKE) and caches it under
 * STATEDIR/central (lib/agent/agent_source.h).  While the source cannot
 * be reached the cached document stays in force; a bad signature or an
 * invalid document is refused and logged, and what was in force stays.
 */
#ifndef IXDP_DAEMON_SOURCE_H
#define IXDP_DAEMON_SOURCE_H

#include "sa/sa_engine.h"

struct event_base;

/* Start: a usable cache is put in force now, then the first poll runs.
 * Without a policysource nothing is polled (its removal is seen at the
 * next reload).  -1 only when libcurl cannot start. */
int source_open(struct daemon *d, struct event_base *evb);
/* Poll now (after a reload: the configuration may have changed). */
void source_poll_now(struct daemon *d);
void source_close(struct daemon *d);

#endif /* IXDP_DAEMON_SOURCE_H */
