// SPDX-License-Identifier: GPL-2.0-only
/*
 * dataplane_read.c - reading the live filter list, counters and state back from the maps
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dataplane/dataplane.h"
#include "compile/compile_tuplespace.h"
#include "dataplane/dataplane_internal.h"


/* ---- reading ---------------------------------------------------------------- */

int dp_read_bank_slots(struct dp *dp, __u32 bank, size_t n, __u32 **slots)
{
	*slots = calloc(n + 1, sizeof(**slots));
	if (!*slots)
		return -ENOMEM;
	return n ? dp_array_read(dp->order_fd, bank * IXDP_MAX_FILTERS, n, *slots,
				 sizeof(**slots)) : 0;
}

/* The entries of a shared array for the given slots: the span from the
 * lowest to the highest slot is read a chunk at a time (slots are handed
 * out lowest first, so the span is about the list's length). */
int dp_read_slots(int fd, const __u32 *slots, size_t n, void *out, size_t esize)
{
	__u32 lo = IXDP_MAX_SLOTS, hi = 0;
	char *buf;
	int err = 0;

	for (size_t i = 0; i < n; i++) {
		if (slots[i] >= IXDP_MAX_SLOTS)
			return -ERANGE;
		lo = slots[i] < lo ? slots[i] : lo;
		hi = slots[i] > hi ? slots[i] : hi;
	}
	if (!n)
		return 0;
	buf = malloc((size_t)(hi - lo + 1) * esize);
	if (!buf)
		return -ENOMEM;
	err = dp_array_read(fd, lo, hi - lo + 1, buf, esize);
	for (size_t i = 0; !err && i < n; i++)
		memcpy((char *)out + i * esize, buf + (size_t)(slots[i] - lo) * esize,
		       esize);
	free(buf);
	return err;
}

/* The first n filters of a bank's list, by position. */
int dp_read_bank_infos(struct dp *dp, __u32 bank, size_t n,
		       struct ixdp_filter_info **out)
{
	__u32 *slots = NULL;
	int err;

	*out = calloc(n + 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	err = dp_read_bank_slots(dp, bank, n, &slots);
	if (!err)
		err = dp_read_slots(dp->info_fd, slots, n, *out, sizeof(**out));
	free(slots);
	return err;
}

/* What the compiler decides of a filter: everything but the rule's id and
 * signature, which the apply adds. */
#define INFO_COMPILED_LEN offsetof(struct ixdp_filter_info, rule_id)

int dp_table_is_live(struct dp *dp, const struct filter_table *t,
		     bool *has_policy, bool *same)
{
	struct ixdp_filter_info *live = NULL, nw;
	struct ixdp_bank b;
	__u32 bank;
	int err = dp_read_bank(dp, &bank, &b);

	*has_policy = *same = false;
	if (err)
		return err;
	*has_policy = b.has_policy;
	if (b.nfilters != t->n)
		return 0;
	if ((err = dp_read_bank_infos(dp, bank, t->n, &live)))
		goto out;
	*same = true;
	for (size_t i = 0; *same && i < t->n; i++) {
		dp_info_from_filter(&t->v[i], &nw);
		*same = !memcmp(&nw, &live[i], INFO_COMPILED_LEN);
	}
out:
	free(live);
	return err;
}

int dp_read_boot(struct dp *dp, struct ixdp_boot *boot)
{
	__u32 live;
	int err = dp_read_u32(dp->state_fd, IXDP_STATE_BOOT_BANK, &live);

	if (err)
		return err;
	live &= 1;
	return bpf_map_lookup_elem(dp->boot_fd, &live, boot);
}

static int read_bank_counters(struct dp *dp, __u32 bank, size_t n,
			      struct ixdp_counter *out)
{
	__u32 *slots = NULL;
	int err = dp_read_bank_slots(dp, bank, n, &slots);

