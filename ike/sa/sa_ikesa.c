// SPDX-License-Identifier: GPL-2.0-only
/*
 * ikesa.c - the IKE SA table, states, message ID windows, retransmission,
 * and the dispatch of received messages; see ikesa.h.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sa/sa_log.h"
#include "sa/sa_ikesa.h"
#include "sa/sa_proposal.h"

/* The hash tables grow with the SAs and tombs they hold (tombs of closed
 * SAs stay 10 s: tens of thousands under load), keeping chains at two
 * entries or fewer. */
#define IKESA_BUCKETS_MIN 1024		/* powers of two */
#define IKESA_BUCKETS_MAX (1u << 20)

LIST_HEAD(ikesa_list, ikesa);
TAILQ_HEAD(ikesa_tailq, ikesa);

/*
 * A closed SA is kept tun.linger_ms only to answer a retransmission of
 * the peer's last request from the cached response, and to drop anything
 * else sent to it quietly (ST_DROP_SA_CLOSED).  That takes its SPIs, the
 * peer and the response: a tomb of a few hundred bytes.  The 5 KB SA is
 * freed once the callback that closed it has returned (its t_life timer,
 * armed for 0 ms): under load tens of thousands of SAs close every 10 s.
 */
struct ikesa_tomb {
	LIST_ENTRY(ikesa_tomb) by_local, by_ispi;
	TAILQ_ENTRY(ikesa_tomb) fifo;	/* by expiry: all linger as long */
	uint64_t serial, ispi, rspi, expires_ms;
	struct sockaddr_storage peer;
	bool initiator, have_resp, resp_train;
	uint32_t resp_msgid, peer_next;
	size_t resp_len;
	uint8_t resp[];
};

LIST_HEAD(tomb_list, ikesa_tomb);
TAILQ_HEAD(tomb_tailq, ikesa_tomb);

static void reasm_free(struct ike_reasm **rp);	/* IKE fragmentation */

struct ikesa_table {
	size_t nbuckets;
	struct ikesa_list *by_local, *by_ispi, *by_peer;
	struct tomb_list *tomb_local, *tomb_ispi;
	struct ikesa_tailq all;
	struct tomb_tailq tombs;
	struct ike_timer t_tombs;	/* the oldest tomb's expiry */
	bool t_tombs_ready;
	size_t count;		/* SAs and tombs in the table */
	size_t half_open;	/* responder SAs in AUTH_WAIT */
	/* the hash key: peers choose their SPIs and addresses, so that
	 * they cannot choose them all into one chain */
	uint64_t mult;		/* odd */
	uint32_t fnv_basis;
};

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

static size_t spi_bucket(const struct ikesa_table *t, uint64_t spi)
{
	return bucket_of(t, spi);
}

static size_t addr_bucket(const struct ikesa_table *t,
			  const struct sockaddr_storage *ss)
{
	size_t len, i;
	const uint8_t *b = addr_bytes(ss, &len);
	uint32_t h = t->fnv_basis;	/* FNV-1a, seeded */

	for (i = 0; i < len; i++)
		h = (h ^ b[i]) * 16777619u;
	return bucket_of(t, h);
}

static uint64_t local_spi(const struct ikesa *sa)
{
	return sa->initiator ? sa->ispi : sa->rspi;
}

static uint64_t remote_spi(const struct ikesa *sa)
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
static const struct exchange_ops *exchange_of(struct daemon *d, uint8_t type)
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
static void exchanges_send_wanted(struct daemon *d, struct ikesa *sa)
{
	const struct exchange_ops *info =
		exchange_of(d, IKEV2_EXCH_INFORMATIONAL);

	if (info->send_wanted)
		info->send_wanted(d, sa);
}

/* ---- the table ------------------------------------------------------------- */

/* The hash lists, n buckets each, empty. */
struct buckets {
	struct ikesa_list *local, *ispi, *peer;
	struct tomb_list *tomb_local, *tomb_ispi;
};

static void buckets_free(struct buckets *b)
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

static void buckets_of(const struct ikesa_table *t, struct buckets *b)
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

static uint64_t tomb_local_spi(const struct ikesa_tomb *tb)
{
	return tb->initiator ? tb->ispi : tb->rspi;
}

static void tomb_link(struct ikesa_table *t, struct ikesa_tomb *tb)
{
	LIST_INSERT_HEAD(&t->tomb_local[spi_bucket(t, tomb_local_spi(tb))],
			 tb, by_local);
	LIST_INSERT_HEAD(&t->tomb_ispi[spi_bucket(t, tb->ispi)], tb, by_ispi);
}

/* Twice the buckets once there are more than two entries per bucket;
 * without memory for that, the chains just get longer. */
static void table_grow(struct ikesa_table *t)
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

static void ikesa_free(struct daemon *d, struct ikesa *sa)
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

/* ---- IKE fragmentation (RFC 7383) -------------------------------------------- */

#define IKE_FRAG_MAX 64		/* fragments of one message, either way */

/* A fragmented message coming in: each fragment checked and decrypted as
 * it arrives, its plaintext kept here until all have come. */
struct ike_reasm {
	uint32_t msgid;
	uint8_t exchange;
	uint8_t first;			/* first inner payload (fragment 1) */
	uint16_t total, have;
	size_t bytes;
	uint8_t *piece[IKE_FRAG_MAX];
	size_t piece_len[IKE_FRAG_MAX];
};

