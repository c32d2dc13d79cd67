// SPDX-License-Identifier: GPL-2.0-only
/*
 * compile_treepair.c - a cut and the cut most of its children make, paired
 * into one node (include/ipsec_xdp.h, ixdp_tnode_child()): one level of
 * the walk, one dependent read per packet, instead of two.
 *
 * The walk's cost is a chain of dependent reads, one per level (the next
 * node's index needs the last node's field, shift and bits), and the
 * build's cuts are narrow where wide filters overlap: a many-shapes list
 * of 10000 filters walks about 10 cuts.  Most of those cuts are followed,
 * in most of their children, by one same cut (the children of a
 * destination cut cutting the source next, say).  Pairing node X (cut A)
 * with that cut B gives X 2^(bits A + bits B) children: for child k of A,
 * the children of child k when child k makes cut B (it is absorbed), else
 * 2^(bits B) copies of child k.  A copy is a node with the same children,
 * so nothing below it is copied.  A packet reaches the leaf it reached
 * before, so no answer changes.
 *
 * A child is absorbed only when its own children are not all one node:
 * then ctree_unpair() tells a copy (2^(bits B) equal entries) from an
 * absorbed child, and gives the tree back in the build's form exactly, as
 * the guide of the next build (compile_tree.c, ctree_guide()).
 *
 * Pairing is a pass over a built tree and never fails the build: when it
 * runs out of memory or of IXDP_TREE_NODES, the tree stays as built.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "compile/compile_treepair.h"

#define NO_NODE UINT32_MAX
#define PAIR_SHARE 2    /* pair when at least 1/PAIR_SHARE of the children
			 * make the second cut */

static bool is_cut(const struct ixdp_tnode *n)
{
	return !n->leaf;
}

static bool same_cut(const struct ixdp_tnode *a, const struct ixdp_tnode *b)
{
	return is_cut(a) && is_cut(b) && a->field == b->field &&
	       a->shift == b->shift && a->bits == b->bits;
}

static bool same_node(const struct ixdp_tnode *a, const struct ixdp_tnode *b)
{
	return !memcmp(a, b, sizeof(*a));
}

/* ---- a map from a built node to its paired form -------------------------- */

struct memo {
	struct ixdp_tnode *key, *res;
	uint32_t *depth;
	uint8_t *used;
	uint32_t cap, n;
};

static uint64_t node_hash(const struct ixdp_tnode *n)
{
	uint64_t h = (uint64_t)n->base << 32 | (uint64_t)n->n;

	h ^= ((uint64_t)n->leaf << 56 | (uint64_t)n->field << 48 |
	      (uint64_t)n->shift << 40 | (uint64_t)n->bits << 32 |
	      (uint64_t)n->field2 << 16 | (uint64_t)n->shift2 << 8 | n->bits2) *
	     0x9e3779b97f4a7c15ull;
	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 29);
}

static int memo_init(struct memo *m, uint32_t nodes)
{
	m->cap = 64;
	while (m->cap < 2 * (uint64_t)nodes && m->cap < (1u << 30))
		m->cap <<= 1;
	m->n = 0;
	m->key = malloc(m->cap * sizeof(*m->key));
	m->res = malloc(m->cap * sizeof(*m->res));
	m->depth = malloc(m->cap * sizeof(*m->depth));
	m->used = calloc(m->cap, 1);
	return m->key && m->res && m->depth && m->used ? 0 : -ENOMEM;
}

static void memo_free(struct memo *m)
{
	free(m->key);
	free(m->res);
	free(m->depth);
	free(m->used);
}

/* The slot of key: its entry, or the free slot where it goes. */
static uint32_t memo_slot(const struct memo *m, const struct ixdp_tnode *key)
{
	uint32_t i = (uint32_t)node_hash(key) & (m->cap - 1);

	while (m->used[i] && !same_node(&m->key[i], key))
		i = (i + 1) & (m->cap - 1);
	return i;
}

