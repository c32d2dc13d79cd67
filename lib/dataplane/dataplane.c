// SPDX-License-Identifier: GPL-2.0-only
/*
 * dataplane.c - the map side of the dataplane: write a filter table or a
 * boot configuration into the inactive bank of the pinned maps, flip, and
 * read back what is live (dataplane_read.c); SA bundles and need-SA events
 * (dataplane_handoff.c).  (Loading and attaching: dataplane_attach.c;
 * bulk reads and writes of the maps: dataplane_maps.c.)
 *
 * An apply never changes what a running packet sees: the new list's
 * difference from what the inactive bank holds is written into it
 * (dataplane_diff.c), one 32-bit write of ixdp_state makes it live, and
 * after an RCU grace period (obtained by replacing the inner map of
 * ixdp_sync: the kernel waits for running BPF programs after a map-in-map
 * update from a syscall) the old bank gets the same difference, so both
 * banks hold the live list for the next apply.
 *
 * Slots: every filter of the list has a slot (ixdp_info, ixdp_counters,
 * the key values).  A filter unchanged since the live list (same
 * selectors, action, rule and names) keeps its slot, and so its counter;
 * any other takes a slot no live filter holds, so nothing a running packet
 * reads changes.  A slot freed by an apply is free for the next one, after
 * the flip and its grace period.
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

__attribute__((format(printf, 3, 4)))
int dp_err(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errbuf && errlen) {
		va_start(ap, fmt);
		vsnprintf(errbuf, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* ---- opening --------------------------------------------------------------- */

static const struct {
	const char *name;
	size_t off;
} dp_maps[] = {
	{ "ixdp_state", offsetof(struct dp, state_fd) },
	{ "ixdp_banks", offsetof(struct dp, banks_fd) },
	{ "ixdp_tuples", offsetof(struct dp, tuples_fd) },
	{ "ixdp_filters", offsetof(struct dp, filters_fd) },
	{ "ixdp_port_class", offsetof(struct dp, port_class_fd) },
	{ "ixdp_counters", offsetof(struct dp, counters_fd) },
	{ "ixdp_info", offsetof(struct dp, info_fd) },
	{ "ixdp_boot", offsetof(struct dp, boot_fd) },
	{ "ixdp_conns", offsetof(struct dp, conns_fd) },
	{ "ixdp_flow_cache", offsetof(struct dp, flow_cache_fd) },
	{ "ixdp_drops", offsetof(struct dp, drops_fd) },
	{ "ixdp_pkts", offsetof(struct dp, pkts_fd) },
	{ "ixdp_ifmask", offsetof(struct dp, ifmask_fd) },
	{ "ixdp_ifgroup", offsetof(struct dp, ifgroup_fd) },
	{ "ixdp_order", offsetof(struct dp, order_fd) },
	{ "ixdp_slot_pos", offsetof(struct dp, slot_pos_fd) },
	{ "ixdp_cache_gen", offsetof(struct dp, cache_gen_fd) },
	{ "ixdp_tnodes", offsetof(struct dp, tnodes_fd) },
	{ "ixdp_tleaf", offsetof(struct dp, tleaf_fd) },
	{ "ixdp_tmatch", offsetof(struct dp, tmatch_fd) },
};

#define NMAPS (sizeof(dp_maps) / sizeof(dp_maps[0]))

static int *dp_fd(struct dp *dp, size_t i)
{
	return (int *)((char *)dp + dp_maps[i].off);
}

/* Why this process may not open the pin at path (EACCES): the first
 * directory on the way it cannot search, else the pin itself. */
static const char *denied_why(const char *path, char *buf, size_t len)
{
	char dir[512];

	for (const char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
		snprintf(dir, sizeof(dir), "%.*s", (int)(p - path), path);
		if (access(dir, X_OK)) {
			snprintf(buf, len, " (%s may not be searched by this process: "
				 "ipsec-xdpd(8) SECURITY)", dir);
			return buf;
		}
	}
	return " (the pin is not shared with this process's group: `ipsec-xdp load` "
	       "shares the pins with the group ipsec-xdp, ipsec-xdpd(8) SECURITY)";
}

int dp_open(struct dp *dp, const char *root, char *errbuf, size_t errlen)
{
	char path[512];

	memset(dp, 0, sizeof(*dp));
	for (size_t i = 0; i < NMAPS; i++)
		*dp_fd(dp, i) = -1;
	if (snprintf(dp->root, sizeof(dp->root), "%s", root) >= (int)sizeof(dp->root))
		return dp_err(errbuf, errlen, "pin root too long: %s", root);
	for (size_t i = 0; i < NMAPS; i++) {
		snprintf(path, sizeof(path), "%s/maps/%s", root, dp_maps[i].name);
		*dp_fd(dp, i) = bpf_obj_get(path);
		if (*dp_fd(dp, i) < 0) {
			int e = errno;
			char why[600];

			dp_close(dp);
			return dp_err(errbuf, errlen, "cannot open %s: %s%s", path,
				      strerror(e), e == ENOENT ?
				      " (is the dataplane loaded? `ipsec-xdp load IFACE`)" :
				      e == EACCES ? denied_why(path, why, sizeof(why)) : "");
		}
	}
	return 0;
}

void dp_close(struct dp *dp)
{
	for (size_t i = 0; i < NMAPS; i++) {
		int *fd = dp_fd(dp, i);

		if (*fd >= 0)
			close(*fd);
		*fd = -1;
	}
}

void dp_info_from_filter(const struct specific_filter *f,
			 struct ixdp_filter_info *in)
{
	size_t alen = f->fam == IXDP_FAM_V4 ? 4 : 16;

