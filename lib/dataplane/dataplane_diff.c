// SPDX-License-Identifier: GPL-2.0-only
/*
 * dataplane_diff.c - bring one bank of the classifier maps to a given list
 * by writing only what differs from what the bank holds.
 *
 * Both banks hold the live list between applies (dataplane.c: the new list
 * goes into the inactive bank, the bank flips, and after the grace period
 * the old bank gets the same difference).  So an apply that changes one
 * filter finds the inactive bank equal to the live list and writes:
 *
 *  - ixdp_filters: the keys added, deleted, or whose value changed, from a
 *    merge, in key order (ts_key_cmp()), of the keys the bank holds (read from the hash: the map
 *    is the truth, even after an apply that failed half way) with the new
 *    ones.  A key names its tuple by shape and its value the filter's slot,
 *    so an unchanged filter's keys stay as they are wherever it moves in
 *    the list;
 *  - ixdp_tuples: from the first tuple that differs to the family's end;
 *  - ixdp_order, ixdp_slot_pos: the positions that changed (everything
 *    after a filter added or deleted near the top: plain array entries);
 *  - ixdp_port_class: both sides whole, when the classes differ (a port
 *    range added, deleted or changed anywhere): the fallback, since the
 *    keys of every range filter change with them.  The bank's
 *    port_class_sig tells whether they differ without reading 2 x 65536
 *    entries back.
 *
 * While a bank is written its ixdp_banks entry is zero ("content
 * unknown": nothing to compare the order or tuples with), so a write that
 * fails leaves a bank the next one rewrites whole; the caller writes the
 * entry when the bank is complete.  Only an inactive bank is ever written.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "dataplane/dataplane.h"
#include "compile/compile_tuplespace.h"
#include "dataplane/dataplane_internal.h"

/* ---- every key of the hash, by bank --------------------------------------- */

static int keys_push(struct dp_bank_keys *l, const struct ixdp_fkey *k,
		     const struct ixdp_fval *v)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 1024;
		struct ts_entry *m = realloc(l->v, cap * sizeof(*m));

		if (!m)
			return -ENOMEM;
		l->v = m;
		l->cap = cap;
	}
	l->v[l->n].key = *k;
	l->v[l->n].val = *v;
	l->n++;
	return 0;
}

static int push_banked(struct dp_bank_keys out[2], const struct ixdp_fkey *k,
		       const struct ixdp_fval *v)
{
	return k->bank < 2 ? keys_push(&out[k->bank], k, v) : 0;
}

static int read_keys_slow(int fd, struct dp_bank_keys out[2])
{
	struct ixdp_fkey k, next;
	const struct ixdp_fkey *prev = NULL;
	struct ixdp_fval v;
	int err;

	while (!(err = bpf_map_get_next_key(fd, prev, &next))) {
		if (!bpf_map_lookup_elem(fd, &next, &v) && push_banked(out, &next, &v))
			return -ENOMEM;
		k = next;
		prev = &k;
	}
	return err == -ENOENT ? 0 : err;
}

int dp_read_all_keys(struct dp *dp, struct dp_bank_keys out[2])
{
	struct ixdp_fkey *keys = malloc(CHUNK * sizeof(*keys));
	struct ixdp_fval *vals = malloc(CHUNK * sizeof(*vals));
	__u32 in = 0, next = 0;
	bool first = true;
	int err = -ENOMEM;

	memset(out, 0, 2 * sizeof(*out));
	while (keys && vals) {
		__u32 count = CHUNK;

		err = bpf_map_lookup_batch(dp->filters_fd, first ? NULL : &in, &next,
					   keys, vals, &count, NULL);
		if (err && err != -ENOENT)
			break;
		for (__u32 i = 0; i < count; i++)
			if (push_banked(out, &keys[i], &vals[i])) {
				err = -ENOMEM;
				goto out;
			}
		if (err == -ENOENT) {
			err = 0;
			break;
		}
		in = next;
		first = false;
	}
	if (dp_batch_unsupported(err) || err == -ENOSPC) {
		out[0].n = out[1].n = 0;
		err = read_keys_slow(dp->filters_fd, out);
	}
out:
	free(keys);
	free(vals);
	for (int b = 0; !err && b < 2; b++)
		err = ts_entries_sort(out[b].v, out[b].n);   /* the entries' order */
	return err;
}

/* ---- every key of the banks, from the live list ---------------------------- */

