// SPDX-License-Identifier: GPL-2.0-only
/*
 * compile_filter.c - specific filters: the weight function, the enforcement order,
 * the filters with the same selectors and the reference matcher.  The dataplane's tuple space search must give
 * the same answer as filter_table_match() for every packet; the tests hold
 * it to that.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "compile/compiler.h"

enum ixdp_port_kind port_kind(const struct port_spec *p)
{
	if (p->lo == 0 && p->hi == 0)
		return IXDP_PORT_ANY;
	if (p->lo == 0 && p->hi == 0xffff)
		return IXDP_PORT_ANY;
	return p->lo == p->hi ? IXDP_PORT_EXACT : IXDP_PORT_RANGE;
}

/*
 * The weight of a specific filter: the more specific, the heavier, and the
 * heaviest matching filter decides.  From most to least significant:
 *
 *   bit  31     default exemption (IKE, and what ipsecexempt selects):
 *               exemptions are tried before any policy filter
 *   bits 22-30  source prefix length + destination prefix length
 *               (0..64 for IPv4, 0..256 for IPv6; families never compete)
 *   bit  21     protocol named (not `any`)
 *   bits 19-20  source port: 2 = one port, 1 = a range, 0 = any
 *   bits 17-18  destination port: likewise
 *
 * So addresses count most, then protocol, then ports, as in the system the
 * project is modelled on.  An address range is compiled to its CIDR blocks,
 * each weighted by its own prefix length.
 */
uint32_t filter_weight(const struct specific_filter *f)
{
	uint32_t w = 0;

	if (f->flags & IXDP_F_EXEMPTION)
		w |= 1u << 31;
	w |= (uint32_t)(f->src_plen + f->dst_plen) << 22;
	if (f->proto_exact)
		w |= 1u << 21;
	w |= (uint32_t)port_kind(&f->sport) << 19;
	w |= (uint32_t)port_kind(&f->dport) << 17;
	return w;
}

int filter_table_push(struct filter_table *t, const struct specific_filter *f)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct specific_filter *v = realloc(t->v, cap * sizeof(*v));

		if (!v)
			return -1;
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n++] = *f;
	return 0;
}

void filter_table_free(struct filter_table *t)
{
	free(t->v);
	memset(t, 0, sizeof(*t));
}

/*
 * The enforcement order, as one 128-bit key per filter, sorted as an
 * unsigned number (sorting 10000 filters by a comparator that reads the
 * filters cost a 10000-filter apply about 1 ms; qsort of the keys was
 * still 6 million instructions; sort_keys() below).  From most
 * significant:
 * the weight, heaviest first; then the shape, which keeps one tuple's
 * filters together (any fixed order works: IPv4 first, then longer
 * prefixes, a named protocol, one port before a range before any); then
 * the action, block > negotiate > permit; then the table index, so that
 * the sort is stable.
 */
struct sort_key {
	uint64_t hi, lo;
};

static struct sort_key enforcement_key(const struct specific_filter *f, size_t idx)
{
	struct sort_key k;

	k.hi = (uint64_t)(UINT32_MAX - f->weight) << 32 |
	       (uint64_t)f->fam << 24 |
	       (uint64_t)(UINT8_MAX - f->src_plen) << 16 |
	       (uint64_t)(UINT8_MAX - f->dst_plen) << 8 |
	       (uint64_t)(f->proto_exact ? 0 : 1);
	k.lo = (uint64_t)(UINT8_MAX - port_kind(&f->sport)) << 56 |
	       (uint64_t)(UINT8_MAX - port_kind(&f->dport)) << 48 |
	       (uint64_t)(UINT8_MAX - f->action) << 40 |
	       (uint64_t)idx;
	return k;
}

/* The key's low 40 bits: the filter's index before the sort. */
#define SORT_KEY_IDX_BITS 40
#define SORT_KEY_IDX_MASK ((UINT64_C(1) << SORT_KEY_IDX_BITS) - 1)

/* A key without its index: the filter's place in the order but for ties. */
static struct sort_key key_class(const struct sort_key *k)
{
	return (struct sort_key){ k->hi, k->lo & ~SORT_KEY_IDX_MASK };
}

static int cmp_class(const void *pa, const void *pb)
{
	const struct sort_key *a = pa, *b = pb;

	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	return a->lo < b->lo ? -1 : a->lo > b->lo;
}

