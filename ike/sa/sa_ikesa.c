// SPDX-License-Identifier: GPL-2.0-only
/*
 * sa_ikesa.c - the IKE SA table (hashing, growing, finding), the
 * exchanges' tables, states and the SAs' life; see sa_ikesa.h.  Sending
 * and retransmission are in sa_send.c, receiving and the dispatch in
 * sa_input.c, fragments in sa_frag.c, closed SAs in sa_tomb.c.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sa/sa_log.h"
#include "sa/sa_ikesa.h"
#include "sa/sa_proposal.h"
#include "sa/sa_ikesa_internal.h"

static const char *const state_names[] = {
	[IKESA_INIT_SENT]   = "init-sent",
	[IKESA_AUTH_WAIT]   = "auth-wait",
	[IKESA_AUTH_SENT]   = "auth-sent",
	[IKESA_ESTABLISHED] = "established",
	[IKESA_DELETING]    = "deleting",
	[IKESA_CLOSED]      = "closed",
};

const char *ikesa_state_name(enum ikesa_state s)
{
	return (unsigned)s <= IKESA_CLOSED ? state_names[s] : "unknown";
}

/* ---- hashing ------------------------------------------------------------- */

/* Multiply-shift with a random odd multiplier: the top bits of the
 * product, a universal hash of the 64-bit value. */
static size_t bucket_of(const struct ikesa_table *t, uint64_t v)
{
	unsigned bits = (unsigned)__builtin_ctzll(t->nbuckets);

	return (size_t)((v * t->mult) >> (64 - bits));
}

size_t spi_bucket(const struct ikesa_table *t, uint64_t spi)
{
	return bucket_of(t, spi);
}

size_t addr_bucket(const struct ikesa_table *t,
		   const struct sockaddr_storage *ss)
{
	size_t len, i;
	const uint8_t *b = addr_bytes(ss, &len);
	uint32_t h = t->fnv_basis;	/* FNV-1a, seeded */

	for (i = 0; i < len; i++)
		h = (h ^ b[i]) * 16777619u;
	return bucket_of(t, h);
}

uint64_t local_spi(const struct ikesa *sa)
{
	return sa->initiator ? sa->ispi : sa->rspi;
}

uint64_t remote_spi(const struct ikesa *sa)
{
	return sa->initiator ? sa->rspi : sa->ispi;
}

/* ---- the exchanges' tables ------------------------------------------------ */

static const struct exchange_ops no_exchange;	/* every hook NULL */

int ikesa_register_exchange(struct daemon *d, const struct exchange_ops *ops)
{
	if (ops->type < IKEV2_EXCH_IKE_SA_INIT ||
	    ops->type >= IKEV2_EXCH_IKE_SA_INIT + IKE_EXCHANGE_TYPES)
		return -1;
	d->exchanges[ops->type - IKEV2_EXCH_IKE_SA_INIT] = ops;
	return 0;
}

/* The table of an exchange type: never NULL (no_exchange when none is
 * registered or the type is unknown). */
const struct exchange_ops *exchange_of(struct daemon *d, uint8_t type)
{
	const struct exchange_ops *ops = NULL;

	if (type >= IKEV2_EXCH_IKE_SA_INIT &&
	    type < IKEV2_EXCH_IKE_SA_INIT + IKE_EXCHANGE_TYPES)
		ops = d->exchanges[type - IKEV2_EXCH_IKE_SA_INIT];
	return ops ? ops : &no_exchange;
}

static void exchanges_sa_gone(struct daemon *d, struct ikesa *sa)
{
	for (size_t i = 0; i < IKE_EXCHANGE_TYPES; i++)
		if (d->exchanges[i] && d->exchanges[i]->sa_gone)
			d->exchanges[i]->sa_gone(d, sa);
}

/* The next wanted request (Delete, liveness check: INFORMATIONAL's, which
 * hands over to CREATE_CHILD_SA's own wants). */
