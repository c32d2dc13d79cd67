// SPDX-License-Identifier: GPL-2.0-only
/*
 * compile_tuplespace.c - the sorted filter table laid out for tuple space search.
 *
 * A tuple is a filter shape (family, prefix lengths, protocol named or not,
 * each port any / exact / range).  Tuples are numbered per family in the
 * order they first appear in the sorted table, which is weight order, and
 * filter_table_sort() keeps the filters of one shape adjacent.  So the
 * first tuple whose masked key is in the hash holds the filter that
 * filter_table_match() would return.  A key names its tuple by shape
 * (ixdp_shape), not by number, so a shape added or removed leaves the
 * other tuples' keys as they were (an incremental apply writes only the
 * keys that change).
 *
 * Port ranges: per side (source, destination), all RANGE endpoints cut the
 * port space into elementary intervals ("classes"); every port maps to its
 * class, and a RANGE filter becomes one key per class it covers.  A packet
 * has one class per side, so it still needs one lookup per tuple.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util_errbuf.h"
#include "compile/compile_tuplespace.h"

#define NPORTS 65536

/* Keys of one bank: the hash holds both banks during an apply. */
#define TS_MAX_ENTRIES (IXDP_MAX_KEYS / 2)

static void prefix_mask(uint8_t plen, __u32 mask[4])
{
	uint8_t bytes[16] = {0};

	for (unsigned i = 0; i < 16; i++) {
		if (plen >= 8) {
			bytes[i] = 0xff;
			plen -= 8;
		} else {
			bytes[i] = (uint8_t)(0xff << (8 - plen));
			break;
		}
	}
	memcpy(mask, bytes, 16);
}

static void addr_words(uint8_t fam, const uint8_t *addr, __u32 out[4])
{
	memset(out, 0, 16);
	memcpy(out, addr, fam == IXDP_FAM_V4 ? 4 : 16);
}

static void tuple_from_filter(const struct specific_filter *f,
			      struct ixdp_tuple *t)
{
	memset(t, 0, sizeof(*t));
	prefix_mask(f->src_plen, t->src_mask);
	prefix_mask(f->dst_plen, t->dst_mask);
	t->weight = filter_weight(f);
	t->proto_exact = f->proto_exact ? 1 : 0;
	t->sport_kind = (uint8_t)port_kind(&f->sport);
	t->dport_kind = (uint8_t)port_kind(&f->dport);
	t->protos = f->proto_exact ? ixdp_proto_bit(f->proto) : IXDP_PB_ALL;
	t->groups = (__u16)(1u << f->ifgroup);
	t->shape = ixdp_shape(f->src_plen, f->dst_plen, t->proto_exact,
			      t->sport_kind, t->dport_kind,
			      (f->flags & IXDP_F_EXEMPTION) != 0);
}

/* Class of every port of one side: a new class starts at each range's low
 * end and just after each range's high end. */
static int build_port_classes(const struct filter_table *t, int side,
			      uint16_t *cls)
{
	uint8_t *starts = calloc(NPORTS, 1);
	uint16_t c = 0;

	if (!starts)
		return -1;
	for (size_t i = 0; i < t->n; i++) {
		const struct port_spec *ps = side ? &t->v[i].dport : &t->v[i].sport;

		if (port_kind(ps) != IXDP_PORT_RANGE)
			continue;
		starts[ps->lo] = 1;
		if (ps->hi < NPORTS - 1)
			starts[ps->hi + 1] = 1;
	}
	for (unsigned p = 0; p < NPORTS; p++) {
		if (p > 0 && starts[p])
			c++;
		cls[p] = c;
	}
	free(starts);
	return 0;
}


static int ts_push(struct tuplespace *ts, const struct ts_entry *e)
{
	if (ts->nentries == ts->cap) {
		size_t cap = ts->cap ? ts->cap * 2 : 1024;
		struct ts_entry *v = realloc(ts->entries, cap * sizeof(*v));

		if (!v)
			return -1;
		ts->entries = v;
		ts->cap = cap;
	}
	ts->entries[ts->nentries++] = *e;
	return 0;
}

/* The key values one port side of a filter stands for: [*lo, *hi]. */
static void port_values(const struct tuplespace *ts, int side,
			const struct port_spec *ps, uint16_t *lo, uint16_t *hi)
{
	switch (port_kind(ps)) {
	case IXDP_PORT_ANY:
		*lo = *hi = 0;
		break;
	case IXDP_PORT_EXACT:
		*lo = *hi = ps->lo;
		break;
	case IXDP_PORT_RANGE:
		*lo = ts->port_class[side][ps->lo];
		*hi = ts->port_class[side][ps->hi];
		break;
	}
}

