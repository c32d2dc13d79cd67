// SPDX-License-Identifier: GPL-2.0-only
/*
 * compile_tree.c - the sorted filter table laid out as the dataplane's
 * decision tree (include/ipsec_xdp.h, "The decision tree").
 *
 * Every node owns a region: per field (address words, ports, protocol) an
 * aligned power-of-two block of values, the bits fixed by the cuts above
 * it.  A cut takes the next `bits` unfixed bits of one field; its children
 * split the region evenly.  Every filter overlapping a child's region is
 * in the child's list, in table order, so the first filter of a leaf that
 * matches and applies is filter_table_match()'s answer.
 *
 * Truncation: once a list holds a filter certain to match every packet of
 * the region (it covers the region in every field, applies on every
 * interface, and either has both ports `any` or no non-first fragment
 * reaches the region, fragments carrying ports 0), the filters after it
 * can never be the answer and are dropped.
 *
 * The choice of cut (HiCuts-like): for each field with unfixed bits and
 * each width 1..IXDP_TREE_CUT_BITS, count the filters of each child (a
 * difference array over the children a filter overlaps, built from one
 * count of the spans per field: count_spans) and take the cut
 * whose largest child is smallest, preferring fewer children, then the
 * earlier field, within a space bound: the children's lists (those that
 * hold only the filters spanning the whole region count once: siblings
 * of one such list share one subtree, build_child) and half the child
 * nodes, at most spfac times the node's list.  When no cut shortens the
 * longest list, a skip (skip_common) takes the bits the filters agree on
 * as fixed, with no node, so that a cut of the bits below them can.  A
 * node of at most binth filters, at
 * IXDP_TREE_DEPTH, or with neither is a leaf.  A tree that does not fit
 * IXDP_TREE_NODES or IXDP_TREE_LEAF_REFS is built again with less room
 * (attempts[]).
 *
 * The guide (ctree_guide()): the tree in force, whose cuts were chosen for
 * a list that usually differs from the new one in a filter or two.  A node
 * whose guide node is a cut takes that cut without scoring the others when
 * its own list still allows it (cut_allowed(), after the skips that put
 * the cut where the guide's shift says: follow_guide()); its children
 * follow the guide's children.  A node whose guide node is a leaf of a
 * list at least as long stays a leaf.  Any cut gives a correct tree (the
 * lists, truncation and leaves come from the new table alone), so the
 * guide changes how long a build takes and which allowed cuts it makes,
 * never an answer; a guided tree that outgrows the line it descends from
 * is built again (outgrew_guide()).
 *
 * The built tree's cuts are then paired (compile_treepair.c: a cut and
 * the cut most of its children make, one level of the walk); the guide is
 * the tree in force turned back into the build's form (tree_unpair()).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util_errbuf.h"
#include "compile/compile_tree.h"
#include "compile/compile_treepair.h"

#define NFIELDS IXDP_TF__MAX
/* The build takes half a bank's nodes: pairing its cuts (tree_pair())
 * copies nodes and takes some of the rest. */
#define BUILD_NODES (IXDP_TREE_NODES / 2)
#define NODE_W 2        /* a child node weighs half a leaf entry */
#define SKIP_SHARE 2    /* a skip is for lists at least half not spanning */

/* A filter's (or a region's) values per field: [lo, hi]. */
struct box {
	uint32_t lo[NFIELDS], hi[NFIELDS];
};

struct region {
	struct box b;             /* the block the cuts and skips name */
	struct box rb;            /* the values its packets can have: b but in
				   * a field skipped (skip_common), where it
				   * stays the block before the first skip */
	uint8_t fixed[NFIELDS];   /* bits fixed by the cuts and skips */
};

struct cut {
	unsigned field, bits, maxc;
	size_t sum;               /* the children's lists, wide ones once */
};

struct builder {
	const struct filter_table *t;
	struct box *fb;           /* per table position */
	struct ixdp_tnode *nodes;
	uint32_t nnodes, ncap;
	uint32_t *hint, hcap;     /* per node: its guide node (ctree.hint) */
	uint32_t *leaf;
	uint32_t nleaf, lcap;
	uint32_t last_base, last_n;  /* the last leaf written (shared when equal) */
	uint8_t *cover;           /* per table position: enum cover_kind */
	uint16_t *kl, *kh;        /* per list entry: its first and last child */
	int spans_ready;          /* kl, kh are the next distribute()'s */
	struct span_counts *sc;   /* choose_cut()'s counts of one field */
	uint32_t depth, leaf_longest;
	uint32_t cuts_chosen, cuts_guided;
	const struct ixdp_tnode *guide;  /* ctree_guide()'s nodes, or NULL */
	uint32_t nguide;
	unsigned binth, spfac;     /* this attempt's leaf size and space bound */
	int over_space;            /* failed on IXDP_TREE_NODES or _LEAF_REFS */
	int skip;                  /* skips allowed (skip_common) */
	char *errbuf;
	size_t errlen;
};

static unsigned field_width(unsigned f)
{
	return f < IXDP_TF_SPORT ? 32 : f < IXDP_TF_PROTO ? 16 : 8;
}

static int field_of_family(unsigned f, unsigned fam)
{
	if (fam == IXDP_FAM_V6 || f >= IXDP_TF_SPORT)
		return 1;
	return f == IXDP_TF_SRC0 || f == IXDP_TF_DST0;
}

static uint32_t addr_word(const uint8_t *a, unsigned j)
{
	return (uint32_t)a[4 * j] << 24 | (uint32_t)a[4 * j + 1] << 16 |
	       (uint32_t)a[4 * j + 2] << 8 | a[4 * j + 3];
}