void exchanges_send_wanted(struct daemon *d, struct ikesa *sa)
{
	const struct exchange_ops *info =
		exchange_of(d, IKEV2_EXCH_INFORMATIONAL);

	if (info->send_wanted)
		info->send_wanted(d, sa);
}

/* ---- the table ------------------------------------------------------------- */

void buckets_free(struct buckets *b)
{
	free(b->local);
	free(b->ispi);
	free(b->peer);
	free(b->tomb_local);
	free(b->tomb_ispi);
}

/* false: no memory. */
static bool buckets_new(size_t n, struct buckets *b)
{
	size_t i;

	b->local = calloc(n, sizeof(*b->local));
	b->ispi = calloc(n, sizeof(*b->ispi));
	b->peer = calloc(n, sizeof(*b->peer));
	b->tomb_local = calloc(n, sizeof(*b->tomb_local));
	b->tomb_ispi = calloc(n, sizeof(*b->tomb_ispi));
	if (!b->local || !b->ispi || !b->peer || !b->tomb_local ||
	    !b->tomb_ispi) {
		buckets_free(b);
		return false;
	}
	for (i = 0; i < n; i++) {
		LIST_INIT(&b->local[i]);
		LIST_INIT(&b->ispi[i]);
		LIST_INIT(&b->peer[i]);
		LIST_INIT(&b->tomb_local[i]);
		LIST_INIT(&b->tomb_ispi[i]);
	}
	return true;
}

static void buckets_use(struct ikesa_table *t, const struct buckets *b,
			size_t n)
{
	t->by_local = b->local;
	t->by_ispi = b->ispi;
	t->by_peer = b->peer;
	t->tomb_local = b->tomb_local;
	t->tomb_ispi = b->tomb_ispi;
	t->nbuckets = n;
}

void buckets_of(const struct ikesa_table *t, struct buckets *b)
{
	*b = (struct buckets){ t->by_local, t->by_ispi, t->by_peer,
			       t->tomb_local, t->tomb_ispi };
}

struct ikesa_table *ikesa_table_new(void)
{
	struct ikesa_table *t = calloc(1, sizeof(*t));
	struct buckets b;

	if (!t)
		return NULL;
	if (!buckets_new(IKESA_BUCKETS_MIN, &b)) {
		free(t);
		return NULL;
	}
	buckets_use(t, &b, IKESA_BUCKETS_MIN);
	TAILQ_INIT(&t->tombs);
	if (ike_random(&t->mult, sizeof(t->mult)) != IKE_CRYPTO_OK ||
	    ike_random(&t->fnv_basis, sizeof(t->fnv_basis)) != IKE_CRYPTO_OK)
		fatal("no random bytes for the IKE SA table");
	t->mult |= 1;
	TAILQ_INIT(&t->all);
	return t;
}

/* sa into the hash lists (by_peer too when peer_listed). */
static void hash_link(struct ikesa_table *t, struct ikesa *sa)
{
	LIST_INSERT_HEAD(&t->by_local[spi_bucket(t, local_spi(sa))], sa,
			 by_local);
	LIST_INSERT_HEAD(&t->by_ispi[spi_bucket(t, sa->ispi)], sa, by_ispi);
	if (sa->peer_listed)
		LIST_INSERT_HEAD(&t->by_peer[addr_bucket(t, &sa->path.peer)],
				 sa, by_peer);
}

uint64_t tomb_local_spi(const struct ikesa_tomb *tb)
{
	return tb->initiator ? tb->ispi : tb->rspi;
}

void tomb_link(struct ikesa_table *t, struct ikesa_tomb *tb)
{
	LIST_INSERT_HEAD(&t->tomb_local[spi_bucket(t, tomb_local_spi(tb))],
			 tb, by_local);
	LIST_INSERT_HEAD(&t->tomb_ispi[spi_bucket(t, tb->ispi)], tb, by_ispi);
}

/* Twice the buckets once there are more than two entries per bucket;
 * without memory for that, the chains just get longer. */
