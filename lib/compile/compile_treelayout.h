/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * compile_treelayout.h - lay a new decision tree out in a bank's arrays so
 * that what did not change stays where it is: the subtrees and leaf lists
 * the bank's tree already holds are kept in place, and only the nodes on
 * the paths to what changed, and the changed leaves, are written (after
 * what the bank holds).  Pure computation: dataplane_tree.c reads the
 * bank's arrays, calls this, and writes the entries that differ.
 */
#ifndef IXDP_COMPILE_TREELAYOUT_H
#define IXDP_COMPILE_TREELAYOUT_H

#include <stdint.h>
#include <linux/types.h>
#include "ipsec_xdp.h"

/* A tree as a bank's arrays hold it: nodes[0] and nodes[1] the roots,
 * leaf entries are slots. */
struct tree_image {
	struct ixdp_tnode *nodes;
	uint32_t nnodes;
	uint32_t *leaf;
	uint32_t nleaf;
	uint32_t origin;        /* ctree.origin_nodes (0: unknown) */
	const uint32_t *hint;   /* a new tree's ctree.hint (not owned), or NULL */
};

/*
 * out = nw laid out over old: old's entries wherever nw has the same
 * subtree or leaf list (compared whole, not by hash alone), the rest
 * appended.  With nw->hint (a tree built after a guide that old holds:
 * the bank's tree is the tree in force), a node is compared with the
 * old node its hint names and nothing is hashed: a subtree that moved
 * elsewhere is written again, which the guided build makes rare.  When that would pass IXDP_TREE_NODES or IXDP_TREE_LEAF_REFS,
 * or leave more than half the arrays unreachable, out is nw as it is (a
 * fresh layout).  old may be empty or garbage (indexes are checked).
 * Returns 1 for a relayout over old, 0 for a fresh layout, -ENOMEM.
 */
int tree_relayout(const struct tree_image *old, const struct tree_image *nw,
		  struct tree_image *out);
void tree_image_free(struct tree_image *t);

#endif /* IXDP_COMPILE_TREELAYOUT_H */
