// SPDX-License-Identifier: GPL-2.0-only
/* sa_backoff.c - the initiator's backoff per peer; see backoff.h. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sa/sa_backoff.h"
#include "sa/sa_engine.h"
#include "sa/sa_log.h"

uint64_t backoff_delay_ms(unsigned failures)
{
	uint64_t ms = BACKOFF_BASE_MS;

	if (!failures)
		return 0;
	while (--failures && ms < BACKOFF_MAX_MS)
		ms *= 2;
	return ms < BACKOFF_MAX_MS ? ms : BACKOFF_MAX_MS;
}

static struct backoff_peer *find(struct backoff *b,
				 const struct sockaddr_storage *peer)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		if (addr_equal(&b->p[i].addr, peer))
			return &b->p[i];
	return NULL;
}

/* A slot for peer: a free one, else the one whose delay ended first. */
static struct backoff_peer *slot(struct backoff *b,
				 const struct sockaddr_storage *peer)
{
	struct backoff_peer *e;
	size_t i, oldest = 0;

	if (!b->p) {
		b->p = calloc(BACKOFF_PEERS_MAX, sizeof(*b->p));
		if (!b->p)
			return NULL;
	}
	if (b->n < BACKOFF_PEERS_MAX) {
		e = &b->p[b->n++];
	} else {
		for (i = 1; i < b->n; i++)
			if (b->p[i].until_ms < b->p[oldest].until_ms)
				oldest = i;
		e = &b->p[oldest];
	}
	memset(e, 0, sizeof(*e));
	e->addr = *peer;
	addr_set_port(&e->addr, 0);
	return e;
}

static void forget(struct backoff *b, struct backoff_peer *e)
{
	*e = b->p[--b->n];
}

bool backoff_holds(struct daemon *d, const struct sockaddr_storage *peer,
		   uint64_t *left_ms)
{
	struct backoff_peer *e = find(&d->backoff, peer);
	uint64_t now = daemon_now_ms(d);

	if (!e || now >= e->until_ms)
		return false;
	*left_ms = e->until_ms - now;
	d->stats.v[ST_BACKOFF_HELD]++;
	return true;
}

void backoff_failed(struct daemon *d, const struct sockaddr_storage *peer,
		    const char *why)
{
	struct backoff_peer *e = find(&d->backoff, peer);
	uint64_t now = daemon_now_ms(d), delay;
	char a[ADDR_STR_MAX];

	if (e && now > e->until_ms && now - e->until_ms >= BACKOFF_FORGET_MS)
		e->failures = 0;	/* long quiet: start over */
	if (!e && !(e = slot(&d->backoff, peer))) {
		log_warn("peer %s: no memory to remember its failures: no "
			 "backoff", addr_str(peer, a, sizeof(a)));
		return;
	}
	if (e->failures < 64)
		e->failures++;
	delay = backoff_delay_ms(e->failures);
	e->until_ms = now + delay;
	d->stats.v[ST_BACKOFF_STEPS]++;
	log_info("peer %s: %u failed negotiation%s in a row (%s): "
		 "negotiations started by traffic wait %" PRIu64 ".%03u s",
		 addr_str(peer, a, sizeof(a)), e->failures,
		 e->failures == 1 ? "" : "s", why, delay / 1000,
		 (unsigned)(delay % 1000));
}

void backoff_succeeded(struct daemon *d, const struct sockaddr_storage *peer)
{
	struct backoff_peer *e = find(&d->backoff, peer);
	char a[ADDR_STR_MAX];

	if (!e)
		return;
	log_info("peer %s: negotiation succeeded after %u failure%s: no "
		 "more backoff", addr_str(peer, a, sizeof(a)), e->failures,
		 e->failures == 1 ? "" : "s");
	forget(&d->backoff, e);
}

void backoff_free(struct backoff *b)
{
	free(b->p);
	b->p = NULL;
	b->n = 0;
}