static int list_table(const struct ixdp_filter_info *info, size_t n,
		      struct filter_table *t)
{
	memset(t, 0, sizeof(*t));
	t->v = calloc(n + 1, sizeof(*t->v));
	if (!t->v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		dp_filter_from_info(&info[i], &t->v[i]);
	t->n = t->cap = n;
	return 0;
}

/* The bank's keys are the tuple space's entries (in key order, whatever
 * the bank: ts_key_rank() leaves the bank out) with the bank and the slot of each position. */
int dp_keys_of_tuplespace(const struct tuplespace *ts, const __u32 *slot,
			  size_t n, struct dp_bank_keys out[2])
{
	for (__u32 b = 0; b < 2; b++) {
		out[b].v = malloc((ts->nentries + 1) * sizeof(*out[b].v));
		if (!out[b].v)
			return -ENOMEM;
		out[b].cap = ts->nentries + 1;
		for (size_t j = 0; j < ts->nentries; j++) {
			struct ts_entry e = ts->entries[j];

			if (e.val.slot >= n)
				return -EINVAL; /* cannot happen: positions */
			e.key.bank = (__u8)b;
			e.val.slot = slot[e.val.slot];
			out[b].v[out[b].n++] = e;
		}
	}
	return 0;
}

int dp_keys_of_list(const struct ixdp_filter_info *info, const __u32 *slot,
		    size_t n, bool tss_off, struct dp_bank_keys out[2])
{
	struct tuplespace ts = {0};
	struct filter_table t;
	char err[256];
	int ret;

	memset(out, 0, 2 * sizeof(*out));
	if (tss_off)
		return 0;       /* the bank's tuple space is empty */
	if ((ret = list_table(info, n, &t)))
		return ret;
	ret = tuplespace_build(&t, &ts, err, sizeof(err)) ? -EINVAL :
	      dp_keys_of_tuplespace(&ts, slot, n, out);
	tuplespace_free(&ts);
	free(t.v);
	if (ret)
		dp_bank_keys_free(out);
	return ret;
}

void dp_bank_keys_free(struct dp_bank_keys k[2])
{
	for (int b = 0; b < 2; b++) {
		free(k[b].v);
		k[b].v = NULL;
		k[b].n = k[b].cap = 0;
	}
}

/* ---- keys ----------------------------------------------------------------- */

static int delete_keys(int fd, const struct ixdp_fkey *k, size_t n)
{
	for (size_t off = 0; off < n; off += CHUNK) {
		__u32 c = (__u32)(n - off < CHUNK ? n - off : CHUNK);
		__u32 count = c;
		int err = bpf_map_delete_batch(fd, k + off, &count, NULL);

		if (!err)
			continue;
		/* One by one, not minding keys that are already gone. */
		for (__u32 i = 0; i < c; i++) {
			err = bpf_map_delete_elem(fd, &k[off + i]);
			if (err && err != -ENOENT)
				return -errno;
		}
	}
	return 0;
}

struct key_diff {
	struct ixdp_fkey *put, *del;    /* put: added or changed */
	struct ixdp_fval *val;
	size_t nput, ndel;
};

static void key_diff_free(struct key_diff *d)
{
	free(d->put);
	free(d->del);
	free(d->val);
}

/* The bank's new entry j: the tuplespace's, with the bank and the slot. */
static struct ts_entry new_entry(const struct dp_bank_image *img, __u32 bank,
				 size_t j)
{
	struct ts_entry e = img->ts->entries[j];

	e.key.bank = (__u8)bank;
	e.val.slot = img->slot[e.val.slot];
	return e;
}

/* A merge of the two lists, both in key order (ts_key_cmp()): each key's
 * rank is computed once, when the merge reaches it. */
static void diff_keys(const struct dp_bank_image *img, __u32 bank,
		      const struct dp_bank_keys *cur, struct key_diff *d,
		      struct dp_apply_stats *st)
{
	size_t i = 0, j = 0, nn = img->ts->nentries;
	uint32_t ri = i < cur->n ? ts_key_rank(&cur->v[i].key) : 0, rj = 0;
	struct ts_entry e;

