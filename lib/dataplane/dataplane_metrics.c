// SPDX-License-Identifier: GPL-2.0-only
/*
 * dataplane_metrics.c - the dataplane's OpenMetrics families (see
 * dataplane_metrics.h): drops by reason, packets by path, and packets and
 * bytes per rule and direction (the specific filters' counters summed by
 * rule or exemption name).
 */
#include <stdlib.h>
#include <string.h>

#include "dataplane/dataplane.h"
#include "dataplane/dataplane_metrics.h"
#include "util/util_errbuf.h"

static const char *dir_name(int dir)
{
	return dir == IXDP_DIR_IN ? "in" : "out";
}

static void write_drops(struct om_buf *b, const uint64_t *drops)
{
	om_family(b, "ipsec_xdp_dropped_packets", "counter", "packets",
		  "Packets the dataplane dropped, by reason (block_filter: a "
		  "block filter; negotiate_no_sa: plaintext a negotiate filter "
		  "refuses; boot_*: the boot mode).");
	for (int i = 0; i < IXDP_DROP__MAX; i++) {
		const char *l[] = { "reason", drop_reason_name(i), NULL };

		om_sample(b, "ipsec_xdp_dropped_packets_total", l, drops[i]);
	}
}

static void write_paths(struct om_buf *b, const uint64_t *pkts)
{
	om_family(b, "ipsec_xdp_dataplane_packets", "counter", "packets",
		  "Packets the dataplane saw, by path (in, out: every packet "
		  "of that direction; the others count the packets that took "
		  "that path).");
	for (int i = 0; i < IXDP_PKT__MAX; i++) {
		const char *l[] = { "path", pkt_counter_name(i), NULL };

		om_sample(b, "ipsec_xdp_dataplane_packets_total", l, pkts[i]);
	}
}

/* The filters' indexes ordered by name, so that one rule's are adjacent. */
static int by_name(const void *a, const void *b, void *arg)
{
	const struct ixdp_filter_info *info = arg;
	const struct ixdp_filter_info *x = &info[*(const size_t *)a];
	const struct ixdp_filter_info *y = &info[*(const size_t *)b];

	return strncmp(x->name, y->name, sizeof(x->name));
}

/* One rule's counters summed over its filters. */
struct rule_sum {
	char name[sizeof(((struct ixdp_filter_info *)0)->name) + 1];
	uint64_t packets[2], bytes[2];
};

static size_t sum_rules(const struct ixdp_filter_info *info,
			const struct ixdp_counter *ctr, size_t n,
			const size_t *order, struct rule_sum *out)
{
	size_t nr = 0;

	for (size_t k = 0; k < n; k++) {
		const struct ixdp_filter_info *f = &info[order[k]];
		struct rule_sum *r = nr ? &out[nr - 1] : NULL;

		if (!r || strncmp(r->name, f->name, sizeof(f->name))) {
			r = &out[nr++];
			memset(r, 0, sizeof(*r));
			memcpy(r->name, f->name, sizeof(f->name));
		}
		for (int d = 0; d < 2; d++) {
			r->packets[d] += ctr[order[k]].packets[d];
			r->bytes[d] += ctr[order[k]].bytes[d];
		}
	}
	return nr;
}

static void write_rule_family(struct om_buf *b, const struct rule_sum *r,
			      size_t nr, bool bytes)
{
	const char *name = bytes ? "ipsec_xdp_rule_bytes" : "ipsec_xdp_rule_packets";
	const char *total = bytes ? "ipsec_xdp_rule_bytes_total"
				  : "ipsec_xdp_rule_packets_total";

	om_family(b, name, "counter", bytes ? "bytes" : "packets", bytes
		  ? "Bytes that hit the filters of each rule of the policy in force "
		    "(or default exemption), by direction."
		  : "Packets that hit the filters of each rule of the policy in force "
		    "(or default exemption), by direction.");
	for (size_t i = 0; i < nr; i++)
		for (int d = 0; d < 2; d++) {
			const char *l[] = { "rule", r[i].name, "direction",
					    dir_name(d), NULL };

			om_sample(b, total, l, bytes ? r[i].bytes[d]
						     : r[i].packets[d]);
		}
}

/* Packets and bytes per rule; no policy in force: the families alone. */
static int write_rules(struct om_buf *b, struct dp *dp, bool has_policy)
{
	struct ixdp_filter_info *info = NULL;
	struct ixdp_counter *ctr = NULL;
	struct rule_sum *sums = NULL;
	size_t n = 0, nr = 0, *order = NULL;

	if (has_policy && dp_read_filters(dp, &info, &ctr, &n))
		return -1;
	if (n) {
		order = calloc(n, sizeof(*order));
		sums = calloc(n, sizeof(*sums));
		if (!order || !sums) {
			free(order);
			free(sums);
			free(info);
			free(ctr);
			return -1;
		}
		for (size_t i = 0; i < n; i++)
			order[i] = i;
		qsort_r(order, n, sizeof(*order), by_name, info);
		nr = sum_rules(info, ctr, n, order, sums);
	}
	write_rule_family(b, sums, nr, false);
	write_rule_family(b, sums, nr, true);
	free(order);
	free(sums);
	free(info);
	free(ctr);
	return 0;
}

static void write_gauge(struct om_buf *b, const char *name, const char *help,
			uint64_t v)
{
	om_family(b, name, "gauge", NULL, help);
	om_sample(b, name, NULL, v);
}

static int write_dataplane(struct om_buf *b, const char *root, char *err,
			   size_t errlen)
{
	uint64_t drops[IXDP_DROP__MAX], pkts[IXDP_PKT__MAX];
	struct ixdp_bank bank;
	uint32_t live;
	struct dp dp;
	int rc = 0;

	if (!dp_is_loaded(root)) {
		write_gauge(b, "ipsec_xdp_dataplane_loaded",
			    "1 when the dataplane's maps are pinned (loaded).", 0);
		return 0;
	}
	if (dp_open(&dp, root, err, errlen))
		return -1;
	if (dp_read_bank(&dp, &live, &bank) || dp_read_drops(&dp, drops) ||
	    dp_read_pkts(&dp, pkts)) {
		dp_close(&dp);
		return errbuf_set(err, errlen, "cannot read the dataplane's counters");
	}
	write_gauge(b, "ipsec_xdp_dataplane_loaded",
		    "1 when the dataplane's maps are pinned (loaded).", 1);
	write_gauge(b, "ipsec_xdp_policy_applied",
		    "1 when a policy is in force, 0 when the boot mode rules.",
		    bank.has_policy ? 1 : 0);
	write_drops(b, drops);
	write_paths(b, pkts);
	if (write_rules(b, &dp, bank.has_policy))
		rc = errbuf_set(err, errlen, "cannot read the filter list's counters");
	dp_close(&dp);
	return rc;
}

int dp_metrics_expose(struct om_buf *b, const char *root,
		      const char *ike_families, char *err, size_t errlen)
{
	write_gauge(b, "ipsec_xdp_daemon_up",
		    "1 when the IKE daemon ipsec-xdpd answered (its families follow).",
		    ike_families ? 1 : 0);
	if (ike_families)
		om_append(b, ike_families);
	if (write_dataplane(b, root, err, errlen))
		return -1;
	om_eof(b);
	if (om_failed(b))
		return errbuf_set(err, errlen, "out of memory");
	return 0;
}
