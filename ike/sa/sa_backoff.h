/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sa_backoff.h - the initiator's backoff per peer (ipsec-xdpd(8), BACKOFF).
 *
 * Every negotiation this daemon starts that fails (no IKE SA, or an IKE
 * SA without the CHILD SA its rule wants) doubles the time before traffic
 * (a dataplane need-SA event, a kernel ACQUIRE) may start another one
 * with that peer: 1 s, 2 s, 4 s ... up to BACKOFF_MAX_MS.  A success with
 * the peer clears it.  `ipsec-xdp sa initiate` is not held back (the
 * administrator asks for one attempt and sees its outcome); its failure
 * counts all the same.  Each step is logged once and counted
 * (backoff_steps); each trigger held back is counted
 * (negotiations_held_back).
 */
#ifndef IXDP_IKE_BACKOFF_H
#define IXDP_IKE_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct daemon;

#define BACKOFF_BASE_MS   1000u		/* after the first failure */
#define BACKOFF_MAX_MS    60000u	/* the delay grows no further */
/* A peer whose delay ended this long ago starts again at the base. */
#define BACKOFF_FORGET_MS (10u * 60u * 1000u)
#define BACKOFF_PEERS_MAX 256		/* peers remembered; the oldest go */

struct backoff_peer {
	struct sockaddr_storage addr;	/* address only (the port is 0) */
	unsigned failures;		/* in a row */
	uint64_t until_ms;		/* no traffic-started start before */
};

struct backoff {
	struct backoff_peer *p;		/* BACKOFF_PEERS_MAX, on first use */
	size_t n;
};

/* A traffic-started negotiation with peer must wait: true (counted in
 * negotiations_held_back) and *left_ms, the time still to wait. */
bool backoff_holds(struct daemon *d, const struct sockaddr_storage *peer,
		   uint64_t *left_ms);
/* A negotiation we started with peer failed (why: for the log). */
void backoff_failed(struct daemon *d, const struct sockaddr_storage *peer,
		    const char *why);
/* A negotiation with peer succeeded: its backoff is cleared. */
void backoff_succeeded(struct daemon *d, const struct sockaddr_storage *peer);
/* The delay in force after `failures` failures in a row (0: none). */
uint64_t backoff_delay_ms(unsigned failures);
void backoff_free(struct backoff *b);

#endif /* IXDP_IKE_BACKOFF_H */
