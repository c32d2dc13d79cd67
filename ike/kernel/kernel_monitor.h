/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kernel_monitor.h - what the kernel knows for the IP Security Monitor (docs/behaviour.md §6):
 * the xfrm SAs in force with their counters and lifetimes, this host's
 * addresses (an SA whose destination is one of them is inbound), and
 * /proc/net/xfrm_stat (lib/dataplane/dataplane_xfrmstat.h says how it maps).  control.c puts
 * it in the `stats` and `show-sa` replies.
 *
 * Bytes secured: the kernel's per-SA byte counters (curlft.bytes), summed
 * per protocol and direction over the SAs in force; an SA that is gone
 * takes its bytes with it (the kernel keeps no total).
 */
#ifndef IXDP_IKE_MONITOR_H
#define IXDP_IKE_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/kernel.h"
#include "dataplane/dataplane_xfrmstat.h"

struct json_object;

struct monitor_kernel {
	struct ikk_sa_info *sa;		/* the SAs in force */
	size_t nsa;
	struct ikk_addr *local;		/* this host's addresses */
	size_t nlocal;
	bool have_sa;			/* else sa_err says why */
	bool have_xs;			/* else xs_err says why */
	struct xfrmstat xs;
	char sa_err[300], xs_err[300];
};

struct monitor_flow {
	uint64_t bytes_in, bytes_out, packets_in, packets_out;
};

struct monitor_totals {
	struct monitor_flow esp, ah;
	struct monitor_flow transport, tunnel;
	uint64_t sas;
	uint64_t integrity_failed;	/* packets not authenticated */
	uint64_t replay, replay_window;	/* per-SA replay drops */
};

/* Read everything (never fails as a whole: each part says if it could
 * not be read).  Free with monitor_kernel_free(). */
void monitor_kernel_read(struct monitor_kernel *k);
void monitor_kernel_free(struct monitor_kernel *k);

bool monitor_is_local(const struct monitor_kernel *k, const struct ikk_addr *a);
void monitor_totals(const struct monitor_kernel *k, struct monitor_totals *t);

/* {"sas":N,"esp":{...},"ah":{...},"transport":{...},"tunnel":{...},
 *  "integrity_failed":N,"replay":N,"replay_window":N,"xfrm_stat":{...}} */
struct json_object *monitor_kernel_json(const struct monitor_kernel *k);

/* Add "in" and "out" (the kernel's view of the two SAs: bytes, packets,
 * lifetimes and time left) to one CHILD SA object of `show-sa`, found by
 * its "spi_in"/"spi_out" and "local"/"peer".  now: seconds since the
 * epoch (the kernel's add_time is). */
void monitor_child_json(struct json_object *child,
			const struct monitor_kernel *k, uint64_t now);

#endif /* IXDP_IKE_MONITOR_H */