	memset(in, 0, sizeof(*in));
	in->fam = f->fam;
	in->proto_exact = f->proto_exact;
	in->proto = f->proto_exact ? f->proto : 0;
	in->action = f->action;
	in->flags = f->flags;
	in->src_plen = f->src_plen;
	in->dst_plen = f->dst_plen;
	in->ifgroup = f->ifgroup;
	memcpy(in->src, f->src, alen);
	memcpy(in->dst, f->dst, alen);
	/* `any` is stored as 0,0 whichever way it was written. */
	if (port_kind(&f->sport) != IXDP_PORT_ANY) {
		in->sport_lo = f->sport.lo;
		in->sport_hi = f->sport.hi;
	}
	if (port_kind(&f->dport) != IXDP_PORT_ANY) {
		in->dport_lo = f->dport.lo;
		in->dport_hi = f->dport.hi;
	}
	in->weight = filter_weight(f);
	in->rule = f->rule < 0 ? ~0u : (__u32)f->rule;
	/* truncated as snprintf would, without its cost on every filter
	 * (in->name is zeroed above, so the copy stays NUL-terminated) */
	if (f->name)
		memcpy(in->name, f->name, strnlen(f->name, sizeof(in->name) - 1));
}

/* The inverse of dp_info_from_filter(): f's name points into *in. */
void dp_filter_from_info(const struct ixdp_filter_info *in,
			 struct specific_filter *f)
{
	size_t alen = in->fam == IXDP_FAM_V4 ? 4 : 16;

	memset(f, 0, sizeof(*f));
	f->fam = in->fam;
	f->proto_exact = in->proto_exact;
	f->proto = in->proto;
	f->action = in->action;
	f->flags = in->flags;
	f->src_plen = in->src_plen;
	f->dst_plen = in->dst_plen;
	f->ifgroup = in->ifgroup;
	memcpy(f->src, in->src, alen);
	memcpy(f->dst, in->dst, alen);
	f->sport = (struct port_spec){ in->sport_lo, in->sport_hi };
	f->dport = (struct port_spec){ in->dport_lo, in->dport_hi };
	f->weight = in->weight;
	f->rule = in->rule == ~0u ? -1 : (int)in->rule;
	f->name = in->name;
}

/* Selectors and action: the leading fields of ixdp_filter_info. */
#define INFO_SIG_LEN offsetof(struct ixdp_filter_info, weight)

static int cmp_sig_idx(const void *pa, const void *pb, void *base)
{
	const struct ixdp_filter_info *info = base;
	__u32 a = *(const __u32 *)pa, b = *(const __u32 *)pb;
	int c = memcmp(&info[a], &info[b], INFO_SIG_LEN);

	return c ? c : (a < b ? -1 : a > b);
}

/* The first of order[] (old filters sorted by selectors) whose selectors
 * are nw's. */
