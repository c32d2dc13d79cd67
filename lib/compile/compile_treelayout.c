// SPDX-License-Identifier: GPL-2.0-only
/*
 * compile_treelayout.c - lay a new decision tree out over the arrays a
 * bank already holds (compile_treelayout.h).
 *
 * Every node of both trees gets a 64-bit hash of its whole subtree (a
 * leaf: its slots; a cut: its field, shift, bits and its children's
 * hashes).  Placing the new tree from its roots, a node whose subtree the
 * old tree has (same hash, then compared whole) becomes a copy of the old
 * node's entry, which points at the old children or leaf list, already in
 * the arrays: nothing below it is written.  Any other cut gets a new
 * children block after the old ones, any other leaf a new list after the
 * old lists.  A filter added or deleted so changes the leaves that hold
 * it and the paths to them, not the rest of the tree.
 *
 * A tree built after a guide (the tree in force, which the bank holds)
 * names for each node the guide node it followed (ctree.hint): that node
 * is the one compared, and nothing is hashed.  Hashing both trees whole
 * and indexing the old one was most of a relayout's time, and the most
 * scattered memory access of an apply.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "compile/compile_treelayout.h"

#define NO_NODE 0xffffffffu

struct hashed {
	uint64_t *h;            /* per node: its subtree's hash, 0 = none */
	uint8_t *done;          /* per node: 1 once hashed (or found broken) */
	uint32_t *slot_of;      /* open addressing: hash -> node index */
	uint32_t cap;           /* of slot_of, a power of 2 */
};

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 31);
}

static bool leaf_ok(const struct tree_image *t, const struct ixdp_tnode *n)
{
	return n->base <= t->nleaf && n->n <= t->nleaf - n->base;
}

/* The children of a cut (a paired one: both cuts' bits). */
static uint32_t width(const struct ixdp_tnode *n)
{
	return 1u << (n->bits + n->bits2);
}

static bool cut_ok(const struct tree_image *t, const struct ixdp_tnode *n)
{
	/* a block never starts at the roots: they are rewritten in place */
	return n->bits >= 1 && n->bits <= IXDP_TREE_CUT_BITS &&
	       n->bits2 <= IXDP_TREE_CUT_BITS && n->base >= 2 &&
	       n->base <= t->nnodes && width(n) <= t->nnodes - n->base;
}

/* The hash of node i's subtree, memoised in hs->h; 0 for a broken one. */
static uint64_t subtree_hash(const struct tree_image *t, struct hashed *hs,
			     uint32_t i, unsigned depth)
{
	const struct ixdp_tnode *n = &t->nodes[i];
	uint64_t h;

	if (hs->done[i] || depth > IXDP_TREE_DEPTH + 1)
		return hs->h[i];
	hs->done[i] = 1;        /* also for a broken one: never walked twice */
	if (n->leaf) {
		if (!leaf_ok(t, n))
			return 0;
		h = mix(1, n->n);
		for (uint32_t k = 0; k < n->n; k++)
			h = mix(h, t->leaf[n->base + k]);
	} else {
		if (!cut_ok(t, n))
			return 0;
		h = mix(2, (uint64_t)n->field2 << 40 | (uint64_t)n->shift2 << 32 |
			   (uint64_t)n->bits2 << 24 | (uint64_t)n->field << 16 |
			   (uint64_t)n->shift << 8 | n->bits);
		for (uint32_t c = 0; c < width(n); c++) {
			uint64_t ch = subtree_hash(t, hs, n->base + c, depth + 1);

			if (!ch)
				return 0;
			h = mix(h, ch);
		}
	}
	hs->h[i] = h ? h : 1;
	return hs->h[i];
}

static void index_put(struct hashed *hs, uint32_t node)
{
	uint32_t m = hs->cap - 1, k = (uint32_t)hs->h[node] & m;

	while (hs->slot_of[k] != NO_NODE) {
		if (hs->h[hs->slot_of[k]] == hs->h[node])
			return;         /* the first keeps it */
		k = (k + 1) & m;
	}
	hs->slot_of[k] = node;
}

static uint32_t index_get(const struct hashed *hs, uint64_t h)
{
	uint32_t m = hs->cap - 1, k = (uint32_t)h & m;

	for (; hs->slot_of[k] != NO_NODE; k = (k + 1) & m)
		if (hs->h[hs->slot_of[k]] == h)
			return hs->slot_of[k];
	return NO_NODE;
}

static void hashed_free(struct hashed *hs)
{
	free(hs->h);
	free(hs->done);
	free(hs->slot_of);
	memset(hs, 0, sizeof(*hs));
}