static void reasm_free(struct ike_reasm **rp)
{
	struct ike_reasm *r = *rp;
	size_t i;

	if (!r)
		return;
	for (i = 0; i < IKE_FRAG_MAX; i++)
		if (r->piece[i]) {
			ike_wipe(r->piece[i], r->piece_len[i]);
			free(r->piece[i]);
		}
	free(r);
	*rp = NULL;
}

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Whether msg is a whole message or its fragment 1: a request sent again
 * is answered once, not once per fragment (RFC 7383 §2.6.1). */
static bool first_of_message(const struct ike_msg *msg)
{
	const struct ike_payload *sk;

	if (msg->sk_index == IKE_MSG_NO_SK)
		return true;
	sk = &msg->pl[msg->sk_index];
	return sk->type != IKEV2_PL_SKF || sk->len < IKE_SKF_PREFIX_LEN ||
	       get_be16(sk->body) == 1;
}

/* Send what a blob holds: one datagram, or a train of fragments.  As
 * ikesa_send: 0, or -1 when one could not be sent. */
static int send_blob(struct daemon *d, const struct ike_path *path,
		     const uint8_t *p, size_t len, bool train)
{
	size_t off = 0, n;
	int rc = 0;

	if (!train)
		return ikesa_send(d, path, p, len);
	while (len - off >= 2) {
		n = get_be16(p + off);
		off += 2;
		if (n > len - off)
			fatal("a broken train of IKE fragments");
		if (ikesa_send(d, path, p + off, n))
			rc = -1;
		off += n;
	}
	return rc;
}

/* The largest IKE message that fits the fragment size toward the peer;
 * 0: fragmentation not negotiated. */
static size_t fragment_room(const struct daemon *d, const struct ikesa *sa)
{
	size_t ip = sa->path.peer.ss_family == AF_INET6 ? 40 : 20;
	size_t natt = sa->natt ? 4 : 0;	/* the non-ESP marker */

	if (!sa->peer_frag || d->tun.fragment_size < FRAGMENT_SIZE_MIN)
		return 0;
	return d->tun.fragment_size - ip - 8 - natt;
}

/* plain sealed in as many fragments as the room needs, into out. */
static int seal_fragments(struct ikesa *sa, const struct ike_header *hdr,
			  uint8_t first, const uint8_t *plain, size_t len,
			  size_t room, struct ike_blob *out)
{
	size_t over = ike_skf_overhead(&sa->keys.suite), chunk, n, i;
	size_t off = 0, used = 0, flen;
	uint8_t *buf;

	if (room <= over)
		return -1;
	chunk = room - over;
	n = (len + chunk - 1) / chunk;
	if (n > IKE_FRAG_MAX)
		return -1;
	buf = malloc(n * (2 + room));
	if (!buf)
		return -1;
	for (i = 0; i < n; i++) {
		size_t piece = len - off < chunk ? len - off : chunk;

		if (ike_skf_seal(&sa->keys, sa->initiator, hdr, first,
				 (uint16_t)(i + 1), (uint16_t)n, plain + off,
				 piece, buf + used + 2, room, &flen) !=
		    IKE_CRYPTO_OK) {
			free(buf);
			return -1;
		}
		buf[used] = (uint8_t)(flen >> 8);
		buf[used + 1] = (uint8_t)flen;
		used += 2 + flen;
		off += piece;
	}
	free(out->p);
	out->p = buf;
	out->len = used;
	out->train = true;
	return 0;
}

/* ---- closed SAs: tombs ------------------------------------------------------ */

static void tomb_free(struct ikesa_table *t, struct ikesa_tomb *tb)
{
	LIST_REMOVE(tb, by_local);
	LIST_REMOVE(tb, by_ispi);
	TAILQ_REMOVE(&t->tombs, tb, fifo);
	t->count--;
	free(tb);
}

static void tombs_expire(struct daemon *d, void *arg)
{
	struct ikesa_table *t = arg;
	uint64_t now = daemon_now_ms(d);
	struct ikesa_tomb *tb;

	while ((tb = TAILQ_FIRST(&t->tombs)) && tb->expires_ms <= now)
		tomb_free(t, tb);
	if (tb)
		timer_arm(&t->t_tombs, tb->expires_ms - now);
}

/* What a closed SA must still answer, kept for tun.linger_ms; the SA
 * itself is freed by the caller.  Without memory there is no tomb: a
 * retransmission then finds nothing (unknown SPI). */
static void bury(struct daemon *d, const struct ikesa *sa)
{
	struct ikesa_table *t = d->sas;
	size_t resp_len = sa->have_resp ? sa->resp.len : 0;
	struct ikesa_tomb *tb = malloc(sizeof(*tb) + resp_len);

	if (!tb)
		return;
	tb->serial = sa->serial;
	tb->ispi = sa->ispi;
	tb->rspi = sa->rspi;
	tb->expires_ms = daemon_now_ms(d) + d->tun.linger_ms;
	tb->peer = sa->path.peer;
	tb->initiator = sa->initiator;
	tb->have_resp = resp_len > 0;
	tb->resp_msgid = sa->resp_msgid;
	tb->peer_next = sa->peer_next;
	tb->resp_len = resp_len;
	tb->resp_train = sa->resp.train;
	if (resp_len)
		memcpy(tb->resp, sa->resp.p, resp_len);
	if (!t->t_tombs_ready) {
		timer_init(d, &t->t_tombs, tombs_expire, t);
		t->t_tombs_ready = true;
	}
	if (TAILQ_EMPTY(&t->tombs))
		timer_arm(&t->t_tombs, d->tun.linger_ms);
	TAILQ_INSERT_TAIL(&t->tombs, tb, fifo);
	tomb_link(t, tb);
	t->count++;
	table_grow(t);
}