static size_t first_same_sig(const struct ixdp_filter_info *old, const __u32 *order,
			     size_t nold, const struct ixdp_filter_info *nw)
{
	size_t lo = 0, hi = nold;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (memcmp(&old[order[mid]], nw, INFO_SIG_LEN) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* One pass of match_old_filters: each new filter not paired yet takes an
 * unused old one with its selectors and action, and with whole = true
 * only one equal in every field. */
static void pair_filters(const struct ixdp_filter_info *old, const __u32 *order,
			 size_t nold, const struct ixdp_filter_info *nw, size_t nnew,
			 bool *used, __u32 *from, bool whole)
{
	for (size_t j = 0; j < nnew; j++) {
		if (from[j] != ~0u)
			continue;
		for (size_t k = first_same_sig(old, order, nold, &nw[j]);
		     k < nold && !memcmp(&old[order[k]], &nw[j], INFO_SIG_LEN); k++)
			if (!used[k] && (!whole || !memcmp(&old[order[k]], &nw[j],
							   sizeof(nw[j])))) {
				used[k] = true;
				from[j] = order[k];
				break;
			}
	}
}

/* How many filters at the head (*head) and the tail (*tail) of the two
 * lists are equal in every field: an edit of a few filters leaves the
 * rest of the list in place, and those keep their slots without a sort. */
static void equal_ends(const struct ixdp_filter_info *old, size_t nold,
		       const struct ixdp_filter_info *nw, size_t nnew,
		       size_t *head, size_t *tail)
{
	size_t h = 0, t = 0, most = nold < nnew ? nold : nnew;

	while (h < most && !memcmp(&old[h], &nw[h], sizeof(*nw)))
		h++;
	while (t < most - h &&
	       !memcmp(&old[nold - 1 - t], &nw[nnew - 1 - t], sizeof(*nw)))
		t++;
	*head = h;
	*tail = t;
}

/*
 * For each new filter, the position in the live list of an old filter with
 * the same selectors and action (each old filter used once), or ~0u: an
 * equal one in every field first (it keeps its slot), then any.  The
 * equal heads and tails pair in place; the middles by a sort.
 */
static int match_old_filters(const struct ixdp_filter_info *old, size_t nold,
			     const struct ixdp_filter_info *nw, size_t nnew,
			     __u32 *from)
{
	size_t head, tail, mid;
	__u32 *order;
	bool *used;

	equal_ends(old, nold, nw, nnew, &head, &tail);
	mid = nold - head - tail;
	order = malloc((mid + 1) * sizeof(*order));
	used = calloc(mid + 1, sizeof(*used));
	if (!order || !used) {
		free(order);
		free(used);
		return -ENOMEM;
	}
	for (size_t j = 0; j < nnew; j++)
		from[j] = ~0u;
	for (size_t k = 0; k < head; k++)
		from[k] = (__u32)k;
	for (size_t k = 0; k < tail; k++)
		from[nnew - 1 - k] = (__u32)(nold - 1 - k);
	for (size_t i = 0; i < mid; i++)
		order[i] = (__u32)(head + i);
	qsort_r(order, mid, sizeof(*order), cmp_sig_idx, (void *)old);
	pair_filters(old, order, mid, nw + head, nnew - head - tail, used,
		     from + head, true);
	pair_filters(old, order, mid, nw + head, nnew - head - tail, used,
		     from + head, false);
	free(order);
	free(used);
	return 0;
}

/* ---- slots ------------------------------------------------------------------ */

/* Where the new list's filters go: a[j] = the slot of position j. */
struct slots {
	__u32 *slot;
	__u32 *fresh;           /* positions that take a slot no live filter has */
	__u32 *carry;           /* [nfresh]: the live slot whose counter comes
				 * along (same selectors, other rule or name),
				 * or ~0u: a new counter */
	size_t nfresh;
};

static void slots_free(struct slots *s)
{
	free(s->slot);
	free(s->fresh);
	free(s->carry);
}

/* An unchanged filter keeps its live slot; any other takes the lowest slot
 * that no live filter holds. */
static int assign_slots(const struct ixdp_filter_info *old, const __u32 *old_slot,
			size_t nold, const struct ixdp_filter_info *nw, size_t n,
			struct slots *s)
{
	uint8_t *used = calloc(IXDP_MAX_SLOTS, 1);
	__u32 *from = malloc((n + 1) * sizeof(*from)), next = 0;
	int err = used && from ? 0 : -ENOMEM;

	s->slot = malloc((n + 1) * sizeof(*s->slot));
	s->fresh = malloc((n + 1) * sizeof(*s->fresh));
	s->carry = malloc((n + 1) * sizeof(*s->carry));
	if (!s->slot || !s->fresh || !s->carry)
		err = -ENOMEM;
	for (size_t i = 0; !err && i < nold; i++)
		if (old_slot[i] < IXDP_MAX_SLOTS)
			used[old_slot[i]] = 1;
	if (!err)
		err = match_old_filters(old, nold, nw, n, from);
	for (size_t j = 0; !err && j < n; j++) {
		if (from[j] != ~0u && !memcmp(&old[from[j]], &nw[j], sizeof(nw[j]))) {
			s->slot[j] = old_slot[from[j]];
			continue;
		}
		while (next < IXDP_MAX_SLOTS && used[next])
			next++;
		if (next == IXDP_MAX_SLOTS) {
			err = -ENOSPC;  /* cannot happen: n + nold <= IXDP_MAX_SLOTS */
			break;
		}
		used[next] = 1;
		s->slot[j] = next;
		s->carry[s->nfresh] = from[j] == ~0u ? ~0u : old_slot[from[j]];
		s->fresh[s->nfresh++] = (__u32)j;
	}
	free(used);
	free(from);
	return err;
}

/* ixdp_info, ixdp_tmatch and ixdp_counters of the fresh slots: no live
 * filter holds them, so no running packet reads what is written here. */
static int write_fresh_slots(struct dp *dp, const struct ixdp_filter_info *nw,
			     const struct slots *s)
{
	size_t n = s->nfresh;
	__u32 *keys = malloc((n + 1) * sizeof(*keys));
	struct ixdp_filter_info *in = malloc((n + 1) * sizeof(*in));
	struct ixdp_tmatch *tm = malloc((n + 1) * sizeof(*tm));
	struct ixdp_counter *ctr = calloc(n + 1, sizeof(*ctr)), one;
	int err = keys && in && tm && ctr ? 0 : -ENOMEM;

	for (size_t i = 0; !err && i < n; i++) {
		keys[i] = s->slot[s->fresh[i]];
		in[i] = nw[s->fresh[i]];
		dp_tmatch_from_info(&in[i], &tm[i]);
		if (s->carry[i] != ~0u &&
		    !(err = dp_read_slots(dp->counters_fd, &s->carry[i], 1, &one,
					  sizeof(one))))
			ctr[i] = one;
	}
	for (size_t off = 0; !err && off < n; off += CHUNK) {
		size_t c = n - off < CHUNK ? n - off : CHUNK;

		err = dp_update_pairs(dp->info_fd, keys + off, in + off, c,
				      sizeof(*keys), sizeof(*in));
		if (!err)
			err = dp_update_pairs(dp->tmatch_fd, keys + off, tm + off, c,
					      sizeof(*keys), sizeof(*tm));
		if (!err)
			err = dp_update_pairs(dp->counters_fd, keys + off, ctr + off, c,
					      sizeof(*keys), sizeof(*ctr));
	}
	dp->stats.slots_written += err ? 0 : n;
	free(keys);
	free(in);
	free(tm);
	free(ctr);
	return err;
}

/* ---- rule ids: the keys of the SA bundles (ipsec_xdp.h "RULE IDS") ------------ */

static __u32 fnv1a(__u32 h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 16777619u;
	}
	return h;
}

/* One past the highest rule index of a list (0: none). */
static size_t rule_slots(const struct ixdp_filter_info *in, size_t n)
{
	size_t max = 0;

	for (size_t i = 0; i < n; i++)
		if (in[i].rule != ~0u && (size_t)in[i].rule + 1 > max)
			max = (size_t)in[i].rule + 1;
	return max;
}

/* rule_sig of every filter: the name's hash plus, for a negotiate rule,
 * the sum of its filters' hashes (selectors, action, flags), so the order
 * of the filters does not matter but any filter added, removed or changed
 * does: the rule's SAs were negotiated for its filters.  A permit or block
 * rule has no SAs; its signature is its action's, so a filter added to it
 * leaves its other filters (their slots, keys and counters) as they are. */
static int sign_rules(struct ixdp_filter_info *in, size_t n)
{
	size_t nr = rule_slots(in, n);
	__u32 *sum = calloc(nr + 1, sizeof(*sum));

	if (!sum)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (in[i].rule == ~0u)
			continue;
		if (in[i].action == IXDP_ACT_NEGOTIATE)
			sum[in[i].rule] += fnv1a(2166136261u, &in[i], INFO_SIG_LEN);
		else
			sum[in[i].rule] = fnv1a(2166136261u, &in[i].action,
						sizeof(in[i].action));
	}
	for (size_t i = 0; i < n; i++)
		if (in[i].rule != ~0u)
			in[i].rule_sig = sum[in[i].rule] +
				fnv1a(2166136261u, in[i].name, strnlen(in[i].name,
							sizeof(in[i].name)));
	free(sum);
	return 0;
}