/* The prefix a/plen restricted to 32-bit word j: [*lo, *hi]. */
static void prefix_word(const uint8_t *a, unsigned plen, unsigned fam,
			unsigned j, uint32_t *lo, uint32_t *hi)
{
	unsigned max = fam == IXDP_FAM_V4 ? 32 : 128;
	unsigned p = plen > max ? max : plen;
	unsigned bits = p > 32 * j ? p - 32 * j : 0;
	uint32_t mask;

	if (fam == IXDP_FAM_V4 && j > 0) {
		*lo = *hi = 0;
		return;
	}
	bits = bits > 32 ? 32 : bits;
	mask = bits ? ~0u << (32 - bits) : 0;
	*lo = addr_word(a, j) & mask;
	*hi = *lo | ~mask;
}

static void port_box(const struct port_spec *ps, uint32_t *lo, uint32_t *hi)
{
	if (port_kind(ps) == IXDP_PORT_ANY) {
		*lo = 0;
		*hi = 0xffff;
	} else {
		*lo = ps->lo;
		*hi = ps->hi;
	}
}

static void filter_box(const struct specific_filter *f, struct box *b)
{
	for (unsigned j = 0; j < 4; j++) {
		prefix_word(f->src, f->src_plen, f->fam, j, &b->lo[IXDP_TF_SRC0 + j],
			    &b->hi[IXDP_TF_SRC0 + j]);
		prefix_word(f->dst, f->dst_plen, f->fam, j, &b->lo[IXDP_TF_DST0 + j],
			    &b->hi[IXDP_TF_DST0 + j]);
	}
	port_box(&f->sport, &b->lo[IXDP_TF_SPORT], &b->hi[IXDP_TF_SPORT]);
	port_box(&f->dport, &b->lo[IXDP_TF_DPORT], &b->hi[IXDP_TF_DPORT]);
	b->lo[IXDP_TF_PROTO] = f->proto_exact ? f->proto : 0;
	b->hi[IXDP_TF_PROTO] = f->proto_exact ? f->proto : 0xff;
}

/* The whole space of family fam (IPv4's words 1..3 are 0). */
static void root_region(unsigned fam, struct region *r)
{
	memset(r, 0, sizeof(*r));
	for (unsigned f = 0; f < NFIELDS; f++) {
		uint32_t w = field_width(f);

		r->b.hi[f] = w == 32 ? ~0u : (1u << w) - 1;
		if (!field_of_family(f, fam)) {
			r->b.hi[f] = 0;
			r->fixed[f] = (uint8_t)w;
		}
	}
	r->rb = r->b;
}

/* When a filter whose box holds a region matches every packet of it
 * (covers()), worked out once per filter. */
enum cover_kind {
	COVER_NEVER,            /* it applies on some interfaces only */
	COVER_ALWAYS,           /* both ports any: fragments match it too */
	COVER_NO_PORT0,         /* only where no non-first fragment reaches */
};

static uint8_t cover_kind(const struct specific_filter *f)
{
	if (f->ifgroup != 0)
		return COVER_NEVER;
	if (port_kind(&f->sport) == IXDP_PORT_ANY &&
	    port_kind(&f->dport) == IXDP_PORT_ANY)
		return COVER_ALWAYS;
	return COVER_NO_PORT0;
}

/* Is every packet of region r certain to match the filter at pos
 * (wherever it passes)? */
static int covers(const struct builder *bd, uint32_t pos, const struct region *r)
{
	const struct box *b = &bd->fb[pos];
	uint8_t kind = bd->cover[pos];

	if (kind == COVER_NEVER)
		return 0;
	for (unsigned i = 0; i < NFIELDS; i++)
		if (b->lo[i] > r->rb.lo[i] || b->hi[i] < r->rb.hi[i])
			return 0;
	if (kind == COVER_ALWAYS)
		return 1;
	/* fragments carry ports 0: none reaches a region without 0 */
	return r->rb.lo[IXDP_TF_SPORT] > 0 || r->rb.lo[IXDP_TF_DPORT] > 0;
}

/* Drop what follows the first filter that covers the region. */
static size_t truncate_list(const struct builder *bd, const uint32_t *l,
			    size_t n, const struct region *r)
{
	for (size_t i = 0; i < n; i++)
		if (covers(bd, l[i], r))
			return i + 1;
	return n;
}

static int set_err_nomem(struct builder *bd)
{
	return errbuf_set(bd->errbuf, bd->errlen,
			  "out of memory building the classifier's tree");
}

static int grow_u32(void **v, uint32_t *cap, uint32_t need, size_t elem)
{
	uint32_t c = *cap ? *cap : 256;
	void *nv;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	nv = realloc(*v, (size_t)c * elem);
	if (!nv)
		return -1;
	*v = nv;
	*cap = c;
	return 0;
}

static int same_as_last_leaf(const struct builder *bd, const uint32_t *l,
			     size_t n)
{
	return bd->nleaf && n == bd->last_n &&
	       !memcmp(&bd->leaf[bd->last_base], l, n * sizeof(*l));
}

static int make_leaf(struct builder *bd, uint32_t idx, const uint32_t *l,
		     size_t n, unsigned depth)
{
	struct ixdp_tnode *nd = &bd->nodes[idx];

	if (n > IXDP_TREE_LEAF_MAX)
		return errbuf_set(bd->errbuf, bd->errlen,
				  "a leaf of the classifier's tree holds %zu filters, "
				  "more than the limit of %u (filters no cut separates)",
				  n, IXDP_TREE_LEAF_MAX);
	memset(nd, 0, sizeof(*nd));
	nd->leaf = 1;
	nd->n = (uint32_t)n;
	if (depth > bd->depth)
		bd->depth = depth;
	if (n > bd->leaf_longest)
		bd->leaf_longest = (uint32_t)n;
	if (!n || same_as_last_leaf(bd, l, n)) {
		nd->base = n ? bd->last_base : 0;
		return 0;
	}
	if ((uint64_t)bd->nleaf + n > IXDP_TREE_LEAF_REFS) {
		bd->over_space = 1;
		return errbuf_set(bd->errbuf, bd->errlen,
				  "the classifier's tree needs at least %llu leaf entries, "
				  "more than the limit of %u",
				  (unsigned long long)bd->nleaf + n, IXDP_TREE_LEAF_REFS);
	}
	if (grow_u32((void **)&bd->leaf, &bd->lcap, bd->nleaf + (uint32_t)n,
		     sizeof(*bd->leaf)))
		return set_err_nomem(bd);
	memcpy(&bd->leaf[bd->nleaf], l, n * sizeof(*l));
	nd->base = bd->last_base = bd->nleaf;
	bd->last_n = (uint32_t)n;
	bd->nleaf += (uint32_t)n;
	return 0;
}