/* The tomb a message is for, found as ikesa_find() and ikesa_find_init()
 * find SAs. */
static struct ikesa_tomb *tomb_find(struct ikesa_table *t,
				    const struct ike_header *hdr,
				    const struct sockaddr_storage *peer)
{
	bool from_initiator = hdr->flags & IKEV2_FLAG_INITIATOR;
	uint64_t local = from_initiator ? hdr->rspi : hdr->ispi;
	uint64_t remote = from_initiator ? hdr->ispi : hdr->rspi;
	struct ikesa_tomb *tb;

	if (hdr->exchange == IKEV2_EXCH_IKE_SA_INIT && hdr->rspi == 0) {
		LIST_FOREACH(tb, &t->tomb_ispi[spi_bucket(t, hdr->ispi)],
			     by_ispi)
			if (!tb->initiator && tb->ispi == hdr->ispi &&
			    addr_port_equal(&tb->peer, peer))
				return tb;
		return NULL;
	}
	if (local == 0)
		return NULL;
	LIST_FOREACH(tb, &t->tomb_local[spi_bucket(t, local)], by_local)
		if (tomb_local_spi(tb) == local &&
		    tb->initiator != from_initiator &&
		    (tb->initiator ? tb->rspi : tb->ispi) == remote)
			return tb;
	return NULL;
}

/* A message for a closed SA: the peer's last request again gets the
 * cached response, anything else is dropped.  false: no such tomb. */
static bool tomb_input(struct daemon *d, const struct ike_dgram *dg,
		       const struct ike_msg *msg)
{
	struct ikesa_tomb *tb = tomb_find(d->sas, &msg->hdr, &dg->path.peer);
	uint32_t id = msg->hdr.msgid;

	if (!tb)
		return false;
	if (!(msg->hdr.flags & IKEV2_FLAG_RESPONSE) && tb->have_resp &&
	    id == tb->resp_msgid && id + 1 == tb->peer_next) {
		if (!first_of_message(msg))
			return true;
		d->stats.v[ST_RESPONSES_RESENT]++;
		ikelog(d, IKELOG_DETAIL, NULL, "ike[%" PRIu64 "] request "
		       "id=%" PRIu32 " again: answered from the cache (the IKE "
		       "SA is closed)", tb->serial, id);
		send_blob(d, &dg->path, tb->resp, tb->resp_len,
			  tb->resp_train);
	} else {
		ike_drop(d, ST_DROP_SA_CLOSED, dg, &msg->hdr,
			 "IKE SA is closed");
	}
	return true;
}

void ikesa_table_free(struct daemon *d)
{
	struct ikesa_tomb *tb;
	struct ikesa *sa;
	struct buckets b;

	if (!d->sas)
		return;
	while ((sa = TAILQ_FIRST(&d->sas->all)) != NULL)
		ikesa_free(d, sa);
	while ((tb = TAILQ_FIRST(&d->sas->tombs)) != NULL)
		tomb_free(d->sas, tb);
	if (d->sas->t_tombs_ready)
		timer_release(&d->sas->t_tombs);
	buckets_of(d->sas, &b);
	buckets_free(&b);
	free(d->sas);
	d->sas = NULL;
}

struct ikesa *ikesa_find(struct daemon *d, const struct ike_header *hdr)
{
	bool from_initiator = hdr->flags & IKEV2_FLAG_INITIATOR;
	uint64_t local = from_initiator ? hdr->rspi : hdr->ispi;
	uint64_t remote = from_initiator ? hdr->ispi : hdr->rspi;
	struct ikesa *sa;

	if (local == 0)
		return NULL;
	LIST_FOREACH(sa, &d->sas->by_local[spi_bucket(d->sas, local)], by_local) {
		if (local_spi(sa) != local || sa->initiator == from_initiator)
			continue;
		if (remote_spi(sa) == remote)
			return sa;
		/* the IKE_SA_INIT response tells the initiator the SPIr */
		if (sa->initiator && sa->state == IKESA_INIT_SENT &&
		    hdr->exchange == IKEV2_EXCH_IKE_SA_INIT)
			return sa;
	}
	return NULL;
}

struct ikesa *ikesa_find_init(struct daemon *d, uint64_t ispi,
			      const struct sockaddr_storage *peer)
{
	struct ikesa *sa;

	LIST_FOREACH(sa, &d->sas->by_ispi[spi_bucket(d->sas, ispi)], by_ispi)
		if (!sa->initiator && sa->ispi == ispi &&
		    addr_port_equal(&sa->path.peer, peer))
			return sa;
	return NULL;
}

struct ikesa *ikesa_find_spi(struct daemon *d, uint64_t spi)
{
	struct ikesa *sa;

	TAILQ_FOREACH(sa, &d->sas->all, all)
		if (sa->state != IKESA_CLOSED &&
		    (sa->ispi == spi || sa->rspi == spi))
			return sa;
	return NULL;
}

struct ikesa *ikesa_find_serial(struct daemon *d, uint64_t serial)
{
	struct ikesa *sa;

	TAILQ_FOREACH(sa, &d->sas->all, all)
		if (sa->serial == serial)
			return sa;
	return NULL;
}

struct ikesa *ikesa_find_peer(struct daemon *d,
			      const struct sockaddr_storage *peer)
{
	struct ikesa *sa, *any = NULL;

	LIST_FOREACH(sa, &d->sas->by_peer[addr_bucket(d->sas, peer)], by_peer) {
		if (sa->state == IKESA_CLOSED ||
		    !addr_equal(&sa->path.peer, peer))
			continue;
		if (sa->state == IKESA_ESTABLISHED)
			return sa;
		if (!any)
			any = sa;
	}
	return any;
}