	if (j < nn) {
		e = new_entry(img, bank, j);
		rj = ts_key_rank(&e.key);
	}
	while (i < cur->n || j < nn) {
		int c = j == nn ? -1 : i == cur->n ? 1 :
			ts_key_cmp(ri, &cur->v[i].key, rj, &e.key);
		bool take_old = c <= 0, take_new = c >= 0;

		if (c < 0) {
			d->del[d->ndel++] = cur->v[i].key;
			st->keys_deleted++;
		} else if (c > 0 || memcmp(&cur->v[i].val, &e.val, sizeof(e.val))) {
			st->keys_changed += c == 0;
			st->keys_added += c > 0;
			d->put[d->nput] = e.key;
			d->val[d->nput++] = e.val;
		}
		if (take_old && ++i < cur->n)
			ri = ts_key_rank(&cur->v[i].key);
		if (take_new && ++j < nn) {
			e = new_entry(img, bank, j);
			rj = ts_key_rank(&e.key);
		}
	}
}

static int sync_keys(struct dp *dp, __u32 bank, const struct dp_bank_image *img,
		     const struct dp_bank_keys *cur)
{
	struct key_diff d = {
		.put = malloc((img->ts->nentries + 1) * sizeof(*d.put)),
		.val = malloc((img->ts->nentries + 1) * sizeof(*d.val)),
		.del = malloc((cur->n + 1) * sizeof(*d.del)),
	};
	int err = d.put && d.val && d.del ? 0 : -ENOMEM;

	if (!err)
		diff_keys(img, bank, cur, &d, &dp->stats);
	/* Deletions first: both banks share the hash's room. */
	if (!err)
		err = delete_keys(dp->filters_fd, d.del, d.ndel);
	for (size_t off = 0; !err && off < d.nput; off += CHUNK)
		err = dp_update_pairs(dp->filters_fd, d.put + off, d.val + off,
				      d.nput - off < CHUNK ? d.nput - off : CHUNK,
				      sizeof(*d.put), sizeof(*d.val));
	key_diff_free(&d);
	return err;
}

/* ---- tuples and port classes ---------------------------------------------- */

static int sync_tuples(struct dp *dp, __u32 bank, const struct ixdp_bank *old,
		       const struct tuplespace *ts)
{
	struct ixdp_tuple cur[IXDP_MAX_TUPLES];

	for (__u32 fam = 0; fam < 2; fam++) {
		__u32 base = (bank * 2 + fam) * IXDP_MAX_TUPLES;
		__u32 nold = old->ntuples[fam] < IXDP_MAX_TUPLES ?
			     old->ntuples[fam] : IXDP_MAX_TUPLES;
		__u32 n = ts->ntuples[fam], first = 0;
		int err = nold ? dp_array_read(dp->tuples_fd, base, nold, cur,
					       sizeof(*cur)) : 0;

		if (err)
			return err;
		while (first < n && first < nold &&
		       !memcmp(&cur[first], &ts->tuples[fam][first], sizeof(*cur)))
			first++;
		err = dp_array_write(dp->tuples_fd, base + first, n - first,
				     &ts->tuples[fam][first], sizeof(*cur));
		if (err)
			return err;
		dp->stats.tuples_written += n - first;
	}
	return 0;
}

static bool has_range_tuple(const struct tuplespace *ts)
{
	for (int fam = 0; fam < 2; fam++)
		for (uint32_t i = 0; i < ts->ntuples[fam]; i++)
			if (ts->tuples[fam][i].sport_kind == IXDP_PORT_RANGE ||
			    ts->tuples[fam][i].dport_kind == IXDP_PORT_RANGE)
				return true;
	return false;
}

__u32 dp_port_class_sig(const struct tuplespace *ts)
{
	__u32 h = 2166136261u;

	if (!has_range_tuple(ts))
		return 0;
	for (int side = 0; side < 2; side++) {
		const unsigned char *b = (const unsigned char *)ts->port_class[side];

		for (size_t i = 0; i < IXDP_PORT_CLASSES * sizeof(__u16); i++) {
			h ^= b[i];
			h *= 16777619u;
		}
	}
	return h ? h : 1;       /* 0 means "unknown" */
}

/* Only RANGE tuples read the classes: without one, nothing is written (and
 * the bank keeps the signature of what its entries still hold). */
static int sync_port_classes(struct dp *dp, __u32 bank, const struct ixdp_bank *old,
			     const struct dp_bank_image *img, __u32 *sig)
{
	*sig = old->port_class_sig;
	if (!img->port_class_sig || img->port_class_sig == old->port_class_sig)
		return 0;
	for (__u32 side = 0; side < 2; side++) {
		int err = dp_array_write(dp->port_class_fd,
					 (bank * 2 + side) * IXDP_PORT_CLASSES,
					 IXDP_PORT_CLASSES, img->ts->port_class[side],
					 sizeof(__u16));
		if (err)
			return err;
	}
	dp->stats.port_class_written += 2 * IXDP_PORT_CLASSES;
	*sig = img->port_class_sig;
	return 0;
}

/* ---- the order: ixdp_order and ixdp_slot_pos ------------------------------ */

struct order_diff {
	__u32 *cur;             /* the bank's slots by position, as it holds them */
	__u32 *pos_of;          /* [IXDP_MAX_SLOTS]: their positions, ~0 none */
	size_t ncur;
	__u32 *k, *v;
	size_t n;
};

static void order_diff_free(struct order_diff *o)
{
	free(o->cur);
	free(o->pos_of);
	free(o->k);
	free(o->v);
}

static int order_diff_init(struct dp *dp, __u32 bank, const struct ixdp_bank *old,
			   size_t n, struct order_diff *o)
{
	size_t nold = old->nfilters < IXDP_MAX_FILTERS ? old->nfilters : IXDP_MAX_FILTERS;
	int err;

	o->ncur = nold;
	o->cur = malloc((nold + 1) * sizeof(*o->cur));
	o->pos_of = malloc(IXDP_MAX_SLOTS * sizeof(*o->pos_of));
	o->k = malloc((n + 1) * sizeof(*o->k));
	o->v = malloc((n + 1) * sizeof(*o->v));
	if (!o->cur || !o->pos_of || !o->k || !o->v)
		return -ENOMEM;
	memset(o->pos_of, 0xff, IXDP_MAX_SLOTS * sizeof(*o->pos_of));
	err = nold ? dp_array_read(dp->order_fd, bank * IXDP_MAX_FILTERS, nold,
				   o->cur, sizeof(*o->cur)) : 0;
	for (size_t p = 0; !err && p < nold; p++)
		if (o->cur[p] < IXDP_MAX_SLOTS)
			o->pos_of[o->cur[p]] = (__u32)p;
	return err;
}

static int sync_order(struct dp *dp, __u32 bank, const struct ixdp_bank *old,
		      const struct dp_bank_image *img)
{
	struct order_diff o = {0};
	int err = order_diff_init(dp, bank, old, img->n, &o);

	for (size_t p = 0; !err && p < img->n; p++)
		if (p >= o.ncur || o.cur[p] != img->slot[p]) {
			o.k[o.n] = bank * IXDP_MAX_FILTERS + (__u32)p;
			o.v[o.n++] = img->slot[p];
		}
	if (!err)
		err = dp_update_pairs_chunked(dp->order_fd, o.k, o.v, o.n);
	dp->stats.order_written += o.n;
	o.n = 0;
	for (size_t p = 0; !err && p < img->n; p++)
		if (o.pos_of[img->slot[p]] != (__u32)p) {
			o.k[o.n] = bank * IXDP_MAX_SLOTS + img->slot[p];
			o.v[o.n++] = (__u32)p;
		}
	if (!err)
		err = dp_update_pairs_chunked(dp->slot_pos_fd, o.k, o.v, o.n);
	dp->stats.order_written += o.n;
	order_diff_free(&o);
	return err;
}

/* ---- one bank ------------------------------------------------------------- */

int dp_sync_bank(struct dp *dp, __u32 bank, const struct dp_bank_image *img,
		 const struct dp_bank_keys *cur, struct ixdp_bank *nb,
		 const char **what)
{
	struct ixdp_bank old, zero = {0};
	int err;

	*what = "ixdp_banks";
	if ((err = bpf_map_lookup_elem(dp->banks_fd, &bank, &old)) ||
	    (err = bpf_map_update_elem(dp->banks_fd, &bank, &zero, BPF_ANY)))
		return -errno;
	memset(nb, 0, sizeof(*nb));
	*what = "ixdp_tuples";
	if ((err = sync_tuples(dp, bank, &old, img->ts)))
		return err;
	*what = "ixdp_port_class";
	if ((err = sync_port_classes(dp, bank, &old, img, &nb->port_class_sig)))
		return err;
	*what = "ixdp_filters";
	if ((err = sync_keys(dp, bank, img, cur)))
		return err;
	*what = "ixdp_order and ixdp_slot_pos";
	if ((err = sync_order(dp, bank, &old, img)))
		return err;
	*what = "ixdp_ifgroup and ixdp_ifmask";
	if ((err = dp_write_ifgroups(dp, bank, img->table)))
		return err;
	nb->ntuples[IXDP_FAM_V4] = img->ts->ntuples[IXDP_FAM_V4];
	nb->ntuples[IXDP_FAM_V6] = img->ts->ntuples[IXDP_FAM_V6];
	nb->nfilters = (__u32)img->n;
	return 0;
}