/* The id of a live rule with this name and signature, or 0. */
static __u32 live_rule_id(const struct ixdp_filter_info *old, size_t nold,
			  const struct ixdp_filter_info *nw)
{
	for (size_t i = 0; i < nold; i++)
		if (old[i].rule_id && old[i].rule_sig == nw->rule_sig &&
		    !strncmp(old[i].name, nw->name, sizeof(nw->name)))
			return old[i].rule_id;
	return 0;
}

/* Give every rule of the new list its id: the live one when the rule is
 * unchanged (whatever its index now), else a fresh one. */
static int assign_rule_ids(struct dp *dp, const struct ixdp_filter_info *old,
			   size_t nold, struct ixdp_filter_info *nw, size_t n)
{
	size_t nr = rule_slots(nw, n);
	__u32 *id = calloc(nr + 1, sizeof(*id)), next = 0;
	int err = id ? sign_rules(nw, n) : -ENOMEM;

	if (!err)
		err = dp_read_u32(dp->state_fd, IXDP_STATE_NEXT_RULE_ID, &next);
	if (next == 0)
		next = 1;		/* 0 means "no rule" */
	for (size_t i = 0; !err && i < n; i++) {
		__u32 r = nw[i].rule;

		if (r == ~0u)
			continue;
		if (!id[r])
			id[r] = live_rule_id(old, nold, &nw[i]);
		if (!id[r]) {
			if (next == IXDP_RULE_ID_DEFAULT_RESPONSE)
				next = 1;	/* after 4e9 applies; never reached */
			id[r] = next++;
		}
		nw[i].rule_id = id[r];
	}
	if (!err)
		err = dp_write_u32(dp->state_fd, IXDP_STATE_NEXT_RULE_ID, next);
	free(id);
	return err;
}

static bool rule_id_live(const struct ixdp_filter_info *in, size_t n, __u32 id)
{
	for (size_t i = 0; i < n; i++)
		if (in[i].rule_id == id)
			return true;
	return false;
}

/* After a flip: the bundles of rules that are gone or changed go too (the
 * daemon's SAs for them no longer match any live filter).  Best effort: a
 * dataplane without the bundle map has nothing to delete. */
static void delete_dead_bundles(struct dp *dp, const struct ixdp_filter_info *in,
				size_t n)
{
	struct ixdp_bundle_key k, next, *dead = NULL;
	size_t ndead = 0, cap = 0;
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/maps/ixdp_bundles", dp->root);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return;
	for (int err = bpf_map_get_next_key(fd, NULL, &next); !err;
	     err = bpf_map_get_next_key(fd, &k, &next)) {
		k = next;
		if (k.rule == IXDP_RULE_ID_DEFAULT_RESPONSE ||
		    rule_id_live(in, n, k.rule))
			continue;
		if (ndead == cap) {
			struct ixdp_bundle_key *m;

			cap = cap ? cap * 2 : 64;
			m = realloc(dead, cap * sizeof(*dead));
			if (!m)
				break;
			dead = m;
		}
		dead[ndead++] = k;
	}
	for (size_t i = 0; i < ndead; i++)
		bpf_map_delete_elem(fd, &dead[i]);
	free(dead);
	close(fd);
}
/* ---- flipping -------------------------------------------------------------- */

/* Return only when no BPF program can still be running with what it read
 * before: replacing ixdp_sync's inner map makes the kernel wait for an RCU
 * grace period (maybe_wait_bpf_programs). */
static int wait_for_programs(struct dp *dp)
{
	char path[512];
	__u32 zero = 0;
	int outer, inner, err;

	snprintf(path, sizeof(path), "%s/maps/ixdp_sync", dp->root);
	outer = bpf_obj_get(path);
	if (outer < 0)
		return -errno;
	inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "ixdp_sync_in", sizeof(__u32),
			       sizeof(__u32), 1, NULL);
	if (inner < 0) {
		err = -errno;
		close(outer);
		return err;
	}
	err = bpf_map_update_elem(outer, &zero, &inner, BPF_ANY);
	close(inner);
	close(outer);
	return err;
}

int dp_read_bank(struct dp *dp, uint32_t *bank, struct ixdp_bank *b)
{
	__u32 live;
	int err = dp_read_u32(dp->state_fd, IXDP_STATE_POLICY_BANK, &live);

	if (err)
		return err;
	live &= 1;
	if (bank)
		*bank = live;
	return b ? bpf_map_lookup_elem(dp->banks_fd, &live, b) : 0;
}


struct apply {
	__u32 live, target;
	struct ixdp_bank live_bank, target_bank;
	struct tuplespace ts;
	struct ctree tree;
	struct tree_image laid; /* the tree as written, for the mirror */
	bool tss_off;           /* the list is over the tuple space's limits:
				   the tree alone answers new flows */
	bool tree_ok;           /* the tree was built */
	struct ixdp_filter_info *old, *nw;
	__u32 *old_slot;
	size_t nold;
	struct slots slots;
	struct dp_bank_keys keys[2];
	struct dp_bank_image img;
};