/* False when the table is 3/4 full (it was made for twice the nodes). */
static bool memo_put(struct memo *m, const struct ixdp_tnode *key,
		     const struct ixdp_tnode *res, uint32_t depth)
{
	uint32_t slot = memo_slot(m, key);

	if (m->n + 1 >= m->cap / 2 + m->cap / 4)
		return false;
	m->key[slot] = *key;
	m->res[slot] = *res;
	m->depth[slot] = depth;
	m->used[slot] = 1;
	m->n++;
	return true;
}

/* ---- pairing ---------------------------------------------------------------- */

/* The built tree, as pair_node() reads it. */
struct built {
	const struct ixdp_tnode *nodes;
	uint32_t nnodes;
};

struct pairer {
	const struct built *in;
	struct ixdp_tnode *out;
	uint32_t nout, cap;
	uint32_t *head;         /* per out node: the built node it stands for */
	uint32_t limit;         /* out's nodes, at most */
	struct memo memo;       /* built cut -> its paired node in out */
};

/* Child k's children are not all one node (so it can be absorbed). */
static bool children_differ(const struct built *in, const struct ixdp_tnode *c)
{
	uint32_t w = 1u << c->bits;

	for (uint32_t j = 1; j < w; j++)
		if (!same_node(&in->nodes[c->base + j], &in->nodes[c->base]))
			return true;
	return false;
}

static bool absorbable(const struct built *in, const struct ixdp_tnode *c,
		       const struct ixdp_tnode *b)
{
	return same_cut(c, b) && children_differ(in, c);
}

/* The cut most of x's children make, when pairing x with it pays and
 * fits: its index among the children, or NO_NODE.  x is a built cut:
 * at most 2^IXDP_TREE_CUT_BITS children. */
static uint32_t second_cut(const struct built *in, const struct ixdp_tnode *x)
{
	const struct ixdp_tnode *ch = &in->nodes[x->base];
	uint32_t w = 1u << x->bits, best = NO_NODE, best_count = 0;
	bool ok[1u << IXDP_TREE_CUT_BITS], counted[1u << IXDP_TREE_CUT_BITS];

	for (uint32_t k = 0; k < w; k++) {
		ok[k] = is_cut(&ch[k]) && children_differ(in, &ch[k]);
		counted[k] = false;
	}
	for (uint32_t k = 0; k < w; k++) {
		uint32_t count = 0;

		if (!ok[k] || counted[k])
			continue;
		for (uint32_t q = k; q < w; q++)
			if (ok[q] && same_cut(&ch[q], &ch[k])) {
				counted[q] = true;
				count++;
			}
		if (count > best_count) {
			best = k;
			best_count = count;
		}
	}
	if (best == NO_NODE || best_count * PAIR_SHARE < w ||
	    x->bits + ch[best].bits > IXDP_TREE_PAIR_BITS)
		return NO_NODE;
	return best;
}

static int reserve(struct pairer *p, uint32_t n, uint32_t *at)
{
	if (n > p->limit - p->nout)
		return -ENOSPC;
	if (p->nout + n > p->cap) {
		uint32_t cap = p->cap ? p->cap : 1024;
		struct ixdp_tnode *o;
		uint32_t *h;

		while (cap < p->nout + n)
			cap *= 2;
		o = realloc(p->out, cap * sizeof(*o));
		if (o)
			p->out = o;
		h = realloc(p->head, cap * sizeof(*h));
		if (h)
			p->head = h;
		if (!o || !h)
			return -ENOMEM;
		p->cap = cap;
	}
	*at = p->nout;
	p->nout += n;
	return 0;
}

static int pair_node(struct pairer *p, uint32_t src, struct ixdp_tnode *res,
		     uint32_t *depth, unsigned level);

/* The block of x's paired node: per child k of x, the children of child
 * k when it makes cut b, else copies of it; as indexes of built nodes. */
