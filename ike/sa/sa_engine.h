/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sa_engine.h - the IKE engine's context, what the files of sa/ share:
 * struct daemon (tunables, the SA table, policy, secrets, counters and the
 * hooks the daemon layer fills in), timers, and the CHILD SA extension
 * point.  Nothing here knows the event loop, the sockets or the control
 * socket: daemon/ plugs them in through the hooks (d->timers, d->send,
 * d->source_addr, d->sa_outcome, d->child_*), so that the state machine
 * runs unchanged under the unit tests' fake clock.
 */
#ifndef IXDP_IKE_SA_ENGINE_H
#define IXDP_IKE_SA_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "wire/wire_addr.h"
#include "wire/wire_ikev2.h"
#include "wire/wire_message.h"
#include "wire/wire_crypto.h"
#include "wire/wire_dh_reuse.h"
#include "sa/sa_backoff.h"
#include "sa/sa_peer.h"
#include "sa/sa_stats.h"

struct daemon;
struct ikesa;
struct exchange_ops;

/* IKE_SA_INIT, IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL */
#define IKE_EXCHANGE_TYPES 4

/* ---- timers ------------------------------------------------------------- */

typedef void (*timer_cb)(struct daemon *d, void *arg);

struct ike_timer {
	struct daemon *d;
	timer_cb cb;
	void *arg;
	bool armed;
	uint64_t deadline_ms;	/* for the fake clock of the tests */
	void *impl;		/* the event loop's own (evtimer.c) */
	struct ike_timer *next;	/* the fake clock's list */
};

/* How timers are run: evtimer.c (libevent) in the daemon, a fake clock in
 * the unit tests. */
struct timer_ops {
	void (*arm)(struct ike_timer *t, uint64_t ms);
	void (*stop)(struct ike_timer *t);
	void (*release)(struct ike_timer *t);	/* before the owner is freed */
	uint64_t (*now_ms)(struct daemon *d);	/* a monotonic clock */
	/* Optional (NULL in the tests): call cb whenever fd is readable, on
	 * the timers' event loop; a handle for unwatch, NULL on failure. */
	void *(*watch)(struct daemon *d, int fd,
		       void (*cb)(struct daemon *d, void *arg), void *arg);
	void (*unwatch)(void *handle);
};

void timer_init(struct daemon *d, struct ike_timer *t, timer_cb cb, void *arg);
void timer_arm(struct ike_timer *t, uint64_t ms);
void timer_stop(struct ike_timer *t);
void timer_release(struct ike_timer *t);
/* For the timer operations: the time has come (disarm, call back). */
void timer_fire(struct ike_timer *t);
uint64_t daemon_now_ms(struct daemon *d);

/* d->timers->watch, or NULL when the timers have no event loop. */
void *loop_watch(struct daemon *d, int fd,
		 void (*cb)(struct daemon *d, void *arg), void *arg);
void loop_unwatch(struct daemon *d, void *handle);

/* ---- the CHILD SA extension point ----------------------------------------- */

/*
 * The CHILD SA code plugs in here.  While d->child is NULL every IKE SA
 * is childless (RFC 6023): the initiator sends no SA/TSi/TSr in IKE_AUTH,
 * and a responder asked for a CHILD SA creates the IKE SA and answers the
 * CHILD SA part with NO_PROPOSAL_CHOSEN (RFC 7296 §1.2).
 */
struct child_hooks {
	/* Initiator, building IKE_AUTH: add SA, TSi, TSr (true), or add
	 * nothing and go childless (false). */
	bool (*auth_request)(struct daemon *d, struct ikesa *sa,
			     struct ike_builder *b);
	/* Responder: the IKE_AUTH request carries SA/TSi/TSr; the IKE SA is
	 * authenticated.  Add the answer (SA, TSi, TSr or an error notify). */
	void (*auth_respond)(struct daemon *d, struct ikesa *sa,
			     const struct ike_msg *req, struct ike_builder *b);
	/* Initiator: the IKE_AUTH response (IKE SA authenticated). */
	void (*auth_response)(struct daemon *d, struct ikesa *sa,
			      const struct ike_msg *resp);
	/* ESP/AH Delete payloads received in an INFORMATIONAL request: add
	 * the Delete payloads of the answer. */
	void (*delete_request)(struct daemon *d, struct ikesa *sa,
			       const struct ike_delete *del,
			       struct ike_builder *b);
	/* The IKE SA is going away: its CHILD SAs go with it. */
	void (*ike_sa_down)(struct daemon *d, struct ikesa *sa);
};

/* ---- the daemon ----------------------------------------------------------- */

struct ike_tunables {
	uint32_t retransmit_base_ms;	/* first retransmission after this */
	uint32_t retransmit_tries;	/* transmissions before giving up */
	uint32_t half_open_timeout_s;	/* responder waiting for IKE_AUTH */
	uint32_t liveness_s;		/* idle time before a liveness check; 0 off */
	uint32_t linger_ms;		/* a closed SA answers retransmits this long */
	uint32_t half_open_per_addr;	/* docs/behaviour.md §6: no IKE SA with the address */
	uint32_t half_open_per_addr_port; /* docs/behaviour.md §6: one IKE SA exists */
	uint32_t cookie_threshold;	/* half-open SAs before cookies are asked */
	uint32_t half_open_max;		/* all peers together */
	uint32_t invalid_spi_per_s;	/* INVALID_IKE_SPI answers per second */
	uint32_t natt_keepalive_s;	/* behind a NAT: keepalive period; 0 off */
	uint32_t child_idle_s;		/* CHILD SA removed after this idle; 0 never */
	uint32_t dh_reuse_ms;		/* responder D-H pair shared this long; 0 off */
	uint32_t fragment_size;		/* RFC 7383: largest IP datagram we send */
};