/* ---- the memo (dataplane.h) ---------------------------------------------------- */

struct dp_memo {
	__u32 map_id;           /* ixdp_state's: the maps it stands for */
	__u32 generation;       /* both banks' when it was made */
	struct ixdp_filter_info *info;  /* the live list, by position */
	__u32 *slot;            /* the slot of each position */
	size_t n;
	struct dp_bank_keys keys[2];
};

struct dp_memo *dp_memo_new(void)
{
	return calloc(1, sizeof(struct dp_memo));
}

static void memo_clear(struct dp_memo *m)
{
	free(m->info);
	free(m->slot);
	dp_bank_keys_free(m->keys);
	memset(m, 0, sizeof(*m));
}

void dp_memo_free(struct dp_memo *m)
{
	if (!m)
		return;
	memo_clear(m);
	free(m);
}

static __u32 state_map_id(struct dp *dp)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	return bpf_obj_get_info_by_fd(dp->state_fd, &info, &len) ? 0 : info.id;
}

/* Does the memo stand for the banks a read: the same maps, both banks at
 * its generation (any apply since, by anyone, raised it; one that failed
 * half way zeroed a bank's)? */
static bool memo_stands(struct dp *dp, const struct apply *a)
{
	const struct dp_memo *m = dp->memo;

	return m && m->info && m->generation &&
	       a->live_bank.generation == m->generation &&
	       a->target_bank.generation == m->generation &&
	       a->live_bank.nfilters == m->n && a->target_bank.nfilters == m->n &&
	       m->map_id && m->map_id == state_map_id(dp);
}

/* The live list and both banks' keys from the memo, when it stands. */
static bool take_memo(struct dp *dp, struct apply *a)
{
	struct dp_memo *m = dp->memo;

	if (!memo_stands(dp, a))
		return false;
	a->old = m->info;
	a->old_slot = m->slot;
	a->nold = m->n;
	memcpy(a->keys, m->keys, sizeof(a->keys));
	m->info = NULL;
	m->slot = NULL;
	memset(m->keys, 0, sizeof(m->keys));
	dp->stats.from_memo = true;
	return true;
}

/* After an apply that left both banks holding its list (n filters, at
 * generation gen): what read_live_list() and read_bank_keys() would read
 * now.  ixdp_info holds a->nw at the slots a->slots gave (a kept slot's
 * entry is byte for byte the new one: assign_slots()), and the banks the
 * keys of a->ts in those slots (dp_sync_bank()). */
static void keep_memo(struct dp *dp, struct apply *a, __u32 gen, size_t n)
{
	struct dp_memo *m = dp->memo;

	if (!m)
		return;
	memo_clear(m);
	if (dp_keys_of_tuplespace(&a->ts, a->slots.slot, n, m->keys)) {
		memo_clear(m);
		return;
	}
	m->info = a->nw;
	m->slot = a->slots.slot;
	a->nw = NULL;
	a->slots.slot = NULL;
	m->n = n;
	m->generation = gen;
	m->map_id = state_map_id(dp);
}

static int read_live_list(struct dp *dp, struct apply *a);

int dp_memo_refresh(struct dp *dp)
{
	struct dp_memo *m = dp->memo;
	struct apply a;
	int err;

	if (!m)
		return 0;
	memset(&a, 0, sizeof(a));
	err = dp_read_bank(dp, &a.live, &a.live_bank);
	a.target = a.live ^ 1;
	if (!err && bpf_map_lookup_elem(dp->banks_fd, &a.target, &a.target_bank))
		err = -errno;
	if (err) {
		memo_clear(m);
		return err;
	}
	if (memo_stands(dp, &a))
		return 0;	/* nothing pushed since it was made */
	memo_clear(m);
	if (!a.live_bank.generation ||
	    a.target_bank.generation != a.live_bank.generation ||
	    a.target_bank.nfilters != a.live_bank.nfilters)
		return 0;	/* the old bank does not hold the list */
	if (!(err = read_live_list(dp, &a)) &&
	    !(err = dp_keys_of_list(a.old, a.old_slot, a.nold,
				    a.live_bank.tss_off, m->keys))) {
		m->info = a.old;
		m->slot = a.old_slot;
		m->n = a.nold;
		m->generation = a.live_bank.generation;
		m->map_id = state_map_id(dp);
		return 0;
	}
	free(a.old);
	free(a.old_slot);
	memo_clear(m);
	return err;
}

static void apply_free(struct apply *a)
{
	tuplespace_free(&a->ts);
	ctree_free(&a->tree);
	tree_image_free(&a->laid);
	free(a->old);
	free(a->nw);
	free(a->old_slot);
	slots_free(&a->slots);
	dp_bank_keys_free(a->keys);
}

/* The live list, by position: its slots and their ixdp_info. */
static int read_live_list(struct dp *dp, struct apply *a)
{
	int err;

	a->nold = a->live_bank.nfilters;
	if (a->nold > IXDP_MAX_FILTERS)
		a->nold = IXDP_MAX_FILTERS;
	a->old = calloc(a->nold + 1, sizeof(*a->old));
	if (!a->old)
		return -ENOMEM;
	if ((err = dp_read_bank_slots(dp, a->live, a->nold, &a->old_slot)))
		return err;
	return dp_read_slots(dp->info_fd, a->old_slot, a->nold, a->old,
			     sizeof(*a->old));
}

static void build_tree(struct dp *dp, struct apply *a, const struct filter_table *t)
{
	a->tree_ok = !ctree_build(t, &a->tree, dp->stats.tree_error,
				  sizeof(dp->stats.tree_error));
}