/* The children (at the widest cut of `maxbits` of field f) each filter
 * of the list overlaps: bd->kl[i] .. bd->kh[i]. */
static void child_spans(struct builder *bd, const uint32_t *l, size_t n,
			const struct region *r, unsigned f, unsigned maxbits)
{
	unsigned shift = field_width(f) - r->fixed[f] - maxbits;

	bd->spans_ready = 0;
	for (size_t i = 0; i < n; i++) {
		const struct box *b = &bd->fb[l[i]];
		uint32_t lo = b->lo[f] > r->b.lo[f] ? b->lo[f] : r->b.lo[f];
		uint32_t hi = b->hi[f] < r->b.hi[f] ? b->hi[f] : r->b.hi[f];

		bd->kl[i] = (uint16_t)((lo - r->b.lo[f]) >> shift);
		bd->kh[i] = (uint16_t)((hi - r->b.lo[f]) >> shift);
	}
}

/* How many filters of the list each of the nch children holds (the
 * spans bd->kl, bd->kh of the cut): a difference array, one pass. */
static void count_children(const struct builder *bd, size_t n, unsigned nch,
			   uint32_t *cnt)
{
	int32_t delta[(1 << IXDP_TREE_CUT_BITS) + 1], run = 0;

	memset(delta, 0, (nch + 1) * sizeof(delta[0]));
	for (size_t i = 0; i < n; i++) {
		delta[bd->kl[i]]++;
		delta[bd->kh[i] + 1]--;
	}
	for (unsigned k = 0; k < nch; k++) {
		run += delta[k];
		cnt[k] = (uint32_t)run;
	}
}

/*
 * The spans of a list at the finest cut of a field (maxbits), counted in
 * one pass; every width's score (score_cut) comes from these counts, so a
 * list is read once per field, not once per width.  Only the children
 * where a span starts or ends are marked and visited: the count is
 * constant between them.
 */
#define MARK_WORDS (((1 << IXDP_TREE_CUT_BITS) + 1 + 63) / 64)

struct span_counts {
	uint64_t marked[MARK_WORDS];     /* fine children where a span starts or ends */
	uint32_t starts[1 << IXDP_TREE_CUT_BITS], ends[1 << IXDP_TREE_CUT_BITS];
	/* wide[s]: the filters from the first child to the last of the cut
	 * of maxbits - s bits (they share one subtree, build_child) */
	uint32_t wide[IXDP_TREE_CUT_BITS + 1];
};

static bool marked(const uint64_t *m, unsigned k)
{
	return m[k / 64] >> (k % 64) & 1;
}

static void mark(uint64_t *m, unsigned k)
{
	m[k / 64] |= 1ull << (k % 64);
}

/* The spans bd->kl, bd->kh (child_spans() for maxbits) of the n filters. */
static void count_spans(const struct builder *bd, size_t n, unsigned maxbits,
			struct span_counts *sc)
{
	uint32_t last = (1u << maxbits) - 1;

	memset(sc->marked, 0, sizeof(sc->marked));
	memset(sc->wide, 0, sizeof(sc->wide));
	for (size_t i = 0; i < n; i++) {
		unsigned lo = bd->kl[i], hi = bd->kh[i], short_of_end = last - hi;

		if (!marked(sc->marked, lo)) {
			mark(sc->marked, lo);
			sc->starts[lo] = sc->ends[lo] = 0;
		}
		if (!marked(sc->marked, hi)) {
			mark(sc->marked, hi);
			sc->starts[hi] = sc->ends[hi] = 0;
		}
		sc->starts[lo]++;
		sc->ends[hi]++;
		/* from the first child to the last for the cuts of s with
		 * 2^s > short_of_end */
		if (lo == 0)
			sc->wide[short_of_end ? 32 - __builtin_clz(short_of_end) : 0]++;
	}
	for (unsigned s = 1; s <= maxbits; s++)
		sc->wide[s] += sc->wide[s - 1];
}

/* The largest child and the room of the children's lists of the cut of
 * `bits` (the spans counted for maxbits).  The children that hold only
 * the wide filters hold the same list and share one subtree, so they
 * count once. */
static void score_cut(const struct span_counts *sc, unsigned bits,
		      unsigned maxbits, struct cut *c)
{
	int32_t delta[(1 << IXDP_TREE_CUT_BITS) + 1];
	uint64_t at[MARK_WORDS] = { 0 };  /* this cut's children with a delta */
	unsigned s = maxbits - bits, wide = sc->wide[s], prev = 0;
	int32_t run = 0;

	for (unsigned w = 0; w < MARK_WORDS; w++)
		for (uint64_t m = sc->marked[w]; m; m &= m - 1) {
			unsigned k = w * 64 + (unsigned)__builtin_ctzll(m);
			unsigned from = k >> s, to = (k >> s) + 1;

			if (!marked(at, from)) {
				mark(at, from);
				delta[from] = 0;
			}
			if (!marked(at, to)) {
				mark(at, to);
				delta[to] = 0;
			}
			delta[from] += (int32_t)sc->starts[k];
			delta[to] -= (int32_t)sc->ends[k];
		}
	c->maxc = 0;
	c->sum = wide;
	for (unsigned w = 0; w < MARK_WORDS; w++)
		for (uint64_t m = at[w]; m; m &= m - 1) {
			unsigned k = w * 64 + (unsigned)__builtin_ctzll(m);

			if (k > prev) {     /* children prev .. k - 1 hold `run` */
				if ((unsigned)run != wide)
					c->sum += (size_t)run * (k - prev);
				if ((unsigned)run > c->maxc)
					c->maxc = (unsigned)run;
			}
			run += delta[k];
			prev = k;
		}
}