#define CHILD_IDLE_S 300	/* docs/behaviour.md §6: 5 minutes */
/* RFC 7383 §2.5.1: IKE fragments in IP datagrams of at most 1280 bytes
 * (the IPv6 minimum MTU; what strongSwan sends too) */
#define FRAGMENT_SIZE_DEFAULT 1280
#define FRAGMENT_SIZE_MIN 200

void ike_tunables_default(struct ike_tunables *t);

#define COOKIE_SECRET_LEN 32

struct cookie_secret {
	uint32_t version;
	uint8_t cur[COOKIE_SECRET_LEN], prev[COOKIE_SECRET_LEN];
	uint64_t changed_ms;
};

struct ikesa_table;	/* ikesa.c */
struct secrets;		/* secrets.h */
struct key_ops;		/* sa_keys.h */
struct keyholder;	/* daemon/daemon_keyholder.c */

#define LOCAL_ID_MAX 255

struct daemon {
	char confdir[512];
	char rundir[512];
	/* a central policy is in force (daemon/daemon_source.c): it takes
	 * precedence over CONFDIR/policy.yaml, which is neither read by a
	 * reload nor put in force by the agent until the source is removed */
	bool central_in_force;
	/* after a reload (SIGHUP, `reload`): the central policy source polls
	 * at once (its configuration may have changed); may be NULL */
	void (*reloaded)(struct daemon *d);
	uint16_t port;			/* IKE (500) */
	uint16_t natt_port;		/* NAT-T (4500) */
	uint16_t peer_port;		/* where we initiate to (the IKE port) */
	bool debug;
	struct ike_tunables tun;
	char local_fqdn[LOCAL_ID_MAX + 1]; /* our ID; empty: our IP address */

	struct ikesa_table *sas;
	struct peer_policy *policy;	/* NULL: no policy assigned */
	struct secrets *secrets;
	/* What needs a key (sa_keys.h); NULL: keys_local, from secrets */
	const struct key_ops *keys;
	struct keyholder *keyholder;	/* daemon_keyholder.c; NULL in tests */
	struct ike_stats stats;
	int ikelogging;			/* 0..2, CONFDIR/config */
	int strongcrlcheck;		/* 0..2, CONFDIR/config: CRL floor */
	struct cookie_secret cookie;
	struct dh_reuse dh_reuse;	/* the responder's IKE_SA_INIT key pairs */
	struct backoff backoff;		/* failed peers' delays (backoff.h) */
	uint64_t next_serial;		/* names negotiations in the log */
	uint64_t invalid_spi_window_ms;
	uint32_t invalid_spi_sent;

	const struct timer_ops *timers;
	void *timer_ctx;
	const struct child_hooks *child;	/* NULL: childless only */
	/* The exchanges by type, IKE_SA_INIT first (sa_ikesa.h) */
	const struct exchange_ops *exchanges[IKE_EXCHANGE_TYPES];

	/* Send one IKE message (net.c adds the non-ESP marker on NAT-T). */
	int (*send)(struct daemon *d, const struct ike_path *path,
		    const uint8_t *msg, size_t len);
	/* Our source address toward peer (port untouched). */
	int (*source_addr)(struct daemon *d,
			   const struct sockaddr_storage *peer,
			   struct sockaddr_storage *local);
	/* A negotiation this daemon started ended (control.c answers the
	 * `initiate` request waiting for it). */
	void (*sa_outcome)(struct daemon *d, uint64_t serial, bool ok,
			   const char *text);
	/* An event of a negotiation or an SA (ikelog_event, sa_log.h):
	 * control.c streams it to `ipsec-xdp monitor`.  sa NULL: no IKE SA
	 * yet (or a policy reload); text: the log line's text. */
	void (*ike_event)(struct daemon *d, const char *event,
			  const struct ikesa *sa, const char *text);
	void *ctl;			/* control.c */
	void *create;			/* exchange_create.c (idle check) */
	void *net;			/* net.c */

	/* dplink.c, when the dataplane is loaded: the if_id the SAs and
	 * policies of transport-mode CHILD SAs carry (0 = none, plain
	 * kernel policies do the work), and a call when a CHILD SA is
	 * installed (up) or removed; peer: the 4 or 16 address bytes. */
	uint32_t child_if_id;
	/* The if_id of a new CHILD SA of `rule` in `mode` (enum ikk_mode),
	 * for tunnel mode too (one per tunnel rule); NULL: child_if_id in
	 * transport mode, 0 in tunnel mode. */
	uint32_t (*child_if_id_of)(struct daemon *d, const char *rule,
				   uint8_t mode);
	void (*child_change)(struct daemon *d, const char *rule,
			     uint8_t mode, uint8_t family,
			     const uint8_t *peer, bool up);
	void *dplink;
	void *agent;			/* daemon_agent.c */
};

/* Receive one datagram (net.c, the tests). */
void daemon_input(struct daemon *d, const struct ike_dgram *dg);

/* Broken invariant: log and abort.  Never for bad input. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2),
						noreturn));

#endif /* IXDP_IKE_SA_ENGINE_H */