/*
 * The two forms of the list: the decision tree, which answers new flows,
 * and the tuple space, which answers while a bank's tree is not written
 * (or is broken).  A list over the tuple space's limits (shapes, keys)
 * goes in with an empty tuple space if the tree holds it; a list the tree
 * cannot hold is answered by the tuple space alone (dp->stats.tree_error
 * says why); a list neither holds is refused.  The tree of a list the
 * tuple space holds is built after the flip (write_target_tree()): the
 * new verdicts do not wait for it.
 */
static int build_forms(struct dp *dp, struct apply *a, const struct filter_table *t,
		       char *errbuf, size_t errlen)
{
	static const struct filter_table empty;
	char tserr[256];

	if (tuplespace_build(t, &a->ts, tserr, sizeof(tserr))) {
		if (!a->ts.over_limit)
			return dp_err(errbuf, errlen, "%s", tserr);
		a->tss_off = true;
		if (tuplespace_build(&empty, &a->ts, errbuf, errlen))
			return -1;
	}
	if (!a->tss_off)
		return 0;
	build_tree(dp, a, t);
	if (!a->tree_ok)
		return dp_err(errbuf, errlen, "the filter list fits neither the "
			      "decision tree (%s) nor the tuple space (%s)",
			      dp->stats.tree_error, tserr);
	return 0;
}

/*
 * The keys the banks of ixdp_filters hold.  When both hold the live list
 * (the last apply completed both: their ixdp_banks entries carry its
 * generation; a bank being written has a zero entry), they are the keys
 * of the live list, computed from it: reading the hash back costs a
 * 10000-filter apply more (a bucket lock per key) than compiling the
 * list's tuple space.  Otherwise the hash is read: it is the truth after
 * an apply that failed half way.
 */
static int read_bank_keys(struct dp *dp, struct apply *a)
{
	bool known = a->live_bank.generation &&
		     a->target_bank.generation == a->live_bank.generation &&
		     a->target_bank.nfilters == a->live_bank.nfilters;

	if (known && !dp_keys_of_list(a->old, a->old_slot, a->nold,
				       a->live_bank.tss_off, a->keys))
		return 0;
	return dp_read_all_keys(dp, a->keys);
}

static int prepare_apply(struct dp *dp, struct apply *a, const struct filter_table *t,
			 char *errbuf, size_t errlen)
{
	bool memo;
	int err;

	if (build_forms(dp, a, t, errbuf, errlen))
		return -1;
	if ((err = dp_read_bank(dp, &a->live, &a->live_bank)))
		return dp_err(errbuf, errlen, "cannot read the live bank: %s",
			      strerror(-err));
	a->target = a->live ^ 1;
	if ((err = bpf_map_lookup_elem(dp->banks_fd, &a->target, &a->target_bank)))
		return dp_err(errbuf, errlen, "cannot read ixdp_banks: %s",
			      strerror(-err));
	a->nw = calloc(t->n + 1, sizeof(*a->nw));
	if (!a->nw)
		return dp_err(errbuf, errlen, "out of memory");
	for (size_t i = 0; i < t->n; i++)
		dp_info_from_filter(&t->v[i], &a->nw[i]);
	memo = take_memo(dp, a);
	if (!memo && (err = read_live_list(dp, a)))
		return dp_err(errbuf, errlen, "cannot read the live list (ixdp_order, "
			      "ixdp_info): %s", strerror(-err));
	if ((err = assign_rule_ids(dp, a->old, a->nold, a->nw, t->n)))
		return dp_err(errbuf, errlen, "cannot give the rules their ids: %s%s",
			      strerror(-err), err == -ENOENT ? " (dataplane loaded "
			      "by an older version: `ipsec-xdp unload` and load "
			      "again)" : "");
	if ((err = assign_slots(a->old, a->old_slot, a->nold, a->nw, t->n, &a->slots)))
		return dp_err(errbuf, errlen, "cannot give the filters their slots: %s",
			      strerror(-err));
	if (!memo && (err = read_bank_keys(dp, a)))
		return dp_err(errbuf, errlen, "cannot read ixdp_filters: %s",
			      strerror(-err));
	a->img = (struct dp_bank_image){
		.table = t, .ts = &a->ts, .slot = a->slots.slot, .n = t->n,
		.port_class_sig = dp_port_class_sig(&a->ts),
	};
	return 0;
}

/* Everything of the target bank but its ixdp_banks entry, which *nb gets. */
static int fill_target(struct dp *dp, struct apply *a, struct ixdp_bank *nb,
		       const char **what)
{
	int err;

	*what = "ixdp_info and ixdp_counters";
	if ((err = write_fresh_slots(dp, a->nw, &a->slots)))
		return err;
	return dp_sync_bank(dp, a->target, &a->img, &a->keys[a->target], nb, what);
}

static __u32 next_generation(const struct apply *a)
{
	__u32 g = a->live_bank.generation > a->target_bank.generation ?
		  a->live_bank.generation : a->target_bank.generation;

	return g + 1;
}

/* ---- the flow cache across an apply ---------------------------------------- */

/*
 * The slots whose cached flows may get another answer from the new list
 * than from the live one: out gets them (IXDP_CACHE_NO_MATCH for "no
 * match"), the others' entries stay valid.  Why they may: an entry of slot
 * s holds the first filter of the live list that matches its flow.  Let
 * the cut be the first position of the new list that holds a fresh slot
 * (a filter added or changed) or a kept slot out of the live list's
 * relative order.  A kept slot s before the cut has before it only kept
 * filters, which were before it in the live list too and did not match
 * its flows: s is still their first match.  So are bumped the slots at and
 * after the cut (an added filter may take their flows), the deleted slots
 * (their flows go elsewhere), the fresh ones (their number may be a
 * deleted filter's), and "no match" when a filter is fresh (an added
 * filter may match).  Deleting a filter moves only its own flows.
 */