/* The distinct classes of the keys, in an open-addressing hash. */
struct classes {
	struct sort_key *v;     /* the class of each used bucket */
	size_t *at;             /* its count, then its first position */
	uint8_t *used;
	size_t n, cap;          /* cap: a power of two, at least 2 n */
};

static size_t class_bucket(const struct classes *c, const struct sort_key *k)
{
	uint64_t h = (k->hi ^ (k->lo >> SORT_KEY_IDX_BITS)) * UINT64_C(0x9e3779b97f4a7c15);
	size_t b = (size_t)(h >> 32) & (c->cap - 1);

	while (c->used[b] && (c->v[b].hi != k->hi || c->v[b].lo != k->lo))
		b = (b + 1) & (c->cap - 1);
	return b;
}

static void classes_free(struct classes *c)
{
	free(c->v);
	free(c->at);
	free(c->used);
	memset(c, 0, sizeof(*c));
}

static int classes_init(struct classes *c, size_t cap)
{
	c->n = 0;
	c->cap = cap;
	c->v = malloc(cap * sizeof(*c->v));
	c->at = calloc(cap, sizeof(*c->at));
	c->used = calloc(cap, 1);
	return c->v && c->at && c->used ? 0 : -1;
}

/* Count each key's class; the table doubles when half full. */
static int count_classes(struct classes *c, const struct sort_key *keys, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct sort_key k = key_class(&keys[i]);
		size_t b;

		if (2 * (c->n + 1) > c->cap) {
			struct classes big;

			if (classes_init(&big, 2 * c->cap)) {
				classes_free(&big);
				return -1;
			}
			for (size_t o = 0; o < c->cap; o++) {
				if (!c->used[o])
					continue;
				b = class_bucket(&big, &c->v[o]);
				big.used[b] = 1;
				big.v[b] = c->v[o];
				big.at[b] = c->at[o];
			}
			big.n = c->n;
			classes_free(c);
			*c = big;
		}
		b = class_bucket(c, &k);
		if (!c->used[b]) {
			c->used[b] = 1;
			c->v[b] = k;
			c->n++;
		}
		c->at[b]++;
	}
	return 0;
}

/* Each class's count becomes the position of its first key: the classes
 * in key order, each after the keys of the classes before it. */
static int place_classes(struct classes *c)
{
	struct sort_key *order = malloc((c->n + 1) * sizeof(*order));
	size_t k = 0, at = 0;

	if (!order)
		return -1;
	for (size_t b = 0; b < c->cap; b++)
		if (c->used[b])
			order[k++] = c->v[b];
	qsort(order, k, sizeof(*order), cmp_class);
	for (size_t i = 0; i < k; i++) {
		size_t b = class_bucket(c, &order[i]), cnt = c->at[b];

		c->at[b] = at;
		at += cnt;
	}
	free(order);
	return 0;
}

/*
 * keys sorted (ascending), into out.  A key above its index is a
 * filter's weight, shape, port kinds and action, never its addresses, so
 * 10000 filters have few distinct ones (a few for a host policy, some
 * hundreds for one of every shape): those are found by hashing, sorted,
 * and every key placed after the keys of the smaller ones, in index order
 * (the keys come in index order), which is the order of the whole key.
 * A radix sort of the 11 bytes above the index did the same in three
 * times the instructions (it counted every byte of every key).
 */
static int sort_keys(const struct sort_key *keys, struct sort_key *out, size_t n)
{
	struct classes c = { 0 };
	int rc = classes_init(&c, 256);

	if (!rc)
		rc = count_classes(&c, keys, n);
	if (!rc)
		rc = place_classes(&c);
	for (size_t i = 0; !rc && i < n; i++) {
		struct sort_key k = key_class(&keys[i]);

		out[c.at[class_bucket(&c, &k)]++] = keys[i];
	}
	classes_free(&c);
	return rc;
}