void table_grow(struct ikesa_table *t)
{
	struct buckets b, old;
	struct ikesa_tomb *tb;
	struct ikesa *sa;

	if (t->count <= 2 * t->nbuckets || t->nbuckets >= IKESA_BUCKETS_MAX ||
	    !buckets_new(2 * t->nbuckets, &b))
		return;
	buckets_of(t, &old);
	buckets_free(&old);
	buckets_use(t, &b, 2 * t->nbuckets);
	TAILQ_FOREACH(sa, &t->all, all)
		hash_link(t, sa);
	TAILQ_FOREACH(tb, &t->tombs, fifo)
		tomb_link(t, tb);
}

/* A new SA into the table. */
static void table_add(struct ikesa_table *t, struct ikesa *sa)
{
	sa->peer_listed = true;
	hash_link(t, sa);
	TAILQ_INSERT_TAIL(&t->all, sa, all);
	t->count++;
	table_grow(t);
}

static bool local_spi_taken(struct ikesa_table *t, uint64_t spi)
{
	struct ikesa_tomb *tb;
	struct ikesa *sa;

	LIST_FOREACH(sa, &t->by_local[spi_bucket(t, spi)], by_local)
		if (local_spi(sa) == spi)
			return true;
	LIST_FOREACH(tb, &t->tomb_local[spi_bucket(t, spi)], by_local)
		if (tomb_local_spi(tb) == spi)
			return true;
	return false;
}

static uint64_t new_local_spi(struct ikesa_table *t)
{
	uint64_t spi = 0;

	while (spi == 0 || local_spi_taken(t, spi))
		if (ike_random(&spi, sizeof(spi)) != IKE_CRYPTO_OK)
			fatal("no random bytes for an IKE SPI");
	return spi;
}

uint64_t ikesa_fresh_spi(struct daemon *d)
{
	return new_local_spi(d->sas);
}

static void life_timeout(struct daemon *d, void *arg);
static void liveness_timeout(struct daemon *d, void *arg);

struct ikesa *ikesa_new(struct daemon *d, bool initiator, uint64_t ispi,
			const struct ike_path *path,
			const struct peer_conf *conf)
{
	struct ikesa_table *t = d->sas;
	struct ikesa *sa = calloc(1, sizeof(*sa));

	if (!sa)
		return NULL;
	sa->serial = ++d->next_serial;
	sa->initiator = initiator;
	if (initiator)
		sa->ispi = new_local_spi(t);
	else {
		sa->ispi = ispi;
		sa->rspi = new_local_spi(t);
	}
	sa->state = initiator ? IKESA_INIT_SENT : IKESA_AUTH_WAIT;
	sa->path = *path;
	sa->reply_path = *path;
	sa->natt = addr_port(&path->local) == d->natt_port;
	sa->conf = *conf;
	sa->created_ms = sa->last_rx_ms = daemon_now_ms(d);
	timer_init(d, &sa->t_retx, ikesa_retransmit, sa);
	timer_init(d, &sa->t_life, life_timeout, sa);
	timer_init(d, &sa->t_live, liveness_timeout, sa);
	table_add(t, sa);
	if (!initiator)
		t->half_open++;
	return sa;
}

void ikesa_set_state(struct daemon *d, struct ikesa *sa,
		      enum ikesa_state s)
{
	if (!sa->initiator && sa->state == IKESA_AUTH_WAIT)
		d->sas->half_open--;
	if (!sa->initiator && s == IKESA_AUTH_WAIT)
		d->sas->half_open++;
	sa->state = s;
}

void blob_free(struct ike_blob *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
	b->train = false;
}

int blob_set(struct ike_blob *b, const uint8_t *p, size_t len)
{
	uint8_t *n = malloc(len ? len : 1);

	if (!n)
		return -1;
	memcpy(n, p, len);
	free(b->p);
	b->p = n;
	b->len = len;
	b->train = false;
	return 0;
}

/* A closed SA is never looked up by peer: it leaves the per-peer list at
 * once, whose walks (half-open counts, "is one up with this peer") are on
 * the path of every IKE_SA_INIT. */
