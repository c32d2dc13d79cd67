/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * daemon.h - the daemon around the IKE engine (sa/sa_engine.h: struct
 * daemon, timers, hooks): setting it up, loading the configuration,
 * policy and secrets, closing it, and the files of daemon/ that main.c
 * wires in.  One process, one event loop, no threads.
 *
 * Vocabulary:
 *   path      our address and port + the peer's address and port
 *   dgram     one received IKE message with its path
 *   ikesa     one IKE SA (ikesa.h), found by its SPIs or by its peer
 *   peer_conf what the assigned policy says about one peer (peer.h)
 *   drop      a message thrown away: always counted (stats.h) and logged
 *
 * The event loop is reached only through three hooks set up by main.c:
 * the timer operations, d->send (net.c) and d->sa_outcome (control.c), so
 * that the state machine runs unchanged under the unit tests' fake clock.
 */
#ifndef IXDP_IKE_DAEMON_H
#define IXDP_IKE_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "sa/sa_engine.h"

/* daemon_evtimer.c: timers (and the xfrm event socket's watch) on a
 * libevent base */
struct event_base;
void evtimer_ops_use(struct daemon *d, struct event_base *evb);

/* daemon.c */
void daemon_init(struct daemon *d);
/* Read CONFDIR/config, CONFDIR/policy.yaml and CONFDIR/secrets.  With
 * `initial`, a secrets file others may read is fatal (-1); on a reload
 * every failure keeps what was in force.  err gets the first problem.
 * A new policy deletes (Delete to the peer, then the kernel's SAs and
 * policies) the CHILD SAs of each rule it no longer has or whose filters,
 * filter action (methods, PFS, soft, inpass) or tunnel endpoint changed;
 * those of unchanged rules stay, wherever the rules now are in the order. */
int daemon_load(struct daemon *d, bool initial, char *err, size_t errlen);
/* Put pp (NULL: none; taken over) in force for IKE, deleting the CHILD
 * SAs of rules it changed or no longer has, as daemon_load does. */
struct peer_policy;
void daemon_set_policy(struct daemon *d, struct peer_policy *pp);
/* Close every IKE SA, telling established peers (one Delete each). */
void daemon_close_all(struct daemon *d, const char *reason);
void daemon_fini(struct daemon *d);
int daemon_source_addr_route(struct daemon *d,
			     const struct sockaddr_storage *peer,
			     struct sockaddr_storage *local);
/* net.c: the UDP sockets */
int net_open(struct daemon *d, struct event_base *evb, char *err,
	     size_t errlen);
void net_close(struct daemon *d);
int net_send(struct daemon *d, const struct ike_path *path,
	     const uint8_t *msg, size_t len);

/* control.c: the control socket RUNDIR/ipsec-xdpd.sock */
int control_open(struct daemon *d, struct event_base *evb, char *err,
		 size_t errlen);
void control_close(struct daemon *d);

#endif /* IXDP_IKE_DAEMON_H */