int filter_table_sort(struct filter_table *t)
{
	struct specific_filter *sorted;
	struct sort_key *keys, *tmp;
	int rc = -1;

	if (t->n > SORT_KEY_IDX_MASK)
		return -1;
	for (size_t i = 0; i < t->n; i++)
		t->v[i].weight = filter_weight(&t->v[i]);
	keys = malloc((t->n ? t->n : 1) * sizeof(*keys));
	tmp = malloc((t->n ? t->n : 1) * sizeof(*tmp));
	sorted = malloc((t->n ? t->n : 1) * sizeof(*sorted));
	if (keys && tmp && sorted) {
		for (size_t i = 0; i < t->n; i++)
			keys[i] = enforcement_key(&t->v[i], i);
		rc = sort_keys(keys, tmp, t->n);
	}
	if (!rc) {
		for (size_t i = 0; i < t->n; i++)
			sorted[i] = t->v[tmp[i].lo & SORT_KEY_IDX_MASK];
		if (t->n)
			memcpy(t->v, sorted, t->n * sizeof(*sorted));
	}
	free(sorted);
	free(tmp);
	free(keys);
	return rc;
}

bool specific_filter_same_shape(const struct specific_filter *a,
				const struct specific_filter *b)
{
	return a->fam == b->fam && a->src_plen == b->src_plen &&
	       a->dst_plen == b->dst_plen && a->proto_exact == b->proto_exact &&
	       port_kind(&a->sport) == port_kind(&b->sport) &&
	       port_kind(&a->dport) == port_kind(&b->dport) &&
	       (a->flags & IXDP_F_EXEMPTION) == (b->flags & IXDP_F_EXEMPTION);
}

static size_t addr_len(uint8_t fam)
{
	return fam == IXDP_FAM_V4 ? 4 : 16;
}

bool specific_filter_same_selectors(const struct specific_filter *a,
				    const struct specific_filter *b)
{
	size_t len = addr_len(a->fam);

	return specific_filter_same_shape(a, b) && a->ifgroup == b->ifgroup &&
	       !memcmp(a->src, b->src, len) && !memcmp(a->dst, b->dst, len) &&
	       (!a->proto_exact || a->proto == b->proto) &&
	       a->sport.lo == b->sport.lo && a->sport.hi == b->sport.hi &&
	       a->dport.lo == b->dport.lo && a->dport.hi == b->dport.hi;
}

/*
 * Filters with the same selectors (specific_filter_same_selectors()), in
 * table order, in one pass over the table with an open-addressing hash
 * of the selectors (a sort by selectors cost a 10000-filter apply about
 * 1 ms).
 */
/* One word into the hash: a multiply carries low bits up only, so the
 * high half is folded back down after it. */
static uint64_t mix(uint64_t h, uint64_t w)
{
	h = (h ^ w) * UINT64_C(0xff51afd7ed558ccd);
	return h ^ (h >> 32);
}

/* The selectors hashed a word at a time (byte by byte, FNV-1a, this was
 * three quarters of the compile's search for same selectors). */
static uint64_t selectors_hash(const struct specific_filter *f)
{
	size_t len = addr_len(f->fam);
	uint64_t w[4] = { 0 };
	uint64_t h;

	h = mix(0, (uint64_t)f->fam | (uint64_t)(f->flags & IXDP_F_EXEMPTION) << 8 |
		   (uint64_t)f->src_plen << 16 | (uint64_t)f->dst_plen << 24 |
		   (uint64_t)f->proto_exact << 32 |
		   (uint64_t)(f->proto_exact ? f->proto : 0) << 40 |
		   (uint64_t)f->ifgroup << 48);
	h = mix(h, (uint64_t)f->sport.lo << 48 | (uint64_t)f->sport.hi << 32 |
		   (uint64_t)f->dport.lo << 16 | f->dport.hi);
	memcpy(w, f->src, len);
	memcpy((uint8_t *)w + len, f->dst, len);
	for (size_t i = 0; i < 2 * len / 8; i++)
		h = mix(h, w[i]);
	return h * UINT64_C(0xc4ceb9fe1a85ec53);
}

int filter_table_link_same_selectors(const struct filter_table *t, size_t *same)
{
	size_t cap = 16, mask, *head, *tail = malloc((t->n ? t->n : 1) * sizeof(*tail));

	while (cap < 2 * t->n)
		cap *= 2;
	mask = cap - 1;
	head = malloc(cap * sizeof(*head));
	if (!head || !tail) {
		free(head);
		free(tail);
		return -1;
	}
	for (size_t b = 0; b < cap; b++)
		head[b] = FILTER_NO_SAME;
	for (size_t i = 0; i < t->n; i++) {
		size_t b = (size_t)(selectors_hash(&t->v[i]) >> 32) & mask;

		same[i] = FILTER_NO_SAME;
		while (head[b] != FILTER_NO_SAME &&
		       !specific_filter_same_selectors(&t->v[head[b]], &t->v[i]))
			b = (b + 1) & mask;
		if (head[b] == FILTER_NO_SAME) {
			head[b] = i;
			tail[i] = i;
		} else {
			same[tail[head[b]]] = i;
			tail[head[b]] = i;
		}
	}
	free(head);
	free(tail);
	return 0;
}

