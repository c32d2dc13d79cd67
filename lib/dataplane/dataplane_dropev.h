/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dataplane_dropev.h - read the dataplane's drop events (ixdp_drop_events,
 * rate limited by ixdp_drop_limit; layouts in include/ipsec_xdp.h), for
 * `ipsec-xdp monitor`.
 */
#ifndef IXDP_DATAPLANE_DROPEV_H
#define IXDP_DATAPLANE_DROPEV_H

#include <stddef.h>
#include <stdint.h>
#include "ipsec_xdp.h"

struct ring_buffer;

/* Called for each event; a nonzero return stops dp_dropev_process(). */
typedef int (*dp_dropev_cb)(void *ctx, const struct ixdp_drop_event *ev);

struct dp_dropev {
	int ring_fd, limit_fd;
	struct ring_buffer *rb;
	dp_dropev_cb cb;
	void *ctx;
};

/* The limiter's counters summed over CPUs. */
struct dp_dropev_totals {
	uint64_t events, suppressed, lost;
};

/* Open the pinned maps under root and subscribe cb: 0, or -1 with the
 * reason in errbuf. */
int dp_dropev_open(struct dp_dropev *r, const char *root, dp_dropev_cb cb,
		   void *ctx, char *errbuf, size_t errlen);
void dp_dropev_close(struct dp_dropev *r);
/* An epoll fd, readable when events wait. */
int dp_dropev_fd(struct dp_dropev *r);
/* Handle the waiting events without blocking: how many (>= 0), or -errno. */
int dp_dropev_process(struct dp_dropev *r);
int dp_dropev_totals(struct dp_dropev *r, struct dp_dropev_totals *t);

#endif /* IXDP_DATAPLANE_DROPEV_H */
