/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * daemon_metrics.h - the IKE daemon's OpenMetrics families, for the
 * control socket's "metrics" request and the `--metrics-listen` HTTP
 * endpoint (GET /metrics), which serves the whole exposition written by
 * lib/dataplane/dataplane_metrics.h (ipsec-xdpd(8), METRICS).
 */
#ifndef IXDP_IKE_DAEMON_METRICS_H
#define IXDP_IKE_DAEMON_METRICS_H

#include <stddef.h>
#include <sys/socket.h>

#include "sa/sa_engine.h"
#include "util/util_openmetrics.h"

struct event_base;
struct metrics_http;

/* The IKE families (SAs up, negotiations by outcome, dropped messages by
 * reason, per-peer state, the kernel's SAs) into b, without "# EOF". */
void metrics_ike_write(struct daemon *d, struct om_buf *b);

/* "ADDR:PORT" (IPv4, or [IPv6]:PORT), numeric, port 1-65535: 0, or -1
 * with the reason in err. */
int metrics_parse_listen(const char *arg, struct sockaddr_storage *ss,
			 char *err, size_t errlen);

/* Serve GET /metrics on ss from the loop: the server, or NULL with the
 * reason in err (e.g. the address is in use). */
struct metrics_http *metrics_http_open(struct daemon *d, struct event_base *evb,
				       const struct sockaddr_storage *ss,
				       char *err, size_t errlen);
void metrics_http_close(struct metrics_http *m);

#endif /* IXDP_IKE_DAEMON_METRICS_H */