bool ikesa_half_open_state(const struct ikesa *sa)
{
	return sa->state == IKESA_INIT_SENT || sa->state == IKESA_AUTH_WAIT ||
	       sa->state == IKESA_AUTH_SENT;
}

size_t ikesa_half_open(struct daemon *d, const struct sockaddr_storage *peer,
		       bool with_port)
{
	struct ikesa *sa;
	size_t n = 0;

	LIST_FOREACH(sa, &d->sas->by_peer[addr_bucket(d->sas, peer)], by_peer)
		if (!sa->initiator && sa->state == IKESA_AUTH_WAIT &&
		    (with_port ? addr_port_equal(&sa->path.peer, peer)
			       : addr_equal(&sa->path.peer, peer)))
			n++;
	return n;
}

size_t ikesa_half_open_all(struct daemon *d)
{
	return d->sas->half_open;
}

bool ikesa_peer_established(struct daemon *d,
			    const struct sockaddr_storage *peer)
{
	struct ikesa *sa;

	LIST_FOREACH(sa, &d->sas->by_peer[addr_bucket(d->sas, peer)], by_peer)
		if (sa->state == IKESA_ESTABLISHED &&
		    addr_equal(&sa->path.peer, peer))
			return true;
	return false;
}

void ikesa_count(struct daemon *d, size_t *established, size_t *negotiating)
{
	struct ikesa *sa;

	*established = *negotiating = 0;
	TAILQ_FOREACH(sa, &d->sas->all, all) {
		if (sa->state == IKESA_ESTABLISHED || sa->state == IKESA_DELETING)
			(*established)++;
		else if (ikesa_half_open_state(sa))
			(*negotiating)++;
	}
}