static void fill_key(struct ixdp_fkey *k, uint8_t fam,
		     const struct ixdp_tuple *t, const __u32 src[4],
		     const __u32 dst[4], uint8_t proto)
{
	memset(k, 0, sizeof(*k));
	k->fam = fam;
	k->shape = t->shape;
	k->proto = t->proto_exact ? proto : 0;
	for (int j = 0; j < 4; j++) {
		k->src[j] = src[j] & t->src_mask[j];
		k->dst[j] = dst[j] & t->dst_mask[j];
	}
}

/* One key per (source class, destination class) the filter covers. */
static int add_filter_keys(struct tuplespace *ts, const struct specific_filter *f,
			   size_t idx, uint16_t tuple, char *errbuf, size_t errlen)
{
	const struct ixdp_tuple *t = &ts->tuples[f->fam][tuple];
	__u32 src[4], dst[4];
	uint16_t slo, shi, dlo, dhi;
	struct ts_entry e;

	addr_words(f->fam, f->src, src);
	addr_words(f->fam, f->dst, dst);
	port_values(ts, 0, &f->sport, &slo, &shi);
	port_values(ts, 1, &f->dport, &dlo, &dhi);
	if ((size_t)(shi - slo + 1) * (size_t)(dhi - dlo + 1) >
	    TS_MAX_ENTRIES - ts->nentries) {
		ts->over_limit = true;
		return errbuf_set(errbuf, errlen,
			       "filter %zu: its port ranges need more hash keys "
			       "than the dataplane holds", idx);
	}
	memset(&e, 0, sizeof(e));
	fill_key(&e.key, f->fam, t, src, dst, f->proto);
	e.key.ifgroup = f->ifgroup;
	e.val.slot = (uint32_t)idx;	/* the position; see ts_entry */
	e.val.action = f->action;
	e.val.flags = f->flags;
	for (unsigned s = slo; s <= shi; s++) {
		for (unsigned d = dlo; d <= dhi; d++) {
			e.key.sport = (uint16_t)s;
			e.key.dport = (uint16_t)d;
			if (ts_push(ts, &e))
				return errbuf_set(errbuf, errlen, "out of memory (%zu keys)",
					       ts->nentries);
		}
	}
	return 0;
}

/* ---- the order of keys ------------------------------------------------------ */

uint32_t ts_key_rank(const struct ixdp_fkey *k)
{
	struct ixdp_fkey c = *k;
	uint64_t w[(sizeof(c) + 7) / 8] = { 0 }, h = 0x9e3779b97f4a7c15ull;

	c.bank = 0;
	memcpy(w, &c, sizeof(c));
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		h = (h ^ w[i]) * 0xbf58476d1ce4e5b9ull;
		h ^= h >> 31;
	}
	return (uint32_t)(h >> 32);
}

int ts_key_cmp(uint32_t rank_a, const struct ixdp_fkey *a,
	       uint32_t rank_b, const struct ixdp_fkey *b)
{
	if (rank_a != rank_b)
		return rank_a < rank_b ? -1 : 1;
	return memcmp(a, b, sizeof(*a));
}

struct ranked {
	uint32_t rank;
	uint32_t idx;
};

/* Within one rank (hashes that collide, or equal keys): by key, then slot. */
static int cmp_same_rank(const void *pa, const void *pb, void *arg)
{
	const struct ts_entry *v = arg;
	const struct ts_entry *a = &v[((const struct ranked *)pa)->idx];
	const struct ts_entry *b = &v[((const struct ranked *)pb)->idx];
	int c = memcmp(&a->key, &b->key, sizeof(a->key));

	if (c)
		return c;
	return a->val.slot < b->val.slot ? -1 : a->val.slot > b->val.slot;
}

/* LSD radix sort by rank, 8 bits a pass, back and forth between r and
 * tmp (four passes: the result is in r).  Stable: equal ranks keep their
 * order until cmp_same_rank orders them. */
static void radix_by_rank(struct ranked *r, struct ranked *tmp, size_t n)
{
	struct ranked *from = r, *to = tmp, *t;

	for (unsigned shift = 0; shift < 32; shift += 8) {
		size_t count[257] = { 0 };

		for (size_t i = 0; i < n; i++)
			count[((from[i].rank >> shift) & 0xff) + 1]++;
		for (unsigned b = 0; b < 256; b++)
			count[b + 1] += count[b];
		for (size_t i = 0; i < n; i++)
			to[count[(from[i].rank >> shift) & 0xff]++] = from[i];
		t = from;
		from = to;
		to = t;
	}
}

