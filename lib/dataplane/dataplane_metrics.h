/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dataplane_metrics.h - the statistics as OpenMetrics text, one writer
 * for `ipsec-xdp show stats --openmetrics` and ipsec-xdpd's
 * `--metrics-listen` endpoint (ipsec-xdp(8) and ipsec-xdpd(8), METRICS).
 *
 * Each part writes the families it owns: the dataplane's are written
 * here from the pinned maps; the IKE daemon's families come from the
 * daemon (ike/daemon/daemon_metrics.c) as finished text, which this file
 * places in the exposition as it is.
 */
#ifndef IXDP_DATAPLANE_METRICS_H
#define IXDP_DATAPLANE_METRICS_H

#include "util/util_openmetrics.h"

/*
 * The whole exposition into b: ipsec_xdp_daemon_up (1 when ike_families
 * is given, the daemon's text, else 0), ike_families, the dataplane's
 * families read under the pin root `root` (ipsec_xdp_dataplane_loaded 0
 * and nothing more when it is not loaded), then "# EOF".
 * 0, or -1 with the reason in err (the maps could not be read, or out of
 * memory); b then holds no exposition to use.
 */
int dp_metrics_expose(struct om_buf *b, const char *root,
		      const char *ike_families, char *err, size_t errlen);

#endif /* IXDP_DATAPLANE_METRICS_H */