/* Does cut a beat cut b? */
static int better_cut(const struct cut *a, const struct cut *b)
{
	if (a->maxc != b->maxc)
		return a->maxc < b->maxc;
	if (a->bits != b->bits)
		return a->bits < b->bits;
	return a->sum < b->sum;
}

/* Is the cut worth its children (within the space bound, and narrowing
 * some list)? */
static int cut_allowed(const struct builder *bd, const struct cut *c, size_t n)
{
	if (c->maxc >= n)
		return 0;       /* the longest list is as long */
	return 4 * c->sum + NODE_W * (1u << c->bits) <= 4 * (uint64_t)bd->spfac * n + 8;
}

/* The leading unfixed bits of field f on which the filters of the list
 * that do not span the region agree, when they differ further down (0
 * when they do not differ, or differ at once). */
static unsigned common_bits(const struct builder *bd, const uint32_t *l,
			    size_t n, const struct region *r, unsigned f)
{
	unsigned u = field_width(f) - r->fixed[f];
	uint32_t span = r->b.hi[f] - r->b.lo[f], lo0 = 0, hi0 = 0, diff = 0;
	size_t seen = 0;
	int differ = 0;

	for (size_t i = 0; i < n; i++) {
		const struct box *b = &bd->fb[l[i]];
		uint32_t lo = (b->lo[f] > r->b.lo[f] ? b->lo[f] : r->b.lo[f]) - r->b.lo[f];
		uint32_t hi = (b->hi[f] < r->b.hi[f] ? b->hi[f] : r->b.hi[f]) - r->b.lo[f];

		if (lo == 0 && hi == span)
			continue;
		if (!seen++) {
			lo0 = lo;
			hi0 = hi;
		}
		differ |= lo != lo0 || hi != hi0;
		diff |= (lo ^ lo0) | (hi ^ lo0);
	}
	if (!differ || !diff || seen * SKIP_SHARE < n)
		return 0;
	return u - (32 - (unsigned)__builtin_clz(diff));
}

/* Fix the next d unfixed bits of field f of the region to the value of
 * the first filter of the list not spanning it. */
static void skip_bits(const struct builder *bd, const uint32_t *l, size_t n,
		      struct region *r, unsigned f, unsigned d)
{
	unsigned shift = field_width(f) - r->fixed[f] - d;
	uint32_t span = r->b.hi[f] - r->b.lo[f], v = 0;

	for (size_t i = 0; i < n; i++) {
		const struct box *b = &bd->fb[l[i]];
		uint32_t lo = b->lo[f] > r->b.lo[f] ? b->lo[f] : r->b.lo[f];
		uint32_t hi = b->hi[f] < r->b.hi[f] ? b->hi[f] : r->b.hi[f];

		if (lo - r->b.lo[f] != 0 || hi - r->b.lo[f] != span) {
			v = lo;
			break;
		}
	}
	r->fixed[f] = (uint8_t)(r->fixed[f] + d);
	r->b.lo[f] = (uint32_t)(((uint64_t)v >> shift) << shift);
	r->b.hi[f] = (uint32_t)(r->b.lo[f] + ((uint64_t)1 << shift) - 1);
}

/* A skip, when no cut shortens the longest list: the bits the filters
 * not spanning the region agree on (in the field where they are the
 * fewest) are taken as fixed to their value, with no node: a packet of
 * another value there can match only the spanning filters, which are in
 * every list below (and a list is cut short only by a filter covering
 * region.rb, which keeps the values before the skip).  A cut below can
 * then separate the others.  0 when there is none. */
static int skip_common(const struct builder *bd, const uint32_t *l, size_t n,
		       struct region *r, unsigned fam)
{
	unsigned best_d = 0, bf = 0;

	for (unsigned f = 0; f < NFIELDS; f++) {
		unsigned d;

		if (!field_of_family(f, fam) || r->fixed[f] == field_width(f))
			continue;
		d = common_bits(bd, l, n, r, f);
		if (d && (!best_d || d < best_d)) {
			best_d = d;
			bf = f;
		}
	}
	if (!best_d)
		return 0;
	skip_bits(bd, l, n, r, bf, best_d);
	return 1;
}

/* The best cut of the list, or best->bits = 0 when none is allowed. */
static void choose_cut(struct builder *bd, const uint32_t *l, size_t n,
		       const struct region *r, unsigned fam, struct cut *best)
{
	memset(best, 0, sizeof(*best));
	for (unsigned f = 0; f < NFIELDS; f++) {
		unsigned unfixed = field_width(f) - r->fixed[f];
		unsigned maxbits = unfixed < IXDP_TREE_CUT_BITS ? unfixed :
				   IXDP_TREE_CUT_BITS;

		if (!field_of_family(f, fam) || !unfixed)
			continue;
		child_spans(bd, l, n, r, f, maxbits);
		count_spans(bd, n, maxbits, bd->sc);
		for (unsigned b = 1; b <= maxbits; b++) {
			struct cut c = { .field = f, .bits = b };

			score_cut(bd->sc, b, maxbits, &c);
			if (c.maxc < n && !cut_allowed(bd, &c, n))
				break;  /* wider cuts only take more room */
			if (cut_allowed(bd, &c, n) &&
			    (!best->bits || better_cut(&c, best)))
				*best = c;
		}
	}
}