static int cache_bumps(const struct apply *a, size_t n, __u32 **out, size_t *nout)
{
	__u32 *oldpos = malloc(IXDP_MAX_SLOTS * sizeof(*oldpos));
	uint8_t *innew = calloc(IXDP_MAX_SLOTS, 1);
	bool cut = false, fresh = false;
	long last = -1;

	*nout = 0;
	*out = malloc((n + a->nold + 1) * sizeof(**out));
	if (!oldpos || !innew || !*out) {
		free(oldpos);
		free(innew);
		return -ENOMEM;
	}
	memset(oldpos, 0xff, IXDP_MAX_SLOTS * sizeof(*oldpos));
	for (size_t i = 0; i < a->nold; i++)
		if (a->old_slot[i] < IXDP_MAX_SLOTS)
			oldpos[a->old_slot[i]] = (__u32)i;
	for (size_t j = 0; j < n; j++) {
		__u32 s = a->slots.slot[j];

		if (s >= IXDP_MAX_SLOTS)
			continue;       /* cannot happen: assign_slots() */
		innew[s] = 1;
		fresh |= oldpos[s] == ~0u;
		if (!cut && (oldpos[s] == ~0u || (long)oldpos[s] <= last))
			cut = true;
		if (cut)
			(*out)[(*nout)++] = s;
		else
			last = (long)oldpos[s];
	}
	for (size_t i = 0; i < a->nold; i++)
		if (a->old_slot[i] < IXDP_MAX_SLOTS && !innew[a->old_slot[i]])
			(*out)[(*nout)++] = a->old_slot[i];
	if (fresh)
		(*out)[(*nout)++] = IXDP_CACHE_NO_MATCH;
	free(oldpos);
	free(innew);
	return 0;
}

/*
 * Before the flip: ixdp_cache_gen[s] = the new generation for the slots
 * cache_bumps() gives, or the new bank's cache_min_gen = its generation
 * (every entry invalid) on the first apply, or when the bank switches
 * between the filter list and the boot mode.  Written before the bank
 * and the flip (the order flow_entry_valid() relies on): a packet still on
 * the live bank only misses on a bumped slot, and stores its answer under
 * the live generation, older than the new one, so no entry computed from
 * the live list is taken for a bumped slot after the flip.  Generations
 * only grow (next_generation()), so neither do the entries of ixdp_cache_gen
 * go back.  They are 32 bits: 2^32 applies would wrap them.
 */
static int invalidate_cache(struct dp *dp, const struct apply *a, size_t n,
			    struct ixdp_bank *nb, bool has_policy)
{
	__u32 *slots, *gens;
	size_t nb_slots;
	int err;

	nb->cache_min_gen = a->live_bank.cache_min_gen;
	if (!a->live_bank.generation || !a->live_bank.has_policy != !has_policy) {
		nb->cache_min_gen = nb->generation;
		dp->stats.cache_emptied = true;
		return 0;
	}
	if ((err = cache_bumps(a, n, &slots, &nb_slots)))
		return err;
	gens = malloc((nb_slots + 1) * sizeof(*gens));
	if (!gens) {
		free(slots);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nb_slots; i++)
		gens[i] = nb->generation;
	err = dp_update_pairs_chunked(dp->cache_gen_fd, slots, gens, nb_slots);
	dp->stats.cache_bumped = err ? 0 : nb_slots;
	free(slots);
	free(gens);
	return err;
}

/* After the flip and its grace period: the old bank gets the same
 * difference, so that both banks hold the live list. */
static int mirror_old_bank(struct dp *dp, struct apply *a, const struct ixdp_bank *nb)
{
	struct ixdp_bank mb;
	const char *what;
	int err = dp_sync_bank(dp, a->live, &a->img, &a->keys[a->live], &mb, &what);

	if (err)
		return err;
	mb.has_policy = nb->has_policy;
	mb.generation = nb->generation;
	mb.tss_off = nb->tss_off;
	mb.cache_min_gen = nb->cache_min_gen;
	if (bpf_map_update_elem(dp->banks_fd, &a->live, &mb, BPF_ANY))
		return -errno;
	dp->stats.mirrored = true;
	return 0;
}

/* Make the target bank live, wait out the readers of the old one, bring it
 * up to date. */
static int flip_policy_bank(struct dp *dp, struct apply *a, size_t n,
			    struct ixdp_bank *nb, bool has_policy,
			    char *errbuf, size_t errlen)
{
	int err;

	nb->has_policy = has_policy;
	nb->generation = next_generation(a);
	nb->tss_off = a->tss_off;
	if ((err = invalidate_cache(dp, a, n, nb, has_policy)))
		return dp_err(errbuf, errlen, "cannot write ixdp_cache_gen: %s",
			      strerror(-err));
	if ((err = bpf_map_update_elem(dp->banks_fd, &a->target, nb, BPF_ANY)))
		return dp_err(errbuf, errlen, "cannot write ixdp_banks: %s",
			      strerror(-err));
	if ((err = dp_write_u32(dp->state_fd, IXDP_STATE_POLICY_BANK, a->target)))
		return dp_err(errbuf, errlen, "cannot flip ixdp_state: %s",
			      strerror(-err));
	/* Live from here on: what fails below leaves the inactive bank
	 * marked unknown (a zero ixdp_banks entry), which the next apply
	 * rewrites whole. */
	if ((err = wait_for_programs(dp)))
		return dp_err(errbuf, errlen, "applied, but cannot wait for running "
			      "programs (ixdp_sync): %s", strerror(-err));
	if ((err = mirror_old_bank(dp, a, nb)))
		return dp_err(errbuf, errlen, "applied, but cannot bring the old "
			      "bank up to date: %s", strerror(-err));
	return 0;
}