	/* one shared array for both banks, indexed by slot */
	if (!err)
		err = dp_read_slots(dp->counters_fd, slots, n, out, sizeof(*out));
	free(slots);
	return err;
}

int dp_read_filters(struct dp *dp, struct ixdp_filter_info **info,
		    struct ixdp_counter **ctr, size_t *n)
{
	struct ixdp_bank b;
	__u32 live;
	int err = dp_read_bank(dp, &live, &b);

	*info = NULL;
	*ctr = NULL;
	*n = 0;
	if (err)
		return err;
	if (b.nfilters > IXDP_MAX_FILTERS)
		b.nfilters = IXDP_MAX_FILTERS;
	*ctr = calloc(b.nfilters + 1, sizeof(**ctr));
	err = *ctr ? dp_read_bank_infos(dp, live, b.nfilters, info) : -ENOMEM;
	if (!err)
		err = read_bank_counters(dp, live, b.nfilters, *ctr);
	if (err) {
		free(*info);
		free(*ctr);
		*info = NULL;
		*ctr = NULL;
		return err;
	}
	*n = b.nfilters;
	return 0;
}

/* Sum a per-CPU array of __u64 counters. */
int dp_read_percpu_u64(int fd, size_t n, uint64_t *out)
{
	size_t esize = dp_percpu_size(sizeof(__u64));
	size_t ncpu = esize / sizeof(__u64);
	__u64 *buf = malloc(esize);
	int err = buf ? 0 : -ENOMEM;

	for (size_t i = 0; !err && i < n; i++) {
		__u32 k = (__u32)i;

		out[i] = 0;
		err = bpf_map_lookup_elem(fd, &k, buf);
		for (size_t c = 0; !err && c < ncpu; c++)
			out[i] += buf[c];
	}
	free(buf);
	return err;
}

int dp_read_drops(struct dp *dp, uint64_t drops[IXDP_DROP__MAX])
{
	return dp_read_percpu_u64(dp->drops_fd, IXDP_DROP__MAX, drops);
}

int dp_read_pkts(struct dp *dp, uint64_t pkts[IXDP_PKT__MAX])
{
	return dp_read_percpu_u64(dp->pkts_fd, IXDP_PKT__MAX, pkts);
}

const char *drop_reason_name(enum ixdp_drop_reason r)
{
	static const char *const names[IXDP_DROP__MAX] = {
		[IXDP_DROP_BLOCK_FILTER]    = "block_filter",
		[IXDP_DROP_NEGOTIATE]       = "negotiate_no_sa",
		[IXDP_DROP_BCAST_NEGOTIATE] = "bcast_negotiate",
		[IXDP_DROP_BOOT_BLOCK]      = "boot_block",
		[IXDP_DROP_BOOT_STATEFUL]   = "boot_stateful",
		[IXDP_DROP_MALFORMED]       = "malformed",
		[IXDP_DROP_FRAGMENT]        = "boot_fragment",
		[IXDP_DROP_UNCLASSIFIED]    = "unclassified",
	};

	return (unsigned)r < IXDP_DROP__MAX ? names[r] : "unknown";
}

const char *pkt_counter_name(enum ixdp_pkt_counter c)
{
	static const char *const names[IXDP_PKT__MAX] = {
		[IXDP_PKT_IN]        = "in",
		[IXDP_PKT_OUT]       = "out",
		[IXDP_PKT_NON_IP]    = "non_ip",
		[IXDP_PKT_IPSEC]     = "ipsec",
		[IXDP_PKT_UNMATCHED] = "unmatched",
		[IXDP_PKT_CACHE_HIT] = "cache_hit",
		[IXDP_PKT_BOOT_PASS] = "boot_pass",
		[IXDP_PKT_ND]        = "nd",
		[IXDP_PKT_CONN_FULL] = "conn_table_full",
		[IXDP_PKT_TREE_SEARCH] = "tree_search",
		[IXDP_PKT_TUPLE_SEARCH] = "tuple_search",
	};

	return (unsigned)c < IXDP_PKT__MAX ? names[c] : "unknown";
}
