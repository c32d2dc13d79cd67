// SPDX-License-Identifier: GPL-2.0-only
/*
 * sa_exchange_create_kernel.c - what the kernel starts: ACQUIRE negotiates a CHILD SA, EXPIRE rekeys or deletes one, and idle CHILD SAs are deleted
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sa/sa_child.h"
#include "sa/sa_log.h"
#include "sa/sa_ikesa.h"
#include "sa/sa_exchange.h"
#include "kernel/kernel.h"
#include "sa/sa_exchange_create_internal.h"

/* ---- the kernel ---------------------------------------------------------------------- */

static void sockaddr_of(const struct ikk_addr *a, uint16_t port,
			struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_addr = a->u.v4;
		s4->sin_port = htons(port);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = a->u.v6;
		s6->sin6_port = htons(port);
	}
}

static void acquire(struct daemon *d, const struct ikk_event *ev)
{
	struct sockaddr_storage peer;
	char p[ADDR_STR_MAX], err[300];
	struct ikesa *sa;
	uint64_t serial, left;

	if (ev->dst.family != AF_INET && ev->dst.family != AF_INET6)
		return;
	sockaddr_of(&ev->dst, d->port, &peer);
	sa = ikesa_find_peer(d, &peer);
	if ((!sa || sa->state == IKESA_ESTABLISHED) &&
	    backoff_holds(d, &peer, &left)) {
		/* counted; the step was logged: the next ACQUIRE asks again */
		log_debug("kernel ACQUIRE for %s: held back after failed "
			  "negotiations, %" PRIu64 " ms more",
			  addr_str(&peer, p, sizeof(p)), left);
		return;
	}
	if (sa && sa->state == IKESA_ESTABLISHED) {
		ikelog(d, IKELOG_DETAIL, sa, "kernel ACQUIRE: a CHILD SA on "
		       "this IKE SA");
		want_new_child(d, sa, &ev->sel, NULL, ev->seq);
		return;
	}
	if (sa)
		return;		/* a negotiation with the peer is under way */
	log_info("kernel ACQUIRE for %s: starting IKE",
		 addr_str(&peer, p, sizeof(p)));
	if (exch_init_start(d, &peer, &serial, err, sizeof(err)))
		log_warn("kernel ACQUIRE for %s: cannot start IKE: %s", p, err);
	else if ((sa = ikesa_find_serial(d, serial)) != NULL)
		sa->acquire_seq = ev->seq;
}

static void expire(struct daemon *d, const struct ikk_event *ev)
{
	bool inbound = false;
	struct ikesa *sa = child_owner(d, ev->spi, &inbound);
	struct child_sa *c;

	if (!sa)
		return;		/* one of ours already gone */
	c = inbound ? child_find(sa, ev->spi, 0) : child_find(sa, 0, ev->spi);
	if (!c || c->dying)
		return;
	ikelog(d, IKELOG_DETAIL, sa, "kernel %s EXPIRE of spi=%08" PRIx32,
	       ev->hard ? "hard" : "soft", ev->spi);
	if (ev->hard)
		exch_create_delete_child(d, sa, c->spi_in, "hard lifetime");
	else
		exch_create_rekey_child(d, sa, c->spi_in);
}

void exch_create_kernel_event(struct daemon *d, const struct ikk_event *ev)
{
	switch (ev->type) {
	case IKK_EV_ACQUIRE:
		acquire(d, ev);
		break;
	case IKK_EV_EXPIRE:
		if (ev->proto == IPPROTO_ESP || ev->proto == IPPROTO_AH)
			expire(d, ev);
		break;
	case IKK_EV_OVERRUN:
		log_warn("xfrm events were lost (socket overrun): some ACQUIRE "
			 "or EXPIRE went unseen");
		break;
	default:
		break;
	}
}

/* ---- idle CHILD SAs -------------------------------------------------------------------- */

static uint64_t idle_period_ms(const struct daemon *d)
{
	uint64_t p = (uint64_t)d->tun.child_idle_s * 1000 / 4;

	return p < 1000 ? 1000 : p > 60000 ? 60000 : p;
}

static void idle_visit(struct daemon *d, struct ikesa *sa, void *arg)
{
	uint64_t now = daemon_now_ms(d), idle = *(uint64_t *)arg, bytes;
	struct child_sa *c;
	size_t i;

	if (sa->state != IKESA_ESTABLISHED)
		return;
	for (i = 0; (c = child_at(sa, i)) != NULL; i++) {
		if (c->dying || child_bytes(d, c, &bytes))
			continue;
		if (bytes != c->seen_bytes) {
			c->seen_bytes = bytes;
			c->active_ms = now;
		} else if (now - c->active_ms >= idle) {
			ikelog(d, IKELOG_OUTCOME, sa, "CHILD SA spi-in=%08"
			       PRIx32 " idle for %" PRIu64 " s: deleting",
			       c->spi_in, (now - c->active_ms) / 1000);
			exch_create_delete_child(d, sa, c->spi_in, "idle");
		}
	}
}

void exch_create_idle_check(struct daemon *d, void *arg)
{
	struct cc_daemon *cd = d->create;
	uint64_t idle = (uint64_t)d->tun.child_idle_s * 1000;

	if (!cd || !idle)
		return;
	ikesa_foreach(d, idle_visit, &idle);
	timer_arm(&cd->t_idle, idle_period_ms(d));
}

int exch_create_use(struct daemon *d)
{
	struct cc_daemon *cd = calloc(1, sizeof(*cd));

	if (!cd)
		return -1;
	timer_init(d, &cd->t_idle, exch_create_idle_check, NULL);
	d->create = cd;
	if (d->tun.child_idle_s)
		timer_arm(&cd->t_idle, idle_period_ms(d));
	return 0;
}

void exch_create_release(struct daemon *d)
{
	struct cc_daemon *cd = d->create;

	if (!cd)
		return;
	timer_release(&cd->t_idle);
	free(cd);
	d->create = NULL;
}