static int unready_target_tree(struct dp *dp, struct apply *a,
			       char *errbuf, size_t errlen)
{
	int err = dp_tree_unready(dp, a->target);

	return err ? dp_err(errbuf, errlen, "cannot write ixdp_state: %s",
			    strerror(-err)) : 0;
}

/* The target bank's tree (built now unless build_forms() did), marked as
 * its new generation's.  One that cannot be built or written leaves the
 * bank's tuple space to answer new flows (dp->stats.tree_error says why),
 * unless the tuple space is off: then the caller flips nothing. */
static int write_target_tree(struct dp *dp, struct apply *a,
			     const struct filter_table *t, char *errbuf, size_t errlen)
{
	size_t n = t->n;
	int err;

	if (!a->tss_off)
		build_tree(dp, a, t);
	if (!a->tree_ok)
		return a->tss_off ? dp_err(errbuf, errlen, "no decision tree: %s",
					   dp->stats.tree_error)
				  : unready_target_tree(dp, a, errbuf, errlen);
	err = dp_write_tree(dp, a->target, next_generation(a), &a->tree,
			    a->slots.slot, n, &a->laid);
	if (!err)
		return 0;
	dp_err(dp->stats.tree_error, sizeof(dp->stats.tree_error),
	       "cannot write the decision tree: %s", strerror(-err));
	if (a->tss_off)
		return dp_err(errbuf, errlen, "%s (the list is over the tuple "
			      "space's limits, so nothing was changed)",
			      dp->stats.tree_error);
	return 0;
}

int dp_apply_table(struct dp *dp, const struct filter_table *t, bool has_policy,
		   char *errbuf, size_t errlen)
{
	static const struct filter_table empty;
	struct ixdp_bank nb;
	struct apply a;
	const char *what = "";
	int err;

	memset(&a, 0, sizeof(a));
	memset(&dp->stats, 0, sizeof(dp->stats));
	if (!t)
		t = &empty;
	err = prepare_apply(dp, &a, t, errbuf, errlen);
	if (!err) {
		err = fill_target(dp, &a, &nb, &what);
		if (err)
			err = dp_err(errbuf, errlen, "cannot write %s: %s%s", what,
				     strerror(-err), err == -E2BIG || err == -ENOMEM ?
				     " (too many filter keys?)" : "");
	}
	/* A list the tuple space holds is in force from the flip, and its
	 * tree follows (written into the bank now live, unused until
	 * marked): building it does not delay the new verdicts.  A list
	 * only the tree holds has its tree written before the flip. */
	if (!err)
		err = a.tss_off ? write_target_tree(dp, &a, t, errbuf, errlen)
				: unready_target_tree(dp, &a, errbuf, errlen);
	if (!err)
		err = flip_policy_bank(dp, &a, t->n, &nb, has_policy, errbuf, errlen);
	if (!err)
		delete_dead_bundles(dp, a.nw, t->n);
	if (!err && !a.tss_off)
		write_target_tree(dp, &a, t, errbuf, errlen);
	/* the old bank, past its grace period, gets the same tree: the next
	 * apply then writes only what differs from it */
	if (!err && dp->stats.tree_ready)
		dp->stats.tree_mirrored =
			!dp_mirror_tree(dp, a.live, nb.generation, &a.laid);
	if (!err)
		keep_memo(dp, &a, nb.generation, t->n);
	else if (dp->memo)
		memo_clear(dp->memo);
	apply_free(&a);
	ctree_guide(NULL, 0, 0);	/* read for this apply (dp_guide_tree()) */
	return err ? -1 : 0;
}

int dp_apply_boot(struct dp *dp, enum ixdp_bootmode mode,
		  const struct ixdp_boot_exempt *ex, size_t nexempt,
		  char *errbuf, size_t errlen)
{
	struct ixdp_boot b;
	__u32 live, target;
	int err;

	if (nexempt > IXDP_MAX_BOOT_EXEMPT)
		return dp_err(errbuf, errlen, "%zu boot exemptions: at most %d",
			      nexempt, IXDP_MAX_BOOT_EXEMPT);
	if (mode != IXDP_BOOT_PERMIT && mode != IXDP_BOOT_BLOCK &&
	    mode != IXDP_BOOT_STATEFUL)
		return dp_err(errbuf, errlen, "unknown boot mode %d", (int)mode);
	memset(&b, 0, sizeof(b));
	b.mode = mode;
	b.nexempt = (__u32)nexempt;
	if (nexempt)
		memcpy(b.exempt, ex, nexempt * sizeof(*ex));
	if ((err = dp_read_u32(dp->state_fd, IXDP_STATE_BOOT_BANK, &live)))
		return dp_err(errbuf, errlen, "cannot read ixdp_state: %s",
			      strerror(-err));
	target = (live & 1) ^ 1;
	if ((err = bpf_map_update_elem(dp->boot_fd, &target, &b, BPF_ANY)))
		return dp_err(errbuf, errlen, "cannot write ixdp_boot: %s",
			      strerror(-err));
	if ((err = dp_write_u32(dp->state_fd, IXDP_STATE_BOOT_BANK, target)))
		return dp_err(errbuf, errlen, "cannot flip ixdp_state: %s",
			      strerror(-err));
	/* The next apply rewrites the other bank: nobody may still read it. */
	if ((err = wait_for_programs(dp)))
		return dp_err(errbuf, errlen, "applied, but cannot wait for running "
			      "programs (ixdp_sync): %s", strerror(-err));
	return 0;
}