int ts_entries_sort(struct ts_entry *v, size_t n)
{
	struct ranked *r = malloc((n + 1) * sizeof(*r)), *tmp = malloc((n + 1) * sizeof(*tmp));
	struct ts_entry *out = malloc((n + 1) * sizeof(*out));
	int err = r && tmp && out ? 0 : -ENOMEM;

	for (size_t i = 0; !err && i < n; i++)
		r[i] = (struct ranked){ ts_key_rank(&v[i].key), (uint32_t)i };
	if (!err)
		radix_by_rank(r, tmp, n);
	for (size_t i = 0, j; !err && i < n; i = j) {
		for (j = i + 1; j < n && r[j].rank == r[i].rank; j++)
			;
		if (j - i > 1)
			qsort_r(&r[i], j - i, sizeof(*r), cmp_same_rank, v);
	}
	for (size_t i = 0; !err && i < n; i++)
		out[i] = v[r[i].idx];
	if (!err && n)
		memcpy(v, out, n * sizeof(*v));
	free(r);
	free(tmp);
	free(out);
	return err;
}

/* ---- the build ----------------------------------------------------------------- */

/* In key order (the first of equal keys, in table order, owns the key).
 * Out of memory for the sort: the entries go, so the build fails. */
static int sort_and_dedup(struct tuplespace *ts)
{
	size_t out = 0;

	if (!ts->nentries)
		return 0;
	if (ts_entries_sort(ts->entries, ts->nentries))
		return -ENOMEM;
	for (size_t i = 0; i < ts->nentries; i++) {
		if (out && !memcmp(&ts->entries[out - 1].key, &ts->entries[i].key,
				   sizeof(ts->entries[i].key)))
			continue;       /* an earlier filter owns this key */
		ts->entries[out++] = ts->entries[i];
	}
	ts->nentries = out;
	return 0;
}

/* Same shape; the protocol and group bitmaps are not part of it. */
static bool tuple_equal(const struct ixdp_tuple *a, const struct ixdp_tuple *b)
{
	struct ixdp_tuple x = *a, y = *b;

	x.protos = y.protos = 0;
	x.groups = y.groups = 0;
	return !memcmp(&x, &y, sizeof(x));
}

/* The tuple of f: the previous filter's, or a new one.  A shape seen
 * before but not just now means the table is not in enforcement order. */
static int tuple_of(struct tuplespace *ts, const struct filter_table *t,
		    size_t i, uint16_t *tuple, char *errbuf, size_t errlen)
{
	const struct specific_filter *f = &t->v[i];
	uint32_t n = ts->ntuples[f->fam];
	struct ixdp_tuple nt;

	if (i > 0 && specific_filter_same_shape(&t->v[i - 1], f)) {
		*tuple = (uint16_t)(n - 1);
		ts->tuples[f->fam][n - 1].protos |=
			f->proto_exact ? ixdp_proto_bit(f->proto) : IXDP_PB_ALL;
		ts->tuples[f->fam][n - 1].groups |= (__u16)(1u << f->ifgroup);
		return 0;
	}
	tuple_from_filter(f, &nt);
	for (uint32_t k = 0; k < n; k++)
		if (tuple_equal(&ts->tuples[f->fam][k], &nt))
			return errbuf_set(errbuf, errlen,
				       "filter %zu: the table is not sorted "
				       "(its shape appears twice)", i);
	if (n >= IXDP_MAX_TUPLES) {
		ts->over_limit = true;
		return errbuf_set(errbuf, errlen,
			       "more than %zu distinct filter shapes in one "
			       "address family", (size_t)IXDP_MAX_TUPLES);
	}
	ts->tuples[f->fam][n] = nt;
	ts->ntuples[f->fam] = n + 1;
	*tuple = (uint16_t)n;
	return 0;
}

static int check_filter(const struct specific_filter *f, size_t i,
			char *errbuf, size_t errlen)
{
	uint8_t max = f->fam == IXDP_FAM_V4 ? 32 : 128;

	if (f->fam != IXDP_FAM_V4 && f->fam != IXDP_FAM_V6)
		return errbuf_set(errbuf, errlen, "filter %zu: bad address family", i);
	if (f->src_plen > max || f->dst_plen > max)
		return errbuf_set(errbuf, errlen, "filter %zu: bad prefix length", i);
	if (f->sport.lo > f->sport.hi || f->dport.lo > f->dport.hi)
		return errbuf_set(errbuf, errlen, "filter %zu: port range low > high", i);
	if (f->ifgroup >= IXDP_MAX_IFGROUPS)
		return errbuf_set(errbuf, errlen, "filter %zu: bad interface group", i);
	return 0;
}

