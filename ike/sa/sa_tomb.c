// SPDX-License-Identifier: GPL-2.0-only
/*
 * sa_tomb.c - closed IKE SAs: tombs that answer late retransmissions and Deletes
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
void bury(struct daemon *d, const struct ikesa *sa)
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
bool tomb_input(struct daemon *d, const struct ike_dgram *dg,
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