static void peer_unlist(struct ikesa *sa)
{
	if (!sa->peer_listed)
		return;
	LIST_REMOVE(sa, by_peer);
	sa->peer_listed = false;
}

void ikesa_free(struct daemon *d, struct ikesa *sa)
{
	if (sa->state != IKESA_CLOSED)
		ikesa_set_state(d, sa, IKESA_CLOSED);
	LIST_REMOVE(sa, by_local);
	LIST_REMOVE(sa, by_ispi);
	peer_unlist(sa);
	TAILQ_REMOVE(&d->sas->all, sa, all);
	d->sas->count--;
	timer_release(&sa->t_retx);
	timer_release(&sa->t_life);
	timer_release(&sa->t_live);
	exchanges_sa_gone(d, sa);
	ike_dh_free(sa->dh);
	dh_reuse_forget(&d->dh_reuse, sa->dh_gen);
	reasm_free(&sa->reasm[0]);
	reasm_free(&sa->reasm[1]);
	ike_sa_keys_wipe(&sa->keys);
	ike_wipe(sa->ni, sizeof(sa->ni));
	ike_wipe(sa->nr, sizeof(sa->nr));
	blob_free(&sa->init_i);
	blob_free(&sa->init_r);
	blob_free(&sa->req);
	blob_free(&sa->resp);
	free(sa);
}

/* ---- life ----------------------------------------------------------------- */

static void close_sa(struct daemon *d, struct ikesa *sa, const char *reason)
{
	snprintf(sa->close_reason, sizeof(sa->close_reason), "%s", reason);
	ikesa_set_state(d, sa, IKESA_CLOSED);
	peer_unlist(sa);
	sa->req_out = false;
	sa->want_delete = sa->want_liveness = false;
	timer_stop(&sa->t_retx);
	timer_stop(&sa->t_live);
	exchanges_sa_gone(d, sa);
	blob_free(&sa->req);
	ike_dh_free(sa->dh);
	sa->dh = NULL;
	/* forward secrecy: a shared D-H pair is forgotten when its first
	 * IKE SA closes (dh_reuse.h) */
	dh_reuse_forget(&d->dh_reuse, sa->dh_gen);
	sa->dh_gen = 0;
	reasm_free(&sa->reasm[0]);
	reasm_free(&sa->reasm[1]);
	ike_sa_keys_wipe(&sa->keys);
	sa->have_keys = false;
	/* the callback that closed it may still use it: freed (and its
	 * tomb made) once it has returned */
	timer_arm(&sa->t_life, 0);
}

static void tell_waiter(struct daemon *d, struct ikesa *sa, bool ok,
			const char *text)
{
	if (sa->initiator && d->sa_outcome)
		d->sa_outcome(d, sa->serial, ok, text);
}

enum ike_stat fail_stat_of_notify(uint16_t type)
{
	switch (type) {
	case IKEV2_N_AUTHENTICATION_FAILED:
		return ST_FAIL_AUTH;
	case IKEV2_N_NO_PROPOSAL_CHOSEN:
		return ST_FAIL_NO_PROPOSAL;
	case IKEV2_N_TS_UNACCEPTABLE:
		return ST_FAIL_TS_UNACCEPTABLE;
	case IKEV2_N_INVALID_SYNTAX:
		return ST_FAIL_INVALID_SYNTAX;
	default:
		return ST_FAIL_OTHER;
	}
}

/* The ST_FAIL_* reason a failure counted under why stands for. */
static enum ike_stat fail_reason(enum ike_stat why)
{
	if (why >= ST_FAIL_FIRST && why <= ST_FAIL_LAST)
		return why;
	switch (why) {
	case ST_AUTH_FAILURES:
		return ST_FAIL_AUTH;
	case ST_NO_PROPOSAL_CHOSEN:
		return ST_FAIL_NO_PROPOSAL;
	case ST_PEER_TIMEOUTS:
		return ST_FAIL_TIMEOUT;
	default:
		return ST_FAIL_OTHER;
	}
}