/* Hash the subtrees of t's roots; with_index: also the hash -> node table. */
static int hash_tree(const struct tree_image *t, struct hashed *hs, bool with_index)
{
	memset(hs, 0, sizeof(*hs));
	hs->h = calloc(t->nnodes + 1, sizeof(*hs->h));
	hs->done = calloc(t->nnodes + 1, 1);
	if (!hs->h || !hs->done)
		return -ENOMEM;
	for (uint32_t r = 0; r < 2 && r < t->nnodes; r++)
		subtree_hash(t, hs, r, 0);
	if (!with_index)
		return 0;
	for (hs->cap = 16; hs->cap < 2 * (t->nnodes + 1); hs->cap *= 2)
		;
	hs->slot_of = malloc(hs->cap * sizeof(*hs->slot_of));
	if (!hs->slot_of)
		return -ENOMEM;
	memset(hs->slot_of, 0xff, hs->cap * sizeof(*hs->slot_of));
	for (uint32_t i = 0; i < t->nnodes; i++)
		if (hs->h[i])
			index_put(hs, i);
	return 0;
}

/* Are new node v (of nw) and old node x (of old) the same subtree?
 * Compared whole, not trusted to the hash; same[v] remembers the old node
 * a new one was found equal to, so shared subtrees are compared once. */
static bool same_subtree(const struct tree_image *nw, uint32_t v,
			 const struct tree_image *old, uint32_t x, uint32_t *same,
			 unsigned depth)
{
	const struct ixdp_tnode *a = &nw->nodes[v], *b = &old->nodes[x];
	bool eq = true;

	if (same[v] == x)
		return true;
	if (depth > IXDP_TREE_DEPTH + 1 || a->leaf != b->leaf)
		return false;
	if (a->leaf)
		eq = a->n == b->n && leaf_ok(old, b) &&
		     !memcmp(&nw->leaf[a->base], &old->leaf[b->base],
			     a->n * sizeof(*nw->leaf));
	else if (a->field != b->field || a->shift != b->shift ||
		 a->bits != b->bits || a->field2 != b->field2 ||
		 a->shift2 != b->shift2 || a->bits2 != b->bits2 || !cut_ok(old, b))
		eq = false;
	for (uint32_t c = 0; eq && !a->leaf && c < width(a); c++)
		eq = same_subtree(nw, a->base + c, old, b->base + c, same, depth + 1);
	if (eq)
		same[v] = x;
	return eq;
}

struct placer {
	const struct tree_image *old, *nw;
	struct hashed oh, nh;
	struct tree_image *out;
	uint32_t *block_of;     /* nw children block base -> out's (memo) */
	uint32_t *list_of;      /* nw leaf list base -> out's (memo) */
	uint32_t *same;         /* nw node -> the old node it equals (memo) */
	int hashed;             /* 1: oh (indexed) and nh's arrays made;
				 * -1: out of memory making them */
	bool full;              /* out of room: fall back to a fresh layout */
};

/* The old tree hashed and indexed, the new one's hashes room for: made
 * at once without hints, at the first node without one with them. */
static int hash_both(struct placer *p, bool whole_new)
{
	if (!p->hashed) {
		bool ok = !hash_tree(p->old, &p->oh, true);

		if (ok && whole_new) {
			ok = !hash_tree(p->nw, &p->nh, false);
		} else if (ok) {
			p->nh.h = calloc(p->nw->nnodes + 1, sizeof(*p->nh.h));
			p->nh.done = calloc(p->nw->nnodes + 1, 1);
			ok = p->nh.h && p->nh.done;
		}
		p->hashed = ok ? 1 : -1;
	}
	return p->hashed < 0 ? -ENOMEM : 0;
}

/* The old node new node v may equal: its hint, or (no hint: the guided
 * build chose there) the old node of the same subtree hash. */
static uint32_t old_candidate(struct placer *p, uint32_t v, unsigned depth)
{
	uint64_t h;

	if (p->nw->hint && p->nw->hint[v] != NO_NODE)
		return p->nw->hint[v] < p->old->nnodes ? p->nw->hint[v] : NO_NODE;
	if (hash_both(p, false)) {
		p->full = true;         /* out of memory: a fresh layout */
		return NO_NODE;
	}
	h = subtree_hash(p->nw, &p->nh, v, depth);
	return h ? index_get(&p->oh, h) : NO_NODE;
}

static uint32_t place_list(struct placer *p, const struct ixdp_tnode *n)
{
	uint32_t base;

	if (p->list_of[n->base] != NO_NODE)
		return p->list_of[n->base];
	if (n->n > IXDP_TREE_LEAF_REFS - p->out->nleaf) {
		p->full = true;
		return 0;
	}
	base = p->out->nleaf;
	memcpy(&p->out->leaf[base], &p->nw->leaf[n->base], n->n * sizeof(*p->out->leaf));
	p->out->nleaf += n->n;
	p->list_of[n->base] = base;
	return base;
}

static void place(struct placer *p, uint32_t v, uint32_t at, unsigned depth);