/* The region of child k of a cut of `bits` in field f (rb follows b but
 * in a field skipped). */
static void child_region(const struct region *r, unsigned f, unsigned bits,
			 uint32_t k, struct region *cr)
{
	unsigned shift = field_width(f) - r->fixed[f] - bits;
	uint64_t size = (uint64_t)1 << shift;

	*cr = *r;
	cr->fixed[f] = (uint8_t)(r->fixed[f] + bits);
	cr->b.lo[f] = (uint32_t)(r->b.lo[f] + k * size);
	cr->b.hi[f] = (uint32_t)(r->b.lo[f] + (k + 1) * size - 1);
	if (r->rb.lo[f] == r->b.lo[f] && r->rb.hi[f] == r->b.hi[f]) {
		cr->rb.lo[f] = cr->b.lo[f];
		cr->rb.hi[f] = cr->b.hi[f];
	}
}

/* ---- the guide ------------------------------------------------------------ */

#define NO_GUIDE UINT32_MAX     /* a node with no guide node */

/* Guide node g, if the guide has it. */
static const struct ixdp_tnode *guide_node(const struct builder *bd, uint32_t g)
{
	return g != NO_GUIDE && g < bd->nguide ? &bd->guide[g] : NULL;
}

/* Is guide node gn a cut a node of region r can make: its field belongs
 * to the family and has the bits unfixed, its children are in the guide,
 * and its shift is the one r gives? */
static bool guide_cut_fits(const struct builder *bd, const struct ixdp_tnode *gn,
			   const struct region *r, unsigned fam)
{
	unsigned unfixed;

	if (gn->leaf || gn->field >= NFIELDS || !field_of_family(gn->field, fam) ||
	    gn->bits < 1 || gn->bits > IXDP_TREE_CUT_BITS)
		return false;
	unfixed = field_width(gn->field) - r->fixed[gn->field];
	return gn->bits <= unfixed && gn->shift == unfixed - gn->bits &&
	       (uint64_t)gn->base + (1u << gn->bits) <= bd->nguide;
}

enum guided { GUIDED_NOT, GUIDED_CUT, GUIDED_LEAF };

/* How many filters of the list start in the first child of the finest
 * cut of field f and end in the last child of the cut of `bits`: what
 * count_spans() counts as spanning that cut (its wide[]). */
static unsigned count_wide(const struct builder *bd, const uint32_t *l, size_t n,
			   const struct region *r, unsigned f, unsigned bits)
{
	unsigned unfixed = field_width(f) - r->fixed[f];
	unsigned finest = unfixed < IXDP_TREE_CUT_BITS ? unfixed : IXDP_TREE_CUT_BITS;
	unsigned shift = unfixed - finest, last = (1u << bits) - 1, wide = 0;

	for (size_t i = 0; i < n; i++) {
		uint32_t lo = bd->fb[l[i]].lo[f];

		lo = lo > r->b.lo[f] ? lo : r->b.lo[f];
		wide += bd->kh[i] == last && (lo - r->b.lo[f]) >> shift == 0;
	}
	return wide;
}

/*
 * Cut c of list l over region r scored exactly as choose_cut() scores it
 * (score_cut(), from the finest cut's spans), but from the spans at c's
 * own width: the same children (a span at the finest cut, shifted, is
 * the span at a coarser one) and the same wide filters (count_wide()).
 * One pass instead of the finest spans and their counts; the spans are
 * distribute()'s when the cut is made (guide_cut_allowed()).
 */
static void score_own_cut(struct builder *bd, const uint32_t *l, size_t n,
			  const struct region *r, struct cut *c)
{
	uint32_t cnt[1 << IXDP_TREE_CUT_BITS];
	unsigned nch = 1u << c->bits, wide;

	child_spans(bd, l, n, r, c->field, c->bits);
	count_children(bd, n, nch, cnt);
	wide = count_wide(bd, l, n, r, c->field, c->bits);
	c->maxc = 0;
	c->sum = wide;
	for (unsigned k = 0; k < nch; k++) {
		if (cnt[k] != wide)
			c->sum += cnt[k];
		if (cnt[k] > c->maxc)
			c->maxc = cnt[k];
	}
}

/* Guide node gn's cut scored for list l over region r: *c, if allowed. */
static bool guide_cut_allowed(struct builder *bd, const struct ixdp_tnode *gn,
			      const uint32_t *l, size_t n, const struct region *r,
			      unsigned fam, struct cut *c)
{
	if (!guide_cut_fits(bd, gn, r, fam))
		return false;
	*c = (struct cut){ .field = gn->field, .bits = gn->bits };
	score_own_cut(bd, l, n, r, c);
	bd->spans_ready = cut_allowed(bd, c, n);
	return bd->spans_ready;
}

/*
 * What guide node g says for a node of list l over region *r: a leaf
 * when it is one whose list was at least as long (the list in force was
 * left uncut there); its cut (*c) when this list allows it, after the
 * skips needed (*r: the region skipped), as the build without a guide
 * skips when it finds no cut; else nothing (*r unchanged): the node
 * chooses.
 */
static enum guided follow_guide(struct builder *bd, uint32_t g, const uint32_t *l,
				size_t n, struct region *r, unsigned fam,
				struct cut *c)
{
	const struct ixdp_tnode *gn = guide_node(bd, g);
	struct region sr = *r;

	if (!gn)
		return GUIDED_NOT;
	if (gn->leaf)
		return n <= gn->n ? GUIDED_LEAF : GUIDED_NOT;
	while (!guide_cut_allowed(bd, gn, l, n, &sr, fam, c))
		if (!bd->skip || !skip_common(bd, l, n, &sr, fam))
			return GUIDED_NOT;
	*r = sr;
	return GUIDED_CUT;
}

/* The guide's children for a node of region r cut by c: those of guide
 * node g when g makes the same cut, else none. */