void ikesa_child_failed(struct ikesa *sa, enum ike_stat why,
			const char *fmt, ...)
{
	va_list ap;

	if (sa->child_failed)
		return;		/* the first reason stands */
	sa->child_failed = true;
	sa->child_fail_stat = fail_reason(why);
	va_start(ap, fmt);
	vsnprintf(sa->child_fail_why, sizeof(sa->child_fail_why), fmt, ap);
	va_end(ap);
}

/* Up without the CHILD SA that was wanted: a failed negotiation all the
 * same (counted, backoff), the IKE SA stays. */
static void established_childless(struct daemon *d, struct ikesa *sa,
				  const char *spis)
{
	char text[600];

	d->stats.v[ST_NEG_FAILED]++;
	d->stats.v[sa->child_fail_stat]++;
	snprintf(text, sizeof(text), "IKE SA %s is up, but without the CHILD "
		 "SA %s: %s", spis, sa->initiator ? "its rule wants"
		 : "the peer asked for", sa->child_fail_why);
	ikelog_event(d, "failed", sa, "failed: no CHILD SA rule=%s "
	       "reason=\"%s\"", sa->conf.rule, sa->child_fail_why);
	if (sa->initiator)
		backoff_failed(d, &sa->path.peer, sa->child_fail_why);
	tell_waiter(d, sa, false, text);
}

void ikesa_established(struct daemon *d, struct ikesa *sa)
{
	char suite[128], lid[300], pid[300], spis[40];

	ikesa_set_state(d, sa, IKESA_ESTABLISHED);
	sa->established_ms = daemon_now_ms(d);
	d->stats.v[ST_IKE_SA_ESTABLISHED]++;
	/* no longer needed: the DH key pair, the messages AUTH covered */
	ike_dh_free(sa->dh);
	sa->dh = NULL;
	blob_free(&sa->init_i);
	blob_free(&sa->init_r);
	timer_stop(&sa->t_life);
	timer_arm(&sa->t_life, ikesa_rekey_ms(sa));
	if (d->tun.liveness_s)
		timer_arm(&sa->t_live, (uint64_t)d->tun.liveness_s * 1000);
	ikelog_event(d, "established", sa, "established rule=%s auth=%s%s "
	       "local-id=%s peer-id=%s suite=\"%s\"%s%s", sa->conf.rule,
	       sa->by_cert ? "certificate" : "psk:", sa->psk_id, ident_str(&sa->local_id, lid, sizeof(lid)),
	       ident_str(&sa->peer_id, pid, sizeof(pid)),
	       suite_str(&sa->keys.suite, suite, sizeof(suite)),
	       sa->natt ? " nat-t" : "", sa->child ? "" : " childless");
	snprintf(spis, sizeof(spis), "%016" PRIx64 ":%016" PRIx64, sa->ispi,
		 sa->rspi);
	if (sa->child_failed) {
		established_childless(d, sa, spis);
		return;
	}
	if (sa->initiator)
		backoff_succeeded(d, &sa->path.peer);
	tell_waiter(d, sa, true, spis);
}

uint64_t ikesa_rekey_ms(const struct ikesa *sa)
{
	uint64_t life = (uint64_t)sa->conf.lifetime_s * 1000;
	uint32_t r = 0;

	ike_random(&r, sizeof(r));
	return life - (life / 10) * (r % 1000) / 1000;
}