static bool prefix_matches(const uint8_t *net, uint8_t plen, const uint8_t *addr)
{
	size_t full = plen / 8;
	unsigned rest = plen % 8;

	if (memcmp(net, addr, full))
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (net[full] & mask) == (addr[full] & mask);
}

static bool port_matches(const struct port_spec *ps, uint16_t port, bool frag)
{
	if (port_kind(ps) == IXDP_PORT_ANY)
		return true;
	if (frag)
		return false; /* a non-first fragment has no ports to compare */
	return port >= ps->lo && port <= ps->hi;
}

bool specific_filter_matches(const struct specific_filter *f,
			     const struct pkt_tuple *p)
{
	if (f->fam != p->fam)
		return false;
	if (!prefix_matches(f->src, f->src_plen, p->src) ||
	    !prefix_matches(f->dst, f->dst_plen, p->dst))
		return false;
	if (f->proto_exact && f->proto != p->proto)
		return false;
	return port_matches(&f->sport, p->sport, p->frag) &&
	       port_matches(&f->dport, p->dport, p->frag);
}

long filter_table_match(const struct filter_table *t, const struct pkt_tuple *p)
{
	for (size_t i = 0; i < t->n; i++)
		if (filter_applies(&t->v[i], p->ifmask) &&
		    specific_filter_matches(&t->v[i], p))
			return (long)i;
	return -1;
}

static bool ifgroup_has(const struct ifgroup_def *g, const char *name,
			enum ixdp_conn_type kind)
{
	if (g->conn != IXDP_CONN_ALL && g->conn != kind)
		return false;
	if (!g->nnames)
		return true;
	for (size_t i = 0; i < g->nnames && i < IXDP_IFGROUP_NAMES; i++)
		if (!strncmp(g->names[i], name, IXDP_IFNAMSIZ))
			return true;
	return false;
}

uint16_t ifgroups_of_iface(const struct filter_table *t, const char *name,
			   enum ixdp_conn_type kind)
{
	uint16_t mask = 1;

	for (size_t g = 1; g < t->ngroups && g < IXDP_MAX_IFGROUPS; g++)
		if (ifgroup_has(&t->groups[g], name, kind))
			mask |= (uint16_t)(1u << g);
	return mask;
}

void format_ifgroup(const struct ifgroup_def *g, char *buf, size_t len)
{
	static const char *const kinds[] = { "all", "lan", "remote" };
	size_t used;

	if (!len)
		return;
	if (!g->nnames) {
		snprintf(buf, len, "%s", g->conn == IXDP_CONN_ALL ? "all" :
			 kinds[g->conn <= IXDP_CONN_REMOTE ? g->conn : 0]);
		return;
	}
	used = g->conn == IXDP_CONN_ALL ? 0 :
	       (size_t)snprintf(buf, len, "%s:", kinds[g->conn <= IXDP_CONN_REMOTE ?
						     g->conn : 0]);
	buf[used < len ? used : len - 1] = '\0';
	for (size_t i = 0; i < g->nnames && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%.*s",
					 i ? "," : "", IXDP_IFNAMSIZ, g->names[i]);
}

void format_prefix(uint8_t fam, const uint8_t *addr, uint8_t plen, char *buf,
		   size_t len)
{
	char a[INET6_ADDRSTRLEN];
	int af = fam == IXDP_FAM_V4 ? AF_INET : AF_INET6;
	uint8_t max = fam == IXDP_FAM_V4 ? 32 : 128;

	if (plen == 0) {
		snprintf(buf, len, "any%s", fam == IXDP_FAM_V4 ? "4" : "6");
		return;
	}
	inet_ntop(af, addr, a, sizeof(a));
	if (plen == max)
		snprintf(buf, len, "%s", a);
	else
		snprintf(buf, len, "%s/%u", a, plen);
}
