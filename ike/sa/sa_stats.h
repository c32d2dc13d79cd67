/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sa_stats.h - the IKE counters (docs/behaviour.md §6, the IP Security Monitor's IKE
 * statistics) and the reasons a received message is dropped.
 *
 * Counters only grow.  The gauges (IKE SAs up, negotiations in progress)
 * are read from the SA table when asked (ikesa_count).  Every drop has a
 * named reason here: stats_drop() counts it and logs one line.
 */
#ifndef IXDP_IKE_STATS_H
#define IXDP_IKE_STATS_H

#include <stdint.h>

enum ike_stat {
	/* negotiations (main mode in the seeds' monitor) */
	ST_NEG_TOTAL = 0,		/* started, either side */
	ST_NEG_FAILED,			/* ended without an IKE SA */
	ST_AUTH_FAILURES,		/* peer's AUTH did not verify, or ours was refused */
	ST_INVALID_COOKIES,		/* IKE_SA_INIT with a wrong or stale cookie */
	ST_IKE_SA_ESTABLISHED,
	ST_IKE_SA_DELETED,
	ST_COOKIES_SENT,
	ST_INVALID_KE_SENT,
	ST_INVALID_KE_RECEIVED,
	ST_NO_PROPOSAL_CHOSEN,		/* no proposal in common, either side */
	ST_PEER_TIMEOUTS,		/* a request never answered: SA failed */
	ST_LIVENESS_CHECKS,		/* empty INFORMATIONAL requests we sent */
	ST_RETRANSMITS,			/* our requests sent again */
	ST_RESPONSES_RESENT,		/* a peer's retransmission answered from cache */
	ST_MESSAGES_RECEIVED,
	ST_MESSAGES_SENT,
	ST_SEND_ERRORS,
	ST_NATT_KEEPALIVES,		/* NAT keepalives received */
	ST_NATT_KEEPALIVES_SENT,	/* NAT keepalives we sent (behind a NAT) */
	ST_INVALID_SPI_SENT,		/* INVALID_IKE_SPI answers */
	ST_INVALID_MAJOR_SENT,		/* INVALID_MAJOR_VERSION answers */
	ST_UNSUPPORTED_CRITICAL_SENT,	/* UNSUPPORTED_CRITICAL_PAYLOAD answers */

	/* why a negotiation failed: each failure counted in ST_NEG_FAILED
	 * is counted in exactly one of these, on either side.  A negotiation
	 * fails when it ends without an IKE SA, or with an IKE SA but
	 * without the CHILD SA the rule wants (RFC 7296 §1.2). */
	ST_FAIL_FIRST,
	ST_FAIL_AUTH = ST_FAIL_FIRST,	/* AUTHENTICATION_FAILED, either way */
	ST_FAIL_NO_PROPOSAL,		/* NO_PROPOSAL_CHOSEN (IKE or CHILD SA) */
	ST_FAIL_TS_UNACCEPTABLE,	/* TS_UNACCEPTABLE */
	ST_FAIL_INVALID_SYNTAX,		/* INVALID_SYNTAX, or an unreadable answer */
	ST_FAIL_TIMEOUT,		/* a request never answered */
	ST_FAIL_KERNEL,			/* the kernel refused the CHILD SA */
	ST_FAIL_OTHER,			/* another notify, a local error, stopped */
	ST_FAIL_LAST = ST_FAIL_OTHER,

	/* the initiator's backoff per peer after failures (backoff.c) */
	ST_BACKOFF_STEPS,		/* a peer's delay set or grown */
	ST_BACKOFF_HELD,		/* traffic-started negotiations not started */

	/* CHILD SAs (quick mode in the seeds' monitor) */
	ST_KEY_ADDITIONS,		/* SA pairs installed in the kernel */
	ST_KEY_UPDATES,			/* SA pairs replaced by a rekey */
	ST_KEY_DELETIONS,		/* SA pairs removed from the kernel */
	ST_CHILD_REKEYS,		/* CHILD SAs rekeyed (CREATE_CHILD_SA) */
	ST_IKE_REKEYS,			/* IKE SAs rekeyed (CREATE_CHILD_SA) */
	ST_SOFT_SAS,			/* peer pairs that fell back to clear */

	/* drops: every received message not acted upon */
	ST_DROP_FIRST,
	ST_DROP_MALFORMED = ST_DROP_FIRST, /* the codec refused it */
	ST_DROP_BAD_VERSION,		/* IKE major version not 2 */
	ST_DROP_BAD_FLAGS,		/* initiator/response flags do not fit */
	ST_DROP_UNKNOWN_SPI,		/* no IKE SA with these SPIs */
	ST_DROP_MSGID_WINDOW,		/* request outside the message ID window */
	ST_DROP_UNEXPECTED_RESPONSE,	/* response to nothing we asked */
	ST_DROP_UNEXPECTED_EXCHANGE,	/* an exchange not allowed in this state */
	ST_DROP_UNPROTECTED,		/* no Encrypted payload where one belongs */
	ST_DROP_INTEGRITY,		/* Encrypted payload did not verify */
	ST_DROP_MISSING_PAYLOAD,	/* a payload the exchange needs is absent */
	ST_DROP_BAD_PAYLOAD,		/* a payload did not decode */
	ST_DROP_HALF_OPEN_LIMIT,	/* docs/behaviour.md §6 per-address limits */
	ST_DROP_NO_POLICY,		/* no rule and no default response */
	ST_DROP_WRONG_ADDRESS,		/* response from another address */
	ST_DROP_SA_CLOSED,		/* for an IKE SA being torn down */
	ST_DROP_NATT_NOT_IKE,		/* ESP or junk on the NAT-T port */
	ST_DROP_FRAGMENT,		/* RFC 7383 fragment out of place */
	ST_DROP_LAST = ST_DROP_FRAGMENT,

	ST_COUNT
};

struct ike_stats {
	uint64_t v[ST_COUNT];
};

/* "negotiations_total", "drop_msgid_out_of_window", ... */
const char *stats_name(enum ike_stat s);

#endif /* IXDP_IKE_STATS_H */
