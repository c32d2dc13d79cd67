// SPDX-License-Identifier: GPL-2.0-only
/*
 * sa_engine.c - the engine's defaults and timers: the tunables' default
 * values, timers over d->timers (the event loop or the tests' fake clock).
 */
#include <string.h>

#include "sa/sa_engine.h"
#include "wire/wire_dh_reuse.h"

void ike_tunables_default(struct ike_tunables *t)
{
	t->retransmit_base_ms = 500;
	t->retransmit_tries = 5;
	t->half_open_timeout_s = 30;
	t->liveness_s = 60;
	t->linger_ms = 10000;
	t->half_open_per_addr = 35;
	t->half_open_per_addr_port = 5;
	t->cookie_threshold = 100;
	t->half_open_max = 20000;
	t->invalid_spi_per_s = 10;
	t->natt_keepalive_s = 20;	/* RFC 3948 §2.3 */
	t->child_idle_s = CHILD_IDLE_S;
	t->dh_reuse_ms = DH_REUSE_MAX_AGE_MS;
	t->fragment_size = FRAGMENT_SIZE_DEFAULT;
}

/* ---- timers ------------------------------------------------------------------ */

void timer_init(struct daemon *d, struct ike_timer *t, timer_cb cb, void *arg)
{
	memset(t, 0, sizeof(*t));
	t->d = d;
	t->cb = cb;
	t->arg = arg;
}

void timer_arm(struct ike_timer *t, uint64_t ms)
{
	t->d->timers->arm(t, ms);
	t->armed = true;
}

void timer_stop(struct ike_timer *t)
{
	if (t->armed)
		t->d->timers->stop(t);
	t->armed = false;
}

void timer_release(struct ike_timer *t)
{
	timer_stop(t);
	t->d->timers->release(t);
}

void timer_fire(struct ike_timer *t)
{
	t->armed = false;
	t->cb(t->d, t->arg);
}

uint64_t daemon_now_ms(struct daemon *d)
{
	return d->timers->now_ms(d);
}

void *loop_watch(struct daemon *d, int fd,
		 void (*cb)(struct daemon *d, void *arg), void *arg)
{
	if (!d->timers->watch || fd < 0)
		return NULL;
	return d->timers->watch(d, fd, cb, arg);
}

void loop_unwatch(struct daemon *d, void *handle)
{
	if (handle && d->timers->unwatch)
		d->timers->unwatch(handle);
}