static uint32_t place_block(struct placer *p, const struct ixdp_tnode *n,
			    unsigned depth)
{
	uint32_t w = width(n), block;

	if (p->block_of[n->base] != NO_NODE)
		return p->block_of[n->base];
	if (w > IXDP_TREE_NODES - p->out->nnodes) {
		p->full = true;
		return 0;
	}
	block = p->out->nnodes;
	p->out->nnodes += w;
	p->block_of[n->base] = block;
	for (uint32_t c = 0; c < w && !p->full; c++)
		place(p, n->base + c, block + c, depth + 1);
	return block;
}

/* Write new node v into out's node `at`. */
static void place(struct placer *p, uint32_t v, uint32_t at, unsigned depth)
{
	const struct ixdp_tnode *n = &p->nw->nodes[v];
	uint32_t x = old_candidate(p, v, depth);
	struct ixdp_tnode e = *n;

	if (x != NO_NODE && same_subtree(p->nw, v, p->old, x, p->same, depth)) {
		p->out->nodes[at] = p->old->nodes[x];
		return;
	}
	if (depth > IXDP_TREE_DEPTH + 1) {
		p->full = true;
		return;
	}
	e.base = n->leaf ? place_list(p, n) : place_block(p, n, depth);
	p->out->nodes[at] = e;
}

static int placer_init(struct placer *p, const struct tree_image *old,
		       const struct tree_image *nw, struct tree_image *out)
{
	memset(p, 0, sizeof(*p));
	p->old = old;
	p->nw = nw;
	p->out = out;
	/* room for all a bank holds, not cleared: what out keeps below
	 * nnodes and nleaf is written (old's copied, the rest placed), and
	 * only that is read (write_image(), or fresh_copy() when full) */
	out->nodes = malloc(IXDP_TREE_NODES * sizeof(*out->nodes));
	out->leaf = malloc(IXDP_TREE_LEAF_REFS * sizeof(*out->leaf));
	p->block_of = malloc((nw->nnodes + 1) * sizeof(*p->block_of));
	p->list_of = malloc((nw->nleaf + 1) * sizeof(*p->list_of));
	p->same = malloc((nw->nnodes + 1) * sizeof(*p->same));
	if (!out->nodes || !out->leaf || !p->block_of || !p->list_of || !p->same ||
	    (!nw->hint && hash_both(p, true)))
		return -ENOMEM;
	memset(p->block_of, 0xff, (nw->nnodes + 1) * sizeof(*p->block_of));
	memset(p->list_of, 0xff, (nw->nleaf + 1) * sizeof(*p->list_of));
	memset(p->same, 0xff, (nw->nnodes + 1) * sizeof(*p->same));
	/* old's arrays as they are, the roots at least */
	out->nnodes = old->nnodes > 2 ? old->nnodes : 2;
	out->nleaf = old->nleaf;
	memcpy(out->nodes, old->nodes, old->nnodes * sizeof(*out->nodes));
	memcpy(out->leaf, old->leaf, old->nleaf * sizeof(*out->leaf));
	return 0;
}

static void placer_free(struct placer *p)
{
	hashed_free(&p->oh);
	hashed_free(&p->nh);
	free(p->block_of);
	free(p->list_of);
	free(p->same);
}

static int fresh_copy(const struct tree_image *nw, struct tree_image *out)
{
	tree_image_free(out);
	out->nodes = malloc((nw->nnodes + 1) * sizeof(*out->nodes));
	out->leaf = malloc((nw->nleaf + 1) * sizeof(*out->leaf));
	if (!out->nodes || !out->leaf)
		return -ENOMEM;
	memcpy(out->nodes, nw->nodes, nw->nnodes * sizeof(*out->nodes));
	memcpy(out->leaf, nw->leaf, nw->nleaf * sizeof(*out->leaf));
	out->nnodes = nw->nnodes;
	out->nleaf = nw->nleaf;
	out->origin = nw->origin;
	return 0;
}

int tree_relayout(const struct tree_image *old, const struct tree_image *nw,
		  struct tree_image *out)
{
	struct placer p;
	bool wasteful;
	int err;

	memset(out, 0, sizeof(*out));
	if (nw->nnodes < 2)
		return -EINVAL;
	if (old->nnodes < 2 || old->nnodes > IXDP_TREE_NODES ||
	    old->nleaf > IXDP_TREE_LEAF_REFS)
		return fresh_copy(nw, out);
	err = placer_init(&p, old, nw, out);
	for (uint32_t r = 0; !err && r < 2 && !p.full; r++)
		place(&p, r, r, 0);
	placer_free(&p);
	if (err) {
		tree_image_free(out);
		return err;
	}
	/* more than half unreachable: start again from a fresh layout */
	wasteful = out->nnodes > 2 * nw->nnodes + 64 ||
		   out->nleaf > 2 * nw->nleaf + 256;
	if (p.full || wasteful)
		return fresh_copy(nw, out);
	out->origin = nw->origin;
	return 1;
}

void tree_image_free(struct tree_image *t)
{
	free(t->nodes);
	free(t->leaf);
	memset(t, 0, sizeof(*t));
}