static uint32_t guide_children(const struct builder *bd, uint32_t g,
			       const struct region *r, const struct cut *c)
{
	const struct ixdp_tnode *gn = guide_node(bd, g);

	if (!gn || gn->leaf || gn->field != c->field || gn->bits != c->bits ||
	    gn->shift != field_width(c->field) - r->fixed[c->field] - c->bits ||
	    (uint64_t)gn->base + (1u << gn->bits) > bd->nguide)
		return NO_GUIDE;
	return gn->base;
}

/* The children's lists, in one array: child k's are
 * d->l[d->off[k] .. d->off[k] + d->cnt[k]), in table order. */
struct dist {
	uint32_t off[(1 << IXDP_TREE_CUT_BITS) + 1];
	uint32_t cnt[1 << IXDP_TREE_CUT_BITS];
	uint32_t *l;
};

static int distribute(struct builder *bd, const uint32_t *l, size_t n,
		      const struct region *r, const struct cut *c, struct dist *d)
{
	unsigned nch = 1u << c->bits;

	if (!bd->spans_ready)	/* else guide_cut_allowed() left them */
		child_spans(bd, l, n, r, c->field, c->bits);
	bd->spans_ready = 0;
	count_children(bd, n, nch, d->cnt);
	d->off[0] = 0;
	for (unsigned k = 0; k < nch; k++)
		d->off[k + 1] = d->off[k] + d->cnt[k];
	d->l = malloc((d->off[nch] ? d->off[nch] : 1) * sizeof(*d->l));
	if (!d->l)
		return set_err_nomem(bd);
	memset(d->cnt, 0, nch * sizeof(d->cnt[0]));
	for (size_t i = 0; i < n; i++)
		for (unsigned k = bd->kl[i]; k <= bd->kh[i]; k++)
			d->l[d->off[k] + d->cnt[k]++] = l[i];
	return 0;
}

/* Does every filter of the list cover the region in field f?  Then the
 * subtree of a sibling of the same list serves this child too: it never
 * cuts f (no cut of f separates the list) and truncates alike -- but for
 * the ports, where the block holding port 0 (fragments) truncates
 * differently from the others. */
