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
 * still 6 million instructions, the radix sort is under 1).  From most
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
/* The bytes above the index, least significant first: lo's top 3, hi's 8. */
#define SORT_KEY_BYTES 11

static unsigned key_byte(const struct sort_key *k, unsigned b)
{
	return (unsigned)((b < 3 ? k->lo >> (SORT_KEY_IDX_BITS + 8 * b)
				 : k->hi >> (8 * (b - 3))) & 0xff);
}

/*
 * keys sorted (ascending): a least-significant-byte radix sort over the
 * bytes above the index.  The keys come in index order and each pass is
 * stable, so equal bytes above leave them in index order: the order of
 * the whole key.  A byte every key shares is not passed over (most are:
 * one family, a few weights).  tmp has room for n keys.
 */
static void sort_keys(struct sort_key *keys, struct sort_key *tmp, size_t n)
{
	size_t count[SORT_KEY_BYTES][256];
	struct sort_key *from = keys, *to = tmp, *swap;

	memset(count, 0, sizeof(count));
	for (size_t i = 0; i < n; i++)
		for (unsigned b = 0; b < SORT_KEY_BYTES; b++)
			count[b][key_byte(&keys[i], b)]++;
	for (unsigned b = 0; n && b < SORT_KEY_BYTES; b++) {
		size_t at = 0;

		if (count[b][key_byte(&keys[0], b)] == n)
			continue;
		for (unsigned v = 0; v < 256; v++) {
			size_t c = count[b][v];

			count[b][v] = at;
			at += c;
		}
		for (size_t i = 0; i < n; i++)
			to[count[b][key_byte(&from[i], b)]++] = from[i];
		swap = from;
		from = to;
		to = swap;
	}
	if (from != keys)
		memcpy(keys, from, n * sizeof(*keys));
}

int filter_table_sort(struct filter_table *t)
{
	struct specific_filter *sorted;
	struct sort_key *keys, *tmp;

	if (t->n > SORT_KEY_IDX_MASK)
		return -1;
	for (size_t i = 0; i < t->n; i++)
		t->v[i].weight = filter_weight(&t->v[i]);
	keys = malloc((t->n ? t->n : 1) * sizeof(*keys));
	tmp = malloc((t->n ? t->n : 1) * sizeof(*tmp));
	sorted = malloc((t->n ? t->n : 1) * sizeof(*sorted));
	if (!keys || !tmp || !sorted) {
		free(keys);
		free(tmp);
		free(sorted);
		return -1;
	}
	for (size_t i = 0; i < t->n; i++)
		keys[i] = enforcement_key(&t->v[i], i);
	sort_keys(keys, tmp, t->n);
	for (size_t i = 0; i < t->n; i++)
		sorted[i] = t->v[keys[i].lo & SORT_KEY_IDX_MASK];
	if (t->n)
		memcpy(t->v, sorted, t->n * sizeof(*sorted));
	free(sorted);
	free(tmp);
	free(keys);
	return 0;
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
static uint64_t selectors_hash(const struct specific_filter *f)
{
	size_t len = addr_len(f->fam);
	uint8_t buf[48];
	size_t n = 0;
	uint64_t h = 0xcbf29ce484222325ull;     /* FNV-1a */

	buf[n++] = f->fam;
	buf[n++] = f->flags & IXDP_F_EXEMPTION;
	buf[n++] = f->src_plen;
	buf[n++] = f->dst_plen;
	buf[n++] = f->proto_exact;
	buf[n++] = f->proto_exact ? f->proto : 0;
	buf[n++] = f->ifgroup;
	memcpy(buf + n, f->src, len);
	n += len;
	memcpy(buf + n, f->dst, len);
	n += len;
	for (size_t i = 0; i < n; i++)
		h = (h ^ buf[i]) * 0x100000001b3ull;
	h ^= (uint64_t)f->sport.lo << 48 | (uint64_t)f->sport.hi << 32 |
	     (uint64_t)f->dport.lo << 16 | f->dport.hi;
	return h * 0x9e3779b97f4a7c15ull;
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