static void paired_block(const struct built *in, const struct ixdp_tnode *x,
			 const struct ixdp_tnode *b, uint32_t *src)
{
	uint32_t w = 1u << x->bits, w2 = 1u << b->bits;

	for (uint32_t k = 0; k < w; k++) {
		const struct ixdp_tnode *c = &in->nodes[x->base + k];
		bool absorbed = absorbable(in, c, b);

		for (uint32_t j = 0; j < w2; j++)
			src[k * w2 + j] = absorbed ? c->base + j : x->base + k;
	}
}

/* Built cut x (at index src) as a paired node: *res, whose children are
 * written into out; *depth its levels down to a leaf. */
static int pair_cut(struct pairer *p, uint32_t src, struct ixdp_tnode *res,
		    uint32_t *depth, unsigned level)
{
	const struct ixdp_tnode *x = &p->in->nodes[src];
	uint32_t b = second_cut(p->in, x), w, at, *from, deepest = 0;
	int err;

	*res = *x;
	if (b != NO_NODE) {
		const struct ixdp_tnode *bn = &p->in->nodes[x->base + b];

		res->field2 = bn->field;
		res->shift2 = bn->shift;
		res->bits2 = bn->bits;
	}
	w = 1u << (res->bits + res->bits2);
	from = malloc(w * sizeof(*from));
	if (!from)
		return -ENOMEM;
	if (b != NO_NODE)
		paired_block(p->in, x, &p->in->nodes[x->base + b], from);
	else
		for (uint32_t k = 0; k < w; k++)
			from[k] = x->base + k;
	err = reserve(p, w, &at);
	for (uint32_t k = 0; !err && k < w; k++) {
		struct ixdp_tnode child;
		uint32_t d;

		err = pair_node(p, from[k], &child, &d, level + 1);
		if (err)
			break;
		p->out[at + k] = child;     /* out may have moved: index it now */
		p->head[at + k] = from[k];
		deepest = d > deepest ? d : deepest;
	}
	free(from);
	res->base = at;
	*depth = 1 + deepest;
	return err;
}

static int pair_node(struct pairer *p, uint32_t src, struct ixdp_tnode *res,
		     uint32_t *depth, unsigned level)
{
	const struct ixdp_tnode *x = &p->in->nodes[src];
	uint32_t slot;
	int err;

	if (!is_cut(x)) {
		*res = *x;
		*depth = 0;
		return 0;
	}
	if (level > IXDP_TREE_DEPTH)
		return -ELOOP;
	slot = memo_slot(&p->memo, x);
	if (p->memo.used[slot]) {
		*res = p->memo.res[slot];
		*depth = p->memo.depth[slot];
		return 0;
	}
	err = pair_cut(p, src, res, depth, level);
	if (!err && !memo_put(&p->memo, x, res, *depth))
		err = -ENOSPC;
	return err;
}

static void pairer_free(struct pairer *p)
{
	free(p->out);
	free(p->head);
	memo_free(&p->memo);
}

/* The guide nodes the built nodes followed (hint), as nodes of the paired
 * tree in force: an index below image_nodes is the same node there
 * (tree_unpair() keeps them in place); the others are tree_unpair()'s. */
static uint32_t *paired_hints(const struct pairer *p, const uint32_t *hint,
			      uint32_t image_nodes)
{
	uint32_t *h = malloc(p->nout * sizeof(*h));

	for (uint32_t v = 0; h && v < p->nout; v++) {
		uint32_t g = hint[p->head[v]];

		h[v] = g < image_nodes ? g : NO_NODE;
	}
	return h;
}