int tuplespace_build(const struct filter_table *t, struct tuplespace *ts,
		     char *errbuf, size_t errlen)
{
	uint16_t tuple = 0;

	memset(ts, 0, sizeof(*ts));
	if (t->n > IXDP_MAX_FILTERS)
		return errbuf_set(errbuf, errlen, "%zu filters: the dataplane holds "
			       "at most 65536", t->n);
	for (int side = 0; side < 2; side++) {
		ts->port_class[side] = calloc(NPORTS, sizeof(uint16_t));
		if (!ts->port_class[side] ||
		    build_port_classes(t, side, ts->port_class[side])) {
			tuplespace_free(ts);
			return errbuf_set(errbuf, errlen, "out of memory");
		}
	}
	for (size_t i = 0; i < t->n; i++) {
		if (check_filter(&t->v[i], i, errbuf, errlen) ||
		    tuple_of(ts, t, i, &tuple, errbuf, errlen) ||
		    add_filter_keys(ts, &t->v[i], i, tuple, errbuf, errlen)) {
			bool over = ts->over_limit;

			tuplespace_free(ts);
			ts->over_limit = over;
			return -1;
		}
	}
	if (sort_and_dedup(ts)) {
		size_t n = ts->nentries;

		tuplespace_free(ts);
		return errbuf_set(errbuf, errlen, "out of memory (%zu keys)", n);
	}
	return 0;
}

void tuplespace_free(struct tuplespace *ts)
{
	free(ts->entries);
	free(ts->port_class[0]);
	free(ts->port_class[1]);
	memset(ts, 0, sizeof(*ts));
}

struct probe_key {
	uint32_t rank;
	struct ixdp_fkey key;
};

static int cmp_probe(const void *pk, const void *pe)
{
	const struct probe_key *k = pk;
	const struct ts_entry *e = pe;

	return ts_key_cmp(k->rank, &k->key, ts_key_rank(&e->key), &e->key);
}

static uint16_t lookup_port(const struct tuplespace *ts, uint8_t kind, int side,
			    uint16_t port)
{
	if (kind == IXDP_PORT_EXACT)
		return port;
	if (kind == IXDP_PORT_RANGE)
		return ts->port_class[side][port];
	return 0;
}

uint32_t tuplespace_lookup(const struct tuplespace *ts, const struct pkt_tuple *p)
{
	uint32_t groups = (uint32_t)p->ifmask | 1, best = IXDP_NO_FILTER;
	__u32 src[4], dst[4];
	struct ixdp_fkey k;

	if (p->fam > IXDP_FAM_V6)
		return IXDP_NO_FILTER;
	addr_words(p->fam, p->src, src);
	addr_words(p->fam, p->dst, dst);
	for (uint32_t i = 0; i < ts->ntuples[p->fam]; i++) {
		const struct ixdp_tuple *t = &ts->tuples[p->fam][i];
		const struct ts_entry *e;

		if (p->frag && (t->sport_kind != IXDP_PORT_ANY ||
				t->dport_kind != IXDP_PORT_ANY))
			continue;
		if (t->protos && !(t->protos & ixdp_proto_bit(p->proto)))
			continue;
		fill_key(&k, p->fam, t, src, dst, p->proto);
		k.sport = lookup_port(ts, t->sport_kind, 0, p->sport);
		k.dport = lookup_port(ts, t->dport_kind, 1, p->dport);
		/* as the program does: each group of the tuple that applies
		 * on the interface; the lowest filter index wins */
		for (unsigned g = 0; g < IXDP_MAX_IFGROUPS; g++) {
			if (!((groups & t->groups) >> g & 1))
				continue;
			struct probe_key pk = { .key = k };

			pk.key.ifgroup = (__u8)g;
			pk.rank = ts_key_rank(&pk.key);
			e = bsearch(&pk, ts->entries, ts->nentries, sizeof(*e),
				    cmp_probe);
			if (e && e->val.slot < best)
				best = e->val.slot;
		}
		if (best != IXDP_NO_FILTER)
			return best;
	}
	return IXDP_NO_FILTER;
}
