// SPDX-License-Identifier: GPL-2.0-only
/*
 * compile_treewalk.c - the walk the BPF program does (bpf/ipsec_xdp.bpf.c,
 * tree_leaf() and leaf_one()), in userspace: for the tests and the
 * benchmark, which check a tree's answers against filter_table_match().
 */
#include <string.h>

#include "compile/compile_tree.h"

static uint32_t addr_word(const uint8_t *a, unsigned j)
{
	return (uint32_t)a[4 * j] << 24 | (uint32_t)a[4 * j + 1] << 16 |
	       (uint32_t)a[4 * j + 2] << 8 | a[4 * j + 3];
}

/* The packet's field f as the BPF program reads it (host order). */
static uint32_t pkt_field(const struct pkt_tuple *p, unsigned f)
{
	unsigned words = p->fam == IXDP_FAM_V4 ? 1 : 4;

	if (f < IXDP_TF_DST0)
		return f < words ? addr_word(p->src, f) : 0;
	if (f < IXDP_TF_SPORT)
		return f - IXDP_TF_DST0 < words ? addr_word(p->dst, f - IXDP_TF_DST0) : 0;
	if (f == IXDP_TF_SPORT)
		return p->frag ? 0 : p->sport;
	if (f == IXDP_TF_DPORT)
		return p->frag ? 0 : p->dport;
	return f == IXDP_TF_PROTO ? p->proto : 0;
}

static long scan_leaf(const struct ctree *tr, const struct filter_table *t,
		      const struct ixdp_tnode *nd, const struct pkt_tuple *p)
{
	if (nd->n > IXDP_TREE_LEAF_MAX || nd->base > tr->nleaf ||
	    nd->n > tr->nleaf - nd->base)
		return -1;
	for (uint32_t i = 0; i < nd->n; i++) {
		uint32_t pos = tr->leaf[nd->base + i];

		if (pos >= t->n)
			return -1;
		if (filter_applies(&t->v[pos], p->ifmask) &&
		    specific_filter_matches(&t->v[pos], p))
			return (long)pos;
	}
	return -1;
}

long ctree_lookup(const struct ctree *tr, const struct filter_table *t,
		  const struct pkt_tuple *p)
{
	uint32_t idx = p->fam == IXDP_FAM_V6 ? 1 : 0, fields[16] = { 0 };

	if (p->fam > IXDP_FAM_V6)
		return -1;
	for (unsigned f = 0; f < IXDP_TF__MAX; f++)
		fields[f] = pkt_field(p, f);
	for (unsigned step = 0; step <= IXDP_TREE_DEPTH; step++) {
		const struct ixdp_tnode *nd;

		if (idx >= tr->nnodes)
			return -1;
		nd = &tr->nodes[idx];
		if (nd->leaf)
			return scan_leaf(tr, t, nd, p);
		if (nd->field >= IXDP_TF__MAX || nd->bits < 1 ||
		    nd->bits > IXDP_TREE_CUT_BITS || nd->shift > 31 ||
		    nd->field2 >= IXDP_TF__MAX || nd->bits2 > IXDP_TREE_CUT_BITS ||
		    nd->shift2 > 31)
			return -1;
		idx = nd->base + ixdp_tnode_child(nd, fields);
	}
	return -1;
}