int tree_pair(const struct ixdp_tnode *nodes, uint32_t n, const uint32_t *hint,
	      uint32_t image_nodes, struct tree_pairs *out)
{
	struct built in = { .nodes = nodes, .nnodes = n };
	struct pairer p = { .in = &in, .limit = IXDP_TREE_NODES };
	struct ixdp_tnode root[2] = { { 0 }, { 0 } };
	uint32_t depth[2] = { 0, 0 }, at;
	int err;

	memset(out, 0, sizeof(*out));
	if (n < 2)
		return -EINVAL;
	err = memo_init(&p.memo, n);
	if (!err)
		err = reserve(&p, 2, &at);
	for (uint32_t r = 0; !err && r < 2; r++) {
		err = pair_node(&p, r, &root[r], &depth[r], 0);
		p.out[r] = root[r];
		p.head[r] = r;
	}
	if (!err && hint && !(out->hint = paired_hints(&p, hint, image_nodes)))
		err = -ENOMEM;
	if (err) {
		pairer_free(&p);
		return err;
	}
	out->nodes = p.out;
	out->nnodes = p.nout;
	out->depth = depth[0] > depth[1] ? depth[0] : depth[1];
	p.out = NULL;
	pairer_free(&p);
	return 0;
}

/* ---- the build's form back, for the guide ------------------------------------ */

/* A paired node of an image of n nodes whose block is inside it. */
static bool pair_ok(const struct ixdp_tnode *x, uint32_t n)
{
	return x->bits >= 1 && x->bits <= IXDP_TREE_CUT_BITS &&
	       x->bits2 >= 1 && x->bits2 <= IXDP_TREE_CUT_BITS &&
	       x->bits + x->bits2 <= IXDP_TREE_PAIR_BITS &&
	       x->base <= n && (1u << (x->bits + x->bits2)) <= n - x->base;
}

/* Child k of the first cut of paired node x: the 2^bits2 entries of its
 * part of the block when they are one node (a copy), else the second cut
 * with that part as its children (an absorbed child). */
static struct ixdp_tnode first_cut_child(const struct ixdp_tnode *img,
					 const struct ixdp_tnode *x, uint32_t k)
{
	uint32_t w2 = 1u << x->bits2, from = x->base + k * w2;

	for (uint32_t j = 1; j < w2; j++)
		if (!same_node(&img[from + j], &img[from]))
			return (struct ixdp_tnode){ .field = x->field2,
						    .shift = x->shift2,
						    .bits = x->bits2,
						    .base = from };
	return img[from];
}

int tree_unpair(const struct ixdp_tnode *img, uint32_t n, struct ixdp_tnode **outp,
		uint32_t *noutp)
{
	/* its out and its memo (paired -> unpaired): the guide may hold
	 * more nodes than a bank, up to twice */
	struct pairer p = { .limit = 2 * IXDP_TREE_NODES };
	uint32_t at;
	int err = n > IXDP_TREE_NODES ? -EINVAL : memo_init(&p.memo, n);

	if (!err)
		err = reserve(&p, n, &at);
	if (!err)
		memcpy(p.out, img, n * sizeof(*img));
	/* appended nodes are copies of image nodes (paired ones done in turn)
	 * or second cuts (not paired): every paired node read is the image's */
	for (uint32_t i = 0; !err && i < p.nout; i++) {
		struct ixdp_tnode x = p.out[i], res;
		uint32_t slot;

		if (x.leaf || !x.bits2)
			continue;
		if (!pair_ok(&x, n)) {      /* garbage: the build checks the rest */
			p.out[i].field2 = p.out[i].shift2 = p.out[i].bits2 = 0;
			continue;
		}
		slot = memo_slot(&p.memo, &x);
		if (p.memo.used[slot]) {
			p.out[i] = p.memo.res[slot];
			continue;
		}
		err = reserve(&p, 1u << x.bits, &at);
		for (uint32_t k = 0; !err && k < (1u << x.bits); k++)
			p.out[at + k] = first_cut_child(img, &x, k);
		res = x;
		res.field2 = res.shift2 = res.bits2 = 0;
		res.base = at;
		if (!err && !memo_put(&p.memo, &x, &res, 0))
			err = -ENOSPC;
		p.out[i] = res;
	}
	if (err) {
		pairer_free(&p);
		return err;
	}
	*outp = p.out;
	*noutp = p.nout;
	p.out = NULL;
	pairer_free(&p);
	return 0;
}