void ikesa_foreach(struct daemon *d, ikesa_visit visit, void *arg)
{
	struct ikesa *sa;

	/* a CLOSED SA is only freed by its timer, never by visit: the list
	 * stays as it is while we walk it */
	TAILQ_FOREACH(sa, &d->sas->all, all)
		if (sa->state != IKESA_CLOSED)
			visit(d, sa, arg);
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
	ikelog(d, IKELOG_OUTCOME, sa, "failed: no CHILD SA rule=%s "
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
	ikelog(d, IKELOG_OUTCOME, sa, "established rule=%s auth=%s%s "
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
	ikelog(d, IKELOG_OUTCOME, sa, "failed reason=\"%s\"", reason);
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
	ikelog(d, IKELOG_OUTCOME, sa, "deleted reason=\"%s\"", reason);
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

/* ---- sending ---------------------------------------------------------------- */

void ikesa_header(const struct ikesa *sa, uint8_t exchange, bool response,
		  uint32_t msgid, struct ike_header *hdr)
{
	memset(hdr, 0, sizeof(*hdr));
	hdr->ispi = sa->ispi;
	hdr->rspi = sa->rspi;
	hdr->version = IKEV2_VERSION;
	hdr->exchange = exchange;
	hdr->flags = (sa->initiator ? IKEV2_FLAG_INITIATOR : 0) |
		     (response ? IKEV2_FLAG_RESPONSE : 0);
	hdr->msgid = msgid;
}

int ikesa_send(struct daemon *d, const struct ike_path *path,
	       const uint8_t *msg, size_t len)
{
	d->stats.v[ST_MESSAGES_SENT]++;
	if (d->send(d, path, msg, len)) {
		d->stats.v[ST_SEND_ERRORS]++;
		return -1;
	}
	return 0;
}

static void log_sent(struct daemon *d, const struct ikesa *sa,
		     const struct ike_blob *b)
{
	const uint8_t *msg = b->train ? b->p + 2 : b->p;
	struct ike_header h;

	if (d->ikelogging < IKELOG_MESSAGES)
		return;
	ike_msg_parse_header(msg, b->train ? b->len - 2 : b->len, &h);
	ikelog(d, IKELOG_MESSAGES, sa, "sent %s %s id=%" PRIu32 " len=%zu%s",
	       exchange_name(h.exchange),
	       h.flags & IKEV2_FLAG_RESPONSE ? "response" : "request",
	       h.msgid, b->len, b->train ? " in fragments" : "");
}

static void start_request(struct daemon *d, struct ikesa *sa)
{
	sa->req_out = true;
	sa->req_tries = 1;
	log_sent(d, sa, &sa->req);
	send_blob(d, &sa->path, sa->req.p, sa->req.len, sa->req.train);
	if (sa->req_retransmit)
		timer_arm(&sa->t_retx, d->tun.retransmit_base_ms);
}

int ikesa_send_init_request(struct daemon *d, struct ikesa *sa,
			    const uint8_t *msg, size_t len)
{
	if (blob_set(&sa->req, msg, len))
		return -1;
	timer_stop(&sa->t_retx);
	sa->req_msgid = 0;
	sa->req_exchange = IKEV2_EXCH_IKE_SA_INIT;
	sa->req_next = 1;
	sa->req_retransmit = true;
	start_request(d, sa);
	return 0;
}

/* Seal plain under a header into a new blob: one message, or its
 * fragments when it is larger than the fragment size allows and the peer
 * takes fragments. */
static int seal(struct daemon *d, struct ikesa *sa,
		const struct ike_header *hdr, uint8_t first,
		const uint8_t *plain, size_t len, struct ike_blob *out)
{
	size_t cap = len + ike_sk_overhead(&sa->keys.suite), n = 0;
	size_t room = fragment_room(d, sa);
	uint8_t *buf;

	if (room && cap > room)
		return seal_fragments(sa, hdr, first, plain, len, room, out);
	buf = malloc(cap);
	if (!buf)
		return -1;
	if (ike_sk_seal(&sa->keys, sa->initiator, hdr, first, plain, len, buf,
			cap, &n) != IKE_CRYPTO_OK) {
		free(buf);
		return -1;
	}
	free(out->p);
	out->p = buf;
	out->len = n;
	out->train = false;
	return 0;
}

int ikesa_request(struct daemon *d, struct ikesa *sa, uint8_t exchange,
		  uint8_t first, const uint8_t *plain, size_t len,
		  bool retransmit)
{
	struct ike_header hdr;

	if (sa->req_out)
		fatal("IKE SA %" PRIu64 ": a second request while one is out",
		      sa->serial);
	if (!sa->have_keys)
		fatal("IKE SA %" PRIu64 ": encrypted request without keys",
		      sa->serial);
	ikesa_header(sa, exchange, false, sa->req_next, &hdr);
	if (seal(d, sa, &hdr, first, plain, len, &sa->req)) {
		log_err("IKE SA %" PRIu64 ": cannot seal a %s request",
			sa->serial, exchange_name(exchange));
		return -1;
	}
	sa->req_msgid = sa->req_next++;
	sa->req_exchange = exchange;
	sa->req_retransmit = retransmit;
	sa->req_kind = REQ_EXCHANGE;
	start_request(d, sa);
	return 0;
}

int ikesa_respond(struct daemon *d, struct ikesa *sa,
		  const struct ike_header *req, uint8_t first,
		  const uint8_t *plain, size_t len)
{
	struct ike_header hdr;

	ikesa_header(sa, req->exchange, true, req->msgid, &hdr);
	if (seal(d, sa, &hdr, first, plain, len, &sa->resp)) {
		log_err("IKE SA %" PRIu64 ": cannot seal a %s response",
			sa->serial, exchange_name(req->exchange));
		sa->have_resp = false;
		return -1;
	}
	sa->have_resp = true;
	sa->resp_msgid = req->msgid;
	sa->peer_next = req->msgid + 1;
	log_sent(d, sa, &sa->resp);
	return send_blob(d, &sa->reply_path, sa->resp.p, sa->resp.len,
			 sa->resp.train);
}

int ikesa_respond_init(struct daemon *d, struct ikesa *sa,
		       const uint8_t *msg, size_t len)
{
	if (blob_set(&sa->resp, msg, len))
		return -1;
	sa->have_resp = true;
	sa->resp_msgid = 0;
	sa->peer_next = 1;
	log_sent(d, sa, &sa->resp);
	return ikesa_send(d, &sa->reply_path, msg, len);
}

static void request_timed_out(struct daemon *d, struct ikesa *sa)
{
	const char *what = exchange_name(sa->req_exchange);
	unsigned tries = sa->req_tries;

	sa->req_out = false;
	switch (sa->state) {
	case IKESA_INIT_SENT:
	case IKESA_AUTH_SENT:
		ikesa_fail(d, sa, ST_PEER_TIMEOUTS, "no answer to %s after %u "
			   "transmissions", what, tries);
		break;
	case IKESA_DELETING:
		ikesa_close(d, sa, "%s (the peer did not answer the Delete)",
			    sa->close_reason[0] ? sa->close_reason
						: "deleted");
		break;
	default:
		d->stats.v[ST_PEER_TIMEOUTS]++;
		ikesa_close(d, sa, "peer not responding: no answer to %s "
			    "after %u transmissions", what, tries);
		break;
	}
}

void ikesa_retransmit(struct daemon *d, void *arg)
{
	struct ikesa *sa = arg;

	if (!sa->req_out || sa->state == IKESA_CLOSED)
		return;
	if (!sa->req_retransmit || sa->req_tries >= d->tun.retransmit_tries) {
		request_timed_out(d, sa);
		return;
	}
	d->stats.v[ST_RETRANSMITS]++;
	ikelog(d, IKELOG_DETAIL, sa, "retransmitting %s request id=%" PRIu32
	       " (try %u)", exchange_name(sa->req_exchange), sa->req_msgid,
	       sa->req_tries + 1);
	send_blob(d, &sa->path, sa->req.p, sa->req.len, sa->req.train);
	timer_arm(&sa->t_retx,
		  (uint64_t)d->tun.retransmit_base_ms << sa->req_tries);
	sa->req_tries++;
}

const struct ike_payload *sealed_find(const struct ike_msg *msg, uint8_t type,
				      const struct ike_payload *after)
{
	const struct ike_payload *pl = after;

	while ((pl = ike_msg_find(msg, type, pl)) != NULL)
		if (pl->decrypted)
			return pl;
	return NULL;
}

bool sealed_notify(const struct ike_msg *msg, uint16_t type,
		   struct ike_notify *out)
{
	const struct ike_payload *pl = NULL;

	while ((pl = sealed_find(msg, IKEV2_PL_NOTIFY, pl)) != NULL)
		if (ike_decode_notify(pl, out) == IKE_MSG_OK &&
		    out->type == type)
			return true;
	return false;
}

uint16_t sealed_error(const struct ike_msg *msg, struct ike_notify *out)
{
	const struct ike_payload *pl = NULL;

	while ((pl = sealed_find(msg, IKEV2_PL_NOTIFY, pl)) != NULL)
		if (ike_decode_notify(pl, out) == IKE_MSG_OK &&
		    out->type <= IKEV2_N_ERROR_MAX)
			return out->type;
	return 0;
}

/* ---- receiving ---------------------------------------------------------------- */

/* Decrypted payloads of the message in hand point into this; one message
 * at a time (one thread). */
static uint8_t plain_buf[IKEV2_MAX_MESSAGE_LEN];

static bool add_decrypted(struct daemon *d, struct ikesa *sa,
			  const struct ike_dgram *dg, struct ike_msg *msg,
			  size_t plain_len);

/* Where a fragment goes: the message in reassembly it belongs to, a new
 * one (a newer message, or the same sent again in more, smaller fragments:
 * RFC 7383 §2.6), or nowhere (NULL: dropped, counted). */
static struct ike_reasm **fragment_slot(struct daemon *d, struct ikesa *sa,
					const struct ike_dgram *dg,
					const struct ike_msg *msg,
					uint16_t num, uint16_t total)
{
	struct ike_reasm **rp =
		&sa->reasm[msg->hdr.flags & IKEV2_FLAG_RESPONSE ? 1 : 0];
	struct ike_reasm *r = *rp;

	if (num < 1 || num > total || total > IKE_FRAG_MAX) {
		ike_drop(d, ST_DROP_FRAGMENT, dg, &msg->hdr, "fragment %u of "
			 "%u (at most %u)", num, total, IKE_FRAG_MAX);
		return NULL;
	}
	if (r && (r->msgid != msg->hdr.msgid ||
		  r->exchange != msg->hdr.exchange || total > r->total))
		reasm_free(rp);
	else if (r && total < r->total) {
		ike_drop(d, ST_DROP_FRAGMENT, dg, &msg->hdr, "fragment of %u, "
			 "the message has %u", total, r->total);
		return NULL;
	} else if (r && r->piece[num - 1]) {
		ike_drop(d, ST_DROP_FRAGMENT, dg, &msg->hdr,
			 "fragment %u again", num);
		return NULL;
	}
	return rp;
}

/*
 * One Encrypted Fragment (RFC 7383 §2.6): checked and decrypted at once
 * (only authenticated fragments count), held until the message's last
 * one has come; then the payloads of the whole message go into msg as if
 * it had come in one piece.  false: dropped (counted) or waiting.
 */
static bool open_fragment(struct daemon *d, struct ikesa *sa,
			  const struct ike_dgram *dg, struct ike_msg *msg,
			  size_t *plain_len)
{
	struct ike_payload *skf = &msg->pl[msg->sk_index];
	struct ike_reasm **rp, *r;
	enum ike_crypto_err cerr;
	uint16_t num, total, i;
	size_t len = 0, off = 0;

	if (!sa->peer_frag) {
		ike_drop(d, ST_DROP_FRAGMENT, dg, &msg->hdr, "a fragment, but "
			 "IKE fragmentation was not negotiated");
		return false;
	}
	if (skf->len < IKE_SKF_PREFIX_LEN) {
		ike_drop(d, ST_DROP_BAD_PAYLOAD, dg, &msg->hdr,
			 "Encrypted Fragment payload too short");
		return false;
	}
	num = get_be16(skf->body);
	total = get_be16(skf->body + 2);
	/* nothing in the reassembly changes before the fragment proves to
	 * come from the peer: a forged one cannot disturb it */
	cerr = ike_sk_open(&sa->keys, !sa->initiator, msg, plain_buf,
			   sizeof(plain_buf), &len);
	if (cerr != IKE_CRYPTO_OK) {
		ike_drop(d, ST_DROP_INTEGRITY, dg, &msg->hdr, "fragment %u: %s",
			 num, ike_crypto_strerror(cerr));
		return false;
	}
	rp = fragment_slot(d, sa, dg, msg, num, total);
	if (!rp) {
		ike_wipe(plain_buf, len);
		return false;
	}
	r = *rp ? *rp : calloc(1, sizeof(*r));
	if (r && !*rp) {
		r->msgid = msg->hdr.msgid;
		r->exchange = msg->hdr.exchange;
		r->total = total;
		*rp = r;
	}
	if (!r || r->bytes + len > sizeof(plain_buf) ||
	    !(r->piece[num - 1] = malloc(len ? len : 1))) {
		ike_wipe(plain_buf, len);
		reasm_free(rp);
		ike_drop(d, ST_DROP_FRAGMENT, dg, &msg->hdr, "message too large "
			 "or no memory to reassemble it");
		return false;
	}
	memcpy(r->piece[num - 1], plain_buf, len);
	ike_wipe(plain_buf, len);
	r->piece_len[num - 1] = len;
	r->bytes += len;
	r->have++;
	if (num == 1)
		r->first = skf->next;
	if (r->have < r->total)
		return false;	/* more to come */
	for (i = 0; i < r->total; i++) {
		memcpy(plain_buf + off, r->piece[i], r->piece_len[i]);
		off += r->piece_len[i];
	}
	/* the payload chain starts where fragment 1 said */
	skf->next = r->first;
	reasm_free(rp);
	*plain_len = off;
	return add_decrypted(d, sa, dg, msg, off);
}

/* Check and decrypt the Encrypted payload (or a fragment, and the whole
 * message once complete); false: dropped (counted) or a fragment kept. */
static bool open_sk(struct daemon *d, struct ikesa *sa,
		    const struct ike_dgram *dg, struct ike_msg *msg,
		    size_t *plain_len)
{
	enum ike_crypto_err cerr;

	*plain_len = 0;
	if (!sa->have_keys) {
		ike_drop(d, ST_DROP_UNEXPECTED_EXCHANGE, dg, &msg->hdr,
			 "no keys yet");
		return false;
	}
	if (msg->sk_index == IKE_MSG_NO_SK) {
		ike_drop(d, ST_DROP_UNPROTECTED, dg, &msg->hdr,
			 "no Encrypted payload");
		return false;
	}
	if (msg->pl[msg->sk_index].type == IKEV2_PL_SKF)
		return open_fragment(d, sa, dg, msg, plain_len);
	cerr = ike_sk_open(&sa->keys, !sa->initiator, msg, plain_buf,
			   sizeof(plain_buf), plain_len);
	if (cerr != IKE_CRYPTO_OK) {
		ike_drop(d, ST_DROP_INTEGRITY, dg, &msg->hdr, "%s",
			 ike_crypto_strerror(cerr));
		return false;
	}
	return add_decrypted(d, sa, dg, msg, *plain_len);
}

/* The payloads in plain_buf into msg; false: dropped (counted). */
static bool add_decrypted(struct daemon *d, struct ikesa *sa,
			  const struct ike_dgram *dg, struct ike_msg *msg,
			  size_t plain_len)
{
	enum ike_msg_err merr;

	merr = ike_msg_add_decrypted(msg, plain_buf, plain_len);
	if (merr == IKE_MSG_E_UNSUPPORTED_CRITICAL &&
	    !(msg->hdr.flags & IKEV2_FLAG_RESPONSE) &&
	    msg->hdr.msgid == sa->peer_next) {
		uint8_t type = msg->err_payload_type;

		sa->reply_path = dg->path;
		d->stats.v[ST_UNSUPPORTED_CRITICAL_SENT]++;
		if (exchange_of(d, IKEV2_EXCH_INFORMATIONAL)->respond_notify)
			exchange_of(d, IKEV2_EXCH_INFORMATIONAL)->respond_notify(
				d, sa, &msg->hdr,
				IKEV2_N_UNSUPPORTED_CRITICAL_PAYLOAD, &type, 1);
	}
	if (merr != IKE_MSG_OK) {
		ike_drop(d, ST_DROP_MALFORMED, dg, &msg->hdr,
			 "inside the Encrypted payload: %s",
			 ike_msg_strerror(merr));
		return false;
	}
	return true;
}

/* A peer behind a NAT may change its port; we follow authenticated
 * messages (RFC 7296 §2.23). */
static void follow_peer(struct daemon *d, struct ikesa *sa,
			const struct ike_dgram *dg)
{
	bool on_natt = addr_port(&dg->path.local) == d->natt_port;
	char to[ADDR_STR_MAX + 8];

	sa->last_rx_ms = daemon_now_ms(d);
	if (!on_natt || (sa->natt && addr_port_equal(&sa->path.peer,
						     &dg->path.peer)))
		return;
	if (sa->natt && !sa->nat_peer && !sa->nat_local)
		return;		/* no NAT between us: the peer does not move */
	sa->path = dg->path;
	sa->natt = true;
	ikelog(d, IKELOG_DETAIL, sa, "peer now at %s (NAT-T port)",
	       addr_port_str(&dg->path.peer, to, sizeof(to)));
}

static void resend_response(struct daemon *d, struct ikesa *sa,
			    const struct ike_dgram *dg)
{
	d->stats.v[ST_RESPONSES_RESENT]++;
	ikelog(d, IKELOG_DETAIL, sa, "request id=%" PRIu32 " again: "
	       "answered from the cache", sa->resp_msgid);
	send_blob(d, &dg->path, sa->resp.p, sa->resp.len, sa->resp.train);
}

static void dispatch_request(struct daemon *d, struct ikesa *sa,
			     const struct ike_dgram *dg,
			     const struct ike_msg *msg)
{
	const struct exchange_ops *ops = exchange_of(d, msg->hdr.exchange);

	if (ops->request)
		ops->request(d, sa, dg, msg);
}

/* Which requests each state takes. */
static bool request_allowed(const struct ikesa *sa, uint8_t exchange)
{
	switch (exchange) {
	case IKEV2_EXCH_IKE_AUTH:
		return sa->state == IKESA_AUTH_WAIT;
	case IKEV2_EXCH_INFORMATIONAL:
	case IKEV2_EXCH_CREATE_CHILD_SA:
		return sa->state == IKESA_ESTABLISHED ||
		       sa->state == IKESA_DELETING;
	default:
		return false;
	}
}

static void handle_request(struct daemon *d, struct ikesa *sa,
			   const struct ike_dgram *dg, struct ike_msg *msg)
{
	uint32_t id = msg->hdr.msgid;
	size_t plain_len;

	if (sa->have_resp && id == sa->resp_msgid && id + 1 == sa->peer_next) {
		if (first_of_message(msg))
			resend_response(d, sa, dg);
		return;
	}
	if (sa->state == IKESA_CLOSED) {
		ike_drop(d, ST_DROP_SA_CLOSED, dg, &msg->hdr, "IKE SA is closed");
		return;
	}
	if (id != sa->peer_next) {
		ike_drop(d, ST_DROP_MSGID_WINDOW, dg, &msg->hdr,
			 "expected message ID %" PRIu32, sa->peer_next);
		return;
	}
	if (!request_allowed(sa, msg->hdr.exchange)) {
		ike_drop(d, ST_DROP_UNEXPECTED_EXCHANGE, dg, &msg->hdr,
			 "not in state %s", ikesa_state_name(sa->state));
		return;
	}
	if (!open_sk(d, sa, dg, msg, &plain_len))
		return;
	ikelog_message(d, sa, false, msg);
	follow_peer(d, sa, dg);
	sa->reply_path = dg->path;
	dispatch_request(d, sa, dg, msg);
	ike_wipe(plain_buf, plain_len);
}

static void handle_response(struct daemon *d, struct ikesa *sa,
			    const struct ike_dgram *dg, struct ike_msg *msg)
{
	size_t plain_len = 0;

	if (sa->state == IKESA_CLOSED) {
		ike_drop(d, ST_DROP_SA_CLOSED, dg, &msg->hdr, "IKE SA is closed");
		return;
	}
	if (!sa->req_out || msg->hdr.msgid != sa->req_msgid ||
	    msg->hdr.exchange != sa->req_exchange) {
		ike_drop(d, ST_DROP_UNEXPECTED_RESPONSE, dg, &msg->hdr,
			 "no such request outstanding");
		return;
	}
	if (!addr_equal(&dg->path.peer, &sa->path.peer)) {
		ike_drop(d, ST_DROP_WRONG_ADDRESS, dg, &msg->hdr,
			 "the IKE SA's peer is elsewhere");
		return;
	}
	if (msg->hdr.exchange != IKEV2_EXCH_IKE_SA_INIT &&
	    !open_sk(d, sa, dg, msg, &plain_len))
		return;
	ikelog_message(d, sa, false, msg);
	if (msg->hdr.exchange != IKEV2_EXCH_IKE_SA_INIT)
		follow_peer(d, sa, dg);
	sa->req_out = false;
	timer_stop(&sa->t_retx);
	if (exchange_of(d, msg->hdr.exchange)->response)
		exchange_of(d, msg->hdr.exchange)->response(d, sa, dg, msg);
	ike_wipe(plain_buf, plain_len);
	if (!sa->req_out && sa->state != IKESA_CLOSED)
		exchanges_send_wanted(d, sa);
}

/* An IKE_SA_INIT request (message ID 0, no SPIr). */
static void input_init_request(struct daemon *d, const struct ike_dgram *dg,
			       struct ike_msg *msg)
{
	struct ikesa *sa = ikesa_find_init(d, msg->hdr.ispi, &dg->path.peer);

	if (sa) {
		handle_request(d, sa, dg, msg);
		return;
	}
	if (tomb_input(d, dg, msg))
		return;
	if (!(msg->hdr.flags & IKEV2_FLAG_INITIATOR)) {
		ike_drop(d, ST_DROP_BAD_FLAGS, dg, &msg->hdr,
			 "IKE_SA_INIT request without the initiator flag");
		return;
	}
	if (exchange_of(d, IKEV2_EXCH_IKE_SA_INIT)->request)
		exchange_of(d, IKEV2_EXCH_IKE_SA_INIT)->request(d, NULL, dg,
								msg);
	else
		ike_drop(d, ST_DROP_UNEXPECTED_EXCHANGE, dg, &msg->hdr,
			 "IKE_SA_INIT is not served");
}

/* Where the message could not be read: count why. */
static void drop_unparsed(struct daemon *d, const struct ike_dgram *dg,
			  const struct ike_msg *msg, enum ike_msg_err err,
			  bool header_ok)
{
	enum ike_stat why = err == IKE_MSG_E_BAD_VERSION ? ST_DROP_BAD_VERSION
							 : ST_DROP_MALFORMED;

	ike_drop(d, why, dg, header_ok ? &msg->hdr : NULL, "%s at byte %zu",
		 ike_msg_strerror(err), msg->err_offset);
	if (exchange_of(d, IKEV2_EXCH_INFORMATIONAL)->unreadable)
		exchange_of(d, IKEV2_EXCH_INFORMATIONAL)->unreadable(d, dg, msg,
								     err);
}

static struct ike_msg in_msg;	/* too large for the stack of a test */

void daemon_input(struct daemon *d, const struct ike_dgram *dg)
{
	struct ike_msg *msg = &in_msg;
	enum ike_msg_err err;
	struct ikesa *sa;
	bool response;

	d->stats.v[ST_MESSAGES_RECEIVED]++;
	err = ike_msg_parse(dg->buf, dg->len, msg);
	if (err != IKE_MSG_OK) {
		drop_unparsed(d, dg, msg, err, dg->len >= IKEV2_HEADER_LEN &&
			      err != IKE_MSG_E_BAD_VERSION);
		return;
	}
	response = msg->hdr.flags & IKEV2_FLAG_RESPONSE;
	if (msg->hdr.exchange == IKEV2_EXCH_IKE_SA_INIT && !response &&
	    msg->hdr.rspi == 0) {
		if (msg->hdr.msgid != 0)
			ike_drop(d, ST_DROP_MSGID_WINDOW, dg, &msg->hdr,
				 "IKE_SA_INIT must have message ID 0");
		else
			input_init_request(d, dg, msg);
		return;
	}
	sa = ikesa_find(d, &msg->hdr);
	if (!sa && tomb_input(d, dg, msg))
		return;
	if (!sa) {
		ike_drop(d, ST_DROP_UNKNOWN_SPI, dg, &msg->hdr,
			 "no IKE SA with these SPIs");
		if (!response && msg->sk_index != IKE_MSG_NO_SK &&
		    exchange_of(d, IKEV2_EXCH_INFORMATIONAL)->invalid_spi)
			exchange_of(d, IKEV2_EXCH_INFORMATIONAL)->invalid_spi(
				d, dg, &msg->hdr);
		return;
	}
	if (response)
		handle_response(d, sa, dg, msg);
	else
		handle_request(d, sa, dg, msg);
}