struct ikesa *ikesa_new_rekeyed(struct daemon *d, struct ikesa *old,
				bool initiator, uint64_t ispi, uint64_t rspi)
{
	struct ikesa_table *t = d->sas;
	struct ikesa *sa = calloc(1, sizeof(*sa));

	if (!sa)
		return NULL;
	sa->serial = ++d->next_serial;
	sa->initiator = initiator;
	sa->ispi = ispi;
	sa->rspi = rspi;
	sa->state = IKESA_ESTABLISHED;
	sa->path = old->path;
	sa->reply_path = old->path;
	sa->natt = old->natt;
	sa->nat_local = old->nat_local;
	sa->nat_peer = old->nat_peer;
	sa->conf = old->conf;
	memcpy(sa->psk_id, old->psk_id, sizeof(sa->psk_id));
	sa->by_cert = old->by_cert;
	sa->local_id = old->local_id;
	sa->peer_id = old->peer_id;
	sa->peer_childless = old->peer_childless;
	sa->peer_frag = old->peer_frag;
	sa->rekeyed_from = old->serial;
	sa->created_ms = sa->established_ms = sa->last_rx_ms =
		daemon_now_ms(d);
	timer_init(d, &sa->t_retx, ikesa_retransmit, sa);
	timer_init(d, &sa->t_life, life_timeout, sa);
	timer_init(d, &sa->t_live, liveness_timeout, sa);
	table_add(t, sa);
	timer_arm(&sa->t_life, ikesa_rekey_ms(sa));
	if (d->tun.liveness_s)
		timer_arm(&sa->t_live, (uint64_t)d->tun.liveness_s * 1000);
	return sa;
}

void ikesa_fail(struct daemon *d, struct ikesa *sa, enum ike_stat why,
		const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	if (sa->state == IKESA_CLOSED)
		return;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	d->stats.v[ST_NEG_FAILED]++;
	if (why < ST_COUNT && fail_reason(why) != why)
		d->stats.v[why]++;
	d->stats.v[fail_reason(why)]++;
	ikelog_event(d, "failed", sa, "failed reason=\"%s\"", reason);
	/* its CHILD SAs, or the SPI reserved for the one it asked for */
	if (d->child && d->child->ike_sa_down)
		d->child->ike_sa_down(d, sa);
	if (sa->initiator && !sa->rekeyed_from && !sa->stopped)
		backoff_failed(d, &sa->path.peer, reason);
	tell_waiter(d, sa, false, reason);
	close_sa(d, sa, reason);
}

void ikesa_close(struct daemon *d, struct ikesa *sa, const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	if (sa->state == IKESA_CLOSED)
		return;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (ikesa_half_open_state(sa)) {
		ikesa_fail(d, sa, ST_COUNT, "%s", reason);
		return;
	}
	d->stats.v[ST_IKE_SA_DELETED]++;
	ikelog_event(d, "deleted", sa, "deleted reason=\"%s\"", reason);
	if (d->child && d->child->ike_sa_down)
		d->child->ike_sa_down(d, sa);
	close_sa(d, sa, reason);
}

static void life_timeout(struct daemon *d, void *arg)
{
	struct ikesa *sa = arg;

	switch (sa->state) {
	case IKESA_CLOSED:
		bury(d, sa);
		ikesa_free(d, sa);
		break;
	case IKESA_AUTH_WAIT:
		ikesa_fail(d, sa, ST_PEER_TIMEOUTS, "no IKE_AUTH request "
			   "within %u s", d->tun.half_open_timeout_s);
		break;
	case IKESA_ESTABLISHED:
		if (exchange_of(d, IKEV2_EXCH_CREATE_CHILD_SA)->rekey_ike)
			exchange_of(d, IKEV2_EXCH_CREATE_CHILD_SA)->rekey_ike(d,
									      sa);
		break;
	default:
		break;
	}
}

static void liveness_timeout(struct daemon *d, void *arg)
{
	struct ikesa *sa = arg;
	uint64_t idle = daemon_now_ms(d) - sa->last_rx_ms;
	uint64_t every = (uint64_t)d->tun.liveness_s * 1000;

	if (sa->state != IKESA_ESTABLISHED || !every)
		return;
	if (idle >= every) {
		ikesa_want(d, sa, false, true);
		timer_arm(&sa->t_live, every);
	} else {
		timer_arm(&sa->t_live, every - idle);
	}
}

void ikesa_want(struct daemon *d, struct ikesa *sa, bool del, bool live)
{
	if (sa->state == IKESA_CLOSED)
		return;
	sa->want_delete |= del;
	sa->want_liveness |= live;
	if (!sa->req_out)
		exchanges_send_wanted(d, sa);
}
