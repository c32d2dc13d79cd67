// SPDX-License-Identifier: GPL-2.0-only
/* daemon_evtimer.c - the daemon's timers on its libevent base (daemon.h), and
 * file descriptors watched on the same base (the xfrm events). */
#include <stdlib.h>
#include <time.h>
#include <event2/event.h>

#include "daemon/daemon.h"
#include "sa/sa_log.h"

static void ev_fired(evutil_socket_t fd, short what, void *arg)
{
	timer_fire(arg);
}

static void ev_arm(struct ike_timer *t)
{
	struct event_base *evb = t->d->timer_ctx;

	if (!t->impl) {
		t->impl = evtimer_new(evb, ev_fired, t);
		if (!t->impl)
			fatal("out of memory for a timer");
	}
}

static void arm(struct ike_timer *t, uint64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };

	ev_arm(t);
	evtimer_add((struct event *)t->impl, &tv);
}

static void stop(struct ike_timer *t)
{
	if (t->impl)
		evtimer_del((struct event *)t->impl);
}

static void release(struct ike_timer *t)
{
	if (t->impl)
		event_free((struct event *)t->impl);
	t->impl = NULL;
}

static uint64_t now_ms(struct daemon *d)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct watch {
	struct event *ev;
	struct daemon *d;
	void (*cb)(struct daemon *d, void *arg);
	void *arg;
};

static void fd_ready(evutil_socket_t fd, short what, void *arg)
{
	struct watch *w = arg;

	w->cb(w->d, w->arg);
}

static void *fd_watch(struct daemon *d, int fd,
		      void (*cb)(struct daemon *d, void *arg), void *arg)
{
	struct watch *w;

	if (fd < 0)
		return NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->d = d;
	w->cb = cb;
	w->arg = arg;
	w->ev = event_new(d->timer_ctx, fd, EV_READ | EV_PERSIST, fd_ready, w);
	if (!w->ev || event_add(w->ev, NULL)) {
		if (w->ev)
			event_free(w->ev);
		free(w);
		return NULL;
	}
	return w;
}

static void fd_unwatch(void *handle)
{
	struct watch *w = handle;

	if (!w)
		return;
	event_free(w->ev);
	free(w);
}

static const struct timer_ops ev_ops = {
	arm, stop, release, now_ms, fd_watch, fd_unwatch,
};

void evtimer_ops_use(struct daemon *d, struct event_base *evb)
{
	d->timers = &ev_ops;
	d->timer_ctx = evb;
}