static int wide_in(const struct builder *bd, const uint32_t *l, size_t n,
		   const struct region *r, unsigned f)
{
	if ((f == IXDP_TF_SPORT || f == IXDP_TF_DPORT) && r->rb.lo[f] == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (bd->fb[l[i]].lo[f] > r->b.lo[f] || bd->fb[l[i]].hi[f] < r->b.hi[f])
			return 0;
	return 1;
}

static int build_node(struct builder *bd, uint32_t idx, const uint32_t *l,
		      size_t n, const struct region *r, unsigned fam,
		      unsigned depth, uint32_t g);

static int alloc_children(struct builder *bd, unsigned bits, uint32_t *base)
{
	uint64_t need = (uint64_t)bd->nnodes + (1u << bits);

	if (need > BUILD_NODES) {
		bd->over_space = 1;
		return errbuf_set(bd->errbuf, bd->errlen,
				  "the classifier's tree needs at least %llu nodes, "
				  "more than the limit of %u",
				  (unsigned long long)need, BUILD_NODES);
	}
	if (grow_u32((void **)&bd->nodes, &bd->ncap, (uint32_t)need,
		     sizeof(*bd->nodes)) ||
	    (bd->guide && grow_u32((void **)&bd->hint, &bd->hcap, (uint32_t)need,
				   sizeof(*bd->hint))))
		return set_err_nomem(bd);
	*base = bd->nnodes;
	memset(&bd->nodes[*base], 0, (1u << bits) * sizeof(*bd->nodes));
	bd->nnodes = (uint32_t)need;
	return 0;
}

/* The last child built whose list was wide in the cut's field. */
struct wide_sibling {
	uint32_t node;
	const uint32_t *l;
	size_t n;
	int valid;
};

static int build_child(struct builder *bd, const struct dist *d, uint32_t base,
		       uint32_t k, const struct region *cr, const struct cut *c,
		       unsigned fam, unsigned depth, uint32_t gbase,
		       struct wide_sibling *ws)
{
	uint32_t *cl = d->l + d->off[k];
	size_t m = truncate_list(bd, cl, d->cnt[k], cr);
	int wide = wide_in(bd, cl, m, cr, c->field);

	if (wide && ws->valid && ws->n == m &&
	    !memcmp(ws->l, cl, m * sizeof(*cl))) {
		bd->nodes[base + k] = bd->nodes[ws->node];
		if (bd->hint)
			bd->hint[base + k] = gbase == NO_GUIDE ? NO_GUIDE : gbase + k;
		return 0;
	}
	if (build_node(bd, base + k, cl, m, cr, fam, depth + 1,
		       gbase == NO_GUIDE ? NO_GUIDE : gbase + k))
		return -1;
	if (wide)
		*ws = (struct wide_sibling){ .node = base + k, .l = cl, .n = m,
					     .valid = 1 };
	return 0;
}

static int cut_node(struct builder *bd, uint32_t idx, const uint32_t *l,
		    size_t n, const struct region *r, unsigned fam,
		    unsigned depth, const struct cut *c, uint32_t g)
{
	uint32_t gbase = guide_children(bd, g, r, c);
	struct wide_sibling ws = { 0 };
	struct dist *d;
	uint32_t base = 0;
	int rc = 0;

	if (alloc_children(bd, c->bits, &base))
		return -1;
	bd->nodes[idx] = (struct ixdp_tnode){
		.field = (__u8)c->field, .bits = (__u8)c->bits, .base = base,
		.shift = (__u8)(field_width(c->field) - r->fixed[c->field] - c->bits),
	};
	d = malloc(sizeof(*d));
	if (!d)
		return set_err_nomem(bd);
	if (distribute(bd, l, n, r, c, d)) {
		free(d);
		return -1;
	}
	for (uint32_t k = 0; k < (1u << c->bits) && !rc; k++) {
		struct region cr;

		child_region(r, c->field, c->bits, k, &cr);
		rc = build_child(bd, d, base, k, &cr, c, fam, depth, gbase, &ws);
	}
	free(d->l);
	free(d);
	return rc;
}

static int build_node(struct builder *bd, uint32_t idx, const uint32_t *l,
		      size_t n, const struct region *r, unsigned fam,
		      unsigned depth, uint32_t g)
{
	struct region sr = *r;
	struct cut c;

	if (bd->hint)
		bd->hint[idx] = g;
	if (n <= bd->binth || depth >= IXDP_TREE_DEPTH)
		return make_leaf(bd, idx, l, n, depth);
	switch (follow_guide(bd, g, l, n, &sr, fam, &c)) {
	case GUIDED_CUT:
		bd->cuts_guided++;
		return cut_node(bd, idx, l, n, &sr, fam, depth, &c, g);
	case GUIDED_LEAF:
		bd->cuts_guided++;
		return make_leaf(bd, idx, l, n, depth);
	case GUIDED_NOT:
		break;
	}
	for (;;) {
		choose_cut(bd, l, n, &sr, fam, &c);
		bd->cuts_chosen++;
		if (c.bits)
			return cut_node(bd, idx, l, n, &sr, fam, depth, &c, g);
		if (!bd->skip || !skip_common(bd, l, n, &sr, fam))
			return make_leaf(bd, idx, l, n, depth);
	}
}

/* The root of family fam: its filters, in order, truncated. */
static int build_family(struct builder *bd, unsigned fam, uint32_t *l)
{
	struct region r;
	size_t n = 0;

	root_region(fam, &r);
	for (size_t i = 0; i < bd->t->n; i++)
		if (bd->t->v[i].fam == fam)
			l[n++] = (uint32_t)i;
	n = truncate_list(bd, l, n, &r);
	return build_node(bd, fam, l, n, &r, fam, 0, bd->guide ? fam : NO_GUIDE);
}

static int builder_init(struct builder *bd, const struct filter_table *t)
{
	size_t n = t->n ? t->n : 1;

	bd->fb = malloc(n * sizeof(*bd->fb));
	bd->cover = malloc(n * sizeof(*bd->cover));
	bd->kl = malloc(n * sizeof(*bd->kl));
	bd->kh = malloc(n * sizeof(*bd->kh));
	bd->sc = malloc(sizeof(*bd->sc));
	if (!bd->fb || !bd->cover || !bd->kl || !bd->kh || !bd->sc ||
	    grow_u32((void **)&bd->nodes, &bd->ncap, 2, sizeof(*bd->nodes)) ||
	    (bd->guide && grow_u32((void **)&bd->hint, &bd->hcap, 2, sizeof(*bd->hint))))
		return set_err_nomem(bd);
	for (size_t i = 0; i < t->n; i++) {
		filter_box(&t->v[i], &bd->fb[i]);
		bd->cover[i] = cover_kind(&t->v[i]);
	}
	memset(bd->nodes, 0, 2 * sizeof(*bd->nodes));
	bd->nodes[0].leaf = bd->nodes[1].leaf = 1;
	bd->nnodes = 2;
	return 0;
}

static void builder_free_scratch(struct builder *bd)
{
	free(bd->fb);
	free(bd->cover);
	free(bd->kl);
	free(bd->kh);
	free(bd->sc);
}

/* One attempt with the given leaf size and space bound. */
static int build_attempt(struct builder *bd, struct ctree *tr)
{
	uint32_t *l = NULL;
	int rc = -1;

	if (builder_init(bd, bd->t))
		goto out;
	l = malloc((bd->t->n ? bd->t->n : 1) * sizeof(*l));
	if (!l) {
		set_err_nomem(bd);
		goto out;
	}
	if (build_family(bd, IXDP_FAM_V4, l) || build_family(bd, IXDP_FAM_V6, l))
		goto out;
	*tr = (struct ctree){ .nodes = bd->nodes, .nnodes = bd->nnodes,
			      .leaf = bd->leaf, .nleaf = bd->nleaf,
			      .depth = bd->depth, .leaf_longest = bd->leaf_longest,
			      .cuts_chosen = bd->cuts_chosen,
			      .cuts_guided = bd->cuts_guided, .hint = bd->hint };
	bd->nodes = NULL;
	bd->leaf = NULL;
	bd->hint = NULL;
	rc = 0;
out:
	free(l);
	free(bd->nodes);
	free(bd->leaf);
	free(bd->hint);
	bd->hint = NULL;
	bd->hcap = 0;
	builder_free_scratch(bd);
	return rc;
}

/* The attempts, best lookups first: a table whose tree does not fit the
 * nodes or leaf entries is tried again with longer leaves and less room
 * for filters copied into several children.  The roomiest is for tables
 * of up to max_filters only: a larger one would mostly fail it, slowly. */
static const struct {
	unsigned binth, spfac;
	int skip;
	size_t max_filters;
} attempts[] = {
	{ 8, 4, 1, 2048 }, { 8, 2, 1, IXDP_MAX_FILTERS },
	{ 8, 2, 0, IXDP_MAX_FILTERS }, { 16, 1, 0, IXDP_MAX_FILTERS },
	{ 64, 1, 0, IXDP_MAX_FILTERS },
};

/* ---- the guide of the next builds ----------------------------------------- */

static struct {
	struct ixdp_tnode *image;  /* the paired tree given (a copy) */
	uint32_t image_n;
	struct ixdp_tnode *nodes;  /* it in the build's form (tree_unpair()),
				    * made by the first build that uses it */
	uint32_t n;
	uint32_t origin;        /* the node count of the build without a
				 * guide the guide descends from */
} guide;

void ctree_guide(const struct ixdp_tnode *nodes, uint32_t n, uint32_t origin)
{
	free(guide.image);
	free(guide.nodes);
	memset(&guide, 0, sizeof(guide));
	if (!nodes || n < 2 || n > IXDP_TREE_NODES)
		return;
	guide.image = malloc(n * sizeof(*nodes));
	if (!guide.image)
		return;         /* unguided: slower, as good */
	memcpy(guide.image, nodes, n * sizeof(*nodes));
	guide.image_n = n;
	guide.origin = origin ? origin : n;	/* unknown: the guide's own size */
}

/* The guide in the build's form, made when a build first needs it (an
 * apply reads the guide before its flip and builds the tree after it). */
static bool guide_ready(void)
{
	if (!guide.nodes && guide.image &&
	    tree_unpair(guide.image, guide.image_n, &guide.nodes, &guide.n)) {
		guide.nodes = NULL;
		guide.n = 0;
	}
	return guide.nodes != NULL;
}

/*
 * A guided tree much larger than the tree built without a guide that
 * its line of guides started from followed cuts chosen for other lists
 * where they no longer pay (or was built with more room than the guide
 * had: attempts[]), and the next attempt, or a build without the guide,
 * is made instead.  Measured from the line's start, not from the guide,
 * so that growth does not add up over edits.
 */
static bool outgrew_guide(const struct ctree *tr)
{
	return tr->nnodes > guide.origin + guide.origin / 8 + 64;
}

/* ---- the tree kept for the next build of the same table ------------------- */

/* One process builds a list's tree twice when the limits check must know
 * whether the tree holds a list over the tuple space's limits (
 * compile_limits.c) and the dataplane's apply then builds it to write it:
 * the check keeps its tree here (ctree_keep()), and the next build of a
 * table equal to it byte for byte takes it (it is not kept after that). */
static struct {
	struct filter_table t;      /* a copy of the table's filters and groups */
	struct ctree tr;
} kept;

static void kept_free(void)
{
	free(kept.t.v);
	ctree_free(&kept.tr);
	memset(&kept, 0, sizeof(kept));
}

static bool same_table(const struct filter_table *a, const struct filter_table *b)
{
	return a->n == b->n && a->ngroups == b->ngroups &&
	       !memcmp(a->groups, b->groups, sizeof(a->groups)) &&
	       (!a->n || !memcmp(a->v, b->v, a->n * sizeof(*a->v)));
}

void ctree_keep(const struct filter_table *t, struct ctree *tr)
{
	kept_free();
	kept.t = *t;
	kept.t.v = t->n ? malloc(t->n * sizeof(*t->v)) : NULL;
	if (t->n && !kept.t.v) {        /* nothing kept: the next build builds */
		memset(&kept, 0, sizeof(kept));
		ctree_free(tr);
		return;
	}
	if (t->n)
		memcpy(kept.t.v, t->v, t->n * sizeof(*t->v));
	kept.t.cap = t->n;
	kept.tr = *tr;
	memset(tr, 0, sizeof(*tr));
}

/* The kept tree into tr if it is t's (and no longer kept). */
static bool take_kept(const struct filter_table *t, struct ctree *tr)
{
	bool hit = kept.tr.nodes && same_table(&kept.t, t);

	if (hit) {
		*tr = kept.tr;
		memset(&kept.tr, 0, sizeof(kept.tr));
	}
	kept_free();
	return hit;
}

/* The attempts in turn until one fits (and, guided, does not outgrow
 * the guide), guided by the guide or not. */
static int build_attempts(const struct filter_table *t, struct ctree *tr,
			  bool guided, char *errbuf, size_t errlen)
{
	for (size_t i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
		struct builder bd = { .t = t, .errbuf = errbuf, .errlen = errlen,
				      .binth = attempts[i].binth,
				      .spfac = attempts[i].spfac,
				      .skip = attempts[i].skip,
				      .guide = guided ? guide.nodes : NULL,
				      .nguide = guided ? guide.n : 0 };

		if (t->n > attempts[i].max_filters)
			continue;
		if (!build_attempt(&bd, tr)) {
			if (!guided)
				tr->origin_nodes = tr->nnodes;
			else if (!outgrew_guide(tr))
				tr->origin_nodes = guide.origin;
			else {
				ctree_free(tr);
				continue;
			}
			return 0;
		}
		if (!bd.over_space)
			return -1;
	}
	return -1;
}

/* The built tree's cuts paired (compile_treepair.c), when they fit: its
 * hints name nodes of the guide's image (image_nodes) or none. */
static void pair_cuts(struct ctree *tr, uint32_t image_nodes)
{
	struct tree_pairs pr;

	if (tree_pair(tr->nodes, tr->nnodes, tr->hint, image_nodes, &pr))
		return;         /* as built: deeper, as right */
	free(tr->nodes);
	free(tr->hint);
	tr->nodes = pr.nodes;
	tr->nnodes = pr.nnodes;
	tr->hint = pr.hint;
	tr->depth = pr.depth;
}

int ctree_build(const struct filter_table *t, struct ctree *tr,
		char *errbuf, size_t errlen)
{
	memset(tr, 0, sizeof(*tr));
	if (take_kept(t, tr))
		return 0;
	if (t->n > IXDP_MAX_FILTERS)
		return errbuf_set(errbuf, errlen,
				  "the classifier's tree takes at most %u filters, not %zu",
				  IXDP_MAX_FILTERS, t->n);
	if (guide_ready() && !build_attempts(t, tr, true, errbuf, errlen))
		return pair_cuts(tr, guide.image_n), 0;
	if (build_attempts(t, tr, false, errbuf, errlen))
		return -1;
	pair_cuts(tr, 0);
	return 0;
}

void ctree_free(struct ctree *tr)
{
	free(tr->nodes);
	free(tr->leaf);
	free(tr->hint);
	memset(tr, 0, sizeof(*tr));
}
