/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * daemon_source.h - the central policy source (docs/behaviour.md §8):
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

/* Open before the policy agent (daemon_agent.h): a usable cache (its
 * signature checked again) claims precedence (d->central_in_force), so
 * the agent does not put the local policy in force first.  -1 only when
 * libcurl cannot start. */
int source_open(struct daemon *d, struct event_base *evb);
/* After the agent is open: the claimed cache in force (failing that, the
 * local policy), then the first poll.  Without a policysource nothing is
 * polled (one set later is seen at the next reload). */
void source_start(struct daemon *d);
/* Poll now (after a reload: the configuration may have changed). */
void source_poll_now(struct daemon *d);
void source_close(struct daemon *d);

#endif /* IXDP_DAEMON_SOURCE_H */
